"""The ``codex app-server`` JSON-RPC protocol ↔ this SDK's typed events: pure functions, no I/O.

* :func:`plan_turn`: a :class:`TurnSpec` as the ``thread/start|resume|fork`` and ``turn/start``
  parameters (what the protocol cannot express is refused up front).
* :class:`TurnTranslator`: one turn's notifications as exec-mode events (the same events
  ``codex exec --json`` prints), plus live deltas; texts bounded like exec's. A huge line
  (:func:`peek_notification` routes it undecoded) is decoded lean: an agent message's head
  or a command output's tail is cut from the JSON before the text is ever built whole.
* Approval requests are translated in :mod:`.approval_requests`, items and usage in
  :mod:`.items`.

Checked against codex 0.163 and 0.169; ``tests/data/app-server/`` holds recordings of both.
"""

from __future__ import annotations

import json
import os
from typing import Any, cast

import msgspec

from .._decoding import Keep, bound_texts, head_of, json_text, tail_of
from .._invocation import check_turn, option_overrides
from ..events import (
    AgentMessageDelta,
    AgentMessageItem,
    CommandExecutionItem,
    CommandOutputDelta,
    ErrorEvent,
    ItemCompleted,
    ItemStarted,
    ReasoningItem,
    ThreadEvent,
    ThreadItem,
    TurnCompleted,
    TurnError,
    TurnFailed,
    TurnStarted,
    Usage,
)
from ..exceptions import CodexUsageError
from ..models import CodexExecRequest, SandboxMode
from ..transport import TurnLimits, TurnSpec
from .items import convert_item, snake_case, usage_from

__all__ = [
    "HUGE_LINE_BYTES",
    "Envelope",
    "Notification",
    "TurnPlan",
    "TurnTranslator",
    "peek_notification",
    "plan_turn",
]

JsonObject = dict[str, Any]
Notification = JsonObject | bytearray
"""A notification for a turn: decoded, or a huge line still undecoded (see
:meth:`TurnTranslator.translate`)."""

HUGE_LINE_BYTES = 64 * 1024
"""Longer lines are routed undecoded and decoded lean by the turn they belong to."""

# Approval policies the protocol takes as ``approvalPolicy``; others go through ``config``.
_PROTOCOL_APPROVALS = {"untrusted", "on-request", "never"}


class TurnPlan(msgspec.Struct, kw_only=True, frozen=True):
    thread_method: str
    thread_params: JsonObject
    turn_params: JsonObject


def plan_turn(spec: TurnSpec) -> TurnPlan:
    """The requests of one turn; what the app-server cannot express is refused up front."""
    request = spec.request
    if not spec.json_output:
        raise CodexUsageError("AppServerTransport yields JSON events only; use ExecTransport")
    if spec.last:
        raise CodexUsageError(
            "AppServerTransport cannot resume 'the last thread'; pass a thread id or session"
        )
    if request.profile:
        raise CodexUsageError(
            "AppServerTransport does not accept profile; use config_overrides instead"
        )
    check_turn(request, spec.operation, spec.thread_id, spec.last)
    cwd = request.cwd or os.getcwd()
    if not os.path.isdir(cwd):
        raise CodexUsageError(f"working directory does not exist: {cwd}")

    thread: JsonObject = {"cwd": cwd}
    if request.model:
        thread["model"] = request.model
    if request.sandbox is not None:
        thread["sandbox"] = request.sandbox.value
    config: dict[str, Any] = {}
    approval = request.approval_policy.value if request.approval_policy is not None else None
    if approval is None and "approval_policy" not in request.config_overrides:
        approval = "never"  # codex exec's behaviour: never stop to ask
    if approval in _PROTOCOL_APPROVALS:
        thread["approvalPolicy"] = approval
    elif approval is not None:
        config["approval_policy"] = approval
    if request.add_dirs:
        config["sandbox_workspace_write.writable_roots"] = list(request.add_dirs)
    config.update(request.config_overrides)
    config.update(option_overrides(request))
    if request.base_instructions is not None:
        thread["baseInstructions"] = request.base_instructions
    if request.developer_instructions is not None:
        thread["developerInstructions"] = request.developer_instructions
    if config:
        thread["config"] = msgspec.to_builtins(config, enc_hook=_json_fallback)

    if spec.operation == "exec":
        method = "thread/start"
        if request.ephemeral:
            thread["ephemeral"] = True
    else:
        assert spec.thread_id is not None  # check_turn
        method = "thread/resume" if spec.operation == "resume" else "thread/fork"
        thread["threadId"] = spec.thread_id
        thread["excludeTurns"] = True  # the history is not needed, and is slow to send
        if spec.operation == "fork" and request.ephemeral:
            thread["ephemeral"] = True

    turn: JsonObject = {"input": user_input(request.prompt, request.images), "cwd": cwd}
    # A thread stays loaded in the app-server with the settings it started with, and
    # thread/resume does not change them: the sandbox and approval policy of *this* turn are
    # restated on turn/start, so a resume under a stricter policy really runs under it.
    if request.sandbox is not None:
        turn["sandboxPolicy"] = _sandbox_policy(request)
    if "approvalPolicy" in thread:
        turn["approvalPolicy"] = thread["approvalPolicy"]
    if request.model:
        turn["model"] = request.model
    schema = _load_schema(request.output_schema)
    if schema is not None:
        turn["outputSchema"] = schema
    return TurnPlan(thread_method=method, thread_params=thread, turn_params=turn)


def _sandbox_policy(request: CodexExecRequest) -> JsonObject:
    """The turn's ``SandboxPolicy`` as ``turn/start`` takes it (a tagged object)."""
    sandbox = request.sandbox
    if sandbox is SandboxMode.READ_ONLY:
        return {"type": "readOnly"}
    if sandbox is SandboxMode.WORKSPACE_WRITE:
        return {
            "type": "workspaceWrite",
            "writableRoots": [os.path.abspath(path) for path in request.add_dirs],
            "networkAccess": bool(request.network_access),
        }
    return {"type": "dangerFullAccess"}


def user_input(text: str, images: tuple[str, ...] | list[str] = ()) -> list[JsonObject]:
    """``UserInput`` items: the text, then local images."""
    inputs: list[JsonObject] = [{"type": "text", "text": text, "text_elements": []}]
    inputs += [{"type": "localImage", "path": os.path.abspath(path)} for path in images]
    return inputs


class TurnTranslator:
    """Maps one turn's notifications to exec-mode events (plus live deltas).

    Texts are bounded as ``codex exec`` bounds them (:func:`~codex_local_sdk._decoding.
    decode_event`): an agent message keeps its first ``max_message_bytes``, a command output
    its last ``max_command_output_bytes``, a delta as much as the limit of its kind; the
    ``*_truncated_bytes`` fields tell what was dropped."""

    def __init__(
        self,
        *,
        deltas: bool = True,
        max_message_bytes: int | None = None,
        max_command_output_bytes: int | None = None,
    ) -> None:
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.usage: Usage | None = None
        self.done = False
        self.completed = False
        self._deltas = deltas
        self._max_message = max_message_bytes
        self._max_output = max_command_output_bytes
        self._items: dict[str, ThreadItem] = {}  # started, not yet completed (for approvals)

    @classmethod
    def for_limits(cls, limits: TurnLimits) -> TurnTranslator:
        return cls(
            max_message_bytes=limits.max_message_bytes,
            max_command_output_bytes=limits.max_command_output_bytes,
        )

    def item(self, item_id: str | None) -> ThreadItem | None:
        """A started item of this turn (an approval request names its item)."""
        return None if item_id is None else self._items.get(item_id)

    def translate(self, message: Notification) -> list[ThreadEvent]:
        """The events of one notification (a decoded object, or a huge line undecoded)."""
        if not isinstance(message, dict):
            return self._translate_huge(message)
        method = message.get("method")
        params = message.get("params")
        if not isinstance(params, dict) or params.get("threadId") != self.thread_id:
            return []  # another thread's, or server-wide (rate limits, config warnings)
        if method == "turn/started":
            return [TurnStarted()]
        if method in _ITEM_METHODS:
            item = params.get("item")
            converted = convert_item(item) if isinstance(item, dict) else None
            return self._item_event(str(method), converted)
        if method in _DELTA_METHODS:
            delta = params.get("delta")
            if not self._deltas or not isinstance(delta, str):
                return []
            limit, keep = self._limit(_DELTA_METHODS[method])
            cut = None if limit is None else (head_of if keep == "head" else tail_of)(delta, limit)
            kept, dropped = cut if cut is not None else (delta, 0)
            return [self._delta(str(method), params.get("itemId"), kept, dropped)]
        if method == "thread/tokenUsage/updated":
            self.usage = usage_from(params.get("tokenUsage"))
            return []
        if method == "error":
            error = params.get("error")
            message_text = error.get("message") if isinstance(error, dict) else None
            return [ErrorEvent(message=str(message_text or error))]
        if method == "warning":
            return [ErrorEvent(message=str(params.get("message", "")))]
        if method == "turn/completed":
            return self._completed(params.get("turn"))
        return []

    def _limit(self, kind: str) -> tuple[int | None, Keep]:
        if kind == "agentMessage":
            return self._max_message, "head"
        return self._max_output, "tail"

    def _translate_huge(self, line: bytearray) -> list[ThreadEvent]:
        """A huge line decoded lean: only the part of its text kept is ever built."""
        try:
            lean = _lean_decoder.decode(line)
            params = lean.params
            if params is None or params.thread_id != self.thread_id:
                return []
            method = lean.method
            if method in _ITEM_METHODS and params.item is not None:
                item = self._lean_item(params.item)
                if not isinstance(item, _Whole):
                    return self._item_event(str(method), item)
            elif method in _DELTA_METHODS:
                if not self._deltas or bytes(memoryview(params.delta)[:1]) != b'"':
                    return []  # as when decoded: no delta without a string
                limit, keep = self._limit(_DELTA_METHODS[method])
                kept, dropped = json_text(params.delta, limit, keep=keep)
                return [self._delta(method, params.item_id, kept, dropped)]
            elif method == "turn/completed" and params.turn is not None:
                turn = params.turn
                return self._completed({"id": turn.id, "status": turn.status, "error": turn.error})
            elif method not in _TRANSLATED_METHODS:
                return []  # nothing of it is used: it is not even decoded
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            pass  # an unexpected shape: decode it whole
        try:
            message = _whole_decoder.decode(line)
        except (msgspec.DecodeError, UnicodeError, RecursionError):
            return []
        return self.translate(message) if isinstance(message, dict) else []

    def _lean_item(self, item: _LeanItem) -> ThreadItem | _Whole | None:
        """An agent message or command item from its lean form, its text cut; ``_WHOLE`` for
        other item types (decoded whole)."""
        if item.type in ("userMessage", "hookPrompt"):
            return None  # not reported (a huge prompt's echo, say)
        if item.type == "agentMessage":
            text, dropped = json_text(item.text, self._max_message, keep="head")
            return AgentMessageItem(id=item.id, text=text, text_truncated_bytes=dropped)
        if item.type == "commandExecution":
            output, dropped = json_text(item.aggregated_output, self._max_output, keep="tail")
            return CommandExecutionItem(
                id=item.id,
                command=item.command or "",
                aggregated_output=output,
                exit_code=item.exit_code,
                status=snake_case(item.status),
                output_truncated_bytes=dropped,
            )
        return _WHOLE

    def _item_event(self, method: str, item: ThreadItem | None) -> list[ThreadEvent]:
        if item is None:
            return []
        event: ItemStarted | ItemCompleted
        if method == "item/completed":
            self._items.pop(item.id, None)
            event = ItemCompleted(item=item)
        else:
            event = ItemStarted(item=item)
        event = cast(
            "ItemStarted | ItemCompleted",
            bound_texts(event, self._max_output, self._max_message),
        )
        # exec mode reports messages and reasoning once, when complete
        if method == "item/completed":
            return [event]
        if isinstance(item, (AgentMessageItem, ReasoningItem)):
            return []  # nor are they named by approval requests: not kept
        self._items[item.id] = event.item
        return [event]

    @staticmethod
    def _delta(method: str, item_id: object, text: str, dropped: int) -> ThreadEvent:
        kind = AgentMessageDelta if _DELTA_METHODS[method] == "agentMessage" else CommandOutputDelta
        return kind(item_id=str(item_id or ""), delta=text, delta_truncated_bytes=dropped)

    def _completed(self, turn: object) -> list[ThreadEvent]:
        if not isinstance(turn, dict) or turn.get("id") not in (self.turn_id, None):
            return []
        self.done = True
        status = turn.get("status")
        if status == "completed":
            self.completed = True
            return [TurnCompleted(usage=self.usage or Usage())]
        error = turn.get("error")
        text = error.get("message") if isinstance(error, dict) else None
        if not text:
            text = "the turn was interrupted" if status == "interrupted" else "turn failed"
        return [TurnFailed(error=TurnError(message=str(text)))]


# --------------------------------------------------------------------------- huge lines
# A 50 MB agent message or command output would be decoded whole (and again in item/started
# and turn/completed's items) only to keep 4 MiB of it. The reader only peeks at a huge
# line (its method, id, thread); the turn decodes it into these lean shapes, where the texts
# stay undecoded (msgspec.Raw points into the line) until the part kept is cut out of them.

_ITEM_METHODS = frozenset({"item/started", "item/completed"})
_DELTA_METHODS = {
    "item/agentMessage/delta": "agentMessage",
    "item/commandExecution/outputDelta": "commandExecution",
}
_TRANSLATED_METHODS = frozenset(
    {
        "turn/started",
        "thread/tokenUsage/updated",
        "error",
        "warning",
        "turn/completed",
        *_ITEM_METHODS,
        *_DELTA_METHODS,
    }
)


def _json_null() -> msgspec.Raw:
    return msgspec.Raw(b"null")


class _Whole:
    """Marks a lean item that must be decoded whole."""


_WHOLE = _Whole()


class _LeanItem(msgspec.Struct, kw_only=True, rename="camel"):
    type: str = ""
    id: str = ""
    text: msgspec.Raw = msgspec.field(default_factory=_json_null)
    aggregated_output: msgspec.Raw = msgspec.field(default_factory=_json_null)
    command: str | None = None
    exit_code: int | None = None
    status: str | None = None


class _LeanTurn(msgspec.Struct, kw_only=True):
    id: str | None = None
    status: str | None = None
    error: Any = None


class _LeanParams(msgspec.Struct, kw_only=True, rename="camel"):
    thread_id: str | None = None
    item_id: str | None = None
    item: _LeanItem | None = None
    delta: msgspec.Raw = msgspec.field(default_factory=_json_null)
    turn: _LeanTurn | None = None


class _LeanNotification(msgspec.Struct, kw_only=True):
    method: str | None = None
    params: _LeanParams | None = None


class _ThreadRef(msgspec.Struct, kw_only=True, rename="camel"):
    thread_id: str | None = None


class Envelope(msgspec.Struct, kw_only=True):
    """What the reader needs to route a line: a request (``id`` set) or response
    (``method`` None) is decoded whole; a notification goes to its thread's turn."""

    method: str | None = None
    id: Any = msgspec.UNSET
    params: _ThreadRef | None = None

    @property
    def thread_id(self) -> str | None:
        return None if self.params is None else self.params.thread_id

    @property
    def is_notification(self) -> bool:
        return self.method is not None and self.id is msgspec.UNSET


_envelope_decoder = msgspec.json.Decoder(Envelope)
_lean_decoder = msgspec.json.Decoder(_LeanNotification)
_whole_decoder = msgspec.json.Decoder()


def peek_notification(line: bytearray) -> Envelope | None:
    """A huge line's method, id and thread, read without building its texts; None: not a
    JSON-RPC message of that shape (decode it whole)."""
    try:
        return _envelope_decoder.decode(line)
    except (msgspec.DecodeError, UnicodeError, RecursionError):
        return None


def _load_schema(schema: dict[str, Any] | str | None) -> Any:
    if not isinstance(schema, str):
        return schema
    try:
        with open(schema, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise CodexUsageError(f"cannot read output_schema file {schema}: {exc}") from None
    except ValueError as exc:
        raise CodexUsageError(f"output_schema file {schema} is not JSON: {exc}") from None


def _json_fallback(value: Any) -> Any:
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise CodexUsageError(f"cannot send {type(value).__name__} value {value!r} as config")
