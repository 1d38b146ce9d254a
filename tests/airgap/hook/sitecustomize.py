"""Air-gap recorder, loaded into every Python process started by tests/airgap/harness.py.

Python imports ``sitecustomize`` at start-up from sys.path; the harness puts this directory first
on PYTHONPATH, so the hook is in the process before any application code runs, and in every
Python child process that inherits the environment. It installs a PEP 578 audit hook (which can
never be removed) that sees each socket connect, datagram send and name lookup, and appends one
JSON line per event to ``$AIRGAP_LOG``:

    {"pid", "event", "target", "local", "stack"}

Loopback, Unix sockets, netlink and wildcard binds are local; anything else is an outbound attempt.
With ``AIRGAP_MODE=enforce`` (the default) an outbound attempt is refused inside the hook, before
the system call, with the error an air-gapped host gives (ENETUNREACH, or EAI_AGAIN for a lookup):
no packet is sent, and the program behaves as it would at the site. ``AIRGAP_MODE=record`` lets
the call through (for runs inside an empty network namespace, where the kernel refuses it).

Standard library only; nothing happens unless ``AIRGAP_LOG`` is set.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import socket
import sys
import traceback

LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Events whose first argument is the socket and whose second is the peer address.
PEER_EVENTS = frozenset({"socket.connect", "socket.sendto", "socket.sendmsg"})
LOOKUP_EVENTS = frozenset(
    {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyaddr", "socket.getnameinfo"}
)
SPAWN_EVENTS = frozenset({"subprocess.Popen", "os.exec", "os.posix_spawn", "os.system"})


def is_local_host(host: object) -> bool:
    """True for a loopback or wildcard address, or a loopback name; False for anything else."""
    if host is None:
        return True  # getaddrinfo(None, ...) resolves a passive (bind) address
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    name = host.strip().rstrip(".").lower()
    if name == "":
        return True  # "" means INADDR_ANY to getaddrinfo and bind
    if name == "<broadcast>":
        return False
    if name in LOCAL_NAMES or name.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(name.split("%", 1)[0])
    except ValueError:
        return False  # a name that is not loopback: resolving it may query a DNS server
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def is_local_peer(family: int | None, address: object) -> bool:
    """Whether connecting or sending to address stays on this machine."""
    if address is None:
        return True  # sendmsg on a connected socket: the connect was already checked
    if family == getattr(socket, "AF_UNIX", None) or isinstance(address, (str, bytes)):
        return True
    if family == getattr(socket, "AF_NETLINK", None):
        return True  # the kernel, not the network
    if isinstance(address, tuple) and address:
        return is_local_host(address[0])
    return False


def _target(event: str, args: tuple[object, ...]) -> tuple[str, bool]:
    if event in PEER_EVENTS:
        sock, address = args[0], args[1] if len(args) > 1 else None
        family = getattr(sock, "family", None)
        return repr(address), is_local_peer(family, address)
    if event == "socket.getaddrinfo":
        return f"{args[0]!r}:{args[1]!r}", is_local_host(args[0])
    if event == "socket.getnameinfo":
        sockaddr = args[0]
        host = sockaddr[0] if isinstance(sockaddr, tuple) and sockaddr else sockaddr
        return repr(sockaddr), is_local_host(host)
    return repr(args[0]) if args else "", is_local_host(args[0] if args else None)


def _write(record: dict[str, object]) -> None:
    path = os.environ.get("AIRGAP_LOG")
    if not path:
        return
    line = (json.dumps(record, default=repr) + "\n").encode()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line)  # one write per record: O_APPEND keeps processes from interleaving
    finally:
        os.close(fd)


def _stack() -> list[str]:
    frames = traceback.extract_stack()[:-2]  # drop _stack and _hook
    return [f"{f.filename}:{f.lineno} {f.name}" for f in frames[-8:]]


def _hook(event: str, args: tuple[object, ...]) -> None:
    if not event.startswith(("socket.", "subprocess.", "os.")):
        return  # the hot path: most audit events are opens and imports
    if event in PEER_EVENTS or event in LOOKUP_EVENTS:
        try:
            target, local = _target(event, args)
        except Exception:  # an argument shape not foreseen: report it, never call it local
            target, local = repr(args)[:200], False
        _write({"pid": os.getpid(), "event": event, "target": target, "local": local,
                "stack": [] if local else _stack()})
        if not local and os.environ.get("AIRGAP_MODE", "enforce") == "enforce":
            if event in LOOKUP_EVENTS:
                raise socket.gaierror(socket.EAI_AGAIN, f"air gap: lookup of {target} refused")
            raise OSError(errno.ENETUNREACH, f"air gap: {event} to {target} refused")
    elif event in SPAWN_EVENTS:
        # Not an attempt by itself; a non-Python child is outside this hook (the network
        # namespace and the syscall trace cover it), so the report lists what was started.
        _write({"pid": os.getpid(), "event": event, "target": repr(args[0])[:200],
                "local": True, "stack": []})


def _install() -> None:
    if not os.environ.get("AIRGAP_LOG"):
        return
    sys.addaudithook(_hook)
    _write({"pid": os.getpid(), "event": "airgap.hook_installed", "target": sys.executable,
            "local": True, "stack": []})


_install()
