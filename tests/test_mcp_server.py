"""The MCP server, through the official ``mcp`` client: in process and over stdio, on the
2025-11-25 handshake (``mode="legacy"``) and on 2026-07-28.

Most tests use the fake codex; ``test_real_codex_over_stdio`` drives the real CLI against the
mock Responses API. Every test that starts codex checks that no codex process is left.
"""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import jsonschema
import pytest
from anyio.abc import Process
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError
from mcp_types import TextResourceContents, ToolAnnotations

from codex_bridge.mcp import host_tool_timeout
from codex_bridge.service import BridgeService
from codex_local_sdk.testing.mock_responses import HELLO_TEXT
from tests.support.fake_codex import child_started, fake_log
from tests.support.mcp_client import (
    ProgressRecorder,
    call_error,
    call_ok,
    cli_server,
    connect,
    module_server,
    structured,
    text_of,
)
from tests.support.paths import ROOT
from tests.support.processes import TAG_ENV, describe, no_tagged_codex_left, tagged_processes
from tests.support.real_codex import RealCodex
from tests.support.servers import MCP_PROTOCOL, server_env
from tests.support.waiting import wait_until_async

TOOLS = {
    "codex_run",
    "codex_resume",
    "codex_fork",
    "codex_sessions_list",
    "codex_session_show",
    "codex_session_rename",
    "codex_session_delete",
    "codex_job_start",
    "codex_job_status",
    "codex_job_wait",
    "codex_job_cancel",
    "codex_jobs_list",
    "codex_steer",
    "codex_threads_list",
    "codex_worktrees_list",
    "codex_worktree_remove",
}

pytestmark = pytest.mark.timeout(120)


# --------------------------------------------------------------------------- tool list


async def test_tool_list_declares_schemas_and_honest_annotations(
    make_service: Callable[..., BridgeService], mode: str
) -> None:
    async with connect(make_service(), mode) as client:
        tools = {tool.name: tool for tool in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and tool.title, tool.name
        for schema in (tool.input_schema, tool.output_schema):
            assert schema is not None and schema["type"] == "object", tool.name
            assert "$ref" not in json.dumps(schema), tool.name  # inlined for every host
            jsonschema.Draft202012Validator.check_schema(schema)
        assert tool.input_schema["additionalProperties"] is False
        for name, prop in tool.input_schema["properties"].items():
            assert prop.get("description"), f"{tool.name}.{name} has no description"

    run = tools["codex_run"].input_schema
    assert run["required"] == ["prompt"]
    assert set(run["properties"]["sandbox"]["enum"]) == {
        "read-only",
        "workspace-write",
        "danger-full-access",
    }
    assert run["properties"]["sandbox"]["type"] == "string"
    # The server's limits are part of the descriptions.
    assert (
        "default read-only, at most workspace-write" in run["properties"]["sandbox"]["description"]
    )
    assert "default 900, at most 3600" in run["properties"]["timeout_seconds"]["description"]
    assert "never" in run["properties"]["approval_policy"]["enum"]
    assert run["properties"]["timeout_seconds"]["type"] == "number"
    job_start = tools["codex_job_start"].input_schema["properties"]
    assert job_start["kind"]["enum"] == ["fork", "resume", "run"]
    assert {"thread_id", "new_session_name", "add_dirs"} <= set(job_start)
    assert tools["codex_run"].output_schema is not None
    assert {"ok", "status", "final_message", "thread_id", "commands", "files_changed"} <= set(
        tools["codex_run"].output_schema["properties"]
    )

    hints = {name: tool.annotations or ToolAnnotations() for name, tool in tools.items()}
    for name in (
        "codex_sessions_list",
        "codex_session_show",
        "codex_job_status",
        "codex_job_wait",
        "codex_jobs_list",
    ):
        assert hints[name].read_only_hint is True, name
    for name in ("codex_run", "codex_resume", "codex_fork", "codex_job_start"):
        assert hints[name].open_world_hint is True and hints[name].read_only_hint is False, name
    delete = hints["codex_session_delete"]
    assert delete.destructive_hint is True and not delete.read_only_hint


# --------------------------------------------------------------------------- runs


async def test_run_returns_structured_content_and_text(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        result = await client.call_tool("codex_run", {"prompt": "list files [[fake:shell]]"})
    assert not result.is_error
    outcome = structured(result)
    # What a model reads first: the answer, then where to continue, then what Codex did.
    assert list(outcome)[:4] == ["final_message", "thread_id", "ok", "status"]
    assert outcome["ok"] is True and outcome["status"] == "completed"
    assert outcome["final_message"] == "All done."
    assert outcome["commands"] == [{"command": "echo fake-shell-ok", "exit_code": 0}]
    assert outcome["thread_id"] and outcome["usage"]["output_tokens"] > 0
    # Compact: nothing empty, nothing bulky unless asked for.
    assert not {"events", "error", "session_name", "turn_status", "warnings"} & set(outcome)
    text = text_of(result)
    assert text.startswith("All done.\n")
    assert "$ echo fake-shell-ok (exit 0)" in text and outcome["thread_id"] in text


async def test_detail_full_adds_events_and_command_output(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        schema = {t.name: t.output_schema for t in (await client.list_tools()).tools}["codex_run"]
        outcome = await call_ok(
            client, "codex_run", {"prompt": "list files [[fake:shell]]", "detail": "full"}
        )
    assert schema is not None
    jsonschema.validate(outcome, schema)
    assert outcome["final_message"] == "All done."
    assert outcome["commands"][0]["output"].strip() == "fake-shell-ok"
    types = [event["type"] for event in outcome["events"]]
    assert types[0] == "thread.started" and types[-1] == "turn.completed"
    assert outcome["turn_status"] == "completed"


async def test_output_schema_gives_structured_output_and_files_changed(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    schema = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["status", "count"],
        "additionalProperties": False,
    }
    async with connect(make_service(), mode) as client:
        answer = await call_ok(
            client, "codex_run", {"prompt": "count [[fake:file_change]]", "output_schema": schema}
        )
    assert answer["structured_output"] == {"status": "ok", "count": 0}
    assert answer["files_changed"]


async def test_failed_turn_is_an_error_even_when_codex_exits_0(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        output_schema = {t.name: t.output_schema for t in (await client.list_tools()).tools}
        result = await client.call_tool("codex_run", {"prompt": "go [[fake:fail_exit0]]"})
    assert result.is_error
    outcome = structured(result)
    schema = output_schema["codex_run"]
    assert schema is not None
    jsonschema.validate(outcome, schema)
    assert outcome["ok"] is False and outcome["status"] == "failed"
    assert outcome["error"]["message"]
    assert text_of(result).startswith("Codex failed:")


async def test_timeout_is_an_error_and_kills_codex(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        result = await client.call_tool(
            "codex_run", {"prompt": "[[fake:stall]]", "timeout_seconds": 1}
        )
    assert result.is_error
    assert structured(result)["status"] == "timeout"


async def test_progress_notifications_arrive_in_order(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    recorder = ProgressRecorder()
    async with connect(make_service(), mode) as client:
        await call_ok(client, "codex_run", {"prompt": "[[fake:shell]]"}, progress_callback=recorder)
    values = recorder.values
    assert values == sorted(values) and len(set(values)) == len(values)
    messages = recorder.messages
    assert messages[0].startswith("thread ") and messages[0].endswith(" started")
    expected = ["thinking…", "$ echo fake-shell-ok", "$ echo fake-shell-ok (exit 0)", "All done."]
    positions = [messages.index(line) for line in expected]
    assert positions == sorted(positions), messages
    assert messages[-1].startswith("turn completed")


async def test_runs_queue_behind_the_concurrency_cap(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    recorder = ProgressRecorder()
    async with connect(make_service(max_concurrency=1), mode) as client:
        job = await call_ok(client, "codex_job_start", {"prompt": "[[fake:stall]]"})
        outcomes: list[dict[str, Any]] = []

        async def queued_run() -> None:
            outcomes.append(
                await call_ok(client, "codex_run", {"prompt": "later"}, progress_callback=recorder)
            )

        async with anyio.create_task_group() as group:
            group.start_soon(queued_run)
            await wait_until_async(
                lambda: recorder.messages, timeout=20, message="a progress message"
            )
            assert recorder.messages[0] == "queued: waiting for a free codex slot"
            assert not outcomes
            await call_ok(client, "codex_job_cancel", {"job_id": job["job_id"]})
    assert outcomes[0]["final_message"] == "echo: later"


# --------------------------------------------------------------------------- sessions


async def test_resume_fork_and_session_tools(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        first = await call_ok(client, "codex_run", {"prompt": "first", "session_name": "alpha"})
        assert first["session_name"] == "alpha"
        again = await call_ok(client, "codex_resume", {"prompt": "second", "session_name": "alpha"})
        assert again["thread_id"] == first["thread_id"]
        assert again["final_message"] == "echo: second"
        by_id = await call_ok(
            client, "codex_resume", {"prompt": "third", "thread_id": first["thread_id"]}
        )
        assert by_id["thread_id"] == first["thread_id"]
        fork = await call_ok(
            client,
            "codex_fork",
            {"prompt": "other way", "session_name": "alpha", "new_session_name": "beta"},
        )
        assert fork["thread_id"] != first["thread_id"] and fork["session_name"] == "beta"

        listed = await call_ok(client, "codex_sessions_list", {})
        assert {s["name"] for s in listed["sessions"]} == {"alpha", "beta"}
        shown = await call_ok(client, "codex_session_show", {"name": "alpha"})
        assert shown["thread_id"] == first["thread_id"]
        assert [t["prompt_preview"] for t in shown["recent_turns"]][:2] == ["first", "second"]

        renamed = await call_ok(
            client, "codex_session_rename", {"name": "alpha", "new_name": "gamma"}
        )
        assert renamed["name"] == "gamma"
        assert "alpha" in await call_error(client, "codex_session_show", {"name": "alpha"})
        deleted = await call_ok(client, "codex_session_delete", {"name": "gamma"})
        assert deleted["thread_id"] == first["thread_id"]
        listed = await call_ok(client, "codex_sessions_list", {})
        assert [s["name"] for s in listed["sessions"]] == ["beta"]
        # The thread outlives its name.
        await call_ok(client, "codex_resume", {"prompt": "still", "thread_id": first["thread_id"]})


async def test_sessions_are_resources(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    async with connect(make_service(), mode) as client:
        run = await call_ok(client, "codex_run", {"prompt": "hi", "session_name": "my task"})
        uris = {str(r.uri) for r in (await client.list_resources()).resources}
        assert uris == {"codex://sessions", "codex://sessions/my%20task"}
        templates = (await client.list_resource_templates()).resource_templates
        assert [t.uri_template for t in templates] == [
            "codex://sessions/{name}",
            "codex://jobs/{id}",
        ]

        one = (await client.read_resource("codex://sessions/my%20task")).contents[0]
        assert isinstance(one, TextResourceContents) and one.mime_type == "application/json"
        assert json.loads(one.text)["thread_id"] == run["thread_id"]
        every = (await client.read_resource("codex://sessions")).contents[0]
        assert isinstance(every, TextResourceContents)
        assert [s["name"] for s in json.loads(every.text)] == ["my task"]
        with pytest.raises(MCPError, match="nope"):
            await client.read_resource("codex://sessions/nope")


# --------------------------------------------------------------------------- jobs


async def test_job_lifecycle(
    make_service: Callable[..., BridgeService],
    mode: str,
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    async with connect(make_service(), mode) as client:
        started = await call_ok(
            client, "codex_job_start", {"prompt": "[[fake:shell]]", "session_name": "bg"}
        )
        assert started["state"] in ("queued", "running") and started["kind"] == "run"
        done = await call_ok(
            client, "codex_job_wait", {"job_id": started["job_id"], "wait_seconds": 60}
        )
        assert done["state"] == "completed"
        assert done["outcome"]["final_message"] == "All done."
        assert "$ echo fake-shell-ok (exit 0)" in done["progress"]
        status = await call_ok(client, "codex_job_status", {"job_id": started["job_id"]})
        assert status["state"] == "completed"

        resumed = await call_ok(
            client, "codex_job_start", {"kind": "resume", "prompt": "more", "session_name": "bg"}
        )
        resumed = await call_ok(client, "codex_job_wait", {"job_id": resumed["job_id"]})
        assert resumed["outcome"]["thread_id"] == done["outcome"]["thread_id"]

        stalled = await call_ok(client, "codex_job_start", {"prompt": "[[fake:child]]"})
        await child_started(state_dir, timeout=20)
        waited = await call_ok(
            client, "codex_job_wait", {"job_id": stalled["job_id"], "wait_seconds": 0}
        )
        assert waited["state"] == "running"  # a bounded wait leaves the job running
        assert tagged_processes(tag)
        cancelled = await call_ok(client, "codex_job_cancel", {"job_id": stalled["job_id"]})
        assert cancelled["state"] == "cancelled"
        await no_tagged_codex_left(tag)

        jobs = await call_ok(client, "codex_jobs_list", {})
        assert [j["state"] for j in jobs["jobs"]] == ["completed", "completed", "cancelled"]
        assert "no job" in await call_error(client, "codex_job_status", {"job_id": "job-x"})
        refused = await call_error(
            client, "codex_job_start", {"kind": "resume", "prompt": "x", "session_name": "none"}
        )
        assert "none" in refused
        assert "kind" in await call_error(
            client, "codex_job_start", {"kind": "run?", "prompt": "x"}
        )
        assert len((await call_ok(client, "codex_jobs_list", {}))["jobs"]) == 3


# --------------------------------------------------------------------------- cancellation


async def test_cancelled_call_kills_codex(
    make_service: Callable[..., BridgeService],
    mode: str,
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    async with connect(make_service(), mode) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "codex_run", {"prompt": "[[fake:child]]"})
            await child_started(state_dir, timeout=20)
            assert len(tagged_processes(tag)) == 2  # codex and its child
            group.cancel_scope.cancel()
        await no_tagged_codex_left(tag)
        # The server carries on.
        await call_ok(client, "codex_run", {"prompt": "after"})


async def test_closing_the_connection_kills_running_codex(
    make_service: Callable[..., BridgeService],
    mode: str,
    state_dir: pathlib.Path,
    tag: str,
    no_codex_left: None,
) -> None:
    async with connect(make_service(), mode) as client:
        await call_ok(client, "codex_job_start", {"prompt": "[[fake:child]]"})
        await child_started(state_dir, timeout=20)
    await no_tagged_codex_left(tag)


# --------------------------------------------------------------------------- refusals


async def test_policy_refusals_are_tool_errors(
    make_service: Callable[..., BridgeService],
    mode: str,
    workdir: pathlib.Path,
    fake_env: dict[str, str],
    no_codex_left: None,
) -> None:
    service = make_service(allowed_roots=(str(workdir),))
    async with connect(service, mode) as client:
        message = await call_error(
            client, "codex_run", {"prompt": "x", "sandbox": "danger-full-access"}
        )
        assert "ceiling 'workspace-write'" in message
        message = await call_error(client, "codex_run", {"prompt": "x", "cwd": "/"})
        assert "outside the allowed roots" in message
        message = await call_error(
            client,
            "codex_run",
            {"prompt": "x", "config_overrides": {"sandbox_mode": "danger-full-access"}},
        )
        assert "not allowed" in message
        assert fake_log(fake_env) == []  # refused before codex was started
        await call_ok(client, "codex_run", {"prompt": "x", "sandbox": "workspace-write"})


async def test_read_only_ceiling(
    make_service: Callable[..., BridgeService], mode: str, no_codex_left: None
) -> None:
    service = make_service(sandbox_ceiling="read-only")
    async with connect(service, mode) as client:
        message = await call_error(
            client,
            "codex_resume",
            {"prompt": "x", "thread_id": str(uuid.uuid4()), "sandbox": "workspace-write"},
        )
    assert "ceiling 'read-only'" in message


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("codex_run", {}, "missing required field `prompt`"),
        ("codex_run", {"prompt": 5}, "Expected `str`"),
        ("codex_run", {"prompt": "x", "bogus": 1}, "unknown field `bogus`"),
        ("codex_run", {"prompt": "x", "sandbox": "everything"}, "Invalid enum value"),
        ("codex_run", {"prompt": "   "}, "prompt must not be empty"),
        ("codex_run", {"prompt": "x", "cwd": "missing-dir"}, "is not an existing directory"),
        ("codex_run", {"prompt": "x", "timeout_seconds": -1}, "must be positive"),
        ("codex_resume", {"prompt": "x"}, "exactly one of session_name or thread_id"),
        ("codex_resume", {"prompt": "x", "session_name": "ghost"}, "ghost"),
        ("codex_fork", {"prompt": "x", "thread_id": "not-a-uuid"}, "not a codex thread id"),
        ("codex_session_show", {}, "missing required field `name`"),
        ("codex_job_wait", {"job_id": "job-0"}, "no job 'job-0'"),
        ("codex_sessions_list", {"extra": True}, "unknown field `extra`"),
    ],
)
async def test_invalid_arguments_are_tool_errors(
    make_service: Callable[..., BridgeService],
    tool: str,
    arguments: dict[str, Any],
    expected: str,
    no_codex_left: None,
) -> None:
    async with connect(make_service(), "legacy") as client:
        assert expected in await call_error(client, tool, arguments)
        await call_ok(client, "codex_sessions_list", {})  # still serving


async def test_unknown_tool_is_a_protocol_error_and_json_text_arguments_are_decoded(
    make_service: Callable[..., BridgeService],
    mode: str,
    fake_env: dict[str, str],
    no_codex_left: None,
) -> None:
    async with connect(make_service(), mode) as client:
        with pytest.raises(MCPError, match="codex_run"):
            await client.call_tool("codex_explode", {})
        # Some hosts send object arguments as JSON text, and null for "not given".
        await call_ok(
            client,
            "codex_run",
            {"prompt": "x", "config_overrides": '{"model_reasoning_effort": "low"}', "model": None},
        )
    assert fake_log(fake_env)[-1]["config"]["model_reasoning_effort"] == "low"


# --------------------------------------------------------------------------- stdio


async def test_stdio_round_trip(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, mode: str, no_codex_left: None
) -> None:
    recorder = ProgressRecorder()
    async with Client(module_server(bridge_env, tmp_path), mode=mode) as client:
        assert client.protocol_version == MCP_PROTOCOL[mode]
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS
        first = await call_ok(
            client,
            "codex_run",
            {"prompt": "[[fake:shell]]", "session_name": "s"},
            progress_callback=recorder,
        )
        assert first["final_message"] == "All done."
        assert recorder.values == sorted(recorder.values) and len(recorder.values) >= 5
        assert "$ echo fake-shell-ok (exit 0)" in recorder.messages
        again = await call_ok(client, "codex_resume", {"prompt": "more", "session_name": "s"})
        assert again["thread_id"] == first["thread_id"]
        assert "unknown field" in await call_error(client, "codex_run", {"prompt": "x", "y": 1})
        listed = await call_ok(client, "codex_sessions_list", {})
        assert [s["name"] for s in listed["sessions"]] == ["s"]


async def test_stdio_cancellation_kills_codex(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    mode: str,
    no_codex_left: None,
) -> None:
    async with Client(module_server(bridge_env, tmp_path), mode=mode) as client:
        async with anyio.create_task_group() as group:
            group.start_soon(client.call_tool, "codex_run", {"prompt": "[[fake:child]]"})
            await child_started(state_dir, timeout=20)
            assert len(tagged_processes(tag)) == 2
            group.cancel_scope.cancel()  # the client sends notifications/cancelled
        await no_tagged_codex_left(tag)
        assert (await call_ok(client, "codex_run", {"prompt": "next"}))["final_message"] == (
            "echo: next"
        )


async def test_stdio_disconnect_kills_codex(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    mode: str,
    no_codex_left: None,
) -> None:
    async with Client(module_server(bridge_env, tmp_path), mode=mode) as client:
        await call_ok(client, "codex_job_start", {"prompt": "[[fake:child]]"})
        await child_started(state_dir, timeout=20)
    await no_tagged_codex_left(tag)


async def test_stdio_policy_from_environment(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, no_codex_left: None
) -> None:
    env = {**bridge_env, "CODEX_BRIDGE_SANDBOX_CEILING": "read-only"}
    async with Client(module_server(env, tmp_path), mode="legacy") as client:
        message = await call_error(
            client, "codex_run", {"prompt": "x", "sandbox": "workspace-write"}
        )
    assert "ceiling 'read-only'" in message


async def test_stdio_runs_end_before_the_hosts_tool_timeout(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, no_codex_left: None
) -> None:
    """A host that gives up on a call (Claude Code's MCP_TOOL_TIMEOUT, which it passes on to
    its servers) must not leave codex running even without a cancellation: the server ends
    the run first and says so."""
    env = {**bridge_env, "MCP_TOOL_TIMEOUT": "3000"}
    async with Client(module_server(env, tmp_path), mode="legacy") as client:
        with anyio.fail_after(20):
            result = await client.call_tool("codex_run", {"prompt": "[[fake:stall]]"})
            assert result.is_error and structured(result)["status"] == "timeout"
            fast = await client.call_tool("codex_run", {"prompt": "quick", "timeout_seconds": 1000})
    assert not fast.is_error, text_of(fast)


def test_host_tool_timeout_reads_milliseconds() -> None:
    assert host_tool_timeout({"MCP_TOOL_TIMEOUT": "600000"}) == 600.0
    assert host_tool_timeout({"MCP_TOOL_TIMEOUT": "soon"}) is None
    assert host_tool_timeout({"MCP_TOOL_TIMEOUT": "0"}) is None
    assert host_tool_timeout({}) is None


async def test_stdio_missing_codex_still_serves_with_a_clear_error(
    bridge_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    env = {**bridge_env, "CODEX_BRIDGE_CODEX_BIN": str(tmp_path / "no-such-codex")}
    errlog = tmp_path / "server-stderr.txt"
    with errlog.open("w") as stream:
        transport = stdio_client(module_server(env, tmp_path), errlog=stream)
        async with Client(transport, mode="legacy") as client:
            message = await call_error(client, "codex_run", {"prompt": "x"})
    assert "no-such-codex" in message and "not an executable file" in message
    assert "no-such-codex" in errlog.read_text()  # the startup warning


async def _send(process: Process, message: dict[str, Any]) -> None:
    assert process.stdin is not None
    await process.stdin.send(json.dumps(message).encode() + b"\n")


async def _read_message(process: Process) -> dict[str, Any]:
    assert process.stdout is not None
    data = b""
    while not data.endswith(b"\n"):
        data += await process.stdout.receive()
    message: dict[str, Any] = json.loads(data)
    return message


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
async def test_stdio_signal_kills_codex_and_exits(
    bridge_env: dict[str, str],
    tmp_path: pathlib.Path,
    state_dir: pathlib.Path,
    tag: str,
    signum: signal.Signals,
    no_codex_left: None,
) -> None:
    """A host that signals the server (even with stdin still open) leaves no codex behind."""
    async with await anyio.open_process(
        [sys.executable, "-m", "codex_bridge.mcp"],
        stderr=subprocess.DEVNULL,
        env=bridge_env,
        cwd=tmp_path,
    ) as process:
        initialize = {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "test", "version": "0"},
        }
        await _send(
            process, {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": initialize}
        )
        assert (await _read_message(process))["id"] == 1
        await _send(process, {"jsonrpc": "2.0", "method": "notifications/initialized"})
        call = {"name": "codex_run", "arguments": {"prompt": "[[fake:child]]"}}
        await _send(process, {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": call})
        await child_started(state_dir, timeout=20)
        process.send_signal(signum)
        with anyio.fail_after(30):
            assert await process.wait() == 0
    await no_tagged_codex_left(tag)


async def test_codex_bridge_mcp_console_script(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, mode: str, no_codex_left: None
) -> None:
    params = cli_server(bridge_env, tmp_path)
    if params is None:
        pytest.skip("the codex-bridge console script is not installed")
    async with Client(params, mode=mode) as client:
        answer = await call_ok(client, "codex_run", {"prompt": "via the cli"})
    assert answer["final_message"] == "echo: via the cli"


async def test_example_client_script(
    bridge_env: dict[str, str], tmp_path: pathlib.Path, no_codex_left: None
) -> None:
    example = ROOT / "examples" / "mcp_client.py"
    done = await anyio.run_process(
        [sys.executable, str(example), "hello from the example"],
        env=bridge_env,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert "echo: hello from the example" in done.stdout.decode()
    assert "thinking…" in done.stderr.decode()  # progress notifications were printed


# --------------------------------------------------------------------------- real codex


@pytest.mark.parametrize("engine", ["app-server", "exec"])
async def test_real_codex_over_stdio(
    real_codex: RealCodex, tmp_path: pathlib.Path, tag: str, mode: str, engine: str
) -> None:
    env = server_env(
        store=tmp_path / "sessions.json",
        codex_bin=real_codex.binary,
        workdir=real_codex.workdir,
        extra={**real_codex.env, TAG_ENV: tag, "CODEX_BRIDGE_ENGINE": engine},
    )
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "codex_bridge.mcp"],
        env={k: v for k, v in env.items() if not k.startswith("OPENAI_")},
        cwd=tmp_path,
    )
    recorder = ProgressRecorder()
    async with Client(params, mode=mode) as client:
        hello = await call_ok(
            client,
            "codex_run",
            {"prompt": "[[mock:hello]]", "session_name": "e2e", "timeout_seconds": 120},
            progress_callback=recorder,
        )
        assert hello["final_message"] == HELLO_TEXT and hello["ok"] is True
        assert hello["thread_id"] and recorder.values == sorted(recorder.values)
        assert recorder.messages[-1].startswith("turn completed")
        echo = await call_ok(
            client,
            "codex_resume",
            {"prompt": "again please", "session_name": "e2e", "timeout_seconds": 120},
        )
        assert echo["thread_id"] == hello["thread_id"]
        assert "again please" in (echo["final_message"] or "")

        started = ProgressRecorder()
        async with anyio.create_task_group() as group:

            async def slow() -> None:
                await client.call_tool(
                    "codex_run", {"prompt": "[[mock:slow]]"}, progress_callback=started
                )

            group.start_soon(slow)
            await wait_until_async(
                lambda: "thinking…" in started.messages, timeout=60, message="the run to start"
            )
            assert tagged_processes(tag)
            group.cancel_scope.cancel()
        if engine == "exec":
            await no_tagged_codex_left(tag)
        else:  # the turn was interrupted; the warm server stays for the next call
            assert all("app-server" in line for line in describe(tagged_processes(tag)))
            again = await call_ok(client, "codex_run", {"prompt": "[[mock:hello]] after"})
            assert again["final_message"] == HELLO_TEXT
    await no_tagged_codex_left(tag)
