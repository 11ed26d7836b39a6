"""The observability hook (sync or async) and the rule that secrets appear nowhere."""

from __future__ import annotations

import asyncio
import logging
import pathlib

import msgspec
import pytest

from codex_local_sdk import (
    CodexClientEvent,
    CodexExecFailedError,
    CodexExecRequest,
    CodexLocalClient,
    CodexUsageError,
    FailureKind,
)
from tests.support.fake_codex import SECRET
from tests.support.waiting import wait_until_async

SUCCESS = [
    "operation_started",
    "attempt_started",
    "thread_started",
    "attempt_succeeded",
    "operation_finished",
]


def test_a_sync_hook_sees_each_lifecycle_step(client: CodexLocalClient) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    result = client.run(CodexExecRequest(prompt="hooked"))
    assert [e.type for e in seen] == SUCCESS
    assert {e.operation for e in seen} == {"exec"}
    assert [e.attempt for e in seen] == [0, 1, 1, 1, 1]
    by_type = {e.type: e for e in seen}
    assert by_type["thread_started"].thread_id == result.thread_id
    assert by_type["attempt_succeeded"].return_code == 0
    finished = by_type["operation_finished"]
    assert finished.thread_id == result.thread_id and finished.failure_kind is None
    assert finished.duration_seconds == result.duration_seconds
    assert all(e.session_name is None for e in seen)
    assert [e.timestamp for e in seen] == sorted(e.timestamp for e in seen)


async def test_an_async_hook_sees_retries(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    seen: list[CodexClientEvent] = []

    async def hook(event: CodexClientEvent) -> None:
        seen.append(event)

    client.event_hook = hook
    await client.run_async(CodexExecRequest(prompt="[[fake:fail_times=1]]"))
    assert [e.type for e in seen] == [
        "operation_started",
        "attempt_started",
        "thread_started",
        "attempt_failed",
        "retry_scheduled",
        "attempt_started",
        "thread_started",
        "attempt_succeeded",
        "operation_finished",
    ]
    failed = seen[3]
    assert failed.attempt == 1 and failed.failure_kind is FailureKind.SERVER_ERROR
    assert failed.return_code == 1 and failed.message
    scheduled = seen[4]
    assert scheduled.attempt == 1 and scheduled.delay_seconds is not None
    assert scheduled.failure_kind is FailureKind.SERVER_ERROR
    assert [e.attempt for e in seen[5:]] == [2, 2, 2, 2]
    assert seen[2].thread_id != seen[6].thread_id  # a retried new run is a new thread


def test_hooks_see_session_names(client: CodexLocalClient) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    client.start_thread("one", session_name="named")
    client.resume("two", session_name="named")
    assert {e.session_name for e in seen} == {"named"}
    assert [e.operation for e in seen if e.type == "operation_started"] == ["exec", "resume"]


def test_a_failing_hook_is_logged_never_raised(
    client: CodexLocalClient, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(event: CodexClientEvent) -> None:
        raise RuntimeError("hook bug")

    client.event_hook = broken
    with caplog.at_level(logging.ERROR, logger="codex_local_sdk"):
        assert client.run(CodexExecRequest(prompt="still fine")).ok
    assert "hook bug" in caplog.text


async def test_on_event_sees_every_event_of_every_attempt(client: CodexLocalClient) -> None:
    seen: list[str] = []

    async def on_event(event: object) -> None:
        seen.append(getattr(event, "type", "?"))

    result = await client.run_async(
        CodexExecRequest(prompt="[[fake:fail_times=1]]"), on_event=on_event
    )
    assert result.attempts == 2
    assert seen == [
        "thread.started",
        "turn.started",
        "error",
        "turn.failed",
        "thread.started",
        "turn.started",
        "item.completed",
        "turn.completed",
    ]


def test_secrets_appear_nowhere(
    client: CodexLocalClient, fake_env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    request = CodexExecRequest(
        prompt="[[fake:shell]]",
        env={"OPENAI_API_KEY": SECRET},
        config_overrides={"model_providers.mock.api_key": SECRET},
    )
    shown: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="codex_local_sdk"):
        result = client.run(request, api_key=SECRET)
        shown += [repr(result), " ".join(result.argv), msgspec.json.encode(result).decode()]
        failing = msgspec.structs.replace(request, prompt="[[fake:auth]]")
        with pytest.raises(CodexExecFailedError) as caught:
            client.run(failing, api_key=SECRET)
        shown += [str(caught.value), repr(caught.value), repr(caught.value.result)]
        _, session_result = client.start_thread(request=request, session_name="s", api_key=SECRET)
        shown.append(repr(session_result))
        shown.append(repr(client.resume(request=request, session_name="s", api_key=SECRET)))
    assert result.ok and caught.value.failure_kind is FailureKind.AUTH
    assert any("model_providers.mock.api_key=***" in text for text in shown)
    shown += [repr(request), repr(client), caplog.text]
    shown += [msgspec.json.encode(event).decode() for event in seen]
    shown += [msgspec.json.encode(record).decode() for record in client.list_sessions()]
    assert seen and caplog.records
    for text in shown:
        assert SECRET not in text


def test_the_hook_sees_operations_that_could_not_start(
    client: CodexLocalClient, tmp_path: pathlib.Path
) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    with pytest.raises(CodexUsageError):
        client.run(CodexExecRequest(prompt="p", cwd=str(tmp_path / "missing")))
    assert [e.type for e in seen] == [
        "operation_started",
        "attempt_started",
        "attempt_failed",
        "operation_finished",
    ]
    assert seen[2].message is not None and "working directory" in seen[2].message
    assert seen[3].message == seen[2].message and seen[3].duration_seconds is not None


async def test_the_hook_sees_cancelled_operations_end(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    task = asyncio.create_task(client.run_async(CodexExecRequest(prompt="[[fake:stall]]")))
    await wait_until_async(
        lambda: any(e.type == "thread_started" for e in seen), message="the thread to start"
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert [e.type for e in seen] == [
        "operation_started",
        "attempt_started",
        "thread_started",
        "attempt_failed",
        "operation_finished",
    ]
    assert {seen[3].failure_kind, seen[4].failure_kind} == {FailureKind.CANCELLED}


async def test_streams_report_the_whole_operation_to_the_hook(client: CodexLocalClient) -> None:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    async with client.stream(CodexExecRequest(prompt="streamed")) as events:
        async for _ in events:
            pass
    assert [e.type for e in seen] == SUCCESS
    assert seen[-1].thread_id == events.result.thread_id

    seen.clear()
    async with client.stream(CodexExecRequest(prompt="[[fake:stall]]")) as events:
        async for event in events:
            if event.type == "turn.started":
                break  # an early stop still ends the operation for the hook
    assert seen[0].type == "operation_started"
    assert seen[-1].type == "operation_finished"
    assert seen[-1].failure_kind is FailureKind.CANCELLED
