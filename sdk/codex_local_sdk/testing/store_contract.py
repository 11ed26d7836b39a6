"""A conformance suite for custom :class:`~codex_local_sdk.SessionStore` implementations.

Mix :class:`SessionStoreContract` into a test class and say how to make a fresh, empty store;
pytest (or unittest, with ``unittest.TestCase`` as another base) runs every check as a test::

    from codex_local_sdk.testing import SessionStoreContract

    class TestRedisSessionStore(SessionStoreContract):
        def make_store(self):
            return RedisSessionStore(url=..., namespace=uuid.uuid4().hex)

The checks use plain ``assert`` and the standard library only.
"""

from __future__ import annotations

import threading
import time

from ..exceptions import SessionExistsError, SessionNotFoundError
from ..models import SessionRecord
from ..session_store import SessionStore

__all__ = ["SessionStoreContract"]

_THREAD = "019a0000-0000-7000-8000-0000000000{:02d}"


def _record(name: str, number: int = 1, *, updated_at: float | None = None) -> SessionRecord:
    now = time.time() if updated_at is None else updated_at
    return SessionRecord(
        name=name, thread_id=_THREAD.format(number), created_at=now, updated_at=now
    )


class SessionStoreContract:
    """What the client relies on from a session store."""

    def make_store(self) -> SessionStore:
        """A new, empty store (override this)."""
        raise NotImplementedError("define make_store() to return a fresh, empty store")

    def test_is_a_session_store(self) -> None:
        assert isinstance(self.make_store(), SessionStore)

    def test_a_missing_name_is_none(self) -> None:
        store = self.make_store()
        assert store.get("nobody") is None
        assert store.list() == []

    def test_put_then_get_returns_an_equal_record(self) -> None:
        store = self.make_store()
        record = _record("plan")
        store.put(record)
        assert store.get("plan") == record

    def test_put_replaces_a_record_of_the_same_name(self) -> None:
        store = self.make_store()
        store.put(_record("plan", 1))
        store.put(_record("plan", 2))
        found = store.get("plan")
        assert found is not None and found.thread_id == _THREAD.format(2)
        assert len(store.list()) == 1

    def test_list_is_most_recently_updated_first(self) -> None:
        store = self.make_store()
        store.put(_record("old", 1, updated_at=1_000.0))
        store.put(_record("new", 2, updated_at=3_000.0))
        store.put(_record("mid", 3, updated_at=2_000.0))
        assert [r.name for r in store.list()] == ["new", "mid", "old"]

    def test_update_creates_changes_and_deletes(self) -> None:
        store = self.make_store()
        created = store.update("plan", lambda old: _record("plan") if old is None else old)
        assert created is not None and store.get("plan") == created

        def bump(old: SessionRecord | None) -> SessionRecord | None:
            assert old is not None
            old.turns += 1
            return old

        store.update("plan", bump)
        found = store.get("plan")
        assert found is not None and found.turns == 1
        assert store.update("plan", lambda old: None) is None
        assert store.get("plan") is None

    def test_update_is_atomic_across_threads(self) -> None:
        store = self.make_store()
        store.put(_record("count"))

        def bump(old: SessionRecord | None) -> SessionRecord | None:
            assert old is not None
            old.turns += 1
            return old

        workers = [
            threading.Thread(target=lambda: [store.update("count", bump) for _ in range(25)])
            for _ in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
        found = store.get("count")
        assert found is not None and found.turns == 100, "an update was lost"

    def test_delete_says_whether_there_was_a_record(self) -> None:
        store = self.make_store()
        store.put(_record("plan"))
        assert store.delete("plan") is True
        assert store.delete("plan") is False
        assert store.get("plan") is None

    def test_rename_moves_the_record(self) -> None:
        store = self.make_store()
        store.put(_record("old"))
        renamed = store.rename("old", "new")
        assert renamed.name == "new"
        assert store.get("old") is None
        found = store.get("new")
        assert found is not None and found.thread_id == _THREAD.format(1)

    def test_rename_refuses_a_missing_or_taken_name(self) -> None:
        store = self.make_store()
        store.put(_record("a", 1))
        store.put(_record("b", 2))
        for old, new, error in (("x", "y", SessionNotFoundError), ("a", "b", SessionExistsError)):
            try:
                store.rename(old, new)
            except error:
                pass
            else:
                raise AssertionError(f"rename({old!r}, {new!r}) should raise {error.__name__}")
        found = store.get("b")
        assert found is not None and found.thread_id == _THREAD.format(2)

    def test_thread_lock_is_exclusive_until_released(self) -> None:
        store = self.make_store()
        first = store.thread_lock(_THREAD.format(1))
        second = store.thread_lock(_THREAD.format(1))
        other = store.thread_lock(_THREAD.format(2))
        assert first.try_acquire()
        assert not second.try_acquire(), "two holders of one thread's lock"
        assert other.try_acquire(), "locks of different threads must not block each other"
        first.release()
        assert second.try_acquire()
        second.release()
        other.release()
