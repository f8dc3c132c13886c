"""A serial port as a :class:`~emulator.transport.base.Bus`.

Ports are opened with ``serial.serial_for_url()`` (real ports, pty paths, ``socket://``,
``rfc2217://``, ``loop://``) and driven with pyserial-asyncio-fast. Frames are cut out of
the byte stream by a pluggable framing (:mod:`hil.framing`) whose decoder resynchronises
after garbage; optional link faults (:mod:`hil.faults`) are applied to what is sent and
what is received.

A serial line carries one conversation, so topics are derived from the frames: on the
*device* side (``hil serve``) every received frame is a command for the device its
header names (``gbcs/<site>/<recipient>/in``) and every response/alert published is
written to the line; on the *head-end* side (``hil drive``) received frames are
responses or alerts by their CRA flag (``.../<originator>/out|alert``) and published
commands are written. The emulator runtime and the head-end client then work over a
serial port unchanged.

The control API (``docs/control.md``) shares the line on the framings that carry control
frames (``gfi`` and ``binary``; :mod:`hil.framing`). A control frame holds one UTF-8 JSON
object ``{"site": <site id>, "eui": <16 hex digits>, "body": <JSON>}`` (and ``"seq"``, a
link sequence number, on a ``--reliable`` line; no other key). On the head-end side a
:class:`~emulator.transport.base.BusMessage` published on ``gbcs/<site>/<eui>/control``
is written as a control frame whose body is its JSON payload, and a control frame read
from the line is yielded as ``gbcs/<site>/<eui>/control/reply``; on the device side the
other way round (``hil serve --control``: the emulator answers). So
:class:`~emulator.control_client.ControlClient` works over a head-end-side bus as over
MQTT. A control frame that is not such an object is counted (``control_undecodable``)
and dropped; control frames are counted apart from GBCS frames (``control_in``,
``control_out``) and never reach the capture hook. :meth:`SerialBus.view` gives further
buses on the same line (a head-end and a control client each read their own messages).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import serial

from emulator.transport.base import Bus, BusError, BusMessage, Channel, topic_matches
from gbcs.envelope import Cra, decode_envelope
from gbcs.errors import GbcsDecodeError
from keys.certs import eui_hex

from .faults import LinkFaults
from .framing import ControlFrame, Framing

__all__ = ["LinkStats", "SerialBus", "SerialSettings", "control_wrapper"]

log = logging.getLogger("gbcs.hil")

DEVICE_SIDE = "device"
_DATA, _ACK = 0x01, 0x02
HEADEND_SIDE = "headend"


@dataclass(slots=True)
class SerialSettings:
    """Port settings handed to ``serial_for_url``."""

    baudrate: int = 115200
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    rtscts: bool = False
    xonxoff: bool = False
    # An advisory lock (flock) on the port: a second hil process on the same port fails
    # to open it ("Could not exclusively lock port") instead of sharing the bytes.
    exclusive: bool = True

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``serial_for_url``."""
        return {
            "baudrate": self.baudrate,
            "bytesize": self.bytesize,
            "parity": self.parity,
            "stopbits": self.stopbits,
            "rtscts": self.rtscts,
            "xonxoff": self.xonxoff,
            "exclusive": self.exclusive,
        }


@dataclass(slots=True)
class LinkStats:
    """What crossed the line (plus the decoder's own statistics)."""

    frames_in: int = 0
    frames_out: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    undecodable: int = 0  # framed correctly but not a GBCS message
    control_in: int = 0  # control frames received and delivered (not in frames_in)
    control_out: int = 0  # control frames written (not in frames_out)
    control_undecodable: int = 0  # control frames that were not a control JSON object
    extra: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The counters as a JSON-able dict."""
        return {
            "frames_in": self.frames_in,
            "frames_out": self.frames_out,
            "bytes_in": self.bytes_in,
            "bytes_out": self.bytes_out,
            "undecodable": self.undecodable,
            "control_in": self.control_in,
            "control_out": self.control_out,
            "control_undecodable": self.control_undecodable,
            **self.extra,
        }


_WRAPPER_KEYS = frozenset({"site", "eui", "body", "seq"})
_HEX = frozenset("0123456789ABCDEF")


def control_wrapper(payload: bytes) -> tuple[str, str, Any, int | None]:
    """(site, EUI, body, seq) of a control frame's payload; ``ValueError`` saying what is
    wrong when it is not ``{"site", "eui", "body"[, "seq"]}`` (see the module docstring)."""
    try:
        wrapper = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError("not UTF-8") from None
    except ValueError as e:
        raise ValueError(f"not JSON: {e}") from None
    if not isinstance(wrapper, dict):
        raise ValueError("not a JSON object")
    unknown = sorted(set(wrapper) - _WRAPPER_KEYS)
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}; allowed: body, eui, seq, site")
    missing = [k for k in ("site", "eui", "body") if k not in wrapper]
    if missing:
        raise ValueError(f"no {missing[0]!r}")
    site, eui, seq = wrapper["site"], wrapper["eui"], wrapper.get("seq")
    if not isinstance(site, str) or not site or any(c in site for c in "/+#\0"):
        raise ValueError(f"site {site!r} is not a site id (non-empty, without / + # or NUL)")
    if not isinstance(eui, str) or len(eui) != 16 or not set(eui.upper()) <= _HEX:
        raise ValueError(f"eui {eui!r} is not 16 hex digits")
    if seq is not None and (
        isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq <= 0xFFFF
    ):
        raise ValueError(f"seq {seq!r} is not 0..65535")
    return site, eui.upper(), wrapper["body"], seq


def _control_payload(message: BusMessage, seq: int | None = None) -> bytes:
    """The control frame's payload for ``message`` (its JSON payload wrapped)."""
    try:
        body = json.loads(message.frame.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise BusError(
            f"control payload on {message.topic} is not UTF-8 JSON ({e}); a serial control "
            "frame carries a JSON value"
        ) from None
    wrapper: dict[str, Any] = {"site": message.site, "eui": message.eui, "body": body}
    if seq is not None:
        wrapper["seq"] = seq
    return json.dumps(wrapper, separators=(",", ":")).encode()


def _wake(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


class _Protocol(asyncio.Protocol):
    def __init__(self, on_data: Callable[[bytes], None], on_lost: Callable[[], None]) -> None:
        self.on_data = on_data
        self.on_lost = on_lost

    def data_received(self, data: bytes) -> None:
        self.on_data(data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.on_lost()


class _LineView(Bus):
    """Another bus on a :class:`SerialBus`'s line: own subscriptions and messages,
    publishing through the line; closing it leaves the line open."""

    def __init__(self, line: SerialBus) -> None:
        self.line = line
        self._patterns: list[str] = []
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._closed = False

    async def start(self) -> None:
        if self._closed:
            raise BusError(f"this view of serial link {self.line.url} was closed")
        await self.line.start()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with contextlib.suppress(ValueError):
            self.line._views.remove(self)
        self._queue.put_nowait(None)

    async def subscribe(self, pattern: str) -> None:
        self._patterns.append(pattern)

    async def publish(self, message: BusMessage) -> None:
        if self._closed:
            raise BusError(f"this view of serial link {self.line.url} was closed")
        await self.line.publish(message)

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        while True:
            m = await self._queue.get()
            if m is None:
                return
            yield m

    def offer(self, message: BusMessage) -> None:
        if any(topic_matches(p, message.topic) for p in self._patterns):
            self._queue.put_nowait(message)

    def end(self) -> None:
        self._queue.put_nowait(None)


class SerialBus(Bus):
    """One serial line, framed, as a bus (see the module docstring)."""

    def __init__(
        self,
        url: str,
        framing: Framing,
        *,
        side: str = DEVICE_SIDE,
        site: str | Callable[[bytes], str | None] = "site-0",
        settings: SerialSettings | None = None,
        faults_out: LinkFaults | None = None,
        faults_in: LinkFaults | None = None,
        on_frame: Callable[[str, bytes], None] | None = None,
        reliable: bool = False,
        ack_timeout: float = 0.02,
        max_tries: int = 500,
    ) -> None:
        if side not in (DEVICE_SIDE, HEADEND_SIDE):
            raise ValueError("side must be 'device' or 'headend'")
        self.url = url
        self.framing = framing
        self.decoder = framing.decoder()
        self.side = side
        self._site = site
        self.settings = settings or SerialSettings()
        self.faults_out = faults_out
        self.faults_in = faults_in
        self.on_frame = on_frame  # capture hook: ("in" | "out", frame)
        self.stats = LinkStats()
        self._patterns: list[str] = []
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._transport: asyncio.Transport | None = None
        self._serial: serial.SerialBase | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._closed = False
        self._write_lock = asyncio.Lock()
        self._release = 0.0  # loop time the last faulted input chunk is decoded at
        # link-level ARQ (both ends must enable it): DATA = 01 seq(2) frame, ACK = 02 seq(2)
        self.reliable = reliable
        self.ack_timeout = ack_timeout
        self.max_tries = max_tries
        self._seq = 0
        self._acks: dict[int, asyncio.Future[None]] = {}
        self._seen: dict[int, None] = {}  # recent sequence numbers received (dedupe)
        self._views: list[_LineView] = []
        self._gone = asyncio.Event()  # the port's transport has closed

    def view(self) -> Bus:
        """Another bus on this line, with its own subscriptions and messages (a head-end
        and a :class:`~emulator.control_client.ControlClient` each take one). Starting it
        starts the line; closing it does not close the line; closing the line ends it."""
        v = _LineView(self)
        self._views.append(v)
        return v

    # ---------------------------------------------------------------- open/close

    async def start(self) -> None:
        if self._transport is not None or self._serial is not None:
            return
        loop = asyncio.get_running_loop()
        try:
            probe = serial.serial_for_url(self.url, do_not_open=True, **self.settings.kwargs())
        except (serial.SerialException, ValueError) as e:
            raise BusError(f"cannot open {self.url}: {e}") from None
        uses_fd = not type(probe).__module__.startswith(("serial.urlhandler.protocol_loop",))
        try:
            if uses_fd:
                import serial_asyncio_fast

                self._transport, _ = await serial_asyncio_fast.create_serial_connection(
                    loop,
                    lambda: _Protocol(self._received, self._lost),
                    self.url,
                    **self.settings.kwargs(),
                )
            else:  # loop:// and other handlers without a file descriptor: poll in a thread
                self._serial = serial.serial_for_url(
                    self.url, timeout=0.05, **self.settings.kwargs()
                )
                self._tasks.append(asyncio.create_task(self._poll()))
        except (serial.SerialException, OSError, ValueError) as e:
            raise BusError(f"cannot open {self.url}: {e}") from None
        self._tasks.append(asyncio.create_task(self._flusher()))

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        if self._transport is not None:
            self._transport.close()
            # The port is released a loop turn later: wait, so it can be opened again at once.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._gone.wait(), 2.0)
        if self._serial is not None:
            self._serial.close()
        self._end()

    def _lost(self) -> None:
        self._gone.set()
        if not self._closed:
            log.warning("serial link %s closed", self.url)
            self._end()

    def _end(self) -> None:
        """End :meth:`messages` and every view's."""
        self._queue.put_nowait(None)
        for v in self._views:
            v.end()

    async def _poll(self) -> None:
        assert self._serial is not None
        loop = asyncio.get_running_loop()
        while not self._closed:
            data = await loop.run_in_executor(None, self._serial.read, 4096)
            if data:
                self._received(data)

    async def _flusher(self) -> None:
        while not self._closed:
            deadline = self.decoder.next_deadline()
            delay = 0.05 if deadline is None else max(0.0, min(0.05, deadline - time.monotonic()))
            await asyncio.sleep(delay)
            for frame in self.decoder.flush(time.monotonic()):
                if isinstance(frame, ControlFrame):
                    self._deliver_control(frame)
                else:
                    self._deliver(frame)

    # ------------------------------------------------------------------- input

    def _received(self, data: bytes) -> None:
        self.stats.bytes_in += len(data)
        if self.faults_in is None:
            self._decode(data)
            return
        # A line is first-in first-out: a delayed chunk holds back the ones behind it.
        loop = asyncio.get_running_loop()
        for delay, chunk in self.faults_in.apply(data):
            self._release = max(self._release, loop.time()) + delay
            loop.call_at(self._release, self._decode, chunk)

    def _decode(self, chunk: bytes) -> None:
        for frame in self.decoder.feed(chunk, time.monotonic()):
            if isinstance(frame, ControlFrame):
                self._deliver_control(frame)
            elif self.reliable:
                self._unwrap(frame)
            else:
                self._deliver(frame)

    def _unwrap(self, unit: bytes) -> None:
        """Link ARQ: ACKs resolve the sender's wait; DATA is acknowledged, deduplicated."""
        if len(unit) < 3 or unit[0] not in (_DATA, _ACK):
            self.stats.undecodable += 1
            return
        seq = int.from_bytes(unit[1:3], "big")
        if unit[0] == _ACK:
            fut = self._acks.get(seq)
            if fut is not None and not fut.done():
                fut.set_result(None)
            return
        if self._accept(seq):
            self._deliver(unit[3:])

    def _accept(self, seq: int) -> bool:
        """Acknowledge link DATA ``seq``; False if it was received before (a resend)."""
        ack = bytes((_ACK,)) + seq.to_bytes(2, "big")
        asyncio.get_running_loop().create_task(self._send_units([ack]))
        if seq in self._seen:
            self.stats.extra["link_duplicates"] = self.stats.extra.get("link_duplicates", 0) + 1
            return False
        self._seen[seq] = None
        if len(self._seen) > 1024:
            self._seen.pop(next(iter(self._seen)))
        return True

    def _deliver_control(self, payload: bytes) -> None:
        """A control frame: a request (device side) or a reply (head-end side)."""
        try:
            site, eui, body, seq = control_wrapper(payload)
        except ValueError as e:
            self.stats.control_undecodable += 1
            log.warning("serial link %s: control frame dropped: %s", self.url, e)
            return
        if self.reliable and seq is not None and not self._accept(seq):
            return
        self.stats.control_in += 1
        channel = Channel.CONTROL if self.side == DEVICE_SIDE else Channel.CONTROL_REPLY
        self._route(BusMessage(site, eui, channel, json.dumps(body).encode()))

    def _deliver(self, frame: bytes) -> None:
        try:
            header = decode_envelope(frame).header
        except GbcsDecodeError:
            self.stats.undecodable += 1
            return
        self.stats.frames_in += 1
        if self.on_frame is not None:
            self.on_frame("in", frame)
        if self.side == DEVICE_SIDE:
            eui, channel = header.recipient, Channel.IN
        else:
            eui = header.originator
            channel = Channel.ALERT if header.cra is Cra.ALERT else Channel.OUT
        site = self._site(eui) if callable(self._site) else self._site
        if site is None:
            return
        self._route(BusMessage(site, eui_hex(eui).upper(), channel, frame))

    def _route(self, msg: BusMessage) -> None:
        if any(topic_matches(p, msg.topic) for p in self._patterns):
            self._queue.put_nowait(msg)
        for v in self._views:
            v.offer(msg)

    async def subscribe(self, pattern: str) -> None:
        self._patterns.append(pattern)

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        while True:
            m = await self._queue.get()
            if m is None:
                return
            yield m

    # ------------------------------------------------------------------ output

    async def publish(self, message: BusMessage) -> None:
        """Write ``message`` if this side writes its channel (see the module docstring):
        the head-end side commands and control requests, the device side responses,
        alerts and control replies; anything else is ignored."""
        if message.channel in (Channel.CONTROL, Channel.CONTROL_REPLY):
            mine = Channel.CONTROL if self.side == HEADEND_SIDE else Channel.CONTROL_REPLY
            if message.channel is mine:
                await self.write_control(message)
            return
        outgoing = Channel.IN if self.side == HEADEND_SIDE else None
        if outgoing is not None and message.channel is not outgoing:
            return  # a head-end only writes commands
        if self.side == DEVICE_SIDE and message.channel is Channel.IN:
            return  # a device only writes responses and alerts
        if message.frame.startswith(b"{"):
            return  # AD1 records are for the DCC side, not a GBCS frame on this line
        await self.write_frame(message.frame)

    async def write_frame(self, frame: bytes) -> None:
        """Frame and write one GBCS message (faults applied when configured).

        With ``reliable`` the frame is resent until the other end acknowledges it (up to
        ``max_tries``; then it is counted lost and the head-end's own retry takes over).
        """
        self._check_open()
        if self.on_frame is not None:
            self.on_frame("out", frame)
        self.stats.frames_out += 1
        if not self.reliable:
            await self._send_units([frame])
            return
        seq = self._next_seq()
        unit = bytes((_DATA,)) + seq.to_bytes(2, "big") + frame
        await self._send_reliably(seq, lambda: self.framing.encode(unit))

    async def write_control(self, message: BusMessage) -> None:
        """Write a control request (head-end side) or reply (device side) as a control
        frame (see the module docstring). Raises :class:`BusError` when the line cannot
        carry it (a payload that is not JSON; the ``raw`` framing; too long a frame),
        except that on the device side a reply too long for a control frame is replaced by
        an ``ok: false`` reply with its id, and one the framing cannot carry is dropped
        and counted, so that the emulator's outbox never retries it for ever."""
        self._check_open()
        seq = self._next_seq() if self.reliable else None
        payload = _control_payload(message, seq)
        try:
            self.framing.encode_control(payload)
        except ValueError as e:
            if self.side == HEADEND_SIDE:
                raise BusError(f"serial link {self.url}: cannot send control frame: {e}") from None
            replaced = self._reply_too_long(message, e)
            if replaced is not None:
                payload = _control_payload(replaced, seq)
                try:
                    self.framing.encode_control(payload)
                except ValueError:
                    replaced = None  # max_control is too small even for the error reply
            if replaced is None:
                self._count("control_unsent")
                log.warning("serial link %s: control reply dropped: %s", self.url, e)
                return
            self._count("control_replaced")
            log.warning("serial link %s: control reply replaced by an error: %s", self.url, e)
        self.stats.control_out += 1
        if seq is None:
            await self._write_encoded(self.framing.encode_control(payload))
            return
        await self._send_reliably(seq, lambda: self.framing.encode_control(payload))

    def _reply_too_long(self, message: BusMessage, error: ValueError) -> BusMessage | None:
        """An error reply for a reply the framing cannot carry, if it carries control."""
        if not self.framing.carries_control:
            return None
        try:
            rid = json.loads(message.frame).get("id")
        except (ValueError, AttributeError):
            rid = None
        reply = {
            "id": rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None,
            "ok": False,
            "error": {
                "code": "internal",
                "message": f"the request ran, but its reply ({len(message.frame)} bytes) "
                f"does not fit in a control frame on this line: {error}",
            },
        }
        return BusMessage(message.site, message.eui, message.channel, json.dumps(reply).encode())

    def _check_open(self) -> None:
        if self._closed or (self._transport is None and self._serial is None):
            raise BusError(f"serial link {self.url} is not open")

    def _count(self, key: str) -> None:
        self.stats.extra[key] = self.stats.extra.get(key, 0) + 1

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) & 0xFFFF
        return self._seq

    async def _send_reliably(self, seq: int, encode: Callable[[], bytes]) -> None:
        """Write ``encode()`` until the other end acknowledges ``seq`` (or give up)."""
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks[seq] = fut
        try:
            for attempt in range(self.max_tries):
                if attempt:
                    self.stats.extra["link_retransmits"] = (
                        self.stats.extra.get("link_retransmits", 0) + 1
                    )
                await self._write_encoded(encode())
                try:
                    await asyncio.wait_for(asyncio.shield(fut), self.ack_timeout)
                    return
                except TimeoutError:
                    continue
            self.stats.extra["link_lost"] = self.stats.extra.get("link_lost", 0) + 1
        finally:
            self._acks.pop(seq, None)

    async def _send_units(self, units: list[bytes]) -> None:
        """Encode and write link units (GBCS frames, or ARQ units), faults applied."""
        for unit in units:
            await self._write_encoded(self.framing.encode(unit))

    async def _write_encoded(self, data: bytes) -> None:
        chunks = [(0.0, data)] if self.faults_out is None else self.faults_out.apply(data)
        async with self._write_lock:
            for delay, chunk in chunks:
                if delay > 0:
                    await asyncio.sleep(delay)
                self.stats.bytes_out += len(chunk)
                if self._transport is not None and chunk:
                    ser = getattr(self._transport, "serial", None)
                    if ser is not None:
                        await self._write_fd(ser.fileno(), chunk)
                    else:  # socket:// ports get a plain asyncio transport
                        self._transport.write(chunk)
                elif self._serial is not None:
                    await asyncio.get_running_loop().run_in_executor(
                        None, self._serial.write, chunk
                    )

    async def _write_fd(self, fd: int, data: bytes) -> None:
        """Write straight to the port's descriptor, waiting while it is full.

        pyserial-asyncio-fast 0.16's own write buffering can call its write-ready
        callback with an empty buffer and log an assertion error under load; writing
        ourselves (one frame at a time, under the write lock) avoids that path.
        """
        loop = asyncio.get_running_loop()
        view = memoryview(data)
        while view:
            try:
                n = os.write(fd, view)
            except BlockingIOError:
                ready: asyncio.Future[None] = loop.create_future()
                loop.add_writer(fd, _wake, ready)
                try:
                    await ready
                finally:
                    loop.remove_writer(fd)
                continue
            view = view[n:]

    def report(self) -> dict[str, Any]:
        """Link and decoder statistics together."""
        out = self.stats.to_dict()
        out["decoder"] = self.decoder.stats.to_dict()
        if self.faults_out is not None:
            out["faults_out"] = self.faults_out.to_dict()
        if self.faults_in is not None:
            out["faults_in"] = self.faults_in.to_dict()
        return out
