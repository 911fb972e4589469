"""Compression levels of the context-mixing model: speed and memory against ratio.

All parameters are runtime values passed to the compiled model loops, so changing
level never recompiles anything. Level 1 (``fast``) runs the small model of ``fast.py``
(direct counters, the match model, one mixer; with a network, ``-m nn``, the lean full model
below). Level 2 is "lean" (one mixer weight set, one APM) with few contexts; 3-4 add the
2-layer mixer (five mixers) and 3 APMs; 5 (the default) has orders 4 and 5, four word contexts, two text-column contexts, two
text-shape contexts (byte classes) and two record contexts; 6-9 add orders 3 and 8, a third
shape context, sparse, a third record context, match-byte and indirect contexts and bigger
tables. For a chunk that is not text, levels 5-9 add the sparse, indirect and other binary
contexts they lack (``CMLevel.for_chunk``). Levels 6-9 learn at rates by use (each mixer weight
set and APM row at its own rate, falling with its use: ``RATES_BY_USE``). With a network
(``-m nn``), text chunks take more contexts, and every level learns at rates by use
(``CMLevel.with_network``). The levels of earlier model revisions stay here, so that their
payloads still decode.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

# hashed context ids (must match model.py)
O2, O3, O4, O5, O6, O8 = 0, 1, 2, 3, 4, 5
WORD, WORD2, WORD3 = 6, 7, 8
SPARSE1, SPARSE2, SPARSE3 = 9, 10, 11
REC1, REC2, COLUMN = 12, 13, 14
WORD_SKIP, WORD_SEP, FOLD4, MATCHED, IND1, IND2 = 15, 16, 17, 18, 19, 20
SHAPE, SHAPE_O2, RUNS, COLUMN_SHAPE = 21, 22, 23, 24
FIELD = 25  # (revision 3) the bytes one and two records above by the recurring-distance detector

MB = 1 << 20


@dataclass(frozen=True)
class CMLevel:
    level: int  # 1..9
    chunk_bytes: int  # independent chunk size for this level
    memory_bytes: int  # approximate peak memory of one model instance
    table_bits: int  # log2 of the number of 16-byte buckets of the shared hash table
    match_bits: int  # log2 of the match model's hash table entries
    dc_bits: int  # log2 of the number of 16-counter lines of the order-2 direct counters
    contexts: tuple  # hashed context ids in use (orders 0-3 are always on, unhashed)
    sm_limit: int = 1023  # state-map adaptation count limit
    mixer_lr: int = 11  # first-layer mixer learning rate
    mixer_lr_boost: int = 32  # extra first-layer learning rate at the start, decaying
    mixer2_lr: int = 5  # final mixer learning rate
    apm_rate: int = 5  # APM update shift
    match_min: int = 6  # minimum match length the match model looks up
    lean: bool = False  # one mixer weight set and one APM instead of 5+1 mixers, 3 APMs
    record_detector: int = 1  # record length by 0: recurring distances (revision 2), 1: autocorrelation
    record_tail: int = 0  # the last contexts are this many record contexts, off while no record length is known
    binary_contexts: tuple = ()  # (revision 3) more contexts for a chunk that is not text
    fast: bool = False  # (revision 4, level 1) coded by the small model of fast.py; with a network, by model.py
    fast_order6: bool = True  # fast.py with its order-6 context (revision 4; revision 5 has none)
    network_contexts: tuple = ()  # (revision 6) more contexts for text when a network is mixed in (-m nn)
    # (revision 7) learning rates by use, on when any boost is: a mixer weight set's extra rate
    # after n updates of that set is boost * h // (h + n), h = set_rate_halflife (first layer and
    # final mixer), so that rarely chosen sets learn fast; an APM row's rate is 2**16 >> apm_rate
    # plus apm_rate_boost * h // (h + n) in 1/65536, h = apm_rate_halflife
    set_rate_boost: int = 0
    final_rate_boost: int = 0
    set_rate_halflife: int = 128
    apm_rate_boost: int = 0
    apm_rate_halflife: int = 32
    network_rates: bool = False  # (revision 7) with a network, the rates of RATES_BY_USE

    def full_model_memory(self) -> int:
        """Memory of model.py's instance at this level: ``memory_bytes`` but for a fast level,
        which model.py still runs with a network (-m nn)."""
        return _memory(self.table_bits, self.match_bits, self.dc_bits)

    def for_chunk(self, binary: bool) -> CMLevel:
        """The level as it codes one chunk: for a chunk that is not text, with the binary
        contexts (sparse, indirect, ...: what tables, executables and numbers need, and
        text does not) before the record contexts. Text keeps the faster set."""
        if not binary or not self.binary_contexts:
            return self
        cut = len(self.contexts) - self.record_tail
        contexts = self.contexts[:cut] + self.binary_contexts + self.contexts[cut:]
        return replace(self, contexts=contexts, binary_contexts=())

    def with_network(self, binary: bool) -> CMLevel:
        """The level as it codes a chunk with a network's predictions mixed in (``-m nn``):
        a text chunk takes the network contexts too (those it lacks), before the record
        contexts. The network makes that mode a few times slower than ``cm`` whatever the
        contexts, so these cost little in time there and help on text."""
        more = tuple(c for c in self.network_contexts if c not in self.contexts)
        level = replace(self, network_contexts=(), network_rates=False,
                        **(RATES_BY_USE if self.network_rates else {}))
        if binary or not more:
            return level
        cut = len(self.contexts) - self.record_tail
        return replace(level, contexts=self.contexts[:cut] + more + self.contexts[cut:])


def _memory(table_bits: int, match_bits: int, dc_bits: int) -> int:
    # hash table + match table + direct counters + fixed tables (APMs ~13 MB, mixers, ...)
    return (16 << table_bits) + (4 << match_bits) + (64 << dc_bits) + 14 * MB


def _level(level, chunk_mb, table_bits, match_bits, contexts, **kw) -> CMLevel:
    dc_bits = min(table_bits - 2, 18)
    return CMLevel(level=level, chunk_bytes=chunk_mb * MB,
                   memory_bytes=_memory(table_bits, match_bits, dc_bits),
                   table_bits=table_bits, match_bits=match_bits, dc_bits=dc_bits,
                   contexts=tuple(contexts), **kw)


# orders 0-3 (bit histories for 0-1, direct counters for 1-3), the match model and
# the APMs are always on; these are the hashed bit-history contexts of each level
_L1 = (O4, WORD)
_L2 = (O4, O6, WORD, WORD2)
_L3 = (O4, O6, WORD, WORD2, COLUMN)
_L5_TEXT = (O4, O5, WORD, WORD2, WORD3, WORD_SKIP, COLUMN, SHAPE_O2, RUNS, COLUMN_SHAPE)
_L6_MORE = (O8, SHAPE, O3, SPARSE2)
_L7_MORE = (WORD_SEP, IND2)
_L9_MORE = (IND1, O6)
# revision 3: the record contexts last (levels 5-9), so that the model leaves them out while it
# knows no record length; and, for chunks that are not text, those of these the level lacks
_RECORD = (REC1, REC2)
_BINARY = (O3, SPARSE1, SPARSE2, SPARSE3, MATCHED, FIELD, IND2)


def _slow_levels(record_at_6: int) -> tuple:
    """The text contexts of levels 5, 6, 7-8 and 9, level 6 adding ``record_at_6``."""
    l6 = _L5_TEXT + _L6_MORE + (record_at_6, MATCHED)
    l7 = l6 + _L7_MORE
    return _L5_TEXT, l6, l7, l7 + _L9_MORE


def _levels(slow_levels: tuple, record: tuple, record_detector: int, binary: tuple = ()) -> dict[int, CMLevel]:
    """Levels 1-9 with the contexts ``slow_levels`` of levels 5, 6, 7-8 and 9, ``record`` after
    them, and for chunks that are not text the contexts of ``binary`` that each lacks."""

    def slow(level, chunk_mb, table_bits, match_bits, contexts):
        extra = tuple(c for c in binary if c not in contexts)
        return _level(level, chunk_mb, table_bits, match_bits, contexts + record, record_detector=record_detector,
                      record_tail=len(record), binary_contexts=extra)

    l5, l6, l7, l9 = slow_levels
    return {
        1: _level(1, 4, 20, 18, _L1, lean=True),
        2: _level(2, 4, 20, 19, _L2, lean=True),
        3: _level(3, 4, 21, 20, _L3),
        4: _level(4, 8, 22, 21, _L3),
        5: slow(5, 8, 22, 22, l5),
        6: slow(6, 8, 22, 22, l6),
        7: slow(7, 16, 23, 22, l7),
        8: slow(8, 16, 24, 23, l7),
        9: slow(9, 16, 24, 24, l9),
    }


# the levels of each model revision that this arzip still decodes (a payload's first byte
# names its revision): revision 3 finds record lengths by autocorrelation too, gave level 5
# the two record contexts and levels 6-9 a third (their one record context of revision 2 became
# FIELD), and gives levels 5-9 more contexts for chunks that are not text; revision 4 codes
# level 1 with the small model of fast.py (about 3x faster, 3% larger) in chunks of 512 KiB, so
# that two threads share a file of a megabyte; revision 5 (below) drops its order-6 context
def _with_fast_level_1(levels: dict[int, CMLevel], order6: bool = True) -> dict[int, CMLevel]:
    one = replace(levels[1], fast=True, chunk_bytes=MB // 2, fast_order6=order6)
    # the hashed tables of 2**fast_line_bits lines of 16 uint32 counters, the match table, small tables
    memory = fast_tables(one) * (64 << fast_line_bits(one)) + (4 << one.match_bits) + 2 * MB
    return {**levels, 1: replace(one, memory_bytes=memory)}


def fast_line_bits(level: CMLevel) -> int:
    """log2 of the lines in each of fast.py's tables: as many counters in each as the 16-byte
    buckets of the level's table in model.py (which a network, -m nn, still uses)."""
    return level.table_bits - 4


def fast_tables(level: CMLevel) -> int:
    """fast.py's hashed tables: orders 2, 3, 4, (6) and the word."""
    return 5 if level.fast_order6 else 4


LEVELS_BY_REVISION: dict[int, dict[int, CMLevel]] = {
    2: _levels(_slow_levels(REC2), (), record_detector=0),
    3: _levels(_slow_levels(FIELD), _RECORD, record_detector=1, binary=_BINARY),
}
LEVELS_BY_REVISION[4] = _with_fast_level_1(LEVELS_BY_REVISION[3])
# revision 5: level 1 without fast.py's order-6 context (11% fewer instructions per byte, 0.3%
# larger on text: the match model covers long contexts)
LEVELS_BY_REVISION[5] = _with_fast_level_1(LEVELS_BY_REVISION[3], order6=False)
# revision 6: with a network (-m nn), text chunks add orders 6 and 8, the byte-class shape and the
# word-separator context (cm payloads are those of revision 5; nn on the four corpus texts 0.2%
# smaller, alice29.txt 0.4%)
NETWORK_TEXT = (O8, SHAPE, WORD_SEP, O6)
LEVELS_BY_REVISION[6] = {n: replace(lv, network_contexts=NETWORK_TEXT) for n, lv in LEVELS_BY_REVISION[5].items()}
# revision 7: learning rates by use (RATES_BY_USE): each mixer weight set and APM row starts fast
# and settles as it is used, in place of the first layer's one schedule by position
# (mixer_lr_boost). With a network (-m nn) at every level: nn on the four corpus texts 0.3% smaller.
# For cm at levels 6-9, the levels for ratio: the corpus 0.3% smaller (level 6: 647,587 -> 645,751
# bytes; level 9: 646,368 -> 644,657), every file smaller or within a byte, for a few percent more time;
# levels 1-5 keep the payloads (and the speed) of revision 5
RATES_BY_USE = dict(mixer_lr_boost=0, set_rate_boost=256, final_rate_boost=64, apm_rate=6, apm_rate_boost=8192)
RATES_FROM_LEVEL = 6
LEVELS_BY_REVISION[7] = {
    n: replace(lv, network_rates=True, **(RATES_BY_USE if n >= RATES_FROM_LEVEL else {}))
    for n, lv in LEVELS_BY_REVISION[6].items()
}
MODEL_REVISION = 7  # the revision that this arzip writes
LEVELS: dict[int, CMLevel] = LEVELS_BY_REVISION[MODEL_REVISION]
DEFAULT_LEVEL = 5
