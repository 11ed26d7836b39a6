"""Re-record the ``codex app-server`` JSON-RPC sessions in ``tests/data/app-server/``.

Each scenario starts a real ``codex app-server`` offline against the mock model
(``MockResponsesServer``), sends what :class:`~codex_local_sdk.AppServerTransport` sends
(``initialize``, ``initialized``, then per turn the requests of
:func:`~codex_local_sdk._app_server.protocol.plan_turn`), answers approval requests with the
scenario's decision
(:func:`~codex_local_sdk._app_server.approval_requests.approval_reply`) and writes every
message, both directions, in order, one JSON object a line.

    .venv/bin/python -m tests.support.record_app_server            # both builds
    .venv/bin/python -m tests.support.record_app_server --codex PATH --out DIR

Temporary paths are replaced by ``$WORKDIR``, ``$CODEX_HOME``, ``$TMPDIR`` and ``$HOME``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import pathlib
import re
import signal
import sys
import tempfile
from typing import Any

import msgspec

from codex_local_sdk import ApprovalDecision, CodexExecRequest
from codex_local_sdk._app_server.approval_requests import APPROVAL_METHODS, approval_reply
from codex_local_sdk._app_server.protocol import plan_turn
from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import (
    codex_binary,
    codex_version,
    e2e_env,
    make_codex_home,
)
from codex_local_sdk.transport import TurnSpec
from tests.support import paths

DATA = paths.DATA / "app-server"
NPM_CODEX = paths.NPM_BIN / "codex"
_STEP_SECONDS = 60.0
JsonObject = dict[str, Any]

SCHEMA = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "count": {"type": "integer"}},
    "required": ["status", "count"],
    "additionalProperties": False,
}


class Turn(msgspec.Struct, kw_only=True, frozen=True):
    prompt: str
    resume: bool = False  # thread/resume of the previous turn's thread
    fields: dict[str, Any] = {}


class Scenario(msgspec.Struct, kw_only=True, frozen=True):
    name: str
    what: str
    turns: tuple[Turn, ...]
    decision: ApprovalDecision = ApprovalDecision.APPROVE


SCENARIOS = (
    Scenario(name="run", what="a plain turn", turns=(Turn(prompt="[[mock:hello]] hi"),)),
    Scenario(
        name="shell",
        what="the model runs a shell command (read-only sandbox)",
        turns=(Turn(prompt="[[mock:shell]] run it", fields={"sandbox": "read-only"}),),
    ),
    Scenario(
        name="stream",
        what="the answer streamed as deltas",
        turns=(Turn(prompt="[[mock:stream]] go"),),
    ),
    Scenario(
        name="approval_approve",
        what="on-request: an escalated command asks for approval; approved, it runs",
        turns=(
            Turn(
                prompt="[[mock:escalate]] write the file",
                fields={"approval_policy": "on-request", "sandbox": "workspace-write"},
            ),
        ),
    ),
    Scenario(
        name="approval_decline",
        what="on-request: the same request declined; the command does not run",
        decision=ApprovalDecision.DECLINE,
        turns=(
            Turn(
                prompt="[[mock:escalate]] write the file",
                fields={"approval_policy": "on-request", "sandbox": "workspace-write"},
            ),
        ),
    ),
    Scenario(
        name="http500",
        what="the model server answers HTTP 500: error notifications, the turn fails",
        turns=(Turn(prompt="[[mock:500]] fail"),),
    ),
    Scenario(
        name="schema",
        what="an output schema: the agent message is JSON",
        turns=(Turn(prompt="[[mock:schema]] report", fields={"output_schema": SCHEMA}),),
    ),
    Scenario(
        name="resume",
        what="a second turn on the same thread (thread/resume): usage is cumulative",
        turns=(Turn(prompt="[[mock:hello]] first"), Turn(prompt="second", resume=True)),
    ),
)


class Session:
    """One app-server child and the transcript of everything said."""

    def __init__(self, proc: asyncio.subprocess.Process, decision: ApprovalDecision) -> None:
        self.proc = proc
        self.decision = decision
        self.transcript: list[JsonObject] = []
        self._ids = 0

    async def send(self, message: JsonObject) -> None:
        assert self.proc.stdin is not None
        self.transcript.append({"from": "client", "message": message})
        self.proc.stdin.write(json.dumps(message).encode() + b"\n")
        await self.proc.stdin.drain()

    async def receive(self) -> JsonObject:
        assert self.proc.stdout is not None
        while True:
            line = await asyncio.wait_for(self.proc.stdout.readline(), _STEP_SECONDS)
            if not line:
                raise RuntimeError("codex app-server closed stdout")
            message = json.loads(line)
            self.transcript.append({"from": "server", "message": message})
            method = message.get("method")
            if "id" in message and method is not None:
                await self._answer(message)
                continue
            return message  # type: ignore[no-any-return]

    async def _answer(self, request: JsonObject) -> None:
        method = str(request["method"])
        if method in APPROVAL_METHODS:
            reply = approval_reply(method, request.get("params"), self.decision)
            await self.send({"id": request["id"], "result": reply})
        else:
            error = {"code": -32601, "message": f"{method} unsupported"}
            await self.send({"id": request["id"], "error": error})

    async def call(self, method: str, params: JsonObject | None) -> JsonObject:
        self._ids += 1
        request_id = self._ids
        await self.send({"id": request_id, "method": method, "params": params})
        while True:
            message = await self.receive()
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]  # type: ignore[no-any-return]

    async def until_turn_completed(self, thread_id: str) -> None:
        while True:
            message = await self.receive()
            params = message.get("params") or {}
            if message.get("method") == "turn/completed" and params.get("threadId") == thread_id:
                return


async def record(binary: str, scenario: Scenario, base: pathlib.Path) -> list[JsonObject]:
    with MockResponsesServer() as mock:
        home = make_codex_home(base, mock.base_url)
        workdir = base / "work"
        workdir.mkdir(exist_ok=True)
        proc = await asyncio.create_subprocess_exec(
            binary,
            "app-server",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env=e2e_env(home),
            start_new_session=True,  # the npm codex is a wrapper: kill the whole group
            limit=16 * 1024 * 1024,
        )
        session = Session(proc, scenario.decision)
        try:
            client_info = {"name": "codex_local_sdk", "title": None, "version": "recorder"}
            await session.call("initialize", {"clientInfo": client_info, "capabilities": None})
            await session.send({"method": "initialized"})
            thread_id: str | None = None
            for turn in scenario.turns:
                request = CodexExecRequest(prompt=turn.prompt, cwd=str(workdir), **turn.fields)
                spec = (
                    TurnSpec(request=request, operation="resume", thread_id=thread_id)
                    if turn.resume
                    else TurnSpec(request=request)
                )
                plan = plan_turn(spec)
                started = await session.call(plan.thread_method, plan.thread_params)
                thread_id = str(started["thread"]["id"])
                await session.call("turn/start", {**plan.turn_params, "threadId": thread_id})
                await session.until_turn_completed(thread_id)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
        return _scrubbed(session.transcript, {workdir: "$WORKDIR", home: "$CODEX_HOME"})


def _scrubbed(transcript: list[JsonObject], paths: dict[pathlib.Path, str]) -> list[JsonObject]:
    text = json.dumps(transcript)
    replacements = {str(path): name for path, name in paths.items()}
    replacements[tempfile.gettempdir()] = "$TMPDIR"
    replacements[str(pathlib.Path.home())] = "$HOME"
    for value, name in sorted(replacements.items(), key=lambda item: -len(item[0])):
        text = text.replace(json.dumps(value)[1:-1], name)
    # "pyenv: cannot rehash" and the like depend on the machine, not on codex
    text = re.sub(r"pyenv: [^\\]*\\n", "", text)
    return json.loads(text)  # type: ignore[no-any-return]


def write(directory: pathlib.Path, scenario: Scenario, version: str, transcript: list[Any]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    header = {"codex": version, "scenario": scenario.name, "what": scenario.what}
    lines = [json.dumps(header)] + [json.dumps(entry) for entry in transcript]
    (directory / f"{scenario.name}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")


async def record_all(binary: str, out: pathlib.Path, only: set[str] | None) -> None:
    version = codex_version(binary)
    directory = out / version.split()[-1]
    for scenario in SCENARIOS:
        if only and scenario.name not in only:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            transcript = await record(binary, scenario, pathlib.Path(tmp))
        write(directory, scenario, version, transcript)
        print(f"{version}: {scenario.name} ({len(transcript)} messages)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--codex", action="append", help="codex binary (default: both builds)")
    parser.add_argument("--out", type=pathlib.Path, default=DATA)
    parser.add_argument("--only", action="append", help="record only this scenario")
    args = parser.parse_args()
    binaries = args.codex or [b for b in (codex_binary(), str(NPM_CODEX)) if b]
    for binary in binaries:
        if not os.path.exists(binary):
            sys.exit(f"no codex at {binary}")
        asyncio.run(record_all(binary, args.out, set(args.only or ())))


if __name__ == "__main__":
    main()
