"""Driving the fake codex (``codex_local_sdk.testing``): its log of runs, the grandchild its
``child`` mode spawns, and the client settings the fast tests use."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping
from typing import Any

from codex_local_sdk import RetryPolicy
from tests.support.waiting import wait_until, wait_until_async

SECRET = "sk-test-SECRET"
# Retries in tests: tiny, deterministic backoff.
FAST_RETRY = RetryPolicy(max_attempts=3, initial_backoff_seconds=0.01, jitter_ratio=0.0)
NO_RETRY = RetryPolicy(max_attempts=1)


def fake_log(env: Mapping[str, str]) -> list[dict[str, Any]]:
    """The fake codex's log (``FAKE_CODEX_LOG``): one entry per ``exec`` run, oldest first."""
    path = pathlib.Path(env["FAKE_CODEX_LOG"])
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def last_run(env: Mapping[str, str]) -> dict[str, Any]:
    runs = fake_log(env)
    assert runs, "the fake codex was never run"
    return runs[-1]


def child_pid(env: Mapping[str, str], *, timeout: float = 15.0) -> int:
    """The pid of the grandchild the fake's ``child`` mode spawns (waits for it)."""
    path = pathlib.Path(env["FAKE_CODEX_STATE_DIR"]) / "child.pid"
    wait_until(
        lambda: path.exists() and path.read_text().strip() != "",
        timeout=timeout,
        interval=0.02,
        message=f"the fake codex's child to write {path}",
    )
    return int(path.read_text())


async def child_started(state_dir: pathlib.Path, *, timeout: float) -> None:
    """Wait until the fake's ``child`` mode has spawned its grandchild (it writes child.pid)."""
    path = state_dir / "child.pid"
    await wait_until_async(path.exists, timeout=timeout, message=f"the fake codex's child ({path})")
