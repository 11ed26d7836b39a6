"""Named sessions through the client: start, resume (name / id / last), forks, mismatches,
unknown threads, serialised turns, and list/get/rename/delete."""

from __future__ import annotations

import asyncio
import concurrent.futures
import pathlib
import uuid
from typing import Any

import pytest

from codex_local_sdk import (
    CodexExecFailedError,
    CodexExecRequest,
    CodexLocalClient,
    CodexThreadMismatchError,
    CodexThreadNotFoundError,
    CodexUsageError,
    FailureKind,
    JsonFileSessionStore,
    SessionExistsError,
    SessionNotFoundError,
    SessionRecord,
)
from tests.support.fake_codex import FAST_RETRY, fake_log, last_run


def test_start_thread_records_the_session(client: CodexLocalClient, work: str) -> None:
    session, result = client.start_thread("plan it", session_name="proj", cwd=work, model="m1")
    assert result.ok and result.session_name == "proj"
    assert session.name == "proj" and session.thread_id == result.thread_id
    assert session.cwd == work and session.model == "m1"
    assert session.turns == 1 and session.last_status == "completed"
    assert session.last_usage == result.usage
    assert session.forked_from is None
    [turn] = session.recent_turns
    assert turn.operation == "exec" and turn.prompt_preview == "plan it"
    assert turn.final_message_preview == "echo: plan it" and turn.usage == result.turn_usage
    assert client.get_session("proj") == session


def test_resume_by_session_name_continues_the_thread(
    client: CodexLocalClient, fake_env: dict[str, str], work: str
) -> None:
    session, first = client.start_thread("one", session_name="proj", cwd=work)
    second = client.resume("two", session_name="proj")
    assert second.ok and second.operation == "resume"
    assert second.thread_id == session.thread_id and second.session_name == "proj"
    run = last_run(fake_env)
    assert run["subcommand"] == "resume" and run["session_id"] == session.thread_id
    assert run["cwd"] == work  # the session's working directory is kept
    # usage: codex reports it for the whole thread; turn_usage is this turn's share
    assert first.usage is not None and second.usage is not None
    assert second.turn_usage == second.usage - first.usage
    assert second.turn_usage is not None
    assert second.turn_usage.input_tokens < second.usage.input_tokens
    updated = client.get_session("proj")
    assert updated.turns == 2 and updated.last_usage == second.usage
    assert [t.prompt_preview for t in updated.recent_turns] == ["one", "two"]
    assert updated.updated_at >= session.updated_at


async def test_resume_by_thread_id_updates_its_session(client: CodexLocalClient) -> None:
    session, _ = await client.start_thread_async("one", session_name="proj")
    result = await client.resume_async("two", thread_id=session.thread_id)
    assert result.thread_id == session.thread_id
    assert result.session_name == "proj"
    assert client.get_session("proj").turns == 2


def test_resume_by_thread_id_without_a_session(client: CodexLocalClient) -> None:
    first = client.run(CodexExecRequest(prompt="anonymous"))
    assert first.thread_id is not None
    again = client.resume("more", thread_id=first.thread_id)
    assert again.ok and again.thread_id == first.thread_id and again.session_name is None
    assert client.list_sessions() == []


def test_resume_last_is_explicit(
    client: CodexLocalClient, fake_env: dict[str, str], work: str
) -> None:
    client.run(CodexExecRequest(prompt="older", cwd=work))
    newest = client.run(CodexExecRequest(prompt="newest", cwd=work))
    result = client.resume("again", last=True, cwd=work)
    assert result.thread_id == newest.thread_id
    assert "--last" in last_run(fake_env)["argv"]


@pytest.mark.parametrize(
    "selection",
    [
        {},
        {"session_name": "a", "last": True},
        {"session_name": "a", "thread_id": "01a21332-ea6e-7fc2-b7aa-94f6d0b99183"},
        {"thread_id": "01a21332-ea6e-7fc2-b7aa-94f6d0b99183", "last": True},
    ],
)
def test_resume_needs_exactly_one_thread_selection(
    client: CodexLocalClient, fake_env: dict[str, str], selection: dict[str, Any]
) -> None:
    client.run(CodexExecRequest(prompt="a thread exists"))
    with pytest.raises(CodexUsageError, match="exactly one"):
        client.resume("which one?", **selection)
    assert len(fake_log(fake_env)) == 1  # codex was not run


def test_resume_refuses_names_as_thread_ids(client: CodexLocalClient) -> None:
    with pytest.raises(CodexUsageError, match="not a codex thread id"):
        client.resume("p", thread_id="my-session")
    with pytest.raises(SessionNotFoundError):
        client.resume("p", session_name="never-created")


def test_an_unknown_thread_is_reported_not_retried(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    ghost = str(uuid.uuid4())
    with pytest.raises(CodexThreadNotFoundError) as caught:
        client.resume("p", thread_id=ghost)
    assert caught.value.failure_kind is FailureKind.UNKNOWN_THREAD
    assert caught.value.result.attempts == 1 == len(fake_log(fake_env))
    assert ghost in str(caught.value)
    # ... also when a session points at a thread codex no longer has
    client.session_store.put(SessionRecord(name="stale", thread_id=ghost))
    with pytest.raises(CodexThreadNotFoundError):
        client.resume("p", session_name="stale")
    assert client.get_session("stale").turns == 0


def test_a_reply_on_another_thread_is_a_mismatch(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    session, _ = client.start_thread("one", session_name="proj")
    with pytest.raises(CodexThreadMismatchError) as caught:
        client.resume("two [[fake:wrong_thread]]", session_name="proj")
    error = caught.value
    assert error.failure_kind is FailureKind.THREAD_MISMATCH
    assert session.thread_id in str(error)
    assert error.result.thread_id not in (None, session.thread_id)
    assert error.result.attempts == 1  # codex did the turn elsewhere: never repeated
    kept = client.get_session("proj")
    assert kept.thread_id == session.thread_id and kept.turns == 1


async def test_concurrent_turns_on_one_session_run_one_after_the_other(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    # The fake, like codex, refuses a second writer on a thread; both turns must succeed.
    session, _ = await client.start_thread_async("start", session_name="proj")
    results = await asyncio.gather(
        client.resume_async("a [[fake:slow=0.1]]", session_name="proj"),
        client.resume_async("b [[fake:slow=0.1]]", session_name="proj"),
        client.resume_async("c [[fake:slow=0.1]]", thread_id=session.thread_id),
    )
    assert all(r.ok and r.attempts == 1 for r in results)
    assert client.get_session("proj").turns == 4
    assert len(fake_log(fake_env)) == 4  # no attempt was refused and retried


def test_concurrent_sync_turns_across_clients_sharing_a_store_file(
    fake_codex: str, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "sessions.json"
    clients = [
        CodexLocalClient(
            codex_bin=fake_codex, session_store=JsonFileSessionStore(path), retry_policy=FAST_RETRY
        )
        for _ in range(3)
    ]
    try:
        clients[0].start_thread("start", session_name="shared")
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            futures = [
                pool.submit(c.resume, f"turn {n} [[fake:slow=0.1]]", session_name="shared")
                for n, c in enumerate(clients)
            ]
            results = [f.result() for f in futures]
    finally:
        for c in clients:
            c.close()
    assert all(r.ok and r.attempts == 1 for r in results)
    assert JsonFileSessionStore(path).get("shared").turns == 4  # type: ignore[union-attr]


def test_a_failed_start_is_still_recorded(client: CodexLocalClient) -> None:
    with pytest.raises(CodexExecFailedError) as caught:
        client.start_thread("[[fake:auth]]", session_name="proj")
    session = client.get_session("proj")
    assert session.thread_id == caught.value.result.thread_id
    assert session.last_status == "failed"
    record, result = client.start_thread("[[fake:crash]]", session_name="x", raise_on_error=False)
    assert result.thread_id is None and record.thread_id == ""
    with pytest.raises(SessionNotFoundError):
        client.get_session("x")  # no thread: nothing to resume, nothing recorded


def test_starting_an_existing_name_points_it_at_the_new_thread(client: CodexLocalClient) -> None:
    first, _ = client.start_thread("one", session_name="proj")
    second, _ = client.start_thread("two", session_name="proj")
    assert second.thread_id != first.thread_id
    assert client.get_session("proj").thread_id == second.thread_id
    assert len(client.list_sessions()) == 1


def test_fork_makes_a_new_session(
    client: CodexLocalClient, fake_env: dict[str, str], work: str
) -> None:
    source, _ = client.start_thread("base", session_name="main", cwd=work)
    forked, result = client.fork("branch", session_name="main", new_session_name="experiment")
    assert result.ok and result.operation == "fork"
    assert forked is not None and forked.name == "experiment"
    assert forked.thread_id == result.thread_id != source.thread_id
    assert forked.forked_from == source.thread_id
    assert forked.cwd == work
    assert forked.recent_turns[-1].operation == "fork"
    assert last_run(fake_env)["subcommand"] == "fork"
    assert client.get_session("main").thread_id == source.thread_id
    assert client.get_session("main").turns == 1
    # without a new name: a fork by thread id, nothing recorded
    anonymous, again = client.fork("other", thread_id=source.thread_id)
    assert anonymous is None and again.thread_id not in (source.thread_id, forked.thread_id)
    assert {s.name for s in client.list_sessions()} == {"main", "experiment"}


def test_list_get_rename_delete(client: CodexLocalClient) -> None:
    client.start_thread("a", session_name="first")
    client.start_thread("b", session_name="second")
    assert [s.name for s in client.list_sessions()] == ["second", "first"]
    client.resume("again", session_name="first")
    assert [s.name for s in client.list_sessions()] == ["first", "second"]
    renamed = client.rename_session("first", "renamed")
    assert renamed.name == "renamed"
    assert client.resume("after rename", session_name="renamed").ok
    with pytest.raises(SessionExistsError):
        client.rename_session("renamed", "second")
    with pytest.raises(CodexUsageError):
        client.rename_session("renamed", "  ")
    with pytest.raises(SessionNotFoundError):
        client.rename_session("missing", "x")
    client.delete_session("second")
    with pytest.raises(SessionNotFoundError):
        client.delete_session("second")
    with pytest.raises(SessionNotFoundError):
        client.get_session("second")
    assert [s.name for s in client.list_sessions()] == ["renamed"]


def test_session_names_must_not_be_blank(client: CodexLocalClient) -> None:
    with pytest.raises(CodexUsageError):
        client.start_thread("p", session_name=" ")
    with pytest.raises(CodexUsageError):
        client.fork("p", thread_id=str(uuid.uuid4()), new_session_name="")


def test_sessions_persist_across_clients(
    fake_codex: str, fake_env: dict[str, str], tmp_path: pathlib.Path
) -> None:
    path = tmp_path / "sessions.json"
    with CodexLocalClient(codex_bin=fake_codex, session_store=JsonFileSessionStore(path)) as one:
        session, _ = one.start_thread("one", session_name="proj")
    with CodexLocalClient(codex_bin=fake_codex, session_store=JsonFileSessionStore(path)) as two:
        assert two.resume("two", session_name="proj").thread_id == session.thread_id
        assert two.get_session("proj").turns == 2
