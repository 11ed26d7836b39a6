"""Approval requests of ``codex app-server`` ↔ the SDK's :class:`ApprovalRequest` and the
replies codex expects for an :class:`ApprovalDecision`: pure functions, no I/O."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ..approvals import ApprovalDecision, ApprovalKind, ApprovalRequest
from ..events import CommandExecutionItem, FileChangeItem
from .items import text_or_none

if TYPE_CHECKING:
    from .protocol import TurnTranslator

__all__ = ["APPROVAL_METHODS", "approval_reply", "approval_request"]

JsonObject = dict[str, Any]

_COMMAND_APPROVAL = "item/commandExecution/requestApproval"
_FILE_APPROVAL = "item/fileChange/requestApproval"
_ELICITATION = "mcpServer/elicitation/request"
_PERMISSIONS = "item/permissions/requestApproval"
_LEGACY_COMMAND = "execCommandApproval"
_LEGACY_PATCH = "applyPatchApproval"
APPROVAL_METHODS = frozenset(
    {_COMMAND_APPROVAL, _FILE_APPROVAL, _ELICITATION, _PERMISSIONS, _LEGACY_COMMAND, _LEGACY_PATCH}
)


def approval_request(
    method: str, params: object, translator: TurnTranslator | None = None
) -> ApprovalRequest | None:
    """A server request asking for a decision, as an :class:`ApprovalRequest`; None when
    ``method`` is not an approval request."""
    if method not in APPROVAL_METHODS or not isinstance(params, dict):
        return None
    thread_id = text_or_none(params.get("threadId") or params.get("conversationId"))
    turn_id = text_or_none(params.get("turnId"))
    reason = text_or_none(params.get("reason"))
    cwd = text_or_none(params.get("cwd"))
    if method == _ELICITATION:
        return ApprovalRequest(
            kind=ApprovalKind.ELICITATION,
            thread_id=thread_id,
            turn_id=turn_id,
            message=text_or_none(params.get("message")) or text_or_none(params.get("url")),
            server_name=text_or_none(params.get("serverName")),
            leaves_sandbox=False,
        )
    if method == _PERMISSIONS:
        return ApprovalRequest(
            kind=ApprovalKind.PERMISSIONS,
            thread_id=thread_id,
            turn_id=turn_id,
            cwd=cwd,
            reason=reason,
            message=json.dumps(params.get("permissions"), sort_keys=True),
        )
    item = translator.item(text_or_none(params.get("itemId"))) if translator is not None else None
    if method in (_COMMAND_APPROVAL, _LEGACY_COMMAND):
        command = params.get("command")
        if isinstance(command, list):
            command = " ".join(str(part) for part in command)
        if not command and isinstance(item, CommandExecutionItem):
            command = item.command
        return ApprovalRequest(
            kind=ApprovalKind.COMMAND,
            thread_id=thread_id,
            turn_id=turn_id,
            command=text_or_none(command),
            cwd=cwd,
            reason=reason,
            choices=_command_choices(params.get("availableDecisions")),
            leaves_sandbox=_leaves_sandbox(params),
        )
    paths: tuple[str, ...] = ()
    if isinstance(item, FileChangeItem):
        paths = tuple(change.path for change in item.changes)
    elif isinstance(params.get("fileChanges"), dict):  # applyPatchApproval
        paths = tuple(str(path) for path in params["fileChanges"])
    return ApprovalRequest(
        kind=ApprovalKind.FILE_CHANGE,
        thread_id=thread_id,
        turn_id=turn_id,
        cwd=cwd or text_or_none(params.get("grantRoot")),
        reason=reason,
        paths=paths,
        choices=(
            ApprovalDecision.APPROVE,
            ApprovalDecision.APPROVE_FOR_SESSION,
            ApprovalDecision.DECLINE,
        ),
    )


def approval_reply(method: str, params: object, decision: ApprovalDecision) -> JsonObject:
    """The ``result`` answering an approval request with ``decision``."""
    approve = decision is not ApprovalDecision.DECLINE
    for_session = decision is ApprovalDecision.APPROVE_FOR_SESSION
    if method == _ELICITATION:
        if approve:
            return {"action": "accept", "content": {}, "_meta": None}
        return {"action": "decline", "content": None, "_meta": None}
    if method == _PERMISSIONS:
        granted = params.get("permissions") if approve and isinstance(params, dict) else None
        return {
            "permissions": granted if isinstance(granted, dict) else {},
            "scope": "session" if for_session else "turn",
        }
    if method in (_LEGACY_COMMAND, _LEGACY_PATCH):
        if not approve:
            return {"decision": "denied"}
        return {"decision": "approved_for_session" if for_session else "approved"}
    if not approve:
        return {"decision": "decline"}
    if for_session and method == _COMMAND_APPROVAL and isinstance(params, dict):
        offered = params.get("availableDecisions")
        if isinstance(offered, list):
            if "acceptForSession" in offered:
                return {"decision": "acceptForSession"}
            for choice in offered:  # "don't ask again for commands like this one"
                if isinstance(choice, dict) and "acceptWithExecpolicyAmendment" in choice:
                    return {"decision": choice}
            return {"decision": "accept"}
    return {"decision": "acceptForSession" if for_session else "accept"}


def _command_choices(offered: object) -> tuple[ApprovalDecision, ...]:
    if not isinstance(offered, list):
        return (
            ApprovalDecision.APPROVE,
            ApprovalDecision.APPROVE_FOR_SESSION,
            ApprovalDecision.DECLINE,
        )
    choices = [ApprovalDecision.APPROVE]
    if "acceptForSession" in offered or any(
        isinstance(c, dict) and "acceptWithExecpolicyAmendment" in c for c in offered
    ):
        choices.append(ApprovalDecision.APPROVE_FOR_SESSION)
    choices.append(ApprovalDecision.DECLINE)  # always understood, even when not offered
    return tuple(choices)


def _leaves_sandbox(params: JsonObject) -> bool:
    """Whether a command approval lets the command run outside the sandbox. codex does not
    say so directly: a justification (``reason``), a network context or a proposed policy
    amendment marks an escalation; a bare request is ``untrusted`` asking to run a command
    inside the sandbox."""
    markers = ("reason", "networkApprovalContext", "proposedNetworkPolicyAmendments")
    return any(params.get(key) for key in markers)
