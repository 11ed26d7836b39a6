"""The app-server transport: warm turns over persistent ``codex app-server`` processes.

``protocol`` translates between JSON-RPC and the exec-mode events (pure functions);
``transport`` holds :class:`AppServerTransport`.
"""

from __future__ import annotations

from .transport import AppServerTransport

__all__ = ["AppServerTransport"]
