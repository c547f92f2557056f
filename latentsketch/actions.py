"""Every trigger and switch a performer can fire, declared once (as ``params`` declares values).

One row drives everything an action is reachable by: its OSC address (``/latentsketch/<name>``),
its mapping target for MIDI and OSC mappings and MIDI learn (``<name>``), its key (if it has
one), its help row, its rows in README's OSC table, and for a switch its OSC feedback. So adding
a trigger or a switch is one row in ``ACTIONS``; only a new *kind* of command also needs its
handling in the engine or the app.

Kinds: a ``trigger`` fires a command (over OSC on a message without arguments or when the value
rises above 0.5; on MIDI when a button goes down); a ``switch`` is on/off (OSC ``i`` 1/0, a
MIDI button as toggle or gate, a key toggles); a ``slot`` action fires for one of the slots
``1..SLOTS`` (OSC ``/latentsketch/slot/recall i``, target ``slot/recall/<n>``, keys 1..9).
Keyboard-only commands (quit, Escape, learn, the arrows) stay with the keyboard: a remote
message must not end a show.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from latentsketch.commands import (
    Command,
    CycleFit,
    CycleMode,
    NewTarget,
    RecallSlot,
    Record,
    ReleaseDim,
    Reset,
    SavePreset,
    SetParam,
    SetPause,
    ShowDropped,
    Snapshot,
    StepPreset,
    StoreSlot,
    ToggleFullscreen,
    ToggleHelp,
    ToggleHud,
    TogglePalette,
)
from latentsketch.engine import SLOTS
from latentsketch.keys import Keys
from latentsketch.params import OSC_PREFIX, declared, param

Kind = Literal["trigger", "switch", "slot"]


@dataclass(frozen=True)
class Action:
    """One trigger or switch.

    ``make`` builds its command: ``make()`` for a trigger, ``make(on)`` for a switch (``on``
    None toggles), ``make(n)`` for a slot action. A switch whose state is a bool parameter names
    it in ``param`` (its toggle reads the current value, and OSC feedback sends that value).
    ``help`` says what it does, for help, README and error messages.
    """

    name: str
    help: str
    make: Callable[..., Command] = field(compare=False)
    kind: Kind = "trigger"
    keys: Keys | None = None
    param: str = ""

    @property
    def osc_address(self) -> str:
        return f"{OSC_PREFIX}/{self.name}"

    @property
    def targets(self) -> tuple[str, ...]:
        """The mapping targets that reach it: its name, or one per slot."""
        if self.kind == "slot":
            return tuple(f"{self.name}/{n}" for n in range(1, SLOTS + 1))
        return (self.name,)

    @property
    def osc_args(self) -> str:
        """What its OSC message carries, as README's table writes it."""
        return {"trigger": "", "switch": "i", "slot": "i"}[self.kind]

    def command(self, arg: bool | int | None = None,
                current: Mapping[str, float] | None = None) -> Command:
        """The command it fires: ``arg`` is a switch's on/off (None toggles, reading
        ``current`` parameter values for a parameter switch) or a slot number."""
        if self.kind == "trigger":
            return self.make()
        if self.kind == "slot":
            if not isinstance(arg, int) or isinstance(arg, bool) or not 1 <= arg <= SLOTS:
                raise ValueError(f"{self.name}: slot {arg!r} is not one of 1..{SLOTS}")
            return self.make(arg)
        if arg is None and self.param:
            cur = float((current or {}).get(self.param, param(self.param).default))
            arg = not (math.isfinite(cur) and cur > 0.5)
        return self.make(None if arg is None else bool(arg))


def _blackout(on: bool | None) -> Command:
    return SetParam("look.blackout", 1.0 if on else 0.0)


ACTIONS: tuple[Action, ...] = (   # in the order help lists them
    Action("help", "help (this list)", ToggleHelp, keys=Keys(("K_F1", "?"), "? / F1", mods=None)),
    Action("pause", "pause / resume the walk", SetPause, "switch",
           Keys(("K_SPACE",), mods=None)),
    Action("hud", "HUD on / off", ToggleHud, keys=Keys(("K_h",))),
    Action("fullscreen", "fullscreen on / off", ToggleFullscreen, keys=Keys(("K_f",))),
    Action("blackout", "blackout: fade to black / back", _blackout, "switch",
           Keys(("K_b",), mods=None), param="look.blackout"),
    Action("record", "record on / off", Record, "switch", Keys(("K_r",))),
    Action("snapshot", "snapshot (PNG)", Snapshot, keys=Keys(("K_s",))),
    Action("preset/save", "save preset", SavePreset, keys=Keys(("K_s",), mods="ctrl")),
    Action("slot/recall", "recall slot (glides there)", RecallSlot, "slot",
           Keys(("KSCAN_{n}", "KSCAN_KP_{n}"), f"1..{SLOTS}")),
    Action("slot/store", "store the current point in slot", StoreSlot, "slot",
           Keys(("KSCAN_{n}",), f"Shift+1..{SLOTS}", mods="shift")),
    Action("walk/next", "jump to a new random target", NewTarget, keys=Keys(("K_n",))),
    Action("walk/reset", "glide back to the origin", Reset,
           keys=Keys(("K_HOME", "KSCAN_0", "KSCAN_KP_0"), "0 / Home", mods=None)),
    Action("z/release", "release all pinned dimensions", ReleaseDim,
           keys=Keys(("K_x", "K_DELETE"), "X / Delete")),
    Action("fit", "picture: fit / fill / stretch", CycleFit, keys=Keys(("K_z",))),
    Action("walk/cycle", "next walk mode", CycleMode, keys=Keys(("K_TAB",))),
    Action("walk/back", "previous walk mode", lambda: CycleMode(-1),
           keys=Keys(("K_TAB",), mods="shift")),
    Action("dropped", "show the last dropped pictures beside the model's versions of them",
           ShowDropped, keys=Keys(("K_i",))),
    Action("palette", "latent palette on / off: click a cell to glide there (Esc hides it)",
           TogglePalette, keys=Keys(("K_a",))),
    Action("preset/overwrite", "save preset over the current one (a bundled one: a copy)",
           lambda: SavePreset(over=True), keys=Keys(("K_s",), mods="alt")),
    Action("preset/next", "next preset (crossfades)", StepPreset,
           keys=Keys(("K_RIGHTBRACKET",), "]")),
    Action("preset/previous", "previous preset (crossfades)", lambda: StepPreset(-1),
           keys=Keys(("K_LEFTBRACKET",), "[")),
)

ACTION_BY_NAME: MappingProxyType[str, Action] = MappingProxyType({a.name: a for a in ACTIONS})


def action(name: str) -> Action:
    """Look up a declaration; raises KeyError with the known names."""
    return declared(ACTION_BY_NAME, name, "action")


def target_names() -> tuple[str, ...]:
    """Every action target as error messages and docs list them (slots as ``<1-9>``)."""
    return tuple(f"{a.name}/<1-{SLOTS}>" if a.kind == "slot" else a.name for a in ACTIONS)
