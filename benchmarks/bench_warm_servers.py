"""Warm servers: a ``codex_run`` through ``codex-bridge mcp`` (stdio, the official client) and a
``codex.run`` (wait) through ``codex-bridge lsp`` (pytest-lsp's client), each on the app-server
engine vs the exec engine vs a bare ``codex exec`` turn, on the same mock model and binary, in
one run; then 8 concurrent runs (cap 8) on each engine, with the mock answering at once and
with 1 s turns; the latency of live text (a delta → an MCP progress notification); and the
time to answer ``initialize``; and, as the floor no client can beat, a bare ``codex
app-server`` turn spoken to directly.

    .venv/bin/python benchmarks/bench_warm_servers.py [--turns 10] [--codex PATH]

Prints medians and ratios (targets: warm/bare <= 0.40 through MCP and LSP, 8-concurrent
warm/exec wall <= 0.5, progress latency p99 <= 10 ms, initialize unchanged within 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]

from lsprotocol import types as lsp  # noqa: E402
from mcp import Client, StdioServerParameters  # noqa: E402

from codex_bridge.mcp import build_server  # noqa: E402
from codex_bridge.policy import BridgePolicy  # noqa: E402
from codex_bridge.service import BridgeService  # noqa: E402
from codex_local_sdk._app_server import protocol as app_server_protocol  # noqa: E402
from codex_local_sdk.events import AgentMessageDelta  # noqa: E402
from codex_local_sdk.testing.mock_responses import STREAM_TEXT, MockResponsesServer  # noqa: E402
from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home  # noqa: E402
from tests.support.lsp_client import CodexTestClient, start_server, stop_server  # noqa: E402

ENGINES = ("app-server", "exec")


def bare_exec(binary: str, env: dict[str, str], workdir: pathlib.Path, index: int) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [binary, "exec", "--json", "--skip-git-repo-check", "-C", str(workdir), "-"],
        input=f"[[mock:hello]] bare {index}".encode(),
        capture_output=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-500:]
    return time.perf_counter() - started


def bridge_env(
    binary: str, env: dict[str, str], workdir: pathlib.Path, engine: str, store: pathlib.Path
) -> dict[str, str]:
    clean = {k: v for k, v in env.items() if not k.startswith("CODEX_BRIDGE_")}
    return {
        **clean,
        "CODEX_BRIDGE_ENGINE": engine,
        "CODEX_BRIDGE_CODEX_BIN": binary,
        "CODEX_BRIDGE_DEFAULT_CWD": str(workdir),
        "CODEX_BRIDGE_STORE_PATH": str(store),
        "CODEX_BRIDGE_MAX_CONCURRENCY": "8",
    }


async def timed_call(client: Client, prompt: str) -> float:
    started = time.perf_counter()
    result = await client.call_tool("codex_run", {"prompt": prompt, "timeout_seconds": 60})
    elapsed = time.perf_counter() - started
    assert not result.is_error, result
    return elapsed


async def concurrent_wall(call: Callable[[str], Awaitable[float]], directive: str) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(call(f"[[mock:{directive}]] parallel {i}") for i in range(8)))
    return time.perf_counter() - started


async def bench_mcp(
    binary: str, env: dict[str, str], base: pathlib.Path, turns: int
) -> dict[str, dict[str, float]]:
    workdir = base / "work"
    results: dict[str, dict[str, float]] = {}
    for engine in ENGINES:
        params = StdioServerParameters(
            command=sys.executable,
            args=["-m", "codex_bridge.mcp"],
            env=bridge_env(binary, env, workdir, engine, base / f"mcp-{engine}.json"),
        )
        started = time.perf_counter()
        async with Client(params, mode="legacy") as client:
            initialize = time.perf_counter() - started
            await timed_call(client, "[[mock:hello]] warm up")
            single = [await timed_call(client, f"[[mock:hello]] {i}") for i in range(turns)]
            call = lambda prompt: timed_call(client, prompt)  # noqa: E731
            quick = statistics.median([await concurrent_wall(call, "hello") for _ in range(3)])
            slow = await concurrent_wall(call, "slow")
        results[engine] = {
            "initialize": initialize,
            "single": statistics.median(single),
            "parallel_quick": quick,
            "parallel_slow": slow,
        }
    return results


async def lsp_run(client: CodexTestClient, prompt: str) -> float:
    started = time.perf_counter()
    result = await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command="codex.run", arguments=[{"prompt": prompt, "wait": True}])
    )
    assert result is not None and result["state"] == "completed", result
    return time.perf_counter() - started


async def bench_lsp(
    binary: str, env: dict[str, str], base: pathlib.Path, turns: int
) -> dict[str, float]:
    workdir = base / "work"
    medians: dict[str, float] = {}
    for engine in ENGINES:
        client = await start_server(
            bridge_env(binary, env, workdir, engine, base / f"lsp-{engine}.json"),
            workspace=workdir,
        )
        try:
            await lsp_run(client, "[[mock:hello]] warm up")
            medians[engine] = statistics.median(
                [await lsp_run(client, f"[[mock:hello]] {i}") for i in range(turns)]
            )
        finally:
            await stop_server(client)
    return medians


async def bench_progress_latency(
    binary: str, mock: MockResponsesServer, base: pathlib.Path, runs: int
) -> tuple[list[float], list[float]]:
    """Per live-text progress notification: the time from the warm engine translating the
    delta to the MCP client receiving it (the bridge's share), and from the mock model
    sending the word to the client receiving it (end to end, codex included). In-process
    server (memory streams), so both ends read one clock."""
    translated: dict[str, float] = {}
    sent: dict[str, float] = {}
    words = STREAM_TEXT.split()
    original_translate = app_server_protocol.TurnTranslator.translate
    original_sleep = mock._sleep

    def timed_translate(self: Any, message: Any) -> Any:
        events = original_translate(self, message)
        for event in events:
            if isinstance(event, AgentMessageDelta):
                translated[event.delta.strip()] = time.perf_counter()
        return events

    sleeps = iter(range(1 << 30))

    def timed_sleep(seconds: float) -> bool:
        ok = original_sleep(seconds)
        sent[words[next(sleeps) % len(words)]] = time.perf_counter()  # written right after
        return ok

    bridge: list[float] = []
    whole: list[float] = []
    mock.stream_delay_seconds = 0.15  # one progress line per word (the throttle allows 10/s)
    mock._sleep = timed_sleep  # type: ignore[method-assign]
    app_server_protocol.TurnTranslator.translate = timed_translate  # type: ignore[method-assign]
    settings: dict[str, Any] = {
        "store_path": str(base / "progress.json"),
        "codex_bin": binary,
        "default_cwd": str(base / "work"),
        "engine": "app-server",
    }
    service = BridgeService(BridgePolicy.from_sources(settings, env={}))
    try:

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            received = time.perf_counter()
            if message and message.startswith("writing: "):
                last = message.split()[-1]
                if last in translated:
                    bridge.append(received - translated[last])
                if last in sent:
                    whole.append(received - sent[last])

        async with Client(build_server(service)) as client:
            for _ in range(runs):
                translated.clear()
                sent.clear()
                result = await client.call_tool(
                    "codex_run", {"prompt": "[[mock:stream]] go"}, progress_callback=on_progress
                )
                assert not result.is_error, result
    finally:
        app_server_protocol.TurnTranslator.translate = original_translate  # type: ignore[method-assign]
        mock._sleep = original_sleep  # type: ignore[method-assign]
        mock.stream_delay_seconds = 0.02
    return bridge, whole


async def raw_app_server(
    binary: str, env: dict[str, str], workdir: pathlib.Path, turns: int
) -> float:
    """The floor for a warm turn: ``thread/start`` + ``turn/start`` until ``turn/completed`` on
    a bare ``codex app-server`` spoken to directly (no SDK, no bridge); median seconds."""
    process = await asyncio.create_subprocess_exec(
        binary,
        "app-server",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=env,
        cwd=workdir,
        limit=1 << 24,
        start_new_session=True,
    )
    assert process.stdin is not None and process.stdout is not None
    stdin, stdout = process.stdin, process.stdout
    loop = asyncio.get_running_loop()
    replies: dict[int, asyncio.Future[Any]] = {}
    completed: dict[str, asyncio.Future[float]] = {}

    async def send(message: dict[str, Any]) -> None:
        stdin.write(json.dumps(message).encode() + b"\n")
        await stdin.drain()

    async def call(request_id: int, method: str, params: dict[str, Any]) -> Any:
        replies[request_id] = loop.create_future()
        await send({"id": request_id, "method": method, "params": params})
        return await asyncio.wait_for(replies[request_id], 60)

    async def read() -> None:
        while line := await stdout.readline():
            message = json.loads(line)
            if "method" not in message and message.get("id") in replies:
                replies[message["id"]].set_result(message.get("result"))
            elif message.get("method") == "turn/completed":
                future = completed.get(message["params"]["threadId"])
                if future is not None and not future.done():
                    future.set_result(time.perf_counter())

    reader = asyncio.ensure_future(read())
    try:
        client = {"name": "bench", "title": None, "version": "1"}
        await call(1, "initialize", {"clientInfo": client, "capabilities": None})
        await send({"method": "initialized"})
        timings = []
        for index in range(turns + 1):  # the first turn warms the server up
            started = time.perf_counter()
            thread = await call(10 + 2 * index, "thread/start", {"cwd": str(workdir)})
            thread_id = thread["thread"]["id"]
            completed[thread_id] = loop.create_future()
            text = f"[[mock:hello]] raw {index}"
            await call(
                11 + 2 * index,
                "turn/start",
                {"threadId": thread_id, "input": [{"type": "text", "text": text}]},
            )
            timings.append(await asyncio.wait_for(completed[thread_id], 60) - started)
        return statistics.median(timings[1:])
    finally:
        reader.cancel()
        os.killpg(process.pid, 9)
        await process.wait()


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) >= 2 else values[0]


async def bench(binary: str, turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, MockResponsesServer(slow_seconds=1.0) as mock:
        base = pathlib.Path(tmp)
        home = make_codex_home(base, mock.base_url)
        env = e2e_env(home)
        os.environ.update(CODEX_HOME=env["CODEX_HOME"], MOCK_API_KEY=env["MOCK_API_KEY"])
        (base / "work").mkdir()
        bare = statistics.median([bare_exec(binary, env, base / "work", i) for i in range(turns)])
        raw = await raw_app_server(binary, env, base / "work", turns)
        mcp = await bench_mcp(binary, env, base, turns)
        lsp_medians = await bench_lsp(binary, env, base, turns)
        bridge, whole = await bench_progress_latency(binary, mock, base, max(3, turns // 2))
    warm, cold = mcp["app-server"], mcp["exec"]
    ms = 1000.0
    print(f"codex: {binary}")
    print(f"bare codex exec turn, median:                 {bare * ms:8.1f} ms")
    print(f"raw app-server thread+turn (no bridge):       {raw * ms:8.1f} ms")
    for engine, figures in mcp.items():
        print(
            f"MCP {engine:10} initialize {figures['initialize'] * ms:7.1f} ms, codex_run median "
            f"{figures['single'] * ms:7.1f} ms, 8 concurrent wall {figures['parallel_quick']:5.2f}"
            f" s (instant mock), {figures['parallel_slow']:5.2f} s (1 s mock)"
        )
    for engine, median in lsp_medians.items():
        print(f"LSP {engine:10} codex.run (wait) median {median * ms:7.1f} ms")
    print(f"ratio raw app-server / bare exec (the floor): {raw / bare:.2f}x")
    print(f"ratio MCP warm codex_run / bare exec:         {warm['single'] / bare:.2f}x (<= 0.40)")
    print(f"ratio MCP exec-engine codex_run / bare exec:  {cold['single'] / bare:.2f}x")
    lsp_warm = lsp_medians["app-server"]
    print(f"ratio LSP warm codex.run / bare exec:         {lsp_warm / bare:.2f}x (<= 0.40)")
    print(f"ratio LSP exec-engine codex.run / bare exec:  {lsp_medians['exec'] / bare:.2f}x")
    quick = warm["parallel_quick"] / cold["parallel_quick"]
    slow = warm["parallel_slow"] / cold["parallel_slow"]
    print(f"ratio 8-concurrent wall warm / exec, instant: {quick:.2f}x (<= 0.5)")
    print(f"ratio 8-concurrent wall warm / exec, 1 s:     {slow:.2f}x")
    initialize = warm["initialize"] / cold["initialize"]
    print(f"ratio initialize warm / exec:                 {initialize:.2f}x")
    print(
        f"live text → MCP progress, bridge share ({len(bridge)} samples): median "
        f"{statistics.median(bridge) * ms:.2f} ms, p99 {p99(bridge) * ms:.2f} ms (<= 10)"
    )
    print(
        f"live text → MCP progress, from the model's send ({len(whole)} samples): median "
        f"{statistics.median(whole) * ms:.2f} ms, p99 {p99(whole) * ms:.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--codex", default=None, help="codex binary (default: the PyPI one)")
    args = parser.parse_args()
    binary = os.path.abspath(args.codex) if args.codex else codex_binary()
    if binary is None:
        sys.exit("no real codex binary: pip install -e '.[dev]' or pass --codex")
    os.environ.pop("CODEX_BRIDGE_ENGINE", None)
    asyncio.run(bench(binary, args.turns))


if __name__ == "__main__":
    main()
