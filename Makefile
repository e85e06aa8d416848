# cowork-ecs build, test and demo. `make help` lists the targets.
#
# Pinned versions (change them together: ocb's strict versioning wants the
# collector components, go-shim/go.mod and the builder on one release).
OCB_VERSION      := 0.157.0
ES_VERSION       := 9.5.2
ES8_VERSION      := 8.19.21
GOOS             := $(shell go env GOOS)
GOARCH           := $(shell go env GOARCH)

BUILD            := $(CURDIR)/build
CFFI_LIB_DIR     := go-shim/internal/cffi/lib/$(GOOS)_$(GOARCH)
CFFI_INCLUDE_DIR := go-shim/internal/cffi/include
OCB              := $(BUILD)/bin/builder
COLLECTOR        := collector-config/_build/otelcol-cowork-ecs
CLI              := target/release/cowork-ecs
VENV             := $(BUILD)/venv

# The Go module proxy has no checksum-database entry for this dependency of
# the elasticsearch exporter; its module zip still comes from the proxy.
export GONOSUMDB := go.opentelemetry.io/ebpf-profiler
export GOFLAGS   := -mod=mod
# The go command does not hash a static library a #cgo LDFLAGS names, so a
# rebuilt Rust library alone would leave a cached link in place: its digest
# becomes a constant in the cffi package's object code (cffi.LibraryDigest,
# logged at start), so a new library relinks (recursively expanded: read
# after `make lib`).
export CGO_CFLAGS = -O2 -g -DCOWORK_ECS_LIB_SHA256=0x$(or $(shell sha256sum target/release/libcowork_ecs.a 2>/dev/null | cut -c1-16),0)ULL

.PHONY: help lib cli collector deps detections test test-rust test-go test-c test-fuzz fuzz test-e2e run bench bench-cli bench-gateway bench-collector bench-collector-traces scale-verify clean check-static-libs generate install

help:
	@echo "make run        build everything, start Elasticsearch + the collector, replay real telemetry, print the ECS documents"
	@echo "make test       all tests: Rust (unit, golden, conformance, ABI), Go (race), C smoke, end-to-end"
	@echo "make collector  build the Rust library, install ocb $(OCB_VERSION), build $(COLLECTOR)"
	@echo "make bench      criterion + go test -bench"
	@echo "make bench-cli  the CLI's transform vs its own convert (20,000 real records) and its peak memory (1,000,000 tiny records)"
	@echo "make bench-gateway  durable gateway (queue fsync on, and off) vs the previous one, same run, real Elasticsearch"
	@echo "make scale-verify  cowork-ecs verify on SCALE_RECORDS (default 1,000,000) sealed records: wall time, peak RSS (target < 256 MiB)"
	@echo "make bench-collector  otlp -> debug with and without cowork_ecs, collector pinned to one core"
	@echo "make bench-collector-traces  the same for traces"
	@echo "make detections convert the Sigma rules (detections/rules) into Elastic Security rules and Lucene queries"
	@echo "make generate   regenerate the processor's mdatagen code from metadata.yaml"
	@echo "make fuzz       coverage-guided fuzzing of the transform for FUZZ_SECONDS (default 600)"
	@echo "make install    the collector, the CLI, the gateway configs and the systemd unit under PREFIX (default /usr/local)"

## lib: the Rust static library and its header where cgo expects them.
lib:
	cargo build --release --lib
	mkdir -p $(CFFI_LIB_DIR) $(CFFI_INCLUDE_DIR)
	cp target/release/libcowork_ecs.a $(CFFI_LIB_DIR)/libcowork_ecs.a
	cp include/cowork_ecs.h $(CFFI_INCLUDE_DIR)/cowork_ecs.h

cli:
	cargo build --release --bin cowork-ecs

$(OCB):
	GOBIN=$(BUILD)/bin go install go.opentelemetry.io/collector/cmd/builder@v$(OCB_VERSION)

## collector: the custom collector, one self-contained binary (Rust linked statically).
collector: lib $(OCB)
	cd collector-config && $(OCB) --config builder-config.yaml

## deps: Elasticsearch and the Claude Code CLI for the end-to-end tests.
deps:
	ES_VERSION=$(ES_VERSION) ES8_VERSION=$(ES8_VERSION) scripts/install-deps.sh

## detections: the Sigma rules converted with pySigma (detections/generate.py):
## detections/rules.ndjson, detections/lucene/, README's rule list; commit the result.
detections: $(VENV)/requirements.txt
	$(VENV)/bin/python detections/generate.py

## The virtual environment of pySigma, pinned in detections/requirements.txt
## (remade when that file changes): make detections and the e2e tests use it.
$(VENV)/requirements.txt: detections/requirements.txt
	[ -x $(VENV)/bin/python ] || python3 -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r $<
	cp $< $@

test-rust:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo test

## The native libraries the Rust staticlib needs must be the ones cgo links (STYLE 2.5).
check-static-libs:
	@want="$$(cargo rustc --release --lib --crate-type staticlib -q -- --print native-static-libs 2>&1 | sed -n 's/.*native-static-libs: //p' | tail -1)"; \
	have="$$(sed -n 's/^#cgo !cowork_ecs_dynamic,linux LDFLAGS: //p' go-shim/internal/cffi/cffi.go)"; \
	if [ "$$want" != "$$have" ]; then echo "cffi.go links '$$have' but the staticlib needs '$$want'"; exit 1; fi; \
	echo "static libs: $$want"

## generate: the processor's mdatagen code (metadata, telemetry, lifecycle
## tests) from go-shim/coworkecsprocessor/metadata.yaml; commit the result.
generate:
	cd go-shim/coworkecsprocessor && go generate ./...

## test-go also runs tests/upstream: reproductions of the collector's own
## persistent queue and exporter behaviour the gateway works around
## (tests/upstream/FINDINGS.md).
test-go: lib check-static-libs
	cd go-shim && test -z "$$(gofmt -l .)" && go vet ./... && go test -race -count=1 ./...
	cd tests/upstream && test -z "$$(gofmt -l .)" && go vet ./... && go test -count=1 ./...

test-c: lib
	mkdir -p $(BUILD)
	cc -std=c11 -Wall -Wextra -Werror -fsanitize=address,undefined -Iinclude tests/c/smoke.c \
		target/release/libcowork_ecs.a -lgcc_s -lutil -lrt -lpthread -lm -ldl -lc -o $(BUILD)/c-smoke
	$(BUILD)/c-smoke testdata/captures/protobuf/logs.pb

## fuzz: cargo-fuzz over the transform (fuzz/), all three signals, seeded
## with the real captures of each.
FUZZ_SECONDS ?= 600
fuzz: cli
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
	cd go-shim && go build -o $(BUILD)/bin/loadgen ./internal/loadgen
	$(BUILD)/bin/loadgen -captures testdata/captures -write-corpus $(BUILD)/fuzz-corpus
	cp testdata/captures/protobuf/logs.pb $(BUILD)/fuzz-corpus/protobuf.pb
	for c in traces content_all; do \
		$(CLI) convert --output proto < testdata/captures/$$c/traces.json > $(BUILD)/fuzz-corpus/$$c-traces.pb; done
	$(CLI) convert --output proto < testdata/captures/content_all/metrics.json > $(BUILD)/fuzz-corpus/content_all-metrics.pb
	cp fuzz/regressions/crash-* $(BUILD)/fuzz-corpus/
	cargo +nightly fuzz run transform $(BUILD)/fuzz-corpus -- -max_total_time=$(FUZZ_SECONDS) -max_len=262144 -rss_limit_mb=4096

## test-fuzz: the fuzz target briefly, as part of make test.
test-fuzz:
	$(MAKE) fuzz FUZZ_SECONDS=45

test-e2e: collector cli deps $(VENV)/requirements.txt
	ES_VERSION=$(ES_VERSION) ES8_VERSION=$(ES8_VERSION) python3 -m pytest -v tests/e2e

## test: every test; this is the command CI runs.
test: test-rust test-go test-c test-fuzz test-e2e

## run: the whole path end to end on this machine, with a table of the documents.
run: collector cli deps
	python3 tests/e2e/demo.py

bench: lib
	cargo bench --bench transform --bench scale
	cd go-shim && go test -run '^$$' -bench . -benchmem ./coworkecsprocessor/

## bench-cli: the CLI's transform against its own convert, and its memory on 1,000,000 tiny records.
bench-cli: cli
	python3 tests/e2e/bench_cli.py

## bench-collector: the processor's cost inside the real collector (one core), same run.
bench-collector: collector
	cd go-shim && go build -o $(BUILD)/bin/loadgen ./internal/loadgen
	python3 tests/e2e/bench_collector.py

## bench-collector-traces: the same for the traces path (spans from the captures).
bench-collector-traces: collector
	cd go-shim && go build -o $(BUILD)/bin/loadgen ./internal/loadgen
	BENCH_SIGNAL=traces python3 tests/e2e/bench_collector.py

## bench-gateway: the shipped gateway (its queue fsync on, and off) against the previous release's, interleaved, one run.
bench-gateway: collector cli deps
	python3 tests/e2e/bench_gateway.py

## scale-verify: SCALE_RECORDS (default 1,000,000) Claude records through the
## sealing gateway (SCALE_SENDERS senders, SCALE_PER_REQUEST per request) into
## a secured Elasticsearch, then `cowork-ecs verify` over them under
## /usr/bin/time -v: its wall time and peak RSS; report in build/scale-verify.json.
scale-verify: collector cli deps
	python3 tests/e2e/scale_verify.py

## install: the gateway on a Linux host (README "Rolling out"): the collector
## and the CLI in $(PREFIX)/bin, the configs and gateway.env in
## $(PREFIX)/etc/cowork-ecs (gateway.env and credentials/ are never
## overwritten), the unit in $(PREFIX)/lib/systemd/system with these paths
## in it, its user in $(PREFIX)/lib/sysusers.d, and the emitters'
## otelHeadersHelper in $(PREFIX)/share/cowork-ecs. Builds only what is missing.
PREFIX  ?= /usr/local
CONFDIR := $(PREFIX)/etc/cowork-ecs
install:
	test -x $(COLLECTOR) || $(MAKE) collector
	test -x $(CLI) || $(MAKE) cli
	install -d $(PREFIX)/bin $(CONFDIR)/systemd $(PREFIX)/lib/systemd/system $(PREFIX)/lib/sysusers.d $(PREFIX)/share/cowork-ecs
	install -d -m 0700 $(CONFDIR)/credentials
	install -m 0755 $(COLLECTOR) $(CLI) $(PREFIX)/bin/
	install -m 0644 collector-config/gateway.yaml collector-config/gateway-multitenant.yaml $(CONFDIR)/
	install -m 0644 collector-config/systemd/credentials*.yaml $(CONFDIR)/systemd/
	test -e $(CONFDIR)/gateway.env || install -m 0600 collector-config/systemd/gateway.env $(CONFDIR)/gateway.env
	sed -e 's|@BINDIR@|$(PREFIX)/bin|g' -e 's|@CONFDIR@|$(CONFDIR)|g' collector-config/systemd/cowork-ecs-gateway.service \
		> $(PREFIX)/lib/systemd/system/cowork-ecs-gateway.service
	chmod 0644 $(PREFIX)/lib/systemd/system/cowork-ecs-gateway.service
	install -m 0644 collector-config/systemd/cowork-ecs.sysusers $(PREFIX)/lib/sysusers.d/cowork-ecs.conf
	install -m 0755 collector-config/otel-headers-helper.sh $(PREFIX)/share/cowork-ecs/

clean:
	cargo clean
	rm -rf $(BUILD) collector-config/_build $(CFFI_LIB_DIR) $(CFFI_INCLUDE_DIR)
