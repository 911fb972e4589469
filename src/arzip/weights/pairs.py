"""The exponent-pair layout of the ``tensor`` codec: bfloat16 weights at twice the decoding speed.

What it does: cuts each 16-bit value into a 9-bit head, its bfloat16 exponent (bits
7..14) and top mantissa bit (bit 6), and a 7-bit tail, the sign (bit 15) and the six
mantissa bits below (bits 0..5); codes the heads of two neighbouring values as one
18-bit symbol, ``head_a << 9 | head_b``, with static rANS; and packs the tails, near
random, at seven bits each (value i at bit 7i of the tail plane, least significant
bit first). One decoding step yields two values. On real checkpoints this costs
about 0.2% of the file more than modelling the top 12 bits together and decodes
about twice as fast: half as many rANS steps, from a table of a few thousand pair
symbols. An odd last value is paired with head 0, which the decoder drops.

The pair symbols of a segment go to eight rANS lanes (the arithmetic of
``arzip.coding.rans``: 64-bit state in [2**31, 2**63), 32-bit words), lane j taking
symbols j, j + 8, j + 16, ..., each lane in its own word stream: a lane's
renormalisation then reads its own next word, so the decoder takes it without a
branch (a conditional move) and the eight chains never wait on each other, about a
third faster than four interleaved lanes of one stream.
Segment words: eight u32 lane lengths, then the lanes' words one after another, each
lane opening with its final state, high word first.
What it does not do: decide when the layout pays (``planes.choose_layout``), store
tables or frames (``tensor_codec``), or handle widths other than 16 bits.
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from ..coding import rans
from ..jit import njit

LAYOUT = 0x88  # the tensor frame's layout byte for exponent pairs (top-K layouts store K: 8, 12, 16)
HEAD_SHIFT = 6  # bfloat16: sign 15, exponent 14..7, mantissa 6..0; the head is bits 6..14
HEAD_BITS = 9
SYMBOL_BITS = 2 * HEAD_BITS
TAIL_BITS = 7
BLOCK_PAIRS = 2048  # pair symbols decoded into a buffer that stays in the L1 cache (a multiple of LANES)
LANES = 8
# at most 128 heads (so at most 16,384 pairs; in weights far fewer occur, a few thousand):
# beyond that the values are not bfloat16 weights (fp16's bits 6..14 hold mantissa bits too)
MAX_HEADS = 128
_LOW = 1 << 31  # as arzip.coding.rans: the state's lower bound; words of 32 bits


def head_counts(top: np.ndarray) -> np.ndarray:
    """The 512 head counts from a histogram of all 2**16 values."""
    heads = (np.arange(1 << 16) >> HEAD_SHIFT) & ((1 << HEAD_BITS) - 1)
    return np.bincount(heads, weights=top, minlength=1 << HEAD_BITS).astype(np.int64)


def tail_bytes(count: int) -> int:
    return (TAIL_BITS * count + 7) // 8


@njit(cache=True, nogil=True, inline="always")
def _tail(v: int) -> int:
    return ((v >> 9) & 0x40) | (v & 0x3F)


@njit(cache=True, nogil=True)
def split(values: np.ndarray, first: int, count: int, pairs: np.ndarray, tails: np.ndarray) -> None:
    """pairs[(first + k) // 2] and the tails of values first + k, for k < count (``first``
    a multiple of 8: eight tails fill seven bytes)."""
    full = count // 8
    for g in range(full):  # whole groups of eight values, unrolled
        i = first + 8 * g
        group = np.int64(0)
        for k in range(4):
            a = np.int64(values[i + 2 * k])
            b = np.int64(values[i + 2 * k + 1])
            group |= (_tail(a) | (_tail(b) << TAIL_BITS)) << (2 * TAIL_BITS * k)
            pairs[(i >> 1) + k] = (((a >> HEAD_SHIFT) & 0x1FF) << HEAD_BITS) | ((b >> HEAD_SHIFT) & 0x1FF)
        at = (TAIL_BITS * i) >> 3
        for b in range(7):
            tails[at + b] = (group >> (8 * b)) & 0xFF
    # the tensor's last 1-7 values
    i = first + 8 * full
    size = count - 8 * full
    group = np.int64(0)
    for k in range(size):
        v = np.int64(values[i + k])
        group |= _tail(v) << (TAIL_BITS * k)
        head = (v >> HEAD_SHIFT) & 0x1FF
        if (k & 1) == 0:
            pairs[(i + k) >> 1] = head << HEAD_BITS
        else:
            pairs[(i + k) >> 1] |= head
    at = (TAIL_BITS * i) >> 3
    for b in range((TAIL_BITS * size + 7) >> 3):
        tails[at + b] = (group >> (8 * b)) & 0xFF


@njit(cache=True, nogil=True)
def histogram(pairs: np.ndarray) -> np.ndarray:
    counts = np.zeros(1 << SYMBOL_BITS, dtype=np.int64)
    for i in range(pairs.shape[0]):
        counts[np.int64(pairs[i])] += 1
    return counts


@njit(cache=True, nogil=True, inline="always")
def _value(tail: int, head: int) -> int:
    return ((tail & 0x40) << 9) | (head << HEAD_SHIFT) | (tail & 0x3F)


@njit(cache=True, nogil=True)
def _join(buf: np.ndarray, tails: np.ndarray, out: np.ndarray, start: int, values: int) -> None:
    """out[start:start+values] from the pair symbols in ``buf`` and the packed tails
    (``start`` a multiple of 8): a group of eight values from seven tail bytes."""
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
        head = (p >> HEAD_BITS) if (k & 1) == 0 else p & 0x1FF
        out[start + k] = _value((two >> (bit & 7)) & 0x7F, head)


@njit(cache=True, nogil=True)
def encode(
    symbols: np.ndarray, freqs: np.ndarray, starts: np.ndarray, inverse: np.ndarray, scale_bits: int
) -> np.ndarray:
    """A segment's words for ``symbols`` (the layout in the module docstring). Each lane
    runs backwards over its symbols, as ``arzip.coding.rans.encode`` does, with the same
    exact quotient by a float reciprocal (``inverse``: 1 / freq of each used symbol, made
    once for all segments) and a correction."""
    n = symbols.shape[0]
    capacity = n // LANES + 4  # a lane's symbols emit at most one word each, + its state
    streams = np.empty(LANES * capacity, dtype=np.uint32)
    tops = np.zeros(LANES, dtype=np.int64)
    bound = (_LOW >> scale_bits) << 32  # x_max / freq: a state at or above it emits a word
    states = np.full(LANES, _LOW, dtype=np.int64)
    for lane in range(LANES):
        tops[lane] = (lane + 1) * capacity

    # backwards over the symbols, the eight lanes in turn (symbol i is lane i % 8's), so
    # that their independent chains overlap in the CPU
    for i in range(n - 1, -1, -1):
        lane = i & (LANES - 1)
        s = np.int64(symbols[i])
        f = freqs[s]
        x = states[lane]
        if x >= bound * f:
            tops[lane] -= 1
            streams[tops[lane]] = x & 0xFFFFFFFF
            x >>= 32
        states[lane] = rans.push(x, f, inverse[s], starts[s], scale_bits)
    for lane in range(LANES):
        x = states[lane]
        streams[tops[lane] - 1] = x & 0xFFFFFFFF
        streams[tops[lane] - 2] = x >> 32
        tops[lane] -= 2
    total = LANES
    for lane in range(LANES):
        total += (lane + 1) * capacity - tops[lane]
    words = np.empty(total, dtype=np.uint32)
    at = LANES
    for lane in range(LANES):
        length = (lane + 1) * capacity - tops[lane]
        words[lane] = length
        words[at : at + length] = streams[tops[lane] : tops[lane] + length]
        at += length
    return words


@njit(cache=True, nogil=True)
def lanes_valid(words: np.ndarray) -> bool:
    """Whether the segment's lane lengths fit its words (each lane holds its state)."""
    if words.shape[0] < 3 * LANES:
        return False
    total = LANES
    for lane in range(LANES):
        if words[lane] < 2:
            return False
        total += np.int64(words[lane])
    return total == words.shape[0]


@njit(cache=True, nogil=True)
def decode(
    words: np.ndarray, table: np.ndarray, single: int, out: np.ndarray, first: int, count: int, tails: np.ndarray
) -> None:
    """Decode out[first:first+count] (``first`` even): the segment's (count + 1) // 2 pair
    symbols from its ``words`` (or all equal to ``single`` when it is >= 0; the caller
    has checked ``lanes_valid``), block by block into an L1-sized buffer, each block
    then joined with its tails.

    The eight lanes are written out, each state and word position in a register;
    states, indices and masks are unsigned (uint64), so numba drops its negative-index
    checks. Every word read is clamped to the segment: on corrupt input the output is
    garbage, which the checksum catches, and nothing outside the words is read."""
    buf = np.empty(BLOCK_PAIRS, dtype=np.uint32)
    pairs = (count + 1) // 2
    if single >= 0:
        buf[:] = single
        for done in range(0, pairs, BLOCK_PAIRS):
            m = min(BLOCK_PAIRS, pairs - done)
            _join(buf, tails, out, first + 2 * done, min(2 * m, count - 2 * done))
        return
    one, two, b18, b32, b35 = uint64(1), uint64(2), uint64(18), uint64(32), uint64(35)
    # each lane: its word position p and its state x, read from the head of its stream
    p0 = uint64(LANES)
    p1 = p0 + uint64(words[0])
    p2 = p1 + uint64(words[1])
    p3 = p2 + uint64(words[2])
    p4 = p3 + uint64(words[3])
    p5 = p4 + uint64(words[4])
    p6 = p5 + uint64(words[5])
    p7 = p6 + uint64(words[6])
    x0 = (uint64(words[p0]) << b32) | uint64(words[p0 + one])
    x1 = (uint64(words[p1]) << b32) | uint64(words[p1 + one])
    x2 = (uint64(words[p2]) << b32) | uint64(words[p2 + one])
    x3 = (uint64(words[p3]) << b32) | uint64(words[p3 + one])
    x4 = (uint64(words[p4]) << b32) | uint64(words[p4 + one])
    x5 = (uint64(words[p5]) << b32) | uint64(words[p5 + one])
    x6 = (uint64(words[p6]) << b32) | uint64(words[p6 + one])
    x7 = (uint64(words[p7]) << b32) | uint64(words[p7 + one])
    p0, p1, p2, p3, p4, p5, p6, p7 = p0 + two, p1 + two, p2 + two, p3 + two, p4 + two, p5 + two, p6 + two, p7 + two
    last = uint64(words.shape[0] - 1)
    low_word = uint64(_LOW)
    mask = uint64(table.shape[0] - 1)
    scale_bits = uint64(rans.scale_of(table))
    slots = table.view(np.uint64)  # rans.slots_of(..., SYMBOL_BITS)
    freq_mask, symbol_mask = uint64(0x1FFFF), uint64(0x3FFFF)
    for done in range(0, pairs, BLOCK_PAIRS):
        m = min(BLOCK_PAIRS, pairs - done)
        rounds = m // LANES
        for r in range(rounds):
            i = uint64(LANES * r)
            # the slot of each state (the symbol, its frequency and the offset in it),
            # and each lane's next word, all loaded at once
            e0, w0 = slots[x0 & mask], uint64(words[min(p0, last)])
            e1, w1 = slots[x1 & mask], uint64(words[min(p1, last)])
            e2, w2 = slots[x2 & mask], uint64(words[min(p2, last)])
            e3, w3 = slots[x3 & mask], uint64(words[min(p3, last)])
            e4, w4 = slots[x4 & mask], uint64(words[min(p4, last)])
            e5, w5 = slots[x5 & mask], uint64(words[min(p5, last)])
            e6, w6 = slots[x6 & mask], uint64(words[min(p6, last)])
            e7, w7 = slots[x7 & mask], uint64(words[min(p7, last)])
            x0 = ((e0 >> b18) & freq_mask) * (x0 >> scale_bits) + (e0 >> b35)
            x1 = ((e1 >> b18) & freq_mask) * (x1 >> scale_bits) + (e1 >> b35)
            x2 = ((e2 >> b18) & freq_mask) * (x2 >> scale_bits) + (e2 >> b35)
            x3 = ((e3 >> b18) & freq_mask) * (x3 >> scale_bits) + (e3 >> b35)
            x4 = ((e4 >> b18) & freq_mask) * (x4 >> scale_bits) + (e4 >> b35)
            x5 = ((e5 >> b18) & freq_mask) * (x5 >> scale_bits) + (e5 >> b35)
            x6 = ((e6 >> b18) & freq_mask) * (x6 >> scale_bits) + (e6 >> b35)
            x7 = ((e7 >> b18) & freq_mask) * (x7 >> scale_bits) + (e7 >> b35)
            # renormalise: a state below 2**31 takes its lane's next word (a conditional move)
            c0, c1, c2, c3 = x0 < low_word, x1 < low_word, x2 < low_word, x3 < low_word
            c4, c5, c6, c7 = x4 < low_word, x5 < low_word, x6 < low_word, x7 < low_word
            x0 = ((x0 << b32) | w0) if c0 else x0
            x1 = ((x1 << b32) | w1) if c1 else x1
            x2 = ((x2 << b32) | w2) if c2 else x2
            x3 = ((x3 << b32) | w3) if c3 else x3
            x4 = ((x4 << b32) | w4) if c4 else x4
            x5 = ((x5 << b32) | w5) if c5 else x5
            x6 = ((x6 << b32) | w6) if c6 else x6
            x7 = ((x7 << b32) | w7) if c7 else x7
            p0, p1, p2, p3 = p0 + uint64(c0), p1 + uint64(c1), p2 + uint64(c2), p3 + uint64(c3)
            p4, p5, p6, p7 = p4 + uint64(c4), p5 + uint64(c5), p6 + uint64(c6), p7 + uint64(c7)
            buf[i] = e0 & symbol_mask
            buf[i + one] = e1 & symbol_mask
            buf[i + uint64(2)] = e2 & symbol_mask
            buf[i + uint64(3)] = e3 & symbol_mask
            buf[i + uint64(4)] = e4 & symbol_mask
            buf[i + uint64(5)] = e5 & symbol_mask
            buf[i + uint64(6)] = e6 & symbol_mask
            buf[i + uint64(7)] = e7 & symbol_mask
        # the segment's last 0-7 symbols (its last block only: BLOCK_PAIRS is a multiple of
        # LANES) belong to lanes 0, 1, ... in turn, and need no renormalisation
        lanes = (x0, x1, x2, x3, x4, x5, x6)
        for k in range(m - LANES * rounds):
            buf[LANES * rounds + k] = slots[lanes[k] & mask] & symbol_mask
        _join(buf, tails, out, first + 2 * done, min(2 * m, count - 2 * done))
