"""``CodexLocalClient``: runs, resumes and forks codex threads, sync or async.

Every operation is implemented once, as a coroutine. The synchronous methods hand the same
coroutine to a private event-loop thread (see ``_sync.py``), so sync and async behave the
same: retries, sessions, hooks, timeouts and cleanup included.

This module is the facade: the options, the operations' signatures and the session methods.
The machinery lives below it: ``_retries`` (the retry loop), ``_attempt`` (one attempt folded
into a result), ``_streams`` (event streams), ``_sessions`` (session bookkeeping) and
``_operation`` (what they share).
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from typing import TYPE_CHECKING, Any

import msgspec

from ._exec_transport import ExecTransport
from ._failures import error_for
from ._operation import Call, EventCallback, EventHook, make_request
from ._retries import execute
from ._sessions import (
    check_thread_id,
    record_new_session,
    record_turn,
    target_session,
)
from ._streams import EventStream, SyncEventStream
from ._sync import LoopThread, blocking
from .discovery import MINIMUM_CODEX_VERSION, CodexBinary, check_minimum, find_codex, probe_version
from .events import DEFAULT_MAX_COMMAND_OUTPUT_BYTES, DEFAULT_MAX_MESSAGE_BYTES
from .exceptions import CodexExecFailedError, CodexUsageError, SessionNotFoundError
from .models import CodexExecRequest, CodexExecResult, Operation, RetryPolicy, SessionRecord
from .session_store import InMemorySessionStore, SessionStore, check_session_name
from .transport import DEFAULT_MAX_RESULT_EVENTS, CodexTransport, TurnLimits, TurnSpec

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
        return await execute(
            self, call, api_key=api_key, raise_on_error=raise_on_error, on_event=on_event
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
        built = make_request(prompt, request, request_fields)
        call = self._call(
            TurnSpec(request=built),
            timeout_seconds,
            idle_timeout_seconds,
            session_name=session_name,
        )
        result = await execute(
            self,
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=lambda partial, status: record_new_session(
                self.session_store, session_name, built, partial, status=status
            ),
        )
        record = record_new_session(self.session_store, session_name, built, result)
        if record is None:
            if raise_on_error:
                raise (
                    error_for(result)
                    if result.failure
                    else CodexExecFailedError(
                        "codex reported no thread id; cannot record the session", result
                    )
                )
            return SessionRecord(name=session_name, thread_id=""), result
        if raise_on_error and result.failure is not None:
            raise error_for(result)
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
        built = make_request(prompt, request, request_fields)
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
        result = await execute(
            self,
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=lambda partial, status: record_turn(
                self.session_store, call, partial, status=status
            ),
        )
        record_turn(self.session_store, call, result)
        if raise_on_error and result.failure is not None:
            raise error_for(result)
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
        built = make_request(prompt, request, request_fields)
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
            return record_new_session(
                self.session_store,
                new_session_name,
                call.spec.request,
                partial,
                forked_from=call.spec.thread_id,
                status=status,
            )

        result = await execute(
            self,
            call,
            api_key=api_key,
            raise_on_error=False,
            on_event=on_event,
            on_interrupt=record_fork,
        )
        record = record_fork(result)
        if raise_on_error and result.failure is not None:
            raise error_for(result)
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
    run = blocking(run_async)
    start_thread = blocking(start_thread_async)
    resume = blocking(resume_async)
    fork = blocking(fork_async)

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
            check_thread_id(thread_id)
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
    ) -> Call:
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
        return Call(spec=spec, limits=limits, **extra)

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
    ) -> Call:
        named = sum(x is not None and x is not False for x in (session_name, thread_id, last))
        if named != 1:
            raise CodexUsageError(
                f"{operation} needs exactly one of session_name, thread_id or last=True "
                f"(got {named}); the newest thread is never picked silently"
            )
        record = target_session(self.session_store, session_name, thread_id)
        previous_usage = None
        if record is not None:
            session_name, thread_id, previous_usage = (
                record.name,
                record.thread_id,
                record.last_usage,
            )
            if request.cwd is None and record.cwd is not None:
                request = msgspec.structs.replace(request, cwd=record.cwd)
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
