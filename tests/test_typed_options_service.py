"""Typed codex options through the bridge: each reaches codex as the right override, within
the server's policy; the operator's launch defaults apply to calls that name none."""

from __future__ import annotations

import json
import pathlib
import subprocess
import sys
from typing import Any

import pytest

from codex_bridge.errors import InvalidSetting
from codex_bridge.lsp.settings import editor_settings
from codex_bridge.policy import BridgePolicy
from codex_bridge.service import BridgeError, BridgeService, ForkParams, ResumeParams, RunParams
from codex_local_sdk import ReasoningEffort, ReasoningSummary, WebSearchMode


def make_service(tmp_path: pathlib.Path, fake_codex: str, **policy: Any) -> BridgeService:
    return BridgeService(
        BridgePolicy(
            store_path=str(tmp_path / "sessions.json"),
            codex_bin=fake_codex,
            default_cwd=str(tmp_path),
            allowed_roots=(str(tmp_path),),
            **policy,
        )
    )


def last_run(fake_env: dict[str, str]) -> dict[str, Any]:
    lines = pathlib.Path(fake_env["FAKE_CODEX_LOG"]).read_text().splitlines()
    return dict(json.loads(lines[-1]))


async def test_each_typed_option_reaches_codex(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    service = make_service(tmp_path, fake_codex, allow_network=True)
    outcome = await service.run(
        RunParams(
            prompt="go",
            sandbox="workspace-write",  # type: ignore[arg-type]
            reasoning_effort=ReasoningEffort.HIGH,
            reasoning_summary=ReasoningSummary.CONCISE,
            web_search=WebSearchMode.CACHED,
            network_access=True,
            developer_instructions="Be brief.",
            base_instructions="You are a test.",
            session_name="typed",
        )
    )
    assert outcome.ok
    config = last_run(fake_env)["config"]
    assert config["model_reasoning_effort"] == "high"
    assert config["model_reasoning_summary"] == "concise"
    assert config["web_search"] == "cached"
    assert config["sandbox_workspace_write.network_access"] is True
    assert config["developer_instructions"] == "Be brief."
    assert "model_instructions_file" in config
    # resume and fork take them too
    await service.resume(
        ResumeParams(prompt="more", session_name="typed", reasoning_effort=ReasoningEffort.LOW)
    )
    assert last_run(fake_env)["config"]["model_reasoning_effort"] == "low"
    await service.fork(
        ForkParams(prompt="alt", session_name="typed", web_search=WebSearchMode.DISABLED)
    )
    assert last_run(fake_env)["config"]["web_search"] == "disabled"


async def test_network_access_needs_the_operators_permission(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    service = make_service(tmp_path, fake_codex)
    with pytest.raises(BridgeError, match="--allow-network") as refused:
        await service.run(RunParams(prompt="go", network_access=True))
    assert refused.value.code == "policy"
    assert not pathlib.Path(fake_env["FAKE_CODEX_LOG"]).exists()  # codex never started
    outcome = await service.run(RunParams(prompt="go", network_access=False))
    assert outcome.ok


async def test_oversized_instructions_are_refused(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    service = make_service(tmp_path, fake_codex)
    with pytest.raises(BridgeError, match="developer_instructions"):
        await service.run(RunParams(prompt="go", developer_instructions="x" * 70_000))
    with pytest.raises(BridgeError, match="base_instructions"):
        await service.run(RunParams(prompt="go", base_instructions="a\x00b"))


async def test_launch_defaults_apply_to_calls_that_name_none(
    tmp_path: pathlib.Path, fake_codex: str, fake_env: dict[str, str]
) -> None:
    service = make_service(
        tmp_path,
        fake_codex,
        default_model="gpt-launch",
        default_reasoning_effort="medium",
        default_config={"model_verbosity": "low", "mcp_servers.docs.url": "http://127.0.0.1:1"},
    )
    await service.run(RunParams(prompt="go"))
    run = last_run(fake_env)
    assert run["config"]["model_reasoning_effort"] == "medium"
    assert run["config"]["model_verbosity"] == "low"
    assert run["config"]["mcp_servers.docs.url"] == "http://127.0.0.1:1"  # the operator's own
    assert "gpt-launch" in run["argv"]
    await service.run(
        RunParams(
            prompt="go",
            model="gpt-call",
            reasoning_effort=ReasoningEffort.LOW,
            config_overrides={"model_verbosity": "high"},
        )
    )
    run = last_run(fake_env)
    assert "gpt-call" in run["argv"] and "gpt-launch" not in run["argv"]
    assert run["config"]["model_reasoning_effort"] == "low"
    assert run["config"]["model_verbosity"] == "high"


@pytest.mark.parametrize(
    "key",
    [
        "sandbox_mode",
        "sandbox_workspace_write.network_access",
        "approval_policy",
        "permissions.x",
        "profile",
        "profiles.p.sandbox_mode",
    ],
)
def test_launch_config_may_not_bypass_the_policy(key: str) -> None:
    with pytest.raises(InvalidSetting, match="bypass"):
        BridgePolicy(default_config={key: "x"})


def test_editor_settings_cannot_turn_network_on_or_change_launch_defaults() -> None:
    launch = BridgePolicy(default_model="m1")
    settings = editor_settings(
        launch,
        {"allow_network": True, "default_model": "m2", "default_config": {"model": "m3"}},
    )
    assert settings.policy.allow_network is False
    assert settings.policy.default_model == "m1"
    assert settings.policy.default_config == {}
    assert any("allow_network" in note for note in settings.notes)
    narrowed = editor_settings(BridgePolicy(allow_network=True), {"allow_network": False})
    assert narrowed.policy.allow_network is False


def test_cli_server_defaults_and_refusals(tmp_path: pathlib.Path) -> None:
    def doctor(*flags: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "codex_bridge", "mcp", "--help", *flags],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    helped = doctor()
    assert "--reasoning-effort" in helped.stdout and "--allow-network" in helped.stdout
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "codex_bridge",
            "--store",
            str(tmp_path / "s.json"),
            "mcp",
            "--config",
            'sandbox_mode="danger-full-access"',
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 2
    assert "bypass" in refused.stderr


def test_the_wire_check_lets_instructions_be_long_text_but_not_names() -> None:
    from codex_bridge.wire import check_arguments

    check_arguments("codex_run", {"prompt": "p", "developer_instructions": "x" * 5_000})
    with pytest.raises(BridgeError, match="too long"):
        check_arguments("codex_run", {"developer_instructions": "x" * 70_000})
    with pytest.raises(BridgeError, match="too long"):
        check_arguments("codex_run", {"session_name": "x" * 5_000})
