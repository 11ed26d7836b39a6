"""Helpers for the MCP server tests: finding leftover codex processes, progress recording,
launching the server over stdio."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import anyio
import psutil
from mcp import StdioServerParameters

TAG_ENV = "MCP_SERVER_TEST_TAG"
"""Set to a unique value per test: every process the test starts (server, codex, codex's
children) inherits it, which is how leftovers are found."""

_SERVER_MARKERS = ("codex_bridge.mcp", "codex-bridge")


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
        if any(marker in command for marker in _SERVER_MARKERS):
            continue
        found.append(process)
    return found


def describe(processes: Sequence[psutil.Process]) -> list[str]:
    lines = []
    for process in processes:
        try:
            lines.append(f"{process.pid}: {' '.join(process.cmdline())[:200]}")
        except psutil.Error:
            lines.append(f"{process.pid}: (gone)")
    return lines


async def wait_until(condition: Callable[[], bool], *, within: float = 20.0) -> bool:
    """Poll ``condition`` until it holds or ``within`` seconds pass; returns its last value."""
    deadline = time.monotonic() + within
    while not condition():
        if time.monotonic() > deadline:
            return condition()
        await anyio.sleep(0.05)
    return True


async def leftover_codex(tag: str, *, within: float = 20.0) -> list[str]:
    """Codex processes (and their children) still alive once they have had time to die."""
    await wait_until(lambda: not tagged_processes(tag), within=within)
    return describe(tagged_processes(tag))


class ProgressRecorder:
    """A progress callback for ``Client.call_tool`` that remembers every notification."""

    def __init__(self) -> None:
        self.updates: list[tuple[float, float | None, str | None]] = []

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.updates.append((progress, total, message))

    @property
    def messages(self) -> list[str]:
        return [message or "" for _, _, message in self.updates]

    @property
    def values(self) -> list[float]:
        return [progress for progress, _, _ in self.updates]


def server_env(
    *, store: Path, codex_bin: str, workdir: Path, extra: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The environment for a stdio server: this process's (CODEX_HOME, fake codex settings,
    the test tag) plus the policy as ``CODEX_BRIDGE_*`` variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_BRIDGE_")}
    env.update(
        CODEX_BRIDGE_STORE_PATH=str(store),
        CODEX_BRIDGE_CODEX_BIN=codex_bin,
        CODEX_BRIDGE_DEFAULT_CWD=str(workdir),
    )
    env.update(extra or {})
    return env


def module_server(env: Mapping[str, str], cwd: Path) -> StdioServerParameters:
    """``python -m codex_bridge.mcp`` (independent of the console script)."""
    return StdioServerParameters(
        command=sys.executable, args=["-m", "codex_bridge.mcp"], env=dict(env), cwd=cwd
    )


def cli_server(env: Mapping[str, str], cwd: Path) -> StdioServerParameters | None:
    """``codex-bridge mcp`` from this interpreter's environment, when installed."""
    script = Path(sys.executable).with_name("codex-bridge")
    if not script.exists():
        return None
    return StdioServerParameters(command=str(script), args=["mcp"], env=dict(env), cwd=cwd)
