"""SMKI certificate look-up as DCC Boxed serves it on port 8083, sans-IO.

Two services, both ``POST`` with a small XML body and no namespace:

* ``/services/certificatesearch``: ``CertificateSearchRequest`` naming an organisation by
  ``CertificateSubjectName`` or a device by ``CertificateSubjectAltName`` (EUI-64 written
  ``90-B3-D5-1F-30-01-00-00``); optional ``CertificateUsage`` (``DS``/``KA``),
  ``CertificateStatus`` and ``CertificateRole`` narrow the search. The reply is a
  ``CertificateSearchResponse`` with one ``Result`` per certificate.
* ``/services/retrievecertificate``: ``CertificateDataRequest/CertificateSerial`` (hex, as
  the search gave it); the reply is ``CertificateDataResponse/CertificateResponse`` with
  the certificate as base64 DER in ``CertificateBody``.

HTTP status: 200 with ``application/xml``; 402 when nothing matches; 401 for a request
that cannot be read (the reason, one line of ``text/plain``). The open client
(dccboxed-keystore) filters the search results itself on usage, status ``I`` and the
organisation role, which it compares as the **decimal** role number (``2``, ``135``).

:class:`CertificateDirectory` is the collection searched, built from a
:class:`keys.store.KeyStore` or from certificates. Everything it holds is ``I`` (in use).
"""

from __future__ import annotations

import base64
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from emulator.duis.xmlsig import DuisXmlError
from emulator.duis.xmlsig import parse as parse_xml
from keys.certs import describe_certificate
from keys.roles import KeyUsage, RemotePartyRole
from keys.store import KeyStore

__all__ = [
    "MAX_REQUEST_BYTES",
    "CertificateDirectory",
    "CertificateStatus",
    "DirectoryCertificate",
    "SearchQuery",
    "SmkiReply",
    "SmkiRequestError",
    "eui_text",
    "handle_retrieve",
    "handle_search",
    "invalid",
    "parse_retrieve_request",
    "parse_search_request",
    "retrieve_response",
    "search_response",
    "serial_text",
]

#: Largest request body read; real requests are a few hundred bytes.
MAX_REQUEST_BYTES = 16 * 1024

STATUS_OK = 200
STATUS_INVALID = 401
STATUS_NOT_FOUND = 402

XML_CONTENT_TYPE = "application/xml"
TEXT_CONTENT_TYPE = "text/plain"

_SUBJECT_NAME = "CertificateSubjectName"
_SUBJECT_ALT_NAME = "CertificateSubjectAltName"
_USAGE = "CertificateUsage"
_STATUS = "CertificateStatus"
_ROLE = "CertificateRole"
_SERIAL = "CertificateSerial"
_SEARCH_FIELDS = (_SUBJECT_NAME, _SUBJECT_ALT_NAME, _USAGE, _STATUS, _ROLE)

_EUI_DASHED = re.compile(r"[0-9A-Fa-f]{2}(?:-[0-9A-Fa-f]{2}){7}")
_EUI_PLAIN = re.compile(r"[0-9A-Fa-f]{16}")
# RFC 5280 caps serial numbers at 20 octets.
_SERIAL_HEX = re.compile(r"[0-9A-Fa-f]{1,40}")
_ROLE_NUMBER = re.compile(r"[0-9]{1,3}")
_BASE64_LINE = 64


class CertificateStatus(StrEnum):
    """SMKI certificate status codes."""

    IN_USE = "I"
    PENDING = "P"
    NOT_IN_USE = "N"
    EXPIRED = "E"
    REVOKED = "R"


class SmkiRequestError(ValueError):
    """A request body that cannot be used; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class DirectoryCertificate:
    """One certificate of the directory with the facts the SMKI services report."""

    serial: int
    eui: bytes
    usage: KeyUsage
    #: True for a device certificate (named by subjectAltName), False for an organisation.
    is_device: bool
    #: Organisation role from the subject OU; None for devices and unknown OUs.
    role: RemotePartyRole | None
    der: bytes
    status: CertificateStatus = CertificateStatus.IN_USE

    @property
    def subject_element(self) -> str:
        """``CertificateSubjectAltName`` for a device, else ``CertificateSubjectName``."""
        return _SUBJECT_ALT_NAME if self.is_device else _SUBJECT_NAME


@dataclass(frozen=True, slots=True)
class SearchQuery:
    """A parsed ``CertificateSearchRequest``."""

    eui: bytes
    #: True for ``CertificateSubjectAltName`` (devices), False for ``CertificateSubjectName``.
    device: bool
    usage: KeyUsage | None = None
    status: CertificateStatus | None = None
    role: int | None = None


@dataclass(frozen=True, slots=True)
class SmkiReply:
    """HTTP status, content type and body of one SMKI answer."""

    status: int
    content_type: str
    body: bytes


def eui_text(eui: bytes) -> str:
    """EUI-64 as the SMKI services write it: ``90-B3-D5-1F-30-01-00-00``."""
    return "-".join(f"{b:02X}" for b in eui)


def serial_text(serial: int) -> str:
    """Serial number as upper-case hex of its bytes (``469AFEC2...``), the SMKI form."""
    digits = f"{serial:X}"
    return digits if len(digits) % 2 == 0 else "0" + digits


def _usage_code(usage: KeyUsage) -> str:
    return usage.value.upper()


# --- the collection ---------------------------------------------------------------------


def _single_usage(usages: frozenset[KeyUsage] | None) -> KeyUsage | None:
    if usages is None or len(usages) != 1:
        return None
    return next(iter(usages))


def _describe(cert: x509.Certificate, usage: KeyUsage | None) -> DirectoryCertificate:
    """Directory record of ``cert``; ``usage`` applies when its KeyUsage is not one usage."""
    info = describe_certificate(cert)
    if info.eui is None:
        raise ValueError(f"certificate {serial_text(cert.serial_number)} names no EUI-64")
    chosen = _single_usage(info.key_usages) or usage
    if chosen is None:
        raise ValueError(
            f"certificate {serial_text(cert.serial_number)} is neither only DS nor only KA"
        )
    return DirectoryCertificate(
        serial=cert.serial_number,
        eui=info.eui,
        usage=chosen,
        is_device=info.is_device,
        role=None if info.is_device else info.role,
        der=cert.public_bytes(serialization.Encoding.DER),
    )


class CertificateDirectory:
    """The certificates the SMKI look-up serves, by serial number and by subject EUI."""

    def __init__(self, certificates: Iterable[DirectoryCertificate] = ()) -> None:
        """Index ``certificates``; the same certificate twice is kept once.

        Raises ``ValueError`` for two different certificates with one serial number.
        """
        self._by_serial: dict[int, DirectoryCertificate] = {}
        for c in certificates:
            known = self._by_serial.get(c.serial)
            if known is not None and known.der != c.der:
                raise ValueError(
                    f"two different certificates have serial number {serial_text(c.serial)}"
                )
            self._by_serial.setdefault(c.serial, c)
        self._by_subject: dict[tuple[bytes, bool], list[DirectoryCertificate]] = {}
        for c in self:
            self._by_subject.setdefault((c.eui, c.is_device), []).append(c)

    @classmethod
    def from_keystore(cls, store: KeyStore) -> CertificateDirectory:
        """Every certificate of ``store`` that names an EUI-64 (bare keys are skipped).

        Organisation certificates are found by their subject EUI, device certificates by
        their subjectAltName EUI; both with status ``I``.
        """
        records = []
        for entry in store.entries():
            if entry.certificate is None or entry.cert_eui is None:
                continue
            records.append(_describe(entry.certificate, entry.usage))
        return cls(records)

    @classmethod
    def from_certificates(
        cls, certificates: Iterable[bytes | x509.Certificate]
    ) -> CertificateDirectory:
        """A directory of DER certificates (or parsed ones), all with status ``I``.

        Raises ``ValueError`` (one line) for DER that does not parse, a certificate that
        names no EUI-64 or whose KeyUsage is not exactly DS or KA.
        """
        records = []
        for i, item in enumerate(certificates):
            if isinstance(item, x509.Certificate):
                cert = item
            else:
                try:
                    cert = x509.load_der_x509_certificate(bytes(item))
                except ValueError:
                    raise ValueError(f"certificate #{i} is not DER X.509") from None
            records.append(_describe(cert, None))
        return cls(records)

    def add_certificate(self, cert: x509.Certificate) -> None:
        """Index one more certificate (status ``I``); the same one twice is kept once.

        Raises ``ValueError`` as :meth:`from_certificates` does, or for another
        certificate with a serial number already held.
        """
        record = _describe(cert, None)
        known = self._by_serial.get(record.serial)
        if known is not None:
            if known.der != record.der:
                raise ValueError(
                    f"two different certificates have serial number {serial_text(record.serial)}"
                )
            return
        self._by_serial[record.serial] = record
        self._by_subject.setdefault((record.eui, record.is_device), []).append(record)

    def __len__(self) -> int:
        return len(self._by_serial)

    def __iter__(self) -> Iterator[DirectoryCertificate]:
        return iter(sorted(self._by_serial.values(), key=_order))

    def by_serial(self, serial: int) -> DirectoryCertificate | None:
        """The certificate with this serial number, or None."""
        return self._by_serial.get(serial)

    def search(self, query: SearchQuery) -> tuple[DirectoryCertificate, ...]:
        """Certificates of the named organisation or device that pass the query's filters."""
        named = self._by_subject.get((query.eui, query.device), [])
        return tuple(c for c in named if _matches(c, query))


def _order(c: DirectoryCertificate) -> tuple[bytes, bool, str, int]:
    return (c.eui, c.is_device, c.usage.value, c.serial)


def _matches(c: DirectoryCertificate, q: SearchQuery) -> bool:
    if c.eui != q.eui or c.is_device != q.device:
        return False
    if q.usage is not None and c.usage is not q.usage:
        return False
    if q.status is not None and c.status is not q.status:
        return False
    return q.role is None or (c.role is not None and int(c.role) == q.role)


# --- requests -----------------------------------------------------------------------------


def _root(body: bytes, name: str) -> etree._Element:
    if len(body) > MAX_REQUEST_BYTES:
        raise SmkiRequestError(f"request body exceeds {MAX_REQUEST_BYTES} bytes")
    if not body.strip():
        raise SmkiRequestError(f"empty request body; expected {name}")
    try:
        root = parse_xml(body).getroot()
    except DuisXmlError as e:
        raise SmkiRequestError(str(e)) from None
    if etree.QName(root).localname != name:
        raise SmkiRequestError(f"root element is {etree.QName(root).localname}, not {name}")
    return root


def _fields(root: etree._Element, allowed: tuple[str, ...]) -> dict[str, str]:
    """Text of each child element (namespaces ignored); each may appear once."""
    out: dict[str, str] = {}
    for child in root:
        if not isinstance(child.tag, str):
            continue  # comments and processing instructions
        name = etree.QName(child).localname
        if name not in allowed:
            raise SmkiRequestError(f"unexpected element {name} in {etree.QName(root).localname}")
        if name in out:
            raise SmkiRequestError(f"{name} given more than once")
        if len(child):
            raise SmkiRequestError(f"{name} must hold text, not elements")
        out[name] = (child.text or "").strip()
    return out


def _parse_eui(text: str, element: str) -> bytes:
    if _EUI_DASHED.fullmatch(text) or _EUI_PLAIN.fullmatch(text):
        return bytes.fromhex(text.replace("-", ""))
    shown = text if len(text) <= 40 else text[:40] + "..."
    raise SmkiRequestError(f"{element} {shown!r} is not an EUI-64 like 90-B3-D5-1F-30-01-00-00")


def _parse_usage(text: str) -> KeyUsage:
    if text.upper() not in ("DS", "KA"):
        raise SmkiRequestError(f"{_USAGE} must be DS or KA, not {text[:20]!r}")
    return KeyUsage(text.lower())


def _parse_status(text: str) -> CertificateStatus:
    try:
        return CertificateStatus(text.upper())
    except ValueError:
        codes = "/".join(s.value for s in CertificateStatus)
        raise SmkiRequestError(f"{_STATUS} must be one of {codes}, not {text[:20]!r}") from None


def _parse_role(text: str) -> int:
    if not _ROLE_NUMBER.fullmatch(text):
        raise SmkiRequestError(f"{_ROLE} must be a decimal role number, not {text[:20]!r}")
    return int(text)


def parse_search_request(body: bytes) -> SearchQuery:
    """Read a ``CertificateSearchRequest``; raises :class:`SmkiRequestError` (one line)."""
    fields = _fields(_root(body, "CertificateSearchRequest"), _SEARCH_FIELDS)
    named = [n for n in (_SUBJECT_NAME, _SUBJECT_ALT_NAME) if n in fields]
    if len(named) != 1:
        raise SmkiRequestError(f"give exactly one of {_SUBJECT_NAME} and {_SUBJECT_ALT_NAME}")
    element = named[0]
    return SearchQuery(
        eui=_parse_eui(fields[element], element),
        device=element == _SUBJECT_ALT_NAME,
        usage=_parse_usage(fields[_USAGE]) if _USAGE in fields else None,
        status=_parse_status(fields[_STATUS]) if _STATUS in fields else None,
        role=_parse_role(fields[_ROLE]) if _ROLE in fields else None,
    )


def parse_retrieve_request(body: bytes) -> int:
    """Serial number asked by a ``CertificateDataRequest``; raises :class:`SmkiRequestError`."""
    fields = _fields(_root(body, "CertificateDataRequest"), (_SERIAL,))
    text = fields.get(_SERIAL)
    if text is None:
        raise SmkiRequestError(f"CertificateDataRequest has no {_SERIAL}")
    if not _SERIAL_HEX.fullmatch(text):
        shown = text if len(text) <= 48 else text[:48] + "..."
        raise SmkiRequestError(f"{_SERIAL} {shown!r} is not 1 to 40 hex digits")
    return int(text, 16)


# --- replies ------------------------------------------------------------------------------


def _add(parent: etree._Element, name: str, text: str) -> None:
    etree.SubElement(parent, name).text = text


def _envelope(name: str, audit_reference: str | None) -> etree._Element:
    root = etree.Element(name)
    _add(root, "ResponseCode", str(STATUS_OK))
    _add(root, "ResponseMessage", "Success")
    _add(root, "AuditReference", audit_reference or uuid.uuid4().hex)
    return root


def _add_role_usage(parent: etree._Element, c: DirectoryCertificate) -> None:
    if c.role is not None:
        _add(parent, _ROLE, str(int(c.role)))
    _add(parent, _USAGE, _usage_code(c.usage))
    _add(parent, "ManufacturingFlag", "false")


_DECLARATION = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'


def _serialise(root: etree._Element) -> bytes:
    # Written out to keep DCC Boxed's double-quoted declaration (lxml writes single quotes).
    return _DECLARATION + etree.tostring(root, encoding="UTF-8")


def _base64_lines(der: bytes) -> str:
    text = base64.b64encode(der).decode("ascii")
    # PEM line length: the open client wraps the body in PEM armour as it is.
    return "\n".join(text[i : i + _BASE64_LINE] for i in range(0, len(text), _BASE64_LINE))


def search_response(
    results: Iterable[DirectoryCertificate], *, audit_reference: str | None = None
) -> bytes:
    """``CertificateSearchResponse`` XML with one ``Result`` per certificate."""
    root = _envelope("CertificateSearchResponse", audit_reference)
    for c in results:
        result = etree.SubElement(root, "Result")
        _add(result, _SERIAL, serial_text(c.serial))
        _add(result, c.subject_element, eui_text(c.eui))
        _add(result, _STATUS, c.status.value)
        _add_role_usage(result, c)
    return _serialise(root)


def retrieve_response(c: DirectoryCertificate, *, audit_reference: str | None = None) -> bytes:
    """``CertificateDataResponse`` XML carrying the certificate as base64 DER."""
    root = _envelope("CertificateDataResponse", audit_reference)
    response = etree.SubElement(root, "CertificateResponse")
    _add(response, c.subject_element, eui_text(c.eui))
    _add(response, _SERIAL, serial_text(c.serial))
    _add(response, _STATUS, c.status.value)
    _add(response, "CertificateBody", _base64_lines(c.der))
    _add_role_usage(response, c)
    return _serialise(root)


def _text(status: int, message: str) -> SmkiReply:
    return SmkiReply(status, TEXT_CONTENT_TYPE, (" ".join(message.split()) + "\n").encode())


def invalid(reason: str) -> SmkiReply:
    """A 401 reply saying why the request cannot be used."""
    return _text(STATUS_INVALID, f"invalid parameters: {reason}")


def handle_search(
    directory: CertificateDirectory, body: bytes, *, audit_reference: str | None = None
) -> SmkiReply:
    """Answer a certificate search: 200 with results, 402 for none, 401 for a bad body."""
    try:
        query = parse_search_request(body)
    except SmkiRequestError as e:
        return invalid(str(e))
    found = directory.search(query)
    if not found:
        kind = _SUBJECT_ALT_NAME if query.device else _SUBJECT_NAME
        return _text(STATUS_NOT_FOUND, f"no certificate with {kind} {eui_text(query.eui)}")
    return SmkiReply(
        STATUS_OK, XML_CONTENT_TYPE, search_response(found, audit_reference=audit_reference)
    )


def handle_retrieve(
    directory: CertificateDirectory, body: bytes, *, audit_reference: str | None = None
) -> SmkiReply:
    """Answer a certificate retrieval: 200 with the certificate, 402 unknown, 401 bad body."""
    try:
        serial = parse_retrieve_request(body)
    except SmkiRequestError as e:
        return invalid(str(e))
    found = directory.by_serial(serial)
    if found is None:
        return _text(STATUS_NOT_FOUND, f"no certificate with serial number {serial_text(serial)}")
    return SmkiReply(
        STATUS_OK, XML_CONTENT_TYPE, retrieve_response(found, audit_reference=audit_reference)
    )
