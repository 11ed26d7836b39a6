"""Fixtures for the end-to-end tests against the real codex CLI."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from codex_local_sdk import AppServerTransport
from tests.support.real_codex import RealCodex


@pytest.fixture
async def transport(real_codex: RealCodex) -> AsyncIterator[AppServerTransport]:
    """A warm app-server transport; closing it leaves no codex process."""
    transport = AppServerTransport(real_codex.binary, base_env=real_codex.env)
    try:
        yield transport
    finally:
        await transport.aclose()
        assert real_codex.processes() == []
