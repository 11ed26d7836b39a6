"""The warm engine through every front end with the REAL codex (both builds): approvals asked
in the editor (LSP ``window/showMessageRequest``) and on a terminal (the CLI's prompt, in a
pty), approve runs the escalated command and decline does not; threads resumed across
engines and across server processes; a killed app-server fails its turn, and the next turn
works."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import sys
from collections.abc import Callable
from typing import Any

import mcp_types as types
import pytest
from lsprotocol import types as lsp
from mcp import Client, StdioServerParameters
from pytest_lsp import LanguageClient

from codex_bridge.cli import EXIT_OK
from codex_bridge.mcp import build_server
from codex_bridge.policy import BridgePolicy
from codex_bridge.progress import APPROVAL_LABELS
from codex_bridge.service import BridgeService, ResumeParams, RunParams
from codex_local_sdk import ApprovalDecision
from codex_local_sdk.testing.mock_responses import ESCALATED_COMMAND, ESCALATED_MARKER, HELLO_TEXT
from tests.support.lsp_client import start_server, stop_server
from tests.support.processes import codex_processes, wait_none_left_async
from tests.support.real_codex import RealCodex
from tests.support.terminal import Terminal, clean_env
from tests.support.waiting import wait_until, wait_until_async

pytestmark = pytest.mark.timeout(180)
DECISIONS = ["approve", "decline"]


def _server_env(real_codex: RealCodex, store: pathlib.Path, **settings: str) -> dict[str, str]:
    env = clean_env(real_codex.env)
    env.update(
        CODEX_BRIDGE_CODEX_BIN=real_codex.binary,
        CODEX_BRIDGE_STORE_PATH=str(store),
        CODEX_BRIDGE_DEFAULT_CWD=str(real_codex.workdir),
        CODEX_BRIDGE_DEFAULT_TIMEOUT_SECONDS="120",
        **settings,
    )
    return env


def _escalation() -> dict[str, Any]:
    return {
        "prompt": "[[mock:escalate]] write the file",
        "approval_policy": "on-request",
        "sandbox": "workspace-write",
        "wait": True,
    }


# --------------------------------------------------------------------------- LSP


@pytest.mark.parametrize("decision", DECISIONS)
async def test_lsp_asks_with_a_message_request(
    real_codex: RealCodex, tmp_path: pathlib.Path, decision: str
) -> None:
    asked: list[lsp.ShowMessageRequestParams] = []
    label = APPROVAL_LABELS[ApprovalDecision(decision)]

    async def answer(
        _: LanguageClient, params: lsp.ShowMessageRequestParams
    ) -> lsp.MessageActionItem | None:
        asked.append(params)
        return lsp.MessageActionItem(title=label)

    env = _server_env(
        real_codex, tmp_path / "sessions.json", CODEX_BRIDGE_SANDBOX_CEILING="danger-full-access"
    )
    client = await start_server(env, workspace=real_codex.workdir, message_requests=answer)
    try:
        # direct mode: codex writes in the workspace itself, not in a review copy
        arguments = {**_escalation(), "review": False}
        result = await client.workspace_execute_command_async(
            lsp.ExecuteCommandParams(command="codex.run", arguments=[arguments])
        )
    finally:
        await stop_server(client)

    assert result is not None
    [question] = asked
    assert ESCALATED_COMMAND in question.message and str(real_codex.workdir) in question.message
    assert label in [action.title for action in question.actions or []]
    assert result["state"] == "completed", result
    [approval] = result["outcome"]["approvals"]
    assert (approval["decision"], approval["decided_by"]) == (decision, "user")
    assert (real_codex.workdir / ESCALATED_MARKER).exists() is (decision == "approve")
    await wait_none_left_async(lambda: codex_processes(real_codex.home, exclude="codex_bridge"))


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("decision", DECISIONS)
def test_cli_asks_on_the_terminal(
    real_codex: RealCodex, tmp_path: pathlib.Path, decision: str
) -> None:
    args = [
        "run",
        "[[mock:escalate]] write the file",
        "--codex-bin",
        real_codex.binary,
        "--store",
        str(tmp_path / "sessions.json"),
        "--sandbox-ceiling",
        "danger-full-access",
        "--sandbox",
        "workspace-write",
        "--approval-policy",
        "on-request",
        "--timeout",
        "120",
    ]
    terminal = Terminal(args, cwd=real_codex.workdir, env=real_codex.env)
    _wait(lambda: "y=approve" in terminal.text, "the approval prompt", terminal)
    assert ESCALATED_COMMAND in terminal.text
    terminal.send(b"y\n" if decision == "approve" else b"n\n")
    code = terminal.wait()

    assert code == EXIT_OK, terminal.text
    assert (real_codex.workdir / ESCALATED_MARKER).exists() is (decision == "approve")
    shown = "(exit 0)" if decision == "approve" else "(declined)"
    assert f"$ {ESCALATED_COMMAND}  {shown}" in terminal.text
    assert codex_processes(real_codex.home) == []


def _wait(condition: Callable[[], bool], what: str, terminal: Terminal) -> None:
    """Wait for ``condition``; fail at once if the CLI exits first."""
    wait_until(
        lambda: condition() or terminal.process.poll() is not None,
        timeout=60,
        message=lambda: f"{what}; the terminal shows:\n{terminal.text}",
    )
    if not condition():
        pytest.fail(f"no {what}; the CLI exited; the terminal shows:\n{terminal.text}")


# --------------------------------------------------------------------------- resume


def _service(real_codex: RealCodex, store: pathlib.Path, engine: str) -> BridgeService:
    settings: dict[str, Any] = {
        "store_path": str(store),
        "codex_bin": real_codex.binary,
        "default_cwd": str(real_codex.workdir),
        "engine": engine,
    }
    return BridgeService(BridgePolicy.from_sources(settings, env={}))


@pytest.mark.parametrize(("first", "then"), [("exec", "app-server"), ("app-server", "exec")])
async def test_a_thread_resumes_across_engines(
    real_codex: RealCodex,
    tmp_path: pathlib.Path,
    monkeypatch: pytest.MonkeyPatch,
    first: str,
    then: str,
) -> None:
    for key in ("CODEX_HOME", "MOCK_API_KEY"):
        monkeypatch.setenv(key, real_codex.env[key])
    store = tmp_path / "sessions.json"
    starter = _service(real_codex, store, first)
    try:
        started = await starter.run(RunParams(prompt="[[mock:hello]] start", session_name="x"))
    finally:
        await starter.aclose()
    resumer = _service(real_codex, store, then)
    try:
        resumed = await resumer.resume(ResumeParams(prompt="again", session_name="x"))
        engine = resumer.engine_status()
    finally:
        await resumer.aclose()

    assert started.ok and resumed.ok, (started, resumed)
    assert engine is not None and engine.engine == then
    assert resumed.thread_id == started.thread_id
    assert resumed.final_message == "echo: again"
    # the model saw the first turn again: the thread's history travelled with it
    assert "[[mock:hello]] start" in json.dumps(real_codex.server.requests[-1])
    assert codex_processes(real_codex.home) == []


async def test_a_thread_from_an_earlier_server_process_resumes_warm(
    real_codex: RealCodex, tmp_path: pathlib.Path
) -> None:
    env = _server_env(real_codex, tmp_path / "sessions.json", CODEX_BRIDGE_ENGINE="app-server")
    params = StdioServerParameters(command=sys.executable, args=["-m", "codex_bridge.mcp"], env=env)
    outcomes: list[dict[str, Any]] = []
    for arguments in (
        {"prompt": "[[mock:hello]] first", "session_name": "kept"},
        {"prompt": "second", "session_name": "kept"},
    ):
        tool = "codex_run" if "first" in arguments["prompt"] else "codex_resume"
        async with Client(params, mode="legacy") as client:  # a new server process each time
            result = await client.call_tool(tool, {**arguments, "timeout_seconds": 60})
        assert result.structured_content is not None, result
        outcomes.append(result.structured_content)

    first, second = outcomes
    assert first["ok"] and second["ok"], outcomes
    assert first["final_message"] == HELLO_TEXT and second["final_message"] == "echo: second"
    assert second["thread_id"] == first["thread_id"]
    assert codex_processes(real_codex.home) == []


# --------------------------------------------------------------------------- a dead server


async def test_a_killed_app_server_fails_its_turn_and_the_next_one_works(
    real_codex: RealCodex, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("CODEX_HOME", "MOCK_API_KEY"):
        monkeypatch.setenv(key, real_codex.env[key])
    service = _service(real_codex, tmp_path / "sessions.json", "app-server")
    async with Client(build_server(service)) as client:
        await client.call_tool("codex_run", {"prompt": "[[mock:hello]] warm"})
        assert service.engine is not None and service.engine.app_server is not None
        [pid] = service.engine.app_server.server_pids
        asked = len(real_codex.server.requests)

        async def kill_mid_turn() -> None:
            await wait_until_async(
                lambda: len(real_codex.server.requests) > asked,
                timeout=60,
                message="the doomed turn's request",
            )
            os.killpg(pid, signal.SIGKILL)

        killer = asyncio.create_task(kill_mid_turn())
        failed = await client.call_tool("codex_run", {"prompt": "[[mock:slow]] doomed"})
        await killer
        after = await client.call_tool("codex_run", {"prompt": "[[mock:hello]] after"})

    assert failed.structured_content is not None and after.structured_content is not None
    assert failed.structured_content["ok"] is False
    text = "\n".join(b.text for b in failed.content if isinstance(b, types.TextContent))
    assert text  # a readable outcome, not a protocol error
    assert after.structured_content["ok"] is True
    assert after.structured_content["final_message"] == HELLO_TEXT
    assert codex_processes(real_codex.home) == []
    assert json.dumps(failed.structured_content)  # the outcome is plain data
