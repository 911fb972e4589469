"""Any Hugging Face causal language model as an exact token predictor for the range coder.

What it does: loads ``AutoModelForCausalLM`` and its tokenizer from a local
directory or the local Hugging Face cache (never from the network), hashes their
files, turns a chunk of bytes into a list of coding *events* (tokens of text
that round-trips through the tokenizer, escapes for raw bytes that do not), and
codes a batch of chunks as one batch of range-coded streams.
What it does not do: the container, framing or checksums of frames
(``arzip.stream``), or choose a codec (``arzip.codecs.hf`` is the thin codec).

The one idea: the encoder runs exactly the computation the decoder will run.
Both feed the model one token per row per step, in a batch of a fixed number
of rows whose shape is recorded in the header; every row is at the same
position, so no padding masks are needed; the KV cache grows step by step and
is rebuilt from the last ``window - stride`` tokens at the same steps on both
sides. A frame records its row, so a decoder handed any subset of a batch's
frames puts each in the row it had and sees the same logits. Logits become
integer log2 scores (1/256 bit) on the device, and ``frequency_table`` turns
those into the coder's table, as for every other model of arzip.

A chunk's stream starts with its number of events (END included, coded as v
below), so a decoder on another stack stops as soon as a correct one would;
then its events, each coded with the model's distribution over ``vocab + 1``
symbols (symbol ``vocab`` is ESCAPE):

    token t                 text; t is fed to the model next
    ESCAPE, v = 0           end of the chunk
    ESCAPE, v >= 1          end of a text segment, then v - 1 raw bytes (8 bits each);
                            the separator token is fed to the model next

v is coded as its bit length (uniform over 64) and its low bits (uniform).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import os
import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import xxhash

from ..coding import range as rc
from ..coding.frequencies import cumulative, frequency_table
from ..errors import ChecksumError, FormatError, ModelError, UnsupportedError, UsageError

PREFIX = "hf:"
PARAMS_VERSION = 1
FREQ_TOTAL_BITS = 30  # the coder's tables sum to 2**30: room for vocabularies of millions
LOG2_UNITS = 256  # integer scores are log2-probabilities in 1/256 bit (frequencies.LOG2_FRAC_BITS)
ESCAPE_LOG2_SCORE = -14 * LOG2_UNITS  # an escape costs ~14 bits; a token pays ~1e-4 bit for it
FLOOR_LOG2_SCORE = -60 * LOG2_UNITS  # below any useful probability; keeps -inf logits finite
LENGTH_BITS_TOTAL = 64  # alphabet of the bit length of v
MAX_ROWS = 255  # the row of a frame is one byte of its payload
CHECK_BYTES = 4  # XXH32 of the chunk, to tell "decodes wrong" from other corruption
SLOW_PATH_SEGMENT_CHARS = 512  # segments of text that needed splitting are kept this short
DEFAULT_ROWS = {"cpu": 8, "cuda": 32}

# level -> (chunk bytes, context window in tokens before the model's own limit)
LEVELS = {
    1: (1 << 9, 128),
    2: (1 << 10, 256),
    3: (1 << 11, 512),
    4: (1 << 12, 1024),
    5: (1 << 13, 1024),
    6: (1 << 14, 2048),
    7: (1 << 15, 2048),
    8: (1 << 16, 4096),
    9: (1 << 17, 8192),
}
DEFAULT_LEVEL = 6
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")
TOKENIZER_FILES = (
    "config.json",
    "tokenizer.json",
    "tokenizer.model",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "added_tokens.json",
    "vocab.json",
    "vocab.txt",
    "merges.txt",
)


# ---------------------------------------------------------------- settings


@dataclass(frozen=True)
class HFOptions:
    """How to run the model when compressing (the decoder reads these from the header)."""

    device: str = "cpu"  # "cpu" or "cuda" (ARZIP_DEVICE); files decode only on the same kind
    dtype: str = "float32"  # "float32", "bfloat16" or "float16" (ARZIP_HF_DTYPE); float32 on cpu
    rows: int | None = None  # streams per batch (ARZIP_HF_ROWS); None: 8 on cpu, 32 on cuda

    @classmethod
    def from_environment(cls) -> HFOptions:
        rows = os.environ.get("ARZIP_HF_ROWS")
        if rows and not rows.isdigit():
            raise UsageError(f"ARZIP_HF_ROWS must be a number of streams, not {rows!r}")
        return cls(
            device=os.environ.get("ARZIP_DEVICE", "cpu"),
            dtype=os.environ.get("ARZIP_HF_DTYPE", "float32"),
            rows=int(rows) if rows else None,
        )


@dataclass(frozen=True)
class HFParams:
    """What the header records: the batch shape, the window, and the software stack."""

    window: int  # tokens of context at most (the KV cache never holds more)
    stride: int  # tokens dropped from the context when the window is full
    rows: int  # streams per batch: the batch shape of every model call
    dtype: str
    device: str  # device kind: "cpu" or "cuda"
    stack: dict = field(default_factory=dict)  # torch, transformers, cpu capability or gpu name

    def to_bytes(self) -> bytes:
        d = {"v": PARAMS_VERSION, **asdict(self)}
        return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> HFParams:
        try:
            d = json.loads(data.decode())
            if d.pop("v") != PARAMS_VERSION:
                raise UnsupportedError("this hf file needs a newer arzip (parameters version)")
            params = cls(**d)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            raise FormatError(f"corrupt .arz file: bad hf parameters ({error})") from None
        if not (2 <= params.stride < params.window - 1 and 1 <= params.rows <= MAX_ROWS):
            raise FormatError("corrupt .arz file: bad hf window, stride or rows")
        return params


def window_for(level: int, max_positions: int | None) -> tuple[int, int]:
    """(window, stride) at ``level`` for a model that accepts ``max_positions`` tokens."""
    window = LEVELS[level][1]
    if max_positions:
        window = min(window, max_positions)
    window = max(window, 8)
    return window, max(2, window // 4)


def stack_info(device: str) -> dict:
    import torch
    import transformers

    info = {"torch": torch.__version__, "transformers": transformers.__version__}
    if device == "cuda" and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
        info["cuda"] = torch.version.cuda or ""
    else:
        info["cpu"] = torch.backends.cpu.get_cpu_capability()
        info["threads"] = torch.get_num_threads()  # may change how a matmul splits its sums
    return info


def describe_stack(params: HFParams) -> str:
    s = params.stack
    where = s.get("gpu") or s.get("cpu") or "?"
    return f"torch {s.get('torch')}, transformers {s.get('transformers')}, {params.dtype} on {params.device}/{where}"


# ---------------------------------------------------------------- finding and loading models


def model_name(ref: str) -> str:
    name = ref[len(PREFIX) :] if ref.startswith(PREFIX) else ref
    if not name:
        raise UsageError("the hf codec needs a model: -m hf:NAME_OR_PATH")
    return name


def resolve_model_dir(ref: str) -> Path:
    """The local directory of ``hf:NAME_OR_PATH``: a path, or a snapshot in the local HF cache."""
    name = model_name(ref)
    path = Path(name).expanduser()
    if path.is_dir():
        return path.resolve()
    looked = [f"no directory {str(path)!r}"]
    try:
        from huggingface_hub import constants, snapshot_download

        looked.append(f"not in the Hugging Face cache {constants.HF_HUB_CACHE}")
        return Path(snapshot_download(repo_id=name, local_files_only=True))
    except ImportError:
        pass
    except Exception:  # noqa: BLE001 - any miss of the offline cache (not found, bad repo id)
        pass
    raise ModelError(
        f"hf model {name!r} not found: {'; '.join(looked)}. arzip never downloads: "
        f"fetch it first (hf download {name}) or give a local path"
    )


_HASH_CACHE: dict[tuple, bytes] = {}


def model_files(directory: Path) -> list[Path]:
    files = [
        p
        for p in sorted(directory.iterdir())
        if p.is_file() and (p.name in TOKENIZER_FILES or p.name.endswith(WEIGHT_SUFFIXES))
    ]
    if not any(p.name.endswith(WEIGHT_SUFFIXES) for p in files):
        raise ModelError(f"no weights (*.safetensors, *.bin) in {directory}")
    return files


def model_hash(directory: Path) -> bytes:
    """SHA-256 over the names and bytes of the weights, config and tokenizer files."""
    files = model_files(directory)
    key = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files)
    if key in _HASH_CACHE:
        return _HASH_CACHE[key]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + str(path.stat().st_size).encode() + b"\0")
        with open(path, "rb") as f:
            while block := f.read(1 << 22):
                digest.update(block)
    _HASH_CACHE[key] = digest.digest()
    return _HASH_CACHE[key]


class Tokens:
    """The tokenizer reduced to what coding needs: ids of a str, and the str of ids."""

    def __init__(self, tokenizer) -> None:
        self._backend = getattr(tokenizer, "backend_tokenizer", None)
        self._tokenizer = tokenizer

    def encode(self, text: str) -> list[int]:
        if self._backend is not None:
            return self._backend.encode(text, add_special_tokens=False).ids
        return self._tokenizer.encode(text, add_special_tokens=False)

    def decode(self, ids: Sequence[int]) -> str:
        if self._backend is not None:
            return self._backend.decode(list(ids), skip_special_tokens=False)
        return self._tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)


@dataclass
class LoadedModel:
    ref: str
    directory: Path
    hash: bytes
    model: object  # a torch module in eval mode on ``device``
    tokens: Tokens
    device: str
    dtype: str
    vocab: int  # size of the logits: the model's alphabet
    bos: int  # fed first, and first after the window slides
    separator: int  # fed after an escape, and to finished rows
    max_positions: int | None
    lock: threading.Lock = field(default_factory=threading.Lock)


_MODELS: dict[tuple, LoadedModel] = {}


def torch_device(device: str):
    import torch

    if device not in ("cpu", "cuda"):
        raise UsageError(f"device must be cpu or cuda, not {device!r}")
    if device == "cuda" and not torch.cuda.is_available():
        raise UsageError("device cuda asked for, but torch sees no CUDA GPU here")
    return torch.device(device)


def load_model(ref: str, device: str = "cpu", dtype: str = "float32") -> LoadedModel:
    """The model of ``ref`` on ``device`` (cached per process)."""
    directory = resolve_model_dir(ref)
    digest = model_hash(directory)
    key = (str(directory), digest, device, dtype)
    if key not in _MODELS:
        _MODELS[key] = _load(ref, directory, digest, device, dtype)
    loaded = _MODELS[key]
    loaded.ref = ref
    return loaded


def _load(ref: str, directory: Path, digest: bytes, device: str, dtype: str) -> LoadedModel:
    import torch
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    if dtype not in ("float32", "bfloat16", "float16"):
        raise UsageError(f"dtype must be float32, bfloat16 or float16, not {dtype!r}")
    if device == "cpu" and dtype != "float32":
        raise UsageError("on cpu the hf codec runs in float32 only")
    target = torch_device(device)
    verbosity = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    try:
        tokenizer = AutoTokenizer.from_pretrained(directory, local_files_only=True)
        model = AutoModelForCausalLM.from_pretrained(
            directory, local_files_only=True, dtype=getattr(torch, dtype), attn_implementation="eager"
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(f"cannot load hf model from {directory}: {str(error).splitlines()[0]}") from None
    finally:
        transformers.logging.enable_progress_bar()
        transformers.logging.set_verbosity(verbosity)
    model.to(target).eval()
    head = model.get_output_embeddings()
    vocab = int(head.weight.shape[0]) if head is not None else int(model.config.vocab_size)
    config = model.config
    special = [tokenizer.bos_token_id, tokenizer.eos_token_id, getattr(config, "bos_token_id", None), 0]
    bos = next(t for t in special if isinstance(t, int) and 0 <= t < vocab)
    eos = tokenizer.eos_token_id if isinstance(tokenizer.eos_token_id, int) and tokenizer.eos_token_id < vocab else bos
    max_positions = getattr(config, "n_positions", None) or getattr(config, "max_position_embeddings", None)
    return LoadedModel(ref, directory, digest, model, Tokens(tokenizer), device, dtype, vocab, bos, eos, max_positions)


@contextlib.contextmanager
def exact_mode() -> Iterator[None]:
    """Full float32 matmuls: no TF32, no reduced-precision reductions, for the duration."""
    import torch

    cuda_matmul = torch.backends.cuda.matmul
    saved = (
        torch.get_float32_matmul_precision(),
        cuda_matmul.allow_tf32,
        torch.backends.cudnn.allow_tf32,
        cuda_matmul.allow_fp16_reduced_precision_reduction,
        cuda_matmul.allow_bf16_reduced_precision_reduction,
    )
    torch.set_float32_matmul_precision("highest")
    cuda_matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    cuda_matmul.allow_fp16_reduced_precision_reduction = False
    cuda_matmul.allow_bf16_reduced_precision_reduction = False
    try:
        with torch.inference_mode():
            yield
    finally:
        torch.set_float32_matmul_precision(saved[0])
        cuda_matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved[1], saved[2]
        cuda_matmul.allow_fp16_reduced_precision_reduction = saved[3]
        cuda_matmul.allow_bf16_reduced_precision_reduction = saved[4]


# ---------------------------------------------------------------- bytes -> events

# An event is a token id (int), or bytes: an escape with those raw bytes (b"" breaks a segment).
Event = int | bytes
END = None  # the last event of every chunk (an escape with v = 0)

_PIECES = (re.compile(r"[^\n]*\n|[^\n]+"), re.compile(r"\s*\S+|\s+"), re.compile(r".", re.S))


def chunk_events(chunk: bytes, tokens: Tokens, vocab: int) -> list[Event]:
    """The events that code ``chunk``: tokens where text round-trips, raw bytes elsewhere."""
    events: list[Event] = []
    text = chunk.decode("utf-8", errors="surrogateescape")
    # invalid UTF-8 became lone surrogates U+DC80..U+DCFF: split them off as raw bytes
    for part in re.split(r"([\udc80-\udcff]+)", text):
        if not part:
            continue
        if "\udc80" <= part[0] <= "\udcff":
            _add_raw(events, part.encode("utf-8", errors="surrogateescape"))
        else:
            _add_text(events, part, tokens, vocab, 0)
    return events


def _round_trips(text: str, tokens: Tokens, vocab: int) -> list[int] | None:
    ids = tokens.encode(text)
    if len(ids) > len(text.encode()) or any(i >= vocab for i in ids):  # bounds the decoder's work
        return None
    try:
        return ids if tokens.decode(ids) == text else None
    except Exception:  # noqa: BLE001 - a tokenizer that cannot decode its own ids: not text
        return None


def _add_text(events: list[Event], text: str, tokens: Tokens, vocab: int, depth: int) -> None:
    if depth == 0:
        ids = _round_trips(text, tokens, vocab)
        if ids is not None:
            _add_segment(events, ids)
            return
    if depth == len(_PIECES):
        _add_raw(events, text.encode())
        return
    segment = ""
    for piece in _PIECES[depth].findall(text):
        if len(segment) + len(piece) <= SLOW_PATH_SEGMENT_CHARS and _round_trips(segment + piece, tokens, vocab):
            segment += piece
            continue
        if segment:
            _add_segment(events, _round_trips(segment, tokens, vocab))
            segment = ""
        if _round_trips(piece, tokens, vocab) is not None and len(piece) <= SLOW_PATH_SEGMENT_CHARS:
            segment = piece
        else:
            _add_text(events, piece, tokens, vocab, depth + 1)
    if segment:
        _add_segment(events, _round_trips(segment, tokens, vocab))


def _add_segment(events: list[Event], ids: list[int] | None) -> None:
    assert ids is not None
    if events and isinstance(events[-1], int):
        events.append(b"")  # two segments in a row: the decoder must decode them apart
    events.extend(ids)


def _add_raw(events: list[Event], raw: bytes) -> None:
    if events and isinstance(events[-1], bytes):
        events[-1] += raw
    else:
        events.append(raw)


# ---------------------------------------------------------------- the model, lock-step


class Lockstep:
    """The model over ``rows`` streams fed one token per row per step, all at the same position."""

    def __init__(self, loaded: LoadedModel, params: HFParams) -> None:
        self.loaded = loaded
        self.rows = params.rows
        self.window = params.window
        self.keep = params.window - params.stride  # tokens of context right after a slide
        self.history: list[list[int]] = [[loaded.bos] for _ in range(self.rows)]
        self.cache = None
        self.cache_len = 0
        self.cache_argument = _cache_argument(loaded.model)  # "cache" in transformers >= 5.2x

    def first(self) -> np.ndarray:
        return self._run([list(h) for h in self.history], fresh=True)

    def advance(self, fed: Sequence[int]) -> np.ndarray:
        """Feed one token per row; the scores for the next symbol of every row, (rows, vocab + 1)."""
        for history, token in zip(self.history, fed):
            history.append(token)
            del history[: -self.window]
        if self.cache_len + 1 > self.window:  # slide: rebuild the cache from the recent context
            context = [[self.loaded.bos] + h[-(self.keep - 1) :] for h in self.history]
            return self._run(context, fresh=True)
        return self._run([[t] for t in fed], fresh=False)

    def _run(self, ids: list[list[int]], fresh: bool) -> np.ndarray:
        import torch

        model = self.loaded.model
        device = torch_device(self.loaded.device)
        inputs = torch.tensor(ids, dtype=torch.long, device=device)  # (rows, T)
        cache = {self.cache_argument: None if fresh else self.cache}
        out = model(input_ids=inputs, use_cache=True, **cache)
        self.cache = out.get("cache", None) or out.get("past_key_values", None)
        self.cache_len = inputs.shape[1] if fresh else self.cache_len + 1
        logits = out.logits[:, -1, :].float()  # (rows, vocab)
        scores = torch.log_softmax(logits, dim=-1) * (LOG2_UNITS / math.log(2))
        scores = torch.clamp(scores, min=FLOOR_LOG2_SCORE).round().to(torch.int32).cpu().numpy()
        escape = np.full((self.rows, 1), ESCAPE_LOG2_SCORE, dtype=np.int32)
        return np.concatenate([scores, escape], axis=1)


def _cache_argument(model) -> str:
    import inspect

    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _table(scores: np.ndarray) -> np.ndarray:
    return frequency_table(scores, FREQ_TOTAL_BITS, log2_scores=True)


# ---------------------------------------------------------------- coding a batch


@dataclass
class RowEncoder:
    events: list[Event]
    state: np.ndarray
    out: np.ndarray
    step: int = 0
    ideal_bits: float = 0.0

    @property
    def done(self) -> bool:
        return self.step > len(self.events)

    def symbol(self, start: int, freq: int, total: int) -> None:
        rc.encode_symbol(self.state, self.out, start, freq, total)
        self.ideal_bits += math.log2(total / freq)

    def code(self, scores: np.ndarray, vocab: int, separator: int) -> int:
        """Code this row's next event with ``scores``; return the token to feed next."""
        freqs = _table(scores)
        total = 1 << FREQ_TOTAL_BITS
        event = self.events[self.step] if self.step < len(self.events) else END
        self.step += 1
        if isinstance(event, int):
            self.symbol(int(freqs[:event].sum()), int(freqs[event]), total)
            return event
        self.symbol(total - int(freqs[vocab]), int(freqs[vocab]), total)
        self.number(0 if event is END else len(event) + 1)
        for byte in event or b"":
            self.symbol(byte, 1, 256)
        return separator

    def number(self, v: int) -> None:
        """``v`` >= 0 as its bit length (uniform over 64), then its low bits (uniform)."""
        bits = v.bit_length()
        self.symbol(bits, 1, LENGTH_BITS_TOTAL)
        if bits > 1:
            self.symbol(v - (1 << (bits - 1)), 1, 1 << (bits - 1))


def encode_batch(chunks: Sequence[bytes], loaded: LoadedModel, params: HFParams) -> list[tuple[bytes | None, float]]:
    """(payload or None where it would not be smaller, ideal bits) of each chunk, rows 0, 1, ..."""
    if len(chunks) > params.rows:
        raise ValueError(f"{len(chunks)} chunks for {params.rows} rows")
    rows = []
    chunks = [bytes(chunk) for chunk in chunks]
    for chunk in chunks:
        state, out = rc.new_encoder(len(chunk) + 16)
        row = RowEncoder(chunk_events(chunk, loaded.tokens, loaded.vocab), state, out)
        row.number(len(row.events) + 1)  # the events to come, END included: bounds a decoder's work
        rows.append(row)
    with loaded.lock, exact_mode():
        model = Lockstep(loaded, params)
        scores = model.first()
        while not all(row.done for row in rows):
            fed = [loaded.separator] * params.rows
            for r, row in enumerate(rows):
                if not row.done:
                    fed[r] = row.code(scores[r], loaded.vocab, loaded.separator)
            if all(row.done for row in rows):
                break
            scores = model.advance(fed)
    results = []
    for r, (chunk, row) in enumerate(zip(chunks, rows)):
        n = rc.finish_encoder(row.state, row.out)
        head = bytes([r]) + xxhash.xxh32_intdigest(chunk).to_bytes(CHECK_BYTES, "little")
        payload = head + row.out[:n].tobytes() if n >= 0 else None
        results.append((payload if payload is not None and len(payload) < len(chunk) else None, row.ideal_bits))
    return results


class _Corrupt(Exception):
    pass


@dataclass
class RowDecoder:
    payload: np.ndarray
    raw_size: int
    state: np.ndarray
    out: bytearray = field(default_factory=bytearray)
    segment: list[int] = field(default_factory=list)
    events: int = 0  # decoded so far
    expected_events: int = 0  # as the stream says; an encoder never makes more than 2 per byte + 1
    done: bool = False

    def symbol(self, total: int) -> int:
        value = rc.decode_target(self.state, total)
        rc.decode_advance(self.state, self.payload, value, 1, total)
        return value

    def number(self) -> int:
        bits = self.symbol(LENGTH_BITS_TOTAL)
        if bits > 33:
            raise _Corrupt
        return bits if bits <= 1 else (1 << (bits - 1)) + self.symbol(1 << (bits - 1))

    def code(self, scores: np.ndarray, loaded: LoadedModel) -> int:
        """Decode this row's next event; return the token to feed next."""
        self.events += 1
        if self.events > self.expected_events:
            raise _Corrupt
        freqs = _table(scores)
        total = 1 << FREQ_TOTAL_BITS
        table = cumulative(freqs)
        s = rc.find_symbol(table, rc.decode_target(self.state, total))
        rc.decode_advance(self.state, self.payload, int(table[s]), int(freqs[s]), total)
        if s < loaded.vocab:
            self.segment.append(s)
            if len(self.segment) > self.raw_size - len(self.out):  # an encoder never codes more tokens than bytes
                raise _Corrupt
            return s
        self.flush_segment(loaded.tokens)
        v = self.number()
        if len(self.out) + max(v - 1, 0) > self.raw_size:
            raise _Corrupt
        if v == 0:
            if self.events != self.expected_events:
                raise _Corrupt
            self.done = True
        for _ in range(v - 1):
            self.out.append(self.symbol(256))
        return loaded.separator

    def flush_segment(self, tokens: Tokens) -> None:
        if not self.segment:
            return
        try:
            text = tokens.decode(self.segment).encode("utf-8")
        except Exception:  # noqa: BLE001 - ids no encoder made
            raise _Corrupt from None
        self.segment = []
        self.out += text
        if len(self.out) > self.raw_size:
            raise _Corrupt


def decode_batch(frames: Sequence[tuple[bytes, int]], loaded: LoadedModel, params: HFParams) -> list[bytes]:
    """The chunks of (payload, raw size) frames; each frame goes back into the row it was coded in."""
    frames = [(bytes(payload), raw_size) for payload, raw_size in frames]
    passes: list[dict[int, int]] = []  # row -> index of the frame, one frame per row per pass
    for i, (payload, _) in enumerate(frames):
        if len(payload) < 1 + CHECK_BYTES or payload[0] >= params.rows:
            raise FormatError("corrupt .arz file: hf frame too short or in no row")
        slot = next((p for p in passes if payload[0] not in p), None)
        if slot is None:
            slot = {}
            passes.append(slot)
        slot[payload[0]] = i
    chunks: list[bytes] = [b""] * len(frames)
    for slot in passes:
        try:
            rows = {r: _row_decoder(*frames[i]) for r, i in slot.items()}
            _decode_rows(rows, loaded, params)
        except _Corrupt:
            raise ChecksumError(_decode_failure(params)) from None
        for r, i in slot.items():
            chunk = bytes(rows[r].out)
            check = int.from_bytes(frames[i][0][1 : 1 + CHECK_BYTES], "little")
            if len(chunk) != frames[i][1] or xxhash.xxh32_intdigest(chunk) != check:
                raise ChecksumError(_decode_failure(params))
            chunks[i] = chunk
    return chunks


def _row_decoder(payload: bytes, raw_size: int) -> RowDecoder:
    body = np.frombuffer(payload[1 + CHECK_BYTES :], dtype=np.uint8)
    row = RowDecoder(body, raw_size, rc.new_decoder(body))
    row.expected_events = row.number()
    if not 1 <= row.expected_events <= 2 * raw_size + 1:
        raise _Corrupt
    return row


def _decode_rows(rows: dict[int, RowDecoder], loaded: LoadedModel, params: HFParams) -> None:
    with loaded.lock, exact_mode():
        model = Lockstep(loaded, params)
        scores = model.first()
        while True:
            fed = [loaded.separator] * params.rows
            for r, row in rows.items():
                if not row.done:
                    fed[r] = row.code(scores[r], loaded)
            if all(row.done for row in rows.values()):
                return
            scores = model.advance(fed)


def _decode_failure(params: HFParams) -> str:
    here = HFParams(params.window, params.stride, params.rows, params.dtype, params.device, stack_info(params.device))
    if here.stack == params.stack:
        return "corrupt .arz file: an hf chunk fails its checksum (same software stack as the encoder's)"
    return (
        "an hf chunk decodes wrong (fails its checksum): this software stack differs from the encoder's "
        f"(encoded with {describe_stack(params)}; here {describe_stack(here)}); "
        "decode it on the encoder's stack"
    )


_WARNED: set[str] = set()
log = logging.getLogger("arzip.hf")


def check_stack(params: HFParams) -> None:
    """Warn once per stack when this machine's software stack is not the one that encoded the file."""
    here = stack_info(params.device)
    if here == params.stack:
        return
    keys = sorted(set(here) | set(params.stack))
    differences = ", ".join(f"{k} {params.stack.get(k)} -> {here.get(k)}" for k in keys if here.get(k) != params.stack.get(k))
    if differences not in _WARNED:
        _WARNED.add(differences)
        log.warning(
            "arzip: warning: decoding an hf file on another software stack (%s): "
            "it decodes exactly or is reported as not decodable",
            differences,
        )
