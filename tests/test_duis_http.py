"""The DUIS service over real HTTP (emulator.duis.http): signed requests POSTed to the DCC
Boxed endpoints, the emulated ESME behind them, signed responses POSTed to the user's
callback, retried until taken, kept across a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

pytest.importorskip("lxml", reason="the DUIS service needs lxml (the duis extra)")
pytest.importorskip("aiohttp", reason="the DUIS service needs aiohttp (the duis extra)")

from aiohttp import ClientSession, web

from devices.outbound import OutboundKind
from emulator.duis.http import DuisServer
from emulator.duis.inventory import InventoryDevice
from emulator.duis.ledger import RequestLedger
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac, check_signature
from tests import devkit
from tests.duisbench import (
    DISABLE,
    ESME,
    NETWORK,
    READ,
    Dcc,
    make_dcc,
    request,
    response,
    signed_pre_command,
    supplier_ds_key,
)  # fmt: skip

WAIT = 60.0  # a hang guard for what arrives asynchronously, not a measurement


class SiteLink:
    """The emulated ESME in this process, as the service's device link."""

    def __init__(self, dcc: Dcc, drop: frozenset[int] = frozenset()) -> None:
        self.dcc = dcc
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.sent: list[bytes] = []
        self.drop = drop  # message codes whose responses are lost on the way back

    async def send(self, device: InventoryDevice, frame: bytes) -> None:
        self.sent.append(frame)
        target = self.dcc.bench.devices[device.device_type]
        for out in target.receive(frame, self.dcc.bench.now):
            if out.kind is OutboundKind.RESPONSE and out.code not in self.drop:
                await self.queue.put(out.frame)

    async def frames(self) -> AsyncIterator[bytes]:
        while True:
            yield await self.queue.get()


class Receiver:
    """A user's callback endpoint: records what is POSTed; fails the first ``fail``."""

    def __init__(self, fail: int = 0) -> None:
        self.bodies: list[bytes] = []
        self.fail = fail
        self.refused = 0

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/smartdcc/duis", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        assert request.content_type == "application/xml"
        if self.refused < self.fail:
            self.refused += 1
            return web.Response(status=500)
        self.bodies.append(await request.read())
        return web.Response(status=204)

    async def wait(self, n: int) -> list[bytes]:
        async with asyncio.timeout(WAIT):
            while len(self.bodies) < n:
                await asyncio.sleep(0.05)
        return self.bodies


async def _serve(app: web.Application) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}"


Serve = Callable[[web.Application], Awaitable[str]]


@pytest_asyncio.fixture
async def serve() -> AsyncIterator[Serve]:
    """Serves an app on a free loopback port (its base URL); each is cleaned up, the last
    served first, when the test ends."""
    runners: list[web.AppRunner] = []

    async def start(app: web.Application) -> str:
        runner, base = await _serve(app)
        runners.append(runner)
        return base

    yield start
    for runner in reversed(runners):
        await runner.cleanup()


async def _post(session: ClientSession, base: str, service: str, body: bytes) -> tuple[int, bytes]:
    headers = {"Content-Type": "application/xml"}
    async with session.post(f"{base}/api/v1/{service}", data=body, headers=headers) as r:
        return r.status, await r.read()


@pytest.mark.asyncio
async def test_requests_over_http_get_their_answer_on_the_callback(
    tmp_path: Path, serve: Serve
) -> None:
    receiver = Receiver(fail=2)  # the first two callbacks are refused: retried
    rx = await serve(receiver.app())
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    server = DuisServer(dcc.service, SiteLink(dcc))
    base = await serve(server.app())
    async with ClientSession() as session:
        status, body = await _post(session, base, "serviceS", dcc.sign(request("4.1.1", READ)))
        assert status == 200 and response(body, dcc).header.response_code == "I99"
        # the critical flow: the pre-command, signed, back as command variant 5
        cv4 = request("7.2", DISABLE, cv=4, counter=1001)
        status, body = await _post(session, base, "serviceT", dcc.sign(cv4))
        pre = response(body, dcc).gbcs
        assert status == 200 and pre is not None and pre[0] == 0xDF
        payload = signed_pre_command(pre, supplier_ds_key())
        cv5 = request("7.2", "SignedPreCommand", payload, cv=5, counter=1001)
        status, body = await _post(session, base, "serviceS", dcc.sign(cv5))
        assert status == 200 and response(body, dcc).header.response_code == "I99"
        # not DUIS at all: HTTP 400, one line
        status, body = await _post(session, base, "serviceS", b"<hello/>")
        assert status == 400 and body.startswith(b"not a DUIS request") and b"\n" not in body
    bodies = await receiver.wait(2)
    assert receiver.refused == 2 and server.stats["retries"] >= 2
    answers = {str(response(b, dcc).header.request_id): response(b, dcc) for b in bodies}
    read = decode(answers[f"{request('4.1.1', READ).header.request_id}"].gbcs or b"")
    assert check_mac(read, dcc.bench.store, devkit.ACB).verdict is Verdict.VALID
    disable = decode(answers[str(cv5.header.request_id)].gbcs or b"")
    assert check_signature(disable, dcc.bench.store).verdict is Verdict.VALID
    assert dcc.service.ledger.pending() == 0


@pytest.mark.asyncio
async def test_a_callback_not_taken_waits_across_a_restart(tmp_path: Path) -> None:
    receiver = Receiver()
    rx_runner, rx = await _serve(receiver.app())
    await rx_runner.cleanup()  # the user's endpoint is down
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    server = DuisServer(dcc.service, SiteLink(dcc))
    runner, base = await _serve(server.app())
    try:
        async with ClientSession() as session:
            status, _ = await _post(session, base, "serviceS", dcc.sign(request("4.1.1", READ)))
        assert status == 200
        async with asyncio.timeout(WAIT):
            while server.stats["retries"] < 1:
                await asyncio.sleep(0.05)
    finally:
        await runner.cleanup()
        dcc.service.ledger.close()
    assert receiver.bodies == []
    # the service comes back on the same ledger; so does the user's endpoint, same port
    port = int(rx.rsplit(":", 1)[1])
    back = web.AppRunner(receiver.app())
    await back.setup()
    await web.TCPSite(back, "127.0.0.1", port).start()
    dcc.service.ledger = RequestLedger(tmp_path / "duis.db")
    assert dcc.service.ledger.pending() == 1
    server = DuisServer(dcc.service, SiteLink(dcc))
    runner, _ = await _serve(server.app())
    try:
        (body,) = await receiver.wait(1)
        assert response(body, dcc).header.response_code == "I0"
    finally:
        await runner.cleanup()
        await back.cleanup()
        dcc.service.ledger.close()


async def critical(
    session: ClientSession,
    base: str,
    dcc: Dcc,
    variant: str,
    element: str,
    inner: str = "",
    *,
    counter: int,
) -> tuple[int, bytes]:
    """The critical flow over HTTP: command variant 4 to serviceT, the pre-command signed
    by the supplier, back as variant 5 to serviceS; the status and body of that reply."""
    cv4 = request(variant, element, inner, cv=4, counter=counter)
    _, body = await _post(session, base, "serviceT", dcc.sign(cv4))
    pre = response(body, dcc).gbcs
    assert pre is not None
    signed = signed_pre_command(pre, supplier_ds_key())
    cv5 = request(variant, "SignedPreCommand", signed, cv=5, counter=counter)
    return await _post(session, base, "serviceS", dcc.sign(cv5))


@pytest.mark.asyncio
async def test_mp105_a_lost_activation_response_suspends_until_cleared(
    tmp_path: Path, serve: Serve
) -> None:
    receiver = Receiver()
    rx = await serve(receiver.app())
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    link = SiteLink(dcc, drop=frozenset({0x0012}))  # CS06's response never arrives
    server = DuisServer(dcc.service, link, response_timeout=0.2)
    base = await serve(server.app())
    esme = bytes.fromhex("00DB1234567890A0")
    async with ClientSession() as session:
        inner = f"<sr:FirmwareHash>{'AB' * 32}</sr:FirmwareHash>"
        status, body = await critical(
            session, base, dcc, "11.3", "ActivateFirmware", inner, counter=2000
        )
        assert status == 200 and response(body, dcc).header.response_code == "I99"
        async with asyncio.timeout(WAIT):
            while (device := dcc.inventory.get(esme)) is None or device.status != "Suspended":
                await asyncio.sleep(0.05)
        assert dcc.service.ledger.statuses() == {esme: "Suspended"}  # kept
        _, body = await _post(
            session, base, "serviceS", dcc.sign(request("4.1.1", READ, counter=2001))
        )
        assert response(body, dcc).header.response_code == "E51"
        firmware = request("11.2", "ReadFirmwareVersion", counter=2002)
        _, body = await _post(session, base, "serviceS", dcc.sign(firmware))
        assert response(body, dcc).header.response_code == "I99"
        async with session.post(f"{base}/admin/inventory/00-DB-12-34-56-78-90-A0/clear") as r:
            assert r.status == 200 and (await r.json())["status"] == "Commissioned"
        async with session.post(f"{base}/admin/inventory/nonsense/clear") as r:
            assert r.status == 400
        _, body = await _post(
            session, base, "serviceS", dcc.sign(request("4.1.1", READ, counter=2003))
        )
        assert response(body, dcc).header.response_code == "I99"
        assert dcc.service.ledger.statuses() == {}
    await receiver.wait(2)  # the firmware read's and the last read's answers


@pytest.mark.asyncio
async def test_each_rejection_over_http_has_its_code_and_reaches_no_device(
    tmp_path: Path, serve: Serve
) -> None:
    receiver = Receiver()
    rx = await serve(receiver.app())
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    link = SiteLink(dcc)
    server = DuisServer(dcc.service, link)
    base = await serve(server.app())
    codes = dcc.service.codes
    async with ClientSession() as session:

        async def post(service: str, xml: bytes) -> str:
            status, body = await _post(session, base, service, xml)
            assert status == 200
            return response(body, dcc).header.response_code

        assert await post("serviceS", dcc.sign(request("4.1.1", READ, counter=10))) == "I99"
        async with asyncio.timeout(WAIT):
            while not link.sent:
                await asyncio.sleep(0.05)
        tampered = dcc.sign(request("4.1.1", READ, counter=11)).replace(b":11<", b":12<")
        network = request("7.2", DISABLE, cv=4, counter=5, user=NETWORK)
        elsewhere = request("4.1.1", READ, counter=24, target="00-DB-12-34-56-78-90-B0")
        cases = [
            ("bad signature", "serviceS", tampered, codes.bad_signature),
            ("ineligible role", "serviceT", dcc.sign(network, NETWORK), codes.ineligible_role),
            ("repeated RequestID", "serviceS", dcc.sign(request("4.1.1", READ, counter=10)),
             codes.repeated_request),
            ("counter not increasing", "serviceS",
             dcc.sign(request("4.1.1", READ, counter=9)), codes.stale_counter),
            ("unknown SRV", "serviceS",
             dcc.sign(request("9.9.9", READ, counter=20, reference="9.9")),
             codes.invalid_request),
            ("command variant", "serviceS", dcc.sign(request("7.2", DISABLE, counter=21)),
             codes.command_variant),
            ("invalid body", "serviceS",
             dcc.sign(request("4.1.1", READ, "<sr:X/>", counter=23)), codes.invalid_request),
            ("device not in the inventory", "serviceS", dcc.sign(elsewhere),
             codes.unknown_device),
        ]  # fmt: skip
        got = {name: await post(service, xml) for name, service, xml, _ in cases}
        assert got == {name: code for name, _, _, code in cases}
        assert len(set(got.values())) >= 6  # distinct codes, not one catch-all
    await receiver.wait(1)  # the one accepted read's answer
    await asyncio.sleep(0.3)  # time for a wrongly scheduled send to show up
    assert len(link.sent) == 1 and server.stats["sent"] == 1


@pytest.mark.asyncio
async def test_the_status_page_shows_devices_requests_and_decoded_traffic(
    tmp_path: Path, serve: Serve
) -> None:
    from emulator.duis.status import StatusBoard

    receiver = Receiver()
    rx = await serve(receiver.app())
    dcc = make_dcc(tmp_path, f"{rx}/smartdcc/duis")
    devices = dcc.bench.devices

    def read_site(site: str) -> dict[str, dict[str, object]]:
        # the states as the store keeps them: each device's to_dict
        assert site == "site-0"
        return {kind: dev.to_dict() for kind, dev in devices.items()}

    board = StatusBoard(dcc.inventory, read_site=read_site, keys=dcc.bench.store, acb=devkit.ACB)
    server = DuisServer(dcc.service, SiteLink(dcc), board=board)
    base = await serve(server.app())
    async with ClientSession() as session:
        async with session.get(f"{base}/status.json") as r:
            before = await r.json()
        (esme,) = [d for d in before["devices"] if d["type"] == "ESME"]
        assert esme["device"] == ESME and esme["status"] == "Commissioned"
        assert "supply enabled" in esme["key_state"] and "display 00000" in esme["key_state"]
        assert before["requests"] == [] and before["frames"] == []
        await critical(session, base, dcc, "7.2", DISABLE, counter=1001)
        await _post(session, base, "serviceS", b"<hello/>")
        await receiver.wait(1)
        async with session.get(f"{base}/status.json") as r:
            assert r.headers["Cache-Control"] == "no-store"
            after = await r.json()
        async with session.get(f"{base}/status") as r:
            page = await r.text()
            assert r.content_type == "text/html"
    (esme,) = [d for d in after["devices"] if d["type"] == "ESME"]
    assert "supply disabled" in esme["key_state"]
    assert [(q["service"], q["code"]) for q in after["requests"]] == [
        ("serviceS", "HTTP 400"),
        ("serviceS", "I99"),
        ("serviceT", "I0"),
    ]
    cv5 = request("7.2", "SignedPreCommand", cv=5, counter=1001)
    assert after["requests"][1]["request_id"] == str(cv5.header.request_id)
    sent, answer = after["frames"][1], after["frames"][0]
    assert sent["direction"] == "to device" and sent["kind"] == "command"
    assert sent["gbcs"].startswith("ECS43 0x0050 command")
    assert "signature: valid" in sent["detail"] and "MAC: valid" in sent["detail"]
    assert answer["direction"] == "from device" and answer["kind"] == "response"
    assert "signature: valid" in answer["detail"]
    assert "status.json" in page and "<table" in page


def test_the_board_decodes_a_frame_when_the_page_asks_and_only_once(tmp_path: Path) -> None:
    from emulator.duis import status
    from emulator.duis.status import StatusBoard

    dcc = make_dcc(tmp_path)
    board = StatusBoard(dcc.inventory, keys=dcc.bench.store, acb=devkit.ACB)
    reply = dcc.post("serviceS", request("4.1.1", READ))
    board.frame("to device", reply.sends[0].gbcs)
    board.frame("from device", b"\x00 not GBCS")
    board.frame("from device", b'{"alert": "AD1", "chf": "00DB1234567890A2"}')
    assert all(set(e) == {"at", "direction", "frame"} for e in board.frames)  # not yet
    calls: list[bytes] = []
    real = status.inspect_message

    def counting(frame: bytes, keys: object, **kw: object) -> object:
        calls.append(frame)
        return real(frame, keys, **kw)  # type: ignore[arg-type]

    status.inspect_message = counting  # type: ignore[assignment]
    try:
        first = board.snapshot()["frames"]
        again = board.snapshot()["frames"]
    finally:
        status.inspect_message = real
    assert first == again and len(calls) == 2  # the AD1 record is not GBCS
    ad1, junk, command = first
    assert ad1["kind"] == "AD1 record" and ad1["gbcs"].startswith('{"alert": "AD1"')
    assert junk["kind"] == "frame" and junk["gbcs"].startswith("undecodable: ")
    assert command["kind"] == "command" and command["gbcs"].startswith("ECS17b 0x0027 command")
    assert "MAC: valid" in command["detail"] and "frame" not in command
