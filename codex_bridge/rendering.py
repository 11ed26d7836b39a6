"""Plain text every front end shows the same way: shortened one-liners, what happened to a
changed file, whether a target names a thread, and sessions and jobs as text.

Rich layouts (the terminal's tables, the editor's messages) are the adapters' own; the words
and facts they show come from here.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:  # the service renders its progress with these helpers
    from .service import JobInfo, SessionInfo

__all__ = [
    "change_verb",
    "field_description",
    "is_thread_id",
    "job_summary",
    "job_text",
    "session_line",
    "session_text",
    "short",
]

_THREAD_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_CHANGE_VERBS = {"add": "added", "delete": "deleted", "update": "edited"}


def short(text: str, limit: int) -> str:
    """``text`` on one line (whitespace runs made one space), cut to ``limit`` characters
    with an ellipsis."""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def change_verb(kind: str) -> str:
    """What happened to a file, by codex's change kind: ``update`` → ``edited``."""
    return _CHANGE_VERBS.get(kind, kind)


def is_thread_id(target: str) -> bool:
    """Whether ``target`` is a codex thread id (a UUID) rather than a session name."""
    return _THREAD_ID.fullmatch(target) is not None


def session_line(info: SessionInfo) -> str:
    """A session on one line: its thread, turns, last status, cwd and last update."""
    line = f"{info.name}: thread {info.thread_id}, {info.turns} turn(s)"
    if info.last_status:
        line += f", last {info.last_status}"
    if info.cwd:
        line += f", cwd {info.cwd}"
    return line + f", updated {info.updated_at}"


def session_text(info: SessionInfo) -> str:
    """A session with its origin and recent turns, one per line."""
    lines = [session_line(info)]
    if info.forked_from:
        lines.append(f"forked from {info.forked_from}")
    for turn in info.recent_turns or []:
        answer = f" → {turn.final_message_preview}" if turn.final_message_preview else ""
        lines.append(f"- {turn.at} {turn.operation} [{turn.status}] {turn.prompt_preview}{answer}")
    return "\n".join(lines)


def job_text(info: JobInfo) -> str:
    """A job: its state and target, then its outcome, error or latest progress."""
    head = f"job {info.job_id} ({info.kind}): {info.state}"
    if info.session_name:
        head += f", session {info.session_name!r}"
    if info.thread_id:
        head += f", thread {info.thread_id}"
    lines = [head]
    if info.outcome is not None:
        lines.append(info.outcome.to_text())
    elif info.error:
        lines.append(f"error: {info.error}")
    elif info.progress:
        lines.extend(f"  {line}" for line in info.progress[-5:])
    return "\n".join(lines)


def job_summary(info: JobInfo) -> str:
    """How a job ended (or where it is), in a few words: ``completed in 3.2s``."""
    outcome = info.outcome
    if outcome is not None:
        return f"{outcome.status} in {outcome.duration_seconds:.1f}s"
    return info.error or info.state


def field_description(struct: Any, name: str) -> str | None:
    """The description a params Struct gives its field ``name``
    (``Annotated[T, msgspec.Meta(description=...)]``), if any."""
    for info in msgspec.inspect.type_info(struct).fields:  # type: ignore[attr-defined]
        if info.name == name:
            extra = getattr(info.type, "extra_json_schema", None) or {}
            description = extra.get("description")
            return description if isinstance(description, str) else None
    return None
