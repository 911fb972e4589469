"""``arzip weights compress|decompress|info``: model checkpoints, losslessly.

What it does: parses options and calls ``arzip.weights``; names outputs as the
main command does (``PATH`` -> ``PATH.arz``; ``-o`` for another name), writes
through a temporary file, and prints per-tensor statistics.
What it does not do: any coding (``arzip.weights`` does).
"""

from __future__ import annotations

import argparse
import json
import os

from ..errors import UsageError
from .compress import SUFFIX, Streams
from .output import AtomicOutput, progress_bar


def weights_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arzip weights", description="Compress model weight files (safetensors) losslessly."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    compress = commands.add_parser("compress", help="a .safetensors file or a model directory -> one .arz")
    compress.add_argument("path", metavar="PATH")
    compress.add_argument("-o", "--output", metavar="OUT")
    compress.add_argument("--base", metavar="BASE", help="store tensors as deltas against this base checkpoint")
    decompress = commands.add_parser("decompress", help="an archive -> the original file or directory")
    decompress.add_argument("path", metavar="ARCHIVE")
    decompress.add_argument("-o", "--output", metavar="OUT")
    decompress.add_argument("--base", metavar="BASE", help="where the base checkpoint is now")
    info = commands.add_parser("info", help="per-tensor dtype, shape, ratio and bits per weight")
    info.add_argument("path", metavar="ARCHIVE")
    info.add_argument("--json", action="store_true")
    for sub in (compress, decompress):
        sub.add_argument("-f", "--force", action="store_true", help="overwrite an existing output")
        sub.add_argument("-T", "--threads", type=int, default=os.cpu_count() or 1, metavar="N")
        sub.add_argument("-v", "--verbose", action="store_true")
        sub.add_argument("-q", "--quiet", action="store_true")
    return parser


def run_weights(args: argparse.Namespace, streams: Streams) -> int:
    if args.command == "compress":
        return _compress(args, streams)
    if args.command == "decompress":
        return _decompress(args, streams)
    return _info(args, streams)


def _compress(args: argparse.Namespace, streams: Streams) -> int:
    from ..weights.archive import compress_weights, list_inputs

    inputs, _ = list_inputs(args.path)
    output = args.output or args.path.rstrip(os.sep) + SUFFIX
    target = AtomicOutput(output, force=args.force)
    try:
        with progress_bar(sum(e.size for e in inputs), os.path.basename(args.path), streams.stderr, not args.quiet) as advance:
            summary = compress_weights(args.path, target.file, base=args.base, threads=args.threads, progress=advance)
        target.commit()
    except BaseException:
        target.discard()
        raise
    if args.verbose:
        saved = 1 - summary.compressed_bytes / summary.raw_bytes if summary.raw_bytes else 0.0
        kinds = ", ".join(f"{kind} x{n}" for kind, n in sorted(summary.frames_by_kind.items()))
        streams.stderr.write(
            f"{args.path}: {summary.raw_bytes} -> {summary.compressed_bytes} bytes ({saved:.2%} saved; "
            f"{summary.files} file(s), {summary.tensors} tensors; frames: {kinds})\n"
        )
    return 0


def _decompress(args: argparse.Namespace, streams: Streams) -> int:
    from ..weights.archive import extract

    output = args.output
    if output is None:
        if not args.path.endswith(SUFFIX):
            raise UsageError(f"{args.path}: unknown suffix, expected {SUFFIX} (use -o)")
        output = args.path[: -len(SUFFIX)]
    written = extract(args.path, output, base=args.base, threads=args.threads, force=args.force)
    if args.verbose:
        streams.stderr.write(f"{args.path}: {len(written)} file(s) written to {output}\n")
    return 0


def _info(args: argparse.Namespace, streams: Streams) -> int:
    from ..weights.archive import WeightsArchive

    archive = WeightsArchive(args.path)
    rows = []
    for file_index, info in archive.tensors():
        start = archive.file_offsets[file_index]
        packed = archive.compressed_bytes(start + info.start, start + info.end)
        count = info.nbytes // info.itemsize if info.itemsize else 0
        rows.append(
            {
                "file": archive.file_names[file_index],
                "tensor": info.name,
                "dtype": info.dtype,
                "shape": list(info.shape),
                "bytes": info.nbytes,
                "compressed_bytes": round(packed),
                "ratio": round(packed / info.nbytes, 4) if info.nbytes else 0.0,
                "bits_per_weight": round(8 * packed / count, 3) if count else 0.0,
            }
        )
    total = archive.info
    if args.json:
        document = {
            "archive": args.path,
            "files": archive.manifest["files"],
            "content_bytes": total.content_size,
            "compressed_bytes": total.compressed_size,
            "base": archive.manifest.get("base"),
            "tensors": rows,
        }
        streams.stdout.write((json.dumps(document) + "\n").encode())
        return 0
    lines = [f"{'tensor':<48} {'dtype':<8} {'shape':<16} {'bytes':>12} {'ratio':>7} {'bits/w':>7}"]
    for row in rows:
        shape = "x".join(str(d) for d in row["shape"]) or "scalar"
        lines.append(
            f"{row['tensor'][:48]:<48} {row['dtype']:<8} {shape:<16} {row['bytes']:>12,} "
            f"{row['ratio']:>7.4f} {row['bits_per_weight']:>7.3f}"
        )
    saved = 1 - total.compressed_size / total.content_size if total.content_size else 0.0
    lines.append(
        f"{len(archive.file_names)} file(s), {len(rows)} tensors: {total.content_size:,} -> "
        f"{total.compressed_size:,} bytes ({saved:.2%} saved)"
    )
    streams.stdout.write(("\n".join(lines) + "\n").encode())
    return 0
