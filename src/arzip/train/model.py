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

from ..models.nn.features import N_FEATURES, N_ROWS


@dataclass(frozen=True)
class NetConfig:
    rows: int = N_ROWS  # first-layer table rows (positions x bytes + hashed contexts)
    features: int = N_FEATURES  # rows summed per position
    hidden1: int = 256  # width of the summed-table layer
    hidden2: int = 512  # width of the second layer

    def to_dict(self) -> dict:
        return asdict(self)


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
