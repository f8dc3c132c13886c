"""An unchanged open DCC Boxed client against ``gbcs-emu run --duis-users`` (opt-in).

The client is the npm packages the DCC Boxed Node-RED client is built from
(``tests/openclient.py``), driven by ``tests/openclient/client.mjs`` exactly as its nodes
drive them: the RTDS template ``ECS17b_4.1.1_SINGLE`` from ``@smartdcc/duis-templates``
(SRV 4.1.1, Read Instantaneous Import Registers, to the ESME), built with
``@smartdcc/duis-parser``, signed by the DCC Boxed signing tool (``@smartdcc/duis-sign-wrap``)
as the DCC Boxed test Supplier 90-B3-D5-1F-30-01-00-00, POSTed to ``serviceS``. Every DUIS
document that comes back, the synchronous I99 and the asynchronous I0 on the client's
callback, passes the signing tool's schema and signature check and is parsed by
``@smartdcc/duis-parser``, as the client requires before it accepts one. A tamper alert
the ESME raises (through the control API) reaches the client the same way, as a
``DeviceAlertMessage``. Then ``@smartdcc/dccboxed-keystore`` looks the ESME's
certificates up over our SMKI service, with the API key it always sends.

The emulated devices must trust that supplier, so the run's state PKI gets the public
interop keys of the supplier and of the DCC Boxed Access Control Broker, and the site
configuration names them as the devices' parties (``[parties]``); the users file names the
public DCC Boxed XML-signing certificates (the supplier's, the DSP's 2018 one, whose key
signs our responses, and which the signing tool holds). All of it is copied at test time
into ``tmp_path`` from ``GBCS_DUIS_DIR`` and ``GBCS_INTEROP_DIR``.

Opt-in: ``-m duis_open_client`` or ``GBCS_DUIS_OPEN_CLIENT=1`` (which may install the
packages with npm); see ``scripts/install-open-client.sh``.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("lxml", reason="the DUIS service needs lxml (the duis extra)")
pytest.importorskip("aiohttp", reason="the DUIS service needs aiohttp (the duis extra)")

from cryptography import x509

from emulator.control_client import ControlClient
from emulator.runtime.config import load_config
from emulator.runtime.fleetdef import FleetKeyStore
from emulator.runtime.pki import ensure_pki, resolve_seed
from emulator.transport.broker import ChildBroker
from emulator.transport.mqtt import MqttBus
from gbcs.codec import decode
from gbcs.security import Verdict, check_mac
from keys.certs import describe_certificate
from keys.roles import KeyUsage
from tests import duiskit, openclient
from tests.duisbench import DuisRun
from tests.interop import require_interop
from tests.openclient import Installed, OpenClient

pytestmark = pytest.mark.duis_open_client

TAG = "ECS17b_4.1.1_SINGLE"  # the duis-templates tag of ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST
SUPPLIER = "90B3D51F30010000"  # the DCC Boxed test Supplier (the template's originator)
ACB = "90B3D51F30000002"  # the DCC (Access Control Broker) of the DCC Boxed test PKI
ESME = "00DB1234567890A0"  # the template's target
DSP = "dsp-90B3D51F30000002-dspxmlsign-2018"
# The API key dccboxed-keystore sends with every SMKI request (a fixed DCC Boxed test key).
SMKI_APIKEY = "u3bg9gt38htd0j2"
ALERT = 0x8F3F  # Unauthorised Physical Access: Tamper Detect (to the Supplier)
WAIT = 90.0  # a hang guard for what arrives asynchronously, not a measurement


def _dashed(eui: str) -> str:
    return "-".join(eui[i : i + 2] for i in range(0, 16, 2))


def _request_id(rid: dict[str, str]) -> tuple[str, str, int]:
    """duis-parser's RequestId (EUIs dashed, counter a bigint as a string), normalised."""
    return (
        rid["originatorId"].replace("-", "").upper(),
        rid["targetId"].replace("-", "").upper(),
        int(rid["counter"]),
    )


def _private_copy(src: Path, dst: Path) -> None:
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, src.read_bytes())
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Material:
    """The shared folders the run's keys come from."""

    duis: Path
    interop_keys: Path

    def dsp_serial(self) -> int:
        """The serial of the DSP certificate that signs our responses."""
        pem = (self.duis / "keys" / f"{DSP}.cert.pem").read_bytes()
        return x509.load_pem_x509_certificate(pem).serial_number


def _prepare(tmp_path: Path, material: Material, callback: str) -> tuple[Path, Path, Path]:
    """The state directory, site config and users file of a run whose devices trust the
    DCC Boxed test Supplier and ACB: ``(state, config, users)``."""
    duis, interop_keys = material.duis, material.interop_keys
    state = tmp_path / "state"
    pki = ensure_pki(state)
    for eui in (SUPPLIER, ACB):
        for src in sorted(interop_keys.glob(f"{eui.lower()}-*")):
            if src.suffix == ".key":
                _private_copy(src, pki / src.name)
            else:
                shutil.copyfile(src, pki / src.name)
    config = tmp_path / "site.toml"
    config.write_text(f'[parties]\nsupplier = "{SUPPLIER}"\naccess-control-broker = "{ACB}"\n')
    keys = tmp_path / "keys"
    keys.mkdir()
    _private_copy(duis / "keys" / f"{DSP}.key.pem", keys / "dsp.key.pem")
    shutil.copyfile(duis / "keys" / f"{DSP}.cert.pem", keys / "dsp.cert.pem")
    xml_cert = f"user-supplier-{SUPPLIER}-xmlsign.cert.pem"
    shutil.copyfile(duis / "keys" / xml_cert, keys / xml_cert)
    shutil.copyfile(interop_keys / f"{SUPPLIER.lower()}-ds.pem", keys / "supplier-ds.pem")
    shutil.copyfile(interop_keys / f"{SUPPLIER.lower()}-ka.pem", keys / "supplier-ka.pem")
    users = tmp_path / "users.toml"
    users.write_text(
        '[dsp]\nkey = "keys/dsp.key.pem"\ncertificate = "keys/dsp.cert.pem"\n\n'
        f'[smki]\napikey = "{SMKI_APIKEY}"\n\n'
        f'[[user]]\nname = "DCC Boxed test supplier"\neui = "{_dashed(SUPPLIER)}"\n'
        f'role = ["IS", "GS"]\nxml_certificate = "keys/{xml_cert}"\n'
        'ds_certificate = "keys/supplier-ds.pem"\nka_certificate = "keys/supplier-ka.pem"\n'
        f'callback = "{callback}"\n'
    )
    return state, config, users


@pytest.fixture(scope="module")
def installed(request: pytest.FixtureRequest) -> Installed:
    return openclient.require_client(request.config)


@pytest.fixture
def material(installed: Installed) -> Material:
    # Takes `installed` so that a run without the opt-in skips before reading shared/.
    return Material(duiskit.require_duis(), require_interop() / "keys")


def _signer_serial(xml: str) -> int:
    """The X509SerialNumber a DUIS document's signature names (the signing tool passes
    unsigned documents, so its verdict alone does not show there was a signature)."""
    found = re.findall(r"<ds:X509SerialNumber>(\d+)</ds:X509SerialNumber>", xml)
    assert len(found) == 1, xml
    return int(found[0])


def _assert_response_to_supplier(gbcs: bytes, state: Path, config: Path) -> None:
    """The ESME's GBCS response goes to the DCC Boxed supplier and its MAC verifies with
    the supplier's key agreement key: the device protected it for that supplier."""
    message = decode(gbcs)
    assert message.header.originator.hex().upper() == ESME
    assert message.header.recipient.hex().upper() == SUPPLIER
    cfg = load_config(config, sites=1)
    resolve_seed(cfg, state)
    keys = FleetKeyStore(state / "pki", cfg, range(1))
    check = check_mac(message, keys, bytes.fromhex(ACB))
    assert check.verdict is Verdict.VALID, check


async def _assert_device_alert(client: OpenClient, broker: str, dsp: int) -> None:
    """A tamper the ESME reports (0x8F3F, to its supplier) reaches the client as a
    DeviceAlertMessage it accepts."""
    async with ControlClient(MqttBus(broker), timeout=WAIT) as control:
        raised = await control.control("site-0", ESME, "inject_alert", code=f"0x{ALERT:04X}")
    assert int(raised["code"], 16) == ALERT, raised
    callback = await client.received(WAIT)
    assert callback["status"] == 204, callback.get("error")
    assert _signer_serial(callback["xml"]) == dsp
    assert callback["is"]["deviceAlert"], callback["duis"]["body"]
    alert = callback["duis"]["body"]["DeviceAlertMessage"]
    assert int(alert["AlertCode"], 16) == ALERT
    gbcs = decode(base64.b64decode(alert["GBCSPayload"]))
    assert gbcs.header.originator.hex().upper() == ESME
    assert gbcs.header.recipient.hex().upper() == SUPPLIER
    assert callback["duis"]["header"]["responseCode"] == "I0"


def _assert_smki(found: dict[str, list[dict[str, str]]]) -> None:
    """One certificate per usage, naming the ESME, with that key usage."""
    for usage, key_usage in (("DS", KeyUsage.DS), ("KA", KeyUsage.KA)):
        (cert,) = found[usage]
        info = describe_certificate(x509.load_pem_x509_certificate(cert["pem"].encode()))
        assert info.eui == bytes.fromhex(ESME), (usage, info)
        assert info.key_usages == {key_usage}, (usage, info)


@pytest.mark.asyncio
async def test_open_client_sends_a_template_and_receives_its_response(
    tmp_path: Path, broker: ChildBroker, installed: Installed, material: Material
) -> None:
    dsp = material.dsp_serial()
    client = await OpenClient.start(installed)
    try:
        state, config, users = _prepare(tmp_path, material, client.callback)
        run = DuisRun(state, users, broker.url, "--config", str(config), "--control")
        try:
            base = await run.url(r"DUIS service on (http://\S+?)/api/v1/")
            sync = await client.command("send", base=base, tag=TAG)
            assert sync["template"].endswith("/ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML")
            assert sync["endpoint"] == "/api/v1/serviceS"  # CV1: Send Command Service
            ack = sync["duis"]["header"]
            assert (sync["status"], ack["type"], ack["responseCode"]) == (200, "response", "I99")
            assert _signer_serial(sync["xml"]) == dsp
            sent = _request_id(ack["requestId"])
            assert sent[:2] == (SUPPLIER, ESME)

            callback = await client.received(WAIT)
            assert callback["status"] == 204, callback.get("error")  # the client accepted it
            assert _signer_serial(callback["xml"]) == dsp
            answer = callback["duis"]
            header = answer["header"]
            assert header["responseCode"] == "I0"
            assert _request_id(header["requestId"]) == sent
            assert _request_id(header["responseId"]) == (ESME, SUPPLIER, sent[2])
            assert callback["is"]["gbcsPayload"], answer["body"]
            message = answer["body"]["ResponseMessage"]
            assert (message["ServiceReference"], message["ServiceReferenceVariant"]) == (
                "4.1",
                "4.1.1",
            )
            _assert_response_to_supplier(base64.b64decode(message["GBCSPayload"]), state, config)

            await _assert_device_alert(client, broker.url, dsp)

            smki = await run.url(r"SMKI look-up on http://(\S+?)/services")
            _assert_smki(await client.command("smki", address=smki, eui=_dashed(ESME).lower()))
        finally:
            code = run.stop()
        assert code == 0, "".join(run.output)
    finally:
        await client.close()
