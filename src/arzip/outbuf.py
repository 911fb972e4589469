"""Fresh output buffers that decoders fill in place: a ``bytes`` object without a final copy.

What it does: ``new_bytes(n)`` returns a new, not yet shared ``bytes`` object of
``n`` bytes together with a writable numpy view of its contents, so that
``arzip.decompress`` can decode frames straight into the object it returns
instead of joining decoded pieces at the end (a join of 90 MB costs more than
decoding it: every fresh 4 KiB page faults). On Linux the buffer is advised to
use transparent huge pages, as numpy does for its own large arrays.

This is the C API's documented way of building a bytes object
(``PyBytes_FromStringAndSize(NULL, n)``, then fill it before anyone sees it),
reached through ctypes. The caller must fill every byte before handing the object
out, and must not keep the view afterwards.

What it does not do: anything on interpreters other than CPython, where
``new_bytes`` returns None and callers take their ordinary path.
"""

from __future__ import annotations

import ctypes
import platform
import sys

import numpy as np

_PAGE = 4096
_HUGE_PAGE = 2 << 20
_MADV_HUGEPAGE = 14  # Linux <sys/mman.h>


def _c_api():
    if platform.python_implementation() != "CPython":
        return None
    api = ctypes.pythonapi
    api.PyBytes_FromStringAndSize.restype = ctypes.py_object
    api.PyBytes_FromStringAndSize.argtypes = (ctypes.c_void_p, ctypes.c_ssize_t)
    api.PyBytes_AsString.restype = ctypes.c_void_p
    api.PyBytes_AsString.argtypes = (ctypes.py_object,)
    return api


def _madvise():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        function = libc.madvise
    except (OSError, AttributeError):
        return None
    function.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    function.restype = ctypes.c_int
    return function


_API = _c_api()
_MADVISE = _madvise()


def new_bytes(n: int) -> tuple[bytes, np.ndarray] | None:
    """(a new bytes object of ``n`` uninitialised bytes, a writable uint8 view of it),
    or None where that cannot be done."""
    if _API is None or n <= 0:
        return None
    data = _API.PyBytes_FromStringAndSize(None, n)
    address = _API.PyBytes_AsString(data)
    if _MADVISE is not None and n >= 2 * _HUGE_PAGE:
        start = -(-address // _PAGE) * _PAGE
        end = (address + n) // _PAGE * _PAGE
        _MADVISE(start, end - start, _MADV_HUGEPAGE)  # advice only: failure is harmless
    view = np.ctypeslib.as_array((ctypes.c_uint8 * n).from_address(address))
    return data, view


class ByteSink:
    """A write-only in-memory file for large outputs (``compress_weights(path, ByteSink())``):
    what ``io.BytesIO`` does for writing, in a numpy buffer that grows by doubling, so that
    fresh memory comes in huge pages (BytesIO's 4 KiB page faults cost more than coding)."""

    def __init__(self, capacity: int = 1 << 20) -> None:
        self._buffer = np.empty(max(capacity, 1), dtype=np.uint8)
        self._size = 0

    def write(self, data) -> int:
        view = np.frombuffer(data, dtype=np.uint8) if len(memoryview(data)) else None
        if view is None:
            return 0
        end = self._size + view.shape[0]
        if end > self._buffer.shape[0]:
            grown = np.empty(max(end, 2 * self._buffer.shape[0]), dtype=np.uint8)
            grown[: self._size] = self._buffer[: self._size]
            self._buffer = grown
        self._buffer[self._size : end] = view
        self._size = end
        return view.shape[0]

    def getbuffer(self) -> memoryview:
        """The bytes written so far (a view: valid until the next write)."""
        return memoryview(self._buffer[: self._size])

    def __len__(self) -> int:
        return self._size
