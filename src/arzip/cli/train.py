"""``arzip train CORPUS... -o model.arzm``: train the built-in network on your own data.

What it does: parses options and runs ``arzip.train.trainer`` (torch, the
``[train]`` extra): a progress bar, validation bits per byte, a checkpoint
beside the output every few minutes (rerunning the same command resumes), and
an int8 ``.arzm`` file that ``arzip -m nn:model.arzm`` then uses.
What it does not do: train anything itself.
"""

from __future__ import annotations

import argparse
import importlib.util
import os

from ..errors import UsageError
from .compress import Streams


def train_parser() -> argparse.ArgumentParser:
    from ..models.nn.features import FEATURE_SETS
    from ..train.trainer import TrainConfig

    d = TrainConfig()
    parser = argparse.ArgumentParser(
        prog="arzip train",
        description="Train the built-in byte-level network on files (logs, code, a language), then "
        "compress with -m nn:MODEL. Rerun the same command to resume from its checkpoint.",
    )
    parser.add_argument("corpus", nargs="+", metavar="FILE", help="training files (their bytes, concatenated)")
    parser.add_argument("-o", "--output", required=True, help="model file to write (.arzm)")
    parser.add_argument("--valid", help="validation file (default: the last 2%% of each training file)")
    parser.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    parser.add_argument("--batch", type=int, default=d.batch, help=f"positions per step (default {d.batch})")
    parser.add_argument("--lr", type=float, default=d.lr, help=f"peak learning rate (default {d.lr})")
    parser.add_argument("--hidden", type=int, nargs=2, default=(d.hidden1, d.hidden2), metavar=("H1", "H2"),
                        help=f"layer widths (default {d.hidden1} {d.hidden2}; at most 512 each)")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="steps between validation scores")
    parser.add_argument("--valid-bytes", type=int, default=d.valid_bytes,
                        help=f"validation bytes scored at each evaluation (default {d.valid_bytes})")
    parser.add_argument("--features", type=int, default=d.features, choices=sorted(FEATURE_SETS),
                        help=f"feature set (default {d.features}; docs/MODEL.md)")
    parser.add_argument("--init", default="", help="start from the weights of this checkpoint (.ckpt)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("-T", "--threads", type=int, default=d.threads, help="torch threads")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    return parser


def run_train(args: argparse.Namespace, streams: Streams) -> int:
    if importlib.util.find_spec("torch") is None:
        raise UsageError("arzip train needs torch: pip install torch==2.13.0 && pip install 'arzip[train]'")
    from ..train.trainer import TrainConfig, train

    for path in args.corpus + ([args.valid] if args.valid else []):
        if not os.path.isfile(path):
            raise UsageError(f"{path}: no such file")
    if not all(16 <= h <= 512 for h in args.hidden):
        raise UsageError("--hidden widths must be 16..512 (the integer engine's exactness bound)")
    if args.steps < 1 or args.batch < 1:
        raise UsageError("--steps and --batch must be positive")
    config = TrainConfig(steps=args.steps, batch=args.batch, lr=args.lr, eval_every=args.eval_every,
                         valid_bytes=args.valid_bytes, init=args.init,
                         seed=args.seed, threads=args.threads, hidden1=args.hidden[0], hidden2=args.hidden[1],
                         features=args.features)
    try:
        train(args.corpus, args.output, config, valid=args.valid, log=streams.stderr, progress=not args.quiet)
    except ValueError as error:
        raise UsageError(str(error)) from None
    return 0
