"""Look stage and display path: milliseconds per frame against naive baselines.

Prints, at 512x512 and 1024x1024 windows:
- the look stage (neutral / typical / everything on) as built (native-size pre stage + byte-pair
  lookup table over the upscaled 32-bit surface) vs the whole look in float32 numpy at display
  resolution;
- the display path for a 64x64 frame (upscale + blit, and with the look on) vs the naive
  ``surfarray.make_surface`` + ``transform.smoothscale`` each frame (with the look on: plus
  ``surfarray.array3d`` read-back, the float look and another ``make_surface``);
- reading the clean picture back for recording, and drawing the HUD;
- film grain (look.grain) at display resolution: the window's blend blits and numpy's
  saturating add (offline, and recordings at another size) vs naive per-frame ``np.random``
  grain; the grain tile's rebuild when its strength changes (a fade); the display path with
  and without grain;
- crisp edges (posterise on): the display path with the window scaler's 2x bicubic pre-step
  vs without it (the naive baseline: smoothscale straight from the native frame), at 64 and
  128 px native, with the share of pixels off the ideal edges (tests/test_picture.py);
- the edge steepening that comes before a crisp effect (output.picture.steepen_edges) vs the
  obvious float sliding-window version (the same bytes);
- frame pacing at 60 fps: FramePacer vs pygame.time.Clock.tick (achieved fps, CPU share).

Run: ``python benchmarks/bench_look.py`` (headless; ~20 s).
"""

from __future__ import annotations

import os

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import pygame  # noqa: E402

from latentsketch.effects import GRAIN_MAX_STD, LUMA  # noqa: E402
from latentsketch.grain import Grain, GrainTile  # noqa: E402
from latentsketch.output.display import Display, FramePacer, SurfaceScaler  # noqa: E402
from latentsketch.output.hud import Hud, HudInfo  # noqa: E402
from latentsketch.output.look import Look, LookParams  # noqa: E402
from latentsketch.output.picture import steepen_edges  # noqa: E402

NATIVE = 64
SETTINGS = {
    "neutral": LookParams(),
    "typical": LookParams(contrast=1.2, saturation=1.3, posterize=4, softness=0.3),
    "all on": LookParams(contrast=1.4, saturation=1.6, posterize=6, softness=0.2, trails=0.6,
                         brightness=0.8),
}


def ms(fn: Callable[[], object], repeat: int = 30) -> float:
    """Median milliseconds of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * float(np.median(times))


def blobs(size: int, seed: int = 0) -> np.ndarray:
    """A smooth, blob-like uint8 frame (what the VAE decodes)."""
    y, x = np.mgrid[0:size, 0:size] / size
    rng = np.random.default_rng(seed)
    chans = [np.sin(x * rng.uniform(2, 6) + y * rng.uniform(2, 6) + rng.uniform(0, 6))
             for _ in range(3)]
    return ((np.stack(chans, -1) * 0.5 + 0.5) * 255).astype(np.uint8)


def naive_look(img: np.ndarray, prev: np.ndarray | None, p: LookParams) -> np.ndarray:
    """The obvious float32 implementation at display resolution (the baseline)."""
    f = img.astype(np.float32) / 255.0
    if p.trails > 0 and prev is not None:
        f = prev * p.trails + f * (1.0 - p.trails)
    lum = (f @ LUMA)[..., None]
    f = np.clip(lum + p.saturation * (f - lum), 0, 1)
    f = np.clip((f - 0.5) * p.contrast + 0.5, 0, 1)
    if p.posterize >= 2:
        n = p.posterize - 1
        s = f * n
        k = np.minimum(np.floor(s), n - 1)
        a = 4.4 / max(p.softness, 1e-3)
        lo, hi = 1 / (1 + np.exp(a / 2)), 1 / (1 + np.exp(-a / 2))
        f = (k + (1 / (1 + np.exp(-a * (s - k - 0.5))) - lo) / (hi - lo)) / n
    return np.clip(f * p.brightness * 255.0 + 0.5, 0, 255).astype(np.uint8)


def bench_look(size: int) -> None:
    small = blobs(NATIVE)
    big_rgb = np.repeat(np.repeat(blobs(NATIVE), size // NATIVE, 0), size // NATIVE, 1)
    surface_bytes = np.zeros((size, size, 4), np.uint8)   # a 32-bit surface's pixels
    for name, p in SETTINGS.items():
        look = Look()

        def ours(look: Look = look, p: LookParams = p) -> None:
            look.advance(p, 1 / 60)
            look.pre(small)
            look.post(surface_bytes)

        prev = big_rgb.astype(np.float32) / 255.0
        fast = ms(ours)
        slow = ms(lambda p=p, prev=prev: naive_look(big_rgb, prev, p), repeat=5)
        ratio = f"x{slow / fast:,.0f}" if fast >= 0.01 else "(skipped: nothing to do)"
        print(f"  look {size}x{size} {name:8s}: {fast:6.2f} ms   naive float {slow:7.1f} ms"
              f"   {ratio}")


def bench_display(size: int) -> None:
    display = Display((size, size), fps=0)
    frame = blobs(NATIVE)
    screen = display.screen

    def naive(p: LookParams) -> None:
        """make_surface + smoothscale each frame; the look by read-back and float numpy."""
        surf = pygame.transform.smoothscale(
            pygame.surfarray.make_surface(frame.swapaxes(0, 1)), (size, size))
        if p != SETTINGS["neutral"]:
            img = pygame.surfarray.array3d(surf)
            surf = pygame.surfarray.make_surface(naive_look(img, None, p))
        screen.blit(surf, (0, 0))

    for name, p in SETTINGS.items():
        base = ms(lambda p=p: naive(p), repeat=10)
        t = ms(lambda p=p: display.show(frame, p, 1 / 60))
        print(f"  display {size}x{size} {name:8s}: {t:5.2f} ms/frame   naive {base:6.2f} ms"
              f"   x{base / t:.1f}")
    display.show(frame, SETTINGS["typical"], 1 / 60)
    print(f"  picture() read-back {size}x{size}: {ms(display.picture):.2f} ms"
          f"   (image.tobytes: {ms(lambda: pygame.image.tobytes(screen, 'RGB')):.2f} ms)")
    hud = Hud(visible=True)
    info = HudInfo(fps=60.0, decode_ms=3.3, mode="drift", speed=1.0, temperature=1.0,
                   dims=tuple(np.linspace(-2, 2, 16)), pinned=frozenset({0, 3}),
                   recording=True, rec_seconds=12.0, osc_age=0.1)
    print(f"  HUD draw: {ms(lambda: hud.draw(screen, info, 1 / 60)):.3f} ms")
    display.close()


def naive_grain(img: np.ndarray, std: float, frame: int) -> np.ndarray:
    """Fresh monochrome Gaussian noise every frame, added in float and clipped (the
    baseline)."""
    noise = np.random.default_rng(frame).normal(0.0, std, img.shape[:2]).astype(np.float32)
    return np.clip(img + noise[..., None] + 0.5, 0, 255).astype(np.uint8)


def bench_grain(size: int, amount: float = 0.3) -> None:
    std = amount * GRAIN_MAX_STD
    tile = GrainTile(std)
    rgb = np.repeat(np.repeat(blobs(NATIVE), size // NATIVE, 0), size // NATIVE, 1)
    display = Display((size, size), fps=0)
    scaler = SurfaceScaler()
    image = scaler.draw(blobs(NATIVE), (0, 0, NATIVE, NATIVE), (size, size))
    counter = iter(range(10**9))

    def window() -> None:
        scaler.add_grain(image, Grain(tile, next(counter)), size, size)

    def arrays() -> None:
        Grain(tile, next(counter)).apply(rgb)

    def rebuild() -> None:
        fresh = GrainTile(std * 0.99)
        scaler.add_grain(image, Grain(fresh, next(counter)), size, size)

    live, offline, fade = ms(window, 60), ms(arrays, 30), ms(rebuild, 20)
    naive = ms(lambda: naive_grain(rgb, std, next(counter)), 10)
    print(f"  grain {size}x{size}: window blits {live:5.2f} ms   numpy {offline:5.2f} ms   "
          f"naive np.random {naive:6.2f} ms   x{naive / live:.0f} (window), "
          f"x{naive / offline:.0f} (numpy)")
    print(f"  grain {size}x{size}: a frame whose strength changed (new tile + blits) "
          f"{fade:5.2f} ms")
    frame = blobs(NATIVE)
    for name, p in (("typical", SETTINGS["typical"]), ("neutral", SETTINGS["neutral"])):
        with_grain = LookParams(**{**dict(p), "grain": amount})
        off = ms(lambda p=p: display.show(frame, p, 1 / 60))
        on = ms(lambda p=with_grain: display.show(frame, p, 1 / 60))
        print(f"  display {size}x{size} {name} + grain {amount}: {on:5.2f} ms/frame"
              f"   without grain {off:5.2f} ms   (+{on - off:.2f} ms)")
    display.close()


def bench_crisp(size: int) -> None:
    """The window's crisp path: posterise after a 2x bicubic pre-step, vs none."""
    display = Display((size, size), fps=0)
    p = SETTINGS["typical"]
    for native in (64, 128):
        frame = blobs(native)
        stepped = ms(lambda f=frame: display.show(f, p, 1 / 60))
        SurfaceScaler.crisp_prestep = 1
        display.show(frame, p, 1 / 60)
        plain = ms(lambda f=frame: display.show(f, p, 1 / 60))
        SurfaceScaler.crisp_prestep = 2
        print(f"  crisp {native}px -> {size}x{size}: 2x pre-step {stepped:5.2f} ms/frame"
              f"   without (naive) {plain:5.2f} ms   (+{stepped - plain:.2f} ms)")
    display.close()


def _steepen_naive(frame: np.ndarray, radius: int = 2, gain: float = 3.0) -> np.ndarray:
    """The same edge steepening the obvious way: a float window view, min and max over it."""
    p = np.pad(frame.astype(np.float32), ((radius, radius), (radius, radius), (0, 0)), "edge")
    win = np.lib.stride_tricks.sliding_window_view(p, (2 * radius + 1,) * 2, axis=(0, 1))
    lo, hi = win.min((-2, -1)), win.max((-2, -1))
    mid = (lo + hi) / 2
    return np.clip(np.rint(mid + (frame - mid) * gain), lo, hi).astype(np.uint8)


def bench_steepen() -> None:
    """steepen_edges on the native frame (the crisp path's first step) vs the naive version."""
    for native in (64, 128):
        frame = blobs(native)
        assert np.array_equal(steepen_edges(frame), _steepen_naive(frame))
        fast = ms(lambda f=frame: steepen_edges(f))
        naive = ms(lambda f=frame: _steepen_naive(f))
        print(f"  steepen edges {native}x{native}: {fast:5.2f} ms/frame   naive window view"
              f" {naive:5.2f} ms   ({naive / fast:.1f}x)")


def bench_pacing(frames: int = 60) -> None:
    clock = pygame.time.Clock()
    for name, wait in (("FramePacer", FramePacer(60).wait),
                       ("Clock.tick", lambda: clock.tick(60))):
        wait()
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(frames):
            wait()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        print(f"  {name:10s}: {frames / wall:6.2f} fps (target 60), CPU {100 * cpu / wall:4.1f} %"
              " of a core while idle")


def main() -> None:
    pygame.display.init()
    print("look stage (native 64x64 frame, picture upscaled to the window)")
    for size in (512, 1024):
        bench_look(size)
    print("display path: 64x64 frame -> window (show = look + upscale + blit)")
    for size in (512, 1024):
        bench_display(size)
    print("film grain (look.grain 0.3)")
    for size in (512, 1024):
        bench_grain(size)
    print("crisp edges (posterize 4, softness 0.3): window path with and without the pre-step")
    for size in (512, 1024):
        bench_crisp(size)
    print("edge steepening before a crisp effect (native frame)")
    bench_steepen()
    print("frame pacing")
    bench_pacing()


if __name__ == "__main__":
    main()
