"""The operation table, the bridge error tree and the policy's decisions, on their own."""

from __future__ import annotations

import asyncio
from typing import Any

import msgspec
import pytest

from codex_bridge.errors import (
    BridgeError,
    CodexFailed,
    CodexUnavailable,
    InvalidRequest,
    InvalidSetting,
    JobNotFound,
    PolicyRefused,
    SessionExists,
    SessionNotFound,
    SessionStoreFailed,
    from_sdk_error,
    lookup,
)
from codex_bridge.policy import MAX_WAIT_SECONDS, OFF, BridgePolicy
from codex_bridge.service import (
    OPERATIONS,
    BridgeService,
    ForkParams,
    JobInfo,
    JobsWaited,
    ResumeParams,
    RunParams,
    SessionList,
    ThreadTarget,
    prune_finished,
)
from codex_local_sdk import (
    CodexError,
    CodexExecFailedError,
    CodexNotInstalledError,
    CodexUsageError,
    CodexVersionError,
    SandboxMode,
    SessionExistsError,
    SessionNotFoundError,
    SessionStoreError,
)

# --------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("sdk_error", "expected", "code"),
    [
        (CodexNotInstalledError("no codex"), CodexUnavailable, "codex_unavailable"),
        (
            CodexVersionError("0.1.0", "0.100.0", "/bin/codex"),
            CodexUnavailable,
            "codex_unavailable",
        ),
        (CodexUsageError("bad name"), InvalidRequest, "invalid_request"),
        (SessionNotFoundError("ghost"), SessionNotFound, "session"),
        (SessionExistsError("taken"), SessionExists, "session"),
        (SessionStoreError("disk full"), SessionStoreFailed, "session"),
        (CodexError("engine broke"), CodexFailed, "codex"),
    ],
)
def test_sdk_errors_map_to_one_bridge_error_each(
    sdk_error: CodexError, expected: type[BridgeError], code: str
) -> None:
    mapped = from_sdk_error(sdk_error, field="session_name", hint="try another")
    assert type(mapped) is expected
    assert mapped.code == code
    assert mapped.field == "session_name"
    assert mapped.message == f"{sdk_error}; try another"


def test_a_failed_turn_is_not_mapped_as_unavailable() -> None:
    failed = CodexExecFailedError.__new__(CodexExecFailedError)
    Exception.__init__(failed, "turn failed")
    assert type(from_sdk_error(failed)) is CodexFailed


def test_a_front_end_table_maps_by_the_nearest_class() -> None:
    table: dict[type[BridgeError], int] = {BridgeError: 1, InvalidRequest: 2, SessionNotFound: 4}
    assert lookup(table, InvalidSetting("bad flag")) == 2  # an InvalidRequest
    assert lookup(table, SessionNotFound("x")) == 4
    assert lookup(table, JobNotFound("x")) == 1
    with pytest.raises(KeyError):
        lookup({SessionNotFound: 4}, PolicyRefused("no"))


def test_bridge_errors_carry_no_secret_and_stay_value_errors_for_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-abcdefghijklmnop0123456789")
    error = PolicyRefused("key sk-test-abcdefghijklmnop0123456789 refused", field="x")
    assert "abcdefghijklmnop" not in str(error) and error.code == "policy"
    assert isinstance(InvalidSetting("x"), ValueError)  # msgspec wraps it while converting


# --------------------------------------------------------------------------- operations


def test_every_operation_describes_every_argument() -> None:
    for name, operation in OPERATIONS.items():
        schema = msgspec.json.schema(operation.params)
        definitions = schema.get("$defs", {}).values()
        for definition in definitions:
            for field, prop in definition.get("properties", {}).items():
                if field == "kind" and "enum" in prop and len(prop["enum"]) == 1:
                    continue  # a job's tag
                assert prop.get("description"), (name, field)
        assert operation.description.endswith("."), name


def test_a_job_runs_unless_told_otherwise() -> None:
    start = OPERATIONS["jobs.start"]
    assert isinstance(start.parse({"prompt": "x"}), RunParams)
    assert isinstance(start.parse({"prompt": "x", "kind": "fork", "thread_id": "t"}), ForkParams)
    with pytest.raises(InvalidRequest) as refused:
        start.parse({"prompt": "x", "kind": "resume", "profile": "p"})  # run only
    assert refused.value.field == "profile"


@pytest.mark.parametrize(
    ("operation", "arguments", "error", "field"),
    [
        ("run", {}, InvalidRequest, "prompt"),
        ("run", {"prompt": "x", "sandbox": "danger-full-access"}, PolicyRefused, "sandbox"),
        ("resume", {"prompt": "x", "session_name": "ghost"}, SessionNotFound, "session_name"),
        ("sessions.show", {"name": "ghost"}, SessionNotFound, "session_name"),
        ("jobs.status", {"job_id": "job-0"}, JobNotFound, "job_id"),
        ("jobs.wait", {"job_id": "a", "job_ids": ["b"]}, InvalidRequest, "job_id"),
        ("threads.list", {"limit": 0}, InvalidRequest, "limit"),
        ("worktrees.remove", {"branch": "main"}, InvalidRequest, "branch"),
    ],
)
async def test_operations_refuse_with_the_error_tree(
    service: BridgeService,
    fake_env: dict[str, str],
    operation: str,
    arguments: dict[str, Any],
    error: type[BridgeError],
    field: str,
) -> None:
    with pytest.raises(error) as refused:
        await OPERATIONS[operation](service, arguments)
    assert refused.value.field == field


async def test_operations_run_through_the_table(service: BridgeService) -> None:
    outcome = await OPERATIONS["run"](service, {"prompt": "hello", "session_name": "s"})
    assert outcome.ok
    sessions = await OPERATIONS["sessions.list"](service, {})
    assert isinstance(sessions, SessionList) and [s.name for s in sessions.sessions] == ["s"]
    job = await OPERATIONS["jobs.start"](
        service, {"prompt": "again", "kind": "resume", "session_name": "s"}
    )
    assert isinstance(job, JobInfo) and job.kind == "resume"
    one = await OPERATIONS["jobs.wait"](service, {"job_id": job.job_id, "wait_seconds": 30})
    assert isinstance(one, JobInfo) and one.state == "completed"
    several = await OPERATIONS["jobs.wait"](service, {"job_ids": [job.job_id]})
    assert isinstance(several, JobsWaited) and several.finished == [job.job_id]
    deleted = await OPERATIONS["sessions.delete"](service, {"name": "s"})
    assert deleted.deleted and deleted.thread_id == outcome.thread_id
    await service.aclose()


# --------------------------------------------------------------------------- decisions


def test_sandbox_clamp_and_checks() -> None:
    policy = BridgePolicy(sandbox_ceiling=SandboxMode.READ_ONLY)
    assert policy.clamp_sandbox(SandboxMode.WORKSPACE_WRITE) is SandboxMode.READ_ONLY
    assert not policy.may_write(None)
    with pytest.raises(PolicyRefused, match="above this server's ceiling"):
        policy.checked_sandbox("workspace-write")
    roomy = BridgePolicy(sandbox_ceiling=SandboxMode.DANGER_FULL_ACCESS)
    assert roomy.clamp_sandbox(SandboxMode.WORKSPACE_WRITE) is SandboxMode.WORKSPACE_WRITE
    assert roomy.may_write("workspace-write")


def test_waits_are_clamped() -> None:
    assert BridgePolicy.clamp_wait(-5) == 0.0
    assert BridgePolicy.clamp_wait(10) == 10
    assert BridgePolicy.clamp_wait(10**9) == MAX_WAIT_SECONDS


def test_off_turns_the_idle_timeout_off_where_none_means_not_given() -> None:
    env: dict[str, str] = {}
    assert BridgePolicy.from_sources({"idle_timeout_seconds": None}, env=env).idle_timeout_seconds
    assert BridgePolicy.from_sources(
        {"idle_timeout_seconds": OFF}, env=env
    ).idle_timeout_seconds is (None)


def test_pruning_forgets_the_oldest_finished_beyond_the_limit() -> None:
    items = {"a": True, "b": False, "c": True, "d": True}
    prune_finished(items, lambda done: done, 2)
    assert list(items) == ["b", "c", "d"]


async def test_continue_goes_to_the_last_thread_else_the_newest_session(
    service: BridgeService,
) -> None:
    assert service.continue_target() is None
    await service.run(RunParams(prompt="one", session_name="older"))
    fresh = BridgeService(service.policy)
    assert fresh.continue_target() == ThreadTarget(session_name="older")
    outcome = await fresh.run(RunParams(prompt="two"))
    assert fresh.continue_target() == ThreadTarget(thread_id=outcome.thread_id)
    fresh.rename_session("older", "renamed")  # look it up again
    assert fresh.continue_target() == ThreadTarget(session_name="renamed")
    await asyncio.gather(fresh.aclose(), service.aclose())


def test_resume_params_describe_their_own_cwd() -> None:
    def description(kind: type[msgspec.Struct]) -> str:
        schema = msgspec.json.schema(kind)
        return str(schema["$defs"][kind.__name__]["properties"]["cwd"]["description"])

    assert "recorded" in description(ResumeParams)
    assert "recorded" not in description(RunParams)
