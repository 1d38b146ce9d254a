"""Proof of the air gap (DESIGN.md invariant 1): run a command, record every attempt it makes to
reach another machine, and fail on any.

Three independent layers; a run uses the ones asked for and available here:

1. ``audit hook`` (always): ``hook/sitecustomize.py`` is put first on PYTHONPATH, so every Python
   process of the run, children included, carries a PEP 578 audit hook that records each socket
   connect, datagram send and name lookup. In ``enforce`` mode it refuses an outbound one before
   the system call (no packet leaves), with the error an air-gapped host would give.
2. ``netns``: the command runs in a new network namespace that has only a loopback interface
   (``unshare --net``). The kernel refuses every non-loopback connection, from any code, Python or
   native, and whatever the environment says. This is the site's condition.
3. ``trace``: ``strace`` records the connect/sendto/sendmsg system calls of every process (with a
   seccomp filter where it can, so untraced calls cost nothing). It sees
   attempts from native code (Rust or C libraries) that the audit hook cannot, and that inside
   the namespace would fail quietly.

The offline variables the appliance sets for itself (HF_HUB_OFFLINE, ...) are removed from the
environment before the run, so the proof covers the package's own defaults, not the test's.

Usage from a test::

    from airgap.harness import run_airgapped
    run = run_airgapped([".venv/bin/appliance", "demo"], netns=True, trace=True)
    run.assert_no_outbound()

or from a shell: ``python tests/airgap/harness.py [--netns] [--trace] [--record] -- CMD ...``.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

HOOK_DIR = Path(__file__).resolve().parent / "hook"
OFFLINE_VARIABLES = (
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
    "DO_NOT_TRACK", "TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS",
)
_TRACED = "trace=connect,sendto,sendmsg"
# Brings the namespace's loopback up, then becomes the command. Runs with -I: no hook, stdlib only.
_LOOPBACK_UP = """
import fcntl, os, socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
flags = struct.unpack("16sH", fcntl.ioctl(s, 0x8913, struct.pack("16sH", b"lo", 0))[:18])[1]
fcntl.ioctl(s, 0x8914, struct.pack("16sH", b"lo", flags | 1))  # SIOCSIFFLAGS |= IFF_UP
s.close()
os.execvp(sys.argv[1], sys.argv[1:])
"""


def _load_rules() -> ModuleType:
    """The hook's classification (is_local_host, is_local_peer), loaded without installing it."""
    spec = importlib.util.spec_from_file_location("_airgap_rules", HOOK_DIR / "sitecustomize.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    saved = os.environ.pop("AIRGAP_LOG", None)  # so that loading it here installs nothing
    try:
        spec.loader.exec_module(module)
    finally:
        if saved is not None:
            os.environ["AIRGAP_LOG"] = saved
    return module


_RULES = _load_rules()
is_local_host = _RULES.is_local_host
is_local_peer = _RULES.is_local_peer


class LayerUnavailable(RuntimeError):
    """A layer that was asked for cannot run on this machine; the message says why."""


@dataclass(frozen=True)
class Attempt:
    """One observed attempt to use the network, local or not."""

    layer: str  # "audit-hook" or "syscall-trace"
    pid: int
    event: str
    target: str
    local: bool
    stack: tuple[str, ...] = ()

    def describe(self) -> str:
        where = "".join(f"\n      at {frame}" for frame in self.stack[-4:])
        return f"[{self.layer}] pid {self.pid} {self.event} -> {self.target}{where}"


@dataclass
class AirgapRun:
    """What a run did: its result and every network attempt each layer saw."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str
    layers: tuple[str, ...]
    attempts: list[Attempt] = field(default_factory=list)
    hooked_pids: set[int] = field(default_factory=set)
    spawned: list[str] = field(default_factory=list)

    @property
    def outbound(self) -> list[Attempt]:
        return [a for a in self.attempts if not a.local]

    def report(self) -> str:
        lines = [
            f"command: {' '.join(self.command)} (exit {self.returncode})",
            f"layers: {', '.join(self.layers)}; hooked Python processes: {len(self.hooked_pids)}",
            f"network events: {len(self.attempts)}, outbound: {len(self.outbound)}",
        ]
        lines += [f"  {a.describe()}" for a in self.outbound]
        return "\n".join(lines)

    def assert_no_outbound(self) -> None:
        """Fail on any outbound attempt, or if the hook never ran (a vacuous pass)."""
        if not self.hooked_pids:
            raise AssertionError("the audit hook was never installed: nothing was observed\n"
                                 + self.report())
        if self.outbound:
            raise AssertionError("outbound network attempts:\n" + self.report())


@functools.cache
def netns_unavailable() -> str | None:
    """Why an empty network namespace cannot be made here, or None."""
    if shutil.which("unshare") is None:
        return "unshare(1) not installed"
    probe = subprocess.run([*_unshare_prefix(), sys.executable, "-I", "-c", _LOOPBACK_UP, "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"unshare --net refused here: {probe.stderr.strip()[:200]}"
    return None


@functools.cache
def _strace_filter() -> list[str]:
    """``--seccomp-bpf`` where this strace and kernel support it: a seccomp filter stops only the
    traced calls, so the rest of the run goes at full speed (without it, every system call of
    the demo's training steps stops for the tracer: the demo's air-gap test took 506 s in CI
    without the filter, 395 s with it when run alone)."""
    probe = subprocess.run(["strace", "--seccomp-bpf", "-f", "-qq", "-e", _TRACED, "-o",
                            os.devnull, "true"], capture_output=True, text=True)
    return ["--seccomp-bpf"] if probe.returncode == 0 and not probe.stderr.strip() else []


@functools.cache
def trace_unavailable() -> str | None:
    """Why strace cannot trace a child here, or None."""
    if shutil.which("strace") is None:
        return "strace not installed (apt-get install strace)"
    probe = subprocess.run(["strace", "-f", "-qq", "-e", _TRACED, "-o", os.devnull, "true"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        return f"strace cannot trace here (ptrace refused?): {probe.stderr.strip()[:200]}"
    return None


def _unshare_prefix() -> list[str]:
    if os.geteuid() == 0:
        return ["unshare", "--net"]
    return ["unshare", "--net", "--map-root-user"]


def run_airgapped(
    command: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 600,
    netns: bool = False,
    trace: bool = False,
    mode: str = "enforce",
) -> AirgapRun:
    """Run command with the layers asked for; raise LayerUnavailable if one cannot run here."""
    if mode not in ("enforce", "record"):
        raise ValueError(f"mode must be 'enforce' or 'record', got {mode!r}")
    if netns and (reason := netns_unavailable()):
        raise LayerUnavailable(reason)
    if trace and (reason := trace_unavailable()):
        raise LayerUnavailable(reason)
    with tempfile.TemporaryDirectory(prefix="airgap-") as scratch:
        hook_log = Path(scratch, "hook.jsonl")
        trace_log = Path(scratch, "trace.txt")
        child_env = dict(os.environ if env is None else env)
        for name in OFFLINE_VARIABLES:
            child_env.pop(name, None)
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(HOOK_DIR), child_env.get("PYTHONPATH", "")) if p
        )
        child_env["AIRGAP_LOG"] = str(hook_log)
        child_env["AIRGAP_MODE"] = mode
        full = list(command)
        layers = ["audit-hook"]
        if netns:
            full = [*_unshare_prefix(), sys.executable, "-I", "-c", _LOOPBACK_UP, *full]
            layers.append("netns")
        if trace:
            full = ["strace", *_strace_filter(), "-f", "-qq", "-e", _TRACED, "-e", "signal=none",
                    "-o", str(trace_log), *full]
            layers.append("syscall-trace")
        result = subprocess.run(full, env=child_env, cwd=cwd, capture_output=True, text=True,
                                timeout=timeout)
        run = AirgapRun(list(command), result.returncode, result.stdout, result.stderr,
                        tuple(layers))
        _read_hook_log(hook_log, run)
        if trace:
            run.attempts += parse_trace(trace_log.read_text(errors="replace"))
    return run


def _read_hook_log(path: Path, run: AirgapRun) -> None:
    if not path.exists():
        return
    for line in path.read_text("utf-8").splitlines():
        record = json.loads(line)
        if record["event"] == "airgap.hook_installed":
            run.hooked_pids.add(record["pid"])
        elif record["event"].startswith(("subprocess.", "os.")):
            run.spawned.append(record["target"])
        else:
            run.attempts.append(Attempt("audit-hook", record["pid"], record["event"],
                                        record["target"], record["local"],
                                        tuple(record["stack"])))


_SYSCALL = re.compile(r"^(?P<pid>\d+)\s+(?P<call>connect|sendto|sendmsg)\((?P<args>.*)$")
_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_INET = re.compile(r'sin_port=htons\((\d+)\), sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'sin6_port=htons\((\d+)\).*?inet_pton\(AF_INET6, "([^"]+)"')


def parse_trace(text: str) -> list[Attempt]:
    """Attempts from strace output; an IP peer is local only if it is loopback or unspecified."""
    attempts = []
    for line in text.splitlines():
        match = _SYSCALL.match(line)
        if not match:
            continue
        args = match["args"]
        family = _FAMILY.search(args)
        if family is None:
            continue  # sendto/sendmsg without an address: on a connected socket
        if family[1] == "AF_INET" and (peer := _INET.search(args)):
            host, target = peer[2], f"{peer[2]}:{peer[1]}"
        elif family[1] == "AF_INET6" and (peer := _INET6.search(args)):
            host, target = peer[2], f"[{peer[2]}]:{peer[1]}"
        elif family[1] in ("AF_UNIX", "AF_NETLINK", "AF_UNSPEC"):
            continue
        else:
            host, target = None, args[:120]  # another family: report it, never call it local
        local = host is not None and _RULES.is_local_host(host)
        attempts.append(Attempt("syscall-trace", int(match["pid"]), match["call"], target, local))
    return attempts


def main(argv: list[str]) -> int:
    flags = {"--netns": False, "--trace": False, "--record": False}
    while argv and argv[0] in flags:
        flags[argv.pop(0)] = True
    if not argv or argv[0] != "--" or len(argv) < 2:
        print("usage: harness.py [--netns] [--trace] [--record] -- COMMAND [ARGS...]",
              file=sys.stderr)
        return 2
    run = run_airgapped(argv[1:], netns=flags["--netns"], trace=flags["--trace"],
                        mode="record" if flags["--record"] else "enforce", timeout=3600)
    sys.stdout.write(run.stdout)
    sys.stderr.write(run.stderr)
    print(run.report(), file=sys.stderr)
    return 1 if run.outbound or not run.hooked_pids else run.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
