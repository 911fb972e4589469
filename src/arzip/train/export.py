"""int8 export of a trained :class:`~arzip.train.model.ByteMLP` to an ``.arzm`` file.

What it does: post-training quantisation with calibration. Each layer's weights
become int8 with one scale per output unit; each hidden activation becomes an
unsigned byte with one scale per unit (its 99.99th percentile on calibration
rows maps to 255), folded into the next layer's weights before they are
quantised. Biases and scales become integer multipliers and offsets applied with
a right shift (``arzip.models.nn.network`` documents the arithmetic).
What it does not do: run integer inference.
"""

from __future__ import annotations

import math

import numpy as np

from ..models.nn import modelfile
from ..models.nn.features import FEATURE_SETS
from ..models.nn.network import ACT_MAX, SHIFT, W_MAX

LOG2_UNITS_PER_NAT = 256 / math.log(2)  # scores are log2 in units of 1/256 bit


def _per_column_int8(weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(int8 weights, float scale per column) of a (K, N) matrix."""
    scale = np.maximum(np.abs(weight).max(axis=0), 1e-8) / W_MAX
    return np.clip(np.rint(weight / scale), -W_MAX, W_MAX).astype(np.int8), scale


def _fixed(values: np.ndarray) -> np.ndarray:
    return np.rint(values * (1 << SHIFT)).astype(np.int64)


def export_model(model, calibration_rows: np.ndarray, path, info: dict) -> bytes:
    import torch

    with torch.no_grad():
        a1, a2 = model.activations(torch.from_numpy(calibration_rows).long())
        act1 = np.maximum(np.quantile(a1.numpy(), 0.9999, axis=0), 1e-3) / ACT_MAX  # (H1,)
        act2 = np.maximum(np.quantile(a2.numpy(), 0.9999, axis=0), 1e-3) / ACT_MAX  # (H2,)
        table = model.table.weight.numpy().astype(np.float64)  # (R, H1)
        bias1 = model.bias1.numpy().astype(np.float64)
        w2 = model.layer2.weight.numpy().T.astype(np.float64)  # (H1, H2)
        b2 = model.layer2.bias.numpy().astype(np.float64)
        w3 = model.layer3.weight.numpy().T.astype(np.float64)  # (H2, 256)
        b3 = model.layer3.bias.numpy().astype(np.float64)
    table_q, s1 = _per_column_int8(table)
    w2_q, s2 = _per_column_int8(w2 * act1[:, None])
    w3_q, s3 = _per_column_int8(w3 * act2[:, None])
    arrays = {
        "table": table_q,
        "mul1": _fixed(s1 / act1), "add1": _fixed(bias1 / act1) + (1 << (SHIFT - 1)),
        "w2": w2_q,
        "mul2": _fixed(s2 / act2), "add2": _fixed(b2 / act2) + (1 << (SHIFT - 1)),
        "w3": w3_q,
        "mul3": _fixed(s3 * LOG2_UNITS_PER_NAT), "add3": _fixed(b3 * LOG2_UNITS_PER_NAT) + (1 << (SHIFT - 1)),
    }
    meta = {"kind": "byte-mlp", "net": model.config.to_dict(), "shift": SHIFT, "act_max": ACT_MAX,
            "w_max": W_MAX, "features": FEATURE_SETS[model.config.feature_set].name, "info": info}
    return modelfile.save(path, meta, arrays)
