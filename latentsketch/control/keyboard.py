"""Keys -> commands, through one binding table that also writes the help overlay and README.

Each ``Binding`` is data: which keys trigger it (layout key codes, physical scancodes or typed
characters), which modifiers it needs, what command it makes, and how help describes it.
Digits are bound by physical position (scancode), so slot keys sit on the top row on AZERTY
and other layouts too; scancode bindings win over key codes (AZERTY's 6 key types "-").
"?" is bound by the character it types, wherever the layout puts it.

Keys of parameters and actions are declared with them (``params.Param.keys``,
``actions.Action.keys``) and bound here; this module adds only what is the keyboard's own
(Escape, quit, learn, the arrows, the mouse pad's dimensions).

Held keys: a binding with ``while_held`` (the arrows) nudges once on the press and then
continuously every frame while the key stays down (``Keyboard.held(dt)``), at a rate in
standard deviations per second, so the motion is smooth and frame-rate independent. Other
bindings fire again on key repeat only when ``repeat`` is set (steps like speed up); toggles
never repeat.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pygame

from latentsketch import commands as c
from latentsketch.actions import ACTIONS, Action
from latentsketch.engine import SLOTS
from latentsketch.params import PARAMS, Param, param
from latentsketch.timestep import clamp_dt

KEY_REPEAT = (400, 45)     # ms before repeating, ms between repeats (pygame.key.set_repeat)
ARROW_TAP = 0.1            # std per key press
ARROW_RATE = 1.5           # std per second while held
REMOTE_ONLY = "OSC / MIDI"  # help's key column for an action that has no key

Mods = Literal["", "shift", "ctrl", "alt"] | None
Result = c.Command | Sequence[c.Command] | None


@dataclass(frozen=True)
class KeyContext:
    """What a binding may need to know: current parameter values and window state."""

    params: Mapping[str, float] = field(default_factory=dict)
    fullscreen: bool = False
    help_open: bool = False
    latent_dim: int = 0

    def value(self, name: str) -> float:
        return float(self.params.get(name, param(name).default))


@dataclass(frozen=True)
class Binding:
    """One row of the key map.

    ``keys`` are pygame key codes (they follow the layout: letters, named keys), ``scancodes``
    physical positions, ``chars`` typed characters. ``mods`` is the exact set of shift/ctrl/alt
    needed ("" = none, None = any). ``label`` and ``description`` are what help shows; rows with
    the same pair are listed once (the nine slot keys).
    """

    label: str
    description: str
    action: Callable[[KeyContext], Result]
    keys: tuple[int, ...] = ()
    scancodes: tuple[int, ...] = ()
    chars: str = ""
    mods: Mods = ""
    repeat: bool = False
    while_held: Callable[[KeyContext, float], Result] | None = None


def _set(name: str, value: float) -> c.SetParam:
    return c.SetParam(name, param(name).clamp(value))


def _escape(ctx: KeyContext) -> c.Command:
    if ctx.help_open:
        return c.ToggleHelp()
    return c.ToggleFullscreen() if ctx.fullscreen else c.Quit()


def _mouse_plane(step: int) -> Callable[[KeyContext], list[c.Command]]:
    """Move the mouse's XY pad to the next (or previous) pair of dimensions."""
    def act(ctx: KeyContext) -> list[c.Command]:
        n = ctx.latent_dim if ctx.latent_dim >= 2 else int(param("mouse.dim_x").hi) + 1
        x = (int(ctx.value("mouse.dim_x")) + 2 * step) % n
        y = (x + 1) % n
        return [_set("mouse.dim_x", x), _set("mouse.dim_y", y)]
    return act


def _arrow(dim: int, sign: float) -> dict[str, object]:
    return {
        "action": lambda ctx: c.NudgeDim(dim, sign * ARROW_TAP),
        "while_held": lambda ctx, dt: c.NudgeDim(dim, sign * ARROW_RATE * dt),
        "mods": None,
    }


def _codes(codes: tuple[str, ...], n: int = 0) -> dict[str, object]:
    """``Keys`` names -> Binding's keys, scancodes and chars (``{n}``: a slot number)."""
    out: dict[str, list] = {"keys": [], "scancodes": [], "chars": []}
    for name in (code.format(n=n) for code in codes):
        if name.startswith("KSCAN_"):
            out["scancodes"].append(getattr(pygame, name))
        elif name.startswith("K_"):
            out["keys"].append(getattr(pygame, name))
        else:
            out["chars"].append(name)
    return {"keys": tuple(out["keys"]), "scancodes": tuple(out["scancodes"]),
            "chars": "".join(out["chars"])}


def _step(p: Param, direction: int) -> Callable[[KeyContext], c.Command]:
    """One press: a nudge by ``step`` (the engine clamps), or the next of ``stops``."""
    if p.stops:
        return lambda ctx: c.SetParam(p.name, p.stepped(ctx.value(p.name), direction))
    return lambda ctx: c.NudgeParam(p.name, direction * p.step)


def param_bindings(params: Iterable[Param] = PARAMS) -> list[Binding]:
    """Up and down bindings of every parameter that declares keys (they repeat when held)."""
    rows: list[Binding] = []
    for p in params:
        if p.keys is None:
            continue
        k = p.keys
        label, what = k.text(stepped=True), f"{p.label or p.title} up / down"
        down_mods = k.mods if k.down else "shift"
        rows.append(Binding(label, what, _step(p, 1), mods=k.mods, repeat=True,
                            **_codes(k.codes)))
        rows.append(Binding(label, what, _step(p, -1), mods=down_mods, repeat=True,
                            **_codes(k.down or k.codes)))
    return rows


def action_bindings(actions: Iterable[Action] = ACTIONS) -> list[Binding]:
    """A binding for every action that declares keys (a slot action: one per slot)."""
    rows: list[Binding] = []
    for a in actions:
        if a.keys is None:
            continue
        k = a.keys
        if a.kind == "slot":
            rows += [Binding(k.text(), a.help, lambda ctx, a=a, n=n: a.command(n), mods=k.mods,
                             **_codes(k.codes, n)) for n in range(1, SLOTS + 1)]
        else:
            rows.append(Binding(k.text(), a.help, lambda ctx, a=a: a.command(None, ctx.params),
                                mods=k.mods, **_codes(k.codes)))
    return rows


def default_bindings() -> tuple[Binding, ...]:
    """The key map: the actions' keys, the keyboard's own, then the parameters' keys. Order
    is the order help lists it in."""
    k = pygame
    return (
        *action_bindings(),
        Binding("Esc", "close help, leave fullscreen, or quit when windowed", _escape,
                keys=(k.K_ESCAPE,), mods=None),
        Binding("Q", "quit", lambda ctx: c.Quit(), keys=(k.K_q,)),
        Binding("K", "MIDI/OSC learn: the next control moved drives what you last changed",
                lambda ctx: c.ArmLearn(), keys=(k.K_k,)),
        Binding("Left / Right", "nudge dimension 0 (hold to keep moving)",
                keys=(k.K_LEFT,), **_arrow(0, -1.0)),
        Binding("Left / Right", "nudge dimension 0 (hold to keep moving)",
                keys=(k.K_RIGHT,), **_arrow(0, 1.0)),
        Binding("Up / Down", "nudge dimension 1 (hold to keep moving)",
                keys=(k.K_UP,), **_arrow(1, 1.0)),
        Binding("Up / Down", "nudge dimension 1 (hold to keep moving)",
                keys=(k.K_DOWN,), **_arrow(1, -1.0)),
        Binding("M / Shift+M", "mouse pad: next / previous pair of dimensions",
                _mouse_plane(1), keys=(k.K_m,)),
        Binding("M / Shift+M", "mouse pad: next / previous pair of dimensions",
                _mouse_plane(-1), keys=(k.K_m,), mods="shift"),
        *param_bindings(),
    )


def _mods_of(mod: int) -> str:
    if mod & pygame.KMOD_CTRL:
        return "ctrl"
    if mod & pygame.KMOD_ALT:
        return "alt"
    if mod & pygame.KMOD_SHIFT:
        return "shift"
    return ""


def _flatten(result: Result) -> list[c.Command]:
    if result is None:
        return []
    if isinstance(result, c.Command):
        return [result]
    return list(result)


class Keyboard:
    """Turns pygame events into commands through a binding table.

    Call ``handle(event, ctx)`` for every event and ``held(dt, ctx)`` once per frame.
    A window close (``pygame.QUIT``) also becomes ``Quit``. With ``key_repeat`` the first
    event turns on pygame's key repeat (``KEY_REPEAT``), which the stepping keys use.
    """

    def __init__(self, bindings: Iterable[Binding] | None = None, *,
                 key_repeat: bool = True) -> None:
        self.bindings = tuple(default_bindings() if bindings is None else bindings)
        self._down: dict[int, Binding | None] = {}
        self._want_repeat = key_repeat     # set once a window exists (needs the video system)

    def find(self, key: int, mod: int = 0, scancode: int = 0, unicode: str = "") -> Binding | None:
        """The binding a key press selects, or None.

        Scancodes win over characters, characters over key codes; within each, a binding that
        names the exact modifiers wins over one that accepts any.
        """
        mods = _mods_of(mod)
        exact = [b for b in self.bindings if b.mods == mods]
        loose = [b for b in self.bindings if b.mods is None]
        tests = (
            lambda b: bool(scancode) and scancode in b.scancodes,
            lambda b: bool(unicode) and bool(b.chars) and unicode in b.chars,
            lambda b: key in b.keys,
        )
        for test in tests:
            for pool in (exact, loose):
                for b in pool:
                    if test(b):
                        return b
        return None

    def handle(self, event: pygame.event.Event, ctx: KeyContext | None = None) -> list[c.Command]:
        """Commands for one event (often none)."""
        ctx = ctx or KeyContext()
        if self._want_repeat and pygame.display.get_init():
            pygame.key.set_repeat(*KEY_REPEAT)
            self._want_repeat = False
        if event.type == pygame.QUIT:
            return [c.Quit()]
        if event.type == pygame.WINDOWFOCUSLOST:
            self._down.clear()            # a key released elsewhere must not keep nudging
            return []
        if event.type == pygame.KEYUP:
            self._down.pop(self._key_id(event), None)
            return []
        if event.type != pygame.KEYDOWN:
            return []
        kid = self._key_id(event)
        repeated = kid in self._down
        binding = self._down[kid] if repeated else self.find(
            event.key, getattr(event, "mod", 0), getattr(event, "scancode", 0),
            getattr(event, "unicode", ""))
        self._down[kid] = binding
        if binding is None or (repeated and not binding.repeat):
            return []
        return _flatten(binding.action(ctx))

    def held(self, dt: float, ctx: KeyContext | None = None) -> list[c.Command]:
        """Per-frame commands of held keys (the arrows' continuous nudge)."""
        ctx = ctx or KeyContext()
        out: list[c.Command] = []
        dt = clamp_dt(dt)  # after a stall a held arrow moves one step's worth, not seconds'
        if dt <= 0:
            return out
        for binding in self._down.values():
            if binding is not None and binding.while_held is not None:
                out.extend(_flatten(binding.while_held(ctx, dt)))
        return out

    def help_rows(self) -> list[tuple[str, str]]:
        """(keys, description) for the help overlay and README, one row per distinct pair;
        an action without a key is listed too, as reachable over OSC and MIDI."""
        rows: list[tuple[str, str]] = []
        for b in self.bindings:
            row = (b.label, b.description)
            if row not in rows:
                rows.append(row)
        return rows + [(REMOTE_ONLY, a.help) for a in ACTIONS if a.keys is None]

    def help_markdown(self, extra: Iterable[tuple[str, str]] = ()) -> str:
        """The key map as a Markdown table (README), plus ``extra`` rows such as the mouse."""
        lines = ["| Key | Action |", "|---|---|"]
        for keys, desc in [*self.help_rows(), *extra]:
            lines.append(f"| {keys.replace('|', '/')} | {desc} |")
        return "\n".join(lines)

    @staticmethod
    def _key_id(event: pygame.event.Event) -> int:
        scancode = getattr(event, "scancode", 0)
        return scancode if scancode else -int(getattr(event, "key", 0)) - 1
