"""Reading the layout of a .safetensors file: its header, tensors, dtypes and byte ranges.

What it does: parses the 8-byte length and JSON header of the safetensors format
(https://huggingface.co/docs/safetensors) and checks that the tensors tile the
data area exactly, so a file that is not what it claims fails here with one line.
What it does not do: read tensor data into arrays (``arzip.weights.archive`` does)
or depend on the ``safetensors`` package.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from math import prod

from ..errors import FormatError

MAX_HEADER_BYTES = 100 << 20  # the safetensors reference implementation's own limit

# dtype name -> (bytes per element, is a floating-point type coded by exponent/mantissa planes)
DTYPES: dict[str, tuple[int, bool]] = {
    "BOOL": (1, False),
    "U8": (1, False),
    "I8": (1, False),
    "F8_E4M3": (1, True),
    "F8_E5M2": (1, True),
    "I16": (2, False),
    "U16": (2, False),
    "F16": (2, True),
    "BF16": (2, True),
    "I32": (4, False),
    "U32": (4, False),
    "F32": (4, True),
    "I64": (8, False),
    "U64": (8, False),
    "F64": (8, True),
}


@dataclass(frozen=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    start: int  # byte offset in the file
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.start

    @property
    def itemsize(self) -> int:
        return DTYPES[self.dtype][0]

    @property
    def is_float(self) -> bool:
        return DTYPES[self.dtype][1]


@dataclass(frozen=True)
class SafetensorsLayout:
    header_bytes: int  # 8 + the JSON length: where the data area starts
    tensors: tuple[TensorInfo, ...]  # in file order
    metadata: dict
    file_size: int

    def tensor(self, name: str) -> TensorInfo:
        for info in self.tensors:
            if info.name == name:
                return info
        raise KeyError(name)


def parse_layout(head: bytes, file_size: int, label: str = "file") -> SafetensorsLayout:
    """The layout from the first bytes of a file (``head`` holds at least its header)."""
    if len(head) < 8 or file_size < 8:
        raise FormatError(f"{label}: not a safetensors file (too short)")
    (json_bytes,) = struct.unpack("<Q", head[:8])
    if json_bytes > MAX_HEADER_BYTES or 8 + json_bytes > file_size:
        raise FormatError(f"{label}: not a safetensors file (bad header length)")
    if len(head) < 8 + json_bytes:
        raise FormatError(f"{label}: truncated safetensors header")
    try:
        header = json.loads(head[8 : 8 + json_bytes].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise FormatError(f"{label}: not a safetensors file (header is not JSON)") from None
    if not isinstance(header, dict):
        raise FormatError(f"{label}: not a safetensors file (header is not an object)")
    data_start = 8 + json_bytes
    metadata = header.pop("__metadata__", {}) or {}
    tensors = [_tensor_info(name, entry, data_start, label) for name, entry in header.items()]
    tensors.sort(key=lambda t: (t.start, t.end))
    position = data_start
    for info in tensors:
        if info.start != position and info.nbytes:
            raise FormatError(f"{label}: tensors do not tile the data area (at {info.name})")
        position = max(position, info.end)
    if position != file_size:
        raise FormatError(f"{label}: size does not match its safetensors header (truncated or padded)")
    return SafetensorsLayout(data_start, tuple(tensors), metadata, file_size)


def _tensor_info(name: str, entry: object, data_start: int, label: str) -> TensorInfo:
    try:
        dtype = entry["dtype"]  # type: ignore[index]
        shape = tuple(int(d) for d in entry["shape"])  # type: ignore[index]
        begin, end = (int(x) for x in entry["data_offsets"])  # type: ignore[index]
    except (TypeError, KeyError, ValueError):
        raise FormatError(f"{label}: bad safetensors entry for {name!r}") from None
    if dtype not in DTYPES:
        raise FormatError(f"{label}: tensor {name!r} has unknown dtype {dtype!r}")
    if begin < 0 or end < begin or end - begin != prod(shape) * DTYPES[dtype][0]:
        raise FormatError(f"{label}: tensor {name!r} has offsets that do not match its shape")
    return TensorInfo(name, dtype, shape, data_start + begin, data_start + end)


def read_layout(path: str) -> SafetensorsLayout:
    import os

    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) == 8:
            (json_bytes,) = struct.unpack("<Q", head)
            if json_bytes <= MAX_HEADER_BYTES:
                head += f.read(json_bytes)
    return parse_layout(head, size, path)
