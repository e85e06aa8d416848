package coworkecsprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
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

// BenchmarkConsumeLogsUnsigned and BenchmarkConsumeLogsSigned run the
// whole logs processor as a pipeline calls it (ConsumeLogs into a nop
// consumer), without and with a signing key (README "Tamper evidence"):
// the ratio of the two, same run, is what sealing costs in Go and Rust
// together. Each iteration copies the batch first (the processor rewrites
// it in place); both pay that copy.
func BenchmarkConsumeLogsUnsigned(b *testing.B) { benchConsumeLogs(b, false) }

// BenchmarkConsumeLogsSigned: see BenchmarkConsumeLogsUnsigned.
func BenchmarkConsumeLogsSigned(b *testing.B) { benchConsumeLogs(b, true) }

func benchConsumeLogs(b *testing.B, signed bool) {
	cfg := createDefaultConfig().(*Config)
	if signed {
		dir := b.TempDir()
		key := filepath.Join(dir, "signing.pem")
		require.NoError(b, os.WriteFile(key, []byte(rfc8032Key), 0o600))
		cfg.Signing = SigningConfig{KeyFile: key, StateDirectory: dir}
	}
	ctx := context.Background()
	p, err := createLogsProcessor(ctx, processortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	require.NoError(b, p.Start(ctx, componenttest.NewNopHost()))
	defer func() { require.NoError(b, p.Shutdown(ctx)) }()
	ld := batch1000(b)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		batch := plog.NewLogs()
		ld.CopyTo(batch)
		if err := p.ConsumeLogs(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(ld.LogRecordCount())*float64(b.N)/b.Elapsed().Seconds(), "records/s")
}
