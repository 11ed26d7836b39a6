"""Bridge server processes (MCP, LSP, CLI) in tests: their environment, the MCP handshakes."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

MCP_MODES = ["legacy", "2026-07-28"]
"""The MCP handshakes the tests speak: 2025-11-25 (``mode="legacy"``) and 2026-07-28."""
MCP_PROTOCOL = {"legacy": "2025-11-25", "2026-07-28": "2026-07-28"}
"""The protocol version each handshake settles on."""


def server_env(
    *,
    store: Path,
    codex_bin: str,
    workdir: Path | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """This process's environment (CODEX_HOME, fake codex settings, the test tag) without any
    ``CODEX_BRIDGE_*`` setting of the host, plus the policy as ``CODEX_BRIDGE_*`` variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CODEX_BRIDGE_")}
    env.update(CODEX_BRIDGE_STORE_PATH=str(store), CODEX_BRIDGE_CODEX_BIN=codex_bin)
    if workdir is not None:
        env.update(CODEX_BRIDGE_DEFAULT_CWD=str(workdir))
    env.update(extra or {})
    return env
