"""Retries, sync and async alike: only safe failures, bounded, with jittered backoff."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CodexClientEvent,
    CodexExecFailedError,
    CodexExecRequest,
    CodexExecResult,
    CodexLocalClient,
    CodexTimeoutError,
    FailureKind,
    ItemCompleted,
    RetryPolicy,
    ThreadStarted,
    TurnFailed,
    TurnStarted,
)
from codex_local_sdk.events import TurnError
from codex_local_sdk.transport import TurnExit, TurnOutput
from tests.support.fake_codex import fake_log
from tests.support.recordings import ScriptedTransport

THREAD = "01a21332-ea6e-7fc2-b7aa-94f6d0b99183"
Runner = Callable[[CodexLocalClient, CodexExecRequest], CodexExecResult]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Runner:
    """Runs a request through the sync API or the async one (in a private event loop)."""
    if request.param == "sync":
        return lambda client, req: client.run(req, raise_on_error=False)

    def run_async(client: CodexLocalClient, req: CodexExecRequest) -> CodexExecResult:
        return asyncio.run(client.run_async(req, raise_on_error=False))

    return run_async


def policy(**fields: object) -> RetryPolicy:
    base: dict[str, object] = {
        "max_attempts": 3,
        "initial_backoff_seconds": 0.01,
        "jitter_ratio": 0.0,
    }
    return RetryPolicy(**{**base, **fields})  # type: ignore[arg-type]


def hooked(client: CodexLocalClient) -> list[CodexClientEvent]:
    seen: list[CodexClientEvent] = []
    client.event_hook = seen.append
    return seen


def test_transient_failures_are_retried_until_success(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner
) -> None:
    result = run(client, CodexExecRequest(prompt="[[fake:fail_times=2]]"))
    assert result.ok and result.attempts == 3
    assert len(fake_log(fake_env)) == 3


@pytest.mark.parametrize(
    ("mode", "kind"), [("429", FailureKind.RATE_LIMIT), ("500", FailureKind.SERVER_ERROR)]
)
def test_attempts_are_bounded(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner, mode: str, kind: FailureKind
) -> None:
    client.retry_policy = policy(max_attempts=2)
    result = run(client, CodexExecRequest(prompt=f"[[fake:{mode}]]"))
    assert result.failure is not None and result.failure.kind is kind
    assert result.attempts == 2 == len(fake_log(fake_env))


def test_max_attempts_one_disables_retries(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner
) -> None:
    client.retry_policy = policy(max_attempts=1)
    result = run(client, CodexExecRequest(prompt="[[fake:fail_times=1]]"))
    assert not result.ok and result.attempts == 1 == len(fake_log(fake_env))


@pytest.mark.parametrize("mode", ["auth", "nokey"])
def test_auth_errors_are_never_retried(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner, mode: str
) -> None:
    result = run(client, CodexExecRequest(prompt=f"[[fake:{mode}]]"))
    assert result.failure is not None and result.failure.kind is FailureKind.AUTH
    assert result.attempts == 1 == len(fake_log(fake_env))


def test_a_turn_that_did_work_is_never_retried(run: Runner) -> None:
    did_work: list[TurnOutput] = [
        ThreadStarted(thread_id=THREAD),
        TurnStarted(),
        ItemCompleted(item=AgentMessageItem(id="item_0", text="half done")),
        TurnFailed(error=TurnError(message="unexpected status 500 Internal Server Error")),
        TurnExit(return_code=1, stderr_tail="", argv=[]),
    ]
    transport = ScriptedTransport(did_work)
    client = CodexLocalClient(transport=transport, retry_policy=policy(max_attempts=5))
    result = run(client, CodexExecRequest(prompt="p"))
    assert result.failure is not None and result.failure.kind is FailureKind.SERVER_ERROR
    assert result.final_message == "half done"
    assert result.attempts == 1 == len(transport.specs)


def test_the_total_retry_budget_bounds_retries(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner
) -> None:
    client.retry_policy = policy(max_attempts=5, max_total_retry_seconds=0.0)
    result = run(client, CodexExecRequest(prompt="[[fake:fail_times=3]]"))
    assert not result.ok and result.attempts == 1 == len(fake_log(fake_env))
    assert any("retry budget" in warning for warning in result.warnings)
    client.retry_policy = policy(max_attempts=5, max_total_retry_seconds=None)
    assert run(client, CodexExecRequest(prompt="[[fake:fail_times=3]]")).attempts == 3


def test_backoff_delays_grow_with_jitter(client: CodexLocalClient, run: Runner) -> None:
    seen = hooked(client)
    client.retry_policy = policy(
        max_attempts=4, initial_backoff_seconds=0.02, backoff_multiplier=2, jitter_ratio=0.5
    )
    assert run(client, CodexExecRequest(prompt="[[fake:fail_times=3]]")).attempts == 4
    delays = [e.delay_seconds for e in seen if e.type == "retry_scheduled"]
    assert len(delays) == 3
    for base, delay in zip([0.02, 0.04, 0.08], delays, strict=True):
        assert delay is not None and base * 0.5 <= delay <= base * 1.5
    assert delays != [0.02, 0.04, 0.08]  # jittered


def test_backoff_without_jitter_is_exact(client: CodexLocalClient, run: Runner) -> None:
    seen = hooked(client)
    client.retry_policy = policy(
        max_attempts=4, initial_backoff_seconds=0.01, backoff_multiplier=3, max_backoff_seconds=0.05
    )
    run(client, CodexExecRequest(prompt="[[fake:fail_times=3]]"))
    assert [e.delay_seconds for e in seen if e.type == "retry_scheduled"] == [0.01, 0.03, 0.05]


def test_timeouts_are_retried_only_when_asked(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    stall = CodexExecRequest(prompt="[[fake:stall]]")
    with pytest.raises(CodexTimeoutError) as caught:
        client.run(stall, idle_timeout_seconds=0.5)
    assert caught.value.result.attempts == 1
    client.retry_policy = policy(max_attempts=2, retry_on_timeouts=True)
    with pytest.raises(CodexTimeoutError) as caught:
        client.run(stall, idle_timeout_seconds=0.5)
    assert caught.value.result.attempts == 2
    assert len(fake_log(fake_env)) == 3


async def test_timeouts_are_retried_when_asked_async(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    client.retry_policy = policy(max_attempts=2, retry_on_timeouts=True)
    with pytest.raises(CodexTimeoutError) as caught:
        await client.run_async(CodexExecRequest(prompt="[[fake:stall]]"), idle_timeout_seconds=0.5)
    assert caught.value.result.attempts == 2 == len(fake_log(fake_env))


def test_exit_codes_make_other_failures_retryable(run: Runner) -> None:
    odd_exit: list[TurnOutput] = [
        ThreadStarted(thread_id=THREAD),
        TurnExit(return_code=7, stderr_tail="", argv=[]),
    ]
    transport = ScriptedTransport(odd_exit)
    client = CodexLocalClient(transport=transport, retry_policy=policy())
    result = run(client, CodexExecRequest(prompt="p"))
    assert result.failure is not None and result.failure.kind is FailureKind.UNKNOWN
    assert result.attempts == 1
    transport = ScriptedTransport(odd_exit)
    client = CodexLocalClient(transport=transport, retry_policy=policy(retry_on_exit_codes=(7,)))
    assert run(client, CodexExecRequest(prompt="p")).attempts == 3 == len(transport.specs)


def test_exit_codes_never_make_usage_errors_retryable(
    client: CodexLocalClient, fake_env: dict[str, str], run: Runner
) -> None:
    client.retry_policy = policy(retry_on_exit_codes=(1, 2))
    result = run(client, CodexExecRequest(prompt="[[fake:auth]]"))
    assert result.attempts == 1
    usage = ScriptedTransport([TurnExit(return_code=2, stderr_tail="error: bad", argv=[])])
    client = CodexLocalClient(transport=usage, retry_policy=policy(retry_on_exit_codes=(2,)))
    result = run(client, CodexExecRequest(prompt="p"))
    assert result.failure is not None and result.failure.kind is FailureKind.USAGE_ERROR
    assert result.attempts == 1


def test_a_retried_resume_stays_on_its_thread(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    session, _ = client.start_thread("start", session_name="s")
    result = client.resume("[[fake:fail_times=1]]", session_name="s")
    assert result.ok and result.attempts == 2
    assert result.thread_id == session.thread_id
    assert [run["session_id"] for run in fake_log(fake_env)[1:]] == [session.thread_id] * 2
    assert client.get_session("s").turns == 2  # one operation, one recorded turn


def test_the_failed_error_reports_the_attempts(client: CodexLocalClient) -> None:
    with pytest.raises(CodexExecFailedError) as caught:
        client.run(CodexExecRequest(prompt="[[fake:500]]"))
    assert caught.value.result.attempts == 3
    assert caught.value.failure_kind is FailureKind.SERVER_ERROR


def test_threads_left_by_failed_attempts_are_named_in_the_result(
    client: CodexLocalClient, run: Runner
) -> None:
    result = run(client, CodexExecRequest(prompt="[[fake:fail_times=2]]"))
    assert result.ok and result.attempts == 3 and result.thread_id is not None
    abandoned = [w for w in result.warnings if "retried on a new thread" in w]
    assert len(abandoned) == 2
    assert all(result.thread_id not in warning for warning in abandoned)
    assert abandoned[0].startswith("attempt 1 failed on thread ")
