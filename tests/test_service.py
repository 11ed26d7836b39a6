"""The bridge service core on its own (the front ends' tests cover it through protocols)."""

from __future__ import annotations

import pathlib

import pytest

from codex_bridge.errors import BridgeError, InvalidSetting
from codex_bridge.policy import BridgePolicy
from codex_bridge.progress import describe_event, display_command
from codex_bridge.service import (
    BridgeService,
    ProgressUpdate,
    ResumeParams,
    RunParams,
    parse_params,
)
from codex_local_sdk import SandboxMode, decode_event
from tests.support.waiting import wait_until_async


def log_lines(fake_env: dict[str, str]) -> list[str]:
    path = pathlib.Path(fake_env["FAKE_CODEX_LOG"])
    return path.read_text().splitlines() if path.exists() else []


async def test_run_reports_progress_in_order_and_records_the_session(
    service: BridgeService,
) -> None:
    updates: list[ProgressUpdate] = []
    outcome = await service.run(
        RunParams(prompt="go [[fake:shell]]", session_name="work"), on_progress=updates.append
    )
    assert outcome.ok and outcome.session_name == "work"
    assert outcome.commands[0].command == "echo fake-shell-ok"
    assert outcome.commands[0].exit_code == 0
    assert [u.progress for u in updates] == list(range(1, len(updates) + 1))
    messages = [u.message for u in updates]
    assert messages[1] == "thinking…"
    assert "$ echo fake-shell-ok (exit 0)" in messages
    assert service.show_session("work").turns == 1


async def test_resume_uses_the_recorded_session(service: BridgeService) -> None:
    first = await service.run(RunParams(prompt="one", session_name="s"))
    again = await service.resume(ResumeParams(prompt="two", session_name="s"))
    assert again.thread_id == first.thread_id
    assert again.final_message == "echo: two"
    assert [t.prompt_preview for t in service.show_session("s").recent_turns or []] == [
        "one",
        "two",
    ]


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (RunParams(prompt="x", sandbox=SandboxMode.DANGER_FULL_ACCESS), "above this server's"),
        (RunParams(prompt="x", cwd="/"), "outside the allowed roots"),
        (RunParams(prompt="x", cwd="missing-dir"), "not an existing directory"),
        (RunParams(prompt="x", config_overrides={"sandbox_mode": "x"}), "not allowed"),
        (RunParams(prompt="x", output_schema={"type": "objekt"}), "not a valid JSON Schema"),
        (RunParams(prompt="   "), "must not be empty"),
        (RunParams(prompt="x", timeout_seconds=-1), "must be positive"),
    ],
)
async def test_refusals_happen_before_codex_starts(
    service: BridgeService, fake_env: dict[str, str], params: RunParams, message: str
) -> None:
    with pytest.raises(BridgeError, match=message):
        await service.run(params)
    assert log_lines(fake_env) == []


async def test_long_timeouts_are_lowered_with_a_warning(service: BridgeService) -> None:
    outcome = await service.run(RunParams(prompt="x", timeout_seconds=10_000))
    assert outcome.ok
    assert outcome.warnings[0].startswith("timeout lowered from 10000s")


def test_parse_params_explains_bad_arguments() -> None:
    with pytest.raises(BridgeError, match=r"Expected `str`, got `int` - at `\$.prompt`"):
        parse_params(RunParams, {"prompt": 3})
    with pytest.raises(BridgeError, match="unknown field `colour`"):
        parse_params(RunParams, {"prompt": "x", "colour": "red"})
    assert parse_params(RunParams, {"prompt": "x", "sandbox": "read-only"}).sandbox is (
        SandboxMode.READ_ONLY
    )


async def test_jobs_queue_behind_the_concurrency_cap_and_cancel(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    service = BridgeService(
        BridgePolicy(store_path=str(tmp_path / "s.json"), codex_bin=fake_codex, max_concurrency=1)
    )
    blocker = service.start_job(RunParams(prompt="[[fake:stall]]", cwd=str(tmp_path)))
    waiting = service.start_job(RunParams(prompt="later", cwd=str(tmp_path)))
    await wait_until_async(
        lambda: (
            service.job_status(blocker.job_id).state == "running"
            and service.job_status(waiting.job_id).progress
        ),
        timeout=20,
        message="the first job to run and the second to queue",
    )
    assert service.job_status(blocker.job_id).state == "running"
    assert service.job_status(waiting.job_id).state == "queued"
    assert service.job_status(waiting.job_id).progress == ["queued: waiting for a free codex slot"]
    cancelled = await service.cancel_job(blocker.job_id)
    assert cancelled.state == "cancelled"
    done = await service.wait_job(waiting.job_id, timeout_seconds=30)
    assert done.state == "completed" and done.outcome is not None
    assert done.outcome.final_message == "echo: later"
    await service.aclose()


def test_unknown_job_and_session_are_clear_errors(service: BridgeService) -> None:
    with pytest.raises(BridgeError, match="no job 'nope'"):
        service.job_status("nope")
    with pytest.raises(BridgeError, match="no session named 'nope'"):
        service.show_session("nope")


def test_policy_validation() -> None:
    with pytest.raises(InvalidSetting, match="exceeds the ceiling"):
        BridgePolicy(default_sandbox=SandboxMode.WORKSPACE_WRITE, sandbox_ceiling="read-only")  # type: ignore[arg-type]
    env = {"CODEX_BRIDGE_MAX_CONCURRENCY": "4", "CODEX_BRIDGE_IDLE_TIMEOUT_SECONDS": "off"}
    policy = BridgePolicy.from_sources({"max_concurrency": 3}, env=env)
    assert policy.max_concurrency == 3  # explicit beats environment
    assert policy.idle_timeout_seconds is None
    with pytest.raises(InvalidSetting, match="invalid policy"):
        BridgePolicy.from_sources({"max_concurrency": "many"}, env={})


def test_progress_text() -> None:
    assert display_command("/bin/bash -lc 'pytest -q'") == "pytest -q"
    event = decode_event(
        b'{"type":"item.completed","item":{"id":"i","type":"file_change",'
        b'"changes":[{"path":"a.py","kind":"add"},{"path":"b.py","kind":"update"}],'
        b'"status":"completed"}}'
    )
    assert describe_event(event) == "added a.py, edited b.py"
    todo = decode_event(
        b'{"type":"item.updated","item":{"id":"t","type":"todo_list","items":'
        b'[{"text":"a","completed":true},{"text":"b","completed":false}]}}'
    )
    assert describe_event(todo) is None  # item.updated is not described


async def test_a_missing_codex_is_its_own_error_code(tmp_path: pathlib.Path) -> None:
    service = BridgeService(
        BridgePolicy(store_path=str(tmp_path / "s.json"), codex_bin=str(tmp_path / "no-codex"))
    )
    with pytest.raises(BridgeError, match="is not an executable file") as caught:
        await service.run(RunParams(prompt="x", cwd=str(tmp_path)))
    assert caught.value.code == "codex_unavailable"
