"""clap-like argument parsing, with codex's usage errors."""

from __future__ import annotations

import contextlib
import difflib
import json
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    tomllib = None  # type: ignore[assignment]  # -c values: JSON-compatible fallback

from fake_common import EXIT_USAGE, die, version_string

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
