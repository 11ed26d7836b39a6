"""A tiny offline stand-in for the OpenAI Responses API, for end-to-end tests.

The real ``codex`` CLI is pointed at this server through a custom model provider
(see ``real_codex.py`` beside this file). Each ``POST /v1/responses`` is answered with
a streamed (SSE) response whose behaviour is chosen by a directive inside the last
user message of the request:

``[[mock:echo]]`` (default)
    assistant message ``"echo: <last user text>"``.
``[[mock:hello]]``
    assistant message ``"Hello from the mock."``.
``[[mock:shell]]``
    first a shell tool call running ``echo mock-shell-ok``; once the tool output is
    sent back, the assistant message ``"All done."``.
``[[mock:run]] ... [[cmd]]COMMAND[[/cmd]]``
    like ``shell``, but the tool call runs COMMAND (for sandbox tests).
    ``[[mock:run-escalated]]`` asks for it to run outside the sandbox
    (``sandbox_permissions: "require_escalated"``).
``[[mock:schema]]``
    assistant message ``{"status": "ok", "count": 0}`` (for ``--output-schema``).
``[[mock:429]]`` / ``[[mock:500]]``
    HTTP 429 / 500 on every request.
``[[mock:slow]]``
    waits ``slow_seconds`` (default 30 s) before echoing; aborted on shutdown.
``[[mock:fail-once]]``
    HTTP 500 the first time a given prompt is seen, echo afterwards.
``[[mock:stream]]``
    assistant message ``STREAM_TEXT`` streamed as ``response.output_text.delta`` events,
    ``stream_delay_seconds`` apart (live-text tests).
``[[mock:escalate]]``
    a shell tool call asking to run ``ESCALATED_COMMAND`` outside the sandbox
    (``sandbox_permissions: "require_escalated"``): under ``approval_policy=on-request``
    codex asks for approval first. Once the tool output is back: ``"All done."``.

A test can also script the model itself: ``planner`` (a callable taking the request body)
returns the output items of a reply, or None to fall back to the directives. The helpers
``message``, ``tool_search_call`` and ``function_call`` build items in the shapes codex
expects, e.g. for codex as an MCP host: search its deferred tools, then call one under its
namespace (see tests/hosts/).

Only the standard library is used.
"""

from __future__ import annotations

import json
import re
import sys
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

from ._mock_wire import (
    ESCALATION_REASON,
    SHELL_COMMAND,
    ItemBuilder,
    JsonDict,
    last_user_index,
    message_text,
    sse_chunk,
)

__all__ = [
    "ESCALATED_COMMAND",
    "ESCALATED_MARKER",
    "ESCALATION_REASON",
    "HELLO_TEXT",
    "SCHEMA_TEXT",
    "SHELL_COMMAND",
    "STREAM_TEXT",
    "MockResponsesServer",
    "Planner",
]

HELLO_TEXT = "Hello from the mock."
SCHEMA_TEXT = '{"status": "ok", "count": 0}'
SHELL_PREAMBLE = "Running a command."
SHELL_DONE_TEXT = "All done."
STREAM_TEXT = "Streaming one word at a time from the mock."
ESCALATED_MARKER = "mock-escalated.txt"
ESCALATED_COMMAND = f"echo approved > {ESCALATED_MARKER}"

_DIRECTIVE_RE = re.compile(r"\[\[mock:([a-z0-9-]+)\]\]")
_COMMAND_RE = re.compile(r"\[\[cmd\]\](.*?)\[\[/cmd\]\]", re.S)

Planner = Callable[[JsonDict], "list[JsonDict] | None"]


class _QuietHTTPServer(ThreadingHTTPServer):
    """Threaded server whose handler threads never block shutdown and which does
    not print tracebacks when codex hangs up (e.g. killed on a test timeout)."""

    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class MockResponsesServer:
    """Threaded HTTP server speaking just enough of the Responses API for ``codex exec``.

    Use as a context manager; ``base_url`` is ``http://127.0.0.1:<port>/v1``.
    ``requests`` collects the JSON bodies of every ``POST /v1/responses`` and
    ``paths`` every ``(method, path)`` seen, in arrival order.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        slow_seconds: float = 30.0,
        planner: Planner | None = None,
        stream_delay_seconds: float = 0.02,
    ) -> None:
        self.host = host
        self.slow_seconds = slow_seconds
        self.planner = planner
        self.stream_delay_seconds = stream_delay_seconds
        self.requests: list[JsonDict] = []
        self.paths: list[tuple[str, str]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._seen_prompts: set[str] = set()
        self._items = ItemBuilder()
        self._httpd = _QuietHTTPServer((host, 0), self._make_handler())
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def start(self) -> MockResponsesServer:
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._httpd.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="mock-responses",
                daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._httpd.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._httpd.server_close()

    def __enter__(self) -> MockResponsesServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- helpers for tests -----------------------------------------------------

    def user_texts(self) -> list[str]:
        """The last user message text of every recorded ``/responses`` request."""
        texts: list[str] = []
        for body in self.requests:
            items = body.get("input") or []
            index = last_user_index(items)
            texts.append(message_text(items[index]) if index >= 0 else "")
        return texts

    # -- request handling --------------------------------------------------------

    def _record(self, method: str, path: str, body: JsonDict | None) -> None:
        with self._lock:
            self.paths.append((method, path))
            if body is not None:
                self.requests.append(body)

    def _first_time(self, key: str) -> bool:
        with self._lock:
            if key in self._seen_prompts:
                return False
            self._seen_prompts.add(key)
            return True

    def _sleep(self, seconds: float) -> bool:
        """Sleep in small steps; False if the server started shutting down."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self._stopping.wait(0.1):
                return False
        return True

    def _directive(self, body: JsonDict) -> str:
        items: list[Any] = body.get("input") or []
        index = last_user_index(items)
        match = _DIRECTIVE_RE.search(message_text(items[index]) if index >= 0 else "")
        return match.group(1) if match else "echo"

    def _plan(self, body: JsonDict) -> tuple[int, list[JsonDict]]:
        """Decide the reply: (HTTP status, output items).

        Status 200 streams the items; 429/500 are error replies; 0 means the
        server is shutting down and the connection is just dropped.
        """
        if self.planner is not None:
            planned = self.planner(body)
            if planned is not None:
                return 200, planned
        items: list[Any] = body.get("input") or []
        index = last_user_index(items)
        text = message_text(items[index]) if index >= 0 else ""
        match = _DIRECTIVE_RE.search(text)
        directive = match.group(1) if match else "echo"
        after_user = items[index + 1 :] if index >= 0 else items
        tool_output_seen = any(
            isinstance(item, dict) and str(item.get("type", "")).endswith("call_output")
            for item in after_user
        )

        if directive == "429":
            return 429, []
        if directive == "500":
            return 500, []
        if directive == "fail-once" and self._first_time(text):
            return 500, []
        if directive == "slow" and not self._sleep(self.slow_seconds):
            return 0, []
        if directive == "hello":
            return 200, [self._items.message(HELLO_TEXT)]
        if directive == "schema":
            return 200, [self._items.message(SCHEMA_TEXT)]
        if directive in ("shell", "run", "run-escalated"):
            if tool_output_seen:
                return 200, [self._items.message(SHELL_DONE_TEXT)]
            command = _COMMAND_RE.search(text) if directive != "shell" else None
            call = self._items.shell_call(
                body,
                command.group(1) if command else SHELL_COMMAND,
                escalated=directive == "run-escalated",
            )
            return 200, [self._items.message(SHELL_PREAMBLE), call]
        if directive == "escalate":
            if tool_output_seen:
                return 200, [self._items.message(SHELL_DONE_TEXT)]
            return 200, [self._items.shell_call(body, ESCALATED_COMMAND, escalate=True)]
        if directive == "stream":
            return 200, [self._items.message(STREAM_TEXT)]
        return 200, [self._items.message(f"echo: {text}")]

    def message(self, text: str) -> JsonDict:
        """An assistant message item."""
        return self._items.message(text)

    def tool_search_call(self, query: str, *, limit: int = 8) -> JsonDict:
        """A call of codex's client-side ``tool_search`` (how a model finds MCP tools)."""
        return self._items.tool_search_call(query, limit=limit)

    def function_call(
        self, name: str, arguments: JsonDict, *, namespace: str | None = None
    ) -> JsonDict:
        """A function call; MCP tools found by ``tool_search`` live under a namespace."""
        return self._items.function_call(name, arguments, namespace=namespace)

    def _make_handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # every reply carries Content-Length (keep-alive safe)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(
                self, status: int, payload: bytes, content_type: str = "application/json"
            ) -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(payload)))
                if content_type == "text/event-stream":
                    self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()

            def _send_error_json(self, status: int, message: str, kind: str) -> None:
                payload = {"error": {"message": message, "type": kind, "code": kind, "param": None}}
                self._send(status, json.dumps(payload).encode("utf-8"))

            def _read_body(self) -> bytes:
                length = int(self.headers.get("Content-Length") or 0)
                return self.rfile.read(length) if length > 0 else b""

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                server._record("GET", self.path, None)
                if path.rstrip("/") == "/v1/models":
                    self._send(
                        200,
                        json.dumps({"object": "list", "data": [], "models": []}).encode("utf-8"),
                    )
                else:
                    self._send_error_json(404, f"no route for GET {path}", "not_found")

            def do_POST(self) -> None:
                path = self.path.split("?", 1)[0]
                raw = self._read_body()
                if path.rstrip("/") != "/v1/responses":
                    server._record("POST", self.path, None)
                    self._send_error_json(404, f"no route for POST {path}", "not_found")
                    return
                try:
                    body = json.loads(raw.decode("utf-8")) if raw else {}
                except (UnicodeDecodeError, json.JSONDecodeError):
                    server._record("POST", self.path, None)
                    self._send_error_json(400, "request body is not JSON", "invalid_request_error")
                    return
                server._record("POST", self.path, body)
                status, output = server._plan(body)
                if status == 0:
                    self.close_connection = True  # shutting down: hang up without a reply
                elif status == 429:
                    self._send_error_json(429, "Rate limit reached (mock).", "rate_limit_exceeded")
                elif status != 200:
                    self._send_error_json(status, "The server had an error (mock).", "server_error")
                elif server._directive(body) == "stream":
                    self._stream(server._items.sse_events(body, output, deltas=True))
                else:
                    self._send(200, server._items.sse_body(body, output), "text/event-stream")

            def _stream(self, events: list[JsonDict]) -> None:
                """SSE written event by event (no length: the connection closes at the end)."""
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Connection", "close")
                self.end_headers()
                self.close_connection = True
                for event in events:
                    if event["type"] == "response.output_text.delta":
                        server._sleep(server.stream_delay_seconds)
                    self.wfile.write(sse_chunk(event))
                    self.wfile.flush()

            def _other(self) -> None:
                self._read_body()
                server._record(self.command, self.path, None)
                if self.command == "HEAD":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                else:
                    self._send_error_json(
                        404, f"no route for {self.command} {self.path}", "not_found"
                    )

            do_PUT = do_DELETE = do_PATCH = do_HEAD = do_OPTIONS = _other

        return Handler
