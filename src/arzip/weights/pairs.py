"""The exponent-pair layouts of the ``tensor`` codec: 16-bit weights at twice the decoding speed.

What it does: cuts each 16-bit value into a head, its exponent and top mantissa bits,
and a tail, the sign and the mantissa bits below; codes the heads of two neighbouring
values as one symbol, ``head_a << H | head_b``, with static rANS; and stores the
tails, near random, apart. One decoding step yields two values. Two kinds:

- bfloat16 (layout 0x88): the head is bits 6..14 (exponent, top mantissa bit; H = 9),
  the tail bit 15 and bits 0..5, packed at seven bits each (value i at bit 7i of the
  tail plane, least significant bit first);
- float16 (layout 0x89): the head is bits 8..14 (exponent, top two mantissa bits;
  H = 7), the tail the low byte (a plane of one byte a value) and the sign (a plane of
  one bit a value: value i at bit i % 8 of byte i // 8).

On real checkpoints this costs at most a few tenths of a percent of the file more
than modelling the top 12 or 16 bits together (float16: nothing measurable) and
decodes about twice as fast: half as many rANS steps, from a table of a few thousand
pair symbols. An odd last value is paired with any head (the encoder takes the
smallest that occurs), which the decoder drops.

The pair symbols of a segment are coded by ``arzip.coding.rans_wide`` (32 lanes in four
word streams; frames of earlier versions: ``arzip.coding.rans``, eight lanes), as the
heads of the top-K layouts are.
The split (values into pair ranks and tails) and the join (pair symbols and tails back
into values) take sixteen values a step in LLVM vector code (``arzip.vector``), the
last few values in scalar code; both give the bytes of the definition above on every
machine (the tests check them against numpy).
What it does not do: decide when a layout pays (``planes.choose_layout``), store
tables or frames (``tensor_codec``), or handle widths other than 16 bits.
"""

from __future__ import annotations

import sys
from typing import NamedTuple

import numpy as np
from llvmlite import ir
from numba import types, uint64
from numba.extending import intrinsic

from .. import vector as v
from ..coding import rans, rans_wide
from ..jit import njit

BLOCK_PAIRS = 2048  # pair symbols decoded into a buffer that stays in the L1 cache (a multiple of both coders' lanes)
# at most 128 heads (so at most 16,384 pairs; in weights far fewer occur, a few thousand):
# beyond that the values are not weights of the kind (float16's bits 6..14 hold mantissa bits too)
MAX_HEADS = 128
TAIL_BITS = 7  # bfloat16 tails
BF16_SHIFT = 6  # bfloat16 heads are bits 6..14 (the layouts' code tells the kinds apart by it)
# where the four 16-bit values of a uint64 word sit in it, in the machine's byte order
_LANE_SHIFT = (0, 16, 32, 48) if sys.byteorder == "little" else (48, 32, 16, 0)
_LITTLE_ENDIAN = sys.byteorder == "little"


class Kind(NamedTuple):
    """One pair layout: its layout byte and where its head sits (bits shift..14)."""

    layout: int
    shift: int
    slack: float  # chosen when its estimated size is within this fraction of the best top-K layout's

    @property
    def head_bits(self) -> int:
        return 15 - self.shift

    @property
    def symbol_bits(self) -> int:
        return 2 * self.head_bits

    def head_counts(self, top: np.ndarray) -> np.ndarray:
        """The head counts from a histogram of the values' top bits, 16 - shift of them
        or more (a value is sign << 15 | head << shift | low bits)."""
        from .planes import head_histogram

        signed = head_histogram(top, 16 - self.shift)  # sign << H | head
        return signed[: 1 << self.head_bits] + signed[1 << self.head_bits :]

    def plane_sizes(self, count: int) -> list[int]:
        """The sizes of the tail planes of ``count`` values."""
        if self.shift == BF16_SHIFT:
            return [(TAIL_BITS * count + 7) // 8]
        return [count, (count + 7) // 8]

    def tail_bytes(self, count: int) -> int:
        return sum(self.plane_sizes(count))


BF16 = Kind(0x88, BF16_SHIFT, 0.03)
# float16: 0.2-0.7% larger than top-K on real weights (its table of pairs, and the mantissa bits
# below the head go raw), so only where that is at most 0.25% of the tensor: on the MiniLM cast the
# tensors of a million values and more, 0.21-0.23% larger (the file 15.18% smaller instead of
# 15.24%), whose values decode 35% faster than from 8-bit heads; not those of 150,000 (0.6%)
FP16 = Kind(0x89, 8, 0.0025)
KINDS = {kind.layout: kind for kind in (BF16, FP16)}


@njit(cache=True, nogil=True, inline="always")
def _tail(v: int) -> int:
    """A bfloat16 value's 7-bit tail: sign << 6 | low six bits."""
    return ((v >> 9) & 0x40) | (v & 0x3F)


def dense_heads(heads: np.ndarray) -> np.ndarray:
    """For each head, its rank among the heads that occur (``heads``: the head counts):
    the encoder numbers pairs ``rank_a * W + rank_b`` over the W heads that occur, so
    that its histogram and tables have W * W entries (a few thousand, in the L1 cache)
    rather than 2**(2H)."""
    dense = np.zeros(heads.shape[0], dtype=np.int32)
    used = np.flatnonzero(heads)
    dense[used] = np.arange(used.shape[0])
    return dense


def range_heads(heads: np.ndarray) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The heads numbered by arithmetic, where that keeps at most MAX_HEADS of them: head 0
    (zeros) first when it occurs, then every head from the smallest other one that occurs
    to the largest, used or not; rank(h) = 0 for h = 0, else h - base. (The heads in rank
    order, the ranks as :func:`dense_heads` gives them, base.) The split then computes
    ranks instead of looking them up (a gather costs half its time); the pairs, and so the
    payload, are the same. None where the span is too wide, or only zeros occur.
    ``heads``: the head counts."""
    used = np.flatnonzero(heads)
    nonzero = used[used > 0]
    if nonzero.shape[0] == 0:
        return None
    return _span_ranks(int(nonzero[0]), int(nonzero[-1]), bool(heads[0] > 0), heads.shape[0])


def span_heads(values: np.ndarray, kind: Kind) -> tuple[np.ndarray, np.ndarray, int] | None:
    """:func:`range_heads` from the values themselves (their heads' span, one pass of
    minimum and maximum), with no histogram."""
    low, high, zero = _head_span(values, kind.shift, (1 << kind.head_bits) - 1)
    if high == 0:
        return None
    return _span_ranks(low, high, zero, 1 << kind.head_bits)


def _span_ranks(low: int, high: int, zero: bool, size: int) -> tuple[np.ndarray, np.ndarray, int] | None:
    order = np.concatenate([[0] if zero else [], np.arange(low, high + 1)]).astype(np.int64)
    if order.shape[0] > MAX_HEADS:
        return None
    dense = np.zeros(size, dtype=np.int32)
    dense[order] = np.arange(order.shape[0])
    return order, dense, low - int(zero)


SPAN_VALUES = 32  # values a step of the head span takes


@intrinsic
def _head_span_vectors(typingctx, values, steps, shift, mask, out):  # noqa: ANN001 - numba's signature
    """Over values[:32 * steps] (uint16): out[0] = the smallest head other than 0 (mask + 1
    if none), out[1] = the largest head, out[2] = 1 if head 0 occurs, else 0."""

    def codegen(context, builder, sig, args):
        values_ptr = context.make_array(sig.args[0])(context, builder, args[0]).data
        out_ptr = context.make_array(sig.args[4])(context, builder, args[4]).data
        steps, lanes = args[1], SPAN_VALUES
        shift_vector = v.splat(builder, builder.trunc(args[2], v.I16), lanes)
        mask_value = builder.trunc(args[3], v.I16)
        mask_vector = v.splat(builder, mask_value, lanes)
        past = v.splat(builder, builder.add(mask_value, ir.Constant(v.I16, 1)), lanes)
        vector_type = v.vector(v.I16, lanes)
        low, high, zero = (builder.alloca(vector_type) for _ in range(3))
        builder.store(past, low)
        builder.store(ir.Constant(vector_type, None), high)
        builder.store(ir.Constant(vector_type, None), zero)

        def step(b, q):
            loaded = v.load(b, v.element(b, values_ptr, b.mul(q, ir.Constant(v.I64, lanes)), v.I16), v.I16, lanes, align=2)
            heads = b.and_(b.lshr(loaded, shift_vector), mask_vector)
            is_zero = b.icmp_unsigned("==", heads, ir.Constant(vector_type, None))
            smaller = b.select(is_zero, past, heads)
            b.store(b.select(b.icmp_unsigned("<", smaller, b.load(low)), smaller, b.load(low)), low)
            b.store(b.select(b.icmp_unsigned(">", heads, b.load(high)), heads, b.load(high)), high)
            b.store(b.or_(b.load(zero), b.zext(is_zero, vector_type)), zero)

        v.counted_loop(builder, steps, step, "pairs.span")
        for index, (name, accumulator) in enumerate((("umin", low), ("umax", high), ("or", zero))):
            result = builder.zext(v.reduce(builder, name, builder.load(accumulator)), v.I64)
            builder.store(result, v.element(builder, out_ptr, index, v.I64))
        return context.get_dummy_value()

    return types.void(values, steps, shift, mask, out), codegen


@njit(cache=True, nogil=True)
def _head_span(values: np.ndarray, shift: int, mask: int) -> tuple:
    """(the smallest head other than 0, the largest head, whether head 0 occurs): 32
    values a vector step, then the last few."""
    out = np.zeros(3, dtype=np.int64)
    steps = values.shape[0] // SPAN_VALUES
    if steps > 0:
        _head_span_vectors(values, np.int64(steps), np.int64(shift), np.int64(mask), out)
    low, high, zero = np.int64(out[0]) if steps > 0 else mask + 1, np.int64(out[1]), out[2] > 0
    for i in range(SPAN_VALUES * steps, values.shape[0]):
        head = (np.int64(values[i]) >> shift) & mask
        low = min(low, head if head > 0 else mask + 1)
        high = max(high, head)
        zero = zero or head == 0
    return low, high, zero


def pair_symbols(used_heads: np.ndarray, ranks: np.ndarray, head_bits: int) -> np.ndarray:
    """The pair symbols ``head_a << H | head_b`` of pair ranks (ascending ranks give
    ascending symbols)."""
    width = used_heads.shape[0]
    return (used_heads[ranks // width] << head_bits) | used_heads[ranks % width]


@njit(cache=True, nogil=True, inline="always")
def _rank(v: int, dense: np.ndarray, shift: int) -> int:
    return dense[(v >> shift) & ((1 << (15 - shift)) - 1)]


VECTOR_VALUES = 16  # values a step of the vector split takes (eight pairs)


def _split_codegen(bf16: bool, by_range: bool):
    """The code generator of the vector split for one kind: ``groups`` steps of sixteen
    values from values[first] on, each: the sixteen heads' ranks (a gather from
    ``dense``), the eight pair ranks stored, the tails stored (bfloat16: two 56-bit runs
    of eight 7-bit tails, by 64-bit stores, so the caller leaves at least eight values
    after them; float16: sixteen low bytes and two bytes of signs). The caller counts
    the pair ranks (counting here, lane by lane, is four times slower). ``by_range``: the
    ranks are computed (:func:`range_heads`: 0 for head 0, else head - base), not gathered."""
    shift = BF16_SHIFT if bf16 else FP16.shift
    head_mask = (1 << (15 - shift)) - 1

    def codegen(context, builder, sig, args):
        arrays = [context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:5], args[:5])]
        values, dense, pairs, tails, signs = (array.data for array in arrays)
        first, groups, width, base = args[5], args[6], args[7], args[8]
        width_vector = v.splat(builder, builder.trunc(width, v.I32))
        base_vector = v.splat(builder, builder.trunc(base, v.I32), 16)

        def step(b, q):
            i = b.add(first, b.mul(q, ir.Constant(v.I64, VECTOR_VALUES)))
            sixteen = v.load(b, v.element(b, values, i, v.I16), v.I16, VECTOR_VALUES, align=2)
            heads = b.and_(b.lshr(sixteen, v.constant(shift, v.I16, 16)), v.constant(head_mask, v.I16, 16))
            if by_range:
                wide = b.zext(heads, v.vector(v.I32, 16))
                zero = b.icmp_unsigned("==", wide, v.constant(0, v.I32, 16))
                ranks = b.select(zero, v.constant(0, v.I32, 16), b.sub(wide, base_vector))
            else:
                ranks = v.gather(b, dense, b.zext(heads, v.vector(v.I64, 16)), v.I32)
            even = v.shuffle(b, ranks, None, list(range(0, 16, 2)))
            odd = v.shuffle(b, ranks, None, list(range(1, 16, 2)))
            pair_ranks = b.add(b.mul(even, width_vector), odd)
            half = b.lshr(i, ir.Constant(v.I64, 1))
            v.store(b, b.trunc(pair_ranks, v.vector(v.I16)), v.element(b, pairs, half, v.I16), align=2)
            if bf16:
                tail = b.or_(
                    b.and_(b.lshr(sixteen, v.constant(9, v.I16, 16)), v.constant(0x40, v.I16, 16)),
                    b.and_(sixteen, v.constant(0x3F, v.I16, 16)),
                )
                at = b.mul(b.lshr(i, ir.Constant(v.I64, 3)), ir.Constant(v.I64, TAIL_BITS))
                for run in range(2):  # eight bytes a run: the next run (or the caller's tail code) overwrites the eighth
                    eight = b.zext(v.shuffle(b, tail, None, list(range(8 * run, 8 * run + 8))), v.vector(v.I64))
                    packed = v.reduce_or(b, b.shl(eight, v.constant([TAIL_BITS * k for k in range(8)])))
                    target = v.element(b, tails, b.add(at, ir.Constant(v.I64, TAIL_BITS * run)), v.I8)
                    b.store(packed, b.bitcast(target, v.I64.as_pointer()), align=1)
            else:
                v.store(b, b.trunc(sixteen, v.vector(v.I8, 16)), v.element(b, tails, i, v.I8))
                negative = b.icmp_signed("<", sixteen, v.constant(0, v.I16, 16))
                target = v.element(b, signs, b.lshr(i, ir.Constant(v.I64, 3)), v.I8)
                b.store(b.bitcast(negative, v.I16), b.bitcast(target, v.I16.as_pointer()), align=1)

        v.counted_loop(builder, groups, step, "pairs.split")
        return context.get_dummy_value()

    return codegen


def _split_intrinsic(bf16: bool, by_range: bool):
    def typer(typingctx, values, dense, pairs, tails, signs, first, groups, width, base):  # noqa: ANN001
        signature = types.void(values, dense, pairs, tails, signs, first, groups, width, base)
        return signature, _split_codegen(bf16, by_range)

    return intrinsic(typer)


_split_vectors_bf16 = _split_intrinsic(True, False)
_split_vectors_fp16 = _split_intrinsic(False, False)
_split_range_bf16 = _split_intrinsic(True, True)
_split_range_fp16 = _split_intrinsic(False, True)


@njit(cache=True, nogil=True)
def split(
    values: np.ndarray, first: int, count: int, shift: int, dense: np.ndarray, width: int, pairs: np.ndarray,
    tails: np.ndarray, signs: np.ndarray, counts: np.ndarray, base: int = -1,
) -> None:
    """pairs[(first + k) // 2] (as ranks: ``dense_heads``, or ``range_heads`` with its
    ``base`` when that is >= 0, over ``width`` heads) and the
    tails of values first + k, for k < count (``first`` a multiple of 8: eight tails
    fill whole bytes), for the kind whose head starts at bit ``shift``: bfloat16's
    7-bit tails into ``tails``, or float16's low bytes into ``tails`` and signs into
    ``signs``. ``counts`` gets the histogram of these pairs' ranks. An odd last value
    is paired with rank 0 (the smallest head that occurs). Sixteen values a step in
    vector code (``_split_codegen``), then the last 0-15 values."""
    bf16 = shift == BF16_SHIFT
    # the vector steps leave at least eight values (bfloat16's last 64-bit tail store reaches
    # into them); they store signs as the bytes of a bit vector: little-endian machines only
    groups = max(count - 8, 0) // VECTOR_VALUES if _LITTLE_ENDIAN else 0
    at, steps, w, b = np.int64(first), np.int64(groups), np.int64(width), np.int64(base)
    if groups > 0 and bf16 and base >= 0:
        _split_range_bf16(values, dense, pairs, tails, signs, at, steps, w, b)
    elif groups > 0 and bf16:
        _split_vectors_bf16(values, dense, pairs, tails, signs, at, steps, w, b)
    elif groups > 0 and base >= 0:
        _split_range_fp16(values, dense, pairs, tails, signs, at, steps, w, b)
    elif groups > 0:
        _split_vectors_fp16(values, dense, pairs, tails, signs, at, steps, w, b)
    half = uint64(first >> 1)
    for j in range(half, half + uint64(VECTOR_VALUES // 2 * groups)):  # unsigned: no negative-index checks
        counts[uint64(pairs[j])] += 1
    first += VECTOR_VALUES * groups
    count -= VECTOR_VALUES * groups
    full = count // 8
    # four values a load (uint64 words of the little-endian values); unsigned arithmetic,
    # so that numba drops its negative-index checks
    words = values[first : first + 8 * full].view(np.uint64)
    u_shift, head_mask = uint64(shift), uint64((1 << (15 - shift)) - 1)
    value_mask, b7, b8, b15 = uint64(0xFFFF), uint64(TAIL_BITS), uint64(8), uint64(15)
    u_width, low6, sign_bit = uint64(width), uint64(0x3F), uint64(0x40)
    for g in range(full):  # whole groups of eight values, unrolled
        i = first + 8 * g
        group = uint64(0)
        for k in range(4):
            word = words[uint64(2 * g + (k >> 1))]
            a = (word >> uint64(_LANE_SHIFT[2 * (k & 1)])) & value_mask
            b = (word >> uint64(_LANE_SHIFT[2 * (k & 1) + 1])) & value_mask
            rank = uint64(dense[(a >> u_shift) & head_mask]) * u_width + uint64(dense[(b >> u_shift) & head_mask])
            pairs[uint64((i >> 1) + k)] = rank
            counts[rank] += 1
            if bf16:
                tail_a = ((a >> uint64(9)) & sign_bit) | (a & low6)
                tail_b = ((b >> uint64(9)) & sign_bit) | (b & low6)
                group |= (tail_a | (tail_b << b7)) << uint64(2 * TAIL_BITS * k)
            else:
                group |= ((a >> b15) | ((b >> b15) << uint64(1))) << uint64(2 * k)
                tails[uint64(i + 2 * k)] = a & uint64(0xFF)
                tails[uint64(i + 2 * k + 1)] = b & uint64(0xFF)
        if bf16:
            at = uint64((TAIL_BITS * i) >> 3)
            for b in range(7):
                tails[at + uint64(b)] = (group >> (b8 * uint64(b))) & uint64(0xFF)
        else:
            signs[uint64(i >> 3)] = group
    # the tensor's last 1-7 values
    i = first + 8 * full
    size = count - 8 * full
    group = np.int64(0)
    for k in range(size):
        v = np.int64(values[i + k])
        rank = _rank(v, dense, shift)
        if (k & 1) == 0:
            pairs[(i + k) >> 1] = rank * width
        else:
            pairs[(i + k) >> 1] += rank
        if bf16:
            group |= _tail(v) << (TAIL_BITS * k)
        else:
            group |= (v >> 15) << k
            tails[i + k] = v & 0xFF
    for k in range(0, size, 2):
        counts[pairs[(i + k) >> 1]] += 1
    if bf16:
        at = (TAIL_BITS * i) >> 3
        for b in range((TAIL_BITS * size + 7) >> 3):
            tails[at + b] = (group >> (8 * b)) & 0xFF
    elif size:
        signs[i >> 3] = group


@njit(cache=True, nogil=True, inline="always")
def _value(tail: int, head: int) -> int:
    """A bfloat16 value from its 7-bit tail and 9-bit head."""
    return ((tail & 0x40) << 9) | (head << 6) | (tail & 0x3F)


def _pair_heads(b: ir.IRBuilder, pairs: ir.Value, head_bits: int, shift: int) -> ir.Value:
    """Eight pair symbols (<8 x i32>) as the sixteen values' heads in place (<16 x i16>)."""
    first = b.lshr(pairs, v.constant(head_bits, v.I32))
    second = b.and_(pairs, v.constant((1 << head_bits) - 1, v.I32))
    heads = v.shuffle(b, first, second, [k for j in range(8) for k in (j, 8 + j)])
    return b.shl(b.trunc(heads, v.vector(v.I16, 16)), v.constant(shift, v.I16, 16))


@intrinsic
def _join_bf16_vectors(typingctx, buf, tails, out, start, groups):  # noqa: ANN001 - numba's signature
    """out[start + 16q ...] for q < ``groups`` from the pair symbols buf[8q ...] and the 7-bit
    tails (``start`` a multiple of 8; each step loads 16 tail bytes of which it uses 14: the
    caller leaves two more in the plane after the last)."""

    def codegen(context, builder, sig, args):
        buf_ptr, tails_ptr, out_ptr = (context.make_array(t)(context, builder, a).data for t, a in zip(sig.args[:3], args[:3]))
        start, groups = args[3], args[4]
        tail_start = builder.mul(builder.lshr(start, ir.Constant(v.I64, 3)), ir.Constant(v.I64, TAIL_BITS))
        # value k's tail: bits 7k..7k+6 of the step's bytes: the 16-bit word at byte 7k // 8, shifted
        byte_pairs = [o for k in range(16) for o in ((TAIL_BITS * k) >> 3, ((TAIL_BITS * k) >> 3) + 1)]
        shifts = v.constant([(TAIL_BITS * k) & 7 for k in range(16)], v.I16)

        def body(b, q):
            pairs = v.load(b, v.element(b, buf_ptr, b.mul(q, ir.Constant(v.I64, 8)), v.I32), v.I32, align=4)
            heads = _pair_heads(b, pairs, 9, BF16_SHIFT)
            at = b.add(tail_start, b.mul(q, ir.Constant(v.I64, 2 * TAIL_BITS)))
            raw = v.load(b, v.element(b, tails_ptr, at, v.I8), v.I8, 16)
            words = b.bitcast(v.shuffle(b, raw, None, byte_pairs), v.vector(v.I16, 16))
            tail = b.and_(b.lshr(words, shifts), v.constant(0x7F, v.I16, 16))
            sign = b.shl(b.and_(tail, v.constant(0x40, v.I16, 16)), v.constant(9, v.I16, 16))
            value = b.or_(b.or_(sign, heads), b.and_(tail, v.constant(0x3F, v.I16, 16)))
            first = b.add(start, b.mul(q, ir.Constant(v.I64, 16)))
            v.store(b, value, v.element(b, out_ptr, first, v.I16), align=2)

        v.counted_loop(builder, groups, body, "pairs.join")
        return context.get_dummy_value()

    return types.void(buf, tails, out, start, groups), codegen


@intrinsic
def _join_fp16_vectors(typingctx, buf, low, signs, out, start, groups):  # noqa: ANN001 - numba's signature
    """out[start + 16q ...] for q < ``groups`` from the pair symbols buf[8q ...], the low
    bytes and the sign bits (``start`` a multiple of 8)."""

    def codegen(context, builder, sig, args):
        arrays = [context.make_array(t)(context, builder, a).data for t, a in zip(sig.args[:4], args[:4])]
        buf_ptr, low_ptr, signs_ptr, out_ptr = arrays
        start, groups = args[4], args[5]

        def body(b, q):
            pairs = v.load(b, v.element(b, buf_ptr, b.mul(q, ir.Constant(v.I64, 8)), v.I32), v.I32, align=4)
            heads = _pair_heads(b, pairs, FP16.head_bits, 8)
            first = b.add(start, b.mul(q, ir.Constant(v.I64, 16)))
            lows = b.zext(v.load(b, v.element(b, low_ptr, first, v.I8), v.I8, 16), v.vector(v.I16, 16))
            sign_bits = b.load(b.bitcast(v.element(b, signs_ptr, b.lshr(first, ir.Constant(v.I64, 3)), v.I8), v.I16.as_pointer()), align=1)
            sign = b.shl(b.zext(b.bitcast(sign_bits, v.vector(v.I1, 16)), v.vector(v.I16, 16)), v.constant(15, v.I16, 16))
            v.store(b, b.or_(b.or_(sign, heads), lows), v.element(b, out_ptr, first, v.I16), align=2)

        v.counted_loop(builder, groups, body, "pairs.join")
        return context.get_dummy_value()

    return types.void(buf, low, signs, out, start, groups), codegen


@njit(cache=True, nogil=True)
def _join_bf16(buf: np.ndarray, tails: np.ndarray, out: np.ndarray, start: int, values: int) -> None:
    """out[start:start+values] from the pair symbols in ``buf`` and the packed 7-bit
    tails (``start`` a multiple of 8): a group of eight values from seven tail bytes."""
    b7, tail_mask, head_mask = uint64(TAIL_BITS), uint64(0x7F), uint64(0x1FF)
    b8, b9 = uint64(8), uint64(9)
    base = uint64(start)
    tail_base = uint64((TAIL_BITS * start) >> 3)
    for g in range(values // 8):
        at = tail_base + uint64(7 * g)
        group = uint64(0)
        for b in range(7):
            group |= uint64(tails[at + uint64(b)]) << (b8 * uint64(b))
        q = uint64(4 * g)
        i = base + uint64(8 * g)
        for k in range(4):
            p = uint64(buf[q + uint64(k)])
            t0 = (group >> (b7 * uint64(2 * k))) & tail_mask
            t1 = (group >> (b7 * uint64(2 * k + 1))) & tail_mask
            out[i + uint64(2 * k)] = _value(t0, p >> b9)
            out[i + uint64(2 * k + 1)] = _value(t1, p & head_mask)
    for k in range(8 * (values // 8), values):  # the tensor's last 1-7 values
        bit = TAIL_BITS * (start + k)
        byte = bit >> 3
        two = np.int64(tails[byte])
        if byte + 1 < tails.shape[0]:
            two |= np.int64(tails[byte + 1]) << 8
        p = np.int64(buf[k >> 1])
        head = (p >> 9) if (k & 1) == 0 else p & 0x1FF
        out[start + k] = _value((two >> (bit & 7)) & 0x7F, head)


@njit(cache=True, nogil=True)
def _join_fp16(buf: np.ndarray, low: np.ndarray, signs: np.ndarray, out: np.ndarray, start: int, values: int) -> None:
    """out[start:start+values] from the pair symbols in ``buf``, the low bytes and the
    sign bits (``start`` a multiple of 8): a group of eight values from one sign byte."""
    one, b7, b8, b15, head_mask = uint64(1), uint64(7), uint64(8), uint64(15), uint64(0x7F)
    base = uint64(start)
    for g in range(values // 8):
        i = base + uint64(8 * g)
        group = uint64(signs[i >> uint64(3)])
        q = uint64(4 * g)
        for k in range(4):
            p = uint64(buf[q + uint64(k)])
            j = i + uint64(2 * k)
            s0 = (group >> uint64(2 * k)) & one
            s1 = (group >> uint64(2 * k + 1)) & one
            out[j] = (s0 << b15) | ((p >> b7) << b8) | uint64(low[j])
            out[j + one] = (s1 << b15) | ((p & head_mask) << b8) | uint64(low[j + one])
    for k in range(8 * (values // 8), values):  # the tensor's last 1-7 values
        j = start + k
        p = np.int64(buf[k >> 1])
        head = (p >> 7) if (k & 1) == 0 else p & 0x7F
        out[j] = (((np.int64(signs[j >> 3]) >> (j & 7)) & 1) << 15) | (head << 8) | np.int64(low[j])


@njit(cache=True, nogil=True)
def decode(
    words: np.ndarray, table: tuple, packed: np.ndarray, single: int, out: np.ndarray, first: int, count: int,
    shift: int, tails: np.ndarray, signs: np.ndarray,
) -> None:
    """Decode out[first:first+count] (``first`` even) of the kind whose head starts at
    bit ``shift`` (its tail planes as ``split`` writes them): the segment's (count + 1) // 2
    pair symbols from its ``words`` (``arzip.coding.rans_wide`` with its ``packed`` table
    when that is not empty, else ``arzip.coding.rans`` with ``table``; the caller has
    checked the coder's ``lanes_valid``), or all equal to ``single`` when it is >= 0,
    block by block into an L1-sized buffer, each block then joined with its tails."""
    buf = np.empty(BLOCK_PAIRS, dtype=np.uint32)
    pairs = (count + 1) // 2
    wide = packed.shape[0] > 0
    state = np.zeros(2 * rans.LANES, dtype=np.uint64)
    wide_state = np.zeros(rans_wide.LANES + 2 * rans_wide.GROUPS, dtype=np.int64)
    if single >= 0:
        buf[:] = single
    elif wide:
        wide_state = rans_wide.decoder_state(words)
    else:
        state = rans.decoder_state(words)
    for done in range(0, pairs, BLOCK_PAIRS):
        m = min(BLOCK_PAIRS, pairs - done)
        if single < 0 and wide:
            rans_wide.decode_block(words, wide_state, packed, buf, m)
        elif single < 0:
            rans.decode_block(words, state, table, buf, m)
        start, values = first + 2 * done, min(2 * m, count - 2 * done)
        if shift == BF16_SHIFT:
            _join_bf16_block(buf, tails, out, start, values)
        else:
            _join_fp16_block(buf, tails, signs, out, start, values)


@njit(cache=True, nogil=True, inline="always")
def _join_bf16_block(buf: np.ndarray, tails: np.ndarray, out: np.ndarray, start: int, values: int) -> None:
    """out[start:start+values]: sixteen values a vector step while two tail bytes remain
    after the step's fourteen, the rest by :func:`_join_bf16`."""
    groups = values // VECTOR_VALUES if _LITTLE_ENDIAN else 0  # the unpacking reads 16-bit words of bytes
    while groups > 0 and (TAIL_BITS * (start + VECTOR_VALUES * groups)) // 8 + 2 > tails.shape[0]:
        groups -= 1
    if groups > 0:
        _join_bf16_vectors(buf, tails, out, np.int64(start), np.int64(groups))
    done = VECTOR_VALUES * groups
    _join_bf16(buf[done // 2 :], tails, out, start + done, values - done)


@njit(cache=True, nogil=True, inline="always")
def _join_fp16_block(buf: np.ndarray, low: np.ndarray, signs: np.ndarray, out: np.ndarray, start: int, values: int) -> None:
    """out[start:start+values]: sixteen values a vector step, the rest by :func:`_join_fp16`."""
    groups = values // VECTOR_VALUES if _LITTLE_ENDIAN else 0  # the signs are read as a bit vector
    if groups > 0:
        _join_fp16_vectors(buf, low, signs, out, np.int64(start), np.int64(groups))
    done = VECTOR_VALUES * groups
    _join_fp16(buf[done // 2 :], low, signs, out, start + done, values - done)
