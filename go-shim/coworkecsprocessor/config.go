package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/config/configopaque"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// Defaults (SPEC sections 1 and 2).
const (
	defaultCoworkServiceName     = "cowork"
	defaultClaudeCodeServiceName = "claude-code"
	defaultCoworkDataset         = "claude_cowork.events"
	defaultClaudeCodeDataset     = "claude_code.events"
	defaultNamespace             = "default"
)

var (
	errUnknownErrorMode    = errors.New("unknown error_mode")
	errRustConfig          = errors.New("configuration refused by the transform")
	errUnknownTenantSource = errors.New("unknown tenant.source")
	errTenantKeyMissing    = errors.New("tenant.key is required")
)

// Content actions (SPEC section 5).
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

// ContentConfig chooses, per content class, keep, redact_secrets, hash or drop.
type ContentConfig struct {
	// Prompts: prompt / prompt_text.
	Prompts string `mapstructure:"prompts"`
	// Responses: response of assistant_response.
	Responses string `mapstructure:"responses"`
	// ToolDetails: tool_parameters, tool_input and everything derived from
	// them (process.command_line, file.path, url.full, gen_ai.tool.call.arguments, ...).
	ToolDetails string `mapstructure:"tool_details"`
	// APIBodies: body of api_request_body / api_response_body, the system
	// prompt and the tool definitions (system_prompt and tool events, their
	// span attributes).
	APIBodies string `mapstructure:"api_bodies"`
	// ToolOutput: a tool's output (output of the tool.output span event).
	ToolOutput string `mapstructure:"tool_output"`
	// HMACKey is the key for hash (at least 32 bytes), e.g. ${env:COWORK_ECS_HMAC_KEY}.
	HMACKey configopaque.String `mapstructure:"hmac_key"`
	// HMACKeyFile is a file holding the key, instead of HMACKey.
	HMACKeyFile string `mapstructure:"hmac_key_file"`
}

// TenantConfig says where the sender's authenticated identity comes from and
// what it sets. The identity is never taken from the telemetry itself.
type TenantConfig struct {
	// Source: none (default), auth or metadata.
	Source string `mapstructure:"source"`
	// Key: the auth attribute (source auth) or metadata key (source metadata).
	Key string `mapstructure:"key"`
	// SetNamespace routes the records to data_stream.namespace = the identity
	// (sanitized to Elasticsearch's naming rules).
	SetNamespace bool `mapstructure:"set_namespace"`
	// SetLabel sets labels.tenant = the identity.
	SetLabel bool `mapstructure:"set_label"`
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

// Config is the processor's configuration. Everything except ErrorMode is
// handed to the Rust transform as JSON and validated there, at collector start.
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
	Content ContentConfig `mapstructure:"content" json:"-"`
	// Identity is the identity policy for user.email, user.account_uuid and
	// user.account_id in logs, traces and metrics: keep (default), hash
	// (HMAC-SHA256 under content.hmac_key) or drop.
	Identity string `mapstructure:"identity" json:"-"`
	// Tenant takes the sender's identity from the request context.
	Tenant TenantConfig `mapstructure:"tenant" json:"-"`
	// Tenants maps an identity to the organization.id values it may claim;
	// other claims are tagged organization_mismatch. Empty: no check.
	Tenants map[string][]string `mapstructure:"tenants" json:"-"`
	// ErrorMode: ignore (default), silent or propagate. See ErrorMode.
	ErrorMode ErrorMode `mapstructure:"error_mode" json:"-"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

func createDefaultConfig() component.Config {
	return &Config{
		Cowork: EmitterConfig{
			ServiceNames: []string{defaultCoworkServiceName},
			Dataset:      defaultCoworkDataset,
		},
		ClaudeCode: EmitterConfig{
			ServiceNames: []string{defaultClaudeCodeServiceName},
			Dataset:      defaultClaudeCodeDataset,
		},
		Namespace: defaultNamespace,
		Content: ContentConfig{
			Prompts:     ContentRedactSecrets,
			Responses:   ContentRedactSecrets,
			ToolDetails: ContentRedactSecrets,
			APIBodies:   ContentRedactSecrets,
			ToolOutput:  ContentRedactSecrets,
		},
		Identity:  ContentKeep,
		Tenant:    TenantConfig{Source: TenantSourceNone, SetNamespace: true, SetLabel: true},
		ErrorMode: ErrorModeIgnore,
	}
}

// transformConfig is the JSON the Rust library receives (its keys are the
// Rust Config's; the Go-only settings stay here).
func (cfg *Config) transformConfig() ([]byte, error) {
	type emitter struct {
		ServiceNames []string `json:"service_names"`
		Dataset      string   `json:"dataset"`
	}
	type content struct {
		Prompts     string `json:"prompts,omitempty"`
		Responses   string `json:"responses,omitempty"`
		ToolDetails string `json:"tool_details,omitempty"`
		APIBodies   string `json:"api_bodies,omitempty"`
		ToolOutput  string `json:"tool_output,omitempty"`
		HMACKey     string `json:"hmac_key,omitempty"`
		HMACKeyFile string `json:"hmac_key_file,omitempty"`
	}
	type tenant struct {
		SetNamespace bool `json:"set_namespace"`
		SetLabel     bool `json:"set_label"`
	}
	// An unset list is an empty list (JSON [] rather than null), so the Rust
	// validator can say which list is empty.
	names := func(n []string) []string {
		if n == nil {
			return []string{}
		}
		return n
	}
	tenants := cfg.Tenants
	if tenants == nil {
		tenants = map[string][]string{}
	}
	return json.Marshal(struct {
		Cowork           emitter             `json:"cowork"`
		ClaudeCode       emitter             `json:"claude_code"`
		Namespace        string              `json:"namespace"`
		PreserveOriginal bool                `json:"preserve_original"`
		Content          content             `json:"content"`
		Identity         string              `json:"identity,omitempty"`
		Tenant           tenant              `json:"tenant"`
		Tenants          map[string][]string `json:"tenants"`
	}{
		Cowork:           emitter{names(cfg.Cowork.ServiceNames), cfg.Cowork.Dataset},
		ClaudeCode:       emitter{names(cfg.ClaudeCode.ServiceNames), cfg.ClaudeCode.Dataset},
		Namespace:        cfg.Namespace,
		PreserveOriginal: cfg.PreserveOriginal,
		Content: content{
			Prompts: cfg.Content.Prompts, Responses: cfg.Content.Responses,
			ToolDetails: cfg.Content.ToolDetails, APIBodies: cfg.Content.APIBodies,
			ToolOutput: cfg.Content.ToolOutput,
			HMACKey:    string(cfg.Content.HMACKey), HMACKeyFile: cfg.Content.HMACKeyFile,
		},
		Identity: cfg.Identity,
		Tenant:   tenant{cfg.Tenant.SetNamespace, cfg.Tenant.SetLabel},
		Tenants:  tenants,
	})
}

// Validate checks the configuration. The mapping settings are checked by the
// Rust library itself (cowork_ecs_config_validate), so the rules cannot drift
// between the two languages.
func (cfg *Config) Validate() error {
	switch cfg.ErrorMode {
	case ErrorModeIgnore, ErrorModeSilent, ErrorModePropagate:
	default:
		return fmt.Errorf("error_mode: %w %q: use ignore, silent or propagate", errUnknownErrorMode, cfg.ErrorMode)
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
	raw, err := cfg.transformConfig()
	if err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	if err := cffi.ValidateConfig(raw); err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	return nil
}
