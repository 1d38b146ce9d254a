"""Several processes (and threads within them) append at once: nothing lost, nothing interleaved."""

from __future__ import annotations

import multiprocessing
import threading
from collections import Counter
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from appliance.audit import AuditLog, verify_log

from .conftest import event_fields

PROCESSES = 4
PER_PROCESS = 40


def _appender(audit_dir: str, key_pem: bytes, worker: int, start: multiprocessing.Event,
              threads: int, segment_max_bytes: int) -> None:
    key = load_pem_private_key(key_pem, None)
    log = AuditLog(audit_dir, key, group_commit=threads > 1,  # type: ignore[arg-type]
                   segment_max_bytes=segment_max_bytes)
    start.wait(30)

    def run(thread: int) -> None:
        for i in range(PER_PROCESS // threads):
            if i % 5 == 4:
                log.append_many([event_fields(worker * 10_000 + thread * 1000 + i,
                                              actor=f"worker{worker}")])
            else:
                log.append(**event_fields(worker * 10_000 + thread * 1000 + i,
                                          actor=f"worker{worker}"))

    pool = [threading.Thread(target=run, args=(t,)) for t in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def run_processes(audit_dir: Path, key: Ed25519PrivateKey, threads: int,
                  segment_max_bytes: int = 16 << 20) -> None:
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    context = multiprocessing.get_context("spawn")
    start = context.Event()
    workers = [context.Process(target=_appender, args=(str(audit_dir), pem, w, start, threads,
                                                      segment_max_bytes))
               for w in range(PROCESSES)]
    for process in workers:
        process.start()
    start.set()
    for process in workers:
        process.join(120)
        assert process.exitcode == 0


def check_all_present_once(audit_dir: Path, key: Ed25519PrivateKey, threads: int) -> None:
    report = verify_log(audit_dir, key.public_key())
    assert report.events == PROCESSES * PER_PROCESS
    assert report.warnings == []
    events = AuditLog(audit_dir, None).query()
    assert [e.seq for e in events] == list(range(1, report.events + 1))
    seen = Counter((e.actor, e.details["records"]) for e in events)
    expected = Counter((f"worker{w}", w * 10_000 + t * 1000 + i) for w in range(PROCESSES)
                       for t in range(threads) for i in range(PER_PROCESS // threads))
    assert seen == expected  # every event exactly once


def test_concurrent_processes(audit_dir: Path, key: Ed25519PrivateKey) -> None:
    run_processes(audit_dir, key, threads=1)
    check_all_present_once(audit_dir, key, threads=1)


def test_concurrent_processes_with_group_commit_threads(
    audit_dir: Path, key: Ed25519PrivateKey
) -> None:
    run_processes(audit_dir, key, threads=4)
    check_all_present_once(audit_dir, key, threads=4)


def test_concurrent_processes_across_segment_rolls(audit_dir: Path,
                                                   key: Ed25519PrivateKey) -> None:
    run_processes(audit_dir, key, threads=2, segment_max_bytes=4000)
    check_all_present_once(audit_dir, key, threads=2)
    assert verify_log(audit_dir, key.public_key()).segments > 10
