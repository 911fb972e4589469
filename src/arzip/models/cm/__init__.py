"""Bitwise context-mixing compressor (lpaq1 / paq8 family), integer-only, numba-compiled.

``encode(data, level)`` returns the payload of one chunk (or None when it would
not be smaller than ``len(data) + 64``); ``decode(payload, raw_size, level)``
returns exactly ``raw_size`` bytes and never hangs on corrupt input.
"""

from __future__ import annotations

from .levels import DEFAULT_LEVEL, LEVELS, CMLevel
from .model import decode_level, encode_level

__all__ = ["CMLevel", "LEVELS", "DEFAULT_LEVEL", "encode", "decode"]


def encode(data: bytes, level: int) -> bytes | None:
    """Payload for ``data`` (one chunk, < 2**31 bytes), or None if it would not pay."""
    return encode_level(bytes(data), LEVELS[level])


def decode(payload: bytes, raw_size: int, level: int) -> bytes:
    """Exactly ``raw_size`` bytes decoded from ``payload`` (garbage if it is corrupt)."""
    if raw_size < 0:
        raise ValueError("raw_size must be >= 0")
    return decode_level(bytes(payload), raw_size, LEVELS[level])
