"""arzip: lossless compression by autoregressive models and entropy coding.

The API mirrors Python's zlib and lzma modules::

    import arzip
    blob = arzip.compress(data)             # codec "auto", its default level
    assert arzip.decompress(blob) == data   # the codec is read from the header
    with arzip.open("notes.txt.arz", "wt") as f:
        f.write("hello")
"""

from .errors import ArzipError
from .file import ArzipFile, open
from .stream import Compressor, Decompressor, compress, decompress

__version__ = "0.1.0"

__all__ = [
    "ArzipError",
    "ArzipFile",
    "Compressor",
    "Decompressor",
    "compress",
    "decompress",
    "open",
    "__version__",
]
