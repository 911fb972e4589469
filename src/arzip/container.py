"""The .arz container: stream header, frames, index and checksums (docs/FORMAT.md).

What it does: serialises and parses the bytes around the payloads, and checks
every checksum. A file is written front to back without seeking (so it can go to
a pipe): a header, then one frame per independent chunk, then an index of the
frames with the checksum of the whole content, then a fixed 8-byte trailer from
which a seeking reader finds the index (as xz and seekable zstd do).
What it does not do: compress (``arzip.codecs``) or drive a stream
(``arzip.stream``). Constants that define the format live here and nowhere else;
changing one changes ``FORMAT_VERSION``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

import xxhash

from .errors import ChecksumError, FormatError, TruncatedError, UnsupportedError

MAGIC = b"\x89ARZ"
END_MAGIC = b"ZRA\x89"
FORMAT_VERSION = 1

FLAG_CONTENT_SIZE = 0x01  # the header carries the content size
KNOWN_FLAGS = FLAG_CONTENT_SIZE

FRAME_MARKER = 0x01
INDEX_MARKER = 0x00

TRAILER_BYTES = 8  # index length (u32 LE) + END_MAGIC
MAX_HEADER_FIELD = 1 << 24  # no text field of a header is longer (16 MiB)
MAX_CHUNK_BYTES = 1 << 31
MAX_VARINT_BYTES = 10


def content_checksum(data: bytes | bytearray | memoryview) -> int:
    """Checksum of a chunk or the whole content: XXH3-64."""
    return xxhash.xxh3_64_intdigest(data)


class ContentHasher:
    """Incremental :func:`content_checksum`."""

    def __init__(self) -> None:
        self._state = xxhash.xxh3_64()

    def update(self, data: bytes | bytearray | memoryview) -> None:
        self._state.update(data)

    def digest(self) -> int:
        return self._state.intdigest()


def _header_checksum(data: bytes | bytearray | memoryview) -> int:
    return xxhash.xxh32_intdigest(data)


def frame_checksum(data: bytes | bytearray | memoryview) -> int:
    """The 32-bit checksum stored with each frame: the low half of XXH3-64."""
    return content_checksum(data) & 0xFFFFFFFF


# ---------------------------------------------------------------- varints


def encode_varint(value: int) -> bytes:
    """Unsigned LEB128."""
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class NeedMoreData(Exception):
    """Raised by the parsers when the buffer ends before the structure does."""


class _Cursor:
    """Reads fields from a buffer; raises NeedMoreData at its end."""

    def __init__(self, buffer: bytes | bytearray | memoryview, offset: int = 0) -> None:
        self.buffer = buffer
        self.offset = offset

    def take(self, n: int) -> bytes:
        end = self.offset + n
        if end > len(self.buffer):
            raise NeedMoreData
        data = bytes(self.buffer[self.offset : end])
        self.offset = end
        return data

    def skip(self, n: int) -> None:
        if self.offset + n > len(self.buffer):
            raise NeedMoreData
        self.offset += n

    def u8(self) -> int:
        if self.offset >= len(self.buffer):
            raise NeedMoreData
        self.offset += 1
        return self.buffer[self.offset - 1]

    def u32(self) -> int:
        return struct.unpack("<I", self.take(4))[0]

    def u64(self) -> int:
        return struct.unpack("<Q", self.take(8))[0]

    def varint(self) -> int:
        buffer, offset = self.buffer, self.offset
        end = min(len(buffer), offset + MAX_VARINT_BYTES)
        value = 0
        for at in range(offset, end):  # no method call a byte: frames read dozens of these
            byte = buffer[at]
            value |= (byte & 0x7F) << (7 * (at - offset))
            if not byte & 0x80:
                self.offset = at + 1
                return value
        if end - offset < MAX_VARINT_BYTES:
            raise NeedMoreData
        raise FormatError("corrupt .arz file: a size field is too long")

    def text(self, n: int, what: str) -> str:
        raw = self.take(n)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"corrupt .arz file: the {what} is not UTF-8") from None


# ---------------------------------------------------------------- header


@dataclass(frozen=True)
class StreamHeader:
    """What the decoder needs before the first frame."""

    codec: str  # the codec the user asked for, e.g. "auto", "zstd", "cm"
    level: int  # 1..9, as resolved by that codec
    chunk_bytes: int  # the size of every chunk but the last
    model_ref: str = ""  # for model codecs: the reference as the user gave it
    model_hash: bytes = b""  # for model codecs: hash of the model's weights
    params: bytes = b""  # codec-specific parameters, opaque to the container
    content_size: int | None = None  # when known before writing (not from a pipe)
    version: int = FORMAT_VERSION

    def to_bytes(self) -> bytes:
        codec = self.codec.encode("ascii")
        model_ref = self.model_ref.encode("utf-8")
        if len(codec) > 255 or len(self.model_hash) > 255:
            raise ValueError("codec name and model hash are at most 255 bytes")
        if len(model_ref) > MAX_HEADER_FIELD or len(self.params) > MAX_HEADER_FIELD:
            raise ValueError("header fields are at most 16 MiB")
        if not 1 <= self.chunk_bytes <= MAX_CHUNK_BYTES:
            raise ValueError("chunk size out of range")
        flags = FLAG_CONTENT_SIZE if self.content_size is not None else 0
        out = bytearray(MAGIC)
        out += bytes((self.version, flags, len(codec)))
        out += codec
        out.append(self.level)
        out += encode_varint(self.chunk_bytes)
        if self.content_size is not None:
            out += encode_varint(self.content_size)
        out += encode_varint(len(model_ref)) + model_ref
        out += bytes((len(self.model_hash),)) + self.model_hash
        out += encode_varint(len(self.params)) + self.params
        out += struct.pack("<I", _header_checksum(out))
        return bytes(out)


def check_magic(prefix: bytes | bytearray | memoryview) -> None:
    """Raise FormatError unless ``prefix`` (at least its first bytes) starts an .arz file."""
    head = bytes(prefix[: len(MAGIC)])
    if head != MAGIC[: len(head)]:
        raise FormatError("not an .arz file (unknown magic bytes)")


def parse_header(buffer: bytes | bytearray | memoryview, offset: int = 0) -> tuple[StreamHeader, int]:
    """The header at ``offset`` and the offset just past it; NeedMoreData if incomplete."""
    check_magic(buffer[offset:])
    cur = _Cursor(buffer, offset)
    cur.take(len(MAGIC))
    version = cur.u8()
    if version != FORMAT_VERSION:
        raise UnsupportedError(
            f"this .arz file has format version {version}; this arzip reads version "
            f"{FORMAT_VERSION} (upgrade arzip, or the file is corrupt)"
        )
    flags = cur.u8()
    codec = cur.text(cur.u8(), "codec name")
    level = cur.u8()
    chunk_bytes = cur.varint()
    content_size = cur.varint() if flags & FLAG_CONTENT_SIZE else None
    ref_len = cur.varint()
    if ref_len > MAX_HEADER_FIELD:
        raise FormatError("corrupt .arz header: model reference too long")
    model_ref = cur.text(ref_len, "model reference")
    model_hash = cur.take(cur.u8())
    params_len = cur.varint()
    if params_len > MAX_HEADER_FIELD:
        raise FormatError("corrupt .arz header: parameters too long")
    params = cur.take(params_len)
    body_end = cur.offset
    stored = cur.u32()
    if stored != _header_checksum(buffer[offset:body_end]):
        raise ChecksumError("corrupt .arz file: header checksum mismatch")
    if flags & ~KNOWN_FLAGS:
        raise UnsupportedError(f"this .arz file uses header flags {flags:#x} unknown to this arzip")
    if not 1 <= chunk_bytes <= MAX_CHUNK_BYTES:
        raise FormatError("corrupt .arz header: chunk size out of range")
    header = StreamHeader(
        codec=codec,
        level=level,
        chunk_bytes=chunk_bytes,
        model_ref=model_ref,
        model_hash=model_hash,
        params=params,
        content_size=content_size,
        version=version,
    )
    return header, cur.offset


# ---------------------------------------------------------------- frames


@dataclass(frozen=True)
class FrameHeader:
    """The fixed part in front of each frame's payload."""

    codec_id: int  # the codec that produced this payload (auto picks per chunk)
    raw_size: int
    payload_size: int
    checksum: int  # frame_checksum of the raw chunk

    def to_bytes(self) -> bytes:
        return (
            bytes((FRAME_MARKER, self.codec_id))
            + encode_varint(self.raw_size)
            + encode_varint(self.payload_size)
            + struct.pack("<I", self.checksum)
        )


def parse_frame_header(
    buffer: bytes | bytearray | memoryview, offset: int, chunk_bytes: int
) -> tuple[FrameHeader | None, int]:
    """The frame header at ``offset`` (None at the index marker) and the offset past it."""
    cur = _Cursor(buffer, offset)
    marker = cur.u8()
    if marker == INDEX_MARKER:
        return None, offset
    if marker != FRAME_MARKER:
        raise FormatError("corrupt .arz file: bad frame marker")
    codec_id = cur.u8()
    raw_size = cur.varint()
    payload_size = cur.varint()
    checksum = cur.u32()
    if not 1 <= raw_size <= chunk_bytes or payload_size > raw_size:
        # A frame never holds more than a chunk, and never grows it (it is stored instead).
        raise FormatError("corrupt .arz file: frame sizes out of range")
    return FrameHeader(codec_id, raw_size, payload_size, checksum), cur.offset


def check_frame(frame: FrameHeader, raw: bytes | bytearray | memoryview, index: int) -> None:
    """Raise ChecksumError unless ``raw`` is what frame ``index`` held."""
    if len(raw) != frame.raw_size or frame_checksum(raw) != frame.checksum:
        raise ChecksumError(f"corrupt .arz file: frame {index} fails its checksum")


# ---------------------------------------------------------------- index


@dataclass
class StreamIndex:
    """The list of frames written after them, with the whole content's checksum."""

    frame_bytes: list[int] = field(default_factory=list)  # header + payload of each frame
    raw_sizes: list[int] = field(default_factory=list)
    content_size: int = 0
    content_checksum: int = 0

    def add(self, frame: FrameHeader) -> None:
        self.frame_bytes.append(len(frame.to_bytes()) + frame.payload_size)
        self.raw_sizes.append(frame.raw_size)
        self.content_size += frame.raw_size

    def to_bytes(self) -> bytes:
        body = bytearray((INDEX_MARKER,))
        body += encode_varint(len(self.raw_sizes))
        for frame_bytes, raw_size in zip(self.frame_bytes, self.raw_sizes):
            body += encode_varint(frame_bytes) + encode_varint(raw_size)
        body += encode_varint(self.content_size)
        body += struct.pack("<Q", self.content_checksum)
        body += struct.pack("<I", _header_checksum(body))
        return bytes(body) + struct.pack("<I", len(body)) + END_MAGIC


def parse_index(buffer: bytes | bytearray | memoryview, offset: int) -> tuple[StreamIndex, int]:
    """The index (from its marker to the end magic) and the offset past it."""
    cur = _Cursor(buffer, offset)
    if cur.u8() != INDEX_MARKER:
        raise FormatError("corrupt .arz file: bad index marker")
    count = cur.varint()
    if count > MAX_CHUNK_BYTES:
        raise FormatError("corrupt .arz file: index too large")
    index = StreamIndex()
    for _ in range(count):
        index.frame_bytes.append(cur.varint())
        index.raw_sizes.append(cur.varint())
    index.content_size = cur.varint()
    index.content_checksum = cur.u64()
    body_end = cur.offset
    if cur.u32() != _header_checksum(buffer[offset:body_end]):
        raise ChecksumError("corrupt .arz file: index checksum mismatch")
    length = cur.u32()
    if length != cur.offset - 4 - offset or cur.take(len(END_MAGIC)) != END_MAGIC:
        raise FormatError("corrupt .arz file: bad trailer")
    return index, cur.offset


def read_trailer(tail: bytes) -> int:
    """The index length from a file's last TRAILER_BYTES bytes (for seeking readers)."""
    if len(tail) < TRAILER_BYTES:
        raise TruncatedError("truncated .arz file")
    if tail[-4:] != END_MAGIC:
        raise TruncatedError("truncated .arz file (no end marker)")
    return struct.unpack("<I", tail[-8:-4])[0]
