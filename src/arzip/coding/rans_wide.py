"""Static rANS on 32 lanes in four word streams: the layout that vector instructions decode.

What it does: codes an array of symbols (alphabet up to 2**18) with one frequency
table of total 2**S (S <= 16) that both sides know, as ``arzip.coding.rans`` does,
in the same arithmetic (64-bit states in [2**31, 2**63), 32-bit words, the same
encoder step), but with the symbols spread over 32 lanes in four groups of eight:
lane j codes symbols j, j + 32, j + 64, ...; lanes 8g..8g+7 form group g, and each
group's renormalisations read one word stream shared by its eight lanes, in lane
order. The decoder then takes a group's eight states as one vector: eight loads
(``arzip.vector.load_lanes``: on AMD Zen 4 faster than a gather) find their eight
table entries, and one expanding load gives the lanes that
renormalise their next words (``_vector_rounds``, LLVM vector code written through
numba's ``intrinsic``: plain LLVM vector operations, which LLVM lowers to AVX-512
expanding loads and compressions where the CPU has them and to scalar code elsewhere;
integer arithmetic only, so every machine decodes the same symbols). Four groups
give four independent dependency chains. The encoder takes a group's eight lanes as
one vector too (``_vector_encode_rounds``: each lane's record and reciprocal by one
load, ``arzip.vector.load_lane_pairs``, the quotient from the
float reciprocal corrected to the exact one as in ``rans.push``, the emitted words
compressed into place). On an AVX-512 machine both run about twice as fast as the
eight-lane scalar coder of ``rans``.
What it does not do: adapt, build or store tables (callers do), or decode the
eight-lane payloads of ``rans`` (that module still does).

Payload (uint32 words): four group lengths G0..G3 (each >= 16), then the groups'
words one after another; each group opens with its eight lanes' final states
(lane 8g, high word then low, up to lane 8g + 7), then the words its
renormalisations read, in the order the decoder reads them: round by round, and
within a round by lane.

Invariants as in ``rans``: every coded symbol has freq >= 1, sum(freq) == 2**S, no
single symbol holds all of it. The decoder never reads outside its payload: the
vector rounds run only while every group has at least eight unread words a round
ahead; the last rounds go through a scalar step whose word positions are clamped to
the group (on corrupt input the symbols are garbage, which the caller's checksum
catches).
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import types, uint64
from numba.extending import intrinsic

from ..jit import njit
from .. import vector as v
from .rans import _LOW, _WORD_BITS, _WORD_MASK, SYMBOL_BITS
from .rans import _encode_step as _scalar_encode_step

GROUPS = 4
GROUP_LANES = 8
LANES = GROUPS * GROUP_LANES
STATE_WORDS = 2 * GROUP_LANES  # a group's opening states
MIN_WORDS = GROUPS + GROUPS * STATE_WORDS


@njit(cache=True)  # keeps the GIL: a hand-off to another thread costs more than the call
def stream_words(count: int) -> int:
    """The words of working space that encoding ``count`` symbols needs (:func:`encode_into`)."""
    return GROUPS * _group_capacity(count)


@njit(cache=True, nogil=True, inline="always")
def _group_capacity(count: int) -> int:
    # a symbol emits at most one word; a vector round stores eight words below its
    # stream's top whatever it emits
    return GROUP_LANES * (count // LANES + 2) + STATE_WORDS


@njit(cache=True, nogil=True)
def encode(symbols: np.ndarray, table: np.ndarray, shift: int = 0, scale_bits: int = 16) -> np.ndarray:
    """The payload (uint32 words, the layout in the module docstring) coding the
    unsigned integers of ``symbols`` shifted right by ``shift`` bits; ``table`` is
    ``rans.encoder_table`` of the frequencies."""
    streams = np.empty(stream_words(symbols.shape[0]), dtype=np.uint32)
    return encode_into(symbols, table, shift, scale_bits, streams)


@njit(cache=True, nogil=True)
def encode_into(symbols: np.ndarray, table: np.ndarray, shift: int, scale_bits: int, streams: np.ndarray) -> np.ndarray:
    """:func:`encode` with working space ``streams`` (uint32, at least :func:`stream_words`
    of the symbols: a caller that codes many segments reuses one, and fresh memory's page
    faults cost a quarter of the coding time)."""
    symbols = np.ascontiguousarray(symbols)
    n = symbols.shape[0]
    inverse = table.view(np.float64)
    rounds = n // LANES
    capacity = _group_capacity(n)
    if streams.shape[0] < GROUPS * capacity:
        raise ValueError("rans_wide.encode_into: working space too small")
    bound = uint64((_LOW >> scale_bits) << _WORD_BITS)
    u_shift, u_scale = uint64(shift), uint64(scale_bits)
    state = np.full(LANES + GROUPS, _LOW, dtype=np.int64)  # the lanes' states, the groups' tops
    for g in range(GROUPS):
        state[LANES + g] = (g + 1) * capacity
    # backwards: the last, partial round first (lanes 0.. in turn), then whole rounds,
    # each group's words written downwards into its stream, its last lane's lowest
    for i in range(n - 1, LANES * rounds - 1, -1):
        lane = i - LANES * rounds
        g = LANES + (lane >> 3)
        x, top = _scalar_encode_step(
            uint64(state[lane]), uint64(state[g]), uint64(symbols[i]) >> u_shift, table, inverse, streams, bound, u_scale
        )
        state[lane], state[g] = np.int64(x), np.int64(top)
    if rounds > 0:
        _vector_encode_rounds(symbols, table, streams, state, rounds, u_shift, u_scale, bound)
    total = GROUPS
    for g in range(GROUPS):
        top = state[LANES + g]
        for k in range(GROUP_LANES - 1, -1, -1):
            x = uint64(state[GROUP_LANES * g + k])
            streams[top - 1] = x & uint64(_WORD_MASK)
            streams[top - 2] = x >> uint64(_WORD_BITS)
            top -= 2
        state[LANES + g] = top
        total += (g + 1) * capacity - top
    words = np.empty(total, dtype=np.uint32)
    at = GROUPS
    for g in range(GROUPS):
        top = state[LANES + g]
        length = (g + 1) * capacity - top
        words[g] = length
        words[at : at + length] = streams[top : top + length]
        at += length
    return words


@njit(cache=True)  # keeps the GIL: a hand-off to another thread costs more than the call
def lanes_valid(words: np.ndarray) -> bool:
    """Whether the payload's group lengths fit its words (each group holds its states):
    a decoder needs this checked first."""
    if words.shape[0] < MIN_WORDS:
        return False
    total = GROUPS
    for g in range(GROUPS):
        if words[g] < STATE_WORDS:
            return False
        total += np.int64(words[g])
    return total == words.shape[0]


@njit(cache=True, nogil=True)
def decoder_state(words: np.ndarray) -> np.ndarray:
    """The decoder's state (int64): the 32 lane states (as bit patterns), then each
    group's next word position, then each group's end (``words`` has passed
    :func:`lanes_valid`)."""
    state = np.zeros(LANES + 2 * GROUPS, dtype=np.int64)
    at = GROUPS
    for g in range(GROUPS):
        for k in range(GROUP_LANES):
            high, low = np.int64(words[at + 2 * k]), np.int64(words[at + 2 * k + 1])
            state[GROUP_LANES * g + k] = (high << _WORD_BITS) | low
        state[LANES + g] = at + STATE_WORDS
        at += np.int64(words[g])
        state[LANES + GROUPS + g] = at
    return state


def packed_slots(symbols: np.ndarray, freqs: np.ndarray, scale_bits: int) -> np.ndarray:
    """The decoder's table: for each of the 2**S slots its symbol, the symbol's
    frequency and the slot's offset within it, in one word (symbol | freq << 18 |
    offset << 35: one gathered load a step), from the used symbols (ascending) and
    their frequencies (summing to 2**S)."""
    return _packed_slots(np.asarray(symbols, dtype=np.int64), np.asarray(freqs, dtype=np.int64), scale_bits)


@njit(cache=True, nogil=True)
def _packed_slots(symbols: np.ndarray, freqs: np.ndarray, scale_bits: int) -> np.ndarray:
    packed = np.empty(1 << scale_bits, dtype=np.uint64)
    start = 0
    for k in range(symbols.shape[0]):
        symbol, freq = uint64(symbols[k]), uint64(freqs[k])
        head = symbol | (freq << uint64(SYMBOL_BITS))
        for offset in range(freqs[k]):
            packed[start + offset] = head | (uint64(offset) << uint64(SYMBOL_BITS + 17))
        start += freqs[k]
    return packed


# ---------------------------------------------------------------- the vector rounds


def _decode_step(b: ir.IRBuilder, table: ir.Value, words: ir.Value, x: ir.Value, position: ir.Value, mask, shift):
    """One group's decoding step (a round of its eight lanes): (the next states, the
    next word position, the eight symbols as int32)."""
    entry = v.load_lanes(b, table, b.and_(x, mask), v.I64)
    freq = b.and_(b.lshr(entry, v.constant(SYMBOL_BITS)), v.constant(0x1FFFF))
    x = b.add(b.mul(freq, b.lshr(x, shift)), b.lshr(entry, v.constant(SYMBOL_BITS + 17)))
    take = b.icmp_unsigned("<", x, v.constant(_LOW))
    fresh = v.expand_load(b, v.element(b, words, position, v.I32), take, v.I32)
    x = b.select(take, b.or_(b.shl(x, v.constant(_WORD_BITS)), b.zext(fresh, v.vector(v.I64))), x)
    symbols = b.trunc(b.and_(entry, v.constant((1 << SYMBOL_BITS) - 1)), v.vector(v.I32))
    return x, b.add(position, v.count_set(b, take)), symbols


def _group_states(b: ir.IRBuilder, state: ir.Value) -> tuple[list, list]:
    """The groups' state vectors and their word positions (or tops), from ``state``."""
    vectors = [v.load(b, v.element(b, state, GROUP_LANES * g, v.I64), v.I64, align=8) for g in range(GROUPS)]
    return vectors, [b.load(v.element(b, state, LANES + g, v.I64)) for g in range(GROUPS)]


def _store_group_states(b: ir.IRBuilder, state: ir.Value, vectors: list, positions: list) -> None:
    for g in range(GROUPS):
        v.store(b, vectors[g], v.element(b, state, GROUP_LANES * g, v.I64), align=8)
        b.store(positions[g], v.element(b, state, LANES + g, v.I64))


def _round_loop(b: ir.IRBuilder, name: str, first: ir.Value, last_test, vectors: list, positions: list, body) -> tuple:
    """A loop over rounds from ``first`` (``last_test(b, next_round)``: whether to go on),
    the groups' vectors and positions carried round to round: ``body(b, round, g, x,
    position)`` gives group g's next (x, position). Returns the final (vectors, positions)."""
    entry = b.block
    loop = b.append_basic_block(name)
    done = b.append_basic_block(name + ".done")
    b.branch(loop)
    b.position_at_end(loop)
    r = b.phi(v.I64)
    x_phis = [b.phi(v.vector(v.I64)) for _ in range(GROUPS)]
    p_phis = [b.phi(v.I64) for _ in range(GROUPS)]
    r.add_incoming(first, entry)
    for g in range(GROUPS):
        x_phis[g].add_incoming(vectors[g], entry)
        p_phis[g].add_incoming(positions[g], entry)
        x, p = body(b, r, g, x_phis[g], p_phis[g])
        x_phis[g].add_incoming(x, loop)
        p_phis[g].add_incoming(p, loop)
        vectors[g], positions[g] = x, p
    following, go_on = last_test(b, r)
    r.add_incoming(following, loop)
    b.cbranch(go_on, loop, done)
    b.position_at_end(done)
    return vectors, positions


@intrinsic
def _vector_rounds(typingctx, words, table, out, state, rounds, mask, shift):  # noqa: ANN001 - numba's signature
    """``rounds`` rounds of the 32 lanes into out[:32 * rounds] (uint32), from and back
    into ``state`` (:func:`decoder_state`'s layout), with the packed ``table``
    (:func:`packed_slots`). The caller guarantees that every group has eight unread
    words a round ahead, and ``rounds`` >= 1."""
    signature = types.void(words, table, out, state, rounds, mask, shift)

    def codegen(context, builder, sig, args):
        arrays = [context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:4], args[:4])]
        words_ptr, table_ptr, out_ptr, state_ptr = (array.data for array in arrays)
        mask_vector, shift_vector = v.splat(builder, args[5]), v.splat(builder, args[6])

        def body(b, r, g, x, position):
            x, position, symbols = _decode_step(b, table_ptr, words_ptr, x, position, mask_vector, shift_vector)
            at = b.add(b.mul(r, ir.Constant(v.I64, LANES)), ir.Constant(v.I64, GROUP_LANES * g))
            v.store(b, symbols, v.element(b, out_ptr, at, v.I32), align=4)
            return x, position

        def go_on(b, r):
            following = b.add(r, ir.Constant(v.I64, 1))
            return following, b.icmp_signed("<", following, args[4])

        vectors, positions = _group_states(builder, state_ptr)
        vectors, positions = _round_loop(builder, "rans_wide.decode", ir.Constant(v.I64, 0), go_on, vectors, positions, body)
        _store_group_states(builder, state_ptr, vectors, positions)
        return context.get_dummy_value()

    return signature, codegen


def _encode_step(b: ir.IRBuilder, table: ir.Value, streams: ir.Value, x, top, symbols, shift, scale, bound) -> tuple:
    """One group's encoding step (a round of its eight lanes, backwards): (the states
    after coding ``symbols`` (int64), the stream's new top). The words the lanes emit go
    just below the top, in lane order, by one store of eight words whose others lie
    below (where the next stores land, or outside the output)."""
    s = b.shl(b.lshr(symbols, shift), v.constant(1))  # a symbol's record: freq | start << 32, then 1 / freq
    record, inverse = v.load_lane_pairs(b, table, s, v.I64)
    inverse = b.bitcast(inverse, v.vector(ir.DoubleType()))
    freq = b.and_(record, v.constant(_WORD_MASK))
    emit = b.icmp_unsigned(">=", x, b.mul(bound, freq))
    packed = v.compress(b, v.reverse(b, b.trunc(x, v.vector(v.I32))), v.reverse(b, emit))
    below = b.sub(top, ir.Constant(v.I64, GROUP_LANES))
    v.store(b, v.reverse(b, packed), v.element(b, streams, below, v.I32), align=4)
    x = b.select(emit, b.lshr(x, v.constant(_WORD_BITS)), x)
    # x // freq from the float reciprocal, corrected to the exact quotient (rans.push)
    q = b.fptoui(b.fmul(b.uitofp(x, inverse.type), inverse), v.vector(v.I64))
    m = b.sub(x, b.mul(q, freq))
    under = b.icmp_signed("<", m, v.constant(0))
    q = b.select(under, b.sub(q, v.constant(1)), q)
    m = b.select(under, b.add(m, freq), m)
    over = b.icmp_signed(">=", m, freq)
    q = b.select(over, b.add(q, v.constant(1)), q)
    m = b.select(over, b.sub(m, freq), m)
    x = b.add(b.add(b.shl(q, scale), m), b.lshr(record, v.constant(_WORD_BITS)))
    return x, b.sub(top, v.count_set(b, emit))


@intrinsic
def _vector_encode_rounds(typingctx, symbols, table, streams, state, rounds, shift, scale, bound):  # noqa: ANN001
    """Rounds ``rounds`` - 1 down to 0 of the 32 lanes (symbols[32r:32r + 32] >> ``shift``),
    from and back into ``state`` (the lanes' states, then the groups' tops, int64), each
    group's words below its top in ``streams``. ``table``: ``rans.encoder_table``."""
    signature = types.void(symbols, table, streams, state, rounds, shift, scale, bound)
    symbol_type = ir.IntType(symbols.dtype.bitwidth)

    def codegen(context, builder, sig, args):
        arrays = [context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:4], args[:4])]
        symbols_ptr, table_ptr, streams_ptr, state_ptr = (array.data for array in arrays)
        shift, scale, bound = (v.splat(builder, value) for value in args[5:8])

        def body(b, r, g, x, top):
            at = b.add(b.mul(r, ir.Constant(v.I64, LANES)), ir.Constant(v.I64, GROUP_LANES * g))
            loaded = v.load(b, v.element(b, symbols_ptr, at, symbol_type), symbol_type)
            wide = b.zext(loaded, v.vector(v.I64)) if symbol_type.width < 64 else loaded
            return _encode_step(b, table_ptr, streams_ptr, x, top, wide, shift, scale, bound)

        def go_on(b, r):
            earlier = b.sub(r, ir.Constant(v.I64, 1))
            return earlier, b.icmp_signed(">=", earlier, ir.Constant(v.I64, 0))

        vectors, tops = _group_states(builder, state_ptr)
        last_round = builder.sub(args[4], ir.Constant(v.I64, 1))
        vectors, tops = _round_loop(builder, "rans_wide.encode", last_round, go_on, vectors, tops, body)
        _store_group_states(builder, state_ptr, vectors, tops)
        return context.get_dummy_value()

    return signature, codegen


@njit(cache=True, nogil=True, inline="always")
def _scalar_round(words, table, out, state, at, mask, scale_bits):
    """One round of the 32 lanes into out[at:at + 32], each group's word position
    clamped to the group (the payload's end, or a corrupt payload)."""
    for g in range(GROUPS):
        p = state[LANES + g]
        last = state[LANES + GROUPS + g] - 1
        for k in range(GROUP_LANES):
            lane = GROUP_LANES * g + k
            x = uint64(state[lane])
            e = table[x & mask]
            x = ((e >> uint64(SYMBOL_BITS)) & uint64(0x1FFFF)) * (x >> scale_bits) + (e >> uint64(SYMBOL_BITS + 17))
            if x < uint64(_LOW):
                x = (x << uint64(_WORD_BITS)) | uint64(words[min(p, last)])
                p += 1
            state[lane] = np.int64(x)
            out[at + lane] = e & uint64((1 << SYMBOL_BITS) - 1)
        state[LANES + g] = p


@njit(cache=True, nogil=True)
def decode_block(words: np.ndarray, state: np.ndarray, table: np.ndarray, out: np.ndarray, count: int) -> None:
    """Continue decoding: the next ``count`` symbols into out[:count] (uint32), with the
    packed ``table``. Every block but the last must hold a multiple of 32 symbols.
    Vector rounds while every group has eight words a round ahead (rechecked after
    each run of them, since a round reads fewer on average); scalar rounds, clamped,
    after."""
    mask = uint64(table.shape[0] - 1)
    scale_bits = uint64(0)
    while (1 << scale_bits) < table.shape[0]:
        scale_bits += uint64(1)
    rounds = count // LANES
    r = 0
    while r < rounds:
        safe = rounds - r  # a round reads at most eight words of each group
        for g in range(GROUPS):
            safe = min(safe, max((state[LANES + GROUPS + g] - state[LANES + g]) // GROUP_LANES, 0))
        if safe > 0:
            _vector_rounds(words, table, out[LANES * r :], state, safe, mask, scale_bits)
            r += safe
        else:
            _scalar_round(words, table, out, state, LANES * r, mask, scale_bits)
            r += 1
    # the payload's last 0-31 symbols belong to lanes 0, 1, ... and need no step
    for k in range(count - LANES * rounds):
        out[LANES * rounds + k] = table[uint64(state[k]) & mask] & uint64((1 << SYMBOL_BITS) - 1)


@njit(cache=True, nogil=True)
def decode(words: np.ndarray, count: int, table: np.ndarray) -> np.ndarray:
    """Mirror of :func:`encode` (with no shift): ``count`` symbols (uint32), ``table``
    from :func:`packed_slots`. ValueError on a payload whose group lengths do not fit."""
    if not lanes_valid(words):
        raise ValueError("corrupt rANS payload")
    out = np.zeros(count, dtype=np.uint32)
    decode_block(words, decoder_state(words), table, out, count)
    return out
