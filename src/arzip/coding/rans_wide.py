"""Static rANS on 32 lanes in four word streams: the layout that vector instructions decode.

What it does: codes an array of symbols (alphabet up to 2**18) with one frequency
table of total 2**S (S <= 16) that both sides know, as ``arzip.coding.rans`` does,
in the same arithmetic (64-bit states in [2**31, 2**63), 32-bit words, the same
encoder step), but with the symbols spread over 32 lanes in four groups of eight:
lane j codes symbols j, j + 32, j + 64, ...; lanes 8g..8g+7 form group g, and each
group's renormalisations read one word stream shared by its eight lanes, in lane
order. The decoder then takes a group's eight states as one vector: one gather
finds their eight table entries, and one expanding load gives the lanes that
renormalise their next words (``_vector_rounds``, LLVM vector code written through
numba's ``intrinsic``: plain LLVM vector operations, which LLVM lowers to AVX-512
gathers and expanding loads where the CPU has them and to scalar code elsewhere;
integer arithmetic only, so every machine decodes the same symbols). Four groups
give four independent dependency chains. The encoder takes a group's eight lanes as
one vector too (``_vector_encode_rounds``: gathered records, the quotient from the
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
from .rans import _LOW, _WORD_BITS, _WORD_MASK, SYMBOL_BITS, _encode_step

GROUPS = 4
GROUP_LANES = 8
LANES = GROUPS * GROUP_LANES
STATE_WORDS = 2 * GROUP_LANES  # a group's opening states
MIN_WORDS = GROUPS + GROUPS * STATE_WORDS


@njit(cache=True, nogil=True)
def encode(symbols: np.ndarray, table: np.ndarray, shift: int = 0, scale_bits: int = 16) -> np.ndarray:
    """The payload (uint32 words, the layout in the module docstring) coding the
    unsigned integers of ``symbols`` shifted right by ``shift`` bits; ``table`` is
    ``rans.encoder_table`` of the frequencies."""
    symbols = np.ascontiguousarray(symbols)
    n = symbols.shape[0]
    inverse = table.view(np.float64)
    rounds = n // LANES
    # a symbol emits at most one word; a vector round stores eight words below its stream's
    # top whatever it emits
    capacity = GROUP_LANES * (rounds + 2) + STATE_WORDS
    streams = np.empty(GROUPS * capacity, dtype=np.uint32)
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
        x, top = _encode_step(
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


@njit(cache=True, nogil=True)
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

_I1, _I8, _I32, _I64 = ir.IntType(1), ir.IntType(8), ir.IntType(32), ir.IntType(64)
_PTR = ir.PointerType()


def _vector(element: ir.Type) -> ir.VectorType:
    return ir.VectorType(element, GROUP_LANES)


def _splat(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    """A vector with ``value`` in every lane."""
    undefined = ir.Constant(_vector(value.type), ir.Undefined)
    first = builder.insert_element(undefined, value, ir.Constant(_I32, 0))
    return builder.shuffle_vector(first, undefined, ir.Constant(_vector(_I32), [0] * GROUP_LANES))


def _constant(value: int, element: ir.Type = _I64) -> ir.Constant:
    return ir.Constant(_vector(element), [value] * GROUP_LANES)


def _declare(module: ir.Module, name: str, result: ir.Type, arguments: list) -> ir.Function:
    found = module.globals.get(name)
    return found if found is not None else ir.Function(module, ir.FunctionType(result, arguments), name)


def _element(builder: ir.IRBuilder, base: ir.Value, index: int | ir.Value, element: ir.Type) -> ir.Value:
    position = ir.Constant(_I64, index) if isinstance(index, int) else index
    return builder.gep(base, [position], source_etype=element)


def _as_vector_pointer(builder: ir.IRBuilder, pointer: ir.Value, element: ir.Type) -> ir.Value:
    return builder.bitcast(pointer, _vector(element).as_pointer())


class _Round:
    """The LLVM values of one group's decoding step (one round of its eight lanes)."""

    def __init__(self, builder: ir.IRBuilder, module: ir.Module, table: ir.Value, words: ir.Value, mask, shift) -> None:
        self.builder = builder
        self.gather = _declare(
            module, "llvm.masked.gather.v8i64.v8p0", _vector(_I64), [_vector(_PTR), _I32, _vector(_I1), _vector(_I64)]
        )
        self.expand = _declare(module, "llvm.masked.expandload.v8i32", _vector(_I32), [_PTR, _vector(_I1), _vector(_I32)])
        self.popcount = _declare(module, "llvm.ctpop.i8", _I8, [_I8])
        self.table = _splat(builder, builder.ptrtoint(table, _I64))
        self.words = words
        self.mask, self.shift = _splat(builder, mask), _splat(builder, shift)

    def step(self, x: ir.Value, position: ir.Value) -> tuple[ir.Value, ir.Value, ir.Value]:
        """(the next states, the next word position, the eight symbols as int32)."""
        b = self.builder
        slot = b.and_(x, self.mask)
        addresses = b.inttoptr(b.add(self.table, b.shl(slot, _constant(3))), _vector(_PTR))
        every = ir.Constant(_vector(_I1), [1] * GROUP_LANES)
        entry = b.call(self.gather, [addresses, ir.Constant(_I32, 8), every, ir.Constant(_vector(_I64), None)])
        freq = b.and_(b.lshr(entry, _constant(SYMBOL_BITS)), _constant(0x1FFFF))
        x = b.add(b.mul(freq, b.lshr(x, self.shift)), b.lshr(entry, _constant(SYMBOL_BITS + 17)))
        take = b.icmp_unsigned("<", x, _constant(_LOW))
        fresh = b.call(self.expand, [_element(b, self.words, position, _I32), take, ir.Constant(_vector(_I32), None)])
        x = b.select(take, b.or_(b.shl(x, _constant(_WORD_BITS)), b.zext(fresh, _vector(_I64))), x)
        taken = b.call(self.popcount, [b.bitcast(take, _I8)])
        symbols = b.trunc(b.and_(entry, _constant((1 << SYMBOL_BITS) - 1)), _vector(_I32))
        return x, b.add(position, b.zext(taken, _I64)), symbols


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
        rounds_value, mask_value, shift_value = args[4], args[5], args[6]
        step = _Round(builder, builder.module, table_ptr, words_ptr, mask_value, shift_value)
        states = [
            builder.load(_as_vector_pointer(builder, _element(builder, state_ptr, GROUP_LANES * g, _I64), _I64), align=8)
            for g in range(GROUPS)
        ]
        positions = [builder.load(_element(builder, state_ptr, LANES + g, _I64)) for g in range(GROUPS)]
        entry = builder.block
        loop = builder.append_basic_block("rans_wide.rounds")
        done = builder.append_basic_block("rans_wide.done")
        builder.branch(loop)
        builder.position_at_end(loop)
        r = builder.phi(_I64)
        x_phis = [builder.phi(_vector(_I64)) for _ in range(GROUPS)]
        p_phis = [builder.phi(_I64) for _ in range(GROUPS)]
        r.add_incoming(ir.Constant(_I64, 0), entry)
        base = builder.mul(r, ir.Constant(_I64, LANES))
        for g in range(GROUPS):
            x_phis[g].add_incoming(states[g], entry)
            p_phis[g].add_incoming(positions[g], entry)
            x, p, symbols = step.step(x_phis[g], p_phis[g])
            at = builder.add(base, ir.Constant(_I64, GROUP_LANES * g))
            builder.store(symbols, _as_vector_pointer(builder, _element(builder, out_ptr, at, _I32), _I32), align=4)
            x_phis[g].add_incoming(x, loop)
            p_phis[g].add_incoming(p, loop)
            states[g], positions[g] = x, p
        following = builder.add(r, ir.Constant(_I64, 1))
        r.add_incoming(following, loop)
        builder.cbranch(builder.icmp_signed("<", following, rounds_value), loop, done)
        builder.position_at_end(done)
        for g in range(GROUPS):
            target = _as_vector_pointer(builder, _element(builder, state_ptr, GROUP_LANES * g, _I64), _I64)
            builder.store(states[g], target, align=8)
            builder.store(positions[g], _element(builder, state_ptr, LANES + g, _I64))
        return context.get_dummy_value()

    return signature, codegen


def _reverse(builder: ir.IRBuilder, vector: ir.Value) -> ir.Value:
    order = ir.Constant(_vector(_I32), list(range(GROUP_LANES - 1, -1, -1)))
    return builder.shuffle_vector(vector, ir.Constant(vector.type, ir.Undefined), order)


class _EncodeRound:
    """The LLVM values of one group's encoding step (one round of its eight lanes, backwards)."""

    def __init__(self, builder: ir.IRBuilder, module: ir.Module, table: ir.Value, streams: ir.Value, shift, scale, bound):
        self.builder = builder
        self.gather = _declare(
            module, "llvm.masked.gather.v8i64.v8p0", _vector(_I64), [_vector(_PTR), _I32, _vector(_I1), _vector(_I64)]
        )
        self.compress = _declare(
            module, "llvm.experimental.vector.compress.v8i32", _vector(_I32), [_vector(_I32), _vector(_I1), _vector(_I32)]
        )
        self.popcount = _declare(module, "llvm.ctpop.i8", _I8, [_I8])
        self.table = _splat(builder, builder.ptrtoint(table, _I64))
        self.streams = streams
        self.shift, self.scale, self.bound = _splat(builder, shift), _splat(builder, scale), _splat(builder, bound)

    def _gather(self, offsets: ir.Value) -> ir.Value:
        b = self.builder
        addresses = b.inttoptr(b.add(self.table, offsets), _vector(_PTR))
        every = ir.Constant(_vector(_I1), [1] * GROUP_LANES)
        return b.call(self.gather, [addresses, ir.Constant(_I32, 8), every, ir.Constant(_vector(_I64), None)])

    def step(self, x: ir.Value, top: ir.Value, symbols: ir.Value) -> tuple[ir.Value, ir.Value]:
        """(the states after coding ``symbols`` (int64), the stream's new top): the words
        the lanes emit go just below the top, in lane order, by one store of eight words
        whose others lie below (where the next stores land, or outside the output)."""
        b = self.builder
        s = b.lshr(symbols, self.shift)
        offsets = b.shl(s, _constant(4))  # a symbol's record: freq | start << 32, then 1 / freq
        record = self._gather(offsets)
        inverse = b.bitcast(self._gather(b.add(offsets, _constant(8))), ir.VectorType(ir.DoubleType(), GROUP_LANES))
        freq = b.and_(record, _constant(_WORD_MASK))
        emit = b.icmp_unsigned(">=", x, b.mul(self.bound, freq))
        low = b.trunc(x, _vector(_I32))
        packed = b.call(self.compress, [_reverse(b, low), _reverse(b, emit), ir.Constant(_vector(_I32), None)])
        taken = b.zext(b.call(self.popcount, [b.bitcast(emit, _I8)]), _I64)
        below = b.sub(top, ir.Constant(_I64, GROUP_LANES))
        b.store(_reverse(b, packed), _as_vector_pointer(b, _element(b, self.streams, below, _I32), _I32), align=4)
        x = b.select(emit, b.lshr(x, _constant(_WORD_BITS)), x)
        # x // freq from the float reciprocal, corrected to the exact quotient (rans.push)
        q = b.fptoui(b.fmul(b.uitofp(x, inverse.type), inverse), _vector(_I64))
        m = b.sub(x, b.mul(q, freq))
        low_estimate = b.icmp_signed("<", m, _constant(0))
        q = b.select(low_estimate, b.sub(q, _constant(1)), q)
        m = b.select(low_estimate, b.add(m, freq), m)
        high_estimate = b.icmp_signed(">=", m, freq)
        q = b.select(high_estimate, b.add(q, _constant(1)), q)
        m = b.select(high_estimate, b.sub(m, freq), m)
        x = b.add(b.add(b.shl(q, self.scale), m), b.lshr(record, _constant(_WORD_BITS)))
        return x, b.sub(top, taken)


@intrinsic
def _vector_encode_rounds(typingctx, symbols, table, streams, state, rounds, shift, scale, bound):  # noqa: ANN001
    """Rounds ``rounds`` - 1 down to 0 of the 32 lanes (symbols[32r:32r + 32] >> ``shift``),
    from and back into ``state`` (the lanes' states, then the groups' tops, int64), each
    group's words below its top in ``streams``. ``table``: ``rans.encoder_table``."""
    signature = types.void(symbols, table, streams, state, rounds, shift, scale, bound)
    width = symbols.dtype.bitwidth

    def codegen(context, builder, sig, args):
        arrays = [context.make_array(t)(context, builder, a) for t, a in zip(sig.args[:4], args[:4])]
        symbols_ptr, table_ptr, streams_ptr, state_ptr = (array.data for array in arrays)
        rounds_value = args[4]
        step = _EncodeRound(builder, builder.module, table_ptr, streams_ptr, args[5], args[6], args[7])
        states = [
            builder.load(_as_vector_pointer(builder, _element(builder, state_ptr, GROUP_LANES * g, _I64), _I64), align=8)
            for g in range(GROUPS)
        ]
        tops = [builder.load(_element(builder, state_ptr, LANES + g, _I64)) for g in range(GROUPS)]
        last_round = builder.sub(rounds_value, ir.Constant(_I64, 1))
        entry = builder.block
        loop = builder.append_basic_block("rans_wide.encode")
        done = builder.append_basic_block("rans_wide.encoded")
        builder.branch(loop)
        builder.position_at_end(loop)
        r = builder.phi(_I64)
        x_phis = [builder.phi(_vector(_I64)) for _ in range(GROUPS)]
        top_phis = [builder.phi(_I64) for _ in range(GROUPS)]
        r.add_incoming(last_round, entry)
        base = builder.mul(r, ir.Constant(_I64, LANES))
        element = ir.IntType(width)
        for g in range(GROUPS):
            x_phis[g].add_incoming(states[g], entry)
            top_phis[g].add_incoming(tops[g], entry)
            at = builder.add(base, ir.Constant(_I64, GROUP_LANES * g))
            loaded = builder.load(_as_vector_pointer(builder, _element(builder, symbols_ptr, at, element), element), align=1)
            wide = builder.zext(loaded, _vector(_I64)) if width < 64 else loaded
            x, top = step.step(x_phis[g], top_phis[g], wide)
            x_phis[g].add_incoming(x, loop)
            top_phis[g].add_incoming(top, loop)
            states[g], tops[g] = x, top
        earlier = builder.sub(r, ir.Constant(_I64, 1))
        r.add_incoming(earlier, loop)
        builder.cbranch(builder.icmp_signed(">=", earlier, ir.Constant(_I64, 0)), loop, done)
        builder.position_at_end(done)
        for g in range(GROUPS):
            target = _as_vector_pointer(builder, _element(builder, state_ptr, GROUP_LANES * g, _I64), _I64)
            builder.store(states[g], target, align=8)
            builder.store(tops[g], _element(builder, state_ptr, LANES + g, _I64))
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
