"""One turn: what the fake agent does, as its modes script it."""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from fake_args import ExecArgs
from fake_common import FAILURES, STREAM_ERROR, die, eprint
from fake_env import mode_number, write_atomic
from fake_threads import USAGE_KEYS, Output, ThreadStore, blank_thread, new_thread_id

# --------------------------------------------------------------------------------------
# The turn
# --------------------------------------------------------------------------------------


@dataclass
class Turn:
    args: ExecArgs
    prompt: str | None
    modes: dict[str, str | None]
    thread: dict[str, Any]
    store: ThreadStore
    out: Output
    workdir: str
    state: str
    schema_text: str | None
    config: dict[str, Any] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)

    @property
    def persist(self) -> bool:
        return not self.args.get("ephemeral")

    def save(self) -> None:
        if self.persist:
            self.store.save(self.thread)

    def item(self, phase: str, item: dict[str, Any]) -> None:
        self.out.event({"type": f"item.{phase}", "item": item})

    def agent_message(self, text: str) -> None:
        self.messages.append(text)
        self.item("completed", {"id": self.out.item_id(), "type": "agent_message", "text": text})

    # ---- failure handling ---------------------------------------------------------------

    def failure(self) -> str | None:
        """Which failure (a FAILURES key) this turn ends with, if any."""
        for name in FAILURES:
            if name in self.modes:
                return name
        if "fail_exit0" in self.modes:
            return "500"
        if (
            os.environ.get("FAKE_CODEX_REQUIRE_API_KEY") == "1"
            and "CODEX_API_KEY" not in os.environ
        ):
            return "nokey"
        if "fail_times" in self.modes and self._fail_counter(
            int(mode_number(self.modes, "fail_times"))
        ):
            return "500"
        return None

    def _fail_counter(self, limit: int) -> bool:
        """True (and count it) while fewer than `limit` runs have failed so far."""
        path = os.path.join(self.state, "fail_count")
        with open(path, "a+", encoding="utf-8") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            fh.seek(0)
            count = int(fh.read().strip() or 0)
            if count >= limit:
                return False
            fh.seek(0)
            fh.truncate()
            fh.write(str(count + 1))
            return True

    # ---- items ----------------------------------------------------------------------------

    def todo_items(self, done: int) -> list[dict[str, Any]]:
        steps = ["Read the request", "Do the work", "Report back"]
        return [{"text": s, "completed": i < done} for i, s in enumerate(steps)]

    def run_shell(self) -> None:
        self.agent_message("Running a command.")
        base = {
            "id": self.out.item_id(),
            "type": "command_execution",
            "command": "/bin/bash -lc 'echo fake-shell-ok'",
        }
        self.item(
            "started", {**base, "aggregated_output": "", "exit_code": None, "status": "in_progress"}
        )
        self.item(
            "completed",
            {**base, "aggregated_output": "fake-shell-ok\n", "exit_code": 0, "status": "completed"},
        )

    def run_command(self, command: str, output: str) -> None:
        base = {"id": self.out.item_id(), "type": "command_execution", "command": command}
        self.item(
            "started", {**base, "aggregated_output": "", "exit_code": None, "status": "in_progress"}
        )
        self.item(
            "completed",
            {**base, "aggregated_output": output, "exit_code": 0, "status": "completed"},
        )

    def run_flood(self, total: int) -> None:
        """About ``total`` bytes of events: commands with 100 kB outputs each."""
        chunk = ("flood output line " + "x" * 81 + "\n") * 1000
        for index in range(max(1, total // len(chunk))):
            self.run_command(f"echo {index}", chunk)

    def leak_secrets(self) -> None:
        """Print every secret-looking variable codex has, everywhere codex can print."""
        secret = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.I)
        values = " ".join(f"{n}={v}" for n, v in sorted(os.environ.items()) if secret.search(n))
        eprint(f"debug: environment {values}")
        self.out.event({"type": "error", "message": f"auth failed with {values}"})
        self.run_command("env", values + "\n")
        self.agent_message(f"I can see {values}")

    def run_file_change(self) -> None:
        target = os.environ.get("FAKE_CODEX_WRITE_FILE")
        path = os.path.join(self.workdir, target or "fake_codex_edit.txt")
        kind = "update"
        if target:
            kind = "update" if os.path.exists(path) else "add"
            with open(path, "a", encoding="utf-8") as fh:
                fh.write(f"edited by fake codex (thread {self.thread['id']})\n")
        self.item(
            "completed",
            {
                "id": self.out.item_id(),
                "type": "file_change",
                "changes": [{"path": path, "kind": kind}],
                "status": "completed",
            },
        )

    def run_fs_ops(self, spec: str) -> None:
        """`fs=OP;OP...`: append:PATH, create:PATH, delete:PATH, rename:OLD>NEW,
        replace:PATH:OLD>NEW (paths relative to the working directory)."""
        changes = []
        for op in (part.strip() for part in spec.split(";") if part.strip()):
            verb, _, arg = op.partition(":")
            if verb == "rename":
                old, _, new = arg.partition(">")
                os.makedirs(os.path.dirname(os.path.join(self.workdir, new)) or ".", exist_ok=True)
                os.rename(os.path.join(self.workdir, old), os.path.join(self.workdir, new))
                changes += [
                    {"path": os.path.join(self.workdir, old), "kind": "delete"},
                    {"path": os.path.join(self.workdir, new), "kind": "add"},
                ]
                continue
            if verb == "replace":
                arg, _, swap = arg.partition(":")
            path = os.path.join(self.workdir, arg)
            if verb == "append":
                with open(path, "a", encoding="utf-8") as fh:
                    fh.write("appended by fake codex\n")
                changes.append({"path": path, "kind": "update"})
            elif verb == "create":
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write("created by fake codex\n")
                changes.append({"path": path, "kind": "add"})
            elif verb == "delete":
                os.unlink(path)
                changes.append({"path": path, "kind": "delete"})
            elif verb == "replace":
                old, _, new = swap.partition(">")
                with open(path, encoding="utf-8", newline="") as fh:
                    text = fh.read()
                with open(path, "w", encoding="utf-8", newline="") as fh:
                    fh.write(text.replace(old, new, 1))
                changes.append({"path": path, "kind": "update"})
        self.item(
            "completed",
            {
                "id": self.out.item_id(),
                "type": "file_change",
                "changes": changes,
                "status": "completed",
            },
        )

    def spawn_lingerer(self, inherit_stdout: bool) -> None:
        """A grandchild in this process group that ignores SIGTERM and outlives the turn."""
        child = subprocess.Popen(
            ["sleep", "1000"],
            stdin=subprocess.DEVNULL,
            stdout=None if inherit_stdout else subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=lambda: signal.signal(signal.SIGTERM, signal.SIG_IGN),
        )
        write_atomic(os.path.join(self.state, "child.pid"), f"{child.pid}\n")

    def final_text(self) -> str:
        if "env_echo" in self.modes:
            names = [
                n.strip() for n in os.environ.get("FAKE_CODEX_ECHO_ENV", "").split(",") if n.strip()
            ]
            secret = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.I)
            env = {
                n: ("<redacted>" if secret.search(n) and n in os.environ else os.environ.get(n))
                for n in names
            }
            return json.dumps({"has_codex_api_key": "CODEX_API_KEY" in os.environ, "env": env})
        if "huge" in self.modes:
            size = int(mode_number(self.modes, "huge", 5 * 1024 * 1024))
            return ("0123456789" * (size // 10 + 1))[:size]
        if self.schema_text is not None:
            custom = self.modes.get("schema_json")
            return custom if custom is not None else '{"status": "ok", "count": 0}'
        if "shell" in self.modes:
            return "All done."
        if self.modes.get("show"):
            with open(os.path.join(self.workdir, self.modes["show"] or ""), encoding="utf-8") as fh:
                return f"{self.modes['show']} holds: {fh.read()}"
        return f"echo: {self.prompt}"

    # ---- usage ----------------------------------------------------------------------------

    def usage_for_turn(self) -> dict[str, int]:
        """Deterministic per-turn usage; the whole history is re-sent as input (as for real)."""
        history = sum(
            len(t["prompt"] or "") + len(t.get("agent_message") or "") for t in self.thread["turns"]
        )
        return {
            "input_tokens": 900 + history // 4,
            "cached_input_tokens": 0,
            "cache_write_input_tokens": 0,
            "output_tokens": max(1, sum(len(m) for m in self.messages) // 4),
            "reasoning_output_tokens": 16 if "reasoning" in self.modes else 0,
        }

    # ---- the run --------------------------------------------------------------------------

    def run(self) -> int:
        out, modes = self.out, self.modes
        if "crash" in modes:
            die(
                "thread 'main' panicked at exec/src/lib.rs:1:1:\nfake codex crash requested\n"
                "note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace",
                3,
            )
        if "wrong_thread" in modes and self.args.subcommand == "resume":
            self.thread = blank_thread(new_thread_id(), self.workdir)  # answers on another one
        if modes.get("name"):
            self.thread["name"] = modes["name"]
        turn_record: dict[str, Any] = {
            "prompt": self.prompt,
            "status": "in_progress",
            "agent_message": None,
            "argv": sys.argv[1:],
            "config": self.config,
        }
        if self.prompt is not None:
            self.thread["turns"].append(turn_record)
        self.save()
        if "ignore_term" in modes:  # before any event: a caller may signal as soon as it reads one
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
        out.event({"type": "thread.started", "thread_id": self.thread["id"]})
        if self.prompt is None:  # `exec fork ID` without a prompt
            return 0
        out.event({"type": "turn.started"})

        if "stderr_flood" in modes:
            chunk = "fake codex stderr flood " + "x" * 999 + "\n"
            for _ in range(1024):
                sys.stderr.write(chunk)
            sys.stderr.flush()
        if "child" in modes:
            child = subprocess.Popen(
                ["sleep", "1000"], stdin=subprocess.DEVNULL
            )  # same process group
            write_atomic(os.path.join(self.state, "child.pid"), f"{child.pid}\n")
        if "linger" in modes:
            self.spawn_lingerer(inherit_stdout=modes["linger"] == "stdout")
        if modes.keys() & {"stall", "child", "ignore_term"}:
            while True:
                time.sleep(3600)

        if "warning" in modes:
            out.event({"type": "error", "message": f"Reconnecting... 1/5 ({STREAM_ERROR})"})
        if "leak" in modes:
            self.leak_secrets()
        failure = self.failure()
        if failure is not None:
            errors, final = FAILURES[failure]
            for message in errors:
                out.event({"type": "error", "message": message})
            out.event({"type": "turn.failed", "error": {"message": final}})
            turn_record["status"] = "failed"
            self.save()
            self.write_last_message(None)
            return 0 if "fail_exit0" in modes else 1

        if "reasoning" in modes:
            self.item(
                "completed",
                {
                    "id": out.item_id(),
                    "type": "reasoning",
                    "text": "**Considering the request**\n\nWorking out what to answer.",
                },
            )
        todo_id = out.item_id() if "todo" in modes else None
        if todo_id:
            self.item("started", {"id": todo_id, "type": "todo_list", "items": self.todo_items(0)})
        if "shell" in modes:
            self.run_shell()
        if "flood" in modes:
            self.run_flood(int(mode_number(modes, "flood", 1_000_000)))
        if "huge_output" in modes:
            line = "2024-06-11 12:00:00 INFO worker: processed a batch of records\n"
            self.run_command("cat big.log", line * (int(modes["huge_output"] or 0) // len(line)))
        if "file_change" in modes:
            self.run_file_change()
        if modes.get("fs"):
            self.run_fs_ops(modes["fs"] or "")
        if todo_id:
            self.item("updated", {"id": todo_id, "type": "todo_list", "items": self.todo_items(2)})
        if "unknown_event" in modes:
            out.event({"type": "turn.weird", "x": 1})
            out.event(
                {
                    "type": "item.completed",
                    "item": {"id": "item_9", "type": "hologram", "foo": "bar"},
                }
            )
        self.agent_message(self.final_text())
        if todo_id:
            self.item(
                "completed", {"id": todo_id, "type": "todo_list", "items": self.todo_items(3)}
            )

        usage = self.usage_for_turn()
        total = {k: self.thread["usage"].get(k, 0) + usage[k] for k in USAGE_KEYS}
        self.thread["usage"] = total
        turn_record.update(status="completed", agent_message=self.messages[-1], usage=usage)
        self.save()
        out.event({"type": "turn.completed", "usage": total})  # cumulative for the thread
        if not out.json_mode:
            sys.stdout.write(self.messages[-1] + "\n")
            sys.stdout.flush()
        self.write_last_message(self.messages[-1])
        return 0

    def write_last_message(self, text: str | None) -> None:
        path = self.args.get("output_last_message")
        if path:
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text or "")
