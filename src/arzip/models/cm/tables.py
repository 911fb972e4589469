"""Fixed tables of the context-mixing model, all built with integer-only code.

* ``SQUASH`` / ``STRETCH``: the logistic function and its inverse in fixed point,
  as used by every paq-family mixer. The "stretch domain" is the logit scaled by
  256 and clipped to [-2047, 2047]; probabilities are 12-bit (0..4095) for the
  model's internals and 16-bit for the final output. SQUASH is interpolated from
  65 hard-coded integer points (the logistic function sampled every 1/4 logit and
  rounded), STRETCH is its inverse found by integer search, so both tables are
  bit-identical on every machine.

* Bit-history state machine ("nonstationary counter states" as in paq8/lpaq1):
  a byte per context slot remembers roughly how many 0s and 1s were seen in that
  context, favouring recent bits: when a bit is seen and the opposite count is
  above 2, the opposite count is about halved. Small histories also remember the
  last bit. The reachable states are enumerated here, numbered, and turned into
  a next-state table ``STATE_NEXT[state*2 + bit]``; ``STATE_N[state]`` is the
  total count (used as a replacement priority) and ``STATE_P0[state]`` an initial
  16-bit probability of a 1 for the adaptive state maps.
"""

from __future__ import annotations

import numpy as np

# logistic(x / 256) * 65536 at x = -2048, -1984, ..., 2048 (every 64), rounded
_SQUASH_POINTS = (
    22, 28, 36, 47, 60, 77, 98, 126, 162, 208, 267, 342, 439, 562, 720, 922,
    1179, 1506, 1921, 2446, 3108, 3938, 4971, 6249, 7812, 9702, 11955, 14595,
    17625, 21025, 24743, 28693, 32768, 36843, 40793, 44511, 47911, 50941, 53581,
    55834, 57724, 59287, 60565, 61598, 62428, 63090, 63615, 64030, 64357, 64614,
    64816, 64974, 65097, 65194, 65269, 65328, 65374, 65410, 65438, 65459, 65476,
    65489, 65500, 65508, 65514,
)


def _build_squash16() -> np.ndarray:
    """SQUASH16[x + 2048] = 16-bit probability for stretch-domain x in [-2048, 2047]."""
    out = np.zeros(4096, dtype=np.int32)
    for i in range(4096):
        k, w = i >> 6, i & 63
        a, b = _SQUASH_POINTS[k], _SQUASH_POINTS[k + 1]
        out[i] = (a * (64 - w) + b * w + 32) >> 6
    return out


SQUASH16 = _build_squash16()
# 12-bit version, kept inside [1, 4095]
SQUASH = np.clip((SQUASH16 + 8) >> 4, 1, 4095).astype(np.int32)


def _build_stretch() -> np.ndarray:
    """STRETCH[p] for 12-bit p: the middle of the x range with SQUASH[x] == p (inverse)."""
    # (Python lists, not numpy scalars: this runs at every start-up)
    lo = [4096] * 4096
    hi = [-4096] * 4096
    for i, p in enumerate(SQUASH.tolist()):
        x = i - 2048
        lo[p] = min(lo[p], x)
        hi[p] = max(hi[p], x)
    # probabilities that SQUASH skips take the nearest x from below
    out = [0] * 4096
    last = -2047
    for p in range(4096):
        if lo[p] <= hi[p]:
            last = (lo[p] + hi[p]) // 2
        out[p] = max(-2047, min(2047, last))
    return np.array(out, dtype=np.int32)


STRETCH = _build_stretch()


# ---------------------------------------------------------------------------
# bit-history state machine

def _allowed(n0: int, n1: int) -> bool:
    """Which (n0, n1) count pairs a state may hold (the bigger count caps the smaller)."""
    a, b = max(n0, n1), min(n0, n1)
    limits = (60, 30, 20, 10, 6, 5)  # max of the larger count given the smaller one
    if b >= len(limits):
        return False
    return a <= limits[b]


def _discount(n: int) -> int:
    """Opposite count after a bit: keep up to 2, else about halve (nonstationarity)."""
    return n if n <= 2 else n // 2 + 1


def _build_states():
    # a state is (n0, n1, last) where last is -1 unless both counts are >= 1 and the
    # total is small (then it is the last bit seen, 0 or 1)
    def key(n0, n1, last):
        if n0 >= 1 and n1 >= 1 and n0 + n1 <= 6:
            return (n0, n1, last)
        return (n0, n1, -1)

    def step(st, bit):
        n0, n1, _ = st
        if bit:
            n1 += 1
            n0 = _discount(n0)
        else:
            n0 += 1
            n1 = _discount(n1)
        while not _allowed(n0, n1):
            # squeeze the opposite count first, then the count itself
            if bit and n0 > 0:
                n0 -= 1
            elif not bit and n1 > 0:
                n1 -= 1
            elif bit:
                n1 -= 1
            else:
                n0 -= 1
        return key(n0, n1, bit)

    start = (0, 0, -1)
    order = [start]
    index = {start: 0}
    i = 0
    while i < len(order):  # breadth-first enumeration of reachable states
        st = order[i]
        for bit in (0, 1):
            nx = step(st, bit)
            if nx not in index:
                index[nx] = len(order)
                order.append(nx)
        i += 1
    n = len(order)
    if n > 256: raise ValueError(n)
    nxt = np.zeros(512, dtype=np.uint8)
    cnt = np.zeros(256, dtype=np.int32)
    p0 = np.full(256, 32768, dtype=np.int32)
    n0s = np.zeros(256, dtype=np.int32)
    n1s = np.zeros(256, dtype=np.int32)
    for s, st in enumerate(order):
        for bit in (0, 1):
            nxt[s * 2 + bit] = index[step(st, bit)]
        n0, n1, last = st
        cnt[s] = n0 + n1
        n0s[s], n1s[s] = n0, n1
        # initial estimate (n1 + 1/2) / (n + 1), nudged to the last bit if known
        num, den = 2 * n1 + 1, 2 * (n0 + n1) + 2
        if last >= 0:
            num += 1 if last else -1
            den += 0
        p0[s] = max(1024, min(64512, (num * 65536) // den))
    return n, nxt, cnt, p0, n0s, n1s


N_STATES, STATE_NEXT, STATE_N, STATE_P0, STATE_N0, STATE_N1 = _build_states()
# 1 where the history is non-empty and only one bit value was seen ("deterministic")
STATE_DET = (((STATE_N0 == 0) | (STATE_N1 == 0)) & (STATE_N > 0)).astype(np.uint8)
