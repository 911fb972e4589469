"""Bitwise context-mixing compressor (lpaq1 / paq8 family), integer-only, numba-compiled.

``encode(data, level)`` returns the payload of one chunk (or None when it would
not be smaller than ``len(data) + 64``) made by the model of revision
``MODEL_REVISION`` (``binary``: with the contexts for data that is not text);
``decode(payload, raw_size, level, revision, binary)`` returns exactly
``raw_size`` bytes, for a payload of any revision in ``LEVELS_BY_REVISION``, and
never hangs on corrupt input. (The codec stores the revision: ``arzip.codecs.cm``.)
``encode_level`` and ``decode_level`` do the same for a level given as a ``CMLevel``, with
the predictions of a network (``arzip.models.nn``) mixed in where one is given. Level 1
(revision 4 on) runs the small model of ``fast.py`` and imports nothing else; the other
levels, and level 1 with a network, run ``model.py``.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager

from . import fast
from .levels import DEFAULT_LEVEL, LEVELS, LEVELS_BY_REVISION, MODEL_REVISION, CMLevel

__all__ = ["CMLevel", "LEVELS", "LEVELS_BY_REVISION", "MODEL_REVISION", "DEFAULT_LEVEL",
           "encode", "decode", "encode_level", "decode_level"]


@contextmanager
def _no_gc():
    """Python's cyclic garbage collector paused: the first call loads the compiled
    model from numba's cache, which makes many objects (and so many collections) and
    no cycles worth collecting; the model loop itself makes no Python objects."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def encode_level(data: bytes, lv: CMLevel, network=None) -> bytes | None:
    """Payload for ``data`` coded at ``lv`` (with ``network``'s predictions), or None."""
    if lv.fast and network is None:
        return fast.encode(data, lv)
    from .model import encode_level as full

    return full(data, lv, network)


def decode_level(payload: bytes, raw_size: int, lv: CMLevel, network=None) -> bytes:
    """Exactly ``raw_size`` bytes decoded from a payload of ``encode_level(..., lv, network)``."""
    if lv.fast and network is None:
        return fast.decode(payload, raw_size, lv)
    from .model import decode_level as full

    return full(payload, raw_size, lv, network)


def encode(data: bytes, level: int, binary: bool = False) -> bytes | None:
    """Payload for ``data`` (one chunk, < 2**31 bytes), or None if it would not pay; with
    the level's contexts for data that is not text when ``binary``."""
    with _no_gc():
        return encode_level(bytes(data), LEVELS[level].for_chunk(binary))


def decode(payload: bytes, raw_size: int, level: int, revision: int = MODEL_REVISION,
           binary: bool = False) -> bytes:
    """Exactly ``raw_size`` bytes decoded from ``payload``, made by the model of ``revision``
    (with ``binary`` as it was encoded; garbage if it is corrupt)."""
    if raw_size < 0:
        raise ValueError("raw_size must be >= 0")
    with _no_gc():
        return decode_level(bytes(payload), raw_size, LEVELS_BY_REVISION[revision][level].for_chunk(binary))
