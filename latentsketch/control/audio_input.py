"""Live sound in: a sound card (``sounddevice``) or a file played as if it were one, analysed
in a worker thread, its features published on the session's ``ModulationBus``.

``--audio-in`` takes a device (its number, part of its name, or ``default``) or a sound file
(played in real time, looping: a rehearsal without a sound card, and what the tests feed).
The device's callback only copies each block into a bounded queue (the oldest block goes
when the worker falls behind, counted); the worker (``AudioFeed``), at a lower priority than
the render loop (``workers.lower_priority``), runs the same analyser as ``render --audio``
(``control.audio``) and publishes every hop's values, so the loop never waits for sound and
an onset between two frames still arrives. A ``tap`` sees every raw block too (the recorder
takes the sound of a recording from it).

No ``sounddevice`` (an optional extra: ``pip install "latentsketch[audio]"``), no PortAudio
(Debian: ``libportaudio2``), no such device: ``AudioUnavailable``, one line, and the show
goes on without sound. A source that fails later is one message; the worker ends.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from latentsketch.control.audio import DEFAULT_ENVELOPE, FEATURES, AudioAnalyzer, Envelope
from latentsketch.control.audio_track import AudioFileError, read_sound
from latentsketch.control.modulation import ModulationBus
from latentsketch.errors import UserError
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch")

BLOCK = 512          # samples per block handed to the worker (~12 ms at 44.1 kHz)
QUEUE_BLOCKS = 256   # blocks the device may get ahead of the worker (~3 s)
INSTALL = ('pip install "latentsketch[audio]"; on Debian/Ubuntu also '
           'apt install libportaudio2')

Tap = Callable[[np.ndarray, int], None]   # (block (n, channels) float32, sample rate)


class AudioUnavailable(UserError):
    """No sound input: the library, PortAudio or the device is missing; one line."""


class BlockSource(Protocol):
    """Blocks of float32 samples, shape (n, channels), at ``rate`` Hz: ``read`` waits up to
    ``timeout`` s for the next (None: none yet); ``ended`` once it will give no more."""

    name: str
    rate: int
    channels: int
    ended: bool

    def read(self, timeout: float) -> np.ndarray | None: ...

    def close(self) -> None: ...


class DeviceInput:
    """A sound card's input through ``sounddevice`` (PortAudio).

    Args:
        device: a device number, part of its name, or None/"default" for the default input.
        rate: sample rate (None: the device's default).
    """

    def __init__(self, device: str | int | None = None, rate: int | None = None) -> None:
        try:
            import sounddevice as sd
        except (ImportError, OSError) as e:   # OSError: "PortAudio library not found"
            raise AudioUnavailable(f"--audio-in: no sound input here ({_line(e)}); "
                                   f"{INSTALL}") from None
        spec: str | int | None = None if device in (None, "", "default") else device
        if isinstance(spec, str) and spec.isdigit():
            spec = int(spec)
        self._blocks: queue.Queue[np.ndarray] = queue.Queue(QUEUE_BLOCKS)
        self.dropped = 0
        self.ended = False
        try:
            info: Any = sd.query_devices(spec, "input")
            self.name = str(info["name"])
            self.channels = max(1, min(2, int(info["max_input_channels"])))
            self.rate = int(rate or info["default_samplerate"])
            self._stream = sd.InputStream(device=spec, channels=self.channels,
                                          samplerate=self.rate, blocksize=BLOCK,
                                          dtype="float32", callback=self._callback)
            self._stream.start()
        except (sd.PortAudioError, ValueError, TypeError, KeyError) as e:
            what = "the default input" if spec is None else repr(device)
            raise AudioUnavailable(f"--audio-in: cannot open {what} ({_line(e)}); "
                                   f"'python -m sounddevice' lists the devices") from None

    def _callback(self, indata: np.ndarray, frames: int, when: Any, status: Any) -> None:
        """PortAudio's thread: copy the block and return at once (newest wins when full)."""
        block = indata.copy()
        while True:
            try:
                self._blocks.put_nowait(block)
                return
            except queue.Full:
                try:
                    self._blocks.get_nowait()
                    self.dropped += 1
                except queue.Empty:
                    pass

    def read(self, timeout: float) -> np.ndarray | None:
        try:
            return self._blocks.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        try:
            self._stream.stop()
            self._stream.close()
        except Exception as e:  # noqa: BLE001 - closing must not fail a shutdown
            log.warning("sound input %s: not closed cleanly (%s)", self.name, e)


class FileInput:
    """A sound file played as a live input: blocks of ``BLOCK`` samples, each when its time
    comes (``realtime``; else as fast as read), looping unless ``loop`` is False."""

    def __init__(self, path: str | Path, realtime: bool = True, loop: bool = True,
                 clock: Callable[[], float] = time.monotonic) -> None:
        try:
            sound = read_sound(path, "--audio-in")
        except AudioFileError as e:
            raise AudioUnavailable(str(e)) from None
        self.name = str(path)
        self.rate = sound.rate
        self.samples = sound.samples
        self.channels = sound.samples.shape[1]
        self.realtime, self.loop, self._clock = realtime, loop, clock
        self.ended = False
        self._pos = 0
        self._played = 0
        self._t0: float | None = None

    def read(self, timeout: float) -> np.ndarray | None:
        if self.ended:
            return None
        if self.realtime:
            now = self._clock()
            if self._t0 is None:
                self._t0 = now
            due = self._t0 + (self._played + BLOCK) / self.rate
            if due > now:
                time.sleep(min(timeout, due - now))
                if self._clock() < due:
                    return None
        block = self.samples[self._pos:self._pos + BLOCK]
        self._pos += len(block)
        self._played += len(block)
        if self._pos >= len(self.samples):
            self._pos = 0
            self.ended = not self.loop
        return block

    def close(self) -> None:
        pass


def open_input(spec: str) -> BlockSource:
    """``--audio-in``'s value: an existing file is played as input, anything else names a
    device. AudioUnavailable (one line) if it cannot be opened."""
    p = Path(spec)
    if p.suffix and p.is_file():
        return FileInput(p)
    return DeviceInput(spec)


class AudioFeed:
    """Analyse ``source`` in a worker thread; publish the features on ``bus``.

    Args:
        source: where the sound comes from (closed by ``close``).
        bus: the session's modulation bus (``Inputs.modulation``).
        envelope: attack and release of the band and level values.
        tap: called with every raw block (from the worker thread), e.g. the recorder's.
    """

    def __init__(self, source: BlockSource, bus: ModulationBus,
                 envelope: Envelope = DEFAULT_ENVELOPE, tap: Tap | None = None) -> None:
        self.source = source
        self.bus = bus
        self.tap = tap
        self.analyzer = AudioAnalyzer(source.rate, envelope)
        self.hops = 0
        self.t0 = time.monotonic()   # published times are t0 + seconds of sound heard
        self._messages: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="latentsketch-audio",
                                        daemon=True)
        self._closed = False

    def start(self) -> AudioFeed:
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        lower_priority()
        t0 = self.t0 = time.monotonic()
        try:
            while not self._stop.is_set():
                block = self.source.read(0.05)
                if block is None:
                    if self.source.ended:
                        return
                    continue
                times, values = self.analyzer.feed(block)
                for t, row in zip(times, values, strict=True):
                    self.bus.publish_many(dict(zip(FEATURES, row.tolist(), strict=True)),
                                          t0 + float(t))
                self.hops += len(times)
                if self.tap is not None:
                    self.tap(block, self.source.rate)
        except Exception as e:  # noqa: BLE001 - a sound card's failure must not end the show
            self._messages.put(f"sound input {self.source.name} failed ({type(e).__name__}: "
                               f"{e}); playing on without it")

    def poll(self) -> list[str]:
        """Messages to show (a failure), once each."""
        out: list[str] = []
        while True:
            try:
                out.append(self._messages.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        """Stop the worker and close the source; safe twice."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        if not self._closed:
            self._closed = True
            self.source.close()


def open_feed(spec: str, bus: ModulationBus, tap: Tap | None = None) -> AudioFeed:
    """``--audio-in SPEC`` (``open_input``) analysed onto ``bus``, started; AudioUnavailable
    (one line) if there is no such input."""
    source = open_input(spec)
    try:
        feed = AudioFeed(source, bus, tap=tap)
    except ValueError as e:   # a sample rate the analyser refuses
        source.close()
        raise AudioUnavailable(f"--audio-in {spec}: {e}") from None
    return feed.start()


def _line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
