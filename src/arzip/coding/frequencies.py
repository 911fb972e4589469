"""The one function that turns a model's integer scores into a coder's frequency table.

What it does: maps non-negative integer weights (or fixed-point log2 scores,
through an integer softmax) onto integer frequencies that sum to exactly
2**total_bits, every symbol keeping a frequency of at least 1, so any symbol can
be coded whatever the model believed. Encoder and decoder call the same function
on the same integers and get the same table on every machine.
What it does not do: code anything (``arzip.coding.range`` does) or use floats.

Scaling rule: f[i] = 1 + floor(w[i] * (T - n) / W), with T = 2**total_bits, n the
alphabet size and W the sum of weights; the few counts left over by the floors go
to the most probable symbol (the first one on ties). With W == 0 every symbol
gets an equal share.
"""

from __future__ import annotations

from decimal import Decimal, getcontext

import numpy as np

from ..jit import njit

MAX_FREQ_TOTAL_BITS = 30
MAX_WEIGHT = (1 << 32) - 1  # weights beyond this would overflow the int64 products
LOG2_FRAC_BITS = 8  # fixed-point log2 scores: 256 units per bit


def _exp2_fraction_table() -> np.ndarray:
    """round(2**(j/256) * 2**30) for j in 0..255, in exact decimal arithmetic.

    libmpdec is the same software on every machine, so the table is too.
    """
    getcontext().prec = 40
    scale = Decimal(2) ** 30
    return np.array(
        [int((Decimal(2) ** (Decimal(j) / 256) * scale).to_integral_value()) for j in range(256)],
        dtype=np.int64,
    )


EXP2_FRACTION = _exp2_fraction_table()


@njit(cache=True, nogil=True)
def frequencies_from_weights(weights: np.ndarray, total_bits: int) -> np.ndarray:
    """Integer frequencies >= 1 summing to 2**total_bits, proportional to ``weights``."""
    n = weights.shape[0]
    total = np.int64(1) << total_bits
    spare = total - n  # what is left after every symbol's guaranteed 1
    weight_sum = np.int64(0)
    for i in range(n):
        weight_sum += weights[i]
    freqs = np.ones(n, dtype=np.int64)
    if weight_sum == 0:
        share = spare // n
        for i in range(n):
            freqs[i] += share
        freqs[0] += spare - share * n
        return freqs
    assigned = np.int64(0)
    best = 0
    for i in range(n):
        extra = (weights[i] * spare) // weight_sum
        freqs[i] += extra
        assigned += extra
        if weights[i] > weights[best]:
            best = i
    freqs[best] += spare - assigned
    return freqs


@njit(cache=True, nogil=True)
def weights_from_log2_scores(scores: np.ndarray, exp2_fraction: np.ndarray) -> np.ndarray:
    """Integer softmax numerators: 2**((score - max) / 256) * 2**30, truncated.

    ``scores`` are log2-probabilities (up to a constant) in units of 1/256 bit.
    """
    top = scores[0]
    for i in range(scores.shape[0]):
        if scores[i] > top:
            top = scores[i]
    weights = np.zeros(scores.shape[0], dtype=np.int64)
    for i in range(scores.shape[0]):
        e = scores[i] - top  # <= 0
        shift = -(e >> LOG2_FRAC_BITS)  # whole bits below the maximum
        if shift < 62:
            weights[i] = exp2_fraction[e & 255] >> shift
    return weights


def check_frequency_request(alphabet_size: int, total_bits: int) -> None:
    """Raise ValueError unless a table of ``alphabet_size`` fits in 2**total_bits."""
    if not 1 <= total_bits <= MAX_FREQ_TOTAL_BITS:
        raise ValueError(f"total_bits must be in 1..{MAX_FREQ_TOTAL_BITS}, not {total_bits}")
    if not 2 <= alphabet_size <= (1 << total_bits):
        raise ValueError(f"an alphabet of {alphabet_size} symbols does not fit 2**{total_bits}")


def frequency_table(
    scores: np.ndarray, total_bits: int = 24, *, log2_scores: bool = False
) -> np.ndarray:
    """The coder's frequency table for one step of a model.

    ``scores`` are non-negative integer weights (at most 2**32 - 1 each), or with
    ``log2_scores=True`` integer log2-probabilities in units of 1/256 bit (an
    integer softmax turns them into weights first). Returns int64 frequencies,
    each >= 1, summing to exactly 2**total_bits.
    """
    scores = np.ascontiguousarray(scores, dtype=np.int64)
    check_frequency_request(scores.shape[0], total_bits)
    if log2_scores:
        weights = weights_from_log2_scores(scores, EXP2_FRACTION)
    else:
        if scores.min() < 0 or scores.max() > MAX_WEIGHT:
            raise ValueError("weights must lie in [0, 2**32)")
        weights = scores
    return frequencies_from_weights(weights, total_bits)


def cumulative(freqs: np.ndarray) -> np.ndarray:
    """Cumulative table with a leading 0 (the form the range coder searches)."""
    out = np.zeros(freqs.shape[0] + 1, dtype=np.int64)
    np.cumsum(freqs, out=out[1:])
    return out
