"""The DUIS service's decisions (issue 16), sans-IO: what the DCC answers a request, what
it sends to a device, and what it tells the user when the device answers.

:class:`DuisService` joins the toolkit's parts: the users (who may send what, with which
certificate), the inventory (which devices exist, in which status), the ledger (which
RequestIDs and counters were seen), and the transform (the GBCS). Its
:meth:`~DuisService.receive` takes the body POSTed to ``serviceS``, ``serviceT`` or
``serviceD`` and returns the synchronous reply (signed with the DSP's key) and the
commands to send; :meth:`~DuisService.device_response` turns a device's response into
the signed ``ResponseMessage`` for the user's callback. Sockets, clocks and retries belong
to the shell.

The checks, in order, each with its DUIS response code (:class:`ResponseCodes`):

1. the document is a DUIS request (else ``invalid_request``);
2. its originator is a known user (E1) and its XML signature verifies against that
   user's certificate (``bad_signature``), unless verification is off;
3. the SRV is known (``invalid_request``) and the user has a role eligible for it (E2);
4. the command variant is the endpoint's (E13) and the SRV's (E12);
5. for a device SRV: the target is in the inventory (E19), of a type the SRV applies to
   (E11), in a status that admits it (E51 for MP105's Suspended device, which takes only
   11.2 by default; E5 for a Decommissioned or Withdrawn one);
6. the transform makes its GBCS (its code where DUIS names the failure, else
   ``invalid_request`` with the reason);
7. the ledger admits it: a repeated RequestID (``repeated_request``) or a counter not
   above the user's last (``stale_counter``) is never acted on. A request refused by an
   earlier check does not use up its RequestID.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from lxml import etree

from emulator.duis import model, tables, xmlsig
from emulator.duis.bodies import Body, ReadInventory
from emulator.duis.inventory import Inventory, InventoryDevice, dsp_inventory
from emulator.duis.ledger import Admit, RequestLedger
from emulator.duis.model import (
    DCCAlertMessage,
    DeviceAlertMessage,
    GbcsPayload,
    PreCommand,
    Request,
    RequestId,
    Response,
    ResponseHeader,
    ResponseMessage,
)
from emulator.duis.transform import Refusal, transform
from emulator.duis.users import Users
from emulator.headend.client import alert_code_of
from gbcs.codec import decode
from gbcs.envelope import Cra
from gbcs.errors import GbcsError
from gbcs.security import DEFAULT_ACB
from keys.store import KeyStore

__all__ = [
    "ENDPOINTS",
    "Callback",
    "DeviceSend",
    "DuisService",
    "Reply",
    "ResponseCodes",
]

#: The DCC Boxed endpoints and the command variants each takes (DUIS command variants).
ENDPOINTS: dict[str, tuple[int, ...]] = {
    service: tuple(
        cv.number for cv in tables.COMMAND_VARIANTS.values() if cv.endpoint.endswith(service)
    )
    for service in ("serviceS", "serviceT", "serviceD")
}
#: The GBCS version the service's pre-commands declare (``PreCommand/GBCSVersion``).
GBCS_VERSION = "4.0"
_SR = "{" + xmlsig.SR_NS + "}"


@dataclass(frozen=True, slots=True)
class ResponseCodes:
    """The DUIS response code of each failure. Those whose meaning public material gives
    (``tables.RESPONSE_CODES``, DUIS's "DCC Systems Response Codes") are fixed by it; for
    the others no public source gives the code, and these are this emulator's choices:

    * ``bad_signature`` E1: a request whose signature does not verify cannot be taken as
      from a valid SEC party in its role (E1's meaning);
    * ``invalid_request`` E40, ``repeated_request`` E41, ``stale_counter`` E42: codes the
      DUIS 5.4 schema lists without a public meaning, chosen so that the three failures
      are told apart. Give others where a test bench expects them.
    """

    unknown_user: str = "E1"
    bad_signature: str = "E1"
    ineligible_role: str = "E2"
    device_status: str = "E5"
    suspended: str = "E51"
    device_type: str = "E11"
    command_variant: str = "E12"
    wrong_endpoint: str = "E13"
    unknown_device: str = "E19"
    invalid_request: str = "E40"
    repeated_request: str = "E41"
    stale_counter: str = "E42"


@dataclass(frozen=True, slots=True)
class DeviceSend:
    """A command for a device: where, what, and when (None: now)."""

    device: InventoryDevice
    gbcs: bytes
    request_id: RequestId
    send_at: datetime | None = None
    #: The GBCS use case sent (``CS06``: a firmware activation, watched for MP105).
    use_case: str = ""


@dataclass(frozen=True, slots=True)
class Reply:
    """The synchronous answer to a POST: its DUIS response code, the signed XML, why (for
    logs and the status page), and the commands to send."""

    code: str
    xml: bytes
    reason: str = ""
    sends: tuple[DeviceSend, ...] = ()
    request_id: RequestId | None = None
    #: 200 for every DUIS answer; 400 (with ``xml`` a one-line text) for a body that is
    #: not a DUIS request at all, which has no RequestID or SRV to answer with.
    http_status: int = 200


@dataclass(frozen=True, slots=True)
class Callback:
    """A signed DUIS message for a user's callback URL."""

    user: str
    url: str
    xml: bytes
    request_id: RequestId | None = None


class DuisService:
    """The decisions of a DCC Boxed-compatible DUIS service (see the module notes)."""

    def __init__(
        self,
        *,
        users: Users,
        inventory: Inventory,
        ledger: RequestLedger,
        keys: KeyStore,
        dcc_counter: Callable[[], int],
        codes: ResponseCodes | None = None,
        verify: bool = True,
        acb: bytes = DEFAULT_ACB,
    ) -> None:
        self.users = users
        self.inventory = inventory
        self.ledger = ledger
        self.keys = keys
        self.dcc_counter = dcc_counter
        self.codes = codes or ResponseCodes()
        self.verify = verify
        self.acb = acb

    # --- requests ---------------------------------------------------------------------

    def receive(self, service: str, xml: bytes, now: datetime | None = None) -> Reply:
        """The reply to ``xml`` POSTed to ``service`` (``serviceS``, ``serviceT`` or
        ``serviceD``; ValueError for another name)."""
        if service not in ENDPOINTS:
            raise ValueError(f"no DUIS service {service!r}")
        now = now or datetime.now(UTC)
        try:
            request = model.parse(xml)
        except model.DuisModelError as e:
            return _bad_request(f"not a DUIS request: {e}")
        if not isinstance(request, Request):
            return _bad_request("not a DUIS request (a response or alert)")
        failure = self._check(service, xml, request)
        if failure is not None:
            return self._refuse(*failure, request, now)
        return self._act(request, now)

    def _check(self, service: str, xml: bytes, request: Request) -> tuple[str, str] | None:
        header, codes = request.header, self.codes
        rid = header.request_id
        user = self.users.get(rid.originator_eui.hex().upper())
        if user is None:
            return codes.unknown_user, f"{rid.originator} is not a user of this service"
        if self.verify:
            checked = xmlsig.verify(xml, self.users.key_store(user.eui))
            if not checked.ok:
                return codes.bad_signature, f"the XML signature: {checked.line()}"
        srv = header.srv
        if srv is None:
            return codes.invalid_request, header.srv_error or "unknown SRV"
        label = f"SRV {srv.variant} ({srv.name})"
        if srv.roles and not set(user.roles) & set(srv.roles):
            roles = "+".join(user.roles)
            return codes.ineligible_role, f"{label} is not for a user of role {roles}"
        cv = header.command_variant
        if cv not in ENDPOINTS[service]:
            return codes.wrong_endpoint, f"command variant {cv} is not sent to {service}"
        if srv.non_device:
            if cv != 8:
                return codes.command_variant, f"{label} is a non-device service: variant 8"
            return None
        device = self.inventory.get(rid.target_eui)
        if device is None:
            return codes.unknown_device, f"{rid.target} is not in the inventory"
        if srv.device_types and device.device_type not in srv.device_types:
            return codes.device_type, f"{label} does not apply to a {device.device_type}"
        refusal = self.inventory.refusal(device, srv.variant, critical=srv.critical)
        if refusal is not None:
            code = codes.suspended if device.status == "Suspended" else codes.device_status
            return code, refusal
        return None

    def _act(self, request: Request, now: datetime) -> Reply:
        header = request.header
        srv = header.srv
        assert srv is not None
        if srv.non_device:
            return self._non_device(request, now)
        rid = header.request_id
        device = self.inventory.get(rid.target_eui)
        user = self.users.get(rid.originator_eui.hex().upper())
        assert device is not None and user is not None
        signed = header.command_variant in (5, 6, 7)
        result = transform(
            request,
            target_type=device.device_type,
            keys=self.keys,
            acb=self.acb,
            now=now,
            dcc_counter=self.dcc_counter(),
            pre_command=self.ledger.pre_command(rid) if signed else None,
            esme_variant=device.esme_variant,
            user_role=user.role,
        )
        if isinstance(result, Refusal):
            code = result.response_code or self.codes.invalid_request
            return self._refuse(code, result.reason, request, now)
        admitted = self.ledger.admit(rid, header.command_variant, srv.variant, now)
        if admitted.verdict is not Admit.NEW:
            code = {
                Admit.REPEATED: self.codes.repeated_request,
                Admit.STALE: self.codes.stale_counter,
                Admit.NO_PRE_COMMAND: self.codes.command_variant,
            }[admitted.verdict]
            return self._refuse(code, admitted.reason, request, now)
        if result.pre_command:
            self.ledger.record_pre_command(rid, result.gbcs)
            content = PreCommand(GBCS_VERSION, result.gbcs)
            return self._answer("I0", request, now, content, reason=result.summary())
        if result.delivery == "local":
            local = _element("LocalCommand", result.gbcs)
            return self._answer("I0", request, now, local, reason=result.summary())
        self.ledger.record_sent(rid, result.recipient, result.originator, result.counter)
        send = DeviceSend(device, result.gbcs, rid, result.send_at, result.use_case)
        return self._answer("I99", request, now, None, reason=result.summary(), sends=(send,))

    def _non_device(self, request: Request, now: datetime) -> Reply:
        header = request.header
        srv = header.srv
        assert srv is not None
        body = request.body.typed()
        if srv.variant != "8.2" or not isinstance(body, ReadInventory):
            return self._refuse(
                self.codes.invalid_request,
                f"SRV {srv.variant} ({srv.name}) is not provided by this service",
                request,
                now,
            )
        admitted = self.ledger.admit(header.request_id, 8, srv.variant, now)
        if not admitted.ok:
            code = (
                self.codes.repeated_request
                if admitted.verdict is Admit.REPEATED
                else self.codes.stale_counter
            )
            return self._refuse(code, admitted.reason, request, now)
        found = self.inventory.read(body.by, body.value)
        if not found:
            return self._refuse(self.codes.unknown_device, "no device found", request, now)
        return self._answer("I0", request, now, dsp_inventory(found[:17]))

    # --- MP105 ----------------------------------------------------------------------

    def activation_unanswered(self, send: DeviceSend) -> bool:
        """MP105: the firmware activation ``send`` got no response in time. The device
        is Suspended (taking only SRV 11.2) until :meth:`clear_status`; True when this
        changed its status."""
        if send.use_case != "CS06" or self.ledger.answered(send.request_id):
            return False
        self.inventory.firmware_activation_lost(send.device.device_id)
        self.ledger.save_statuses(self.inventory.statuses)
        return True

    def clear_status(self, eui: bytes) -> None:
        """The device is Commissioned again (ValueError outside the fleet)."""
        self.inventory.clear_status(eui)
        self.ledger.save_statuses(self.inventory.statuses)

    # --- device responses -------------------------------------------------------------

    def device_response(self, gbcs: bytes, now: datetime | None = None) -> Callback | None:
        """The callback for a device's response to a command this service sent (its
        ``ResponseID`` the device's, ``GBCSPayload`` the response as received), or None
        for a frame that answers nothing sent (unknown, repeated, not a response)."""
        now = now or datetime.now(UTC)
        try:
            msg = decode(gbcs)
        except GbcsError:
            return None
        if msg.cra is not Cra.RESPONSE:
            return None
        device, requester = msg.originator, msg.recipient
        rid = self.ledger.match_response(device, requester, msg.counter)
        if rid is None:
            return None
        user = self.users.get(rid.originator_eui.hex().upper())
        if user is None:
            return None
        srv_ref = self.ledger.srv_of(rid) or ""
        response_id = RequestId.from_euis(rid.target_eui, rid.originator_eui, rid.counter)
        header = ResponseHeader("I0", _when(now), rid, response_id)
        reference = ".".join(srv_ref.split(".")[:2])
        message = Response(header, ResponseMessage(reference, srv_ref, GbcsPayload(gbcs)))
        return Callback(user.eui, user.callback, self._sign(model.to_xml(message)), rid)

    def device_frame(self, frame: bytes, now: datetime | None = None) -> list[Callback]:
        """The callbacks a frame from a device makes: a response to a command this
        service sent (:meth:`device_response`), a device alert for the user it is
        addressed to (``DeviceAlertMessage``), or the Comms Hub's AD1 power-outage record
        as the DCC alert AD1 for the premises' network operators (``DCCAlertMessage``,
        to every user of role ED or GT). Anything else makes none."""
        now = now or datetime.now(UTC)
        if frame[:1] == b"{":
            return self._ad1(frame, now)
        try:
            msg = decode(frame)
        except GbcsError:
            return []
        if msg.cra is Cra.RESPONSE:
            callback = self.device_response(frame, now)
            return [callback] if callback is not None else []
        if msg.cra is not Cra.ALERT:
            return []
        user = self.users.get(msg.recipient.hex().upper())
        if user is None:
            return []
        code = alert_code_of(msg)
        alert = DeviceAlertMessage(f"{code:04X}" if code is not None else "0000", frame)
        message = Response(ResponseHeader("I0", _when(now)), alert)
        return [Callback(user.eui, user.callback, self._sign(model.to_xml(message)))]

    def _ad1(self, frame: bytes, now: datetime) -> list[Callback]:
        try:
            record = json.loads(frame)
            chf = bytes.fromhex(record["chf"])
            start = datetime.fromisoformat(str(record["outage_start"]).replace("Z", "+00:00"))
        except (ValueError, KeyError, TypeError):
            return []
        device = self.inventory.get(chf)
        if record.get("alert") != "AD1" or device is None:
            return []
        event = etree.Element(_SR + "PowerOutageEvent", nsmap={"sr": xmlsig.SR_NS})
        etree.SubElement(event, _SR + "CommsHubDeviceID").text = device.dashed_id
        etree.SubElement(event, _SR + "StartDateTime").text = _when(start)
        etree.SubElement(event, _SR + "MPxN").text = device.mpxn
        message = Response(ResponseHeader("I0", _when(now)), DCCAlertMessage("AD1", Body.of(event)))
        xml = self._sign(model.to_xml(message))
        return [
            Callback(u.eui, u.callback, xml)
            for u in self.users
            if u.has_role("ED") or u.has_role("GT")
        ]

    # --- replies ------------------------------------------------------------------------

    def _refuse(self, code: str, reason: str, request: Request, now: datetime) -> Reply:
        return self._answer(code, request, now, None, reason=reason)

    def _answer(
        self,
        code: str,
        request: Request,
        now: datetime,
        content: PreCommand | Body | None,
        *,
        reason: str = "",
        sends: tuple[DeviceSend, ...] = (),
    ) -> Reply:
        rid = request.header.request_id
        reference = request.header.service_reference
        variant = request.header.service_reference_variant
        header = ResponseHeader(code, _when(now), rid)
        message = Response(header, ResponseMessage(reference, variant, content))
        return Reply(code, self._sign(model.to_xml(message)), reason, sends, rid)

    def _sign(self, xml: bytes) -> bytes:
        return xmlsig.sign(xml, self.users.dsp)


def _bad_request(reason: str) -> Reply:
    return Reply("", reason.encode(), reason, http_status=400)


def _when(now: datetime) -> str:
    t = now.astimezone(UTC)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 1000:03d}Z"


def _element(name: str, gbcs: bytes) -> Body:
    el = etree.Element(_SR + name, nsmap={"sr": xmlsig.SR_NS})
    etree.SubElement(el, _SR + "GBCSPayload").text = base64.b64encode(gbcs).decode()
    return Body.of(el)
