package coworkecsprocessor

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/captures"
	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// batch1000 builds a 1,000-record batch from the real captures (records
// repeated in capture order), the same shape as the Rust criterion bench.
func batch1000(b *testing.B) plog.Logs {
	b.Helper()
	ld, err := captures.Batch(filepath.Join(testdata, "captures"), 1000)
	require.NoError(b, err)
	return ld
}

// BenchmarkProcessLogs is the processor's whole per-batch work: marshal,
// one cgo call into the Rust transform, unmarshal.
func BenchmarkProcessLogs(b *testing.B) {
	benchProcessLogs(b, batch1000(b))
}

// benchProcessLogs runs the processor (default config) on ld, b.N times.
func benchProcessLogs(b *testing.B, ld plog.Logs) {
	p, err := newLogsProcessor(processortestSettings(), createDefaultConfig().(*Config))
	require.NoError(b, err)
	require.NoError(b, p.start(context.Background(), nil))
	defer func() { _ = p.shutdown(context.Background()) }()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.process(context.Background(), ld); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ld.LogRecordCount())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkMarshalUnmarshalBaseline is the floor the processor cannot go
// under: the protobuf round trip through pdata alone, no transform.
func BenchmarkMarshalUnmarshalBaseline(b *testing.B) {
	ld := batch1000(b)
	var m plog.ProtoMarshaler
	var u plog.ProtoUnmarshaler
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		raw, err := m.MarshalLogs(ld)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := u.UnmarshalLogs(raw); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ld.LogRecordCount())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkProcessLogsOtherSenders is a batch of the same 1,000 records
// under a resource that is not Claude's: it must cost next to nothing
// (needsTransform walks it; nothing crosses into Rust).
func BenchmarkProcessLogsOtherSenders(b *testing.B) {
	ld := batch1000(b)
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", "billing")
	benchProcessLogs(b, ld)
}

// BenchmarkUnmarshalOutputFloor is what the processor cannot avoid once
// Rust has written its output: pdata's unmarshal of the transformed batch
// alone. Each Claude record gains its ECS fields, so the output carries
// about twice the input's attributes and pdata allocates per attribute:
// this floor, measured in the same run as the baseline, is why the
// processor's allocations stay near twice the round trip's.
func BenchmarkUnmarshalOutputFloor(b *testing.B) {
	ld := batch1000(b)
	p, err := newLogsProcessor(processortestSettings(), createDefaultConfig().(*Config))
	require.NoError(b, err)
	require.NoError(b, p.start(context.Background(), nil))
	defer func() { _ = p.shutdown(context.Background()) }()
	var m plog.ProtoMarshaler
	var u plog.ProtoUnmarshaler
	in, err := m.MarshalLogs(ld)
	require.NoError(b, err)
	var out []byte
	require.NoError(b, p.transformer.TransformInto(cffi.Logs, "", in, func(raw []byte) error {
		out = append([]byte(nil), raw...)
		return nil
	}))
	require.NotEmpty(b, out)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := u.UnmarshalLogs(out); err != nil {
			b.Fatal(err)
		}
	}
}
