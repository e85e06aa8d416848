// Package coworkecsprocessor is an OpenTelemetry Collector processor that
// normalizes the native OTel log events of Claude Cowork (Claude Desktop)
// and Claude Code (the CLI) into Elastic Common Schema (ECS) documents.
//
// The mapping itself is done by the cowork-ecs Rust library, called through
// cgo once per batch (internal/cffi). The collector must be built with
// CGO_ENABLED=1 (ocb: `dist: cgo_enabled: true`).
//go:generate env GONOSUMDB=go.opentelemetry.io/collector/internal/schemagen go tool -modfile=../internal/tools/go.mod mdatagen metadata.yaml

package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"
