"""Classifying failed turns, and deciding which failures are safe to retry."""

from __future__ import annotations

import random
import re
from collections.abc import Iterable

from .exceptions import (
    CodexExecFailedError,
    CodexThreadMismatchError,
    CodexThreadNotFoundError,
    CodexTimeoutError,
)
from .models import CodexExecResult, FailureKind, RetryPolicy

__all__ = ["backoff_delay", "classify_failure", "error_for", "is_retryable"]

# Checked in order: the first pattern that matches any message wins.
_PATTERNS: list[tuple[FailureKind, re.Pattern[str]]] = [
    (
        FailureKind.USAGE_ERROR,
        re.compile(
            r"unexpected argument|^Usage: codex|invalid value '.*' for|--help' for more|"
            r"not inside a trusted directory",
            re.I | re.M,
        ),
    ),
    (
        FailureKind.UNKNOWN_THREAD,
        re.compile(
            r"no rollout found|(session|thread) not found|no (such )?(session|thread)", re.I
        ),
    ),
    (
        FailureKind.THREAD_BUSY,
        re.compile(
            r"already (in use|running|being|locked)|another (process|writer)|locked by|"
            r"active writer",
            re.I,
        ),
    ),
    (
        FailureKind.RATE_LIMIT,
        re.compile(
            r"\b429\b|too many requests|rate.?limit|quota|usage limit|insufficient_quota", re.I
        ),
    ),
    (
        FailureKind.AUTH,
        re.compile(
            r"\b401\b|\b403\b|unauthori[sz]ed|forbidden|missing environment variable|api key|"
            r"not logged in|authentication|login",
            re.I,
        ),
    ),
    (
        FailureKind.SERVER_ERROR,
        re.compile(
            r"\b5\d\d\b|internal server error|bad gateway|service unavailable|overloaded|"
            r"high demand|server error|temporary error",
            re.I,
        ),
    ),
    (
        FailureKind.NETWORK,
        re.compile(
            r"stream disconnected|error sending request|connection (refused|reset|closed)|"
            r"dns|network|timed out|broken pipe|eof while",
            re.I,
        ),
    ),
]


# codex's refusal to run outside a git repository has no "Error:" prefix
_ERROR_LINE = re.compile(r"\s*(error|usage:|not inside a trusted directory)", re.I)


def classify_failure(messages: Iterable[str], stderr_tail: str = "") -> FailureKind:
    """The most specific kind that the turn's error messages or codex's stderr point to."""
    texts = [m for m in messages if m]
    for kind, pattern in _PATTERNS:
        if any(pattern.search(text) for text in texts):
            return kind
    # stderr carries warnings on every run; only its error lines (and usage text) count.
    error_lines = "\n".join(line for line in stderr_tail.splitlines() if _ERROR_LINE.match(line))
    for kind, pattern in _PATTERNS:
        if error_lines and pattern.search(error_lines):
            return kind
    return FailureKind.UNKNOWN


_TRANSIENT = {FailureKind.RATE_LIMIT, FailureKind.SERVER_ERROR, FailureKind.NETWORK}
_NOT_STARTED = {FailureKind.CRASHED, FailureKind.THREAD_BUSY}
_NEVER = {
    FailureKind.USAGE_ERROR,
    FailureKind.AUTH,
    FailureKind.UNKNOWN_THREAD,
    FailureKind.THREAD_MISMATCH,
    FailureKind.CANCELLED,
}


def is_retryable(policy: RetryPolicy, result: CodexExecResult) -> bool:
    """Whether repeating this failed attempt is both useful and safe.

    Safe means the failed attempt did no work: no item completed (no command ran, no file was
    changed, no message was produced). A resume that did work is never repeated, nor is a new
    run that did (it would do the work twice on a fresh thread).
    """
    failure = result.failure
    if failure is None or failure.kind in _NEVER:
        return False
    if result.items or result.items_dropped:
        return False
    if failure.kind is FailureKind.TIMEOUT:
        return policy.retry_on_timeouts
    if failure.kind in _TRANSIENT:
        return True
    if failure.kind in _NOT_STARTED and result.thread_id is None:
        return True  # codex died, or refused a busy thread, before it started the turn
    codes = policy.retry_on_exit_codes
    return codes is not None and result.return_code in codes


def backoff_delay(
    policy: RetryPolicy, retry_number: int, rng: random.Random | None = None
) -> float:
    """Delay before retry ``retry_number`` (1 for the first retry), jitter applied."""
    base = policy.initial_backoff_seconds * policy.backoff_multiplier ** (retry_number - 1)
    base = min(base, policy.max_backoff_seconds)
    if policy.jitter_ratio:
        base *= 1 + (rng or random).uniform(-policy.jitter_ratio, policy.jitter_ratio)
    return max(0.0, base)


def error_for(result: CodexExecResult) -> CodexExecFailedError:
    """The exception a failed ``result`` is raised as."""
    failure = result.failure
    message = failure.message if failure else "codex failed"
    kind = failure.kind if failure else FailureKind.UNKNOWN
    if kind is FailureKind.TIMEOUT:
        return CodexTimeoutError(message, result)
    if kind is FailureKind.THREAD_MISMATCH:
        return CodexThreadMismatchError(message, result)
    if kind is FailureKind.UNKNOWN_THREAD:
        return CodexThreadNotFoundError(message, result)
    return CodexExecFailedError(f"{message} [{kind.value}]", result)
