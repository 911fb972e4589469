"""Compress a file with a local Hugging Face causal LM: bits per byte and KB/s, on CPU or GPU.

    python bench/hf_bench.py MODEL_DIR_OR_NAME FILE [--level 6] [--device cuda] [--dtype float32]
        [--rows 32] [--bytes N] [--no-decode] [--json]

Prints the ideal code length (from the model's coding tables) and the actual
.arz size in bits per byte, compression and decompression speed in KB/s, and
checks that the file decodes to the same bytes. Needs the ``[hf]`` extra and
real weights on disk (arzip never downloads); ready for a machine with a GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import arzip  # noqa: E402
from arzip.codecs import get_codec  # noqa: E402
from arzip.models.hf import HFOptions  # noqa: E402
from arzip.score import Score  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model directory, or a name in the local Hugging Face cache")
    parser.add_argument("file")
    parser.add_argument("--level", type=int, default=None, help="1..9: stream bytes and window (default 6)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    parser.add_argument("--rows", type=int, default=None, help="streams per batch (default 8 cpu, 32 cuda)")
    parser.add_argument("--bytes", type=int, default=None, help="only the first N bytes of the file")
    parser.add_argument("--no-decode", action="store_true", help="skip the timed decode and the check")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    data = Path(args.file).read_bytes()[: args.bytes]
    spec = args.model if args.model.startswith("hf:") else "hf:" + args.model
    get_codec("hf").options = HFOptions(device=args.device, dtype=args.dtype, rows=args.rows)

    codec = get_codec("hf")
    arzip.compress(b"warm up: load the model, compile the coder", spec, args.level)
    start = time.perf_counter()
    with codec.measure() as meter:
        blob = arzip.compress(data, spec, args.level)
    compress_s = time.perf_counter() - start
    score = Score(Path(args.file).name, spec, codec.resolve_level(args.level), len(data), len(blob), meter.ideal_bits)
    result = {**score.to_dict(), "device": args.device, "dtype": args.dtype, "compress_kb_s": _kb_s(data, compress_s)}
    if not args.no_decode:
        start = time.perf_counter()
        back = arzip.decompress(blob)
        result["decompress_kb_s"] = _kb_s(data, time.perf_counter() - start)
        result["verified"] = back == data
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        ideal = result["ideal_bits_per_byte"]
        print(
            f"{result['file']}: {len(data)} bytes, {args.model} on {args.device} ({args.dtype}), level {score.level}\n"
            f"  ideal  {ideal:.4f} bpb\n  actual {result['bits_per_byte']:.4f} bpb\n"
            f"  compress {result['compress_kb_s']:.2f} KB/s"
            + (
                f"\n  decompress {result['decompress_kb_s']:.2f} KB/s, verified {result['verified']}"
                if "verified" in result
                else ""
            )
        )
    return 0 if result.get("verified", True) else 1


def _kb_s(data: bytes, seconds: float) -> float:
    return round(len(data) / 1000 / seconds, 3) if seconds > 0 else float("inf")


if __name__ == "__main__":
    sys.exit(main())
