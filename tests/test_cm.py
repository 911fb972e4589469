"""Tests of the context-mixing model arzip.models.cm: round trips, golden bytes,
cross-CPU determinism and robustness against corrupt payloads."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arzip.models import cm

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
SRC = Path(__file__).resolve().parents[1] / "src"


def _corpus(name: str, start: int, size: int) -> bytes:
    path = CORPUS / name
    if not path.exists():
        pytest.skip("corpus not available")
    return path.read_bytes()[start:start + size]


def _roundtrip(data: bytes, level: int) -> bytes | None:
    payload = cm.encode(data, level)
    if payload is None:
        return None
    assert len(payload) <= len(data) + 64
    assert cm.decode(payload, len(data), level) == data
    return payload


def _text() -> bytes:
    words = b"the quick brown fox jumps over the lazy dog and then some more words follow "
    return b"".join(words[(i * 7) % 40:] + b"%d\n" % i for i in range(60))


def _binary() -> bytes:
    # a little table of fixed-size records with a counter and slowly varying fields
    out = bytearray()
    for i in range(400):
        out += (i & 0xFF).to_bytes(1, "little") + (i * 37 % 1000).to_bytes(2, "little")
        out += b"\x00\x01" + bytes([i % 7, 200 - i % 50, 3])
    return bytes(out)


def _random(n: int, seed: int = 1) -> bytes:
    x = seed
    out = bytearray()
    for _ in range(n):
        x = (x * 6364136223846793005 + 1442695040888963407) & (2**64 - 1)
        out.append(x >> 56)
    return bytes(out)


@pytest.mark.parametrize("level", range(1, 10))
def test_roundtrip_levels(level):
    for data in (_text(), _binary(), b"", b"A", b"\x00" * 5000, b"ab" * 3000):
        _roundtrip(data, level)


def test_levels_table():
    assert set(cm.LEVELS) == set(range(1, 10))
    assert cm.DEFAULT_LEVEL in cm.LEVELS
    for n, lv in cm.LEVELS.items():
        assert lv.level == n
        assert lv.chunk_bytes >= 1 << 19
        assert lv.memory_bytes > 0
    assert cm.LEVELS[1].fast and not any(lv.fast for lv in cm.LEVELS_BY_REVISION[3].values())
    assert cm.LEVELS_BY_REVISION[4][1].fast_order6 and not cm.LEVELS_BY_REVISION[5][1].fast_order6
    assert cm.LEVELS[1].memory_bytes < cm.LEVELS_BY_REVISION[4][1].memory_bytes
    assert cm.LEVELS[cm.DEFAULT_LEVEL].memory_bytes <= 512 << 20


def test_random_is_refused_or_small():
    data = _random(20000)
    payload = cm.encode(data, 2)
    if payload is not None:
        assert len(payload) <= len(data) + 64
        assert cm.decode(payload, len(data), 2) == data


def test_empty_and_tiny():
    for level in (1, cm.DEFAULT_LEVEL, 9):
        assert cm.decode(cm.encode(b"", level) or b"", 0, level) == b""
        for data in (b"\x00", b"\xff", b"xy"):
            p = cm.encode(data, level)
            if p is not None:
                assert cm.decode(p, len(data), level) == data


def test_long_run_compresses_well():
    data = b"\x07" * 100000
    payload = _roundtrip(data, 1)
    assert payload is not None and len(payload) < 200


@pytest.mark.parametrize("name", ["alice29.txt", "kppkn.gtb", "geo.protodata", "html", "urls.10K",
                                  "fireworks.jpeg", "paper-100k.pdf"])
def test_corpus_slices(name):
    data = _corpus(name, 1000, 12000)
    for level in (1, cm.DEFAULT_LEVEL):
        _roundtrip(data, level)


def test_repeats_cost_little():
    part = _corpus("html", 0, 20000)
    once = cm.encode(part, cm.DEFAULT_LEVEL)
    twice = cm.encode(part * 3, cm.DEFAULT_LEVEL)
    assert once is not None and twice is not None
    assert len(twice) < len(once) * 1.05


def test_text_beats_order0():
    data = _corpus("alice29.txt", 0, 30000)
    payload = _roundtrip(data, cm.DEFAULT_LEVEL)
    assert payload is not None and len(payload) * 8 / len(data) < 2.8


def _golden_input() -> bytes:
    return _text() + _binary()[:1500] + bytes(range(256))


# sha256 of the payload of _golden_input() at each level; a change here means the
# bitstream changed: add a revision to arzip.models.cm.levels (MODEL_REVISION, with the
# earlier revision's levels kept in LEVELS_BY_REVISION) before updating these.
GOLDEN = {
    1: "3a7bc45fe698ebb083e3d49c72c04867",
    2: "116a0c8278cde376adeea63badab694a",
    3: "ab787f440dc14e8176279a7d9c622e5a",
    4: "ab787f440dc14e8176279a7d9c622e5a",
    5: "631969d1d9c745d6dca07acf275d8b8a",
    6: "d3ababa0b3cd61b203baff572518524e",
    7: "959f7423eed4ccd0fbc239cf9a0878de",
    8: "959f7423eed4ccd0fbc239cf9a0878de",
    9: "277ddf90481925488b629bf37d9de6f0",
}
# the payload of _golden_input() coded with the contexts for binary data (binary=True)
GOLDEN_BINARY = {
    5: "5cb1b869dbb4566ace89ba119070b3d3",
    6: "2cc0e8b0203f6fc3210cccfce024c300",
    7: "66d5f4ad303b7801b677022daa299c8c",
    9: "7529d325f52f3750270aadf7fa825999",
}
# the same for the levels of earlier revisions where they differ from this one's: what
# earlier arzips wrote, which must still decode (revision 7 changed levels 6-9: learning rates
# by use; revisions 4 and 5 level 1 only; revision 3 levels 5-9)
GOLDEN_EARLIER = {
    (6, 6): "162bf38f5cfc8727cb14f38c0e3167ba",
    (6, 7): "05cf77bf65e32dba6032c184213d05e4",
    (6, 8): "05cf77bf65e32dba6032c184213d05e4",
    (6, 9): "d0294be5d21f80874d032f87930bd59b",
    (4, 1): "d244b9d57155d52fc70f0ed7b24dc954",
    (3, 1): "492aaeb943d9defcc16de003a61f6529",
    (2, 1): "492aaeb943d9defcc16de003a61f6529",
    (2, 5): "170b5f80aa3d93ac1c4ce5b6617e091b",
    (2, 6): "727ad26fff93d71b1f2d0de37e69548e",
    (2, 7): "994dafd624ef34754150021b18eb51d1",
    (2, 8): "994dafd624ef34754150021b18eb51d1",
    (2, 9): "d676874519df24b8e2c76401dd7e2d63",
}


@pytest.mark.parametrize("level", range(1, 10))
def test_golden(level):
    payload = cm.encode(_golden_input(), level)
    assert payload is not None
    digest = hashlib.sha256(payload).hexdigest()[:32]
    if level not in GOLDEN:
        pytest.skip(f"no golden value for level {level}: {digest}")
    assert digest == GOLDEN[level]


@pytest.mark.parametrize("level", sorted(GOLDEN_BINARY))
def test_golden_binary(level):
    data = _golden_input()
    payload = cm.encode(data, level, binary=True)
    assert hashlib.sha256(payload).hexdigest()[:32] == GOLDEN_BINARY[level]
    assert cm.decode(payload, len(data), level, binary=True) == data
    assert payload != cm.encode(data, level)


def test_the_codec_records_text_or_binary():
    import arzip
    from arzip.container import parse_frame_header, parse_header
    from arzip.errors import FormatError

    for data, kind in ((_text(), 0), (_binary(), 1)):
        packed = bytearray(arzip.compress(data, "cm"))
        header, offset = parse_header(packed)
        frame, payload_at = parse_frame_header(packed, offset, header.chunk_bytes)
        assert frame.codec_id == 16
        assert packed[payload_at:payload_at + 2] == bytes((cm.MODEL_REVISION, kind))
        assert arzip.decompress(bytes(packed)) == data
        packed[payload_at + 1] = 2
        with pytest.raises(FormatError):
            arzip.decompress(bytes(packed))


def test_one_thread_runs_the_xz_contender_in_line_with_the_same_bytes(monkeypatch):
    import arzip
    from arzip.codecs import cm as cm_codec

    data = _binary()
    two = arzip.compress(data, "cm", threads=2)

    def no_background(*args):
        raise AssertionError("-T 1 started a background contender")

    monkeypatch.setattr(cm_codec, "_contend", no_background)
    assert arzip.compress(data, "cm", threads=1) == two


@pytest.mark.parametrize("revision,level", sorted(GOLDEN_EARLIER))
def test_earlier_revisions_payloads_still_decode(revision, level):
    data = _golden_input()
    payload = cm.encode_level(data, cm.LEVELS_BY_REVISION[revision][level])
    assert hashlib.sha256(payload).hexdigest()[:32] == GOLDEN_EARLIER[revision, level]
    assert cm.decode(payload, len(data), level, revision=revision) == data
    assert payload != cm.encode(data, level)


def test_a_revision_2_file_still_decodes(monkeypatch):
    """A file written by the arzip of revision 2 (emulated: its levels, its revision byte)."""
    import arzip
    from arzip.container import parse_frame_header, parse_header
    from arzip.models.cm.model import encode_level

    data = _golden_input()
    with monkeypatch.context() as patch:
        patch.setattr(cm, "MODEL_REVISION", 2)
        patch.setattr(cm, "encode", lambda chunk, level, binary: encode_level(chunk, cm.LEVELS_BY_REVISION[2][level]))
        packed = arzip.compress(data, "cm", 6)
    header, offset = parse_header(packed)
    frame, payload_at = parse_frame_header(packed, offset, header.chunk_bytes)
    assert frame.codec_id == 16 and packed[payload_at] == 2
    assert packed != arzip.compress(data, "cm", 6)
    assert arzip.decompress(packed) == data


_CHILD = """
import sys
from arzip.models import cm
level, n, binary = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"
payload = sys.stdin.buffer.read()
sys.stdout.buffer.write(cm.decode(payload, n, level, binary=binary))
"""


def test_cross_cpu_determinism():
    data = _text() + _binary()
    env = dict(os.environ)
    env["NUMBA_CPU_NAME"] = "generic"
    env["NUMBA_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = str(SRC) + os.pathsep + env.get("PYTHONPATH", "")
    # a separate cache dir so the child really compiles for the generic CPU
    env["NUMBA_CACHE_DIR"] = str(Path(os.environ.get("TMPDIR", "/tmp")) / "arzip_cm_generic_cache")
    # (level 9: revision 7's learning rates by use)
    for level, binary in ((1, False), (cm.DEFAULT_LEVEL, False), (cm.DEFAULT_LEVEL, True), (9, False)):
        payload = cm.encode(data, level, binary)
        assert payload is not None
        out = subprocess.run([sys.executable, "-c", _CHILD, str(level), str(len(data)), str(int(binary))],
                             input=payload, capture_output=True, env=env, timeout=600, check=True)
        assert out.stdout == data


@pytest.mark.parametrize("level", [1, cm.DEFAULT_LEVEL])
def test_corrupt_payload_does_not_hang(level):
    data = _corpus("alice29.txt", 0, 8000)
    payload = bytearray(cm.encode(data, level))
    for pos in (0, 5, len(payload) // 2, len(payload) - 1):
        bad = bytearray(payload)
        bad[pos] ^= 0x5A
        out = cm.decode(bytes(bad), len(data), level)
        assert len(out) == len(data)
    # truncated, empty and garbage payloads
    assert len(cm.decode(bytes(payload[:10]), len(data), level)) == len(data)
    assert len(cm.decode(b"", 1000, level)) == 1000
    assert len(cm.decode(_random(300, 5), 5000, level)) == 5000


def test_a_payload_of_another_model_revision_is_refused():
    import arzip
    from arzip.container import parse_frame_header, parse_header
    from arzip.errors import UnsupportedError

    data = _text()[:4000]
    packed = bytearray(arzip.compress(data, "cm"))
    header, offset = parse_header(packed)
    frame, payload_at = parse_frame_header(packed, offset, header.chunk_bytes)
    assert frame.codec_id == 16 and packed[payload_at] == cm.MODEL_REVISION
    assert 1 not in cm.LEVELS_BY_REVISION
    packed[payload_at] = 1
    with pytest.raises(UnsupportedError, match="revision 1"):
        arzip.decompress(bytes(packed))
