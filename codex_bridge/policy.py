"""Server policy: what callers of the bridge may ask codex to do.

One policy serves the MCP server, the language server and the command line. It is built from
defaults, then ``CODEX_BRIDGE_*`` environment variables, then explicit overrides (flags,
``initializationOptions``, ``workspace/configuration``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Final, Literal

import msgspec
from platformdirs import user_data_dir

from codex_local_sdk import ApprovalPolicy, ReasoningEffort, SandboxMode

from .config_keys import (
    CONFIG_KEY,
    SAFE_CONFIG_KEYS,
    check_config_overrides,
    check_operator_config,
)
from .errors import InvalidRequest, InvalidSetting, PolicyRefused

__all__ = [
    "APPROVAL_RANK",
    "CONFIG_KEY",
    "MAX_WAIT_SECONDS",
    "OFF",
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

ENV_PREFIX = "CODEX_BRIDGE_"


class _Off:
    def __repr__(self) -> str:
        return "OFF"


OFF: Final = _Off()
"""An override meaning None (e.g. no idle timeout), where None means "not given"."""
MAX_WAIT_SECONDS = 3600.0
"""The longest a caller may wait for jobs in one call (the jobs keep running)."""
_MAX_PATH_LENGTH = 4096
_MAX_INSTRUCTIONS = 64 * 1024  # developer instructions travel on codex's command line

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

        Keys are the field names; ``None`` values in overrides are ignored, so a setting
        that may be None takes :data:`OFF` to mean None (``idle_timeout_seconds``). Raises
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
                merged[key] = None if value is OFF else value
        try:
            return msgspec.convert(merged, cls, strict=False)
        except (msgspec.ValidationError, ValueError) as exc:
            raise InvalidSetting(f"invalid policy: {exc}") from exc

    def offered_approvals(self) -> tuple[ApprovalPolicy, ...]:
        """The approval policies callers may ask for, strictest first."""
        ceiling = APPROVAL_RANK[self.approval_ceiling]
        return tuple(policy for policy, rank in APPROVAL_RANK.items() if rank <= ceiling)

    # ------------------------------------------------------------ decisions on a request
    def checked_sandbox(self, requested: SandboxMode | str | None) -> SandboxMode:
        """The sandbox a call runs in: ``requested`` (else the default), refused above the
        ceiling."""
        sandbox = SandboxMode(requested) if requested else self.default_sandbox
        if SANDBOX_RANK[sandbox] > SANDBOX_RANK[self.sandbox_ceiling]:
            ceiling = self.sandbox_ceiling.value
            raise PolicyRefused(
                f"sandbox {sandbox.value!r} is above this server's ceiling {ceiling!r}; "
                f"ask for {ceiling!r} or less",
                field="sandbox",
            )
        return sandbox

    def clamp_sandbox(self, wanted: SandboxMode) -> SandboxMode:
        """``wanted``, or the ceiling when that is lower (for a front end offering a sandbox
        of its own, e.g. an editor's "fix this" action that needs to write)."""
        if SANDBOX_RANK[wanted] > SANDBOX_RANK[self.sandbox_ceiling]:
            return self.sandbox_ceiling
        return wanted

    def may_write(self, requested: SandboxMode | str | None) -> bool:
        """Whether codex may write files in the sandbox a call asking for ``requested`` gets."""
        sandbox = SandboxMode(requested) if requested else self.default_sandbox
        return SANDBOX_RANK[sandbox] > SANDBOX_RANK[SandboxMode.READ_ONLY]

    def checked_approval(self, requested: str | None) -> ApprovalPolicy:
        """The approval policy a call runs with (``never`` unless asked), within the ceiling."""
        approval = ApprovalPolicy(requested) if requested else ApprovalPolicy.NEVER
        offered = self.offered_approvals()
        if approval not in offered:
            raise PolicyRefused(
                f"approval_policy {approval.value!r} is not allowed on this server; "
                f"ask for one of: {', '.join(p.value for p in offered)}",
                field="approval_policy",
            )
        return approval

    def checked_model(self, model: str | None) -> str | None:
        problem = None if model is None else SAFE_CONFIG_KEYS["model"](model)
        if problem is not None:
            raise PolicyRefused(f"model {problem}", field="model")
        return model or self.default_model

    def checked_overrides(self, overrides: Mapping[Any, Any]) -> dict[str, Any]:
        """A caller's config overrides on top of the operator's ``default_config``."""
        return {
            **self.default_config,
            **check_config_overrides(overrides, self.allowed_config_keys),
        }

    def checked_profile(self, profile: str | None) -> str | None:
        if profile is not None and "profile" not in self.allowed_config_keys:
            raise PolicyRefused(
                "profile is not allowed on this server: a codex profile can change the sandbox, "
                "the approval policy, the model provider and more. Use the model, sandbox and "
                "config_overrides arguments; the operator can allow profiles at launch "
                "(--allow-config-key profile)",
                field="profile",
            )
        return profile or self.default_profile

    def checked_network(self, requested: bool | None) -> bool | None:
        if requested and not self.allow_network:
            raise PolicyRefused(
                "network_access is not allowed on this server (the operator can allow it at "
                "launch with --allow-network)",
                field="network_access",
            )
        return requested

    @staticmethod
    def checked_instructions(name: str, text: str | None) -> str | None:
        if text is not None and (len(text) > _MAX_INSTRUCTIONS or "\x00" in text):
            raise InvalidRequest(
                f"{name} must be text of at most {_MAX_INSTRUCTIONS:,} characters", field=name
            )
        return text

    def timeouts(
        self, total: float | None, idle: float | None
    ) -> tuple[float, float | None, list[str]]:
        """(total, idle, notes) for a turn: the defaults for None, the total lowered to the
        maximum (with a note saying so)."""
        notes: list[str] = []
        total = self.default_timeout_seconds if total is None else total
        if total <= 0:
            raise InvalidRequest("timeout_seconds must be positive", field="timeout_seconds")
        if total > self.max_timeout_seconds:
            notes.append(
                f"timeout lowered from {total:g}s to the server maximum "
                f"{self.max_timeout_seconds:g}s"
            )
            total = self.max_timeout_seconds
        idle = self.idle_timeout_seconds if idle is None else idle
        if idle is not None and idle <= 0:
            raise InvalidRequest(
                "idle_timeout_seconds must be positive", field="idle_timeout_seconds"
            )
        return total, idle, notes

    @staticmethod
    def clamp_wait(seconds: float) -> float:
        """How long one call may wait for jobs: ``seconds`` within 0 and MAX_WAIT_SECONDS."""
        return min(max(seconds, 0.0), MAX_WAIT_SECONDS)

    def checked_path(
        self, path: str | None, *, what: str, kind: Literal["directory", "file"] = "directory"
    ) -> str:
        """``path`` (relative to the default cwd; None is the default cwd), symlinks resolved,
        when it lies inside the allowed roots and is an existing ``kind``.

        The roots are checked before anything looks at the file system beyond resolving, and
        a refusal names the path as given: it never tells whether a path outside the roots
        exists (nor where a symlink outside them points)."""
        shown = "the default cwd" if path is None else repr(path[:200])
        if path is not None and (
            not path or "\0" in path or len(path) > _MAX_PATH_LENGTH or not path.strip()
        ):
            raise PolicyRefused(
                f"{what} must be a non-empty path of at most {_MAX_PATH_LENGTH} characters",
                field=what,
            )
        base = self.default_cwd or os.getcwd()
        joined = base if path is None else os.path.join(base, os.path.expanduser(path))
        resolved = os.path.realpath(joined)
        roots = self.allowed_roots
        if roots and not any(Path(resolved).is_relative_to(root) for root in roots):
            raise PolicyRefused(
                f"{what} {shown} is outside the allowed roots; use a path inside one of: "
                + ", ".join(roots),
                field=what,
            )
        is_kind: Callable[[str], bool] = os.path.isdir if kind == "directory" else os.path.isfile
        if not is_kind(resolved):
            raise InvalidRequest(f"{what} {shown} is not an existing {kind}", field=what)
        return resolved

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
