"""The heads-up display and the help overlay, drawn over the window after the picture.

Nothing here touches the picture surface, so recordings stay clean. Text is rendered once per
distinct string and cached; the changing figures (fps, decode time) are refreshed four times a
second, which keeps them readable and the HUD well under a millisecond. While paused the
measured figures (fps, decode ms) freeze; the latent bars, mode and speed stay live because
direct edits still move them.

The picture can be any colour, white included, so everything drawn here sits on a dark
backing: text on a translucent black panel, the input lights inside a black ring. A parameter
that was just changed — by a key, the mouse wheel, a MIDI knob or an OSC message alike — shows
its name, value and place in its range for a moment, whether or not the HUD is on, formatted
from its declaration in ``params``; several changed at once share the line.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import pygame

from latentsketch.params import PARAM_BY_NAME, Z_RANGE

TEXT = (235, 235, 235)
DIM_TEXT = (160, 160, 160)
ACCENT = (255, 170, 40)      # pinned dimensions
BAR = (120, 190, 255)
REC = (235, 40, 40)
ERROR = (255, 110, 110)
LIGHT_ON = (90, 240, 120)
LIGHT_OFF = (110, 110, 110)  # an input that is on but quiet, and the label of one that is off
LIGHT_RING = (0, 0, 0)       # behind every light, so it reads on a white picture too
PANEL_ALPHA = 180            # over white that leaves grey 75: light text stays legible
FIGURE_REFRESH = 0.25        # seconds between updates of the measured figures
LIGHT_SECONDS = 0.25         # an input light stays on this long after a message
MESSAGE_FADE = 1.0           # messages and the hint fade out over their last second
VALUE_SECONDS = 1.5          # a changed parameter is shown this long after its last change...
VALUE_FADE = 0.5             # ...fading out over the end
MAX_VALUES = 4               # at most this many at once: the ones changed last
BAR_RANGE = Z_RANGE          # a full bar is 3 standard deviations, as a knob's range


@dataclass(frozen=True)
class HudInfo:
    """What the HUD shows this frame; the app fills it from the engine, decoder and recorder.

    ``dims`` are standardised coordinates (u) of the top dimensions in KL-rank order and
    ``pinned`` the rank indices that are pinned. ``osc_age`` / ``midi_age`` are the seconds
    since the last message from that input (None: the input is off). ``fps`` 0 lets the HUD
    measure the frame rate from the ``dt`` it is drawn with.
    """

    fps: float = 0.0
    decode_ms: float = 0.0
    mode: str = ""
    speed: float = 0.0
    temperature: float = 0.0
    dims: Sequence[float] = ()
    pinned: frozenset[int] = frozenset()
    paused: bool = False
    recording: bool = False
    rec_seconds: float = 0.0
    rec_dropped: int = 0
    rec_queued: int = 0
    osc_age: float | None = None
    midi_age: float | None = None
    status: str = ""
    directions: str = ""   # the directions in use: "pc0 pin +1.50  round +0.80"


class Hud:
    """HUD state: visibility, the help overlay, fading messages and the start-up hint.

    Args:
        help_rows: (keys, description) pairs for the help overlay, e.g. from
            ``keyboard.help_rows()``, so the overlay is generated from the binding table.
        visible: start with the HUD shown (the performance default is hidden).
        hint: text shown while the HUD is hidden in the first ``hint_seconds``.
        max_bars: how many latent dimensions get a bar.
    """

    def __init__(self, help_rows: Sequence[tuple[str, str]] = (), *, visible: bool = False,
                 hint: str = "? for help", hint_seconds: float = 4.0, max_bars: int = 16,
                 font_size: int = 20) -> None:
        pygame.font.init()
        self.visible = visible
        self.muted = False   # draw nothing at all, messages neither (installation mode)
        self.help_visible = False
        self.help_rows = tuple(help_rows)
        self.max_bars = max_bars
        self._font = pygame.font.Font(None, font_size)
        self._help_size = font_size + 2     # the help overlay's largest font, in px
        self._help_fonts: dict[int, pygame.font.Font] = {}
        self._value_font = pygame.font.Font(None, font_size + 10)
        self._line = self._font.get_linesize()
        self._cache: dict[tuple[str, tuple[int, int, int], int], pygame.Surface] = {}
        self._panels: dict[tuple[int, int], pygame.Surface] = {}
        self._help_overlay: pygame.Surface | None = None
        self._clock = 0.0
        self._hint = hint
        self._hint_until = hint_seconds
        self._message = ""
        self._message_error = False
        self._message_until = -1.0
        self._values: dict[str, tuple[float, float]] = {}   # name -> (value, shown until)
        self._figures = (0.0, 0.0)
        self._figures_at = -FIGURE_REFRESH
        self._sums = [0.0, 0.0, 0.0, 0.0]   # frames, seconds, fps sum, decode ms sum

    # --- state -----------------------------------------------------------------------------

    def toggle(self) -> None:
        self.visible = not self.visible

    def toggle_help(self) -> None:
        self.help_visible = not self.help_visible

    def message(self, text: str, *, error: bool = False, seconds: float = 3.0) -> None:
        """Show a one-line status (or error) that fades out; a new one replaces the old."""
        self._message = " ".join(text.split())[:200]
        self._message_error = error
        self._message_until = self._clock + max(0.0, seconds)

    def show_params(self, values: Sequence[tuple[str, float]]) -> None:
        """Show declared parameters' names and values for ``VALUE_SECONDS`` after this call
        (the feedback for whatever input changed them); unknown names are ignored. A parameter
        already shown keeps its place and shows its new value, so a turning knob does not
        push a key's feedback off the line."""
        for name, value in values:
            if name in PARAM_BY_NAME:
                self._values[name] = (float(value), self._clock + VALUE_SECONDS)
        while len(self._values) > MAX_VALUES:
            del self._values[min(self._values, key=lambda n: self._values[n][1])]

    def _shown(self) -> list[tuple[str, float, float]]:
        """(name, value, until) of the parameters on screen now, oldest first."""
        return [(n, v, until) for n, (v, until) in self._values.items() if self._clock < until]

    @property
    def value_text(self) -> str:
        """The parameter feedback on screen now ("" when none), e.g. ``posterize 3``."""
        return "   ".join(_describe(n, v) for n, v, _ in self._shown())

    # --- drawing ---------------------------------------------------------------------------

    def draw(self, surface: pygame.Surface, info: HudInfo, dt: float) -> None:
        """Advance the HUD's clock by ``dt`` and draw whatever is visible onto ``surface``."""
        if dt > 0:
            self._clock += dt
        if not info.paused:
            self._average(info, dt)
        if self.muted:
            return
        if self.visible:
            self._draw_panel(surface, info)
        if self.help_visible:
            self._draw_help(surface)
        elif not self.visible and self._clock < self._hint_until:
            fade = self._fade(self._hint_until)
            hint = self._text(self._hint, TEXT, fade)
            w, h = surface.get_size()
            x, y = w - hint.get_width() - 14, h - self._line - 10
            self._blit_panel(surface, (x - 6, y - 4, hint.get_width() + 12, self._line + 8),
                             fade)
            surface.blit(hint, (x, y))
        if self._message and self._clock < self._message_until:
            colour = ERROR if self._message_error else TEXT
            fade = self._fade(self._message_until)
            text = self._text(self._message, colour, fade)
            self._blit_panel(surface, (8, surface.get_height() - self._line - 14,
                                       text.get_width() + 12, self._line + 8), fade)
            surface.blit(text, (14, surface.get_height() - self._line - 10))
        shown = self._shown()
        if len(shown) < len(self._values):
            self._values = {n: (v, until) for n, v, until in shown}
        if shown:
            self._draw_values(surface, shown)

    def _average(self, info: HudInfo, dt: float) -> None:
        """Average the figures over each refresh period, so they are steady enough to read.

        fps is the app's figure when given, else measured from the HUD's own frame times.
        """
        sums = self._sums
        sums[0] += 1
        sums[1] += max(0.0, dt)
        sums[2] += info.fps
        sums[3] += info.decode_ms
        if self._clock - self._figures_at >= FIGURE_REFRESH:
            n = sums[0]
            fps = sums[2] / n if info.fps > 0 else (n / sums[1] if sums[1] > 0 else 0.0)
            self._figures = (fps, sums[3] / n)
            self._figures_at = self._clock
            self._sums = [0.0, 0.0, 0.0, 0.0]

    def _fade(self, until: float, over: float = MESSAGE_FADE) -> int:
        return int(255 * min(1.0, max(0.0, (until - self._clock) / over)))

    def _draw_values(self, surface: pygame.Surface,
                     shown: Sequence[tuple[str, float, float]]) -> None:
        """Each parameter's name and value, centred near the top, with a bar showing where
        the value sits in its declared range (none for a choice such as the walk mode); each
        fades on its own clock."""
        alphas = [self._fade(until, VALUE_FADE) for _, _, until in shown]
        texts = [self._text(_describe(n, v), TEXT, a, self._value_font)
                 for (n, v, _), a in zip(shown, alphas, strict=True)]
        gap, bar_h = 24, 4
        width = sum(t.get_width() for t in texts) + gap * (len(texts) - 1)
        height = max(t.get_height() for t in texts)
        x = (surface.get_width() - width) // 2
        y = max(8, surface.get_height() // 12)
        self._blit_panel(surface, (x - 12, y - 8, width + 24, height + bar_h + 20), max(alphas))
        for (name, value, _), text, alpha in zip(shown, texts, alphas, strict=True):
            surface.blit(text, (x, y))
            p = PARAM_BY_NAME[name]
            if p.kind != "enum":
                frac = min(1.0, max(0.0, p.to_unit(p.clamp(value))))
                w = text.get_width()
                by = y + height + 4
                bar = pygame.Surface((w, bar_h))
                bar.fill(LIGHT_OFF)
                bar.fill(BAR, (0, 0, round(w * frac), bar_h))
                bar.set_alpha(alpha)
                surface.blit(bar, (x, by))
            x += text.get_width() + gap

    def _draw_panel(self, surface: pygame.Surface, info: HudInfo) -> None:
        fps, decode_ms = self._figures
        spec: list[list[tuple[str, tuple[int, int, int]]]] = [
            [(f"{fps:5.1f} fps", TEXT), (f"  decode {decode_ms:4.1f} ms", DIM_TEXT)],
            [(info.mode or "-", TEXT), (f"  speed {info.speed:.2f}", DIM_TEXT),
             (f"  temp {info.temperature:.2f}", DIM_TEXT)]
            + ([("  PAUSED", ACCENT)] if info.paused else []),
        ]
        if info.recording:
            m, s = divmod(int(info.rec_seconds), 60)
            spec.append([(f"REC {m:02d}:{s:02d}", REC),
                         (f"  dropped {info.rec_dropped}  queued {info.rec_queued}", DIM_TEXT)])
        if info.directions:
            spec.append([(info.directions, ACCENT)])
        if info.status:
            spec.append([(info.status, DIM_TEXT)])
        lines = [[self._text(t, c) for t, c in parts] for parts in spec]
        dims = list(info.dims)[: self.max_bars]
        bar_w, bar_h, gap = 10, 44, 3
        dot = 14                                  # room for the recording dot
        width = max([sum(i.get_width() for i in ln) + dot for ln in lines]
                    + [len(dims) * (bar_w + gap), 150]) + 16
        height = 12 + self._line * (len(lines) + 1) + (bar_h + 10 if dims else 0)
        self._blit_panel(surface, (6, 6, width, height))
        y = 12
        for parts, ln in zip(spec, lines, strict=True):
            x = 14
            if parts[0][1] == REC:
                pygame.draw.circle(surface, REC, (x + 5, y + self._line // 2 - 1), 5)
                x += dot
            for img in ln:
                surface.blit(img, (x, y))
                x += img.get_width()
            y += self._line
        x = 14
        for name, age in (("OSC", info.osc_age), ("MIDI", info.midi_age)):
            img = self._text(name, DIM_TEXT if age is not None else LIGHT_OFF)
            surface.blit(img, (x, y))
            x += img.get_width() + 12
            lit = age is not None and age < LIGHT_SECONDS
            centre = (x, y + self._line // 2 - 1)
            pygame.draw.circle(surface, LIGHT_RING, centre, 8)
            if age is not None:      # an input that is off has a ring and no light
                pygame.draw.circle(surface, LIGHT_ON if lit else LIGHT_OFF, centre, 5)
            x += 20
        y += self._line + 4
        if dims:
            mid = y + bar_h // 2
            pygame.draw.line(surface, LIGHT_OFF, (14, mid), (14 + len(dims) * (bar_w + gap), mid))
            for i, u in enumerate(dims):
                v = max(-1.0, min(1.0, float(u) / BAR_RANGE)) if math.isfinite(u) else 0.0
                length = int(round(abs(v) * bar_h / 2))
                bx = 14 + i * (bar_w + gap)
                colour = ACCENT if i in info.pinned else BAR
                pygame.draw.rect(surface, colour,
                                 (bx, mid - length if v > 0 else mid, bar_w, max(1, length)))
                if i in info.pinned:
                    pygame.draw.rect(surface, ACCENT, (bx, y + bar_h + 3, bar_w, 3))

    def _draw_help(self, surface: pygame.Surface) -> None:
        size = surface.get_size()
        if self._help_overlay is None or self._help_overlay.get_size() != size:
            self._help_overlay = self._render_help(size)
        surface.blit(self._help_overlay, (0, 0))

    def help_layout(self, size: tuple[int, int]
                    ) -> tuple[pygame.font.Font, list[tuple[int, int, int]]]:
        """The largest font (down to 9 px) at which every help row fits the window, and each
        row's (x of its keys, x of its description, y); at the smallest size rows may still
        be cut in a tiny window, never dropped silently at a normal one."""
        w, h = size
        n = len(self.help_rows)
        for px in range(self._help_size, 8, -1):
            font = self._help_fonts.get(px) or self._help_fonts.setdefault(
                px, pygame.font.Font(None, px))
            line = font.get_linesize()
            keys_w = max((font.size(k)[0] for k, _ in self.help_rows), default=0) + 12
            col_w = keys_w + max((font.size(d)[0] for _, d in self.help_rows), default=0) + 24
            per_col = max(1, (h - 60 - 2 * self._line) // line)  # room for a message
            cols = -(-n // per_col)
            if cols * col_w <= w - 8 or px == 9:   # the last column's right edge fits
                places = []
                for i in range(n):
                    col, row = divmod(i, per_col)
                    x = 24 + col * col_w
                    places.append((x, x + keys_w, 50 + row * line))
                return font, places
        raise AssertionError("unreachable")

    def _render_help(self, size: tuple[int, int]) -> pygame.Surface:
        overlay = pygame.Surface(size, pygame.SRCALPHA)
        overlay.fill((0, 0, 0, 200))
        font, places = self.help_layout(size)
        title = font.render("latentsketch: keys and mouse  (? or F1 closes)", True, TEXT)
        overlay.blit(title, (24, 18))
        for (keys, desc), (kx, dx, y) in zip(self.help_rows, places, strict=True):
            overlay.blit(font.render(keys, True, ACCENT), (kx, y))
            overlay.blit(font.render(desc, True, TEXT), (dx, y))
        return overlay

    def _blit_panel(self, surface: pygame.Surface, rect: tuple[int, int, int, int],
                    alpha: int = 255) -> None:
        """A translucent black backing; ``alpha`` (0..255) fades it with what it carries."""
        x, y, w, h = rect
        key = (w, h)
        panel = self._panels.get(key)
        if panel is None:
            if len(self._panels) > 32:
                self._panels.clear()
            panel = pygame.Surface((max(1, w), max(1, h)))
            panel.fill((0, 0, 0))
            self._panels[key] = panel
        panel.set_alpha(PANEL_ALPHA * alpha // 255)
        surface.blit(panel, (x, y))

    def _text(self, text: str, colour: tuple[int, int, int], alpha: int = 255,
              font: pygame.font.Font | None = None) -> pygame.Surface:
        font = font or self._font
        key = (text, colour, id(font))
        img = self._cache.get(key)
        if img is None:
            if len(self._cache) > 512:
                self._cache.clear()
            img = font.render(text, True, colour)
            self._cache[key] = img
        img.set_alpha(alpha)
        return img


def _describe(name: str, value: float) -> str:
    """``look.posterize`` at 3 -> ``posterize 3``; the value as its declaration formats it."""
    p = PARAM_BY_NAME[name]
    return f"{p.title} {p.format(p.clamp(value))}"
