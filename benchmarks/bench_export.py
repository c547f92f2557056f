"""Offline export throughput, as a multiple of real time, against a naive baseline.

A seeded drift walk of the bundled model (or a random default-size VAE when none is
installed) rendered to H.264 MP4 at 30 fps, 512x512 and 1024x1024. For each size this prints:

- ours: ``output.export`` -- batched decode on 1 thread, torch's uint8 bicubic upscale,
  the look, libx264 in a second thread -- with the export default (``superfast``, crf 18) and
  with ``veryfast`` (smaller files, slower);
- naive: one frame at a time -- decode, Pillow bicubic resize, synchronous write -- with the
  same encoder settings, so the ratio measures the pipeline, not the codec;
- where the time goes: decode per frame (batch 16 vs 1), upscale per frame, encode alone.

Target: >= 5x real time at 512x512 30 fps on a 2-core CPU.
Run: ``python benchmarks/bench_export.py [seconds]`` (default 4 s of video per case; about a
minute in all on two cores).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from latentsketch import engine
from latentsketch.model import checkpoint
from latentsketch.model.inference import Decoder
from latentsketch.model.vae import VAE, VAEConfig
from latentsketch.output.export import Clip, ExportSettings, export
from latentsketch.output.picture import ArrayScaler
from latentsketch.output.video import H264Writer
from latentsketch.render import walk_clip

FPS = 30.0
SIZES = (512, 1024)


def load_model() -> tuple[torch.nn.Module, engine.LatentSpace, str]:
    try:
        m = checkpoint.load(None)
        return m.vae, m.space, f"bundled model {m.model_id} ({m.cfg.image_size} px)"
    except checkpoint.CheckpointError:
        torch.manual_seed(0)
        vae = VAE(VAEConfig()).eval()
        return vae, engine.LatentSpace.standard(vae.cfg.latent), "random default-size VAE"


def clip(space: engine.LatentSpace, seconds: float) -> Clip:
    state = engine.State.initial(space, seed=7)
    c = walk_clip(space, state, FPS, seconds)
    return Clip(list(c.frames), c.count, c.fps)   # z computed up front: time the pipeline only


def ours(c: Clip, decoder: Decoder, size: int, preset: str, out: Path) -> float:
    r = export(c, decoder, out, ExportSettings(size=(size, size), preset=preset))
    return r.realtime


def naive(c: Clip, decoder: Decoder, size: int, preset: str, out: Path) -> float:
    t = time.perf_counter()
    with H264Writer(out, size, size, FPS, preset=preset, crf=18, crash_safe=False) as w:
        for f in c.frames:
            img = Image.fromarray(decoder.decode(f.z)).resize((size, size),
                                                              Image.Resampling.BICUBIC)
            w.write(np.asarray(img))
    return c.count / FPS / (time.perf_counter() - t)


def ms(fn, n: int = 10) -> float:
    fn()
    t = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t) / n * 1e3


def breakdown(c: Clip, decoder: Decoder, size: int, folder: Path) -> str:
    z = np.stack([f.z for f in c.frames[:16]])
    batch = ms(lambda: decoder.decode_batch(z), 3) / len(z)
    single = ms(lambda: decoder.decode(z[0]))
    frame = decoder.decode(z[0])
    bicubic, full = ArrayScaler("bicubic"), (0, 0, frame.shape[1], frame.shape[0])

    def resize(img: np.ndarray) -> np.ndarray:
        return bicubic.scale([img], full, (size, size))[0]

    up = ms(lambda: resize(frame))
    pil = ms(lambda: Image.fromarray(frame).resize((size, size), Image.Resampling.BICUBIC))
    big = [resize(decoder.decode(f.z)) for f in c.frames[:30]]
    t = time.perf_counter()
    with H264Writer(folder / "enc.mp4", size, size, FPS, preset="superfast", crf=18,
                    crash_safe=False) as w:
        for b in big:
            w.write(b)
    enc = len(big) / (time.perf_counter() - t)
    return (f"  decode {batch:.2f} ms/frame in batches of 16, {single:.2f} ms alone; "
            f"upscale {up:.2f} ms (torch uint8) vs {pil:.2f} ms (Pillow); "
            f"encode alone {enc:.0f} fps")


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 4.0
    vae, space, what = load_model()
    decoder = Decoder(vae, backend="auto", threads=1)
    print(f"{what}, decoder {decoder.backend}, {torch.get_num_threads()} threads, "
          f"{seconds:g} s of video per case at {FPS:g} fps")
    c = clip(space, seconds)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for size in SIZES:
            fast = ours(c, decoder, size, "superfast", folder / "a.mp4")
            small = ours(c, decoder, size, "veryfast", folder / "b.mp4")
            base = naive(c, decoder, size, "superfast", folder / "c.mp4")
            print(f"{size}x{size}: ours {fast:.1f}x real time (superfast), {small:.1f}x "
                  f"(veryfast); naive {base:.1f}x; ours/naive {fast / base:.2f}"
                  + ("" if size != 512 else f"; target 5x {'met' if fast >= 5 else 'MISSED'}"))
            print(breakdown(c, decoder, size, folder))
        two = Decoder(vae, backend="auto", threads=2)
        print(f"decoder on 2 threads instead: 512x512 ours "
              f"{ours(c, two, 512, 'superfast', folder / 'd.mp4'):.1f}x real time")


if __name__ == "__main__":
    main()
