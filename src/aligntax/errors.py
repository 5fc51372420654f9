"""Errors users see, and the documented process exit codes."""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILURE = 1  # unexpected internal error
EXIT_USAGE = 2  # bad command line (typer/click's own code)
EXIT_INPUT = 3  # unreadable or malformed input with --on-error fail, or no input rows at all
EXIT_POLICY = 4  # invalid policy / experiment / config file
EXIT_CONSERVATION = 5  # kept + rejected != input: a hard error, output not committed
EXIT_QUARANTINED = 0  # rows quarantined is not a failure; the count is printed and in the manifest


class AligntaxError(Exception):
    exit_code = EXIT_FAILURE


class InputError(AligntaxError):
    """Bad input: the message always names the file and the line or row."""

    exit_code = EXIT_INPUT


class PolicyError(AligntaxError):
    exit_code = EXIT_POLICY


class ConservationError(AligntaxError):
    exit_code = EXIT_CONSERVATION
