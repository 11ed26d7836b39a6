"""Finding the codex executable and checking what it can do: its version, its login, whether
it serves ``codex app-server``. Every check runs codex briefly, with stdin closed and a
timeout."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import msgspec

from ._invocation import app_server_probe_argv, login_status_argv, version_argv
from .exceptions import CodexNotInstalledError, CodexVersionError

__all__ = [
    "MINIMUM_CODEX_VERSION",
    "CodexBinary",
    "CodexCheck",
    "check_minimum",
    "find_codex",
    "login_status",
    "parse_version",
    "probe_app_server",
    "probe_version",
]

MINIMUM_CODEX_VERSION = (0, 163, 0)
"""The oldest codex this SDK is tested with (PyPI openai-codex-cli-bin 0.163.0)."""

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)")


class CodexBinary(msgspec.Struct, kw_only=True, frozen=True):
    path: str
    source: str
    """Where it was found: ``explicit``, ``CODEX_BIN``, ``PATH`` or ``openai-codex-cli-bin``."""


def find_codex(explicit: str | os.PathLike[str] | None = None) -> CodexBinary:
    """Explicit path, then ``$CODEX_BIN``, then ``codex`` on PATH, then the binary bundled by the
    PyPI package ``openai-codex-cli-bin`` (the ``codex`` extra)."""
    if explicit is not None:
        return CodexBinary(
            path=_executable(os.fspath(explicit), "the given codex_bin"), source="explicit"
        )
    from_env = os.environ.get("CODEX_BIN")
    if from_env:
        return CodexBinary(path=_executable(from_env, "CODEX_BIN"), source="CODEX_BIN")
    on_path = shutil.which("codex")
    if on_path:
        return CodexBinary(path=on_path, source="PATH")
    bundled = _bundled_codex()
    if bundled:
        return CodexBinary(path=bundled, source="openai-codex-cli-bin")
    raise CodexNotInstalledError("codex was not found (CODEX_BIN unset, no codex on PATH)")


def _executable(candidate: str, what: str) -> str:
    resolved = shutil.which(candidate) if os.sep not in candidate else candidate
    if not resolved or not os.path.isfile(resolved) or not os.access(resolved, os.X_OK):
        raise CodexNotInstalledError(f"{what} {candidate!r} is not an executable file")
    return resolved


def _bundled_codex() -> str | None:
    # Located without importing the package: the SDK imports only stdlib and msgspec.
    spec = importlib.util.find_spec("codex_cli_bin")
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        path = Path(location) / "bin" / ("codex.exe" if os.name == "nt" else "codex")
        if path.is_file() and os.access(path, os.X_OK):
            return str(path)
    return None


def parse_version(text: str) -> tuple[int, int, int] | None:
    match = _VERSION.search(text)
    if not match:
        return None
    major, minor, patch = (int(part) for part in match.groups())
    return (major, minor, patch)


def probe_version(path: str, *, timeout: float = 30.0) -> str:
    """``codex --version`` output (e.g. ``codex-cli 0.169.0``); raises if it cannot run."""
    completed = _run_briefly(version_argv(path), timeout)
    if isinstance(completed, str):
        raise CodexNotInstalledError(f"cannot run {path} --version: {completed}")
    if completed.returncode != 0:
        raise CodexNotInstalledError(
            f"{path} --version exited {completed.returncode}: {completed.stderr.strip()[:300]}"
        )
    return completed.stdout.strip()


def check_minimum(
    version_text: str, binary: str, minimum: tuple[int, int, int] = MINIMUM_CODEX_VERSION
) -> None:
    """Raise :class:`CodexVersionError` when ``version_text`` names a codex older than
    ``minimum`` (a version that cannot be parsed passes)."""
    found = parse_version(version_text)
    if found is not None and found < minimum:
        raise CodexVersionError(".".join(map(str, found)), ".".join(map(str, minimum)), binary)


class CodexCheck(msgspec.Struct, kw_only=True, frozen=True):
    """The answer to one question asked of codex."""

    ok: bool | None
    """True / False: codex answered; None: codex could not be asked (not runnable, timeout)."""
    detail: str
    """A one-line summary, fit to show a person."""


def login_status(binary: str, *, timeout: float = 20.0) -> CodexCheck:
    """Whether codex has stored credentials (``codex login status``). Not logged in is no
    dead end: an API key per call (``api_key=``) also works."""
    completed = _run_briefly(login_status_argv(binary), timeout)
    if isinstance(completed, str):
        return CodexCheck(ok=None, detail=f"could not ask codex: {completed}")
    text = (completed.stdout + completed.stderr).strip().splitlines()
    summary = text[-1] if text else ""
    if completed.returncode == 0:
        return CodexCheck(ok=True, detail=summary or "logged in")
    return CodexCheck(
        ok=False, detail=(summary or "not logged in") + " (an API key per call also works)"
    )


def probe_app_server(binary: str, *, timeout: float = 20.0) -> CodexCheck:
    """Whether this codex build has the ``app-server`` command that
    :class:`~codex_local_sdk.AppServerTransport` needs (its ``--help`` succeeds)."""
    done = _run_briefly(app_server_probe_argv(binary), timeout)
    if isinstance(done, str):
        return CodexCheck(ok=False, detail=f"could not run it: {done}")
    if done.returncode != 0:
        return CodexCheck(ok=False, detail=f"`codex app-server --help` exited {done.returncode}")
    return CodexCheck(ok=True, detail="supported")


def _run_briefly(argv: list[str], timeout: float) -> subprocess.CompletedProcess[str] | str:
    """Run codex with stdin closed: its completed process, or why it could not run."""
    try:
        return subprocess.run(
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            errors="replace",
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return str(exc)
