"""What encoding a picture costs, and what it costs the live loop.

Prints, on the bundled model (or ``--model``), one thread:

- the encoder's milliseconds per image at batch 1 and batch 32 (the network alone, images
  already at the model's size) and the ratio: what batching buys ``latentsketch encode``;
- a whole drop of one photo-sized JPEG (read, EXIF/ICC, centre crop and resize, encode), which
  is what the window's drop worker does per picture;
- the live loop's decode per frame (median and p99 ms) alone, with the drop worker encoding
  pictures in its thread the whole time, and with the encode done inline in the frame instead
  (what a drop would cost the frame without the worker).

Run: ``python benchmarks/bench_encode.py [--model PATH] [--n 64]``.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentsketch import encoding
from latentsketch.data import procedural
from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder


def _ms_per_image(model: checkpoint.LoadedModel, images: np.ndarray, batch: int,
                  n: int) -> float:
    encoding.encode_batch(model, images[:batch])      # warm-up
    t0 = time.perf_counter()
    done = 0
    while done < n:
        encoding.encode_batch(model, images[:batch])
        done += batch
    return (time.perf_counter() - t0) * 1e3 / done


def _frames(decoder: Decoder, z: np.ndarray, n: int, inline=None) -> np.ndarray:
    out = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter()
        decoder.decode(z)
        if inline is not None:
            inline()
        out[i] = (time.perf_counter() - t0) * 1e3
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=None, help="model folder (default: bundled)")
    ap.add_argument("--n", type=int, default=64, help="images per measurement")
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = checkpoint.load(a.model)
    size = model.cfg.image_size
    images = procedural.generate(32, seed=11, size=size)
    b1 = _ms_per_image(model, images, 1, a.n)
    b32 = _ms_per_image(model, images, 32, max(a.n, 64))
    print(f"model {model.model_id} ({size} px, latent {model.cfg.latent}), 1 thread")
    print(f"encode ms/image: batch 1 {b1:.2f}, batch 32 {b32:.2f} ({b1 / b32:.1f}x)")

    with tempfile.TemporaryDirectory() as d:
        photo = Path(d) / "photo.jpg"
        big = procedural.generate(1, seed=3, size=256)[0]
        Image.fromarray(big).resize((3000, 2000)).save(photo, quality=90)
        encoding.encode_paths(model, [photo])
        t0 = time.perf_counter()
        for _ in range(10):
            encoding.encode_paths(model, [photo])
        print(f"one 3000x2000 JPEG, file to point: {(time.perf_counter() - t0) * 100:.1f} ms")

    decoder = Decoder(model.vae, backend="auto", threads=1)
    z = model.space.mean.astype(np.float32)
    frames = 300
    _frames(decoder, z, 30)
    alone = _frames(decoder, z, frames)
    stop = threading.Event()

    def worker() -> None:
        while not stop.is_set():
            encoding.encode_array(model, images[0])
            time.sleep(0.001)

    t = threading.Thread(target=worker, daemon=True)
    t.start()
    busy = _frames(decoder, z, frames)
    stop.set()
    t.join()
    inline = _frames(decoder, z, frames, lambda: encoding.encode_array(model, images[0]))
    for name, f in (("alone", alone), ("worker encoding", busy), ("encode inline", inline)):
        print(f"frame decode ms, {name:16}: median {np.median(f):5.2f}  "
              f"p99 {np.percentile(f, 99):5.2f}")


if __name__ == "__main__":
    main()
