"""The library API: one-shot functions, incremental objects and file objects, like zlib/lzma."""

from __future__ import annotations

import io

import pytest

import arzip
from arzip.errors import ArzipError, FormatError, TruncatedError

from .conftest import EDGE_INPUTS

TEXT = EDGE_INPUTS["repetitive_1mb"][:300_000]


def test_golden_stream_bytes():
    blob = arzip.compress(b"hello hello hello", "zlib", 6)
    assert blob.hex() == (
        "8941525a0101047a6c69620680808004110000003a1b41b10101110a43ea7da2cb48cdc9c957c840"
        "9000000112111143ea7da29bf263608ff41cce110000005a524189"
    )


@pytest.mark.parametrize("piece", [1, 7, 4096, 1 << 20])
def test_incremental_decompressor_accepts_any_split(piece):
    blob = arzip.compress(TEXT, "zstd", 3)
    decompressor = arzip.Decompressor()
    out = b"".join(decompressor.decompress(blob[i : i + piece]) for i in range(0, len(blob), piece))
    assert out == TEXT and decompressor.eof and decompressor.unused_data == b""


def test_incremental_compressor_matches_one_shot_whatever_the_feeding():
    one_shot = arzip.Compressor("zlib", 6)
    expected = one_shot.compress(TEXT) + one_shot.flush()
    fed = arzip.Compressor("zlib", 6)
    pieces = [fed.compress(TEXT[i : i + 1000]) for i in range(0, len(TEXT), 1000)]
    assert b"".join(pieces) + fed.flush() == expected
    assert arzip.decompress(expected) == TEXT


def test_threads_do_not_change_the_bytes(monkeypatch):
    from arzip.codecs.classic import ZlibCodec

    monkeypatch.setattr(ZlibCodec, "chunk_bytes", lambda self, level: 50_000)
    one = arzip.compress(TEXT, "zlib", threads=1)
    two = arzip.compress(TEXT, "zlib", threads=2)
    assert one == two
    assert arzip.decompress(one, threads=3) == TEXT


def test_compressor_streams_in_bounded_memory(monkeypatch):
    from arzip.codecs.classic import ZstdCodec

    monkeypatch.setattr(ZstdCodec, "chunk_bytes", lambda self, level: 10_000)
    compressor = arzip.Compressor("zstd", 1)
    out = bytearray()
    for i in range(0, len(TEXT), 3000):
        out += compressor.compress(TEXT[i : i + 3000])
        assert len(compressor._pending) <= 10_000 + 3000
    out += compressor.flush()
    assert arzip.decompress(bytes(out)) == TEXT


def test_threaded_compressor_keeps_few_chunks_in_flight_and_the_same_bytes(monkeypatch):
    from arzip.codecs.classic import ZstdCodec

    monkeypatch.setattr(ZstdCodec, "chunk_bytes", lambda self, level: 10_000)
    one = arzip.Compressor("zstd", threads=1)
    expected = one.compress(TEXT) + one.flush()
    compressor = arzip.Compressor("zstd", threads=2)
    out = bytearray()
    for i in range(0, len(TEXT), 3000):
        out += compressor.compress(TEXT[i : i + 3000])
        assert len(compressor._in_flight) <= 4 and len(compressor._pending) <= 10_000 + 3000
    out += compressor.flush()
    assert bytes(out) == expected


def test_compressor_cannot_be_used_after_flush():
    compressor = arzip.Compressor("zlib")
    compressor.flush()
    with pytest.raises(ValueError):
        compressor.compress(b"x")


def test_concatenated_streams_decode_in_order():
    blob = arzip.compress(b"first,", "zlib") + arzip.compress(b"", "store") + arzip.compress(b"second", "bz2")
    assert arzip.decompress(blob) == b"first,second"


def test_trailing_garbage_is_an_error():
    with pytest.raises(FormatError, match="trailing data"):
        arzip.decompress(arzip.compress(b"abc", "zlib") + b"junk")


def test_empty_and_foreign_input():
    with pytest.raises(TruncatedError):
        arzip.decompress(b"")
    with pytest.raises(FormatError, match="not an .arz file"):
        arzip.decompress(b"\x1f\x8b\x08\x00 gzip data")


def test_open_binary_and_text_modes(tmp_path):
    path = tmp_path / "notes.arz"
    with arzip.open(path, "wb", codec="lzma", level=3) as f:
        f.write(b"line one\n")
        f.write(memoryview(b"line two\n"))
    with arzip.open(path) as f:
        assert f.read() == b"line one\nline two\n"
    with arzip.open(path, "wt", encoding="utf-8") as f:
        f.write("grüße\n" * 3)
    with arzip.open(path, "rt", encoding="utf-8") as f:
        assert f.readlines() == ["grüße\n"] * 3
    with pytest.raises(FileExistsError):
        arzip.open(path, "xb")


def test_open_reads_in_pieces_and_seeks(tmp_path):
    path = tmp_path / "data.arz"
    path.write_bytes(arzip.compress(TEXT, "zstd"))
    with arzip.open(path, "rb") as f:
        assert f.read(10) == TEXT[:10]
        assert f.seek(100_000) == 100_000
        assert f.read(5) == TEXT[100_000:100_005]
        f.seek(3)
        assert f.read(4) == TEXT[3:7] and f.tell() == 7
        assert f.seek(0, io.SEEK_END) == len(TEXT)
        assert f.read() == b""


def test_open_on_file_objects_and_append_makes_concatenated_streams(tmp_path):
    buffer = io.BytesIO()
    with arzip.open(buffer, "wb", codec="zlib") as f:
        f.write(b"abc")
    assert arzip.decompress(buffer.getvalue()) == b"abc"
    path = tmp_path / "log.arz"
    for word in (b"one ", b"two"):
        with arzip.open(path, "ab", codec="zlib") as f:
            f.write(word)
    assert arzip.open(path).read() == b"one two"


def test_open_rejects_bad_modes(tmp_path):
    with pytest.raises(ValueError):
        arzip.open(tmp_path / "x.arz", "rw")
    with pytest.raises(ValueError):
        arzip.open(tmp_path / "x.arz", "rb", encoding="utf-8")


def test_truncated_file_object_read_raises(tmp_path):
    path = tmp_path / "cut.arz"
    path.write_bytes(arzip.compress(TEXT, "zlib")[:-20])
    with arzip.open(path) as f, pytest.raises(TruncatedError):
        f.read()


@pytest.fixture
def in_place(monkeypatch):
    """One-shot decompress decodes into the bytes object it returns, whatever the size."""
    from arzip import stream

    monkeypatch.setattr(stream, "IN_PLACE_MIN_BYTES", 1)


@pytest.mark.parametrize("codec", ["store", "zlib", "zstd", "cm"])
def test_one_shot_decompress_into_one_bytes_object(in_place, codec):
    blob = arzip.compress(TEXT, codec)
    result = arzip.decompress(blob)
    assert type(result) is bytes and result == TEXT
    assert arzip.decompress(blob + arzip.compress(b"more", "zlib")) == TEXT + b"more"
    with pytest.raises(FormatError, match="trailing data"):
        arzip.decompress(blob + b"junk")
    for cut in (len(blob) // 2, len(blob) - 1):
        with pytest.raises(TruncatedError):
            arzip.decompress(blob[:cut])
    for position in range(40, len(blob), max(1, len(blob) // 25)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x24
        try:
            assert arzip.decompress(bytes(damaged)) == TEXT
        except ArzipError:
            pass


def test_new_bytes_is_a_fresh_writable_bytes_object():
    from arzip.outbuf import new_bytes

    made = new_bytes(5 << 20)
    if made is None:
        pytest.skip("not CPython")
    data, view = made
    view[:] = 7
    view[-1] = 9
    assert type(data) is bytes and len(data) == 5 << 20
    assert data[:3] == b"\x07\x07\x07" and data[-1] == 9
    assert new_bytes(0) is None


def test_byte_sink_collects_writes_like_bytesio():
    from arzip.outbuf import ByteSink

    sink, reference = ByteSink(4), io.BytesIO()
    for piece in (b"ab", memoryview(b"cdefgh"), b"", bytearray(b"x" * 1000), memoryview(b"yz").cast("B")):
        assert sink.write(piece) == reference.write(piece)
    assert bytes(sink.getbuffer()) == reference.getvalue() and len(sink) == 1010
