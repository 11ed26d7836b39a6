"""Redaction at any depth, and scrubbing of known keys from texts."""

from __future__ import annotations

from typing import Any

import pytest

from codex_local_sdk import CodexExecRequest, redact, scrub_secrets
from codex_local_sdk._invocation import build_invocation, redact_argv
from codex_local_sdk._redaction import remember_secrets, secrets_in_env

TOKEN = "tok-abcdef123456"


def test_nested_secret_keys_are_redacted_at_any_depth() -> None:
    value: dict[str, Any] = {
        "model_providers": {
            "corp": {
                "http_headers": {"Authorization": f"Bearer {TOKEN}", "X-Trace": "t1"},
                "env_http_headers": [{"x-api-key": TOKEN}],
                "nested": {"a": {"b": {"client_secret": TOKEN, "password": TOKEN}}},
            }
        },
        "note": f"use Bearer {TOKEN} here",
    }
    shown = redact(value)
    assert TOKEN not in repr(shown)
    headers = shown["model_providers"]["corp"]["http_headers"]
    assert headers == {"Authorization": "***", "X-Trace": "t1"}
    assert shown["note"] == "use Bearer *** here"
    assert value["note"] == f"use Bearer {TOKEN} here"  # the original is untouched


def test_request_repr_hides_nested_secrets_and_env() -> None:
    request = CodexExecRequest(
        prompt="hi",
        env={"SOME_VAR": TOKEN},
        config_overrides={"mcp_servers": {"x": {"env": {"GITHUB_TOKEN": TOKEN}}}},
    )
    assert TOKEN not in repr(request)


def test_argv_hides_secrets_nested_in_table_values() -> None:
    request = CodexExecRequest(
        prompt="hi",
        config_overrides={
            "model_providers.corp.http_headers": {"Authorization": f"Bearer {TOKEN}"},
            "mcp_servers.gh": {"env": {"GITHUB_TOKEN": TOKEN}, "command": "gh-mcp"},
            "api_key": TOKEN,
        },
    )
    invocation = build_invocation("codex", request)
    assert TOKEN in " ".join(invocation.argv)  # codex gets the real values
    shown = " ".join(invocation.redacted_argv)
    assert TOKEN not in shown
    assert "gh-mcp" in shown  # only the secrets go
    assert redact_argv(["codex", "-c", f'x={{note = "Bearer {TOKEN}"}}'])[2].count(TOKEN) == 0


def test_scrub_removes_keys_handed_to_codex_and_secret_env_values(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    build_invocation("codex", CodexExecRequest(prompt="hi"), api_key="sk-per-call-9876543210")
    monkeypatch.setenv("MY_SERVICE_TOKEN", "svc-0123456789")
    text = "key sk-per-call-9876543210, token svc-0123456789, path /home/x"
    assert scrub_secrets(text) == "key ***, token ***, path /home/x"
    assert scrub_secrets("x extra-secret-1 y", ["extra-secret-1"]) == "x *** y"


def test_only_credential_like_values_of_secret_names_count() -> None:
    env = {
        "OPENAI_API_KEY": "sk-abc123defghijk",
        "LONG_SECRET": "correcthorsebatterystaple",  # no digit, but long
        "TOKEN_FILE": "/run/secrets/token",  # a path, not the secret
        "TOKENIZERS_PARALLELISM": "false",  # too short to be a key
        "HOME": "/home/someone",
        "PASSWORD_HINT": "my dog's name",  # prose
        "STATUS_TOKEN": "completed",  # a plain word would garble every event
    }
    assert secrets_in_env(env) == ["sk-abc123defghijk", "correcthorsebatterystaple"]


def test_short_values_are_never_scrubbed() -> None:
    remember_secrets(["abc", None, ""])
    assert scrub_secrets("abc abc") == "abc abc"
