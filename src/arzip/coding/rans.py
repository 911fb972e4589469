"""Static rANS with four interleaved states: fast coding of symbols from a stored table.

What it does: codes an array of symbols (alphabet up to 2**16) with one frequency
table of total 2**S (S <= 16, the scale) that both sides know (the caller stores
it), at a few
nanoseconds per symbol, in 64-bit integer arithmetic. Used where a model is a
fixed histogram, as for the exponents of model weights (``arzip.weights``).
What it does not do: adapt (``arzip.coding.range`` and ``arzip.coding.binary``
serve adaptive models) or build or store the table.

The coder is rANS (Duda 2013) in the 64-bit-state, 32-bit-word form: the state x
stays in [2**31, 2**63); four states take symbols in turn so that the decoder's
four chains run in parallel on the CPU. The encoder runs backwards and writes its
words from the end of a buffer; the decoder reads them forwards.

A smaller scale makes the decoder's table smaller (2**S entries: 128 KiB at S = 14
stay in the L2 cache, 512 KiB at 16 do not) and decoding faster, at the price of a
coarser table (callers choose: ``arzip.weights`` uses 14 for up to 4,096 symbols).

Invariants: every coded symbol has freq >= 1; sum(freq) == 2**S; a table with a
single symbol of frequency 2**S is not allowed (there is nothing to
code: the caller stores the symbol instead). The decoder never reads past its
payload (missing words read as 0) and writes exactly ``count`` symbols.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit

SCALE_BITS = 16  # the largest scale
SCALE = 1 << SCALE_BITS
LANES = 4
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
    decoding step makes one lookup: symbol | freq << 16 | offset << 33."""
    table = np.zeros(freqs.sum(), dtype=np.int64)
    for symbol in range(freqs.shape[0]):
        for offset in range(freqs[symbol]):
            table[starts[symbol] + offset] = symbol | (freqs[symbol] << 16) | (offset << 33)
    return table


@njit(cache=True, nogil=True)
def slots_of(symbols: np.ndarray, freqs: np.ndarray, scale_bits: int, symbol_bits: int = 16) -> np.ndarray:
    """:func:`slot_table` from the used symbols alone (ascending) and their frequencies
    (summing to 2**scale_bits): no arrays over the whole alphabet. With ``symbol_bits``
    above 16 (wider symbols) each field moves up: symbol | freq << symbol_bits |
    offset << (symbol_bits + 17)."""
    table = np.empty(1 << scale_bits, dtype=np.int64)
    start = 0
    for k in range(symbols.shape[0]):
        symbol, freq = np.int64(symbols[k]), np.int64(freqs[k])
        for offset in range(freq):
            table[start + offset] = symbol | (freq << symbol_bits) | (np.int64(offset) << (symbol_bits + 17))
        start += freq
    return table


@njit(cache=True, nogil=True, inline="always")
def push(x: int, freq: int, inverse: float, start: int, scale_bits: int) -> int:
    """One encoding step of a state (already renormalised): x // freq through the float
    reciprocal ``inverse`` = 1 / freq, corrected to the exact quotient (x < 2**(63 - S) *
    freq, so the estimate is off by less than one either way). For encoders of one lane
    at a time; :func:`encode` writes the step out for its four."""
    q = np.int64(x * inverse)
    m = x - q * freq
    if m < 0:
        q -= 1
        m += freq
    elif m >= freq:
        q += 1
        m -= freq
    return (q << scale_bits) + m + start


@njit(cache=True, nogil=True)
def encode(
    symbols: np.ndarray, freqs: np.ndarray, starts: np.ndarray, shift: int = 0, scale_bits: int = SCALE_BITS
) -> np.ndarray:
    """Payload (uint32 words) coding ``symbols`` with the table: the symbols are the
    unsigned integers of the array shifted right by ``shift`` bits (the heads of
    weights are their top bits: no separate array of symbols needed)."""
    n = symbols.shape[0]
    # Worst case: each symbol emits at most one word; plus the final states.
    words = np.empty(n + 2 * LANES + 1, dtype=np.uint32)  # filled from the top down; the rest unread
    top = words.shape[0]
    # x // freq through a float reciprocal, then corrected to the exact integer quotient:
    # x < 2**(63 - S) * freq, so the estimate is off by less than one either way.
    inverse = np.zeros(freqs.shape[0], dtype=np.float64)
    for s in range(freqs.shape[0]):
        if freqs[s]:
            inverse[s] = 1.0 / freqs[s]
    bound = (_LOW >> scale_bits) << _WORD_BITS  # x_max / freq: a state at or above it emits a word
    states = np.full(LANES, _LOW, dtype=np.int64)
    rounds = n // LANES
    # backwards: first the last, partial round (lanes 0..), then whole rounds, lane 3 to 0
    for i in range(n - 1, LANES * rounds - 1, -1):
        x = states[i & (LANES - 1)]
        s = np.int64(symbols[i] >> shift)
        if x >= bound * freqs[s]:
            top -= 1
            words[top] = x & _WORD_MASK
            x >>= _WORD_BITS
        f = freqs[s]
        q = np.int64(x * inverse[s])
        m = x - q * f
        if m < 0:
            q -= 1
            m += f
        elif m >= f:
            q += 1
            m -= f
        states[i & (LANES - 1)] = (q << scale_bits) + m + starts[s]
    x0, x1, x2, x3 = states[0], states[1], states[2], states[3]
    for r in range(rounds - 1, -1, -1):
        i = LANES * r
        # four lanes written out so that their chains overlap (as in decode_block); a
        # helper function, even inlined by numba, makes this loop a quarter slower
        s = np.int64(symbols[i + 3] >> shift)
        if x3 >= bound * freqs[s]:
            top -= 1
            words[top] = x3 & _WORD_MASK
            x3 >>= _WORD_BITS
        f = freqs[s]
        q = np.int64(x3 * inverse[s])
        m = x3 - q * f
        if m < 0:
            q -= 1
            m += f
        elif m >= f:
            q += 1
            m -= f
        x3 = (q << scale_bits) + m + starts[s]
        s = np.int64(symbols[i + 2] >> shift)
        if x2 >= bound * freqs[s]:
            top -= 1
            words[top] = x2 & _WORD_MASK
            x2 >>= _WORD_BITS
        f = freqs[s]
        q = np.int64(x2 * inverse[s])
        m = x2 - q * f
        if m < 0:
            q -= 1
            m += f
        elif m >= f:
            q += 1
            m -= f
        x2 = (q << scale_bits) + m + starts[s]
        s = np.int64(symbols[i + 1] >> shift)
        if x1 >= bound * freqs[s]:
            top -= 1
            words[top] = x1 & _WORD_MASK
            x1 >>= _WORD_BITS
        f = freqs[s]
        q = np.int64(x1 * inverse[s])
        m = x1 - q * f
        if m < 0:
            q -= 1
            m += f
        elif m >= f:
            q += 1
            m -= f
        x1 = (q << scale_bits) + m + starts[s]
        s = np.int64(symbols[i] >> shift)
        if x0 >= bound * freqs[s]:
            top -= 1
            words[top] = x0 & _WORD_MASK
            x0 >>= _WORD_BITS
        f = freqs[s]
        q = np.int64(x0 * inverse[s])
        m = x0 - q * f
        if m < 0:
            q -= 1
            m += f
        elif m >= f:
            q += 1
            m -= f
        x0 = (q << scale_bits) + m + starts[s]
    states[0], states[1], states[2], states[3] = x0, x1, x2, x3
    for lane in range(LANES - 1, -1, -1):  # the decoder reads lane 0 first
        x = states[lane]
        top -= 1
        words[top] = x & _WORD_MASK
        top -= 1
        words[top] = x >> _WORD_BITS
    return words[top:].copy()


@njit(cache=True, nogil=True)
def scale_of(table: np.ndarray) -> int:
    """S for a slot table of 2**S entries."""
    bits = 0
    while (1 << bits) < table.shape[0]:
        bits += 1
    return bits


@njit(cache=True, nogil=True)
def decode(words: np.ndarray, count: int, table: np.ndarray) -> np.ndarray:
    """Mirror of :func:`encode`: ``count`` symbols (uint16); ``table`` from :func:`slot_table`."""
    out = np.zeros(count, dtype=np.uint16)
    decode_into(words, out, 0, 0, count, table)
    return out


@njit(cache=True, nogil=True, inline="always")
def _read(words: np.ndarray, pos: int) -> int:
    if pos < words.shape[0]:
        return np.int64(words[pos])
    return 0


@njit(cache=True, nogil=True)
def decode_into(words: np.ndarray, out: np.ndarray, shift: int, first: int, count: int, table: np.ndarray) -> None:
    """Decode ``count`` symbols into out[first:first+count], each shifted left by ``shift``."""
    decode_block(words, decoder_state(words), out, first, count, shift, table)


@njit(cache=True, nogil=True)
def decoder_state(words: np.ndarray) -> np.ndarray:
    """The four lane states read from the payload's start, and the next word's position."""
    state = np.zeros(LANES + 1, dtype=np.int64)
    for lane in range(LANES):
        state[lane] = (_read(words, 2 * lane) << _WORD_BITS) | _read(words, 2 * lane + 1)
    state[LANES] = 2 * LANES
    return state


@njit(cache=True, nogil=True)
def decode_block(
    words: np.ndarray, state: np.ndarray, out: np.ndarray, first: int, count: int, shift: int, table: np.ndarray
) -> None:
    """Continue decoding: ``count`` symbols into out[first:first+count], shifted left by
    ``shift``. Every block but the last must hold a multiple of four symbols."""
    x0, x1, x2, x3, pos = state[0], state[1], state[2], state[3], state[4]
    mask = table.shape[0] - 1
    scale_bits = scale_of(table)
    # Four lanes a round, written out so that each state stays in a register and the
    # four dependency chains overlap in the CPU. On corrupt input the states are
    # garbage, but every step stays bounded.
    rounds = count // LANES
    for r in range(rounds):
        i = first + LANES * r
        e0 = table[x0 & mask]
        e1 = table[x1 & mask]
        e2 = table[x2 & mask]
        e3 = table[x3 & mask]
        x0 = ((e0 >> 16) & 0x1FFFF) * (x0 >> scale_bits) + (e0 >> 33)
        x1 = ((e1 >> 16) & 0x1FFFF) * (x1 >> scale_bits) + (e1 >> 33)
        x2 = ((e2 >> 16) & 0x1FFFF) * (x2 >> scale_bits) + (e2 >> 33)
        x3 = ((e3 >> 16) & 0x1FFFF) * (x3 >> scale_bits) + (e3 >> 33)
        if x0 < _LOW:
            x0 = (x0 << _WORD_BITS) | _read(words, pos)
            pos += 1
        if x1 < _LOW:
            x1 = (x1 << _WORD_BITS) | _read(words, pos)
            pos += 1
        if x2 < _LOW:
            x2 = (x2 << _WORD_BITS) | _read(words, pos)
            pos += 1
        if x3 < _LOW:
            x3 = (x3 << _WORD_BITS) | _read(words, pos)
            pos += 1
        out[i] = (e0 & 0xFFFF) << shift
        out[i + 1] = (e1 & 0xFFFF) << shift
        out[i + 2] = (e2 & 0xFFFF) << shift
        out[i + 3] = (e3 & 0xFFFF) << shift
    i = first + LANES * rounds  # the last 0-3 symbols belong to lanes 0, 1, 2 in turn
    if i < first + count:
        out[i] = (table[x0 & mask] & 0xFFFF) << shift
    if i + 1 < first + count:
        out[i + 1] = (table[x1 & mask] & 0xFFFF) << shift
    if i + 2 < first + count:
        out[i + 2] = (table[x2 & mask] & 0xFFFF) << shift
    state[0], state[1], state[2], state[3], state[4] = x0, x1, x2, x3, pos
