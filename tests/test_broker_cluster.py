"""Brokers, plural: :class:`MqttBus` over a list of broker URLs, and a real three-node
cluster (NATS with MQTT over JetStream, tests/cluster.py) losing a node mid-stream.

The cluster tests carry the marker ``broker_cluster`` and skip with a reason without
Debian's ``nats-server`` (``GBCS_REQUIRE_BROKER_CLUSTER=1`` makes that a failure). The
list and failover-order tests run on three independent single brokers of
tests/brokers.py (mosquitto, else amqtt), where which node answers is deterministic.
"""

from __future__ import annotations

import asyncio
import collections
import socket

import click
import pytest

from emulator.transport.access import from_cli
from emulator.transport.base import BusError, BusMessage, Channel
from emulator.transport.broker import free_port
from emulator.transport.mqtt import MqttBus, parse_broker_urls
from tests import cluster as cluster_module
from tests.brokers import publish_from_outbox, running_broker
from tests.cluster import nats_cluster
from tests.statekit import cli

GUARD = 120.0  # hang guard for whole phases; never a performance assertion
EUI = "00DB1234567890A1"


def msg(n: int, site: str = "cluster", channel: Channel = Channel.IN) -> BusMessage:
    return BusMessage(site, EUI, channel, n.to_bytes(4, "big") + b"\xde\xad")


def seq(m: BusMessage) -> int:
    return int.from_bytes(m.frame[:4], "big")


async def connected_to(bus: MqttBus, url: str) -> None:
    """Wait (under the guard) until ``bus`` is connected to ``url``."""

    async def poll() -> None:
        while bus.connected_url != url:
            await asyncio.sleep(0.05)

    await asyncio.wait_for(poll(), GUARD)


# -- the list of URLs --------------------------------------------------------------------


def test_parse_broker_urls_list_commas_and_order() -> None:
    one = parse_broker_urls("mqtt://a")
    assert [str(a) for a in one] == ["mqtt://a:1883"]
    listed = parse_broker_urls(" mqtt://a:1 , mqtts://b ,mqtt://u@c:3")
    assert [str(a) for a in listed] == ["mqtt://a:1", "mqtts://b:8883", "mqtt://u@c:3"]
    assert parse_broker_urls(["mqtt://a:1", "mqtt://b:2,mqtt://c:3"]) == parse_broker_urls(
        "mqtt://a:1,mqtt://b:2,mqtt://c:3"
    )


@pytest.mark.parametrize(
    ("urls", "fragments"),
    [
        ("mqtt://a:1,http://b:2", ["'http://b:2'", "mqtt:// or mqtts://", "entry 2 of 2"]),
        ("mqtt://a:1,,mqtt://c:3", ["empty broker URL", "entry 2 of 3"]),
        ("mqtt://a:1,mqtt://b:x", ["'mqtt://b:x'", "entry 2 of 2"]),
        ("mqtt://a:1,mqtt://b:2,mqtt://a:1", ["a:1 is listed twice", "entry 3 of 3"]),
        ("", ["no broker URL"]),
        (" , ", ["no broker URL"]),
    ],
)
def test_parse_broker_urls_names_the_bad_one(urls: str, fragments: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        parse_broker_urls(urls)
    for f in fragments:
        assert f in str(err.value)


def test_an_error_in_the_list_never_shows_another_entry_password() -> None:
    with pytest.raises(ValueError) as err:
        parse_broker_urls("mqtt://u:secret@a:1,http://b:2")
    assert "'http://b:2'" in str(err.value) and "secret" not in str(err.value)


def test_bus_checks_every_url_before_connecting() -> None:
    with pytest.raises(ValueError, match=r"'ftp://b'.*entry 3 of 3"):
        MqttBus(["mqtt://127.0.0.1:1", "mqtt://127.0.0.1:2", "ftp://b"])
    bus = MqttBus("mqtt://127.0.0.1:1,mqtt://u@127.0.0.1:2", password="pw")
    assert bus.urls == ("mqtt://127.0.0.1:1", "mqtt://u@127.0.0.1:2")
    assert all(a.password == "pw" for a in bus.addresses)
    assert bus.url == "mqtt://127.0.0.1:1"  # the first is tried first
    assert bus.connected_url is None


def test_cli_access_takes_a_list() -> None:
    access = from_cli("mqtt://a:1, mqtt://b")
    assert access.url == "mqtt://a:1,mqtt://b:1883"
    assert access.bus().urls == ("mqtt://a:1", "mqtt://b:1883")
    with pytest.raises(click.BadParameter, match="password"):
        from_cli("mqtt://a:1,mqtt://u:secret@b:2")


@pytest.mark.parametrize(
    ("value", "fragments"),
    [
        ("mqtt://h:1,http://x", ["--broker", "'http://x'", "entry 2 of 2", "mqtt:// or mqtts://"]),
        ("mqtt://h:1,mqtt://h:1", ["--broker", "h:1 is listed twice"]),
    ],
)
def test_cli_bad_broker_in_list_is_one_clear_line(value: str, fragments: list[str]) -> None:
    r = cli("run", "--broker", value, "--check", timeout=90)
    assert r.returncode != 0
    assert "Traceback" not in r.stdout + r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error")]
    assert len(errors) == 1, r.stderr
    for f in fragments:
        assert f in r.stderr, (f, r.stderr)


@pytest.mark.asyncio
async def test_first_connection_tries_the_urls_in_order() -> None:
    dead = f"mqtt://127.0.0.1:{free_port()}"
    async with running_broker() as b1, running_broker() as b2:
        bus = MqttBus([dead, b1.url, b2.url], connect_timeout=GUARD)
        async with bus:
            assert bus.connected_url == b1.url  # not b2: the list is tried in order
            assert (bus.connections, bus.reconnects) == (1, 0)
    nobody = MqttBus([dead, f"mqtt://127.0.0.1:{free_port()}"], connect_timeout=1.0)
    with pytest.raises(BusError, match=r"not connected to any of mqtt://127\.0\.0\.1:"):
        await nobody.start()


@pytest.mark.asyncio
async def test_a_silent_first_broker_does_not_use_up_the_connect_timeout() -> None:
    """A node that accepts TCP but never answers (as one cut off by a firewall that
    drops its replies would): the first connection still reaches the second URL
    within ``connect_timeout``, since one attempt gets only a share of it."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # the kernel completes handshakes; nobody ever reads
        mute = f"mqtt://127.0.0.1:{silent.getsockname()[1]}"
        async with running_broker() as b:
            bus = MqttBus([mute, b.url], connect_timeout=6.0)
            async with bus:
                assert bus.connected_url == b.url


@pytest.mark.asyncio
async def test_failover_goes_round_robin_to_the_next_surviving_broker() -> None:
    """Lose the broker in use: the bus goes to the *next* one of the list (not back to
    the first), wrapping around at the end, and subscribes again there."""
    async with running_broker() as b1, running_broker() as b2, running_broker() as b3:
        bus = MqttBus([b1.url, b2.url, b3.url], reconnect_max=0.5, connect_timeout=GUARD)
        await bus.subscribe("gbcs/rr/+/out")
        async with bus:
            assert bus.connected_url == b1.url
            await b1.stop()
            await connected_to(bus, b2.url)
            await b1.start()  # the first is back, but the next in turn is b3
            await b2.stop()
            await connected_to(bus, b3.url)
            await b3.stop()  # wraps around to b1 (b2 still down)
            await connected_to(bus, b1.url)
            assert bus.reconnects == 3
            # Subscribed again on b1: the bus hears its own publication there.
            mark = msg(7, site="rr", channel=Channel.OUT)
            await bus.publish(mark)
            got = await asyncio.wait_for(anext(aiter(bus.messages())), GUARD)
            assert got == mark


# -- the three-node cluster --------------------------------------------------------------


def test_cluster_tests_skip_with_a_reason_without_nats_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cluster_module, "find_nats_server", lambda: None)
    monkeypatch.delenv(cluster_module.REQUIRE_ENV, raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"apt-get install nats-server"):
        cluster_module.require_nats_server()
    monkeypatch.setenv(cluster_module.REQUIRE_ENV, "1")
    with pytest.raises(pytest.fail.Exception, match=r"GBCS_REQUIRE_BROKER_CLUSTER=1"):
        cluster_module.require_nats_server()


@pytest.mark.broker_cluster
@pytest.mark.asyncio
async def test_qos1_session_survives_the_loss_of_its_node() -> None:
    """A persistent-session subscriber on the node that leads the MQTT message stream,
    a publisher on another; that node is stopped mid-stream. The subscriber resumes its
    session on a surviving node and ends with every message published, none lost; the
    node is restarted and rejoins."""
    total, stop_at = 600, 200
    async with nats_cluster() as cluster:
        # Start the subscriber on the stream leader's node, so its loss costs both the
        # client's connection and the stream's leader.
        victim = cluster.stream_leader("$MQTT_msgs")
        victim = 0 if victim is None else victim
        order = [(victim + i) % 3 for i in range(3)]
        sub_urls = [cluster.url(i) for i in order]
        pub_urls = [cluster.url(i) for i in order[1:] + order[:1]]

        sub = MqttBus(
            sub_urls,
            client_id="gbcs-emu-cluster-w0",
            persistent=True,
            connect_timeout=GUARD,
            reconnect_max=1.0,
        )
        await sub.subscribe("gbcs/cluster/+/in")  # as an emulator worker subscribes
        pub = MqttBus(pub_urls, connect_timeout=GUARD, publish_timeout=30, reconnect_max=1.0)
        await sub.start()
        await pub.start()
        assert sub.connected_url == cluster.url(victim)
        assert pub.connected_url == cluster.url(order[1])

        received: collections.Counter[int] = collections.Counter()
        everything = asyncio.Event()

        async def consume() -> None:
            async for m in sub.messages():
                received[seq(m)] += 1
                if len(received) == total:
                    everything.set()

        consumer = asyncio.create_task(consume())
        try:
            retries, stopper = await asyncio.wait_for(
                publish_from_outbox(
                    pub,
                    (msg(n) for n in range(total)),
                    at=stop_at,
                    then=lambda: cluster.stop_node(victim),
                    guard=GUARD,
                ),
                GUARD,
            )
            assert stopper is not None
            await stopper
            await asyncio.wait_for(everything.wait(), GUARD)
            assert sub.connected_url not in (None, cluster.url(victim))

            # The node comes back with its store and rejoins; the session goes on.
            await cluster.start_node(victim)
            after = msg(total)
            await asyncio.wait_for(pub.publish(after), GUARD)

            async def heard() -> None:
                while total not in received:
                    await asyncio.sleep(0.05)

            await asyncio.wait_for(heard(), GUARD)
        finally:
            consumer.cancel()
            await pub.close()
            await sub.close()

    assert sorted(received) == list(range(total + 1))  # every one, none lost
    duplicates = sum(received.values()) - len(received)
    assert sub.reconnects >= 1
    print(
        f"cluster: {total + 1} published, {len(received)} received, {duplicates} duplicates, "
        f"{retries} publish retries, subscriber reconnects {sub.reconnects}, "
        f"publisher reconnects {pub.reconnects}"
    )


@pytest.mark.broker_cluster
@pytest.mark.asyncio
async def test_cluster_failover_follows_the_url_list() -> None:
    """On the cluster: first connection to the first URL of the list, and after its
    node is stopped, to a surviving node, with the persistent session kept: messages
    published while the client was between nodes are delivered."""
    async with nats_cluster() as cluster:
        urls = [cluster.url(2), cluster.url(0), cluster.url(1)]
        bus = MqttBus(urls, client_id="gbcs-order", persistent=True, connect_timeout=GUARD)
        await bus.subscribe("gbcs/order/+/in")
        async with bus:
            assert bus.connected_url == cluster.url(2)
        # Away now: the session, on the cluster, keeps queueing for it.
        async with MqttBus(cluster.url(1), connect_timeout=GUARD) as pub:
            for n in range(20):
                await pub.publish(msg(n, site="order"))
        await cluster.stop_node(2)
        back = MqttBus(urls, client_id="gbcs-order", persistent=True, connect_timeout=GUARD)
        await back.subscribe("gbcs/order/+/in")
        async with back:
            assert back.connected_url in (cluster.url(0), cluster.url(1))
            got: set[int] = set()

            async def drain() -> None:
                async for m in back.messages():
                    got.add(seq(m))
                    if len(got) == 20:
                        return

            await asyncio.wait_for(drain(), GUARD)
        assert got == set(range(20))
