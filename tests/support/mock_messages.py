"""A tiny offline stand-in for the Anthropic Messages API, for driving Claude Code.

Claude Code (``claude -p``) is pointed at it with ``ANTHROPIC_BASE_URL``. Every
``POST /v1/messages`` is answered by ``planner(body)``, which returns the reply's content
blocks (``text(...)`` and ``tool_use(...)`` build them); without a planner, or when it returns
None, the reply is the text ``DEFAULT_TEXT``. Streaming requests get the SSE event sequence
(``message_start``, ``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``,
``message_stop``); other requests get the JSON message. ``count_tokens`` is answered too;
anything else is a 404. ``requests`` keeps every request body, in order.

Only the standard library is used.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["DEFAULT_TEXT", "MockMessagesServer", "text", "tool_results", "tool_use"]

JsonDict = dict[str, Any]
Planner = Callable[[JsonDict], "list[JsonDict] | None"]

DEFAULT_TEXT = "Hello from the mock Claude."
_ids = itertools.count(1)


def text(value: str) -> JsonDict:
    return {"type": "text", "text": value}


def tool_use(name: str, arguments: JsonDict) -> JsonDict:
    return {"type": "tool_use", "id": f"toolu_mock_{next(_ids)}", "name": name, "input": arguments}


def tool_results(body: JsonDict) -> list[JsonDict]:
    """Every ``tool_result`` block the host sent in this request, in order."""
    found: list[JsonDict] = []
    for message in body.get("messages") or []:
        content = message.get("content")
        if message.get("role") == "user" and isinstance(content, list):
            found += [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"]
    return found


def _usage(body: JsonDict) -> JsonDict:
    return {
        "input_tokens": max(1, len(json.dumps(body.get("messages", []))) // 4),
        "output_tokens": 1,
    }


def _stream(blocks: list[JsonDict], body: JsonDict) -> bytes:
    message = {
        "id": f"msg_mock_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "mock"),
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": _usage(body),
    }
    events: list[JsonDict] = [{"type": "message_start", "message": message}]
    for index, block in enumerate(blocks):
        if block["type"] == "tool_use":
            start = {**block, "input": {}}
            delta = {"type": "input_json_delta", "partial_json": json.dumps(block["input"])}
        else:
            start, delta = (
                {"type": "text", "text": ""},
                {"type": "text_delta", "text": block["text"]},
            )
        events += [
            {"type": "content_block_start", "index": index, "content_block": start},
            {"type": "content_block_delta", "index": index, "delta": delta},
            {"type": "content_block_stop", "index": index},
        ]
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    events += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 5},
        },
        {"type": "message_stop"},
    ]
    return "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()


def _message(blocks: list[JsonDict], body: JsonDict) -> bytes:
    stop = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
    reply = {
        "id": f"msg_mock_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": body.get("model", "mock"),
        "content": blocks,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(body),
    }
    return json.dumps(reply).encode()


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class MockMessagesServer:
    """Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self, planner: Planner | None = None) -> None:
        self.planner = planner
        self.requests: list[JsonDict] = []
        self.paths: list[str] = []
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def __enter__(self) -> MockMessagesServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._httpd.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd.server_close()

    def reply(self, body: JsonDict) -> list[JsonDict]:
        planned = self.planner(body) if self.planner is not None else None
        return planned if planned is not None else [text(DEFAULT_TEXT)]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, payload: bytes, content_type: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                path = self.path.split("?", 1)[0].rstrip("/")
                with server._lock:
                    server.paths.append(f"POST {self.path}")
                try:
                    body = json.loads(raw) if raw else {}
                except json.JSONDecodeError:
                    self._send(400, b'{"type":"error"}', "application/json")
                    return
                if path == "/v1/messages/count_tokens":
                    self._send(200, json.dumps(_usage(body)).encode(), "application/json")
                    return
                if path != "/v1/messages":
                    self._send(404, b'{"type":"error"}', "application/json")
                    return
                with server._lock:
                    server.requests.append(body)
                blocks = server.reply(body)
                if body.get("stream"):
                    self._send(200, _stream(blocks, body), "text/event-stream")
                else:
                    self._send(200, _message(blocks, body), "application/json")

            def do_GET(self) -> None:
                with server._lock:
                    server.paths.append(f"GET {self.path}")
                self._send(404, b'{"type":"error"}', "application/json")

        return Handler
