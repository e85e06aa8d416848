package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"context"
	"errors"
	"fmt"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/processor"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// resource is a pdata resource of any signal (plog.ResourceLogs,
// ptrace.ResourceSpans, pmetric.ResourceMetrics).
type resource[R any] interface {
	Resource() pcommon.Resource
	SchemaUrl() string
	MoveTo(R)
}

// resourceSlice is a batch's list of resources of type R.
type resourceSlice[R any] interface {
	Len() int
	At(int) R
	AppendEmpty() R
}

// shape is what the one processor needs to know of a signal: its batch
// type T, the batch's resources S of type R, how to (un)marshal it, and
// how to screen what lies below a resource (quiet: nothing the gateway
// might change, see select.go).
type shape[T any, S resourceSlice[R], R resource[R]] struct {
	signal    cffi.Signal
	unit      string // what the batch's items are, for logs
	newBatch  func() T
	resources func(T) S
	marshal   func(T) ([]byte, error)
	unmarshal func([]byte) (T, error)
	count     func(T) int
	quiet     func(R) bool
}

// signalProcessor is the processor of every signal: it calls the Rust
// transform once per batch, on the resources that need it
// (needsTransform): those are marshaled to protobuf once, one cgo call
// transforms them, and the rewritten ones are unmarshaled and swapped into
// the batch in place. A batch none of whose resources needs it is passed
// on untouched, without a protobuf round trip.
type signalProcessor[T any, S resourceSlice[R], R resource[R]] struct {
	*core
	shape shape[T, S, R]
}

func newSignalProcessor[T any, S resourceSlice[R], R resource[R]](
	set processor.Settings, cfg *Config, sh shape[T, S, R],
) (*signalProcessor[T, S, R], error) {
	c, err := newCore(set, cfg)
	if err != nil {
		return nil, err
	}
	return &signalProcessor[T, S, R]{core: c, shape: sh}, nil
}

func newLogsProcessor(set processor.Settings, cfg *Config) (*signalProcessor[plog.Logs, plog.ResourceLogsSlice, plog.ResourceLogs], error) {
	var m plog.ProtoMarshaler
	var u plog.ProtoUnmarshaler
	return newSignalProcessor(set, cfg, shape[plog.Logs, plog.ResourceLogsSlice, plog.ResourceLogs]{
		signal: cffi.Logs, unit: "log_records", newBatch: plog.NewLogs, resources: plog.Logs.ResourceLogs,
		marshal: m.MarshalLogs, unmarshal: u.UnmarshalLogs, count: plog.Logs.LogRecordCount, quiet: quietLogs,
	})
}

func newTracesProcessor(set processor.Settings, cfg *Config) (*signalProcessor[ptrace.Traces, ptrace.ResourceSpansSlice, ptrace.ResourceSpans], error) {
	var m ptrace.ProtoMarshaler
	var u ptrace.ProtoUnmarshaler
	return newSignalProcessor(set, cfg, shape[ptrace.Traces, ptrace.ResourceSpansSlice, ptrace.ResourceSpans]{
		signal: cffi.Traces, unit: "spans", newBatch: ptrace.NewTraces, resources: ptrace.Traces.ResourceSpans,
		marshal: m.MarshalTraces, unmarshal: u.UnmarshalTraces, count: ptrace.Traces.SpanCount, quiet: quietSpans,
	})
}

func newMetricsProcessor(set processor.Settings, cfg *Config) (*signalProcessor[pmetric.Metrics, pmetric.ResourceMetricsSlice, pmetric.ResourceMetrics], error) {
	var m pmetric.ProtoMarshaler
	var u pmetric.ProtoUnmarshaler
	return newSignalProcessor(set, cfg, shape[pmetric.Metrics, pmetric.ResourceMetricsSlice, pmetric.ResourceMetrics]{
		signal: cffi.Metrics, unit: "data_points", newBatch: pmetric.NewMetrics, resources: pmetric.Metrics.ResourceMetrics,
		marshal: m.MarshalMetrics, unmarshal: u.UnmarshalMetrics, count: pmetric.Metrics.DataPointCount, quiet: quietMetrics,
	})
}

// process is the processorhelper function of every signal.
func (p *signalProcessor[T, S, R]) process(ctx context.Context, batch T) (T, error) {
	if p.sealing == nil {
		return p.processBatch(ctx, batch)
	}
	p.sealing.begin()
	out, err := p.processBatch(ctx, batch)
	if err != nil {
		p.sealing.abandon()
	}
	return out, err
}

// processBatch is process without the seal's lock.
func (p *signalProcessor[T, S, R]) processBatch(ctx context.Context, batch T) (T, error) {
	if p.guard != nil {
		if err := p.admit(ctx, p.shape.count(batch)); err != nil {
			return batch, err
		}
	}
	tenant := p.tenant(ctx)
	out, err := p.transform(tenant, batch)
	if err == nil {
		return out, nil
	}
	hasClaude := func() bool {
		resources := p.shape.resources(batch)
		for i := 0; i < resources.Len(); i++ {
			if p.isClaude(resources.At(i).Resource()) {
				return true
			}
		}
		return false
	}
	if err := p.onFailure(ctx, err, p.mustFailClosed(tenant, hasClaude), p.shape.count(batch), p.shape.unit); err != nil {
		return batch, err
	}
	return out, nil
}

// needsTransform reports whether resource r must go through Rust.
func (p *signalProcessor[T, S, R]) needsTransform(tenant string, r R) bool {
	return tenant != "" || p.isClaude(r.Resource()) || !quietAttrs(r.Resource().Attributes()) ||
		!utf8.ValidString(r.SchemaUrl()) || !p.shape.quiet(r)
}

// transform runs the resources of batch that need it through Rust and
// swaps the rewritten ones into batch in place. On an error wrapping
// cffi.ErrPartial the readable resources are transformed and the others as
// they came; on any other error every resource is as it came.
func (p *signalProcessor[T, S, R]) transform(tenant string, batch T) (T, error) {
	resources := p.shape.resources(batch)
	var picked []int
	for i := 0; i < resources.Len(); i++ {
		if p.needsTransform(tenant, resources.At(i)) {
			picked = append(picked, i)
		}
	}
	switch len(picked) {
	case 0:
		return batch, nil
	case resources.Len():
		return roundTrip(p.transformer, p.shape.signal, tenant, batch, p.shape.marshal, p.shape.unmarshal)
	}
	sub := p.shape.newBatch()
	for _, i := range picked {
		resources.At(i).MoveTo(p.shape.resources(sub).AppendEmpty())
	}
	out, err := roundTrip(p.transformer, p.shape.signal, tenant, sub, p.shape.marshal, p.shape.unmarshal)
	// A sealed logs request comes back with its seal as one more resource.
	want := len(picked)
	got := p.shape.resources(out).Len()
	if p.sealing != nil && got == want+1 {
		want++
	}
	if (err == nil || errors.Is(err, cffi.ErrPartial)) && got != want {
		out, err = sub, fmt.Errorf("cowork-ecs: transform returned %d resources for %d", got, len(picked))
	}
	for j, i := range picked {
		p.shape.resources(out).At(j).MoveTo(resources.At(i))
	}
	for j := len(picked); j < p.shape.resources(out).Len(); j++ {
		p.shape.resources(out).At(j).MoveTo(resources.AppendEmpty())
	}
	return batch, err
}
