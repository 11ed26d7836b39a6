"""Sessions (the bridge's names for codex threads), codex's own threads, and worktrees."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from codex_local_sdk import (
    CodexError,
    CodexLocalClient,
    CodexUsageError,
    SessionError,
    SessionNotFoundError,
    SessionRecord,
)

from ..changes import Change, ChangeFeed
from ..errors import BridgeError, InvalidRequest, from_sdk_error
from ..policy import BridgePolicy
from ..threads import codex_home, recent_threads
from ..worktrees import BRANCH_PREFIX, WorktreeError, list_worktrees, remove_worktree, repository
from .params import MAX_THREADS, ThreadsListParams, WorktreeRemoveParams, WorktreesListParams
from .results import (
    SessionDeleted,
    SessionInfo,
    ThreadList,
    ThreadTarget,
    WorktreeList,
    WorktreeRemoved,
)

__all__ = ["SessionsMixin"]

_T = TypeVar("_T")


class SessionsMixin:
    """The session, thread and worktree operations of
    :class:`~codex_bridge.service.BridgeService`."""

    policy: BridgePolicy
    client: CodexLocalClient
    changes: ChangeFeed
    _last_thread: ThreadTarget | None
    _last_thread_known: bool

    if TYPE_CHECKING:

        def checked_directory(self, path: str | None, *, what: str = "cwd") -> str: ...

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
        self._last_thread, self._last_thread_known = None, False  # look it up again
        self.changes.emit(Change(kind="sessions"))
        for name in names:
            self.changes.emit(Change(kind="session", key=name))

    @staticmethod
    def _store_call(call: Callable[[], _T]) -> _T:
        try:
            return call()
        except (SessionError, CodexUsageError) as exc:
            raise from_sdk_error(exc) from exc

    def continue_target(self) -> ThreadTarget | None:
        """The thread "continue" resumes: the last one this server ran, else the most
        recently updated session (None when there is neither)."""
        if not self._last_thread_known:
            self._last_thread_known = True
            try:
                sessions = self.list_sessions()
            except BridgeError:
                sessions = []
            if sessions:
                newest = max(sessions, key=lambda s: s.updated_at)
                self._last_thread = ThreadTarget(session_name=newest.name)
        return self._last_thread

    def _ran_thread(self, session_name: str | None, thread_id: str) -> None:
        self._last_thread = ThreadTarget(session_name=session_name, thread_id=thread_id)
        self._last_thread_known = True

    # ----------------------------------------------------------------- codex's threads
    def list_threads(self, params: ThreadsListParams) -> ThreadList:
        """Codex's own recent threads (from any client) in the allowed directories."""
        if not 1 <= params.limit <= MAX_THREADS:
            raise InvalidRequest(f"limit must be from 1 to {MAX_THREADS}", field="limit")
        under = self.checked_directory(params.cwd) if params.cwd is not None else None
        roots = self.policy.allowed_roots
        return ThreadList(
            threads=recent_threads(codex_home(), roots, limit=params.limit, cwd=under)
        )

    # ----------------------------------------------------------------- worktrees
    def _toplevel(self, cwd: str | None) -> str:
        directory = self.checked_directory(cwd)
        try:
            toplevel, common_dir, _ = repository(directory)
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="cwd") from None
        self.checked_directory(common_dir, what="the repository's git directory")
        return toplevel

    def list_worktrees(self, params: WorktreesListParams) -> WorktreeList:
        """The worktrees the bridge made in a repository."""
        try:
            return WorktreeList(worktrees=list_worktrees(self._toplevel(params.cwd)))
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="cwd") from None

    def remove_worktree(self, params: WorktreeRemoveParams) -> WorktreeRemoved:
        """Remove one of the bridge's worktrees (by branch), and the branch if asked."""
        if not params.branch.startswith(BRANCH_PREFIX):
            raise InvalidRequest(
                f"only the bridge's own worktrees (branches {BRANCH_PREFIX}…) can be removed",
                field="branch",
            )
        try:
            path = remove_worktree(
                self._toplevel(params.cwd),
                params.branch,
                delete_branch=params.delete_branch,
                force=params.force,
            )
        except WorktreeError as exc:
            raise InvalidRequest(str(exc), field="branch") from None
        return WorktreeRemoved(path=path, branch=params.branch, branch_deleted=params.delete_branch)
