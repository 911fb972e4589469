"""The codec registry: every way arzip can code a chunk, by name and by frame id.

What it does: holds one instance per codec; the CLI's ``-m`` choices, ``arzip
list`` and ``arzip bench`` read it. A new model codec is one ``register`` line.
Model references (``nn:PATH``, ``hf:NAME``) are split here into codec and model.
What it does not do: import heavy dependencies; each codec does that lazily.
"""

from __future__ import annotations

from ..errors import UnsupportedError, UsageError
from .auto import AutoCodec
from .base import Codec, CodingContext, EncodedChunk
from .classic import CLASSIC_CODECS
from .cm import CMCodec
from .hf import HFCodec
from .nn import NNCodec

CODECS: dict[str, Codec] = {}
_BY_ID: dict[int, Codec] = {}


def register(codec: Codec) -> Codec:
    if codec.name in CODECS:
        raise ValueError(f"codec {codec.name!r} registered twice")
    if codec.codec_id is not None:
        if codec.codec_id in _BY_ID:
            raise ValueError(f"codec id {codec.codec_id} registered twice")
        _BY_ID[codec.codec_id] = codec
    CODECS[codec.name] = codec
    return codec


def get_codec(name: str) -> Codec:
    try:
        return CODECS[name]
    except KeyError:
        known = ", ".join(CODECS)
        raise UsageError(f"unknown codec {name!r} (known: {known})") from None


def codec_by_id(codec_id: int) -> Codec:
    try:
        return _BY_ID[codec_id]
    except KeyError:
        raise UnsupportedError(
            f"this file uses codec id {codec_id}, unknown to this arzip (upgrade arzip)"
        ) from None


def parse_codec_spec(spec: str) -> tuple[Codec, str | None]:
    """``zstd`` -> (zstd, None); ``nn:model.arzm`` -> (nn, "nn:model.arzm")."""
    name, sep, _ = spec.partition(":")
    codec = get_codec(name)
    if not codec.selectable:
        raise UsageError(f"codec {name!r} is only used inside frames (for weight files: arzip weights compress)")
    return codec, (spec if sep else None)


def _register_weights() -> None:
    """The frame codecs of ``arzip weights`` archives (imported here so any file decodes)."""
    from ..weights.frames import DeltaCodec, RefCodec, WeightsCodec
    from ..weights.tensor_codec import TensorCodec

    for codec in (TensorCodec(), RefCodec(), DeltaCodec(), WeightsCodec()):
        register(codec)


for _codec in CLASSIC_CODECS:
    register(_codec)
register(CMCodec(CODECS))
register(NNCodec(CODECS))
register(HFCodec())
register(AutoCodec(CODECS))
_register_weights()

__all__ = [
    "CODECS",
    "Codec",
    "CodingContext",
    "EncodedChunk",
    "codec_by_id",
    "get_codec",
    "parse_codec_spec",
    "register",
]
