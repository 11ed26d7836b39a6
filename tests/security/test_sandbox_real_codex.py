"""The bridge's sandbox holds, shown by behaviour with the REAL codex: the mock model asks codex
to run a command that writes outside the workspace, and the file is never created, on run,
resume (by name and by thread id), fork and jobs, whatever the caller adds to lift it.

The target lies under /var/tmp: codex's workspace-write sandbox also lets commands write to
/tmp and $TMPDIR, so a target there would prove nothing.
"""

from __future__ import annotations

import pathlib
import shutil
import tempfile
from collections.abc import Iterator

import pytest

from codex_bridge.policy import BridgePolicy
from codex_bridge.service import (
    BridgeError,
    BridgeService,
    ForkParams,
    ResumeParams,
    RunOutcome,
    RunParams,
)
from codex_local_sdk import ApprovalPolicy, SandboxMode
from tests.support.real_codex import RealCodex

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def outside() -> Iterator[pathlib.Path]:
    path = pathlib.Path(tempfile.mkdtemp(prefix="codex-bridge-sandbox-", dir="/var/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def service(
    real_codex: RealCodex, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[BridgeService]:
    for key in ("CODEX_HOME", "MOCK_API_KEY"):
        monkeypatch.setenv(key, real_codex.env[key])
    yield BridgeService(
        BridgePolicy(
            codex_bin=real_codex.binary,
            store_path=str(tmp_path / "sessions.json"),
            allowed_roots=(str(real_codex.workdir),),
            default_cwd=str(real_codex.workdir),
            sandbox_ceiling=SandboxMode.WORKSPACE_WRITE,
            approval_ceiling=ApprovalPolicy.ON_REQUEST,
            default_timeout_seconds=120,
        )
    )


def writes(target: pathlib.Path, marker: str, *, escalated: bool = False) -> str:
    """A prompt making the mock model run a command that writes ``target`` (outside) and
    ``marker`` (inside the workspace, to show the command did run)."""
    directive = "run-escalated" if escalated else "run"
    return f"[[mock:{directive}]] [[cmd]]echo pwned > {target}; echo ran > {marker}[[/cmd]]"


def ran_sandboxed(outcome: RunOutcome, real_codex: RealCodex) -> None:
    """The turn completed and codex ran the model's command (its output went back to the
    model; codex does not always report a failed command as an item)."""
    assert outcome.ok, outcome.to_text()
    last = real_codex.server.requests[-1].get("input") or []
    outputs = [i for i in last if isinstance(i, dict) and i.get("type") == "function_call_output"]
    assert outputs, "the model's command never ran: the test would prove nothing"


async def test_a_command_writing_outside_the_workspace_never_creates_the_file(
    service: BridgeService, real_codex: RealCodex, outside: pathlib.Path
) -> None:
    work = real_codex.workdir
    run = await service.run(
        RunParams(
            prompt=writes(outside / "run.txt", "run.txt"),
            session_name="s",
            sandbox=SandboxMode.WORKSPACE_WRITE,
            config_overrides={"model_reasoning_effort": "low"},
        )
    )
    ran_sandboxed(run, real_codex)
    assert (work / "run.txt").exists()  # the command ran, inside the workspace it could write
    assert not (outside / "run.txt").exists()

    # Whatever a caller adds to lift the sandbox is refused before codex starts.
    for lift in (
        {"sandbox_mode": "danger-full-access"},
        {"sandbox_workspace_write.writable_roots": [str(outside)]},
        {"approval_policy": "on-request"},
        {"profile": "danger"},
    ):
        with pytest.raises(BridgeError) as refused:
            await service.resume(
                ResumeParams(
                    prompt=writes(outside / "lift.txt", "lift.txt"),
                    session_name="s",
                    config_overrides=lift,
                )
            )
        assert refused.value.code == "policy"
    with pytest.raises(BridgeError, match="ceiling"):
        await service.resume(
            ResumeParams(prompt="x", session_name="s", sandbox=SandboxMode.DANGER_FULL_ACCESS)
        )

    # Resume by name and by thread id, fork and a job: the bridge's sandbox holds on each.
    assert run.thread_id is not None
    sandbox = SandboxMode.WORKSPACE_WRITE
    for name in ("resume", "thread", "fork"):
        prompt = writes(outside / f"{name}.txt", f"{name}.txt")
        if name == "resume":
            outcome = await service.resume(
                ResumeParams(prompt=prompt, sandbox=sandbox, session_name="s")
            )
        elif name == "thread":
            outcome = await service.resume(
                ResumeParams(prompt=prompt, sandbox=sandbox, thread_id=run.thread_id)
            )
        else:
            outcome = await service.fork(
                ForkParams(prompt=prompt, sandbox=sandbox, thread_id=run.thread_id)
            )
        ran_sandboxed(outcome, real_codex)
        assert (work / f"{name}.txt").exists(), name
        assert not (outside / f"{name}.txt").exists(), name

    job = service.start_job(
        RunParams(
            prompt=writes(outside / "job.txt", "job.txt"), sandbox=SandboxMode.WORKSPACE_WRITE
        ),
    )
    info = await service.wait_job(job.job_id, 120)
    assert info.outcome is not None
    ran_sandboxed(info.outcome, real_codex)
    assert (work / "job.txt").exists() and not (outside / "job.txt").exists()
    assert list(outside.iterdir()) == []
    await service.aclose()


async def test_read_only_on_resume_holds_and_escalation_requests_are_not_granted(
    service: BridgeService, real_codex: RealCodex, outside: pathlib.Path
) -> None:
    work = real_codex.workdir
    first = await service.run(
        RunParams(prompt="hello", session_name="t", sandbox=SandboxMode.WORKSPACE_WRITE)
    )
    assert first.ok, first.to_text()
    # The thread was started with workspace-write; the resume asks for read-only and gets it.
    again = await service.resume(
        ResumeParams(prompt=writes(outside / "ro.txt", "ro.txt"), session_name="t")
    )
    ran_sandboxed(again, real_codex)
    assert not (work / "ro.txt").exists() and not (outside / "ro.txt").exists()
    # The model asks to run the command outside the sandbox: nobody grants it.
    escalated = await service.resume(
        ResumeParams(
            prompt=writes(outside / "esc.txt", "esc.txt", escalated=True),
            session_name="t",
            sandbox=SandboxMode.WORKSPACE_WRITE,
            approval_policy="on-request",
        )
    )
    assert escalated.status in ("completed", "failed"), escalated.to_text()
    assert not (outside / "esc.txt").exists()
    await service.aclose()
