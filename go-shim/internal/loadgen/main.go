// Command loadgen is the OTLP/HTTP load generator of `make bench-collector`
// (and, with -write-corpus, writes the fuzz seed corpus of `make fuzz`):
// it builds protobuf ExportLogsServiceRequests of -records records from the
// real captures (the records repeated in capture order, under one
// resource whose service.name is -service), or with -signal traces
// ExportTraceServiceRequests of -records spans from the captures'
// traces.json, then POSTs them to -endpoint from -workers goroutines for
// -duration, and prints one JSON line: the records (or spans) and requests
// the collector acknowledged (HTTP 200), and the seconds it took.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/captures"
)

func main() {
	captures := flag.String("captures", "testdata/captures", "folder of capture folders with logs.json")
	endpoint := flag.String("endpoint", "http://127.0.0.1:4318/v1/logs", "OTLP/HTTP logs endpoint")
	records := flag.Int("records", 1000, "records per request")
	service := flag.String("service", "claude-code", "resource service.name")
	workers := flag.Int("workers", 4, "concurrent senders")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	corpus := flag.String("write-corpus", "", "instead of sending: write every capture as a protobuf request into this folder (the fuzz seed corpus)")
	signal := flag.String("signal", "logs", "logs or traces")
	flag.Parse()

	if *corpus != "" {
		if err := writeCorpus(*captures, *corpus); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}

	build := buildRequest
	if *signal == "traces" {
		build = buildTracesRequest
	}
	body, err := build(*captures, *records, *service)
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadgen:", err)
		os.Exit(1)
	}
	var acked, failed atomic.Int64
	client := &http.Client{Timeout: 30 * time.Second}
	deadline := time.Now().Add(*duration)
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				resp, err := client.Post(*endpoint, "application/x-protobuf", bytes.NewReader(body))
				if err != nil {
					failed.Add(1)
					time.Sleep(10 * time.Millisecond)
					continue
				}
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					acked.Add(1)
				} else {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
		"requests": acked.Load(), "records": acked.Load() * int64(*records),
		"failed": failed.Load(), "seconds": elapsed, "request_bytes": len(body),
	})
}

// buildRequest is n records from the captures under dir (captures.Batch)
// as one protobuf request, under a resource whose service.name is service.
func buildRequest(dir string, n int, service string) ([]byte, error) {
	ld, err := captures.Batch(dir, n)
	if err != nil {
		return nil, err
	}
	ld.ResourceLogs().At(0).Resource().Attributes().PutStr("service.name", service)
	var m plog.ProtoMarshaler
	return m.MarshalLogs(ld)
}

// buildTracesRequest is n spans from the captures' traces.json files
// (repeated in capture order) as one protobuf request, under one resource
// whose service.name is service.
func buildTracesRequest(dir string, n int, service string) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "traces.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no traces.json under %s: %v", dir, err)
	}
	var spans []ptrace.Span
	var first ptrace.Traces
	for i, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if i == 0 {
			first = td
		}
		for _, rs := range td.ResourceSpans().All() {
			for _, ss := range rs.ScopeSpans().All() {
				for _, span := range ss.Spans().All() {
					spans = append(spans, span)
				}
			}
		}
	}
	out := ptrace.NewTraces()
	rs := out.ResourceSpans().AppendEmpty()
	first.ResourceSpans().At(0).Resource().CopyTo(rs.Resource())
	rs.Resource().Attributes().PutStr("service.name", service)
	ss := rs.ScopeSpans().AppendEmpty()
	first.ResourceSpans().At(0).ScopeSpans().At(0).Scope().CopyTo(ss.Scope())
	for i := 0; i < n; i++ {
		spans[i%len(spans)].CopyTo(ss.Spans().AppendEmpty())
	}
	var m ptrace.ProtoMarshaler
	return m.MarshalTraces(out)
}

// writeCorpus writes each capture's logs.json as protobuf request bytes.
func writeCorpus(dir, out string) error {
	paths, err := captures.Files(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var m plog.ProtoMarshaler
	for _, p := range paths {
		ld, err := captures.Read(p)
		if err != nil {
			return err
		}
		pb, err := m.MarshalLogs(ld)
		if err != nil {
			return err
		}
		name := filepath.Base(filepath.Dir(p)) + ".pb"
		if err := os.WriteFile(filepath.Join(out, name), pb, 0o644); err != nil {
			return err
		}
	}
	return nil
}
