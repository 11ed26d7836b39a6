"""Review mode: what codex changed in an isolated copy, as one reviewable ``WorkspaceEdit``.

:func:`propose` turns the :class:`~codex_bridge.lsp.isolation.FileChange` list of a run into
``documentChanges`` (minimal text hunks, created, renamed and deleted files), each file with
a change annotation (``needsConfirmation``) when the client supports them, against what the
editor holds *now*: an open buffer's text (from didOpen/didChange), else the file on disk.
When the user edited a file during the run, codex's hunks are merged with theirs (a
three-way merge over lines); overlapping edits are refused for that file, never clobbered.

Every target path is checked: relative, no ``..``, and resolving (symlinks included) inside
the workspace root, which the server already checked against the allowed roots.
"""

from __future__ import annotations

import difflib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import msgspec
from lsprotocol import types as lsp

from .buffers import OpenBuffer
from .isolation import FileChange

__all__ = [
    "ClientEditSupport",
    "Proposal",
    "merge3",
    "propose",
    "safe_target",
    "text_edits",
]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")
_MAX_DIFF_CHARS = 400_000

Units = Callable[[str], int]
"""The length of a line in the client's position encoding (UTF-16 code units by default)."""


class ClientEditSupport(msgspec.Struct, kw_only=True, frozen=True):
    """What the client's ``workspace/applyEdit`` understands."""

    document_changes: bool = False
    resource_operations: frozenset[str] = frozenset()
    """``create``, ``rename``, ``delete``."""
    annotations: bool = False


class Refused(msgspec.Struct, kw_only=True, frozen=True):
    path: str
    reason: str


class Proposal(msgspec.Struct, kw_only=True):
    """The edit to offer, and what it leaves out."""

    root: str
    edit: lsp.WorkspaceEdit | None
    files: list[str]
    """The paths the edit touches (relative to the root), in order."""
    on_disk: list[FileChange] = msgspec.field(default_factory=list)
    """File operations the client cannot do itself: the server does them after "Apply"."""
    refused: list[Refused] = msgspec.field(default_factory=list)
    diff: str = ""
    """A unified diff of everything proposed, for "Show diff" and the transcript."""
    insertions: int = 0
    deletions: int = 0

    def summary(self) -> str:
        count = len(self.files)
        text = f"{count} file{'s' if count != 1 else ''} (+{self.insertions} -{self.deletions})"
        if count:
            shown = ", ".join(self.files[:4]) + (", …" if count > 4 else "")
            text += f": {shown}"
        return text


def lines_of(text: str) -> list[str]:
    """Lines with their endings, split where LSP splits them (``\\r\\n``, ``\\r``, ``\\n``)."""
    return _LINE.findall(text)


def _end_of(lines: Sequence[str], units: Units) -> lsp.Position:
    if not lines:
        return lsp.Position(line=0, character=0)
    last = lines[-1]
    if last.endswith(("\n", "\r")):
        return lsp.Position(line=len(lines), character=0)
    return lsp.Position(line=len(lines) - 1, character=units(last))


def text_edits(old: str, new: str, units: Units) -> list[lsp.TextEdit]:
    """The smallest whole-line edits that turn ``old`` into ``new``."""
    before, after = lines_of(old), lines_of(new)
    edits: list[lsp.TextEdit] = []
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        start = lsp.Position(line=i1, character=0) if i1 < len(before) else _end_of(before, units)
        end = lsp.Position(line=i2, character=0) if i2 < len(before) else _end_of(before, units)
        edits.append(
            lsp.TextEdit(range=lsp.Range(start=start, end=end), new_text="".join(after[j1:j2]))
        )
    return edits


def merge3(base: str, ours: str, theirs: str) -> str | None:
    """``base`` with both the user's (``ours``) and codex's (``theirs``) line changes, or
    None when they touch the same or adjacent lines."""
    if ours in (base, theirs):
        return theirs
    if theirs == base:
        return ours
    b, o, t = lines_of(base), lines_of(ours), lines_of(theirs)

    def hunks(other: list[str]) -> list[tuple[int, int, list[str]]]:
        matcher = difflib.SequenceMatcher(None, b, other, autojunk=False)
        return [
            (i1, i2, other[j1:j2])
            for tag, i1, i2, j1, j2 in matcher.get_opcodes()
            if tag != "equal"
        ]

    mine, codex = hunks(o), hunks(t)
    for a1, a2, a_text in mine:
        for c1, c2, c_text in codex:
            if a1 <= c2 and c1 <= a2 and (a1, a2, a_text) != (c1, c2, c_text):
                return None
    merged: list[str] = []
    position = 0
    for i1, i2, text in sorted({(i1, i2, tuple(text)) for i1, i2, text in mine + codex}):
        merged += b[position:i1] + list(text)
        position = i2
    return "".join(merged + b[position:])


def safe_target(root: str, rel: str) -> str | None:
    """The absolute path of ``rel`` under ``root`` when writing it cannot leave ``root``."""
    if not rel or os.path.isabs(rel) or "\0" in rel or os.pardir in Path(rel).parts:
        return None
    target = os.path.join(root, rel)
    if os.path.islink(target):
        return None
    existing = target
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not Path(os.path.realpath(existing)).is_relative_to(root):
        return None
    return target


def _decode(data: bytes | None) -> str | None:
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _now(target: str, buffers: Mapping[str, OpenBuffer]) -> tuple[str | None, OpenBuffer | None]:
    """What the editor holds for ``target`` now: its buffer, else the file on disk."""
    buffer = buffers.get(os.path.normcase(os.path.realpath(target)))
    if buffer is not None:
        return buffer.text, buffer
    try:
        with open(target, encoding="utf-8", newline="") as handle:
            return handle.read(), None
    except (OSError, UnicodeDecodeError):
        return None, None


def _diff(rel: str, old: str, new: str, new_rel: str | None = None) -> tuple[str, int, int]:
    lines = list(
        difflib.unified_diff(
            lines_of(old),
            lines_of(new),
            fromfile=f"a/{rel}" if old or new_rel else "/dev/null",
            tofile=f"b/{new_rel or rel}" if new else "/dev/null",
        )
    )
    plus = sum(1 for line in lines if line.startswith("+") and not line.startswith("+++"))
    minus = sum(1 for line in lines if line.startswith("-") and not line.startswith("---"))
    text = "".join(line if line.endswith(("\n", "\r")) else line + "\n" for line in lines)
    return text, plus, minus


Kind = Literal["modify", "create", "delete", "rename"]


def propose(
    root: str,
    changes: Sequence[FileChange],
    open_buffers: Sequence[OpenBuffer],
    support: ClientEditSupport,
    *,
    units: Units,
    why: str = "",
) -> Proposal:
    """The workspace edit for ``changes`` (relative to ``root``) against the editor's state."""
    buffers = {os.path.normcase(os.path.realpath(b.path)): b for b in open_buffers}
    proposal = Proposal(root=root, edit=None, files=[])
    document_changes: list[
        lsp.TextDocumentEdit | lsp.CreateFile | lsp.RenameFile | lsp.DeleteFile
    ] = []
    plain: dict[str, list[lsp.TextEdit]] = {}
    annotations: dict[str, lsp.ChangeAnnotation] = {}
    diffs: list[str] = []

    def refuse(rel: str, reason: str) -> None:
        proposal.refused.append(Refused(path=rel, reason=reason))

    def annotate(
        rel: str, kind: Kind, plus: int, minus: int, new_rel: str | None = None
    ) -> str | None:
        if not support.annotations:
            return None
        key = f"codex-{len(annotations) + 1}"
        verb = {"modify": "edit", "create": "create", "delete": "delete", "rename": "rename"}[kind]
        label = f"Codex: {verb} {rel}" + (f" → {new_rel}" if new_rel else "")
        description = f"Codex {verb}s {new_rel or rel} (+{plus} -{minus})."
        if why:
            description += f" {why}"
        annotations[key] = lsp.ChangeAnnotation(
            label=label, needs_confirmation=True, description=description
        )
        return key

    def text_change(
        uri: str, version: int | None, edits: list[lsp.TextEdit], key: str | None
    ) -> None:
        if not edits:
            return
        if not support.document_changes:
            plain.setdefault(uri, []).extend(edits)
            return
        annotated: list[lsp.TextEdit | lsp.AnnotatedTextEdit | lsp.SnippetTextEdit] = [
            lsp.AnnotatedTextEdit(range=e.range, new_text=e.new_text, annotation_id=key)
            if key is not None
            else e
            for e in edits
        ]
        document_changes.append(
            lsp.TextDocumentEdit(
                text_document=lsp.OptionalVersionedTextDocumentIdentifier(uri=uri, version=version),
                edits=annotated,
            )
        )

    def can(operation: str) -> bool:
        return support.document_changes and operation in support.resource_operations

    for change in changes:
        rel = change.path
        target = safe_target(root, rel)
        new_target = safe_target(root, change.new_path) if change.new_path else None
        if target is None or (change.new_path and new_target is None):
            refuse(change.new_path or rel, "its path leaves the workspace; not applied")
            continue
        before, after = _decode(change.before), _decode(change.after)
        if (change.after is not None and after is None) or (
            change.kind in ("modify", "rename") and change.before is not None and before is None
        ):
            refuse(rel, "not UTF-8 text; review cannot carry it (use direct mode)")
            continue
        current, buffer = _now(target, buffers)
        if change.kind == "create":
            if os.path.lexists(target):
                refuse(rel, "the file appeared in the workspace during the run; not overwritten")
                continue
            text, plus, minus = _diff(rel, "", after or "")
            key = annotate(rel, "create", plus, minus)
            uri = Path(target).as_uri()
            if can("create"):
                document_changes.append(
                    lsp.CreateFile(
                        uri=uri,
                        options=lsp.CreateFileOptions(overwrite=False, ignore_if_exists=False),
                        annotation_id=key,
                    )
                )
                text_change(uri, None, text_edits("", after or "", units), key)
            else:
                proposal.on_disk.append(change)
        elif change.kind == "delete":
            if buffer is not None and before is not None and buffer.text != before:
                refuse(rel, "its buffer has unsaved edits; not deleted")
                continue
            if current is not None and before is not None and current != before:
                refuse(rel, "it changed during the run; not deleted")
                continue
            text, plus, minus = _diff(rel, before or current or "", "")
            key = annotate(rel, "delete", plus, minus)
            if can("delete"):
                document_changes.append(
                    lsp.DeleteFile(uri=Path(target).as_uri(), annotation_id=key)
                )
            else:
                proposal.on_disk.append(change)
        else:  # modify, rename
            if before is None or current is None:
                refuse(
                    rel,
                    "its text before the run is not known (changed on disk meanwhile, or too "
                    "large); not applied",
                )
                continue
            merged = merge3(before, current, after or "")
            if merged is None:
                refuse(rel, "you edited the same lines during the run; not applied (see the diff)")
                diffs.append(_diff(rel, before, after or "", change.new_path)[0])
                continue
            if change.kind == "rename" and new_target is not None:
                if os.path.lexists(new_target):
                    refuse(rel, f"{change.new_path} exists in the workspace; not renamed")
                    continue
                if buffer is not None and buffer.text != before:
                    refuse(rel, "its buffer has unsaved edits; not renamed")
                    continue
                text, plus, minus = _diff(rel, before, after or "", change.new_path)
                key = annotate(rel, "rename", plus, minus, change.new_path)
                if not can("rename"):
                    proposal.on_disk.append(change)
                    diffs.append(text)
                    proposal.files.append(f"{rel} → {change.new_path}")
                    proposal.insertions += plus
                    proposal.deletions += minus
                    continue
                new_uri = Path(new_target).as_uri()
                document_changes.append(
                    lsp.RenameFile(
                        old_uri=Path(target).as_uri(),
                        new_uri=new_uri,
                        options=lsp.RenameFileOptions(overwrite=False),
                        annotation_id=key,
                    )
                )
                text_change(new_uri, None, text_edits(current, merged, units), key)
                diffs.append(text)
                proposal.files.append(f"{rel} → {change.new_path}")
                proposal.insertions += plus
                proposal.deletions += minus
                continue
            text, plus, minus = _diff(rel, current, merged)
            key = annotate(rel, "modify", plus, minus)
            version = buffer.version if buffer is not None else None
            text_change(Path(target).as_uri(), version, text_edits(current, merged, units), key)
        diffs.append(text)
        proposal.files.append(rel)
        proposal.insertions += plus
        proposal.deletions += minus
    diff = "".join(diffs)
    if len(diff) > _MAX_DIFF_CHARS:
        diff = diff[:_MAX_DIFF_CHARS] + "\n… (diff shortened)\n"
    proposal.diff = diff
    if document_changes or plain:
        proposal.edit = lsp.WorkspaceEdit(
            document_changes=document_changes or None,
            changes=plain or None,
            change_annotations=annotations or None,
        )
    return proposal


def apply_on_disk(root: str, changes: Sequence[FileChange]) -> list[str]:
    """Do the file operations the client cannot (after the user chose Apply); problems."""
    problems: list[str] = []
    for change in changes:
        target = safe_target(root, change.path)
        new_target = safe_target(root, change.new_path) if change.new_path else None
        try:
            if target is None or (change.new_path and new_target is None):
                raise OSError("the path leaves the workspace")
            if change.kind == "create":
                os.makedirs(os.path.dirname(target), exist_ok=True)
                with open(target, "xb") as handle:
                    handle.write(change.after or b"")
            elif change.kind == "delete":
                os.unlink(target)
            elif change.kind == "rename" and new_target is not None:
                os.makedirs(os.path.dirname(new_target), exist_ok=True)
                if os.path.lexists(new_target):
                    raise FileExistsError(change.new_path)
                os.rename(target, new_target)
                with open(new_target, "wb") as handle:
                    handle.write(change.after or b"")
        except OSError as exc:
            problems.append(f"{change.new_path or change.path}: {exc}")
    return problems
