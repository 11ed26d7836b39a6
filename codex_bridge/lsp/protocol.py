"""pygls' protocol with the gaps of pygls 2.1 that matter for long-running commands closed:
``$/cancelRequest`` does not reach a running ``workspace/executeCommand`` handler, a cancelled
command handler can leave its request unanswered, and a reply to a server request that was
given up raises ``InvalidStateError``.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException, JsonRpcInternalError, JsonRpcInvalidParams
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import MsgId

from ..errors import BridgeError, CodexFailed, CodexUnavailable, InvalidRequest, lookup

if TYPE_CHECKING:
    from .server import CodexLanguageServer

__all__ = ["ERROR_CODES", "CodexProtocol", "Refusal", "work_done_token"]

ERROR_CODES: Mapping[type[BridgeError], int] = {
    BridgeError: JsonRpcInvalidParams.CODE,  # the caller can fix the request
    CodexUnavailable: int(lsp.LSPErrorCodes.RequestFailed),
    CodexFailed: int(lsp.LSPErrorCodes.RequestFailed),
}
"""The JSON-RPC error code of each bridge error (the nearest class counts); the error's
``data.code`` carries the bridge's own word."""

logger = logging.getLogger("codex_bridge.lsp")

work_done_token: contextvars.ContextVar[lsp.ProgressToken | None] = contextvars.ContextVar(
    "codex_work_done_token", default=None
)
"""The client's workDoneToken of the command being run."""


class Refusal(JsonRpcInvalidParams):
    """A command refused for bad input or policy; its message says what to do instead."""


class CodexProtocol(LanguageServerProtocol):
    """pygls' protocol with the gaps that matter for long-running commands closed."""

    _server: CodexLanguageServer

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams) -> Any:
        result: lsp.InitializeResult = yield from super().lsp_initialize(params)
        # Tell clients they may pass a workDoneToken with executeCommand.
        if result.capabilities.execute_command_provider is not None:
            result.capabilities.execute_command_provider.work_done_progress = True
        return result

    @lsp_method(lsp.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: lsp.ExecuteCommandParams
    ) -> Any:
        # pygls runs commands as a sub-task of a generator, which $/cancelRequest and
        # shutdown cannot reach. As one coroutine the command is the request's own task:
        # cancelling the request cancels the command, and pygls answers it.
        reset = work_done_token.set(params.work_done_token)
        try:
            handler = self.fm.commands.get(params.command)
            if handler is None:
                known = ", ".join(self.fm.commands)
                raise InvalidRequest(f"unknown command {params.command!r}; known: {known}")
            return await handler(*(params.arguments or ()))
        except BridgeError as exc:
            code = lookup(ERROR_CODES, exc)
            raise Refusal(message=exc.message, code=code, data={"code": exc.code}) from None
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as exc:
            logger.exception("command %s failed", params.command)
            raise JsonRpcInternalError(message=f"{params.command} failed: {exc!r}") from None
        finally:
            work_done_token.reset(reset)

    def _send_handler_result(self, future: Any, *, msg_id: MsgId) -> None:
        failure = None if future.cancelled() else future.exception()
        if isinstance(failure, Refusal):  # bad input: an answer, not a logged traceback
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=failure.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _handle_response(
        self, msg_id: MsgId, result: Any | None = None, error: Any | None = None
    ) -> None:
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            # We stopped waiting (a run was cancelled); pygls would raise InvalidStateError.
            self._request_futures.pop(msg_id, None)
            return
        super()._handle_response(msg_id, result, error)
