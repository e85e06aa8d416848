package coworkecsprocessor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/processor/processortest"

	"github.com/cowork-ecs/cowork-ecs/go-shim/coworkecsprocessor/internal/metadata"
)

// rfc8032Key is RFC 8032's test key 1, as PKCS#8 PEM.
const rfc8032Key = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ1hsZ3v/VpguoRK9JLsLMREScVpezJpGXA7rAMcrn9g\n-----END PRIVATE KEY-----\n"

// seals are the seal records among what the sink received, as
// (kind, number) in order.
func seals(sink *consumertest.LogsSink) [][2]any {
	var out [][2]any
	for _, ld := range sink.AllLogs() {
		for i := 0; i < ld.ResourceLogs().Len(); i++ {
			rl := ld.ResourceLogs().At(i)
			if name, _ := rl.Resource().Attributes().Get("service.name"); name.Str() != "cowork-ecs" {
				continue
			}
			attrs := rl.ScopeLogs().At(0).LogRecords().At(0).Attributes()
			kind, _ := attrs.Get("cowork_ecs.seal.kind")
			number, _ := attrs.Get("cowork_ecs.seal.number")
			out = append(out, [2]any{kind.Str(), number.Int()})
		}
	}
	return out
}

// flaky refuses the requests it is told to, else hands them to the sink.
type flaky struct {
	*consumertest.LogsSink
	refuse bool
}

func (f *flaky) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	if f.refuse {
		return errors.New("queue full")
	}
	return f.LogsSink.ConsumeLogs(ctx, ld)
}

var _ consumer.Logs = (*flaky)(nil)

// The real Rust library seals each request of Claude records, numbers its
// seals without a gap even when the next consumer refuses one, writes a
// heartbeat when nothing passes and a closing seal at shutdown; the
// chain's last seal is in the state directory.
func TestLogsProcessorSealsChainsAndClosesWithTheRealLibrary(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "signing.pem")
	require.NoError(t, os.WriteFile(key, []byte(rfc8032Key), 0o600))
	cfg := createDefaultConfig().(*Config)
	cfg.Signing = SigningConfig{KeyFile: key, StateDirectory: dir, SealInterval: 200 * time.Millisecond}
	require.NoError(t, cfg.Validate())
	next := &flaky{LogsSink: new(consumertest.LogsSink)}
	p, err := createLogsProcessor(context.Background(), processortest.NewNopSettings(metadata.Type), cfg, next)
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background(), componenttest.NewNopHost()))

	in := readLogs(t, filepath.Join(testdata, "captures", "bash_ok", "logs.json"))
	copyOf := func() plog.Logs { ld := plog.NewLogs(); in.CopyTo(ld); return ld }
	mixed := copyOf() // with another sender's resource: only the Claude ones go through Rust
	other := mixed.ResourceLogs().AppendEmpty()
	other.Resource().Attributes().PutStr("service.name", "billing")
	other.ScopeLogs().AppendEmpty().LogRecords().AppendEmpty().Body().SetStr("invoice 7")
	require.NoError(t, p.ConsumeLogs(context.Background(), mixed))
	passed := next.AllLogs()[0]
	require.Equal(t, in.ResourceLogs().Len()+2, passed.ResourceLogs().Len(), "the records, the other sender's, the seal")
	// Each Claude record names its seal's _id, <chain>-<number>.
	sealAttrs := passed.ResourceLogs().At(passed.ResourceLogs().Len() - 1).ScopeLogs().At(0).LogRecords().At(0).Attributes()
	chain, _ := sealAttrs.Get("cowork_ecs.seal.chain")
	claude := passed.ResourceLogs().At(0).ScopeLogs().At(0).LogRecords()
	require.Positive(t, claude.Len())
	for i := 0; i < claude.Len(); i++ {
		ref, ok := claude.At(i).Attributes().Get("cowork_ecs.seal.id")
		require.True(t, ok, "record %d names no seal", i)
		assert.Equal(t, chain.Str()+"-0", ref.Str())
	}
	next.refuse = true
	require.Error(t, p.ConsumeLogs(context.Background(), copyOf()))
	next.refuse = false
	require.NoError(t, p.ConsumeLogs(context.Background(), copyOf()))
	require.Eventually(t, func() bool { return len(seals(next.LogsSink)) >= 3 }, 5*time.Second, 10*time.Millisecond,
		"a heartbeat once nothing passes for an interval")
	require.NoError(t, p.Shutdown(context.Background()))

	got := seals(next.LogsSink)
	assert.Equal(t, [2]any{"batch", int64(0)}, got[0])
	assert.Equal(t, [2]any{"batch", int64(1)}, got[1], "the refused request's number is used again")
	assert.Equal(t, "heartbeat", got[2][0])
	last := got[len(got)-1]
	assert.Equal(t, "closing", last[0])
	for i, s := range got {
		assert.Equal(t, int64(i), s[1], "no gap: %v", got)
	}
	state, err := os.ReadFile(filepath.Join(dir, "cowork-ecs-seal-chain"))
	require.NoError(t, err)
	assert.Contains(t, string(state), fmt.Sprintf("/%d/", last[1]), "the state names the closing seal")
}
