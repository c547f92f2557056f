"""Build the emoji training set from registry packages alone (the bundled `emoji` model's data).

Sources: Debian's `fonts-noto-color-emoji` (the Noto Color Emoji bitmap font, OFL-1.1; glyph
images Apache-2.0) and the list of emoji in the npm package `emoji-datasource-google` (MIT,
`package/emoji.json`: every emoji with a Google image, skin-tone variants included). Each emoji is
rendered with Pillow (raqm layout, so ZWJ sequences become one glyph; the font's bitmaps are
136x128 at size 109), centred on a square canvas, composited on a flat background and resized to
the training size. Sequences the font draws as more than one glyph are skipped and counted.

    apt-get install fonts-noto-color-emoji
    npm pack emoji-datasource-google@16.0.0 && tar xzf emoji-datasource-google-16.0.0.tgz
    python tools/emoji_data.py package/emoji.json data/emoji128 --size 128
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from tqdm import tqdm

FONT = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
FONT_SIZE = 109  # the only size the bitmap font renders at (136x128 glyph cells)
CELL = 136


def sequences(emoji_json: Path) -> list[str]:
    """Hex code-point sequences (e.g. '1F468-200D-1F33E') of every emoji with a Google image."""
    out: list[str] = []
    for e in json.loads(emoji_json.read_text()):
        if not e.get("has_img_google"):
            continue
        out.append(e["unified"])
        for v in (e.get("skin_variations") or {}).values():
            if v.get("has_img_google"):
                out.append(v["unified"])
    return out


def render(font: ImageFont.FreeTypeFont, seq: str, size: int, background: tuple[int, int, int]
           ) -> Image.Image | None:
    """One emoji as an RGB image of size x size, or None if the font has no single glyph."""
    text = "".join(chr(int(c, 16)) for c in seq.split("-"))
    box = font.getbbox(text)
    if box[2] - box[0] > CELL + 4:  # drawn as several glyphs: not an emoji this font knows
        return None
    cell = Image.new("RGBA", (CELL, CELL), (0, 0, 0, 0))
    ImageDraw.Draw(cell).text(((CELL - box[2]) // 2, (CELL - box[3]) // 2), text, font=font,
                              embedded_color=True)
    if cell.getbbox() is None:
        return None
    flat = Image.new("RGBA", cell.size, (*background, 255))
    flat.alpha_composite(cell)
    return flat.convert("RGB").resize((size, size), Image.Resampling.LANCZOS)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("emoji_json", type=Path, help="package/emoji.json of emoji-datasource-google")
    p.add_argument("out", type=Path, help="output folder of PNGs")
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--font", default=FONT)
    p.add_argument("--background", default="0,0,0", help="r,g,b (default black: a stage)")
    a = p.parse_args()
    bg = tuple(int(v) for v in a.background.split(","))
    font = ImageFont.truetype(a.font, FONT_SIZE, layout_engine=ImageFont.Layout.RAQM)
    a.out.mkdir(parents=True, exist_ok=True)
    seqs = sequences(a.emoji_json)
    skipped = 0
    for seq in tqdm(seqs, desc="emoji", unit="img"):
        im = render(font, seq, a.size, bg)
        if im is None:
            skipped += 1
            continue
        im.save(a.out / f"{seq.lower()}.png", optimize=False)
    print(f"wrote {len(seqs) - skipped} images to {a.out} ({skipped} skipped: no single glyph)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
