"""The language server under a test client.

``start_server`` launches ``python -m codex_bridge.lsp`` over stdio under a
pytest-lsp client that also answers ``workspace/applyEdit``; ``codex_processes`` finds what
is left of codex runs that used a given CODEX_HOME (codex itself and any child in its process
group), not the server.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import sys
from collections.abc import Awaitable, Callable
from typing import Any, Union

import psutil
from cattrs import Converter
from lsprotocol import types as lsp
from pygls.protocol import default_converter
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

from tests.support.paths import ROOT
from tests.support.processes import codex_processes as processes_with_home
from tests.support.processes import wait_none_left_async

SERVER_COMMAND = [sys.executable, "-m", "codex_bridge.lsp"]
WAIT_SECONDS = 30.0
StartServer = Callable[..., Awaitable["CodexTestClient"]]
"""The ``launch`` fixture: starts a server, returns its initialized client."""
MessageRequestHandler = Callable[
    [LanguageClient, lsp.ShowMessageRequestParams], Awaitable[lsp.MessageActionItem | None]
]


class CodexTestClient(LanguageClient):
    """pytest-lsp's client, recording ``workspace/applyEdit`` requests."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.applied_edits: list[lsp.ApplyWorkspaceEditParams] = []


def client_converter() -> Converter:
    """pygls' converter, reading code actions right: lsprotocol 2025.0 turns any
    ``CodeAction`` that carries a ``command`` into a bare ``Command``."""
    converter: Converter = default_converter()  # type: ignore[no-untyped-call]

    def command_or_action(data: Any, _: Any) -> lsp.Command | lsp.CodeAction:
        if isinstance(data.get("command"), str):
            return converter.structure(data, lsp.Command)
        return converter.structure(data, lsp.CodeAction)

    converter.register_structure_hook(Union[lsp.Command, lsp.CodeAction], command_or_action)  # noqa: UP007
    return converter


def _apply_edit(
    client: CodexTestClient, params: lsp.ApplyWorkspaceEditParams
) -> lsp.ApplyWorkspaceEditResult:
    client.applied_edits.append(params)
    return lsp.ApplyWorkspaceEditResult(applied=True)


async def start_server(
    env: dict[str, str],
    *,
    workspace: pathlib.Path | None = None,
    init_options: Any = None,
    configuration: dict[str, Any] | None = None,
    capabilities: lsp.ClientCapabilities | None = None,
    message_requests: MessageRequestHandler | None = None,
) -> CodexTestClient:
    """A client connected to a freshly started server, initialized (``message_requests``
    answers ``window/showMessageRequest``)."""
    client = CodexTestClient(converter_factory=client_converter, configuration=configuration)
    register_lsp_features(client)
    client.feature(lsp.WORKSPACE_APPLY_EDIT)(_apply_edit)
    if message_requests is not None:
        client.feature(lsp.WINDOW_SHOW_MESSAGE_REQUEST)(message_requests)
    await client.start_io(*SERVER_COMMAND, env=env, cwd=str(ROOT))
    root = workspace.as_uri() if workspace is not None else None
    await client.initialize_session(
        lsp.InitializeParams(
            capabilities=capabilities or client_capabilities("visual-studio-code"),
            root_uri=root,
            workspace_folders=[lsp.WorkspaceFolder(uri=root, name="work")] if root else None,
            initialization_options=init_options,
        )
    )
    return client


async def stop_server(client: CodexTestClient) -> int | None:
    """shutdown + exit when the server still runs; the server's exit code."""
    server = client._server
    if server is not None and server.returncode is None:
        await asyncio.wait_for(client.shutdown_session(), WAIT_SECONDS)
    await asyncio.wait_for(client.stop(), WAIT_SECONDS)  # type: ignore[no-untyped-call]
    return server.returncode if server is not None else None


def codex_processes(codex_home: str | os.PathLike[str]) -> list[psutil.Process]:
    """Live processes started by codex runs that used ``codex_home`` (not the server)."""
    return processes_with_home(codex_home, exclude="codex_bridge.lsp")


async def codex_runs_ended(codex_home: str | os.PathLike[str]) -> None:
    """Wait until no process of a codex run with ``codex_home`` is alive."""
    await wait_none_left_async(lambda: codex_processes(codex_home), timeout=WAIT_SECONDS)


def progress_of(client: LanguageClient, token: lsp.ProgressToken) -> list[Any]:
    return list(client.progress_reports.get(token, []))


def ended(client: LanguageClient, token: lsp.ProgressToken) -> bool:
    reports = client.progress_reports.get(token, [])
    return bool(reports) and isinstance(reports[-1], lsp.WorkDoneProgressEnd)
