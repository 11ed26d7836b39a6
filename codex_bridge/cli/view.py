"""The live view of a run on a terminal."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

from codex_local_sdk import (
    AgentMessageItem,
    CommandExecutionItem,
    ErrorEvent,
    FileChangeItem,
    ItemCompleted,
    ItemStarted,
    ThreadEvent,
    ThreadStarted,
)

from ..launch import PROG
from ..progress import display_command
from ..rendering import change_verb
from ..service import ForkParams, ProgressUpdate, ResumeParams, RunOutcome, RunParams
from .output import describe_usage, duration, home_relative, plural

if TYPE_CHECKING:
    from rich.console import Console, RenderableType


class TerminalView:
    """The live view of one run on a terminal (rich): a spinner line with the elapsed time
    and what Codex is doing, above it a log of commands, file changes and warnings."""

    def __init__(self, console: Console, params: RunParams | ResumeParams | ForkParams) -> None:
        from rich.live import Live
        from rich.spinner import Spinner

        self.console = console
        self.started = time.monotonic()
        self.activity = "starting codex…"
        self.command: str | None = None
        self.files: list[str] = []
        self.thread_id: str | None = None
        self._pending_message: str | None = None
        self._shown_warnings: set[str] = set()
        cwd = getattr(params, "cwd", None)
        self._cwd = os.path.abspath(cwd) if cwd else os.getcwd()
        self._spinner = Spinner("dots", style="cyan")
        self._live = Live(self, console=console, refresh_per_second=8, transient=True)

    def __enter__(self) -> TerminalView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._live.stop()

    def pause(self) -> None:
        """Stop redrawing (a prompt is shown)."""
        self._live.stop()

    def resume(self) -> None:
        self._live.start()

    def __rich__(self) -> RenderableType:
        from rich.text import Text

        elapsed = time.monotonic() - self.started
        doing = f"$ {self.command}" if self.command else self.activity
        line = Text.assemble(
            (f"{duration(elapsed)} ", "bold cyan"), (doing, "cyan" if self.command else "")
        )
        if self.files:
            line.append(f"  · {plural(len(self.files), 'file')} changed", style="green")
        line.truncate(max(20, self.console.width - 4), overflow="ellipsis")
        self._spinner.update(text=line)
        return self._spinner

    # ---- callbacks (on the event loop; the Live thread only reads this state)
    def on_progress(self, update: ProgressUpdate) -> None:
        self.activity = update.message

    def on_event(self, event: ThreadEvent) -> None:
        from rich.text import Text

        if isinstance(event, ThreadStarted):
            if self.thread_id is not None and event.thread_id != self.thread_id:
                # A new thread within one run: the SDK retries a transient failure.
                self.console.print(Text("retrying on a new thread…", style="yellow"))
            self.thread_id = event.thread_id
            return
        if isinstance(event, ErrorEvent):
            self._shown_warnings.add(event.message)
            self.console.print(Text(f"warning: {event.message}", style="yellow"))
            return
        if not isinstance(event, (ItemStarted, ItemCompleted)):
            return
        item = event.item
        if isinstance(item, AgentMessageItem):
            if isinstance(event, ItemCompleted) and item.text:
                self._flush_message()
                # Held back: if it turns out to be the final message it is shown as Markdown.
                self._pending_message = item.text
            return
        self._flush_message()
        if isinstance(item, CommandExecutionItem):
            command = display_command(item.command)
            if isinstance(event, ItemStarted):
                self.command = command
                return
            self.command = None
            failed = item.exit_code not in (0, None)
            status = f"exit {item.exit_code}" if item.exit_code is not None else item.status
            self.console.print(
                Text.assemble(
                    ("$ ", "bold"), (command, "bold"), (f"  ({status})", "red" if failed else "dim")
                )
            )
        elif isinstance(item, FileChangeItem) and isinstance(event, ItemCompleted):
            for change in item.changes:
                verb = change_verb(change.kind)
                if change.path not in self.files:
                    self.files.append(change.path)
                self.console.print(
                    Text.assemble((f"{verb} ", "green"), self._shown_path(change.path))
                )

    def _shown_path(self, path: str) -> str:
        if path.startswith(self._cwd + os.sep):
            return os.path.relpath(path, self._cwd)
        return home_relative(path)

    def _flush_message(self) -> None:
        from rich.text import Text

        if self._pending_message is not None:
            self.console.print(Text(self._pending_message, style="italic"))
            self._pending_message = None

    # ---- the end
    def interrupted(self) -> None:
        self.console.print("interrupted: codex was stopped", style="yellow")

    def finish(self, outcome: RunOutcome) -> None:
        from rich.markdown import Markdown
        from rich.text import Text

        console = self.console
        if self._pending_message is not None and self._pending_message != outcome.final_message:
            self._flush_message()
        if outcome.structured_output is not None:
            console.print_json(data=outcome.structured_output)
        elif outcome.final_message:
            console.print(Markdown(outcome.final_message))
        for warning in outcome.warnings:
            if warning not in self._shown_warnings:
                console.print(Text(f"warning: {warning}", style="yellow"))
        if outcome.error is not None:
            console.print(
                Text(
                    f"✗ codex {outcome.status}: {outcome.error.message} [{outcome.error.kind}]",
                    style="bold red",
                )
            )
        console.print(Text(self._footer(outcome), style="dim"))

    @staticmethod
    def _footer(outcome: RunOutcome) -> str:
        mark = "✓" if outcome.ok else "✗"
        summary = [f"{mark} {outcome.status} in {duration(outcome.duration_seconds)}"]
        if outcome.files_changed:
            summary.append(plural(len(outcome.files_changed), "file") + " changed")
        usage = outcome.turn_usage or outcome.usage
        if usage is not None:
            summary.append("tokens " + describe_usage(usage))
        where = []
        if outcome.session_name:
            where.append(f"session {outcome.session_name}")
        if outcome.thread_id:
            where.append(f"thread {outcome.thread_id}")
        lines = [" · ".join(summary), " · ".join(where)]
        target = outcome.session_name or outcome.thread_id
        if target:
            lines.append(f"continue with: {PROG} resume {target} PROMPT")
        return "\n".join(line for line in lines if line)
