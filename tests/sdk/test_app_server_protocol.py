"""The pure request planning of the app-server engine (_app_server.protocol.plan_turn)."""

from __future__ import annotations

import pathlib

import pytest

from codex_local_sdk import ApprovalPolicy, CodexExecRequest, CodexUsageError, SandboxMode
from codex_local_sdk._app_server.protocol import plan_turn
from codex_local_sdk.transport import TurnSpec

THREAD = "019a0000-0000-7000-8000-000000000001"


def test_every_turn_restates_its_sandbox_and_approval(tmp_path: pathlib.Path) -> None:
    # A loaded thread keeps the settings it started with; thread/resume does not change them.
    request = CodexExecRequest(
        prompt="p", cwd=str(tmp_path), sandbox=SandboxMode.READ_ONLY, model="m1"
    )
    plan = plan_turn(TurnSpec(request=request, operation="resume", thread_id=THREAD))
    assert plan.thread_method == "thread/resume"
    assert plan.turn_params["sandboxPolicy"] == {"type": "readOnly"}
    assert plan.turn_params["approvalPolicy"] == "never"
    assert plan.turn_params["cwd"] == str(tmp_path)
    assert plan.turn_params["model"] == "m1"


def test_workspace_write_carries_its_roots_and_network(tmp_path: pathlib.Path) -> None:
    extra = tmp_path / "extra"
    extra.mkdir()
    request = CodexExecRequest(
        prompt="p",
        cwd=str(tmp_path),
        sandbox=SandboxMode.WORKSPACE_WRITE,
        add_dirs=(str(extra),),
        network_access=True,
        approval_policy=ApprovalPolicy.ON_REQUEST,
    )
    plan = plan_turn(TurnSpec(request=request))
    assert plan.turn_params["sandboxPolicy"] == {
        "type": "workspaceWrite",
        "writableRoots": [str(extra)],
        "networkAccess": True,
    }
    assert plan.turn_params["approvalPolicy"] == "on-request"


def test_what_the_app_server_cannot_express_is_refused(tmp_path: pathlib.Path) -> None:
    with pytest.raises(CodexUsageError, match="last"):
        plan_turn(TurnSpec(request=CodexExecRequest(prompt="p"), operation="resume", last=True))
