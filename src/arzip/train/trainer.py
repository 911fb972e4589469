"""Training the built-in network: ``arzip train CORPUS... -o model.arzm``.

What it does: samples random positions of the training bytes (a few of them as
if a chunk started just before, as chunks do when coding), computes their
features with the very function the coder uses, and trains
:class:`~arzip.train.model.ByteMLP` with Adam and a cosine learning rate. It
prints progress and validation bits per byte, saves a checkpoint every few
minutes (``-o`` + ``.ckpt``; a rerun of the same command resumes from it), and
at the end exports the int8 model and measures the integer model's own
validation bits per byte, which is what compression gets.
What it does not do: integer inference (``arzip.models.nn``).
The one idea: a run is a pure function of (corpus, options, seed).
"""

from __future__ import annotations

import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..models.nn.features import LATEST, features_at_positions, features_range

START_SHARE = 1 / 64  # samples that see a chunk start within their window


@dataclass
class TrainConfig:
    steps: int = 3500  # optimiser steps (the shipped model's first stage)
    batch: int = 4096  # positions per step
    lr: float = 4e-3  # peak Adam learning rate (cosine decay to 5%, 200 warm-up steps)
    valid_bytes: int = 262144  # validation bytes scored (from the start of the validation text)
    valid_share: float = 0.02  # share of the corpus held out when no validation file is given
    eval_every: int = 500  # steps between validation scores
    checkpoint_seconds: float = 300.0  # seconds between checkpoints
    seed: int = 1
    threads: int = 2
    hidden1: int = 256
    hidden2: int = 256
    features: int = LATEST  # feature set (arzip.models.nn.features)
    init: str = ""  # a checkpoint whose weights start this run (fine-tuning, or a second schedule)
    extra: dict = field(default_factory=dict)


def load_corpus(paths: list[str | Path], valid: str | Path | None, valid_share: float) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid) bytes; without a validation file the last share of each file is held out."""
    train_parts, valid_parts = [], []
    for path in paths:
        data = np.fromfile(path, dtype=np.uint8)
        if valid is None:
            cut = len(data) - int(len(data) * valid_share)
            train_parts.append(data[:cut])
            valid_parts.append(data[cut:])
        else:
            train_parts.append(data)
    if valid is not None:
        valid_parts = [np.fromfile(valid, dtype=np.uint8)]
    train = np.concatenate(train_parts) if train_parts else np.zeros(0, np.uint8)
    held = np.concatenate(valid_parts) if valid_parts else np.zeros(0, np.uint8)
    if len(train) < 2:
        raise ValueError("the training corpus is empty")
    if len(held) < 2:
        held = train[-min(len(train), 65536):]
    return train, held


def _batch_rows(data: np.ndarray, rng: np.random.Generator, batch: int,
                n_features: int) -> tuple[np.ndarray, np.ndarray]:
    positions = rng.integers(1, len(data), size=batch, dtype=np.int64)
    starts = np.zeros(batch, dtype=np.int64)
    near = rng.random(batch) < START_SHARE
    starts[near] = positions[near] - rng.integers(0, 16, size=int(near.sum()))
    return features_at_positions(data, positions, starts, n_features), data[positions]


def float_bpb(model, data: np.ndarray) -> float:
    """Bits per byte of the float model on ``data`` coded as one chunk."""
    import torch

    rows = features_range(data, 0, len(data), model.config.features)
    total = 0.0
    with torch.no_grad():
        for lo in range(0, len(data), 8192):
            logits = model(torch.from_numpy(rows[lo:lo + 8192]).long())
            target = torch.from_numpy(data[lo:lo + 8192].astype(np.int64))
            total += torch.nn.functional.cross_entropy(logits, target, reduction="sum").item()
    return total / len(data) / math.log(2)


def train(corpus: list[str | Path], output: str | Path, config: TrainConfig, valid: str | Path | None = None,
          log=sys.stderr, progress: bool = True) -> dict:
    """Train, checkpointing to ``output + '.ckpt'``; export the int8 model to ``output``."""
    import torch

    from .export import export_model
    from .model import ByteMLP, NetConfig, grow_table

    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    train_data, valid_data = load_corpus(corpus, valid, config.valid_share)
    valid_data = valid_data[:config.valid_bytes]
    net = NetConfig(hidden1=config.hidden1, hidden2=config.hidden2, feature_set=config.features)
    model = ByteMLP(net)
    # the table's gradient touches only the rows of the batch: sparse Adam for it
    dense = [p for name, p in model.named_parameters() if name != "table.weight"]
    optimisers = [torch.optim.Adam(dense, lr=config.lr), torch.optim.SparseAdam([model.table.weight], lr=config.lr)]
    checkpoint = Path(str(output) + ".ckpt")
    step, seconds, history = 0, 0.0, []
    if config.init:
        start = torch.load(config.init, weights_only=False)
        before = NetConfig.from_dict(start["net"])
        if (before.hidden1, before.hidden2) != (net.hidden1, net.hidden2):
            raise ValueError(f"{config.init} holds a network of another shape")
        weights = dict(start["model"])
        if before.feature_set != net.feature_set:  # a larger feature set starts as the same function
            weights["table.weight"] = grow_table(weights["table.weight"], before.feature_set, net.feature_set)
        model.load_state_dict(weights)
    if checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        if state["config"] != asdict(config) or state["net"] != net.to_dict():
            raise ValueError(f"{checkpoint} was made with other options: remove it to start afresh")
        model.load_state_dict(state["model"])
        for optimiser, saved in zip(optimisers, state["optimisers"]):
            optimiser.load_state_dict(saved)
        step, seconds, history = state["step"], state["seconds"], state["history"]
        print(f"resuming from {checkpoint} at step {step}", file=log)

    def save() -> None:
        tmp = checkpoint.with_suffix(".tmp")
        torch.save({"config": asdict(config), "net": net.to_dict(), "model": model.state_dict(),
                    "optimisers": [o.state_dict() for o in optimisers], "step": step, "seconds": seconds,
                    "history": history}, tmp)
        os.replace(tmp, checkpoint)

    def lr_at(s: int) -> float:
        warm = min(1.0, (s + 1) / 200)
        return config.lr * warm * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * s / config.steps)))

    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, file=log, unit="step", dynamic_ncols=True)
    last_save = time.monotonic()
    running = None
    while step < config.steps:
        started = time.monotonic()
        # the batch of step s depends only on (seed, s): resuming reproduces the same run
        rng = np.random.default_rng([config.seed, step])
        rows, targets = _batch_rows(train_data, rng, config.batch, net.features)
        for optimiser in optimisers:
            for group in optimiser.param_groups:
                group["lr"] = lr_at(step)
        logits = model(torch.from_numpy(rows).long())
        loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(targets.astype(np.int64)))
        for optimiser in optimisers:
            optimiser.zero_grad(set_to_none=True)
        loss.backward()
        for optimiser in optimisers:
            optimiser.step()
        step += 1
        seconds += time.monotonic() - started
        bits = loss.item() / math.log(2)
        running = bits if running is None else 0.98 * running + 0.02 * bits
        if bar is not None:
            bar.update(1)
            bar.set_postfix(train_bpb=f"{running:.3f}")
        if step % config.eval_every == 0 or step == config.steps:
            model.eval()
            vb = float_bpb(model, valid_data)
            model.train()
            history.append({"step": step, "seconds": round(seconds, 1), "train_bpb": round(running, 4),
                            "valid_bpb": round(vb, 4)})
            message = f"step {step}: train {running:.3f} bpb, validation {vb:.4f} bpb ({seconds / 60:.1f} min)"
            if bar is not None:
                bar.write(message, file=log)
            else:
                print(message, file=log)
        if time.monotonic() - last_save > config.checkpoint_seconds or step == config.steps:
            save()
            last_save = time.monotonic()
    if bar is not None:
        bar.close()
    model.eval()
    calibration = _batch_rows(train_data, np.random.default_rng([config.seed, 1 << 30]), 32768, net.features)[0]
    info = {"train_bytes": int(len(train_data)), "valid_bytes": int(len(valid_data)), "steps": step,
            "train_seconds": round(seconds, 1), "history": history,
            "float_valid_bpb": history[-1]["valid_bpb"] if history else float_bpb(model, valid_data)}
    info.update(config.extra)
    export_model(model, calibration, output, info)
    from ..models.nn.network import load_network

    network = load_network(output)
    info["int_valid_bpb"] = round(network.bits_per_byte(valid_data), 4)
    export_model(model, calibration, output, info)
    print(f"wrote {output}: validation {info['float_valid_bpb']:.4f} bpb (float), "
          f"{info['int_valid_bpb']:.4f} bpb (int8, as coded)", file=log)
    return info


def export_checkpoint(checkpoint: str | Path, output: str | Path, corpus: list[str | Path]) -> None:
    """Export the model of a checkpoint as it stands (to try a run before it ends)."""
    import torch

    from .export import export_model
    from .model import ByteMLP, NetConfig

    state = torch.load(checkpoint, weights_only=False)
    net = NetConfig.from_dict(state["net"])
    model = ByteMLP(net)
    model.load_state_dict(state["model"])
    model.eval()
    data = np.concatenate([np.fromfile(p, dtype=np.uint8) for p in corpus])
    calibration = _batch_rows(data, np.random.default_rng([state["config"]["seed"], 1 << 30]), 32768, net.features)[0]
    export_model(model, calibration, output, {"steps": state["step"], "history": state["history"]})
