"""The process engine: one codex child in its own process group, read line by line.

Guarantees, whatever happens (normal exit, timeout, cancellation, KeyboardInterrupt in the
sync API, client close): the whole process group is terminated (SIGTERM, a grace period,
SIGKILL), the child is reaped, and every pipe is closed. The npm ``codex`` is a Node wrapper
around a native binary, so killing only the direct child would orphan the real codex. If this
process dies without running any of that (SIGKILL, a crash), the orphan watchdog
(:mod:`._watchdog`) kills every group it had not yet reaped.

An invocation that cannot be started is refused with a clear :class:`CodexUsageError` before
anything is spawned (a NUL byte or a lone surrogate in an argument, an argument or a command line
longer than the system takes), never an ``OSError`` passed off as "codex is not installed".
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import errno
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Awaitable
from typing import Literal, TypeVar

from ._invocation import CodexInvocation
from ._watchdog import watchdog
from .exceptions import CodexError, CodexNotInstalledError, CodexUsageError

__all__ = ["CodexProcess", "Deadlines", "ReadTimeout", "finish"]

logger = logging.getLogger("codex_local_sdk.process")

_CHUNK = 64 * 1024
_STDERR_TAIL_BYTES = 16 * 1024
_POST_EXIT_DRAIN_SECONDS = 2.0  # stdout may be held open by a grandchild after codex exits
# asyncio's Process.wait() also waits for every pipe to close, which a leftover grandchild
# holding stdout postpones forever; whether codex itself exited is polled from its returncode.
_EXIT_POLL_SECONDS = 0.25
_KILL_POLL_SECONDS = 0.02
_SIGKILL_SETTLE_SECONDS = 2.0  # killed members vanish once reaped; don't wait forever
_POSIX = os.name == "posix"
# Linux refuses one argument longer than MAX_ARG_STRLEN (32 pages) with E2BIG, whatever ARG_MAX.
_MAX_ARG_BYTES = 32 * 4096 - 1
# Errors from exec that mean "no usable executable there"; others (E2BIG, EMFILE, ENOMEM,
# EAGAIN, ...) are about this invocation or this machine, not about codex being installed.
_NOT_INSTALLED_ERRNOS = {errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.ELOOP}
_T = TypeVar("_T")


class ReadTimeout(Exception):
    """No output within the idle timeout, or the total deadline passed."""

    def __init__(self, which: Literal["total", "idle"]) -> None:
        super().__init__(which)
        self.which: Literal["total", "idle"] = which


class Deadlines:
    """A turn's limits, for every transport: a total deadline (from now) and the longest
    silence tolerated."""

    def __init__(self, timeout_seconds: float | None, idle_timeout_seconds: float | None) -> None:
        self.started = time.monotonic()
        self.total = None if timeout_seconds is None else self.started + timeout_seconds
        self.idle = idle_timeout_seconds

    def next_limit(self, last_heard: float) -> tuple[float, Literal["total", "idle"]] | None:
        """The earliest limit (monotonic time, which one), given when codex was last heard."""
        limits: list[tuple[float, Literal["total", "idle"]]] = []
        if self.total is not None:
            limits.append((self.total, "total"))
        if self.idle is not None:
            limits.append((max(last_heard, self.started) + self.idle, "idle"))
        return min(limits) if limits else None


async def finish(cleanup: Awaitable[_T]) -> _T:
    """Run a cleanup to its end even if we are cancelled (again) while waiting for it."""
    task = asyncio.ensure_future(cleanup)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
    return task.result()


class CodexProcess:
    """A running codex child. Use :meth:`open` as an async context manager (one turn: the
    invocation's stdin is written, then closed) or :meth:`start` with ``keep_stdin_open``
    (a server: requests are written with :meth:`send` as they come, and :meth:`close` ends it).
    """

    def __init__(
        self,
        proc: asyncio.subprocess.Process,
        invocation: CodexInvocation,
        *,
        keep_stdin_open: bool = False,
    ) -> None:
        self._proc = proc
        self._invocation = invocation
        self._keep_stdin_open = keep_stdin_open
        self._stderr_tail: collections.deque[bytes] = collections.deque()
        self._stderr_size = 0
        self.stderr_total = 0
        """Bytes written on stderr so far (a mark for :meth:`stderr_since`)."""
        self._stderr_task = asyncio.ensure_future(self._drain_stderr())
        self._stdin_task = asyncio.ensure_future(self._feed_stdin())
        self._exit_task = asyncio.ensure_future(proc.wait())  # done once the pipes closed too
        self._exited_at: float | None = None

    @property
    def pid(self) -> int:
        return self._proc.pid

    @property
    def returncode(self) -> int | None:
        return self._proc.returncode

    @classmethod
    @contextlib.asynccontextmanager
    async def open(
        cls, invocation: CodexInvocation, *, kill_grace_seconds: float = 3.0
    ) -> AsyncIterator[CodexProcess]:
        """Start the child; on leaving the block, make sure nothing of it survives."""
        process = await cls.start(invocation)
        try:
            yield process
        finally:
            await finish(process.close(kill_grace_seconds))

    @classmethod
    async def start(
        cls, invocation: CodexInvocation, *, keep_stdin_open: bool = False
    ) -> CodexProcess:
        """Start the child; the caller must :meth:`close` it (see :meth:`open`)."""
        check_startable(invocation)
        if invocation.cwd is not None and not os.path.isdir(invocation.cwd):
            raise CodexUsageError(f"working directory does not exist: {invocation.cwd}")
        try:
            proc = await asyncio.create_subprocess_exec(
                *invocation.argv,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                cwd=invocation.cwd,
                env=dict(invocation.env),
                start_new_session=_POSIX,  # own session => own process group to kill
                limit=_CHUNK,
            )
        except OSError as exc:
            if exc.errno == errno.E2BIG:
                raise CodexUsageError(_too_long(_argv_bytes(invocation), None)) from None
            if exc.errno in _NOT_INSTALLED_ERRNOS or exc.errno is None:
                raise CodexNotInstalledError(
                    f"cannot start codex at {invocation.argv[0]!r}: {exc.strerror or exc}"
                ) from exc
            raise CodexError(
                f"cannot start codex at {invocation.argv[0]!r}: {exc.strerror or exc}"
            ) from exc
        if _POSIX:
            watchdog.register(proc.pid)  # its own group: killed even if we are SIGKILLed
        logger.debug("started codex pid=%s argv=%s", proc.pid, invocation.redacted_argv)
        return cls(proc, invocation, keep_stdin_open=keep_stdin_open)

    async def _feed_stdin(self) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        if self._keep_stdin_open:
            return  # a server: requests are sent as they come
        try:
            if self._invocation.stdin:
                stdin.write(self._invocation.stdin)
                await stdin.drain()
        except (BrokenPipeError, ConnectionResetError):
            pass  # codex exited before reading its prompt; its exit code tells why
        finally:
            stdin.close()  # codex waits for EOF before it starts the turn

    async def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while chunk := await stream.read(_CHUNK):
            self.stderr_total += len(chunk)
            self._stderr_tail.append(chunk)
            self._stderr_size += len(chunk)
            while self._stderr_size - len(self._stderr_tail[0]) >= _STDERR_TAIL_BYTES:
                self._stderr_size -= len(self._stderr_tail.popleft())

    @property
    def stderr_tail(self) -> str:
        """The last 16 KiB codex wrote on stderr."""
        return self.stderr_since(0)

    def stderr_since(self, mark: int) -> str:
        """What codex wrote on stderr since :attr:`stderr_total` was ``mark`` (its last
        16 KiB): a server's stderr, as far as one turn is concerned."""
        data = b"".join(self._stderr_tail)
        new = min(len(data), self.stderr_total - mark, _STDERR_TAIL_BYTES)
        return data[len(data) - new :].decode("utf-8", "replace") if new > 0 else ""

    async def send(self, data: bytes) -> None:
        """Write to the stdin of a child started with ``keep_stdin_open``.

        Raises :class:`BrokenPipeError` once the child has gone."""
        stdin = self._proc.stdin
        assert stdin is not None and self._keep_stdin_open
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            raise BrokenPipeError("codex closed its stdin") from exc

    async def lines(self, deadlines: Deadlines | None = None) -> AsyncIterator[bytearray]:
        """Yield stdout lines (without the newline) until EOF.

        Memory is bounded by the longest line, not by the run, and a line is never copied:
        each yielded buffer belongs to the caller. Raises :class:`ReadTimeout` when a limit
        of ``deadlines`` passes (the idle one counts from the last output).
        """
        stdout = self._proc.stdout
        assert stdout is not None
        pending = bytearray()
        while True:
            chunk = await self._read_chunk(stdout, deadlines)
            if not chunk:
                if not _blank(pending):
                    yield pending
                return
            start = 0
            while (newline := chunk.find(b"\n", start)) >= 0:
                pending += chunk[start:newline]
                start = newline + 1
                if pending.endswith(b"\r"):
                    del pending[-1:]
                if not _blank(pending):
                    line, pending = pending, bytearray()
                    yield line
                    del line  # not kept while the next line is read: two huge lines in a row
                else:
                    pending.clear()
            pending += chunk[start:]

    def _exited(self) -> bool:
        """Whether codex itself has exited (and was reaped), whoever still holds its pipes."""
        if self._exited_at is None and self._proc.returncode is not None:
            self._exited_at = time.monotonic()
        return self._exited_at is not None

    async def _read_chunk(self, stdout: asyncio.StreamReader, deadlines: Deadlines | None) -> bytes:
        read = asyncio.ensure_future(stdout.read(_CHUNK))
        limit = None if deadlines is None else deadlines.next_limit(time.monotonic())
        try:
            while True:
                now = time.monotonic()
                waits: list[tuple[float, Literal["total", "idle", "drain", "poll"]]] = []
                if limit is not None:
                    waits.append(limit)
                if self._exited():
                    assert self._exited_at is not None
                    waits.append((self._exited_at + _POST_EXIT_DRAIN_SECONDS, "drain"))
                else:
                    waits.append((now + _EXIT_POLL_SECONDS, "poll"))
                until, reason = min(waits)
                done, _ = await asyncio.wait({read}, timeout=max(0.0, until - now))
                if read in done:
                    return read.result()
                if reason == "drain":
                    # codex is gone but a leftover child holds stdout: stop reading.
                    return b""
                if reason != "poll":
                    raise ReadTimeout(reason)
        finally:
            if not read.done():
                read.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await read

    async def wait(self) -> int:
        """Codex's exit code, once it has exited (a leftover grandchild may hold its pipes)."""
        while not self._exited():
            await asyncio.wait({self._exit_task}, timeout=_EXIT_POLL_SECONDS)
        returncode = self._proc.returncode
        assert returncode is not None
        return returncode

    async def close(self, kill_grace_seconds: float = 3.0) -> None:
        """Terminate the process group if anything of it still runs, reap, close pipes."""
        try:
            await self._terminate_group(kill_grace_seconds)
        finally:
            for task in (self._stdin_task, self._stderr_task):
                if not task.done():
                    task.cancel()
            await asyncio.gather(self._stdin_task, self._stderr_task, return_exceptions=True)
            transport = getattr(self._proc, "_transport", None)
            if transport is not None:
                transport.close()  # also ends a wait() still held by a pipe nobody closed
            await asyncio.wait({self._exit_task}, timeout=_EXIT_POLL_SECONDS)
            if not self._exit_task.done():  # pragma: no cover - defensive
                self._exit_task.cancel()

    async def _terminate_group(self, grace: float) -> None:
        if not _POSIX:  # pragma: no cover - no process groups to kill
            if self._proc.returncode is None:
                self._proc.kill()
            await self.wait()
            return
        pgid = self._proc.pid  # start_new_session: the child leads its own group
        if self._group_alive(pgid):
            self._signal_group(pgid, signal.SIGTERM)
            loop_deadline = time.monotonic() + grace
            while self._group_alive(pgid) and time.monotonic() < loop_deadline:
                await asyncio.sleep(_KILL_POLL_SECONDS)
            if self._group_alive(pgid):
                logger.debug("codex group %s ignored SIGTERM; sending SIGKILL", pgid)
                self._signal_group(pgid, signal.SIGKILL)
                loop_deadline = time.monotonic() + _SIGKILL_SETTLE_SECONDS
                while self._group_alive(pgid) and time.monotonic() < loop_deadline:
                    await asyncio.sleep(_KILL_POLL_SECONDS)
        await self.wait()
        watchdog.unregister(pgid)

    def _group_alive(self, pgid: int) -> bool:
        if self._proc.returncode is None:
            return True
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return not _only_zombies_in_group(pgid)

    @staticmethod
    def _signal_group(pgid: int, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, sig)


def check_startable(invocation: CodexInvocation) -> None:
    """Refuse, with a message saying which part, what ``exec`` could not start."""
    parts = [("the codex executable path", invocation.argv[0])]
    parts += [
        (_argument_name(invocation.argv, index), arg)
        for index, arg in enumerate(invocation.argv)
        if index
    ]
    parts += [
        (f"environment variable {key[:60]!r}", f"{key}={value}")
        for key, value in invocation.env.items()
    ]
    if invocation.cwd is not None:
        parts.append(("the working directory", invocation.cwd))
    for what, text in parts:
        if "\x00" in text:
            raise CodexUsageError(f"{what} contains a NUL byte, which no command line can carry")
        try:
            size = len(os.fsencode(text))
        except UnicodeEncodeError:
            raise CodexUsageError(
                f"{what} contains a lone surrogate (invalid Unicode); send valid UTF-8 text"
            ) from None
        if size > _MAX_ARG_BYTES and what != "the working directory":
            raise CodexUsageError(
                f"{what} is too long for a command line ({size:,} bytes; the limit is "
                f"{_MAX_ARG_BYTES:,}); shorten it"
            )
    limit = _arg_max()
    total = _argv_bytes(invocation)
    if limit is not None and total > limit:
        raise CodexUsageError(_too_long(total, limit))


def _too_long(size: int, limit: int | None) -> str:
    where = f"; the limit is {limit:,}" if limit is not None else ""
    return (
        f"the codex command line is too long for this system ({size:,} bytes of arguments and "
        f"environment{where}); shorten config_overrides, paths or the environment"
    )


def _argument_name(argv: tuple[str, ...], index: int) -> str:
    """How to name argv[index] in an error: by the option it is the value of."""
    previous = argv[index - 1] if index > 1 else ""
    if previous.startswith("-") and previous not in ("-", "--"):
        if previous in ("--config", "-c"):
            key = argv[index].partition("=")[0]
            return f"the config override {key[:60]!r}"
        return f"the value of {previous}"
    return f"command-line argument {index}"


def _argv_bytes(invocation: CodexInvocation) -> int:
    """What exec counts against ARG_MAX: every string, its NUL and its pointer."""
    strings = [*invocation.argv, *(f"{k}={v}" for k, v in invocation.env.items())]
    return sum(len(text.encode("utf-8", "replace")) + 1 + 8 for text in strings)


def _arg_max() -> int | None:
    with contextlib.suppress(AttributeError, ValueError, OSError):
        value = os.sysconf("SC_ARG_MAX")
        if value > 0:
            return value
    return None


def _blank(line: bytearray) -> bool:
    return not line or line.isspace()  # isspace() stops at the first other byte; no copy


def _only_zombies_in_group(pgid: int) -> bool:
    """Whether every member of the group is a zombie (Linux ``/proc``; False if unknown).

    ``killpg(pgid, 0)`` also succeeds for killed orphans that init has not reaped yet; some
    inits reap only every second or two. They hold nothing, so there is nothing to wait for.
    """
    try:
        entries = os.listdir("/proc")
    except OSError:
        return False
    zombies = 0
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may itself contain spaces and parentheses
        fields = stat[stat.rfind(b")") + 2 :].split()
        if len(fields) < 3 or not fields[2].isdigit() or int(fields[2]) != pgid:
            continue
        if fields[0] not in (b"Z", b"X"):
            return False
        zombies += 1
    return zombies > 0
