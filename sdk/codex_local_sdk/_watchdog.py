"""The orphan watchdog: no codex outlives the process that started it, even a SIGKILLed one.

The process engine kills codex's process group on every way out it controls (exit, timeout,
cancellation, close). When the owning process is killed outright (SIGKILL, the OOM killer, a
crash in native code) nothing runs in it any more, and codex would live on. So, lazily with
the first codex spawn, the owner starts one tiny watchdog: ``python -I -S`` running this file,
with no environment, in its own session (a signal to the owner's process group does not reach
it). The watchdog reads the owner's messages from a pipe: ``+PGID`` when a codex process group
starts and ``-PGID`` once it has been reaped. The kernel closes the owner's end when the owner
dies, however it dies; on that EOF the watchdog signals every group still registered (SIGTERM,
a short grace period, SIGKILL) and exits. Signals sent to the watchdog itself are ignored: it
ends with its owner, not before.

``PR_SET_PDEATHSIG`` is not used: it fires when the *thread* that spawned a process ends (the
SDK's sync API spawns from a loop thread that can end before the process does), and on codex
itself it would leave the npm wrapper's native grandchild behind. The pipe's EOF is exact.

Turned off with ``CODEX_SDK_ORPHAN_WATCHDOG=0`` in the owner's environment. This file is run
as a script: at module level it imports only the standard library.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
import threading
import time

__all__ = ["Watchdog", "watchdog"]

logger = logging.getLogger("codex_local_sdk.process")

DISABLE_ENV = "CODEX_SDK_ORPHAN_WATCHDOG"
_GRACE_SECONDS = 2.0
_POLL_SECONDS = 0.05


class Watchdog:
    """The owner's side: one watchdog process per owner process, started on first use."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._fd: int | None = None
        self._failed = False
        self._owner_pid = os.getpid()
        self._groups: set[int] = set()

    @property
    def pid(self) -> int | None:
        """The watchdog's pid, once started (None before, when disabled or unavailable)."""
        process = self._process
        return process.pid if process is not None and self._owner_pid == os.getpid() else None

    def register(self, pgid: int) -> None:
        """Have ``pgid`` killed if this process dies before :meth:`unregister`."""
        with self._lock:
            self._check_owner()
            self._groups.add(pgid)
            self._send(f"+{pgid}\n", start=True)

    def unregister(self, pgid: int) -> None:
        """``pgid`` is gone (reaped, group empty): forget it."""
        with self._lock:
            self._check_owner()
            if pgid in self._groups:
                self._groups.discard(pgid)
                self._send(f"-{pgid}\n", start=False)

    def _send(self, message: str, *, start: bool) -> None:
        if self._fd is None and not (start and self._start()):
            return
        assert self._fd is not None
        try:
            os.write(self._fd, message.encode("ascii"))  # < PIPE_BUF: one atomic write
        except OSError as exc:  # the watchdog was killed: a new one takes every group over
            logger.warning("the codex orphan watchdog is gone (%s); restarting it", exc)
            self._close()
            if start:
                self._start()

    def _check_owner(self) -> None:
        """In a forked child the parent's watchdog guards the parent: start our own."""
        if self._owner_pid != os.getpid():
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    os.close(self._fd)
            self._fd, self._process, self._failed = None, None, False
            self._groups = set()
            self._owner_pid = os.getpid()

    def _start(self) -> bool:
        if os.name != "posix" or self._failed:
            return False
        if os.environ.get(DISABLE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
            self._failed = True
            return False
        script = os.path.abspath(__file__)
        if not sys.executable or not os.path.isfile(script):
            logger.warning("codex orphan watchdog unavailable (no interpreter or script file)")
            self._failed = True
            return False
        try:
            process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", script],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},  # nothing of ours: no secrets, and not mistaken for a run's process
                cwd="/",
                close_fds=True,
                start_new_session=True,
            )
        except OSError as exc:
            logger.warning("cannot start the codex orphan watchdog: %s", exc)
            self._failed = True
            return False
        assert process.stdin is not None
        # A raw descriptor: writes are single syscalls, and it is close-on-exec, so no codex
        # (nor anything else we spawn) holds it open after we die.
        self._fd = os.dup(process.stdin.fileno())
        process.stdin.close()
        self._process = process
        logger.debug("started the codex orphan watchdog pid=%s", process.pid)
        if self._groups:  # a restart: hand over what the previous watchdog guarded
            try:
                os.write(self._fd, "".join(f"+{pgid}\n" for pgid in self._groups).encode())
            except OSError:
                self._close()
                return False
        return True

    def _close(self) -> None:
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
        self._fd = None
        process, self._process = self._process, None
        if process is not None:
            with contextlib.suppress(OSError):
                process.poll()  # reap it if it is gone


watchdog = Watchdog()
"""The process-wide watchdog the process engine registers every codex process group with."""


# --------------------------------------------------------------------------- the watchdog


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - reused by someone else's group
        return False
    return True


def _kill_groups(groups: set[int]) -> None:
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + _GRACE_SECONDS
    while time.monotonic() < deadline:
        groups = {pgid for pgid in groups if _group_alive(pgid)}
        if not groups:
            return
        time.sleep(_POLL_SECONDS)
    for pgid in groups:
        with contextlib.suppress(OSError):
            os.killpg(pgid, signal.SIGKILL)


def _watch(stream: int) -> None:
    """Read ``+PGID`` / ``-PGID`` lines until EOF, then kill what is still registered."""
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGPIPE):
        signal.signal(signum, signal.SIG_IGN)
    groups: set[int] = set()
    pending = b""
    while True:
        try:
            chunk = os.read(stream, 4096)
        except InterruptedError:  # pragma: no cover - retried by Python already
            continue
        except OSError:
            chunk = b""
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            with contextlib.suppress(ValueError):
                pgid = int(line[1:])
                if pgid > 1 and line[:1] == b"+":
                    groups.add(pgid)
                elif line[:1] == b"-":
                    groups.discard(pgid)
    if groups:
        _kill_groups(groups)


if __name__ == "__main__":
    _watch(sys.stdin.fileno())
