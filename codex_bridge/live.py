"""Live text: agent-message and command-output deltas as throttled progress lines.

The warm engine streams the answer as it is written (``AgentMessageDelta``) and a command's
output as it runs (``CommandOutputDelta``). A host should see the answer forming, without a
notification per token: :class:`LiveText` keeps the text of each item and says when a new
progress line is due (at most ``per_second`` per run; the last state always gets through when
the item completes, as the completed item's own progress line).
"""

from __future__ import annotations

import time

from codex_local_sdk import AgentMessageDelta, CommandOutputDelta

__all__ = ["LiveText"]

_SHOWN_CHARS = 160
_MAX_KEPT_CHARS = 4096  # per item: only the tail is ever shown


class LiveText:
    """Accumulates deltas per item; :meth:`feed` returns a progress line when one is due."""

    def __init__(self, per_second: float = 10.0) -> None:
        self._interval = 1.0 / per_second
        self._texts: dict[str, str] = {}
        self._last_sent = float("-inf")

    def feed(
        self, event: AgentMessageDelta | CommandOutputDelta, now: float | None = None
    ) -> str | None:
        text = (self._texts.get(event.item_id, "") + event.delta)[-_MAX_KEPT_CHARS:]
        self._texts[event.item_id] = text
        now = time.monotonic() if now is None else now
        if now - self._last_sent < self._interval:
            return None
        self._last_sent = now
        return _line(event, text)

    def forget(self, item_id: str) -> None:
        """The item completed: its text is reported whole elsewhere."""
        self._texts.pop(item_id, None)


def _line(event: AgentMessageDelta | CommandOutputDelta, text: str) -> str:
    shown = " ".join(text.split())
    if len(shown) > _SHOWN_CHARS:
        shown = "…" + shown[-(_SHOWN_CHARS - 1) :]
    return f"writing: {shown}" if isinstance(event, AgentMessageDelta) else f"output: {shown}"
