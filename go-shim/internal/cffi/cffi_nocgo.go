//go:build !cgo

package cffi // import "github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"

// The cowork_ecs processor calls a Rust library through cgo. This file is
// compiled only when cgo is off, and refers to an identifier that does not
// exist so that the build stops here with a message that says why:
//
//	build with CGO_ENABLED=1 (ocb: set `dist: cgo_enabled: true`)
var _ = cowork_ecs_processor_requires_CGO_ENABLED_1_see_ocb_dist_cgo_enabled_true
