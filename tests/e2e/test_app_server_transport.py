"""``AppServerTransport`` against the REAL codex app-server (PyPI 0.163 and npm 0.169), offline
against the mock Responses API. Every test runs once per codex build."""

from __future__ import annotations

import asyncio
import os
import signal

import psutil
import pytest

from codex_local_sdk import (
    ApprovalDecided,
    AppServerTransport,
    CodexLocalClient,
    CodexThreadNotFoundError,
    CodexTimeoutError,
    CodexUsageError,
    CommandExecutionItem,
    FailureKind,
    ItemStarted,
    JsonFileSessionStore,
    RetryPolicy,
    ThreadStarted,
    TurnCompleted,
    TurnStarted,
)
from codex_local_sdk.testing.mock_responses import HELLO_TEXT, SHELL_DONE_TEXT
from codex_local_sdk.transport import TurnExit, TurnLimits, TurnSpec
from tests.support.real_codex import RealCodex
from tests.support.waiting import wait_until_async

TIMEOUT = 60.0
NO_RETRY = RetryPolicy(max_attempts=1)
UNKNOWN_THREAD = "01a213b9-b7e6-7993-96b8-7e879a898dfa"
SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["status", "count"],
    "additionalProperties": False,
}


@pytest.fixture
def client(real_codex: RealCodex, transport: AppServerTransport) -> CodexLocalClient:
    return CodexLocalClient(
        transport=transport,
        session_store=JsonFileSessionStore(real_codex.workdir.parent / "sessions.json"),
        retry_policy=NO_RETRY,
        timeout_seconds=TIMEOUT,
    )


async def test_run_yields_exec_mode_events(client: CodexLocalClient, real_codex: RealCodex) -> None:
    result = await client.run_async(real_codex.request("[[mock:hello]] hi"))

    assert result.ok
    assert result.final_message == HELLO_TEXT
    assert result.thread_id is not None
    assert result.usage is not None and result.usage.input_tokens > 0
    assert result.return_code == 0
    kinds = [type(event) for event in result.events]
    assert kinds[0] is ThreadStarted and kinds[1] is TurnStarted and kinds[-1] is TurnCompleted
    assert "app-server" in result.argv


async def test_several_turns_share_one_warm_server(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    pids = set()
    for index in range(3):
        result = await client.run_async(real_codex.request(f"[[mock:echo]] turn {index}"))
        assert result.final_message == f"echo: [[mock:echo]] turn {index}"
        pids.add(transport.server_pid)
    assert len(pids) == 1 and None not in pids


async def test_resume_by_session_name_continues_the_thread_with_cumulative_usage(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    record, first = await client.start_thread_async(
        "[[mock:hello]] one", session_name="work", cwd=str(real_codex.workdir)
    )
    await transport.aclose()  # the resume must work from codex's history, not server memory

    second = await client.resume_async("[[mock:echo]] two", session_name="work")

    assert second.thread_id == record.thread_id
    assert second.final_message == "echo: [[mock:echo]] two"
    assert first.usage is not None and second.usage is not None
    assert second.usage.input_tokens > first.usage.input_tokens  # cumulative, like exec mode
    assert second.turn_usage is not None and second.turn_usage.input_tokens > 0
    assert client.get_session("work").turns == 2


async def test_fork_starts_a_new_thread(client: CodexLocalClient, real_codex: RealCodex) -> None:
    record, _ = await client.start_thread_async(
        "[[mock:hello]] one", session_name="base", cwd=str(real_codex.workdir)
    )
    forked_record, forked = await client.fork_async(
        "[[mock:echo]] fork", session_name="base", new_session_name="forked"
    )

    assert forked.ok and forked.thread_id not in (None, record.thread_id)
    assert forked_record is not None and forked_record.forked_from == record.thread_id


async def test_shell_command_items(client: CodexLocalClient, real_codex: RealCodex) -> None:
    result = await client.run_async(real_codex.request("[[mock:shell]] go"))

    assert result.final_message == SHELL_DONE_TEXT
    [command] = result.commands
    assert isinstance(command, CommandExecutionItem)
    assert "mock-shell-ok" in command.command and "mock-shell-ok" in command.aggregated_output
    assert command.exit_code == 0 and command.status == "completed"
    started = [e.item for e in result.events if isinstance(e, ItemStarted)]
    assert [type(item) for item in started] == [CommandExecutionItem]
    assert isinstance(started[0], CommandExecutionItem) and started[0].status == "in_progress"


async def test_approval_requests_are_declined_not_left_hanging(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = await client.run_async(
        real_codex.request("[[mock:shell]] go", approval_policy="untrusted")
    )

    [command] = result.commands
    assert command.status == "declined" and command.exit_code is None
    [decided] = [e for e in result.events if isinstance(e, ApprovalDecided)]
    assert (decided.kind, decided.decision, decided.decided_by) == (
        "command",
        "decline",
        "no_handler",
    )
    assert "mock-shell-ok" in decided.subject


async def test_output_schema_gives_structured_output(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = await client.run_async(real_codex.request("[[mock:schema]]", output_schema=SCHEMA))

    assert result.structured_output == {"status": "ok", "count": 0}
    schema_requests = [r for r in real_codex.server.requests if "text" in r]
    assert schema_requests[-1]["text"]["format"]["schema"] == SCHEMA


async def test_model_server_500_is_classified_as_server_error(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = await client.run_async(real_codex.request("[[mock:500]]"), raise_on_error=False)

    assert result.failure is not None
    assert result.failure.kind is FailureKind.SERVER_ERROR
    assert result.turn_status == "failed"


async def test_unknown_thread_raises_thread_not_found(client: CodexLocalClient) -> None:
    with pytest.raises(CodexThreadNotFoundError, match="no rollout found"):
        await client.resume_async("[[mock:hello]]", thread_id=UNKNOWN_THREAD)


async def test_timeout_interrupts_the_turn_and_keeps_the_server(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    await client.run_async(real_codex.request("[[mock:hello]] warm up"))
    pid = transport.server_pid

    with pytest.raises(CodexTimeoutError):
        await client.run_async(real_codex.request("[[mock:slow]] wait"), timeout_seconds=1.0)

    after = await client.run_async(real_codex.request("[[mock:hello]] next"))
    assert after.ok
    assert transport.server_pid == pid  # interrupted, not killed: still warm


async def test_cancelled_stream_leaves_no_process_after_aclose(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    async def consume() -> None:
        async with client.stream(real_codex.request("[[mock:slow]] wait")) as events:
            async for _ in events:
                pass

    task = asyncio.create_task(consume())
    await wait_until_async(
        lambda: real_codex.server.requests, timeout=60, message="the turn to reach the model"
    )
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    follow_up = await client.run_async(real_codex.request("[[mock:hello]] after cancel"))
    assert follow_up.ok

    await transport.aclose()
    assert real_codex.processes() == []


async def test_a_dead_server_fails_the_turn_and_the_next_turn_restarts_it(
    client: CodexLocalClient, real_codex: RealCodex, transport: AppServerTransport
) -> None:
    await client.run_async(real_codex.request("[[mock:hello]] warm up"))
    pid = transport.server_pid
    assert pid is not None

    async def kill_soon() -> None:
        await wait_until_async(
            lambda: len(real_codex.server.requests) >= 2,
            timeout=60,
            message="the second turn to reach the model",
        )
        os.killpg(pid, signal.SIGKILL)

    killer = asyncio.create_task(kill_soon())
    result = await client.run_async(real_codex.request("[[mock:slow]]"), raise_on_error=False)
    await killer

    assert result.failure is not None and result.return_code == -signal.SIGKILL
    assert (await client.run_async(real_codex.request("[[mock:hello]] again"))).ok
    assert transport.server_pid not in (None, pid)


async def test_per_call_api_key_gets_its_own_server_and_stays_out_of_argv(
    real_codex: RealCodex, transport: AppServerTransport
) -> None:
    spec = TurnSpec(request=real_codex.request("[[mock:hello]]"))
    limits = TurnLimits(timeout_seconds=TIMEOUT)
    exits: list[TurnExit] = []
    pids = []
    for key in ("key-one", "key-two"):
        async for output in transport.stream_turn(spec, limits=limits, api_key=key):
            if isinstance(output, TurnExit):
                exits.append(output)
        pids.append(transport.server_pid)
        assert transport.server_pid is not None
        server_env = psutil.Process(transport.server_pid).environ()
        assert server_env.get("CODEX_API_KEY") == key

    assert pids[0] != pids[1]
    # the first key's server stays warm
    assert sorted(transport.server_pids) == sorted(pid for pid in pids if pid is not None)
    assert all(e.return_code == 0 and not any("key-" in a for a in e.argv) for e in exits)
    assert "key-" not in repr(transport)


async def test_requests_app_server_cannot_express_are_refused(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    with pytest.raises(CodexUsageError, match="JSON events only"):
        await client.run_async(real_codex.request("hi"), json_output=False)
    with pytest.raises(CodexUsageError, match="last thread"):
        await client.resume_async("hi", last=True)
    with pytest.raises(CodexUsageError, match="profile"):
        await client.run_async(real_codex.request("hi", profile="p"))


def test_closing_the_client_stops_its_app_server(real_codex: RealCodex) -> None:
    # Like httpx, a client closes the transport it was given: sync close() included.
    client = CodexLocalClient(
        transport=AppServerTransport(real_codex.binary, base_env=real_codex.env),
        retry_policy=NO_RETRY,
        timeout_seconds=TIMEOUT,
    )
    assert client.run(real_codex.request("[[mock:hello]] sync")).final_message == HELLO_TEXT
    assert real_codex.processes() != []  # warm between turns
    client.close()
    assert real_codex.processes() == []


async def test_aclose_stops_the_app_server(real_codex: RealCodex) -> None:
    client = CodexLocalClient(
        transport=AppServerTransport(real_codex.binary, base_env=real_codex.env),
        retry_policy=NO_RETRY,
        timeout_seconds=TIMEOUT,
    )
    await client.run_async(real_codex.request("[[mock:hello]] async"))
    assert real_codex.processes() != []
    await client.aclose()
    assert real_codex.processes() == []
