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


@njit(cache=True, nogil=True, inline="always")
def _decode_step(x, p, slots, words, last, clamp, mask, scale_bits):
    """One lane's step: (its next state, its next word position, the slot's entry).
    The lane's next word is loaded whether or not the state takes it (a conditional
    move, no branch), at a position clamped to the payload where ``clamp`` says that
    the block could run past it."""
    e = slots[x & mask]
    word = uint64(words[min(p, last)]) if clamp else uint64(words[p])
    x = ((e >> uint64(SYMBOL_BITS)) & uint64(0x1FFFF)) * (x >> scale_bits) + (e >> uint64(SYMBOL_BITS + 17))
    take = x < uint64(_LOW)
    x = ((x << uint64(_WORD_BITS)) | word) if take else x
    return x, p + uint64(take), e


@njit(cache=True, nogil=True, inline="always")
def _decode_rounds(words, slots, out, rounds, lanes, last, clamp, mask, scale_bits):
    """``rounds`` rounds of eight symbols into out[:8 * rounds], from the lanes' states
    and word positions ``lanes`` (x0..x7, p0..p7), which it returns advanced."""
    x0, x1, x2, x3, x4, x5, x6, x7, p0, p1, p2, p3, p4, p5, p6, p7 = lanes
    one, symbol_mask = uint64(1), uint64((1 << SYMBOL_BITS) - 1)
    for r in range(rounds):
        i = uint64(LANES * r)
        x0, p0, e0 = _decode_step(x0, p0, slots, words, last, clamp, mask, scale_bits)
        x1, p1, e1 = _decode_step(x1, p1, slots, words, last, clamp, mask, scale_bits)
        x2, p2, e2 = _decode_step(x2, p2, slots, words, last, clamp, mask, scale_bits)
        x3, p3, e3 = _decode_step(x3, p3, slots, words, last, clamp, mask, scale_bits)
        x4, p4, e4 = _decode_step(x4, p4, slots, words, last, clamp, mask, scale_bits)
        x5, p5, e5 = _decode_step(x5, p5, slots, words, last, clamp, mask, scale_bits)
        x6, p6, e6 = _decode_step(x6, p6, slots, words, last, clamp, mask, scale_bits)
        x7, p7, e7 = _decode_step(x7, p7, slots, words, last, clamp, mask, scale_bits)
        out[i] = e0 & symbol_mask
        out[i + one] = e1 & symbol_mask
        out[i + uint64(2)] = e2 & symbol_mask
        out[i + uint64(3)] = e3 & symbol_mask
        out[i + uint64(4)] = e4 & symbol_mask
        out[i + uint64(5)] = e5 & symbol_mask
        out[i + uint64(6)] = e6 & symbol_mask
        out[i + uint64(7)] = e7 & symbol_mask
    return x0, x1, x2, x3, x4, x5, x6, x7, p0, p1, p2, p3, p4, p5, p6, p7


@njit(cache=True, nogil=True)
def decode_block(words: np.ndarray, state: np.ndarray, table: np.ndarray, out: np.ndarray, count: int) -> None:
    """Continue decoding: the next ``count`` symbols into out[:count] (``table`` from
    :func:`slot_table`). Every block but the last must hold a multiple of eight symbols.

    The eight lanes are written out, each state and word position in a register;
    everything is unsigned (uint64), so numba drops its negative-index checks. A lane
    reads at most one word a round: where every lane's position stays inside the
    payload for the whole block, the word loads go unchecked; otherwise (the payload's
    end, or a corrupt payload) each is clamped to it. Nothing outside the words is
    read; on corrupt input the symbols are garbage."""
    last = uint64(words.shape[0] - 1)
    mask = uint64(table.shape[0] - 1)
    scale_bits = uint64(scale_of(table))
    slots = table.view(np.uint64)
    lanes = (state[0], state[1], state[2], state[3], state[4], state[5], state[6], state[7],
             state[8], state[9], state[10], state[11], state[12], state[13], state[14], state[15])
    rounds = count // LANES
    farthest = max(state[8], state[9], state[10], state[11], state[12], state[13], state[14], state[15])
    if farthest + uint64(rounds) <= last:
        lanes = _decode_rounds(words, slots, out, rounds, lanes, last, False, mask, scale_bits)
    else:
        lanes = _decode_rounds(words, slots, out, rounds, lanes, last, True, mask, scale_bits)
    # the payload's last 0-7 symbols (its last block only) belong to lanes 0, 1, ... in
    # turn, and need no renormalisation
    symbol_mask = uint64((1 << SYMBOL_BITS) - 1)
    for k in range(count - LANES * rounds):
        out[LANES * rounds + k] = slots[lanes[k] & mask] & symbol_mask
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
