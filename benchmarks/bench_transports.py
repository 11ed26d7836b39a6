"""Per-turn latency: ``ExecTransport`` (one ``codex exec`` per turn) vs ``AppServerTransport``
(one warm ``codex app-server``), on the same offline mock model server, interleaved.

    .venv/bin/python benchmarks/bench_transports.py [--turns 15] [--codex PATH]

Prints the median per-turn latency of each transport and the ratio (exec / app-server).
"""

from __future__ import annotations

import argparse
import asyncio
import pathlib
import statistics
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]

from codex_local_sdk import (  # noqa: E402
    AppServerTransport,
    CodexExecRequest,
    CodexLocalClient,
    ExecTransport,
    RetryPolicy,
)
from codex_local_sdk.testing.mock_responses import MockResponsesServer  # noqa: E402
from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home  # noqa: E402


async def one_turn(client: CodexLocalClient, workdir: pathlib.Path, index: int) -> float:
    request = CodexExecRequest(prompt=f"[[mock:hello]] turn {index}", cwd=str(workdir))
    started = time.perf_counter()
    result = await client.run_async(request, timeout_seconds=60)
    elapsed = time.perf_counter() - started
    assert result.ok, result.failure
    return elapsed


async def bench(binary: str, turns: int) -> None:
    with tempfile.TemporaryDirectory() as tmp, MockResponsesServer() as server:
        home = make_codex_home(pathlib.Path(tmp), server.base_url)
        env = e2e_env(home)
        workdir = pathlib.Path(tmp) / "work"
        workdir.mkdir()
        app_server = AppServerTransport(binary, base_env=env)
        clients = {
            "exec": CodexLocalClient(
                transport=ExecTransport(binary, base_env=env), retry_policy=RetryPolicy()
            ),
            "app-server": CodexLocalClient(transport=app_server, retry_policy=RetryPolicy()),
        }
        try:
            cold = await one_turn(clients["app-server"], workdir, -1)  # starts the server
            timings: dict[str, list[float]] = {name: [] for name in clients}
            for index in range(turns):
                for name, client in clients.items():  # interleaved: same conditions for both
                    timings[name].append(await one_turn(client, workdir, index))
        finally:
            await app_server.aclose()
    exec_median = statistics.median(timings["exec"])
    app_median = statistics.median(timings["app-server"])
    print(f"codex: {binary}")
    print(f"turns per transport: {turns} (interleaved), app-server cold start turn: {cold:.3f}s")
    print(f"exec        median per turn: {exec_median * 1000:8.1f} ms")
    print(f"app-server  median per turn: {app_median * 1000:8.1f} ms (warm)")
    print(f"ratio exec / app-server: {exec_median / app_median:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--turns", type=int, default=15)
    parser.add_argument("--codex", default=None, help="codex binary (default: the PyPI one)")
    args = parser.parse_args()
    binary = args.codex or codex_binary()
    if binary is None:
        sys.exit("no real codex binary: pip install -e '.[dev]' or pass --codex")
    asyncio.run(bench(binary, args.turns))


if __name__ == "__main__":
    main()
