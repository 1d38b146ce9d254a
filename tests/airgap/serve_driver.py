"""Drive a real `appliance serve` over loopback HTTP; run under the air-gap harness.

Started by test_serve_airgap.py inside run_airgapped, so this process and the server it starts
(a child: it inherits the hook) are both observed. It makes a home with one user per role,
starts the real CLI command, and walks the review workflow over HTTP: upload with redaction (the
NER model runs in the server), report, approval, audit verification, metrics. It prints one
JSON line with what it saw and exits 0 only if every step gave the expected status.

Usage: python serve_driver.py WORKDIR
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

import appliance  # noqa: F401  (offline mode first)
import appliance.training  # noqa: F401  (torch's runtime before the policy engine's regopy)
from appliance.context import init_home, open_context
from appliance.demo.sample_data import SAMPLE_FILE
from appliance.identity import add_user

ROLES = (("olivia", "operator"), ("carol", "compliance"), ("audra", "auditor"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main(workdir: Path) -> int:
    home = workdir / "home"
    init_home(home)
    ctx = open_context(home)
    try:
        tokens = {name: add_user(ctx, name, role)[1] for name, role in ROLES}
    finally:
        ctx.close()
    port = free_port()
    appliance_cli = Path(sys.executable).with_name("appliance")
    server = subprocess.Popen(
        [str(appliance_cli), "--home", str(home), "serve", "--port", str(port),
         "--log-level", "warning"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    seen: dict[str, int] = {}
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 180
        while True:
            try:
                seen["healthz"] = httpx.get(f"{base}/healthz", timeout=5,
                                            trust_env=False).status_code
                break
            except httpx.TransportError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"server did not start: {server.stderr.read()}") from None
                time.sleep(0.5)

        def client(who: str) -> httpx.Client:
            return httpx.Client(base_url=base, timeout=300, trust_env=False,
                                headers={"Authorization": f"Bearer {tokens[who]}"})

        records = b"".join(SAMPLE_FILE.read_bytes().splitlines(keepends=True)[:20])
        with client("olivia") as olivia, client("carol") as carol, client("audra") as audra:
            upload = olivia.post(
                "/v1/datasets", content=records,
                params={"name": "tickets.jsonl", "task": "classification",
                        "text_field": "text", "label_field": "category"},
                headers={"Content-Type": "application/x-ndjson"},
            )
            seen["upload"] = upload.status_code
            dataset = upload.json()["dataset_id"]
            review = {"reason": "air-gap test"}
            seen["self_approve"] = olivia.post(f"/v1/datasets/{dataset}/approve",
                                               json=review).status_code
            seen["report"] = carol.get(f"/v1/datasets/{dataset}/report").status_code
            seen["approve"] = carol.post(f"/v1/datasets/{dataset}/approve",
                                        json=review).status_code
            seen["verify"] = audra.get("/v1/audit/verify").status_code
            seen["metrics"] = audra.get("/metrics").status_code
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
    expected = {"healthz": 200, "upload": 201, "self_approve": 403, "report": 200,
                "approve": 200, "verify": 200}
    print(json.dumps({"seen": seen, "server_exit": server.returncode}))
    ok = all(seen.get(step) == status for step, status in expected.items())
    return 0 if ok else 1


if __name__ == "__main__":
    os.umask(0o077)
    sys.exit(main(Path(sys.argv[1])))
