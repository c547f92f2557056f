"""10,000 malformed or hostile datagrams over real UDP: the receiver survives, nothing non-finite
reaches a command, every drop is counted, the log stays short, and valid traffic still works."""

from __future__ import annotations

import logging
import math
import random
import socket
import struct
import time
from dataclasses import fields

from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch.commands import Command, SetParam
from latentsketch.control.mapping_runtime import MappingRuntime
from latentsketch.control.osc import OscReceiver, parse_datagram
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.mapping import ControlMapping

DIM = 16
N = 10_000


def msg(address: str, *args: object, tags: str = "") -> bytes:
    b = OscMessageBuilder(address)
    for i, a in enumerate(args):
        b.add_arg(a, tags[i] if tags else None)
    return b.build().dgram


def pad(b: bytes) -> bytes:
    b += b"\x00"
    return b + b"\x00" * (-len(b) % 4)


def nested(depth: int, core: bytes) -> bytes:
    for _ in range(depth):
        core = b"#bundle\x00" + struct.pack(">Q", 1) + struct.pack(">i", len(core)) + core
    return core


def hostile(rng: random.Random) -> bytes:
    """One bad datagram, chosen from many kinds of bad."""
    kind = rng.randrange(14)
    valid_addresses = ["/latentsketch/z/0", "/latentsketch/walk/speed", "/latentsketch/z",
                       "/latentsketch/pause", "/latentsketch/snapshot", "/chan1"]
    address = rng.choice(valid_addresses)
    if kind == 0:
        return rng.randbytes(rng.randrange(1, 600))
    if kind == 1:  # random bytes after a valid-looking address
        return pad(address.encode()) + rng.randbytes(rng.randrange(0, 64))
    if kind == 2:  # unknown / nonsense type tags
        tags = "".join(rng.choice("xyzcSIq[]][ifs") for _ in range(rng.randrange(1, 40)))
        return pad(address.encode()) + pad(("," + tags).encode()) + rng.randbytes(16)
    if kind == 3:  # NaN / inf as float and double
        v = rng.choice([math.nan, math.inf, -math.inf])
        return msg(address, v, tags=rng.choice("fd"))
    if kind == 4:  # many NaN/inf in a vector
        values = [rng.choice([math.nan, math.inf, 1e300, 0.5]) for _ in range(rng.randrange(1, 20))]
        return msg("/latentsketch/z", *values, tags="d" * len(values))
    if kind == 5:  # huge blob
        return msg(address, rng.randbytes(rng.randrange(10_000, 60_000)), tags="b")
    if kind == 6:  # non-UTF-8 address
        return pad(b"/latent\xff\xfe" + rng.randbytes(4).replace(b"\x00", b"\x01")) + pad(b",f") \
            + struct.pack(">f", 1.0)
    if kind == 7:  # blob claiming more bytes than there are
        return pad(address.encode()) + pad(b",b") + struct.pack(">i", rng.randrange(1, 2**31))
    if kind == 8:  # deep bundle nesting (recursion bombs)
        return nested(rng.randrange(9, 2000), msg(address, 1.0))
    if kind == 9:  # bundle element sizes that lie
        return b"#bundle\x00" + bytes(8) + struct.pack(">i", rng.choice([-4, 0, 7, 10**6])) + \
            msg(address, 1.0)
    if kind == 10:  # wrong argument types and arities on valid addresses
        return msg(address, *rng.choice([("x",), (1.0, 2.0, 3.0), (b"ab",), (None,), ()]))
    if kind == 11:  # out-of-range numbers and extreme ints
        if rng.random() < 0.5:
            return msg(address, rng.choice([2**31 - 1, -2**31, 2**63 - 1]), tags="h")
        return msg(address, rng.choice([3.4e38, -3.4e38, 99.0, 1e-45]), tags="f")
    if kind == 12:  # control characters and spaces in addresses, unterminated strings
        return rng.choice([b"/late\x01nt\x00\x00\x00\x00", b"/a b\x00,f\x00\x00\x00\x00\x00\x00",
                           b"/latentsketch/z/0", b"/x\x00\x00,fff", b"\x00\x00\x00\x00"])
    return msg("/latentsketch/preset", rng.choice(["../../x", "a/b", "..", "\\x", "x" * 300]))


def finite(cmd: Command) -> bool:
    for f in fields(cmd):
        v = getattr(cmd, f.name)
        values = v if isinstance(v, tuple) else (v,)
        if any(isinstance(x, float) and not math.isfinite(x) for x in values):
            return False
    return True


def test_hostile_datagrams_leave_receiver_running_and_commands_finite(caplog):
    rng = random.Random(1234)
    mapper = MappingRuntime([ControlMapping("z/2", osc="/chan1")], DIM)
    tr = OscTranslator(DIM, mapper=mapper)
    rx = OscReceiver("127.0.0.1", 0).start()
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    commands: list[Command] = []
    valid_sent = 0
    try:
        with caplog.at_level(logging.WARNING):
            sent = 0
            t0 = time.monotonic()
            while sent < N:
                for _ in range(250):  # pace in batches so the loopback never overflows
                    if sent % 100 == 0:
                        tx.sendto(msg("/latentsketch/walk/speed", 2.0), ("127.0.0.1", rx.port))
                        valid_sent += 1
                    tx.sendto(hostile(rng), ("127.0.0.1", rx.port))
                    sent += 1
                end = time.monotonic() + 5
                while rx.datagrams < sent + valid_sent and time.monotonic() < end:
                    time.sleep(0.002)
                commands += tr.translate_all(rx.drain())
                commands += mapper.update(1 / 60)
            elapsed = time.monotonic() - t0
            assert rx.running
            assert rx.datagrams == N + valid_sent  # nothing lost, nothing stuck
            # the receiver still works after the storm
            tx.sendto(msg("/latentsketch/z/1", 0.25), ("127.0.0.1", rx.port))
            end = time.monotonic() + 3
            last: list = []
            while not last and time.monotonic() < end:
                last = tr.translate_all(rx.drain())
                time.sleep(0.002)
    finally:
        rx.stop()
        tx.close()
    assert [repr(c) for c in last] == ["SetDim(index=1, value=0.25)"]
    assert all(finite(c) for c in commands)
    assert commands.count(SetParam("walk.speed", 2.0)) == valid_sent
    assert rx.dropped.total > 0 and tr.dropped.total > 0
    assert rx.dropped.by_reason.keys() <= {"malformed"}
    assert rx.dropped.total + rx.messages >= N  # every datagram counted one way or the other
    # a bounded log: one line per 2 s per drop counter, not one per datagram
    assert len(caplog.records) <= 3 * (elapsed / 2 + 1) + 2
    assert elapsed < 20


def test_parser_rejects_recursion_bombs_quickly():
    bomb = nested(3000, msg("/latentsketch/z/0", 1.0))
    assert len(bomb) > 60_000
    t0 = time.perf_counter()
    try:
        parse_datagram(bomb)
        raise AssertionError("a 3000-deep bundle must be refused")
    except ValueError as e:
        assert "nested" in str(e)
    assert time.perf_counter() - t0 < 0.05
    assert parse_datagram(nested(3, msg("/a", 1.0))) == [("/a", (1.0,))]
