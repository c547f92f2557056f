"""The ``latentsketch`` command: the only place that parses arguments.

Each subcommand is a few lines over a library function that a Python user or a test can call.
``latentsketch [options]`` means ``latentsketch play [options]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

SUBCOMMANDS = ("play", "train", "info", "render", "midi")


class UserError(Exception):
    """An error for a person: printed as one line, exit status 2."""


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE on a folder of images or procedural art")
    p.add_argument("data", help="a folder of images (recursive) or the word 'procedural'")
    p.add_argument("--out", default="models/mine", help="output folder (default models/mine)")
    p.add_argument("--size", type=int, default=64, choices=(64, 96, 128, 256))
    p.add_argument("--latent", type=int, default=32, help="latent dimensions (8..128)")
    p.add_argument("--width", type=int, default=32, help="channels at the output resolution")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--minutes", type=float, default=None, help="stop after this long")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--beta", type=float, default=1.0, help="KL weight after warm-up")
    p.add_argument("--edge-weight", type=float, default=0.5)
    p.add_argument("--warmup-steps", type=int, default=1000, help="KL warm-up steps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-images", type=int, default=20000, help="procedural data set size")
    p.add_argument("--style", default="bold", choices=("bold", "mixed"), help="procedural style")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16"))
    p.add_argument("--threads", type=int, default=None)


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model and write a latent-atlas PNG")
    p.add_argument("model", nargs="?", default=None, help="model folder or .safetensors file")
    p.add_argument("--out", default=".", help="folder for the atlas PNG (default: here)")
    p.add_argument("--dims", type=int, default=6, help="top dimensions in the atlas")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="latentsketch", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    _add_train(sub)
    _add_info(sub)
    return parser


def cmd_train(a: argparse.Namespace) -> int:
    from latentsketch.progress import train_with_progress
    from latentsketch.train import TrainConfig

    if a.data != "procedural" and not Path(a.data).is_dir():
        raise UserError(f"images {a.data}: not a folder (give a folder of images or 'procedural')")
    if not 1 <= a.latent <= 512:
        raise UserError(f"--latent {a.latent} is out of range 1..512")
    cfg = TrainConfig(
        data=a.data, out=a.out, size=a.size, latent=a.latent, width=a.width, epochs=a.epochs,
        minutes=a.minutes, batch_size=a.batch_size, lr=a.lr, beta=a.beta,
        edge_weight=a.edge_weight, warmup_steps=a.warmup_steps, seed=a.seed,
        n_images=a.n_images, style=a.style, resume=a.resume, device=a.device,
        precision=a.precision, threads=a.threads,
    )
    train_with_progress(cfg)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    from latentsketch.info import describe

    print(describe(a.model, Path(a.out), dims=a.dims))
    return 0


COMMANDS = {"train": cmd_train, "info": cmd_info}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help")):
        argv = ["play", *argv]
    args = build_parser().parse_args(argv)
    from latentsketch.data.images import DataError
    from latentsketch.model.checkpoint import CheckpointError

    try:
        return COMMANDS[args.command](args)
    except (UserError, CheckpointError, DataError) as e:
        print(f"latentsketch: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("latentsketch: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    sys.exit(main())
