"""Code actions: cheap to list, and none of them starts codex by itself.

Each action only carries a ``codex.run`` / ``codex.resume`` command with a prompt built
from the selection; codex starts when the editor executes that command. No action has the
``source.fixAll`` kind, which editors run on save.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from typing import Any

import msgspec
from lsprotocol import types as lsp

from ..rendering import short
from ..service import ThreadTarget

__all__ = [
    "KINDS",
    "Selection",
    "code_actions",
]

FIX = lsp.CodeActionKind.QuickFix.value
COMMENT = "refactor.codex.comment"
EXPLAIN = "refactor.codex.explain"
TESTS = "refactor.codex.tests"
CONTINUE = "refactor.codex.continue"
KINDS = (FIX, COMMENT, EXPLAIN, TESTS, CONTINUE)

_MAX_SELECTION = 6000
_MAX_DIAGNOSTICS = 5
_MAX_COMMENTS = 3
_SHOWN = 60  # characters of a diagnostic or instruction in an action's title
_CODEX_COMMENT = re.compile(
    r"(?:#|//|--|;|%|/\*+|\*|<!--|\")\s*codex:\s*(?P<text>.+?)\s*(?:\*/|-->)?\s*$", re.I
)


class Selection(msgspec.Struct, kw_only=True, frozen=True):
    """Where the editor asks for actions."""

    path: str
    cwd: str | None
    start_line: int
    """0-based, like LSP positions."""
    lines: tuple[str, ...]
    """The document's lines from ``start_line`` through the end of the range."""
    text: str
    """The selected text; empty for a plain cursor."""

    @property
    def end_line(self) -> int:
        return self.start_line + max(0, len(self.lines) - 1)

    @property
    def shown_path(self) -> str:
        """The path as codex sees it: relative to where it runs when inside it."""
        if self.cwd and os.path.commonpath([self.cwd, self.path]) == self.cwd:
            return os.path.relpath(self.path, self.cwd)
        return self.path

    def where(self) -> str:
        first, last = self.start_line + 1, self.end_line + 1
        shown = self.shown_path
        return f"{shown} line {first}" if first == last else f"{shown} lines {first}-{last}"

    def quoted(self) -> str:
        text = self.text
        note = ""
        if len(text) > _MAX_SELECTION:
            text, note = (
                text[:_MAX_SELECTION],
                "\n(selection shortened; read the file for the rest)",
            )
        return f"\n\n```\n{text}\n```{note}"


def _label(last: ThreadTarget) -> str:
    return repr(last.session_name) if last.session_name else f"thread {last.thread_id}"


def _target(last: ThreadTarget) -> dict[str, str]:
    if last.session_name:
        return {"session_name": last.session_name}
    return {"thread_id": last.thread_id or ""}


def code_actions(
    selection: Selection,
    diagnostics: Sequence[lsp.Diagnostic],
    *,
    write_sandbox: str,
    last: ThreadTarget | None = None,
    only: Sequence[str] | None = None,
    focus: dict[str, Any] | None = None,
) -> list[lsp.CodeAction]:
    """The actions for ``selection``, restricted to the kinds in ``only`` when given.

    ``focus`` (the document and selection, see ``codex_bridge.lsp.context``) goes into every
    command, so the run knows where the user is."""
    where = selection.where()
    actions: list[lsp.CodeAction] = []
    for diagnostic in list(diagnostics)[:_MAX_DIAGNOSTICS]:
        origin = ", ".join(
            str(part) for part in (diagnostic.source, diagnostic.code) if part is not None
        )
        prompt = (
            f"Fix this problem in {selection.shown_path} at line "
            f"{diagnostic.range.start.line + 1}"
            + (f" (reported by {origin})" if origin else "")
            + f":\n{diagnostic.message}\n\nMake the smallest change that fixes it."
        )
        actions.append(
            _action(
                f"Codex: fix “{short(diagnostic.message, _SHOWN)}”",
                FIX,
                "codex.run",
                {"prompt": prompt, "sandbox": write_sandbox},
                selection.cwd,
                diagnostics=[diagnostic],
            )
        )
    for offset, line in enumerate(selection.lines):
        match = _CODEX_COMMENT.search(line)
        if match is None or len(actions) >= _MAX_DIAGNOSTICS + _MAX_COMMENTS:
            continue
        instruction = match.group("text")
        prompt = (
            f"{selection.shown_path} line {selection.start_line + offset + 1} has the instruction "
            f"comment `codex: {instruction}`. Do what it says, then remove that comment."
        )
        actions.append(
            _action(
                f"Codex: do “{short(instruction, _SHOWN)}”",
                COMMENT,
                "codex.run",
                {"prompt": prompt, "sandbox": write_sandbox},
                selection.cwd,
            )
        )
    if selection.text.strip():
        explain = f"Explain what this code in {where} does. Do not change any file."
        actions.append(
            _action(
                "Codex: explain the selection",
                EXPLAIN,
                "codex.run",
                {"prompt": explain + selection.quoted(), "sandbox": "read-only"},
                selection.cwd,
            )
        )
        tests = (
            f"Write tests for this code in {where}. Follow the project's existing test "
            "layout and conventions, and run the new tests."
        )
        actions.append(
            _action(
                "Codex: write tests for the selection",
                TESTS,
                "codex.run",
                {"prompt": tests + selection.quoted(), "sandbox": write_sandbox},
                selection.cwd,
            )
        )
    if last is not None:
        prompt = f"Continue where you left off, now working in {where}."
        if selection.text.strip():
            prompt += selection.quoted()
        actions.append(
            _action(
                f"Codex: continue session {_label(last)} here",
                CONTINUE,
                "codex.resume",
                {**_target(last), "prompt": prompt, "sandbox": write_sandbox},
                selection.cwd,
            )
        )
    for action in actions:
        arguments = action.command.arguments if action.command is not None else None
        if focus and arguments and isinstance(arguments[0], dict):
            arguments[0].update(focus)
    return [action for action in actions if _wanted(action.kind, only)]


def _action(
    title: str,
    kind: str,
    command: str,
    arguments: dict[str, Any],
    cwd: str | None,
    *,
    diagnostics: list[lsp.Diagnostic] | None = None,
) -> lsp.CodeAction:
    if cwd is not None:
        arguments["cwd"] = cwd
    return lsp.CodeAction(
        title=title,
        kind=kind,
        diagnostics=diagnostics,
        command=lsp.Command(title=title, command=command, arguments=[arguments]),
    )


def _wanted(kind: str | None, only: Sequence[str] | None) -> bool:
    if not only:
        return True
    kind = kind or ""
    return any(not wanted or kind == wanted or kind.startswith(wanted + ".") for wanted in only)
