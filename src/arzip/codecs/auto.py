"""``auto``, the default codec: analyse each chunk, choose a codec, store the result.

What it does: for every chunk, (1) analyses a sample (``analysis.analyse``),
(2) chooses: the context-mixing model ``cm`` for compressible data when it is
installed (it falls back to the classic codecs by itself where it loses), the
best classic codec otherwise, and (3) returns the payload with the id of the
codec that made it, so each frame says how to decode it. The stream layer
stores a chunk raw whenever a payload would not be smaller, so ``auto`` never
makes a file larger than its input plus the container's own bytes.
What it does not do: decode (frames name their real codec), or try every codec
on large chunks (that is ``arzip bench``).
"""

from __future__ import annotations

from .analysis import analyse, best_classic, best_of
from .base import Codec, CodingContext, EncodedChunk
from .cm import CMCodec


class AutoCodec(Codec):
    name = "auto"
    codec_id = None
    summary = "analyse each chunk and pick: cm for compressible data, else the best classic codec"

    def __init__(self, registry: dict[str, Codec]) -> None:
        self._registry = registry

    def _model(self) -> CMCodec | None:
        cm = self._registry.get("cm")
        return cm if isinstance(cm, CMCodec) and cm.available() else None

    def _classic(self) -> list[Codec]:
        return [self._registry[name] for name in ("lzma", "zstd", "brotli") if self._registry[name].available()]

    def resolve_level(self, level: int | None) -> int:
        model = self._model()
        if level is None and model is not None:
            return model.resolve_level(None)
        return super().resolve_level(level)

    def chunk_bytes(self, level: int) -> int:
        model = self._model()
        return model.chunk_bytes(level) if model is not None else super().chunk_bytes(level)

    def memory_bytes(self, level: int) -> int | None:
        model = self._model()
        return model.memory_bytes(level) if model is not None else None

    def level_note(self, level: int) -> str:
        model = self._model()
        return f"cm -{level} or classic" if model is not None else "best of lzma/zstd/brotli"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        analysis = analyse(chunk)
        model = self._model()
        if model is not None:
            return model.encode_analysed(chunk, context, analysis)
        if analysis.incompressible:
            return best_classic(self._registry, chunk, context)
        return best_of(self._classic(), chunk, context)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        raise AssertionError("auto frames carry the id of the codec that made them")
