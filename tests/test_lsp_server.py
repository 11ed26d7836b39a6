"""End-to-end tests of the language server (``python -m codex_bridge.lsp``).

Each test launches the server over stdio under a pytest-lsp client with VS Code's
capabilities, drives it with the fake codex (or, once, the real CLI against the mock
model server), and ends with no codex process left.
"""

from __future__ import annotations

import asyncio
import pathlib
import signal
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcRequestCancelled
from pytest_lsp.client import register_lsp_features

from codex_bridge.lsp.arguments import named_arguments, split_target
from codex_bridge.lsp.buffers import OpenBuffer, plan_refresh, snapshot
from codex_bridge.lsp.reference import command_reference
from codex_bridge.lsp.settings import editor_settings, normalise
from codex_bridge.policy import BridgePolicy, PolicyError
from codex_bridge.service import BridgeError
from codex_local_sdk import JsonFileSessionStore, SandboxMode
from codex_local_sdk.testing.mock_responses import HELLO_TEXT
from tests.support.fake_codex import fake_log
from tests.support.lsp_client import (
    SERVER_COMMAND,
    CodexTestClient,
    StartServer,
    client_converter,
    codex_processes,
    codex_runs_ended,
    ended,
    progress_of,
    start_server,
    stop_server,
)
from tests.support.waiting import wait_until_async

ALL_COMMANDS = {
    "codex.run",
    "codex.resume",
    "codex.fork",
    "codex.cancel",
    "codex.status",
    "codex.sessions.list",
    "codex.sessions.show",
    "codex.sessions.rename",
    "codex.sessions.delete",
    "codex.steer",
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
async def client(launch: StartServer) -> CodexTestClient:
    return await launch()


async def execute(
    client: CodexTestClient, command: str, *arguments: Any, token: str | None = None
) -> Any:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=command, arguments=list(arguments), work_done_token=token)
    )


def argument_of(command: lsp.Command) -> dict[str, Any]:
    """The one object argument a code action's command carries."""
    assert command.arguments is not None and len(command.arguments) == 1
    argument = command.arguments[0]
    assert isinstance(argument, dict)
    return argument


def messages(client: CodexTestClient) -> list[str]:
    return [m.message for m in client.messages]


def log_texts(client: CodexTestClient) -> list[str]:
    return [m.message for m in client.log_messages]


async def started_stalling(client: CodexTestClient, run_id: str) -> str:
    """Wait until the run's codex has started its turn; its progress token."""
    token = f"codex-{run_id}"
    await wait_until_async(
        lambda: any(
            getattr(r, "message", None) == "thinking…"
            for r in client.progress_reports.get(token, [])
        ),
        message=f"run {run_id} to start",
    )
    return token


# --------------------------------------------------------------------------- initialize


async def test_initialize_answers_without_calling_codex(
    launch: StartServer, lsp_env: dict[str, str], fake_env: dict[str, str]
) -> None:
    # A codex that does not exist: initialize must not need it.
    env = dict(lsp_env, CODEX_BRIDGE_CODEX_BIN="/nonexistent/codex")
    client = await launch(env=env)
    status = await execute(client, "codex.status")
    assert status["runs"] == []
    assert status["policy"]["codex_bin"] == "/nonexistent/codex"
    assert fake_log(fake_env) == []


async def test_capabilities_list_the_commands_and_safe_code_action_kinds(
    lsp_env: dict[str, str], workspace: pathlib.Path, fake_env: dict[str, str]
) -> None:
    # A client with no capabilities at all: the server must not rely on any.
    client = CodexTestClient(converter_factory=client_converter)
    register_lsp_features(client)
    await client.start_io(*SERVER_COMMAND, env=lsp_env)
    try:
        result = await client.initialize_session(
            lsp.InitializeParams(capabilities=lsp.ClientCapabilities(), root_uri=workspace.as_uri())
        )
        caps = result.capabilities
        assert caps.execute_command_provider is not None
        assert set(caps.execute_command_provider.commands) == ALL_COMMANDS
        assert caps.execute_command_provider.work_done_progress is True
        assert isinstance(caps.code_action_provider, lsp.CodeActionOptions)
        kinds = {str(k) for k in caps.code_action_provider.code_action_kinds or []}
        assert "quickfix" in kinds
        assert not any(k.startswith("source") for k in kinds)
        assert result.server_info is not None and result.server_info.name == "codex-bridge"
    finally:
        await stop_server(client)
    assert fake_log(fake_env) == []


# --------------------------------------------------------------------------- runs


async def test_background_run_reports_progress_logs_and_answer(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    started = await execute(client, "codex.run", "hello [[fake:shell]]")
    run_id = started["run_id"]
    assert started["state"] in ("queued", "running")
    token = f"codex-{run_id}"
    await wait_until_async(lambda: ended(client, token), message="the progress to end")

    reports = progress_of(client, token)
    assert isinstance(reports[0], lsp.WorkDoneProgressBegin)
    assert reports[0].cancellable is True
    assert all(isinstance(r, lsp.WorkDoneProgressReport) for r in reports[1:-1])
    assert isinstance(reports[-1], lsp.WorkDoneProgressEnd)
    assert reports[-1].message is not None and reports[-1].message.startswith("completed")
    steps = [r.message for r in reports[1:-1]]
    # In the order codex did things.
    assert steps.index("thinking…") < steps.index("$ echo fake-shell-ok")
    assert steps.index("$ echo fake-shell-ok") < steps.index("$ echo fake-shell-ok (exit 0)")
    assert steps.index("$ echo fake-shell-ok (exit 0)") < steps.index("All done.")

    await wait_until_async(lambda: client.messages, message="the answer")
    assert client.messages[-1].type == lsp.MessageType.Info
    assert client.messages[-1].message == "Codex: All done."
    logs = log_texts(client)
    assert f"codex [{run_id}]: Running a command." in logs  # agent messages in full
    assert f"codex [{run_id}]: All done." in logs
    await wait_until_async(lambda: client.shown_documents, message="the transcript")
    transcript = client.shown_documents[-1]
    assert transcript.uri.endswith(f"{run_id}.md") and transcript.take_focus is False

    status = await execute(client, "codex.status", run_id)
    assert status["state"] == "completed"
    assert status["outcome"]["final_message"] == "All done."


async def test_waiting_run_answers_with_the_outcome_under_the_clients_token(
    client: CodexTestClient,
) -> None:
    client.progress_reports["my-token"] = []  # a client-initiated token needs no create
    result = await execute(
        client, "codex.run", {"prompt": "wait for me", "wait": True}, token="my-token"
    )
    assert result["state"] == "completed"
    assert result["outcome"]["final_message"] == "echo: wait for me"
    reports = progress_of(client, "my-token")
    assert isinstance(reports[0], lsp.WorkDoneProgressBegin)
    assert isinstance(reports[-1], lsp.WorkDoneProgressEnd)
    assert "thinking…" in [getattr(r, "message", None) for r in reports]
    # No server-created token for this run.
    assert f"codex-{result['run_id']}" not in client.progress_reports


async def test_positional_and_object_arguments_and_session_commands(
    client: CodexTestClient, store_path: pathlib.Path, workspace: pathlib.Path
) -> None:
    first = await execute(client, "codex.run", "start it", "feature", {"wait": True})
    assert first["outcome"]["session_name"] == "feature"
    thread = first["outcome"]["thread_id"]

    listed = await execute(client, "codex.sessions.list")
    assert [s["name"] for s in listed] == ["feature"]
    assert listed[0]["cwd"] == str(workspace)  # the workspace, not the editor's cwd
    shown = await execute(client, "codex.sessions.show", "feature")
    assert shown["thread_id"] == thread and shown["recent_turns"]

    again = await execute(client, "codex.resume", "feature", "go on", {"wait": True})
    assert again["outcome"]["thread_id"] == thread
    assert again["outcome"]["final_message"] == "echo: go on"
    by_id = await execute(
        client, "codex.resume", {"thread_id": thread, "prompt": "by id", "wait": True}
    )
    assert by_id["outcome"]["thread_id"] == thread
    forked = await execute(client, "codex.fork", "feature", "branch off", "branch", {"wait": True})
    assert forked["outcome"]["session_name"] == "branch"
    assert forked["outcome"]["thread_id"] != thread

    renamed = await execute(client, "codex.sessions.rename", "branch", "experiment")
    assert renamed["name"] == "experiment"
    deleted = await execute(client, "codex.sessions.delete", {"name": "experiment"})
    assert deleted["name"] == "experiment"
    assert [s["name"] for s in await execute(client, "codex.sessions.list")] == ["feature"]

    # The same store as the SDK, the CLI and the MCP server.
    store = JsonFileSessionStore(str(store_path))
    assert [record.name for record in store.list()] == ["feature"]
    record = store.get("feature")
    assert record is not None and record.thread_id == thread

    status = await execute(client, "codex.status")
    assert {r["run_id"] for r in status["runs"]} >= {first["run_id"], again["run_id"]}


async def test_bad_arguments_get_an_lsp_error_and_the_server_stays_up(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    cases: list[tuple[str, list[Any], str]] = [
        ("codex.nope", [], "unknown command"),
        ("codex.run", [], "prompt"),
        ("codex.run", [123], "must be a string"),
        ("codex.run", ["a", "b", "c"], "at most 2 positional"),
        ("codex.run", [{"prompt": "x", "bogus": 1}], "bogus"),
        ("codex.run", [{"prompt": "x", "wait": "yes"}], "wait must be true or false"),
        ("codex.run", [{"prompt": "x", "sandbox": "danger-full-access"}], "ceiling"),
        ("codex.run", [{"prompt": "x", "cwd": "/nonexistent/dir"}], "not an existing directory"),
        ("codex.run", [{"prompt": "   "}], "must not be empty"),
        ("codex.resume", ["no-such-session", "x"], "no-such-session"),
        ("codex.resume", [{"prompt": "x"}], "exactly one"),
        ("codex.sessions.show", [], "name is required"),
        ("codex.sessions.rename", ["only-one"], "new_name"),
        ("codex.status", ["job-nope"], "no job"),
        ("codex.cancel", ["job-nope"], "no job"),
        ("codex.sessions.list", ["extra"], "at most 0 positional"),
    ]
    for command, arguments, expected in cases:
        with pytest.raises(JsonRpcException) as caught:
            await execute(client, command, *arguments)
        error = caught.value
        assert error.code in (-32602, -32803), (command, arguments, error)
        assert expected in error.message, (command, arguments, error.message)
        assert "Traceback" not in error.message
    assert await execute(client, "codex.sessions.list") == []
    assert fake_log(fake_env) == []  # nothing reached codex


# --------------------------------------------------------------------------- cancellation


async def test_cancel_request_on_a_waiting_command_kills_codex(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    child_pid = pathlib.Path(fake_env["FAKE_CODEX_STATE_DIR"], "child.pid")
    client.progress_reports["waiting"] = []
    answer = asyncio.ensure_future(
        client.protocol.send_request_async(  # type: ignore[no-untyped-call]
            lsp.WORKSPACE_EXECUTE_COMMAND,
            lsp.ExecuteCommandParams(
                command="codex.run",
                arguments=[{"prompt": "[[fake:child]]", "wait": True}],
                work_done_token="waiting",
            ),
            msg_id="run-to-cancel",
        )
    )
    await wait_until_async(child_pid.exists, message="codex and its child to start")
    assert codex_processes(fake_env["CODEX_HOME"])
    client.protocol.notify(lsp.CANCEL_REQUEST, lsp.CancelParams(id="run-to-cancel"))
    with pytest.raises(JsonRpcRequestCancelled):
        await asyncio.wait_for(answer, 30)
    await codex_runs_ended(fake_env["CODEX_HOME"])
    await wait_until_async(lambda: ended(client, "waiting"), message="the progress to end")
    runs = (await execute(client, "codex.status"))["runs"]
    assert [r["state"] for r in runs] == ["cancelled"]


async def test_progress_cancel_button_kills_codex(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    run_id = (await execute(client, "codex.run", "[[fake:stall]]"))["run_id"]
    token = await started_stalling(client, run_id)
    client.window_work_done_progress_cancel(lsp.WorkDoneProgressCancelParams(token=token))
    await wait_until_async(lambda: ended(client, token), message="the progress to end")
    await codex_runs_ended(fake_env["CODEX_HOME"])
    assert (await execute(client, "codex.status", run_id))["state"] == "cancelled"
    await wait_until_async(lambda: client.messages, message="the cancellation notice")
    assert "cancelled" in client.messages[-1].message


async def test_codex_cancel_by_id_and_all(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    first = (await execute(client, "codex.run", "[[fake:stall]]"))["run_id"]
    await started_stalling(client, first)
    result = await execute(client, "codex.cancel", first)
    assert [(r["run_id"], r["state"]) for r in result["cancelled"]] == [(first, "cancelled")]
    await codex_runs_ended(fake_env["CODEX_HOME"])

    others = [(await execute(client, "codex.run", "[[fake:stall]]"))["run_id"] for _ in range(2)]
    for run_id in others:
        await started_stalling(client, run_id)
    result = await execute(client, "codex.cancel")
    assert sorted(r["run_id"] for r in result["cancelled"]) == sorted(others)
    assert {r["state"] for r in result["cancelled"]} == {"cancelled"}
    await codex_runs_ended(fake_env["CODEX_HOME"])


async def test_shutdown_while_a_command_waits_answers_it_and_kills_codex(
    client: CodexTestClient, fake_env: dict[str, str]
) -> None:
    child_pid = pathlib.Path(fake_env["FAKE_CODEX_STATE_DIR"], "child.pid")
    # ignore_term: codex outlives SIGTERM for the SDK's grace period, so a shutdown that
    # answered before the kill would find it still running.
    prompt = "[[fake:child]] [[fake:ignore_term]]"
    waiting = asyncio.ensure_future(execute(client, "codex.run", prompt, {"wait": True}))
    await wait_until_async(child_pid.exists, message="codex and its child to start")
    await asyncio.wait_for(client.shutdown_async(None), 30)
    assert not codex_processes(fake_env["CODEX_HOME"])  # gone before shutdown answered
    try:
        answer = await asyncio.wait_for(waiting, 30)
    except JsonRpcRequestCancelled:
        pass  # answered with an error: also an answer
    else:
        assert answer["state"] == "cancelled"
    client.exit(None)
    assert client._server is not None
    assert await asyncio.wait_for(client._server.wait(), 30) == 0


async def test_stdin_closing_kills_codex(client: CodexTestClient, fake_env: dict[str, str]) -> None:
    run_id = (await execute(client, "codex.run", "[[fake:child]]"))["run_id"]
    await started_stalling(client, run_id)
    assert client._server is not None and client._server.stdin is not None
    client._server.stdin.close()
    await asyncio.wait_for(client._server.wait(), 30)
    await codex_runs_ended(fake_env["CODEX_HOME"])


async def test_exit_without_shutdown_and_sigterm_kill_codex(
    launch: StartServer, fake_env: dict[str, str]
) -> None:
    client = await launch()
    await started_stalling(client, (await execute(client, "codex.run", "[[fake:stall]]"))["run_id"])
    client.exit(None)
    assert client._server is not None
    assert await asyncio.wait_for(client._server.wait(), 30) == 1  # exit before shutdown
    await codex_runs_ended(fake_env["CODEX_HOME"])

    client = await launch()
    await started_stalling(client, (await execute(client, "codex.run", "[[fake:child]]"))["run_id"])
    assert client._server is not None
    client._server.send_signal(signal.SIGTERM)
    await asyncio.wait_for(client._server.wait(), 30)
    await codex_runs_ended(fake_env["CODEX_HOME"])


# --------------------------------------------------------------------------- code actions


def _open(client: CodexTestClient, path: pathlib.Path, text: str | None = None) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri,
                language_id="python",
                version=1,
                text=path.read_text() if text is None else text,
            )
        )
    )
    return uri


def _range(start: int, end: int, end_character: int = 0) -> lsp.Range:
    return lsp.Range(start=lsp.Position(start, 0), end=lsp.Position(end, end_character))


async def test_code_actions_are_listed_without_starting_codex(
    client: CodexTestClient, workspace: pathlib.Path, fake_env: dict[str, str]
) -> None:
    source = workspace / "calc.py"
    source.write_text("def add(a, b):\n    # codex: add a docstring\n    return a - b\n")
    uri = _open(client, source)
    problem = lsp.Diagnostic(range=_range(2, 2, 16), message="wrong operator", source="lint")

    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=_range(0, 3),
            context=lsp.CodeActionContext(diagnostics=[problem]),
        )
    )
    assert actions is not None
    by_kind = {str(a.kind): a for a in actions if isinstance(a, lsp.CodeAction)}
    assert set(by_kind) == {
        "quickfix",
        "refactor.codex.comment",
        "refactor.codex.explain",
        "refactor.codex.tests",
    }
    assert not any(kind.startswith("source") for kind in by_kind)
    fix = by_kind["quickfix"]
    assert list(fix.diagnostics or []) == [problem]
    assert fix.command is not None and fix.command.command == "codex.run"
    fix_arguments = argument_of(fix.command)
    assert "wrong operator" in fix_arguments["prompt"]
    assert fix_arguments["sandbox"] == "workspace-write"
    assert fix_arguments["cwd"] == str(workspace)
    assert "add a docstring" in by_kind["refactor.codex.comment"].title
    explain = by_kind["refactor.codex.explain"].command
    assert explain is not None
    assert argument_of(explain)["sandbox"] == "read-only"
    assert "return a - b" in argument_of(explain)["prompt"]
    # No turn was started: no exec logged, and no codex but the background engine check,
    # which only asks codex what it supports (`--help` / `--version`).
    assert fake_log(fake_env) == []
    turns = [
        p.cmdline()
        for p in codex_processes(fake_env["CODEX_HOME"])
        if not {"--help", "--version"} & set(p.cmdline())
    ]
    assert not turns

    only_fixes = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=_range(0, 3),
            context=lsp.CodeActionContext(
                diagnostics=[problem], only=[lsp.CodeActionKind.QuickFix]
            ),
        )
    )
    assert [str(a.kind) for a in only_fixes or [] if isinstance(a, lsp.CodeAction)] == ["quickfix"]

    # Executing an action runs codex with its prompt and sandbox.
    await execute(client, explain.command, argument_of(explain))
    await wait_until_async(lambda: client.messages, message="the explanation")
    assert "Explain what this code in calc.py lines 1-3 does" in client.messages[-1].message
    runs = fake_log(fake_env)
    assert len(runs) == 1
    assert runs[0]["options"].get("sandbox") == "read-only" or "read-only" in runs[0]["argv"]


async def test_continue_here_resumes_the_last_thread(
    client: CodexTestClient, workspace: pathlib.Path
) -> None:
    source = workspace / "notes.py"
    source.write_text("x = 1\n")
    uri = _open(client, source)
    params = lsp.CodeActionParams(
        text_document=lsp.TextDocumentIdentifier(uri=uri),
        range=_range(0, 0),
        context=lsp.CodeActionContext(diagnostics=[]),
    )
    assert not await client.text_document_code_action_async(params)  # nothing to continue

    first = await execute(client, "codex.run", "first turn", {"wait": True})
    actions = await client.text_document_code_action_async(params)
    assert actions is not None and len(actions) == 1
    action = actions[0]
    assert isinstance(action, lsp.CodeAction) and action.command is not None
    assert action.command.command == "codex.resume"
    arguments = argument_of(action.command)
    assert arguments["thread_id"] == first["outcome"]["thread_id"]

    client.progress_reports["continue"] = []
    result = await execute(
        client, action.command.command, {**arguments, "wait": True}, token="continue"
    )
    assert result["outcome"]["thread_id"] == first["outcome"]["thread_id"]
    assert (
        "Continue where you left off, now working in notes.py" in result["outcome"]["final_message"]
    )


# --------------------------------------------------------------------------- buffers


async def test_changed_files_refresh_clean_buffers_and_warn_about_dirty_ones(
    launch: StartServer, lsp_env: dict[str, str], workspace: pathlib.Path
) -> None:
    target = workspace / "notes.txt"
    target.write_text("original\n")
    client = await launch(env=dict(lsp_env, FAKE_CODEX_WRITE_FILE="notes.txt"))
    uri = _open(client, target)

    result = await execute(client, "codex.run", "[[fake:file_change]] edit it", {"wait": True})
    assert result["outcome"]["files_changed"] == [str(target)]
    on_disk = target.read_text()
    assert on_disk.startswith("original\nedited by fake codex")
    await wait_until_async(lambda: client.applied_edits, message="workspace/applyEdit")
    [applied] = client.applied_edits
    assert applied.edit.document_changes is not None
    [change] = applied.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit)
    assert change.text_document.uri == uri and change.text_document.version == 1
    [edit] = change.edits
    assert isinstance(edit, lsp.TextEdit)
    assert edit.new_text == on_disk
    assert edit.range == _range(0, 1)  # all of "original\n"

    # The editor applied the edit; then the user types without saving.
    for version, text in ((2, on_disk), (3, on_disk + "my unsaved line\n")):
        client.text_document_did_change(
            lsp.DidChangeTextDocumentParams(
                text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=version),
                content_changes=[lsp.TextDocumentContentChangeWholeDocument(text=text)],
            )
        )
    shown = len(client.messages)
    await execute(client, "codex.run", "[[fake:file_change]] again", {"wait": True})
    await wait_until_async(
        lambda: any("unsaved edits" in m for m in messages(client)[shown:]), message="warning"
    )
    warning = next(m for m in client.messages[shown:] if "unsaved edits" in m.message)
    assert warning.type == lsp.MessageType.Warning
    assert str(target) in warning.message
    assert len(client.applied_edits) == 1  # not overwritten


# --------------------------------------------------------------------------- configuration


async def test_settings_from_initialization_options_then_workspace_configuration(
    launch: StartServer, tmp_path: pathlib.Path
) -> None:
    init_store = tmp_path / "from-init.json"
    config_store = tmp_path / "from-config.json"
    client = await launch(
        init_options={
            "showTranscript": False,
            "sandboxCeiling": "read-only",
            "max_concurrency": 1,
            "store_path": str(init_store),
        },
        configuration={
            "": {"codex": {"store_path": str(config_store), "default_timeout_seconds": 120}}
        },
    )

    async def policy() -> dict[str, Any]:
        status: dict[str, Any] = await execute(client, "codex.status")
        return status["policy"]  # type: ignore[no-any-return]

    current = await until_value(policy, lambda p: p["default_timeout_seconds"] == 120)
    assert current["sandbox_ceiling"] == "read-only"  # initializationOptions
    assert current["max_concurrency"] == 1
    # The session store is the launch one: a client cannot point the server at a file.
    launch_store = current["store_path"]
    assert launch_store not in (str(init_store), str(config_store))
    with pytest.raises(JsonRpcException, match="ceiling"):
        await execute(client, "codex.run", {"prompt": "x", "sandbox": "workspace-write"})
    await execute(client, "codex.run", "remember me", "saved", {"wait": True})
    assert [r.name for r in JsonFileSessionStore(launch_store).list()] == ["saved"]
    assert not init_store.exists() and not config_store.exists()
    assert client.shown_documents == []  # showTranscript: false

    # A workspace's settings may narrow the policy, never widen it.
    client.set_configuration(
        {"sandbox_ceiling": "danger-full-access", "codex_bin": "/bin/false"}, section="codex"
    )
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=None))
    current = await until_value(policy, lambda p: p["sandbox_ceiling"] != "read-only")
    assert current["sandbox_ceiling"] == "workspace-write"  # the launch ceiling
    assert current["codex_bin"] != "/bin/false"
    notes = " ".join(messages(client))
    assert "above the server's launch ceiling" in notes and "codex_bin is ignored" in notes

    # An invalid setting is reported and changes nothing.
    client.set_configuration({"max_concurrency": 0}, section="codex")
    client.workspace_did_change_configuration(lsp.DidChangeConfigurationParams(settings=None))
    await wait_until_async(
        lambda: any("settings not applied" in m for m in messages(client)), message="error"
    )
    assert (await policy())["sandbox_ceiling"] == "workspace-write"


async def until_value(produce: Callable[[], Awaitable[Any]], accept: Callable[[Any], bool]) -> Any:
    """Ask ``produce`` until ``accept`` likes the value (settings apply asynchronously)."""
    latest: list[Any] = []

    async def accepted() -> bool:
        latest[:] = [await produce()]
        return accept(latest[0])

    await wait_until_async(
        accepted, timeout=30, message=lambda: f"an accepted value; the latest: {latest}"
    )
    return latest[0]


# --------------------------------------------------------------------------- real codex


async def test_a_run_through_the_real_codex_cli(real_codex: Any, tmp_path: pathlib.Path) -> None:
    env = {k: v for k, v in real_codex.env.items() if not k.startswith("CODEX_BRIDGE_")}
    env.update(
        CODEX_BRIDGE_CODEX_BIN=real_codex.binary,
        CODEX_BRIDGE_STORE_PATH=str(tmp_path / "real-sessions.json"),
        CODEX_BRIDGE_DEFAULT_TIMEOUT_SECONDS="120",
    )
    client = await start_server(env, workspace=real_codex.workdir)
    try:
        client.progress_reports["real"] = []
        result = await execute(
            client, "codex.run", "[[mock:hello]]", "real-session", {"wait": True}, token="real"
        )
        assert result["state"] == "completed", result
        assert result["outcome"]["final_message"] == HELLO_TEXT
        assert ended(client, "real")
        assert f"Codex: {HELLO_TEXT}" in messages(client)
        assert any(HELLO_TEXT in m for m in log_texts(client))
        shown = await execute(client, "codex.sessions.show", "real-session")
        assert shown["thread_id"] == result["outcome"]["thread_id"]
    finally:
        await stop_server(client)
    await codex_runs_ended(real_codex.home)


# --------------------------------------------------------------------------- helpers, in-process


def test_editor_settings_narrow_but_never_widen_the_launch_policy(tmp_path: pathlib.Path) -> None:
    inside, outside = tmp_path / "repo" / "sub", tmp_path / "elsewhere"
    inside.mkdir(parents=True)
    outside.mkdir()
    launch = BridgePolicy(
        store_path=str(tmp_path / "s.json"),
        allowed_roots=(str(tmp_path / "repo"),),
        default_sandbox=SandboxMode.WORKSPACE_WRITE,
    )
    options = normalise(
        {"codex": {"allowedRoots": [str(inside), str(outside)], "sandboxCeiling": "read-only"}}
    )
    settings = editor_settings(launch, {**options, "colour": "blue"})
    assert settings.policy.allowed_roots == (str(inside),)
    assert settings.policy.sandbox_ceiling == SandboxMode.READ_ONLY
    assert settings.policy.default_sandbox == SandboxMode.READ_ONLY  # follows the lower ceiling
    assert any(str(outside) in note for note in settings.notes)
    assert any("'colour'" in note for note in settings.ignored)  # logged, not shown

    only_outside = editor_settings(launch, {"allowed_roots": [str(outside)]})
    assert only_outside.policy.allowed_roots == launch.allowed_roots
    with pytest.raises(PolicyError):
        editor_settings(launch, {"show_transcript": "yes"})
    with pytest.raises(PolicyError):
        editor_settings(launch, {"default_timeout_seconds": -1})


def test_argument_forms() -> None:
    assert named_arguments("codex.run", ["p", {"wait": True}], ("prompt", "session_name")) == {
        "prompt": "p",
        "wait": True,
    }
    with pytest.raises(BridgeError, match="only the last argument"):
        named_arguments("codex.run", [{"prompt": "p"}, "x"], ("prompt",))
    with pytest.raises(BridgeError, match="both positionally and by name"):
        named_arguments("codex.run", ["p", {"prompt": "q"}], ("prompt",))
    named = {"target": "0199a0b0-1c2d-7e3f-8a9b-0c1d2e3f4a5b", "prompt": "p"}
    split_target("codex.resume", named)
    assert named == {"thread_id": "0199a0b0-1c2d-7e3f-8a9b-0c1d2e3f4a5b", "prompt": "p"}
    named = {"target": "my-session"}
    split_target("codex.resume", named)
    assert named == {"session_name": "my-session"}


def test_the_command_reference_is_current_and_describes_every_argument() -> None:
    reference = command_reference()
    written = pathlib.Path(__file__).parents[1] / "docs" / "lsp-commands.md"
    assert written.read_text(encoding="utf-8") == reference, (
        "docs/lsp-commands.md is stale: python -m codex_bridge.lsp.reference > docs/lsp-commands.md"
    )
    assert {f"## `{name}`" for name in ALL_COMMANDS} <= set(reference.splitlines())
    undescribed = [line for line in reference.splitlines() if line.endswith("|  |")]
    assert not undescribed, undescribed  # every argument says what it does


def test_refresh_plan(tmp_path: pathlib.Path) -> None:
    clean, dirty, untouched = (tmp_path / n for n in ("clean.txt", "dirty.txt", "same.txt"))
    for path in (clean, dirty, untouched):
        path.write_text("old\n")
    open_buffers = [
        OpenBuffer(uri=clean.as_uri(), path=str(clean), version=1, text="old\n"),
        OpenBuffer(uri=dirty.as_uri(), path=str(dirty), version=4, text="old\nmine\n"),
        OpenBuffer(uri=untouched.as_uri(), path=str(untouched), version=1, text="old\n"),
    ]
    before = snapshot(open_buffers)
    clean.write_text("new\n")
    dirty.write_text("new\n")
    plan = plan_refresh(open_buffers, before, reported=[str(clean)])
    assert [(buffer.path, text) for buffer, text in plan.reload] == [(str(clean), "new\n")]
    assert [buffer.path for buffer in plan.conflicts] == [str(dirty)]
