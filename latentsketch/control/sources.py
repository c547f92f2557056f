"""Live picture sources to steer the walk with: a camera, a video file, a folder of images.

Each source hands out its newest picture as (H, W, 3) uint8 RGB when asked (``read``): the
camera's latest frame, the video's frame at the time it has played to (looping at the clip's
own frame rate, whatever rate it is asked at), or the next image of a folder (in name order,
looping: deterministic, for tests). ``open_source`` picks one from ``--camera``'s value: a
number is a camera, a folder a ``FolderSource``, any other path a ``VideoFileSource``.
Sources are read from the encoder's worker thread (``control.camera_feed``), never the loop.

Every failure is a ``SourceError``: one line naming the camera or file and what to do.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Protocol

import numpy as np

from latentsketch.data.images import DataError, find_images, read_rgb
from latentsketch.errors import UserError, os_reason

MAX_SIDE = 512      # video frames are scaled down to this short side before encoding


class SourceError(UserError):
    """A picture source that cannot be opened or read; one line."""


class FrameSource(Protocol):
    """Anything that hands out pictures: ``read`` the newest (None: none ready yet; raises
    SourceError when the source has failed for good), ``close`` when done. A source that
    skips some of its pictures and plays on may also keep ``notes``: one line per skipped
    picture, for its reader to say and clear."""

    name: str

    def read(self) -> np.ndarray | None: ...

    def close(self) -> None: ...


class FolderSource:
    """The images of a folder (recursively, sorted by path) or a single image file, one per
    ``read``, looping. Unreadable files are skipped, each noted once in ``notes`` (one line
    naming it); a folder where none can be read fails."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        p = Path(path)
        self.name = str(p)
        try:
            self.files = find_images(p) if p.is_dir() else [p]
        except DataError as e:
            raise SourceError(str(e)) from None
        if not self.files:
            raise SourceError(f"--camera {p}: no images in this folder")
        self._next = 0
        self._bad: set[Path] = set()
        self.notes: list[str] = []

    def read(self) -> np.ndarray | None:
        why = ""
        for _ in range(len(self.files)):
            f = self.files[self._next]
            self._next = (self._next + 1) % len(self.files)
            if f in self._bad:
                continue
            try:
                return read_rgb(f)
            except DataError as e:
                self._bad.add(f)
                why = str(e)
                if len(self._bad) < len(self.files):   # else the whole source fails, below
                    self.notes.append(f"--camera {self.name}: skipping {e}")
        if len(self.files) == 1 and why:   # one picture: say what is wrong with it
            raise SourceError(f"--camera {why}")
        raise SourceError(f"--camera {self.name}: none of its {len(self.files)} images can be "
                          f"read")

    def close(self) -> None:
        pass


def _scaled(frame: object, side: int) -> np.ndarray:
    """A PyAV video frame as RGB, its short side scaled down to ``side`` at most."""
    w, h = frame.width, frame.height  # type: ignore[attr-defined]
    k = min(1.0, side / max(1, min(w, h)))
    sw, sh = max(2, round(w * k)) & ~1, max(2, round(h * k)) & ~1
    return frame.to_ndarray(format="rgb24", width=sw, height=sh)  # type: ignore[attr-defined]


class VideoFileSource:
    """A video file played in real time from the first ``read``, looping: each ``read`` gives
    the frame due at the time elapsed since then (frames in between are decoded and skipped,
    never converted). ``clock`` is injectable for tests."""

    def __init__(self, path: str | os.PathLike[str],
                 clock: Callable[[], float] = time.monotonic) -> None:
        import av

        self.path = Path(path)
        self.name = str(self.path)
        self._clock = clock
        if not self.path.is_file():
            raise SourceError(f"--camera {self.path}: no such file or folder (give a camera "
                              f"number, a video file or a folder of images)")
        try:
            self._container = av.open(str(self.path))
        except (av.error.FFmpegError, OSError, ValueError) as e:
            raise SourceError(f"--camera {self.path}: not a video PyAV can read "
                              f"({os_reason(e)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise SourceError(f"--camera {self.path}: holds no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_count = 1       # the encoder's core is busy enough
        rate = self._stream.average_rate or self._stream.guessed_rate
        self._period = 1.0 / float(rate) if rate else 1.0 / 25
        self._frames = self._decode()
        self._current: tuple[float, object] | None = None
        self._ahead: tuple[float, object] | None = None
        self._t0: float | None = None
        self._offset = 0.0            # media seconds of the loops already played
        self.loops = 0

    def _decode(self) -> Iterator[tuple[float, object]]:
        for f in self._container.decode(self._stream):
            t = float(f.time) if f.time is not None else 0.0
            yield t, f

    def _pull(self) -> tuple[float, object] | None:
        """The next frame in media time across loops, or None if the clip holds none."""
        try:
            t, f = next(self._frames)
        except StopIteration:
            if self._current is None:
                return None
            self._offset = self._current[0] + self._period   # the clip's length so far
            self._container.seek(0)
            self._frames = self._decode()
            self.loops += 1
            try:
                t, f = next(self._frames)
            except StopIteration:
                return None
        except (OSError, ValueError) as e:  # av.error.FFmpegError is an OSError/ValueError
            raise SourceError(f"--camera {self.path}: cannot decode ({os_reason(e)})") from None
        return self._offset + t, f

    def read(self) -> np.ndarray | None:
        now = self._clock()
        if self._t0 is None:
            self._t0 = now
        due = now - self._t0
        if self._current is not None and due - self._current[0] > 1.0:
            self._t0 = now - self._current[0]   # fell behind (a stall): play on from here
            due = self._current[0]
        while True:
            if self._ahead is None:
                self._ahead = self._pull()
                if self._ahead is None:
                    if self._current is None:
                        raise SourceError(f"--camera {self.path}: holds no frames")
                    break
            if self._current is not None and self._ahead[0] > due:
                break
            self._current, self._ahead = self._ahead, None
        return _scaled(self._current[1], MAX_SIDE)

    def close(self) -> None:
        self._container.close()


def open_source(spec: str) -> FrameSource:
    """``--camera``'s value -> a source: a number is a camera (``control.camera``), a folder
    or an image file a ``FolderSource``, anything else a ``VideoFileSource``. SourceError
    (one line) if it cannot be opened."""
    if spec.isdigit():
        from latentsketch.control.camera import CameraSource

        return CameraSource(int(spec))
    p = Path(spec)
    if p.is_dir() or p.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp", ".bmp"):
        if not p.exists():
            raise SourceError(f"--camera {p}: no such file")
        return FolderSource(p)
    return VideoFileSource(p)
