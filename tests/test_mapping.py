"""Mappings: curves, ranges, smoothing, soft takeover, relative encoders, buttons, 14-bit, learn."""

from __future__ import annotations

import math

import mido
import pytest

from latentsketch.commands import (
    CycleMode,
    OffsetDim,
    RecallSlot,
    Record,
    ReleaseDim,
    SetDim,
    SetParam,
    SetPause,
    Snapshot,
    StoreSlot,
)
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.mapping import ControlMapping, MappingError, parse_target, shape, unshape
from latentsketch.params import WALK_MODES

DIM = 8


def cc(control: int, value: int, channel: int = 1) -> mido.Message:
    return mido.Message("control_change", channel=channel - 1, control=control, value=value)


def values(cmds: list) -> list[float]:
    return [c.value for c in cmds]


def settle(mapper: MappingRuntime, current: dict | None = None, frames: int = 1) -> list:
    out: list = []
    for _ in range(frames):
        out += mapper.update(1 / 60, current or {})
    return out


# --- absolute, ranges, curves ---------------------------------------------------------------

def test_midi_cc_linear_to_param_range():
    m = MappingRuntime([ControlMapping("walk.speed", cc=16)], DIM)
    for v, want in ((0, 0.0), (127, 10.0), (254 // 4, 10.0 * 63 / 127)):
        m.feed_midi(cc(16, v))
        assert settle(m) == [SetParam("walk.speed", pytest.approx(want))]


def test_osc_floats_and_ints_by_input_range():
    unit = MappingRuntime([ControlMapping("walk.temperature", osc="/fader")], DIM)
    unit.feed_osc("/fader", (0.5,))
    assert settle(unit) == [SetParam("walk.temperature", 1.5)]
    midi_style = MappingRuntime([ControlMapping("walk.temperature", osc="/ctl", arg=2,
                                                in_range=(0, 127))], DIM)
    midi_style.feed_osc("/ctl", (1, 16, 127))
    assert settle(midi_style) == [SetParam("walk.temperature", 3.0)]
    unit.feed_osc("/fader", (7.0,))  # beyond the input range: clamped, not extrapolated
    assert settle(unit) == [SetParam("walk.temperature", 3.0)]


def test_inverted_and_custom_ranges_on_a_dimension():
    m = MappingRuntime([ControlMapping("z/3", cc=1, in_range=(127, 0), out_range=(-2, 2))], DIM)
    m.feed_midi(cc(1, 127))
    assert settle(m) == [SetDim(3, -2.0)]
    m.feed_midi(cc(1, 0))
    assert settle(m) == [SetDim(3, 2.0)]


def test_default_dimension_range_is_three_std():
    m = MappingRuntime([ControlMapping("z/0", osc="/x")], DIM)
    m.feed_osc("/x", (0.0,))
    assert settle(m) == [SetDim(0, -3.0)]


def test_exponential_curve_geometric_and_through_zero():
    geo = MappingRuntime([ControlMapping("walk.speed", osc="/s", out_range=(0.1, 10),
                                         curve="exp")], DIM)
    geo.feed_osc("/s", (0.5,))
    assert values(settle(geo)) == [pytest.approx(1.0)]  # geometric mean of 0.1 and 10
    # 0..10 touches zero
    zero = MappingRuntime([ControlMapping("walk.speed", osc="/s", curve="exp")], DIM)
    zero.feed_osc("/s", (0.5,))
    assert values(settle(zero)) == [pytest.approx(2.0)]  # half a turn -> a fifth of the range
    zero.feed_osc("/s", (1.0,))
    assert values(settle(zero)) == [pytest.approx(10.0)]
    for lo, hi in ((0.1, 10), (0, 10), (-3, 3)):
        for x in (0.0, 0.1, 0.5, 0.9, 1.0):
            assert unshape(shape(x, lo, hi, "exp"), lo, hi, "exp") == pytest.approx(x, abs=1e-9)


def test_int_and_enum_targets_round_and_emit_only_on_change():
    m = MappingRuntime([ControlMapping("walk.mode", cc=5), ControlMapping("look.posterize",
                                                                          cc=6)], DIM)
    m.feed_midi(cc(5, 127))
    m.feed_midi(cc(6, 64))
    top = float(len(WALK_MODES) - 1)                        # the last mode
    assert settle(m) == [SetParam("walk.mode", top), SetParam("look.posterize", 8.0)]
    m.feed_midi(cc(6, 65))  # 8.19 -> still 8
    assert settle(m) == []


def test_channel_filter():
    m = MappingRuntime([ControlMapping("walk.speed", cc=7, channel=2)], DIM)
    m.feed_midi(cc(7, 127, channel=1))
    assert settle(m) == []
    m.feed_midi(cc(7, 127, channel=2))
    assert settle(m) == [SetParam("walk.speed", 10.0)]


# --- smoothing ------------------------------------------------------------------------------

def test_smoothing_is_one_pole_and_frame_rate_independent():
    def run(fps: int) -> float:
        m = MappingRuntime([ControlMapping("walk.speed", osc="/s", smooth=0.2)], DIM)
        m.feed_osc("/s", (1.0,))
        out: list = []
        for _ in range(round(fps * 0.2)):
            out = m.update(1 / fps, {"walk.speed": 0.0}) or out
        return out[-1].value

    expected = 10.0 * (1 - math.exp(-1))  # one time constant
    assert run(30) == pytest.approx(expected, rel=1e-6)
    assert run(120) == pytest.approx(expected, rel=1e-6)


def test_jumpy_knob_glides_from_the_current_value_and_arrives():
    m = MappingRuntime([ControlMapping("z/0", cc=0, smooth=0.05)], DIM)
    m.feed_midi(cc(0, 127))
    glide = values(settle(m, {"z/0": 0.0}, frames=60))
    assert glide[0] == pytest.approx(3.0 * (1 - math.exp(-1 / 60 / 0.05)))
    assert glide[-1] == 3.0
    assert all(b > a for a, b in zip(glide, glide[1:], strict=False))
    assert settle(m, {"z/0": 3.0}) == []  # arrived: nothing more is sent


def test_burst_costs_one_command_per_frame():
    m = MappingRuntime([ControlMapping("walk.speed", osc="/s")], DIM)
    for i in range(1000):
        m.feed_osc("/s", (i / 999,))
    assert settle(m) == [SetParam("walk.speed", 10.0)]


def test_bad_values_and_dt_never_produce_nan():
    m = MappingRuntime([ControlMapping("walk.speed", osc="/s", smooth=0.1)], DIM)
    m.feed_osc("/s", (float("nan"),))
    m.feed_osc("/s", ("fast",))
    m.feed_osc("/s", ())
    assert m.dropped.by_reason == {"type": 2, "arity": 1}
    m.feed_osc("/s", (0.5,))
    for dt in (float("nan"), -1.0, float("inf"), 1e9):
        for c in m.update(dt, {"walk.speed": float("nan")}):
            assert math.isfinite(c.value)


# --- soft takeover --------------------------------------------------------------------------

def test_soft_takeover_waits_for_the_knob_to_cross_the_value():
    m = MappingRuntime([ControlMapping("walk.speed", cc=16, takeover="soft")], DIM)
    cur = {"walk.speed": 5.0}
    settle(m, cur)
    for v in (0, 10, 30, 50):  # 0 .. 3.9: below the current 5.0
        m.feed_midi(cc(16, v))
        assert settle(m, cur) == []
    m.feed_midi(cc(16, 70))  # 5.5: crossed 5.0 -> takes over
    assert settle(m, cur) == [SetParam("walk.speed", pytest.approx(5.51, abs=0.01))]
    cur = {"walk.speed": 70 / 127 * 10}
    m.feed_midi(cc(16, 60))
    assert values(settle(m, cur)) == [pytest.approx(4.72, abs=0.01)]
    # someone else (keys, a preset) moves the value: the knob lets go until it crosses again
    cur = {"walk.speed": 9.0}
    assert settle(m, cur) == []
    m.feed_midi(cc(16, 80))
    assert settle(m, cur) == []
    m.feed_midi(cc(16, 127))
    assert settle(m, cur) == [SetParam("walk.speed", 10.0)]


def test_soft_takeover_engages_when_close_enough():
    m = MappingRuntime([ControlMapping("z/1", cc=1, takeover="soft")], DIM)
    m.feed_midi(cc(1, 64))  # 0.02 std, within 2 % of the range of the current 0.0
    assert values(settle(m, {"z/1": 0.0})) == [pytest.approx(6 * 64 / 127 - 3)]


def test_jump_takeover_moves_at_once():
    m = MappingRuntime([ControlMapping("walk.speed", cc=16)], DIM)
    m.feed_midi(cc(16, 0))
    assert settle(m, {"walk.speed": 5.0}) == [SetParam("walk.speed", 0.0)]


# --- pin and offset -------------------------------------------------------------------------

def test_pin_and_offset_modes_for_dimensions():
    m = MappingRuntime([ControlMapping("z/2", cc=2), ControlMapping("z/3", cc=3, z_mode="offset",
                                                                    out_range=(-1, 1))],
               DIM)
    m.feed_midi(cc(2, 127))
    m.feed_midi(cc(3, 0))
    assert settle(m, {"z/2": 0.3, "z/3": 0.7}) == [SetDim(2, 3.0), OffsetDim(3, -1.0)]


def test_offset_mode_soft_takeover_uses_its_own_offset():
    m = MappingRuntime([ControlMapping("z/3", cc=3, z_mode="offset", takeover="soft")], DIM)
    m.feed_midi(cc(3, 127))  # offset starts at 0: the knob at +3 has not crossed it
    assert settle(m, {"z/3": 2.9}) == []
    m.feed_midi(cc(3, 64))
    assert values(settle(m, {"z/3": 2.9})) == [pytest.approx(0.0236, abs=1e-3)]


# --- relative encoders ----------------------------------------------------------------------

@pytest.mark.parametrize("encoding, up, down", [
    ("twos", 1, 127), ("offset64", 65, 63), ("signbit", 1, 65),
])
def test_relative_encoders_step_from_the_current_value(encoding, up, down):
    m = MappingRuntime([ControlMapping("walk.speed", cc=20, mode="relative", encoding=encoding)],
                       DIM)
    step = 10 / 127
    m.feed_midi(cc(20, up))
    assert values(settle(m, {"walk.speed": 5.0})) == [pytest.approx(5.0 + step)]
    m.feed_midi(cc(20, up))
    m.feed_midi(cc(20, up))
    assert values(settle(m, {"walk.speed": 5.0 + step})) == [pytest.approx(5.0 + 3 * step)]
    m.feed_midi(cc(20, down))
    assert values(settle(m, {"walk.speed": 5.0 + 3 * step})) == [pytest.approx(5.0 + 2 * step)]
    cur = {"walk.speed": 1.0}  # moved by someone else: continue from there
    assert settle(m, cur) == []
    m.feed_midi(cc(20, up))
    assert values(settle(m, cur)) == [pytest.approx(1.0 + step)]


def test_relative_clamps_and_accepts_bigger_steps():
    m = MappingRuntime([ControlMapping("walk.speed", cc=20, mode="relative", encoding="twos")], DIM)
    m.feed_midi(cc(20, 0x40 + 0x3F))  # -1 in two's complement ... -65 steps
    m.feed_midi(cc(20, 0x40))         # -64
    assert values(settle(m, {"walk.speed": 0.5})) == [0.0]


def test_relative_osc_delta():
    m = MappingRuntime([ControlMapping("z/0", osc="/enc", mode="relative", encoding="delta")], DIM)
    m.feed_osc("/enc", (0.1,))  # a tenth of the output range per unit
    assert values(settle(m, {"z/0": 0.0})) == [pytest.approx(0.6)]


# --- buttons --------------------------------------------------------------------------------

def test_triggers_fire_once_per_press():
    m = MappingRuntime([ControlMapping("snapshot", cc=60), ControlMapping("slot/recall/3", cc=33),
                ControlMapping("slot/store/3", cc=65), ControlMapping("z/4/release", cc=52),
                ControlMapping("z/release", cc=42), ControlMapping("walk/cycle", cc=46)], DIM)
    out = []
    for control in (60, 33, 65, 52, 42, 46):
        out += m.feed_midi(cc(control, 127)) + m.feed_midi(cc(control, 127))
        out += m.feed_midi(cc(control, 0))
    assert out == [Snapshot(), RecallSlot(3), StoreSlot(3), ReleaseDim(4), ReleaseDim(None),
                   CycleMode()]


def test_toggle_and_gate_switches():
    m = MappingRuntime([ControlMapping("pause", cc=41), ControlMapping("record", cc=45,
    button="gate"),
                ControlMapping("look.blackout", cc=50)], DIM)
    assert m.feed_midi(cc(41, 127)) == [SetPause(None)]
    assert m.feed_midi(cc(41, 0)) == []
    assert m.feed_midi(cc(45, 127)) == [Record(True)]
    assert m.feed_midi(cc(45, 0)) == [Record(False)]
    m.update(0.0, {"look.blackout": 0.0})
    assert m.feed_midi(cc(50, 127)) == [SetParam("look.blackout", 1.0)]
    m.feed_midi(cc(50, 0))
    m.update(0.0, {"look.blackout": 1.0})
    assert m.feed_midi(cc(50, 127)) == [SetParam("look.blackout", 0.0)]


def test_notes_any_velocity_presses_and_velocity_drives_values():
    m = MappingRuntime([ControlMapping("snapshot", note=36, channel=10),
                        ControlMapping("walk.speed", note=37)], DIM)
    on = mido.Message("note_on", channel=9, note=36, velocity=20)
    off = mido.Message("note_on", channel=9, note=36, velocity=0)
    assert m.feed_midi(on) == [Snapshot()] and m.feed_midi(off) == []
    assert m.feed_midi(on) == [Snapshot()]
    m.feed_midi(mido.Message("note_on", note=37, velocity=127))
    assert settle(m) == [SetParam("walk.speed", 10.0)]
    m.feed_midi(mido.Message("note_off", note=37, velocity=64))
    assert settle(m) == [SetParam("walk.speed", 0.0)]


# --- 14-bit CC ------------------------------------------------------------------------------

def test_fourteen_bit_cc_pairs():
    m = MappingRuntime([ControlMapping("z/0", cc=1, cc14=True, out_range=(0, 1))], DIM)
    m.feed_midi(cc(1, 0x40))   # MSB; LSB resets to 0
    assert values(settle(m)) == [pytest.approx(0x2000 / 16383)]
    m.feed_midi(cc(33, 0x7F))  # LSB
    assert values(settle(m)) == [pytest.approx(0x207F / 16383)]
    m.feed_midi(cc(1, 0x7F))
    m.feed_midi(cc(33, 0x7F))
    assert values(settle(m)) == [1.0]


# --- learn ----------------------------------------------------------------------------------

def test_midi_learn_binds_the_next_moved_control():
    m = MappingRuntime([ControlMapping("walk.temperature", cc=21, channel=3)], DIM)
    m.arm("walk.speed")
    assert m.learning == "walk.speed"
    assert m.feed_midi(cc(21, 100, channel=3)) == []  # binds; replaces the old use of cc 21
    learned = m.take_learned()
    assert learned is not None and (learned.cc, learned.channel) == (21, 3)
    assert m.take_learned() is None and m.learning is None
    assert [x.target for x in m.mappings] == ["walk.speed"]
    m.feed_midi(cc(21, 127, channel=3))
    assert values(settle(m, {}, frames=120))[-1] == 10.0


def test_learn_notes_and_osc_and_refusals():
    m = MappingRuntime([], DIM)
    m.arm("snapshot")
    m.feed_midi(mido.Message("note_off", note=40))  # releases don't bind
    m.feed_midi(mido.Message("note_on", note=40, velocity=90))
    assert m.take_learned().note == 40
    m.arm("z/2")
    assert not m.accepts_osc("/latentsketch/z/2")  # our own addresses never bind
    assert m.accepts_osc("/touch/fader3")
    m.feed_osc("/touch/fader3", (64,))  # an integer above 1: a 0..127 bridge
    learned = m.take_learned()
    assert (learned.osc, learned.input_range()) == ("/touch/fader3", (0.0, 127.0))
    m.arm("z/3")
    m.cancel_learn()
    assert m.learning is None
    with pytest.raises(MappingError):
        m.arm("z/8")  # DIM = 8
    with pytest.raises(MappingError):
        m.arm("warp.speed")


def test_set_mappings_keeps_state_of_unchanged_mappings():
    keep = ControlMapping("walk.speed", cc=16, smooth=1.0)
    m = MappingRuntime([keep], DIM)
    m.feed_midi(cc(16, 127))
    first = settle(m, {"walk.speed": 0.0})
    m.set_mappings([keep, ControlMapping("snapshot", cc=60)])
    more = settle(m, {"walk.speed": first[0].value})
    assert more and more[0].value > first[0].value  # the glide went on


def test_dimensions_beyond_the_model_are_ignored(caplog):
    m = MappingRuntime([ControlMapping("z/12", cc=1)], DIM)
    m.feed_midi(cc(1, 127))
    assert settle(m) == [] and len(m.mappings) == 1
    assert "z/12" in caplog.text


# --- the mapping value ----------------------------------------------------------------------

def test_toml_tables_round_trip_and_defaults_stay_out():
    m = ControlMapping("walk.speed", cc=16, channel=1, out_range=(0.05, 10), curve="exp",
                smooth=0.08, takeover="soft")
    d = m.to_dict()
    assert d == {"target": "walk.speed", "cc": 16, "channel": 1, "out": [0.05, 10.0],
                 "curve": "exp", "smooth": 0.08, "takeover": "soft"}
    assert ControlMapping.from_dict(d) == m
    d = {"target": "z/0", "osc": "/a", "in": [0, 127]}
    assert ControlMapping.from_dict(d).in_range == (0, 127)


@pytest.mark.parametrize("table, message", [
    ({"target": "z/0"}, "source: needs exactly one of osc, cc, note, source (got none)"),
    ({"target": "z/0", "cc": 1, "note": 2}, "got cc, note"),
    ({"cc": 1}, "target: missing"),
    ({"target": "warp", "cc": 1}, "target = 'warp' is not a target"),
    ({"target": "z/0", "cc": 128}, "cc = 128 is not a whole number in 0..127"),
    ({"target": "z/0", "cc": 40, "cc14": True}, "cc = 40 is not a whole number in 0..31"),
    ({"target": "z/0", "cc": 1, "channel": 0}, "channel = 0"),
    ({"target": "z/0", "osc": "knob"}, "osc = 'knob' is not an OSC address"),
    ({"target": "z/0", "cc": 1, "curve": "log"}, "curve = 'log' is not one of linear, exp"),
    ({"target": "z/0", "cc": 1, "smooth": -1}, "smooth = -1"),
    ({"target": "z/0", "cc": 1, "in": [5, 5]}, "in = [5, 5] is an empty range"),
    ({"target": "z/0", "cc": 1, "out": [0, "x"]}, "out = [0, 'x'] is not two finite numbers"),
    ({"target": "walk.speed", "cc": 1, "out": [0, 20]}, "outside walk.speed's range 0..10"),
    ({"target": "snapshot", "cc": 1, "mode": "relative"}, "needs a continuous target"),
    ({"target": "z/0", "cc": 1, "colour": "red"}, "colour: unknown key"),
    ({"target": "slot/recall/0", "cc": 1}, "is not a target"),
])
def test_invalid_tables_name_the_key(table, message):
    with pytest.raises(MappingError) as e:
        ControlMapping.from_dict(table)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_targets():
    assert parse_target("z/5").kind == "dim" and parse_target("z/5").index == 5
    assert parse_target("look.blackout").kind == "switch"
    assert parse_target("walk.mode").kind == "param"
    assert parse_target("slot/store/9").command() == StoreSlot(9)
    assert parse_target("z/2/release").command() == ReleaseDim(2)
