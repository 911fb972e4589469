"""Finding and loading a network by reference: ``nn`` (shipped) or ``nn:PATH``.

What it does: resolves a reference to a model file, loads it once per process
(checking its SHA-256), and returns the :class:`~arzip.models.nn.network.Network`.
The shipped model is ``weights/default.arzm`` inside this package (package data);
nothing is ever downloaded.
What it does not do: check a file's model against an ``.arz`` header (the codec does).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from ...errors import ModelError
from .network import Network, load_network

MODEL_MEMORY_BYTES = 32 << 20  # a loaded model: int8 table, float32 copies of the dense layers, scratch
_CACHE: dict[tuple[str, int, int], Network] = {}
_LOCK = threading.Lock()


def default_model_path() -> Path:
    return Path(__file__).with_name("weights") / "default.arzm"


def model_path(ref: str) -> Path:
    """``nn`` -> the shipped file; ``nn:PATH`` -> PATH."""
    name, sep, path = ref.partition(":")
    if name != "nn":
        raise ModelError(f"not an nn model reference: {ref!r}")
    if not sep or not path:
        return default_model_path()
    return Path(os.path.expanduser(path))


def load(ref: str) -> Network:
    path = model_path(ref)
    try:
        stat = path.stat()
    except OSError:
        where = "the package's shipped model" if ref == "nn" else str(path)
        raise ModelError(f"model {ref!r} not found ({where}); give -m nn:PATH to the model file") from None
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _LOCK:
        network = _CACHE.get(key)
        if network is None:
            network = load_network(path)
            _CACHE[key] = network
    return network
