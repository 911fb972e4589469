"""The network's inputs: which table rows the bytes before position t select.

What it does: maps the history ``buf[:t]`` to the row numbers of the first
layer's table (one row per feature; the layer sums them): the byte at each of
the last ``N_POSITIONS`` positions, and hashed contexts (order 3 and 5, the
current word, the current word with the previous one; set 2 adds order 4 and
gives the two word features twice the rows). One numba function is used by
training (random positions), by the encoder (every position) and by the decoder
(one position per stream): the features are a function of the last ``WINDOW``
bytes only, so all three agree by construction.
What it does not do: any arithmetic on weights (``arzip.models.nn.network``).
The one idea: a feature set is named by a version that model files record, and
is told apart inside compiled code by its number of features (the length of the
row array), so that the decoder's step needs no other argument.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...jit import njit

N_POSITIONS = 12  # previous bytes seen one by one
POSITION_ROWS = 257  # 256 byte values + "before the start"
WINDOW = 32  # bytes of history the features may read
MAX_WORD = 16  # letters of a word that enter its hash

# rows (as powers of two) of each hashed feature, in row order:
# order-3, order-5, word, word pair[, order-4]
V1_BITS = (13, 13, 13, 13)
V2_BITS = (13, 13, 14, 14, 13)


@dataclass(frozen=True)
class FeatureSet:
    version: int
    hash_bits: tuple[int, ...]  # table rows of each hashed feature, as a power of two

    @property
    def n_features(self) -> int:  # rows summed per position
        return N_POSITIONS + len(self.hash_bits)

    @property
    def n_rows(self) -> int:  # rows of the first layer's table
        return N_POSITIONS * POSITION_ROWS + sum(1 << b for b in self.hash_bits)

    @property
    def name(self) -> str:  # as recorded in model files
        return f"arzip.models.nn.features v{self.version}"


FEATURE_SETS = {1: FeatureSet(1, V1_BITS), 2: FeatureSet(2, V2_BITS)}
LATEST = 2


def feature_set(name: str | int | None) -> FeatureSet | None:
    """The set named by a model file's ``features`` entry (absent: v1), or None if unknown."""
    if name is None:
        return FEATURE_SETS[1]
    if isinstance(name, int):
        return FEATURE_SETS.get(name)
    for fs in FEATURE_SETS.values():
        if fs.name == name:
            return fs
    return None


assert len({fs.n_features for fs in FEATURE_SETS.values()}) == len(FEATURE_SETS)  # told apart by their length

_MASK32 = 0xFFFFFFFF


@njit(cache=True, nogil=True, inline="always")
def _mix(h: int, x: int) -> int:
    h = ((h ^ (x & _MASK32)) * 0x2D358DCB + 0x9E3779B) & _MASK32
    return (h ^ (h >> 15)) & _MASK32


@njit(cache=True, nogil=True, inline="always")
def _bucket(h: int, salt: int, bits: int) -> int:
    # the top bits: a table of 2**(b+1) rows splits each row of the 2**b table in two
    h = (_mix(h, salt) * 0x45D9F3B) & _MASK32
    return (h ^ (h >> 16)) >> (32 - bits)


@njit(cache=True, nogil=True, inline="always")
def _letter(c: int) -> bool:
    lc = c | 32
    return (lc >= 97 and lc <= 122) or c >= 128


@njit(cache=True, nogil=True, inline="always")
def _bits(n_hashed: int, k: int) -> int:
    if n_hashed == 4:
        return V1_BITS[k]
    return V2_BITS[k]


@njit(cache=True, nogil=True)
def features_at(buf: np.ndarray, t: int, out: np.ndarray) -> None:
    """Rows selected by the history buf[:t] (only buf[t-WINDOW:t] is read); ``len(out)``
    (the set's number of features) selects the feature set."""
    n_hashed = out.shape[0] - N_POSITIONS
    for p in range(N_POSITIONS):
        j = t - 1 - p
        out[p] = p * POSITION_ROWS + (buf[j] if j >= 0 else 256)
    h3 = 0
    h4 = 0
    h5 = 0
    for p in range(5):
        j = t - 1 - p
        v = buf[j] if j >= 0 else 256
        if p < 3:
            h3 = _mix(h3, v)
        if p < 4:
            h4 = _mix(h4, v)
        h5 = _mix(h5, v)
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
    word = _mix(w0, sep + 512)
    base = N_POSITIONS * POSITION_ROWS
    for k in range(n_hashed):
        bits = _bits(n_hashed, k)
        if k == 0:
            r = _bucket(h3, 1, bits)
        elif k == 1:
            r = _bucket(h5, 2, bits)
        elif k == 2:
            r = _bucket(word, 3, bits)
        elif k == 3:
            r = _bucket(_mix(word, w1), 4, bits)
        else:
            r = _bucket(h4, 5, bits)
        out[N_POSITIONS + k] = base + r
        base += 1 << bits


@njit(cache=True, nogil=True)
def features_range(buf: np.ndarray, start: int, stop: int, n_features: int) -> np.ndarray:
    """Rows for every position start..stop-1 of ``buf`` (int32, shape (stop-start, n_features))."""
    out = np.empty((stop - start, n_features), dtype=np.int32)
    for t in range(start, stop):
        features_at(buf, t, out[t - start])
    return out


@njit(cache=True, nogil=True)
def features_at_positions(buf: np.ndarray, positions: np.ndarray, starts: np.ndarray, n_features: int) -> np.ndarray:
    """Rows for the given positions of one long buffer (training batches), each
    seeing history from ``max(starts[i], positions[i] - WINDOW)`` on (a chunk start)."""
    out = np.empty((positions.shape[0], n_features), dtype=np.int32)
    for i in range(positions.shape[0]):
        t = positions[i]
        lo = max(t - WINDOW, starts[i], 0)
        features_at(buf[lo:t + 1], t - lo, out[i])
    return out
