"""A reproducible folder of real photographs: random square crops of the colour photos that
scikit-image and scikit-learn ship inside their wheels (their own licences: see each package).

Used to measure what `latentsketch train DIR` gives on a small folder of photographs. The photos
are read from the installed packages when they import, else from wheel files (zip archives)
given with --wheel; neither package is a dependency of latentsketch.

    pip download --no-deps scikit-image scikit-learn -d wheels/
    python tools/photo_crops.py data/photos --n 800 --size 128 --seed 0 \
        --wheel wheels/scikit_image-*.whl --wheel wheels/scikit_learn-*.whl

Each crop is a square of a random side (0.25 to 1 of the photo's short side) at a random
position, resized with Lanczos and written atomically as ``crop_NNNN.png``.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from latentsketch.sheets import save_png

# The colour photographs among the packages' sample images (charts, test patterns, silhouettes,
# grey images and the right half of the motorcycle stereo pair are left out).
PHOTOS = (
    "skimage/data/astronaut.png",
    "skimage/data/chelsea.png",
    "skimage/data/coffee.png",
    "skimage/data/rocket.jpg",
    "skimage/data/motorcycle_left.png",
    "skimage/data/hubble_deep_field.jpg",
    "skimage/data/retina.jpg",
    "sklearn/datasets/images/china.jpg",
    "sklearn/datasets/images/flower.jpg",
)
MIN_SCALE = 0.25  # smallest crop side, as a share of the photo's short side


def _installed(name: str) -> Path | None:
    """The file ``name`` (``package/sub/file``) inside an installed package, or None."""
    top, rest = name.split("/", 1)
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        p = Path(root) / rest
        if p.is_file():
            return p
    return None


def load_photos(wheels: list[Path]) -> dict[str, Image.Image]:
    """The colour photos of ``PHOTOS`` that can be found, as RGB images, by name.

    Looks in the installed packages first, then in each wheel (zip) of ``wheels``. Raises
    SystemExit with one line if a wheel cannot be read or no photo is found at all.
    """
    found: dict[str, Image.Image] = {}
    archives: list[zipfile.ZipFile] = []
    for w in wheels:
        try:
            archives.append(zipfile.ZipFile(w))
        except (OSError, zipfile.BadZipFile) as e:
            raise SystemExit(f"wheel {w}: cannot read it as a zip archive ({e})") from None
    for name in PHOTOS:
        p = _installed(name)
        data = p.read_bytes() if p is not None else None
        for z in archives:
            if data is None and name in z.namelist():
                data = z.read(name)
        if data is not None:
            found[name] = Image.open(io.BytesIO(data)).convert("RGB")
    if not found:
        raise SystemExit("no photographs found: install scikit-image or scikit-learn, or pass "
                         "their wheel files with --wheel")
    return found


def crop(photo: Image.Image, size: int, rng: np.random.Generator) -> Image.Image:
    """A random square crop of ``photo`` (side MIN_SCALE..1 of its short side, random
    position), resized to ``size`` x ``size`` with Lanczos."""
    w, h = photo.size
    side = max(1, int(round(min(w, h) * rng.uniform(MIN_SCALE, 1.0))))
    x = int(rng.integers(0, w - side + 1))
    y = int(rng.integers(0, h - side + 1))
    return photo.crop((x, y, x + side, y + side)).resize((size, size), Image.Resampling.LANCZOS)


def make_crops(out: Path, n: int, size: int, seed: int, photos: dict[str, Image.Image]
               ) -> list[Path]:
    """Write ``n`` crops of ``photos`` into ``out`` (created); the same arguments give the
    same files. Photos are taken in turn, so each gives about ``n / len(photos)`` crops."""
    names = sorted(photos)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = out / f"crop_{i:04d}.png"
        save_png(crop(photos[names[i % len(names)]], size, rng), path)
        paths.append(path)
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path, help="folder to write the crops into")
    ap.add_argument("--n", type=int, default=800, help="number of crops (default 800)")
    ap.add_argument("--size", type=int, default=128, help="side of each crop in pixels")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--wheel", type=Path, action="append", default=[],
                    help="a scikit-image or scikit-learn wheel to read the photos from "
                         "(repeatable; used for what the installed packages do not give)")
    a = ap.parse_args(argv)
    if a.n < 1 or a.size < 1:
        ap.error("--n and --size must be 1 or more")
    photos = load_photos(a.wheel)
    paths = make_crops(a.out, a.n, a.size, a.seed, photos)
    print(f"{len(paths)} crops of {len(photos)} photographs, {a.size} px, in {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
