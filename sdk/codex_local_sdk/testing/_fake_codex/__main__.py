"""A fake ``codex`` CLI for unit tests (stdlib only, Python 3.10+).

It mimics the observable contract of the real Codex CLI 0.169.0 -- argument
parsing and clap-style usage errors, stdin handling, ``codex exec --json`` event
shapes, thread persistence/resume/fork, exit codes and stderr texts -- without a
model behind it. The agent's behaviour is chosen by ``[[fake:MODE]]`` directives
in the prompt and/or ``FAKE_CODEX_MODE`` (comma-separated). See README.md beside
this file for the modes and environment variables.

Run the folder: ``python path/to/_fake_codex ...``. Its modules import each other as top-level
modules (the folder is ``sys.path[0]`` when run), so the fake needs nothing but the stdlib.
This module holds the commands (``exec``, ``login status``, ``--version``) and the entry point.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
from typing import Any

from fake_args import parse_config_overrides, parse_exec
from fake_common import (
    DEFAULT_MODEL,
    EXIT_USAGE,
    die,
    die_with_backtrace,
    eprint,
    version_string,
)
from fake_env import (
    append_log,
    codex_home,
    inside_git_repo,
    mode_number,
    parse_modes,
    resolve_prompt,
    state_dir,
    warn_if_home_in_tmp,
)
from fake_threads import Output, ThreadStore, resolve_thread
from fake_turn import Turn

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
