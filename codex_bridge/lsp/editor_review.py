"""Review mode in the editor: isolate a run, then offer what codex changed.

:func:`isolate` copies the workspace (see :mod:`codex_bridge.lsp.isolation`) before a run;
:func:`offer` turns the copy's changes into one ``workspace/applyEdit``:

* a client with change-annotation support gets every file annotated ``needsConfirmation``
  (a preview, applied as one undo step, or refused);
* any other client is asked first with ``window/showMessageRequest``: Apply, Discard or
  Show diff (the diff opens with ``window/showDocument``, then the question comes again).

Discard, a refused edit, or an error leave the workspace as it was. The copy is deleted
either way (:meth:`~codex_bridge.lsp.isolation.Snapshot.remove`).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException

from ..errors import InvalidRequest, PolicyRefused
from .buffers import OpenBuffer
from .context import inside, unsaved
from .isolation import IsolationError, Snapshot, changes_in, make_snapshot
from .review import ClientEditSupport, Proposal, apply_on_disk, propose

if TYPE_CHECKING:
    from .server import CodexLanguageServer

__all__ = ["edit_support", "isolate", "offer", "review_root"]

APPLY, DISCARD, SHOW_DIFF = "Apply", "Discard", "Show diff"
_MAX_ASKS = 4


def review_root(cwd: str, folders: Sequence[str], roots: Sequence[str]) -> str:
    """The directory to copy: the innermost workspace folder holding ``cwd`` that is inside
    the allowed roots, else ``cwd`` itself (never more than the roots allow)."""
    real = os.path.realpath(cwd)
    candidates = [
        os.path.realpath(folder)
        for folder in folders
        if inside(real, [folder]) and (not roots or inside(folder, roots))
    ]
    return max(candidates, key=len) if candidates else real


async def isolate(
    root: str, buffers: Sequence[OpenBuffer], share_unsaved: bool, places: Sequence[str]
) -> Snapshot:
    """A private copy of ``root``; opted-in unsaved buffers inside ``places`` overlaid."""
    overlay = (
        {b.path: b.text for b in unsaved(buffers, places) if inside(b.path, [root])}
        if share_unsaved
        else {}
    )
    try:
        return await asyncio.to_thread(make_snapshot, root, overlay=overlay)
    except IsolationError as exc:
        raise PolicyRefused(str(exc)) from None
    except OSError as exc:
        raise InvalidRequest(f"could not copy the workspace for review: {exc}") from None


def edit_support(ls: CodexLanguageServer) -> ClientEditSupport:
    caps = ls.client_capabilities
    operations = get_capability(caps, "workspace.workspace_edit.resource_operations", None) or []
    annotation = get_capability(caps, "workspace.workspace_edit.change_annotation_support", None)
    return ClientEditSupport(
        document_changes=bool(
            get_capability(caps, "workspace.workspace_edit.document_changes", False)
        ),
        resource_operations=frozenset(str(getattr(op, "value", op)) for op in operations),
        annotations=annotation is not None,
    )


async def offer(
    ls: CodexLanguageServer, job_id: str, snapshot: Snapshot, why: str
) -> dict[str, Any]:
    """Offer the copy's changes to the editor; what happened, for the run's result."""
    changes, unsupported = await asyncio.to_thread(changes_in, snapshot)
    support = edit_support(ls)
    proposal = propose(
        snapshot.root,
        changes,
        ls.open_buffers(),
        support,
        units=ls.workspace.position_codec.client_num_units,
        why=why,
    )
    result: dict[str, Any] = {
        "state": "no_changes",
        "files": proposal.files,
        "insertions": proposal.insertions,
        "deletions": proposal.deletions,
    }
    notes = [f"{r.path}: {r.reason}" for r in proposal.refused]
    notes += [f"{path}: a link or special file; review cannot carry it" for path in unsupported]
    if notes:
        result["not_applied"] = notes
    if proposal.edit is None and not proposal.on_disk:
        if notes:
            result["state"] = "refused"
            ls.show(
                lsp.MessageType.Warning, "Codex's changes were not applied: " + "; ".join(notes)
            )
        return result
    result["state"] = await _decide(ls, job_id, proposal, support)
    if result["state"] == "applied" and notes:
        ls.show(lsp.MessageType.Warning, "Not applied: " + "; ".join(notes))
    result["diff"] = proposal.diff
    return result


async def _decide(
    ls: CodexLanguageServer, job_id: str, proposal: Proposal, support: ClientEditSupport
) -> str:
    summary = proposal.summary()
    if not ls.supports("workspace.apply_edit") and proposal.edit is not None:
        ls.show(
            lsp.MessageType.Warning,
            f"Codex changed {summary}, but this editor cannot apply edits; the diff is in the "
            "transcript. Nothing was changed.",
        )
        return "discarded"
    if not (support.annotations and support.document_changes) or proposal.on_disk:
        for _ in range(_MAX_ASKS):
            choice = await _ask(ls, f"Codex changed {summary}. Apply these changes?")
            if choice == SHOW_DIFF:
                await _show_diff(ls, job_id, proposal.diff)
                continue
            if choice != APPLY:
                ls.show(lsp.MessageType.Info, "Codex's changes discarded; nothing was changed.")
                return "discarded"
            break
        else:
            return "discarded"
    applied = True
    if proposal.edit is not None:
        try:
            answer = await ls.workspace_apply_edit_async(
                lsp.ApplyWorkspaceEditParams(edit=proposal.edit, label=f"Codex: {summary}")
            )
        except JsonRpcException as exc:
            ls.show(lsp.MessageType.Warning, f"Codex's changes were not applied: {exc}")
            return "failed"
        applied = answer.applied
        if not applied:
            reason = answer.failure_reason or "refused in the editor"
            ls.show(
                lsp.MessageType.Info,
                f"Codex's changes were not applied ({reason}); nothing was changed.",
            )
            return "discarded"
    problems = apply_on_disk(proposal.root, proposal.on_disk) if proposal.on_disk else []
    if problems:
        ls.show(lsp.MessageType.Warning, "Some file operations failed: " + "; ".join(problems))
    ls.show(lsp.MessageType.Info, f"Applied Codex's changes: {summary}.")
    return "applied"


async def _ask(ls: CodexLanguageServer, message: str) -> str | None:
    try:
        item = await ls.window_show_message_request_async(
            lsp.ShowMessageRequestParams(
                type=lsp.MessageType.Info,
                message=message,
                actions=[
                    lsp.MessageActionItem(title=APPLY),
                    lsp.MessageActionItem(title=DISCARD),
                    lsp.MessageActionItem(title=SHOW_DIFF),
                ],
            )
        )
    except JsonRpcException:
        return None
    return item.title if item is not None else None


async def _show_diff(ls: CodexLanguageServer, job_id: str, diff: str) -> None:
    path = Path(ls.transcript_directory(), f"{job_id}.diff")
    await asyncio.to_thread(path.write_text, diff or "(no textual changes)\n", encoding="utf-8")
    if ls.supports("window.show_document.support"):
        await ls.window_show_document_async(
            lsp.ShowDocumentParams(uri=path.as_uri(), take_focus=True)
        )
    else:
        ls.log(lsp.MessageType.Info, f"Codex's diff:\n{diff}")
