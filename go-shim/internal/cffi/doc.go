// Package cffi wraps the cowork-ecs C ABI for Go (see cffi.go). The static
// library is expected in lib/<goos>_<goarch>/libcowork_ecs.a, put there by
// `make lib` at the repository root; the header in include/ is a copy of the
// cbindgen output, kept in sync by the Rust build and checked by its tests.
package cffi // import "github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
