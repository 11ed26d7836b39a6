"""Protocol robustness shared by the MCP and LSP adapters: every request gets an answer.

The upstream libraries drop some malformed requests without a word: the ``mcp`` SDK ignores a
line that does not validate (invalid JSON, a batch, a lone surrogate, deep nesting, an
over-long integer id, ``params`` that is not an object), and pygls 2.1 never answers a request
whose JSON or params do not parse. A client then waits forever. :func:`inspect_message` looks
at every incoming message first, so that the adapter can answer what the library would drop
with a JSON-RPC error that says what is wrong; :func:`check_arguments` refuses tool and
command arguments that no codex invocation can carry (NUL bytes, paths longer than the system
takes, absurdly long names) before they reach the service.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .errors import InvalidRequest

__all__ = [
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "MAX_DEPTH",
    "PARSE_ERROR",
    "Refused",
    "check_arguments",
    "inspect_message",
]

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted in one message (a JSON Schema for
``output_schema`` needs a dozen levels; nothing legitimate needs 64)."""

_MAX_ID_DIGITS = 18  # fits a signed 64-bit integer, as every JSON-RPC library expects
_MAX_PATH_BYTES = 4095  # PATH_MAX - 1: no system call takes a longer path
_MAX_NAME_BYTES = 255  # NAME_MAX: the longest file name, i.e. path component
_MAX_IDENTIFIER_CHARS = 1024
_PATH_FIELDS = frozenset({"cwd", "add_dirs", "images", "output_schema"})
# Free text: it travels on codex's stdin (or inside a JSON document), never on a command line.
_TEXT_FIELDS = frozenset({"prompt", "output_schema", "config_overrides"})
# Instructions: text, but one that travels on codex's command line (the service caps it).
_INSTRUCTION_FIELDS = frozenset(
    {
        "developer_instructions",
        "base_instructions",
        "developer-instructions",
        "base-instructions",
        "developerInstructions",
        "baseInstructions",
    }
)
_MAX_INSTRUCTION_CHARS = 64 * 1024
_SURROGATE = re.compile("[\ud800-\udfff]")
_ID_SCAN = re.compile(rb'"id"\s*:\s*(-?\d{1,18}(?![\d.eE])|"(?:[^"\\]|\\.){0,200}")')


@dataclass(frozen=True)
class Refused:
    """A message the adapter must answer itself (``request_id`` None: answer with null)."""

    code: int
    message: str
    request_id: int | str | None
    is_request: bool

    def response(self) -> dict[str, Any]:
        return {
            "jsonrpc": "2.0",
            "id": self.request_id,
            "error": {"code": self.code, "message": self.message},
        }


def inspect_message(raw: bytes | str) -> tuple[Any, Refused | None]:
    """Parse one JSON-RPC message; ``(data, None)`` when the library may have it.

    Refused: invalid JSON (invalid UTF-8 included), NaN/Infinity or out-of-range numbers,
    nesting deeper than :data:`MAX_DEPTH`, lone surrogates, batches, a non-object, an id that is
    not a string or a 64-bit integer, a method that is not a string, params that are not an
    object (neither MCP nor LSP has a method taking positional params).
    ``is_request`` tells whether the sender waits for an answer (notifications never get one).
    """
    try:
        data = json.loads(raw, parse_constant=_no_constant, parse_int=_bounded_int)
    except RecursionError:
        return None, _refuse_unparsed(raw, f"nesting deeper than {MAX_DEPTH} levels")
    except (ValueError, TypeError) as exc:  # JSONDecodeError, UnicodeDecodeError, ours
        return None, _refuse_unparsed(raw, str(exc))
    if isinstance(data, list):
        ids = [item.get("id") for item in data if isinstance(item, dict)]
        request_id = _valid_id(ids[0]) if len(ids) == 1 else None
        what = "an empty batch" if not data else "a batch"
        return data, Refused(
            INVALID_REQUEST,
            f"Invalid request: {what}; JSON-RPC batches are not supported, send one message "
            "per request",
            request_id,
            True,
        )
    if not isinstance(data, dict):
        return data, Refused(
            INVALID_REQUEST,
            f"Invalid request: a message must be a JSON object, not {_json_type(data)}",
            None,
            True,
        )
    has_id = "id" in data
    request_id = _valid_id(data.get("id"))
    is_request = "method" in data and has_id
    problem = _structure_problem(data)
    if problem is None:
        problem = _content_problem(data)
    if problem is not None:
        code, message = problem
        if has_id and request_id is None and data.get("id") is not None:
            message += "; the id must be a string or an integer of at most 18 digits"
        # An id with neither method nor result/error: a malformed request, so answer it.
        waits = is_request or (has_id and not {"method", "result", "error"} & data.keys())
        return data, Refused(code, message, request_id, waits)
    return data, None


def _structure_problem(data: dict[str, Any]) -> tuple[int, str] | None:
    if data.get("jsonrpc") != "2.0":
        return INVALID_REQUEST, 'Invalid request: "jsonrpc" must be "2.0"'
    if "id" in data and _valid_id(data["id"]) is None:
        return INVALID_REQUEST, f"Invalid request: bad id ({_json_type(data['id'])})"
    if "method" in data:
        if not isinstance(data["method"], str):
            return INVALID_REQUEST, 'Invalid request: "method" must be a string'
        params = data.get("params")
        if params is not None and not isinstance(params, dict):
            return INVALID_PARAMS, (
                f"Invalid params for {data['method']!r}: params must be an object, "
                f"not {_json_type(params)}"
            )
    elif "result" not in data and "error" not in data:
        return INVALID_REQUEST, 'Invalid request: no "method" (nor "result"/"error" of a response)'
    return None


def _content_problem(data: Any) -> tuple[int, str] | None:
    """Depth, lone surrogates and non-finite numbers, walked without recursion."""
    stack: list[tuple[Any, int, str]] = [(data, 1, "$")]
    while stack:
        value, depth, where = stack.pop()
        if isinstance(value, dict):
            if depth > MAX_DEPTH:
                return INVALID_REQUEST, f"Invalid request: nesting deeper than {MAX_DEPTH} levels"
            for key, item in value.items():
                if _SURROGATE.search(key):
                    return _surrogate(where)
                stack.append((item, depth + 1, f"{where}.{key[:40]}"))
        elif isinstance(value, list):
            if depth > MAX_DEPTH:
                return INVALID_REQUEST, f"Invalid request: nesting deeper than {MAX_DEPTH} levels"
            stack.extend((item, depth + 1, f"{where}[{index}]") for index, item in enumerate(value))
        elif isinstance(value, str):
            if _SURROGATE.search(value):
                return _surrogate(where)
        elif isinstance(value, float) and not math.isfinite(value):
            return PARSE_ERROR, f"Parse error: the number at {where} is out of range"
    return None


def _surrogate(where: str) -> tuple[int, str]:
    return INVALID_REQUEST, (
        f"Invalid request: the text at {where} holds a lone UTF-16 surrogate (\\ud800-\\udfff "
        "without its pair), which is not Unicode text"
    )


def _refuse_unparsed(raw: bytes | str, reason: str) -> Refused:
    """Invalid JSON: answer the request's id if it can be found, else null."""
    data = raw.encode("utf-8", "replace") if isinstance(raw, str) else raw
    request_id: int | str | None = None
    match = _ID_SCAN.search(data[:4096])
    if match is not None:
        token = match.group(1)
        try:
            request_id = _valid_id(json.loads(token))
        except ValueError:
            request_id = None
    return Refused(PARSE_ERROR, f"Parse error: {reason}", request_id, True)


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > 4000:
        raise ValueError("an integer with more than 4000 digits")
    return int(text)


def _valid_id(value: Any) -> int | str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int) and len(str(abs(value))) <= _MAX_ID_DIGITS:
        return value
    if isinstance(value, str) and not _SURROGATE.search(value) and len(value) <= 1024:
        return value
    return None


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


# --------------------------------------------------------------------------- arguments


def check_arguments(command: str, arguments: Mapping[str, Any]) -> None:
    """Refuse values no codex invocation can carry, naming the argument.

    Paths (``cwd``, ``add_dirs``, ``images``) must fit the system's limits; names and ids at
    most 1,024 characters; nothing but free text may hold a NUL byte.
    """
    for name, value in arguments.items():
        if name in _TEXT_FIELDS and not isinstance(value, str | list):
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            if not isinstance(item, str):
                continue  # wrong types are the service's to explain
            if name in _PATH_FIELDS:
                _check_path(command, name, item)
            elif name not in _TEXT_FIELDS:
                if "\x00" in item:
                    raise InvalidRequest(f"{command}: {name} contains a NUL byte")
                limit = (
                    _MAX_INSTRUCTION_CHARS if name in _INSTRUCTION_FIELDS else _MAX_IDENTIFIER_CHARS
                )
                if len(item) > limit:
                    raise InvalidRequest(
                        f"{command}: {name} is too long ({len(item):,} characters; at most "
                        f"{limit:,})"
                    )


def _check_path(command: str, name: str, path: str) -> None:
    if "\x00" in path:
        raise InvalidRequest(f"{command}: {name} contains a NUL byte, which no path can hold")
    encoded = path.encode("utf-8", "surrogateescape")
    if len(encoded) > _MAX_PATH_BYTES:
        raise InvalidRequest(
            f"{command}: {name} is too long for a path ({len(encoded):,} bytes; the system "
            f"takes at most {_MAX_PATH_BYTES:,})"
        )
    longest = max((len(part) for part in encoded.split(b"/")), default=0)
    if longest > _MAX_NAME_BYTES:
        raise InvalidRequest(
            f"{command}: {name} has a file name of {longest:,} bytes (at most "
            f"{_MAX_NAME_BYTES} per path component)"
        )
