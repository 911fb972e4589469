"""Splitting numbers into a modelled head and raw tail planes, and joining them back.

What it does: a value of W bits (a bf16, fp16, fp32, fp64 or fp8 weight) is cut
into its top K bits, the *head* (sign, exponent and the first mantissa bits: the
part with low entropy), and W - K tail bits (the low mantissa: near random). The
tail is stored as byte planes (plane j holds bits 8j..8j+7 of every value) and,
when W - K is not a multiple of 8, one nibble plane (two values a byte) above them:
the grouping by significance that ZipNN calls byte grouping. ``choose_layout``
picks K for a tensor from its histogram (the smallest estimated size), or the
exponent-pair layout of ``pairs``.
The join of the common tails (fp32 with 12- or 16-bit heads, 16-bit values with 8- or
12-bit heads) takes sixteen values a step in LLVM vector code (``arzip.vector``).
What it does not do: entropy coding (``arzip.coding.rans_wide``, ``arzip.coding.rans``).
"""

from __future__ import annotations

import threading
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types, uint64
from numba.extending import intrinsic

from .. import vector as v
from ..coding import rans, rans_wide
from ..jit import njit

TABLE_BYTES_PER_SYMBOL = 1.6  # measured size of a stored table entry, for choosing K
# a stored entry of a pair table: 0.55-1.3 bytes on the MiniLM casts (gaps of a few symbols, small
# frequencies: zstd packs them tighter than a top-K table's)
PAIR_TABLE_BYTES_PER_SYMBOL = 1.0


def tail_layout(width_bits: int, head_bits: int) -> tuple[int, bool]:
    """(number of byte planes, whether a nibble plane sits above them)."""
    tail_bits = width_bits - head_bits
    if tail_bits < 0 or tail_bits % 4:
        raise ValueError("the tail must be a whole number of nibbles")
    return tail_bits // 8, bool(tail_bits % 8)


def head_bits_choices(width_bits: int) -> list[int]:
    """Head widths the codec may use: at most 16 bits, tails in whole nibbles."""
    return [k for k in (8, 12, 16) if k <= width_bits and (width_bits - k) % 4 == 0]


def _entropy_and_used(counts: np.ndarray) -> tuple[float, int]:
    """(bits to code the symbols of the histogram at their own frequencies, N log2 N -
    sum(c log2 c); the symbols that occur). An estimate for the encoder's choices, nothing
    the decoder computes. Histograms of up to 2**12 bins in one compiled loop (a few
    microseconds: numpy's steps take ten times that); larger ones, with tens of thousands
    of bins used, by numpy's vector log2 (a scalar loop takes 0.4 ms)."""
    if counts.shape[0] <= 1 << 12:
        bits, used = _small_entropy_and_used(counts)
        return bits, int(used)
    used_counts = counts[counts > 0].astype(np.float64)
    if used_counts.shape[0] == 0:
        return 0.0, 0
    total = float(used_counts.sum())
    # a product and a sum, not a dot: numpy's dot is BLAS, whose threads then spin on a core
    return total * np.log2(total) - float((used_counts * np.log2(used_counts)).sum()), used_counts.shape[0]


@njit(cache=True)
def _small_entropy_and_used(counts: np.ndarray) -> tuple:
    """:func:`_entropy_and_used` in a scalar loop. Keeps the GIL: less than a hand-off costs."""
    total = 0
    weighted = 0.0
    used = 0
    for i in range(counts.shape[0]):
        c = counts[i]
        if c > 0:
            total += c
            used += 1
            weighted += c * np.log2(np.float64(c))
    if total == 0:
        return 0.0, 0
    return total * np.log2(np.float64(total)) - weighted, used


@njit(cache=True, nogil=True)
def top_histogram(values: np.ndarray, width_bits: int, top_bits: int = 16) -> np.ndarray:
    """Counts of the top min(top_bits, width) bits of each value: the histogram of every
    head width up to that."""
    top_bits = min(top_bits, width_bits)
    counts = np.zeros(1 << top_bits, dtype=np.int64)
    shift = width_bits - top_bits
    for i in range(values.shape[0]):
        counts[np.int64(values[i] >> shift)] += 1
    return counts


SAMPLE_BLOCKS, SAMPLE_BLOCK_VALUES = 16, 4096


class SampleStatistics(NamedTuple):
    """What a sample of 16-bit or wider values says (:func:`sample_statistics`)."""

    may_pay: bool  # whether 16-bit heads might beat 12-bit heads with four raw bits
    top12: np.ndarray  # the sample's histogram of the top 12 bits
    taken: int  # the values sampled
    low_bits: float  # H(the four bits below the top 12 | the top 12), bits a value
    added_symbols: int  # the 16-bit heads in the sample less the 12-bit ones

    def sixteen_bit_cost(self, top12_cost: float, count: int) -> float:
        """An estimate, erring low, of the bytes of ``count`` values with 16-bit heads, from
        the estimated bytes of their 12-bit layout: four raw bits a value fewer, the
        conditional entropy of those bits and the table entries the sample adds more."""
        return top12_cost - (4 - self.low_bits) * count / 8 + TABLE_BYTES_PER_SYMBOL * self.added_symbols


def sixteen_bit_heads_may_pay(values: np.ndarray, width_bits: int) -> bool:
    """Whether 16-bit heads might beat 12-bit heads with four raw bits, on a sample (see
    :func:`sample_statistics`). Only then does the encoder count the top 16 bits of every
    value (a 2**16-bin histogram costs a small tensor more than its coding). On real
    weights those bits are noise."""
    return sample_statistics(values, width_bits).may_pay


def sample_statistics(values: np.ndarray, width_bits: int) -> SampleStatistics:
    """From a sample of 16-bit or wider values (16 blocks of 4096 spread over the tensor):
    whether 16-bit heads may pay: whether the bits they would save, the four below the
    top 12 given the top 12 (an estimate that errs low), outweigh the table entries they
    would add (counted in the sample: fewer than in the tensor); and the figures behind it."""
    top12 = np.zeros(1 << 12, dtype=np.int64)
    low_bits, used16, used12, taken = _conditional_low_bits(values, width_bits, _sample_space(), top12)
    may_pay = (4 - low_bits) * values.shape[0] / 8 > TABLE_BYTES_PER_SYMBOL * (used16 - used12)
    return SampleStatistics(bool(may_pay), top12, int(taken), float(low_bits), int(used16 - used12))


_LOCAL = threading.local()


def _sample_space() -> np.ndarray:
    """This thread's working space for the sample: 2**16 counts, then 2**12 contexts seen."""
    space = getattr(_LOCAL, "counts", None)
    if space is None:
        space = _LOCAL.counts = np.zeros((1 << 16) + (1 << 12), dtype=np.int32)
    return space


@njit(cache=True, nogil=True)
def _conditional_low_bits(values: np.ndarray, width_bits: int, space: np.ndarray, top12: np.ndarray) -> tuple:
    """(H(bits 12..15 from the top | the top 12) in bits a value, estimated on the sample
    with the Miller-Madow correction; the top-16 and top-12 values that occur in it; the
    values sampled), and the sample's top-12 histogram into ``top12``. ``space``:
    :func:`_sample_space`, left zeroed."""
    n = values.shape[0]
    block = min(SAMPLE_BLOCK_VALUES, max(n // SAMPLE_BLOCKS, 1))
    blocks = SAMPLE_BLOCKS if n > block else 1
    shift = width_bits - 16
    counts, seen = space[: 1 << 16], space[1 << 16 :]
    taken = 0
    for k in range(blocks):
        start = (n - block) * k // max(blocks - 1, 1) if blocks > 1 else 0
        for i in range(start, min(start + block, n)):
            top = np.int64(values[i] >> shift)
            seen[top >> 4] = 1
            counts[top] += 1
            taken += 1
    joint = 0.0
    marginal = 0.0
    used16 = 0
    used12 = 0
    unseen = 0.0  # Miller-Madow: a plug-in estimate misses (bins used - 1) / (2 ln 2) bits a context
    for high in range(1 << 12):
        if seen[high] == 0:
            continue
        seen[high] = 0
        total = 0
        used = 0
        for low in range(16):
            c = counts[(high << 4) | low]
            if c > 0:
                total += c
                used += 1
                joint += c * np.log2(np.float64(c))
                counts[(high << 4) | low] = 0
        top12[high] = total
        marginal += total * np.log2(np.float64(total))
        unseen += (used - 1) / (2 * np.log(2.0))
        used16 += used
        used12 += 1
    return (marginal - joint + unseen) / max(taken, 1), used16, used12, taken


def head_histogram(top: np.ndarray, head_bits: int) -> np.ndarray:
    """The histogram of K-bit heads, from the top-bits histogram (itself when K is all
    of the top bits)."""
    if top.shape[0] == 1 << head_bits:
        return top
    return _fold(top, top.shape[0].bit_length() - 1 - head_bits)


@njit(cache=True)  # keeps the GIL: a hand-off to another thread costs more than the call
def _fold(counts: np.ndarray, low_bits: int) -> np.ndarray:
    """The histogram of the symbols with their ``low_bits`` lowest bits dropped."""
    out = np.zeros(counts.shape[0] >> low_bits, dtype=np.int64)
    width = 1 << low_bits
    for j in range(out.shape[0]):  # a sum a bin (no store waits on the one before)
        total = 0
        for i in range(j * width, (j + 1) * width):
            total += counts[i]
        out[j] = total
    return out


def _head_cost(top: np.ndarray, count: int, width_bits: int, head_bits: int) -> float:
    """Estimated bytes of a top-K layout: entropy of the heads + table + raw tail."""
    counts = head_histogram(top, head_bits)
    entropy_bits, used = _entropy_and_used(counts)
    cost = entropy_bits / 8 + used * TABLE_BYTES_PER_SYMBOL
    return cost + count * (width_bits - head_bits) / 8


def choose_layout(top: np.ndarray, count: int, width_bits: int, sixteen_bits: SampleStatistics | None = None) -> int:
    """The frame's layout byte: the head width K of the smallest top-K layout, or, for
    16-bit values, the cheaper exponent-pair layout of ``pairs`` (bfloat16 or float16;
    decodes about twice as fast) when its estimated size is within its kind's slack of it and
    the values have few enough heads for it (``pairs.MAX_HEADS``). ``top``: a histogram of
    the top 16 bits, or of the top 12 (then 16-bit heads are no candidate, unless
    ``sixteen_bits`` gives an estimate of their cost; choosing them then needs a histogram
    of 16 bits: the layout returned is 16 all the same)."""
    # the histogram of the top 12 bits, made once, serves every narrower head (one pass
    # over the 2**16 counts, not one a width)
    folded = head_histogram(top, 12) if top.shape[0] > 1 << 12 else top
    head_costs = {
        k: _head_cost(top if 1 << k > folded.shape[0] else folded, count, width_bits, k)
        for k in head_bits_choices(width_bits)
        if 1 << k <= top.shape[0]  # a histogram of the top 12 bits: no 16-bit heads
    }
    if sixteen_bits is not None and 16 not in head_costs and 12 in head_costs:
        head_costs[16] = sixteen_bits.sixteen_bit_cost(head_costs[12], count)
    head_bits = min(head_costs, key=head_costs.__getitem__)
    if width_bits != 16 or count < 2:
        return head_bits
    from . import pairs

    costs = {}
    for kind in pairs.KINDS.values():
        heads = kind.head_counts(folded)
        entropy_bits, used = _entropy_and_used(heads)
        if used > pairs.MAX_HEADS:
            continue  # not weights of the kind (float16's bits 6..14 are exponent and mantissa both)
        # two heads a symbol: about twice the entropy of one, over half as many symbols
        coded = entropy_bits / 8 + kind.tail_bytes(count)

        def cost(pairs_used: float, coded: float = coded, slack: float = kind.slack) -> float:
            return (coded + pairs_used * PAIR_TABLE_BYTES_PER_SYMBOL) / (1 + slack)

        cost_bound = cost(min(used * used, count // 2))  # every pair of heads in the table
        if cost_bound > head_costs[head_bits] and cost(used) <= head_costs[head_bits]:
            # a close call: the table's pairs as many as neighbours of independent heads make
            # (within 1% of the count on real weights), not every pair of heads
            cost_bound = cost(min(_expected_pairs(heads, count // 2), count // 2))
        costs[kind.layout] = cost_bound
    if costs:
        layout = min(costs, key=costs.__getitem__)
        if costs[layout] <= head_costs[head_bits]:
            return layout
    return head_bits


@njit(cache=True)
def _expected_pairs(heads: np.ndarray, pairs: int) -> float:
    """The distinct pairs expected among ``pairs`` pairs of heads drawn independently from
    the histogram ``heads``: the sum over pairs of heads (a, b) of 1 - exp(-pairs p_a p_b).
    (At most 2**14 terms; run only for close calls.)"""
    total = 0
    for c in heads:
        total += c
    if total == 0:
        return 0.0
    expected = 0.0
    for a in range(heads.shape[0]):
        if heads[a] == 0:
            continue
        scale = pairs * (heads[a] / total) / total
        for b in range(heads.shape[0]):
            if heads[b] > 0:
                expected -= np.expm1(-scale * heads[b])
    return expected


@njit(cache=True, nogil=True)
def join_tails(
    out: np.ndarray, first: int, count: int, heads: np.ndarray, shift: int, planes: np.ndarray, nibble_plane: np.ndarray
) -> None:
    """out[first+k] = heads[k] << shift | the tail bits of value first+k, for k < count:
    any number of byte planes.

    ``planes`` is one flat array with the byte planes of the whole tensor back to back
    (plane j at [j*n, (j+1)*n)); ``nibble_plane`` covers the whole tensor too.
    """
    n = out.shape[0]
    byte_planes = planes.shape[0] // n if n else 0
    nibble_shift = 8 * byte_planes
    has_nibbles = nibble_plane.shape[0] > 0
    for k in range(count):
        i = first + k
        value = np.int64(heads[k]) << shift
        if has_nibbles:
            value |= ((np.int64(nibble_plane[i >> 1]) >> (4 * (i & 1))) & 0xF) << nibble_shift
        for j in range(byte_planes):
            value |= np.int64(planes[j * n + i]) << (8 * j)
        out[i] = value


@njit(cache=True, nogil=True)
def join_near(
    out: np.ndarray,
    first: int,
    count: int,
    heads: np.ndarray,
    shift: int,
    low: np.ndarray,
    high: np.ndarray,
    byte_planes: int,
    nibble_plane: np.ndarray,
) -> None:
    """:func:`join_tails` for tails of at most two byte planes (``low``, ``high``) and a
    nibble plane: the common layouts (fp32, bf16, fp16). ``first`` is even: two values
    a step share a nibble byte. Unsigned indices, so numba drops its negative-index
    checks."""
    one, b4, b8 = uint64(1), uint64(4), uint64(8)
    head_shift, nibble_mask = uint64(shift), uint64(0xF)
    nibbles = nibble_plane.shape[0] > 0
    nibble_shift = uint64(8 * byte_planes)
    base = uint64(first)
    for p in range(count // 2):
        k = uint64(2 * p)
        i = base + k
        t0 = t1 = uint64(0)
        if byte_planes == 2:
            t0 = uint64(low[i]) | (uint64(high[i]) << b8)
            t1 = uint64(low[i + one]) | (uint64(high[i + one]) << b8)
        elif byte_planes == 1:
            t0, t1 = uint64(low[i]), uint64(low[i + one])
        if nibbles:
            nibble = uint64(nibble_plane[i >> one])
            t0 |= (nibble & nibble_mask) << nibble_shift
            t1 |= (nibble >> b4) << nibble_shift
        out[i] = (uint64(heads[k]) << head_shift) | t0
        out[i + one] = (uint64(heads[k + one]) << head_shift) | t1
    if count & 1:  # the tensor's last value
        k = count - 1
        i = first + k
        value = np.int64(heads[k]) << shift
        if byte_planes >= 1:
            value |= np.int64(low[i])
        if byte_planes == 2:
            value |= np.int64(high[i]) << 8
        if nibbles:
            value |= (np.int64(nibble_plane[i >> 1]) & 0xF) << (8 * byte_planes)
        out[i] = value


VECTOR_VALUES = 16  # values a step of the vector join takes


def _join_codegen(byte_planes: int, nibbles: bool):
    """The code generator of a vector :func:`join_near` for one tail layout: ``groups``
    steps of sixteen values, out[first + 16q ...] = heads[16q ...] << shift | the tails."""

    def codegen(context, builder, sig, args):
        out_ptr, heads_ptr, low_ptr, high_ptr, nibble_ptr = (
            context.make_array(t)(context, builder, a).data for t, a in zip(sig.args[:5], args[:5])
        )
        first, groups, shift = args[5], args[6], args[7]
        value_type = ir.IntType(sig.args[0].dtype.bitwidth)
        lanes = v.vector(value_type, VECTOR_VALUES)
        shift_vector = v.splat(builder, builder.trunc(shift, value_type), VECTOR_VALUES)

        def step(b, q):
            k = b.mul(q, ir.Constant(v.I64, VECTOR_VALUES))
            i = b.add(first, k)
            heads = v.load(b, v.element(b, heads_ptr, k, v.I32), v.I32, VECTOR_VALUES, align=4)
            heads = b.zext(heads, lanes) if value_type.width > 32 else b.trunc(heads, lanes) if value_type.width < 32 else heads
            value = b.shl(heads, shift_vector)
            for plane, pointer in enumerate((low_ptr, high_ptr)[:byte_planes]):
                plane_bytes = b.zext(v.load(b, v.element(b, pointer, i, v.I8), v.I8, VECTOR_VALUES), lanes)
                value = b.or_(value, b.shl(plane_bytes, v.constant(8 * plane, value_type, VECTOR_VALUES)))
            if nibbles:
                pairs = v.load(b, v.element(b, nibble_ptr, b.lshr(i, ir.Constant(v.I64, 1)), v.I8), v.I8, VECTOR_VALUES // 2)
                spread = b.zext(v.shuffle(b, pairs, None, [j // 2 for j in range(VECTOR_VALUES)]), lanes)
                nibble = b.and_(b.lshr(spread, v.constant([4 * (j & 1) for j in range(VECTOR_VALUES)], value_type)),
                                v.constant(0xF, value_type, VECTOR_VALUES))
                value = b.or_(value, b.shl(nibble, v.constant(8 * byte_planes, value_type, VECTOR_VALUES)))
            v.store(b, value, v.element(b, out_ptr, i, value_type), align=1)

        v.counted_loop(builder, groups, step, "planes.join")
        return context.get_dummy_value()

    return codegen


def _join_intrinsic(byte_planes: int, nibbles: bool):
    def typer(typingctx, out, heads, low, high, nibble_plane, first, groups, shift):  # noqa: ANN001
        return types.void(out, heads, low, high, nibble_plane, first, groups, shift), _join_codegen(byte_planes, nibbles)

    return intrinsic(typer)


# the common tails: fp32 with 12- or 16-bit heads, 16-bit values with 8- or 12-bit heads
_join_two_planes_nibbles = _join_intrinsic(2, True)
_join_two_planes = _join_intrinsic(2, False)
_join_one_plane = _join_intrinsic(1, False)
_join_nibbles = _join_intrinsic(0, True)


@njit(cache=True, nogil=True, inline="always")
def _join_block(out, first, count, heads, shift, low, high, byte_planes, nibble_plane) -> None:
    """:func:`join_near`, sixteen values a vector step for the common tails."""
    nibbles = nibble_plane.shape[0] > 0
    groups = count // VECTOR_VALUES
    start, n, i64 = np.int64(first), np.int64(groups), np.int64(shift)
    if groups > 0 and byte_planes == 2 and nibbles:
        _join_two_planes_nibbles(out, heads, low, high, nibble_plane, start, n, i64)
    elif groups > 0 and byte_planes == 2:
        _join_two_planes(out, heads, low, high, nibble_plane, start, n, i64)
    elif groups > 0 and byte_planes == 1 and not nibbles:
        _join_one_plane(out, heads, low, high, nibble_plane, start, n, i64)
    elif groups > 0 and byte_planes == 0 and nibbles:
        _join_nibbles(out, heads, low, high, nibble_plane, start, n, i64)
    else:
        groups = 0
    done = VECTOR_VALUES * groups
    join_near(out, first + done, count - done, heads[done:], shift, low, high, byte_planes, nibble_plane)


BLOCK_VALUES = 4096  # heads decoded into a buffer that stays in the L1 cache (a multiple of both coders' lanes)


@njit(cache=True, nogil=True)
def decode_segment(
    words: np.ndarray,
    table: tuple,
    packed: np.ndarray,
    single: int,
    out: np.ndarray,
    first: int,
    count: int,
    shift: int,
    low: np.ndarray,
    high: np.ndarray,
    byte_planes: int,
    nibble_plane: np.ndarray,
    planes: np.ndarray,
) -> None:
    """Decode the values out[first:first+count] (``first`` even): rANS heads from
    ``words`` (``arzip.coding.rans_wide`` with its ``packed`` table when that is not
    empty, else ``arzip.coding.rans`` with ``table``; the caller has checked the coder's
    ``lanes_valid``), or the one head ``single`` when it is >= 0, block by block into an
    L1-sized buffer, each block then joined with its tails: by :func:`join_near` from
    ``low`` and ``high`` for at most two byte planes, else by :func:`join_tails` from
    the flat ``planes``."""
    heads = np.empty(BLOCK_VALUES, dtype=np.uint32)
    wide = packed.shape[0] > 0
    state = np.zeros(2 * rans.LANES, dtype=np.uint64)
    wide_state = np.zeros(rans_wide.LANES + 2 * rans_wide.GROUPS, dtype=np.int64)
    if single >= 0:
        heads[:] = single
    elif wide:
        wide_state = rans_wide.decoder_state(words)
    else:
        state = rans.decoder_state(words)
    for start in range(first, first + count, BLOCK_VALUES):
        size = min(BLOCK_VALUES, first + count - start)
        if single < 0 and wide:
            rans_wide.decode_block(words, wide_state, packed, heads, size)
        elif single < 0:
            rans.decode_block(words, state, table, heads, size)
        if byte_planes <= 2:
            _join_block(out, start, size, heads, shift, low, high, byte_planes, nibble_plane)
        else:
            join_tails(out, start, size, heads, shift, planes, nibble_plane)


@njit(cache=True, nogil=True)
def split_into(
    values: np.ndarray,
    first: int,
    count: int,
    head_bits: int,
    width_bits: int,
    planes: np.ndarray,
    nibble_plane: np.ndarray,
) -> None:
    """Split the tails of values[first:first+count] into byte planes [planes, n] and the
    nibble plane, arrays for the whole tensor (the heads are the values' top bits: the
    coder reads them from the values).

    ``first`` must be even when there is a nibble plane (two values share its bytes).
    """
    byte_planes = planes.shape[0]
    nibble_shift = 8 * byte_planes
    if byte_planes <= 2 and (nibble_plane.shape[0] == 0 or count % 2 == 0):
        # the common layouts (fp32 with 12- or 16-bit heads, 16-bit values with 8- or
        # 12-bit heads): one loop a plane, which the compiler vectorises, unsigned indices
        # so that numba drops its negative-index checks
        start, end = uint64(first), uint64(first + count)
        if byte_planes >= 1:
            for i in range(start, end):
                planes[0, i] = values[i] & 0xFF
        if byte_planes == 2:
            for i in range(start, end):
                planes[1, i] = (values[i] >> 8) & 0xFF
        if nibble_plane.shape[0] > 0:
            u_shift, b4, one, nibble_mask = uint64(nibble_shift), uint64(4), uint64(1), uint64(0xF)
            for p in range(start >> one, end >> one):
                a = uint64(values[p << one]) >> u_shift
                b = uint64(values[(p << one) + one]) >> u_shift
                nibble_plane[p] = (a & nibble_mask) | ((b & nibble_mask) << b4)
        return
    for i in range(first, first + count):
        v = values[i]
        for j in range(byte_planes):
            planes[j, i] = (v >> (8 * j)) & 0xFF
    if nibble_plane.shape[0] > 0:
        for i in range(first, first + count, 2):
            low = (values[i] >> nibble_shift) & 0xF
            high = (values[i + 1] >> nibble_shift) & 0xF if i + 1 < first + count else 0
            nibble_plane[i >> 1] = low | (high << 4)
