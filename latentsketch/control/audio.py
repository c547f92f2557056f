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
- ``audio.level``: the same over the three bands together (20 Hz..20 kHz).
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
import statistics
from collections import deque
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
        # the bands' edges in bins (they are contiguous: low, mid, high); the level is their sum
        self._edges = np.searchsorted(
            freqs, [*(lo for _, lo, _ in BANDS), min(BANDS[-1][2], nyquist)]).astype(np.intp)
        self._buf = np.zeros(self.frame, np.float64)   # the last window and what follows it
        self._hops = 0            # hops analysed so far
        self._prev_mag: np.ndarray | None = None
        self._flux: deque[float] = deque(maxlen=max(3, round(FLUX_WINDOW / self.hop_seconds)))
        self._above = False
        self._last_onset = -math.inf
        self._env = [0.0, 0.0, 0.0, 0.0]    # level, low, mid, high
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
        buf = np.concatenate([self._buf, np.nan_to_num(x, nan=0.0, posinf=0.0, neginf=0.0)])
        count = (len(buf) - self.frame) // self.hop
        if count <= 0:
            self._buf = buf
            return np.zeros(0), np.zeros((0, len(FEATURES)))
        # window k ends hop * (k + 1) samples past the previous hop's end: (count, frame)
        step = buf.strides[0]
        windows = np.lib.stride_tricks.as_strided(
            buf[self.hop:], (count, self.frame), (step * self.hop, step), writeable=False)
        self._buf = buf[self.hop * count:]
        spec = np.fft.rfft(windows * self._window, axis=1)                 # (count, bins)
        power = (spec.real ** 2 + spec.imag ** 2) * self._scale
        bands = np.add.reduceat(power, self._edges, axis=1)[:, :3]         # (count, 3)
        amps = np.concatenate([bands.sum(axis=1, keepdims=True), bands], axis=1)
        target = np.clip((10.0 * np.log10(np.maximum(amps, 1e-12)) - FLOOR_DB) / -FLOOR_DB,
                         0.0, 1.0)                                          # (count, 4)
        mags = np.log1p(FLUX_GAMMA * np.sqrt(power))
        prev = mags[0] if self._prev_mag is None else self._prev_mag
        flux = np.maximum(np.diff(mags, axis=0, prepend=prev[None, :]), 0.0).mean(axis=1)
        first = self._prev_mag is None
        self._prev_mag = mags[-1]
        out = np.empty((count, len(FEATURES)))
        times = (self._hops + 1 + np.arange(count)) * self.hop_seconds
        for k in range(count):
            self._hops += 1
            env = self._env
            for j, v in enumerate(target[k].tolist()):
                env[j] += (v - env[j]) * (self._k_attack if v > env[j] else self._k_release)
            onset = not (first and k == 0) and self._onset(float(flux[k]))
            self._hit = 1.0 if onset else self._hit * self._hit_decay
            out[k] = (*env, float(onset), self._hit)
        return times, out

    def _onset(self, flux: float) -> bool:
        """Whether this hop's spectral ``flux`` starts an onset (and remember it)."""
        threshold = (statistics.median(self._flux) if self._flux else 0.0) + FLUX_MARGIN
        self._flux.append(flux)
        above, was = flux > threshold, self._above
        self._above = above
        heard = self._hops * self.hop                     # samples up to this hop's end
        now = heard / self.sample_rate
        warm = heard >= self.frame + WARMUP * self.hop     # no zeros before the stream
        if above and not was and warm and now - self._last_onset >= REFRACTORY:
            self._last_onset = now
            return True
        return False


def analyse(samples: np.ndarray, sample_rate: int,
            envelope: Envelope = Envelope()) -> tuple[np.ndarray, np.ndarray]:
    """A whole sound at once: ``AudioAnalyzer(sample_rate, envelope).feed(samples)``."""
    return AudioAnalyzer(sample_rate, envelope).feed(samples)
