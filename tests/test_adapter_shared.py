"""The helpers the three front ends share: launch options, rendering and the signal helper."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal

import pytest

from codex_bridge.launch import (
    SERVERS,
    ServeOptions,
    policy_from_args,
    serve_options_from_args,
    server_parser,
)
from codex_bridge.rendering import change_verb, is_thread_id, short
from codex_bridge.signals import Interrupted, until_signal


@pytest.mark.parametrize("entry", [server.entry for server in SERVERS.values()])
def test_every_server_entry_point_resolves(entry: str) -> None:
    module, _, function = entry.partition(":")
    assert callable(getattr(importlib.import_module(module), function))


def test_launch_options_become_the_policy_and_serve_options() -> None:
    parser = server_parser("mcp")
    args = parser.parse_args(
        [
            "--sandbox-ceiling",
            "read-only",
            "--default-idle-timeout",
            "off",
            "-c",
            "model_verbosity=low",
            "--allowed-host",
            "example.test",
        ]
    )
    policy = policy_from_args(args)
    assert policy.sandbox_ceiling.value == "read-only"
    assert policy.idle_timeout_seconds is None  # "off" is kept, not read as "not given"
    assert policy.default_config == {"model_verbosity": "low"}
    assert serve_options_from_args(args) == ServeOptions(allowed_hosts=("example.test",))
    with pytest.raises(SystemExit):
        server_parser("lsp").parse_args(["--http", "8000"])  # an MCP option only


def test_rendering() -> None:
    assert is_thread_id("0199a213-81c0-7800-8aa1-bbab2a035a53")
    assert not is_thread_id("my-session")
    assert not is_thread_id("0199a213-81c0-7800-8aa1-bbab2a035a53 ")
    assert short("a\n  b   c", 10) == "a b c"
    assert short("abcdefghijk", 5) == "abcd…"
    assert change_verb("update") == "edited"
    assert change_verb("rename") == "rename"  # unknown kinds pass through


def test_a_signal_cancels_the_work_and_the_cleanup_still_runs() -> None:
    cleaned: list[str] = []

    async def work() -> str:
        loop = asyncio.get_running_loop()
        loop.call_soon(os.kill, os.getpid(), signal.SIGTERM)
        await asyncio.sleep(30)
        return "finished"

    async def cleanup() -> None:
        os.kill(os.getpid(), signal.SIGTERM)  # a second signal: ignored, the cleanup goes on
        await asyncio.sleep(0.05)
        cleaned.append("done")

    result = asyncio.run(asyncio.wait_for(until_signal(work, cleanup), 10))
    assert result == Interrupted(signal.SIGTERM)
    assert cleaned == ["done"]


def test_work_that_ends_returns_its_result() -> None:
    cleaned: list[bool] = []

    async def work() -> int:
        return 7

    async def cleanup() -> None:
        cleaned.append(True)

    assert asyncio.run(until_signal(work, cleanup)) == 7
    assert cleaned == [True]
