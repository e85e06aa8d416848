"""`make bench-gateway`: throughput of the durable gateway
(collector-config/gateway.yaml) against the previous release's gateway
(tests/e2e/bench/gateway-previous.yaml), measured in the same run on one
real Elasticsearch, interleaved rounds.

Each round sends RECORDS Claude Code records in requests of 100 from
SENDERS concurrent OTLP/HTTP senders as fast as the gateway acknowledges,
then waits until all are searchable. It prints acknowledged records/s
(the receiver's side) and end-to-end records/s (until indexed) per config,
and the ratios durable / no_fsync (what fsync on the queue costs) and
durable / previous. Only loopback; every wait is bounded.
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
INDEX = "logs-claude_code.events.otel-*"


def previous_config(workdir):
    """The previous release's gateway, with the datasets it pinned
    (`claude_code.events`, `claude_cowork.events`, which no template of
    today's setup covers) set to today's, so both write the same data
    streams under the same templates."""
    text = (Path(__file__).resolve().parent / "bench" / "gateway-previous.yaml").read_text()
    for old in ("claude_code.events", "claude_cowork.events"):
        text = text.replace(f"dataset: {old}\n", f"dataset: {old}.otel\n")
    path = Path(workdir) / "gateway-previous.yaml"
    path.write_text(text)
    return path

# name: (config, environment). `durable` is the shipped gateway as shipped
# (its queue fsyncs every write); `no_fsync` the same with
# COWORK_ECS_QUEUE_FSYNC=false, to measure what fsync costs (issue 18).
CONFIGS = {
    "durable": (h.GATEWAY_CONFIG, {}),
    "no_fsync": (h.GATEWAY_CONFIG, {"COWORK_ECS_QUEUE_FSYNC": "false"}),
    "previous": (None, {}),
}


def one_round(es, workdir, name, config, env, tag):
    # Plaintext listeners for all three (the previous gateway has no TLS):
    # the rounds differ in their queue only.
    collector = h.Collector(workdir, es.url, "bench-token", config=config, name=f"{name}-{tag}", env=env,
                            tls=False).start()
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
        h.wait_until(f"{RECORDS} indexed", lambda: counts(es, tag, INDEX)[1] >= RECORDS, 600, interval=0.5)
        indexed_s = time.monotonic() - start
    finally:
        collector.stop()
    docs, distinct = counts(es, tag, INDEX)
    return sum(acked) / acked_s, RECORDS / indexed_s, docs, distinct


def main():
    workdir = tempfile.mkdtemp(prefix="cowork-ecs-bench-")
    es = h.Elasticsearch(workdir).start()
    results = {name: [] for name in CONFIGS}
    try:
        for r in range(ROUNDS):
            for name, (config, env) in CONFIGS.items():
                config = config or previous_config(workdir)
                ack, e2e, docs, distinct = one_round(es, workdir, name, config, env, f"bench_{name}_{r}")
                results[name].append((ack, e2e))
                print(f"round {r} {name:9s} acknowledged {ack:8.0f} rec/s  indexed {e2e:8.0f} rec/s  "
                      f"docs {docs} distinct {distinct}", flush=True)
    finally:
        es.stop()
    best = {n: (max(a for a, _ in v), max(e for _, e in v)) for n, v in results.items()}
    print(f"\n{RECORDS} records/round, {SENDERS} senders, best of {ROUNDS}:")
    for n, (a, e) in best.items():
        print(f"  {n:9s} acknowledged {a:8.0f} rec/s  indexed {e:8.0f} rec/s")
    for other in ("no_fsync", "previous"):
        print(f"  ratio durable/{other}: acknowledged {best['durable'][0] / best[other][0]:.2f}x, "
              f"indexed {best['durable'][1] / best[other][1]:.2f}x")


if __name__ == "__main__":
    main()
