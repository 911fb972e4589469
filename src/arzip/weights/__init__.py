"""Lossless compression of model weight files (safetensors), at the entropy bound.

What it does: ``compress_weights`` turns a .safetensors file or a model directory
into one .arz stream (see ``archive``); ``load`` and ``load_tensor`` read tensors
straight from it; ``extract`` restores the files byte for byte. ``arzip -d``,
``info`` and ``test`` understand these files like any other.
What it does not do: change a single bit of any weight.
"""

from typing import Any

_EXPORTS = ("WeightsArchive", "compress_weights", "extract", "is_directory_archive", "load", "load_tensor")


def __getattr__(name: str) -> Any:
    # Lazy: the codec registry imports this package's frame codecs, and the archive
    # imports the stream layer, which imports the registry.
    if name in _EXPORTS:
        from . import archive

        return getattr(archive, name)
    raise AttributeError(name)


__all__ = ["WeightsArchive", "compress_weights", "extract", "is_directory_archive", "load", "load_tensor"]
