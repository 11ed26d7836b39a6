"""Which engine runs the bridge's turns: warm ``codex app-server``s or one ``codex exec`` each.

:class:`EngineTransport` is the client's transport. It starts checking, in the background, that
the codex found can serve ``app-server`` (the servers call :meth:`EngineTransport.start_check`
once their loop runs, so ``initialize`` is not delayed); turns wait for that answer. The
preference (``--engine`` / ``CODEX_BRIDGE_ENGINE``):

* ``app-server`` (the servers' default, also ``auto``): warm, multiplexed app-servers; a codex
  without ``app-server`` falls back to exec with a warning, and :meth:`status` says why;
* ``exec``: a ``codex exec`` per turn.

Requests the app-server cannot express (plain-text output, ``profile``, "the last thread")
run on exec even when the warm engine is in use, so nothing is refused for the engine's sake.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from typing import Literal

import msgspec

from codex_local_sdk import (
    AppServerTransport,
    CodexError,
    CodexLocalClient,
    CodexUsageError,
    ExecTransport,
    SessionStore,
)
from codex_local_sdk.discovery import MINIMUM_CODEX_VERSION, check_minimum, probe_app_server
from codex_local_sdk.transport import TurnLimits, TurnOutput, TurnSpec

__all__ = ["EngineName", "EngineStatus", "EngineTransport", "describe_engine", "make_client"]

logger = logging.getLogger("codex_bridge.engine")

EngineName = Literal["auto", "app-server", "exec"]
_PROBE_SECONDS = 20.0


class EngineStatus(msgspec.Struct, kw_only=True, frozen=True):
    """The engine in use and why (shown by ``doctor`` and ``codex.status``)."""

    requested: str
    engine: Literal["app-server", "exec", "checking"]
    reason: str


class EngineTransport:
    """The bridge's transport: warm app-servers, or exec (see the module docstring)."""

    def __init__(
        self,
        client: CodexLocalClient,
        preference: EngineName,
        *,
        idle_shutdown_seconds: float | None = 600.0,
        base_env: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client  # finds the binary and checks its version, once
        self.preference = preference
        self._idle_shutdown_seconds = idle_shutdown_seconds
        self._base_env = base_env
        self._check: asyncio.Task[EngineStatus] | None = None
        self._status = EngineStatus(
            requested=preference, engine="checking", reason="not checked yet"
        )
        self.exec: ExecTransport | None = None
        self.app_server: AppServerTransport | None = None

    def __repr__(self) -> str:
        return f"EngineTransport({self._status.engine})"

    def status(self) -> EngineStatus:
        return self._status

    def start_check(self) -> None:
        """Begin the capability check in the background (idempotent; needs a running loop)."""
        if self._check is None:
            self._check = asyncio.ensure_future(self._resolve())

    async def ready(self) -> EngineStatus:
        self.start_check()
        assert self._check is not None
        return await asyncio.shield(self._check)

    async def _resolve(self) -> EngineStatus:
        try:
            binary = await asyncio.to_thread(self._binary)
        except CodexError:
            self._check = None  # codex may be installed later: look again next turn
            raise
        self.exec = ExecTransport(binary, base_env=self._base_env)
        status = await asyncio.to_thread(describe_engine, self.preference, binary)
        if status.engine == "app-server":
            self.app_server = AppServerTransport(
                binary,
                base_env=self._base_env,
                idle_shutdown_seconds=self._idle_shutdown_seconds,
            )
        elif self.preference != "exec":
            logger.warning("codex-bridge: %s", status.reason)
        self._status = status
        return status

    def _binary(self) -> str:
        binary = self._client.binary.path
        check_minimum(self._client.version(), binary, MINIMUM_CODEX_VERSION)
        return binary

    def _transport_for(self, spec: TurnSpec) -> ExecTransport | AppServerTransport:
        request = spec.request
        warm = self.app_server is not None
        if warm and spec.json_output and not spec.last and not request.profile:
            assert self.app_server is not None
            return self.app_server
        assert self.exec is not None
        return self.exec

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        await self.ready()
        async for output in self._transport_for(spec).stream_turn(
            spec, limits=limits, api_key=api_key
        ):
            yield output

    async def steer(self, thread_id: str, prompt: str) -> str:
        """Add input to the running warm turn of ``thread_id``."""
        if self.app_server is None:
            raise CodexUsageError(
                "steering needs the app-server engine; this server runs codex exec "
                f"({self._status.reason})"
            )
        return await self.app_server.steer(thread_id, prompt)

    async def aclose(self) -> None:
        if self._check is not None and not self._check.done():
            # The check runs `codex --version` / `app-server --help` in a thread, which a
            # cancel would not stop: wait for it (it is bounded), so no probe outlives us.
            await asyncio.wait({self._check}, timeout=2 * _PROBE_SECONDS)
            if not self._check.done():
                self._check.cancel()
            await asyncio.gather(self._check, return_exceptions=True)
        if self.app_server is not None:
            await self.app_server.aclose()


def describe_engine(preference: str, binary: str) -> EngineStatus:
    """The engine ``preference`` gives with this codex (blocking: runs ``codex app-server
    --help`` unless exec was asked for)."""
    if preference == "exec":
        return EngineStatus(requested="exec", engine="exec", reason="exec engine requested")
    probe = probe_app_server(binary, timeout=_PROBE_SECONDS)
    if probe.ok:
        return EngineStatus(
            requested=preference,
            engine="app-server",
            reason="warm codex app-server (one per environment, turns multiplexed)",
        )
    return EngineStatus(
        requested=preference,
        engine="exec",
        reason=f"codex at {binary} cannot serve app-server ({probe.detail}); fell back to exec",
    )


def make_client(
    *,
    codex_bin: str | None,
    session_store: SessionStore,
    engine: EngineName,
    idle_shutdown_seconds: float | None = 600.0,
    env: dict[str, str] | None = None,
) -> tuple[CodexLocalClient, EngineTransport]:
    """A client whose turns run on the chosen engine (``env``: codex's base environment)."""
    finder = CodexLocalClient(codex_bin=codex_bin, session_store=session_store, env=env)
    transport = EngineTransport(
        finder, engine, idle_shutdown_seconds=idle_shutdown_seconds, base_env=env
    )
    client = CodexLocalClient(
        codex_bin=codex_bin, session_store=session_store, transport=transport, env=env
    )
    return client, transport
