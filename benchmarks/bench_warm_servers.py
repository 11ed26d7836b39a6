"""Warm servers: a ``codex_run`` through ``codex-bridge mcp`` (stdio, the official client) on the
app-server engine vs the exec engine vs a bare ``codex exec`` turn, on the same mock model and
binary, in one run; then 8 concurrent runs (cap 8) on each engine, and the time to answer
``initialize``.

    .venv/bin/python benchmarks/bench_warm_servers.py [--turns 10] [--codex PATH]

Prints medians and ratios (targets: warm/bare <= 0.40, 8-concurrent warm/exec wall <= 0.5,
initialize unchanged within 10%).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]

from mcp import Client, StdioServerParameters  # noqa: E402

from codex_local_sdk.testing.mock_responses import MockResponsesServer  # noqa: E402
from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home  # noqa: E402


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


def server_params(
    binary: str, env: dict[str, str], workdir: pathlib.Path, engine: str, store: pathlib.Path
) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "codex_bridge.mcp_server"],
        env={
            **env,
            "CODEX_BRIDGE_ENGINE": engine,
            "CODEX_BRIDGE_CODEX_BIN": binary,
            "CODEX_BRIDGE_DEFAULT_CWD": str(workdir),
            "CODEX_BRIDGE_STORE_PATH": str(store),
            "CODEX_BRIDGE_MAX_CONCURRENCY": "8",
        },
    )


async def timed_call(client: Client, prompt: str) -> float:
    started = time.perf_counter()
    result = await client.call_tool("codex_run", {"prompt": prompt, "timeout_seconds": 60})
    elapsed = time.perf_counter() - started
    assert not result.is_error, result
    return elapsed


async def bench(binary: str, turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, MockResponsesServer(slow_seconds=1.0) as mock:
        base = pathlib.Path(tmp)
        home = make_codex_home(base, mock.base_url)
        env = e2e_env(home)
        workdir = base / "work"
        workdir.mkdir()
        results: dict[str, Any] = {}
        bare = [bare_exec(binary, env, workdir, i) for i in range(turns)]
        for engine in ("app-server", "exec"):
            params = server_params(binary, env, workdir, engine, base / f"{engine}.json")
            started = time.perf_counter()
            async with Client(params, mode="legacy") as client:
                initialize = time.perf_counter() - started
                await timed_call(client, "[[mock:hello]] warm up")
                single = [await timed_call(client, f"[[mock:hello]] {i}") for i in range(turns)]
                started = time.perf_counter()
                await asyncio.gather(
                    *(timed_call(client, f"[[mock:slow]] parallel {i}") for i in range(8))
                )
                parallel = time.perf_counter() - started
            results[engine] = (initialize, statistics.median(single), parallel)
    bare_median = statistics.median(bare)
    warm, cold = results["app-server"], results["exec"]
    print(f"codex: {binary}")
    print(f"bare codex exec turn, median:           {bare_median * 1000:8.1f} ms")
    for engine, (init, single, parallel) in results.items():
        print(
            f"{engine:10} initialize {init * 1000:7.1f} ms, codex_run median "
            f"{single * 1000:7.1f} ms, 8 concurrent (1 s mock) wall {parallel:6.2f} s"
        )
    print(f"ratio warm codex_run / bare exec:       {warm[1] / bare_median:.2f}x (target <= 0.40)")
    print(f"ratio exec-engine codex_run / bare exec: {cold[1] / bare_median:.2f}x")
    print(f"ratio 8-concurrent wall warm / exec:    {warm[2] / cold[2]:.2f}x (target <= 0.5)")
    print(f"ratio initialize warm / exec:           {warm[0] / cold[0]:.2f}x (target 0.9-1.1)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--codex", default=None, help="codex binary (default: the PyPI one)")
    args = parser.parse_args()
    binary = args.codex or codex_binary()
    if binary is None:
        sys.exit("no real codex binary: pip install -e '.[dev]' or pass --codex")
    os.environ.pop("CODEX_BRIDGE_ENGINE", None)
    asyncio.run(bench(binary, args.turns))


if __name__ == "__main__":
    main()
