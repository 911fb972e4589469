"""Byte output and input shared by the arithmetic coders, on a small state array.

What it does: the coders keep their state in an int64 array: slots 0 and 1 hold
the coder's interval, slots 2 to 5 mean the same in every coder (write or read
position, code word, output capacity, overflow flag), later slots are the coder's; ``put_byte`` writes into a fixed buffer and
raises the overflow flag instead of writing past it, ``get_byte`` reads 0 past
the end of a payload. Numba inlines both into the coders' loops.
What it does not do: code anything.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit

# slots common to the coders' state arrays (0 and 1 are each coder's interval)
POS, CODE, CAP, OVERFLOW = 2, 3, 4, 5
COMMON_SLOTS = 6  # a coder's own further slots start here


@njit(cache=True, nogil=True, inline="always")
def put_byte(state: np.ndarray, out: np.ndarray, byte: int) -> None:
    pos = state[POS]
    if pos < state[CAP]:
        out[pos] = byte & 0xFF
        state[POS] = pos + 1
    else:
        state[OVERFLOW] = 1


@njit(cache=True, nogil=True, inline="always")
def get_byte(state: np.ndarray, payload: np.ndarray) -> int:
    pos = state[POS]
    state[POS] = pos + 1
    if pos < payload.shape[0]:
        return payload[pos]
    return 0
