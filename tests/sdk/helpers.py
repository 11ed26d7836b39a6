"""Helpers for the SDK unit tests: fake-codex log reading, process checks, scripted transports."""

from __future__ import annotations

import json
import os
import pathlib
import time
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import psutil

from codex_local_sdk import RetryPolicy, TurnLimits, TurnSpec, decode_event
from codex_local_sdk.transport import TurnExit, TurnOutput

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"
RECORDINGS = DATA / "codex-events"
# Exit codes of the recorded real runs (the recordings keep stdout and stderr only).
RECORDED_EXIT_CODES = {
    "run": 0,
    "resume": 0,
    "shell": 0,
    "schema": 0,
    "http429": 1,
    "http500": 1,
    "nokey": 1,
    "resume_unknown": 1,
    "badflag": 2,
}
SECRET = "sk-test-SECRET"
# Retries in tests: tiny, deterministic backoff.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01, jitter_ratio=0.0)
NO_RETRY = RetryPolicy(max_attempts=1)


def fake_log(env: dict[str, str]) -> list[dict[str, Any]]:
    """The fake codex's log: one entry per ``exec`` run, oldest first."""
    path = pathlib.Path(env["FAKE_CODEX_LOG"])
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def last_run(env: dict[str, str]) -> dict[str, Any]:
    runs = fake_log(env)
    assert runs, "the fake codex was never run"
    return runs[-1]


def wait_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    """Poll ``condition`` until it holds; fail the test after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {condition}")
        time.sleep(0.02)


def child_pid(env: dict[str, str]) -> int:
    """The pid of the grandchild the fake's ``child`` mode spawns (waits for it)."""
    path = pathlib.Path(env["FAKE_CODEX_STATE_DIR"]) / "child.pid"
    wait_until(lambda: path.exists() and path.read_text().strip() != "")
    return int(path.read_text())


def is_gone(pid: int) -> bool:
    """No such process any more (a zombie awaiting its new parent's reaping counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() == psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return True


def open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def recording(name: str) -> tuple[list[bytes], str, int]:
    """A real codex run: its stdout lines, its stderr and its exit code."""
    lines = (RECORDINGS / f"codex_events_{name}.jsonl").read_bytes().splitlines()
    stderr = (RECORDINGS / f"codex_events_{name}.stderr").read_text(encoding="utf-8")
    return [line for line in lines if line.strip()], stderr, RECORDED_EXIT_CODES[name]


def replay(name: str) -> list[TurnOutput]:
    """The outputs a transport yields for a recorded run."""
    lines, stderr, code = recording(name)
    outputs: list[TurnOutput] = [decode_event(line) for line in lines]
    outputs.append(TurnExit(return_code=code, stderr_tail=stderr, argv=["codex", "exec"]))
    return outputs


class ScriptedTransport:
    """A :class:`CodexTransport` that plays one scripted list of outputs per attempt."""

    def __init__(self, *attempts: Sequence[TurnOutput]) -> None:
        self._attempts = [list(outputs) for outputs in attempts]
        self.specs: list[TurnSpec] = []
        self.api_keys: list[str | None] = []

    async def stream_turn(
        self, spec: TurnSpec, *, limits: TurnLimits, api_key: str | None = None
    ) -> AsyncIterator[TurnOutput]:
        index = len(self.specs)
        self.specs.append(spec)
        self.api_keys.append(api_key)
        script = self._attempts[min(index, len(self._attempts) - 1)]
        for output in script:
            yield output
