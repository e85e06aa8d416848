package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"strings"
	"unicode/utf8"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
)

// Which resources the Rust transform must see. It alone decides what to
// change; this is only a cheap sufficient test that a resource needs
// nothing, so that batches without Claude records cost a walk over their
// attributes instead of a protobuf round trip through Rust.
//
// A resource is passed to Rust when it is Claude's (service.name), when the
// batch has an authenticated tenant (the gateway routes all of its
// records), or when it has anything the gateway might bound or repair: a
// scope `elastic.mapping.mode`, a map value or an array holding more than
// scalars, a key of more than
// quietKeyDots dots, more than quietAttributes attributes on one level, or
// text that is not UTF-8. The thresholds are well inside the Rust bounds
// (20 path segments under a 2-segment prefix; 1,000 fields per record), so
// whatever Rust would change is always passed to it.
const (
	quietKeyDots    = 16
	quietAttributes = 500
)

// claudeNames are the service.name values of both emitters.
func (cfg *Config) claudeNames() map[string]struct{} {
	names := map[string]struct{}{}
	for _, n := range append(append([]string{}, cfg.Cowork.ServiceNames...), cfg.ClaudeCode.ServiceNames...) {
		names[n] = struct{}{}
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

// needsTransform reports whether resource rl must go through Rust.
func (p *logsProcessor) needsTransform(tenant string, rl plog.ResourceLogs) bool {
	if tenant != "" || p.isClaude(rl.Resource()) {
		return true
	}
	if !quietAttrs(rl.Resource().Attributes()) || !utf8.ValidString(rl.SchemaUrl()) {
		return true
	}
	for _, sl := range rl.ScopeLogs().All() {
		scope := sl.Scope()
		if hasMappingMode(scope) {
			return true
		}
		if !quietAttrs(scope.Attributes()) || !utf8.ValidString(scope.Name()) ||
			!utf8.ValidString(scope.Version()) || !utf8.ValidString(sl.SchemaUrl()) {
			return true
		}
		for _, lr := range sl.LogRecords().All() {
			if !quietAttrs(lr.Attributes()) || !quietValue(lr.Body()) ||
				!utf8.ValidString(lr.SeverityText()) || !utf8.ValidString(lr.EventName()) {
				return true
			}
		}
	}
	return false
}

// mappingModeAttribute is the scope attribute the elasticsearch exporter
// reads its mapping mode from.
const mappingModeAttribute = "elastic.mapping.mode"

// hasMappingMode reports whether a scope names a mapping mode (which only
// the Rust transform may judge).
func hasMappingMode(scope pcommon.InstrumentationScope) bool {
	_, ok := scope.Attributes().Get(mappingModeAttribute)
	return ok
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
