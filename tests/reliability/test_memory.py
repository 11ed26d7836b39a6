"""Bounded memory: 200 MB of events through a run or a stream, and one huge line.

Each measurement runs in a fresh process (tests/reliability/memory_probe.py) so that its peak
RSS (``ru_maxrss``) belongs to that run alone; the rise over the peak before the run counts.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

from tests.support.figures import record

ROOT = pathlib.Path(__file__).resolve().parents[2]
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


def test_memory_stays_bounded() -> None:
    run, stream = probe("run", FLOOD), probe("stream", FLOOD)
    output_line, message_line = probe("huge_output", HUGE), probe("huge_message", HUGE)
    output_cost = output_line["rise_mb"] * 1024 * 1024 / HUGE
    message_cost = message_line["rise_mb"] * 1024 * 1024 / HUGE
    record(
        "memory",
        f"{run['rise_mb']:.0f} MB (run) / {stream['rise_mb']:.0f} MB (stream) peak RSS rise "
        f"for 200 MB of events; one 50 MB line costs {output_cost:.2f}x its size (command "
        f"output, its tail kept) / {message_cost:.2f}x (agent message, its first 4 MiB kept)",
    )
    for flood in (run, stream):
        assert flood["events"] > 4000 and flood["kept_events"] == 1000
        assert flood["rise_mb"] <= 50
    assert output_line["truncated"] > HUGE * 0.99  # the tail only was kept...
    assert output_cost <= 1.5  # ...and the whole output never built
    assert message_line["final_message_length"] == MESSAGE_KEPT  # the head only was kept...
    assert message_line["message_truncated"] == HUGE - MESSAGE_KEPT
    assert message_cost <= 1.5  # ...and the whole message never built
