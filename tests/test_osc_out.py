"""OSC feedback over real UDP: input address names, rate limit, changes only, no NaN, no raise."""

from __future__ import annotations

import time

import pytest

from latentsketch.commands import Record, SetDim, SetParam, SetPause
from latentsketch.control.osc import OscReceiver, OscUnavailable
from latentsketch.control.osc_addresses import OscTranslator
from latentsketch.control.osc_out import Feedback, OscFeedback, parse_host_port


@pytest.mark.parametrize("text, want", [
    ("127.0.0.1:9001", ("127.0.0.1", 9001)),
    ("localhost:7000", ("localhost", 7000)),
    ("[::1]:9001", ("::1", 9001)),
])
def test_parse_host_port(text, want):
    assert parse_host_port(text) == want


@pytest.mark.parametrize("text", ["9001", "host:", ":9001", "host:port", "host:70000", "::1:9001",
                                  "host:0"])
def test_parse_host_port_errors_are_one_clear_line(text):
    with pytest.raises(ValueError) as e:
        parse_host_port(text)
    assert "--osc-out" in str(e.value) and repr(text) in str(e.value) and "\n" not in str(e.value)


def collect(rx: OscReceiver, n: int, timeout: float = 3.0) -> list:
    got: list = []
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        got += rx.drain()
        time.sleep(0.002)
    return got


def test_state_goes_out_on_the_input_names_and_reads_back_as_commands():
    with OscReceiver("127.0.0.1", 0) as rx:
        out = OscFeedback("127.0.0.1", rx.port, top=3)
        fb = Feedback(z=(0.5, -1.25, 2.0, 9.0), params={"walk.mode": 2.0, "walk.speed": 1.5},
                      paused=True, recording=True, preset="gallery", fps=59.5)
        sent = out.maybe_send(fb, now=0.0)
        got = collect(rx, sent)
        out.close()
    by_address = {m.address: m.args for m in got}
    assert sent == len(got) == 9
    assert by_address["/latentsketch/fps"] == (59.5,)
    assert by_address["/latentsketch/preset"] == ("gallery",)
    assert "/latentsketch/z/3" not in by_address  # only the top 3
    # the feedback speaks the input language: sent back in, it means the same state
    tr = OscTranslator(8)
    cmds = tr.translate_all(m for m in got if m.address not in ("/latentsketch/fps",
                                                                 "/latentsketch/preset"))
    assert cmds == [SetDim(0, 0.5), SetDim(1, -1.25), SetDim(2, 2.0), SetParam("walk.mode", 2.0),
                    SetParam("walk.speed", 1.5), SetPause(True), Record(True)]


def test_rate_limit_changes_only_and_periodic_refresh():
    with OscReceiver("127.0.0.1", 0) as rx:
        out = OscFeedback("127.0.0.1", rx.port, rate=30, refresh=1.0)
        counts = []
        for i in range(120):  # one second of a 120 fps loop
            fb = Feedback(z=(i / 120,), params={"walk.speed": 1.0}, fps=120.0)
            counts.append(out.maybe_send(fb, now=i / 120))
        sends = [c for c in counts if c]
        assert len(sends) == 30  # 30 Hz, not 120
        assert sends[0] == 6 and set(sends[1:]) == {1}  # then only z/0 changes
        assert out.maybe_send(Feedback(z=(1.0,), params={"walk.speed": 1.0}, fps=120.0),
                              now=1.01) == 6  # a full refresh each second
        total = sum(counts) + 6
        assert len(collect(rx, total)) == total
        out.close()


def test_non_finite_values_are_never_sent():
    out = OscFeedback("127.0.0.1", 9)
    v = out.values(Feedback(z=(float("nan"), 1.0), params={"walk.speed": float("inf")},
                            fps=float("nan")))
    assert "/latentsketch/z/0" not in v and "/latentsketch/walk/speed" not in v
    assert "/latentsketch/fps" not in v and v["/latentsketch/z/1"] == 1.0
    out.close()


def test_send_errors_are_counted_not_raised():
    out = OscFeedback("255.255.255.255", 9001)  # broadcast without SO_BROADCAST: EACCES
    assert out.maybe_send(Feedback(z=(0.0,)), now=0.0) == 0
    assert out.errors.total > 0
    out.close()


def test_unresolvable_host_is_one_line():
    with pytest.raises(OscUnavailable) as e:
        OscFeedback("no-such-host.invalid", 9001)
    assert "--osc-out" in str(e.value) and "\n" not in str(e.value)
