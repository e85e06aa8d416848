package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
)

// Which resources the Rust transform must see, the same way for every
// signal. It alone decides what to change; this is only a cheap sufficient
// test that a resource needs nothing, so that batches without Claude items
// cost a walk over their attributes instead of a protobuf round trip
// through Rust.
//
// A resource is passed to Rust when it is Claude's (service.name), when the
// batch has an authenticated tenant (the gateway routes all of its items),
// or when it has anything the gateway might bound or repair: a scope
// mapping mode (cffi.MappingModeAttribute), a map value or an array holding
// more than scalars, a key of more than quietKeyDots dots, more than
// quietAttributes attributes on one level, or text that is not UTF-8. The
// thresholds are derived from the library's own limits (cffi.Limits), well
// inside them, so whatever Rust would change is always passed to it.
var (
	limits = cffi.TransformLimits()
	// quietKeyDots leaves two segments of margin below the deepest path
	// under the exporter's attribute prefix.
	quietKeyDots = limits.MaxFieldDepth - limits.AttributePrefixDepth - 2
	// quietAttributes is half the fields one item may add.
	quietAttributes = limits.MaxFields / 2
	// mappingModeAttribute is the scope attribute the elasticsearch
	// exporter reads its mapping mode from.
	mappingModeAttribute = cffi.MappingModeAttribute()
)

// claudeNames are the service.name values of every emitter.
func (cfg *Config) claudeNames() map[string]struct{} {
	names := map[string]struct{}{}
	for _, e := range cfg.emitters() {
		for _, n := range e.ServiceNames {
			names[n] = struct{}{}
		}
	}
	return names
}

// isClaude reports whether a resource is a Claude emitter's (service.name).
func (p *core) isClaude(resource pcommon.Resource) bool {
	name, ok := resource.Attributes().Get("service.name")
	if !ok {
		return false
	}
	_, claude := p.claudeNames[name.AsString()]
	return claude
}

// quietScope: a scope (and its schema URL) with nothing the gateway might
// change: no mapping mode, quiet attributes, UTF-8 text.
func quietScope(scope pcommon.InstrumentationScope, schemaURL string) bool {
	if _, ok := scope.Attributes().Get(mappingModeAttribute); ok {
		return false
	}
	return quietAttrs(scope.Attributes()) && utf8.ValidString(scope.Name()) &&
		utf8.ValidString(scope.Version()) && utf8.ValidString(schemaURL)
}

// quietLogs screens the scopes and log records of a resource.
func quietLogs(rl plog.ResourceLogs) bool {
	for _, sl := range rl.ScopeLogs().All() {
		if !quietScope(sl.Scope(), sl.SchemaUrl()) {
			return false
		}
		for _, lr := range sl.LogRecords().All() {
			if !quietAttrs(lr.Attributes()) || !quietValue(lr.Body()) ||
				!utf8.ValidString(lr.SeverityText()) || !utf8.ValidString(lr.EventName()) {
				return false
			}
		}
	}
	return true
}

// quietSpans screens the scopes and spans (with their events, links and
// status) of a resource.
func quietSpans(rs ptrace.ResourceSpans) bool {
	for _, ss := range rs.ScopeSpans().All() {
		if !quietScope(ss.Scope(), ss.SchemaUrl()) {
			return false
		}
		for _, span := range ss.Spans().All() {
			if !quietAttrs(span.Attributes()) || !utf8.ValidString(span.Name()) ||
				!utf8.ValidString(span.TraceState().AsRaw()) || !utf8.ValidString(span.Status().Message()) {
				return false
			}
			for _, e := range span.Events().All() {
				if !quietAttrs(e.Attributes()) || !utf8.ValidString(e.Name()) {
					return false
				}
			}
			for _, l := range span.Links().All() {
				if !quietAttrs(l.Attributes()) || !utf8.ValidString(l.TraceState().AsRaw()) {
					return false
				}
			}
		}
	}
	return true
}

// quietMetrics screens the scopes, metrics and data points (with their
// exemplars) of a resource.
func quietMetrics(rm pmetric.ResourceMetrics) bool {
	for _, sm := range rm.ScopeMetrics().All() {
		if !quietScope(sm.Scope(), sm.SchemaUrl()) {
			return false
		}
		for _, m := range sm.Metrics().All() {
			if !utf8.ValidString(m.Name()) || !utf8.ValidString(m.Description()) ||
				!utf8.ValidString(m.Unit()) || !quietAttrs(m.Metadata()) || !quietDataPoints(m) {
				return false
			}
		}
	}
	return true
}

// quietDataPoints screens every data point of a metric, whatever its type.
func quietDataPoints(m pmetric.Metric) bool {
	quiet := func(attrs pcommon.Map, exemplars pmetric.ExemplarSlice) bool {
		if !quietAttrs(attrs) {
			return false
		}
		for _, e := range exemplars.All() {
			if !quietAttrs(e.FilteredAttributes()) {
				return false
			}
		}
		return true
	}
	switch m.Type() {
	case pmetric.MetricTypeGauge:
		for _, dp := range m.Gauge().DataPoints().All() {
			if !quiet(dp.Attributes(), dp.Exemplars()) {
				return false
			}
		}
	case pmetric.MetricTypeSum:
		for _, dp := range m.Sum().DataPoints().All() {
			if !quiet(dp.Attributes(), dp.Exemplars()) {
				return false
			}
		}
	case pmetric.MetricTypeHistogram:
		for _, dp := range m.Histogram().DataPoints().All() {
			if !quiet(dp.Attributes(), dp.Exemplars()) {
				return false
			}
		}
	case pmetric.MetricTypeExponentialHistogram:
		for _, dp := range m.ExponentialHistogram().DataPoints().All() {
			if !quiet(dp.Attributes(), dp.Exemplars()) {
				return false
			}
		}
	case pmetric.MetricTypeSummary:
		for _, dp := range m.Summary().DataPoints().All() {
			if !quietAttrs(dp.Attributes()) {
				return false
			}
		}
	}
	return true
}

func quietAttrs(attrs pcommon.Map) bool {
	if attrs.Len() > quietAttributes {
		return false
	}
	for k, v := range attrs.All() {
		if strings.Count(k, ".") > quietKeyDots || !utf8.ValidString(k) || !quietValue(v) {
			return false
		}
	}
	return true
}

// quietValue: a scalar, or an array of scalars, whose text is UTF-8.
func quietValue(v pcommon.Value) bool {
	switch v.Type() {
	case pcommon.ValueTypeMap:
		return false
	case pcommon.ValueTypeSlice:
		for _, item := range v.Slice().All() {
			if t := item.Type(); t == pcommon.ValueTypeMap || t == pcommon.ValueTypeSlice || !quietValue(item) {
				return false
			}
		}
		return true
	case pcommon.ValueTypeStr:
		return utf8.ValidString(v.Str())
	default:
		return true
	}
}
