"""``gbcs-emu run --duis-users``: the DUIS service in front of a running fleet, end to end
over HTTP and a real broker: signed requests POSTed, the emulated devices answering
through the workers, signed responses on the user's callback; and after kill -9, nothing
lost and no RequestID acted on twice."""

from __future__ import annotations

import asyncio
import base64
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS service needs lxml (the duis extra)")
pytest.importorskip("aiohttp", reason="the DUIS service needs aiohttp (the duis extra)")

from aiohttp import ClientSession, web

from emulator.duis import model, xmlsig
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.keys import XmlKeyStore, load_certificate_file
from emulator.duis.model import Request, RequestHeader, RequestId, Response
from emulator.runtime.config import FleetConfig
from emulator.runtime.fleetdef import FleetKeyStore
from emulator.runtime.pki import ensure_pki, resolve_seed
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac, check_signature
from keys.pki import DEFAULT_ORGANISATION_EUIS, create_authorities
from keys.pki import issue_organisation_keys as issue
from keys.roles import KeyUsage, RemotePartyRole
from tests.duisbench import DuisRun, signed_pre_command

ROOT = Path(__file__).resolve().parent.parent
SUPPLIER_EUI = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER].hex().upper()
USER = "-".join(SUPPLIER_EUI[i : i + 2] for i in range(0, 16, 2))
NETWORK_EUI = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.NETWORK_OPERATOR].hex().upper()
ESME = "00-DB-12-34-56-78-90-A0"
WAIT = 90.0  # a hang guard for what arrives asynchronously, not a measurement


def _pem(obj: Any) -> bytes:
    if isinstance(obj, ec.EllipticCurvePrivateKey):
        return obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return bytes(obj.public_bytes(serialization.Encoding.PEM))


class Receiver:
    """The user's callback: records what is POSTed; refuses while ``refusing``."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        self.refusing = False
        self.refused = 0

    async def handle(self, request: web.Request) -> web.Response:
        if self.refusing:
            self.refused += 1
            return web.Response(status=503)
        self.bodies.append(await request.read())
        return web.Response(status=204)

    async def wait(self, n: int) -> list[bytes]:
        async with asyncio.timeout(WAIT):
            while len(self.bodies) < n:
                await asyncio.sleep(0.1)
        return self.bodies


@dataclass
class Bench:
    state: Path
    users: Path
    signer: Any
    dsp: XmlKeyStore
    receiver: Receiver
    broker: str

    def sign(self, request: Request) -> bytes:
        return xmlsig.sign(model.to_xml(request), self.signer)

    def verified(self, xml: bytes) -> Response:
        assert xmlsig.verify(xml, self.dsp).ok
        message = model.parse(xml)
        assert isinstance(message, Response)
        return message

    def gbcs_keys(self) -> FleetKeyStore:
        cfg = FleetConfig()
        resolve_seed(cfg, self.state)
        return FleetKeyStore(self.state / "pki", cfg, range(1))


def _request(variant: str, element: str, inner: str = "", *, cv: int = 1, counter: int) -> Request:
    ref = ".".join(variant.split(".")[:2])
    body = Body(element, f'<sr:{element} xmlns:sr="{SR_NS}">{inner}</sr:{element}>'.encode())
    return Request(
        RequestHeader(RequestId.parse(f"{USER}:{ESME}:{counter}"), cv, ref, variant), body
    )


@asynccontextmanager
async def _bench(tmp_path: Path, broker_url: str) -> AsyncIterator[Bench]:
    state = tmp_path / "state"
    ensure_pki(state)
    ca = create_authorities()
    user = issue(ca, RemotePartyRole.XML_SIGN, USER, usages=(KeyUsage.DS,))[0]
    network = issue(ca, RemotePartyRole.XML_SIGN, NETWORK_EUI, usages=(KeyUsage.DS,))[0]
    dsp = issue(ca, RemotePartyRole.DSP_XML_SIGN, "90B3D51F30000002", usages=(KeyUsage.DS,))[0]
    (tmp_path / "user.pem").write_bytes(_pem(user.certificate))
    (tmp_path / "network.pem").write_bytes(_pem(network.certificate))
    (tmp_path / "dsp.pem").write_bytes(_pem(dsp.certificate))
    fd = os.open(tmp_path / "dsp.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, _pem(dsp.private_key))
    os.close(fd)
    receiver = Receiver()
    app = web.Application()
    app.router.add_post("/smartdcc/duis", receiver.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    (tmp_path / "users.toml").write_text(
        '[dsp]\nkey = "dsp.key"\ncertificate = "dsp.pem"\n\n'
        f'[[user]]\neui = "{USER}"\nrole = ["IS", "GS"]\nxml_certificate = "user.pem"\n'
        f'callback = "http://127.0.0.1:{port}/smartdcc/duis"\n\n'
        f'[[user]]\neui = "{NETWORK_EUI}"\nrole = "ED"\nxml_certificate = "network.pem"\n'
        f'callback = "http://127.0.0.1:{port}/smartdcc/duis"\n'
    )
    from dataclasses import replace

    signer = replace(load_certificate_file(tmp_path / "user.pem"), private_key=user.private_key)
    dsp_store = XmlKeyStore([load_certificate_file(tmp_path / "dsp.pem")])
    try:
        yield Bench(state, tmp_path / "users.toml", signer, dsp_store, receiver, broker_url)
    finally:
        await runner.cleanup()


def start_run(bench: Bench, *extra: str, command: tuple[str, ...] = ("run",)) -> DuisRun:
    """The bench's run (``tests.duisbench.DuisRun``)."""
    return DuisRun(bench.state, bench.users, bench.broker, *extra, command=command)


async def _post(base: str, service: str, body: bytes) -> tuple[int, bytes]:
    async with ClientSession() as session:
        headers = {"Content-Type": "application/xml"}
        async with session.post(f"{base}/api/v1/{service}", data=body, headers=headers) as r:
            return r.status, await r.read()


async def _smki_finds_the_esmes_certificate(base: str) -> None:
    """Search by the device's EUI, then retrieve: the DER names the ESME (as the open
    client dccboxed-keystore does it)."""
    search = (
        "<CertificateSearchRequest><CertificateSubjectAltName>"
        f"{ESME}</CertificateSubjectAltName></CertificateSearchRequest>"
    )
    async with ClientSession() as session:
        url = f"{base}/services/certificatesearch"
        async with session.post(url, data=search.encode()) as r:
            assert r.status == 200, await r.text()
            found = await r.text()
        serials = re.findall(r"<CertificateSerial>([0-9A-F]+)</CertificateSerial>", found)
        assert len(serials) == 2  # its DS and KA certificates
        retrieve = (
            "<CertificateDataRequest><CertificateSerial>"
            f"{serials[0]}</CertificateSerial></CertificateDataRequest>"
        )
        url = f"{base}/services/retrievecertificate"
        async with session.post(url, data=retrieve.encode()) as r:
            assert r.status == 200
            body = await r.text()
    found_body = re.search(r"<CertificateBody>(.*?)</CertificateBody>", body, re.S)
    assert found_body is not None
    der = base64.b64decode("".join(found_body.group(1).split()))
    from cryptography import x509

    from keys.certs import describe_certificate

    info = describe_certificate(x509.load_der_x509_certificate(der))
    assert info.eui == bytes.fromhex(ESME.replace("-", ""))


def _supplier_ds_key(state: Path) -> ec.EllipticCurvePrivateKey:
    pem = (state / "pki" / f"{SUPPLIER_EUI.lower()}-ds.key").read_bytes()
    key = serialization.load_pem_private_key(pem, None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


@pytest.mark.asyncio
async def test_requests_reach_the_devices_and_answers_reach_the_callback(
    tmp_path: Path, broker: Any
) -> None:
    async with _bench(tmp_path, broker.url) as bench:
        run = start_run(bench)
        try:
            base = await run.url()
            read = _request("4.1.1", "ReadInstantaneousImportRegisters", counter=100)
            status, body = await _post(base, "serviceS", bench.sign(read))
            assert status == 200 and bench.verified(body).header.response_code == "I99"
            firmware = _request("11.2", "ReadFirmwareVersion", counter=101)
            status, body = await _post(base, "serviceS", bench.sign(firmware))
            assert bench.verified(body).header.response_code == "I99"
            cv4 = _request("7.2", "DisableSupply", cv=4, counter=102)
            status, body = await _post(base, "serviceT", bench.sign(cv4))
            pre = bench.verified(body).gbcs
            assert pre is not None and pre[0] == 0xDF
            payload = signed_pre_command(pre, _supplier_ds_key(bench.state))
            cv5 = _request("7.2", "SignedPreCommand", payload, cv=5, counter=102)
            status, body = await _post(base, "serviceS", bench.sign(cv5))
            assert bench.verified(body).header.response_code == "I99"
            again = await _post(base, "serviceS", bench.sign(read))
            assert bench.verified(again[1]).header.response_code == "E41"  # never twice
            await _smki_finds_the_esmes_certificate(
                await run.url(r"SMKI look-up on (\S+?)/services")
            )
            answers = {
                str(m.header.request_id): m
                for m in map(bench.verified, await bench.receiver.wait(3))
            }
            keys = bench.gbcs_keys()
            acb = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER]
            for sent, critical in ((read, False), (firmware, False), (cv5, True)):
                gbcs = decode(answers[str(sent.header.request_id)].gbcs or b"")
                check = check_signature(gbcs, keys) if critical else check_mac(gbcs, keys, acb)
                assert check.verdict is Verdict.VALID, (
                    sent.header.service_reference_variant,
                    check,
                )
            # the status page reads the workers' store: the ESME's supply is off now
            assert await run.url(r"Status page on (\S+?)/status") == base
            async with ClientSession() as session, session.get(f"{base}/status.json") as r:
                snapshot = await r.json()
            (esme,) = [d for d in snapshot["devices"] if d["device"] == ESME]
            assert esme["key_state"].startswith("supply disabled"), esme
            codes = [q["code"] for q in snapshot["requests"]]
            assert codes == ["E41", "I99", "I0", "I99", "I99"]
            assert {f["kind"] for f in snapshot["frames"]} == {"command", "response"}
            # decoded with the run's keys and its ACB: every verdict is valid (or absent,
            # for the critical response that is only signed), none "no key" or "invalid"
            for f in snapshot["frames"]:
                mac, signature = f["detail"].splitlines()[:2]
                assert "invalid" not in mac + signature and "no key" not in mac + signature, f
                if f["kind"] == "command":
                    assert mac == "MAC: valid", f
        finally:
            code = run.stop()
        assert code == 0, "".join(run.output)


@pytest.mark.asyncio
async def test_after_kill_9_no_answer_is_lost_and_no_request_runs_twice(
    tmp_path: Path, broker: Any
) -> None:
    async with _bench(tmp_path, broker.url) as bench:
        bench.receiver.refusing = True  # the user's endpoint is down: answers wait
        run = start_run(bench)
        read = _request("4.1.1", "ReadInstantaneousImportRegisters", counter=200)
        try:
            base = await run.url()
            status, body = await _post(base, "serviceS", bench.sign(read))
            assert status == 200 and bench.verified(body).header.response_code == "I99"
            async with asyncio.timeout(WAIT):
                while bench.receiver.refused < 1:  # the answer is in the outbox
                    await asyncio.sleep(0.1)
        finally:
            run.kill()
        bench.receiver.refusing = False
        run = start_run(bench, command=("duis", "serve"))  # the same, under its other name
        try:
            base = await run.url()
            (body,) = await bench.receiver.wait(1)
            answer = bench.verified(body)
            assert str(answer.header.request_id) == str(read.header.request_id)
            _, again = await _post(base, "serviceS", bench.sign(read))
            assert bench.verified(again).header.response_code == "E41"
        finally:
            code = run.stop()
        assert code == 0, "".join(run.output)


async def _control(broker: str, device: str, request: dict[str, Any]) -> dict[str, Any]:
    """One control request through the broker; its reply."""
    import json

    import aiomqtt

    host, port = broker.removeprefix("mqtt://").rsplit(":", 1)
    topic = f"gbcs/site-0/{device.replace('-', '')}/control"
    async with aiomqtt.Client(host, int(port)) as client:
        await client.subscribe(f"{topic}/reply", qos=1)
        await client.publish(topic, json.dumps(request).encode(), qos=1)
        async with asyncio.timeout(WAIT):
            async for message in client.messages:
                reply = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                if reply.get("id") == request["id"]:
                    return dict(reply)
    raise AssertionError("no reply")


@pytest.mark.asyncio
async def test_a_power_cut_gives_the_device_alert_and_ad1_on_the_callback(
    tmp_path: Path, broker: Any
) -> None:
    from tests import duiskit

    async with _bench(tmp_path, broker.url) as bench:
        # x120: the Comms Hub's 3 minutes before AD1 take 1.5 s
        run = start_run(bench, "--control", "--clock", "x120")
        try:
            await run.url()
            off = await _control(bench.broker, ESME, {"id": 1, "op": "power", "state": "off"})
            assert off["ok"], off
            dcc_alerts: list[model.Response] = []
            async with asyncio.timeout(WAIT):
                while not dcc_alerts:  # AD1 after more than 3 minutes off
                    await asyncio.sleep(0.2)
                    dcc_alerts = [
                        m
                        for m in map(bench.verified, bench.receiver.bodies)
                        if isinstance(m.body, model.DCCAlertMessage)
                    ]
            on = await _control(bench.broker, ESME, {"id": 2, "op": "power", "state": "on"})
            assert on["ok"], on
            device_alerts: list[model.Response] = []
            async with asyncio.timeout(WAIT):
                while not device_alerts:
                    await asyncio.sleep(0.2)
                    device_alerts = [
                        m
                        for m in map(bench.verified, bench.receiver.bodies)
                        if isinstance(m.body, model.DeviceAlertMessage)
                    ]
        finally:
            code = run.stop()
        assert code == 0, "".join(run.output)
        (ad1,) = dcc_alerts
        assert isinstance(ad1.body, model.DCCAlertMessage) and ad1.body.dcc_alert_code == "AD1"
        event = ad1.body.event.element()
        assert event.findtext(f"{{{SR_NS}}}CommsHubDeviceID") == "00-DB-12-34-56-78-90-A2"
        (restored,) = device_alerts
        assert isinstance(restored.body, model.DeviceAlertMessage)
        assert restored.body.alert_code == "8F36"  # mains back after 3 minutes or more
        gbcs = decode(restored.gbcs or b"")
        assert gbcs.recipient.hex().upper() == NETWORK_EUI
        keys = bench.gbcs_keys()
        assert check_signature(gbcs, keys).verdict in (Verdict.VALID, Verdict.ABSENT)
        duiskit.require_duis()
        schema = xmlsig.load_schema(duiskit.xsd_path())
        for body in bench.receiver.bodies:
            result = xmlsig.validate(body, schema)
            assert result.ok, result.errors


def test_duis_serve_is_run_with_its_users_file_required() -> None:
    from click.testing import CliRunner

    from emulator.cli import main

    missing = CliRunner().invoke(main, ["duis", "serve", "--sites", "1"], prog_name="gbcs-emu")
    assert missing.exit_code == 2 and "--duis-users FILE is required" in missing.output
    shown = CliRunner().invoke(main, ["duis", "serve", "--help"], prog_name="gbcs-emu")
    assert shown.exit_code == 0 and "Usage: gbcs-emu duis serve [OPTIONS]" in shown.output
    assert "--duis-users FILE" in shown.output and "--smki-port" in shown.output


@pytest.mark.asyncio
async def test_a_damaged_ledger_is_refused_before_anything_runs(
    tmp_path: Path, broker: Any
) -> None:
    async with _bench(tmp_path, broker.url) as bench:
        bench.state.mkdir(exist_ok=True)
        ledger = bench.state / "duis.db"
        ledger.write_bytes(b"not a database, but someone's ledger")
        run = start_run(bench, command=("duis", "serve"))
        out, _ = run.proc.communicate(timeout=WAIT)
        assert run.proc.returncode == 1, out
        assert "duis.db is not an SQLite database; it was not changed" in out
        assert "Traceback" not in out and "serving" not in out
        assert ledger.read_bytes() == b"not a database, but someone's ledger"


@pytest.mark.asyncio
async def test_a_busy_duis_port_is_one_line_and_stops_everything(
    tmp_path: Path, broker: Any
) -> None:
    import socket

    async with _bench(tmp_path, broker.url) as bench:
        with socket.socket() as busy:
            busy.bind(("127.0.0.1", 0))
            busy.listen()
            port = str(busy.getsockname()[1])
            run = DuisRun(bench.state, bench.users, bench.broker, "--duis-port", port)
            out, _ = run.proc.communicate(timeout=WAIT)
        assert run.proc.returncode == 1, out
        assert f"--duis-port {port} or --smki-port 0: cannot listen" in out
        assert "Traceback" not in out and "Ctrl-C stops" not in out
        again = start_run(bench)  # the lock was released, the workers are gone
        try:
            await again.url()
        finally:
            assert again.stop() == 0
