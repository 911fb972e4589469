"""LLVM vector code inside numba functions: the helpers that arzip's vector intrinsics share.

What it does: small builders of LLVM IR for ``numba.extending.intrinsic`` code
generators: vector types, constants and splats, element pointers into an array's
data, loads of one element (or two neighbours) a lane that stand in for gathers where
those are slow, declarations of LLVM's generic intrinsics (``llvm.masked.gather``,
``llvm.masked.expandload``, ``llvm.experimental.vector.compress``,
``llvm.vector.reduce.or``, ``llvm.ctpop``). These are target-independent LLVM
operations: LLVM lowers them to AVX-512 (or AVX2, NEON) instructions where the CPU
has them and to scalar code elsewhere, with the same integer results, so code built
from them decodes the same bytes on every machine.
What it does not do: any coding itself (``arzip.coding.rans_wide``,
``arzip.weights.pairs`` build their kernels from these), or target-specific
intrinsics.
"""

from __future__ import annotations

from llvmlite import ir

I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
PTR = ir.PointerType()


def vector(element: ir.Type, lanes: int = 8) -> ir.VectorType:
    return ir.VectorType(element, lanes)


def constant(value: int | list, element: ir.Type = I64, lanes: int = 8) -> ir.Constant:
    """A constant vector: ``value`` in every lane, or the list of lane values."""
    values = value if isinstance(value, list) else [value] * lanes
    return ir.Constant(vector(element, len(values)), values)


def splat(builder: ir.IRBuilder, value: ir.Value, lanes: int = 8) -> ir.Value:
    """A vector with ``value`` in every lane."""
    undefined = ir.Constant(vector(value.type, lanes), ir.Undefined)
    first = builder.insert_element(undefined, value, ir.Constant(I32, 0))
    return builder.shuffle_vector(first, undefined, constant(0, I32, lanes))


def shuffle(builder: ir.IRBuilder, a: ir.Value, b: ir.Value | None, order: list[int]) -> ir.Value:
    """The lanes ``order`` of a and b side by side (b's lanes numbered after a's)."""
    other = b if b is not None else ir.Constant(a.type, ir.Undefined)
    return builder.shuffle_vector(a, other, constant(order, I32))


def reverse(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    lanes = value.type.count
    return shuffle(builder, value, None, list(range(lanes - 1, -1, -1)))


def declare(module: ir.Module, name: str, result: ir.Type, arguments: list) -> ir.Function:
    """The module's declaration of an LLVM intrinsic (made once)."""
    found = module.globals.get(name)
    return found if found is not None else ir.Function(module, ir.FunctionType(result, arguments), name)


def element(builder: ir.IRBuilder, base: ir.Value, index: int | ir.Value, element_type: ir.Type) -> ir.Value:
    """The address of element ``index`` of an array of ``element_type`` at ``base``."""
    position = ir.Constant(I64, index) if isinstance(index, int) else index
    return builder.gep(base, [position], source_etype=element_type)


def load(builder: ir.IRBuilder, address: ir.Value, element_type: ir.Type, lanes: int = 8, align: int = 1) -> ir.Value:
    """``lanes`` consecutive elements from ``address`` as one vector."""
    return builder.load(builder.bitcast(address, vector(element_type, lanes).as_pointer()), align=align)


def store(builder: ir.IRBuilder, value: ir.Value, address: ir.Value, align: int = 1) -> None:
    builder.store(value, builder.bitcast(address, value.type.as_pointer()), align=align)


def gather(builder: ir.IRBuilder, base: ir.Value, indices: ir.Value, element_type: ir.Type) -> ir.Value:
    """base[indices[j]] for each lane j (``indices`` int64, ``base`` an element pointer)."""
    lanes = indices.type.count
    name = f"llvm.masked.gather.v{lanes}i{element_type.width}.v{lanes}p0"
    function = declare(
        builder.module, name, vector(element_type, lanes), [vector(PTR, lanes), I32, vector(I1, lanes), vector(element_type, lanes)]
    )
    size = element_type.width // 8
    start = splat(builder, builder.ptrtoint(base, I64), lanes)
    addresses = builder.inttoptr(builder.add(start, builder.mul(indices, constant(size, I64, lanes))), vector(PTR, lanes))
    every = constant(1, I1, lanes)
    return builder.call(function, [addresses, ir.Constant(I32, size), every, ir.Constant(vector(element_type, lanes), None)])


def load_lanes(builder: ir.IRBuilder, base: ir.Value, indices: ir.Value, element_type: ir.Type) -> ir.Value:
    """:func:`gather`'s result by one scalar load a lane (then inserted): on AMD Zen 4 an
    AVX-512 gather of eight 64-bit elements costs more than eight loads and their inserts
    (the rANS decoder 5-9% faster on weights). The same values on every machine."""
    lanes = indices.type.count
    result = ir.Constant(vector(element_type, lanes), None)
    for lane in range(lanes):
        index = builder.extract_element(indices, ir.Constant(I32, lane))
        value = builder.load(element(builder, base, index, element_type), align=1)
        result = builder.insert_element(result, value, ir.Constant(I32, lane))
    return result


def load_lane_pairs(builder: ir.IRBuilder, base: ir.Value, indices: ir.Value, element_type: ir.Type) -> tuple:
    """(base[indices[j]] for each lane j, base[indices[j] + 1] for each lane j): one load of
    the two neighbours a lane, then shuffles (two gathers cost more, as in :func:`load_lanes`)."""
    lanes = indices.type.count
    pair_type = vector(element_type, 2)
    loaded = [
        builder.load(
            builder.bitcast(element(builder, base, builder.extract_element(indices, ir.Constant(I32, lane)), element_type), pair_type.as_pointer()),
            align=1,
        )
        for lane in range(lanes)
    ]
    while len(loaded) > 1:  # neighbours joined: pairs, quads, ..., every element in lane order
        width = 2 * loaded[0].type.count
        loaded = [shuffle(builder, loaded[k], loaded[k + 1], list(range(width))) for k in range(0, len(loaded), 2)]
    both = loaded[0]
    return shuffle(builder, both, None, list(range(0, 2 * lanes, 2))), shuffle(builder, both, None, list(range(1, 2 * lanes, 2)))


def expand_load(builder: ir.IRBuilder, address: ir.Value, mask: ir.Value, element_type: ir.Type) -> ir.Value:
    """Consecutive elements from ``address`` into the lanes where ``mask`` is set, in lane
    order (it reads only as many as there are such lanes)."""
    lanes = mask.type.count
    name = f"llvm.masked.expandload.v{lanes}i{element_type.width}"
    function = declare(builder.module, name, vector(element_type, lanes), [PTR, vector(I1, lanes), vector(element_type, lanes)])
    return builder.call(function, [address, mask, ir.Constant(vector(element_type, lanes), None)])


def compress(builder: ir.IRBuilder, value: ir.Value, mask: ir.Value) -> ir.Value:
    """The lanes of ``value`` where ``mask`` is set, moved to the lowest lanes in order."""
    lanes, element_type = value.type.count, value.type.element
    name = f"llvm.experimental.vector.compress.v{lanes}i{element_type.width}"
    vector_type = vector(element_type, lanes)
    function = declare(builder.module, name, vector_type, [vector_type, vector(I1, lanes), vector_type])
    return builder.call(function, [value, mask, ir.Constant(vector_type, None)])


def count_set(builder: ir.IRBuilder, mask: ir.Value) -> ir.Value:
    """The number of set lanes of a mask, as int64."""
    lanes = mask.type.count
    integer = ir.IntType(lanes)
    function = declare(builder.module, f"llvm.ctpop.i{lanes}", integer, [integer])
    return builder.zext(builder.call(function, [builder.bitcast(mask, integer)]), I64)


def reduce(builder: ir.IRBuilder, operation: str, value: ir.Value) -> ir.Value:
    """The lanes of ``value`` combined by ``operation`` ("or", "umin", "umax", "add", ...)."""
    lanes, element_type = value.type.count, value.type.element
    name = f"llvm.vector.reduce.{operation}.v{lanes}i{element_type.width}"
    return builder.call(declare(builder.module, name, element_type, [value.type]), [value])


def reduce_or(builder: ir.IRBuilder, value: ir.Value) -> ir.Value:
    return reduce(builder, "or", value)


def counted_loop(builder: ir.IRBuilder, count: ir.Value, body, name: str = "vector.loop") -> None:
    """``body(builder, q)`` for q = 0 .. ``count`` - 1 (int64; none when ``count`` <= 0);
    the builder is left after the loop."""
    entry = builder.block
    loop = builder.append_basic_block(name)
    done = builder.append_basic_block(name + ".done")
    builder.cbranch(builder.icmp_signed(">", count, ir.Constant(I64, 0)), loop, done)
    builder.position_at_end(loop)
    q = builder.phi(I64)
    q.add_incoming(ir.Constant(I64, 0), entry)
    body(builder, q)
    following = builder.add(q, ir.Constant(I64, 1))
    q.add_incoming(following, builder.block)
    builder.cbranch(builder.icmp_signed("<", following, count), loop, done)
    builder.position_at_end(done)
