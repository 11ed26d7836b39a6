"""Requests, results, policies and records: plain msgspec Structs, cheap to build and encode."""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Mapping
from typing import Any, Literal, TypeVar

import msgspec

from ._redaction import SECRET_KEY as SECRET_KEY  # re-exported: older imports
from ._redaction import redact
from .events import (
    AgentMessageItem,
    CommandExecutionItem,
    FileChangeItem,
    ThreadEvent,
    ThreadItem,
    Usage,
)
from .exceptions import CodexUsageError

__all__ = [
    "ApprovalPolicy",
    "CodexClientEvent",
    "CodexExecRequest",
    "CodexExecResult",
    "Failure",
    "FailureKind",
    "Operation",
    "ReasoningEffort",
    "ReasoningSummary",
    "RetryPolicy",
    "SandboxMode",
    "SessionRecord",
    "TurnRecord",
    "Usage",
    "WebSearchMode",
]

Operation = Literal["exec", "resume", "fork"]


class SandboxMode(str, enum.Enum):
    """Where model-generated shell commands may write (``codex exec --sandbox``)."""

    READ_ONLY = "read-only"
    WORKSPACE_WRITE = "workspace-write"
    DANGER_FULL_ACCESS = "danger-full-access"

    def __str__(self) -> str:
        return self.value


class ApprovalPolicy(str, enum.Enum):
    """When codex asks before running a command (sent as ``-c approval_policy=...``)."""

    UNTRUSTED = "untrusted"
    ON_FAILURE = "on-failure"
    ON_REQUEST = "on-request"
    NEVER = "never"

    def __str__(self) -> str:
        return self.value


class ReasoningEffort(str, enum.Enum):
    """How hard the model thinks (``model_reasoning_effort``); models support a subset."""

    NONE = "none"
    MINIMAL = "minimal"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    XHIGH = "xhigh"

    def __str__(self) -> str:
        return self.value


class ReasoningSummary(str, enum.Enum):
    """How much of its reasoning the model summarises (``model_reasoning_summary``)."""

    AUTO = "auto"
    CONCISE = "concise"
    DETAILED = "detailed"
    NONE = "none"

    def __str__(self) -> str:
        return self.value


class WebSearchMode(str, enum.Enum):
    """Codex's web search tool (``web_search``): off, from OpenAI's cache, or live."""

    DISABLED = "disabled"
    CACHED = "cached"
    LIVE = "live"

    def __str__(self) -> str:
        return self.value


class FailureKind(str, enum.Enum):
    """Why a turn failed, so that callers and retries can act on it."""

    RATE_LIMIT = "rate_limit"  # HTTP 429, quota or usage limits
    AUTH = "auth"  # missing/invalid key, not logged in
    NETWORK = "network"  # connection refused/reset, stream disconnected
    SERVER_ERROR = "server_error"  # HTTP 5xx, overloaded
    USAGE_ERROR = "usage_error"  # codex refused its command line (exit 2)
    UNKNOWN_THREAD = "unknown_thread"  # resume of a thread codex does not know
    THREAD_BUSY = "thread_busy"  # another process is writing the same thread
    THREAD_MISMATCH = "thread_mismatch"  # codex answered on another thread
    TIMEOUT = "timeout"  # total or idle timeout hit; process group killed
    CANCELLED = "cancelled"
    CRASHED = "crashed"  # codex exited non-zero before starting the turn
    UNKNOWN = "unknown"

    def __str__(self) -> str:
        return self.value


class Failure(msgspec.Struct, kw_only=True, frozen=True):
    """What went wrong with a turn."""

    kind: FailureKind
    message: str


_E = TypeVar("_E", bound=enum.Enum)


def _member(kind: type[_E], value: object, name: str) -> _E:
    try:
        return kind(str(value))
    except ValueError:
        choices = ", ".join(str(member.value) for member in kind)
        raise CodexUsageError(f"{name} must be one of {choices}; got {value!r}") from None


def _str_or_none(value: str | os.PathLike[str] | None) -> str | None:
    return None if value is None else os.fspath(value)


class CodexExecRequest(msgspec.Struct, kw_only=True, frozen=True):
    """One turn for ``codex exec`` (or ``codex exec resume``).

    Options that ``exec resume`` does not accept as flags are carried as ``-c`` overrides where
    codex allows it (sandbox, extra writable dirs); the working directory becomes the child's
    cwd. ``profile`` is refused for resumes with a clear :class:`CodexUsageError`.
    """

    prompt: str
    model: str | None = None
    sandbox: SandboxMode | None = None
    approval_policy: ApprovalPolicy | None = None
    cwd: str | None = None
    add_dirs: tuple[str, ...] = ()
    images: tuple[str, ...] = ()
    profile: str | None = None
    config_overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    output_schema: dict[str, Any] | str | None = None
    """A JSON Schema for the final message: a dict (written to a temp file, removed after the
    run) or the path of a schema file."""
    skip_git_repo_check: bool = True
    """On by default: programs drive codex from arbitrary directories. Set False to keep
    codex's "must run inside a git repository" guard."""
    ephemeral: bool = False
    codex_home: str | None = None
    env: dict[str, str] = msgspec.field(default_factory=dict)
    """Extra environment for the child. Values never appear in reprs or logs."""
    reasoning_effort: ReasoningEffort | None = None
    reasoning_summary: ReasoningSummary | None = None
    web_search: WebSearchMode | None = None
    """Codex's web search tool: ``disabled``, ``cached`` or ``live``."""
    network_access: bool | None = None
    """Network access for commands in the ``workspace-write`` sandbox."""
    base_instructions: str | None = None
    """Replace codex's built-in instructions (sent through a private temp file)."""
    developer_instructions: str | None = None
    """Extra instructions codex adds as a developer message."""

    def __post_init__(self) -> None:
        # Accept enum names as plain strings and path-likes, the way callers write them.
        for name, kind in (
            ("sandbox", SandboxMode),
            ("approval_policy", ApprovalPolicy),
            ("reasoning_effort", ReasoningEffort),
            ("reasoning_summary", ReasoningSummary),
            ("web_search", WebSearchMode),
        ):
            value: object = getattr(self, name)
            if value is not None and not isinstance(value, kind):
                msgspec.structs.force_setattr(self, name, _member(kind, value, name))
        for name in ("cwd", "codex_home"):
            msgspec.structs.force_setattr(self, name, _str_or_none(getattr(self, name)))
        for name in ("add_dirs", "images"):
            msgspec.structs.force_setattr(
                self, name, tuple(os.fspath(p) for p in getattr(self, name))
            )
        if not isinstance(self.prompt, str):
            raise CodexUsageError(f"prompt must be a string, not {type(self.prompt).__name__}")

    def __repr__(self) -> str:
        shown = {
            name: getattr(self, name)
            for name in self.__struct_fields__
            if getattr(self, name) != _REQUEST_DEFAULTS.get(name)
        }
        if "env" in shown:
            shown["env"] = {key: "***" for key in self.env}
        if "config_overrides" in shown:
            shown["config_overrides"] = redact(self.config_overrides)
        for name in ("prompt", "base_instructions", "developer_instructions"):
            text = shown.get(name)
            if isinstance(text, str):
                text = redact(text)
                shown[name] = text[:77] + "..." if len(text) > 80 else text
        return "CodexExecRequest(" + ", ".join(f"{k}={v!r}" for k, v in shown.items()) + ")"

    def with_prompt(self, prompt: str) -> CodexExecRequest:
        return msgspec.structs.replace(self, prompt=prompt)


_REQUEST_DEFAULTS: Mapping[str, Any] = {
    "model": None,
    "sandbox": None,
    "approval_policy": None,
    "cwd": None,
    "add_dirs": (),
    "images": (),
    "profile": None,
    "config_overrides": {},
    "output_schema": None,
    "skip_git_repo_check": True,
    "ephemeral": False,
    "codex_home": None,
    "env": {},
    "reasoning_effort": None,
    "reasoning_summary": None,
    "web_search": None,
    "network_access": None,
    "base_instructions": None,
    "developer_instructions": None,
}


class CodexExecResult(msgspec.Struct, kw_only=True):
    """The outcome of one operation (after retries)."""

    operation: Operation = "exec"
    final_message: str | None = None
    thread_id: str | None = None
    turn_status: Literal["completed", "failed"] | None = None
    usage: Usage | None = None
    """As codex reports it: cumulative for the whole thread."""
    turn_usage: Usage | None = None
    """This turn's share, when the previous cumulative reading is known (sessions)."""
    items: list[ThreadItem] = msgspec.field(default_factory=list)
    """Completed items, oldest first: the last ``max_result_events`` of them (see
    ``items_dropped``)."""
    events: list[ThreadEvent] = msgspec.field(default_factory=list)
    """Every event, oldest first: the last ``max_result_events`` of them (see
    ``events_dropped``). ``on_event`` and streams see them all."""
    structured_output: Any = None
    return_code: int | None = None
    stderr_tail: str = ""
    duration_seconds: float = 0.0
    attempts: int = 1
    argv: list[str] = msgspec.field(default_factory=list)
    """The command line of the last attempt, secrets redacted."""
    failure: Failure | None = None
    warnings: list[str] = msgspec.field(default_factory=list)
    session_name: str | None = None
    events_dropped: int = 0
    """How many of the oldest events were not kept, to bound memory."""
    items_dropped: int = 0
    """How many of the oldest completed items were not kept, to bound memory."""

    @property
    def ok(self) -> bool:
        return self.failure is None and self.turn_status == "completed"

    @property
    def agent_messages(self) -> list[str]:
        return [item.text for item in self.items if isinstance(item, AgentMessageItem)]

    @property
    def commands(self) -> list[CommandExecutionItem]:
        return [item for item in self.items if isinstance(item, CommandExecutionItem)]

    @property
    def file_changes(self) -> list[FileChangeItem]:
        return [item for item in self.items if isinstance(item, FileChangeItem)]


class RetryPolicy(msgspec.Struct, kw_only=True, frozen=True):
    """How failed attempts are retried, for sync and async runs alike.

    Only failures that are safe to repeat are retried: codex never started the turn, or a
    transient model-server failure (rate limit, 5xx, network) happened before any item
    completed. Usage errors, auth errors, unknown threads and turns that already did work are
    never retried.
    """

    max_attempts: int = 3
    """Attempts in all, the first included (1 disables retries)."""
    initial_backoff_seconds: float = 1.0
    backoff_multiplier: float = 2.0
    max_backoff_seconds: float = 8.0
    retry_on_exit_codes: tuple[int, ...] | None = None
    """None: decide by failure kind. A tuple: also retry these exit codes (still never usage or
    auth errors, nor a turn that already did work)."""
    jitter_ratio: float = 0.1
    """Each delay is scaled by a random factor in [1 - jitter_ratio, 1 + jitter_ratio]."""
    max_total_retry_seconds: float | None = 60.0
    """No retry starts once this much time has passed since the first attempt began."""
    retry_on_timeouts: bool = False

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise CodexUsageError(f"max_attempts must be >= 1; got {self.max_attempts!r}")
        if self.initial_backoff_seconds < 0 or self.max_backoff_seconds < 0:
            raise CodexUsageError("backoff seconds must be >= 0")
        if self.backoff_multiplier < 1:
            raise CodexUsageError(
                f"backoff_multiplier must be >= 1; got {self.backoff_multiplier!r}"
            )
        if not 0 <= self.jitter_ratio <= 1:
            raise CodexUsageError(
                f"jitter_ratio must be between 0 and 1; got {self.jitter_ratio!r}"
            )
        if self.retry_on_exit_codes is not None:
            msgspec.structs.force_setattr(
                self, "retry_on_exit_codes", tuple(self.retry_on_exit_codes)
            )


class CodexClientEvent(msgspec.Struct, kw_only=True, frozen=True):
    """A lifecycle event for the observability hook. Never carries prompts or secrets.

    ``type`` is one of ``operation_started``, ``attempt_started``, ``thread_started``,
    ``attempt_succeeded``, ``attempt_failed``, ``retry_scheduled``, ``operation_finished``.
    """

    type: str
    operation: Operation
    operation_id: str = ""
    """Tells the events of concurrent operations apart (the same for all events of one)."""
    attempt: int = 0
    return_code: int | None = None
    thread_id: str | None = None
    session_name: str | None = None
    failure_kind: FailureKind | None = None
    message: str | None = None
    delay_seconds: float | None = None
    duration_seconds: float | None = None
    model: str | None = None
    """The model the request named (None: codex's default)."""
    usage: Usage | None = None
    """On ``attempt_succeeded``/``operation_finished``: the thread's cumulative usage."""
    turn_usage: Usage | None = None
    """This turn's share of ``usage``, when it is known."""
    timestamp: float = msgspec.field(default_factory=time.time)


class TurnRecord(msgspec.Struct, kw_only=True):
    """One turn of a session, as kept in the session store (previews, not transcripts)."""

    at: float
    operation: Operation
    prompt_preview: str
    status: str
    final_message_preview: str | None = None
    usage: Usage | None = None


class SessionRecord(msgspec.Struct, kw_only=True):
    """A named session: a logical name mapped to a codex thread id, plus what we know of it."""

    name: str
    thread_id: str
    created_at: float = msgspec.field(default_factory=time.time)
    updated_at: float = msgspec.field(default_factory=time.time)
    cwd: str | None = None
    model: str | None = None
    turns: int = 0
    last_status: str | None = None
    last_usage: Usage | None = None
    """The latest cumulative usage codex reported for the thread."""
    forked_from: str | None = None
    recent_turns: list[TurnRecord] = msgspec.field(default_factory=list)
