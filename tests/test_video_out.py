"""Video out: newest frame wins (a slow receiver never stalls the loop), the app sends the
clean picture (no HUD), a missing library or a wrong OS is one line, and a real NDI receiver
(cyndilib) gets frames of the right size and content."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from latentsketch.output import video_out
from latentsketch.output.video_out import VideoOut, VideoOuts, VideoOutUnavailable, wait_sent


class SlowSink:
    """Takes ``delay`` s per frame and remembers what it got."""

    def __init__(self, delay: float = 0.0, fail_after: int | None = None) -> None:
        self.delay = delay
        self.fail_after = fail_after
        self.frames: list[np.ndarray] = []
        self.closed = threading.Event()

    def write(self, frame: np.ndarray) -> None:
        if self.fail_after is not None and len(self.frames) >= self.fail_after:
            raise OSError("receiver went away")
        time.sleep(self.delay)
        self.frames.append(frame)

    def close(self) -> None:
        self.closed.set()


def _frame(i: int, h: int = 8, w: int = 8) -> np.ndarray:
    return np.full((h, w, 3), i % 256, np.uint8)


def test_a_slow_receiver_never_stalls_the_loop_and_the_newest_frame_wins() -> None:
    sink = SlowSink(delay=0.05)
    out = VideoOut("slow", lambda: sink).start()
    t0 = time.perf_counter()
    for i in range(100):
        out.send(_frame(i))
    spent = time.perf_counter() - t0
    assert spent < 0.05                      # 100 frames offered in less than one write
    assert wait_sent(out, 1, 2.0)
    time.sleep(0.12)                         # a frame the sender had taken is finished
    out.close()
    st = out.status()
    assert st.error is None and 1 <= st.sent == len(sink.frames) <= 3
    assert st.sent + st.replaced == 100
    assert int(sink.frames[-1][0, 0, 0]) == 99          # the last frame offered went out
    assert sink.closed.is_set()


def test_a_failing_sender_is_one_line_and_the_show_goes_on(monkeypatch) -> None:
    said: list[tuple[str, bool]] = []
    sink = SlowSink(fail_after=1)
    monkeypatch.setattr(video_out, "open_sink", lambda kind, name: sink)
    outs = VideoOuts((("ndi", "show"),), lambda text, error=False: said.append((text, error)))
    assert outs and said == [("sending the picture as NDI 'show'", False)]
    outs.send(_frame(1))
    assert wait_sent(outs.outs[0], 1, 2.0)
    outs.send(_frame(2))
    deadline = time.monotonic() + 2.0
    while outs.outs and time.monotonic() < deadline:
        outs.send(_frame(3))
        time.sleep(0.01)
    assert not outs.outs
    assert said[-1][1] and "NDI 'show': stopped sending (OSError: receiver went away)" in \
        said[-1][0] and said[-1][0].endswith("playing on without it")
    outs.close()


def test_unavailable_outs_are_one_line_each() -> None:
    said: list[str] = []
    outs = VideoOuts((("syphon", "a"), ("spout", "b"), ("tv", "c")),
                     lambda text, error=False: said.append(text))
    assert not outs
    assert len(said) == 3 and all("\n" not in s and s.endswith("playing on without it")
                                  for s in said)
    assert "Syphon is macOS only" in said[0] or "syphon-python" in said[0]
    assert "Spout is Windows only" in said[1] or "SpoutGL" in said[1]
    assert "'tv' is not one of ndi, syphon, spout" in said[2]
    with pytest.raises(VideoOutUnavailable, match="cannot open"):
        VideoOut("broken", lambda: 1 / 0).start()


def test_the_app_sends_the_clean_picture_at_the_asked_size(make_app, monkeypatch) -> None:
    sink = SlowSink()
    monkeypatch.setattr(video_out, "open_sink", lambda kind, name: sink)
    app = make_app(hud=True, video_out=(("ndi", "x"),), video_out_size=(96, 64))
    app.run(max_frames=3, dt=1 / 60)
    assert wait_sent(app.video_outs.outs[0], 1, 2.0)
    got = sink.frames[-1]
    assert got.shape == (64, 96, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, app.picture.render((96, 64), app.display.fit))
    assert got.std() > 1.0                    # a picture, not black


# --- a real NDI receiver -------------------------------------------------------------------

def _ndi_config(tmp: Path) -> None:
    """Discovery here: multicast does not reach the loopback interface (no MULTICAST flag
    on ``lo`` in these containers), so the receiver is told where to look, as NDI's own
    configuration allows (``networks.ips``); the source is then found by name."""
    (tmp / "ndi-config.v1.json").write_text(json.dumps(
        {"ndi": {"networks": {"ips": "127.0.0.1", "discovery": ""}}}))
    os.environ["NDI_CONFIG_DIR"] = str(tmp)


def test_a_local_ndi_receiver_gets_the_frames(tmp_path, monkeypatch) -> None:
    pytest.importorskip("cyndilib", reason="NDI needs the optional extra latentsketch[ndi]")
    from cyndilib.finder import Finder
    from cyndilib.receiver import ReceiveFrameType, Receiver
    from cyndilib.video_frame import VideoRecvFrame
    from cyndilib.wrapper.ndi_recv import RecvBandwidth, RecvColorFormat

    from latentsketch.output.ndi_out import NdiSink

    monkeypatch.setenv("NDI_CONFIG_DIR", str(tmp_path))
    _ndi_config(tmp_path)
    name = f"latentsketch-test-{os.getpid()}"
    sinks: list[NdiSink] = []
    out = VideoOut(f"NDI {name!r}", lambda: sinks.append(NdiSink(name)) or sinks[0]).start()
    h, w = 72, 96
    picture = np.zeros((h, w, 3), np.uint8)
    picture[..., 0] = np.linspace(0, 255, w, dtype=np.uint8)[None, :]   # red ramp across
    picture[..., 1] = np.linspace(0, 255, h, dtype=np.uint8)[:, None]   # green ramp down
    picture[..., 2] = 90
    out.send(picture.copy())
    assert wait_sent(out, 1, 5.0)
    finder = Finder()
    finder.open()
    try:
        source = None
        deadline = time.monotonic() + 8.0
        while source is None and time.monotonic() < deadline:
            finder.wait_for_sources(0.2)
            full = next((n for n in finder.get_source_names() if n.endswith(f"({name})")), None)
            source = finder.get_source(full) if full else None
            out.send(picture.copy())
        assert source is not None, f"NDI source {name} not found (have {finder.get_source_names()})"
        receiver = Receiver(color_format=RecvColorFormat.RGBX_RGBA,
                            bandwidth=RecvBandwidth.highest)
        frame = VideoRecvFrame()
        receiver.set_video_frame(frame)
        receiver.connect_to(source)
        got = None
        deadline = time.monotonic() + 8.0
        while got is None and time.monotonic() < deadline:
            out.send(picture.copy())   # the loop keeps offering its newest frame
            kind = receiver.receive(ReceiveFrameType.recv_video, 100)
            if kind & ReceiveFrameType.recv_video:
                data = np.empty(frame.get_data_size(), np.uint8)
                frame.fill_p_data(data)
                got = (frame.get_resolution(), data)
        receiver.disconnect()
    finally:
        finder.close()
        out.close()
    assert got is not None, "connected to the NDI source but no video frame arrived"
    (rw, rh), data = got
    assert (rw, rh) == (w, h)
    rgba = data.reshape(h, w, 4)
    # NDI compresses (SpeedHQ) even on one machine: the content matches within a few levels
    diff = np.abs(rgba[..., :3].astype(int) - picture.astype(int))
    assert diff.mean() < 3.0 and np.percentile(diff, 99) < 16
    assert out.status().error is None
