"""`make bench-collector`: what the cowork_ecs processor costs inside the
real collector, measured as a user would.

The ocb-built collector runs pinned to core 0 (`taskset`, so the Go runtime
uses one core) with an `otlp` receiver and a `debug` exporter; the Go load
generator (go-shim/internal/loadgen) runs pinned to core 1 and POSTs
OTLP/HTTP protobuf requests built from the real captures. Two pipelines
are compared in interleaved rounds of the same run:

- `none`:       otlp → debug
- `cowork_ecs`: otlp → cowork_ecs → debug

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
    config.write_text(CONFIG.format(port=port, signal=SIGNAL,
                                    processors="cowork_ecs" if pipeline == "cowork_ecs" else ""))
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
    best = {}
    with tempfile.TemporaryDirectory(prefix="cowork-ecs-bench-") as workdir:
        for r in range(ROUNDS):
            for records, service in cases:
                for pipeline in ("none", "cowork_ecs") if r % 2 == 0 else ("cowork_ecs", "none"):
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
        for pipeline in ("none", "cowork_ecs"):
            m = best[(pipeline, records, service)]
            ratio = m["rate"] / base["rate"]
            print(f"| {records} | {service} | {pipeline} | {m['rate']:.0f} | {m['cpu_per_m']:.2f} | "
                  f"{m['rss']:.0f} | {ratio:.2f}x |")


if __name__ == "__main__":
    main()
