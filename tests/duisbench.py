"""A DUIS service bench for tests: a users file with XML-signing keys made here, the
inventory of one site, a ledger, and a real emulated ESME behind the service."""

from __future__ import annotations

import asyncio
import base64
import itertools
import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass, replace
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from devices.outbound import OutboundKind
from emulator.duis import model, xmlsig
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.inventory import Inventory
from emulator.duis.keys import XmlKeyStore, load_certificate_file
from emulator.duis.ledger import RequestLedger
from emulator.duis.model import Request, RequestHeader, RequestId, Response
from emulator.duis.service import DuisService, Reply
from emulator.duis.users import Users
from emulator.runtime.config import FleetConfig
from gbcs.codec import decode
from gbcs.security import sign
from keys.pki import issue_organisation_keys as issue
from keys.roles import KeyUsage, RemotePartyRole
from tests import devkit

USER = "-".join(devkit.SUPPLIER.hex().upper()[i : i + 2] for i in range(0, 16, 2))
NETWORK = "-".join(devkit.NETWORK_OPERATOR.hex().upper()[i : i + 2] for i in range(0, 16, 2))
ESME = "00-DB-12-34-56-78-90-A0"
GPF = "00-DB-12-34-56-78-90-A3"
CALLBACK = "http://127.0.0.1:9/smartdcc/duis"


def _pem(obj: object) -> bytes:
    if isinstance(obj, ec.EllipticCurvePrivateKey):
        return obj.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    return obj.public_bytes(serialization.Encoding.PEM)  # type: ignore[attr-defined]


@dataclass
class Dcc:
    """The service, its users' signing keys, and the emulated ESME behind it."""

    service: DuisService
    signers: dict[str, object]
    bench: devkit.Bench
    inventory: Inventory

    def sign(self, request: Request, user: str = USER) -> bytes:
        return xmlsig.sign(model.to_xml(request), self.signers[user])  # type: ignore[arg-type]

    def post(self, service: str, request: Request, user: str = USER) -> Reply:
        return self.service.receive(service, self.sign(request, user), devkit.T0)

    def through_the_device(self, reply: Reply) -> bytes:
        """Deliver the reply's command to the ESME; its response frame."""
        (send,) = reply.sends
        esme = self.bench.devices["ESME"]
        out = esme.receive(send.gbcs, self.bench.now)
        (frame,) = [o.frame for o in out if o.kind is OutboundKind.RESPONSE]
        return frame


def make_dcc(tmp_path: Path, callback: str = CALLBACK) -> Dcc:
    """The bench in ``tmp_path``, users' callbacks at ``callback``."""
    bench = devkit.bench()
    bench.device("ESME")
    ca = devkit._authorities()
    keys = {
        USER: issue(ca, RemotePartyRole.XML_SIGN, USER, usages=(KeyUsage.DS,))[0],
        NETWORK: issue(ca, RemotePartyRole.XML_SIGN, NETWORK, usages=(KeyUsage.DS,))[0],
        "dsp": issue(ca, RemotePartyRole.DSP_XML_SIGN, "90B3D51F30000002", usages=(KeyUsage.DS,))[
            0
        ],
    }
    for name, k in keys.items():
        (tmp_path / f"{name}.pem").write_bytes(_pem(k.certificate))
    fd = os.open(tmp_path / "dsp.key", os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, _pem(keys["dsp"].private_key))
    os.close(fd)
    (tmp_path / "users.toml").write_text(
        f'[dsp]\nkey = "dsp.key"\ncertificate = "dsp.pem"\n\n'
        f'[[user]]\neui = "{USER}"\nrole = ["IS", "GS"]\n'
        f'xml_certificate = "{USER}.pem"\ncallback = "{callback}"\n\n'
        f'[[user]]\neui = "{NETWORK}"\nrole = "ED"\n'
        f'xml_certificate = "{NETWORK}.pem"\ncallback = "{callback}"\n'
    )
    users = Users.load(tmp_path / "users.toml")
    signers = {
        name: replace(
            load_certificate_file(tmp_path / f"{name}.pem"), private_key=keys[name].private_key
        )
        for name in (USER, NETWORK)
    }
    inventory = Inventory(FleetConfig())
    counter = itertools.count(7000)
    service = DuisService(
        users=users,
        inventory=inventory,
        ledger=RequestLedger(tmp_path / "duis.db"),
        keys=bench.store,
        dcc_counter=lambda: next(counter),
        acb=devkit.ACB,
    )
    return Dcc(service, signers, bench, inventory)


def request(
    variant: str, element: str, inner: str = "", *, cv: int = 1, counter: int = 1000,
    user: str = USER, target: str = ESME, reference: str | None = None,
) -> Request:  # fmt: skip
    ref = reference or ".".join(variant.split(".")[:2])
    rid = RequestId.parse(f"{user}:{target}:{counter}")
    body = Body(element, f'<sr:{element} xmlns:sr="{SR_NS}">{inner}</sr:{element}>'.encode())
    return Request(RequestHeader(rid, cv, ref, variant), body)


def signed_pre_command(pre: bytes, key: ec.EllipticCurvePrivateKey) -> str:
    """The body of a ``SignedPreCommand``: the pre-command signed with the user's GBCS DS
    key (``gbcs.security.sign``: 0x40 and r‖s over its signed bytes), as ``GBCSPayload``.
    (``tests/test_duis_signed_precommand.py`` builds those bytes by hand, independently.)"""
    signed = sign(decode(pre), key).encode()
    return f"<sr:GBCSPayload>{base64.b64encode(signed).decode()}</sr:GBCSPayload>"


def supplier_ds_key() -> ec.EllipticCurvePrivateKey:
    """The bench supplier's GBCS DS private key."""
    return next(
        k for k in devkit._org_keys() if k.eui == devkit.SUPPLIER and k.usage is KeyUsage.DS
    ).private_key


READ = "ReadInstantaneousImportRegisters"
FIRMWARE = "ReadFirmwareVersion"
DISABLE = "DisableSupply"


def response(reply_xml: bytes, dcc: Dcc) -> Response:
    """A reply or callback: its DSP signature verified, then parsed."""
    dsp = XmlKeyStore([dcc.service.users.dsp])
    assert xmlsig.verify(reply_xml, dsp).ok  # signed by the DSP
    message = model.parse(reply_xml)
    assert isinstance(message, Response)
    return message


ROOT = Path(__file__).resolve().parent.parent
RUN_WAIT = 90.0  # a hang guard for a run's output, not a measurement


class DuisRun:
    """``gbcs-emu run --duis-users`` (or ``duis serve``) in its own process group, on any
    free ports, its output kept."""

    def __init__(
        self, state: Path, users: Path, broker: str, *extra: str,
        command: tuple[str, ...] = ("run",),
    ) -> None:  # fmt: skip
        argv = [
            sys.executable, "-m", "emulator", *command, "--sites", "1", "--quiet",
            "--state", str(state), "--broker", broker,
            "--duis-users", str(users), "--duis-port", "0", "--smki-port", "0", *extra,
        ]  # fmt: skip
        env = {**os.environ, "COLUMNS": "250", "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            start_new_session=True,
        )  # fmt: skip
        self.output: list[str] = []

    async def url(self, what: str = r"DUIS service on (http://\S+?)/api/v1/") -> str:
        """The URL the run printed for ``what`` (a pattern with one group)."""
        assert self.proc.stdout is not None
        for line in self.output:
            if found := re.search(what, line):
                return found.group(1)
        async with asyncio.timeout(RUN_WAIT):
            while True:
                line = await asyncio.to_thread(self.proc.stdout.readline)
                if not line:
                    raise AssertionError("run ended:\n" + "".join(self.output))
                self.output.append(line)
                if found := re.search(what, line):
                    return found.group(1)

    def stop(self) -> int:
        """Ctrl-C to its process group; its exit status."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
        out, _ = self.proc.communicate(timeout=RUN_WAIT)
        self.output.append(out)
        return self.proc.returncode

    def kill(self) -> None:
        """kill -9 of its process group."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate(timeout=RUN_WAIT)
