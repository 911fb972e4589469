"""``cm``: the context-mixing model (``arzip.models.cm``) as a codec.

What it does: codes chunks with the model at the stream's level and, per chunk,
falls back to a classic codec where the model does not win: data that is already
compressed (JPEG, PDF streams, archives) goes to the best classic codec, and every
chunk that is not text is also given to LZMA (xz at the same level) on a second
thread while the model runs (after it, with ``-T 1``: one thread means one), so a
file where LZ matching beats the model (some binary tables) is never larger than
xz makes it. Text is not given to xz: on text the model's match
model and word contexts always beat LZ, and on a 2-core machine the contender
would only take CPU time from the model. A chunk that is not text is coded with the
level's contexts for binary data as well (sparse, indirect, ...), and the payload says
which. The numba model is imported only when a cm chunk is coded.
What it does not do: any modelling itself.
"""

from __future__ import annotations

import gc
import os
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from ..errors import FormatError, UnsupportedError
from .analysis import ChunkAnalysis, analyse, best_classic
from .base import Codec, CodingContext, EncodedChunk

# (the model's revision, arzip.models.cm.MODEL_REVISION, is the first byte of every cm and nn
# payload: a change to the model changes its bits, so a payload of a revision that this arzip
# does not know is refused rather than mis-decoded. From revision 3 a second byte says whether
# the chunk was coded as text, 0, or with the contexts for binary data, 1.)
FIRST_REVISION_WITH_KIND = 3
POOR_RATIO = 0.85  # above this the model barely helps: let the classic codecs compete
TEXT_CONTROL_SHARE = 0.002  # at most this share of control bytes (other than tab, LF, CR) in text

# control bytes that text does not contain: 0-31 but tab, LF, FF, CR; and DEL
_CONTROL = np.ones(256, dtype=bool)
_CONTROL[32:127] = False
_CONTROL[128:] = False
_CONTROL[[9, 10, 12, 13]] = False


def _model():
    """The model package, imported on first use with the garbage collector paused (the
    import of numba makes many objects and no cycles worth collecting)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        from ..models import cm
    finally:
        if enabled:
            gc.enable()
    return cm


_CONTENDERS: ThreadPoolExecutor | None = None


def looks_like_text(chunk: bytes) -> bool:
    """Plain text (ASCII or UTF-8 and the like): almost no control bytes."""
    if len(chunk) == 0:
        return False
    counts = np.bincount(np.frombuffer(chunk, dtype=np.uint8), minlength=256)
    return int(counts[_CONTROL].sum()) <= TEXT_CONTROL_SHARE * len(chunk)


def _contend(codec: Codec, chunk: bytes, context: CodingContext) -> Future:
    """Start ``codec`` on ``chunk`` in the background, at the stream's level (so that a
    fast level stays fast: level 1 contends with xz -1, level 9 with xz -9e)."""
    global _CONTENDERS
    if _CONTENDERS is None:
        _CONTENDERS = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="arzip-contender")
    return _CONTENDERS.submit(codec.encode_chunk, chunk, context)


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
        binary = not looks_like_text(chunk)
        # xz contends for binary chunks: beside the model, or after it with -T 1
        beside = binary and context.threads != 1
        contender = _contend(self._registry["lzma"], chunk, context) if beside else None
        payload = self.model_encode(bytes(chunk), context, binary)
        if payload is not None:
            revision = _model().MODEL_REVISION
            kind = (int(binary),) if revision >= FIRST_REVISION_WITH_KIND else ()
            payload = bytes((revision, *kind)) + payload
        if contender is not None:
            lzma_result = contender.result()
        else:
            lzma_result = self._registry["lzma"].encode_chunk(chunk, context) if binary else None
        if payload is None or len(payload) > POOR_RATIO * len(chunk):
            classic = best_classic(self._registry, chunk, context)
            if payload is None or len(classic[1]) < len(payload):
                return classic
        if lzma_result is not None and len(lzma_result[1]) < len(payload):
            return lzma_result
        return self.codec_id, payload

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        level = context.header.level
        if level not in _model().LEVELS:
            raise FormatError(f"corrupt .arz file: {self.name} level {level} does not exist")
        known = _model().LEVELS_BY_REVISION
        if len(payload) == 0 or payload[0] not in known:
            found = f"revision {payload[0]}" if len(payload) else "an empty payload"
            revisions = ", ".join(str(r) for r in sorted(known))
            raise UnsupportedError(
                f"this {self.name} chunk was made by model {found}; this arzip decodes revisions "
                f"{revisions} (use the arzip that made the file, or the file is corrupt)"
            )
        revision, body = payload[0], payload[1:]
        binary = False
        if revision >= FIRST_REVISION_WITH_KIND:
            if len(body) == 0 or body[0] > 1:
                raise FormatError(f"corrupt .arz file: bad {self.name} chunk")
            binary, body = body[0] == 1, body[1:]
        return self.model_decode(bytes(body), raw_size, context, revision, binary)

    # The model itself: a codec that mixes more predictors in (``nn``) overrides these two.
    def model_encode(self, chunk: bytes, context: CodingContext, binary: bool) -> bytes | None:
        """The model's payload for ``chunk`` (current revision; ``binary``: the contexts for
        data that is not text), or None if it would not be smaller."""
        return _model().encode(chunk, context.header.level, binary)

    def model_decode(self, payload: bytes, raw_size: int, context: CodingContext,
                     revision: int, binary: bool) -> bytes:
        return _model().decode(payload, raw_size, context.header.level, revision, binary)
