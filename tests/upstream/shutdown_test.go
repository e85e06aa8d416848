package upstream

// Issue 27: SIGTERM does not stop the gateway while Elasticsearch refuses.

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

func oneRecord(id string) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	lr := rl.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty()
	lr.SetTimestamp(1)
	lr.Body().SetStr(id)
	return ld
}

// deliverQueue opens the queue in dir with the shipped exporter pointed at
// a healthy Elasticsearch and waits until it indexed id (5 s at most when
// the record is expected, 1.5 s when not).
func deliverQueue(t *testing.T, dir, id string, expected bool) *fakeES {
	t.Helper()
	es := newFakeES(t, "ok")
	fs, exp, _ := startShippedGateway(t, es.URL, dir, nil)
	wait := 1500 * time.Millisecond
	if expected {
		wait = 5 * time.Second
	}
	eventually(wait, func() bool { return es.count(id) > 0 })
	time.Sleep(300 * time.Millisecond) // a second copy would show up by now
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Errorf("shutdown of the restarted exporter: %v", err)
	}
	_ = fs.Shutdown(context.Background())
	return es
}

// The shipped exporter with its API key revoked (401 on every bulk request,
// which retry_on_status retries): Shutdown neither returns nor honours its
// context's deadline while the bulk request is being retried. The queue's
// consumers and the export run under context.Background(), the transport's
// retry loop waits on that context only, and the queue's Shutdown waits for
// its workers without a deadline. Meanwhile the acknowledged record is safe
// on disk: a copy of the queue file taken during the hang (what a kill -9
// leaves behind) delivers it, once, to a working Elasticsearch.
func TestShutdownHangsWhileElasticsearchRefusesAndRecordStaysQueued(t *testing.T) {
	es := newFakeES(t, "unauthorized")
	dir := t.TempDir()
	fs, exp, _ := startShippedGateway(t, es.URL, dir, nil)

	if err := exp.ConsumeLogs(context.Background(), oneRecord("rec-1")); err != nil {
		t.Fatalf("record refused: %v", err)
	}
	if !eventually(5*time.Second, func() bool { return es.attempts.Load() >= 3 }) {
		t.Fatalf("exporter did not retry the bulk request: %d attempts", es.attempts.Load())
	}

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- exp.Shutdown(ctx) }()
	before := es.attempts.Load()
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned (%v) while Elasticsearch refuses: the hang is gone upstream", err)
	case <-time.After(3 * time.Second):
	}
	if after := es.attempts.Load(); after <= before {
		t.Fatalf("no bulk attempts during shutdown (%d -> %d)", before, after)
	}
	t.Logf("Shutdown with a 1 s deadline still running after 3 s; %d bulk attempts during it", es.attempts.Load()-before)

	// kill -9 now: the file as it is on disk; a restart delivers the record.
	restartDir := t.TempDir()
	copyFile(t, queueFile(dir, exporterID), queueFile(restartDir, exporterID))
	es2 := deliverQueue(t, restartDir, "rec-1", true)
	if n := es2.count("rec-1"); n != 1 {
		t.Fatalf("after the restart rec-1 was indexed %d times, want 1", n)
	}

	// Let the hung exporter finish (the key works again) so the test stops
	// what it started.
	es.setMode("ok")
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("Shutdown did not return even after Elasticsearch accepted")
	}
	_ = fs.Shutdown(context.Background())
}

// With a finite `timeout` the exporter gives up on a hung Elasticsearch
// (flushBulkIndexer's context deadline) and returns an ordinary error; the
// persistent queue then deletes the acknowledged item ("Exporting failed.
// Dropping data."): the record is not in the queue at the next start. A
// finite timeout is therefore no way out of the shutdown hang.
func TestFiniteTimeoutDropsAcknowledgedRecordFromPersistentQueue(t *testing.T) {
	es := newFakeES(t, "hang")
	dir := t.TempDir()
	fs, exp, logs := startShippedGateway(t, es.URL, dir, map[string]any{"timeout": "500ms"})

	if err := exp.ConsumeLogs(context.Background(), oneRecord("rec-2")); err != nil {
		t.Fatalf("record refused: %v", err)
	}
	if !eventually(5*time.Second, func() bool { return logs.FilterMessage("Exporting failed. Dropping data.").Len() > 0 }) {
		t.Fatalf("the exporter did not give up within 5 s")
	}
	if err := exp.Shutdown(context.Background()); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	_ = fs.Shutdown(context.Background())
	entry := logs.FilterMessage("Exporting failed. Dropping data.").All()[0]
	t.Logf("logged: %s %v", entry.Message, entry.ContextMap()["error"])

	es2 := deliverQueue(t, dir, "rec-2", false)
	if n := es2.count("rec-2"); n != 0 {
		t.Fatalf("rec-2 was still queued (indexed %d times after the restart)", n)
	}
}

// The workaround: a process that, once asked to stop, exits after a grace
// period whether or not the exporter's Shutdown returned. The child process
// below is the gateway's exporter and queue with that watchdog (SIGTERM ->
// Shutdown, and os.Exit 1 s later). Elasticsearch refuses (401); SIGTERM;
// the process is gone within the grace period; the next start on the same
// queue directory indexes the acknowledged record exactly once.
func TestWatchdogExitOnSigtermKeepsRecordQueued(t *testing.T) {
	es := newFakeES(t, "unauthorized")
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperGatewayProcess$", "-test.count=1")
	cmd.Env = append(os.Environ(), "UPSTREAM_HELPER_ES="+es.URL, "UPSTREAM_HELPER_DIR="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start helper: %v", err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })

	ready := false
	deadline := time.After(10 * time.Second)
	for !ready {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("helper ended before acknowledging")
			}
			ready = strings.HasPrefix(l, "acknowledged")
		case <-deadline:
			t.Fatalf("helper did not acknowledge within 10 s")
		}
	}
	if !eventually(5*time.Second, func() bool { return es.attempts.Load() >= 3 }) {
		t.Fatalf("helper did not retry the bulk request")
	}

	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	go func() {
		for range lines {
		}
	}()
	select {
	case <-exited:
		t.Logf("helper exited %v after SIGTERM", time.Since(start).Round(10*time.Millisecond))
	case <-time.After(5 * time.Second):
		t.Fatalf("helper still running 5 s after SIGTERM")
	}

	es2 := deliverQueue(t, dir, "rec-3", true)
	if n := es2.count("rec-3"); n != 1 {
		t.Fatalf("after the restart rec-3 was indexed %d times, want 1", n)
	}
}

// TestHelperGatewayProcess is the child process of
// TestWatchdogExitOnSigtermKeepsRecordQueued; it does nothing in a normal
// run.
func TestHelperGatewayProcess(t *testing.T) {
	esURL, dir := os.Getenv("UPSTREAM_HELPER_ES"), os.Getenv("UPSTREAM_HELPER_DIR")
	if esURL == "" || dir == "" {
		t.Skip("helper process of TestWatchdogExitOnSigtermKeepsRecordQueued")
	}
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	fs, exp, _ := startShippedGateway(t, esURL, dir, nil)
	if err := exp.ConsumeLogs(context.Background(), oneRecord("rec-3")); err != nil {
		t.Fatalf("record refused: %v", err)
	}
	os.Stdout.WriteString("acknowledged\n")
	<-sig
	// The watchdog: armed when shutdown starts, fires if it has not ended.
	time.AfterFunc(time.Second, func() {
		os.Stdout.WriteString("shutdown grace period exceeded, exiting; unfinished items stay in the queue\n")
		os.Exit(0)
	})
	_ = exp.Shutdown(context.Background())
	_ = fs.Shutdown(context.Background())
	os.Exit(0)
}
