"""The guide's snippets (examples/) run unchanged against the real codex CLI on PATH."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from tests.support.paths import ROOT
from tests.support.real_codex import RealCodex

EXAMPLES = ROOT / "examples"


def run_example(real_codex: RealCodex, name: str, *args: str) -> str:
    env = dict(real_codex.env)
    # `codex` found on PATH, as a user's machine would have it.
    env["PATH"] = os.pathsep.join([str(pathlib.Path(real_codex.binary).parent), env["PATH"]])
    env.pop("CODEX_BIN", None)
    done = subprocess.run(
        [sys.executable, str(EXAMPLES / name), *args],
        cwd=real_codex.workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_first_run_sync(real_codex: RealCodex) -> None:
    out = run_example(real_codex, "first_run_sync.py")
    assert out.strip() == "echo: Summarize this repository and suggest three next steps."


def test_async_run(real_codex: RealCodex) -> None:
    out = run_example(real_codex, "async_run.py")
    assert out.strip() == "echo: Summarize this repository in async mode."


def test_retry_policy(real_codex: RealCodex) -> None:
    assert run_example(real_codex, "retry_policy.py").strip() == "1 echo: Say hello."


def test_session_store_persists_and_resumes(real_codex: RealCodex) -> None:
    assert run_example(real_codex, "session_store.py").strip() == "completed"
    stored = json.loads((real_codex.workdir / ".codex_sessions.json").read_text())
    assert stored["schema_version"] == 1
    session = stored["sessions"]["repo-plan"]
    assert session["turns"] == 2
    # Both turns reached the model on the same thread.
    texts = real_codex.server.user_texts()
    assert texts[-2:] == ["Create an initial plan.", "Continue with implementation details."]


def test_observability_hook_and_api_key(real_codex: RealCodex) -> None:
    lines = run_example(real_codex, "observability_hook.py").splitlines()
    assert lines[:3] == [
        "operation_started exec 0 None",
        "attempt_started exec 1 None",
        "thread_started exec 1 None",
    ]
    assert "attempt_succeeded exec 1 0" in lines
    assert lines[-2:] == ["operation_finished exec 1 0", "echo: Analyze open TODOs."]
    assert not any("YOUR_CODEX_API_KEY" in line for line in lines)


@pytest.mark.parametrize("prompt", ["[[mock:shell]]"])
def test_streaming(real_codex: RealCodex, prompt: str) -> None:
    out = run_example(real_codex, "streaming.py", prompt)
    assert out.splitlines()[0] == "thread.started"
    assert "$ /bin/bash -lc 'echo mock-shell-ok'" in out
    assert "All done." in out
