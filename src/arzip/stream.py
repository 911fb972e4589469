"""Incremental compression and decompression of .arz streams, like zlib's and lzma's objects.

What it does: :class:`Compressor` cuts input into chunks of the codec's chunk
size, codes them (several at once with ``threads``) and emits the header, one
frame per chunk, and the index; :class:`Decompressor` parses any split of those
bytes as they arrive, decodes frames, checks every checksum and returns the
content. Memory stays at a few chunks whatever the stream's length. The
module-level :func:`compress` and :func:`decompress` are the one-shot forms.
What it does not do: files and names (``arzip.file``, ``arzip.cli``).

The compressed bytes depend on the codec, level and model only, never on
``threads``: chunks are independent and always cut at the same places.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor

from .codecs import Codec, CodingContext, EncodedChunk, codec_by_id, parse_codec_spec
from .container import (
    MAGIC,
    ContentHasher,
    FrameHeader,
    NeedMoreData,
    StreamHeader,
    StreamIndex,
    check_frame,
    check_magic,
    frame_checksum,
    parse_frame_header,
    parse_header,
    parse_index,
)
from .errors import ArzipError, ChecksumError, FormatError, TruncatedError, UsageError

STORE_ID = 0
ProgressCallback = Callable[[int], None]  # called with the number of input bytes just consumed


def _settings_header(
    codec: Codec, level: int | None, model: str | None, content_size: int | None
) -> StreamHeader:
    resolved = codec.resolve_level(level)
    model_ref, model_hash = codec.model_identity(model)
    return StreamHeader(
        codec=codec.name,
        level=resolved,
        chunk_bytes=codec.chunk_bytes(resolved),
        model_ref=model_ref,
        model_hash=model_hash,
        params=codec.header_params(resolved),
        content_size=content_size,
    )


class FrameWriter:
    """Serialises one stream: the header, then frames as they are given, then the index.

    The pieces the Compressor and other writers (``arzip.weights``) share: it keeps
    the index and the content checksum, and stores any chunk whose payload would not
    be smaller than the chunk itself.
    """

    def __init__(self, header: StreamHeader) -> None:
        self.header = header
        self._index = StreamIndex()
        self._hasher = ContentHasher()
        self.frames_written = 0

    def start(self) -> bytes:
        return self.header.to_bytes()

    def frame(self, codec_id: int, chunk: bytes | memoryview, payload: bytes | memoryview) -> bytes:
        """The bytes of one frame holding ``chunk`` coded as ``payload`` by ``codec_id``."""
        return b"".join(self.frame_parts(codec_id, chunk, [payload]))

    def frame_parts(
        self, codec_id: int, chunk: bytes | memoryview, payload_parts: list, checksum: int | None = None
    ) -> list:
        """:meth:`frame` as a list of bytes-like parts (no copy of a large payload).
        ``checksum``: the chunk's frame checksum when the caller has it (computed on a
        worker thread)."""
        if not 1 <= len(chunk) <= self.header.chunk_bytes:
            raise ValueError(f"a chunk of {len(chunk)} bytes does not fit this stream's chunk size")
        payload_size = sum(memoryview(part).nbytes for part in payload_parts)
        if payload_size >= len(chunk):  # never grow a chunk: store it
            codec_id, payload_parts, payload_size = STORE_ID, [chunk], len(chunk)
        frame = FrameHeader(codec_id, len(chunk), payload_size, frame_checksum(chunk) if checksum is None else checksum)
        self._index.add(frame)
        self._hasher.update(chunk)
        self.frames_written += 1
        return [frame.to_bytes(), *payload_parts]

    @property
    def content_size(self) -> int:
        return self._index.content_size

    def finish(self) -> bytes:
        """The index and trailer, checking the content size announced in the header."""
        self._index.content_checksum = self._hasher.digest()
        if self.header.content_size is not None and self.header.content_size != self._index.content_size:
            raise UsageError(
                f"the input changed while it was read: {self.header.content_size} bytes expected, "
                f"{self._index.content_size} read"
            )
        return self._index.to_bytes()


class Compressor:
    """Compress data incrementally: ``compress(data)`` any number of times, then ``flush()``."""

    def __init__(
        self,
        codec: str = "auto",
        level: int | None = None,
        *,
        model: str | None = None,
        threads: int = 1,
        content_size: int | None = None,
        progress: ProgressCallback | None = None,
    ) -> None:
        spec_codec, spec_model = parse_codec_spec(codec)
        self._codec = spec_codec
        self.header = _settings_header(spec_codec, level, model or spec_model, content_size)
        self._threads = max(1, threads)
        self._context = CodingContext(self.header, threads=self._threads)
        self._batch = self._codec.batch_chunks(self._threads)
        # codecs that code each chunk alone: a pool with chunks in flight, no batch barrier
        self._pipelined = self._threads > 1 and self._codec.codes_chunks_alone
        self._pool: ThreadPoolExecutor | None = None
        self._in_flight: deque[tuple[bytes, Future]] = deque()
        self._pending = bytearray()
        self._writer = FrameWriter(self.header)
        self._started = False
        self._finished = False
        self._progress = progress

    def compress(self, data: bytes | bytearray | memoryview) -> bytes:
        """Feed ``data``; return whatever compressed bytes are ready (maybe none)."""
        if self._finished:
            raise ValueError("compressor already flushed")
        self._pending += data
        out = bytearray(self._start())
        if self._pipelined:
            while len(self._pending) >= self.header.chunk_bytes + 1:  # the last chunk may be short
                self._submit(self._take_chunks(1)[0])
                out += self._drain(2 * self._threads)
            out += self._drain(2 * self._threads, only_done=True)
            return bytes(out)
        batch_bytes = self.header.chunk_bytes * self._batch
        while len(self._pending) >= batch_bytes + 1:  # keep one byte: the last chunk may be short
            out += self._encode(self._take_chunks(self._batch))
        return bytes(out)

    def flush(self) -> bytes:
        """Code what is left and finish the stream (the compressor cannot be used after)."""
        if self._finished:
            raise ValueError("compressor already flushed")
        out = bytearray(self._start())
        if self._pipelined:
            while self._pending:
                self._submit(self._take_chunks(1)[0])
                out += self._drain(2 * self._threads)
            out += self._drain(0)
            if self._pool is not None:
                self._pool.shutdown()
        while self._pending:
            out += self._encode(self._take_chunks(self._batch))
        out += self._writer.finish()
        self._finished = True
        return bytes(out)

    def _submit(self, chunk: bytes) -> None:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._threads, thread_name_prefix="arzip-chunks")
        job = self._pool.submit(self._codec.encode_chunks, [chunk], self._context, 1)
        self._in_flight.append((chunk, job))

    def _drain(self, keep: int, only_done: bool = False) -> bytes:
        """The frames of the oldest chunks in flight, in order, until at most ``keep`` are
        left (or, with ``only_done``, while the oldest is finished)."""
        out = bytearray()
        while self._in_flight and (len(self._in_flight) > keep or (only_done and self._in_flight[0][1].done())):
            chunk, job = self._in_flight.popleft()
            out += self._frame(chunk, job.result()[0])
        return bytes(out)

    def _frame(self, chunk: bytes, encoded: EncodedChunk) -> bytes:
        codec_id, payload = encoded
        frame = self._writer.frame(codec_id, chunk, payload)
        if self._progress is not None:
            self._progress(len(chunk))
        return frame

    def _start(self) -> bytes:
        if self._started:
            return b""
        self._started = True
        return self._writer.start()

    def _take_chunks(self, count: int) -> list[bytes]:
        size = self.header.chunk_bytes
        chunks = [bytes(self._pending[i * size : (i + 1) * size]) for i in range(count)]
        chunks = [chunk for chunk in chunks if chunk]
        del self._pending[: sum(len(c) for c in chunks)]
        return chunks

    def _encode(self, chunks: list[bytes]) -> bytes:
        encoded = self._codec.encode_chunks(chunks, self._context, self._threads)
        return b"".join(self._frame(chunk, result) for chunk, result in zip(chunks, encoded))


class Decompressor:
    """Decompress an .arz stream fed in pieces of any size.

    ``decompress(data)`` returns the content decoded so far; ``eof`` becomes true
    at the end of the stream, and bytes after it are kept in ``unused_data``.
    """

    def __init__(
        self,
        *,
        model: str | None = None,
        threads: int = 1,
        progress: ProgressCallback | None = None,
    ) -> None:
        self._model_override = model
        self._threads = max(1, threads)
        self._buffer = bytearray()
        self._offset = 0
        self.header: StreamHeader | None = None
        self._context: CodingContext | None = None
        self._frames: list[tuple[FrameHeader, bytes]] = []
        self._frames_seen: list[FrameHeader] = []
        self._hasher = ContentHasher()
        self._content_size = 0
        self._batch = self._threads
        self._retain: frozenset[int] = frozenset()
        self.index: StreamIndex | None = None
        self.eof = False
        self.unused_data = b""
        self._progress = progress
        self._sink = None  # see _decode_into_new_bytes

    def decompress(self, data: bytes | bytearray | memoryview) -> bytes:
        if self.eof:
            if data:
                self.unused_data += bytes(data)
            return b""
        out: list = []
        if self._offset == len(self._buffer):
            # Nothing buffered: parse the caller's bytes in place (no copy of payloads),
            # and keep only an incomplete tail for the next call.
            source = memoryview(data).cast("B")
            offset = self._run(source, 0, out, in_place=True)
            self._buffer, self._offset = bytearray(source[offset:]), 0
        else:
            self._buffer += data
            self._offset = self._run(self._buffer, self._offset, out, in_place=False)
            self._compact()
        if self.eof:
            self.unused_data = bytes(self._buffer[self._offset :])
            self._buffer, self._offset = bytearray(), 0
        return out[0] if len(out) == 1 and isinstance(out[0], bytes) else b"".join(out)

    @property
    def needs_input(self) -> bool:
        return not self.eof

    def check_complete(self) -> None:
        """Raise TruncatedError unless the whole stream has been seen."""
        if not self.eof:
            remaining = len(self._buffer) - self._offset
            if self.header is None and remaining < len(MAGIC):
                if remaining == 0:
                    raise TruncatedError("empty input: not an .arz file")
                check_magic(self._buffer[self._offset :])
            raise TruncatedError("truncated .arz file")

    # ------------------------------------------------------------ parsing
    def _run(self, source: bytearray | memoryview, offset: int, out: list, in_place: bool) -> int:
        """Parse and decode what ``source`` holds from ``offset``; return where parsing stopped."""
        self._parsed = offset
        try:
            self._parse(source, offset, out, in_place)
        except NeedMoreData:
            pass
        self._decode_pending(out)
        return self._parsed

    def _parse(self, source: bytearray | memoryview, offset: int, out: list, in_place: bool) -> None:
        """Parse from ``offset``, recording in ``self._parsed`` how far whole structures reach."""
        if self.header is None:
            check_magic(source[offset : offset + len(MAGIC)])
            self.header, offset = parse_header(source, offset)
            self._parsed = offset
            self._context = CodingContext(self.header, self._model_override)
            codec = _header_codec(self.header)
            self._batch = codec.batch_chunks(self._threads) if codec is not None else self._threads
            if self._sink is not None:
                self._batch = 1 << 30  # the whole input is at hand: one batch keeps every thread busy
            self._retain = codec.referenced_frames(self.header) if codec is not None else frozenset()
        while True:
            frame, after = parse_frame_header(source, offset, self.header.chunk_bytes)
            if frame is None:
                break
            end = after + frame.payload_size
            if end > len(source):
                raise NeedMoreData
            if in_place:
                payload = source[after:end]
            else:
                with memoryview(source) as view:
                    payload = bytes(view[after:end])
            self._frames.append((frame, payload))
            offset = self._parsed = end
            if len(self._frames) >= self._batch:
                self._decode_pending(out)
        self._decode_pending(out)
        index, end = parse_index(source, offset)
        self._finish(index)
        self.eof = True
        self._parsed = end

    def _decode_pending(self, out: list) -> None:
        """Decode the frames parsed so far, each codec's frames together, and emit in order."""
        frames, self._frames = self._frames, []
        if not frames:
            return
        assert self._context is not None
        first_number = len(self._frames_seen)
        by_codec: dict[int, list[int]] = {}
        for position, (frame, _) in enumerate(frames):
            by_codec.setdefault(frame.codec_id, []).append(position)
        chunks: list = [None] * len(frames)
        outs = self._sink_slices(frames)
        # into the output buffer, the content checksum takes each frame as soon as it and
        # every frame before it are in place, while the codecs' threads decode the later ones
        in_place, hashed = [False] * len(frames), 0

        def hash_ready(position: int) -> None:
            nonlocal hashed
            in_place[position] = True
            while hashed < len(frames) and in_place[hashed]:
                self._hasher.update(outs[hashed])
                hashed += 1

        def decode_group(codec_id: int, meanwhile: Callable[[], None] | None = None, threads: int = self._threads) -> None:
            codec = codec_by_id(codec_id)
            positions = by_codec[codec_id]
            payloads = [
                (frames[p][1] if codec.accepts_views else bytes(frames[p][1]), frames[p][0].raw_size) for p in positions
            ]
            if outs is None:
                decoded = codec.decode_chunks(payloads, self._context, threads)
            else:
                decoded = [outs[p] for p in positions]
                codec.decode_chunks_into(
                    payloads, decoded, self._context, threads, meanwhile, lambda i: hash_ready(positions[i])
                )
            for position, chunk in zip(positions, decoded):
                number = first_number + position
                if outs is None:
                    check_frame(frames[position][0], chunk, number)
                # else nothing is returned before _finish checks the whole content's
                # checksum, which covers every byte of the buffer: hashing each frame
                # as well would read the output twice
                chunks[position] = chunk
                if number in self._retain:
                    self._context.history[number] = bytes(chunk)

        # Codecs that read earlier frames (refs) go last, once those frames are kept.
        later = [cid for cid in by_codec if codec_by_id(cid).uses_history]
        first = [cid for cid in by_codec if cid not in later]
        if outs is not None and len(first) > 1:
            # into the output buffer (disjoint slices), the largest group first: while its
            # codec's threads decode it, this thread alone decodes the others (a weight
            # archive's dozens of small zstd frames beside its tensor frames)
            largest = max(first, key=lambda cid: sum(frames[p][0].raw_size for p in by_codec[cid]))
            others = [cid for cid in first if cid != largest]

            def decode_others() -> None:
                for codec_id in others:
                    decode_group(codec_id, threads=1)

            decode_group(largest, decode_others)
        else:
            for codec_id in first:
                decode_group(codec_id)
        for codec_id in later:
            decode_group(codec_id)
        if outs is not None:  # every frame is in place now, whether or not its codec said so
            for position in range(hashed, len(frames)):
                self._hasher.update(outs[position])
        for (frame, _), chunk in zip(frames, chunks):
            self._frames_seen.append(frame)
            if outs is None:
                self._hasher.update(chunk)
            self._content_size += len(chunk)
            if outs is None:
                out.append(chunk)
            if self._progress is not None:
                self._progress(frame.payload_size)

    def _sink_slices(self, frames: list) -> list | None:
        """Where each frame goes in the output buffer, when decoding into one."""
        if self._sink is None:
            return None
        start, outs = self._content_size, []
        for frame, _ in frames:
            end = start + frame.raw_size
            if end > self._sink.shape[0]:
                raise FormatError("corrupt .arz file: content size does not match the header")
            outs.append(self._sink[start:end])
            start = end
        return outs

    def _finish(self, index: StreamIndex) -> None:
        seen = self._frames_seen
        if index.raw_sizes != [f.raw_size for f in seen] or index.content_size != self._content_size:
            raise FormatError("corrupt .arz file: the index does not match the frames")
        header_size = self.header.content_size if self.header else None
        if header_size is not None and header_size != self._content_size:
            raise FormatError("corrupt .arz file: content size does not match the header")
        if index.content_checksum != self._hasher.digest():
            raise ChecksumError("corrupt .arz file: content checksum mismatch")
        self.index = index

    def _compact(self) -> None:
        if self._offset > (1 << 20) and self._offset * 2 > len(self._buffer) and not self.eof:
            del self._buffer[: self._offset]
            self._offset = 0


def _header_codec(header: StreamHeader) -> Codec | None:
    from .codecs import CODECS

    return CODECS.get(header.codec)


def compress(
    data: bytes | bytearray | memoryview,
    codec: str = "auto",
    level: int | None = None,
    *,
    model: str | None = None,
    threads: int = 1,
) -> bytes:
    """Compress ``data`` into one .arz stream."""
    compressor = Compressor(codec, level, model=model, threads=threads, content_size=len(data))
    return compressor.compress(data) + compressor.flush()


def _check_next_stream(data: bytes | memoryview) -> None:
    """After a stream's end, only another stream may follow."""
    if not MAGIC.startswith(bytes(data[: len(MAGIC)])):
        raise FormatError("trailing data after the end of the .arz stream")


def decompress_blocks(
    blocks: Iterable[bytes],
    *,
    model: str | None = None,
    threads: int = 1,
    progress: ProgressCallback | None = None,
) -> Iterator[bytes]:
    """Content of the .arz streams spread over ``blocks``, as it is decoded.

    Streams written one after another (``cat a.arz b.arz``) decode one after
    another, as with xz; anything else after a stream is an error.
    """
    decompressor: Decompressor | None = None
    for block in blocks:
        while block:
            if decompressor is None or decompressor.eof:
                if decompressor is not None:
                    _check_next_stream(block)
                decompressor = Decompressor(model=model, threads=threads, progress=progress)
            out = decompressor.decompress(block)
            if out:
                yield out
            block, decompressor.unused_data = decompressor.unused_data, b""
    if decompressor is None:
        raise TruncatedError("empty input: not an .arz file")
    decompressor.check_complete()


IN_PLACE_MIN_BYTES = 1 << 20  # below this, joining decoded pieces costs nothing worth saving


def _decode_into_new_bytes(data: bytes | bytearray | memoryview, model: str | None, threads: int) -> bytes | None:
    """The content of the stream(s) in ``data``, decoded straight into the bytes object
    returned (``arzip.outbuf``): no joining of pieces. None where the first stream's
    header does not state a content size worth it, or the platform does not allow it."""
    source = memoryview(data).cast("B")
    try:
        check_magic(source[: len(MAGIC)])
        header, _ = parse_header(source, 0)
    except (ArzipError, NeedMoreData):
        return None  # the ordinary path reports it
    size = header.content_size
    if size is None or size < IN_PLACE_MIN_BYTES:
        return None
    from .outbuf import new_bytes

    made = new_bytes(size)
    if made is None:
        return None
    content, sink = made
    decompressor = Decompressor(model=model, threads=threads)
    decompressor._sink = sink
    decompressor.decompress(source)
    decompressor.check_complete()
    del sink
    rest = decompressor.unused_data
    if rest:  # more streams after this one (cat a.arz b.arz)
        _check_next_stream(rest)
        return content + b"".join(decompress_blocks([rest], model=model, threads=threads))
    return content


def decompress(data: bytes | bytearray | memoryview, *, model: str | None = None, threads: int = 1) -> bytes:
    """Decompress one or more concatenated .arz streams; raise ArzipError on any defect."""
    content = _decode_into_new_bytes(data, model, threads)
    if content is not None:
        return content
    pieces = list(decompress_blocks([data], model=model, threads=threads))
    return pieces[0] if len(pieces) == 1 and isinstance(pieces[0], bytes) else b"".join(pieces)
