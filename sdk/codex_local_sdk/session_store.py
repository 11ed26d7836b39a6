"""Named sessions: logical names mapped to codex thread ids, persisted across processes.

:class:`JsonFileSessionStore` is crash-safe and shared safely between processes (the SDK, the
``codex-bridge`` CLI, the MCP and LSP servers): every read-modify-write runs under one
cross-process lock, the file is replaced atomically after an fsync, it carries a schema
version, and a corrupt file is moved aside with a clear error, never overwritten. The file is
private (0600); a directory the store creates is private too (0700). Temp files of writers
that were killed mid-write are removed by the next writer.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypeVar, runtime_checkable

import msgspec

from .exceptions import (
    CodexUsageError,
    SessionExistsError,
    SessionNotFoundError,
    SessionStoreCorruptError,
    SessionStoreError,
)
from .models import SessionRecord

if sys.platform == "win32":  # pragma: no cover
    import msvcrt

    def _lock_fd(fd: int, *, blocking: bool) -> None:
        msvcrt.locking(fd, msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)

else:
    import fcntl

    def _lock_fd(fd: int, *, blocking: bool) -> None:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))


__all__ = [
    "MAX_SESSION_NAME_LENGTH",
    "InMemorySessionStore",
    "JsonFileSessionStore",
    "SessionLock",
    "SessionStore",
]

SCHEMA_VERSION = 1
MAX_SESSION_NAME_LENGTH = 128
_PATH_SEPARATORS = "/\\"
_T = TypeVar("_T")


def check_session_name(name: object) -> str:
    """A session name is 1-128 printable characters: no control characters, no newlines, no
    path separators (names appear in resource URIs and file names), no surrounding spaces."""
    if not isinstance(name, str) or not name.strip():
        raise CodexUsageError("a session name must be a non-empty string")
    if len(name) > MAX_SESSION_NAME_LENGTH:
        raise CodexUsageError(
            f"a session name must be at most {MAX_SESSION_NAME_LENGTH} characters (got {len(name)})"
        )
    bad = next((c for c in name if not c.isprintable() or c in _PATH_SEPARATORS), None)
    if bad is not None:
        raise CodexUsageError(
            "a session name must be printable text without control characters, newlines or "
            f"path separators; {name[:40]!r} contains {bad!r}"
        )
    if name != name.strip():
        raise CodexUsageError(f"a session name must not start or end with spaces: {name!r}")
    return name


class SessionLock(Protocol):
    """A non-blocking lock, polled by the client so that waiting stays cancellable."""

    def try_acquire(self) -> bool: ...

    def release(self) -> None: ...


@runtime_checkable
class SessionStore(Protocol):
    """Where named sessions live. Implementations must be safe to share between threads."""

    def get(self, name: str) -> SessionRecord | None: ...

    def list(self) -> list[SessionRecord]: ...

    def put(self, record: SessionRecord) -> None: ...

    def update(
        self, name: str, change: Callable[[SessionRecord | None], SessionRecord | None]
    ) -> SessionRecord | None:
        """Atomically replace the record of ``name`` by ``change(old)`` (None deletes it)."""
        ...

    def delete(self, name: str) -> bool: ...

    def rename(self, old: str, new: str) -> SessionRecord: ...

    def thread_lock(self, thread_id: str) -> SessionLock:
        """A lock serialising turns on one thread (codex refuses two writers)."""
        ...


class _StoreFile(msgspec.Struct, kw_only=True):
    schema_version: int = SCHEMA_VERSION
    sessions: dict[str, SessionRecord] = msgspec.field(default_factory=dict)


class _ThreadingLock:
    def __init__(self, lock: threading.Lock) -> None:
        self._lock = lock

    def try_acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()


class _InProcessLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}

    def get(self, key: str) -> _ThreadingLock:
        with self._guard:
            return _ThreadingLock(self._locks.setdefault(key, threading.Lock()))


class _RecordOps:
    """The session operations, written once over an atomic ``_transact`` primitive."""

    def _transact(
        self, change: Callable[[dict[str, SessionRecord]], _T], *, write: bool = True
    ) -> _T:
        raise NotImplementedError

    def get(self, name: str) -> SessionRecord | None:
        return self._transact(lambda sessions: sessions.get(name), write=False)

    def list(self) -> list[SessionRecord]:
        return self._transact(
            lambda sessions: sorted(sessions.values(), key=lambda r: r.updated_at, reverse=True),
            write=False,
        )

    def put(self, record: SessionRecord) -> None:
        check_session_name(record.name)

        def change(sessions: dict[str, SessionRecord]) -> None:
            sessions[record.name] = record

        self._transact(change)

    def update(
        self, name: str, change: Callable[[SessionRecord | None], SessionRecord | None]
    ) -> SessionRecord | None:
        def apply(sessions: dict[str, SessionRecord]) -> SessionRecord | None:
            new = change(sessions.get(name))
            if new is None:
                sessions.pop(name, None)
            else:
                sessions[name] = new
            return new

        return self._transact(apply)

    def delete(self, name: str) -> bool:
        return self._transact(lambda sessions: sessions.pop(name, None) is not None)

    def rename(self, old: str, new: str) -> SessionRecord:
        check_session_name(new)

        def change(sessions: dict[str, SessionRecord]) -> SessionRecord:
            if old not in sessions:
                raise SessionNotFoundError(old)
            if new in sessions and new != old:
                raise SessionExistsError(new)
            record = sessions.pop(old)
            record.name = new
            record.updated_at = time.time()
            sessions[new] = record
            return record

        return self._transact(change)


class InMemorySessionStore(_RecordOps):
    """Sessions kept in this process only (the default when no store is given)."""

    def __init__(self) -> None:
        self._sessions: dict[str, SessionRecord] = {}
        self._mutex = threading.RLock()
        self._locks = _InProcessLocks()

    def __repr__(self) -> str:
        return f"InMemorySessionStore({len(self._sessions)} sessions)"

    def _transact(
        self, change: Callable[[dict[str, SessionRecord]], _T], *, write: bool = True
    ) -> _T:
        with self._mutex:
            # Work on deep copies (records hold lists) so a failing change, or a caller that
            # mutates what it got, leaves the store untouched.
            sessions = {k: _copy_record(v) for k, v in self._sessions.items()}
            outcome = change(sessions)
            if write:
                self._sessions = sessions
            return outcome

    def thread_lock(self, thread_id: str) -> SessionLock:
        return self._locks.get(thread_id)


class _FileLock:
    """A cross-process advisory lock on a file (flock); non-blocking tries or blocking."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        return self._acquire(blocking=False)

    def acquire(self) -> None:
        self._acquire(blocking=True)

    def _acquire(self, *, blocking: bool) -> bool:
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            _lock_fd(fd, blocking=blocking)
        except (BlockingIOError, PermissionError):
            os.close(fd)
            return False
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return True

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops the lock

    def __enter__(self) -> _FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


class JsonFileSessionStore(_RecordOps):
    """Sessions in one JSON file, safe across threads, processes and crashes.

    Layout: ``{"schema_version": 1, "sessions": {name: record}}``. A lock file beside it
    (``<file>.lock``) serialises writers; per-thread turn locks live in ``<file>.locks/``.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser().absolute()
        self._mutex = threading.RLock()  # flock is per open file, so also guard threads
        self._encoder = msgspec.json.Encoder()
        self._decoder = msgspec.json.Decoder()

    def __repr__(self) -> str:
        return f"JsonFileSessionStore({str(self.path)!r})"

    def _transact(
        self, change: Callable[[dict[str, SessionRecord]], _T], *, write: bool = True
    ) -> _T:
        try:
            _make_private_dir(self.path.parent)
            with self._mutex, _FileLock(self._sibling(".lock")):
                sessions = self._read().sessions
                outcome = change(sessions)
                if write:
                    self._write(_StoreFile(sessions=sessions))
                return outcome
        except OSError as exc:
            raise SessionStoreError(f"session store {self.path}: {exc}") from exc

    def thread_lock(self, thread_id: str) -> SessionLock:
        directory = self._sibling(".locks")
        _make_private_dir(directory)
        return _FileLock(directory / f"{_safe_name(thread_id)}.lock")

    def _sibling(self, suffix: str) -> Path:
        return self.path.with_name(self.path.name + suffix)

    def _read(self) -> _StoreFile:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return _StoreFile()
        if not data.strip():
            return _StoreFile()
        try:
            raw = self._decoder.decode(data)
        except msgspec.DecodeError as exc:
            raise self._move_aside(f"cannot decode: {exc}") from exc
        # The version first: a newer SDK's file may have another shape; it is not corrupt.
        version = raw.get("schema_version") if isinstance(raw, dict) else None
        if isinstance(version, int) and version > SCHEMA_VERSION:
            raise SessionStoreError(
                f"session store {self.path} has schema version {version}; "
                f"this version of codex_local_sdk reads up to {SCHEMA_VERSION}. Upgrade it."
            )
        try:
            return msgspec.convert(raw, _StoreFile)
        except msgspec.ValidationError as exc:
            raise self._move_aside(f"invalid content: {exc}") from exc

    def _move_aside(self, reason: str) -> SessionStoreCorruptError:
        stem = f"{self.path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}"
        moved = self.path.with_name(stem)
        counter = 1
        while moved.exists():  # never overwrite an earlier corrupt file
            counter += 1
            moved = self.path.with_name(f"{stem}-{counter}")
        os.replace(self.path, moved)
        return SessionStoreCorruptError(str(self.path), str(moved), reason)

    def _write(self, stored: _StoreFile) -> None:
        """Replace the file atomically. Runs under the lock, so any temp file found is a
        dead writer's and is removed."""
        self._remove_stale_temp_files()
        tmp = self._sibling(f"{_TEMP_MARK}{os.getpid()}-{threading.get_ident()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with open(fd, "wb") as handle:
                os.fchmod(fd, 0o600)  # private whatever the umask
                handle.write(msgspec.json.format(self._encoder.encode(stored), indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        _fsync_dir(self.path.parent)

    def _remove_stale_temp_files(self) -> None:
        prefix = self.path.name + _TEMP_MARK
        with os.scandir(self.path.parent) as entries:
            stale = [entry.path for entry in entries if entry.name.startswith(prefix)]
        for path in stale:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)


_TEMP_MARK = ".tmp-"


def _make_private_dir(directory: Path) -> None:
    """Create ``directory`` (0700) if it is missing. An existing directory keeps its mode: it
    may be a project directory the store file merely lives in."""
    if not directory.is_dir():
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)


def _copy_record(record: SessionRecord) -> SessionRecord:
    return msgspec.structs.replace(
        record, recent_turns=[msgspec.structs.replace(t) for t in record.recent_turns]
    )


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)[:120] or "_"
