"""Scalar building blocks of the context-mixing models: context hashing, the probability
counter's step, unsigned array indices, small shared tables and prefetching.

The table-based components (nibble-bucket hash table, StateMaps, mixers, APMs,
the arithmetic coder) are written out inside the model loop in ``model.py``,
each under a comment naming the idea: numba passes arrays to a called function
with reference-count updates (atomic calls) that cost more per bit than the
component itself, so only functions of plain integers live here.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from ...jit import njit

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


# --- text ---------------------------------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def is_letter(c: int) -> bool:
    """A byte of a word: an ASCII letter, or any byte >= 128 (UTF-8 letters and the like)."""
    lc = c | 32
    return (lc >= 97 and lc <= 122) or c >= 128


# --- array indexing -------------------------------------------------------------

at = np.uint64
"""An array index known to be non-negative, as ``table[at(i)]``: numba compiles an index of
a signed type with code for negative (from-the-end) indices, a test and an add at every
lookup, and the register they hold; an unsigned index has none. About 9% of the
instructions of level 1's loop. Only for indices that are never negative (a negative
one would be read as a huge index)."""


# --- adaptive probability counter --------------------------------------------

@njit(cache=True, nogil=True, inline="always")
def moved(v: int, target: int, rate: int, limit: int) -> int:
    """A probability counter (zpaq's "CM": 22-bit P(1) << 10 | a 10-bit count) moved toward
    ``target`` (the bit << 22) by ``rate`` / 65536 (``RECIP[count]``: 1/(count + 1.5)), its
    count raised up to ``limit``."""
    count = v & 1023
    p = v >> 10
    p += ((target - p) * rate) >> 16
    return (p << 10) | (count + (count < limit))


# --- small shared tables ----------------------------------------------------

def _salts() -> np.ndarray:
    """16 well-mixed 32-bit constants: the second nibble's bucket hash of a context is
    the first nibble's xor the salt of the first nibble's value."""
    out = []
    for k in range(16):
        h = ((k + 1) * 0x9E3779B1) & 0xFFFFFFFF
        h = ((h ^ (h >> 16)) * 0x45D9F3B) & 0xFFFFFFFF
        h = ((h ^ (h >> 13)) * 0x3B9AC9F1) & 0xFFFFFFFF
        out.append(h ^ (h >> 16))
    return np.array(out, dtype=np.int64)


NIBBLE_SALT = _salts()
# adaptation rates of the probability counters: 1/(n + 1.5) in 1/65536
RECIP = np.array([131072 // (2 * n + 3) for n in range(1024)], dtype=np.int32)


# --- prefetching --------------------------------------------------------------

@intrinsic
def prefetch(typingctx, array, index):
    """Ask the CPU to bring ``array[index]``'s cache line in (``llvm.prefetch``).

    Unlike an ordinary load whose value is then used, a prefetch never waits for
    the memory and never faults (an address past the end is harmless), so the
    cache misses of several table lookups overlap the work done before them.
    """
    if not isinstance(array, types.Array) or not isinstance(index, types.Integer):
        return None

    def codegen(context, builder, signature, args):
        array_type = signature.args[0]
        view = context.make_array(array_type)(context, builder, args[0])
        byte_ptr = ir.IntType(8).as_pointer()
        address = builder.bitcast(builder.gep(view.data, [args[1]]), byte_ptr)
        int32 = ir.IntType(32)
        fn_type = ir.FunctionType(ir.VoidType(), [byte_ptr, int32, int32, int32])
        fn = builder.module.declare_intrinsic("llvm.prefetch", [byte_ptr], fn_type)
        # read (0), keep in all cache levels (3), data cache (1)
        builder.call(fn, [address, ir.Constant(int32, 0), ir.Constant(int32, 3), ir.Constant(int32, 1)])
        return context.get_dummy_value()

    return types.void(array, index), codegen
