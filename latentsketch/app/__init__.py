"""The live instrument: a window that decodes a drifting latent every frame, steered by keys,
mouse, OSC and MIDI.

Modules, one job each: ``options`` (what a session is asked for), ``inputs`` (the outside
world -> commands), ``scenes`` (presets and the points snapshots hold), ``status`` (what the
HUD and OSC feedback report), ``loop`` (``App``, which ties them once a frame, and ``play``).
"""

from __future__ import annotations

from latentsketch.app.loop import App, Script, play
from latentsketch.app.options import AppOptions

__all__ = ["App", "AppOptions", "Script", "play"]
