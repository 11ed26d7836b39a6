"""``AppServerTransport``: turns over one persistent ``codex app-server`` (JSON-RPC on stdio).

``codex exec`` pays codex's start-up on every turn; an app-server is started once (lazily, on
the first turn) and then serves every turn of the transport, which makes warm turns several
times faster. The transport yields the same typed events as :class:`ExecTransport`, so
``CodexLocalClient(transport=AppServerTransport(binary))`` keeps runs, resumes, forks,
streams, sessions and retries unchanged.

Protocol (``codex app-server``, experimental in the CLI; checked against codex 0.163 and 0.169):
``initialize`` + ``initialized`` once per server, then per turn ``thread/start`` (or
``thread/resume`` / ``thread/fork``) and ``turn/start``; the server streams ``turn/started``,
``item/started``, ``item/completed``, ``thread/tokenUsage/updated``, ``error`` and finally
``turn/completed``. Approval requests from the server are always answered: declined (this
transport approves nothing; use ``approval_policy="never"``, the default here as in
``codex exec``, and a sandbox to let codex act on its own).

Design choices:

* Turns on one transport are serialised (an ``asyncio.Lock``): one server, one turn at a time.
  Create several transports for parallel turns.
* The server's environment (base env, ``request.env``, ``codex_home``, API key) is fixed when
  it starts. A turn that needs a different one (another per-call ``api_key``, say) restarts
  the server; pass the key at construction to keep it warm.
* A total/idle timeout or a cancellation interrupts the turn (``turn/interrupt``); if the
  server does not confirm within the kill grace period, its process group is killed and the
  next turn starts a new one. So does a server that died.
* A transport belongs to the event loop that started its server. ``await aclose()`` kills it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import itertools
import json
import logging
import os
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from typing import Any, Literal, TypeVar

import msgspec

from ._process import CodexProcess
from ._version import __version__
from .cli_args import CodexInvocation, app_server_invocation, option_overrides
from .events import (
    AgentMessageItem,
    CommandExecutionItem,
    ErrorEvent,
    FileChange,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    McpToolCallItem,
    ReasoningItem,
    ThreadEvent,
    ThreadItem,
    ThreadStarted,
    TurnCompleted,
    TurnError,
    TurnFailed,
    TurnStarted,
    UnknownItem,
    Usage,
    WebSearchItem,
)
from .exceptions import CodexUsageError
from .models import CodexExecRequest
from .redaction import scrub_bytes, secret_needles
from .transport import TurnExit, TurnLimits, TurnOutput, TurnSpec

__all__ = ["AppServerTransport"]

logger = logging.getLogger("codex_local_sdk.app_server")

_T = TypeVar("_T")
JsonObject = dict[str, Any]

_CLIENT_INFO: JsonObject = {"name": "codex_local_sdk", "title": None, "version": __version__}
_CHUNK = 64 * 1024
_STDERR_TAIL_BYTES = 16 * 1024
_INTERRUPT_RETRY_SECONDS = 0.05  # "no active turn" until the server has really started it
_MIN_STOP_SECONDS = 0.5
_UNKNOWN_METHOD = re.compile(r"unknown variant `[^`]+`, expected one of `initialize`")
_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
# Approval policies the protocol takes as ``approvalPolicy``; others go through ``config``.
_PROTOCOL_APPROVALS = {"untrusted", "on-request", "never"}
_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


class _ServerGone(Exception):
    """The app-server exited (or closed stdout) while a turn needed it."""


class _TurnTimeout(Exception):
    def __init__(self, which: Literal["total", "idle"]) -> None:
        super().__init__(which)
        self.which: Literal["total", "idle"] = which


class _StartFailed(Exception):
    """The server exited during the handshake: the turn ends with its exit code."""

    def __init__(self, exit_info: TurnExit) -> None:
        super().__init__(exit_info.return_code)
        self.exit = exit_info


class _RpcError(Exception):
    def __init__(self, method: str, error: object) -> None:
        message = error.get("message") if isinstance(error, dict) else None
        self.message = str(message or error)
        super().__init__(self.message)
        self.method = method


class _ServerProcess(CodexProcess):
    """A codex child whose stdin stays open (requests are written as they come) and whose
    stderr is counted, so each turn reports only what was written during it."""

    def __init__(self, proc: asyncio.subprocess.Process, invocation: CodexInvocation) -> None:
        self._stderr_all: collections.deque[bytes] = collections.deque()
        self._stderr_kept = 0
        self.stderr_total = 0
        super().__init__(proc, invocation)

    async def _feed_stdin(self) -> None:
        return None

    async def _drain_stderr(self) -> None:
        stream = self._proc.stderr
        assert stream is not None
        while chunk := await stream.read(_CHUNK):
            self.stderr_total += len(chunk)
            self._stderr_all.append(chunk)
            self._stderr_kept += len(chunk)
            while self._stderr_kept - len(self._stderr_all[0]) >= _STDERR_TAIL_BYTES:
                self._stderr_kept -= len(self._stderr_all.popleft())

    @property
    def stderr_tail(self) -> str:
        return self.stderr_since(0)

    def stderr_since(self, mark: int) -> str:
        """What the server wrote on stderr since ``stderr_total`` was ``mark`` (bounded)."""
        data = b"".join(self._stderr_all)
        new = min(len(data), self.stderr_total - mark, _STDERR_TAIL_BYTES)
        return data[len(data) - new :].decode("utf-8", "replace") if new > 0 else ""

    async def send(self, data: bytes) -> None:
        stdin = self._proc.stdin
        assert stdin is not None
        try:
            stdin.write(data)
            await stdin.drain()
        except (BrokenPipeError, ConnectionResetError, RuntimeError) as exc:
            raise _ServerGone() from exc


class _Server:
    """One running app-server: a reader task routes responses to their callers, answers the
    server's own requests, and queues notifications for the current turn."""

    def __init__(self, process: _ServerProcess, invocation: CodexInvocation) -> None:
        self.process = process
        self.invocation = invocation
        self.last_activity = time.monotonic()
        self.notifications: asyncio.Queue[JsonObject | None] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._pending: dict[int, tuple[str, asyncio.Future[Any]]] = {}
        self._gone = False
        self._reader = asyncio.ensure_future(self._read())

    @property
    def alive(self) -> bool:
        return not self._gone and self.process.returncode is None

    async def call(self, method: str, params: JsonObject) -> Any:
        """Send a request and wait for its result (:class:`_RpcError` for an error reply)."""
        if self._gone:
            raise _ServerGone()
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

    def discard_notifications(self) -> None:
        """Forget what arrived between turns (account updates, a previous turn's stragglers)."""
        while not self.notifications.empty():
            if self.notifications.get_nowait() is None:
                self.notifications.put_nowait(None)  # keep the end-of-stream marker
                return

    async def _send(self, message: JsonObject) -> None:
        await self.process.send(_encoder.encode(message) + b"\n")

    async def _read(self) -> None:
        try:
            needles = secret_needles(self.invocation.env)  # keys are scrubbed from all it says
            async for line in self.process.lines():
                self.last_activity = time.monotonic()
                try:
                    message = _decoder.decode(scrub_bytes(line, needles))
                except (msgspec.DecodeError, RecursionError, UnicodeError):
                    logger.debug("app-server wrote a non-JSON line: %.200r", line)
                    continue
                if isinstance(message, dict):
                    await self._dispatch(message)
        except _ServerGone:
            pass
        except Exception:  # pragma: no cover - a reader bug must not hang the turn
            logger.exception("codex app-server reader failed")
        finally:
            self._gone = True
            for _, future in self._pending.values():
                if not future.done():
                    future.set_exception(_ServerGone())
            self.notifications.put_nowait(None)

    async def _dispatch(self, message: JsonObject) -> None:
        method = message.get("method")
        if method is None:
            pending = self._pending.get(message.get("id", -1))
            if pending is not None and not pending[1].done():
                name, future = pending
                if "error" in message:
                    future.set_exception(_RpcError(name, message["error"]))
                else:
                    future.set_result(message.get("result"))
        elif "id" in message:
            await self._answer(str(method), message["id"], message.get("params"))
        else:
            self.notifications.put_nowait(message)

    async def _answer(self, method: str, request_id: object, params: object) -> None:
        """Answer a server request at once: a turn must never wait on an approval."""
        reply: JsonObject = {"id": request_id}
        if method in ("item/commandExecution/requestApproval", "item/fileChange/requestApproval"):
            reply["result"] = {"decision": "decline"}
        elif method in ("execCommandApproval", "applyPatchApproval"):
            reply["result"] = {"decision": {"denied": {"rejection": "declined by the SDK"}}}
        elif method == "mcpServer/elicitation/request":
            reply["result"] = {"action": "decline", "content": None, "_meta": None}
        else:
            reply["error"] = {"code": -32601, "message": f"{method} is not supported"}
        await self._send(reply)
        if isinstance(params, dict) and method.endswith(("Approval", "/requestApproval")):
            # Shown to the caller like codex's own warnings (no command text: it may hold secrets).
            self.notifications.put_nowait(
                {
                    "method": "codex_local_sdk/declined",
                    "params": {
                        "threadId": params.get("threadId") or params.get("conversationId"),
                        "message": f"declined codex's approval request ({method}); "
                        "AppServerTransport approves nothing: use approval_policy='never'",
                    },
                }
            )

    async def close(self, grace: float) -> None:
        self._gone = True
        try:
            await self.process.close(grace)
        finally:
            if not self._reader.done():
                self._reader.cancel()
            await asyncio.gather(self._reader, return_exceptions=True)


class _Clock:
    """The turn's limits: a total deadline and the longest silence from the server."""

    def __init__(self, limits: TurnLimits) -> None:
        started = time.monotonic()
        self.started = started
        self.deadline = None if limits.timeout_seconds is None else started + limits.timeout_seconds
        self.idle = limits.idle_timeout_seconds
        self.server: _Server | None = None

    def _next_limit(self) -> tuple[float, Literal["total", "idle"]] | None:
        limits: list[tuple[float, Literal["total", "idle"]]] = []
        if self.deadline is not None:
            limits.append((self.deadline, "total"))
        if self.idle is not None:
            heard = self.started if self.server is None else self.server.last_activity
            limits.append((max(heard, self.started) + self.idle, "idle"))
        return min(limits) if limits else None

    async def wait(self, awaitable: Awaitable[_T]) -> _T:
        task = asyncio.ensure_future(awaitable)
        try:
            while True:
                limit = self._next_limit()
                if limit is None:
                    return await task
                done, _ = await asyncio.wait({task}, timeout=max(0.0, limit[0] - time.monotonic()))
                if task in done:
                    return task.result()
                limit = self._next_limit()  # activity may have moved the idle limit
                if limit is not None and limit[0] <= time.monotonic():
                    raise _TurnTimeout(limit[1])
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


class _TurnPlan(msgspec.Struct, kw_only=True, frozen=True):
    thread_method: str
    thread_params: JsonObject
    turn_params: JsonObject


class AppServerTransport:
    """Turns over one persistent ``codex app-server`` process (see the module docstring).

    Args:
        binary: the codex executable.
        base_env: environment for the server (default: this process's environment).
        api_key: sent to the server as ``CODEX_API_KEY`` (environment only). A different
            per-call ``api_key`` restarts the server.
        config_overrides: server-wide ``--config`` overrides.
    """

    def __init__(
        self,
        binary: str,
        *,
        base_env: Mapping[str, str] | None = None,
        api_key: str | None = None,
        config_overrides: Mapping[str, Any] | None = None,
    ) -> None:
        self.binary = binary
        self._base_env = base_env
        self._api_key = api_key
        self._config_overrides = dict(config_overrides or {})
        self._server: _Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock: asyncio.Lock | None = None

    def __repr__(self) -> str:
        state = "running" if self._server is not None and self._server.alive else "idle"
        return f"AppServerTransport(binary={self.binary!r}, {state})"

    @property
    def server_pid(self) -> int | None:
        """The running app-server's pid (None before the first turn or after a kill)."""
        server = self._server
        return server.process.pid if server is not None and server.alive else None

    async def aclose(self, kill_grace_seconds: float = 3.0) -> None:
        """Stop the app-server (its whole process group); the next turn starts a new one."""
        server, self._server = self._server, None
        if server is not None:
            await _finish(server.close(kill_grace_seconds))

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        plan = _plan_turn(spec)
        async with self._turn_lock():
            clock = _Clock(limits)
            try:
                server = await clock.wait(self._ensure_server(spec.request, api_key, limits))
                clock.server = server
            except _TurnTimeout as exc:
                await self.aclose(limits.kill_grace_seconds)
                yield TurnExit(return_code=None, stderr_tail="", argv=[], timed_out=exc.which)
                return
            except _StartFailed as exc:
                yield exc.exit
                return
            # aclosing: a consumer that stops early stops the turn now, not at garbage collection
            async with contextlib.aclosing(self._run_turn(server, plan, clock, limits)) as outputs:
                async for output in outputs:
                    yield output

    # ------------------------------------------------------------------ internals
    @contextlib.asynccontextmanager
    async def _turn_lock(self) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if self._server is not None and self._server.alive:
                raise CodexUsageError(
                    "this AppServerTransport's server runs on another event loop; use one "
                    "transport per loop (or await aclose() before switching loops)"
                )
            self._loop, self._lock, self._server = loop, asyncio.Lock(), None
        assert self._lock is not None
        async with self._lock:
            yield

    async def _ensure_server(
        self, request: CodexExecRequest, api_key: str | None, limits: TurnLimits
    ) -> _Server:
        invocation = app_server_invocation(
            self.binary,
            codex_home=request.codex_home,
            config_overrides=self._config_overrides,
            extra_env=request.env,
            base_env=self._base_env,
            api_key=api_key or self._api_key,
        )
        server = self._server
        if server is not None and (
            not server.alive
            or server.invocation.argv != invocation.argv
            or server.invocation.env != invocation.env
        ):
            logger.debug("restarting codex app-server (exited, or another environment)")
            self._server = None
            await _finish(server.close(limits.kill_grace_seconds))
            server = None
        if server is None:
            server = await self._start_server(invocation, limits)
            self._server = server
        return server

    async def _start_server(self, invocation: CodexInvocation, limits: TurnLimits) -> _Server:
        """Start and initialise a server; nothing of it survives a failure or cancellation."""
        process = await _ServerProcess._start(invocation)
        assert isinstance(process, _ServerProcess)
        logger.debug("started codex app-server pid=%s", process.pid)
        server = _Server(process, invocation)
        try:
            await server.call("initialize", {"clientInfo": _CLIENT_INFO, "capabilities": None})
            await server.notify("initialized")
        except _RpcError as exc:
            await _finish(server.close(limits.kill_grace_seconds))
            raise CodexUsageError(
                f"codex at {self.binary} refused the app-server handshake: {exc.message}"
            ) from None
        except _ServerGone:
            return_code = await process.wait()
            await _finish(server.close(limits.kill_grace_seconds))
            stderr = process.stderr_tail
            if return_code == 2 and "app-server" in stderr:
                raise CodexUsageError(
                    f"codex at {self.binary} has no `app-server` command; upgrade codex or use "
                    "ExecTransport"
                ) from None
            raise _StartFailed(
                TurnExit(return_code=return_code, stderr_tail=stderr, argv=invocation.redacted_argv)
            ) from None
        except BaseException:
            await _finish(server.close(limits.kill_grace_seconds))
            raise
        return server

    async def _run_turn(
        self, server: _Server, plan: _TurnPlan, clock: _Clock, limits: TurnLimits
    ) -> AsyncGenerator[TurnOutput, None]:
        mark = server.process.stderr_total
        argv = server.invocation.redacted_argv
        server.discard_notifications()
        state = _TurnState()
        finished = False
        try:
            try:
                result = await clock.wait(server.call(plan.thread_method, plan.thread_params))
                state.thread_id = str(result["thread"]["id"])
                yield ThreadStarted(thread_id=state.thread_id)
                result = await clock.wait(
                    server.call("turn/start", {**plan.turn_params, "threadId": state.thread_id})
                )
                state.turn_id = str(result["turn"]["id"])
            except _RpcError as exc:
                finished = True
                self._refuse_unsupported(exc)
                yield TurnFailed(error=TurnError(message=exc.message))
                yield TurnExit(
                    return_code=1, stderr_tail=server.process.stderr_since(mark), argv=argv
                )
                return
            while not state.done:
                message = await clock.wait(server.notifications.get())
                if message is None:
                    raise _ServerGone()
                outputs = state.translate(message)
                finished = state.done
                for output in outputs:
                    yield output
            yield TurnExit(
                return_code=0 if state.completed else 1,
                stderr_tail=server.process.stderr_since(mark),
                argv=argv,
            )
        except _TurnTimeout as exc:
            finished = True
            await _finish(self._stop_turn(server, state, limits.kill_grace_seconds))
            yield TurnExit(
                return_code=None,
                stderr_tail=server.process.stderr_since(mark),
                argv=argv,
                timed_out=exc.which,
            )
        except _ServerGone:
            finished = True
            if self._server is server:
                self._server = None
            return_code = await server.process.wait()
            await _finish(server.close(limits.kill_grace_seconds))
            yield TurnExit(
                return_code=return_code, stderr_tail=server.process.stderr_since(mark), argv=argv
            )
        finally:
            if not finished:  # cancelled, or the consumer stopped early
                await _finish(self._stop_turn(server, state, limits.kill_grace_seconds))

    def _refuse_unsupported(self, exc: _RpcError) -> None:
        if _UNKNOWN_METHOD.search(exc.message):
            raise CodexUsageError(
                f"codex at {self.binary} does not support the app-server method {exc.method!r}; "
                "upgrade codex or use ExecTransport"
            )

    async def _stop_turn(self, server: _Server, state: _TurnState, grace: float) -> None:
        """Interrupt the turn and wait for its end; kill the server when that fails."""
        deadline = time.monotonic() + max(grace, _MIN_STOP_SECONDS)
        try:
            if state.thread_id is None or state.turn_id is None or not server.alive:
                raise _ServerGone()  # nothing addressable to interrupt: start afresh
            params = {"threadId": state.thread_id, "turnId": state.turn_id}
            while not state.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise _ServerGone()
                try:
                    await asyncio.wait_for(server.call("turn/interrupt", params), remaining)
                    wait = remaining
                except _RpcError:
                    wait = _INTERRUPT_RETRY_SECONDS  # not started yet, or just ended
                await _drain_until_done(server, state, min(wait, deadline - time.monotonic()))
        except (_ServerGone, TimeoutError, asyncio.TimeoutError):
            logger.debug("codex app-server did not stop the turn in time; killing it")
            if self._server is server:
                self._server = None
            await server.close(grace)


class _TurnState:
    """Maps one turn's notifications to exec-mode events."""

    def __init__(self) -> None:
        self.thread_id: str | None = None
        self.turn_id: str | None = None
        self.usage: Usage | None = None
        self.done = False
        self.completed = False

    def translate(self, message: JsonObject) -> list[ThreadEvent]:
        method = message.get("method")
        params = message.get("params")
        if not isinstance(params, dict) or params.get("threadId") != self.thread_id:
            return []  # another thread's, or server-wide (rate limits, config warnings)
        if method == "turn/started":
            return [TurnStarted()]
        if method in ("item/started", "item/completed"):
            item = params.get("item")
            if not isinstance(item, dict):
                return []
            converted = _convert_item(item)
            if converted is None:
                return []
            if method == "item/completed":
                return [ItemCompleted(item=converted)]
            # exec mode reports messages and reasoning once, when complete
            if isinstance(converted, (AgentMessageItem, ReasoningItem)):
                return []
            return [ItemStarted(item=converted)]
        if method == "thread/tokenUsage/updated":
            self.usage = _usage(params.get("tokenUsage"))
            return []
        if method == "error":
            error = params.get("error")
            message_text = error.get("message") if isinstance(error, dict) else None
            return [ErrorEvent(message=str(message_text or error))]
        if method in ("warning", "codex_local_sdk/declined"):
            return [ErrorEvent(message=str(params.get("message", "")))]
        if method == "turn/completed":
            turn = params.get("turn")
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
        return []


async def _drain_until_done(server: _Server, state: _TurnState, timeout: float) -> None:
    """Consume notifications until the turn ends or ``timeout`` passes."""
    deadline = time.monotonic() + max(0.0, timeout)
    while not state.done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        try:
            message = await asyncio.wait_for(server.notifications.get(), remaining)
        except (TimeoutError, asyncio.TimeoutError):
            return
        if message is None:
            raise _ServerGone()
        state.translate(message)


async def _finish(cleanup: Awaitable[None]) -> None:
    """Run a cleanup to its end even if we are cancelled (again) meanwhile."""
    task = asyncio.ensure_future(cleanup)
    while not task.done():
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            if task.done():
                raise
    task.result()


def _plan_turn(spec: TurnSpec) -> _TurnPlan:
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
    if not request.prompt.strip():
        raise CodexUsageError("the prompt is empty")
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
        if spec.thread_id is not None:
            raise CodexUsageError("a new exec takes no thread id; use operation='resume'")
        if request.ephemeral:
            thread["ephemeral"] = True
    else:
        if spec.thread_id is None:
            raise CodexUsageError(f"{spec.operation} needs the thread id")
        method = "thread/resume" if spec.operation == "resume" else "thread/fork"
        thread["threadId"] = spec.thread_id
        thread["excludeTurns"] = True  # the history is not needed, and is slow to send
        if spec.operation == "fork" and request.ephemeral:
            thread["ephemeral"] = True

    inputs: list[JsonObject] = [{"type": "text", "text": request.prompt, "text_elements": []}]
    inputs += [{"type": "localImage", "path": os.path.abspath(path)} for path in request.images]
    turn: JsonObject = {"input": inputs}
    schema = _load_schema(request.output_schema)
    if schema is not None:
        turn["outputSchema"] = schema
    return _TurnPlan(thread_method=method, thread_params=thread, turn_params=turn)


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


def _snake(status: object) -> str:
    return _CAMEL.sub("_", str(status or "")).lower()


def _usage(token_usage: object) -> Usage | None:
    total = token_usage.get("total") if isinstance(token_usage, dict) else None
    if not isinstance(total, dict):
        return None

    def count(name: str) -> int:
        value = total.get(name)
        return value if isinstance(value, int) else 0

    return Usage(
        input_tokens=count("inputTokens"),
        cached_input_tokens=count("cachedInputTokens"),
        cache_write_input_tokens=count("cacheWriteInputTokens"),
        output_tokens=count("outputTokens"),
        reasoning_output_tokens=count("reasoningOutputTokens"),
    )


def _convert_item(item: JsonObject) -> ThreadItem | None:
    """An app-server item as the exec-mode item; None for items exec mode does not report."""
    kind = item.get("type")
    item_id = str(item.get("id", ""))
    try:
        if kind in ("userMessage", "hookPrompt"):
            return None
        if kind == "agentMessage":
            return AgentMessageItem(id=item_id, text=str(item.get("text") or ""))
        if kind == "reasoning":
            parts = item.get("summary") or item.get("content") or []
            return ReasoningItem(id=item_id, text="\n".join(str(part) for part in parts))
        if kind == "commandExecution":
            exit_code = item.get("exitCode")
            return CommandExecutionItem(
                id=item_id,
                command=str(item.get("command") or ""),
                aggregated_output=str(item.get("aggregatedOutput") or ""),
                exit_code=exit_code if isinstance(exit_code, int) else None,
                status=_snake(item.get("status")),
            )
        if kind == "fileChange":
            changes = [
                FileChange(path=str(change["path"]), kind=str(change["kind"]["type"]))
                for change in item.get("changes") or []
            ]
            return FileChangeItem(id=item_id, changes=changes, status=_snake(item.get("status")))
        if kind == "mcpToolCall":
            return McpToolCallItem(
                id=item_id,
                server=str(item.get("server") or ""),
                tool=str(item.get("tool") or ""),
                status=_snake(item.get("status")),
                arguments=item.get("arguments"),
                result=item.get("result"),
                error=item.get("error"),
            )
        if kind == "webSearch":
            return WebSearchItem(id=item_id, query=str(item.get("query") or ""))
    except (KeyError, TypeError, ValueError):
        pass  # an unexpected shape: keep it raw below
    return UnknownItem(id=item_id, raw=item)
