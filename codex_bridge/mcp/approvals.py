"""Codex's approval requests → MCP ``elicitation/create`` to the host, for the tool call that
started the turn.

The form shows what codex wants to do (the command or the changed files, the working directory
and codex's reason) and asks for one choice: approve, approve for this session, or decline.
A client that did not declare the elicitation capability cannot be asked: its runs decline,
and the tool result says why.

A background job (``codex_job_start``) asks the client that started it, on its session (the
tool call has long returned); once that client has disconnected, requests are declined and the
job's outcome says why.
"""

from __future__ import annotations

import logging
from typing import Any

import anyio
import mcp_types as types
import msgspec
from mcp.server.context import ServerRequestContext

from codex_local_sdk import (
    ApprovalDecision,
    ApprovalHandler,
    ApprovalRequest,
    ApprovalUnavailable,
)

from ..progress import APPROVAL_ACTIONS, APPROVAL_LABELS, describe_approval

__all__ = [
    "CLIENT_GONE",
    "NO_BACK_CHANNEL",
    "NO_ELICITATION",
    "ApprovalRelay",
    "approval_relay",
    "elicitation_form",
]

logger = logging.getLogger("codex_bridge.mcp")

NO_ELICITATION = (
    "this MCP client did not declare the elicitation capability, so codex's approval "
    "requests were declined; use approval_policy 'never' or a client that supports elicitation"
)
# From 2026-07-28 a tool call cannot send its own requests back to the client.
_STATELESS_PROTOCOL = "2026-07-28"
NO_BACK_CHANNEL = (
    "on MCP protocol 2026-07-28 this server cannot ask the client during a tool call, so "
    "codex's approval requests were declined; use approval_policy 'never'"
)
CLIENT_GONE = "the MCP client that started this job has disconnected, so nobody can answer"
_LABELS = APPROVAL_LABELS


class ApprovalRelay(msgspec.Struct, frozen=True):
    handler: ApprovalHandler | None
    unavailable: str | None = None


def approval_relay(
    ctx: ServerRequestContext[Any, Any], *, background: bool = False
) -> ApprovalRelay:
    """How this tool call's approvals reach the person (or why they cannot). ``background``:
    for a job outliving the call, asked on the client's session rather than within the call."""
    capabilities = ctx.session.client_capabilities
    if capabilities is None or capabilities.elicitation is None:
        return ApprovalRelay(handler=None, unavailable=NO_ELICITATION)
    if ctx.protocol_version >= _STATELESS_PROTOCOL:
        return ApprovalRelay(handler=None, unavailable=NO_BACK_CHANNEL)

    async def ask(request: ApprovalRequest) -> ApprovalDecision:
        message, schema = elicitation_form(request)
        related = None if background else ctx.request_id
        try:
            result = await ctx.session.elicit_form(message, schema, related_request_id=related)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream):
            raise ApprovalUnavailable(CLIENT_GONE) from None
        if result.action != "accept" or not result.content:
            return ApprovalDecision.DECLINE
        try:
            return ApprovalDecision(str(result.content.get("decision")))
        except ValueError:
            logger.info("elicitation answered with an unknown decision: declined")
            return ApprovalDecision.DECLINE

    return ApprovalRelay(handler=ask)


def elicitation_form(request: ApprovalRequest) -> tuple[str, types.ElicitRequestedSchema]:
    """The message and the one-field form for ``request``."""
    lines = [f"Codex wants to {APPROVAL_ACTIONS[request.kind]}:"]
    if request.command:
        lines.append(f"$ {request.command}")
    if request.paths:
        lines += [f"- {path}" for path in request.paths]
    if request.message:
        where = f" ({request.server_name})" if request.server_name else ""
        lines.append(f"{request.message}{where}")
    _, facts = describe_approval(request)
    lines += [fact[0].upper() + fact[1:] + "." for fact in facts]
    choices = list(request.choices)
    schema: types.ElicitRequestedSchema = {
        "type": "object",
        "properties": {
            "decision": {
                "type": "string",
                "title": "Your decision",
                "oneOf": [{"const": c.value, "title": _LABELS[c]} for c in choices],
                "default": ApprovalDecision.DECLINE.value,
            }
        },
        "required": ["decision"],
    }
    return "\n".join(lines), schema
