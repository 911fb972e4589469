"""The ``arzip`` command line: a thin layer over the library.

What it does: picks the command (a subcommand named first wins over a file of
that name; ``./info`` is a file), parses its arguments, runs it with injectable
streams, and turns every :class:`ArzipError` into a one-line message and the
exit code from ``arzip.errors``.
What it does not do: any work of its own; each command lives in its own module.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from ..errors import ArzipError, ExitCode, exit_code_for
from .compress import Streams, build_parser, default_streams, run

Command = tuple[Callable[[], argparse.ArgumentParser], Callable[[argparse.Namespace, Streams], int]]


def _subcommands() -> dict[str, Command]:
    from . import bench, generate, inspect, score, train, weights

    return {
        "info": (inspect.info_parser, inspect.run_info),
        "list": (inspect.list_parser, inspect.run_list),
        "test": (inspect.test_parser, inspect.run_test),
        "bench": (bench.bench_parser, bench.run_bench),
        "score": (score.score_parser, score.run_score),
        "weights": (weights.weights_parser, weights.run_weights),
        "train": (train.train_parser, train.run_train),
        "generate": (generate.generate_parser, generate.run_generate),
    }


SUBCOMMANDS = ("info", "list", "test", "bench", "score", "weights", "train", "generate")


def main(argv: Sequence[str] | None = None, streams: Streams | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    streams = streams or default_streams()
    try:
        if argv and argv[0] in SUBCOMMANDS:
            make_parser, command = _subcommands()[argv[0]]
            args = _parse(make_parser(), argv[1:], streams)
            return command(args, streams)
        return run(_parse(build_parser(), argv, streams), streams)
    except _ParserExit as done:
        return done.status
    except ArzipError as error:
        streams.stderr.write(f"arzip: {error}\n")
        return int(error.exit_code)
    except KeyboardInterrupt:
        streams.stderr.write("arzip: interrupted\n")
        return int(ExitCode.INTERRUPTED)
    except BrokenPipeError:
        return int(ExitCode.ERROR)
    except OSError as error:
        streams.stderr.write(f"arzip: {error.strerror or error}{': ' + error.filename if error.filename else ''}\n")
        return int(exit_code_for(error))


def console_main() -> None:
    """The ``arzip`` command: :func:`main`, then the exit status straight to the system.

    Python's own shutdown tears down numba's compiled-code runtime object by object,
    about half a second after the work is done, on every run. Every file the command
    writes is complete and renamed into place before :func:`main` returns, so after
    flushing the standard streams the process ends without that teardown (and without
    ``atexit`` handlers, of which arzip registers none)."""
    status = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing left to deliver
            status = status or int(ExitCode.ERROR)
    os._exit(status)


class _ParserExit(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


def _parse(parser: argparse.ArgumentParser, argv: list[str], streams: Streams) -> argparse.Namespace:
    """argparse with its messages sent to the injected streams and no sys.exit."""

    def print_message(message: str, file=None) -> None:  # noqa: ARG001
        if message:
            (streams.stderr if file is sys.stderr else _TextOut(streams)).write(message)

    def fail(message: str) -> None:
        streams.stderr.write(f"{parser.prog}: error: {message}\n")
        raise _ParserExit(int(ExitCode.ERROR))

    def leave(status: int = 0, message: str | None = None) -> None:
        if message:
            streams.stderr.write(message)
        raise _ParserExit(status)

    parser._print_message = print_message  # type: ignore[method-assign]
    parser.error = fail  # type: ignore[method-assign]
    parser.exit = leave  # type: ignore[method-assign]
    return parser.parse_args(argv)


class _TextOut:
    def __init__(self, streams: Streams) -> None:
        self._streams = streams

    def write(self, text: str) -> None:
        self._streams.stdout.write(text.encode())


__all__ = ["main", "Streams"]
