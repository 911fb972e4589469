"""Benchmark harness: every codec on every file, side by side, round trip verified.

What it does: compresses each file with each codec through the public API,
times compression and decompression (best of ``repeats``), checks the round
trip, and formats the results as a table, JSON, or a ratio-vs-speed chart
(``plot``, matplotlib). ``arzip bench`` and the scripts in ``bench/`` use it.
What it does not do: run external tools (the scripts in ``bench/`` do, to
compare with xz, zstd and zpaq in the same run).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass

from ..codecs import CODECS
from ..errors import ArzipError
from ..stream import compress, decompress

DEFAULT_SKIP = ("auto",)  # auto repeats one of the others; ask for it by name


@dataclass(frozen=True)
class BenchResult:
    file: str
    codec: str
    level: int | None
    raw_bytes: int
    compressed_bytes: int
    compress_seconds: float
    decompress_seconds: float
    verified: bool

    @property
    def ratio(self) -> float:
        return self.compressed_bytes / self.raw_bytes if self.raw_bytes else 0.0

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.ratio

    @property
    def compress_mb_s(self) -> float:
        return self.raw_bytes / 1e6 / self.compress_seconds if self.compress_seconds else float("inf")

    @property
    def decompress_mb_s(self) -> float:
        return self.raw_bytes / 1e6 / self.decompress_seconds if self.decompress_seconds else float("inf")

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            ratio=round(self.ratio, 6),
            bits_per_byte=round(self.bits_per_byte, 6),
            compress_mb_s=round(self.compress_mb_s, 3),
            decompress_mb_s=round(self.decompress_mb_s, 3),
        )
        return d


def default_codecs() -> list[str]:
    return [
        name
        for name, codec in CODECS.items()
        if name not in DEFAULT_SKIP and codec.selectable and not codec.requires_model and codec.available()
    ]


def bench_one(name: str, data: bytes, codec: str, level: int | None, threads: int, repeats: int) -> BenchResult:
    compress_times, decompress_times = [], []
    blob = b""
    back = None
    for _ in range(max(1, repeats)):
        start = time.perf_counter()
        blob = compress(data, codec, level, threads=threads)
        compress_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        back = decompress(blob, threads=threads)
        decompress_times.append(time.perf_counter() - start)
    return BenchResult(
        file=name,
        codec=codec,
        level=level,
        raw_bytes=len(data),
        compressed_bytes=len(blob),
        compress_seconds=min(compress_times),
        decompress_seconds=min(decompress_times),
        verified=back == data,
    )


def run_benchmark(
    files: Iterable[tuple[str, bytes]],
    codecs: Sequence[str],
    level: int | None = None,
    threads: int = 1,
    repeats: int = 1,
    on_result: Callable[[BenchResult], None] | None = None,
) -> list[BenchResult]:
    results = []
    for name, data in files:
        for codec in codecs:
            result = bench_one(name, data, codec, level, threads, repeats)
            if not result.verified:
                raise ArzipError(f"{name}: {codec} did not round-trip (this is a bug)")
            results.append(result)
            if on_result is not None:
                on_result(result)
    return results


def totals(results: Sequence[BenchResult]) -> list[BenchResult]:
    """One summed row per codec (times summed, so MB/s is over all files)."""
    rows = []
    for codec in dict.fromkeys(r.codec for r in results):
        mine = [r for r in results if r.codec == codec]
        rows.append(
            BenchResult(
                file="TOTAL",
                codec=codec,
                level=mine[0].level,
                raw_bytes=sum(r.raw_bytes for r in mine),
                compressed_bytes=sum(r.compressed_bytes for r in mine),
                compress_seconds=sum(r.compress_seconds for r in mine),
                decompress_seconds=sum(r.decompress_seconds for r in mine),
                verified=all(r.verified for r in mine),
            )
        )
    return rows


def format_table(results: Sequence[BenchResult], markdown: bool = False) -> str:
    header = ["file", "codec", "size", "ratio", "bits/byte", "comp MB/s", "decomp MB/s", "ok"]
    rows = [
        [
            r.file,
            r.codec,
            f"{r.compressed_bytes:,}",
            f"{r.ratio:.4f}",
            f"{r.bits_per_byte:.3f}",
            f"{r.compress_mb_s:.2f}",
            f"{r.decompress_mb_s:.2f}",
            "yes" if r.verified else "NO",
        ]
        for r in results
    ]
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        lines += ["| " + " | ".join(row) + " |" for row in rows]
        return "\n".join(lines)
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    def line(cells: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(header)] + [line(row) for row in rows])


def plot(results: Sequence[BenchResult], path: str) -> None:
    """Ratio against compression speed, one point per codec (totals over all files)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise ArzipError("--plot needs matplotlib: pip install 'arzip[plot]'") from None
    rows = totals(results)
    figure, axis = plt.subplots(figsize=(7, 4.5))
    for r in rows:
        axis.scatter(r.compress_mb_s, r.bits_per_byte, s=40)
        axis.annotate(r.codec, (r.compress_mb_s, r.bits_per_byte), textcoords="offset points", xytext=(5, 4))
    axis.set_xscale("log")
    axis.set_xlabel("compression speed (MB/s, log scale)")
    axis.set_ylabel("bits per byte (lower is better)")
    axis.set_title(f"arzip bench: {len(results) // max(len(rows), 1)} file(s)")
    axis.grid(True, alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
