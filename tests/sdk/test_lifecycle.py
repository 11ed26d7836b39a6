"""The process engine: timeouts, cancellation, interrupts and close kill codex's whole process
group; no zombie, no orphan, no leaked descriptor; the sync API from any thread."""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import signal
import sys
import threading
from collections.abc import Iterator

import pytest

from codex_local_sdk import (
    CodexClientEvent,
    CodexExecFailedError,
    CodexExecRequest,
    CodexLocalClient,
    CodexTimeoutError,
    CodexUsageError,
    FailureKind,
    RetryPolicy,
    ThreadStarted,
)
from codex_local_sdk._invocation import CodexInvocation
from codex_local_sdk._process import CodexProcess, Deadlines
from tests.support.fake_codex import NO_RETRY, child_pid, fake_log, last_run
from tests.support.processes import is_gone, open_fds
from tests.support.waiting import wait_until_async

CHILD = CodexExecRequest(prompt="[[fake:child]]")  # codex + a grandchild, stalling forever


@pytest.fixture
def quick_kill(fake_codex: str, fake_env: dict[str, str]) -> Iterator[CodexLocalClient]:
    """A client with a short SIGTERM→SIGKILL grace period and no retries."""
    client = CodexLocalClient(codex_bin=fake_codex, kill_grace_seconds=0.2, retry_policy=NO_RETRY)
    yield client
    client.close()


def group_gone(env: dict[str, str]) -> bool:
    return is_gone(last_run(env)["pid"]) and is_gone(child_pid(env))


async def test_total_timeout_kills_the_whole_group(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    with pytest.raises(CodexTimeoutError) as caught:
        await client.run_async(CHILD, timeout_seconds=2)
    assert group_gone(fake_env)
    partial = caught.value.result
    assert partial.failure is not None and partial.failure.kind is FailureKind.TIMEOUT
    assert "did not finish within the timeout" in partial.failure.message
    assert partial.return_code is None
    assert isinstance(partial.events[0], ThreadStarted)
    assert partial.thread_id == partial.events[0].thread_id
    assert partial.attempts == 1  # timeouts are not retried by default


def test_idle_timeout_kills_a_silent_codex(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    with pytest.raises(CodexTimeoutError, match="no output within the idle timeout"):
        client.run(CHILD, idle_timeout_seconds=1)
    assert group_gone(fake_env)


def test_idle_timeout_restarts_with_every_event(client: CodexLocalClient) -> None:
    # ten events 0.15 s apart: longer than the idle timeout in all, never silent that long
    request = CodexExecRequest(prompt="[[fake:slow=0.15]] [[fake:todo]] [[fake:shell]]")
    result = client.run(request, idle_timeout_seconds=1.0)
    assert result.ok and len(result.events) == 10


def test_client_default_timeouts_apply(fake_codex: str, fake_env: dict[str, str]) -> None:
    client = CodexLocalClient(codex_bin=fake_codex, idle_timeout_seconds=1, retry_policy=NO_RETRY)
    with client, pytest.raises(CodexTimeoutError):
        client.run(CodexExecRequest(prompt="[[fake:stall]]"))
    assert is_gone(last_run(fake_env)["pid"])


async def test_sigterm_is_escalated_to_sigkill(
    quick_kill: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    request = CodexExecRequest(prompt="[[fake:child]] [[fake:ignore_term]]")
    with pytest.raises(CodexTimeoutError):
        await quick_kill.run_async(request, idle_timeout_seconds=1)
    assert group_gone(fake_env)


@pytest.mark.parametrize("stdout", [False, True], ids=["detached", "holding-stdout"])
async def test_a_grandchild_left_after_a_normal_exit_is_killed(
    quick_kill: CodexLocalClient, fake_env: dict[str, str], stdout: bool
) -> None:
    # The grandchild ignores SIGTERM; with stdout it also keeps codex's stdout pipe open.
    mode = "[[fake:linger=stdout]]" if stdout else "[[fake:linger]]"
    result = await quick_kill.run_async(CodexExecRequest(prompt=f"done {mode}"))
    assert result.ok and result.final_message == f"echo: done {mode}"
    assert result.return_code == 0
    assert group_gone(fake_env)


async def test_cancelling_the_task_kills_the_whole_group(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    task = asyncio.create_task(client.run_async(CHILD))
    await asyncio.to_thread(child_pid, fake_env)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group_gone(fake_env)


async def test_cancelled_inside_on_event_still_kills_the_group_at_once(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    async def slow_consumer(event: object) -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(client.run_async(CHILD, on_event=slow_consumer))
    await asyncio.to_thread(child_pid, fake_env)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group_gone(fake_env)


async def test_aclose_cancels_running_operations(
    quick_kill: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    task = asyncio.create_task(
        quick_kill.run_async(CodexExecRequest(prompt="[[fake:child]] [[fake:ignore_term]]"))
    )
    await asyncio.to_thread(child_pid, fake_env)
    await quick_kill.aclose()
    assert task.done()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert group_gone(fake_env)


async def test_aclose_cancels_operations_between_attempts_and_waiting_for_a_thread(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    session, _ = await client.start_thread_async("start", session_name="s")
    scheduled, queued = asyncio.Event(), asyncio.Event()
    resumes: list[CodexClientEvent] = []

    def hook(event: CodexClientEvent) -> None:
        if event.type == "retry_scheduled":
            scheduled.set()
        if event.type == "operation_started" and event.operation == "resume":
            resumes.append(event)
            if len(resumes) == 2:
                queued.set()

    client.event_hook = hook
    client.retry_policy = RetryPolicy(max_attempts=3, initial_backoff_seconds=60)
    backing_off = asyncio.create_task(client.run_async(CodexExecRequest(prompt="[[fake:500]]")))
    holding = asyncio.create_task(client.resume_async("[[fake:stall]]", session_name="s"))
    await scheduled.wait()
    await wait_until_async(
        lambda: len(fake_log(fake_env)) == 3, timeout=15, message="three codex runs to start"
    )
    waiting = asyncio.create_task(client.resume_async("queued", thread_id=session.thread_id))
    await queued.wait()  # it waits for the session's turn
    await client.aclose()
    for task in (backing_off, holding, waiting):
        assert task.done()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert len(fake_log(fake_env)) == 3  # no retry and no queued turn started
    assert is_gone(fake_log(fake_env)[-1]["pid"])


async def test_async_with_client_closes_it(fake_codex: str, fake_env: dict[str, str]) -> None:
    async with CodexLocalClient(codex_bin=fake_codex) as client:
        result = await client.run_async(CodexExecRequest(prompt="ctx"))
    assert result.ok


@pytest.mark.skipif(
    signal.getsignal(signal.SIGINT) is not signal.default_int_handler,
    reason="needs Python's default SIGINT handler",
)
def test_keyboard_interrupt_in_a_sync_run_kills_the_group_before_propagating(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    assert threading.current_thread() is threading.main_thread()
    main_thread = threading.main_thread().ident
    assert main_thread is not None

    def interrupt_when_running() -> None:
        child_pid(fake_env)
        signal.pthread_kill(main_thread, signal.SIGINT)

    interrupter = threading.Thread(target=interrupt_when_running, daemon=True)
    interrupter.start()
    # codex ignores SIGTERM: the cleanup takes the whole grace period, and must be over
    # by the time KeyboardInterrupt reaches us.
    with pytest.raises(KeyboardInterrupt):
        client.run(CodexExecRequest(prompt="[[fake:child]] [[fake:ignore_term]]"))
    interrupter.join()
    assert group_gone(fake_env)
    assert client.run(CodexExecRequest(prompt="still usable")).ok


def test_close_kills_sync_calls_running_in_other_threads(
    quick_kill: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    outcome: list[BaseException] = []

    def worker() -> None:
        try:
            quick_kill.run(CHILD)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=worker)
    thread.start()
    child_pid(fake_env)
    quick_kill.close()
    assert group_gone(fake_env)
    thread.join(30)
    assert not thread.is_alive()
    assert len(outcome) == 1
    assert isinstance(outcome[0], (asyncio.CancelledError, concurrent.futures.CancelledError))
    assert quick_kill.run(CodexExecRequest(prompt="after close")).ok  # a new loop thread


async def test_the_sync_api_works_inside_a_running_event_loop(client: CodexLocalClient) -> None:
    asyncio.get_running_loop()
    result = client.run(CodexExecRequest(prompt="from a coroutine"))
    assert result.final_message == "echo: from a coroutine"
    session, _ = client.start_thread("named", session_name="s")
    assert client.resume("again", session_name="s").thread_id == session.thread_id


def test_the_sync_api_works_from_worker_threads(client: CodexLocalClient) -> None:
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(
            pool.map(lambda i: client.run(CodexExecRequest(prompt=f"worker {i}")), range(4))
        )
    assert [r.final_message for r in results] == [f"echo: worker {i}" for i in range(4)]
    assert len({r.thread_id for r in results}) == 4


def test_a_sync_call_from_the_clients_own_loop_is_refused(client: CodexLocalClient) -> None:
    seen: list[BaseException] = []

    def hook_calling_back(event: object) -> None:
        try:
            client.run(CodexExecRequest(prompt="nested"))
        except CodexUsageError as exc:
            seen.append(exc)

    client.event_hook = hook_calling_back
    client.run(CodexExecRequest(prompt="outer"))
    assert seen and "cannot run inside its own loop" in str(seen[0])


async def test_no_descriptor_leaks_async(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    await client.run_async(CodexExecRequest(prompt="warm up"))
    before = open_fds()
    await client.run_async(CodexExecRequest(prompt="[[fake:shell]]"))
    await client.run_async(CodexExecRequest(prompt="[[fake:auth]]"), raise_on_error=False)
    with pytest.raises(CodexTimeoutError):
        await client.run_async(CodexExecRequest(prompt="[[fake:stall]]"), idle_timeout_seconds=1)
    task = asyncio.create_task(client.run_async(CHILD))
    await asyncio.to_thread(child_pid, fake_env)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with client.stream(CodexExecRequest(prompt="[[fake:stall]]")) as events:
        async for _ in events:
            break
    with pytest.raises(CodexExecFailedError):
        await client.run_async(CodexExecRequest(prompt="[[fake:crash]]"))
    assert open_fds() == before


def test_no_descriptor_leaks_sync(fake_codex: str, fake_env: dict[str, str]) -> None:
    before = open_fds()
    client = CodexLocalClient(codex_bin=fake_codex, retry_policy=NO_RETRY)
    assert client.run(CodexExecRequest(prompt="one")).ok
    with client.iter_events(CodexExecRequest(prompt="[[fake:stall]]")) as events:
        for _ in events:
            break
    client.close()
    assert open_fds() == before


# --- the line reader, on a plain child process ----------------------------------------


async def lines_of(script: str) -> list[bytes]:
    invocation = CodexInvocation(
        argv=(sys.executable, "-c", script), env=dict(os.environ), stdin=b""
    )
    async with CodexProcess.open(invocation, kill_grace_seconds=1) as process:
        return [bytes(line) async for line in process.lines(Deadlines(None, 30))]


async def test_lines_are_split_exactly() -> None:
    script = (
        "import sys, time\n"
        "out = sys.stdout.buffer\n"
        "out.write(b'one\\r\\n\\n   \\ntw'); out.flush(); time.sleep(0.05)\n"
        "out.write(b'o\\n' + b'z' * 200000 + b'\\nlast without newline'); out.flush()\n"
    )
    assert await lines_of(script) == [b"one", b"two", b"z" * 200000, b"last without newline"]


async def test_a_missing_executable_is_not_installed() -> None:
    from codex_local_sdk import CodexNotInstalledError

    invocation = CodexInvocation(argv=("/nonexistent/codex",), env={}, stdin=b"")
    with pytest.raises(CodexNotInstalledError, match="cannot start codex"):
        async with CodexProcess.open(invocation):
            pass
