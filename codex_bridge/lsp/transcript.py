"""Live transcripts: one Markdown file per conversation, kept current while codex works.

A run opens its transcript when it starts (``window/showDocument``); progress lines and
agent messages (live as the model writes them, with the warm engine) are appended as they
arrive and the file is rewritten at most every :data:`FLUSH_SECONDS` (editors that watch
files reload it), and once more at the end. A
resume or fork of a thread continues in that thread's transcript. Clients that prefer not
to watch files ask ``codex/transcript`` for the current text.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

__all__ = ["FLUSH_SECONDS", "Transcript", "Transcripts"]

FLUSH_SECONDS = 0.25
_MAX_LINES = 5000  # per turn; later lines are counted, not kept
_MAX_CHARS = 4000  # of one line


class Transcript:
    """The text of one conversation, and the file that shows it."""

    def __init__(self, path: Path, title: str) -> None:
        self.path = path
        self.uri = path.as_uri()
        self.version = 0
        self._parts: list[str] = [f"# {title}", ""]
        self._turn_lines = 0
        self._dropped = 0
        self._flushed_at = 0.0
        self._dirty = True
        self._live: dict[str, list[int]] = {}

    def start_turn(self, heading: str, prompt: str) -> None:
        self._turn_lines, self._dropped = 0, 0
        self._parts += [
            f"## {heading}",
            "",
            "### Prompt",
            "",
            prompt.rstrip(),
            "",
            "### Progress",
            "",
        ]
        self._dirty = True

    def add(self, line: str) -> None:
        if self._turn_lines >= _MAX_LINES:
            self._dropped += 1
            return
        self._turn_lines += 1
        if len(line) > _MAX_CHARS:
            line = line[:_MAX_CHARS] + "…"
        self._parts.append(line)
        self._dirty = True

    def add_live(self, item_id: str, line: str) -> None:
        """A line of an agent message still being written (replaced by :meth:`settle`)."""
        self._live.setdefault(item_id, []).append(len(self._parts))
        self.add(line)

    def settle(self, item_id: str, text: str) -> None:
        """The agent message ``item_id`` is complete: its live lines give way to ``text``."""
        drop = set(self._live.pop(item_id, ()))
        if drop:
            self._parts = [part for index, part in enumerate(self._parts) if index not in drop]
            self._turn_lines -= len(drop)
            shift = sorted(drop)
            self._live = {
                key: [i - sum(1 for d in shift if d < i) for i in indexes]
                for key, indexes in self._live.items()
            }
        self.add(text)

    def section(self, heading: str, body: str) -> None:
        if self._dropped:
            self._parts.append(f"- … {self._dropped} more progress lines not kept")
            self._dropped = 0
        self._parts += ["", f"### {heading}", "", body.rstrip(), ""]
        self._dirty = True

    def text(self) -> str:
        return "\n".join(self._parts) + "\n"

    def flush(self, *, force: bool = False) -> bool:
        """Write the file when something changed (and, unless ``force``, not too often)."""
        now = time.monotonic()
        if not self._dirty or (not force and now - self._flushed_at < FLUSH_SECONDS):
            return False
        temporary = self.path.with_suffix(".tmp")
        temporary.write_text(self.text(), encoding="utf-8")
        os.replace(temporary, self.path)
        self._flushed_at, self._dirty = now, False
        self.version += 1
        return True


class Transcripts:
    """The transcripts of one server, in a private directory it deletes at the end."""

    def __init__(self, directory: str) -> None:
        self.directory = directory
        self._by_thread: dict[str, Transcript] = {}
        self._by_run: dict[str, Transcript] = {}

    def for_run(self, run_id: str, title: str, *, thread: str | None) -> Transcript:
        """The transcript a run writes to: its thread's (a resume), else a new one."""
        transcript = self._by_thread.get(thread) if thread else None
        if transcript is None:
            transcript = Transcript(Path(self.directory, f"{run_id}.md"), title)
        self._by_run[run_id] = transcript
        return transcript

    def remember(self, transcript: Transcript, *keys: str | None) -> None:
        """Later runs on these threads or sessions continue in ``transcript``."""
        for key in keys:
            if key:
                self._by_thread[key] = transcript

    def of_run(self, run_id: str) -> Transcript | None:
        return self._by_run.get(run_id)

    def by_uri(self, uri: str) -> Transcript | None:
        return next((t for t in self._by_run.values() if t.uri == uri), None)
