"""Huge texts are bounded: a command output keeps its tail, an agent message its head.

An exec line longer than twice the limit is decoded without building its whole text
(``msgspec.Raw`` and a cut at a safe place); shorter ones are decoded, then cut. Both give the
same item. Any transport's items are bounded again when a result folds them (the app-server
sends a message whole in its ``item/completed``).
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator

import pytest

from codex_local_sdk import (
    AgentMessageItem,
    CodexExecRequest,
    CodexLocalClient,
    CodexUsageError,
    CommandExecutionItem,
    ItemCompleted,
    ThreadStarted,
    TurnCompleted,
    TurnLimits,
    TurnSpec,
    decode_event,
    event_to_dict,
)
from codex_local_sdk.transport import TurnExit, TurnOutput
from tests.support.fake_codex import NO_RETRY
from tests.support.recordings import ScriptedTransport

THREAD = "0199a213-81c0-7800-8aa1-bbab2a035a53"
MIB = 1024 * 1024
ALPHABET = 'ab\\"\n\u00e9\u20ac\U0001f600\u4e2d/\x01u0f'


def message_line(text: str, *, ascii_only: bool = False) -> bytes:
    item = {"id": "item_1", "type": "agent_message", "text": text}
    return json.dumps({"type": "item.completed", "item": item}, ensure_ascii=ascii_only).encode()


def output_line(output: str, *, ascii_only: bool = False) -> bytes:
    item = {"id": "item_2", "type": "command_execution", "command": "cat", "exit_code": 0,
            "status": "completed", "aggregated_output": output}  # fmt: skip
    return json.dumps({"type": "item.completed", "item": item}, ensure_ascii=ascii_only).encode()


def utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def message_of(line: bytes, limit: int | None) -> AgentMessageItem:
    event = decode_event(line, max_message_bytes=limit)
    assert isinstance(event, ItemCompleted) and isinstance(event.item, AgentMessageItem)
    return event.item


def test_a_huge_message_keeps_its_head_and_says_what_was_dropped() -> None:
    text = "0123456789" * (3 * MIB // 10)  # hex digits only: still cut near the limit
    item = message_of(message_line(text), MIB)
    assert item.text == text[:MIB]
    assert item.text_truncated_bytes == len(text) - MIB
    assert item.text_bytes == len(text)


def test_a_message_within_the_limit_or_without_one_is_whole() -> None:
    text = "\u00e9" * 1000
    assert message_of(message_line(text), 2000).text == text
    assert message_of(message_line(text), 2000).text_truncated_bytes == 0
    big = "x" * (3 * MIB)
    assert message_of(message_line(big), None).text == big


def test_escapes_that_lengthen_the_json_do_not_cut_a_message_that_fits() -> None:
    text = "\n" * 40_000  # 80,000 bytes of JSON, 40,000 of text
    item = message_of(message_line(text), 40_000)
    assert item.text == text and item.text_truncated_bytes == 0


@pytest.mark.parametrize("ascii_only", [False, True])
def test_the_cut_is_exact_whatever_the_text_holds(ascii_only: bool) -> None:
    """Head and tail, decoded lean or whole: kept + dropped is the whole, kept fits the
    limit and is where it belongs (escapes, surrogate pairs, multi-byte characters)."""
    rng = random.Random(20261128)
    for _ in range(300):
        text = "".join(rng.choice(ALPHABET) for _ in range(rng.randrange(100, 400)))
        limit = rng.randrange(0, 80)
        whole = utf8(text)
        message = message_of(message_line(text, ascii_only=ascii_only), limit)
        kept = utf8(message.text)
        assert len(kept) <= limit and whole.startswith(kept)
        assert len(kept) + message.text_truncated_bytes == len(whole)
        event = decode_event(
            output_line(text, ascii_only=ascii_only), max_command_output_bytes=limit
        )
        assert isinstance(event, ItemCompleted) and isinstance(event.item, CommandExecutionItem)
        kept = utf8(event.item.aggregated_output)
        assert len(kept) <= limit and whole.endswith(kept)
        assert len(kept) + event.item.output_truncated_bytes == len(whole)


def test_a_message_in_backslashes_only_is_still_bounded() -> None:
    text = "\\" * (MIB // 2)  # no safe cut near the limit: it keeps less, never more
    item = message_of(message_line(text), 1000)
    assert len(item.text) <= 1000 and text.startswith(item.text)
    assert len(item.text) + item.text_truncated_bytes == len(text)


def test_the_dropped_count_appears_in_the_dict_only_when_something_was_dropped() -> None:
    cut = decode_event(message_line("y" * 5000), max_message_bytes=100)
    whole = decode_event(message_line("y" * 50), max_message_bytes=100)
    assert event_to_dict(cut)["item"]["text_truncated_bytes"] == 4900
    assert event_to_dict(whole)["item"] == {
        "id": "item_1",
        "type": "agent_message",
        "text": "y" * 50,
    }


def test_a_run_keeps_the_first_four_mebibytes_of_a_huge_answer(client: CodexLocalClient) -> None:
    size = 5 * MIB
    result = client.run(CodexExecRequest(prompt=f"[[fake:huge={size}]]"))
    assert result.ok
    assert result.final_message == ("0123456789" * (size // 10 + 1))[: 4 * MIB]
    [message] = [item for item in result.items if isinstance(item, AgentMessageItem)]
    assert message.text_truncated_bytes == MIB


def test_max_message_bytes_none_keeps_a_huge_answer_whole(
    fake_codex: str, fake_env: dict[str, str]
) -> None:
    size = 5 * MIB
    with CodexLocalClient(
        codex_bin=fake_codex, check_version=False, timeout_seconds=60, max_message_bytes=None
    ) as client:
        result = client.run(CodexExecRequest(prompt=f"[[fake:huge={size}]]"))
    assert result.final_message is not None and len(result.final_message) == size


def scripted(text: str) -> ScriptedTransport:
    """What the app-server transport yields: the message whole, as codex sent it."""
    return ScriptedTransport(
        [
            ThreadStarted(thread_id=THREAD),
            ItemCompleted(item=AgentMessageItem(id="item_1", text=text)),
            TurnCompleted(),
            TurnExit(return_code=0, stderr_tail="", argv=[]),
        ]
    )


def test_any_transports_messages_are_bounded_in_the_result() -> None:
    text = "\u20ac" * 1000  # 3,000 bytes
    client = CodexLocalClient(
        transport=scripted(text), retry_policy=NO_RETRY, max_message_bytes=100
    )
    result = asyncio.run(client.run_async(CodexExecRequest(prompt="hi")))
    assert result.final_message == "\u20ac" * 33  # 99 bytes: a character is never split
    [message] = [item for item in result.items if isinstance(item, AgentMessageItem)]
    assert message.text_truncated_bytes == 2901


def test_a_cut_answer_is_not_parsed_as_structured_output() -> None:
    answer = json.dumps({"numbers": list(range(100))})
    client = CodexLocalClient(
        transport=scripted(answer), retry_policy=NO_RETRY, max_message_bytes=50
    )
    request = CodexExecRequest(prompt="numbers", output_schema={"type": "object"})
    result = asyncio.run(client.run_async(request))
    assert result.structured_output is None
    assert any("max_message_bytes" in warning for warning in result.warnings)


@pytest.mark.parametrize("bad", [-1, 1.5, "4MiB"])
def test_a_bad_limit_is_refused(bad: object) -> None:
    with pytest.raises(CodexUsageError, match="max_message_bytes"):
        CodexLocalClient(max_message_bytes=bad)  # type: ignore[arg-type]


class LimitsSeen(ScriptedTransport):
    def __init__(self) -> None:
        super().__init__([TurnExit(return_code=0, stderr_tail="", argv=[])])
        self.limits: list[TurnLimits] = []

    def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        self.limits.append(limits)
        return super().stream_turn(spec, limits=limits, api_key=api_key)


def test_the_limit_reaches_the_transport() -> None:
    transport = LimitsSeen()
    client = CodexLocalClient(transport=transport, retry_policy=NO_RETRY, max_message_bytes=123)
    asyncio.run(client.run_async(CodexExecRequest(prompt="hi"), raise_on_error=False))
    assert [limits.max_message_bytes for limits in transport.limits] == [123]
    assert TurnLimits().max_message_bytes == 4 * MIB
