"""Codex's own recent threads, read from its rollout files under ``CODEX_HOME``.

Codex records every thread in ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<time>-<id>.jsonl``;
the first line (``session_meta``) names the thread, the directory it ran in and what started
it. Listing them lets a caller resume a thread started elsewhere (the terminal, an editor).

Only threads whose recorded directory lies inside the allowed roots are listed: a thread's
prompts and directory are not for callers confined elsewhere.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import msgspec

__all__ = ["ThreadInfo", "codex_home", "recent_threads"]

_MAX_LINE = 1 << 20  # the first line carries codex's base instructions: allow a megabyte
_PREVIEW_LINES = 60  # how far into a rollout to look for the first prompt
_PREVIEW_CHARS = 160
_MAX_FILES_SCANNED = 5000


class ThreadInfo(msgspec.Struct, kw_only=True):
    thread_id: str
    cwd: str
    created_at: str | None = None
    source: str | None = None
    """What started it (``exec``, ``vscode``, ``cli``, …)."""
    cli_version: str | None = None
    preview: str | None = None
    """The start of the first prompt."""


def codex_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex").expanduser()


def _rollouts(home: Path) -> Iterator[Path]:
    """Rollout files, newest first (their directories and names sort by time)."""
    root = home / "sessions"
    if not root.is_dir():
        return
    scanned = 0
    for year in sorted(root.iterdir(), reverse=True):
        for month in sorted(_dirs(year), reverse=True):
            for day in sorted(_dirs(month), reverse=True):
                files = [p for p in day.glob("rollout-*.jsonl") if p.is_file()]
                for path in sorted(files, reverse=True):
                    scanned += 1
                    if scanned > _MAX_FILES_SCANNED:
                        return
                    yield path


def _dirs(path: Path) -> list[Path]:
    return [p for p in path.iterdir() if p.is_dir()] if path.is_dir() else []


def _user_text(record: dict[str, Any]) -> str | None:
    payload = record.get("payload")
    if not isinstance(payload, dict):
        return None
    if record.get("type") == "event_msg" and payload.get("type") == "user_message":
        message = payload.get("message")
        return message if isinstance(message, str) else None
    if record.get("type") == "response_item" and payload.get("role") == "user":
        for part in payload.get("content") or []:
            text = part.get("text") if isinstance(part, dict) else None
            if isinstance(text, str) and not text.lstrip().startswith("<"):
                return text  # not the environment context codex injects
    return None


def _read(path: Path) -> ThreadInfo | None:
    try:
        with path.open("rb") as stream:
            first = json.loads(stream.readline(_MAX_LINE))
            meta = first.get("payload") if first.get("type") == "session_meta" else None
            if not isinstance(meta, dict):
                return None
            thread_id, cwd = meta.get("id"), meta.get("cwd")
            if not isinstance(thread_id, str) or not isinstance(cwd, str):
                return None
            preview = None
            for _ in range(_PREVIEW_LINES):
                line = stream.readline(_MAX_LINE)
                if not line:
                    break
                try:
                    preview = _user_text(json.loads(line))
                except ValueError:
                    continue
                if preview:
                    break
    except (OSError, ValueError, AttributeError):
        return None
    if preview is not None:
        preview = " ".join(preview.split())[:_PREVIEW_CHARS]
    return ThreadInfo(
        thread_id=thread_id,
        cwd=cwd,
        created_at=meta.get("timestamp") if isinstance(meta.get("timestamp"), str) else None,
        source=meta.get("source") if isinstance(meta.get("source"), str) else None,
        cli_version=meta.get("cli_version") if isinstance(meta.get("cli_version"), str) else None,
        preview=preview,
    )


def _inside(path: str, roots: Sequence[str]) -> bool:
    if not roots:
        return True
    resolved = Path(os.path.realpath(path))
    return any(resolved.is_relative_to(root) for root in roots)


def recent_threads(
    home: Path, roots: Sequence[str], *, limit: int = 20, cwd: str | None = None
) -> list[ThreadInfo]:
    """Up to ``limit`` threads, newest first, whose directory is inside ``roots`` (and under
    ``cwd`` when given)."""
    found: list[ThreadInfo] = []
    for path in _rollouts(home):
        info = _read(path)
        if info is None or not _inside(info.cwd, roots):
            continue
        if cwd is not None and not _inside(info.cwd, [cwd]):
            continue
        found.append(info)
        if len(found) >= limit:
            break
    return found
