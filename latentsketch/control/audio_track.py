"""A sound file as modulation sources for an offline render (``render --audio song.wav``).

The file is read with PyAV (any format FFmpeg reads: WAV, FLAC, MP3, AAC, the sound of a
video), analysed once with the live analyser (``control.audio``), and handed out frame by
frame as a ``Modulator``: every hop's values timed within the frame, in order, as the live
loop drains them from the bus. The same file gives the same values, so the same render twice
gives the same latent path.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from latentsketch import engine
from latentsketch.control.audio import DEFAULT_ENVELOPE, FEATURES, Envelope, analyse
from latentsketch.errors import UserError, os_reason

MAX_SECONDS = 24 * 3600.0


class AudioFileError(UserError):
    """A sound file that cannot be read; one line naming it."""


@dataclass(frozen=True)
class Sound:
    """Decoded samples, float32 in -1..1, shape (n, channels), at ``rate`` Hz."""

    samples: np.ndarray
    rate: int

    @property
    def seconds(self) -> float:
        return self.samples.shape[0] / self.rate


def read_sound(path: str | os.PathLike[str], option: str = "--audio") -> Sound:
    """The first audio stream of ``path``, decoded. AudioFileError (one line) when the file is
    missing, unreadable, holds no sound or is longer than a day."""
    p = Path(path)
    if not p.is_file():
        raise AudioFileError(f"{option} {p}: no such file")
    chunks: list[np.ndarray] = []
    try:
        with av.open(str(p)) as src:
            if not src.streams.audio:
                raise AudioFileError(f"{option} {p}: holds no sound")
            stream = src.streams.audio[0]
            rate = int(stream.rate or stream.codec_context.sample_rate or 0)
            channels = max(1, min(2, stream.codec_context.channels or 1))
            resampler = av.AudioResampler(format="flt", layout="stereo" if channels == 2
                                          else "mono", rate=rate)
            total = 0
            for frame in src.decode(stream):
                for out in resampler.resample(frame):
                    a = out.to_ndarray().reshape(-1, channels)   # packed: (1, n * ch)
                    chunks.append(a)
                    total += a.shape[0]
                if total > MAX_SECONDS * max(rate, 1):
                    raise AudioFileError(f"{option} {p}: longer than {MAX_SECONDS / 3600:g} "
                                         f"hours")
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1, channels))
    except (av.FFmpegError, OSError, ValueError) as e:
        raise AudioFileError(f"{option} {p}: not a sound PyAV can read ({os_reason(e)})"
                             ) from None
    if not chunks or rate <= 0:
        raise AudioFileError(f"{option} {p}: holds no sound")
    samples = np.concatenate(chunks).astype(np.float32, copy=False)
    if samples.shape[0] == 0:
        raise AudioFileError(f"{option} {p}: holds no sound")
    return Sound(samples, rate)


class AudioTrack:
    """A sound's features over time: ``times`` (H,) seconds, ``values`` (H, F) in
    ``FEATURES`` order; a ``Modulator`` for ``render`` (``samples``)."""

    def __init__(self, times: np.ndarray, values: np.ndarray, seconds: float,
                 path: Path | None = None) -> None:
        self.times = times
        self.values = values
        self.seconds = seconds
        self.path = path

    @classmethod
    def from_sound(cls, sound: Sound, envelope: Envelope = DEFAULT_ENVELOPE,
                   path: Path | None = None) -> AudioTrack:
        """Analyse ``sound``; ValueError for a sample rate the analyser refuses."""
        times, values = analyse(sound.samples, sound.rate, envelope)
        return cls(times, values, sound.seconds, path)

    @classmethod
    def read(cls, path: str | os.PathLike[str],
             envelope: Envelope = DEFAULT_ENVELOPE) -> AudioTrack:
        """Read and analyse a sound file; AudioFileError (one line) if it cannot be."""
        sound = read_sound(path)
        try:
            return cls.from_sound(sound, envelope, Path(path))
        except ValueError as e:
            raise AudioFileError(f"--audio {path}: {e}") from None

    def onsets(self) -> np.ndarray:
        """Times (seconds) of the onsets found."""
        return self.times[self.values[:, FEATURES.index("audio.onset")] > 0.5]

    def samples(self, t0: float, t1: float,
                state: engine.State | None = None) -> Iterator[tuple[str, float]]:
        """Every hop's (name, value) pairs timed in ``t0 < t <= t1``, in time order."""
        lo, hi = np.searchsorted(self.times, [t0, t1], side="right")
        for row in self.values[lo:hi]:
            yield from zip(FEATURES, (float(v) for v in row), strict=True)
