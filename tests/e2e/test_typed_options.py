"""Typed codex options reach the model request, with the REAL codex (both builds) over both
transports, offline against the mock Responses API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from codex_local_sdk import (
    AppServerTransport,
    CodexExecRequest,
    CodexLocalClient,
    ReasoningEffort,
    ReasoningSummary,
    WebSearchMode,
)
from tests.support.real_codex import RealCodex

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["exec", "app-server"])
async def client(
    request: pytest.FixtureRequest, real_codex: RealCodex
) -> AsyncIterator[CodexLocalClient]:
    transport = (
        AppServerTransport(real_codex.binary, base_env=real_codex.env)
        if request.param == "app-server"
        else None
    )
    client = CodexLocalClient(
        codex_bin=real_codex.binary, env=real_codex.env, transport=transport, timeout_seconds=60
    )
    try:
        yield client
    finally:
        await client.aclose()


async def test_typed_options_reach_the_model_request(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = await client.run_async(
        CodexExecRequest(
            prompt="[[mock:hello]]",
            cwd=str(real_codex.workdir),
            reasoning_effort=ReasoningEffort.HIGH,
            reasoning_summary=ReasoningSummary.DETAILED,
            web_search=WebSearchMode.LIVE,
            developer_instructions="DEVELOPER-NOTE-7",
            base_instructions="BASE-NOTE-9",
        )
    )
    assert result.ok, result.stderr_tail
    [body] = real_codex.server.requests
    assert body["reasoning"]["effort"] == "high"
    assert body["reasoning"]["summary"] == "detailed"
    assert "web_search" in [tool.get("type") for tool in body.get("tools", [])]
    sent = json.dumps(body)
    assert "DEVELOPER-NOTE-7" in sent
    assert "BASE-NOTE-9" in sent


async def test_without_options_codex_keeps_its_defaults(
    client: CodexLocalClient, real_codex: RealCodex
) -> None:
    result = await client.run_async(
        CodexExecRequest(prompt="[[mock:hello]]", cwd=str(real_codex.workdir))
    )
    assert result.ok, result.stderr_tail
    [body] = real_codex.server.requests
    assert "effort" not in body["reasoning"]
    assert "web_search" not in [tool.get("type") for tool in body.get("tools", [])]
