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
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pygame

from latentsketch import commands as C
from latentsketch import engine
from latentsketch import preset as presets
from latentsketch.app import model_switch, scenes, status
from latentsketch.app.inputs import Inputs
from latentsketch.app.options import AppOptions
from latentsketch.app.palette_view import PaletteView, load_saved
from latentsketch.control.camera_feed import CameraFeed, open_feed
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.midi import MidiInputs
from latentsketch.control.osc import OscReceiver
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.control.osc_out import OscFeedback
from latentsketch.control.sources import SourceError
from latentsketch.errors import UserError
from latentsketch.mapping import MappingError
from latentsketch.model import checkpoint
from latentsketch.model.engine_upgrade import EngineUpgrade
from latentsketch.model.engines import ENGINES
from latentsketch.model.inference import Decoder
from latentsketch.output.display import Display
from latentsketch.output.dropview import DropView
from latentsketch.output.hud import Hud
from latentsketch.output.operator import OperatorWindow
from latentsketch.output.paths import OutputDir, OutputError
from latentsketch.output.session import LogContext, SessionOutputs
from latentsketch.output.snapshot import SnapshotMeta
from latentsketch.output.video_out import VideoOuts
from latentsketch.stopping import StopSignals
from latentsketch.timestep import clamp_dt

log = logging.getLogger("latentsketch")

Script = Callable[[int, "App"], Sequence[pygame.event.Event | C.Command]]


class App:
    """One live session. ``run()`` until Quit; tests pass ``max_frames``, ``dt`` and a script.

    The parts, one job each: ``inputs`` (the outside world -> commands), ``scenes`` (presets
    and snapshot points), ``status`` (what the HUD and OSC feedback report); the app owns the
    state and the outputs and ties them together once a frame (``frame_step``).
    """

    def __init__(self, opts: AppOptions) -> None:
        self.opts = opts
        self.preset = presets.load_option(opts.preset or "default")
        model = opts.model if opts.model is not None else presets.model_path(self.preset)
        self.loaded = checkpoint.load(model)   # --model, else the preset's [scene] model
        self.space = self.loaded.space
        # before any window or socket opens: a bad --start-from is a one-line error, exit 2
        start_from = Path(opts.start_from) if opts.start_from else None
        start = scenes.picture_point(start_from, self.loaded) if start_from else None
        saved = load_saved(opts.palette, self.loaded.model_id) if opts.palette else None
        forced = opts.backend if opts.backend in ENGINES else None
        self.decoder = Decoder(self.loaded.vae, backend="auto" if forced else opts.backend,
                               threads=1)
        self.upgrade: EngineUpgrade | None = None   # started last: nothing after it may fail
        self.model_path = checkpoint.resolve(model).resolve()
        self.model_load: model_switch.ModelLoad | None = None   # a scene's model, loading
        self.threaded_model_load = True    # False: load on the loop (the benchmark's baseline)
        self.crossfade: model_switch.Crossfade | None = None
        self.preset.check_model(self.loaded.model_id, self.space.dim)
        self.state = scenes.start_state(self.preset, self.space, opts.seed)
        self.out = OutputDir(Path(opts.out_dir))
        pd = self.preset.display
        self.display = Display(opts.size, fullscreen=opts.fullscreen or bool(pd and pd.fullscreen),
                               display=opts.display,
                               borderless=opts.borderless or bool(pd and pd.borderless),
                               fit=opts.fit or (pd.fit if pd else "fit"), fps=opts.fps)
        self.picture = self.display.pipeline   # the one picture pipeline: window, recorder, S
        if self.preset.projection is not None:
            self.display.projection = self.preset.projection
        self.operator = OperatorWindow() if opts.operator_window or bool(pd and pd.operator) \
            else None   # the HUD goes there; the main window is the audience's, clean
        # ``say`` looked up at each call: whoever replaces app.say hears the inputs too
        self.inputs = Inputs(self.space, self.loaded.model_id, self.preset.mappings,
                             lambda text, error=False: self.say(text, error=error), self.loaded)
        self.hud = Hud(self.inputs.help_rows(), visible=opts.hud or bool(pd and pd.hud))
        self.dropview = DropView()
        self.palette = PaletteView(self.loaded, lambda text, error=False: self.say(
            text, error=error), saved)
        self.outputs = SessionOutputs(self.out, opts.fps or 60.0, self.say, opts.log_control)
        self.osc_out: OscFeedback | None = None
        self.frame = np.zeros((self.loaded.cfg.image_size,) * 2 + (3,), np.uint8)
        self.decode_ms = 0.0
        self.t = 0.0
        self.frames = 0
        self.running = True
        self._err_next = 0.0
        self._dt = 0.0          # this frame's step, clamped (timestep.clamp_dt)
        self._wall_dt = 0.0     # this frame's wall-clock seconds: only for measuring the fps
        self.stop_reason: str | None = None
        self.pending: list[C.Command] = []
        self.waiting: list[C.AppCommand] = []   # quantised app commands: the next beat or bar
        self.failures = 0
        self._fail_next = 0.0
        self.selected = "z/0"   # what the performer changed last: the target learn binds to
        for w in self.display.take_warnings():
            self.say(w, error=True)
        self.out_ok = True
        try:  # now, not at the first snapshot; the show starts either way
            self.out.check()
        except OutputError as e:
            self.out_ok = False
            lost = "recordings, snapshots, presets and the control log" if opts.log_control \
                else "recordings, snapshots and presets"
            self.say(f"{e}: {lost} will fail (--out-dir changes it)", error=True)
        driver = pygame.display.get_driver()
        if driver in ("offscreen", "dummy") and not os.environ.get("SDL_VIDEODRIVER"):
            self.say(f"no screen found (SDL video driver {driver!r}): the window is invisible; "
                     f"run on a desktop, or under xvfb-run", error=True)
        self.inputs.start(opts, self.preset.midi_input)
        if self.inputs.audio is not None:   # recordings carry the sound that moves the picture
            src = self.inputs.audio.source
            self.inputs.audio.tap = self.outputs.hear(src.rate, src.channels)
        self.camera: CameraFeed | None = None
        self._camera_said = False
        if opts.camera:
            try:
                self.camera = open_feed(opts.camera, self.loaded, opts.camera_fps)
            except SourceError as e:
                self.say(f"{e}; playing on without it", error=True)
        if opts.osc_out:
            self.osc_out = status.open_feedback(opts.osc_out, self.say)
        self.video_outs = VideoOuts(opts.video_out, self.say)
        # CPU engines are built to beat torch on the CPU; a decoder on a GPU stays there
        if (opts.engines and opts.backend == "auto" and self.decoder.device.type == "cpu") \
                or forced:
            self.upgrade = EngineUpgrade(opts.model, self.loaded.model_id,
                                         self.loaded.vae.decoder, self.decoder.engine,
                                         force=forced)
        if start_from and start:
            self.pending.append(start)
            self.say(f"starting from {start_from.name}")
        if opts.log_control and self.out_ok:   # else said once above
            try:
                self.outputs.open_log(self.out.reserve(".log.jsonl"), self.state,
                                      self._record_size(), self._log_context())
            except OutputError as e:
                self.say(f"control log not started: {e}", error=True)

    # --- the inputs' parts, by their old names (tests, benchmarks, scripts) --------------------

    @property
    def mapper(self) -> MappingRuntime:
        return self.inputs.mapper

    @property
    def translator(self) -> OscTranslator:
        return self.inputs.translator

    @property
    def osc(self) -> OscReceiver | None:
        return self.inputs.osc

    @property
    def midi(self) -> MidiInputs | None:
        return self.inputs.midi

    @midi.setter
    def midi(self, midi: MidiInputs | None) -> None:
        """Plug in MIDI inputs of one's own (a test's fake ports)."""
        self.inputs.midi = midi

    @property
    def midi_seen(self) -> float | None:
        return self.inputs.midi_seen

    # --- messages ------------------------------------------------------------------------------

    def say(self, text: str, *, error: bool = False) -> None:
        """One line to the terminal and the HUD."""
        (log.warning if error else log.info)(text)
        self.hud.message(text, error=error)

    # --- app commands --------------------------------------------------------------------------

    def _apply_app(self, cmd: C.AppCommand) -> None:
        match cmd:
            case C.Quit():
                self.running = False
            case C.ShowDropped():
                drop = self.inputs.last_drop
                if drop is None:
                    self.say("nothing dropped yet: drop a picture on the window")
                else:
                    self.dropview.show(drop.pairs)
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
            case C.TogglePalette(on=on):
                self.palette.toggle(on)
            case C.TapTempo():
                self.inputs.tempo.tap(time.monotonic())
            case C.Record(on=on):
                self.outputs.record(on, self._record_size(), self.state, self.t,
                                    self._log_context())
            case C.Snapshot():
                self._snapshot()
            case C.LoadPreset(name=name, fade=fade):
                self._load_preset(name, fade)
            case C.SavePreset(over=over):
                self._save_preset(over)
            case C.StepPreset(step=step):
                self._load_preset(scenes.next_preset(self.preset.name, step))
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

    def _video_out_size(self) -> tuple[int, int]:
        """``--video-out-size``, else the picture's size on screen (as a recording's)."""
        return self.opts.video_out_size or self._record_size()

    def _load_preset(self, name: str, fade: float | None = None) -> None:
        try:
            self.switch_preset(name, fade)
        except (presets.PresetError, ValueError) as e:
            self.say(str(e), error=True)

    def switch_preset(self, name: str, fade: float | None = None) -> presets.Preset:
        """Switch to preset ``name`` (looked up in the preset folders) over ``fade`` seconds
        (None: the preset's ``[scene] fade``, else ``preset.DEFAULT_FADE``): its mappings
        now, and an engine ``SwitchScene`` at the start of the next frame (so the control log
        holds it and a replay makes the same switch). Raises PresetError or ValueError (one
        line) for a preset that is missing, broken or of another model, changing nothing."""
        p = presets.load(name)
        path = presets.model_path(p)
        if path is not None and path != self.model_path:   # a scene of another model
            self._load_model(path, p, fade)
            return p
        if self.model_load is not None:   # this scene plays the model that plays now
            self.model_load = None
        p.check_model(self.loaded.model_id, self.space.dim)
        cmd = scenes.switch_command(p, fade)
        errors = engine.step(self.state, [cmd], 0.0, self.space).last_errors  # a dry run
        if errors:
            raise presets.PresetError(f"preset {p.source}: {errors[0]}")
        self.pending.append(cmd)
        self.preset = p
        self.mapper.set_mappings(p.mappings)
        if p.projection is not None:   # else the room's set-up stays as it is
            self.display.projection = p.projection
        self.say(f"preset {p.name}" + (f" (fading {cmd.fade:g} s)" if cmd.fade else ""))
        return p

    def _load_model(self, path: Path, p: presets.Preset, fade: float | None) -> None:
        """Start loading the model of scene ``p`` in a worker; the show plays on, and
        ``_poll_model`` switches to it when it is ready."""
        self.model_load = model_switch.ModelLoad(path, p, fade, self.decoder.backend,
                                                 threaded=self.threaded_model_load)
        self.say(f"preset {p.name}: loading model {path.name}...")

    def _poll_model(self) -> None:
        """Once a frame: swap in a model loaded off the render thread, and crossfade."""
        load = self.model_load
        got = load.poll() if load is not None else None
        if got is None or load is None:
            return
        self.model_load = None
        if isinstance(got, Exception):
            self.say(f"preset {load.preset.name}: {got}; playing on", error=True)
            return
        p, model = load.preset, got.model
        try:
            p.check_model(model.model_id, model.space.dim)
        except presets.PresetError as e:
            self.say(str(e), error=True)
            return
        cmd = scenes.switch_command(p, load.fade)
        self.crossfade = model_switch.Crossfade(self.frame.copy(), cmd.fade)
        params = {**self.state.params, **(self.state.fade.end if self.state.fade else {})}
        self.loaded, self.space, self.decoder, self.model_path = (model, model.space,
                                                                  got.decoder, got.path)
        if self.upgrade is not None:   # it was for the old model
            self.upgrade.close()
            self.upgrade = None
        self.state = engine.State.initial(self.space, self.state.seed, params)
        self.inputs.use_model(model, p.mappings)
        self.palette.close()
        self.palette = PaletteView(model, lambda text, error=False: self.say(text, error=error))
        if self.camera is not None:
            self.camera.close()
            self.camera = None
            self.say("the camera follows the first model only; it stopped", error=True)
        self.outputs.log_model(model.model_id, str(got.path), self.state)
        self.pending.append(cmd)
        self.preset = p
        self.say(f"preset {p.name}: model {got.path.name} ({model.model_id})")

    def _save_preset(self, over: bool = False) -> None:
        """Ctrl+S: the state as a new user preset; Alt+S (``over``): over the current one
        (``scenes.save_preset``); a failure is one line and leaves no file."""
        try:
            shown = presets.DisplaySettings(self.display.fit, self.display.fullscreen,
                                            self.display.borderless, self.hud.visible)
            p, path = scenes.save_preset(self.preset, self.state, self.loaded.model_id,
                                         self.mapper.mappings, shown, over=over)
        except (OSError, ValueError) as e:
            self.say(f"preset not saved: {e}", error=True)
            return
        self.preset = p
        self.say(f"preset saved as {p.name!r} ({path}); --preset {path.stem!r} loads it")

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
        picked: list[C.Command] = []
        if self.palette.visible:   # it takes the mouse and Escape first
            events, picked = self.palette.handle([*pygame.event.get(), *events],
                                                 self.display.picture_rect)
        points, local = self.inputs.window(events, self.state, self.display,
                                           self.hud.help_visible, dt)
        followed = self._follow()
        cmds = [*self.pending, *points, *picked, *followed, *injected, *local,
                *self.inputs.remote(now, self.state, dt)]
        self.pending = []
        engine_cmds: list[C.Command] = []
        on_line = engine.crosses(self.state, dt)   # this step reaches a quantise line
        if on_line and self.waiting:
            cmds, self.waiting = [*self.waiting, *cmds], []
        for c in cmds:
            if isinstance(c, C.AppCommand):
                if c.quantised and not on_line:
                    self.waiting.append(c)
                else:
                    self._apply_app(c)
            else:
                engine_cmds.append(c)
                self.selected = status.learn_target(c, self.selected)
        before = self.state.params
        self.state = engine.step(self.state, engine_cmds, dt, self.space)
        if changed := status.changed_params(self.state.params, before, local):
            self.hud.show_params(changed)
        if self.state.last_errors and now >= self._err_next:
            self._err_next = now + 1.0
            self.say(self.state.last_errors[0], error=True)
        self.t += dt
        self.outputs.log_frame(self.t, dt, engine_cmds)
        self._poll_model()
        if self.upgrade is not None and (ready := self.upgrade.poll()) is not None:
            self.decoder.adopt(*ready)
            log.info("decoding on %s from frame %d; %s", self.decoder.engine, self.frames,
                     self.upgrade.summary())
            self.outputs.log_decoder(self.decoder.describe())
        t0 = time.perf_counter()
        self.frame = self.decoder.decode(engine.output_z(self.state, self.space))
        self.decode_ms = (time.perf_counter() - t0) * 1e3
        if self.crossfade is not None:   # a model switch: the old model's frame fades out
            self.frame = self.crossfade.blend(self.frame, dt)
            if self.crossfade.done:
                self.crossfade = None
        self.picture.feed(self.frame, self.state.params, dt)
        self.display.draw()
        self.outputs.submit(self.picture, self.t)  # at the recording's own size and fit
        if self.video_outs:   # the clean picture: drawn before the HUD and overlays
            self.video_outs.send(self.picture.render(self._video_out_size(),
                                                     self.display.fit))
        self.dropview.draw(self.display.screen, self._wall_dt)
        self.palette.poll()
        self.palette.draw(self.display.screen, self.display.picture_rect)
        if self.operator is not None:
            self.operator.draw(self.picture, self.display.fit)
        hud_surface = self.display.screen if self.operator is None else self.operator.surface
        self.hud.draw(hud_surface, status.hud_info(
            self.state, self.space, self.outputs.status(), self.decode_ms,
            self.inputs.osc_age(now), self.inputs.midi_age(now),
            f"{self.preset.name} | seed {self.state.seed} | {self.decoder.engine}"),
            self._wall_dt)
        self.display.flip()
        if self.operator is not None:
            self.operator.flip()
        if self.osc_out is not None:
            self.osc_out.maybe_send(status.feedback(self.state, self.space,
                                                    self.outputs.recording, self.preset.name,
                                                    self._wall_dt))
        self.inputs.feedback(self.state, self.outputs.recording)
        self.outputs.report()
        if self.frames == 0:
            log.info("first frame on screen (decoder %s, %.1f ms)", self.decoder.engine,
                     self.decode_ms)
        self.frames += 1

    def _follow(self) -> list[C.Command]:
        """The camera's newest point as a command (``--camera``), and what it has to say."""
        if self.camera is None:
            return []
        cmds, messages = self.camera.poll()
        for text in messages:
            self.say(text, error=True)
        if cmds and not self._camera_said:   # said once a picture really arrives
            self._camera_said = True
            self.say(f"following {self.camera.source.name}: {self.camera.fps:g} pictures a "
                     f"second encoded")
        return cmds

    def close(self) -> None:
        """Finalise recordings and logs, stop inputs, close the window; safe to call twice."""
        if self.upgrade is not None:
            self.upgrade.close()
        if self.model_load is not None:
            self.model_load.close()
        self.outputs.close()   # says what the recording's file now is
        self.inputs.close()
        self.palette.close()
        if self.camera is not None:
            self.camera.close()
        if self.osc_out is not None:
            self.osc_out.close()
            self.osc_out = None
        self.video_outs.close()
        if self.operator is not None:
            self.operator.close()
            self.operator = None
        self.display.close()


def play(opts: AppOptions) -> int:
    """Open the window and play until quit; the ``latentsketch play`` command."""
    try:
        app = App(opts)
    except pygame.error as e:
        raise UserError(f"cannot open a window: {e} (no display? try SDL_VIDEODRIVER=x11 or "
                        f"xvfb-run)") from None
    if app.out_ok:   # an unusable one was named in its error line
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
