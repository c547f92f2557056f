"""MIDI input: a thin device layer over mido + python-rtmidi, polled from the main loop.

It lists inputs, opens one by name (or the first whose name contains a filter), offers a virtual
input port named ``latentsketch`` where the OS has them (ALSA, CoreMIDI) so a DAW can send to it,
and survives devices coming and going: every ``rescan`` seconds it looks at the port list, reports
a device that vanished or appeared, and reconnects. Names are matched without the numbers the
OS hands out per connection (ALSA's ``20:0`` client:port, Windows' trailing port index): a
device unplugged and back as ``... 24:0`` is the same device, even when ``--midi`` named it
in full with its old number. A machine without MIDI support starts
normally with one line saying so. The messages it returns are ``mido.Message`` objects for
``MappingRuntime.feed_midi`` — the same code that tests drive from raw bytes through
``RawMidiParser``.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import time
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

import mido

from latentsketch.control.droplog import DropLog
from latentsketch.errors import UserError

VIRTUAL_NAME = "latentsketch"
RESCAN = 2.0

log = logging.getLogger("latentsketch.midi")


class MidiUnavailable(UserError):
    """No MIDI on this machine; the message is one line for the user."""


class Backend(Protocol):
    """What we need of ``mido.Backend`` (tests pass an in-memory one)."""

    def get_input_names(self) -> list[str]: ...

    def open_input(self, name: str | None = None, virtual: bool = False, **kwargs: Any) -> Any: ...


# What the OS appends to a port name per connection, not part of the device's identity:
# ALSA "client:port" ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"), Windows MM a port index
# ("nanoKONTROL2 1").
_PORT_NUMBERS = {"alsa": re.compile(r"\s+\d+:\d+$"), "win32": re.compile(r"\s+\d+$")}


def device_name(port: str, platform: str = sys.platform) -> str:
    """A port name without the numbers the OS assigns per connection (see _PORT_NUMBERS)."""
    name = _PORT_NUMBERS["alsa"].sub("", port.strip())
    if platform == "win32":
        name = _PORT_NUMBERS["win32"].sub("", name)
    return name


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def unavailable_reason() -> str | None:
    """Why MIDI cannot work here, checked without touching the MIDI libraries (which print
    ALSA errors straight to the terminal), or None."""
    if sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq"):
        return "no ALSA sequencer (/dev/snd/seq)"
    return None


def default_backend() -> Backend:
    """mido's python-rtmidi backend; raises MidiUnavailable when it cannot be used here."""
    reason = unavailable_reason()
    if reason:
        raise MidiUnavailable(f"MIDI unavailable: {reason}")
    try:
        return mido.Backend("mido.backends.rtmidi", load=True)
    except Exception as e:  # ImportError, or rtmidi failing to initialise
        raise MidiUnavailable(f"MIDI unavailable: {_line(e)}") from None


def list_inputs(backend: Backend | None = None) -> list[str]:
    """Names of the MIDI inputs (for ``latentsketch midi --list``); raises MidiUnavailable."""
    b = backend or default_backend()
    try:
        return list(b.get_input_names())
    except Exception as e:
        raise MidiUnavailable(f"MIDI unavailable: {_line(e)}") from None


class RawMidiParser:
    """Bytes -> ``mido.Message`` list for byte streams (serial, network bridges, tests).

    ``mido.Parser`` neither expands running status (a status byte omitted when it repeats) nor
    survives a real-time byte (clock) in the middle of a message, and controllers use both. So
    messages are completed here and handed to ``mido.Parser`` whole. RtMidi already delivers
    whole messages.
    """

    _LENGTH = {0x80: 2, 0x90: 2, 0xA0: 2, 0xB0: 2, 0xC0: 1, 0xD0: 1, 0xE0: 2,
               0xF1: 1, 0xF2: 2, 0xF3: 1}

    def __init__(self) -> None:
        self._parser = mido.Parser()
        self._running: int | None = None  # channel status that data bytes continue
        self._buf = bytearray()
        self._need = 0
        self._sysex = False

    def feed(self, data: bytes) -> list[mido.Message]:
        for b in data:
            if b >= 0xF8:  # real-time: anywhere, on its own, running status untouched
                self._parser.feed(bytes([b]))
            elif b == 0xF0:
                self._sysex, self._running, self._buf = True, None, bytearray([b])
            elif b == 0xF7:
                if self._sysex:
                    self._parser.feed(bytes(self._buf) + b"\xf7")
                self._sysex, self._buf = False, bytearray()
            elif b >= 0x80:
                self._sysex = False
                self._running = b if b < 0xF0 else None
                self._buf = bytearray([b])
                self._need = self._LENGTH.get(b & 0xF0 if b < 0xF0 else b, 0)
                self._complete()
            elif self._sysex:
                self._buf.append(b)
            elif self._buf or self._running is not None:
                if not self._buf:
                    assert self._running is not None
                    self._buf = bytearray([self._running])
                    self._need = self._LENGTH[self._running & 0xF0]
                self._buf.append(b)
                self._complete()
        return list(self._parser)

    def _complete(self) -> None:
        if len(self._buf) == self._need + 1:
            self._parser.feed(bytes(self._buf))
            self._buf = bytearray()


class MidiInputs:
    """The open MIDI inputs, polled once per frame with ``poll()``.

    ``device`` is a port name or a case-insensitive part of one ("nanoKONTROL2"), compared
    without the OS's per-connection numbers (``device_name``); an exact name wins over other
    matches. None takes the first input that is not a "Midi Through" port. ``start()`` returns
    False (after logging one line) when the machine has no MIDI; ``poll()`` then always
    returns [].
    """

    def __init__(
        self,
        device: str | None = None,
        *,
        virtual: bool = True,
        rescan: float = RESCAN,
        backend: Backend | None = None,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
        on_timed: Callable[[mido.Message, float], None] | None = None,
        timed: frozenset[str] = frozenset(),
    ) -> None:
        self.device = device
        self.virtual = virtual
        self.rescan = rescan
        self.available = False
        self.errors = DropLog(logger, "MIDI", interval=10.0)
        self._backend = backend
        self._log = logger
        self._clock = clock
        self._port: Any = None
        self._port_name: str | None = None
        self._virtual_port: Any = None
        self._next_scan = 0.0
        self._waiting_logged = False
        # with ``on_timed``, ports deliver through a callback (rtmidi's thread): messages whose
        # type is in ``timed`` go to it at once with their arrival time (MIDI clock), the
        # rest wait in ``_received`` for ``poll``
        self._on_timed = on_timed
        self._timed = timed
        self._received: deque[mido.Message] = deque(maxlen=100_000)

    def _open(self, name: str, **kw: Any) -> Any:
        assert self._backend is not None
        if self._on_timed is not None:
            kw["callback"] = self._receive
        return self._backend.open_input(name, **kw)

    def _receive(self, msg: mido.Message) -> None:
        """A port's callback (rtmidi's thread): stamp timed messages now, queue the rest."""
        if self._on_timed is not None and msg.type in self._timed:
            self._on_timed(msg, time.monotonic())
        else:
            self._received.append(msg)

    @property
    def connected(self) -> tuple[str, ...]:
        """Names of the ports being read (the device, and the virtual port if open)."""
        names = [self._port_name] if self._port is not None else []
        return (*names, *([VIRTUAL_NAME] if self._virtual_port is not None else []))

    def start(self) -> bool:
        try:
            if self._backend is None:
                self._backend = default_backend()
            self._backend.get_input_names()
        except Exception as e:
            msg = str(e) if isinstance(e, MidiUnavailable) else f"MIDI unavailable: {_line(e)}"
            self._log.warning("%s; continuing without MIDI", msg)
            return False
        self.available = True
        if self.virtual:
            try:
                self._virtual_port = self._open(VIRTUAL_NAME, virtual=True)
                self._log.info("MIDI: virtual input port %r open", VIRTUAL_NAME)
            except Exception as e:
                self._log.info("MIDI: no virtual port on this system (%s)", _line(e))
        self._scan()
        return True

    def poll(self) -> list[mido.Message]:
        """Messages received since the last call; rescans the device list when due."""
        if not self.available:
            return []
        if self._clock() >= self._next_scan:
            self._scan()
        out: list[mido.Message] = []
        while self._received:
            out.append(self._received.popleft())
        for port in (self._port, self._virtual_port):
            if port is None:
                continue
            try:
                out.extend(port.iter_pending())
            except Exception as e:
                self.errors.drop("read", "reading %s: %s", getattr(port, "name", "?"), _line(e))
                if port is self._port:
                    self._disconnect("stopped answering")
        return out

    def close(self) -> None:
        for port in (self._port, self._virtual_port):
            if port is not None:
                try:
                    port.close()
                except Exception as e:
                    self._log.debug("closing MIDI port: %s", e)
        self._port = self._virtual_port = None
        self._port_name = None

    def __enter__(self) -> MidiInputs:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _wanted(self, name: str) -> bool:
        low = name.lower()
        if low.startswith(VIRTUAL_NAME):
            return False
        if self.device is None:
            return "midi through" not in low
        want = self.device.lower()
        return want in low or device_name(want) in device_name(low)

    def _scan(self) -> None:
        self._next_scan = self._clock() + self.rescan
        assert self._backend is not None
        try:
            names = list(self._backend.get_input_names())
        except Exception as e:
            self.errors.drop("list", "cannot list inputs: %s", _line(e))
            return
        if self._port is not None and self._port_name not in names:
            self._disconnect("disconnected")
        if self._port is not None:
            return
        for name in sorted(names, key=lambda n: n != self.device):  # the exact name first
            if not self._wanted(name):
                continue
            try:
                self._port = self._open(name)
            except Exception as e:
                self.errors.drop("open", "cannot open %r: %s", name, _line(e))
                continue
            self._port_name = name
            self._waiting_logged = False
            self._log.info("MIDI: connected to %r", name)
            return
        if self.device is not None and not self._waiting_logged:
            self._waiting_logged = True
            self._log.info("MIDI: no input matching %r yet (have: %s); will connect when it "
                           "appears", self.device, ", ".join(names) or "none")

    def _disconnect(self, why: str) -> None:
        self._log.warning("MIDI: %r %s", self._port_name, why)
        try:
            self._port.close()
        except Exception as e:
            self._log.debug("closing MIDI port: %s", e)
        self._port = None
        self._port_name = None
