"""The context-mixing model loop: one numba function shared by encoder and decoder.

Per bit, in the order of the code below:

1. contexts -> bit-history states: direct tables for orders 0-1, and for the
   level's hashed contexts (orders 3-8, word, column, sparse, record, indirect,
   match-byte contexts) the nibble-bucket hash table of lpaq1 with 8-bit checksums
   (a context's second-nibble bucket: its first-nibble hash xor a salt of the
   first nibble);
2. states -> probabilities through one adaptive StateMap per context (lpaq1), one
   mixer input each, stretch(p); plus direct adaptive probability counters
   (zpaq-style "CM") for orders 1, 2 and 3;
3. the match model (longest recent repeat found through a hash of the last
   bytes, as in lpaq1) adds two inputs, its StateMap by match length and a
   signed length; after a mismatch it goes on following the repeat at length
   0 (records and tables that repeat with small changes), until a new repeat
   is found or mismatches pile up;
4. five logistic mixers with weight sets chosen by the partial byte, by match
   length x known contexts x bit position, by the previous byte x bit position,
   by the classes of the last three bytes, and by the length of the current word
   x the partial byte; a final mixer over their outputs chosen by the partial
   byte and the last byte's class (a 2-layer mixer, as in paq8). Fast levels
   ("lean") use one mixer and one APM;
5. APM/SSE stages (order 1, and hashed orders 2 and 4; paq8-style interpolation
   over 33 buckets) refine the result, averaged with fixed weights; the bit is
   coded with the arithmetic of ``arzip.coding.binary`` (written inline: same
   bitstream);
6. every component is updated with the coded bit.

Encoding and decoding run the very same function (``encoding`` flag), so the
two sides cannot drift apart. All arithmetic is integer.

The components are written out in the loop rather than called as functions:
numba passes arrays to a called function with reference-count updates (atomic
calls) that cost more per bit than the components themselves. Cache misses are
the other cost, so bucket lines, APM rows and counter lines are prefetched
where their address is known ahead of use.
"""
from __future__ import annotations

import numpy as np

from arzip.coding.binary import decode_with_model, encode_with_model

from ...jit import njit
from ...memory import table
from .components import NIBBLE_SALT, RECIP, at, hash_final, hash_mix, is_letter, prefetch
from .levels import CMLevel
from .tables import N_STATES, SQUASH, SQUASH16, STATE_N, STATE_NEXT, STATE_P0, STRETCH
from ..nn.network import step_frequencies

# indices of the runtime parameter vector ``prm``
(P_TBITS, P_MBITS, P_SMLIMIT, P_LR, P_LR2, P_APMRATE, P_MINLEN, P_LRBOOST, P_DBITS, P_LEAN,
 P_RECDET, P_RECTAIL, P_BYUSE) = range(13)
N_PARAMS = 13

# hashed context ids (a level lists the ones it uses)
C_O2, C_O3, C_O4, C_O5, C_O6, C_O8 = 0, 1, 2, 3, 4, 5
C_WORD, C_WORD2, C_WORD3 = 6, 7, 8
C_SPARSE1, C_SPARSE2, C_SPARSE3 = 9, 10, 11
C_REC1, C_REC2, C_COLUMN = 12, 13, 14
C_WORD_SKIP, C_WORD_SEP, C_FOLD4, C_MATCHED, C_IND1, C_IND2 = 15, 16, 17, 18, 19, 20
C_SHAPE, C_SHAPE_O2, C_RUNS, C_COLUMN_SHAPE = 21, 22, 23, 24
C_FIELD = 25
N_CTX_IDS = 26

N_DIRECT = 2  # order 0 and order 1 use direct (unhashed) state tables
MIX_A_SETS = 256  # selected by the partial byte c0
MIX_B_SETS = 256  # selected by match length bucket x known-context count x bit position
MIX_C_SETS = 2048  # selected by the previous byte and the bit position
MIX_D_SETS = 512  # selected by the classes of the last three bytes
MIX_E_SETS = 2048  # selected by the length of the current word and the partial byte
MIX_SETS = MIX_A_SETS + MIX_B_SETS + MIX_C_SETS + MIX_D_SETS + MIX_E_SETS
N_MIXERS = 5

FINAL_SETS = 256 * 8  # final mixer: partial byte x class of the previous byte
N_EXTRA = 6  # inputs besides the contexts: 3 direct counters, 2 match, bias
MATCH_MISSES = 8  # mismatches after which a followed match is dropped
N_NN = 2  # inputs from the neural network (arzip.models.nn), when one is given
NN_WEIGHT0 = 1 << 15  # their first mixer weights: trust the network at the start of a chunk
# record-length detection by autocorrelation: how often a byte equals the byte d before it,
# d = 1..REC_MAX, counted over blocks of REC_BLOCK bytes and decayed by 1/4 per block
REC_MAX = 1024
REC_BLOCK = 4096
# the best distance becomes the record length if it matches this much more often than two
# bytes drawn from the block's byte frequencies would (twice), and replaces the current one only
# if it matches 1/16 more often than it
REC_OVER_CHANCE = (2, 1)
REC_SWITCH = 16
# the final probability: the mixer's and the APMs' (orders 1, 2 and 4), weighted, in 1/16
APM_WEIGHTS = (2, 3, 5, 6)
# updates counted per weight set and per APM row (revision 7): the learning rate of each is a
# function of that count (_rate_tables), up to this count, which then holds
RATE_UPDATES = 1 << 14


@njit(cache=True, nogil=True, inline="always")
def _next_words(c: int, w0: int, w1: int, w2: int):
    """The word model's hashes after byte ``c``: the current word (case-folded
    letters) grows, or a non-letter ends it and shifts it into the previous ones."""
    if is_letter(c):
        return hash_mix(w0 + 0x51, c | 32), w1, w2
    if w0 != 0:
        return 0, w0, w1
    return w0, w1, w2


@njit(cache=True, nogil=True, inline="always")
def _byte_class(c: int) -> int:
    """Class of a byte for the text-shape contexts, 1..7: lower-case letter, upper-case
    letter, digit, space, line feed, sentence punctuation, anything else."""
    if c >= 97 and c <= 122:
        return 1
    if c >= 65 and c <= 90:
        return 2
    if c >= 48 and c <= 57:
        return 3
    if c == 32:
        return 4
    if c == 10:
        return 5
    if c == 46 or c == 44 or c == 59 or c == 58 or c == 33 or c == 63:
        return 6
    return 7


@njit(cache=True, nogil=True)
def _count_matches(buf, pos, c, count):
    """count[k] += 1 where the byte ``c`` at ``pos - 1`` equals the byte REC_MAX - k before it.
    (Written so that the main case compiles to vector code: a loop from 0 over a slice; with a
    variable start or a possibly negative index it does not, and costs ten times more.)"""
    cb = np.uint8(c)
    if pos - 1 >= REC_MAX:
        window = buf[pos - 1 - REC_MAX:pos - 1]
        for k in range(REC_MAX):
            count[k] += np.uint16(window[k] == cb)
    else:
        for k in range(REC_MAX - (pos - 1), REC_MAX):
            count[k] += np.uint16(buf[pos - 1 - REC_MAX + k] == cb)


@njit(cache=True, nogil=True, inline="always")
def _record_autocorr(buf, pos, c, rlen, chance, count, score, hist):
    """Record length by autocorrelation, after byte ``c`` at ``pos - 1``: count the distances
    d <= REC_MAX at which the same byte came before; at the end of each block of REC_BLOCK
    bytes, decay the scores and take the distance that matched most (the shortest of equals),
    if it matches clearly more often than chance (the block's byte frequencies), keeping the
    current length unless the new one is clearly better. Returns (record length or 0, the
    decayed chance score)."""
    _count_matches(buf, pos, c, count)
    hist[c] += 1
    if pos % REC_BLOCK != 0:
        return rlen, chance
    pairs = 0
    for v in range(256):
        pairs += hist[v] * hist[v]
        hist[v] = 0
    chance = chance - (chance >> 2) + pairs // REC_BLOCK
    best = 0
    for d in range(1, REC_MAX + 1):
        score[d] = score[d] - (score[d] >> 2) + count[REC_MAX - d]
        count[REC_MAX - d] = 0
        if d >= 2 and (best == 0 or score[d] > score[best]):
            best = d
    if score[best] * REC_OVER_CHANCE[1] <= chance * REC_OVER_CHANCE[0]:
        return 0, chance
    if rlen == 0 or score[best] * REC_SWITCH > score[rlen] * (REC_SWITCH + 1):
        return best, chance
    return rlen, chance


@njit(cache=True, nogil=True, inline="always")
def _prefetch_next(c, pos, buf, act, T, tbits, DC2, dbits, c1, w0, w1, w2, shape, runs,
                   line_start, prev_line_start, och):
    """Prefetch the first-nibble buckets that the next byte's contexts will probe if
    the byte just being coded is ``c`` (at ``pos - 1``): the same hashes as the
    byte-level update at the end of the model loop, for the common contexts. A
    context left out (or a wrong guess) only costs its cache miss."""
    h = 0
    for kk in range(1, 9):
        bv = c if kk == 1 else (buf[pos - kk] if pos - kk >= 0 else 0)
        h = hash_mix(h, bv + (kk << 8))
        och[kk] = h
    prefetch(DC2, (hash_final(hash_mix(och[2], 1)) >> (32 - dbits)) << 4)
    prefetch(DC2, (hash_final(hash_mix(hash_mix(och[3], 0x33), 1)) >> (32 - dbits)) << 4)
    w0, w1, w2 = _next_words(c, w0, w1, w2)
    if c == 10:
        col = 0
        above = buf[line_start] if line_start < pos else 0
    else:
        col = pos - line_start
        ab = prev_line_start + col
        above = buf[ab] if ab < line_start else 0
    cls = _byte_class(c)
    shape2 = ((shape << 3) | cls) & 0xFFFFFF
    if cls != (shape & 7):
        runs = ((runs << 3) | cls) & 0x3FFFFFFF
    for a in range(act.shape[0]):
        cid = act[a]
        if cid <= C_O6:
            v = och[cid + 2]
        elif cid == C_O8:
            v = och[8]
        elif cid == C_WORD:
            v = hash_mix(0x1001, c) if w0 == 0 else hash_mix(0x1002, w0)
        elif cid == C_WORD2:
            v = hash_mix(hash_mix(0x1003, w0), w1)
        elif cid == C_WORD3:
            v = hash_mix(hash_mix(hash_mix(0x1004, w0), w1), w2)
        elif cid == C_WORD_SKIP:
            v = hash_mix(hash_mix(0x1005, w0), w2)
        elif cid == C_WORD_SEP:
            v = hash_mix(hash_mix(0x1006, w0), w1 + (c if w0 == 0 else 0))
        elif cid == C_COLUMN:
            v = hash_mix(hash_mix(0x4001, min(col, 255)), above | (c << 8))
        elif cid == C_SHAPE:
            v = hash_mix(0x8001, shape2)
        elif cid == C_SHAPE_O2:
            v = hash_mix(hash_mix(0x8004, shape2 & 0xFFF), (c1 << 8) | c)
        elif cid == C_RUNS:
            v = hash_mix(0x8006, runs)
        elif cid == C_COLUMN_SHAPE:
            v = hash_mix(hash_mix(0x8105, min(col, 255) | ((shape2 & 0x3F) << 8)), c)
        else:
            continue
        prefetch(T, (hash_final(v) >> (32 - tbits)) << 4)


@njit(cache=True, nogil=True)
def _model_loop(buf, n, encoding, cstate, cbuf, prm, act, T, T01, DC1, DC2, MT, smp, msmp, W, W2,
                A2, A3, rates, set_n, final_n, apm_n, recip, st_next, st_n, stretch, squash, squash16,
                nn_on, nnw, nns, exp2):
    """Code ``n`` bytes of ``buf`` (encoding) or decode them into ``buf``.

    With ``nn_on``, the network of ``arzip.models.nn`` (weights ``nnw``, scratch
    ``nns``) predicts each byte from the bytes before it, and its P(bit | bits so
    far of the byte) enters the mixers as N_NN more inputs. ``rates`` (see _rate_tables):
    the learning rates of each weight set and APM row by its number of updates so far
    (``set_n``, ``final_n``, ``apm_n``)."""
    tbits = prm[P_TBITS]
    dbits = prm[P_DBITS]
    mbits = prm[P_MBITS]
    mmask = (1 << mbits) - 1
    sm_limit = prm[P_SMLIMIT]
    lr = prm[P_LR]
    lr2 = prm[P_LR2]
    minlen = prm[P_MINLEN]
    lr_boost = prm[P_LRBOOST]
    lean = prm[P_LEAN] != 0  # fast levels: one mixer weight set and one APM
    lr_now = lr
    by_use = prm[P_BYUSE] != 0  # learning rates by use (revision 7: with a network, and levels 6-9)
    apm_q = np.int64(65536) >> prm[P_APMRATE]  # the APMs' rate otherwise, in 1/65536
    nact = act.shape[0]
    nctx = N_DIRECT + nact
    nin = nctx + N_EXTRA + (N_NN if nn_on else 0)
    x = np.zeros(nin, dtype=np.int32)
    nn_dist = np.zeros(256, dtype=np.int32)
    nn_cum = np.zeros(257, dtype=np.int64)
    ctxh = np.zeros(N_CTX_IDS, dtype=np.int64)
    bk = np.zeros(nact, dtype=np.int64)  # bucket base of each hashed context
    hh = np.zeros(nact, dtype=np.int64)  # bucket hash of each hashed context
    hf = np.zeros(nact, dtype=np.int64)  # and its first nibble's
    on = np.zeros(N_CTX_IDS, dtype=np.int64)  # 1 for the contexts in use
    for a in range(nact):
        on[act[a]] = 1
    d2f = 0
    d3f = 0
    sst = np.zeros(nctx, dtype=np.int64)  # current state of each context
    # record-length detection: by the distances between a byte value's occurrences
    # (revision 2) ...
    last_pos = np.zeros(256, dtype=np.int64)
    last_dist = np.zeros(256, dtype=np.int64)
    # ... or by autocorrelation (revision 3): matches at each distance in this block (index
    # k is distance REC_MAX - k, so that the counting loop runs forward), decayed scores
    rec_autocorr = prm[P_RECDET] != 0
    rec_count = np.zeros(REC_MAX, dtype=np.uint16)
    rec_score = np.zeros(REC_MAX + 1, dtype=np.int64)
    rec_hist = np.zeros(256, dtype=np.int64)
    rec_chance = 0
    # the last ``rec_tail`` contexts of ``act`` are record contexts, left out (their inputs 0)
    # while no record length is known: the loops over contexts run over the first ``nlive``
    rec_tail = prm[P_RECTAIL]
    nlive = nact - rec_tail
    # the recurring-distance detector feeds FIELD, and in revision 2 the record contexts too
    by_distance = on[C_FIELD] != 0 or (not rec_autocorr and (on[C_REC1] != 0 or on[C_REC2] != 0))
    # indirect contexts (as in paq8): the bytes that followed the last occurrences
    ind1 = np.zeros(256, dtype=np.int64)
    ind2 = np.zeros(65536, dtype=np.int64)
    och = np.zeros(9, dtype=np.int64)  # scratch: order-n hashes of a candidate next byte

    c0 = 1  # partial byte with a leading 1
    c4 = 0  # last 4 bytes
    nib = 1  # node inside the current nibble's tree (1..15)
    known = 0
    dcb = 0
    dcb3 = 0
    o3h = 0
    w0 = 0
    w1 = 0
    w2 = 0
    mlen = 0
    mon = False  # a match is being followed (mptr valid), perhaps at length 0
    mmiss = 0  # its mismatches since it last ran 16 bytes
    mptr = 0
    rlen = 0  # record length of REC1 and REC2
    flen = 0  # and of FIELD (revision 3; revision 2: the same)
    rcand = 0
    rcount = 0
    line_start = 0
    prev_line_start = 0
    h3 = 0
    h4 = 0
    wlen = 0
    shape = 0  # classes of the last 8 bytes, 3 bits each
    runs = 0  # classes of the last 10 runs of bytes of one class
    fold = 0
    ybit = 0
    o2h = 0
    # the binary arithmetic coder of arzip.coding.binary, kept in local variables
    # (same arithmetic, so the same bitstream; see _coder_* below)
    low = cstate[0]
    high = cstate[1]
    cpos = cstate[2]
    code = cstate[3]
    cap = cstate[4]
    overflow = cstate[5]
    clen = cbuf.shape[0]
    for i in range(n):
        cbyte = buf[i] if encoding else 0
        if (i & 255) == 0:
            # mixer learning rate: fast at first, settling as the model matures
            lr_now = lr + (lr_boost << 12) // (4096 + (i >> 3))
        c1 = c4 & 255
        if nn_on:
            # the network's frequencies of this byte (2**16 in all), as cumulative counts
            step_frequencies(buf, i, nnw[0], nnw[1], nnw[2], nnw[3], nnw[4], nnw[5], nnw[6], nnw[7],
                             nnw[8], 16, exp2, nns[0], nns[1], nns[2], nns[3], nn_dist)
            for kk in range(256):
                nn_cum[kk + 1] = nn_cum[kk] + nn_dist[kk]
        for b in range(8):
            # ---- 1. contexts -> states ------------------------------------
            if b == 0 or b == 4:
                nib = 1
                known = 0
                # nibble-bucket hash table as in lpaq1: hash every context first and
                # prefetch its bucket, so that the cache misses of all contexts
                # overlap; then probe
                # (the second nibble's hash is the first's with a salt of the first
                # nibble xored in: a cheap step, also for the prefetch at bit 2)
                for a in range(nlive):
                    if b == 0:
                        h = hash_final(ctxh[at(act[at(a)])])
                        hf[at(a)] = h
                    else:
                        h = hf[at(a)] ^ NIBBLE_SALT[c0 & 15]
                    hh[at(a)] = h
                    prefetch(T, (h >> (32 - tbits)) << 4)
                if b == 0 and i > 0:
                    # match model, for the byte just coded: done here, between
                    # issuing the bucket loads and probing them, so that the match
                    # table's cache miss overlaps theirs
                    c = c4 & 255
                    pos = i
                    # match model: follow the current match or look a new one up by hash
                    if mon:
                        # follow the match; after a mismatch keep following it at
                        # length 0 (records that repeat with small changes), until
                        # MATCH_MISSES mismatches come closer together than they recover
                        if buf[mptr] == c:
                            mlen += 1
                            if mlen > 65535:
                                mlen = 65535
                            if mlen >= 16:
                                mmiss = 0
                        else:
                            mlen = 0
                            mmiss += 1
                            if mmiss > MATCH_MISSES:
                                mon = False
                        mptr += 1
                    if pos >= minlen:
                        hm = 0
                        for kk in range(1, minlen + 1):
                            hm = hash_mix(hm, buf[pos - kk])
                        hm = hash_final(hm) & mmask
                        if mlen < minlen:
                            cand = MT[at(hm)]
                            if cand > 0 and cand != mptr:
                                ln = 0
                                while ln < 64 and cand - 1 - ln >= 0 and buf[cand - 1 - ln] == buf[pos - 1 - ln]:
                                    ln += 1
                                if ln >= minlen:
                                    mlen = ln
                                    mptr = cand
                                    mon = True
                                    mmiss = 0
                        MT[at(hm)] = pos
                    # the byte the match model expects next, with its length bucket
                    if mon:
                        ctxh[C_MATCHED] = hash_mix(hash_mix(0x7001, buf[mptr]), min(mlen, 16) >> 2)
                    else:
                        ctxh[C_MATCHED] = 0x7002
                for a in range(nlive):
                    h = hh[at(a)]
                    if b == 0 and act[at(a)] == C_MATCHED:
                        h = hash_final(ctxh[C_MATCHED])  # changed by the match update
                        hf[at(a)] = h
                    chk = h & 255
                    bi = h >> (32 - tbits)
                    base = bi << 4
                    if T[at(base)] != chk:
                        base = (bi ^ 1) << 4
                        if T[at(base)] != chk:
                            base = (bi ^ 2) << 4
                            if T[at(base)] != chk:
                                # miss: replace the bucket whose first node saw fewest bits
                                base = bi << 4
                                best_n = st_n[at(T[at(base + 1)])]
                                for kq in range(1, 3):
                                    cand_b = (bi ^ kq) << 4
                                    nq = st_n[at(T[at(cand_b + 1)])]
                                    if nq < best_n:
                                        best_n = nq
                                        base = cand_b
                                T[at(base)] = chk
                                for kq in range(1, 16):
                                    T[at(base + kq)] = 0
                    bk[at(a)] = base
                    if T[at(base + 1)] != 0:
                        known += 1
                # order-2 direct counters: one 16-entry line per nibble, no checksum
                if b == 0:
                    d2f = hash_final(hash_mix(o2h, 1))
                    d3f = hash_final(hash_mix(o3h, 1))
                    dcb = (d2f >> (32 - dbits)) << 4
                    dcb3 = (d3f >> (32 - dbits)) << 4
                else:
                    dcb = ((d2f ^ NIBBLE_SALT[c0 & 15]) >> (32 - dbits)) << 4
                    dcb3 = ((d3f ^ NIBBLE_SALT[c0 & 15]) >> (32 - dbits)) << 4
            elif b == 2:
                # the second nibble's bucket is one of four (the two bits still to
                # come before it): prefetch all four now, so that its cache miss
                # overlaps the coding of the third and fourth bits
                for a in range(nlive):
                    h = hf[at(a)]
                    for q in range(4):
                        prefetch(T, ((h ^ NIBBLE_SALT[((c0 << 2) | q) & 15]) >> (32 - tbits)) << 4)
                # and the order-2 and -3 direct counters' lines, also one of four each
                for q in range(4):
                    sq = NIBBLE_SALT[((c0 << 2) | q) & 15]
                    prefetch(DC2, ((d2f ^ sq) >> (32 - dbits)) << 4)
                    prefetch(DC2, ((d3f ^ sq) >> (32 - dbits)) << 4)
            elif b == 7 and i + 1 >= minlen:
                # the match model's table slot for the next byte is one of two (this
                # byte ends in a 0 or a 1): prefetch both
                hm0 = hash_mix(0, (c0 << 1) & 255)
                hm1 = hash_mix(0, ((c0 << 1) | 1) & 255)
                for kk in range(2, minlen + 1):
                    hm0 = hash_mix(hm0, buf[i + 1 - kk])
                    hm1 = hash_mix(hm1, buf[i + 1 - kk])
                prefetch(MT, hash_final(hm0) & mmask)
                prefetch(MT, hash_final(hm1) & mmask)
            if b == (6 if encoding else 7):
                # the next byte's first buckets: the encoder knows the byte, the
                # decoder tries the two that the last bit allows
                if encoding:
                    first = cbyte
                    count = 1
                else:
                    first = (c0 << 1) & 255
                    count = 2
                for cand in range(first, first + count):
                    _prefetch_next(cand, i + 1, buf, act, T, tbits, DC2, dbits, c1, w0, w1, w2,
                                   shape, runs, line_start, prev_line_start, och)
            r2 = c0 | (c1 << 8)
            r3 = (h3 ^ c0) & 0xFFFF
            r4 = 65536 + ((h4 ^ c0) & 0xFFFF)
            j2 = r2 * 33
            j3 = r3 * 33
            j4 = r4 * 33
            if b < 7:
                # the next bit's APM rows are one of two adjacent rows (66 uint16
                # each): prefetch both now so that their cache misses overlap this
                # bit's work
                jn = j2 + c0 * 33
                prefetch(A2, jn)
                prefetch(A2, jn + 32)
                prefetch(A2, jn + 64)
                if by_use:
                    prefetch(apm_n, r2 + c0)
                if not lean:
                    rn = (h3 ^ (c0 << 1)) & 0xFFFE
                    jn = rn * 33
                    prefetch(A3, jn)
                    prefetch(A3, jn + 32)
                    prefetch(A3, jn + 64)
                    if by_use:
                        prefetch(apm_n, 65536 + rn)
                    rn = 65536 + ((h4 ^ (c0 << 1)) & 0xFFFE)
                    jn = rn * 33
                    prefetch(A3, jn)
                    prefetch(A3, jn + 32)
                    prefetch(A3, jn + 64)
                    if by_use:
                        prefetch(apm_n, 65536 + rn)
            # ---- 2. states -> probabilities -> mixer inputs -----------------
            # (adaptive StateMap per context, as in lpaq1: state -> 22-bit P(1))
            s = T01[at(c0)]
            sst[0] = s
            x[0] = stretch[at(smp[at(s)] >> 20)]
            s = T01[at(256 + (c1 << 8) + c0)]
            sst[1] = s
            x[1] = stretch[at(smp[at(256 + s)] >> 20)]
            for a in range(nlive):
                s = T[at(bk[at(a)] + nib)]
                ci = N_DIRECT + a
                sst[at(ci)] = s
                x[at(ci)] = stretch[at(smp[at((ci << 8) + s)] >> 20)]
            for a in range(nlive, nact):
                x[at(N_DIRECT + a)] = 0
            k = nctx
            # direct adaptive probabilities for orders 1 and 2 (zpaq-style CM counters)
            d1 = (c1 << 8) | c0
            d2 = dcb + nib
            x[at(k)] = stretch[at(DC1[at(d1)] >> 20)]
            x[at(k + 1)] = stretch[at(DC2[at(d2)] >> 20)]
            d3 = dcb3 + nib
            x[at(k + 2)] = stretch[at(DC2[at(d3)] >> 20)]
            k += 1
            # ---- 3. match model ----------------------------------------------
            mctx = -1
            x[at(k + 2)] = 0
            x[at(k + 3)] = 0
            if mon:
                eb = buf[mptr]
                if ((eb | 256) >> (8 - b)) == c0:
                    ebit = (eb >> (7 - b)) & 1
                    if mlen < 16:
                        mb = mlen
                    else:
                        mb = 16 + min((mlen - 16) >> 3, 15)
                    mctx = mb * 2 + ebit
                    x[at(k + 2)] = stretch[at(msmp[at(mctx)] >> 20)]
                    x[at(k + 3)] = (ebit * 2 - 1) * min(mlen, 32) * 16
            x[at(k + 4)] = 256  # bias
            if nn_on:
                # the network's P(bit = 1): the bytes that continue c0 with a 1, among all
                # that continue c0 (docs/FORMAT.md, the nn codec)
                nw = 256 >> b
                nlo = (c0 - (1 << b)) << (8 - b)
                ntot = nn_cum[at(nlo + nw)] - nn_cum[at(nlo)]
                none = nn_cum[at(nlo + nw)] - nn_cum[at(nlo + (nw >> 1))]
                np12 = min(max((none * 4096 + (ntot >> 1)) // ntot, 1), 4095)
                x[at(k + 5)] = stretch[at(np12)]
                x[at(k + 6)] = (np12 - 2048) >> 1
            # ---- 4. two-layer mixer (paq8): three weight sets chosen by the
            # partial byte; match length and count of known contexts; the previous
            # byte. Then a final mixer over their three outputs.
            if mctx < 0:
                mlb = 0
            elif mlen < 16:
                mlb = 1
            elif mlen < 32:
                mlb = 2
            else:
                mlb = 3
            kn = known * 8 // (nact + 1)
            # (rows of the 2-d weight array W: a row's inner loop then compiles to
            # contiguous vector loads and stores)
            b0 = c0
            b1 = MIX_A_SETS + ((mlb * 8 + kn) << 3) + b
            b2 = MIX_A_SETS + MIX_B_SETS + (c1 << 3) + b
            b3 = MIX_A_SETS + MIX_B_SETS + MIX_C_SETS + (shape & 0x1FF)
            b4 = MIX_A_SETS + MIX_B_SETS + MIX_C_SETS + MIX_D_SETS + (min(wlen, 7) << 8) + c0
            acc0 = 0
            acc1 = 0
            acc2 = 0
            acc3 = 0
            acc4 = 0
            base2 = (((shape & 7) << 8) | c0) * (N_MIXERS + 1)
            if lean:
                # fast levels: one weight set, no second layer
                for kk in range(nin):
                    acc0 += x[at(kk)] * W[at(b0), at(kk)]
                st0 = min(max(acc0 >> 16, -2047), 2047)
                st1 = st0
                st2 = st0
                st3 = st0
                st4 = st0
                stf = st0
            else:
                for kk in range(nin):
                    xv = x[at(kk)]
                    acc0 += xv * W[at(b0), at(kk)]
                    acc1 += xv * W[at(b1), at(kk)]
                    acc2 += xv * W[at(b2), at(kk)]
                    acc3 += xv * W[at(b3), at(kk)]
                    acc4 += xv * W[at(b4), at(kk)]
                st0 = min(max(acc0 >> 16, -2047), 2047)
                st1 = min(max(acc1 >> 16, -2047), 2047)
                st2 = min(max(acc2 >> 16, -2047), 2047)
                st3 = min(max(acc3 >> 16, -2047), 2047)
                st4 = min(max(acc4 >> 16, -2047), 2047)
                stf = (st0 * W2[at(base2)] + st1 * W2[at(base2 + 1)] + st2 * W2[at(base2 + 2)]
                       + st3 * W2[at(base2 + 3)] + st4 * W2[at(base2 + 4)] + 256 * W2[at(base2 + 5)]) >> 16
                stf = min(max(stf, -2047), 2047)
            pf = squash[at(stf + 2048)]
            # ---- 5. APM / SSE stages (paq8): interpolate between the two of 33
            # buckets around stretch(p), per context; the nearer one learns.
            sidx = stf + 2048
            lo = sidx >> 7
            wt = sidx & 127
            j2 += lo
            j3 += lo
            j4 += lo
            a2p = (np.int64(A2[at(j2)]) * (128 - wt) + np.int64(A2[at(j2 + 1)]) * wt) >> 7
            if lean:
                p16 = (squash16[at(sidx)] + a2p) >> 1
            else:
                a3p = (np.int64(A3[at(j3)]) * (128 - wt) + np.int64(A3[at(j3 + 1)]) * wt) >> 7
                a4p = (np.int64(A3[at(j4)]) * (128 - wt) + np.int64(A3[at(j4 + 1)]) * wt) >> 7
                p16 = (squash16[at(sidx)] * APM_WEIGHTS[0] + a2p * APM_WEIGHTS[1] + a3p * APM_WEIGHTS[2]
                       + a4p * APM_WEIGHTS[3]) >> 4
            if p16 < 16:
                p16 = 16
            elif p16 > 65520:
                p16 = 65520
            # ---- code the bit (the arithmetic of arzip.coding.binary's encode_bit and
            # decode_bit, written out in this loop) -----------------------------------
            mid = low + (((high - low) * p16) >> 16)
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
                # branch-free: y = (code <= mid)
                y = 1 + ((mid - code) >> 63)
                high += (mid - high) * y
                low += (mid + 1 - low) * (1 - y)
                while ((low ^ high) & 0xFF000000) == 0:
                    low = (low << 8) & 0xFFFFFFFF
                    high = ((high << 8) & 0xFFFFFFFF) | 0xFF
                    nb = cbuf[at(cpos)] if cpos < clen else 0
                    cpos += 1
                    code = ((code << 8) & 0xFFFFFFFF) | nb
            # ---- 6. update ---------------------------------------------------
            # bit histories step through the state machine; each StateMap entry
            # (22-bit p << 10 | count) moves toward the bit at rate 1/(count+1.5)
            s = sst[0]
            T01[at(c0)] = st_next[at(s * 2 + y)]
            v = np.int64(smp[at(s)])
            cn = v & 1023
            pp = v >> 10
            pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
            smp[at(s)] = (pp << 10) | (cn + (cn < sm_limit))
            s = sst[1]
            T01[at(256 + (c1 << 8) + c0)] = st_next[at(s * 2 + y)]
            v = np.int64(smp[at(256 + s)])
            cn = v & 1023
            pp = v >> 10
            pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
            smp[at(256 + s)] = (pp << 10) | (cn + (cn < sm_limit))
            for a in range(nlive):
                ci = N_DIRECT + a
                s = sst[at(ci)]
                T[at(bk[at(a)] + nib)] = st_next[at(s * 2 + y)]
                si = (ci << 8) + s
                v = np.int64(smp[at(si)])
                cn = v & 1023
                pp = v >> 10
                pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
                smp[at(si)] = (pp << 10) | (cn + (cn < sm_limit))
            v = np.int64(DC1[at(d1)])
            cn = v & 1023
            pp = v >> 10
            pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
            DC1[at(d1)] = (pp << 10) | (cn + (cn < 1023))
            v = np.int64(DC2[at(d2)])
            cn = v & 1023
            pp = v >> 10
            pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
            DC2[at(d2)] = (pp << 10) | (cn + (cn < 1023))
            v = np.int64(DC2[at(d3)])
            cn = v & 1023
            pp = v >> 10
            pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
            DC2[at(d3)] = (pp << 10) | (cn + (cn < 1023))
            if mctx >= 0:
                v = np.int64(msmp[at(mctx)])
                cn = v & 1023
                pp = v >> 10
                pp += (((y << 22) - pp) * recip[at(cn)]) >> 16
                msmp[at(mctx)] = (pp << 10) | (cn + (cn < 1023))
            # learning rates: the schedule's for every mixer weight set and a fixed shift for
            # the APMs; or (revision 7, ``by_use``: with a network, and at levels 6-9) each
            # set's and APM row's own, falling with its updates so far (_rate_tables), so that
            # the sets and rows chosen rarely learn fast
            l0 = lr_now
            l1 = lr_now
            l2 = lr_now
            l3 = lr_now
            l4 = lr_now
            lf = lr2
            q2 = apm_q
            q3 = apm_q
            q4 = apm_q
            if by_use:
                u = set_n[at(b0)]
                set_n[at(b0)] = u + (u < RATE_UPDATES - 1)
                l0 += rates[0, at(u)]
                u = apm_n[at(r2)]
                apm_n[at(r2)] = u + (u < RATE_UPDATES - 1)
                q2 = rates[2, at(u)]
                if not lean:
                    u = set_n[at(b1)]
                    set_n[at(b1)] = u + (u < RATE_UPDATES - 1)
                    l1 += rates[0, at(u)]
                    u = set_n[at(b2)]
                    set_n[at(b2)] = u + (u < RATE_UPDATES - 1)
                    l2 += rates[0, at(u)]
                    u = set_n[at(b3)]
                    set_n[at(b3)] = u + (u < RATE_UPDATES - 1)
                    l3 += rates[0, at(u)]
                    u = set_n[at(b4)]
                    set_n[at(b4)] = u + (u < RATE_UPDATES - 1)
                    l4 += rates[0, at(u)]
                    fs = ((shape & 7) << 8) | c0  # the final mixer's set (base2)
                    u = final_n[at(fs)]
                    final_n[at(fs)] = u + (u < RATE_UPDATES - 1)
                    lf += rates[1, at(u)]
                    u = apm_n[at(65536 + r3)]
                    apm_n[at(65536 + r3)] = u + (u < RATE_UPDATES - 1)
                    q3 = rates[2, at(u)]
                    u = apm_n[at(65536 + r4)]
                    apm_n[at(65536 + r4)] = u + (u < RATE_UPDATES - 1)
                    q4 = rates[2, at(u)]
            # mixers: w += x * err * lr (err = bit - p, 12-bit)
            e0 = ((y << 12) - squash[at(st0 + 2048)]) * l0
            if lean:
                for kk in range(nin):
                    W[at(b0), at(kk)] += (x[at(kk)] * e0 + 32768) >> 16
            else:
                e1 = ((y << 12) - squash[at(st1 + 2048)]) * l1
                e2 = ((y << 12) - squash[at(st2 + 2048)]) * l2
                e3 = ((y << 12) - squash[at(st3 + 2048)]) * l3
                e4 = ((y << 12) - squash[at(st4 + 2048)]) * l4
                # (inputs are within +-2047: with every |e| <= 16 each step would round
                # to 0, so the loop is skipped, with the same result)
                if max(abs(e0), abs(e1), abs(e2), abs(e3), abs(e4)) > 16:
                    for kk in range(nin):
                        xv = x[at(kk)]
                        W[at(b0), at(kk)] += (xv * e0 + 32768) >> 16
                        W[at(b1), at(kk)] += (xv * e1 + 32768) >> 16
                        W[at(b2), at(kk)] += (xv * e2 + 32768) >> 16
                        W[at(b3), at(kk)] += (xv * e3 + 32768) >> 16
                        W[at(b4), at(kk)] += (xv * e4 + 32768) >> 16
                ef = ((y << 12) - pf) * lf
                W2[at(base2)] += (st0 * ef + 32768) >> 16
                W2[at(base2 + 1)] += (st1 * ef + 32768) >> 16
                W2[at(base2 + 2)] += (st2 * ef + 32768) >> 16
                W2[at(base2 + 3)] += (st3 * ef + 32768) >> 16
                W2[at(base2 + 4)] += (st4 * ef + 32768) >> 16
                W2[at(base2 + 5)] += (256 * ef + 32768) >> 16
            # APMs: both buckets around stretch(p) move toward the bit, each by its
            # interpolation weight, at the row's rate (in 1/65536)
            target = y << 16
            av = np.int64(A2[at(j2)])
            A2[at(j2)] = av + ((((target - av) * q2) >> 16) * (128 - wt) >> 7)
            av = np.int64(A2[at(j2 + 1)])
            A2[at(j2 + 1)] = av + ((((target - av) * q2) >> 16) * wt >> 7)
            if not lean:
                av = np.int64(A3[at(j3)])
                A3[at(j3)] = av + ((((target - av) * q3) >> 16) * (128 - wt) >> 7)
                av = np.int64(A3[at(j3 + 1)])
                A3[at(j3 + 1)] = av + ((((target - av) * q3) >> 16) * wt >> 7)
                av = np.int64(A3[at(j4)])
                A3[at(j4)] = av + ((((target - av) * q4) >> 16) * (128 - wt) >> 7)
                av = np.int64(A3[at(j4 + 1)])
                A3[at(j4 + 1)] = av + ((((target - av) * q4) >> 16) * wt >> 7)
            c0 = (c0 << 1) | y
            nib = (nib << 1) | y
        # ---- end of byte: update byte-level contexts --------------------------
        c = c0 & 255
        c0 = 1
        if not encoding:
            buf[at(i)] = c
        elif overflow != 0:
            break  # output overflowed: the caller stores the chunk another way
        c4 = ((c4 << 8) | c) & 0xFFFFFFFF
        pos = i + 1
        # order-n hashes straight from the history
        h = 0
        for kk in range(1, 9):
            bv = buf[at(pos - kk)] if pos - kk >= 0 else 0
            h = hash_mix(h, bv + (kk << 8))
            if kk == 2:
                o2h = h
            if kk == 3:
                o3h = hash_mix(h, 0x33)
            if kk >= 2 and kk <= 6:
                ctxh[at(kk - 2)] = h
            elif kk == 8:
                ctxh[C_O8] = h
        c2 = (c4 >> 8) & 255
        c3 = (c4 >> 16) & 255
        h3 = (hash_final(hash_mix(0xA3, (c2 << 8) | c)) >> 16) & 0xFFFF
        h4 = (hash_final(hash_mix(0xA4, c4)) >> 16) & 0xFFFF
        # the APM rows of the next byte's first bit
        jn = (1 | (c << 8)) * 33
        prefetch(A2, jn)
        prefetch(A2, jn + 32)
        if not lean:
            jn = ((h3 ^ 1) & 0xFFFF) * 33
            prefetch(A3, jn)
            prefetch(A3, jn + 32)
            jn = (65536 + ((h4 ^ 1) & 0xFFFF)) * 33
            prefetch(A3, jn)
            prefetch(A3, jn + 32)
        if by_use:
            prefetch(apm_n, 1 | (c << 8))
            prefetch(apm_n, 65536 + ((h3 ^ 1) & 0xFFFF))
            prefetch(apm_n, 2 * 65536 + ((h4 ^ 1) & 0xFFFF))
        # word model: case-folded hashes of the current and previous words
        w0, w1, w2 = _next_words(c, w0, w1, w2)
        wlen = wlen + 1 if w0 != 0 else 0
        if w0 == 0:
            ctxh[C_WORD] = hash_mix(0x1001, c)
        else:
            ctxh[C_WORD] = hash_mix(0x1002, w0)
        ctxh[C_WORD2] = hash_mix(hash_mix(0x1003, w0), w1)
        ctxh[C_WORD3] = hash_mix(hash_mix(hash_mix(0x1004, w0), w1), w2)
        # sparse contexts (skip the most recent bytes)
        # (contexts that the level leaves out are not computed: ``on``)
        if on[C_SPARSE1] | on[C_SPARSE2] | on[C_SPARSE3]:
            ctxh[C_SPARSE1] = hash_mix(0x2001, (c4 >> 8) & 0xFFFF)
            ctxh[C_SPARSE2] = hash_mix(0x2002, c4 & 0xFF00FF)
            ctxh[C_SPARSE3] = hash_mix(0x2003, (c4 >> 16) & 0xFFFF)
        # record model (as in paq8): the bytes one and two records above, by two detectors of
        # the record length
        if by_distance:
            # a byte value recurring at a fixed distance: follows local structure (fields,
            # short rows); in revision 2 the only detector, for both record contexts
            d = pos - last_pos[at(c)]
            if d > 1 and d == last_dist[at(c)]:
                if d == rcand:
                    rcount += 1
                    if rcount >= 2:
                        flen = d
                else:
                    rcand = d
                    rcount = 0
            last_dist[at(c)] = d
            last_pos[at(c)] = pos
            if flen > 0 and pos >= flen:
                above = buf[at(pos - flen)]
                above2 = buf[at(pos - 2 * flen)] if pos >= 2 * flen else 0
                ctxh[C_FIELD] = hash_mix(hash_mix(0x3002, above), above2 | (flen << 8))
            else:
                ctxh[C_FIELD] = 0x3002
        if on[C_REC1] | on[C_REC2]:
            if rec_autocorr:
                # by autocorrelation (revision 3): holds a table's row length where many byte
                # values recur at many distances (a chess endgame table, kppkn.gtb)
                rlen, rec_chance = _record_autocorr(buf, pos, c, rlen, rec_chance, rec_count,
                                                    rec_score, rec_hist)
            else:
                rlen = flen
            nlive = nact if rlen > 0 else nact - rec_tail
            if rlen > 0 and pos >= rlen:
                column = pos % rlen if rec_autocorr else 0  # (revision 2: no column)
                above = buf[at(pos - rlen)]
                above2 = buf[at(pos - 2 * rlen)] if pos >= 2 * rlen else 0
                # (with the column in the record: which field of the row this byte is)
                ctxh[C_REC1] = hash_mix(hash_mix(0x3001, above), c | (rlen << 8) | (column << 20))
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
        above_t = buf[at(ab)] if ab < line_start else 0
        ctxh[C_COLUMN] = hash_mix(hash_mix(0x4001, min(col, 255)), above_t | (c << 8))
        # text shape (as the word-shape features of text models): the classes of the
        # last bytes, alone, with the last two bytes, and as a sequence of runs
        cls = _byte_class(c)
        if cls != (shape & 7):
            runs = ((runs << 3) | cls) & 0x3FFFFFFF
        shape = ((shape << 3) | cls) & 0xFFFFFF
        ctxh[C_SHAPE] = hash_mix(0x8001, shape)
        ctxh[C_SHAPE_O2] = hash_mix(hash_mix(0x8004, shape & 0xFFF), c4 & 0xFFFF)
        ctxh[C_RUNS] = hash_mix(0x8006, runs)
        # position in the line with the classes of the last two bytes and the last byte
        ctxh[C_COLUMN_SHAPE] = hash_mix(hash_mix(0x8105, min(col, 255) | ((shape & 0x3F) << 8)), c)
        # more word contexts: current word with the word before the previous one, and
        # with the previous word plus the separator just seen
        ctxh[C_WORD_SKIP] = hash_mix(hash_mix(0x1005, w0), w2)
        ctxh[C_WORD_SEP] = hash_mix(hash_mix(0x1006, w0), w1 + (c if w0 == 0 else 0))
        # case-folded order 4
        if on[C_FOLD4]:
            fc = c | 32 if (c | 32) >= 97 and (c | 32) <= 122 else c
            fold = ((fold << 8) | fc) & 0xFFFFFFFF
            ctxh[C_FOLD4] = hash_mix(0x5001, fold)
        if on[C_IND1] | on[C_IND2]:
            # indirect: what followed the previous occurrences of the last one/two bytes
            c2i = (c4 >> 8) & 0xFFFF
            ind1[at((c4 >> 8) & 255)] = c
            ind2[at(c2i)] = ((ind2[at(c2i)] << 8) | c) & 0xFFFF
            ctxh[C_IND1] = hash_mix(hash_mix(0x6001, c), ind1[at(c)])
            ctxh[C_IND2] = hash_mix(hash_mix(0x6002, c4 & 0xFFFF), ind2[at(c4 & 0xFFFF)])
    cstate[0] = low
    cstate[1] = high
    cstate[2] = cpos
    cstate[3] = code
    cstate[5] = overflow
    return 0


def _aligned(count: int, dtype, value: int) -> np.ndarray:
    """``np.full(count, value, dtype)`` starting at a 64-byte boundary, so that each
    16-byte bucket group of 4 (T) and each 16-counter line (DC2) is one cache line;
    large tables in huge pages where the system has them (``arzip.memory``)."""
    out = table(count, dtype)
    if value:
        out[:] = value
    return out


def _tiled(row: np.ndarray, count: int) -> np.ndarray:
    """``np.tile(row, count)`` in a table of ``_aligned``."""
    out = _aligned(row.shape[0] * count, row.dtype, 0)
    out.reshape(count, row.shape[0])[:] = row
    return out


def _new_state(lv: CMLevel, nn_inputs: int = 0):
    """Fresh model tables for one chunk."""
    act = np.array(lv.contexts, dtype=np.int64)
    nctx = N_DIRECT + len(lv.contexts)
    nin = nctx + N_EXTRA + nn_inputs
    # state maps start at each state's count-based estimate (22-bit p << 10 | count)
    smp = np.tile(STATE_P0.astype(np.uint32) << 16, nctx)
    msmp = np.array([(16384 if (j & 1) == 0 else 49152) << 16 for j in range(64)], dtype=np.uint32)
    apm_row = np.array([SQUASH16[min(4095, max(0, (k - 16) * 128 + 2048))] for k in range(33)],
                       dtype=np.uint16)
    return (
        act,
        _aligned(16 << lv.table_bits, np.uint8, 0),  # T: hashed bit histories
        np.zeros(256 + 65536, dtype=np.uint8),  # T01: order 0 and 1 bit histories
        np.full(1 << 16, 1 << 31, dtype=np.uint32),  # DC1: order-1 direct counters
        _aligned(16 << lv.dc_bits, np.uint32, 1 << 31),  # DC2: order-2 and -3 direct counters
        _aligned(1 << lv.match_bits, np.int32, 0),  # MT: match model hash -> position
        smp,
        msmp,
        np.full(MIX_SETS * nin, 1 << 12, dtype=np.int32),  # W
        np.full(FINAL_SETS * (N_MIXERS + 1), 65536 // N_MIXERS, dtype=np.int32),  # W2
        _tiled(apm_row, 65536),  # A2: order-1 APM
        _tiled(apm_row, 2 * 65536),  # A3: hashed order-2 APM, then hashed order-4
        _rate_tables(lv),
        np.zeros(MIX_SETS, dtype=np.int32),  # updates of each first-layer weight set
        np.zeros(FINAL_SETS, dtype=np.int32),  # of each final-mixer weight set
        np.zeros(3 * 65536, dtype=np.uint16),  # of each APM row (A2's, then A3's)
    )


def _rate_tables(lv: CMLevel) -> np.ndarray:
    """Learning rates by the number of updates *n* so far (0..RATE_UPDATES - 1) of a weight
    set or an APM row: row 0, the first-layer mixer's extra rate for a set, row 1 the final
    mixer's, both ``boost * h // (h + n)`` (h = ``set_rate_halflife``); row 2 an APM row's rate
    in 1/65536, ``2**16 >> apm_rate`` plus ``apm_rate_boost * h // (h + n)`` (h =
    ``apm_rate_halflife``). The extra rates end at the last count. Levels before revision 7 have
    no boosts: the mixers' rates are their schedule's and the APMs' a fixed shift."""
    n = np.arange(RATE_UPDATES, dtype=np.int64)
    h, ha = lv.set_rate_halflife, lv.apm_rate_halflife
    rates = np.zeros((3, RATE_UPDATES), dtype=np.uint16)
    rates[0] = lv.set_rate_boost * h // (h + n)
    rates[1] = lv.final_rate_boost * h // (h + n)
    rates[2] = np.minimum((65536 >> lv.apm_rate) + lv.apm_rate_boost * ha // (ha + n), 32768)
    rates[:2, -1] = 0
    rates[2, -1] = 65536 >> lv.apm_rate
    return rates


def _params(lv: CMLevel) -> np.ndarray:
    prm = np.zeros(N_PARAMS, dtype=np.int64)
    prm[P_TBITS] = lv.table_bits
    prm[P_DBITS] = lv.dc_bits
    prm[P_MBITS] = lv.match_bits
    prm[P_SMLIMIT] = lv.sm_limit
    prm[P_LR] = lv.mixer_lr
    prm[P_LR2] = lv.mixer2_lr
    prm[P_APMRATE] = lv.apm_rate
    prm[P_MINLEN] = lv.match_min
    prm[P_LRBOOST] = lv.mixer_lr_boost
    prm[P_LEAN] = int(lv.lean)
    prm[P_RECDET] = lv.record_detector
    prm[P_RECTAIL] = lv.record_tail
    prm[P_BYUSE] = int(lv.set_rate_boost != 0 or lv.final_rate_boost != 0 or lv.apm_rate_boost != 0)
    return prm


def _nn_args(network) -> tuple:
    """(nn_on, weights, scratch, exp2 table) for the model loop: placeholders of the same
    types without a network, so that both cases run one compiled loop."""
    from ...coding.frequencies import EXP2_FRACTION

    if network is None:
        i8, f32, i64 = np.zeros((1, 1), np.int8), np.zeros((1, 1), np.float32), np.zeros(1, np.int64)
        weights = (i8, i64, i64, f32, i64, i64, f32, i64, i64)
        scratch = (np.zeros(1, np.int32), np.zeros(1, np.float32), np.zeros(1, np.float32),
                   np.zeros(1, np.float32))
        return 0, weights, scratch, EXP2_FRACTION
    return 1, network.step_arrays(), network.scratch(), EXP2_FRACTION


def _run(buf: np.ndarray, n: int, encoding: bool, cstate, cbuf, lv: CMLevel, network=None) -> int:
    tables = _new_state(lv, 0 if network is None else N_NN)
    weights = tables[8].reshape(MIX_SETS, -1)  # (sets, inputs)
    if network is not None:
        weights[:, -N_NN] = NN_WEIGHT0
    tables = tables[:8] + (weights,) + tables[9:]
    return _model_loop(buf, n, encoding, cstate, cbuf, _params(lv), *tables, RECIP, STATE_NEXT,
                       STATE_N, STRETCH, SQUASH, SQUASH16, *_nn_args(network))


def encode_level(data: bytes, lv: CMLevel, network=None) -> bytes | None:
    return encode_with_model(data, lambda *coder: _run(*coder, lv, network))


def decode_level(payload: bytes, raw_size: int, lv: CMLevel, network=None) -> bytes:
    return decode_with_model(payload, raw_size, lambda *coder: _run(*coder, lv, network))


assert N_STATES <= 256
