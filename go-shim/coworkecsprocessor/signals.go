package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"fmt"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// tracesProcessor runs every traces batch that needs it through the Rust
// transform (cowork_ecs_transform_traces): one marshal, one cgo call, one
// unmarshal when anything changed. Claude spans get ECS fields, the
// gateway's routing and the content and identity policy (README "Traces
// and metrics").
type tracesProcessor struct {
	*core
	marshaler   ptrace.ProtoMarshaler
	unmarshaler ptrace.ProtoUnmarshaler
}

func newTracesProcessor(set processor.Settings, cfg *Config) (*tracesProcessor, error) {
	c, err := newCore(set, cfg)
	if err != nil {
		return nil, err
	}
	return &tracesProcessor{core: c}, nil
}

func (p *tracesProcessor) processTraces(ctx context.Context, td ptrace.Traces) (ptrace.Traces, error) {
	tenant := p.tenant(ctx)
	claude := false
	var scopes []pcommon.InstrumentationScope
	for _, rs := range td.ResourceSpans().All() {
		claude = claude || p.isClaude(rs.Resource())
		for _, ss := range rs.ScopeSpans().All() {
			scopes = append(scopes, ss.Scope())
		}
	}
	if !p.needsSignalTransform(tenant, claude, scopes) {
		return td, nil
	}
	out, err := p.transformTraces(tenant, td)
	if err == nil {
		return out, nil
	}
	if err := p.onFailure(ctx, err, tenant != "" || (claude && !p.cfg.policyKeepsAll()), td.SpanCount(), "spans"); err != nil {
		return td, err
	}
	return td, nil
}

func (p *tracesProcessor) transformTraces(tenant string, td ptrace.Traces) (ptrace.Traces, error) {
	in, err := p.marshaler.MarshalTraces(td)
	if err != nil {
		return td, fmt.Errorf("cowork-ecs: marshal batch: %w", err)
	}
	out := td
	err = p.transformer.TransformInto(cffi.Traces, tenant, in, func(raw []byte) error {
		transformed, err := p.unmarshaler.UnmarshalTraces(raw)
		if err != nil {
			return fmt.Errorf("cowork-ecs: unmarshal transformed batch: %w", err)
		}
		out = transformed
		return nil
	})
	return out, err
}

// metricsProcessor does for metrics what tracesProcessor does for traces
// (cowork_ecs_transform_metrics): Claude metrics are routed to their own
// data stream in the tenant's namespace, with the identity policy on data
// point and resource attributes.
type metricsProcessor struct {
	*core
	marshaler   pmetric.ProtoMarshaler
	unmarshaler pmetric.ProtoUnmarshaler
}

func newMetricsProcessor(set processor.Settings, cfg *Config) (*metricsProcessor, error) {
	c, err := newCore(set, cfg)
	if err != nil {
		return nil, err
	}
	return &metricsProcessor{core: c}, nil
}

func (p *metricsProcessor) processMetrics(ctx context.Context, md pmetric.Metrics) (pmetric.Metrics, error) {
	tenant := p.tenant(ctx)
	claude := false
	var scopes []pcommon.InstrumentationScope
	for _, rm := range md.ResourceMetrics().All() {
		claude = claude || p.isClaude(rm.Resource())
		for _, sm := range rm.ScopeMetrics().All() {
			scopes = append(scopes, sm.Scope())
		}
	}
	if !p.needsSignalTransform(tenant, claude, scopes) {
		return md, nil
	}
	out, err := p.transformMetrics(tenant, md)
	if err == nil {
		return out, nil
	}
	failClosed := tenant != "" || (claude && p.cfg.Identity != ContentKeep)
	if err := p.onFailure(ctx, err, failClosed, md.DataPointCount(), "data_points"); err != nil {
		return md, err
	}
	return md, nil
}

func (p *metricsProcessor) transformMetrics(tenant string, md pmetric.Metrics) (pmetric.Metrics, error) {
	in, err := p.marshaler.MarshalMetrics(md)
	if err != nil {
		return md, fmt.Errorf("cowork-ecs: marshal batch: %w", err)
	}
	out := md
	err = p.transformer.TransformInto(cffi.Metrics, tenant, in, func(raw []byte) error {
		transformed, err := p.unmarshaler.UnmarshalMetrics(raw)
		if err != nil {
			return fmt.Errorf("cowork-ecs: unmarshal transformed batch: %w", err)
		}
		out = transformed
		return nil
	})
	return out, err
}

// needsSignalTransform reports whether a traces or metrics batch must go
// through Rust: it has a Claude resource, an authenticated tenant (the
// gateway routes all of its data), or a scope that names a mapping mode
// (which Rust checks). Anything else passes on without a round trip.
func (p *core) needsSignalTransform(tenant string, claude bool, scopes []pcommon.InstrumentationScope) bool {
	if tenant != "" || claude {
		return true
	}
	for _, s := range scopes {
		if _, ok := s.Attributes().Get(mappingModeAttribute); ok {
			return true
		}
	}
	return false
}
