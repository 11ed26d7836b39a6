"""The exception tree: everything the SDK raises on purpose derives from :class:`CodexError`.

(Bugs aside, anything else comes from the caller's own code: a hook, a custom transport or
session store.)

::

    CodexError
    ├── CodexNotInstalledError        no usable ``codex`` binary
    ├── CodexVersionError             codex is older than the SDK supports
    ├── CodexUsageError (ValueError)  a bad call, caught before codex runs: a request codex
    │                                 would refuse, a bad setting (RetryPolicy, limits, a
    │                                 prompt that is not a string), a sync call from a hook
    ├── CodexExecFailedError          the turn failed (exit code, turn.failed, ...)
    │   ├── CodexTimeoutError         total or idle timeout; the process group was killed
    │   ├── CodexThreadMismatchError  codex answered on another thread than the one asked for
    │   └── CodexThreadNotFoundError  ``exec resume`` of a thread codex does not know
    └── SessionError
        ├── SessionNotFoundError      (also a KeyError)
        ├── SessionExistsError
        └── SessionStoreError
            └── SessionStoreCorruptError
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .models import CodexExecResult, FailureKind


class CodexError(Exception):
    """Base class of every error raised by ``codex_local_sdk``."""


class CodexNotInstalledError(CodexError):
    """No ``codex`` executable could be found or started."""

    INSTALL_HINT = (
        "Install the Codex CLI with `npm install -g @openai/codex`, or "
        "`pip install 'codex-bridge[codex]'` (bundles the PyPI package openai-codex-cli-bin), "
        "or point CODEX_BIN / CodexLocalClient(codex_bin=...) at the executable."
    )

    def __init__(self, detail: str) -> None:
        super().__init__(f"{detail}. {self.INSTALL_HINT}")
        self.detail = detail


class CodexVersionError(CodexError):
    """The installed codex is older than the minimum this SDK supports."""

    def __init__(self, found: str, minimum: str, binary: str) -> None:
        super().__init__(
            f"codex {found} at {binary} is too old: codex_local_sdk needs codex >= {minimum}. "
            "Upgrade with `npm install -g @openai/codex@latest`."
        )
        self.found = found
        self.minimum = minimum
        self.binary = binary


class CodexUsageError(CodexError, ValueError):
    """The call cannot be made as asked: a request that is no valid codex invocation, a bad
    setting (``RetryPolicy``, a limit, an approval timeout), a prompt that is not a string, a
    blocking call from inside the client's own loop. A ``ValueError`` too."""


class CodexExecFailedError(CodexError):
    """A codex turn did not complete.

    ``result`` is the partial :class:`~codex_local_sdk.CodexExecResult` (events, items and
    stderr tail gathered so far), so no output is lost when a run fails.
    """

    def __init__(self, message: str, result: CodexExecResult) -> None:
        super().__init__(message)
        self.result = result

    @property
    def return_code(self) -> int | None:
        return self.result.return_code

    @property
    def failure_kind(self) -> FailureKind | None:
        return self.result.failure.kind if self.result.failure else None

    @property
    def stderr_tail(self) -> str:
        return self.result.stderr_tail


class CodexTimeoutError(CodexExecFailedError):
    """The run exceeded its total timeout or produced no event for the idle timeout."""


class CodexThreadMismatchError(CodexExecFailedError):
    """Codex reported a different thread id than the one that was resumed."""


class CodexThreadNotFoundError(CodexExecFailedError):
    """``codex exec resume`` did not find the thread."""


class SessionError(CodexError):
    """Base class of session and session-store errors."""


class SessionNotFoundError(SessionError, KeyError):
    """No session of that name is stored."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no session named {name!r}")
        self.name = name

    def __str__(self) -> str:  # KeyError would otherwise quote the message again
        return str(self.args[0])


class SessionExistsError(SessionError):
    """A session of that name already exists."""

    def __init__(self, name: str) -> None:
        super().__init__(f"a session named {name!r} already exists")
        self.name = name


class SessionStoreError(SessionError):
    """The session store could not be read or written."""


class SessionStoreCorruptError(SessionStoreError):
    """The session file is not valid; it was moved aside, never overwritten."""

    def __init__(self, path: str, moved_to: str, reason: str) -> None:
        super().__init__(
            f"session store {path} is corrupt ({reason}); it was moved to {moved_to} "
            "and a new, empty store will be used from the next call"
        )
        self.path = path
        self.moved_to = moved_to
        self.reason = reason
