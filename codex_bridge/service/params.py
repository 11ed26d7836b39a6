"""What each operation takes: the params Structs, with the description of every field.

Untrusted arguments (a tool call, an LSP command, a command line) become one of these Structs
in one place, :func:`parse_params`; the service's methods take them typed. The field
descriptions here are the ones MCP schemas, LSP docs and CLI help show.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, TypeVar, overload

import msgspec

from codex_local_sdk import ReasoningEffort, ReasoningSummary, SandboxMode, WebSearchMode

from ..errors import InvalidRequest
from ..worktrees import BRANCH_PREFIX

__all__ = [
    "MAX_THREADS",
    "Detail",
    "DoctorParams",
    "ForkJobParams",
    "ForkParams",
    "JobIdParams",
    "JobKind",
    "JobStartParams",
    "JobWaitParams",
    "NoParams",
    "OfferedApproval",
    "ResumeJobParams",
    "ResumeParams",
    "RunJobParams",
    "RunParams",
    "SessionNameParams",
    "SessionRenameParams",
    "SteerParams",
    "ThreadsListParams",
    "TurnParams",
    "WorktreeRemoveParams",
    "WorktreesListParams",
    "parse_params",
]

_P = TypeVar("_P")
MAX_THREADS = 200
"""The most threads one ``threads.list`` returns."""

OfferedApproval = Literal["never", "on-failure", "on-request"]
"""The approval policies callers may name (``codex exec`` refuses ``untrusted``); the server's
``approval_ceiling`` may allow fewer."""

Detail = Literal["summary", "full"]
"""How much of a run a result carries: the summary a model reads, or everything."""

JobKind = Annotated[
    Literal["run", "resume", "fork"],
    msgspec.Meta(
        description=(
            "What the job does: run (new thread, codex_run arguments), resume (continue a "
            "thread, codex_resume arguments) or fork (codex_fork arguments)."
        )
    ),
]


class _Params(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class NoParams(_Params):
    """Operations that take no arguments (lists)."""


# --------------------------------------------------------------------------- turns


class _TurnParams(_Params):
    """What every turn takes (run, resume, fork)."""

    prompt: Annotated[
        str,
        msgspec.Meta(
            description=(
                "The task for Codex in plain language. Codex does not see your conversation, so "
                "say what to do, where, the constraints and how to check the result."
            )
        ),
    ]
    model: Annotated[
        str | None,
        msgspec.Meta(description="Model to use instead of the Codex configuration's default."),
    ] = None
    sandbox: Annotated[
        SandboxMode | None,
        msgspec.Meta(
            description=(
                "Where Codex's shell commands may write: read-only (inspect and answer), "
                "workspace-write (edit files in cwd), danger-full-access (anything)."
            )
        ),
    ] = None
    timeout_seconds: Annotated[
        float | None,
        msgspec.Meta(description="Give up (and stop Codex) after this many seconds."),
    ] = None
    idle_timeout_seconds: Annotated[
        float | None,
        msgspec.Meta(description="Give up when Codex produces no event for this many seconds."),
    ] = None
    reasoning_effort: Annotated[
        ReasoningEffort | None,
        msgspec.Meta(description="How hard the model thinks (models support a subset)."),
    ] = None
    reasoning_summary: Annotated[
        ReasoningSummary | None,
        msgspec.Meta(description="How much of its reasoning the model summarises."),
    ] = None
    web_search: Annotated[
        WebSearchMode | None,
        msgspec.Meta(
            description="Codex's web search tool: disabled, cached (OpenAI's index) or live."
        ),
    ] = None
    network_access: Annotated[
        bool | None,
        msgspec.Meta(
            description=(
                "Let Codex's commands use the network (workspace-write sandbox); refused unless "
                "the server's operator allowed network access."
            )
        ),
    ] = None
    developer_instructions: Annotated[
        str | None,
        msgspec.Meta(description="Extra instructions Codex follows for this turn."),
    ] = None
    base_instructions: Annotated[
        str | None,
        msgspec.Meta(description="Replace Codex's built-in instructions (rarely needed)."),
    ] = None
    detail: Annotated[
        Detail,
        msgspec.Meta(
            description=(
                "summary (default): the answer, thread id, commands with exit codes, files "
                "changed and usage. full: also every Codex event and each command's output "
                "(large; only when you need them)."
            )
        ),
    ] = "summary"


class _PromptParams(_TurnParams):
    """What a run and a resume take beyond that."""

    approval_policy: Annotated[
        OfferedApproval | None,
        msgspec.Meta(
            description=(
                "When Codex asks before acting: 'never' (the default) or 'on-request' (Codex "
                "asks the user, through an elicitation form, before running a command outside "
                "its sandbox; the answers are listed in the result's approvals)."
            )
        ),
    ] = None
    config_overrides: Annotated[
        dict[str, Any],
        msgspec.Meta(
            description=(
                'Extra Codex config values as {"dotted.key": value} (like codex -c), model and '
                "reasoning settings only; any other key is refused. Use the sandbox and "
                "approval_policy arguments for those."
            )
        ),
    ] = msgspec.field(default_factory=dict)
    output_schema: Annotated[
        dict[str, Any] | None,
        msgspec.Meta(
            description=(
                "A JSON Schema (object) the final answer must follow; the parsed answer is "
                "returned as structured_output."
            )
        ),
    ] = None
    images: Annotated[
        list[str], msgspec.Meta(description="Image files to attach to the prompt (paths).")
    ] = msgspec.field(default_factory=list)


_WORKTREE = msgspec.Meta(
    description=(
        "Run Codex in a new git worktree of cwd's repository, on a new branch "
        "codex-bridge/<session, job or run name>, leaving your checkout untouched; the result "
        "reports the worktree, its branch, commits ahead and a diff stat."
    )
)
_REPLACE_SESSION = (
    "Set true to point an existing session name at the new thread; without it an existing "
    "name is refused."
)
_CWD = "Working directory for Codex (absolute, or relative to the default)."


class RunParams(_PromptParams):
    """Start a new Codex thread."""

    cwd: Annotated[str | None, msgspec.Meta(description=_CWD)] = None
    session_name: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "Record the new thread under this name, to continue it later with "
                "codex_resume. Must not exist yet."
            )
        ),
    ] = None
    replace_session: Annotated[bool, msgspec.Meta(description=_REPLACE_SESSION)] = False
    profile: Annotated[
        str | None,
        msgspec.Meta(
            description=(
                "A profile from the Codex config.toml; refused unless the server's operator "
                "allowed profiles."
            )
        ),
    ] = None
    add_dirs: Annotated[
        list[str],
        msgspec.Meta(
            description="Additional writable directories for the workspace-write sandbox."
        ),
    ] = msgspec.field(default_factory=list)
    worktree: Annotated[bool, _WORKTREE] = False


class ResumeParams(_PromptParams):
    """Continue a thread by session name or thread id."""

    cwd: Annotated[
        str | None,
        msgspec.Meta(
            description="Working directory (default: the session's recorded one, else the default)."
        ),
    ] = None
    session_name: Annotated[
        str | None,
        msgspec.Meta(
            description="The session to continue (exactly one of session_name or thread_id)."
        ),
    ] = None
    thread_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The thread to continue (exactly one of session_name or thread_id)."
        ),
    ] = None


class ForkParams(_TurnParams):
    """Fork a thread into a new one and run a prompt on it."""

    session_name: Annotated[
        str | None,
        msgspec.Meta(description="The session to fork (exactly one of session_name or thread_id)."),
    ] = None
    thread_id: Annotated[
        str | None,
        msgspec.Meta(description="The thread to fork (exactly one of session_name or thread_id)."),
    ] = None
    new_session_name: Annotated[
        str | None, msgspec.Meta(description="Name to record the forked thread under.")
    ] = None
    replace_session: Annotated[bool, msgspec.Meta(description=_REPLACE_SESSION)] = False
    worktree: Annotated[bool, _WORKTREE] = False


TurnParams = RunParams | ResumeParams | ForkParams
"""The params of an operation that runs a codex turn."""


# --------------------------------------------------------------------------- jobs


class RunJobParams(RunParams, tag_field="kind", tag="run"):
    """A run started as a background job."""


class ResumeJobParams(ResumeParams, tag_field="kind", tag="resume"):
    """A resume started as a background job."""


class ForkJobParams(ForkParams, tag_field="kind", tag="fork"):
    """A fork started as a background job."""


JobStartParams = RunJobParams | ResumeJobParams | ForkJobParams
"""A background job: ``kind`` (default ``run``) and that operation's arguments."""

_JOB_ID = "A job id returned by codex_job_start (see codex_jobs_list)."


class JobIdParams(_Params):
    job_id: Annotated[str, msgspec.Meta(description=_JOB_ID)]


class JobWaitParams(_Params):
    """Wait for one job (``job_id``) or several (``job_ids``)."""

    job_id: Annotated[str | None, msgspec.Meta(description=_JOB_ID)] = None
    job_ids: Annotated[
        list[str] | None,
        msgspec.Meta(description="Several job ids to wait for (instead of job_id)."),
    ] = None
    mode: Annotated[
        Literal["any", "all"],
        msgspec.Meta(
            description="With job_ids: 'any' returns when one job ends, 'all' when every job has."
        ),
    ] = "any"
    wait_seconds: Annotated[
        float,
        msgspec.Meta(
            description=(
                "Return after at most this many seconds even if the job is still running "
                "(it keeps running)."
            )
        ),
    ] = 60.0


class SteerParams(_Params):
    """Input for a running turn (warm engine only)."""

    prompt: Annotated[
        str,
        msgspec.Meta(
            description="What to add to the running turn (a correction, a detail, a new priority)."
        ),
    ]
    job_id: Annotated[
        str | None,
        msgspec.Meta(description="The running job to steer (exactly one of job_id or thread_id)."),
    ] = None
    thread_id: Annotated[
        str | None,
        msgspec.Meta(
            description="The thread whose running turn to steer (exactly one of the two)."
        ),
    ] = None


# --------------------------------------------------------------------------- sessions and more


class SessionNameParams(_Params):
    name: Annotated[str, msgspec.Meta(description="The session name.")]


class SessionRenameParams(_Params):
    name: Annotated[str, msgspec.Meta(description="The session name.")]
    new_name: Annotated[str, msgspec.Meta(description="The new session name.")]


_REPOSITORY = msgspec.Meta(
    description="The repository (default: the server's default working directory)."
)


class ThreadsListParams(_Params):
    limit: Annotated[
        int,
        msgspec.Meta(
            description=f"How many threads to return, newest first (1-{MAX_THREADS}, default 20)."
        ),
    ] = 20
    cwd: Annotated[
        str | None,
        msgspec.Meta(
            description="Only threads under this directory (default: every allowed directory)."
        ),
    ] = None


class WorktreesListParams(_Params):
    cwd: Annotated[str | None, _REPOSITORY] = None


class WorktreeRemoveParams(_Params):
    branch: Annotated[
        str,
        msgspec.Meta(
            description=f"The worktree's branch ({BRANCH_PREFIX}…), from a result or the list."
        ),
    ]
    cwd: Annotated[str | None, _REPOSITORY] = None
    delete_branch: Annotated[
        bool,
        msgspec.Meta(description="Also delete the branch (its commits are lost unless merged)."),
    ] = False
    force: Annotated[
        bool,
        msgspec.Meta(
            description="Remove even when the worktree has uncommitted changes (they are lost)."
        ),
    ] = False


class DoctorParams(_Params):
    login: Annotated[
        bool,
        msgspec.Meta(description="Also ask codex for its login status (takes a moment)."),
    ] = True


# --------------------------------------------------------------------------- parsing


_FIELD_IN_MESSAGE = re.compile(r"(?:at `\$\.([A-Za-z_][\w-]*)|field `([A-Za-z_][\w-]*)`)")


def _field_of(exc: msgspec.ValidationError) -> str | None:
    """The argument a msgspec validation error is about ("... - at `$.prompt`", "missing
    required field `prompt`", "unknown field `bogus`"), when it names one."""
    found = _FIELD_IN_MESSAGE.search(str(exc))
    return (found.group(1) or found.group(2)) if found else None


@overload
def parse_params(kind: type[_P], data: Any) -> _P: ...
@overload
def parse_params(kind: object, data: Any) -> Any: ...
def parse_params(kind: Any, data: Any) -> Any:
    """Validate protocol arguments into a params Struct (or :data:`JobStartParams`), or raise
    a readable :class:`~codex_bridge.errors.InvalidRequest` naming the field at fault."""
    if kind is JobStartParams and isinstance(data, dict) and "kind" not in data:
        data = {**data, "kind": "run"}  # a job runs unless told otherwise
    try:
        return msgspec.convert(data, kind, strict=False)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(f"invalid arguments: {exc}", field=_field_of(exc)) from None
