"""The context-mixing model loop: one numba function shared by encoder and decoder.

Per bit, in the order of the code below:

1. contexts -> bit-history states (direct tables for orders 0-1, the nibble-bucket
   hash table for the others: orders 2-6 and 8, word, sparse and record contexts);
2. states -> probabilities through one adaptive StateMap per context, two mixer
   inputs each (stretch(p) and a linear confidence term);
3. the match model (longest recent repeat, as in lpaq1) adds two inputs;
4. three logistic mixers, each with its weight set chosen by a small context,
   then a final mixer over their outputs (a 2-layer mixer, as in paq8);
5. three APM/SSE stages refine the result; the binary arithmetic coder of
   ``arzip.coding.binary`` codes the bit with it;
6. every component is updated with the coded bit.

Encoding and decoding run the very same function (``encoding`` flag), so the
two sides cannot drift apart. All arithmetic is integer.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from arzip.coding.binary import decode_bit, encode_bit, finish_encoder, new_decoder, new_encoder

from .components import (
    apm_predict,
    apm_update,
    find_bucket,
    hash_final,
    hash_mix,
    mix_dot,
    mix_train,
    sm_update,
)
from .levels import CMLevel
from .tables import N_STATES, SQUASH, SQUASH16, STATE_N, STATE_NEXT, STATE_P0, STRETCH

# indices of the runtime parameter vector ``prm``
P_TBITS, P_MBITS, P_SMLIMIT, P_LR, P_LR2, P_APMRATE, P_MINLEN = range(7)
N_PARAMS = 7

# hashed context ids (a level lists the ones it uses)
C_O2, C_O3, C_O4, C_O5, C_O6, C_O8 = 0, 1, 2, 3, 4, 5
C_WORD, C_WORD2, C_WORD3 = 6, 7, 8
C_SPARSE1, C_SPARSE2, C_SPARSE3 = 9, 10, 11
C_REC1, C_REC2, C_COLUMN = 12, 13, 14
N_CTX_IDS = 15

N_DIRECT = 2  # order 0 and order 1 use direct (unhashed) state tables
MIX_A_SETS = 256  # selected by the partial byte c0
MIX_B_SETS = 32  # selected by match length bucket x known-context count
MIX_C_SETS = 256  # selected by the previous byte
N_MIXERS = 3

RECIP = np.array([131072 // (2 * n + 3) for n in range(1024)], dtype=np.int32)


@njit(cache=True, nogil=True)
def _is_letter(c: int) -> bool:
    lc = c | 32
    return (lc >= 97 and lc <= 122) or c >= 128


@njit(cache=True, nogil=True)
def _model_loop(buf, n, encoding, cstate, cbuf, prm, act, T, T01, MT, smp, msmp, W, W2, A1, A2, A3,
                recip, st_next, st_n, stretch, squash, squash16):
    """Code ``n`` bytes of ``buf`` (encoding) or decode them into ``buf``."""
    tbits = prm[P_TBITS]
    mbits = prm[P_MBITS]
    mmask = (1 << mbits) - 1
    sm_limit = prm[P_SMLIMIT]
    lr = prm[P_LR]
    lr2 = prm[P_LR2]
    apm_rate = prm[P_APMRATE]
    minlen = prm[P_MINLEN]
    nact = act.shape[0]
    nctx = N_DIRECT + nact
    nin = 2 * nctx + 3
    x = np.zeros(nin, dtype=np.int32)
    ctxh = np.zeros(N_CTX_IDS, dtype=np.int64)
    bk = np.zeros(nact, dtype=np.int64)
    hh = np.zeros(nact, dtype=np.int64)
    tsum = 0  # bucket base of each hashed context
    loc = np.zeros(nctx, dtype=np.int64)  # where each context's state lives
    sst = np.zeros(nctx, dtype=np.int64)  # its current state
    pm = np.zeros(N_MIXERS, dtype=np.int64)  # first-layer mixer outputs (12-bit)
    xs = np.zeros(N_MIXERS + 1, dtype=np.int32)  # their stretches: final mixer input
    mbase = np.zeros(N_MIXERS, dtype=np.int64)
    # record-length detection (as in paq8's record model)
    last_pos = np.zeros(256, dtype=np.int64)
    last_dist = np.zeros(256, dtype=np.int64)

    c0 = 1  # partial byte with a leading 1
    c4 = 0  # last 4 bytes
    nib = 1  # node inside the current nibble's tree (1..15)
    known = 0
    w0 = 0
    w1 = 0
    w2 = 0
    mlen = 0
    mptr = 0
    rlen = 0
    rcand = 0
    rcount = 0
    line_start = 0
    prev_line_start = 0
    h3 = 0
    ybit = 0
    for i in range(n):
        cbyte = buf[i] if encoding else 0
        for b in range(8):
            # ---- 1. contexts -> states ------------------------------------
            if b == 0 or b == 4:
                nib = 1
                known = 0
                # hash first and touch every bucket's cache line before probing, so
                # the memory loads overlap (a software prefetch)
                touch = 0
                for a in range(nact):
                    h = ctxh[act[a]]
                    if b == 4:
                        h = hash_mix(h, c0)
                    h = hash_final(h)
                    hh[a] = h
                    touch += T[(h >> (32 - tbits)) << 4]
                tsum += touch
                for a in range(nact):
                    base = find_bucket(T, hh[a], tbits, st_n)
                    bk[a] = base
                    if T[base + 1] != 0:
                        known += 1
            c1 = c4 & 255
            loc[0] = c0
            loc[1] = 256 + (c1 << 8) + c0
            sst[0] = T01[loc[0]]
            sst[1] = T01[loc[1]]
            for a in range(nact):
                j = bk[a] + nib
                loc[N_DIRECT + a] = j
                sst[N_DIRECT + a] = T[j]
            # ---- 2. states -> probabilities -> mixer inputs -----------------
            k = 0
            for ci in range(nctx):
                s = sst[ci]
                p = smp[(ci << 8) + s] >> 20
                x[k] = stretch[p]
                x[k + 1] = (p - 2048) >> 1 if s != 0 else 0
                k += 2
            # ---- 3. match model ----------------------------------------------
            mctx = -1
            if mlen > 0:
                eb = buf[mptr]
                if ((eb | 256) >> (8 - b)) == c0:
                    ebit = (eb >> (7 - b)) & 1
                    if mlen < 16:
                        mb = mlen
                    else:
                        mb = 16 + min((mlen - 16) >> 3, 15)
                    mctx = mb * 2 + ebit
                    p = msmp[mctx] >> 20
                    x[k] = stretch[p]
                    x[k + 1] = (ebit * 2 - 1) * min(mlen, 32) * 16
                else:
                    x[k] = 0
                    x[k + 1] = 0
            else:
                x[k] = 0
                x[k + 1] = 0
            x[k + 2] = 256  # bias
            # ---- 4. two-layer mixer -----------------------------------------
            if mctx < 0:
                mlb = 0
            elif mlen < 16:
                mlb = 1
            elif mlen < 32:
                mlb = 2
            else:
                mlb = 3
            kn = known * 8 // (nact + 1)
            mbase[0] = c0 * nin
            mbase[1] = (MIX_A_SETS + mlb * 8 + kn) * nin
            mbase[2] = (MIX_A_SETS + MIX_B_SETS + c1) * nin
            for m in range(N_MIXERS):
                st = mix_dot(W, mbase[m], x, nin)
                xs[m] = st
                pm[m] = squash[st + 2048]
            xs[N_MIXERS] = 256
            base2 = c0 * (N_MIXERS + 1)
            stf = mix_dot(W2, base2, xs, N_MIXERS + 1)
            pf = squash[stf + 2048]
            # ---- 5. APM / SSE stages ----------------------------------------
            a1p, a1n = apm_predict(A1, c0, stf)
            a2p, a2n = apm_predict(A2, c0 | (c1 << 8), stf)
            a3p, a3n = apm_predict(A3, (h3 + c0) & 0xFFFF, stf)
            p16 = (squash16[stf + 2048] * 2 + a1p + a2p * 2 + a3p * 3) >> 3
            if p16 < 16:
                p16 = 16
            elif p16 > 65520:
                p16 = 65520
            if encoding:
                ybit = (cbyte >> (7 - b)) & 1
                encode_bit(cstate, cbuf, p16, ybit)
            else:
                ybit = decode_bit(cstate, cbuf, p16)
            y = ybit
            # ---- 6. update ---------------------------------------------------
            T01[loc[0]] = st_next[sst[0] * 2 + y]
            T01[loc[1]] = st_next[sst[1] * 2 + y]
            for a in range(nact):
                T[loc[N_DIRECT + a]] = st_next[sst[N_DIRECT + a] * 2 + y]
            for ci in range(nctx):
                sm_update(smp, (ci << 8) + sst[ci], y, sm_limit, recip)
            if mctx >= 0:
                sm_update(msmp, mctx, y, 1023, recip)
            for m in range(N_MIXERS):
                mix_train(W, mbase[m], x, nin, ((y << 12) - pm[m]) * lr)
            mix_train(W2, base2, xs, N_MIXERS + 1, ((y << 12) - pf) * lr2)
            apm_update(A1, a1n, y, apm_rate)
            apm_update(A2, a2n, y, apm_rate)
            apm_update(A3, a3n, y, apm_rate)
            c0 = (c0 << 1) | y
            nib = (nib << 1) | y
        # ---- end of byte: update byte-level contexts --------------------------
        c = c0 & 255
        c0 = 1
        if not encoding:
            buf[i] = c
        elif cstate[5] != 0:
            return i  # output overflowed: the caller stores the chunk instead
        c4 = ((c4 << 8) | c) & 0xFFFFFFFF
        pos = i + 1
        # order-n hashes straight from the history
        h = 0
        for kk in range(1, 9):
            bv = buf[pos - kk] if pos - kk >= 0 else 0
            h = hash_mix(h, bv + (kk << 8))
            if kk >= 2 and kk <= 6:
                ctxh[kk - 2] = h
            elif kk == 8:
                ctxh[C_O8] = h
        c2 = (c4 >> 8) & 255
        c3 = (c4 >> 16) & 255
        h3 = ((c2 << 8) | c) * 0x9E5 & 0xFF00
        # word model: case-folded hashes of the current and previous words
        if _is_letter(c):
            w0 = hash_mix(w0 + 0x51, c | 32)
        elif w0 != 0:
            w2 = w1
            w1 = w0
            w0 = 0
        if w0 == 0:
            ctxh[C_WORD] = hash_mix(0x1001, c)
        else:
            ctxh[C_WORD] = hash_mix(0x1002, w0)
        ctxh[C_WORD2] = hash_mix(hash_mix(0x1003, w0), w1)
        ctxh[C_WORD3] = hash_mix(hash_mix(hash_mix(0x1004, w0), w1), w2)
        # sparse contexts (skip the most recent bytes)
        ctxh[C_SPARSE1] = hash_mix(0x2001, (c4 >> 8) & 0xFFFF)
        ctxh[C_SPARSE2] = hash_mix(0x2002, c4 & 0xFF00FF)
        ctxh[C_SPARSE3] = hash_mix(0x2003, (c4 >> 16) & 0xFFFF)
        # record model: a byte value recurring at a fixed distance gives a record length
        d = pos - last_pos[c]
        if d > 1 and d == last_dist[c]:
            if d == rcand:
                rcount += 1
                if rcount >= 2:
                    rlen = d
            else:
                rcand = d
                rcount = 0
        last_dist[c] = d
        last_pos[c] = pos
        if rlen > 0 and pos >= rlen:
            above = buf[pos - rlen]
            above2 = buf[pos - 2 * rlen] if pos >= 2 * rlen else 0
            ctxh[C_REC1] = hash_mix(hash_mix(0x3001, above), c | (rlen << 8))
            ctxh[C_REC2] = hash_mix(hash_mix(0x3002, above), above2 | (rlen << 8))
        else:
            ctxh[C_REC1] = 0x3001
            ctxh[C_REC2] = 0x3002
        # text column: position in the line and the byte above it
        if c == 10:
            prev_line_start = line_start
            line_start = pos
        col = pos - line_start
        ab = prev_line_start + col
        above_t = buf[ab] if ab < line_start else 0
        ctxh[C_COLUMN] = hash_mix(hash_mix(0x4001, min(col, 255)), above_t | (c << 8))
        # match model: follow the current match or look a new one up by hash
        if mlen > 0:
            if buf[mptr] == c:
                mlen += 1
                mptr += 1
                if mlen > 65535:
                    mlen = 65535
            else:
                mlen = 0
        if pos >= minlen:
            hm = 0
            for kk in range(1, minlen + 1):
                hm = hash_mix(hm, buf[pos - kk])
            hm = hash_final(hm) & mmask
            if mlen == 0:
                cand = MT[hm]
                if cand > 0:
                    ln = 0
                    while ln < 64 and cand - 1 - ln >= 0 and buf[cand - 1 - ln] == buf[pos - 1 - ln]:
                        ln += 1
                    if ln >= minlen:
                        mlen = ln
                        mptr = cand
            MT[hm] = pos
    return n + (tsum & 0)


def _new_state(lv: CMLevel):
    """Fresh model tables for one chunk."""
    act = np.array(lv.contexts, dtype=np.int64)
    nctx = N_DIRECT + len(lv.contexts)
    nin = 2 * nctx + 3
    smp = np.empty(nctx * 256, dtype=np.int64)
    for ci in range(nctx):
        smp[ci * 256:(ci + 1) * 256] = STATE_P0.astype(np.int64) << 16
    msmp = np.zeros(64, dtype=np.int64)
    for j in range(64):
        msmp[j] = (16384 if (j & 1) == 0 else 49152) << 16
    apm_row = np.array([SQUASH16[min(4095, max(0, (k - 16) * 128 + 2048))] for k in range(33)],
                       dtype=np.int32)
    return dict(
        act=act,
        T=np.zeros(16 << lv.table_bits, dtype=np.uint8),
        T01=np.zeros(256 + 65536, dtype=np.uint8),
        MT=np.zeros(1 << lv.match_bits, dtype=np.int32),
        smp=smp,
        msmp=msmp,
        W=np.full((MIX_A_SETS + MIX_B_SETS + MIX_C_SETS) * nin, 1 << 14, dtype=np.int32),
        W2=np.full(256 * (N_MIXERS + 1), 65536 // N_MIXERS, dtype=np.int32),
        A1=np.tile(apm_row, 256),
        A2=np.tile(apm_row, 65536),
        A3=np.tile(apm_row, 65536),
    )


def _params(lv: CMLevel) -> np.ndarray:
    prm = np.zeros(N_PARAMS, dtype=np.int64)
    prm[P_TBITS] = lv.table_bits
    prm[P_MBITS] = lv.match_bits
    prm[P_SMLIMIT] = lv.sm_limit
    prm[P_LR] = lv.mixer_lr
    prm[P_LR2] = lv.mixer2_lr
    prm[P_APMRATE] = lv.apm_rate
    prm[P_MINLEN] = lv.match_min
    return prm


def _run(buf: np.ndarray, n: int, encoding: bool, cstate, cbuf, lv: CMLevel) -> int:
    s = _new_state(lv)
    return _model_loop(buf, n, encoding, cstate, cbuf, _params(lv), s["act"], s["T"], s["T01"],
                       s["MT"], s["smp"], s["msmp"], s["W"], s["W2"],
                       s["A1"], s["A2"], s["A3"], RECIP, STATE_NEXT, STATE_N, STRETCH, SQUASH,
                       SQUASH16)


def encode_level(data: bytes, lv: CMLevel) -> bytes | None:
    n = len(data)
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    limit = n + 64
    cstate, out = new_encoder(limit)
    done = _run(buf, n, True, cstate, out, lv)
    if done < n:
        return None
    size = finish_encoder(cstate, out)
    if size < 0 or size > limit:
        return None
    return out[:size].tobytes()


def decode_level(payload: bytes, raw_size: int, lv: CMLevel) -> bytes:
    src = np.frombuffer(payload, dtype=np.uint8).copy()
    cstate = new_decoder(src)
    buf = np.zeros(raw_size, dtype=np.uint8)
    _run(buf, raw_size, False, cstate, src, lv)
    return buf.tobytes()


assert N_STATES <= 256
