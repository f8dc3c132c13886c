"""MQTT transport: :class:`MqttBus` over aiomqtt to a real broker.

One background task owns the aiomqtt client. It connects, subscribes every pattern
given to :meth:`MqttBus.subscribe` (again after each reconnect), and, when the
connection drops, reconnects with exponential backoff until :meth:`MqttBus.close`.
Meanwhile :meth:`MqttBus.messages` keeps yielding (it reads the bus's own queue, which
outlives connections) and :meth:`MqttBus.publish` raises :class:`~.base.BusError` at
once, so callers keep the message in their outbox and retry once
:meth:`MqttBus.wait_connected` returns.

Delivery is QoS 1 both ways (at-least-once, duplicates possible):

* ``publish`` returns when the broker has acknowledged (PUBACK); it raises ``BusError``
  if not connected, if the connection drops before the PUBACK, or after
  ``publish_timeout``. A message whose PUBACK was lost may still have been delivered,
  so a retry can duplicate it.
* Received messages go straight from the MQTT client's callback into the bus queue; the
  MQTT library acknowledges a message when that callback returns, so the queue, not the
  broker, holds it from then on (a crash of this process loses what it has not read).

Persistent sessions (``persistent=True`` with a fixed ``client_id``): the client
connects with clean-session 0, so the broker keeps its subscriptions and queues QoS 1
messages published while it is disconnected, then delivers them on reconnect. The
broker must support MQTT 3.1.1 persistent sessions and queue enough messages per
client (mosquitto: yes, ``max_queued_messages`` bounds the queue; to survive a broker
*restart* too it needs ``persistence true``, see :class:`~.broker.MosquittoBroker`).
amqtt keeps persistent sessions in memory only and expires those of anonymous clients.

URLs: ``mqtt://host[:port]`` (1883), ``mqtt://user:password@host:port``,
``mqtts://host[:port]`` (8883, TLS with the system's CA store unless ``tls_context``
is given). Percent-escapes in the user and password are decoded.

Several brokers (the nodes of one cluster): a list of URLs, or one string of URLs
separated by commas. Every URL is checked before anything connects. The first
connection tries them in order; when a connection is lost or an attempt fails, the
next attempt goes to the next URL (round robin, with the same back-off), with the same
client id, so a persistent session resumes on whichever node answers, if the cluster
replicates sessions (see ``docs/broker-cluster.md``). :attr:`MqttBus.connected_url`
names the node in use and :attr:`MqttBus.reconnects` counts the reconnections.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import socket
import ssl
import uuid
from collections.abc import AsyncIterator, Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import unquote, urlsplit

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError

from .base import Bus, BusError, BusMessage

__all__ = [
    "BrokerAddress",
    "MqttBus",
    "parse_broker_url",
    "parse_broker_urls",
    "validate_topic_filter",
]

log = logging.getLogger(__name__)

QOS = 1
#: Topic filters per SUBSCRIBE packet, and such packets awaiting their SUBACK at once:
#: a worker of a large fleet subscribes one filter per site and channel.
SUBSCRIBE_BATCH = 1000
SUBSCRIBE_IN_FLIGHT = 8
#: QoS 1 publications the MQTT client keeps on the wire unacknowledged (paho's default,
#: 20, would hold back part of a publisher's window until PUBACKs free room).
MAX_INFLIGHT = 256


@dataclass(frozen=True, slots=True)
class BrokerAddress:
    """Where a broker is, parsed from a URL by :func:`parse_broker_url`."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = None

    def __str__(self) -> str:  # never shows the password
        user = f"{self.username}@" if self.username else ""
        return f"{'mqtts' if self.tls else 'mqtt'}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> BrokerAddress:
    """Parse ``mqtt[s]://[user[:password]@]host[:port]``; :class:`ValueError` if malformed."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"broker URL {url!r}: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in ("mqtt", "mqtts"):
        raise ValueError(f"broker URL {url!r}: scheme must be mqtt:// or mqtts://")
    if not parts.hostname:
        raise ValueError(f"broker URL {url!r} has no host")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ValueError(f"broker URL {url!r}: only mqtt[s]://[user[:password]@]host[:port]")
    if port == 0:
        raise ValueError(f"broker URL {url!r}: port 0")
    tls = scheme == "mqtts"
    return BrokerAddress(
        host=parts.hostname,
        port=port if port is not None else (8883 if tls else 1883),
        tls=tls,
        username=unquote(parts.username) if parts.username is not None else None,
        password=unquote(parts.password) if parts.password is not None else None,
    )


def parse_broker_urls(urls: str | Iterable[str]) -> tuple[BrokerAddress, ...]:
    """Parse broker URLs: one URL, URLs separated by commas, or an iterable of either.

    Every URL is checked (:class:`ValueError` naming the first bad one and its place in
    the list); an empty list, an empty entry or the same host and port twice is refused.
    """
    items = [urls] if isinstance(urls, str) else list(urls)
    pieces = [piece.strip() for item in items for piece in item.split(",")]
    if not any(pieces):
        raise ValueError("no broker URL given")
    addresses: list[BrokerAddress] = []
    for n, piece in enumerate(pieces, 1):
        # Not the whole list: another entry may carry a password.
        where = f" (entry {n} of {len(pieces)})" if len(pieces) > 1 else ""
        if not piece:
            raise ValueError(f"empty broker URL{where}")
        try:
            address = parse_broker_url(piece)
        except ValueError as exc:
            raise ValueError(f"{exc}{where}") from None
        if any((a.host, a.port) == (address.host, address.port) for a in addresses):
            raise ValueError(f"broker {address.host}:{address.port} is listed twice{where}")
        addresses.append(address)
    return tuple(addresses)


def validate_topic_filter(pattern: str) -> None:
    """Raise :class:`ValueError` unless ``pattern`` is a valid MQTT topic filter."""
    if not pattern or "\0" in pattern or len(pattern.encode()) > 65535:
        raise ValueError(f"invalid topic filter {pattern!r}")
    levels = pattern.split("/")
    for i, level in enumerate(levels):
        if "#" in level and (level != "#" or i != len(levels) - 1):
            raise ValueError(f"topic filter {pattern!r}: '#' must be a whole, last level")
        if "+" in level and level != "+":
            raise ValueError(f"topic filter {pattern!r}: '+' must be a whole level")


def _forwarding_queue(
    sink: Callable[[aiomqtt.Message], None],
) -> type[asyncio.Queue[aiomqtt.Message]]:
    """A queue class for aiomqtt whose ``put_nowait`` hands each message to ``sink``.

    aiomqtt puts every received message in its own queue, which is dropped with the
    client when the connection ends; paho has acknowledged those messages already, so
    anything still queued there would be lost. Forwarding at once avoids that window.
    """

    class _Forwarding(asyncio.Queue):  # type: ignore[type-arg]
        def put_nowait(self, item: aiomqtt.Message) -> None:
            sink(item)

    return _Forwarding


def _no_delay(client: aiomqtt.Client) -> None:
    """Send small frames at once: Nagle's algorithm with the peer's delayed ACK would add
    ~40 ms to every command, response and PUBACK."""
    try:
        sock = client._client.socket()  # paho's socket (aiomqtt exposes no hook for it)
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (AttributeError, OSError):  # TLS wrappers or a closed socket: best effort
        pass


class MqttBus(Bus):
    """A :class:`~.base.Bus` on an MQTT broker, reconnecting until closed.

    Args:
        url: ``mqtt://[user:password@]host[:port]`` or ``mqtts://...``; or several
            (nodes of one cluster): a list of such URLs or one string of them
            separated by commas, tried in order, then round robin (see the module).
        client_id: MQTT client identifier (default: random ``gbcs-<hex>``).
        persistent: connect with clean-session 0 so the broker keeps the subscriptions
            and queues QoS 1 messages while this client is away (needs ``client_id``).
        connect_timeout: seconds :meth:`start` waits for the first connection
            (``BusError`` after that, and the bus is closed); ``None`` to return at once
            and connect in the background. With several brokers, one attempt gets an
            equal share of it (at least 1 s), so every one is tried in that time.
        publish_timeout: seconds :meth:`publish` waits for the broker's PUBACK.
        keepalive: MQTT keepalive in seconds (how fast a silent dead link is noticed).
        reconnect_min, reconnect_max: backoff bounds in seconds between attempts.
        tls_context: TLS settings for the ``mqtts://`` URLs (default: system CAs).
        password: the broker password (overrides one in the URL; see
            :mod:`.access` for keeping it off command lines).
    """

    def __init__(
        self,
        url: str | Iterable[str],
        *,
        client_id: str | None = None,
        persistent: bool = False,
        connect_timeout: float | None = 10.0,
        publish_timeout: float = 10.0,
        keepalive: int = 30,
        reconnect_min: float = 0.1,
        reconnect_max: float = 5.0,
        tls_context: ssl.SSLContext | None = None,
        password: str | None = None,
    ) -> None:
        addresses = parse_broker_urls(url)
        if password is not None:
            addresses = tuple(replace(a, password=password) for a in addresses)
        #: Every broker URL, in the order given; :attr:`address` is the one in use.
        self.addresses: tuple[BrokerAddress, ...] = addresses
        self._index = 0  # the address in use or tried next
        if persistent and not client_id:
            raise ValueError("a persistent MQTT session needs a fixed client_id")
        if client_id is not None and not client_id:
            raise ValueError("client_id must not be empty")
        self.client_id = client_id or f"gbcs-{uuid.uuid4().hex[:16]}"
        self.persistent = persistent
        self.connect_timeout = connect_timeout
        self.publish_timeout = publish_timeout
        self.keepalive = keepalive
        self.reconnect_min = reconnect_min
        self.reconnect_max = reconnect_max
        self._tls_context = tls_context
        if any(a.tls for a in addresses) and tls_context is None:
            self._tls_context = ssl.create_default_context()

        self._patterns: dict[str, None] = {}  # insertion-ordered set
        self._unsubscribing: dict[str, None] = {}  # to send on the next connection
        self._queue: asyncio.Queue[BusMessage | None] = asyncio.Queue()
        self._connected_event = asyncio.Event()
        self._lost = asyncio.Event()  # set when the current connection is lost
        self._refused = asyncio.Event()  # every broker refused the first connection
        self._refusals: set[int] = set()  # indices of the brokers that refused it
        self._client: aiomqtt.Client | None = None
        self._acks: dict[int, asyncio.Future[None]] = {}  # PUBACKs awaited, by message id
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self.connections = 0  # successful connections so far
        self.reconnects = 0  # successful connections after the first
        self.dropped = 0  # received messages outside gbcs/<site>/<eui>/<channel>
        self.last_error: str | None = None

    # -- state -------------------------------------------------------------------------

    @property
    def address(self) -> BrokerAddress:
        """The broker in use, or tried next while disconnected."""
        return self.addresses[self._index]

    @property
    def url(self) -> str:
        """The broker address in use, or tried next (without the password)."""
        return str(self.address)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every broker address, in the order given (without passwords)."""
        return tuple(str(a) for a in self.addresses)

    @property
    def connected_url(self) -> str | None:
        """The broker address this bus is connected to; None while disconnected."""
        return self.url if self.connected else None

    def _where(self) -> str:
        """The broker(s) for an error message: the URL, or every URL of a list."""
        if len(self.addresses) == 1:
            return self.url
        return "any of " + ", ".join(self.urls)

    @property
    def connected(self) -> bool:
        """True while connected and subscribed."""
        return self._connected_event.is_set() and not self._closed

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until connected (``None``: no limit); :class:`BusError` on timeout or close."""
        if self._closed:
            raise BusError("MQTT bus is closed")
        if self._task is None:
            raise BusError("MQTT bus not started")
        try:
            await asyncio.wait_for(self._connected_event.wait(), timeout)
        except TimeoutError:
            raise BusError(
                f"not connected to {self._where()} after {timeout:g} s"
                + (f": {self.last_error}" if self.last_error else "")
            ) from None
        if self._closed:
            raise BusError("MQTT bus is closed")

    # -- Bus ---------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the connection task; wait up to ``connect_timeout`` for the first
        connection (then :class:`BusError`, the bus closed). Idempotent: on a bus that
        has connected once it returns at once, whether or not it is connected now (a
        reconnection is the connection task's business, never a reason to close), and a
        second caller waiting for the first connection does not close the bus."""
        if self._closed:
            raise BusError("MQTT bus is closed; make a new one")
        first = self._task is None
        if first:
            self._task = asyncio.create_task(self._run(), name=f"mqtt-bus {self.client_id}")
        elif self.connections:
            return
        if self.connect_timeout is not None:
            try:
                await self._wait_first_connection(self.connect_timeout)
            except BusError:
                if first:
                    await self.close()
                raise

    async def _wait_first_connection(self, timeout: float) -> None:
        """Like :meth:`wait_connected`, but give up at once if the broker refuses us
        (bad credentials, client id rejected): retrying will not change its mind."""
        waiters = [
            asyncio.ensure_future(self._connected_event.wait()),
            asyncio.ensure_future(self._refused.wait()),
        ]
        try:
            await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for w in waiters:
                w.cancel()
            await asyncio.gather(*waiters, return_exceptions=True)
        if self.connected:
            return
        if self._refused.is_set():
            raise BusError(f"{self._where()} refused the connection: {self.last_error}")
        raise BusError(
            f"not connected to {self._where()} after {timeout:g} s"
            + (f": {self.last_error}" if self.last_error else "")
        )

    async def close(self) -> None:
        """Disconnect cleanly, stop the connection task, end :meth:`messages`."""
        if self._closed:
            return
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task})
            if not task.cancelled() and task.exception() is not None:
                log.error("MQTT bus task failed", exc_info=task.exception())
        self._set_disconnected()
        self._connected_event.set()  # wake wait_connected() callers; they see _closed
        self._queue.put_nowait(None)

    async def subscribe(self, pattern: str) -> None:
        """Subscribe at QoS 1 now if connected, and after every reconnect.

        :class:`ValueError` for an invalid filter; :class:`BusError` if the broker
        refuses it. While disconnected, the pattern is subscribed on reconnect.
        """
        await self.subscribe_many([pattern])

    async def subscribe_many(self, patterns: Iterable[str]) -> None:
        """Subscribe every filter of ``patterns`` at QoS 1, :data:`SUBSCRIBE_BATCH` per
        SUBSCRIBE packet with up to :data:`SUBSCRIBE_IN_FLIGHT` packets in flight.

        Every filter is checked before any is sent (:class:`ValueError` for an invalid
        one, nothing subscribed); :class:`BusError` if the broker refuses some. While
        disconnected, they are subscribed on (re)connection.
        """
        wanted = list(dict.fromkeys(patterns))
        for pattern in wanted:
            validate_topic_filter(pattern)
        fresh = [p for p in wanted if p not in self._patterns]
        for pattern in fresh:
            self._patterns[pattern] = None
            self._unsubscribing.pop(pattern, None)
        client = self._client if self.connected else None
        if client is None or not fresh:
            return
        # A connection lost meanwhile ends the wait at once (the SUBACK would never come;
        # aiomqtt would wait its whole timeout): the run task subscribes every pattern
        # again on the next connection.
        lost = self._lost
        sub = asyncio.ensure_future(self._subscribe_batches(client, fresh))
        gone = asyncio.ensure_future(lost.wait())
        try:
            await asyncio.wait({sub, gone}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            gone.cancel()
        if not sub.done():
            sub.cancel()
            with contextlib.suppress(asyncio.CancelledError, aiomqtt.MqttError, BusError):
                await sub
            log.info("subscribing %d filter(s) deferred to the next connection", len(fresh))
            return
        try:
            sub.result()
        except aiomqtt.MqttError as exc:
            log.info(
                "subscribing %d filter(s) deferred to the next connection: %s", len(fresh), exc
            )

    async def unsubscribe(self, pattern: str) -> None:
        """Unsubscribe ``pattern`` at the broker (now if connected, else on the next
        connection: a persistent session keeps filters of earlier runs)."""
        validate_topic_filter(pattern)
        self._patterns.pop(pattern, None)
        self._unsubscribing[pattern] = None
        client = self._client if self.connected else None
        if client is None:
            return
        try:
            await client.unsubscribe(pattern)
            self._unsubscribing.pop(pattern, None)
        except aiomqtt.MqttError as exc:
            log.info("unsubscribe %s deferred to the next connection: %s", pattern, exc)

    async def publish(self, message: BusMessage) -> None:
        """Publish at QoS 1 and wait for the broker's PUBACK.

        Raises :class:`BusError` at once while disconnected, as soon as the connection
        drops before the acknowledgement, and after ``publish_timeout`` without one.
        """
        topic = message.topic
        if any(c in topic for c in "+#\0"):
            raise ValueError(f"cannot publish to {topic!r}: wildcard or NUL in topic")
        client = self._client
        if not self.connected or client is None:
            raise BusError(
                f"not connected to {self._where()}"
                + (f" ({self.last_error})" if self.last_error else "")
            )
        # paho directly, its PUBACK awaited on one future (see _on_puback): aiomqtt's
        # publish costs two tasks, an event and a scan of its pending calls per message.
        try:
            info = client._client.publish(topic, message.frame, qos=QOS)
        except ValueError as exc:  # paho: payload too large, bad topic
            raise BusError(f"publish to {self.url} failed: {exc}") from exc
        if info.rc != paho.MQTT_ERR_SUCCESS:
            raise BusError(f"publish to {self.url} failed: {paho.error_string(info.rc)}")
        if info.is_published():
            return
        loop = asyncio.get_running_loop()
        ack: asyncio.Future[None] = loop.create_future()
        self._acks[info.mid] = ack
        timer = loop.call_later(self.publish_timeout, self._expire, info.mid, ack)
        try:
            await ack
        finally:
            timer.cancel()
            if self._acks.get(info.mid) is ack:
                del self._acks[info.mid]

    def _on_puback(self, mid: int) -> bool:
        """paho's on_publish for a message :meth:`publish` awaits: True when it was one."""
        ack = self._acks.pop(mid, None)
        if ack is None:
            return False
        if not ack.done():
            ack.set_result(None)
        return True

    def _expire(self, mid: int, ack: asyncio.Future[None]) -> None:
        if self._acks.get(mid) is ack:
            del self._acks[mid]
        if not ack.done():
            ack.set_exception(
                BusError(
                    f"publish to {self.url} failed: no acknowledgement within "
                    f"{self.publish_timeout:g} s"
                )
            )

    async def messages(self) -> AsyncIterator[BusMessage]:  # type: ignore[override]
        """Received messages, across reconnects, until :meth:`close`."""
        while True:
            m = await self._queue.get()
            if m is None:
                self._queue.put_nowait(None)  # end other readers too
                return
            yield m

    # -- the connection task -----------------------------------------------------------

    def _attempt_timeout(self) -> float:
        """Seconds one connection attempt may take. With several brokers, a share of
        ``connect_timeout``: a node that swallows packets must not use up the whole first
        connection's time before the others are tried."""
        total = self.connect_timeout or 10.0
        if len(self.addresses) == 1:
            return total
        return max(1.0, total / len(self.addresses))

    def _new_client(self, address: BrokerAddress) -> aiomqtt.Client:
        client = aiomqtt.Client(
            address.host,
            address.port,
            username=address.username,
            password=address.password,
            identifier=self.client_id,
            clean_session=not self.persistent,
            keepalive=self.keepalive,
            timeout=self._attempt_timeout(),
            tls_context=self._tls_context if address.tls else None,
            queue_type=_forwarding_queue(self._on_message),
            logger=log.getChild("client"),  # paho's own messages (socket errors...)
        )
        # aiomqtt warns past 10 concurrent calls; a busy publisher has more in flight.
        client.pending_calls_threshold = 100_000
        client._client.max_inflight_messages_set(MAX_INFLIGHT)
        chained = client._client.on_publish

        def on_publish(*args: Any) -> None:  # (client, userdata, mid, reason, properties)
            if not self._on_puback(args[2]) and chained is not None:
                chained(*args)

        client._client.on_publish = on_publish
        return client

    async def _run(self) -> None:
        delay = self.reconnect_min
        while not self._closed:
            previous_error = self.last_error
            url = self.url
            client = self._new_client(self.address)
            try:
                async with client:
                    await self._on_connected(client)
                    delay = self.reconnect_min
                    # The forwarding queue is always empty: this only waits for the
                    # connection to end, which raises MqttError.
                    async for _ in client.messages:
                        pass
            except aiomqtt.MqttError as exc:
                cause = f" ({exc.__cause__})" if exc.__cause__ else ""
                self.last_error = (str(exc) or type(exc).__name__) + cause
                if isinstance(exc, MqttConnectError) and not self.connections:
                    self._refusals.add(self._index)
                    if len(self._refusals) == len(self.addresses):
                        self._refused.set()
                if self.connected:
                    log.warning("MQTT connection to %s lost: %s", url, self.last_error)
                elif self.last_error != previous_error:  # say it once, not every retry
                    log.warning("MQTT connect to %s failed: %s", url, self.last_error)
                else:
                    log.debug("MQTT connect to %s failed: %s", url, self.last_error)
            except Exception as exc:  # never let the connection task die: log, retry
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("MQTT connection to %s failed unexpectedly", url)
            finally:
                self._set_disconnected()
            # The next attempt goes to the next broker of the list (a cluster's node
            # that is still up, with luck); a single broker is simply tried again.
            self._index = (self._index + 1) % len(self.addresses)
            await asyncio.sleep(delay * random.uniform(1.0, 1.25))
            delay = min(delay * 2, self.reconnect_max)

    async def _on_connected(self, client: aiomqtt.Client) -> None:
        _no_delay(client)
        # Loop: subscribe() may add patterns while this awaits; they are sent here,
        # since the client is not published as connected yet.
        done: set[str] = set()
        while pending := [p for p in self._patterns if p not in done]:
            done.update(pending)
            try:
                await self._subscribe_batches(client, pending)
            except BusError as exc:
                log.error("%s", exc)
        for pattern in list(self._unsubscribing):
            await client.unsubscribe(pattern)
            self._unsubscribing.pop(pattern, None)
        self._client = client
        self.connections += 1
        if self.connections > 1:
            self.reconnects += 1
            log.info("MQTT reconnected to %s (reconnect %d)", self.url, self.reconnects)
        self.last_error = None
        self._connected_event.set()

    async def _subscribe_batches(self, client: aiomqtt.Client, patterns: list[str]) -> None:
        """Subscribe ``patterns`` in batched SUBSCRIBE packets; :class:`BusError` naming
        the refused filters (the others stay subscribed); ``MqttError`` if the
        connection fails."""
        gate = asyncio.Semaphore(SUBSCRIBE_IN_FLIGHT)

        async def one(batch: list[str]) -> list[str]:
            async with gate:
                result: Any = await client.subscribe([(p, QOS) for p in batch])
            codes = list(result) if isinstance(result, list | tuple) else [result]
            return [
                p
                for p, c in zip(batch, codes, strict=False)
                if getattr(c, "is_failure", False) or c == 0x80
            ]

        batches = [
            patterns[i : i + SUBSCRIBE_BATCH] for i in range(0, len(patterns), SUBSCRIBE_BATCH)
        ]
        results = await asyncio.gather(*(one(b) for b in batches), return_exceptions=True)
        refused: list[str] = []
        for r in results:
            if isinstance(r, BaseException):
                raise r
            refused.extend(r)
        if refused:
            shown = ", ".join(repr(p) for p in refused[:3])
            more = f" and {len(refused) - 3} more" if len(refused) > 3 else ""
            raise BusError(f"broker {self.url} refused subscription {shown}{more}")

    def _set_disconnected(self) -> None:
        self._connected_event.clear()
        self._lost.set()  # subscribe_many calls waiting on this connection give up
        self._lost = asyncio.Event()
        self._client = None
        acks, self._acks = self._acks, {}  # message ids restart with the next client
        for ack in acks.values():
            if not ack.done():
                ack.set_exception(
                    BusError(f"connection to {self.url} lost before the broker acknowledged")
                )

    def _on_message(self, message: aiomqtt.Message) -> None:
        payload = message.payload
        if not isinstance(payload, bytes | bytearray):
            payload = b"" if payload is None else str(payload).encode()
        try:
            bus_message = BusMessage.from_topic(message.topic.value, bytes(payload))
        except ValueError as exc:
            self.dropped += 1
            log.warning("dropped MQTT message: %s", exc)
            return
        self._queue.put_nowait(bus_message)

    def __repr__(self) -> str:
        state = "connected" if self.connected else "disconnected"
        more = f" (+{len(self.addresses) - 1} more)" if len(self.addresses) > 1 else ""
        return (
            f"<MqttBus {self.url}{more} id={self.client_id} {state} reconnects={self.reconnects}>"
        )
