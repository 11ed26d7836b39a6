"""Isolated copies of a workspace for review mode: codex works there, never in the user's files.

:func:`make_snapshot` copies the workspace into a private temporary directory the server
creates itself (mode 0700): files git lists as tracked or untracked-but-not-ignored in a git
workspace, otherwise every file outside version-control and build/cache directories; within a
size limit. Open buffers' unsaved text may replace their files in the copy (opt-in). After the
run, :func:`changes_in` compares the copy with what was put there and names what codex created,
changed, renamed and deleted; :meth:`Snapshot.remove` deletes the copy.

Nothing is read through a symbolic link: links inside the workspace that stay inside it are
recreated as links, others are left out, and links codex makes in the copy are reported, never
followed.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Literal

import msgspec

__all__ = [
    "FileChange",
    "IsolationError",
    "Snapshot",
    "changes_in",
    "make_snapshot",
]

MAX_SNAPSHOT_BYTES = 256 * 1024 * 1024
MAX_SNAPSHOT_FILES = 20_000
_KEEP_TEXT_BYTES = 512 * 1024  # baseline text kept in memory per file ...
_KEEP_TEXT_TOTAL = 64 * 1024 * 1024  # ... and in all
_GIT_TIMEOUT = 60.0
_SAFE_GIT = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false")
SKIPPED_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        ".jj",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".tox",
        ".nox",
        ".cache",
        ".gradle",
        ".idea",
        "target",
    }
)
"""Directories never copied nor compared (version control, dependencies, caches)."""
_SKIPPED_SUFFIXES = (".pyc", ".pyo", ".o", ".class")
_RENAME_SIMILARITY = 0.6


class IsolationError(Exception):
    """The workspace cannot be copied for review (the message says why and what to do)."""


class FileChange(msgspec.Struct, kw_only=True, frozen=True):
    """One file codex changed in the copy, by path relative to the workspace root."""

    kind: Literal["modify", "create", "delete", "rename"]
    path: str
    """The file's path before the change (for ``create``: the new file)."""
    new_path: str | None = None
    """``rename`` only: where the file went."""
    before: bytes | None = None
    """What the copy held before the run (None for ``create``, or when not kept)."""
    after: bytes | None = None
    """What the copy holds now (None for ``delete``)."""


class Snapshot:
    """A private copy of ``root`` codex may change at will."""

    def __init__(self, root: str, holder: str, copy: str, git: bool) -> None:
        self.root = root
        """The workspace root (symlinks resolved)."""
        self.holder = holder
        self.copy = copy
        """The copy of ``root``: codex runs in it (or below it)."""
        self.git = git
        self.hashes: dict[str, str] = {}
        """Relative path → sha256 of what was put in the copy."""
        self.texts: dict[str, bytes] = {}
        """Relative path → what was put in the copy, for files small enough to keep."""
        self.links: dict[str, str] = {}
        """Relative path → target of the symlinks recreated in the copy."""
        self.overlaid: set[str] = set()
        """Relative paths whose content came from an unsaved buffer."""
        self.left_out: list[str] = []
        """Relative paths not copied (links leaving the workspace, unreadable files)."""

    def inside(self, path: str) -> str:
        """Where ``path`` (inside the workspace root) is in the copy."""
        return os.path.join(self.copy, os.path.relpath(path, self.root))

    def remove(self) -> None:
        shutil.rmtree(self.holder, ignore_errors=True)

    def baseline(self, rel: str) -> bytes | None:
        """What the copy held for ``rel`` before the run, when known."""
        if rel in self.texts:
            return self.texts[rel]
        try:  # not kept: the original file still has it unless the user saved meanwhile
            data = Path(self.root, rel).read_bytes()
        except OSError:
            return None
        return data if _digest(data) == self.hashes.get(rel) else None


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _git(root: str, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return subprocess.run(
        ["git", *_SAFE_GIT, "-C", root, *args],
        input=data,
        stdin=None if data is not None else subprocess.DEVNULL,
        capture_output=True,
        timeout=_GIT_TIMEOUT,
        env=env,
        check=False,
    )


def _is_git_workspace(root: str) -> bool:
    """``root`` is the top level of a git work tree (a subdirectory counts too)."""
    if shutil.which("git") is None:
        return False
    try:
        done = _git(root, "rev-parse", "--is-inside-work-tree")
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == b"true"


def _skipped(rel: str) -> bool:
    parts = rel.split(os.sep)
    return any(part in SKIPPED_DIRS for part in parts[:-1]) or rel.endswith(_SKIPPED_SUFFIXES)


def _walk(root: str) -> Iterator[str]:
    """Relative paths of the files and links under ``root``, skipped directories left out."""
    for directory, dirs, files in os.walk(root, followlinks=False):
        kept = []
        for name in dirs:
            full = os.path.join(directory, name)
            if name in SKIPPED_DIRS:
                continue
            if os.path.islink(full):
                files.append(name)  # a link to a directory: reported like a file link
            else:
                kept.append(name)
        dirs[:] = sorted(kept)
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(directory, name), root)
            if not _skipped(rel):
                yield rel


def _listed(root: str, git: bool) -> list[str]:
    if not git:
        return list(_walk(root))
    try:
        done = _git(root, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise IsolationError(f"could not list the workspace's files with git: {exc}") from None
    if done.returncode != 0:
        return list(_walk(root))
    names = [
        os.path.normpath(n.decode("utf-8", "surrogateescape")) for n in done.stdout.split(b"\0")
    ]
    return sorted({n for n in names if n and n != "." and not _skipped(n)})


def _ignored(root: str, rels: list[str]) -> set[str]:
    """The paths git would ignore in ``root`` (new files codex made that are build output)."""
    if not rels:
        return set()
    try:
        done = _git(
            root,
            "check-ignore",
            "--no-index",
            "--stdin",
            "-z",
            data=b"\0".join(r.encode("utf-8", "surrogateescape") for r in rels) + b"\0",
        )
    except (OSError, subprocess.TimeoutExpired):
        return set()
    return {n.decode("utf-8", "surrogateescape") for n in done.stdout.split(b"\0") if n}


def make_snapshot(
    root: str,
    *,
    overlay: Mapping[str, str] | None = None,
    max_bytes: int = MAX_SNAPSHOT_BYTES,
    max_files: int = MAX_SNAPSHOT_FILES,
) -> Snapshot:
    """Copy ``root`` into a new private temporary directory.

    ``overlay`` maps absolute paths inside ``root`` to text that replaces (or creates) the
    file in the copy: the unsaved buffers the user chose to share. Raises IsolationError when
    the workspace is larger than ``max_bytes`` or ``max_files``."""
    root = os.path.realpath(root)
    if not os.path.isdir(root):
        raise IsolationError(f"{root} is not a directory")
    git = _is_git_workspace(root)
    names = _listed(root, git)
    if len(names) > max_files:
        raise IsolationError(
            f"the workspace {root} has more than {max_files:,} files to copy for review; "
            "run with review off (direct mode), or from a smaller folder"
        )
    holder = tempfile.mkdtemp(prefix="codex-bridge-review-")
    copy = os.path.join(holder, os.path.basename(root) or "workspace")
    snapshot = Snapshot(root, holder, copy, git)
    try:
        os.mkdir(copy, 0o700)
        _fill(snapshot, names, overlay or {}, max_bytes)
    except BaseException:
        snapshot.remove()
        raise
    return snapshot


def _fill(snapshot: Snapshot, names: list[str], overlay: Mapping[str, str], max_bytes: int) -> None:
    root, copy = snapshot.root, snapshot.copy
    total = kept = 0
    texts: dict[str, bytes] = {}
    for path, text in overlay.items():
        rel = os.path.relpath(os.path.realpath(path), root)
        if rel.startswith(os.pardir) or os.path.isabs(rel) or _skipped(rel):
            continue
        texts[rel] = text.encode("utf-8")
    for rel in sorted(set(names) | set(texts)):
        source, target = os.path.join(root, rel), os.path.join(copy, rel)
        if rel in texts:
            data: bytes | None = texts[rel]
            snapshot.overlaid.add(rel)
        else:
            data = None
            try:
                info = os.lstat(source)
            except OSError:
                continue  # listed by git but deleted in the work tree
            if stat.S_ISLNK(info.st_mode):
                link = os.readlink(source)
                resolved = os.path.realpath(source)
                if os.path.isabs(link) or not Path(resolved).is_relative_to(root):
                    snapshot.left_out.append(rel)
                    continue
                os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
                os.symlink(link, target)
                snapshot.links[rel] = link
                continue
            if not stat.S_ISREG(info.st_mode):
                continue
            total += info.st_size
        if total > max_bytes:
            raise IsolationError(
                f"the workspace {root} holds more than {max_bytes // (1024 * 1024)} MB to copy "
                "for review; run with review off (direct mode), or from a smaller folder"
            )
        if data is None:
            try:
                with open(source, "rb") as handle:
                    data = handle.read()
            except OSError:
                snapshot.left_out.append(rel)
                continue
        os.makedirs(os.path.dirname(target), mode=0o700, exist_ok=True)
        with open(target, "wb") as handle:
            handle.write(data)
        if rel not in texts:
            shutil.copymode(source, target)
        snapshot.hashes[rel] = _digest(data)
        if len(data) <= _KEEP_TEXT_BYTES and kept + len(data) <= _KEEP_TEXT_TOTAL:
            snapshot.texts[rel] = data
            kept += len(data)


def changes_in(snapshot: Snapshot) -> tuple[list[FileChange], list[str]]:
    """What codex changed in the copy, and the paths it left that review cannot carry
    (symbolic links, special files)."""
    now: dict[str, bytes] = {}
    unsupported: list[str] = []
    found = list(_walk(snapshot.copy))
    new = [rel for rel in found if rel not in snapshot.hashes and rel not in snapshot.links]
    ignored = _ignored(snapshot.root, new) if snapshot.git else set()
    for rel in found:
        if rel in ignored:
            continue
        full = os.path.join(snapshot.copy, rel)
        info = os.lstat(full)
        if stat.S_ISLNK(info.st_mode):
            if snapshot.links.get(rel) != os.readlink(full):
                unsupported.append(rel)
            continue
        if not stat.S_ISREG(info.st_mode):
            unsupported.append(rel)
            continue
        with open(full, "rb") as handle:
            now[rel] = handle.read()
    for rel in snapshot.links:
        if not os.path.lexists(os.path.join(snapshot.copy, rel)):
            unsupported.append(rel)
    changes: list[FileChange] = []
    created = {rel: data for rel, data in now.items() if rel not in snapshot.hashes}
    deleted = [rel for rel in snapshot.hashes if rel not in now]
    for rel, data in sorted(now.items()):
        digest = snapshot.hashes.get(rel)
        if digest is not None and digest != _digest(data):
            changes.append(
                FileChange(kind="modify", path=rel, before=snapshot.baseline(rel), after=data)
            )
    for rel in sorted(deleted):
        before = snapshot.baseline(rel)
        moved = _renamed_to(before, created) if before is not None else None
        if moved is not None:
            changes.append(
                FileChange(
                    kind="rename", path=rel, new_path=moved, before=before, after=created.pop(moved)
                )
            )
        else:
            changes.append(FileChange(kind="delete", path=rel, before=before))
    changes += [FileChange(kind="create", path=rel, after=data) for rel, data in created.items()]
    return changes, sorted(unsupported)


def _renamed_to(before: bytes, created: Mapping[str, bytes]) -> str | None:
    """The new file that is ``before`` moved (identical, or mostly the same text)."""
    best, score = None, _RENAME_SIMILARITY
    for rel, data in sorted(created.items()):
        if data == before:
            return rel
        try:
            old_text, new_text = before.decode(), data.decode()
        except UnicodeDecodeError:
            continue
        matcher = difflib.SequenceMatcher(None, old_text.splitlines(), new_text.splitlines())
        if matcher.real_quick_ratio() > score and matcher.ratio() > score:
            best, score = rel, matcher.ratio()
    return best
