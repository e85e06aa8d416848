package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"

	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// signalProcessor is the traces or the metrics processor: it runs every
// batch that needs it through the Rust transform of its signal
// (cowork_ecs_transform) in one round trip. Claude spans
// get ECS fields, and Claude spans and data points the gateway's routing and
// the content and identity policy (README "Traces and metrics"). A batch
// with no Claude resource, no authenticated tenant and no scope mapping mode
// passes on without a round trip.
type signalProcessor[T any] struct {
	*core
	signal    cffi.Signal
	unit      string // what the batch's items are, for logs
	marshal   func(T) ([]byte, error)
	unmarshal func([]byte) (T, error)
	count     func(T) int
	// scan reports whether the batch has a Claude resource and whether a
	// scope names a mapping mode.
	scan func(*core, T) (claude, mappingMode bool)
}

func (p *signalProcessor[T]) process(ctx context.Context, batch T) (T, error) {
	tenant := p.tenant(ctx)
	claude, mappingMode := p.scan(p.core, batch)
	if tenant == "" && !claude && !mappingMode {
		return batch, nil
	}
	out, err := roundTrip(p.transformer, p.signal, tenant, batch, p.marshal, p.unmarshal)
	if err == nil {
		return out, nil
	}
	failClosed := p.mustFailClosed(tenant, func() bool { return claude })
	return out, p.onFailure(ctx, err, failClosed, p.count(batch), p.unit)
}

// newSignalProcessor completes p (everything but its core) with a core.
func newSignalProcessor[T any](set processor.Settings, cfg *Config, p *signalProcessor[T]) (*signalProcessor[T], error) {
	c, err := newCore(set, cfg)
	if err != nil {
		return nil, err
	}
	p.core = c
	return p, nil
}

func newTracesProcessor(set processor.Settings, cfg *Config) (*signalProcessor[ptrace.Traces], error) {
	var m ptrace.ProtoMarshaler
	var u ptrace.ProtoUnmarshaler
	return newSignalProcessor(set, cfg, &signalProcessor[ptrace.Traces]{
		signal: cffi.Traces, unit: "spans",
		marshal: m.MarshalTraces, unmarshal: u.UnmarshalTraces, count: ptrace.Traces.SpanCount,
		scan: func(p *core, td ptrace.Traces) (claude, mappingMode bool) {
			for _, rs := range td.ResourceSpans().All() {
				claude = claude || p.isClaude(rs.Resource())
				for _, ss := range rs.ScopeSpans().All() {
					mappingMode = mappingMode || hasMappingMode(ss.Scope())
				}
			}
			return claude, mappingMode
		},
	})
}

func newMetricsProcessor(set processor.Settings, cfg *Config) (*signalProcessor[pmetric.Metrics], error) {
	var m pmetric.ProtoMarshaler
	var u pmetric.ProtoUnmarshaler
	return newSignalProcessor(set, cfg, &signalProcessor[pmetric.Metrics]{
		signal: cffi.Metrics, unit: "data_points",
		marshal: m.MarshalMetrics, unmarshal: u.UnmarshalMetrics, count: pmetric.Metrics.DataPointCount,
		scan: func(p *core, md pmetric.Metrics) (claude, mappingMode bool) {
			for _, rm := range md.ResourceMetrics().All() {
				claude = claude || p.isClaude(rm.Resource())
				for _, sm := range rm.ScopeMetrics().All() {
					mappingMode = mappingMode || hasMappingMode(sm.Scope())
				}
			}
			return claude, mappingMode
		},
	})
}
