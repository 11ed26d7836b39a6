"""The language server assembled: its commands and the LSP features it answers."""

from __future__ import annotations

from typing import Any

from lsprotocol import types as lsp
from pygls.lsp.server import LanguageServer

from ..policy import BridgePolicy
from ..service import BridgeService
from .code_actions import KINDS
from .commands import HANDLERS
from .server import TRANSCRIPT_METHOD, CodexLanguageServer
from .settings import normalise

__all__ = ["build_server"]


def build_server(policy: BridgePolicy, service: BridgeService | None = None) -> LanguageServer:
    """A language server over ``service`` (default: a new one with ``policy``).

    The server closes the service when the editor shuts it down."""
    server = CodexLanguageServer(policy, service)

    for name, handler in HANDLERS.items():
        server.command(name)(handler)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CodexLanguageServer, params: lsp.InitializeParams) -> None:
        # Answers at once: settings only, no codex call.
        ls.init_options = normalise(params.initialization_options)
        if ls.init_options:
            ls.apply_settings()

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: CodexLanguageServer, params: lsp.InitializedParams) -> None:
        ls.service.start_engine_check()  # in the background
        ls.send_status()
        if ls.supports("workspace.configuration"):
            await ls.pull_configuration()

    @server.feature(TRANSCRIPT_METHOD)
    def transcript(ls: CodexLanguageServer, params: Any) -> dict[str, Any]:
        """``{"run_id": ...}`` or ``{"uri": ...}`` → the transcript's uri, version and text."""
        return ls.transcript_of(params)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: CodexLanguageServer, params: lsp.DidChangeConfigurationParams
    ) -> None:
        if ls.supports("workspace.configuration"):
            await ls.pull_configuration()
        else:
            ls.config_options = normalise(params.settings)
            ls.apply_settings()

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=list(KINDS), resolve_provider=False),
    )
    def code_action(
        ls: CodexLanguageServer, params: lsp.CodeActionParams
    ) -> list[lsp.CodeAction] | None:
        return ls.actions_for(params)

    @server.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    async def progress_cancelled(
        ls: CodexLanguageServer, params: lsp.WorkDoneProgressCancelParams
    ) -> None:
        await ls.cancel_token(params.token)

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: CodexLanguageServer, params: None) -> None:
        await ls.close()

    @server.feature(lsp.EXIT)
    async def exit_(ls: CodexLanguageServer, params: None) -> None:
        await ls.close()

    return server
