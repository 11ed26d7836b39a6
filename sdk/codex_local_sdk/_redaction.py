"""Keeping secrets out of everything the SDK shows: reprs, argv, logs, results, errors.

Two tools, used throughout the SDK and public for programs built on it:

* :func:`redact` hides secrets in structured values at any depth: values under secret-looking
  keys (``api_key``, ``token``, ``Authorization``, ...), bearer tokens inside strings, and
  the key values the SDK knows.
* :func:`scrub_secrets` removes the key values the SDK knows from a text: every per-call
  ``api_key`` it handed to codex, and the values of secret-looking variables (``*_API_KEY``,
  ``*_TOKEN``, ``*_SECRET``, ...) in the environment codex ran with and in ``os.environ``.
  Codex's stdout lines, stderr tails, failure messages and hook events pass through it.
"""

from __future__ import annotations

import collections
import os
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any, TypeVar

__all__ = [
    "REDACTED",
    "SECRET_KEY",
    "redact",
    "redact_toml_text",
    "remember_secrets",
    "scrub_secrets",
    "secrets_in_env",
]

REDACTED = "***"
_REDACTED_BYTES = REDACTED.encode()

SECRET_KEY = re.compile(
    r"(api[_-]?key|token|secret|passw(or)?d|authorization|bearer|credential|private[_-]?key"
    r"|(^|[_.-])key$)",
    re.I,
)
"""Names (config keys, header names, variables) whose values are secrets."""

_BEARER = re.compile(r"(?i)\b(bearer)(\s+)[^\s\"',;}\]]+")
# `key = "value"` or `"key": value` inside a TOML or JSON text, key secret-looking.
_SECRET_ASSIGNMENT = re.compile(
    r"""(?P<key>"?[\w.-]*(?:api[_-]?key|token|secret|passw(?:or)?d|authorization|bearer"""
    r"""|credential)[\w.-]*"?\s*[=:]\s*)(?P<value>"(?:[^"\\]|\\.)*"|'[^']*'|[^,}\]\s]+)""",
    re.I,
)
_MIN_SECRET_LENGTH = 8  # shorter values ("1", "true") would scrub ordinary text
_LONG_SECRET_LENGTH = 20
_REMEMBERED_MAX = 256
_MAX_DEPTH = 64

_remembered: collections.OrderedDict[str, None] = collections.OrderedDict()
_remembered_lock = threading.Lock()

_T = TypeVar("_T")


def _looks_like_secret_value(value: str) -> bool:
    # Paths and sentences under a secret-looking name (TOKEN_FILE=/run/x) are not the secret,
    # and a plain word ("completed") would garble every event it was scrubbed from: a key has
    # a digit, or is long.
    return (
        len(value) >= _MIN_SECRET_LENGTH
        and not value.startswith(("/", "~", "."))
        and not any(c.isspace() for c in value)
        and (any(c.isdigit() for c in value) or len(value) >= _LONG_SECRET_LENGTH)
    )


def secrets_in_env(env: Mapping[str, str]) -> list[str]:
    """The values of secret-looking variables in ``env`` (``OPENAI_API_KEY``, ``GH_TOKEN``...)."""
    return [
        value
        for name, value in env.items()
        if SECRET_KEY.search(name) and isinstance(value, str) and _looks_like_secret_value(value)
    ]


def remember_secrets(values: Iterable[str | None]) -> None:
    """Add key values to the ones :func:`scrub_secrets` removes (the SDK does this for every
    key it hands to codex). The most recent few hundred are kept."""
    with _remembered_lock:
        for value in values:
            if value and len(value) >= _MIN_SECRET_LENGTH:
                _remembered[value] = None
                _remembered.move_to_end(value)
        while len(_remembered) > _REMEMBERED_MAX:
            _remembered.popitem(last=False)


def known_secrets(extra: Iterable[str | None] = ()) -> list[str]:
    """Every key value the SDK would scrub, longest first (a key may contain a shorter one)."""
    with _remembered_lock:
        values = set(_remembered)
    values.update(secrets_in_env(os.environ))
    values.update(v for v in extra if v and len(v) >= _MIN_SECRET_LENGTH)
    return sorted(values, key=len, reverse=True)


def scrub_secrets(text: str, extra: Iterable[str | None] = ()) -> str:
    """``text`` with every known key value replaced by ``***``.

    Known values: the API keys the SDK handed to codex in this process, the values of
    secret-looking variables in ``os.environ`` and in the environments codex ran with, and
    ``extra``. Use it on any text you pass on from codex (the bridge servers do).
    """
    if not text:
        return text
    for secret in known_secrets(extra):
        if secret in text:
            text = text.replace(secret, REDACTED)
    return text


def secret_needles(env: Mapping[str, str]) -> list[bytes]:
    """The known key values and those of ``env``, encoded, for :func:`scrub_bytes`."""
    return [s.encode("utf-8", "surrogatepass") for s in known_secrets(secrets_in_env(env))]


def scrub_bytes(data: bytearray, needles: Iterable[bytes]) -> bytearray:
    """Raw output with the given key values replaced by ``***`` (no copy when none occurs)."""
    for needle in needles:
        if needle in data:
            data = data.replace(needle, _REDACTED_BYTES)
    return data


def redact_toml_text(text: str) -> str:
    """Hide secrets inside a TOML or JSON value written as text (``-c`` overrides):
    values of secret-looking keys at any depth, bearer tokens and known key values."""
    text = _SECRET_ASSIGNMENT.sub(lambda m: f'{m.group("key")}"{REDACTED}"', text)
    return scrub_secrets(_BEARER.sub(rf"\1\2{REDACTED}", text))


def redact(value: _T, *, _depth: int = 0) -> _T:
    """A copy of ``value`` with secrets hidden at any depth (for reprs and logs).

    Dicts: the value of every secret-looking key becomes ``***``. Strings: bearer tokens and
    known key values become ``***``. Lists, tuples and sets are walked. Anything else is kept.
    """
    if _depth > _MAX_DEPTH:
        return REDACTED  # type: ignore[return-value]
    result: Any
    if isinstance(value, str):
        result = scrub_secrets(_BEARER.sub(rf"\1\2{REDACTED}", value))
    elif isinstance(value, Mapping):
        result = {
            key: REDACTED
            if isinstance(key, str) and SECRET_KEY.search(key)
            else redact(item, _depth=_depth + 1)
            for key, item in value.items()
        }
    elif isinstance(value, (list, tuple, set, frozenset)):
        result = type(value)(redact(item, _depth=_depth + 1) for item in value)
    else:
        result = value
    return result  # type: ignore[no-any-return]
