"""Training end to end on a tiny corpus (seconds): arzip train, resume, the model it writes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")

import arzip  # noqa: E402
from arzip.cli import main  # noqa: E402
from arzip.cli.compress import Streams  # noqa: E402
from arzip.models.nn.network import load_network  # noqa: E402

TEXT = (Path(__file__).parents[1] / "README.md").read_bytes()


def _streams() -> Streams:
    return Streams(io.BytesIO(), io.BytesIO(), io.StringIO())


def test_train_command_resume_and_compress(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(TEXT * 2)
    model = tmp_path / "tiny.arzm"
    args = ["train", str(corpus), "-o", str(model), "--steps", "12", "--batch", "64", "--hidden", "16", "24",
            "--eval-every", "6", "-q", "-T", "1"]
    streams = _streams()
    assert main(args, streams) == 0, streams.stderr.getvalue()
    log = streams.stderr.getvalue()
    assert "validation" in log and "int8, as coded" in log
    network = load_network(model)
    info = network.meta["info"]
    assert info["steps"] == 12 and np.isfinite(info["int_valid_bpb"])
    # the checkpoint is complete: the same command resumes at the end and changes nothing
    digest = network.digest
    streams = _streams()
    assert main(args, streams) == 0
    assert "resuming" in streams.stderr.getvalue()
    assert load_network(model).digest == digest
    data = TEXT[:2000]
    assert arzip.decompress(arzip.compress(data, f"nn:{model}", 1)) == data


def test_train_refuses_other_options_on_resume(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_bytes(TEXT)
    model = tmp_path / "m.arzm"
    base = ["train", str(corpus), "-o", str(model), "--batch", "32", "--hidden", "16", "16", "-q", "-T", "1"]
    assert main(base + ["--steps", "3"], _streams()) == 0
    streams = _streams()
    assert main(base + ["--steps", "4", "--lr", "0.01"], streams) == 1
    assert "other options" in streams.stderr.getvalue()


def test_grown_feature_set_starts_as_the_same_function():
    import torch

    from arzip.models.nn.features import FEATURE_SETS, features_range
    from arzip.train.model import ByteMLP, NetConfig, grow_table

    torch.manual_seed(0)
    small = ByteMLP(NetConfig(16, 24, feature_set=1))
    large = ByteMLP(NetConfig(16, 24, feature_set=2))
    weights = dict(small.state_dict())
    weights["table.weight"] = grow_table(weights["table.weight"], 1, 2)
    large.load_state_dict(weights)
    data = np.frombuffer(TEXT[:3000], np.uint8).copy()
    with torch.no_grad():
        before = small(torch.from_numpy(features_range(data, 0, len(data), FEATURE_SETS[1].n_features)).long())
        after = large(torch.from_numpy(features_range(data, 0, len(data), FEATURE_SETS[2].n_features)).long())
    assert torch.allclose(before, after, atol=1e-5)


def test_quotations_of_a_dictionary_entry():
    """gcide's indented quotations come out as paragraphs, without their attributions;
    bracketed notes, short or non-prose blocks are left out."""
    from arzip.train.corpus import quotations

    entry = "\n".join([
        "Abide \\A*bide\"\\, v. i.",
        "   1. To wait; to pause; to delay.",
        "            Abide with me, fast falls the eventide;",
        "            the darkness deepens. --Lyte.",
        "",
        "            [1913 Webster]",
        "            Too short.",
        "            12345 67890 12345 67890 12345 67890",
    ])
    assert list(quotations(entry)) == ["Abide with me, fast falls the eventide;\nthe darkness deepens."]
