"""``CodexLocalClient``: runs, resumes and forks codex threads, sync or async.

Every operation is implemented once, as a coroutine. The synchronous methods hand the same
coroutine to a private event-loop thread (see ``_sync.py``), so sync and async behave the
same: retries, sessions, hooks, timeouts and cleanup included.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import random
import threading
import time
import uuid
from collections.abc import (
    AsyncGenerator,
    AsyncIterator,
    Awaitable,
    Callable,
    Coroutine,
    Iterator,
)
from types import TracebackType
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import msgspec

from ._exec_transport import ExecTransport
from ._failures import backoff_delay, is_retryable
from ._redaction import scrub_secrets
from ._sync import INTERRUPTED, LoopThread
from ._turn import TurnAccumulator
from .discovery import MINIMUM_CODEX_VERSION, CodexBinary, check_minimum, find_codex, probe_version
from .events import (
    DEFAULT_MAX_COMMAND_OUTPUT_BYTES,
    DEFAULT_MAX_MESSAGE_BYTES,
    ThreadEvent,
    Usage,
)
from .exceptions import (
    CodexExecFailedError,
    CodexThreadMismatchError,
    CodexThreadNotFoundError,
    CodexTimeoutError,
    CodexUsageError,
    SessionNotFoundError,
)
from .models import (
    CodexClientEvent,
    CodexExecRequest,
    CodexExecResult,
    Failure,
    FailureKind,
    Operation,
    RetryPolicy,
    SessionRecord,
    TurnRecord,
)
from .session_store import InMemorySessionStore, SessionLock, SessionStore, check_session_name
from .transport import (
    DEFAULT_MAX_RESULT_EVENTS,
    CodexTransport,
    StdoutText,
    TurnExit,
    TurnLimits,
    TurnSpec,
)

if TYPE_CHECKING:
    from .thread import Thread

__all__ = [
    "CodexLocalClient",
    "EventCallback",
    "EventHook",
    "EventStream",
    "SyncEventStream",
]

logger = logging.getLogger("codex_local_sdk")

EventHook = Callable[[CodexClientEvent], "Awaitable[None] | None"]
EventCallback = Callable[[ThreadEvent], "Awaitable[None] | None"]
_OnInterrupt = Callable[[CodexExecResult, str], Any]
_RECENT_TURNS = 20
_PREVIEW = 200
_LOCK_POLL_SECONDS = 0.05


class _Call(msgspec.Struct, kw_only=True, frozen=True):
    """How one operation runs: the spec plus everything that is not part of the request."""

    spec: TurnSpec
    limits: TurnLimits
    session_name: str | None = None
    previous_usage: Usage | None = None
    lock_key: str | None = None
    operation_id: str = msgspec.field(default_factory=lambda: uuid.uuid4().hex)


_P = ParamSpec("_P")
_R = TypeVar("_R")


class _WithPortal(Protocol):
    @property
    def _portal(self) -> LoopThread: ...


_S = TypeVar("_S", bound=_WithPortal)


def _blocking(
    operation: Callable[Concatenate[_S, _P], Coroutine[Any, Any, _R]],
) -> Callable[Concatenate[_S, _P], _R]:
    """The blocking twin of an async method: it runs the coroutine on the client's loop."""

    @functools.wraps(operation)
    def method(self: _S, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        return self._portal.run(operation(self, *args, **kwargs))

    name = operation.__name__.removesuffix("_async")
    method.__name__, method.__qualname__ = name, operation.__qualname__.removesuffix("_async")
    method.__doc__ = f"Blocking :meth:`{operation.__name__}` (same arguments and behaviour)."
    return method


class CodexLocalClient:
    """A client for the local Codex CLI.

    Args:
        codex_bin: path of the codex executable (default: ``$CODEX_BIN``, ``codex`` on PATH,
            then the PyPI ``openai-codex-cli-bin`` binary).
        retry_policy: how failed attempts are retried (:class:`RetryPolicy` defaults).
        session_store: where named sessions live (default: in memory).
        event_hook: called (sync or async) with a :class:`CodexClientEvent` at each lifecycle
            step of every attempt. Its exceptions are logged, never raised.
        timeout_seconds / idle_timeout_seconds: defaults for calls that pass none.
        kill_grace_seconds: time between SIGTERM and SIGKILL of codex's process group.
        env: base environment for codex (default: this process's environment).
        transport: a custom :class:`CodexTransport` (tests, or another way to reach codex).
        check_version: refuse a codex older than :data:`MINIMUM_CODEX_VERSION`.
        max_result_events: a result keeps the last this many events and completed items
            (``events_dropped`` / ``items_dropped`` count the others; ``on_event`` and
            streams see every event). None keeps all.
        max_command_output_bytes: a command's ``aggregated_output`` keeps its last this many
            bytes (``output_truncated_bytes`` tells how many were dropped). None keeps all.
        max_message_bytes: an agent message's ``text`` (and so ``final_message``) keeps its
            first this many bytes, 4 MiB by default (``text_truncated_bytes`` tells how many
            were dropped). None keeps whole messages.
    """

    def __init__(
        self,
        *,
        codex_bin: str | None = None,
        retry_policy: RetryPolicy | None = None,
        session_store: SessionStore | None = None,
        event_hook: EventHook | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        kill_grace_seconds: float = 3.0,
        env: dict[str, str] | None = None,
        transport: CodexTransport | None = None,
        check_version: bool = True,
        max_result_events: int | None = DEFAULT_MAX_RESULT_EVENTS,
        max_command_output_bytes: int | None = DEFAULT_MAX_COMMAND_OUTPUT_BYTES,
        max_message_bytes: int | None = DEFAULT_MAX_MESSAGE_BYTES,
    ) -> None:
        for name, limit in (
            ("max_result_events", max_result_events),
            ("max_command_output_bytes", max_command_output_bytes),
            ("max_message_bytes", max_message_bytes),
        ):
            if limit is not None and (not isinstance(limit, int) or limit < 0):
                raise CodexUsageError(f"{name} must be None or an integer >= 0; got {limit!r}")
        self.max_result_events = max_result_events
        self.max_command_output_bytes = max_command_output_bytes
        self.max_message_bytes = max_message_bytes
        self.retry_policy = retry_policy if retry_policy is not None else RetryPolicy()
        self.session_store: SessionStore = (
            session_store if session_store is not None else InMemorySessionStore()
        )
        self.event_hook = event_hook
        self.timeout_seconds = timeout_seconds
        self.idle_timeout_seconds = idle_timeout_seconds
        self.kill_grace_seconds = kill_grace_seconds
        self._codex_bin = codex_bin
        self._env = env
        self._transport = transport
        self._check_version = check_version
        self._binary: CodexBinary | None = None
        self._version_text: str | None = None
        self._setup_lock = threading.Lock()
        self._portal = LoopThread()
        self._active: set[asyncio.Task[Any]] = set()
        self._rng = random.Random()

    def __repr__(self) -> str:
        where = self._binary.path if self._binary else (self._codex_bin or "auto")
        return f"CodexLocalClient(codex={where!r}, store={self.session_store!r})"

    # ------------------------------------------------------------------ discovery
    @property
    def binary(self) -> CodexBinary:
        """The codex executable this client runs (found on first use)."""
        with self._setup_lock:
            if self._binary is None:
                self._binary = find_codex(self._codex_bin)
            return self._binary

    def version(self) -> str:
        """``codex --version`` of the executable this client runs, e.g. ``codex-cli 0.169.0``."""
        binary = self.binary
        with self._setup_lock:
            if self._version_text is None:
                self._version_text = probe_version(binary.path)
            return self._version_text

    async def version_async(self) -> str:
        return await asyncio.to_thread(self.version)

    def _get_transport(self) -> CodexTransport:
        if self._transport is None:
            binary = self.binary
            if self._check_version:
                check_minimum(self.version(), binary.path, MINIMUM_CODEX_VERSION)
            self._transport = ExecTransport(binary.path, base_env=self._env)
        return self._transport

    # ------------------------------------------------------------------ async API
    async def run_async(
        self,
        /,
        request: CodexExecRequest,
        *,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        json_output: bool = True,
        on_event: EventCallback | None = None,
    ) -> CodexExecResult:
        """Run a new codex thread (``codex exec``) and return its result.

        ``on_event`` (sync or async) sees every typed event of every attempt as it arrives.
        """
        call = self._call(
            TurnSpec(request=request, json_output=json_output),
            timeout_seconds,
            idle_timeout_seconds,
        )
        return await self._execute(
            call, api_key=api_key, raise_on_error=raise_on_error, on_event=on_event
        )

    async def start_thread_async(
        self,
        /,
        prompt: str | None = None,
        *,
        session_name: str,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        on_event: EventCallback | None = None,
        **request_fields: Any,
    ) -> tuple[SessionRecord, CodexExecResult]:
        """Start a new thread and remember it under ``session_name``.

        An existing session of that name is pointed at the new thread (its previous thread
        stays in codex's history). The session is recorded whenever codex reported a thread
        id, even when the turn then failed, so it can be resumed.
        """
        check_session_name(session_name)
        built = _make_request(prompt, request, request_fields)
        call = self._call(
            TurnSpec(request=built),
            timeout_seconds,
            idle_timeout_seconds,
            session_name=session_name,
        )
        result = await self._execute(
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=lambda partial, status: self._record_new_session(
                session_name, built, partial, status=status
            ),
        )
        record = self._record_new_session(session_name, built, result)
        if record is None:
            if raise_on_error:
                raise (
                    _error_for(result)
                    if result.failure
                    else CodexExecFailedError(
                        "codex reported no thread id; cannot record the session", result
                    )
                )
            return SessionRecord(name=session_name, thread_id=""), result
        if raise_on_error and result.failure is not None:
            raise _error_for(result)
        return record, result

    async def resume_async(
        self,
        /,
        prompt: str | None = None,
        *,
        session_name: str | None = None,
        thread_id: str | None = None,
        last: bool = False,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        json_output: bool = True,
        on_event: EventCallback | None = None,
        **request_fields: Any,
    ) -> CodexExecResult:
        """Continue a thread, named by ``session_name``, ``thread_id``, or ``last=True``
        (codex's most recent thread); exactly one of them.

        Turns on one thread are serialised. The thread id codex reports is checked against
        the one asked for (:class:`CodexThreadMismatchError` otherwise).
        """
        built = _make_request(prompt, request, request_fields)
        call = self._resume_call(
            "resume",
            built,
            session_name,
            thread_id,
            last,
            json_output,
            timeout_seconds,
            idle_timeout_seconds,
        )
        result = await self._execute(
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=lambda partial, status: self._record_turn(call, partial, status=status),
        )
        self._record_turn(call, result)
        if raise_on_error and result.failure is not None:
            raise _error_for(result)
        return result

    async def fork_async(
        self,
        /,
        prompt: str | None = None,
        *,
        session_name: str | None = None,
        thread_id: str | None = None,
        new_session_name: str | None = None,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        on_event: EventCallback | None = None,
        **request_fields: Any,
    ) -> tuple[SessionRecord | None, CodexExecResult]:
        """Fork a thread (``codex exec fork``) into a new thread and run ``prompt`` on it.

        With ``new_session_name`` the new thread is recorded as a session.
        """
        if new_session_name is not None:
            check_session_name(new_session_name)
        built = _make_request(prompt, request, request_fields)
        call = self._resume_call(
            "fork",
            built,
            session_name,
            thread_id,
            False,
            True,
            timeout_seconds,
            idle_timeout_seconds,
        )

        def record_fork(
            partial: CodexExecResult, status: str | None = None
        ) -> SessionRecord | None:
            if new_session_name is None:
                return None
            return self._record_new_session(
                new_session_name,
                call.spec.request,
                partial,
                forked_from=call.spec.thread_id,
                status=status,
            )

        result = await self._execute(
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=record_fork,
        )
        record = record_fork(result)
        if raise_on_error and result.failure is not None:
            raise _error_for(result)
        return record, result

    def stream(
        self,
        request: CodexExecRequest,
        *,
        session_name: str | None = None,
        thread_id: str | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
    ) -> EventStream:
        """Stream the typed events of one attempt as they arrive.

        A new thread by default; with ``session_name`` or ``thread_id`` a resume. Use as
        ``async with client.stream(req) as events: async for event in events: ...``;
        ``events.result`` holds the :class:`CodexExecResult` once the stream ends. Streams
        are not retried (events already delivered cannot be taken back).
        """
        if session_name is not None or thread_id is not None:
            call = self._resume_call(
                "resume",
                request,
                session_name,
                thread_id,
                False,
                True,
                timeout_seconds,
                idle_timeout_seconds,
            )
        else:
            call = self._call(TurnSpec(request=request), timeout_seconds, idle_timeout_seconds)
        return EventStream(self, call, api_key)

    # ------------------------------------------------------------------ sync API
    # The same coroutines, run to completion on the client's loop thread: same signatures,
    # no second implementation. Callbacks (hook, on_event) run on that thread.
    run = _blocking(run_async)
    start_thread = _blocking(start_thread_async)
    resume = _blocking(resume_async)
    fork = _blocking(fork_async)

    def iter_events(self, request: CodexExecRequest, **kwargs: Any) -> SyncEventStream:
        """Blocking :meth:`stream`: ``with client.iter_events(req) as events: for e in events``."""
        return SyncEventStream(self.stream(request, **kwargs), self._portal)

    # ------------------------------------------------------------------ threads
    def thread(
        self, session_name: str | None = None, *, thread_id: str | None = None, **defaults: Any
    ) -> Thread:
        """A :class:`Thread` object: by session name (an existing session, or a new one its
        first turn starts), by ``thread_id``, or (neither) a new unnamed thread.

        ``defaults`` are request fields (``model``, ``sandbox``, ``cwd``, ...) for its turns.
        """
        from .thread import Thread

        if session_name is not None:
            check_session_name(session_name)
        if thread_id is not None:
            _check_thread_id(thread_id)
        return Thread(self, session_name=session_name, thread_id=thread_id, defaults=defaults)

    # ------------------------------------------------------------------ sessions
    def list_sessions(self) -> list[SessionRecord]:
        """Sessions, most recently used first."""
        return self.session_store.list()

    def get_session(self, name: str) -> SessionRecord:
        record = self.session_store.get(name)
        if record is None:
            raise SessionNotFoundError(name)
        return record

    def rename_session(self, old: str, new: str) -> SessionRecord:
        check_session_name(new)
        return self.session_store.rename(old, new)

    def delete_session(self, name: str) -> None:
        """Forget a session (codex keeps the thread's history on disk)."""
        if not self.session_store.delete(name):
            raise SessionNotFoundError(name)

    # ------------------------------------------------------------------ lifecycle
    async def aclose(self) -> None:
        """Cancel this client's running operations (killing their codex processes) and close
        its transport (a persistent app-server is stopped)."""
        tasks = [task for task in self._active if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._close_transport()

    def close(self) -> None:
        """Stop the sync API's loop thread, killing any codex it still runs, and close the
        transport it used."""
        self._portal.close(last=self._close_transport)

    async def _close_transport(self) -> None:
        closer = getattr(self._transport, "aclose", None)
        if closer is None:
            return
        try:
            await closer()
        except Exception:  # closing must not fail the caller; the process group is gone
            logger.warning("closing the codex transport failed", exc_info=True)

    def __enter__(self) -> CodexLocalClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> CodexLocalClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ------------------------------------------------------------------ internals
    def _call(
        self,
        spec: TurnSpec,
        timeout_seconds: float | None,
        idle_timeout_seconds: float | None,
        **extra: Any,
    ) -> _Call:
        limits = TurnLimits(
            timeout_seconds=timeout_seconds
            if timeout_seconds is not None
            else self.timeout_seconds,
            idle_timeout_seconds=idle_timeout_seconds
            if idle_timeout_seconds is not None
            else self.idle_timeout_seconds,
            kill_grace_seconds=self.kill_grace_seconds,
            max_command_output_bytes=self.max_command_output_bytes,
            max_message_bytes=self.max_message_bytes,
            max_result_events=self.max_result_events,
        )
        return _Call(spec=spec, limits=limits, **extra)

    def _resume_call(
        self,
        operation: Operation,
        request: CodexExecRequest,
        session_name: str | None,
        thread_id: str | None,
        last: bool,
        json_output: bool,
        timeout_seconds: float | None,
        idle_timeout_seconds: float | None,
    ) -> _Call:
        named = sum(x is not None and x is not False for x in (session_name, thread_id, last))
        if named != 1:
            raise CodexUsageError(
                f"{operation} needs exactly one of session_name, thread_id or last=True "
                f"(got {named}); the newest thread is never picked silently"
            )
        previous_usage = None
        if session_name is not None:
            record = self.get_session(session_name)
            thread_id = record.thread_id
            previous_usage = record.last_usage
            if request.cwd is None and record.cwd is not None:
                request = msgspec.structs.replace(request, cwd=record.cwd)
        elif thread_id is not None:
            _check_thread_id(thread_id)
            record_for_thread = self._session_for_thread(thread_id)
            if record_for_thread is not None:
                session_name = record_for_thread.name
                previous_usage = record_for_thread.last_usage
                if request.cwd is None and record_for_thread.cwd is not None:
                    request = msgspec.structs.replace(request, cwd=record_for_thread.cwd)
        spec = TurnSpec(
            request=request,
            operation=operation,
            thread_id=thread_id,
            last=last,
            json_output=json_output,
        )
        return self._call(
            spec,
            timeout_seconds,
            idle_timeout_seconds,
            session_name=session_name,
            previous_usage=previous_usage,
            lock_key=thread_id if operation == "resume" else None,
        )

    def _session_for_thread(self, thread_id: str) -> SessionRecord | None:
        return next((r for r in self.session_store.list() if r.thread_id == thread_id), None)

    async def _execute(
        self,
        call: _Call,
        *,
        api_key: str | None,
        raise_on_error: bool,
        on_event: EventCallback | None = None,
        on_interrupt: _OnInterrupt | None = None,
    ) -> CodexExecResult:
        """One operation with retries, hooks and the per-thread lock.

        ``on_interrupt(partial_result, status)`` runs when the operation is cancelled or
        interrupted after codex reported its thread, so that the thread is recorded.
        """
        started = time.monotonic()
        attempts: list[_Attempt] = []  # the current attempt, to record an interrupted one
        # Tracked for aclose() throughout: waiting for the thread, attempts and backoffs.
        async with self._tracking():
            try:
                return await self._execute_tracked(
                    call,
                    api_key=api_key,
                    raise_on_error=raise_on_error,
                    on_event=on_event,
                    attempts=attempts,
                )
            except BaseException as exc:
                if on_interrupt is not None and attempts and attempts[-1].result.thread_id:
                    _record_interrupted(on_interrupt, attempts[-1].result, exc)
                if not isinstance(exc, CodexExecFailedError):  # that one was reported already
                    # The hook sees every operation end, however it ends.
                    cancelled = isinstance(exc, asyncio.CancelledError)
                    await self._emit(
                        "operation_finished",
                        call,
                        failure_kind=FailureKind.CANCELLED if cancelled else None,
                        message="cancelled" if cancelled else _describe(exc),
                        duration_seconds=time.monotonic() - started,
                    )
                raise

    async def _execute_tracked(
        self,
        call: _Call,
        *,
        api_key: str | None,
        raise_on_error: bool,
        on_event: EventCallback | None,
        attempts: list[_Attempt],
    ) -> CodexExecResult:
        policy = self.retry_policy
        operation = call.spec.operation
        started = time.monotonic()
        await self._emit("operation_started", call, attempt=0)
        attempt = 0
        earlier: list[str] = []  # threads that failed attempts leave behind, told in the result
        async with self._thread_lock(call.lock_key):
            while True:
                attempt += 1
                attempt_stream = _Attempt(self, call, api_key, attempt)
                attempts[:] = [attempt_stream]
                # aclosing: if we are cancelled inside on_event, codex still stops right away
                async with contextlib.aclosing(aiter(attempt_stream)) as events:
                    async for event in events:
                        if on_event is not None:
                            await _call_back(on_event, event)
                result = attempt_stream.result
                result.warnings[:0] = earlier
                if result.failure is None:
                    break
                elapsed = time.monotonic() - started
                if attempt >= policy.max_attempts or not is_retryable(policy, result):
                    break
                delay = backoff_delay(policy, attempt, self._rng)
                budget = policy.max_total_retry_seconds
                if budget is not None and elapsed + delay > budget:
                    result.warnings.append(
                        f"not retrying: the retry budget of {budget:g}s would be exceeded"
                    )
                    break
                if result.thread_id is not None and result.thread_id != call.spec.thread_id:
                    earlier.append(
                        f"attempt {attempt} failed on thread {result.thread_id} "
                        f"({result.failure.kind.value}); retried on a new thread"
                    )
                await self._emit(
                    "retry_scheduled",
                    call,
                    attempt=attempt,
                    delay_seconds=delay,
                    failure_kind=result.failure.kind,
                    message=result.failure.message,
                )
                await asyncio.sleep(delay)
        result.attempts = attempt
        result.duration_seconds = time.monotonic() - started
        await self._emit(
            "operation_finished",
            call,
            attempt=attempt,
            return_code=result.return_code,
            thread_id=result.thread_id,
            failure_kind=result.failure.kind if result.failure else None,
            message=result.failure.message if result.failure else None,
            duration_seconds=result.duration_seconds,
            usage=result.usage,
            turn_usage=result.turn_usage,
        )
        if raise_on_error and result.failure is not None:
            raise _error_for(result)
        logger.debug("codex %s finished: %s", operation, result.turn_status)
        return result

    @contextlib.asynccontextmanager
    async def _tracking(self) -> AsyncIterator[None]:
        """Inside the block, :meth:`aclose` cancels the current task."""
        task = asyncio.current_task()
        if task is None or task in self._active:  # an outer block tracks it already
            yield
            return
        self._active.add(task)
        try:
            yield
        finally:
            self._active.discard(task)

    def _thread_lock(self, key: str | None) -> _PolledLock:
        return _PolledLock(None if key is None else self.session_store.thread_lock(key))

    async def _emit(self, event_type: str, call: _Call, **fields: Any) -> None:
        hook = self.event_hook
        if hook is None:
            return
        if fields.get("message"):
            fields["message"] = scrub_secrets(fields["message"])
        event = CodexClientEvent(
            type=event_type,
            operation=call.spec.operation,
            operation_id=call.operation_id,
            session_name=call.session_name,
            model=call.spec.request.model,
            **fields,
        )
        await _call_back(hook, event)

    def _record_new_session(
        self,
        name: str,
        request: CodexExecRequest,
        result: CodexExecResult,
        *,
        forked_from: str | None = None,
        status: str | None = None,
    ) -> SessionRecord | None:
        thread_id = result.thread_id
        if thread_id is None:
            return None
        now = time.time()
        result.session_name = name

        def change(old: SessionRecord | None) -> SessionRecord:
            if old is not None and old.thread_id != thread_id:
                logger.info(
                    "session %r now points at thread %s (was %s)", name, thread_id, old.thread_id
                )
            record = SessionRecord(
                name=name,
                thread_id=thread_id,
                created_at=now,
                updated_at=now,
                cwd=request.cwd,
                model=request.model,
                forked_from=forked_from,
            )
            _append_turn(record, "fork" if forked_from else "exec", request, result, status)
            return record

        return self.session_store.update(name, change)

    def _record_turn(
        self, call: _Call, result: CodexExecResult, *, status: str | None = None
    ) -> None:
        name = call.session_name
        if name is None or result.thread_id != call.spec.thread_id or result.thread_id is None:
            return
        result.session_name = name

        def change(old: SessionRecord | None) -> SessionRecord | None:
            if old is None:
                return None  # deleted meanwhile: do not resurrect it
            _append_turn(old, call.spec.operation, call.spec.request, result, status)
            return old

        self.session_store.update(name, change)


class _Attempt:
    """One attempt: an async iterator over events that folds them into a result."""

    def __init__(
        self, client: CodexLocalClient, call: _Call, api_key: str | None, attempt: int
    ) -> None:
        self._client = client
        self._call = call
        self._api_key = api_key
        self._attempt = attempt
        spec = call.spec
        self._accumulator = TurnAccumulator(
            spec.operation,
            json_output=spec.json_output,
            expected_thread_id=spec.thread_id if spec.operation == "resume" else None,
            previous_usage=call.previous_usage,
            wants_structured_output=spec.request.output_schema is not None,
            session_name=call.session_name,
            max_events=call.limits.max_result_events,
            max_command_output_bytes=call.limits.max_command_output_bytes,
            max_message_bytes=call.limits.max_message_bytes,
        )
        self._iterator: AsyncGenerator[ThreadEvent, None] | None = None

    @property
    def result(self) -> CodexExecResult:
        return self._accumulator.result

    def _scrub(self) -> None:
        """Whatever transport ran the turn, the keys codex had stay out of the texts."""
        result, key = self.result, [self._api_key]
        result.stderr_tail = scrub_secrets(result.stderr_tail, key)
        result.warnings = [scrub_secrets(text, key) for text in result.warnings]
        if result.failure is not None:
            message = scrub_secrets(result.failure.message, key)
            result.failure = Failure(kind=result.failure.kind, message=message)

    def __aiter__(self) -> AsyncGenerator[ThreadEvent, None]:
        if self._iterator is None:
            self._iterator = self._run()
        return self._iterator

    async def _run(self) -> AsyncGenerator[ThreadEvent, None]:
        client, call, accumulator = self._client, self._call, self._accumulator
        await client._emit("attempt_started", call, attempt=self._attempt)
        try:
            # Finding codex and probing its version block, but happen once per client.
            transport = client._transport
            if transport is None:
                transport = await asyncio.to_thread(client._get_transport)
            outputs = transport.stream_turn(call.spec, limits=call.limits, api_key=self._api_key)
            try:
                async for output in outputs:
                    accumulator.feed(output)
                    if isinstance(output, (StdoutText, TurnExit)):
                        continue
                    if output.type == "thread.started":
                        await client._emit(
                            "thread_started",
                            call,
                            attempt=self._attempt,
                            thread_id=accumulator.result.thread_id,
                        )
                    yield output
            finally:
                # A consumer that stops early closes us: stop codex now, not whenever the
                # garbage collector gets to the transport's generator.
                close_outputs = getattr(outputs, "aclose", None)
                if close_outputs is not None:
                    await close_outputs()
        except (asyncio.CancelledError, GeneratorExit) as exc:
            stopped = "cancelled" if isinstance(exc, asyncio.CancelledError) else "stopped early"
            accumulator.result.failure = Failure(
                kind=FailureKind.CANCELLED, message=f"{stopped}; the turn was stopped"
            )
            self._scrub()
            await client._emit(
                "attempt_failed",
                call,
                attempt=self._attempt,
                failure_kind=FailureKind.CANCELLED,
                message=stopped,
            )
            raise
        except Exception as exc:  # codex could not be started: not installed, bad cwd, ...
            await client._emit(
                "attempt_failed", call, attempt=self._attempt, message=_describe(exc)
            )
            raise
        result = accumulator.finish()
        self._scrub()
        if result.failure is None:
            await client._emit(
                "attempt_succeeded",
                call,
                attempt=self._attempt,
                return_code=result.return_code,
                thread_id=result.thread_id,
                usage=result.usage,
                turn_usage=result.turn_usage,
            )
        else:
            await client._emit(
                "attempt_failed",
                call,
                attempt=self._attempt,
                return_code=result.return_code,
                thread_id=result.thread_id,
                failure_kind=result.failure.kind,
                message=result.failure.message,
            )


class EventStream:
    """The typed events of one attempt: an async iterator and an async context manager."""

    def __init__(self, client: CodexLocalClient, call: _Call, api_key: str | None) -> None:
        self._client = client
        self._call = call
        self._attempt = _Attempt(client, call, api_key, attempt=1)
        self._iterator: AsyncGenerator[ThreadEvent, None] | None = None
        self._done = False

    @property
    def result(self) -> CodexExecResult:
        """The result so far; complete once iteration has ended."""
        return self._attempt.result

    def __aiter__(self) -> EventStream:
        return self

    async def __anext__(self) -> ThreadEvent:
        if self._iterator is None:
            self._iterator = self._events()
        return await self._iterator.__anext__()

    async def _events(self) -> AsyncGenerator[ThreadEvent, None]:
        client, call = self._client, self._call
        started = time.monotonic()
        await client._emit("operation_started", call, attempt=0)
        try:
            async with (
                client._tracking(),
                client._thread_lock(call.lock_key),
                contextlib.aclosing(aiter(self._attempt)) as events,
            ):
                async for event in events:
                    yield event
            client._record_turn(call, self.result)
            self._done = True
        except BaseException as exc:
            if self.result.thread_id is not None:
                _record_interrupted(
                    lambda partial, status: client._record_turn(call, partial, status=status),
                    self.result,
                    exc,
                )
            raise
        finally:
            # Streams end like other operations for the hook, early stops included.
            result = self.result
            result.duration_seconds = time.monotonic() - started
            await client._emit(
                "operation_finished",
                call,
                attempt=1,
                return_code=result.return_code,
                thread_id=result.thread_id,
                failure_kind=result.failure.kind if result.failure else None,
                message=result.failure.message if result.failure else None,
                duration_seconds=result.duration_seconds,
                usage=result.usage,
                turn_usage=result.turn_usage,
            )

    async def aclose(self) -> None:
        """Stop early: the codex process group is killed."""
        iterator = self._iterator
        if iterator is not None:
            await iterator.aclose()

    async def __aenter__(self) -> EventStream:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


class SyncEventStream:
    """Blocking view of an :class:`EventStream`."""

    def __init__(self, stream: EventStream, portal: LoopThread) -> None:
        self._stream = stream
        self._portal = portal
        self._iterator: Iterator[ThreadEvent] | None = None

    @property
    def result(self) -> CodexExecResult:
        return self._stream.result

    def __iter__(self) -> Iterator[ThreadEvent]:
        if self._iterator is None:
            self._iterator = self._portal.iterate(self._stream)
        return self._iterator

    def close(self) -> None:
        if self._iterator is not None:
            close = getattr(self._iterator, "close", None)
            if close is not None:
                close()
        self._portal.run(self._stream.aclose())

    def __enter__(self) -> SyncEventStream:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _PolledLock:
    """Holds a :class:`SessionLock` across an ``async with``; waiting stays cancellable."""

    def __init__(self, lock: SessionLock | None) -> None:
        self._lock = lock

    async def __aenter__(self) -> None:
        if self._lock is None:
            return
        while not self._lock.try_acquire():
            await asyncio.sleep(_LOCK_POLL_SECONDS)

    async def __aexit__(self, *exc: object) -> None:
        if self._lock is not None:
            self._lock.release()


async def _call_back(callback: Callable[[Any], Any], value: Any) -> None:
    """Call a sync or async callback; its failures are logged, never raised into the run."""
    try:
        outcome = callback(value)
        if inspect.isawaitable(outcome):
            await outcome
    except Exception:
        logger.exception("codex_local_sdk callback %r failed", callback)


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _make_request(
    prompt: str | None, request: CodexExecRequest | None, fields: dict[str, Any]
) -> CodexExecRequest:
    if request is None:
        if prompt is None:
            raise CodexUsageError("a prompt is required")
        return CodexExecRequest(prompt=prompt, **fields)
    if fields:
        request = msgspec.structs.replace(request, **fields)
    return request if prompt is None else request.with_prompt(prompt)


def _check_thread_id(thread_id: str) -> None:
    try:
        uuid.UUID(thread_id)
    except (ValueError, AttributeError, TypeError):
        raise CodexUsageError(
            f"{thread_id!r} is not a codex thread id (a UUID); use session_name for names"
        ) from None


def _append_turn(
    record: SessionRecord,
    operation: Operation,
    request: CodexExecRequest,
    result: CodexExecResult,
    status: str | None = None,
) -> None:
    record.turns += 1
    record.updated_at = time.time()
    record.last_status = status or _status_of(result)
    if result.usage is not None:
        record.last_usage = result.usage
    if request.model:
        record.model = request.model
    final = result.final_message
    record.recent_turns.append(
        TurnRecord(
            at=record.updated_at,
            operation=operation,
            prompt_preview=_preview(request.prompt),
            status=record.last_status or "unknown",
            final_message_preview=_preview(final) if final else None,
            usage=result.turn_usage,
        )
    )
    del record.recent_turns[:-_RECENT_TURNS]


def _preview(text: str) -> str:
    # Scrubbed before it is cut, so that no part of a key is left at the end.
    return scrub_secrets(text[: 4 * _PREVIEW])[:_PREVIEW]


def _status_of(result: CodexExecResult) -> str | None:
    """What a session records of a turn: completed, failed, timeout, cancelled..."""
    failure = result.failure
    if failure is not None and failure.kind in (FailureKind.TIMEOUT, FailureKind.CANCELLED):
        return str(failure.kind.value)
    return result.turn_status or (str(failure.kind.value) if failure else None)


def _record_interrupted(record: _OnInterrupt, partial: CodexExecResult, exc: BaseException) -> None:
    """Record a thread whose operation ended by an exception (Ctrl-C, cancellation...)."""
    if isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, asyncio.CancelledError) and INTERRUPTED in exc.args
    ):
        status = "interrupted"
    elif isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        status = "cancelled"
    else:
        status = "error"
    if partial.failure is None:
        partial.failure = Failure(kind=FailureKind.CANCELLED, message=f"{status}; turn stopped")
    try:
        record(partial, status)
    except Exception:  # recording must never hide why the operation ended
        logger.warning(
            "could not record the interrupted thread %s", partial.thread_id, exc_info=True
        )


def _error_for(result: CodexExecResult) -> CodexExecFailedError:
    failure = result.failure
    message = failure.message if failure else "codex failed"
    kind = failure.kind if failure else FailureKind.UNKNOWN
    if kind is FailureKind.TIMEOUT:
        return CodexTimeoutError(message, result)
    if kind is FailureKind.THREAD_MISMATCH:
        return CodexThreadMismatchError(message, result)
    if kind is FailureKind.UNKNOWN_THREAD:
        return CodexThreadNotFoundError(message, result)
    return CodexExecFailedError(f"{message} [{kind.value}]", result)
