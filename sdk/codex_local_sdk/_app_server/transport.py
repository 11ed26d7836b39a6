"""``AppServerTransport``: warm turns over persistent ``codex app-server`` processes (JSON-RPC
on stdio), several at once.

``codex exec`` pays codex's start-up on every turn; an app-server is started once (lazily, on
the first turn) and then serves every turn of the transport, which makes warm turns about three
times faster. The transport yields the same typed events as :class:`ExecTransport` (plus live
deltas and approval decisions), so ``CodexLocalClient(transport=AppServerTransport(binary))``
keeps runs, resumes, forks, streams, sessions and retries unchanged.

Protocol: ``initialize`` + ``initialized`` once per server, then per turn ``thread/start`` (or
``thread/resume`` / ``thread/fork``) and ``turn/start``; the server streams notifications,
each naming its ``threadId``, until ``turn/completed``. The translation to events is the pure
module :mod:`codex_local_sdk._app_server.protocol`.

Design:

* **Multiplexed.** One app-server serves concurrent turns on different threads (measured on
  codex 0.163 and 0.169), so turns share one server per distinct environment (API key,
  ``CODEX_HOME``, extra env): a reader task routes every notification to the turn of its
  thread, and answers the server's own requests without blocking the others. Turns on one
  thread are serialised (a per-thread lock); codex refuses two writers anyway.
* **Environments.** A per-call ``api_key`` (or ``codex_home``/``env``) gets its own server;
  the servers of other calls stay warm. Servers idle for ``idle_shutdown_seconds`` are closed.
* **Approvals** go to the handler in effect (:func:`~codex_local_sdk.approvals.handling_approvals`,
  else ``approval_handler``); no handler, a failure or ``approval_timeout_seconds`` without an
  answer declines. Every decision is an :class:`~codex_local_sdk.ApprovalDecided` event.
* **Limits.** A total/idle timeout or a cancellation interrupts the turn (``turn/interrupt``);
  if the server does not confirm within the kill grace period, its process group is killed,
  which fails the other turns it was serving, and the next turn starts a new server. So does a
  server that died. Time spent waiting for a person's answer is not idle time.
* **Steering.** :meth:`AppServerTransport.steer` adds input to the running turn of a thread.
* A transport belongs to the event loop that started its servers. ``await aclose()`` kills them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Mapping
from typing import Any

import msgspec

from .._invocation import CodexInvocation, app_server_invocation
from .._process import CodexProcess, ReadTimeout, finish
from .._version import __version__
from ..approvals import (
    DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    ApprovalHandler,
    ApprovalScope,
    current_approvals,
)
from ..events import ApprovalDecided, ThreadStarted, TurnError, TurnFailed
from ..exceptions import CodexUsageError
from ..models import CodexExecRequest
from ..transport import TurnExit, TurnLimits, TurnOutput, TurnSpec
from .connection import (
    Channel,
    RpcError,
    Server,
    ServerGone,
    StartFailed,
    TurnClock,
    drain_until_done,
)
from .protocol import (
    TurnPlan,
    plan_turn,
    user_input,
)

__all__ = ["AppServerTransport"]

logger = logging.getLogger("codex_local_sdk.app_server")

_CLIENT_INFO: dict[str, Any] = {"name": "codex_local_sdk", "title": None, "version": __version__}
_INTERRUPT_RETRY_SECONDS = 0.05  # "no active turn" until the server has really started it
_MIN_STOP_SECONDS = 0.5
_REAP_INTERVAL_SECONDS = 30.0
_UNKNOWN_METHOD = re.compile(r"unknown variant `[^`]+`, expected one of `initialize`")


class _Running(msgspec.Struct, kw_only=True):
    server: Server
    channel: Channel


class AppServerTransport:
    """Turns over persistent ``codex app-server`` processes (see the module docstring).

    Args:
        binary: the codex executable.
        base_env: environment for the servers (default: this process's environment).
        api_key: sent to the server as ``CODEX_API_KEY`` (environment only). A different
            per-call ``api_key`` gets a server of its own.
        config_overrides: server-wide ``--config`` overrides.
        approval_handler: answers approval requests of turns started outside a
            :func:`~codex_local_sdk.approvals.handling_approvals` block (default: decline).
        approval_timeout_seconds: an unanswered request is declined after this long.
        idle_shutdown_seconds: a server without turns for this long is closed (None: never).
    """

    def __init__(
        self,
        binary: str,
        *,
        base_env: Mapping[str, str] | None = None,
        api_key: str | None = None,
        config_overrides: Mapping[str, Any] | None = None,
        approval_handler: ApprovalHandler | None = None,
        approval_timeout_seconds: float = DEFAULT_APPROVAL_TIMEOUT_SECONDS,
        idle_shutdown_seconds: float | None = 600.0,
    ) -> None:
        self.binary = binary
        self._base_env = base_env
        self._api_key = api_key
        self._config_overrides = dict(config_overrides or {})
        self._default_scope = ApprovalScope(
            handler=approval_handler, timeout_seconds=approval_timeout_seconds
        )
        self.idle_shutdown_seconds = idle_shutdown_seconds
        self._servers: dict[tuple[Any, ...], Server] = {}
        self._starting: dict[tuple[Any, ...], asyncio.Future[Server]] = {}
        self._thread_locks: dict[str, asyncio.Lock] = {}
        self._running: dict[str, _Running] = {}
        self._last_server: Server | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._reaper: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        alive = sum(server.alive for server in self._servers.values())
        return f"AppServerTransport(binary={self.binary!r}, servers={alive})"

    @property
    def server_pid(self) -> int | None:
        """The pid of the app-server the latest turn used (None before the first turn or
        after it was closed)."""
        server = self._last_server
        return server.process.pid if server is not None and server.alive else None

    @property
    def server_pids(self) -> list[int]:
        """Every running app-server of this transport."""
        return [server.process.pid for server in self._servers.values() if server.alive]

    @property
    def running_threads(self) -> list[str]:
        """Threads with a turn in progress."""
        return list(self._running)

    async def aclose(self, kill_grace_seconds: float = 3.0) -> None:
        """Stop every app-server (whole process groups); the next turn starts a new one."""
        servers = list(self._servers.values())
        self._servers.clear()
        self._last_server = None
        reaper, self._reaper = self._reaper, None
        if reaper is not None and not reaper.done():
            reaper.cancel()
            await asyncio.gather(reaper, return_exceptions=True)
        if servers:
            await finish(_gather_all([server.close(kill_grace_seconds) for server in servers]))

    async def steer(
        self, thread_id: str, prompt: str, *, images: tuple[str, ...] | list[str] = ()
    ) -> str:
        """Add input to the turn running on ``thread_id`` (``turn/steer``); returns its turn id.

        Raises :class:`CodexUsageError` when no turn of this transport runs on that thread,
        or codex refuses (the turn has just ended, say)."""
        if not prompt.strip():
            raise CodexUsageError("the steering prompt is empty")
        running = self._running.get(thread_id)
        turn_id = running.channel.translator.turn_id if running is not None else None
        if running is None or turn_id is None or running.channel.translator.done:
            raise CodexUsageError(f"no turn is running on thread {thread_id}")
        params = {
            "threadId": thread_id,
            "expectedTurnId": turn_id,
            "input": user_input(prompt, images),
        }
        try:
            result = await running.server.call("turn/steer", params)
        except RpcError as exc:
            raise CodexUsageError(f"codex refused to steer the turn: {exc.message}") from None
        except ServerGone:
            raise CodexUsageError("the turn's app-server has exited") from None
        return str(result.get("turnId", turn_id)) if isinstance(result, dict) else turn_id

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        plan = plan_turn(spec)
        scope = current_approvals() or self._default_scope
        self._check_loop()
        clock = TurnClock(limits)
        lock_key = spec.thread_id if spec.operation == "resume" else None
        try:
            async with self._thread_lock(lock_key, clock):
                try:
                    server = await clock.wait(self._server_for(spec.request, api_key, limits))
                except StartFailed as exc:
                    yield exc.exit
                    return
                server.turns += 1
                self._last_server = server
                clock.server = server
                try:
                    # aclosing: a consumer that stops early stops the turn now
                    async with contextlib.aclosing(
                        self._run_turn(server, plan, clock, limits, scope)
                    ) as outputs:
                        async for output in outputs:
                            yield output
                finally:
                    server.turns -= 1
                    server.idle_since = time.monotonic()
        except ReadTimeout as exc:  # waiting for the thread or for a server to start
            yield TurnExit(return_code=None, stderr_tail="", argv=[], timed_out=exc.which)

    # ------------------------------------------------------------------ internals
    def _check_loop(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            if any(server.alive for server in self._servers.values()):
                raise CodexUsageError(
                    "this AppServerTransport's servers run on another event loop; use one "
                    "transport per loop (or await aclose() before switching loops)"
                )
            self._loop = loop
            self._servers.clear()
            self._starting.clear()
            self._thread_locks.clear()
            self._running.clear()
            self._reaper = None

    @contextlib.asynccontextmanager
    async def _thread_lock(self, thread_id: str | None, clock: TurnClock) -> AsyncIterator[None]:
        if thread_id is None:
            yield
            return
        lock = self._thread_locks.setdefault(thread_id, asyncio.Lock())
        await clock.wait(lock.acquire())
        try:
            yield
        finally:
            lock.release()
            if not lock.locked() and self._thread_locks.get(thread_id) is lock:
                del self._thread_locks[thread_id]

    async def _server_for(
        self, request: CodexExecRequest, api_key: str | None, limits: TurnLimits
    ) -> Server:
        invocation = app_server_invocation(
            self.binary,
            codex_home=request.codex_home,
            config_overrides=self._config_overrides,
            extra_env=request.env,
            base_env=self._base_env,
            api_key=api_key or self._api_key,
        )
        key = (invocation.argv, tuple(sorted(invocation.env.items())))
        server = self._servers.get(key)
        if server is not None and server.alive:
            return server
        if server is not None:
            logger.debug("codex app-server pid=%s exited; starting a new one", server.process.pid)
            del self._servers[key]
            await finish(server.close(limits.kill_grace_seconds))
        starting = self._starting.get(key)
        if starting is None:  # one start per environment, however many turns wait for it
            starting = asyncio.ensure_future(self._start_server(invocation, limits))
            self._starting[key] = starting
            starting.add_done_callback(lambda _: self._starting.pop(key, None))
        server = await asyncio.shield(starting)
        self._servers[key] = server
        self._ensure_reaper()
        return server

    async def _start_server(self, invocation: CodexInvocation, limits: TurnLimits) -> Server:
        """Start and initialise a server; nothing of it survives a failure or cancellation."""
        process = await CodexProcess.start(invocation, keep_stdin_open=True)
        logger.debug("started codex app-server pid=%s", process.pid)
        server = Server(process, invocation)
        try:
            await server.call("initialize", {"clientInfo": _CLIENT_INFO, "capabilities": None})
            await server.notify("initialized")
        except RpcError as exc:
            await finish(server.close(limits.kill_grace_seconds))
            raise CodexUsageError(
                f"codex at {self.binary} refused the app-server handshake: {exc.message}"
            ) from None
        except ServerGone:
            return_code = await process.wait()
            await finish(server.close(limits.kill_grace_seconds))
            stderr = process.stderr_tail
            if return_code == 2 and "app-server" in stderr:
                raise CodexUsageError(
                    f"codex at {self.binary} has no `app-server` command; upgrade codex or use "
                    "ExecTransport"
                ) from None
            raise StartFailed(
                TurnExit(return_code=return_code, stderr_tail=stderr, argv=invocation.redacted_argv)
            ) from None
        except BaseException:
            await finish(server.close(limits.kill_grace_seconds))
            raise
        return server

    def _ensure_reaper(self) -> None:
        if self.idle_shutdown_seconds is None:
            return
        if self._reaper is None or self._reaper.done():
            self._reaper = asyncio.ensure_future(self._reap_idle_servers())

    async def _reap_idle_servers(self) -> None:
        """Close servers without turns for ``idle_shutdown_seconds``; end with the last one."""
        assert self.idle_shutdown_seconds is not None
        interval = min(_REAP_INTERVAL_SECONDS, max(0.05, self.idle_shutdown_seconds / 4))
        while self._servers:
            await asyncio.sleep(interval)
            now = time.monotonic()
            for key, server in list(self._servers.items()):
                idle = now - server.idle_since
                if server.turns == 0 and (not server.alive or idle >= self.idle_shutdown_seconds):
                    logger.debug("closing idle codex app-server pid=%s", server.process.pid)
                    del self._servers[key]
                    if self._last_server is server:
                        self._last_server = None
                    await finish(server.close(3.0))

    async def _run_turn(
        self,
        server: Server,
        plan: TurnPlan,
        clock: TurnClock,
        limits: TurnLimits,
        scope: ApprovalScope,
    ) -> AsyncGenerator[TurnOutput, None]:
        mark = server.process.stderr_total
        argv = server.invocation.redacted_argv
        channel = Channel(scope, limits)
        clock.channel = channel
        state = channel.translator
        finished = False
        try:
            try:
                result = await clock.wait(server.call(plan.thread_method, plan.thread_params))
                state.thread_id = str(result["thread"]["id"])
                if state.thread_id in server.channels:
                    raise RpcError("turn/start", "another turn is running on this thread")
                server.channels[state.thread_id] = channel
                channel.heard()
                yield ThreadStarted(thread_id=state.thread_id)
                result = await clock.wait(
                    server.call("turn/start", {**plan.turn_params, "threadId": state.thread_id})
                )
                state.turn_id = str(result["turn"]["id"])
                self._running[state.thread_id] = _Running(server=server, channel=channel)
            except RpcError as exc:
                finished = True
                self._refuse_unsupported(exc)
                yield TurnFailed(error=TurnError(message=exc.message))
                yield TurnExit(
                    return_code=1, stderr_tail=server.process.stderr_since(mark), argv=argv
                )
                return
            while not state.done:
                message = await clock.wait(channel.messages.get())
                if message is None:
                    raise ServerGone()
                if isinstance(message, ApprovalDecided):
                    yield message
                    continue
                outputs = state.translate(message)
                del message  # a huge line is not kept while the next one is read
                finished = state.done
                for output in outputs:
                    yield output
            for output in self._decided_late(channel):
                yield output
            yield TurnExit(
                return_code=0 if state.completed else 1,
                stderr_tail=server.process.stderr_since(mark),
                argv=argv,
            )
        except ReadTimeout as exc:
            finished = True
            await finish(self._stop_turn(server, channel, limits.kill_grace_seconds))
            yield TurnExit(
                return_code=None,
                stderr_tail=server.process.stderr_since(mark),
                argv=argv,
                timed_out=exc.which,
            )
        except ServerGone:
            finished = True
            self._forget(server)
            return_code = await server.process.wait()
            await finish(server.close(limits.kill_grace_seconds))
            yield TurnExit(
                return_code=return_code,
                stderr_tail=server.process.stderr_since(mark),
                argv=argv,
            )
        finally:
            if not finished:  # cancelled, or the consumer stopped early
                await finish(self._stop_turn(server, channel, limits.kill_grace_seconds))
            self._detach(server, channel)

    @staticmethod
    def _decided_late(channel: Channel) -> list[ApprovalDecided]:
        """Approval decisions queued after ``turn/completed`` (rare, but keep them)."""
        late: list[ApprovalDecided] = []
        while not channel.messages.empty():
            message = channel.messages.get_nowait()
            if isinstance(message, ApprovalDecided):
                late.append(message)
        return late

    def _detach(self, server: Server, channel: Channel) -> None:
        thread_id = channel.translator.thread_id
        for task in list(channel.approvals):  # nobody waits for those answers any more
            task.cancel()
        if thread_id is None:
            return
        if server.channels.get(thread_id) is channel:
            del server.channels[thread_id]
        running = self._running.get(thread_id)
        if running is not None and running.channel is channel:
            del self._running[thread_id]

    def _forget(self, server: Server) -> None:
        for key, known in list(self._servers.items()):
            if known is server:
                del self._servers[key]
        if self._last_server is server:
            self._last_server = None

    def _refuse_unsupported(self, exc: RpcError) -> None:
        if _UNKNOWN_METHOD.search(exc.message):
            raise CodexUsageError(
                f"codex at {self.binary} does not support the app-server method {exc.method!r}; "
                "upgrade codex or use ExecTransport"
            )

    async def _stop_turn(self, server: Server, channel: Channel, grace: float) -> None:
        """Interrupt the turn and wait for its end; kill the server when that fails."""
        state = channel.translator
        deadline = time.monotonic() + max(grace, _MIN_STOP_SECONDS)
        try:
            if state.thread_id is None or state.turn_id is None or not server.alive:
                if state.thread_id is None and server.alive:
                    return  # no turn was started: nothing runs
                raise ServerGone()  # nothing addressable to interrupt: start afresh
            params = {"threadId": state.thread_id, "turnId": state.turn_id}
            while not state.done:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ServerGone()
                try:
                    await asyncio.wait_for(server.call("turn/interrupt", params), remaining)
                    wait = remaining
                except RpcError:
                    wait = _INTERRUPT_RETRY_SECONDS  # not started yet, or just ended
                await drain_until_done(channel, min(wait, deadline - time.monotonic()))
        except (ServerGone, TimeoutError, asyncio.TimeoutError):
            logger.debug("codex app-server did not stop the turn in time; killing it")
            self._forget(server)
            await server.close(grace)


async def _gather_all(cleanups: list[Awaitable[None]]) -> None:
    await asyncio.gather(*cleanups, return_exceptions=True)
