"""Nothing leaves the machine: building and running the analyzer opens no network connection."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import socket
    attempts = []
    def refuse(*args, **kwargs):
        attempts.append(args)
        raise OSError("network disabled in this test")
    socket.socket.connect = refuse
    socket.socket.connect_ex = refuse
    socket.create_connection = refuse
    socket.getaddrinfo = refuse

    import appliance
    import tldextract
    assert tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls == ()
    assert tldextract.extract("mail.example.co.uk").suffix == "co.uk"
    from appliance.redaction import build_analyzer
    analyzer = build_analyzer(None)
    spans = analyzer.analyze("Anna Berg <anna@example.co.uk>, +44 20 7946 0958")
    assert {s.entity_type for s in spans} >= {"EMAIL_ADDRESS", "PHONE_NUMBER"}
    assert attempts == [], attempts
    print("offline ok")
""")


def test_analyzer_runs_with_the_network_refused() -> None:
    env = {"PATH": "/usr/bin:/bin", "HOME": "/nonexistent-home"}  # no cached suffix list either
    proc = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "offline ok" in proc.stdout


def test_appliance_forces_offline_environment() -> None:
    import os

    import appliance  # noqa: F401

    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["TRANSFORMERS_OFFLINE"] == "1"
    assert os.environ["TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS"] == ""
