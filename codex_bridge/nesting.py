"""Recursion guard: how deep this bridge runs inside codex runs that bridges started.

A codex that the bridge starts reads the same codex configuration as its host, which may list
codex-bridge as an MCP server: its model could then call ``codex_run`` again, and so on. Each
codex the bridge starts carries ``CODEX_BRIDGE_DEPTH`` (one more than the bridge's own), and a
bridge refuses to start codex when it runs ``max_depth`` levels deep. Hosts (codex among them)
start MCP servers with a minimal environment, so a bridge that does not see the variable itself
looks for it in its ancestors' environments (Linux ``/proc``; elsewhere only its own).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

__all__ = ["DEPTH_ENV", "child_environment", "nesting_depth"]

DEPTH_ENV = "CODEX_BRIDGE_DEPTH"
_MAX_ANCESTORS = 32


def nesting_depth(environ: Mapping[str, str] | None = None, pid: int | None = None) -> int:
    """0 for a bridge started by a person or a host; N inside N bridge-started codex runs."""
    own = _depth((os.environ if environ is None else environ).get(DEPTH_ENV))
    if own is not None:
        return own
    current = os.getpid() if pid is None else pid
    for _ in range(_MAX_ANCESTORS):
        parent = _parent(current)
        if parent is None or parent <= 1:
            return 0
        found = _depth(_environ_of(parent).get(DEPTH_ENV))
        if found is not None:
            return found
        current = parent
    return 0


def child_environment(depth: int) -> dict[str, str]:
    """The environment for the codex processes of a bridge at ``depth``."""
    return {**os.environ, DEPTH_ENV: str(depth + 1)}


def _depth(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit():
        return None
    return min(int(value), 1000)


def _parent(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return None


def _environ_of(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode("utf-8", "replace").partition("=") for item in raw.split(b"\0"))
    return {key: value for key, _, value in pairs if key}
