"""Any image file -> correct 8-bit RGB; a folder of images -> one uint8 array at the model's size.

Every place that reads an image (training folders, snapshots and keyframes, ``--start-from``,
files dropped on the window) goes through ``open_image`` and ``to_rgb8``, so a picture is read
the way image viewers show it:

- the first frame of an animated file (GIF, APNG, WebP);
- EXIF orientation applied (phones store portrait photos sideways with a rotate tag);
- an embedded ICC profile (Display P3 from phones, Adobe RGB, CMYK or grey profiles) converted to
  sRGB: relative colorimetric with black-point compensation, out-of-gamut colours clipped;
- tones: 16-bit (``I;16`` and its byte orders) scaled by 1/257; 32-bit integer (``I``) taken as
  16-bit when all values lie in 0..65535 (what 16-bit PNG/TIFF decode to), else as the full
  0..2**31-1 range (negatives clipped); float (``F``) clipped to 0..1 then times 255; every
  scaling rounds half up (``F`` 0.5 -> 128, ``I;16`` 32768 -> 128); ``1``, ``L``, ``P``,
  ``CMYK`` (no profile: Pillow's plain inversion), ``YCbCr``, ``LAB`` and ``HSV`` as Pillow
  converts them;
- transparency (an alpha channel, or a palette/colour-key transparency) composited over a
  background colour, white by default (``latentsketch train --background``).

Pillow has no common error base (``DecompressionBombError`` derives from plain ``Exception``), so
``READ_ERRORS`` names what it raises on bad files, and each becomes ``ImageReadError``: one line
naming the file and what to do.

Training folders are loaded once into memory (a 20k-image set at 64 px is 250 MB) so epochs never
touch the disk. Unreadable files are skipped and counted, not fatal: a photo folder always has one.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms, ImageColor, ImageOps, UnidentifiedImageError

from latentsketch.errors import UserError

EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")

Colour = tuple[int, int, int]
WHITE: Colour = (255, 255, 255)

# What Pillow raises on damaged, hostile or unsupported files. OSError covers missing files,
# UnidentifiedImageError and truncated data; the others come from format plugins parsing bad
# headers (SyntaxError "broken PNG file", struct.error/IndexError/KeyError on short or odd
# tables, zlib.error in compressed text chunks) and from oversized images.
READ_ERRORS: tuple[type[BaseException], ...] = (
    OSError, UnidentifiedImageError, ValueError, SyntaxError, EOFError, struct.error,
    zlib.error, IndexError, KeyError, TypeError, ZeroDivisionError, MemoryError,
    Image.DecompressionBombError,
)

_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}
_ICC_SPACE = {"RGB": "RGB ", "L": "GRAY", "CMYK": "CMYK", "LAB": "LAB "}
_INT32_MAX = 2**31 - 1
_ORIENTATION = 0x0112  # the EXIF tag
log = logging.getLogger("latentsketch")


class DataError(UserError, ValueError):
    """A data set that cannot be used; the message is one line naming the folder."""


class ImageReadError(DataError):
    """An image file that cannot be read; the message is one line naming the file and a fix."""


@dataclass(frozen=True)
class ImageSet:
    images: np.ndarray  # (N, H, W, C) uint8
    skipped: tuple[str, ...]
    source: str
    transparent: int = 0         # images that were composited over ``background``
    background: Colour = WHITE


# --- one file ------------------------------------------------------------------------------

def describe_read_error(path: str | os.PathLike[str], err: BaseException) -> str:
    """One line: which file, what is wrong with it, and what to do."""
    if isinstance(err, Image.DecompressionBombError):
        n = [int(v) for v in re.findall(r"\d+", str(err))]
        size = f"declares {n[0]:,} pixels, over Pillow's safety limit of {n[1]:,}" \
            if len(n) >= 2 else "declares more pixels than Pillow's safety limit"
        return f"image {path}: its header {size} (damaged or hostile?); use a smaller image"
    if isinstance(err, UnidentifiedImageError):
        return (f"image {path}: not an image Pillow can read (damaged, or not a PNG, JPEG, "
                f"WebP, GIF, BMP or TIFF file)")
    if isinstance(err, MemoryError):
        return f"image {path}: too large to fit in memory; use a smaller image"
    if isinstance(err, IsADirectoryError) or (isinstance(err, OSError) and os.path.isdir(path)):
        return f"image {path}: a folder, not a picture; give an image file (PNG, JPEG, ...)"
    if isinstance(err, OSError) and err.strerror:
        return f"cannot read image {path}: {err.strerror}"
    text = str(err).strip().splitlines()
    reason = text[0] if text else type(err).__name__
    return f"image {path}: damaged or truncated ({reason}); re-export it or remove it"


@contextmanager
def open_image(path: str | os.PathLike[str], draft_size: tuple[int, int] | None = None,
               decode: bool = True) -> Iterator[Image.Image]:
    """Open ``path`` at its first frame, decoded; every Pillow error -> ``ImageReadError``.

    Args:
        draft_size: let JPEG decode at a reduced scale no smaller than this (much faster for
            photos that are resized down anyway).
        decode: False to read only the header and metadata (a photo dropped on the live window
            must not stall it for a full decode); the pixels then load lazily, unguarded.

    Only opening and decoding are guarded: an exception raised in the ``with`` body passes
    through unchanged.
    """
    try:
        im = Image.open(path)
    except READ_ERRORS as e:
        raise ImageReadError(describe_read_error(path, e)) from e
    with im:
        try:
            im.seek(0)
            if draft_size is not None:
                im.draft(None, draft_size)
            if decode:
                im.load()
        except READ_ERRORS as e:
            raise ImageReadError(describe_read_error(path, e)) from e
        yield im


def read_rgb(path: str | os.PathLike[str], background: Colour = WHITE,
             draft_size: tuple[int, int] | None = None) -> np.ndarray:
    """The image at ``path`` as viewers show it: (H, W, 3) uint8 sRGB. See ``to_rgb8``."""
    with open_image(path, draft_size) as im:
        try:
            return to_rgb8(im, background)
        except READ_ERRORS as e:
            raise ImageReadError(describe_read_error(path, e)) from e


def to_rgb8(im: Image.Image, background: Colour = WHITE) -> np.ndarray:
    """Any Pillow image -> (H, W, 3) uint8 sRGB, oriented, transparency on ``background``.

    The module docstring lists the rules per mode. Raises ValueError for a mode Pillow cannot
    convert, and Pillow's own errors for damaged EXIF data (``read_rgb`` turns both into one
    line).
    """
    rgb, alpha = _srgb_and_alpha(im)
    return np.asarray(rgb if alpha is None else _composite(rgb, alpha, background), np.uint8)


def _srgb_and_alpha(im: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    """Oriented sRGB colour (mode RGB) and alpha (mode L), or None if nothing is see-through.

    Stays in Pillow images: a numpy round trip per step doubled the cost of reading a PNG.
    """
    icc = im.info.get("icc_profile")
    if im.getexif().get(_ORIENTATION, 1) != 1:  # exif_transpose copies even when upright
        im = ImageOps.exif_transpose(im) or im
    alpha: Image.Image | None = None
    if im.mode.startswith("I") or im.mode == "F":
        a = np.asarray(im)
        key = im.info.get("transparency")  # a 16-bit PNG's colour key is one grey value
        if isinstance(key, int):
            alpha = Image.fromarray(np.where(a == key, 0, 255).astype(np.uint8), "L")
        im = Image.fromarray(_wide_to_l8(a), "L")
    elif has_transparency(im):
        grey = im.mode in ("1", "L", "LA", "La")
        if im.mode not in ("LA", "RGBA"):
            im = im.convert("LA" if grey else "RGBA")
        alpha = im.getchannel("A")
        im = im.convert("L" if grey else "RGB")
    elif im.mode in ("1", "P", "RGBX"):
        im = im.convert("L" if im.mode == "1" else "RGB")
    if alpha is not None and alpha.getextrema()[0] == 255:  # an alpha that hides nothing
        alpha = None
    return _to_srgb(im, icc), alpha


def has_transparency(im: Image.Image) -> bool:
    """True if ``im`` has an alpha channel or palette/colour-key transparency."""
    if im.mode in _ALPHA_MODES or "transparency" in im.info:
        return True
    palette = im.palette if im.mode == "P" else None
    return palette is not None and palette.mode == "RGBA"


def _wide_to_l8(a: np.ndarray) -> np.ndarray:
    """16/32-bit integer or float grey (H, W) -> uint8, rounding half up."""
    if a.dtype.kind == "f":
        x = np.nan_to_num(a.astype(np.float64), nan=0.0)
        return np.floor(np.clip(x, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    v = a.astype(np.int64)
    if v.size and (v.min() < 0 or v.max() > 65535):  # true 32-bit data: the full int32 range
        return np.floor(np.clip(v, 0, _INT32_MAX) * (255.0 / _INT32_MAX) + 0.5).astype(np.uint8)
    return ((v + 128) // 257).astype(np.uint8)  # exact round-half-up of v / 257


def _to_srgb(im: Image.Image, icc: bytes | None) -> Image.Image:
    """L, RGB, CMYK, YCbCr, LAB or HSV -> sRGB (mode RGB), through ``icc`` if it fits."""
    transform = _transform(icc, im.mode) if icc else None
    if transform is None and im.mode == "LAB":
        transform = _transform(None, "LAB")
    if transform is not None:
        return transform.apply(im)
    return im if im.mode == "RGB" else im.convert("RGB")


@functools.lru_cache(maxsize=16)
def _transform(icc: bytes | None, mode: str) -> ImageCms.ImageCmsTransform | None:
    """A cached transform from ``icc`` (None: CIELAB D50) for ``mode`` to sRGB; None if unusable.

    A profile for another colour space than the pixels (an RGB profile on a grey image), or one
    LittleCMS cannot parse, is ignored as viewers do, with a log line.
    """
    if mode not in _ICC_SPACE:
        return None
    try:
        src = ImageCms.ImageCmsProfile(io.BytesIO(icc)) if icc else \
            ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB"))
        if src.profile.xcolor_space.upper() != _ICC_SPACE[mode]:
            return None
        return ImageCms.buildTransform(
            src, _srgb(), mode, "RGB",
            renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC,
            flags=ImageCms.Flags.BLACKPOINTCOMPENSATION)
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError) as e:
        log.warning("ignoring an unusable embedded colour profile (%s)", e)
        return None


@functools.cache
def _srgb() -> ImageCms.ImageCmsProfile:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _composite(rgb: Image.Image, alpha: Image.Image, background: Colour) -> Image.Image:
    """``rgb`` over a flat ``background`` through ``alpha`` (mode L), same size.

    Pillow's masked paste gives exactly ``round(bg + (rgb - bg) * alpha / 255)`` per channel
    (never a tie), in C.
    """
    out = Image.new("RGB", rgb.size, background)
    out.paste(rgb, mask=alpha)
    return out


def parse_background(text: str) -> Colour:
    """A colour as a person writes it: ``white``, ``black``, ``#202020``, ``#fff``, ``32,32,32``.

    Raises ValueError (one line) for anything else.
    """
    t = text.strip()
    if re.fullmatch(r"\d+\s*,\s*\d+\s*,\s*\d+", t):
        rgb = tuple(int(v) for v in t.split(","))
        if all(0 <= v <= 255 for v in rgb):
            return rgb[0], rgb[1], rgb[2]
        raise ValueError(f"colour {text!r}: each of r,g,b must be in 0..255")
    try:
        c = ImageColor.getrgb(t)
    except ValueError:
        raise ValueError(f"colour {text!r} is not a colour name, #rrggbb or r,g,b "
                         f"(e.g. white, black, #202020, 32,32,32)") from None
    return c[0], c[1], c[2]


# --- a folder ------------------------------------------------------------------------------

def find_images(folder: str | os.PathLike[str]) -> list[Path]:
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"images {folder}: not a folder")
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in EXTENSIONS and p.is_file())


def load_image(path: Path, size: int, channels: int = 3, background: Colour = WHITE
               ) -> np.ndarray:
    """Read as viewers show it, centre-crop to a square, resize with a good filter.

    Returns (size, size, channels) uint8; raises ImageReadError (one line) for a bad file.
    """
    return _load(path, size, channels, background)[0]


def load_fitted(path: Path, size: int, channels: int = 3, background: Colour = WHITE
                ) -> tuple[np.ndarray, bool]:
    """``load_image``, and whether the image had transparency (composited over
    ``background``). Raises ImageReadError (one line) for a bad file."""
    return _load(path, size, channels, background)


def _load(path: Path, size: int, channels: int, background: Colour) -> tuple[np.ndarray, bool]:
    """``load_image``, and whether the image had transparency (composited)."""
    with open_image(path, draft_size=(size, size)) as im:
        try:
            rgb, alpha = _srgb_and_alpha(im)
        except READ_ERRORS as e:
            raise ImageReadError(describe_read_error(path, e)) from e
    if alpha is not None:
        rgb = _composite(rgb, alpha, background)
    return fit_square(rgb, size, channels), alpha is not None


def fit_square(im: Image.Image | np.ndarray, size: int, channels: int = 3) -> np.ndarray:
    """Centre-crop to a square and resize (Lanczos) to ``size``: how every image meets a model.

    ``im`` is an RGB Pillow image or an (H, W, 3) uint8 array. Returns (size, size, channels)
    uint8.
    """
    rgb = im if isinstance(im, Image.Image) else Image.fromarray(
        np.ascontiguousarray(im, np.uint8), "RGB")
    w, h = rgb.size
    s = min(w, h)
    left, top = (w - s) // 2, (h - s) // 2
    sq = rgb.crop((left, top, left + s, top + s))
    sq = sq.resize((size, size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    a = np.asarray(sq.convert("L") if channels == 1 else sq, np.uint8)
    return a[..., None] if channels == 1 else a


def load_folder(folder: str | os.PathLike[str], size: int, channels: int = 3,
                progress: Callable[[int, int], None] | None = None,
                background: Colour = WHITE) -> ImageSet:
    """Every readable image under ``folder`` (recursively) at ``size`` x ``size``.

    Transparent images are composited over ``background``; unreadable files are skipped and
    listed in ``ImageSet.skipped``. DataError (one line) if nothing is readable.
    """
    paths = find_images(folder)
    if not paths:
        raise DataError(
            f"images {folder}: no images found (looked for {', '.join(EXTENSIONS)}, recursively)"
        )
    out = np.empty((len(paths), size, size, channels), np.uint8)
    n = transparent = 0
    skipped: list[str] = []
    for i, p in enumerate(paths):
        try:
            out[n], alpha = _load(p, size, channels, background)
            n += 1
            transparent += alpha
        except ImageReadError:
            skipped.append(str(p))
        if progress:
            progress(i + 1, len(paths))
    if n == 0:
        raise DataError(f"images {folder}: none of the {len(paths)} image files could be read")
    return ImageSet(out[:n], tuple(skipped), str(folder), transparent, background)
