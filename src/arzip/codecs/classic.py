"""The classic codecs: store, zlib, bz2, lzma, zstd and brotli behind the Codec protocol.

What it does: wraps each library with arzip's levels 1..9 mapped onto the
library's own range (see ``LEVEL_MAP`` of each class and ``arzip list``), and
decodes with the output bounded by the frame's stored size, so a corrupt or
hostile payload cannot make the decoder allocate more than one chunk.
What it does not do: pick a codec (``auto`` does) or frame the payload.
"""

from __future__ import annotations

import bz2
import lzma
import threading
import zlib
from typing import ClassVar

from ..errors import FormatError
from .base import Codec, CodingContext, EncodedChunk


class _ClassicCodec(Codec):
    accepts_views = True


def _corrupt(codec: str) -> FormatError:
    return FormatError(f"corrupt .arz file: a {codec} frame does not decode")


def _check_size(data, raw_size: int, codec: str):
    if len(data) != raw_size:
        raise _corrupt(codec)
    return data


class StoreCodec(_ClassicCodec):
    name = "store"
    codec_id = 0
    summary = "no compression (what auto falls back to)"

    def level_note(self, level: int) -> str:
        return "-"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.codec_id, bytes(chunk)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        return _check_size(payload, raw_size, self.name)


class ZlibCodec(_ClassicCodec):
    name = "zlib"
    codec_id = 1
    summary = "deflate (zlib module), raw stream"

    def level_note(self, level: int) -> str:
        return f"zlib level {level}"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        compressor = zlib.compressobj(context.header.level, zlib.DEFLATED, -15, 9)
        return self.codec_id, compressor.compress(chunk) + compressor.flush()

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        try:
            decompressor = zlib.decompressobj(-15)
            data = decompressor.decompress(payload, raw_size)
        except zlib.error:
            raise _corrupt(self.name) from None
        return _check_size(data, raw_size, self.name)


class Bz2Codec(_ClassicCodec):
    name = "bz2"
    codec_id = 2
    summary = "Burrows-Wheeler (bz2 module)"

    def level_note(self, level: int) -> str:
        return f"bzip2 -{level} ({level * 100} kB blocks)"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.codec_id, bz2.compress(chunk, context.header.level)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        try:
            data = bz2.BZ2Decompressor().decompress(payload, raw_size)
        except (OSError, ValueError, EOFError):
            raise _corrupt(self.name) from None
        return _check_size(data, raw_size, self.name)


class LzmaCodec(_ClassicCodec):
    """Raw LZMA2 with the dictionary cut to the chunk: same ratio, far less memory.

    Payload: one byte holding log2 of the dictionary size, then the raw LZMA2 stream.
    Level 9 is xz's ``-9e``.
    """

    name = "lzma"
    codec_id = 3
    summary = "LZMA2 (lzma module), as xz"
    MIN_DICT_BITS: ClassVar[int] = 12
    MAX_DICT_BITS: ClassVar[int] = 30

    def _preset(self, level: int) -> int:
        return 9 | lzma.PRESET_EXTREME if level == 9 else level

    def level_note(self, level: int) -> str:
        return "xz -9e" if level == 9 else f"xz -{level}"

    def memory_bytes(self, level: int) -> int | None:
        preset_dict = {1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 7: 16, 8: 32, 9: 64}[level] << 20
        return min(preset_dict, self.chunk_bytes(level)) * 11

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        preset = self._preset(context.header.level)
        # The smallest power of two holding the chunk, capped at the preset's own dictionary.
        dict_bits = max(self.MIN_DICT_BITS, (max(len(chunk), 1) - 1).bit_length())
        dict_bits = min(dict_bits, (_preset_dict_size(preset) - 1).bit_length())
        filters = [{"id": lzma.FILTER_LZMA2, "preset": preset, "dict_size": 1 << dict_bits}]
        body = lzma.compress(chunk, format=lzma.FORMAT_RAW, filters=filters)
        return self.codec_id, bytes((dict_bits,)) + body

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        if not payload or not self.MIN_DICT_BITS <= payload[0] <= self.MAX_DICT_BITS:
            raise _corrupt(self.name)
        filters = [{"id": lzma.FILTER_LZMA2, "dict_size": 1 << payload[0]}]
        try:
            decompressor = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=filters)
            data = decompressor.decompress(payload[1:], raw_size)
        except (lzma.LZMAError, EOFError):
            raise _corrupt(self.name) from None
        return _check_size(data, raw_size, self.name)


def _preset_dict_size(preset: int) -> int:
    """xz's dictionary size for a preset (xz(1), 'Presets')."""
    sizes_mib = {0: 0.25, 1: 1, 2: 2, 3: 4, 4: 4, 5: 8, 6: 8, 7: 16, 8: 32, 9: 64}
    return int(sizes_mib[preset & 0x1F] * (1 << 20))


_LOCAL = threading.local()


def zstd_decompressor():
    """This thread's zstd decompressor, made once: making one costs more than decompressing
    a small frame (a weight archive has dozens of them), and one must not serve two threads
    at once."""
    import zstandard

    decompressor = getattr(_LOCAL, "zstd", None)
    if decompressor is None:
        decompressor = _LOCAL.zstd = zstandard.ZstdDecompressor()
    return decompressor


def zstd_compressor(level: int, *, write_checksum: bool = False, write_content_size: bool = True):
    """This thread's zstd compressor of these settings, made once: making one allocates and
    clears its match tables (megabytes at level 9), which costs more than compressing a
    small frame; one must not serve two threads at once. The bytes are those of a new one."""
    import zstandard

    compressors = getattr(_LOCAL, "zstd_compressors", None)
    if compressors is None:
        compressors = _LOCAL.zstd_compressors = {}
    key = (level, write_checksum, write_content_size)
    compressor = compressors.get(key)
    if compressor is None:
        compressor = compressors[key] = zstandard.ZstdCompressor(
            level=level, write_checksum=write_checksum, write_content_size=write_content_size
        )
    return compressor


class ZstdCodec(_ClassicCodec):
    name = "zstd"
    codec_id = 4
    summary = "Zstandard (zstandard package)"
    LEVEL_MAP: ClassVar[dict[int, int]] = {1: 1, 2: 3, 3: 5, 4: 8, 5: 11, 6: 14, 7: 17, 8: 19, 9: 22}

    def level_note(self, level: int) -> str:
        return f"zstd -{self.LEVEL_MAP[level]}"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        compressor = zstd_compressor(self.LEVEL_MAP[context.header.level], write_checksum=False, write_content_size=False)
        return self.codec_id, compressor.compress(chunk)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        import zstandard

        try:
            data = zstd_decompressor().decompress(payload, max_output_size=raw_size)
        except zstandard.ZstdError:
            raise _corrupt(self.name) from None
        return _check_size(data, raw_size, self.name)


class BrotliCodec(_ClassicCodec):
    name = "brotli"
    codec_id = 5
    summary = "Brotli (brotli package), 16 MiB window"
    LEVEL_MAP: ClassVar[dict[int, int]] = {1: 1, 2: 2, 3: 4, 4: 5, 5: 6, 6: 8, 7: 9, 8: 10, 9: 11}

    def level_note(self, level: int) -> str:
        return f"brotli -q {self.LEVEL_MAP[level]} -w 24"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        import brotli

        return self.codec_id, brotli.compress(chunk, quality=self.LEVEL_MAP[context.header.level], lgwin=24)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        import brotli

        try:
            decompressor = brotli.Decompressor()
            data = decompressor.process(payload, output_buffer_limit=raw_size + 1)
            if not decompressor.is_finished():
                raise brotli.error("unfinished")
        except brotli.error:
            raise _corrupt(self.name) from None
        return _check_size(data, raw_size, self.name)


CLASSIC_CODECS: tuple[Codec, ...] = (
    StoreCodec(),
    ZlibCodec(),
    Bz2Codec(),
    LzmaCodec(),
    ZstdCodec(),
    BrotliCodec(),
)
