"""Building ``codex`` command lines and environments: pure functions, no I/O.

This is the only module that knows codex's flags. Rules it enforces:

* The prompt never goes on argv (a prompt starting with ``-`` or a long one breaks it): argv
  ends with ``-`` and the prompt is written to stdin, which is then closed.
* ``codex exec`` refuses ``-a``/``--full-auto``: the approval policy is sent as
  ``-c approval_policy="..."``.
* ``codex exec resume``/``fork`` refuse ``--sandbox``, ``--cd`` and ``--add-dir``: the sandbox and
  the extra writable roots travel as ``-c`` overrides, the working directory as the child's
  cwd. ``--profile`` has no equivalent there and is refused with a clear error.
* An API key goes to the child as ``CODEX_API_KEY`` in its environment only.
"""

from __future__ import annotations

import enum
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec

from ._redaction import REDACTED, SECRET_KEY, redact_toml_text, remember_secrets, secrets_in_env
from .exceptions import CodexUsageError
from .models import CodexExecRequest, Operation

__all__ = [
    "API_KEY_ENV",
    "CodexInvocation",
    "app_server_invocation",
    "app_server_probe_argv",
    "build_invocation",
    "login_status_argv",
    "option_overrides",
    "redact_argv",
    "toml_value",
    "version_argv",
]

API_KEY_ENV = "CODEX_API_KEY"
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


class CodexInvocation(msgspec.Struct, kw_only=True, frozen=True):
    """Everything needed to start one codex process."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    stdin: bytes
    cwd: str | None = None

    @property
    def redacted_argv(self) -> list[str]:
        return redact_argv(self.argv)

    def __repr__(self) -> str:
        return f"CodexInvocation(argv={self.redacted_argv!r}, cwd={self.cwd!r})"


def check_turn(
    request: CodexExecRequest, operation: Operation, thread_id: str | None, last: bool
) -> None:
    """What every transport refuses before starting a turn: a thread id where none belongs
    (or none where one is needed), an empty prompt."""
    if operation == "exec":
        if thread_id is not None or last:
            raise CodexUsageError("a new exec takes no thread id; use operation='resume'")
    elif operation == "resume":
        if (thread_id is None) == (not last):
            raise CodexUsageError("resume needs exactly one of a thread id or last=True")
    elif operation == "fork":
        if thread_id is None or last:
            raise CodexUsageError("fork needs the thread id to fork from")
    else:  # pragma: no cover - guarded by the Operation type
        raise CodexUsageError(f"unknown operation {operation!r}")
    if not request.prompt.strip():
        # codex would exit 1 ("No prompt provided via stdin."), which looks like a crash.
        raise CodexUsageError("the prompt is empty")


def build_invocation(
    binary: str,
    request: CodexExecRequest,
    *,
    operation: Operation = "exec",
    thread_id: str | None = None,
    last: bool = False,
    json_output: bool = True,
    output_schema_path: str | None = None,
    instructions_path: str | None = None,
    api_key: str | None = None,
    base_env: Mapping[str, str] | None = None,
) -> CodexInvocation:
    """The argv, environment and stdin for one turn.

    ``output_schema_path`` is where the caller wrote ``request.output_schema`` when it is a
    dict (keeping this module free of I/O); a string schema is taken as a path already.
    ``instructions_path`` is where it wrote ``request.base_instructions``.
    """
    check_turn(request, operation, thread_id, last)
    argv: list[str] = [binary, "exec"]
    if operation != "exec":
        argv.append(operation)
    if json_output:
        argv.append("--json")
    if request.skip_git_repo_check:
        argv.append("--skip-git-repo-check")
    if request.ephemeral:
        argv.append("--ephemeral")
    if request.model:
        argv += ["--model", request.model]

    overrides: dict[str, Any] = {}
    if operation == "exec":
        if request.sandbox is not None:
            argv += ["--sandbox", request.sandbox.value]
        if request.cwd:
            argv += ["--cd", request.cwd]
        for directory in request.add_dirs:
            argv += ["--add-dir", directory]
        if request.profile:
            argv += ["--profile", request.profile]
    else:
        if request.profile:
            raise CodexUsageError(
                f"codex exec {operation} does not accept --profile; "
                "set the options you need through config_overrides instead"
            )
        if request.sandbox is not None:
            overrides["sandbox_mode"] = request.sandbox.value
        if request.add_dirs:
            overrides["sandbox_workspace_write.writable_roots"] = list(request.add_dirs)
    if request.approval_policy is not None:
        overrides["approval_policy"] = request.approval_policy.value
    overrides.update(request.config_overrides)
    overrides.update(option_overrides(request))
    if request.developer_instructions is not None:
        overrides["developer_instructions"] = request.developer_instructions
    if request.base_instructions is not None:
        if instructions_path is None:
            raise CodexUsageError("base_instructions must be written to a file first")
        overrides["model_instructions_file"] = instructions_path
    for key, value in overrides.items():
        argv += ["--config", f"{key}={toml_value(value)}"]

    for image in request.images:
        argv += ["--image", image]
    schema_path = output_schema_path
    if schema_path is None and isinstance(request.output_schema, str):
        schema_path = request.output_schema
    if request.output_schema is not None:
        if schema_path is None:
            raise CodexUsageError("a dict output_schema must be written to a file first")
        argv += ["--output-schema", schema_path]

    if operation == "resume" and last:
        argv.append("--last")
    # "--" ends the options: "--image" takes several values and would swallow what follows.
    argv.append("--")
    if thread_id is not None:
        argv.append(thread_id)
    argv.append("-")  # the prompt comes on stdin

    return CodexInvocation(
        argv=tuple(argv),
        env=build_env(request, api_key=api_key, base_env=base_env),
        stdin=request.prompt.encode("utf-8"),
        cwd=request.cwd,
    )


def option_overrides(request: CodexExecRequest) -> dict[str, Any]:
    """The config overrides for the request's typed options, for both transports
    (instructions travel separately: as a file for exec, as protocol fields for app-server).
    They are applied after ``config_overrides``: a typed option wins."""
    overrides: dict[str, Any] = {}
    if request.reasoning_effort is not None:
        overrides["model_reasoning_effort"] = request.reasoning_effort.value
    if request.reasoning_summary is not None:
        overrides["model_reasoning_summary"] = request.reasoning_summary.value
    if request.web_search is not None:
        overrides["web_search"] = request.web_search.value
    if request.network_access is not None:
        overrides["sandbox_workspace_write.network_access"] = request.network_access
    return overrides


def app_server_invocation(
    binary: str,
    *,
    codex_home: str | None = None,
    config_overrides: Mapping[str, Any] | None = None,
    extra_env: Mapping[str, str] | None = None,
    base_env: Mapping[str, str] | None = None,
    api_key: str | None = None,
) -> CodexInvocation:
    """A persistent ``codex app-server`` speaking JSON-RPC on stdio.

    Server-wide settings go on argv as ``--config`` overrides; per-thread settings travel in
    the protocol. The key goes in the environment only, like for ``codex exec``. stdin stays
    open for requests, so ``stdin`` is empty here.
    """
    argv: list[str] = [binary, "app-server"]
    for key, value in (config_overrides or {}).items():
        argv += ["--config", f"{key}={toml_value(value)}"]
    env = dict(os.environ if base_env is None else base_env)
    env.update(extra_env or {})
    if codex_home:
        env["CODEX_HOME"] = codex_home
    if api_key:
        env[API_KEY_ENV] = api_key
    _remember_env_secrets(env)
    return CodexInvocation(argv=tuple(argv), env=env, stdin=b"")


def version_argv(binary: str) -> list[str]:
    return [binary, "--version"]


def app_server_probe_argv(binary: str) -> list[str]:
    """Succeeds (exit 0) only when this codex build has the ``app-server`` command."""
    return [binary, "app-server", "--help"]


def login_status_argv(binary: str) -> list[str]:
    return [binary, "login", "status"]


def build_env(
    request: CodexExecRequest,
    *,
    api_key: str | None = None,
    base_env: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The child's environment: the base environment, the request's extras, CODEX_HOME and the
    API key (the one place a key may go)."""
    env = dict(os.environ if base_env is None else base_env)
    env.update(request.env)
    if request.codex_home:
        env["CODEX_HOME"] = request.codex_home
    if api_key:
        env[API_KEY_ENV] = api_key
    _remember_env_secrets(env)
    return env


def _remember_env_secrets(env: Mapping[str, str]) -> None:
    """Whatever key codex gets is scrubbed from what codex says (see ``_redaction``)."""
    remember_secrets(secrets_in_env(env))


def toml_value(value: Any) -> str:
    """Encode a Python value as the TOML value of a ``-c key=value`` override."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (bytes, bytearray)):
        raise CodexUsageError(f"cannot express bytes value {value!r} as TOML; decode it first")
    if isinstance(value, os.PathLike):
        return _toml_string(os.fspath(value))
    if isinstance(value, enum.Enum):
        return toml_value(value.value)
    if isinstance(value, Mapping):
        items = ", ".join(f"{_toml_key(str(k))} = {toml_value(v)}" for k, v in value.items())
        return "{" + items + "}" if items else "{}"
    if isinstance(value, Sequence):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise CodexUsageError(f"cannot express {type(value).__name__} value {value!r} as TOML")


def _toml_string(text: str) -> str:
    # JSON string escapes are a subset of TOML basic-string escapes.
    return json.dumps(text, ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def redact_argv(argv: Sequence[str]) -> list[str]:
    """argv with secrets in ``-c`` overrides replaced by ``***``: the whole value of a
    secret-looking key, and secrets nested in a table value (``http_headers = {...}``)."""
    redacted = list(argv)
    for index, arg in enumerate(redacted[:-1]):
        if arg in ("--config", "-c"):
            key, sep, value = redacted[index + 1].partition("=")
            if sep and SECRET_KEY.search(key):
                redacted[index + 1] = f"{key}={REDACTED}"
            elif sep:
                redacted[index + 1] = f"{key}={redact_toml_text(value)}"
    return redacted
