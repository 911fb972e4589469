"""``nn``: the context-mixing model with the built-in network's predictions mixed in.

What it does: ``-m nn`` codes chunks with the context-mixing model of
``arzip.models.cm`` at the stream's level, its mixers taking the network's
P(bit | bits so far of the byte) as extra inputs, so the result is never much
worse than ``cm`` where the network knows nothing. ``-m nn:model.arzm`` uses a
model trained by ``arzip train``; ``nn`` is the model shipped in the package.
The header records the reference and the model file's SHA-256; decoding finds
the model by itself and refuses any other (``arzip -d -m nn:PATH`` to point
elsewhere). Chunks are independent streams coded in parallel threads (the model
loop releases the GIL); like ``cm``, a chunk falls back to the best classic codec
where the model does not win.
What it does not do: model anything itself (``arzip.models.nn``, ``arzip.models.cm``).
"""

from __future__ import annotations

from ..errors import FormatError, ModelError
from .analysis import analyse, best_classic
from .base import Codec, CodingContext, EncodedChunk
from .cm import POOR_RATIO, _contend

DEFAULT_REF = "nn"


def _cm():
    from ..models import cm

    return cm


def _nn():
    from ..models.nn import shipped

    return shipped


class NNCodec(Codec):
    name = "nn"
    codec_id = 17
    summary = "context mixing + the built-in int8 neural network (-m nn, or nn:model.arzm from arzip train)"

    def __init__(self, registry: dict[str, Codec]) -> None:
        self._registry = registry

    def available(self) -> bool:
        try:
            _cm()
            return _nn().default_model_path().is_file()
        except ImportError:
            return False

    def resolve_level(self, level: int | None) -> int:
        if level is None:
            return _cm().DEFAULT_LEVEL
        return super().resolve_level(level)

    def chunk_bytes(self, level: int) -> int:
        return _cm().LEVELS[level].chunk_bytes

    def memory_bytes(self, level: int) -> int | None:
        return _cm().LEVELS[level].memory_bytes + _nn().MODEL_MEMORY_BYTES

    def level_note(self, level: int) -> str:
        return f"cm level {level} + network"

    def model_identity(self, model_ref: str | None) -> tuple[str, bytes]:
        ref = model_ref or DEFAULT_REF
        return ref, _nn().load(ref).digest

    def _network(self, context: CodingContext):
        header = context.header
        ref = context.model_override or header.model_ref or DEFAULT_REF
        if not ref.startswith("nn"):
            ref = "nn:" + ref
        network = _nn().load(ref)
        if header.model_hash and network.digest != header.model_hash:
            raise ModelError(
                f"{ref} is not the model this file was compressed with ({header.model_ref}): "
                f"SHA-256 {network.digest.hex()[:16]} != {header.model_hash.hex()[:16]}; "
                "point -m nn:PATH at the original model file"
            )
        return network

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.encode_chunks([chunk], context)[0]

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        return self.decode_chunks([(payload, raw_size)], context)[0]

    def encode_chunks(self, chunks, context: CodingContext, threads: int = 1) -> list[EncodedChunk]:
        network = self._network(context)
        level = _cm().LEVELS[context.header.level]

        def one(chunk: bytes) -> EncodedChunk:
            # as cm does: classic codecs where the model does not win, and xz contending
            # on another thread for every chunk (so nn is never larger than xz)
            if analyse(chunk).incompressible:
                return best_classic(self._registry, chunk, context)
            contender = _contend(self._registry["lzma"], chunk, context)
            payload = _cm().encode_level(bytes(chunk), level, network)
            lzma_result = contender.result()
            if payload is None or len(payload) > POOR_RATIO * len(chunk):
                classic = best_classic(self._registry, chunk, context)
                if payload is None or len(classic[1]) < len(payload):
                    return classic
            if len(lzma_result[1]) < len(payload):
                return lzma_result
            return self.codec_id, payload

        from .base import _map

        return _map(one, chunks, threads)

    def decode_chunks(self, frames, context: CodingContext, threads: int = 1) -> list[bytes]:
        levels = _cm().LEVELS
        if context.header.level not in levels:
            raise FormatError(f"corrupt .arz file: nn level {context.header.level} does not exist")
        network = self._network(context)
        level = levels[context.header.level]
        from .base import _map

        return _map(lambda frame: _cm().decode_level(bytes(frame[0]), frame[1], level, network), frames, threads)
