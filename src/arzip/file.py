"""File objects over .arz streams: :func:`open` and :class:`ArzipFile`, like ``lzma.open``.

What it does: reads an .arz file as the bytes it holds (concatenated streams
included, with seeking emulated by decoding forward, as lzma does), or writes one
incrementally; text modes wrap it in ``io.TextIOWrapper``.
What it does not do: write atomically (the CLI writes to a temporary file and
renames); a file object writes where it is told.
"""

from __future__ import annotations

import builtins
import io
import os
from typing import IO, Any

from .stream import Compressor, decompress_blocks

READ_BLOCK_BYTES = 1 << 16
_MODE_READ, _MODE_WRITE = "r", "w"


class ArzipFile(io.BufferedIOBase):
    """A binary file object that decompresses on read or compresses on write."""

    def __init__(
        self,
        filename: str | bytes | os.PathLike | IO[bytes],
        mode: str = "r",
        *,
        codec: str = "auto",
        level: int | None = None,
        model: str | None = None,
        threads: int = 1,
    ) -> None:
        mode = mode.replace("b", "")
        if mode not in ("r", "w", "x", "a"):
            raise ValueError(f"invalid mode {mode!r}")
        self._closefp = False
        if isinstance(filename, (str, bytes, os.PathLike)):
            self._fp: IO[bytes] = builtins.open(filename, mode + "b")
            self._closefp = True
        elif hasattr(filename, "read") or hasattr(filename, "write"):
            self._fp = filename  # type: ignore[assignment]
        else:
            raise TypeError("filename must be a path or a file object")
        self._mode = _MODE_READ if mode == "r" else _MODE_WRITE
        self._model = model
        self._threads = threads
        self._pos = 0
        if self._mode == _MODE_READ:
            self._start_offset = self._fp.tell() if self._fp.seekable() else 0
            self._reset_reader()
        else:
            self._compressor = Compressor(codec, level, model=model, threads=threads)

    # ------------------------------------------------------------ reading
    def _reset_reader(self) -> None:
        blocks = iter(lambda: self._fp.read(READ_BLOCK_BYTES), b"")
        self._decoded = decompress_blocks(blocks, model=self._model, threads=self._threads)
        self._buffer = b""
        self._buffer_offset = 0
        self._pos = 0

    def _fill(self) -> bool:
        """Decode more into the buffer; False at the end of the content."""
        self._buffer = next(self._decoded, b"")
        self._buffer_offset = 0
        return bool(self._buffer)

    def readable(self) -> bool:
        self._check_open()
        return self._mode == _MODE_READ

    def read(self, size: int | None = -1) -> bytes:
        self._check_mode(_MODE_READ)
        if size is None or size < 0:
            parts = [self._buffer[self._buffer_offset :]]
            self._buffer, self._buffer_offset = b"", 0
            while self._fill():
                parts.append(self._buffer)
                self._buffer, self._buffer_offset = b"", 0
            data = b"".join(parts)
            self._pos += len(data)
            return data
        if self._buffer_offset >= len(self._buffer) and not self._fill():
            return b""
        end = self._buffer_offset + size
        data = self._buffer[self._buffer_offset : end]
        self._buffer_offset = min(end, len(self._buffer))
        self._pos += len(data)
        return data

    def read1(self, size: int = -1) -> bytes:
        return self.read(size if size >= 0 else READ_BLOCK_BYTES)

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def peek(self, size: int = 0) -> bytes:
        self._check_mode(_MODE_READ)
        if self._buffer_offset >= len(self._buffer) and not self._fill():
            return b""
        return self._buffer[self._buffer_offset :]

    def seekable(self) -> bool:
        self._check_open()
        return self._mode == _MODE_READ and self._fp.seekable()

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Emulated: forward by decoding, backward by decoding again from the start."""
        self._check_mode(_MODE_READ)
        if not self._fp.seekable():
            raise io.UnsupportedOperation("the underlying file is not seekable")
        if whence == io.SEEK_CUR:
            offset += self._pos
        elif whence == io.SEEK_END:
            while self.read(READ_BLOCK_BYTES):
                pass
            offset += self._pos
        elif whence != io.SEEK_SET:
            raise ValueError(f"invalid whence {whence}")
        offset = max(offset, 0)
        if offset < self._pos:
            self._fp.seek(self._start_offset)
            self._reset_reader()
        while self._pos < offset and self.read(min(READ_BLOCK_BYTES, offset - self._pos)):
            pass
        return self._pos

    def tell(self) -> int:
        self._check_open()
        return self._pos

    # ------------------------------------------------------------ writing
    def writable(self) -> bool:
        self._check_open()
        return self._mode == _MODE_WRITE

    def write(self, data: Any) -> int:
        self._check_mode(_MODE_WRITE)
        view = memoryview(data).cast("B")
        self._fp.write(self._compressor.compress(view))
        self._pos += len(view)
        return len(view)

    # ------------------------------------------------------------ life cycle
    def close(self) -> None:
        if self.closed:
            return
        try:
            if self._mode == _MODE_WRITE:
                self._fp.write(self._compressor.flush())
        finally:
            try:
                if self._closefp:
                    self._fp.close()
            finally:
                super().close()

    def fileno(self) -> int:
        return self._fp.fileno()

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError("I/O operation on closed file")

    def _check_mode(self, mode: str) -> None:
        self._check_open()
        if self._mode != mode:
            raise io.UnsupportedOperation(f"file not open for {'reading' if mode == 'r' else 'writing'}")


def open(  # noqa: A001 (mirrors lzma.open)
    filename: str | bytes | os.PathLike | IO[bytes],
    mode: str = "rb",
    *,
    codec: str = "auto",
    level: int | None = None,
    model: str | None = None,
    threads: int = 1,
    encoding: str | None = None,
    errors: str | None = None,
    newline: str | None = None,
) -> ArzipFile | io.TextIOWrapper:
    """Open an .arz file in binary ("rb", "wb", "xb", "ab") or text ("rt", "wt", ...) mode."""
    if "t" in mode:
        if "b" in mode:
            raise ValueError(f"invalid mode {mode!r}")
        binary = ArzipFile(filename, mode.replace("t", ""), codec=codec, level=level, model=model, threads=threads)
        return io.TextIOWrapper(binary, encoding, errors, newline)
    if encoding is not None or errors is not None or newline is not None:
        raise ValueError("encoding, errors and newline are for text mode only")
    return ArzipFile(filename, mode, codec=codec, level=level, model=model, threads=threads)
