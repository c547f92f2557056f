"""Put a sound beside the picture: a video file rewritten with an audio stream added.

``render --audio`` writes the video first, then ``mux_audio`` copies its packets (nothing
re-encoded) into a new file beside it together with the sound, encoded as AAC in MP4 and as
16-bit PCM in MOV (what editors expect beside ProRes), cut at the video's end, and replaces
the video atomically (``tempfiles.temp_beside``): a failure leaves the video as it was.
Packets are interleaved as they go, so memory stays flat however long the film.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import numpy as np

from latentsketch.output.paths import OutputError, describe_os_error
from latentsketch.output.video import abandon_output
from latentsketch.tempfiles import temp_beside

CODECS = {".mp4": ("aac", "fltp"), ".mov": ("pcm_s16le", "s16")}
AAC_BITRATE = 192_000


def audio_codec(path: str | os.PathLike[str]) -> tuple[str, str] | None:
    """(codec, sample format) of the sound a video at ``path`` gets; None: the format holds
    no sound (GIF, PNG frames)."""
    return CODECS.get(Path(path).suffix.lower())


def _video_seconds(stream: Any) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    if stream.frames and stream.average_rate:
        return stream.frames / float(stream.average_rate)
    raise OutputError("the video's length is unknown")


def _sound_frames(path: Path, codec: Any, seconds: float) -> Iterator[Any]:
    """The sound of ``path`` as frames for ``codec`` (its format, layout, rate and frame
    size), cut at ``seconds``, with their pts in samples."""
    rate, size = codec.sample_rate, codec.frame_size or 1024
    needed = round(seconds * rate)
    resampler = av.AudioResampler(format=codec.format.name, layout=codec.layout.name,
                                  rate=rate)
    fifo = av.AudioFifo()
    done = 0
    with av.open(str(path)) as src:
        for frame in src.decode(src.streams.audio[0]):
            frame.pts = None
            for out in resampler.resample(frame):
                fifo.write(out)
            while fifo.samples >= size and done < needed:
                f = fifo.read(size)
                yield from _cut(f, done, needed, rate)
                done += f.samples
            if done >= needed:
                return
        for out in resampler.resample(None):
            fifo.write(out)
        while fifo.samples and done < needed:
            f = fifo.read(min(size, fifo.samples))
            yield from _cut(f, done, needed, rate)
            done += f.samples


def _cut(frame: Any, done: int, needed: int, rate: int) -> Iterator[Any]:
    """``frame`` placed at sample ``done``, shortened to end at sample ``needed``."""
    keep = min(frame.samples, needed - done)
    if keep <= 0:
        return
    if keep < frame.samples:
        data = frame.to_ndarray()
        planar = frame.format.is_planar
        cut = data[:, :keep] if planar else data[:, :keep * len(frame.layout.channels)]
        short = av.AudioFrame.from_ndarray(np.ascontiguousarray(cut), format=frame.format.name,
                                           layout=frame.layout.name)
        short.sample_rate = rate
        frame = short
    frame.pts = done
    frame.time_base = Fraction(1, rate)
    yield frame


def mux_audio(video: str | os.PathLike[str], sound: str | os.PathLike[str]) -> float:
    """Rewrite ``video`` (.mp4 or .mov) with the first sound stream of ``sound`` added, cut
    at the video's end (a shorter sound ends early). Returns the sound's seconds in the file.
    OutputError (one line) when it cannot be done; ``video`` is then as it was."""
    video, sound = Path(video), Path(sound)
    spec = audio_codec(video)
    if spec is None:
        raise OutputError(f"{video}: {video.suffix or 'PNG frames'} holds no sound")
    tmp: Path | None = None
    dst: Any = None
    started = False
    try:
        tmp = temp_beside(video)
        with av.open(str(sound)) as probe:
            if not probe.streams.audio:
                raise OutputError(f"{sound}: holds no sound")
            a = probe.streams.audio[0].codec_context
            rate = int(a.sample_rate or 48000)
            layout = "stereo" if (a.channels or 1) >= 2 else "mono"
        with av.open(str(video)) as src:
            vin = src.streams.video[0]
            seconds = _video_seconds(vin)
            options = {"movflags": "+faststart"} if video.suffix.lower() == ".mp4" else {}
            dst = av.open(str(tmp), "w", format=video.suffix.lower().lstrip("."),
                          container_options=options)
            vout = dst.add_stream_from_template(vin)
            aout = dst.add_stream(spec[0], rate=rate, layout=layout)
            aout.format = spec[1]
            if spec[0] == "aac":
                aout.bit_rate = AAC_BITRATE
            dst.start_encoding()
            started = True
            frames = _sound_frames(sound, aout.codec_context, seconds)
            pending = next(frames, None)
            written = 0
            for packet in src.demux(vin):
                if packet.dts is None:
                    continue
                t = float(packet.dts * packet.time_base)
                while pending is not None and pending.pts / rate <= t:
                    dst.mux(aout.encode(pending))
                    written += pending.samples
                    pending = next(frames, None)
                packet.stream = vout
                dst.mux(packet)
            while pending is not None:
                dst.mux(aout.encode(pending))
                written += pending.samples
                pending = next(frames, None)
            dst.mux(aout.encode(None))
            dst.close()
        os.replace(tmp, video)
        return written / rate
    except (av.FFmpegError, OSError, ValueError, IndexError) as e:
        abandon_output(dst, tmp, started)
        if isinstance(e, OutputError):
            raise
        raise OutputError(f"{video}: the sound of {sound} could not be added "
                          f"({describe_os_error(e)})") from None
