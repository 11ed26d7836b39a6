"""Helpers to run the real ``codex`` CLI offline against ``MockResponsesServer``.

``codex_binary()`` locates a real codex executable; ``make_codex_home()`` writes a
throw-away ``CODEX_HOME`` whose ``config.toml`` routes every model request to the
mock server on 127.0.0.1 and switches off everything else that could reach the
network; ``e2e_env()`` builds the subprocess environment.

Only the standard library is used.
"""

from __future__ import annotations

import importlib
import json
import os
import pathlib
import shutil
import subprocess

__all__ = [
    "MOCK_MODEL",
    "MOCK_PROVIDER",
    "codex_binary",
    "codex_version",
    "e2e_env",
    "make_codex_home",
]

MOCK_MODEL = "mock-model"
MOCK_PROVIDER = "mock"

# Minimal model catalog entry for ``mock-model``. Without it codex emits an extra
# ``{"type": "error", "message": "Model metadata for `mock-model` not found..."}``
# item (and stderr warnings) on every run. These are the fields codex 0.163/0.169
# require when parsing ``model_catalog_json``.
_MOCK_MODEL_INFO: dict[str, object] = {
    "slug": MOCK_MODEL,
    "display_name": MOCK_MODEL,
    "description": "Offline mock model for end-to-end tests.",
    "supported_reasoning_levels": [],
    "shell_type": "shell_command",
    "visibility": "list",
    "supported_in_api": True,
    "priority": 99,
    "support_verbosity": False,
    "truncation_policy": {"mode": "tokens", "limit": 10000},
    "experimental_supported_tools": [],
    "base_instructions": "You are a coding agent talking to an offline mock model.",
    "context_window": 128000,
    "input_modalities": ["text"],
}


def codex_binary() -> str | None:
    """Path of the real codex CLI.

    ``$CODEX_E2E_BIN`` first, else the binary inside the ``openai-codex-cli-bin`` wheel
    (``codex_cli_bin``), else None.
    """
    override = os.environ.get("CODEX_E2E_BIN")
    if override:
        return override if os.path.isfile(override) else shutil.which(override)
    try:
        wheel = importlib.import_module("codex_cli_bin")  # optional test dependency
    except ImportError:
        return None
    try:
        path = str(wheel.bundled_codex_path())
    except Exception:  # a broken/partial install should skip the tests, not error them
        return None
    return path if os.path.isfile(path) else None


def codex_version(binary: str) -> str:
    """``codex --version`` output (e.g. ``"codex-cli 0.163.0"``), for skip/xfail messages."""
    done = subprocess.run(
        [binary, "--version"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return done.stdout.strip()


def _toml_str(value: str) -> str:
    """A TOML basic string (JSON string escaping is a compatible subset)."""
    return json.dumps(value)


def make_codex_home(
    tmp_dir: pathlib.Path,
    base_url: str,
    *,
    env_key: str = "MOCK_API_KEY",
    model_catalog: bool = True,
    search_tool: bool = False,
) -> pathlib.Path:
    """Create ``tmp_dir/codex_home`` with a config.toml pointing codex at ``base_url``.

    ``base_url`` is the mock's ``.../v1`` URL; codex appends ``/responses``.
    ``model_catalog=False`` leaves out the mock model metadata (codex then adds a
    "Model metadata ... not found" error item to its output). ``search_tool=True`` says the
    model supports codex's ``tool_search``, as OpenAI's models do: codex then offers MCP tools
    behind it instead of up front.
    """
    home = pathlib.Path(tmp_dir) / "codex_home"
    home.mkdir(parents=True, exist_ok=True)
    lines = [
        f"model = {_toml_str(MOCK_MODEL)}",
        f"model_provider = {_toml_str(MOCK_PROVIDER)}",
        # No update check against GitHub/npm (the TUI does it; harmless for exec).
        "check_for_update_on_startup = false",
        # No hosted web_search tool offered to the (mock) model.
        'web_search = "disabled"',
    ]
    if model_catalog:
        catalog = home / "mock_models.json"
        info = {**_MOCK_MODEL_INFO, **({"supports_search_tool": True} if search_tool else {})}
        catalog.write_text(json.dumps({"models": [info]}, indent=2) + "\n", encoding="utf-8")
        lines.append(f"model_catalog_json = {_toml_str(str(catalog))}")
    lines += [
        "",
        f"[model_providers.{MOCK_PROVIDER}]",
        'name = "Mock Responses API"',
        f"base_url = {_toml_str(base_url)}",
        'wire_api = "responses"',
        f"env_key = {_toml_str(env_key)}",
        # Keep failure tests fast: one HTTP retry, no stream reconnects.
        "request_max_retries = 1",
        "stream_max_retries = 0",
        "stream_idle_timeout_ms = 60000",
        "",
        "[analytics]",
        "enabled = false",
        "",
        "[features]",
        # No plugin marketplace sync / remote plugin fetches.
        "plugins = false",
        # Skip the login-shell environment snapshot taken at startup.
        "shell_snapshot = false",
        # Default (true) makes codex retry "waiting for network" forever when the
        # server is unreachable; false turns that into a prompt turn.failed.
        "unbounded_connection_retries = false",
        "",
    ]
    (home / "config.toml").write_text("\n".join(lines), encoding="utf-8")
    return home


def e2e_env(
    codex_home: pathlib.Path, api_key: str | None = "dummy-key", *, env_key: str = "MOCK_API_KEY"
) -> dict[str, str]:
    """Copy of ``os.environ`` with ``CODEX_HOME`` and the provider key set.

    ``api_key=None`` removes the key variable (for "missing key" tests).
    """
    env = dict(os.environ)
    env["CODEX_HOME"] = str(codex_home)
    # Real credentials / endpoints must not leak into (or be needed by) the tests.
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "CODEX_API_KEY", "RUST_LOG"):
        env.pop(name, None)
    if api_key is None:
        env.pop(env_key, None)
    else:
        env[env_key] = api_key
    return env
