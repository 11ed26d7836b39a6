"""The MCP server on the warm engine with the REAL codex (both builds): approvals relayed
through a real MCP client that declares elicitation (approve runs the command, decline does
not), a client without elicitation (declined, said in the result), the sandbox ceiling, live
text as progress, the engine reported, and parallel warm runs."""

from __future__ import annotations

import asyncio
import pathlib
import time
from collections.abc import Callable
from typing import Any

import mcp_types as types
import pytest
from mcp import Client
from mcp.client.session import ClientRequestContext

from codex_bridge.mcp import build_server
from codex_bridge.mcp.approvals import NO_ELICITATION
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeService
from codex_local_sdk.testing.mock_responses import ESCALATED_COMMAND, ESCALATED_MARKER, STREAM_TEXT
from tests.support.mcp_client import ProgressRecorder
from tests.support.processes import codex_processes
from tests.support.real_codex import RealCodex

pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def make_service(
    real_codex: RealCodex, tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., BridgeService]:
    for key in ("CODEX_HOME", "MOCK_API_KEY"):
        monkeypatch.setenv(key, real_codex.env[key])
    made: list[BridgeService] = []

    def make(**policy: Any) -> BridgeService:
        settings: dict[str, Any] = {
            "store_path": str(tmp_path / "sessions.json"),
            "codex_bin": real_codex.binary,
            "default_cwd": str(real_codex.workdir),
            "engine": "app-server",
            **policy,
        }
        service = BridgeService(BridgePolicy.from_sources(settings, env={}))
        made.append(service)
        return service

    return make


def _escalation() -> dict[str, Any]:
    return {
        "prompt": "[[mock:escalate]] write the file",
        "approval_policy": "on-request",
        "sandbox": "workspace-write",
        "timeout_seconds": 60,
    }


class Elicitations:
    """An elicitation callback answering with ``decision`` and remembering the forms."""

    def __init__(self, decision: str) -> None:
        self.decision = decision
        self.seen: list[types.ElicitRequestParams] = []

    async def __call__(
        self, context: ClientRequestContext, params: types.ElicitRequestParams
    ) -> types.ElicitResult:
        self.seen.append(params)
        if self.decision == "cancel":
            return types.ElicitResult(action="cancel")
        return types.ElicitResult(action="accept", content={"decision": self.decision})


async def _call(client: Client, arguments: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    result = await client.call_tool("codex_run", arguments, **kwargs)
    assert result.structured_content is not None, result
    content: dict[str, Any] = result.structured_content
    return content


@pytest.mark.parametrize("decision", ["approve", "decline"])
async def test_approval_relayed_through_elicitation(
    make_service: Callable[..., BridgeService], real_codex: RealCodex, decision: str
) -> None:
    service = make_service(sandbox_ceiling="danger-full-access")
    answers = Elicitations(decision)
    async with Client(build_server(service), mode="legacy", elicitation_callback=answers) as client:
        outcome = await _call(client, _escalation())

    [form] = answers.seen
    assert ESCALATED_COMMAND in form.message and str(real_codex.workdir) in form.message
    assert isinstance(form, types.ElicitRequestFormParams)
    assert "decision" in form.requested_schema["properties"]
    [approval] = outcome["approvals"]
    assert (approval["decision"], approval["decided_by"]) == (decision, "user")
    assert (real_codex.workdir / ESCALATED_MARKER).exists() is (decision == "approve")
    assert codex_processes(real_codex.home) == []  # the lifespan closed the warm server


async def test_a_client_without_elicitation_gets_a_decline_and_the_reason(
    make_service: Callable[..., BridgeService], real_codex: RealCodex
) -> None:
    service = make_service(sandbox_ceiling="danger-full-access")
    async with Client(build_server(service)) as client:
        result = await client.call_tool("codex_run", _escalation())

    assert result.structured_content is not None
    [approval] = result.structured_content["approvals"]
    assert (approval["decision"], approval["decided_by"]) == ("decline", "no_handler")
    assert approval["note"] == NO_ELICITATION
    text = "\n".join(b.text for b in result.content if isinstance(b, types.TextContent))
    assert "elicitation capability" in text
    assert not (real_codex.workdir / ESCALATED_MARKER).exists()


async def test_the_sandbox_ceiling_is_never_exceeded_by_an_approval(
    make_service: Callable[..., BridgeService], real_codex: RealCodex
) -> None:
    service = make_service()  # ceiling workspace-write
    answers = Elicitations("approve")
    async with Client(build_server(service), mode="legacy", elicitation_callback=answers) as client:
        outcome = await _call(client, _escalation())

    assert answers.seen == []
    [approval] = outcome["approvals"]
    assert (approval["decision"], approval["decided_by"]) == ("decline", "policy")
    assert not (real_codex.workdir / ESCALATED_MARKER).exists()


async def test_live_text_reaches_the_client_as_progress(
    make_service: Callable[..., BridgeService], real_codex: RealCodex
) -> None:
    real_codex.server.stream_delay_seconds = 0.15  # slower than the 10/s throttle
    service = make_service()
    recorder = ProgressRecorder()
    async with Client(build_server(service)) as client:
        outcome = await _call(client, {"prompt": "[[mock:stream]] go"}, progress_callback=recorder)

    assert outcome["final_message"] == STREAM_TEXT
    writing = [m for m in recorder.messages if m.startswith("writing: ")]
    assert len(writing) >= 3
    assert all(STREAM_TEXT.startswith(m.removeprefix("writing: ").strip()) for m in writing)


async def test_engine_reported_and_parallel_runs_share_one_server(
    make_service: Callable[..., BridgeService], real_codex: RealCodex
) -> None:
    real_codex.server.slow_seconds = 2.0
    service = make_service(max_concurrency=4)
    async with Client(build_server(service)) as client:
        await _call(client, {"prompt": "[[mock:hello]] warm"})
        status = service.engine_status()
        assert status is not None and status.engine == "app-server"
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(_call(client, {"prompt": f"[[mock:slow]] {n}"}) for n in range(4))
        )
        wall = time.monotonic() - started
        assert service.engine is not None and service.engine.app_server is not None
        assert len(service.engine.app_server.server_pids) == 1

    assert all(outcome["ok"] for outcome in outcomes)
    assert wall < 2.0 * 2.5  # four 2 s turns overlapped
    assert codex_processes(real_codex.home) == []


async def test_fallback_to_exec_when_codex_cannot_serve_app_server(
    make_service: Callable[..., BridgeService], fake_codex: str, real_codex: RealCodex
) -> None:
    service = make_service(codex_bin=fake_codex)
    service.start_engine_check()
    assert service.engine is not None
    status = await service.engine.ready()
    assert status.engine == "exec" and "cannot serve app-server" in status.reason
    report = await asyncio.to_thread(service.doctor, login=False)
    assert report.engine == status
    await service.aclose()


@pytest.mark.parametrize("decision", ["approve", "decline"])
async def test_a_background_job_asks_the_client_that_started_it(
    make_service: Callable[..., BridgeService], real_codex: RealCodex, decision: str
) -> None:
    service = make_service(sandbox_ceiling="danger-full-access")
    answers = Elicitations(decision)
    async with Client(build_server(service), mode="legacy", elicitation_callback=answers) as client:
        started = await client.call_tool("codex_job_start", {**_escalation(), "kind": "run"})
        assert started.structured_content is not None, started
        job_id = started.structured_content["job_id"]
        waited = await client.call_tool("codex_job_wait", {"job_id": job_id, "wait_seconds": 60})

    assert waited.structured_content is not None, waited
    job = waited.structured_content
    assert job["state"] == "completed", job
    [form] = answers.seen
    assert ESCALATED_COMMAND in form.message
    [approval] = job["outcome"]["approvals"]
    assert (approval["decision"], approval["decided_by"]) == (decision, "user")
    assert (real_codex.workdir / ESCALATED_MARKER).exists() is (decision == "approve")


async def test_a_background_job_of_a_client_without_elicitation_declines_and_says_why(
    make_service: Callable[..., BridgeService], real_codex: RealCodex
) -> None:
    service = make_service(sandbox_ceiling="danger-full-access")
    async with Client(build_server(service)) as client:
        started = await client.call_tool("codex_job_start", {**_escalation(), "kind": "run"})
        assert started.structured_content is not None, started
        job_id = started.structured_content["job_id"]
        waited = await client.call_tool("codex_job_wait", {"job_id": job_id, "wait_seconds": 60})

    assert waited.structured_content is not None, waited
    [approval] = waited.structured_content["outcome"]["approvals"]
    assert (approval["decision"], approval["decided_by"]) == ("decline", "no_handler")
    assert approval["note"] == NO_ELICITATION
    assert not (real_codex.workdir / ESCALATED_MARKER).exists()
