"""The MCP server's spans (the mcp SDK's OpenTelemetry middleware) carry a tool call's trace
context from ``_meta`` into the spans of the codex run it starts."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys

from tests.support.paths import ROOT

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


def test_a_tool_calls_trace_context_reaches_the_codex_spans(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str], workdir: pathlib.Path
) -> None:
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.support.otel_mcp_probe",
            str(tmp_path / "sessions.json"),
            fake_codex,
            str(workdir),
            f"00-{TRACE_ID}-{CALLER_SPAN}-01",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    spans = [json.loads(line) for line in completed.stdout.splitlines()]
    by_name = {span["name"]: span for span in spans}
    tool_call = by_name["tools/call codex_run"]
    operation = by_name["invoke_agent codex"]
    attempt = by_name["codex attempt 1"]
    assert tool_call["trace_id"] == operation["trace_id"] == attempt["trace_id"] == TRACE_ID
    assert tool_call["parent_id"] == CALLER_SPAN
    assert operation["parent_id"] == tool_call["span_id"]
    assert attempt["parent_id"] == operation["span_id"]
    assert operation["attributes"]["gen_ai.conversation.id"]
    assert "traced" not in json.dumps(spans)  # the prompt is never recorded
