package coworkecsprocessor

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/confmaptest"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// customConfig is testdata/config.yaml's "custom": the defaults (so a class
// or key the file does not set keeps its default) with what the file sets.
func customConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.Cowork = EmitterConfig{ServiceNames: []string{"cowork", "claude-desktop"}, Dataset: "cowork.audit"}
	cfg.ClaudeCode = EmitterConfig{ServiceNames: []string{"claude-code"}, Dataset: "claude_code.events"}
	cfg.Namespace = "security"
	cfg.PreserveOriginal = true
	cfg.Content.Prompts, cfg.Content.Responses = ContentHash, ContentDrop
	cfg.Content.ToolDetails, cfg.Content.APIBodies = ContentRedactSecrets, ContentKeep
	cfg.Content.ToolOutput, cfg.Content.HMACKey = ContentDrop, "0123456789abcdef0123456789abcdef"
	cfg.Identity = ContentHash
	cfg.Tenant = TenantConfig{Source: TenantSourceAuth, Key: "username", SetNamespace: true, SetLabel: false}
	cfg.Tenants = map[string][]string{"team-a": {"org-1", "org-2"}}
	cfg.ErrorMode = ErrorModePropagate
	cfg.QueueGuard = QueueGuardConfig{Directory: "/var/lib/otelcol/cowork-ecs", ReserveMiB: 512, ReservePercent: 10,
		CheckInterval: 2 * time.Second, QueueSize: 1000000, BytesPerRecord: 1500, BallastMiB: 16}
	cfg.ShutdownTimeout = 10 * time.Second
	return cfg
}

func TestLoadConfig(t *testing.T) {
	cm, err := confmaptest.LoadConf(filepath.Join("testdata", "config.yaml"))
	require.NoError(t, err)

	tests := []struct {
		id          component.ID
		expected    *Config
		expectedErr string
		unmarshal   string
		notRust     bool // refused by the Go validation, before Rust sees it
	}{
		{id: component.NewID(metadata.Type), expected: createDefaultConfig().(*Config)},
		{id: component.NewIDWithName(metadata.Type, "custom"), expected: customConfig()},
		{id: component.NewIDWithName(metadata.Type, "bad_namespace"), expectedErr: "namespace"},
		{id: component.NewIDWithName(metadata.Type, "bad_error_mode"), unmarshal: "unknown error_mode"},
		{id: component.NewIDWithName(metadata.Type, "shared_service_name"), expectedErr: "listed for both"},
		{id: component.NewIDWithName(metadata.Type, "unknown_key"), unmarshal: "namespce"},
		{id: component.NewIDWithName(metadata.Type, "hash_without_key"), expectedErr: "content.hmac_key"},
		{id: component.NewIDWithName(metadata.Type, "short_key"), expectedErr: "at least 32"},
		{id: component.NewIDWithName(metadata.Type, "identity_hash_without_key"), expectedErr: "content.hmac_key"},
		{id: component.NewIDWithName(metadata.Type, "unknown_identity"), expectedErr: "redact_secrets"},
		{id: component.NewIDWithName(metadata.Type, "unknown_action"), expectedErr: "shred"},
		{id: component.NewIDWithName(metadata.Type, "tenant_without_key"), expectedErr: "tenant.key", notRust: true},
		{id: component.NewIDWithName(metadata.Type, "unknown_tenant_source"), expectedErr: "tenant.source", notRust: true},
		{id: component.NewIDWithName(metadata.Type, "queue_guard_bad_percent"), expectedErr: "queue_guard.reserve_percent", notRust: true},
		{id: component.NewIDWithName(metadata.Type, "queue_guard_bad_interval"), expectedErr: "queue_guard.check_interval", notRust: true},
	}
	for _, tt := range tests {
		t.Run(tt.id.String(), func(t *testing.T) {
			cfg := NewFactory().CreateDefaultConfig()
			sub, err := cm.Sub(tt.id.String())
			require.NoError(t, err)
			err = sub.Unmarshal(cfg)
			if tt.unmarshal != "" {
				require.ErrorContains(t, err, tt.unmarshal)
				return
			}
			require.NoError(t, err)
			err = confmap.Validate(cfg)
			if tt.expectedErr != "" {
				require.ErrorContains(t, err, tt.expectedErr)
				if !tt.notRust {
					require.ErrorIs(t, err, errRustConfig)
					require.ErrorIs(t, err, cffi.ErrConfig)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.expected, cfg)
		})
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		desc        string
		mutate      func(*Config)
		expectedErr string
	}{
		{desc: "defaults", mutate: func(*Config) {}},
		{desc: "empty error_mode", mutate: func(c *Config) { c.ErrorMode = "" }, expectedErr: "error_mode"},
		{desc: "no cowork service names", mutate: func(c *Config) { c.Cowork.ServiceNames = nil }, expectedErr: "cowork.service_names"},
		{desc: "dataset with a dash", mutate: func(c *Config) { c.ClaudeCode.Dataset = "claude-code" }, expectedErr: "claude_code.dataset"},
		{desc: "uppercase namespace", mutate: func(c *Config) { c.Namespace = "Prod" }, expectedErr: "lowercase"},
		{desc: "empty namespace", mutate: func(c *Config) { c.Namespace = "" }, expectedErr: "namespace"},
		{desc: "silent", mutate: func(c *Config) { c.ErrorMode = ErrorModeSilent }},
		{desc: "missing signing key", mutate: func(c *Config) { c.Signing.KeyFile = "/nonexistent/signing.pem" }, expectedErr: "signing.key_file"},
		{desc: "signing key that is no key", mutate: func(c *Config) { c.Signing.KeyFile = "config_test.go" }, expectedErr: "not a PKCS#8 PEM Ed25519 private key"},
		{desc: "signing key", mutate: func(c *Config) { c.Signing.KeyFile = writeSigningKey(t) }},
		{desc: "queue guard without bytes per record", mutate: func(c *Config) {
			c.QueueGuard.Directory, c.QueueGuard.BytesPerRecord = t.TempDir(), 0
		}, expectedErr: "queue_guard.bytes_per_record"},
		{desc: "negative shutdown_timeout", mutate: func(c *Config) { c.ShutdownTimeout = -time.Second }, expectedErr: "shutdown_timeout"},
		{desc: "queue guard off ignores its other settings", mutate: func(c *Config) { c.QueueGuard.CheckInterval = 0 }},
	}
	for _, tt := range tests {
		t.Run(tt.desc, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			tt.mutate(cfg)
			err := cfg.Validate()
			if tt.expectedErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.expectedErr)
		})
	}
}

// writeSigningKey writes RFC 8032's test key 1 (PKCS#8 PEM) into a
// temporary file and returns its path.
func writeSigningKey(t *testing.T) string {
	path := filepath.Join(t.TempDir(), "signing.pem")
	pem := "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n"
	require.NoError(t, os.WriteFile(path, []byte(pem), 0o600))
	return path
}

func TestErrorModeUnmarshalText(t *testing.T) {
	var m ErrorMode
	require.NoError(t, m.UnmarshalText([]byte("SILENT")))
	assert.Equal(t, ErrorModeSilent, m)
	require.ErrorIs(t, m.UnmarshalText([]byte("drop")), errUnknownErrorMode)
}

// One schema: the default Config marshals to exactly the Rust library's
// default configuration (testdata/config/default.json, which the Rust test
// pins to Config::default), so no key, tag or default differs between the
// two languages.
func TestDefaultConfigIsRustsDefault(t *testing.T) {
	want, err := os.ReadFile(filepath.Join(testdata, "config", "default.json"))
	require.NoError(t, err)
	got, err := createDefaultConfig().(*Config).transformConfig()
	require.NoError(t, err)
	assert.JSONEq(t, string(want), string(got))
	fromRust, err := cffi.ConfigDefaults()
	require.NoError(t, err)
	assert.JSONEq(t, string(fromRust), string(got))
}

// The HMAC key reaches Rust in clear but is redacted wherever the collector
// prints its configuration.
func TestHMACKeyIsClearOnlyForRust(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Content.HMACKey = "0123456789abcdef0123456789abcdef"
	raw, err := cfg.transformConfig()
	require.NoError(t, err)
	assert.Contains(t, string(raw), `"hmac_key":"0123456789abcdef0123456789abcdef"`)
	conf := confmap.New()
	require.NoError(t, conf.Marshal(cfg))
	assert.Equal(t, "[REDACTED]", conf.Get("content::hmac_key"))
}
