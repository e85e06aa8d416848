// Package captures builds batches from the real Claude Code captures
// (testdata/captures/*/logs.json), for the processor's benchmarks and the
// load generator of `make bench-collector`.
package captures // import "github.com/cowork-ecs/cowork-ecs/go-shim/internal/captures"

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"go.opentelemetry.io/collector/pdata/plog"
)

// Files are the captures' logs.json paths under dir, sorted.
func Files(dir string) ([]string, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*", "logs.json"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no captures under %s", dir)
	}
	sort.Strings(paths)
	return paths, nil
}

// Read reads one capture.
func Read(path string) (plog.Logs, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return plog.Logs{}, err
	}
	var u plog.JSONUnmarshaler
	ld, err := u.UnmarshalLogs(raw)
	if err != nil {
		return plog.Logs{}, fmt.Errorf("%s: %w", path, err)
	}
	return ld, nil
}

// Batch is n records from the captures under dir, repeated in capture order,
// under the first capture's resource and scope (the shape of the Rust
// criterion bench's batch).
func Batch(dir string, n int) (plog.Logs, error) {
	paths, err := Files(dir)
	if err != nil {
		return plog.Logs{}, err
	}
	out := plog.NewLogs()
	rl := out.ResourceLogs().AppendEmpty()
	sl := rl.ScopeLogs().AppendEmpty()
	var sources []plog.LogRecordSlice
	for i, p := range paths {
		ld, err := Read(p)
		if err != nil {
			return plog.Logs{}, err
		}
		if i == 0 {
			ld.ResourceLogs().At(0).Resource().CopyTo(rl.Resource())
			ld.ResourceLogs().At(0).ScopeLogs().At(0).Scope().CopyTo(sl.Scope())
		}
		for _, r := range ld.ResourceLogs().All() {
			for _, s := range r.ScopeLogs().All() {
				sources = append(sources, s.LogRecords())
			}
		}
	}
	for sl.LogRecords().Len() < n {
		for _, recs := range sources {
			for _, r := range recs.All() {
				if sl.LogRecords().Len() == n {
					return out, nil
				}
				r.CopyTo(sl.LogRecords().AppendEmpty())
			}
		}
	}
	return out, nil
}
