"""ASN.1 DER payloads: generic tree, strictness, typed CS06 / GCS28 models, interop vectors."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs.asn1 import (
    MAX_DEPTH,
    Asn1Payload,
    DerNode,
    DeviceTimeStatus,
    SetTimeCommand,
    SetTimeResponse,
    TagClass,
    UniversalTag,
    decode_asn1,
    decode_der,
    decode_der_node,
    der_bit_string,
    der_boolean,
    der_enumerated,
    der_generalized_time,
    der_integer,
    der_null,
    der_octet_string,
    der_oid,
    der_sequence,
    der_set,
    der_tagged,
    oid_to_str,
    validate_der,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.firmware import (
    ActivateFirmwareAlert,
    ActivateFirmwareCommand,
    ActivateFirmwareOutcome,
    ActivateFirmwareResponse,
    ActivateFirmwareResponseCode,
    FirmwareAlertCode,
)
from gbcs.payload import Payload, PayloadKind
from tests.interop import by_id, content_slice, interop_dir, parsed, vectors

# --------------------------------------------------------------------------- helpers


def is_asn1(content: bytes) -> bool:
    return content[:1] not in (b"\xd9", b"\xda", b"\x0f") and content[:2] != b"\x01\x09"


def asn1_vector_ids() -> list[str]:
    if interop_dir() is None:
        return []
    out = []
    for v in vectors():
        b = bytes.fromhex(v["hex"])
        s, e, *_ = content_slice(b)
        if is_asn1(b[s:e]):
            out.append(v["id"])
    return out


ASN1_IDS = asn1_vector_ids()
CS06 = "RTDS-4.5.0/11.3_CS06/CS06_11.3_"
GCS28 = "RTDS-4.5.0/6.11_GCS28/GCS28_6.11_"


def vector_payload(vector_id: str) -> tuple[bytes, int, int, int, int]:
    b = bytes.fromhex(by_id(vector_id)["hex"])
    s, e, code, cra, _ = content_slice(b)
    return b, s, e, code, cra


def _hex(p: dict[str, Any]) -> bytes:
    return bytes.fromhex(p["hex"].replace(" ", ""))


def assert_matches_parsed(node: DerNode, p: dict[str, Any], where: str) -> None:
    """The reference tree shows a constructed node's header when it lists children, the
    whole TLV otherwise; DEFAULT fields it invents have an empty slice."""
    enc = node.encode()
    if "children" in p:
        assert _hex(p) == enc[: node.header_size()], where
        kids = [(k, c) for k, c in p["children"].items() if c["hex"]]
        assert len(kids) == len(node.children), where
        for (k, c), n in zip(kids, node.children, strict=True):
            assert_matches_parsed(n, c, f"{where}/{k}")
    else:
        assert _hex(p) == enc, where


def assert_fields_match_parsed(field: Any, p: dict[str, Any], name: str) -> None:
    """Typed display trees use the reference parser's names and the same slices."""
    assert field.name == name
    if "children" in p:
        assert field.raw.startswith(_hex(p))
        kids = list(p["children"].items())
        assert [k for k, _ in kids] == [c.name for c in field.children]
        for (k, c), f in zip(kids, field.children, strict=True):
            assert_fields_match_parsed(f, c, k)
    else:
        assert field.raw == _hex(p)


# --------------------------------------------------------------------------- interop


def test_asn1_vectors_found() -> None:
    if interop_dir() is None:
        pytest.skip("interop vectors not found")
    assert len(ASN1_IDS) == 103


@pytest.mark.interop
@pytest.mark.parametrize("vector_id", ASN1_IDS)
def test_vector_round_trip_and_tree(vector_id: str) -> None:
    b, s, e, code, cra = vector_payload(vector_id)
    payload = decode_asn1(b, s, e, "payload", code, cra=cra)
    assert isinstance(payload, Payload)
    assert payload.kind is PayloadKind.ASN1
    assert payload.encode() == b[s:e]
    assert payload.encrypted_parts() == ()
    assert Asn1Payload.from_nodes(*payload.nodes).encode() == b[s:e]
    # without the CRA flag the typed model is chosen by shape, identically
    assert decode_asn1(b, s, e, "payload", code) == payload
    top = list(parsed(vector_id)["parsed"]["Payload"].items())
    assert len(top) == len(payload.nodes) == 1
    assert_matches_parsed(payload.nodes[0], top[0][1], top[0][0])
    # display tree: offsets absolute, slices exact
    (f,) = payload.fields(s)
    assert f.offset == s and f.raw == b[s:e]
    for node in f.walk():
        assert b[node.offset : node.offset + len(node.raw)] == node.raw
    if payload.typed is not None:
        assert payload.typed.encode() == b[s:e]
        assert_fields_match_parsed(f, top[0][1], top[0][0])


@pytest.mark.interop
def test_typed_models_chosen() -> None:
    kinds = {}
    for vid in ASN1_IDS:
        b, s, e, code, cra = vector_payload(vid)
        t = decode_asn1(b, s, e, "payload", code, cra=cra).typed
        if t is not None:
            kinds[vid.rsplit("/", 1)[1]] = type(t)
    assert kinds == {
        "CS06_11.3_8F66_FUTURE_DATED_SUCCESS_ALERT": ActivateFirmwareAlert,
        "CS06_11.3_8F67_FUTURE_DATED_ERROR_ALERT": ActivateFirmwareAlert,
        "CS06_11.3_IMMEDIATE_SUCCESS_COMMAND": ActivateFirmwareCommand,
        "CS06_11.3_IMMEDIATE_SUCCESS_PRECOMMAND": ActivateFirmwareCommand,
        "CS06_11.3_IMMEDIATE_SUCCESS_RESPONSE": ActivateFirmwareResponse,
        "GCS28_6.11_SUCCESS_COMMAND": SetTimeCommand,
        "GCS28_6.11_SUCCESS_PRECOMMAND": SetTimeCommand,
        "GCS28_6.11_SUCCESS_RESPONSE": SetTimeResponse,
        "GCS28Commission_8.1.1_SUCCESS_COMMAND": SetTimeCommand,
        "GCS28Commission_8.1.1_SUCCESS_PRECOMMAND": SetTimeCommand,
        "GCS28Commission_8.1.1_SUCCESS_RESPONSE": SetTimeResponse,
    }


@pytest.mark.interop
def test_non_minimal_lengths_preserved_from_vector() -> None:
    vid = "RTDS-4.5.0/6.15.1_CS02bNOByNO/CS02bNOByNO_6.15.1_SUCCESS_RESPONSE"
    b, s, e, code, cra = vector_payload(vid)
    payload = decode_asn1(b, s, e, "payload", code, cra=cra)
    (root,) = payload.nodes
    assert b[s : s + 4] == bytes.fromhex("30820083")
    assert root.length_octets == 2 and root.content_size() == 0x83
    assert root.encode() == b[s:e]
    # the same value built from scratch uses the shortest form
    rebuilt = DerNode(root.tag_class, True, root.tag_number, root.children)
    assert rebuilt.encode()[:3] == bytes.fromhex("308183")
    assert rebuilt != root
    (f,) = payload.fields(s)
    assert f.value == "non-minimal length form (2 length octets) kept as received"
    assert f.children[0].name == "NULL" and f.children[0].offset == s + 4


# --------------------------------------------------------------------------- CS06


@pytest.mark.interop
def test_cs06_command() -> None:
    b, s, e, code, cra = vector_payload(CS06 + "IMMEDIATE_SUCCESS_COMMAND")
    assert (code, cra) == (0x0012, 1)
    cmd = decode_asn1(b, s, e, "payload", code, cra=cra).typed
    assert cmd == ActivateFirmwareCommand(
        bytes.fromhex("AA758690730934FF0685AA758690730934FF0685657788990011223344556677"),
        1000,
        None,
    )
    assert cmd.encode() == b[s:e]
    assert ActivateFirmwareCommand.decode(b[s:e]) == cmd
    (f,) = cmd.fields(s)
    assert [(c.name, c.offset, c.value) for c in f.children] == [
        (
            "Manufacturer Image Hash",
            s + 2,
            "AA758690730934FF0685AA758690730934FF0685657788990011223344556677",
        ),
        ("Originator Counter", s + 36, "1000"),
    ]


@pytest.mark.interop
def test_cs06_response() -> None:
    b, s, e, code, cra = vector_payload(CS06 + "IMMEDIATE_SUCCESS_RESPONSE")
    resp = decode_asn1(b, s, e, "payload", code, cra=cra).typed
    assert resp == ActivateFirmwareResponse(
        ActivateFirmwareOutcome(ActivateFirmwareResponseCode.SUCCESS, bytes.fromhex("0123ABCE"))
    )
    assert resp.encode() == b[s:e] == bytes.fromhex("300902010004040123ABCE")


@pytest.mark.interop
@pytest.mark.parametrize(
    ("variant", "alert", "when", "counter", "result"),
    [
        ("8F66_FUTURE_DATED_SUCCESS_ALERT", 0x8F66, datetime(2030, 1, 15, 9, tzinfo=UTC), 1001, 0),
        ("8F67_FUTURE_DATED_ERROR_ALERT", 0x8F67, datetime(2030, 1, 1, tzinfo=UTC), 1004, 2),
    ],
)
def test_cs06_alert(variant: str, alert: int, when: datetime, counter: int, result: int) -> None:
    b, s, e, code, cra = vector_payload(CS06 + variant)
    assert (code, cra) == (0x00CA, 3)
    a = decode_asn1(b, s, e, "payload", code, cra=cra).typed
    assert a == ActivateFirmwareAlert(
        alert,
        when,
        counter,
        ActivateFirmwareOutcome(ActivateFirmwareResponseCode(result), bytes.fromhex("0123ABCF")),
    )
    assert a.succeeded is (alert == FirmwareAlertCode.FUTURE_DATED_SUCCESS)
    assert a.encode() == b[s:e]
    (f,) = a.fields(0)
    assert [c.value for c in f.children[:3]] == [
        FirmwareAlertCode(alert).label,
        when.strftime("%Y-%m-%dT%H:%M:%SZ"),
        str(counter),
    ]
    assert f.children[3].children[0].value == ("Success" if result == 0 else "Hash Mismatch")


def test_cs06_future_dated_forms_round_trip() -> None:
    cmd = ActivateFirmwareCommand(
        bytes(range(32)), 2**64 - 1, datetime(2031, 2, 3, 4, 5, 6, tzinfo=UTC)
    )
    raw = cmd.encode()
    assert raw == (
        bytes.fromhex("303E 0420")
        + bytes(range(32))
        + bytes.fromhex("0209 00FFFFFFFFFFFFFFFF")
        + b"\x18\x0f20310203040506Z"
    )
    assert ActivateFirmwareCommand.decode(raw) == cmd
    (f,) = cmd.fields(10)
    assert f.children[2].name == "Execution Date Time" and f.children[2].offset == 10 + 47
    accepted = ActivateFirmwareResponse(None)
    assert accepted.encode() == b"\x05\x00"
    p = decode_asn1(b"\x05\x00", 0, 2, "payload", 0x0012)
    assert p.typed == accepted
    assert [x.name for x in p.fields()] == ["Command Accepted"]


def test_cs06_encode_rejects_bad_values() -> None:
    with pytest.raises(GbcsEncodeError, match="must be 32 bytes, got 31"):
        ActivateFirmwareCommand(bytes(31), 1)
    with pytest.raises(GbcsEncodeError, match=r"outside 0\.\.2\^64-1"):
        ActivateFirmwareCommand(bytes(32), -1)
    with pytest.raises(GbcsEncodeError, match="timezone-aware"):
        ActivateFirmwareCommand(bytes(32), 1, datetime(2030, 1, 1)).encode()


def err3(ei: pytest.ExceptionInfo[GbcsDecodeError]) -> tuple[str, int, str]:
    return (ei.value.path, ei.value.offset, ei.value.reason)


def _cmd(hash_len: int = 32, counter: bytes = b"\x02\x02\x03\xe8", extra: bytes = b"") -> bytes:
    body = bytes((4, hash_len)) + bytes(hash_len) + counter + extra
    return bytes((0x30, len(body))) + body


@pytest.mark.parametrize(
    ("data", "path", "offset", "reason"),
    [
        (_cmd(31), "payload.manufacturer_image_hash", 2, "must be 32 bytes, found 31"),
        (
            _cmd(counter=b"\x02\x01\xff"),
            "payload.originator_counter",
            36,
            "INTEGER -1 outside 0..2^64-1",
        ),
        (
            _cmd(counter=b"\x04\x01\x01"),
            "payload.originator_counter",
            36,
            "expected INTEGER, found OCTET STRING",
        ),
        (_cmd(counter=b""), "payload.originator_counter", 36, "missing"),
        (
            _cmd(extra=b"\x05\x00"),
            "payload.execution_date_time",
            40,
            "expected GeneralizedTime, found NULL",
        ),
        (
            _cmd(extra=b"\x18\x0f20301301000000Z"),
            "payload.execution_date_time",
            40,
            "invalid date-time 20301301000000Z: month must be in 1..12",
        ),
        (
            _cmd(extra=b"\x18\x0f20300101000000Z\x05\x00"),
            "payload",
            57,
            "unexpected NULL after the last field",
        ),
        (b"\x31\x00", "payload", 0, "expected SEQUENCE, found SET"),
    ],
)
def test_cs06_command_malformed(data: bytes, path: str, offset: int, reason: str) -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(data, 0, len(data), "payload", 0x0012, cra=1)
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (path, offset, reason)


def test_cs06_response_and_alert_malformed() -> None:
    data = bytes.fromhex("3009 020107 04040123ABCE")
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(b"\xaa" + data, 1, 1 + len(data), "payload", 0x0012, cra=2)
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "payload.response_code",
        3,
        "unknown ActivateFirmwareResponseCode value 7",
    )
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(b"\x02\x01\x00", 0, 3, "payload", 0x0012, cra=2)
    assert ei.value.reason == "expected NULL or SEQUENCE, found INTEGER"
    alert = bytes.fromhex("3011 0203008F66 180F") + b"20300101000000Z"
    alert = bytes((0x30, len(alert) - 2)) + alert[2:]
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(alert, 0, len(alert), "payload", 0x00CA)
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "payload.originator_counter",
        24,
        "missing",
    )
    bad_outcome = (
        bytes.fromhex("3016 0203008F66 180F") + b"20300101000000Z" + bytes.fromhex("020101 020100")
    )
    bad_outcome = bytes((0x30, len(bad_outcome) - 2)) + bad_outcome[2:]
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(bad_outcome, 0, len(bad_outcome), "payload", 0x00CA)
    assert err3(ei) == ("payload.execution_outcome", 27, "expected SEQUENCE, found INTEGER")
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(b"\x05\x00", 0, 2, "payload", 0x0012, cra=3)
    assert ei.value.reason == "no ASN.1 payload for message code 0x0012 with CRA flag 3"


def test_typed_model_refuses_non_minimal_length() -> None:
    good = ActivateFirmwareResponse(
        ActivateFirmwareOutcome(ActivateFirmwareResponseCode.NO_IMAGE_HELD, b"\x01")
    )
    raw = good.encode()
    odd = b"\x30\x81" + raw[1:]
    assert validate_der(odd) == 1  # fine as generic DER…
    with pytest.raises(GbcsDecodeError) as ei:  # …but the typed model would not re-encode it
        decode_asn1(odd, 0, len(odd), "payload", 0x0012, cra=2)
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "payload",
        1,
        "non-minimal length form not supported by this typed model",
    )
    assert decode_asn1(odd, 0, len(odd), "payload", 0x0099).encode() == odd


def test_typed_payload_with_two_tlvs_rejected() -> None:
    data = b"\x05\x00\x05\x00"
    assert len(decode_asn1(data, 0, 4, "payload").nodes) == 2
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(data, 0, 4, "payload", 0x0012)
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "payload",
        2,
        "unexpected bytes after the payload TLV",
    )


# --------------------------------------------------------------------------- GCS28


@pytest.mark.interop
def test_gcs28_set_time() -> None:
    b, s, e, code, cra = vector_payload(GCS28 + "SUCCESS_COMMAND")
    cmd = decode_asn1(b, s, e, "payload", code, cra=cra).typed
    assert cmd == SetTimeCommand(
        datetime(2014, 12, 31, 23, 30, tzinfo=UTC), datetime(2015, 1, 1, 0, 30, tzinfo=UTC)
    )
    assert cmd.encode() == b[s:e] == SetTimeCommand.decode(b[s:e]).encode()
    b, s, e, code, cra = vector_payload(GCS28 + "SUCCESS_RESPONSE")
    resp = decode_asn1(b, s, e, "payload", code, cra=cra).typed
    assert resp == SetTimeResponse(
        datetime(2014, 12, 31, 23, 30, tzinfo=UTC), DeviceTimeStatus.RELIABLE
    )
    assert resp.encode() == b[s:e]
    (f,) = resp.fields(s)
    assert [(c.name, c.value) for c in f.children] == [
        ("Device Time", "2014-12-31T23:30:00Z"),
        ("Device Time Status", "Reliable"),
    ]


def test_set_time_response_status_values() -> None:
    t = datetime(2020, 2, 29, 12, 0, 1, tzinfo=UTC)
    for status in DeviceTimeStatus:
        r = SetTimeResponse(t, status)
        assert SetTimeResponse.decode(r.encode()) == r
    with pytest.raises(GbcsDecodeError, match="unknown DeviceTimeStatus value 3"):
        SetTimeResponse.decode(
            SetTimeResponse(t, DeviceTimeStatus.RELIABLE).encode()[:-1] + b"\x03"
        )


# --------------------------------------------------------------------------- generic DER


def test_multi_byte_tags_round_trip() -> None:
    for raw, cls, constructed, number in [
        (bytes.fromhex("9F1F0105"), TagClass.CONTEXT, False, 31),
        (bytes.fromhex("BF81000205 00"), TagClass.CONTEXT, True, 128),
        (bytes.fromhex("5F8F7F00"), TagClass.APPLICATION, False, 0x7FF),
        (bytes.fromhex("DFFFFFFF7F00"), TagClass.PRIVATE, False, 2**28 - 1),
    ]:
        node = decode_der_node(raw)
        assert (node.tag_class, node.constructed, node.tag_number) == (cls, constructed, number)
        assert node.encode() == raw
        assert DerNode(cls, constructed, number, node.value).encode() == raw
    assert decode_der_node(bytes.fromhex("9F1F0105")).type_name() == "[31]"
    assert decode_der_node(bytes.fromhex("5F8F7F00")).type_name() == "[APPLICATION 2047]"


def test_long_lengths() -> None:
    for n, head in [
        (127, "047F"),
        (128, "048180"),
        (255, "0481FF"),
        (256, "04820100"),
        (70000, "0483011170"),
    ]:
        node = der_octet_string(bytes(n))
        raw = node.encode()
        assert raw.startswith(bytes.fromhex(head)) and len(raw) == len(head) // 2 + n
        back = decode_der_node(raw)
        assert back == node and back.length_octets == 0 and back.header_size() == len(head) // 2
    # non-minimal forms are kept as received and re-emitted
    for raw, lo in [
        (bytes.fromhex("04810100"), 1),
        (bytes.fromhex("0482000100"), 2),
        (bytes.fromhex("0484000000017F"), 4),
    ]:
        node = decode_der_node(raw)
        assert node.length_octets == lo and node.encode() == raw
        assert "non-minimal length form" in (node.display_value() or "")
    with pytest.raises(GbcsEncodeError, match="does not fit 1 length octet"):
        DerNode(TagClass.UNIVERSAL, False, 4, bytes(256), 1).encode()


@pytest.mark.parametrize(
    ("data", "path", "offset", "reason"),
    [
        (b"", "payload", 0, "empty DER content"),
        (b"\x30", "payload[0].length", 1, "needs 1 byte(s), 0 left"),
        (
            b"\x30\x80\x05\x00\x00\x00",
            "payload[0].length",
            1,
            "indefinite length is not allowed in DER",
        ),
        (b"\x30\x05\x02\x01", "payload[0].value", 2, "needs 5 byte(s), 2 left"),
        (b"\x30\x03\x02\x05\x00", "payload[0][0].value", 4, "needs 5 byte(s), 1 left"),
        (b"\x30\x04\x05\x00\x30\x00\x02", "payload[1].length", 7, "needs 1 byte(s), 0 left"),
        (b"\x04\x82\x01", "payload[0].length", 2, "needs 2 byte(s), 1 left"),
        (
            b"\x04\x85\x00\x00\x00\x00\x01\x00",
            "payload[0].length",
            1,
            "unsupported length form 0x85",
        ),
        (b"\x30\x02\x30\x80", "payload[0][0].length", 3, "indefinite length is not allowed in DER"),
        (b"\x9f", "payload[0].tag", 1, "needs 1 byte(s), 0 left"),
        (b"\x9f\x1e\x00", "payload[0].tag", 0, "high-tag-number form for tag 30"),
        (b"\x9f\x80\x1f\x00", "payload[0].tag", 1, "non-minimal tag number encoding"),
        (b"\x9f\x81\x81\x81\x81\x01\x00", "payload[0].tag", 1, "tag number too large"),
        (b"\x00\x00", "payload[0].tag", 0, "end-of-contents octets are not allowed in DER"),
        (b"\x01\x01\x01", "payload[0].value", 2, "BOOLEAN must be one byte 00 or FF"),
        (b"\x02\x00", "payload[0].value", 2, "empty INTEGER"),
        (b"\x02\x02\x00\x7f", "payload[0].value", 2, "non-minimal INTEGER encoding"),
        (b"\x0a\x02\xff\x80", "payload[0].value", 2, "non-minimal ENUMERATED encoding"),
        (b"\x05\x01\x00", "payload[0].value", 2, "NULL with 1 content byte(s)"),
        (b"\x03\x00", "payload[0].value", 2, "BIT STRING without its unused-bits byte"),
        (b"\x03\x02\x08\x00", "payload[0].value", 2, "BIT STRING with 8 unused bits"),
        (b"\x03\x01\x01", "payload[0].value", 2, "BIT STRING with 1 unused bits"),
        (b"\x03\x02\x01\x01", "payload[0].value", 3, "BIT STRING unused bits not zero"),
        (b"\x06\x00", "payload[0].value", 2, "malformed OBJECT IDENTIFIER"),
        (b"\x06\x02\x2a\x86", "payload[0].value", 2, "malformed OBJECT IDENTIFIER"),
        (b"\x06\x03\x2a\x80\x01", "payload[0].value", 2, "malformed OBJECT IDENTIFIER"),
        (b"\x17\x0b15010100000Z", "payload[0].value", 2, "UTCTime must be YYMMDDHHMMSSZ"),
        (
            b"\x18\x0f2015010100000+0",
            "payload[0].value",
            2,
            "GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z",
        ),
        (
            b"\x18\x1220150101000000.10Z",
            "payload[0].value",
            2,
            "GeneralizedTime must be YYYYMMDDHHMMSS[.f]Z",
        ),
        (b"\x22\x03\x02\x01\x00", "payload[0].tag", 0, "constructed INTEGER not allowed in DER"),
        (b"\x24\x00", "payload[0].tag", 0, "constructed OCTET STRING not allowed in DER"),
        (b"\x10\x00", "payload[0].tag", 0, "primitive SEQUENCE not allowed in DER"),
        (b"\x30\x03\x30\x01\x01", "payload[0][0][0].length", 5, "needs 1 byte(s), 0 left"),
    ],
)
def test_der_malformed(data: bytes, path: str, offset: int, reason: str) -> None:
    buf = b"\xee\xee" + data + b"\xee"  # offsets are absolute in the whole buffer
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(buf, 2, 2 + len(data), "payload")
    assert (ei.value.path, ei.value.offset - 2, ei.value.reason) == (path, offset, reason)


def _nested(depth: int) -> bytes:
    raw = b"\x05\x00"
    for _ in range(depth):
        raw = bytes((0x30, len(raw))) + raw
    return raw


def test_depth_bound() -> None:
    ok = _nested(MAX_DEPTH)
    node = decode_der_node(ok)
    assert node.encode() == ok
    deep = _nested(MAX_DEPTH + 1)
    with pytest.raises(GbcsDecodeError) as ei:
        decode_asn1(deep, 0, len(deep))
    assert ei.value.path == "payload" + "[0]" * (MAX_DEPTH + 1)
    assert ei.value.offset == 2 * MAX_DEPTH
    assert ei.value.reason == f"nesting deeper than {MAX_DEPTH} levels"
    huge = b"\x30\x80" * 5000
    with pytest.raises(GbcsDecodeError):  # never RecursionError
        decode_asn1(huge, 0, len(huge))


def test_decode_der_node_trailing() -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_der_node(b"\x05\x00\x01")
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "der[1].length",
        3,
        "needs 1 byte(s), 0 left",
    )
    with pytest.raises(GbcsDecodeError) as ei:
        decode_der_node(b"\x05\x00\x05\x00")
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "der",
        2,
        "unexpected bytes after the TLV",
    )


def test_display_values() -> None:
    cases = [
        (der_integer(-129), "INTEGER", "-129"),
        (der_integer(0x8F66), "INTEGER", "36710"),
        (der_enumerated(25), "ENUMERATED", "25"),
        (der_boolean(True), "BOOLEAN", "TRUE"),
        (der_boolean(False), "BOOLEAN", "FALSE"),
        (der_null(), "NULL", None),
        (der_octet_string(b"\x90\xb3"), "OCTET STRING", "90B3"),
        (der_bit_string(b"\x80", 7), "BIT STRING", "1"),
        (der_bit_string(b"\x03\x08", 3), "BIT STRING", "0000001100001"),
        (der_oid("1.2.840.10045.4.3.2"), "OBJECT IDENTIFIER", "1.2.840.10045.4.3.2"),
        (der_oid("2.999.1"), "OBJECT IDENTIFIER", "2.999.1"),
        (
            DerNode(TagClass.UNIVERSAL, False, 23, b"151029000000Z"),
            "UTCTime",
            "2015-10-29T00:00:00Z",
        ),
        (
            DerNode(TagClass.UNIVERSAL, False, 23, b"991231235959Z"),
            "UTCTime",
            "1999-12-31T23:59:59Z",
        ),
        (
            der_generalized_time(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)),
            "GeneralizedTime",
            "9999-12-31T23:59:59Z",
        ),
        (DerNode(TagClass.UNIVERSAL, False, 19, b"Z1 ACB"), "PrintableString", "Z1 ACB"),
        (DerNode(TagClass.UNIVERSAL, False, 12, "é".encode()), "UTF8String", "é"),
        (DerNode(TagClass.UNIVERSAL, False, 30, "Ω".encode("utf-16-be")), "BMPString", "Ω"),
        (der_tagged(3, b"\x01\x02"), "[3]", "0102"),
        (der_tagged(0, (der_integer(2),)), "[0]", None),
        (DerNode(TagClass.PRIVATE, False, 5, b""), "[PRIVATE 5]", None),
        (DerNode(TagClass.UNIVERSAL, False, 29, b"\x01"), "[UNIVERSAL 29]", "01"),
    ]
    for node, name, value in cases:
        back = decode_der_node(node.encode())
        assert back == node
        f = back.field(7)
        assert (f.name, f.value, f.offset, f.raw) == (name, value, 7, node.encode())
    assert oid_to_str(bytes.fromhex("2A864886F70D010101")) == "1.2.840.113549.1.1.1"


def test_builders_and_payload_fields() -> None:
    tree = der_sequence(
        der_integer(0),
        der_set(der_oid("2.5.4.3"), der_tagged(1, b"\xff")),
        der_tagged(2, (der_null(),)),
    )
    raw = tree.encode()
    assert raw == bytes.fromhex("3011 020100 3108 0603550403 8101FF A2020500")
    payload = Asn1Payload.from_nodes(tree)
    assert payload.encode() == raw and payload.nodes == (tree,)
    (f,) = payload.fields(100)
    assert [(c.name, c.offset) for c in f.children] == [
        ("INTEGER", 102),
        ("SET", 105),
        ("[2]", 115),
    ]
    assert [(c.name, c.offset, c.value) for c in f.children[1].children] == [
        ("OBJECT IDENTIFIER", 107, "2.5.4.3"),
        ("[1]", 112, "FF"),
    ]
    assert f.children[2].children[0].offset == 117
    with pytest.raises(GbcsEncodeError, match="constructed node holds child nodes"):
        DerNode(TagClass.UNIVERSAL, True, 16, b"")
    with pytest.raises(GbcsEncodeError, match="out of range"):
        DerNode(TagClass.UNIVERSAL, False, 4, b"", 5)
    with pytest.raises(GbcsEncodeError):
        Asn1Payload.from_nodes()
    with pytest.raises(GbcsEncodeError):
        der_oid("3.1")
    with pytest.raises(GbcsEncodeError):
        der_bit_string(b"\x01", 1)
    with pytest.raises(GbcsEncodeError, match="whole seconds"):
        der_generalized_time(datetime(2020, 1, 1, 0, 0, 0, 5, tzinfo=UTC))
    typed = Asn1Payload.from_typed(
        SetTimeResponse(datetime(2020, 1, 1, tzinfo=UTC), DeviceTimeStatus.INVALID)
    )
    assert decode_asn1(typed.encode(), 0, len(typed.encode()), "payload", 0x007F, cra=2) == typed


def test_decode_der_several_top_level() -> None:
    nodes = decode_der(b"\x02\x01\x05\x04\x00\x30\x00")
    assert [n.type_name() for n in nodes] == ["INTEGER", "OCTET STRING", "SEQUENCE"]
    p = decode_asn1(b"\x02\x01\x05\x04\x00\x30\x00", 0, 7)
    assert [(f.name, f.offset) for f in p.fields(3)] == [
        ("INTEGER", 3),
        ("OCTET STRING", 6),
        ("SEQUENCE", 8),
    ]


# --------------------------------------------------------------------------- properties


def _leaf() -> st.SearchStrategy[DerNode]:
    return st.one_of(
        st.integers(-(2**70), 2**70).map(der_integer),
        st.integers(0, 300).map(der_enumerated),
        st.booleans().map(der_boolean),
        st.just(der_null()),
        st.binary(max_size=300).map(der_octet_string),
        st.builds(
            lambda data, u: der_bit_string(data[:-1] + bytes((data[-1] & (0xFF << u) & 0xFF,)), u),
            st.binary(min_size=1, max_size=20),
            st.integers(0, 7),
        ),
        st.builds(
            lambda a, b, rest: der_oid(".".join(map(str, [a, b, *rest]))),
            st.integers(0, 1),
            st.integers(0, 39),
            st.lists(st.integers(0, 2**40), max_size=6),
        ),
        st.builds(
            lambda cls, num, data: DerNode(cls, False, num, data),
            st.sampled_from([TagClass.CONTEXT, TagClass.APPLICATION, TagClass.PRIVATE]),
            st.integers(0, 2**20),
            st.binary(max_size=40),
        ),
    )


DER_TREES = st.recursive(
    _leaf(),
    lambda kids: st.one_of(
        st.lists(kids, max_size=5).map(lambda k: der_sequence(*k)),
        st.lists(kids, max_size=5).map(lambda k: der_set(*k)),
        st.builds(
            lambda num, k: der_tagged(num, tuple(k)),
            st.integers(0, 200),
            st.lists(kids, max_size=3),
        ),
    ),
    max_leaves=25,
)


@pytest.mark.parametrize("value", [-(2**64), -32769, -32768, -129, -128, -1, 0, 127, 128, 2**63])
def test_der_integer_is_minimal_and_decodes(value: int) -> None:
    """Negative powers of two need no extra sign byte (-128 is 02 01 80, found by the
    property test below)."""
    node = der_integer(value)
    assert decode_asn1(node.encode(), 0, len(node.encode())).nodes == (node,)
    c = node.content
    if len(c) > 1:
        assert not (c[0] == 0x00 and c[1] < 0x80) and not (c[0] == 0xFF and c[1] >= 0x80)
    assert int.from_bytes(c, "big", signed=True) == value


@settings(max_examples=300, deadline=None)
@given(DER_TREES, st.binary(max_size=3))
def test_property_der_round_trip(tree: DerNode, prefix: bytes) -> None:
    raw = tree.encode()
    buf = prefix + raw
    payload = decode_asn1(buf, len(prefix), len(buf))
    assert payload.nodes == (tree,)
    assert payload.encode() == raw
    assert tree.size() == len(raw)
    (f,) = payload.fields(len(prefix))
    for node in f.walk():
        assert buf[node.offset : node.offset + len(node.raw)] == node.raw


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=60))
def test_property_any_bytes_decode_or_fail_cleanly(data: bytes) -> None:
    try:
        payload = decode_asn1(data, 0, len(data), "payload", 0x0012)
    except GbcsDecodeError as e:
        assert e.path.startswith("payload") and 0 <= e.offset <= len(data)
        return
    assert payload.encode() == data


_TYPED_SAMPLES = [
    (0x0012, ActivateFirmwareCommand(bytes(range(32)), 1000, datetime(2030, 1, 1, tzinfo=UTC))),
    (
        0x0012,
        ActivateFirmwareResponse(
            ActivateFirmwareOutcome(ActivateFirmwareResponseCode.SUCCESS, b"\x01\x02")
        ),
    ),
    (0x0012, ActivateFirmwareResponse(None)),
    (
        0x00CA,
        ActivateFirmwareAlert(
            0x8F67,
            datetime(2030, 1, 1, tzinfo=UTC),
            1004,
            ActivateFirmwareOutcome(ActivateFirmwareResponseCode.HASH_MISMATCH, b"\x01"),
        ),
    ),
    (0x007F, SetTimeCommand(datetime(2014, 12, 31, tzinfo=UTC), datetime(2015, 1, 1, tzinfo=UTC))),
    (0x007F, SetTimeResponse(datetime(2014, 12, 31, tzinfo=UTC), DeviceTimeStatus.UNRELIABLE)),
]


@settings(max_examples=600, deadline=None)
@given(
    st.sampled_from(_TYPED_SAMPLES),
    st.lists(st.tuples(st.integers(0, 80), st.integers(0, 255)), min_size=1, max_size=3),
    st.integers(0, 80),
    st.sampled_from([None, 1, 2, 3]),
)
def test_property_mutated_typed_payloads(
    sample: tuple[int, Any], edits: list[tuple[int, int]], cut: int, cra: int | None
) -> None:
    code, model = sample
    data = bytearray(model.encode())
    for at, value in edits:
        data[at % len(data)] = value
    data = data[: max(1, len(data) - cut % 4)]
    try:
        p = decode_asn1(bytes(data), 0, len(data), "payload", code, cra=cra)
    except GbcsDecodeError as e:
        assert e.path.startswith("payload") and 0 <= e.offset <= len(data)
        return
    assert p.encode() == bytes(data) and p.typed.encode() == bytes(data)


@settings(max_examples=200, deadline=None)
@given(DER_TREES)
def test_property_truncation_is_reported(tree: DerNode) -> None:
    raw = tree.encode()
    for cut in {1, len(raw) // 2, len(raw) - 1} - {0, len(raw)}:
        with pytest.raises(GbcsDecodeError) as ei:
            decode_der_node(raw[:cut])
        assert ei.value.offset <= cut


def test_typed_payload_fields_match_generic_layout() -> None:
    cmd = ActivateFirmwareCommand(bytes(32), 5)
    generic = decode_der_node(cmd.encode()).field(3)
    (typed,) = cmd.fields(3)
    assert [(c.offset, c.raw) for c in typed.children] == [
        (c.offset, c.raw) for c in generic.children
    ]
    assert typed.raw == generic.raw
    assert UniversalTag.GENERALIZED_TIME == 24
