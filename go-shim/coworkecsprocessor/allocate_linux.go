//go:build linux

package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"os"

	"golang.org/x/sys/unix"
)

// allocate makes path a file of size bytes whose blocks are allocated
// (fallocate: no data is written).
func allocate(path string, size uint64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, int64(size)) //nolint:gosec // MiB from the config
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
