//go:build !linux

package coworkecsprocessor // import "github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor"

import (
	"bytes"
	"io"
	"os"
)

// allocate makes path a file of size bytes whose blocks are allocated
// (written with zeros where fallocate is not available).
func allocate(path string, size uint64) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	_, err = io.CopyN(f, bytes.NewReader(make([]byte, size)), int64(size)) //nolint:gosec // MiB from the config
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
