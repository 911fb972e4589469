"""``arzip info``, ``arzip list`` and ``arzip test``: look at files and at what arzip offers.

What it does: formats :func:`arzip.info.describe` for people (or ``--json``),
lists the registry's codecs with what each level means and costs, and decodes
files to verify them without writing anything.
What it does not do: compress or write files.
"""

from __future__ import annotations

import argparse
import json

from ..codecs import CODECS, codec_by_id
from ..codecs.base import MAX_LEVEL, MIN_LEVEL
from ..errors import ArzipError, UnsupportedError
from ..info import StreamInfo, describe
from ..stream import decompress_blocks
from .compress import IO_BLOCK_BYTES, Streams, _open_input
from .output import progress_bar


def info_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arzip info", description="Show what .arz files hold.")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="one JSON object per file")
    return parser


def run_info(args: argparse.Namespace, streams: Streams) -> int:
    status = 0
    for name in args.files:
        try:
            with _open_input(name) as source:
                info = describe(source)
        except ArzipError as error:
            streams.stderr.write(f"arzip: {name}: {error}\n")
            status = status or int(error.exit_code)
            continue
        text = json.dumps(_info_dict(name, info)) if args.json else _info_text(name, info)
        streams.stdout.write((text + "\n").encode())
    return status


def _codec_name(codec_id: int) -> str:
    try:
        return codec_by_id(codec_id).name
    except UnsupportedError:
        return f"unknown({codec_id})"


def _info_dict(name: str, info: StreamInfo) -> dict:
    header = info.header
    return {
        "file": name,
        "format_version": header.version,
        "codec": header.codec,
        "level": header.level,
        "chunk_bytes": header.chunk_bytes,
        "model": header.model_ref or None,
        "model_hash": header.model_hash.hex() or None,
        "content_size": info.content_size,
        "compressed_size": info.compressed_size,
        "ratio": round(info.ratio, 6),
        "bits_per_byte": round(info.bits_per_byte, 6),
        "frames": len(info.index.raw_sizes),
        "frame_codecs": {_codec_name(cid): n for cid, n in sorted(info.frame_codecs.items())},
        "content_checksum": f"{info.index.content_checksum:016x}",
    }


def _info_text(name: str, info: StreamInfo) -> str:
    d = _info_dict(name, info)
    frames = ", ".join(f"{codec} x{n}" for codec, n in d["frame_codecs"].items()) or "none"
    lines = [
        f"{name}:",
        f"  format version   {d['format_version']}",
        f"  codec            {d['codec']} (level {d['level']}, chunks of {d['chunk_bytes']} bytes)",
        f"  frames           {d['frames']} ({frames})",
        f"  content size     {d['content_size']} bytes",
        f"  compressed size  {d['compressed_size']} bytes ({d['ratio']:.2%}, {d['bits_per_byte']:.3f} bits/byte)",
        f"  content xxh3-64  {d['content_checksum']}",
    ]
    if d["model"]:
        lines.insert(3, f"  model            {d['model']} (hash {d['model_hash']})")
    return "\n".join(lines)


def list_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arzip list", description="List codecs, models and levels.")
    parser.add_argument("--json", action="store_true")
    return parser


def run_list(args: argparse.Namespace, streams: Streams) -> int:
    rows = []
    for codec in CODECS.values():
        if not codec.selectable:
            continue
        available = codec.available()
        levels = []
        if available:
            for level in range(MIN_LEVEL, MAX_LEVEL + 1):
                memory = codec.memory_bytes(level)
                levels.append(
                    {
                        "level": level,
                        "meaning": codec.level_note(level),
                        "chunk_bytes": codec.chunk_bytes(level),
                        "memory_bytes": memory,
                    }
                )
        rows.append(
            {
                "codec": codec.name,
                "id": codec.codec_id,
                "available": available,
                "default_level": codec.resolve_level(None) if available else None,
                "summary": codec.summary,
                "levels": levels,
            }
        )
    if args.json:
        streams.stdout.write((json.dumps(rows, indent=1) + "\n").encode())
        return 0
    out = []
    for row in rows:
        state = "" if row["available"] else "  [not installed]"
        out.append(f"{row['codec']:<8} {row['summary']}{state}")
        if row["codec"] == "store":
            continue
        for level in row["levels"]:
            memory = f"{level['memory_bytes'] / 2**20:7.0f} MiB" if level["memory_bytes"] else "        -"
            mark = "*" if level["level"] == row["default_level"] else " "
            out.append(
                f"   {mark}-{level['level']}  {level['meaning']:<24} chunks {level['chunk_bytes'] / 2**20:5.1f} MiB"
                f"  memory {memory}"
            )
    out.append("(* default level; memory is per chunk coded at once, see -T)")
    streams.stdout.write(("\n".join(out) + "\n").encode())
    return 0


def test_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arzip test", description="Decode .arz files and verify every checksum.")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-m", "--model", help="where to find the files' model")
    parser.add_argument("-T", "--threads", type=int, default=1)
    parser.add_argument("-q", "--quiet", action="store_true")
    return parser


def run_test(args: argparse.Namespace, streams: Streams) -> int:
    status = 0
    for name in args.files:
        try:
            _verify(name, args, streams)
        except ArzipError as error:
            streams.stderr.write(f"arzip: {name}: {error}\n")
            status = status or int(error.exit_code)
            continue
        if not args.quiet:
            streams.stdout.write(f"{name}: OK\n".encode())
    return status


def _verify(name: str, args: argparse.Namespace, streams: Streams) -> None:
    with _open_input(name) as source, progress_bar(None, name, streams.stderr, not args.quiet) as advance:
        blocks = iter(lambda: source.read(IO_BLOCK_BYTES), b"")
        for _ in decompress_blocks(blocks, model=args.model, threads=args.threads, progress=advance):
            pass
