"""The service's one :class:`Context`, shared safely by concurrent requests.

FastAPI runs synchronous handlers (and our ingest) on worker threads. A SQLite connection must not
be used by two threads at once: ``transaction()`` issues ``BEGIN IMMEDIATE``/``COMMIT`` on the
connection, and two requests interleaving on one connection would commit each other's half-done
work. So the process opens one :class:`Context` (settings, keyring, audit log, policy engine) and
lends each request a view of it with a connection (and a vault over that connection) of its own,
taken from a small pool and given back when the response has been sent. SQLite's WAL mode lets
those connections read concurrently; writers queue on the database lock (``busy_timeout``).

The audit log and the policy engine are shared by every view; both are thread-safe (the audit log
serialises appends with a lock and a file lock, and the embedded policy engine keeps one
interpreter per thread). The service's audit log uses group commit: concurrent requests' events
share one write, fsync and checkpoint. A thin wrapper counts appends for ``/metrics``.
"""

from __future__ import annotations

import dataclasses
import queue
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from appliance import db
from appliance.audit import AuditLog
from appliance.context import Context, open_context
from appliance.crypto.vault import Vault


class CountingAuditLog:
    """The process's audit log, counting the events this process appended."""

    def __init__(self, log: AuditLog) -> None:
        self._log = log
        self._lock = threading.Lock()
        self.appends = 0

    def append(self, **fields: Any) -> Any:
        event = self._log.append(**fields)
        self._count(1)
        return event

    def append_many(self, events: list[dict[str, Any]]) -> Any:
        result = self._log.append_many(events)
        self._count(len(result))
        return result

    def _count(self, n: int) -> None:
        with self._lock:
            self.appends += n

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


class ContextPool:
    """One Context per process; one SQLite connection per in-flight request."""

    def __init__(self, base: Context, *, max_idle: int = 16) -> None:
        self.base = base
        self.audit = CountingAuditLog(base.audit)
        self._idle: queue.LifoQueue[Context] = queue.LifoQueue(max_idle)
        self._closed = False

    @classmethod
    def open(cls, home: str | Path | None) -> ContextPool:
        return cls(open_context(home, group_commit=True))

    @property
    def settings(self) -> Any:
        return self.base.settings

    def _new_view(self) -> Context:
        conn = db.connect(self.base.settings.path(db.DB_FILE))
        vault = Vault(self.base.settings.home, conn, self.base.keyring,
                      self.base.settings.segment_size)
        return dataclasses.replace(self.base, conn=conn, vault=vault,
                                   audit=self.audit)  # type: ignore[arg-type]

    @contextmanager
    def lease(self) -> Iterator[Context]:
        """A Context whose connection nobody else uses until the block ends."""
        try:
            view = self._idle.get_nowait()
        except queue.Empty:
            view = self._new_view()
        healthy = True
        try:
            yield view
        except BaseException:
            healthy = not view.conn.in_transaction
            raise
        finally:
            self._give_back(view, healthy and not view.conn.in_transaction)

    def _give_back(self, view: Context, healthy: bool) -> None:
        if healthy and not self._closed:
            try:
                self._idle.put_nowait(view)
                return
            except queue.Full:
                pass
        _close(view.conn)

    def close(self) -> None:
        """Close every idle connection (at shutdown, after in-flight requests finished)."""
        self._closed = True
        while True:
            try:
                _close(self._idle.get_nowait().conn)
            except queue.Empty:
                break
        self.base.close()


def _close(conn: sqlite3.Connection) -> None:
    try:
        conn.close()
    except sqlite3.Error:
        pass
