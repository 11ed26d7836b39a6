"""The exit codes of ``codex-bridge``, and what maps errors and outcomes to them."""

from __future__ import annotations

import signal

from codex_local_sdk import (
    CodexNotInstalledError,
    CodexUsageError,
    CodexVersionError,
    SessionExistsError,
    SessionNotFoundError,
)

from ..service import BridgeError, RunOutcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_CODEX_MISSING = 4
EXIT_NOT_FOUND = 5
EXIT_INTERRUPTED = 128 + signal.SIGINT

PROG = "codex-bridge"
EXIT_CODES_HELP = """\
exit codes:
  0    success
  1    the turn failed (doctor: a check failed; also unexpected errors)
  2    usage error: bad arguments, or a request the policy refuses
  3    the run timed out (codex's process group was killed)
  4    codex is not installed, cannot be started, or is too old
  5    no such session (or codex does not know the thread)
  130  interrupted by Ctrl-C (codex's process group was killed); 128+N for signal N
"""


class UsageProblem(Exception):
    """Bad command-line input found after argument parsing (exit code 2)."""


def exit_code_for_error(exc: BridgeError) -> int:
    cause = exc.__cause__
    if isinstance(cause, (CodexNotInstalledError, CodexVersionError)):
        return EXIT_CODEX_MISSING
    if isinstance(cause, SessionNotFoundError):
        return EXIT_NOT_FOUND
    if exc.code in ("invalid_request", "policy") or isinstance(
        cause, (CodexUsageError, SessionExistsError)
    ):
        return EXIT_USAGE
    return EXIT_FAILED


def exit_code_for_outcome(outcome: RunOutcome) -> int:
    if outcome.ok:
        return EXIT_OK
    if outcome.status == "timeout":
        return EXIT_TIMEOUT
    if outcome.status == "cancelled":
        return EXIT_INTERRUPTED
    if outcome.error is not None and outcome.error.kind == "unknown_thread":
        return EXIT_NOT_FOUND
    return EXIT_FAILED
