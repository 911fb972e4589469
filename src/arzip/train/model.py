"""The built-in network in PyTorch, for training only (inference is integer: arzip.models.nn).

What it does: defines :class:`ByteMLP`: the rows chosen by the features of
``arzip.models.nn.features`` are summed (one table, one row per feature, so the
first layer is a lookup), then two ReLU layers and a 256-way output. Every layer
is a shape the integer engine reproduces exactly after int8 quantisation.
What it does not do: quantise (``arzip.train.export``) or loop over data
(``arzip.train.trainer``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn

from ..models.nn.features import FEATURE_SETS, LATEST, N_POSITIONS, POSITION_ROWS


@dataclass(frozen=True)
class NetConfig:
    hidden1: int = 256  # width of the summed-table layer
    hidden2: int = 256  # width of the second layer
    feature_set: int = LATEST  # version of arzip.models.nn.features' feature set

    @property
    def rows(self) -> int:  # first-layer table rows (positions x bytes + hashed contexts)
        return FEATURE_SETS[self.feature_set].n_rows

    @property
    def features(self) -> int:  # rows summed per position
        return FEATURE_SETS[self.feature_set].n_features

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, saved: dict) -> NetConfig:
        """Also reads the records of v1 checkpoints (rows and features, no feature_set)."""
        return cls(saved["hidden1"], saved["hidden2"], saved.get("feature_set", 1))


def grow_table(table: torch.Tensor, old: int, new: int) -> torch.Tensor:
    """The first-layer table of feature set ``old`` laid out for set ``new`` with the same
    function: position rows copied, a hashed feature with twice the rows gets each old row
    twice (its buckets are the old ones split by one more hash bit), new features zero."""
    before, after = FEATURE_SETS[old], FEATURE_SETS[new]
    out = torch.zeros(after.n_rows, table.shape[1], dtype=table.dtype)
    positions = N_POSITIONS * POSITION_ROWS
    out[:positions] = table[:positions]
    src, dst = positions, positions
    for k, bits in enumerate(after.hash_bits):
        if k < len(before.hash_bits):
            old_bits = before.hash_bits[k]
            if bits < old_bits:
                raise ValueError("a feature set can only grow")
            index = torch.arange(1 << bits) >> (bits - old_bits)
            out[dst:dst + (1 << bits)] = table[src + index]
            src += 1 << old_bits
        dst += 1 << bits
    return out


class ByteMLP(nn.Module):
    def __init__(self, config: NetConfig) -> None:
        super().__init__()
        self.config = config
        self.table = nn.EmbeddingBag(config.rows, config.hidden1, mode="sum", sparse=True)
        nn.init.normal_(self.table.weight, std=0.5 / config.features ** 0.5)
        self.bias1 = nn.Parameter(torch.zeros(config.hidden1))
        self.layer2 = nn.Linear(config.hidden1, config.hidden2)
        self.layer3 = nn.Linear(config.hidden2, 256)

    def forward(self, rows: torch.Tensor) -> torch.Tensor:
        """rows (B, F) int64 -> next-byte logits (B, 256) in nats."""
        a1 = torch.relu(self.table(rows) + self.bias1)  # (B, H1)
        a2 = torch.relu(self.layer2(a1))  # (B, H2)
        return self.layer3(a2)  # (B, 256)

    def activations(self, rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The two hidden activations (for calibrating the integer scales)."""
        a1 = torch.relu(self.table(rows) + self.bias1)
        return a1, torch.relu(self.layer2(a1))
