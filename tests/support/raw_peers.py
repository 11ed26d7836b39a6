"""Raw JSON-RPC peers for the MCP server (one message per line) and the language server
(Content-Length framing) over stdio: for what the official clients cannot do (send malformed
messages, SIGKILL the server mid-call) while still reading every answer."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process
from typing_extensions import Self

ANSWER_SECONDS = 30.0
_INITIALIZE = {
    "protocolVersion": "2025-11-25",
    "capabilities": {},
    "clientInfo": {"name": "reliability-tests", "version": "0"},
}


class RawPeer:
    """One server process; ``answers`` holds every response by id (``None``: null ids)."""

    module = ""

    def __init__(self, process: Process) -> None:
        self.process = process
        self.answers: dict[int | str | None, list[dict[str, Any]]] = {}
        self.received = anyio.Event()
        self._ids = itertools.count(1)

    @classmethod
    @asynccontextmanager
    async def start(cls, env: Mapping[str, str], cwd: Path) -> AsyncIterator[Self]:
        process = await anyio.open_process(
            [sys.executable, "-m", cls.module],
            env=dict(env),
            cwd=cwd,
            stderr=subprocess.DEVNULL,
        )
        peer = cls(process)
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(peer._read)
                await peer._initialize()
                yield peer
                group.cancel_scope.cancel()
        finally:
            if process.returncode is None:
                process.kill()
            with anyio.move_on_after(10, shield=True):
                await process.wait()

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def next_id(self) -> int:
        return next(self._ids)

    async def _initialize(self) -> None:
        raise NotImplementedError

    def _frame(self, body: bytes) -> bytes:
        raise NotImplementedError

    def _split(self, pending: bytes) -> tuple[list[bytes], bytes]:
        raise NotImplementedError

    async def send(self, message: dict[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        assert self.process.stdin is not None
        await self.process.stdin.send(self._frame(data))

    async def request(self, method: str, params: dict[str, Any] | None = None) -> int:
        request_id = self.next_id()
        message: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        await self.send(message)
        return request_id

    async def answer(
        self, request_id: int | str | None, *, within: float = ANSWER_SECONDS
    ) -> dict[str, Any]:
        with anyio.fail_after(within):
            while not self.answers.get(request_id):
                event = self.received
                await event.wait()
        return self.answers[request_id].pop(0)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        return await self.answer(await self.request(method, params))

    async def tool(self, name: str, arguments: Any) -> dict[str, Any]:
        answer = await self.call("tools/call", {"name": name, "arguments": arguments})
        result: dict[str, Any] = answer["result"]
        return result

    async def close_stdin(self) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.aclose()

    async def _read(self) -> None:
        assert self.process.stdout is not None
        pending = b""
        async for chunk in self.process.stdout:
            pending += chunk
            lines, pending = self._split(pending)
            for line in lines:
                message = json.loads(line)
                if "method" in message:
                    continue  # notifications and requests from the server
                self.answers.setdefault(message.get("id"), []).append(message)
            if lines:
                self.received.set()
                self.received = anyio.Event()


class RawMcp(RawPeer):
    """``python -m codex_bridge.mcp``: one JSON message per line."""

    module = "codex_bridge.mcp"

    async def _initialize(self) -> None:
        await self.call("initialize", _INITIALIZE)
        await self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    def _frame(self, body: bytes) -> bytes:
        return body + b"\n"

    def _split(self, pending: bytes) -> tuple[list[bytes], bytes]:
        *lines, rest = pending.split(b"\n")
        return lines, rest


class RawLsp(RawPeer):
    """``python -m codex_bridge.lsp``: Content-Length framed messages."""

    module = "codex_bridge.lsp"

    async def _initialize(self) -> None:
        await self.call("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        await self.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})

    def _frame(self, body: bytes) -> bytes:
        return b"Content-Length: %d\r\n\r\n" % len(body) + body

    def _split(self, pending: bytes) -> tuple[list[bytes], bytes]:
        bodies = []
        while (end := pending.find(b"\r\n\r\n")) >= 0:
            headers = pending[:end].decode("ascii").split("\r\n")
            length = next(
                int(line.split(":")[1])
                for line in headers
                if line.lower().startswith("content-length")
            )
            if len(pending) < end + 4 + length:
                break
            bodies.append(pending[end + 4 : end + 4 + length])
            pending = pending[end + 4 + length :]
        return bodies, pending

    async def execute(self, name: str, arguments: Any) -> dict[str, Any]:
        params = {"command": name, "arguments": arguments}
        return await self.call("workspace/executeCommand", params)
