"""The real codex CLI in tests: the two builds, and what the ``real_codex`` fixture hands out.

Each end-to-end test runs against both builds: ``pypi`` (openai-codex-cli-bin, 0.163) and
``npm`` (@openai/codex, 0.169, a Node wrapper around the native binary). In CI (``CI`` set)
a missing build fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import msgspec
import psutil
import pytest

from codex_local_sdk import CodexExecRequest
from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import codex_binary
from tests.support.paths import NPM_BIN
from tests.support.processes import codex_processes

BUILDS = ["pypi", "npm"]
NPM_CODEX = pathlib.Path(os.environ.get("CODEX_E2E_NPM_BIN", NPM_BIN / "codex"))


class RealCodex(msgspec.Struct, kw_only=True):
    """A real codex binary wired to the mock model server."""

    binary: str
    home: pathlib.Path
    env: dict[str, str]
    server: MockResponsesServer
    workdir: pathlib.Path

    def request(self, prompt: str, **fields: Any) -> CodexExecRequest:
        """A request to run in :attr:`workdir`."""
        return CodexExecRequest(prompt=prompt, cwd=str(self.workdir), **fields)

    def processes(self) -> list[psutil.Process]:
        """The live processes of codex runs with this CODEX_HOME."""
        return codex_processes(self.home)


def require_real_codex(build: str) -> str:
    """The real codex of one build (see the module's docstring)."""
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
