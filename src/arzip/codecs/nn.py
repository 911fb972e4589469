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

from ..errors import ModelError
from .base import Codec, CodingContext
from .cm import CMCodec

DEFAULT_REF = "nn"


def _cm():
    from ..models import cm

    return cm


def _nn():
    from ..models.nn import shipped

    return shipped


class NNCodec(CMCodec):
    """``cm`` with the network's predictions as extra mixer inputs; the rest as ``cm``
    (levels, chunks, the xz contender and the classic fallbacks)."""

    name = "nn"
    codec_id = 17
    summary = "context mixing + the built-in int8 neural network (-m nn, or nn:model.arzm from arzip train)"

    def __init__(self, registry: dict[str, Codec]) -> None:
        super().__init__(registry)

    def available(self) -> bool:
        try:
            _cm()
            return _nn().default_model_path().is_file()
        except ImportError:
            return False

    def memory_bytes(self, level: int) -> int | None:
        return _cm().LEVELS[level].full_model_memory() + _nn().MODEL_MEMORY_BYTES

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

    def model_encode(self, chunk: bytes, context: CodingContext, binary: bool) -> bytes | None:
        level = _cm().LEVELS[context.header.level].for_chunk(binary).with_network(binary)
        return _cm().encode_level(chunk, level, self._network(context))

    def model_decode(self, payload: bytes, raw_size: int, context: CodingContext,
                     revision: int, binary: bool) -> bytes:
        level = _cm().LEVELS_BY_REVISION[revision][context.header.level].for_chunk(binary).with_network(binary)
        return _cm().decode_level(payload, raw_size, level, self._network(context))
