// Command loadgen is the OTLP/HTTP load generator of `make bench-collector`
// (and, with -write-corpus, writes the fuzz seed corpus of `make fuzz`):
// it builds protobuf ExportLogsServiceRequests of -records records from the
// real captures (the records repeated in capture order, under one
// resource whose service.name is -service), then POSTs them to -endpoint
// from -workers goroutines for -duration, and prints one JSON line: the
// records and requests the collector acknowledged (HTTP 200), and the
// seconds it took.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

func main() {
	captures := flag.String("captures", "testdata/captures", "folder of capture folders with logs.json")
	endpoint := flag.String("endpoint", "http://127.0.0.1:4318/v1/logs", "OTLP/HTTP logs endpoint")
	records := flag.Int("records", 1000, "records per request")
	service := flag.String("service", "claude-code", "resource service.name")
	workers := flag.Int("workers", 4, "concurrent senders")
	duration := flag.Duration("duration", 10*time.Second, "how long to send")
	corpus := flag.String("write-corpus", "", "instead of sending: write every capture as a protobuf request into this folder (the fuzz seed corpus)")
	flag.Parse()

	if *corpus != "" {
		if err := writeCorpus(*captures, *corpus); err != nil {
			fmt.Fprintln(os.Stderr, "loadgen:", err)
			os.Exit(1)
		}
		return
	}

	body, err := buildRequest(*captures, *records, *service)
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

// buildRequest reads every capture's logs.json and repeats their records,
// in order, until there are n, under the first capture's resource and scope.
func buildRequest(dir string, n int, service string) ([]byte, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "logs.json"))
	if err != nil || len(paths) == 0 {
		return nil, fmt.Errorf("no captures under %s", dir)
	}
	sort.Strings(paths)
	var sources []plog.LogRecordSlice
	out := plog.NewLogs()
	rl := out.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	var u plog.JSONUnmarshaler
	for i, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		ld, err := u.UnmarshalLogs(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		if i == 0 {
			ld.ResourceLogs().At(0).Resource().CopyTo(rl.Resource())
			ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().CopyTo(sl.Scope())
		}
		for _, r := range ld.ResourceLogs().All() {
			for _, s := range r.ScopeLogs().All() {
				sources = append(sources, s.LogRecords())
			}
		}
	}
	rl.Resource().Attributes().PutStr("service.name", service)
	for sl.LogRecords().Len() < n {
		for _, recs := range sources {
			for _, r := range recs.All() {
				if sl.LogRecords().Len() == n {
					break
				}
				r.CopyTo(sl.LogRecords().AppendEmpty())
			}
		}
	}
	var m plog.ProtoMarshaler
	return m.MarshalLogs(out)
}

// writeCorpus writes each capture's logs.json as protobuf request bytes.
func writeCorpus(dir, out string) error {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "logs.json"))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return err
	}
	var u plog.JSONUnmarshaler
	var m plog.ProtoMarshaler
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		ld, err := u.UnmarshalLogs(raw)
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
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
