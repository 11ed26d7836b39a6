"""The retry loop: one operation's attempts, backoffs, hook events and per-thread lock."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from ._attempt import Attempt
from ._failures import backoff_delay, error_for, is_retryable
from ._operation import (
    Call,
    EventCallback,
    Host,
    call_back,
    describe,
    emit,
    emit_finished,
    thread_lock,
    tracking,
)
from ._sessions import OnInterrupt, record_interrupted
from .exceptions import CodexExecFailedError
from .models import CodexExecResult, FailureKind

__all__ = ["execute"]

logger = logging.getLogger("codex_local_sdk")


async def execute(
    host: Host,
    call: Call,
    *,
    api_key: str | None,
    raise_on_error: bool,
    on_event: EventCallback | None = None,
    on_interrupt: OnInterrupt | None = None,
) -> CodexExecResult:
    """One operation with retries, hooks and the per-thread lock.

    ``on_interrupt(partial_result, status)`` runs when the operation is cancelled or
    interrupted after codex reported its thread, so that the thread is recorded.
    """
    started = time.monotonic()
    attempts: list[Attempt] = []  # the current attempt, to record an interrupted one
    # Tracked for aclose() throughout: waiting for the thread, attempts and backoffs.
    async with tracking(host):
        try:
            return await _execute_tracked(
                host,
                call,
                api_key=api_key,
                raise_on_error=raise_on_error,
                on_event=on_event,
                attempts=attempts,
            )
        except BaseException as exc:
            if on_interrupt is not None and attempts and attempts[-1].result.thread_id:
                record_interrupted(on_interrupt, attempts[-1].result, exc)
            if not isinstance(exc, CodexExecFailedError):  # that one was reported already
                # The hook sees every operation end, however it ends.
                cancelled = isinstance(exc, asyncio.CancelledError)
                await emit(
                    host,
                    "operation_finished",
                    call,
                    failure_kind=FailureKind.CANCELLED if cancelled else None,
                    message="cancelled" if cancelled else describe(exc),
                    duration_seconds=time.monotonic() - started,
                )
            raise


async def _execute_tracked(
    host: Host,
    call: Call,
    *,
    api_key: str | None,
    raise_on_error: bool,
    on_event: EventCallback | None,
    attempts: list[Attempt],
) -> CodexExecResult:
    policy = host.retry_policy
    operation = call.spec.operation
    started = time.monotonic()
    await emit(host, "operation_started", call, attempt=0)
    attempt = 0
    earlier: list[str] = []  # threads that failed attempts leave behind, told in the result
    async with thread_lock(host, call.lock_key):
        while True:
            attempt += 1
            attempt_stream = Attempt(host, call, api_key, attempt)
            attempts[:] = [attempt_stream]
            # aclosing: if we are cancelled inside on_event, codex still stops right away
            async with contextlib.aclosing(aiter(attempt_stream)) as events:
                async for event in events:
                    if on_event is not None:
                        await call_back(on_event, event)
            result = attempt_stream.result
            result.warnings[:0] = earlier
            if result.failure is None:
                break
            elapsed = time.monotonic() - started
            if attempt >= policy.max_attempts or not is_retryable(policy, result):
                break
            delay = backoff_delay(policy, attempt, host._rng)
            budget = policy.max_total_retry_seconds
            if budget is not None and elapsed + delay > budget:
                result.warnings.append(
                    f"not retrying: the retry budget of {budget:g}s would be exceeded"
                )
                break
            if result.thread_id is not None and result.thread_id != call.spec.thread_id:
                earlier.append(
                    f"attempt {attempt} failed on thread {result.thread_id} "
                    f"({result.failure.kind.value}); retried on a new thread"
                )
            await emit(
                host,
                "retry_scheduled",
                call,
                attempt=attempt,
                delay_seconds=delay,
                failure_kind=result.failure.kind,
                message=result.failure.message,
            )
            await asyncio.sleep(delay)
    result.attempts = attempt
    result.duration_seconds = time.monotonic() - started
    await emit_finished(host, call, result, attempt)
    if raise_on_error and result.failure is not None:
        raise error_for(result)
    logger.debug("codex %s finished: %s", operation, result.turn_status)
    return result
