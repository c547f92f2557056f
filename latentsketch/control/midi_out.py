"""MIDI feedback: the LEDs and motor faders of a controller follow what their controls drive.

For every mapping from a MIDI control (``cc``, 14-bit ``cc``, ``note``) the target's value is
sent back on that control, through the mapping's own ranges and curve run backwards
(``mapping.unshape``): a fader mapped to ``walk.speed`` moves when a preset or a key changes
the speed, a button mapped to ``pause`` lights while paused. As ``--osc-out`` does for OSC:
only changed values go out, at most ``RATE`` times a second, and a control the performer has
touched within ``QUIET`` seconds is left alone (a motor fader must not fight the hand).

Not sent: triggers (nothing to show), relative encoders (their controls send steps, not
values) and ``offset`` mappings of latent dimensions (the offset is not a state to show). A
note mapped to a switch gets ``note_on`` velocity 127 for on, ``note_off`` for off.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol

import mido

from latentsketch.control.droplog import DropLog
from latentsketch.control.midi import MidiUnavailable, default_backend, device_name
from latentsketch.mapping import ControlMapping, Target, unshape

RATE = 30.0     # sends per second at most
QUIET = 0.3     # seconds a control the performer moved is left alone

log = logging.getLogger("latentsketch.midi")

Key = tuple[str, int, int]   # (cc | note, channel 0..15, number)


class OutputBackend(Protocol):
    """What we need of ``mido.Backend`` for output (tests pass an in-memory one)."""

    def get_output_names(self) -> list[str]: ...

    def open_output(self, name: str | None = None, **kwargs: Any) -> Any: ...


def feedback_messages(mappings: Iterable[ControlMapping],
                      current: Mapping[str, float]) -> dict[Key, list[mido.Message]]:
    """For each MIDI-mapped control whose target has a value in ``current`` (target key ->
    value, as ``mapping_runtime.current_values`` gives, plus ``pause``/``record`` as 0/1):
    the messages that show it. Pure."""
    out: dict[Key, list[mido.Message]] = {}
    for m in mappings:
        if (m.cc is None and m.note is None) or m.mode == "relative":
            continue
        t = m.parsed_target
        ch = (m.channel or 1) - 1
        lo, hi = m.input_range()
        if t.kind in ("dim", "direction", "param"):
            v = current.get(t.key)
            if v is None or not math.isfinite(v) or m.offsets or m.cc is None:
                continue
            x = unshape(float(v), *m.output_range(), m.effective_curve())
            raw = max(0, min(16383 if m.cc14 else 127, round(lo + (hi - lo) * x)))
            if m.cc14:
                out[("cc", ch, m.cc)] = [
                    mido.Message("control_change", channel=ch, control=m.cc, value=raw >> 7),
                    mido.Message("control_change", channel=ch, control=m.cc + 32,
                                 value=raw & 0x7F)]
            else:
                out[("cc", ch, m.cc)] = [mido.Message("control_change", channel=ch,
                                                      control=m.cc, value=raw)]
        elif t.kind == "switch":
            on = _switch_value(t, current)
            if on is None:
                continue
            if m.note is not None:
                kind = "note_on" if on else "note_off"
                out[("note", ch, m.note)] = [mido.Message(kind, channel=ch, note=m.note,
                                                          velocity=127 if on else 0)]
            else:
                assert m.cc is not None
                value = max(0, min(127, round(hi if on else lo)))
                out[("cc", ch, m.cc)] = [mido.Message("control_change", channel=ch,
                                                      control=m.cc, value=value)]
    return out


def _switch_value(t: Target, current: Mapping[str, float]) -> bool | None:
    name = t.param.name if t.param is not None else (
        t.action.param or t.action.name if t.action is not None else t.name)
    v = current.get(name)
    return None if v is None or not math.isfinite(v) else v > 0.5


class MidiFeedback:
    """Sends ``feedback_messages`` to an open output ``port``; ``maybe_send`` every frame,
    ``heard`` with every MIDI message that came in (so a touched control is left alone)."""

    def __init__(self, port: Any, *, rate: float = RATE, quiet: float = QUIET,
                 clock: Callable[[], float] = time.monotonic,
                 logger: logging.Logger = log) -> None:
        self.port = port
        self.name = str(getattr(port, "name", "MIDI out"))
        self.period = 1.0 / rate
        self.quiet = quiet
        self.sent = 0
        self.errors = DropLog(logger, f"MIDI out to {self.name}")
        self._clock = clock
        self._next = 0.0
        self._last: dict[Key, tuple[Any, ...]] = {}
        self._touched: dict[tuple[int, int], float] = {}

    def heard(self, msg: Any) -> None:
        """A message from the controller: its control is the performer's for ``quiet`` s."""
        kind = getattr(msg, "type", None)
        if kind == "control_change":
            self._touched[(msg.channel, msg.control)] = self._clock()
        elif kind in ("note_on", "note_off"):
            self._touched[(msg.channel, 128 + msg.note)] = self._clock()

    def maybe_send(self, mappings: Sequence[ControlMapping],
                   current: Mapping[str, float]) -> int:
        """Send what changed if a send is due; returns the messages sent."""
        now = self._clock()
        if now < self._next:
            return 0
        self._next = now + self.period
        count = 0
        for key, msgs in feedback_messages(mappings, current).items():
            kind, ch, num = key
            if now - self._touched.get((ch, num + (128 if kind == "note" else 0)),
                                       -math.inf) < self.quiet:
                continue
            sig = tuple(tuple(m.bytes()) for m in msgs)
            if self._last.get(key) == sig:
                continue
            try:
                for msg in msgs:
                    self.port.send(msg)
            except Exception as e:  # noqa: BLE001 - an unplugged device must not stop the loop
                self.errors.drop("send", "%s: %s", self.name, e)
                continue
            self._last[key] = sig
            count += len(msgs)
        self.sent += count
        return count

    def close(self) -> None:
        try:
            self.port.close()
        except Exception as e:  # noqa: BLE001 - closing must not fail a shutdown
            log.debug("closing MIDI out: %s", e)


def open_output(device: str | None, backend: OutputBackend | None = None) -> Any:
    """Open the MIDI output ``device`` names (a case-insensitive part of its name, compared
    without the OS's per-connection numbers; None: the first that is not "Midi Through").
    MidiUnavailable (one line, naming what there is) when there is none."""
    try:
        b: Any = backend or default_backend()
        names = list(b.get_output_names())
    except MidiUnavailable as e:
        raise MidiUnavailable(f"--midi-out: {e}") from None
    except Exception as e:  # noqa: BLE001 - rtmidi failing to initialise
        raise MidiUnavailable(f"--midi-out: MIDI unavailable ({e})") from None
    want = (device or "").lower()
    for name in sorted(names, key=lambda n: n != device):   # the exact name first
        low = name.lower()
        if want and (want in low or device_name(want) in device_name(low)) or (
                not want and "midi through" not in low):
            try:
                return b.open_output(name)
            except Exception as e:  # noqa: BLE001 - busy or vanished port
                raise MidiUnavailable(f"--midi-out: cannot open {name!r} ({e})") from None
    have = ", ".join(names) or "none"
    what = f"no MIDI output matching {device!r}" if device else "no MIDI output"
    raise MidiUnavailable(f"--midi-out: {what} (have: {have})")
