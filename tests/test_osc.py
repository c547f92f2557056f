"""OSC in over real UDP on 127.0.0.1: documented addresses -> commands, bundles, rejections."""

from __future__ import annotations

import logging
import socket
import struct
import time

import numpy as np
import pytest
from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch.commands import (
    LoadPreset,
    NewTarget,
    RecallSlot,
    Record,
    ReleaseDim,
    Reset,
    SetDim,
    SetParam,
    SetPause,
    SetVector,
    Snapshot,
    StoreSlot,
)
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.osc import (
    OscInput,
    OscReceiver,
    OscUnavailable,
    parse_datagram,
)
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.mapping import ControlMapping
from latentsketch.params import PARAMS

DIM = 16


def msg(address: str, *args: object, tags: str | None = None) -> bytes:
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, tags[i] if tags else None)
    return b.build().dgram


def bundle(*parts: bytes, timetag: float = 0.0) -> bytes:
    """A bundle (time tag ``timetag`` seconds from now, 0 = immediately) holding raw parts."""
    head = b"#bundle\x00" + (struct.pack(">Q", 1) if timetag == 0 else
                             struct.pack(">II", int(time.time() + 2208988800 + timetag), 0))
    return head + b"".join(struct.pack(">i", len(p)) + p for p in parts)


@pytest.fixture
def rx():
    r = OscReceiver("127.0.0.1", 0).start()
    yield r
    r.stop()


@pytest.fixture
def tx():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    yield s
    s.close()


def receive(r: OscReceiver, n: int, timeout: float = 3.0) -> list[OscInput]:
    got: list[OscInput] = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += r.drain()
        time.sleep(0.002)
    return got


def roundtrip(rx: OscReceiver, tx: socket.socket, datagrams: list[bytes], expect: int,
              tr: OscTranslator | None = None) -> list:
    for d in datagrams:
        tx.sendto(d, ("127.0.0.1", rx.port))
    got = receive(rx, expect)
    assert len(got) == expect
    return (tr or OscTranslator(DIM)).translate_all(got)


def test_documented_addresses_produce_commands(rx, tx):
    cases = [
        (msg("/latentsketch/z/3", 1.5), SetDim(3, 1.5)),
        (msg("/latentsketch/z/3", -2, tags="i"), SetDim(3, -2.0)),
        (msg("/latentsketch/z/15/release"), ReleaseDim(15)),
        (msg("/latentsketch/z/release"), ReleaseDim(None)),
        (msg("/latentsketch/z", 0.5, -1.0, 2.0), SetVector((0.5, -1.0, 2.0))),
        (msg("/latentsketch/z", [0.25, -0.5]), SetVector((0.25, -0.5))),  # one OSC array
        (msg("/latentsketch/walk/mode", "orbit"), SetParam("walk.mode", 2.0)),
        (msg("/latentsketch/walk/mode", 3, tags="i"), SetParam("walk.mode", 3.0)),
        (msg("/latentsketch/walk/mode", 1.0, tags="f"), SetParam("walk.mode", 1.0)),
        (msg("/latentsketch/walk/speed", 2.5), SetParam("walk.speed", 2.5)),
        (msg("/latentsketch/walk/speed", 2, tags="i"), SetParam("walk.speed", 2.0)),
        (msg("/latentsketch/walk/speed", 3.25, tags="d"), SetParam("walk.speed", 3.25)),
        (msg("/latentsketch/walk/speed", True, tags="T"), SetParam("walk.speed", 1.0)),
        (msg("/latentsketch/walk/temperature", 0.5), SetParam("walk.temperature", 0.5)),
        (msg("/latentsketch/walk/next"), NewTarget()),
        (msg("/latentsketch/walk/reset"), Reset()),
        (msg("/latentsketch/pause", 1, tags="i"), SetPause(True)),
        (msg("/latentsketch/pause", 0.0), SetPause(False)),
        (msg("/latentsketch/blackout", 1, tags="i"), SetParam("look.blackout", 1.0)),
        (msg("/latentsketch/slot/recall", 3, tags="i"), RecallSlot(3)),
        (msg("/latentsketch/slot/store", 2.0), StoreSlot(2)),
        (msg("/latentsketch/record", 1, tags="i"), Record(True)),
        (msg("/latentsketch/record", False, tags="F"), Record(False)),
        (msg("/latentsketch/snapshot"), Snapshot()),
        (msg("/latentsketch/preset", "gallery"), LoadPreset("gallery")),
        (msg("/latentsketch/preset", "live set 2.toml"), LoadPreset("live set 2")),
    ]
    cmds = roundtrip(rx, tx, [d for d, _ in cases], len(cases))
    assert cmds == [c for _, c in cases]


def test_every_declared_parameter_has_its_address(rx, tx):
    datagrams = [msg(p.osc_address, float(p.hi), tags="d") for p in PARAMS]
    datagrams += [msg(p.osc_address, float(p.lo), tags="f") for p in PARAMS]
    cmds = roundtrip(rx, tx, datagrams, 2 * len(PARAMS))
    assert cmds == [SetParam(p.name, float(p.hi)) for p in PARAMS] + [
        SetParam(p.name, float(p.lo)) for p in PARAMS]


def test_float32_range_ends_are_accepted():
    tr = OscTranslator(DIM)
    above = float(np.nextafter(np.float32(0.95), np.float32(1)))  # float32 just above 0.95
    assert tr.translate(OscInput("/latentsketch/look/trails", (above,), 0.0)) == [
        SetParam("look.trails", 0.95)]
    assert tr.translate(OscInput("/latentsketch/look/trails", (0.96,), 0.0)) == []


def test_bundles_nested_and_future_time_tags_apply_now_in_order(rx, tx):
    inner = bundle(msg("/latentsketch/z/1", 1.0), msg("/latentsketch/z/2", 2.0), timetag=3600)
    outer = bundle(msg("/latentsketch/walk/speed", 4.0), inner, msg("/latentsketch/z/0", 0.5),
                   timetag=60)
    t0 = time.monotonic()
    cmds = roundtrip(rx, tx, [outer], 4)
    assert time.monotonic() - t0 < 1.0  # a future time tag does not delay anything
    assert cmds == [SetParam("walk.speed", 4.0), SetDim(1, 1.0), SetDim(2, 2.0), SetDim(0, 0.5)]


def test_received_messages_are_immutable_and_carry_sender(rx, tx):
    tx.sendto(msg("/latentsketch/z", 1.0, 2.0), ("127.0.0.1", rx.port))
    (m,) = receive(rx, 1)
    assert m.args == (1.0, 2.0) and isinstance(m.args, tuple)
    assert m.sender == f"127.0.0.1:{tx.getsockname()[1]}"
    assert abs(m.received - time.monotonic()) < 2.0
    with pytest.raises(AttributeError):
        m.address = "/x"  # type: ignore[misc]


@pytest.mark.parametrize("datagram, reason", [
    (msg("/latentsketch/pause"), "missing"),                         # never a toggle
    (msg("/latentsketch/record"), "missing"),
    (msg("/latentsketch/walk/speed"), "missing"),
    (msg("/latentsketch/walk/speed", 11.0), "range"),
    (msg("/latentsketch/walk/speed", -0.5), "range"),
    (msg("/latentsketch/walk/speed", float("nan")), "nonfinite"),
    (msg("/latentsketch/walk/speed", float("inf")), "nonfinite"),
    (msg("/latentsketch/walk/speed", "fast"), "type"),
    (msg("/latentsketch/walk/speed", 1.0, 2.0), "arity"),
    (msg("/latentsketch/walk/speed", b"\x00\x01", tags="b"), "type"),
    (msg("/latentsketch/walk/mode", "zigzag"), "range"),
    (msg("/latentsketch/walk/mode", 99, tags="i"), "range"),
    (msg("/latentsketch/z/16", 1.0), "range"),                       # DIM = 16
    (msg("/latentsketch/z/3", 7.0), "range"),                        # beyond Z_LIMIT
    (msg("/latentsketch/z/3", float("-inf")), "nonfinite"),
    (msg("/latentsketch/z/-1", 1.0), "unknown"),
    (msg("/latentsketch/z/3/pin", 1.0), "unknown"),
    (msg("/latentsketch/z", *([0.0] * 17)), "arity"),
    (msg("/latentsketch/z", 0.0, float("nan")), "nonfinite"),
    (msg("/latentsketch/z"), "missing"),
    (msg("/latentsketch/slot/recall", 0, tags="i"), "range"),
    (msg("/latentsketch/slot/recall", 10, tags="i"), "range"),
    (msg("/latentsketch/slot/store", 2.5), "range"),
    (msg("/latentsketch/preset", "../../etc/passwd"), "range"),
    (msg("/latentsketch/preset", "sub/dir"), "range"),
    (msg("/latentsketch/preset", ".hidden"), "range"),
    (msg("/latentsketch/preset", 3, tags="i"), "type"),
    (msg("/latentsketch/nonsense", 1.0), "unknown"),
    (msg("/knob1", 0.5), "unknown"),
])
def test_invalid_messages_are_ignored_and_counted(rx, tx, datagram, reason, caplog):
    tr = OscTranslator(DIM)
    with caplog.at_level(logging.WARNING, logger="latentsketch.osc"):
        assert roundtrip(rx, tx, [datagram], 1, tr) == []
    assert tr.dropped.by_reason == {reason: 1}
    (line,) = [r.getMessage() for r in caplog.records]
    address = OscInput(*parse_datagram(datagram)[0], 0.0).address
    assert address in line and "127.0.0.1:" in line and "\n" not in line


def test_triggers_fire_on_no_argument_or_rising_edge():
    tr = OscTranslator(DIM)

    def send(*args: object) -> list:
        return tr.translate(OscInput("/latentsketch/snapshot", args, 0.0))

    assert send() == [Snapshot()] and send() == [Snapshot()]
    fired = [bool(send(v)) for v in (1.0, 1.0, 1.0, 0.0, 0.7, 0.2, 0.9)]
    assert fired == [True, False, False, False, True, False, True]
    release = [bool(tr.translate(OscInput("/latentsketch/z/2/release", (v,), 0.0)))
               for v in (1, 1, 0, 1)]
    assert release == [True, False, False, True]


def test_drops_are_logged_at_a_bounded_rate(caplog):
    tr = OscTranslator(DIM)
    with caplog.at_level(logging.WARNING, logger="latentsketch.osc"):
        for _ in range(500):
            tr.translate(OscInput("/latentsketch/walk/speed", (99.0,), 0.0, "10.0.0.9:7000"))
    assert tr.dropped.total == 500
    assert 1 <= len(caplog.records) <= 2
    assert "/latentsketch/walk/speed" in caplog.records[0].getMessage()
    assert "10.0.0.9:7000" in caplog.records[0].getMessage()


def test_mapped_addresses_go_to_the_mapper(rx, tx):
    mapper = MappingRuntime([ControlMapping("z/1", osc="/chan1"),
                             ControlMapping("walk.speed", osc="/xy", arg=1)], DIM)
    tr = OscTranslator(DIM, mapper=mapper)
    assert roundtrip(rx, tx, [msg("/chan1", 1.0), msg("/xy", 0.0, 0.5)], 2, tr) == []
    assert mapper.update(0.016, {}) == [SetDim(1, 3.0), SetParam("walk.speed", 5.0)]
    assert tr.dropped.total == 0


def test_busy_port_gives_one_clear_line(rx):
    second = OscReceiver("127.0.0.1", rx.port)
    with pytest.raises(OscUnavailable) as e:
        second.start()
    text = str(e.value)
    assert "\n" not in text and str(rx.port) in text and "in use" in text and "--osc-port" in text
    assert rx.running


def test_bad_host_gives_one_clear_line():
    with pytest.raises(OscUnavailable) as e:
        OscReceiver("no-such-host.invalid", 0).start()
    assert "no-such-host.invalid" in str(e.value) and "\n" not in str(e.value)


def test_large_receive_buffer_and_64k_datagrams(rx, tx):
    assert rx.rcvbuf >= 200_000  # the kernel may cap the 4 MiB we ask for (rmem_max)
    blob = bytes(60_000)
    cmds = roundtrip(rx, tx, [msg("/latentsketch/z", 1.0), msg("/big", blob, tags="b")], 2)
    assert cmds == [SetVector((1.0,))]


def test_stop_joins_quickly_and_frees_the_port():
    r = OscReceiver("127.0.0.1", 0).start()
    port = r.port
    assert r.start() is r and r.port == port  # starting twice is harmless
    t0 = time.monotonic()
    r.stop()
    assert time.monotonic() - t0 < 1.0 and not r.running
    with OscReceiver("127.0.0.1", port) as again:
        assert again.running


def test_backlog_is_bounded(tx):
    r = OscReceiver("127.0.0.1", 0, max_pending=50).start()
    try:
        for _ in range(200):
            tx.sendto(msg("/latentsketch/z/0", 0.0), ("127.0.0.1", r.port))
        end = time.monotonic() + 3
        while r.datagrams < 200 and time.monotonic() < end:
            time.sleep(0.005)
        assert len(r.drain()) == 50 and r.dropped.by_reason["backlog"] == 150
    finally:
        r.stop()


def test_float32_arguments_arrive_as_the_decimals_that_were_sent(rx, tx):
    """TouchDesigner sends 0.7 as float32 (0.699999988...): it reaches commands, presets and
    logs as 0.7; doubles and ints pass unchanged."""
    tx.sendto(msg("/latentsketch/walk/speed", 0.7, tags="f"), ("127.0.0.1", rx.port))
    tx.sendto(msg("/x", 0.1, 1e-3, 3, 0.1, tags="fdif"), ("127.0.0.1", rx.port))
    got = receive(rx, 2)
    assert [m.args for m in got] == [(0.7,), (0.1, 1e-3, 3, 0.1)]
    assert float(np.float32(got[1].args[3])) == float(np.float32(0.1))   # the same float32
