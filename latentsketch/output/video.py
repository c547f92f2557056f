"""Frame writers: MP4 (H.264), ProRes MOV, GIF and PNG sequences behind one small interface.

Every writer takes RGB ``uint8`` frames of shape ``(height, width, 3)``::

    with open_writer("out.mp4", 512, 512, fps=30) as w:
        for frame in frames:
            w.write(frame)            # or w.write(frame, t) with t in seconds

Timestamps: the time base is ``1/fps``. ``write(frame)`` puts a frame on the next slot, so
offline export gets a constant frame rate. ``write(frame, t)`` places the frame at its own
time ``t`` (seconds on any clock; the video starts at the first frame's ``t``) rounded to the
nearest slot, so a live loop whose frame rate wobbles plays back at the speed it was shown.
A frame never shares or goes back to an earlier slot: it moves to the next free one, so no
frame is dropped — pass the loop's top frame rate as ``fps``.

MP4 is crash-safe by default, as OBS's "Hybrid MP4": it is written as fragmented MP4 (a
SIGKILL or power cut keeps everything up to the last fragment), and a clean ``close()``
remuxes it — packets copied, nothing re-encoded — into an ordinary MP4 with its index at the
front. If that remux fails the fragmented file stays, still playable.

Nothing is left half-written: a writer that cannot start removes the file it opened, a PNG
frame that fails is removed, ``discard()`` removes everything a failed export wrote, and
``frames_on_disk()`` says how many frames the file really holds after a failure (a full disk
loses the fragment being written, so fewer than were encoded).
"""

from __future__ import annotations

import math
import os
from abc import ABC, abstractmethod
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np
from PIL import Image

from latentsketch.output.paths import OutputError, describe_os_error, discard, output_error
from latentsketch.tempfiles import temp_beside

_BT709 = 1  # AVCOL_SPC / PRI / TRC value for ITU-R BT.709
_MPEG_RANGE = 1  # limited ("TV") range, what players expect from H.264 and ProRes


def even_size(width: int, height: int) -> tuple[int, int]:
    """Round a size down to even numbers, which H.264 (yuv420p) and ProRes 422 require."""
    return max(2, width - width % 2), max(2, height - height % 2)


def as_fps(fps: float | Fraction) -> Fraction:
    """A frame rate as an exact fraction: 29.97 -> 2997/100 (NTSC is Fraction(30000, 1001))."""
    rate = Fraction(fps).limit_denominator(1001) if isinstance(fps, float) else Fraction(fps)
    if not 0 < rate <= 1000:
        raise ValueError(f"frame rate {float(rate):g} must be more than 0 and at most 1000")
    return rate


class FrameWriter(ABC):
    """Writes RGB frames to one file or folder; ``close()`` finishes it, ``abort()`` salvages it.

    Errors while writing raise ``OutputError`` (one line naming the file); a wrong frame
    shape or dtype raises ``ValueError``. After ``close()`` or ``abort()``,
    ``frames_on_disk()`` counts what the file holds; ``discard()`` removes it.
    """

    needs_even_size = False

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction) -> None:
        self.path = Path(path)
        self.width, self.height = int(width), int(height)
        self.fps = as_fps(fps)
        if self.width < 1 or self.height < 1:
            raise ValueError(f"{self.path}: frame size {width}x{height} is not positive")
        if self.needs_even_size and (self.width % 2 or self.height % 2):
            raise ValueError(f"{self.path}: frame size {width}x{height} must be even "
                             f"(use {'x'.join(map(str, even_size(self.width, self.height)))})")
        self.frames_written = 0
        self.closed = False
        self._t0: float | None = None
        self._last_pts = -1

    def write(self, frame: np.ndarray, t: float | None = None) -> None:
        """Append one frame, at time ``t`` seconds if given (see the module docstring)."""
        if self.closed:
            raise ValueError(f"{self.path}: writer is closed")
        if (not isinstance(frame, np.ndarray) or frame.dtype != np.uint8
                or frame.shape != (self.height, self.width, 3)):
            got = f"{getattr(frame, 'shape', '?')} {getattr(frame, 'dtype', type(frame).__name__)}"
            raise ValueError(f"{self.path}: expected a uint8 {self.height}x{self.width}x3 frame, "
                             f"got {got}")
        pts = self._next_pts(t)
        try:
            self._write(np.ascontiguousarray(frame), pts)
        except (av.FFmpegError, OSError) as e:
            raise output_error(e, self.path) from e
        self._last_pts = pts
        self.frames_written += 1

    def close(self) -> None:
        """Finish the file (flush, trailer, remux). Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self._close()
        except (av.FFmpegError, OSError) as e:
            raise output_error(e, self.path, "finish") from e

    def abort(self) -> None:
        """Close after an error: keep what is on disk, skip optional work, never raise."""
        if self.closed:
            return
        self.closed = True
        try:
            self._abort()
        except Exception:  # salvaging after an error that was already reported
            pass

    @property
    def duration(self) -> float:
        """Seconds the written frames span in the file: from the first frame's slot to the end
        of the last one's (frames placed at their own times may leave slots empty)."""
        return (self._last_pts + 1) / float(self.fps) if self.frames_written else 0.0

    def frames_on_disk(self) -> int:
        """Frames the finished (closed or aborted) output holds; a writer whose file can lose
        frames on a failure (a video container) counts them in the file."""
        return self.frames_written

    def discard(self) -> None:
        """Remove what this writer wrote (a failed export leaves nothing); never raises."""
        self.abort()
        discard(self.path)

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_pts(self, t: float | None) -> int:
        """The frame's slot in units of 1/fps: its own time if given, never an earlier slot."""
        nxt = self._last_pts + 1
        if t is None or not math.isfinite(t):
            return nxt
        if self._t0 is None:
            self._t0 = t - nxt / self.fps
        return max(nxt, round((t - self._t0) * self.fps))

    @abstractmethod
    def _write(self, frame: np.ndarray, pts: int) -> None: ...

    @abstractmethod
    def _close(self) -> None: ...

    def _abort(self) -> None:
        self._close()


class _AvWriter(FrameWriter):
    """Shared PyAV plumbing: one video stream, BT.709 limited range, time base 1/fps."""

    needs_even_size = True
    codec = ""
    pix_fmt = ""

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction, *, container_options: dict[str, str],
                 codec_options: dict[str, str], gop_size: int | None = None) -> None:
        super().__init__(path, width, height, fps)
        self._container: Any = None
        self._counted: int | None = None  # frames known to be in the file (remux counted)
        try:
            self._container = av.open(str(self.path), "w", format=self._format(),
                                      container_options=container_options)
            stream = self._container.add_stream(self.codec, rate=self.fps)
            stream.width, stream.height, stream.pix_fmt = self.width, self.height, self.pix_fmt
            cc = stream.codec_context
            cc.time_base = 1 / self.fps
            cc.colorspace = cc.color_primaries = cc.color_trc = _BT709
            cc.color_range = _MPEG_RANGE
            if gop_size:
                cc.gop_size = gop_size
            stream.options = codec_options
            self._stream = stream
            self._add_streams()
            self._container.start_encoding()
        except (av.FFmpegError, OSError) as e:
            self._drop_container()
            raise output_error(e, self.path) from e

    def _format(self) -> str:
        return self.path.suffix.lstrip(".").lower()

    def _add_streams(self) -> None:
        """Streams besides the video, added before the header is written (none here)."""

    def _write(self, frame: np.ndarray, pts: int) -> None:
        vf = av.VideoFrame.from_ndarray(frame, format="rgb24").reformat(
            format=self.pix_fmt, dst_colorspace="ITU709", dst_color_range="MPEG")
        vf.pts = pts
        self._container.mux(self._stream.encode(vf))

    def _close(self) -> None:
        self._finish_container()

    def _abort(self) -> None:
        self._finish_container()

    def _finish_container(self) -> None:
        try:
            self._container.mux(self._stream.encode(None))
            self._finish_sound()
        finally:
            self._container.close()

    def _finish_sound(self) -> None:
        """Flush a sound stream (``H264Writer``'s) before the container closes."""

    def _drop_container(self) -> None:
        """After a failed start: close what was opened and remove the file it began."""
        if self._container is not None:
            close_unstarted(self._container, self.path)
        discard(self.path)

    def frames_on_disk(self) -> int:
        if self._counted is not None:
            return self._counted
        return count_frames(self.path) if self.frames_written else 0


class H264Writer(_AvWriter):
    """MP4 with H.264 (libx264, yuv420p).

    Args:
        preset: x264 speed preset; ``"ultrafast"`` keeps up with 1024x1024 at 60 fps on two
            cores (see FACTS.md), ``"veryfast"`` gives smaller files for offline export.
        crf: quality, lower is better (18 is visually near lossless).
        crash_safe: write fragmented MP4 and remux on close (see the module docstring);
            B-frames are off in this mode so timestamps start at 0 without an edit list.
            Finalising reads and rewrites the file once: seconds for a long recording.
        fragment_seconds: longest stretch a crash can lose.
        keyframe_seconds: keyframe interval; short enough for editors to scrub.
        threads: encoder threads, 0 = let x264 choose.
        audio: (sample rate, channels) to add an AAC sound stream fed by ``write_audio``
            (a live recording of ``--audio-in``); it is fragmented and remuxed with the video.
    """

    codec = "libx264"
    pix_fmt = "yuv420p"

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction, *, preset: str = "veryfast", crf: int = 20,
                 crash_safe: bool = True, fragment_seconds: float = 0.5,
                 keyframe_seconds: float = 2.0, threads: int = 0,
                 audio: tuple[int, int] | None = None) -> None:
        self.crash_safe = crash_safe
        self.remux_error: str | None = None
        self._sound: SoundStream | None = None
        self._audio_spec = audio
        if crash_safe:
            # flush_packets hands each finished fragment to the OS at once instead of holding
            # it in PyAV's 32 KB write buffer, where a SIGKILL would lose it.
            options = {"movflags": "frag_keyframe+empty_moov+default_base_moof",
                       "frag_duration": str(max(1, int(fragment_seconds * 1e6))),
                       "flush_packets": "1"}
        else:
            options = {"movflags": "+faststart"}
        codec_options = {"preset": preset, "crf": str(crf), "threads": str(threads)}
        if crash_safe:
            # A fragmented MP4 has no edit list to hide B-frame reordering delay: the video
            # would start a few frames late. Without B-frames pts == dts from frame 0.
            codec_options["bf"] = "0"
        gop = max(1, round(keyframe_seconds * float(as_fps(fps))))
        super().__init__(path, width, height, fps, container_options=options,
                         codec_options=codec_options, gop_size=gop)

    def _format(self) -> str:
        return "mp4"

    def _add_streams(self) -> None:
        if self._audio_spec is not None:
            self._sound = SoundStream(self._container, *self._audio_spec)

    def write_audio(self, block: np.ndarray) -> None:
        """Append float samples (n, channels) in -1..1 to the sound stream (``audio``);
        OutputError (one line) when writing fails, ValueError without a sound stream."""
        if self._sound is None or self.closed:
            raise ValueError(f"{self.path}: no sound stream to write to")
        try:
            self._sound.write(block)
        except (av.FFmpegError, OSError) as e:
            raise output_error(e, self.path) from e

    def _finish_sound(self) -> None:
        if self._sound is not None:
            self._sound.flush()

    def _close(self) -> None:
        super()._close()
        if self.crash_safe and self.frames_written:
            self.remux_error = remux_to_faststart(self.path, self.frames_written)
            if self.remux_error is None:
                self._counted = self.frames_written  # the remux copied exactly that many


def close_unstarted(container: Any, path: str | os.PathLike[str]) -> None:
    """Close an output container whose header was never written (the disk filled, an option
    was refused), file included; never raises.

    PyAV 18 closes the file of an output container only once its header is written, so
    after a failed start ``close()`` leaves the file descriptor open: one leaked per failed
    recording, and a file that stays on disk while it is open. Here it is closed through
    ``/proc/self/fd`` (Linux); where that does not exist it stays open until exit.
    """
    try:
        container.close()
    except Exception:  # the start already failed; this is cleanup only
        pass
    fds = Path("/proc/self/fd")
    if not fds.is_dir():
        return
    target = os.path.realpath(path)
    for entry in fds.iterdir():
        try:
            if os.readlink(entry) in (target, f"{target} (deleted)"):
                os.close(int(entry.name))
        except (OSError, ValueError):
            continue


def abandon_output(container: Any | None, tmp: str | os.PathLike[str] | None,
                   started: bool) -> None:
    """After a failed write into ``tmp``: close ``container`` (its header written or not:
    ``started``) and remove ``tmp``, so no half-written file stays behind; never raises."""
    if container is not None and not started and tmp is not None:
        close_unstarted(container, tmp)
    elif container is not None:
        try:
            container.close()
        except Exception:  # already failing: the caller reports the first error
            pass
    if tmp is not None:
        discard(tmp)


def count_frames(path: str | os.PathLike[str]) -> int:
    """Frames a video file holds: whole packets of its first video stream (demuxed, not
    decoded: cheap). A file cut short by a full disk or a crash counts what decodes; a file
    that cannot be read at all counts 0."""
    n = 0
    try:
        with av.open(str(path)) as src:
            for packet in src.demux(src.streams.video[0]):
                if packet.dts is not None and packet.size and not packet.is_corrupt:
                    n += 1
    except (av.FFmpegError, OSError, IndexError):
        pass  # the file ends in a broken fragment: what came before it counts
    return n


def remux_to_faststart(path: Path, expected_frames: int | None = None) -> str | None:
    """Rewrite a fragmented MP4 in place as an ordinary MP4 with the index in front.

    Packets are copied, not re-encoded. The result goes to a hidden temporary file next to
    ``path`` (``tempfiles.temp_beside``) and replaces it atomically only once complete, so any
    failure leaves the original untouched. Returns None on success or a one-line reason it
    was kept as is.
    """
    tmp: Path | None = None
    dst: Any = None
    started = False
    try:
        tmp = temp_beside(path)
        packets = 0
        with av.open(str(path)) as src:
            dst = av.open(str(tmp), "w", format="mp4",
                          container_options={"movflags": "+faststart"})
            in_stream = src.streams.video[0]
            out_stream = dst.add_stream_from_template(in_stream)
            sound = src.streams.audio[:1]   # a recording's sound (--audio-in), copied too
            outs = {in_stream.index: out_stream, **{
                s.index: dst.add_stream_from_template(s) for s in sound}}
            dst.start_encoding()
            started = True
            for packet in src.demux(in_stream, *sound):
                if packet.dts is None:
                    continue
                video = packet.stream.index == in_stream.index
                packet.stream = outs[packet.stream.index]
                dst.mux(packet)
                packets += video
            dst.close()
        if expected_frames is not None and packets != expected_frames:
            raise OSError(f"remux copied {packets} of {expected_frames} frames")
        os.replace(tmp, path)
        return None
    except (av.FFmpegError, OSError, IndexError) as e:
        abandon_output(dst, tmp, started)
        return f"{path} kept as fragmented MP4 (finalising failed: {describe_os_error(e)})"


class SoundStream:
    """An AAC stream in an open output container, fed float blocks of any size: resampled
    to the encoder's planar format, cut into its frames (``av.AudioFifo``), timed by the
    samples written (the sound starts with the file)."""

    def __init__(self, container: Any, rate: int, channels: int) -> None:
        layout = "stereo" if channels >= 2 else "mono"
        self.channels = 2 if channels >= 2 else 1
        self.rate = int(rate)
        self.stream = container.add_stream("aac", rate=self.rate, layout=layout)
        self.stream.bit_rate = 192_000
        self._container = container
        self._fifo = av.AudioFifo()
        self._resampler: Any = None
        self._layout = layout
        self.samples = 0

    def write(self, block: np.ndarray) -> None:
        x = np.asarray(block, dtype=np.float32)
        x = x.reshape(len(x), -1)
        x = x[:, :self.channels] if x.shape[1] >= self.channels else np.repeat(
            x[:, :1], self.channels, axis=1)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(x).reshape(1, -1),
                                           format="flt", layout=self._layout)
        frame.sample_rate = self.rate
        if self._resampler is None:
            cc = self.stream.codec_context
            self._resampler = av.AudioResampler(format=cc.format.name, layout=self._layout,
                                                rate=self.rate)
        for out in self._resampler.resample(frame):
            out.pts = None
            self._fifo.write(out)
        self._drain(self.stream.codec_context.frame_size or 1024)

    def _drain(self, size: int, final: bool = False) -> None:
        while self._fifo.samples >= size or (final and self._fifo.samples):
            f = self._fifo.read(min(size, self._fifo.samples))
            f.pts = self.samples
            f.time_base = Fraction(1, self.rate)
            self.samples += f.samples
            self._container.mux(self.stream.encode(f))

    def flush(self) -> None:
        """Encode what is buffered and flush the encoder (before the container closes)."""
        self._drain(self.stream.codec_context.frame_size or 1024, final=True)
        self._container.mux(self.stream.encode(None))


class ProResWriter(_AvWriter):
    """QuickTime MOV with ProRes 422 (prores_ks, 10-bit) for editing and projection.

    Args:
        profile: 0 proxy, 1 LT, 2 standard, 3 HQ.
    """

    codec = "prores_ks"
    pix_fmt = "yuv422p10le"

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction, *, profile: int = 3) -> None:
        super().__init__(path, width, height, fps, container_options={},
                         codec_options={"profile": str(profile), "vendor": "apl0"})

    def _format(self) -> str:
        return "mov"


class GifWriter(FrameWriter):
    """Animated GIF that loops forever, written by Pillow on close.

    Frames are reduced to a 256-colour palette as they arrive (fast octree, no dither: about
    200 fps at 512x512, FACTS.md) and kept in memory at one byte per pixel until ``close()``.
    Frame delays follow the timestamps, in GIF's 1/100 s steps without drift. Pillow merges a
    frame identical to the one before it into that frame's delay.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction) -> None:
        super().__init__(path, width, height, fps)
        self._frames: list[Image.Image] = []
        self._pts: list[int] = []

    def _write(self, frame: np.ndarray, pts: int) -> None:
        image = Image.fromarray(frame, "RGB").quantize(
            256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
        self._frames.append(image)
        self._pts.append(pts)

    def _close(self) -> None:
        if not self._frames:
            return
        ends = [*self._pts[1:], self._pts[-1] + 1]
        centis = [round(p * 100 / self.fps) for p in [self._pts[0], *ends]]
        durations = [max(1, b - a) * 10 for a, b in zip(centis, centis[1:], strict=False)]
        first, rest = self._frames[0], self._frames[1:]
        first.save(self.path, format="GIF", save_all=True, append_images=rest, loop=0,
                   duration=durations, optimize=False, disposal=1)
        self._frames.clear()

    def discard(self) -> None:
        """Forget the frames (the file is only written on close) and remove any file."""
        self._frames.clear()
        self.closed = True
        discard(self.path)


class PngSequenceWriter(FrameWriter):
    """Numbered PNG files (``frame_000000.png``...) in a folder; never overwrites a frame.

    Timestamps are ignored: a sequence is played at the rate the importer is told.

    Args:
        compress_level: zlib level 0-9; 1 is several times faster than Pillow's default 6.
    """

    def __init__(self, path: str | os.PathLike[str], width: int, height: int,
                 fps: float | Fraction, *, compress_level: int = 1) -> None:
        super().__init__(path, width, height, fps)
        self.compress_level = compress_level
        self._made_folder = not self.path.exists()
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise output_error(e, self.path, "create folder") from e

    def frame_path(self, index: int) -> Path:
        return self.path / f"frame_{index:06d}.png"

    def _write(self, frame: np.ndarray, pts: int) -> None:
        target = self.frame_path(self.frames_written)
        try:
            f = open(target, "xb")  # exclusive create: never overwrite a frame
        except FileExistsError as e:
            raise OutputError(f"{target} already exists; write PNG frames to an empty folder"
                              ) from e
        try:
            with f:
                Image.fromarray(frame, "RGB").save(f, format="PNG",
                                                   compress_level=self.compress_level)
        except BaseException:
            discard(target)  # never a half-written frame
            raise

    @property
    def duration(self) -> float:
        """Seconds the sequence lasts when imported at ``fps`` (its frames carry no times)."""
        return self.frames_written / float(self.fps)

    def _close(self) -> None:
        pass

    def discard(self) -> None:
        """Remove the frames this writer wrote, and the folder if it made it."""
        self.abort()
        discard(*(self.frame_path(i) for i in range(self.frames_written)))
        if self._made_folder:
            discard(self.path)


WRITERS: dict[str, type[FrameWriter]] = {
    ".mp4": H264Writer,
    ".mov": ProResWriter,
    ".gif": GifWriter,
    "": PngSequenceWriter,
}


def writer_class(path: str | os.PathLike[str]) -> type[FrameWriter]:
    """The writer for a path's extension; a path without one is a folder of PNG frames."""
    suffix = Path(path).suffix.lower()
    if suffix not in WRITERS:
        raise ValueError(f"{path}: unsupported output format {suffix!r}; use .mp4, .mov, .gif "
                         "or a folder name for PNG frames")
    return WRITERS[suffix]


def open_writer(path: str | os.PathLike[str], width: int, height: int, fps: float | Fraction,
                **options: Any) -> FrameWriter:
    """Open the writer that fits ``path``; ``options`` go to that writer (e.g. ``preset``)."""
    return writer_class(path)(path, width, height, fps, **options)
