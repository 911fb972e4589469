"""Compression as a measure of a model: bits per byte of files under any codec arzip knows.

What it does: compresses each file with a codec or model (``cm``, ``nn``,
``hf:NAME_OR_PATH``, the classic codecs, ``auto``) and reports two numbers per
file: the *ideal* code length, the sum of -log2 p over every coded symbol with
the probabilities the coder really used (the model's integer frequency tables),
and the *actual* size of the whole ``.arz`` stream (header, frames, index
included). Researchers compare language models by the first; the second is
what a user gets.
What it does not do: decompress or time anything (``arzip bench`` does). Codecs
that expose no probabilities (``cm`` and the classic codecs today) have no ideal
column: it is ``None`` (printed ``n/a``), never a guess.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

from .codecs import parse_codec_spec
from .stream import compress


@dataclass(frozen=True)
class Score:
    file: str
    codec: str  # as given: "zstd", "cm", "hf:gpt2"
    level: int | None
    raw_bytes: int
    compressed_bytes: int  # the whole .arz stream
    ideal_bits: float | None  # from the model's coding tables; None where the codec exposes none

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.compressed_bytes / self.raw_bytes if self.raw_bytes else 0.0

    @property
    def ideal_bits_per_byte(self) -> float | None:
        if self.ideal_bits is None:
            return None
        return self.ideal_bits / self.raw_bytes if self.raw_bytes else 0.0

    def to_dict(self) -> dict:
        ideal = self.ideal_bits_per_byte
        return {
            "file": self.file,
            "codec": self.codec,
            "level": self.level,
            "raw_bytes": self.raw_bytes,
            "compressed_bytes": self.compressed_bytes,
            "ideal_bits": None if self.ideal_bits is None else round(self.ideal_bits, 3),
            "ideal_bits_per_byte": None if ideal is None else round(ideal, 6),
            "bits_per_byte": round(self.bits_per_byte, 6),
        }

    def line(self) -> str:
        ideal = self.ideal_bits_per_byte
        ideal_text = "n/a" if ideal is None else f"{ideal:.4f}"
        return (
            f"{self.file}\t{ideal_text} bpb ideal\t{self.bits_per_byte:.4f} bpb actual"
            f"\t({self.raw_bytes} -> {self.compressed_bytes} bytes, {self.codec})"
        )


def score_bytes(name: str, data: bytes, codec: str, level: int | None = None, threads: int = 1) -> Score:
    """Score ``data`` (called ``name``) under ``codec``."""
    spec_codec, _ = parse_codec_spec(codec)
    measure = getattr(spec_codec, "measure", None)
    with measure() if measure is not None else contextlib.nullcontext() as meter:
        blob = compress(data, codec, level, threads=threads)
    resolved = spec_codec.resolve_level(level)
    ideal = meter.ideal_bits if meter is not None else None
    return Score(name, codec, resolved, len(data), len(blob), ideal)
