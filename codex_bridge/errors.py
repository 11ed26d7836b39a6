"""The bridge's error tree: everything the bridge refuses or cannot serve is a :class:`BridgeError`.

::

    BridgeError                code
    ├── InvalidRequest         invalid_request    arguments the caller can fix
    │   └── InvalidSetting                        a policy setting (flag, environment, editor)
    ├── PolicyRefused          policy             the server's policy forbids it
    ├── SessionNotFound        session            no session of that name
    ├── SessionExists          session            the name is taken (replace_session=true)
    ├── SessionStoreFailed     session            the session store could not be read or written
    ├── JobNotFound            job                no job of that id (finished ones are pruned)
    ├── JobNotRunning          job                the job has ended, or not started its turn yet
    ├── CodexUnavailable       codex_unavailable  no usable codex binary (missing, too old)
    └── CodexFailed            codex              codex failed before the turn ran

``code`` is the word every protocol carries (MCP structured tool errors, the LSP error's
``data``); classes sharing a code differ only where a front end treats them differently (the
command line's exit code). The message is for the caller, often a model: it says what to do
instead, and never carries a secret the SDK knows. A turn that ran and failed is not an
error: it is a :class:`~codex_bridge.service.RunOutcome` with ``ok`` false.

SDK exceptions become bridge errors in one place, :func:`from_sdk_error`; each front end maps
the tree with one table (see :func:`lookup`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, TypeVar

from codex_local_sdk import (
    CodexError,
    CodexNotInstalledError,
    CodexUsageError,
    CodexVersionError,
    SessionError,
    SessionExistsError,
    SessionNotFoundError,
    scrub_secrets,
)

__all__ = [
    "BridgeError",
    "BridgeErrorCode",
    "CodexFailed",
    "CodexUnavailable",
    "InvalidRequest",
    "InvalidSetting",
    "JobNotFound",
    "JobNotRunning",
    "PolicyRefused",
    "SessionExists",
    "SessionNotFound",
    "SessionStoreFailed",
    "from_sdk_error",
    "lookup",
]

BridgeErrorCode = Literal[
    "invalid_request", "policy", "session", "job", "codex_unavailable", "codex"
]
"""The kinds of refusal a caller can act on; protocols carry this word unchanged."""

_T = TypeVar("_T")


class BridgeError(Exception):
    """A request the bridge refuses or cannot serve; raise one of the subclasses.

    ``field`` names the argument at fault, when one is (for structured tool errors)."""

    code: ClassVar[BridgeErrorCode] = "invalid_request"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        message = scrub_secrets(message)  # no key the SDK knows goes back to a caller
        super().__init__(message)
        self.message = message
        self.field = field


class InvalidRequest(BridgeError):
    """The arguments are malformed or inconsistent; the message says how to fix them."""

    code = "invalid_request"


class InvalidSetting(InvalidRequest, ValueError):
    """A policy setting is invalid: a launch flag, a ``CODEX_BRIDGE_*`` variable, an editor
    setting. Also a ValueError, so that msgspec reports one raised while it builds a policy."""


class PolicyRefused(BridgeError):
    """The server's policy forbids the request (sandbox or approval ceiling, allowed roots,
    config keys, network, nesting depth); the message names what is allowed instead."""

    code = "policy"


class SessionNotFound(BridgeError):
    """No session of that name is stored."""

    code = "session"


class SessionExists(BridgeError):
    """A session of that name exists and the caller did not ask to replace it."""

    code = "session"


class SessionStoreFailed(BridgeError):
    """The session store could not be read or written (the SDK's session errors)."""

    code = "session"


class JobNotFound(BridgeError):
    """No background job has that id (ended jobs are pruned after a while)."""

    code = "job"


class JobNotRunning(BridgeError):
    """The job cannot take the request now: it has ended, or not started its turn yet."""

    code = "job"


class CodexUnavailable(BridgeError):
    """No usable codex: not installed, not startable, or too old."""

    code = "codex_unavailable"


class CodexFailed(BridgeError):
    """Codex (or the engine in front of it) failed before a turn could run."""

    code = "codex"


_FROM_SDK: Mapping[type[CodexError], type[BridgeError]] = {
    CodexNotInstalledError: CodexUnavailable,
    CodexVersionError: CodexUnavailable,
    CodexUsageError: InvalidRequest,
    SessionNotFoundError: SessionNotFound,
    SessionExistsError: SessionExists,
    SessionError: SessionStoreFailed,
    CodexError: CodexFailed,
}


def from_sdk_error(
    exc: CodexError, *, field: str | None = None, hint: str | None = None
) -> BridgeError:
    """The bridge error for an SDK exception, its message kept (and ``hint`` added, what to
    do instead); raise it ``from exc``."""
    message = str(exc) if hint is None else f"{exc}; {hint}"
    return lookup(_FROM_SDK, exc)(message, field=field)


def lookup(table: Mapping[Any, _T], exc: BaseException) -> _T:
    """The entry of the nearest class of ``exc`` in ``table`` (a front end's one table from
    error classes to its protocol's codes). Raises KeyError when no class of ``exc`` is there."""
    for kind in type(exc).__mro__:
        if kind in table:
            return table[kind]
    raise KeyError(type(exc).__name__)
