package coworkecsprocessor

import (
	"context"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumererror"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadatatest"
)

// fakeFilesystem is a filesystem whose free space a test sets.
type fakeFilesystem struct {
	size      uint64
	available atomic.Uint64
	reads     atomic.Int64
}

func (f *fakeFilesystem) stat(string) (filesystem, error) {
	f.reads.Add(1)
	return filesystem{size: f.size, available: f.available.Load()}, nil
}

func guardConfig(t *testing.T) QueueGuardConfig {
	cfg := defaultQueueGuard()
	cfg.Directory = t.TempDir()
	cfg.CheckInterval = 10 * time.Millisecond
	cfg.BallastMiB = 0
	return cfg
}

func TestQueueGuardReserveIsTheLargerOfMiBAndPercent(t *testing.T) {
	cfg := defaultQueueGuard() // 256 MiB, 5 %
	assert.Equal(t, uint64(256*mib), cfg.reserve(filesystem{size: 1 << 30}), "1 GiB: 5 % is 51 MiB, 256 MiB wins")
	assert.Equal(t, uint64(100<<30)/20, cfg.reserve(filesystem{size: 100 << 30}), "100 GiB: 5 % is 5 GiB")
}

func TestQueueGuardRefusesAtTheReserveAndResumesByItself(t *testing.T) {
	fs := &fakeFilesystem{size: 1 << 30}
	fs.available.Store(300 * mib)
	core, logs := observer.New(zapcore.InfoLevel)
	g, err := acquireQueueGuardWith(guardConfig(t), zap.New(core), fs.stat)
	require.NoError(t, err)
	defer g.release()

	var wantRefused atomic.Int64
	admit := func(items int) error {
		err := g.admit(items)
		if err != nil {
			wantRefused.Add(int64(items))
		}
		return err
	}
	require.NoError(t, admit(100), "300 MiB free, 256 MiB reserve")
	fs.available.Store(255 * mib)
	require.Eventually(t, func() bool { return admit(1) != nil }, 5*time.Second, 5*time.Millisecond)
	for range 50 {
		require.ErrorIs(t, admit(10), errQueueFilesystemFull)
	}
	fs.available.Store(287 * mib) // above the reserve, not yet above an eighth more
	time.Sleep(50 * time.Millisecond)
	require.ErrorIs(t, admit(1), errQueueFilesystemFull, "not let in and out at the reserve")
	fs.available.Store(289 * mib) // someone freed space: no restart needed
	require.Eventually(t, func() bool { return admit(1) == nil }, 5*time.Second, 5*time.Millisecond)

	started := logs.FilterMessageSnippet("down to its reserve").All()
	assert.Len(t, started, 1, "one line when it starts refusing")
	resumed := logs.FilterMessageSnippet("accepting new data").All()
	require.Len(t, resumed, 1)
	stillRefusing := logs.FilterMessageSnippet("still refusing").All()
	var refused int64
	for _, e := range append(append(stillRefusing, resumed...), started...) {
		refused += int64(e.ContextMap()["refused_items"].(uint64))
	}
	assert.Equal(t, wantRefused.Load(), refused, "every refused item is in the log lines")
	assert.LessOrEqual(t, len(stillRefusing), int(fs.reads.Load()), "at most one line per reading")
}

// Between two readings a burst is counted at bytes_per_record per item: the
// guard refuses once that estimate reaches the reserve, not a whole interval
// of writes later (the end-to-end test met the overshoot on a busy machine).
func TestQueueGuardRefusesABurstAtItsEstimateBeforeTheNextReading(t *testing.T) {
	fs := &fakeFilesystem{size: 1 << 30}
	fs.available.Store(256*mib + 10*2048) // room for 10 records above the reserve
	cfg := guardConfig(t)
	cfg.CheckInterval = time.Hour // no reading during the burst
	core, logs := observer.New(zapcore.InfoLevel)
	g, err := acquireQueueGuardWith(cfg, zap.New(core), fs.stat)
	require.NoError(t, err)
	defer g.release()

	require.NoError(t, g.admit(6))
	require.NoError(t, g.admit(4), "exactly at the reserve")
	require.ErrorIs(t, g.admit(1), errQueueFilesystemFull)
	require.ErrorIs(t, g.admit(1), errQueueFilesystemFull, "refusing until the next reading")

	// The next reading says the burst took less than estimated, but the
	// free space is not above the reserve plus an eighth: still refusing.
	g.record(filesystem{size: 1 << 30, available: 256*mib + 5*2048})
	require.ErrorIs(t, g.admit(1), errQueueFilesystemFull)
	// Room again: accepting, and the refusal and its end are both logged
	// with what was refused.
	g.record(filesystem{size: 1 << 30, available: 300 * mib})
	g.logTransition(filesystem{size: 1 << 30, available: 300 * mib})
	require.NoError(t, g.admit(1))
	started := logs.FilterMessageSnippet("down to its reserve").All()
	require.Len(t, started, 1)
	assert.EqualValues(t, 3, started[0].ContextMap()["refused_items"])
	assert.Equal(t, 1, logs.FilterMessageSnippet("accepting new data").Len())
}

func TestQueueGuardSaysHowManyRecordsFitAndWarnsWhenQueueSizePromisesMore(t *testing.T) {
	fs := &fakeFilesystem{size: 10 << 30}
	fs.available.Store(2<<30 + 512*mib) // 2.5 GiB free, 512 MiB reserve (5 % of 10 GiB)
	cfg := guardConfig(t)
	cfg.QueueSize, cfg.BytesPerRecord = 2_000_000, 2048
	core, logs := observer.New(zapcore.InfoLevel)
	g, err := acquireQueueGuardWith(cfg, zap.New(core), fs.stat)
	require.NoError(t, err)
	g.release()

	sizing := logs.FilterMessageSnippet("sizing of the").All()
	require.Len(t, sizing, 1)
	assert.EqualValues(t, 1<<20, sizing[0].ContextMap()["records_that_fit"], "2 GiB above the reserve / 2 KiB")
	warn := logs.FilterMessageSnippet("promises more records").All()
	require.Len(t, warn, 1)
	assert.Equal(t, zapcore.WarnLevel, warn[0].Level)

	cfg.QueueSize = 1 << 20
	core, logs = observer.New(zapcore.InfoLevel)
	g, err = acquireQueueGuardWith(cfg, zap.New(core), fs.stat)
	require.NoError(t, err)
	g.release()
	assert.Zero(t, logs.FilterMessageSnippet("promises more records").Len(), "a queue_size that fits")
}

func TestQueueGuardIsSharedByTheProcessorsOfOneDirectory(t *testing.T) {
	fs := &fakeFilesystem{size: 1 << 30}
	fs.available.Store(1 << 29)
	cfg := guardConfig(t)
	a, err := acquireQueueGuardWith(cfg, zap.NewNop(), fs.stat)
	require.NoError(t, err)
	b, err := acquireQueueGuardWith(cfg, zap.NewNop(), fs.stat)
	require.NoError(t, err)
	assert.Same(t, a, b)
	a.release()
	select {
	case <-b.done:
		t.Fatal("stopped while a processor still uses it")
	default:
	}
	b.release()
	<-b.done
}

// Something else eats the reserve: the ballast is deleted (its room goes to
// the queue's bookkeeping) and allocated again once there is room for it.
func TestQueueGuardReleasesItsBallastWhenSomethingElseEatsTheReserve(t *testing.T) {
	fs := &fakeFilesystem{size: 1 << 30}
	fs.available.Store(400 * mib)
	cfg := guardConfig(t)
	cfg.BallastMiB = 64
	ballast := filepath.Join(cfg.Directory, BallastFile)
	core, logs := observer.New(zapcore.InfoLevel)
	g, err := acquireQueueGuardWith(cfg, zap.New(core), fs.stat)
	require.NoError(t, err)
	defer g.release()
	st, err := os.Stat(ballast)
	require.NoError(t, err, "allocated at start: 400 MiB free, 256 MiB reserve + 64 MiB")
	assert.EqualValues(t, 64*mib, st.Size())

	fs.available.Store(200 * mib) // the queue itself at its reserve: the ballast stays
	require.Eventually(t, func() bool { return g.admit(1) != nil }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.FileExists(t, ballast)

	fs.available.Store(0) // another program filled the filesystem
	require.Eventually(t, func() bool { _, err := os.Stat(ballast); return os.IsNotExist(err) }, 5*time.Second, 5*time.Millisecond)
	require.Eventually(t, func() bool { return logs.FilterMessageSnippet("released the ballast").Len() == 1 },
		5*time.Second, 5*time.Millisecond, "logged once, after the file is gone")
	require.Error(t, g.admit(1), "still refusing")

	fs.available.Store(290 * mib) // room again (above the reserve + 1/8), but not for the ballast above the reserve
	require.Eventually(t, func() bool { return g.admit(1) == nil }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(50 * time.Millisecond)
	assert.NoFileExists(t, ballast)
	fs.available.Store(321 * mib)
	require.Eventually(t, func() bool { _, err := os.Stat(ballast); return err == nil }, 5*time.Second, 5*time.Millisecond)
}

func TestQueueGuardAdoptsTheBallastOfAPreviousRun(t *testing.T) {
	fs := &fakeFilesystem{size: 1 << 30}
	fs.available.Store(200 * mib) // no room for a new one, no cause to release it
	cfg := guardConfig(t)
	cfg.BallastMiB = 1
	require.NoError(t, allocate(filepath.Join(cfg.Directory, BallastFile), mib))
	g, err := acquireQueueGuardWith(cfg, zap.NewNop(), fs.stat)
	require.NoError(t, err)
	defer g.release()
	assert.True(t, g.ballast)
}

func TestQueueGuardRefusesAnUnreadableDirectoryAtStart(t *testing.T) {
	cfg := defaultQueueGuard()
	cfg.Directory = filepath.Join(t.TempDir(), "missing", "queue")
	_, err := acquireQueueGuard(cfg, zap.NewNop())
	require.ErrorContains(t, err, "queue_guard.directory")
	require.ErrorContains(t, err, cfg.Directory)
}

// The processor, with the real Rust library and the real filesystem of a
// temporary directory: a reserve larger than any disk refuses every batch
// with a retryable (not permanent) error and passes nothing on; the
// refusal is counted in the collector's telemetry.
func TestProcessorRefusesRetryablyWhileTheQueueFilesystemIsAtItsReserve(t *testing.T) {
	in := readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))
	items := in.LogRecordCount()

	cfg := createDefaultConfig().(*Config)
	cfg.QueueGuard.Directory = t.TempDir()
	cfg.QueueGuard.ReservePercent = 0
	cfg.QueueGuard.ReserveMiB = 1 << 40 // an exbibyte: no filesystem here has it
	tt := componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, tt.Shutdown(context.Background())) })
	sink := new(consumertest.LogsSink)
	p, err := NewFactory().CreateLogs(context.Background(), metadatatest.NewSettings(tt), cfg, sink)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))
	t.Cleanup(func() { require.NoError(t, p.Shutdown(context.Background())) })

	err = p.ConsumeLogs(context.Background(), in)
	require.ErrorIs(t, err, errQueueFilesystemFull)
	assert.False(t, consumererror.IsPermanent(err), "the receiver must answer a retryable status")
	assert.Empty(t, sink.AllLogs())
	metadatatest.AssertEqualProcessorCoworkEcsQueueGuardRefused(t, tt,
		[]metricdata.DataPoint[int64]{{Value: int64(items)}}, metricdatatest.IgnoreTimestamp())
	metadatatest.AssertEqualProcessorCoworkEcsQueueGuardReserve(t, tt,
		[]metricdata.DataPoint[int64]{{Value: 1 << 60}}, metricdatatest.IgnoreTimestamp()) // 2^40 MiB

	// The same directory with the reserve the filesystem has: it passes.
	cfg = createDefaultConfig().(*Config)
	cfg.QueueGuard.Directory, cfg.QueueGuard.ReserveMiB, cfg.QueueGuard.ReservePercent = t.TempDir(), 0, 0
	sink = new(consumertest.LogsSink)
	p2 := newProcessor(t, cfg, sink)
	require.NoError(t, p2.ConsumeLogs(context.Background(), readLogs(t, filepath.Join(testdata, "cowork", "events.otlp.json"))))
	require.Len(t, sink.AllLogs(), 1)
	assert.Equal(t, items, sink.AllLogs()[0].LogRecordCount())
}
