"""``appliance serve``: bind rules, TLS, and graceful shutdown, as a real process."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from appliance.cli.serve import is_loopback, plan_bind
from appliance.errors import ConfigurationError, InvalidInput
from tests.api.conftest import free_port, make_home

ROOT = Path(__file__).resolve().parents[2]
ANY = "0.0.0.0"  # noqa: S104  (the address under test: every interface)


@pytest.fixture(scope="module")
def served_home(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return make_home(tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    os.chmod(key_path, 0o600)
    return cert_path, key_path


def serve(home: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "appliance.cli.main", "--home", str(home), "serve",
         "--log-level", "warning", *args],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_ready(url: str, process: subprocess.Popen[str], **client: object) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, process.communicate()
        try:
            if httpx.get(f"{url}/healthz", timeout=1, trust_env=False,
                         **client).status_code == 200:  # type: ignore[arg-type]
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise AssertionError("server did not start")


@pytest.fixture
def stopper() -> Iterator[list[subprocess.Popen[str]]]:
    processes: list[subprocess.Popen[str]] = []
    yield processes
    for process in processes:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_loopback_detection() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("127.1.2.3") and is_loopback("::1")
    assert is_loopback("localhost")
    assert not is_loopback(ANY) and not is_loopback("::") and not is_loopback("10.0.0.1")


def test_bind_rules(tls_files: tuple[Path, Path], tmp_path: Path) -> None:
    cert, key = tls_files
    assert not plan_bind("127.0.0.1", 8443, None, None, False).tls
    with pytest.raises(ConfigurationError, match="refusing to serve plain HTTP on 0.0.0.0"):
        plan_bind(ANY, 8443, None, None, False)
    assert plan_bind(ANY, 8443, None, None, True).url == "http://0.0.0.0:8443/"
    assert plan_bind(ANY, 8443, cert, key, False).url == "https://0.0.0.0:8443/"
    with pytest.raises(InvalidInput, match="go together"):
        plan_bind("127.0.0.1", 8443, cert, None, False)
    with pytest.raises(InvalidInput, match="not a TCP port"):
        plan_bind("127.0.0.1", 0, None, None, False)
    loose = tmp_path / "loose.pem"
    loose.write_bytes(key.read_bytes())
    os.chmod(loose, 0o644)
    with pytest.raises(ConfigurationError, match="chmod 600"):
        plan_bind("127.0.0.1", 8443, cert, loose, False)


def test_non_loopback_without_tls_is_refused(served_home: tuple[Path, dict[str, str]]) -> None:
    process = serve(served_home[0], "--host", ANY, "--port", str(free_port()))
    _, err = process.communicate(timeout=60)
    assert process.returncode == 9
    assert "refusing to serve plain HTTP on 0.0.0.0" in err


def test_insecure_bind_warns_loudly(served_home: tuple[Path, dict[str, str]],
                                    stopper: list[subprocess.Popen[str]]) -> None:
    port = free_port()
    process = serve(served_home[0], "--host", ANY, "--port", str(port),
                    "--allow-insecure-bind")
    stopper.append(process)
    wait_ready(f"http://127.0.0.1:{port}", process)
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    assert "WARNING: serving PLAIN HTTP on 0.0.0.0" in err


def test_tls(served_home: tuple[Path, dict[str, str]], tls_files: tuple[Path, Path],
             stopper: list[subprocess.Popen[str]]) -> None:
    cert, key = tls_files
    port = free_port()
    process = serve(served_home[0], "--port", str(port), "--tls-cert", str(cert),
                    "--tls-key", str(key))
    stopper.append(process)
    url = f"https://127.0.0.1:{port}"
    trust = ssl.create_default_context(cafile=str(cert))
    wait_ready(url, process, verify=trust)
    response = httpx.get(f"{url}/v1/datasets", verify=trust, trust_env=False,
                         headers={"Authorization": f"Bearer {served_home[1]['audra']}"})
    assert response.status_code == 200
    assert response.headers["strict-transport-security"].startswith("max-age=")
    with pytest.raises(httpx.TransportError):
        httpx.get(f"http://127.0.0.1:{port}/healthz", trust_env=False, timeout=5)


def test_graceful_shutdown_finishes_an_upload_in_flight(
    served_home: tuple[Path, dict[str, str]], stopper: list[subprocess.Popen[str]]
) -> None:
    home, tokens = served_home
    port = free_port()
    process = serve(home, "--port", str(port))
    stopper.append(process)
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, process)
    first_chunk_sent = threading.Event()
    lines = [json.dumps({"text": f"slow ticket {i}", "label": "a"}).encode() + b"\n"
             for i in range(30)]

    def slow_body() -> Iterator[bytes]:
        for n, line in enumerate(lines):
            yield line
            if n == 0:
                first_chunk_sent.set()
            time.sleep(0.05)

    outcome: dict[str, httpx.Response] = {}

    def upload() -> None:
        outcome["response"] = httpx.post(
            f"{url}/v1/datasets", content=slow_body(), timeout=60, trust_env=False,
            params={"name": "slow.jsonl", "text_field": "text", "label_field": "label",
                    "redact": "false"},
            headers={"Authorization": f"Bearer {tokens['olivia']}"})

    thread = threading.Thread(target=upload)
    thread.start()
    assert first_chunk_sent.wait(30)
    time.sleep(0.2)
    process.send_signal(signal.SIGTERM)  # mid-upload
    thread.join(60)
    assert outcome["response"].status_code == 201, outcome["response"].text
    assert outcome["response"].json()["rows"] == len(lines)
    # uvicorn re-raises the signal once it has shut down cleanly; systemd counts that as success
    assert process.wait(timeout=60) in (0, -signal.SIGTERM)
    with pytest.raises(httpx.TransportError):
        httpx.get(f"{url}/healthz", timeout=2, trust_env=False)
