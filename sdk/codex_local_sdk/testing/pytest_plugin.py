"""pytest fixtures for code that drives codex (registered as the ``codex_local_sdk`` plugin).

Installing codex-local-bridge registers this plugin through the ``pytest11`` entry point. It
only defines fixtures, so nothing happens unless a test asks for one; disable it with
``-p no:codex_local_sdk``. Fixtures:

* ``codex_fake``: a :class:`~codex_local_sdk.testing.FakeCodex` in the test's temp dir.
* ``codex_fake_client``: a ``CodexLocalClient`` running that fake (closed afterwards).
* ``codex_mock_server``: a :class:`~codex_local_sdk.testing.MockResponsesServer` on 127.0.0.1.
* ``codex_mock_home``: a ``CODEX_HOME`` that points a real codex at that server, and the
  environment to run codex with (``.home``, ``.env``); ``codex_binary()`` finds a real codex.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ..client import CodexLocalClient
    from . import FakeCodex, MockCodexHome, MockResponsesServer


@pytest.fixture
def codex_fake(tmp_path: Path) -> FakeCodex:
    from . import FakeCodex

    return FakeCodex(tmp_path / "fake-codex")


@pytest.fixture
def codex_fake_client(codex_fake: FakeCodex) -> Iterator[CodexLocalClient]:
    client = codex_fake.client(check_version=False, timeout_seconds=60)
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def codex_mock_server() -> Iterator[MockResponsesServer]:
    from . import MockResponsesServer

    with MockResponsesServer() as server:
        yield server


@pytest.fixture
def codex_mock_home(tmp_path: Path, codex_mock_server: MockResponsesServer) -> MockCodexHome:
    from . import MockCodexHome

    return MockCodexHome.create(tmp_path / "mock-codex-home", codex_mock_server)
