"""Sound -> modulation-source values: band energies, level and onsets, with attack/release.

One streaming analyser serves the live input (``control.audio_input``'s worker) and offline
renders (``control.audio_track``): blocks of samples in, in any sizes, one set of features
out per hop (``HOP_SECONDS``, ~5.8 ms), each stamped with the stream time (seconds from its
first sample) of the newest sample it has heard. Pure numpy, no state outside the object, so
the same samples give the same values whether they arrive from a sound card in 10 ms blocks
or from a file all at once.

Per hop, over the last ``FRAME_SECONDS`` (a Hann-windowed FFT):

- ``audio.low`` / ``audio.mid`` / ``audio.high``: the amplitude of the sound below 200 Hz,
  200 Hz..2 kHz and above 2 kHz, in dB relative to a full-scale sine, -60..0 dB as 0..1, then
  an envelope follower: rises with the ``attack`` time constant, falls with ``release``.
- ``audio.level``: the same over the whole spectrum.
- ``audio.onset``: 1 on the hop where an onset is found, else 0 (for triggers); onsets are
  rises of spectral flux (the summed increase of log-compressed magnitudes, the usual
  detection function for percussive and tonal attacks alike) through an adaptive threshold
  (the median of the last ``FLUX_WINDOW`` seconds plus a margin), at most one per
  ``REFRACTORY`` seconds, from the first full window on (a sound that starts with the
  stream is no onset).
- ``audio.hit``: jumps to 1 at each onset and decays with ``release``.

The band edges, the dB floor and the threshold are fixed and documented rather than tuned per
song: a mapping's ``in`` range rescales a source (``in = [0.3, 0.8]``), its ``smooth`` adds
glide. Librosa and aubio were not used: librosa analyses whole files (not streams) and pulls
in numba and scipy, aubio's last release (2019) ships no wheels; the few lines here are the
textbook method (Bello et al. 2005, "A tutorial on onset detection in music signals").
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

FRAME_SECONDS = 1024 / 44100      # analysis window (~23 ms)
HOP_SECONDS = 256 / 44100         # one set of features per hop (~5.8 ms)
BANDS = (("audio.low", 20.0, 200.0), ("audio.mid", 200.0, 2000.0),
         ("audio.high", 2000.0, 20000.0))
FLOOR_DB = -60.0                  # dB (re a full-scale sine) shown as 0; 0 dB as 1
FLUX_WINDOW = 0.5                 # seconds of flux history behind the adaptive threshold
FLUX_MARGIN = 0.05                # added to the median: what silence must exceed to count
FLUX_GAMMA = 1000.0               # log compression log1p(gamma * |X|) of the magnitudes
REFRACTORY = 0.08                 # seconds: two onsets closer than this are one
WARMUP = 8                        # hops of flux history before the first onset
FEATURES = ("audio.level", "audio.low", "audio.mid", "audio.high", "audio.onset", "audio.hit")


@dataclass(frozen=True)
class Envelope:
    """Attack and release time constants in seconds (how fast a value rises and falls)."""

    attack: float = 0.005
    release: float = 0.15

    def __post_init__(self) -> None:
        for name in ("attack", "release"):
            v = getattr(self, name)
            if not (isinstance(v, int | float) and math.isfinite(v) and 0.0 <= v <= 10.0):
                raise ValueError(f"{name} {v!r} must be 0..10 seconds")


DEFAULT_ENVELOPE = Envelope()


def _pow2(n: float) -> int:
    return 1 << max(4, round(math.log2(max(16.0, n))))


class AudioAnalyzer:
    """Streaming analysis of one sound at ``sample_rate`` Hz.

    ``feed(block)`` takes float samples in -1..1, shape (n,) or (n, channels) (channels are
    averaged), and returns the hops completed by it: (times, values) with ``times`` shape
    (H,) in seconds of stream time and ``values`` shape (H, len(FEATURES)) in 0..1, columns
    in ``FEATURES`` order. ValueError for a sample rate out of 8 kHz..384 kHz.
    """

    def __init__(self, sample_rate: int, envelope: Envelope = Envelope()) -> None:
        if not 8000 <= sample_rate <= 384000:
            raise ValueError(f"sample rate {sample_rate} Hz is out of range 8000..384000")
        self.sample_rate = int(sample_rate)
        self.envelope = envelope
        self.frame = _pow2(FRAME_SECONDS * sample_rate)
        self.hop = max(1, round(self.frame * HOP_SECONDS / FRAME_SECONDS))
        self.hop_seconds = self.hop / self.sample_rate
        self._window = np.hanning(self.frame).astype(np.float64)
        # |X_k|^2 * scale summed over a band = the squared amplitude of a sine in it
        self._scale = 4.0 / (self.frame * float(np.sum(self._window ** 2)))
        freqs = np.fft.rfftfreq(self.frame, 1.0 / self.sample_rate)
        nyquist = self.sample_rate / 2
        self._bands = [(freqs >= lo) & (freqs < min(hi, nyquist)) for _, lo, hi in BANDS]
        self._all = freqs >= BANDS[0][1]
        self._buf = np.zeros(self.frame, np.float64)
        self._fill = 0            # samples buffered since the last hop
        self._heard = 0           # samples fed so far
        self._prev_mag: np.ndarray | None = None
        self._flux = np.zeros(max(3, round(FLUX_WINDOW / self.hop_seconds)), np.float64)
        self._flux_n = 0
        self._above = False
        self._last_onset = -math.inf
        self._env = np.zeros(4, np.float64)    # level, low, mid, high
        self._hit = 0.0
        a, r = envelope.attack, envelope.release
        self._k_attack = 1.0 if a <= 0 else -math.expm1(-self.hop_seconds / a)
        self._k_release = 1.0 if r <= 0 else -math.expm1(-self.hop_seconds / r)
        self._hit_decay = 0.0 if r <= 0 else math.exp(-self.hop_seconds / r)

    def feed(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.asarray(block, dtype=np.float64)
        if x.ndim == 2:
            x = x.mean(axis=1)
        elif x.ndim != 1:
            raise ValueError(f"audio block of shape {x.shape}: expected (n,) or (n, channels)")
        x = np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)
        times: list[float] = []
        rows: list[np.ndarray] = []
        i = 0
        while i < len(x):
            take = min(self.hop - self._fill, len(x) - i)
            self._buf = np.roll(self._buf, -take)
            self._buf[-take:] = x[i:i + take]
            self._fill += take
            self._heard += take
            i += take
            if self._fill == self.hop:
                self._fill = 0
                times.append(self._heard / self.sample_rate)
                rows.append(self._hop())
        if not rows:
            return np.zeros(0), np.zeros((0, len(FEATURES)))
        return np.asarray(times), np.stack(rows)

    def _hop(self) -> np.ndarray:
        spec = np.fft.rfft(self._buf * self._window)
        power = (spec.real ** 2 + spec.imag ** 2) * self._scale
        amps = [float(np.sum(power[self._all]))] + [float(np.sum(power[b])) for b in self._bands]
        db = 10.0 * np.log10(np.maximum(np.asarray(amps), 1e-12))
        target = np.clip((db - FLOOR_DB) / -FLOOR_DB, 0.0, 1.0)
        k = np.where(target > self._env, self._k_attack, self._k_release)
        self._env += (target - self._env) * k
        onset = self._onset(np.log1p(FLUX_GAMMA * np.sqrt(power)))
        self._hit = 1.0 if onset else self._hit * self._hit_decay
        return np.array([*self._env, float(onset), self._hit])

    def _onset(self, mag: np.ndarray) -> bool:
        prev, self._prev_mag = self._prev_mag, mag
        if prev is None:
            return False
        flux = float(np.mean(np.maximum(mag - prev, 0.0)))
        n = min(self._flux_n, len(self._flux))
        threshold = (float(np.median(self._flux[:n])) if n else 0.0) + FLUX_MARGIN
        self._flux[self._flux_n % len(self._flux)] = flux
        self._flux_n += 1
        above, was = flux > threshold, self._above
        self._above = above
        now = self._heard / self.sample_rate
        warm = self._heard >= self.frame + WARMUP * self.hop   # no zeros before the stream
        if above and not was and warm and now - self._last_onset >= REFRACTORY:
            self._last_onset = now
            return True
        return False


def analyse(samples: np.ndarray, sample_rate: int,
            envelope: Envelope = Envelope()) -> tuple[np.ndarray, np.ndarray]:
    """A whole sound at once: ``AudioAnalyzer(sample_rate, envelope).feed(samples)``."""
    return AudioAnalyzer(sample_rate, envelope).feed(samples)
