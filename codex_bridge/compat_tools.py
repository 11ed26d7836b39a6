"""Drop-in tools for the ``codex mcp-server`` that Codex 0.154 removed: ``codex`` and
``codex-reply``, with that server's argument names (``--compat-tools``).

They are thin translations onto ``codex_run`` / ``codex_resume``: the same service, so the same
policy checks (sandbox ceiling, approval ceiling, allowed roots, allow-listed config overrides —
``config`` from these callers is the same untrusted input as ``config_overrides``). Results
carry ``threadId`` and ``content`` as the old server's did, plus the usual outcome fields.
"""

from __future__ import annotations

from typing import Any, Literal

import mcp_types as types
import msgspec

from .errors import PolicyRefused
from .mcp_server import (
    _annotations,
    _builtins,
    _input_schema,
    _isolated,
    _output_schema,
    _text_result,
    _ToolSpec,
)
from .service import (
    BridgeError,
    BridgeService,
    ProgressCallback,
    ResumeParams,
    RunOutcome,
    RunParams,
    parse_params,
)

__all__ = ["compat_tool_specs"]

_RENAMED = {
    "approval-policy": "approval_policy",
    "config": "config_overrides",
    "base-instructions": "base_instructions",
    "developer-instructions": "developer_instructions",
    "threadId": "thread_id",
    "conversationId": "thread_id",
}
"""The old server's argument names → the service's."""
_BACK = {ours: theirs for theirs, ours in _RENAMED.items() if theirs != "conversationId"}


class _CodexArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename=_BACK):
    prompt: str
    cwd: str | None = None
    model: str | None = None
    profile: str | None = None
    sandbox: Literal["read-only", "workspace-write", "danger-full-access"] | None = None
    approval_policy: Literal["untrusted", "on-failure", "on-request", "never"] | None = None
    config_overrides: dict[str, Any] | None = None
    base_instructions: str | None = None
    developer_instructions: str | None = None


class _ReplyArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: str
    # The old server's names.
    threadId: str | None = None
    conversationId: str | None = None


_DOCS = {
    "prompt": "The task for Codex (it does not see your conversation).",
    "cwd": "Working directory for Codex.",
    "model": "Model to use instead of the Codex configuration's default.",
    "profile": "A profile from config.toml (refused unless the operator allowed profiles).",
    "sandbox": "read-only, workspace-write or danger-full-access (up to the server's ceiling).",
    "approval-policy": (
        "never, on-failure or on-request (up to the server's ceiling; untrusted is refused: "
        "codex exec no longer supports it)."
    ),
    "config": (
        "Codex config values {key: value} (like codex -c); model and reasoning settings only."
    ),
    "base-instructions": "Replace Codex's built-in instructions.",
    "developer-instructions": "Extra instructions Codex follows.",
    "threadId": "The thread to continue (threadId from an earlier codex result).",
    "conversationId": "Older name for threadId.",
}


def _schema(kind: type[msgspec.Struct]) -> dict[str, Any]:
    schema = _input_schema("compat", [kind])
    for name, prop in schema["properties"].items():
        if name in _DOCS:
            prop["description"] = _DOCS[name]
    return schema


def _translated(arguments: dict[str, Any], kind: type[msgspec.Struct]) -> dict[str, Any]:
    """Validate the old-style arguments and rename them to the service's."""
    parse_params(kind, arguments)
    translated: dict[str, Any] = {}
    for key, value in arguments.items():
        translated[_RENAMED.get(key, key)] = value
    return translated


def _old_name(exc: BridgeError) -> BridgeError:
    """Name the caller's argument in a refusal, not ours."""
    if exc.field in _BACK:
        exc.field = _BACK[exc.field]
    return exc


def _compat_result(outcome: RunOutcome) -> types.CallToolResult:
    structured = {**_builtins(outcome), "threadId": outcome.thread_id, "content": ""}
    structured["content"] = outcome.final_message or ""
    return _text_result(outcome.to_text(), structured, is_error=not outcome.ok)


async def _codex(
    service: BridgeService, arguments: dict[str, Any], progress: ProgressCallback
) -> types.CallToolResult:
    if arguments.get("approval-policy") == "untrusted":
        raise PolicyRefused(
            "approval-policy 'untrusted' is not available: codex exec no longer supports it; "
            "use never, on-failure or on-request (within the server's ceiling)",
            field="approval-policy",
        )
    try:
        params = parse_params(RunParams, _translated(arguments, _CodexArguments))
        outcome = await _isolated(service.run(params, on_progress=progress))
    except BridgeError as exc:
        raise _old_name(exc) from None
    return _compat_result(outcome)


async def _codex_reply(
    service: BridgeService, arguments: dict[str, Any], progress: ProgressCallback
) -> types.CallToolResult:
    translated = _translated(arguments, _ReplyArguments)
    both = "threadId" in arguments and "conversationId" in arguments
    if both and arguments["threadId"] != arguments["conversationId"]:
        raise BridgeError("pass threadId or conversationId, not both", field="threadId")
    if "thread_id" not in translated:
        raise BridgeError("threadId is required (from an earlier codex result)", field="threadId")
    try:
        params = parse_params(ResumeParams, translated)
        outcome = await _isolated(service.resume(params, on_progress=progress))
    except BridgeError as exc:
        raise _old_name(exc) from None
    return _compat_result(outcome)


def compat_tool_specs() -> list[_ToolSpec]:
    """``codex`` and ``codex-reply``, as the removed ``codex mcp-server`` offered them."""
    output = _output_schema(RunOutcome)
    output["properties"]["threadId"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    output["properties"]["content"] = {"type": "string"}
    hints: dict[str, bool] = {"destructive": True, "open_world": True}
    return [
        _ToolSpec(
            name="codex",
            title="Codex",
            description=(
                "Run a Codex session (compatible with the former `codex mcp-server` tool): "
                "Codex works on the prompt in cwd and this call returns its answer. The "
                "result names the thread id (threadId) to continue with codex-reply."
            ),
            input_schema=_schema(_CodexArguments),
            output_schema=output,
            annotations=_annotations("Codex", **hints),
            handler=_codex,
        ),
        _ToolSpec(
            name="codex-reply",
            title="Codex reply",
            description=(
                "Continue a Codex thread with another prompt (compatible with the former "
                "`codex mcp-server` tool). Name the thread by threadId."
            ),
            input_schema=_schema(_ReplyArguments),
            output_schema=output,
            annotations=_annotations("Codex reply", **hints),
            handler=_codex_reply,
        ),
    ]
