package coworkecsprocessor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadatatest"
	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// testdata is the repository's shared test data folder (Rust and Go read
// the same captures and golden files).
var testdata = filepath.Join("..", "..", "testdata")

func readLogs(t testing.TB, path string) plog.Logs {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var ld plog.Logs
	if filepath.Ext(path) == ".pb" {
		ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
	} else {
		ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(raw)
	}
	require.NoError(t, err, path)
	return ld
}

func logsJSON(t testing.TB, ld plog.Logs) string {
	t.Helper()
	b, err := (&plog.JSONMarshaler{}).MarshalLogs(ld)
	require.NoError(t, err)
	return string(b)
}

// newProcessor builds the processor through its factory, started.
func newProcessor(t testing.TB, cfg *Config, next *consumertest.LogsSink) processor.Logs {
	t.Helper()
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p
}

// keepEverything sets every content class and the identity policy to keep
// (the classes as contentActions reads them, so a new class needs no edit).
func keepEverything(t testing.TB, cfg *Config) {
	t.Helper()
	classes, err := contentActions(cfg.Content)
	require.NoError(t, err)
	for class := range classes {
		classes[class] = ContentKeep
	}
	raw, err := json.Marshal(classes)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &cfg.Content))
	cfg.Identity = ContentKeep
	require.True(t, cfg.policyKeepsAll())
}

// resources is a batch of copies of ld's resources at the given indexes.
func resources(ld plog.Logs, at ...int) plog.Logs {
	out := plog.NewLogs()
	for _, i := range at {
		ld.ResourceLogs().At(i).CopyTo(out.ResourceLogs().AppendEmpty())
	}
	return out
}

func TestNonClaudeRecordsAreUntouched(t *testing.T) {
	in := readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	billing := resources(in, 1)

	sink := new(consumertest.LogsSink)
	p := newProcessor(t, createDefaultConfig().(*Config), sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), in))
	got := sink.AllLogs()[0]
	require.Equal(t, 2, got.ResourceLogs().Len())
	assert.Equal(t, logsJSON(t, billing), logsJSON(t, resources(got, 1)))

	// A batch with no Claude record is passed on as it came.
	sink.Reset()
	require.NoError(t, p.ConsumeLogs(context.Background(), billing))
	assert.Equal(t, logsJSON(t, billing), logsJSON(t, sink.AllLogs()[0]))
}

// What the gateway must change in a batch without Claude records still
// reaches Rust (needsTransform passes it), and the resources beside it stay
// as they came, in order.
func TestOtherSendersStillGuarded(t *testing.T) {
	in := readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	billing := resources(in, 1, 1)
	billing.ResourceLogs().At(1).ScopeLogs().At(0).Scope().Attributes().PutStr(mappingModeAttribute, "bogus")
	quiet := resources(billing, 0)

	sink := new(consumertest.LogsSink)
	p := newProcessor(t, createDefaultConfig().(*Config), sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), billing))
	got := sink.AllLogs()[0]
	require.Equal(t, 2, got.ResourceLogs().Len())
	assert.Equal(t, logsJSON(t, quiet), logsJSON(t, resources(got, 0)), "the quiet resource as it came")
	_, ok := got.ResourceLogs().At(1).ScopeLogs().At(0).Scope().Attributes().Get(mappingModeAttribute)
	assert.False(t, ok, "a mapping mode the exporter would refuse is removed")
	assert.Equal(t, 2*quiet.LogRecordCount(), got.LogRecordCount())
}

// invalidUTF8Batch is a Claude batch prost alone would refuse (protobuf
// strings must be UTF-8; pdata does not check): the transform reads it lossily.
func invalidUTF8Batch() plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	rec := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	rec.Body().SetStr("claude_code.tool_result")
	rec.Attributes().PutStr("tool_name", "Bash\xff\xfe")
	rec.Attributes().PutStr("prompt", "password=CanarySecretPass77")
	return ld
}

// unreadableBatch is a Claude batch the transform cannot process at all:
// an attribute nested 2,100 maps deep (the transform reads 2,000 levels).
func unreadableBatch() plog.Logs {
	ld := invalidUTF8Batch()
	m := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().PutEmptyMap("deep")
	for range 2100 {
		m = m.PutEmptyMap("k")
	}
	return ld
}

func TestErrorMode(t *testing.T) {
	for _, tt := range []struct {
		mode    ErrorMode
		keep    bool
		wantErr bool
	}{
		// Under a content policy, a batch the transform cannot read never
		// passes on in clear, whatever error_mode says: refused, retryable.
		{ErrorModeIgnore, false, true},
		{ErrorModeSilent, false, true},
		{ErrorModePropagate, false, true},
		// With every class on keep there is nothing to protect.
		{ErrorModeIgnore, true, false},
		{ErrorModeSilent, true, false},
		{ErrorModePropagate, true, true},
	} {
		t.Run(fmt.Sprintf("%s/keep=%v", tt.mode, tt.keep), func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.ErrorMode = tt.mode
			if tt.keep {
				keepEverything(t, cfg)
			}
			sink := new(consumertest.LogsSink)
			p := newProcessor(t, cfg, sink)
			in := unreadableBatch()
			want := logsJSON(t, in)
			err := p.ConsumeLogs(context.Background(), in)
			if tt.wantErr {
				require.Error(t, err)
				assert.ErrorIs(t, err, cffi.ErrPartial, "the resource it could not read is reported")
				assert.False(t, consumererror.IsPermanent(err), "the sender retries")
				assert.Empty(t, sink.AllLogs())
				return
			}
			require.NoError(t, err)
			require.Len(t, sink.AllLogs(), 1)
			assert.Equal(t, want, logsJSON(t, sink.AllLogs()[0]), "passed on untransformed, nothing lost")
		})
	}
}

func TestConcurrentBatchesShareOneTransformer(t *testing.T) {
	inputs := goldenCasesOf(t, signalLogs)
	golden := map[string]bool{}
	batches := make([]plog.Logs, 0, len(inputs))
	for _, c := range inputs {
		golden[logsJSON(t, readLogs(t, c.expected))] = true
		batches = append(batches, readLogs(t, c.input))
	}
	var mu sync.Mutex
	seen := 0
	next, err := consumer.NewLogs(func(_ context.Context, ld plog.Logs) error {
		ok := golden[logsJSON(t, ld)]
		mu.Lock()
		defer mu.Unlock()
		seen++
		if !ok {
			t.Errorf("a concurrent output matches no golden file")
		}
		return nil
	})
	require.NoError(t, err)
	p, err := NewFactory().CreateLogs(context.Background(), processortest.NewNopSettings(metadata.Type), createDefaultConfig(), next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, p.Shutdown(context.Background())) }()

	const goroutines = 16
	var wg sync.WaitGroup
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := range batches {
				ld := plog.NewLogs()
				batches[(g+i)%len(batches)].CopyTo(ld)
				if err := p.ConsumeLogs(context.Background(), ld); err != nil {
					t.Error(err)
				}
			}
		}(g)
	}
	wg.Wait()
	assert.Equal(t, goroutines*len(batches), seen)
}

func processortestSettings() processor.Settings {
	return processortest.NewNopSettings(metadata.Type)
}

// authData is what an authenticator (e.g. basicauth) leaves in client.Info.
type authData map[string]any

func (a authData) GetAttribute(name string) any { return a[name] }
func (a authData) GetAttributeNames() []string {
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	return names
}

func attr(t *testing.T, ld plog.Logs, key string) string {
	t.Helper()
	v, ok := ld.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get(key)
	require.True(t, ok, key)
	return v.AsString()
}

func TestTenantFromAuthAndMetadata(t *testing.T) {
	for _, tt := range []struct {
		desc      string
		tenant    TenantConfig
		ctx       context.Context
		namespace string
		label     string
	}{
		{
			desc:      "auth attribute",
			tenant:    TenantConfig{Source: TenantSourceAuth, Key: "username", SetNamespace: true, SetLabel: true},
			ctx:       client.NewContext(context.Background(), client.Info{Auth: authData{"username": "Team-A"}}),
			namespace: "team_a", label: "Team-A",
		},
		{
			desc:   "metadata key",
			tenant: TenantConfig{Source: TenantSourceMetadata, Key: "x-tenant", SetNamespace: true, SetLabel: true},
			ctx: client.NewContext(context.Background(), client.Info{
				Metadata: client.NewMetadata(map[string][]string{"x-tenant": {"team-b"}}),
			}),
			namespace: "team_b", label: "team-b",
		},
		{
			desc:      "no identity in the context",
			tenant:    TenantConfig{Source: TenantSourceAuth, Key: "username", SetNamespace: true, SetLabel: true},
			ctx:       context.Background(),
			namespace: "default",
		},
		{
			desc:      "source none ignores an authenticated identity",
			tenant:    TenantConfig{Source: TenantSourceNone, SetNamespace: true, SetLabel: true},
			ctx:       client.NewContext(context.Background(), client.Info{Auth: authData{"username": "team-a"}}),
			namespace: "default",
		},
	} {
		t.Run(tt.desc, func(t *testing.T) {
			cfg := createDefaultConfig().(*Config)
			cfg.Tenant = tt.tenant
			require.NoError(t, cfg.Validate())
			sink := new(consumertest.LogsSink)
			p := newProcessor(t, cfg, sink)
			require.NoError(t, p.ConsumeLogs(tt.ctx, readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))))
			got := sink.AllLogs()[0]
			assert.Equal(t, tt.namespace, attr(t, got, "data_stream.namespace"))
			v, ok := got.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0).Attributes().Get("labels.tenant")
			assert.Equal(t, tt.label != "", ok)
			if ok {
				assert.Equal(t, tt.label, v.Str())
			}
		})
	}
}

func TestContentPolicyReachesRust(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Content.Prompts = ContentHash
	cfg.Content.HMACKey = "0123456789abcdef0123456789abcdef"
	require.NoError(t, cfg.Validate())
	sink := new(consumertest.LogsSink)
	p := newProcessor(t, cfg, sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))))
	prompt := attr(t, sink.AllLogs()[0], "claude_cowork.events.prompt_text")
	assert.Len(t, prompt, 64)
	// The prompt record keeps no trace of the text (the API body record is
	// another class, api_bodies, left at redact_secrets here).
	rec := sink.AllLogs()[0].ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
	assert.Equal(t, "user_prompt", attr(t, sink.AllLogs()[0], "event.action"))
	for k, v := range rec.Attributes().All() {
		assert.NotContains(t, v.AsString(), "quarterly report", k)
	}
}

func TestInvalidUTF8IsReadNotPassedInClear(t *testing.T) {
	in := readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	invalidUTF8Batch().ResourceLogs().At(0).CopyTo(in.ResourceLogs().AppendEmpty())
	want := in.LogRecordCount()

	sink := new(consumertest.LogsSink)
	p := newProcessor(t, createDefaultConfig().(*Config), sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), in))
	got := sink.AllLogs()[0]
	require.Equal(t, want, got.LogRecordCount(), "nothing dropped")
	require.Equal(t, 3, got.ResourceLogs().Len())
	assert.Equal(t, "9.3.0", attr(t, got, "ecs.version"))
	// The record with bytes that are not UTF-8 was normalized, in its place,
	// its content policy applied, and marked.
	broken := got.ResourceLogs().At(2).ScopeLogs().At(0).LogRecords().At(0)
	get := func(k string) string {
		v, ok := broken.Attributes().Get(k)
		require.True(t, ok, k)
		return v.AsString()
	}
	assert.Equal(t, "Bash\uFFFD\uFFFD", get("gen_ai.tool.name"))
	assert.Equal(t, "pipeline_error", get("event.kind"))
	assert.Contains(t, get("tags"), "invalid_utf8")
	for k, v := range broken.Attributes().All() {
		assert.NotContains(t, v.AsString(), "CanarySecretPass77", k)
	}
}

// One resource the transform cannot read does not keep the others from
// being normalized: Rust skips it (passed on as it came) and reports it in
// the same call; the error policy then judges the batch.
func TestAnUnreadableResourceIsSkippedNotRetried(t *testing.T) {
	in := readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	unreadableBatch().ResourceLogs().At(0).CopyTo(in.ResourceLogs().AppendEmpty())
	skipped := resources(in, 2)

	cfg := createDefaultConfig().(*Config)
	keepEverything(t, cfg)
	sink := new(consumertest.LogsSink)
	p := newProcessor(t, cfg, sink)
	require.NoError(t, p.ConsumeLogs(context.Background(), in))
	got := sink.AllLogs()[0]
	require.Equal(t, 3, got.ResourceLogs().Len())
	assert.Equal(t, "9.3.0", attr(t, got, "ecs.version"), "the readable Claude resource is normalized")
	assert.Equal(t, logsJSON(t, skipped), logsJSON(t, resources(got, 2)), "the unreadable one as it came")

	// Under the default policy the same batch is a Claude batch that cannot
	// pass in clear: refused, retryable, nothing delivered, and counted.
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink = new(consumertest.LogsSink)
	strict, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tt), createDefaultConfig(), sink)
	require.NoError(t, err)
	require.NoError(t, strict.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, strict.Shutdown(context.Background())) })
	in = readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	unreadableBatch().ResourceLogs().At(0).CopyTo(in.ResourceLogs().AppendEmpty())
	err = strict.ConsumeLogs(context.Background(), in)
	require.ErrorIs(t, err, cffi.ErrPartial)
	assert.Empty(t, sink.AllLogs())
	metadatatest.AssertEqualProcessorCoworkEcsTransformFailures(t, tt,
		[]metricdata.DataPoint[int64]{{Value: 1, Attributes: attribute.NewSet(attribute.String("error_mode", "ignore"))}},
		metricdatatest.IgnoreTimestamp())
}
