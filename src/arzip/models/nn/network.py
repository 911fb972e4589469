"""Integer-exact inference of the built-in network: int8 weights, uint8 activations.

What it does: turns the feature rows of positions (``arzip.models.nn.features``)
into next-byte log2 scores and coder frequencies, with integers only, so that a
full-sequence pass (the encoder), one step per stream (the decoder), any batch
size, any thread count and any CPU give the same numbers.

The arithmetic, layer by layer (SHIFT = 24, ``>>`` floors):

* layer 1: ``acc = sum of the F int8 table rows`` (|acc| <= F * 127, int32);
  ``a1 = clamp((acc * mul1 + add1) >> SHIFT, 0, 255)`` (int64 products);
* layer 2: ``acc = a1 @ w2`` with a1 in [0, 255] and w2 int8 in [-127, 127];
  ``a2 = clamp((acc * mul2 + add2) >> SHIFT, 0, 255)``;
* layer 3: ``acc = a2 @ w3``; ``score = (acc * mul3 + add3) >> SHIFT``: log2
  probability up to a constant, in units of 1/256 bit;
* the frequency table of each position is ``arzip.coding.frequencies``'
  integer softmax of the scores (the one function the coders use).

The matrix products run on float32 BLAS and are exact: every operand is an
integer, every product is at most 255 * 127 = 32385, and every partial sum, in
whatever order or blocking the library adds them, is at most K * 32385 < 2**24
for K <= 518 inputs, so every intermediate value is an integer that float32
represents exactly. ``Network`` asserts this bound for its shapes on load.
What it does not do: choose features, mix with the context model, or code.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import modelfile
from ...coding.frequencies import EXP2_FRACTION, frequencies_from_weights, weights_from_log2_scores
from ...errors import ModelError
from ...jit import njit
from .features import FeatureSet, feature_set, features_at, features_range

SHIFT = 24
ACT_MAX = 255  # activations are unsigned bytes
W_MAX = 127  # weights are int8 in [-127, 127]
FLOAT32_EXACT = 1 << 24  # integers below this are exact in float32
FREQ_BITS = 16  # coder frequencies of one byte sum to 2**16


@njit(cache=True, nogil=True)
def _layer1(table, rows, mul, add):
    n, f = rows.shape
    h = table.shape[1]
    out = np.empty((n, h), dtype=np.float32)
    acc = np.empty(h, dtype=np.int32)
    for i in range(n):
        acc[:] = 0
        for k in range(f):
            r = rows[i, k]
            for j in range(h):
                acc[j] += table[r, j]
        for j in range(h):
            v = (np.int64(acc[j]) * mul[j] + add[j]) >> SHIFT
            out[i, j] = min(max(v, 0), ACT_MAX)
    return out


@njit(cache=True, nogil=True)
def _requantise(acc, mul, add):
    n, h = acc.shape
    out = np.empty((n, h), dtype=np.float32)
    for i in range(n):
        for j in range(h):
            v = (np.int64(acc[i, j]) * mul[j] + add[j]) >> SHIFT
            out[i, j] = min(max(v, 0), ACT_MAX)
    return out


@njit(cache=True, nogil=True)
def _scores(acc, mul, add):
    n, h = acc.shape
    out = np.empty((n, h), dtype=np.int64)
    for i in range(n):
        for j in range(h):
            out[i, j] = (np.int64(acc[i, j]) * mul[j] + add[j]) >> SHIFT
    return out


@njit(cache=True, nogil=True)
def frequency_rows(scores, total_bits, exp2_fraction):
    """One coder frequency table per row of log2 scores (int32, each row sums to 2**total_bits)."""
    n = scores.shape[0]
    out = np.empty((n, scores.shape[1]), dtype=np.int32)
    for i in range(n):
        out[i] = frequencies_from_weights(weights_from_log2_scores(scores[i], exp2_fraction), total_bits)
    return out


@njit(cache=True, nogil=True)
def _cost_bits(freqs, targets, total_bits):
    bits = 0.0
    for i in range(targets.shape[0]):
        bits += total_bits - np.log2(freqs[i, targets[i]])
    return bits


@dataclass
class Network:
    """A loaded model: call :meth:`scores` / :meth:`frequencies` on feature rows."""

    meta: dict
    features: FeatureSet  # which rows the history selects (the model file's ``features``)
    digest: bytes  # SHA-256 of the model file (its identity in .arz headers)
    table: np.ndarray
    mul1: np.ndarray
    add1: np.ndarray
    w2: np.ndarray  # float32 copies of the int8 weights, for BLAS
    mul2: np.ndarray
    add2: np.ndarray
    w3: np.ndarray
    mul3: np.ndarray
    add3: np.ndarray

    @classmethod
    def from_arrays(cls, meta: dict, arrays: dict[str, np.ndarray], digest: bytes, source: str) -> Network:
        try:
            features = feature_set(meta.get("features"))
            table = np.ascontiguousarray(arrays["table"], dtype=np.int8)
            w2 = arrays["w2"].astype(np.float32)
            w3 = arrays["w3"].astype(np.float32)
            net = cls(meta, features, digest, table,
                      *(np.ascontiguousarray(arrays[k], dtype=np.int64) for k in ("mul1", "add1")),
                      w2, *(np.ascontiguousarray(arrays[k], dtype=np.int64) for k in ("mul2", "add2")),
                      w3, *(np.ascontiguousarray(arrays[k], dtype=np.int64) for k in ("mul3", "add3")))
        except (KeyError, ValueError) as error:
            raise ModelError(f"{source}: not a model this arzip can run ({error})") from None
        if (meta.get("kind") != "byte-mlp" or meta.get("shift") != SHIFT or features is None
                or table.shape[0] != features.n_rows):
            raise ModelError(f"{source}: model kind or features unknown to this arzip")
        h1, h2 = table.shape[1], w2.shape[1]
        if w2.shape[0] != h1 or w3.shape != (h2, 256):
            raise ModelError(f"{source}: inconsistent layer shapes")
        if features.n_features * W_MAX >= 1 << 31:  # layer 1 sums int8 rows in int32
            raise ModelError(f"{source}: too many features for the int32 sum")
        # the exactness bound of the float32 products (see the module docstring)
        for name, w in (("w2", w2), ("w3", w3)):
            if np.abs(w).max() > W_MAX or w.shape[0] * ACT_MAX * W_MAX >= FLOAT32_EXACT:
                raise ModelError(f"{source}: layer {name} breaks the float32 exactness bound")
        return net

    @property
    def hidden(self) -> tuple[int, int]:
        return self.table.shape[1], self.w2.shape[1]

    def rows(self, buf: np.ndarray, start: int, stop: int) -> np.ndarray:
        """Feature rows of positions start..stop-1 of ``buf`` (history read from ``buf`` itself)."""
        return features_range(np.ascontiguousarray(buf, dtype=np.uint8), start, stop, self.features.n_features)

    def scores(self, rows: np.ndarray) -> np.ndarray:
        """(N, F) feature rows -> (N, 256) int64 log2 scores (1/256 bit units)."""
        a1 = _layer1(self.table, np.ascontiguousarray(rows, dtype=np.int32), self.mul1, self.add1)
        a2 = _requantise(a1 @ self.w2, self.mul2, self.add2)
        return _scores(a2 @ self.w3, self.mul3, self.add3)

    def frequencies(self, rows: np.ndarray, total_bits: int = FREQ_BITS) -> np.ndarray:
        """(N, F) feature rows -> (N, 256) int32 coder frequencies summing to 2**total_bits."""
        return frequency_rows(self.scores(rows), total_bits, EXP2_FRACTION)

    def step_arrays(self) -> tuple:
        """The weights in the order :func:`step_frequencies` takes them."""
        return (self.table, self.mul1, self.add1, self.w2, self.mul2, self.add2, self.w3, self.mul3, self.add3)

    def scratch(self) -> tuple:
        """Scratch arrays for :func:`step_frequencies` (rows, a1, a2, acc)."""
        width = max(self.hidden[0], self.hidden[1], 256)
        return (np.zeros(self.features.n_features, np.int32), np.zeros(self.hidden[0], np.float32),
                np.zeros(self.hidden[1], np.float32), np.zeros(width, np.float32))

    def bits_per_byte(self, data: np.ndarray, chunk_bytes: int = 1 << 20) -> float:
        """Ideal code length of ``data`` (one chunk per ``chunk_bytes``) under this model, per byte."""
        data = np.ascontiguousarray(data, dtype=np.uint8)
        bits = 0.0
        for lo in range(0, len(data), chunk_bytes):
            chunk = data[lo:lo + chunk_bytes]
            for s in range(0, len(chunk), 16384):
                rows = self.rows(chunk, s, min(s + 16384, len(chunk)))
                freqs = self.frequencies(rows)
                bits += _cost_bits(freqs, chunk[s:s + 16384], FREQ_BITS)
        return bits / max(len(data), 1)


def load_network(path: str | Path) -> Network:
    meta, arrays, digest = modelfile.load(path)
    return Network.from_arrays(meta, arrays, digest, str(path))


@njit(cache=True, nogil=True)
def step_frequencies(buf, t, table, mul1, add1, w2, mul2, add2, w3, mul3, add3, total_bits, exp2_fraction,
                     rows, a1, a2, acc, out):
    """Frequencies of byte t from buf[:t], one position at a time (the decoder's step).

    The same integers as :meth:`Network.frequencies` on ``Network.rows(buf, t, t + 1)``
    (``len(rows)`` selects the feature set):
    the products are summed in float32 in another order than BLAS uses, which the
    exactness bound makes irrelevant. ``rows``, ``a1``, ``a2``, ``acc`` are scratch.
    """
    features_at(buf, t, rows)
    h1 = table.shape[1]
    h2 = w2.shape[1]
    for j in range(h1):
        acc[j] = 0.0
    for k in range(rows.shape[0]):
        r = rows[k]
        for j in range(h1):
            acc[j] += table[r, j]
    for j in range(h1):
        v = (np.int64(acc[j]) * mul1[j] + add1[j]) >> SHIFT
        a1[j] = min(max(v, 0), ACT_MAX)
    for j in range(h2):
        acc[j] = 0.0
    for k in range(h1):
        x = a1[k]
        if x != 0.0:
            for j in range(h2):
                acc[j] += x * w2[k, j]
    for j in range(h2):
        v = (np.int64(acc[j]) * mul2[j] + add2[j]) >> SHIFT
        a2[j] = min(max(v, 0), ACT_MAX)
    for j in range(256):
        acc[j] = 0.0
    for k in range(h2):
        x = a2[k]
        if x != 0.0:
            for j in range(256):
                acc[j] += x * w3[k, j]
    scores = np.empty(256, dtype=np.int64)
    for j in range(256):
        scores[j] = (np.int64(acc[j]) * mul3[j] + add3[j]) >> SHIFT
    freqs = frequencies_from_weights(weights_from_log2_scores(scores, exp2_fraction), total_bits)
    for j in range(256):
        out[j] = freqs[j]
