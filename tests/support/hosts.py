"""The host tests' support: the README's set-up snippets, the host binaries, a host's
environment.

The host tests configure each real host (Codex, Claude Code, Neovim) with the snippet the
README gives users, read from README.md (``<!-- snippet: NAME -->`` marks the fenced block
that follows it), with only paths filled in. A README edit that breaks a snippet breaks a test.
"""

from __future__ import annotations

import os
import pathlib
import re
from collections.abc import Mapping

import pytest

from tests.support.paths import BRIDGE, NPM_BIN, ROOT

README = ROOT / "README.md"

_SNIPPET = re.compile(r"<!-- snippet: ([\w-]+) -->\s*\n```[\w-]*\n(.*?)\n```", re.DOTALL)


def snippet(name: str) -> str:
    """The fenced block the README marks with ``<!-- snippet: name -->``."""
    found = {match.group(1): match.group(2) for match in _SNIPPET.finditer(README.read_text())}
    assert name in found, f"README.md has no snippet {name!r} (it has {sorted(found)})"
    return found[name]


def fill(text: str, replacements: Mapping[str, str]) -> str:
    """Replace the README's placeholders (each must be there: a test must not silently run a
    snippet that no longer says what the README says)."""
    for old, new in replacements.items():
        assert old in text, f"placeholder {old!r} is gone from the snippet:\n{text}"
        text = text.replace(old, new)
    return text


def require(path: pathlib.Path, hint: str) -> str:
    """A host executable; in CI a missing one fails the test instead of skipping it."""
    if path.exists() and os.access(path, os.X_OK):
        return str(path)
    message = f"{path.name} is not installed ({path}): {hint}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def bridge() -> str:
    return require(BRIDGE, "pip install -e '.[dev]'")


def host_env(
    home: pathlib.Path, *, first_on_path: pathlib.Path | None = None, **extra: str
) -> dict[str, str]:
    """A clean environment for a host: a private HOME (so nothing of the user's own set-up
    or session store is read or written), the usual PATH with our npm binaries first (after
    ``first_on_path``, e.g. the recording bridge's directory), no real credentials."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("CODEX_", "OPENAI_", "ANTHROPIC_", "CLAUDE", "MCP_"))
        and key not in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME")
    }
    env["HOME"] = str(home)
    front = [str(first_on_path)] if first_on_path is not None else []
    env["PATH"] = os.pathsep.join([*front, str(NPM_BIN), str(BRIDGE.parent), env.get("PATH", "")])
    env.update(extra)
    return env
