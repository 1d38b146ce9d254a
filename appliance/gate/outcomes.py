"""Outcomes of allowed actions, so that every ``allow`` in the audit log can be reconciled.

An ``allow`` event says an action may go ahead, not that it happened: an ingest can still find no
records left, a job can name a dataset that is not approved, a process can be killed. An action
whose work takes more than its decision (ingest, job creation, a resume) is begun with
:func:`begin_action`, which decides and audits like ``authorize`` and then records the action in
``actions_in_flight`` (who, what, the allow event's seq and hash, and this process's host, pid
and start time). Then exactly one of:

- it completes: :meth:`Action.complete` deletes the row (inside the caller's transaction, when
  the caller has one open, so the resource and the end of the action commit together);
- it fails: :meth:`Action.fail` appends ``<action>.failed`` with the reason (or
  ``<action>.aborted`` when it was interrupted: Ctrl-C, SIGTERM's ``SystemExit``) and deletes
  the row;
- its process dies with no chance to write (``kill -9``, OOM, power): the row stays, and the next
  process that opens the home (:func:`reconcile_actions`, from ``open_context``) finds its process
  gone, appends ``<action>.aborted`` as the system and deletes the row.

Outcome events carry the allow event's ``seq`` and ``hash`` in their details (``allowed_seq``,
``allowed_hash``), and their decision is ``allow``: they record what became of an allowed action,
they are not new decisions. An allow with no outcome event is one that completed (its resource
exists: ``dataset show``, ``job show``) or one still running. Reasons are the error's
user-facing message (never record contents); an unexpected exception is named by its type only.

:func:`tracks_outcome` wraps a function so that any action it begins gets its outcome from how
the function ends (returned: complete; raised: failed), without the function's body changing.
"""

from __future__ import annotations

import contextvars
import functools
import os
import secrets
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from appliance.db import transaction
from appliance.errors import ApplianceError

if TYPE_CHECKING:
    from appliance.audit import AuditEvent
    from appliance.context import Context
    from appliance.gate import Principal

SYSTEM_ACTOR = "appliance"  # appliance.audit.log.SYSTEM_ACTOR
SYSTEM_ROLE = "system"
MAX_REASON_CHARS = 500
_INTERRUPTS = (KeyboardInterrupt, SystemExit)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Action:
    """One allowed action in flight; ends with :meth:`complete` or :meth:`fail`."""

    ctx: Context
    action_id: str
    actor: str
    role: str
    action: str
    resource: str
    purpose: str
    allowed_seq: int
    allowed_hash: str
    policy_hash: str
    ended: bool = False

    def complete(self) -> None:
        """The action did what it was allowed to do: no outcome event, the row goes."""
        if self.ended:
            return
        conn = self.ctx.conn
        if conn.in_transaction:  # the caller's: the resource and the row commit together
            conn.execute("DELETE FROM actions_in_flight WHERE action_id=?", (self.action_id,))
        else:
            with transaction(conn):
                conn.execute("DELETE FROM actions_in_flight WHERE action_id=?",
                             (self.action_id,))
        self.ended = True

    def fail(self, error: BaseException | str) -> None:
        """Audit ``<action>.failed`` (``.aborted`` for an interrupt) with the reason.

        Never raises: it runs while another error propagates. If the event cannot be written,
        the row stays, and is reconciled as aborted once this process is gone.
        """
        if self.ended:
            return
        outcome = "aborted" if isinstance(error, _INTERRUPTS) else "failed"
        try:
            with transaction(self.ctx.conn):
                self.ctx.conn.execute("DELETE FROM actions_in_flight WHERE action_id=?",
                                      (self.action_id,))
                self.ctx.audit.append(
                    actor=self.actor, role=self.role, action=f"{self.action}.{outcome}",
                    resource=self.resource, purpose=self.purpose, decision="allow",
                    reasons=[reason_of(error)], policy_hash=self.policy_hash,
                    details={"outcome": outcome, "allowed_seq": self.allowed_seq,
                             "allowed_hash": self.allowed_hash, "error": _error_name(error)},
                )
        except Exception:  # noqa: S110  (the original error is what the caller must see)
            return
        self.ended = True


_scope: contextvars.ContextVar[list[Action] | None] = contextvars.ContextVar(
    "appliance_gate_actions", default=None)


def begin_action(
    ctx: Context,
    principal: Principal,
    action: str,
    resource: dict[str, Any],
    purpose: str,
    details: dict[str, Any] | None = None,
) -> Action:
    """``authorize``, then record the allowed action as in flight. A deny raises (audited) and
    leaves nothing in flight: a refusal is its own outcome."""
    from appliance.gate import _decide, resource_name

    decision, event = _decide(ctx, principal, action, resource, purpose, details)
    pending = Action(ctx, "act_" + secrets.token_hex(8), principal.name, principal.role, action,
                     resource_name(resource), purpose, int(event.seq), str(event.hash),
                     decision.policy_hash)
    host, pid, started = this_process()
    with transaction(ctx.conn):
        ctx.conn.execute(
            "INSERT INTO actions_in_flight(action_id, action, resource, actor, role, purpose,"
            " allowed_seq, allowed_hash, host, pid, pid_started, started_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (pending.action_id, action, pending.resource, principal.name, principal.role,
             purpose, pending.allowed_seq, pending.allowed_hash, host, pid, started, ctx.now()),
        )
    scope = _scope.get()
    if scope is not None:
        scope.append(pending)
    return pending


def tracks_outcome(function: Callable[P, R]) -> Callable[P, R]:
    """Actions begun inside ``function`` fail with its exception, or complete when it returns."""

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        begun: list[Action] = []
        token = _scope.set(begun)
        try:
            result = function(*args, **kwargs)
        except BaseException as exc:
            for pending in begun:
                pending.fail(exc)
            raise
        finally:
            _scope.reset(token)
        for pending in begun:
            pending.complete()
        return result

    return wrapper


def reconcile_actions(ctx: Context) -> list[AuditEvent]:
    """Audit ``<action>.aborted`` for each action in flight whose process is gone; return them.

    Rows of other hosts are left to those hosts (a process table is only known locally). Each row
    is deleted and its event appended in one transaction, so two processes starting at once
    reconcile a row once.
    """
    host = this_process()[0]
    rows = ctx.conn.execute(
        "SELECT action_id, pid, pid_started FROM actions_in_flight WHERE host=?", (host,)
    ).fetchall()
    events = []
    for row in rows:
        if process_alive(row["pid"], row["pid_started"]):
            continue
        with transaction(ctx.conn):
            found = ctx.conn.execute(
                "SELECT * FROM actions_in_flight WHERE action_id=?", (row["action_id"],)
            ).fetchone()
            if found is None:
                continue  # reconciled meanwhile by another process
            ctx.conn.execute("DELETE FROM actions_in_flight WHERE action_id=?",
                             (row["action_id"],))
            events.append(ctx.audit.append(
                actor=SYSTEM_ACTOR, role=SYSTEM_ROLE, action=f"{found['action']}.aborted",
                resource=found["resource"], purpose="recovery", decision="allow",
                reasons=[f"process {found['pid']} ended before the {found['action']} by "
                         f"{found['actor']} finished"],
                policy_hash=ctx.policy.policy_hash,
                details={"outcome": "aborted", "allowed_seq": found["allowed_seq"],
                         "allowed_hash": found["allowed_hash"], "actor": found["actor"],
                         "role": found["role"], "pid": found["pid"],
                         "started_at": found["started_at"]},
            ))
    return events


def in_flight(ctx: Context) -> list[dict[str, Any]]:
    """The actions in flight now, oldest first (for tests and operators' diagnostics)."""
    rows = ctx.conn.execute(
        "SELECT action_id, action, resource, actor, pid, started_at FROM actions_in_flight"
        " ORDER BY started_at, action_id").fetchall()
    return [dict(r) for r in rows]


def reason_of(error: BaseException | str) -> str:
    """The user-facing message of an appliance error; only the type of anything else, whose text
    could hold a value from the data."""
    if isinstance(error, str):
        text = error
    elif isinstance(error, ApplianceError):
        text = str(error)
    elif isinstance(error, _INTERRUPTS):
        text = f"interrupted ({type(error).__name__})"
    else:
        text = f"internal error: {type(error).__name__}"
    printable = "".join(c if c.isprintable() else " " for c in text)  # the audit log's rule
    return printable[:MAX_REASON_CHARS]


def this_process() -> tuple[str, int, str]:
    """(host name, pid, start time): the start time tells this process from a later one that
    was given the same pid."""
    return socket.gethostname(), os.getpid(), _start_time(os.getpid()) or ""


def process_alive(pid: int, started: str) -> bool:
    """Whether process ``pid`` exists and is the one that started at ``started``."""
    now = _start_time(pid)
    if now is not None:
        return not started or now == started
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # alive, but /proc cannot tell whether it is the same process: only when there is no /proc
    return not Path("/proc/self/stat").exists()


def _start_time(pid: int) -> str | None:
    """Field 22 of ``/proc/PID/stat`` (clock ticks since boot); None without one or for a
    zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name may hold spaces
    if len(fields) <= 19 or fields[0] == "Z":  # a zombie has ended; only its entry remains
        return None
    return fields[19]


def _error_name(error: BaseException | str) -> str:
    return "" if isinstance(error, str) else type(error).__name__
