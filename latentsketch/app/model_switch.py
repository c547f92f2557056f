"""Switching models during a show: load off the render thread, then crossfade the pictures.

A preset whose ``[scene] model`` names another model (``preset.SceneSettings``) cannot switch
between two frames the way parameters do: reading the weights and building and timing a decoder
takes 0.1-1 s. ``ModelLoad`` does that in a worker thread (``workers.lower_priority``: a step
back for the render loop, as the camera and drop encoders do) while the old model plays on; the
loop polls it once a frame (a queue read). When it is ready the loop swaps it in between two
frames and ``Crossfade`` blends the old model's last frame into the new model's frames over
the scene's fade, so the picture never jumps and the show never waits.
"""

from __future__ import annotations

import logging
import queue
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from latentsketch import preset as presets
from latentsketch.latent.fade import ease
from latentsketch.model import checkpoint
from latentsketch.model.checkpoint import CheckpointError, LoadedModel
from latentsketch.model.inference import Decoder
from latentsketch.workers import lower_priority

log = logging.getLogger("latentsketch")


@dataclass(frozen=True)
class Loaded:
    """A model ready to play: its checkpoint and its decoder, built and timed."""

    path: Path
    model: LoadedModel
    decoder: Decoder


class ModelLoad:
    """Load ``path`` (a weights file) and build its decoder in a daemon thread.

    ``poll()`` once a frame: None while loading, then once the ``Loaded`` model or the
    ``CheckpointError`` it failed with; ``threaded=False`` loads in the caller (the benchmark's
    baseline: what the loop would suffer without the thread).
    """

    def __init__(self, path: Path, preset: presets.Preset, fade: float | None,
                 backend: str = "auto", threaded: bool = True) -> None:
        self.path = path
        self.preset = preset
        self.fade = fade
        self.backend = backend if backend in ("auto", "fp32", "bf16") else "auto"
        self._done: queue.SimpleQueue[Loaded | CheckpointError] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        if threaded:
            self._thread = threading.Thread(target=self._run, args=(True,), daemon=True,
                                            name="latentsketch-model-load")
            self._thread.start()
        else:
            self._run(False)

    def _run(self, background: bool) -> None:
        if background:
            lower_priority()
        try:
            loaded = checkpoint.load(self.path)
            decoder = Decoder(loaded.vae, backend=self.backend, threads=None)
            self._done.put(Loaded(self.path, loaded, decoder))
        except CheckpointError as e:
            self._done.put(e)
        except Exception as e:  # noqa: BLE001 - a worker reports, the show goes on
            self._done.put(CheckpointError(f"model {self.path}: cannot load it: {e}"))

    def poll(self) -> Loaded | CheckpointError | None:
        try:
            return self._done.get_nowait()
        except queue.Empty:
            return None

    def close(self, timeout: float = 5.0) -> None:
        """Wait for the thread (it cannot be interrupted mid-load; it is a daemon anyway)."""
        if self._thread is not None:
            self._thread.join(timeout)


class Crossfade:
    """The old model's last frame fading into the new model's frames over ``seconds``.

    ``blend(frame, dt)`` returns ``frame`` with the old one mixed in (uint8 HxWx3; the old one
    is resized to it once, bicubic), on the fade's smoothstep curve; ``done`` when over.
    """

    def __init__(self, old: np.ndarray, seconds: float) -> None:
        self.old = old
        self.seconds = max(0.0, float(seconds))
        self.t = 0.0

    @property
    def done(self) -> bool:
        return self.t >= self.seconds

    def blend(self, frame: np.ndarray, dt: float) -> np.ndarray:
        self.t += max(0.0, dt)
        if self.done:
            return frame
        if self.old.shape != frame.shape:
            h, w = frame.shape[:2]
            self.old = np.asarray(Image.fromarray(self.old).resize(
                (w, h), Image.Resampling.BICUBIC))
        a = ease(self.t / self.seconds) if self.seconds > 0 else 1.0
        mixed = self.old.astype(np.float32) * (1.0 - a) + frame.astype(np.float32) * a
        return np.clip(mixed + 0.5, 0, 255).astype(np.uint8)
