"""Output helpers: machine output on stdout, errors on stderr, the rich console, and the
way times, paths, durations and token usage are shown."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import msgspec

from codex_local_sdk import Usage

from ..launch import PROG

if TYPE_CHECKING:
    from rich.console import Console


def error(message: str) -> None:
    print(f"{PROG}: error: {message}", file=sys.stderr)


def is_terminal(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def make_console(stderr: bool = False) -> Console:
    from rich.console import Console

    # No markup: names, prompts and paths are shown as they are, brackets included.
    return Console(stderr=stderr, highlight=False, markup=False)


class Stdout:
    """Machine output on stdout; a reader that goes away (``| head``) ends it quietly."""

    closed = False

    @classmethod
    def line(cls, data: Any) -> None:
        if cls.closed:
            return
        try:
            sys.stdout.write(msgspec.json.encode(data).decode() + "\n")
            sys.stdout.flush()
        except BrokenPipeError:
            cls.closed = True
            # Point stdout at /dev/null so the interpreter's final flush does not fail again.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def local_time(iso: str) -> str:
    try:
        return dt.datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return iso


def home_relative(path: str | None) -> str:
    if not path:
        return ""
    home = str(Path.home())
    return "~" + path[len(home) :] if path == home or path.startswith(home + os.sep) else path


def duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f}s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"


def plural(number: int, noun: str) -> str:
    return f"{number} {noun}" + ("" if number == 1 else "s")


def describe_usage(usage: Usage) -> str:
    text = f"{usage.input_tokens:,} in"
    if usage.cached_input_tokens:
        text += f" ({usage.cached_input_tokens:,} cached)"
    text += f", {usage.output_tokens:,} out"
    if usage.reasoning_output_tokens:
        text += f" ({usage.reasoning_output_tokens:,} reasoning)"
    return text


def wants_json(args: argparse.Namespace) -> bool:
    return bool(args.json) or not is_terminal(sys.stdout)
