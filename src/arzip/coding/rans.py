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

A smaller scale makes the decoder's table smaller (2**S packed entries of 8 bytes:
128 KiB at S = 14 stay in the L2 cache; at S = 16 a two-level table of 2 bytes a slot
and 8 bytes a symbol, ``slots_of``) and decoding faster, at the price of a coarser
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
SYMBOL_BITS = 18  # the symbol field of a packed slot: alphabets up to 2**18
DENSE_SCALE = 16  # the scale from which the decoder's table takes its dense form (slots_of)
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
def slot_table(freqs: np.ndarray, starts: np.ndarray) -> tuple:
    """The decoder's table (:func:`slots_of`) for frequencies over the whole alphabet
    (``starts`` as :func:`starts_of` gives them, summing to 2**S)."""
    used = np.flatnonzero(freqs)
    total = np.int64(freqs.sum())
    scale_bits = 0
    while (1 << scale_bits) < total:
        scale_bits += 1
    return slots_of(used, freqs[used], scale_bits)


@njit(cache=True, nogil=True)
def slots_of(symbols: np.ndarray, freqs: np.ndarray, scale_bits: int) -> tuple:
    """The decoder's table from the used symbols (ascending) and their frequencies
    (summing to 2**scale_bits), in one of two forms (the other's arrays empty):
    (packed, index, entries).

    Below 2**DENSE_SCALE slots, *packed*: for each slot its symbol, the symbol's
    frequency and the slot's offset within it, in one word (symbol | freq << 18 |
    offset << 35), so that a step makes one lookup. At 2**DENSE_SCALE slots that table
    (512 KiB) falls out of the L2 cache, and the *dense* form is faster: *index*, the
    slot's k (uint16: which of the used symbols), then *entries*, k's freq | start << 16
    | symbol << 32 (uint64: a step's second lookup finds all three)."""
    size = 1 << scale_bits
    dense = scale_bits >= DENSE_SCALE and symbols.shape[0] <= 1 << 16
    packed = np.empty(0 if dense else size, dtype=np.int64)
    index = np.empty(size if dense else 0, dtype=np.uint16)
    entries = np.empty(symbols.shape[0] if dense else 0, dtype=np.uint64)
    start = 0
    for k in range(symbols.shape[0]):
        symbol, freq = np.int64(symbols[k]), np.int64(freqs[k])
        if dense:
            index[start : start + freq] = k
            entries[k] = freq | (start << 16) | (symbol << 32)
        else:
            for offset in range(freq):
                packed[start + offset] = symbol | (freq << SYMBOL_BITS) | (np.int64(offset) << (SYMBOL_BITS + 17))
        start += freq
    return packed, index, entries


def encoder_table(freqs: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """:func:`encode`'s table: for each symbol one 16-byte record, ``freq | start << 32``
    (int64) then 1 / freq (float64; 0 where freq is 0), so that a step finds all three in
    one cache line (three separate arrays cost a step twice the time once the alphabet
    outgrows the L1 cache). Made once when many payloads share a table."""
    starts = starts_of(freqs) if starts is None else starts
    freqs = np.asarray(freqs, dtype=np.int64)
    table = np.zeros(2 * freqs.shape[0], dtype=np.int64)
    table[0::2] = freqs | (np.asarray(starts, dtype=np.int64) << 32)
    used = freqs > 0
    inverse = np.zeros(freqs.shape[0])
    inverse[used] = 1.0 / freqs[used]
    table.view(np.float64)[1::2] = inverse
    return table


@njit(cache=True, nogil=True, inline="always")
def push(x: int, freq: int, inverse: float, start: int, scale_bits: int) -> int:
    """One encoding step of a state (already renormalised; all uint64): x // freq through
    the float reciprocal ``inverse`` = 1 / freq, corrected to the exact quotient (x <
    2**(63 - S) * freq, so the estimate is off by less than one either way; on real tables
    it is corrected about once in a thousand steps, so the branches predict well)."""
    q = uint64(np.float64(x) * inverse)
    m = np.int64(x - q * freq)  # the remainder, -freq < m < 2 * freq
    if m < 0:
        q -= uint64(1)
        m += np.int64(freq)
    elif m >= np.int64(freq):
        q += uint64(1)
        m -= np.int64(freq)
    return (q << scale_bits) + uint64(m) + start


@njit(cache=True, nogil=True, inline="always")
def _encode_step(x, top, s, table, inverse, streams, bound, scale_bits):
    """One symbol into a lane's state ``x``, whose stream is written downwards from
    ``top``. No branch: the low word is always stored below the top, which moves down
    (and the state right) only when the state must renormalise; a stored word the top
    did not pass is overwritten by the next one, or lies outside the output. Everything
    unsigned (uint64): numba then drops its negative-index checks (20% faster)."""
    record = uint64(table[uint64(2) * s])
    f = record & uint64(0xFFFFFFFF)
    emit = uint64(x >= bound * f)
    streams[top - uint64(1)] = x & uint64(_WORD_MASK)
    top -= emit
    x >>= uint64(_WORD_BITS) * emit
    return push(x, f, inverse[uint64(2) * s + uint64(1)], record >> uint64(32), scale_bits), top


@njit(cache=True, nogil=True)
def encode(symbols: np.ndarray, table: np.ndarray, shift: int = 0, scale_bits: int = SCALE_BITS) -> np.ndarray:
    """The payload (uint32 words, the layout in the module docstring) coding
    ``symbols``: the unsigned integers of the array shifted right by ``shift`` bits
    (the heads of weights are their top bits: no separate array of symbols needed).
    ``table`` is :func:`encoder_table` of the frequencies."""
    n = symbols.shape[0]
    inverse = table.view(np.float64)
    capacity = n // LANES + 4  # a lane's symbols emit at most one word each, + its state
    streams = np.empty(LANES * capacity, dtype=np.uint32)
    bound = uint64((_LOW >> scale_bits) << _WORD_BITS)  # x_max / freq: a state at or above it emits a word
    u_shift, u_scale = uint64(shift), uint64(scale_bits)
    states = np.full(LANES, _LOW, dtype=np.uint64)
    tops = np.zeros(LANES, dtype=np.uint64)
    for lane in range(LANES):
        tops[lane] = (lane + 1) * capacity
    # backwards over the symbols; first the last n % 8, then whole groups of eight, the
    # eight lanes' states in registers so that their independent chains overlap
    full = n - n % LANES
    for i in range(n - 1, full - 1, -1):
        lane = i & (LANES - 1)
        states[lane], tops[lane] = _encode_step(
            states[lane], tops[lane], uint64(symbols[i]) >> u_shift, table, inverse, streams, bound, u_scale
        )
    x0, x1, x2, x3, x4, x5, x6, x7 = states[0], states[1], states[2], states[3], states[4], states[5], states[6], states[7]
    t0, t1, t2, t3, t4, t5, t6, t7 = tops[0], tops[1], tops[2], tops[3], tops[4], tops[5], tops[6], tops[7]
    for g in range(full // LANES - 1, -1, -1):
        i = uint64(LANES * g)
        x7, t7 = _encode_step(x7, t7, uint64(symbols[i + uint64(7)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x6, t6 = _encode_step(x6, t6, uint64(symbols[i + uint64(6)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x5, t5 = _encode_step(x5, t5, uint64(symbols[i + uint64(5)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x4, t4 = _encode_step(x4, t4, uint64(symbols[i + uint64(4)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x3, t3 = _encode_step(x3, t3, uint64(symbols[i + uint64(3)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x2, t2 = _encode_step(x2, t2, uint64(symbols[i + uint64(2)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x1, t1 = _encode_step(x1, t1, uint64(symbols[i + uint64(1)]) >> u_shift, table, inverse, streams, bound, u_scale)
        x0, t0 = _encode_step(x0, t0, uint64(symbols[i]) >> u_shift, table, inverse, streams, bound, u_scale)
    states[0], states[1], states[2], states[3], states[4], states[5], states[6], states[7] = x0, x1, x2, x3, x4, x5, x6, x7
    tops[0], tops[1], tops[2], tops[3], tops[4], tops[5], tops[6], tops[7] = t0, t1, t2, t3, t4, t5, t6, t7
    total = LANES
    for lane in range(LANES):
        x = states[lane]
        top = np.int64(tops[lane])
        streams[top - 1] = x & uint64(_WORD_MASK)
        streams[top - 2] = x >> uint64(_WORD_BITS)
        tops[lane] = top - 2
        total += (lane + 1) * capacity - (top - 2)
    words = np.empty(total, dtype=np.uint32)
    at = LANES
    for lane in range(LANES):
        top = np.int64(tops[lane])
        length = (lane + 1) * capacity - top
        words[lane] = length
        words[at : at + length] = streams[top : top + length]
        at += length
    return words


@njit(cache=True, nogil=True)
def scale_of_size(size: int) -> int:
    """S for a table of 2**S slots."""
    bits = 0
    while (1 << bits) < size:
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


@njit(cache=True, nogil=True, inline="always")
def _decode_step(x, p, table, words, last, clamp, dense, mask, scale_bits):
    """One lane's step: (its next state, its next word position, its symbol), from
    either form of the table. The lane's next word is loaded whether or not the
    state takes it (a conditional move, no branch), at a position clamped to the
    payload where ``clamp`` says that the block could run past it."""
    packed, index, entries = table
    slot = x & mask
    word = uint64(words[min(p, last)]) if clamp else uint64(words[p])
    if dense:
        k = uint64(index[slot])
        e = uint64(entries[k])
        x = (e & uint64(0xFFFF)) * (x >> scale_bits) + slot - ((e >> uint64(16)) & uint64(0xFFFF))
        symbol = e >> uint64(32)
    else:
        e = uint64(packed[slot])
        x = ((e >> uint64(SYMBOL_BITS)) & uint64(0x1FFFF)) * (x >> scale_bits) + (e >> uint64(SYMBOL_BITS + 17))
        symbol = e & uint64((1 << SYMBOL_BITS) - 1)
    take = x < uint64(_LOW)
    x = ((x << uint64(_WORD_BITS)) | word) if take else x
    return x, p + uint64(take), symbol


@njit(cache=True, nogil=True, inline="always")
def _decode_rounds(words, table, out, rounds, lanes, last, clamp, dense, mask, scale_bits):
    """``rounds`` rounds of eight symbols into out[:8 * rounds], from the lanes' states
    and word positions ``lanes`` (x0..x7, p0..p7), which it returns advanced."""
    x0, x1, x2, x3, x4, x5, x6, x7, p0, p1, p2, p3, p4, p5, p6, p7 = lanes
    one = uint64(1)
    for r in range(rounds):
        i = uint64(LANES * r)
        x0, p0, s0 = _decode_step(x0, p0, table, words, last, clamp, dense, mask, scale_bits)
        x1, p1, s1 = _decode_step(x1, p1, table, words, last, clamp, dense, mask, scale_bits)
        x2, p2, s2 = _decode_step(x2, p2, table, words, last, clamp, dense, mask, scale_bits)
        x3, p3, s3 = _decode_step(x3, p3, table, words, last, clamp, dense, mask, scale_bits)
        x4, p4, s4 = _decode_step(x4, p4, table, words, last, clamp, dense, mask, scale_bits)
        x5, p5, s5 = _decode_step(x5, p5, table, words, last, clamp, dense, mask, scale_bits)
        x6, p6, s6 = _decode_step(x6, p6, table, words, last, clamp, dense, mask, scale_bits)
        x7, p7, s7 = _decode_step(x7, p7, table, words, last, clamp, dense, mask, scale_bits)
        out[i] = s0
        out[i + one] = s1
        out[i + uint64(2)] = s2
        out[i + uint64(3)] = s3
        out[i + uint64(4)] = s4
        out[i + uint64(5)] = s5
        out[i + uint64(6)] = s6
        out[i + uint64(7)] = s7
    return x0, x1, x2, x3, x4, x5, x6, x7, p0, p1, p2, p3, p4, p5, p6, p7


@njit(cache=True, nogil=True, inline="always")
def _symbol_of(table, x, mask):
    """The symbol of a state's slot (no step taken)."""
    packed, index, entries = table
    if index.shape[0] > 0:
        return uint64(entries[index[x & mask]]) >> uint64(32)
    return uint64(packed[x & mask]) & uint64((1 << SYMBOL_BITS) - 1)


@njit(cache=True, nogil=True)
def decode_block(words: np.ndarray, state: np.ndarray, table: tuple, out: np.ndarray, count: int) -> None:
    """Continue decoding: the next ``count`` symbols into out[:count] (``table`` from
    :func:`slots_of`). Every block but the last must hold a multiple of eight symbols.

    The eight lanes are written out, each state and word position in a register;
    everything is unsigned (uint64), so numba drops its negative-index checks. A lane
    reads at most one word a round: where every lane's position stays inside the
    payload for the whole block, the word loads go unchecked; otherwise (the payload's
    end, or a corrupt payload) each is clamped to it. Nothing outside the words is
    read; on corrupt input the symbols are garbage."""
    dense = table[1].shape[0] > 0
    size = table[1].shape[0] if dense else table[0].shape[0]
    last = uint64(words.shape[0] - 1)
    mask = uint64(size - 1)
    scale_bits = uint64(scale_of_size(size))
    lanes = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7],
             state[8], state[9], state[10], state[11], state[12], state[13], state[14], state[15])
    rounds = count // LANES
    farthest = max(state[8], state[9], state[10], state[11], state[12], state[13], state[14], state[15])
    inside = farthest + uint64(rounds) <= last
    if inside and dense:
        lanes = _decode_rounds(words, table, out, rounds, lanes, last, False, True, mask, scale_bits)
    elif inside:
        lanes = _decode_rounds(words, table, out, rounds, lanes, last, False, False, mask, scale_bits)
    elif dense:
        lanes = _decode_rounds(words, table, out, rounds, lanes, last, True, True, mask, scale_bits)
    else:
        lanes = _decode_rounds(words, table, out, rounds, lanes, last, True, False, mask, scale_bits)
    # the payload's last 0-7 symbols (its last block only) belong to lanes 0, 1, ... in
    # turn, and need no renormalisation
    for k in range(count - LANES * rounds):
        out[LANES * rounds + k] = _symbol_of(table, lanes[k], mask)
    for j in range(2 * LANES):
        state[j] = lanes[j]


@njit(cache=True, nogil=True)
def decode(words: np.ndarray, count: int, table: np.ndarray) -> np.ndarray:
    """Mirror of :func:`encode` (with no shift): ``count`` symbols (uint32); ``table``
    from :func:`slot_table`. ValueError on a payload whose lane lengths do not fit."""
    if not lanes_valid(words):
        raise ValueError("corrupt rANS payload")
    out = np.zeros(count, dtype=np.uint32)
    decode_block(words, decoder_state(words), table, out, count)
    return out
