"""Codex's approval requests → ``window/showMessageRequest`` in the editor.

The message says what codex wants to do (the command or the changed files, the working
directory and codex's reason); the buttons are the choices codex accepts: approve, approve
for this session, decline. Closing the message declines. A client without
``window.showMessage`` support cannot be asked: its runs decline, and the result says why.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from lsprotocol import types as lsp

from codex_local_sdk import ApprovalDecision, ApprovalHandler, ApprovalRequest

from ..progress import APPROVAL_LABELS, describe_approval

__all__ = ["LABELS", "approval_message", "message_request_handler"]

LABELS = APPROVAL_LABELS
_BY_LABEL = {label: decision for decision, label in LABELS.items()}

Ask = Callable[[lsp.ShowMessageRequestParams], Awaitable[lsp.MessageActionItem | None]]


def approval_message(request: ApprovalRequest, run_id: str) -> lsp.ShowMessageRequestParams:
    headline, facts = describe_approval(request)
    return lsp.ShowMessageRequestParams(
        type=lsp.MessageType.Warning,
        message=f"[{run_id}] {headline}" + "".join(f"; {fact}" for fact in facts),
        actions=[lsp.MessageActionItem(title=LABELS[choice]) for choice in request.choices],
    )


def message_request_handler(ask: Ask, run_id: Callable[[], str]) -> ApprovalHandler:
    """An approval handler asking through ``ask`` (``window/showMessageRequest``)."""

    async def handler(request: ApprovalRequest) -> ApprovalDecision:
        chosen = await ask(approval_message(request, run_id()))
        if chosen is None:
            return ApprovalDecision.DECLINE
        return _BY_LABEL.get(chosen.title, ApprovalDecision.DECLINE)

    return handler
