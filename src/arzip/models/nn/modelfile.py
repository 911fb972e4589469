"""The ``.arzm`` model file: versioned, self-checking, numpy-only to read.

Layout: ``ARZM`` magic, a version byte, a little-endian u32 length, that many
bytes of UTF-8 JSON (network shape, integer shifts, array directory, training
record), the arrays' raw little-endian bytes, then the SHA-256 of everything
before it. The hash is the model's identity: the ``.arz`` header records it and
decoding with any other model is refused.
What it does not do: run the network (``arzip.models.nn.network``).
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path

import numpy as np

from ...errors import ModelError

MAGIC = b"ARZM"
VERSION = 1
HASH_BYTES = 32


def save(path: str | Path, meta: dict, arrays: dict[str, np.ndarray]) -> bytes:
    """Write the model file; return its hash."""
    directory, blobs, offset = [], [], 0
    for name, array in arrays.items():
        array = np.ascontiguousarray(array)
        raw = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        directory.append({"name": name, "dtype": array.dtype.str.lstrip("<>|="), "shape": list(array.shape),
                          "offset": offset, "bytes": len(raw)})
        blobs.append(raw)
        offset += len(raw)
    header = json.dumps({**meta, "arrays": directory}, sort_keys=True, separators=(",", ":")).encode()
    body = MAGIC + bytes([VERSION]) + struct.pack("<I", len(header)) + header + b"".join(blobs)
    digest = hashlib.sha256(body).digest()
    tmp = Path(str(path) + ".tmp")
    tmp.write_bytes(body + digest)
    tmp.replace(path)
    return digest


def load(path: str | Path) -> tuple[dict, dict[str, np.ndarray], bytes]:
    """(meta, arrays, hash) of a model file; ModelError if it is not one or is damaged."""
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ModelError(f"cannot read model file {path}: {error.strerror or error}") from None
    if data[:4] != MAGIC:
        raise ModelError(f"{path} is not an arzip model file (.arzm)")
    if len(data) < 9 + HASH_BYTES or data[4] != VERSION:
        raise ModelError(f"{path}: unsupported or truncated model file (version {data[4] if len(data) > 4 else '?'})")
    body, digest = data[:-HASH_BYTES], data[-HASH_BYTES:]
    if hashlib.sha256(body).digest() != digest:
        raise ModelError(f"{path}: model file is corrupt (its SHA-256 does not match its contents)")
    (length,) = struct.unpack("<I", body[5:9])
    meta = json.loads(body[9:9 + length])
    base = 9 + length
    arrays = {}
    for entry in meta.pop("arrays"):
        start = base + entry["offset"]
        raw = body[start:start + entry["bytes"]]
        arrays[entry["name"]] = np.frombuffer(raw, dtype=np.dtype(entry["dtype"]).newbyteorder("<")).reshape(
            entry["shape"])
    return meta, arrays, digest
