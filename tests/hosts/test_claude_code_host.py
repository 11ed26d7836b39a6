"""Claude Code as the MCP host: the real ``claude -p`` (npm 2.1.332), offline against a mock
Anthropic Messages API, with codex-bridge added by the README's ``claude mcp add`` command.

Claude Code defers MCP tools: the model loads their schemas with ``ToolSearch`` first, then
calls ``mcp__codex-bridge__<tool>``. ``codex_run`` starts the real codex (npm 0.169), which
answers from a mock Responses API through its own CODEX_HOME.
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import shlex
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import msgspec
import psutil
import pytest

from codex_local_sdk.testing.mock_responses import HELLO_TEXT, MockResponsesServer
from codex_local_sdk.testing.real_codex import make_codex_home
from tests.support.figures import record
from tests.support.host_traffic import Traffic, recording_bridge
from tests.support.hosts import bridge, host_env, require, snippet
from tests.support.mock_messages import MockMessagesServer, text, tool_results, tool_use
from tests.support.paths import NPM_BIN
from tests.support.processes import codex_processes
from tests.support.waiting import wait_until

OUTER = "Use codex-bridge for this (host test)."
PREFIX = "mcp__codex-bridge__"
CLAUDE_FLAGS = ("--allowedTools", "mcp__codex-bridge")
JsonDict = dict[str, Any]


def codex_left(codex_home: pathlib.Path, *, warm_server_too: bool = True) -> list[str]:
    """Codex processes of this test still alive (not the host nor our server, which carry
    the same CODEX_HOME in their environment). ``warm_server_too=False`` leaves out the warm
    ``codex app-server``, which serves later turns while the bridge runs."""
    left = []
    for process in codex_processes(codex_home):
        try:
            command = " ".join(process.cmdline())
        except psutil.Error:
            continue
        if not warm_server_too and " app-server" in command:
            continue
        if "codex-bridge" not in command and "claude" not in command:
            left.append(command)
    return left


class ScriptedClaude:
    """The outer model: load our tools with ToolSearch, call ``calls`` in turn, then answer."""

    def __init__(self, calls: list[tuple[str, JsonDict]]) -> None:
        self.calls = calls
        self.results: list[JsonDict] = []

    def __call__(self, body: JsonDict) -> list[JsonDict] | None:
        tools = {tool.get("name") for tool in body.get("tools") or []}
        if "ToolSearch" not in tools or OUTER not in json.dumps(body.get("messages")):
            return None  # a side request (titles, summaries): the default text
        results = tool_results(body)
        if not results:
            names = ",".join(PREFIX + name for name in dict(self.calls))
            return [tool_use("ToolSearch", {"query": f"select:{names}"})]
        self.results = results[1:]
        if len(results) - 1 < len(self.calls):
            name, arguments = self.calls[len(results) - 1]
            return [tool_use(PREFIX + name, arguments)]
        return [text(f"made {len(self.calls)} calls")]


class ClaudeHost(msgspec.Struct, kw_only=True):
    home: pathlib.Path
    project: pathlib.Path
    codex_home: pathlib.Path
    env: dict[str, str]
    model: MockMessagesServer
    codex_model: MockResponsesServer
    traffic_log: pathlib.Path
    """What Claude Code sent our server and got back (the recording bridge's log)."""


def readme_commands() -> list[str]:
    """The README's ``claude mcp add`` commands, continuation lines joined, comments out."""
    joined = snippet("claude-mcp-add").replace("\\\n", " ")
    return [line for line in joined.splitlines() if line.strip() and not line.startswith("#")]


@pytest.fixture
def claude_host(tmp_path: pathlib.Path) -> Iterator[ClaudeHost]:
    require(NPM_BIN / "claude", "npm install --prefix .venv/npm @anthropic-ai/claude-code@2.1.332")
    require(NPM_BIN / "codex", "npm install --prefix .venv/npm @openai/codex@0.169.0")
    bridge()
    home = tmp_path / "home"
    project = home / "src"  # the README's --allowed-root ~/src
    project.mkdir(parents=True)
    with MockMessagesServer() as model, MockResponsesServer(slow_seconds=60) as codex_model:
        codex_home = make_codex_home(tmp_path, codex_model.base_url)
        recorder_bin, traffic_log = recording_bridge(tmp_path)
        env = host_env(
            home,
            first_on_path=recorder_bin,
            ANTHROPIC_BASE_URL=model.base_url,
            ANTHROPIC_API_KEY="sk-ant-dummy",
            DISABLE_TELEMETRY="1",
            DISABLE_AUTOUPDATER="1",
            DISABLE_ERROR_REPORTING="1",
            CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1",
            CODEX_HOME=str(codex_home),
            MOCK_API_KEY="dummy-key",
            CODEX_BRIDGE_LOG_LEVEL="DEBUG",
        )
        yield ClaudeHost(
            home=home,
            project=project,
            codex_home=codex_home,
            env=env,
            model=model,
            codex_model=codex_model,
            traffic_log=traffic_log,
        )


def add_server(host: ClaudeHost, command: str) -> None:
    """Run one README command as a user would, in a shell, in the project directory."""
    done = subprocess.run(
        ["bash", "-c", command],
        capture_output=True,
        text=True,
        env=host.env,
        cwd=host.project,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def ask_claude(host: ClaudeHost, *, extra_env: dict[str, str] | None = None) -> JsonDict:
    done = subprocess.run(
        [str(NPM_BIN / "claude"), "-p", OUTER, "--output-format", "json", *CLAUDE_FLAGS],
        capture_output=True,
        text=True,
        env={**host.env, **(extra_env or {})},
        cwd=host.project,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    answer: JsonDict = json.loads(done.stdout)
    return answer


def shown_text(result: JsonDict) -> str:
    """What Claude Code put in the tool_result the model reads."""
    content = result.get("content")
    if isinstance(content, str):
        return content
    return "".join(b.get("text", "") for b in content or [] if isinstance(b, dict))


def test_readme_claude_mcp_add_commands_register_a_working_server(
    claude_host: ClaudeHost,
) -> None:
    plain, with_policy = readme_commands()
    assert shlex.split(plain)[:3] == ["claude", "mcp", "add"]
    add_server(claude_host, with_policy)
    listed = subprocess.run(
        ["claude", "mcp", "get", "codex-bridge"],
        capture_output=True,
        text=True,
        env=claude_host.env,
        cwd=claude_host.project,
        timeout=60,
        check=False,
    )
    assert "Connected" in listed.stdout, listed.stdout + listed.stderr
    assert "CODEX_BRIDGE_SANDBOX_CEILING=workspace-write" in listed.stdout
    assert f"--allowed-root {claude_host.project}" in listed.stdout
    add_server(claude_host, "claude mcp remove codex-bridge")
    add_server(claude_host, plain)


def test_claude_lists_sessions_and_runs_codex(claude_host: ClaudeHost) -> None:
    add_server(claude_host, readme_commands()[1])
    run = {"prompt": "Say hello. [[mock:hello]]", "session_name": "from-claude"}
    model = ScriptedClaude([("codex_sessions_list", {}), ("codex_run", run)])
    claude_host.model.planner = model
    answer = ask_claude(claude_host)
    assert answer["result"] == "made 2 calls", answer
    listed, ran = model.results
    assert not listed.get("is_error") and not ran.get("is_error"), model.results
    # Claude Code hands the model our structuredContent (as JSON text), not our text block.
    sessions, outcome = json.loads(shown_text(listed)), json.loads(shown_text(ran))
    assert sessions == {"sessions": []}
    assert list(outcome)[:3] == ["final_message", "thread_id", "session_name"]
    assert outcome["final_message"] == HELLO_TEXT and outcome["session_name"] == "from-claude"
    assert "events" not in outcome
    assert "Say hello. [[mock:hello]]" in claude_host.codex_model.user_texts()
    record(
        "claude code host (2.1.332)",
        f"model reads structuredContent; codex_run result {len(shown_text(ran))} chars",
    )
    assert codex_left(claude_host.codex_home) == []
    traffic = Traffic(claude_host.traffic_log)
    assert traffic.tool_calls("codex_run"), traffic.summary()
    record("claude code host traffic", traffic.summary())


class CheckAfterTimeout(ScriptedClaude):
    """After the timed-out call, before its next call: is the timed-out codex still alive?
    (Asked while Claude Code still runs, so the answer does not depend on the host exiting.)"""

    def __init__(self, calls: list[tuple[str, JsonDict]], codex_home: pathlib.Path) -> None:
        super().__init__(calls)
        self.codex_home = codex_home
        self.left_after_timeout: int | None = None

    def __call__(self, body: JsonDict) -> list[JsonDict] | None:
        reply = super().__call__(body)
        if len(self.results) == 1 and self.left_after_timeout is None:
            with contextlib.suppress(AssertionError):  # counted below; asserted by the test
                wait_until(
                    lambda: not codex_left(self.codex_home, warm_server_too=False),
                    timeout=20,
                    interval=0.1,
                    message="codex to end",
                )
            self.left_after_timeout = len(codex_left(self.codex_home, warm_server_too=False))
        return reply


def test_a_run_past_mcp_tool_timeout_stops_codex(claude_host: ClaudeHost) -> None:
    add_server(claude_host, readme_commands()[1])
    calls = [("codex_run", {"prompt": "Take long. [[mock:slow]]"}), ("codex_sessions_list", {})]
    model = CheckAfterTimeout(calls, claude_host.codex_home)
    claude_host.model.planner = model
    started = time.monotonic()
    answer = ask_claude(claude_host, extra_env={"MCP_TOOL_TIMEOUT": "4000"})
    took = time.monotonic() - started
    assert answer["result"] == "made 2 calls", answer
    timed_out, listed = model.results
    # The server ends the run before MCP_TOOL_TIMEOUT (which Claude Code passes on to it),
    # so no cancellation is needed, and the model reads why (for an isError result Claude
    # Code shows our text block, not structuredContent).
    assert timed_out.get("is_error"), timed_out
    assert shown_text(timed_out).startswith("Codex timeout:"), timed_out
    assert model.left_after_timeout == 0, "the timed-out codex outlived the tool call"
    assert not listed.get("is_error"), listed  # the server serves on (or again)
    assert took < 40, f"claude waited {took:.0f}s for a 4s tool timeout"
    assert codex_left(claude_host.codex_home) == []
    traffic = Traffic(claude_host.traffic_log)
    record(
        "claude code MCP_TOOL_TIMEOUT",
        f"4s host timeout: run ended by the server first, codex gone before the next call; "
        f"{traffic.cancellations()} cancellation(s) sent by the host; "
        f"model saw {shown_text(timed_out)[:60]!r}…",
    )
