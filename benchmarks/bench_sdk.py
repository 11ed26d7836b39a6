"""SDK benchmarks, measured side by side in one run and printed as ratios.

    .venv/bin/python benchmarks/bench_sdk.py

1. Event decoding: msgspec tagged unions vs ``json.loads`` + dict dispatch on the same lines.
   Target: typed decoding at least as fast as untyped ``json.loads`` (ratio ≤ 1.0).
2. Per-turn overhead: ``CodexLocalClient.run`` vs a bare ``subprocess.run`` of the same
   ``codex exec --json`` against the same mock model server (real codex when installed).
   Target: ratio ≤ 1.15 (the SDK adds decoding, hooks and cleanup, not seconds).
3. Import cost: ``import codex_local_sdk`` and ``import codex_bridge.cli`` vs
   ``import codex_bridge.mcp`` (what a CLI call would pay if it imported mcp eagerly).
"""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "sdk")]

from codex_local_sdk import (  # noqa: E402
    CodexExecRequest,
    CodexLocalClient,
    RetryPolicy,
    decode_event,
)


def best_of(runs: int, action: Callable[[], object]) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        timings.append(time.perf_counter() - started)
    return min(timings)


def bench_decoding() -> None:
    recordings = ROOT / "tests" / "data" / "codex-events"
    source = recordings if recordings.is_dir() else ROOT.parent / "shared" / "codex-events"
    lines = [
        line
        for path in sorted(source.glob("*.jsonl"))
        for line in path.read_bytes().splitlines()
        if line.strip()
    ] or [b'{"type":"turn.started"}']
    corpus = lines * (20000 // len(lines) + 1)

    def typed() -> None:
        for line in corpus:
            decode_event(line)

    def untyped() -> None:
        for line in corpus:
            event = json.loads(line)
            item = event.get("item")
            if isinstance(item, dict):
                item.get("type")

    msgspec_time, json_time = best_of(5, typed), best_of(5, untyped)
    rate = len(corpus) / msgspec_time
    print(
        f"decode  {len(corpus)} events: msgspec {msgspec_time * 1e3:.1f} ms "
        f"({rate / 1e6:.2f} M events/s), json.loads {json_time * 1e3:.1f} ms, "
        f"ratio {msgspec_time / json_time:.2f} (target <= 1.0)"
    )


def bench_turn_overhead() -> None:
    sys.path.insert(0, str(ROOT))
    from codex_local_sdk.testing.mock_responses import MockResponsesServer
    from codex_local_sdk.testing.real_codex import codex_binary, e2e_env, make_codex_home

    binary = codex_binary()
    if binary is None:
        print("turn    skipped: no real codex (pip install -e '.[dev]')")
        return
    with tempfile.TemporaryDirectory() as tmp, MockResponsesServer() as server:
        home = make_codex_home(pathlib.Path(tmp), server.base_url)
        env = e2e_env(home)
        os.environ.update(env)
        argv = [binary, "exec", "--json", "--skip-git-repo-check", "--", "-"]
        prompt = b"[[mock:hello]]"

        def bare() -> None:
            subprocess.run(
                argv, input=prompt, capture_output=True, env=env, cwd=tmp, check=True, timeout=60
            )

        client = CodexLocalClient(codex_bin=binary, retry_policy=RetryPolicy(max_attempts=1))
        request = CodexExecRequest(prompt=prompt.decode(), cwd=tmp)

        def sdk() -> None:
            client.run(request, timeout_seconds=60)

        sdk()  # warm: version check, loop thread
        rounds = 15
        bare_times, sdk_times = [], []
        for _ in range(rounds):  # interleaved, so drift hits both sides alike
            bare_times.append(best_of(1, bare))
            sdk_times.append(best_of(1, sdk))
        client.close()
    bare_median, sdk_median = statistics.median(bare_times), statistics.median(sdk_times)
    print(
        f"turn    median of {rounds}: bare subprocess {bare_median * 1e3:.0f} ms, "
        f"SDK run {sdk_median * 1e3:.0f} ms, ratio {sdk_median / bare_median:.2f} "
        f"(target <= 1.15)"
    )


def bench_imports() -> None:
    def cold(module: str) -> float:
        code = (
            f"import time; t = time.perf_counter(); import {module}; print(time.perf_counter() - t)"
        )
        samples = []
        for _ in range(3):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
            )
            samples.append(float(out.stdout))
        return min(samples)

    base = cold("codex_bridge.mcp")
    for module in ("codex_local_sdk", "codex_bridge.cli"):
        took = cold(module)
        print(
            f"import  {module}: {took * 1e3:.0f} ms vs codex_bridge.mcp "
            f"{base * 1e3:.0f} ms, ratio {took / base:.2f} (target <= 0.5)"
        )


if __name__ == "__main__":
    bench_decoding()
    bench_turn_overhead()
    bench_imports()
