"""Fixtures for the SDK unit tests (all against the fake codex: fast and deterministic)."""

from __future__ import annotations

import pathlib
from collections.abc import Iterator

import psutil
import pytest

from codex_local_sdk import CodexLocalClient
from tests.support.fake_codex import FAST_RETRY
from tests.support.processes import codex_processes


@pytest.fixture(autouse=True)
def no_codex_left_behind(fake_env: dict[str, str]) -> Iterator[None]:
    """Every SDK test ends with no process of its CODEX_HOME alive (no orphan, no zombie)."""
    yield
    home = fake_env["CODEX_HOME"]
    leftovers = codex_processes(home)
    for proc in leftovers:  # keep the machine clean, then fail the test
        proc.kill()
    psutil.wait_procs(leftovers, timeout=5)
    assert not leftovers, f"codex processes left behind: {leftovers}"
    zombies = [p for p in psutil.Process().children() if p.status() == psutil.STATUS_ZOMBIE]
    assert not zombies, f"unreaped children: {zombies}"


@pytest.fixture
def work(workdir: pathlib.Path) -> str:
    """The working directory of codex runs, as the ``str`` the SDK reports back."""
    return str(workdir)


@pytest.fixture
def client(fake_codex: str, fake_env: dict[str, str]) -> Iterator[CodexLocalClient]:
    # The version check is tested on its own (test_discovery); skipping it here saves a
    # `codex --version` process per test.
    codex = CodexLocalClient(
        codex_bin=fake_codex,
        retry_policy=FAST_RETRY,
        timeout_seconds=60,
        kill_grace_seconds=1,
        check_version=False,
    )
    yield codex
    codex.close()
