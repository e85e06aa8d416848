package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"go.opentelemetry.io/collector/component"

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
	errUnknownErrorMode = errors.New("unknown error_mode")
	errRustConfig       = errors.New("configuration refused by the transform")
)

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
		ErrorMode: ErrorModeIgnore,
	}
}

// transformConfig is the JSON the Rust library receives.
func (cfg *Config) transformConfig() ([]byte, error) {
	c := *cfg
	// An unset list is an empty list (JSON [] rather than null), so the Rust
	// validator can say which list is empty.
	for _, e := range []*EmitterConfig{&c.Cowork, &c.ClaudeCode} {
		if e.ServiceNames == nil {
			e.ServiceNames = []string{}
		}
	}
	return json.Marshal(&c)
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
	raw, err := cfg.transformConfig()
	if err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	if err := cffi.ValidateConfig(raw); err != nil {
		return fmt.Errorf("%w: %w", errRustConfig, err)
	}
	return nil
}
