"""Syphon out (macOS): the picture to TouchDesigner, Resolume, OBS, VDMX on the same Mac.

Written against syphon-python's documented API (``pip install syphon-python``, 0.2: a
``SyphonMetalServer(name)``, a texture from ``syphon.utils.raw.create_mtl_texture(device, w,
h)``, filled by ``syphon.utils.numpy.copy_image_to_mtl_texture(rgba, texture)`` and published
with ``publish_frame_texture``); it has not run here (no macOS). The server is opened and used
in ``VideoOut``'s sender thread only.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from latentsketch.output.video_out import VideoOutUnavailable, rgba


class SyphonSink:
    """A Syphon Metal server named ``name``; frames go out as RGBA (alpha opaque)."""

    def __init__(self, name: str) -> None:
        if sys.platform != "darwin":
            raise VideoOutUnavailable(f"Syphon is macOS only (this is {sys.platform}); "
                                      f"use --ndi to reach other machines and systems")
        try:
            import syphon  # type: ignore[import-not-found]
            from syphon.utils.numpy import (  # type: ignore[import-not-found]
                copy_image_to_mtl_texture,
            )
            from syphon.utils.raw import create_mtl_texture  # type: ignore[import-not-found]
        except ImportError:
            raise VideoOutUnavailable('Syphon needs syphon-python: pip install '
                                      '"latentsketch[syphon]"') from None
        self._server: Any = syphon.SyphonMetalServer(name)
        self._create, self._copy = create_mtl_texture, copy_image_to_mtl_texture
        self._texture: Any = None
        self._size: tuple[int, int] = (0, 0)
        self._buf: np.ndarray | None = None

    def write(self, frame: np.ndarray) -> None:
        h, w = frame.shape[:2]
        if self._texture is None or self._size != (w, h):
            self._texture, self._size = self._create(self._server.device, w, h), (w, h)
        self._buf = rgba(frame, self._buf)
        self._copy(self._buf, self._texture)
        self._server.publish_frame_texture(self._texture)

    def close(self) -> None:
        self._server.stop()
