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
    FrameHeader,
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
    frames: list[FrameHeader] = field(default_factory=list)
    frame_offsets: list[int] = field(default_factory=list)  # where each frame's header starts

    @property
    def content_offsets(self) -> list[int]:
        """Where each frame's chunk starts in the content, and the content size last."""
        offsets = [0]
        for raw_size in self.index.raw_sizes:
            offsets.append(offsets[-1] + raw_size)
        return offsets

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
    header, header_end = _read_header(source, start, total)
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
    info = StreamInfo(header, index, total)
    offset = header_end
    for frame_bytes in index.frame_bytes:
        source.seek(start + offset)
        frame, _ = _parse_or_truncated(
            parse_frame_header, source.read(_FRAME_HEADER_MAX_BYTES), 0, header.chunk_bytes
        )
        if frame is None:
            raise FormatError("corrupt .arz file: the index does not match the frames")
        _add_frame(info, frame, offset)
        offset += frame_bytes
    return info


def _add_frame(info: StreamInfo, frame: FrameHeader, offset: int) -> None:
    info.frame_codecs[frame.codec_id] += 1
    info.frames.append(frame)
    info.frame_offsets.append(offset)


def _read_header(source: IO[bytes], start: int, total: int) -> tuple[StreamHeader, int]:
    probe = _HEADER_PROBE_BYTES
    while True:
        source.seek(start)
        head = source.read(min(total, probe))
        try:
            return parse_header(head, 0)
        except NeedMoreData:
            if probe >= total:
                raise TruncatedError("truncated .arz file") from None
            probe *= 4


def _describe_scan(data: bytes) -> StreamInfo:
    header, offset = _parse_or_truncated(parse_header, data, 0)
    frames: list[tuple[FrameHeader, int]] = []
    while True:
        frame, after = _parse_or_truncated(parse_frame_header, data, offset, header.chunk_bytes)
        if frame is None:
            break
        frames.append((frame, offset))
        offset = after + frame.payload_size
    index, end = _parse_or_truncated(parse_index, data, offset)
    info = StreamInfo(header, index, end)
    for frame, frame_offset in frames:
        _add_frame(info, frame, frame_offset)
    return info


def _parse_or_truncated(parser, *args):
    try:
        return parser(*args)
    except NeedMoreData:
        raise TruncatedError("truncated .arz file") from None

