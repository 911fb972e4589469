"""Small integer building blocks of the context-mixing model (all inlined by numba).

Each function implements one well-known idea of the paq/lpaq family; the main
loop in ``model.py`` strings them together. All arithmetic is on int64 locals and
flat numpy arrays, so the result is the same on every machine.
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


# --- nibble-bucket hash table, as in lpaq1 ---------------------------------
# One table of 16-byte buckets shared by all hashed contexts. At each nibble
# boundary a context (plus the nibble's leading bits) selects a bucket: byte 0
# is an 8-bit checksum, bytes 1..15 the bit-history states of the 15 nodes of the
# nibble's binary tree. Three neighbouring buckets (same cache line) are probed;
# on a miss the one whose first node has seen the fewest bits is replaced.

@njit(cache=True, nogil=True, inline="always")
def find_bucket(table, h: int, tbits: int, state_n) -> int:
    chk = h & 255
    b = h >> (32 - tbits)
    for k in range(3):
        base = (b ^ k) << 4
        if table[base] == chk:
            return base
    best = b << 4
    best_n = state_n[table[best + 1]]
    for k in range(1, 3):
        base = (b ^ k) << 4
        nk = state_n[table[base + 1]]
        if nk < best_n:
            best_n = nk
            best = base
    for k in range(1, 16):
        table[best + k] = 0
    table[best] = chk
    return best


# --- adaptive state map: bit-history state -> probability (lpaq1 StateMap) --

@njit(cache=True, nogil=True, inline="always")
def sm_update(sm, idx: int, bit: int, limit: int, recip) -> None:
    """Move the 22-bit P(1) in sm[idx] toward the bit at rate 1/(count+1.5).

    An entry packs the probability (high bits) and its count (low 10 bits), so
    one load and one store serve both.
    """
    v = sm[idx]
    n = v & 1023
    p = v >> 10
    p += (((bit << 22) - p) * recip[n]) >> 16
    if n < limit:
        n += 1
    sm[idx] = (p << 10) | n


# --- adaptive probability map / SSE, as in paq8 ------------------------------
# 33 interpolation points over the stretch domain per context; the output is the
# interpolation of the two points around stretch(p), and the nearer point is
# moved toward the coded bit.

@njit(cache=True, nogil=True, inline="always")
def apm_predict(apm, ctx: int, st: int):
    s = st + 2048  # 0..4095
    lo = s >> 7
    w = s & 127
    base = ctx * 33 + lo
    p = (apm[base] * (128 - w) + apm[base + 1] * w) >> 7
    near = base + (w >> 6)
    return p, near


@njit(cache=True, nogil=True, inline="always")
def apm_update(apm, near: int, bit: int, rate: int) -> None:
    apm[near] += ((bit << 16) - apm[near]) >> rate


# --- logistic mixer, as in paq7/lpaq1 -----------------------------------------
# p = squash(sum w_i x_i), weights in 16.16 fixed point, trained online to
# minimise coding cost: w_i += x_i * err * lr.

@njit(cache=True, nogil=True, inline="always")
def mix_dot(weights, base: int, x, n: int) -> int:
    acc = 0
    for k in range(n):
        acc += x[k] * weights[base + k]
    acc >>= 16
    if acc > 2047:
        acc = 2047
    elif acc < -2047:
        acc = -2047
    return acc


@njit(cache=True, nogil=True, inline="always")
def mix_train(weights, base: int, x, n: int, err: int) -> None:
    for k in range(n):
        weights[base + k] += (x[k] * err + 8192) >> 14
