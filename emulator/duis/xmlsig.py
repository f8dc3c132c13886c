"""XML signatures of DUIS requests, responses and alerts (XMLDSig, as DCC Boxed makes them).

The recipe is the one that verifies DCC Boxed's real signed samples and that the DCC
Boxed signing tool accepts:

* one enveloped ``ds:Signature``, the last child of the root element;
* ``SignedInfo`` canonicalised with **exclusive** C14N 1.0 (``xml-exc-c14n#``) in place in
  the document, signed with ECDSA P-256/SHA-256 (``xmldsig-more#ecdsa-sha256``); the
  ``SignatureValue`` is base64 of raw r‖s (32 + 32 bytes, IEEE P1363), not DER;
* one ``Reference`` with ``URI=""``, the single transform ``enveloped-signature`` and
  SHA-256 (``xmlenc#sha256``); with no canonicalisation transform named, the XMLDSig
  default applies: **inclusive** C14N 1.0 without comments of the document minus the
  signature (exclusive C14N would drop the root's unused namespace declarations and give
  a wrong digest on every real sample);
* ``KeyInfo`` holds only ``X509Data/X509IssuerSerial`` (issuer name, decimal serial): the
  signer's certificate is found among locally loaded ones (:mod:`emulator.duis.keys`).

Documents are parsed with a hardened parser (no DTD loading, no entity resolution, no
network) and any ``DOCTYPE`` is refused, as the signing tool's ``disallow-doctype-decl``
does. Certificate validity dates are reported and, unless asked, not enforced: the DCC
Boxed tools do not check them and the public test certificates have expired.

:func:`verify` never raises on bad input; it returns a :class:`VerifyResult`.
:func:`sign` and :func:`validate` raise :class:`DuisXmlError` (one line, saying what is
wrong) for input they cannot use.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from urllib.parse import quote

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from lxml import etree

from emulator.duis.keys import XmlKeyStore, XmlSigner, normalise_eui

__all__ = [
    "C14N_EXCLUSIVE",
    "DIGEST_SHA256",
    "DSIG_NS",
    "SIGNATURE_ECDSA_SHA256",
    "TRANSFORM_ENVELOPED",
    "DuisXmlError",
    "ValidationResult",
    "Verdict",
    "VerifyResult",
    "originator_eui",
    "parse",
    "sign",
    "sign_for_originator",
    "validate",
    "verify",
]

DSIG_NS = "http://www.w3.org/2000/09/xmldsig#"
SR_NS = "http://www.dccinterface.co.uk/ServiceUserGateway"
C14N_EXCLUSIVE = "http://www.w3.org/2001/10/xml-exc-c14n#"
SIGNATURE_ECDSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
TRANSFORM_ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
DIGEST_SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"

_DS = "{" + DSIG_NS + "}"
_MAX_DOCUMENT = 16 * 1024 * 1024
# Java's base64 MIME encoder wraps at 76 characters with CR LF; the signing tool's output
# (and so DCC Boxed's) carries it, serialised as "&#13;\n".
_WRAP = 76


class DuisXmlError(ValueError):
    """A document that cannot be signed, parsed or validated; the message says why."""


class Verdict(StrEnum):
    """Outcome of :func:`verify`."""

    VALID = "valid"
    #: Well-formed signature that does not verify: digest or signature mismatch, or a
    #: certificate outside its validity when dates are enforced.
    INVALID = "invalid"
    #: No certificate with the signature's issuer and serial among those loaded.
    UNKNOWN_SIGNER = "unknown signer"
    #: No ``ds:Signature`` at all.
    UNSIGNED = "unsigned"
    #: Not XML, a DOCTYPE, or a signature of the wrong shape (placeholder value,
    #: unexpected algorithm, no serial number, several signatures or references).
    MALFORMED = "malformed"


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """What :func:`verify` found; ``reason`` is one line."""

    verdict: Verdict
    reason: str
    #: The certificate that made the signature, when found.
    signer: XmlSigner | None = None
    #: Whether the reference digest matched (None when not computed).
    digest_ok: bool | None = None
    #: Whether the ECDSA signature over SignedInfo verified (None when not checked).
    signature_ok: bool | None = None
    issuer: str | None = None
    serial: int | None = None
    #: Whether the signer's certificate was within its validity at the check time (None
    #: without signer); reported always, enforced only with ``enforce_dates``.
    certificate_in_date: bool | None = None
    #: Whether certificate dates were enforced (``enforce_dates``).
    dates_enforced: bool = False

    @property
    def ok(self) -> bool:
        """True only for a valid signature."""
        return self.verdict is Verdict.VALID

    def line(self) -> str:
        """One line for a user: the verdict, why, and the signer with its dates."""
        text = f"{self.verdict.value}: {_one_line(self.reason)}"
        if self.signer is not None:
            s = self.signer
            text += f"; signer {s.eui or '?'} OU={s.ou or '-'} serial {s.serial}"
            if self.certificate_in_date is False and not self.dates_enforced:
                text += (
                    f" (certificate valid {s.not_before:%Y-%m-%d}..{s.not_after:%Y-%m-%d},"
                    " not now; dates not enforced)"
                )
        return text


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_blank_text=False,
    )


_DOCTYPE = re.compile(rb"<!DOCTYPE", re.IGNORECASE)


def parse(xml: bytes) -> etree._ElementTree:
    """Parse a DUIS document safely: no DTD, no entities, no network, DOCTYPE refused.

    Raises :class:`DuisXmlError` for a DOCTYPE or text that is not well-formed XML.
    """
    if len(xml) > _MAX_DOCUMENT:
        raise DuisXmlError(f"document of {len(xml)} bytes is too large")
    # Refused before parsing where the encoding is ASCII-compatible; the check after
    # parsing catches the others (UTF-16), still without resolving anything.
    if _DOCTYPE.search(xml):
        raise DuisXmlError("DOCTYPE not allowed (DTDs and entities are refused)")
    try:
        tree = etree.ElementTree(etree.fromstring(xml, _parser()))
    except etree.XMLSyntaxError as e:
        raise DuisXmlError(f"not well-formed XML: {_one_line(str(e.msg))}") from None
    except ValueError as e:
        raise DuisXmlError(f"not well-formed XML: {_one_line(str(e))}") from None
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise DuisXmlError("DOCTYPE not allowed (DTDs and entities are refused)")
    return tree


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _b64(text: str | None) -> bytes:
    return base64.b64decode("".join((text or "").split()), validate=True)


def _remove_keeping_tail(el: etree._Element) -> None:
    """Remove ``el`` but keep the text after it (the enveloped-signature transform)."""
    parent = el.getparent()
    assert parent is not None
    if el.tail:
        prev = el.getprevious()
        if prev is not None:
            prev.tail = (prev.tail or "") + el.tail
        else:
            parent.text = (parent.text or "") + el.tail
    parent.remove(el)


def _c14n(node: etree._ElementTree | etree._Element, *, exclusive: bool) -> bytes:
    try:
        data: bytes = etree.tostring(node, method="c14n", exclusive=exclusive, with_comments=False)
    except etree.C14NError as e:
        # libxml2 refuses, for one, relative namespace URIs (xmlns:q="rel/ative").
        raise DuisXmlError(f"cannot canonicalise the document: {e}") from None
    return data


def _reference_digest(tree: etree._ElementTree) -> bytes:
    return hashlib.sha256(_c14n(tree, exclusive=False)).digest()


def _signed_info_bytes(signed_info: etree._Element) -> bytes:
    return _c14n(signed_info, exclusive=True)


class _Malformed(Exception):
    pass


def _one(parent: etree._Element, path: str, what: str) -> etree._Element:
    found = parent.findall(path)
    if len(found) != 1:
        raise _Malformed(f"{'no' if not found else len(found)} {what}")
    return found[0]


def _algorithm(parent: etree._Element, tag: str, want: str) -> None:
    el = _one(parent, _DS + tag, tag)
    got = el.get("Algorithm")
    if got != want:
        raise _Malformed(f"{tag} {got!r} not supported (DUIS uses {want})")


def verify(
    xml: bytes,
    keys: XmlKeyStore,
    *,
    enforce_dates: bool = False,
    now: datetime | None = None,
) -> VerifyResult:
    """Verify the enveloped signature of a DUIS document against ``keys``.

    The signer is the loaded certificate with the signature's issuer name and serial.
    ``now`` (default: the current UTC time) is when certificate dates are checked; they
    are reported in :attr:`VerifyResult.certificate_in_date` and turn the verdict
    :attr:`Verdict.INVALID` only with ``enforce_dates``. Never raises on bad input.
    """
    try:
        return _verify(xml, keys, enforce_dates=enforce_dates, now=now)
    except (etree.LxmlError, ValueError, TypeError, OverflowError) as e:
        # A safety net: every known bad input is answered by _verify itself.
        return VerifyResult(Verdict.MALFORMED, f"cannot verify: {type(e).__name__}: {e}")


def _verify(
    xml: bytes, keys: XmlKeyStore, *, enforce_dates: bool, now: datetime | None
) -> VerifyResult:
    try:
        tree = parse(xml)
    except DuisXmlError as e:
        return VerifyResult(Verdict.MALFORMED, str(e))
    root = tree.getroot()
    sigs = root.findall(_DS + "Signature")
    if not sigs:
        if root.find(".//" + _DS + "Signature") is not None:
            return VerifyResult(Verdict.MALFORMED, "ds:Signature is not a child of the root")
        return VerifyResult(Verdict.UNSIGNED, "no signature")
    if len(sigs) > 1:
        return VerifyResult(Verdict.MALFORMED, f"{len(sigs)} ds:Signature elements, expected 1")
    sig = sigs[0]
    try:
        signed_info = _one(sig, _DS + "SignedInfo", "SignedInfo")
        _algorithm(signed_info, "CanonicalizationMethod", C14N_EXCLUSIVE)
        _algorithm(signed_info, "SignatureMethod", SIGNATURE_ECDSA_SHA256)
        ref = _one(signed_info, _DS + "Reference", "Reference")
        if ref.get("URI") != "":
            raise _Malformed(f'Reference URI {ref.get("URI")!r}, expected "" (the document)')
        transforms = ref.findall(f"{_DS}Transforms/{_DS}Transform")
        if [t.get("Algorithm") for t in transforms] != [TRANSFORM_ENVELOPED]:
            raise _Malformed("Reference transforms must be exactly enveloped-signature")
        _algorithm(ref, "DigestMethod", DIGEST_SHA256)
        try:
            digest_value = _b64(_one(ref, _DS + "DigestValue", "DigestValue").text)
        except (binascii.Error, ValueError):
            raise _Malformed("DigestValue is not base64") from None
        try:
            raw = _b64(_one(sig, _DS + "SignatureValue", "SignatureValue").text)
        except (binascii.Error, ValueError):
            raise _Malformed("SignatureValue is not base64") from None
        if raw == b"default":
            raise _Malformed("placeholder signature ('default'): the document is not signed")
        if len(raw) != 64:
            raise _Malformed(f"SignatureValue is {len(raw)} bytes, not 64 (ECDSA P-256 r||s)")
        issuer_serial = sig.find(f"{_DS}KeyInfo/{_DS}X509Data/{_DS}X509IssuerSerial")
        serial_text = (
            issuer_serial.findtext(_DS + "X509SerialNumber") if issuer_serial is not None else None
        )
        if not serial_text or not serial_text.strip():
            raise _Malformed("no X509SerialNumber in KeyInfo/X509Data/X509IssuerSerial")
        try:
            serial = int(serial_text.strip(), 10)
        except ValueError:
            raise _Malformed(f"X509SerialNumber {serial_text.strip()!r} is not decimal") from None
        assert issuer_serial is not None
        issuer = (issuer_serial.findtext(_DS + "X509IssuerName") or "").strip()
        if not issuer:
            raise _Malformed("no X509IssuerName in KeyInfo/X509Data/X509IssuerSerial")
    except _Malformed as e:
        return VerifyResult(Verdict.MALFORMED, str(e))

    try:
        signed_bytes = _signed_info_bytes(signed_info)
        _remove_keeping_tail(sig)
        digest_ok = _reference_digest(tree) == digest_value
    except DuisXmlError as e:
        return VerifyResult(Verdict.MALFORMED, str(e))
    signer = keys.by_issuer_serial(issuer, serial)
    if signer is None:
        return VerifyResult(
            Verdict.UNKNOWN_SIGNER,
            f"no certificate loaded with issuer {issuer} and serial {serial}",
            digest_ok=digest_ok,
            issuer=issuer,
            serial=serial,
        )
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    try:
        signer.public_key.verify(der, signed_bytes, ec.ECDSA(hashes.SHA256()))
        signature_ok = True
    except InvalidSignature:
        signature_ok = False
    in_date = signer.valid_at(now or datetime.now(UTC))
    common = {
        "signer": signer,
        "digest_ok": digest_ok,
        "signature_ok": signature_ok,
        "issuer": issuer,
        "serial": serial,
        "certificate_in_date": in_date,
        "dates_enforced": enforce_dates,
    }
    if not digest_ok:
        return VerifyResult(
            Verdict.INVALID, "digest mismatch: the document changed after signing", **common
        )
    if not signature_ok:
        return VerifyResult(Verdict.INVALID, "signature mismatch over SignedInfo", **common)
    if enforce_dates and not in_date:
        return VerifyResult(
            Verdict.INVALID,
            f"certificate not valid at the check time (valid {signer.not_before:%Y-%m-%d}"
            f"..{signer.not_after:%Y-%m-%d})",
            **common,
        )
    return VerifyResult(Verdict.VALID, "signature verified", **common)


def originator_eui(xml: bytes) -> str:
    """The originator EUI (16 upper-case hex digits) of a request's ``RequestID``.

    Raises :class:`DuisXmlError` without a readable ``Header/RequestID``.
    """
    root = parse(xml).getroot()
    text = root.findtext(f"{{{SR_NS}}}Header/{{{SR_NS}}}RequestID")
    if not text:
        raise DuisXmlError("no sr:Header/sr:RequestID: cannot tell the originator")
    try:
        return normalise_eui(text.strip().split(":")[0])
    except ValueError:
        raise DuisXmlError(f"RequestID {text.strip()!r} does not start with an EUI-64") from None


def _compact(root: etree._Element) -> None:
    """Drop whitespace-only text between elements (what the signing tool's parser ignores)."""
    for el in root.iter():
        if len(el) and el.text is not None and not el.text.strip():
            el.text = None
        if el is not root and el.tail is not None and not el.tail.strip():
            el.tail = None


def _wrap(text: str) -> str:
    return "\r\n".join(text[i : i + _WRAP] for i in range(0, len(text), _WRAP))


def sign(xml: bytes, signer: XmlSigner, *, compact: bool = True) -> bytes:
    """Sign a DUIS document with ``signer`` (which must hold a private key).

    Any existing ``ds:Signature`` of the root (such as a template's placeholder) is
    replaced. With ``compact`` (the default) whitespace between elements is dropped first,
    so the signature also verifies for the DCC Boxed signing tool, which digests a
    document without it. Returns the signed document with an XML declaration, as the
    signing tool writes it. Raises :class:`DuisXmlError` for input it cannot sign.
    """
    if signer.private_key is None:
        raise DuisXmlError(f"no private key for the certificate with serial {signer.serial}")
    tree = parse(xml)
    root = tree.getroot()
    for old in root.findall(_DS + "Signature"):
        _remove_keeping_tail(old)
    if compact:
        _compact(root)
    digest = _reference_digest(tree)

    nsmap = None if root.nsmap.get("ds") == DSIG_NS else {"ds": DSIG_NS}
    sig = etree.SubElement(root, _DS + "Signature", nsmap=nsmap)
    si = etree.SubElement(sig, _DS + "SignedInfo")
    etree.SubElement(si, _DS + "CanonicalizationMethod", Algorithm=C14N_EXCLUSIVE)
    etree.SubElement(si, _DS + "SignatureMethod", Algorithm=SIGNATURE_ECDSA_SHA256)
    ref = etree.SubElement(si, _DS + "Reference", URI="")
    transforms = etree.SubElement(ref, _DS + "Transforms")
    etree.SubElement(transforms, _DS + "Transform", Algorithm=TRANSFORM_ENVELOPED)
    etree.SubElement(ref, _DS + "DigestMethod", Algorithm=DIGEST_SHA256)
    etree.SubElement(ref, _DS + "DigestValue").text = base64.b64encode(digest).decode()
    value = etree.SubElement(sig, _DS + "SignatureValue")
    der = signer.private_key.sign(_signed_info_bytes(si), ec.ECDSA(hashes.SHA256()))
    r, s = decode_dss_signature(der)
    value.text = _wrap(base64.b64encode(r.to_bytes(32, "big") + s.to_bytes(32, "big")).decode())
    x509_data = etree.SubElement(etree.SubElement(sig, _DS + "KeyInfo"), _DS + "X509Data")
    issuer_serial = etree.SubElement(x509_data, _DS + "X509IssuerSerial")
    etree.SubElement(issuer_serial, _DS + "X509IssuerName").text = signer.issuer
    etree.SubElement(issuer_serial, _DS + "X509SerialNumber").text = str(signer.serial)
    body = etree.tostring(tree, encoding="UTF-8", xml_declaration=False)
    return b'<?xml version="1.0" encoding="UTF-8" standalone="no"?>' + body


def sign_for_originator(xml: bytes, keys: XmlKeyStore, *, compact: bool = True) -> bytes:
    """Sign a request with the key of its ``RequestID`` originator, as the signing tool does.

    Raises :class:`DuisXmlError` when no loaded certificate of that EUI has a private key.
    """
    eui = originator_eui(xml)
    signer = keys.signing_key_for(eui)
    if signer is None:
        raise DuisXmlError(f"no signing key loaded for the originator {eui}")
    return sign(xml, signer, compact=compact)


@dataclass(frozen=True, slots=True)
class ValidationResult:
    """Outcome of :func:`validate`: valid, or the schema errors (line: message)."""

    errors: tuple[str, ...]

    @property
    def ok(self) -> bool:
        """True when the document is valid against the schema."""
        return not self.errors


def load_schema(xsd: Path) -> etree.XMLSchema:
    """Load an XSD from a file, resolving its imports next to it (never over the network).

    ``schemaLocation`` values with spaces (``MMC Schema V5.4.xsd`` in the DUIS schema)
    are URL-quoted first: libxml2 misses such imports otherwise. Internal entities of
    the schema files (the W3C xmldsig schema declares some) are expanded; external DTDs
    are not loaded. Raises :class:`DuisXmlError` naming the file when it cannot be used.
    """
    parser = etree.XMLParser(no_network=True, load_dtd=False, resolve_entities="internal")
    try:
        doc = etree.parse(str(xsd), parser)
    except OSError as e:
        raise DuisXmlError(f"{xsd}: cannot read the schema: {e}") from None
    except etree.XMLSyntaxError as e:
        raise DuisXmlError(f"{xsd}: not well-formed XML: {_one_line(str(e.msg))}") from None
    xs = "{http://www.w3.org/2001/XMLSchema}"
    for el in doc.getroot().iter(xs + "import", xs + "include", xs + "redefine"):
        loc = el.get("schemaLocation")
        if loc and " " in loc:
            el.set("schemaLocation", quote(loc, safe="/:%#?=&"))
    try:
        return etree.XMLSchema(doc)
    except etree.XMLSchemaParseError as e:
        raise DuisXmlError(f"{xsd}: not a usable XML schema: {_one_line(str(e))}") from None


def validate(xml: bytes, schema: etree.XMLSchema) -> ValidationResult:
    """Validate a DUIS document (parsed safely, DOCTYPE refused) against ``schema``.

    Raises :class:`DuisXmlError` when the document is not well-formed or has a DOCTYPE.
    """
    tree = parse(xml)
    if schema.validate(tree):
        return ValidationResult(())
    return ValidationResult(
        tuple(f"line {e.line}: {_one_line(e.message)}" for e in schema.error_log)
    )
