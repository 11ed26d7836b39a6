"""Approvals of MCP background jobs: asked on the session of the client that started the job
(the tool call has returned), declined with the reason once that client has gone."""

from __future__ import annotations

import types as pytypes
from typing import Any, cast

import anyio
import mcp_types as types
import pytest

from codex_bridge.mcp.approvals import CLIENT_GONE, approval_relay
from codex_local_sdk import (
    ApprovalDecision,
    ApprovalKind,
    ApprovalRequest,
    ApprovalUnavailable,
)

REQUEST = ApprovalRequest(kind=ApprovalKind.COMMAND, command="make deploy", reason="needs it")


class Session:
    def __init__(self, failure: BaseException | None = None) -> None:
        self.client_capabilities = types.ClientCapabilities(
            elicitation=types.ElicitationCapability()
        )
        self.failure = failure
        self.related: list[object] = []

    async def elicit_form(
        self, message: str, schema: Any, related_request_id: object = None
    ) -> types.ElicitResult:
        self.related.append(related_request_id)
        if self.failure is not None:
            raise self.failure
        return types.ElicitResult(action="accept", content={"decision": "approve"})


def context(session: Session) -> Any:
    return cast(
        Any,
        pytypes.SimpleNamespace(session=session, protocol_version="2025-11-25", request_id=7),
    )


async def test_a_job_asks_on_the_session_not_within_the_finished_call() -> None:
    session = Session()
    relay = approval_relay(context(session), background=True)
    assert relay.handler is not None
    assert await relay.handler(REQUEST) is ApprovalDecision.APPROVE
    assert session.related == [None]

    in_call = approval_relay(context(session))
    assert in_call.handler is not None
    await in_call.handler(REQUEST)
    assert session.related == [None, 7]


@pytest.mark.parametrize(
    "failure", [anyio.ClosedResourceError(), anyio.BrokenResourceError(), anyio.EndOfStream()]
)
async def test_a_disconnected_client_cannot_answer(failure: BaseException) -> None:
    relay = approval_relay(context(Session(failure)), background=True)
    assert relay.handler is not None
    with pytest.raises(ApprovalUnavailable, match="disconnected") as caught:
        await relay.handler(REQUEST)
    assert str(caught.value) == CLIENT_GONE
