"""``arzip score -m MODEL FILES...``: bits per byte of each file under a model or codec.

What it does: parses options and prints what ``arzip.score`` measured, one
line per file (``--json`` for machines).
What it does not do: measure (the library does).
"""

from __future__ import annotations

import argparse
import json
import os

from ..codecs import parse_codec_spec
from ..errors import UsageError
from ..score import score_bytes
from .compress import Streams


def score_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="arzip score",
        description="Bits per byte of files under a model: the ideal code length from the model's "
        "probabilities (n/a where a codec exposes none) and the actual compressed size.",
    )
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("-m", "--model", default="auto", help="cm, nn, hf:NAME_OR_PATH or a classic codec")
    parser.add_argument("--level", type=int, help="level 1..9 (default: the codec's own)")
    parser.add_argument("-T", "--threads", type=int, default=1)
    parser.add_argument("--device", choices=["cpu", "cuda"], help="where an hf model runs (default cpu)")
    parser.add_argument("--json", action="store_true", help="one JSON list instead of lines")
    return parser


def run_score(args: argparse.Namespace, streams: Streams) -> int:
    codec, _ = parse_codec_spec(args.model)
    if args.device:
        if codec.name != "hf":
            raise UsageError("--device applies to hf models only")
        from dataclasses import replace

        from ..models.hf import HFOptions

        codec.options = replace(codec.options or HFOptions.from_environment(), device=args.device)
    scores = []
    for path in args.files:
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
        with open(path, "rb") as f:
            data = f.read()
        score = score_bytes(os.path.basename(path), data, args.model, args.level, args.threads)
        scores.append(score)
        if not args.json:
            streams.stdout.write((score.line() + "\n").encode())
    if args.json:
        streams.stdout.write((json.dumps([s.to_dict() for s in scores], indent=1) + "\n").encode())
    return 0
