"""The network's inputs: which table rows the bytes before position t select.

What it does: maps the history ``buf[:t]`` to ``N_FEATURES`` row numbers of the
first layer's table (one row per feature; the layer sums them): the byte at each
of the last ``N_POSITIONS`` positions, and hashed contexts (order 3 and 5, the
current word, the current word with the previous one). One numba function is
used by training (random positions), by the encoder (every position) and by the
decoder (one position per stream): the features are a function of the last
``WINDOW`` bytes only, so all three agree by construction.
What it does not do: any arithmetic on weights (``arzip.models.nn.network``).
"""

from __future__ import annotations

import numpy as np
from numba import njit

N_POSITIONS = 12  # previous bytes seen one by one
POSITION_ROWS = 257  # 256 byte values + "before the start"
HASH_BITS = 13  # rows of each hashed feature's table
N_HASHED = 4  # order-3, order-5, word, word pair
N_FEATURES = N_POSITIONS + N_HASHED
N_ROWS = N_POSITIONS * POSITION_ROWS + N_HASHED * (1 << HASH_BITS)
WINDOW = 32  # bytes of history the features may read
MAX_WORD = 16  # letters of a word that enter its hash

_MASK32 = 0xFFFFFFFF


@njit(cache=True, nogil=True, inline="always")
def _mix(h: int, x: int) -> int:
    h = ((h ^ (x & _MASK32)) * 0x2D358DCB + 0x9E3779B) & _MASK32
    return (h ^ (h >> 15)) & _MASK32


@njit(cache=True, nogil=True, inline="always")
def _bucket(h: int, salt: int) -> int:
    h = (_mix(h, salt) * 0x45D9F3B) & _MASK32
    return (h ^ (h >> 16)) >> (32 - HASH_BITS)


@njit(cache=True, nogil=True, inline="always")
def _letter(c: int) -> bool:
    lc = c | 32
    return (lc >= 97 and lc <= 122) or c >= 128


@njit(cache=True, nogil=True)
def features_at(buf: np.ndarray, t: int, out: np.ndarray) -> None:
    """Rows selected by the history buf[:t] (only buf[t-WINDOW:t] is read)."""
    for p in range(N_POSITIONS):
        j = t - 1 - p
        out[p] = p * POSITION_ROWS + (buf[j] if j >= 0 else 256)
    base = N_POSITIONS * POSITION_ROWS
    h3 = 0
    h5 = 0
    for p in range(5):
        j = t - 1 - p
        v = buf[j] if j >= 0 else 256
        if p < 3:
            h3 = _mix(h3, v)
        h5 = _mix(h5, v)
    out[N_POSITIONS] = base + _bucket(h3, 1)
    out[N_POSITIONS + 1] = base + (1 << HASH_BITS) + _bucket(h5, 2)
    # current word (letters just before t, case-folded) and the word before it
    lo = max(t - WINDOW, 0)
    j = t - 1
    w0 = 0
    n0 = 0
    while j >= lo and _letter(buf[j]):
        if n0 < MAX_WORD:
            w0 = _mix(w0, buf[j] | 32)
        n0 += 1
        j -= 1
    sep = buf[t - 1] if n0 == 0 and t > 0 else 0  # the separator when no word is open
    while j >= lo and not _letter(buf[j]):
        j -= 1
    w1 = 0
    n1 = 0
    while j >= lo and _letter(buf[j]):
        if n1 < MAX_WORD:
            w1 = _mix(w1, buf[j] | 32)
        n1 += 1
        j -= 1
    out[N_POSITIONS + 2] = base + 2 * (1 << HASH_BITS) + _bucket(_mix(w0, sep + 512), 3)
    out[N_POSITIONS + 3] = base + 3 * (1 << HASH_BITS) + _bucket(_mix(_mix(w0, sep + 512), w1), 4)


@njit(cache=True, nogil=True)
def features_range(buf: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows for every position start..stop-1 of ``buf`` (int32, shape (stop-start, N_FEATURES))."""
    out = np.empty((stop - start, N_FEATURES), dtype=np.int32)
    for t in range(start, stop):
        features_at(buf, t, out[t - start])
    return out


@njit(cache=True, nogil=True)
def features_at_positions(buf: np.ndarray, positions: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Rows for the given positions of one long buffer (training batches), each
    seeing history from ``max(starts[i], positions[i] - WINDOW)`` on (a chunk start)."""
    out = np.empty((positions.shape[0], N_FEATURES), dtype=np.int32)
    for i in range(positions.shape[0]):
        t = positions[i]
        lo = max(t - WINDOW, starts[i], 0)
        features_at(buf[lo:t + 1], t - lo, out[i])
    return out
