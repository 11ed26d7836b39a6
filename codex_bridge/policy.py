"""Server policy: what callers of the bridge may ask codex to do.

One policy serves the MCP server, the language server and the command line. It is built from
defaults, then ``CODEX_BRIDGE_*`` environment variables, then explicit overrides (flags,
``initializationOptions``, ``workspace/configuration``).
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
from platformdirs import user_data_dir

from codex_local_sdk import ApprovalPolicy, ReasoningEffort, SandboxMode

from .errors import InvalidSetting, PolicyRefused

__all__ = [
    "APPROVAL_RANK",
    "CONFIG_KEY",
    "SAFE_CONFIG_KEYS",
    "SANDBOX_RANK",
    "BridgePolicy",
    "InvalidSetting",
    "PolicyError",
    "check_config_overrides",
    "check_operator_config",
    "default_store_path",
]

SANDBOX_RANK = {
    SandboxMode.READ_ONLY: 0,
    SandboxMode.WORKSPACE_WRITE: 1,
    SandboxMode.DANGER_FULL_ACCESS: 2,
}

APPROVAL_RANK = {
    ApprovalPolicy.NEVER: 0,  # codex never asks to leave the sandbox
    ApprovalPolicy.ON_FAILURE: 1,  # only after a sandboxed command failed
    ApprovalPolicy.ON_REQUEST: 2,  # whenever the model asks
}
"""The approval policies the bridge offers, strictest first. ``untrusted`` is not among them:
``codex exec`` (0.163 and 0.169) refuses it ("no longer supported")."""

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


ENV_PREFIX = "CODEX_BRIDGE_"

PolicyError = InvalidSetting
"""The name adapters knew (it was a ValueError of its own); use :class:`InvalidSetting`."""


def default_store_path() -> str:
    """The session store shared by the SDK, the CLI and both servers."""
    return str(Path(user_data_dir("codex-bridge", appauthor=False)) / "sessions.json")


class BridgePolicy(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Limits and defaults enforced by the bridge service."""

    default_sandbox: SandboxMode = SandboxMode.READ_ONLY
    """Sandbox for calls that name none."""
    sandbox_ceiling: SandboxMode = SandboxMode.WORKSPACE_WRITE
    """The most permissive sandbox a caller may ask for. ``danger-full-access`` is refused
    unless the ceiling is raised to it."""
    approval_ceiling: ApprovalPolicy = ApprovalPolicy.ON_REQUEST
    """The most permissive approval policy a caller may ask for (never < on-failure <
    on-request); calls that name none get ``never``."""
    allowed_config_keys: tuple[str, ...] = ()
    """Config override keys callers may send beyond the built-in harmless ones (values must
    be plain scalars). Set at launch only."""
    allowed_roots: tuple[str, ...] = ()
    """Working directories must lie under one of these (empty: anywhere)."""
    default_cwd: str | None = None
    """Working directory for calls that name none (default: the server's cwd)."""
    default_timeout_seconds: float = 900.0
    max_timeout_seconds: float = 3600.0
    idle_timeout_seconds: float | None = 600.0
    max_concurrency: int = 2
    """Live codex processes at once; further runs queue."""
    store_path: str = msgspec.field(default_factory=default_store_path)
    codex_bin: str | None = None
    max_finished_jobs: int = 200
    max_depth: int = 1
    """Refuse to start codex when this bridge runs inside this many codex runs that bridges
    started (1: a codex started by the bridge cannot use the bridge to start another)."""
    allow_network: bool = False
    """Let callers ask for network access (``network_access``) in the workspace-write sandbox."""
    default_model: str | None = None
    """Model for calls that name none (default: codex's configuration)."""
    default_reasoning_effort: ReasoningEffort | None = None
    """Reasoning effort for calls that name none."""
    default_profile: str | None = None
    """A codex config profile for new threads (``codex exec resume`` takes none)."""
    default_config: dict[str, Any] = msgspec.field(default_factory=dict)
    """Codex config overrides for every call, set at launch (``--config``); never the
    settings the policy decides."""
    engine: Literal["auto", "app-server", "exec"] = "auto"
    """Where turns run: warm ``codex app-server``s (``auto``, ``app-server``; exec when codex
    cannot serve app-server) or a ``codex exec`` per turn."""
    engine_idle_seconds: float = 600.0
    """A warm app-server without turns for this long is closed."""
    approval_timeout_seconds: float = 120.0
    """An approval request nobody answers is declined after this long."""

    def __post_init__(self) -> None:
        for name in ("default_sandbox", "sandbox_ceiling"):  # accept "read-only" etc. too
            value: object = getattr(self, name)
            try:
                msgspec.structs.force_setattr(self, name, SandboxMode(str(value)))
            except ValueError:
                choices = ", ".join(mode.value for mode in SandboxMode)
                raise InvalidSetting(f"{name} must be one of {choices}, not {value!r}") from None
        try:
            approval = ApprovalPolicy(str(self.approval_ceiling))
        except ValueError:
            approval = None
        if approval not in APPROVAL_RANK:
            choices = ", ".join(policy.value for policy in APPROVAL_RANK)
            raise InvalidSetting(
                f"approval_ceiling must be one of {choices}, not {self.approval_ceiling!r}"
            )
        msgspec.structs.force_setattr(self, "approval_ceiling", approval)
        msgspec.structs.force_setattr(
            self, "default_config", check_operator_config(self.default_config)
        )
        if self.default_reasoning_effort is not None:
            try:
                effort = ReasoningEffort(str(self.default_reasoning_effort))
            except ValueError:
                choices = ", ".join(e.value for e in ReasoningEffort)
                raise InvalidSetting(f"default_reasoning_effort must be one of {choices}") from None
            msgspec.structs.force_setattr(self, "default_reasoning_effort", effort)
        for key in self.allowed_config_keys:
            if not CONFIG_KEY.match(key):
                raise InvalidSetting(f"allowed config key {key!r} is not a dotted identifier")
        if SANDBOX_RANK[self.default_sandbox] > SANDBOX_RANK[self.sandbox_ceiling]:
            raise InvalidSetting(
                f"default sandbox {self.default_sandbox.value!r} exceeds the ceiling "
                f"{self.sandbox_ceiling.value!r}"
            )
        if self.max_depth < 0:
            raise InvalidSetting("max_depth must be 0 or more")
        if self.max_concurrency < 1:
            raise InvalidSetting("max_concurrency must be at least 1")
        if self.default_timeout_seconds <= 0 or self.max_timeout_seconds <= 0:
            raise InvalidSetting("timeouts must be positive")
        if self.engine_idle_seconds <= 0 or self.approval_timeout_seconds <= 0:
            raise InvalidSetting(
                "engine_idle_seconds and approval_timeout_seconds must be positive"
            )
        roots = tuple(str(Path(root).expanduser().resolve()) for root in self.allowed_roots)
        msgspec.structs.force_setattr(self, "allowed_roots", roots)
        msgspec.structs.force_setattr(self, "store_path", str(Path(self.store_path).expanduser()))

    @classmethod
    def from_sources(
        cls,
        overrides: Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        base: BridgePolicy | None = None,
    ) -> BridgePolicy:
        """Defaults (or ``base``) ← ``CODEX_BRIDGE_*`` environment ← ``overrides``.

        Keys are the field names; ``None`` values in overrides are ignored. Raises
        :class:`InvalidSetting` with a readable message on a bad value or unknown key.
        """
        merged: dict[str, Any] = msgspec.to_builtins(base) if base is not None else {}
        source = os.environ if env is None else env
        for field in cls.__struct_fields__:
            raw = source.get(ENV_PREFIX + field.upper())
            if raw not in (None, ""):
                merged[field] = _from_env(field, raw)
        for key, value in (overrides or {}).items():
            if value is not None:
                merged[key] = value
        try:
            return msgspec.convert(merged, cls, strict=False)
        except (msgspec.ValidationError, ValueError) as exc:
            raise InvalidSetting(f"invalid policy: {exc}") from exc

    def offered_approvals(self) -> tuple[ApprovalPolicy, ...]:
        """The approval policies callers may ask for, strictest first."""
        ceiling = APPROVAL_RANK[self.approval_ceiling]
        return tuple(policy for policy, rank in APPROVAL_RANK.items() if rank <= ceiling)

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


def _from_env(field: str, raw: str) -> Any:
    if field == "allowed_roots":
        return [part for part in raw.split(os.pathsep) if part]
    if field == "allowed_config_keys":
        return [part for part in re.split(r"[\s,]+", raw) if part]
    if field == "idle_timeout_seconds" and raw.lower() in ("none", "off", "0"):
        return None
    if field == "default_config":
        try:
            return json.loads(raw)
        except ValueError:
            raise InvalidSetting(
                f"{ENV_PREFIX}DEFAULT_CONFIG must be a JSON object of {{key: value}}"
            ) from None
    return raw
