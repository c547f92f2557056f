"""What a live session is asked for: ``latentsketch play``'s flags as one frozen value.

A plain dataclass, so a test, a benchmark or a Python user opens a session without the CLI.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentsketch.control.osc import DEFAULT_HOST, DEFAULT_PORT


@dataclass(frozen=True)
class AppOptions:
    """The session's model, preset, window, outputs and inputs; ``None`` takes the preset's
    setting or the default."""

    model: str | None = None
    preset: str | None = None
    seed: int | None = None
    fps: float = 60.0
    size: tuple[int, int] | None = None
    fullscreen: bool = False
    display: int = 0
    borderless: bool = False
    fit: str | None = None
    out_dir: str = "latentsketch-out"
    record_size: tuple[int, int] | None = None
    start_from: str | None = None
    osc: bool = True
    osc_host: str = DEFAULT_HOST
    osc_port: int = DEFAULT_PORT
    osc_out: str | None = None
    midi: bool = True
    midi_device: str | None = None
    backend: str = "auto"       # auto, fp32, bf16 (torch), or an engine name (engines.ENGINES)
    engines: bool = False       # measure and adopt the fastest engine (the CLI's default)
    log_control: bool = False
    hud: bool = False
    palette: str | None = None   # a palette PNG to show with the palette key (else the model's)
    camera: str | None = None    # a camera index, a video file or a folder of images to follow
    camera_fps: float = 10.0     # frames of it encoded per second
    operator_window: bool = False  # HUD and preview in a second window; the main one clean
