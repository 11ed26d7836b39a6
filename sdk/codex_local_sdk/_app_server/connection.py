"""One running ``codex app-server``: JSON-RPC over its stdio, notifications routed to the turn
of their thread, the server's approval requests answered, and a turn's clock.

A reader task owns the server's stdout: responses resolve their caller's future,
notifications go to the :class:`Channel` of their thread, approval requests are answered in
tasks of their own (a person may take minutes; other turns go on). The reader only peeks at
a huge notification (method and thread): the turn it belongs to decodes it under its own
limits, cutting its texts before they are built, so the reader soon serves the other turns.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Awaitable
from typing import Any, TypeVar

import msgspec

from .._invocation import CodexInvocation
from .._process import CodexProcess, Deadlines, ReadTimeout
from .._redaction import scrub_bytes, secret_needles
from ..approvals import ApprovalDecision, ApprovalRequest, ApprovalScope, ApprovalUnavailable
from ..events import ApprovalDecided
from ..transport import TurnExit, TurnLimits
from .approval_requests import approval_reply, approval_request
from .protocol import HUGE_LINE_BYTES, Notification, TurnTranslator, peek_notification

__all__ = [
    "Channel",
    "JsonObject",
    "RpcError",
    "Server",
    "ServerGone",
    "StartFailed",
    "TurnClock",
    "decide",
    "drain_until_done",
]

logger = logging.getLogger("codex_local_sdk.app_server")

_T = TypeVar("_T")
JsonObject = dict[str, Any]

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class ServerGone(Exception):
    """The app-server exited (or closed stdout) while a turn needed it."""


class StartFailed(Exception):
    """The server exited during the handshake: the turn ends with its exit code."""

    def __init__(self, exit_info: TurnExit) -> None:
        super().__init__(exit_info.return_code)
        self.exit = exit_info


class RpcError(Exception):
    def __init__(self, method: str, error: object) -> None:
        message = error.get("message") if isinstance(error, dict) else None
        self.message = str(message or error)
        super().__init__(self.message)
        self.method = method


class Channel:
    """One turn's view of a shared server: its notifications, in order, and its approvals."""

    def __init__(self, scope: ApprovalScope, limits: TurnLimits | None = None) -> None:
        self.translator = TurnTranslator.for_limits(limits or TurnLimits())
        self.scope = scope
        self.messages: asyncio.Queue[Notification | ApprovalDecided | None] = asyncio.Queue()
        self.last_heard = time.monotonic()
        self.waiting_for_person = 0
        self.approvals: set[asyncio.Task[None]] = set()

    def heard(self) -> None:
        self.last_heard = time.monotonic()


class Server:
    """One running app-server: a reader task routes responses to their callers, notifications
    and approval requests to the turn of their thread."""

    def __init__(self, process: CodexProcess, invocation: CodexInvocation) -> None:
        self.process = process
        self.invocation = invocation
        self.last_activity = time.monotonic()
        self.idle_since = time.monotonic()
        self.turns = 0  # running turns (also those still starting their thread)
        self.channels: dict[str, Channel] = {}
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._gone = False
        self._reader = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.returncode is None

    async def call(self, method: str, params: JsonObject) -> Any:
        """Send a request and wait for its result (:class:`RpcError` for an error reply)."""
        if self._gone:
            raise ServerGone()
        request_id = next(self._ids)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = (method, future)
        try:
            await self._send({"id": request_id, "method": method, "params": params})
            return await future
        finally:
            self._pending.pop(request_id, None)

    async def notify(self, method: str) -> None:
        await self._send({"method": method})

    async def _send(self, message: JsonObject) -> None:
        try:
            await self.process.send(_encoder.encode(message) + b"\n")
        except BrokenPipeError:
            raise ServerGone() from None

    async def _read(self) -> None:
        try:
            needles = secret_needles(self.invocation.env)  # keys are scrubbed from all it says
            async for line in self.process.lines():
                self.last_activity = time.monotonic()
                self._handle(scrub_bytes(line, needles))
                del line  # a huge line is not kept while the next one is read
        except ServerGone:
            pass
        except Exception:  # pragma: no cover - a reader bug must not hang the turns
            logger.exception("codex app-server reader failed")
        finally:
            self._gone = True
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(ServerGone())
            for channel in self.channels.values():
                channel.messages.put_nowait(None)

    def _handle(self, line: bytearray) -> None:
        if len(line) > HUGE_LINE_BYTES and self._route_huge(line):
            return
        try:
            message = _decoder.decode(line)
        except (msgspec.DecodeError, RecursionError, UnicodeError):
            logger.debug("app-server wrote a non-JSON line: %.200r", line)
            return
        if isinstance(message, dict):
            self._dispatch(message)

    def _route_huge(self, line: bytearray) -> bool:
        """Hand a huge notification undecoded to the turn of its thread (which cuts its
        texts to its own limits); False: not a notification, decode it whole."""
        envelope = peek_notification(line)
        if envelope is None or not envelope.is_notification:
            return False
        thread_id = envelope.thread_id
        channel = self.channels.get(thread_id) if thread_id is not None else None
        if channel is not None:  # no turn of ours: dropped unread, as when decoded
            channel.heard()
            channel.messages.put_nowait(line)
        return True

    def _dispatch(self, message: JsonObject) -> None:
        method = message.get("method")
        params = message.get("params")
        if method is None:
            pending = self._pending.get(message.get("id", -1))
            if pending is not None and not pending[1].done():
                name, future = pending
                if "error" in message:
                    future.set_exception(RpcError(name, message["error"]))
                else:
                    future.set_result(message.get("result"))
            return
        thread_id = params.get("threadId") if isinstance(params, dict) else None
        channel = self.channels.get(thread_id) if isinstance(thread_id, str) else None
        if "id" in message:
            # Answered in its own task: a person may take minutes, other turns go on.
            task = asyncio.ensure_future(self._answer(str(method), message["id"], params, channel))
            if channel is not None:
                channel.approvals.add(task)
                task.add_done_callback(channel.approvals.discard)
        elif channel is not None:
            channel.heard()
            channel.messages.put_nowait(message)

    async def _answer(
        self, method: str, request_id: object, params: object, channel: Channel | None
    ) -> None:
        request = approval_request(
            method, params, channel.translator if channel is not None else None
        )
        if request is None:
            await self._reply(
                {"id": request_id, "error": {"code": -32601, "message": f"{method} unsupported"}}
            )
            return
        scope = channel.scope if channel is not None else ApprovalScope()
        if channel is not None:
            channel.waiting_for_person += 1
        decision, decided_by, note = ApprovalDecision.DECLINE, "error", None
        try:
            decision, decided_by, note = await decide(request, scope)
        finally:
            if channel is not None:
                channel.waiting_for_person -= 1
                channel.heard()
            reply = approval_reply(method, params, decision)
            await self._reply({"id": request_id, "result": reply})
        if channel is not None:
            channel.messages.put_nowait(
                ApprovalDecided(
                    kind=request.kind.value,
                    subject=request.subject,
                    cwd=request.cwd,
                    reason=request.reason,
                    decision=decision.value,
                    decided_by=decided_by,
                    note=note,
                )
            )

    async def _reply(self, message: JsonObject) -> None:
        with contextlib.suppress(ServerGone):
            await self._send(message)

    async def close(self, grace: float) -> None:
        self._gone = True
        try:
            await self.process.close(grace)
        finally:
            if not self._reader.done():
                self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


async def decide(
    request: ApprovalRequest, scope: ApprovalScope
) -> tuple[ApprovalDecision, str, str | None]:
    """The decision, who made it, and why (for declines the person did not choose)."""
    if request.leaves_sandbox and not scope.allow_leaving_sandbox:
        return (
            ApprovalDecision.DECLINE,
            "policy",
            "approving would let codex act outside its sandbox, above this server's ceiling",
        )
    if scope.handler is None:
        reason = scope.unavailable_reason or "nobody can answer approval requests here"
        return ApprovalDecision.DECLINE, "no_handler", reason
    try:
        decision = await asyncio.wait_for(scope.handler(request), scope.timeout_seconds)
    except (TimeoutError, asyncio.TimeoutError):
        return (
            ApprovalDecision.DECLINE,
            "timeout",
            f"no answer within {scope.timeout_seconds:g}s",
        )
    except asyncio.CancelledError:
        raise
    except ApprovalUnavailable as exc:
        return ApprovalDecision.DECLINE, "no_handler", str(exc) or "nobody can answer"
    except Exception as exc:
        logger.warning("approval handler failed: %r", exc)
        return ApprovalDecision.DECLINE, "error", f"the approval handler failed: {exc}"
    decision = ApprovalDecision(decision)
    if decision not in request.choices:
        decision = (
            ApprovalDecision.APPROVE
            if decision is ApprovalDecision.APPROVE_FOR_SESSION
            else ApprovalDecision.DECLINE
        )
    return decision, "user", None


class TurnClock:
    """The turn's limits (:class:`Deadlines`, shared with the exec engine), where silence is
    measured on the turn's thread and a turn waiting for a person's answer is not silent."""

    def __init__(self, limits: TurnLimits) -> None:
        self.deadlines = Deadlines(limits.timeout_seconds, limits.idle_timeout_seconds)
        self.server: Server | None = None
        self.channel: Channel | None = None

    def _last_heard(self) -> float:
        channel, server = self.channel, self.server
        if channel is not None:
            if channel.waiting_for_person:
                return time.monotonic()
            if channel.translator.thread_id is not None:
                return channel.last_heard
        return self.deadlines.started if server is None else server.last_activity

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        """``awaitable``'s result; :class:`ReadTimeout` when a limit passes first."""
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                limit = self.deadlines.next_limit(self._last_heard())
                if limit is None:
                    return await task
                done, _ = await asyncio.wait({task}, timeout=max(0.0, limit[0] - time.monotonic()))
                if task in done:
                    return task.result()
                # activity may have moved the idle limit
                limit = self.deadlines.next_limit(self._last_heard())
                if limit is not None and limit[0] <= time.monotonic():
                    raise ReadTimeout(limit[1])
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


async def drain_until_done(channel: Channel, timeout: float) -> None:
    """Consume the turn's notifications until it ends or ``timeout`` passes."""
    state = channel.translator
    deadline = time.monotonic() + max(0.0, timeout)
    while not state.done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(channel.messages.get(), remaining)
        except (TimeoutError, asyncio.TimeoutError):
            return
        if message is None:
            raise ServerGone()
        if not isinstance(message, ApprovalDecided):
            state.translate(message)
        del message  # a huge line is not kept while the next one is read
