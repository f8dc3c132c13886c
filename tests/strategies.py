"""Hypothesis strategies for whole GBCS messages built from typed values.

Payload strategies reuse the per-module ones where they exist (``tests.test_dlms``,
``tests.test_axdr``, ``tests.test_gbz``, ``tests.test_asn1``) and add what whole messages
need on top: grouping headers with every CRA flag and other-information variant, COSEM
date-times with wildcards, DER certificates sized across the BER length forms, signature
fields, both envelopes, and messages whose lengths sit exactly on the BER boundaries.

Every message drawn here is *decodable*: payload kind, CRA flag and message code are
chosen together the way :func:`gbcs.codec.decode_payload` dispatches (a GBZ payload has an
alert header exactly when the CRA flag is 3; a typed ASN.1 model comes with its message
code and CRA flag; a generic DER payload avoids the typed message codes and the first
bytes of DLMS and GBZ content).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from gbcs.asn1 import (
    TYPED_MESSAGE_CODES,
    Asn1Payload,
    DerNode,
    DeviceTimeStatus,
    SetTimeCommand,
    SetTimeResponse,
    der_integer,
    der_octet_string,
    der_sequence,
)
from gbcs.axdr import Data
from gbcs.codec import GbcsMessage
from gbcs.cosem_time import DlmsDateTime
from gbcs.crypto.part_cipher import PART_HEADER
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    DataNotification,
    KeyInfo,
    ProtectedAttributes,
    ProtectionParameters,
)
from gbcs.envelope import (
    MAC_LENGTH,
    SIGNATURE_LENGTH,
    Cra,
    Envelope,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
)
from gbcs.firmware import (
    ActivateFirmwareAlert,
    ActivateFirmwareCommand,
    ActivateFirmwareOutcome,
    ActivateFirmwareResponse,
    ActivateFirmwareResponseCode,
)
from gbcs.gbz import GbzPayload
from gbcs.payload import Payload
from gbcs.wire import ber_length_size
from tests.test_asn1 import DER_TREES
from tests.test_axdr import DATA
from tests.test_dlms import _DT, _INVOKE, _PROTECTED, _RESULTS, _SIMPLE_DATA, _SPECS
from tests.test_gbz import _ALERTS, _clear_component, _encrypted_component

# --------------------------------------------------------------------------- parties

ESME = bytes.fromhex("00DB1234567890A0")
SUPPLIER = bytes.fromhex("90B3D51F30010000")
ACB = bytes.fromhex("90B3D51F30000002")

# Titles of the public interop key store (tests/interop.py keys_dir()); see its README.
KA_PRIVATE = tuple(
    bytes.fromhex(h)
    for h in (
        "00DB1234567890A0",  # the only device KA private key that is public (ESME)
        "123456789ABCDEF0",
        "90B3D51F30000002",
        "90B3D51F30000007",
        "90B3D51F30010000",
        "90B3D51F30010008",
        "90B3D51F30020000",
        "90B3D51F30030000",
        "ABABABABABABABAB",
    )
)
KA_PUBLIC = (
    *KA_PRIVATE,
    *(bytes.fromhex(f"00DB1234567890A{i}") for i in range(1, 7)),
    bytes.fromhex("FFFFFFFFFFFFFFFE"),
)
DS_PRIVATE = tuple(
    bytes.fromhex(h)
    for h in (
        "123456789ABCDEF0",
        "90B3D51F30000001",
        "90B3D51F30000002",
        "90B3D51F30000004",
        "90B3D51F30000007",
        "90B3D51F30010000",
        "90B3D51F30010008",
        "90B3D51F30020000",
        "90B3D51F30030000",
    )
)

# --------------------------------------------------------------------------- scalars

U64_EDGES = (0, 1, 0x7F, 0x80, 0xFF, 0x100, 2**32 - 1, 2**63 - 1, 2**63, 2**64 - 2, 2**64 - 1)
counters = st.one_of(st.sampled_from(U64_EDGES), st.integers(0, 2**64 - 1))
"""Originator / SRP counters, with the 64-bit edges (0 and 2**64-1) drawn often."""

euis = st.one_of(
    st.binary(min_size=8, max_size=8),
    st.sampled_from((ESME, SUPPLIER, ACB, b"\x00" * 8, b"\xff" * 8)),
)
"""EUI-64 system titles: random, the RTDS parties, all-zero and all-ones."""

cras = st.sampled_from(Cra)
"""Every CRA flag: command, response, alert."""

message_codes = st.one_of(
    st.sampled_from((0x0000, 0x0001, 0x0019, 0x0028, 0x00CC, 0x8000, 0xFFFF)),
    st.integers(0, 0xFFFF),
)


def _u8_or(*specials: int, lo: int = 0, hi: int = 255) -> st.SearchStrategy[int]:
    return st.one_of(st.sampled_from(specials), st.integers(lo, hi))


structured_date_times = st.builds(
    DlmsDateTime,
    year=_u8_or(0xFFFF, lo=1990, hi=2099),
    month=_u8_or(0xFF, 0xFD, 0xFE, lo=1, hi=12),
    day=_u8_or(0xFF, 0xFD, 0xFE, lo=1, hi=31),
    weekday=_u8_or(0xFF, lo=1, hi=7),
    hour=_u8_or(0xFF, lo=0, hi=23),
    minute=_u8_or(0xFF, lo=0, hi=59),
    second=_u8_or(0xFF, lo=0, hi=59),
    hundredths=_u8_or(0xFF, lo=0, hi=99),
    deviation=st.one_of(st.just(-0x8000), st.integers(-720, 720)),
    clock_status=_u8_or(0xFF, 0x00, 0x80),
)
"""COSEM date-times mixing wildcard / not-specified fields with real values."""

date_times = st.one_of(
    st.none(),
    st.just(DlmsDateTime.not_specified()),
    structured_date_times,
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
        DlmsDateTime.from_datetime
    ),
    st.binary(min_size=12, max_size=12).map(DlmsDateTime.from_bytes),
)
"""The grouping-header date-time: absent, all wildcards, partly wildcards, RTDS form, raw."""

# --------------------------------------------------------------------------- certificates

# DER body sizes chosen so the certificate's SEQUENCE length and the other-information
# length land on both sides of the 1-byte / 0x81 / 0x82 BER boundaries.
_CERT_FILL = st.one_of(
    st.integers(0, 20),
    st.integers(100, 140),
    st.integers(230, 270),
    st.integers(300, 520),
)


@st.composite
def der_certificates(draw: st.DrawFn) -> bytes:
    """A small valid DER SEQUENCE (stand-in for an X.509 KA certificate), > 8 bytes."""
    serial = der_integer(draw(st.integers(2**16, 2**64)))  # >= 3 content bytes
    fill = der_octet_string(draw(st.binary(max_size=8)) + bytes(draw(_CERT_FILL)))
    extra: list[DerNode] = draw(
        st.lists(st.sampled_from([der_integer(1), der_integer(-5)]), max_size=4)
    )
    cert = der_sequence(serial, fill, *extra).encode()
    assert len(cert) > 8
    return cert


# --------------------------------------------------------------------------- headers


@st.composite
def other_informations(
    draw: st.DrawFn, codes: st.SearchStrategy[int] = message_codes
) -> OtherInformation:
    """Every other-information variant: code; +SRP id; +SRP counter; +supplementary
    originator counter; +DER certificate."""
    code = draw(codes)
    variant = draw(st.sampled_from(("code", "srp", "srp_counter", "supp_counter", "cert")))
    if variant == "code":
        return OtherInformation(code)
    srp = draw(euis)
    if variant == "srp":
        return OtherInformation(code, srp)
    srp_counter = draw(counters)
    if variant == "srp_counter":
        return OtherInformation(code, srp, srp_counter)
    if variant == "supp_counter":
        return OtherInformation(code, srp, srp_counter, draw(counters))
    return OtherInformation(code, srp, srp_counter, certificate=draw(der_certificates()))


@st.composite
def grouping_headers(
    draw: st.DrawFn,
    cra: st.SearchStrategy[Cra] = cras,
    codes: st.SearchStrategy[int] = message_codes,
    originators: st.SearchStrategy[bytes] = euis,
    recipients: st.SearchStrategy[bytes] = euis,
    others: st.SearchStrategy[OtherInformation] | None = None,
) -> GroupingHeader:
    """Grouping headers with every CRA flag, counter, EUI, date-time and other-information."""
    other = draw(others if others is not None else other_informations(codes))
    return GroupingHeader(
        draw(cra), draw(counters), draw(originators), draw(recipients), other, draw(date_times)
    )


# --------------------------------------------------------------------------- DLMS payloads

simple_data = _SIMPLE_DATA
"""Small A-XDR Data trees (``tests.test_dlms``)."""
data_values = st.one_of(_SIMPLE_DATA, DATA)
"""A-XDR Data of every type incl. compact arrays (``tests.test_axdr``) or small trees."""


@st.composite
def protection_parameters(draw: st.DrawFn) -> ProtectionParameters:
    """GBCS protection parameters (04 ‖ counter, agreed key 02) or other option values."""
    if draw(st.booleans()):
        return ProtectionParameters.gbcs(draw(counters), draw(euis), draw(euis))
    return ProtectionParameters(
        draw(st.binary(max_size=12)),
        draw(euis),
        draw(euis),
        draw(st.integers(0, 3)),
        draw(st.binary(max_size=6)),
        KeyInfo.agreed(draw(st.binary(max_size=2)), draw(st.binary(max_size=4))),
    )


@st.composite
def encrypted_blobs(draw: st.DrawFn, max_ciphertext: int = 300) -> bytes:
    """``31 00000000 ‖ ciphertext ‖ tag12`` with random ciphertext and tag."""
    ct = draw(st.binary(max_size=max_ciphertext))
    return PART_HEADER + ct + draw(st.binary(min_size=12, max_size=12))


protected_attributes = st.one_of(
    st.builds(
        lambda ps, blob: ProtectedAttributes(tuple(ps), blob).to_data(),
        st.lists(protection_parameters(), min_size=1, max_size=2),
        encrypted_blobs(),
    ),
    _PROTECTED,
)
"""Get-protected-attributes results: protection parameters plus an encrypted blob."""

nested_protected = st.recursive(
    st.one_of(_SIMPLE_DATA, protected_attributes),
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3).map(lambda xs: Data.structure(*xs)),
        st.lists(kids, min_size=1, max_size=3).map(lambda xs: Data.array(*xs)),
    ),
    max_leaves=6,
)
"""Data trees with protected attributes at any depth (their parts' offsets are nested)."""

access_requests = st.builds(
    AccessRequest,
    _INVOKE,
    st.lists(_SPECS, max_size=4).map(tuple),
    st.lists(st.one_of(data_values, nested_protected), max_size=4).map(tuple),
    _DT,
)
access_responses = st.builds(
    AccessResponse,
    _INVOKE,
    st.lists(st.one_of(_SIMPLE_DATA, protected_attributes, nested_protected), max_size=4).map(
        tuple
    ),
    st.lists(_RESULTS, max_size=4).map(tuple),
    _DT,
    st.one_of(st.none(), st.lists(_SPECS, max_size=3).map(tuple)),
)
data_notifications = st.one_of(
    st.builds(DataNotification, _INVOKE, st.one_of(data_values, nested_protected), _DT),
    st.builds(
        lambda inv, code, ts, extra, dt: DataNotification.alert(
            inv, code, ts, *extra, date_time=dt
        ),
        _INVOKE,
        st.integers(0, 0xFFFF),
        structured_date_times,
        st.lists(st.one_of(_SIMPLE_DATA, protected_attributes), max_size=3),
        _DT,
    ),
)

# --------------------------------------------------------------------------- GBZ payloads

# test_gbz's encrypted components carry an explicit frame counter; also build them with
# the documented default (None = the component's index among the encrypted ones) and a
# random additional-header control byte.
_DEFAULT_FC_COMPONENT = st.builds(
    lambda c, ahc: replace(
        c, ciphered=replace(c.ciphered, frame_counter=None, additional_header_control=ahc)
    ),
    _encrypted_component(),
    st.integers(0, 255),
)
_GBZ_COMPONENTS = st.lists(
    st.one_of(_clear_component(), _encrypted_component(), _DEFAULT_FC_COMPONENT), max_size=4
)
gbz_payloads = st.builds(lambda cs: GbzPayload(tuple(cs)), _GBZ_COMPONENTS)
"""GBZ payloads without an alert header (commands and responses)."""
gbz_alert_payloads = st.builds(lambda cs, a: GbzPayload(tuple(cs), a), _GBZ_COMPONENTS, _ALERTS)
"""GBZ payloads with an alert header (CRA flag 3)."""

# --------------------------------------------------------------------------- ASN.1 payloads


def _dispatches_as_asn1(node: DerNode) -> bool:
    raw = node.encode()
    return raw[0] not in (0xD9, 0xDA, 0x0F) and raw[:2] != b"\x01\x09"


generic_asn1_payloads = st.lists(DER_TREES.filter(_dispatches_as_asn1), min_size=1, max_size=2).map(
    lambda nodes: Asn1Payload.from_nodes(*nodes)
)
"""Generic DER content (one or two TLVs) whose first byte the codec routes to ASN.1."""

_ZONES = st.sampled_from((UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5))))
gbcs_times = st.datetimes(
    min_value=datetime(1950, 1, 1), max_value=datetime(9990, 12, 31), timezones=_ZONES
).map(lambda d: d.replace(microsecond=0))
"""Aware, whole-second datetimes (GeneralizedTime ``YYYYMMDDHHMMSSZ``)."""

_OUTCOMES = st.builds(
    ActivateFirmwareOutcome,
    st.sampled_from(ActivateFirmwareResponseCode),
    st.binary(max_size=40),
)
_TYPED_MODELS: dict[tuple[int, Cra], st.SearchStrategy[Any]] = {
    (0x0012, Cra.COMMAND): st.builds(
        ActivateFirmwareCommand,
        st.binary(min_size=32, max_size=32),
        counters,
        st.one_of(st.none(), gbcs_times),
    ),
    (0x0012, Cra.RESPONSE): st.builds(ActivateFirmwareResponse, st.one_of(st.none(), _OUTCOMES)),
    (0x00CA, Cra.ALERT): st.builds(
        ActivateFirmwareAlert,
        st.one_of(st.sampled_from((0x8F66, 0x8F67)), st.integers(0, 0xFFFF)),
        gbcs_times,
        counters,
        _OUTCOMES,
    ),
    (0x007F, Cra.COMMAND): st.builds(SetTimeCommand, gbcs_times, gbcs_times),
    (0x007F, Cra.RESPONSE): st.builds(
        SetTimeResponse, gbcs_times, st.sampled_from(DeviceTimeStatus)
    ),
}


@st.composite
def typed_asn1(draw: st.DrawFn) -> tuple[int, Cra, Asn1Payload]:
    """(message code, CRA flag, payload) for a CS06 / GCS28 typed model."""
    code, cra = draw(st.sampled_from(sorted(_TYPED_MODELS)))
    return code, cra, Asn1Payload.from_typed(draw(_TYPED_MODELS[(code, cra)]))


# --------------------------------------------------------------------------- whole messages

PAYLOAD_KINDS = (
    "access-request",
    "access-response",
    "data-notification",
    "gbz",
    "gbz-alert",
    "asn1",
    "asn1-typed",
)


@st.composite
def payload_with_header(
    draw: st.DrawFn,
    kind: str | None = None,
    originators: st.SearchStrategy[bytes] = euis,
    recipients: st.SearchStrategy[bytes] = euis,
) -> tuple[GroupingHeader, Payload]:
    """A payload of ``kind`` (any when None) and a header consistent with its dispatch."""
    kind = kind or draw(st.sampled_from(PAYLOAD_KINDS))
    codes = message_codes
    flags = cras
    payload: Payload
    if kind == "access-request":
        payload = draw(access_requests)
    elif kind == "access-response":
        payload = draw(access_responses)
    elif kind == "data-notification":
        payload = draw(data_notifications)
    elif kind == "gbz":
        payload, flags = draw(gbz_payloads), st.sampled_from((Cra.COMMAND, Cra.RESPONSE))
    elif kind == "gbz-alert":
        payload, flags = draw(gbz_alert_payloads), st.just(Cra.ALERT)
    elif kind == "asn1":
        payload = draw(generic_asn1_payloads)
        codes = message_codes.filter(lambda c: c not in TYPED_MESSAGE_CODES)
    elif kind == "asn1-typed":
        code, cra, payload = draw(typed_asn1())
        codes, flags = st.just(code), st.just(cra)
    else:
        raise ValueError(kind)
    header = draw(grouping_headers(flags, codes, originators, recipients))
    return header, payload


signatures = st.binary(min_size=SIGNATURE_LENGTH, max_size=SIGNATURE_LENGTH)
macs = st.binary(min_size=MAC_LENGTH, max_size=MAC_LENGTH)


@st.composite
def signature_fields(draw: st.DrawFn) -> tuple[SignatureForm, bytes]:
    """Absent, null, or present with 64 random bytes."""
    form = draw(st.sampled_from(SignatureForm))
    return form, draw(signatures) if form is SignatureForm.PRESENT else b""


@st.composite
def envelopes(draw: st.DrawFn) -> tuple[Envelope, bytes | None]:
    """General-signing (no MAC) or general-ciphering with a random 12-byte MAC."""
    env = draw(st.sampled_from(Envelope))
    return env, draw(macs) if env is Envelope.GENERAL_CIPHERING else None


@st.composite
def messages(draw: st.DrawFn, kind: str | None = None) -> GbcsMessage:
    """A whole GBCS message built from typed values (``raw``/``layout`` unset)."""
    header, payload = draw(payload_with_header(kind))
    form, sig = draw(signature_fields())
    env, mac = draw(envelopes())
    return GbcsMessage(header, payload, env, form, sig, mac)


# --------------------------------------------------------------------------- exact sizes

_SIG_SIZE = {SignatureForm.ABSENT: 0, SignatureForm.NULL: 1, SignatureForm.PRESENT: 65}
BOUNDARIES = (127, 128, 255, 256)
"""Lengths around the BER 1-byte / 0x81 / 0x82 switches."""


def _oi_size(oi: OtherInformation) -> int:
    n = len(oi.encode())
    return ber_length_size(n) + n


def _dt_size(dt: DlmsDateTime | None) -> int:
    return 1 if dt is None else 13


def padded_payload(kind: str, size: int, dt: DlmsDateTime | None, invoke_id: int) -> Payload:
    """A DLMS payload of exactly ``size`` content bytes (any ``size`` >= 25 works).

    The body is ``structure{octet-string(n)}`` optionally followed by a null-data, which
    reaches every size across the octet-string length-form jumps.
    """
    fixed = 1 + 4 + _dt_size(dt)  # tag, invoke id, date-time
    if kind == "access-response":
        fixed += 1 + 1 + 1  # request specs absent, data count, results count (empty)
    for n in range(max(0, size - fixed - 4), -1, -1):
        for null in (False, True):
            body_size = 2 + 1 + ber_length_size(n) + n + (1 if null else 0)
            if fixed + body_size == size:
                items = [Data.octet_string(bytes(range(256)) * (n // 256) + bytes(n % 256))]
                if null:
                    items.append(Data.null())
                body = Data.structure(*items)
                if kind == "access-response":
                    return AccessResponse(invoke_id, (body,), (), dt)
                return DataNotification(invoke_id, body, dt)
    raise ValueError(f"no {kind} payload of {size} bytes")


@st.composite
def sized_messages(draw: st.DrawFn) -> tuple[GbcsMessage, str, int]:
    """A message whose ciphered length or content length is exactly on a BER boundary
    (127/128, 255/256, 0xFFFF/0x10000). Returns (message, which length, its value)."""
    kind = draw(st.sampled_from(("access-response", "data-notification")))
    header = draw(grouping_headers())
    form, sig = draw(signature_fields())
    dt = draw(_DT)
    env = draw(st.sampled_from(Envelope))
    what = "ciphered" if env is Envelope.GENERAL_CIPHERING and draw(st.booleans()) else "content"
    target = draw(st.sampled_from((*BOUNDARIES, 0xFFFF, 0x10000)))
    minimum = 1 + 4 + _dt_size(dt) + 3 + 3 + 1  # smallest padded payload (<= 25 bytes)
    content = target
    if what == "ciphered":
        # ciphered = security header + GS APDU + MAC; the GS APDU's content-length field
        # is 1..3 bytes depending on the content length itself.
        head = 29 + _dt_size(header.date_time) + _oi_size(header.other) + _SIG_SIZE[form]
        options = [c for k in (1, 2, 3) if ber_length_size(c := target - 17 - head - k) == k]
        if options and options[0] >= minimum:
            content = options[0]
        else:  # header and signature alone exceed this boundary: aim at the content
            what = "content"
    payload = padded_payload(kind, content, dt, draw(_INVOKE))
    mac = draw(macs) if env is Envelope.GENERAL_CIPHERING else None
    return GbcsMessage(header, payload, env, form, sig, mac), what, target
