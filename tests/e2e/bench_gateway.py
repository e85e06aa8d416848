"""`make bench-gateway`: throughput of the durable gateway
(collector-config/gateway.yaml) against the previous release's gateway
(tests/e2e/bench/gateway-previous.yaml), measured in the same run on one
real Elasticsearch, interleaved rounds.

Each round sends RECORDS Claude Code records in requests of 100 from
SENDERS concurrent OTLP/HTTP senders as fast as the gateway acknowledges,
then waits until all are searchable. It prints acknowledged records/s
(the receiver's side) and end-to-end records/s (until indexed) per config,
and the ratio durable / previous. Only loopback; every wait is bounded.
"""

import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from test_delivery import claude_request, counts  # noqa: E402

RECORDS = int(os.environ.get("BENCH_RECORDS", "20000"))
SENDERS = int(os.environ.get("BENCH_SENDERS", "4"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))
CONFIGS = {
    "durable": h.GATEWAY_CONFIG,
    "previous": Path(__file__).resolve().parent / "bench" / "gateway-previous.yaml",
}


def one_round(es, workdir, name, config, tag):
    collector = h.Collector(workdir, es.url, "bench-token", config=config, name=f"{name}-{tag}").start()
    bodies = [json.dumps(claude_request(tag, first, 100)).encode() for first in range(0, RECORDS, 100)]
    acked = [0] * SENDERS

    def send(i):
        for body in bodies[i::SENDERS]:
            for _ in range(600):
                if collector.post_logs(body, "application/json")[0] == 200:
                    acked[i] += 100
                    break
                time.sleep(0.5)

    try:
        start = time.monotonic()
        threads = [threading.Thread(target=send, args=(i,)) for i in range(SENDERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(600)
        acked_s = time.monotonic() - start
        h.wait_until(f"{RECORDS} indexed", lambda: counts(es, tag)[1] >= RECORDS, 600, interval=0.5)
        indexed_s = time.monotonic() - start
    finally:
        collector.stop()
    docs, distinct = counts(es, tag)
    return sum(acked) / acked_s, RECORDS / indexed_s, docs, distinct


def main():
    workdir = tempfile.mkdtemp(prefix="cowork-ecs-bench-")
    es = h.Elasticsearch(workdir).start()
    results = {name: [] for name in CONFIGS}
    try:
        for r in range(ROUNDS):
            for name, config in CONFIGS.items():
                ack, e2e, docs, distinct = one_round(es, workdir, name, config, f"bench_{name}_{r}")
                results[name].append((ack, e2e))
                print(f"round {r} {name:9s} acknowledged {ack:8.0f} rec/s  indexed {e2e:8.0f} rec/s  "
                      f"docs {docs} distinct {distinct}", flush=True)
    finally:
        es.stop()
    best = {n: (max(a for a, _ in v), max(e for _, e in v)) for n, v in results.items()}
    print(f"\n{RECORDS} records/round, {SENDERS} senders, best of {ROUNDS}:")
    for n, (a, e) in best.items():
        print(f"  {n:9s} acknowledged {a:8.0f} rec/s  indexed {e:8.0f} rec/s")
    print(f"  ratio durable/previous: acknowledged {best['durable'][0] / best['previous'][0]:.2f}x, "
          f"indexed {best['durable'][1] / best['previous'][1]:.2f}x")


if __name__ == "__main__":
    main()
