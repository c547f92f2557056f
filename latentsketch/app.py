"""The live loop: poll inputs -> apply commands -> step -> decode -> show / record.

Everything runs in this one thread except the OSC receiver and the recorder, which talk to it
through queues. Decoding happens in the loop, not in a worker: the default model decodes in
3-8 ms on one core, so a worker would only add a frame of latency and make "the recorded frame
is the shown frame" and bit-exact replay harder to keep. Nothing a performer does (a bad OSC
packet, a full disk, a broken preset) may stop the loop: each failure becomes one line on the
HUD and in the terminal.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pygame

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.control.keyboard import Keyboard, KeyContext
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.midi import MidiInputs
from latentsketch.control.mouse import HELP_ROWS as MOUSE_HELP
from latentsketch.control.mouse import Mouse
from latentsketch.control.osc import DEFAULT_HOST, DEFAULT_PORT, OscReceiver, OscUnavailable
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.control.osc_out import Feedback, OscFeedback, parse_host_port
from latentsketch.errors import UserError
from latentsketch.mapping import MappingError
from latentsketch.model import checkpoint
from latentsketch.model.engine_upgrade import EngineUpgrade
from latentsketch.model.engines import ENGINES
from latentsketch.model.inference import Decoder
from latentsketch.output.display import Display
from latentsketch.output.hud import Hud, HudInfo
from latentsketch.output.paths import OutputDir, OutputError, removed_on_failure
from latentsketch.output.session import LogContext, SessionOutputs
from latentsketch.output.snapshot import (
    SnapshotError,
    SnapshotMeta,
    read_snapshot_meta,
)
from latentsketch.stopping import StopSignals
from latentsketch.timestep import clamp_dt

log = logging.getLogger("latentsketch")

Script = Callable[[int, "App"], Sequence[pygame.event.Event | C.Command]]


@dataclass(frozen=True)
class AppOptions:
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


class App:
    """One live session. ``run()`` until Quit; tests pass ``max_frames``, ``dt`` and a script."""

    def __init__(self, opts: AppOptions) -> None:
        self.opts = opts
        self.loaded = checkpoint.load(opts.model)
        self.space = self.loaded.space
        # before any window or socket opens: a bad --start-from is a one-line error, exit 2
        start_from = Path(opts.start_from) if opts.start_from else None
        start = self._snapshot_point(start_from) if start_from else None
        forced = opts.backend if opts.backend in ENGINES else None
        self.decoder = Decoder(self.loaded.vae, backend="auto" if forced else opts.backend,
                               threads=1)
        self.upgrade: EngineUpgrade | None = None   # started last: nothing after it may fail
        self.preset = presets.load(opts.preset or "default")
        self.preset.check_model(self.loaded.model_id, self.space.dim)
        seed = opts.seed if opts.seed is not None else (
            self.preset.seed if self.preset.seed is not None
            else int.from_bytes(os.urandom(4), "little"))
        self.state = engine.State.initial(
            self.space, seed, self.preset.params, dict(self.preset.slots),
            [k.u for k in self.preset.keyframes] or None,
            [k.hold for k in self.preset.keyframes])
        self.out = OutputDir(Path(opts.out_dir))
        pd = self.preset.display
        self.display = Display(opts.size, fullscreen=opts.fullscreen or bool(pd and pd.fullscreen),
                               display=opts.display,
                               borderless=opts.borderless or bool(pd and pd.borderless),
                               fit=opts.fit or (pd.fit if pd else "fit"), fps=opts.fps)
        self.picture = self.display.pipeline   # the one picture pipeline: window, recorder, S
        self.keyboard = Keyboard()
        self.mouse = Mouse()
        self.hud = Hud(self.keyboard.help_rows() + list(MOUSE_HELP),
                       visible=opts.hud or bool(pd and pd.hud))
        self.mapper = MappingRuntime(self.preset.mappings, self.space.dim)
        self.translator = OscTranslator(self.space.dim, mapper=self.mapper)
        self.outputs = SessionOutputs(self.out, opts.fps or 60.0, self.say, opts.log_control)
        self.osc: OscReceiver | None = None
        self.osc_out: OscFeedback | None = None
        self.midi: MidiInputs | None = None
        self.frame = np.zeros((self.loaded.cfg.image_size,) * 2 + (3,), np.uint8)
        self.decode_ms = 0.0
        self.t = 0.0
        self.frames = 0
        self.running = True
        self.osc_seen: float | None = None
        self.midi_seen: float | None = None
        self._err_next = 0.0
        self._dt = 0.0          # this frame's step, clamped (timestep.clamp_dt)
        self._wall_dt = 0.0     # this frame's wall-clock seconds: only for measuring the fps
        self.stop_reason: str | None = None
        self.pending: list[C.Command] = []
        self.failures = 0
        self._fail_next = 0.0
        self.selected = "z/0"   # what the performer changed last: the target learn binds to
        for w in self.display.take_warnings():
            self.say(w, error=True)
        try:  # now, not at the first snapshot; the show starts either way
            self.out.check()
        except OutputError as e:
            self.say(f"{e}: recordings, snapshots and presets will fail (--out-dir changes it)",
                     error=True)
        driver = pygame.display.get_driver()
        if driver in ("offscreen", "dummy") and not os.environ.get("SDL_VIDEODRIVER"):
            self.say(f"no screen found (SDL video driver {driver!r}): the window is invisible; "
                     f"run on a desktop, or under xvfb-run", error=True)
        self._start_inputs()
        if (opts.engines and opts.backend == "auto") or forced:
            self.upgrade = EngineUpgrade(opts.model, self.loaded.model_id,
                                         self.loaded.vae.decoder, self.decoder.engine,
                                         force=forced)
        if start_from and start:
            self.pending.append(start)
            self.say(f"starting from {start_from.name}")
        if opts.log_control:
            try:
                self.outputs.open_log(self.out.reserve(".log.jsonl"), self.state,
                                      self._record_size(), self._log_context())
            except OutputError as e:
                self.say(f"control log not started: {e}", error=True)

    # --- messages ------------------------------------------------------------------------------

    def say(self, text: str, *, error: bool = False) -> None:
        """One line to the terminal and the HUD."""
        (log.warning if error else log.info)(text)
        self.hud.message(text, error=error)

    # --- inputs --------------------------------------------------------------------------------

    def _start_inputs(self) -> None:
        o = self.opts
        if o.osc:
            try:
                self.osc = OscReceiver(o.osc_host, o.osc_port).start()
                log.info("OSC in on %s:%d", o.osc_host, self.osc.port)
            except OscUnavailable as e:
                self.say(f"{e}; running without OSC", error=True)
        if o.osc_out:
            try:
                host, port = parse_host_port(o.osc_out)
                self.osc_out = OscFeedback(host, port)
            except (ValueError, OscUnavailable) as e:
                self.say(str(e), error=True)
        if o.midi:
            self.midi = MidiInputs(o.midi_device or self.preset.midi_input)
            if not self.midi.start():
                self.midi = None

    def _events(self, extra: Sequence[pygame.event.Event]) -> list[C.Command]:
        cmds: list[C.Command] = []
        ctx = KeyContext(self.state.params, fullscreen=self.display.fullscreen,
                         help_open=self.hud.help_visible, latent_dim=self.space.dim)
        for ev in [*pygame.event.get(), *extra]:
            if self.display.handle_event(ev):
                continue
            if ev.type == pygame.DROPFILE:
                self._goto_snapshot(Path(ev.file))
                continue
            cmds += self.keyboard.handle(ev, ctx)
            cmds += self.mouse.handle(ev, self.display.picture_rect, self.state.params)
        cmds += self.keyboard.held(self._dt, ctx)
        return cmds

    def _remote(self, now: float) -> list[C.Command]:
        cmds: list[C.Command] = []
        if self.osc is not None:
            msgs = self.osc.drain()
            if msgs:
                self.osc_seen = now
                cmds += self.translator.translate_all(msgs)
        if self.midi is not None:
            for msg in self.midi.poll():
                self.midi_seen = now
                cmds += self.mapper.feed_midi(msg)
        if self.mapper.mappings:  # most sessions map nothing: skip the per-frame snapshot
            current = dict(self.state.params)
            s = self.state  # a pinned dimension's value is its pin, not the glide on screen
            u = np.where(s.pinned, s.pin, engine.output_u(s))
            current.update({f"z/{i}": float(v) for i, v in enumerate(self.space.to_ranked(u))})
            cmds += self.mapper.update(self._dt, current)
        learned = self.mapper.take_learned()
        if learned is not None:
            self.say(f"learned {learned.describe_source()} -> {learned.target}; Ctrl+S saves")
        return cmds

    # --- app commands --------------------------------------------------------------------------

    def _apply_app(self, cmd: C.AppCommand) -> None:
        match cmd:
            case C.Quit():
                self.running = False
            case C.ToggleFullscreen():
                self.display.toggle_fullscreen()
                for w in self.display.take_warnings():
                    self.say(w, error=True)
            case C.ToggleHud():
                self.hud.toggle()
            case C.ToggleHelp():
                self.hud.toggle_help()
            case C.CycleFit():
                self.say(f"picture: {self.display.cycle_fit()}")
            case C.Record(on=on):
                self.outputs.record(on, self._record_size(), self.state, self.t,
                                    self._log_context())
            case C.Snapshot():
                self._snapshot()
            case C.LoadPreset(name=name):
                self._load_preset(name)
            case C.SavePreset():
                self._save_preset()
            case C.ArmLearn():
                if self.mapper.learning:
                    self._apply_app(C.MidiLearn(None))
                else:
                    self._apply_app(C.MidiLearn(self.selected))
            case C.MidiLearn(target=target):
                if target is None:
                    self.mapper.cancel_learn()
                    self.say("learn cancelled")
                else:
                    try:
                        self.mapper.arm(target)
                        self.say(f"learn: move a MIDI or OSC control for {target} (K cancels)")
                    except MappingError as e:
                        self.say(str(e), error=True)

    def _log_context(self) -> LogContext:
        return LogContext(self.loaded.model_id, self.preset.name, self.decoder.backend,
                          self.display.fit, self.opts.fps or 60.0,
                          self.picture.look.visibility, self.decoder.describe())

    def _snapshot(self) -> None:
        """What the audience sees now, with the look, at the model's size and as shown; the
        metadata holds the point that made it (the state this frame has not stepped yet)."""
        meta = SnapshotMeta.from_z(engine.output_z(self.state, self.space), self.loaded.model_id,
                                   preset=self.preset.name, seed=self.state.seed, time=self.t)
        native = self.picture.native()
        if native is None:   # nothing shown yet (a snapshot command before the first frame)
            self.outputs.snapshot(self.frame, meta)
            return
        w, h = self.display.picture_size
        picture = self.picture.render((w, h), self.display.fit) if w > 0 and h > 0 else None
        self.outputs.snapshot(native, meta, picture)

    def _record_size(self) -> tuple[int, int]:
        """The size a recording starting now gets (and keeps: ``SessionOutputs`` holds it);
        ``--record-size``, else the picture's size on screen, rounded down to even."""
        w, h = self.opts.record_size or self.display.picture_size
        if w <= 0 or h <= 0:  # nothing shown yet: the picture will fill the window's short side
            w = h = min(self.display.size)
        return max(2, w - w % 2), max(2, h - h % 2)

    def _snapshot_point(self, path: Path) -> C.GotoPoint:
        """The point a snapshot holds; SnapshotError (one line) if it holds none for this model."""
        meta = read_snapshot_meta(path)
        if meta is None:
            raise SnapshotError(f"{path}: not a latentsketch snapshot (no latent metadata)")
        if meta.model_id != self.loaded.model_id:
            raise SnapshotError(f"{path}: snapshot of model {meta.model_id}, running "
                                f"{self.loaded.model_id}")
        return C.GotoPoint(tuple(float(x) for x in self.space.to_u(meta.z_array())))

    def _goto_snapshot(self, path: Path) -> None:
        """A file dropped on the window: go to its point, or say why not."""
        try:
            self.pending.append(self._snapshot_point(path))
        except SnapshotError as e:
            self.say(str(e), error=True)
            return
        self.say(f"going to {path.name}")

    def _load_preset(self, name: str) -> None:
        try:
            p = presets.load(name)
            p.check_model(self.loaded.model_id, self.space.dim)
            keyframes = [k.u for k in p.keyframes] or None
            holds = [k.hold for k in p.keyframes]
            self.state = engine.with_preset(self.state, self.space, p.params, dict(p.slots),
                                            keyframes, holds)
        except (presets.PresetError, ValueError) as e:
            self.say(str(e), error=True)
            return
        self.outputs.log_preset(p.name, dict(p.params), dict(p.slots), keyframes, holds)
        self.preset = p
        self.mapper.set_mappings(p.mappings)
        self.say(f"preset {p.name}")

    def _save_preset(self) -> None:
        """Save the state as a new preset in the user's preset folder (``--preset NAME`` and
        OSC ``/latentsketch/preset`` look there), named after the current preset plus a time
        stamp; the file's ``name`` is that name. Failures are one line, no file is left."""
        folder = OutputDir(presets.user_dir(), presets.saved_name_prefix(self.preset.name),
                           label="preset folder")
        try:
            path = folder.reserve(".toml")
            p = replace(self.preset, name=path.stem, source=str(path),
                        params=dict(self.state.params), seed=self.state.seed,
                        model=self.loaded.model_id, mappings=self.mapper.mappings,
                        slots={i + 1: tuple(float(x) for x in s)
                               for i, s in enumerate(self.state.slots) if s is not None})
            with removed_on_failure(path):
                p.save(path)
        except (OSError, ValueError) as e:
            self.say(f"preset not saved: {e}", error=True)
            return
        self.preset = p
        self.say(f"preset saved as {p.name!r} ({path}); --preset {p.name!r} loads it")

    # --- the loop ------------------------------------------------------------------------------

    def run(self, max_frames: int | None = None, dt: float | None = None,
            script: Script | None = None) -> int:
        """Run until Quit, ``request_stop`` or Ctrl-C (or until ``frames`` reaches
        ``max_frames``).

        ``dt`` fixes each frame's time step (tests, benchmarks); ``script(frame, app)`` returns
        pygame events and commands to inject into that frame. The caller finalises with
        ``close()`` (``play`` does, after SIGINT, SIGTERM and SIGHUP alike), so a test can
        run, look, and run on.
        """
        try:
            while self.running and (max_frames is None or self.frames < max_frames):
                injected = list(script(self.frames, self) if script else ())
                try:
                    self.frame_step([e for e in injected if not isinstance(e, C.Command)],
                                    [e for e in injected if isinstance(e, C.Command)])
                except Exception as e:  # noqa: BLE001 - a bug must not end the show
                    self._survive(e)
                self._wall_dt = dt if dt is not None else self.display.wait()
                self._dt = clamp_dt(self._wall_dt)  # the one clamp: every consumer gets this
        except KeyboardInterrupt:
            self.request_stop("interrupted")
        if self.stop_reason is not None:
            log.info("%s: stopping", self.stop_reason)
        return 0

    def request_stop(self, reason: str) -> None:
        """End the loop after this frame (a stop signal: ``stopping.StopSignals`` calls this
        from its handler, so it only sets flags)."""
        self.stop_reason = reason
        self.running = False

    def _survive(self, e: Exception) -> None:
        """Log an unexpected error (with its traceback, at most every 5 s) and play on; the
        test suite fails on any such log record, so this hides nothing from development."""
        self.failures += 1
        self.frames += 1  # the frame is lost, not retried forever
        now = time.monotonic()
        if now >= self._fail_next:
            self._fail_next = now + 5.0
            log.error("frame %d failed (%d so far); playing on: %s", self.frames,
                      self.failures, e, exc_info=e)
            self.hud.message(f"internal error: {e}", error=True)

    def frame_step(self, events: Sequence[pygame.event.Event] = (),
                   injected: Sequence[C.Command] = ()) -> None:
        """One frame: inputs -> commands -> state -> z -> picture -> outputs."""
        dt = self._dt
        now = time.monotonic()
        local = self._events(events)
        cmds = [*self.pending, *injected, *local, *self._remote(now)]
        self.pending = []
        engine_cmds: list[C.Command] = []
        for c in cmds:
            if isinstance(c, C.AppCommand):
                self._apply_app(c)
            else:
                engine_cmds.append(c)
                self._select(c)
        before = self.state.params
        self.state = engine.step(self.state, engine_cmds, dt, self.space)
        self._show_changed(local, before)
        if self.state.last_errors and now >= self._err_next:
            self._err_next = now + 1.0
            self.say(self.state.last_errors[0], error=True)
        self.t += dt
        self.outputs.log_frame(self.t, dt, engine_cmds)
        if self.upgrade is not None and (ready := self.upgrade.poll()) is not None:
            self.decoder.adopt(*ready)
            log.info("decoding on %s from frame %d; %s", self.decoder.engine, self.frames,
                     self.upgrade.summary())
            self.outputs.log_decoder(self.decoder.describe())
        t0 = time.perf_counter()
        self.frame = self.decoder.decode(engine.output_z(self.state, self.space))
        self.decode_ms = (time.perf_counter() - t0) * 1e3
        self.picture.feed(self.frame, self.state.params, dt)
        self.display.draw()
        self.outputs.submit(self.picture, self.t)  # at the recording's own size and fit
        self.hud.draw(self.display.screen, self._hud_info(now), self._wall_dt)
        self.display.flip()
        if self.osc_out is not None:
            self.osc_out.maybe_send(self._feedback(self._wall_dt))
        self.outputs.report()
        if self.frames == 0:
            log.info("first frame on screen (decoder %s, %.1f ms)", self.decoder.engine,
                     self.decode_ms)
        self.frames += 1

    def _show_changed(self, local: Sequence[C.Command], before: Mapping[str, float]) -> None:
        """Show every parameter this frame changed, whatever input changed it (keys, wheel,
        MIDI, OSC, mappings), with its new value; a key or the wheel also shows the value it
        could not change (at the end of the range), so a press never goes unanswered. A
        sender repeating the current value (TouchDesigner cooks every frame) shows nothing."""
        params = self.state.params
        names = [n for n, v in params.items() if before.get(n) != v]
        for c in local:
            name = "walk.mode" if isinstance(c, C.CycleMode) else (
                c.name if isinstance(c, C.SetParam | C.NudgeParam) else None)
            if name in params and name not in names:
                names.append(name)
        if names:
            self.hud.show_params([(n, params[n]) for n in names])

    def _select(self, c: C.Command) -> None:
        if isinstance(c, C.SetParam | C.NudgeParam) and not c.name.startswith("mouse."):
            self.selected = c.name
        elif isinstance(c, C.SetDim | C.NudgeDim | C.OffsetDim) and isinstance(c.index, int):
            self.selected = f"z/{c.index}"

    def _hud_info(self, now: float) -> HudInfo:
        s, st = self.state, self.outputs.status()
        ranked = engine.ranked_u(s, self.space)
        pinned = frozenset(k for k in range(self.space.dim) if s.pinned[self.space.raw_index(k)])
        return HudInfo(
            decode_ms=self.decode_ms, mode=s.mode, speed=s.params["walk.speed"],
            temperature=s.params["walk.temperature"], dims=tuple(ranked.tolist()),
            pinned=pinned, paused=s.paused, recording=st.recording, rec_seconds=st.elapsed,
            rec_dropped=st.frames_dropped, rec_queued=st.frames_queued,
            osc_age=None if self.osc is None else (
                math.inf if self.osc_seen is None else now - self.osc_seen),
            midi_age=None if self.midi is None else (
                math.inf if self.midi_seen is None else now - self.midi_seen),
            status=f"{self.preset.name} | seed {s.seed} | {self.decoder.engine}",
        )

    def _feedback(self, dt: float) -> Feedback:
        ranked = engine.ranked_u(self.state, self.space)
        return Feedback(z=tuple(float(v) for v in ranked[:8]), params=self.state.params,
                        paused=self.state.paused, recording=self.outputs.recording,
                        preset=self.preset.name, fps=(1.0 / dt) if dt > 0 else 0.0)

    def close(self) -> None:
        """Finalise recordings and logs, stop inputs, close the window; safe to call twice."""
        if self.upgrade is not None:
            self.upgrade.close()
        self.outputs.close()   # says what the recording's file now is
        if self.osc is not None:
            self.osc.stop()
            self.osc = None
        if self.osc_out is not None:
            self.osc_out.close()
            self.osc_out = None
        if self.midi is not None:
            self.midi.close()
            self.midi = None
        self.display.close()


def play(opts: AppOptions) -> int:
    """Open the window and play until quit; the ``latentsketch play`` command."""
    try:
        app = App(opts)
    except pygame.error as e:
        raise UserError(f"cannot open a window: {e} (no display? try SDL_VIDEODRIVER=x11 or "
                        f"xvfb-run)") from None
    log.info("output folder: %s", Path(opts.out_dir).resolve())
    with StopSignals(on_stop=app.request_stop) as stop:  # SIGINT, SIGTERM, SIGHUP alike
        try:
            return app.run()
        finally:
            what, how = app.outputs.saving()
            if app.outputs.recording:
                log.info("%s...", what)
            with stop.saving(what, how):   # a second signal must not cut the save short
                app.close()
