"""The bridge service: the operations every front end (MCP, LSP, CLI) exposes.

Front ends parse their protocol's arguments into the ``*Params`` Structs here (see
:func:`parse_params`), call a :class:`BridgeService` method, and render the returned Structs.
Policy checks, concurrency limits, background jobs and progress text all live here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import datetime as dt
import functools
import itertools
import os
import re
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Literal, TypeVar

import jsonschema
import msgspec

from codex_local_sdk import (
    AgentMessageDelta,
    ApprovalDecided,
    ApprovalHandler,
    ApprovalPolicy,
    CodexError,
    CodexExecRequest,
    CodexExecResult,
    CodexLocalClient,
    CodexUsageError,
    CommandOutputDelta,
    EventCallback,
    ItemCompleted,
    JsonFileSessionStore,
    ReasoningEffort,
    ReasoningSummary,
    SandboxMode,
    SessionError,
    SessionNotFoundError,
    SessionRecord,
    ThreadEvent,
    ThreadStarted,
    Usage,
    WebSearchMode,
    handling_approvals,
    scrub_secrets,
)
from codex_local_sdk.cli_args import login_status_argv
from codex_local_sdk.discovery import MINIMUM_CODEX_VERSION, check_minimum, parse_version
from codex_local_sdk.events import event_to_dict

from . import __version__
from .changes import Change, ChangeFeed
from .engine import EngineStatus, EngineTransport, describe_engine, make_client
from .errors import (
    BridgeError,
    InvalidRequest,
    JobNotFound,
    JobNotRunning,
    PolicyRefused,
    SessionExists,
    from_sdk_error,
)
from .job_store import JobStore
from .live import LiveText
from .nesting import child_environment, nesting_depth
from .policy import (
    SAFE_CONFIG_KEYS,
    SANDBOX_RANK,
    BridgePolicy,
    check_config_overrides,
)
from .progress import describe_event, display_command
from .worktrees import WorktreeError, WorktreeInfo, add_worktree, report, repository

__all__ = [
    "BridgeError",
    "BridgeService",
    "CommandSummary",
    "Detail",
    "DoctorReport",
    "ForkParams",
    "JobInfo",
    "JobsWaited",
    "ProgressCallback",
    "ProgressUpdate",
    "ResumeParams",
    "RunOutcome",
    "RunParams",
    "SessionDeleted",
    "SessionInfo",
    "SessionRenameParams",
    "SteerInfo",
    "parse_params",
    "running_in",
]

_P = TypeVar("_P", bound=msgspec.Struct)
_MAX_PATH_LENGTH = 4096
_MAX_INSTRUCTIONS = 64 * 1024  # developer instructions travel on codex's command line

_RUN_DIRECTORY: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "codex_bridge_run_directory", default=None
)


@contextlib.contextmanager
def running_in(directory: str) -> Iterator[None]:
    """Jobs started in this block run codex in ``directory`` instead of their checked cwd.

    For a front end that made ``directory`` itself as an isolated copy of that cwd (the
    language server's review mode); never from caller input. Every policy check still runs
    on the cwd the caller named, and a session keeps that cwd, not the copy."""
    reset = _RUN_DIRECTORY.set(directory)
    try:
        yield
    finally:
        _RUN_DIRECTORY.reset(reset)


OfferedApproval = Literal["never", "on-failure", "on-request"]
"""The approval policies callers may name (``codex exec`` refuses ``untrusted``); the server's
``approval_ceiling`` may allow fewer."""


# --------------------------------------------------------------------------- parameters


class _Params(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


Detail = Literal["summary", "full"]
"""How much of a run a result carries: the summary a model reads, or everything."""


class _TurnParams(_Params):
    """What every operation takes."""

    prompt: str
    model: str | None = None
    sandbox: SandboxMode | None = None
    timeout_seconds: float | None = None
    idle_timeout_seconds: float | None = None
    reasoning_effort: ReasoningEffort | None = None
    reasoning_summary: ReasoningSummary | None = None
    web_search: WebSearchMode | None = None
    network_access: bool | None = None
    developer_instructions: str | None = None
    base_instructions: str | None = None
    detail: Detail = "summary"


class _PromptParams(_TurnParams):
    """What a run and a resume take beyond that."""

    cwd: str | None = None
    approval_policy: OfferedApproval | None = None
    config_overrides: dict[str, Any] = msgspec.field(default_factory=dict)
    output_schema: dict[str, Any] | None = None
    images: list[str] = msgspec.field(default_factory=list)


class RunParams(_PromptParams):
    """Start a new Codex thread."""

    session_name: str | None = None
    replace_session: bool = False
    """Point an existing ``session_name`` at the new thread instead of refusing the call."""
    profile: str | None = None
    add_dirs: list[str] = msgspec.field(default_factory=list)
    worktree: bool = False
    """Run codex in a new git worktree of ``cwd`` on a branch ``codex-bridge/<name>``."""


class ResumeParams(_PromptParams):
    """Continue a thread by session name or thread id."""

    session_name: str | None = None
    thread_id: str | None = None


class ForkParams(_TurnParams):
    """Fork a thread into a new one and run a prompt on it."""

    session_name: str | None = None
    thread_id: str | None = None
    new_session_name: str | None = None
    replace_session: bool = False
    """Point an existing ``new_session_name`` at the fork instead of refusing the call."""
    worktree: bool = False
    """Run the fork in a new git worktree of the thread's directory."""


class SessionRenameParams(_Params):
    name: str
    new_name: str


_FIELD_IN_MESSAGE = re.compile(r"(?:at `\$\.([A-Za-z_][\w-]*)|field `([A-Za-z_][\w-]*)`)")


def _field_of(exc: msgspec.ValidationError) -> str | None:
    """The argument a msgspec validation error is about ("... - at `$.prompt`", "missing
    required field `prompt`", "unknown field `bogus`"), when it names one."""
    found = _FIELD_IN_MESSAGE.search(str(exc))
    return (found.group(1) or found.group(2)) if found else None


def parse_params(kind: type[_P], data: Any) -> _P:
    """Validate protocol arguments into a params Struct, or raise a readable BridgeError."""
    try:
        return msgspec.convert(data, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid arguments: {exc}", field=_field_of(exc)) from None


# --------------------------------------------------------------------------- results


_SUMMARY_COMMANDS = 20  # a summary lists the last commands only
_SUMMARY_COMMAND_CHARS = 200
_FULL_OUTPUT_CHARS = 64_000  # the end of a command's output, even with detail "full"


class CommandSummary(msgspec.Struct, kw_only=True, omit_defaults=True):
    command: str
    exit_code: int | None = None
    status: str | None = None
    """Set only when the command did not complete (e.g. failed, declined)."""
    output: str | None = None
    """detail "full" only: what the command printed (its end, when very long)."""


class FailureInfo(msgspec.Struct, kw_only=True):
    kind: str
    message: str


class RunOutcome(msgspec.Struct, kw_only=True, omit_defaults=True):
    """What a run, resume or fork produced, in a shape every front end can render.

    The field order is what a model reads first (MCP hosts hand it this object as JSON): the
    answer, what went wrong, where to continue, what Codex did, what it cost. Empty fields are
    left out. The bulky parts (every event, command outputs) come only with detail "full".
    """

    final_message: str | None = None
    error: FailureInfo | None = None
    thread_id: str | None = None
    session_name: str | None = None
    ok: bool
    status: Literal["completed", "failed", "timeout", "cancelled"]
    commands: list[CommandSummary] = msgspec.field(default_factory=list)
    more_commands: int = 0
    """How many earlier commands a summary leaves out (detail "full" lists them all)."""
    files_changed: list[str] = msgspec.field(default_factory=list)
    approvals: list[ApprovalDecided] = msgspec.field(default_factory=list)
    """Every approval codex asked for in this run, and the answer it got."""
    structured_output: Any = None
    usage: Usage | None = None
    """Cumulative for the thread, as codex reports it."""
    turn_usage: Usage | None = None
    """This turn's share, when the session knew the previous reading."""
    warnings: list[str] = msgspec.field(default_factory=list)
    duration_seconds: float = 0.0
    attempts: int = 1
    turn_status: str | None = None
    """detail "full" only: the turn status codex reported."""
    events: list[dict[str, Any]] | None = None
    """detail "full" only: every Codex event, as codex sent it."""
    worktree: WorktreeInfo | None = None
    """The git worktree codex worked in (``worktree: true``): branch, commits, diff stat."""

    @classmethod
    def from_result(cls, result: CodexExecResult, detail: Detail = "summary") -> RunOutcome:
        full = detail == "full"
        failure = result.failure
        status: Literal["completed", "failed", "timeout", "cancelled"] = "completed"
        if failure is not None:
            status = (
                "timeout"
                if failure.kind.value == "timeout"
                else "cancelled"
                if failure.kind.value == "cancelled"
                else "failed"
            )
        files: list[str] = []
        for change_item in result.file_changes:
            files += [c.path for c in change_item.changes if c.path not in files]
        commands = result.commands if full else result.commands[-_SUMMARY_COMMANDS:]
        return cls(
            final_message=result.final_message,
            error=FailureInfo(kind=failure.kind.value, message=failure.message)
            if failure
            else None,
            thread_id=result.thread_id,
            session_name=result.session_name,
            ok=failure is None and result.turn_status == "completed",
            status=status,
            commands=[
                CommandSummary(
                    command=display_command(c.command)
                    if full
                    else _shortened(display_command(c.command), _SUMMARY_COMMAND_CHARS),
                    exit_code=c.exit_code,
                    status=None if c.status in ("", "completed") else c.status,
                    output=_tail(c.aggregated_output, _FULL_OUTPUT_CHARS) if full else None,
                )
                for c in commands
            ],
            more_commands=len(result.commands) - len(commands),
            files_changed=files,
            structured_output=result.structured_output,
            usage=result.usage,
            turn_usage=result.turn_usage,
            warnings=list(result.warnings),
            duration_seconds=round(result.duration_seconds, 3),
            attempts=result.attempts,
            turn_status=result.turn_status if full else None,
            events=[event_to_dict(event) for event in result.events] if full else None,
            approvals=[e for e in result.events if isinstance(e, ApprovalDecided)],
        )

    def to_text(self) -> str:
        """The same as the structured result, in prose, for protocols that show text."""
        lines: list[str] = []
        if self.error is not None:
            lines.append(f"Codex {self.status}: {self.error.message} [{self.error.kind}]")
        if self.final_message:
            lines.append(self.final_message)
        elif self.error is None:
            lines.append(f"Codex {self.status} without a final message.")
        facts: list[str] = []
        where = f"Thread {self.thread_id}" if self.thread_id else "No thread"
        if self.session_name:
            where += f" (session {self.session_name!r})"
        facts.append(f"{where}; {self.status} in {self.duration_seconds:.1f}s.")
        if self.commands:
            ran = "; ".join(_command_text(c) for c in self.commands)
            earlier = f" ({self.more_commands} earlier not shown)" if self.more_commands else ""
            facts.append(f"Commands{earlier}: {ran}.")
        if self.files_changed:
            facts.append("Files changed: " + ", ".join(self.files_changed) + ".")
        for approval in self.approvals:
            why = f" ({approval.decided_by}: {approval.note})" if approval.note else ""
            facts.append(f"Approval {approval.decision}: {approval.subject}{why}.")
        if self.worktree is not None:
            tree = self.worktree
            facts.append(
                f"Worktree {tree.path} on branch {tree.branch}: {tree.commits_ahead} commit(s) "
                f"ahead, {tree.files_changed} file(s) changed (+{tree.insertions} "
                f"-{tree.deletions})."
            )
        usage = self.turn_usage or self.usage
        if usage is not None:
            facts.append(
                f"Tokens: {usage.input_tokens} in ({usage.cached_input_tokens} cached), "
                f"{usage.output_tokens} out."
            )
        facts += [f"Warning: {warning}" for warning in self.warnings]
        return "\n".join(lines) + "\n\n" + "\n".join(facts)


def _command_text(command: CommandSummary) -> str:
    text = f"$ {command.command} (exit {command.exit_code})"
    if command.status is not None:
        text += f" [{command.status}]"
    return text


def _shortened(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _tail(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"[{len(text) - limit} earlier characters left out]\n" + text[-limit:]


class TurnInfo(msgspec.Struct, kw_only=True):
    at: str
    operation: str
    prompt_preview: str
    status: str
    final_message_preview: str | None = None


class SessionInfo(msgspec.Struct, kw_only=True):
    name: str
    thread_id: str
    created_at: str
    updated_at: str
    cwd: str | None = None
    model: str | None = None
    turns: int = 0
    last_status: str | None = None
    forked_from: str | None = None
    usage: Usage | None = None
    recent_turns: list[TurnInfo] | None = None

    @classmethod
    def from_record(cls, record: SessionRecord, *, with_turns: bool = False) -> SessionInfo:
        return cls(
            name=record.name,
            thread_id=record.thread_id,
            created_at=_iso(record.created_at),
            updated_at=_iso(record.updated_at),
            cwd=record.cwd,
            model=record.model,
            turns=record.turns,
            last_status=record.last_status,
            forked_from=record.forked_from,
            usage=record.last_usage,
            recent_turns=[
                TurnInfo(
                    at=_iso(t.at),
                    operation=t.operation,
                    prompt_preview=t.prompt_preview,
                    status=t.status,
                    final_message_preview=t.final_message_preview,
                )
                for t in record.recent_turns
            ]
            if with_turns
            else None,
        )


class SessionDeleted(msgspec.Struct, kw_only=True):
    """What a delete did: deleting a name that does not exist is not an error."""

    name: str
    deleted: bool
    thread_id: str | None = None
    """The thread the name pointed at; codex keeps it, resumable by thread id."""


JobState = Literal["queued", "running", "completed", "failed", "cancelled", "lost"]
"""``lost``: the server running the job stopped before it ended (see ``codex_bridge.job_store``)."""


class JobInfo(msgspec.Struct, kw_only=True):
    job_id: str
    kind: Literal["run", "resume", "fork"]
    state: JobState
    created_at: str
    started_at: str | None = None
    finished_at: str | None = None
    session_name: str | None = None
    prompt_preview: str = ""
    progress: list[str] = msgspec.field(default_factory=list)
    """The latest progress lines (at most 20)."""
    outcome: RunOutcome | None = None
    error: str | None = None
    thread_id: str | None = None
    """The codex thread, once codex has started it (resumable even if the job was lost)."""
    cwd: str | None = None
    """The directory codex runs in."""


class JobsWaited(msgspec.Struct, kw_only=True):
    """What a wait for several jobs found."""

    mode: Literal["any", "all"]
    jobs: list[JobInfo]
    finished: list[str]
    """Ids of the jobs that have ended (in any final state)."""
    pending: list[str]
    """Ids of the jobs still queued or running."""


class SteerInfo(msgspec.Struct, kw_only=True):
    """Input added to a running turn."""

    thread_id: str
    turn_id: str
    job_id: str | None = None


class DoctorCheck(msgspec.Struct, kw_only=True):
    name: str
    ok: bool
    detail: str


class DoctorReport(msgspec.Struct, kw_only=True):
    ok: bool
    bridge_version: str = __version__
    """This codex-local-bridge's version."""
    binary: str | None = None
    binary_source: str | None = None
    version: str | None = None
    logged_in: bool | None = None
    store_path: str = ""
    sessions: int | None = None
    engine: EngineStatus | None = None
    checks: list[DoctorCheck] = msgspec.field(default_factory=list)


class ProgressUpdate(msgspec.Struct, kw_only=True, frozen=True):
    progress: int
    """Increases by one for each event described."""
    message: str
    event: ThreadEvent | None = None
    queued: bool = False
    """True for the notice that the run waits for a free codex slot."""


ProgressCallback = Callable[[ProgressUpdate], "Awaitable[None] | None"]


def _iso(timestamp: float | None) -> str:
    if timestamp is None:
        return ""
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat(timespec="seconds")


# --------------------------------------------------------------------------- the service


class _Job:
    def __init__(self, info: JobInfo, task: asyncio.Task[RunOutcome] | None = None) -> None:
        self.info = info
        self.task = task
        self.thread_id: str | None = None


class BridgeService:
    """The operations of codex-bridge, shared by every front end."""

    def __init__(
        self, policy: BridgePolicy | None = None, *, client: CodexLocalClient | None = None
    ) -> None:
        self.policy = policy or BridgePolicy()
        self.depth = nesting_depth()
        self.engine: EngineTransport | None = None
        self.client = client or self._make_client(self.policy)
        self._slots: asyncio.Semaphore | None = None
        self._jobs: dict[str, _Job] = {}
        self._job_numbers = itertools.count(1)
        self._live: set[asyncio.Task[Any]] = set()
        self._retired_clients: list[CodexLocalClient] = []
        self.changes = ChangeFeed()
        """Change notices (sessions, jobs) for front ends that push them."""
        self._worktree_dirs: dict[int, str] = {}
        """id() of the params of runs that go to a worktree → the worktree."""
        self._thread_dirs: dict[str, str] = {}
        """Where this server ran threads that have no session, for later resumes."""
        self._job_store = JobStore.beside(self.policy.store_path)
        for record in self._job_store.history():  # earlier servers' jobs, lost ones marked
            with contextlib.suppress(msgspec.ValidationError):
                info = msgspec.convert(record, JobInfo)
                self._jobs.setdefault(info.job_id, _Job(info))
                if info.thread_id and info.cwd:
                    self._thread_dirs[info.thread_id] = info.cwd

    # ----------------------------------------------------------------- policy
    def reconfigure(self, policy: BridgePolicy) -> None:
        """Use ``policy`` for later calls (e.g. an editor changed its settings).

        Running calls finish under the limits they started with. A new codex binary or store
        path gets a new client; the old one is closed by :meth:`aclose`."""
        old, self.policy = self.policy, policy
        if policy.max_concurrency != old.max_concurrency:
            self._slots = None  # runs holding a slot release it on the old semaphore
        if (policy.codex_bin, policy.store_path, policy.engine) != (
            old.codex_bin,
            old.store_path,
            old.engine,
        ):
            self._retired_clients.append(self.client)
            self.client = self._make_client(policy)

    def _make_client(self, policy: BridgePolicy) -> CodexLocalClient:
        client, self.engine = make_client(
            codex_bin=policy.codex_bin,
            session_store=JsonFileSessionStore(policy.store_path),
            engine=policy.engine,
            idle_shutdown_seconds=policy.engine_idle_seconds,
            env=child_environment(self.depth),
        )
        return client

    def start_engine_check(self) -> None:
        """Start finding out, in the background, which engine serves this codex (servers call
        this once their loop runs; turns wait for the answer)."""
        if self.engine is not None:
            self.engine.start_check()

    def engine_status(self) -> EngineStatus | None:
        return None if self.engine is None else self.engine.status()

    def _semaphore(self) -> asyncio.Semaphore:
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.policy.max_concurrency)
        return self._slots

    def _sandbox(self, requested: SandboxMode | None) -> SandboxMode:
        sandbox = SandboxMode(requested) if requested else self.policy.default_sandbox
        ceiling = self.policy.sandbox_ceiling
        if SANDBOX_RANK[sandbox] > SANDBOX_RANK[ceiling]:
            raise PolicyRefused(
                f"sandbox {sandbox.value!r} is above this server's ceiling {ceiling.value!r}; "
                f"ask for {ceiling.value!r} or less",
                field="sandbox",
            )
        return sandbox

    def _directory(self, path: str | None, *, what: str = "cwd") -> str:
        return self._inside_roots(path, what=what, is_kind=os.path.isdir, kind="directory")

    def checked_directory(self, path: str | None, *, what: str = "cwd") -> str:
        """``path`` resolved, when it is a directory inside the allowed roots (else
        BridgeError); None is the default cwd."""
        return self._directory(path, what=what)

    def checked_file(self, path: str, *, what: str = "image") -> str:
        """``path`` resolved, when it is a file inside the allowed roots (else BridgeError)."""
        return self._inside_roots(path, what=what, is_kind=os.path.isfile, kind="file")

    def _inside_roots(
        self, path: str | None, *, what: str, is_kind: Callable[[str], bool], kind: str
    ) -> str:
        """``path`` (relative to the default cwd), symlinks resolved, when it lies inside the
        allowed roots and is an existing ``kind``.

        The roots are checked before anything looks at the file system beyond resolving, and
        a refusal names the path as given: it never tells whether a path outside the roots
        exists (nor where a symlink outside them points)."""
        shown = "the default cwd" if path is None else repr(path[:200])
        if path is not None and (
            not path or "\0" in path or len(path) > _MAX_PATH_LENGTH or not path.strip()
        ):
            raise PolicyRefused(
                f"{what} must be a non-empty path of at most {_MAX_PATH_LENGTH} characters",
                field=what,
            )
        base = self.policy.default_cwd or os.getcwd()
        joined = base if path is None else os.path.join(base, os.path.expanduser(path))
        resolved = os.path.realpath(joined)
        roots = self.policy.allowed_roots
        if roots and not any(Path(resolved).is_relative_to(root) for root in roots):
            raise PolicyRefused(
                f"{what} {shown} is outside the allowed roots; use a path inside one of: "
                + ", ".join(roots),
                field=what,
            )
        if not is_kind(resolved):
            raise InvalidRequest(f"{what} {shown} is not an existing {kind}", field=what)
        return resolved

    def _overrides(self, overrides: dict[str, Any]) -> dict[str, Any]:
        return check_config_overrides(overrides, self.policy.allowed_config_keys)

    def _approval(self, requested: str | None) -> ApprovalPolicy:
        approval = ApprovalPolicy(requested) if requested else ApprovalPolicy.NEVER
        offered = self.policy.offered_approvals()
        if approval not in offered:
            raise PolicyRefused(
                f"approval_policy {approval.value!r} is not allowed on this server; "
                f"ask for one of: {', '.join(p.value for p in offered)}",
                field="approval_policy",
            )
        return approval

    def _model(self, model: str | None) -> str | None:
        problem = None if model is None else SAFE_CONFIG_KEYS["model"](model)
        if problem is not None:
            raise PolicyRefused(f"model {problem}", field="model")
        return model or self.policy.default_model

    def _options(self, params: RunParams | ResumeParams | ForkParams) -> dict[str, Any]:
        """The typed codex options, within the policy (network access only where allowed)."""
        if params.network_access and not self.policy.allow_network:
            raise PolicyRefused(
                "network_access is not allowed on this server (the operator can allow it at "
                "launch with --allow-network)",
                field="network_access",
            )
        for name in ("developer_instructions", "base_instructions"):
            text = getattr(params, name)
            if text is not None and (len(text) > _MAX_INSTRUCTIONS or "\x00" in text):
                raise InvalidRequest(
                    f"{name} must be text of at most {_MAX_INSTRUCTIONS:,} characters",
                    field=name,
                )
        return {
            "reasoning_effort": params.reasoning_effort or self.policy.default_reasoning_effort,
            "reasoning_summary": params.reasoning_summary,
            "web_search": params.web_search,
            "network_access": params.network_access,
            "developer_instructions": params.developer_instructions,
            "base_instructions": params.base_instructions,
        }

    def _profile(self, profile: str | None) -> str | None:
        if profile is not None and "profile" not in self.policy.allowed_config_keys:
            raise PolicyRefused(
                "profile is not allowed on this server: a codex profile can change the sandbox, "
                "the approval policy, the model provider and more. Use the model, sandbox and "
                "config_overrides arguments; the operator can allow profiles at launch "
                "(--allow-config-key profile)",
                field="profile",
            )
        return profile

    def _timeouts(
        self, timeout: float | None, idle: float | None
    ) -> tuple[float, float | None, list[str]]:
        notes: list[str] = []
        total = self.policy.default_timeout_seconds if timeout is None else timeout
        if total <= 0:
            raise InvalidRequest("timeout_seconds must be positive", field="timeout_seconds")
        if total > self.policy.max_timeout_seconds:
            notes.append(
                f"timeout lowered from {total:g}s to the server maximum "
                f"{self.policy.max_timeout_seconds:g}s"
            )
            total = self.policy.max_timeout_seconds
        idle_value = self.policy.idle_timeout_seconds if idle is None else idle
        if idle_value is not None and idle_value <= 0:
            raise InvalidRequest(
                "idle_timeout_seconds must be positive", field="idle_timeout_seconds"
            )
        return total, idle_value, notes

    def _request(
        self, params: RunParams | ResumeParams | ForkParams, cwd: str | None
    ) -> CodexExecRequest:
        # The bridge always decides the sandbox and the approval policy itself; nothing a
        # caller passes (overrides, profiles) may name either.
        fields: dict[str, Any] = {
            "prompt": params.prompt,
            "model": self._model(params.model),
            "sandbox": self._sandbox(params.sandbox),
            "approval_policy": ApprovalPolicy.NEVER,
            "cwd": cwd,
        }
        if not params.prompt.strip():
            raise InvalidRequest("prompt must not be empty", field="prompt")
        fields.update(self._options(params))
        fields["config_overrides"] = dict(self.policy.default_config)
        if isinstance(params, (RunParams, ResumeParams)):
            fields["approval_policy"] = self._approval(params.approval_policy)
            fields["config_overrides"].update(self._overrides(params.config_overrides))
            fields["output_schema"] = _checked_schema(params.output_schema)
            fields["images"] = tuple(self.checked_file(p) for p in params.images)
        if isinstance(params, RunParams):
            fields["profile"] = self._profile(params.profile) or self.policy.default_profile
            fields["add_dirs"] = tuple(self._directory(d, what="add_dir") for d in params.add_dirs)
        return CodexExecRequest(**fields)

    # ----------------------------------------------------------------- operations
    async def run(
        self,
        params: RunParams,
        *,
        on_progress: ProgressCallback | None = None,
        on_event: EventCallback | None = None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> RunOutcome:
        """Start a new thread (recorded as a session when ``session_name`` is given).

        ``on_progress`` gets a described update per notable event; ``on_event`` (also on
        resume and fork) sees every raw event, for callers that relay the stream itself;
        ``on_approval`` asks the person about codex's approval requests (see ``_operate``).
        """
        start: Callable[..., Awaitable[Any]] = self.client.run_async
        if params.session_name:
            start = functools.partial(
                self.client.start_thread_async, session_name=params.session_name
            )
        return await self._operate(
            params, start, on_progress, on_event, on_approval, approvals_unavailable
        )

    async def resume(
        self,
        params: ResumeParams,
        *,
        on_progress: ProgressCallback | None = None,
        on_event: EventCallback | None = None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> RunOutcome:
        """Continue a thread named by session name or thread id (exactly one)."""
        start = functools.partial(
            self.client.resume_async, session_name=params.session_name, thread_id=params.thread_id
        )
        return await self._operate(
            params, start, on_progress, on_event, on_approval, approvals_unavailable
        )

    async def fork(
        self,
        params: ForkParams,
        *,
        on_progress: ProgressCallback | None = None,
        on_event: EventCallback | None = None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> RunOutcome:
        """Fork a thread into a new one (optionally recorded as ``new_session_name``)."""
        start = functools.partial(
            self.client.fork_async,
            session_name=params.session_name,
            thread_id=params.thread_id,
            new_session_name=params.new_session_name,
        )
        return await self._operate(
            params, start, on_progress, on_event, on_approval, approvals_unavailable
        )

    def checked_cwd(self, params: RunParams | ResumeParams | ForkParams) -> str:
        """Where ``params`` would run codex, after every policy check (else BridgeError)."""
        return self._checked_request(params).cwd or self._directory(None)

    def _checked_request(self, params: RunParams | ResumeParams | ForkParams) -> CodexExecRequest:
        """Every policy and argument check, before anything runs: the request to send."""
        if self.depth >= self.policy.max_depth:
            raise PolicyRefused(
                f"this codex-bridge runs inside a codex run that codex-bridge started ("
                f"{self.depth} level(s) deep); starting codex again is refused to prevent "
                f"recursion (max_depth {self.policy.max_depth}). Do the work directly instead.",
            )
        if isinstance(params, RunParams):
            self._new_session_name(params.session_name, params.replace_session)
            return self._request(params, self._directory(params.cwd))
        self._one_target(params.session_name, params.thread_id)
        if isinstance(params, ForkParams):
            self._new_session_name(params.new_session_name, params.replace_session)
        cwd = getattr(params, "cwd", None)
        return self._request(
            params, self._directory(cwd) if cwd is not None else self._thread_cwd(params)
        )

    def _thread_cwd(self, params: ResumeParams | ForkParams) -> str:
        """Where a resume or fork runs: the session's recorded directory, else the default,
        checked against the policy either way.

        ``codex exec resume`` / ``fork`` run the thread in their process's working directory,
        not in the one the thread was started in, so the bridge always names a checked one."""
        if params.session_name is not None:
            record: SessionRecord | None = self._record(params.session_name)
        else:
            record = self._store_call(
                lambda: next(
                    (r for r in self.client.list_sessions() if r.thread_id == params.thread_id),
                    None,
                )
            )
        recorded = record.cwd if record is not None else None
        if recorded is None and params.thread_id is not None:
            recorded = self._thread_dirs.get(params.thread_id)
        return self._directory(recorded, what="the session's cwd" if recorded else "cwd")

    def _new_session_name(self, name: str | None, replace: bool) -> None:
        """Refuse to point an existing session at another thread unless asked to."""
        if name is None or replace:
            return
        if any(r.name == name for r in self._store_call(self.client.list_sessions)):
            raise SessionExists(
                f"session {name!r} already exists; pass replace_session=true to point it at "
                "the new thread, or choose another name",
                field="session_name",
            )

    async def _operate(
        self,
        params: RunParams | ResumeParams | ForkParams,
        start: Callable[..., Awaitable[Any]],
        on_progress: ProgressCallback | None,
        on_event: EventCallback | None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> RunOutcome:
        """Policy checks, a concurrency slot, then one SDK operation.

        ``on_approval`` asks the person about codex's approval requests (else they are
        declined, with ``approvals_unavailable`` as the reason). Approving never lets codex
        leave its sandbox unless this server's ceiling is danger-full-access."""
        if getattr(params, "worktree", False):
            return await self._in_worktree(
                params, start, on_progress, on_event, on_approval, approvals_unavailable
            )
        request = checked = self._checked_request(params)
        if id(params) in self._worktree_dirs:
            request = msgspec.structs.replace(request, cwd=self._worktree_dirs[id(params)])
        # Review mode (the language server) runs codex in a private copy of the workspace.
        relocated = _RUN_DIRECTORY.get()
        if relocated is not None:
            request = msgspec.structs.replace(request, cwd=relocated)
        total, idle, notes = self._timeouts(params.timeout_seconds, params.idle_timeout_seconds)
        reporter = _Reporter(on_progress, on_event)
        approvals = handling_approvals(
            on_approval,
            timeout_seconds=self.policy.approval_timeout_seconds,
            allow_leaving_sandbox=self.policy.sandbox_ceiling is SandboxMode.DANGER_FULL_ACCESS,
            unavailable_reason=approvals_unavailable,
        )
        async with self._slot(reporter):
            with approvals:
                result = await self._guard(
                    start(
                        request=request,
                        timeout_seconds=total,
                        idle_timeout_seconds=idle,
                        raise_on_error=False,
                        on_event=reporter.on_event,
                    )
                )
        if isinstance(result, tuple):  # (session, result) from start_thread and fork
            result = result[1]
        if relocated is not None and result.session_name:
            self._restore_cwd(result.session_name, relocated, checked.cwd)
        outcome = _outcome(result, notes, params.detail)
        thread_dir = checked.cwd if relocated is not None else request.cwd
        if outcome.thread_id and thread_dir:
            self._thread_dirs[outcome.thread_id] = thread_dir
        if outcome.session_name:
            self.changes.emit(Change(kind="sessions"))
            self.changes.emit(Change(kind="session", key=outcome.session_name))
        return outcome

    def _worktree_source(self, params: RunParams | ResumeParams | ForkParams) -> tuple[str, ...]:
        """(top level, git common dir, HEAD) of the repository a worktree run starts from,
        after the policy checks; the worktree's place must be inside the allowed roots."""
        cwd = self._checked_request(params).cwd or self._directory(None)
        try:
            toplevel, common_dir, head = repository(cwd)
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="worktree") from None
        self._directory(common_dir, what="the repository's git directory (worktree)")
        return toplevel, common_dir, head

    async def _in_worktree(
        self,
        params: RunParams | ResumeParams | ForkParams,
        start: Callable[..., Awaitable[Any]],
        on_progress: ProgressCallback | None,
        on_event: EventCallback | None,
        on_approval: ApprovalHandler | None,
        approvals_unavailable: str | None,
    ) -> RunOutcome:
        toplevel, common_dir, head = self._worktree_source(params)
        name = _WORKTREE_NAME.get()
        if name is None:
            fork = isinstance(params, ForkParams)
            label = params.new_session_name if isinstance(params, ForkParams) else None
            label = label if fork else getattr(params, "session_name", None)
            name = label or f"{'fork' if fork else 'run'}-{uuid.uuid4().hex[:6]}"
        try:
            tree = await add_worktree(toplevel, common_dir, head, name)
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="worktree") from None
        inner = msgspec.structs.replace(params, worktree=False)
        self._worktree_dirs[id(inner)] = self._directory(tree.path, what="worktree")
        try:
            outcome = await self._operate(
                inner, start, on_progress, on_event, on_approval, approvals_unavailable
            )
        finally:
            self._worktree_dirs.pop(id(inner), None)
        outcome.worktree = await report(tree)
        return outcome

    def _restore_cwd(self, name: str, relocated: str, cwd: str | None) -> None:
        """A session started in an isolated copy resumes where the caller asked to run."""

        def change(record: SessionRecord | None) -> SessionRecord | None:
            if record is not None and record.cwd == relocated:
                record.cwd = cwd
            return record

        with contextlib.suppress(SessionError, CodexUsageError):
            self.client.session_store.update(name, change)

    @staticmethod
    def _one_target(session_name: str | None, thread_id: str | None) -> None:
        if (session_name is None) == (thread_id is None):
            raise InvalidRequest(
                "name exactly one of session_name or thread_id", field="session_name"
            )
        if thread_id is not None:
            try:
                uuid.UUID(thread_id)
            except ValueError:
                raise InvalidRequest(
                    f"{thread_id[:80]!r} is not a codex thread id (a UUID); use session_name "
                    "for names",
                    field="thread_id",
                ) from None

    async def _guard(self, operation: Awaitable[Any]) -> Any:
        """Map SDK errors raised before a run starts to BridgeErrors."""
        try:
            return await operation
        except CodexError as exc:
            raise from_sdk_error(exc) from exc

    def _slot(self, reporter: _Reporter) -> _Slot:
        return _Slot(self._semaphore(), reporter, self._live)

    # ----------------------------------------------------------------- sessions
    def _record(self, name: str) -> SessionRecord:
        try:
            return self.client.get_session(name)
        except CodexError as exc:
            raise from_sdk_error(
                exc, field="session_name", hint="list sessions to see the names that exist"
            ) from exc

    def list_sessions(self) -> list[SessionInfo]:
        return [SessionInfo.from_record(r) for r in self._store_call(self.client.list_sessions)]

    def show_session(self, name: str) -> SessionInfo:
        return SessionInfo.from_record(self._record(name), with_turns=True)

    def rename_session(self, name: str, new_name: str) -> SessionInfo:
        record = self._store_call(lambda: self.client.rename_session(name, new_name))
        self._sessions_changed(name, new_name)
        return SessionInfo.from_record(record)

    def delete_session(self, name: str) -> SessionDeleted:
        """Forget ``name``; a name that does not exist is already forgotten (idempotent)."""
        try:
            record = self.client.get_session(name)
            self.client.delete_session(name)
        except SessionNotFoundError:
            return SessionDeleted(name=name, deleted=False)
        except (SessionError, CodexUsageError) as exc:
            raise from_sdk_error(exc) from exc
        self._sessions_changed(name)
        return SessionDeleted(name=name, deleted=True, thread_id=record.thread_id)

    def _sessions_changed(self, *names: str) -> None:
        self.changes.emit(Change(kind="sessions"))
        for name in names:
            self.changes.emit(Change(kind="session", key=name))

    @staticmethod
    def _store_call(call: Callable[[], _T]) -> _T:
        try:
            return call()
        except (SessionError, CodexUsageError) as exc:
            raise from_sdk_error(exc) from exc

    # ----------------------------------------------------------------- jobs
    def start_job(
        self,
        kind: Literal["run", "resume", "fork"],
        params: RunParams | ResumeParams | ForkParams,
        *,
        on_progress: ProgressCallback | None = None,
        on_approval: ApprovalHandler | None = None,
        approvals_unavailable: str | None = None,
    ) -> JobInfo:
        """Start an operation in the background and return at once.

        ``on_progress`` also receives the job's progress updates (for front ends that stream
        them, such as the language server's work-done progress)."""
        # Validate now, so that bad arguments fail the call rather than the job.
        request = self._checked_request(params)
        if getattr(params, "worktree", False):
            self._worktree_source(params)
        job_id = f"job-{next(self._job_numbers)}-{uuid.uuid4().hex[:6]}"
        info = JobInfo(
            job_id=job_id,
            kind=kind,
            state="queued",
            created_at=_iso(time.time()),
            session_name=getattr(params, "session_name", None),
            prompt_preview=params.prompt[:120],
            thread_id=getattr(params, "thread_id", None) if kind == "resume" else None,
            cwd=request.cwd,
        )
        job = _Job(info)

        def on_event(event: ThreadEvent) -> None:
            if isinstance(event, ThreadStarted) and event.thread_id != info.thread_id:
                info.thread_id = event.thread_id
                self._job_changed(info)

        async def progress(update: ProgressUpdate) -> None:
            if isinstance(update.event, ThreadStarted):
                job.thread_id = update.event.thread_id
            if info.state == "queued" and not update.queued:
                info.state = "running"
                info.started_at = _iso(time.time())
                self._job_changed(info)
            info.progress.append(update.message)
            del info.progress[:-20]
            if on_progress is not None:
                forwarded = on_progress(update)
                if forwarded is not None:
                    await forwarded

        async def work() -> RunOutcome:
            _WORKTREE_NAME.set(job_id)
            operation: Callable[..., Awaitable[RunOutcome]] = (
                self.run
                if isinstance(params, RunParams)
                else self.resume
                if isinstance(params, ResumeParams)
                else self.fork
            )
            try:
                outcome = await operation(
                    params,
                    on_progress=progress,
                    on_event=on_event,
                    on_approval=on_approval,
                    approvals_unavailable=approvals_unavailable,
                )
            except asyncio.CancelledError:
                info.state = "cancelled"
                raise
            except BridgeError as exc:
                info.state, info.error = "failed", exc.message
                raise
            except Exception as exc:  # a job must always end in a readable state
                info.state, info.error = "failed", f"internal error: {exc!r}"
                raise
            finally:
                info.finished_at = _iso(time.time())
            info.outcome = outcome
            info.state = (
                "completed"
                if outcome.ok
                else ("cancelled" if outcome.status == "cancelled" else "failed")
            )
            return outcome

        job.task = asyncio.ensure_future(work())
        job.task.add_done_callback(_consume_exception)
        job.task.add_done_callback(lambda _: self._job_changed(info))
        self._jobs[job_id] = job
        self._prune_jobs()
        self._job_changed(info)
        return info

    def _job_changed(self, info: JobInfo) -> None:
        """Record the job's new state and tell the listeners."""
        if info.outcome is not None and info.outcome.thread_id:
            info.thread_id = info.outcome.thread_id
        self._job_store.save(msgspec.to_builtins(info))
        self.changes.emit(Change(kind="job", key=info.job_id))

    def _job(self, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None:
            raise JobNotFound(f"no job {job_id!r}; list jobs to see the ids", field="job_id")
        return job

    def job_status(self, job_id: str) -> JobInfo:
        return self._job(job_id).info

    async def wait_job(self, job_id: str, timeout_seconds: float = 60.0) -> JobInfo:
        """Wait until the job ends or ``timeout_seconds`` pass; the job keeps running."""
        job = self._job(job_id)
        if job.task is not None and not job.task.done():
            await asyncio.wait({job.task}, timeout=max(0.0, timeout_seconds))
        return job.info

    async def cancel_job(self, job_id: str) -> JobInfo:
        job = self._job(job_id)
        if job.task is not None and not job.task.done():
            job.task.cancel()
            await asyncio.wait({job.task})
            job.info.state = "cancelled"
        return job.info

    async def steer(
        self, prompt: str, *, job_id: str | None = None, thread_id: str | None = None
    ) -> SteerInfo:
        """Add ``prompt`` to the running turn of a job or a thread (warm engine only)."""
        if (job_id is None) == (thread_id is None):
            raise InvalidRequest("name exactly one of job_id or thread_id")
        if not prompt.strip():
            raise InvalidRequest("prompt must not be empty")
        if job_id is not None:
            job = self._job(job_id)
            if job.task is None or job.task.done():
                raise JobNotRunning(f"job {job_id} is not running")
            thread_id = job.thread_id
            if thread_id is None:
                raise JobNotRunning(f"job {job_id} has not started its turn yet; try again")
        assert thread_id is not None
        if self.engine is None:
            raise InvalidRequest("steering needs the app-server engine")
        turn_id = await self._guard(self.engine.steer(thread_id, prompt))
        return SteerInfo(thread_id=thread_id, turn_id=str(turn_id), job_id=job_id)

    async def wait_jobs(
        self, job_ids: list[str], mode: Literal["any", "all"], timeout_seconds: float = 60.0
    ) -> JobsWaited:
        """Wait until any (or all) of the jobs end, or ``timeout_seconds`` pass."""
        if not job_ids:
            raise InvalidRequest("job_ids must name at least one job", field="job_ids")
        jobs = [self._job(job_id) for job_id in dict.fromkeys(job_ids)]
        running = {j.task for j in jobs if j.task is not None and not j.task.done()}
        everything_running = len(running) == len(jobs)
        if running and (mode == "all" or everything_running):
            await asyncio.wait(
                running,
                timeout=max(0.0, timeout_seconds),
                return_when=asyncio.ALL_COMPLETED if mode == "all" else asyncio.FIRST_COMPLETED,
            )
        ended = [j.task is None or j.task.done() for j in jobs]
        return JobsWaited(
            mode=mode,
            jobs=[j.info for j in jobs],
            finished=[j.info.job_id for j, done in zip(jobs, ended, strict=True) if done],
            pending=[j.info.job_id for j, done in zip(jobs, ended, strict=True) if not done],
        )

    def list_jobs(self) -> list[JobInfo]:
        return [job.info for job in self._jobs.values()]

    def _prune_jobs(self) -> None:
        finished = [k for k, j in self._jobs.items() if j.task is not None and j.task.done()]
        for key in finished[: max(0, len(finished) - self.policy.max_finished_jobs)]:
            del self._jobs[key]

    # ----------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Cancel every job and live run; their codex process groups are killed."""
        tasks = [j.task for j in self._jobs.values() if j.task is not None and not j.task.done()]
        tasks += [t for t in self._live if not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        self._job_store.close()
        for client in [*self._retired_clients, self.client]:
            await client.aclose()

    # ----------------------------------------------------------------- doctor
    def doctor(self, *, login: bool = True) -> DoctorReport:
        """What the bridge found: codex binary and version, login, session store.

        ``login=False`` skips asking codex for its login status (a quick startup check)."""
        report = DoctorReport(ok=True, store_path=self.policy.store_path)
        checks = report.checks
        try:
            binary = self.client.binary
            report.binary, report.binary_source = binary.path, binary.source
            checks.append(
                DoctorCheck(name="codex", ok=True, detail=f"{binary.path} ({binary.source})")
            )
            report.version = self.client.version()
            found = parse_version(report.version)
            minimum = ".".join(map(str, MINIMUM_CODEX_VERSION))
            try:
                check_minimum(report.version, binary.path)
                checks.append(
                    DoctorCheck(
                        name="version", ok=True, detail=f"{report.version} (minimum {minimum})"
                    )
                )
            except CodexError as exc:
                checks.append(DoctorCheck(name="version", ok=False, detail=str(exc)))
            if found is None:
                checks.append(
                    DoctorCheck(name="version", ok=False, detail=f"cannot parse {report.version!r}")
                )
            report.engine = self.engine_status()
            if login and report.engine is not None and report.engine.engine == "checking":
                report.engine = describe_engine(self.policy.engine, binary.path)
            if report.engine is not None:
                detail = f"{report.engine.engine}: {report.engine.reason}"
                checks.append(DoctorCheck(name="engine", ok=True, detail=detail))
            if login:
                report.logged_in, detail = _login_status(binary.path)
                # Not fatal: an API key per call or a custom model provider also works.
                checks.append(DoctorCheck(name="login", ok=True, detail=detail))
        except CodexError as exc:
            checks.append(DoctorCheck(name="codex", ok=False, detail=str(exc)))
        try:
            report.sessions = len(self.client.list_sessions())
            checks.append(
                DoctorCheck(
                    name="session store",
                    ok=True,
                    detail=f"{self.policy.store_path} ({report.sessions} sessions)",
                )
            )
        except CodexError as exc:
            checks.append(DoctorCheck(name="session store", ok=False, detail=str(exc)))
        report.ok = all(check.ok for check in checks)
        return report


_T = TypeVar("_T")
_WORKTREE_NAME: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "codex_bridge_worktree_name", default=None
)
"""The name a job's worktree and branch get (its job id)."""


def _checked_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """Refuse an output_schema that is not a JSON Schema before codex sends it to the model."""
    if schema is not None:
        try:
            jsonschema.validators.validator_for(schema).check_schema(schema)
        except jsonschema.SchemaError as exc:
            where = "/".join(str(part) for part in exc.absolute_path) or "the top level"
            raise InvalidRequest(
                f"output_schema is not a valid JSON Schema at {where}: {exc.message}",
                field="output_schema",
            ) from None
    return schema


def _login_status(binary: str) -> tuple[bool | None, str]:
    try:
        completed = subprocess.run(
            login_status_argv(binary),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return None, f"could not ask codex: {exc}"
    text = (completed.stdout + completed.stderr).strip().splitlines()
    summary = text[-1] if text else ""
    if completed.returncode == 0:
        return True, summary or "logged in"
    return False, (summary or "not logged in") + " (an API key per call also works)"


def _outcome(result: CodexExecResult, notes: list[str], detail: Detail) -> RunOutcome:
    outcome = RunOutcome.from_result(result, detail)
    # The SDK scrubs what codex says; notes and messages are scrubbed once more on the way out.
    outcome.warnings = [scrub_secrets(text) for text in notes + outcome.warnings]
    if outcome.error is not None:
        outcome.error.message = scrub_secrets(outcome.error.message)
    return outcome


def _consume_exception(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()  # retrieved here; the job's state already records it


class _Reporter:
    """Numbers and describes events for a progress callback."""

    def __init__(
        self, callback: ProgressCallback | None, raw_callback: EventCallback | None = None
    ) -> None:
        self._callback = callback
        self._raw_callback = raw_callback
        self._count = 0
        self._live = LiveText()

    async def emit(
        self, message: str, event: ThreadEvent | None = None, *, queued: bool = False
    ) -> None:
        if self._callback is None:
            return
        self._count += 1
        update = ProgressUpdate(progress=self._count, message=message, event=event, queued=queued)
        outcome = self._callback(update)
        if outcome is not None:
            await outcome

    async def on_event(self, event: ThreadEvent) -> None:
        if self._raw_callback is not None:
            outcome = self._raw_callback(event)
            if outcome is not None:
                await outcome
        if isinstance(event, (AgentMessageDelta, CommandOutputDelta)):
            line = self._live.feed(event)
            if line is not None:
                await self.emit(line, event)
            return
        if isinstance(event, ItemCompleted):
            self._live.forget(event.item.id)
        message = describe_event(event)
        if message is not None:
            await self.emit(message, event)


class _Slot:
    """A concurrency slot; tells the caller when it has to queue."""

    def __init__(
        self, semaphore: asyncio.Semaphore, reporter: _Reporter, live: set[asyncio.Task[Any]]
    ) -> None:
        self._semaphore = semaphore
        self._reporter = reporter
        self._live = live
        self._task: asyncio.Task[Any] | None = None

    async def __aenter__(self) -> None:
        if self._semaphore.locked():
            await self._reporter.emit("queued: waiting for a free codex slot", queued=True)
        await self._semaphore.acquire()
        self._task = asyncio.current_task()
        if self._task is not None:
            self._live.add(self._task)

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._live.discard(self._task)
        self._semaphore.release()
