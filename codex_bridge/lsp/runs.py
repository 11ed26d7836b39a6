"""One run as the editor sees it: what the server keeps of it, its progress bar, the answer
shown when it ends, its transcript sections and the open buffers refreshed after it."""

from __future__ import annotations

import asyncio
import logging
import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcException

from ..rendering import job_summary, short
from ..service import JobInfo
from . import buffers, editor_review
from .isolation import Snapshot
from .transcript import Transcript

if TYPE_CHECKING:
    from .server import CodexLanguageServer

__all__ = ["CLIENT_WAIT_SECONDS", "Run", "begin_progress", "open_transcript", "report"]

logger = logging.getLogger("codex_bridge.lsp")

_MAX_SHOWN = 240  # characters of an answer in window/showMessage; the rest is in the transcript
CLIENT_WAIT_SECONDS = 10.0  # for the client to answer a progress-create request
_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class Run:
    """What the server tracks for one run it started."""

    def __init__(self, kind: str, prompt: str, client_token: lsp.ProgressToken | None) -> None:
        self.kind = kind
        self.prompt = prompt
        self.client_token = client_token
        self.job_id = ""
        self.token: lsp.ProgressToken | None = None
        self.pending: list[str] = []
        self.transcript: Transcript | None = None
        self.before: dict[str, str | None] = {}
        self.task: asyncio.Task[JobInfo] | None = None
        self.snapshot: Snapshot | None = None
        """Review mode: the isolated copy codex works in."""
        self.review: dict[str, Any] | None = None
        """Review mode: what became of codex's changes."""


async def begin_progress(ls: CodexLanguageServer, run: Run) -> None:
    token = run.client_token
    if token is None:
        if not ls.supports("window.work_done_progress"):
            return
        token = f"codex-{run.job_id}"
        try:
            await asyncio.wait_for(ls.work_done_progress.create_async(token), CLIENT_WAIT_SECONDS)
        except (asyncio.TimeoutError, JsonRpcException) as exc:
            logger.warning("no progress for %s: %s", run.job_id, exc)
            return
    ls.work_done_progress.begin(
        token,
        lsp.WorkDoneProgressBegin(
            title=f"Codex {run.kind}", message=short(run.prompt, 80), cancellable=True
        ),
    )
    run.token = token
    for message in run.pending:
        ls.work_done_progress.report(token, lsp.WorkDoneProgressReport(message=message))
    run.pending.clear()


async def report(ls: CodexLanguageServer, run: Run, info: JobInfo) -> None:
    outcome = info.outcome
    if outcome is not None:
        answer = outcome.final_message or outcome.to_text()
        text = _short_answer(answer)
        if text != " ".join(answer.split()):
            where = "transcript" if shows_transcript(ls) else "log"
            text += f" (the full answer is in the {where})"
        ls.show(lsp.MessageType.Info if outcome.ok else lsp.MessageType.Warning, f"Codex: {text}")
        ls.log(lsp.MessageType.Info, f"codex [{run.job_id}] {outcome.to_text()}")
    else:
        ls.show(lsp.MessageType.Warning, f"Codex {run.kind} {info.job_id}: {job_summary(info)}")
    if run.snapshot is not None:
        if outcome is not None and outcome.status != "cancelled":
            why = short(outcome.final_message or "", 300)
            run.review = await editor_review.offer(ls, run.job_id, run.snapshot, why)
    else:
        await _refresh_buffers(ls, run, outcome.files_changed if outcome else [])
    _finish_transcript(ls, run, info)


def shows_transcript(ls: CodexLanguageServer) -> bool:
    return ls.settings.show_transcript and ls.supports("window.show_document.support")


async def open_transcript(ls: CodexLanguageServer, run: Run) -> None:
    transcript = run.transcript
    if transcript is None:
        return
    await asyncio.to_thread(transcript.flush, force=True)
    if shows_transcript(ls):
        await ls.window_show_document_async(
            lsp.ShowDocumentParams(uri=transcript.uri, take_focus=False)
        )


def _finish_transcript(ls: CodexLanguageServer, run: Run, info: JobInfo) -> None:
    transcript = run.transcript
    if transcript is None or ls.transcripts is None:
        return
    if info.outcome is not None:
        transcript.section("Result", info.outcome.to_text())
        ls.transcripts.remember(transcript, info.outcome.session_name, info.outcome.thread_id)
    elif info.error:
        transcript.section("Error", info.error)
    if run.review is not None:
        review = run.review
        lines = [f"{review['state']}: {', '.join(review['files']) or 'no files changed'}"]
        lines += [f"- not applied: {note}" for note in review.get("not_applied", [])]
        if review.get("diff"):
            lines += ["", "```diff", review["diff"].rstrip(), "```"]
        transcript.section("Review", "\n".join(lines))
    try:
        transcript.flush(force=True)
    except OSError as exc:
        logger.warning("transcript of %s not written: %s", run.job_id, exc)


async def _refresh_buffers(ls: CodexLanguageServer, run: Run, reported: list[str]) -> None:
    plan = buffers.plan_refresh(ls.open_buffers(), run.before, reported)
    can_edit = ls.supports("workspace.apply_edit")
    for buffer, text in plan.reload:
        if not can_edit:
            ls.show(lsp.MessageType.Info, f"Codex changed {buffer.path}; reload it.")
            continue
        result = await ls.workspace_apply_edit_async(
            lsp.ApplyWorkspaceEditParams(
                edit=_replace_all(ls, buffer, text), label="Codex changed this file"
            )
        )
        if not result.applied:
            ls.log(
                lsp.MessageType.Warning,
                f"{buffer.path} not refreshed: {result.failure_reason or 'refused'}",
            )
    for buffer in plan.conflicts:
        ls.show(
            lsp.MessageType.Warning,
            f"Codex changed {buffer.path} on disk, but its buffer has unsaved edits, so "
            "it was not reloaded. Compare, then save or revert.",
        )


def _replace_all(
    ls: CodexLanguageServer, buffer: buffers.OpenBuffer, text: str
) -> lsp.WorkspaceEdit:
    lines = _LINE_BREAK.split(buffer.text)
    end = lsp.Position(
        line=len(lines) - 1,
        character=ls.workspace.position_codec.client_num_units(lines[-1]),
    )
    edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(0, 0), end=end), new_text=text)
    if ls.supports("workspace.workspace_edit.document_changes"):
        document = lsp.OptionalVersionedTextDocumentIdentifier(
            uri=buffer.uri, version=buffer.version
        )
        return lsp.WorkspaceEdit(
            document_changes=[lsp.TextDocumentEdit(text_document=document, edits=[edit])]
        )
    return lsp.WorkspaceEdit(changes={buffer.uri: [edit]})


def _short_answer(text: str) -> str:
    """The answer's first paragraph, on one line and at most ``_MAX_SHOWN`` characters."""
    first = next((p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()), "")
    return short(first, _MAX_SHOWN)
