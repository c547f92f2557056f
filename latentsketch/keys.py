"""Key bindings as pure data: pygame constants' names, so that no declaration needs pygame.

Parameters (``params.Param.keys``), look effects' knobs (``effects.Knob.keys``) and actions
(``actions.Action.keys``) each say which key drives them; ``control/keyboard.py`` turns the
names into bindings. Bottom layer: everyone may import it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class Keys:
    """Keys bound to a parameter or an action, named so that this module needs no pygame.

    Each of ``codes`` is a pygame constant's name: ``K_t`` (a key code, which follows the
    layout), ``KSCAN_0`` (a physical position, so digits stay on the top row on AZERTY), or
    else the character a key types (``?``, wherever the layout puts it). ``{n}`` in a name
    stands for a slot number. On a parameter ``codes`` raise it and ``down`` lowers it; without
    ``down`` Shift+``codes`` lowers it. ``mods``: "" (none), "shift", "ctrl", "alt", or None
    (any: ``+`` is Shift+= on a US layout). ``label`` is what help shows ("" = built from the
    first code, e.g. ``T / Shift+T``).
    """

    codes: tuple[str, ...]
    label: str = ""
    down: tuple[str, ...] = ()
    mods: Literal["", "shift", "ctrl", "alt"] | None = ""

    def text(self, *, stepped: bool = False) -> str:
        """The label help shows; ``stepped``: a parameter's key, lowered with Shift."""
        if self.label:
            return self.label
        name = self.codes[0].split("_", 1)[-1]
        name = name.upper() if len(name) == 1 else name.title()
        if stepped and not self.down:
            return f"{name} / Shift+{name}"
        return f"{self.mods.title()}+{name}" if self.mods else name
