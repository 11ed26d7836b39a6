"""The environment, the prompt (as codex-rs/exec resolves it) and ``[[fake:MODE]]`` directives."""

from __future__ import annotations

import json
import os
import re
import sys
from typing import Any

from fake_args import ExecArgs
from fake_common import die, eprint

# --------------------------------------------------------------------------------------
# Environment helpers
# --------------------------------------------------------------------------------------


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
