"""MIDI feedback: mapped controls' LEDs and motor faders follow their targets through the
mapping's ranges and curve backwards, only on change, never against the performer's hand;
no such output is one line and the show goes on."""

from __future__ import annotations

import time

import mido
import pytest

from latentsketch.control.midi import MidiUnavailable
from latentsketch.control.midi_out import MidiFeedback, feedback_messages, open_output
from latentsketch.mapping import ControlMapping

MAPPINGS = (
    ControlMapping("walk.speed", cc=16),                                  # 0..10 linear
    ControlMapping("z/0", cc=17, channel=2, out_range=(-2, 2)),
    ControlMapping("pause", note=40),
    ControlMapping("look.blackout", cc=45),                               # a bool parameter
    ControlMapping("walk.temperature", cc=1, cc14=True),                  # 14-bit pair
    ControlMapping("walk/next", cc=50),                                   # a trigger: nothing
    ControlMapping("z/1", cc=18, mode="relative"),                        # an encoder: nothing
    ControlMapping("z/2", source="audio.low"),                            # not MIDI
)
CURRENT = {"walk.speed": 5.0, "z/0": 1.0, "pause": 1.0, "look.blackout": 0.0,
           "walk.temperature": 1.5, "z/1": 0.3, "z/2": 0.0}


class FakeOut:
    def __init__(self, name: str = "nanoKONTROL2 MIDI 1 20:0") -> None:
        self.name = name
        self.sent: list[mido.Message] = []

    def send(self, msg: mido.Message) -> None:
        self.sent.append(msg)

    def close(self) -> None:
        pass


class Clock:
    t = 0.0

    def __call__(self) -> float:
        return self.t


def test_values_go_back_through_ranges_and_curves():
    got = feedback_messages(MAPPINGS, CURRENT)
    assert got[("cc", 0, 16)] == [mido.Message("control_change", control=16, value=64)]
    assert got[("cc", 1, 17)] == [mido.Message("control_change", channel=1, control=17,
                                               value=95)]          # 1.0 of -2..2 is 3/4
    assert got[("note", 0, 40)] == [mido.Message("note_on", note=40, velocity=127)]
    assert got[("cc", 0, 45)] == [mido.Message("control_change", control=45, value=0)]
    msb, lsb = got[("cc", 0, 1)]
    raw = (msb.value << 7) | lsb.value
    assert (msb.control, lsb.control) == (1, 33) and raw == pytest.approx(16383 / 2, abs=1)
    assert len(got) == 5        # no trigger, no relative encoder, no modulation source


def test_only_changes_are_sent_and_never_against_the_hand():
    port, clock = FakeOut(), Clock()
    fb = MidiFeedback(port, clock=clock)
    assert fb.maybe_send(MAPPINGS, CURRENT) == 6 and len(port.sent) == 6
    clock.t += 1.0
    assert fb.maybe_send(MAPPINGS, CURRENT) == 0                          # nothing changed
    fb.heard(mido.Message("control_change", control=16, value=10))       # the hand is on it
    clock.t += 0.1
    assert fb.maybe_send(MAPPINGS, {**CURRENT, "walk.speed": 1.0, "pause": 0.0}) == 1
    assert port.sent[-1] == mido.Message("note_off", note=40, velocity=0)
    clock.t += 0.01
    assert fb.maybe_send(MAPPINGS, {**CURRENT, "walk.speed": 1.0}) == 0   # rate: 30 Hz
    clock.t += 0.5                                                        # hand gone: follow
    assert fb.maybe_send(MAPPINGS, {**CURRENT, "walk.speed": 1.0, "pause": 0.0}) == 1
    assert port.sent[-1] == mido.Message("control_change", control=16, value=13)


class FakeBackend:
    def __init__(self, names: list[str]) -> None:
        self.names = names

    def get_output_names(self) -> list[str]:
        return list(self.names)

    def open_output(self, name=None, **kw):
        return FakeOut(name)


def test_outputs_are_found_by_part_of_their_name_or_refused_in_one_line():
    b = FakeBackend(["Midi Through:Midi Through Port-0 14:0", "nanoKONTROL2 MIDI 1 24:0"])
    assert open_output("nanokontrol2 MIDI 1 20:0", b).name == "nanoKONTROL2 MIDI 1 24:0"
    assert open_output(None, b).name == "nanoKONTROL2 MIDI 1 24:0"
    with pytest.raises(MidiUnavailable, match=r"^--midi-out: no MIDI output matching 'APC' "
                                              r"\(have: Midi Through"):
        open_output("APC", b)


def test_the_live_loop_moves_a_mapped_fader(make_app, tmp_path, monkeypatch):
    port = FakeOut()
    monkeypatch.setattr("latentsketch.app.inputs.open_midi_out", lambda name: port)
    preset = tmp_path / "faders.toml"
    preset.write_text('[[mappings]]\ncc = 16\ntarget = "walk.speed"\n')
    from latentsketch import commands as C

    app = make_app(preset=str(preset), midi_out="")
    app.run(max_frames=2, dt=1 / 60,
            script=lambda i, a: [C.SetParam("walk.speed", 10.0)] if i == 1 else [])
    time.sleep(1.5 / 30)                        # the next send is due (30 Hz)
    app.run(max_frames=3, dt=1 / 60)
    assert port.sent[-1] == mido.Message("control_change", control=16, value=127)
