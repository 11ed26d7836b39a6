"""The recursion guard: codex runs the bridge starts carry their depth, and a bridge running
inside one refuses to start codex again (max_depth)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from codex_bridge.nesting import DEPTH_ENV, nesting_depth
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeError, BridgeService, RunParams
from tests.support.paths import ROOT


def test_depth_comes_from_the_own_environment() -> None:
    assert nesting_depth({DEPTH_ENV: "2"}) == 2
    assert nesting_depth({DEPTH_ENV: "junk"}, pid=1) == 0


@pytest.mark.skipif(not pathlib.Path("/proc/self/environ").exists(), reason="Linux /proc")
def test_depth_is_found_in_an_ancestor_when_a_host_strips_the_environment() -> None:
    # parent (with the variable) -> child started with an empty environment -> asks.
    code = (
        "import subprocess, sys;"
        "print(subprocess.run([sys.executable, '-c', "
        "'from codex_bridge.nesting import nesting_depth; print(nesting_depth())'], "
        "env={'PYTHONPATH': sys.argv[1]}, capture_output=True, text=True).stdout.strip())"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)],
        env={**os.environ, DEPTH_ENV: "1"},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "1"


def make_service(tmp_path: pathlib.Path, fake_codex: str, max_depth: int = 1) -> BridgeService:
    return BridgeService(
        BridgePolicy(
            store_path=str(tmp_path / "s.json"),
            codex_bin=fake_codex,
            default_cwd=str(tmp_path),
            max_depth=max_depth,
        )
    )


async def test_codex_started_by_the_bridge_carries_its_depth(
    tmp_path: pathlib.Path,
    fake_codex: str,
    fake_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("FAKE_CODEX_ECHO_ENV", DEPTH_ENV)
    service = make_service(tmp_path, fake_codex)
    assert service.depth == 0
    outcome = await service.run(RunParams(prompt="[[fake:env_echo]]"))
    assert outcome.ok and outcome.final_message is not None
    assert json.loads(outcome.final_message)["env"][DEPTH_ENV] == "1"


async def test_a_nested_bridge_refuses_to_start_codex(
    tmp_path: pathlib.Path,
    fake_codex: str,
    fake_env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(DEPTH_ENV, "1")
    service = make_service(tmp_path, fake_codex)
    with pytest.raises(BridgeError, match="recursion") as refused:
        await service.run(RunParams(prompt="again"))
    assert refused.value.code == "policy"
    assert not pathlib.Path(fake_env["FAKE_CODEX_LOG"]).exists()
    deeper = make_service(tmp_path, fake_codex, max_depth=2)
    assert (await deeper.run(RunParams(prompt="allowed one more level"))).ok
