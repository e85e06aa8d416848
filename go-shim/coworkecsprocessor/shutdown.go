package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"go.uber.org/zap"
)

// The collector's shutdown waits without a deadline for every export in
// flight, and the elasticsearch exporter retries a bulk request (under
// context.Background, with the shipped gateways' `timeout: 0s` and 10⁸
// retries) until Elasticsearch answers: a SIGTERM while the cluster is
// down, hung or refusing the gateway's key never ends (issue 27;
// tests/upstream/FINDINGS.md, part B). A finite timeout or retry count
// would make the queue drop acknowledged records, so instead the process
// exits once shutdown_timeout has passed after SIGTERM or SIGINT: to the
// persistent queue that is a crash, which it survives (its transactions are
// atomic, an item being exported stays in its dispatched list and is
// delivered again after the next start, and document ids make the replay
// one document).

// exitProcess ends the process; a test replaces it.
var exitProcess = os.Exit

// shutdownWatchdog is the one watchdog of the process: the processors of
// every pipeline arm it with their settings (the last start wins), and the
// first SIGTERM or SIGINT starts its clock.
var shutdownWatchdog struct {
	once     sync.Once
	mu       sync.Mutex
	timeout  time.Duration
	logger   *zap.Logger
	queueDir string
}

// armShutdownWatchdog makes the process exit at most timeout after it is
// asked to stop (SIGTERM, SIGINT), whatever the exporters are doing; 0
// leaves the collector's own shutdown alone. queueDir (may be empty) is
// the persistent queue's directory, whose files the last log line lists.
func armShutdownWatchdog(timeout time.Duration, logger *zap.Logger, queueDir string) {
	if timeout <= 0 {
		return
	}
	w := &shutdownWatchdog
	w.mu.Lock()
	w.timeout, w.logger, w.queueDir = timeout, logger, queueDir
	w.mu.Unlock()
	w.once.Do(func() {
		signals := make(chan os.Signal, 1)
		signal.Notify(signals, syscall.SIGTERM, os.Interrupt)
		go func() {
			sig := <-signals
			w.mu.Lock()
			timeout, logger, queueDir := w.timeout, w.logger, w.queueDir
			w.mu.Unlock()
			logger.Info("cowork_ecs: stopping; the collector exits within shutdown_timeout whatever Elasticsearch does",
				zap.String("signal", sig.String()), zap.Duration("shutdown_timeout", timeout))
			time.Sleep(timeout)
			logger.Warn("cowork_ecs: the collector did not stop within shutdown_timeout (an export in flight: "+
				"Elasticsearch down, hung or refusing); exiting now. What was acknowledged and not yet indexed stays "+
				"in the persistent queue and is delivered after the next start, once (the queue logs it then as "+
				"\"Loaded queue metadata\": itemsSize, dispatchedItems)",
				zap.Duration("shutdown_timeout", timeout), zap.Any("queue_files", queueFiles(queueDir)))
			_ = logger.Sync()
			exitProcess(0)
		}()
	})
}

// queueFiles lists the files of the queue's directory with their sizes in
// bytes (nil when there is no directory or it cannot be read).
func queueFiles(dir string) map[string]int64 {
	if dir == "" {
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	files := map[string]int64{}
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			files[filepath.Base(e.Name())] = info.Size()
		}
	}
	return files
}
