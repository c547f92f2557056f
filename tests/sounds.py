"""Generated sounds for the audio tests: WAV files written with PyAV, with known truth."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np

RATE = 22050


def write_wav(path: Path, x: np.ndarray, rate: int = RATE) -> Path:
    """Mono float samples in -1..1 as a 16-bit WAV file."""
    pcm = (np.clip(x, -1, 1) * 32767).astype(np.int16)[None, :]
    with av.open(str(path), "w") as c:
        s = c.add_stream("pcm_s16le", rate=rate, layout="mono")
        f = av.AudioFrame.from_ndarray(pcm, format="s16", layout="mono")
        f.sample_rate = rate
        for p in (*s.encode(f), *s.encode(None)):
            c.mux(p)
    return path


def kicks(seconds: float = 2.0, every: float = 0.5, first: float = 0.25,
          rate: int = RATE, noise_db: float = -40.0) -> tuple[np.ndarray, np.ndarray]:
    """A kick drum (a 150 -> 50 Hz sweep, 0.12 s decay) every ``every`` s over quiet noise;
    (samples, the kicks' start times)."""
    n = round(seconds * rate)
    x = np.random.default_rng(0).standard_normal(n) * 10 ** (noise_db / 20)
    truth = np.arange(first, seconds - 0.1, every)
    for t0 in truth:
        i = round(t0 * rate)
        tt = np.arange(min(round(0.3 * rate), n - i)) / rate
        phase = 2 * np.pi * np.cumsum(50 + 100 * np.exp(-tt / 0.03)) / rate
        x[i:i + len(tt)] += 0.8 * np.sin(phase) * np.exp(-tt / 0.12)
    return x, truth


def sine(freq: float, seconds: float = 1.0, amp: float = 0.5, rate: int = RATE) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(round(seconds * rate)) / rate)


# a preset's mappings the sound tests share: the bass moves dimension 0, an onset jumps
SOUND_MAPPINGS = """
[[mappings]]
source = "audio.low"
target = "z/0"
out = [-2.0, 2.0]

[[mappings]]
source = "audio.onset"
target = "walk/next"
"""
