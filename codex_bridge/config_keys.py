"""Which codex config keys callers (and operators) may set, and the check of their values.

An allow-list: a key is refused unless it is known to be harmless (:data:`SAFE_CONFIG_KEYS`)
or the operator allowed it at launch. Part of the policy (:mod:`codex_bridge.policy`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from .errors import InvalidSetting, PolicyRefused

__all__ = [
    "CONFIG_KEY",
    "SAFE_CONFIG_KEYS",
    "check_config_overrides",
    "check_operator_config",
]

CONFIG_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*$")
"""A config override key: dotted identifiers, nothing else (no quoting, no spaces)."""

_MAX_TEXT = 256
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/@+-]{0,127}$")
_PLAIN_TEXT = re.compile(r"^[^\x00-\x1f\x7f]*$")
_ValueCheck = Callable[[Any], str | None]
"""Returns what is wrong with a value, or None when it is acceptable."""


def _text(pattern: re.Pattern[str], what: str) -> _ValueCheck:
    def check(value: Any) -> str | None:
        if not isinstance(value, str) or len(value) > _MAX_TEXT or not pattern.match(value):
            return f"must be {what}"
        return None

    return check


def _choice(*choices: str) -> _ValueCheck:
    def check(value: Any) -> str | None:
        return None if value in choices else "must be one of " + ", ".join(choices)

    return check


def _integer(low: int, high: int) -> _ValueCheck:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            return f"must be a whole number from {low} to {high}"
        return None

    return check


def _flag(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _scalar(value: Any) -> str | None:
    """Keys an operator allowed at launch: one plain value, never a table or an array."""
    if isinstance(value, (bool, int)) and not (isinstance(value, int) and abs(value) > 2**53):
        return None
    if isinstance(value, float) and math.isfinite(value):
        return None
    if isinstance(value, str) and len(value) <= _MAX_TEXT and _PLAIN_TEXT.match(value):
        return None
    return f"must be a string (at most {_MAX_TEXT} characters), a number or a boolean"


_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
_TOKENS = _integer(1, 100_000_000)

SAFE_CONFIG_KEYS: Mapping[str, _ValueCheck] = {
    # Model and reasoning settings (codex-rs ConfigToml): they shape what the model does, never
    # what codex may run, read, write or contact. Anything naming a program, a file, an
    # endpoint, a provider, a credential, a permission, a sandbox or approval setting, a
    # profile or instructions is absent on purpose (mcp_servers, notify, model_provider(s),
    # shell_environment_policy, sandbox_*, approval_policy, permissions, profile(s),
    # model_instructions_file, chatgpt_base_url, openai_base_url, otel, history, hooks,
    # tools, features, project_doc_*, log_dir, sqlite_home, ...).
    "model": _text(_MODEL_NAME, "a model name"),
    "review_model": _text(_MODEL_NAME, "a model name"),
    "model_reasoning_effort": _choice(*_EFFORTS),
    "plan_mode_reasoning_effort": _choice(*_EFFORTS),
    "model_reasoning_summary": _choice("auto", "concise", "detailed", "none"),
    "model_verbosity": _choice("low", "medium", "high"),
    "model_supports_reasoning_summaries": _flag,
    "model_context_window": _TOKENS,
    "model_auto_compact_token_limit": _TOKENS,
    "tool_output_token_limit": _TOKENS,
    "hide_agent_reasoning": _flag,
    "show_raw_agent_reasoning": _flag,
    "personality": _choice("none", "friendly", "pragmatic"),
    "service_tier": _text(re.compile(r"^[a-z][a-z_-]{0,31}$"), "a service tier name"),
}
"""Config override keys any caller may send, with the check of their values."""


def check_config_overrides(
    overrides: Mapping[Any, Any], operator_keys: Collection[str] = ()
) -> dict[str, Any]:
    """``overrides`` when every key is allowed and every value fits it; else PolicyRefused.

    The allow-list is :data:`SAFE_CONFIG_KEYS` plus the keys the operator allowed at launch
    (``operator_keys``, whose values must be plain scalars)."""
    if not isinstance(overrides, Mapping):
        raise PolicyRefused(
            "config_overrides must be an object of {key: value}", field="config_overrides"
        )
    checked: dict[str, Any] = {}
    for key, value in overrides.items():
        if not isinstance(key, str) or not CONFIG_KEY.match(key):
            raise PolicyRefused(
                f"config override key {str(key)[:80]!r} is not a dotted identifier "
                "(letters, digits and _ separated by dots)",
                field="config_overrides",
            )
        check = SAFE_CONFIG_KEYS.get(key) or (_scalar if key in operator_keys else None)
        if check is None:
            allowed = sorted({*SAFE_CONFIG_KEYS, *operator_keys})
            raise PolicyRefused(
                f"config override {key!r} is not allowed on this server; allowed keys: "
                + ", ".join(allowed)
                + ". Sandbox and approval have their own checked arguments; other keys "
                "can be allowed only by the operator, at launch (--allow-config-key)",
                field="config_overrides",
            )
        problem = check(value)
        if problem is not None:
            raise PolicyRefused(f"config override {key!r} {problem}", field="config_overrides")
        checked[key] = value
    return checked


_POLICY_DECIDED = re.compile(
    r"^(sandbox_mode|sandbox_workspace_write|approval_policy|approvals_reviewer|permissions|"
    r"default_permissions|profiles?)(\.|$)"
)
"""Config keys the bridge decides for every call (or has its own option for)."""


def check_operator_config(config: Mapping[Any, Any]) -> dict[str, Any]:
    """The operator's launch defaults (``--config``): any dotted key but those the bridge's
    policy decides per call (sandbox, approval, permissions, profiles); else InvalidSetting."""
    if not isinstance(config, Mapping):
        raise InvalidSetting("default_config must be an object of {key: value}")
    for key in config:
        if not isinstance(key, str) or not CONFIG_KEY.match(key):
            raise InvalidSetting(f"config key {str(key)[:80]!r} is not a dotted identifier")
        if _POLICY_DECIDED.match(key):
            raise InvalidSetting(
                f"--config {key} would bypass the bridge's policy: use --default-sandbox, "
                "--sandbox-ceiling, --approval-ceiling or --profile instead"
            )
    return dict(config)
