"""Thread objects: ``client.thread(...)`` by session name, by thread id, or new."""

from __future__ import annotations

import pytest

from codex_local_sdk import (
    CodexExecRequest,
    CodexLocalClient,
    CodexUsageError,
    ItemCompleted,
    SandboxMode,
    Thread,
)
from tests.support.fake_codex import fake_log, last_run


def test_a_new_named_thread_starts_then_resumes(
    client: CodexLocalClient, fake_env: dict[str, str], work: str
) -> None:
    thread = client.thread("plan", cwd=work, model="m1")
    assert isinstance(thread, Thread)
    assert (thread.id, thread.record) == (None, None)
    first = thread.run("one")
    assert first.ok and thread.id == first.thread_id
    assert last_run(fake_env)["subcommand"] is None  # a new thread: plain `codex exec`
    record = thread.record
    assert record is not None and record.thread_id == first.thread_id and record.cwd == work
    second = thread.run("two")
    assert second.thread_id == first.thread_id
    run = last_run(fake_env)
    assert run["subcommand"] == "resume" and run["session_id"] == first.thread_id
    assert run["cwd"] == work
    assert client.get_session("plan").turns == 2


def test_an_existing_session_is_continued(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    session, _ = client.start_thread("start", session_name="old")
    thread = client.thread("old")
    assert thread.id == session.thread_id
    result = thread.run("more")
    assert result.thread_id == session.thread_id and result.session_name == "old"
    assert last_run(fake_env)["subcommand"] == "resume"


async def test_a_thread_by_id_resumes_async(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    first = await client.run_async(CodexExecRequest(prompt="hello"))
    assert first.thread_id is not None
    thread = client.thread(thread_id=first.thread_id)
    again = await thread.run_async("again")
    assert again.thread_id == first.thread_id
    assert last_run(fake_env)["session_id"] == first.thread_id


def test_an_unnamed_new_thread_keeps_its_id(
    client: CodexLocalClient, fake_env: dict[str, str]
) -> None:
    thread = client.thread(sandbox=SandboxMode.READ_ONLY)
    first = thread.run("one")
    second = thread.run("two")
    assert thread.id == first.thread_id == second.thread_id
    assert [run["subcommand"] for run in fake_log(fake_env)] == [None, "resume"]
    assert client.list_sessions() == []


def test_fork_returns_a_new_thread(client: CodexLocalClient) -> None:
    thread = client.thread("base")
    base = thread.run("base")
    fork, result = thread.fork("try another way", session_name="alt")
    assert result.ok and fork.id == result.thread_id != base.thread_id
    assert fork.session_name == "alt"
    alt = client.get_session("alt")
    assert alt.thread_id == result.thread_id and alt.forked_from == base.thread_id
    assert fork.run("continue the fork").thread_id == result.thread_id


def test_forking_a_thread_that_never_ran_is_refused(client: CodexLocalClient) -> None:
    with pytest.raises(CodexUsageError, match="not started"):
        client.thread().fork("x")


def test_streaming_a_new_thread_then_running_resumes_it(client: CodexLocalClient) -> None:
    thread = client.thread()
    with thread.iter_events("stream me") as events:
        messages = [e for e in events if isinstance(e, ItemCompleted)]
    assert messages
    assert thread.id is not None
    assert thread.run("next").thread_id == thread.id


@pytest.mark.parametrize(
    ("args", "kwargs", "match"),
    [
        (("a",), {"thread_id": "x"}, "thread id"),
        ((), {"thread_id": "not-a-uuid"}, "thread id"),
        ((" ",), {}, "session name"),
        ((), {"no_such_field": 1}, "not a request field"),
    ],
)
def test_bad_thread_arguments_are_usage_errors(
    client: CodexLocalClient, args: tuple[str, ...], kwargs: dict[str, object], match: str
) -> None:
    with pytest.raises(CodexUsageError, match=match):
        client.thread(*args, **kwargs)  # type: ignore[arg-type]
