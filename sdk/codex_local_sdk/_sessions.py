"""Session bookkeeping: what a named session records of each turn, interrupted ones included."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from typing import Any

from ._operation import Call
from ._redaction import scrub_secrets
from ._sync import INTERRUPTED
from .exceptions import CodexUsageError, SessionNotFoundError
from .models import (
    CodexExecRequest,
    CodexExecResult,
    Failure,
    FailureKind,
    Operation,
    SessionRecord,
    TurnRecord,
)
from .session_store import SessionStore

__all__ = [
    "OnInterrupt",
    "check_thread_id",
    "record_interrupted",
    "record_new_session",
    "record_turn",
    "target_session",
]

logger = logging.getLogger("codex_local_sdk")

OnInterrupt = Callable[[CodexExecResult, str], Any]
_RECENT_TURNS = 20
_PREVIEW = 200


def record_new_session(
    store: SessionStore,
    name: str,
    request: CodexExecRequest,
    result: CodexExecResult,
    *,
    forked_from: str | None = None,
    status: str | None = None,
) -> SessionRecord | None:
    """Point session ``name`` at the thread ``result`` started (None: codex reported none)."""
    thread_id = result.thread_id
    if thread_id is None:
        return None
    now = time.time()
    result.session_name = name

    def change(old: SessionRecord | None) -> SessionRecord:
        if old is not None and old.thread_id != thread_id:
            logger.info(
                "session %r now points at thread %s (was %s)", name, thread_id, old.thread_id
            )
        record = SessionRecord(
            name=name,
            thread_id=thread_id,
            created_at=now,
            updated_at=now,
            cwd=request.cwd,
            model=request.model,
            forked_from=forked_from,
        )
        _append_turn(record, "fork" if forked_from else "exec", request, result, status)
        return record

    return store.update(name, change)


def record_turn(
    store: SessionStore, call: Call, result: CodexExecResult, *, status: str | None = None
) -> None:
    """Add a turn on the session's own thread to its record."""
    name = call.session_name
    if name is None or result.thread_id != call.spec.thread_id or result.thread_id is None:
        return
    result.session_name = name

    def change(old: SessionRecord | None) -> SessionRecord | None:
        if old is None:
            return None  # deleted meanwhile: do not resurrect it
        _append_turn(old, call.spec.operation, call.spec.request, result, status)
        return old

    store.update(name, change)


def target_session(
    store: SessionStore, session_name: str | None, thread_id: str | None
) -> SessionRecord | None:
    """The session a resume or fork continues: the one named (it must exist), else the one
    recorded for ``thread_id`` (there may be none)."""
    if session_name is not None:
        record = store.get(session_name)
        if record is None:
            raise SessionNotFoundError(session_name)
        return record
    if thread_id is not None:
        check_thread_id(thread_id)
        return next((r for r in store.list() if r.thread_id == thread_id), None)
    return None


def check_thread_id(thread_id: str) -> None:
    try:
        uuid.UUID(thread_id)
    except (ValueError, AttributeError, TypeError):
        raise CodexUsageError(
            f"{thread_id!r} is not a codex thread id (a UUID); use session_name for names"
        ) from None


def _append_turn(
    record: SessionRecord,
    operation: Operation,
    request: CodexExecRequest,
    result: CodexExecResult,
    status: str | None = None,
) -> None:
    record.turns += 1
    record.updated_at = time.time()
    record.last_status = status or _status_of(result)
    if result.usage is not None:
        record.last_usage = result.usage
    if request.model:
        record.model = request.model
    final = result.final_message
    record.recent_turns.append(
        TurnRecord(
            at=record.updated_at,
            operation=operation,
            prompt_preview=_preview(request.prompt),
            status=record.last_status or "unknown",
            final_message_preview=_preview(final) if final else None,
            usage=result.turn_usage,
        )
    )
    del record.recent_turns[:-_RECENT_TURNS]


def _preview(text: str) -> str:
    # Scrubbed before it is cut, so that no part of a key is left at the end.
    return scrub_secrets(text[: 4 * _PREVIEW])[:_PREVIEW]


def _status_of(result: CodexExecResult) -> str | None:
    """What a session records of a turn: completed, failed, timeout, cancelled..."""
    failure = result.failure
    if failure is not None and failure.kind in (FailureKind.TIMEOUT, FailureKind.CANCELLED):
        return str(failure.kind.value)
    return result.turn_status or (str(failure.kind.value) if failure else None)


def record_interrupted(record: OnInterrupt, partial: CodexExecResult, exc: BaseException) -> None:
    """Record a thread whose operation ended by an exception (Ctrl-C, cancellation...)."""
    if isinstance(exc, KeyboardInterrupt) or (
        isinstance(exc, asyncio.CancelledError) and INTERRUPTED in exc.args
    ):
        status = "interrupted"
    elif isinstance(exc, (asyncio.CancelledError, GeneratorExit)):
        status = "cancelled"
    else:
        status = "error"
    if partial.failure is None:
        partial.failure = Failure(kind=FailureKind.CANCELLED, message=f"{status}; turn stopped")
    try:
        record(partial, status)
    except Exception:  # recording must never hide why the operation ended
        logger.warning(
            "could not record the interrupted thread %s", partial.thread_id, exc_info=True
        )
