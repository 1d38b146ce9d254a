"""The air-gap harness catches what it claims to catch (and so its silence means something).

Each planted attempt targets 192.0.2.1 (TEST-NET-1, RFC 5737: reserved for documentation, never
routed). In enforce mode the hook refuses it before the system call; the syscall trace, where
available, confirms that no connect() to that address ever reached the kernel.
"""

from __future__ import annotations

import socket
import sys
import textwrap

import pytest

from airgap.harness import (
    LayerUnavailable,
    is_local_host,
    is_local_peer,
    netns_unavailable,
    parse_trace,
    run_airgapped,
    trace_unavailable,
)

PY = sys.executable
PLANTED = textwrap.dedent(
    """
    import appliance  # the package under test is imported first, as in the brief
    import socket
    try:
        socket.create_connection(("192.0.2.1", 443), timeout=0.1)
    except OSError as exc:
        print("create_connection:", exc)
    raw = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    raw.settimeout(0.1)
    try:
        raw.connect(("192.0.2.1", 443))
    except OSError as exc:
        print("connect:", exc)
    try:
        raw.getpeername()
    except OSError:
        print("never connected")
    """
)


def _python(code: str) -> list[str]:
    return [PY, "-c", textwrap.dedent(code)]


# (host, local?) -- more "must not pass" rows than "may pass" rows.
HOSTS = [
    ("127.0.0.1", True),
    ("127.8.9.10", True),
    ("::1", True),
    ("::ffff:127.0.0.1", True),
    ("localhost", True),
    ("LOCALHOST.", True),
    ("api.localhost", True),
    ("0.0.0.0", True),  # noqa: S104 (a wildcard is classified, not bound)
    ("::", True),
    (None, True),
    ("", True),
    (b"localhost", True),
    ("192.0.2.1", False),
    ("10.0.0.1", False),
    ("192.168.1.1", False),
    ("169.254.169.254", False),
    ("::ffff:192.0.2.1", False),
    ("2001:db8::1", False),
    ("fe80::1%eth0", False),
    ("huggingface.co", False),
    ("localhost.example.com", False),
    ("127.0.0.1.nip.io", False),
    ("<broadcast>", False),
    ("255.255.255.255", False),
    ("224.0.0.251", False),
    (b"example.com", False),
    (12345, False),
]


@pytest.mark.parametrize(("host", "local"), HOSTS)
def test_host_classification(host: object, local: bool) -> None:
    assert is_local_host(host) is local


@pytest.mark.parametrize(
    ("family", "address", "local"),
    [
        (socket.AF_UNIX, "/run/app.sock", True),
        (socket.AF_UNIX, b"\0abstract", True),
        (socket.AF_NETLINK, (0, 0), True),
        (socket.AF_INET, ("127.0.0.1", 8181), True),
        (socket.AF_INET6, ("::1", 8181, 0, 0), True),
        (socket.AF_INET, None, True),
        (socket.AF_INET, ("192.0.2.1", 443), False),
        (socket.AF_INET6, ("2001:db8::1", 443, 0, 0), False),
        (socket.AF_INET, ("pypi.org", 443), False),
        (socket.AF_INET, (), False),
        (socket.AF_PACKET, ("eth0", 0), False),
    ],
)
def test_peer_classification(family: int, address: object, local: bool) -> None:
    assert is_local_peer(family, address) is local


def test_planted_outbound_call_is_caught_before_any_packet() -> None:
    trace = trace_unavailable() is None
    run = run_airgapped(_python(PLANTED), trace=trace, timeout=120)

    assert run.returncode == 0, run.stderr
    targets = {(a.layer, a.event, a.target) for a in run.outbound}
    assert ("audit-hook", "socket.getaddrinfo", "'192.0.2.1':443") in targets
    assert ("audit-hook", "socket.connect", "('192.0.2.1', 443)") in targets
    # The program saw an air-gapped host's errors, raised before the system call.
    assert "create_connection: [Errno -3] air gap" in run.stdout
    assert "connect: [Errno 101] air gap" in run.stdout
    assert "never connected" in run.stdout
    if trace:  # the kernel never saw a connect() to the planted address
        assert not [a for a in run.attempts if a.layer == "syscall-trace" and not a.local]
    with pytest.raises(AssertionError, match=r"192\.0\.2\.1"):
        run.assert_no_outbound()


def test_planted_name_lookup_is_caught() -> None:
    run = run_airgapped(
        _python(
            """
            import socket
            for call in (lambda: socket.getaddrinfo("huggingface.co", 443),
                         lambda: socket.gethostbyname("pypi.org"),
                         lambda: socket.gethostbyaddr("192.0.2.1")):
                try:
                    call()
                except OSError as exc:
                    print(type(exc).__name__)
            """
        ),
        timeout=60,
    )
    events = sorted(a.event for a in run.outbound)
    assert events == ["socket.getaddrinfo", "socket.gethostbyaddr", "socket.gethostbyname"]
    assert run.stdout.split() == ["gaierror", "gaierror", "gaierror"]


def test_planted_datagram_is_caught() -> None:
    run = run_airgapped(
        _python(
            """
            import socket
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                udp.sendto(b"x", ("192.0.2.1", 53))
            except OSError as exc:
                print(exc.errno)
            """
        ),
        timeout=60,
    )
    assert [(a.event, a.target) for a in run.outbound] == [
        ("socket.sendto", "('192.0.2.1', 53)")
    ]


def test_attempt_from_a_python_child_process_is_caught() -> None:
    child = "import socket; socket.create_connection(('192.0.2.1', 443), timeout=0.1)"
    run = run_airgapped(
        _python(
            f"""
            import subprocess, sys
            subprocess.run([sys.executable, "-c", {child!r}])
            """
        ),
        timeout=60,
    )
    assert len(run.hooked_pids) == 2  # parent and child both carried the hook
    assert {a.pid for a in run.outbound} - {min(run.hooked_pids)}, run.report()
    assert any("python" in s for s in run.spawned)


def test_loopback_traffic_is_recorded_and_allowed() -> None:
    run = run_airgapped(
        _python(
            """
            import socket
            server = socket.create_server(("127.0.0.1", 0))
            client = socket.create_connection(server.getsockname(), timeout=2)
            peer, _ = server.accept()
            client.sendall(b"ping")
            print(peer.recv(4).decode())
            """
        ),
        timeout=60,
    )
    assert run.stdout.strip() == "ping"
    assert any(a.event == "socket.connect" and a.local for a in run.attempts)
    run.assert_no_outbound()


def test_a_run_without_the_hook_is_not_a_pass() -> None:
    # python -I ignores PYTHONPATH, so the hook never loads: that must fail, not pass silently.
    run = run_airgapped([PY, "-I", "-c", "print('hi')"], timeout=60)
    with pytest.raises(AssertionError, match="never installed"):
        run.assert_no_outbound()


def test_namespace_refuses_native_code_and_trace_records_it() -> None:
    if reason := netns_unavailable() or trace_unavailable():
        pytest.skip(reason)
    # bash's /dev/tcp is native code: no Python hook sees it. Record mode lets the hook pass
    # everything through, so the kernel is what refuses here.
    run = run_airgapped(
        ["bash", "-c", "exec 3<>/dev/tcp/192.0.2.1/443 || echo refused"],
        netns=True,
        trace=True,
        mode="record",
        timeout=60,
    )
    assert "refused" in run.stdout
    assert "Network is unreachable" in run.stderr
    assert [(a.layer, a.target) for a in run.outbound] == [("syscall-trace", "192.0.2.1:443")]


def test_namespace_keeps_loopback() -> None:
    if reason := netns_unavailable():
        pytest.skip(reason)
    run = run_airgapped(
        _python(
            """
            import socket
            server = socket.create_server(("127.0.0.1", 0))
            socket.create_connection(server.getsockname(), timeout=2)
            print(sorted(name for _, name in socket.if_nameindex()))
            """
        ),
        netns=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "['lo']"
    run.assert_no_outbound()


def test_unavailable_layer_is_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import airgap.harness as harness

    monkeypatch.setattr(harness, "netns_unavailable", lambda: "no namespaces here")
    with pytest.raises(LayerUnavailable, match="no namespaces here"):
        harness.run_airgapped([PY, "-c", "pass"], netns=True)


def test_trace_parser() -> None:
    text = "\n".join(
        [
            '7 connect(3, {sa_family=AF_INET, sin_port=htons(443), '
            'sin_addr=inet_addr("192.0.2.1")}, 16) = -1 ENETUNREACH',
            '7 connect(4, {sa_family=AF_INET, sin_port=htons(8181), '
            'sin_addr=inet_addr("127.0.0.1")}, 16) = 0',
            '8 sendto(5, "x", 1, 0, {sa_family=AF_INET6, sin6_port=htons(53), '
            'sin6_flowinfo=htonl(0), inet_pton(AF_INET6, "2001:db8::53", &sin6_addr), '
            "sin6_scope_id=0}, 28) = 1",
            '8 connect(6, {sa_family=AF_UNIX, sun_path="/run/x.sock"}, 110) = 0',
            '8 sendto(6, "x", 1, MSG_NOSIGNAL, NULL, 0) = 1',
            "9 +++ exited with 0 +++",
        ]
    )
    attempts = parse_trace(text)
    assert [(a.pid, a.target, a.local) for a in attempts] == [
        (7, "192.0.2.1:443", False),
        (7, "127.0.0.1:8181", True),
        (8, "[2001:db8::53]:53", False),
    ]
