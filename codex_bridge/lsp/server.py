"""The language server's state: the service, the editor's settings, the workspace and the
runs this server started. Shutdown, exit, SIGTERM and stdin closing all end in :meth:`close`,
which kills every codex process group before the server goes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Literal

import msgspec
from lsprotocol import types as lsp
from pygls.capabilities import get_capability
from pygls.exceptions import JsonRpcException
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from codex_local_sdk import AgentMessageDelta, AgentMessageItem, ItemCompleted, SandboxMode

from .. import __version__
from ..errors import InvalidRequest, PolicyRefused
from ..policy import BridgePolicy, PolicyError
from ..rendering import job_summary
from ..service import (
    BridgeService,
    ForkParams,
    JobInfo,
    ProgressUpdate,
    ResumeParams,
    RunParams,
    prune_finished,
    running_in,
)
from . import buffers, editor_review
from .approvals import message_request_handler
from .code_actions import Selection, code_actions
from .context import Focus, inside, prompt_with_context, resolve, unsaved
from .protocol import CodexProtocol, Refusal, work_done_token
from .runs import CLIENT_WAIT_SECONDS, Run, begin_progress, open_transcript, report
from .settings import EditorSettings, editor_settings, normalise
from .status import STATUS_METHOD, codex_version, status_payload
from .transcript import Transcript, Transcripts

__all__ = ["TRANSCRIPT_METHOD", "CodexLanguageServer", "job_result", "local_path"]

logger = logging.getLogger("codex_bridge.lsp")

TRANSCRIPT_METHOD = "codex/transcript"
_UNFINISHED = ("queued", "running")


class CodexLanguageServer(LanguageServer):
    """The language server state: the service, the editor's settings and this server's runs."""

    def __init__(self, policy: BridgePolicy, service: BridgeService | None = None) -> None:
        super().__init__("codex-bridge", __version__, protocol_cls=CodexProtocol)
        self.launch_policy = policy
        self.service = service or BridgeService(policy)
        self.settings = EditorSettings(policy=self.service.policy)
        self.init_options: dict[str, Any] = {}
        self.config_options: dict[str, Any] = {}
        self.runs: dict[str, Run] = {}
        self._transcripts: str | None = None
        self.transcripts: Transcripts | None = None
        self.codex_version: str | None = None
        self._closing: asyncio.Future[None] | None = None

    # ------------------------------------------------------------------ messages
    def show(self, kind: lsp.MessageType, message: str) -> None:
        self.window_show_message(lsp.ShowMessageParams(type=kind, message=message))

    def log(self, kind: lsp.MessageType, message: str) -> None:
        self.window_log_message(lsp.LogMessageParams(type=kind, message=message))

    def supports(self, capability: str) -> bool:
        return bool(get_capability(self.client_capabilities, capability, False))

    # ------------------------------------------------------------------ settings
    def apply_settings(self) -> None:
        """initializationOptions, then workspace/configuration, over the launch policy."""
        try:
            settings = editor_settings(
                self.launch_policy, {**self.init_options, **self.config_options}
            )
        except PolicyError as exc:
            self.show(lsp.MessageType.Error, f"codex-bridge: settings not applied: {exc}")
            return
        self.settings = settings
        self.service.reconfigure(settings.policy)
        for note in settings.notes:
            self.show(lsp.MessageType.Warning, f"codex-bridge: {note}")
        for note in settings.ignored:  # clients pass their own options along: no pop-up
            self.log(lsp.MessageType.Log, f"codex-bridge: {note}")

    async def pull_configuration(self) -> None:
        try:
            values = await self.workspace_configuration_async(
                lsp.ConfigurationParams(items=[lsp.ConfigurationItem(section="codex")])
            )
        except JsonRpcException as exc:
            self.log(lsp.MessageType.Warning, f"codex-bridge: no workspace configuration: {exc}")
            return
        self.config_options = normalise(values[0] if values else None)
        self.apply_settings()

    # ------------------------------------------------------------------ workspace
    def folders(self) -> list[str]:
        """Local workspace folders, the root first."""
        try:
            workspace = self.workspace
        except RuntimeError:  # not initialized yet
            return []
        found = [workspace.root_path] if workspace.root_path else []
        for folder in workspace.folders.values():
            path = local_path(folder.uri)
            if path is not None:
                found.append(path)
        return [path for path in dict.fromkeys(found) if os.path.isdir(path)]

    def folder_for(self, path: str) -> str:
        """The workspace folder holding ``path`` (the innermost), else its directory."""
        holding = [f for f in self.folders() if Path(path).is_relative_to(f)]
        return max(holding, key=len) if holding else os.path.dirname(path)

    def open_buffers(self) -> list[buffers.OpenBuffer]:
        try:
            documents = list(self.workspace.text_documents.values())
        except RuntimeError:
            return []
        return [
            buffers.OpenBuffer(uri=doc.uri, path=doc.path, version=doc.version, text=doc.source)
            for doc in documents
            if doc.uri.startswith("file:")
        ]

    def write_sandbox(self) -> str:
        """workspace-write, or the ceiling when that is lower."""
        return self.service.policy.clamp_sandbox(SandboxMode.WORKSPACE_WRITE).value

    def actions_for(self, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
        """Code actions at a selection: string work only, codex starts when one is run."""
        document = self.workspace.get_text_document(params.text_document.uri)
        if not document.uri.startswith("file:"):
            return []
        start, end = params.range.start, params.range.end
        # A selection of whole lines ends at column 0 of the line after it.
        last = end.line - 1 if end.line > start.line and end.character == 0 else end.line
        selection = Selection(
            path=document.path,
            cwd=self.folder_for(document.path),
            start_line=start.line,
            lines=tuple(document.lines[start.line : last + 1]),
            text=document.text_in_client_range(params.range) if start != end else "",
        )
        only = params.context.only
        focus: dict[str, Any] = {"document": document.uri, "position": _point(start)}
        if start != end:
            focus["selection"] = {"start": _point(start), "end": _point(end)}
        return code_actions(
            selection,
            params.context.diagnostics,
            write_sandbox=self.write_sandbox(),
            last=self.service.continue_target(),
            only=[str(getattr(kind, "value", kind)) for kind in only] if only else None,
            focus=focus,
        )

    # ------------------------------------------------------------------ runs
    async def start_run(
        self,
        kind: Literal["run", "resume", "fork"],
        params: RunParams | ResumeParams | ForkParams,
        *,
        wait: bool,
        focus: Focus | None = None,
        review: bool | None = None,
    ) -> dict[str, Any]:
        """Start a service job; answer at once, or (``wait``) when it ends.

        ``review`` (default: the setting) runs codex on an isolated copy when it may write."""
        command = f"codex.{kind}"
        cwd = self.service.checked_cwd(params)  # every policy check, before anything else
        places = self.places()
        document = self._focused(command, focus, places)
        context = resolve(
            focus,
            path=document.path if document else None,
            selected=lambda r: document.text_in_client_range(_lsp_range(r)) if document else "",
            cwd=cwd,
        )
        open_now = self.open_buffers()
        isolated = self._reviews(params, review)
        if self.settings.share_unsaved_buffers:
            context.unsaved, context.in_copy = unsaved(open_now, places), isolated
        run = Run(kind, params.prompt, work_done_token.get() if wait else None)
        params = msgspec.structs.replace(params, prompt=prompt_with_context(params.prompt, context))
        snapshot = None
        if isolated:
            root = editor_review.review_root(cwd, self.folders(), self.service.policy.allowed_roots)
            snapshot = await editor_review.isolate(
                root, open_now, self.settings.share_unsaved_buffers, places
            )
        else:
            run.before = buffers.snapshot(open_now)
        try:
            with running_in(snapshot.inside(cwd)) if snapshot else contextlib.nullcontext():
                asks = self.supports("window.show_message")
                info = self.service.start_job(
                    params,
                    on_progress=lambda u: self._on_update(run, u),
                    on_approval=message_request_handler(self._ask, lambda: run.job_id)
                    if asks
                    else None,
                    approvals_unavailable=None
                    if asks
                    else "this editor cannot show message requests (window/showMessageRequest)",
                )
        except BaseException:
            if snapshot is not None:
                snapshot.remove()
            raise
        run.snapshot = snapshot
        run.job_id = info.job_id
        self.runs[info.job_id] = run
        run.transcript = self._transcript_for(run, params)
        run.task = asyncio.ensure_future(self._follow(run))
        if wait:
            try:
                info = await asyncio.shield(run.task)
            except asyncio.CancelledError:  # $/cancelRequest, or shutdown
                await self.service.cancel_job(run.job_id)
                raise
        result = job_result(info)
        if run.review is not None:
            result["review"] = run.review
        if run.transcript is not None:
            result["transcript"] = run.transcript.uri
        return result

    def places(self) -> list[str]:
        """Where the editor's text may go to codex: the allowed roots, else the workspace."""
        return list(self.service.policy.allowed_roots) or self.folders()

    def _focused(self, command: str, focus: Focus | None, places: list[str]) -> Any:
        """The focused document (its buffer, else the file), once it is known to be inside
        ``places``: nothing outside them is read."""
        if focus is None or focus.document is None:
            return None
        path = local_path(focus.document)
        if path is None:
            raise InvalidRequest(
                f"{command}: document must be a file URI, got {focus.document[:200]!r}"
            )
        if not inside(path, places):
            raise PolicyRefused(
                f"{command}: document {focus.document[:200]!r} is outside the allowed roots "
                "(or the workspace); its text is not sent to codex"
            )
        return self.workspace.get_text_document(focus.document)

    def _reviews(self, params: RunParams | ResumeParams | ForkParams, review: bool | None) -> bool:
        """Review mode applies: asked for (or the setting), and codex may write."""
        if not (self.settings.review if review is None else review):
            return False
        if not self.service.policy.may_write(params.sandbox):
            return False
        if getattr(params, "add_dirs", None):  # codex could write there, outside the copy
            raise InvalidRequest(
                "add_dirs cannot be used in review mode: codex would write to them directly. "
                'Pass "review": false to run directly, or leave add_dirs out'
            )
        return True

    def transcript_directory(self) -> str:
        if self._transcripts is None:
            self._transcripts = tempfile.mkdtemp(prefix="codex-bridge-lsp-")
        return self._transcripts

    def _transcript_for(
        self, run: Run, params: RunParams | ResumeParams | ForkParams
    ) -> Transcript:
        if self.transcripts is None:
            self.transcripts = Transcripts(self.transcript_directory())
        thread = None
        if run.kind == "resume":
            thread = getattr(params, "session_name", None) or getattr(params, "thread_id", None)
        transcript = self.transcripts.for_run(
            run.job_id, f"Codex {run.kind} {run.job_id}", thread=thread
        )
        mode = "review" if run.snapshot is not None else "direct"
        transcript.start_turn(f"{run.kind} {run.job_id} ({mode})", params.prompt)
        return transcript

    def send_status(self) -> None:
        self.protocol.notify(STATUS_METHOD, status_payload(self.service, self.codex_version))

    async def _ask(self, params: lsp.ShowMessageRequestParams) -> lsp.MessageActionItem | None:
        return await self.window_show_message_request_async(params)

    def _on_update(self, run: Run, update: ProgressUpdate) -> None:
        event = update.event
        if isinstance(event, ItemCompleted) and isinstance(event.item, AgentMessageItem):
            if run.transcript is not None:
                run.transcript.settle(event.item.id, "\n" + event.item.text + "\n")
            self.log(lsp.MessageType.Info, f"codex [{run.job_id}]: {event.item.text}")
        elif isinstance(event, AgentMessageDelta):
            if run.transcript is not None:
                run.transcript.add_live(event.item_id, update.message)
            self.log(lsp.MessageType.Log, f"codex [{run.job_id}] {update.message}")
        else:
            if run.transcript is not None:
                run.transcript.add(f"- {update.message}")
            self.log(lsp.MessageType.Log, f"codex [{run.job_id}] {update.message}")
        if run.transcript is not None:
            try:
                run.transcript.flush()
            except OSError as exc:
                logger.warning("transcript of %s not written: %s", run.job_id, exc)
        if run.token is None:
            run.pending.append(update.message)
        else:
            self.work_done_progress.report(
                run.token, lsp.WorkDoneProgressReport(message=update.message)
            )

    async def _follow(self, run: Run) -> JobInfo:
        """Progress begin → reports (from ``_on_update``) → end, then the results."""
        try:
            return await self._follow_run(run)
        finally:
            if run.snapshot is not None:  # review mode: the copy never outlives its run
                await asyncio.to_thread(run.snapshot.remove)
            if self._closing is None:
                self.send_status()

    async def _follow_run(self, run: Run) -> JobInfo:
        try:
            await begin_progress(self, run)
        except Exception:  # no progress bar, but the run and its answer go on
            logger.exception("progress for run %s failed", run.job_id)
        try:
            await open_transcript(self, run)
        except Exception:  # best effort, like the progress
            logger.exception("transcript for run %s failed", run.job_id)
        if self.codex_version is None:
            self.codex_version = await codex_version(self.service)
        self.send_status()
        info = self.service.job_status(run.job_id)
        while info.state in _UNFINISHED:
            info = await self.service.wait_job(run.job_id, timeout_seconds=3600)
        if run.token is not None:
            self.work_done_progress.end(
                run.token, lsp.WorkDoneProgressEnd(message=job_summary(info))
            )
            self.work_done_progress.tokens.pop(run.token, None)
        if self._closing is None:
            try:
                await report(self, run, info)
            except Exception:  # the run's own result stands; reporting is best effort
                logger.exception("reporting run %s failed", run.job_id)
        self._prune_runs()
        return info

    def _prune_runs(self) -> None:
        prune_finished(
            self.runs,
            lambda run: bool(run.task and run.task.done()),
            self.service.policy.max_finished_jobs,
        )

    def transcript_of(self, params: Any) -> dict[str, Any]:
        """The ``codex/transcript`` answer for ``{"run_id"}`` or ``{"uri"}``."""

        def field(name: str) -> Any:  # pygls hands custom params over as an object
            return params.get(name) if isinstance(params, dict) else getattr(params, name, None)

        run_id, uri = field("run_id"), field("uri")
        found = None
        if self.transcripts is not None:
            if isinstance(run_id, str):
                found = self.transcripts.of_run(run_id)
            elif isinstance(uri, str):
                found = self.transcripts.by_uri(uri)
        if found is None:
            raise Refusal(
                message=f"{TRANSCRIPT_METHOD}: no transcript for {run_id or uri!r}; pass the "
                "run_id a run answered with, or a transcript's uri",
                data={"code": "invalid_request"},
            )
        return {"uri": found.uri, "version": found.version, "text": found.text()}

    async def cancel_token(self, token: lsp.ProgressToken) -> None:
        for run in list(self.runs.values()):
            if run.token == token and run.task is not None and not run.task.done():
                await self.service.cancel_job(run.job_id)

    # ------------------------------------------------------------------ lifecycle
    async def close(self) -> None:
        """Kill every codex process this server started; safe to call more than once."""
        if self._closing is None:
            self._closing = asyncio.ensure_future(self._close())
        await asyncio.shield(self._closing)

    async def _close(self) -> None:
        await self.service.aclose()
        followers = [run.task for run in self.runs.values() if run.task and not run.task.done()]
        if followers:  # they end their progress; bounded in case the client stopped reading
            await asyncio.wait(followers, timeout=CLIENT_WAIT_SECONDS)
        for run in self.runs.values():  # a copy whose review the user never answered
            if run.snapshot is not None:
                run.snapshot.remove()
        if self._transcripts is not None:
            shutil.rmtree(self._transcripts, ignore_errors=True)


def job_result(info: JobInfo) -> dict[str, Any]:
    """A job as a command's answer: its fields, and its id as ``run_id`` too."""
    result: dict[str, Any] = msgspec.to_builtins(info)
    result["run_id"] = info.job_id
    return result


def _point(position: lsp.Position) -> dict[str, int]:
    return {"line": position.line, "character": position.character}


def _lsp_range(selection: Any) -> lsp.Range:
    start, end = selection.start, selection.end
    return lsp.Range(
        start=lsp.Position(line=start.line, character=start.character),
        end=lsp.Position(line=end.line, character=end.character),
    )


def local_path(uri: str) -> str | None:
    return to_fs_path(uri) if uri.startswith("file:") else None
