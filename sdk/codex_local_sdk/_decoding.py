"""Decoding ``codex exec --json`` lines into typed events, and bounding their huge texts.

:func:`decode_event` never raises: known types decode straight into the tagged union, anything
else falls back to the ``Unknown*`` types or :class:`~codex_local_sdk.MalformedLine`. A command
output keeps its tail and an agent message its head (``max_command_output_bytes`` /
``max_message_bytes``); a huge line is cut before its text is ever built whole.
"""

from __future__ import annotations

import re
from typing import Any, Literal, cast

import msgspec

from .events import (
    AgentMessageItem,
    CommandExecutionItem,
    ItemCompleted,
    ItemStarted,
    ItemUpdated,
    KnownItem,
    MalformedLine,
    ThreadEvent,
    ThreadItem,
    TurnCompleted,
    UnknownEvent,
    UnknownItem,
    Usage,
    _KnownEvent,
    _utf8_size,
)

__all__ = [
    "Keep",
    "bound_texts",
    "cut_json_string",
    "decode_event",
    "head_of",
    "json_text",
    "tail_of",
    "truncate_agent_message",
    "truncate_command_output",
]

Keep = Literal["head", "tail"]
"""Which end of a text is kept: an agent message keeps its head, a command output its tail."""

_ITEM_EVENTS: dict[str, type[ItemStarted | ItemUpdated | ItemCompleted]] = {
    "item.started": ItemStarted,
    "item.updated": ItemUpdated,
    "item.completed": ItemCompleted,
}

_event_decoder = msgspec.json.Decoder(_KnownEvent)
_raw_decoder = msgspec.json.Decoder()
_MAX_ECHO = 500  # how much of a malformed line to keep in MalformedLine.line

Line = bytes | bytearray | memoryview | str


def decode_event(
    line: Line,
    *,
    max_command_output_bytes: int | None = None,
    max_message_bytes: int | None = None,
) -> ThreadEvent:
    """Decode one JSONL line from ``codex exec --json``. Never raises.

    The fast path decodes straight into the tagged union. Anything it rejects (a new event type,
    a new item type, a changed field) is decoded generically and mapped to the ``Unknown*``
    fallbacks, keeping the raw object. Any other input (not JSON, invalid UTF-8, lone
    surrogates, nesting too deep, truncated) becomes a :class:`MalformedLine`.

    With ``max_command_output_bytes``, a command's output keeps only its last that many bytes
    (``CommandExecutionItem.output_truncated_bytes`` tells how much was dropped); a huge
    output line is then cut before its text is ever built in full. Likewise
    ``max_message_bytes`` keeps an agent message's first that many bytes
    (``AgentMessageItem.text_truncated_bytes``).
    """
    try:
        event = _decode(line, max_command_output_bytes, max_message_bytes)
    except RecursionError:
        return _malformed(line, "JSON nested too deeply")
    except Exception as exc:  # anything codex prints must not break the run
        return _malformed(line, f"cannot decode: {type(exc).__name__}")
    return bound_texts(event, max_command_output_bytes, max_message_bytes)


def _decode(text: Line, max_output: int | None, max_message: int | None) -> ThreadEvent:
    # msgspec would raise on lone surrogates in a str; as UTF-8 they are plainly malformed.
    line = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    limits = [limit for limit in (max_output, max_message) if limit is not None]
    if limits and len(line) > 2 * min(limits) + _LEAN_SLACK:
        event = _decode_huge_item(line, max_output, max_message)
        if event is not None:
            return event
    try:
        return cast(ThreadEvent, _event_decoder.decode(line))
    except msgspec.DecodeError:
        pass
    try:
        raw = _raw_decoder.decode(line)
    except msgspec.DecodeError as exc:
        return _malformed(text, f"not JSON: {exc}")
    if not isinstance(raw, dict) or not isinstance(raw.get("type"), str):
        return _malformed(text, "not a JSON object with a string 'type'")
    usage = raw.get("usage")
    if raw["type"] == "turn.completed" and isinstance(usage, dict):
        # A counter that is null or missing must not turn a completed turn into an unknown
        # event: keep the counters that are whole numbers.
        counts = {
            k: v
            for k, v in usage.items()
            if type(v) is int and k in Usage.__struct_fields__ and 0 <= v < 2**63
        }
        return TurnCompleted(usage=Usage(**counts))
    event_cls = _ITEM_EVENTS.get(raw["type"])
    item = raw.get("item")
    if event_cls is not None and isinstance(item, dict):
        return event_cls(item=_convert_item(item))
    return UnknownEvent(raw=raw)


def truncate_command_output(event: ThreadEvent, max_bytes: int) -> ThreadEvent:
    """``event`` with its command output cut to its last ``max_bytes`` bytes (if longer)."""
    item = getattr(event, "item", None)
    if not isinstance(item, CommandExecutionItem):
        return event
    cut = tail_of(item.aggregated_output, max_bytes)
    if cut is None:
        return event
    kept, dropped = cut
    new_item = msgspec.structs.replace(
        item, aggregated_output=kept, output_truncated_bytes=item.output_truncated_bytes + dropped
    )
    return msgspec.structs.replace(event, item=new_item)


def truncate_agent_message(event: ThreadEvent, max_bytes: int) -> ThreadEvent:
    """``event`` with its agent message cut to its first ``max_bytes`` bytes (if longer)."""
    item = getattr(event, "item", None)
    if not isinstance(item, AgentMessageItem):
        return event
    cut = head_of(item.text, max_bytes)
    if cut is None:
        return event
    kept, dropped = cut
    new_item = msgspec.structs.replace(
        item, text=kept, text_truncated_bytes=item.text_truncated_bytes + dropped
    )
    return msgspec.structs.replace(event, item=new_item)


def tail_of(text: str, max_bytes: int) -> tuple[str, int] | None:
    """``text``'s last ``max_bytes`` bytes (UTF-8) and the size of the rest; None: it fits."""
    if len(text) <= max_bytes // 4:
        return None
    size = _utf8_size(text)
    if size <= max_bytes:
        return None
    # The last max_bytes characters hold at least max_bytes bytes: only they are encoded.
    tail = text[-max_bytes:].encode("utf-8", "surrogatepass") if max_bytes else b""
    cut = len(tail) - max_bytes
    while cut < len(tail) and 0x80 <= tail[cut] <= 0xBF:  # not inside a UTF-8 character
        cut += 1
    return tail[cut:].decode("utf-8", "replace"), size - (len(tail) - cut)


def head_of(text: str, max_bytes: int) -> tuple[str, int] | None:
    """``text``'s first ``max_bytes`` bytes (UTF-8) and the size of the rest; None: it fits."""
    if len(text) <= max_bytes // 4:
        return None
    size = _utf8_size(text)
    if size <= max_bytes:
        return None
    # The first max_bytes characters hold at least max_bytes bytes: only they are encoded.
    head = text[:max_bytes].encode("utf-8", "surrogatepass")
    cut = max_bytes
    while 0 < cut < len(head) and 0x80 <= head[cut] <= 0xBF:  # not inside a character
        cut -= 1
    return head[:cut].decode("utf-8", "replace"), size - cut


def bound_texts(
    event: ThreadEvent, max_command_output_bytes: int | None, max_message_bytes: int | None
) -> ThreadEvent:
    """``event`` with a command output / agent message cut to its limit (None: whole)."""
    if max_command_output_bytes is not None:
        event = truncate_command_output(event, max_command_output_bytes)
    if max_message_bytes is not None:
        event = truncate_agent_message(event, max_message_bytes)
    return event


def _convert_item(item: dict[str, Any]) -> ThreadItem:
    try:
        return cast(ThreadItem, msgspec.convert(item, KnownItem))
    except msgspec.ValidationError:
        return UnknownItem(id=str(item.get("id", "")), raw=item)


def _malformed(line: Line, error: str) -> MalformedLine:
    if isinstance(line, str):
        text = line[: _MAX_ECHO + 1].encode("utf-8", "replace").decode("utf-8")
        size = len(line)
    else:
        # Only the start is decoded: a huge line must not be copied whole to echo 500 chars.
        text = bytes(line[: 4 * (_MAX_ECHO + 1)]).decode("utf-8", "replace")
        size = len(line)
    if size > _MAX_ECHO:
        text = text[:_MAX_ECHO] + f"... ({size} {'chars' if isinstance(line, str) else 'bytes'})"
    return MalformedLine(line=text, error=error)


# --- huge command outputs and agent messages -----------------------------------------------
# A 50 MB output line would be decoded into a 50 MB string only to keep its tail (a message:
# its head). Instead the text stays undecoded (msgspec.Raw points into the line, no copy) and
# only the part kept is decoded; the size of the part dropped is counted on the JSON text.

_LEAN_SLACK = 64 * 1024
_SAFE_CUT_SEARCH = 64 * 1024
_MAX_BACKSLASH_RUN = 64
_BACKSLASH = ord("\\")
_ESCAPE = re.compile(rb"\\(?:u([0-9a-fA-F]{4})|.)", re.S)
_SIZE_SLICE = 1 << 20
_ANY_ESCAPE = re.compile(rb"\\")
# Where a JSON string body can be cut without splitting an escape or a UTF-8 character: at
# the first backslash of a run (an escape starts there; not the low half of a surrogate
# pair), or after six bytes free of backslashes (no escape spans that), before a first byte.
_SLICE_END = re.compile(rb"(?<!\\)(?=\\(?!u[dD][c-fC-F]))|(?<=[^\\]{6})(?![\x80-\xbf])", re.S)


def _empty_json_string() -> msgspec.Raw:
    return msgspec.Raw(b'""')


class _LeanItem(msgspec.Struct, kw_only=True):
    type: str
    id: str = ""
    command: str = ""
    aggregated_output: msgspec.Raw = msgspec.field(default_factory=_empty_json_string)
    exit_code: int | None = None
    status: str = ""
    text: msgspec.Raw = msgspec.field(default_factory=_empty_json_string)


class _LeanItemEvent(msgspec.Struct, kw_only=True):
    type: str
    item: _LeanItem


_lean_decoder = msgspec.json.Decoder(_LeanItemEvent)


def _decode_huge_item(
    line: bytes | bytearray | memoryview, max_output: int | None, max_message: int | None
) -> ThreadEvent | None:
    """A command item decoded from its output's tail only, or an agent message from its
    text's head only; None: not such an event (or nothing to cut), decode it whole."""
    try:
        lean = _lean_decoder.decode(line)
    except msgspec.DecodeError:
        return None
    event_cls = _ITEM_EVENTS.get(lean.type)
    if event_cls is None:
        return None
    item = lean.item
    if item.type == "command_execution" and max_output is not None:
        cut = cut_json_string(item.aggregated_output, max_output, keep="tail")
        if cut is None:
            return None
        kept, dropped = cut
        return event_cls(
            item=CommandExecutionItem(
                id=item.id,
                command=item.command,
                aggregated_output=kept,
                exit_code=item.exit_code,
                status=item.status,
                output_truncated_bytes=dropped,
            )
        )
    if item.type == "agent_message" and max_message is not None:
        cut = cut_json_string(item.text, max_message, keep="head")
        if cut is None:
            return None
        kept, dropped = cut
        return event_cls(item=AgentMessageItem(id=item.id, text=kept, text_truncated_bytes=dropped))
    return None


def json_text(raw: msgspec.Raw, max_bytes: int | None, *, keep: Keep) -> tuple[str, int]:
    """The text of a JSON string value (``null``: empty) within ``max_bytes`` bytes of UTF-8
    from its ``keep`` end, and the UTF-8 size of the part dropped. Cut before it is decoded
    when it can be (see :func:`cut_json_string`). Raises ``msgspec.DecodeError`` (or
    ``ValidationError``) for anything but a string or null."""
    if max_bytes is not None:
        cut = cut_json_string(raw, max_bytes, keep=keep)
        if cut is not None:
            return cut
    text = msgspec.json.decode(raw, type=str | None) or ""
    if max_bytes is not None:
        cut = head_of(text, max_bytes) if keep == "head" else tail_of(text, max_bytes)
        if cut is not None:
            return cut
    return text, 0


def cut_json_string(
    raw_string: msgspec.Raw, max_bytes: int, *, keep: Keep
) -> tuple[str, int] | None:
    """The text kept of a JSON string (at most ``max_bytes`` bytes of UTF-8, from its
    ``keep`` end, as much as fits: as :func:`head_of` / :func:`tail_of` keep of the decoded
    text) and the UTF-8 size of the part dropped; None when it cannot be cut."""
    raw = memoryview(raw_string)
    if len(raw) < 2 or raw[0] != ord('"') or len(raw) <= max_bytes + 2:
        return None
    body = raw[1:-1]
    # A byte of JSON stands for at most one byte of text: keeping max_bytes of JSON keeps at
    # most max_bytes of text. Escapes leave room, filled from the part dropped step by step.
    forward = 1 if keep == "tail" else -1  # the direction in which the kept part shrinks
    cut = _find_safe_cut(body, len(body) - max_bytes if keep == "tail" else max_bytes, forward)
    if cut is None:
        return None  # no safe place to cut (backslashes only): decode it whole
    size = _json_body_utf8_size(body[cut:] if keep == "tail" else body[:cut])
    while size < max_bytes:
        room = max_bytes - size
        # Room bytes of JSON more hold at most room bytes of text; if no safe cut lies
        # within them, the next safe cut may still fit (a 2-byte escape for 1 byte).
        step = _find_safe_cut(body, cut - forward * room, forward, stop=cut)
        if step is None:
            step = _find_safe_cut(body, cut - forward * (room + 1), -forward)
        if step is None or step == cut:
            break
        piece = body[step:cut] if keep == "tail" else body[cut:step]
        added = _json_body_utf8_size(piece)
        if size + added > max_bytes:
            break
        size, cut = size + added, step
    kept_body, dropped_body = (
        (body[cut:], body[:cut]) if keep == "tail" else (body[:cut], body[cut:])
    )
    try:
        kept = _decode_json_body(kept_body)
    except (msgspec.DecodeError, UnicodeError):
        return None
    dropped = _json_body_utf8_size(dropped_body)
    if _utf8_size(kept) + dropped <= max_bytes:
        return None  # escapes made the JSON long, but the text fits
    return kept, dropped


def _decode_json_body(body: memoryview) -> str:
    """The text of a JSON string body (one copy of it, quoted, is decoded)."""
    quoted = bytearray(len(body) + 2)
    quoted[0] = quoted[-1] = ord('"')
    quoted[1:-1] = body
    return msgspec.json.decode(quoted, type=str)


def _find_safe_cut(body: memoryview, at: int, step: int, stop: int | None = None) -> int | None:
    """The first safe cut from ``at`` on in direction ``step`` (+1/-1), before ``stop`` and
    within ``_SAFE_CUT_SEARCH`` bytes; both ends of the body are safe."""
    at = min(max(at, 0), len(body))
    for _ in range(_SAFE_CUT_SEARCH):
        if at == stop or at < 0 or at > len(body):
            return None
        if at in (0, len(body)) or _safe_cut(body, at):
            return at
        at += step
    return None


def _safe_cut(body: memoryview, cut: int) -> bool:
    """Whether a JSON string body can be cut before ``body[cut]``: a new UTF-8 character
    starts there, and no escape (``\\n``, ``\\uXXXX``) spans the cut."""
    if 0x80 <= body[cut] <= 0xBF:
        return False  # inside a character
    if bytes(body[cut : cut + 3]).lower() in (b"\\udc", b"\\udd", b"\\ude", b"\\udf"):
        return False  # between the two halves of a surrogate pair
    # Only the nearest backslash can start an escape spanning the cut (an escape is 2 or 6
    # bytes long, and a \uXXXX escape holds no backslash after its first byte).
    nearest = range(cut - 1, max(-1, cut - 7), -1)
    start = next((at for at in nearest if body[at] == _BACKSLASH), None)
    if start is None:
        return True
    run = 1  # backslashes ending at start: an even run is pairs of "\\\\", escapes complete
    while start - run >= 0 and body[start - run] == _BACKSLASH:
        run += 1
        if run > _MAX_BACKSLASH_RUN:
            return False
    if run % 2 == 0:
        return True
    length = 6 if start + 1 < len(body) and body[start + 1] == ord("u") else 2
    return cut >= start + length


def _utf8_size_of_escape(point: int) -> int:
    if point < 0x80:
        return 1
    if point < 0x800 or 0xD800 <= point < 0xE000:
        return 2  # each half of a surrogate pair stands for 2 of the pair's 4 bytes
    return 3


def _escaped_utf8_size(body: memoryview) -> int:
    """The UTF-8 size of a JSON string body, escape by escape (slow: for bodies msgspec
    refuses only)."""
    size = len(body)
    for match in _ESCAPE.finditer(body):
        code = match.group(1)
        if code is None:
            size -= 1  # "\n" is two bytes of JSON, one of text
        else:
            point = int(code, 16)
            size -= 6 - _utf8_size_of_escape(point)
    return size


def _json_body_utf8_size(body: memoryview) -> int:
    """The size in UTF-8 of the text a JSON string body (between its quotes) stands for.

    Decoded by msgspec a slice at a time (bounded memory, C speed: a body made of escapes
    would take seconds escape by escape); slices end where no escape or character spans."""
    size, start = 0, 0
    while start < len(body):
        end = start + _SIZE_SLICE
        if end >= len(body):
            end = len(body)
        else:
            boundary = _SLICE_END.search(body, end)
            end = boundary.start() if boundary is not None else len(body)
        piece = body[start:end]
        if _ANY_ESCAPE.search(piece) is None:
            size += len(piece)  # no escape: the JSON bytes are the text's UTF-8
            start = end
            continue
        try:
            size += _utf8_size(_decode_json_body(piece))
        except (msgspec.DecodeError, UnicodeError):  # lone surrogates, say
            size += _escaped_utf8_size(piece)
        start = end
    return size
