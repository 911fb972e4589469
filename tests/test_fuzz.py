"""Property-based fuzzing of the decoder: truncated or corrupted files never crash or lie.

Every damaged container must either raise ArzipError (or a subclass) or, where
the damage hit a byte that does not matter, return exactly the original data.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import arzip
from arzip.errors import ArzipError

from .conftest import EDGE_INPUTS

SAMPLE = EDGE_INPUTS["repetitive_1mb"][:3000] + bytes(range(256)) + b"tail of the sample"
FUZZ_CODECS = ["store", "zlib", "bz2", "lzma", "zstd", "brotli", "cm", "auto"]
BLOBS = {codec: arzip.compress(SAMPLE, codec) for codec in FUZZ_CODECS}
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _decode_or_error(blob: bytes) -> None:
    try:
        out = arzip.decompress(blob)
    except ArzipError:
        return
    assert out == SAMPLE, "a damaged file decoded to wrong data"


@pytest.mark.parametrize("codec", FUZZ_CODECS)
@FUZZ
@given(data=st.data())
def test_truncated_files_raise(codec, data):
    blob = BLOBS[codec]
    cut = data.draw(st.integers(0, len(blob) - 1))
    with pytest.raises(ArzipError):
        arzip.decompress(blob[:cut])


@pytest.mark.parametrize("codec", FUZZ_CODECS)
@FUZZ
@given(data=st.data())
def test_corrupted_files_raise_or_decode_exactly(codec, data):
    blob = bytearray(BLOBS[codec])
    flips = data.draw(st.lists(st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255)), min_size=1, max_size=4))
    for position, mask in flips:
        blob[position] ^= mask
    _decode_or_error(bytes(blob))


@FUZZ
@given(garbage=st.binary(max_size=300))
def test_arbitrary_bytes_raise(garbage):
    with pytest.raises(ArzipError):
        arzip.decompress(garbage)


@FUZZ
@given(garbage=st.binary(max_size=200))
def test_valid_magic_with_garbage_raises(garbage):
    with pytest.raises(ArzipError):
        arzip.decompress(b"\x89ARZ\x01" + garbage)


@FUZZ
@given(suffix=st.binary(min_size=1, max_size=50))
def test_appended_bytes_raise(suffix):
    blob = BLOBS["zlib"] + suffix
    try:
        out = arzip.decompress(blob)
    except ArzipError:
        return
    assert out.startswith(SAMPLE)  # only a valid second stream may follow
