"""The outside world -> commands, once a frame: the window's events (keys, mouse, files dropped
on it: read and encoded by a worker, ``app.drops``), OSC and MIDI through the mapping runtime.

Inputs never touch the state: they read it (a key's context, the values soft takeover compares
with) and return commands, which the loop applies in order. A failing input is one message and
the show plays on without it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pygame

from latentsketch import commands as C
from latentsketch import engine
from latentsketch.app.drops import Drop, DropEncoder
from latentsketch.app.options import AppOptions
from latentsketch.app.status import age
from latentsketch.control.keyboard import Keyboard, KeyContext
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.midi import MidiInputs
from latentsketch.control.mouse import HELP_ROWS as MOUSE_HELP
from latentsketch.control.mouse import Mouse
from latentsketch.control.osc import OscReceiver, OscUnavailable
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.latent.space import LatentSpace
from latentsketch.mapping import ControlMapping
from latentsketch.model.checkpoint import LoadedModel
from latentsketch.output.display import Display
from latentsketch.output.session import Say

log = logging.getLogger("latentsketch")

DRAG_SECONDS = 1.0  # a drag whose DROPCOMPLETE never comes is taken as complete after this


class Inputs:
    """Keyboard, mouse, OSC in and MIDI in of one session, and the mappings between them.

    Args:
        space: the model's latent space (dimension count, rank order).
        model_id: the running model, which a dropped snapshot must match.
        mappings: the preset's OSC and MIDI mappings.
        say: where messages go (the app's ``say``: terminal and HUD).
        model: the running model, which encodes dropped pictures.
    """

    def __init__(self, space: LatentSpace, model_id: str,
                 mappings: Sequence[ControlMapping], say: Say, model: LoadedModel) -> None:
        self.space = space
        self.model_id = model_id
        self.say = say
        self.model = model
        self.drops = DropEncoder(model)
        self.last_drop: Drop | None = None   # the latest drop that found a point (the overlay)
        self._drag: list[Path] | None = None  # files of a drag under way (DROPBEGIN seen)
        self._drag_since = 0.0
        self.keyboard = Keyboard()
        self.mouse = Mouse()
        self.mapper = MappingRuntime(mappings, space.dim)
        self.translator = OscTranslator(space.dim, mapper=self.mapper)
        self.osc: OscReceiver | None = None
        self.midi: MidiInputs | None = None
        self.osc_seen: float | None = None
        self.midi_seen: float | None = None

    def help_rows(self) -> list[tuple[str, str]]:
        """(keys, description) of every key and mouse gesture, for the help overlay."""
        return self.keyboard.help_rows() + list(MOUSE_HELP)

    def start(self, opts: AppOptions, midi_input: str | None) -> None:
        """Open OSC in and MIDI in as ``opts`` asks (``midi_input``: the preset's device,
        used without ``--midi-device``); one that cannot open is left closed."""
        if opts.osc:
            try:
                self.osc = OscReceiver(opts.osc_host, opts.osc_port).start()
                log.info("OSC in on %s:%d", opts.osc_host, self.osc.port)
            except OscUnavailable as e:
                self.say(f"{e}; running without OSC", error=True)
        if opts.midi:
            self.midi = MidiInputs(opts.midi_device or midi_input)
            if not self.midi.start():
                self.midi = None

    def window(self, extra: Sequence[pygame.event.Event], state: engine.State,
               display: Display, help_open: bool,
               dt: float) -> tuple[list[C.Command], list[C.Command]]:
        """The window's events since the last frame, then ``extra`` (a script's): the points
        of pictures dropped on the window that the worker has read since (a glide, or a tour
        for several; each file that holds none is one message) and the keyboard's and mouse's
        commands, apart because only the latter answer a press on the HUD."""
        cmds: list[C.Command] = []
        dropped: list[Path] = []
        ctx = KeyContext(state.params, fullscreen=display.fullscreen, help_open=help_open,
                         latent_dim=self.space.dim)
        for ev in [*pygame.event.get(), *extra]:
            if display.handle_event(ev):
                continue
            if ev.type in (pygame.DROPBEGIN, pygame.DROPFILE, pygame.DROPCOMPLETE):
                dropped += self._drag_event(ev)
                continue
            cmds += self.keyboard.handle(ev, ctx)
            cmds += self.mouse.handle(ev, display.picture_rect, state.params)
        if self._drag is not None and time.monotonic() - self._drag_since > DRAG_SECONDS:
            dropped += self._drag
            self._drag = None
        if dropped:
            self.drops.submit(dropped)
        cmds += self.keyboard.held(dt, ctx)
        return self._drop_points(), cmds

    def _drag_event(self, ev: pygame.event.Event) -> list[Path]:
        """The files one drag drops, once it is complete: SDL sends DROPBEGIN, a DROPFILE per
        file, DROPCOMPLETE (perhaps over several frames); a DROPFILE outside a drag is a drop
        of its own frame."""
        if ev.type == pygame.DROPBEGIN:
            self._drag, self._drag_since = [], time.monotonic()
        elif ev.type == pygame.DROPFILE:
            if self._drag is None:
                return [Path(ev.file)]
            self._drag.append(Path(ev.file))
        elif self._drag is not None:
            done, self._drag = self._drag, None
            return done
        return []

    def _drop_points(self) -> list[C.Command]:
        """Commands for the drops the worker has finished: glide to one point, tour several."""
        out: list[C.Command] = []
        for drop in self.drops.poll():
            for line in drop.failures:
                self.say(line, error=True)
            cmd = drop.command(self.model)
            if cmd is not None:
                self.last_drop = drop
                self.say(drop.describe())
                out.append(cmd)
        return out

    def remote(self, now: float, state: engine.State, dt: float) -> list[C.Command]:
        """OSC and MIDI since the last frame, and the mappings' glides; ``state`` gives the
        values soft takeover compares a control with."""
        cmds: list[C.Command] = []
        if self.osc is not None:
            msgs = self.osc.drain()
            if msgs:
                self.osc_seen = now
                cmds += self.translator.translate_all(msgs, state.directions)
        if self.midi is not None:
            for msg in self.midi.poll():
                self.midi_seen = now
                cmds += self.mapper.feed_midi(msg)
        if self.mapper.mappings:  # most sessions map nothing: skip the per-frame snapshot
            current = dict(state.params)
            # a pinned dimension's value is its pin, not the glide on screen
            u = np.where(state.pinned, state.pin, engine.output_u(state))
            current.update({f"z/{i}": float(v) for i, v in enumerate(self.space.to_ranked(u))})
            current.update(engine.direction_values(state))
            cmds += self.mapper.update(dt, current)
        learned = self.mapper.take_learned()
        if learned is not None:
            self.say(f"learned {learned.describe_source()} -> {learned.target}; Ctrl+S saves")
        return cmds

    def osc_age(self, now: float) -> float | None:
        """Seconds since OSC last spoke; ``None`` without an OSC receiver."""
        return None if self.osc is None else age(self.osc_seen, now)

    def midi_age(self, now: float) -> float | None:
        """Seconds since MIDI last spoke; ``None`` without MIDI inputs."""
        return None if self.midi is None else age(self.midi_seen, now)

    def use_model(self, model: LoadedModel, mappings: Sequence[ControlMapping]) -> None:
        """Play another model (a scene switched models): its space, its encoder for drops,
        and ``mappings`` bound to its dimension count. OSC and MIDI stay open."""
        self.drops.close()
        self.space, self.model_id, self.model = model.space, model.model_id, model
        self.drops = DropEncoder(model)
        self.mapper = MappingRuntime(mappings, model.space.dim)
        self.translator = OscTranslator(model.space.dim, mapper=self.mapper)

    def close(self) -> None:
        """Stop OSC in, close MIDI in and the drop worker; safe to call twice."""
        self.drops.close()
        if self.osc is not None:
            self.osc.stop()
            self.osc = None
        if self.midi is not None:
            self.midi.close()
            self.midi = None
