"""The tests' polling helper (tests/support/waiting.py): it returns the awaited value, and a
wait that never ends fails naming what it awaited."""

from __future__ import annotations

import itertools

import pytest

from tests.support.waiting import wait_until, wait_until_async


def test_wait_until_returns_the_first_truthy_value() -> None:
    values = iter([0, "", None, "ready", "later"])
    assert wait_until(lambda: next(values), message="a value", interval=0) == "ready"


def test_wait_until_fails_naming_what_it_awaited() -> None:
    calls = itertools.count()
    with pytest.raises(AssertionError, match=r"timed out after 0.05s waiting for the answer 42"):
        wait_until(
            lambda: next(calls) < 0, timeout=0.05, interval=0.01, message=lambda: "the answer 42"
        )
    assert next(calls) > 1  # polled, not asked once


async def test_wait_until_async_awaits_async_predicates() -> None:
    values = iter([False, False, True])

    async def ready() -> bool:
        return next(values)

    assert await wait_until_async(ready, message="ready", interval=0) is True


async def test_wait_until_async_fails_naming_what_it_awaited() -> None:
    with pytest.raises(AssertionError, match="waiting for nothing at all"):
        await wait_until_async(list, timeout=0.05, interval=0.01, message="nothing at all")
