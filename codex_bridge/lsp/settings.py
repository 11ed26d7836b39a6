"""Editor settings → the policy the language server runs under.

Settings come from ``initializationOptions``, overridden by ``workspace/configuration``
section ``codex``. Keys are the :class:`~codex_bridge.policy.BridgePolicy` field names
(``sandbox_ceiling``, ``allowed_roots``, ``default_timeout_seconds``, ``max_concurrency``,
``store_path``, ...), in snake_case or camelCase, plus the language server's own options.

Editor settings can live in a workspace's own files (``.vscode/settings.json``, ``.dir-locals.el``),
so every field may narrow the policy the server was launched with but never widen it: the
sandbox and approval ceilings, the allowed roots and the default cwd stay within the launch
policy, timeouts, concurrency and job limits are at most the launch values, config keys a
subset of the launch ones, network access only where the launch allowed it, and the codex
executable, the session store and the codex defaults (model, reasoning effort, profile, config)
are only chosen where the server is launched.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from codex_local_sdk import SandboxMode

from ..errors import InvalidSetting
from ..policy import APPROVAL_RANK, SANDBOX_RANK, BridgePolicy

__all__ = ["EditorSettings", "editor_settings", "normalise"]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class EditorSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The policy to run under, the language server's own options, and what was adjusted."""

    policy: BridgePolicy
    show_transcript: bool = True
    """Open a live transcript of each run with ``window/showDocument``."""
    review: bool = True
    """Runs that may write work on an isolated copy; their changes come back as one
    reviewable ``workspace/applyEdit`` (see ``codex_bridge.lsp.review``)."""
    share_unsaved_buffers: bool = False
    """Give codex the unsaved text of open buffers inside the allowed roots."""
    notes: tuple[str, ...] = ()
    """Adjustments the user should see."""
    ignored: tuple[str, ...] = ()
    """Unknown keys: logged, not shown (clients pass their own options along)."""


def normalise(raw: Any) -> dict[str, Any]:
    """A settings object as a flat dict with snake_case keys (``{"codex": {...}}`` unwrapped)."""
    if not isinstance(raw, Mapping):
        return {}
    if isinstance(raw.get("codex"), Mapping):
        raw = raw["codex"]
    return {_CAMEL.sub("_", str(key)).lower(): value for key, value in raw.items()}


def editor_settings(launch: BridgePolicy, options: Mapping[str, Any]) -> EditorSettings:
    """Apply ``options`` (already :func:`normalise`-d) to the launch policy.

    Raises :class:`InvalidSetting` when the result is not a valid policy."""
    options = dict(options)
    notes: list[str] = []
    flags: dict[str, bool] = {}
    for key, default in _FLAGS.items():
        value = options.pop(key, default)
        if not isinstance(value, bool):
            raise InvalidSetting(f"{key} must be true or false")
        flags[key] = value
    for key, where in _LAUNCH_ONLY.items():
        if options.pop(key, None) is not None:
            notes.append(
                f"{key} is ignored in editor settings: set it where the server is launched "
                f"({where})"
            )
    ignored: list[str] = []
    for key in sorted(set(options) - set(BridgePolicy.__struct_fields__)):
        ignored.append(f"unknown setting {key!r} ignored")
        del options[key]
    _cap_sandboxes(launch, options, notes)
    _cap_approval(launch, options, notes)
    _narrow_roots(launch, options, notes)
    _narrow_default_cwd(launch, options, notes)
    _cap_limits(launch, options, notes)
    _narrow_config_keys(launch, options, notes)
    _narrow_network(launch, options, notes)
    policy = BridgePolicy.from_sources(options, env={}, base=launch)
    return EditorSettings(policy=policy, notes=tuple(notes), ignored=tuple(ignored), **flags)


_FLAGS = {"show_transcript": True, "review": True, "share_unsaved_buffers": False}
"""The language server's own on/off settings and their defaults."""


_LAUNCH_ONLY = {
    "codex_bin": "--codex-bin or CODEX_BRIDGE_CODEX_BIN",
    "store_path": "--store or CODEX_BRIDGE_STORE_PATH",
    "default_model": "--model or CODEX_BRIDGE_DEFAULT_MODEL",
    "default_reasoning_effort": "--reasoning-effort or CODEX_BRIDGE_DEFAULT_REASONING_EFFORT",
    "default_profile": "--profile or CODEX_BRIDGE_DEFAULT_PROFILE",
    "default_config": "--config or CODEX_BRIDGE_DEFAULT_CONFIG",
}


def _narrow_network(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    if options.get("allow_network") and not launch.allow_network:
        notes.append("allow_network is off where the server was launched; it stays off")
        options["allow_network"] = False


def _cap_approval(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    value = options.get("approval_ceiling")
    ceiling = launch.approval_ceiling
    if value is None:
        return
    rank = next((r for p, r in APPROVAL_RANK.items() if p.value == value), None)
    if rank is None or rank > APPROVAL_RANK[ceiling]:
        notes.append(
            f"approval_ceiling {value!r} is not within the server's launch ceiling "
            f"{ceiling.value!r}; using {ceiling.value!r}"
        )
        options["approval_ceiling"] = ceiling.value


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _cap_limits(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    """Numeric limits: at most the launch value (a bad type is left for BridgePolicy)."""
    caps: dict[str, float | None] = {
        "default_timeout_seconds": launch.max_timeout_seconds,
        "max_timeout_seconds": launch.max_timeout_seconds,
        "idle_timeout_seconds": launch.idle_timeout_seconds,
        "max_concurrency": launch.max_concurrency,
        "max_finished_jobs": launch.max_finished_jobs,
        "max_depth": launch.max_depth,
    }
    for key, cap in caps.items():
        if key not in options or cap is None:
            continue
        value = options[key]
        if value is None or value in ("off", "none") or (_is_number(value) and value > cap):
            notes.append(f"{key} {value!r} is above the server's launch limit; using {cap:g}")
            options[key] = cap


def _narrow_default_cwd(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    cwd = options.get("default_cwd")
    if cwd is None or not launch.allowed_roots:
        return
    if not isinstance(cwd, str) or not _inside(cwd, launch.allowed_roots):
        notes.append(f"default_cwd {cwd!r} is outside the server's launch roots; ignored")
        del options["default_cwd"]


def _narrow_config_keys(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    keys = options.get("allowed_config_keys")
    if keys is None:
        return
    if isinstance(keys, str):
        keys = [keys]
    if not isinstance(keys, list):
        notes.append("allowed_config_keys must be a list of keys; ignored")
        del options["allowed_config_keys"]
        return
    kept = [key for key in keys if key in launch.allowed_config_keys]
    if len(kept) < len(keys):
        notes.append(
            "allowed_config_keys not allowed at launch ignored: "
            + ", ".join(str(key) for key in keys if key not in kept)
        )
    options["allowed_config_keys"] = kept


def _inside(path: str, roots: tuple[str, ...]) -> bool:
    resolved = Path(os.path.realpath(os.path.expanduser(path)))
    return any(resolved.is_relative_to(root) for root in roots)


def _cap_sandboxes(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    ceiling = launch.sandbox_ceiling
    for key in ("sandbox_ceiling", "default_sandbox"):
        value = options.get(key)
        try:
            mode = SandboxMode(value)
        except ValueError:
            continue  # None, or a bad value that BridgePolicy reports
        if SANDBOX_RANK[mode] > SANDBOX_RANK[ceiling]:
            notes.append(
                f"{key} {mode.value!r} is above the server's launch ceiling "
                f"{ceiling.value!r}; using {ceiling.value!r}"
            )
            options[key] = ceiling.value
    lowered = options.get("sandbox_ceiling")
    if lowered is not None and options.get("default_sandbox") is None:
        try:
            if SANDBOX_RANK[launch.default_sandbox] > SANDBOX_RANK[SandboxMode(lowered)]:
                options["default_sandbox"] = lowered
        except ValueError:
            pass


def _narrow_roots(launch: BridgePolicy, options: dict[str, Any], notes: list[str]) -> None:
    roots = options.get("allowed_roots")
    if roots is None or not launch.allowed_roots:
        return
    if isinstance(roots, str):
        roots = [roots]
    if not isinstance(roots, list):
        return  # BridgePolicy reports the bad type
    kept = [root for root in roots if isinstance(root, str) and _inside(root, launch.allowed_roots)]
    if len(kept) < len(roots):
        notes.append(
            "allowed_roots outside the server's launch roots ignored: "
            + ", ".join(str(root) for root in roots if root not in kept)
        )
    options["allowed_roots"] = kept or list(launch.allowed_roots)
