"""The compiled steps of making a ``tensor`` frame's head table, and of reading one back.

What it does: from the counts of the used symbols, the frequencies at the coarsest
rANS scale that costs little over the finest (``frequencies_at_coarsest_scale``),
``arzip.coding.rans.encoder_table``'s table with the used symbols at given indices of
a wider alphabet (``encoder_table_at``), and the gaps between used symbols that the
stored table holds (``symbol_gaps``); for the decoder, the symbols back from their gaps,
with the stored table's checks (``symbols_from_gaps``). Each is one call of a few
microseconds where the numpy steps it replaces took tens (a tensor of 150,000 values
codes in about 400). They keep the GIL: a hand-off to another thread costs more.
The frequencies are those of ``arzip.coding.frequencies.frequency_table`` (the same
integer rule); the choice of scale alone uses floats, and the decoder reads the scale.
What it does not do: store or read tables (``tensor_codec``), or code anything.
"""

from __future__ import annotations

import numpy as np

from ..coding.frequencies import frequencies_from_weights
from ..jit import njit


@njit(cache=True)
def frequencies_at_coarsest_scale(
    counts: np.ndarray, fine_bits: int, scales: np.ndarray, most_symbols: np.ndarray, max_extra_bits: float
) -> tuple:
    """(frequencies, scale bits): the table of ``counts`` (all > 0) at the first scale of
    ``scales`` (coarsest first) that allows ``len(counts)`` symbols (``most_symbols``) and
    codes the counts in at most ``max_extra_bits`` more than at ``fine_bits``; else at
    ``fine_bits``."""
    fine = frequencies_from_weights(counts, fine_bits)
    for k in range(scales.shape[0]):
        scale_bits = scales[k]
        if counts.shape[0] > most_symbols[k]:
            continue
        coarse = frequencies_from_weights(counts, scale_bits)
        extra = 0.0
        for i in range(counts.shape[0]):
            extra += counts[i] * (np.log2(fine[i] / coarse[i]) + (scale_bits - fine_bits))
        if extra <= max_extra_bits:
            return coarse, scale_bits
    return fine, fine_bits


@njit(cache=True)
def encoder_table_at(indices: np.ndarray, frequencies: np.ndarray, size: int) -> np.ndarray:
    """``arzip.coding.rans.encoder_table`` over ``size`` symbols where symbol
    ``indices[j]`` (ascending) has ``frequencies[j]`` and the others none: per symbol
    ``freq | start << 32`` (int64), then 1 / freq as a float64 (0 where freq is 0)."""
    table = np.zeros(2 * size, dtype=np.int64)
    inverse = table.view(np.float64)
    start = 0
    for j in range(indices.shape[0]):
        at = 2 * indices[j]
        table[at] = frequencies[j] | (start << 32)
        inverse[at + 1] = 1.0 / frequencies[j]
        start += frequencies[j]
    return table


@njit(cache=True)
def symbol_gaps(symbols: np.ndarray) -> np.ndarray:
    """The unused symbols before each used one (``symbols`` ascending): the first symbol,
    then the difference to the one before less one."""
    gaps = np.empty(symbols.shape[0], dtype=np.int64)
    previous = -1
    for j in range(symbols.shape[0]):
        gaps[j] = symbols[j] - previous - 1
        previous = symbols[j]
    return gaps


@njit(cache=True)
def symbols_from_gaps(gaps: np.ndarray, frequencies: np.ndarray, size: int, total: int) -> tuple:
    """(the used symbols of a stored table, whether the table is sound: every symbol below
    ``size``, every frequency at least 1, the frequencies summing to ``total``)."""
    symbols = np.empty(gaps.shape[0], dtype=np.int64)
    symbol = -1
    frequency_sum = 0
    sound = True
    for j in range(gaps.shape[0]):
        symbol += gaps[j] + 1
        symbols[j] = symbol
        sound = sound and frequencies[j] >= 1
        frequency_sum += frequencies[j]
    return symbols, sound and symbol < size and frequency_sum == total
