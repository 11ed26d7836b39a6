"""Drop-in tools for the ``codex mcp-server`` that Codex 0.154 removed: ``codex`` and
``codex-reply``, with that server's argument names (``--compat-tools``).

They are thin translations onto ``codex_run`` / ``codex_resume``: the same service, so the same
policy checks (sandbox ceiling, approval ceiling, allowed roots, allow-listed config overrides —
``config`` from these callers is the same untrusted input as ``config_overrides``). Results
carry ``threadId`` and ``content`` as the old server's did, plus the usual outcome fields.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal

import mcp_types as types
import msgspec

from ..errors import InvalidRequest, PolicyRefused
from ..service import (
    OPERATIONS,
    BridgeError,
    BridgeService,
    ResumeParams,
    RunOutcome,
    RunParams,
    TurnHooks,
    parse_params,
)
from .results import builtins, text_result
from .tooling import BridgeTool, input_schema, struct_schema

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


def _doc(text: str) -> msgspec.Meta:
    return msgspec.Meta(description=text)


class _CodexArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True, rename=_BACK):
    prompt: Annotated[str, _doc("The task for Codex (it does not see your conversation).")]
    cwd: Annotated[str | None, _doc("Working directory for Codex.")] = None
    model: Annotated[
        str | None, _doc("Model to use instead of the Codex configuration's default.")
    ] = None
    profile: Annotated[
        str | None,
        _doc("A profile from config.toml (refused unless the operator allowed profiles)."),
    ] = None
    sandbox: Annotated[
        Literal["read-only", "workspace-write", "danger-full-access"] | None,
        _doc("read-only, workspace-write or danger-full-access (up to the server's ceiling)."),
    ] = None
    approval_policy: Annotated[
        Literal["untrusted", "on-failure", "on-request", "never"] | None,
        _doc(
            "never, on-failure or on-request (up to the server's ceiling; untrusted is "
            "refused: codex exec no longer supports it)."
        ),
    ] = None
    config_overrides: Annotated[
        dict[str, Any] | None,
        _doc(
            "Codex config values {key: value} (like codex -c); model and reasoning settings only."
        ),
    ] = None
    base_instructions: Annotated[str | None, _doc("Replace Codex's built-in instructions.")] = None
    developer_instructions: Annotated[str | None, _doc("Extra instructions Codex follows.")] = None


class _ReplyArguments(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    prompt: Annotated[str, _doc("The task for Codex (it does not see your conversation).")]
    # The old server's names.
    threadId: Annotated[
        str | None, _doc("The thread to continue (threadId from an earlier codex result).")
    ] = None
    conversationId: Annotated[str | None, _doc("Older name for threadId.")] = None


def _translated(arguments: dict[str, Any], kind: type[msgspec.Struct]) -> dict[str, Any]:
    """Validate the old-style arguments and rename them to the service's."""
    parse_params(kind, arguments)
    translated: dict[str, Any] = {}
    for key, value in arguments.items():
        translated[_RENAMED.get(key, key)] = value
    return translated


@contextlib.contextmanager
def _old_names() -> Iterator[None]:
    """Name the caller's argument in a refusal, not ours."""
    try:
        yield
    except BridgeError as exc:
        if exc.field in _BACK:
            exc.field = _BACK[exc.field]
        raise exc from None


def _run_params(arguments: dict[str, Any]) -> RunParams:
    if arguments.get("approval-policy") == "untrusted":
        raise PolicyRefused(
            "approval-policy 'untrusted' is not available: codex exec no longer supports it; "
            "use never, on-failure or on-request (within the server's ceiling)",
            field="approval-policy",
        )
    with _old_names():
        return parse_params(RunParams, _translated(arguments, _CodexArguments))


def _resume_params(arguments: dict[str, Any]) -> ResumeParams:
    translated = _translated(arguments, _ReplyArguments)
    both = "threadId" in arguments and "conversationId" in arguments
    if both and arguments["threadId"] != arguments["conversationId"]:
        raise InvalidRequest("pass threadId or conversationId, not both", field="threadId")
    if "thread_id" not in translated:
        raise InvalidRequest(
            "threadId is required (from an earlier codex result)", field="threadId"
        )
    with _old_names():
        return parse_params(ResumeParams, translated)


def _compat_result(_: object, outcome: RunOutcome) -> types.CallToolResult:
    structured = {**builtins(outcome), "threadId": outcome.thread_id, "content": ""}
    structured["content"] = outcome.final_message or ""
    return text_result(outcome.to_text(), structured, is_error=not outcome.ok)


def _compat_tool(
    name: str,
    title: str,
    description: str,
    operation: str,
    arguments: type[msgspec.Struct],
    parser: Callable[[dict[str, Any]], Any],
) -> BridgeTool[Any, RunOutcome]:
    """A tool of the old server over the ``operation``, taking its ``arguments`` (old names,
    also in refusals) and answering as it did (``threadId`` and ``content`` beside the
    outcome)."""
    output = struct_schema(RunOutcome)
    output["properties"]["threadId"] = {"anyOf": [{"type": "string"}, {"type": "null"}]}
    output["properties"]["content"] = {"type": "string"}
    original = OPERATIONS[operation]

    async def invoke(service: BridgeService, params: Any, hooks: TurnHooks) -> RunOutcome:
        with _old_names():
            outcome: RunOutcome = await original.invoke(service, params, hooks)
        return outcome

    return BridgeTool(
        name=name,
        title=title,
        description=description,
        operation=dataclasses.replace(original, invoke=invoke),
        parser=parser,
        input_schema=input_schema([arguments]),
        output_schema=output,
        render=_compat_result,
        waits_for_codex=True,
        destructive=True,
        open_world=True,
    )


def compat_tool_specs() -> list[BridgeTool[Any, Any]]:
    """``codex`` and ``codex-reply``, as the removed ``codex mcp-server`` offered them."""
    return [
        _compat_tool(
            "codex",
            "Codex",
            "Run a Codex session (compatible with the former `codex mcp-server` tool): "
            "Codex works on the prompt in cwd and this call returns its answer. The "
            "result names the thread id (threadId) to continue with codex-reply.",
            "run",
            _CodexArguments,
            _run_params,
        ),
        _compat_tool(
            "codex-reply",
            "Codex reply",
            "Continue a Codex thread with another prompt (compatible with the former "
            "`codex mcp-server` tool). Name the thread by threadId.",
            "resume",
            _ReplyArguments,
            _resume_params,
        ),
    ]
