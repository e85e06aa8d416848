package coworkecsprocessor

import (
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
)

// A stop that never ends (an export retrying against a cluster that does
// not answer), in a child process: the watchdog exits it, with status 0,
// shutdown_timeout after SIGTERM, and says which queue files hold what was
// left.
func TestShutdownWatchdogExitsAStopThatNeverEnds(t *testing.T) {
	if dir := os.Getenv("COWORK_ECS_TEST_WATCHDOG_QUEUE"); dir != "" {
		armShutdownWatchdog(300*time.Millisecond, zap.NewExample(), dir)
		require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
		time.Sleep(time.Minute) // the collector's shutdown, waiting for the export
		t.Fatal("the watchdog did not exit the process")
	}
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "exporter_elasticsearch__logs"), make([]byte, 4096), 0o600))
	cmd := exec.Command(os.Args[0], "-test.run=^TestShutdownWatchdogExitsAStopThatNeverEnds$", "-test.count=1")
	cmd.Env = append(os.Environ(), "COWORK_ECS_TEST_WATCHDOG_QUEUE="+dir)
	started := time.Now()
	out, err := cmd.CombinedOutput()
	elapsed := time.Since(started)
	require.NoError(t, err, "exit status 0: nothing is lost\n%s", out)
	assert.GreaterOrEqual(t, elapsed, 300*time.Millisecond)
	assert.Less(t, elapsed, 30*time.Second)
	assert.Contains(t, string(out), "did not stop within shutdown_timeout")
	assert.Contains(t, string(out), `"exporter_elasticsearch__logs":4096`)
}

func TestShutdownWatchdogIsOffByDefault(t *testing.T) {
	assert.Zero(t, createDefaultConfig().(*Config).ShutdownTimeout)
	armShutdownWatchdog(0, zap.NewNop(), "")
	shutdownWatchdog.mu.Lock()
	defer shutdownWatchdog.mu.Unlock()
	assert.Nil(t, shutdownWatchdog.logger, "0 arms nothing")
}
