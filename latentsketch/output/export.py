"""Offline export: latent vectors -> decoded, looked, scaled frames -> a video file.

The picture comes from the live window's own pipeline (``output.picture.Picture``): the look,
the fit, the scaling, the tone table at output resolution, black bars. Only the scaler may
differ: ``live`` is the window's ``SurfaceScaler`` itself (pygame-ce's smoothscale, no window
opened), so a replayed performance matches the recording bit for bit; ``bicubic`` (the default
otherwise, torch's uint8 kernel: the same result as Pillow's bicubic at a tenth of its cost),
``bilinear`` and ``lanczos`` (Pillow) are ``ArrayScaler``'s, for quality.

Speed comes from decoding in batches and encoding in a second thread behind a small queue:
libx264 and torch both release the GIL, so decoding the next batch overlaps the encoder. The
decoder should run on one intra-op thread: with two, torch's threads and x264's fight for
the cores and a decode took 290 ms instead of 3 (measured with one core busy elsewhere).
"""

from __future__ import annotations

import math
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentsketch.errors import UserError
from latentsketch.model.inference import Decoder
from latentsketch.output.geometry import FIT_MODES, fit_geometry  # noqa: F401 (API)
from latentsketch.output.look import Look
from latentsketch.output.paths import OutputError, discard, output_error
from latentsketch.output.picture import ArrayScaler, Picture, Scaler
from latentsketch.output.video import FrameWriter, H264Writer, open_writer, writer_class
from latentsketch.params import UPSCALE_FILTERS
from latentsketch.tempfiles import temp_beside

FILTERS = UPSCALE_FILTERS
FITS = FIT_MODES
Progress = Callable[[int, int], None]


class ExportError(UserError, ValueError):
    """Export settings that cannot work; one line for the user."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame to render: latent ``z`` (float32, raw order) and the parameter values the look
    reads; ``dt`` advances the look's trails and fade, ``t`` places the frame in time (None:
    the next slot). ``emit=False`` runs a frame through the look without writing it (warming
    up the trails of a loop)."""

    z: np.ndarray
    params: Mapping[str, float]
    dt: float
    t: float | None = None
    emit: bool = True


@dataclass(frozen=True)
class Clip:
    """What to render: frames (any iterable, consumed once), how many are emitted, their rate,
    and the blackout fade's visibility at the start (0 when the performance began black)."""

    frames: Iterable[Frame]
    count: int
    fps: float
    visibility: float = 1.0
    notes: tuple[str, ...] = ()   # what the person should know about it (one line each)


@dataclass(frozen=True)
class ExportSettings:
    """How to render: output ``size`` (w, h; None = native), fit mode, upscale filter, x264
    speed preset and quality, decode batch size."""

    size: tuple[int, int] | None = None
    fit: str = "fit"
    filter: str = "bicubic"
    preset: str = "superfast"
    crf: int = 18
    batch: int = 16

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            raise ExportError(f"fit {self.fit!r} is not one of {', '.join(FITS)}")
        if self.filter not in FILTERS:
            raise ExportError(f"filter {self.filter!r} is not one of {', '.join(FILTERS)}")
        if self.size is not None and not (1 <= self.size[0] <= 16384 and
                                          1 <= self.size[1] <= 16384):
            raise ExportError(f"size {self.size[0]}x{self.size[1]} is out of range 1..16384")
        if self.batch < 1:
            raise ExportError(f"batch {self.batch} must be at least 1")


@dataclass(frozen=True)
class ExportResult:
    path: Path
    frames: int
    size: tuple[int, int]
    fps: float
    seconds: float  # wall-clock time the export took
    engine: str = ""  # the decoding engine, e.g. torch-fp32 or openvino-fp32
    notes: tuple[str, ...] = ()  # the clip's notes, for the command to say
    duration: float | None = None  # seconds the file plays (None: frames / fps)

    @property
    def played(self) -> float:
        """Seconds the written file plays: frames placed at their own times (a replay on its
        logged frame times) may span more or less than ``frames / fps``."""
        return self.frames / self.fps if self.duration is None else self.duration

    @property
    def mean_fps(self) -> float:
        """Frames per second of the file on average, from the first frame to the last
        (``fps`` for evenly spaced frames; the last frame lasts one ``1/fps`` slot)."""
        span = self.played - 1.0 / self.fps
        return (self.frames - 1) / span if self.frames > 1 and span > 0 else self.fps

    @property
    def evenly_spaced(self) -> bool:
        """Whether the frames sit one per ``1/fps`` slot (to half a frame over the file)."""
        return abs(self.played - self.frames / self.fps) < 0.5 / self.fps

    @property
    def realtime(self) -> float:
        """How many times faster than real time the export ran."""
        return self.played / self.seconds if self.seconds > 0 else math.inf

    def rate_text(self) -> str:
        """The file's frame rate as a person should read it: ``at 30 fps``, or for frames at
        their own times ``at the logged frame times, ~29 fps on average (time base 1/60 s)``."""
        if self.evenly_spaced:
            return f"at {self.fps:g} fps"
        return (f"at the logged frame times, ~{self.mean_fps:.3g} fps on average over "
                f"{self.played:.1f} s (time base 1/{self.fps:g} s)")


# --- scaling -------------------------------------------------------------------------------

def scaler(filter: str) -> Scaler[Any]:
    """The picture pipeline's scaler for an export ``filter`` (one of ``FILTERS``)."""
    if filter == "live":
        # The window's scaler, so only this filter loads pygame (it opens no window).
        from latentsketch.output.display import SurfaceScaler
        return SurfaceScaler()
    return ArrayScaler(filter)


# --- the pipeline --------------------------------------------------------------------------

class _Sink:
    """The encoder thread: frames in through a bounded queue, errors back to the caller."""

    def __init__(self, writer: FrameWriter, depth: int) -> None:
        self.writer = writer
        self.error: BaseException | None = None
        self._q: queue.Queue[tuple[np.ndarray, float | None] | None] = queue.Queue(depth)
        self._thread = threading.Thread(target=self._run, name="latentsketch-export",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (item := self._q.get()) is not None:
            if self.error is None:
                try:
                    self.writer.write(*item)
                except BaseException as e:  # handed to the caller in put/finish
                    self.error = e

    def put(self, frame: np.ndarray, t: float | None) -> None:
        if self.error is not None:
            raise self.error
        self._q.put((frame, t))

    def finish(self) -> None:
        self._q.put(None)
        self._thread.join()
        if self.error is not None:
            self.writer.abort()
            raise self.error
        self.writer.close()

    def abort(self) -> None:
        """Stop the thread and remove everything written: a failed export leaves nothing."""
        try:
            while True:
                self._q.get_nowait()
        except queue.Empty:
            pass
        self._q.put(None)
        self._thread.join()
        self.writer.discard()


def _batches(frames: Iterable[Frame], n: int) -> Iterator[list[Frame]]:
    batch: list[Frame] = []
    for f in frames:
        batch.append(f)
        if len(batch) == n:
            yield batch
            batch = []
    if batch:
        yield batch


def _writer_options(path: Path, s: ExportSettings) -> dict[str, Any]:
    if writer_class(path) is H264Writer:  # an export can be rerun: no crash-safe remux pass
        return {"preset": s.preset, "crf": s.crf, "crash_safe": False}
    return {}


def _partial(path: Path) -> Path:
    """Where a file is written until it is complete, so a failed export destroys nothing: a
    short hidden name of this process's own beside it (``tempfiles.temp_beside``), so two
    exports to one name never write into one file and a 255-byte name still works. A folder
    of PNG frames is written in place (its writer never overwrites a frame)."""
    if not path.suffix:
        return path
    try:
        return temp_beside(path)
    except OSError as e:
        raise output_error(e, path) from e


def export(clip: Clip, decoder: Decoder, path: str | os.PathLike[str],
           settings: ExportSettings = ExportSettings(), *,
           progress: Progress | None = None,
           finish: Callable[[Path], None] | None = None) -> ExportResult:
    """Render ``clip`` to ``path`` (.mp4, .mov, .gif, or a folder for PNG frames).

    ``progress(done, total)`` is called after each written frame. Raises ExportError for
    settings the format refuses and OutputError (one line) if the file cannot be written;
    a file is written under a short hidden name of its own and renamed when complete
    (atomically: two exports to one name each leave a whole file, the last one's), so a
    failed export leaves neither a partial file nor (PNG frames) the frames it wrote.
    ``finish(file)`` runs on the complete hidden file before it is renamed (``render
    --audio`` adds the sound there); whatever it raises fails the export the same way.
    """
    path = Path(path)
    try:
        writer_class(path)
    except ValueError as e:
        raise ExportError(str(e)) from None
    size = settings.size or (decoder.size, decoder.size)
    look = Look()
    look.visibility = min(1.0, max(0.0, clip.visibility))
    picture = Picture(scaler(settings.filter), look)
    if path.suffix and not path.parent.is_dir():  # name the folder, not the hidden partial file
        raise OutputError(f"cannot write {path}: folder {path.parent} does not exist")
    target = _partial(path)
    sink: _Sink | None = None
    start = time.perf_counter()
    done, played = 0, None
    try:  # from the moment the hidden file exists: whatever stops us removes it
        try:
            writer = open_writer(target, size[0], size[1], clip.fps,
                                 **_writer_options(path, settings))
        except ValueError as e:
            raise ExportError(str(e).replace(str(target), str(path))) from None
        sink = _Sink(writer, depth=2 * settings.batch)
        for batch in _batches(clip.frames, settings.batch):
            images = decoder.decode_batch(np.stack([f.z for f in batch]))  # (B, H, W, 3)
            pics = picture.batch(list(images), [f.params for f in batch], [f.dt for f in batch],
                                 size, settings.fit)
            for f, out in zip(batch, pics, strict=True):
                if f.emit:
                    sink.put(out, f.t)
                    done += 1
                    if progress is not None:
                        progress(done, clip.count)
        sink.finish()
        played = writer.duration
        if finish is not None:
            finish(target)
    except BaseException as e:
        if sink is not None:
            sink.abort()  # removes the partial file (or the PNG frames written)
        elif target != path:
            discard(target)
        if isinstance(e, OutputError) and target != path:  # name the file asked for
            raise OutputError(str(e).replace(str(target), str(path))) from None
        raise
    if target != path:
        try:
            os.replace(target, path)
        except OSError as e:
            discard(target)
            raise output_error(e, path) from e
        except BaseException:  # a stop signal at this very moment: no hidden file is left
            discard(target)
            raise
    return ExportResult(path, done, size, clip.fps, time.perf_counter() - start, decoder.engine,
                        clip.notes, played)
