"""The reliability tests reuse the SDK tests' fixtures: a fake-codex client, and the check
that no codex process is left behind."""

from __future__ import annotations

from tests.sdk.conftest import client, no_codex_left_behind

__all__ = ["client", "no_codex_left_behind"]
