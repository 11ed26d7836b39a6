"""Requests → codex command lines: argv, environment, stdin (pure, no process)."""

from __future__ import annotations

import math
import pathlib
import sys
from typing import Any

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    tomllib = pytest.importorskip("tomli")

from codex_local_sdk import (
    ApprovalPolicy,
    CodexExecRequest,
    CodexUsageError,
    SandboxMode,
)
from codex_local_sdk._invocation import build_invocation, redact_argv, toml_value
from codex_local_sdk.models import Operation
from tests.support.fake_codex import SECRET

CODEX = "/opt/codex"
THREAD = "01a21332-ea6e-7fc2-b7aa-94f6d0b99183"


def config_args(argv: tuple[str, ...] | list[str]) -> dict[str, str]:
    """The ``--config key=value`` pairs of an argv, values still TOML text."""
    pairs = [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg in ("--config", "-c")]
    return dict(pair.split("=", 1) for pair in pairs)


def test_plain_exec_puts_the_prompt_on_stdin_never_on_argv() -> None:
    prompt = "--help me; rm -rf / `x` $(y)\nsecond line ünïcode"
    invocation = build_invocation(CODEX, CodexExecRequest(prompt=prompt), base_env={})
    assert invocation.argv == (CODEX, "exec", "--json", "--skip-git-repo-check", "--", "-")
    assert invocation.stdin == prompt.encode("utf-8")
    assert all(prompt not in arg for arg in invocation.argv)


def test_exec_options_become_exec_flags() -> None:
    request = CodexExecRequest(
        prompt="p",
        model="gpt-5-codex",
        sandbox="workspace-write",  # type: ignore[arg-type]  # plain strings are accepted
        approval_policy="on-request",  # type: ignore[arg-type]
        cwd=pathlib.Path("/work/dir"),  # type: ignore[arg-type]  # path-likes are accepted
        add_dirs=(pathlib.Path("/extra/a"), "/extra/b"),  # type: ignore[arg-type]
        images=("a.png", "b.png"),
        profile="fast",
        ephemeral=True,
        skip_git_repo_check=False,
        output_schema="/schemas/s.json",
    )
    assert request.sandbox is SandboxMode.WORKSPACE_WRITE
    assert request.approval_policy is ApprovalPolicy.ON_REQUEST
    argv = build_invocation(CODEX, request, base_env={}).argv
    assert argv[:3] == (CODEX, "exec", "--json")
    assert "--skip-git-repo-check" not in argv
    assert "--ephemeral" in argv
    for flag, value in [
        ("--model", "gpt-5-codex"),
        ("--sandbox", "workspace-write"),
        ("--cd", "/work/dir"),
        ("--profile", "fast"),
        ("--output-schema", "/schemas/s.json"),
    ]:
        assert argv[argv.index(flag) + 1] == value
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--add-dir"] == ["/extra/a", "/extra/b"]
    assert [argv[i + 1] for i, a in enumerate(argv) if a == "--image"] == ["a.png", "b.png"]
    # codex exec refuses -a / --full-auto: the approval policy travels as a config override.
    assert "-a" not in argv and "--full-auto" not in argv
    assert config_args(argv) == {"approval_policy": '"on-request"'}
    # --image takes several values: "--" keeps it from swallowing the stdin marker.
    assert argv[-2:] == ("--", "-")


@pytest.mark.parametrize("operation", ["resume", "fork"])
def test_resume_and_fork_carry_sandbox_and_dirs_as_overrides(operation: Operation) -> None:
    request = CodexExecRequest(
        prompt="p",
        sandbox=SandboxMode.WORKSPACE_WRITE,
        cwd="/work/dir",
        add_dirs=("/extra/a",),
        approval_policy=ApprovalPolicy.NEVER,
    )
    invocation = build_invocation(
        CODEX, request, operation=operation, thread_id=THREAD, base_env={}
    )
    argv = invocation.argv
    assert argv[:3] == (CODEX, "exec", operation)
    for refused in ("--sandbox", "-s", "--cd", "-C", "--add-dir", "--profile"):
        assert refused not in argv
    assert config_args(argv) == {
        "sandbox_mode": '"workspace-write"',
        "sandbox_workspace_write.writable_roots": '["/extra/a"]',
        "approval_policy": '"never"',
    }
    assert invocation.cwd == "/work/dir"  # the working directory is the child's cwd
    assert argv[-3:] == ("--", THREAD, "-")


def test_resume_last() -> None:
    argv = build_invocation(
        CODEX, CodexExecRequest(prompt="p"), operation="resume", last=True, base_env={}
    ).argv
    assert argv[-3:] == ("--last", "--", "-")


@pytest.mark.parametrize("operation", ["resume", "fork"])
def test_resume_and_fork_refuse_a_profile(operation: Operation) -> None:
    with pytest.raises(CodexUsageError, match="--profile"):
        build_invocation(
            CODEX,
            CodexExecRequest(prompt="p", profile="fast"),
            operation=operation,
            thread_id=THREAD,
        )


@pytest.mark.parametrize(
    ("operation", "thread_id", "last"),
    [
        ("exec", THREAD, False),
        ("exec", None, True),
        ("resume", None, False),
        ("resume", THREAD, True),
        ("fork", None, False),
        ("fork", THREAD, True),
    ],
)
def test_thread_selection_is_validated(operation: str, thread_id: str | None, last: bool) -> None:
    with pytest.raises(CodexUsageError):
        build_invocation(
            CODEX,
            CodexExecRequest(prompt="p"),
            operation=operation,  # type: ignore[arg-type]
            thread_id=thread_id,
            last=last,
        )


def test_a_dict_output_schema_needs_its_file() -> None:
    request = CodexExecRequest(prompt="p", output_schema={"type": "object"})
    with pytest.raises(CodexUsageError):
        build_invocation(CODEX, request)
    argv = build_invocation(CODEX, request, output_schema_path="/tmp/s.json").argv
    assert argv[argv.index("--output-schema") + 1] == "/tmp/s.json"


def test_api_key_goes_to_the_child_environment_only() -> None:
    request = CodexExecRequest(prompt="p", env={"EXTRA": "1"}, codex_home="/h")
    invocation = build_invocation(CODEX, request, api_key=SECRET, base_env={"PATH": "/bin"})
    assert invocation.env == {
        "PATH": "/bin",
        "EXTRA": "1",
        "CODEX_HOME": "/h",
        "CODEX_API_KEY": SECRET,
    }
    assert all(SECRET not in arg for arg in invocation.argv)
    assert SECRET not in repr(invocation)


def test_the_environment_defaults_to_this_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOME_MARKER", "x")
    env = build_invocation(CODEX, CodexExecRequest(prompt="p")).env
    assert env["SOME_MARKER"] == "x"
    assert "CODEX_API_KEY" not in env


def test_secret_looking_overrides_are_redacted_in_the_reported_argv() -> None:
    request = CodexExecRequest(
        prompt="p",
        config_overrides={"model_providers.mock.api_key": SECRET, "model": "m"},
    )
    invocation = build_invocation(CODEX, request)
    assert f'model_providers.mock.api_key="{SECRET}"' in invocation.argv  # codex needs it
    shown = invocation.redacted_argv
    assert "model_providers.mock.api_key=***" in shown
    assert 'model="m"' in shown
    assert SECRET not in " ".join(shown)
    assert redact_argv(["codex", "-c", "auth_token=abc", "-c"]) == [
        "codex",
        "-c",
        "auth_token=***",
        "-c",
    ]


@pytest.mark.parametrize(
    "value",
    [
        True,
        False,
        0,
        -42,
        1.5,
        1e-7,
        1e300,
        "",
        "plain",
        'quote " backslash \\ newline \n tab \t',
        "ünïcode ✓",
        [1, "two", [3.0], {"k": False}],
        (),
        {},
        {"a": 1, "b": {"c": "d"}, "needs quoting": "x", "dotted.key": [True]},
    ],
)
def test_toml_values_round_trip(value: Any) -> None:
    parsed = tomllib.loads("v = " + toml_value(value))["v"]
    expected = list(value) if isinstance(value, tuple) else value
    assert parsed == expected


def test_toml_special_values() -> None:
    assert toml_value(pathlib.Path("/a b")) == '"/a b"'
    assert toml_value(SandboxMode.READ_ONLY) == '"read-only"'
    for special in (math.inf, -math.inf):
        assert tomllib.loads("v = " + toml_value(special))["v"] == special
    assert math.isnan(tomllib.loads("v = " + toml_value(math.nan))["v"])


@pytest.mark.parametrize("value", [None, object(), {"k": None}, [None]])
def test_values_toml_cannot_express_are_refused(value: Any) -> None:
    with pytest.raises(CodexUsageError, match="TOML"):
        toml_value(value)


def test_config_overrides_are_toml_encoded_in_argv() -> None:
    overrides = {
        "model_reasoning_effort": "high",
        "sandbox_workspace_write.network_access": True,
        "tools": {"web search": False},
        "limits": [1, 2.5],
    }
    argv = build_invocation(
        CODEX, CodexExecRequest(prompt="p", config_overrides=overrides), base_env={}
    ).argv
    encoded = config_args(argv)
    assert {k: tomllib.loads("v = " + v)["v"] for k, v in encoded.items()} == overrides


def test_request_validation_and_repr() -> None:
    with pytest.raises(ValueError):
        CodexExecRequest(prompt="p", sandbox="everything")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        CodexExecRequest(prompt="p", approval_policy="sometimes")  # type: ignore[arg-type]
    with pytest.raises(CodexUsageError, match="prompt must be a string, not bytes"):
        CodexExecRequest(prompt=b"bytes")  # type: ignore[arg-type]
    request = CodexExecRequest(
        prompt="x" * 200,
        model="m",
        env={"OPENAI_API_KEY": SECRET},
        config_overrides={"model_providers.p.api_key": SECRET},
    )
    shown = repr(request)
    assert SECRET not in shown
    assert "model='m'" in shown
    assert "x" * 77 + "..." in shown and "x" * 78 not in shown
    assert repr(CodexExecRequest(prompt="hi")) == "CodexExecRequest(prompt='hi')"
    assert request.with_prompt("new").prompt == "new"
    assert request.with_prompt("new").model == "m"


def test_a_blank_prompt_is_refused_before_spawning() -> None:
    for prompt in ("", "  \n\t"):
        with pytest.raises(CodexUsageError, match="prompt"):
            build_invocation(CODEX, CodexExecRequest(prompt=prompt))


def test_typed_options_become_config_overrides() -> None:
    request = CodexExecRequest(
        prompt="p",
        reasoning_effort="high",  # type: ignore[arg-type]  # plain strings are accepted
        reasoning_summary="detailed",  # type: ignore[arg-type]
        web_search="live",  # type: ignore[arg-type]
        network_access=True,
        developer_instructions='Answer in "French".',
        base_instructions="You are terse.",
        config_overrides={"model_reasoning_effort": "low"},
    )
    invocation = build_invocation(CODEX, request, instructions_path="/tmp/i.md", base_env={})
    config = {k: tomllib.loads(f"v = {v}")["v"] for k, v in config_args(invocation.argv).items()}
    assert config == {
        "model_reasoning_effort": "high",  # the typed option wins over a raw override
        "model_reasoning_summary": "detailed",
        "web_search": "live",
        "sandbox_workspace_write.network_access": True,
        "developer_instructions": 'Answer in "French".',
        "model_instructions_file": "/tmp/i.md",
    }
    assert "You are terse." not in " ".join(invocation.argv)  # base instructions: a file


def test_typed_options_reach_resumes_too() -> None:
    request = CodexExecRequest(prompt="p", reasoning_effort="low")  # type: ignore[arg-type]
    invocation = build_invocation(CODEX, request, operation="resume", thread_id=THREAD, base_env={})
    assert config_args(invocation.argv)["model_reasoning_effort"] == '"low"'


def test_base_instructions_need_their_file() -> None:
    with pytest.raises(CodexUsageError, match="written to a file"):
        build_invocation(CODEX, CodexExecRequest(prompt="p", base_instructions="x"), base_env={})


@pytest.mark.parametrize(
    ("field", "value"),
    [("reasoning_effort", "huge"), ("reasoning_summary", "long"), ("web_search", "on")],
)
def test_unknown_typed_option_values_are_usage_errors(field: str, value: str) -> None:
    fields: dict[str, Any] = {field: value}
    with pytest.raises(CodexUsageError, match=field):
        CodexExecRequest(prompt="p", **fields)


def test_long_instructions_are_shortened_in_the_repr() -> None:
    text = repr(CodexExecRequest(prompt="p", developer_instructions="x" * 500))
    assert "x" * 100 not in text and "developer_instructions=" in text
