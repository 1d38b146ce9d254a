"""``appliance serve``: the HTTP API and web console on uvicorn.

Loopback by default. A non-loopback address needs TLS (``--tls-cert`` and ``--tls-key``), or the
explicit ``--allow-insecure-bind``, which prints a warning that cannot be missed: tokens and
session cookies would cross the network in clear text. One process serves everything (sessions
and rate limits live in its memory); on SIGINT/SIGTERM uvicorn stops accepting connections and
lets in-flight requests, and the audit appends they make, finish before the context is closed.

At start-up, opening the home sweeps what dead processes left in ``tmp/`` and audits their
unfinished actions as aborted (``appliance.context.recover_home``), and, unless
``--external-job-worker``, a worker is started for each interrupted job. Job workers run in a
session of their own: stopping or restarting the service does not stop training, and the next
start finds them alive and leaves them be.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from appliance.crypto import check_key_permissions
from appliance.errors import ConfigurationError, InvalidInput

GRACEFUL_SHUTDOWN_S = 30


def register(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    serve = commands.add_parser("serve", help="run the HTTP API and the web console")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8443, help="port (default 8443)")
    serve.add_argument("--tls-cert", type=Path, help="TLS certificate chain (PEM)")
    serve.add_argument("--tls-key", type=Path, help="TLS private key (PEM, mode 0600)")
    serve.add_argument("--allow-insecure-bind", action="store_true",
                       help="serve plain HTTP on a non-loopback address (NOT recommended)")
    serve.add_argument("--external-job-worker", action="store_true",
                       help="leave queued and interrupted jobs to a separate worker service "
                            "instead of starting a worker process for each job created over "
                            "the API and, at start-up, for each job a crash interrupted")
    serve.add_argument("--log-level", default="info",
                       choices=("critical", "error", "warning", "info", "debug"),
                       help="server log level (default info)")
    serve.add_argument("--metrics-port", type=int, default=None,
                       help="also serve /metrics without a token on 127.0.0.1 at this port "
                            "(default: the metrics_port setting; none: /metrics only on the "
                            "API port, with the scrape token)")
    serve.set_defaults(handler=cmd_serve)
    token = commands.add_parser(
        "metrics-token", help="generate the scrape token for /metrics on the API port; prints "
                              "it once and stores only its hash (replaces any earlier one)")
    token.set_defaults(handler=cmd_metrics_token)


@dataclass(frozen=True)
class BindPlan:
    host: str
    port: int
    tls: bool
    loopback: bool

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.tls else 'http'}://{host}:{self.port}/"


def plan_bind(host: str, port: int, cert: Path | None, key: Path | None,
              allow_insecure: bool) -> BindPlan:
    """Check the address and TLS options; refuse plain HTTP off loopback unless allowed."""
    if not 0 < port < 65536:
        raise InvalidInput(f"--port {port} is not a TCP port")
    if (cert is None) != (key is None):
        raise InvalidInput("--tls-cert and --tls-key go together: give both or neither")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise InvalidInput(f"{path}: no such file")
        check_key_permissions(key)
    loopback = is_loopback(host)
    tls = cert is not None
    if not loopback and not tls and not allow_insecure:
        raise ConfigurationError(
            f"refusing to serve plain HTTP on {host}, which is not a loopback address: tokens "
            "and session cookies would cross the network unencrypted. Give --tls-cert and "
            "--tls-key, bind 127.0.0.1, or (not recommended) pass --allow-insecure-bind")
    return BindPlan(host, port, tls, loopback)


def is_loopback(host: str) -> bool:
    """True when every address the host name resolves to is a loopback address."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)


INSECURE_WARNING = """\
############################################################################
#  WARNING: serving PLAIN HTTP on {host}, a non-loopback address.
#  API tokens, session cookies and dataset metadata cross the network
#  UNENCRYPTED, and browsers will not send the Secure session cookie.
#  Use --tls-cert/--tls-key for anything but an isolated test network.
############################################################################"""


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    from appliance.api import create_app
    from appliance.api.runtime import ContextPool

    plan = plan_bind(args.host, args.port, args.tls_cert, args.tls_key, args.allow_insecure_bind)
    if args.metrics_port is not None and not 0 < args.metrics_port < 65536:
        raise InvalidInput(f"--metrics-port {args.metrics_port} is not a TCP port")
    if not plan.loopback and not plan.tls:
        print(INSECURE_WARNING.format(host=plan.host), file=sys.stderr, flush=True)
    pool = ContextPool.open(args.home)  # fail now, with a clear error, if the home is unusable
    app = create_app(pool=pool, tls=plan.tls, start_job_workers=not args.external_job_worker,
                     metrics_port=args.metrics_port)
    config = uvicorn.Config(
        app, host=plan.host, port=plan.port,
        ssl_certfile=str(args.tls_cert) if plan.tls else None,
        ssl_keyfile=str(args.tls_key) if plan.tls else None,
        proxy_headers=False,  # the service is its own edge: never trust X-Forwarded-For
        server_header=False, log_level=args.log_level,
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
    )
    print(f"appliance console and API on {plan.url} (home {pool.settings.home})", flush=True)
    uvicorn.Server(config).run()
    return 0


def cmd_metrics_token(args: argparse.Namespace) -> int:
    from appliance.config import update_saved_settings
    from appliance.context import open_context
    from appliance.gate import authorize
    from appliance.identity import LOCAL_ADMIN, hash_token, new_token

    ctx = open_context(args.home)
    try:
        authorize(ctx, LOCAL_ADMIN, "user.manage", {"type": "user", "id": "metrics-scraper"},
                  "administration", {"operation": "metrics-token"})
        token = new_token()
        update_saved_settings(ctx.settings.home, metrics_token_hash=hash_token(token))
    finally:
        ctx.close()
    print("scrape token for /metrics (shown once; a running service reads it at restart):")
    print(token)
    return 0
