package coworkecsprocessor

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/plogtest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/pmetrictest"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/pdatatest/ptracetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/consumer/consumertest"
)

// The requests a golden input can be (as tests/common/mod.rs tells them
// apart: a .pb file is logs, a JSON file says by its top-level key).
const (
	signalLogs    = "resourceLogs"
	signalTraces  = "resourceSpans"
	signalMetrics = "resourceMetrics"
)

// goldenCase is one input file of a case folder and, beside it, its
// expected output (<stem>.expected.json): the files tests/golden.rs reads.
type goldenCase struct {
	name, signal, input, expected string
}

// goldenCases discovers every case: each input file (*.json but
// *.expected.json, *.pb) in testdata/captures/<case>/ and testdata/cowork/.
// Nothing is counted: a new capture folder is a new case.
func goldenCases(t testing.TB) []goldenCase {
	t.Helper()
	folders, err := filepath.Glob(filepath.Join(testdata, "captures", "*"))
	require.NoError(t, err)
	folders = append(folders, filepath.Join(testdata, "cowork"))
	sort.Strings(folders)
	var cases []goldenCase
	for _, folder := range folders {
		files, err := os.ReadDir(folder)
		if err != nil {
			continue // not a folder
		}
		for _, f := range files {
			name := f.Name()
			stem, signal := strings.TrimSuffix(name, ".pb"), signalLogs
			if stem == name {
				stem = strings.TrimSuffix(name, ".json")
				if stem == name || strings.HasSuffix(stem, ".expected") {
					continue
				}
				var keys map[string]json.RawMessage
				require.NoError(t, json.Unmarshal(readFile(t, filepath.Join(folder, name)), &keys), name)
				for _, s := range []string{signalLogs, signalTraces, signalMetrics} {
					if _, ok := keys[s]; ok {
						signal = s
					}
				}
			}
			cases = append(cases, goldenCase{
				name:     filepath.Base(folder) + "/" + name,
				signal:   signal,
				input:    filepath.Join(folder, name),
				expected: filepath.Join(folder, stem+".expected.json"),
			})
		}
	}
	return cases
}

// goldenCasesOf is the cases of one signal (at least one).
func goldenCasesOf(t testing.TB, signal string) []goldenCase {
	t.Helper()
	var out []goldenCase
	for _, c := range goldenCases(t) {
		if c.signal == signal {
			out = append(out, c)
		}
	}
	require.NotEmpty(t, out, "no %s case", signal)
	return out
}

// TestGoldens runs every golden case through the processor of its signal
// and compares the output with the expected file (pdatatest comparisons,
// as collector-contrib processors do).
func TestGoldens(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	for _, c := range goldenCasesOf(t, signalLogs) {
		t.Run(c.name, func(t *testing.T) {
			sink := new(consumertest.LogsSink)
			p := newProcessor(t, cfg, sink)
			in := readLogs(t, c.input)
			require.NoError(t, p.ConsumeLogs(context.Background(), in))
			require.Len(t, sink.AllLogs(), 1)
			got := sink.AllLogs()[0]
			assert.Equal(t, in.LogRecordCount(), got.LogRecordCount(), "no record dropped")
			require.NoError(t, plogtest.CompareLogs(readLogs(t, c.expected), got))
			rec := got.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords().At(0)
			v, ok := rec.Attributes().Get("ecs.version")
			require.True(t, ok)
			assert.Equal(t, "9.3.0", v.Str())
		})
	}
	for _, c := range goldenCasesOf(t, signalTraces) {
		t.Run(c.name, func(t *testing.T) {
			sink := new(consumertest.TracesSink)
			consume := startedTraces(t, cfg, sink)
			in := readTraces(t, c.input)
			require.NoError(t, consume(context.Background(), in))
			require.Len(t, sink.AllTraces(), 1)
			got := sink.AllTraces()[0]
			require.NoError(t, ptracetest.CompareTraces(readTraces(t, c.expected), got))
			scope := got.ResourceSpans().At(0).ScopeSpans().At(0).Scope().Attributes()
			v, ok := scope.Get("data_stream.dataset")
			require.True(t, ok)
			// The exporter's OTel mode appends .otel: traces-claude_code.otel-<namespace>.
			assert.Equal(t, "claude_code", v.Str())
		})
	}
	for _, c := range goldenCasesOf(t, signalMetrics) {
		t.Run(c.name, func(t *testing.T) {
			sink := new(consumertest.MetricsSink)
			consume := startedMetrics(t, cfg, sink)
			in := readMetrics(t, c.input)
			require.NoError(t, consume(context.Background(), in))
			require.Len(t, sink.AllMetrics(), 1)
			got := sink.AllMetrics()[0]
			assert.Equal(t, in.DataPointCount(), got.DataPointCount())
			require.NoError(t, pmetrictest.CompareMetrics(readMetrics(t, c.expected), got))
		})
	}
}
