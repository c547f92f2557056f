"""A camera as a picture source (``--camera N``), through pygame-ce's ``pygame.camera``.

pygame-ce ships the capture (V4L2 on Linux; Media Foundation on Windows; OpenCV where it is
installed) so no other dependency is needed. The camera is opened at 640x480 RGB (the
encoder needs far less) and polled: ``read`` returns a frame only when a new one is ready, so
the encoder's thread never waits on the device. Any failure, at start or later (unplugged),
is one ``SourceError`` line.
"""

from __future__ import annotations

import numpy as np
import pygame
import pygame.camera

from latentsketch.control.sources import SourceError

SIZE = (640, 480)


class CameraSource:
    """Camera ``index`` (0: the first ``pygame.camera.list_cameras()`` names)."""

    def __init__(self, index: int = 0) -> None:
        self.index = index
        try:
            pygame.camera.init()
            names = list(pygame.camera.list_cameras())
        except (pygame.error, SystemError, OSError, ValueError, RuntimeError) as e:
            raise SourceError(f"--camera {index}: cameras are unavailable here ({e})") from None
        if not names:
            raise SourceError(f"--camera {index}: no camera found (none connected, or no "
                              f"permission to open it); a video file or a folder works too")
        if not 0 <= index < len(names):
            raise SourceError(f"--camera {index}: there are {len(names)} cameras "
                              f"(0..{len(names) - 1})")
        self.name = f"camera {index} ({names[index]})"
        try:
            self._cam = pygame.camera.Camera(names[index], SIZE, "RGB")
            self._cam.start()
        except (pygame.error, SystemError, OSError, ValueError, RuntimeError) as e:
            raise SourceError(f"--camera {index}: {names[index]} cannot be opened ({e})") \
                from None

    def read(self) -> np.ndarray | None:
        try:
            if not self._cam.query_image():
                return None
            surface = self._cam.get_image()
        except (pygame.error, SystemError, OSError, ValueError, RuntimeError) as e:
            raise SourceError(f"{self.name} stopped ({e})") from None
        w, h = surface.get_size()
        return np.frombuffer(pygame.image.tobytes(surface, "RGB"), np.uint8).reshape(h, w, 3)

    def close(self) -> None:
        try:
            self._cam.stop()
        except (pygame.error, SystemError, OSError, ValueError, RuntimeError):
            pass
