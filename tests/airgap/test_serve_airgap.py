"""Invariant 1 for the production process: `appliance serve`, driven over loopback HTTP through
upload (with the NER model), review, approval and audit verification, makes no outbound attempt.

The driver (serve_driver.py) and the server it starts both carry the audit hook; the syscall
trace and the empty network namespace are added where this machine allows them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from airgap.harness import netns_unavailable, run_airgapped, trace_unavailable

DRIVER = Path(__file__).resolve().with_name("serve_driver.py")


@pytest.mark.slow
def test_serve_makes_no_outbound_attempt(tmp_path: Path) -> None:
    if not Path(sys.executable).with_name("appliance").exists():
        pytest.skip("the appliance command is not installed (make install)")
    run = run_airgapped([sys.executable, str(DRIVER), str(tmp_path)], cwd=tmp_path,
                        netns=netns_unavailable() is None, trace=trace_unavailable() is None,
                        timeout=900)
    tail = f"\n--- stdout ---\n{run.stdout[-3000:]}\n--- stderr ---\n{run.stderr[-3000:]}"
    assert run.returncode == 0, "the workflow over HTTP failed" + tail
    # No scrape token configured: /metrics on the API port is refused
    # (tests/api/test_metrics_endpoint.py)
    assert json.loads(run.stdout.splitlines()[-1])["seen"]["metrics"] == 401, tail
    assert len(run.hooked_pids) >= 2, "the server process did not carry the hook" + tail
    assert any(a.event == "socket.connect" and a.local for a in run.attempts), (
        "no loopback connection was observed: the HTTP traffic was not seen" + tail
    )
    run.assert_no_outbound()
