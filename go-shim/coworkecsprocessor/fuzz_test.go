package coworkecsprocessor

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
)

// FuzzConsumeLogs feeds arbitrary protobuf batches through the processor
// and into the Rust library: whatever pdata accepts must come out with the
// same number of records, without an error under error_mode ignore, and
// without crashing the process. `go test` runs the seeds (the real
// captures); `go test -fuzz FuzzConsumeLogs` explores from them.
func FuzzConsumeLogs(f *testing.F) {
	for _, c := range goldenCasesOf(f, signalLogs) {
		ld := readLogs(f, c.input)
		raw, err := (&plog.ProtoMarshaler{}).MarshalLogs(ld)
		if err != nil {
			f.Fatal(c.name, err)
		}
		f.Add(raw)
	}
	if raw, err := os.ReadFile(filepath.Join(testdata, "captures", "protobuf", "logs.pb")); err == nil {
		f.Add(raw[:len(raw)/2]) // truncated
	}
	sink := new(consumertest.LogsSink)
	p := newProcessor(f, createDefaultConfig().(*Config), sink)
	f.Fuzz(func(t *testing.T, raw []byte) {
		ld, err := (&plog.ProtoUnmarshaler{}).UnmarshalLogs(raw)
		if err != nil {
			return // not a batch the receiver would pass on
		}
		want := ld.LogRecordCount()
		sink.Reset()
		if err := p.ConsumeLogs(context.Background(), ld); err != nil {
			t.Fatalf("error_mode ignore returned %v", err)
		}
		if got := sink.AllLogs()[0].LogRecordCount(); got != want {
			t.Fatalf("%d records in, %d out", want, got)
		}
	})
}
