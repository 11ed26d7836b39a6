#!/usr/bin/env python3
"""A fake ``codex`` CLI for unit tests (stdlib only, Python 3.10+).

It mimics the observable contract of the real Codex CLI 0.169.0 -- argument
parsing and clap-style usage errors, stdin handling, ``codex exec --json`` event
shapes, thread persistence/resume/fork, exit codes and stderr texts -- without a
model behind it. The agent's behaviour is chosen by ``[[fake:MODE]]`` directives
in the prompt and/or ``FAKE_CODEX_MODE`` (comma-separated). See README.md beside
this file for the modes and environment variables.
"""

from __future__ import annotations

import contextlib
import datetime
import difflib
import fcntl
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, NoReturn

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None  # type: ignore[assignment]  # -c values: JSON-compatible fallback

DEFAULT_VERSION = "codex-cli 0.169.0"
EXIT_USAGE = 2
DEFAULT_MODEL = "gpt-5-codex"
OPENAI_URL = "https://api.openai.com/v1/responses"
STREAM_ERROR = (
    f"stream disconnected before completion: error sending request for url ({OPENAI_URL})"
)

# Failure modes: directive -> (error event messages, turn.failed message).
FAILURES: dict[str, tuple[list[str], str]] = {
    "429": (
        ["exceeded retry limit, last status: 429 Too Many Requests"],
        "exceeded retry limit, last status: 429 Too Many Requests",
    ),
    "500": (
        ["We’re currently experiencing high demand, which may cause temporary errors."],
        "We’re currently experiencing high demand, which may cause temporary errors.",
    ),
    "nokey": (
        ["Missing environment variable: `OPENAI_API_KEY`."],
        "Missing environment variable: `OPENAI_API_KEY`.",
    ),
    "auth": (
        ["unexpected status 401 Unauthorized: Incorrect API key provided"],
        "unexpected status 401 Unauthorized: Incorrect API key provided",
    ),
    "network": (
        [f"Reconnecting... {n}/5 ({STREAM_ERROR})" for n in range(1, 6)] + [STREAM_ERROR],
        STREAM_ERROR,
    ),
}
GARBAGE_LINES = ["not json {", "", "[1,2]"]
# `garbage=bytes`: what a broken or hostile codex could print, raw bytes.
NASTY_LINES = [
    b"\xff\xfe\x80 invalid utf-8 \xc3\x28",
    b"\x00\x00NUL\x00",
    b"[" * 100_000,
    b'{"type":"thread.started","thread_id":"\\ud800"}',
    b'{"type":"item.completed","item":{"type":"agent_message","text":"trunc',
    b'{"type":"turn.completed","usage":{"input_tokens":1e999999}}',
    b'{"a":' * 50_000,
    b'"just a string"',
    b"\xed\xa0\x80 encoded surrogate",
]


def eprint(*lines: str) -> None:
    for line in lines:
        sys.stderr.write(line + "\n")
    sys.stderr.flush()


def die(message: str, code: int = 1) -> NoReturn:
    eprint(message)
    sys.exit(code)


def die_with_backtrace(message: str, frames: int = 12) -> NoReturn:
    """An anyhow error as the real binary prints it (``Error: ...`` + an empty backtrace)."""
    eprint(
        f"Error: {message}", "", "Stack backtrace:", *(f"{i:>4}: <unknown>" for i in range(frames))
    )
    sys.exit(1)


# --------------------------------------------------------------------------------------
# clap-like argument parsing
#
# argparse cannot reproduce clap closely enough (prefix matching, variadic `-i` that
# swallows the prompt, subcommand detection, exact error texts), so this is a small
# table-driven parser producing the same messages as clap 4 / codex 0.169.0.
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Opt:
    long: str
    short: str | None = None
    value: str | None = None  # value name; None for a boolean flag
    multiple: bool = False  # may be repeated (values accumulate)
    variadic: bool = False  # `<FILE>...`: keeps taking values until the next flag
    choices: tuple[str, ...] = ()
    aliases: tuple[str, ...] = ()

    @property
    def dest(self) -> str:
        return self.long.replace("-", "_")

    def display(self) -> str:
        if self.value is None:
            return f"--{self.long}"
        return f"--{self.long} <{self.value}>" + ("..." if self.variadic else "")


SANDBOX_MODES = ("read-only", "workspace-write", "danger-full-access")
_COMMON = [
    Opt("config", "c", "key=value", multiple=True),
    Opt("enable", value="FEATURE", multiple=True),
    Opt("disable", value="FEATURE", multiple=True),
    Opt("strict-config"),
    Opt("model", "m", "MODEL"),
    Opt("dangerously-bypass-approvals-and-sandbox", aliases=("yolo",)),
    Opt("dangerously-bypass-hook-trust"),
    Opt("worktree"),
    Opt("thread-source", value="SOURCE"),
    Opt(
        "cyber-access-program",
        value="PROGRAM",
        choices=("standard", "daybreak_blue", "daybreak_red"),
    ),
    Opt("skip-git-repo-check"),
    Opt("trust"),
    Opt("ephemeral"),
    Opt("ignore-user-config"),
    Opt("ignore-rules"),
    Opt("output-schema", value="FILE"),
    Opt("json", aliases=("experimental-json",)),
    Opt("output-last-message", "o", "FILE"),
    Opt("help", "h"),
]
EXEC_OPTS = [
    *_COMMON,
    Opt("image", "i", "FILE", multiple=True, variadic=True),
    Opt("oss"),
    Opt("local-provider", value="OSS_PROVIDER"),
    Opt("profile", "p", "CONFIG_PROFILE_V2"),
    Opt("sandbox", "s", "SANDBOX_MODE", choices=SANDBOX_MODES),
    Opt("approve-for-me"),
    Opt("cd", "C", "DIR"),
    Opt("add-dir", value="DIR", multiple=True),
    Opt("color", value="COLOR", choices=("always", "never", "auto")),
    Opt("version", "V"),
]
# `exec resume` / `exec fork` have no --sandbox/--cd/--add-dir/--profile/--color.
FORK_OPTS = [*_COMMON, Opt("image", "i", "FILE", multiple=True)]
RESUME_OPTS = [*FORK_OPTS, Opt("last"), Opt("all")]

EXEC_USAGE = "codex exec [OPTIONS] [PROMPT]\n       codex exec [OPTIONS] <COMMAND> [ARGS]"
RESUME_USAGE = "codex exec resume [OPTIONS] [SESSION_ID] [PROMPT]"
FORK_USAGE = "codex exec fork [OPTIONS] <SESSION_ID> [PROMPT]"
SUBCOMMANDS = ("resume", "fork", "review", "help")


def usage_error(message: str, usage: str | None = None, tip: str | None = None) -> NoReturn:
    """Print a clap-style error and exit 2 (nothing on stdout)."""
    lines = [f"error: {message}", ""]
    if tip:
        lines += [f"  tip: {tip}", ""]
    if usage:
        lines += [f"Usage: {usage}", ""]
    lines.append("For more information, try '--help'.")
    die("\n".join(lines), EXIT_USAGE)


def _is_flag_like(token: str) -> bool:
    return token.startswith("-") and token != "-"


def _find_opt(token: str, opts: list[Opt]) -> tuple[Opt | None, str | None]:
    """Look a `--long[=v]` / `-s[v]` token up; returns (option, attached value)."""
    if token.startswith("--"):
        name, eq, attached = token[2:].partition("=")
        for opt in opts:
            if name == opt.long or name in opt.aliases:
                return opt, (attached if eq else None)
        return None, None
    for opt in opts:
        if opt.short == token[1]:
            return opt, (token[2:] or None)
    return None, None


def _unknown_argument(token: str, opts: list[Opt], usage: str) -> NoReturn:
    name = token.split("=", 1)[0]
    similar = difflib.get_close_matches(name.lstrip("-"), [o.long for o in opts], n=1, cutoff=0.8)
    if name.startswith("--") and similar:
        tip = f"a similar argument exists: '--{similar[0]}'"
    else:
        tip = f"to pass '{name}' as a value, use '-- {name}'"
    usage_error(f"unexpected argument '{name}' found", usage, tip)


def parse_level(
    tokens: list[str],
    opts: list[Opt],
    max_positionals: int,
    usage: str,
    values: dict[str, Any],
    subcommands: tuple[str, ...] = (),
) -> tuple[list[str], str | None, list[str]]:
    """Parse one clap command level into ``values``.

    Returns (positionals, subcommand or None, tokens left for the subcommand).
    """
    seen: set[str] = set()
    positionals: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token == "--":
            positionals += tokens[i + 1 :]
            break
        if not _is_flag_like(token):
            if subcommands and not positionals and token in subcommands:
                return positionals, token, tokens[i + 1 :]
            positionals.append(token)
            i += 1
            continue
        opt, attached = _find_opt(token, opts)
        if opt is None:
            _unknown_argument(token, opts, usage)
        if opt.dest in seen and not opt.multiple:
            usage_error(f"the argument '{opt.display()}' cannot be used multiple times", usage)
        seen.add(opt.dest)
        i += 1
        if opt.value is None:  # boolean flag
            if attached is not None:
                usage_error(
                    f"unexpected value '{attached}' for '--{opt.long}' found; "
                    "no more were expected",
                    usage,
                )
            values[opt.dest] = True
            continue
        if attached is not None:
            taken = [attached]
        elif i < len(tokens) and not _is_flag_like(tokens[i]):
            taken = [tokens[i]]
            i += 1
        else:
            usage_error(f"a value is required for '{opt.display()}' but none was supplied")
        while (
            opt.variadic and attached is None and i < len(tokens) and not _is_flag_like(tokens[i])
        ):
            taken.append(tokens[i])  # clap's num_args=1..: this is how a prompt gets swallowed
            i += 1
        for value in taken:
            if opt.choices and value not in opt.choices:
                usage_error(
                    f"invalid value '{value}' for '{opt.display()}'\n"
                    f"  [possible values: {', '.join(opt.choices)}]"
                )
        if opt.long == "image":
            taken = [part for value in taken for part in value.split(",")]
        if opt.multiple:
            values.setdefault(opt.dest, []).extend(taken)
        else:
            values[opt.dest] = taken[0]
    if len(positionals) > max_positionals:
        usage_error(f"unexpected argument '{positionals[max_positionals]}' found", usage)
    return positionals, None, []


@dataclass
class ExecArgs:
    subcommand: str | None  # None (a new thread), "resume" or "fork"
    values: dict[str, Any]
    session_id: str | None = None
    prompt: str | None = None

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


HELP_TEXT = {
    None: f"Run Codex non-interactively (fake)\n\nUsage: {EXEC_USAGE}\n",
    "resume": f"Resume a previous session by id or pick the most recent with --last (fake)\n\n"
    f"Usage: {RESUME_USAGE}\n",
    "fork": f"Fork a previous session by id into a new session (fake)\n\nUsage: {FORK_USAGE}\n",
}


def parse_exec(tokens: list[str], values: dict[str, Any]) -> ExecArgs:
    positionals, sub, rest = parse_level(tokens, EXEC_OPTS, 1, EXEC_USAGE, values, SUBCOMMANDS)
    if values.get("help") or sub == "help":
        sys.stdout.write(HELP_TEXT[None])
        sys.exit(0)
    if values.get("version"):
        sys.stdout.write("codex-cli-exec " + version_string().split()[-1] + "\n")
        sys.exit(0)
    if sub is None:
        return ExecArgs(None, values, prompt=positionals[0] if positionals else None)
    if sub == "review":
        die("fake codex: `codex exec review` is not implemented", 1)
    opts, usage = (RESUME_OPTS, RESUME_USAGE) if sub == "resume" else (FORK_OPTS, FORK_USAGE)
    positionals, _, _ = parse_level(rest, opts, 2, usage, values)
    if values.get("help"):
        sys.stdout.write(HELP_TEXT[sub])
        sys.exit(0)
    if sub == "fork" and not positionals:
        usage_error(
            "the following required arguments were not provided:\n  <SESSION_ID>",
            "codex exec fork <SESSION_ID> [PROMPT]",
        )
    session_id = positionals[0] if positionals else None
    prompt = positionals[1] if len(positionals) > 1 else None
    if sub == "resume" and values.get("last") and len(positionals) == 1:
        session_id, prompt = None, positionals[0]  # `resume --last PROMPT`
    return ExecArgs(sub, values, session_id=session_id, prompt=prompt)


def parse_config_overrides(raw: list[str]) -> dict[str, Any]:
    """`-c key=value`: the value is parsed as TOML, else kept as a raw string."""
    overrides: dict[str, Any] = {}
    for item in raw:
        key, eq, value = item.partition("=")
        if not eq:
            die(f"Error parsing -c overrides: Invalid override (missing '='): {item}", 1)
        parsed: Any = value.strip()
        if tomllib is not None:
            with contextlib.suppress(tomllib.TOMLDecodeError):
                parsed = tomllib.loads(f"v = {value}")["v"]
        else:  # Python 3.10: JSON covers TOML's strings, numbers, booleans and arrays
            with contextlib.suppress(ValueError):
                parsed = json.loads(value)
        overrides[key.strip()] = parsed
    return overrides


# --------------------------------------------------------------------------------------
# Environment helpers
# --------------------------------------------------------------------------------------


def version_string() -> str:
    return os.environ.get("FAKE_CODEX_VERSION") or DEFAULT_VERSION


def codex_home() -> str:
    home = os.environ.get("CODEX_HOME")
    if home:
        if not os.path.isdir(home):
            die(
                f'Error finding codex home: CODEX_HOME points to "{home}", '
                "but that path does not exist"
            )
        return os.path.abspath(home)
    home = os.path.join(os.path.expanduser("~"), ".codex")
    os.makedirs(home, exist_ok=True)
    return home


def warn_if_home_in_tmp() -> None:
    """Real codex prints this on every start when CODEX_HOME lives in the temp dir."""
    home = os.environ.get("CODEX_HOME")
    tmp = os.environ.get("TMPDIR") or "/tmp"
    if not home or not os.path.isdir(home):
        return
    real_home, real_tmp = os.path.realpath(home), os.path.realpath(tmp)
    if real_home.startswith(real_tmp.rstrip("/") + "/"):
        eprint(
            "WARNING: proceeding, even though we could not create PATH aliases: Refusing to create "
            f'helper binaries under temporary dir "{tmp}" (codex_home: AbsolutePathBuf("{home}"))'
        )


def state_dir(home: str) -> str:
    path = os.environ.get("FAKE_CODEX_STATE_DIR") or home
    os.makedirs(path, exist_ok=True)
    return path


def inside_git_repo(path: str) -> bool:
    path = os.path.abspath(path)
    while True:
        if os.path.exists(os.path.join(path, ".git")):
            return True
        parent = os.path.dirname(path)
        if parent == path:
            return False
        path = parent


def write_atomic(path: str, text: str) -> None:
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)


def append_log(record: dict[str, Any]) -> None:
    path = os.environ.get("FAKE_CODEX_LOG")
    if not path:
        return
    data = (json.dumps(record, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)  # one write: lines from concurrent fakes don't interleave
    finally:
        os.close(fd)


# --------------------------------------------------------------------------------------
# Prompt resolution (mirrors codex-rs/exec: resolve_root_prompt / resolve_prompt)
# --------------------------------------------------------------------------------------


def read_stdin_text() -> str:
    try:
        data = sys.stdin.buffer.read()
    except OSError as exc:
        die(f"Failed to read prompt from stdin: {exc}")
    data = data.removeprefix(b"\xef\xbb\xbf")
    for bom, codec in ((b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be")):
        if data.startswith(bom) and not data.startswith(b"\xff\xfe\x00\x00"):
            try:
                return data[2:].decode(codec)
            except UnicodeDecodeError:
                die(
                    "Failed to read prompt from stdin: input looked like "
                    f"{codec.upper()} but could "
                    "not be decoded. Convert it to UTF-8 and retry."
                )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        die(
            f"Failed to read prompt from stdin: input is not valid UTF-8 (invalid byte at offset "
            f"{exc.start}). Convert it to UTF-8 and retry "
            "(e.g., `iconv -f <ENC> -t UTF-8 prompt.txt`)."
        )


def resolve_prompt(args: ExecArgs) -> tuple[str | None, str | None]:
    """Returns (prompt, raw stdin text or None if stdin was not read)."""
    if args.subcommand == "fork" and args.prompt is None:
        return None, None  # fork without a prompt: no turn, stdin untouched
    if args.prompt is not None and args.prompt != "-":
        if args.subcommand is not None:
            return args.prompt, None  # resume/fork never append stdin
        eprint("Reading additional input from stdin...")
        extra = read_stdin_text()
        if not extra.strip():
            return args.prompt, extra
        block = extra if extra.endswith("\n") else extra + "\n"
        return f"{args.prompt}\n\n<stdin>\n{block}</stdin>", extra
    if args.prompt is None:
        eprint("Reading prompt from stdin...")
    text = read_stdin_text()
    if not text.strip():
        die("No prompt provided via stdin.")
    return text, text


# --------------------------------------------------------------------------------------
# Directives
# --------------------------------------------------------------------------------------

DIRECTIVE_RE = re.compile(r"\[\[fake:(.+?)\]\](?!\])", re.S)


def parse_modes(prompt: str | None) -> dict[str, str | None]:
    """`[[fake:a]] [[fake:b-c=1]]` in the prompt plus FAKE_CODEX_MODE -> {"a": None, "b_c": "1"}."""
    items = [m.strip() for m in os.environ.get("FAKE_CODEX_MODE", "").split(",") if m.strip()]
    items += [m.strip() for m in DIRECTIVE_RE.findall(prompt or "")]
    modes: dict[str, str | None] = {}
    for item in items:
        name, eq, value = item.partition("=")
        modes[name.strip().replace("-", "_")] = value if eq else None
    return modes


def mode_number(modes: dict[str, str | None], name: str, default: float = 0.0) -> float:
    raw = modes.get(name)
    try:
        return float(raw) if raw is not None else default
    except ValueError:
        return default


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
            "completed", {**base, "aggregated_output": output, "exit_code": 0, "status": "completed"}
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
            {"id": self.out.item_id(), "type": "file_change", "changes": changes, "status": "completed"},
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


# --------------------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------------------


def load_output_schema(path: str | None) -> str | None:
    if path is None:
        return None
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        die(f"Failed to read output schema file {path}: {exc.strerror} (os error {exc.errno})")
    try:
        json.loads(text)
    except ValueError as exc:
        die(f"Output schema file {path} is not valid JSON: {exc}")
    return text


def cmd_exec(tokens: list[str], values: dict[str, Any]) -> int:
    args = parse_exec(tokens, values)
    home = codex_home()
    config = parse_config_overrides(args.get("config", []))
    process_cwd = os.getcwd()
    workdir = process_cwd
    if args.get("cd"):
        workdir = os.path.abspath(args.get("cd"))
        if not os.path.isdir(workdir):
            die_with_backtrace("No such file or directory (os error 2)", frames=10)
    stdin_isatty = os.isatty(0)
    log = {
        "argv": sys.argv[1:],
        "stdin": None,
        "prompt": None,
        "cwd": process_cwd,
        "workdir": workdir,
        "pid": os.getpid(),
        "ppid": os.getppid(),
        "pgid": os.getpgid(0),
        "sid": os.getsid(0),
        "stdin_isatty": stdin_isatty,
        "has_codex_api_key": "CODEX_API_KEY" in os.environ,
        "config": config,
        "subcommand": args.subcommand,
        "session_id": args.session_id,
        "options": {k: v for k, v in args.values.items() if k != "config"},
    }
    if stdin_isatty:
        append_log(log)
        die(
            "Error: stdin is a terminal. The fake codex refuses an inherited TTY stdin "
            "(the real CLI "
            "would wait for input); pass the prompt through a pipe or use stdin=DEVNULL."
        )
    prompt, stdin_text = resolve_prompt(args)
    log.update(stdin=stdin_text, prompt=prompt)
    append_log(log)

    schema_text = load_output_schema(args.get("output_schema"))
    git_check = os.environ.get("FAKE_CODEX_GIT_CHECK", "1") != "0"
    if (
        git_check
        and not args.get("skip_git_repo_check")
        and not args.get("dangerously_bypass_approvals_and_sandbox")
        and not inside_git_repo(workdir)
    ):
        die("Not inside a trusted directory and --skip-git-repo-check was not specified.")
    store = ThreadStore(home)
    thread = resolve_thread(args, store, workdir)
    if not store.try_lock(thread["id"]):
        stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        reason = f"thread-store conflict: thread {thread['id']} already has an active writer"
        eprint(
            f"{stamp} ERROR codex_core::session::session: "
            f"failed to initialize thread persistence: {reason}",
            f"{stamp} ERROR codex_core::session: Failed to create session: {reason}",
        )
        die_with_backtrace(
            f"thread/resume: thread/resume failed: thread {thread['id']} already has an "
            "active writer (code -32600)"
        )

    modes = parse_modes(prompt)
    sandbox = args.get("sandbox") or config.get("sandbox_mode") or "read-only"
    if args.get("dangerously_bypass_approvals_and_sandbox"):
        sandbox = "danger-full-access"
    header = {
        "workdir": workdir,
        "model": args.get("model") or str(config.get("model", DEFAULT_MODEL)),
        "provider": str(config.get("model_provider", "openai")),
        "sandbox": str(sandbox),
        "effort": str(config.get("model_reasoning_effort", "none")),
        "prompt": prompt,
    }
    out = Output(
        bool(args.get("json")),
        mode_number(modes, "slow"),
        modes.get("garbage", False),
        header,
        mode_number(modes, "slow_start"),
    )
    turn = Turn(
        args, prompt, modes, thread, store, out, workdir, state_dir(home), schema_text, config
    )
    return turn.run()


def cmd_login(tokens: list[str]) -> int:
    if tokens[:1] != ["status"]:
        die("fake codex: only `codex login status` is implemented", EXIT_USAGE)
    if os.environ.get("FAKE_CODEX_LOGGED_OUT") == "1":
        die("Not logged in", 1)
    eprint("Logged in using an API key - sk-fake-***1234")  # real codex prints this on stderr
    return 0


def main(argv: list[str]) -> int:
    warn_if_home_in_tmp()
    values: dict[str, Any] = {}
    i = 0
    while i < len(argv):  # root options: only -c/--config (global in the real CLI) is supported
        if argv[i] in ("-c", "--config") and i + 1 < len(argv):
            values.setdefault("config", []).append(argv[i + 1])
            i += 2
        elif argv[i].startswith("--config="):
            values.setdefault("config", []).append(argv[i].split("=", 1)[1])
            i += 1
        else:
            break
    command, rest = (argv[i], argv[i + 1 :]) if i < len(argv) else (None, [])
    if command in ("--version", "-V"):
        sys.stdout.write(version_string() + "\n")
        return 0
    if command in ("exec", "e"):
        return cmd_exec(rest, values)
    if command == "login":
        return cmd_login(rest)
    die(
        f"fake codex: unsupported invocation {argv!r} (only exec, login status and --version)",
        EXIT_USAGE,
    )


if __name__ == "__main__":
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(encoding="utf-8", errors="surrogateescape")  # type: ignore[union-attr]
    try:
        sys.exit(main(sys.argv[1:]))
    except BrokenPipeError:  # the reader went away: exit quietly like the real binary
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
