"""Where things are: the repository, the recorded data, the npm binaries, the fake codex."""

from __future__ import annotations

import pathlib
import sys

from codex_local_sdk.testing import fake_codex_executable

ROOT = pathlib.Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
RECORDINGS = DATA / "codex-events"
NPM_BIN = ROOT / ".venv" / "npm" / "node_modules" / ".bin"
BRIDGE = pathlib.Path(sys.executable).with_name("codex-bridge")
FAKE_CODEX = pathlib.Path(fake_codex_executable())
