"""Typed DUIS messages: request and response headers, bodies, alerts (sans-IO).

:func:`parse` turns a DUIS document (``sr:Request`` or ``sr:Response``) into a
:class:`Request` or :class:`Response`; :func:`to_xml` writes one back, unsigned (signing
is :mod:`emulator.duis.xmlsig`'s job). Parsing goes through :func:`xmlsig.parse`, the
hardened parser (no DTD, no entities, DOCTYPE refused). Anything that cannot be modelled
raises :class:`DuisModelError` with a one-line reason; nothing else escapes.

Facts used here come from the DUIS 5.4 XML schema (``DUIS Schema V5.4.xsd``): the
``RequestIDType``/``ResponseIDType`` pattern, the ``Request``/``Response`` header
sequences, the ``ResponseMessage``, ``DeviceAlertMessage``, ``DCCAlertMessage``,
``PreCommand`` and ``SignedPreCommand`` types. SRVs, command variants and response codes
are looked up in :mod:`emulator.duis.tables`; an unknown SRV or response code is reported
(``srv_error``, ``response_code_info is None``), not raised.

Request bodies are kept as their element name and canonical XML subtree
(:class:`Body`, in :mod:`emulator.duis.bodies`); :meth:`Body.typed` gives a typed view
for the SRVs modelled so far (4.1.1, 7.2, 8.2, 11.2 and CV5 ``SignedPreCommand``).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from emulator.duis import tables, xmlsig
from emulator.duis.bodies import (
    _SR,
    SR_NS,
    Body,
    DisableSupply,
    DuisModelError,
    ReadFirmwareVersion,
    ReadInstantaneousImportRegisters,
    ReadInventory,
    SignedPreCommand,
    TypedBody,
    _b64,
    _children,
    _local,
    _shown,
    _text,
)

__all__ = [
    "SR_NS",
    "Body",
    "DCCAlertMessage",
    "DeviceAlertMessage",
    "DisableSupply",
    "DuisMessage",
    "DuisModelError",
    "FutureDatedDeviceAlertMessage",
    "GbcsPayload",
    "PreCommand",
    "ReadFirmwareVersion",
    "ReadInstantaneousImportRegisters",
    "ReadInventory",
    "Request",
    "RequestHeader",
    "RequestId",
    "Response",
    "ResponseBody",
    "ResponseHeader",
    "ResponseMessage",
    "SignedPreCommand",
    "TypedBody",
    "parse",
    "srv_error",
    "to_xml",
]
_DS_SIGNATURE = "{" + xmlsig.DSIG_NS + "}Signature"
_NSMAP = {"sr": SR_NS}

# DUIS 5.4 XSD, sr:RequestIDType (and sr:ResponseIDType, the same pattern): two EUIs as
# eight dash-separated hex pairs (either case), then a counter 0..2^64-1 with no leading
# zero. The range is checked numerically rather than by the XSD's long alternation.
_EUI_TEXT = r"[A-Fa-f0-9]{2}(?:-[A-Fa-f0-9]{2}){7}"
_REQUEST_ID = re.compile(rf"^({_EUI_TEXT}):({_EUI_TEXT}):(0|[1-9][0-9]{{0,19}})$")
_COUNTER_MAX = 2**64 - 1


@dataclass(frozen=True, slots=True)
class RequestId:
    """A DUIS ``RequestID`` (or ``ResponseID``): originator, target, counter.

    The EUIs keep the case they were written in (the samples use both), so
    :meth:`format` gives back the text that was parsed.
    """

    #: ``90-B3-D5-1F-30-01-00-00`` as written.
    originator: str
    target: str
    counter: int

    @classmethod
    def parse(cls, text: str) -> RequestId:
        """Parse ``originator:target:counter``; raises :class:`DuisModelError`."""
        # xs:token collapses surrounding whitespace before the pattern applies.
        m = _REQUEST_ID.match(" ".join(text.split()))
        if m is None:
            raise DuisModelError(
                f"{_shown(text)} is not originator:target:counter "
                "(two EUIs as 8 dash-separated hex pairs, a decimal counter)"
            )
        counter = int(m.group(3))
        if counter > _COUNTER_MAX:
            raise DuisModelError(f"{_shown(text)}: counter above 2^64-1")
        return cls(m.group(1), m.group(2), counter)

    @classmethod
    def from_euis(cls, originator: str | bytes, target: str | bytes, counter: int) -> RequestId:
        """Build one from EUIs given as 8 bytes or 16 hex digits (written upper case)."""
        if not 0 <= counter <= _COUNTER_MAX:
            raise DuisModelError(f"counter {counter} is outside 0..2^64-1")
        return cls(_dashed(originator), _dashed(target), counter)

    def format(self) -> str:
        """The ``RequestID`` text."""
        return f"{self.originator}:{self.target}:{self.counter}"

    @property
    def originator_eui(self) -> bytes:
        """The originator as 8 bytes."""
        return bytes.fromhex(self.originator.replace("-", ""))

    @property
    def target_eui(self) -> bytes:
        """The target as 8 bytes."""
        return bytes.fromhex(self.target.replace("-", ""))

    def __str__(self) -> str:
        return self.format()


def _dashed(eui: str | bytes) -> str:
    raw = eui if isinstance(eui, bytes) else _eui_bytes(eui)
    if len(raw) != 8:
        raise DuisModelError(f"an EUI is 8 bytes, not {len(raw)}")
    return "-".join(f"{b:02X}" for b in raw)


def _eui_bytes(text: str) -> bytes:
    try:
        return bytes.fromhex(text.replace("-", ""))
    except ValueError:
        raise DuisModelError(f"EUI {_shown(text)} is not hex") from None


# --- requests -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RequestHeader:
    """``sr:Request/sr:Header``."""

    request_id: RequestId
    command_variant: int
    service_reference: str
    service_reference_variant: str
    first_in_sequence: bool | None = None
    preceding_request_id: RequestId | None = None

    @property
    def command_variant_info(self) -> tables.CommandVariant:
        """The command variant's row (what it carries, its DCC Boxed endpoint)."""
        return tables.COMMAND_VARIANTS[self.command_variant]

    @property
    def srv(self) -> tables.Srv | None:
        """The SRV's row, or None when DUIS has no such variant (see :attr:`srv_error`)."""
        return tables.srv(self.service_reference_variant)

    @property
    def srv_error(self) -> str | None:
        """Why the ServiceReference/Variant pair is not a known SRV, or None."""
        return srv_error(self.service_reference, self.service_reference_variant)


def srv_error(reference: str, variant: str) -> str | None:
    """Why ``reference``/``variant`` is not a known SRV (tables.py), or None when it is."""
    s = tables.srv(variant)
    if s is None:
        return f"unknown ServiceReferenceVariant {_shown(variant)}"
    if s.reference != reference.strip():
        return (
            f"ServiceReference {_shown(reference)} does not match "
            f"variant {s.variant} (reference {s.reference})"
        )
    return None


@dataclass(frozen=True, slots=True)
class Request:
    """A DUIS service request."""

    header: RequestHeader
    body: Body
    schema_version: str = "5.4"
    #: Whether the parsed document carried a ``ds:Signature`` (not part of equality:
    #: :func:`to_xml` writes unsigned documents).
    signed: bool = field(default=False, compare=False)


# --- responses and alerts -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GbcsPayload:
    """``ResponseMessage/GBCSPayload``: the device's raw GBCS response."""

    data: bytes


@dataclass(frozen=True, slots=True)
class PreCommand:
    """``ResponseMessage/PreCommand``: the transform service's GBCS pre-command (CV4)."""

    gbcs_version: str
    gbcs_payload: bytes


@dataclass(frozen=True, slots=True)
class FutureDatedDeviceAlertMessage:
    """``ResponseMessage/FutureDatedDeviceAlertMessage`` (alert 8F66 or 8F67)."""

    alert_code: str
    gbcs_payload: bytes
    instruction_number: int
    total_command_instructions: int


@dataclass(frozen=True, slots=True)
class ResponseMessage:
    """``Body/ResponseMessage``: SRV and, optionally, one result element."""

    service_reference: str
    service_reference_variant: str
    #: GBCSPayload, PreCommand, FutureDatedDeviceAlertMessage, any other result
    #: (DSPInventory, CINMessage, ...) as a :class:`Body`, or None (acknowledgements,
    #: most errors).
    content: GbcsPayload | PreCommand | FutureDatedDeviceAlertMessage | Body | None = None

    @property
    def srv(self) -> tables.Srv | None:
        """The SRV's row, or None when unknown (see :attr:`srv_error`)."""
        return tables.srv(self.service_reference_variant)

    @property
    def srv_error(self) -> str | None:
        """Why the SRV is not known, or None."""
        return srv_error(self.service_reference, self.service_reference_variant)


@dataclass(frozen=True, slots=True)
class DeviceAlertMessage:
    """``Body/DeviceAlertMessage``: a device alert with its GBCS."""

    #: Hex, as written (``8F84``).
    alert_code: str
    gbcs_payload: bytes
    throttled_alert_sequence_id: int | None = None
    throttled_alert_count: int | None = None


@dataclass(frozen=True, slots=True)
class DCCAlertMessage:
    """``Body/DCCAlertMessage``: a DCC alert (AD1, N1-N65, N999) and its event."""

    dcc_alert_code: str
    #: The one event element inside ``DCCAlert`` (PowerOutageEvent, ...).
    event: Body
    throttled_alert_sequence_id: int | None = None
    throttled_alert_count: int | None = None


ResponseBody = ResponseMessage | DeviceAlertMessage | DCCAlertMessage | Body


@dataclass(frozen=True, slots=True)
class ResponseHeader:
    """``sr:Response/sr:Header``."""

    response_code: str
    #: As written (``2022-08-17T15:45:42.790Z``); see :attr:`date_time`.
    response_date_time: str
    request_id: RequestId | None = None
    response_id: RequestId | None = None

    @property
    def response_code_info(self) -> tables.ResponseCode | None:
        """The code's row (kind, meaning, source), or None when DUIS 5.4 has no such code."""
        return tables.response_code(self.response_code)

    @property
    def kind(self) -> str:
        """``success`` (I0), ``acknowledgement`` (I99), ``error``, ``warning`` or
        ``unknown``."""
        info = self.response_code_info
        return info.kind if info else "unknown"

    @property
    def date_time(self) -> datetime | None:
        """The response date-time parsed, or None when it is not ISO 8601."""
        try:
            return datetime.fromisoformat(self.response_date_time)
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class Response:
    """A DUIS response or alert as DCC Boxed sends it."""

    header: ResponseHeader
    body: ResponseBody
    schema_version: str = "5.4"
    signed: bool = field(default=False, compare=False)

    @property
    def is_alert(self) -> bool:
        """True for a device or DCC alert."""
        return isinstance(self.body, DeviceAlertMessage | DCCAlertMessage)

    @property
    def gbcs(self) -> bytes | None:
        """The raw GBCS this response or alert carries, if any."""
        b = self.body
        if isinstance(b, DeviceAlertMessage):
            return b.gbcs_payload
        if isinstance(b, ResponseMessage):
            c = b.content
            if isinstance(c, GbcsPayload):
                return c.data
            if isinstance(c, PreCommand | FutureDatedDeviceAlertMessage):
                return c.gbcs_payload
        return None


DuisMessage = Request | Response


# --- parsing --------------------------------------------------------------------------


def _opt_uint(parent: etree._Element, name: str, where: str) -> int | None:
    el = parent.find(_SR + name)
    if el is None:
        return None
    t = (el.text or "").strip()
    if not t.isascii() or not t.isdigit():
        raise DuisModelError(f"{where}/{name}: {_shown(t)} is not an unsigned integer")
    return int(t)


def _check_children(el: etree._Element, allowed: tuple[str, ...], where: str) -> None:
    for c in _children(el):
        if c.tag.startswith(_SR) and _local(c) in allowed:
            continue
        raise DuisModelError(f"{where}: unexpected element {_shown(etree.QName(c).text)}")


def _request_id(text: str, where: str) -> RequestId:
    try:
        return RequestId.parse(text)
    except DuisModelError as e:
        raise DuisModelError(f"{where}: {e}") from None


def _parse_request(root: etree._Element, header: etree._Element, body: etree._Element) -> Request:
    w = "Request/Header"
    _check_children(
        header,
        (
            "RequestID",
            "FirstInSequence",
            "PrecedingServiceRequestID",
            "CommandVariant",
            "ServiceReference",
            "ServiceReferenceVariant",
        ),
        w,
    )
    cv_text = _text(header, "CommandVariant", w)
    if cv_text not in {str(n) for n in tables.COMMAND_VARIANTS}:
        raise DuisModelError(f"{w}/CommandVariant: {_shown(cv_text)} is not 1-8")
    first: bool | None = None
    if header.find(_SR + "FirstInSequence") is not None:
        t = _text(header, "FirstInSequence", w)
        if t not in ("true", "false", "1", "0"):
            raise DuisModelError(f"{w}/FirstInSequence: {_shown(t)} is not a boolean")
        first = t in ("true", "1")
    preceding = None
    if header.find(_SR + "PrecedingServiceRequestID") is not None:
        preceding = _request_id(
            _text(header, "PrecedingServiceRequestID", w), f"{w}/PrecedingServiceRequestID"
        )
    h = RequestHeader(
        request_id=_request_id(_text(header, "RequestID", w), f"{w}/RequestID"),
        command_variant=int(cv_text),
        service_reference=_text(header, "ServiceReference", w),
        service_reference_variant=_text(header, "ServiceReferenceVariant", w),
        first_in_sequence=first,
        preceding_request_id=preceding,
    )
    kids = _children(body)
    if len(kids) != 1:
        raise DuisModelError(f"Request/Body: expected one element, found {len(kids)}")
    b = Body.of(kids[0])
    b.typed()  # a typed body that cannot be read is reported now, not on first use
    return Request(h, b, _schema_version(root), _signed(root))


def _parse_response_message(el: etree._Element) -> ResponseMessage:
    w = "ResponseMessage"
    ref = _text(el, "ServiceReference", w)
    variant = _text(el, "ServiceReferenceVariant", w)
    rest = [
        c for c in _children(el) if _local(c) not in ("ServiceReference", "ServiceReferenceVariant")
    ]
    if len(rest) > 1:
        raise DuisModelError(f"{w}: more than one result element")
    content: GbcsPayload | PreCommand | FutureDatedDeviceAlertMessage | Body | None = None
    if rest:
        c = rest[0]
        name = _local(c)
        if name == "GBCSPayload":
            content = GbcsPayload(_b64(c.text or "", f"{w}/GBCSPayload"))
        elif name == "PreCommand":
            content = PreCommand(
                _text(c, "GBCSVersion", f"{w}/PreCommand"),
                _b64(_text(c, "GBCSPayload", f"{w}/PreCommand"), f"{w}/PreCommand/GBCSPayload"),
            )
        elif name == "FutureDatedDeviceAlertMessage":
            fw = f"{w}/{name}"
            number = _opt_uint(c, "InstructionNumber", fw)
            total = _opt_uint(c, "TotalCommandInstructions", fw)
            if number is None or total is None:
                raise DuisModelError(f"{fw}: needs InstructionNumber and TotalCommandInstructions")
            content = FutureDatedDeviceAlertMessage(
                _text(c, "FutureDatedAlertCode", fw),
                _b64(_text(c, "GBCSPayload", fw), f"{fw}/GBCSPayload"),
                number,
                total,
            )
        else:
            content = Body.of(c)
    return ResponseMessage(ref, variant, content)


def _parse_device_alert(el: etree._Element) -> DeviceAlertMessage:
    w = "DeviceAlertMessage"
    _check_children(
        el, ("AlertCode", "ThrottledAlertSequenceId", "ThrottledAlertCount", "GBCSPayload"), w
    )
    code = _text(el, "AlertCode", w)
    try:
        bytes.fromhex(code)
    except ValueError:
        raise DuisModelError(f"{w}/AlertCode: {_shown(code)} is not hex") from None
    return DeviceAlertMessage(
        code,
        _b64(_text(el, "GBCSPayload", w), f"{w}/GBCSPayload"),
        _opt_uint(el, "ThrottledAlertSequenceId", w),
        _opt_uint(el, "ThrottledAlertCount", w),
    )


def _parse_dcc_alert(el: etree._Element) -> DCCAlertMessage:
    w = "DCCAlertMessage"
    _check_children(
        el, ("DCCAlertCode", "ThrottledAlertSequenceId", "ThrottledAlertCount", "DCCAlert"), w
    )
    alert = el.find(_SR + "DCCAlert")
    events = _children(alert) if alert is not None else []
    if len(events) != 1:
        raise DuisModelError(f"{w}/DCCAlert: expected one event element")
    return DCCAlertMessage(
        _text(el, "DCCAlertCode", w),
        Body.of(events[0]),
        _opt_uint(el, "ThrottledAlertSequenceId", w),
        _opt_uint(el, "ThrottledAlertCount", w),
    )


def _parse_response(root: etree._Element, header: etree._Element, body: etree._Element) -> Response:
    w = "Response/Header"
    _check_children(header, ("RequestID", "ResponseID", "ResponseCode", "ResponseDateTime"), w)
    req = header.find(_SR + "RequestID")
    resp = header.find(_SR + "ResponseID")
    h = ResponseHeader(
        response_code=_text(header, "ResponseCode", w),
        response_date_time=_text(header, "ResponseDateTime", w),
        request_id=None
        if req is None
        else _request_id(_text(header, "RequestID", w), f"{w}/RequestID"),
        response_id=None
        if resp is None
        else _request_id(_text(header, "ResponseID", w), f"{w}/ResponseID"),
    )
    kids = _children(body)
    if len(kids) != 1:
        raise DuisModelError(f"Response/Body: expected one element, found {len(kids)}")
    k = kids[0]
    name = _local(k)
    b: ResponseBody
    if name == "ResponseMessage":
        b = _parse_response_message(k)
    elif name == "DeviceAlertMessage":
        b = _parse_device_alert(k)
    elif name == "DCCAlertMessage":
        b = _parse_dcc_alert(k)
    else:
        b = Body.of(k)  # SMETS1ResponseMessage and anything newer: kept, not typed
    return Response(h, b, _schema_version(root), _signed(root))


def _schema_version(root: etree._Element) -> str:
    v = root.get("schemaVersion")
    if v is None:
        raise DuisModelError("no schemaVersion attribute on the root element")
    return v.strip()


def _signed(root: etree._Element) -> bool:
    return root.find(_DS_SIGNATURE) is not None


def parse(xml: bytes) -> DuisMessage:
    """Parse a DUIS request, response or alert.

    Raises :class:`DuisModelError` (one-line reason) for anything else: text that is not
    XML, a DOCTYPE, another root, a missing or malformed header field, bad base64.
    """
    try:
        root = xmlsig.parse(xml).getroot()
    except xmlsig.DuisXmlError as e:
        raise DuisModelError(str(e)) from None
    qn = etree.QName(root)
    if qn.namespace != SR_NS or qn.localname not in ("Request", "Response"):
        raise DuisModelError(f"root element {_shown(qn.text)} is not a DUIS Request or Response")
    allowed = ("Header", "Body")
    for c in _children(root):
        if c.tag == _DS_SIGNATURE or (c.tag.startswith(_SR) and _local(c) in allowed):
            continue
        raise DuisModelError(f"{qn.localname}: unexpected element {_shown(etree.QName(c).text)}")
    header = root.find(_SR + "Header")
    body = root.find(_SR + "Body")
    if header is None or body is None:
        raise DuisModelError(f"{qn.localname}: needs a Header and a Body")
    try:
        if qn.localname == "Request":
            return _parse_request(root, header, body)
        return _parse_response(root, header, body)
    except etree.LxmlError as e:  # pragma: no cover - defensive: lxml on odd input
        raise DuisModelError(" ".join(str(e).split())) from None


# --- writing --------------------------------------------------------------------------


def _sub(parent: etree._Element, name: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _SR + name)
    if text is not None:
        el.text = text
    return el


def _b64text(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _append(parent: etree._Element, body: Body) -> None:
    parent.append(body.element())


def _write_request(root: etree._Element, m: Request) -> None:
    h = _sub(root, "Header")
    _sub(h, "RequestID", m.header.request_id.format())
    if m.header.first_in_sequence is not None:
        _sub(h, "FirstInSequence", "true" if m.header.first_in_sequence else "false")
    if m.header.preceding_request_id is not None:
        _sub(h, "PrecedingServiceRequestID", m.header.preceding_request_id.format())
    _sub(h, "CommandVariant", str(m.header.command_variant))
    _sub(h, "ServiceReference", m.header.service_reference)
    _sub(h, "ServiceReferenceVariant", m.header.service_reference_variant)
    _append(_sub(root, "Body"), m.body)


def _write_response(root: etree._Element, m: Response) -> None:
    h = _sub(root, "Header")
    if m.header.request_id is not None:
        _sub(h, "RequestID", m.header.request_id.format())
    if m.header.response_id is not None:
        _sub(h, "ResponseID", m.header.response_id.format())
    _sub(h, "ResponseCode", m.header.response_code)
    _sub(h, "ResponseDateTime", m.header.response_date_time)
    body = _sub(root, "Body")
    b = m.body
    if isinstance(b, ResponseMessage):
        el = _sub(body, "ResponseMessage")
        _sub(el, "ServiceReference", b.service_reference)
        _sub(el, "ServiceReferenceVariant", b.service_reference_variant)
        c = b.content
        if isinstance(c, GbcsPayload):
            _sub(el, "GBCSPayload", _b64text(c.data))
        elif isinstance(c, PreCommand):
            p = _sub(el, "PreCommand")
            _sub(p, "GBCSVersion", c.gbcs_version)
            _sub(p, "GBCSPayload", _b64text(c.gbcs_payload))
        elif isinstance(c, FutureDatedDeviceAlertMessage):
            f = _sub(el, "FutureDatedDeviceAlertMessage")
            _sub(f, "FutureDatedAlertCode", c.alert_code)
            _sub(f, "GBCSPayload", _b64text(c.gbcs_payload))
            _sub(f, "InstructionNumber", str(c.instruction_number))
            _sub(f, "TotalCommandInstructions", str(c.total_command_instructions))
        elif isinstance(c, Body):
            _append(el, c)
    elif isinstance(b, DeviceAlertMessage):
        el = _sub(body, "DeviceAlertMessage")
        _sub(el, "AlertCode", b.alert_code)
        _throttled(el, b.throttled_alert_sequence_id, b.throttled_alert_count)
        _sub(el, "GBCSPayload", _b64text(b.gbcs_payload))
    elif isinstance(b, DCCAlertMessage):
        el = _sub(body, "DCCAlertMessage")
        _sub(el, "DCCAlertCode", b.dcc_alert_code)
        _throttled(el, b.throttled_alert_sequence_id, b.throttled_alert_count)
        _append(_sub(el, "DCCAlert"), b.event)
    else:
        _append(body, b)


def _throttled(el: etree._Element, seq: int | None, count: int | None) -> None:
    if seq is not None:
        _sub(el, "ThrottledAlertSequenceId", str(seq))
    if count is not None:
        _sub(el, "ThrottledAlertCount", str(count))


def to_xml(message: DuisMessage) -> bytes:
    """The message as a compact, unsigned DUIS document (UTF-8, with XML declaration).

    Sign it with :func:`emulator.duis.xmlsig.sign`.
    """
    tag = "Request" if isinstance(message, Request) else "Response"
    root = etree.Element(_SR + tag, nsmap=_NSMAP)
    root.set("schemaVersion", message.schema_version)
    if isinstance(message, Request):
        _write_request(root, message)
    else:
        _write_response(root, message)
    etree.cleanup_namespaces(root)
    out: bytes = etree.tostring(root, xml_declaration=True, encoding="UTF-8")
    return out
