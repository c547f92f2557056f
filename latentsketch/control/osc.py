"""OSC receiver: a background thread on a plain UDP socket, handing messages to the loop.

python-osc's own servers lose bursts (small receive buffer), sleep on future time tags and truncate
datagrams at 8 KiB (see FACTS.md), so the receiver owns its socket: a 4 MiB receive buffer, 64 KiB
datagrams, time tags ignored. Messages are parsed with python-osc's ``OscMessage``; bundles are
walked here rather than by ``OscPacket``, because ``OscPacket`` recurses without limit (a 64 KiB
datagram of nested bundles raises RecursionError), reorders a bundle's messages by time tag, and
logs one warning per unknown type tag (a flood on the root logger). Parsed messages become
immutable ``OscInput`` values on a ``queue.SimpleQueue`` that the render loop drains each frame.
"""

from __future__ import annotations

import errno
import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass
from queue import Empty, SimpleQueue
from typing import Any

import numpy as np
from pythonosc.osc_message import OscMessage

from latentsketch.control.droplog import DropLog
from latentsketch.errors import UserError

DEFAULT_HOST = "127.0.0.1"
"""Loopback only by default: listening on other interfaces is something a user opts in to."""
DEFAULT_PORT = 9000
"""The conventional OSC port of controller apps; TouchDesigner has none of its own."""
RCVBUF = 4 * 1024 * 1024
MAX_DATAGRAM = 65536
MAX_PENDING = 100_000
"""Messages waiting for the loop beyond this are dropped (and counted) instead of growing memory."""
MAX_BUNDLE_DEPTH = 8
MAX_ADDRESS = 256
_TYPE_TAGS = frozenset("ihfdsbrmtTFN[]")
_BUNDLE = b"#bundle\x00"
_POLL = 0.1  # seconds between checks of the stop flag

log = logging.getLogger("latentsketch.osc")


class OscUnavailable(UserError):
    """OSC cannot be used (port busy, bad host); the message is one line for the user."""


class MalformedOsc(ValueError):
    """A datagram that is not valid OSC; the message says why in a few words."""


@dataclass(frozen=True, slots=True)
class OscInput:
    """One received OSC message: address, arguments, arrival time (``time.monotonic``), sender."""

    address: str
    args: tuple[Any, ...]
    received: float
    sender: str = ""


_F32_MAX = float(np.finfo(np.float32).max)


def _freeze(value: Any) -> Any:
    """Lists become tuples (messages are immutable), and a float that is a float32 (an OSC
    ``f`` argument, what TouchDesigner and most bridges send) becomes the shortest decimal
    that is that float32: ``0.7`` arrives as 0.699999988079071, which would otherwise reach
    presets and logs as that. The change is below float32's resolution."""
    if isinstance(value, list):
        return tuple(_freeze(v) for v in value)
    if (type(value) is float and abs(value) <= _F32_MAX  # inf, nan and big doubles pass as they are
            and float(np.float32(value)) == value):
        return float(str(np.float32(value)))
    return value


def parse_message(data: bytes) -> tuple[str, tuple[Any, ...]]:
    """Parse one OSC message; raises MalformedOsc.

    An address without its leading ``/`` gets one: TouchDesigner channel names may or may not start
    with a slash, and the intent is unambiguous.
    """
    end = data.find(b"\x00")
    if end <= 0:
        raise MalformedOsc("no address")
    if end > MAX_ADDRESS:
        raise MalformedOsc(f"address longer than {MAX_ADDRESS} bytes")
    try:
        address = data[:end].decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedOsc(f"address is not UTF-8: {data[:min(end, 40)]!r}") from None
    if not address.isprintable() or " " in address:
        raise MalformedOsc(f"address has spaces or control characters: {address[:40]!r}")
    start = (end // 4 + 1) * 4
    if start < len(data):
        if data[start:start + 1] != b",":
            raise MalformedOsc(f"{address}: type tags do not start with ','")
        tag_end = data.find(b"\x00", start)
        if tag_end < 0:
            raise MalformedOsc(f"{address}: unterminated type tags")
        try:
            tags = data[start + 1:tag_end].decode("ascii")
        except UnicodeDecodeError:
            raise MalformedOsc(f"{address}: type tags are not ASCII") from None
        bad = set(tags) - _TYPE_TAGS
        if bad:
            raise MalformedOsc(f"{address}: unsupported type tag {''.join(sorted(bad))[:8]!r}")
    try:
        params = OscMessage(data).params
    except Exception as e:  # python-osc raises ParseError, but also IndexError/struct/overflow
        raise MalformedOsc(f"{address}: {str(e)[:80] or type(e).__name__}") from None
    if not address.startswith("/"):
        address = "/" + address
    return address, tuple(_freeze(p) for p in params)


def parse_datagram(data: bytes, depth: int = 0) -> list[tuple[str, tuple[Any, ...]]]:
    """Parse a message or a (nested) bundle into ``(address, args)`` pairs in datagram order.

    Time tags are ignored: a live instrument applies what arrives now. Raises MalformedOsc.
    """
    if not data.startswith(_BUNDLE):
        return [parse_message(data)]
    if depth >= MAX_BUNDLE_DEPTH:
        raise MalformedOsc(f"bundles nested deeper than {MAX_BUNDLE_DEPTH}")
    if len(data) < 16:
        raise MalformedOsc("bundle without time tag")
    out: list[tuple[str, tuple[Any, ...]]] = []
    i = 16
    while i < len(data):
        if i + 4 > len(data):
            raise MalformedOsc("truncated bundle element size")
        (size,) = struct.unpack_from(">i", data, i)
        i += 4
        if size <= 0 or i + size > len(data):
            raise MalformedOsc(f"bundle element size {size} does not fit the datagram")
        out.extend(parse_datagram(data[i:i + size], depth + 1))
        i += size
    return out


class OscReceiver:
    """Receive OSC on ``host:port`` in a daemon thread; the loop calls ``drain()`` each frame.

    ``start()`` binds (raising OscUnavailable with one clear line if the port is busy) and starts
    the thread; ``stop()`` joins it and closes the socket. Port 0 binds a free port (tests).
    """

    def __init__(
        self,
        host: str = DEFAULT_HOST,
        port: int = DEFAULT_PORT,
        *,
        rcvbuf: int = RCVBUF,
        max_pending: int = MAX_PENDING,
        logger: logging.Logger = log,
    ) -> None:
        self.host = host
        self.port = port
        self.rcvbuf_requested = rcvbuf
        self.rcvbuf = 0
        self.max_pending = max_pending
        self.queue: SimpleQueue[OscInput] = SimpleQueue()
        self.datagrams = 0
        self.messages = 0
        self.dropped = DropLog(logger, "OSC in")
        self._log = logger
        self._sock: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def start(self) -> OscReceiver:
        """Bind and start receiving; raises OscUnavailable (one line) when that is impossible."""
        if self.running:
            return self
        where = f"{self.host}:{self.port}"
        try:
            infos = socket.getaddrinfo(self.host, self.port, type=socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError, OverflowError) as e:
            raise OscUnavailable(f"OSC: cannot listen on {where}: {e}") from None
        family, _, _, _, sockaddr = infos[0]
        sock = socket.socket(family, socket.SOCK_DGRAM)
        try:
            if hasattr(socket, "SO_EXCLUSIVEADDRUSE"):  # Windows: refuse shared binds
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_EXCLUSIVEADDRUSE, 1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf_requested)
            sock.bind(sockaddr)
        except OSError as e:
            sock.close()
            if e.errno in (errno.EADDRINUSE, errno.EACCES, 10048):
                raise OscUnavailable(
                    f"OSC port {self.port} on {self.host} is already in use (another latentsketch "
                    "or OSC program?): pick another with --osc-port, or run without OSC (--no-osc)"
                ) from None
            raise OscUnavailable(f"OSC: cannot listen on {where}: {e.strerror or e}") from None
        sock.settimeout(_POLL)
        self.rcvbuf = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
        if self.rcvbuf < self.rcvbuf_requested:
            self._log.info(
                "OSC receive buffer is %d KiB (asked for %d KiB; raise net.core.rmem_max to absorb "
                "bigger bursts)", self.rcvbuf // 1024, self.rcvbuf_requested // 1024)
        self.port = sock.getsockname()[1]
        self._sock = sock
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="osc-receiver", daemon=True)
        self._thread.start()
        return self

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drain(self, limit: int | None = None) -> list[OscInput]:
        """Everything received since the last call (at most ``limit`` messages), oldest first."""
        out: list[OscInput] = []
        get = self.queue.get_nowait
        while limit is None or len(out) < limit:
            try:
                out.append(get())
            except Empty:
                break
        return out

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> OscReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        sock = self._sock
        assert sock is not None
        while not self._stop.is_set():
            try:
                data, addr = sock.recvfrom(MAX_DATAGRAM)
            except TimeoutError:
                continue
            except OSError as e:
                if self._stop.is_set():
                    break
                self.dropped.drop("socket", "receive error: %s", e)
                time.sleep(_POLL)  # e.g. ICMP errors surfacing on some platforms; don't spin
                continue
            try:
                self._handle(data, addr)
            except Exception as e:  # the receiver must outlive any datagram
                self.dropped.drop("internal", "datagram from %s: %s", addr, e)

    def _handle(self, data: bytes, addr: Any) -> None:
        now = time.monotonic()
        self.datagrams += 1
        sender = f"{addr[0]}:{addr[1]}"
        try:
            messages = parse_datagram(data)
        except MalformedOsc as e:
            self.dropped.drop("malformed", "malformed datagram from %s (%d bytes): %s",
                              sender, len(data), e)
            return
        for address, args in messages:
            if self.queue.qsize() >= self.max_pending:
                self.dropped.drop("backlog", "%s from %s: the loop is %d messages behind",
                                  address, sender, self.max_pending)
                continue
            self.queue.put(OscInput(address, args, now, sender))
            self.messages += 1
