package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/client"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/processor"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// core is what the processors of the three signals share: the Rust
// transformer (one handle per processor instance), the tenant source, the
// failure counter and the error policy.
type core struct {
	cfg         *Config
	keepsAll    bool // cfg.policyKeepsAll(), computed once
	claudeNames map[string]struct{}
	logger      *zap.Logger
	transformer *cffi.Transformer
	telemetry   *metadata.TelemetryBuilder
	guard       *queueGuard // nil: no queue_guard.directory
	sealing     *sealing    // nil: not a logs processor with a signing key
}

func newCore(set processor.Settings, cfg *Config) (*core, error) {
	telemetry, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	return &core{
		cfg: cfg, keepsAll: cfg.policyKeepsAll(), claudeNames: cfg.claudeNames(),
		logger: set.Logger, telemetry: telemetry,
	}, nil
}

// start creates the Rust transformer (the config was validated already)
// and joins the queue guard of its directory.
func (p *core) start(_ context.Context, _ component.Host) error {
	raw, err := p.cfg.transformConfig()
	if err != nil {
		return err
	}
	t, err := cffi.New(raw)
	if err != nil {
		return err
	}
	p.transformer = t
	armShutdownWatchdog(p.cfg.ShutdownTimeout, p.logger, p.cfg.QueueGuard.Directory)
	if p.guard, err = acquireQueueGuard(p.cfg.QueueGuard, p.logger); err != nil {
		return err
	}
	if p.guard != nil {
		if err := p.telemetry.RegisterProcessorCoworkEcsQueueGuardAvailableCallback(p.guard.observeAvailable); err != nil {
			return err
		}
		if err := p.telemetry.RegisterProcessorCoworkEcsQueueGuardReserveCallback(p.guard.observeReserve); err != nil {
			return err
		}
	}
	p.logger.Info("cowork_ecs transform ready", zap.String("library_version", cffi.Version()),
		zap.String("library_sha256", cffi.LibraryDigest()))
	return nil
}

// shutdown frees the Rust transformer and the telemetry; safe without a
// prior start.
func (p *core) shutdown(context.Context) error {
	p.transformer.Close()
	p.transformer = nil
	p.telemetry.Shutdown()
	p.guard.release()
	p.guard = nil
	return nil
}

// admit refuses a batch of items, with a retryable error, while the queue
// guard says the persistent queue's filesystem is at its reserve.
func (p *core) admit(ctx context.Context, items int) error {
	if err := p.guard.admit(items); err != nil {
		p.telemetry.ProcessorCoworkEcsQueueGuardRefused.Add(ctx, int64(items))
		return fmt.Errorf("cowork-ecs: batch refused: %w", err)
	}
	return nil
}

// onFailure applies the error policy to a batch of items (unit: what they
// are) the transform could not process. It returns nil when the batch (as
// far as it was transformed) passes on, else the error the pipeline returns
// to the receiver. failClosed: the batch may not pass in clear whatever
// error_mode says (it is refused with a retryable error, so the sender
// keeps it and retries).
func (p *core) onFailure(ctx context.Context, err error, failClosed bool, items int, unit string) error {
	p.telemetry.ProcessorCoworkEcsTransformFailures.Add(ctx, 1,
		metric.WithAttributes(attribute.String("error_mode", string(p.cfg.ErrorMode))))
	if failClosed {
		p.logger.Error("cowork_ecs could not transform a batch it must not pass in clear; refused with a retryable error",
			zap.Error(err), zap.Int(unit, items))
		return fmt.Errorf("cowork-ecs: batch refused (fail closed): %w", err)
	}
	if errors.Is(err, cffi.ErrPanic) {
		p.logger.Error("cowork_ecs transform panicked (a bug); batch passed on untransformed unless error_mode is propagate",
			zap.Error(err), zap.Int(unit, items))
	}
	switch p.cfg.ErrorMode {
	case ErrorModePropagate:
		return err
	case ErrorModeSilent:
		return nil
	default:
		if !errors.Is(err, cffi.ErrPanic) {
			p.logger.Warn("cowork_ecs transform failed; the records it could not read passed on untransformed",
				zap.Error(err), zap.Int(unit, items))
		}
		return nil
	}
}

// contentActions is the action of every content class, by its key under
// content: every string the transform's JSON has there but the HMAC key
// settings, so a new class needs no edit here.
func contentActions(c ContentConfig) (map[string]string, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	var classes map[string]string
	if err := json.Unmarshal(raw, &classes); err != nil {
		return nil, err
	}
	delete(classes, "hmac_key")
	delete(classes, "hmac_key_file")
	return classes, nil
}

// policyKeepsAll says whether every content class and the identity policy
// are keep (then a Claude batch passed on untransformed stores nothing the
// policy would have kept out).
func (cfg *Config) policyKeepsAll() bool {
	classes, err := contentActions(cfg.Content)
	if err != nil {
		return false
	}
	for _, action := range classes {
		if action != ContentKeep {
			return false
		}
	}
	return cfg.Identity == ContentKeep
}

// mustFailClosed says whether a batch the transform could not process may
// not pass on untransformed: it comes from an authenticated tenant (whose
// routing is the gateway's), or it holds a Claude resource (hasClaude,
// asked only when it matters) and some content class is not keep. The one
// rule for every signal.
func (p *core) mustFailClosed(tenant string, hasClaude func() bool) bool {
	return tenant != "" || (!p.keepsAll && hasClaude())
}

// tenant is the sender's identity as the receiver's authenticator (or a
// configured metadata key) established it; "" when there is none. The
// context carries it only until a batch processor regroups the data, which
// is why batch must come after this processor.
func (p *core) tenant(ctx context.Context) string {
	info := client.FromContext(ctx)
	switch p.cfg.Tenant.Source {
	case TenantSourceAuth:
		if info.Auth == nil {
			return ""
		}
		switch v := info.Auth.GetAttribute(p.cfg.Tenant.Key).(type) {
		case string:
			return v
		case fmt.Stringer:
			return v.String()
		}
	case TenantSourceMetadata:
		if values := info.Metadata.Get(p.cfg.Tenant.Key); len(values) > 0 {
			return values[0]
		}
	}
	return ""
}

// roundTrip runs one batch through the Rust transform of signal: one
// marshal, one cgo call, and one unmarshal (straight from Rust's memory)
// when anything changed. Resources Rust cannot read it skips: the output
// comes with an error wrapping cffi.ErrPartial, for onFailure to judge. On
// any other error the batch is returned as it came.
func roundTrip[T any](t *cffi.Transformer, signal cffi.Signal, tenant string, batch T,
	marshal func(T) ([]byte, error), unmarshal func([]byte) (T, error),
) (T, error) {
	in, err := marshal(batch)
	if err != nil {
		return batch, fmt.Errorf("cowork-ecs: marshal batch: %w", err)
	}
	out := batch
	err = t.TransformInto(signal, tenant, in, func(raw []byte) error {
		transformed, err := unmarshal(raw)
		if err != nil {
			return fmt.Errorf("cowork-ecs: unmarshal transformed batch: %w", err)
		}
		out = transformed
		return nil
	})
	if err != nil && !errors.Is(err, cffi.ErrPartial) {
		return batch, err
	}
	return out, err
}
