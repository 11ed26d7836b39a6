"""The multiplexed warm engine (``AppServerTransport``) against the REAL codex app-server, both
builds: parallel turns on one server, approvals relayed to a handler, live deltas, steering
and idle shutdown."""

from __future__ import annotations

import asyncio
import time

import pytest

from codex_local_sdk import (
    AgentMessageDelta,
    ApprovalDecided,
    ApprovalDecision,
    ApprovalKind,
    ApprovalRequest,
    ApprovalUnavailable,
    AppServerTransport,
    CodexExecRequest,
    CodexLocalClient,
    CodexUsageError,
    RetryPolicy,
    ThreadEvent,
    handling_approvals,
)
from codex_local_sdk.testing.mock_responses import (
    ESCALATED_COMMAND,
    ESCALATED_MARKER,
    SHELL_DONE_TEXT,
    STREAM_TEXT,
)
from tests.support.processes import codex_processes, describe
from tests.support.real_codex import RealCodex
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.timeout(120)
TIMEOUT = 60.0


@pytest.fixture
def client(transport: AppServerTransport) -> CodexLocalClient:
    return CodexLocalClient(
        transport=transport, retry_policy=RetryPolicy(max_attempts=1), timeout_seconds=TIMEOUT
    )


def _escalation(real_codex: RealCodex) -> CodexExecRequest:
    return real_codex.request(
        "[[mock:escalate]] write the file",
        approval_policy="on-request",
        sandbox="workspace-write",
    )


async def test_parallel_turns_share_one_server_and_overlap(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    real_codex.server.slow_seconds = 2.0
    await client.run_async(real_codex.request("[[mock:hello]] warm up"))

    started = time.monotonic()
    results = await asyncio.gather(
        *(client.run_async(real_codex.request(f"[[mock:slow]] turn {n}")) for n in range(3))
    )
    wall = time.monotonic() - started

    assert all(result.ok for result in results)
    assert len({result.thread_id for result in results}) == 3
    assert [r.final_message for r in results] == [f"echo: [[mock:slow]] turn {n}" for n in range(3)]
    assert len(transport.server_pids) == 1
    assert wall < 2.0 * 2  # serialised they would take 6 s


async def test_turns_on_one_thread_are_serialised(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    real_codex.server.slow_seconds = 1.0
    first = await client.run_async(real_codex.request("[[mock:hello]] start"))
    assert first.thread_id is not None

    started = time.monotonic()
    results = await asyncio.gather(
        *(
            client.resume_async(f"[[mock:slow]] follow-up {n}", thread_id=first.thread_id)
            for n in range(2)
        )
    )
    assert all(result.ok and result.thread_id == first.thread_id for result in results)
    assert time.monotonic() - started >= 2.0


async def test_an_approved_escalation_runs_the_command(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    seen: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> ApprovalDecision:
        seen.append(request)
        return ApprovalDecision.APPROVE

    with handling_approvals(approve):
        result = await client.run_async(_escalation(real_codex))

    assert result.final_message == SHELL_DONE_TEXT
    [request] = seen
    assert request.kind is ApprovalKind.COMMAND
    assert ESCALATED_COMMAND in (request.command or "")
    assert request.cwd == str(real_codex.workdir) and request.reason and request.leaves_sandbox
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.decided_by) == ("approve", "user")
    assert (real_codex.workdir / ESCALATED_MARKER).exists()
    [command] = result.commands
    assert command.exit_code == 0


async def test_a_declined_escalation_does_not_run(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    async def decline(request: ApprovalRequest) -> ApprovalDecision:
        return ApprovalDecision.DECLINE

    with handling_approvals(decline):
        result = await client.run_async(_escalation(real_codex))

    assert not (real_codex.workdir / ESCALATED_MARKER).exists()
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.decided_by) == ("decline", "user")


async def test_an_unanswered_request_is_declined_after_the_timeout(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    async def never_answers(request: ApprovalRequest) -> ApprovalDecision:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    started = time.monotonic()
    with handling_approvals(never_answers, timeout_seconds=3.0):
        result = await client.run_async(_escalation(real_codex), idle_timeout_seconds=1.5)

    assert time.monotonic() - started < 30
    assert result.ok  # the idle timeout did not fire while the person "thought"
    assert not (real_codex.workdir / ESCALATED_MARKER).exists()
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.decided_by) == ("decline", "timeout")


async def test_a_ceiling_declines_escalations_without_asking(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    asked: list[ApprovalRequest] = []

    async def approve(request: ApprovalRequest) -> ApprovalDecision:
        asked.append(request)
        return ApprovalDecision.APPROVE

    with handling_approvals(approve, allow_leaving_sandbox=False):
        result = await client.run_async(_escalation(real_codex))

    assert asked == []
    assert not (real_codex.workdir / ESCALATED_MARKER).exists()
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.decided_by) == ("decline", "policy")


async def test_agent_message_deltas_arrive_before_the_message(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    events: list[ThreadEvent] = []
    result = await client.run_async(
        real_codex.request("[[mock:stream]] go"), on_event=events.append
    )

    deltas = [e for e in events if isinstance(e, AgentMessageDelta)]
    assert "".join(d.delta for d in deltas) == STREAM_TEXT == result.final_message
    assert len(deltas) > 3
    assert not any(isinstance(e, AgentMessageDelta) for e in result.events)  # not kept


async def test_steering_adds_input_to_the_running_turn(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    real_codex.server.slow_seconds = 1.5
    run = asyncio.create_task(client.run_async(real_codex.request("[[mock:slow]] first")))
    await wait_until_async(lambda: transport.running_threads, message="the turn to start")
    [thread_id] = transport.running_threads
    await asyncio.sleep(0.3)

    turn_id = await transport.steer(thread_id, "also mention the weather")
    result = await run

    assert turn_id and result.ok
    assert any("also mention the weather" in text for text in real_codex.server.user_texts())
    with pytest.raises(CodexUsageError, match="no turn is running"):
        await transport.steer(thread_id, "too late")


async def test_idle_servers_are_closed(real_codex: RealCodex) -> None:
    transport = AppServerTransport(
        real_codex.binary, base_env=real_codex.env, idle_shutdown_seconds=0.5
    )
    client = CodexLocalClient(transport=transport, timeout_seconds=TIMEOUT)
    try:
        assert (await client.run_async(real_codex.request("[[mock:hello]]"))).ok
        assert len(transport.server_pids) == 1
        # Closing a server takes its kill grace at most.
        await wait_until_async(
            lambda: not transport.server_pids and not codex_processes(real_codex.home),
            timeout=10,
            message=lambda: (
                f"the idle server to close: {transport.server_pids}, "
                f"{describe(codex_processes(real_codex.home))}"
            ),
        )
        assert (await client.run_async(real_codex.request("[[mock:hello]] again"))).ok
    finally:
        await client.aclose()


async def test_a_handler_that_cannot_ask_declines_with_its_reason(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    async def gone(request: ApprovalRequest) -> ApprovalDecision:
        raise ApprovalUnavailable("the person has left")

    with handling_approvals(gone):
        result = await client.run_async(_escalation(real_codex))

    assert not (real_codex.workdir / ESCALATED_MARKER).exists()
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.decision, decided.decided_by) == ("decline", "no_handler")
    assert decided.note == "the person has left"
