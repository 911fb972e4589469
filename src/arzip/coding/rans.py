"""Static rANS on eight lanes, each with its own word stream: fast coding of symbols from a stored table.

What it does: codes an array of symbols (alphabet up to 2**18) with one frequency
table of total 2**S (S <= 16, the scale) that both sides know (the caller stores
it), at one to two nanoseconds per symbol, in 64-bit integer arithmetic. Used
where a model is a fixed histogram, as for the heads of model weights
(``arzip.weights``).
What it does not do: adapt (``arzip.coding.range`` and ``arzip.coding.binary``
serve adaptive models) or build or store the table.

The coder is rANS (Duda 2013) in the 64-bit-state, 32-bit-word form: the state x
stays in [2**31, 2**63). Eight states take the symbols in turn (lane j codes
symbols j, j + 8, j + 16, ...), and each lane writes its own word stream: the
decoder's renormalisation then reads that lane's next word with no branch (a
conditional move) and the eight dependency chains never wait on each other. Four
lanes sharing one stream, the usual layout, decode about twice as slowly here:
each renormalisation is a branch and a shared word position. The encoder runs
backwards and writes each lane's words from the end of its buffer; the decoder
reads them forwards.

Payload (uint32 words): eight lane lengths L0..L7 (each >= 2), then the lanes'
words one after another, each lane opening with its final state, high word
first, then the words its renormalisations read, in order.

A smaller scale makes the decoder's table smaller (2**S entries of 8 bytes: 128 KiB
at S = 14 stay in the L2 cache) and decoding faster, at the price of a coarser
table (callers choose).

Invariants: every coded symbol has freq >= 1; sum(freq) == 2**S; a table with a
single symbol of frequency 2**S is not allowed (there is nothing to code: the
caller stores the symbol instead). The decoder never reads outside its payload
(word positions are clamped to it; on corrupt input the symbols are garbage, which
the caller's checksum catches) and writes exactly the symbols asked for.
"""

from __future__ import annotations

import numpy as np
from numba import uint64

from ..jit import njit

SCALE_BITS = 16  # the largest scale
SCALE = 1 << SCALE_BITS
LANES = 8
SYMBOL_BITS = 18  # the symbol field of a slot: alphabets up to 2**18
MIN_WORDS = 3 * LANES  # lane lengths, and each lane's state
_LOW = 1 << 31  # lower bound of the state
_WORD_BITS = 32
_WORD_MASK = (1 << _WORD_BITS) - 1


def check_table(freqs: np.ndarray, scale_bits: int = SCALE_BITS) -> None:
    """Raise ValueError unless ``freqs`` is a valid table for this coder."""
    total = 1 << scale_bits
    if not 1 <= scale_bits <= SCALE_BITS or int(freqs.sum()) != total or int(freqs.max()) >= total or int(freqs.min()) < 0:
        raise ValueError(f"a rANS table sums to 2**{scale_bits} (at most 2**{SCALE_BITS}) with no symbol holding all of it")


def starts_of(freqs: np.ndarray) -> np.ndarray:
    """Cumulative start of each symbol."""
    starts = np.zeros(freqs.shape[0], dtype=np.int64)
    np.cumsum(freqs[:-1], out=starts[1:])
    return starts


@njit(cache=True, nogil=True)
def slot_table(freqs: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """The decoder's table: for each of the 2**S slots, its symbol, the symbol's
    frequency and the slot's offset within the symbol, packed in one word so that a
    decoding step makes one lookup: symbol | freq << 18 | offset << 35."""
    table = np.zeros(freqs.sum(), dtype=np.int64)
    for symbol in range(freqs.shape[0]):
        for offset in range(freqs[symbol]):
            table[starts[symbol] + offset] = symbol | (freqs[symbol] << SYMBOL_BITS) | (offset << (SYMBOL_BITS + 17))
    return table


@njit(cache=True, nogil=True)
def slots_of(symbols: np.ndarray, freqs: np.ndarray, scale_bits: int) -> np.ndarray:
    """:func:`slot_table` from the used symbols alone (ascending) and their frequencies
    (summing to 2**scale_bits): no arrays over the whole alphabet."""
    table = np.empty(1 << scale_bits, dtype=np.int64)
    start = 0
    for k in range(symbols.shape[0]):
        symbol, freq = np.int64(symbols[k]), np.int64(freqs[k])
        for offset in range(freq):
            table[start + offset] = symbol | (freq << SYMBOL_BITS) | (np.int64(offset) << (SYMBOL_BITS + 17))
        start += freq
    return table


@njit(cache=True, nogil=True)
def reciprocals(freqs: np.ndarray) -> np.ndarray:
    """1 / freq of each symbol (0 where freq is 0), for :func:`encode`: made once when
    many payloads share a table."""
    inverse = np.zeros(freqs.shape[0], dtype=np.float64)
    for s in range(freqs.shape[0]):
        if freqs[s]:
            inverse[s] = 1.0 / freqs[s]
    return inverse


@njit(cache=True, nogil=True, inline="always")
def push(x: int, freq: int, inverse: float, start: int, scale_bits: int) -> int:
    """One encoding step of a state (already renormalised): x // freq through the float
    reciprocal ``inverse`` = 1 / freq, corrected to the exact quotient (x < 2**(63 - S) *
    freq, so the estimate is off by less than one either way)."""
    q = np.int64(x * inverse)
    m = x - q * freq
    if m < 0:
        q -= 1
        m += freq
    elif m >= freq:
        q += 1
        m -= freq
    return (q << scale_bits) + m + start


@njit(cache=True, nogil=True, inline="always")
def _encode_step(x, top, s, freqs, starts, inverse, streams, bound, scale_bits):
    """One symbol into a lane's state ``x``, whose stream is written downwards from
    ``top``. No branch: the low word is always stored below the top, which moves down
    (and the state right) only when the state must renormalise; a stored word the top
    did not pass is overwritten by the next one, or lies outside the output."""
    f = freqs[s]
    emit = np.int64(x >= bound * f)
    streams[top - 1] = x & _WORD_MASK
    top -= emit
    x >>= _WORD_BITS * emit
    return push(x, f, inverse[s], starts[s], scale_bits), top


@njit(cache=True, nogil=True)
def encode(
    symbols: np.ndarray,
    freqs: np.ndarray,
    starts: np.ndarray,
    inverse: np.ndarray,
    shift: int = 0,
    scale_bits: int = SCALE_BITS,
) -> np.ndarray:
    """The payload (uint32 words, the layout in the module docstring) coding
    ``symbols``: the unsigned integers of the array shifted right by ``shift`` bits
    (the heads of weights are their top bits: no separate array of symbols needed).
    ``inverse`` is :func:`reciprocals` of ``freqs``."""
    n = symbols.shape[0]
    capacity = n // LANES + 4  # a lane's symbols emit at most one word each, + its state
    streams = np.empty(LANES * capacity, dtype=np.uint32)
    tops = np.zeros(LANES, dtype=np.int64)
    bound = (_LOW >> scale_bits) << _WORD_BITS  # x_max / freq: a state at or above it emits a word
    states = np.full(LANES, _LOW, dtype=np.int64)
    for lane in range(LANES):
        tops[lane] = (lane + 1) * capacity
    # backwards over the symbols; first the last n % 8, then whole groups of eight, the
    # eight lanes' states in registers so that their independent chains overlap
    full = n - n % LANES
    for i in range(n - 1, full - 1, -1):
        lane = i & (LANES - 1)
        states[lane], tops[lane] = _encode_step(
            states[lane], tops[lane], np.int64(symbols[i] >> shift), freqs, starts, inverse, streams, bound, scale_bits
        )
    x0, x1, x2, x3, x4, x5, x6, x7 = states[0], states[1], states[2], states[3], states[4], states[5], states[6], states[7]
    t0, t1, t2, t3, t4, t5, t6, t7 = tops[0], tops[1], tops[2], tops[3], tops[4], tops[5], tops[6], tops[7]
    for i in range(full - LANES, -1, -LANES):
        x7, t7 = _encode_step(x7, t7, np.int64(symbols[i + 7] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x6, t6 = _encode_step(x6, t6, np.int64(symbols[i + 6] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x5, t5 = _encode_step(x5, t5, np.int64(symbols[i + 5] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x4, t4 = _encode_step(x4, t4, np.int64(symbols[i + 4] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x3, t3 = _encode_step(x3, t3, np.int64(symbols[i + 3] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x2, t2 = _encode_step(x2, t2, np.int64(symbols[i + 2] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x1, t1 = _encode_step(x1, t1, np.int64(symbols[i + 1] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
        x0, t0 = _encode_step(x0, t0, np.int64(symbols[i] >> shift), freqs, starts, inverse, streams, bound, scale_bits)
    states[0], states[1], states[2], states[3], states[4], states[5], states[6], states[7] = x0, x1, x2, x3, x4, x5, x6, x7
    tops[0], tops[1], tops[2], tops[3], tops[4], tops[5], tops[6], tops[7] = t0, t1, t2, t3, t4, t5, t6, t7
    total = LANES
    for lane in range(LANES):
        x = states[lane]
        streams[tops[lane] - 1] = x & _WORD_MASK
        streams[tops[lane] - 2] = x >> _WORD_BITS
        tops[lane] -= 2
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
def scale_of(table: np.ndarray) -> int:
    """S for a slot table of 2**S entries."""
    bits = 0
    while (1 << bits) < table.shape[0]:
        bits += 1
    return bits


@njit(cache=True, nogil=True)
def lanes_valid(words: np.ndarray) -> bool:
    """Whether the payload's lane lengths fit its words (each lane holds its state):
    a decoder needs this checked first."""
    if words.shape[0] < MIN_WORDS:
        return False
    total = LANES
    for lane in range(LANES):
        if words[lane] < 2:
            return False
        total += np.int64(words[lane])
    return total == words.shape[0]


@njit(cache=True, nogil=True)
def decoder_state(words: np.ndarray) -> np.ndarray:
    """The eight lane states read from their streams' heads, then the eight lanes' next
    word positions (``words`` has passed :func:`lanes_valid`)."""
    state = np.zeros(2 * LANES, dtype=np.uint64)
    at = LANES
    for lane in range(LANES):
        state[lane] = (uint64(words[at]) << uint64(_WORD_BITS)) | uint64(words[at + 1])
        state[LANES + lane] = at + 2
        at += np.int64(words[lane])
    return state


@njit(cache=True, nogil=True)
def decode_block(words: np.ndarray, state: np.ndarray, table: np.ndarray, out: np.ndarray, count: int) -> None:
    """Continue decoding: the next ``count`` symbols into out[:count] (``table`` from
    :func:`slot_table`). Every block but the last must hold a multiple of eight symbols.

    The eight lanes are written out, each state and word position in a register;
    everything is unsigned (uint64), so numba drops its negative-index checks. Each
    word read is clamped to the payload: on corrupt input the symbols are garbage,
    and nothing outside the words is read."""
    x0, x1, x2, x3 = state[0], state[1], state[2], state[3]
    x4, x5, x6, x7 = state[4], state[5], state[6], state[7]
    p0, p1, p2, p3 = state[8], state[9], state[10], state[11]
    p4, p5, p6, p7 = state[12], state[13], state[14], state[15]
    last = uint64(words.shape[0] - 1)
    low = uint64(_LOW)
    mask = uint64(table.shape[0] - 1)
    scale_bits = uint64(scale_of(table))
    slots = table.view(np.uint64)
    one, b32 = uint64(1), uint64(_WORD_BITS)
    b_freq, b_offset = uint64(SYMBOL_BITS), uint64(SYMBOL_BITS + 17)
    freq_mask, symbol_mask = uint64(0x1FFFF), uint64((1 << SYMBOL_BITS) - 1)
    rounds = count // LANES
    for r in range(rounds):
        i = uint64(LANES * r)
        # the slot of each state (the symbol, its frequency and the offset in it), and
        # each lane's next word, all loaded at once
        e0, w0 = slots[x0 & mask], uint64(words[min(p0, last)])
        e1, w1 = slots[x1 & mask], uint64(words[min(p1, last)])
        e2, w2 = slots[x2 & mask], uint64(words[min(p2, last)])
        e3, w3 = slots[x3 & mask], uint64(words[min(p3, last)])
        e4, w4 = slots[x4 & mask], uint64(words[min(p4, last)])
        e5, w5 = slots[x5 & mask], uint64(words[min(p5, last)])
        e6, w6 = slots[x6 & mask], uint64(words[min(p6, last)])
        e7, w7 = slots[x7 & mask], uint64(words[min(p7, last)])
        x0 = ((e0 >> b_freq) & freq_mask) * (x0 >> scale_bits) + (e0 >> b_offset)
        x1 = ((e1 >> b_freq) & freq_mask) * (x1 >> scale_bits) + (e1 >> b_offset)
        x2 = ((e2 >> b_freq) & freq_mask) * (x2 >> scale_bits) + (e2 >> b_offset)
        x3 = ((e3 >> b_freq) & freq_mask) * (x3 >> scale_bits) + (e3 >> b_offset)
        x4 = ((e4 >> b_freq) & freq_mask) * (x4 >> scale_bits) + (e4 >> b_offset)
        x5 = ((e5 >> b_freq) & freq_mask) * (x5 >> scale_bits) + (e5 >> b_offset)
        x6 = ((e6 >> b_freq) & freq_mask) * (x6 >> scale_bits) + (e6 >> b_offset)
        x7 = ((e7 >> b_freq) & freq_mask) * (x7 >> scale_bits) + (e7 >> b_offset)
        # renormalise: a state below 2**31 takes its lane's next word (a conditional move)
        c0, c1, c2, c3 = x0 < low, x1 < low, x2 < low, x3 < low
        c4, c5, c6, c7 = x4 < low, x5 < low, x6 < low, x7 < low
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
        out[i] = e0 & symbol_mask
        out[i + one] = e1 & symbol_mask
        out[i + uint64(2)] = e2 & symbol_mask
        out[i + uint64(3)] = e3 & symbol_mask
        out[i + uint64(4)] = e4 & symbol_mask
        out[i + uint64(5)] = e5 & symbol_mask
        out[i + uint64(6)] = e6 & symbol_mask
        out[i + uint64(7)] = e7 & symbol_mask
    # the payload's last 0-7 symbols (its last block only) belong to lanes 0, 1, ... in
    # turn, and need no renormalisation
    lanes = (x0, x1, x2, x3, x4, x5, x6)
    for k in range(count - LANES * rounds):
        out[LANES * rounds + k] = slots[lanes[k] & mask] & symbol_mask
    state[0], state[1], state[2], state[3] = x0, x1, x2, x3
    state[4], state[5], state[6], state[7] = x4, x5, x6, x7
    state[8], state[9], state[10], state[11] = p0, p1, p2, p3
    state[12], state[13], state[14], state[15] = p4, p5, p6, p7


@njit(cache=True, nogil=True)
def decode(words: np.ndarray, count: int, table: np.ndarray) -> np.ndarray:
    """Mirror of :func:`encode` (with no shift): ``count`` symbols (uint32); ``table``
    from :func:`slot_table`. ValueError on a payload whose lane lengths do not fit."""
    if not lanes_valid(words):
        raise ValueError("corrupt rANS payload")
    out = np.zeros(count, dtype=np.uint32)
    decode_block(words, decoder_state(words), table, out, count)
    return out
