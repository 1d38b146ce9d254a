"""A stand-in for an OPA server, on 127.0.0.1, for the OPA backend's tests.

It speaks the part of OPA's REST API the backend uses (``/health``, ``/v1/policies``,
``PUT /v1/data/...``, ``POST /v1/data/...``) and evaluates with regopy, so the backend's
upload, query and fail-closed paths run over real HTTP without an OPA binary. The real server is
exercised by test_opa_server.py's live tests when one is reachable.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from regopy import Interpreter

from appliance.policy.embedded import rego_input


class FakeOpa:
    def __init__(self) -> None:
        self.modules: dict[str, str] = {}
        self.data: dict[str, Any] = {}
        self.fail_queries = False  # answer every query with HTTP 500
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FakeOpa:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()

    def evaluate(self, path: str, document: Any) -> tuple[bool, Any]:
        with self._lock:
            interpreter = Interpreter()
            interpreter.add_data_json(json.dumps(self.data))
            for name, source in self.modules.items():
                interpreter.add_module(name, source)
            bundle = interpreter.build(None, [path])
            interpreter.set_input(rego_input(document))
            text = str(interpreter.query_bundle_entrypoint(bundle, path))
        if text == "undefined":
            return False, None
        return True, json.loads(text)["expressions"][0]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def _reply(self, status: int, body: Any = None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def _body(self) -> bytes:
                return self.rfile.read(int(self.headers.get("Content-Length", 0)))

            def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
                fake.requests.append(f"GET {self.path}")
                if self.path == "/health":
                    self._reply(200, {})
                elif self.path.rstrip("/") == "/v1/policies":
                    self._reply(200, {"result": [{"id": k, "raw": v}
                                                 for k, v in fake.modules.items()]})
                else:
                    self._reply(404, {"code": "not_found", "message": self.path})

            def do_PUT(self) -> None:  # noqa: N802
                fake.requests.append(f"PUT {self.path}")
                body = self._body()
                if self.path.startswith("/v1/policies/"):
                    name = self.path[len("/v1/policies/"):]
                    source = body.decode()
                    if "syntax error here" in source:
                        self._reply(400, {"code": "invalid_parameter", "message": "error(s)",
                                          "errors": [{"message": "rego_parse_error"}]})
                        return
                    fake.modules[name] = source
                    self._reply(200, {})
                elif self.path.startswith("/v1/data/"):
                    node = fake.data
                    *parents, leaf = self.path[len("/v1/data/"):].split("/")
                    for part in parents:
                        node = node.setdefault(part, {})
                    node[leaf] = json.loads(body)
                    self._reply(204)
                else:
                    self._reply(404, {"code": "not_found", "message": self.path})

            def do_DELETE(self) -> None:  # noqa: N802
                fake.requests.append(f"DELETE {self.path}")
                name = self.path[len("/v1/policies/"):]
                if fake.modules.pop(name, None) is None:
                    self._reply(404, {"code": "not_found", "message": name})
                else:
                    self._reply(200, {})

            def do_POST(self) -> None:  # noqa: N802
                fake.requests.append(f"POST {self.path}")
                document = json.loads(self._body()).get("input")
                if fake.fail_queries:
                    self._reply(500, {"code": "internal_error", "message": "boom"})
                    return
                defined, value = fake.evaluate(self.path[len("/v1/data/"):], document)
                self._reply(200, {"result": value} if defined else {})

        return Handler
