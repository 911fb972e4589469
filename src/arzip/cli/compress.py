"""The main command: ``arzip [options] [FILE ...]`` compresses or decompresses files.

What it does: gzip/xz/zstd conventions over the library's streaming objects:
``FILE`` -> ``FILE.arz`` and back, ``-c``/``-`` for pipes, ``-o`` for another
name, ``-k`` (default) or ``--rm``, ``-f`` to overwrite, levels ``-1``..``-9``.
Every output goes through :class:`AtomicOutput`.
What it does not do: any coding itself (``arzip.stream``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

from ..codecs import CODECS, parse_codec_spec
from ..errors import ArzipError, UsageError
from ..stream import Compressor, decompress_blocks
from .output import AtomicOutput, progress_bar

SUFFIX = ".arz"
IO_BLOCK_BYTES = 1 << 20


@dataclass
class Streams:
    """The process's standard streams, injectable for tests."""

    stdin: IO[bytes]
    stdout: IO[bytes]
    stderr: IO[str]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arzip",
        description="Lossless compression by autoregressive models. "
        "Subcommands: info, list, test, bench (arzip SUBCOMMAND -h).",
    )
    parser.add_argument("files", nargs="*", metavar="FILE", help="files to (de)compress; - or none for stdin")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("-z", "--compress", dest="decompress", action="store_false", help="compress (default)")
    mode.add_argument("-d", "--decompress", dest="decompress", action="store_true", help="decompress")
    parser.add_argument("-c", "--stdout", action="store_true", help="write to standard output")
    parser.add_argument("-o", "--output", metavar="OUT", help="output file (one input only)")
    keep = parser.add_mutually_exclusive_group()
    keep.add_argument("-k", "--keep", dest="remove", action="store_false", help="keep the input (default)")
    keep.add_argument("--rm", dest="remove", action="store_true", help="remove the input after success")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite existing outputs")
    parser.add_argument(
        "-m",
        "--codec",
        "--model",
        dest="codec",
        metavar="CODEC",
        help=f"codec or model: {', '.join(CODECS)}; or nn:PATH, hf:NAME_OR_PATH (default auto). "
        "On decompression: where to find the file's model",
    )
    for level in range(1, 10):
        parser.add_argument(f"-{level}", dest="level", action="store_const", const=level, help=argparse.SUPPRESS)
    parser.add_argument("--level", type=int, metavar="N", help="level 1 (fast) .. 9 (strong); also -1 .. -9")
    parser.add_argument("-T", "--threads", type=int, default=0, metavar="N",
                        help="chunks coded at once (default 0: one per CPU core; the output does not depend on it)")
    parser.add_argument(
        "--device", choices=("cpu", "cuda"), help="where a neural model runs (hf); the file records it"
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="say what was done")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar, no warnings")
    parser.set_defaults(decompress=False, remove=False)
    return parser


def run(args: argparse.Namespace, streams: Streams) -> int:
    if args.threads < 0:
        raise UsageError("--threads must be 0 (one per CPU core) or more")
    if args.threads == 0:
        args.threads = os.cpu_count() or 1
    if args.threads > 1 and args.threads > (os.cpu_count() or 1) * 4:
        raise UsageError(f"--threads {args.threads} is more than this machine can use")
    files = args.files or ["-"]
    if args.output and len(files) > 1:
        raise UsageError("-o takes one input file")
    if args.output and args.stdout:
        raise UsageError("-o and -c cannot be used together")
    if not args.decompress:
        parse_codec_spec(args.codec or "auto")  # fail before touching any file
    status = 0
    with _device(args.device):
        for name in files:
            try:
                _process(name, args, streams)
            except ArzipError as error:
                streams.stderr.write(f"arzip: {error}\n")
                status = status or int(error.exit_code)
    return status


@contextlib.contextmanager
def _device(device: str | None) -> Iterator[None]:
    """``--device``: the model codecs read ARZIP_DEVICE; set it for this command only."""
    if device is None:
        yield
        return
    before = os.environ.get("ARZIP_DEVICE")
    os.environ["ARZIP_DEVICE"] = device
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ARZIP_DEVICE", None)
        else:
            os.environ["ARZIP_DEVICE"] = before


def _process(name: str, args: argparse.Namespace, streams: Streams) -> None:
    from_stdin = name == "-"
    output_name = _output_name(name, args, from_stdin)
    if args.decompress and not from_stdin and _unpack_directory(name, output_name, args):
        return
    if output_name is None and not args.decompress and not args.force and _is_terminal(streams.stdout):
        raise UsageError("refusing to write compressed data to a terminal (use -f, -c with a pipe, or -o)")
    source = streams.stdin if from_stdin else _open_input(name)
    try:
        size = None if from_stdin else _regular_size(source)
        if output_name is None:
            _transfer(source, streams.stdout, size, name, args, streams)
            streams.stdout.flush()
        else:
            target = AtomicOutput(output_name, force=args.force)
            try:
                _transfer(source, target.file, size, name, args, streams)
                target.commit(like=None if from_stdin else name)
            except BaseException:
                target.discard()
                raise
    finally:
        if not from_stdin:
            source.close()
    if args.remove and not from_stdin and output_name is not None:
        os.unlink(name)


def _unpack_directory(name: str, output_name: str | None, args: argparse.Namespace) -> bool:
    """A weights archive of a model directory becomes that directory again."""
    from ..weights.archive import extract, is_directory_archive

    if not os.path.isfile(name) or not is_directory_archive(name):
        return False
    if output_name is None:
        raise UsageError(f"{name}: holds a directory; it cannot go to standard output")
    extract(name, output_name, base=args.codec, threads=args.threads, force=args.force)
    if args.remove:
        os.unlink(name)
    return True


def _output_name(name: str, args: argparse.Namespace, from_stdin: bool) -> str | None:
    """The output path, or None for standard output."""
    if args.stdout:
        return None
    if args.output:
        return None if args.output == "-" else args.output
    if from_stdin:
        return None
    if args.decompress:
        if not name.endswith(SUFFIX) or len(os.path.basename(name)) == len(SUFFIX):
            raise UsageError(f"{name}: unknown suffix, expected {SUFFIX} (use -o NAME or -c)")
        return name[: -len(SUFFIX)]
    if name.endswith(SUFFIX) and not args.force:
        raise UsageError(f"{name}: already has the {SUFFIX} suffix (use -f to compress it again)")
    return name + SUFFIX


def _open_input(name: str) -> IO[bytes]:
    try:
        if os.path.isdir(name):
            raise UsageError(f"{name}: is a directory")
        return open(name, "rb")  # noqa: SIM115 (closed by the caller)
    except FileNotFoundError:
        raise UsageError(f"{name}: no such file") from None
    except PermissionError:
        raise UsageError(f"{name}: permission denied") from None


def _regular_size(source: IO[bytes]) -> int | None:
    try:
        info = os.fstat(source.fileno())
    except (OSError, AttributeError, ValueError):
        return None
    return info.st_size if stat.S_ISREG(info.st_mode) else None


def _transfer(
    source: IO[bytes], target: IO[bytes], size: int | None, name: str, args: argparse.Namespace, streams: Streams
) -> None:
    show = not args.quiet
    label = os.path.basename(name) if name != "-" else "stdin"
    written = 0
    with progress_bar(size, label, streams.stderr, show) as advance:
        block_sizes: list[int] = []
        blocks = _read_blocks(source, block_sizes)
        if args.decompress:
            codec = None
            for out in decompress_blocks(blocks, model=args.codec, threads=args.threads, progress=advance):
                target.write(out)
                written += len(out)
        else:
            engine = Compressor(
                args.codec or "auto", args.level, threads=args.threads, content_size=size, progress=advance
            )
            codec = f"{engine.header.codec} -{engine.header.level}"
            for block in blocks:
                out = engine.compress(block)
                target.write(out)
                written += len(out)
            out = engine.flush()
            target.write(out)
            written += len(out)
    read = sum(block_sizes)
    if args.verbose:
        _report(label, read, written, args, streams, codec)


def _read_blocks(source: IO[bytes], sizes: list[int]) -> Iterator[bytes]:
    while block := source.read(IO_BLOCK_BYTES):
        sizes.append(len(block))
        yield block


def _report(label: str, read: int, written: int, args: argparse.Namespace, streams: Streams, codec: str | None) -> None:
    raw, packed = (written, read) if args.decompress else (read, written)
    ratio = packed / raw if raw else 0.0
    bits = 8 * packed / raw if raw else 0.0
    how = f", {codec}" if codec else ""
    streams.stderr.write(f"{label}: {raw} -> {packed} bytes ({ratio:.2%}, {bits:.3f} bits/byte{how})\n")


def _is_terminal(stream: IO[bytes]) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def default_streams() -> Streams:
    return Streams(sys.stdin.buffer, sys.stdout.buffer, sys.stderr)
