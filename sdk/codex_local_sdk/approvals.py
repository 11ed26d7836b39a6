"""Approval requests: codex asks before it runs a command, changes files outside its sandbox
or lets one of its MCP servers ask the user something (app-server engine only).

A handler decides: an async callable taking an :class:`ApprovalRequest` and returning an
:class:`ApprovalDecision`. Give one to :class:`~codex_local_sdk.AppServerTransport`
(``approval_handler=``) for every turn, or for the turns started inside a block::

    async def ask(request: ApprovalRequest) -> ApprovalDecision:
        ok = request.command == "make test"
        return ApprovalDecision.APPROVE if ok else ApprovalDecision.DECLINE

    with handling_approvals(ask, timeout_seconds=60):
        result = await client.run_async(request)   # approval_policy="on-request"

Whatever happens, codex gets an answer: no handler, a handler that fails, or one that does not
answer within the timeout means *decline*. Every decision becomes an
:class:`~codex_local_sdk.ApprovalDecided` event in the result's events.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Awaitable, Callable, Iterator

import msgspec

from .events import ApprovalDecided
from .exceptions import CodexUsageError

__all__ = [
    "ApprovalDecided",
    "ApprovalDecision",
    "ApprovalHandler",
    "ApprovalKind",
    "ApprovalRequest",
    "ApprovalScope",
    "ApprovalUnavailable",
    "current_approvals",
    "handling_approvals",
]

DEFAULT_APPROVAL_TIMEOUT_SECONDS = 120.0


class ApprovalKind(str, enum.Enum):
    COMMAND = "command"
    FILE_CHANGE = "file_change"
    ELICITATION = "elicitation"
    PERMISSIONS = "permissions"


class ApprovalDecision(str, enum.Enum):
    APPROVE = "approve"
    APPROVE_FOR_SESSION = "approve_for_session"
    """Approve, and let codex do the same again in this thread without asking."""
    DECLINE = "decline"


class ApprovalRequest(msgspec.Struct, kw_only=True, frozen=True):
    """What codex wants to do, as far as it says."""

    kind: ApprovalKind
    thread_id: str | None = None
    turn_id: str | None = None
    command: str | None = None
    """The command line (command approvals)."""
    cwd: str | None = None
    reason: str | None = None
    """Codex's (the model's) justification, when it gave one."""
    paths: tuple[str, ...] = ()
    """Files a file change touches, when codex announced them."""
    message: str | None = None
    """The question (elicitations from codex's MCP servers)."""
    server_name: str | None = None
    choices: tuple[ApprovalDecision, ...] = (ApprovalDecision.APPROVE, ApprovalDecision.DECLINE)
    """The answers codex accepts for this request."""
    leaves_sandbox: bool = True
    """Whether approving lets codex act outside its sandbox (escalation, network, a write
    outside the writable roots). Conservative: True unless codex only asks to run a command
    inside the sandbox (``approval_policy=untrusted``)."""

    @property
    def subject(self) -> str:
        """One line saying what is asked."""
        if self.command:
            return self.command
        if self.paths:
            return ", ".join(self.paths)
        return self.message or self.kind.value


ApprovalHandler = Callable[[ApprovalRequest], Awaitable[ApprovalDecision]]


class ApprovalUnavailable(Exception):
    """Raised by a handler that cannot ask anyone (any more): the request is declined, with
    this exception's message as the reason."""


class ApprovalScope(msgspec.Struct, kw_only=True, frozen=True):
    """Who answers approval requests, and how long they get."""

    handler: ApprovalHandler | None = None
    timeout_seconds: float = DEFAULT_APPROVAL_TIMEOUT_SECONDS
    allow_leaving_sandbox: bool = True
    """False: requests that would let codex act outside its sandbox are declined without
    asking (the bridge does this when its sandbox ceiling is below danger-full-access)."""
    unavailable_reason: str | None = None
    """Why nobody can answer, when ``handler`` is None (said in the decision's note)."""


_scope: contextvars.ContextVar[ApprovalScope | None] = contextvars.ContextVar(
    "codex_local_sdk_approvals", default=None
)


def current_approvals() -> ApprovalScope | None:
    """The approval scope of the running code (see :func:`handling_approvals`)."""
    return _scope.get()


@contextlib.contextmanager
def handling_approvals(
    handler: ApprovalHandler | None,
    *,
    timeout_seconds: float = DEFAULT_APPROVAL_TIMEOUT_SECONDS,
    allow_leaving_sandbox: bool = True,
    unavailable_reason: str | None = None,
) -> Iterator[ApprovalScope]:
    """Turns started inside the block send their approval requests to ``handler``
    (overriding the transport's own handler). ``handler=None`` declines them all."""
    if timeout_seconds <= 0:
        raise CodexUsageError(f"timeout_seconds must be positive; got {timeout_seconds!r}")
    scope = ApprovalScope(
        handler=handler,
        timeout_seconds=timeout_seconds,
        allow_leaving_sandbox=allow_leaving_sandbox,
        unavailable_reason=unavailable_reason,
    )
    token = _scope.set(scope)
    try:
        yield scope
    finally:
        _scope.reset(token)
