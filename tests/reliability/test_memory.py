"""Bounded memory: 200 MB of events through a run or a stream, and one huge line.

Each measurement runs in a fresh process (tests/reliability/memory_probe.py) so that its peak
RSS (``ru_maxrss``) belongs to that run alone; the rise over the peak before the run counts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from tests.support.figures import record
from tests.support.paths import ROOT

MB = 1_000_000
FLOOD = 200 * MB
HUGE = 50 * MB
MESSAGE_KEPT = 4 * 1024 * 1024  # max_message_bytes' default


def probe(mode: str, size: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.memory_probe", mode, str(size)],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout.splitlines()[-1])
    return report


def cost(report: dict[str, Any]) -> float:
    """The peak RSS rise of one huge line, in multiples of its size."""
    return float(report["rise_mb"]) * 1024 * 1024 / HUGE


def test_memory_stays_bounded() -> None:
    run, stream = probe("run", FLOOD), probe("stream", FLOOD)
    output_line, message_line = probe("huge_output", HUGE), probe("huge_message", HUGE)
    app_output, app_message = probe("app_huge_output", HUGE), probe("app_huge_message", HUGE)
    record(
        "memory",
        f"{run['rise_mb']:.0f} MB (run) / {stream['rise_mb']:.0f} MB (stream) peak RSS rise "
        f"for 200 MB of events; one 50 MB line costs {cost(output_line):.2f}x its size "
        f"(command output, its tail kept) / {cost(message_line):.2f}x (agent message, its "
        f"first 4 MiB kept); on the app-server {cost(app_output):.2f}x / "
        f"{cost(app_message):.2f}x (the message whole in item/started, item/completed and "
        "turn/completed)",
    )
    for flood in (run, stream):
        assert flood["events"] > 4000 and flood["kept_events"] == 1000
        assert flood["rise_mb"] <= 50
    for output in (output_line, app_output):
        assert output["truncated"] > HUGE * 0.99  # the tail only was kept...
        assert cost(output) <= 1.5  # ...and the whole output never built
    for message in (message_line, app_message):
        assert message["message_truncated"] == HUGE - MESSAGE_KEPT  # the head only was kept...
        assert cost(message) <= 1.5  # ...and the whole message never built
    assert message_line["final_message_length"] == MESSAGE_KEPT  # digits: a byte each
