"""Multi-symbol range coder over integer frequency tables (64-bit state).

What it does: codes symbols of alphabets from 2 to millions of entries, each given
as (start, freq, total) with integer frequencies, exactly and deterministically.
What it does not do: build the frequency tables (``arzip.coding.frequencies`` does,
one function shared by encoder and decoder) or model anything.

The design is the carry-propagating range coder of LZMA (a ``cache`` byte plus a
count of pending 0xFF bytes absorbs carries) widened to 64-bit arithmetic: ``low``
holds 56 bits plus a carry bit, and ``range`` is renormalised to stay within
[2**48, 2**56]. Totals may be up to 2**32, so r = range // total >= 2**16 and the
coding loss from truncating r is below total / 2**48 of a bit per symbol
(about 6e-8 bits for a total of 2**24).

    state, out = new_encoder(capacity_bytes)
    encode_symbol(state, out, start, freq, total)
    n = finish_encoder(state, out)       # out[:n]; n < 0 on overflow

    state = new_decoder(payload)
    target = decode_target(state, total)   # find s with start[s] <= target < start[s] + freq[s]
    decode_advance(state, payload, start, freq, total)

Invariants: 0 <= low < 2**57; 2**48 <= range <= 2**56 between symbols; the
decoder keeps 0 <= code < range even on corrupt input (it clamps), so its work is
bounded by the number of symbols the caller asks for.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit
from .bytestream import CAP as _CAP
from .bytestream import CODE as _CODE
from .bytestream import COMMON_SLOTS
from .bytestream import OVERFLOW as _OVERFLOW
from .bytestream import POS as _POS
from .bytestream import get_byte as _get_byte
from .bytestream import put_byte as _put_byte

MAX_TOTAL_BITS = 32

_VALUE_BITS = 56
_TOP = 1 << _VALUE_BITS  # low and range live below this
_BOTTOM = 1 << (_VALUE_BITS - 8)  # renormalise when range drops below this
_VALUE_MASK = _TOP - 1

# state slots (int64 array): the interval, the common ones (see bytestream), the carry cache
_LOW, _RANGE = 0, 1
_CACHE, _PENDING, _STARTED = COMMON_SLOTS, COMMON_SLOTS + 1, COMMON_SLOTS + 2
STATE_SIZE = COMMON_SLOTS + 3


def new_encoder(capacity_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh encoder state and an output buffer of ``capacity_bytes`` bytes."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_RANGE] = _VALUE_MASK
    state[_CAP] = capacity_bytes
    return state, np.zeros(max(capacity_bytes, 0), dtype=np.uint8)


@njit(cache=True, nogil=True)
def _shift_low(state: np.ndarray, out: np.ndarray) -> None:
    """Move the top byte of ``low`` into the cache, resolving carries (as in LZMA)."""
    low = state[_LOW]
    carry = low >> _VALUE_BITS
    top_byte = (low >> (_VALUE_BITS - 8)) & 0xFF
    if top_byte != 0xFF or carry:
        # The cached byte and the pending 0xFF bytes are now final.
        # The very first cached byte is always 0 (the code is a fraction below 1): skip it.
        if state[_STARTED]:
            _put_byte(state, out, state[_CACHE] + carry)
        state[_STARTED] = 1
        for _ in range(state[_PENDING]):
            _put_byte(state, out, 0xFF + carry)
        state[_PENDING] = 0
        state[_CACHE] = top_byte
    else:
        state[_PENDING] += 1
    state[_LOW] = (low << 8) & _VALUE_MASK


@njit(cache=True, nogil=True)
def encode_symbol(state: np.ndarray, out: np.ndarray, start: int, freq: int, total: int) -> None:
    """Code the symbol occupying [start, start + freq) of [0, total)."""
    r = state[_RANGE] // total
    state[_LOW] += r * start
    rng = r * freq
    while rng < _BOTTOM:
        _shift_low(state, out)
        rng <<= 8
    state[_RANGE] = rng


@njit(cache=True, nogil=True)
def finish_encoder(state: np.ndarray, out: np.ndarray) -> int:
    """Flush; return the payload length, or -1 if ``out`` overflowed."""
    # Pick the value in [low, low + range) with the most trailing zero bits: the
    # decoder reads bytes past the end as 0, so those need not be written.
    low = state[_LOW]
    high = low + state[_RANGE] - 1
    for shift in range(_VALUE_BITS, -1, -8):
        value = ((low + (1 << shift) - 1) >> shift) << shift
        if value <= high:
            state[_LOW] = value
            break
    for _ in range(_VALUE_BITS // 8 + 1):
        _shift_low(state, out)
    if state[_OVERFLOW]:
        return -1
    n = state[_POS]
    while n > 0 and out[n - 1] == 0:
        n -= 1
    return n


@njit(cache=True, nogil=True)
def new_decoder(payload: np.ndarray) -> np.ndarray:
    """Decoder state at the start of ``payload`` (uint8 array)."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_RANGE] = _VALUE_MASK
    code = 0
    for _ in range(_VALUE_BITS // 8):
        code = (code << 8) | _get_byte(state, payload)
    state[_CODE] = code
    return state


@njit(cache=True, nogil=True)
def decode_target(state: np.ndarray, total: int) -> int:
    """A count in [0, total): the symbol to decode is the one whose span holds it."""
    r = state[_RANGE] // total
    target = state[_CODE] // r
    if target >= total:  # only on corrupt input
        target = total - 1
    return target


@njit(cache=True, nogil=True)
def decode_advance(
    state: np.ndarray, payload: np.ndarray, start: int, freq: int, total: int
) -> None:
    """Consume the symbol [start, start + freq) found with :func:`decode_target`."""
    r = state[_RANGE] // total
    code = state[_CODE] - r * start
    rng = r * freq
    if code < 0 or code >= rng:  # only on corrupt input: stay in range, stay bounded
        code = rng - 1
    while rng < _BOTTOM:
        code = (code << 8) | _get_byte(state, payload)
        rng <<= 8
    state[_CODE] = code
    state[_RANGE] = rng


@njit(cache=True, nogil=True)
def find_symbol(cumulative: np.ndarray, target: int) -> int:
    """The symbol s with cumulative[s] <= target < cumulative[s + 1] (binary search).

    ``cumulative`` has one more entry than the alphabet: cumulative[0] == 0 and
    cumulative[-1] == total.
    """
    lo = 0
    hi = cumulative.shape[0] - 1
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        if cumulative[mid] <= target:
            lo = mid
        else:
            hi = mid
    return lo


@njit(cache=True, nogil=True)
def encode_static(symbols: np.ndarray, cumulative: np.ndarray, capacity_bytes: int) -> np.ndarray:
    """Code ``symbols`` with one fixed table (cumulative frequencies, see :func:`find_symbol`)."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_RANGE] = _VALUE_MASK
    state[_CAP] = capacity_bytes
    out = np.zeros(capacity_bytes, dtype=np.uint8)
    total = cumulative[-1]
    for i in range(symbols.shape[0]):
        s = symbols[i]
        encode_symbol(state, out, cumulative[s], cumulative[s + 1] - cumulative[s], total)
    n = finish_encoder(state, out)
    if n < 0:
        return np.zeros(0, dtype=np.uint8)
    return out[:n].copy()


@njit(cache=True, nogil=True)
def decode_static(payload: np.ndarray, cumulative: np.ndarray, count: int) -> np.ndarray:
    """Mirror of :func:`encode_static`: ``count`` symbols."""
    state = new_decoder(payload)
    total = cumulative[-1]
    symbols = np.zeros(count, dtype=np.int64)
    for i in range(count):
        s = find_symbol(cumulative, decode_target(state, total))
        decode_advance(state, payload, cumulative[s], cumulative[s + 1] - cumulative[s], total)
        symbols[i] = s
    return symbols
