"""Level 1's model: a small context-mixing loop built for speed (revisions 4 and 5).

What it does: codes one chunk bit by bit like ``model.py`` but with a fraction of
its work per bit:

1. order 1 in a direct table; orders 2, 3, 4 and the current word (and order 6, in
   revision 4: it saved 0.3% on text for 11% of the instructions) in hashed tables of
   nibble lines (16 counters per line, one cache line: the line of a context's nibble
   is found once per nibble and prefetched, as the buckets of lpaq1, but without
   checksums: a collision only blurs two contexts' counts); each counter is a direct
   adaptive probability (zpaq's "CM": 22-bit p and a 10-bit count, moving toward each
   bit by 1/(count + 1.5)), with no bit histories and no StateMaps between context and
   probability;
2. the match model of lpaq1 (the last occurrence of the last MINLEN bytes,
   followed while it predicts; its expected bit through a small adaptive map by
   match length);
3. one logistic mixer (weights chosen by the partial byte and whether a match is
   followed), whose output is the bit's probability: no APM stage (an order-1 APM
   saved 1% on text for 13% of the instructions);
4. the binary arithmetic coder of ``arzip.coding.binary`` (written inline: the
   same bitstream).

Integer arithmetic only, one function for encoder and decoder (``encoding``
flag), so both sides compute the same probabilities on every machine; compiled twice,
with and without order 6, so that revision 5 runs none of its code.
What it does not do: the contexts of levels 2-9 (bit histories, several mixers,
records, sparse contexts; ``model.py``), or take a network's predictions (``-m nn``
at level 1 runs ``model.py``).
"""

from __future__ import annotations

import numpy as np

from arzip.coding.binary import decode_with_model, encode_with_model

from ...jit import njit
from ...memory import table
from .components import NIBBLE_SALT, RECIP, at, hash_final, hash_mix, is_letter, moved, prefetch
from .levels import CMLevel, fast_line_bits, fast_tables
from .tables import SQUASH, SQUASH16, STRETCH

N_INPUTS = 8  # order 1, the five hashed contexts (order 6's input 0 without it), the match model, a bias
HALF = 1 << 31  # counters are stored xor HALF, so that zeroed memory is p = 1/2, count 0
MINLEN = 5  # the match model looks up the last MINLEN bytes
MIX_SETS = 512  # partial byte x a match is followed
MIXER_RATE = 6  # mixer learning rate
COUNT_LIMIT = 255  # counters adapt by 1/(count + 1.5) down to 1/256.5: they follow the data


@njit(cache=True, nogil=True, inline="always")
def _fast_loop(buf, n, encoding, cstate, cbuf, line_bits, match_bits, order6, O1, H, MT, msm, W, recip, stretch,
               squash, squash16):
    """Code ``n`` bytes of ``buf`` (encoding) or decode them into ``buf``; with the order-6
    context when ``order6`` (revision 4), the word's table then the fifth, not the fourth.

    (The five hashed contexts are written out as scalars rather than looped over
    arrays: their lines, counters and inputs then live in registers.)"""
    lmask = (1 << line_bits) - 1
    mmask = (1 << match_bits) - 1
    tsize = 1 << (line_bits + 4)  # counters per hashed table
    word_table = (4 if order6 else 3) * tsize
    h0 = h1 = h2 = h3 = h4 = 0  # each hashed context's hash for this byte
    c4 = 0
    c8 = 0
    word = 0
    mlen = 0
    mptr = 0
    low = cstate[0]
    high = cstate[1]
    cpos = cstate[2]
    code = cstate[3]
    cap = cstate[4]
    overflow = cstate[5]
    clen = cbuf.shape[0]
    l0 = l1 = l2 = l3 = l4 = 0
    nib = 1
    for i in range(n):
        cbyte = buf[at(i)] if encoding else 0
        c1 = c4 & 255
        expected = (buf[at(mptr)] | 256) if mlen > 0 else 0
        mrow = (min(mlen, 15) * 2) if mlen > 0 else 0
        c0 = 1
        for b in range(8):
            if b == 0 or b == 4:
                # the nibble's line in each hashed table (no checksum: lines of colliding
                # contexts are shared), prefetched together so that their misses overlap
                salt = NIBBLE_SALT[c0 & 15] if b == 4 else 0
                l0 = (_line(h0 ^ salt, lmask) << 4)
                l1 = tsize + (_line(h1 ^ salt, lmask) << 4)
                l2 = 2 * tsize + (_line(h2 ^ salt, lmask) << 4)
                l3 = 3 * tsize + (_line(h3 ^ salt, lmask) << 4)
                l4 = word_table + (_line(h4 ^ salt, lmask) << 4)
                prefetch(H, l0)
                prefetch(H, l1)
                prefetch(H, l2)
                if order6:
                    prefetch(H, l3)
                prefetch(H, l4)
                nib = 1
            elif b == 2:
                # the second nibble's line is one of four (the two bits still to come
                # before it): prefetch all four now, so that the misses overlap two bits' work
                for q in range(4):
                    sq = NIBBLE_SALT[((c0 << 2) | q) & 15]
                    prefetch(H, _line(h0 ^ sq, lmask) << 4)
                    prefetch(H, tsize + (_line(h1 ^ sq, lmask) << 4))
                    prefetch(H, 2 * tsize + (_line(h2 ^ sq, lmask) << 4))
                    if order6:
                        prefetch(H, 3 * tsize + (_line(h3 ^ sq, lmask) << 4))
                    prefetch(H, word_table + (_line(h4 ^ sq, lmask) << 4))
            # ---- inputs: stretch(p) of each context's counter ----------------
            o1i = (c1 << 8) | c0
            k0 = l0 + nib
            k1 = l1 + nib
            k2 = l2 + nib
            k3 = l3 + nib
            k4 = l4 + nib
            x0 = stretch[at(O1[at(o1i)] >> 20)]
            x1 = stretch[at((H[at(k0)] ^ HALF) >> 20)]
            x2 = stretch[at((H[at(k1)] ^ HALF) >> 20)]
            x3 = stretch[at((H[at(k2)] ^ HALF) >> 20)]
            x4 = stretch[at((H[at(k3)] ^ HALF) >> 20)] if order6 else 0
            x5 = stretch[at((H[at(k4)] ^ HALF) >> 20)]
            mctx = -1
            x6 = 0
            if expected != 0 and (expected >> (8 - b)) == c0:
                mctx = mrow + ((expected >> (7 - b)) & 1)
                x6 = stretch[at(msm[at(mctx)] >> 20)]
            # ---- mixer: one weight set per partial byte and match state -------
            ws = (c0 + (256 if mctx >= 0 else 0)) * N_INPUTS
            dot = (x0 * W[at(ws)] + x1 * W[at(ws + 1)] + x2 * W[at(ws + 2)] + x3 * W[at(ws + 3)] + x4 * W[at(ws + 4)]
                   + x5 * W[at(ws + 5)] + x6 * W[at(ws + 6)] + 256 * W[at(ws + 7)])
            st = min(max(dot >> 16, -2047), 2047)
            sidx = st + 2048
            p16 = min(max(squash16[at(sidx)], 16), 65520)
            # ---- code the bit (arzip.coding.binary's arithmetic, inlined) -----
            mid = low + (((high - low) * p16) >> 16)
            # (written out, not a call to a helper: numba passes an array to an inlined
            # function with a reference count update, an atomic operation, per bit)
            if encoding:
                y = (cbyte >> (7 - b)) & 1
                if y:
                    high = mid
                else:
                    low = mid + 1
                while ((low ^ high) & 0xFF000000) == 0:
                    if cpos < cap:
                        cbuf[at(cpos)] = high >> 24
                        cpos += 1
                    else:
                        overflow = 1
                    low = (low << 8) & 0xFFFFFFFF
                    high = ((high << 8) & 0xFFFFFFFF) | 0xFF
            else:
                y = 1 + ((mid - code) >> 63)  # code <= mid, branch-free
                high += (mid - high) * y
                low += (mid + 1 - low) * (1 - y)
                while ((low ^ high) & 0xFF000000) == 0:
                    low = (low << 8) & 0xFFFFFFFF
                    high = ((high << 8) & 0xFFFFFFFF) | 0xFF
                    nb = cbuf[at(cpos)] if cpos < clen else 0
                    cpos += 1
                    code = ((code << 8) & 0xFFFFFFFF) | nb
            # ---- update: counters toward the bit (rate 1/(count + 1.5)), mixer
            target = y << 22
            v = np.int64(O1[at(o1i)])
            O1[at(o1i)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT)
            v = np.int64(H[at(k0)] ^ HALF)
            H[at(k0)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT) ^ HALF
            v = np.int64(H[at(k1)] ^ HALF)
            H[at(k1)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT) ^ HALF
            v = np.int64(H[at(k2)] ^ HALF)
            H[at(k2)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT) ^ HALF
            if order6:
                v = np.int64(H[at(k3)] ^ HALF)
                H[at(k3)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT) ^ HALF
            v = np.int64(H[at(k4)] ^ HALF)
            H[at(k4)] = moved(v, target, recip[at(v & 1023)], COUNT_LIMIT) ^ HALF
            if mctx >= 0:
                v = np.int64(msm[at(mctx)])
                msm[at(mctx)] = moved(v, target, recip[at(v & 1023)], 1023)
            err = ((y << 12) - squash[at(sidx)]) * MIXER_RATE
            W[at(ws)] += (x0 * err + 32768) >> 16
            W[at(ws + 1)] += (x1 * err + 32768) >> 16
            W[at(ws + 2)] += (x2 * err + 32768) >> 16
            W[at(ws + 3)] += (x3 * err + 32768) >> 16
            if order6:
                W[at(ws + 4)] += (x4 * err + 32768) >> 16
            W[at(ws + 5)] += (x5 * err + 32768) >> 16
            W[at(ws + 6)] += (x6 * err + 32768) >> 16
            W[at(ws + 7)] += (256 * err + 32768) >> 16
            c0 = (c0 << 1) | y
            nib = (nib << 1) | y
        # ---- end of byte ---------------------------------------------------------
        c = c0 & 255
        if not encoding:
            buf[at(i)] = c
        elif overflow != 0:
            break
        c8 = ((c8 << 8) | (c4 >> 24)) & 0xFFFFFFFF
        c4 = ((c4 << 8) | c) & 0xFFFFFFFF
        # match model (lpaq1): follow the match while it predicts, else look the last
        # MINLEN bytes up
        if mlen > 0 and buf[at(mptr)] == c:
            mlen += 1
            mptr += 1
        else:
            mlen = 0
        if i + 1 >= MINLEN:
            hm = hash_final(hash_mix(c4, c8 & 0xFF)) & mmask
            if mlen == 0:
                cand = MT[at(hm)]
                if cand > 0:
                    mptr = cand
                    mlen = 1
            MT[at(hm)] = i + 1
        # the current word: its letters, case-folded (0 between words)
        if is_letter(c):
            word = hash_mix(word, (c | 32) if c < 128 else c)
        else:
            word = 0
        h0 = hash_mix(0x2001, c4 & 0xFFFF)
        h1 = hash_mix(0x3001, c4 & 0xFFFFFF)
        h2 = hash_mix(0x4001, c4)
        h3 = hash_mix(hash_mix(0x6001, c4), c8 & 0xFFFF)
        h4 = hash_mix(hash_mix(0x7001, word), c if word == 0 else 0)
    cstate[0] = low
    cstate[1] = high
    cstate[2] = cpos
    cstate[3] = code
    cstate[5] = overflow
    return 0


@njit(cache=True, nogil=True, inline="always")
def _line(h: int, lmask: int) -> int:
    """A context's line in its table: the top bits of its 32-bit hash, scrambled once more."""
    return (((h * 0x9E3779B1) & 0xFFFFFFFF) >> 8) & lmask


def _new_tables(lv: CMLevel):
    """Fresh tables for one chunk: counters at p = 1/2 with count 0 (zeroed memory, see HALF)."""
    o1 = np.full(1 << 16, HALF, dtype=np.uint32)
    h = table(fast_tables(lv) << (fast_line_bits(lv) + 4), np.uint32)
    mt = table(1 << lv.match_bits, np.int32)
    msm = np.array([(16384 if (j & 1) == 0 else 49152) << 16 for j in range(32)], dtype=np.uint32)
    w = np.full(MIX_SETS * N_INPUTS, 1 << 14, dtype=np.int64)
    return o1, h, mt, msm, w


@njit(cache=True, nogil=True)
def _loop_order6(buf, n, encoding, cstate, cbuf, line_bits, match_bits, O1, H, MT, msm, W, recip, stretch, squash,
                 squash16):
    """:func:`_fast_loop` with the order-6 context (revision 4), compiled as its own function."""
    return _fast_loop(buf, n, encoding, cstate, cbuf, line_bits, match_bits, True, O1, H, MT, msm, W, recip, stretch,
                      squash, squash16)


@njit(cache=True, nogil=True)
def _loop(buf, n, encoding, cstate, cbuf, line_bits, match_bits, O1, H, MT, msm, W, recip, stretch, squash, squash16):
    """:func:`_fast_loop` without it (revision 5): the order-6 code compiled out."""
    return _fast_loop(buf, n, encoding, cstate, cbuf, line_bits, match_bits, False, O1, H, MT, msm, W, recip, stretch,
                      squash, squash16)


def _run(buf, n, encoding, cstate, cbuf, lv: CMLevel) -> None:
    loop = _loop_order6 if lv.fast_order6 else _loop
    loop(buf, n, encoding, cstate, cbuf, fast_line_bits(lv), lv.match_bits, *_new_tables(lv), RECIP, STRETCH, SQUASH,
         SQUASH16)


def encode(data: bytes, lv: CMLevel) -> bytes | None:
    """Payload of ``data``, or None if it would be larger than ``len(data) + 64``."""
    return encode_with_model(data, lambda *coder: _run(*coder, lv))


def decode(payload: bytes, raw_size: int, lv: CMLevel) -> bytes:
    """Exactly ``raw_size`` bytes decoded from ``payload`` (garbage if it is corrupt; the
    work is bounded by ``raw_size``)."""
    return decode_with_model(payload, raw_size, lambda *coder: _run(*coder, lv))
