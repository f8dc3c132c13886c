"""TcpServerBus / TcpClientBus over real loopback sockets."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from emulator.transport.base import Bus, BusError, BusMessage, Channel
from emulator.transport.tcp import (
    CTRL_ERROR,
    TcpClientBus,
    TcpServerBus,
    encode_frame,
    read_frame,
)

GUARD = 30.0  # hang guard only
EUI_A = "00DB1234567890A1"
EUI_B = "00DB1234567890B2"


def msg(site: str, eui: str, channel: Channel, n: int) -> BusMessage:
    return BusMessage(site, eui, channel, bytes([0xDD, 0x00, n]))


async def collect_until(bus: Bus, done: BusMessage) -> list[BusMessage]:
    got: list[BusMessage] = []

    async def run() -> None:
        async for m in bus.messages():
            got.append(m)
            if m == done:
                return

    await asyncio.wait_for(run(), GUARD)
    return got


@pytest_asyncio.fixture
async def server() -> AsyncIterator[TcpServerBus]:
    s = TcpServerBus("127.0.0.1", 0)
    await s.start()
    await s.subscribe("gbcs/+/+/in")
    try:
        yield s
    finally:
        await s.close()


async def client(server: TcpServerBus, *patterns: str) -> TcpClientBus:
    c = TcpClientBus("127.0.0.1", server.port)
    await c.start()
    for p in patterns:
        await c.subscribe(p)
    return c


def test_frame_layout() -> None:
    frame = encode_frame("gbcs/s/00DB1234567890A1/in", b"\x01\x02")
    topic = b"gbcs/s/00DB1234567890A1/in"
    assert frame[:4] == struct.pack(">I", 2 + len(topic) + 2)
    assert frame[4:6] == struct.pack(">H", len(topic))
    assert frame[6 : 6 + len(topic)] == topic
    assert frame[6 + len(topic) :] == b"\x01\x02"
    assert encode_frame("$suback", b"") == b"\x00\x00\x00\x09\x00\x07$suback"


@pytest.mark.asyncio
async def test_read_frame_round_trip_and_clean_eof() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(encode_frame("a/b", b"xyz") + encode_frame("c", b""))
    reader.feed_eof()
    assert await read_frame(reader) == ("a/b", b"xyz")
    assert await read_frame(reader) == ("c", b"")
    assert await read_frame(reader) is None


@pytest.mark.asyncio
async def test_round_trip(server: TcpServerBus) -> None:
    head = await client(server, "gbcs/site1/+/out")
    try:
        command = msg("site1", EUI_A, Channel.IN, 1)
        await head.publish(command)
        assert await collect_until(server, command) == [command]

        await server.publish(msg("site2", EUI_A, Channel.OUT, 2))  # not subscribed
        await server.publish(msg("site1", EUI_A, Channel.ALERT, 3))  # not subscribed
        reply = msg("site1", EUI_A, Channel.OUT, 4)
        await server.publish(reply)
        assert await collect_until(head, reply) == [reply]
        assert server.clients == 1
    finally:
        await head.close()


@pytest.mark.asyncio
async def test_many_clients(server: TcpServerBus) -> None:
    sites = ["north", "south", "east"]
    clients = [await client(server, f"gbcs/{s}/+/out", "gbcs/all/+/alert") for s in sites]
    try:
        assert server.clients == 3
        # Every client publishes commands at once; the server hears all of them.
        sent = [msg(s, eui, Channel.IN, n) for n in range(20) for s in sites for eui in (EUI_A,)]
        await asyncio.gather(
            *(
                c.publish(m)
                for c, s in zip(clients, sites, strict=True)
                for m in sent
                if m.site == s
            )
        )
        got: list[BusMessage] = []

        async def take() -> None:
            async for m in server.messages():
                got.append(m)
                if len(got) == len(sent):
                    return

        await asyncio.wait_for(take(), GUARD)
        assert sorted(got, key=repr) == sorted(sent, key=repr)

        # The server's replies go only where they are subscribed.
        for n, s in enumerate(sites):
            await server.publish(msg(s, EUI_B, Channel.OUT, n))
        end = msg("all", EUI_B, Channel.ALERT, 99)
        await server.publish(end)
        for n, (c, s) in enumerate(zip(clients, sites, strict=True)):
            assert await collect_until(c, end) == [msg(s, EUI_B, Channel.OUT, n), end]
    finally:
        for c in clients:
            await c.close()


BAD_FRAMES = {
    "zero length": struct.pack(">I", 0),
    "one byte": struct.pack(">I", 1) + b"\x00",
    "oversize": struct.pack(">I", (1 << 20) + 1),
    "topic overruns": struct.pack(">IH", 4, 9) + b"ab",
    "topic not utf-8": encode_frame("x", b"")[:6] + b"\xff",
    "topic outside the scheme": encode_frame("gbcs/site/not-eui/in", b"\x01"),
    "unknown control": encode_frame("$bogus", b""),
    "bad filter": encode_frame("$subscribe", b"gbcs/#/x"),
}


@pytest.mark.asyncio
@pytest.mark.parametrize("case", sorted(BAD_FRAMES))
async def test_malformed_frame_closes_only_that_client(server: TcpServerBus, case: str) -> None:
    good = await client(server, "gbcs/+/+/out")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(BAD_FRAMES[case])
        await writer.drain()
        # The server explains, then closes this connection.
        topic, reason = await asyncio.wait_for(read_frame(reader), GUARD) or ("", b"")
        assert topic == CTRL_ERROR and reason
        assert await asyncio.wait_for(reader.read(), GUARD) == b""
        writer.close()

        # The server and the other client carry on.
        command = msg("site", EUI_A, Channel.IN, 5)
        await good.publish(command)
        assert await collect_until(server, command) == [command]
        reply = msg("site", EUI_A, Channel.OUT, 6)
        await server.publish(reply)
        assert await collect_until(good, reply) == [reply]
        assert server.rejected == 1
        assert server.clients == 1
    finally:
        await good.close()


@pytest.mark.asyncio
async def test_truncated_frame_at_eof(server: TcpServerBus) -> None:
    good = await client(server)
    try:
        for partial in (b"\x00\x00", encode_frame("gbcs/s/00DB1234567890A1/in", b"abc")[:-1]):
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(partial)
            writer.write_eof()
            # The reason may or may not make it back before the close; the close must.
            while await asyncio.wait_for(reader.read(4096), GUARD):
                pass
            writer.close()
        command = msg("s", EUI_B, Channel.IN, 1)
        await good.publish(command)
        assert await collect_until(server, command) == [command]
        assert server.rejected == 2
    finally:
        await good.close()


@pytest.mark.asyncio
async def test_client_learns_why_it_was_cut_off(server: TcpServerBus) -> None:
    c = await client(server)
    try:
        with pytest.raises(ValueError):
            await c.subscribe("a/#/b")
        await c.publish(BusMessage("s", EUI_A, Channel.IN, b"ok"))
        # A frame the server refuses: BusMessage with a site holding '/' breaks the scheme.
        await c.publish(BusMessage("a/b", EUI_A, Channel.IN, b""))
        assert await asyncio.wait_for(collect_until(c, msg("x", EUI_A, Channel.IN, 0)), GUARD) == []
        assert c.server_error and "not gbcs" in c.server_error
        assert not c.connected
        with pytest.raises(BusError):
            await c.publish(BusMessage("s", EUI_A, Channel.IN, b"late"))
    finally:
        await c.close()


@pytest.mark.asyncio
async def test_server_close_ends_clients() -> None:
    s = TcpServerBus()
    await s.start()
    c = await client(s, "gbcs/#")
    reader_task = asyncio.create_task(collect_until(c, msg("never", EUI_A, Channel.OUT, 0)))
    await s.close()
    assert await reader_task == []
    with pytest.raises(BusError):
        await c.publish(msg("s", EUI_A, Channel.IN, 1))
    with pytest.raises(BusError):
        await s.publish(msg("s", EUI_A, Channel.OUT, 1))
    await c.close()
    await s.close()  # idempotent


@pytest.mark.asyncio
async def test_connect_refused_and_port_taken(server: TcpServerBus) -> None:
    with pytest.raises(BusError, match="cannot listen"):
        await TcpServerBus("127.0.0.1", server.port).start()
    await server.close()
    with pytest.raises(BusError, match="cannot connect"):
        await TcpClientBus("127.0.0.1", server.port).start()
