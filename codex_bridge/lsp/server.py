"""The language server: Codex for editors, over stdio (``codex-bridge lsp``).

Standard LSP only, so generic clients work without an extension:

* ``workspace/executeCommand``: ``codex.run``, ``codex.resume``, ``codex.fork``,
  ``codex.cancel``, ``codex.status`` and ``codex.sessions.list|show|rename|delete``, with
  one object or positional strings as arguments (see ``codex_bridge.lsp.arguments``);
* work-done progress for each run (cancellable), agent messages to ``window/logMessage``,
  a short summary to ``window/showMessage``, a live transcript via ``window/showDocument``
  (and the ``codex/transcript`` request), ``codex/status`` notifications for status lines;
* review mode (default for runs that may write): codex works on an isolated copy and its
  changes come back as one reviewable ``workspace/applyEdit`` (``codex_bridge.lsp.review``);
* the editor's context (focused document, cursor, selection, opt-in unsaved buffers) in
  prompts (``codex_bridge.lsp.context``);
* code actions that carry a codex command and never start codex themselves;
* direct mode: open, unmodified buffers refreshed with ``workspace/applyEdit`` when codex
  changed their files; a warning instead when the buffer has unsaved edits.

Policy, jobs, sessions and progress text belong to :class:`BridgeService`; this module is
protocol glue. It also closes three gaps of pygls 2.1 (see :class:`_Protocol`):
``$/cancelRequest`` does not reach a running ``workspace/executeCommand`` handler, a
cancelled command handler can leave its request unanswered, and a reply to a server request
that was given up raises ``InvalidStateError``. Shutdown, exit, SIGTERM and stdin closing
all kill every codex process group before the server goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import cattrs
import msgspec
from lsprotocol import types as lsp
from pygls.capabilities import get_capability
from pygls.exceptions import (
    JsonRpcException,
    JsonRpcInternalError,
    JsonRpcInvalidParams,
)
from pygls.io_ import StdinAsyncReader, StdoutWriter
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import JsonRPCRequestMessage, MsgId
from pygls.uris import to_fs_path

from codex_local_sdk import AgentMessageDelta, AgentMessageItem, ItemCompleted, SandboxMode

from . import __version__
from .launch import ServeOptions, server_main
from .lsp import buffers, editor_review
from .lsp.approvals import message_request_handler
from .lsp.arguments import named_arguments, pop_flag, split_target
from .lsp.code_actions import KINDS, LastThread, Selection, code_actions
from .lsp.context import Focus, inside, pop_context, prompt_with_context, resolve, unsaved
from .lsp.isolation import Snapshot
from .lsp.settings import EditorSettings, editor_settings, normalise
from .lsp.status import STATUS_METHOD, codex_version, status_payload
from .lsp.transcript import Transcript, Transcripts
from .policy import SANDBOX_RANK, BridgePolicy, PolicyError
from .rendering import job_summary, short
from .service import (
    BridgeError,
    BridgeService,
    ForkParams,
    JobInfo,
    ProgressUpdate,
    ResumeParams,
    RunParams,
    SessionRenameParams,
    parse_params,
    running_in,
)
from .signals import until_signal
from .wire import INVALID_PARAMS, INVALID_REQUEST, Refused, inspect_message

__all__ = ["COMMANDS", "CodexLanguageServer", "build_server", "main", "serve"]

logger = logging.getLogger("codex_bridge.lsp")

COMMANDS = (
    "codex.run",
    "codex.resume",
    "codex.fork",
    "codex.cancel",
    "codex.status",
    "codex.sessions.list",
    "codex.sessions.show",
    "codex.sessions.rename",
    "codex.sessions.delete",
    "codex.steer",
)
_MAX_SHOWN = 240  # characters of an answer in window/showMessage; the rest is in the transcript
TRANSCRIPT_METHOD = "codex/transcript"
_CLIENT_WAIT_SECONDS = 10.0  # for the client to answer a progress-create request
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_CONTENT_LENGTH = re.compile(rb"^Content-Length: *(\d+)\r?\n$", re.I)
_MAX_MESSAGE_BYTES = 256 * 1024 * 1024
_DISCARD_CHUNK = 1024 * 1024
_UNFINISHED = ("queued", "running")
_work_done_token: contextvars.ContextVar[lsp.ProgressToken | None] = contextvars.ContextVar(
    "codex_work_done_token", default=None
)


class _Refusal(JsonRpcInvalidParams):
    """A command refused for bad input or policy; its message says what to do instead."""


class _Protocol(LanguageServerProtocol):
    """pygls' protocol with the gaps that matter for long-running commands closed."""

    _server: CodexLanguageServer

    @lsp_method(lsp.INITIALIZE)
    def lsp_initialize(self, params: lsp.InitializeParams) -> Any:
        result: lsp.InitializeResult = yield from super().lsp_initialize(params)
        # Tell clients they may pass a workDoneToken with executeCommand.
        if result.capabilities.execute_command_provider is not None:
            result.capabilities.execute_command_provider.work_done_progress = True
        return result

    @lsp_method(lsp.WORKSPACE_EXECUTE_COMMAND)
    async def lsp_workspace__execute_command(  # type: ignore[override]
        self, params: lsp.ExecuteCommandParams
    ) -> Any:
        # pygls runs commands as a sub-task of a generator, which $/cancelRequest and
        # shutdown cannot reach. As one coroutine the command is the request's own task:
        # cancelling the request cancels the command, and pygls answers it.
        handler = self.fm.commands.get(params.command)
        if handler is None:
            raise _Refusal(
                message=f"unknown command {params.command!r}; known: {', '.join(COMMANDS)}",
                data={"code": "invalid_request"},
            )
        reset = _work_done_token.set(params.work_done_token)
        try:
            return await handler(*(params.arguments or ()))
        except BridgeError as exc:
            failed = exc.code in ("codex", "codex_unavailable")
            code = int(lsp.LSPErrorCodes.RequestFailed) if failed else None
            raise _Refusal(message=exc.message, code=code, data={"code": exc.code}) from None
        except (JsonRpcException, asyncio.CancelledError):
            raise
        except Exception as exc:
            logger.exception("command %s failed", params.command)
            raise JsonRpcInternalError(message=f"{params.command} failed: {exc!r}") from None
        finally:
            _work_done_token.reset(reset)

    def _send_handler_result(self, future: Any, *, msg_id: MsgId) -> None:
        failure = None if future.cancelled() else future.exception()
        if isinstance(failure, _Refusal):  # bad input: an answer, not a logged traceback
            self._request_futures.pop(msg_id, None)
            self._send_response(msg_id, error=failure.to_response_error())
            return
        super()._send_handler_result(future, msg_id=msg_id)

    def _handle_response(
        self, msg_id: MsgId, result: Any | None = None, error: Any | None = None
    ) -> None:
        future = self._request_futures.get(msg_id)
        if future is not None and future.done():
            # We stopped waiting (a run was cancelled); pygls would raise InvalidStateError.
            self._request_futures.pop(msg_id, None)
            return
        super()._handle_response(msg_id, result, error)


class _Run:
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


class CodexLanguageServer(LanguageServer):
    """The language server state: the service, the editor's settings and this server's runs."""

    def __init__(self, policy: BridgePolicy, service: BridgeService | None = None) -> None:
        super().__init__("codex-bridge", __version__, protocol_cls=_Protocol)
        self.launch_policy = policy
        self.service = service or BridgeService(policy)
        self.settings = EditorSettings(policy=self.service.policy)
        self.init_options: dict[str, Any] = {}
        self.config_options: dict[str, Any] = {}
        self.runs: dict[str, _Run] = {}
        self._last_thread: LastThread | None = None
        self._last_thread_known = False
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
            path = _local_path(folder.uri)
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
        ceiling = self.service.policy.sandbox_ceiling
        writable = SandboxMode.WORKSPACE_WRITE
        return writable.value if SANDBOX_RANK[ceiling] >= SANDBOX_RANK[writable] else ceiling.value

    def last_thread(self) -> LastThread | None:
        """The thread "continue here" resumes: this server's last, else the newest session."""
        if not self._last_thread_known:
            self._last_thread_known = True
            with contextlib.suppress(BridgeError):
                sessions = self.service.list_sessions()
                if sessions:
                    newest = max(sessions, key=lambda s: s.updated_at)
                    self._last_thread = LastThread(session_name=newest.name)
        return self._last_thread

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
            last=self.last_thread(),
            only=[str(getattr(kind, "value", kind)) for kind in only] if only else None,
            focus=focus,
        )

    def forget_last_thread(self) -> None:
        """Sessions were renamed or deleted: look the newest one up again when needed."""
        self._last_thread, self._last_thread_known = None, False

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
        run = _Run(kind, params.prompt, _work_done_token.get() if wait else None)
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
                    kind,
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
        result = _job_result(info)
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
        path = _local_path(focus.document)
        if path is None:
            raise BridgeError(
                f"{command}: document must be a file URI, got {focus.document[:200]!r}"
            )
        if not inside(path, places):
            raise BridgeError(
                f"{command}: document {focus.document[:200]!r} is outside the allowed roots "
                "(or the workspace); its text is not sent to codex",
                code="policy",
            )
        return self.workspace.get_text_document(focus.document)

    def _reviews(self, params: RunParams | ResumeParams | ForkParams, review: bool | None) -> bool:
        """Review mode applies: asked for (or the setting), and codex may write."""
        if not (self.settings.review if review is None else review):
            return False
        sandbox = params.sandbox or self.service.policy.default_sandbox
        if SANDBOX_RANK[SandboxMode(sandbox)] <= SANDBOX_RANK[SandboxMode.READ_ONLY]:
            return False
        if getattr(params, "add_dirs", None):  # codex could write there, outside the copy
            raise BridgeError(
                "add_dirs cannot be used in review mode: codex would write to them directly. "
                'Pass "review": false to run directly, or leave add_dirs out'
            )
        return True

    def transcript_directory(self) -> str:
        if self._transcripts is None:
            self._transcripts = tempfile.mkdtemp(prefix="codex-bridge-lsp-")
        return self._transcripts

    def _transcript_for(
        self, run: _Run, params: RunParams | ResumeParams | ForkParams
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

    def _on_update(self, run: _Run, update: ProgressUpdate) -> None:
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

    async def _follow(self, run: _Run) -> JobInfo:
        """Progress begin → reports (from ``_on_update``) → end, then the results."""
        try:
            return await self._follow_run(run)
        finally:
            if run.snapshot is not None:  # review mode: the copy never outlives its run
                await asyncio.to_thread(run.snapshot.remove)
            if self._closing is None:
                self.send_status()

    async def _follow_run(self, run: _Run) -> JobInfo:
        try:
            await self._begin_progress(run)
        except Exception:  # no progress bar, but the run and its answer go on
            logger.exception("progress for run %s failed", run.job_id)
        try:
            await self._open_transcript(run)
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
        if info.outcome is not None and info.outcome.thread_id:
            self._last_thread = LastThread(
                session_name=info.outcome.session_name, thread_id=info.outcome.thread_id
            )
            self._last_thread_known = True
        if self._closing is None:
            try:
                await self._report(run, info)
            except Exception:  # the run's own result stands; reporting is best effort
                logger.exception("reporting run %s failed", run.job_id)
        self._prune_runs()
        return info

    def _prune_runs(self) -> None:
        finished = [key for key, run in self.runs.items() if run.task and run.task.done()]
        for key in finished[: max(0, len(finished) - self.service.policy.max_finished_jobs)]:
            del self.runs[key]

    async def _begin_progress(self, run: _Run) -> None:
        token = run.client_token
        if token is None:
            if not self.supports("window.work_done_progress"):
                return
            token = f"codex-{run.job_id}"
            try:
                await asyncio.wait_for(
                    self.work_done_progress.create_async(token), _CLIENT_WAIT_SECONDS
                )
            except (asyncio.TimeoutError, JsonRpcException) as exc:
                logger.warning("no progress for %s: %s", run.job_id, exc)
                return
        self.work_done_progress.begin(
            token,
            lsp.WorkDoneProgressBegin(
                title=f"Codex {run.kind}", message=short(run.prompt, 80), cancellable=True
            ),
        )
        run.token = token
        for message in run.pending:
            self.work_done_progress.report(token, lsp.WorkDoneProgressReport(message=message))
        run.pending.clear()

    async def _report(self, run: _Run, info: JobInfo) -> None:
        outcome = info.outcome
        if outcome is not None:
            answer = outcome.final_message or outcome.to_text()
            text = _short_answer(answer)
            if text != " ".join(answer.split()):
                where = "transcript" if self._shows_transcript() else "log"
                text += f" (the full answer is in the {where})"
            self.show(
                lsp.MessageType.Info if outcome.ok else lsp.MessageType.Warning, f"Codex: {text}"
            )
            self.log(lsp.MessageType.Info, f"codex [{run.job_id}] {outcome.to_text()}")
        else:
            self.show(
                lsp.MessageType.Warning, f"Codex {run.kind} {info.job_id}: {job_summary(info)}"
            )
        if run.snapshot is not None:
            if outcome is not None and outcome.status != "cancelled":
                why = short(outcome.final_message or "", 300)
                run.review = await editor_review.offer(self, run.job_id, run.snapshot, why)
        else:
            await self._refresh_buffers(run, outcome.files_changed if outcome else [])
        self._finish_transcript(run, info)

    def _shows_transcript(self) -> bool:
        return self.settings.show_transcript and self.supports("window.show_document.support")

    async def _open_transcript(self, run: _Run) -> None:
        transcript = run.transcript
        if transcript is None:
            return
        await asyncio.to_thread(transcript.flush, force=True)
        if self._shows_transcript():
            await self.window_show_document_async(
                lsp.ShowDocumentParams(uri=transcript.uri, take_focus=False)
            )

    def _finish_transcript(self, run: _Run, info: JobInfo) -> None:
        transcript = run.transcript
        if transcript is None or self.transcripts is None:
            return
        if info.outcome is not None:
            transcript.section("Result", info.outcome.to_text())
            self.transcripts.remember(transcript, info.outcome.session_name, info.outcome.thread_id)
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

    async def _refresh_buffers(self, run: _Run, reported: list[str]) -> None:
        plan = buffers.plan_refresh(self.open_buffers(), run.before, reported)
        can_edit = self.supports("workspace.apply_edit")
        for buffer, text in plan.reload:
            if not can_edit:
                self.show(lsp.MessageType.Info, f"Codex changed {buffer.path}; reload it.")
                continue
            result = await self.workspace_apply_edit_async(
                lsp.ApplyWorkspaceEditParams(
                    edit=self._replace_all(buffer, text), label="Codex changed this file"
                )
            )
            if not result.applied:
                self.log(
                    lsp.MessageType.Warning,
                    f"{buffer.path} not refreshed: {result.failure_reason or 'refused'}",
                )
        for buffer in plan.conflicts:
            self.show(
                lsp.MessageType.Warning,
                f"Codex changed {buffer.path} on disk, but its buffer has unsaved edits, so "
                "it was not reloaded. Compare, then save or revert.",
            )

    def _replace_all(self, buffer: buffers.OpenBuffer, text: str) -> lsp.WorkspaceEdit:
        lines = _LINE_BREAK.split(buffer.text)
        end = lsp.Position(
            line=len(lines) - 1,
            character=self.workspace.position_codec.client_num_units(lines[-1]),
        )
        edit = lsp.TextEdit(range=lsp.Range(start=lsp.Position(0, 0), end=end), new_text=text)
        if self.supports("workspace.workspace_edit.document_changes"):
            document = lsp.OptionalVersionedTextDocumentIdentifier(
                uri=buffer.uri, version=buffer.version
            )
            return lsp.WorkspaceEdit(
                document_changes=[lsp.TextDocumentEdit(text_document=document, edits=[edit])]
            )
        return lsp.WorkspaceEdit(changes={buffer.uri: [edit]})

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
            raise _Refusal(
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
            await asyncio.wait(followers, timeout=_CLIENT_WAIT_SECONDS)
        for run in self.runs.values():  # a copy whose review the user never answered
            if run.snapshot is not None:
                run.snapshot.remove()
        if self._transcripts is not None:
            shutil.rmtree(self._transcripts, ignore_errors=True)


# --------------------------------------------------------------------------- handlers

_Handler = Callable[..., Awaitable[Any]]


def _run_command(
    kind: Literal["run", "resume", "fork"],
    params_type: type[RunParams] | type[ResumeParams] | type[ForkParams],
    positional: tuple[str, ...],
) -> _Handler:
    command = f"codex.{kind}"

    async def handler(ls: CodexLanguageServer, *arguments: Any) -> Any:
        named = named_arguments(command, arguments, positional)
        split_target(command, named)
        wait = pop_flag(command, named, "wait")
        review = named.pop("review", None)
        if not isinstance(review, bool | None):
            raise BridgeError(f"{command}: review must be true or false")
        focus = pop_context(command, named)
        if kind == "run" and named.get("cwd") is None and ls.service.policy.default_cwd is None:
            folders = ls.folders()
            if folders:  # an editor's own cwd is arbitrary; its workspace is what it means
                named["cwd"] = folders[0]
        params = parse_params(params_type, named)
        return await ls.start_run(kind, params, wait=wait, focus=focus, review=review)

    return handler


async def _cancel(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = _only("codex.cancel", arguments, ("run_id",), optional=("run_id",))
    run_id = named.get("run_id")
    ids = [run_id] if run_id else [i for i, r in ls.runs.items() if r.task and not r.task.done()]
    return {"cancelled": [_job_result(await ls.service.cancel_job(i)) for i in ids]}


async def _status(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.status", arguments, ("run_id",))
    doctor = pop_flag("codex.status", named, "doctor")
    named = _only("codex.status", [named], (), optional=("run_id",))
    if named.get("run_id"):
        return _job_result(ls.service.job_status(named["run_id"]))
    engine = ls.service.engine_status()
    result: dict[str, Any] = {
        "version": __version__,
        "engine": msgspec.to_builtins(engine) if engine is not None else None,
        "policy": ls.service.policy.describe(),
        "runs": [_job_result(info) for info in ls.service.list_jobs()],
    }
    if doctor:  # runs codex --version and login status: never part of initialize
        result["doctor"] = msgspec.to_builtins(await asyncio.to_thread(ls.service.doctor))
    return result


async def _steer(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.steer", arguments, ("run_id", "prompt"))
    target = str(named.pop("run_id", "") or "")
    prompt = named.pop("prompt", None)
    thread_id = named.pop("thread_id", None)
    if named:
        raise BridgeError(f"codex.steer: unknown argument(s) {', '.join(sorted(named))}")
    if not isinstance(prompt, str):
        raise BridgeError("codex.steer: prompt is required")
    if thread_id is None and not target:
        raise BridgeError("codex.steer: name the run (run_id) or the thread (thread_id)")
    info = await ls.service.steer(
        prompt, job_id=target or None, thread_id=str(thread_id) if thread_id else None
    )
    return msgspec.to_builtins(info)


async def _sessions_list(ls: CodexLanguageServer, *arguments: Any) -> Any:
    _only("codex.sessions.list", arguments, ())
    return msgspec.to_builtins(await asyncio.to_thread(ls.service.list_sessions))


async def _sessions_show(ls: CodexLanguageServer, *arguments: Any) -> Any:
    name = _only("codex.sessions.show", arguments, ("name",))["name"]
    return msgspec.to_builtins(await asyncio.to_thread(ls.service.show_session, name))


async def _sessions_rename(ls: CodexLanguageServer, *arguments: Any) -> Any:
    named = named_arguments("codex.sessions.rename", arguments, ("name", "new_name"))
    params = parse_params(SessionRenameParams, named)
    info = await asyncio.to_thread(ls.service.rename_session, params.name, params.new_name)
    ls.forget_last_thread()
    return msgspec.to_builtins(info)


async def _sessions_delete(ls: CodexLanguageServer, *arguments: Any) -> Any:
    name = _only("codex.sessions.delete", arguments, ("name",))["name"]
    info = await asyncio.to_thread(ls.service.delete_session, name)
    ls.forget_last_thread()
    return msgspec.to_builtins(info)


def _only(
    command: str,
    arguments: Sequence[Any],
    positional: tuple[str, ...],
    *,
    optional: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Named string arguments: all of ``positional`` required unless ``optional``."""
    named = named_arguments(command, arguments, positional)
    unknown = sorted(set(named) - set(positional) - set(optional))
    if unknown:
        raise BridgeError(f"{command}: unknown argument(s) {', '.join(unknown)}")
    for name in positional:
        if name not in optional and not named.get(name):
            raise BridgeError(f"{command}: {name} is required")
        if name in named and not isinstance(named[name], str):
            raise BridgeError(f"{command}: {name} must be a string")
    return named


_HANDLERS: dict[str, _Handler] = {
    "codex.run": _run_command("run", RunParams, ("prompt", "session_name")),
    "codex.resume": _run_command("resume", ResumeParams, ("target", "prompt")),
    "codex.fork": _run_command("fork", ForkParams, ("target", "prompt", "new_session_name")),
    "codex.cancel": _cancel,
    "codex.status": _status,
    "codex.sessions.list": _sessions_list,
    "codex.sessions.show": _sessions_show,
    "codex.sessions.rename": _sessions_rename,
    "codex.sessions.delete": _sessions_delete,
    "codex.steer": _steer,
}


def build_server(policy: BridgePolicy, service: BridgeService | None = None) -> LanguageServer:
    """A language server over ``service`` (default: a new one with ``policy``).

    The server closes the service when the editor shuts it down."""
    server = CodexLanguageServer(policy, service)

    for name, handler in _HANDLERS.items():
        server.command(name)(handler)

    @server.feature(lsp.INITIALIZE)
    def initialize(ls: CodexLanguageServer, params: lsp.InitializeParams) -> None:
        # Answers at once: settings only, no codex call.
        ls.init_options = normalise(params.initialization_options)
        if ls.init_options:
            ls.apply_settings()

    @server.feature(lsp.INITIALIZED)
    async def initialized(ls: CodexLanguageServer, params: lsp.InitializedParams) -> None:
        ls.service.start_engine_check()  # in the background
        ls.send_status()
        if ls.supports("workspace.configuration"):
            await ls.pull_configuration()

    @server.feature(TRANSCRIPT_METHOD)
    def transcript(ls: CodexLanguageServer, params: Any) -> dict[str, Any]:
        """``{"run_id": ...}`` or ``{"uri": ...}`` → the transcript's uri, version and text."""
        return ls.transcript_of(params)

    @server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def configuration_changed(
        ls: CodexLanguageServer, params: lsp.DidChangeConfigurationParams
    ) -> None:
        if ls.supports("workspace.configuration"):
            await ls.pull_configuration()
        else:
            ls.config_options = normalise(params.settings)
            ls.apply_settings()

    @server.feature(
        lsp.TEXT_DOCUMENT_CODE_ACTION,
        lsp.CodeActionOptions(code_action_kinds=list(KINDS), resolve_provider=False),
    )
    def code_action(
        ls: CodexLanguageServer, params: lsp.CodeActionParams
    ) -> list[lsp.CodeAction] | None:
        return ls.actions_for(params)

    @server.feature(lsp.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    async def progress_cancelled(
        ls: CodexLanguageServer, params: lsp.WorkDoneProgressCancelParams
    ) -> None:
        await ls.cancel_token(params.token)

    @server.feature(lsp.SHUTDOWN)
    async def shutdown(ls: CodexLanguageServer, params: None) -> None:
        await ls.close()

    @server.feature(lsp.EXIT)
    async def exit_(ls: CodexLanguageServer, params: None) -> None:
        await ls.close()

    return server


# --------------------------------------------------------------------------- helpers


def _job_result(info: JobInfo) -> dict[str, Any]:
    result: dict[str, Any] = msgspec.to_builtins(info)
    result["run_id"] = info.job_id
    return result


def _short_answer(text: str) -> str:
    """The answer's first paragraph, on one line and at most ``_MAX_SHOWN`` characters."""
    first = next((p for p in re.split(r"\n\s*\n", text.strip()) if p.strip()), "")
    return short(first, _MAX_SHOWN)


def _point(position: lsp.Position) -> dict[str, int]:
    return {"line": position.line, "character": position.character}


def _lsp_range(selection: Any) -> lsp.Range:
    start, end = selection.start, selection.end
    return lsp.Range(
        start=lsp.Position(line=start.line, character=start.character),
        end=lsp.Position(line=end.line, character=end.character),
    )


def _local_path(uri: str) -> str | None:
    return to_fs_path(uri) if uri.startswith("file:") else None


# --------------------------------------------------------------------------- stdio


class _PipeReader:
    """stdin as an asyncio stream: no reader thread left blocking the exit."""

    def __init__(self, stream: asyncio.StreamReader) -> None:
        self._stream = stream

    async def readline(self) -> bytes:
        return await self._stream.readline()

    async def readexactly(self, n: int) -> bytes:
        try:
            return await self._stream.readexactly(n)
        except asyncio.IncompleteReadError:
            return b""


async def _stdin_reader(server: LanguageServer) -> Any:
    loop = asyncio.get_running_loop()
    stream = asyncio.StreamReader(loop=loop)
    try:
        await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(stream, loop=loop), sys.stdin.buffer
        )
    except (OSError, ValueError):  # stdin is a regular file: read it in a thread
        return StdinAsyncReader(sys.stdin.buffer, server.thread_pool)
    return _PipeReader(stream)


async def _read_messages(reader: Any, protocol: _Protocol) -> None:
    """pygls' ``run_async`` loop, with every request answered.

    pygls 2.1 logs and drops a request whose body is not JSON or whose params do not match
    the method's type, and one that arrives after ``shutdown``: its client would wait forever.
    Here those get a JSON-RPC error saying what is wrong (see :mod:`codex_bridge.wire`).
    """
    content_length = 0
    while True:
        header = await reader.readline()
        if not header:
            return
        if not content_length:
            match = _CONTENT_LENGTH.fullmatch(header)
            if match:
                content_length = int(match.group(1))
        if content_length and not header.strip():
            length, content_length = content_length, 0
            if length > _MAX_MESSAGE_BYTES:
                if not await _discard(reader, length):
                    return
                _answer(
                    protocol,
                    Refused(
                        INVALID_REQUEST,
                        f"message of {length:,} bytes is "
                        f"too large (at most {_MAX_MESSAGE_BYTES:,})",
                        None,
                        True,
                    ),
                )
                continue
            body = await reader.readexactly(length)
            if not body:
                return
            try:
                _handle_body(protocol, body)
            except Exception:  # the loop must go on, whatever one message does
                logger.exception("could not handle a message")


async def _discard(reader: Any, length: int) -> bool:
    while length > 0:
        chunk = await reader.readexactly(min(length, _DISCARD_CHUNK))
        if not chunk:
            return False
        length -= len(chunk)
    return True


def _handle_body(protocol: _Protocol, body: bytes) -> None:
    data, refused = inspect_message(body)
    if refused is not None:
        _answer(protocol, refused)
        return
    method = data.get("method")
    if not ("id" in data and isinstance(method, str)):
        # Notifications and responses: nobody waits for an answer; pygls logs what is wrong.
        with contextlib.suppress(JsonRpcException):
            protocol.handle_message(protocol.structure_message(data))
        return
    request_id = data["id"]
    if protocol._shutdown and method != lsp.EXIT:
        refused = Refused(
            INVALID_REQUEST, f"{method}: the server is shutting down", request_id, True
        )
        _answer(protocol, refused)
        return
    params = data.get("params")
    arguments = params.get("arguments") if isinstance(params, dict) else None
    if method == lsp.WORKSPACE_EXECUTE_COMMAND and not isinstance(arguments, list | None):
        # cattrs would turn a string into a list of characters, an object into its keys.
        message = f"Invalid params for {method!r}: arguments must be an array (see README)"
        _answer(protocol, Refused(INVALID_PARAMS, message, request_id, True))
        return
    request_type = protocol.get_message_type(method) or JsonRPCRequestMessage
    try:
        message = protocol._converter.structure(data, request_type)
    except Exception as exc:
        problems = (
            cattrs.transform_error(exc)
            if isinstance(exc, cattrs.BaseValidationError)
            else [str(exc)]
        )
        detail = "; ".join(problems[:3]).replace("$.", "")
        _answer(
            protocol,
            Refused(INVALID_PARAMS, f"Invalid params for {method!r}: {detail}", request_id, True),
        )
        return
    protocol.handle_message(message)


def _answer(protocol: _Protocol, refused: Refused) -> None:
    logger.info("refused a malformed message: %s", refused.message)
    if refused.is_request:
        protocol._send_data(refused.response())


async def _serve_stdio(server: CodexLanguageServer) -> None:
    server.protocol.set_writer(StdoutWriter(sys.stdout.buffer))
    protocol = server.protocol
    assert isinstance(protocol, _Protocol)

    async def read() -> None:
        await _read_messages(await _stdin_reader(server), protocol)

    await until_signal(read, server.close)


def serve(policy: BridgePolicy, options: ServeOptions | None = None) -> None:
    """Serve the language server on stdin/stdout until the editor exits or closes stdin
    (``options``, the MCP server's, do not apply)."""
    server = build_server(policy)
    assert isinstance(server, CodexLanguageServer)
    asyncio.run(_serve_stdio(server))


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m codex_bridge.lsp_server [policy flags]``: the same as ``codex-bridge lsp``."""
    return server_main("lsp", argv)


if __name__ == "__main__":
    raise SystemExit(main())
