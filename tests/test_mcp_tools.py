"""The MCP tools as declared: each over one service operation, its schema from that
operation's Structs, its arguments parsed once; refusals mapped from the error tree."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import msgspec
import pytest
from mcp_types import INVALID_PARAMS

from codex_bridge.errors import BridgeError
from codex_bridge.mcp import tool_specs
from codex_bridge.mcp.refusals import request_error, tool_error
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import OPERATIONS, JobWaitParams, RunParams

TOOLS = {spec.name: spec for spec in tool_specs(BridgePolicy(), compat_tools=True)}


def _subclasses(kind: type[BridgeError]) -> list[type[BridgeError]]:
    found = [kind]
    for sub in kind.__subclasses__():
        found += _subclasses(sub)
    return found


def test_every_tool_runs_an_operation_of_the_service() -> None:
    for spec in TOOLS.values():
        operation = OPERATIONS[spec.operation.name]
        assert spec.operation.params is operation.params, spec.name
        assert spec.operation.result is operation.result, spec.name


def test_argument_descriptions_come_from_the_params_structs() -> None:
    described = msgspec.json.schema(RunParams)["$defs"]["RunParams"]["properties"]
    run = TOOLS["codex_run"].input_schema["properties"]
    assert set(run) == set(described)
    for name, prop in run.items():
        # The server's own limits may follow the Struct's words (cwd, sandbox, timeouts).
        assert prop["description"].startswith(described[name]["description"]), name


@pytest.mark.parametrize(
    ("tool", "arguments", "expected"),
    [
        ("codex_run", {"prompt": "x", "images": None}, RunParams(prompt="x")),
        ("codex_run", {"prompt": "x", "config_overrides": '{"model": "m"}'}, None),
        ("codex_job_wait", {"job_ids": '["a", "b"]'}, JobWaitParams(job_ids=["a", "b"])),
    ],
)
def test_arguments_are_parsed_once_into_the_operation_params(
    tool: str, arguments: dict[str, Any], expected: Any
) -> None:
    params = TOOLS[tool].parse(arguments)
    assert isinstance(params, TOOLS[tool].operation.params)
    if expected is not None:
        assert params == expected
    else:
        assert params.config_overrides == {"model": "m"}  # JSON text decoded for an object


def test_job_start_runs_the_kind_asked_for() -> None:
    start = TOOLS["codex_job_start"]
    assert type(start.parse({"prompt": "x"})).__name__ == "RunJobParams"
    resumed = start.parse({"kind": "resume", "prompt": "x", "session_name": "s"})
    assert type(resumed).__name__ == "ResumeJobParams"
    with pytest.raises(BridgeError) as refused:
        start.parse({"kind": "resume", "prompt": "x", "profile": "p"})  # run only
    assert refused.value.field == "profile"


def test_compat_arguments_keep_their_old_names_in_refusals() -> None:
    with pytest.raises(BridgeError) as refused:
        TOOLS["codex"].parse({"prompt": "x", "approval-policy": "sometimes"})
    assert refused.value.field == "approval-policy"
    params = TOOLS["codex-reply"].parse({"prompt": "x", "conversationId": "t"})
    assert params.thread_id == "t"


@pytest.mark.parametrize("kind", _subclasses(BridgeError), ids=lambda kind: kind.__name__)
def test_every_refusal_reaches_the_client(kind: type[BridgeError]) -> None:
    exc = kind("what to do instead", field="cwd")
    result = tool_error(exc)
    assert result.is_error
    assert result.structured_content == {
        "code": kind.code,
        "message": "what to do instead",
        "field": "cwd",
    }
    assert request_error(exc).code == INVALID_PARAMS
    assert request_error(exc, message="no task 'x'").message == "no task 'x'"


def test_module_serves_with_the_launch_options() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "codex_bridge.mcp", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert shown.returncode == 0, shown.stderr
    for flag in ("--http", "--compat-tools", "--allowed-root", "--sandbox-ceiling", "--model"):
        assert flag in shown.stdout
    refused = subprocess.run(
        [sys.executable, "-m", "codex_bridge.mcp", "--sandbox-ceiling", "everything"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 2 and "--sandbox-ceiling" in refused.stderr
