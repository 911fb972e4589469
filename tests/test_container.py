"""The .arz container: pinned header bytes, round trips of each structure, and its checks."""

from __future__ import annotations

import pytest

from arzip.container import (
    FrameHeader,
    NeedMoreData,
    StreamHeader,
    StreamIndex,
    encode_varint,
    parse_frame_header,
    parse_header,
    parse_index,
)
from arzip.errors import ChecksumError, FormatError, UnsupportedError


def test_varint_golden():
    assert encode_varint(0) == b"\x00"
    assert encode_varint(127) == b"\x7f"
    assert encode_varint(128) == b"\x80\x01"
    assert encode_varint(1 << 23) == b"\x80\x80\x80\x04"


def test_header_golden_bytes():
    header = StreamHeader(codec="zstd", level=6, chunk_bytes=1 << 23, content_size=17)
    assert header.to_bytes().hex() == "8941525a0101047a737464068080800411000000434f8c9c"


def test_header_with_model_round_trips():
    header = StreamHeader(
        codec="nn", level=5, chunk_bytes=1 << 20, model_ref="nn:/models/ü.arzm",
        model_hash=bytes(range(32)), params=b"\x01\x02", content_size=None,
    )
    parsed, end = parse_header(header.to_bytes() + b"tail")
    assert parsed == header and end == len(header.to_bytes())


def test_header_incomplete_needs_more_data():
    raw = StreamHeader(codec="zlib", level=1, chunk_bytes=100).to_bytes()
    for cut in range(len(raw)):
        with pytest.raises((NeedMoreData, FormatError)):
            parse_header(raw[:cut])


def test_header_checks():
    raw = bytearray(StreamHeader(codec="zlib", level=1, chunk_bytes=100).to_bytes())
    with pytest.raises(FormatError, match="not an .arz file"):
        parse_header(b"PK\x03\x04" + bytes(raw[4:]))
    flipped = bytearray(raw)
    flipped[11] ^= 1  # the level
    with pytest.raises(ChecksumError):
        parse_header(bytes(flipped))
    newer = bytearray(raw)
    newer[4] = 2
    with pytest.raises(UnsupportedError, match="format version 2"):
        parse_header(bytes(newer))


def test_frame_header_round_trip_and_bounds():
    frame = FrameHeader(codec_id=4, raw_size=1000, payload_size=300, checksum=0xDEADBEEF)
    raw = frame.to_bytes()
    assert raw.hex() == "0104e807ac02efbeadde"
    assert parse_frame_header(raw, 0, 1000) == (frame, len(raw))
    with pytest.raises(FormatError):
        parse_frame_header(raw, 0, 999)  # larger than a chunk
    grown = FrameHeader(codec_id=4, raw_size=10, payload_size=11, checksum=0).to_bytes()
    with pytest.raises(FormatError):
        parse_frame_header(grown, 0, 1000)
    assert parse_frame_header(b"\x00", 0, 10) == (None, 0)


def test_index_round_trip_and_checksum():
    index = StreamIndex()
    index.add(FrameHeader(1, 100, 50, 7))
    index.add(FrameHeader(0, 30, 30, 8))
    index.content_checksum = 0x0123456789ABCDEF
    raw = index.to_bytes()
    parsed, end = parse_index(raw, 0)
    assert end == len(raw)
    assert parsed.raw_sizes == [100, 30] and parsed.content_size == 130
    assert parsed.frame_bytes == index.frame_bytes
    bad = bytearray(raw)
    bad[3] ^= 0x40
    with pytest.raises(FormatError):
        parse_index(bytes(bad), 0)
