"""``cm``: the context-mixing model (``arzip.models.cm``) as a codec.

What it does: codes chunks with the model at the stream's level and, per chunk,
falls back to the best classic codec where the model does not win (data that is
already compressed: JPEG, PDF streams, archives). The numba model is imported
only when a cm chunk is coded.
What it does not do: any modelling itself.
"""

from __future__ import annotations

from ..errors import FormatError
from .analysis import ChunkAnalysis, analyse, best_classic
from .base import Codec, CodingContext, EncodedChunk

POOR_RATIO = 0.85  # above this the model barely helps: let the classic codecs compete


def _model():
    from ..models import cm

    return cm


class CMCodec(Codec):
    name = "cm"
    codec_id = 16
    summary = "context-mixing model, no weights (orders 0-8, words, match, sparse, record, SSE)"

    def __init__(self, registry: dict[str, Codec]) -> None:
        self._registry = registry

    def available(self) -> bool:
        try:
            _model()
        except ImportError:
            return False
        return True

    def resolve_level(self, level: int | None) -> int:
        if level is None:
            return _model().DEFAULT_LEVEL
        return super().resolve_level(level)

    def chunk_bytes(self, level: int) -> int:
        return _model().LEVELS[level].chunk_bytes

    def memory_bytes(self, level: int) -> int | None:
        return _model().LEVELS[level].memory_bytes

    def level_note(self, level: int) -> str:
        return f"cm level {level}"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.encode_analysed(chunk, context, analyse(chunk))

    def encode_analysed(
        self, chunk: bytes, context: CodingContext, analysis: ChunkAnalysis
    ) -> EncodedChunk:
        """Code a chunk already analysed; fall back to the classic codecs where they win."""
        if analysis.incompressible:
            return best_classic(self._registry, chunk, context)
        payload = _model().encode(bytes(chunk), context.header.level)
        if payload is None:
            return best_classic(self._registry, chunk, context)
        if len(payload) > POOR_RATIO * len(chunk):
            classic = best_classic(self._registry, chunk, context)
            if len(classic[1]) < len(payload):
                return classic
        return self.codec_id, payload

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        level = context.header.level
        if level not in _model().LEVELS:
            raise FormatError(f"corrupt .arz file: cm level {level} does not exist")
        return _model().decode(bytes(payload), raw_size, level)
