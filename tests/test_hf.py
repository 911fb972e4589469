"""The hf codec with tiny random-weight models made here: exact round trips, provenance, stacks.

No downloads: a GPT-2 and a Llama-architecture model of a few hundred thousand
parameters are built from configs, with BPE tokenizers trained on the spot
(a byte-level one, and a Metaspace one with NFKC and an unknown token, which
does not round-trip everything and so exercises the raw-byte escapes).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import arzip  # noqa: E402
from arzip.cli import Streams, main  # noqa: E402
from arzip.errors import ChecksumError, ExitCode, ModelError, UsageError  # noqa: E402
from arzip.models import hf  # noqa: E402

SENTENCES = [
    "Alice was beginning to get very tired of sitting by her sister on the bank. ",
    "The quick brown fox jumps over the lazy dog, and the dog does not mind. ",
    "So she was considering in her own mind whether the pleasure of making a daisy-chain was worth it. ",
    "There was nothing so very remarkable in that; nor did Alice think it so very much out of the way.\n",
]
ENGLISH = "".join(SENTENCES[(i * 7) % 4] for i in range(24)).encode()
CODE = b"".join(
    f"def f{i}(x, y={i}):\n    if x > y:\n        return x * {i} + y\n    return [v for v in range(y)]\n\n".encode()
    for i in range(12)
)
INPUTS = {
    "empty": b"",
    "one_byte": b"a",
    "english": ENGLISH,
    "code": CODE,
    "random": np.random.default_rng(5).bytes(700),
    "invalid_utf8": ENGLISH[:300] + b"\xff\xfe\xc3(\xed\xa0\x80 caf\xc3\xa9 \xe2\x82" + ENGLISH[:200] + b"\x80",
    "unicode": "naïve café ﬁsh 😀 ẞ Ω ① \u0301e <|endoftext|> tabs\tand\r\nCRLF\n".encode() * 4,
}


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models run fastest on one thread; on a busy 2-core machine two spin-waiting threads crawl."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---------------------------------------------------------------- tiny models


def train_tokenizer(kind: str, vocab_size: int = 400):
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    text = [s for s in SENTENCES] + [CODE.decode()]
    if kind == "bytelevel":  # GPT-2 style: every byte of valid UTF-8 has a token
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        alphabet = pre_tokenizers.ByteLevel.alphabet()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, initial_alphabet=alphabet, special_tokens=["<|endoftext|>"], show_progress=False
        )
        tok.train_from_iterator(text, trainer)
        return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<|endoftext|>", eos_token="<|endoftext|>")
    # sentencepiece style, lossy on purpose: NFKC, unknown characters, metaspace
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<unk>", "<s>", "</s>"], show_progress=False)
    tok.train_from_iterator(text, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def build_model(directory: Path, arch: str, seed: int = 0) -> Path:
    from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM

    tokenizer = train_tokenizer("bytelevel" if arch == "gpt2" else "metaspace")
    vocab = len(tokenizer)
    torch.manual_seed(seed)
    if arch == "gpt2":
        config = GPT2Config(
            n_layer=2, n_embd=96, n_head=2, vocab_size=vocab, n_positions=64, bos_token_id=0, eos_token_id=0
        )
        model = GPT2LMHeadModel(config)
    else:
        config = LlamaConfig(
            vocab_size=vocab,
            hidden_size=96,
            intermediate_size=192,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=1,
            max_position_embeddings=64,
            bos_token_id=1,
            eos_token_id=2,
        )
        model = LlamaForCausalLM(config)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


@pytest.fixture(scope="module", params=["gpt2", "llama"])
def model_dir(request, tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp(request.param), request.param)


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory) -> Path:
    return build_model(tmp_path_factory.mktemp("gpt2"), "gpt2")


def run_cli(*argv: str, stdin: bytes = b""):
    out, err = io.BytesIO(), io.StringIO()
    status = main(list(argv), Streams(io.BytesIO(stdin), out, err))
    return status, out.getvalue(), err.getvalue()


# ---------------------------------------------------------------- round trips


@pytest.mark.parametrize("kind", list(INPUTS))
def test_round_trip(model_dir, kind):
    data = INPUTS[kind]
    blob = arzip.compress(data, f"hf:{model_dir}", 1)
    assert arzip.decompress(blob) == data


def test_text_is_coded_by_the_model_and_beats_storing(model_dir):
    blob = arzip.compress(ENGLISH, f"hf:{model_dir}", 1)
    assert len(blob) < len(arzip.compress(ENGLISH, "store"))


def test_input_longer_than_the_window_at_a_larger_level(gpt2_dir):
    data = ENGLISH[:1000]  # one stream of ~400 tokens through a 64-token window
    blob = arzip.compress(data, f"hf:{gpt2_dir}", 2)
    assert arzip.decompress(blob) == data


def test_events_round_trip_lossy_tokenizers(tmp_path):
    directory = build_model(tmp_path, "llama")
    loaded = hf.load_model(f"hf:{directory}")
    data = INPUTS["unicode"] + INPUTS["invalid_utf8"]
    events = hf.chunk_events(data, loaded.tokens, loaded.vocab)
    assert any(isinstance(e, bytes) and e for e in events)  # the ﬁ ligature and the emoji went raw
    assert any(isinstance(e, int) for e in events)


def test_any_split_of_the_frames_decodes_the_same(gpt2_dir):
    data = ENGLISH + CODE  # several streams in one batch of rows
    blob = arzip.compress(data, f"hf:{gpt2_dir}", 1)
    d = arzip.Decompressor()
    pieces = [d.decompress(blob[i : i + 97]) for i in range(0, len(blob), 97)]  # partial batches
    assert b"".join(pieces) == data and d.eof


def test_frames_of_two_batches_decoded_together_keep_their_rows(gpt2_dir):
    codec = arzip.codecs.get_codec("hf")
    data = (ENGLISH + CODE)[: 8 * 512]  # 8 streams of 512 bytes: two batches of 4 rows
    codec.options = hf.HFOptions(rows=4)
    try:
        blob = arzip.compress(data, f"hf:{gpt2_dir}", 1)
    finally:
        codec.options = None
    assert arzip.decompress(blob) == data  # decoded 8 frames at a time: rows 0-3 twice, in two passes


def test_compression_does_not_depend_on_threads(gpt2_dir):
    data = ENGLISH[:1500]
    assert arzip.compress(data, f"hf:{gpt2_dir}", 1) == arzip.compress(data, f"hf:{gpt2_dir}", 1, threads=2)


# ---------------------------------------------------------------- provenance


def test_header_records_the_model_and_the_stack(gpt2_dir):
    blob = arzip.compress(b"hello world", f"hf:{gpt2_dir}", 2)
    d = arzip.Decompressor()
    d.decompress(blob)
    header = d.header
    assert header.codec == "hf" and header.model_ref == f"hf:{gpt2_dir}"
    assert header.model_hash == hf.model_hash(gpt2_dir) and len(header.model_hash) == 32
    params = hf.HFParams.from_bytes(header.params)
    assert (params.window, params.stride, params.rows) == (64, 16, 8)
    assert params.dtype == "float32" and params.device == "cpu"
    assert params.stack["torch"] == torch.__version__ and "transformers" in params.stack


def test_other_weights_are_refused(gpt2_dir, tmp_path):
    blob = arzip.compress(ENGLISH[:400], f"hf:{gpt2_dir}", 1)
    other = build_model(tmp_path / "other", "gpt2", seed=1)
    with pytest.raises(ModelError, match="not the model this file was compressed with"):
        arzip.decompress(blob, model=f"hf:{other}")
    packed = tmp_path / "a.arz"
    packed.write_bytes(blob)
    status, _, err = run_cli("-d", "-c", "-m", f"hf:{other}", str(packed))
    assert status == ExitCode.MODEL and "not the model" in err and "Traceback" not in err


def test_a_copy_of_the_model_elsewhere_decodes(gpt2_dir, tmp_path):
    blob = arzip.compress(ENGLISH[:400], f"hf:{gpt2_dir}", 1)
    copy = tmp_path / "copy"
    shutil.copytree(gpt2_dir, copy)
    packed = tmp_path / "a.arz"
    packed.write_bytes(blob)
    status, out, _ = run_cli("-d", "-c", "-m", f"hf:{copy}", str(packed))
    assert status == 0 and out == ENGLISH[:400]
    status, out, _ = run_cli("-d", "-c", str(packed))  # no -m: the header's reference
    assert status == 0 and out == ENGLISH[:400]


def test_a_missing_model_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelError, match="not found: no directory .*never downloads"):
        arzip.compress(b"x", f"hf:{tmp_path / 'nope'}")
    with pytest.raises(UsageError, match="needs a model"):
        arzip.compress(b"x", "hf")


def test_without_the_extra_the_error_says_what_to_install(gpt2_dir, monkeypatch):
    blob = arzip.compress(ENGLISH[:500], f"hf:{gpt2_dir}", 1)
    monkeypatch.setattr(type(arzip.codecs.get_codec("hf")), "available", lambda self: False)
    with pytest.raises(ModelError, match=r"pip install 'arzip\[hf\]'"):
        arzip.compress(b"x", f"hf:{gpt2_dir}")
    with pytest.raises(ModelError, match="needs torch and transformers"):
        arzip.decompress(blob)


def test_cli_compresses_and_decompresses_with_hf(gpt2_dir, tmp_path):
    path = tmp_path / "t.txt"
    path.write_bytes(CODE)
    assert run_cli("-1", "-m", f"hf:{gpt2_dir}", str(path))[0] == 0
    path.unlink()
    assert run_cli("-d", str(tmp_path / "t.txt.arz"))[0] == 0
    assert path.read_bytes() == CODE


# ---------------------------------------------------------------- stacks and wrong decodes


def test_another_stack_warns(gpt2_dir, monkeypatch, caplog):
    real = hf.stack_info
    monkeypatch.setattr(hf, "stack_info", lambda device: {**real(device), "torch": "0.0-other"})
    blob = arzip.compress(ENGLISH[:300], f"hf:{gpt2_dir}", 1)
    monkeypatch.setattr(hf, "stack_info", real)
    with caplog.at_level("WARNING", logger="arzip.hf"):
        assert arzip.decompress(blob) == ENGLISH[:300]
    assert "another software stack (torch 0.0-other -> " in caplog.text


def test_probabilities_that_differ_are_caught_never_returned(gpt2_dir, monkeypatch):
    blob = arzip.compress(ENGLISH[:600], f"hf:{gpt2_dir}", 1)
    original = hf.Lockstep._run

    def nudged(self, ids, fresh):  # the decoder's stack computes other last bits
        scores = original(self, ids, fresh)
        scores[:, 3::7] += 40
        return scores

    monkeypatch.setattr(hf.Lockstep, "_run", nudged)
    with pytest.raises(ChecksumError, match="checksum"):
        arzip.decompress(blob)


def test_decoding_with_other_cpu_kernels_is_exact_or_a_clear_error(gpt2_dir, tmp_path):
    data = ENGLISH[:300] + b"\xff" + CODE[:100]
    packed = tmp_path / "k.arz"
    packed.write_bytes(arzip.compress(data, f"hf:{gpt2_dir}", 1))
    src = Path(arzip.__file__).resolve().parents[1]
    env = {**os.environ, "ATEN_CPU_CAPABILITY": "default", "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "arzip", "-d", "-c", str(packed)], env=env, capture_output=True, timeout=120
    )
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr
    if done.returncode == 0:
        assert done.stdout == data
    else:
        assert done.returncode == ExitCode.CORRUPT and "software stack differs" in stderr
        assert done.stdout == b""


def test_import_arzip_does_not_import_torch():
    src = Path(arzip.__file__).resolve().parents[1]
    code = "import sys, arzip, arzip.cli; arzip.decompress(arzip.compress(b'x', 'zlib')); print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(src)}, capture_output=True)
    assert done.stdout.strip() == b"False", done.stderr


def test_params_parse_rejects_nonsense():
    with pytest.raises(arzip.ArzipError):
        hf.HFParams.from_bytes(b"{not json")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good = hf.HFParams(64, 16, 8, "float32", "cpu", {"torch": "x"})
        assert hf.HFParams.from_bytes(good.to_bytes()) == good
