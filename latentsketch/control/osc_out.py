"""OSC feedback: the program's state sent on the input address names, at up to 30 Hz.

So a TouchDesigner network, a tablet layout or a controller's motor faders can follow what the
instrument does: ``/latentsketch/z/<i>`` for the top dimensions (KL-rank order, std units), every
declared parameter on its own address at the precision the HUD shows (``/latentsketch/walk/mode``
as its index), every switch action (``pause``, ``record``, ``blackout``), ``preset`` and
``/latentsketch/fps``, and the directions: ``/latentsketch/pc/<i>`` for the top principal
directions (where the picture is along each, in std of the data's projection: what a fader
that pins it should show) and ``/latentsketch/dir/<name>`` for each attribute direction's
offset. Only changed values go out, plus everything once
a second for receivers that join late. It takes a small ``Feedback`` value rather than the engine
state, and never raises into the loop: send errors are counted and logged at a bounded rate.
"""

from __future__ import annotations

import logging
import math
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pythonosc.osc_message_builder import OscMessageBuilder

from latentsketch.actions import ACTIONS
from latentsketch.control.droplog import DropLog
from latentsketch.control.osc import OscUnavailable
from latentsketch.params import OSC_PREFIX as PREFIX
from latentsketch.params import PARAM_BY_NAME

RATE = 30.0
REFRESH = 1.0
TOP = 8

log = logging.getLogger("latentsketch.osc")


def parse_host_port(text: str, option: str = "--osc-out") -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError with one clear line."""
    hint = f"{option} {text!r}: expected HOST:PORT, e.g. 127.0.0.1:9001"
    host, sep, port = text.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(hint)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"{hint} (write IPv6 addresses as [::1]:9001)")
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"{option} {text!r}: port must be 1..65535")
    return host, int(port)


@dataclass(frozen=True)
class Feedback:
    """What the loop shows right now. ``z``: the top dimensions in KL-rank order (std units);
    ``params``: declared parameter values by name (``State.params`` fits)."""

    z: tuple[float, ...] = ()
    params: Mapping[str, float] = field(default_factory=dict)
    paused: bool = False
    recording: bool = False
    preset: str = ""
    fps: float = 0.0
    directions: tuple[tuple[str, float], ...] = ()   # (address tail: pc/0, dir/round; value)


def _encode(address: str, value: Any) -> bytes:
    b = OscMessageBuilder(address)
    if isinstance(value, str):
        b.add_arg(value, "s")
    elif isinstance(value, int):
        b.add_arg(value, "i")
    else:
        b.add_arg(float(value), "f")
    return b.build().dgram


class OscFeedback:
    """Sends ``Feedback`` to ``host:port``; call ``maybe_send`` every frame."""

    def __init__(self, host: str, port: int, *, rate: float = RATE, top: int = TOP,
                 refresh: float = REFRESH, logger: logging.Logger = log) -> None:
        try:
            info = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0]
        except (socket.gaierror, UnicodeError, OverflowError) as e:
            msg = f"--osc-out {host}:{port}: cannot resolve {host!r} ({e})"
            raise OscUnavailable(msg) from None
        self.target = info[4]
        self.period = 1.0 / rate
        self.top = top
        self.refresh = refresh
        self.sent = 0
        self.errors = DropLog(logger, f"OSC out to {host}:{port}")
        self._sock = socket.socket(info[0], socket.SOCK_DGRAM)
        self._sock.setblocking(False)
        self._last: dict[str, Any] = {}
        self._next = 0.0
        self._next_refresh = 0.0

    def values(self, fb: Feedback) -> dict[str, Any]:
        """Address -> value for a snapshot (non-finite values are left out, never sent)."""
        out: dict[str, Any] = {}
        for i, v in enumerate(fb.z[: self.top]):
            if math.isfinite(v):
                out[f"{PREFIX}/z/{i}"] = float(v)
        for name, v in fb.params.items():
            p = PARAM_BY_NAME.get(name)
            if p is not None and math.isfinite(v):
                out[p.osc_address] = p.rounded(v)  # what the HUD shows: no chatter below it
        states = {"pause": fb.paused, "record": fb.recording}
        for a in ACTIONS:
            if a.kind != "switch":
                continue
            on = fb.params.get(a.param) if a.param else states.get(a.name)
            if on is not None and math.isfinite(on):
                out[a.osc_address] = int(on > 0.5)
        for tail, v in fb.directions:
            if math.isfinite(v):
                out[f"{PREFIX}/{tail}"] = round(float(v), 3)
        out[f"{PREFIX}/preset"] = fb.preset
        if math.isfinite(fb.fps):
            out[f"{PREFIX}/fps"] = float(fb.fps)
        return out

    def maybe_send(self, fb: Feedback, now: float | None = None) -> int:
        """Send what changed if a send is due (at most ``rate`` per second); messages sent."""
        now = time.monotonic() if now is None else now
        if now < self._next:
            return 0
        self._next = now + self.period
        full = now >= self._next_refresh
        if full:
            self._next_refresh = now + self.refresh
        count = 0
        for address, value in self.values(fb).items():
            if not full and self._last.get(address) == value:
                continue
            try:
                self._sock.sendto(_encode(address, value), self.target)
            except OSError as e:  # unreachable network, full buffer, ICMP refusals...
                self.errors.drop("send", "%s: %s", address, e)
                continue
            self._last[address] = value
            count += 1
        self.sent += count
        return count

    def send(self, address: str, *values: Any) -> bool:
        """One message now, outside the rate (a heartbeat): ``values`` as str -> s, int -> i,
        else f; False (counted and logged at a bounded rate) when it could not be sent."""
        b = OscMessageBuilder(address)
        for v in values:
            if isinstance(v, str | int):
                b.add_arg(v, "s" if isinstance(v, str) else "i")
            else:
                b.add_arg(float(v), "f")
        try:
            self._sock.sendto(b.build().dgram, self.target)
        except OSError as e:
            self.errors.drop("send", "%s: %s", address, e)
            return False
        self.sent += 1
        return True

    def close(self) -> None:
        self._sock.close()
