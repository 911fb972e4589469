"""Weight archives: exact round trips for every dtype, tensor access, dedup, deltas, bad input."""

from __future__ import annotations

import io
import json
import struct
import threading
import time

import numpy as np
import pytest

import arzip
from arzip.cli import Streams, main
from arzip.errors import ArzipError, ExitCode, FormatError, ModelError
from arzip.weights import compress_weights, extract, load, load_tensor
from arzip.weights import pairs, planes
from arzip.weights.archive import WeightsArchive
from arzip.weights.tensor_codec import SEGMENT_VALUES, WIDE, decode_values, encode_parts, encode_values

ml_dtypes = pytest.importorskip("ml_dtypes")


def write_safetensors(path, tensors: dict[str, tuple[str, np.ndarray]]) -> bytes:
    """A .safetensors file from (dtype name, array) pairs; returns its bytes."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (dtype, array) in tensors.items():
        data = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    raw = struct.pack("<Q", len(text)) + text + b"".join(blobs)
    path.write_bytes(raw)
    return raw


def gaussian(shape, seed=0, scale=0.02):
    return (np.random.default_rng(seed).standard_normal(shape) * scale).astype(np.float32)


@pytest.fixture
def checkpoint(tmp_path):
    tensors = {
        "embed.weight": ("BF16", gaussian((300, 128), 1).astype(ml_dtypes.bfloat16)),
        "layer.0.weight": ("F32", gaussian((256, 128), 2)),
        "layer.0.bias": ("F32", gaussian((128,), 3)),
        "layer.1.weight": ("F16", gaussian((256, 128), 4).astype(np.float16)),
        "tied.weight": ("BF16", gaussian((300, 128), 1).astype(ml_dtypes.bfloat16)),  # a duplicate
        "fp8.weight": ("F8_E4M3", gaussian((256, 300), 5, 1.0).astype(ml_dtypes.float8_e4m3fn)),
        "positions": ("I64", np.arange(512, dtype=np.int64).reshape(1, 512)),
        "fp64": ("F64", gaussian((100, 100), 6).astype(np.float64)),
        "empty": ("F32", np.zeros((0, 4), dtype=np.float32)),
    }
    path = tmp_path / "model.safetensors"
    raw = write_safetensors(path, tensors)
    return path, raw, tensors


def _compress(path, out, **kw):
    with open(out, "wb") as f:
        return compress_weights(str(path), f, **kw)


@pytest.mark.parametrize(
    ("dtype", "width"),
    [(np.float32, 4), (ml_dtypes.bfloat16, 2), (np.float16, 2), (np.float64, 8), (ml_dtypes.float8_e5m2, 1)],
)
@pytest.mark.parametrize("count", [1, 3, 4097, (1 << 20) + 5])
def test_tensor_codec_round_trips(dtype, width, count):
    data = gaussian((count,), count).astype(dtype).tobytes()
    payload = encode_values(data, width, threads=2)
    assert bytes(decode_values(payload, len(data), threads=2)) == data


def test_tensor_codec_constant_and_zero_low_bytes():
    ones = np.ones(5000, dtype=np.float32).tobytes()
    assert bytes(decode_values(encode_values(ones, 4), len(ones))) == ones
    from_bf16 = gaussian((100_000,), 9).astype(ml_dtypes.bfloat16).astype(np.float32).tobytes()
    payload = encode_values(from_bf16, 4)
    assert bytes(decode_values(payload, len(from_bf16))) == from_bf16
    as_bf16 = encode_values(gaussian((100_000,), 9).astype(ml_dtypes.bfloat16).tobytes(), 2)
    assert len(payload) < len(as_bf16) * 1.02  # fp32 saved from bf16 costs about its real size


def _entropy_bytes(symbols: np.ndarray) -> float:
    counts = np.bincount(symbols)
    counts = counts[counts > 0]
    return float(-(counts * np.log2(counts / symbols.size)).sum() / 8)


def test_tensor_codec_reaches_the_entropy_of_the_exponents():
    values = gaussian((1 << 20,), 11).astype(ml_dtypes.bfloat16)
    payload = encode_values(values.tobytes(), 2)
    bits = values.view(np.uint16)
    assert payload[1] == pairs.BF16.layout | WIDE  # bf16: the exponent-pair layout
    # its 9-bit heads (exponent, top mantissa bit) + 7 raw bits each
    heads_and_raw_tails = _entropy_bytes((bits >> 6) & 0x1FF) + bits.size * 7 / 8
    assert len(payload) < heads_and_raw_tails * 1.003
    # within the bf16 kind's slack of the 12-bit heads (sign, exponent, 3 mantissa bits) + 4 raw bits each
    assert len(payload) < (_entropy_bytes(bits >> 4) + bits.size / 2) * (1 + pairs.BF16.slack) * 1.003


@pytest.mark.parametrize(
    ("dtype", "seed", "layout", "scale", "wide", "rest", "digest"),
    [
        (np.float32, 21, 12, 12, True, 132567, "f209d676e2330df03b738329595b6ce99ca44afbe1227fa432bc2aaaaf4bdd0e"),
        (ml_dtypes.bfloat16, 22, pairs.BF16.layout, 13, True, 52591, "18735894b85c6e6fd24d5616d6a7f931547d4a99f535f6963b69efe78fd5f7cf"),
        (np.float16, 23, 8, 12, True, 67555, "0886948f2c733d3745e1c2836fb455db2984262614599a1b8ecbbe8cc579f752"),
        # the eight-lane frames of earlier versions
        (np.float32, 21, 12, 12, False, 132435, "022bd2ab0c325fc3e1a53cc683b5d031247e54cfa2bce862c7ac3bc2e2cf2e35"),
        (ml_dtypes.bfloat16, 22, pairs.BF16.layout, 13, False, 52471, "debb10753f72556145a21d20b4e802af94e6c8f1c655b78a3577eeba153e2fd3"),
        (np.float16, 23, 8, 12, False, 67427, "e97e5342fd7a0e7c990eea521942f2568691ee95283513e482b4b4daae45ff57"),
    ],
)
def test_tensor_payload_bytes_are_pinned(dtype, seed, layout, scale, wide, rest, digest):
    # the exact payload of each common layout (top-12 fp32, bf16 pairs, top-8 fp16), its
    # table at the coarse scales 12 and 13, in the 32-lane coder and in the eight-lane one
    # of earlier versions (which must still decode): a change to the format or to the
    # encoder's choices shows here (the table's symbols and frequencies and every byte
    # after it are pinned; not the table's zstd bytes, which a zstd release may change); a
    # decoder must refuse a scale outside 12..16
    import hashlib

    from arzip.container import _Cursor
    from arzip.weights.tensor_codec import _Table

    values = gaussian((40_000,), seed).astype(dtype)
    payload = encode_values(values.tobytes(), values.dtype.itemsize, wide=wide)
    cur = _Cursor(payload)
    assert (cur.u8(), cur.u8(), cur.varint()) == (values.dtype.itemsize, layout | (WIDE if wide else 0), 40_000)
    count = _Cursor(payload[cur.offset :])
    count.varint()  # the number of symbols used, then the scale
    scale_at = cur.offset + count.offset
    table = _Table.read(cur, pairs.KINDS[layout].symbol_bits if layout in pairs.KINDS else layout)
    assert table.scale_bits == payload[scale_at] == scale
    pinned = table.symbols.astype("<i8").tobytes() + table.frequencies.astype("<i8").tobytes() + payload[cur.offset :]
    assert (len(payload) - cur.offset, hashlib.sha256(pinned).hexdigest()) == (rest, digest)
    assert bytes(decode_values(payload, values.nbytes)) == values.tobytes()
    bad = bytearray(payload)
    bad[scale_at] = 11
    with pytest.raises(FormatError):
        decode_values(bytes(bad), values.nbytes)


def test_table_steps_match_their_numpy_definitions():
    # the compiled table steps give what the numpy steps they replaced gave: the coarsest
    # scale whose cost is within the bound (frequency_table's integers), rans.encoder_table
    # over the wider alphabet, and the stored gaps and their checks
    from arzip.coding import rans
    from arzip.coding.frequencies import frequency_table
    from arzip.weights import tables
    from arzip.weights.tensor_codec import SCALE_BITS, SMALL_SCALES, _SMALL_SCALE_BITS, _SMALL_SCALE_SYMBOLS

    rng = np.random.default_rng(8)
    for used_count, bound in ((3, 0.0), (300, 1e9), (300, 50.0), (1500, 200.0), (5000, 1e9)):
        counts = rng.integers(1, 5000, used_count).astype(np.int64)
        fine = frequency_table(counts, SCALE_BITS)
        expected = (fine, SCALE_BITS)
        for scale_bits, most in SMALL_SCALES:
            if used_count > most:
                continue
            coarse = frequency_table(counts, scale_bits)
            if float((counts * (np.log2(fine / coarse) + (scale_bits - SCALE_BITS))).sum()) <= bound:
                expected = (coarse, scale_bits)
                break
        got = tables.frequencies_at_coarsest_scale(counts, SCALE_BITS, _SMALL_SCALE_BITS, _SMALL_SCALE_SYMBOLS, bound)
        assert got[1] == expected[1] and np.array_equal(got[0], expected[0])
        indices = np.sort(rng.choice(used_count * 3, used_count, replace=False)).astype(np.int64)
        freqs, starts = np.zeros(used_count * 3, dtype=np.int64), np.zeros(used_count * 3, dtype=np.int64)
        freqs[indices] = got[0]
        starts[indices] = np.cumsum(got[0]) - got[0]
        reference = rans.encoder_table(freqs, starts)
        assert tables.encoder_table_at(indices, got[0], used_count * 3).tobytes() == reference.tobytes()
        gaps = tables.symbol_gaps(indices)
        assert np.array_equal(gaps, np.diff(indices, prepend=-1) - 1)
        symbols, sound = tables.symbols_from_gaps(gaps, got[0], used_count * 3, 1 << got[1])
        assert sound and np.array_equal(symbols, indices)
        assert not tables.symbols_from_gaps(gaps, got[0], int(indices[-1]), 1 << got[1])[1]  # a symbol too large
        assert not tables.symbols_from_gaps(gaps, got[0], used_count * 3, (1 << got[1]) + 1)[1]  # a wrong sum
        zero = got[0].copy()
        zero[0], zero[-1] = 0, zero[-1] + zero[0]
        assert not tables.symbols_from_gaps(gaps, zero, used_count * 3, 1 << got[1])[1]  # a frequency of 0


def test_expected_pairs_of_independent_heads():
    # the estimate of a pair table's size: the distinct pairs of neighbours, within a few
    # percent of the count, for few and for many pairs a head
    rng = np.random.default_rng(9)
    probabilities = np.exp(-0.5 * ((np.arange(40) - 20) / 4.0) ** 2)
    for values in (2_000, 200_000):
        heads = rng.choice(40, values, p=probabilities / probabilities.sum())
        counts = np.bincount(heads, minlength=64).astype(np.int64)
        distinct = np.unique(heads[0::2] * 64 + heads[1::2]).shape[0]
        expected = planes._expected_pairs(counts, values // 2)
        assert abs(expected - distinct) < 0.05 * distinct


def test_zstd_compressors_kept_a_thread_give_a_new_ones_bytes():
    import zstandard

    from arzip.codecs.classic import zstd_compressor

    pieces = [bytes(range(256)) * 40, b"weights " * 999, np.random.default_rng(2).bytes(5000)]
    kept = zstd_compressor(6)
    assert zstd_compressor(6) is kept and zstd_compressor(3) is not kept
    for data in pieces * 2:
        assert kept.compress(data) == zstandard.ZstdCompressor(level=6).compress(data)
    other: list = []
    thread = threading.Thread(target=lambda: other.append(zstd_compressor(6)))
    thread.start()
    thread.join()
    assert other[0] is not kept  # one a thread: a compressor must not serve two at once


def test_tensor_codec_layouts_follow_the_data():
    rng = np.random.default_rng(5)
    fp16 = encode_values(gaussian((1 << 16,), 5).astype(np.float16).tobytes(), 2)
    assert fp16[1] != pairs.BF16.layout | WIDE  # fp16's exponent is not where bf16's is
    # 16-bit values whose bits 8..14 and 6..14 take too many values: a top-K layout
    spread = encode_values((rng.standard_normal(1 << 16) * 3000).astype(np.int16).tobytes(), 2)
    assert spread[1] in (8 | WIDE, 12 | WIDE, 16 | WIDE)
    # one head (exponent 0, top mantissa bit 0), random signs and low mantissas: a one-symbol
    # pair table, only the 7-bit tails stored
    one_head = (rng.choice([-1.0, 1.0], 70_000) * (1 + 0.49 * rng.random(70_000))).astype(ml_dtypes.bfloat16)
    payload = encode_values(one_head.tobytes(), 2)
    assert payload[1] == pairs.BF16.layout | WIDE and len(payload) < one_head.size * 7 / 8 + 100
    assert bytes(decode_values(payload, one_head.nbytes, threads=2)) == one_head.tobytes()


@pytest.mark.parametrize("by_range", [False, True])
@pytest.mark.parametrize("kind", [pairs.BF16, pairs.FP16])
@pytest.mark.parametrize("count", [7, 24, 25, 1000, 4099])
def test_pair_split_matches_its_definition(kind, count, by_range):
    # the vector split (sixteen values a step, ranks looked up or computed from a range of
    # heads) and its scalar tail, against the layout's definition in numpy: pair ranks,
    # their counts, and the tail planes bit for bit
    rng = np.random.default_rng(count)
    dtype = ml_dtypes.bfloat16 if kind is pairs.BF16 else np.float16
    bits = (rng.standard_normal(count) * 0.02).astype(dtype).view(np.uint16)
    bits[::5] &= 0x8000  # zeros (head 0), below the other heads' range
    heads = (bits >> kind.shift) & ((1 << kind.head_bits) - 1)
    histogram = np.bincount(heads, minlength=1 << kind.head_bits)
    base = -1
    if by_range:
        order, dense, base = pairs.range_heads(histogram)
        assert base >= 0 and np.array_equal(dense[order], np.arange(order.shape[0]))
    else:
        dense = pairs.dense_heads(histogram)
    width = int(dense.max()) + 1
    ranks = np.zeros((count + 1) // 2, dtype=np.uint16)
    tails = [np.zeros(size, dtype=np.uint8) for size in kind.plane_sizes(count)]
    counts = np.zeros(width * width, dtype=np.int64)
    pairs.split(bits, 0, count, kind.shift, dense, width, ranks, tails[0], tails[-1], counts, base)
    padded = np.append(heads, heads.min()) if count % 2 else heads
    expected = dense[padded[0::2]].astype(np.int64) * width + dense[padded[1::2]]
    assert np.array_equal(ranks, expected) and np.array_equal(counts, np.bincount(expected, minlength=width * width))
    if kind is pairs.BF16:
        tail = ((bits >> 9) & 0x40) | (bits & 0x3F)
        spread = ((tail[:, None] >> np.arange(7)) & 1).astype(np.uint8).reshape(-1)
        assert np.array_equal(tails[0], np.packbits(spread, bitorder="little"))
    else:
        assert np.array_equal(tails[0], (bits & 0xFF).astype(np.uint8))
        assert np.array_equal(tails[1], np.packbits((bits >> 15).astype(np.uint8), bitorder="little"))


@pytest.mark.parametrize("count", [5, 37, 1000, 100_003])
def test_head_span_from_the_values_matches_the_histograms(count):
    # the encoder's path without a histogram (bfloat16 pairs over the heads' span, found by
    # a vector minimum and maximum) numbers the heads as the histogram's path does
    bits = (np.random.default_rng(count).standard_normal(count) * 0.02).astype(ml_dtypes.bfloat16).view(np.uint16)
    bits[::7] &= 0x8000  # zeros
    histogram = np.bincount((bits >> 6) & 0x1FF, minlength=1 << 9)
    from_values, from_histogram = pairs.span_heads(bits, pairs.BF16), pairs.range_heads(histogram)
    assert all(np.array_equal(a, b) for a, b in zip(from_values, from_histogram))


def test_sixteen_bit_heads_only_where_the_low_bits_carry_structure():
    # the encoder counts the top 16 bits only where a sample says that 16-bit heads may pay:
    # not for real-like weights (noise below the top 12 bits), yes for quantized ones, which
    # then take them (layout 16: no tail at all)
    from arzip.weights.tensor_codec import WIDE

    noise = gaussian((200_000,), 3).astype(ml_dtypes.bfloat16)
    assert not planes.sixteen_bit_heads_may_pay(noise.view(np.uint16), 16)
    grid = (np.random.default_rng(4).integers(-300, 300, 200_000) * 0.001).astype(ml_dtypes.bfloat16)
    assert planes.sixteen_bit_heads_may_pay(grid.view(np.uint16), 16)
    payload = encode_values(grid.tobytes(), 2)
    assert payload[1] == 16 | WIDE and bytes(decode_values(payload, grid.nbytes)) == grid.tobytes()


def test_pair_layout_round_trips_odd_and_short_tensors():
    # odd counts (the last head paired with the smallest head that occurs), one segment
    # and several, a last value whose head occurs nowhere else
    for dtype, kind in ((ml_dtypes.bfloat16, pairs.BF16), (np.float16, pairs.FP16)):
        for n, seed in ((2, 1), (3, 2), (17, 3), (8_191, 4), (SEGMENT_VALUES + 3, 5)):
            values = gaussian((n,), seed).astype(dtype)
            values[-1] = dtype(3.0e4)
            raw = values.tobytes()
            payload = bytes(b"".join(encode_parts(raw, 2, threads=2)))
            assert payload == encode_values(raw, 2)  # threads do not change the bytes
            if n > SEGMENT_VALUES and kind is pairs.BF16:
                assert payload[1] == kind.layout | WIDE
            assert bytes(decode_values(payload, len(raw), threads=2)) == raw


@pytest.mark.parametrize("threads", [1, 2])
def test_decode_many_runs_meanwhile_once_while_it_decodes(threads):
    # the caller's other work (an archive's zstd frames) runs once, in the calling thread
    from arzip.weights.tensor_codec import decode_many

    raws = [gaussian((n,), n).astype(ml_dtypes.bfloat16).tobytes() for n in (5, SEGMENT_VALUES + 7)]
    frames = [(encode_values(raw, 2), len(raw)) for raw in raws]
    calls = []
    out = decode_many(frames, threads, meanwhile=lambda: calls.append(threading.get_ident()))
    assert [bytes(o) for o in out] == raws and calls == [threading.get_ident()]


@pytest.mark.parametrize("threads", [2, 3])
def test_decode_many_hands_frames_over_in_order_as_they_are_done(threads):
    # the calling thread decodes jobs too; each frame goes to done() in order, in that
    # thread, once it is whole (the caller hashes it while later ones decode)
    from arzip.weights.tensor_codec import decode_many

    sizes = (3 * SEGMENT_VALUES + 1, 9, 2 * SEGMENT_VALUES, SEGMENT_VALUES // 2, 5 * SEGMENT_VALUES + 3)
    raws = [gaussian((n,), n % 97).astype(ml_dtypes.bfloat16).tobytes() for n in sizes]
    frames = [(encode_values(raw, 2), len(raw)) for raw in raws]
    targets = [np.zeros(len(raw), dtype=np.uint8) for raw in raws]
    seen = []

    def done(position: int) -> None:
        seen.append((position, threading.get_ident(), targets[position].tobytes() == raws[position]))

    decode_many(frames, threads, targets, done=done)
    assert seen == [(k, threading.get_ident(), True) for k in range(len(raws))]


def test_fp16_pair_layout_round_trips():
    # the float16 kind, written directly (the encoder takes it only where it costs nothing)
    from arzip.weights import tensor_codec

    for n, seed in ((1, 1), (3, 2), (17, 3), (SEGMENT_VALUES + 5, 4)):
        values = gaussian((n,), seed).astype(np.float16)
        bits = values.view(np.uint16)
        top = planes.top_histogram(bits, 16)
        parts = tensor_codec._encode_pairs(bits, tensor_codec._segments(n), 2, top, pairs.FP16)
        payload = b"".join(bytes(p) for p in parts)
        assert payload[1] == pairs.FP16.layout | WIDE
        assert bytes(decode_values(payload, 2 * n, threads=2)) == values.tobytes()


def test_archive_round_trip_dedup_and_arzip_d(checkpoint, tmp_path):
    path, raw, _ = checkpoint
    out = tmp_path / "model.safetensors.arz"
    summary = _compress(path, out, threads=2)
    assert summary.frames_by_kind.get("ref") == 1  # the tied copy
    assert arzip.decompress(out.read_bytes()) == raw  # a plain .arz to every tool
    assert out.stat().st_size < len(raw)


def test_archives_are_the_same_bytes_whatever_the_threads(checkpoint, tmp_path):
    # one thread, two, and two again (the piece threads, their working arrays and zstd
    # contexts kept from the archive before): the same archive; a consumer that stops
    # early leaves no piece running
    from arzip.weights.archive import IN_FLIGHT_BYTES, _ordered_map

    path, raw, _ = checkpoint
    blobs = []
    for number, threads in enumerate((1, 2, 2, 3)):
        out = tmp_path / f"{number}.arz"
        _compress(path, out, threads=threads)
        blobs.append(out.read_bytes())
    assert all(blob == blobs[0] for blob in blobs)
    started = []

    def piece(item: int) -> int:
        started.append(item)
        time.sleep(0.02)
        return item

    sizes = [IN_FLIGHT_BYTES] * 100  # each as large as the input in flight: a window of 8
    mapped = _ordered_map(piece, list(range(100)), 2, sizes)
    assert next(mapped) == 0
    mapped.close()
    count = len(started)
    time.sleep(0.2)
    assert count < 8 and len(started) == count  # the window's others were dropped, not run


def test_dedup_hashes_whole_pieces_not_their_samples(tmp_path):
    # equal in size and in the sampled bytes (start, middle, end), different elsewhere:
    # not a repeat; an exact copy is
    a = gaussian((512, 128), 7).astype(ml_dtypes.bfloat16)
    b = a.copy()
    b.reshape(-1)[10_000] = ml_dtypes.bfloat16(1.5)
    path = tmp_path / "m.safetensors"
    raw = write_safetensors(path, {"a": ("BF16", a), "b": ("BF16", b), "c": ("BF16", a.copy())})
    out = tmp_path / "m.arz"
    summary = _compress(path, out)
    assert summary.frames_by_kind.get("ref") == 1  # c, not b
    assert arzip.decompress(out.read_bytes()) == raw


def test_load_and_load_tensor(checkpoint, tmp_path):
    path, _, tensors = checkpoint
    out = tmp_path / "m.arz"
    _compress(path, out)
    loaded = load(str(out))
    assert set(loaded) == set(tensors)
    for name, (_, array) in tensors.items():
        assert loaded[name].dtype == array.dtype and np.array_equal(loaded[name].view(np.uint8), array.view(np.uint8))
    tied = load_tensor(str(out), "tied.weight")
    assert np.array_equal(tied.view(np.uint16), tensors["tied.weight"][1].view(np.uint16))
    with pytest.raises(KeyError):
        load_tensor(str(out), "nope")


def test_load_tensor_decodes_only_its_frames(checkpoint, tmp_path, monkeypatch):
    path, _, tensors = checkpoint
    out = tmp_path / "m.arz"
    _compress(path, out)
    archive = WeightsArchive(str(out))
    decoded = []
    original = archive.frame_chunk
    monkeypatch.setattr(archive, "frame_chunk", lambda n: decoded.append(n) or original(n))
    index, info = archive.find("layer.1.weight")
    archive.tensor_bytes(index, info)
    assert len(set(decoded)) <= 2  # its own frame, plus the header's to find it
    assert len(set(decoded)) < len(archive.info.frames)


def test_torch_framework(checkpoint, tmp_path):
    torch = pytest.importorskip("torch")
    path, _, tensors = checkpoint
    out = tmp_path / "m.arz"
    _compress(path, out)
    t = load_tensor(str(out), "embed.weight", framework="pt")
    assert t.dtype == torch.bfloat16 and tuple(t.shape) == (300, 128)


def test_directory_archive(checkpoint, tmp_path):
    path, raw, _ = checkpoint
    model = tmp_path / "model_dir"
    (model / "sub").mkdir(parents=True)
    (model / "model.safetensors").write_bytes(raw)
    (model / "config.json").write_text('{"hidden_size": 128}')
    (model / "sub" / "tokenizer.txt").write_text("a b c\n" * 100)
    (model / "empty.txt").write_bytes(b"")
    out = tmp_path / "model_dir.arz"
    _compress(model, out)
    back = tmp_path / "restored"
    extract(str(out), str(back))
    for name in ("model.safetensors", "config.json", "sub/tokenizer.txt", "empty.txt"):
        assert (back / name).read_bytes() == (model / name).read_bytes()
    assert "embed.weight" in load(str(out))


def test_delta_against_base(checkpoint, tmp_path):
    path, raw, tensors = checkpoint
    tuned = dict(tensors)
    weight = tensors["layer.0.weight"][1].copy()
    weight[:4] += 1e-3  # a fine-tune touches a few rows
    tuned["layer.0.weight"] = ("F32", weight)
    tuned_path = tmp_path / "tuned.safetensors"
    tuned_raw = write_safetensors(tuned_path, tuned)
    plain = _compress(tuned_path, tmp_path / "plain.arz")
    delta = _compress(tuned_path, tmp_path / "delta.arz", base=str(path))
    assert delta.frames_by_kind.get("delta", 0) >= 3
    assert delta.compressed_bytes < plain.compressed_bytes / 3
    assert arzip.decompress((tmp_path / "delta.arz").read_bytes()) == tuned_raw
    moved = tmp_path / "moved.safetensors"
    path.rename(moved)
    with pytest.raises(ModelError):
        arzip.decompress((tmp_path / "delta.arz").read_bytes())
    assert arzip.decompress((tmp_path / "delta.arz").read_bytes(), model=str(moved)) == tuned_raw
    wrong = tmp_path / "wrong.safetensors"
    write_safetensors(wrong, {"layer.0.weight": ("F32", weight)})
    with pytest.raises(ModelError, match="hash differs"):
        arzip.decompress((tmp_path / "delta.arz").read_bytes(), model=str(wrong))


def run(*argv):
    out, err = io.BytesIO(), io.StringIO()
    status = main(list(argv), Streams(io.BytesIO(), out, err))
    return status, out.getvalue(), err.getvalue()


def test_cli_compress_info_decompress(checkpoint, tmp_path):
    path, raw, _ = checkpoint
    status, _, err = run("weights", "compress", "-v", str(path))
    assert status == 0 and "saved" in err
    packed = str(path) + ".arz"
    status, out, _ = run("weights", "info", packed)
    assert status == 0 and b"embed.weight" in out and b"bits/w" in out
    info = json.loads(run("weights", "info", "--json", packed)[1])
    assert {row["tensor"] for row in info["tensors"]} >= {"layer.0.weight", "fp8.weight"}
    assert run("weights", "compress", str(path))[0] == ExitCode.ERROR  # exists, no -f
    path.unlink()
    assert run("weights", "decompress", packed)[0] == 0
    assert path.read_bytes() == raw
    assert run("test", packed)[0] == 0


@pytest.mark.parametrize(
    "content",
    [b"", b"short", struct.pack("<Q", 10**12) + b"{}", struct.pack("<Q", 4) + b"nope", struct.pack("<Q", 2) + b"{}xx"],
)
def test_bad_input_files_get_one_line_and_nothing_written(tmp_path, content):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(content)
    status, _, err = run("weights", "compress", str(bad))
    assert status != 0 and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "bad.safetensors.arz").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["bad.safetensors"]


def test_truncated_and_corrupt_archives(checkpoint, tmp_path):
    path, _, _ = checkpoint
    out = tmp_path / "m.arz"
    _compress(path, out)
    blob = out.read_bytes()
    for cut in (10, len(blob) // 2, len(blob) - 3):
        with pytest.raises(ArzipError):
            arzip.decompress(blob[:cut])
    rng = np.random.default_rng(0)
    for number, position in enumerate(rng.integers(0, len(blob), 40)):
        damaged = bytearray(blob)
        damaged[position] ^= 0x5A
        try:  # one thread, or two (frames parsed while others decode)
            result = arzip.decompress(bytes(damaged), threads=1 + number % 2)
        except ArzipError:
            continue
        assert result == arzip.decompress(blob)
    (tmp_path / "x.arz").write_bytes(arzip.compress(b"not weights", "zlib"))
    with pytest.raises(FormatError, match="not a weights archive"):
        load(str(tmp_path / "x.arz"))


def test_decodes_identically_with_another_cpus_machine_code(checkpoint, tmp_path):
    import os
    import subprocess
    import sys

    path, raw, _ = checkpoint
    out = tmp_path / "m.arz"
    _compress(path, out, threads=2)
    env = dict(os.environ, NUMBA_CPU_NAME="generic", NUMBA_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join([str(p) for p in sys.path if p])
    code = "import sys, arzip; sys.stdout.buffer.write(arzip.decompress(open(sys.argv[1], 'rb').read()))"
    done = subprocess.run([sys.executable, "-c", code, str(out)], env=env, capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout == raw


def test_archive_decodes_in_place_at_odd_offsets(checkpoint, tmp_path, monkeypatch):
    """Tensors that start at odd offsets of the file decode straight into the returned
    bytes or through a copy, with the same result."""
    from arzip import stream

    monkeypatch.setattr(stream, "IN_PLACE_MIN_BYTES", 1)
    path, raw, tensors = checkpoint
    text_length = struct.unpack("<Q", raw[:8])[0]
    odd = struct.pack("<Q", text_length + 1) + raw[8 : 8 + text_length] + b" " + raw[8 + text_length :]
    odd_path = tmp_path / "odd.safetensors"
    odd_path.write_bytes(odd)
    for source, content in ((path, raw), (odd_path, odd)):
        out = tmp_path / (source.name + ".arz")
        _compress(source, out, threads=2)
        assert arzip.decompress(out.read_bytes(), threads=2) == content
        assert arzip.decompress(out.read_bytes(), threads=1) == content
