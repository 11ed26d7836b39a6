"""The flags of ``run``, ``resume`` and ``fork``: one table of flag → params field.

An operation takes a flag when its params Struct (from :data:`~codex_bridge.service.OPERATIONS`)
has the field, and the flag's help is the field's description, the same words MCP clients
and the language server's documentation show. Only where the command line's form differs
from the field's (a file instead of an object, ``KEY=VALUE`` pairs, a switch instead of a
boolean) does a flag say it its own way.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any, Literal

from codex_local_sdk import ReasoningEffort, ReasoningSummary, WebSearchMode

from ..errors import InvalidRequest
from ..launch import APPROVALS, SANDBOXES, config_pair, positive_seconds
from ..rendering import field_description
from ..service import OPERATIONS, BridgeService

__all__ = ["Operation", "add_flags", "params_data"]

Operation = Literal["run", "resume", "fork"]
_Group = Literal["request", "codex options"]


@dataclass(frozen=True)
class _Flag:
    fields: tuple[str, ...]
    """The params field it sets: the first of these the operation's Struct has."""
    flags: tuple[str, ...]
    group: _Group = "request"
    options: dict[str, Any] = field(default_factory=dict)
    """argparse options (``dest`` is the field)."""
    help: str | None = None
    """Only where the field's description does not fit the command line."""
    value: Callable[[Any, BridgeService | None], Any] | None = None
    """The field's value from the parsed flag (default: as parsed)."""
    only: tuple[Operation, ...] = ()
    """Offered by these operations alone (default: every one whose Struct has the field)."""


def _choices(values: list[str], metavar: str) -> dict[str, Any]:
    return {"choices": values, "metavar": metavar}


def _enum(kind: type[Enum], metavar: str) -> dict[str, Any]:
    return _choices([str(e.value) for e in kind], metavar)


def _schema_file(path: str | None, service: BridgeService | None) -> dict[str, Any] | None:
    """The output schema in file ``path``; with ``service``, read only when the policy lets
    the bridge read that file."""
    if path is None:
        return None
    if service is not None:
        path = service.checked_file(path, what="output schema")
    try:
        schema = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise InvalidRequest(f"cannot read the output schema {path!r}: {exc.strerror}") from None
    except ValueError as exc:
        raise InvalidRequest(f"the output schema {path!r} is not valid JSON: {exc}") from None
    if not isinstance(schema, dict):
        raise InvalidRequest(f"the output schema {path!r} must be a JSON object")
    return schema


_APPEND: dict[str, Any] = {"action": "append", "default": []}
_SECONDS: dict[str, Any] = {"type": positive_seconds, "metavar": "SECONDS"}

_FLAGS = (
    _Flag(
        ("new_session_name", "session_name"),  # fork's session_name is its source
        ("--session",),
        options={"metavar": "NAME"},
        help="record the new thread as session NAME",
        only=("run", "fork"),
    ),
    _Flag(
        ("replace_session",),
        ("--replace",),
        options={"action": "store_true"},
        help="point an existing session NAME at the new thread (else refused)",
    ),
    _Flag(("cwd",), ("-C", "--cd"), options={"metavar": "DIR"}),
    _Flag(("model",), ("-m", "--model")),
    _Flag(("sandbox",), ("-s", "--sandbox"), options=_choices(SANDBOXES, "MODE")),
    _Flag(
        ("approval_policy",),
        ("--approval-policy",),
        options=_choices(APPROVALS, "POLICY"),
        help="when codex asks before acting: " + ", ".join(APPROVALS) + " (default: never)",
    ),
    _Flag(
        ("config_overrides",),
        ("-c", "--config"),
        options={"metavar": "KEY=VALUE", "type": config_pair, **_APPEND},
        help="codex config override; VALUE is parsed as TOML (repeatable)",
        value=lambda pairs, _: dict(pairs),
    ),
    _Flag(("images",), ("-i", "--image"), options={"metavar": "FILE", **_APPEND}),
    _Flag(
        ("output_schema",),
        ("--output-schema",),
        options={"metavar": "FILE"},
        help="JSON Schema file the final message must follow",
        value=_schema_file,
    ),
    _Flag(
        ("profile",),
        ("-p", "--profile"),
        help="a profile from the Codex config.toml (needs --allow-config-key profile)",
    ),
    _Flag(("add_dirs",), ("--add-dir",), options={"metavar": "DIR", **_APPEND}),
    _Flag(
        ("reasoning_effort",),
        ("--reasoning-effort",),
        "codex options",
        _enum(ReasoningEffort, "EFFORT"),
    ),
    _Flag(
        ("reasoning_summary",),
        ("--reasoning-summary",),
        "codex options",
        _enum(ReasoningSummary, "SUMMARY"),
    ),
    _Flag(("web_search",), ("--web-search",), "codex options", _enum(WebSearchMode, "MODE")),
    _Flag(
        ("network_access",),
        ("--network",),
        "codex options",
        {"action": "store_true"},
        help="let commands use the network in the workspace-write sandbox (needs --allow-network)",
        value=lambda wanted, _: wanted or None,
    ),
    _Flag(
        ("developer_instructions",),
        ("--developer-instructions",),
        "codex options",
        {"metavar": "TEXT"},
    ),
    _Flag(("base_instructions",), ("--base-instructions",), "codex options", {"metavar": "TEXT"}),
    _Flag(("timeout_seconds",), ("--timeout",), options=_SECONDS),
    _Flag(("idle_timeout_seconds",), ("--idle-timeout",), options=_SECONDS),
)


def _field(flag: _Flag, operation: Operation) -> str | None:
    """The field ``flag`` sets for ``operation``, or None when the operation has no such flag."""
    if flag.only and operation not in flag.only:
        return None
    names = OPERATIONS[operation].params.__struct_fields__
    return next((name for name in flag.fields if name in names), None)


def add_flags(operation: Operation, groups: dict[_Group, argparse._ArgumentGroup]) -> None:
    """Add the flags ``operation`` takes to their argument groups."""
    params = OPERATIONS[operation].params
    for flag in _FLAGS:
        name = _field(flag, operation)
        if name is None:
            continue
        help_text = flag.help or _help(field_description(params, name), flag.options)
        groups[flag.group].add_argument(*flag.flags, dest=name, help=help_text, **flag.options)


def _help(description: str | None, options: dict[str, Any]) -> str | None:
    """A field's description as flag help: lower case first, no final full stop, and the
    choices when the metavar hides them."""
    if description is None:
        return None
    text = description[0].lower() + description[1:]
    text = text.removesuffix(".")
    if "choices" in options and not all(choice in text for choice in options["choices"]):
        text += f": {', '.join(options['choices'])}"
    return text


def params_data(
    operation: Operation, args: argparse.Namespace, service: BridgeService | None
) -> dict[str, Any]:
    """The params fields the flags of ``operation`` set (those given)."""
    data: dict[str, Any] = {}
    for flag in _FLAGS:
        name = _field(flag, operation)
        if name is None:
            continue
        value = getattr(args, name)
        if flag.value is not None:
            value = flag.value(value, service)
        data[name] = value
    return data
