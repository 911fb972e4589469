"""Cheap look at a chunk before choosing how to code it.

What it does: measures a few samples of a chunk (order-0 entropy, what a fast
LZ codec saves) and says whether the chunk looks compressible at all, and runs a
"best of these codecs" contest when a choice must be exact.
What it does not do: model the data; the result only steers ``auto`` and the
model codecs' fallback.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from .base import Codec, CodingContext, EncodedChunk

SAMPLE_BYTES = 1 << 16
SAMPLE_COUNT = 4


@dataclass(frozen=True)
class ChunkAnalysis:
    size: int
    order0_bits_per_byte: float  # entropy of the byte histogram of the samples
    lz_ratio: float  # zstd -1 output / input over the samples

    @property
    def incompressible(self) -> bool:
        """Already compressed or random: modelling will not beat storing by much."""
        return self.lz_ratio > 0.97 and self.order0_bits_per_byte > 7.8


def samples(chunk: bytes) -> list[bytes]:
    """Up to SAMPLE_COUNT evenly spaced slices of SAMPLE_BYTES (the whole chunk if small)."""
    if len(chunk) <= SAMPLE_BYTES * SAMPLE_COUNT:
        return [chunk]
    step = (len(chunk) - SAMPLE_BYTES) // (SAMPLE_COUNT - 1)
    return [chunk[i * step : i * step + SAMPLE_BYTES] for i in range(SAMPLE_COUNT)]


def analyse(chunk: bytes) -> ChunkAnalysis:
    import zstandard

    parts = samples(chunk)
    sampled = sum(len(p) for p in parts)
    if sampled == 0:
        return ChunkAnalysis(0, 0.0, 0.0)
    counts = np.zeros(256, dtype=np.int64)
    for part in parts:
        counts += np.bincount(np.frombuffer(part, dtype=np.uint8), minlength=256)
    p = counts[counts > 0] / sampled
    entropy = float(-(p * np.log2(p)).sum())
    compressor = zstandard.ZstdCompressor(level=1)
    lz = sum(len(compressor.compress(part)) for part in parts)
    return ChunkAnalysis(len(chunk), entropy, lz / sampled)


def best_of(codecs: Sequence[Codec], chunk: bytes, context: CodingContext) -> EncodedChunk:
    """The smallest payload among ``codecs`` (the first on ties)."""
    best: EncodedChunk | None = None
    for codec in codecs:
        encoded = codec.encode_chunk(chunk, context)
        if best is None or len(encoded[1]) < len(best[1]):
            best = encoded
    assert best is not None
    return best


FALLBACK_CODECS = ("lzma", "zstd", "brotli")


def best_classic(registry: Mapping[str, Codec], chunk: bytes, context: CodingContext) -> EncodedChunk:
    """The best classic codec at its strongest setting: what data no model helps gets."""
    strongest = CodingContext(replace(context.header, level=9), context.model_override)
    codecs = [registry[name] for name in FALLBACK_CODECS if registry[name].available()]
    return best_of(codecs, chunk, strongest)
