"""Shared fixtures (the helpers they use live in ``tests/support/``).

* ``fake_codex`` / ``fake_env``: the fake codex executable (``codex_local_sdk.testing``) with a
  private CODEX_HOME, for fast deterministic tests of the SDK and the front ends.
* ``mock_server`` / ``real_codex``: the REAL codex CLI, offline against a mock Responses API
  on 127.0.0.1. In CI (``CI`` set) a missing codex is an error, never a skip.
* ``store_path``, ``tag``, ``state_dir``: a private session store, the tag every process of
  the test inherits, the fake codex's state directory.
* ``make_service`` / ``bridge_env``: a bridge service in process, or the environment of a
  server process, over the fake codex; ``mode``: each MCP handshake; ``no_codex_left``.
* ``workspace`` / ``lsp_env`` / ``launch``: language servers over the fake codex.
"""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeService
from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import e2e_env, make_codex_home
from tests.support.paths import FAKE_CODEX
from tests.support.processes import TAG_ENV, no_tagged_codex_left
from tests.support.real_codex import BUILDS, RealCodex, require_real_codex
from tests.support.servers import MCP_MODES, server_env

if TYPE_CHECKING:
    from tests.support.lsp_client import CodexTestClient, StartServer


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


@pytest.fixture(params=BUILDS)
def real_codex(
    request: pytest.FixtureRequest,
    tmp_path: pathlib.Path,
    mock_server: MockResponsesServer,
    workdir: pathlib.Path,
) -> RealCodex:
    """Each end-to-end test runs against both real builds of codex."""
    binary = require_real_codex(request.param)
    home = make_codex_home(tmp_path, mock_server.base_url)
    return RealCodex(
        binary=binary, home=home, env=e2e_env(home), server=mock_server, workdir=workdir
    )


# --------------------------------------------------------------------------- bridge servers


@pytest.fixture
def store_path(tmp_path: pathlib.Path) -> pathlib.Path:
    """A private session store."""
    return tmp_path / "sessions.json"


@pytest.fixture
def tag(monkeypatch: pytest.MonkeyPatch) -> str:
    """A tag every process this test starts inherits (see ``tests.support.processes``)."""
    value = uuid.uuid4().hex
    monkeypatch.setenv(TAG_ENV, value)
    return value


@pytest.fixture
def state_dir(fake_env: dict[str, str]) -> pathlib.Path:
    """Where the fake codex keeps its state (e.g. the ``child.pid`` of its ``child`` mode)."""
    return pathlib.Path(fake_env["FAKE_CODEX_STATE_DIR"])


@pytest.fixture
def service(tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]) -> BridgeService:
    """A service over the fake codex whose one root and default directory is ``tmp_path``."""
    return BridgeService(
        BridgePolicy(
            store_path=str(tmp_path / "sessions.json"),
            codex_bin=fake_codex,
            default_cwd=str(tmp_path),
            allowed_roots=(str(tmp_path),),
            max_timeout_seconds=30,
        )
    )


@pytest.fixture
def make_service(
    store_path: pathlib.Path,
    fake_codex: str,
    fake_env: dict[str, str],
    tag: str,
    workdir: pathlib.Path,
) -> Callable[..., BridgeService]:
    """A factory of services over the fake codex; keyword arguments are policy fields."""

    def make(**policy: Any) -> BridgeService:
        settings: dict[str, Any] = {
            "store_path": str(store_path),
            "codex_bin": fake_codex,
            "default_cwd": str(workdir),
            **policy,
        }
        return BridgeService(BridgePolicy.from_sources(settings, env={}))

    return make


@pytest.fixture
def bridge_env(
    store_path: pathlib.Path,
    fake_codex: str,
    fake_env: dict[str, str],
    tag: str,
    workdir: pathlib.Path,
) -> dict[str, str]:
    """The environment of a server process over the fake codex (tagged, a private store)."""
    return server_env(store=store_path, codex_bin=fake_codex, workdir=workdir)


@pytest.fixture(params=MCP_MODES)
def mode(request: pytest.FixtureRequest) -> str:
    """Each MCP handshake the tests speak."""
    return str(request.param)


@pytest.fixture
async def no_codex_left(tag: str) -> AsyncIterator[None]:
    """Fails the test if any codex process it started is still alive at its end."""
    yield
    await no_tagged_codex_left(tag)


@pytest.fixture
def workspace(workdir: pathlib.Path) -> pathlib.Path:
    """The language server's workspace folder: the working directory of its codex runs."""
    return workdir


@pytest.fixture
def lsp_env(fake_env: dict[str, str], fake_codex: str, store_path: pathlib.Path) -> dict[str, str]:
    """The environment of a language server over the fake codex with a private store."""
    return server_env(store=store_path, codex_bin=fake_codex)


@pytest.fixture
async def launch(
    lsp_env: dict[str, str], workspace: pathlib.Path, fake_env: dict[str, str]
) -> AsyncIterator[StartServer]:
    """Start language servers (``env=`` and ``workspace=`` overridable); stop them all
    afterwards and check that no codex process survived."""
    from tests.support.lsp_client import codex_runs_ended, start_server, stop_server

    clients: list[CodexTestClient] = []

    async def start(**options: Any) -> CodexTestClient:
        env = options.pop("env", lsp_env)
        options.setdefault("workspace", workspace)
        client = await start_server(env, **options)
        clients.append(client)
        return client

    yield start
    for client in clients:
        await stop_server(client)
    await codex_runs_ended(fake_env["CODEX_HOME"])


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the reliability figures the tests measured (see tests/support/figures.py)."""
    from tests.support.figures import FIGURES

    if FIGURES:
        terminalreporter.section("reliability figures")
        for name, figure in sorted(FIGURES.items()):
            terminalreporter.line(f"{name}: {figure}")
