"""``workspace/executeCommand`` arguments: one object, or positional strings.

An editor's command line can only pass strings, so every command also takes its main
arguments positionally, optionally followed by one object of named options::

    ["fix the bug"]                          codex.run
    ["fix the bug", {"wait": true}]          codex.run, answering when codex finishes
    ["my-session", "and now the docs"]       codex.resume (a session name or a thread id)
    [{"prompt": "fix the bug", "cwd": "src"}]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import InvalidRequest
from ..rendering import is_thread_id
from ..wire import check_arguments

__all__ = ["named_arguments", "pop_flag", "split_target"]


def named_arguments(
    command: str, arguments: Sequence[Any] | None, positional: Sequence[str] = ()
) -> dict[str, Any]:
    """The arguments of ``command`` as one dict of named values."""
    values = list(arguments or [])
    named: dict[str, Any] = {}
    if values and isinstance(values[-1], dict):
        named = dict(values.pop())
    if any(isinstance(value, dict) for value in values):
        raise InvalidRequest(f"{command}: only the last argument may be an object")
    if len(values) > len(positional):
        expected = ", ".join(positional) or "no positional arguments"
        raise InvalidRequest(
            f"{command} takes at most {len(positional)} positional argument(s) "
            f"({expected}), got {len(values)}"
        )
    for name, value in zip(positional, values, strict=False):
        if not isinstance(value, str):
            raise InvalidRequest(f"{command}: {name} must be a string, got {type(value).__name__}")
        if name in named:
            raise InvalidRequest(f"{command}: {name} given both positionally and by name")
        named[name] = value
    check_arguments(command, named)
    return named


def split_target(command: str, named: dict[str, Any]) -> None:
    """Turn a positional ``target`` into ``thread_id`` (a UUID) or ``session_name``."""
    target = named.pop("target", None)
    if target is None:
        return
    key = "thread_id" if is_thread_id(target) else "session_name"
    if key in named:
        raise InvalidRequest(f"{command}: {key} given both positionally and by name")
    named[key] = target


def pop_flag(command: str, named: dict[str, Any], name: str) -> bool:
    """Remove a boolean option that belongs to the language server, not to the service."""
    value = named.pop(name, False)
    if not isinstance(value, bool):
        raise InvalidRequest(f"{command}: {name} must be true or false")
    return value
