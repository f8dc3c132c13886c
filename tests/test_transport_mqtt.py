"""MqttBus and the broker launchers, against real brokers on free ports (tests/brokers.py)."""

from __future__ import annotations

import asyncio
import collections
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

import aiomqtt
import pytest
import pytest_asyncio

from emulator.processes import pid_alive
from emulator.transport.base import BusError, BusMessage, Channel
from emulator.transport.broker import (
    BrokerStartError,
    ChildBroker,
    EmbeddedBroker,
    MosquittoBroker,
    best_available_broker,
    free_port,
)
from emulator.transport.mqtt import MqttBus, parse_broker_url, validate_topic_filter
from tests.brokers import publish_from_outbox

pytest_plugins = ("tests.brokers",)  # the broker fixtures

GUARD = 60.0  # hang guard for whole phases; never a performance assertion
EUI_A = "00DB1234567890A1"
EUI_B = "00DB1234567890B2"
ROOT = Path(__file__).resolve().parents[1]


def msg(site: str, eui: str, channel: Channel, n: int) -> BusMessage:
    return BusMessage(site, eui, channel, n.to_bytes(4, "big") + b"\xde\xad")


def seq(m: BusMessage) -> int:
    return int.from_bytes(m.frame[:4], "big")


async def collect_until(bus: MqttBus, done: object) -> list[BusMessage]:
    """Messages until (and including) the one equal to ``done``."""
    got: list[BusMessage] = []

    async def run() -> None:
        async for m in bus.messages():
            got.append(m)
            if m == done:
                return

    await asyncio.wait_for(run(), GUARD)
    return got


async def stream(bus: MqttBus, messages: Iterable[BusMessage], window: int = 50) -> None:
    """Publish in windows of concurrent QoS 1 publishes (each waits for its PUBACK)."""
    pending = list(messages)
    for i in range(0, len(pending), window):
        await asyncio.gather(*(bus.publish(m) for m in pending[i : i + window]))


@pytest_asyncio.fixture
async def pair(broker: ChildBroker) -> AsyncIterator[tuple[MqttBus, MqttBus]]:
    """(emulator side, head-end side), both connected."""
    emu, head = MqttBus(broker.url), MqttBus(broker.url)
    await emu.start()
    await head.start()
    try:
        yield emu, head
    finally:
        await emu.close()
        await head.close()


# -- URLs and arguments ------------------------------------------------------------------


def test_parse_broker_url() -> None:
    a = parse_broker_url("mqtt://127.0.0.1:1884")
    assert (a.host, a.port, a.tls, a.username, a.password) == ("127.0.0.1", 1884, False, None, None)
    a = parse_broker_url("mqtt://meter%40lab:p%3Ass@broker.example")
    assert (a.host, a.port, a.username, a.password) == ("broker.example", 1883, "meter@lab", "p:ss")
    assert "p:ss" not in str(a)
    a = parse_broker_url("mqtts://broker.example")
    assert (a.port, a.tls) == (8883, True)
    assert parse_broker_url("MQTT://[::1]:1999/").host == "::1"


@pytest.mark.parametrize(
    "url",
    ["http://h:1", "mqtt://", "mqtt://h:notaport", "mqtt://h:70000", "mqtt://h/x", "h:1883", ""],
)
def test_parse_broker_url_rejects(url: str) -> None:
    with pytest.raises(ValueError, match="broker URL"):
        parse_broker_url(url)


@pytest.mark.parametrize("pattern", ["", "a/#/b", "a/b#", "a/+b/c", "x\0"])
def test_invalid_topic_filters(pattern: str) -> None:
    with pytest.raises(ValueError):
        validate_topic_filter(pattern)


def test_persistent_needs_client_id() -> None:
    with pytest.raises(ValueError, match="client_id"):
        MqttBus("mqtt://127.0.0.1:1", persistent=True)


@pytest.mark.asyncio
async def test_credentials_from_the_url(mosquitto_required: None) -> None:
    async with MosquittoBroker(users={"head-end": "s3cret:/@"}) as b:
        good = f"mqtt://head-end:s3cret%3A%2F%40@127.0.0.1:{b.port}"
        async with MqttBus(good) as bus:
            assert isinstance(bus, MqttBus)
            await bus.subscribe("gbcs/+/+/in")
            m = msg("auth", EUI_A, Channel.IN, 1)
            consumer = asyncio.create_task(collect_until(bus, m))
            await bus.publish(m)
            assert await consumer == [m]
        for url in (f"mqtt://head-end:wrong@127.0.0.1:{b.port}", b.url):
            with pytest.raises(BusError, match=r"refused.*(?i:not authori[sz]ed)"):
                await MqttBus(url, connect_timeout=GUARD).start()


# -- round trips -------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_round_trip_with_wildcards(pair: tuple[MqttBus, MqttBus]) -> None:
    emu, head = pair
    await emu.subscribe("gbcs/+/+/in")
    await head.subscribe("gbcs/+/+/out")
    await head.subscribe("gbcs/north/#")
    with pytest.raises(ValueError):
        await head.subscribe("gbcs/#/in")

    commands = [msg("north", EUI_A, Channel.IN, 1), msg("south", EUI_B, Channel.IN, 2)]
    for m in commands:
        await head.publish(m)
    cmd_done = msg("south", EUI_A, Channel.IN, 99)
    await head.publish(cmd_done)
    # 'in' messages reach the emulator only; head-end hears its own 'north' one via '#'.
    assert await collect_until(emu, cmd_done) == [*commands, cmd_done]

    replies = [
        msg("south", EUI_B, Channel.OUT, 3),  # matches gbcs/+/+/out
        msg("south", EUI_B, Channel.ALERT, 4),  # matches nothing
        msg("north", EUI_A, Channel.ALERT, 5),  # matches gbcs/north/#
    ]
    for m in replies:
        await emu.publish(m)
    done = msg("north", EUI_A, Channel.OUT, 100)  # matches both patterns: delivered once
    await emu.publish(done)
    got = await collect_until(head, done)
    assert got == [commands[0], replies[0], replies[2], done]
    assert emu.reconnects == head.reconnects == 0


@pytest.mark.asyncio
async def test_foreign_topics_are_dropped_not_fatal(broker: ChildBroker) -> None:
    async with MqttBus(broker.url) as bus:
        assert isinstance(bus, MqttBus)
        await bus.subscribe("gbcs/#")
        addr = parse_broker_url(broker.url)
        async with aiomqtt.Client(addr.host, addr.port) as raw:
            await raw.publish("gbcs/site/not-an-eui/in", b"x", qos=1)
            await raw.publish("gbcs/site/00DB1234567890A1/sideways", b"x", qos=1)
            await raw.publish("gbcs/site/00db1234567890a1/in", b"ok", qos=1)
        good = BusMessage("site", EUI_A, Channel.IN, b"ok")
        assert await collect_until(bus, good) == [good]
        assert bus.dropped == 2
        assert bus.connected


@pytest.mark.asyncio
async def test_publish_rejects_wildcard_topic(pair: tuple[MqttBus, MqttBus]) -> None:
    with pytest.raises(ValueError, match="wildcard"):
        await pair[0].publish(BusMessage("+", EUI_A, Channel.IN, b""))


@pytest.mark.asyncio
async def test_qos1_2000_messages_no_loss(pair: tuple[MqttBus, MqttBus]) -> None:
    emu, head = pair
    await emu.subscribe("gbcs/load/+/in")
    sent = [msg("load", EUI_A if n % 2 else EUI_B, Channel.IN, n) for n in range(2000)]
    consumer = asyncio.create_task(collect_until(emu, sent[-1]))
    await asyncio.wait_for(stream(head, sent), GUARD)
    got = await consumer
    assert sorted(seq(m) for m in got) == list(range(2000))
    # One publisher, one subscriber, one QoS: MQTT keeps per-topic order.
    for eui in (EUI_A, EUI_B):
        ours = [seq(m) for m in got if m.eui == eui]
        assert ours == sorted(ours)


# -- outages -----------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_start_fails_clearly_without_broker() -> None:
    bus = MqttBus(f"mqtt://127.0.0.1:{free_port()}", connect_timeout=1.0)
    with pytest.raises(BusError, match="not connected"):
        await bus.start()
    assert not bus.connected
    with pytest.raises(BusError):
        await bus.publish(msg("s", EUI_A, Channel.IN, 0))
    with pytest.raises(BusError, match="closed"):
        await bus.start()


@pytest.mark.asyncio
async def test_outage_publish_fails_fast_then_reconnects(broker: ChildBroker) -> None:
    await broker.stop()
    # publish_timeout far above the guard: a publish waiting for a PUBACK would trip it.
    bus = MqttBus(broker.url, connect_timeout=None, publish_timeout=600, reconnect_max=0.5)
    try:
        await bus.start()  # returns at once; connects in the background
        await bus.subscribe("gbcs/+/+/out")
        assert not bus.connected
        with pytest.raises(BusError, match="not connected"):
            await asyncio.wait_for(bus.publish(msg("s", EUI_A, Channel.OUT, 0)), 20)
        with pytest.raises(BusError, match="not connected"):
            await bus.wait_connected(0.3)

        await broker.start()  # same port
        await bus.wait_connected(GUARD)
        assert (bus.connections, bus.reconnects) == (1, 0)
        m1 = msg("s", EUI_A, Channel.OUT, 1)
        consumer = asyncio.create_task(collect_until(bus, m1))
        await bus.publish(m1)  # subscribed on connect: the bus hears itself
        assert await consumer == [m1]

        await broker.stop()
        with pytest.raises(BusError):
            await asyncio.wait_for(bus.publish(msg("s", EUI_A, Channel.OUT, 2)), 20)
        await broker.start()
        await bus.wait_connected(GUARD)
        assert bus.reconnects == 1
        m3 = msg("s", EUI_A, Channel.OUT, 3)
        consumer = asyncio.create_task(collect_until(bus, m3))
        await bus.publish(m3)  # re-subscribed after the reconnect
        assert await consumer == [m3]
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_start_again_during_an_outage_keeps_the_bus(broker: ChildBroker) -> None:
    """A client that calls start() before each use (the control client does) while the
    broker is away must not close the bus: it reconnects when the broker is back."""
    bus = MqttBus(broker.url, connect_timeout=5.0, reconnect_max=0.5)
    try:
        await bus.start()
        await broker.stop()
        async with asyncio.timeout(GUARD):
            while bus.connected:
                await asyncio.sleep(0.05)
        await bus.start()  # at once: no wait, no close
        assert not bus.connected
        await broker.start()
        await bus.wait_connected(GUARD)
        assert bus.reconnects == 1
    finally:
        await bus.close()


@pytest.mark.asyncio
async def test_broker_restart_mid_stream_loses_nothing(
    mosquitto_broker: MosquittoBroker,
) -> None:
    """2,000 messages, broker restarted in the middle, sender retrying from an outbox:
    the persistent-session subscriber ends with all of them."""
    mq = mosquitto_broker
    total, restart_at = 2000, 700
    sub = MqttBus(mq.url, client_id="gbcs-test-restart-sub", persistent=True)
    await sub.subscribe("gbcs/stream/+/alert")
    await sub.start()
    pub = MqttBus(mq.url, reconnect_max=0.5)
    await pub.start()

    received: collections.Counter[int] = collections.Counter()

    async def consume() -> None:
        async for m in sub.messages():
            received[seq(m)] += 1
            if len(received) == total:
                return

    async def restart() -> None:
        await mq.stop()
        await asyncio.sleep(0.3)  # the sender meets a dead broker for a while
        await mq.start()

    consumer = asyncio.create_task(consume())
    try:
        retries, restarter = await asyncio.wait_for(
            publish_from_outbox(
                pub,
                (msg("stream", EUI_A, Channel.ALERT, n) for n in range(total)),
                at=restart_at,
                then=restart,
                guard=GUARD,
            ),
            GUARD,
        )
        assert restarter is not None
        await restarter
        await asyncio.wait_for(consumer, GUARD)
    finally:
        consumer.cancel()
        await pub.close()
        await sub.close()

    assert sorted(received) == list(range(total))
    duplicates = sum(received.values()) - total
    assert duplicates >= 0
    assert retries >= 1  # the sender really met the outage
    assert sub.reconnects >= 1 and pub.reconnects >= 1
    print(f"restart: {retries} retries, {duplicates} duplicates, {sub.reconnects} reconnects")


@pytest.mark.asyncio
async def test_persistent_session_queues_while_subscriber_away(
    mosquitto_broker: MosquittoBroker,
) -> None:
    url = mosquitto_broker.url
    async with MqttBus(url, client_id="gbcs-test-away", persistent=True) as sub:
        await sub.subscribe("gbcs/away/+/in")
    async with MqttBus(url) as pub:
        for n in range(50):
            await pub.publish(msg("away", EUI_B, Channel.IN, n))
    await mosquitto_broker.restart()  # the queue survives a restart too (persistence)
    # No subscribe() this time: the broker kept the session's subscription.
    back = MqttBus(url, client_id="gbcs-test-away", persistent=True)
    await back.start()
    try:
        got = await collect_until(back, msg("away", EUI_B, Channel.IN, 49))
    finally:
        await back.close()
    assert [seq(m) for m in got] == list(range(50))


@pytest.mark.asyncio
async def test_close_ends_messages_and_leaves_no_tasks(broker: ChildBroker) -> None:
    bus = MqttBus(broker.url)
    await bus.start()
    await bus.subscribe("gbcs/#")
    reader = asyncio.create_task(collect_until(bus, object()))
    waiter = asyncio.create_task(asyncio.sleep(0))
    await waiter
    await bus.close()
    assert await reader == []
    await bus.close()  # idempotent
    await asyncio.sleep(0.05)  # let cancelled library callbacks run
    others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
    assert others == []
    with pytest.raises(BusError, match="closed"):
        await bus.wait_connected(1)


# -- broker launchers --------------------------------------------------------------------


@pytest.mark.asyncio
async def test_embedded_amqtt_round_trip_and_clean_stop(
    amqtt_broker: EmbeddedBroker,
) -> None:
    b = amqtt_broker
    pid = b.pid
    assert pid is not None and pid_alive(pid)
    assert b.url == f"mqtt://127.0.0.1:{b.port}"
    async with MqttBus(b.url) as emu, MqttBus(b.url) as head:
        await emu.subscribe("gbcs/+/+/in")
        command = msg("amqtt", EUI_A, Channel.IN, 7)
        consumer = asyncio.create_task(collect_until(emu, command))
        await head.publish(command)
        assert await consumer == [command]
    await b.stop()
    assert not pid_alive(pid)
    assert b.pid is None
    await b.stop()  # twice is fine


@pytest.mark.parametrize("kind", ["amqtt", "mosquitto"])
def test_broker_dies_with_its_parent(kind: str, request: pytest.FixtureRequest) -> None:
    """A parent killed without any cleanup must not leave its broker running."""
    if kind == "mosquitto":
        request.getfixturevalue("mosquitto_required")
    script = textwrap.dedent(
        f"""
        import asyncio, os, sys
        from emulator.transport.broker import best_available_broker

        async def main():
            b = best_available_broker({kind!r})
            await b.start()
            print(b.pid, b.workdir, flush=True)
            sys.stdin.readline()  # until the test says die
            os._exit(9)  # no finalizers, no stop(): as a crash

        asyncio.run(main())
        """
    )
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    workdir: Path | None = None
    with subprocess.Popen(
        [sys.executable, "-c", script],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        env=env,
        text=True,
    ) as parent:
        try:
            assert parent.stdout is not None and parent.stdin is not None
            line = parent.stdout.readline().split()
            assert line, "the parent did not start its broker"
            pid, workdir = int(line[0]), Path(line[1])
            assert pid_alive(pid)
            parent.stdin.write("die\n")
            parent.stdin.flush()
            assert parent.wait(timeout=GUARD) == 9
            for _ in range(int(GUARD / 0.05)):
                if not pid_alive(pid):
                    break
                time.sleep(0.05)
            assert not pid_alive(pid), f"{kind} broker pid {pid} outlived its parent"
        finally:
            if parent.poll() is None:
                parent.kill()
            if workdir is not None:
                shutil.rmtree(workdir, ignore_errors=True)


@pytest.mark.asyncio
async def test_best_available_broker_and_bad_kind() -> None:
    kind = best_available_broker().kind
    assert kind in ("mosquitto", "amqtt")
    with pytest.raises(ValueError, match="unknown broker kind"):
        best_available_broker("rabbit")


@pytest.mark.asyncio
async def test_fixed_port_in_use_is_a_clear_error(broker: ChildBroker) -> None:
    other = best_available_broker(broker.kind)
    other._port, other._fixed_port = broker.port, True  # as MosquittoBroker(port=...)
    with pytest.raises(BrokerStartError, match="in use"):
        await other.start()
    assert other.pid is None
    await other.aclose()
    assert broker.running


@pytest.mark.asyncio
async def test_a_subscribe_cut_short_by_a_lost_connection_returns_at_once(
    broker: ChildBroker,
) -> None:
    """A SUBSCRIBE whose SUBACK can no longer come (the connection went) ends when the
    connection is lost, not after ``connect_timeout``; its filters are subscribed on the
    next connection."""
    bus = MqttBus(broker.url, connect_timeout=600, reconnect_max=0.5)
    try:
        await bus.start()
        many = [f"gbcs/site-{i}/+/in" for i in range(100_000)]  # seconds of SUBACKs
        task = asyncio.create_task(bus.subscribe_many(many))
        await asyncio.sleep(0.2)
        assert not task.done()  # still waiting for its SUBACKs
        await broker.stop()
        await asyncio.wait_for(task, 120)  # a guard far below connect_timeout
        await broker.start()
        await bus.wait_connected(GUARD)
        m = msg("site-99999", EUI_A, Channel.IN, 1)
        consumer = asyncio.create_task(collect_until(bus, m))
        await bus.publish(m)  # subscribed again on the new connection
        assert await asyncio.wait_for(consumer, GUARD) == [m]
    finally:
        await bus.close()
