"""Weight archives: a checkpoint file or model directory as one .arz stream, and back.

What it does: plans the frames of a checkpoint (each safetensors header and each
group of small or integer tensors through zstd; each floating-point tensor, or
64 MiB piece of one, through the ``tensor`` codec; a tensor equal to an earlier one
as a ``ref``; with a base, a tensor as a ``delta`` when that is smaller), writes
them with the container's FrameWriter, and reads them back: whole files, a
directory, or single tensors through the index (only the frames that hold them
are decoded). The content of the stream is the files' bytes one after another,
so ``arzip -d`` restores a single file with no knowledge of weights at all.
What it does not do: the coding itself (``tensor_codec``, ``frames``).

Manifest (header parameters, JSON): {"version": 1, "directory": bool,
"files": [{"name", "size"}], "referenced_frames": [frame numbers to keep],
"base": null or {"path", "digest"}}.
"""

from __future__ import annotations

import json
import mmap
import os
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import IO, Any

import numpy as np
import xxhash

from ..codecs import codec_by_id
from ..codecs.base import CodingContext
from ..codecs.classic import zstd_compressor
from ..container import StreamHeader, check_frame, frame_checksum
from ..errors import FormatError, UsageError
from ..info import StreamInfo, describe
from ..stream import FrameWriter
from . import frames as weight_frames
from . import tensor_codec
from .safetensors import DTYPES, SafetensorsLayout, TensorInfo, parse_layout, read_layout

CHUNK_BYTES = 16 << 20
SMALL_TENSOR_BYTES = 1 << 16  # smaller tensors go through zstd, grouped
GROUP_BYTES = 1 << 20
ZSTD_ID, TENSOR_ID = 4, tensor_codec.TensorCodec.codec_id
REF_ID, DELTA_ID = weight_frames.RefCodec.codec_id, weight_frames.DeltaCodec.codec_id
# Headers and other files (JSON, text) at level 9. Small tensors are near-random floats: level 6
# codes the MiniLM casts' groups as small as 9 does (4 bytes smaller, 6 larger) in half the
# time; 12 saves 0-1.5% at four times the time.
ZSTD_LEVEL, GROUP_ZSTD_LEVEL = 9, 6
# pieces this large use every thread for their own segments, where the archive has too few
# pieces to keep the threads busy one piece each (else a piece a thread is faster: no barriers)
PARALLEL_PIECE_BYTES = 8 << 20
PIECES_PER_THREAD = 4
IN_FLIGHT_BYTES = 64 << 20  # input of the pieces being coded, or coded and not yet written

ProgressCallback = Callable[[int], None]


@dataclass
class Piece:
    """One planned frame: a byte range of one file and how to code it."""

    file_index: int
    start: int  # within the file
    end: int
    kind: str  # "zstd", "tensor", "ref", "delta"
    width: int = 0  # bytes per value (tensor, delta)
    tensor: str = ""  # name (delta)
    tensor_offset: int = 0  # byte offset of the piece within its tensor (delta)
    ref: int = -1  # frame number (ref)
    level: int = ZSTD_LEVEL  # (zstd)


@dataclass
class InputFile:
    name: str  # relative name stored in the manifest
    path: str
    size: int
    layout: SafetensorsLayout | None = None
    mapped: memoryview | None = None


# ---------------------------------------------------------------- planning


def list_inputs(path: str) -> tuple[list[InputFile], bool]:
    """The files to archive and whether ``path`` is a directory."""
    if os.path.isdir(path):
        names = sorted(
            os.path.relpath(os.path.join(root, name), path)
            for root, _, files in os.walk(path)
            for name in files
        )
        return [InputFile(name, os.path.join(path, name), os.path.getsize(os.path.join(path, name))) for name in names], True
    if not os.path.isfile(path):
        raise UsageError(f"{path}: no such file or directory")
    if not path.endswith(".safetensors"):
        raise UsageError(f"{path}: not a .safetensors file (or a directory holding them)")
    return [InputFile(os.path.basename(path), path, os.path.getsize(path))], False


def _split(start: int, end: int, step: int) -> Iterator[tuple[int, int]]:
    for first in range(start, end, step):
        yield first, min(end, first + step)


def plan_file(index: int, entry: InputFile) -> list[Piece]:
    """The frames of one file, in order, covering it exactly."""
    if entry.size == 0:
        return []
    if entry.layout is None:
        return [Piece(index, a, b, "zstd") for a, b in _split(0, entry.size, CHUNK_BYTES)]
    layout = entry.layout
    pieces = [Piece(index, a, b, "zstd") for a, b in _split(0, layout.header_bytes, CHUNK_BYTES)]
    group: list[int] = []  # start and end of the current zstd group

    def close_group() -> None:
        if group:
            pieces.extend(Piece(index, a, b, "zstd", level=GROUP_ZSTD_LEVEL) for a, b in _split(group[0], group[1], CHUNK_BYTES))
            group.clear()

    for info in layout.tensors:
        if info.nbytes == 0:
            continue
        if info.is_float and info.nbytes >= SMALL_TENSOR_BYTES:
            close_group()
            step = CHUNK_BYTES - CHUNK_BYTES % info.itemsize
            for a, b in _split(info.start, info.end, step):
                pieces.append(Piece(index, a, b, "tensor", info.itemsize, info.name, a - info.start))
        elif group and info.start == group[1] and info.end - group[0] <= GROUP_BYTES:
            group[1] = info.end
        else:
            close_group()
            group.extend((info.start, info.end))
    close_group()
    return pieces


def _read(entry: InputFile, piece: Piece) -> memoryview:
    """The piece's bytes, a view of the file mapped into memory (no copy)."""
    if entry.mapped is None:
        with open(entry.path, "rb") as f:
            entry.mapped = memoryview(mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ))
    if len(entry.mapped) != entry.size:
        raise UsageError(f"{entry.path}: changed while it was read")
    return entry.mapped[piece.start : piece.end]


def _mark_duplicates(inputs: list[InputFile], pieces: list[Piece]) -> list[int]:
    """Turn repeats of earlier tensor pieces into refs; return the frames referred to.
    Only pieces that share their size and a sample of their bytes with another are
    hashed whole (a checkpoint's tensors mostly share shapes, rarely contents)."""
    sizes = Counter(piece.end - piece.start for piece in pieces if piece.kind == "tensor")
    candidates = [n for n, piece in enumerate(pieces) if piece.kind == "tensor" and sizes[piece.end - piece.start] >= 2]
    samples = {n: _sample_key(_read(inputs[pieces[n].file_index], pieces[n])) for n in candidates}
    repeated = Counter(samples.values())
    seen: dict[tuple[bytes, int], int] = {}
    referenced = set()
    for number in candidates:
        if repeated[samples[number]] < 2:
            continue  # no other piece has its size and sample: it repeats nothing
        piece = pieces[number]
        data = _read(inputs[piece.file_index], piece)
        key = (xxhash.xxh3_128_digest(data), len(data))
        del data
        if key in seen:
            piece.kind, piece.ref = "ref", seen[key]
            referenced.add(seen[key])
        else:
            seen[key] = number
    return sorted(referenced)


def _sample_key(data: memoryview, span: int = 4096) -> tuple[bytes, int]:
    """(a hash of the first, middle and last ``span`` bytes, the length): equal pieces have
    equal keys."""
    middle = max(0, len(data) // 2 - span // 2)
    sample = bytes(data[:span]) + bytes(data[middle : middle + span]) + bytes(data[-span:])
    return xxhash.xxh3_128_digest(sample), len(data)


# ---------------------------------------------------------------- writing


@dataclass
class ArchiveSummary:
    files: int
    tensors: int
    raw_bytes: int
    compressed_bytes: int
    frames_by_kind: dict[str, int]


def compress_weights(
    path: str,
    target: IO[bytes],
    *,
    base: str | None = None,
    threads: int = 1,
    progress: ProgressCallback | None = None,
) -> ArchiveSummary:
    """Write the archive of ``path`` (a .safetensors file or a model directory) to ``target``."""
    inputs, is_directory = list_inputs(path)
    for entry in inputs:
        if entry.name.endswith(".safetensors"):
            entry.layout = read_layout(entry.path)
    pieces = [piece for i, entry in enumerate(inputs) for piece in plan_file(i, entry)]
    referenced = _mark_duplicates(inputs, pieces)
    base_model = weight_frames.BaseModel(base) if base else None
    base_digest = base_model.digest() if base_model else b""
    manifest: dict[str, Any] = {
        "version": weight_frames.MANIFEST_VERSION,
        "directory": is_directory,
        "files": [{"name": e.name, "size": e.size} for e in inputs],
        "referenced_frames": referenced,
        "base": {"path": os.path.abspath(base), "digest": base_digest.hex()} if base else None,
    }
    header = StreamHeader(
        codec="weights",
        level=9,
        chunk_bytes=CHUNK_BYTES,
        model_ref=f"base:{os.path.abspath(base)}" if base else "",
        model_hash=base_digest,
        params=json.dumps(manifest, separators=(",", ":")).encode(),
        content_size=sum(e.size for e in inputs),
    )
    writer = FrameWriter(header)
    written = len(writer.start())
    target.write(writer.start())
    kinds: dict[str, int] = {}

    few_pieces = sum(piece.kind == "tensor" for piece in pieces) < PIECES_PER_THREAD * threads

    def encode(piece: Piece) -> tuple[memoryview, int, list, int]:
        data = _read(inputs[piece.file_index], piece)
        # Small pieces run side by side; large ones of an archive with few pieces spread
        # their segments over the threads.
        inner = threads if few_pieces and piece.end - piece.start >= PARALLEL_PIECE_BYTES else 1
        return (data, *_encode_piece(piece, data, base_model, inner), frame_checksum(data))

    sizes = [piece.end - piece.start for piece in pieces]
    # small zstd groups and refs in this thread: a hand-off to a worker costs more than they do
    here = [piece.kind == "ref" or (piece.kind == "zstd" and piece.end - piece.start <= GROUP_BYTES) for piece in pieces]
    for piece, (data, codec_id, payload_parts, checksum) in zip(pieces, _ordered_map(encode, pieces, threads, sizes, here)):
        for part in writer.frame_parts(codec_id, data, payload_parts, checksum):
            target.write(part)
            written += memoryview(part).nbytes
        kinds[piece.kind] = kinds.get(piece.kind, 0) + 1
        if progress is not None:
            progress(len(data))
    tail = writer.finish()
    target.write(tail)
    tensors = sum(len(e.layout.tensors) for e in inputs if e.layout is not None)
    return ArchiveSummary(len(inputs), tensors, header.content_size or 0, written + len(tail), kinds)


def _ordered_map(
    function: Callable, items: list, threads: int, sizes: list[int] | None = None, here: list[bool] | None = None
) -> Iterator:
    """``map`` in order, with as many items in flight as fit IN_FLIGHT_BYTES of ``sizes``
    (memory stays bounded), and at least ``max(2 * threads, 8)``: a large item at the head
    does not keep the threads waiting once the small ones behind it are done. The work
    goes to threads - 1 pool threads and to this one, which, whenever the next item to
    yield is not done, codes the earliest item no thread has begun (as many workers as
    cores: a third thread on two cores slowed the others more than it added). Items whose
    ``here`` is true run in this thread only."""
    if threads <= 1:
        yield from map(function, items)
        return
    sizes = sizes if sizes is not None else [0] * len(items)
    here = here if here is not None else [False] * len(items)
    pool = _piece_pool(threads - 1)
    window: deque = deque()  # [item, future or None, size, result]: None once coded here

    def run_here(entry: list) -> None:
        entry[3], entry[1] = function(entry[0]), None

    def result(entry: list) -> Any:
        while entry[1] is not None and not entry[1].done():
            if entry[1].cancel():  # no thread has begun it
                run_here(entry)
                break
            later = next((other for other in window if other[1] is not None and other[1].cancel()), None)
            if later is None:
                break
            run_here(later)  # while the head is coded by a thread
        if entry[1] is None:
            return function(entry[0]) if entry[3] is _PENDING else entry[3]
        return entry[1].result()

    try:
        in_flight = 0
        for item, size, inline in zip(items, sizes, here):
            window.append([item, None if inline else pool.submit(function, item), size, _PENDING])
            in_flight += size
            while len(window) >= max(2 * threads, 8) and in_flight > IN_FLIGHT_BYTES:
                entry = window.popleft()
                in_flight -= entry[2]
                yield result(entry)
        while window:
            yield result(window.popleft())
    finally:  # an error, or a consumer that stops early: the pieces not begun are dropped
        for entry in window:
            if entry[1] is not None:
                entry[1].cancel()


_PENDING = object()  # the result of an item that this thread codes at its turn


_PIECE_POOLS: dict[int, ThreadPoolExecutor] = {}


def _piece_pool(threads: int) -> ThreadPoolExecutor:
    """The process's pool of piece threads of that size, kept from one archive to the next:
    its threads keep their working arrays and zstd contexts (fresh ones cost page faults).
    Not the pool of ``tensor_codec``, whose jobs the pieces wait on."""
    if threads not in _PIECE_POOLS:
        _PIECE_POOLS[threads] = ThreadPoolExecutor(threads, thread_name_prefix="arzip-pieces")
    return _PIECE_POOLS[threads]


def _encode_piece(
    piece: Piece, data: memoryview, base: weight_frames.BaseModel | None, threads: int
) -> tuple[int, list]:
    """(codec id, payload parts) of one planned frame."""
    if piece.kind == "ref":
        return REF_ID, [weight_frames.ref_payload(piece.ref)]
    if piece.kind == "zstd":
        return ZSTD_ID, [zstd_compressor(piece.level).compress(data)]
    parts = tensor_codec.encode_parts(data, piece.width, threads)
    if base is not None:
        found = base.tensor_bytes(piece.tensor)
        if found is not None and piece.tensor_offset + len(data) <= len(found[1]):
            base_chunk = found[1][piece.tensor_offset : piece.tensor_offset + len(data)]
            delta = weight_frames.delta_payload(data, base_chunk, piece.width, piece.tensor, piece.tensor_offset, threads)
            if len(delta) < sum(memoryview(part).nbytes for part in parts):
                piece.kind = "delta"
                return DELTA_ID, [delta]
    return TENSOR_ID, parts


# ---------------------------------------------------------------- reading


class WeightsArchive:
    """Random access to an archive: files, byte ranges and tensors, decoding only what is asked."""

    def __init__(self, path: str, *, base: str | None = None, threads: int = 1) -> None:
        self.path = path
        self.threads = threads
        with open(path, "rb") as f:
            self.info: StreamInfo = describe(f)
        if self.info.header.codec != "weights":
            raise FormatError(f"{path}: not a weights archive (made with codec {self.info.header.codec})")
        self.manifest = weight_frames.parse_manifest(self.info.header.params)
        self.context = CodingContext(self.info.header, base)
        self._offsets = self.info.content_offsets
        self.file_offsets = [0]
        for entry in self.manifest["files"]:
            self.file_offsets.append(self.file_offsets[-1] + int(entry["size"]))
        if self.file_offsets[-1] != self.info.content_size:
            raise FormatError(f"{path}: corrupt .arz file: manifest sizes do not match the content")
        self._layouts: dict[int, SafetensorsLayout] = {}

    @property
    def file_names(self) -> list[str]:
        return [entry["name"] for entry in self.manifest["files"]]

    def frame_chunk(self, number: int) -> bytes:
        """Decode one frame (following refs), checking its checksum."""
        frame = self.info.frames[number]
        payload = self._payload(number)
        if frame.codec_id == REF_ID:
            source = weight_frames.ref_source(payload)
            if not 0 <= source < number:
                raise FormatError(f"{self.path}: corrupt .arz file: bad ref frame")
            chunk = self.frame_chunk(source)
        else:
            chunk = bytes(codec_by_id(frame.codec_id).decode_chunk(payload, frame.raw_size, self.context))
        check_frame(frame, chunk, number)
        return chunk

    def iter_chunks(self, start: int, end: int) -> Iterator[bytes]:
        """Content [start, end) in pieces, decoding up to ``threads`` frames at once."""
        import bisect

        first = max(0, bisect.bisect_right(self._offsets, start) - 1)
        numbers = []
        number = first
        while number < len(self.info.frames) and self._offsets[number] < end:
            numbers.append(number)
            number += 1
        batch = max(1, self.threads)
        with ThreadPoolExecutor(batch) as pool:
            for i in range(0, len(numbers), batch):
                group = numbers[i : i + batch]
                for n, chunk in zip(group, pool.map(self.frame_chunk, group)):
                    lo = self._offsets[n]
                    yield chunk[max(start, lo) - lo : min(end, lo + len(chunk)) - lo]

    def _payload(self, number: int) -> bytes:
        frame = self.info.frames[number]
        with open(self.path, "rb") as f:
            f.seek(self.info.frame_offsets[number] + len(frame.to_bytes()))
            payload = f.read(frame.payload_size)
        if len(payload) != frame.payload_size:
            raise FormatError(f"{self.path}: truncated .arz file")
        return payload

    def read_range(self, start: int, end: int) -> bytes:
        """Content bytes [start, end), decoding only the frames that hold them."""
        return b"".join(self.iter_chunks(start, end))

    def layout(self, file_index: int) -> SafetensorsLayout:
        if file_index not in self._layouts:
            start, end = self.file_offsets[file_index], self.file_offsets[file_index + 1]
            head = self.read_range(start, min(end, start + 8))
            json_bytes = int.from_bytes(head[:8], "little") if len(head) == 8 else 0
            head = self.read_range(start, min(end, start + 8 + json_bytes))
            self._layouts[file_index] = parse_layout(head, end - start, self.file_names[file_index])
        return self._layouts[file_index]

    def tensors(self) -> Iterator[tuple[int, TensorInfo]]:
        for index, name in enumerate(self.file_names):
            if name.endswith(".safetensors"):
                yield from ((index, info) for info in self.layout(index).tensors)

    def find(self, name: str) -> tuple[int, TensorInfo]:
        for index, info in self.tensors():
            if info.name == name:
                return index, info
        raise KeyError(f"no tensor named {name!r} in {self.path}")

    def tensor_bytes(self, file_index: int, info: TensorInfo) -> bytes:
        start = self.file_offsets[file_index]
        return self.read_range(start + info.start, start + info.end)

    def compressed_bytes(self, start: int, end: int) -> float:
        """Compressed bytes attributed to content [start, end) (shared frames split pro rata)."""
        total = 0.0
        for number, frame in enumerate(self.info.frames):
            lo, hi = self._offsets[number], self._offsets[number + 1]
            overlap = min(hi, end) - max(lo, start)
            if overlap > 0:
                total += self.info.index.frame_bytes[number] * overlap / frame.raw_size
        return total


# ---------------------------------------------------------------- arrays


def numpy_dtype(dtype: str) -> np.dtype:
    """The numpy dtype of a safetensors dtype: bf16 and fp8 as ml_dtypes types when installed,
    else as raw bit patterns (uint16 / uint8 views)."""
    plain = {
        "BOOL": np.bool_, "U8": np.uint8, "I8": np.int8, "I16": np.int16, "U16": np.uint16,
        "F16": np.float16, "I32": np.int32, "U32": np.uint32, "F32": np.float32,
        "I64": np.int64, "U64": np.uint64, "F64": np.float64,
    }
    if dtype in plain:
        return np.dtype(plain[dtype]).newbyteorder("<")
    try:
        import ml_dtypes
    except ImportError:
        return np.dtype(np.uint16 if dtype == "BF16" else np.uint8)
    return np.dtype({"BF16": ml_dtypes.bfloat16, "F8_E4M3": ml_dtypes.float8_e4m3fn, "F8_E5M2": ml_dtypes.float8_e5m2}[dtype])


def to_array(info: TensorInfo, data: bytes, framework: str) -> Any:
    array = np.frombuffer(data, dtype=numpy_dtype(info.dtype)).reshape(info.shape)
    if framework == "np":
        return array
    if framework == "pt":
        import torch

        torch_dtypes = {"BF16": torch.bfloat16, "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2}
        if info.dtype in torch_dtypes:
            raw = torch.frombuffer(bytearray(data), dtype=torch.uint8) if data else torch.empty(0, dtype=torch.uint8)
            return raw.view(torch_dtypes[info.dtype]).reshape(info.shape)
        return torch.from_numpy(array.copy())
    raise UsageError(f"framework must be 'np' or 'pt', not {framework!r}")


def load(path: str, framework: str = "np", *, base: str | None = None, threads: int = 1) -> dict[str, Any]:
    """Every tensor of an archive, by name (a directory's files merged)."""
    archive = WeightsArchive(path, base=base, threads=threads)
    tensors = {}
    for index, name in enumerate(archive.file_names):
        if not name.endswith(".safetensors"):
            continue
        start, end = archive.file_offsets[index], archive.file_offsets[index + 1]
        data = archive.read_range(start, end)
        for info in archive.layout(index).tensors:
            tensors[info.name] = to_array(info, data[info.start : info.end], framework)
    return tensors


def load_tensor(path: str, name: str, framework: str = "np", *, base: str | None = None) -> Any:
    """One tensor, decoding only the frames that hold it."""
    archive = WeightsArchive(path, base=base)
    index, info = archive.find(name)
    return to_array(info, archive.tensor_bytes(index, info), framework)


def extract(path: str, output: str, *, base: str | None = None, threads: int = 1, force: bool = False) -> list[str]:
    """Decompress an archive to ``output``: the file, or a directory of the files."""
    from ..cli.output import AtomicOutput

    archive = WeightsArchive(path, base=base, threads=threads)
    directory = bool(archive.manifest.get("directory"))
    if directory and os.path.exists(output) and not force and os.listdir(output):
        raise UsageError(f"{output}: directory exists and is not empty (use -f)")
    written = []
    for index, name in enumerate(archive.file_names):
        target_path = os.path.join(output, name) if directory else output
        if directory:
            _check_inside(output, target_path)
            os.makedirs(os.path.dirname(target_path) or ".", exist_ok=True)
        target = AtomicOutput(target_path, force=force or directory)
        try:
            start, end = archive.file_offsets[index], archive.file_offsets[index + 1]
            for chunk in archive.iter_chunks(start, end):
                target.file.write(chunk)
            target.commit()
        except BaseException:
            target.discard()
            raise
        written.append(target_path)
    return written


def _check_inside(root: str, path: str) -> None:
    if os.path.commonpath([os.path.abspath(root), os.path.abspath(path)]) != os.path.abspath(root):
        raise FormatError(f"corrupt .arz file: file name {path!r} escapes the output directory")


def is_directory_archive(path: str) -> bool:
    """Whether ``path`` is a weights archive of a directory (which ``arzip -d`` must unpack)."""
    try:
        with open(path, "rb") as f:
            info = describe(f)
    except (OSError, FormatError):
        return False
    if info.header.codec != "weights":
        return False
    return bool(weight_frames.parse_manifest(info.header.params).get("directory"))


__all__ = [
    "DTYPES",
    "ArchiveSummary",
    "WeightsArchive",
    "compress_weights",
    "extract",
    "is_directory_archive",
    "load",
    "load_tensor",
]
