"""Scalar building blocks of the context-mixing model: context hashing.

The table-based components (nibble-bucket hash table, StateMaps, mixers, APMs,
the arithmetic coder) are written out inside the model loop in ``model.py``,
each under a comment naming the idea: numba passes arrays to a called function
with reference-count updates (atomic calls) that cost more per bit than the
component itself, so only functions of plain integers live here.
"""

from __future__ import annotations

from numba import njit

MASK32 = 0xFFFFFFFF


# --- hashing ----------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def hash_mix(h: int, x: int) -> int:
    """Fold value ``x`` into the 32-bit hash ``h`` (multiplicative hashing).

    Both multipliers are below 2**31 and operands below 2**32, so the int64
    products never overflow.
    """
    h = ((h ^ (x & MASK32)) * 0x2D358DCB + 0x9E3779B) & MASK32
    return (h ^ (h >> 15)) & MASK32


@njit(cache=True, nogil=True, inline="always")
def hash_final(h: int) -> int:
    """Avalanche a 32-bit hash so that its low and high bits are both well mixed."""
    h = (h ^ (h >> 16)) * 0x45D9F3B & MASK32
    h = (h ^ (h >> 13)) * 0x3B9AC9F1 & MASK32
    return (h ^ (h >> 16)) & MASK32
