"""The pure app-server translation (``_app_server.protocol``) replaying REAL ``codex app-server``
sessions of both builds (``tests/data/app-server/``, re-recorded by
``tests/support/record_app_server.py``): the events are those ``codex exec --json`` prints for
the same scenario (``tests/data/codex-events/``), plus live deltas; approval requests become
``ApprovalRequest``s and decisions the replies codex accepted."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import pytest

from codex_local_sdk import (
    AgentMessageDelta,
    AgentMessageItem,
    ApprovalDecision,
    ApprovalKind,
    ApprovalRequest,
    CommandExecutionItem,
    ErrorEvent,
    ItemCompleted,
    ThreadEvent,
    ThreadStarted,
    TurnCompleted,
    TurnFailed,
    decode_event,
)
from codex_local_sdk._app_server.approval_requests import approval_reply, approval_request
from codex_local_sdk._app_server.protocol import TurnTranslator
from codex_local_sdk.testing.mock_responses import (
    ESCALATED_COMMAND,
    ESCALATION_REASON,
    HELLO_TEXT,
    SCHEMA_TEXT,
    SHELL_COMMAND,
    SHELL_DONE_TEXT,
    STREAM_TEXT,
)
from tests.support.paths import DATA

RECORDINGS = DATA / "app-server"
EXEC_EVENTS = DATA / "codex-events"
BUILDS = sorted(path.name for path in RECORDINGS.iterdir() if path.is_dir())
JsonObject = dict[str, Any]


class Approval(msgspec.Struct, kw_only=True):
    method: str
    params: JsonObject
    request: ApprovalRequest
    reply: JsonObject | None = None


class Turn(msgspec.Struct, kw_only=True):
    thread_id: str
    turn_id: str | None = None
    turn_params: JsonObject = {}
    events: list[ThreadEvent] = []
    approvals: list[Approval] = []
    translator: TurnTranslator | None = None


def replay(build: str, scenario: str, *, deltas: bool = True) -> list[Turn]:
    """Feed a recorded session to the translation, as ``AppServerTransport`` does: a
    ``ThreadStarted`` once the thread is known, then every notification of the turn."""
    lines = (RECORDINGS / build / f"{scenario}.jsonl").read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0])["codex"].endswith(build)
    sent: dict[object, JsonObject] = {}
    asked: dict[object, Approval] = {}
    turns: list[Turn] = []
    for line in lines[1:]:
        entry = json.loads(line)
        message: JsonObject = entry["message"]
        method, params = message.get("method"), message.get("params")
        if entry["from"] == "client":
            if method is not None:
                sent[message.get("id", method)] = message
            elif message.get("id") in asked:
                asked[message["id"]].reply = message.get("result")
            continue
        if method is None:  # a response to one of our requests
            request = sent.get(message.get("id"))
            result = message.get("result")
            if request is None or not isinstance(result, dict):
                continue
            if request["method"] in ("thread/start", "thread/resume"):
                translator = TurnTranslator(deltas=deltas)
                translator.thread_id = str(result["thread"]["id"])
                turn = Turn(thread_id=translator.thread_id, translator=translator)
                turn.events.append(ThreadStarted(thread_id=translator.thread_id))
                turns.append(turn)
            elif request["method"] == "turn/start":
                assert turns[-1].translator is not None
                turns[-1].turn_id = turns[-1].translator.turn_id = str(result["turn"]["id"])
                turns[-1].turn_params = request["params"]
            continue
        if not turns:
            continue
        turn = turns[-1]
        assert turn.translator is not None
        if "id" in message:  # the server asks
            approval = approval_request(str(method), params, turn.translator)
            assert approval is not None, method
            assert isinstance(params, dict)
            asked[message["id"]] = Approval(method=str(method), params=params, request=approval)
            turn.approvals.append(asked[message["id"]])
            continue
        turn.events.extend(turn.translator.translate(message))
    return turns


def exec_events(name: str) -> list[ThreadEvent]:
    path = EXEC_EVENTS / f"codex_events_{name}.jsonl"
    return [decode_event(line) for line in path.read_bytes().splitlines() if line.strip()]


def shape(events: list[ThreadEvent]) -> list[tuple[str, str | None]]:
    """Event types, with the item type for item events (what exec and warm must agree on)."""
    shapes: list[tuple[str, str | None]] = []
    for event in events:
        data = msgspec.to_builtins(event)
        item = data.get("item")
        shapes.append((data["type"], item.get("type") if isinstance(item, dict) else None))
    return shapes


def messages(events: list[ThreadEvent]) -> list[str]:
    return [
        e.item.text
        for e in events
        if isinstance(e, ItemCompleted) and isinstance(e.item, AgentMessageItem)
    ]


@pytest.fixture(params=BUILDS)
def build(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_both_builds_were_recorded() -> None:
    assert BUILDS == ["0.163.0", "0.169.0"]


@pytest.mark.parametrize("scenario", ["run", "shell", "schema", "http500"])
def test_events_are_those_codex_exec_prints(build: str, scenario: str) -> None:
    [turn] = replay(build, scenario, deltas=False)
    assert shape(turn.events) == shape(exec_events(scenario))
    started = turn.events[0]
    assert isinstance(started, ThreadStarted) and started.thread_id == turn.thread_id
    assert turn.translator is not None and turn.translator.done


def test_a_plain_turn(build: str) -> None:
    [turn] = replay(build, "run")
    assert messages(turn.events) == [HELLO_TEXT]
    completed = turn.events[-1]
    assert isinstance(completed, TurnCompleted)
    assert completed.usage.input_tokens > 0 and completed.usage.output_tokens > 0
    assert turn.translator is not None and turn.translator.completed


def test_a_shell_command(build: str) -> None:
    [turn] = replay(build, "shell")
    commands = [
        e.item
        for e in turn.events
        if isinstance(e, ItemCompleted) and isinstance(e.item, CommandExecutionItem)
    ]
    [command] = commands
    assert SHELL_COMMAND in command.command
    assert (command.exit_code, command.status) == (0, "completed")
    assert command.aggregated_output.strip().endswith("mock-shell-ok")
    assert messages(turn.events)[-1] == SHELL_DONE_TEXT


def test_streamed_deltas_arrive_before_the_message(build: str) -> None:
    [turn] = replay(build, "stream")
    deltas = [e for e in turn.events if isinstance(e, AgentMessageDelta)]
    assert len(deltas) > 3
    assert "".join(d.delta for d in deltas) == STREAM_TEXT
    [message] = [
        i
        for i, e in enumerate(turn.events)
        if isinstance(e, ItemCompleted) and isinstance(e.item, AgentMessageItem)
    ]
    assert all(turn.events.index(d) < message for d in deltas)
    assert {d.item_id for d in deltas} == {turn.events[message].item.id}  # type: ignore[union-attr]

    [quiet] = replay(build, "stream", deltas=False)  # exec mode: the message only
    assert not any(isinstance(e, AgentMessageDelta) for e in quiet.events)
    assert messages(quiet.events) == [STREAM_TEXT]


@pytest.mark.parametrize(
    ("scenario", "decision"),
    [
        ("approval_approve", ApprovalDecision.APPROVE),
        ("approval_decline", ApprovalDecision.DECLINE),
    ],
)
def test_an_escalation_asks_and_the_reply_is_understood(
    build: str, scenario: str, decision: ApprovalDecision
) -> None:
    [turn] = replay(build, scenario)
    [approval] = turn.approvals
    request = approval.request
    assert request.kind is ApprovalKind.COMMAND
    assert ESCALATED_COMMAND in (request.command or "")
    assert request.reason == ESCALATION_REASON
    assert request.cwd == "$WORKDIR"
    assert (request.thread_id, request.turn_id) == (turn.thread_id, turn.turn_id)
    assert request.leaves_sandbox
    assert ApprovalDecision.APPROVE in request.choices
    assert ApprovalDecision.DECLINE in request.choices
    # the reply recorded is the one codex accepted: the SDK still sends exactly that
    assert approval.reply == approval_reply(approval.method, approval.params, decision)

    [command] = [
        e.item
        for e in turn.events
        if isinstance(e, ItemCompleted) and isinstance(e.item, CommandExecutionItem)
    ]
    if decision is ApprovalDecision.APPROVE:
        assert (command.status, command.exit_code) == ("completed", 0)
    else:
        assert command.status == "declined" and command.exit_code is None
    assert isinstance(turn.events[-1], TurnCompleted)


def test_a_model_server_error_fails_the_turn(build: str) -> None:
    [turn] = replay(build, "http500")
    [exec_error, exec_failed] = exec_events("http500")[2:]
    errors = [e for e in turn.events if isinstance(e, ErrorEvent)]
    failed = turn.events[-1]
    assert isinstance(failed, TurnFailed) and isinstance(exec_failed, TurnFailed)
    assert isinstance(exec_error, ErrorEvent)
    assert failed.error.message == exec_failed.error.message
    assert [e.message for e in errors] == [exec_error.message]
    assert turn.translator is not None
    assert turn.translator.done and not turn.translator.completed


def test_an_output_schema_gives_json(build: str) -> None:
    [turn] = replay(build, "schema")
    assert "outputSchema" in turn.turn_params
    [text] = messages(turn.events)
    assert json.loads(text) == json.loads(SCHEMA_TEXT)


def test_a_resumed_thread_keeps_its_id_and_usage_is_cumulative(build: str) -> None:
    first, second = replay(build, "resume")
    assert first.thread_id == second.thread_id
    before, after = first.events[-1], second.events[-1]
    assert isinstance(before, TurnCompleted) and isinstance(after, TurnCompleted)
    assert after.usage.input_tokens > before.usage.input_tokens  # the whole thread's
    assert messages(second.events) == ["echo: second"]


def test_notifications_of_other_threads_are_ignored(build: str) -> None:
    [turn] = replay(build, "run")
    lines = (RECORDINGS / build / "run.jsonl").read_text(encoding="utf-8").splitlines()[1:]
    translator = TurnTranslator()
    translator.thread_id = "another-thread"
    for line in lines:
        message = json.loads(line)["message"]
        if "method" in message and "id" not in message:
            assert translator.translate(message) == []
    assert not translator.done and turn.translator is not None and turn.translator.done
