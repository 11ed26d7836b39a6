"""Shared fixtures.

* ``fake_codex`` / ``fake_env``: the fake codex executable (``codex_local_sdk.testing``) with a
  private CODEX_HOME, for fast deterministic tests of the SDK and the front ends.
* ``mock_server`` / ``real_codex``: the REAL codex CLI, offline against a mock Responses API
  on 127.0.0.1. In CI (``CI`` set) a missing codex is an error, never a skip.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest

from codex_local_sdk.testing import fake_codex_executable
from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home

ROOT = pathlib.Path(__file__).resolve().parent.parent
FAKE_CODEX = Path(fake_codex_executable())


class RealCodex(msgspec.Struct, kw_only=True):
    """A real codex binary wired to the mock model server."""

    binary: str
    home: pathlib.Path
    env: dict[str, str]
    server: MockResponsesServer
    workdir: pathlib.Path


@pytest.fixture
def fake_codex() -> str:
    return str(FAKE_CODEX)


@pytest.fixture
def fake_env(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A private CODEX_HOME and state dir for the fake codex, set in os.environ too."""
    home = tmp_path / "codex_home"
    home.mkdir()
    values = {
        "CODEX_HOME": str(home),
        "FAKE_CODEX_STATE_DIR": str(home),
        "FAKE_CODEX_LOG": str(tmp_path / "fake_codex_log.jsonl"),
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    for key in ("FAKE_CODEX_MODE", "CODEX_API_KEY", "CODEX_BIN"):
        monkeypatch.delenv(key, raising=False)
    return values


NPM_CODEX = pathlib.Path(
    os.environ.get("CODEX_E2E_NPM_BIN", ROOT / ".venv" / "npm" / "node_modules" / ".bin" / "codex")
)


def _require_real_codex(build: str) -> str:
    """The real codex of one build: ``pypi`` (openai-codex-cli-bin, 0.163) or ``npm``
    (@openai/codex, 0.169, a Node wrapper around the native binary)."""
    binary = codex_binary() if build == "pypi" else (str(NPM_CODEX) if NPM_CODEX.exists() else None)
    if binary is None:
        hint = (
            "pip install -e '.[dev]'"
            if build == "pypi"
            else ("npm install --prefix .venv/npm @openai/codex@0.169.0")
        )
        if os.environ.get("CI"):
            pytest.fail(f"the real codex CLI ({build}) is required in CI: {hint}")
        pytest.skip(f"no real codex binary ({build}): {hint}")
    return binary


@pytest.fixture
def workdir(tmp_path: pathlib.Path) -> pathlib.Path:
    """An empty working directory for codex runs."""
    path = tmp_path / "work"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def mock_server() -> Iterator[MockResponsesServer]:
    with MockResponsesServer() as server:
        yield server


@pytest.fixture(params=["pypi", "npm"])
def real_codex(
    request: pytest.FixtureRequest,
    tmp_path: pathlib.Path,
    mock_server: MockResponsesServer,
    workdir: pathlib.Path,
) -> RealCodex:
    """Each end-to-end test runs against both real builds of codex."""
    binary = _require_real_codex(request.param)
    home = make_codex_home(tmp_path, mock_server.base_url)
    return RealCodex(
        binary=binary, home=home, env=e2e_env(home), server=mock_server, workdir=workdir
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reliability figures the tests measured (see tests/support/figures.py)."""
    from tests.support.figures import FIGURES

    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, figure in sorted(FIGURES.items()):
            terminalreporter.line(f"{name}: {figure}")
