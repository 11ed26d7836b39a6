"""Review mode, editor context, live transcripts and status in the language server.

A real LSP client (pytest-lsp) drives ``python -m codex_bridge.lsp`` with the fake
codex, whose ``[[fake:fs=...]]`` directive really changes files where it runs: in review mode
that is the server's isolated copy, so the workspace must stay as it was until the client
applies the edit the server proposes.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
from typing import Any

import pytest
from lsprotocol import types as lsp
from pytest_lsp import client_capabilities

from codex_bridge.lsp.buffers import OpenBuffer
from codex_bridge.lsp.isolation import FileChange, changes_in, make_snapshot
from codex_bridge.lsp.review import ClientEditSupport, merge3, propose, safe_target, text_edits
from tests.support.lsp_client import (
    CodexTestClient,
    StartServer,
)
from tests.support.waiting import wait_until_async

WRITE = "workspace-write"


@pytest.fixture
def workspace(tmp_path: pathlib.Path) -> pathlib.Path:
    path = tmp_path / "work"
    path.mkdir()
    (path / "a.txt").write_text("one\ntwo\nthree\n")
    (path / "old.txt").write_text("moving\nalong\n")
    (path / "gone.txt").write_text("bye\n")
    return path


@pytest.fixture
def temp_dir(tmp_path: pathlib.Path) -> pathlib.Path:
    """The server's TMPDIR: where its copies and transcripts go."""
    path = tmp_path / "server-tmp"
    path.mkdir()
    return path


@pytest.fixture
def lsp_env(lsp_env: dict[str, str], temp_dir: pathlib.Path) -> dict[str, str]:
    return {**lsp_env, "TMPDIR": str(temp_dir)}


async def execute(client: CodexTestClient, command: str, *arguments: Any) -> Any:
    return await client.workspace_execute_command_async(
        lsp.ExecuteCommandParams(command=command, arguments=list(arguments))
    )


async def transcript_request(client: CodexTestClient, params: dict[str, str]) -> Any:
    return await client.protocol.send_request_async("codex/transcript", params)  # type: ignore[no-untyped-call]


def tree(root: pathlib.Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def copies_left(temp_dir: pathlib.Path) -> list[str]:
    return [p.name for p in temp_dir.iterdir() if p.name.startswith("codex-bridge-review-")]


def open_document(client: CodexTestClient, path: pathlib.Path, text: str, version: int = 1) -> str:
    uri = path.as_uri()
    client.text_document_did_open(
        lsp.DidOpenTextDocumentParams(
            text_document=lsp.TextDocumentItem(
                uri=uri, language_id="plaintext", version=version, text=text
            )
        )
    )
    return uri


EDITS = (
    "[[fake:fs=replace:a.txt:two>TWO;create:new/made.txt;delete:gone.txt;"
    "rename:old.txt>moved.txt]] tidy up"
)


# --------------------------------------------------------------------------- review


async def test_review_run_proposes_annotated_document_changes_and_waits_for_the_editor(
    launch: StartServer, workspace: pathlib.Path, temp_dir: pathlib.Path
) -> None:
    client = await launch()
    before = tree(workspace)
    uri = open_document(client, workspace / "a.txt", "one\ntwo\nthree\n", version=7)
    seen_on_disk: list[dict[str, str]] = []
    real_handler = client.protocol.fm.features[lsp.WORKSPACE_APPLY_EDIT]

    def apply_edit(
        params: lsp.ApplyWorkspaceEditParams,
    ) -> lsp.ApplyWorkspaceEditResult:
        seen_on_disk.append(tree(workspace))  # what the workspace holds when asked
        return real_handler(params)  # type: ignore[no-any-return]

    client.protocol.fm.features[lsp.WORKSPACE_APPLY_EDIT] = apply_edit

    result = await execute(client, "codex.run", {"prompt": EDITS, "sandbox": WRITE, "wait": True})
    assert result["state"] == "completed"
    review = result["review"]
    assert review["state"] == "applied"
    assert sorted(review["files"]) == sorted(
        ["a.txt", "gone.txt", "new/made.txt", "old.txt → moved.txt"]
    )
    assert seen_on_disk == [before]  # codex wrote only into its copy
    assert tree(workspace) == before  # the test client does not apply edits itself
    assert copies_left(temp_dir) == []

    [applied] = client.applied_edits
    edit = applied.edit
    assert edit.changes is None and edit.document_changes is not None
    annotations = edit.change_annotations or {}
    assert annotations and all(a.needs_confirmation for a in annotations.values())
    assert {a.label for a in annotations.values()} == {
        "Codex: edit a.txt",
        "Codex: create new/made.txt",
        "Codex: delete gone.txt",
        "Codex: rename old.txt → moved.txt",
    }
    assert all(a.description and a.description.startswith("Codex ") for a in annotations.values())
    by_kind: dict[str, list[Any]] = {}
    for change in edit.document_changes:
        by_kind.setdefault(type(change).__name__, []).append(change)
    text_edits_for = {c.text_document.uri: c for c in by_kind["TextDocumentEdit"]}
    a_edit = text_edits_for[uri]
    assert a_edit.text_document.version == 7  # against the buffer the editor holds
    [hunk] = a_edit.edits
    assert isinstance(hunk, lsp.AnnotatedTextEdit)
    assert hunk.range == lsp.Range(start=lsp.Position(1, 0), end=lsp.Position(2, 0))
    assert hunk.new_text == "TWO\n"  # one line, not the whole file
    [create] = by_kind["CreateFile"]
    assert create.uri == (workspace / "new" / "made.txt").as_uri()
    created = text_edits_for[create.uri].edits
    assert [e.new_text for e in created] == ["created by fake codex\n"]
    [delete] = by_kind["DeleteFile"]
    assert delete.uri == (workspace / "gone.txt").as_uri()
    [rename] = by_kind["RenameFile"]
    assert (rename.old_uri, rename.new_uri) == (
        (workspace / "old.txt").as_uri(),
        (workspace / "moved.txt").as_uri(),
    )
    assert all(
        getattr(c, "annotation_id", None) in annotations
        for c in edit.document_changes
        if not isinstance(c, lsp.TextDocumentEdit)
    )
    await wait_until_async(
        lambda: any("Applied Codex's changes" in m.message for m in client.messages),
        message="the notice that the changes were applied",
    )


async def test_without_annotations_the_user_is_asked_and_discard_leaves_no_trace(
    launch: StartServer, workspace: pathlib.Path, temp_dir: pathlib.Path
) -> None:
    client = await launch(capabilities=client_capabilities("neovim"))
    answers = ["Show diff", "Discard"]
    asked: list[lsp.ShowMessageRequestParams] = []

    @client.feature(lsp.WINDOW_SHOW_MESSAGE_REQUEST)  # type: ignore[untyped-decorator]
    def ask(params: lsp.ShowMessageRequestParams) -> lsp.MessageActionItem | None:
        asked.append(params)
        return lsp.MessageActionItem(title=answers.pop(0)) if answers else None

    before = tree(workspace)
    result = await execute(client, "codex.run", {"prompt": EDITS, "sandbox": WRITE, "wait": True})
    assert result["review"]["state"] == "discarded"
    assert len(asked) == 2
    assert "Codex changed 4 files" in asked[0].message
    assert [a.title for a in asked[0].actions or []] == ["Apply", "Discard", "Show diff"]
    diff = next(d for d in client.shown_documents if d.uri.endswith(".diff"))
    diff_text = pathlib.Path(diff.uri.removeprefix("file://")).read_text()
    assert "-two\n+TWO\n" in diff_text and "+created by fake codex" in diff_text
    assert client.applied_edits == []
    assert tree(workspace) == before
    assert copies_left(temp_dir) == []
    assert "discarded" in client.messages[-1].message

    # Apply: a plain edit (this client declares no documentChanges), then the server does
    # the file operations itself, inside the workspace.
    answers[:] = ["Apply"]
    result = await execute(client, "codex.run", {"prompt": EDITS, "sandbox": WRITE, "wait": True})
    assert result["review"]["state"] == "applied"
    [applied] = client.applied_edits
    assert applied.edit.document_changes is None and applied.edit.change_annotations is None
    assert applied.edit.changes is not None
    [(uri, edits)] = applied.edit.changes.items()
    assert uri == (workspace / "a.txt").as_uri()
    assert [(e.range.start.line, e.range.end.line, e.new_text) for e in edits] == [(1, 2, "TWO\n")]
    after = tree(workspace)
    assert after["new/made.txt"] == "created by fake codex\n"
    assert "gone.txt" not in after and "old.txt" not in after
    assert after["moved.txt"] == "moving\nalong\n"
    assert after["a.txt"] == "one\ntwo\nthree\n"  # the text edit is the editor's to apply
    assert copies_left(temp_dir) == []


async def test_a_buffer_edited_during_the_run_is_merged_or_refused_never_clobbered(
    launch: StartServer, workspace: pathlib.Path
) -> None:
    client = await launch()
    (workspace / "a.txt").write_text("one\ntwo\nthree\nfour\nfive\n")
    uri = open_document(client, workspace / "a.txt", "one\ntwo\nthree\nfour\nfive\n")
    prompt = "[[fake:slow=0.4]] [[fake:fs=replace:a.txt:five>FIVE]] go"
    running = asyncio.ensure_future(
        execute(client, "codex.run", {"prompt": prompt, "sandbox": WRITE, "wait": True})
    )
    await asyncio.sleep(0.3)
    client.text_document_did_change(  # the user types on line 1 meanwhile, unsaved
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=2),
            content_changes=[
                lsp.TextDocumentContentChangeWholeDocument(text="ONE!\ntwo\nthree\nfour\nfive\n")
            ],
        )
    )
    result = await asyncio.wait_for(running, 30)
    assert result["review"]["state"] == "applied"
    [applied] = client.applied_edits
    [change] = applied.edit.document_changes or []
    assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 2
    [hunk] = change.edits
    assert isinstance(hunk, lsp.AnnotatedTextEdit)
    assert (hunk.range.start.line, hunk.range.end.line, hunk.new_text) == (4, 5, "FIVE\n")

    # The user changes the line codex changes: refused for that file, with the reason.
    prompt = "[[fake:slow=0.4]] [[fake:fs=replace:a.txt:two>TWO]] again"
    running = asyncio.ensure_future(
        execute(client, "codex.run", {"prompt": prompt, "sandbox": WRITE, "wait": True})
    )
    await asyncio.sleep(0.3)
    client.text_document_did_change(
        lsp.DidChangeTextDocumentParams(
            text_document=lsp.VersionedTextDocumentIdentifier(uri=uri, version=3),
            content_changes=[
                lsp.TextDocumentContentChangeWholeDocument(text="ONE!\nmine\nthree\nfour\nfive\n")
            ],
        )
    )
    result = await asyncio.wait_for(running, 30)
    assert result["review"]["state"] == "refused"
    assert "a.txt: you edited the same lines" in result["review"]["not_applied"][0]
    assert len(client.applied_edits) == 1
    assert any("not applied" in m.message for m in client.messages)


async def test_direct_mode_and_read_only_runs_use_no_copy(
    launch: StartServer, workspace: pathlib.Path, temp_dir: pathlib.Path
) -> None:
    client = await launch(init_options={"review": False})
    result = await execute(
        client,
        "codex.run",
        {"prompt": "[[fake:fs=append:a.txt]] x", "sandbox": WRITE, "wait": True},
    )
    assert "review" not in result
    assert (workspace / "a.txt").read_text().endswith("appended by fake codex\n")
    # Per call, review can be asked for even when the setting is off.
    result = await execute(
        client,
        "codex.run",
        {"prompt": "[[fake:fs=append:a.txt]] y", "sandbox": WRITE, "review": True, "wait": True},
    )
    assert result["review"]["state"] == "applied"
    assert (workspace / "a.txt").read_text().count("appended") == 1
    result = await execute(client, "codex.run", {"prompt": "read only", "wait": True})
    assert "review" not in result  # the default sandbox is read-only: nothing to review
    with pytest.raises(Exception, match="add_dirs cannot be used in review mode"):
        await execute(
            client,
            "codex.run",
            {"prompt": "x", "sandbox": WRITE, "review": True, "add_dirs": [str(workspace)]},
        )
    assert copies_left(temp_dir) == []


# --------------------------------------------------------------------------- context


async def test_editor_context_and_unsaved_buffers_reach_codex(
    launch: StartServer, workspace: pathlib.Path, tmp_path: pathlib.Path, lsp_env: dict[str, str]
) -> None:
    outside = tmp_path / "elsewhere.txt"
    outside.write_text("secret on disk\n")
    env = dict(lsp_env, CODEX_BRIDGE_ALLOWED_ROOTS=str(workspace))
    client = await launch(env=env, init_options={"shareUnsavedBuffers": True})
    uri = open_document(client, workspace / "a.txt", "one\ntyped but not saved\nthree\n")
    open_document(client, outside, "outside and unsaved\n")

    # Review mode: codex's copy holds the buffer's text.
    result = await execute(
        client,
        "codex.run",
        {"prompt": "[[fake:show=a.txt]] look", "sandbox": WRITE, "wait": True},
    )
    assert result["outcome"]["final_message"] == "a.txt holds: one\ntyped but not saved\nthree\n"
    assert result["review"]["state"] == "no_changes"

    # Direct mode: the prompt quotes the buffer; focus and selection come from the buffer too.
    result = await execute(
        client,
        "codex.run",
        {
            "prompt": "what is selected?",
            "wait": True,
            "document": uri,
            "position": {"line": 1, "character": 3},
            "selection": {
                "start": {"line": 1, "character": 0},
                "end": {"line": 1, "character": 5},
            },
        },
    )
    echoed = result["outcome"]["final_message"]
    assert "The user is working in a.txt, cursor at line 2, column 4." in echoed
    assert "Selected (line 2), as the editor shows it:\n```\ntyped\n```" in echoed
    assert "typed but not saved" in echoed  # the unsaved buffer, quoted
    assert "outside and unsaved" not in echoed  # outside the allowed roots: never sent
    with pytest.raises(Exception, match="outside the allowed roots"):
        await execute(client, "codex.run", {"prompt": "x", "document": outside.as_uri()})


async def test_code_actions_carry_the_document_and_selection(
    launch: StartServer, workspace: pathlib.Path
) -> None:
    client = await launch()
    uri = open_document(client, workspace / "a.txt", "one\nunsaved two\nthree\n")
    selection = lsp.Range(start=lsp.Position(1, 0), end=lsp.Position(1, 7))
    actions = await client.text_document_code_action_async(
        lsp.CodeActionParams(
            text_document=lsp.TextDocumentIdentifier(uri=uri),
            range=selection,
            context=lsp.CodeActionContext(diagnostics=[]),
        )
    )
    explain = next(
        a for a in actions or [] if isinstance(a, lsp.CodeAction) and "explain" in str(a.kind)
    )
    assert explain.command is not None and explain.command.arguments
    arguments = explain.command.arguments[0]
    assert isinstance(arguments, dict)
    assert arguments["document"] == uri
    assert arguments["selection"] == {
        "start": {"line": 1, "character": 0},
        "end": {"line": 1, "character": 7},
    }
    result = await execute(client, explain.command.command, {**arguments, "wait": True})
    echoed = result["outcome"]["final_message"]
    assert "```\nunsaved\n```" in echoed  # the buffer's text, quoted once
    assert echoed.count("unsaved") == 1
    assert "The user is working in a.txt, cursor at line 2, column 1." in echoed


async def test_unsaved_buffers_stay_in_the_editor_unless_shared(
    launch: StartServer, workspace: pathlib.Path
) -> None:
    client = await launch()
    open_document(client, workspace / "a.txt", "one\ntyped but not saved\nthree\n")
    result = await execute(
        client, "codex.run", {"prompt": "[[fake:show=a.txt]] look", "sandbox": WRITE, "wait": True}
    )
    assert result["outcome"]["final_message"] == "a.txt holds: one\ntwo\nthree\n"
    result = await execute(client, "codex.run", {"prompt": "echo", "wait": True})
    assert "typed but not saved" not in result["outcome"]["final_message"]


# --------------------------------------------------------------------------- transcript, status


async def test_the_transcript_opens_at_the_start_and_follows_the_run(
    launch: StartServer,
) -> None:
    client = await launch()
    statuses: list[Any] = []
    client.feature("codex/status")(lambda params: statuses.append(params))
    started = await execute(client, "codex.run", "[[fake:shell]] [[fake:slow=0.5]]", "talk")
    run_id = started["run_id"]
    await wait_until_async(lambda: client.shown_documents, message="the transcript to open")
    shown = client.shown_documents[0]
    assert shown.uri.endswith(f"{run_id}.md") and shown.take_focus is False
    path = pathlib.Path(shown.uri.removeprefix("file://"))

    first = await transcript_request(client, {"run_id": run_id})
    assert "## Result" not in first.text  # the run is still going
    await wait_until_async(
        lambda: "$ echo fake-shell-ok" in path.read_text(), message="live progress"
    )
    assert "## Result" not in path.read_text()
    await wait_until_async(lambda: "### Result" in path.read_text(), message="the result")
    assert any(s.running for s in statuses)  # a status line saw the run
    await wait_until_async(lambda: statuses and not statuses[-1].running, message="an idle status")
    engine = (await execute(client, "codex.status"))["engine"]
    assert statuses[-1].engine == (engine["engine"] if engine else "exec")
    assert statuses[-1].bridge_version and statuses[-1].codex_version

    # A resume continues in the same transcript.
    again = await execute(client, "codex.resume", "talk", "and more", {"wait": True})
    assert again["transcript"] == shown.uri
    text = path.read_text()
    assert text.index(f"run {run_id}") < text.index(f"resume {again['run_id']}")
    answer = await transcript_request(client, {"uri": shown.uri})
    assert answer.text == text
    with pytest.raises(Exception, match="no transcript"):
        await transcript_request(client, {"run_id": "job-nope"})


async def test_long_answers_are_summarised_and_unknown_options_only_logged(
    launch: StartServer,
) -> None:
    client = await launch(init_options={"colour": "blue", "showTranscript": True})
    long = "word " * 200
    await execute(client, "codex.run", {"prompt": long, "wait": True})
    await wait_until_async(lambda: client.messages, message="a message")
    shown = [m.message for m in client.messages]
    assert not any("colour" in m for m in shown)
    assert any("colour" in m.message for m in client.log_messages)
    answer = shown[-1]
    assert len(answer) < 320 and answer.endswith("(the full answer is in the transcript)")


# --------------------------------------------------------------------------- in-process


def test_minimal_hunks_and_three_way_merge() -> None:
    def units(line: str) -> int:
        return len(line.encode("utf-16-le")) // 2

    edits = text_edits("a\nb\nc\n", "a\nB\nc\nd\n", units)
    assert [(e.range.start.line, e.range.end.line, e.new_text) for e in edits] == [
        (1, 2, "B\n"),
        (3, 3, "d\n"),
    ]
    [tail] = text_edits("a\nb", "a\nb😀", units)  # the last line has no line break
    assert tail.range.end == lsp.Position(1, 1) and tail.new_text == "b😀"
    assert text_edits("same\n", "same\n", units) == []
    assert merge3("1\n2\n3\n4\n5\n", "ONE\n2\n3\n4\n5\n", "1\n2\n3\n4\nFIVE\n") == (
        "ONE\n2\n3\n4\nFIVE\n"
    )
    assert merge3("1\n2\n3\n", "1\nmine\n3\n", "1\ntheirs\n3\n") is None
    assert merge3("1\n2\n3\n", "1\nsame\n3\n", "1\nsame\n3\n") == "1\nsame\n3\n"


def test_edits_never_leave_the_workspace(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / "link").symlink_to(outside)
    (root / "file-link").symlink_to(outside / "x.txt")
    real = os.path.realpath(root)
    assert safe_target(real, "sub/new.txt") == os.path.join(real, "sub/new.txt")
    for bad in ("../x.txt", "/etc/passwd", "link/x.txt", "file-link", "sub/../../x.txt", ""):
        assert safe_target(real, bad) is None, bad
    changes = [
        FileChange(kind="create", path="link/evil.txt", after=b"x"),
        FileChange(kind="modify", path="../outside.txt", before=b"a", after=b"b"),
    ]
    support = ClientEditSupport(
        document_changes=True, resource_operations=frozenset({"create"}), annotations=True
    )
    proposal = propose(real, changes, [], support, units=len)
    assert proposal.edit is None and proposal.on_disk == []
    assert {r.path for r in proposal.refused} == {"link/evil.txt", "../outside.txt"}


def test_snapshot_copies_within_limits_and_reports_links(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "ws"
    (root / "node_modules" / "dep").mkdir(parents=True)
    (root / "node_modules" / "dep" / "big.js").write_text("x" * 1000)
    (root / "src").mkdir()
    (root / "src" / "main.py").write_text("print(1)\n")
    (root / "escape").symlink_to(tmp_path)
    snapshot = make_snapshot(str(root), overlay={str(root / "src" / "main.py"): "print(2)\n"})
    try:
        copy = pathlib.Path(snapshot.copy)
        assert (copy / "src" / "main.py").read_text() == "print(2)\n"
        assert not (copy / "node_modules").exists() and not (copy / "escape").exists()
        assert snapshot.left_out == ["escape"]
        (copy / "evil").symlink_to("/etc/passwd")
        (copy / "src" / "main.py").write_text("print(3)\n")
        changes, unsupported = changes_in(snapshot)
        assert [(c.kind, c.path, c.before, c.after) for c in changes] == [
            ("modify", "src/main.py", b"print(2)\n", b"print(3)\n")
        ]
        assert unsupported == ["evil"]
    finally:
        snapshot.remove()
    assert not os.path.exists(snapshot.holder)
    with pytest.raises(Exception, match="more than 0 MB"):
        make_snapshot(str(root), max_bytes=1)


def test_edits_to_an_open_buffer_name_its_version(tmp_path: pathlib.Path) -> None:
    root = tmp_path / "r"
    root.mkdir()
    (root / "f.txt").write_text("x\n")
    buffer = OpenBuffer(
        uri=(root / "f.txt").as_uri(), path=str(root / "f.txt"), version=3, text="x\n"
    )
    proposal = propose(
        os.path.realpath(root),
        [FileChange(kind="modify", path="f.txt", before=b"x\n", after=b"y\n")],
        [buffer],
        ClientEditSupport(document_changes=True),
        units=len,
    )
    assert proposal.edit is not None and proposal.edit.document_changes is not None
    [change] = proposal.edit.document_changes
    assert isinstance(change, lsp.TextDocumentEdit) and change.text_document.version == 3
