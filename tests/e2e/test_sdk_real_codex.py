"""The SDK against the REAL codex CLI (PyPI 0.163 and npm 0.169), offline against the mock
Responses API. Every test runs once per codex build (see the ``real_codex`` fixture)."""

from __future__ import annotations

import asyncio
import json
import os
import time

import pytest

from codex_local_sdk import (
    CodexClientEvent,
    CodexExecFailedError,
    CodexLocalClient,
    CodexThreadNotFoundError,
    CodexTimeoutError,
    CommandExecutionItem,
    FailureKind,
    JsonFileSessionStore,
    RetryPolicy,
    SandboxMode,
)
from tests.support.real_codex import RealCodex

TIMEOUT = 60.0
NO_RETRY = RetryPolicy(max_attempts=1)


@pytest.fixture
def client(real_codex: RealCodex, monkeypatch: pytest.MonkeyPatch) -> CodexLocalClient:
    for key, value in real_codex.env.items():
        if os.environ.get(key) != value:
            monkeypatch.setenv(key, value)
    monkeypatch.delenv("CODEX_API_KEY", raising=False)
    return CodexLocalClient(
        codex_bin=real_codex.binary,
        session_store=JsonFileSessionStore(real_codex.workdir.parent / "sessions.json"),
        retry_policy=RetryPolicy(max_attempts=2, initial_backoff_seconds=0.01),
        timeout_seconds=TIMEOUT,
    )


def test_version_is_supported(client: CodexLocalClient) -> None:
    assert client.version().startswith("codex-cli 0.1")


def test_run_returns_final_message_usage_and_thread(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = client.run(real_codex.request("[[mock:hello]]", sandbox=SandboxMode.READ_ONLY))
    assert result.ok
    assert result.final_message == "Hello from the mock."
    assert result.turn_status == "completed"
    assert result.thread_id and len(result.thread_id) == 36
    assert result.usage is not None and result.usage.input_tokens > 0
    assert result.usage.output_tokens > 0
    assert [e.type for e in result.events][:2] == ["thread.started", "turn.started"]
    assert result.return_code == 0
    assert "--sandbox" in result.argv and "read-only" in result.argv
    # The prompt travelled on stdin, never on the command line.
    assert all("mock:hello" not in arg for arg in result.argv)
    assert real_codex.server.user_texts()[-1].endswith("[[mock:hello]]")


def test_plain_text_mode_takes_final_message_from_stdout(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = client.run(real_codex.request("[[mock:hello]]"), json_output=False)
    assert result.final_message == "Hello from the mock."
    assert result.events == []
    assert result.turn_status == "completed"


def test_session_resume_by_name_keeps_thread_and_counts_turn_usage(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    session, first = client.start_thread(
        prompt="plan [[mock:echo]]", session_name="repo-plan", cwd=str(real_codex.workdir)
    )
    assert session.thread_id == first.thread_id
    follow_up = client.resume(
        prompt="again [[mock:echo]]", session_name="repo-plan", last=False, json_output=True
    )
    assert follow_up.thread_id == session.thread_id
    assert follow_up.final_message == "echo: again [[mock:echo]]"
    assert follow_up.turn_status == "completed"
    # codex reports usage cumulatively; the SDK derives this turn's share.
    assert first.usage and follow_up.usage and follow_up.turn_usage
    assert follow_up.usage.input_tokens > first.usage.input_tokens
    assert follow_up.turn_usage.input_tokens == (
        follow_up.usage.input_tokens - first.usage.input_tokens
    )
    stored = client.get_session("repo-plan")
    assert stored.turns == 2 and stored.cwd == str(real_codex.workdir)
    assert [t.operation for t in stored.recent_turns] == ["exec", "resume"]


def test_fork_creates_a_new_session(client: CodexLocalClient, real_codex: RealCodex) -> None:
    session, _ = client.start_thread(
        prompt="base [[mock:echo]]", session_name="base", cwd=str(real_codex.workdir)
    )
    forked, result = client.fork(
        prompt="branch [[mock:echo]]", session_name="base", new_session_name="branch"
    )
    assert result.ok and forked is not None
    assert forked.thread_id != session.thread_id
    assert forked.forked_from == session.thread_id
    assert forked.cwd == str(real_codex.workdir)


def test_output_schema_gives_structured_output_and_removes_temp_file(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    schema = {
        "type": "object",
        "properties": {"status": {"type": "string"}, "count": {"type": "integer"}},
        "required": ["status", "count"],
        "additionalProperties": False,
    }
    result = client.run(real_codex.request("[[mock:schema]]", output_schema=schema))
    assert result.structured_output == {"status": "ok", "count": 0}
    schema_path = result.argv[result.argv.index("--output-schema") + 1]
    assert not os.path.exists(schema_path)
    sent = real_codex.server.requests[-1]
    assert json.dumps(sent.get("text", {})).find("count") >= 0


def test_shell_command_item(client: CodexLocalClient, real_codex: RealCodex) -> None:
    result = client.run(real_codex.request("[[mock:shell]]"))
    commands = [item for item in result.items if isinstance(item, CommandExecutionItem)]
    assert len(commands) == 1
    assert "echo mock-shell-ok" in commands[0].command
    assert commands[0].exit_code == 0
    assert "mock-shell-ok" in commands[0].aggregated_output
    assert result.final_message == "All done."


@pytest.mark.parametrize(
    ("directive", "kind"),
    [("[[mock:500]]", FailureKind.SERVER_ERROR), ("[[mock:429]]", FailureKind.RATE_LIMIT)],
)
def test_model_server_errors_are_classified_and_retried(
    client: CodexLocalClient, real_codex: RealCodex, directive: str, kind: FailureKind
) -> None:
    hooks: list[CodexClientEvent] = []
    client.event_hook = hooks.append
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(real_codex.request(directive))
    result = caught.value.result
    assert caught.value.failure_kind is kind
    assert result.turn_status == "failed"
    assert result.return_code == 1
    assert result.attempts == 2  # transient and nothing done: retried once, then given up
    assert [h.type for h in hooks].count("retry_scheduled") == 1


def test_missing_key_is_an_auth_failure_not_retried(
    client: CodexLocalClient, real_codex: RealCodex, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MOCK_API_KEY")
    result = client.run(real_codex.request("[[mock:hello]]"), raise_on_error=False)
    assert result.failure is not None and result.failure.kind is FailureKind.AUTH
    assert "MOCK_API_KEY" in result.failure.message
    assert result.attempts == 1


def test_api_key_per_call_reaches_codex_only_through_the_environment(
    real_codex: RealCodex, monkeypatch: pytest.MonkeyPatch, tmp_path: os.PathLike[str]
) -> None:
    # A provider whose key variable is CODEX_API_KEY: the per-call key is what authenticates.
    from codex_local_sdk.testing.real_codex import e2e_env, make_codex_home

    home = make_codex_home(
        real_codex.workdir.parent / "keyed", real_codex.server.base_url, env_key="CODEX_API_KEY"
    )
    for key, value in e2e_env(home, api_key=None, env_key="CODEX_API_KEY").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("CODEX_API_KEY", raising=False)
    client = CodexLocalClient(codex_bin=real_codex.binary, retry_policy=NO_RETRY)
    secret = "sk-test-SECRET-per-call"
    result = client.run(
        real_codex.request("[[mock:hello]]"), api_key=secret, timeout_seconds=TIMEOUT
    )
    assert result.final_message == "Hello from the mock."
    assert secret not in repr(result) and secret not in " ".join(result.argv)
    failed = client.run(
        real_codex.request("[[mock:hello]]"), raise_on_error=False, timeout_seconds=TIMEOUT
    )
    assert failed.failure is not None and failed.failure.kind is FailureKind.AUTH


def test_unknown_thread_raises_thread_not_found(client: CodexLocalClient) -> None:
    with pytest.raises(CodexThreadNotFoundError) as caught:
        client.resume(prompt="hello", thread_id="00000000-0000-7000-8000-000000000000")
    assert caught.value.failure_kind is FailureKind.UNKNOWN_THREAD
    assert caught.value.result.attempts == 1
    assert "no rollout found" in caught.value.result.stderr_tail


def test_timeout_kills_codex_and_leaves_no_process(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    started = time.monotonic()
    with pytest.raises(CodexTimeoutError) as caught:
        client.run(real_codex.request("[[mock:slow]]"), timeout_seconds=2)
    assert time.monotonic() - started < 20
    assert caught.value.result.thread_id is not None  # the partial result is kept
    assert real_codex.processes() == []


async def test_cancellation_kills_codex_and_leaves_no_process(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    started: asyncio.Event = asyncio.Event()

    def on_event(event: object) -> None:
        started.set()

    task = asyncio.ensure_future(
        client.run_async(real_codex.request("[[mock:slow]]"), on_event=on_event)
    )
    await asyncio.wait_for(started.wait(), TIMEOUT)
    assert real_codex.processes() != []
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert real_codex.processes() == []


async def test_stream_yields_typed_events_in_order(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    async with client.stream(real_codex.request("[[mock:shell]]")) as events:
        types = [event.type async for event in events]
    assert types[:2] == ["thread.started", "turn.started"]
    assert types[-1] == "turn.completed"
    assert "item.started" in types
    assert events.result.final_message == "All done."
