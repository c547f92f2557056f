"""NDI out: the picture to TouchDesigner, Resolume, OBS, vMix or a video mixer on the network.

Through ``cyndilib`` (``pip install "latentsketch[ndi]"``; its wheels bundle the NDI runtime).
Frames go out as RGBA (alpha opaque) at whatever rate the loop offers them: the sender does not
clock itself (``clock_video=False``), the loop is the clock, and ``VideoOut`` drops what a slow
network cannot take. A change of size re-creates the frame format. Receivers find the source
as ``HOST (NAME)``; where multicast discovery does not reach (another subnet, a container),
NDI's own configuration (``ndi-config.v1.json``: ``{"ndi": {"networks": {"ips": "..."}}}``)
tells a receiver where to look.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from latentsketch.output.video_out import VideoOutUnavailable, rgba

FRAME_RATE = Fraction(60, 1)   # what receivers are told; frames arrive at the loop's rate


class NdiSink:
    """An NDI sender named ``name``."""

    def __init__(self, name: str) -> None:
        try:
            from cyndilib.sender import Sender
            from cyndilib.video_frame import VideoSendFrame
            from cyndilib.wrapper.ndi_structs import FourCC
        except ImportError:
            raise VideoOutUnavailable('NDI needs cyndilib: pip install "latentsketch[ndi]"'
                                      ) from None
        except OSError as e:   # the bundled runtime failed to load
            raise VideoOutUnavailable(f"NDI runtime cannot load: {e}") from None
        self._make_frame, self._rgba_code = VideoSendFrame, FourCC.RGBA
        self._sender: Any = Sender(name, clock_video=False)
        self._size: tuple[int, int] | None = None
        self._buf: np.ndarray | None = None

    @property
    def source_name(self) -> str:
        """The full name receivers see: ``HOST (NAME)``."""
        return str(self._sender.name)

    def _reformat(self, w: int, h: int) -> None:
        if self._size is not None:
            self._sender.close()
        vf = self._make_frame()
        vf.set_resolution(w, h)
        vf.set_fourcc(self._rgba_code)
        vf.set_frame_rate(FRAME_RATE)
        self._sender.set_video_frame(vf)
        self._sender.open()
        self._size = (w, h)

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._size != (w, h):
            self._reformat(w, h)
        self._buf = rgba(frame, self._buf)
        if not self._sender.write_video(self._buf.reshape(-1)):
            raise RuntimeError("the NDI sender refused a frame")

    def close(self) -> None:
        self._sender.close()
