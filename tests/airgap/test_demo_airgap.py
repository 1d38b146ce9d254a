"""DESIGN.md invariant 1, end to end: the whole `appliance demo` makes no outbound attempt.

One run: the audit hook in enforce mode (any attempt is recorded and refused before the system
call), the syscall trace where strace can run (attempts from native code), and, where this
machine can make one, a network namespace that has only loopback around the whole process tree.
The demo must finish successfully with zero non-loopback attempts. The hook's record mode inside
a namespace (the kernel refusing) is covered by the planted-call tests in test_harness.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airgap.harness import AirgapRun, netns_unavailable, run_airgapped, trace_unavailable

APPLIANCE = Path(sys.executable).with_name("appliance")
#: The demo fine-tunes two models (a classifier, then SmolLM2 with its evaluation and scan), then
#: runs its feedback loop (a campaign, a reward model, DPO on SmolLM2): minutes on a quiet
#: machine, a quarter of an hour on a loaded one.
DEMO_TIMEOUT = 1500


def _demo(tmp_path: Path) -> list[str]:
    if not APPLIANCE.exists():
        pytest.skip(f"{APPLIANCE} not installed (make install)")
    return [str(APPLIANCE), "--home", str(tmp_path / "home"), "demo"]


def _check(run: AirgapRun) -> None:
    tail = f"\n--- stdout ---\n{run.stdout[-4000:]}\n--- stderr ---\n{run.stderr[-4000:]}"
    assert run.returncode == 0, "the demo failed" + tail
    run.assert_no_outbound()


@pytest.mark.slow
@pytest.mark.timeout(DEMO_TIMEOUT + 60)
def test_demo_makes_no_outbound_attempt(tmp_path: Path) -> None:
    """One run of the whole demo (it takes minutes): the audit hook enforcing, the syscall trace,
    and, where this machine can make one, a network namespace with only loopback around it."""
    netns = netns_unavailable() is None
    run = run_airgapped(_demo(tmp_path), cwd=tmp_path, netns=netns,
                        trace=trace_unavailable() is None, timeout=DEMO_TIMEOUT)
    _check(run)
    if not netns:
        print(f"note: no empty network namespace here: {netns_unavailable()}")
