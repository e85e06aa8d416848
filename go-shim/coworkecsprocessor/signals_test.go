package coworkecsprocessor

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
)

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err, path)
	return raw
}

func readTraces(t testing.TB, path string) ptrace.Traces {
	t.Helper()
	td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(readFile(t, path))
	require.NoError(t, err, path)
	return td
}

func readMetrics(t testing.TB, path string) pmetric.Metrics {
	t.Helper()
	md, err := (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(readFile(t, path))
	require.NoError(t, err, path)
	return md
}

func tracesJSON(t testing.TB, td ptrace.Traces) string {
	t.Helper()
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	require.NoError(t, err)
	return string(b)
}

func metricsJSON(t testing.TB, md pmetric.Metrics) string {
	t.Helper()
	b, err := (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
	require.NoError(t, err)
	return string(b)
}

func startedTraces(t testing.TB, cfg *Config, sink *consumertest.TracesSink) func(context.Context, ptrace.Traces) error {
	t.Helper()
	p, err := NewFactory().CreateTraces(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p.ConsumeTraces
}

func startedMetrics(t testing.TB, cfg *Config, sink *consumertest.MetricsSink) func(context.Context, pmetric.Metrics) error {
	t.Helper()
	p, err := NewFactory().CreateMetrics(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })
	return p.ConsumeMetrics
}

func TestSpanContentAndTenant(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Content.Prompts, cfg.Content.ToolDetails, cfg.Content.ToolOutput = ContentDrop, ContentDrop, ContentDrop
	cfg.Tenant = TenantConfig{Source: TenantSourceMetadata, Key: "x-tenant", SetNamespace: true, SetLabel: true}
	sink := new(consumertest.TracesSink)
	consume := startedTraces(t, cfg, sink)
	in := readTraces(t, filepath.Join(testdata, "captures", "content_all", "traces.json"))
	ctx := client.NewContext(context.Background(), client.Info{
		Metadata: client.NewMetadata(map[string][]string{"x-tenant": {"Team-A"}}),
	})
	require.NoError(t, consume(ctx, in))
	out := tracesJSON(t, sink.AllTraces()[0])
	for _, canary := range []string{"say hello using bash", "echo hello-from-mock", "hello-from-mock"} {
		assert.NotContains(t, out, canary)
	}
	assert.True(t, strings.Contains(out, `"team_a"`), "tenant namespace")

	// Another sender's traces without tenant pass on as they came.
	other := readTraces(t, filepath.Join(testdata, "captures", "traces", "traces.json"))
	other.ResourceSpans().At(0).Resource().Attributes().PutStr("service.name", "billing")
	want := tracesJSON(t, other)
	sink.Reset()
	require.NoError(t, consume(context.Background(), other))
	assert.Equal(t, want, tracesJSON(t, sink.AllTraces()[0]))
}

func TestMetricsIdentityDrop(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.Identity = ContentDrop
	sink := new(consumertest.MetricsSink)
	consume := startedMetrics(t, cfg, sink)
	in := readMetrics(t, filepath.Join(testdata, "captures", "content_all", "metrics.json"))
	const email = "canary.user@example.com"
	in.ResourceMetrics().At(0).Resource().Attributes().PutStr("user.email", email)
	require.NoError(t, consume(context.Background(), in))
	assert.NotContains(t, metricsJSON(t, sink.AllMetrics()[0]), email)
}

// A traces batch with text that is not UTF-8 (which pdata carries but
// prost does not read) is transformed like any other (issue 17): the text
// read with U+FFFD, the span marked, the batch passed on; it is neither
// refused nor passed in clear.
func TestTracesTextThatIsNotUTF8IsRepairedNotRefused(t *testing.T) {
	in := readTraces(t, filepath.Join(testdata, "captures", "traces", "traces.json"))
	spans := in.ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	spans.At(0).Attributes().PutStr("user_prompt", "bad \xff text password=CanaryGoPass42")

	sink := new(consumertest.TracesSink)
	consume := startedTraces(t, createDefaultConfig().(*Config), sink)
	require.NoError(t, consume(context.Background(), in))
	require.Len(t, sink.AllTraces(), 1)
	out := sink.AllTraces()[0].ResourceSpans().At(0).ScopeSpans().At(0).Spans()
	require.Equal(t, spans.Len(), out.Len())
	prompt, ok := out.At(0).Attributes().Get("user_prompt")
	require.True(t, ok)
	assert.Equal(t, "bad \ufffd text password=[REDACTED:assignment]", prompt.Str())
	tags, ok := out.At(0).Attributes().Get("tags")
	require.True(t, ok)
	assert.Contains(t, tags.AsString(), "invalid_utf8")
	assert.NotContains(t, tracesJSON(t, sink.AllTraces()[0]), "CanaryGoPass42")
}

// Traces and metrics select the resources that need Rust as logs do
// (issue 17): another sender's resource with text that is not UTF-8 goes
// through the transform and comes out repaired and tagged, while a quiet
// resource beside it is passed on as it came.
func TestOtherSendersTracesAndMetricsAreScreenedLikeLogs(t *testing.T) {
	in := readTraces(t, filepath.Join(testdata, "captures", "traces", "traces.json"))
	in.ResourceSpans().At(0).Resource().Attributes().PutStr("service.name", "billing")
	quiet := ptrace.NewTraces()
	in.ResourceSpans().At(0).CopyTo(quiet.ResourceSpans().AppendEmpty())
	in.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Events().AppendEmpty().SetName("bad \xff")
	quiet.ResourceSpans().At(0).CopyTo(in.ResourceSpans().AppendEmpty())
	sink := new(consumertest.TracesSink)
	require.NoError(t, startedTraces(t, createDefaultConfig().(*Config), sink)(context.Background(), in))
	out := sink.AllTraces()[0].ResourceSpans()
	span := out.At(0).ScopeSpans().At(0).Spans().At(0)
	events := span.Events()
	assert.Equal(t, "bad \ufffd", events.At(events.Len()-1).Name())
	tags, ok := events.At(events.Len() - 1).Attributes().Get("tags")
	require.True(t, ok)
	assert.Contains(t, tags.AsString(), "invalid_utf8")
	want := ptrace.NewTraces()
	quiet.ResourceSpans().At(0).CopyTo(want.ResourceSpans().AppendEmpty())
	got := ptrace.NewTraces()
	out.At(1).CopyTo(got.ResourceSpans().AppendEmpty())
	assert.Equal(t, tracesJSON(t, want), tracesJSON(t, got), "the quiet resource passes as it came")

	md := readMetrics(t, filepath.Join(testdata, "captures", "content_all", "metrics.json"))
	md.ResourceMetrics().At(0).Resource().Attributes().PutStr("service.name", "billing")
	metric := md.ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	metric.SetName("bad \xff")
	msink := new(consumertest.MetricsSink)
	require.NoError(t, startedMetrics(t, createDefaultConfig().(*Config), msink)(context.Background(), md))
	got2 := msink.AllMetrics()[0].ResourceMetrics().At(0).ScopeMetrics().At(0).Metrics().At(0)
	assert.Equal(t, "bad \ufffd", got2.Name())
	tags, ok = got2.Sum().DataPoints().At(0).Attributes().Get("tags")
	require.True(t, ok)
	assert.Contains(t, tags.AsString(), "invalid_utf8")
}
