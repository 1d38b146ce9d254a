"""DESIGN.md invariant 1, end to end: the whole `appliance demo` makes no outbound attempt.

Run 1: the audit hook in enforce mode (any attempt is recorded and refused before the system
call), plus the syscall trace where strace can run (attempts from native code).
Run 2, where this machine can make one: the same demo inside a network namespace that has only
loopback, the hook in record mode, so the kernel is what would refuse; the trace again.
Both must finish the demo successfully with zero non-loopback attempts.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from airgap.harness import AirgapRun, netns_unavailable, run_airgapped, trace_unavailable

APPLIANCE = Path(sys.executable).with_name("appliance")
DEMO_TIMEOUT = 900


def _demo(tmp_path: Path) -> list[str]:
    if not APPLIANCE.exists():
        pytest.skip(f"{APPLIANCE} not installed (make install)")
    return [str(APPLIANCE), "--home", str(tmp_path / "home"), "demo"]


def _check(run: AirgapRun) -> None:
    tail = f"\n--- stdout ---\n{run.stdout[-4000:]}\n--- stderr ---\n{run.stderr[-4000:]}"
    assert run.returncode == 0, "the demo failed" + tail
    run.assert_no_outbound()


@pytest.mark.slow
def test_demo_makes_no_outbound_attempt(tmp_path: Path) -> None:
    run = run_airgapped(_demo(tmp_path), cwd=tmp_path, trace=trace_unavailable() is None,
                        timeout=DEMO_TIMEOUT)
    _check(run)


@pytest.mark.slow
def test_demo_in_a_network_namespace_without_interfaces(tmp_path: Path) -> None:
    if reason := netns_unavailable():
        pytest.skip(f"no empty network namespace on this machine: {reason}")
    run = run_airgapped(_demo(tmp_path), cwd=tmp_path, netns=True, mode="record",
                        trace=trace_unavailable() is None, timeout=DEMO_TIMEOUT)
    _check(run)
