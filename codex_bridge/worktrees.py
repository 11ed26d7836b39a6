"""Worktree isolation: codex works in a fresh ``git worktree`` on its own branch
(``codex-bridge/<name>``), so parallel jobs never edit the same checkout.

Bridge worktrees live inside the repository's git directory
(``<git-common-dir>/codex-bridge-worktrees/<name>``): the main checkout stays untouched (no new
untracked directory), and the worktree is as much inside the allowed roots as the repository
is (the service checks that place against the roots before anything is created).

Names derived from caller input are reduced to ``[A-Za-z0-9._-]`` and checked with
``git check-ref-format``; paths follow ``--``; repository hooks, fsmonitor, external diff
drivers and textconv filters are switched off for every git command the bridge runs.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
from pathlib import Path

import msgspec

__all__ = [
    "BRANCH_PREFIX",
    "WorktreeError",
    "WorktreeInfo",
    "WorktreeListing",
    "add_worktree",
    "branch_slug",
    "list_worktrees",
    "remove_worktree",
    "report",
    "repository",
]

BRANCH_PREFIX = "codex-bridge/"
_DIR_NAME = "codex-bridge-worktrees"
_GIT_TIMEOUT = 60.0
_SAFE_GIT = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "diff.external=",
)
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9._-]+")


class WorktreeError(Exception):
    """Git refused, or the directory is not what a worktree needs (message for the caller)."""


class WorktreeInfo(msgspec.Struct, kw_only=True):
    """A bridge worktree and what codex did in it."""

    path: str
    branch: str
    base_commit: str
    repository: str
    """The main checkout the worktree was made from."""
    commits_ahead: int = 0
    """Commits on the branch since ``base_commit``."""
    diff_stat: str = ""
    """``git diff --stat`` of everything (committed or not) since ``base_commit``."""
    files_changed: int = 0
    insertions: int = 0
    deletions: int = 0


class WorktreeListing(msgspec.Struct, kw_only=True):
    path: str
    branch: str
    head: str | None = None
    exists: bool = True


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", LC_ALL="C")
    return env


def _git_sync(cwd: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *_SAFE_GIT, *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=_GIT_TIMEOUT,
        env=_env(),
        check=False,
    )


async def _git(cwd: str, *args: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        "git",
        *_SAFE_GIT,
        *args,
        cwd=cwd,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=_env(),
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), _GIT_TIMEOUT)
    except BaseException:
        if process.returncode is None:
            process.kill()
            await process.wait()
        raise
    return process.returncode or 0, out.decode(errors="replace"), err.decode(errors="replace")


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "git failed"


def repository(cwd: str) -> tuple[str, str, str]:
    """(top-level directory, git common directory, HEAD commit) of the repository at ``cwd``;
    WorktreeError when ``cwd`` is not in a git repository with a commit."""
    try:
        top = _git_sync(cwd, "rev-parse", "--show-toplevel")
        if top.returncode != 0:
            raise WorktreeError(
                f"{cwd} is not inside a git repository: a worktree needs one (run without "
                "worktree, or use a directory under git)"
            )
        toplevel = top.stdout.strip()
        common = _git_sync(toplevel, "rev-parse", "--git-common-dir")
        head = _git_sync(toplevel, "rev-parse", "--verify", "--quiet", "HEAD^{commit}")
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise WorktreeError(f"could not run git: {exc}") from None
    if head.returncode != 0:
        raise WorktreeError(f"the repository at {toplevel} has no commit yet to branch from")
    common_dir = os.path.realpath(os.path.join(toplevel, common.stdout.strip()))
    return toplevel, common_dir, head.stdout.strip()


def worktrees_dir(common_dir: str) -> str:
    return os.path.join(common_dir, _DIR_NAME)


def branch_slug(name: str) -> str:
    """A branch-name component from caller input: ``[A-Za-z0-9._-]``, no leading ``-`` or
    ``.``, no ``..``, no ``.lock`` ending, at most 60 characters."""
    slug = _UNSAFE_CHARS.sub("-", name).replace("..", "-").strip("-.")[:60].rstrip("-.")
    if slug.endswith(".lock"):
        slug = slug[: -len(".lock")] + "-lock"
    return slug or "work"


async def add_worktree(toplevel: str, common_dir: str, base: str, name: str) -> WorktreeInfo:
    """A new worktree for ``name`` on a new branch ``codex-bridge/<name>`` at ``base`` (a
    suffix is added while the branch or the directory exists)."""
    slug = branch_slug(name)
    parent = worktrees_dir(common_dir)
    os.makedirs(parent, mode=0o700, exist_ok=True)
    for attempt in range(1, 100):
        candidate = slug if attempt == 1 else f"{slug}-{attempt}"
        branch = BRANCH_PREFIX + candidate
        path = os.path.join(parent, candidate)
        code, _, _ = await _git(toplevel, "check-ref-format", "--branch", branch)
        if code != 0:
            raise WorktreeError(f"cannot derive a branch name from {name[:80]!r}")
        exists, _, _ = await _git(
            toplevel, "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"
        )
        if exists == 0 or os.path.lexists(path):
            continue
        code, _, err = await _git(toplevel, "worktree", "add", "-b", branch, "--", path, base)
        if code != 0:
            raise WorktreeError(f"git worktree add failed: {_last_line(err)}")
        return WorktreeInfo(
            path=os.path.realpath(path), branch=branch, base_commit=base, repository=toplevel
        )
    raise WorktreeError(f"too many bridge worktrees named {slug!r}; remove some first")


_SHORTSTAT = re.compile(
    r"(\d+) files? changed(?:, (\d+) insertions?\(\+\))?(?:, (\d+) deletions?)?"
)


async def report(info: WorktreeInfo) -> WorktreeInfo:
    """``info`` with the commits ahead and the diff since the base (untracked files count)."""
    path = info.path
    await _git(path, "add", "--all", "--intent-to-add")
    _, ahead, _ = await _git(path, "rev-list", "--count", f"{info.base_commit}..HEAD")
    diff = ("diff", "--no-ext-diff", "--no-textconv")
    _, stat, _ = await _git(path, *diff, "--stat=200", info.base_commit, "--")
    _, short, _ = await _git(path, *diff, "--shortstat", info.base_commit, "--")
    found = _SHORTSTAT.search(short)
    return msgspec.structs.replace(
        info,
        commits_ahead=int(ahead.strip() or 0),
        diff_stat=stat.rstrip(),
        files_changed=int(found.group(1)) if found else 0,
        insertions=int(found.group(2) or 0) if found else 0,
        deletions=int(found.group(3) or 0) if found else 0,
    )


def list_worktrees(toplevel: str) -> list[WorktreeListing]:
    """The bridge's worktrees of the repository at ``toplevel``."""
    done = _git_sync(toplevel, "worktree", "list", "--porcelain")
    if done.returncode != 0:
        raise WorktreeError(f"git worktree list failed: {_last_line(done.stderr)}")
    found: list[WorktreeListing] = []
    for block in done.stdout.strip().split("\n\n"):
        fields = dict(line.partition(" ")[::2] for line in block.splitlines() if line)
        branch = fields.get("branch", "").removeprefix("refs/heads/")
        if branch.startswith(BRANCH_PREFIX) and "worktree" in fields:
            found.append(
                WorktreeListing(
                    path=fields["worktree"],
                    branch=branch,
                    head=fields.get("HEAD"),
                    exists=Path(fields["worktree"]).is_dir(),
                )
            )
    return found


def remove_worktree(toplevel: str, branch: str, *, delete_branch: bool, force: bool) -> str:
    """Remove the bridge worktree of ``branch`` (and the branch when asked); returns its path."""
    match = next((w for w in list_worktrees(toplevel) if w.branch == branch), None)
    if match is None:
        raise WorktreeError(f"no bridge worktree on branch {branch!r} in {toplevel}")
    args = ["worktree", "remove", *(["--force"] if force else []), "--", match.path]
    done = _git_sync(toplevel, *args)
    if done.returncode != 0:
        raise WorktreeError(
            f"git worktree remove failed: {_last_line(done.stderr)} (pass force to discard "
            "its uncommitted changes)"
        )
    if delete_branch:
        deleted = _git_sync(toplevel, "branch", "-D", "--", branch)
        if deleted.returncode != 0:
            raise WorktreeError(f"could not delete branch {branch}: {_last_line(deleted.stderr)}")
    return match.path
