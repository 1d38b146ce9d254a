"""Child processes that must not outlive the process that started them.

An ingest's redaction workers each hold an analyzer (hundreds of MB) and batches of plaintext
records. If the ingest dies (``kill -9``, OOM killer) nothing closes its pool: the workers would be
re-parented to PID 1 and keep running. On Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)`` asks the
kernel to kill the child when its parent goes; :func:`die_with_parent` sets it from inside the
child, then checks the parent is still the one that started it, since the parent may have died
before the call (the signal is only armed for a parent death that happens afterwards).

The kernel sends the signal when the parent *thread* that forked the child exits, not only the
whole process; a process pool used and shut down within one call, as ingest's is, is unaffected.
Job workers are different on purpose: they run in their own session and survive whatever started
them (``appliance.training.jobs.start_worker``).
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from appliance.context import Context

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>


def die_with_parent() -> None:
    """Have the kernel SIGKILL this process when its parent dies; exit now if it already has."""
    parent = multiprocessing.parent_process()
    expected = parent.pid if parent is not None else None
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            errno = ctypes.get_errno()
            raise OSError(errno, f"prctl(PR_SET_PDEATHSIG): {os.strerror(errno)}")
    if expected is not None and os.getppid() != expected:
        os._exit(1)  # the parent died before the signal was armed: we were re-parented


def no_core_dumps() -> None:
    """A crash of this process must not write its memory (decrypted records, weights, prompts,
    candidates) to disk: the job and campaign workers call this first."""
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_worker(module: str, target: str, argv: Sequence[str] | None,
               run: Callable[[Context, str], bool]) -> int:
    """A worker process's ``main``: ``python -m MODULE TARGET_ID --home HOME`` (as
    :func:`appliance.training.jobs.spawn_worker` starts it) without core dumps, torch loaded
    before the home's context; ``run(ctx, target_id)`` says whether it ended well (exit 0)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"python -m {module}")
    parser.add_argument(target)
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    no_core_dumps()
    # torch before the context: the policy engine's native library must load after torch's
    from appliance.training.engine import quiet_libraries

    quiet_libraries()
    from appliance.context import open_context

    ctx = open_context(args.home)
    try:
        return 0 if run(ctx, getattr(args, target)) else 1
    finally:
        ctx.close()
