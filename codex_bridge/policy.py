"""Server policy: what callers of the bridge may ask codex to do.

One policy serves the MCP server, the language server and the command line. It is built from
defaults, then ``CODEX_BRIDGE_*`` environment variables, then explicit overrides (flags,
``initializationOptions``, ``workspace/configuration``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
from platformdirs import user_data_dir

from codex_local_sdk import SandboxMode

__all__ = ["SANDBOX_RANK", "BridgePolicy", "PolicyError", "default_store_path"]

SANDBOX_RANK = {
    SandboxMode.READ_ONLY: 0,
    SandboxMode.WORKSPACE_WRITE: 1,
    SandboxMode.DANGER_FULL_ACCESS: 2,
}

ENV_PREFIX = "CODEX_BRIDGE_"


class PolicyError(ValueError):
    """A policy setting is invalid."""


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
                raise PolicyError(f"{name} must be one of {choices}, not {value!r}") from None
        if SANDBOX_RANK[self.default_sandbox] > SANDBOX_RANK[self.sandbox_ceiling]:
            raise PolicyError(
                f"default sandbox {self.default_sandbox.value!r} exceeds the ceiling "
                f"{self.sandbox_ceiling.value!r}"
            )
        if self.max_concurrency < 1:
            raise PolicyError("max_concurrency must be at least 1")
        if self.default_timeout_seconds <= 0 or self.max_timeout_seconds <= 0:
            raise PolicyError("timeouts must be positive")
        if self.engine_idle_seconds <= 0 or self.approval_timeout_seconds <= 0:
            raise PolicyError("engine_idle_seconds and approval_timeout_seconds must be positive")
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
        :class:`PolicyError` with a readable message on a bad value or unknown key.
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
            raise PolicyError(f"invalid policy: {exc}") from exc

    def describe(self) -> dict[str, Any]:
        data: dict[str, Any] = msgspec.to_builtins(self)
        return data


def _from_env(field: str, raw: str) -> Any:
    if field == "allowed_roots":
        return [part for part in raw.split(os.pathsep) if part]
    if field == "idle_timeout_seconds" and raw.lower() in ("none", "off", "0"):
        return None
    return raw
