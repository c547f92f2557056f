"""MIDI: raw bytes -> mido messages -> mappings -> commands; the device layer with an in-memory
backend (hot-plug, virtual port, filters); a machine without MIDI starts with one line."""

from __future__ import annotations

import logging
import os
import sys
from collections import deque

import mido
import pytest

from latentsketch.commands import RecallSlot, SetDim, SetParam, SetPause
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.midi import (
    VIRTUAL_NAME,
    MidiInputs,
    MidiUnavailable,
    RawMidiParser,
    device_name,
    list_inputs,
)
from latentsketch.preset import load

NO_SEQ = sys.platform.startswith("linux") and not os.path.exists("/dev/snd/seq")


def test_raw_bytes_through_mido_parser_drive_the_mappings():
    """The same path a device feeds: bytes -> mido.Parser -> MappingRuntime -> commands."""
    mapper = MappingRuntime(load("nanokontrol2").mappings, latent_dim=16)
    current = {"z/0": -2.0, "walk.speed": 1.0}
    assert mapper.update(1 / 60, current) == []  # a frame: the mapper sees the state
    parser = mido.Parser()
    # fader 1 (CC 0) to the top, knob 1 (CC 16) to the top, S3 (CC 34) pressed and released,
    # PLAY (CC 41) pressed: nanoKONTROL2 factory layout, channel 1
    parser.feed(bytes([0xB0, 0, 127, 0xB0, 16, 127, 0xB0, 34, 127, 0xB0, 34, 0, 0xB0, 41, 127]))
    buttons = []
    for msg in parser:
        buttons += mapper.feed_midi(msg)
    assert buttons == [RecallSlot(3), SetPause(None)]
    # soft takeover: the current values are far from the knobs, so those waited...
    assert mapper.update(1 / 60, current) == []
    parser.feed(bytes([0xB0, 0, 21, 0xB0, 16, 70]))  # ...and pick up once they pass them
    for msg in parser:
        mapper.feed_midi(msg)
    out = mapper.update(1 / 60, current)
    assert [type(c) for c in out] == [SetDim, SetParam] and out[0].index == 0


def test_running_status_is_expanded():
    p = RawMidiParser()
    # CC 16 = 64, then running status: CC 16 = 65, CC 17 = 0; a clock byte in the middle
    msgs = p.feed(bytes([0xB2, 16, 64, 16, 0xF8, 65, 17, 0]))
    ccs = [(m.channel, m.control, m.value) for m in msgs if m.type == "control_change"]
    assert ccs == [(2, 16, 64), (2, 16, 65), (2, 17, 0)]
    assert [m.type for m in msgs].count("clock") == 1
    # split across calls, notes with running status, a note-on with velocity 0
    assert p.feed(bytes([0x90, 60])) == []
    notes = p.feed(bytes([100, 62, 0]))
    assert [(m.type, m.note, m.velocity) for m in notes] == [("note_on", 60, 100),
                                                            ("note_on", 62, 0)]
    # sysex cancels running status: stray data bytes after it are not turned into messages
    assert [m.type for m in p.feed(bytes([0xF0, 0x7E, 0x01, 0xF7, 5, 6]))] == ["sysex"]
    assert [m.program for m in p.feed(bytes([0xC0, 5, 6]))] == [5, 6]


class FakePort:
    def __init__(self, name: str) -> None:
        self.name = name
        self.pending: deque[mido.Message] = deque()
        self.closed = False

    def iter_pending(self):
        while self.pending:
            yield self.pending.popleft()

    def close(self) -> None:
        self.closed = True


class FakeBackend:
    """In-memory MIDI system: devices can be plugged and unplugged."""

    def __init__(self, names: list[str], virtual: bool = True) -> None:
        self.names = names
        self.virtual = virtual
        self.ports: dict[str, FakePort] = {}

    def get_input_names(self) -> list[str]:
        return list(self.names)

    def open_input(self, name=None, virtual=False, **kw):
        if virtual and not self.virtual:
            raise NotImplementedError("virtual ports are not supported by the Windows MM API")
        if not virtual and name not in self.names:
            raise OSError(f"unknown port {name!r}")
        self.ports[name] = FakePort(name)
        return self.ports[name]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_hot_plug_is_reported_not_fatal(caplog):
    backend = FakeBackend(["Midi Through:Midi Through Port-0 14:0"])
    clock = Clock()
    ins = MidiInputs("nanoKONTROL2", backend=backend, clock=clock, rescan=2.0)
    with caplog.at_level(logging.INFO, logger="latentsketch.midi"):
        assert ins.start()
        assert ins.connected == (VIRTUAL_NAME,)
        assert "no input matching 'nanoKONTROL2'" in caplog.text
        backend.names.append("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0")
        assert ins.poll() == []  # not yet rescanned
        clock.t = 2.5
        assert ins.poll() == []
        name = "nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0"
        assert ins.connected == (name, VIRTUAL_NAME) and "connected to" in caplog.text
        backend.ports[name].pending.append(mido.Message("control_change", control=0, value=5))
        backend.ports[VIRTUAL_NAME].pending.append(mido.Message("note_on", note=1))
        assert [m.type for m in ins.poll()] == ["control_change", "note_on"]
        backend.names.remove(name)  # unplugged
        clock.t = 5.0
        assert ins.poll() == [] and ins.connected == (VIRTUAL_NAME,)
        assert "disconnected" in caplog.text and backend.ports[name].closed
        backend.names.append("nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0")  # back, new ALSA id
        clock.t = 7.5
        ins.poll()
        assert ins.connected[0] == "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"
    ins.close()
    assert all(p.closed for p in backend.ports.values())


def test_default_filter_skips_through_ports_and_virtual_may_be_missing(caplog):
    backend = FakeBackend(["Midi Through:Midi Through Port-0 14:0", "Launch Control XL"],
                          virtual=False)
    with caplog.at_level(logging.INFO, logger="latentsketch.midi"):
        ins = MidiInputs(backend=backend)
        assert ins.start()
    assert ins.connected == ("Launch Control XL",)
    assert "no virtual port on this system" in caplog.text


def test_a_failing_port_is_dropped_and_the_loop_goes_on(caplog):
    class Broken(FakePort):
        def iter_pending(self):
            raise RuntimeError("device gone")

    backend = FakeBackend(["Pad"])
    backend.open_input = lambda name=None, virtual=False, **kw: Broken(name)
    ins = MidiInputs(backend=backend)
    ins.start()
    assert ins.poll() == [] and "Pad" not in ins.connected


@pytest.mark.skipif(not NO_SEQ, reason="this machine has an ALSA sequencer")
def test_machine_without_midi_starts_with_one_line(caplog):
    with caplog.at_level(logging.INFO, logger="latentsketch.midi"):
        ins = MidiInputs()
        assert ins.start() is False
        assert ins.poll() == []
    (rec,) = caplog.records
    assert "MIDI unavailable" in rec.getMessage() and "\n" not in rec.getMessage()
    with pytest.raises(MidiUnavailable) as e:
        list_inputs()
    assert "\n" not in str(e.value)


def test_backend_errors_at_start_become_one_line(caplog):
    class Dead:
        def get_input_names(self):
            raise RuntimeError("MidiInAlsa::initialize: error creating ALSA client.\nmore")

    with caplog.at_level(logging.WARNING, logger="latentsketch.midi"):
        assert MidiInputs(backend=Dead()).start() is False
    assert caplog.records[0].getMessage().count("\n") == 0
    with pytest.raises(MidiUnavailable):
        list_inputs(Dead())


def test_device_back_under_a_new_alsa_client_number_is_found_by_its_full_old_name(caplog):
    """``--midi`` gave the full name with its ALSA client:port (``20:0``); unplugged and back,
    ALSA calls it ``24:0``: it is the same device."""
    old, new = ("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0")
    backend = FakeBackend(["Midi Through:Midi Through Port-0 14:0", old])
    clock = Clock()
    ins = MidiInputs(old, backend=backend, clock=clock, rescan=2.0)
    with caplog.at_level(logging.INFO, logger="latentsketch.midi"):
        assert ins.start() and ins.connected[0] == old
        backend.names.remove(old)
        clock.t = 2.5
        ins.poll()
        assert ins.connected == (VIRTUAL_NAME,)
        backend.names.append(new)
        clock.t = 5.0
        ins.poll()
    assert ins.connected == (new, VIRTUAL_NAME)
    backend.ports[new].pending.append(mido.Message("control_change", control=0, value=9))
    assert [m.value for m in ins.poll()] == [9]
    ins.close()


def test_an_exact_name_wins_over_a_twin_and_numbers_alone_still_match():
    twins = ["nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0", "nanoKONTROL2:nanoKONTROL2 MIDI 1 24:0"]
    ins = MidiInputs(twins[1], backend=FakeBackend(list(twins)), virtual=False)
    assert ins.start() and ins.connected == (twins[1],)
    other = MidiInputs("Launch Control", backend=FakeBackend(twins), virtual=False)
    assert other.start() and other.connected == ()  # a different device is not matched
    by_number = MidiInputs("24:0", backend=FakeBackend(list(twins)), virtual=False)
    assert by_number.start() and by_number.connected == (twins[1],)


def test_device_name_drops_only_the_numbers_the_os_assigns():
    assert device_name("nanoKONTROL2:nanoKONTROL2 MIDI 1 20:0") == \
        "nanoKONTROL2:nanoKONTROL2 MIDI 1"
    assert device_name("Launch Control XL") == "Launch Control XL"
    assert device_name("nanoKONTROL2 MIDI 1", platform="linux") == "nanoKONTROL2 MIDI 1"
    # Windows MM appends the port's index, which changes when devices are replugged
    assert device_name("nanoKONTROL2 3", platform="win32") == "nanoKONTROL2"
