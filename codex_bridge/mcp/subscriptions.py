"""Resource subscriptions: ``resources/subscribe`` (2025-11-25) and ``subscriptions/listen``
(2026-07-28) for ``codex://sessions``, ``codex://sessions/{name}`` and ``codex://jobs/{id}``.

The service's change notices are published once on the SDK's subscription bus. Listen streams
(2026-07-28) are the SDK's ``ListenHandler``; connections on the 2025 handshake get
``notifications/resources/updated`` for the URIs they subscribed to and
``notifications/resources/list_changed`` when sessions come or go (every connection that has
listed resources or subscribed).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import mcp_types as types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel.server import NotificationOptions, Server
from mcp.server.session import ServerSession
from mcp.server.subscriptions import (
    InMemorySubscriptionBus,
    ListenHandler,
    ResourcesListChanged,
    ResourceUpdated,
    ServerEvent,
)
from mcp_types.version import MODERN_PROTOCOL_VERSIONS

from ..changes import Change
from ..service import BridgeService
from .resources import SESSIONS_URI, job_uri, session_uri

__all__ = ["BridgeServer", "Subscriptions"]

logger = logging.getLogger("codex_bridge.mcp")


class Subscriptions:
    """One service's change notices → MCP resource notifications, for every connection."""

    def __init__(self, service: BridgeService) -> None:
        self.bus = InMemorySubscriptionBus()
        self.listen = ListenHandler(self.bus)
        self._legacy: dict[object, tuple[ServerSession, set[str]]] = {}
        self._pending: set[asyncio.Task[Any]] = set()
        service.changes.subscribe(self._on_change)
        self.bus.subscribe(self._to_legacy)

    # ----------------------------------------------------------------- publishing
    def _on_change(self, change: Change) -> None:
        events: list[ServerEvent] = []
        if change.kind == "job" and change.key:
            events.append(ResourceUpdated(uri=job_uri(change.key)))
        elif change.kind == "session" and change.key:
            events.append(ResourceUpdated(uri=session_uri(change.key)))
            events.append(ResourceUpdated(uri=SESSIONS_URI))
        elif change.kind == "sessions":
            events.append(ResourcesListChanged())
        for event in events:
            self._spawn(self.bus.publish(event))

    def _spawn(self, work: Any) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (a synchronous caller): nobody can be listening
            work.close()
            return
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    # ----------------------------------------------------------------- 2025-11-25
    @staticmethod
    def _key(ctx: ServerRequestContext[Any, Any]) -> object:
        # One entry per connection: the per-request session wraps the connection.
        return getattr(ctx.session, "_connection", ctx.session)

    def remember(self, ctx: ServerRequestContext[Any, Any]) -> None:
        """Let this (2025-era) connection hear about list changes."""
        if ctx.protocol_version not in MODERN_PROTOCOL_VERSIONS:
            self._legacy.setdefault(self._key(ctx), (ctx.session, set()))

    async def subscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.SubscribeRequestParams
    ) -> types.EmptyResult:
        self.remember(ctx)
        entry = self._legacy.get(self._key(ctx))
        if entry is not None:
            entry[1].add(str(params.uri))
        return types.EmptyResult()

    async def unsubscribe(
        self, ctx: ServerRequestContext[Any, Any], params: types.UnsubscribeRequestParams
    ) -> types.EmptyResult:
        entry = self._legacy.get(self._key(ctx))
        if entry is not None:
            entry[1].discard(str(params.uri))
        return types.EmptyResult()

    def _to_legacy(self, event: ServerEvent) -> None:
        for key, (session, uris) in list(self._legacy.items()):
            if isinstance(event, ResourceUpdated) and event.uri in uris:
                self._spawn(self._send(key, session.send_resource_updated(event.uri)))
            elif isinstance(event, ResourcesListChanged):
                self._spawn(self._send(key, session.send_resource_list_changed()))

    async def _send(self, key: object, notification: Any) -> None:
        try:
            await notification
        except Exception:  # the connection is gone: forget it
            logger.debug("dropping a subscriber that cannot be reached", exc_info=True)
            self._legacy.pop(key, None)


class BridgeServer(Server[BridgeService]):
    """The SDK's server, declaring what the bridge adds: resource list changes (2025-11-25)
    and, with :mod:`codex_bridge.mcp.tasks`, the ``tasks`` capability."""

    tasks_capability: types.ServerTasksCapability | None = None

    def get_capabilities(
        self,
        notification_options: NotificationOptions | None = None,
        experimental_capabilities: dict[str, dict[str, Any]] | None = None,
        extensions: dict[str, dict[str, Any]] | None = None,
        *,
        protocol_version: str | None = None,
    ) -> types.ServerCapabilities:
        options = notification_options or NotificationOptions()
        options.resources_changed = True
        capabilities = super().get_capabilities(
            options, experimental_capabilities, extensions, protocol_version=protocol_version
        )
        if protocol_version not in MODERN_PROTOCOL_VERSIONS and self.tasks_capability:
            capabilities.tasks = self.tasks_capability
        return capabilities
