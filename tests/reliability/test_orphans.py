"""No codex outlives the bridge: 200 mixed stop trials, counting leftover processes.

Timeouts, MCP cancellations, job cancels, client disconnects (stdin EOF), server SIGTERM and
server SIGKILL (only the orphan watchdog can act then), mostly with the fake codex in its
``child`` mode (codex plus a ``sleep`` in its process group, like the npm wrapper and its
native binary), plus a few with both builds of the real codex. A leftover is any process
carrying the trial's tag (codex, or anything codex spawned) once it has had time to end.
"""

from __future__ import annotations

import contextlib
import functools
import pathlib
import uuid
from collections import Counter

import anyio
import psutil
import pytest

from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import e2e_env, make_codex_home
from tests.support.figures import record
from tests.support.paths import FAKE_CODEX
from tests.support.processes import (
    TAG_ENV,
    describe,
    no_tagged_codex_left,
    tagged_processes,
    wait_none_left_async,
)
from tests.support.raw_peers import RawMcp
from tests.support.real_codex import require_real_codex
from tests.support.servers import server_env
from tests.support.waiting import wait_until_async

pytestmark = pytest.mark.timeout(600)

SETTLE_SECONDS = 10.0  # for codex to be killed and reaped after a stop
IN_SERVER_WAVE = 6  # codex runs started at once in one server


class Trials:
    """Counts trials per kind and what each left behind."""

    def __init__(self) -> None:
        self.kinds: Counter[str] = Counter()
        self.leftovers: list[str] = []

    async def settle(self, tag: str, kind: str, count: int = 1) -> None:
        """Count ``count`` trials of ``kind`` whose processes carry ``tag``."""
        self.kinds[kind] += count
        with contextlib.suppress(AssertionError):  # what is left is counted, not failed, here
            await wait_none_left_async(lambda: tagged_processes(tag), timeout=SETTLE_SECONDS)
        left = tagged_processes(tag)
        self.leftovers += [f"{kind}: {line}" for line in describe(left)]
        for process in left:  # leave nothing behind for the next tests
            with contextlib.suppress(psutil.Error):
                process.kill()

    @property
    def total(self) -> int:
        return sum(self.kinds.values())


def _env(base: dict[str, str], tag: str, **extra: str) -> dict[str, str]:
    return {**base, TAG_ENV: tag, **extra}


async def _running(tag: str, at_least: int) -> None:
    await wait_until_async(
        lambda: len(tagged_processes(tag)) >= at_least,
        timeout=30,
        message=lambda: f"{at_least} codex processes to start: {describe(tagged_processes(tag))}",
    )


# --------------------------------------------------------------------------- in one server


async def _timeouts(peer: RawMcp, count: int) -> None:
    async def one(index: int) -> None:
        mode = "[[fake:ignore_term]]" if index % 6 == 0 else "[[fake:child]]"
        result = await peer.tool("codex_run", {"prompt": mode, "timeout_seconds": 0.5})
        assert result["isError"] and result["structuredContent"]["status"] == "timeout"

    for start in range(0, count, IN_SERVER_WAVE):
        async with anyio.create_task_group() as group:
            for index in range(start, min(count, start + IN_SERVER_WAVE)):
                group.start_soon(one, index)


async def _cancels(peer: RawMcp, tag: str, count: int) -> None:
    for start in range(0, count, IN_SERVER_WAVE):
        wave = min(IN_SERVER_WAVE, count - start)
        ids = [
            await peer.request(
                "tools/call", {"name": "codex_run", "arguments": {"prompt": "[[fake:child]]"}}
            )
            for _ in range(wave)
        ]
        await _running(tag, 2 * wave)
        for request_id in ids:
            params = {"requestId": request_id, "reason": "test"}
            await peer.send(
                {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": params}
            )
        await no_tagged_codex_left(tag, timeout=SETTLE_SECONDS)


async def _job_cancels(peer: RawMcp, tag: str, count: int) -> None:
    for start in range(0, count, IN_SERVER_WAVE):
        wave = min(IN_SERVER_WAVE, count - start)
        jobs = []
        for _ in range(wave):
            started = await peer.tool("codex_job_start", {"prompt": "[[fake:child]]"})
            jobs.append(started["structuredContent"]["job_id"])
        await _running(tag, 2 * wave)
        for job_id in jobs:
            cancelled = await peer.tool("codex_job_cancel", {"job_id": job_id})
            assert cancelled["structuredContent"]["state"] == "cancelled"


# --------------------------------------------------------------------------- whole servers


async def _server_stop(
    base: dict[str, str], cwd: pathlib.Path, trials: Trials, kind: str, runs: int
) -> None:
    """Start a server with ``runs`` codex jobs running, stop it by ``kind``, count leftovers."""
    tag = uuid.uuid4().hex
    async with RawMcp.start(_env(base, tag), cwd) as peer:
        for _ in range(runs):
            await peer.tool("codex_job_start", {"prompt": "[[fake:child]]"})
        await _running(tag, 2 * runs)
        if kind == "disconnect":
            await peer.close_stdin()
        elif kind == "sigterm":
            peer.process.terminate()
        else:
            peer.process.kill()
        with anyio.fail_after(30):
            await peer.process.wait()
    await trials.settle(tag, kind)


async def _real_codex_stops(tmp_path: pathlib.Path, trials: Trials) -> None:
    """Three stops per real build: SIGKILL mid-run, a timeout, and a disconnect."""
    with MockResponsesServer() as mock:
        for build in ("npm", "pypi"):
            binary = require_real_codex(build)
            home = make_codex_home(tmp_path / build, mock.base_url)
            base = server_env(
                store=tmp_path / build / "sessions.json",
                codex_bin=binary,
                workdir=tmp_path,
                extra={**e2e_env(home), "CODEX_BRIDGE_MAX_CONCURRENCY": "4"},
            )
            for kind in ("sigkill", "timeout", "disconnect"):
                tag = uuid.uuid4().hex
                async with RawMcp.start(_env(base, tag), tmp_path) as peer:
                    if kind == "timeout":
                        result = await peer.tool(
                            "codex_run", {"prompt": "[[mock:slow]]", "timeout_seconds": 3}
                        )
                        assert result["structuredContent"]["status"] == "timeout", result
                    else:
                        await peer.tool("codex_job_start", {"prompt": "[[mock:slow]]"})
                        # npm: the Node wrapper and the native codex; PyPI: codex alone
                        await _running(tag, 2 if build == "npm" else 1)
                        await anyio.sleep(0.5)
                        if kind == "sigkill":
                            peer.process.kill()
                        else:
                            await peer.close_stdin()
                        with anyio.fail_after(30):
                            await peer.process.wait()
                await trials.settle(tag, f"real {build} {kind}")


async def test_no_codex_outlives_200_mixed_stops(
    tmp_path: pathlib.Path, fake_env: dict[str, str]
) -> None:
    workdir = tmp_path / "work"
    workdir.mkdir()
    base = server_env(
        store=tmp_path / "sessions.json",
        codex_bin=str(FAKE_CODEX),
        workdir=workdir,
        extra={"CODEX_BRIDGE_MAX_CONCURRENCY": str(IN_SERVER_WAVE), "FAKE_CODEX_GIT_CHECK": "0"},
    )
    trials = Trials()

    tag = uuid.uuid4().hex
    async with RawMcp.start(_env(base, tag), tmp_path) as peer:
        await _timeouts(peer, 54)
        await trials.settle(tag, "timeout", 54)
        await _cancels(peer, tag, 48)
        await trials.settle(tag, "mcp cancel", 48)
        await _job_cancels(peer, tag, 36)
        await trials.settle(tag, "job cancel", 36)
        assert peer.alive

    stops = [
        functools.partial(_server_stop, base, tmp_path, trials, kind, 1 + index % 2)
        for kind, count in (("disconnect", 18), ("sigterm", 18), ("sigkill", 20))
        for index in range(count)
    ]
    for start in range(0, len(stops), 4):  # four servers at a time
        async with anyio.create_task_group() as group:
            for stop in stops[start : start + 4]:
                group.start_soon(stop)

    await _real_codex_stops(tmp_path, trials)

    kinds = ", ".join(f"{count} {kind}" for kind, count in sorted(trials.kinds.items()))
    record(
        "orphans",
        f"{len(trials.leftovers)} left in {trials.total} stop trials ({kinds})",
    )
    assert trials.total == 200
    assert trials.leftovers == []


async def test_a_sigkilled_server_leaves_no_codex_behind(
    tmp_path: pathlib.Path, fake_env: dict[str, str]
) -> None:
    """The watchdog alone: the server is SIGKILLed while codex and its child run."""
    tag = uuid.uuid4().hex
    env = server_env(store=tmp_path / "s.json", codex_bin=str(FAKE_CODEX), workdir=tmp_path)
    async with RawMcp.start(_env(env, tag), tmp_path) as peer:
        await peer.tool("codex_job_start", {"prompt": "[[fake:ignore_term]]"})
        await peer.tool("codex_job_start", {"prompt": "[[fake:child]]"})
        await _running(tag, 3)
        watchdogs = [
            child
            for child in psutil.Process(peer.process.pid).children()
            if "_watchdog" in " ".join(child.cmdline())
        ]
        assert len(watchdogs) == 1  # one per server, however many runs
        peer.process.kill()
        await peer.process.wait()
    # SIGTERM, a 2 s grace for the one that ignores it, then SIGKILL.
    await no_tagged_codex_left(tag, timeout=SETTLE_SECONDS)
    await wait_until_async(
        lambda: not watchdogs[0].is_running(), timeout=SETTLE_SECONDS, message="the watchdog to end"
    )
