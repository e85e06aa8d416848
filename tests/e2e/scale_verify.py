"""`make scale-verify`: `cowork-ecs verify` at scale, its time and its peak
memory (the target: 1,000,000 sealed documents verified with a peak
resident set under 256 MiB).

One secured Elasticsearch (the suite's: TLS, API keys of the README's
roles, `cowork-ecs setup`) and the shipped gateway (collector-config/
gateway.yaml) sealing with the suite's signing key; its queue's fsync is
off (COWORK_ECS_QUEUE_FSYNC=false) so that loading is faster: the seals
are the same. SCALE_RECORDS Claude Code tool_result records
(tests/e2e/test_delivery.py's claude_request) in sessions of
SCALE_SESSION_RECORDS, sent in requests of SCALE_PER_REQUEST from
SCALE_SENDERS concurrent OTLP/HTTP senders; a session straddles two
requests where the sizes do not divide, so its records are in two seals.
The records carry the time they are sent (not claude_request's fixed
2023 time), so the run is one window: `verify --since <start of the run>`.
Once every record is searchable the gateway is stopped gracefully (its
closing seal; one it had no time to send goes with the next start on the
same queue, as tests/e2e/test_signing.py does), then verify runs over the
whole window under /usr/bin/time -v (else wait4's rusage): wall time,
maximum resident set size, exit code, verdict.

Prints a report and writes it to build/scale-verify.json (verify's output
to build/scale-verify.out). Exits 1 when verify does not say intact or a
count is wrong (records indexed != sent, no closing seal, fewer batch seals
than requests) and when verify's peak RSS is not under SCALE_RSS_LIMIT_MIB
(default 256; SCALE_ENFORCE_RSS=0 only reports it). Only loopback; every wait is bounded;
Elasticsearch, the gateway and the temporary directories are removed at
the end.
"""

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness as h  # noqa: E402
from test_delivery import claude_request  # noqa: E402

RECORDS = int(os.environ.get("SCALE_RECORDS", "1000000"))
SENDERS = int(os.environ.get("SCALE_SENDERS", "4"))
PER_REQUEST = int(os.environ.get("SCALE_PER_REQUEST", "1000"))
SESSION_RECORDS = int(os.environ.get("SCALE_SESSION_RECORDS", "80"))
RSS_LIMIT_MIB = float(os.environ.get("SCALE_RSS_LIMIT_MIB", "256"))
ENFORCE_RSS = os.environ.get("SCALE_ENFORCE_RSS", "1") != "0"
# Bounds: loading (send + index) and verify.
INDEX_TIMEOUT = int(os.environ.get("SCALE_INDEX_TIMEOUT", str(600 + RECORDS // 250)))
VERIFY_TIMEOUT = int(os.environ.get("SCALE_VERIFY_TIMEOUT", str(600 + RECORDS // 250)))
PROGRESS_S = 15
INDEX = "logs-claude_code.events.otel-*"
SEALS = "logs-cowork_ecs.seals-*"
TOKEN = "scale-verify-token"
REPORT = h.BUILD / "scale-verify.json"
VERIFY_OUT = h.BUILD / "scale-verify.out"
TIME = "/usr/bin/time"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def request_body(r, base_ns):
    """Request number r: records r*PER_REQUEST.. of the run, record g of
    session g // SESSION_RECORDS with event.sequence g % SESSION_RECORDS + 1,
    one resource per session (claude_request's), time base_ns + g µs."""
    first, last = r * PER_REQUEST, min(RECORDS, (r + 1) * PER_REQUEST)
    resource_logs = []
    g = first
    while g < last:
        session, seq = divmod(g, SESSION_RECORDS)
        count = min(last - g, SESSION_RECORDS - seq)
        req = claude_request(f"scale{session:07d}", seq + 1, count)
        for i, rec in enumerate(req["resourceLogs"][0]["scopeLogs"][0]["logRecords"]):
            rec["timeUnixNano"] = str(base_ns + (g + i) * 1000)
        resource_logs += req["resourceLogs"]
        g += count
    return json.dumps({"resourceLogs": resource_logs}).encode()


class Senders:
    """SENDERS threads, sender i sending requests i, i+SENDERS, ...; a
    request refused with a retryable status or a connection error is sent
    again (bounded), as an OTLP exporter does."""

    def __init__(self, collector, base_ns):
        self.collector, self.base_ns = collector, base_ns
        self.requests = (RECORDS + PER_REQUEST - 1) // PER_REQUEST
        self.acked = [0] * SENDERS
        self.acked_requests = [0] * SENDERS
        self.retried = [0] * SENDERS
        self.errors = []
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(SENDERS)]

    def post(self, body):
        # The harness's post_logs waits 30 s: a request that took longer but
        # was taken would be sent twice. Plaintext listener (tls=False).
        return h.http("POST", f"{self.collector.otlp_http}/v1/logs", body,
                      {"content-type": "application/json", "authorization": f"Bearer {TOKEN}"}, timeout=300)[0]

    def run(self, i):
        try:
            for r in range(i, self.requests, SENDERS):
                body = request_body(r, self.base_ns)
                n = min(RECORDS, (r + 1) * PER_REQUEST) - r * PER_REQUEST
                deadline = time.monotonic() + 600
                while True:
                    try:
                        status = self.post(body)
                    except OSError:
                        status = None
                    if status == 200:
                        self.acked[i] += n
                        self.acked_requests[i] += 1
                        break
                    if status not in (None, 429, 502, 503, 504) or time.monotonic() > deadline:
                        raise RuntimeError(f"request {r} refused for good: {status}")
                    self.retried[i] += 1
                    time.sleep(1)
        except Exception as e:  # reported by main
            self.errors.append(f"sender {i}: {e}")

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def alive(self):
        return any(t.is_alive() for t in self.threads)


def search(es, index, body):
    status, text = h.http("POST", f"{es.url}/{index}/_search", body, timeout=120)
    if status == 404:
        return {}
    if status != 200:
        raise RuntimeError(f"search {index}: {status} {text[:1000]!r}")
    return json.loads(text)


def record_count(es):
    """Documents in the events data stream."""
    h.http("POST", f"{es.url}/{INDEX}/_refresh", timeout=120)
    status, text = h.http("POST", f"{es.url}/{INDEX}/_count", {"query": {"match_all": {}}}, timeout=120)
    if status == 404:
        return 0
    if status != 200:
        raise RuntimeError(f"count {INDEX}: {status} {text[:1000]!r}")
    return json.loads(text)["count"]


def session_count(es):
    """Distinct session ids in the events data stream, exactly (a composite
    aggregation, paged)."""
    sessions, after = 0, None
    for _ in range(10000):
        comp = {"size": 10000, "sources": [{"s": {"terms": {"field": "claude_code.events.session.id"}}}]}
        if after:
            comp["after"] = after
        res = search(es, INDEX, {"size": 0, "aggs": {"sessions": {"composite": comp}}})
        agg = res.get("aggregations", {}).get("sessions", {})
        sessions += len(agg.get("buckets", []))
        after = agg.get("after_key")
        if not agg.get("buckets") or not after:
            return sessions
    raise RuntimeError("too many sessions to count")


def seal_counts(es):
    """{kind: seals} and the number of chains in the seals data stream."""
    h.http("POST", f"{es.url}/{SEALS}/_refresh", timeout=120)
    res = search(es, SEALS, {"size": 0, "track_total_hits": True, "aggs": {
        "kind": {"terms": {"field": "cowork_ecs.seal.kind", "size": 20}},
        "chains": {"cardinality": {"field": "cowork_ecs.seal.chain"}}}})
    if not res:
        return {}, 0
    kinds = {b["key"]: b["doc_count"] for b in res["aggregations"]["kind"]["buckets"]}
    return kinds, res["aggregations"]["chains"]["value"]


def rss_mib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def tree_rss_mib(pid):
    """RSS of pid and its children (Elasticsearch runs under runuser)."""
    total = rss_mib(pid)
    for children in Path(f"/proc/{pid}/task").glob("*/children"):  # any thread may have forked
        try:
            total += sum(tree_rss_mib(int(child)) for child in children.read_text().split())
        except OSError:
            pass
    return total


def stop_and_deliver_the_closing_seal(es, collector):
    """A graceful stop (SIGTERM): the closing seal is queued like any
    record; one the exporter had no time to send before the stop goes with
    the next start on the same queue (then stopped again)."""
    collector.stop()
    try:
        h.wait_until("the closing seal", lambda: seal_counts(es)[0].get("closing", 0) >= 1, 30, interval=1)
        return False
    except TimeoutError:
        log("closing seal not sent before the stop: starting the gateway again on its queue")
        collector.start(keep_queue=True)
        try:
            h.wait_until("the closing seal, sent by the next start",
                         lambda: seal_counts(es)[0].get("closing", 0) >= 1, 120, interval=1)
        finally:
            collector.stop()
        return True


def run_verify(cmd, out_path, err_path, rusage_file):
    """Runs cmd (bounded); returns (exit code, wall s, peak RSS MiB, how measured)."""
    timed = os.access(TIME, os.X_OK)
    full = [TIME, "-v", "-o", str(rusage_file), *cmd] if timed else cmd
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen(full, stdout=out, stderr=err, env={"PATH": "/usr/bin:/bin"}, start_new_session=True)
        deadline = started + VERIFY_TIMEOUT
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, 9)
                os.wait4(proc.pid, 0)
                raise TimeoutError(f"verify still running after {VERIFY_TIMEOUT}s (killed)")
            time.sleep(0.05)
        wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    if timed:
        text = rusage_file.read_text(errors="replace")
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
        w = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
        peak = int(m.group(1)) / 1024 if m else usage.ru_maxrss / 1024
        if w:  # /usr/bin/time's own wall clock (the same run, without our polling)
            parts = [float(p) for p in w.group(1).split(":")]
            wall = sum(p * 60 ** i for i, p in enumerate(reversed(parts)))
        how = "/usr/bin/time -v (Maximum resident set size)"
    else:
        peak = usage.ru_maxrss / 1024
        how = "wait4 rusage ru_maxrss"
    return proc.returncode, wall, peak, how


def verdict(code, out_lines, err_text):
    """One line: what verify said, by its chain and session lines (as
    tests/e2e/demo.py's verdict)."""
    chains = [line for line in out_lines if line.startswith("chain ")]
    sessions = [line for line in out_lines if line.startswith("session ")]
    intact = sum(1 for line in sessions if ": intact" in line)
    head = f"{len(chains)} chain(s) of seals, {len(sessions)} session(s) ({intact} intact)"
    if code == 0:
        return f"intact: {head}"
    problem = next((line.strip() for line in out_lines if line.startswith("  ")),
                   (out_lines[-1] if out_lines else "") or err_text.strip()[-300:])
    return f"NOT intact (exit {code}): {head}; first problem: {problem}"


def sha256_prefix(path):
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]
    except OSError:
        return None


def main():
    for binary in (h.COLLECTOR, h.CLI):
        if not binary.exists():
            raise FileNotFoundError(f"{binary} missing (make collector cli)")
    run_started = time.time()
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(run_started - 60))
    requests = (RECORDS + PER_REQUEST - 1) // PER_REQUEST
    sessions_expected = (RECORDS + SESSION_RECORDS - 1) // SESSION_RECORDS
    log(f"scale-verify: {RECORDS} records, {sessions_expected} sessions of {SESSION_RECORDS}, "
        f"{requests} requests of {PER_REQUEST}, {SENDERS} senders; gateway queue fsync OFF "
        f"(COWORK_ECS_QUEUE_FSYNC=false: faster loading, same seals)")
    workdir = tempfile.mkdtemp(prefix="cowork-ecs-scale-")
    # The binaries pinned for the run (copies): a rebuild meanwhile (make
    # collector cli) changes nothing of it, and the digests name what ran.
    try:
        for name in ("COLLECTOR", "CLI"):
            copy = Path(workdir) / "bin" / getattr(h, name).name
            copy.parent.mkdir(exist_ok=True)
            shutil.copy2(getattr(h, name), copy)
            setattr(h, name, copy)
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    pki = es = collector = None
    report = {"records_requested": RECORDS, "senders": SENDERS, "per_request": PER_REQUEST,
              "session_records": SESSION_RECORDS, "queue_fsync": False, "elasticsearch": h.ES_VERSION,
              "elasticsearch_heap": "512m", "since": since, "machine": {
                  "cpus": os.cpu_count(), "mem_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
                  "kernel": platform.release()},
              "git_head": subprocess.run(["git", "-C", str(h.ROOT), "rev-parse", "HEAD"], capture_output=True,
                                         text=True).stdout.strip(),
              "cli_sha256": sha256_prefix(h.CLI), "collector_sha256": sha256_prefix(h.COLLECTOR)}
    failures = []
    try:
        pki = h.test_pki()
        es = h.Elasticsearch(workdir, secure=True)
        log(f"Elasticsearch {h.ES_VERSION} (secured) starting ...")
        es.start()
        _, verify_key = es.api_key("cowork-ecs-verify", "verify.json")  # the README's read-only role
        collector = h.Collector(workdir, es.url, TOKEN, name="gateway", tls=False,
                                env={"COWORK_ECS_QUEUE_FSYNC": "false"}).start()
        log(f"gateway up ({collector.otlp_http}, signing key {pki / 'signing.pem'})")

        # 1. Load.
        senders = Senders(collector, time.time_ns())
        started = time.monotonic()
        senders.start()
        deadline = started + INDEX_TIMEOUT
        acked_s = None
        indexed = 0
        next_progress = started + PROGRESS_S
        while True:
            time.sleep(1)
            now = time.monotonic()
            if acked_s is None and not senders.alive():
                acked_s = now - started
            indexed = record_count(es)
            if senders.errors:
                raise RuntimeError("; ".join(senders.errors))
            done = acked_s is not None and indexed >= RECORDS
            if now >= next_progress or done:
                next_progress += PROGRESS_S
                elapsed = now - started
                log(f"  {elapsed:6.0f}s acknowledged {sum(senders.acked):8d}  indexed {indexed:8d} "
                    f"({indexed / elapsed:6.0f} rec/s)  retried {sum(senders.retried)}  "
                    f"gateway RSS {rss_mib(collector.proc.pid):.0f} MiB  ES RSS {tree_rss_mib(es.proc.pid):.0f} MiB")
            if done:
                break
            if now > deadline:
                raise TimeoutError(f"{indexed} of {RECORDS} records indexed after {INDEX_TIMEOUT}s "
                                   f"({sum(senders.acked)} acknowledged)")
        load_s = time.monotonic() - started
        report.update(acknowledged=sum(senders.acked), requests=sum(senders.acked_requests),
                      retried=sum(senders.retried), acknowledge_seconds=round(acked_s, 1),
                      load_seconds=round(load_s, 1), load_records_per_second=round(RECORDS / load_s))
        log(f"loaded: {RECORDS} records acknowledged in {acked_s:.0f}s, all indexed in {load_s:.0f}s")

        # 2. The gateway stopped gracefully: its closing seal.
        restarted = stop_and_deliver_the_closing_seal(es, collector)
        kinds, chains = seal_counts(es)
        docs, sessions = record_count(es), session_count(es)
        report.update(records_indexed=docs, sessions=sessions, seals=sum(kinds.values()), seals_by_kind=kinds,
                      chains=chains, closing_seal_sent_by_restart=restarted)
        log(f"records {docs}, sessions {sessions}, seals {sum(kinds.values())} {kinds}, chains {chains}")
        if docs != RECORDS:
            failures.append(f"records indexed {docs} != {RECORDS}")
        if sessions != sessions_expected:
            failures.append(f"sessions {sessions} != {sessions_expected}")
        if kinds.get("batch", 0) < requests:
            failures.append(f"batch seals {kinds.get('batch', 0)} < requests {requests}")
        if kinds.get("closing", 0) < 1:
            failures.append("no closing seal")

        # 3. Verify the whole window.
        cmd = [str(h.CLI), "verify", "--elasticsearch", es.url, "--api-key", verify_key,
               "--ca-file", str(pki / "ca.crt"), "--public-key", str(pki / "signing.pub.pem"),
               "--revoked-key", str(pki / "signing_revoked.pub.pem"), "--since", since, "--until", "now"]
        h.BUILD.mkdir(parents=True, exist_ok=True)
        err_path = Path(workdir) / "verify.err"
        log(f"verify: {' '.join(c if c != verify_key else '<read-only api key>' for c in cmd)}")
        code, wall, peak, how = run_verify(cmd, VERIFY_OUT, err_path, Path(workdir) / "verify.time")
        out_lines = VERIFY_OUT.read_text(errors="replace").splitlines()
        err_text = err_path.read_text(errors="replace")
        line = verdict(code, out_lines, err_text)
        report.update(verify_exit_code=code, verify_wall_seconds=round(wall, 2), verify_peak_rss_mib=round(peak, 1),
                      verify_rss_measured_by=how, verify_verdict=line,
                      verify_output_tail=out_lines[-5:], verify_stderr_tail=err_text.strip().splitlines()[-5:],
                      verify_output_lines=len(out_lines), rss_limit_mib=RSS_LIMIT_MIB,
                      peak_rss_under_limit=peak < RSS_LIMIT_MIB)
        if code != 0:
            failures.append(f"verify exited {code}")
        if ENFORCE_RSS and peak >= RSS_LIMIT_MIB:
            failures.append(f"verify's peak RSS {peak:.1f} MiB >= {RSS_LIMIT_MIB:g} MiB")
    except BaseException as e:
        failures.append(f"{type(e).__name__}: {e}")
        if collector is not None:
            print("----- gateway log (tail) -----\n" + collector.logs(40), flush=True)
        raise
    finally:
        for stop in (lambda: collector and collector.stop(), lambda: es and es.stop()):
            try:
                stop()
            except Exception as e:  # keep tearing down
                print(f"stop: {e}", file=sys.stderr)
        shutil.rmtree(workdir, ignore_errors=True)
        if pki is not None:
            shutil.rmtree(pki, ignore_errors=True)
        report["failures"] = failures
        report["ok"] = not failures
        h.BUILD.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(report, indent=1) + "\n")

    print(f"\nscale-verify ({RECORDS} records; cowork-ecs sha256 {report['cli_sha256']}, "
          f"collector {report['collector_sha256']}):")
    print(f"  records indexed     {report['records_indexed']} in {report['sessions']} sessions "
          f"(load {report['load_seconds']}s, {report['load_records_per_second']} rec/s, queue fsync off)")
    print(f"  seals indexed       {report['seals']} {report['seals_by_kind']} in {report['chains']} chain(s)")
    print(f"  verify wall time    {report['verify_wall_seconds']} s")
    print(f"  verify peak RSS     {report['verify_peak_rss_mib']} MiB ({report['verify_rss_measured_by']})")
    print(f"  under {RSS_LIMIT_MIB:g} MiB        {'yes' if report['peak_rss_under_limit'] else 'NO'}")
    print(f"  verify exit code    {report['verify_exit_code']}")
    print(f"  verdict             {report['verify_verdict']}")
    print("  verify's last lines:")
    for line in report["verify_output_tail"] + report["verify_stderr_tail"]:
        print(f"    {line}")
    print(f"  report: {REPORT} (verify's output: {VERIFY_OUT})")
    if failures:
        print("FAILED: " + "; ".join(failures))
        return 1
    print("OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
