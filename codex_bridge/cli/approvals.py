"""Codex's approval requests on a terminal (``codex-bridge run``/``resume``): an interactive
prompt on stderr, read from the terminal. Not a terminal: nobody can answer, so the request
is declined (and the result says why).

A one-shot command gains nothing from a warm server, so with ``--engine auto`` (the default)
the command line runs ``codex exec`` unless the run's approval policy lets codex ask and a
person is at the terminal to answer: then it uses the app-server engine, which relays.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from typing import TextIO

from codex_local_sdk import ApprovalDecision, ApprovalHandler, ApprovalRequest

from ..progress import APPROVAL_LABELS, describe_approval

__all__ = ["NOT_A_TERMINAL", "terminal_approvals", "wants_relay"]

NOT_A_TERMINAL = "codex asked for approval, but stdin is not a terminal: declined"
_KEYS = {
    "y": ApprovalDecision.APPROVE,
    "a": ApprovalDecision.APPROVE_FOR_SESSION,
    "n": ApprovalDecision.DECLINE,
}
_ASKING = ("on-request", "untrusted", "on-failure")


def wants_relay(approval_policy: str | None, interactive: bool) -> bool:
    """Whether this run should use the engine that relays approvals."""
    return interactive and approval_policy in _ASKING


def terminal_approvals(
    pause: Callable[[], None],
    resume: Callable[[], None],
    *,
    stdin: TextIO | None = None,
    stderr: TextIO | None = None,
) -> ApprovalHandler:
    """A handler that asks on the terminal (``pause``/``resume`` stop the live view meanwhile)."""
    source = stdin if stdin is not None else sys.stdin
    out = stderr if stderr is not None else sys.stderr

    def ask_blocking(request: ApprovalRequest) -> ApprovalDecision:
        headline, facts = describe_approval(request)
        lines = ["\n" + headline, *(f"  {fact}" for fact in facts)]
        keys = [k for k, d in _KEYS.items() if d in request.choices]
        choices = ", ".join(f"{k}={APPROVAL_LABELS[_KEYS[k]].lower()}" for k in keys)
        lines.append(f"  [{choices}] ")
        out.write("\n".join(lines))
        out.flush()
        answer = source.readline().strip().lower()[:1]
        return _KEYS.get(answer, ApprovalDecision.DECLINE)

    async def handler(request: ApprovalRequest) -> ApprovalDecision:
        pause()
        try:
            return await asyncio.to_thread(ask_blocking, request)
        finally:
            resume()

    return handler
