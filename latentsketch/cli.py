"""The ``latentsketch`` command: the only place that parses arguments.

Each subcommand is a few lines over a library function that a Python user or a test can call.
``latentsketch [options]`` means ``latentsketch play [options]``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NoReturn

from latentsketch.errors import UserError

MAX_PLAY_FPS = 1000.0   # what a recording's frame rate may be (output.video.as_fps)

# checkpoint.BUNDLED's names (a test holds the two together; importing it would load torch)
MODEL_HELP = ("model folder or .safetensors file, or a bundled model by name: emoji (the "
              "default), shapes")


def version() -> str:
    """The installed distribution's version, else the package's own ``__version__``."""
    from importlib import metadata

    try:
        return metadata.version("latentsketch")
    except metadata.PackageNotFoundError:
        from latentsketch import __version__

        return __version__


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: the message and a pointer to ``--help``, exit 2.

    Subparsers are built from the same class (``add_subparsers`` uses the parser's type), so
    every command behaves alike. ``commands`` maps each command to its parser, so unknown
    options are reported by the command they were given to; ``also_help`` adds another
    parser's options to ``--help`` (the top level lists ``play``'s, the default command).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # No abbreviated options: `render --seconds 5` silently meant --seconds-per-segment.
        # A prefix that is not a whole option is an unrecognized argument, said in one line.
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)
        self.commands: dict[str, argparse.ArgumentParser] = {}
        self.also_help: argparse.ArgumentParser | None = None

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")

    def parse_args(self, args: Sequence[str] | None = None,  # type: ignore[override]
                   namespace: argparse.Namespace | None = None) -> argparse.Namespace:
        ns, extra = self.parse_known_args(args, namespace)
        command = self.commands.get(getattr(ns, "command", None) or "", self)
        if extra:
            command.error(f"unrecognized arguments: {' '.join(extra)}")
        if hasattr(ns, _MODEL_OPTION):  # MODEL given as a positional, as --model, or both
            option = getattr(ns, _MODEL_OPTION)
            delattr(ns, _MODEL_OPTION)
            if option is not None and ns.model is not None and option != ns.model:
                command.error(f"the model is given twice, as {ns.model!r} and as --model "
                              f"{option!r}; give it once")
            ns.model = ns.model if option is None else option
        return ns

    def format_help(self) -> str:
        text = super().format_help()
        if self.also_help is None:
            return text
        return (f"{text}\n'latentsketch [options]' is 'latentsketch play [options]':\n\n"
                f"{self.also_help.format_help()}")


_MODEL_OPTION = "model_option"   # where --model lands beside a MODEL positional


def _add_model(p: argparse.ArgumentParser, positional: bool = False) -> None:
    """The model option every command that takes a model shares: ``--model M`` (``ns.model``);
    with ``positional`` also an optional ``MODEL`` argument (older usage), merged into ``ns.model``
    by ``_Parser.parse_args``, which refuses the two given differently."""
    if positional:
        p.add_argument("model", nargs="?", default=None, metavar="MODEL",
                       help=f"{MODEL_HELP} (or --model)")
        p.add_argument("--model", dest=_MODEL_OPTION, default=None, metavar="MODEL",
                       help=MODEL_HELP)
    else:
        p.add_argument("--model", default=None, metavar="MODEL", help=MODEL_HELP)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not WIDTHxHEIGHT (e.g. 1280x720)") from None
    if not (16 <= w <= 8192 and 16 <= h <= 8192):
        raise argparse.ArgumentTypeError(f"{text!r} is out of range 16..8192 per side")
    return w, h


def _colour(text: str) -> tuple[int, int, int]:
    from latentsketch.data.images import parse_background

    try:
        return parse_background(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _add_play(sub: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from latentsketch.control.osc import DEFAULT_PORT
    from latentsketch.params import FIT_MODES

    p = sub.add_parser("play", help="open the live window (the default command)")
    _add_model(p)
    p.add_argument("--preset", default=None,
                   help="preset name (bundled or user folder) or a .toml file")
    p.add_argument("--seed", type=int, default=None, help="seed of the walk (default: random)")
    p.add_argument("--fps", type=float, default=60.0,
                   help=f"target frame rate, 0..{MAX_PLAY_FPS:g} (0: unthrottled)")
    p.add_argument("--size", type=_size, default=None, help="window size, e.g. 1024x1024")
    p.add_argument("--fullscreen", action="store_true")
    p.add_argument("--display", type=int, default=0, help="monitor index (projectors)")
    p.add_argument("--borderless", action="store_true", help="window without a frame")
    p.add_argument("--fit", choices=FIT_MODES, default=None)
    p.add_argument("--out-dir", default="latentsketch-out",
                   help="recordings, snapshots, logs (default ./latentsketch-out)")
    p.add_argument("--record-size", type=_size, default=None,
                   help="recording size (default: the picture's size on screen)")
    p.add_argument("--start-from", default=None, metavar="IMAGE",
                   help="start at a picture's point: a snapshot's stored point, any other "
                        "image encoded by the model")
    p.add_argument("--osc-port", type=int, default=DEFAULT_PORT,
                   help=f"OSC input port, 1..65535 (default {DEFAULT_PORT})")
    p.add_argument("--osc-host", default="127.0.0.1",
                   help="interface for OSC input (default 127.0.0.1; 0.0.0.0 for all)")
    p.add_argument("--no-osc", action="store_true", help="no OSC input")
    p.add_argument("--osc-out", default=None, metavar="HOST:PORT", help="send state as OSC")
    p.add_argument("--midi", default=None, metavar="NAME", help="MIDI input (part of its name)")
    p.add_argument("--no-midi", action="store_true")
    p.add_argument("--backend", default="auto",
                   help="decoder: auto (measure the engines once per model and CPU, use the "
                        "fastest), fp32 or bf16 (torch only), or an engine such as "
                        "onnxruntime-fp32 or openvino-bf16")
    p.add_argument("--log", action="store_true",
                   help="log every command to a control log (always on while recording)")
    p.add_argument("--hud", action="store_true", help="start with the HUD shown")
    p.add_argument("--operator-window", action="store_true",
                   help="a second window with the HUD and a preview; the main window stays "
                        "clean for the audience")
    p.add_argument("--palette", default=None, metavar="PNG",
                   help="a palette PNG ('latentsketch palette') for the palette key to show "
                        "(default: the model's own, made when first shown)")
    p.add_argument("--camera", nargs="?", const="0", default=None, metavar="N|PATH",
                   help="steer the walk with a live picture source: camera N (default 0), a "
                        "video file (looped at its own frame rate: re-dream a clip) or a "
                        "folder of images; each picture is encoded and glided to")
    p.add_argument("--camera-fps", type=float, default=10.0,
                   help="pictures of --camera encoded per second, 0.1..60 (default 10)")
    p.add_argument("--audio-in", nargs="?", const="default", default=None,
                   metavar="DEVICE|FILE",
                   help="sound that moves the picture: a sound input (default: the default "
                        "one; a number or part of a name) or a sound file played as input; "
                        "the preset maps audio.low, audio.onset... (needs the audio extra)")
    p.add_argument("--midi-out", nargs="?", const="", default=None, metavar="NAME",
                   help="MIDI feedback: LEDs and motor faders of mapped controls follow their "
                        "targets (default: the output of the MIDI input's device)")
    for kind, extra, where in (("ndi", "ndi", "over the network"),
                               ("syphon", "syphon", "to apps on this Mac"),
                               ("spout", "spout", "to apps on this Windows PC")):
        p.add_argument(f"--{kind}", nargs="?", const="latentsketch", default=None,
                       metavar="NAME", help=f"send the picture (no HUD) {where} as source "
                       f"NAME (default latentsketch); needs latentsketch[{extra}]")
    p.add_argument("--video-out-size", type=_size, default=None, metavar="WxH",
                   help="size of the --ndi/--syphon/--spout picture (default: as on screen)")
    p.add_argument("--link", action="store_true",
                   help="follow an Ableton Link session's tempo and beat (latentsketch[link])")
    p.add_argument("--kiosk", action="store_true",
                   help="installation mode: fullscreen, no cursor, no HUD, keys locked except "
                        "Ctrl+Alt+Shift+Q; logs and the playlist's place in the user's state "
                        "folder (a preset's [kiosk] table does the same)")
    p.add_argument("--playlist", default=None, metavar="TOML",
                   help="installation mode's playlist: scenes, durations, fades, opening "
                        "hours (README, 'Installation mode'); implies --kiosk")
    return p


def _add_midi(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("midi", help="list MIDI inputs")
    p.add_argument("--list", action="store_true", help="list MIDI input ports (the default)")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help="train a VAE on a folder of images or procedural art")
    p.add_argument("data", help="a folder of images (recursive) or the word 'procedural'")
    p.add_argument("--out", default="models/mine", help="output folder (default models/mine)")
    p.add_argument("--size", type=int, default=None, choices=(64, 96, 128, 256),
                   help="picture side (default 64); any of these four flags trains from "
                        "scratch with that architecture")
    p.add_argument("--latent", type=int, default=None,
                   help="latent dimensions, 1..512 (8 to 128 suit most data; default 32)")
    p.add_argument("--width", type=int, default=None,
                   help="channels at the output resolution (default 32)")
    p.add_argument("--arch", default=None, choices=("preset", "sharp128"),
                   help="preset: --size/--width decide; sharp128: 128 px from a 64-px body and "
                        "a sub-pixel output layer (0.64 GFLOP per frame); default preset")
    p.add_argument("--from", dest="start_from", default=None, metavar="MODEL",
                   help="start from this model's weights (fine-tuning): a bundled name, a "
                        "model folder or file, or 'none' to train from scratch (default: a "
                        "folder without --size/--latent/--width/--arch starts from the bundled "
                        "default model)")
    p.add_argument("--epochs", type=int, default=None,
                   help="passes over the data; sets the schedule's length unless --steps does "
                        "(default: the steps this machine does in --minutes, or in 30 minutes)")
    p.add_argument("--steps", type=int, default=None,
                   help="the learning-rate schedule's length in steps (default: see --epochs)")
    p.add_argument("--minutes", type=float, default=None,
                   help="stop after this long in all (across --resume); the schedule still "
                        "runs by step")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=None, help="peak learning rate (default 2e-3)")
    p.add_argument("--beta", type=float, default=1.0, help="KL weight after warm-up")
    p.add_argument("--edge-weight", type=float, default=0.5)
    p.add_argument("--warmup-steps", type=int, default=None,
                   help="KL warm-up steps (at most a fifth of the schedule; default 1000, "
                        "none when fine-tuning)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-images", type=int, default=20000, help="procedural data set size")
    p.add_argument("--style", default="bold", choices=("bold", "mixed"), help="procedural style")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--force", action="store_true",
                   help="replace a model already in --out (without it, train refuses)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, mps")
    p.add_argument("--precision", default="auto", choices=("auto", "fp32", "bf16", "fp16"),
                   help="auto: bf16 where the CPU or GPU has it, fp16 with a grad scaler on "
                        "older GPUs, else fp32; fp16 needs CUDA")
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--half", action="store_true",
                   help="ship the weights as float16 (half the file, same pictures); the run "
                        "state in --out stays fp32")
    p.add_argument("--ema", type=float, default=0.999,
                   help="decay of the weights' moving average (0: none); the better of raw "
                        "and EMA on held-out images is shipped")
    p.add_argument("--save-every", type=float, default=10.0, metavar="MINUTES",
                   help="minutes between saves of the run state (default 10)")
    p.add_argument("--background", type=_colour, default=None, metavar="COLOUR",
                   help="behind transparent pixels: white (default; a fine-tune: its model's, "
                        "black for emoji), black, #202020 or r,g,b")
    p.add_argument("--cache", default=None, metavar="DIR",
                   help="stream a folder's images from a pre-resized cache in DIR (decoded "
                        "once, reused by later runs); without it, a folder too big for memory "
                        "streams from the user's cache folder")
    p.add_argument("--workers", type=int, default=None,
                   help="processes decoding images into the cache (default: cores, at most 8)")
    p.add_argument("--no-flip", dest="flip", action="store_false",
                   help="no random left-right flips (for pictures with text or handedness)")
    p.add_argument("--compile", action="store_true",
                   help="run the training step through torch.compile (worth it on a GPU)")


def _add_info(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="describe a model and write its latent atlas and walk "
                                    "sheet (two PNGs)")
    _add_model(p, positional=True)
    p.add_argument("--out", default=".", help="folder for the two PNGs (default: here)")
    p.add_argument("--dims", type=int, default=6, help="top dimensions in the atlas")


def _add_directions(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("directions", help="compute a model's principal directions, or add an "
                                          "attribute direction from two folders of images")
    _add_model(p, positional=True)
    p.add_argument("--data", default=None, metavar="DIR",
                   help="images for the principal directions: a folder or 'procedural' "
                        "(default: the data the model was trained on, by its config)")
    p.add_argument("--from", dest="from_dir", default=None, metavar="B",
                   help="attribute direction: a folder of images without the attribute")
    p.add_argument("--to", dest="to_dir", default=None, metavar="A",
                   help="attribute direction: a folder of images with it")
    p.add_argument("--name", default=None, help="the attribute direction's name (e.g. round)")
    p.add_argument("--out", default=None, metavar="FILE",
                   help="the directions file to write, - for standard output (default: yours "
                        "for this model, in the user data folder)")


def _add_encode(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "encode", help="pictures -> latent points: one JSON line per image (file, model_id, z, "
                       "sigma; raw order)",
        description="Encode images with the model's encoder: one JSON line per image on stdout "
                    "with its file, the model id, z (the mean of q(z|x)) and sigma (its spread "
                    "per dimension), both in the checkpoint's raw dimension order. Exit status "
                    "0 when every image was encoded, 2 when any could not be (each named in one "
                    "line on stderr; the others are still printed and added).")
    p.add_argument("images", nargs="+", metavar="IMAGE_OR_FOLDER",
                   help="image files, or folders (their images, recursively, sorted)")
    _add_model(p)
    p.add_argument("--preset", default=None, metavar="P",
                   help="also add the images as named keyframes to preset P: a .toml file "
                        "(created if missing) or the name of one of your presets; comments "
                        "and everything else in it are kept")


def _add_palette(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "palette", help="a grid of decodes over a plane of the latent space, as a PNG that "
                        "remembers its points (the window's palette key shows one)",
        description="Decode a grid of pictures over a 2-D plane of the latent space and write "
                    "it as a PNG whose metadata holds the plane (model id, origin, axes, "
                    "corners; standardised coordinates in raw order), so a click on a cell "
                    "finds its point. The plane: --corners, else the model's two leading "
                    "principal directions if it has them, else its two dimensions of highest "
                    "KL, +-2 standard deviations around the data's mean.")
    _add_model(p, positional=True)
    p.add_argument("--out", default=None,
                   help="the PNG (default: latentsketch-palette-<model id>.png here); missing "
                        "folders are created")
    p.add_argument("--grid", type=int, default=8, help="cells per side, 2..32 (default 8)")
    p.add_argument("--cell", type=int, default=None,
                   help="pixels per cell, 8..512 (default: the model's picture size)")
    p.add_argument("--span", type=float, default=2.0,
                   help="without --corners: the plane spans +-SPAN standard deviations "
                        "(default 2)")
    p.add_argument("--corners", nargs="+", default=(), metavar="POINT",
                   help="3 or 4 corners, top-left, top-right, bottom-left[, bottom-right]: "
                        "images (encoded), latentsketch snapshots (their point) or kf:N (the "
                        "model's keyframe N, from 0); 3 make a parallelogram, 4 a bilinear "
                        "patch (linear blends in standardised coordinates, no slerp)")


def _add_render(sub: argparse._SubParsersAction) -> None:
    from latentsketch.latent.interp import EASINGS
    from latentsketch.params import FIT_MODES, UPSCALE_FILTERS, WALK_MODES

    p = sub.add_parser("render", help="export keyframes, a walk or a logged performance as video")
    _add_model(p)
    src = p.add_argument_group(
        "source (at most one; --preset may also go with --keyframes/--walk; none: the default "
        "preset as 'latentsketch' plays it, for 10 s)")
    src.add_argument("--preset", default=None,
                     help="name or .toml: its tour (its keyframes, else the model's), else its "
                          "walk; also sets the look")
    src.add_argument("--keyframes", nargs="+", default=(), metavar="IMAGE",
                     help="pictures to morph through, in order (folders: their images): a "
                          "snapshot gives its stored point, any other image is encoded")
    src.add_argument("--walk", default=None, choices=WALK_MODES, help="a seeded walk")
    src.add_argument("--replay", default=None, metavar="LOG",
                     help="a control log (.log.jsonl) written while playing")
    p.add_argument("--seed", type=int, default=None, help="walk seed (default: preset's, else 0)")
    p.add_argument("--duration", type=float, default=None,
                   help="seconds (walk: default 10; a tour: the whole of it, its holds and "
                        "moves scaled to fit)")
    seg = p.add_mutually_exclusive_group()
    seg.add_argument("--seconds-per-segment", type=float, default=None,
                     help="keyframe to keyframe (default: the tour's travel time, 3 s at "
                          "walk.speed 1)")
    seg.add_argument("--frames-per-segment", type=int, default=None)
    p.add_argument("--hold", type=float, default=None,
                   help="seconds on each keyframe (default: each keyframe's hold, else the "
                        "preset's dwell; pictures: 0)")
    p.add_argument("--easing", default=None, choices=tuple(EASINGS),
                   help="how each move starts and ends (default: the preset's, cosine)")
    p.add_argument("--loop", action="store_true",
                   help="a tour returns to its first key, one frame short, so the file plays "
                        "seamlessly on repeat (without: it stops at the last key)")
    p.add_argument("--out", default=None,
                   help="file: .mp4 (H.264), .mov (ProRes), .gif, or a folder for PNG frames "
                        "(default: a new name in --out-dir); missing folders are created")
    p.add_argument("--out-dir", default="latentsketch-out", help="default ./latentsketch-out")
    p.add_argument("--format", default="mp4", choices=("mp4", "mov", "gif", "png"),
                   help="format when --out is not given")
    p.add_argument("--fps", type=float, default=None,
                   help="frame rate, more than 0 and at most 240 (default 30; --replay: the "
                        "logged frame times)")
    p.add_argument("--size", type=_size, default=None,
                   help="WxH of any aspect (default 1024x1024; --replay: the recording's)")
    p.add_argument("--fit", default=None, choices=FIT_MODES,
                   help="fit letterboxes, fill crops (default fit; --replay: the recording's)")
    p.add_argument("--filter", default="auto",
                   choices=("auto", *UPSCALE_FILTERS),
                   help="upscale filter (auto: live, the window's own, for --replay; else bicubic)")
    p.add_argument("--backend", default=None,
                   help="decoder: auto (the engine the live window measured fastest here), fp32 "
                        "or bf16 (torch), or an engine such as onnxruntime-fp32 (default: "
                        "--replay's recording's precision, else auto)")
    p.add_argument("--threads", type=int, default=1,
                   help="decoder threads (default 1: the encoder uses the other core)")
    p.add_argument("--audio", default=None, metavar="SOUND",
                   help="a sound file (WAV, FLAC, MP3...): drives the preset's audio.* "
                        "mappings frame by frame and is muxed into the .mp4/.mov; the film "
                        "lasts the sound unless --duration; with --replay only muxed")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="latentsketch",
        description="A live instrument over the latent space of a VAE. "
                    "'latentsketch [options]' means 'latentsketch play [options]'.")
    parser.add_argument("--version", action="version", version=f"latentsketch {version()}")
    sub = parser.add_subparsers(dest="command")
    parser.also_help = _add_play(sub)
    _add_train(sub)
    _add_info(sub)
    _add_midi(sub)
    _add_render(sub)
    _add_directions(sub)
    _add_encode(sub)
    _add_palette(sub)
    parser.commands = dict(sub.choices)
    return parser


def _check_device(name: str) -> None:
    """One line for a device this machine does not have (torch would raise deep inside)."""
    import torch

    if name in ("auto", "cpu"):
        return
    ok = {"cuda": torch.cuda.is_available,
          "mps": lambda: getattr(torch.backends, "mps", None) is not None
          and torch.backends.mps.is_available()}
    kind = name.split(":")[0]
    if kind not in ok:
        raise UserError(f"--device {name!r} is not one of auto, cpu, cuda, cuda:N, mps")
    if not ok[kind]():
        raise UserError(f"--device {name}: this machine has no {kind} device; use --device auto")


def _train_source(a: argparse.Namespace) -> Any:
    """--from and the architecture flags: the model to fine-tune (a ``transfer.Source``) or
    None, with ``a``'s --arch/--size/--latent/--width set to the run's."""
    from latentsketch.train import transfer

    given = {k: getattr(a, k) for k in transfer.ARCH_FLAGS if getattr(a, k) is not None}
    start = transfer.choose(a.start_from, a.data, given, a.resume)
    source = transfer.open_source(start)[0] if start is not None else None
    if source is not None:
        transfer.check_flags(source, given)
    for k, v in transfer.architecture(given, source, Path(a.out) if a.resume else None).items():
        setattr(a, k, v)
    return source


def cmd_train(a: argparse.Namespace) -> int:
    from latentsketch.progress import train_with_progress
    from latentsketch.train import TrainConfig

    if a.data != "procedural" and not Path(a.data).is_dir():
        raise UserError(f"images {a.data}: not a folder (give a folder of images or 'procedural')")
    source = _train_source(a)
    lr_given, warmup_given = a.lr is not None, a.warmup_steps is not None
    background_given = a.background is not None
    a.background = TrainConfig.background if a.background is None else a.background
    a.lr = TrainConfig.lr if a.lr is None else a.lr
    a.warmup_steps = TrainConfig.warmup_steps if a.warmup_steps is None else a.warmup_steps
    if not 1 <= a.latent <= 512:
        raise UserError(f"--latent {a.latent} is out of range 1..512")
    for name in ("steps", "epochs"):
        if getattr(a, name) is not None and getattr(a, name) < 1:
            raise UserError(f"--{name} {getattr(a, name)} must be 1 or more")
    if a.minutes is not None and not (math.isfinite(a.minutes) and a.minutes > 0):
        raise UserError(f"--minutes {a.minutes:g} must be a number of minutes more than 0")
    if not 0 <= a.ema < 1:
        raise UserError(f"--ema {a.ema} must be at least 0 (0: none) and below 1")
    for name in ("batch_size", "n_images", "width"):
        if getattr(a, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} {getattr(a, name)} must be 1 or more")
    if a.width % 8:
        raise UserError(f"--width {a.width} must be a multiple of 8 (the decoder's norm groups)")
    if not (math.isfinite(a.lr) and a.lr > 0):
        raise UserError(f"--lr {a.lr:g} must be a finite number more than 0")
    if a.arch == "sharp128" and a.size != 128:
        raise UserError(f"--arch sharp128 makes 128-px pictures: pass --size 128, not {a.size}")
    _check_device(a.device)
    if a.precision == "fp16" and not a.device.startswith(("cuda", "auto")):
        raise UserError(f"--precision fp16 needs a CUDA GPU, not --device {a.device}; "
                        f"use bf16 or fp32")
    if a.workers is not None and a.workers < 0:
        raise UserError(f"--workers {a.workers} must be 0 or more (0: decode in this process)")
    cfg = TrainConfig(
        data=a.data, out=a.out, size=a.size, latent=a.latent, width=a.width, epochs=a.epochs,
        minutes=a.minutes, batch_size=a.batch_size, lr=a.lr, beta=a.beta,
        edge_weight=a.edge_weight, warmup_steps=a.warmup_steps, seed=a.seed,
        n_images=a.n_images, style=a.style, resume=a.resume, device=a.device,
        precision=a.precision, threads=a.threads, half=a.half, force=a.force, steps=a.steps,
        ema=a.ema, save_minutes=a.save_every, background=a.background, arch=a.arch,
        cache=a.cache, workers=a.workers, flip=a.flip, compile=a.compile,
    )
    if source is not None:
        from latentsketch.train.transfer import configure

        cfg = configure(cfg, source, lr_given, warmup_given, background_given)
    train_with_progress(cfg)
    return 0


def cmd_info(a: argparse.Namespace) -> int:
    from latentsketch.info import describe

    if a.dims < 1:
        raise UserError(f"--dims {a.dims} must be at least 1 (the atlas shows the top dimensions)")
    print(describe(a.model, Path(a.out), dims=a.dims))
    return 0


def cmd_play(a: argparse.Namespace) -> int:
    import logging

    from latentsketch.app import AppOptions, play

    if not 1 <= a.osc_port <= 65535:
        raise UserError(f"--osc-port {a.osc_port} is out of range 1..65535")
    if a.osc_out is not None:
        from latentsketch.control.osc_out import parse_host_port

        try:
            parse_host_port(a.osc_out)
        except ValueError as e:
            raise UserError(str(e)) from None
    if not (math.isfinite(a.fps) and 0 <= a.fps <= MAX_PLAY_FPS):
        raise UserError(f"--fps {a.fps:g} is out of range 0..{MAX_PLAY_FPS:g} (0: unthrottled)")
    from latentsketch.model.engines import ENGINES

    if a.backend not in ("auto", "fp32", "bf16", *ENGINES):
        raise UserError(f"--backend {a.backend!r} is not one of auto, fp32, bf16, "
                        f"{', '.join(ENGINES)}")
    if not (math.isfinite(a.camera_fps) and 0.1 <= a.camera_fps <= 60):
        raise UserError(f"--camera-fps {a.camera_fps:g} is out of range 0.1..60")
    logging.basicConfig(level=logging.INFO, format="latentsketch: %(message)s")
    opts = AppOptions(
        model=a.model, preset=a.preset, seed=a.seed, fps=a.fps, size=a.size,
        fullscreen=a.fullscreen, display=a.display, borderless=a.borderless, fit=a.fit,
        out_dir=a.out_dir, record_size=a.record_size, start_from=a.start_from,
        osc=not a.no_osc, osc_host=a.osc_host, osc_port=a.osc_port, osc_out=a.osc_out,
        midi=not a.no_midi, midi_device=a.midi, backend=a.backend, engines=True,
        log_control=a.log,
        hud=a.hud, palette=a.palette, camera=a.camera, camera_fps=a.camera_fps,
        video_out=tuple((k, getattr(a, k)) for k in ("ndi", "syphon", "spout")
                        if getattr(a, k) is not None),
        video_out_size=a.video_out_size, link=a.link,
        operator_window=a.operator_window,
    )
    if a.audio_in is not None or a.midi_out is not None:
        from dataclasses import replace

        opts = replace(opts, audio_in=a.audio_in, midi_out=a.midi_out)
    from latentsketch.app.kiosk import KioskOptions, kiosk_playlist, play_kiosk, wants_kiosk

    table = wants_kiosk(a.preset)
    if a.kiosk or a.playlist or table is not None:
        playlist = a.playlist or (kiosk_playlist(table) if table is not None else None)
        return play_kiosk(opts, KioskOptions(playlist=playlist))
    return play(opts)


def cmd_midi(a: argparse.Namespace) -> int:
    from latentsketch.control.midi import list_inputs, unavailable_reason

    why = unavailable_reason()
    if why:
        print(f"MIDI is unavailable on this machine: {why}")
        return 0
    names = list_inputs()
    print("\n".join(names) if names else "no MIDI inputs found")
    return 0


def cmd_render(a: argparse.Namespace) -> int:
    from tqdm import tqdm

    from latentsketch.render import RenderRequest, render

    req = RenderRequest(
        model=a.model, preset=a.preset, keyframes=tuple(a.keyframes), walk=a.walk,
        replay=a.replay, seed=a.seed, duration=a.duration,
        seconds_per_segment=a.seconds_per_segment, frames_per_segment=a.frames_per_segment,
        hold=a.hold, easing=a.easing, loop=a.loop, out=a.out, out_dir=a.out_dir,
        format="/" if a.format == "png" else f".{a.format}", fps=a.fps, size=a.size, fit=a.fit,
        filter=a.filter, backend=a.backend, threads=a.threads)
    if a.audio is not None:
        from dataclasses import replace

        req = replace(req, audio=a.audio)
    bar = tqdm(unit="frame", desc="render", dynamic_ncols=True, disable=None)

    def progress(done: int, total: int) -> None:
        if bar.total != total:
            bar.total = total
        bar.update(done - bar.n)

    try:
        r = render(req, progress)
    finally:
        bar.close()
    for note in r.notes:
        print(f"latentsketch render: {note}", file=sys.stderr)
    print(f"wrote {r.path}: {r.frames} frames, {r.size[0]}x{r.size[1]} {r.rate_text()} "
          f"({r.realtime:.1f}x real time, decoder {r.engine})")
    return 0


def cmd_directions(a: argparse.Namespace) -> int:
    from latentsketch import model_directions as md

    def say(text: str) -> None:
        print(f"latentsketch directions: {text}...", file=sys.stderr)

    attr = (a.from_dir, a.to_dir, a.name)
    if any(v is not None for v in attr):
        if not all(v is not None for v in attr):
            raise UserError("an attribute direction needs --from B/ --to A/ --name NAME together")
        if a.data is not None:
            raise UserError("--data computes principal directions; leave it out with --from/--to")
        r = md.attribute(a.name, a.from_dir, a.to_dir, a.model, a.out, say)
    else:
        r = md.principal(a.model, a.data, a.out, say)
    if r.text is not None:   # --out -: the file on stdout, what it is on stderr
        sys.stdout.write(r.text)
        sys.stdout.flush()
        print(r.summary(), file=sys.stderr)
    else:
        print(r.summary())
    return 0


def cmd_encode(a: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from latentsketch import preset as presets
    from latentsketch.encoding import EncodeFailure, iter_encode
    from latentsketch.model import checkpoint

    model = checkpoint.load(a.model)
    target, taken = None, ()
    if a.preset is not None:  # refused before any work: a broken preset or another model's
        target = presets.keyframes_file(a.preset)
        presets.append_keyframes(target, model.model_id, model.space.dim, ())
        if target.exists():
            taken = tuple(k.name for k in presets.Preset.from_file(target).keyframes)
    keyframes, failed = [], 0
    for e in iter_encode(model, a.images):
        if isinstance(e, EncodeFailure):
            failed += 1
            print(f"latentsketch encode: {e.message}", file=sys.stderr)
            continue
        print(json.dumps(e.to_json()), flush=True)
        keyframes.append(presets.Keyframe.from_z(e.z, model.space, Path(e.source).stem))
    if target is not None and keyframes:
        wanted = [k.name or "" for k in keyframes]
        names = presets.unique_names(taken, wanted)
        keyframes = [replace(k, name=n) for k, n in zip(keyframes, names, strict=True)]
        presets.append_keyframes(target, model.model_id, model.space.dim, keyframes)
        n = len(keyframes)
        renamed = [f"{new} ({old} was taken)" for old, new in zip(wanted, names, strict=True)
                   if old != new]
        also = f"; named {', '.join(renamed)}" if renamed else ""
        print(f"latentsketch encode: added {n} keyframe{'' if n == 1 else 's'} to {target}"
              f"{also}", file=sys.stderr)
    return 2 if failed else 0


def cmd_palette(a: argparse.Namespace) -> int:
    from latentsketch.model import checkpoint
    from latentsketch.model.inference import Decoder
    from latentsketch.output.palette import make_palette

    loaded = checkpoint.load(a.model)
    out = a.out or f"latentsketch-palette-{loaded.model_id}.png"
    decoder = Decoder(loaded.vae, threads=1)   # two threads fight on a busy 2-core machine
    r = make_palette(loaded, decoder.decode_batch, out, a.corners, a.grid, a.cell, a.span)
    m = r.meta
    print(f"wrote {r.path}: {m.grid}x{m.grid} cells of {m.cell} px over {m.source} "
          f"(model {m.model_id}; decoded in {r.seconds:.2f} s)")
    return 0


COMMANDS = {"play": cmd_play, "train": cmd_train, "info": cmd_info, "midi": cmd_midi,
            "render": cmd_render, "directions": cmd_directions, "encode": cmd_encode,
            "palette": cmd_palette}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command. Exit status: 0 done, 2 a problem the person can fix (one line),
    1 a bug (one line plus the path of the full traceback), 130 interrupted (Ctrl-C; 128 + the
    signal's number for SIGTERM and SIGHUP), 141 the reader of the output went away (a closed
    pipe). ``play`` stopped by any of those signals saves its work and exits 0."""
    os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv = ["play", *argv]
    args = build_parser().parse_args(argv)
    from latentsketch.stopping import Interrupted, StopSignals

    try:
        with StopSignals():  # SIGTERM and SIGHUP stop a command as Ctrl-C does: cleanly
            return COMMANDS[args.command](args)
    except KeyboardInterrupt as e:
        why = f" ({e})" if isinstance(e, Interrupted) else ""
        print(f"latentsketch: interrupted{why}", file=sys.stderr)
        return e.exit_status if isinstance(e, Interrupted) else 130
    except BrokenPipeError:  # `latentsketch info | head -1`: the reader left, nothing to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141  # as a shell reports a process ended by SIGPIPE
    except Exception as e:  # noqa: BLE001 - every failure ends in one line, never a traceback
        out = getattr(args, "out", None) or getattr(args, "out_dir", None)
        return report_error(e, argv, out)


def report_error(err: Exception, argv: Sequence[str] = (), out: str | None = None) -> int:
    """Print ``err`` as one line on stderr and return the exit status for it.

    A ``UserError`` (the project's whole kind) or an OSError naming a path or a machine state
    (read-only, full, no permission) is the person's to fix: its line, status 2; an OSError
    that names no file (a ``write`` on a full disk) is told as the command's output ``out``.
    Anything else is a bug: one line with the path of the full traceback
    (``errors.write_crash_log``), status 1.
    """
    from latentsketch.errors import is_user_os_error, os_error_line, write_crash_log

    if isinstance(err, UserError):
        line = " ".join(str(err).split()) or type(err).__name__
        print(f"latentsketch: error: {line}", file=sys.stderr)
        return 2
    if is_user_os_error(err):
        where = None if getattr(err, "filename", None) else out
        print(f"latentsketch: error: {os_error_line(err, where)}", file=sys.stderr)
        return 2
    log = write_crash_log(err, argv)
    what = " ".join(f"{type(err).__name__}: {err}".split())[:300]
    where = f"the full traceback is in {log}" if log else "no crash report could be written"
    print(f"latentsketch: internal error (a bug, please report it): {what}; {where}",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
