"""A recording stand-in for ``codex-bridge``: what a host really sends our server.

The host tests put :func:`recording_bridge`'s directory first on the host's PATH, so the
README's snippet (``command = "codex-bridge"``) starts the wrapper, which runs the real bridge
and copies every JSON-RPC line each way into a log. The tests then record what the host does:
whether its tool calls carry a progress token, whether it sends cancellations.
"""

from __future__ import annotations

import json
import pathlib
import sys
from typing import Any

from tests.support.paths import BRIDGE

__all__ = ["Traffic", "recording_bridge"]

_WRAPPER = """#!{python}
import json, subprocess, sys, threading, time
LOG, REAL = {log!r}, {real!r}
child = subprocess.Popen([REAL, *sys.argv[1:]], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
lock = threading.Lock()

def note(direction, line):
    entry = {{"dir": direction, "t": time.time(), "line": line.decode("utf-8", "replace")}}
    with lock, open(LOG, "a", encoding="utf-8") as log:
        log.write(json.dumps(entry) + "\\n")

def pump_in():
    for line in sys.stdin.buffer:
        note("in", line)
        child.stdin.write(line)
        child.stdin.flush()
    child.stdin.close()

threading.Thread(target=pump_in, daemon=True).start()
for line in child.stdout:
    note("out", line)
    sys.stdout.buffer.write(line)
    sys.stdout.buffer.flush()
sys.exit(child.wait())
"""


def recording_bridge(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path]:
    """(a directory holding the wrapper ``codex-bridge``, the traffic log it writes)."""
    bin_dir = directory / "recording-bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    log = directory / "bridge-traffic.jsonl"
    wrapper = bin_dir / "codex-bridge"
    wrapper.write_text(_WRAPPER.format(python=sys.executable, log=str(log), real=str(BRIDGE)))
    wrapper.chmod(0o755)
    return bin_dir, log


class Traffic:
    """The JSON-RPC messages of a recorded session, by direction."""

    def __init__(self, log: pathlib.Path) -> None:
        self.sent: list[dict[str, Any]] = []  # host → bridge
        self.received: list[dict[str, Any]] = []  # bridge → host
        if not log.exists():
            return
        for raw in log.read_text(encoding="utf-8").splitlines():
            entry = json.loads(raw)
            try:
                message = json.loads(entry["line"])
            except ValueError:
                continue
            if isinstance(message, dict):
                (self.sent if entry["dir"] == "in" else self.received).append(message)

    def tool_calls(self, name: str | None = None) -> list[dict[str, Any]]:
        return [
            m
            for m in self.sent
            if m.get("method") == "tools/call"
            and (name is None or m.get("params", {}).get("name") == name)
        ]

    def progress_tokens(self) -> int:
        """Tool calls that asked for progress (``_meta.progressToken``)."""
        return sum(
            1
            for m in self.tool_calls()
            if isinstance(m.get("params", {}).get("_meta"), dict)
            and "progressToken" in m["params"]["_meta"]
        )

    def cancellations(self) -> int:
        return sum(1 for m in self.sent if m.get("method") == "notifications/cancelled")

    def progress_notifications(self) -> int:
        return sum(1 for m in self.received if m.get("method") == "notifications/progress")

    def summary(self) -> str:
        return (
            f"{len(self.tool_calls())} tool calls, {self.progress_tokens()} with a progress "
            f"token, {self.progress_notifications()} progress notifications, "
            f"{self.cancellations()} cancellations"
        )
