"""Binary arithmetic coder for bitwise models (carry-less, as in the lpaq/paq family).

What it does: codes one bit at a time with a 16-bit probability that the bit is 1,
in pure 32-bit integer arithmetic, so encoder and decoder agree on every machine.
What it does not do: model anything. The probability comes from the caller; the
coder only narrows an interval [low, high] and emits its settled leading bytes.

The state lives in a small uint32/int64 array so that numba-compiled models can
inline the coder in their own hot loops (see ``arzip.models.cm``):

    enc = new_encoder(capacity_bytes)           # (state, out)
    encode_bit(state, out, p1_16, bit)           # p1_16 = P(bit == 1) * 65536, in [1, 65535]
    n = finish_encoder(state, out)               # out[:n] is the payload; n < 0 on overflow

    state = new_decoder(payload)
    bit = decode_bit(state, payload, p1_16)

Invariant: low <= high, both 32-bit; a bit never widens the interval; the decoder's
``code`` always lies in [low, high]. Bytes past the end of the payload read as 0,
so a truncated payload decodes to garbage that the frame checksum then rejects,
and the decoder's work is bounded by the number of bits the caller asks for.
"""

from __future__ import annotations

import numpy as np

from ..jit import njit
from .bytestream import CAP as _CAP
from .bytestream import CODE as _CODE
from .bytestream import COMMON_SLOTS
from .bytestream import OVERFLOW as _OVERFLOW
from .bytestream import POS as _POS
from .bytestream import get_byte as _get_byte
from .bytestream import put_byte as _put_byte

PROB_BITS = 16
PROB_ONE = 1 << PROB_BITS  # probabilities are in (0, PROB_ONE)

# state slots (int64 array): the interval, then the common ones (see bytestream)
_LOW, _HIGH = 0, 1
STATE_SIZE = COMMON_SLOTS

_MASK32 = 0xFFFFFFFF


def new_encoder(capacity_bytes: int) -> tuple[np.ndarray, np.ndarray]:
    """A fresh encoder state and an output buffer of ``capacity_bytes`` bytes."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_HIGH] = _MASK32
    state[_CAP] = capacity_bytes
    return state, np.zeros(max(capacity_bytes, 0), dtype=np.uint8)


@njit(cache=True, nogil=True, inline="always")
def _split(low: int, high: int, p1: int) -> int:
    """Where [low, high] splits for P(1) = p1 / 65536, p1 clamped to [1, 65535]:
    a 1 keeps [low, mid], a 0 keeps [mid + 1, high]; low <= mid < high."""
    if p1 < 1:
        p1 = 1
    elif p1 > PROB_ONE - 1:
        p1 = PROB_ONE - 1
    return low + (((high - low) * p1) >> PROB_BITS)


@njit(cache=True, nogil=True, inline="always")
def encode_bit(state: np.ndarray, out: np.ndarray, p1: int, bit: int) -> None:
    """Code ``bit`` with P(bit == 1) = p1 / 65536 (p1 clamped to [1, 65535])."""
    low = state[_LOW]
    high = state[_HIGH]
    mid = _split(low, high, p1)
    if bit:
        high = mid
    else:
        low = mid + 1
    # shift out the leading bytes on which low and high agree
    while ((low ^ high) & 0xFF000000) == 0:
        _put_byte(state, out, high >> 24)
        low = (low << 8) & _MASK32
        high = ((high << 8) & _MASK32) | 0xFF
    state[_LOW] = low
    state[_HIGH] = high


@njit(cache=True, nogil=True)
def finish_encoder(state: np.ndarray, out: np.ndarray) -> int:
    """Flush the last bytes; return the payload length, or -1 if ``out`` overflowed."""
    # Emit the shortest value in [low, high]: its trailing zero bytes are implied,
    # because the decoder reads bytes past the end of the payload as 0.
    low = state[_LOW]
    high = state[_HIGH]
    for nbytes in range(1, 5):
        shift = 32 - 8 * nbytes
        value = ((low + (1 << shift) - 1) >> shift) << shift
        if value <= high:
            for k in range(nbytes):
                _put_byte(state, out, (value >> (24 - 8 * k)) & 0xFF)
            break
    if state[_OVERFLOW]:
        return -1
    return state[_POS]


@njit(cache=True, nogil=True)
def new_decoder(payload: np.ndarray) -> np.ndarray:
    """Decoder state positioned at the start of ``payload`` (uint8 array)."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_HIGH] = _MASK32
    code = 0
    for _ in range(4):
        code = (code << 8) | _get_byte(state, payload)
    state[_CODE] = code
    return state


@njit(cache=True, nogil=True, inline="always")
def decode_bit(state: np.ndarray, payload: np.ndarray, p1: int) -> int:
    """Mirror of :func:`encode_bit`: the bit coded with P(bit == 1) = p1 / 65536."""
    low = state[_LOW]
    high = state[_HIGH]
    code = state[_CODE]
    mid = _split(low, high, p1)
    if code <= mid:
        bit = 1
        high = mid
    else:
        bit = 0
        low = mid + 1
    while ((low ^ high) & 0xFF000000) == 0:
        low = (low << 8) & _MASK32
        high = ((high << 8) & _MASK32) | 0xFF
        code = ((code << 8) & _MASK32) | _get_byte(state, payload)
    state[_LOW] = low
    state[_HIGH] = high
    state[_CODE] = code
    return bit


def encode_with_model(data: bytes, run, slack: int = 64) -> bytes | None:
    """The payload of ``data`` coded by a bitwise model loop: ``run(buf, n, True, state, out)``
    codes the ``n`` bytes of ``buf`` into ``out`` with this coder's arithmetic (its state in
    ``state``). None when the payload would be larger than ``len(data) + slack``."""
    n = len(data)
    buf = np.frombuffer(data, dtype=np.uint8).copy()
    limit = n + slack
    state, out = new_encoder(limit)
    run(buf, n, True, state, out)
    size = finish_encoder(state, out)
    if size < 0 or size > limit:
        return None
    return out[:size].tobytes()


def decode_with_model(payload: bytes, raw_size: int, run) -> bytes:
    """Mirror of :func:`encode_with_model`: ``run(buf, raw_size, False, state, payload)``
    decodes exactly ``raw_size`` bytes into ``buf``."""
    src = np.frombuffer(payload, dtype=np.uint8).copy()
    state = new_decoder(src)
    buf = np.zeros(raw_size, dtype=np.uint8)
    run(buf, raw_size, False, state, src)
    return buf.tobytes()


@njit(cache=True, nogil=True)
def encode_bits(bits: np.ndarray, probs: np.ndarray, capacity_bytes: int) -> np.ndarray:
    """Code a whole array of bits with their probabilities (for tests and static models)."""
    state = np.zeros(STATE_SIZE, dtype=np.int64)
    state[_HIGH] = _MASK32
    state[_CAP] = capacity_bytes
    out = np.zeros(capacity_bytes, dtype=np.uint8)
    for i in range(bits.shape[0]):
        encode_bit(state, out, probs[i], bits[i])
    n = finish_encoder(state, out)
    if n < 0:
        return np.zeros(0, dtype=np.uint8)
    return out[:n].copy()


@njit(cache=True, nogil=True)
def decode_bits(payload: np.ndarray, probs: np.ndarray) -> np.ndarray:
    """Mirror of :func:`encode_bits`."""
    state = new_decoder(payload)
    bits = np.zeros(probs.shape[0], dtype=np.uint8)
    for i in range(probs.shape[0]):
        bits[i] = decode_bit(state, payload, probs[i])
    return bits
