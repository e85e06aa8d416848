#!/usr/bin/env bash
# Installs what the end-to-end tests need and a fresh machine lacks, into
# ./build (idempotent; only package registries are used):
#   - Elasticsearch $ES_VERSION, the integ-test-zip distribution from Maven Central (via mvn);
#   - the Claude Code CLI, pinned in tests/e2e/package.json (npm ci; the native
#     binary ships inside its platform package).
set -euo pipefail
cd "$(dirname "$0")/.."
ES_VERSION=${ES_VERSION:?set ES_VERSION}
BUILD=$PWD/build
mkdir -p "$BUILD"

es_home=$BUILD/elasticsearch-$ES_VERSION
if [ ! -x "$es_home/bin/elasticsearch" ]; then
  echo "install-deps: Elasticsearch $ES_VERSION (Maven Central integ-test-zip)"
  mvn -q -B dependency:copy \
    -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$ES_VERSION:zip" \
    -DoutputDirectory="$BUILD/downloads"
  rm -rf "$es_home.tmp" && mkdir -p "$es_home.tmp"
  (cd "$es_home.tmp" && unzip -q "$BUILD/downloads/elasticsearch-$ES_VERSION.zip")
  mv "$es_home.tmp/elasticsearch-$ES_VERSION" "$es_home" && rm -rf "$es_home.tmp"
fi

if [ ! -x tests/e2e/node_modules/@anthropic-ai/claude-code-linux-x64/claude ] \
   && [ ! -x tests/e2e/node_modules/@anthropic-ai/claude-code-linux-arm64/claude ]; then
  echo "install-deps: Claude Code CLI (npm ci in tests/e2e)"
  (cd tests/e2e && npm ci --no-audit --no-fund --ignore-scripts)
fi

python3 -c 'import pytest' 2>/dev/null || python3 -m pip install --quiet 'pytest>=8'
echo "install-deps: ok"
