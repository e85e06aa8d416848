package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.uber.org/zap"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// sealing writes the seals of a logs processor with a signing key (README
// "Tamper evidence"). The Rust transform appends a request's seal to the
// request and leaves it pending; it is settled once the next consumer (the
// exporter's sending queue) took the request, or refused it, so the chain
// never has a gap the gateway made. One request is sealed at a time: the
// lock is taken when the processor's function starts and released by
// ConsumeLogs, which processorhelper calls next, or by abandon when the
// function fails. It also writes a heartbeat seal when nothing was sealed
// for the seal interval, and the closing seal at shutdown, while the
// exporters still run.
type sealing struct {
	mu       sync.Mutex
	core     *core
	next     consumer.Logs
	interval time.Duration
	stop     chan struct{}
	done     chan struct{}
}

var _ consumer.Logs = (*sealing)(nil)

func newSealing(c *core, next consumer.Logs) *sealing {
	return &sealing{core: c, next: next, interval: c.cfg.Signing.interval()}
}

// Capabilities are the next consumer's.
func (s *sealing) Capabilities() consumer.Capabilities { return s.next.Capabilities() }

// begin is called when the processor's function starts.
func (s *sealing) begin() { s.mu.Lock() }

// abandon is called when the processor's function fails: the request (and
// its seal) is not handed on.
func (s *sealing) abandon() {
	s.core.transformer.SettleSeal(false)
	s.mu.Unlock()
}

// ConsumeLogs hands the sealed request on and settles its seal.
func (s *sealing) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	err := s.next.ConsumeLogs(ctx, ld)
	s.core.transformer.SettleSeal(err == nil)
	s.mu.Unlock()
	return err
}

// start runs the heartbeat: a few times per interval, a seal is written if
// none was for the interval (the Rust library decides).
func (s *sealing) start() {
	s.stop, s.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.done)
		tick := time.NewTicker(max(s.interval/4, time.Millisecond))
		defer tick.Stop()
		for {
			select {
			case <-s.stop:
				return
			case <-tick.C:
				if err := s.write(context.Background(), cffi.SealHeartbeat); err != nil {
					s.core.logger.Warn("cowork_ecs could not write a heartbeat seal; the next seal follows the last one written",
						zap.Error(err))
				}
			}
		}
	}()
}

// shutdown stops the heartbeat and writes the closing seal.
func (s *sealing) shutdown(ctx context.Context) error {
	if s.stop == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.stop = nil
	if err := s.write(ctx, cffi.SealClosing); err != nil {
		s.core.logger.Error("cowork_ecs could not write the closing seal; verify will report the chain as ended without it",
			zap.Error(err))
		return nil
	}
	s.core.logger.Info("cowork_ecs wrote the closing seal of its chain")
	return nil
}

// write makes a seal without records of kind and hands it on.
func (s *sealing) write(ctx context.Context, kind cffi.SealKind) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	raw, err := s.core.transformer.Seal(kind)
	if err != nil || raw == nil {
		return err
	}
	var u plog.ProtoUnmarshaler
	ld, err := u.UnmarshalLogs(raw)
	if err != nil {
		s.core.transformer.SettleSeal(false)
		return fmt.Errorf("cowork-ecs: unmarshal seal: %w", err)
	}
	err = s.next.ConsumeLogs(ctx, ld)
	s.core.transformer.SettleSeal(err == nil)
	return err
}
