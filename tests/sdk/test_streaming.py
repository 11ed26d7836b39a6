"""Streaming typed events: ``client.stream`` (async) and ``client.iter_events`` (sync)."""

from __future__ import annotations

import asyncio

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CodexClientEvent,
    CodexExecRequest,
    CodexLocalClient,
    CommandExecutionItem,
    FailureKind,
    ItemCompleted,
    ItemStarted,
    ThreadStarted,
    TurnCompleted,
    TurnStarted,
)
from tests.support.fake_codex import child_pid, last_run
from tests.support.processes import is_gone


async def test_stream_yields_typed_events_then_the_result(client: CodexLocalClient) -> None:
    seen = []
    async with client.stream(CodexExecRequest(prompt="[[fake:shell]]")) as events:
        async for event in events:
            seen.append(event)
    assert [type(e) for e in seen] == [
        ThreadStarted,
        TurnStarted,
        ItemCompleted,
        ItemStarted,
        ItemCompleted,
        ItemCompleted,
        TurnCompleted,
    ]
    assert isinstance(seen[3], ItemStarted) and isinstance(seen[3].item, CommandExecutionItem)
    result = events.result
    assert result.ok
    assert result.events == seen
    assert result.final_message == "All done."
    assert result.return_code == 0


async def test_events_arrive_while_codex_is_still_running(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    async with client.stream(CodexExecRequest(prompt="[[fake:child]]")) as events:
        async for event in events:
            if isinstance(event, TurnStarted):
                break  # codex now stalls forever: the events came before its end
        assert events.result.thread_id is not None


async def test_breaking_out_of_a_stream_kills_codex_at_once(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    hook_events: list[CodexClientEvent] = []
    client.event_hook = hook_events.append
    async with client.stream(CodexExecRequest(prompt="[[fake:child]]")) as events:
        async for event in events:
            assert isinstance(event, ThreadStarted)
            await asyncio.to_thread(child_pid, fake_env)
            break
    # no waiting: leaving the block stopped codex and its whole process group
    assert is_gone(last_run(fake_env)["pid"])
    assert is_gone(child_pid(fake_env))
    failure = events.result.failure
    assert failure is not None and failure.kind is FailureKind.CANCELLED
    assert [e.type for e in hook_events][-2:] == ["attempt_failed", "operation_finished"]


async def test_aclose_without_iterating_is_harmless(client: CodexLocalClient) -> None:
    stream = client.stream(CodexExecRequest(prompt="never started"))
    await stream.aclose()
    assert stream.result.thread_id is None


async def test_a_failed_stream_ends_normally_with_the_failure_in_its_result(
    client: CodexLocalClient,
) -> None:
    async with client.stream(CodexExecRequest(prompt="[[fake:429]]")) as events:
        types = [event.type async for event in events]
    assert types == ["thread.started", "turn.started", "error", "turn.failed"]
    failure = events.result.failure
    assert failure is not None and failure.kind is FailureKind.RATE_LIMIT
    assert events.result.attempts == 1  # streams are never retried


async def test_stream_resumes_a_session(client: CodexLocalClient) -> None:
    session, _ = await client.start_thread_async("first", session_name="s")
    async with client.stream(CodexExecRequest(prompt="second"), session_name="s") as events:
        messages = [
            e.item.text
            async for e in events
            if isinstance(e, ItemCompleted) and isinstance(e.item, AgentMessageItem)
        ]
    assert messages == ["echo: second"]
    assert events.result.thread_id == session.thread_id
    assert client.get_session("s").turns == 2


async def test_stream_by_thread_id(client: CodexLocalClient, fake_env: dict[str, str]) -> None:
    first = await client.run_async(CodexExecRequest(prompt="first"))
    assert first.thread_id is not None
    async with client.stream(CodexExecRequest(prompt="next"), thread_id=first.thread_id) as events:
        async for _ in events:
            pass
    assert events.result.ok and events.result.thread_id == first.thread_id
    assert last_run(fake_env)["subcommand"] == "resume"


def test_iter_events_is_the_blocking_stream(client: CodexLocalClient) -> None:
    with client.iter_events(CodexExecRequest(prompt="[[fake:reasoning]]")) as events:
        types = [event.type for event in events]
    assert types == [
        "thread.started",
        "turn.started",
        "item.completed",
        "item.completed",
        "turn.completed",
    ]
    assert events.result.ok and events.result.final_message == "echo: [[fake:reasoning]]"


def test_breaking_out_of_iter_events_kills_codex_at_once(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    with client.iter_events(CodexExecRequest(prompt="[[fake:child]]")) as events:
        for event in events:
            assert isinstance(event, ThreadStarted)
            child_pid(fake_env)
            break
    assert is_gone(last_run(fake_env)["pid"])
    assert is_gone(child_pid(fake_env))


def test_iter_events_inside_a_running_loop(client: CodexLocalClient) -> None:
    async def consume() -> list[str]:
        with client.iter_events(CodexExecRequest(prompt="nested")) as events:
            return [event.type for event in events]

    assert asyncio.run(consume())[-1] == "turn.completed"


@pytest.mark.parametrize("how", ["cancel", "timeout"])
async def test_a_stream_consumer_cancelled_mid_way_leaves_nothing(
    client: CodexLocalClient, fake_env: dict[str, str], how: str
) -> None:
    async def consume() -> None:
        async with client.stream(CodexExecRequest(prompt="[[fake:child]]")) as events:
            async for _ in events:
                pass

    if how == "cancel":
        task = asyncio.create_task(consume())
        await asyncio.to_thread(child_pid, fake_env)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    else:
        started = asyncio.create_task(asyncio.to_thread(child_pid, fake_env))
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(consume(), timeout=2)
        await started
    assert is_gone(last_run(fake_env)["pid"])
    assert is_gone(child_pid(fake_env))
