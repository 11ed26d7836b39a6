"""Finding the processes a test started, orphans included, and waiting for them to end.

Two ways to find them: by the CODEX_HOME they run with (:func:`codex_processes`), or by a tag
every process of one test inherits (:data:`TAG_ENV`, :func:`tagged_processes`).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

import psutil

from tests.support.waiting import wait_until, wait_until_async

TAG_ENV = "MCP_SERVER_TEST_TAG"
"""Set to a unique value per test: every process the test starts (server, codex, codex's
children) inherits it, which is how leftovers are found."""

_MCP_SERVER_MARKERS = ("codex_bridge.mcp", "codex-bridge")

Finder = Callable[[], Sequence[psutil.Process]]


def codex_processes(
    codex_home: str | os.PathLike[str], *, exclude: str | None = None
) -> list[psutil.Process]:
    """Live processes (codex and anything it spawned) whose environment has this CODEX_HOME.

    ``exclude``: skip processes whose command line contains it (e.g. the server under test).
    """
    home = str(codex_home)
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if process.pid == os.getpid() or process.status() == psutil.STATUS_ZOMBIE:
                continue
            if exclude is not None and any(
                exclude in part for part in process.info["cmdline"] or []
            ):
                continue
            if process.environ().get("CODEX_HOME") == home:
                found.append(process)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    return found


def tagged_processes(tag: str) -> list[psutil.Process]:
    """Live processes carrying ``TAG_ENV=tag``, other than MCP servers and this process."""
    found: list[psutil.Process] = []
    for process in psutil.process_iter(["pid"]):
        if process.pid == os.getpid():
            continue
        try:
            if process.status() == psutil.STATUS_ZOMBIE:
                continue
            if process.environ().get(TAG_ENV) != tag:
                continue
            command = " ".join(process.cmdline())
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
        if any(marker in command for marker in _MCP_SERVER_MARKERS):
            continue
        found.append(process)
    return found


def describe(processes: Sequence[psutil.Process]) -> list[str]:
    """One line per process: its pid and (the start of) its command line."""
    lines = []
    for process in processes:
        try:
            lines.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            lines.append(f"{process.pid}: (gone)")
    return lines


def _still_alive(find: Finder) -> Callable[[], str]:
    return lambda: f"these processes to end: {describe(find())}"


def wait_none_left(find: Finder, *, timeout: float = 30.0, interval: float = 0.1) -> None:
    """Wait until ``find`` finds no process; fail listing those still alive."""
    wait_until(lambda: not find(), timeout=timeout, interval=interval, message=_still_alive(find))


async def wait_none_left_async(find: Finder, *, timeout: float = 30.0) -> None:
    """:func:`wait_none_left` for async tests."""
    await wait_until_async(lambda: not find(), timeout=timeout, message=_still_alive(find))


async def no_tagged_codex_left(tag: str, *, timeout: float = 20.0) -> None:
    """Every codex process (and child) of the test tagged ``tag`` ends within ``timeout``."""
    await wait_none_left_async(lambda: tagged_processes(tag), timeout=timeout)


def is_gone(pid: int) -> bool:
    """No such process any more (a zombie awaiting its new parent's reaping counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def open_fds() -> set[str]:
    """This process's open file descriptors."""
    return set(os.listdir("/proc/self/fd"))
