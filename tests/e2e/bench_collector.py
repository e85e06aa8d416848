"""`make bench-collector`: what the cowork_ecs processor costs inside the
real collector, measured as a user would.

The ocb-built collector runs pinned to core 0 (`taskset`, so the Go runtime
uses one core) with an `otlp` receiver and a `debug` exporter; the Go load
generator (go-shim/internal/loadgen) runs pinned to core 1 and POSTs
OTLP/HTTP protobuf requests built from the real captures. Two pipelines
are compared in interleaved rounds of the same run:

- `none`:       otlp → debug
- `cowork_ecs`: otlp → cowork_ecs → debug
- `guarded`:    the same with `queue_guard` on (a directory of the run's
  own, reserve 0, so it never refuses): what the full-disk guard costs
- `signed`:     the same with a signing key (an Ed25519 key the run makes
  with openssl): what sealing costs (README "Tamper evidence")
- `ottl` (logs): otlp → transform → debug, contrib's transform processor
  running the same mapping written in OTTL: the statements are generated
  from docs/mapping.md (the mapping's own generated reference: every event
  class, rename, typed vendor attribute, the fixed fields, the tool
  arguments parsed, prompts' credentials masked, the scope's mapping
  mode). It does less than cowork_ecs (no prefix for unlisted attributes,
  no document ids, no bounds or UTF-8 repair), so the ratio favours it.

for requests of 100, 1,000 and 5,000 Claude Code records, and once more at
1,000 records for a sender that is not Claude (`service.name: billing`),
which the processor must pass on at almost no cost. Each (pipeline, size,
round) gets a fresh collector, so its peak RSS is its own. Printed per row:
records/s, collector CPU-seconds per million records, peak RSS, and the
ratio of cowork_ecs to none. Only loopback; every wait is bounded.

BENCH_SIGNAL=traces (`make bench-collector-traces`) measures the traces
path the same way: spans from the captures' traces.json, a traces
pipeline, otlp → debug against otlp → cowork_ecs → debug.
"""

import json
import re
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SECONDS = float(os.environ.get("BENCH_SECONDS", "8"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "4"))
SIZES = [int(s) for s in os.environ.get("BENCH_SIZES", "100,1000,5000").split(",")]
SIGNAL = os.environ.get("BENCH_SIGNAL", "logs")
# BENCH_PIPELINES=none,cowork_ecs,guarded: a subset, for more rounds in the same time.
PIPELINES = [p for p in os.environ.get("BENCH_PIPELINES", "").split(",") if p]
LOADGEN = ROOT / "build" / "bin" / "loadgen"
TICK = os.sysconf("SC_CLK_TCK")

CONFIG = """
receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:{port}
processors:
  cowork_ecs: {{}}
  cowork_ecs/guarded:
    queue_guard:
      directory: {workdir}
      reserve_mib: 0
      reserve_percent: 0
  cowork_ecs/signed:
    signing:
      key_file: {workdir}/signing.pem
      state_directory: {workdir}/seal-state
{ottl}
exporters:
  debug:
    verbosity: basic
service:
  telemetry:
    metrics:
      level: none
    logs:
      level: warn
  pipelines:
    {signal}:
      receivers: [otlp]
      processors: [{processors}]
      exporters: [debug]
"""


MAPPING = ROOT / "docs" / "mapping.md"
VENDOR = "claude_code.events."


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def table(section):
    """The rows of the markdown tables under `section` in docs/mapping.md."""
    rows, inside = [], False
    for line in MAPPING.read_text().splitlines():
        if line.startswith("## "):
            inside = line.startswith(section)
        elif inside and line.startswith("| `"):
            rows.append([c.strip() for c in line.strip("|").split("|")])
    return rows


def convert(expr, kind):
    return {"long": f"Int({expr})", "double": f"Double({expr})", "boolean": f"Bool({expr})"}.get(kind, expr)


def ottl_statements():
    """The mapping of Claude Code log records as OTTL (see the module doc)."""
    log = []
    for name, category, etype, outcome in table("## 1."):
        name = name.strip("`")
        if category != "—":
            cond = f'log.attributes["event.name"] == {q(name)}'
            log += [f'set(log.attributes["event.category"], [{q(category)}]) where {cond}',
                    f'set(log.attributes["event.type"], [{q(etype)}]) where {cond}']
            if outcome == "failure":
                log.append(f'set(log.attributes["event.outcome"], "failure") where {cond}')
    log += ['set(log.attributes["ecs.version"], "9.3.0")', 'set(log.attributes["event.action"], log.attributes["event.name"])',
            'set(log.attributes["event.kind"], "event")', 'set(log.attributes["event.provider"], "claude-code")',
            'set(log.attributes["gen_ai.provider.name"], "anthropic")', 'set(log.attributes["data_stream.type"], "logs")',
            'set(log.attributes["data_stream.dataset"], "claude_code.events.otel")',
            'set(log.attributes["data_stream.namespace"], "default")',
            'set(log.attributes["event.outcome"], "success") where log.attributes["success"] == "true"',
            'set(log.attributes["event.outcome"], "failure") where log.attributes["success"] == "false"',
            # The default content policy: credentials in prompts masked.
            r'replace_pattern(log.attributes["prompt"], "(?i)((?:password|passwd|secret|token|api[_-]?key)[\\w.-]*\\s*[:=]\\s*)[^\\s\"]+", "$$1[REDACTED:assignment]")',
            r'replace_pattern(log.attributes["prompt"], "(?i)\\b((?:bearer|basic)\\s+)[A-Za-z0-9._~+/=-]{8,}", "$$1[REDACTED:authorization]")',
            'replace_pattern(log.attributes["prompt"], "sk-ant-[A-Za-z0-9_-]{20,}", "[REDACTED:anthropic_api_key]")',
            f'set(log.attributes["gen_ai.tool.call.arguments"], ParseJSON(log.attributes["tool_input"])) where IsMatch(log.attributes["tool_input"], "^\\\\{{")',
            f'set(log.attributes["gen_ai.tool.call.arguments"], ParseJSON(log.attributes["tool_parameters"])) where log.attributes["gen_ai.tool.call.arguments"] == nil and IsMatch(log.attributes["tool_parameters"], "^\\\\{{")',
            'set(log.attributes["gen_ai.tool.name"], log.attributes["tool_name"])',
            'set(log.attributes["related.user"], [log.attributes["user.email"], log.attributes["user.id"]]) where log.attributes["user.email"] != nil']
    moved = []
    for attribute, fields in table("## 2."):
        attribute = attribute.strip("`")
        present = f'log.attributes[{q(attribute)}] != nil'
        if fields in ("long", "double", "boolean", "keyword"):
            log.append(f'set(log.attributes[{q(VENDOR + attribute)}], {convert(f"log.attributes[{q(attribute)}]", fields)}) where {present}')
            moved.append(attribute)
            continue
        for field, kind in re.findall(r"`([^`]+)`\s*\(([^)]*)\)", fields):
            key = field.replace("<prefix>", VENDOR)
            if key != attribute:
                kind = kind.split(",")[0]
                log.append(f'set(log.attributes[{q(key)}], {convert(f"log.attributes[{q(attribute)}]", kind)}) where {present}')
                moved.append(attribute)
    log += [f'delete_key(log.attributes, {q(a)})' for a in dict.fromkeys(moved)]
    return log


def ottl_config():
    lines = ["  transform:", "    error_mode: ignore", "    log_statements:",
             "      - context: scope", "        statements:",
             "          - 'set(scope.attributes[\"elastic.mapping.mode\"], \"ecs\") where resource.attributes[\"service.name\"] == \"claude-code\"'",
             "      - context: log", "        conditions:",
             "          - 'resource.attributes[\"service.name\"] == \"claude-code\"'", "        statements:"]
    lines += ["          - " + yaml_single(s) for s in ottl_statements()]
    return "\n".join(lines)


def yaml_single(s):
    return "'" + s.replace("'", "''") + "'"


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def one_run(workdir, pipeline, records, service):
    port = h.free_port()
    config = Path(workdir) / f"{pipeline}.yaml"
    processors = {"cowork_ecs": "cowork_ecs", "guarded": "cowork_ecs/guarded", "signed": "cowork_ecs/signed",
                  "ottl": "transform"}.get(pipeline, "")
    config.write_text(CONFIG.format(port=port, signal=SIGNAL, processors=processors, workdir=workdir,
                                    ottl=ottl_config() if pipeline == "ottl" else ""))
    log = open(Path(workdir) / f"{pipeline}-{records}.log", "ab")
    proc = subprocess.Popen(["taskset", "-c", "0", str(h.COLLECTOR), "--config", str(config)],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1/{SIGNAL}"

    def ready():
        try:
            req = urllib.request.Request(url, data=b"", headers={"Content-Type": "application/x-protobuf"})
            return urllib.request.urlopen(req, timeout=2).status == 200
        except OSError:
            return False

    try:
        h.wait_until("collector up", ready, 60)
        cpu0 = cpu_seconds(proc.pid)
        out = subprocess.run(
            ["taskset", "-c", "1", str(LOADGEN), "-captures", str(ROOT / "testdata" / "captures"),
             "-endpoint", url, "-records", str(records), "-service", service,
             "-workers", str(WORKERS), "-duration", f"{SECONDS}s", "-signal", SIGNAL],
            check=True, capture_output=True, timeout=SECONDS + 120, text=True)
        cpu = cpu_seconds(proc.pid) - cpu0
        rss = peak_rss_mb(proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    if result["records"] == 0:
        raise RuntimeError(f"{pipeline}/{records}: nothing acknowledged ({result})")
    return {
        "rate": result["records"] / result["seconds"],
        "cpu_per_m": cpu / result["records"] * 1e6,
        "rss": rss,
    }


def main():
    for tool in ("taskset",):
        if subprocess.run(["which", tool], capture_output=True).returncode != 0:
            sys.exit(f"{tool} is required")
    if not LOADGEN.exists():
        sys.exit(f"{LOADGEN} missing (make bench-collector builds it)")
    cases = [(n, "claude-code") for n in SIZES] + [(1000, "billing")]
    if SIGNAL == "traces":
        cases = [(n, "claude-code") for n in SIZES]
    pipelines = PIPELINES or ["none", "cowork_ecs", "guarded", "signed"] + (["ottl"] if SIGNAL == "logs" else [])
    best = {}
    with tempfile.TemporaryDirectory(prefix="cowork-ecs-bench-") as workdir:
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", f"{workdir}/signing.pem"],
                       check=True, capture_output=True, timeout=30)
        for r in range(ROUNDS):
            for records, service in cases:
                for pipeline in pipelines if r % 2 == 0 else pipelines[::-1]:
                    m = one_run(workdir, pipeline, records, service)
                    print(f"round {r + 1} {pipeline:10} {service:11} {records:5}/req: "
                          f"{m['rate']:9.0f} records/s  {m['cpu_per_m']:6.2f} CPU-s/1M  {m['rss']:6.0f} MB",
                          flush=True)
                    key = (pipeline, records, service)
                    if key not in best or m["rate"] > best[key]["rate"]:
                        best[key] = m
    print()
    print("| records/request | sender | pipeline | records/s | CPU-s per 1M records | peak RSS (MB) | ratio |")
    print("|---|---|---|---|---|---|---|")
    for records, service in cases:
        base = best[("none", records, service)]
        for pipeline in pipelines:
            m = best[(pipeline, records, service)]
            ratio = m["rate"] / base["rate"]
            print(f"| {records} | {service} | {pipeline} | {m['rate']:.0f} | {m['cpu_per_m']:.2f} | "
                  f"{m['rss']:.0f} | {ratio:.2f}x |")
        if ("guarded", records, service) in best and ("cowork_ecs", records, service) in best:
            guarded = best[("guarded", records, service)]["rate"] / best[("cowork_ecs", records, service)]["rate"]
            print(f"| {records} | {service} | guarded / cowork_ecs | | | | {guarded:.2f}x |")
        if ("signed", records, service) in best and ("cowork_ecs", records, service) in best:
            signed = best[("signed", records, service)]["rate"] / best[("cowork_ecs", records, service)]["rate"]
            print(f"| {records} | {service} | signed / cowork_ecs | | | | {signed:.2f}x |")
        if ("ottl", records, service) in best:
            vs = best[("cowork_ecs", records, service)]["rate"] / best[("ottl", records, service)]["rate"]
            print(f"| {records} | {service} | cowork_ecs / ottl | | | | {vs:.2f}x |")


if __name__ == "__main__":
    main()
