"""Spout out (Windows): the picture to TouchDesigner, Resolume, OBS on the same machine.

Written against SpoutGL's documented API (``pip install SpoutGL``, 0.1.1: ``SpoutSender``,
``setSenderName``, ``sendImage(buffer, width, height, GL format, invert, host FBO)``,
``SpoutGL.enums.GL_RGBA``); it has not run here (no Windows, no GPU). Spout shares through an
OpenGL/DirectX context that the sender creates on the thread that first sends, so this sink is
opened and used in ``VideoOut``'s sender thread only.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from latentsketch.output.video_out import VideoOutUnavailable, rgba


class SpoutSink:
    """A Spout sender named ``name``; frames go out as RGBA (alpha opaque)."""

    def __init__(self, name: str) -> None:
        if sys.platform != "win32":
            raise VideoOutUnavailable(f"Spout is Windows only (this is {sys.platform}); "
                                      f"use --ndi to reach other machines and systems")
        try:
            import SpoutGL  # type: ignore[import-not-found]
            from SpoutGL import enums  # type: ignore[import-not-found]
        except ImportError:
            raise VideoOutUnavailable('Spout needs SpoutGL: pip install "latentsketch[spout]"'
                                      ) from None
        self._format = enums.GL_RGBA
        self._sender: Any = SpoutGL.SpoutSender()
        self._sender.setSenderName(name)
        self._buf: np.ndarray | None = None

    def write(self, frame: np.ndarray) -> None:
        self._buf = rgba(frame, self._buf)
        h, w = frame.shape[:2]
        if not self._sender.sendImage(self._buf, w, h, self._format, False, 0):
            raise RuntimeError("SpoutGL sendImage failed (no OpenGL context?)")

    def close(self) -> None:
        self._sender.releaseSender()
