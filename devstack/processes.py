"""Process control for the local stack's children: ports, process groups, signals, logs.

Every server `aftersales up` starts (the Temporal dev server, the worker) runs as the leader of its
own process group, so that a Ctrl-C in the terminal reaches only the launcher, which then stops
the children in order and can take down anything they spawned. This module holds the pieces that
make that safe: checking and picking ports, spawning into a new group, deferring SIGINT, SIGTERM
and SIGHUP while a child is spawned and recorded, stopping a group (SIGTERM, then SIGKILL), telling
whether a pid is still alive, and quoting the tail of a child's log in error messages.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

_STOP_GRACE_S = 10.0
_DEFERRED_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that is free right now (the kernel's pick); racy by nature, fine for tests."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def port_in_use(port: int, host: str = "127.0.0.1") -> bool:
    """True if something listens on, or has bound, host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        if sock.connect_ex((host, port)) == 0:
            return True
    # A socket can be bound without listening yet, or on the wildcard address; only bind tells.
    # SO_REUSEADDR keeps a port in TIME_WAIT from counting as taken, as it would for the server.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


@contextlib.contextmanager
def signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM/SIGHUP handlers until the block ends, then deliver what arrived.

    Wrap the spawn of a child *and* the line that records it: a Ctrl-C in between would leave a
    child nobody knows to stop. This swaps Python-level handlers rather than blocking signals
    with the process mask, because a blocked mask is inherited by the child and would make it
    deaf to SIGTERM. Only the main thread can change handlers; elsewhere it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in _DEFERRED_SIGNALS}
    if any(handler is None for handler in previous.values()):
        # A handler installed outside Python could not be put back afterwards.
        yield
        return
    pending: list[int] = []
    for sig in _DEFERRED_SIGNALS:
        signal.signal(sig, lambda signum, frame: pending.append(signum))
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        for signum in pending:
            signal.raise_signal(signum)


def spawn_in_own_group(
    args: Sequence[str], *, stdout: IO[bytes] | int, env: dict[str, str], cwd: Path | None = None
) -> subprocess.Popen[bytes]:
    """Start a child as the leader of a new process group, stdin closed, stderr with stdout.

    Call it inside `signals_deferred()` together with whatever records the returned process.
    """
    return subprocess.Popen(
        list(args),
        stdin=subprocess.DEVNULL,
        stdout=stdout,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=cwd,
        process_group=0,
    )


def stop_process_group(proc: subprocess.Popen[bytes], grace_s: float = _STOP_GRACE_S) -> int | None:
    """SIGTERM the child's process group, SIGKILL it after `grace_s`; return the exit code."""
    pgid = proc.pid  # leader of its own group, see spawn_in_own_group
    _killpg(pgid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        _killpg(pgid, signal.SIGKILL)
        proc.wait(timeout=grace_s)
    # The leader may be gone while grandchildren of the group linger.
    _killpg(pgid, signal.SIGKILL)
    return proc.returncode


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def pid_alive(pid: int) -> bool:
    """True while `pid` names a live process (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); it is gone for our purposes.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def signal_and_wait(pid: int, sig: signal.Signals, timeout: float) -> bool:
    """Send `sig` to one process and wait up to `timeout` s for it to go; True once it has."""
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def tail(path: Path, lines: int = 40, *, since: int = 0) -> str:
    """The last lines of a log file written after byte offset `since`, or an empty string."""
    try:
        with open(path, "rb") as fh:
            fh.seek(since)
            text = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
