"""A minimal ``codex app-server`` (JSON-RPC on stdio, standard library only) whose turns send
huge notifications, shaped as codex 0.169 sends them: an agent message's whole text in
``item/started``, ``item/completed`` and ``turn/completed``'s items.

Run it through :func:`executable` (``AppServerTransport(executable(tmp_path))``). The prompt
says what the turn sends (sizes in bytes):

* ``message=N``: one agent message of N bytes (digits, a ``é`` every 100 bytes);
* ``json=N``: an agent message that is a JSON object ``{"status": "...", "count": 1}`` of
  about N bytes (for output-schema turns);
* ``output=N``: a command whose output is N bytes of log lines, then a short message;
* ``delta=N``: an agent message streamed as one delta of N bytes, then completed;
* anything else: the short message ``ok: <prompt>``.
"""

from __future__ import annotations

import json
import os
import stat
import sys
import uuid
from pathlib import Path
from typing import Any

LOG_LINE = "2024-06-11 12:00:00 INFO worker: processed a batch of records\n"


def executable(folder: Path) -> str:
    """A ``codex`` in ``folder`` that runs this fake (``codex app-server`` only)."""
    path = folder / "codex"
    path.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{Path(__file__).resolve()}" "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def message_text(size: int) -> str:
    """``size`` bytes of UTF-8: digits with a two-byte ``é`` ending every 100 bytes."""
    block = "0123456789" * 9 + "01234567" + "é"  # 98 + 2 bytes
    text = block * (size // 100)
    return text + "x" * (size - len(text.encode()))


def json_text(size: int) -> str:
    return json.dumps({"status": "s" * max(0, size - 30), "count": 1})


def output_text(size: int) -> str:
    return LOG_LINE * (size // len(LOG_LINE))


def send(message: dict[str, Any]) -> None:
    sys.stdout.buffer.write(json.dumps(message, ensure_ascii=False).encode() + b"\n")
    sys.stdout.buffer.flush()


def notify(method: str, params: dict[str, Any]) -> None:
    send({"method": method, "params": params})


def run_turn(thread_id: str, turn_id: str, prompt: str) -> None:
    where = {"threadId": thread_id, "turnId": turn_id}
    notify("turn/started", {"threadId": thread_id, "turn": {"id": turn_id, "items": []}})
    kind, _, number = prompt.partition("=")
    size = int(number) if number.isdigit() else 0
    items: list[dict[str, Any]] = []
    if kind == "output":
        command = {"type": "commandExecution", "id": "call_1", "command": "cat big.log"}
        notify("item/started", {**where, "item": {**command, "status": "inProgress"}})
        done = {**command, "status": "completed", "aggregatedOutput": output_text(size)}
        notify("item/completed", {**where, "item": {**done, "exitCode": 0}})
        del done
        text = "done"
    elif kind == "message":
        text = message_text(size)
    elif kind == "json":
        text = json_text(size)
    elif kind == "delta":
        text = message_text(size)
        notify("item/started", {**where, "item": {"type": "agentMessage", "id": "m", "text": ""}})
        notify("item/agentMessage/delta", {**where, "itemId": "m", "delta": text})
    else:
        text = f"ok: {prompt}"
    message = {"type": "agentMessage", "id": "m", "text": text}
    if kind != "delta":
        notify("item/started", {**where, "item": message})
    notify("item/completed", {**where, "item": message})
    items.append(message)
    usage = {"inputTokens": 10, "outputTokens": 5}
    notify("thread/tokenUsage/updated", {**where, "tokenUsage": {"total": usage}})
    turn = {"id": turn_id, "items": items, "status": "completed", "error": None}
    notify("turn/completed", {"threadId": thread_id, "turn": turn})


def serve() -> None:
    for line in sys.stdin.buffer:
        request = json.loads(line)
        method, params = request.get("method"), request.get("params") or {}
        if "id" not in request:
            continue  # "initialized"
        result: dict[str, Any] = {}
        if method in ("thread/start", "thread/resume", "thread/fork"):
            result = {"thread": {"id": params.get("threadId") or str(uuid.uuid4())}}
        elif method == "turn/start":
            turn_id = str(uuid.uuid4())
            send({"id": request["id"], "result": {"turn": {"id": turn_id}}})
            prompt = "".join(part.get("text", "") for part in params.get("input", []))
            run_turn(params["threadId"], turn_id, prompt.strip())
            continue
        elif method == "turn/interrupt":
            result = {}
        send({"id": request["id"], "result": result})


if __name__ == "__main__":
    if sys.argv[1:2] != ["app-server"]:
        sys.exit(2)
    os.environ.pop("CODEX_API_KEY", None)
    serve()
