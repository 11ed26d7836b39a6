"""What operations return: Structs every front end renders (MCP structured content, LSP
results, the command line's JSON)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Literal

import msgspec

from codex_local_sdk import (
    ApprovalDecided,
    CodexExecResult,
    SessionRecord,
    ThreadEvent,
    Usage,
    event_to_dict,
    scrub_secrets,
)

from .. import __version__
from ..engine import EngineStatus
from ..progress import display_command
from ..threads import ThreadInfo
from ..worktrees import WorktreeInfo, WorktreeListing
from .params import Detail

__all__ = [
    "CommandSummary",
    "DoctorCheck",
    "DoctorReport",
    "FailureInfo",
    "JobInfo",
    "JobList",
    "JobState",
    "JobsWaited",
    "ProgressCallback",
    "ProgressUpdate",
    "RunOutcome",
    "SessionDeleted",
    "SessionInfo",
    "SessionList",
    "SteerInfo",
    "ThreadList",
    "ThreadTarget",
    "TurnInfo",
    "WorktreeList",
    "WorktreeRemoved",
]


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
    def from_result(
        cls, result: CodexExecResult, detail: Detail = "summary", notes: Sequence[str] = ()
    ) -> RunOutcome:
        """The outcome of ``result``, the bridge's ``notes`` first among the warnings.

        The SDK scrubs what codex says; warnings and the error message are scrubbed once
        more on the way out."""
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
            error=FailureInfo(kind=failure.kind.value, message=scrub_secrets(failure.message))
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
            warnings=[scrub_secrets(text) for text in [*notes, *result.warnings]],
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


class SessionList(msgspec.Struct, kw_only=True):
    sessions: list[SessionInfo]


class JobList(msgspec.Struct, kw_only=True):
    jobs: list[JobInfo]


class ThreadList(msgspec.Struct, kw_only=True):
    threads: list[ThreadInfo]
    """Codex's own recent threads in the allowed directories, newest first."""


class WorktreeList(msgspec.Struct, kw_only=True):
    worktrees: list[WorktreeListing]


class WorktreeRemoved(msgspec.Struct, kw_only=True):
    path: str
    branch: str
    branch_deleted: bool


class ThreadTarget(msgspec.Struct, kw_only=True, frozen=True):
    """A thread to continue: by session name when it has one, else by thread id."""

    session_name: str | None = None
    thread_id: str | None = None
