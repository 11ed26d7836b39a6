"""Job records that outlive the server: ``jobs.json`` next to the session store.

Several servers may share one store (each MCP host window runs its own stdio server), so every
record names the server that owns it, and each server only ever writes its own records. A
server holds an advisory lock on its own owner file for as long as it lives; the kernel drops
that lock when the process dies, however it dies. A record whose owner no longer holds its lock
belongs to a server that is gone: if it was still queued or running, the job is ``lost`` (its
codex died with the server), and its thread id says where to resume.

Every read-modify-write runs under one cross-process lock and replaces the file atomically.
A file that cannot be parsed is moved aside, never overwritten.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ["LOST_MESSAGE", "JobStore"]

logger = logging.getLogger("codex_bridge.jobs")

_SCHEMA_VERSION = 1
_UNFINISHED = ("queued", "running")
LOST_MESSAGE = (
    "the server running this job stopped before the job ended, and its codex with it; "
    "continue the thread with codex_resume (thread_id) if it has one"
)


class JobStore:
    """Persistent job records (plain dicts shaped like ``JobInfo``) for one server."""

    def __init__(self, path: str | os.PathLike[str], *, max_records: int = 500) -> None:
        self.path = Path(path)
        self.max_records = max_records
        self.owner = uuid.uuid4().hex
        self._owner_dir = self.path.with_name(self.path.name + ".owners")
        self._owner_fd: int | None = None

    @classmethod
    def beside(cls, session_store: str, **kwargs: Any) -> JobStore:
        """The job store next to the session store ``session_store``."""
        return cls(Path(session_store).with_name("jobs.json"), **kwargs)

    # ----------------------------------------------------------------- ownership
    def _claim_owner(self) -> None:
        """Hold this server's owner lock (taken once, on the first write)."""
        if self._owner_fd is not None:
            return
        self._owner_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self._owner_dir / f"{self.owner}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._owner_fd = fd

    def _owner_alive(self, owner: str) -> bool:
        if owner == self.owner:
            return True
        lock = self._owner_dir / f"{owner}.lock"
        try:
            fd = os.open(lock, os.O_RDWR)
        except OSError:
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        finally:
            os.close(fd)  # closing releases a lock we may have taken
        with contextlib.suppress(OSError):
            lock.unlink()  # its owner is gone: tidy up
        return False

    def close(self) -> None:
        if self._owner_fd is not None:
            with contextlib.suppress(OSError):
                (self._owner_dir / f"{self.owner}.lock").unlink()
            os.close(self._owner_fd)
            self._owner_fd = None

    # ----------------------------------------------------------------- file access
    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read(self) -> list[dict[str, Any]]:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        try:
            data = json.loads(text)
            records = data["jobs"]
            if not isinstance(records, list):
                raise TypeError("jobs is not a list")
            return [r for r in records if isinstance(r, dict) and isinstance(r.get("job"), dict)]
        except (ValueError, KeyError, TypeError) as exc:
            aside = self.path.with_name(f"{self.path.name}.corrupt-{int(time.time())}")
            os.replace(self.path, aside)
            logger.warning("job store %s unreadable (%s); moved it to %s", self.path, exc, aside)
            return []

    def _write(self, records: list[dict[str, Any]]) -> None:
        records = records[-self.max_records :]
        payload = json.dumps({"version": _SCHEMA_VERSION, "jobs": records}, indent=1)
        fd, temp = tempfile.mkstemp(dir=self.path.parent, prefix=".jobs-", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as stream:
                stream.write(payload)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temp, self.path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp)
            raise

    # ----------------------------------------------------------------- operations
    def save(self, job: dict[str, Any]) -> None:
        """Insert or update this server's record of ``job`` (keyed by ``job_id``)."""
        try:
            self._claim_owner()
            with self._locked():
                records = [r for r in self._read() if r["job"].get("job_id") != job["job_id"]]
                records.append({"owner": self.owner, "job": job})
                self._write(records)
        except OSError:  # a job must not fail because its record could not be written
            logger.warning("could not record job %s in %s", job.get("job_id"), self.path)

    def history(self) -> list[dict[str, Any]]:
        """Jobs of servers that are gone, oldest first; the unfinished ones marked ``lost``
        (and rewritten so)."""
        try:
            with self._locked():
                records = self._read()
                changed = False
                found: list[dict[str, Any]] = []
                for record in records:
                    if self._owner_alive(str(record.get("owner"))):
                        continue
                    job = record["job"]
                    if job.get("state") in _UNFINISHED:
                        job["state"], job["error"] = "lost", LOST_MESSAGE
                        changed = True
                    found.append(job)
                if changed:
                    self._write(records)
                return found
        except OSError:
            logger.warning("could not read the job store %s", self.path)
            return []
