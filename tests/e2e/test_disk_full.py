"""A full disk never costs an acknowledged record (issue 23, README
"Delivery guarantee"): the shipped gateway with its persistent queue on a
small tmpfs of the test's own, the real collector and a real, secured
Elasticsearch that the test hangs (SIGSTOP):

- the queue fills its filesystem down to the reserve: the sender is
  refused with a retryable status, not acknowledged; Elasticsearch comes
  back; every acknowledged record is indexed exactly once, and the gateway
  accepts again by itself (three runs: it is timing-dependent);
- the disk fills from something else (a file eating the reserve to 0):
  refused while full, accepting again once the file is deleted, without a
  restart;
- kill -9 of the collector while the disk is full, restarted on the same
  queue: nothing acknowledged is lost;
- the logs, traces and metrics pipelines all refuse while full (each has its
  own queue in the same directory).

Every run reports acknowledged, refused, indexed and the lowest free space
seen on the queue's filesystem, and asserts that the store never met ENOSPC.
Mounting a tmpfs needs root (CI runs as root); elsewhere the module is
skipped and says why.
"""

import contextlib
import json
import os
import subprocess
import threading
import time

import pytest

import harness as h
from test_delivery import (RATE, RECORDS, Sender, claude_request, counts, gateway, metric_docs, metrics_request,
                           own_es, search, span, traces_request, wait_exactly_once)

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="mounting the queue's tmpfs needs root (CI runs as root)")

MIB = 1 << 20
RESERVE_MIB = 4
# COWORK_ECS_E2E_BALLAST_MIB=0 runs the suite without the ballast (to see
# what it is for: the run of the closing note of issue 23).
BALLAST_MIB = int(os.environ.get("COWORK_ECS_E2E_BALLAST_MIB", "2"))
# The filesystem holds the reserve plus room for 3 MiB and 256 bytes per
# record of a run: a sealed record takes about 1.2 KB in the queue (2.3 KB
# when each carried a signature of its own), so the queue reaches the
# reserve well before a run's last record while Elasticsearch is hung, and
# its store grows past the compaction threshold below.
TMPFS_MIB = RESERVE_MIB + BALLAST_MIB + 3 + RECORDS * 256 // MIB
ENV = {
    "COWORK_ECS_QUEUE_RESERVE_MIB": str(RESERVE_MIB),
    "COWORK_ECS_QUEUE_RESERVE_PERCENT": "0",
    "COWORK_ECS_QUEUE_BALLAST_MIB": str(BALLAST_MIB),
    # The store is compacted once it grew past 2 MiB and drained below 1 MiB
    # (the needed threshold must be below what the store can reach above the
    # reserve: README "Delivery guarantee").
    "COWORK_ECS_QUEUE_COMPACTION_NEEDED_MIB": "2",
    "COWORK_ECS_QUEUE_COMPACTION_TRIGGER_MIB": "1",
}


class QueueFilesystem:
    """A tmpfs of TMPFS_MIB for the queue, and a thread that records the
    lowest free space seen on it (every 50 ms)."""

    def __init__(self, path):
        self.mount = path
        self.mount.mkdir(parents=True, exist_ok=True)
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={TMPFS_MIB}m,mode=0755", "tmpfs", str(path)], check=True)
        self.queue = self.mount / "queue"
        self.lowest = self.available()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def available(self):
        st = os.statvfs(self.mount)
        return st.f_bavail * st.f_frsize

    def _watch(self):
        while not self._stop.wait(0.05):
            self.lowest = min(self.lowest, self.available())

    def fill(self, name="filler"):
        """Another program's file, written until the filesystem is full."""
        with contextlib.suppress(OSError), open(self.mount / name, "wb") as f:
            while True:
                f.write(b"\0" * (256 * 1024))
                f.flush()
        return self.mount / name

    def close(self):
        self._stop.set()
        self._thread.join(5)
        subprocess.run(["umount", "-l", str(self.mount)], check=False)


@pytest.fixture
def es(own_es):  # noqa: F811 (the module's own Elasticsearch, as test_delivery's)
    return own_es


@pytest.fixture
def disk(tmp_path):
    fs = QueueFilesystem(tmp_path / "queue-fs")
    yield fs
    fs.close()


def start_gateway(es, tmp_path, disk, name):
    return gateway(es, tmp_path, name, env={**ENV, "COWORK_ECS_QUEUE_DIR": str(disk.queue)}).start()


def refused(sender, before=0):
    return lambda: sender.retried > before + 2


def hang_until_refused(es, sender):
    """Elasticsearch hung and the sender started: waits until the queue has
    filled its filesystem to the reserve and the gateway refuses."""
    es.pause()
    sender.start()
    try:
        h.wait_until("the gateway to refuse at the reserve", refused(sender), RECORDS / RATE + 120)
    except TimeoutError as e:
        raise TimeoutError(f"{e}; acknowledged {sender.acked}, retried {sender.retried}") from e


def assert_no_enospc(collector):
    log = collector.log.read_text(errors="replace")
    assert "no space left on device" not in log, "the queue's store met ENOSPC"


def report(run, sender, docs, distinct, disk):
    print(f"\n[disk full] {run}: acknowledged {sender.acked} refused {sender.retried} requests indexed {docs} "
          f"distinct {distinct} duplicated {docs - distinct}; queue filesystem {TMPFS_MIB} MiB, reserve "
          f"{RESERVE_MIB} MiB, lowest free {disk.lowest / MIB:.2f} MiB")


@pytest.mark.parametrize("run", [1, 2, 3])
def test_the_queue_filling_its_disk_refuses_and_loses_nothing(es, tmp_path, disk, run):
    tag = f"disk_full_{run}"
    collector = start_gateway(es, tmp_path, disk, tag)
    sender = Sender(collector, tag, RECORDS)
    try:
        hang_until_refused(es, sender)
        acked_when_full = sender.acked
        queued = sum(f.stat().st_blocks * 512 for f in disk.queue.iterdir()  # allocated, not apparent
                     if f.name != "cowork-ecs-ballast")
        assert acked_when_full < RECORDS, "refused before the sender was done"
        assert disk.available() >= RESERVE_MIB * MIB * 0.75, "the reserve is kept (one interval of writes at most)"
        time.sleep(3)
        assert sender.acked == acked_when_full, "nothing acknowledged while at the reserve"
        es.pause(False)
        sender.join(RECORDS / RATE + 600)
        docs, distinct = wait_exactly_once(es, tag, sender.acked)
        assert_no_enospc(collector)
        assert disk.lowest > 0
        log = collector.log.read_text(errors="replace")
    finally:
        es.pause(False)
        collector.stop()
    report(f"run {run} (full at {acked_when_full} acknowledged, queue files {queued / MIB:.1f} MiB "
           f"= {queued // max(acked_when_full, 1)} bytes per record)", sender, docs, distinct, disk)
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "every acknowledged record exactly once"
    assert "refusing new data" in log and "accepting new data" in log, "the refusal and its end are logged"
    # README "Delivery guarantee", sizing: bytes_per_record's default (2,048)
    # is what a queued record takes, within half of it either way.
    assert 1024 <= queued / acked_when_full <= 3072, queued / acked_when_full


def test_a_disk_filled_by_something_else_refuses_and_resumes_without_a_restart(es, tmp_path, disk):
    """Another program fills the queue's filesystem to 0 while the queue
    holds records and Elasticsearch is hung: the gateway refuses, releases
    its ballast, and, once Elasticsearch is back, delivers and deletes what
    it holds in the ballast's room while the file is still there (the upstream
    queue loses or strands records when a delete or dispatch write fails:
    tests/upstream/FINDINGS.md). Once the file is deleted it accepts again,
    without a restart."""
    tag = "disk_full_other"
    collector = start_gateway(es, tmp_path, disk, tag)
    sender = Sender(collector, tag, RECORDS)
    try:
        if BALLAST_MIB:
            assert (disk.queue / "cowork-ecs-ballast").stat().st_size == BALLAST_MIB * MIB
        es.pause()
        sender.start()
        h.wait_until("records in the queue", lambda: sender.acked >= RECORDS // 8, 120)
        filler = disk.fill()  # until ENOSPC: another program's runaway file
        before = sender.retried
        h.wait_until("the gateway to refuse", refused(sender, before), 60)
        h.wait_until("no ballast", lambda: not (disk.queue / "cowork-ecs-ballast").exists(), 30)
        acked_when_full = sender.acked
        time.sleep(3)
        assert sender.acked == acked_when_full, "nothing acknowledged while the disk is full"
        es.pause(False)  # the file is still there
        drained = wait_exactly_once(es, tag, acked_when_full, timeout=120 if BALLAST_MIB else 60)
        assert sender.acked == acked_when_full, "still refusing: the file is still there"
        filler.unlink()
        sender.join(RECORDS / RATE + 600)
        docs, distinct = wait_exactly_once(es, tag, sender.acked)
        log = collector.log.read_text(errors="replace")
        pid = collector.proc.pid
        assert collector.proc.poll() is None, "the same process, never restarted"
        if BALLAST_MIB:
            h.wait_until("the ballast allocated again", lambda: (disk.queue / "cowork-ecs-ballast").exists(), 30)
    finally:
        es.pause(False)
        collector.stop()
    enospc = log.count("no space left on device")
    report(f"filled by another file at {acked_when_full} acknowledged, drained {drained[0]} with the file still "
           f"there (collector pid {pid} throughout; log lines with ENOSPC, before the guard's next reading: "
           f"{enospc})", sender, docs, distinct, disk)
    assert drained == (acked_when_full, acked_when_full), "delivered while the disk was full, exactly once"
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "every acknowledged record exactly once"
    assert "released the ballast" in log and "accepting new data" in log


def test_kill9_while_the_disk_is_full_then_restart_loses_nothing(es, tmp_path, disk):
    tag = "disk_full_kill9"
    collector = start_gateway(es, tmp_path, disk, tag)
    sender = Sender(collector, tag, RECORDS)
    try:
        hang_until_refused(es, sender)
        filler = disk.fill()  # and then nothing at all is left
        collector.kill()
        time.sleep(2)
        filler.unlink()  # space freed: the restart finds its queue and room for its bookkeeping
        collector.start(keep_queue=True)
        es.pause(False)
        sender.join(RECORDS / RATE + 600)
        docs, distinct = wait_exactly_once(es, tag, sender.acked)
    finally:
        es.pause(False)
        collector.stop()
    report("collector kill -9 while full, restarted on its queue", sender, docs, distinct, disk)
    assert sender.acked == RECORDS
    assert (docs, distinct) == (RECORDS, RECORDS), "every acknowledged record exactly once"


def test_logs_traces_and_metrics_all_refuse_while_full(es, tmp_path, disk):
    tag = "disk_full_signals"
    collector = start_gateway(es, tmp_path, disk, tag)
    requests = {
        "logs": json.dumps(claude_request(tag, 0, 10)).encode(),
        "traces": json.dumps(traces_request(tag, [span(f"claude_code.tool {tag}", [])])).encode(),
        "metrics": json.dumps(metrics_request(tag, 1)).encode(),
    }
    try:
        es.pause()
        for signal, body in requests.items():  # each pipeline's queue holds one request
            assert collector.post(signal, body, "application/json")[0] == 200, signal
        queues = sorted(p.name for p in disk.queue.iterdir())
        filler = disk.fill()
        time.sleep(2)  # the guard reads the filesystem every second
        statuses = {signal: collector.post(signal, body, "application/json")[0] for signal, body in requests.items()}
        filler.unlink()
        es.pause(False)
        h.wait_until("the gateway to accept again", lambda: all(
            collector.post(signal, body, "application/json")[0] == 200 for signal, body in requests.items()), 120)
        h.wait_until("the logs", lambda: counts(es, tag)[1] == 10 or None, 120)
        scenario = {"bool": {"should": [{"term": {"resource.attributes.e2e.scenario": tag}},
                                        {"term": {"e2e.scenario": tag}}]}}
        h.wait_until("the span", lambda: search(es, scenario, "traces-*") or None, 120)
        h.wait_until("the data points", lambda: metric_docs(es, tag) >= 1 or None, 120)
        assert_no_enospc(collector)  # the disk was full, but nothing was written then
    finally:
        es.pause(False)
        collector.stop()
    print(f"\n[disk full] signals while full: {statuses}; queues {queues}; lowest free {disk.lowest / MIB:.2f} MiB")
    assert statuses == {"logs": 503, "traces": 503, "metrics": 503}
    assert [q for q in queues if q.startswith("exporter_elasticsearch_")] == [
        "exporter_elasticsearch__logs", "exporter_elasticsearch__metrics", "exporter_elasticsearch__traces"]
    assert counts(es, tag) == (10, 10), "the logs request (sent twice) is one set of documents"
