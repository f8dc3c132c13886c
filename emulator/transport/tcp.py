"""TCP transport: length-prefixed frames on one port.

:class:`TcpServerBus` (the emulator side) listens and accepts many clients;
:class:`TcpClientBus` (a head-end, a test) connects to it. A message a client publishes
is delivered to the server's subscribers; a message the server publishes goes to every
client with a matching subscription. Clients do not hear each other.

Frame layout (all integers big-endian)::

    offset  size  field
    0       4     length   number of bytes after this field = 2 + topic_len + len(payload)
    4       2     topic_len
    6       n     topic    UTF-8, topic_len bytes
    6+n     ...   payload  the rest (a GBCS frame, or a control argument)

Topics starting with ``$`` are control frames, payload UTF-8:

* ``$subscribe`` (client to server), payload a topic filter (MQTT wildcards ``+``,
  ``#``): deliver matching server messages to this client from now on.
* ``$suback`` (server to client), payload the filter: the subscription is in force.
* ``$error`` (server to client), payload a reason: the server is closing this
  connection because of what the client sent.

Any other topic must follow ``gbcs/<site>/<eui>/<channel>`` (channels ``in``, ``out``,
``alert``, ``control`` and ``control/reply``, see :class:`~.base.Channel`). A frame longer than
``max_frame`` (default 1 MiB), shorter than its topic, with a topic that is not UTF-8,
not in the scheme or an unknown control topic, or cut short by the end of the
connection, makes the server log the reason, send ``$error`` when it can, and close
that connection only.

Delivery: ``publish`` returns once the frame is in the socket's send buffer; there is
no acknowledgement and no reconnection. Use MQTT (:mod:`.mqtt`) where messages must
survive outages.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from collections.abc import AsyncIterator

from .base import Bus, BusError, BusMessage, TopicFilters

__all__ = [
    "CTRL_ERROR",
    "CTRL_SUBACK",
    "CTRL_SUBSCRIBE",
    "DEFAULT_MAX_FRAME",
    "FrameError",
    "TcpClientBus",
    "TcpServerBus",
    "encode_frame",
    "read_frame",
]

log = logging.getLogger(__name__)

CTRL_SUBSCRIBE = "$subscribe"
CTRL_SUBACK = "$suback"
CTRL_ERROR = "$error"
DEFAULT_MAX_FRAME = 1 << 20
_LEN = struct.Struct(">I")
_TOPIC_LEN = struct.Struct(">H")


class FrameError(Exception):
    """A frame that breaks the layout; the connection it came on is closed."""


def encode_frame(topic: str, payload: bytes) -> bytes:
    """One frame: 4-byte length, 2-byte topic length, UTF-8 topic, payload."""
    t = topic.encode()
    if len(t) > 0xFFFF:
        raise ValueError(f"topic of {len(t)} bytes is too long for a frame")
    return _LEN.pack(2 + len(t) + len(payload)) + _TOPIC_LEN.pack(len(t)) + t + payload


async def read_frame(
    reader: asyncio.StreamReader, max_frame: int = DEFAULT_MAX_FRAME
) -> tuple[str, bytes] | None:
    """Read one frame; ``None`` at a clean end of stream (between frames).

    Raises :class:`FrameError` for a malformed or truncated frame.
    """
    try:
        head = await reader.readexactly(_LEN.size)
    except asyncio.IncompleteReadError as exc:
        if not exc.partial:
            return None
        raise FrameError(f"truncated length field ({len(exc.partial)} of 4 bytes)") from None
    (length,) = _LEN.unpack(head)
    if length < _TOPIC_LEN.size:
        raise FrameError(f"frame length {length} is shorter than the topic length field")
    if length > max_frame:
        raise FrameError(f"frame length {length} exceeds the limit of {max_frame} bytes")
    try:
        body = await reader.readexactly(length)
    except asyncio.IncompleteReadError as exc:
        raise FrameError(f"truncated frame ({len(exc.partial)} of {length} bytes)") from None
    (topic_len,) = _TOPIC_LEN.unpack_from(body)
    if topic_len > length - _TOPIC_LEN.size:
        raise FrameError(f"topic length {topic_len} overruns the {length}-byte frame")
    try:
        topic = body[2 : 2 + topic_len].decode()
    except UnicodeDecodeError:
        raise FrameError("topic is not UTF-8") from None
    return topic, bytes(body[2 + topic_len :])


def _valid_filter(pattern: str) -> bool:
    if not pattern or "\0" in pattern:
        return False
    levels = pattern.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            return False
        if "+" in level and level != "+":
            return False
    return True


class _Peer:
    """One accepted client connection."""

    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.patterns = TopicFilters()
        peer = writer.get_extra_info("peername")
        self.name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        self.lock = asyncio.Lock()  # one frame at a time on the socket

    def wants(self, topic: str) -> bool:
        return self.patterns.matches(topic)

    async def send(self, frame: bytes, timeout: float) -> None:
        async with self.lock:
            self.writer.write(frame)
            await asyncio.wait_for(self.writer.drain(), timeout)


class TcpServerBus(Bus):
    """The listening side: many clients, one port.

    Args:
        host, port: where to listen (``port=0``: a free port, see :attr:`port`).
        max_frame: largest accepted frame body in bytes.
        send_timeout: seconds a client may take to accept a frame before it is dropped.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        send_timeout: float = 10.0,
    ) -> None:
        self.host = host
        self._port = port
        self.max_frame = max_frame
        self.send_timeout = send_timeout
        self.patterns = TopicFilters()
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._server: asyncio.Server | None = None
        self._peers: dict[_Peer, asyncio.Task[None]] = {}
        self._closed = False
        self.rejected = 0  # connections closed for a malformed frame

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._server is not None and self._server.sockets:
            return int(self._server.sockets[0].getsockname()[1])
        return self._port

    @property
    def clients(self) -> int:
        """Connected clients."""
        return len(self._peers)

    async def start(self) -> None:
        """Listen (idempotent); :class:`BusError` if the port cannot be bound."""
        if self._closed:
            raise BusError("TCP server bus is closed")
        if self._server is not None:
            return
        try:
            self._server = await asyncio.start_server(self._serve, self.host, self._port)
        except OSError as exc:
            raise BusError(f"cannot listen on {self.host}:{self._port}: {exc}") from exc
        log.info("TCP bus listening on %s:%d", self.host, self.port)

    async def close(self) -> None:
        """Stop listening, close every client, end :meth:`messages`."""
        if self._closed:
            return
        self._closed = True
        if self._server is not None:
            self._server.close()
        tasks = list(self._peers.values())
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.wait(tasks)
        if self._server is not None:
            await self._server.wait_closed()
        self._queue.put_nowait(None)

    async def subscribe(self, pattern: str) -> None:
        """Receive client messages whose topic matches ``pattern``."""
        if not _valid_filter(pattern):
            raise ValueError(f"invalid topic filter {pattern!r}")
        self.patterns.add(pattern)

    async def unsubscribe(self, pattern: str) -> None:
        """Stop receiving client messages for ``pattern``."""
        self.patterns.discard(pattern)

    async def publish(self, message: BusMessage) -> None:
        """Send to every client subscribed to the topic; a client that cannot take it
        is disconnected (logged). :class:`BusError` if the server is not running."""
        if self._server is None or self._closed:
            raise BusError("TCP server bus is not running")
        topic = message.topic
        frame = encode_frame(topic, message.frame)
        peers = [p for p in self._peers if p.wants(topic)]
        if not peers:
            return
        results = await asyncio.gather(
            *(p.send(frame, self.send_timeout) for p in peers), return_exceptions=True
        )
        for peer, result in zip(peers, results, strict=True):
            if isinstance(result, BaseException):
                log.warning("TCP client %s dropped: cannot send (%r)", peer.name, result)
                self._drop(peer)

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        while True:
            m = await self._queue.get()
            if m is None:
                self._queue.put_nowait(None)
                return
            yield m

    def _drop(self, peer: _Peer) -> None:
        task = self._peers.get(peer)
        if task is not None and task is not asyncio.current_task():
            task.cancel()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = _Peer(writer)
        task = asyncio.current_task()
        assert task is not None
        if self._closed:
            writer.close()
            return
        self._peers[peer] = task
        log.info("TCP client %s connected", peer.name)
        reason = "closed by client"
        try:
            while True:
                got = await read_frame(reader, self.max_frame)
                if got is None:
                    break
                await self._handle(peer, *got)
        except FrameError as exc:
            reason = f"malformed frame: {exc}"
            self.rejected += 1
            log.warning("TCP client %s: %s; closing the connection", peer.name, exc)
            with contextlib.suppress(Exception):
                await peer.send(encode_frame(CTRL_ERROR, str(exc).encode()), 1.0)
        except (ConnectionError, TimeoutError) as exc:
            reason = f"connection error: {exc!r}"
        except asyncio.CancelledError:
            reason = "closed by server"
        except Exception:  # never let one connection take the server down
            reason = "internal error"
            log.exception("TCP client %s: error while serving", peer.name)
        finally:
            self._peers.pop(peer, None)
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            log.info("TCP client %s disconnected (%s)", peer.name, reason)

    async def _handle(self, peer: _Peer, topic: str, payload: bytes) -> None:
        if topic.startswith("$"):
            if topic != CTRL_SUBSCRIBE:
                raise FrameError(f"unknown control topic {topic!r}")
            try:
                pattern = payload.decode()
            except UnicodeDecodeError:
                raise FrameError("subscription filter is not UTF-8") from None
            if not _valid_filter(pattern):
                raise FrameError(f"invalid topic filter {pattern!r}")
            peer.patterns.add(pattern)
            await peer.send(encode_frame(CTRL_SUBACK, payload), self.send_timeout)
            return
        try:
            message = BusMessage.from_topic(topic, payload)
        except ValueError as exc:
            raise FrameError(str(exc)) from None
        if self.patterns.matches(topic):
            self._queue.put_nowait(message)


class TcpClientBus(Bus):
    """A connection to a :class:`TcpServerBus`.

    ``subscribe`` waits for the server's ``$suback``; when the connection ends
    (server gone, or it rejected a frame) :meth:`messages` ends and :meth:`publish`
    raises :class:`BusError`.
    """

    def __init__(
        self,
        host: str,
        port: int,
        *,
        max_frame: int = DEFAULT_MAX_FRAME,
        timeout: float = 10.0,
    ) -> None:
        self.host = host
        self.port = port
        self.max_frame = max_frame
        self.timeout = timeout
        self.patterns: list[str] = []
        self.server_error: str | None = None  # the reason of a $error from the server
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._task: asyncio.Task[None] | None = None
        self._acks: dict[str, list[asyncio.Future[None]]] = {}
        self._write_lock = asyncio.Lock()
        self._closed = False
        self._lost = False  # the connection ended (server closed it, or an error)

    @property
    def connected(self) -> bool:
        return self._task is not None and not self._lost and not self._closed

    async def start(self) -> None:
        """Connect and send the subscriptions made so far (idempotent)."""
        if self._closed:
            raise BusError("TCP client bus is closed")
        if self._writer is not None:
            return
        try:
            self._reader, self._writer = await asyncio.wait_for(
                asyncio.open_connection(self.host, self.port), self.timeout
            )
        except (OSError, TimeoutError) as exc:
            raise BusError(f"cannot connect to {self.host}:{self.port}: {exc!r}") from exc
        self._task = asyncio.create_task(self._read_loop())
        for pattern in self.patterns:
            await self._send_subscribe(pattern)

    async def close(self) -> None:
        """Close the connection and end :meth:`messages`."""
        if self._closed:
            return
        self._closed = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        if self._task is not None:
            self._task.cancel()
            await asyncio.wait({self._task})
        self._fail_acks("bus closed")
        self._queue.put_nowait(None)

    async def subscribe(self, pattern: str) -> None:
        """Ask the server for ``pattern``; returns once acknowledged (if connected)."""
        if not _valid_filter(pattern):
            raise ValueError(f"invalid topic filter {pattern!r}")
        if pattern in self.patterns:
            return
        self.patterns.append(pattern)
        if self._writer is not None:
            await self._send_subscribe(pattern)

    async def publish(self, message: BusMessage) -> None:
        """Send a frame to the server; :class:`BusError` if the connection is gone."""
        await self._send(encode_frame(message.topic, message.frame))

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        while True:
            m = await self._queue.get()
            if m is None:
                self._queue.put_nowait(None)
                return
            yield m

    async def _send(self, data: bytes) -> None:
        writer = self._writer
        if writer is None or not self.connected:
            raise BusError(f"not connected to {self.host}:{self.port}")
        try:
            async with self._write_lock:
                writer.write(data)
                await asyncio.wait_for(writer.drain(), self.timeout)
        except (OSError, TimeoutError) as exc:
            raise BusError(f"send to {self.host}:{self.port} failed: {exc!r}") from exc

    async def _send_subscribe(self, pattern: str) -> None:
        ack: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._acks.setdefault(pattern, []).append(ack)
        await self._send(encode_frame(CTRL_SUBSCRIBE, pattern.encode()))
        try:
            await asyncio.wait_for(ack, self.timeout)
        except TimeoutError:
            raise BusError(f"no $suback for {pattern!r} from {self.host}:{self.port}") from None

    def _fail_acks(self, reason: str) -> None:
        for futures in self._acks.values():
            for f in futures:
                if not f.done():
                    f.set_exception(BusError(reason))
                    f.exception()  # mark retrieved if nobody awaits it any more
        self._acks.clear()

    async def _read_loop(self) -> None:
        assert self._reader is not None
        reason = "server closed the connection"
        try:
            while True:
                got = await read_frame(self._reader, self.max_frame)
                if got is None:
                    break
                topic, payload = got
                if topic == CTRL_SUBACK:
                    pattern = payload.decode(errors="replace")
                    for f in self._acks.pop(pattern, []):
                        if not f.done():
                            f.set_result(None)
                elif topic == CTRL_ERROR:
                    self.server_error = payload.decode(errors="replace")
                    reason = f"server rejected a frame: {self.server_error}"
                    log.warning("TCP server %s:%d: %s", self.host, self.port, reason)
                else:
                    try:
                        message = BusMessage.from_topic(topic, payload)
                    except ValueError as exc:
                        log.warning("dropped TCP frame: %s", exc)
                        continue
                    self._queue.put_nowait(message)
        except FrameError as exc:
            reason = f"malformed frame from server: {exc}"
            log.warning("TCP server %s:%d: %s", self.host, self.port, exc)
        except (ConnectionError, OSError) as exc:
            reason = f"connection error: {exc!r}"
        finally:
            self._lost = True
            self._fail_acks(reason)
            if not self._closed:
                self._queue.put_nowait(None)
                if self._writer is not None:
                    self._writer.close()
