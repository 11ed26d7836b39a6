"""Failure classification (real recordings and fake texts), retry safety, backoff."""

from __future__ import annotations

import random

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CodexExecFailedError,
    CodexExecRequest,
    CodexExecResult,
    CodexLocalClient,
    CodexThreadNotFoundError,
    CodexUsageError,
    Failure,
    FailureKind,
    RetryPolicy,
    ThreadStarted,
)
from codex_local_sdk._failures import backoff_delay, classify_failure, is_retryable
from codex_local_sdk.transport import TurnExit
from tests.support.fake_codex import FAST_RETRY
from tests.support.recordings import ScriptedTransport, recording, replay

THREAD = "01a21332-ea6e-7fc2-b7aa-94f6d0b99183"
WARNING_STDERR = (
    "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create "
    'helper binaries under temporary dir "/tmp" (codex_home: AbsolutePathBuf("/tmp/h"))\n'
    "Reading additional input from stdin...\n"
)
BUSY_STDERR = (
    "2026-05-09T07:35:25.123456Z ERROR codex_core::session::session: failed to initialize "
    f"thread persistence: thread-store conflict: thread {THREAD} already has an active writer\n"
    f"Error: thread/resume: thread/resume failed: thread {THREAD} already has an active writer "
    "(code -32600)\n\nStack backtrace:\n   0: <unknown>\n"
)


def recorded_messages(name: str) -> tuple[list[str], str]:
    """The error-event messages and the stderr of a recorded run."""
    outputs = replay(name)
    messages = [getattr(o, "message", "") for o in outputs if getattr(o, "type", "") == "error"]
    _, stderr, _ = recording(name)
    return messages, stderr


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("http429", FailureKind.RATE_LIMIT),
        ("http500", FailureKind.SERVER_ERROR),
        ("nokey", FailureKind.AUTH),
        ("resume_unknown", FailureKind.UNKNOWN_THREAD),
        ("badflag", FailureKind.USAGE_ERROR),
    ],
)
def test_real_failures_are_classified(name: str, kind: FailureKind) -> None:
    messages, stderr = recorded_messages(name)
    assert classify_failure(messages, stderr) is kind


@pytest.mark.parametrize(
    ("messages", "stderr", "kind"),
    [
        (["unexpected status 401 Unauthorized: Incorrect API key provided"], "", FailureKind.AUTH),
        (["Missing environment variable: `OPENAI_API_KEY`."], "", FailureKind.AUTH),
        (["You've hit your usage limit. Try again later."], "", FailureKind.RATE_LIMIT),
        (
            [
                "Reconnecting... 1/5 (stream disconnected before completion: error sending "
                "request for url (https://api.openai.com/v1/responses))",
                "stream disconnected before completion: error sending request for url "
                "(https://api.openai.com/v1/responses)",
            ],
            "",
            FailureKind.NETWORK,
        ),
        (["unexpected status 502 Bad Gateway"], "", FailureKind.SERVER_ERROR),
        ([], BUSY_STDERR, FailureKind.THREAD_BUSY),
        ([], "Error: Session not found: my-thread\n", FailureKind.UNKNOWN_THREAD),
        (
            [],
            "error: invalid value 'all' for '--sandbox <SANDBOX_MODE>'\n"
            "  [possible values: read-only, workspace-write, danger-full-access]\n",
            FailureKind.USAGE_ERROR,
        ),
        (
            [],
            WARNING_STDERR
            + "Not inside a trusted directory and --skip-git-repo-check was not specified.\n",
            FailureKind.USAGE_ERROR,
        ),
        # stderr warnings on every run are not errors, whatever words they contain
        ([], WARNING_STDERR, FailureKind.UNKNOWN),
        ([], WARNING_STDERR + "thread 'main' panicked at lib.rs:1:1\n", FailureKind.UNKNOWN),
        (["something nobody anticipated"], "", FailureKind.UNKNOWN),
    ],
)
def test_failure_texts_are_classified(messages: list[str], stderr: str, kind: FailureKind) -> None:
    assert classify_failure(messages, stderr) is kind


def result_with(
    kind: FailureKind,
    *,
    thread_id: str | None = THREAD,
    return_code: int | None = 1,
    did_work: bool = False,
) -> CodexExecResult:
    return CodexExecResult(
        thread_id=thread_id,
        return_code=return_code,
        failure=Failure(kind=kind, message="x"),
        items=[AgentMessageItem(id="item_0", text="done")] if did_work else [],
    )


@pytest.mark.parametrize(
    "kind", [FailureKind.RATE_LIMIT, FailureKind.SERVER_ERROR, FailureKind.NETWORK]
)
def test_transient_failures_are_retried_only_before_any_work(kind: FailureKind) -> None:
    policy = RetryPolicy()
    assert is_retryable(policy, result_with(kind))
    assert not is_retryable(policy, result_with(kind, did_work=True))


@pytest.mark.parametrize(
    "kind",
    [
        FailureKind.USAGE_ERROR,
        FailureKind.AUTH,
        FailureKind.UNKNOWN_THREAD,
        FailureKind.THREAD_MISMATCH,
        FailureKind.CANCELLED,
    ],
)
def test_unsafe_failures_are_never_retried(kind: FailureKind) -> None:
    policy = RetryPolicy(retry_on_exit_codes=(1, 2), retry_on_timeouts=True)
    for code in (1, 2):
        assert not is_retryable(policy, result_with(kind, return_code=code))
        assert not is_retryable(policy, result_with(kind, return_code=code, thread_id=None))


def test_timeouts_are_retried_only_when_asked() -> None:
    timeout = result_with(FailureKind.TIMEOUT, return_code=None)
    assert not is_retryable(RetryPolicy(), timeout)
    assert is_retryable(RetryPolicy(retry_on_timeouts=True), timeout)
    worked = result_with(FailureKind.TIMEOUT, return_code=None, did_work=True)
    assert not is_retryable(RetryPolicy(retry_on_timeouts=True), worked)


def test_failures_before_the_turn_started_are_retried() -> None:
    policy = RetryPolicy()
    assert is_retryable(policy, result_with(FailureKind.CRASHED, thread_id=None, return_code=3))
    # codex refused to open a thread another process writes: the turn never started
    assert is_retryable(policy, result_with(FailureKind.THREAD_BUSY, thread_id=None))


def test_exit_codes_retry_other_failures_on_request() -> None:
    unknown = result_with(FailureKind.UNKNOWN, return_code=7)
    assert not is_retryable(RetryPolicy(), unknown)
    assert not is_retryable(RetryPolicy(retry_on_exit_codes=(1,)), unknown)
    assert is_retryable(RetryPolicy(retry_on_exit_codes=(1, 7)), unknown)
    worked = result_with(FailureKind.UNKNOWN, return_code=7, did_work=True)
    assert not is_retryable(RetryPolicy(retry_on_exit_codes=(7,)), worked)
    assert not is_retryable(RetryPolicy(), CodexExecResult())  # no failure at all


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(
        initial_backoff_seconds=1, backoff_multiplier=2, max_backoff_seconds=5, jitter_ratio=0
    )
    assert [backoff_delay(policy, n) for n in (1, 2, 3, 4, 5)] == [1, 2, 4, 5, 5]


def test_backoff_jitter_stays_within_its_ratio() -> None:
    policy = RetryPolicy(initial_backoff_seconds=2, jitter_ratio=0.25)
    rng = random.Random(1234)
    delays = [backoff_delay(policy, 1, rng) for _ in range(200)]
    assert all(1.5 <= d <= 2.5 for d in delays)
    assert min(delays) < 1.8 and max(delays) > 2.2  # the jitter really varies the delay
    again = random.Random(1234)
    assert delays == [backoff_delay(policy, 1, again) for _ in range(200)]


@pytest.mark.parametrize(
    "fields",
    [
        {"max_attempts": 0},
        {"initial_backoff_seconds": -1},
        {"max_backoff_seconds": -1},
        {"backoff_multiplier": 0.5},
        {"jitter_ratio": 1.5},
        {"jitter_ratio": -0.1},
    ],
)
def test_retry_policy_validation(fields: dict[str, float]) -> None:
    with pytest.raises(CodexUsageError) as refused:
        RetryPolicy(**fields)  # type: ignore[arg-type]
    assert isinstance(refused.value, ValueError)  # CodexUsageError stays a ValueError


def test_retry_policy_accepts_a_list_of_exit_codes() -> None:
    policy = RetryPolicy(retry_on_exit_codes=[1, 2])  # type: ignore[arg-type]
    assert policy.retry_on_exit_codes == (1, 2)


# --- the real recordings through the client (a transport that replays them) ------------


def replay_client(name: str) -> tuple[CodexLocalClient, ScriptedTransport]:
    transport = ScriptedTransport(replay(name))
    return CodexLocalClient(transport=transport, retry_policy=FAST_RETRY), transport


@pytest.mark.parametrize("name", ["run", "shell", "resume"])
async def test_recorded_successes_fold_into_results(name: str) -> None:
    client, _ = replay_client(name)
    result = await client.run_async(CodexExecRequest(prompt="p"))
    assert result.ok and result.failure is None
    assert result.turn_status == "completed"
    assert result.return_code == 0
    first = replay(name)[0]
    assert isinstance(first, ThreadStarted) and result.thread_id == first.thread_id
    assert result.final_message == result.agent_messages[-1]
    assert result.usage is not None and result.usage.input_tokens > 0
    assert result.turn_usage == result.usage  # a new thread: the whole usage is this turn's
    assert result.warnings == []
    assert len(result.events) == len(recording(name)[0])


async def test_recorded_schema_run_gives_structured_output() -> None:
    client, _ = replay_client("schema")
    request = CodexExecRequest(prompt="p", output_schema={"type": "object"})
    result = await client.run_async(request)
    assert result.structured_output == {"status": "ok", "count": 0}


@pytest.mark.parametrize(
    ("name", "kind", "attempts"),
    [
        ("http429", FailureKind.RATE_LIMIT, 3),
        ("http500", FailureKind.SERVER_ERROR, 3),
        ("nokey", FailureKind.AUTH, 1),
        ("badflag", FailureKind.USAGE_ERROR, 1),
    ],
)
async def test_recorded_failures_raise_classified_errors(
    name: str, kind: FailureKind, attempts: int
) -> None:
    client, transport = replay_client(name)
    with pytest.raises(CodexExecFailedError) as caught:
        await client.run_async(CodexExecRequest(prompt="p"))
    error = caught.value
    assert error.failure_kind is kind
    assert kind.value in str(error)
    assert error.result.attempts == attempts == len(transport.specs)
    assert error.return_code == recording(name)[2]
    assert error.stderr_tail == recording(name)[1]
    if name != "badflag":
        assert error.result.turn_status == "failed"
        assert error.result.warnings  # the error events


async def test_recorded_unknown_thread_raises_thread_not_found() -> None:
    client, transport = replay_client("resume_unknown")
    with pytest.raises(CodexThreadNotFoundError) as caught:
        await client.resume_async("p", thread_id="00000000-0000-7000-8000-000000000000")
    assert caught.value.result.attempts == 1 == len(transport.specs)
    assert "no rollout found" in str(caught.value)
    assert caught.value.failure_kind is FailureKind.UNKNOWN_THREAD


async def test_usage_errors_are_recognised_by_exit_code_two() -> None:
    # clap errors without a usage block (e.g. a missing option value) still exit 2.
    transport = ScriptedTransport(
        [
            TurnExit(
                return_code=2,
                stderr_tail="error: a value is required for '--model <MODEL>' but none was "
                "supplied\n\nFor more information, try '--help'.\n",
                argv=[],
            )
        ]
    )
    client = CodexLocalClient(transport=transport, retry_policy=FAST_RETRY)
    result = await client.run_async(CodexExecRequest(prompt="p"), raise_on_error=False)
    assert result.failure is not None and result.failure.kind is FailureKind.USAGE_ERROR
    assert len(transport.specs) == 1


async def test_exit_without_turn_end_is_a_failure() -> None:
    transport = ScriptedTransport(
        [ThreadStarted(thread_id=THREAD), TurnExit(return_code=0, stderr_tail="", argv=[])]
    )
    client = CodexLocalClient(transport=transport, retry_policy=RetryPolicy(max_attempts=1))
    result = await client.run_async(CodexExecRequest(prompt="p"), raise_on_error=False)
    assert result.failure is not None and result.failure.kind is FailureKind.UNKNOWN
    assert result.turn_status == "failed"
