// Package cffi wraps the cowork-ecs C ABI for Go (see cffi.go). `make lib` at
// the repository root puts the static library in
// lib/<goos>_<goarch>/libcowork_ecs.a and the cbindgen header (committed as
// include/cowork_ecs.h at the root) in include/; both are build outputs.
package cffi // import "github.com/cowork-ecs/cowork-ecs/go-shim/internal/cffi"
