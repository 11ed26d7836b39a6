"""The bridge service: the operations every front end (MCP, LSP, CLI) exposes.

Front ends parse their protocol's arguments into the params Structs (see
:func:`~codex_bridge.service.parse_params` and :data:`~codex_bridge.service.OPERATIONS`), call
a :class:`BridgeService` method, and render the returned Structs. Policy checks (through
:class:`~codex_bridge.policy.BridgePolicy`), concurrency limits, background jobs and progress
text all live here, once.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypedDict, TypeVar

import msgspec

from codex_local_sdk import (
    ApprovalPolicy,
    CodexError,
    CodexExecRequest,
    CodexExecResult,
    CodexLocalClient,
    CodexUsageError,
    EventCallback,
    JsonFileSessionStore,
    SandboxMode,
    SessionError,
    SessionRecord,
    handling_approvals,
)

from ..changes import Change, ChangeFeed
from ..engine import EngineStatus, EngineTransport, make_client
from ..errors import InvalidRequest, PolicyRefused, SessionExists, from_sdk_error
from ..job_store import JobStore
from ..nesting import child_environment, nesting_depth
from ..policy import BridgePolicy
from ..worktrees import WorktreeError, add_worktree, report, repository
from .doctor import examine
from .jobs import Job, JobsMixin
from .params import ForkParams, ResumeParams, RunParams, TurnParams
from .results import DoctorReport, JobInfo, RunOutcome, ThreadTarget
from .sessions import SessionsMixin
from .turns import RUN_DIRECTORY, WORKTREE_NAME, Reporter, Slot, TurnHooks, checked_schema

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["BridgeService"]

_T = TypeVar("_T")


class _Turn(TypedDict):
    """How the SDK runs one turn for the service."""

    timeout_seconds: float
    idle_timeout_seconds: float | None
    raise_on_error: bool
    on_event: EventCallback


_Start = Callable[[CodexExecRequest, _Turn], Awaitable[CodexExecResult]]
"""One SDK operation (run, start a thread, resume, fork) on a checked request."""


class BridgeService(SessionsMixin, JobsMixin):
    """The operations of codex-bridge, shared by every front end."""

    def __init__(
        self, policy: BridgePolicy | None = None, *, client: CodexLocalClient | None = None
    ) -> None:
        self.policy = policy or BridgePolicy()
        self.depth = nesting_depth()
        self.engine: EngineTransport | None = None
        self.client = client or self._make_client(self.policy)
        self._slots: asyncio.Semaphore | None = None
        self._jobs: dict[str, Job] = {}
        self._job_numbers = itertools.count(1)
        self._live: set[asyncio.Task[Any]] = set()
        self._retired_clients: list[CodexLocalClient] = []
        self.changes = ChangeFeed()
        """Change notices (sessions, jobs) for front ends that push them."""
        self._thread_dirs: dict[str, str] = {}
        """Where this server ran threads that have no session, for later resumes."""
        self._last_thread: ThreadTarget | None = None
        self._last_thread_known = False
        self._job_store = JobStore.beside(self.policy.store_path)
        for record in self._job_store.history():  # earlier servers' jobs, lost ones marked
            with contextlib.suppress(msgspec.ValidationError):
                info = msgspec.convert(record, JobInfo)
                self._jobs.setdefault(info.job_id, Job(info))
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

    def _request(self, params: TurnParams, cwd: str | None) -> CodexExecRequest:
        # The bridge always decides the sandbox and the approval policy itself; nothing a
        # caller passes (overrides, profiles) may name either.
        policy = self.policy
        fields: dict[str, Any] = {
            "prompt": params.prompt,
            "model": policy.checked_model(params.model),
            "sandbox": policy.checked_sandbox(params.sandbox),
            "approval_policy": ApprovalPolicy.NEVER,
            "cwd": cwd,
        }
        if not params.prompt.strip():
            raise InvalidRequest("prompt must not be empty", field="prompt")
        fields.update(
            reasoning_effort=params.reasoning_effort or policy.default_reasoning_effort,
            reasoning_summary=params.reasoning_summary,
            web_search=params.web_search,
            network_access=policy.checked_network(params.network_access),
            developer_instructions=policy.checked_instructions(
                "developer_instructions", params.developer_instructions
            ),
            base_instructions=policy.checked_instructions(
                "base_instructions", params.base_instructions
            ),
            config_overrides=dict(policy.default_config),
        )
        if isinstance(params, (RunParams, ResumeParams)):
            fields["approval_policy"] = policy.checked_approval(params.approval_policy)
            fields["config_overrides"] = policy.checked_overrides(params.config_overrides)
            fields["output_schema"] = checked_schema(params.output_schema)
            fields["images"] = tuple(self.checked_file(p) for p in params.images)
        if isinstance(params, RunParams):
            fields["profile"] = policy.checked_profile(params.profile)
            fields["add_dirs"] = tuple(self._directory(d, what="add_dir") for d in params.add_dirs)
        return CodexExecRequest(**fields)

    def _directory(self, path: str | None, *, what: str = "cwd") -> str:
        return self.policy.checked_path(path, what=what)

    def checked_directory(self, path: str | None, *, what: str = "cwd") -> str:
        """``path`` resolved, when it is a directory inside the allowed roots (else
        BridgeError); None is the default cwd."""
        return self.policy.checked_path(path, what=what)

    def checked_file(self, path: str, *, what: str = "image") -> str:
        """``path`` resolved, when it is a file inside the allowed roots (else BridgeError)."""
        return self.policy.checked_path(path, what=what, kind="file")

    # ----------------------------------------------------------------- operations
    async def run(self, params: RunParams, **hooks: Unpack[TurnHooks]) -> RunOutcome:
        """Start a new thread (recorded as a session when ``session_name`` is given).

        ``hooks`` (also on resume and fork): see :class:`~codex_bridge.service.TurnHooks`.
        """
        name = params.session_name

        async def start(request: CodexExecRequest, turn: _Turn) -> CodexExecResult:
            if not name:
                return await self.client.run_async(request, **turn)
            _, result = await self.client.start_thread_async(
                request=request, session_name=name, **turn
            )
            return result

        return await self._operate(params, start, hooks)

    async def resume(self, params: ResumeParams, **hooks: Unpack[TurnHooks]) -> RunOutcome:
        """Continue a thread named by session name or thread id (exactly one)."""

        async def start(request: CodexExecRequest, turn: _Turn) -> CodexExecResult:
            return await self.client.resume_async(
                request=request,
                session_name=params.session_name,
                thread_id=params.thread_id,
                **turn,
            )

        return await self._operate(params, start, hooks)

    async def fork(self, params: ForkParams, **hooks: Unpack[TurnHooks]) -> RunOutcome:
        """Fork a thread into a new one (optionally recorded as ``new_session_name``)."""

        async def start(request: CodexExecRequest, turn: _Turn) -> CodexExecResult:
            _, result = await self.client.fork_async(
                request=request,
                session_name=params.session_name,
                thread_id=params.thread_id,
                new_session_name=params.new_session_name,
                **turn,
            )
            return result

        return await self._operate(params, start, hooks)

    async def _turn(self, params: TurnParams, **hooks: Unpack[TurnHooks]) -> RunOutcome:
        """Run, resume or fork, by the type of ``params`` (a background job's work)."""
        if isinstance(params, RunParams):
            return await self.run(params, **hooks)
        if isinstance(params, ResumeParams):
            return await self.resume(params, **hooks)
        return await self.fork(params, **hooks)

    def checked_cwd(self, params: TurnParams) -> str:
        """Where ``params`` would run codex, after every policy check (else BridgeError)."""
        return self._checked_request(params).cwd or self._directory(None)

    def _checked_request(self, params: TurnParams) -> CodexExecRequest:
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
        self, params: TurnParams, start: _Start, hooks: TurnHooks, worktree: str | None = None
    ) -> RunOutcome:
        """Policy checks, a concurrency slot, then one SDK operation (in ``worktree``, a
        checked directory, when given).

        ``hooks["on_approval"]`` asks the person about codex's approval requests (else they
        are declined, with ``approvals_unavailable`` as the reason). Approving never lets
        codex leave its sandbox unless this server's ceiling is danger-full-access."""
        if worktree is None and not isinstance(params, ResumeParams) and params.worktree:
            return await self._in_worktree(params, start, hooks)
        request = checked = self._checked_request(params)
        if worktree is not None:
            request = msgspec.structs.replace(request, cwd=worktree)
        # Review mode (the language server) runs codex in a private copy of the workspace.
        relocated = RUN_DIRECTORY.get()
        if relocated is not None:
            request = msgspec.structs.replace(request, cwd=relocated)
        total, idle, notes = self.policy.timeouts(
            params.timeout_seconds, params.idle_timeout_seconds
        )
        reporter = Reporter(hooks.get("on_progress"), hooks.get("on_event"))
        approvals = handling_approvals(
            hooks.get("on_approval"),
            timeout_seconds=self.policy.approval_timeout_seconds,
            allow_leaving_sandbox=self.policy.sandbox_ceiling is SandboxMode.DANGER_FULL_ACCESS,
            unavailable_reason=hooks.get("approvals_unavailable"),
        )
        turn = _Turn(
            timeout_seconds=total,
            idle_timeout_seconds=idle,
            raise_on_error=False,
            on_event=reporter.on_event,
        )
        async with Slot(self._semaphore(), reporter, self._live):
            with approvals:
                result = await self._guard(start(request, turn))
        if relocated is not None and result.session_name:
            self._restore_cwd(result.session_name, relocated, checked.cwd)
        outcome = RunOutcome.from_result(result, params.detail, notes)
        thread_dir = checked.cwd if relocated is not None else request.cwd
        if outcome.thread_id:
            self._ran_thread(outcome.session_name, outcome.thread_id)
            if thread_dir:
                self._thread_dirs[outcome.thread_id] = thread_dir
        if outcome.session_name:
            self.changes.emit(Change(kind="sessions"))
            self.changes.emit(Change(kind="session", key=outcome.session_name))
        return outcome

    def _worktree_source(self, params: TurnParams) -> tuple[str, ...]:
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
        self, params: RunParams | ForkParams, start: _Start, hooks: TurnHooks
    ) -> RunOutcome:
        toplevel, common_dir, head = self._worktree_source(params)
        name = WORKTREE_NAME.get()
        if name is None:
            fork = isinstance(params, ForkParams)
            label = (
                params.new_session_name if isinstance(params, ForkParams) else params.session_name
            )
            name = label or f"{'fork' if fork else 'run'}-{uuid.uuid4().hex[:6]}"
        try:
            tree = await add_worktree(toplevel, common_dir, head, name)
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="worktree") from None
        inside = self._directory(tree.path, what="worktree")
        outcome = await self._operate(params, start, hooks, worktree=inside)
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

    async def _guard(self, operation: Awaitable[_T]) -> _T:
        """Map SDK errors raised before a run starts to BridgeErrors."""
        try:
            return await operation
        except CodexError as exc:
            raise from_sdk_error(exc) from exc

    # ----------------------------------------------------------------- lifecycle
    async def aclose(self) -> None:
        """Cancel every job and live run; their codex process groups are killed."""
        tasks = self._running_tasks()
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
        return examine(self, login=login)
