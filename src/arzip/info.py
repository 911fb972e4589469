"""What an .arz file holds, read from its header and index without decoding.

What it does: :func:`describe` reads the header at the start and, for a seekable
file, the index through the trailer at the end (as ``xz -l`` does), then the
small header of each frame to count which codec made it. A pipe is scanned
frame by frame instead (payloads skipped, not decoded).
What it does not do: verify payloads (``arzip test`` decodes them).
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass, field
from typing import IO

from .container import (
    TRAILER_BYTES,
    NeedMoreData,
    StreamHeader,
    StreamIndex,
    parse_frame_header,
    parse_header,
    parse_index,
    read_trailer,
)
from .errors import FormatError, TruncatedError

_HEADER_PROBE_BYTES = 1 << 17  # more than any header can be
_FRAME_HEADER_MAX_BYTES = 32


@dataclass
class StreamInfo:
    header: StreamHeader
    index: StreamIndex
    compressed_size: int
    frame_codecs: Counter = field(default_factory=Counter)  # codec id -> frame count

    @property
    def content_size(self) -> int:
        return self.index.content_size

    @property
    def bits_per_byte(self) -> float:
        return 8 * self.compressed_size / self.content_size if self.content_size else 0.0

    @property
    def ratio(self) -> float:
        return self.compressed_size / self.content_size if self.content_size else 0.0


def describe(source: IO[bytes]) -> StreamInfo:
    """Header, index and frame codecs of the (first) .arz stream in ``source``."""
    if _seekable(source):
        return _describe_seekable(source)
    return _describe_scan(source.read())


def _seekable(source: IO[bytes]) -> bool:
    try:
        return source.seekable()
    except (AttributeError, ValueError):
        return False


def _describe_seekable(source: IO[bytes]) -> StreamInfo:
    start = source.tell()
    total = source.seek(0, io.SEEK_END) - start
    source.seek(start)
    head = source.read(min(total, _HEADER_PROBE_BYTES))
    header, header_end = _parse_or_truncated(parse_header, head, 0)
    if total < header_end + TRAILER_BYTES:
        raise TruncatedError("truncated .arz file")
    source.seek(start + total - TRAILER_BYTES)
    index_length = read_trailer(source.read(TRAILER_BYTES))
    index_start = total - TRAILER_BYTES - index_length
    if index_start < header_end:
        raise FormatError("corrupt .arz file: bad trailer")
    source.seek(start + index_start)
    index, _ = _parse_or_truncated(parse_index, source.read(index_length + TRAILER_BYTES), 0)
    if header_end + sum(index.frame_bytes) != index_start:
        raise FormatError("corrupt .arz file: the index does not match the frames")
    codecs: Counter = Counter()
    offset = header_end
    for frame_bytes in index.frame_bytes:
        source.seek(start + offset)
        frame, _ = _parse_or_truncated(
            parse_frame_header, source.read(_FRAME_HEADER_MAX_BYTES), 0, header.chunk_bytes
        )
        if frame is None:
            raise FormatError("corrupt .arz file: the index does not match the frames")
        codecs[frame.codec_id] += 1
        offset += frame_bytes
    return StreamInfo(header, index, total, codecs)


def _describe_scan(data: bytes) -> StreamInfo:
    header, offset = _parse_or_truncated(parse_header, data, 0)
    codecs: Counter = Counter()
    while True:
        frame, after = _parse_or_truncated(parse_frame_header, data, offset, header.chunk_bytes)
        if frame is None:
            break
        codecs[frame.codec_id] += 1
        offset = after + frame.payload_size
    index, end = _parse_or_truncated(parse_index, data, offset)
    return StreamInfo(header, index, end, codecs)


def _parse_or_truncated(parser, *args):
    try:
        return parser(*args)
    except NeedMoreData:
        raise TruncatedError("truncated .arz file") from None

