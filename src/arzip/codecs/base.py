"""The codec protocol: how a compressor plugs into the container.

What it does: defines :class:`Codec`, the one interface between the stream
layer and any way of turning a chunk of bytes into a payload (a classic library,
a context-mixing model, a neural network). A codec sees independent chunks and
the stream header; it never sees the container bytes.
What it does not do: framing, checksums, threads over files, choosing a codec
(``arzip.stream`` and ``arzip.codecs.auto`` do those).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from ..container import StreamHeader
from ..errors import FormatError, UsageError

MIN_LEVEL, MAX_LEVEL = 1, 9
DEFAULT_CHUNK_BYTES = 8 << 20

EncodedChunk = tuple[int, bytes]  # (id of the codec that made the payload, payload)


@dataclass(frozen=True)
class CodingContext:
    """What a codec may need besides the chunk: the stream header and user options."""

    header: StreamHeader
    model_override: str | None = None  # `-m` given on decompression: where to find the model
    # Decoded chunks kept for frames that later frames refer to (by frame number),
    # as the header's codec asked through ``referenced_frames``.
    history: dict[int, bytes] = field(default_factory=dict)
    # The threads the user gave the stream (-T): a codec starts no background work of its own
    # when it is 1; 0 where no one said.
    threads: int = 0


class Codec(ABC):
    """A way to code chunks. Subclasses set the class attributes and the two methods."""

    name: ClassVar[str]
    codec_id: ClassVar[int | None]  # the byte in each frame; None for codecs that only choose
    summary: ClassVar[str]
    default_level: ClassVar[int] = 6
    accepts_views: ClassVar[bool] = False  # decode_chunk takes a memoryview payload without a copy
    selectable: ClassVar[bool] = True  # offered by `-m`; False for codecs that only appear inside frames
    requires_model: ClassVar[bool] = False  # compressing needs a model reference (hf:PATH)
    uses_history: ClassVar[bool] = False  # decoding reads earlier frames (CodingContext.history)

    # ------------------------------------------------------------ settings
    def available(self) -> bool:
        """Whether this codec can run here (its optional dependencies import)."""
        return True

    def resolve_level(self, level: int | None) -> int:
        if level is None:
            return self.default_level
        if not MIN_LEVEL <= level <= MAX_LEVEL:
            raise UsageError(f"level must be {MIN_LEVEL}..{MAX_LEVEL}, not {level}")
        return level

    def chunk_bytes(self, level: int) -> int:
        """Size of the independent chunks at ``level`` (recorded in the header)."""
        return DEFAULT_CHUNK_BYTES

    def level_note(self, level: int) -> str:
        """What ``level`` means for this codec, for ``arzip list``."""
        return ""

    def memory_bytes(self, level: int) -> int | None:
        """Approximate memory of one chunk being coded at ``level``, if known."""
        return None

    def model_identity(self, model_ref: str | None) -> tuple[str, bytes]:
        """(reference, weights hash) recorded in the header; empty for codecs without a model."""
        if model_ref:
            raise UsageError(f"codec {self.name!r} takes no model")
        return "", b""

    def referenced_frames(self, header: StreamHeader) -> frozenset[int]:
        """Frames (by number) whose decoded chunks later frames of this stream refer to."""
        return frozenset()

    # True where encode_chunks codes each chunk by itself (the default below): the
    # compressor then keeps chunks in flight on its own threads, with no batch barrier
    codes_chunks_alone = True

    def batch_chunks(self, threads: int) -> int:
        """How many chunks to hand to ``encode_chunks``/``decode_chunks`` at once."""
        return threads

    def header_params(self, level: int) -> bytes:
        """Codec-specific parameters stored in the header."""
        return b""

    # ------------------------------------------------------------ coding
    @abstractmethod
    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        """Payload of one chunk, and the id of the codec that made it."""

    @abstractmethod
    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        """The chunk back; may raise ArzipError on a payload it cannot read."""

    def encode_chunks(
        self, chunks: Sequence[bytes], context: CodingContext, threads: int = 1
    ) -> list[EncodedChunk]:
        """Several chunks at once (a model codec may batch them; others use threads)."""
        return _map(lambda chunk: self.encode_chunk(chunk, context), chunks, threads)

    def decode_chunks(
        self, frames: Sequence[tuple[bytes, int]], context: CodingContext, threads: int = 1
    ) -> list[bytes]:
        """Several (payload, raw_size) frames at once."""
        return _map(lambda frame: self.decode_chunk(frame[0], frame[1], context), frames, threads)

    def decode_chunks_into(
        self,
        frames: Sequence[tuple[bytes, int]],
        outs: Sequence,
        context: CodingContext,
        threads: int = 1,
        meanwhile: Callable[[], None] | None = None,
        done: Callable[[int], None] | None = None,
    ) -> None:
        """Decode each frame into ``outs[i]``, a writable uint8 array of its raw size (the
        caller's output buffer), and call ``meanwhile()`` once in this thread: a codec whose
        own threads do the decoding calls it while they work (other frames' decoding, say),
        this one before it starts; then ``done(i)``, in this thread, as each frame i is in
        place, in order. Codecs that can write into ``outs`` directly override this."""
        if meanwhile is not None:
            meanwhile()
        for position, (chunk, out) in enumerate(zip(self.decode_chunks(frames, context, threads), outs)):
            if len(chunk) != len(out):
                raise FormatError("corrupt .arz file: a frame decodes to the wrong size")
            out[:] = np.frombuffer(chunk, dtype=np.uint8)
            if done is not None:
                done(position)


def _map(function, items, threads: int) -> list:
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    with ThreadPoolExecutor(max_workers=min(threads, len(items))) as pool:
        return list(pool.map(function, items))
