"""The errors arzip raises, and the one place that maps them to exit codes.

Every failure a user can cause (bad input, a corrupt or foreign file, a missing
model, an existing output) raises a subclass of :class:`ArzipError` with a
one-line message; the CLI prints that line and exits with the code below.
Anything else escaping the library is a bug.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    """Process exit statuses of the ``arzip`` command."""

    OK = 0
    ERROR = 1  # a generic failure (I/O, output exists, bad arguments)
    CORRUPT = 2  # the input is not a valid .arz file, or fails its checksums
    UNSUPPORTED = 3  # a valid file that this arzip cannot decode (version, codec)
    MODEL = 4  # the model named by the file is missing or is not the one used
    INTERRUPTED = 130


class ArzipError(Exception):
    """Base class of every error arzip reports to a user."""

    exit_code: ExitCode = ExitCode.ERROR


class UsageError(ArzipError):
    """Bad arguments: an unknown codec, an invalid level, conflicting options."""


class OutputExistsError(ArzipError):
    """The output file exists and ``--force`` was not given."""


class FormatError(ArzipError):
    """The data is not an .arz container (wrong magic) or its structure is broken."""

    exit_code = ExitCode.CORRUPT


class TruncatedError(FormatError):
    """The container ends before its end marker."""


class ChecksumError(FormatError):
    """A header, frame or the whole content does not match its checksum."""


class UnsupportedError(ArzipError):
    """A well-formed file that needs a newer arzip (format version, codec id)."""

    exit_code = ExitCode.UNSUPPORTED


class ModelError(ArzipError):
    """A model cannot be found, loaded, or is not the one the file was made with."""

    exit_code = ExitCode.MODEL


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit status for an exception that reached the command line."""
    if isinstance(error, ArzipError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return ExitCode.INTERRUPTED
    if isinstance(error, OSError):
        return ExitCode.ERROR
    return ExitCode.ERROR
