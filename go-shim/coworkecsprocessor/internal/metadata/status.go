// Package metadata holds the component's type and stability, as declared in
// ../../metadata.yaml.
package metadata // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"

import (
	"go.opentelemetry.io/collector/component"
)

var (
	// Type is the component type used in collector configurations.
	Type = component.MustNewType("cowork_ecs")
	// ScopeName is the instrumentation scope of the processor's own telemetry.
	ScopeName = "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"
)

const (
	// LogsStability is the stability level of the logs pipeline support.
	LogsStability = component.StabilityLevelAlpha
	// TracesStability is the stability level of the traces pipeline support.
	TracesStability = component.StabilityLevelAlpha
	// MetricsStability is the stability level of the metrics pipeline support.
	MetricsStability = component.StabilityLevelAlpha
)
