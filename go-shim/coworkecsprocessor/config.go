package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

var (
	errUnknownErrorMode    = errors.New("unknown error_mode")
	errRustConfig          = errors.New("configuration refused by the transform")
	errUnknownTenantSource = errors.New("unknown tenant.source")
	errTenantKeyMissing    = errors.New("tenant.key is required")
	errNoDefaults          = errors.New("the transform library gave no default configuration")
	errShutdownTimeout     = errors.New("shutdown_timeout")
)

// Content actions (mapping.md §5).
const (
	// ContentKeep keeps the value as sent.
	ContentKeep = "keep"
	// ContentRedactSecrets masks credentials and keeps the rest (the default).
	ContentRedactSecrets = "redact_secrets"
	// ContentHash replaces the value by its HMAC-SHA256 (hex) under hmac_key.
	ContentHash = "hash"
	// ContentDrop removes the value; length fields stay.
	ContentDrop = "drop"
)

// Tenant identity sources.
const (
	// TenantSourceNone: no identity; namespace from the configuration.
	TenantSourceNone = "none"
	// TenantSourceAuth: an attribute of the receiver's authentication
	// (client.Info.Auth), e.g. "username" (basicauth) or "subject" (oidc).
	TenantSourceAuth = "auth"
	// TenantSourceMetadata: a client metadata key (the receiver needs
	// include_metadata: true); trust it only if a proxy you control sets it.
	TenantSourceMetadata = "metadata"
)

// ContentConfig chooses, per content class, keep, redact_secrets, hash or
// drop (docs/mapping.md, "Content classes").
type ContentConfig struct {
	// Prompts: prompt / prompt_text.
	Prompts string `mapstructure:"prompts" json:"prompts"`
	// Responses: response of assistant_response.
	Responses string `mapstructure:"responses" json:"responses"`
	// ToolDetails: tool_parameters, tool_input and everything derived from
	// them (process.command_line, file.path, url.full, gen_ai.tool.call.arguments, ...).
	ToolDetails string `mapstructure:"tool_details" json:"tool_details"`
	// APIBodies: body of api_request_body / api_response_body, the system
	// prompt and the tool definitions (system_prompt and tool events, their
	// span attributes).
	APIBodies string `mapstructure:"api_bodies" json:"api_bodies"`
	// ToolOutput: a tool's output (output of the tool.output span event).
	ToolOutput string `mapstructure:"tool_output" json:"tool_output"`
	// HMACKey is the key for hash (at least 32 bytes), e.g. ${env:COWORK_ECS_HMAC_KEY}.
	// Redacted wherever the collector prints its configuration; in clear
	// only in the JSON the transform reads (MarshalJSON).
	HMACKey configopaque.String `mapstructure:"hmac_key" json:"hmac_key,omitempty"`
	// HMACKeyFile is a file holding the key, instead of HMACKey.
	HMACKeyFile string `mapstructure:"hmac_key_file" json:"hmac_key_file,omitempty"`
}

// MarshalJSON writes the content policy with the HMAC key in clear (a
// configopaque.String marshals as "[REDACTED]"): this JSON goes to the
// Rust transform only, never to a log.
func (c ContentConfig) MarshalJSON() ([]byte, error) {
	type fields ContentConfig // the same fields and tags, without this method
	return json.Marshal(struct {
		fields
		HMACKey string `json:"hmac_key,omitempty"` // shadows fields.HMACKey
	}{fields(c), string(c.HMACKey)})
}

// TenantConfig says where the sender's authenticated identity comes from and
// what it sets. The identity is never taken from the telemetry itself.
type TenantConfig struct {
	// Source: none (default), auth or metadata. Go-only: the processor
	// reads the identity and hands it to the transform with each batch.
	Source string `mapstructure:"source" json:"-"`
	// Key: the auth attribute (source auth) or metadata key (source
	// metadata). Go-only.
	Key string `mapstructure:"key" json:"-"`
	// SetNamespace routes the records to data_stream.namespace = the identity
	// (sanitized to Elasticsearch's naming rules).
	SetNamespace bool `mapstructure:"set_namespace" json:"set_namespace"`
	// SetLabel sets labels.tenant = the identity.
	SetLabel bool `mapstructure:"set_label" json:"set_label"`
}

// SigningConfig names the Ed25519 key that signs every Claude log record
// (README "Tamper evidence"); the Rust transform reads and checks it at
// collector start.
type SigningConfig struct {
	// KeyFile is a PKCS#8 PEM Ed25519 private key (openssl genpkey
	// -algorithm ed25519). Empty: records are not signed.
	KeyFile string `mapstructure:"key_file" json:"key_file,omitempty"`
	// StateDirectory keeps the seal chain's last seal, so the chain of the
	// next start names it (the gateways: the persistent queue's directory).
	// Empty: a new chain names none.
	StateDirectory string `mapstructure:"state_directory" json:"state_directory,omitempty"`
	// SealInterval is how often a seal is written at least, even when no
	// record passes (a heartbeat). 0: 10s.
	SealInterval time.Duration `mapstructure:"seal_interval" json:"-"`
}

// defaultSealInterval is the Rust library's default seal interval.
const defaultSealInterval = 10 * time.Second

// MarshalJSON writes the keys the Rust library reads (the interval in
// milliseconds).
func (s SigningConfig) MarshalJSON() ([]byte, error) {
	type plain SigningConfig
	return json.Marshal(struct {
		plain
		SealIntervalMS int64 `json:"seal_interval_ms,omitempty"`
	}{plain(s), s.SealInterval.Milliseconds()})
}

// interval is the effective seal interval.
func (s SigningConfig) interval() time.Duration {
	if s.SealInterval > 0 {
		return s.SealInterval
	}
	return defaultSealInterval
}

// ErrorMode says what the processor does when the transform of a batch fails
// (the vocabulary of the collector-contrib OTTL processors).
type ErrorMode string

const (
	// ErrorModeIgnore passes the batch on untransformed, logs a warning and
	// counts the failure. Nothing is lost, and senders are never stalled by a
	// transform bug. The default.
	ErrorModeIgnore ErrorMode = "ignore"
	// ErrorModeSilent passes the batch on untransformed and only counts it.
	ErrorModeSilent ErrorMode = "silent"
	// ErrorModePropagate returns the error, so the batch is refused upstream
	// (the receiver answers its sender with an error).
	ErrorModePropagate ErrorMode = "propagate"
)

// UnmarshalText accepts ignore, silent and propagate, in any case.
func (e *ErrorMode) UnmarshalText(text []byte) error {
	switch mode := ErrorMode(strings.ToLower(string(text))); mode {
	case ErrorModeIgnore, ErrorModeSilent, ErrorModePropagate:
		*e = mode
		return nil
	default:
		return fmt.Errorf("%w %q: use ignore, silent or propagate", errUnknownErrorMode, text)
	}
}

// EmitterConfig says how one emitter's records are recognized and routed.
type EmitterConfig struct {
	// ServiceNames are the resource service.name values of this emitter.
	ServiceNames []string `mapstructure:"service_names" json:"service_names"`
	// Dataset is the data_stream.dataset of its records
	// (index logs-<dataset>-<namespace>).
	Dataset string `mapstructure:"dataset" json:"dataset"`
}

// Config is the processor's configuration: one schema with the Rust
// transform's (src/config.rs). Its JSON (json tags) is what Rust reads and
// validates, at collector start; the Go-only settings are json:"-". The
// defaults are Rust's (cowork_ecs_config_defaults), so they are written
// once; testdata/config/default.json pins both sides.
type Config struct {
	// Cowork identifies Claude Cowork (Claude Desktop) records.
	Cowork EmitterConfig `mapstructure:"cowork" json:"cowork"`
	// ClaudeCode identifies Claude Code (CLI) records.
	ClaudeCode EmitterConfig `mapstructure:"claude_code" json:"claude_code"`
	// Namespace is the data_stream.namespace of every Claude record.
	Namespace string `mapstructure:"namespace" json:"namespace"`
	// PreserveOriginal sets event.original (the record as OTLP/JSON) on every
	// Claude record, not only on records with a mapping error.
	PreserveOriginal bool `mapstructure:"preserve_original" json:"preserve_original"`
	// Content is the content policy (prompts, responses, tool details, API
	// bodies, tool output).
	Content ContentConfig `mapstructure:"content" json:"content"`
	// Identity is the identity policy for user.email, user.account_uuid and
	// user.account_id in logs, traces and metrics: keep (default), hash
	// (HMAC-SHA256 under content.hmac_key) or drop.
	Identity string `mapstructure:"identity" json:"identity"`
	// Tenant takes the sender's identity from the request context.
	Tenant TenantConfig `mapstructure:"tenant" json:"tenant"`
	// Tenants maps an identity to the organization.id values it may claim;
	// other claims are tagged organization_mismatch. Empty: no check.
	Tenants map[string][]string `mapstructure:"tenants" json:"tenants"`
	// Signing is tamper evidence: the key that signs every Claude log record.
	Signing SigningConfig `mapstructure:"signing" json:"signing"`
	// ErrorMode: ignore (default), silent or propagate. See ErrorMode. Go-only.
	ErrorMode ErrorMode `mapstructure:"error_mode" json:"-"`
	// QueueGuard refuses new data, retryably, before the persistent queue's
	// filesystem runs out. Go-only. See QueueGuardConfig.
	QueueGuard QueueGuardConfig `mapstructure:"queue_guard" json:"-"`
	// ShutdownTimeout bounds a stop: the process exits at most this long
	// after SIGTERM or SIGINT, whatever the exporters are doing; what the
	// persistent queue holds is delivered after the next start (README
	// "Delivery guarantee"). 0 (the default): the collector's own shutdown,
	// which waits for every export in flight. Go-only.
	ShutdownTimeout time.Duration `mapstructure:"shutdown_timeout" json:"-"`

	// defaultsErr: the library could not give its defaults (Validate says so).
	defaultsErr error
	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// createDefaultConfig is the transform's default configuration (read from
// the Rust library, which owns the defaults) plus the Go-only defaults.
func createDefaultConfig() component.Config {
	cfg := &Config{
		Tenant:     TenantConfig{Source: TenantSourceNone},
		ErrorMode:  ErrorModeIgnore,
		QueueGuard: defaultQueueGuard(),
	}
	raw, err := cffi.ConfigDefaults()
	if err == nil {
		err = json.Unmarshal(raw, cfg)
	}
	if err != nil {
		cfg.defaultsErr = fmt.Errorf("%w: %w", errNoDefaults, err)
	}
	return cfg
}

// emitters are the configurations of every emitter (Config::emitters in
// src/config.rs): the one list a new emitter is added to.
func (cfg *Config) emitters() []EmitterConfig {
	return []EmitterConfig{cfg.Cowork, cfg.ClaudeCode}
}

// transformConfig is the JSON the Rust library receives: the Config's own
// json tags (Go-only settings excluded).
func (cfg *Config) transformConfig() ([]byte, error) {
	return json.Marshal(cfg)
}

// Validate checks the configuration. The mapping settings are checked by the
// Rust library itself (cowork_ecs_config_validate), so the rules cannot drift
// between the two languages.
func (cfg *Config) Validate() error {
	if cfg.defaultsErr != nil {
		return cfg.defaultsErr
	}
	if err := new(ErrorMode).UnmarshalText([]byte(cfg.ErrorMode)); err != nil {
		return fmt.Errorf("error_mode: %w", err)
	}
	switch cfg.Tenant.Source {
	case "", TenantSourceNone:
	case TenantSourceAuth, TenantSourceMetadata:
		if cfg.Tenant.Key == "" {
			return fmt.Errorf("%w with tenant.source %q", errTenantKeyMissing, cfg.Tenant.Source)
		}
	default:
		return fmt.Errorf("%w %q: use none, auth or metadata", errUnknownTenantSource, cfg.Tenant.Source)
	}
	if cfg.ShutdownTimeout < 0 {
		return fmt.Errorf("%w %v: use 0 (off) or a positive duration", errShutdownTimeout, cfg.ShutdownTimeout)
	}
	if err := cfg.QueueGuard.Validate(); err != nil {
		return err
	}
	if cfg.Signing.SealInterval < 0 || (cfg.Signing.SealInterval > 0 && cfg.Signing.SealInterval < time.Millisecond) {
		return fmt.Errorf("signing.seal_interval %v: use at least 1ms (0: 10s)", cfg.Signing.SealInterval)
	}
	raw, err := cfg.transformConfig()
	if err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	if err := cffi.ValidateConfig(raw); err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	return nil
}
