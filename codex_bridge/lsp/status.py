"""The ``codex/status`` notification: what a status line shows.

Sent when a run starts or ends (and after ``initialized``)::

    {"bridge_version": "0.3.0", "engine": "exec", "codex_version": "codex-cli 0.169.0",
     "running": [{"run_id": "job-1-…", "kind": "run", "state": "running", "prompt": "…"}]}

``codex_version`` is null until codex has been started once (``initialize`` never runs it).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from codex_local_sdk import CodexError

from .. import __version__
from ..service import BridgeService

__all__ = ["STATUS_METHOD", "codex_version", "engine_of", "status_payload"]

STATUS_METHOD = "codex/status"
_UNFINISHED = ("queued", "running")


def engine_of(service: BridgeService) -> str:
    """How the service runs codex: ``app-server`` (warm), ``exec`` (a process per turn) or
    ``checking`` (not known yet)."""
    status = service.engine_status()
    return "exec" if status is None else status.engine


async def codex_version(service: BridgeService) -> str | None:
    """``codex --version`` (the SDK caches it once codex ran), or None when unknown."""
    with contextlib.suppress(CodexError, OSError):
        return await asyncio.to_thread(service.client.version)
    return None


def status_payload(service: BridgeService, version: str | None) -> dict[str, Any]:
    return {
        "bridge_version": __version__,
        "engine": engine_of(service),
        "codex_version": version,
        "running": [
            {
                "run_id": info.job_id,
                "kind": info.kind,
                "state": info.state,
                "prompt": info.prompt_preview[:80],
            }
            for info in service.list_jobs()
            if info.state in _UNFINISHED
        ],
    }
