"""Open buffers versus files that codex changed on disk.

Before a run the server notes what is on disk for every open document; after it, a
document whose file changed is refreshed when its buffer still equals the old disk text
(the user has no unsaved edits), and left alone with a warning otherwise.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

import msgspec

__all__ = ["OpenBuffer", "RefreshPlan", "disk_text", "plan_refresh", "snapshot"]

_MAX_BYTES = 8 * 1024 * 1024  # larger files are not mirrored into buffers


class OpenBuffer(msgspec.Struct, kw_only=True, frozen=True):
    uri: str
    path: str
    version: int | None
    text: str


class RefreshPlan(msgspec.Struct, kw_only=True, frozen=True):
    reload: list[tuple[OpenBuffer, str]] = msgspec.field(default_factory=list)
    """Buffers to replace with the new disk text."""
    conflicts: list[OpenBuffer] = msgspec.field(default_factory=list)
    """Buffers with unsaved edits whose file codex changed."""


def disk_text(path: str) -> str | None:
    """The file's text, or None when it is missing, too large or not UTF-8."""
    try:
        if os.path.getsize(path) > _MAX_BYTES:
            return None
        with open(path, encoding="utf-8", newline="") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return None


def snapshot(buffers: Iterable[OpenBuffer]) -> dict[str, str | None]:
    """What is on disk now for each open buffer, by normalised path."""
    return {_key(buffer.path): disk_text(buffer.path) for buffer in buffers}


def plan_refresh(
    buffers: Iterable[OpenBuffer],
    before: Mapping[str, str | None],
    reported: Iterable[str] = (),
) -> RefreshPlan:
    """Which buffers to reload and which to warn about after a run.

    ``before`` is the :func:`snapshot` taken when the run started; ``reported`` the paths
    codex said it changed (absolute). A buffer counts as changed when its file differs from
    the snapshot, or codex reported it."""
    reported_keys = {_key(path) for path in reported}
    plan = RefreshPlan()
    for buffer in buffers:
        key = _key(buffer.path)
        if key not in before and key not in reported_keys:
            continue
        now = disk_text(buffer.path)
        if now is None or now == buffer.text:
            continue
        old = before.get(key)
        if old is not None and now == old:
            continue  # not changed during the run
        if old is not None and buffer.text == old:
            plan.reload.append((buffer, now))
        else:
            plan.conflicts.append(buffer)
    return plan


def _key(path: str) -> str:
    return os.path.normcase(os.path.realpath(path))
