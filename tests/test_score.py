"""``arzip score``: bits per byte under any codec; a model trained on a text scores it lower."""

from __future__ import annotations

import io
import json

import pytest

from arzip.cli import Streams, main
from arzip.score import score_bytes

TEXT = b"It was the best of times, it was the worst of times, it was the age of wisdom.\n" * 30


def run_cli(*argv: str):
    out, err = io.BytesIO(), io.StringIO()
    status = main(list(argv), Streams(io.BytesIO(b""), out, err))
    return status, out.getvalue().decode(), err.getvalue()


@pytest.mark.parametrize("codec", ["zstd", "lzma", "store", "cm"])
def test_classic_and_cm_scores_are_actual_sizes_without_an_ideal(codec):
    score = score_bytes("t.txt", TEXT, codec)
    assert score.raw_bytes == len(TEXT) and score.ideal_bits is None
    assert score.bits_per_byte == pytest.approx(8 * score.compressed_bytes / len(TEXT))
    assert (score.bits_per_byte > 8) == (codec == "store")


def test_cli_prints_a_line_per_file_and_json(tmp_path):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_bytes(TEXT)
    b.write_bytes(b"")
    status, out, _ = run_cli("score", "-m", "zstd", str(a), str(b))
    lines = out.splitlines()
    assert status == 0 and len(lines) == 2
    assert lines[0].startswith("a.txt\tn/a bpb ideal\t") and "bpb actual" in lines[0]
    status, out, _ = run_cli("score", "-m", "lzma", "--json", str(a))
    (row,) = json.loads(out)
    assert status == 0 and row["file"] == "a.txt" and 0 < row["bits_per_byte"] < 1 and row["ideal_bits_per_byte"] is None


def test_cli_errors_are_one_line(tmp_path):
    status, _, err = run_cli("score", "-m", "zstd", str(tmp_path / "missing"))
    assert status == 1 and "no such file" in err
    status, _, err = run_cli("score", "-m", "zstd", "--device", "cpu", str(tmp_path))
    assert status == 1 and "hf models only" in err


def _train(directory, text: bytes, steps: int) -> None:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(directory)
    model = AutoModelForCausalLM.from_pretrained(directory)
    ids = torch.tensor(tokenizer(text.decode(), add_special_tokens=False)["input_ids"])
    length = 63
    batch = torch.stack([ids[i : i + length] for i in range(0, len(ids) - length, length)])
    bos = torch.full((batch.shape[0], 1), tokenizer.bos_token_id)
    batch = torch.cat([bos, batch], dim=1)
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=batch, labels=batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.save_pretrained(directory)


def test_a_model_trained_on_a_text_scores_it_lower(tmp_path):
    torch = pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from .test_hf import build_model

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny model: one thread is fastest, and does not crawl on a busy machine
    try:
        _trained_scores_lower(tmp_path, build_model)
    finally:
        torch.set_num_threads(threads)


def _trained_scores_lower(tmp_path, build_model):

    random_dir = build_model(tmp_path / "random", "gpt2")
    trained_dir = build_model(tmp_path / "trained", "gpt2")
    _train(trained_dir, TEXT, steps=12)
    random_score = score_bytes("t", TEXT, f"hf:{random_dir}", 2)
    trained_score = score_bytes("t", TEXT, f"hf:{trained_dir}", 2)
    assert 0 < trained_score.ideal_bits_per_byte < random_score.ideal_bits_per_byte
    assert trained_score.ideal_bits_per_byte < 0.75 * random_score.ideal_bits_per_byte
    # the actual size pays the container and the coder's flush on top of the ideal length
    assert trained_score.bits_per_byte > trained_score.ideal_bits_per_byte
    status, out, _ = run_cli("score", "-m", f"hf:{trained_dir}", "--level", "2", "--json", str(_file(tmp_path)))
    (row,) = json.loads(out)
    assert status == 0 and row["ideal_bits_per_byte"] == pytest.approx(trained_score.ideal_bits_per_byte, rel=1e-6)


def _file(tmp_path):
    path = tmp_path / "t"
    path.write_bytes(TEXT)
    return path
