package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"
	"golang.org/x/sys/unix"
)

const mib = 1 << 20

var (
	// errQueueFilesystemFull is what a refused batch returns: not a
	// permanent error, so the otlp receiver answers HTTP 503 / gRPC
	// UNAVAILABLE and the sender retries.
	errQueueFilesystemFull = errors.New("the persistent queue's filesystem is down to its reserve; retry later")
	errQueueGuardConfig    = errors.New("queue_guard")
)

// QueueGuardConfig keeps the persistent sending queue's filesystem from
// running out (README "Delivery guarantee", "A full disk"). The collector's
// persistent queue over file_storage can lose or strand acknowledged
// records when a write of its store fails with ENOSPC
// (tests/upstream/FINDINGS.md), so the processor refuses new data with a
// retryable error while the free space of the filesystem holding Directory
// is below the reserve: max(ReserveMiB, ReservePercent of its size). The
// store keeps that room for its own bookkeeping (deleting delivered items,
// compaction). Go-only: the Rust transform never sees it.
type QueueGuardConfig struct {
	// Directory is the persistent queue's directory (file_storage's
	// directory). Empty: no guard.
	Directory string `mapstructure:"directory"`
	// ReserveMiB is the least free space kept on its filesystem, in MiB
	// (default 256).
	ReserveMiB uint64 `mapstructure:"reserve_mib"`
	// ReservePercent is the least free space kept, in percent of the
	// filesystem's size (default 5). The reserve is the larger of the two.
	ReservePercent float64 `mapstructure:"reserve_percent"`
	// CheckInterval is how often the free space is read (default 1s); a
	// refusal is logged at most once per interval.
	CheckInterval time.Duration `mapstructure:"check_interval"`
	// QueueSize is the exporter's sending_queue.queue_size, in records:
	// at start the processor warns when it promises more records than fit
	// above the reserve. 0: not checked.
	QueueSize uint64 `mapstructure:"queue_size"`
	// BytesPerRecord is the average number of bytes one queued record takes
	// in the queue's files, for that estimate (default 2048; README
	// "Delivery guarantee" says how it was measured).
	BytesPerRecord uint64 `mapstructure:"bytes_per_record"`
	// BallastMiB is the size of a file (BallastFile in Directory) the guard
	// allocates while there is room and deletes when something else eats
	// the reserve (free space below half of it): the queue's store then
	// still has room to deliver and delete what it holds while new data is
	// refused. 0: no ballast (default 64).
	BallastMiB uint64 `mapstructure:"ballast_mib"`
}

// BallastFile is the name of the guard's ballast file in the queue's
// directory.
const BallastFile = "cowork-ecs-ballast"

// Default queue guard settings (README "Configuration reference").
const (
	defaultReserveMiB     = 256
	defaultReservePercent = 5
	defaultCheckInterval  = time.Second
	defaultBytesPerRecord = 2048
	defaultBallastMiB     = 64
)

func defaultQueueGuard() QueueGuardConfig {
	return QueueGuardConfig{
		ReserveMiB: defaultReserveMiB, ReservePercent: defaultReservePercent,
		CheckInterval: defaultCheckInterval, BytesPerRecord: defaultBytesPerRecord, BallastMiB: defaultBallastMiB,
	}
}

// Validate checks the settings that do not need the filesystem; the
// directory itself is read at start (file_storage creates it then).
func (c QueueGuardConfig) Validate() error {
	switch {
	case c.Directory == "":
		return nil
	case c.ReservePercent < 0 || c.ReservePercent >= 100:
		return fmt.Errorf("%w.reserve_percent %v: use 0 <= percent < 100", errQueueGuardConfig, c.ReservePercent)
	case c.CheckInterval <= 0:
		return fmt.Errorf("%w.check_interval %v: must be positive", errQueueGuardConfig, c.CheckInterval)
	case c.BytesPerRecord == 0:
		return fmt.Errorf("%w.bytes_per_record: must be positive", errQueueGuardConfig)
	}
	return nil
}

// filesystem is one reading of the filesystem holding the queue: its size
// and the bytes an unprivileged writer may still use.
type filesystem struct {
	size, available uint64
}

func statFilesystem(dir string) (filesystem, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return filesystem{}, err
	}
	bsize := uint64(st.Bsize) //nolint:gosec // a block size is positive
	return filesystem{size: st.Blocks * bsize, available: st.Bavail * bsize}, nil
}

// reserve is the free space the guard keeps, in bytes.
func (c QueueGuardConfig) reserve(fs filesystem) uint64 {
	return max(c.ReserveMiB*mib, uint64(float64(fs.size)*c.ReservePercent/100))
}

// queueGuard reads the free space of one queue directory every
// CheckInterval, in a goroutine of its own, and says whether new data may
// pass. The processors of the three signals share one guard per
// configuration (their queues live in the same directory), so the
// filesystem is read and a refusal logged once per interval, not once per
// pipeline.
type queueGuard struct {
	cfg    QueueGuardConfig
	logger *zap.Logger
	stat   func(string) (filesystem, error)

	full      atomic.Bool
	available atomic.Uint64
	reserved  atomic.Uint64
	admitted  atomic.Uint64 // items passed since the last reading
	refused   atomic.Uint64 // items refused since the last log line

	// announced: the refusal's first line was logged and its end not yet.
	// Owned by the guard's goroutine after start.
	announced bool

	// ballast: whether the ballast file is allocated; ballastErr: the last
	// allocation failed (logged once). Owned by the guard's goroutine after
	// start.
	ballast    bool
	ballastErr bool

	refs int // guarded by guards.mu
	stop chan struct{}
	done chan struct{}
}

// guards are the running guards by configuration.
var guards = struct {
	sync.Mutex
	byConfig map[QueueGuardConfig]*queueGuard
}{byConfig: map[QueueGuardConfig]*queueGuard{}}

// acquireQueueGuard returns the running guard of cfg, starting it (one
// synchronous reading, so the first batch is judged on a real one) if no
// processor runs it yet; nil when cfg has no directory. An unreadable
// directory is an error: the collector does not start.
func acquireQueueGuard(cfg QueueGuardConfig, logger *zap.Logger) (*queueGuard, error) {
	return acquireQueueGuardWith(cfg, logger, statFilesystem)
}

func acquireQueueGuardWith(cfg QueueGuardConfig, logger *zap.Logger, stat func(string) (filesystem, error)) (*queueGuard, error) {
	if cfg.Directory == "" {
		return nil, nil
	}
	guards.Lock()
	defer guards.Unlock()
	if g, ok := guards.byConfig[cfg]; ok {
		g.refs++
		return g, nil
	}
	g := &queueGuard{cfg: cfg, logger: logger, stat: stat, refs: 1, stop: make(chan struct{}), done: make(chan struct{})}
	fs, err := stat(cfg.Directory)
	if err != nil {
		return nil, fmt.Errorf("%w.directory %q: cannot read its filesystem: %w", errQueueGuardConfig, cfg.Directory, err)
	}
	g.adoptBallast()
	fs = g.tendBallast(fs)
	g.record(fs)
	g.logSizing(fs)
	guards.byConfig[cfg] = g
	go g.run()
	return g, nil
}

// release stops the guard when its last processor shuts down.
func (g *queueGuard) release() {
	if g == nil {
		return
	}
	guards.Lock()
	g.refs--
	last := g.refs == 0
	if last {
		delete(guards.byConfig, g.cfg)
	}
	guards.Unlock()
	if last {
		close(g.stop)
		<-g.done
	}
}

// admit is the hot path: nil while the filesystem is above its reserve,
// else errQueueFilesystemFull (items are counted for the next log line).
// Between two readings the guard counts what it passed at BytesPerRecord
// each and refuses as soon as that estimate reaches the reserve, so a burst
// cannot overshoot the reserve by a whole interval of writes; the next
// reading replaces the estimate with the filesystem's own figure.
func (g *queueGuard) admit(items int) error {
	if g == nil {
		return nil
	}
	n := uint64(items) //nolint:gosec // a count is not negative
	if !g.full.Load() {
		estimate := g.admitted.Add(n) * g.cfg.BytesPerRecord
		if estimate+g.reserved.Load() <= g.available.Load() {
			return nil
		}
		g.full.Store(true)
	}
	g.refused.Add(n)
	return errQueueFilesystemFull
}

// record stores a reading: it replaces the estimate of admit. A guard that
// refuses accepts again only once the free space is back above the reserve
// plus an eighth of it (resumeAbove), so a queue at its reserve is not let
// in and out every interval.
func (g *queueGuard) record(fs filesystem) {
	reserve := g.cfg.reserve(fs)
	threshold := reserve
	if g.full.Load() {
		threshold = resumeAbove(reserve)
	}
	g.available.Store(fs.available)
	g.reserved.Store(reserve)
	g.admitted.Store(0)
	g.full.Store(fs.available < threshold)
}

// resumeAbove is the free space, in bytes, above which a refusing guard
// accepts again: the reserve plus an eighth of it.
func resumeAbove(reserve uint64) uint64 { return reserve + reserve/8 }

func (g *queueGuard) run() {
	defer close(g.done)
	tick := time.NewTicker(g.cfg.CheckInterval)
	defer tick.Stop()
	failing := false
	for {
		select {
		case <-g.stop:
			return
		case <-tick.C:
		}
		fs, err := g.stat(g.cfg.Directory)
		if err != nil {
			// Keep the last verdict; say so once, not every interval.
			if !failing {
				g.logger.Error("cowork_ecs queue_guard cannot read the queue's filesystem; keeping its last verdict",
					zap.String("directory", g.cfg.Directory), zap.Error(err))
			}
			failing = true
			continue
		}
		failing = false
		fs = g.tendBallast(fs)
		g.record(fs)
		g.logTransition(fs)
	}
}

// logTransition logs at most two lines per reading: when the guard starts
// refusing (on a reading or on admit's estimate since the last one), while
// it refuses (with what it refused since the last line), and when it
// accepts again.
func (g *queueGuard) logTransition(fs filesystem) {
	full := g.full.Load()
	refused := g.refused.Swap(0)
	fields := []zap.Field{
		zap.String("directory", g.cfg.Directory),
		zap.Uint64("available_mib", fs.available/mib),
		zap.Uint64("reserve_mib", g.reserved.Load()/mib),
	}
	switch {
	case !g.announced && (full || refused > 0):
		g.logger.Warn("cowork_ecs queue_guard: the persistent queue's filesystem is down to its reserve; "+
			"refusing new data with a retryable error until there is room again",
			append(fields, zap.Uint64("refused_items", refused))...)
		g.announced, refused = true, 0
	case full && refused > 0:
		g.logger.Warn("cowork_ecs queue_guard: still refusing new data (the queue's filesystem is at its reserve)",
			append(fields, zap.Uint64("refused_items", refused))...)
	}
	if !full && g.announced {
		g.logger.Info("cowork_ecs queue_guard: the queue's filesystem has room again; accepting new data",
			append(fields, zap.Uint64("refused_items", refused))...)
		g.announced = false
	}
}

func (g *queueGuard) ballastPath() string { return filepath.Join(g.cfg.Directory, BallastFile) }

// adoptBallast takes over a ballast file of the right size a previous run
// left (a restart); one of another size is removed and made anew.
func (g *queueGuard) adoptBallast() {
	st, err := os.Stat(g.ballastPath())
	if err != nil {
		return
	}
	if g.cfg.BallastMiB > 0 && st.Size() == int64(g.cfg.BallastMiB*mib) { //nolint:gosec // MiB from the config
		g.ballast = true
		return
	}
	_ = os.Remove(g.ballastPath())
}

// tendBallast deletes the ballast when something else ate half the reserve,
// and allocates it again once there is room for it above the reserve. It
// returns the filesystem as it is afterwards.
func (g *queueGuard) tendBallast(fs filesystem) filesystem {
	if g.cfg.BallastMiB == 0 {
		return fs
	}
	size := g.cfg.BallastMiB * mib
	reserve := g.cfg.reserve(fs)
	switch {
	case g.ballast && fs.available < reserve/2:
		if err := os.Remove(g.ballastPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
			g.logger.Error("cowork_ecs queue_guard cannot delete its ballast", zap.String("file", g.ballastPath()), zap.Error(err))
			return fs
		}
		g.ballast = false
		g.logger.Warn("cowork_ecs queue_guard: something else ate the queue filesystem's reserve; released the ballast "+
			"so the queue can go on delivering and deleting what it holds while new data is refused "+
			"(README \"Delivery guarantee\": keep the queue on a filesystem of its own)",
			zap.String("directory", g.cfg.Directory), zap.Uint64("available_mib", fs.available/mib),
			zap.Uint64("ballast_mib", g.cfg.BallastMiB))
	case !g.ballast && fs.available >= reserve+size:
		if err := allocate(g.ballastPath(), size); err != nil {
			_ = os.Remove(g.ballastPath())
			if !g.ballastErr {
				g.logger.Warn("cowork_ecs queue_guard cannot allocate its ballast; the queue's reserve has no ballast",
					zap.String("file", g.ballastPath()), zap.Error(err))
			}
			g.ballastErr = true
			return fs
		}
		g.ballast, g.ballastErr = true, false
		g.logger.Info("cowork_ecs queue_guard: ballast allocated", zap.String("file", g.ballastPath()),
			zap.Uint64("ballast_mib", g.cfg.BallastMiB))
	default:
		return fs
	}
	if now, err := g.stat(g.cfg.Directory); err == nil {
		return now
	}
	return fs
}

// fits is how many records of BytesPerRecord fit above the reserve.
func (g *queueGuard) fits(fs filesystem) uint64 {
	reserve := g.cfg.reserve(fs)
	if fs.available <= reserve {
		return 0
	}
	return (fs.available - reserve) / g.cfg.BytesPerRecord
}

// logSizing says at start how many records the queue's filesystem holds
// above the reserve, and warns when queue_size promises more.
func (g *queueGuard) logSizing(fs filesystem) {
	fits := g.fits(fs)
	fields := []zap.Field{
		zap.String("directory", g.cfg.Directory),
		zap.Uint64("filesystem_mib", fs.size/mib),
		zap.Uint64("available_mib", fs.available/mib),
		zap.Uint64("reserve_mib", g.cfg.reserve(fs)/mib),
		zap.Uint64("bytes_per_record", g.cfg.BytesPerRecord),
		zap.Uint64("records_that_fit", fits),
	}
	g.logger.Info("cowork_ecs queue_guard: sizing of the persistent queue's filesystem", fields...)
	if g.cfg.QueueSize > fits {
		g.logger.Warn("cowork_ecs queue_guard: the sending queue's queue_size promises more records than its filesystem "+
			"holds above the reserve; new data will be refused (retryable) when the filesystem reaches the reserve, "+
			"before the queue is full (README \"Delivery guarantee\": sizing)",
			append(fields, zap.Uint64("queue_size", g.cfg.QueueSize))...)
	}
}

// observe reports the guard's last reading to the collector's telemetry.
func (g *queueGuard) observeAvailable(_ context.Context, o metric.Int64Observer) error {
	o.Observe(int64(min(g.available.Load(), 1<<62))) //nolint:gosec // bounded above
	return nil
}

func (g *queueGuard) observeReserve(_ context.Context, o metric.Int64Observer) error {
	o.Observe(int64(min(g.reserved.Load(), 1<<62))) //nolint:gosec // bounded above
	return nil
}
