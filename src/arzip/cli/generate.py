"""``arzip generate``: sample text from the built-in network, byte by byte.

What it does: feeds the prompt, then draws each next byte from the network's
distribution (its integer log2 scores divided by the temperature, softmax),
with a seeded generator: the same seed, prompt and model give the same bytes.
What it does not do: use the context-mixing model (it only predicts; the
network is the generator).
"""

from __future__ import annotations

import argparse

import numpy as np

from ..errors import UsageError
from .compress import Streams


def generate_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="arzip generate", description="Sample text from the network.")
    parser.add_argument("-m", "--model", default="nn", help="nn (the shipped model) or nn:model.arzm")
    parser.add_argument("--prompt", default="", help="text the sample continues")
    parser.add_argument("-n", "--bytes", type=int, default=400, help="bytes to generate (default 400)")
    parser.add_argument("--temperature", type=float, default=0.8, help="0 picks the likeliest byte (default 0.8)")
    parser.add_argument("--seed", type=int, default=0)
    return parser


def generate(network, prompt: bytes, n: int, temperature: float, seed: int) -> bytes:
    """``n`` bytes sampled after ``prompt``."""
    from ..models.nn.features import WINDOW

    rng = np.random.default_rng(seed)
    buf = bytearray(prompt)
    for _ in range(n):
        # the features read only the last WINDOW bytes: WINDOW + 1 of history give the same rows
        history = np.frombuffer(bytes(buf[-(WINDOW + 1):]), dtype=np.uint8)
        t = len(history)
        scores = network.scores(network.rows(history, t, t + 1))[0].astype(np.float64) / 256  # log2 units
        if temperature <= 0:
            byte = int(np.argmax(scores))
        else:
            p = np.exp2((scores - scores.max()) / temperature)
            byte = int(np.searchsorted(np.cumsum(p / p.sum()), rng.random(), side="right"))
            byte = min(byte, 255)
        buf.append(byte)
    return bytes(buf[len(prompt):])


def run_generate(args: argparse.Namespace, streams: Streams) -> int:
    from ..models.nn import shipped

    if not args.model.startswith("nn"):
        raise UsageError("arzip generate samples from nn models: -m nn or -m nn:model.arzm")
    if args.bytes < 0:
        raise UsageError("-n must be >= 0")
    network = shipped.load(args.model)
    prompt = args.prompt.encode("utf-8")
    streams.stdout.write(prompt + generate(network, prompt, args.bytes, args.temperature, args.seed))
    streams.stdout.flush()
    return 0
