"""The bridge service: the operations every front end (MCP, LSP, CLI) exposes.

The import point for the service, its params and result Structs and the operation table::

    params.py      what each operation takes (field descriptions on the Structs), parse_params
    results.py     what operations return
    operations.py  OPERATIONS: name → params, result, what runs it, a one-line description
    core.py        BridgeService: checks a turn's request, runs it in a concurrency slot
    sessions.py    sessions, codex's threads, worktrees        (mixed into BridgeService)
    jobs.py        background jobs                              (mixed into BridgeService)
    turns.py       progress reports, slots, where a turn runs
    doctor.py      what the bridge finds about codex
"""

from __future__ import annotations

from ..errors import BridgeError
from .core import BridgeService
from .jobs import prune_finished
from .operations import OPERATIONS, Operation
from .params import (
    Detail,
    DoctorParams,
    ForkJobParams,
    ForkParams,
    JobIdParams,
    JobKind,
    JobStartParams,
    JobWaitParams,
    NoParams,
    OfferedApproval,
    ResumeJobParams,
    ResumeParams,
    RunJobParams,
    RunParams,
    SessionNameParams,
    SessionRenameParams,
    SteerParams,
    ThreadsListParams,
    TurnParams,
    WorktreeRemoveParams,
    WorktreesListParams,
    parse_params,
)
from .results import (
    CommandSummary,
    DoctorCheck,
    DoctorReport,
    FailureInfo,
    JobInfo,
    JobList,
    JobState,
    JobsWaited,
    ProgressCallback,
    ProgressUpdate,
    RunOutcome,
    SessionDeleted,
    SessionInfo,
    SessionList,
    SteerInfo,
    ThreadList,
    ThreadTarget,
    TurnInfo,
    WorktreeList,
    WorktreeRemoved,
)
from .turns import TurnHooks, running_in

__all__ = [
    "OPERATIONS",
    "BridgeError",
    "BridgeService",
    "CommandSummary",
    "Detail",
    "DoctorCheck",
    "DoctorParams",
    "DoctorReport",
    "FailureInfo",
    "ForkJobParams",
    "ForkParams",
    "JobIdParams",
    "JobInfo",
    "JobKind",
    "JobList",
    "JobStartParams",
    "JobState",
    "JobWaitParams",
    "JobsWaited",
    "NoParams",
    "OfferedApproval",
    "Operation",
    "ProgressCallback",
    "ProgressUpdate",
    "ResumeJobParams",
    "ResumeParams",
    "RunJobParams",
    "RunOutcome",
    "RunParams",
    "SessionDeleted",
    "SessionInfo",
    "SessionList",
    "SessionNameParams",
    "SessionRenameParams",
    "SteerInfo",
    "SteerParams",
    "ThreadList",
    "ThreadTarget",
    "ThreadsListParams",
    "TurnHooks",
    "TurnInfo",
    "TurnParams",
    "WorktreeList",
    "WorktreeRemoveParams",
    "WorktreeRemoved",
    "WorktreesListParams",
    "parse_params",
    "prune_finished",
    "running_in",
]
