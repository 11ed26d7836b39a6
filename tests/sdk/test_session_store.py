"""Session stores: the shared API, and the JSON file store's cross-process guarantees."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import threading
from collections.abc import Callable

import pytest

from codex_local_sdk import (
    CodexUsageError,
    InMemorySessionStore,
    JsonFileSessionStore,
    SessionExistsError,
    SessionNotFoundError,
    SessionRecord,
    SessionStore,
    SessionStoreCorruptError,
    SessionStoreError,
    TurnRecord,
)

StoreFactory = Callable[[], SessionStore]


@pytest.fixture(params=["memory", "json"])
def make_store(request: pytest.FixtureRequest, tmp_path: pathlib.Path) -> StoreFactory:
    """A factory: the JSON store's instances share one file, like separate processes do."""
    if request.param == "memory":
        shared = InMemorySessionStore()
        return lambda: shared
    return lambda: JsonFileSessionStore(tmp_path / "deep" / "sessions.json")


def record(name: str, thread_id: str = "t-1", **fields: object) -> SessionRecord:
    return SessionRecord(name=name, thread_id=thread_id, **fields)  # type: ignore[arg-type]


def test_put_get_list_delete(make_store: StoreFactory) -> None:
    store = make_store()
    assert isinstance(store, SessionStore)
    assert store.get("a") is None and store.list() == []
    store.put(record("a", updated_at=1.0))
    store.put(record("b", "t-2", updated_at=3.0))
    store.put(record("c", "t-3", updated_at=2.0))
    other = make_store()
    got = other.get("b")
    assert got is not None and got.thread_id == "t-2"
    assert [r.name for r in other.list()] == ["b", "c", "a"]  # most recently used first
    assert other.delete("a") is True
    assert other.delete("a") is False
    assert [r.name for r in store.list()] == ["b", "c"]


def test_update_is_read_modify_write(make_store: StoreFactory) -> None:
    store = make_store()

    def bump(old: SessionRecord | None) -> SessionRecord:
        new = old or record("s")
        new.turns += 1
        return new

    for _ in range(3):
        store.update("s", bump)
    assert make_store().get("s") == store.get("s")
    got = store.get("s")
    assert got is not None and got.turns == 3
    assert store.update("s", lambda old: None) is None  # None deletes
    assert store.get("s") is None


def test_a_failing_change_leaves_the_store_untouched(make_store: StoreFactory) -> None:
    store = make_store()
    store.put(record("s", recent_turns=[]))

    def half_done(old: SessionRecord | None) -> SessionRecord:
        assert old is not None
        old.turns = 99
        old.recent_turns.append(TurnRecord(at=0, operation="exec", prompt_preview="x", status="s"))
        raise RuntimeError("change failed")

    with pytest.raises(RuntimeError):
        store.update("s", half_done)
    got = store.get("s")
    assert got is not None and got.turns == 0 and got.recent_turns == []
    got.recent_turns.append(TurnRecord(at=0, operation="exec", prompt_preview="y", status="s"))
    again = store.get("s")
    assert again is not None and again.recent_turns == []  # reads are copies


def test_rename(make_store: StoreFactory) -> None:
    store = make_store()
    store.put(record("old", updated_at=1.0))
    store.put(record("taken", "t-2"))
    renamed = store.rename("old", "new")
    assert renamed.name == "new" and renamed.thread_id == "t-1"
    assert renamed.updated_at > 1.0
    assert store.get("old") is None
    got = make_store().get("new")
    assert got is not None and got.name == "new"
    with pytest.raises(SessionExistsError):
        store.rename("new", "taken")
    with pytest.raises(SessionNotFoundError) as caught:
        store.rename("missing", "x")
    assert isinstance(caught.value, KeyError)
    assert str(caught.value) == "no session named 'missing'"
    assert store.rename("new", "new").name == "new"


def test_thread_locks_exclude_each_other(make_store: StoreFactory) -> None:
    first = make_store().thread_lock("t-1")
    second = make_store().thread_lock("t-1")
    other_thread = make_store().thread_lock("t-2")
    assert first.try_acquire()
    assert not second.try_acquire()
    assert other_thread.try_acquire()
    first.release()
    assert second.try_acquire()
    second.release()
    other_thread.release()


def test_concurrent_updates_from_threads_are_not_lost(make_store: StoreFactory) -> None:
    store = make_store()

    def bump(old: SessionRecord | None) -> SessionRecord:
        new = old or record("shared")
        new.turns += 1
        return new

    def worker() -> None:
        for _ in range(20):
            store.update("shared", bump)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    got = store.get("shared")
    assert got is not None and got.turns == 120


# --- the JSON file store -----------------------------------------------------------------


def test_the_file_layout_is_versioned(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    JsonFileSessionStore(path).put(record("a", cwd="/w", model="m"))
    data = json.loads(path.read_text())
    assert data["schema_version"] == 1
    assert data["sessions"]["a"]["thread_id"] == "t-1"
    assert data["sessions"]["a"]["cwd"] == "/w"


def test_writes_replace_the_file_atomically(tmp_path: pathlib.Path) -> None:
    directory = tmp_path / "store"
    path = directory / "s.json"
    store = JsonFileSessionStore(path)
    store.put(record("a"))
    with open(path, "rb") as reader:  # a reader holding the old file keeps a whole file
        old_inode = os.fstat(reader.fileno()).st_ino
        store.put(record("b"))
        assert json.loads(reader.read())["sessions"].keys() == {"a"}
    assert path.stat().st_ino != old_inode
    assert sorted(p.name for p in directory.iterdir()) == ["s.json", "s.json.lock"]


def test_a_failed_write_keeps_the_previous_file(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "store"
    path = directory / "s.json"
    store = JsonFileSessionStore(path)
    store.put(record("a"))
    before = path.read_bytes()

    def full_disk(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    with pytest.raises(SessionStoreError, match="No space left"):
        store.put(record("b"))
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in directory.iterdir()) == ["s.json", "s.json.lock"]


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"[1, 2, 3]",
        b'{"schema_version": 1, "sessions": {"a": {"name": "a"}}}',
        b"\x00\xff\xfe",
    ],
)
def test_a_corrupt_file_is_moved_aside_never_overwritten(
    tmp_path: pathlib.Path, content: bytes
) -> None:
    path = tmp_path / "s.json"
    path.write_bytes(content)
    store = JsonFileSessionStore(path)
    with pytest.raises(SessionStoreCorruptError) as caught:
        store.get("a")
    error = caught.value
    assert error.path == str(path)
    assert pathlib.Path(error.moved_to).read_bytes() == content
    assert "moved to" in str(error)
    assert not path.exists()
    assert store.list() == []  # a fresh store from the next call on
    store.put(record("b"))
    assert pathlib.Path(error.moved_to).read_bytes() == content


def test_corrupt_files_moved_aside_keep_each_other(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    store = JsonFileSessionStore(path)
    moved = []
    for content in (b"{first", b"{second", b"{third"):
        path.write_bytes(content)
        with pytest.raises(SessionStoreCorruptError) as caught:
            store.list()
        moved.append(caught.value.moved_to)
    assert len(set(moved)) == 3
    assert [pathlib.Path(m).read_bytes() for m in moved] == [b"{first", b"{second", b"{third"]


@pytest.mark.parametrize(
    "data",
    [
        {"schema_version": 2, "sessions": {}},
        {"schema_version": 2, "sessions": [{"name": "a", "id": "t"}], "extra": True},
    ],
)
def test_a_newer_schema_is_refused_and_left_alone(tmp_path: pathlib.Path, data: object) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    with pytest.raises(SessionStoreError, match="schema version 2") as caught:
        JsonFileSessionStore(path).get("a")
    assert not isinstance(caught.value, SessionStoreCorruptError)
    assert json.loads(path.read_text()) == data


def test_an_empty_file_is_an_empty_store(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "s.json"
    path.write_text("  \n")
    assert JsonFileSessionStore(path).list() == []


def test_an_unwritable_location_is_a_store_error(tmp_path: pathlib.Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(SessionStoreError):
        JsonFileSessionStore(blocker / "sessions.json").put(record("a"))


WRITER = """
import pathlib, sys, time
from codex_local_sdk import JsonFileSessionStore, SessionRecord

path, worker, go = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3])
store = JsonFileSessionStore(path)
while not go.exists():
    time.sleep(0.005)

def bump(old):
    new = old or SessionRecord(name="shared", thread_id="t")
    new.turns += 1
    return new

for i in range(25):
    store.update("shared", bump)
    store.put(SessionRecord(name=f"{worker}-{i}", thread_id="t"))
"""


def test_concurrent_writers_in_several_processes_lose_nothing(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.json"
    go = tmp_path / "go"
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{n}", str(go)])
        for n in range(4)
    ]
    go.touch()
    for writer in writers:
        assert writer.wait(timeout=60) == 0
    store = JsonFileSessionStore(path)
    shared = store.get("shared")
    assert shared is not None and shared.turns == 100
    assert len(store.list()) == 1 + 4 * 25


HOLDER = """
import sys
from codex_local_sdk import JsonFileSessionStore

lock = JsonFileSessionStore(sys.argv[1]).thread_lock("thread-1")
assert lock.try_acquire()
print("locked", flush=True)
sys.stdin.readline()
lock.release()
print("released", flush=True)
sys.stdin.readline()
"""


def test_thread_locks_hold_across_processes(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "sessions.json"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "locked"
        lock = JsonFileSessionStore(path).thread_lock("thread-1")
        assert not lock.try_acquire()
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.stdout.readline().strip() == "released"
        assert lock.try_acquire()
        lock.release()
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
        holder.stdout.close()


# --- hygiene: permissions, dead writers' temp files, names ---------------------------------


def test_the_store_is_private(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "new" / "dir" / "sessions.json"
    JsonFileSessionStore(path).put(record("a"))
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert os.stat(path.parent).st_mode & 0o777 == 0o700  # created by the store
    assert os.stat(str(path) + ".lock").st_mode & 0o777 == 0o600


def test_an_existing_directory_keeps_its_mode(tmp_path: pathlib.Path) -> None:
    project = tmp_path / "project"
    project.mkdir(mode=0o755)
    os.chmod(project, 0o755)
    old_umask = os.umask(0)
    try:
        JsonFileSessionStore(project / ".codex_sessions.json").put(record("a"))
    finally:
        os.umask(old_umask)
    assert os.stat(project).st_mode & 0o777 == 0o755
    assert os.stat(project / ".codex_sessions.json").st_mode & 0o777 == 0o600


def test_temp_files_of_killed_writers_are_removed_by_the_next_write(
    tmp_path: pathlib.Path,
) -> None:
    path = tmp_path / "sessions.json"
    store = JsonFileSessionStore(path)
    store.put(record("a"))
    stale = [tmp_path / "sessions.json.tmp-999999-1", tmp_path / "sessions.json.tmp-4242-77"]
    for file in stale:
        file.write_bytes(b'{"schema_version": 1, "sessi')  # a write cut short
    unrelated = tmp_path / "other.json.tmp-1-1"
    unrelated.write_text("keep me")
    assert store.get("a") is not None  # reads leave them alone (no lock taken for writing)
    store.put(record("b"))
    assert not any(file.exists() for file in stale)
    assert unrelated.exists()
    assert {r.name for r in store.list()} == {"a", "b"}


@pytest.mark.parametrize(
    "name",
    ["", "   ", "x" * 129, "line\nbreak", "nul\x00", "tab\there", "a/b", "a\\b", " padded",
     "zero\u200bwidth", "bell\x07"],
)  # fmt: skip
def test_bad_session_names_are_refused(make_store: StoreFactory, name: str) -> None:
    store = make_store()
    with pytest.raises(CodexUsageError, match="session name"):
        store.put(record(name))
    store.put(record("ok"))
    with pytest.raises(CodexUsageError, match="session name"):
        store.rename("ok", name)
    assert [r.name for r in store.list()] == ["ok"]


@pytest.mark.parametrize("name", ["x" * 128, "my project: plan (v2)", "été-日本", "a.b_c-d"])
def test_reasonable_session_names_are_accepted(make_store: StoreFactory, name: str) -> None:
    store = make_store()
    store.put(record(name))
    assert store.get(name) is not None
