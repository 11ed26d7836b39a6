"""Test code that drives codex, without a model: the kit the project's own tests use.

Imports only the standard library and msgspec (the pytest fixtures live in
:mod:`codex_local_sdk.testing.pytest_plugin`).

* :class:`FakeCodex`: a scriptable fake ``codex`` executable for fast unit tests (success,
  failure kinds, stalls, huge lines, children that must die, ...).
* :class:`MockResponsesServer`: a mock OpenAI Responses API on 127.0.0.1, and
  :class:`MockCodexHome` / :func:`make_codex_home`: a ``CODEX_HOME`` whose configuration points
  a *real* codex at it, for offline end-to-end tests (:func:`codex_binary` finds a real codex:
  ``$CODEX_E2E_BIN`` or the ``openai-codex-cli-bin`` wheel).
* :class:`SessionStoreContract`: a conformance suite any custom ``SessionStore`` can run.
"""

from __future__ import annotations

from pathlib import Path

import msgspec

from .fake import FAKE_CODEX_SCRIPT, FakeCodex, fake_codex_executable
from .mock_responses import (
    HELLO_TEXT,
    SCHEMA_TEXT,
    SHELL_COMMAND,
    SHELL_DONE_TEXT,
    MockResponsesServer,
)
from .real_codex import MOCK_MODEL, MOCK_PROVIDER, codex_binary, e2e_env, make_codex_home
from .store_contract import SessionStoreContract

__all__ = [
    "FAKE_CODEX_SCRIPT",
    "HELLO_TEXT",
    "MOCK_MODEL",
    "MOCK_PROVIDER",
    "SCHEMA_TEXT",
    "SHELL_COMMAND",
    "SHELL_DONE_TEXT",
    "FakeCodex",
    "MockCodexHome",
    "MockResponsesServer",
    "SessionStoreContract",
    "codex_binary",
    "e2e_env",
    "fake_codex_executable",
    "make_codex_home",
]


class MockCodexHome(msgspec.Struct, kw_only=True, frozen=True):
    """A ``CODEX_HOME`` wired to a :class:`MockResponsesServer`, and the environment to run a
    real codex with (``codex exec --json ...`` with ``env=home.env``)."""

    home: Path
    env: dict[str, str]
    server: MockResponsesServer

    @classmethod
    def create(cls, directory: Path, server: MockResponsesServer) -> MockCodexHome:
        directory.mkdir(parents=True, exist_ok=True)
        home = make_codex_home(directory, server.base_url)
        return cls(home=home, env=e2e_env(home), server=server)
