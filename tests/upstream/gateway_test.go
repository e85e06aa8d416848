package upstream

// The shipped configuration: collector-config/gateway.yaml's
// exporters::elasticsearch and extensions::file_storage/queue, read from
// the file with its ${env:…} defaults, and a fake Elasticsearch on
// loopback.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/exporter/elasticsearchexporter"
	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/storage/filestorage"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap"
	"go.opentelemetry.io/collector/confmap/xconfmap"
	"go.opentelemetry.io/collector/exporter"
	"go.opentelemetry.io/collector/exporter/exportertest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
	yaml "go.yaml.in/yaml/v3"
)

var (
	queueStorageID = component.MustNewIDWithName("file_storage", "queue")
	envRef         = regexp.MustCompile(`\$\{env:([A-Za-z0-9_]+)(?::-([^}]*))?\}`)
)

// gatewayConfig reads collector-config/gateway.yaml, each ${env:NAME:-default}
// replaced by env[NAME] when given, else by its default.
func gatewayConfig(t *testing.T, env map[string]string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../collector-config/gateway.yaml")
	if err != nil {
		t.Fatalf("read gateway.yaml: %v", err)
	}
	text := envRef.ReplaceAllStringFunc(string(raw), func(ref string) string {
		m := envRef.FindStringSubmatch(ref)
		if v, ok := env[m[1]]; ok {
			return v
		}
		return m[2]
	})
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(text), &cfg); err != nil {
		t.Fatalf("parse gateway.yaml: %v", err)
	}
	return cfg
}

func section(t *testing.T, cfg map[string]any, path ...string) map[string]any {
	t.Helper()
	cur := cfg
	for _, p := range path {
		next, ok := cur[p].(map[string]any)
		if !ok {
			t.Fatalf("gateway.yaml has no %s", strings.Join(path, "::"))
		}
		cur = next
	}
	return cur
}

// startGatewayQueueStorage starts file_storage/queue as gateway.yaml has it.
func startGatewayQueueStorage(t *testing.T, cfg map[string]any) extension.Extension {
	t.Helper()
	f := filestorage.NewFactory()
	c := f.CreateDefaultConfig()
	if err := confmap.NewFromStringMap(section(t, cfg, "extensions", "file_storage/queue")).Unmarshal(c); err != nil {
		t.Fatalf("file_storage/queue: %v", err)
	}
	if err := xconfmap.Validate(c); err != nil {
		t.Fatalf("file_storage/queue: %v", err)
	}
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), c)
	if err != nil {
		t.Fatalf("create file_storage/queue: %v", err)
	}
	if err := ext.Start(context.Background(), host{}); err != nil {
		t.Fatalf("start file_storage/queue: %v", err)
	}
	return ext
}

// startShippedGateway starts gateway.yaml's queue storage on dir and its
// elasticsearch exporter (override applied) pointed at esURL, logging to an
// observer.
func startShippedGateway(t *testing.T, esURL, dir string, override map[string]any) (extension.Extension, exporter.Logs, *observer.ObservedLogs) {
	t.Helper()
	cfg := gatewayConfig(t, testEnv(esURL, dir))
	fs := startGatewayQueueStorage(t, cfg)
	logger, logs := observedLogger()
	return fs, startGatewayExporter(t, cfg, fs, logger, override), logs
}

// startGatewayExporter creates and starts exporters::elasticsearch as
// gateway.yaml has it, with override applied to its section first.
func startGatewayExporter(t *testing.T, cfg map[string]any, storageExt extension.Extension, logger *zap.Logger, override map[string]any) exporter.Logs {
	t.Helper()
	f := elasticsearchexporter.NewFactory()
	c := f.CreateDefaultConfig()
	sec := section(t, cfg, "exporters", "elasticsearch")
	for k, v := range override {
		sec[k] = v
	}
	if err := confmap.NewFromStringMap(sec).Unmarshal(c); err != nil {
		t.Fatalf("exporters::elasticsearch: %v", err)
	}
	if err := xconfmap.Validate(c); err != nil {
		t.Fatalf("exporters::elasticsearch: %v", err)
	}
	set := exportertest.NewNopSettings(f.Type())
	set.ID = exporterID
	set.Logger = logger
	exp, err := f.CreateLogs(context.Background(), set, c)
	if err != nil {
		t.Fatalf("create elasticsearch exporter: %v", err)
	}
	if err := exp.Start(context.Background(), host{queueStorageID: storageExt}); err != nil {
		t.Fatalf("start elasticsearch exporter: %v", err)
	}
	return exp
}

// fakeES answers _bulk on loopback: "unauthorized" (the gateway's API key
// revoked: 401 on the whole request), "hang" (Elasticsearch stopped) or
// "ok" (every document created). It records the record ids ("rec-N") of
// the documents it accepted.
type fakeES struct {
	URL      string
	srv      *http.Server
	mode     atomic.Value
	attempts atomic.Int64
	release  chan struct{}
	once     sync.Once

	mu      sync.Mutex
	indexed map[string]int
}

var recID = regexp.MustCompile(`rec-[0-9]+`)

func newFakeES(t *testing.T, mode string) *fakeES {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	es := &fakeES{URL: "http://" + ln.Addr().String(), release: make(chan struct{}), indexed: map[string]int{}}
	es.mode.Store(mode)
	es.srv = &http.Server{Handler: http.HandlerFunc(es.serve), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = es.srv.Serve(ln) }()
	t.Cleanup(es.close)
	return es
}

func (es *fakeES) close() {
	es.once.Do(func() { close(es.release) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = es.srv.Shutdown(ctx)
	_ = es.srv.Close()
}

func (es *fakeES) setMode(m string) { es.mode.Store(m) }

func (es *fakeES) count(id string) int {
	es.mu.Lock()
	defer es.mu.Unlock()
	return es.indexed[id]
}

func (es *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	if !strings.HasSuffix(r.URL.Path, "/_bulk") {
		_, _ = io.WriteString(w, `{}`)
		return
	}
	es.attempts.Add(1)
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		body = zr
	}
	payload, _ := io.ReadAll(body)
	switch es.mode.Load().(string) {
	case "unauthorized":
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = io.WriteString(w, `{"error":{"type":"security_exception","reason":"unable to authenticate with provided credentials"},"status":401}`)
		return
	case "hang":
		select {
		case <-r.Context().Done():
		case <-es.release:
		}
		return
	}
	var items []string
	sc := bufio.NewScanner(bytes.NewReader(payload))
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	line := 0
	es.mu.Lock()
	for sc.Scan() {
		if line%2 == 1 {
			for _, id := range recID.FindAllString(sc.Text(), 1) {
				es.indexed[id]++
			}
			items = append(items, `{"create":{"_index":"logs-generic.otel-default","status":201}}`)
		}
		line++
	}
	es.mu.Unlock()
	fmt.Fprintf(w, `{"took":1,"errors":false,"items":[%s]}`, strings.Join(items, ","))
}

// testEnv is the gateway's environment for the tests: retries capped at
// 200 ms apart and a 100 ms flush, so the tests take seconds; everything
// else is the shipped default.
func testEnv(esURL, queueDir string) map[string]string {
	return map[string]string{
		"ELASTICSEARCH_ENDPOINT":        esURL,
		"ELASTICSEARCH_API_KEY":         "cmV2b2tlZDprZXk=",
		"COWORK_ECS_QUEUE_DIR":          queueDir,
		"COWORK_ECS_RETRY_MAX_INTERVAL": "200ms",
		"COWORK_ECS_FLUSH_TIMEOUT":      "100ms",
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatalf("read %s: %v", from, err)
	}
	if err := os.WriteFile(to, b, 0o600); err != nil {
		t.Fatalf("write %s: %v", to, err)
	}
}
