"""``Thread``: one codex conversation as an object, as the official Codex SDKs offer it.

``client.thread(...)`` returns one: by session name (an existing session, or a new one that its
first turn starts), by thread id, or a new unnamed thread. Each turn goes through the client's
own operations (retries, sessions, hooks and locks included); the thread remembers its id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._operation import EventCallback, make_request
from ._streams import EventStream, SyncEventStream
from ._sync import blocking
from .exceptions import CodexUsageError, SessionNotFoundError
from .models import CodexExecRequest, CodexExecResult, SessionRecord

if TYPE_CHECKING:
    from ._sync import LoopThread
    from .client import CodexLocalClient

__all__ = ["Thread"]


class Thread:
    """A codex thread: ``run`` / ``run_async`` / ``stream`` / ``fork`` continue it.

    ``defaults`` are request fields (``model``, ``sandbox``, ``cwd``, ...) applied to every
    turn unless a turn names them itself.
    """

    def __init__(
        self,
        client: CodexLocalClient,
        *,
        session_name: str | None = None,
        thread_id: str | None = None,
        defaults: dict[str, Any] | None = None,
    ) -> None:
        if session_name is not None and thread_id is not None:
            raise CodexUsageError("name a thread by session_name or thread_id, not both")
        self.client = client
        self.defaults = dict(defaults or {})
        try:  # a misspelt field fails here, not at the first turn
            CodexExecRequest(prompt="-", **self.defaults)
        except TypeError as exc:
            raise CodexUsageError(f"not a request field: {exc}") from None
        self._session_name = session_name
        self._thread_id = thread_id
        self._last_stream: EventStream | None = None

    def __repr__(self) -> str:
        return f"Thread(id={self.id!r}, session_name={self._session_name!r})"

    @property
    def _portal(self) -> LoopThread:
        return self.client._portal

    @property
    def id(self) -> str | None:
        """The codex thread id (None until the first turn of a new thread has reported it)."""
        if self._thread_id is None and self._last_stream is not None:
            self._thread_id = self._last_stream.result.thread_id
        if self._thread_id is None and self._session_name is not None:
            record = self.record
            self._thread_id = record.thread_id if record is not None else None
        return self._thread_id

    @property
    def session_name(self) -> str | None:
        return self._session_name

    @property
    def record(self) -> SessionRecord | None:
        """The session record (by name, or the session that points at this thread id)."""
        if self._session_name is not None:
            try:
                return self.client.get_session(self._session_name)
            except SessionNotFoundError:
                return None
        if self._thread_id is not None:
            return next(
                (r for r in self.client.list_sessions() if r.thread_id == self._thread_id), None
            )
        return None

    def _request(
        self, prompt: str | None, request: CodexExecRequest | None, fields: dict[str, Any]
    ) -> CodexExecRequest:
        if request is None:
            return make_request(prompt, None, {**self.defaults, **fields})
        return make_request(prompt, request, fields)

    def _target(self) -> tuple[str | None, str | None]:
        """How the client names this thread for a resume or a fork: (session_name,
        thread_id), both None for a thread that has not started."""
        if self._session_name is not None and self.record is not None:
            return self._session_name, None
        return None, self.id

    async def run_async(
        self,
        /,
        prompt: str | None = None,
        *,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        on_event: EventCallback | None = None,
        **request_fields: Any,
    ) -> CodexExecResult:
        """Run one turn: the first turn of a new thread starts it, later turns resume it."""
        built = self._request(prompt, request, request_fields)
        options: dict[str, Any] = {
            "timeout_seconds": timeout_seconds,
            "idle_timeout_seconds": idle_timeout_seconds,
            "api_key": api_key,
            "raise_on_error": raise_on_error,
            "on_event": on_event,
        }
        session_name, thread_id = self._target()
        if session_name is not None or thread_id is not None:
            result = await self.client.resume_async(
                request=built, session_name=session_name, thread_id=thread_id, **options
            )
        elif self._session_name is not None:
            _, result = await self.client.start_thread_async(
                request=built, session_name=self._session_name, **options
            )
        else:
            result = await self.client.run_async(built, **options)
        if self._thread_id is None:
            self._thread_id = result.thread_id
        return result

    async def fork_async(
        self,
        /,
        prompt: str | None = None,
        *,
        session_name: str | None = None,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        raise_on_error: bool = True,
        on_event: EventCallback | None = None,
        **request_fields: Any,
    ) -> tuple[Thread, CodexExecResult]:
        """Fork this thread and run ``prompt`` on the copy; returns the new thread (recorded
        as ``session_name`` when given) and the turn's result."""
        source_session, source_thread = self._target()
        if source_session is None and source_thread is None:
            raise CodexUsageError("this thread has not started yet: run it before forking")
        _, result = await self.client.fork_async(
            request=self._request(prompt, request, request_fields),
            session_name=source_session,
            thread_id=source_thread,
            new_session_name=session_name,
            timeout_seconds=timeout_seconds,
            idle_timeout_seconds=idle_timeout_seconds,
            api_key=api_key,
            raise_on_error=raise_on_error,
            on_event=on_event,
        )
        fork = Thread(
            self.client,
            session_name=session_name,
            thread_id=None if session_name else result.thread_id,
            defaults=self.defaults,
        )
        return fork, result

    def stream(
        self,
        prompt: str | None = None,
        *,
        request: CodexExecRequest | None = None,
        timeout_seconds: float | None = None,
        idle_timeout_seconds: float | None = None,
        api_key: str | None = None,
        **request_fields: Any,
    ) -> EventStream:
        """Stream one turn's events (``async with thread.stream("...") as events``).

        A new thread's first streamed turn is not recorded as a session (use :meth:`run` for
        that); the thread learns its id from the stream."""
        session_name, thread_id = self._target()
        stream = self.client.stream(
            self._request(prompt, request, request_fields),
            session_name=session_name,
            thread_id=thread_id,
            timeout_seconds=timeout_seconds,
            idle_timeout_seconds=idle_timeout_seconds,
            api_key=api_key,
        )
        self._last_stream = stream if self._thread_id is None else None
        return stream

    def iter_events(self, prompt: str | None = None, **kwargs: Any) -> SyncEventStream:
        """Blocking :meth:`stream`: ``with thread.iter_events("...") as events: for e in ...``."""
        return SyncEventStream(self.stream(prompt, **kwargs), self._portal)

    run = blocking(run_async)
    fork = blocking(fork_async)
