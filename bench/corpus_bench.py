"""Every arzip codec and the reference tools on the benchmark corpus, side by side in one run.

Writes the "corpus" section of docs/BENCHMARKS.md: per-file compressed sizes for
each arzip codec at its default level (round trip verified, through the library)
beside gzip -9, bzip2 -9, xz -9e, zstd --ultra -22, brotli -q 11 and zpaq -m5
(whichever are installed), then totals with speeds.

    python bench/corpus_bench.py [--corpus ../shared/corpus] [--codecs auto,zstd,...]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from _report import machine_line, write_section  # noqa: E402

from arzip.bench import default_codecs, run_benchmark  # noqa: E402

DEFAULT_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"

# name -> (command producing the compressed bytes on stdout, or a callable writing a file)
TOOLS = {
    "gzip -9": ["gzip", "-9", "-c"],
    "bzip2 -9": ["bzip2", "-9", "-c"],
    "xz -9e": ["xz", "-9e", "-c"],
    "zstd -22": ["zstd", "--ultra", "-22", "-c", "-q"],
    "brotli -q11": ["brotli", "-q", "11", "-w", "24", "-c"],
}


def tool_size(name: str, path: Path) -> tuple[int, float] | None:
    """(compressed bytes, seconds) for a reference tool, or None if it is not installed."""
    if name == "zpaq -m5":
        if not shutil.which("zpaq"):
            return None
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / "x.zpaq"
            start = time.perf_counter()
            subprocess.run(["zpaq", "a", str(out), str(path), "-m5"], check=True, capture_output=True)
            return out.stat().st_size, time.perf_counter() - start
    command = TOOLS[name]
    if not shutil.which(command[0]):
        return None
    start = time.perf_counter()
    done = subprocess.run(command + [str(path)], check=True, capture_output=True)
    return len(done.stdout), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--codecs", help="comma-separated arzip codecs (default: all installed)")
    parser.add_argument("--no-write", action="store_true", help="print only")
    args = parser.parse_args()
    paths = sorted(p for p in args.corpus.iterdir() if p.is_file() and p.name != "README.md")
    codecs = args.codecs.split(",") if args.codecs else ["auto"] + default_codecs()
    tools = list(TOOLS) + ["zpaq -m5"]

    sizes: dict[str, dict[str, int]] = {}
    seconds: dict[str, float] = {}
    raw_total = 0
    for path in paths:
        data = path.read_bytes()
        raw_total += len(data)
        row = sizes.setdefault(path.name, {"raw": len(data)})
        for result in run_benchmark([(path.name, data)], codecs):
            row[f"arzip {result.codec}"] = result.compressed_bytes
            key = f"arzip {result.codec}"
            seconds[key] = seconds.get(key, 0.0) + result.compress_seconds
            seconds[key + " (d)"] = seconds.get(key + " (d)", 0.0) + result.decompress_seconds
        for tool in tools:
            measured = tool_size(tool, path)
            if measured is not None:
                row[tool] = measured[0]
                seconds[tool] = seconds.get(tool, 0.0) + measured[1]
        print(path.name, row, flush=True)

    columns = [f"arzip {c}" for c in codecs] + [t for t in tools if t in next(iter(sizes.values()))]
    lines = [
        "## Corpus: every codec at its default level, beside the reference tools",
        "",
        machine_line() + f" Script: `bench/corpus_bench.py`. Each file compressed separately; sizes in bytes.",
        "",
        "| file | raw | " + " | ".join(columns) + " |",
        "|---|---:|" + "---:|" * len(columns),
    ]
    for name, row in sizes.items():
        lines.append(f"| {name} | {row['raw']:,} | " + " | ".join(f"{row.get(c, 0):,}" for c in columns) + " |")
    totals = {c: sum(row.get(c, 0) for row in sizes.values()) for c in columns}
    lines.append(f"| **total** | {raw_total:,} | " + " | ".join(f"**{totals[c]:,}**" for c in columns) + " |")
    lines.append(
        "| bits/byte | | " + " | ".join(f"{8 * totals[c] / raw_total:.3f}" for c in columns) + " |"
    )
    lines.append(
        "| compress MB/s | | " + " | ".join(f"{raw_total / 1e6 / seconds[c]:.2f}" for c in columns) + " |"
    )
    lines.append(
        "| decompress MB/s | | "
        + " | ".join(f"{raw_total / 1e6 / seconds[c + ' (d)']:.2f}" if c + " (d)" in seconds else "" for c in columns)
        + " |"
    )
    lines += [
        "",
        "arzip speeds are in-process (library calls, best of one run); reference tools are whole processes, "
        "including start-up. Compare ratios; this machine is shared and its timings are noisy.",
    ]
    text = "\n".join(lines)
    print(text)
    if not args.no_write:
        write_section("corpus", text)


if __name__ == "__main__":
    main()
