"""Every request is answered: 1,000 malformed MCP calls and 300 malformed LSP commands.

Raw JSON-RPC over stdio to the real server processes: invalid JSON, deep nesting, lone
surrogates, NUL bytes, 100 KB paths and names, 10 MB prompts, arguments that are not an
object, unknown tools, wrong types, huge and odd ids, batches, NaN, invalid UTF-8, arguments
too big for a command line. Each must get a JSON-RPC error or a tool error with a clear
message (never "internal error", never "install codex"), and the server must stay alive.
"""

from __future__ import annotations

import itertools
import json
import pathlib
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from codex_bridge.mcp import tool_specs
from codex_bridge.policy import BridgePolicy
from tests.support.figures import record
from tests.support.paths import FAKE_CODEX
from tests.support.raw_peers import RawLsp, RawMcp, RawPeer
from tests.support.servers import server_env

pytestmark = pytest.mark.timeout(600)

MCP_CALLS = 1000
LSP_COMMANDS = 300
_MISLEADING = ("internal error", "install", "traceback")


@dataclass(frozen=True)
class Case:
    name: str
    body: bytes
    answer_id: int | None  # None: the answer carries a null id (the id could not be read)


def _message(request_id: Any, method: str, params: Any) -> bytes:
    return json.dumps(
        {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
    ).encode()


def _raw(text: str) -> bytes:
    """A hand-written message ({ID} → the id); for what json.dumps cannot write."""
    return text.encode("utf-8", "surrogatepass")


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# --------------------------------------------------------------------------- MCP cases


def _mcp_cases(i: int) -> Iterator[Case]:
    """One round of every malformed kind, with ids from ``i`` on."""
    ids = itertools.count(i)

    def tool(name: str, arguments: Any) -> Case:
        request_id = next(ids)
        params = {"name": "codex_run", "arguments": arguments}
        if name.startswith("tool:"):
            params["name"] = name.removeprefix("tool:")
        return Case(name, _message(request_id, "tools/call", params), request_id)

    def raw(name: str, template: str, *, null_id: bool = False) -> Case:
        request_id = next(ids)
        body = _raw(template.replace("{ID}", str(request_id)))
        return Case(name, body, None if null_id else request_id)

    call = '{"jsonrpc":"2.0","id":{ID},"method":"tools/call","params":'
    yield raw("invalid json", call + '{"name":"codex_run"')
    yield raw(
        "deep nesting 100k",
        call + '{"name":"codex_run","arguments":{"prompt":' + _nested(100_000) + "}}}",
    )
    yield raw(
        "deep nesting 65",
        call + '{"name":"codex_run","arguments":{"config_overrides":'
        '{"k":' + _nested(65) + '},"prompt":"x"}}}',
    )
    yield raw(
        "lone surrogate prompt", call + '{"name":"codex_run","arguments":{"prompt":"a\\ud800"}}}'
    )
    yield raw("lone surrogate key", call + '{"name":"codex_run","arguments":{"\\udfff":"x"}}}')
    yield raw("lone surrogate tool", call + '{"name":"codex_\\ud83d","arguments":{}}}')
    yield tool("arguments array", ["prompt", "x"])
    yield tool("arguments string", "do it")
    yield tool("arguments number", 5)
    yield tool("NUL in cwd", {"prompt": "x", "cwd": "/tmp/a\x00b"})
    yield tool("NUL in session name", {"prompt": "x", "session_name": "a\x00"})
    yield tool("NUL in image", {"prompt": "x", "images": ["a.png\x00"]})
    yield tool("100 KB cwd", {"prompt": "x", "cwd": "/" + "d" * 100_000})
    yield tool("300 B file name", {"prompt": "x", "cwd": "/tmp/" + "d" * 300})
    yield tool("100 KB session name", {"prompt": "x", "session_name": "s" * 100_000})
    yield tool("100 KB model", {"prompt": "x", "model": "m" * 100_000})
    yield tool("100 KB add_dir", {"prompt": "x", "add_dirs": ["/" + "a" * 100_000]})
    yield tool("config too big for argv", {"prompt": "x", "config_overrides": {"k": "v" * 200_000}})
    yield tool("10 MB prompt, bad sandbox", {"prompt": "p" * 10_000_000, "sandbox": "root"})
    yield tool("tool:no_such_tool", {})
    yield tool("tool:", {})
    yield tool("prompt not a string", {"prompt": 5})
    yield tool("timeout not a number", {"prompt": "x", "timeout_seconds": "soon"})
    yield tool("unknown argument", {"prompt": "x", "rm": "-rf"})
    yield tool("config overrides a list", {"prompt": "x", "config_overrides": [1]})
    yield tool("tool:codex_job_wait", {"job_id": "nope", "wait_seconds": 0})
    yield tool("tool:codex_session_show", {"name": "n" * 5000})
    yield raw(
        "id of 5,000 digits",
        '{"jsonrpc":"2.0","id":' + "9" * 5000 + ',"method":"ping"}',
        null_id=True,
    )
    yield raw(
        "id of 30 digits", '{"jsonrpc":"2.0","id":' + "7" * 30 + ',"method":"ping"}', null_id=True
    )
    yield raw("float id", '{"jsonrpc":"2.0","id":1.5,"method":"ping"}', null_id=True)
    yield raw("object id", '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', null_id=True)
    yield raw("null id", '{"jsonrpc":"2.0","id":null,"method":"ping"}', null_id=True)
    yield raw("batch", '[{"jsonrpc":"2.0","id":{ID},"method":"ping"}]')
    yield raw("empty batch", "[]", null_id=True)
    yield raw("not an object", '"ping"', null_id=True)
    yield raw("params an array", '{"jsonrpc":"2.0","id":{ID},"method":"tools/call","params":[1]}')
    yield raw("params a string", '{"jsonrpc":"2.0","id":{ID},"method":"tools/list","params":"x"}')
    yield raw(
        "NaN", call + '{"name":"codex_run","arguments":{"prompt":"x","timeout_seconds":NaN}}}'
    )
    yield raw(
        "1e400", call + '{"name":"codex_run","arguments":{"prompt":"x","timeout_seconds":1e400}}}'
    )
    yield raw("method not a string", '{"jsonrpc":"2.0","id":{ID},"method":5}')
    yield raw("no method", '{"jsonrpc":"2.0","id":{ID}}')
    yield raw("jsonrpc 1.0", '{"jsonrpc":"1.0","id":{ID},"method":"ping"}')
    yield raw("unknown method", '{"jsonrpc":"2.0","id":{ID},"method":"codex/unknown"}')
    request_id = next(ids)
    yield Case(
        "invalid UTF-8",
        b'{"jsonrpc":"2.0","id":%d,"method":"ping","x":"\xff"}' % request_id,
        request_id,
    )


def _mcp_failure(answer: dict[str, Any]) -> str | None:
    """The answer's error text, or None when it is not an error."""
    if "error" in answer:
        return str(answer["error"]["message"])
    result = answer.get("result", {})
    if result.get("isError"):
        return " ".join(block.get("text", "") for block in result.get("content", []))
    return None


async def _ask(peer: RawPeer, case: Case) -> dict[str, Any]:
    await peer.send(case.body)
    try:
        return await peer.answer(case.answer_id)
    except TimeoutError:
        raise AssertionError(f"no answer to {case.name!r}") from None


async def _rounds(
    peer: RawPeer,
    make_cases: Callable[[int], Iterator[Case]],
    count: int,
    check: Callable[[], Awaitable[None]],
) -> AsyncIterator[tuple[Case, dict[str, Any]]]:
    """``count`` cases, round after round of ``make_cases`` (fresh ids each round), each with
    its answer; after each round the server is still alive and passes ``check``."""
    sent = 0
    while sent < count:
        for case in itertools.islice(make_cases(10_000 + sent * 2), count - sent):
            sent += 1
            yield case, await _ask(peer, case)
        assert peer.alive
        await check()


async def test_a_thousand_malformed_mcp_calls_are_all_answered(
    tmp_path: pathlib.Path, fake_env: dict[str, str], workdir: pathlib.Path
) -> None:
    env = server_env(store=tmp_path / "s.json", codex_bin=str(FAKE_CODEX), workdir=workdir)
    answered = errors = 0
    problems: list[str] = []
    async with RawMcp.start(env, tmp_path) as peer:

        async def answers_ping() -> None:
            assert "result" in await peer.call("ping")

        async for case, answer in _rounds(peer, _mcp_cases, MCP_CALLS, answers_ping):
            answered += 1
            failure = _mcp_failure(answer)
            if failure is None:
                problems.append(f"{case.name}: not an error: {json.dumps(answer)[:200]}")
                continue
            errors += 1
            if not failure.strip() or any(w in failure.lower() for w in _MISLEADING):
                problems.append(f"{case.name}: unclear answer: {failure[:200]}")
        # One 10 MB prompt that runs (its 10 MB echo keeps its first 4 MiB, max_message_bytes'
        # default), and the tool list afterwards.
        big = await peer.tool("codex_run", {"prompt": "p" * 10_000_000})
        answer = big["structuredContent"]["final_message"]
        assert not big["isError"] and answer == ("echo: " + "p" * 10_000_000)[: 4 * 1024 * 1024]
        tools = await peer.call("tools/list")
        assert len(tools["result"]["tools"]) == len(tool_specs(BridgePolicy()))
        alive = peer.alive
    record(
        "malformed MCP",
        f"{answered}/{MCP_CALLS} malformed MCP calls answered (100%), {errors} with a clear "
        f"error, server {'alive' if alive else 'DEAD'}",
    )
    assert problems == []
    assert answered == errors == MCP_CALLS and alive


# --------------------------------------------------------------------------- LSP cases


def _lsp_cases(i: int) -> Iterator[Case]:
    ids = itertools.count(i)

    def command(name: str, command: Any, arguments: Any) -> Case:
        request_id = next(ids)
        params = {"command": command, "arguments": arguments}
        return Case(name, _message(request_id, "workspace/executeCommand", params), request_id)

    def raw(name: str, template: str, *, null_id: bool = False) -> Case:
        request_id = next(ids)
        body = _raw(template.replace("{ID}", str(request_id)))
        return Case(name, body, None if null_id else request_id)

    execute = '{"jsonrpc":"2.0","id":{ID},"method":"workspace/executeCommand","params":'
    yield command("arguments an object", "codex.run", {"prompt": "x"})
    yield command("arguments a string", "codex.run", "fix it")
    yield command("arguments a number", "codex.status", 3)
    yield command("unknown command", "codex.nope", [])
    yield command("command a number", 42, [])
    yield command("prompt a number", "codex.run", [5])
    yield command("two objects", "codex.run", [{"prompt": "x"}, {"wait": True}])
    yield command("too many positionals", "codex.sessions.show", ["a", "b", "c"])
    yield command("wait not a boolean", "codex.run", [{"prompt": "x", "wait": "yes"}])
    yield command("NUL in cwd", "codex.run", [{"prompt": "x", "cwd": "/tmp/\x00"}])
    yield command("100 KB cwd", "codex.run", [{"prompt": "x", "cwd": "/" + "c" * 100_000}])
    yield command("100 KB session name", "codex.sessions.show", ["n" * 100_000])
    yield command("unknown session", "codex.sessions.show", ["no-such-session"])
    yield command("resume without prompt", "codex.resume", ["only-a-target"])
    yield command("bad sandbox", "codex.run", [{"prompt": "x", "sandbox": "everything"}])
    yield command(
        "10 MB prompt, bad sandbox", "codex.run", [{"prompt": "p" * 10_000_000, "sandbox": "nope"}]
    )
    yield raw("invalid json", execute + '{"command":"codex.status"')
    yield raw(
        "deep nesting 100k",
        execute + '{"command":"codex.run","arguments":' + _nested(100_000) + "}}",
    )
    yield raw("lone surrogate", execute + '{"command":"codex.run","arguments":["\\udead"]}}')
    yield raw(
        "params an array",
        '{"jsonrpc":"2.0","id":{ID},"method":"workspace/executeCommand","params":[]}',
    )
    yield raw(
        "NaN",
        execute + '{"command":"codex.run","arguments":[{"prompt":"x","timeout_seconds":NaN}]}}',
    )
    yield raw("batch", "[" + execute + '{"command":"codex.status"}}]')
    yield raw(
        "huge id", '{"jsonrpc":"2.0","id":' + "1" * 5000 + ',"method":"shutdown"}', null_id=True
    )
    yield raw(
        "bad params type",
        '{"jsonrpc":"2.0","id":{ID},"method":"textDocument/codeAction","params":{"textDocument":5}}',
    )
    yield raw("unknown method", '{"jsonrpc":"2.0","id":{ID},"method":"codex/unknown","params":{}}')
    request_id = next(ids)
    body = b'{"jsonrpc":"2.0","id":%d,"method":"x","params":{"a":"\xc3"}}' % request_id
    yield Case("invalid UTF-8", body, request_id)


async def test_three_hundred_malformed_lsp_commands_are_all_answered(
    tmp_path: pathlib.Path, fake_env: dict[str, str], workdir: pathlib.Path
) -> None:
    env = server_env(store=tmp_path / "s.json", codex_bin=str(FAKE_CODEX), workdir=workdir)
    answered = errors = 0
    problems: list[str] = []
    async with RawLsp.start(env, tmp_path) as peer:

        async def answers_status() -> None:
            status = await peer.execute("codex.status", [])
            assert "result" in status, status

        async for case, answer in _rounds(peer, _lsp_cases, LSP_COMMANDS, answers_status):
            answered += 1
            if "error" not in answer:
                problems.append(f"{case.name}: not an error: {json.dumps(answer)[:200]}")
                continue
            errors += 1
            message = str(answer["error"].get("message", ""))
            internal = answer["error"].get("code") == -32603
            if internal or not message.strip() or any(w in message.lower() for w in _MISLEADING):
                problems.append(f"{case.name}: unclear answer: {answer['error']}"[:300])
        alive = peer.alive
        assert "result" in await peer.call("shutdown")
    record(
        "malformed LSP",
        f"{answered}/{LSP_COMMANDS} malformed LSP commands answered (100%), {errors} with a "
        f"clear error, server {'alive' if alive else 'DEAD'}",
    )
    assert problems == []
    assert answered == errors == LSP_COMMANDS and alive
