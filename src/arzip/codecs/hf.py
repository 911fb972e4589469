"""``hf``: any local Hugging Face causal language model (``-m hf:NAME_OR_PATH``) as a codec.

What it does: records the model reference, the hash of its files and the
run's parameters (batch rows, window, stride, dtype, device, software stack)
in the header; codes each batch of chunks as one batch of streams with
``arzip.models.hf``; on decoding, loads the model from the header's reference
or from ``-m``, refuses other weights, and warns when the stack differs.
What it does not do: import torch before a chunk is coded or a model named
(``import arzip`` stays light), or model anything itself.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from ..errors import ModelError, UsageError
from .base import Codec, CodingContext, EncodedChunk

STORE_ID = 0


def _backend():
    from ..models import hf

    return hf


def _require_extra() -> None:
    if not HFCodec().available():
        raise ModelError("the hf codec needs torch and transformers: pip install 'arzip[hf]' (torch==2.13.0 first)")


@dataclass
class Meter:
    """Ideal code length (bits) of the chunks coded while measuring, from the model's own tables."""

    ideal_bits: float = 0.0
    raw_bytes: int = 0
    chunks: list[tuple[int, float]] = field(default_factory=list)


class HFCodec(Codec):
    name = "hf"
    codec_id = 18
    codes_chunks_alone = False  # encode_chunks batches the chunks through the model
    summary = "a local Hugging Face causal LM (-m hf:NAME_OR_PATH; extra [hf]: torch, transformers)"
    requires_model = True  # no default model: bench and round-trip sweeps must name one

    def __init__(self) -> None:
        self.options = None  # HFOptions; None: from the environment at each compression
        self._max_positions: int | None = None  # of the model named last by model_identity
        self._meter: Meter | None = None

    # ------------------------------------------------------------ settings
    def available(self) -> bool:
        # find_spec, not import: `arzip list` must not pay for loading torch
        return all(importlib.util.find_spec(name) is not None for name in ("torch", "transformers", "tokenizers"))

    def resolve_level(self, level: int | None) -> int:
        return super().resolve_level(_backend().DEFAULT_LEVEL if level is None else level)

    def chunk_bytes(self, level: int) -> int:
        return _backend().LEVELS[level][0]

    def level_note(self, level: int) -> str:
        chunk, window = _backend().LEVELS[level]
        size = f"{chunk >> 10} KiB" if chunk >= 1024 else f"{chunk} B"
        return f"{size} streams, window {window}"

    def _options(self):
        return self.options or _backend().HFOptions.from_environment()

    def batch_chunks(self, threads: int) -> int:
        options = self._options()
        return options.rows or _backend().DEFAULT_ROWS.get(options.device, 8)

    def model_identity(self, model_ref: str | None) -> tuple[str, bytes]:
        if not model_ref or model_ref == "hf":
            raise UsageError("the hf codec needs a model: -m hf:NAME_OR_PATH")
        _require_extra()
        options = self._options()
        loaded = _backend().load_model(model_ref, options.device, options.dtype)
        self._max_positions = loaded.max_positions
        return model_ref, loaded.hash

    def header_params(self, level: int) -> bytes:
        hf = _backend()
        options = self._options()
        window, stride = hf.window_for(level, self._max_positions)
        rows = self.batch_chunks(1)
        if not 1 <= rows <= hf.MAX_ROWS:
            raise UsageError(f"hf rows must be 1..{hf.MAX_ROWS}, not {rows}")
        params = hf.HFParams(window, stride, rows, options.dtype, options.device, hf.stack_info(options.device))
        return params.to_bytes()

    # ------------------------------------------------------------ measuring (arzip score)
    @contextlib.contextmanager
    def measure(self) -> Iterator[Meter]:
        """Collect the ideal code length of what is compressed inside the block."""
        meter = Meter()
        self._meter = meter
        try:
            yield meter
        finally:
            self._meter = None

    # ------------------------------------------------------------ coding
    def _model(self, context: CodingContext, params):
        _require_extra()
        header = context.header
        ref = context.model_override or header.model_ref
        if ref and not ref.startswith("hf:"):
            ref = "hf:" + ref
        device = params.device
        if not _device_ok(device):
            if params.dtype != "float32":
                raise ModelError(
                    f"this file was compressed on {device} in {params.dtype}: decode it on a machine with that device"
                )
            device = "cpu"  # float32 on cpu may still give the same tables: check_stack warns, checksums decide
        loaded = _backend().load_model(ref, device, params.dtype)
        if loaded.hash != header.model_hash:
            raise ModelError(
                f"{ref} is not the model this file was compressed with ({header.model_ref}): "
                f"weights/tokenizer hash {loaded.hash.hex()[:16]} != {header.model_hash.hex()[:16]}; "
                "point -m hf:PATH at the original model"
            )
        return loaded

    def encode_chunks(
        self, chunks: Sequence[bytes], context: CodingContext, threads: int = 1
    ) -> list[EncodedChunk]:
        hf = _backend()
        params = hf.HFParams.from_bytes(context.header.params)
        loaded = self._model(context, params)
        encoded: list[EncodedChunk] = []
        for start in range(0, len(chunks), params.rows):
            batch = chunks[start : start + params.rows]
            for chunk, (payload, ideal_bits) in zip(batch, hf.encode_batch(batch, loaded, params)):
                if self._meter is not None:
                    self._meter.ideal_bits += ideal_bits
                    self._meter.raw_bytes += len(chunk)
                    self._meter.chunks.append((len(chunk), ideal_bits))
                encoded.append((self.codec_id, payload) if payload is not None else (STORE_ID, chunk))
        return encoded

    def decode_chunks(
        self, frames: Sequence[tuple[bytes, int]], context: CodingContext, threads: int = 1
    ) -> list[bytes]:
        hf = _backend()
        params = hf.HFParams.from_bytes(context.header.params)
        loaded = self._model(context, params)
        hf.check_stack(params)
        return hf.decode_batch(frames, loaded, params)

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.encode_chunks([chunk], context)[0]

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        return self.decode_chunks([(payload, raw_size)], context)[0]


def _device_ok(device: str) -> bool:
    if device == "cpu":
        return True
    import torch

    return torch.cuda.is_available()
