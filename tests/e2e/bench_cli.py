"""`make bench-cli`: the CLI's transform against its own `convert` (the
prost round trip of the same bytes), same run (issue 17).

- 20,000 real records (every capture's records, repeated in order under one
  Claude Code resource), protobuf in and out: the median of 7 interleaved
  runs of each; target transform <= 1.0x convert.
- 1,000,000 tiny records (a timestamp and an event name each, under one
  Claude Code resource): the peak resident memory of `transform --output
  proto` against the input's size; target <= 4x the input + 64 MiB (the
  output alone is about 10x, as each record gains its ECS fields: the CLI
  streams it, src/bin/cowork-ecs/chunks.rs).
"""

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / "target" / "release" / "cowork-ecs"
CAPTURES = ROOT / "testdata" / "captures"
MIB = 1 << 20


def run(args, stdin_path):
    """Runs the CLI on a file: (seconds, peak RSS bytes, stdout size)."""
    with open(stdin_path, "rb") as stdin, tempfile.TemporaryFile() as out:
        start = time.perf_counter()
        proc = subprocess.Popen([str(CLI), *args], stdin=stdin, stdout=out, stderr=subprocess.PIPE)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode != 0:
            sys.exit(f"{args}: exit {proc.returncode}: {proc.stderr.read().decode(errors='replace')}")
        return elapsed, usage.ru_maxrss * 1024, out.seek(0, os.SEEK_END)


def real_records(path, count=20_000):
    template, records = None, []
    for case in sorted(CAPTURES.iterdir()):
        logs = case / "logs.json"
        if not logs.exists():
            continue
        req = json.loads(logs.read_text())
        template = template or req
        for rl in req["resourceLogs"]:
            for sl in rl["scopeLogs"]:
                records += sl["logRecords"]
    rl = template["resourceLogs"][0]
    batch = [records[i % len(records)] for i in range(count)]
    req = {"resourceLogs": [{**rl, "scopeLogs": [{**rl["scopeLogs"][0], "logRecords": batch}]}]}
    proc = subprocess.run([str(CLI), "convert", "--output", "proto"], input=json.dumps(req).encode(),
                          capture_output=True, check=True)
    path.write_bytes(proc.stdout)


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(tag, payload):
    return varint(tag << 3 | 2) + varint(len(payload)) + payload


def tiny_records(path, count=1_000_000):
    """As benches/scale.rs builds them, written without a protobuf library."""
    kv = lambda k, v: field(1, k.encode()) + field(2, field(1, v.encode()))
    record = field(2, b"\x09" + (1).to_bytes(8, "little") + field(6, kv("event.name", "user_prompt")))
    resource = field(1, field(1, kv("service.name", "claude-code")))
    scope = field(2, record * count)
    path.write_bytes(field(1, resource + scope))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        real, tiny = Path(tmp) / "real.pb", Path(tmp) / "tiny.pb"
        real_records(real)
        tiny_records(tiny)
        times = {"convert": [], "transform": []}
        for _ in range(7):
            for name in times:
                times[name].append(run([name, "--output", "proto"], real)[0])
        convert, transform = (statistics.median(times[n]) for n in ("convert", "transform"))
        print(f"[bench-cli] 20,000 real records ({real.stat().st_size / MIB:.1f} MiB): convert {convert * 1000:.0f} ms, "
              f"transform {transform * 1000:.0f} ms = {transform / convert:.2f}x convert (target <= 1.0x)")
        size = tiny.stat().st_size
        _, base_rss, _ = run(["convert", "--output", "proto"], tiny)
        _, rss, out = run(["transform", "--output", "proto"], tiny)
        limit = 4 * size + 64 * MIB
        print(f"[bench-cli] 1,000,000 tiny records: input {size / MIB:.1f} MiB, output {out / MIB:.1f} MiB "
              f"({out / size:.1f}x the input: each record gains its ECS fields); transform peak RSS {rss / MIB:.0f} MiB = "
              f"{rss / size:.1f}x the input (limit 4x + 64 MiB = "
              f"{limit / MIB:.0f} MiB: {'met' if rss <= limit else 'NOT met'}); convert peak RSS {base_rss / MIB:.0f} MiB")


if __name__ == "__main__":
    main()
