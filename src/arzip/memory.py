"""Large zero-filled tables for the models, in huge pages where the system allows.

The context-mixing model reads its hash tables (tens of MB) at random: with 4 KB
pages nearly every probe also misses the TLB. On Linux, a private anonymous
mapping advised with ``MADV_HUGEPAGE`` is backed by 2 MB pages when transparent
huge pages are enabled ("always" or "madvise"). Elsewhere, or for small tables,
this is a plain zeroed numpy array. Only the speed differs, never the contents.
"""

from __future__ import annotations

import mmap

import numpy as np

HUGE_PAGE = 2 << 20  # the x86-64 and arm64 transparent huge page
_MIN_BYTES = 2 * HUGE_PAGE  # below this, huge pages save little
CACHE_LINE = 64


def _mapped(nbytes: int) -> np.ndarray | None:
    """A zeroed uint8 array of ``nbytes`` at a huge-page boundary, or None."""
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    advice = getattr(mmap, "MADV_HUGEPAGE", None)
    if not flags or advice is None:
        return None
    try:
        region = mmap.mmap(-1, nbytes + HUGE_PAGE, flags=flags)
        region.madvise(advice)  # advice only: the table works the same without it
    except (OSError, ValueError):
        return None
    raw = np.frombuffer(region, dtype=np.uint8)  # keeps the mapping alive
    start = (-raw.ctypes.data) % HUGE_PAGE
    return raw[start:start + nbytes]


def table(count: int, dtype) -> np.ndarray:
    """A zeroed array of ``count`` items, starting at a cache-line boundary (64 bytes)."""
    itemsize = np.dtype(dtype).itemsize
    nbytes = count * itemsize
    raw = _mapped(nbytes) if nbytes >= _MIN_BYTES else None
    if raw is None:
        padded = np.zeros(nbytes + CACHE_LINE, dtype=np.uint8)
        start = (-padded.ctypes.data) % CACHE_LINE
        raw = padded[start:start + nbytes]
    return raw.view(dtype)
