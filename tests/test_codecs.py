"""Every codec round-trips every kind of input; auto never grows data; the registry behaves."""

from __future__ import annotations

import pytest

import arzip
from arzip.codecs import CODECS, codec_by_id, get_codec, parse_codec_spec
from arzip.container import MAGIC
from arzip.errors import UnsupportedError, UsageError

from .conftest import EDGE_INPUTS

CLASSIC = ["store", "zlib", "bz2", "lzma", "zstd", "brotli"]
MODEL_SLICE_BYTES = 1 << 15  # model codecs are slow: they get a slice of the big inputs
ALL = [name for name, codec in CODECS.items() if codec.available() and codec.selectable and not codec.requires_model]


def _for_codec(codec: str, data: bytes) -> bytes:
    return data if codec in CLASSIC else data[:MODEL_SLICE_BYTES]


@pytest.mark.parametrize("codec", ALL)
@pytest.mark.parametrize("kind", list(EDGE_INPUTS))
def test_round_trip_edge_inputs(codec, kind):
    data = _for_codec(codec, EDGE_INPUTS[kind])
    blob = arzip.compress(data, codec)
    assert blob.startswith(MAGIC)
    assert arzip.decompress(blob) == data


@pytest.mark.parametrize("codec", ALL)
def test_round_trip_corpus(codec, corpus_file):
    _, data = corpus_file
    data = _for_codec(codec, data)
    assert arzip.decompress(arzip.compress(data, codec)) == data


@pytest.mark.parametrize("codec", CLASSIC)
@pytest.mark.parametrize("level", [1, 9])
def test_round_trip_levels(codec, level):
    data = EDGE_INPUTS["repetitive_1mb"][:100_000] + EDGE_INPUTS["random_1mb"][:20_000]
    assert arzip.decompress(arzip.compress(data, codec, level)) == data


@pytest.mark.parametrize("kind", list(EDGE_INPUTS))
def test_auto_never_grows_beyond_the_container_overhead(kind):
    data = EDGE_INPUTS[kind][:MODEL_SLICE_BYTES]
    stored = arzip.compress(data, "store")
    assert len(arzip.compress(data, "auto")) <= len(stored)


def test_random_data_is_stored_by_auto():
    data = EDGE_INPUTS["random_1mb"][:100_000]
    blob = arzip.compress(data, "auto")
    assert len(blob) <= len(data) + 100


def test_registry_lookups():
    assert get_codec("zstd").codec_id == 4
    assert codec_by_id(3).name == "lzma"
    assert parse_codec_spec("zstd") == (get_codec("zstd"), None)
    with pytest.raises(UsageError, match="unknown codec 'nope'"):
        get_codec("nope")
    with pytest.raises(UnsupportedError, match="codec id 200"):
        codec_by_id(200)
    with pytest.raises(UsageError, match="takes no model"):
        arzip.compress(b"x", "zstd:some/model")


@pytest.mark.parametrize("level", [0, 10, -1])
def test_bad_levels_are_usage_errors(level):
    with pytest.raises(UsageError):
        arzip.compress(b"abc", "zlib", level)


def test_classic_levels_are_documented_for_list():
    for name in CLASSIC[1:]:
        codec = get_codec(name)
        assert all(codec.level_note(level) for level in range(1, 10))
