"""DLMS payload codec (gbcs/dlms.py) against the interop vectors, builders and errors."""

from __future__ import annotations

import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gbcs.axdr import TYPE_NAMES, Data, DataType, decode_data_bytes, encode_data
from gbcs.cosem_time import DlmsDate, DlmsDateTime, DlmsTime
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    ActionSpec,
    DataNotification,
    FutureDatedAlertPayload,
    GetProtectedAttributesRequest,
    GetResult,
    GetSpec,
    GetWithSelectionSpec,
    KeyInfo,
    Obis,
    ProtectedAttributes,
    ProtectedObject,
    ProtectionParameters,
    SetResult,
    SetSpec,
    SetWithSelectionSpec,
    decode_dlms,
    invoke_id_for_counter,
    protected_get_result,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.payload import Payload, PayloadKind
from gbcs.tree import Field
from gbcs.wire import encode_ber_length
from tests import interop

ECS37_CMD = "RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND"
ECS37_RSP = "RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_RESPONSE"
ECS17B_CMD = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND"
ECS17B_RSP = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_RESPONSE"
ECS68 = "RTDS-4.5.0/NA_ECS68/ECS68_NA_8F0A_SINGLE_ALERT"
ECS01A_FD = (
    "RTDS-4.5.0/1.1.1_ECS01a/ECS01a_1.1.1_8F66_FUTURE_DATED_TOU_BLOCK_SUCCESS_ALERT_CURRENCY_UNIT"
)
ECS23_CMD = "RTDS-4.5.0/4.10_ECS23/ECS23_4.10_SUCCESS_COMMAND"
ECS23_RSP = "RTDS-4.5.0/4.10_ECS23/ECS23_4.10_SUCCESS_RESPONSE"
MALFORMED_SIG = "extra/gbcs-parser/test/parse.test.ts:65"
MALFORMED_LEN = "extra/gbcs-parser/test/parse.test.ts:82"

ESME = bytes.fromhex("00DB1234567890A0")
SUPPLIER = bytes.fromhex("90B3D51F30010000")

KINDS = {
    0xD9: PayloadKind.DLMS_ACCESS_REQUEST,
    0xDA: PayloadKind.DLMS_ACCESS_RESPONSE,
    0x0F: PayloadKind.DLMS_DATA_NOTIFICATION,
}


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# ---------------------------------------------------------------------------------------
# locating the content (gbcs-wire.md §3.1/§3.2, parsed minimally here on purpose)
# ---------------------------------------------------------------------------------------


def content_of(v: dict[str, Any]) -> tuple[bytes, int, int, int]:
    """(message, content start, content end, originator counter)."""
    b = bytes.fromhex(v["hex"])
    c = interop.content_slice(b)
    return b, c.start, c.end, c.counter


def _dlms_ids() -> list[str]:
    if interop.interop_dir() is None:
        return []
    out = []
    for v in interop.vectors():
        b, s, _e, _ = content_of(v)
        if b[s] in KINDS and v["id"] != MALFORMED_LEN:
            out.append(v["id"])
    return out


DLMS_IDS = _dlms_ids()


def vector(vid: str) -> tuple[dict[str, Any], bytes, int, int, int]:
    v = interop.by_id(vid)
    b, s, e, counter = content_of(v)
    return v, b, s, e, counter


def content(vid: str) -> bytes:
    _, b, s, e, _ = vector(vid)
    return b[s:e]


def _walk(fields: tuple[Field, ...]) -> list[Field]:
    out = []
    for f in fields:
        out.extend(f.walk())
    return out


# ---------------------------------------------------------------------------------------
# every DLMS vector
# ---------------------------------------------------------------------------------------


@pytest.mark.interop
def test_dlms_vector_count() -> None:
    # 183 access-requests (one in a malformed envelope), 147 responses, 29 notifications
    assert len(DLMS_IDS) == 359


@pytest.mark.interop
@pytest.mark.parametrize("vid", DLMS_IDS)
def test_vector_round_trip(vid: str) -> None:
    v, b, s, e, counter = vector(vid)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, Payload)
    assert apdu.kind is KINDS[b[s]]
    assert apdu.encode() == b[s:e]
    # GBCS rule: low 24 bits of the originator counter, break-on-error bit
    assert apdu.invoke_id == invoke_id_for_counter(counter)
    # display tree: every node's bytes are the message bytes at its absolute offset
    fields = apdu.fields(s)
    assert len(fields) == 1 and fields[0].offset == s and fields[0].raw == b[s:e]
    for f in _walk(fields):
        assert b[f.offset : f.offset + len(f.raw)] == f.raw, (vid, f.name)
    # encrypted parts: count as expected and located exactly
    parts = apdu.encrypted_parts()
    assert len(parts) == (v["expected"].get("encrypted_parts") or 0)
    for p in parts:
        assert b[s + p.offset : s + p.offset + len(p.blob)] == p.blob
        assert p.blob[:5] == h("3100000000") and len(p.tag) == 12


# ---------------------------------------------------------------------------------------
# decoded fields against the independent parser's trees
# ---------------------------------------------------------------------------------------

_IDX = re.compile(r"^\[\d+\] (.+)$")


def _ref_data(children: dict[str, Any], out: list[tuple[str, str]]) -> None:
    """(type name, hex) of every data node, depth first; compact arrays as one node."""
    for key, node in children.items():
        m = _IDX.match(key)
        name = m.group(1) if m else key
        out.append((name, node["hex"].replace(" ", "")))
        if name != "Compact Array" and "children" in node:
            _ref_data(node["children"], out)


def _my_data(d: Data, out: list[tuple[str, str]]) -> None:
    name = TYPE_NAMES[d.tag]
    if d.tag in (DataType.ARRAY, DataType.STRUCTURE):
        out.append((name, (bytes([d.tag]) + encode_ber_length(len(d.value))).hex().upper()))
        for x in d.value:
            _my_data(x, out)
    elif d.tag == DataType.COMPACT_ARRAY:
        out.append((name, "13"))
    else:
        out.append((name, encode_data(d).hex().upper()))


def _hx(node: dict[str, Any]) -> str:
    return str(node["hex"]).replace(" ", "")


@pytest.mark.interop
@pytest.mark.parametrize("vid", [i for i in DLMS_IDS if i != MALFORMED_SIG])
def test_fields_match_reference_parser(vid: str) -> None:
    _, b, s, e, _ = vector(vid)
    apdu = decode_dlms(b, s, e)
    tree = interop.parsed(vid)["parsed"]["Payload"]
    (top,) = tree.values()
    ch = top.get("children", {})
    if isinstance(apdu, AccessRequest):
        ref_specs = list(ch["List of Access Request Specifications"].get("children", {}).values())
        assert len(ref_specs) == len(apdu.specs)
        for spec, ref in zip(apdu.specs, ref_specs, strict=True):
            kind = ref["notes"].rsplit(" [", 1)[0].removeprefix("Access Request ")
            assert kind.lower() == spec.KIND.lower()
            rc = ref["children"]
            assert _hx(rc["Class Id"]) == f"{spec.class_id:04X}"
            assert _hx(rc["Instance Id"]) == spec.obis.to_bytes().hex().upper()
            assert rc["Instance Id"]["notes"].split(" ")[0] == str(spec.obis)
            member = spec.method if isinstance(spec, ActionSpec) else spec.attribute
            assert _hx(rc.get("Attribute Id") or rc["Method Id"]) == f"{member:02X}"
            if isinstance(spec, GetWithSelectionSpec | SetWithSelectionSpec):
                sel = rc["Access Selector"]
                assert _hx(sel) == f"{spec.selector:02X}"
                ref_p: list[tuple[str, str]] = []
                _ref_data(sel["children"], ref_p)
                mine: list[tuple[str, str]] = []
                _my_data(spec.parameters, mine)
                assert ref_p == mine
        ref_list = ch["List of Data"]
        data = apdu.data
    elif isinstance(apdu, AccessResponse):
        ref_res = list(ch["List of Access Response Specification"].get("children", {}).values())
        assert [
            (
                r["notes"].rsplit(" [", 1)[0].removeprefix("Access Response "),
                _hx(next(iter(r["children"].values()))),
            )
            for r in ref_res
        ] == [(r.KIND, f"{r.result:02X}") for r in apdu.results]
        ref_list = ch["List of Access Response Data"]
        data = apdu.data
    else:
        assert isinstance(apdu, DataNotification)
        assert _hx(ch["Alert Code"]) == f"12{apdu.alert_code:04X}"
        assert _hx(ch["Time Stamp"]) == "090C" + apdu.alert_timestamp.to_bytes().hex().upper()  # type: ignore[union-attr]
        fd = apdu.future_dated
        assert (fd is not None) == ("Future Dated Alert Payload" in ch)
        if fd is not None:
            assert _hx(ch["Message Code"]) == f"{fd.message_code:04X}"
            assert int(ch["Originator Counter"]["notes"]) == fd.originator_counter
            assert _hx(ch["Class Id"]) == f"{fd.class_id:04X}"
            assert ch["Instance Id"]["notes"].split(" ")[0] == str(fd.obis)
            assert _hx(ch["Attribute Id"]) == f"{fd.member:02X}"
        return
    assert _hx(ref_list) == encode_ber_length(len(data)).hex().upper()
    if any(ProtectedAttributes.from_data(d) for d in data):
        return  # checked by test_protected_parts_where_reference_puts_them
    ref: list[tuple[str, str]] = []
    _ref_data(ref_list.get("children", {}), ref)
    mine = []
    for d in data:
        _my_data(d, mine)
    assert ref == mine


def _ref_compacts(node: dict[str, Any], out: list[dict[str, Any]]) -> None:
    for key, val in node.items():
        if not isinstance(val, dict):
            continue
        if key.endswith("Compact Array"):
            out.append(val["children"]["Type Description"]["children"])
        elif "children" in val:
            _ref_compacts(val["children"], out)


def _my_compacts(d: Data, out: list[Data]) -> None:
    if d.tag == DataType.COMPACT_ARRAY:
        out.append(d)
    elif d.tag in (DataType.ARRAY, DataType.STRUCTURE):
        for x in d.value:
            _my_compacts(x, out)


def _leaf_hex(node: dict[str, Any], out: list[str]) -> None:
    for val in node.values():
        if "children" in val:
            _leaf_hex(val["children"], out)
        else:
            out.append(_hx(val))


def _my_leaf_hex(d: Data, out: list[str]) -> None:
    if d.tag in (DataType.ARRAY, DataType.STRUCTURE):
        for x in d.value:
            _my_leaf_hex(x, out)
    else:
        out.append(encode_data(d)[1:].hex().upper())  # compact contents carry no tags


@pytest.mark.interop
def test_compact_arrays_match_reference() -> None:
    seen = 0
    for vid in DLMS_IDS:
        _, b, s, e, _ = vector(vid)
        if vid == MALFORMED_SIG or b"\x13" not in b[s:e]:
            continue
        apdu = decode_dlms(b, s, e)
        mine: list[Data] = []
        for d in getattr(apdu, "data", ()):
            _my_compacts(d, mine)
        ref: list[dict[str, Any]] = []
        _ref_compacts(interop.parsed(vid)["parsed"]["Payload"], ref)
        assert len(mine) == len(ref), vid
        for d, r in zip(mine, ref, strict=True):
            ca = d.value
            td_hex: list[str] = []
            _ref_data({k: v for k, v in r.items() if k != "Contents"}, td_hex)
            assert "".join(x for _, x in td_hex) == ca.type_description.encode().hex().upper()
            assert _hx(r["Contents"]) == encode_ber_length(len(ca.contents)).hex().upper()
            rows = list(r["Contents"]["children"].values())
            els = ca.elements()
            assert len(rows) == len(els), vid
            for el, row in zip(els, rows, strict=True):
                want: list[str] = []
                _leaf_hex({"x": row}, want)
                got: list[str] = []
                _my_leaf_hex(el, got)
                assert got == want, vid
            seen += 1
    assert seen == 18
    _, b, s, e, _ = vector(ECS23_RSP)
    first = decode_dlms(b, s, e).data[4].value.elements()[0]  # type: ignore[union-attr]
    assert first == Data.structure(
        Data.double_long_unsigned(473212800), Data.double_long_unsigned(81)
    )


def _security_header_offsets(parsed: dict[str, Any]) -> list[int]:
    """Absolute offsets of the payload's "Security Header" nodes (tree hex laid end to end)."""
    pos = 0
    hits: list[int] = []

    def walk(node: dict[str, Any], in_payload: bool) -> None:
        nonlocal pos
        for key, val in node.items():
            if not isinstance(val, dict):
                continue
            if key == "Security Header" and in_payload:
                hits.append(pos)
            pos += len(_hx(val)) // 2
            if "children" in val:
                walk(val["children"], in_payload)

    for section in ("MAC Header", "Grouping Header", "Payload"):
        if section in parsed:
            walk(parsed[section], section == "Payload")
    return hits


@pytest.mark.interop
def test_protected_parts_where_reference_puts_them() -> None:
    n = 0
    for vid in DLMS_IDS:
        v, b, s, e, _ = vector(vid)
        expected = v["expected"].get("encrypted_parts") or 0
        if not expected:
            continue
        parsed = interop.parsed(vid)["parsed"]
        apdu = decode_dlms(b, s, e)
        parts = apdu.encrypted_parts()
        assert [s + p.offset for p in parts] == _security_header_offsets(parsed), vid
        assert len(parts) == expected
        # the reference's decrypted tree is A-XDR Data we decode and re-encode exactly
        leaves: list[str] = []

        def walk(node: dict[str, Any], out: list[str] = leaves) -> None:
            for val in node.values():
                if isinstance(val, dict):
                    out.append(_hx(val))
                    if "children" in val:
                        walk(val["children"], out)

        walk(parsed["Decrypted Payload 0"])
        plain = bytes.fromhex("".join(leaves))
        assert encode_data(decode_data_bytes(plain)) == plain
        n += 1
    assert n == 12  # 11 access-responses + the ECS68 alert


# ---------------------------------------------------------------------------------------
# typed views of real payloads
# ---------------------------------------------------------------------------------------


@pytest.mark.interop
def test_ecs17b_response_typed_view() -> None:
    _, b, s, e, _ = vector(ECS17B_RSP)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, AccessResponse)
    assert apdu.request_specs is None and apdu.results == (ActionResult(0),)
    (pa,) = apdu.protected_attributes()
    assert pa is not None
    (pp,) = pa.parameters
    assert pp.counter == 0x3E8 and pp.transaction_id == h("04 00000000000003E8")
    assert (pp.originator_system_title, pp.recipient_system_title) == (ESME, SUPPLIER)
    assert pp.protection_type == 2 and pp.other_information == b""
    assert pp.key_info.key_parameters == b"\x02" and pp.key_info.key_ciphered_data == b""
    (part,) = apdu.encrypted_parts()
    assert part.path == "payload.data[0][1]" and part.offset == 64
    assert part.ciphertext == h("E3035372DDD0648ADEDB866DFF001F09450DEBD034C36C6101DC")
    assert part.tag == h("1D3CB50D35311B344436F883")
    names = [f.name for f in _walk(apdu.fields(s))]
    for expected in (
        "Protection Parameters",
        "Transaction Id",
        "Key Parameters",
        "Security Header",
        "AE MAC",
    ):
        assert expected in names


@pytest.mark.interop
def test_ecs17b_command_typed_view() -> None:
    _, b, s, e, _ = vector(ECS17B_CMD)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, AccessRequest)
    assert apdu.specs == (ActionSpec(30, Obis.parse("0-0:43.2.8.255"), 1),)
    req = GetProtectedAttributesRequest.from_data(apdu.data[0])
    assert req is not None
    assert req.objects == (ProtectedObject(1, Obis(0, 0, 94, 44, 34, 10), 2),)
    assert req.parameters == (ProtectionParameters.gbcs(0x3E8, SUPPLIER, ESME),)
    assert GetProtectedAttributesRequest.from_data(Data.array()) is None


@pytest.mark.interop
def test_ecs68_alert_typed_view() -> None:
    _, b, s, e, counter = vector(ECS68)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, DataNotification)
    assert apdu.alert_code == 0x8F0A
    assert str(apdu.alert_timestamp) == "2015-01-01 00:00:00.00"
    pp = ProtectionParameters.from_data(apdu.alert_elements[0].items[0])
    assert pp == ProtectionParameters.gbcs(counter, ESME, SUPPLIER)
    (part,) = apdu.encrypted_parts()
    assert part.path == "payload.body[3]" and len(part.blob) == 375


@pytest.mark.interop
def test_future_dated_alert_payload() -> None:
    _, b, s, e, _ = vector(ECS01A_FD)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, DataNotification)
    fd = apdu.future_dated
    assert fd == FutureDatedAlertPayload(0x0019, 1008, 9000, Obis(0, 0, 94, 44, 2, 0), 6)
    assert fd.to_bytes() == apdu.alert_elements[0].value
    names = [f.name for f in _walk(apdu.fields(s))]
    assert "Future Dated Alert Payload" in names and "Originator Counter" in names


@pytest.mark.interop
def test_get_with_selection_spec() -> None:
    _, b, s, e, _ = vector(ECS23_CMD)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, AccessRequest)
    spec = apdu.specs[4]
    assert isinstance(spec, GetWithSelectionSpec)
    assert (spec.class_id, str(spec.obis), spec.attribute, spec.selector) == (
        7,
        "1-0:32.24.0.255",
        2,
        1,
    )
    assert spec.parameters.items[1] == Data.double_long_unsigned(473212740)
    assert apdu.specs[5] == GetSpec(7, Obis.parse("1-0:32.24.0.255"), 4)
    assert apdu.data == (Data.null(),) * 6


@pytest.mark.interop
def test_malformed_envelope_vector_payload() -> None:
    # :65 has a bad signature length after the content; the content itself is fine
    _, b, s, e, _ = vector(MALFORMED_SIG)
    apdu = decode_dlms(b, s, e)
    assert isinstance(apdu, AccessRequest)
    assert [type(x) for x in apdu.specs] == [SetSpec, ActionSpec, ActionSpec, GetSpec, GetSpec]
    assert all(str(x.obis) == "0-0:1.0.0.255" and x.class_id == 8 for x in apdu.specs)
    assert apdu.data[1].items[0].value == h("FFFFFFFFFFFFFFFFFF8000FF")
    # :82 claims one content byte more than the message holds
    v = interop.by_id(MALFORMED_LEN)
    b, s, e, _ = content_of(v)
    with pytest.raises(GbcsDecodeError) as ei:
        decode_dlms(b, s, e)
    assert (ei.value.path, ei.value.offset) == ("payload", s)
    assert ei.value.reason == "content needs 110 byte(s), 109 left"
    with pytest.raises(GbcsDecodeError) as ei:
        decode_dlms(b, s, len(b))
    assert (ei.value.path, ei.value.offset, ei.value.reason) == (
        "payload",
        len(b) - 1,
        "1 unexpected trailing byte(s)",
    )


# ---------------------------------------------------------------------------------------
# builders reproduce RTDS payloads exactly
# ---------------------------------------------------------------------------------------


def _md_entry(index: int, selector: int, switch_time: DlmsTime) -> Data:
    return Data.structure(
        Data.long_unsigned(index),
        Data.boolean(True),
        Data.octet_string(Obis.parse("0-0:10.128.100.255").to_bytes()),
        Data.long_unsigned(selector),
        Data.octet_string(switch_time.to_bytes()),
        Data.long_unsigned(0xFFFF),
        Data.bit_string("1111111"),
        Data.bit_string(""),
        Data.octet_string(DlmsDate(0x0000, 1).to_bytes()),
        Data.octet_string(DlmsDate().to_bytes()),
    )


@pytest.mark.interop
def test_build_ecs37_command_and_response() -> None:
    cmd = AccessRequest(
        invoke_id=invoke_id_for_counter(0x4B3),
        specs=(SetSpec(10, Obis.parse("0-0:12.0.0.255"), 2),),
        data=(
            Data.array(
                _md_entry(0, 1, DlmsTime(17, 0, 0, 0)),
                _md_entry(1, 2, DlmsTime(22, 0, 0, 0)),
            ),
        ),
    )
    assert cmd.encode() == content(ECS37_CMD)
    rsp = AccessResponse(invoke_id_for_counter(0x4B3), data=(Data.null(),), results=(SetResult(0),))
    assert rsp.encode() == content(ECS37_RSP) == h("DA200004B300000100010200")


@pytest.mark.interop
def test_build_ecs17b_response_and_command() -> None:
    blob = h(
        "31 00000000 E3035372DDD0648ADEDB866DFF001F09450DEBD034C36C6101DC 1D3CB50D35311B344436F883"
    )
    rsp = AccessResponse(
        invoke_id=invoke_id_for_counter(0x3E8),
        data=(protected_get_result(ProtectionParameters.gbcs(0x3E8, ESME, SUPPLIER), blob),),
        results=(ActionResult(0),),
    )
    assert rsp.encode() == content(ECS17B_RSP)
    (part,) = rsp.encrypted_parts()  # built objects report parts like decoded ones
    assert part.blob == blob and content(ECS17B_RSP)[part.offset : part.offset + len(blob)] == blob
    cmd = AccessRequest(
        invoke_id_for_counter(0x3E8),
        (ActionSpec(30, Obis.parse("0-0:43.2.8.255"), 1),),
        (
            GetProtectedAttributesRequest(
                objects=(ProtectedObject(1, Obis.parse("0-0:94.44.34.10"), 2),),
                parameters=(ProtectionParameters.gbcs(0x3E8, SUPPLIER, ESME),),
            ).to_data(),
        ),
    )
    assert cmd.encode() == content(ECS17B_CMD)


def test_ecs17b_plaintext_from_typed_values() -> None:
    # gbcs-wire.md §8.8: the plaintext the ESME encrypts into the ECS17b response
    scaler_unit = Data.structure(Data.integer(0), Data.enum(30))
    plain = Data.structure(
        Data.structure(
            Data.double_long_unsigned(10),
            scaler_unit,
            Data.double_long_unsigned(10),
            Data.structure(Data.integer(0), Data.enum(32)),
        )
    )
    assert encode_data(plain) == h(
        "02 01 02 04 06 0000000A 02 02 0F 00 16 1E 06 0000000A 02 02 0F 00 16 20"
    )


def test_build_alert() -> None:
    stamp = DlmsDateTime.from_bytes(h("07DF0101FF000000008000FF"))
    n = DataNotification.alert(invoke_id_for_counter(0x7D0), 0x8F30, stamp)
    assert n.encode() == h("0F 200007D0 00 0202 128F30 090C07DF0101FF000000008000FF")
    assert n.alert_code == 0x8F30 and n.alert_timestamp == stamp and n.alert_elements == ()
    assert decode_dlms(n.encode(), 0, len(n.encode())) == n
    pp = ProtectionParameters.gbcs(0x7D1, ESME, SUPPLIER)
    pa = ProtectedAttributes.single(pp, h("31 00000000") + bytes(20) + bytes(12))
    n2 = DataNotification.alert(
        0x200007D1, 0x8F0A, stamp, pa.parameters_data(), Data.octet_string(pa.blob)
    )
    (part,) = n2.encrypted_parts()
    assert part.path == "payload.body[3]" and n2.encode()[part.offset :] == pa.blob


def test_invoke_id_rule() -> None:
    assert invoke_id_for_counter(0x3E8) == 0x200003E8
    assert invoke_id_for_counter(0x0000000312345678) == 0x20345678
    assert AccessRequest(0x200003E8, (), ()).invoke_counter == 0x3E8


def test_obis() -> None:
    o = Obis.parse("0-0:12.0.0.255")
    assert o == Obis(0, 0, 12, 0, 0, 255) == Obis.from_bytes(h("00000C0000FF"))
    assert str(o) == "0-0:12.0.0.255" and o.to_bytes() == h("00000C0000FF")
    assert Obis.parse("1.0.1.6.0.255") == Obis(1, 0, 1, 6, 0, 255)
    for bad in ("1-0:1.6.0", "a-b:c.d.e.f", "1-0:1.6.0.256"):
        with pytest.raises(GbcsEncodeError):
            Obis.parse(bad)


def test_builder_validation() -> None:
    with pytest.raises(GbcsEncodeError):
        AccessRequest(2**32, (), ())
    with pytest.raises(GbcsEncodeError):
        AccessRequest(1, (GetResult(0),), ())  # type: ignore[arg-type]
    with pytest.raises(GbcsEncodeError):
        AccessResponse(1, (), (SetSpec(1, Obis(0, 0, 1, 0, 0, 255), 2),))  # type: ignore[arg-type]
    with pytest.raises(GbcsEncodeError):
        SetSpec(70000, Obis(0, 0, 1, 0, 0, 255), 2)
    with pytest.raises(GbcsEncodeError):
        GetSpec(1, "0-0:1.0.0.255", 2)  # type: ignore[arg-type]
    with pytest.raises(GbcsEncodeError):
        ActionResult(256)
    with pytest.raises(GbcsEncodeError):
        ProtectedAttributes((), b"\x31" * 17)
    with pytest.raises(GbcsEncodeError):
        ProtectionParameters.gbcs(-1, ESME, SUPPLIER)


def test_protected_view_rejects_other_shapes() -> None:
    assert (
        ProtectedAttributes.from_data(Data.structure(Data.array(), Data.octet_string(b"1" * 20)))
        is None
    )
    assert ProtectionParameters.from_data(Data.structure(Data.enum(2))) is None
    pp = ProtectionParameters.gbcs(1, ESME, SUPPLIER)
    short_blob = Data.structure(Data.array(pp.to_data()), Data.octet_string(b"\x31" * 16))
    assert ProtectedAttributes.from_data(short_blob) is None
    ki = KeyInfo(0, Data.enum(1))  # identified key: no agreed-key options
    assert ki.key_parameters is None and ki.key_ciphered_data is None
    p2 = ProtectionParameters(b"\x01", ESME, SUPPLIER, key_info=ki)
    assert ProtectionParameters.from_data(p2.to_data()) == p2 and p2.counter is None


# ---------------------------------------------------------------------------------------
# errors: exact path and absolute offset
# ---------------------------------------------------------------------------------------


def _err(content_bytes: bytes, prefix: bytes = b"\xee\xee") -> GbcsDecodeError:
    buf = prefix + content_bytes
    with pytest.raises(GbcsDecodeError) as ei:
        decode_dlms(buf, len(prefix), len(buf))
    return ei.value


ECS37_BYTES = h(
    "D9200004B3000102000A00000C0000FF02010102020A12000003FF090600000A8064FF12000109041100000012FFFF"
    "0407FE04000905000001FFFF0905FFFFFFFFFF020A12000103FF090600000A8064FF12000209041600000012FFFF"
    "0407FE04000905000001FFFF0905FFFFFFFFFF"
)


@pytest.mark.parametrize(
    ("mutate", "path", "offset", "reason"),
    [
        (lambda c: c[:3], "payload.long_invoke_id", 3, "needs 4 byte(s), 2 left"),
        (lambda c: c[:5], "payload.date_time", 7, "needs 1 byte(s), 0 left"),
        (
            lambda c: c[:5] + b"\x05" + c[6:],
            "payload.date_time",
            7,
            "date-time length must be 0 or 12, found 5",
        ),
        (lambda c: c[:5] + b"\x0c" + bytes(3), "payload.date_time", 8, "needs 12 byte(s), 3 left"),
        (lambda c: c[:6], "payload.specs.length", 8, "needs 1 byte(s), 0 left"),
        (
            lambda c: c[:7] + b"\x07" + c[8:],
            "payload.specs[0].choice",
            9,
            "unknown access-request-specification choice 7",
        ),
        (
            lambda c: c[:7] + b"\x00" + c[8:],
            "payload.specs[0].choice",
            9,
            "unknown access-request-specification choice 0",
        ),
        (
            lambda c: c[:6] + b"\x7f" + c[7:],
            "payload.specs.length",
            8,
            "127 spec(s) cannot fit in 105 byte(s)",
        ),
        (
            lambda c: c[:6] + b"\x84" + c[7:],
            "payload.specs.length",
            8,
            "unsupported BER length form 0x84",
        ),
        (lambda c: c[:17], "payload.data.length", 19, "needs 1 byte(s), 0 left"),
        (
            lambda c: c[:24],
            "payload.data[0][0].length",
            23,
            "10 element(s) cannot fit in 2 byte(s)",
        ),
        (
            lambda c: c[:67] + b"\x0b" + c[68:],
            "payload.data[0][1][10].tag",
            114,
            "needs 1 byte(s), 0 left",
        ),
        (
            lambda c: c[:28] + b"\x7f" + c[29:],
            "payload.data[0][0][2].value",
            31,
            "needs 127 byte(s), 83 left",
        ),
        (
            lambda c: c[:27] + b"\x08" + c[28:],
            "payload.data[0][0][2].tag",
            29,
            "unknown A-XDR data type 8",
        ),
        (lambda c: c[:-1], "payload.data[0][1][9].value", 109, "needs 5 byte(s), 4 left"),
        (lambda c: c + b"\x00", "payload", 114, "1 unexpected trailing byte(s)"),
        (
            lambda c: c[:17] + b"\x81\x01" + c[18:],
            "payload.data.length",
            19,
            "non-minimal length form for 1",
        ),
    ],
)
def test_request_errors(mutate: Any, path: str, offset: int, reason: str) -> None:
    e = _err(mutate(ECS37_BYTES))
    assert (e.path, e.offset, e.reason) == (path, offset, reason)


def test_truncated_specs_name_the_field() -> None:
    # spec 0 (get-with-selection, 33 bytes) is complete; spec 1 starts at content offset 40
    base = h(
        "D9 200003E8 00 02 04 0007 0100636214FF 02 01 0914" + "00" * 20 + "01 0008 0000010000FF 02"
    )
    for cut, field, off in (
        (40, "choice", 42),
        (41, "class_id", 43),
        (44, "instance_id", 45),
        (49, "attribute_id", 51),
    ):
        e = _err(base[:cut])
        assert (e.path, e.offset) == (f"payload.specs[1].{field}", off), cut


def test_response_and_notification_errors() -> None:
    rsp = h("DA 200004B3 00 00 01 00 01 02 00")
    e = _err(rsp[:6])
    assert (e.path, e.offset) == ("payload.request_specs", 8)
    e = _err(rsp[:6] + b"\x02" + rsp[7:])
    assert (e.path, e.offset, e.reason) == (
        "payload.request_specs",
        8,
        "OPTIONAL flag must be 00 or 01, found 02",
    )
    e = _err(rsp[:10] + b"\x04" + rsp[11:])
    assert (e.path, e.offset) == ("payload.results[0].choice", 12)
    e = _err(rsp[:11])
    assert (e.path, e.offset, e.reason) == (
        "payload.results.length",
        11,
        "1 result(s) cannot fit in 1 byte(s)",
    )
    # echoed request specs are decoded when present
    echoed = h("DA 200004B3 00 01 01 02 000A 00000C0000FF 02 01 00 01 02 00")
    r = decode_dlms(echoed, 0, len(echoed))
    assert isinstance(r, AccessResponse)
    assert r.request_specs == (SetSpec(10, Obis(0, 0, 12, 0, 0, 255), 2),)
    assert r.encode() == echoed
    note = h("0F 200007D0 00 0202 128F30 090C07DF0101FF0000")
    e = _err(note)
    assert (e.path, e.offset, e.reason) == ("payload.body[1].value", 15, "needs 12 byte(s), 7 left")
    e = _err(h("C0 01"))
    assert (e.path, e.offset, e.reason) == ("payload.tag", 2, "not a DLMS APDU tag: 0xC0")
    e = _err(b"")
    assert (e.path, e.offset) == ("payload.tag", 2)


@pytest.mark.interop
def test_random_mutations_decode_or_fail_cleanly() -> None:
    rng = random.Random(20261123)
    samples = [content(vid) for vid in DLMS_IDS[::7]]
    for _ in range(3000):
        c = bytearray(rng.choice(samples))
        op = rng.randrange(3)
        i = rng.randrange(len(c))
        if op == 0:
            c[i] = rng.randrange(256)
        elif op == 1:
            del c[i:]
        else:
            c.insert(i, rng.randrange(256))
        buf = b"\x00" + bytes(c)
        try:
            apdu = decode_dlms(buf, 1, len(buf))
        except GbcsDecodeError as e:
            assert 1 <= e.offset <= len(buf) and e.path.startswith("payload")
            continue
        assert apdu.encode() == bytes(c)
        apdu.fields(1)
        apdu.encrypted_parts()


# ---------------------------------------------------------------------------------------
# generated APDUs round trip
# ---------------------------------------------------------------------------------------

_SIMPLE_DATA = st.recursive(
    st.one_of(
        st.just(Data.null()),
        st.integers(0, 2**16 - 1).map(Data.long_unsigned),
        st.integers(-(2**31), 2**31 - 1).map(Data.double_long),
        st.binary(max_size=140).map(Data.octet_string),
        st.booleans().map(Data.boolean),
        st.integers(0, 255).map(Data.enum),
    ),
    lambda kids: st.one_of(
        st.lists(kids, max_size=4).map(lambda xs: Data.structure(*xs)),
        st.lists(kids, max_size=4).map(lambda xs: Data.array(*xs)),
    ),
    max_leaves=12,
)
_OBIS = st.tuples(*([st.integers(0, 255)] * 6)).map(lambda t: Obis(*t))
_U16 = st.integers(0, 0xFFFF)
_U8 = st.integers(0, 0xFF)
_SPECS = st.one_of(
    st.builds(GetSpec, _U16, _OBIS, _U8),
    st.builds(SetSpec, _U16, _OBIS, _U8),
    st.builds(ActionSpec, _U16, _OBIS, _U8),
    st.builds(GetWithSelectionSpec, _U16, _OBIS, _U8, _U8, _SIMPLE_DATA),
    st.builds(SetWithSelectionSpec, _U16, _OBIS, _U8, _U8, _SIMPLE_DATA),
)
_DT = st.one_of(st.none(), st.binary(min_size=12, max_size=12).map(DlmsDateTime.from_bytes))
_INVOKE = st.integers(0, 2**32 - 1)
_RESULTS = st.one_of(
    st.builds(GetResult, _U8), st.builds(SetResult, _U8), st.builds(ActionResult, _U8)
)
_PROTECTED = st.builds(
    lambda c, n: protected_get_result(
        ProtectionParameters.gbcs(c, ESME, SUPPLIER), h("3100000000") + bytes(n + 12)
    ),
    st.integers(0, 2**64 - 1),
    st.integers(0, 200),
)
_APDUS = st.one_of(
    st.builds(
        AccessRequest,
        _INVOKE,
        st.lists(_SPECS, max_size=4).map(tuple),
        st.lists(_SIMPLE_DATA, max_size=4).map(tuple),
        _DT,
    ),
    st.builds(
        AccessResponse,
        _INVOKE,
        st.lists(st.one_of(_SIMPLE_DATA, _PROTECTED), max_size=4).map(tuple),
        st.lists(_RESULTS, max_size=4).map(tuple),
        _DT,
        st.one_of(st.none(), st.lists(_SPECS, max_size=3).map(tuple)),
    ),
    st.builds(DataNotification, _INVOKE, _SIMPLE_DATA, _DT),
)


@settings(max_examples=300)
@given(_APDUS, st.integers(0, 5))
def test_generated_apdus_round_trip(apdu: Any, pad: int) -> None:
    raw = apdu.encode()
    buf = b"\xaa" * pad + raw
    back = decode_dlms(buf, pad, len(buf))
    assert back == apdu and back.encode() == raw
    assert back.encrypted_parts() == apdu.encrypted_parts()
    for p in apdu.encrypted_parts():
        assert raw[p.offset : p.offset + len(p.blob)] == p.blob
    (root,) = back.fields(pad)
    assert root.raw == raw
    for f in root.walk():
        assert buf[f.offset : f.offset + len(f.raw)] == f.raw


@settings(max_examples=400)
@given(st.sampled_from([0xD9, 0xDA, 0x0F]), st.binary(max_size=48))
def test_any_bytes_decode_exactly_or_fail_cleanly(tag: int, rest: bytes) -> None:
    raw = bytes([tag]) + rest
    try:
        apdu = decode_dlms(raw, 0, len(raw))
    except GbcsDecodeError as e:
        assert 0 <= e.offset <= len(raw) and e.path.startswith("payload")
        return
    assert apdu.encode() == raw


def test_mutable_buffers_are_not_aliased() -> None:
    raw = bytearray(h("D9 200003E8 00 01 01 0001 0000010000FF 02 01 0903ABCDEF"))
    apdu = decode_dlms(raw, 0, len(raw))
    assert isinstance(apdu, AccessRequest)
    raw[-1] = 0
    assert apdu.data[0].value == h("ABCDEF") and type(apdu.data[0].value) is bytes
