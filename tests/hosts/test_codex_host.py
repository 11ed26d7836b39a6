"""Codex as the MCP host: the real ``codex exec`` (npm 0.169) with the README's config snippet
drives our server, and a scripted mock model calls our tools the way OpenAI's models do.

Codex offers MCP tools behind its ``tool_search`` tool when the model supports it: the model
searches first, gets the tools in a namespace (``mcp__codex_bridge``), then calls one by name
and namespace. The inner codex that ``codex_run`` starts reads the same CODEX_HOME (passed
through by the snippet's ``env_vars``) and answers from the same mock server.
"""

from __future__ import annotations

import json
import pathlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from codex_bridge.mcp import tool_specs
from codex_bridge.policy import BridgePolicy
from codex_local_sdk.testing.mock_responses import HELLO_TEXT, MockResponsesServer
from codex_local_sdk.testing.real_codex import make_codex_home
from tests.support.figures import record
from tests.support.host_traffic import Traffic, recording_bridge
from tests.support.hosts import bridge, fill, host_env, require, snippet
from tests.support.paths import NPM_BIN
from tests.support.processes import codex_processes, wait_none_left

NAMESPACE = "mcp__codex_bridge"
TOOLS = len(tool_specs(BridgePolicy()))  # every tool the server offers by default
OUTER = "Use codex-bridge. [[mock:host]]"
INNER_PROMPT = "Say hello. [[mock:hello]]"
JsonDict = dict[str, Any]


class ScriptedModel:
    """The outer model: search codex-bridge's tools, call ``calls`` one after another, then
    answer. Requests without the outer prompt (the inner codex's) fall through to the
    mock's directives."""

    def __init__(self, server: MockResponsesServer, calls: list[tuple[str, JsonDict]]) -> None:
        self.server = server
        self.calls = calls

    def __call__(self, body: JsonDict) -> list[JsonDict] | None:
        items: list[JsonDict] = [i for i in body.get("input") or [] if isinstance(i, dict)]
        if not any(OUTER in json.dumps(i) for i in items if i.get("role") == "user"):
            return None
        kinds = [item.get("type") for item in items]
        if "tool_search_output" not in kinds:
            return [self.server.tool_search_call("codex", limit=20)]
        done = kinds.count("function_call_output")
        if done < len(self.calls):
            name, arguments = self.calls[done]
            return [self.server.function_call(name, arguments, namespace=NAMESPACE)]
        return [self.server.message(f"made {done} calls")]


def tool_outputs(server: MockResponsesServer) -> list[str]:
    """What codex sent the model as our tools' results, in order (from the last request)."""
    items = server.requests[-1]["input"]
    return [item["output"] for item in items if item.get("type") == "function_call_output"]


def structured_part(output: str) -> JsonDict:
    """Codex hands the model ``Wall time: ...\\nOutput:\\n<structuredContent JSON>``."""
    head, _, data = output.partition("Output:\n")
    assert head.startswith("Wall time"), output
    parsed: JsonDict = json.loads(data)
    return parsed


@pytest.fixture
def codex_host(tmp_path: pathlib.Path) -> Iterator[tuple[MockResponsesServer, pathlib.Path]]:
    """A mock model server and a CODEX_HOME configured with the README's snippet."""
    with MockResponsesServer() as server:
        home = make_codex_home(
            tmp_path, server.base_url, env_key="OPENAI_API_KEY", search_tool=True
        )
        config = fill(snippet("codex-config"), {"/home/me/src": str(tmp_path)})
        with (home / "config.toml").open("a", encoding="utf-8") as file:
            file.write("\n" + config + "\n")
        yield server, home


def run_codex_host(codex_home: pathlib.Path, tmp_path: pathlib.Path, prompt: str) -> list[JsonDict]:
    binary = require(NPM_BIN / "codex", "npm install --prefix .venv/npm @openai/codex@0.169.0")
    bridge()
    user_home = tmp_path / "user"
    user_home.mkdir(exist_ok=True)
    recorder_bin, _ = recording_bridge(tmp_path)
    env = host_env(
        user_home,
        first_on_path=recorder_bin,
        CODEX_HOME=str(codex_home),
        OPENAI_API_KEY="dummy-key",
    )
    done = subprocess.run(
        [binary, "exec", "--json", "--skip-git-repo-check", "-"],
        input=prompt,
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def mcp_calls(events: list[JsonDict]) -> list[JsonDict]:
    return [
        event["item"]
        for event in events
        if event["type"] == "item.completed" and event["item"]["type"] == "mcp_tool_call"
    ]


def test_codex_lists_our_tools_and_runs_a_nested_codex(
    codex_host: tuple[MockResponsesServer, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    server, home = codex_host
    work = tmp_path / "work"
    work.mkdir()
    run = {"prompt": INNER_PROMPT, "cwd": str(work), "session_name": "from-codex"}
    server.planner = ScriptedModel(
        server,
        [("codex_sessions_list", {}), ("codex_run", run), ("codex_sessions_list", {})],
    )
    events = run_codex_host(home, tmp_path, OUTER)

    # The search found all our tools, under one namespace.
    found = [i for i in server.requests[1]["input"] if i.get("type") == "tool_search_output"]
    [namespace] = found[0]["tools"]
    assert namespace["name"] == NAMESPACE
    assert "codex-bridge runs the OpenAI Codex coding agent" in namespace["description"]
    assert len(namespace["tools"]) == TOOLS

    calls = mcp_calls(events)
    assert [c["tool"] for c in calls] == ["codex_sessions_list", "codex_run", "codex_sessions_list"]
    assert all(c["status"] == "completed" and c["error"] is None for c in calls), calls
    assert INNER_PROMPT in server.user_texts()  # the inner codex asked the same mock model

    # What the model reads is our structuredContent, so it leads with the answer.
    before, result, after = (structured_part(output) for output in tool_outputs(server))
    assert before == {"sessions": []}
    assert list(result)[:3] == ["final_message", "thread_id", "session_name"]
    assert result["final_message"] == HELLO_TEXT and result["ok"] is True
    assert "events" not in result
    assert [s["name"] for s in after["sessions"]] == ["from-codex"]
    assert after["sessions"][0]["cwd"] == str(work)
    record(
        "codex host (0.169)",
        f"model reads structuredContent; codex_run result {len(json.dumps(result))} chars",
    )
    # What Codex sends our server, as observed (README: host facts).
    traffic = Traffic(recording_bridge(tmp_path)[1])
    assert len(traffic.tool_calls()) == 3, traffic.summary()
    record("codex host traffic", traffic.summary())
    # The host closed our server's stdin as it exited; the server then stops its warm
    # app-server (or, if the host killed it, the orphan watchdog does): allow it a moment.
    wait_none_left(lambda: codex_processes(home, exclude="codex_bridge"), timeout=20)


def test_codex_approval_mode_in_the_snippet_is_what_lets_codex_run_through(
    codex_host: tuple[MockResponsesServer, pathlib.Path], tmp_path: pathlib.Path
) -> None:
    """Without ``default_tools_approval_mode`` codex exec refuses codex_run: keep it in the
    README snippet."""
    server, home = codex_host
    config = home / "config.toml"
    text = config.read_text(encoding="utf-8")
    assert 'default_tools_approval_mode = "approve"' in text
    config.write_text(text.replace('default_tools_approval_mode = "approve"', ""), "utf-8")
    server.planner = ScriptedModel(server, [("codex_run", {"prompt": INNER_PROMPT})])
    [call] = mcp_calls(run_codex_host(home, tmp_path, OUTER))
    assert call["status"] == "failed"
    assert "requires approval" in call["error"]["message"]
    assert INNER_PROMPT not in server.user_texts()
