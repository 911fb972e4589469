"""The frame codecs of weight archives besides ``tensor``: references and deltas.

What it does: ``ref`` frames repeat an earlier frame's chunk (dedup of identical
tensors: the payload is the earlier frame's number, and the stream decoder keeps
that chunk, see ``WeightsCodec.referenced_frames``); ``delta`` frames hold a tensor
as its difference from the same tensor of a base checkpoint (XOR of the bit
patterns or their difference modulo 2**W, whichever codes smaller), coded by the
tensor codec. ``WeightsCodec`` is the header-level codec of weight archives: it
tells the stream decoder which frames to keep and carries the manifest.
What it does not do: choose what to dedup or delta (``archive`` does).

``ref`` payload: varint frame number.
``delta`` payload: u8 mode (0 XOR, 1 difference) | varint length + UTF-8 tensor
name in the base | varint the tensor's byte offset within that tensor | tensor payload.
"""

from __future__ import annotations

import json
import os

import numpy as np

from ..codecs.base import Codec, CodingContext, EncodedChunk
from ..container import NeedMoreData, _Cursor, encode_varint
from ..errors import FormatError, ModelError, UsageError
from . import tensor_codec
from .safetensors import SafetensorsLayout, read_layout

XOR, DIFFERENCE = 0, 1
MANIFEST_VERSION = 1


def parse_manifest(params: bytes) -> dict:
    """The weights manifest stored in the stream header's parameters."""
    try:
        manifest = json.loads(params.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError("corrupt .arz file: bad weights manifest") from None
    if not isinstance(manifest, dict) or manifest.get("version") != MANIFEST_VERSION:
        raise FormatError("corrupt .arz file: bad weights manifest")
    return manifest


class WeightsCodec(Codec):
    """Header codec of archives written by ``arzip weights``: frames name their own codecs."""

    name = "weights"
    selectable = False
    codec_id = None
    summary = "model weight files (arzip weights compress): per-tensor entropy coding, dedup, deltas"

    def level_note(self, level: int) -> str:
        return "-"

    def chunk_bytes(self, level: int) -> int:
        from .archive import CHUNK_BYTES

        return CHUNK_BYTES

    def batch_chunks(self, threads: int) -> int:
        return 8 * threads  # tensors differ widely in size: give the threads many segments

    def referenced_frames(self, header) -> frozenset[int]:
        return frozenset(parse_manifest(header.params).get("referenced_frames", []))

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        raise UsageError("use 'arzip weights compress' for model weight files")

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        raise AssertionError("weights frames carry the id of the codec that made them")


class RefCodec(Codec):
    name = "ref"
    selectable = False
    uses_history = True
    codec_id = 21
    summary = "a repeat of an earlier frame (dedup of identical tensors)"

    def level_note(self, level: int) -> str:
        return "-"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        raise UsageError("ref frames are written by 'arzip weights compress'")

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        chunk = context.history.get(ref_source(payload))
        if chunk is None or len(chunk) != raw_size:
            raise FormatError("corrupt .arz file: a ref frame points to no kept frame")
        return chunk


def ref_payload(frame_number: int) -> bytes:
    return encode_varint(frame_number)


def ref_source(payload: bytes) -> int:
    """The frame number a ref frame repeats."""
    try:
        return _Cursor(payload).varint()
    except NeedMoreData:
        raise FormatError("corrupt .arz file: bad ref frame") from None


# ---------------------------------------------------------------- deltas against a base


class BaseModel:
    """A base checkpoint (a .safetensors file or a directory of them), tensors by name."""

    def __init__(self, path: str) -> None:
        files = _safetensors_files(path)
        if not files:
            raise ModelError(f"{path}: no .safetensors file in the base")
        self.path = path
        self.files = files
        self.layouts: dict[str, tuple[str, SafetensorsLayout]] = {}
        for file in files:
            layout = read_layout(file)
            for info in layout.tensors:
                self.layouts.setdefault(info.name, (file, layout))

    def tensor_bytes(self, name: str) -> tuple[str, bytes] | None:
        """(dtype, raw bytes) of a tensor of the base, or None if it has none of that name."""
        found = self.layouts.get(name)
        if found is None:
            return None
        file, layout = found
        info = layout.tensor(name)
        with open(file, "rb") as f:
            f.seek(info.start)
            return info.dtype, f.read(info.nbytes)

    def digest(self) -> bytes:
        import xxhash

        state = xxhash.xxh3_128()
        for file in self.files:  # names within a base directory count; a file's own name does not
            state.update(os.path.relpath(file, self.path).encode() + b"\0" if os.path.isdir(self.path) else b"\0")
            with open(file, "rb") as f:
                while block := f.read(1 << 24):
                    state.update(block)
        return state.digest()


def _safetensors_files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(
            os.path.join(root, name)
            for root, _, names in os.walk(path)
            for name in names
            if name.endswith(".safetensors")
        )
    if os.path.isfile(path):
        return [path]
    raise ModelError(f"{path}: base model not found")


_BASES: dict[tuple, BaseModel] = {}


def load_base(path: str, expected_digest: bytes) -> BaseModel:
    """The base at ``path``, checked against the digest the archive recorded (cached per
    path and file state, so a run hashes each base once)."""
    key = (path, expected_digest, _file_state(path))
    if key not in _BASES:
        base = BaseModel(path)
        if base.digest() != expected_digest:
            raise ModelError(f"{path}: not the base this archive was made against (hash differs)")
        _BASES.clear()
        _BASES[key] = base
    return _BASES[key]


def _file_state(path: str) -> tuple:
    try:
        files = _safetensors_files(path)
        return tuple((f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in files)
    except OSError:
        raise ModelError(f"{path}: base model not found") from None


def delta_values(values: np.ndarray, base: np.ndarray, mode: int) -> np.ndarray:
    if mode == XOR:
        return values ^ base
    return values - base  # modulo 2**W: unsigned arithmetic wraps


def undo_delta(delta: np.ndarray, base: np.ndarray, mode: int) -> np.ndarray:
    if mode == XOR:
        return delta ^ base
    return delta + base


def delta_payload(chunk: bytes, base_chunk: bytes, width_bytes: int, name: str, offset: int, threads: int) -> bytes:
    """The smaller of the XOR and difference deltas of ``chunk`` against ``base_chunk``."""
    values = tensor_codec.values_of(chunk, width_bytes)
    base = tensor_codec.values_of(base_chunk, width_bytes)
    best = b""
    for mode in (XOR, DIFFERENCE):
        delta = delta_values(values, base, mode)
        body = tensor_codec.encode_values(memoryview(delta).cast("B"), width_bytes, threads)
        encoded_name = name.encode("utf-8")
        payload = bytes((mode,)) + encode_varint(len(encoded_name)) + encoded_name + encode_varint(offset) + body
        if not best or len(payload) < len(best):
            best = payload
    return best


class DeltaCodec(Codec):
    name = "delta"
    selectable = False
    codec_id = 22
    summary = "a tensor as its difference from a base checkpoint (arzip weights --base)"

    def level_note(self, level: int) -> str:
        return "-"

    def encode_chunk(self, chunk: bytes, context: CodingContext) -> EncodedChunk:
        raise UsageError("delta frames are written by 'arzip weights compress --base'")

    def decode_chunk(self, payload: bytes, raw_size: int, context: CodingContext) -> bytes:
        cur = _Cursor(payload)
        try:
            mode = cur.u8()
            name = cur.text(cur.varint(), "tensor name")
            offset = cur.varint()
        except NeedMoreData:
            raise FormatError("corrupt .arz file: bad delta frame") from None
        if mode not in (XOR, DIFFERENCE):
            raise FormatError("corrupt .arz file: bad delta frame")
        body = memoryview(payload)[cur.offset :]
        width_bytes = body[0] if len(body) else 0
        if width_bytes not in (1, 2, 4, 8):
            raise FormatError("corrupt .arz file: bad delta frame")
        delta = tensor_codec.values_of(tensor_codec.decode_values(body, raw_size), width_bytes)
        base = base_for(context)
        found = base.tensor_bytes(name)
        if found is None or offset + raw_size > len(found[1]):
            raise ModelError(f"the base has no tensor {name!r} of the right size")
        base_values = tensor_codec.values_of(found[1][offset : offset + raw_size], width_bytes)
        return undo_delta(delta, base_values, mode).tobytes()


def base_for(context: CodingContext) -> BaseModel:
    """The base checkpoint of a delta archive: ``-m``/``--base`` if given, else the stored path."""
    manifest = parse_manifest(context.header.params)
    stored = manifest.get("base")
    if not stored:
        raise FormatError("corrupt .arz file: delta frames without a base")
    path = context.model_override or stored["path"]
    if path.startswith("base:"):
        path = path[len("base:") :]
    return load_base(path, bytes.fromhex(stored["digest"]))
