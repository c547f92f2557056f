"""Modulation sources: mapped like knobs (ranges, curves, smoothing, triggers), fed live
through the bus in order, refused by name when unknown."""

from __future__ import annotations

import math
import threading

import pytest

from latentsketch.commands import NewTarget, SetDim, SetParam
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.modulation import ModulationBus
from latentsketch.mapping import ControlMapping, MappingError
from latentsketch.preset import Preset

DIM = 8


def test_source_maps_like_a_knob_with_range_curve_and_smoothing():
    m = ControlMapping.from_dict({"source": "audio.low", "target": "z/0", "out": [-2, 2]})
    assert m.input_range() == (0.0, 1.0) and m.describe_source() == "source audio.low"
    rt = MappingRuntime([m], DIM)
    assert rt.source_names == {"audio.low"}
    assert rt.feed_source("audio.low", 0.75) == []          # continuous: glides at update
    assert rt.update(1 / 60, {}) == [SetDim(0, 1.0)]
    rt.feed_source("audio.high", 1.0)                          # not mapped: nothing
    assert rt.update(1 / 60, {}) == []
    smooth = MappingRuntime([ControlMapping("look.contrast", source="audio.level", smooth=0.5,
                                            in_range=(0, 0.5))], DIM)
    smooth.feed_source("audio.level", 0.5)
    first = smooth.update(1 / 60, {"look.contrast": 1.0})[0]
    assert isinstance(first, SetParam) and first.name == "look.contrast"
    assert 1.0 < first.value < smooth.mappings[0].output_range()[1]


def test_onset_pulses_fire_triggers_once_each_through_the_bus():
    rt = MappingRuntime([ControlMapping("walk/next", source="audio.onset")], DIM)
    bus = ModulationBus()
    # two pulses between two frames, published from another thread: both fire
    t = threading.Thread(target=lambda: [bus.publish("audio.onset", v, t=i * 0.01)
                                         for i, v in enumerate((0, 1, 0, 0, 1, 0))])
    t.start()
    t.join()
    assert rt.feed_sources(bus.drain()) == [NewTarget(), NewTarget()]
    assert bus.drain() == []
    bus.publish("audio.onset", math.nan)
    assert bus.dropped == 1 and bus.drain() == []
    assert bus.latest() == {"audio.onset": 0.0}


def test_bad_sources_are_one_line_errors():
    with pytest.raises(MappingError, match="source = 'audio.bass' is not a modulation source"):
        ControlMapping("z/0", source="audio.bass")
    with pytest.raises(MappingError, match="exactly one of osc, cc, note, source"):
        ControlMapping("z/0", source="audio.low", cc=3)
    with pytest.raises(MappingError, match="relative"):
        ControlMapping("z/0", source="audio.low", mode="relative")


def test_a_preset_round_trips_a_source_mapping():
    text = '[[mappings]]\nsource = "audio.hit"\ntarget = "look.contrast"\nsmooth = 0.1\n'
    p = Preset.from_toml(text, source="t.toml")
    assert p.mappings == (ControlMapping("look.contrast", source="audio.hit", smooth=0.1),)
    assert p.mappings[0].to_dict() == {"target": "look.contrast", "smooth": 0.1,
                                       "source": "audio.hit"}
