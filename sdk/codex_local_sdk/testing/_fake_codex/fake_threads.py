"""Threads persisted under CODEX_HOME, and the events printed on stdout."""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
import uuid
from typing import Any

from fake_args import ExecArgs
from fake_common import (
    GARBAGE_LINES,
    NASTY_LINES,
    die_with_backtrace,
    eprint,
    version_string,
)
from fake_env import write_atomic

# --------------------------------------------------------------------------------------
# Thread persistence
# --------------------------------------------------------------------------------------

USAGE_KEYS = (
    "input_tokens",
    "cached_input_tokens",
    "cache_write_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
)


def new_thread_id() -> str:
    """A UUIDv7-shaped id (48-bit ms timestamp, version 7, RFC 4122 variant)."""
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (
        (millis & (2**48 - 1)) << 80
        | 7 << 76
        | (rand >> 64 & 0xFFF) << 64
        | 2 << 62
        | (rand & (2**62 - 1))
    )
    return str(uuid.UUID(int=value))


def canonical_uuid(text: str) -> str | None:
    try:
        return str(uuid.UUID(text.strip()))
    except ValueError:
        return None


class ThreadStore:
    def __init__(self, home: str) -> None:
        self.dir = os.path.join(home, "fake_threads")
        self._lock_fd: int | None = None

    def _path(self, thread_id: str) -> str:
        return os.path.join(self.dir, f"{thread_id}.json")

    def load(self, thread_id: str) -> dict[str, Any] | None:
        try:
            with open(self._path(thread_id), encoding="utf-8") as fh:
                return json.load(fh)
        except (OSError, ValueError):
            return None

    def all(self) -> list[dict[str, Any]]:
        if not os.path.isdir(self.dir):
            return []
        threads = [self.load(name[:-5]) for name in os.listdir(self.dir) if name.endswith(".json")]
        return [t for t in threads if t]

    def find_by_name(self, name: str) -> dict[str, Any] | None:
        named = [t for t in self.all() if t.get("name") == name]
        return max(named, key=lambda t: t["updated_at"]) if named else None

    def newest(self, cwd: str | None) -> dict[str, Any] | None:
        threads = [t for t in self.all() if cwd is None or t.get("cwd") == cwd]
        return max(threads, key=lambda t: t["updated_at"]) if threads else None

    def save(self, thread: dict[str, Any]) -> None:
        os.makedirs(self.dir, exist_ok=True)
        thread["updated_at"] = time.time_ns()
        write_atomic(self._path(thread["id"]), json.dumps(thread, indent=1, ensure_ascii=False))

    def try_lock(self, thread_id: str) -> bool:
        """One writer per thread: an exclusive flock held until this process exits."""
        os.makedirs(self.dir, exist_ok=True)
        fd = os.open(os.path.join(self.dir, f"{thread_id}.lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._lock_fd = fd  # intentionally kept open (and not inherited: O_CLOEXEC by default)
        return True


def blank_thread(thread_id: str, workdir: str) -> dict[str, Any]:
    now = time.time_ns()
    return {
        "id": thread_id,
        "name": None,
        "cwd": workdir,
        "created_at": now,
        "updated_at": now,
        "forked_from": None,
        "turns": [],
        "usage": dict.fromkeys(USAGE_KEYS, 0),
    }


def resolve_thread(args: ExecArgs, store: ThreadStore, workdir: str) -> dict[str, Any]:
    """Find/create the thread for this run, failing like the real CLI for unknown ids."""
    if args.subcommand == "resume":
        if args.get("last"):
            found = store.newest(None if args.get("all") else workdir)
            return found or blank_thread(new_thread_id(), workdir)
        if args.session_id is None:
            return blank_thread(new_thread_id(), workdir)
        thread_id = canonical_uuid(args.session_id)
        if thread_id is None:  # a thread name; unknown names silently start a new thread
            return store.find_by_name(args.session_id) or blank_thread(new_thread_id(), workdir)
        found = store.load(thread_id)
        if found is None:
            die_with_backtrace(
                f"thread/resume: thread/resume failed: no rollout found for thread id "
                f"{args.session_id} (code -32600)"
            )
        return found
    if args.subcommand == "fork":
        assert args.session_id is not None
        thread_id = canonical_uuid(args.session_id)
        source = store.load(thread_id) if thread_id else store.find_by_name(args.session_id)
        if source is None and thread_id:
            die_with_backtrace(
                f"thread/fork: thread/fork failed: no rollout found for thread id "
                f"{args.session_id} (code -32600)"
            )
        if source is None:
            die_with_backtrace(f"Session not found: {args.session_id}", frames=13)
        fork = blank_thread(new_thread_id(), workdir)
        fork.update(
            turns=list(source["turns"]), usage=dict(source["usage"]), forked_from=source["id"]
        )
        return fork
    return blank_thread(new_thread_id(), workdir)


# --------------------------------------------------------------------------------------
# Output
# --------------------------------------------------------------------------------------


class Output:
    """Writes events as JSONL (``--json``) or as the human transcript on stderr."""

    def __init__(
        self,
        json_mode: bool,
        slow: float,
        garbage: str | bool | None,
        header: dict[str, str],
        slow_start: float = 0.0,
    ) -> None:
        self.json_mode = json_mode
        self.slow = slow
        self.slow_start = slow_start
        self.garbage = garbage is not False and json_mode
        self.nasty = garbage == "bytes"
        self.header = header
        self.events = 0
        self.items = 0

    def item_id(self) -> str:
        self.items += 1
        return f"item_{self.items - 1}"

    def event(self, event: dict[str, Any]) -> None:
        if not self.events and self.slow_start:
            time.sleep(self.slow_start)
        if self.events:
            if self.slow:
                time.sleep(self.slow)
            if self.nasty:
                for line in NASTY_LINES:
                    sys.stdout.buffer.write(line + b"\n")
                sys.stdout.buffer.flush()
            elif self.garbage:
                self._stdout(GARBAGE_LINES[self.events % len(GARBAGE_LINES)])
        self.events += 1
        if self.json_mode:
            self._stdout(json.dumps(event, ensure_ascii=False, separators=(",", ":")))
        else:
            self._human(event)

    @staticmethod
    def _stdout(line: str) -> None:
        sys.stdout.write(line + "\n")
        sys.stdout.flush()

    def _human(self, event: dict[str, Any]) -> None:
        kind = event["type"]
        item = event.get("item") or {}
        if kind == "thread.started":
            h = self.header
            eprint(
                f"OpenAI Codex v{version_string().split()[-1]}",
                "--------",
                f"workdir: {h['workdir']}",
                f"model: {h['model']}",
                f"provider: {h['provider']}",
                "approval: never",
                f"sandbox: {h['sandbox']}",
                f"reasoning effort: {h['effort']}",
                "reasoning summaries: none",
                f"session id: {event['thread_id']}",
                "--------",
            )
            if h.get("prompt") is not None:
                eprint("user", h["prompt"])
        elif kind in ("error", "turn.failed"):
            eprint("ERROR: " + (event.get("message") or event.get("error", {}).get("message", "")))
        elif kind == "turn.completed":
            usage = event["usage"]
            eprint("tokens used", f"{usage['input_tokens'] + usage['output_tokens']:,}")
        elif kind == "item.completed" and item.get("type") == "agent_message":
            eprint("codex", item["text"])
        elif kind == "item.completed" and item.get("type") == "reasoning":
            eprint("thinking", item["text"])
        elif kind == "item.started" and item.get("type") == "command_execution":
            eprint("exec", f"{item['command']} in {self.header['workdir']}")
        elif kind == "item.completed" and item.get("type") == "command_execution":
            eprint(" succeeded in 0ms:", item["aggregated_output"])
        elif kind == "item.completed" and item.get("type") == "file_change":
            eprint("file update:", *(f"M {c['path']}" for c in item["changes"]))
