"""The exit codes of ``codex-bridge``, and what maps errors and outcomes to them."""

from __future__ import annotations

import signal
from collections.abc import Mapping

from .. import errors
from ..service import RunOutcome

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_TIMEOUT = 3
EXIT_CODEX_MISSING = 4
EXIT_NOT_FOUND = 5
EXIT_INTERRUPTED = 128 + signal.SIGINT

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


EXIT_CODES: Mapping[type[errors.BridgeError], int] = {
    errors.BridgeError: EXIT_USAGE,  # its code says: an invalid request
    errors.InvalidRequest: EXIT_USAGE,  # InvalidSetting too: a bad flag or CODEX_BRIDGE_* value
    errors.PolicyRefused: EXIT_USAGE,
    errors.SessionExists: EXIT_USAGE,
    errors.SessionNotFound: EXIT_NOT_FOUND,
    errors.SessionStoreFailed: EXIT_FAILED,
    errors.JobNotFound: EXIT_FAILED,
    errors.JobNotRunning: EXIT_FAILED,
    errors.CodexUnavailable: EXIT_CODEX_MISSING,
    errors.CodexFailed: EXIT_FAILED,
}
"""The exit code of each bridge error (the nearest class counts)."""


def exit_code_for_error(exc: errors.BridgeError) -> int:
    return errors.lookup(EXIT_CODES, exc)


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
