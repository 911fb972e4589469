"""Numba for a tool that runs one short process per file: cached code loads without the compiler's warm-up.

What it does: re-exports numba's ``njit`` for arzip's compiled modules, after one
change to how numba loads a function from its on-disk cache. Numba's loader
first initialises the whole compiler (it imports and registers every lowering
implementation it has: about 0.35 s, a third of arzip's start-up on a small
file), although a cached function is finished machine code that needs only
numba's runtime (NRT). Here a cache load initialises the runtime alone. Nothing
else changes: on a cache miss numba compiles as before, and its compiler
initialises itself first; where numba looks up an implementation it has not yet
registered, it initialises then. The change applies only when numba's loader has
the methods it was written against (numba 0.68's); otherwise numba is left as it
is and only start-up is slower.
What it does not do: compile ahead of time, change any compiled code, or touch
a program's own use of numba outside arzip's modules beyond the cache loader
(the loader is numba's one class, so a program that imports arzip loads its own
cached functions the same faster way).
"""

from __future__ import annotations

from numba import njit
from numba.core import caching

__all__ = ["njit", "fast_cache_loads", "FAST_CACHE_LOADS"]


def _runtime_only_load(self, sig, target_context):  # noqa: ANN001 - numba's own signature
    """``caching.Cache.load_overload`` without ``target_context.refresh()``: initialise
    the runtime the loaded code calls into, then load as numba does."""
    from numba.core.runtime import rtsys

    rtsys.initialize(target_context)
    with self._guard_against_spurious_io_errors():
        return self._load_overload(sig, target_context)


def fast_cache_loads() -> bool:
    """Install the runtime-only cache loader; False (and nothing changed) when this
    numba's loader is not the one it replaces."""
    cache = getattr(caching, "Cache", None)
    needed = ("load_overload", "_load_overload", "_guard_against_spurious_io_errors")
    if cache is None or not all(hasattr(cache, name) for name in needed):
        return False
    try:
        from numba.core.runtime import rtsys
    except ImportError:
        return False
    if not hasattr(rtsys, "initialize"):
        return False
    cache.load_overload = _runtime_only_load
    return True


FAST_CACHE_LOADS = fast_cache_loads()
