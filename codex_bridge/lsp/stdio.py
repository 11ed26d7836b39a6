"""stdio: the read loop (pygls' own, with every request answered) and :func:`serve`."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import sys
from typing import Any

import cattrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol.json_rpc import JsonRPCRequestMessage

from ..launch import ServeOptions
from ..policy import BridgePolicy
from ..signals import until_signal
from ..wire import INVALID_PARAMS, INVALID_REQUEST, Refused, inspect_message
from .features import build_server
from .protocol import CodexProtocol
from .server import CodexLanguageServer

__all__ = ["serve"]

logger = logging.getLogger("codex_bridge.lsp")

_CONTENT_LENGTH = re.compile(rb"^Content-Length: *(\d+)\r?\n$", re.I)
_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_DISCARD_CHUNK = 1024 * 1024


class _PipeReader:
    """stdin as an asyncio stream: no reader thread left blocking the exit."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        return await self._stream.readline()

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


async def _stdin_reader(server: LanguageServer) -> Any:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(loop=loop)
    try:
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream, loop=loop), sys.stdin.buffer
        )
    except (OSError, ValueError):  # stdin is a regular file: read it in a thread
        return StdinAsyncReader(sys.stdin.buffer, server.thread_pool)
    return _PipeReader(stream)


async def _read_messages(reader: Any, protocol: CodexProtocol) -> None:
    """pygls' ``run_async`` loop, with every request answered.

    pygls 2.1 logs and drops a request whose body is not JSON or whose params do not match
    the method's type, and one that arrives after ``shutdown``: its client would wait forever.
    Here those get a JSON-RPC error saying what is wrong (see :mod:`codex_bridge.wire`).
    """
    content_length = 0
    while True:
        header = await reader.readline()
        if not header:
            return
        if not content_length:
            match = _CONTENT_LENGTH.fullmatch(header)
            if match:
                content_length = int(match.group(1))
        if content_length and not header.strip():
            length, content_length = content_length, 0
            if length > _MAX_MESSAGE_BYTES:
                if not await _discard(reader, length):
                    return
                _answer(
                    protocol,
                    Refused(
                        INVALID_REQUEST,
                        f"message of {length:,} bytes is "
                        f"too large (at most {_MAX_MESSAGE_BYTES:,})",
                        None,
                        True,
                    ),
                )
                continue
            body = await reader.readexactly(length)
            if not body:
                return
            try:
                _handle_body(protocol, body)
            except Exception:  # the loop must go on, whatever one message does
                logger.exception("could not handle a message")


async def _discard(reader: Any, length: int) -> bool:
    while length > 0:
        chunk = await reader.readexactly(min(length, _DISCARD_CHUNK))
        if not chunk:
            return False
        length -= len(chunk)
    return True


def _handle_body(protocol: CodexProtocol, body: bytes) -> None:
    data, refused = inspect_message(body)
    if refused is not None:
        _answer(protocol, refused)
        return
    method = data.get("method")
    if not ("id" in data and isinstance(method, str)):
        # Notifications and responses: nobody waits for an answer; pygls logs what is wrong.
        with contextlib.suppress(JsonRpcException):
            protocol.handle_message(protocol.structure_message(data))
        return
    request_id = data["id"]
    if protocol._shutdown and method != lsp.EXIT:
        refused = Refused(
            INVALID_REQUEST, f"{method}: the server is shutting down", request_id, True
        )
        _answer(protocol, refused)
        return
    params = data.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    if method == lsp.WORKSPACE_EXECUTE_COMMAND and not isinstance(arguments, list | None):
        # cattrs would turn a string into a list of characters, an object into its keys.
        message = f"Invalid params for {method!r}: arguments must be an array (see README)"
        _answer(protocol, Refused(INVALID_PARAMS, message, request_id, True))
        return
    request_type = protocol.get_message_type(method) or JsonRPCRequestMessage
    try:
        message = protocol._converter.structure(data, request_type)
    except Exception as exc:
        problems = (
            cattrs.transform_error(exc)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        detail = "; ".join(problems[:3]).replace("$.", "")
        _answer(
            protocol,
            Refused(INVALID_PARAMS, f"Invalid params for {method!r}: {detail}", request_id, True),
        )
        return
    protocol.handle_message(message)


def _answer(protocol: CodexProtocol, refused: Refused) -> None:
    logger.info("refused a malformed message: %s", refused.message)
    if refused.is_request:
        protocol._send_data(refused.response())


async def _serve_stdio(server: CodexLanguageServer) -> None:
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    protocol = server.protocol
    assert isinstance(protocol, CodexProtocol)

    async def read() -> None:
        await _read_messages(await _stdin_reader(server), protocol)

    await until_signal(read, server.close)


def serve(policy: BridgePolicy, options: ServeOptions | None = None) -> None:
    """Serve the language server on stdin/stdout until the editor exits or closes stdin
    (``options``, the MCP server's, do not apply)."""
    server = build_server(policy)
    assert isinstance(server, CodexLanguageServer)
    asyncio.run(_serve_stdio(server))
