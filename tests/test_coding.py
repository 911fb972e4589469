"""The entropy coders: exact round trips, pinned bitstreams, and overhead against the ideal."""

from __future__ import annotations

import numpy as np
import pytest

from arzip.coding.binary import decode_bits, encode_bits
from arzip.coding.frequencies import cumulative, frequency_table
from arzip.coding.range import decode_static, encode_static

# ---------------------------------------------------------------- binary coder


def _golden_bits():
    bits = np.array([(i * 7919 >> 3) & 1 for i in range(64)], dtype=np.uint8)
    probs = np.array([(i * 40503) % 65535 + 1 for i in range(64)], dtype=np.int64)
    return bits, probs


def test_binary_golden_bitstream():
    bits, probs = _golden_bits()
    payload = encode_bits(bits, probs, 64)
    assert payload.tobytes().hex() == "004ccd3f9b8262259a2fd2"
    assert np.array_equal(decode_bits(payload, probs), bits)


def test_binary_overhead_under_a_thousandth_on_a_megabyte():
    rng = np.random.default_rng(7)
    n = 8 << 20  # 1 MB of bits
    probs = rng.integers(1, 65536, n).astype(np.int64)
    bits = (rng.integers(0, 65536, n) < probs).astype(np.uint8)
    payload = encode_bits(bits, probs, n // 4)
    p_coded = np.where(bits == 1, probs, 65536 - probs) / 65536
    ideal_bytes = -np.log2(p_coded).sum() / 8
    assert len(payload) < ideal_bytes * 1.001
    assert np.array_equal(decode_bits(payload, probs), bits)


@pytest.mark.parametrize("p1", [1, 100, 32768, 65000, 65535])
def test_binary_extreme_probabilities_round_trip(p1):
    rng = np.random.default_rng(p1)
    bits = rng.integers(0, 2, 5000).astype(np.uint8)
    probs = np.full(5000, p1, dtype=np.int64)
    payload = encode_bits(bits, probs, 20000)
    assert np.array_equal(decode_bits(payload, probs), bits)


def test_binary_overflow_is_reported_not_written_past():
    bits = np.ones(1000, dtype=np.uint8)
    probs = np.full(1000, 1, dtype=np.int64)  # every bit costs 16 bits
    assert encode_bits(bits, probs, 10).shape[0] == 0


# ---------------------------------------------------------------- range coder


def test_range_golden_bitstream():
    freqs = frequency_table(np.array([5, 1, 0, 9, 3, 100, 7, 2]), 16)
    symbols = np.array([(i * 31) % 8 for i in range(40)], dtype=np.int64)
    payload = encode_static(symbols, cumulative(freqs), 100)
    assert payload.tobytes().hex() == "0a11a6184234bf557fc0885ab949c8e928b7d887b0f2f8cfb03b3df5fe"
    assert np.array_equal(decode_static(payload, cumulative(freqs), 40), symbols)


@pytest.mark.parametrize(
    ("alphabet", "total_bits"),
    [(2, 16), (256, 16), (256, 24), (65536, 24), (262144, 24), (262144, 30)],
)
def test_range_overhead_under_a_thousandth_on_a_megabyte(alphabet, total_bits):
    rng = np.random.default_rng(alphabet + total_bits)
    probs = rng.dirichlet(np.full(alphabet, 0.3))
    n = 1 << 20
    symbols = rng.choice(alphabet, size=n, p=probs).astype(np.int64)
    freqs = frequency_table(np.floor(probs * 2**31).astype(np.int64), total_bits)
    table = cumulative(freqs)
    payload = encode_static(symbols, table, 4 * n + 64)
    ideal_bytes = -np.log2(freqs[symbols] / 2**total_bits).sum() / 8
    assert len(payload) < ideal_bytes * 1.001 + 8
    assert np.array_equal(decode_static(payload, table, n), symbols)


def test_range_carry_propagation_round_trips():
    # A symbol that takes almost the whole range, repeated, drives low towards runs of 0xFF.
    freqs = np.array([(1 << 24) - 1, 1], dtype=np.int64)
    table = cumulative(freqs)
    symbols = np.array([0] * 5000 + [1] + [0] * 5000 + [1, 1, 0], dtype=np.int64)
    payload = encode_static(symbols, table, 1000)
    assert np.array_equal(decode_static(payload, table, symbols.shape[0]), symbols)


def test_range_corrupt_payload_decodes_without_hanging():
    freqs = frequency_table(np.arange(1, 257), 16)
    table = cumulative(freqs)
    garbage = np.frombuffer(bytes(range(200, 256)) * 3, dtype=np.uint8)
    out = decode_static(garbage, table, 10000)
    assert out.min() >= 0 and out.max() < 256


# ---------------------------------------------------------------- frequency tables


def test_frequency_table_golden():
    assert frequency_table(np.array([5, 1, 0, 9, 3, 100, 7, 2]), 16).tolist() == [
        2580, 516, 1, 4644, 1548, 51603, 3612, 1032,
    ]


def test_integer_softmax_golden():
    freqs = frequency_table(np.array([0, -256, -512, -3000, 100, 100]), 12, log2_scores=True)
    assert freqs.tolist() == [936, 468, 234, 1, 1230, 1227]
    # one bit less of score is half the frequency, give or take rounding
    assert abs(freqs[0] - 2 * freqs[1]) <= 1


def test_written_out_exp2_table_is_the_exact_one():
    from decimal import getcontext

    from arzip.coding.frequencies import EXP2_FRACTION, exp2_fraction_reference

    precision = getcontext().prec
    assert np.array_equal(EXP2_FRACTION, exp2_fraction_reference())
    assert getcontext().prec == precision  # the caller's decimal context is left alone


@pytest.mark.parametrize("alphabet", [2, 3, 256, 50257, 262144])
def test_frequency_table_sums_exactly_and_keeps_every_symbol(alphabet):
    rng = np.random.default_rng(alphabet)
    weights = rng.integers(0, 2**32 - 1, alphabet) * (rng.random(alphabet) < 0.1)
    for total_bits in (18, 24, 30):
        freqs = frequency_table(weights, total_bits)
        assert freqs.sum() == 1 << total_bits
        assert freqs.min() >= 1


def test_frequency_table_all_zero_weights_is_uniform():
    freqs = frequency_table(np.zeros(10, dtype=np.int64), 16)
    assert freqs.sum() == 1 << 16 and freqs.max() - freqs.min() <= 6


def test_frequency_table_rejects_bad_requests():
    with pytest.raises(ValueError):
        frequency_table(np.array([1, 2, 3]), 1)
    with pytest.raises(ValueError):
        frequency_table(np.array([-1, 2]), 16)
    with pytest.raises(ValueError):
        frequency_table(np.array([1, 2]), 31)


# ---------------------------------------------------------------- static rANS


def test_rans_golden_bitstream_and_round_trip():
    import hashlib

    from arzip.coding import rans

    symbols = np.array([(i * i * 7 + 3) % 13 for i in range(1000)], dtype=np.uint16)
    freqs = frequency_table(np.bincount(symbols, minlength=13), 16)
    starts = rans.starts_of(freqs)
    words = rans.encode(symbols, rans.encoder_table(freqs, starts))
    digest = hashlib.sha256(words.astype("<u4").tobytes()).hexdigest()
    assert (digest, words.shape[0]) == ("fc7bbc937ecf823efe912aaef6103c65f3f893277a05379088f14b1552e0865e", 104)
    assert np.array_equal(rans.decode(words, 1000, rans.slot_table(freqs, starts)), symbols)


def test_rans_payload_layout_and_corrupt_lanes():
    from arzip.coding import rans

    symbols = np.arange(20, dtype=np.uint32) % 3
    freqs = np.array([30000, 20000, 15536], dtype=np.int64)
    starts = rans.starts_of(freqs)
    words = rans.encode(symbols, rans.encoder_table(freqs, starts))
    lengths = words[: rans.LANES]
    assert words.shape[0] == rans.LANES + int(lengths.sum()) and lengths.min() >= 2
    assert rans.lanes_valid(words)
    table = rans.slot_table(freqs, starts)
    assert np.array_equal(rans.decode(words, 20, table), symbols)
    bad = words.copy()
    bad[3] += 1  # a lane length that no longer fits the payload
    assert not rans.lanes_valid(bad)
    with pytest.raises(ValueError):
        rans.decode(bad, 20, table)
    # garbage words of a valid shape decode to garbage without reading outside them
    noise = words.copy()
    noise[rans.LANES :] = np.random.default_rng(0).integers(0, 2**32, noise.shape[0] - rans.LANES, dtype=np.uint32)
    assert rans.decode(noise, 20, table).shape == (20,)


def _wide_table(freqs):
    from arzip.coding import rans_wide

    used = np.flatnonzero(freqs)
    scale_bits = int(freqs.sum()).bit_length() - 1
    return rans_wide.packed_slots(used, freqs[used], scale_bits)


def test_rans_wide_golden_bitstream_and_round_trip():
    import hashlib

    from arzip.coding import rans, rans_wide

    symbols = np.array([(i * i * 7 + 3) % 13 for i in range(1000)], dtype=np.uint16)
    freqs = frequency_table(np.bincount(symbols, minlength=13), 16)
    words = rans_wide.encode(symbols, rans.encoder_table(freqs))
    digest = hashlib.sha256(words.astype("<u4").tobytes()).hexdigest()
    assert (digest, words.shape[0]) == ("f37f1c56bc51e852ead78dc95fea84c0b627c8555593bb76a655eb87b6cb8f53", 132)
    assert np.array_equal(rans_wide.decode(words, 1000, _wide_table(freqs)), symbols)


@pytest.mark.parametrize("count", [0, 1, 31, 32, 33, 1000, 4096 + 7, 100_003])
def test_rans_wide_round_trips_any_count_block_by_block(count):
    # the vector rounds run while every group's words last, scalar rounds after: blocks of
    # any multiple of 32 continue where the last one stopped, a payload's last 0-31 symbols
    # take no step
    from arzip.coding import rans, rans_wide

    rng = np.random.default_rng(count)
    symbols = np.minimum(rng.geometric(0.02, count) - 1, 999).astype(np.uint32)
    counts = np.bincount(symbols, minlength=1000) + 1
    freqs = frequency_table(counts, 15)
    words = rans_wide.encode(symbols, rans.encoder_table(freqs), 0, 15)
    assert rans_wide.lanes_valid(words)
    table = _wide_table(freqs)
    assert np.array_equal(rans_wide.decode(words, count, table), symbols)
    state, out = rans_wide.decoder_state(words), np.zeros(count, dtype=np.uint32)
    for start in range(0, count, 96):
        block = out[start : start + 96]
        rans_wide.decode_block(words, state, table, block, block.shape[0])
    assert np.array_equal(out, symbols)


def test_rans_wide_payload_layout_and_corrupt_groups():
    from arzip.coding import rans, rans_wide

    symbols = np.arange(200, dtype=np.uint32) % 3
    freqs = np.array([30000, 20000, 15536], dtype=np.int64)
    words = rans_wide.encode(symbols, rans.encoder_table(freqs))
    lengths = words[: rans_wide.GROUPS]
    assert words.shape[0] == rans_wide.GROUPS + int(lengths.sum()) and lengths.min() >= rans_wide.STATE_WORDS
    table = _wide_table(freqs)
    assert np.array_equal(rans_wide.decode(words, 200, table), symbols)
    bad = words.copy()
    bad[1] += 1  # a group length that no longer fits the payload
    assert not rans_wide.lanes_valid(bad)
    with pytest.raises(ValueError):
        rans_wide.decode(bad, 200, table)
    # garbage words of a valid shape decode to garbage without reading outside them
    noise = words.copy()
    noise[rans_wide.GROUPS :] = np.random.default_rng(0).integers(0, 2**32, noise.shape[0] - rans_wide.GROUPS, dtype=np.uint32)
    assert rans_wide.decode(noise, 200, table).shape == (200,)


@pytest.mark.parametrize(("alphabet", "p"), [(2, 0.5), (300, 0.05), (65536, 0.0005)])
def test_rans_overhead_under_a_thousandth(alphabet, p):
    from arzip.coding import rans, rans_wide

    rng = np.random.default_rng(alphabet)
    symbols = np.minimum(rng.geometric(p, 1 << 18) - 1, alphabet - 1).astype(np.uint16)
    counts = np.bincount(symbols, minlength=alphabet)
    used = np.flatnonzero(counts)
    freqs = np.zeros(alphabet, dtype=np.int64)
    freqs[used] = frequency_table(counts[used], 16)
    starts = rans.starts_of(freqs)
    words = rans.encode(symbols, rans.encoder_table(freqs, starts))
    ideal_bytes = -np.log2(freqs[symbols] / 2**16).sum() / 8
    assert 4 * words.shape[0] < ideal_bytes * 1.001 + 64
    assert np.array_equal(rans.decode(words, symbols.shape[0], rans.slot_table(freqs, starts)), symbols)
    wide = rans_wide.encode(symbols, rans.encoder_table(freqs, starts))
    assert 4 * wide.shape[0] < ideal_bytes * 1.001 + 256
    assert np.array_equal(rans_wide.decode(wide, symbols.shape[0], _wide_table(freqs)), symbols)
