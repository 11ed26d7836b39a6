"""A turn stopped after codex reported its thread (cancelled, Ctrl-C, stream left early, timed
out) is recorded in its session, so that it can be resumed."""

from __future__ import annotations

import asyncio
import signal
import threading
from typing import Any

import pytest

from codex_local_sdk import (
    CodexExecRequest,
    CodexLocalClient,
    CodexTimeoutError,
    ThreadEvent,
)

STALL = "[[fake:stall]] work on it"


def started_flag() -> tuple[asyncio.Event, Any]:
    started = asyncio.Event()

    def on_event(event: ThreadEvent) -> None:
        if event.type == "thread.started":
            started.set()

    return started, on_event


async def test_a_cancelled_start_is_recorded_and_resumable(client: CodexLocalClient) -> None:
    started, on_event = started_flag()
    task = asyncio.create_task(
        client.start_thread_async(STALL, session_name="plan", on_event=on_event)
    )
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    session = client.get_session("plan")
    assert session.thread_id and session.last_status == "cancelled"
    assert session.recent_turns[-1].status == "cancelled"
    follow_up = await client.resume_async("carry on", session_name="plan")
    assert follow_up.ok and follow_up.thread_id == session.thread_id
    assert client.get_session("plan").turns == 2


async def test_a_cancelled_resume_is_recorded(client: CodexLocalClient) -> None:
    session, _ = await client.start_thread_async("begin", session_name="s")
    started, on_event = started_flag()
    task = asyncio.create_task(client.resume_async(STALL, session_name="s", on_event=on_event))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    after = client.get_session("s")
    assert after.turns == 2 and after.last_status == "cancelled"
    assert after.thread_id == session.thread_id


async def test_a_cancelled_fork_records_the_new_thread(client: CodexLocalClient) -> None:
    session, _ = await client.start_thread_async("begin", session_name="base")
    started, on_event = started_flag()
    task = asyncio.create_task(
        client.fork_async(STALL, session_name="base", new_session_name="copy", on_event=on_event)
    )
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    copy = client.get_session("copy")
    assert copy.thread_id != session.thread_id and copy.last_status == "cancelled"
    assert copy.forked_from == session.thread_id


async def test_a_cancel_before_the_thread_started_records_nothing(
    client: CodexLocalClient,
) -> None:
    # The fake waits 30 s before it reports its thread: the cancel surely comes first.
    task = asyncio.create_task(
        client.start_thread_async("[[fake:slow_start=30]] hi", session_name="never")
    )
    await asyncio.sleep(0.3)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert client.list_sessions() == []


async def test_a_stream_left_early_records_the_turn(client: CodexLocalClient) -> None:
    await client.start_thread_async("begin", session_name="st")
    async with client.stream(CodexExecRequest(prompt=STALL), session_name="st") as events:
        async for event in events:
            if event.type == "turn.started":
                break
    session = client.get_session("st")
    assert session.turns == 2 and session.last_status == "cancelled"


def test_a_timed_out_turn_is_recorded_as_timeout(client: CodexLocalClient) -> None:
    with pytest.raises(CodexTimeoutError):
        client.start_thread(STALL, session_name="slow", timeout_seconds=1)
    assert client.get_session("slow").last_status == "timeout"
    with pytest.raises(CodexTimeoutError):
        client.resume(STALL, session_name="slow", idle_timeout_seconds=1)
    session = client.get_session("slow")
    assert session.turns == 2 and session.last_status == "timeout"


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's default SIGINT handler",
)
def test_ctrl_c_in_a_sync_start_records_the_thread_as_interrupted(
    client: CodexLocalClient,
) -> None:
    main_thread = threading.main_thread().ident
    assert main_thread is not None and threading.current_thread() is threading.main_thread()

    def on_event(event: ThreadEvent) -> None:
        if event.type == "turn.started":  # runs on the client's loop thread
            signal.pthread_kill(main_thread, signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        client.start_thread(STALL, session_name="ctrl-c", on_event=on_event)
    session = client.get_session("ctrl-c")
    assert session.thread_id and session.last_status == "interrupted"
    assert client.resume("go on", session_name="ctrl-c").ok
