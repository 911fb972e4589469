"""``arzip bench FILES...``: every codec on every file, as a table, JSON or a chart.

What it does: parses options and prints what ``arzip.bench`` measured.
What it does not do: measure (the library does).
"""

from __future__ import annotations

import argparse
import json
import os

from ..bench import default_codecs, format_table, plot, run_benchmark, totals
from ..codecs import get_codec
from ..errors import UsageError
from .compress import Streams


def bench_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arzip bench", description="Compare every codec on files.")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-m", "--codecs", help="comma-separated codecs (default: every installed one but auto)")
    parser.add_argument("--level", type=int, help="level for every codec (default: each codec's own)")
    parser.add_argument("-T", "--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=1, help="time the best of N runs")
    parser.add_argument("--json", action="store_true", help="JSON instead of a table")
    parser.add_argument("--plot", metavar="PNG", help="also draw bits per byte against speed")
    return parser


def run_bench(args: argparse.Namespace, streams: Streams) -> int:
    codecs = args.codecs.split(",") if args.codecs else default_codecs()
    for name in codecs:
        get_codec(name)
    files = []
    for path in args.files:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
        with open(path, "rb") as f:
            files.append((os.path.basename(path), f.read()))
    results = run_benchmark(files, codecs, args.level, args.threads, args.repeats)
    if args.json:
        text = json.dumps([r.to_dict() for r in results], indent=1)
    else:
        rows = results + (totals(results) if len(files) > 1 else [])
        text = format_table(rows)
    streams.stdout.write((text + "\n").encode())
    if args.plot:
        plot(results, args.plot)
    return 0
