"""Images are read the way viewers show them: orientation, transparency, tones, colour profiles.

Real files throughout: the cases in tests/cases/ (copied from the hardening issue) and files of
every kind written with Pillow into tmp_path, read back through ``read_rgb`` / ``load_folder``.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from latentsketch.data.images import (
    READ_ERRORS,
    DataError,
    ImageReadError,
    load_folder,
    load_image,
    parse_background,
    read_rgb,
    to_rgb8,
)

CASES = Path(__file__).parent / "cases"


def _red(a: np.ndarray) -> np.ndarray:
    return (a[..., 0] > 150) & (a[..., 1] < 100) & (a[..., 2] < 100)


# --- orientation ---------------------------------------------------------------------------

def test_exif_orientation_case_reads_portrait_with_the_square_top_right() -> None:
    stored = np.asarray(Image.open(CASES / "exif-orientation-6.jpg"))
    assert stored.shape == (60, 100, 3) and _red(stored)[7:18, 7:18].all()  # top-left, sideways
    a = read_rgb(CASES / "exif-orientation-6.jpg")
    assert a.shape == (100, 60, 3)  # portrait, as viewers show it
    red = _red(a)
    assert red[7:18, 42:53].all()  # the square sits top-right
    assert red.sum() < 15 * 15 + 20 and not red[:, :35].any() and not red[25:].any()


# What a viewer does for each EXIF orientation, expressed as the transform that *stores* it.
_STORE = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
          4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
          6: Image.Transpose.ROTATE_90, 7: Image.Transpose.TRANSVERSE,
          8: Image.Transpose.ROTATE_270}


@pytest.mark.parametrize("orientation", range(1, 9))
@pytest.mark.parametrize("fmt", ["png", "jpeg"])
def test_every_exif_orientation_reads_upright(tmp_path: Path, orientation: int,
                                              fmt: str) -> None:
    seen = np.full((40, 64, 3), 255, np.uint8)  # landscape, red block top-left
    seen[2:14, 2:14] = (255, 0, 0)
    stored = Image.fromarray(seen)
    if _STORE[orientation] is not None:
        stored = stored.transpose(_STORE[orientation])
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.{fmt}"
    stored.save(path, exif=exif.tobytes(), **({"quality": 95} if fmt == "jpeg" else {}))
    a = read_rgb(path)
    assert a.shape == seen.shape
    assert _red(a)[4:12, 4:12].all() and not _red(a)[20:, 20:].any()


def test_training_reads_large_rotated_and_cmyk_jpegs_upright(tmp_path: Path) -> None:
    seen = np.zeros((800, 400, 3), np.uint8)  # portrait: the centre square is red over blue
    seen[:400] = (255, 0, 0)
    seen[400:] = (0, 0, 255)
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(seen).transpose(_STORE[6]).save(tmp_path / "a.jpg", exif=exif.tobytes())
    Image.fromarray(seen).convert("CMYK").save(tmp_path / "b.jpg")  # decoded at 1/4 scale
    for name in ("a.jpg", "b.jpg"):
        a = load_image(tmp_path / name, 64).astype(int)
        assert a.shape == (64, 64, 3)
        assert np.abs(a[8:28, 4:60] - [255, 0, 0]).max() <= 12, name
        assert np.abs(a[36:56, 4:60] - [0, 0, 255]).max() <= 12, name


# --- transparency --------------------------------------------------------------------------

def test_transparent_case_comes_out_on_white() -> None:
    raw = np.asarray(Image.open(CASES / "rgba-transparent.png"))
    assert raw[0, 0].tolist() == [0, 0, 0, 0]  # hidden black behind alpha 0
    a = read_rgb(CASES / "rgba-transparent.png")
    assert a.shape == (64, 64, 3)
    for y, x in ((0, 0), (0, 63), (63, 0), (63, 63)):
        assert a[y, x].tolist() == [255, 255, 255]
    assert a[32, 32].tolist() == [40, 90, 230]  # the opaque blue disc is untouched


def _transparent_files(tmp_path: Path) -> dict[str, Path]:
    """One file per way an image can be transparent: pixel (0, 0) clear, (0, 1) opaque
    (200, 100, 50) or grey 120, (0, 2) half transparent (alpha 128) where the kind allows."""
    files: dict[str, Path] = {}
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[0, 1] = (200, 100, 50, 255)
    rgba[0, 2] = (200, 100, 50, 128)
    rgba[1:] = (200, 100, 50, 255)
    for fmt in ("png", "webp", "tiff"):
        files[f"RGBA.{fmt}"] = tmp_path / f"rgba.{fmt}"
        Image.fromarray(rgba, "RGBA").save(files[f"RGBA.{fmt}"], lossless=True)
    la = np.zeros((4, 4, 2), np.uint8)
    la[0, 1], la[0, 2], la[1:] = (120, 255), (120, 128), (120, 255)
    files["LA.png"] = tmp_path / "la.png"
    Image.fromarray(la, "LA").save(files["LA.png"])
    # palette with a transparent index (GIF and PNG tRNS) and a palette with alpha per entry
    p = Image.new("P", (4, 4), 1)
    p.putpalette([0, 0, 0, 200, 100, 50] + [0, 0, 0] * 254)
    p.putpixel((0, 0), 0)
    for fmt in ("png", "gif"):
        files[f"P-index.{fmt}"] = tmp_path / f"p.{fmt}"
        p.save(files[f"P-index.{fmt}"], transparency=0)
    pa = Image.new("P", (4, 4), 1)
    pa.putpalette([0, 0, 0, 0, 200, 100, 50, 255, 200, 100, 50, 128] + [0] * 4 * 253, "RGBA")
    pa.putpixel((0, 0), 0)
    pa.putpixel((2, 0), 2)
    files["P-RGBA-palette.png"] = tmp_path / "pa.png"
    pa.save(files["P-RGBA-palette.png"])
    # colour keys: an RGB, an 8-bit grey and a 16-bit grey PNG with tRNS
    key = Image.new("RGB", (4, 4), (200, 100, 50))
    key.putpixel((0, 0), (1, 2, 3))
    files["RGB-key.png"] = tmp_path / "rgbkey.png"
    key.save(files["RGB-key.png"], transparency=(1, 2, 3))
    grey = Image.new("L", (4, 4), 120)
    grey.putpixel((0, 0), 7)
    files["L-key.png"] = tmp_path / "lkey.png"
    grey.save(files["L-key.png"], transparency=7)
    g16 = np.full((4, 4), 120 * 257, np.uint16)
    g16[0, 0] = 9
    files["I;16-key.png"] = tmp_path / "g16key.png"
    Image.fromarray(g16).save(files["I;16-key.png"], transparency=9)
    return files


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0), (32, 64, 96)])
def test_every_kind_of_transparency_is_composited(tmp_path: Path,
                                                  background: tuple[int, int, int]) -> None:
    for kind, path in _transparent_files(tmp_path).items():
        a = read_rgb(path, background)
        opaque = [120] * 3 if kind.startswith(("LA", "L-", "I;16")) else [200, 100, 50]
        assert a[0, 0].tolist() == list(background), kind
        assert a[0, 1].tolist() == opaque, kind
        assert a[3, 3].tolist() == opaque, kind
        if kind.startswith(("RGBA", "LA", "P-RGBA")):  # alpha 128 blends half-way
            half = (np.array(opaque) * 128 + np.array(background) * 127 + 127) // 255
            assert np.abs(a[0, 2].astype(int) - half).max() <= 1, kind


def test_palette_with_alpha_mode_pa_in_memory() -> None:
    pa = Image.new("PA", (2, 1))
    pa.putpalette([0, 0, 0, 200, 100, 50] + [0, 0, 0] * 254)
    pa.putpixel((0, 0), (1, 0))    # palette entry 1, alpha 0
    pa.putpixel((1, 0), (1, 255))  # palette entry 1, opaque
    assert to_rgb8(pa, (9, 9, 9)).tolist() == [[[9, 9, 9], [200, 100, 50]]]


def test_composite_is_exact_on_an_alpha_ramp() -> None:
    rgba = np.zeros((1, 256, 4), np.uint8)
    rgba[0, :, :3] = (250, 0, 10)
    rgba[0, :, 3] = np.arange(256)
    a = to_rgb8(Image.fromarray(rgba, "RGBA"), (0, 200, 100)).astype(int)
    alpha = np.arange(256)
    want = (np.array([250, 0, 10]) * alpha[:, None] + np.array([0, 200, 100])
            * (255 - alpha[:, None]) + 127) // 255
    assert np.array_equal(a[0], want)


def test_folder_composites_on_the_given_background_and_counts(tmp_path: Path) -> None:
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[8:24, 8:24] = (0, 0, 255, 255)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "logo.png")
    Image.new("RGB", (32, 32), (0, 255, 0)).save(tmp_path / "plain.png")
    Image.new("RGBA", (32, 32), (0, 255, 0, 255)).save(tmp_path / "x-opaque-rgba.png")
    s = load_folder(tmp_path, 16, background=(32, 32, 32))
    assert s.transparent == 1 and s.background == (32, 32, 32)  # opaque alpha is not counted
    assert s.images[2][0, 0].tolist() == [0, 255, 0]
    logo = s.images[0]
    assert logo[0, 0].tolist() == [32, 32, 32] and logo[8, 8].tolist() == [0, 0, 255]
    assert load_folder(tmp_path, 16).images[0][0, 0].tolist() == [255, 255, 255]
    grey = load_image(tmp_path / "logo.png", 16, channels=1)
    assert grey.shape == (16, 16, 1) and grey[0, 0, 0] == 255


# --- tones -----------------------------------------------------------------------------------

def _save(tmp_path: Path, im: Image.Image, name: str) -> Path:
    path = tmp_path / name
    im.save(path)
    return path


def test_16_bit_grey_scales_by_1_over_257(tmp_path: Path) -> None:
    values = np.array([[0, 1, 128, 129, 257, 32768, 65534, 65535]], np.uint16)
    want = [0, 0, 0, 1, 1, 128, 255, 255]  # round half up of v / 257
    png = _save(tmp_path, Image.fromarray(values), "g16.png")
    assert Image.open(png).mode.startswith("I")
    assert read_rgb(png)[0, :, 0].tolist() == want
    for mode in ("I;16", "I;16L", "I;16B"):  # every byte order, through a real TIFF
        im = Image.new(mode, (8, 1))
        for x, v in enumerate(values[0]):
            im.putpixel((x, 0), int(v))
        tif = _save(tmp_path, im, f"{mode.replace(';', '_')}.tif")
        a = read_rgb(tif)
        assert a[0, :, 0].tolist() == want, mode
        assert (a[..., 0] == a[..., 1]).all() and (a[..., 1] == a[..., 2]).all()


def test_32_bit_integer_is_16_bit_range_unless_values_exceed_it(tmp_path: Path) -> None:
    small = np.array([[0, 257, 32768, 65535]], np.int32)
    tif = _save(tmp_path, Image.fromarray(small, "I"), "i32.tif")
    assert Image.open(tif).mode == "I"
    assert read_rgb(tif)[0, :, 0].tolist() == [0, 1, 128, 255]
    full = np.array([[-5, 0, 2**30, 2**31 - 1]], np.int32)  # beyond 16 bits: the int32 range
    tif = _save(tmp_path, Image.fromarray(full, "I"), "i32full.tif")
    assert read_rgb(tif)[0, :, 0].tolist() == [0, 0, 128, 255]


def test_float_is_clipped_to_0_1_then_scaled(tmp_path: Path) -> None:
    values = np.array([[-0.2, 0.0, 0.2, 0.5, 1 / 255, 0.999, 1.0, 1.5, np.nan]], np.float32)
    tif = _save(tmp_path, Image.fromarray(values, "F"), "f.tif")
    assert Image.open(tif).mode == "F"
    assert read_rgb(tif)[0, :, 0].tolist() == [0, 0, 51, 128, 1, 255, 255, 255, 0]


def test_bilevel_grey_palette_cmyk_ycbcr_keep_their_tones(tmp_path: Path) -> None:
    bits = Image.new("1", (2, 1), 0)
    bits.putpixel((1, 0), 1)
    assert read_rgb(_save(tmp_path, bits, "b.png"))[0].tolist() == [[0] * 3, [255] * 3]
    assert read_rgb(_save(tmp_path, Image.new("L", (2, 2), 77), "l.png"))[0, 0].tolist() \
        == [77] * 3
    p = Image.new("P", (2, 2), 3)
    p.putpalette([0, 0, 0] * 3 + [10, 20, 30] + [0, 0, 0] * 252)
    assert read_rgb(_save(tmp_path, p, "p.png"))[1, 1].tolist() == [10, 20, 30]
    cmyk = Image.new("CMYK", (2, 2), (0, 255, 255, 0))
    assert read_rgb(_save(tmp_path, cmyk, "c.tif"))[0, 0].tolist() == [255, 0, 0]
    k50 = Image.new("CMYK", (2, 2), (0, 0, 0, 128))
    assert read_rgb(_save(tmp_path, k50, "k.tif"))[0, 0].tolist() == [127] * 3
    jpg = tmp_path / "c.jpg"
    Image.new("CMYK", (16, 16), (0, 255, 255, 0)).save(jpg, quality=95)
    assert Image.open(jpg).mode == "CMYK"
    assert np.abs(read_rgb(jpg)[8, 8].astype(int) - [255, 0, 0]).max() <= 3
    ycc = Image.new("YCbCr", (2, 2), (76, 85, 255))  # JFIF (full-range) red
    assert np.abs(to_rgb8(ycc)[0, 0].astype(int) - [255, 0, 0]).max() <= 2


@pytest.mark.parametrize("mode", ["1", "L", "LA", "La", "P", "PA", "RGB", "RGBA", "RGBa",
                                  "RGBX", "CMYK", "YCbCr", "LAB", "HSV", "I", "I;16",
                                  "I;16L", "I;16B", "I;16N", "F"])
def test_every_mode_gives_8_bit_rgb(mode: str) -> None:
    a = to_rgb8(Image.new(mode, (5, 3)))
    assert a.shape == (3, 5, 3) and a.dtype == np.uint8


# --- colour profiles ---------------------------------------------------------------------------

_SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                         [0.2126729, 0.7151522, 0.0721750],
                         [0.0193339, 0.1191920, 0.9503041]])
_P3_TO_XYZ = np.array([[0.4865709, 0.2656677, 0.1982173],
                       [0.2289746, 0.6917385, 0.0792869],
                       [0.0000000, 0.0451134, 1.0439444]])
_BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367],
                      [0.0389, -0.0685, 1.0296]])
_D65, _D50 = np.array([0.95047, 1.0, 1.08883]), np.array([0.96422, 1.0, 0.82521])


def _decode(v: np.ndarray) -> np.ndarray:
    v = v / 255.0
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _encode(v: np.ndarray) -> np.ndarray:
    v = np.clip(v, 0, 1)
    return np.round(255 * np.where(v <= 0.0031308, v * 12.92, 1.055 * v ** (1 / 2.4) - 0.055))


def p3_to_srgb(p3: tuple[int, int, int]) -> np.ndarray:
    """What a colour-managed viewer shows for a Display P3 pixel, clipped to sRGB."""
    lin = np.linalg.inv(_SRGB_TO_XYZ) @ _P3_TO_XYZ @ _decode(np.asarray(p3, float))
    return _encode(lin)


def _icc_display_p3() -> bytes:
    """A matrix/shaper ICC v4 profile for Display P3 (D65 white, sRGB curve), built here."""
    adapt = np.linalg.inv(_BRADFORD) @ np.diag((_BRADFORD @ _D50) / (_BRADFORD @ _D65)) \
        @ _BRADFORD
    colorants = adapt @ _P3_TO_XYZ  # columns: red, green, blue in the D50 PCS

    def s15(*v: float) -> bytes:
        return b"".join(struct.pack(">i", round(x * 65536)) for x in v)

    def mluc(text: str) -> bytes:
        s = text.encode("utf-16-be")
        return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(s), 28) + s

    curve = b"para" + bytes(4) + struct.pack(">HH", 3, 0) + s15(
        2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045)
    tags = [(b"desc", mluc("Display P3 (test)")), (b"cprt", mluc("none")),
            (b"wtpt", b"XYZ " + bytes(4) + s15(*_D50)),
            (b"rXYZ", b"XYZ " + bytes(4) + s15(*colorants[:, 0])),
            (b"gXYZ", b"XYZ " + bytes(4) + s15(*colorants[:, 1])),
            (b"bXYZ", b"XYZ " + bytes(4) + s15(*colorants[:, 2])),
            (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    table, data = [], b""
    offset = 128 + 4 + 12 * len(tags)
    for sig, body in tags:
        body += bytes(-len(body) % 4)
        table.append(struct.pack(">4sII", sig, offset + len(data), len(body)))
        data += body
    size = offset + len(data)
    header = struct.pack(">I4sI4s4s4s6H4s4sIII8sI", size, b"lcms", 0x04300000, b"mntr",
                         b"RGB ", b"XYZ ", 2026, 11, 30, 0, 0, 0, b"acsp", b"APPL", 0, 0,
                         0, bytes(8), 0) + s15(*_D50) + bytes(128 - 80)
    return header + struct.pack(">I", len(tags)) + b"".join(table) + data


P3_PIXELS = [(255, 0, 0), (200, 0, 0), (0, 255, 0), (190, 123, 70), (255, 255, 255),
             (0, 0, 0), (128, 128, 128)]


@pytest.mark.parametrize("fmt", ["png", "jpeg", "webp", "tiff"])
def test_display_p3_profile_is_converted_to_srgb(tmp_path: Path, fmt: str) -> None:
    icc = _icc_display_p3()
    assert ImageCms.ImageCmsProfile(io.BytesIO(icc)).profile.xcolor_space == "RGB "
    row = np.array([[p for p in P3_PIXELS for _ in range(8)]] * 8, np.uint8)
    path = tmp_path / f"p3.{fmt}"
    Image.fromarray(row).save(path, icc_profile=icc,
                              **({"quality": 100} if fmt == "jpeg" else {"lossless": True}))
    a = read_rgb(path).astype(int)
    for i, p3 in enumerate(P3_PIXELS):
        want = p3_to_srgb(p3)
        got = a[4, 8 * i + 4]
        tol = 3 if fmt == "jpeg" else 1
        assert np.abs(got - want).max() <= tol, (fmt, p3, got.tolist(), want.tolist())
    assert a[4, 4].tolist() == [255, 0, 0]           # P3 red: sRGB red, clipped
    assert a[4, 12, 0] >= 215 and a[4, 12, 1:].max() <= 1  # P3 (200,0,0) is a brighter sRGB red


def test_profiles_that_do_not_fit_are_ignored(tmp_path: Path,
                                              caplog: pytest.LogCaptureFixture) -> None:
    rgb_profile_on_grey = tmp_path / "g.png"
    Image.new("L", (4, 4), 90).save(rgb_profile_on_grey, icc_profile=_icc_display_p3())
    assert read_rgb(rgb_profile_on_grey)[0, 0].tolist() == [90] * 3
    broken = tmp_path / "broken-icc.png"
    Image.new("RGB", (4, 4), (10, 150, 60)).save(broken, icc_profile=b"not a profile" * 20)
    with caplog.at_level("WARNING", logger="latentsketch"):
        assert read_rgb(broken)[0, 0].tolist() == [10, 150, 60]
    assert "colour profile" in caplog.text


def test_srgb_and_grey_profiles_keep_tones(tmp_path: Path) -> None:
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = tmp_path / "srgb.png"
    Image.new("RGB", (4, 4), (10, 150, 60)).save(path, icc_profile=srgb)
    assert np.abs(read_rgb(path)[0, 0].astype(int) - [10, 150, 60]).max() <= 1


# --- animation ---------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["gif", "png", "webp"])
def test_animated_files_give_their_first_frame(tmp_path: Path, fmt: str) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in ((255, 0, 0), (0, 0, 255), (0, 255, 0))]
    path = tmp_path / f"anim.{fmt}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0,
                   **({"lossless": True} if fmt == "webp" else {}))
    with Image.open(path) as im:
        assert getattr(im, "n_frames", 1) == 3
        im.seek(2)
        assert to_rgb8(im)[4, 4].tolist() == [0, 255, 0]  # to_rgb8 takes the frame it is given
    assert read_rgb(path)[4, 4].tolist() == [255, 0, 0]


# --- errors ------------------------------------------------------------------------------------

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    import zlib

    return struct.pack(">I", len(body)) + kind + body + struct.pack(
        ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def _bad_files(tmp_path: Path) -> dict[str, Path]:
    good = io.BytesIO()
    Image.new("RGB", (64, 64), (1, 2, 3)).save(good, "PNG")
    jpeg = io.BytesIO()
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)).save(
        jpeg, "JPEG")
    ihdr = _png_chunk(b"IHDR", struct.pack(">IIBBBBB", 30000, 30000, 8, 2, 0, 0, 0))
    files = {
        "huge-header.png": (CASES / "huge-header.png").read_bytes(),
        "bomb-rgb.png": b"\x89PNG\r\n\x1a\n" + ihdr + _png_chunk(b"IEND", b""),
        "truncated.png": good.getvalue()[:60],
        "truncated.jpg": jpeg.getvalue()[: len(jpeg.getvalue()) // 2],
        "bad-crc.png": good.getvalue()[:40] + b"\xff" + good.getvalue()[41:],
        "text.png": b"not an image at all",
        "empty.jpg": b"",
        "header-only.gif": b"GIF89a\x10\x00\x10\x00",
    }
    out = {}
    for name, data in files.items():
        out[name] = tmp_path / name
        out[name].write_bytes(data)
    out["missing.png"] = tmp_path / "missing.png"
    (tmp_path / "folder.png").mkdir()
    out["folder.png"] = tmp_path / "folder.png"
    return out


def test_huge_header_case_is_one_line_naming_the_file() -> None:
    with pytest.raises(ImageReadError) as err:
        read_rgb(CASES / "huge-header.png")
    msg = str(err.value)
    assert str(CASES / "huge-header.png") in msg and "\n" not in msg
    assert "200,000,000 pixels" in msg and "use a smaller image" in msg
    assert isinstance(err.value, DataError)


def test_every_bad_file_is_one_line_naming_it(tmp_path: Path) -> None:
    for name, path in _bad_files(tmp_path).items():
        with pytest.raises(ImageReadError) as err:
            read_rgb(path)
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg and len(msg) < 240, (name, msg)
        assert isinstance(err.value.__cause__, READ_ERRORS), name


def test_a_folder_skips_bad_files_and_keeps_good_ones(tmp_path: Path) -> None:
    bad = _bad_files(tmp_path)
    Image.new("RGB", (20, 20), (9, 99, 199)).save(tmp_path / "good.png")
    s = load_folder(tmp_path, 8)
    assert len(s.images) == 1 and s.images[0, 4, 4].tolist() == [9, 99, 199]
    assert len(s.skipped) == len(bad) - 2  # the missing file and the folder are not found


# --- background option ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, rgb", [
    ("white", (255, 255, 255)), ("black", (0, 0, 0)), ("#202020", (32, 32, 32)),
    ("#fff", (255, 255, 255)), ("32,64,96", (32, 64, 96)), (" 1, 2 ,3", (1, 2, 3)),
    ("rgb(4,5,6)", (4, 5, 6)), ("Grey", (128, 128, 128)),
])
def test_background_colours_people_write(text: str, rgb: tuple[int, int, int]) -> None:
    assert parse_background(text) == rgb


@pytest.mark.parametrize("text", ["blurple", "300,0,0", "1,2", "#12345", ""])
def test_bad_background_is_one_line(text: str) -> None:
    with pytest.raises(ValueError, match="colour") as err:
        parse_background(text)
    assert "\n" not in str(err.value)

