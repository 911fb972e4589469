"""The exponent-pair layout of the ``tensor`` codec: bfloat16 weights at twice the decoding speed.

What it does: cuts each 16-bit value into a 9-bit head, its bfloat16 exponent (bits
7..14) and top mantissa bit (bit 6), and a 7-bit tail, the sign (bit 15) and the six
mantissa bits below (bits 0..5); codes the heads of two neighbouring values as one
18-bit symbol, ``head_a << 9 | head_b``, with static rANS; and packs the tails, near
random, at seven bits each (value i at bit 7i of the tail plane, least significant
bit first). One decoding step yields two values. On real checkpoints this costs
about 0.2% of the file more than modelling the top 12 bits together and decodes
about twice as fast: half as many rANS steps, from a table of a few thousand pair
symbols. An odd last value is paired with any head (the encoder takes the smallest
that occurs), which the decoder drops.

The pair symbols of a segment are coded by ``arzip.coding.rans`` (eight lanes, each
with its own word stream), as the heads of the top-K layouts are.
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
BLOCK_PAIRS = 2048  # pair symbols decoded into a buffer that stays in the L1 cache (a multiple of rans.LANES)
# at most 128 heads (so at most 16,384 pairs; in weights far fewer occur, a few thousand):
# beyond that the values are not bfloat16 weights (fp16's bits 6..14 hold mantissa bits too)
MAX_HEADS = 128


def head_counts(top: np.ndarray) -> np.ndarray:
    """The 512 head counts from a histogram of all 2**16 values."""
    heads = (np.arange(1 << 16) >> HEAD_SHIFT) & ((1 << HEAD_BITS) - 1)
    return np.bincount(heads, weights=top, minlength=1 << HEAD_BITS).astype(np.int64)


def tail_bytes(count: int) -> int:
    return (TAIL_BITS * count + 7) // 8


@njit(cache=True, nogil=True, inline="always")
def _tail(v: int) -> int:
    return ((v >> 9) & 0x40) | (v & 0x3F)


def dense_heads(heads: np.ndarray) -> np.ndarray:
    """For each of the 512 heads, its rank among the heads that occur (``heads``: the
    head counts): the encoder numbers pairs ``rank_a * H + rank_b`` over the H heads that
    occur, so that its histogram and tables have H * H entries (a few thousand, in
    the L1 cache) rather than 2**18."""
    dense = np.zeros(1 << HEAD_BITS, dtype=np.int64)
    used = np.flatnonzero(heads)
    dense[used] = np.arange(used.shape[0])
    return dense


def pair_symbols(used_heads: np.ndarray, ranks: np.ndarray) -> np.ndarray:
    """The pair symbols ``head_a << 9 | head_b`` of pair ranks (ascending ranks give
    ascending symbols)."""
    width = used_heads.shape[0]
    return (used_heads[ranks // width] << HEAD_BITS) | used_heads[ranks % width]


@njit(cache=True, nogil=True)
def split(
    values: np.ndarray, first: int, count: int, dense: np.ndarray, width: int, pairs: np.ndarray,
    tails: np.ndarray, counts: np.ndarray,
) -> None:
    """pairs[(first + k) // 2] (as ranks: ``dense_heads``, over ``width`` heads) and
    the tails of values first + k, for k < count (``first`` a multiple of 8: eight tails
    fill seven bytes); ``counts`` gets the histogram of these pairs' ranks. An odd last
    value is paired with rank 0 (the smallest head that occurs)."""
    full = count // 8
    for g in range(full):  # whole groups of eight values, unrolled
        i = first + 8 * g
        group = np.int64(0)
        for k in range(4):
            a = np.int64(values[i + 2 * k])
            b = np.int64(values[i + 2 * k + 1])
            group |= (_tail(a) | (_tail(b) << TAIL_BITS)) << (2 * TAIL_BITS * k)
            rank = dense[(a >> HEAD_SHIFT) & 0x1FF] * width + dense[(b >> HEAD_SHIFT) & 0x1FF]
            pairs[(i >> 1) + k] = rank
            counts[rank] += 1
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
        rank = dense[(v >> HEAD_SHIFT) & 0x1FF]
        if (k & 1) == 0:
            pairs[(i + k) >> 1] = rank * width
        else:
            pairs[(i + k) >> 1] += rank
    for k in range(0, size, 2):
        counts[pairs[(i + k) >> 1]] += 1
    at = (TAIL_BITS * i) >> 3
    for b in range((TAIL_BITS * size + 7) >> 3):
        tails[at + b] = (group >> (8 * b)) & 0xFF


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
def decode(
    words: np.ndarray, table: np.ndarray, single: int, out: np.ndarray, first: int, count: int, tails: np.ndarray
) -> None:
    """Decode out[first:first+count] (``first`` even): the segment's (count + 1) // 2 pair
    symbols from its ``words`` (``arzip.coding.rans``; the caller has checked
    ``rans.lanes_valid``), or all equal to ``single`` when it is >= 0, block by block
    into an L1-sized buffer, each block then joined with its tails."""
    buf = np.empty(BLOCK_PAIRS, dtype=np.uint32)
    pairs = (count + 1) // 2
    state = np.zeros(2 * rans.LANES, dtype=np.uint64)
    if single >= 0:
        buf[:] = single
    else:
        state = rans.decoder_state(words)
    for done in range(0, pairs, BLOCK_PAIRS):
        m = min(BLOCK_PAIRS, pairs - done)
        if single < 0:
            rans.decode_block(words, state, table, buf, m)
        _join(buf, tails, out, first + 2 * done, min(2 * m, count - 2 * done))
