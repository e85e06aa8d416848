package upstream

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// host is a component.Host that only knows extensions, which is all the
// persistent queue and the elasticsearch exporter ask of it.
type host map[component.ID]component.Component

func (h host) GetExtensions() map[component.ID]component.Component { return h }

// startFileStorage starts contrib's file_storage extension (the real bbolt
// client) on dir, with fsync as the shipped gateway has it.
func startFileStorage(t *testing.T, dir string, tweak func(*filestorage.Config)) extension.Extension {
	t.Helper()
	f := filestorage.NewFactory()
	cfg := f.CreateDefaultConfig().(*filestorage.Config)
	cfg.Directory = dir
	cfg.FSync = true
	cfg.Compaction.Directory = dir
	if tweak != nil {
		tweak(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("file_storage config: %v", err)
	}
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), cfg)
	if err != nil {
		t.Fatalf("create file_storage: %v", err)
	}
	if err := ext.Start(context.Background(), host{}); err != nil {
		t.Fatalf("start file_storage: %v", err)
	}
	return ext
}

// enospc is the error bbolt returns when the page write of a commit hits a
// full filesystem: tx.write -> (*os.File).WriteAt -> *PathError{Op: "write"}.
// The gateway logged exactly this text: "write …/exporter_elasticsearch__logs:
// no space left on device".
func enospc(path string) error {
	return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
}

// fullDisk wraps a storage extension; its clients fail, as a full
// filesystem makes bbolt fail, every Batch that writes (Set) while
// failWrites is on, and every Batch that deletes while failDeletes is on.
// A failing Batch never reaches bbolt, like a rolled-back transaction.
type fullDisk struct {
	storage.Extension
	path        string
	failWrites  atomic.Bool
	failDeletes atomic.Bool

	failedBatches atomic.Int64
	okDeletes     atomic.Int64
}

func (d *fullDisk) GetClient(ctx context.Context, kind component.Kind, id component.ID, name string) (storage.Client, error) {
	c, err := d.Extension.GetClient(ctx, kind, id, name)
	if err != nil {
		return nil, err
	}
	return &fullDiskClient{Client: c, d: d}, nil
}

type fullDiskClient struct {
	storage.Client
	d *fullDisk
}

func (c *fullDiskClient) Get(ctx context.Context, key string) ([]byte, error) {
	op := storage.GetOperation(key)
	err := c.Batch(ctx, op)
	return op.Value, err
}

func (c *fullDiskClient) Set(ctx context.Context, key string, value []byte) error {
	return c.Batch(ctx, storage.SetOperation(key, value))
}

func (c *fullDiskClient) Delete(ctx context.Context, key string) error {
	return c.Batch(ctx, storage.DeleteOperation(key))
}

func (c *fullDiskClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	var writes, deletes bool
	for _, op := range ops {
		switch op.Type {
		case storage.Set:
			writes = true
		case storage.Delete:
			deletes = true
		}
	}
	if (writes && c.d.failWrites.Load()) || (deletes && c.d.failDeletes.Load()) {
		c.d.failedBatches.Add(1)
		return enospc(c.d.path)
	}
	err := c.Client.Batch(ctx, ops...)
	if err == nil && deletes && !writes {
		c.d.okDeletes.Add(1)
	}
	return err
}

// logsOf builds one request of n log records whose bodies are
// "<prefix>-<i>", each padded to about recordBytes bytes.
func logsOf(prefix string, n, recordBytes int) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	rl.Resource().Attributes().PutStr("service.name", "claude-code")
	sl := rl.ScopeLogs().AppendEmpty()
	pad := ""
	if recordBytes > 0 {
		pad = " " + strings.Repeat("x", recordBytes)
	}
	for i := range n {
		lr := sl.LogRecords().AppendEmpty()
		lr.SetTimestamp(1)
		lr.Body().SetStr(fmt.Sprintf("%s-%d%s", prefix, i, pad))
	}
	return ld
}

// sink records the ids (body up to the first space) of delivered records.
type sink struct {
	mu   sync.Mutex
	seen map[string]int
}

func newSink() *sink { return &sink{seen: map[string]int{}} }

func (s *sink) add(ld plog.Logs) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, rl := range ld.ResourceLogs().All() {
		for _, sl := range rl.ScopeLogs().All() {
			for _, lr := range sl.LogRecords().All() {
				id, _, _ := strings.Cut(lr.Body().Str(), " ")
				s.seen[id]++
			}
		}
	}
}

func (s *sink) count(prefix string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range s.seen {
		if strings.HasPrefix(id, prefix) {
			n++
		}
	}
	return n
}

// missing counts the ids in want that were never delivered.
func (s *sink) missing(want map[string]bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id := range want {
		if s.seen[id] == 0 {
			n++
		}
	}
	return n
}

func (s *sink) total() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.seen)
}

// eventually polls cond every 10 ms until it holds or d passed.
func eventually(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return cond()
}

// observedLogger returns a logger whose entries at info and above the test
// can search.
func observedLogger() (*zap.Logger, *observer.ObservedLogs) {
	core, logs := observer.New(zapcore.InfoLevel)
	return zap.New(core), logs
}

// queueFile is the bbolt file the persistent queue of the logs signal of
// exporter id uses in dir (filestorage: <kind>_<type>_<name>_<signal>).
func queueFile(dir string, id component.ID) string {
	return filepath.Join(dir, fmt.Sprintf("exporter_%s_%s_logs", id.Type(), id.Name()))
}

// queueClient opens the storage client the logs queue of exporter id uses.
func queueClient(t *testing.T, ext extension.Extension, id component.ID) storage.Client {
	t.Helper()
	c, err := ext.(storage.Extension).GetClient(context.Background(), component.KindExporter, id, "logs")
	if err != nil {
		t.Fatalf("storage client: %v", err)
	}
	return c
}

func isENOSPC(err error) bool { return errors.Is(err, syscall.ENOSPC) }

// blocks is the space a file takes on disk, in bytes.
func blocks(fi os.FileInfo) int64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Blocks * 512
	}
	return fi.Size()
}
