"""The control API over a serial line: control frames in the gfi and binary framings,
SerialBus mapping them to control/control-reply messages (both sides), ControlLine, and
`hil serve --control` answering a ControlClient over a pty pair while GBCS shares the line.
"""

from __future__ import annotations

import asyncio
import json
import os
import select
import subprocess
import sys
import time
import zlib
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emulator.control_client import ControlFailed, ControlTimeout
from emulator.transport.base import BusError, BusMessage, Channel
from hil.framing import (
    CONTROL_FRAMINGS,
    BinaryFraming,
    ControlFrame,
    GfiFraming,
    RawFraming,
    get_framing,
)
from hil.link import DEVICE_SIDE, HEADEND_SIDE, SerialBus, control_wrapper
from tests.test_hil import linked_ports, served

ROOT = Path(__file__).resolve().parent.parent
GUARD = 60.0  # hang guard only: nothing asserts on time
SITE = "site-0"
ESME = "00DB1234567890A0"
MPAN = "1234567890123"
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

REQUEST = b'{"site":"site-0","eui":"00DB1234567890A0","body":{"id":1,"op":"get_status"}}'


# ------------------------------------------------------------------ framings


def test_control_frame_layouts() -> None:
    enc = BinaryFraming().encode_control(b"{}")
    body = b"\x02\x00\x02{}"
    assert enc == b"\x7e" + body + zlib.crc32(body).to_bytes(4, "big")
    assert GfiFraming().encode_control(b"{}") == b"GBCS:CTRL#0:2:7B7D\r\n"
    seq = GfiFraming(numbering="sequence", first_number=5)
    assert seq.encode(b"\x01") == b"GBCS:DATA#5:1:01\r\n"
    assert seq.encode_control(b"{}") == b"GBCS:CTRL#6:2:7B7D\r\n"  # one numbering
    assert CONTROL_FRAMINGS == ("gfi", "binary")
    for name in ("gfi", "binary"):
        assert get_framing(name).carries_control
    assert not get_framing("raw").carries_control


@pytest.mark.parametrize("name", ["gfi", "binary"])
def test_encode_control_refusals(name: str) -> None:
    f = get_framing(name, max_control=10)
    with pytest.raises(ValueError, match="first byte must be"):
        f.encode_control(b"[1]")
    with pytest.raises(
        ValueError, match=r"control frames of 1\.\.10 bytes \(max_control\), got 11"
    ):
        f.encode_control(b"{" + b" " * 9 + b"}")
    with pytest.raises(ValueError, match="got 0"):
        f.encode_control(b"")
    assert f.encode_control(b"{" + b" " * 8 + b"}")
    with pytest.raises(ValueError, match="max_control must be at most"):
        get_framing(name, max_control=100_000)


def test_raw_cannot_carry_control() -> None:
    with pytest.raises(ValueError, match="raw framing cannot carry control frames"):
        RawFraming().encode_control(b"{}")
    with pytest.raises(ValueError, match="has no option 'max_control'"):
        get_framing("raw", max_control=10)


@pytest.mark.parametrize("name", ["gfi", "binary"])
def test_control_frames_are_typed_apart_from_gbcs_frames(name: str) -> None:
    framing = get_framing(name)
    stream = framing.encode(b"\xdf\x09\x01") + framing.encode_control(REQUEST)
    dec = framing.decoder()
    out = dec.feed(stream + framing.encode(b"{x"), 0.0)
    assert out == [b"\xdf\x09\x01", REQUEST, b"{x"]
    # a GBCS frame that starts with "{" is still a GBCS frame: only the framing tells
    assert [type(f) for f in out] == [bytes, ControlFrame, bytes]
    assert (dec.stats.frames, dec.stats.control_frames, dec.stats.garbage_bytes) == (3, 1, 0)


frames_st = st.lists(
    st.tuples(st.booleans(), st.binary(min_size=1, max_size=200)), min_size=1, max_size=8
)


@FAST
@pytest.mark.parametrize("name", ["gfi", "binary"])
@given(frames=frames_st, data=st.data())
def test_mixed_frames_round_trip_through_noise(
    name: str, frames: list[tuple[bool, bytes]], data: st.DataObject
) -> None:
    framing = get_framing(name)
    # control payloads are JSON objects: "{" then anything
    sent = [(c, b"{" + f if c else f) for c, f in frames]
    noise = [
        data.draw(st.one_of(st.just(b""), st.binary(max_size=40))) for _ in range(len(sent) + 1)
    ]
    parts = [noise[0]]
    for (control, payload), gap in zip(sent, noise[1:], strict=True):
        parts += [framing.encode_control(payload) if control else framing.encode(payload), gap]
    stream = b"".join(parts)
    sizes = data.draw(st.lists(st.integers(1, 64), min_size=1, max_size=8))
    dec = framing.decoder()
    out: list[bytes] = []
    pos = k = 0
    while pos < len(stream):
        out += dec.feed(stream[pos : pos + sizes[k % len(sizes)]], 0.0)
        pos += sizes[k % len(sizes)]
        k += 1
    out += dec.flush(1e9)
    assert out == [p for _, p in sent]
    assert [isinstance(f, ControlFrame) for f in out] == [c for c, _ in sent]
    assert dec.stats.garbage_bytes == sum(map(len, noise))
    assert dec.stats.control_frames == sum(c for c, _ in sent)


def test_binary_every_corrupted_byte_of_a_control_frame_is_caught() -> None:
    framing = BinaryFraming()
    before, after = framing.encode(b"\x01" * 20), framing.encode_control(b"{}")
    good = framing.encode_control(REQUEST)
    for p in range(len(good)):
        for mask in (0x01, 0x03, 0x80):
            bad = bytearray(good)
            bad[p] ^= mask
            dec = framing.decoder()
            out = dec.feed(before + bytes(bad) + after, 0.0) + dec.flush(1.0)
            assert out == [b"\x01" * 20, b"{}"], (p, mask)
            assert dec.stats.garbage_bytes == len(bad), (p, mask)
            assert dec.stats.control_frames == 1


def test_binary_noise_spelling_a_control_header_does_not_hold_frames_back() -> None:
    """7E 02 with a plausible length but no "{" after it is refuted at once."""
    framing = BinaryFraming()
    dec = framing.decoder()
    frame = framing.encode(b"\xdd" * 30)
    assert dec.feed(b"\x7e\x02\xff\xf0\x00" + frame, 0.0) == [b"\xdd" * 30]
    assert dec.stats.garbage_bytes == 5 and dec.pending == 0
    # 7E 02 with "{" is a candidate: the frame behind waits until it is refuted
    dec = framing.decoder()
    assert dec.feed(b"\x7e\x02\x00\x40{" + frame, 0.0) == []
    assert dec.flush(0.5) == [b"\xdd" * 30]
    assert dec.stats.truncated == 1 and dec.stats.garbage_bytes == 5


def test_control_length_bounds_are_their_own() -> None:
    framing = BinaryFraming(max_frame=16, max_control=64)
    dec = framing.decoder()
    big = b"{" + b" " * 62 + b"}"
    too_big = BinaryFraming().encode_control(big + b" ")
    assert dec.feed(framing.encode_control(big) + too_big + framing.encode(b"x" * 16), 0.0) == [
        big,
        b"x" * 16,
    ]
    assert dec.stats.oversize == 1 and dec.stats.garbage_bytes == len(too_big)
    gfi = GfiFraming(max_frame=4, max_control=8)
    dec = gfi.decoder()
    stream = (
        b"GBCS:CTRL#1:8:7B22223A20317D20\r\n"  # 8 bytes: a control line may be longer
        b"GBCS:DATA#2:8:7B22223A20317D20\r\n"  # ... than a data line: oversize
        b"GBCS:CTRL#3:9:7B22223A2031207D20\r\n"  # past max_control: oversize
        b"GBCS:CTRL#4:2:7B\r\n"  # count disagrees: truncated
        b"GBCS:CTRL#5:1:7B\r\n"
    )
    assert dec.feed(stream, 0.0) == [b'{"": 1} ', b"{"]
    assert (dec.stats.oversize, dec.stats.truncated, dec.stats.control_frames) == (2, 1, 2)
    dec = gfi.decoder()
    dec.feed(b"GBCS:CTRL#1:8:" + b"A" * 200, 0.0)  # a control line without end is bounded too
    assert dec.pending == 0 and dec.stats.oversize == 1


# ------------------------------------------------------------------ wrapper


@pytest.mark.parametrize(
    ("payload", "wording"),
    [
        (b"\xff{", "not UTF-8"),
        (b"{oops", "not JSON"),
        (b"[1]", "not a JSON object"),
        (b'{"site": "site-0", "eui": "00DB1234567890A0"}', "no 'body'"),
        (b'{"eui": "00DB1234567890A0", "body": {}}', "no 'site'"),
        (b'{"site": "a/b", "eui": "00DB1234567890A0", "body": {}}', "is not a site id"),
        (b'{"site": "s", "eui": "00DB12", "body": {}}', "is not 16 hex digits"),
        (b'{"site": "s", "eui": 5, "body": {}}', "is not 16 hex digits"),
        (b'{"site": "s", "eui": "00DB1234567890A0", "body": {}, "x": 1}', "unknown key 'x'"),
        (b'{"site": "s", "eui": "00DB1234567890A0", "body": {}, "seq": -1}', "seq -1"),
        (b'{"site": "s", "eui": "00DB1234567890A0", "body": {}, "seq": true}', "seq True"),
    ],
)
def test_control_wrapper_refusals(payload: bytes, wording: str) -> None:
    with pytest.raises(ValueError, match=wording):
        control_wrapper(payload)


def test_control_wrapper_reads_site_eui_body() -> None:
    site, eui, body, seq = control_wrapper(
        b'{"site": "site-0", "eui": "00db1234567890a0", "body": [1], "seq": 7}'
    )
    assert (site, eui, body, seq) == ("site-0", ESME, [1], 7)


# ------------------------------------------------------------------ SerialBus pair


@asynccontextmanager
async def bus_pair(
    tmp: Path, framing: str, *, reliable: bool = False
) -> AsyncIterator[tuple[SerialBus, SerialBus]]:
    """A device-side and a head-end-side SerialBus on a linked pty pair."""
    with linked_ports(tmp) as (a, b):
        device = SerialBus(a, get_framing(framing), side=DEVICE_SIDE, reliable=reliable)
        headend = SerialBus(b, get_framing(framing), side=HEADEND_SIDE, reliable=reliable)
        await device.start()
        await headend.start()
        try:
            yield device, headend
        finally:
            await headend.close()
            await device.close()


async def _next(it: AsyncIterator[BusMessage]) -> BusMessage:
    return await asyncio.wait_for(anext(it), GUARD)


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("framing", "reliable"), [("gfi", False), ("binary", False), ("binary", True)]
)
async def test_serial_bus_maps_control_frames_both_ways(
    tmp_path: Path, framing: str, reliable: bool
) -> None:
    async with bus_pair(tmp_path, framing, reliable=reliable) as (device, headend):
        await device.subscribe("gbcs/+/+/control")
        await headend.subscribe("gbcs/+/+/control/reply")
        requests, replies = device.messages(), headend.messages()
        body = {"id": "r1", "op": "get_status"}
        await headend.publish(BusMessage(SITE, ESME, Channel.CONTROL, json.dumps(body).encode()))
        got = await _next(requests)
        assert (got.site, got.eui, got.channel) == (SITE, ESME, Channel.CONTROL)
        assert json.loads(got.frame) == body
        # what a side does not write is ignored, not sent (as for GBCS channels)
        await device.publish(BusMessage(SITE, ESME, Channel.CONTROL, b"{}"))
        await headend.publish(BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b"{}"))
        reply = {"id": "r1", "ok": True, "result": {"eui": ESME}}
        await device.publish(
            BusMessage(SITE, ESME, Channel.CONTROL_REPLY, json.dumps(reply).encode())
        )
        back = await _next(replies)
        assert back.topic == f"gbcs/{SITE}/{ESME}/control/reply"
        assert json.loads(back.frame) == reply
        for side in (device, headend):
            s = side.stats
            assert (s.control_in, s.control_out, s.frames_in, s.frames_out) == (1, 1, 0, 0)
            assert s.control_undecodable == 0 and s.undecodable == 0
            assert side.report()["decoder"]["control_frames"] == 1
        with pytest.raises(BusError, match="not UTF-8 JSON"):
            await headend.publish(BusMessage(SITE, ESME, Channel.CONTROL, b"{not json"))


@pytest.mark.asyncio
async def test_a_control_frame_that_is_no_request_is_counted_and_dropped(tmp_path: Path) -> None:
    async with bus_pair(tmp_path, "binary") as (device, headend):
        await device.subscribe("gbcs/+/+/control")
        requests = device.messages()
        await headend._write_encoded(BinaryFraming().encode_control(b'{"site": "site-0"}'))
        await headend.publish(BusMessage(SITE, ESME, Channel.CONTROL, b'{"id": 2}'))
        got = await _next(requests)  # the well-formed one behind it arrives
        assert json.loads(got.frame) == {"id": 2}
        assert (device.stats.control_undecodable, device.stats.control_in) == (1, 1)


@pytest.mark.asyncio
async def test_views_share_the_line(tmp_path: Path) -> None:
    """A head-end and a control client each read their own messages off one line."""
    async with bus_pair(tmp_path, "gfi") as (device, headend):
        ctl_bus, he_bus = headend.view(), headend.view()
        await ctl_bus.subscribe("gbcs/+/+/control/reply")
        await he_bus.subscribe("gbcs/+/+/alert")
        ctl, he = ctl_bus.messages(), he_bus.messages()
        await device.publish(BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b'{"id": 1}'))
        assert json.loads((await _next(ctl)).frame) == {"id": 1}
        await he_bus.close()  # a view closes alone; the line stays open
        assert await anext(he, None) is None  # and the reply never went to it
        await device.publish(BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b'{"id": 2}'))
        assert json.loads((await _next(ctl)).frame) == {"id": 2}
        await headend.close()
        assert await anext(ctl, None) is None  # closing the line ends every view


@pytest.mark.asyncio
async def test_device_side_replaces_a_reply_too_long_for_the_line(tmp_path: Path) -> None:
    with linked_ports(tmp_path) as (a, b):
        device = SerialBus(a, get_framing("binary", max_control=400), side=DEVICE_SIDE)
        headend = SerialBus(b, get_framing("binary"), side=HEADEND_SIDE)
        async with device, headend:
            await headend.subscribe("gbcs/+/+/control/reply")
            replies = headend.messages()
            reply = {"id": 9, "ok": True, "result": {"entries": ["x" * 40] * 20}}
            await device.publish(
                BusMessage(SITE, ESME, Channel.CONTROL_REPLY, json.dumps(reply).encode())
            )
            got = json.loads((await _next(replies)).frame)
            assert got["id"] == 9 and got["ok"] is False
            assert got["error"]["code"] == "internal"
            assert "does not fit in a control frame" in got["error"]["message"]
            assert device.stats.extra["control_replaced"] == 1
    with linked_ports(tmp_path) as (a, b):
        raw = SerialBus(a, get_framing("raw"), side=DEVICE_SIDE)
        async with raw:  # raw cannot carry a reply: dropped and counted, never raised
            await raw.publish(BusMessage(SITE, ESME, Channel.CONTROL_REPLY, b'{"id": 1}'))
            assert raw.stats.extra["control_unsent"] == 1 and raw.stats.control_out == 0
        hraw = SerialBus(b, get_framing("raw"), side=HEADEND_SIDE)
        async with hraw:  # a request the head-end cannot send is its caller's error
            with pytest.raises(BusError, match="raw framing cannot carry control"):
                await hraw.publish(BusMessage(SITE, ESME, Channel.CONTROL, b'{"id": 1}'))


def test_link_summary_shows_control_frames_only_when_there_were_some() -> None:
    from hil.cli import link_summary

    quiet = link_summary({"frames_in": 3, "control_in": 0, "control_out": 0})
    assert "control" not in quiet
    busy = link_summary({"control_in": 2, "control_out": 2, "control_undecodable": 1})
    assert "control in 2 out 2 undecodable 1" in busy


def test_control_line_refuses_raw() -> None:
    from hil.control_link import ControlLine

    with pytest.raises(ValueError, match="raw framing cannot carry control frames"):
        ControlLine("loop://", "raw")


# ------------------------------------------------------------------ hil serve --control


def _keys(state: Path) -> Any:
    from emulator.runtime.config import load_config
    from emulator.runtime.pki import add_device_public_keys
    from keys.store import KeyStore

    keys = KeyStore(state / "pki")
    add_device_public_keys(keys, load_config(None), range(1), state)
    return keys


@pytest.mark.asyncio
@pytest.mark.parametrize("framing", ["gfi", "binary"])
async def test_control_and_gbcs_share_the_line_to_hil_serve(tmp_path: Path, framing: str) -> None:
    from emulator.headend.client import HeadEnd
    from emulator.headend.identity import MemoryCounterStore, parties_from_store
    from hil.control_link import open_control

    state = tmp_path / "state"
    with linked_ports(tmp_path) as (a, b), served(a, state, "--framing", framing, "--control"):
        keys = _keys(state)
        async with await open_control(b, framing, timeout=GUARD) as line:
            he = HeadEnd(
                line.headend_bus(),
                keys,
                parties=parties_from_store(keys),
                counters=MemoryCounterStore(first=int(time.time())),
            )
            async with he:
                alerts = he.alerts()
                result = await line.control(
                    SITE,
                    ESME,
                    "set_cosem",
                    class_id=1,
                    obis="0-0:94.44.34.11",
                    attribute=2,
                    value={"type": "octet-string", "value": MPAN.encode().hex().upper()},
                )
                assert result["value"]["value"] == MPAN.encode().hex().upper()
                read = await he.request(SITE, bytes.fromhex(ESME), "ECS40", timeout=GUARD)
                assert read.values["import_mpan"] == MPAN

                with pytest.raises(ControlFailed) as refused:
                    await line.control(SITE, ESME, "power", state="dim")
                assert refused.value.code == "bad_field"
                assert refused.value.reply["error"]["field"] == "state"
                unknown = await line.request(SITE, ESME, {"op": "teleport"})
                assert unknown["ok"] is False and unknown["error"]["code"] == "unknown_op"

                assert (await line.control(SITE, ESME, "power", state="off"))["state"] == "off"
                assert (await line.control(SITE, ESME, "power", state="on"))["state"] == "on"
                alert = await alerts.next(GUARD)
                assert alert.message_code == 0x0067  # ECS80, written on the line, verified
                assert alert.alert_code in (0x8F35, 0x8F36) and alert.is_verified
                assert (await line.reset(SITE, ESME))["eui"] == ESME
            stats = line.bus.report()
    # 6 control requests and their replies; 1 GBCS command, its response and the alert
    assert (stats["control_out"], stats["control_in"]) == (6, 6)
    assert (stats["frames_out"], stats["frames_in"]) == (1, 2)
    assert stats["control_undecodable"] == 0 and stats["undecodable"] == 0
    served_stats = json.loads((state / "link-stats.json").read_text())
    assert (served_stats["control_in"], served_stats["control_out"]) == (6, 6)
    assert (served_stats["frames_in"], served_stats["frames_out"]) == (1, 2)


@pytest.mark.asyncio
async def test_without_control_a_request_is_counted_and_not_answered(tmp_path: Path) -> None:
    from emulator.headend.client import HeadEnd
    from emulator.headend.identity import MemoryCounterStore, parties_from_store
    from hil.control_link import ControlLine

    state = tmp_path / "state"
    with linked_ports(tmp_path) as (a, b), served(a, state, "--framing", "binary"):
        keys = _keys(state)
        async with ControlLine(b, "binary", timeout=GUARD) as line:
            he = HeadEnd(
                line.headend_bus(),
                keys,
                parties=parties_from_store(keys),
                counters=MemoryCounterStore(first=int(time.time())),
            )
            async with he:
                pending = asyncio.create_task(line.control(SITE, ESME, "get_status"))
                while line.bus.stats.control_out == 0:  # written (or holding the line)
                    await asyncio.sleep(0.01)
                # the line and the emulator keep order: once the response below is in, the
                # request has been handled, and a reply would have come before it
                read = await he.request(SITE, bytes.fromhex(ESME), "ECS45", timeout=GUARD)
                assert read.values["supply_state"] == "connected"
                assert not pending.done()  # no reply came
                pending.cancel()
            assert line.bus.stats.control_in == 0 and line.bus.stats.control_out == 1
        with pytest.raises(ControlTimeout, match="is the emulator running with --control"):
            async with ControlLine(b, "binary", timeout=0.01) as again:
                await again.control(SITE, ESME, "get_status")
    served_stats = json.loads((state / "link-stats.json").read_text())
    assert served_stats["control_in"] == 2 and served_stats["control_out"] == 0
    counters = json.loads((state / "stats-0.json").read_text())["counters"]
    assert counters["rejected.control_disabled"] == 2


def test_serve_refuses_control_with_raw_in_one_line(tmp_path: Path) -> None:
    state = tmp_path / "state"
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "hil",
            "serve",
            "--port",
            "loop://",
            "--framing",
            "raw",
            "--control",
            "--state",
            str(state),
        ],
        capture_output=True,
        text=True,
        timeout=GUARD,
        cwd=ROOT,
    )
    assert res.returncode != 0
    assert res.stdout == ""
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "--control" in lines[0] and "--framing raw" in lines[0] and "gfi, binary" in lines[0]
    assert not state.exists()  # refused before anything was touched


# ------------------------------------------------------------------ a client in any language


@contextmanager
def raw_port(path: str) -> Iterator[int]:
    """The head-end end of the pty as a bare file descriptor (what a C or Java client has)."""
    import termios
    import tty

    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        tty.setraw(fd)
        attrs = termios.tcgetattr(fd)
        attrs[3] &= ~termios.ECHO
        termios.tcsetattr(fd, termios.TCSANOW, attrs)
        yield fd
    finally:
        os.close(fd)


def _read_frames(fd: int, framing: Any, want: int) -> list[bytes]:
    dec = framing.decoder()
    out: list[bytes] = []
    deadline = time.monotonic() + GUARD
    while len(out) < want:
        assert time.monotonic() < deadline, f"only {out} came back"
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            out += dec.feed(os.read(fd, 4096), time.monotonic())
    return out


@pytest.mark.parametrize("framing", ["gfi", "binary"])
def test_noise_between_control_frames_is_skipped(tmp_path: Path, framing: str) -> None:
    """Bytes written by hand, with noise (and control-looking garbage) between the frames:
    every well-formed request is answered, in order; the rest is counted."""
    f = get_framing(framing)
    state = tmp_path / "state"

    def request(rid: int, op: str) -> bytes:
        body = {"site": SITE, "eui": ESME, "body": {"id": rid, "op": op}}
        return f.encode_control(json.dumps(body).encode())

    noise = [
        b"\x00\xff\x7e\x02\x00\x10x GBCS:CTRL#1:3:7B7D\r\n junk\n",  # 7E 02 not "{"; bad count
        b"\x7e\x02\x00\x05{abc\x00\x00\x00\x00GBCS:CTRL#0:2:ZZ\r\n",  # CRC error; not hex
        f.encode_control(b'{"site": "site-0"}'),  # framed, but no request in it
        b"\r\n\r\nGBCS:DATA#0:1:00\r\n" if framing == "gfi" else b"\x7e\x01\x00\x01\x00xxxx",
    ]
    stream = (
        noise[0] + request(1, "get_status") + noise[1] + noise[2] + request(2, "bogus") + noise[3]
    )
    with (
        linked_ports(tmp_path) as (a, b),
        served(a, state, "--framing", framing, "--control"),
        raw_port(b) as fd,
    ):
        os.write(fd, stream)
        replies = _read_frames(fd, f, 2)
    assert all(isinstance(r, ControlFrame) for r in replies)
    bodies = [control_wrapper(r) for r in replies]
    assert [(s, e) for s, e, _, _ in bodies] == [(SITE, ESME)] * 2
    first, second = (body for _, _, body, _ in bodies)
    assert first["id"] == 1 and first["ok"] is True and first["result"]["eui"] == ESME
    assert (
        second
        == {
            "id": 2,
            "ok": False,
            "error": second["error"],
        }
        and second["error"]["code"] == "unknown_op"
    )
    link = json.loads((state / "link-stats.json").read_text())
    assert (link["control_in"], link["control_out"], link["control_undecodable"]) == (2, 2, 1)
    assert link["frames_in"] == 0
    assert link["decoder"]["garbage_bytes"] > 0 and link["decoder"]["resyncs"] >= 2
