"""Move the live decoder onto the fastest engine without a visible hitch.

The loop starts on torch. If this model's engines were built and measured on this kind of CPU
before (``choice.json`` in the user cache), the winner is loaded before the first frame. If not,
``engine_build`` runs as a child process at a lower priority (exporting and quantising would
stall the picture in this process) and the loop polls it once per frame, which costs a
``Popen.poll``. The winner's session is then created in a thread — ONNX Runtime and OpenVINO
release the GIL there; their imports do not, so the packages are imported before the first frame
— and handed to the loop, which swaps it in between two frames.
"""

from __future__ import annotations

import importlib
import logging
import subprocess
import sys
import threading
from pathlib import Path

from latentsketch.model import engines
from latentsketch.model.engine_build import CHOICE
from latentsketch.model.vae import DecoderNet

log = logging.getLogger("latentsketch")

PACKAGES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}


def read_choice(folder: Path, threads: int = 1) -> engines.EngineChoice | None:
    """The stored choice if it was measured on this CPU kind with these versions, else None."""
    try:
        choice = engines.EngineChoice.from_json((folder / CHOICE).read_text())
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if choice.cpu != engines.cpu_key() or choice.versions != engines.versions() or \
            choice.threads != threads:
        return None
    return choice


def _import_engine_packages(names: list[str]) -> None:
    for kind in {n.rsplit("-", 1)[0] for n in names}:
        if kind in PACKAGES:
            try:
                importlib.import_module(PACKAGES[kind])
            except ImportError:
                pass


class EngineUpgrade:
    """Finds, builds (in a child process) and loads the fastest engine for one model.

    ``poll()`` once per frame returns ``(engine name, runner)`` once, when the swap is due;
    ``force``: an engine name to use instead of the measured winner (``--backend``).
    """

    def __init__(self, model: str | None, model_id: str, net: DecoderNet, current: str,
                 force: str | None = None, threads: int = 1) -> None:
        self.net = net.float().eval()
        self.current = current
        self.force = force
        self.threads = threads
        self.folder = engines.cache_dir(model_id)
        self.proc: subprocess.Popen[bytes] | None = None
        self.state = "idle"      # idle | building | loading | done | failed
        self._ready: tuple[str, engines.Runner] | None = None
        self._thread: threading.Thread | None = None
        self.choice = read_choice(self.folder, threads)
        if self.choice is not None:
            self._load(self.force or self.choice.winner)
            return
        _import_engine_packages(list(engines.ENGINES))
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            out = open(self.folder / "build.log", "wb")  # noqa: SIM115 - the child owns it
        except OSError as e:
            log.info("engines: cannot use the cache folder %s (%s); staying on %s",
                     self.folder, e.strerror or e, current)
            self.state = "failed"
            return
        with out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "latentsketch.model.engine_build", model or "-",
                 str(self.folder), "--threads", str(threads)],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                start_new_session=True)   # a Ctrl-C in the terminal stops us, and we stop it
        self.state = "building"
        log.info("engines: measuring the decode engines for this model in the background "
                 "(decoding on %s meanwhile)", current)

    def _load(self, name: str) -> None:
        if name == self.current:
            self.state = "done"
            return
        _import_engine_packages([name])
        self.state = "loading"

        def load() -> None:
            try:
                self._ready = (name, engines.runner(name, self.net, self.folder, self.threads))
            except Exception as e:  # an engine that fails here is simply not used
                log.info("engines: %s is unavailable here (%s); staying on %s", name,
                         str(e).splitlines()[0] if str(e) else type(e).__name__, self.current)
                self.state = "failed"

        self._thread = threading.Thread(target=load, name="latentsketch-engine", daemon=True)
        self._thread.start()

    def poll(self) -> tuple[str, engines.Runner] | None:
        """Cheap, once per frame: the engine to swap in now, or None."""
        if self.state == "building" and self.proc is not None and self.proc.poll() is not None:
            code, self.proc = self.proc.returncode, None
            self.choice = read_choice(self.folder, self.threads) if code == 0 else None
            if self.choice is None:
                log.info("engines: the background measurement failed (see %s); staying on %s",
                         self.folder / "build.log", self.current)
                self.state = "failed"
                return None
            self._load(self.force or self.choice.winner)
        if self.state == "loading" and self._ready is not None:
            ready, self._ready = self._ready, None
            self.state = "done"
            return ready
        return None

    def close(self) -> None:
        """Stop a running build (its files are written atomically, so nothing half-made stays)
        and wait for a session being created: an engine torn down mid-load at exit aborts the
        process (C++ ``terminate``)."""
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None

    def summary(self) -> str:
        """One line: each engine's figure on this machine, the fastest first."""
        if self.choice is None:
            return "engines: not measured yet"
        return "engines: " + self.describe_choice(self.choice)

    @staticmethod
    def describe_choice(choice: engines.EngineChoice) -> str:
        """Each engine that ran: median ms per frame, and how far its pixels are from fp32."""
        rows = sorted((t for t in choice.timings if t.ms is not None), key=lambda t: t.ms or 0.0)
        def off(levels: float) -> str:
            return f" (max {levels:.0f} level{'' if levels == 1 else 's'} off)" if levels else ""

        return ", ".join(f"{t.name} {t.ms:.1f} ms{off(t.max_levels)}" for t in rows)
