"""Editor settings → the policy the language server runs under.

Settings come from ``initializationOptions``, overridden by ``workspace/configuration``
section ``codex``. Keys are the :class:`~codex_bridge.policy.BridgePolicy` field names
(``sandbox_ceiling``, ``allowed_roots``, ``default_timeout_seconds``, ``max_concurrency``,
``store_path``, ...), in snake_case or camelCase, plus the language server's own options.

Editor settings can live in a workspace's own files (``.vscode/settings.json``, ``.dir-locals.el``),
so they may narrow the policy the server was launched with but never widen it: the sandbox
ceiling and the allowed roots stay within the launch policy, and the codex executable is
only chosen where the server is launched.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec

from codex_local_sdk import SandboxMode

from ..policy import SANDBOX_RANK, BridgePolicy, PolicyError

__all__ = ["EditorSettings", "editor_settings", "normalise"]

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")


class EditorSettings(msgspec.Struct, kw_only=True, frozen=True):
    """The policy to run under, the language server's own options, and what was adjusted."""

    policy: BridgePolicy
    show_transcript: bool = True
    """Open a transcript of each finished run with ``window/showDocument``."""
    notes: tuple[str, ...] = ()


def normalise(raw: Any) -> dict[str, Any]:
    """A settings object as a flat dict with snake_case keys (``{"codex": {...}}`` unwrapped)."""
    if not isinstance(raw, Mapping):
        return {}
    if isinstance(raw.get("codex"), Mapping):
        raw = raw["codex"]
    return {_CAMEL.sub("_", str(key)).lower(): value for key, value in raw.items()}


def editor_settings(launch: BridgePolicy, options: Mapping[str, Any]) -> EditorSettings:
    """Apply ``options`` (already :func:`normalise`-d) to the launch policy.

    Raises :class:`PolicyError` when the result is not a valid policy."""
    options = dict(options)
    notes: list[str] = []
    show_transcript = options.pop("show_transcript", True)
    if not isinstance(show_transcript, bool):
        raise PolicyError("show_transcript must be true or false")
    if options.pop("codex_bin", None) is not None:
        notes.append(
            "codex_bin is ignored in editor settings: set it where the server is launched "
            "(--codex-bin or CODEX_BRIDGE_CODEX_BIN)"
        )
    for key in sorted(set(options) - set(BridgePolicy.__struct_fields__)):
        notes.append(f"unknown setting {key!r} ignored")
        del options[key]
    _cap_sandboxes(launch, options, notes)
    _narrow_roots(launch, options, notes)
    policy = BridgePolicy.from_sources(options, env={}, base=launch)
    return EditorSettings(policy=policy, show_transcript=show_transcript, notes=tuple(notes))


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
    kept = [
        root
        for root in roots
        if isinstance(root, str)
        and any(
            Path(root).expanduser().resolve().is_relative_to(base) for base in launch.allowed_roots
        )
    ]
    if len(kept) < len(roots):
        notes.append(
            "allowed_roots outside the server's launch roots ignored: "
            + ", ".join(str(root) for root in roots if root not in kept)
        )
    options["allowed_roots"] = kept or list(launch.allowed_roots)
