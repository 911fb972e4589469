"""Shared fixtures: the benchmark corpus and the edge-case inputs every codec must survive."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

CORPUS = Path(os.environ.get("ARZIP_CORPUS", Path(__file__).resolve().parents[2] / "shared" / "corpus"))
CORPUS_FILES = sorted(p for p in CORPUS.glob("*") if p.is_file() and p.name != "README.md") if CORPUS.is_dir() else []


def _repetitive(n: int) -> bytes:
    unit = b"the quick brown fox jumps over the lazy dog 0123456789\n"
    return (unit * (n // len(unit) + 1))[:n]


EDGE_INPUTS = {
    "empty": b"",
    "one_byte": b"\x00",
    "all_bytes": bytes(range(256)),
    "random_1mb": np.random.default_rng(20261128).bytes(1 << 20),
    "repetitive_1mb": _repetitive(1 << 20),
}


def corpus_bytes(name: str) -> bytes:
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"corpus file {path} not available")
    return path.read_bytes()


@pytest.fixture(params=[p.name for p in CORPUS_FILES] or ["missing"])
def corpus_file(request) -> tuple[str, bytes]:
    return request.param, corpus_bytes(request.param)
