"""How modulation-source values (``modsources``) reach the mappings, live and offline.

Live: producers in any thread (the audio analysis worker, the tempo clock) ``publish`` timed
values on the session's ``ModulationBus`` (``app.inputs.modulation``); once a frame the loop
``drain``s every value since the last frame, in order, into ``MappingRuntime.feed_sources``,
then ``update`` glides. Every value is kept until drained (a one-sample onset pulse between
two frames still fires its trigger), up to ``CAPACITY`` (the oldest go first). What the
mappings make of them are ordinary engine commands, which the control log records: a replay
needs no sound card and no clock.

Offline (``render --audio``): a ``Modulator`` hands out the values timed within each output
frame, and the render feeds them to a ``MappingRuntime`` the same way, frame by frame.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from typing import Protocol

from latentsketch import engine
from latentsketch.commands import Command
from latentsketch.control.mapping_runtime import MappingRuntime, current_values
from latentsketch.latent.space import LatentSpace

CAPACITY = 8192   # values held between two frames at most (~8 s of the sound's 6 sources)


class ModulationBus:
    """Timed source values from producer threads to the loop (thread-safe, never blocks)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        self._items: deque[tuple[str, float, float]] = deque(maxlen=capacity)
        self._latest: dict[str, float] = {}
        self._lock = threading.Lock()
        self.dropped = 0   # non-finite values refused

    def publish(self, name: str, value: float, t: float | None = None) -> None:
        """Queue ``value`` of source ``name`` taken at time ``t`` (seconds, any clock; default
        now). Any thread; a non-finite value is counted in ``dropped`` and not queued."""
        v = float(value)
        if not math.isfinite(v):
            self.dropped += 1
            return
        stamp = time.monotonic() if t is None else float(t)
        with self._lock:
            self._items.append((name, v, stamp))
            self._latest[name] = v

    def publish_many(self, values: Mapping[str, float], t: float | None = None) -> None:
        """``publish`` each of ``values`` with the same time stamp."""
        stamp = time.monotonic() if t is None else float(t)
        for name, v in values.items():
            self.publish(name, v, stamp)

    def drain(self) -> list[tuple[str, float]]:
        """Every (name, value) published since the last drain, oldest first (the loop's)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return [(name, v) for name, v, _ in items]

    def drain_timed(self) -> list[tuple[str, float, float]]:
        """As ``drain``, with each value's time stamp: (name, value, t)."""
        with self._lock:
            items = list(self._items)
            self._items.clear()
        return items

    def latest(self) -> dict[str, float]:
        """The newest value of each source published so far (for the HUD, meters)."""
        with self._lock:
            return dict(self._latest)


class Modulator(Protocol):
    """An offline producer of source values (``render --audio``'s ``AudioTrack``; a tempo
    clock may read ``state``): the (name, value) samples timed in ``t0 < t <= t1`` seconds
    of the render's clock, in time order. The first frame asks for ``t0 = -inf, t1 = 0``."""

    def samples(self, t0: float, t1: float,
                state: engine.State) -> Iterable[tuple[str, float]]: ...


class OfflineModulation:
    """Mappings fed by ``modulators`` step by step, for an offline render: what the live
    loop does each frame (drain the sources into the mapper, then glide), on the render's
    clock. ``commands`` once per engine step, before it, with that step's ``dt``; the first
    step (``dt`` 0, the first frame) takes every value timed at or before 0 s."""

    def __init__(self, mapper: MappingRuntime, modulators: Iterable[Modulator],
                 space: LatentSpace) -> None:
        self.mapper = mapper
        self.modulators = tuple(modulators)
        self.space = space
        self._t0 = -math.inf
        self._t = 0.0

    def commands(self, state: engine.State, dt: float) -> list[Command]:
        """The mappings' commands for the step of ``dt`` seconds about to run on ``state``."""
        t1 = self._t + dt if self._t0 > -math.inf else 0.0
        out: list[Command] = []
        for m in self.modulators:
            out += self.mapper.feed_sources(m.samples(self._t0, t1, state))
        out += self.mapper.update(dt, current_values(state, self.space))
        self._t0 = self._t = t1
        return out
