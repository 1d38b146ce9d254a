"""A real appliance server on a free loopback port, for the API and browser tests.

The server runs uvicorn in a thread of the test process, on a home made for the module, with one
user per role. Tests talk to it over TCP with httpx, exactly as a remote client would, and can
open the same home directly to check what was (or was not) stored.
"""

from __future__ import annotations

import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

import appliance  # noqa: F401  (offline mode first)
import appliance.training  # noqa: F401  (torch's runtime before the policy engine's regopy)

PEOPLE = (("olivia", "operator"), ("oscar", "operator"), ("carol", "compliance"),
          ("dmitri", "compliance"), ("audra", "auditor"), ("adam", "admin"))
RECORDS = [{"id": i, "text": f"ticket {i}: the invoice total looks wrong", "label": "billing"}
           for i in range(12)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    home: Path
    url: str
    app: Any
    tokens: dict[str, str]
    server: Any
    thread: threading.Thread
    clients: dict[str, httpx.Client] = field(default_factory=dict)

    def client(self, who: str | None = None) -> httpx.Client:
        """An HTTP client authenticated as ``who`` (or anonymous)."""
        key = who or ""
        if key not in self.clients:
            headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
            self.clients[key] = httpx.Client(base_url=self.url, headers=headers, timeout=60,
                                             trust_env=False)
        return self.clients[key]

    def upload(self, who: str, records: list[dict[str, Any]] | bytes = RECORDS,
               **params: Any) -> httpx.Response:
        body = records if isinstance(records, bytes) else b"".join(
            json.dumps(r).encode() + b"\n" for r in records)
        query = {"name": "tickets.jsonl", "task": "classification", "text_field": "text",
                 "label_field": "label", "redact": "false", **params}
        return self.client(who).post("/v1/datasets", params=query, content=body,
                                     headers={"Content-Type": "application/x-ndjson"})

    def dataset(self, who: str = "olivia",
                records: list[dict[str, Any]] | bytes = RECORDS, **params: Any) -> str:
        response = self.upload(who, records, **params)
        assert response.status_code == 201, response.text
        return str(response.json()["dataset_id"])

    def stored(self) -> tuple[int, int, list[str]]:
        """(dataset rows, object rows, object files): what an upload may have left behind."""
        from appliance import db

        conn = db.connect(self.home / db.DB_FILE)
        try:
            datasets = conn.execute("SELECT count(*) FROM datasets").fetchone()[0]
            objects = conn.execute("SELECT count(*) FROM objects").fetchone()[0]
        finally:
            conn.close()
        files = sorted(str(p) for p in (self.home / "objects").rglob("*") if p.is_file())
        return datasets, objects, files


def start_server(home: Path, **app_options: Any) -> LiveServer:
    import uvicorn

    from appliance.api import create_app
    from appliance.api.ratelimit import FailureLimiter

    unlimited = FailureLimiter("10000/second", "10000/second")
    app = create_app(home, limiter=app_options.pop("limiter", unlimited), **app_options)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            proxy_headers=False, timeout_graceful_shutdown=10)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    return LiveServer(home, f"http://127.0.0.1:{port}", app, {}, server, thread)


def stop_server(live: LiveServer) -> None:
    for client in live.clients.values():
        client.close()
    live.server.should_exit = True
    live.thread.join(timeout=30)


def make_home(root: Path) -> tuple[Path, dict[str, str]]:
    from appliance.context import init_home, open_context
    from appliance.identity import add_user

    home = root / "home"
    init_home(home)
    ctx = open_context(home)
    tokens = {}
    try:
        for name, role in PEOPLE:
            _, tokens[name] = add_user(ctx, name, role)
    finally:
        ctx.close()
    return home, tokens


def start_training_server(
    root: Path, base: str = "tiny-bert", make_base: Callable[[Path], Path] | None = None
) -> LiveServer:
    """A server whose home has every role's user and a base registered as ``base`` (by default
    the tiny BERT; ``make_base(directory)`` builds another)."""
    from appliance.context import open_context
    from appliance.training import registry
    from tests.training.tiny_models import make_tiny_bert

    home, tokens = make_home(root)
    path = (make_base or make_tiny_bert)(root / base)
    ctx = open_context(home)
    try:
        registry._insert(ctx, base, path, registry.directory_sha256(path))
    finally:
        ctx.close()
    server = start_server(home)
    server.tokens = tokens
    return server


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    home, tokens = make_home(tmp_path_factory.mktemp("api"))
    server = start_server(home)
    server.tokens = tokens
    yield server
    stop_server(server)


def jsonl(records: list[dict[str, Any]]) -> bytes:
    out = io.BytesIO()
    for record in records:
        out.write(json.dumps(record).encode() + b"\n")
    return out.getvalue()
