"""Reliability figures: measured by the tests, printed at the end of every pytest run.

A test calls :func:`record` with a short name and the figure it measured (for example
``record("store", "0 lost, 0 corrupt, 0 temp files left in 1,600 writes")``); the
``pytest_terminal_summary`` hook in ``tests/conftest.py`` prints them all under one heading,
so CI's log shows them beside the pass/fail counts. The README's reliability section quotes
them.
"""

from __future__ import annotations

__all__ = ["FIGURES", "record"]

FIGURES: dict[str, str] = {}


def record(name: str, figure: str) -> None:
    """Keep ``figure`` under ``name`` (a later value for the same name replaces it)."""
    FIGURES[name] = figure
