"""The ``tensor`` frame codec: one tensor's numbers, head planes entropy-coded, tails raw.

What it does: codes a run of equal-width values (a whole tensor or a piece of one)
as: a static frequency table of the heads (the top K bits: sign, exponent, first
mantissa bits; see ``planes``), the heads in independent rANS segments of
``SEGMENT_VALUES`` values (so one tensor decodes on all cores), and the tail planes,
each stored raw, as zeros, or through zstd when that pays (fp32 saved from bf16
training has zero low bytes). The payload says everything the decoder needs: it
reads no header and no other frame.
What it does not do: decide which bytes are tensors (``archive`` does).

Payload, all integers little-endian, varints LEB128:
    u8 width_bytes (1, 2, 4 or 8) | u8 layout: head_bits K, or 0x88 / 0x89 (16-bit values only)
           for the exponent-pair layouts of ``pairs``; plus WIDE (0x20) where the segments are
           coded by ``arzip.coding.rans_wide`` (what the encoder writes) rather than by
           ``arzip.coding.rans`` (frames of earlier versions) | varint value count n
    table: varint used symbols u; u == 1: varint the symbol; else u8 scale S (12 to
           16, the encoder's choice) | varint length + zstd(gaps between used symbols,
           u16, or u32 for the pairs' 18-bit symbols; then u16 frequencies)  [sum 2**S]
    varint segment count S, then S varints: words in each segment
    segments: uint32 words (rANS on 32 lanes, ``arzip.coding.rans_wide``, or, without WIDE,
           on eight, ``arzip.coding.rans``), coding the heads (the pair layout: the pair
           symbols of ``pairs``)
    tail planes (byte planes low to high, then the nibble plane if K leaves one; the
           pair layouts: the planes of ``pairs.Kind.plane_sizes``):
           u8 mode (0 raw, 1 zstd, 2 zeros) | varint stored length | bytes
"""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

from ..codecs.base import Codec, CodingContext, EncodedChunk
from ..codecs.classic import zstd_compressor, zstd_decompressor
from ..container import NeedMoreData, _Cursor, encode_varint
from ..errors import FormatError

# The numba modules (rans, planes, frequencies) are imported on first use, so that
# registering this codec costs nothing to programs that never meet a tensor frame.
SCALE_BITS = 16  # the rANS scale of tables with many symbols
# coarser scales, when a table has few symbols and it costs little (at most SMALL_SCALE_COST
# of the raw bytes): the decoder's table is 1/16 to half the size (2**12 slots stay in the L1
# cache, 2**14 in the L2) and decoding faster (float16's 8-bit heads at scale 12 rather than 14:
# 8% faster, 0.05% larger). (scale bits, most symbols), coarsest first
SMALL_SCALES = ((12, 1 << 10), (13, 1 << 11), (14, 1 << 12), (15, 1 << 13))
SMALL_SCALE_COST = 0.001
_SMALL_SCALE_BITS = np.array([bits for bits, _ in SMALL_SCALES], dtype=np.int64)
_SMALL_SCALE_SYMBOLS = np.array([most for _, most in SMALL_SCALES], dtype=np.int64)
_SCALES = frozenset([*_SMALL_SCALE_BITS.tolist(), SCALE_BITS])


_MODULES: dict = {}


def _lazy(name: str):
    """The module ``name`` (relative to this package), imported on first use and then
    kept (an import statement costs a microsecond each time, and a frame asks dozens)."""
    module = _MODULES.get(name)
    if module is None:
        module = _MODULES[name] = importlib.import_module(name, __package__)
    return module


def _planes():
    return _lazy(".planes")


def _coder(wide: bool):
    """The rANS module of a frame's segments."""
    return _lazy("..coding.rans_wide" if wide else "..coding.rans")


def _pairs():
    return _lazy(".pairs")


def _tables():
    return _lazy(".tables")


SEGMENT_VALUES = 1 << 18  # even, so that a segment owns whole bytes of the nibble plane
# decoded output a decoding job covers: a quarter of a thread's share, from a huge page to 8 MiB
# (fewer, longer jobs: less Python between the numba calls, and two threads rarely touch the same
# fresh huge page at once, whose first touch zeroes 2 MiB while the other waits in the kernel)
JOB_BYTES = (2 << 20, 8 << 20)
WIDE = 0x20  # the layout bit of frames whose segments are coded by arzip.coding.rans_wide
_RAW, _ZSTD, _ZEROS = 0, 1, 2
_UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}
TAIL_SAMPLE_BYTES = 1 << 16


def values_of(chunk: bytes | memoryview, width_bytes: int) -> np.ndarray:
    """The chunk as unsigned integers of the value width, in native byte order."""
    values = np.frombuffer(chunk, dtype=np.dtype(_UNSIGNED[width_bytes]).newbyteorder("<"))
    return values.astype(_UNSIGNED[width_bytes]) if sys.byteorder == "big" else values


class _Table:
    """A static head table: frequencies of the used symbols (ascending), summing to 2**scale.
    The encoder's table (:meth:`encoder_table`) is made by the encoder only: a reader
    of 2**16-symbol tables needs none of them."""

    def __init__(self, size: int, symbols: np.ndarray, frequencies: np.ndarray, scale_bits: int) -> None:
        self.size = size
        self.symbols = symbols
        self.frequencies = frequencies
        self.scale_bits = scale_bits
        self.single = int(symbols[0]) if symbols.shape[0] == 1 else None

    def encoder_table(self, indices: np.ndarray | None = None, size: int | None = None) -> np.ndarray:
        """``arzip.coding.rans.encode``'s table over ``size`` entries with the used symbols
        at ``indices`` (ascending; by default the symbols themselves over the whole
        alphabet)."""
        indices = self.symbols if indices is None else indices
        size = self.size if size is None else size
        return _tables().encoder_table_at(indices, self.frequencies, size)  # both coders' table

    def slots(self, wide: bool) -> tuple | np.ndarray:
        """The decoder's slot table: ``arzip.coding.rans_wide.packed_slots``, or for frames
        of eight lanes ``arzip.coding.rans.slots_of``."""
        if wide:
            return _coder(True).packed_slots(self.symbols, self.frequencies, self.scale_bits)
        return _coder(False).slots_of(self.symbols, self.frequencies, self.scale_bits)

    @classmethod
    def from_counts(cls, counts: np.ndarray, raw_bytes: int) -> _Table:
        """The table for these head counts (see :meth:`from_used`)."""
        used = np.flatnonzero(counts)
        return cls.from_used(counts.shape[0], used, counts[used], raw_bytes)

    @classmethod
    def from_used(cls, size: int, used: np.ndarray, used_counts: np.ndarray, raw_bytes: int) -> _Table:
        """The table over ``size`` symbols for the counts of the ``used`` ones (ascending,
        all counts > 0): at the coarsest scale of SMALL_SCALES (a faster decoder) whose
        frequencies cost at most SMALL_SCALE_COST of ``raw_bytes`` more."""
        if used.shape[0] == 1:
            return cls(size, used, np.array([1 << SCALE_BITS]), SCALE_BITS)
        frequencies, scale_bits = _tables().frequencies_at_coarsest_scale(
            np.ascontiguousarray(used_counts, dtype=np.int64), SCALE_BITS, _SMALL_SCALE_BITS, _SMALL_SCALE_SYMBOLS,
            8 * SMALL_SCALE_COST * raw_bytes,
        )
        return cls(size, used, frequencies, int(scale_bits))

    def to_bytes(self) -> bytes:
        used = self.symbols
        if self.single is not None:
            return encode_varint(1) + encode_varint(self.single)
        gaps = _tables().symbol_gaps(used)
        body = gaps.astype(_gap_type(self.size)).tobytes() + self.frequencies.astype("<u2").tobytes()
        # level 3: the MiniLM casts' tables 0.6-1.3% larger than at 6 (2 KB of 30 MB) in a third of the time
        packed = zstd_compressor(3).compress(body)
        return encode_varint(len(used)) + bytes((self.scale_bits,)) + encode_varint(len(packed)) + packed

    @classmethod
    def read(cls, cur: _Cursor, head_bits: int) -> _Table:
        import zstandard

        used_count = cur.varint()
        size = 1 << head_bits
        if used_count == 1:
            symbol = cur.varint()
            if symbol >= size:
                raise FormatError("corrupt .arz file: bad tensor table")
            return cls(size, np.array([symbol]), np.array([1 << SCALE_BITS]), SCALE_BITS)
        scale_bits = cur.u8()
        if not 2 <= used_count <= min(size, 1 << scale_bits) or scale_bits not in _SCALES:
            raise FormatError("corrupt .arz file: bad tensor table")
        packed = cur.take(cur.varint())
        gap_type = np.dtype(_gap_type(size))
        body_size = (gap_type.itemsize + 2) * used_count
        try:
            body = zstd_decompressor().decompress(packed, max_output_size=body_size)
        except zstandard.ZstdError:
            raise FormatError("corrupt .arz file: bad tensor table") from None
        if len(body) != body_size:
            raise FormatError("corrupt .arz file: bad tensor table")
        gaps = np.frombuffer(body, dtype=gap_type, count=used_count).astype(np.int64)
        values = np.frombuffer(body, dtype="<u2", offset=gap_type.itemsize * used_count).astype(np.int64)
        symbols, sound = _tables().symbols_from_gaps(gaps, values, size, 1 << scale_bits)
        if not sound:
            raise FormatError("corrupt .arz file: bad tensor table")
        return cls(size, symbols, values, scale_bits)


# the slot tables (arzip.coding.rans.slots_of's three arrays, rans_wide's packed array) of the
# coder a frame does not use, or of a frame with one symbol
_NO_SLOTS = (np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint16), np.zeros(0, dtype=np.uint64))
_NO_PACKED = np.zeros(0, dtype=np.uint64)


def _gap_type(size: int) -> str:
    """The stored type of a table's symbol gaps: u16, or u32 for alphabets over 2**16."""
    return "<u2" if size <= 1 << 16 else "<u4"


def _store_plane(plane: np.ndarray) -> list:
    """A tail plane as parts: mode + length, then the bytes: raw unless zeros or zstd pays."""
    data = memoryview(plane)
    step = max(1, len(data) // 4)
    sample = b"".join(data[i : i + TAIL_SAMPLE_BYTES // 4] for i in range(0, len(data), step))
    # the whole plane read only when the sample is zeros (numpy's test of a 64 KB sample: a
    # tenth of bytes.count's time)
    if not np.frombuffer(sample, dtype=np.uint8).any() and not plane.any():
        return [bytes((_ZEROS,)) + encode_varint(0)]
    fast = zstd_compressor(1)
    if len(fast.compress(sample)) < 0.995 * len(sample):  # some structure somewhere: try it all
        packed = fast.compress(data)
        if len(packed) < 0.99 * len(data):
            return [bytes((_ZSTD,)) + encode_varint(len(packed)), packed]
    return [bytes((_RAW,)) + encode_varint(len(data)), data]


def _load_planes(cur: _Cursor, payload: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """The tail planes, as views of the payload where they are stored raw."""
    import zstandard

    loaded = []
    for size in sizes:
        mode = cur.u8()
        stored = cur.varint()
        if mode == _ZEROS:
            loaded.append(np.zeros(size, dtype=np.uint8))
            continue
        start = cur.offset
        cur.skip(stored)
        if mode == _RAW and stored == size:
            loaded.append(payload[start : start + size])
        elif mode == _ZSTD:
            try:
                data = zstd_decompressor().decompress(payload[start : start + stored], max_output_size=size)
            except zstandard.ZstdError:
                raise FormatError("corrupt .arz file: bad tensor plane") from None
            if len(data) != size:
                raise FormatError("corrupt .arz file: bad tensor plane")
            loaded.append(np.frombuffer(data, dtype=np.uint8))
        else:
            raise FormatError("corrupt .arz file: bad tensor plane")
    return loaded


def _flat(byte_planes: list[np.ndarray], n: int) -> np.ndarray:
    """The byte planes back to back in one flat array, without a copy when they already are."""
    if not byte_planes:
        return np.zeros(0, dtype=np.uint8)
    base = byte_planes[0]
    adjacent = all(
        p.base is not None and p.base is base.base and p.ctypes.data == base.ctypes.data + j * n
        for j, p in enumerate(byte_planes)
    )
    if adjacent and base.base is not None:
        offset = base.ctypes.data - base.base.ctypes.data
        return base.base[offset : offset + n * len(byte_planes)]
    return np.concatenate(byte_planes)


def _segments(n: int) -> list[tuple[int, int]]:
    return [(first, min(SEGMENT_VALUES, n - first)) for first in range(0, n, SEGMENT_VALUES)]


_POOLS: dict[int, ThreadPoolExecutor] = {}
_LOCAL = threading.local()


def _scratch(name: str, count: int, dtype) -> np.ndarray:
    """This thread's working array ``name`` of at least ``count`` items (its first ``count``),
    kept from one call to the next: fresh memory's page faults cost as much as the work."""
    space = getattr(_LOCAL, name, None)
    if space is None or space.shape[0] < count:
        space = np.empty(count, dtype=dtype)
        setattr(_LOCAL, name, space)
    return space[:count]


def _encode_segment(rans, symbols: np.ndarray, coding: np.ndarray, shift: int, scale_bits: int) -> np.ndarray:
    """One segment's words; the 32-lane coder in this thread's working space."""
    if rans is not _coder(True):
        return rans.encode(symbols, coding, shift, scale_bits)
    space = _scratch("streams", rans.stream_words(symbols.shape[0]), np.uint32)
    return rans.encode_into(symbols, coding, shift, scale_bits, space)


def _pool(threads: int) -> ThreadPoolExecutor:
    """The process's thread pool of that size (numba code releases the GIL)."""
    if threads not in _POOLS:
        _POOLS[threads] = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="arzip-tensor")
    return _POOLS[threads]


def _pool_map(function, items: Sequence, threads: int) -> list:
    """``map`` on the process's thread pool."""
    if threads <= 1 or len(items) <= 1:
        return [function(item) for item in items]
    return list(_pool(threads).map(function, items))


def encode_parts(chunk: bytes | memoryview, width_bytes: int, threads: int = 1, wide: bool = True) -> list:
    """The payload for ``chunk`` (a whole number of values of ``width_bytes`` each), as a
    list of bytes-like parts to be written one after another. ``wide=False`` writes the
    eight-lane frames of earlier versions (kept so that tests check that those still decode)."""
    planes = _planes()
    rans, coder_bit = _coder(wide), WIDE if wide else 0
    values = values_of(chunk, width_bytes)
    n = values.shape[0]
    width_bits = 8 * width_bytes
    segments = _segments(n)
    parts = [(first, min(n, first + -(-n // threads))) for first in range(0, n, -(-n // threads))] if n else []
    sample = planes.sample_statistics(values, width_bits) if width_bits >= 16 else None
    if width_bits == 16 and 0 < sample.taken < n:
        # bfloat16 pairs, where the sample says they beat every top-K layout (16-bit heads at
        # an estimate that errs low), over the heads' span: no histogram of the values (the
        # pairs' own counts make the table)
        estimate = sample.top12 * n // sample.taken
        kind = _pairs().BF16
        if planes.choose_layout(estimate, n, width_bits, sample if sample.may_pay else None) == kind.layout:
            mapping = _pairs().span_heads(values, kind)
            if mapping is not None:
                return _encode_pairs(values, segments, threads, None, kind, wide, mapping)
    top_bits = 16 if sample is not None and sample.may_pay else 12
    tops = _pool_map(lambda part: planes.top_histogram(values[part[0] : part[1]], width_bits, top_bits), parts, threads)
    if len(tops) > 1:
        top = np.sum(tops, axis=0)
    else:
        top = tops[0] if tops else np.zeros(1 << min(top_bits, width_bits), dtype=np.int64)
    layout = planes.choose_layout(top, n, width_bits)
    if layout in _pairs().KINDS:
        return _encode_pairs(values, segments, threads, top, _pairs().KINDS[layout], wide)
    head_bits = layout
    byte_planes, nibbles = planes.tail_layout(width_bits, head_bits)
    table = _Table.from_counts(planes.head_histogram(top, head_bits), len(values) * width_bytes)
    coding = table.encoder_table() if table.single is None else None
    tail_planes = np.empty((byte_planes, n), dtype=np.uint8)
    nibble_plane = np.zeros((n + 1) // 2 if nibbles else 0, dtype=np.uint8)

    def split_and_code(segment: tuple[int, int]) -> np.ndarray | None:
        first, count = segment  # first is even: a segment owns whole nibble bytes
        planes.split_into(values, first, count, head_bits, width_bits, tail_planes, nibble_plane)
        if table.single is not None:
            return None
        return _encode_segment(rans, values[first : first + count], coding, width_bits - head_bits, table.scale_bits)

    words = [w for w in _pool_map(split_and_code, segments, threads) if w is not None]
    tails = list(tail_planes) + ([nibble_plane] if nibbles else [])
    return _frame_parts(width_bytes, head_bits | coder_bit, n, table, words, tails)


def _frame_parts(width_bytes: int, layout: int, n: int, table: _Table, words: list, tails: list) -> list:
    """The payload's parts: header, table, segment sizes, segments, tail planes."""
    parts: list = [bytes((width_bytes, layout)) + encode_varint(n) + table.to_bytes()]
    parts.append(encode_varint(len(words)) + b"".join(encode_varint(w.shape[0]) for w in words))
    parts += [memoryview(w if sys.byteorder == "little" else w.astype("<u4")).cast("B") for w in words]
    for plane in tails:
        parts += _store_plane(plane)
    return parts


def _encode_pairs(
    values: np.ndarray, segments: list, threads: int, top: np.ndarray | None, kind, wide: bool = True,
    mapping: tuple | None = None,
) -> list:
    """The payload in an exponent-pair layout (``pairs``, its ``kind``): 16-bit values
    only. The encoder works on pair ranks over the heads that occur (``pairs.dense_heads``)
    or over their span (``pairs.range_heads``, or ``mapping`` when the caller has it): its
    histogram and coding arrays have a few thousand entries, not 2**(2H)."""
    pairs = _pairs()
    n = values.shape[0]
    if mapping is None:
        heads = kind.head_counts(top)
        mapping = pairs.range_heads(heads)
        if mapping is None:
            mapping = np.flatnonzero(heads), pairs.dense_heads(heads), -1
    used_heads, dense, base = mapping
    width = used_heads.shape[0]
    ranks = _scratch("ranks", (n + 1) // 2, np.uint16)  # width <= MAX_HEADS: ranks < 2**14
    tails = [np.empty(size, dtype=np.uint8) for size in kind.plane_sizes(n)]
    signs = tails[-1]  # float16's sign plane (bfloat16 writes none)

    def split(segment: tuple[int, int]) -> np.ndarray:
        counts = np.zeros(width * width, dtype=np.int64)
        pairs.split(values, segment[0], segment[1], kind.shift, dense, width, ranks, tails[0], signs, counts, base)
        return counts

    counts = np.sum(_pool_map(split, segments, threads), axis=0)
    used_ranks = np.flatnonzero(counts)
    symbols = pairs.pair_symbols(used_heads, used_ranks, kind.head_bits)
    table = _Table.from_used(1 << kind.symbol_bits, symbols, counts[used_ranks], 2 * n)
    layout = kind.layout | (WIDE if wide else 0)
    if table.single is not None:
        return _frame_parts(2, layout, n, table, [], tails)
    rans = _coder(wide)
    coding = table.encoder_table(used_ranks, width * width)  # ascending ranks, ascending symbols

    def code(segment: tuple[int, int]) -> np.ndarray:
        first, count = segment
        return _encode_segment(rans, ranks[first // 2 : (first + count + 1) // 2], coding, 0, table.scale_bits)

    return _frame_parts(2, layout, n, table, _pool_map(code, segments, threads), tails)


def encode_values(chunk: bytes | memoryview, width_bytes: int, threads: int = 1, wide: bool = True) -> bytes:
    """The payload for ``chunk`` as one bytes object (see :func:`encode_parts`)."""
    return b"".join(encode_parts(chunk, width_bytes, threads, wide))


class _Frame:
    """A parsed tensor payload, ready to decode segment by segment."""

    def __init__(self, payload: bytes | memoryview, raw_size: int, target: np.ndarray | None = None) -> None:
        planes = _planes()
        buffer = np.frombuffer(payload, dtype=np.uint8)
        cur = _Cursor(payload)
        try:
            self.width_bytes, layout = cur.u8(), cur.u8()
            self.wide, self.head_bits = bool(layout & WIDE), layout & ~WIDE
            rans = _coder(self.wide)
            self.kind = _pairs().KINDS.get(self.head_bits) if self.width_bytes == 2 else None
            if self.width_bytes not in _UNSIGNED or not (
                self.kind is not None or self.head_bits in planes.head_bits_choices(8 * self.width_bytes)
            ):
                raise FormatError("corrupt .arz file: bad tensor frame")
            n = self.count = cur.varint()
            if n * self.width_bytes != raw_size:
                raise FormatError("corrupt .arz file: tensor frame size mismatch")
            # the table's symbols: pairs of heads, or the K-bit heads
            self.symbol_bits = self.kind.symbol_bits if self.kind is not None else self.head_bits
            self.table = _Table.read(cur, self.symbol_bits)
            self.segments = _segments(n)
            coded = self.segments if self.table.single is None else []
            if cur.varint() != len(coded):
                raise FormatError("corrupt .arz file: bad tensor frame")
            word_counts = [cur.varint() for _ in coded]
            if any(count < rans.MIN_WORDS for count in word_counts):
                raise FormatError("corrupt .arz file: bad tensor frame")  # every segment starts with its states
            self.words = []
            for count in word_counts:
                start = cur.offset
                cur.skip(4 * count)
                words = np.frombuffer(buffer[start : start + 4 * count], dtype="<u4")
                self.words.append(words.astype(np.uint32, copy=sys.byteorder == "big"))
            if self.kind is not None:
                sizes = self.kind.plane_sizes(n)
                byte_planes, nibbles = len(sizes), False
            else:
                byte_planes, nibbles = planes.tail_layout(8 * self.width_bytes, self.head_bits)
                sizes = [n] * byte_planes + ([(n + 1) // 2] if nibbles else [])
            loaded = _load_planes(cur, buffer, sizes)
        except NeedMoreData:
            raise FormatError("corrupt .arz file: bad tensor frame") from None
        self.byte_planes = loaded[:byte_planes]
        self.nibble_plane = loaded[byte_planes] if nibbles else np.zeros(0, dtype=np.uint8)
        self.target = target
        self.out = _values_view(target, self.width_bytes)
        if self.out is None:
            self.out = np.empty(n, dtype=_UNSIGNED[self.width_bytes])
        self.slots: tuple | None = None
        self.packed: np.ndarray | None = None

    def decode_segment(self, index: int) -> None:
        planes = _planes()
        rans = _coder(self.wide)
        first, count = self.segments[index]
        single = -1 if self.table.single is None else self.table.single
        words = self.words[index] if single < 0 else np.zeros(0, dtype=np.uint32)
        if single < 0 and not rans.lanes_valid(words):
            raise FormatError("corrupt .arz file: bad tensor frame")
        if self.kind is not None:
            tails, signs = self.byte_planes[0], self.byte_planes[-1]  # bfloat16 reads no signs
            _pairs().decode(
                words, self.slots, self.packed, single, self.out, first, count, self.kind.shift, tails, signs
            )
            return
        empty = np.zeros(0, dtype=np.uint8)
        low, high = (self.byte_planes + [empty, empty])[:2]
        planes.decode_segment(
            words, self.slots, self.packed, single, self.out, first, count, 8 * self.width_bytes - self.head_bits,
            low, high, len(self.byte_planes), self.nibble_plane, self.tail,
        )

    def segment_runs(self, job_bytes: int) -> list[range]:
        """The segments in runs of consecutive ones that cover about ``job_bytes`` of output:
        one decoding job a run."""
        per_run = max(1, job_bytes // (SEGMENT_VALUES * self.width_bytes))
        count = len(self.segments)
        return [range(start, min(start + per_run, count)) for start in range(0, count, per_run)]

    def decode_segments(self, run: range) -> None:
        for index in run:
            self.decode_segment(index)

    def prepare(self) -> None:
        self.slots, self.packed = _NO_SLOTS, _NO_PACKED
        if self.table.single is not None:
            pass
        elif self.wide:
            self.packed = self.table.slots(True)
        else:
            self.slots = self.table.slots(False)
        # more than two byte planes (64-bit values): the general join reads them from one array
        near = self.kind is not None or len(self.byte_planes) <= 2
        self.tail = np.zeros(0, dtype=np.uint8) if near else _flat(self.byte_planes, self.count)

    def result(self) -> memoryview | np.ndarray:
        if self.target is not None:
            if not np.shares_memory(self.out, self.target):
                self.target[:] = self.out.astype(self.out.dtype.newbyteorder("<")).view(np.uint8)
            return self.target
        out = self.out if sys.byteorder == "little" else self.out.astype(self.out.dtype.newbyteorder("<"))
        return memoryview(out).cast("B")


def _values_view(target: np.ndarray | None, width_bytes: int) -> np.ndarray | None:
    """``target`` (uint8) seen as values of the width, when its address allows it."""
    if target is None or sys.byteorder != "little" or target.ctypes.data % width_bytes:
        return None
    return target.view(_UNSIGNED[width_bytes])


def decode_many(
    frames: Sequence[tuple[bytes | memoryview, int]],
    threads: int = 1,
    targets: Sequence[np.ndarray] | None = None,
    meanwhile: Callable[[], None] | None = None,
    done: Callable[[int], None] | None = None,
) -> list[memoryview | np.ndarray]:
    """Decode several tensor payloads, all their segments sharing the threads; into
    ``targets`` (writable uint8 arrays of the raw sizes) when given. ``meanwhile()`` runs
    in this thread while the threads decode (first, with one thread); ``done(i)`` runs in
    this thread as soon as frame i is decoded, in order (the caller hashes it while the
    threads decode the next ones)."""
    targets = targets if targets is not None else [None] * len(frames)
    if threads <= 1:
        if meanwhile is not None:
            meanwhile()
        parsed = [_Frame(payload, raw_size, target) for (payload, raw_size), target in zip(frames, targets)]
        results = []
        for position, frame in enumerate(parsed):
            frame.prepare()
            for index in range(len(frame.segments)):
                frame.decode_segment(index)
            results.append(frame.result())
            if done is not None:
                done(position)
        return results
    # threads - 1 threads decode the segments of the frames parsed so far while this thread
    # parses the next ones; then this thread decodes too, each job not yet begun in turn (no
    # more decoders than cores: a third thread on two cores made decoding 6-16% slower), and
    # hands each frame to ``done`` as soon as it and those before it are decoded
    pool, parsed, jobs = _pool(threads - 1), [], []
    smallest, largest = JOB_BYTES
    job_bytes = min(max(sum(raw_size for _, raw_size in frames) // (4 * threads), smallest), largest)
    results: list = []

    def finish_ready(wait_for_them: bool) -> None:
        # a job cancelled here was decoded by this thread
        while len(results) < len(parsed):
            frame_jobs = jobs[len(results)]
            if not wait_for_them and not all(job.done() for job, _ in frame_jobs):
                return
            for job, _ in frame_jobs:
                if not job.cancelled():
                    job.result()
            results.append(parsed[len(results)].result())
            if done is not None:
                done(len(results) - 1)

    try:
        for (payload, raw_size), target in zip(frames, targets):
            frame = _Frame(payload, raw_size, target)
            frame.prepare()
            parsed.append(frame)
            jobs.append([(pool.submit(frame.decode_segments, run), run) for run in frame.segment_runs(job_bytes)])
        if meanwhile is not None:
            meanwhile()
        for frame, frame_jobs in zip(parsed, jobs):
            for job, run in frame_jobs:
                if job.cancel():  # not begun by the threads: decoded here
                    frame.decode_segments(run)
                    finish_ready(False)
        finish_ready(True)
    finally:
        every = [job for frame_jobs in jobs for job, _ in frame_jobs]
        for job in every:  # on an error: no thread goes on writing after this returns
            job.cancel()
        wait(every)
    return results


def decode_values(payload: bytes | memoryview, raw_size: int, threads: int = 1) -> memoryview:
    """Mirror of :func:`encode_values` (the values' bytes); FormatError on a bad payload."""
    return decode_many([(payload, raw_size)], threads)[0]


class TensorCodec(Codec):
    """Frames of weights: see the module docstring. The frame says its own value width."""

    name = "tensor"
    selectable = False
    codec_id = 20
    accepts_views = True
    summary = "weight tensors: entropy-coded sign/exponent/mantissa heads, raw tails (used by arzip weights)"

    def __init__(self, width_bytes: int = 2) -> None:
        self.width_bytes = width_bytes

    def level_note(self, level: int) -> str:
        return "-"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        return self.codec_id, encode_values(chunk, self.width_bytes)

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        return decode_values(payload, raw_size)

    def decode_chunks(
        self, frames: Sequence[tuple[bytes, int]], context: CodingContext, threads: int = 1
    ) -> list[bytes]:
        return decode_many(frames, threads)

    def decode_chunks_into(
        self,
        frames: Sequence[tuple[bytes, int]],
        outs: Sequence,
        context: CodingContext,
        threads: int = 1,
        meanwhile: Callable[[], None] | None = None,
        done: Callable[[int], None] | None = None,
    ) -> None:
        decode_many(frames, threads, outs, meanwhile, done)
