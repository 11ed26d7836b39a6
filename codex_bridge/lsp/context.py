"""The editor's context for a run: the focused document, cursor, selection and (opt-in) the
unsaved text of open buffers.

``codex.run``/``resume``/``fork`` (and the code actions' commands) may carry::

    {"document": "file:///…/calc.py",                      the focused document
     "position": {"line": 3, "character": 4},              the cursor
     "selection": {"start": {…}, "end": {…}}}              the selection

The server quotes the text from its own copy of the buffer (didOpen/didChange), so prompts
show what the user sees, not the file on disk. Documents outside the allowed roots (or, with
no roots, outside the workspace folders) are refused before anything reads them; unsaved
buffers are shared only when ``share_unsaved_buffers`` is on, and only inside the same places.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import msgspec

from ..errors import InvalidRequest
from .buffers import OpenBuffer, disk_text

__all__ = ["EditorContext", "Focus", "pop_context", "prompt_with_context", "resolve", "unsaved"]

_MAX_QUOTED = 8000  # characters of a selection in a prompt
_MAX_BUFFER = 64 * 1024  # characters of one unsaved buffer in a prompt
_MAX_BUFFERS = 256 * 1024  # ... and of all of them


class Position(msgspec.Struct, frozen=True):
    line: int
    character: int


class Range(msgspec.Struct, frozen=True):
    start: Position
    end: Position


class Focus(msgspec.Struct, kw_only=True, frozen=True):
    """What the client said the user is looking at."""

    document: str | None = None
    position: Position | None = None
    selection: Range | None = None


class EditorContext(msgspec.Struct, kw_only=True):
    """The context as the server resolved it."""

    path: str | None = None
    shown_path: str | None = None
    cursor: Position | None = None
    selection: Range | None = None
    selected_text: str = ""
    unsaved: list[OpenBuffer] = msgspec.field(default_factory=list)
    cwd: str | None = None
    in_copy: bool = False
    """Review mode: the unsaved buffers are in codex's copy of the workspace, as the editor
    shows them, so the prompt only names them."""


def pop_context(command: str, named: dict[str, Any]) -> Focus | None:
    """Remove the editor-context arguments from ``named``; None when there are none."""
    raw = {key: named.pop(key) for key in ("document", "position", "selection") if key in named}
    if not raw:
        return None
    try:
        return msgspec.convert(raw, Focus)
    except msgspec.ValidationError as exc:
        raise InvalidRequest(
            f"{command}: invalid editor context: {exc} (document is a file URI, position "
            '{"line", "character"}, selection {"start", "end"})'
        ) from None


def inside(path: str, places: Sequence[str]) -> bool:
    resolved = Path(os.path.realpath(path))
    return any(resolved.is_relative_to(os.path.realpath(place)) for place in places)


def unsaved(buffers: Sequence[OpenBuffer], places: Sequence[str]) -> list[OpenBuffer]:
    """Open buffers inside ``places`` whose text differs from their file on disk."""
    return [
        buffer
        for buffer in buffers
        if inside(buffer.path, places) and buffer.text != disk_text(buffer.path)
    ]


def resolve(
    focus: Focus | None,
    *,
    path: str | None,
    selected: Callable[[Range], str],
    cwd: str | None,
) -> EditorContext:
    """The context of ``focus`` on the document at ``path`` (already checked to be inside
    the places the editor's text may go); ``selected`` gives a range's text from the buffer."""
    context = EditorContext(cwd=cwd)
    if focus is None or focus.document is None or path is None:
        return context
    context.path = path
    context.shown_path = shown(path, cwd)
    context.cursor = focus.position
    if focus.selection is not None and focus.selection.start != focus.selection.end:
        start, end = focus.selection.start, focus.selection.end
        if (start.line, start.character) > (end.line, end.character):
            start, end = end, start
        context.selection = Range(start=start, end=end)
        context.selected_text = selected(context.selection)
    return context


def prompt_with_context(prompt: str, context: EditorContext) -> str:
    """``prompt`` followed by what the editor shows, when there is anything to add."""
    parts: list[str] = []
    if context.shown_path is not None:
        where = f"The user is working in {context.shown_path}"
        if context.cursor is not None:
            where += (
                f", cursor at line {context.cursor.line + 1}, column {context.cursor.character + 1}"
            )
        parts.append(where + ".")
    text = context.selected_text
    if context.selection is not None and text.strip() and text.strip() not in prompt:
        first, last = context.selection.start.line + 1, context.selection.end.line + 1
        lines = f"line {first}" if first == last else f"lines {first}-{last}"
        note = ""
        if len(text) > _MAX_QUOTED:
            text, note = text[:_MAX_QUOTED], "\n(selection shortened; read the file for the rest)"
        parts.append(f"Selected ({lines}), as the editor shows it:\n```\n{text}\n```{note}")
    if context.unsaved:
        names = ", ".join(shown(b.path, context.cwd) for b in context.unsaved)
        if context.in_copy:
            parts.append(
                f"These files have unsaved changes in the editor; the workspace you see holds "
                f"their editor text: {names}."
            )
        else:
            parts.append(
                "These files have unsaved changes in the editor; their text there differs from "
                "the file on disk and is quoted here (work from it):"
            )
            budget = _MAX_BUFFERS
            for buffer in context.unsaved:
                quoted = buffer.text[: min(_MAX_BUFFER, budget)]
                budget -= len(quoted)
                cut = "\n(shortened)" if len(quoted) < len(buffer.text) else ""
                parts.append(f"{shown(buffer.path, context.cwd)}:\n```\n{quoted}\n```{cut}")
                if budget <= 0:
                    break
    if not parts:
        return prompt
    return prompt + "\n\n## Editor context\n" + "\n\n".join(parts)


def shown(path: str, cwd: str | None) -> str:
    """``path`` as codex sees it: relative to where it runs when inside it."""
    return os.path.relpath(path, cwd) if cwd and inside(path, [cwd]) else path
