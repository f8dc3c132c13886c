"""GBZ payload codec: interop vectors, exact errors, builders and round-trip properties."""

from __future__ import annotations

import dataclasses
import random
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gbcs import zcl
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.gbz import (
    FirmwareImageHash,
    FutureDatedOutcome,
    GbzAlertHeader,
    GbzCiphered,
    GbzComponent,
    GbzPayload,
    IntegrityWarning,
    RawAlertData,
    decode_gbz,
)
from gbcs.payload import PartContext, Payload, PayloadKind
from gbcs.zcl import (
    AttributeReadRecord,
    DefaultResponse,
    GetPrepaySnapshot,
    PublishCalendar,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    ZclHeader,
    ZclValue,
    decode_zcl_payload,
)
from tests import interop

# --------------------------------------------------------------------------- vectors


def _content(buf: bytes) -> tuple[int, int, int]:
    """(CRA flag, content start, content end)."""
    c = interop.content_slice(buf)
    return c.cra, c.start, c.end


def _gbz_vectors() -> list[dict[str, Any]]:
    d = interop.interop_dir()
    if d is None:
        return []
    out = []
    for v in interop._vectors(str(d)):
        b = bytes.fromhex(v["hex"])
        try:
            _, s, _ = _content(b)
        except (AssertionError, IndexError):
            continue
        if b[s : s + 2] == b"\x01\x09":
            out.append(v)
    return out


_GBZ = _gbz_vectors()
_IDS = [v["id"] for v in _GBZ]


def _vector(vid: str) -> tuple[bytes, int, int, int]:
    v = interop.by_id(vid)
    b = bytes.fromhex(v["hex"])
    cra, s, e = _content(b)
    return b, cra, s, e


def _decoded(vid: str) -> tuple[bytes, int, int, GbzPayload]:
    b, cra, s, e = _vector(vid)
    return b, s, e, decode_gbz(b, s, e, alert=cra == 3)


def _h(node: dict[str, Any]) -> str:
    return str(node["hex"]).replace(" ", "")


def _leaves(d: dict[str, Any]) -> list[str]:
    out = []
    for v in d.values():
        if isinstance(v, dict):
            if v.get("hex"):
                out.append(_h(v))
            if "children" in v:
                out += _leaves(v["children"])
    return out


def _my_leaves(fields: tuple[Any, ...]) -> list[str]:
    out = []
    for f in fields:
        if f.children:
            out += _my_leaves(f.children)
        elif f.raw:
            out.append(f.raw.hex().upper())
    return out


def _cuts(hexes: list[str]) -> set[int]:
    out, p = set(), 0
    for h in hexes:
        p += len(h) // 2
        out.add(p)
    return out


def _parsed_components(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    comps = [v for k, v in parsed.items() if k.startswith("GBZ Component")]
    if not comps and "Control Field" in parsed["Payload"]:  # alert parser puts it inline
        comps = [parsed["Payload"]]
    return comps


def test_vector_inventory() -> None:
    if not _GBZ:
        interop.require_interop()
    assert len(_GBZ) == 152
    alerts = [v for v in _GBZ if v["expected"]["cra_flag"] == 3]
    assert len(alerts) == 10


@pytest.mark.interop
@pytest.mark.parametrize("vid", _IDS)
def test_vector_round_trip(vid: str) -> None:
    b, s, e, p = _decoded(vid)
    assert isinstance(p, Payload)
    assert p.kind is PayloadKind.GBZ
    assert p.encode() == b[s:e]
    # the display tree tiles the content exactly
    nodes = p.fields(s)
    assert nodes[0].offset == s
    assert b"".join(n.raw for n in nodes) == b[s:e]
    for n in nodes:
        for leaf in n.walk():
            assert b[leaf.offset : leaf.offset + len(leaf.raw)] == leaf.raw
    # every clear component carries a typed ZCL record
    for c in p.components:
        assert c.body is None or not isinstance(c.body, RawZclPayload)


@pytest.mark.interop
@pytest.mark.parametrize("vid", _IDS)
def test_vector_matches_reference_parser(vid: str) -> None:
    *_, p = _decoded(vid)
    parsed = interop.parsed(vid)["parsed"]
    pay = parsed["Payload"]
    assert _h(pay["Profile ID"]) == "0109"
    assert int(_h(pay["Number of GBZ components"]), 16) == p.component_count
    if p.alert is not None:
        a = p.alert
        assert int(_h(pay["Alert Code"]), 16) == a.alert_code
        assert int(_h(pay["Time Stamp"]), 16) == a.timestamp
        sp = a.specific
        if isinstance(sp, FutureDatedOutcome):
            assert _h(pay["Future Dated Alert Payload"]) == "0E"
            assert int(_h(pay["Message Code"]), 16) == sp.message_code
            assert int(_h(pay["Originator Counter"]), 16) == sp.originator_counter
            assert int(_h(pay["Cluster Id"]), 16) == sp.cluster
            assert int(_h(pay["Frame Control"]), 16) == sp.frame_control
            assert int(_h(pay["Command Id"]), 16) == sp.command_id
        elif isinstance(sp, FirmwareImageHash):
            assert _h(pay["Calculated Manufacturer Hash"]) == "0920" + sp.image_hash.hex().upper()
        elif isinstance(sp, IntegrityWarning):
            other = pay["GBZ Use Case Specific Components"]["children"]["Other Info"]
            assert int(_h(other), 16) == sp.other_information
        else:
            assert sp is None
    pcomps = _parsed_components(parsed)
    decrypted = [v for k, v in parsed.items() if k.startswith("Decrypted Payload")]
    assert len(pcomps) == len(p.components)
    enc = 0
    for c, pc in zip(p.components, pcomps, strict=True):
        raw = c.encode(last=c is p.components[-1], encrypted_index=enc)
        assert int(_h(pc["Control Field"]), 16) == raw[0]
        assert int(_h(pc["Cluster Id"]), 16) == c.cluster
        assert int(_h(pc["Length"]), 16) == len(raw) - 5
        hdr = pc["ZCL Header"]["children"]
        assert int(_h(hdr["Frame Control"]), 16) == c.zcl.frame_control
        assert int(_h(hdr["Sequence Number"]), 16) == c.zcl.sequence
        assert int(_h(hdr["Command Id"]), 16) == c.zcl.command_id
        if "From Date Time" in pc:
            assert int(_h(pc["From Date Time"]), 16) == c.from_date_time
        else:
            assert c.from_date_time is None
        if c.ciphered is not None:
            assert int(_h(pc["Additional Header Control"]), 16) == (
                c.ciphered.additional_header_control
            )
            assert int(_h(pc["Additional Header Frame Counter"]), 16) == c.ciphered.frame_counter
            assert int(_h(pc["Ciphered Information Length"]), 16) == len(c.ciphered.blob)
            blob = _h(pc["Security Header"]) + _h(pc["Encrypted ZCL Payload"]) + _h(pc["AE MAC"])
            assert c.ciphered.blob.hex().upper() == blob
            # the plaintext the reference parser decrypted decodes with our ZCL codec
            theirs = _leaves(decrypted[enc]["ZCL Payload"]["children"])
            plain = bytes.fromhex("".join(theirs))
            body = decode_zcl_payload(c.cluster, c.zcl.frame_control, c.zcl.command_id, plain)
            enc += 1
        else:
            assert "Encrypted ZCL Payload" not in pc
            body = c.body
            theirs = _leaves(pc["ZCL Payload"]["children"]) if "ZCL Payload" in pc else []
        assert not isinstance(body, RawZclPayload)
        mine = _my_leaves(body.fields(0, c.cluster, c.zcl.frame_control))
        assert "".join(mine) == "".join(theirs)
        # every field boundary of the reference parser is a boundary of ours
        assert _cuts(theirs) <= _cuts(mine)
        _check_zcl_values(body, pc if c.ciphered is None else decrypted[enc - 1])


def _check_zcl_values(body: Any, pc: dict[str, Any]) -> None:
    """Attribute ids, statuses, data types, default-response command and status."""
    kids = pc["ZCL Payload"]["children"]
    if isinstance(body, ReadAttributes):
        ids = [int.from_bytes(bytes.fromhex(_h(v)), "little") for v in kids.values()]
        assert list(body.attribute_ids) == ids
    elif isinstance(body, ReadAttributesResponse):
        recs = list(kids.values())
        assert len(recs) == len(body.records)
        for r, pr in zip(body.records, recs, strict=True):
            ch = pr["children"]
            assert int.from_bytes(bytes.fromhex(_h(ch["Attribute Id"])), "little") == r.attribute_id
            assert int(_h(ch["Status Code"]), 16) == r.status
            if r.status == 0:
                assert r.value is not None
                assert int(_h(ch["Attribute Data Type"]), 16) == r.value.type_id
                assert _h(ch["Attribute Data Value"]) == r.value.encode()[1:].hex().upper()
    elif isinstance(body, DefaultResponse):
        assert int(_h(kids["Command Id"]), 16) == body.command_id
        assert int(_h(kids["Status Code"]), 16) == body.status


@pytest.mark.interop
@pytest.mark.parametrize("vid", _IDS)
def test_vector_encrypted_parts(vid: str) -> None:
    b, s, _, p = _decoded(vid)
    expected = interop.by_id(vid)["expected"]
    parts = p.encrypted_parts()
    assert len(parts) == expected.get("encrypted_parts", 0)
    enc_comps = [c for c in p.components if c.ciphered is not None]
    for i, (part, c) in enumerate(zip(parts, enc_comps, strict=True)):
        assert part.index == i
        assert part.context is PartContext.GBZ
        assert b[s + part.offset : s + part.offset + len(part.blob)] == part.blob
        assert part.blob == c.ciphered.blob  # type: ignore[union-attr]
        assert part.blob[:5] == b"\x31\x00\x00\x00\x00"
        assert (part.cluster, part.command, part.frame_control) == (
            c.cluster,
            c.zcl.command_id,
            c.zcl.frame_control,
        )
        assert part.path == f"components[{p.components.index(c)}].ciphered"


@pytest.mark.interop
def test_alert_specific_layouts_from_vectors() -> None:
    """Which alerts carry which data, as the vectors show (count includes the data)."""
    got = {}
    for v in _GBZ:
        b, cra, s, e = _vector(v["id"])
        if cra != 3:
            continue
        p = decode_gbz(b, s, e, alert=True)
        assert p.alert is not None
        got[p.alert.alert_code] = (type(p.alert.specific).__name__, len(p.components), b[s + 2])
    assert got[0x8F66] == ("FutureDatedOutcome", 0, 1)
    assert got[0x8F72] == ("FirmwareImageHash", 0, 1)
    assert got[0x81A0] == ("IntegrityWarning", 0, 1)
    assert got[0x8F0A] == ("NoneType", 1, 1)
    assert got[0x8F30] == ("NoneType", 0, 0)
    assert got[0x810E] == ("NoneType", 0, 0)


# --------------------------------------------------------------------------- known bytes

GCA = bytes.fromhex("0109008F301C374A80")
# two clear components: Default Response (Calendar) then Read Attributes (Metering)
TWO = bytes.fromhex("010902000707000500000B0000010702000700000000000003")


def test_generic_critical_alert() -> None:
    p = decode_gbz(GCA, 0, len(GCA), alert=True)
    assert p == GbzPayload((), GbzAlertHeader(0x8F30, 0x1C374A80))
    assert zcl.format_utc(p.alert.timestamp) == "2015-01-01 00:00:00 UTC"  # type: ignore[union-attr]
    assert p.encode() == GCA


def test_two_components_exact_values() -> None:
    p = decode_gbz(TWO, 0, len(TWO), alert=False)
    assert p.components == (
        GbzComponent(0x0707, ZclHeader(0x00, 0x00, 0x0B), DefaultResponse(0x00, 0x00)),
        GbzComponent(0x0702, ZclHeader(0x00, 0x00, 0x00), ReadAttributes((0x0000, 0x0300))),
    )
    assert p.encode() == TWO
    tree = p.fields(100)
    comp1 = tree[3]
    assert comp1.name == "GBZ component [1]"
    assert comp1.offset == 100 + 13
    assert comp1.children[1].value == "Metering (0x0702)"
    payload = comp1.children[-1]
    assert payload.value == "Read Attributes"
    assert payload.children[1].value == "0x0300 (Unit of Measure)"
    assert payload.children[1].offset == 100 + 13 + 10


def test_decode_inside_larger_buffer_uses_absolute_offsets() -> None:
    odd = bytearray(TWO[:-1])
    odd[17] = 0x06  # second component: 3-byte attribute list
    buf = b"\xaa" * 7 + bytes(odd) + b"\xbb"
    with pytest.raises(GbcsDecodeError) as ei:
        decode_gbz(buf, 7, 7 + len(odd), alert=False)
    assert ei.value.path == "payload.components[1].zcl_payload.attribute_ids[1]"
    assert ei.value.offset == 7 + 23


# --------------------------------------------------------------------------- exact errors


def _err(data: bytes, *, alert: bool = False) -> tuple[str, int]:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_gbz(data, 0, len(data), alert=alert)
    return ei.value.path, ei.value.offset


@pytest.mark.parametrize(
    ("cut", "path", "offset"),
    [
        (0, "payload.profile_id", 0),
        (1, "payload.profile_id", 0),
        (2, "payload.count", 2),
        (3, "payload.components[0]", 3),
        (4, "payload.components[0].cluster", 4),
        (6, "payload.components[0].length", 6),
        (7, "payload.components[0].length", 6),
        (8, "payload.components[0].length", 6),  # length 5 exceeds the 0 bytes left
        (12, "payload.components[0].length", 6),
        (13, "payload.components[1]", 13),
        (22, "payload.components[1].length", 16),
    ],
)
def test_truncation_errors(cut: int, path: str, offset: int) -> None:
    assert _err(TWO[:cut]) == (path, offset)


def test_every_truncation_raises_decode_error() -> None:
    for cut in range(len(TWO)):
        with pytest.raises(GbcsDecodeError):
            decode_gbz(TWO[:cut], 0, cut, alert=False)


def test_truncated_zcl_fields() -> None:
    # component length shortened so the ZCL header / payload end early
    one = bytearray(bytes.fromhex("010901010707000500000B0000"))
    for length, path, off in [
        (0, "payload.components[0].zcl.frame_control", 8),
        (1, "payload.components[0].zcl.sequence", 9),
        (2, "payload.components[0].zcl.command_id", 10),
        (3, "payload.components[0].zcl_payload.command_id", 11),
        (4, "payload.components[0].zcl_payload.status", 12),
    ]:
        one[7] = length
        data = bytes(one[: 8 + length])
        assert _err(data) == (path, off)


def test_bad_counts() -> None:
    more = bytearray(TWO)
    more[2] = 3  # claims 3: component 2 of 3 carries the last flag
    assert _err(bytes(more)) == ("payload.components[1].control", 13)
    fewer = bytearray(TWO)
    fewer[2] = 1  # claims 1: the first component lacks the last flag
    assert _err(bytes(fewer)) == ("payload.components[0].control", 3)
    zero = bytearray(TWO)
    zero[2] = 0  # claims none: every byte after the count is unexpected
    assert _err(bytes(zero)) == ("payload", 3)
    # a missing component after a correctly flagged one
    flagged = bytearray(TWO[:13])
    flagged[2] = 2
    assert _err(bytes(flagged)) == ("payload.components[1]", 13)


def test_bad_lengths() -> None:
    longer = bytearray(TWO)
    longer[7] = 0x06  # first component length 6: the default response gets a third byte
    assert _err(bytes(longer)) == ("payload.components[0].zcl_payload", 13)
    shorter = bytearray(TWO)
    shorter[7] = 0x04
    assert _err(bytes(shorter)) == ("payload.components[0].zcl_payload.status", 12)
    huge = bytearray(TWO)
    huge[16:18] = b"\x01\x00"
    assert _err(bytes(huge)) == ("payload.components[1].length", 16)


def test_last_flag_and_reserved_bits() -> None:
    bad = bytearray(TWO)
    bad[3] = 0x01  # last flag on the first of two
    assert _err(bytes(bad)) == ("payload.components[0].control", 3)
    bad = bytearray(TWO)
    bad[3] = 0x04
    assert _err(bytes(bad)) == ("payload.components[0].control", 3)


ENC = bytes.fromhex("010901030702001E000019000600173100000000AABBCCDDEEFF0102030405060708090A0B0C")


def test_encrypted_component_and_errors() -> None:
    p = decode_gbz(ENC, 0, len(ENC), alert=False)
    (c,) = p.components
    assert c.ciphered == GbzCiphered(
        bytes.fromhex("3100000000AABBCCDDEEFF0102030405060708090A0B0C"), 0, 0
    )
    assert c.ciphered.ciphertext == bytes.fromhex("AABBCCDDEEFF")
    assert c.zcl == ZclHeader(0x19, 0x00, 0x06)
    (part,) = p.encrypted_parts()
    assert (part.offset, part.cluster, part.command, part.frame_control) == (15, 0x0702, 6, 0x19)
    assert p.encode() == ENC

    bad = bytearray(ENC)
    bad[14] = 0x16  # ciphered length one short
    assert _err(bytes(bad)) == ("payload.components[0].ciphered_length", 13)
    bad = bytearray(ENC)
    bad[15] = 0x30
    assert _err(bytes(bad)) == ("payload.components[0].ciphered.security_control", 15)
    bad = bytearray(ENC)
    bad[17] = 0x01
    assert _err(bytes(bad)) == ("payload.components[0].ciphered.invocation_counter", 16)
    short = bytes.fromhex("0109010307020009000019000600023100")
    assert _err(short) == ("payload.components[0].ciphered", 15)


def test_alert_errors() -> None:
    assert _err(GCA[:4], alert=True) == ("payload.alert.alert_code", 3)
    assert _err(GCA[:8], alert=True) == ("payload.alert.timestamp", 5)
    fd = bytes.fromhex("0109018F66388188900F006B00000000000003ED07000906")
    assert _err(fd, alert=True) == ("payload.alert.specific.future_dated", 9)
    fw = bytes.fromhex("0109018F721C374A800920" + "A1" * 31)
    assert _err(fw, alert=True) == ("payload.alert.specific.image_hash", 11)
    tail = bytes.fromhex("01090181A01C374A80000500")
    assert _err(tail, alert=True) == ("payload", 11)


def test_unknown_alert_code_data() -> None:
    # a component decodes as a component; anything else with NN == 1 stays raw
    comp = bytes.fromhex("0109018F401C374A80010707000500000B0000")
    p = decode_gbz(comp, 0, len(comp), alert=True)
    assert p.alert == GbzAlertHeader(0x8F40, 0x1C374A80)
    assert len(p.components) == 1
    raw = bytes.fromhex("0109018F401C374A80DEADBEEF")
    p = decode_gbz(raw, 0, len(raw), alert=True)
    assert p.alert == GbzAlertHeader(0x8F40, 0x1C374A80, RawAlertData(bytes.fromhex("DEADBEEF")))
    assert p.components == ()
    assert p.encode() == raw


def test_profile_id_and_slice_errors() -> None:
    assert _err(bytes.fromhex("0108010000")) == ("payload.profile_id", 0)
    with pytest.raises(GbcsDecodeError) as ei:
        decode_gbz(TWO, 5, 100, alert=False)
    assert ei.value.offset == 5


@pytest.mark.interop
def test_mutated_vectors_raise_only_decode_errors() -> None:
    rng = random.Random(1234)
    contents = []
    for v in _GBZ:
        b, cra, s, e = _vector(v["id"])
        contents.append((b[s:e], cra == 3))
    for _ in range(3000):
        data, alert = rng.choice(contents)
        m = bytearray(data)
        for _ in range(rng.choice((1, 2, 4))):
            i = rng.randrange(len(m))
            op = rng.randrange(4)
            if op == 0:
                m[i] = rng.randrange(256)
            elif op == 1:
                del m[i:]
            elif op == 2:
                del m[i : i + rng.randrange(1, 6)]
            else:
                m[i:i] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4)))
            if not m:
                m.append(1)
        try:
            p = decode_gbz(bytes(m), 0, len(m), alert=alert)
        except GbcsDecodeError as e:
            assert 0 <= e.offset <= len(m)
            assert e.path.startswith("payload")
        else:
            assert p.encode() == bytes(m)
            p.fields(0)
            p.encrypted_parts()


# --------------------------------------------------------------------------- builders


def test_builder_computes_count_lengths_and_flags() -> None:
    rar = ReadAttributesResponse(
        (
            AttributeReadRecord(0x0000, 0x00, ZclValue(0x25, 1234)),
            AttributeReadRecord(0x0001, 0x86),
        )
    )
    p = GbzPayload(
        (
            GbzComponent.command(0x0702, rar, 0, server_to_client=True),
            GbzComponent.command(
                0x0705, GetPrepaySnapshot(0, 0xFFFFFFFF, 0, 1), 1, from_date_time=0x1C374A80
            ),
            GbzComponent(
                0x0705,
                ZclHeader.make(0x01, 2, cluster_specific=True, server_to_client=True),
                ciphered=GbzCiphered.from_parts(b"\x01\x02", b"\x00" * 12),
            ),
        )
    )
    data = p.encode()
    assert data.hex().upper() == (
        "010903"
        "00"
        "0702"
        "0010"
        "080001"
        "0000"
        "00"
        "25"
        "D20400000000"
        "0100"
        "86"
        "10"
        "0705"
        "0014"
        "1C374A80"
        "010107"
        "00000000"
        "FFFFFFFF"
        "00"
        "01000000"
        "03"
        "0705"
        "001A"
        "0000"
        "090201"
        "0013"
        "3100000000"
        "0102" + "00" * 12
    )
    q = decode_gbz(data, 0, len(data), alert=False)
    assert q.components[:2] == p.components[:2]
    assert q.components[2].ciphered == GbzCiphered(p.components[2].ciphered.blob, 0, 0)  # type: ignore[union-attr]
    assert q.encode() == data


def test_builder_overrides_make_malformed_frames() -> None:
    c = GbzComponent.command(0x0707, DefaultResponse(0, 0), server_to_client=False)
    bad = GbzPayload((dataclasses.replace(c, control=0x00, length=9),), count=2).encode()
    assert bad.hex().upper() == "010902000707000900000B0000"
    assert _err(bad) == ("payload.components[0].length", 6)


def test_alert_builder() -> None:
    p = GbzPayload(
        alert=GbzAlertHeader(
            0x8F66,
            0x38818890,
            FutureDatedOutcome(0x006B, 0x3ED, 0x0700, 0x09, 0x06),
        )
    )
    assert p.encode().hex().upper() == "0109018F66388188900E006B00000000000003ED07000906"
    fw = GbzPayload(alert=GbzAlertHeader(0x8F72, 0, FirmwareImageHash(b"\xa1" * 32)))
    assert fw.encode()[2] == 1
    assert fw.encode()[9:11] == b"\x09\x20"


def test_builder_rejects_inconsistent_values() -> None:
    hdr = ZclHeader.make(0x00, cluster_specific=True, server_to_client=False)
    with pytest.raises(GbcsEncodeError):  # Publish Calendar travels server to client
        GbzComponent(0x0707, hdr, PublishCalendar(0, 0, 0, 0, 0, 0, b"", 0, 0, 0)).encode()
    with pytest.raises(GbcsEncodeError):  # general command id mismatch
        GbzComponent(0x0707, ZclHeader(0, 0, 0x01), DefaultResponse(0, 0)).encode()
    with pytest.raises(GbcsEncodeError):
        GbzComponent(0x0707, ZclHeader(0, 0, 0x0B)).encode()
    with pytest.raises(GbcsEncodeError):
        GbzComponent.command(0x0707, DefaultResponse(0, 0))  # direction needed
    with pytest.raises(GbcsEncodeError):
        GbzCiphered.from_parts(b"", b"short")
    with pytest.raises(GbcsEncodeError):
        GbzComponent(0x0702, ZclHeader(0x19, 0, 6), ciphered=GbzCiphered(b"\x30" * 20)).encode()
    with pytest.raises(GbcsEncodeError):
        GbzPayload(count=256).encode()
    with pytest.raises(GbcsEncodeError):
        ZclHeader(0x04, 0, 0).encode()  # manufacturer bit without code
    with pytest.raises(GbcsEncodeError):
        AttributeReadRecord(1, 0).encode()


def test_manufacturer_specific_header() -> None:
    data = bytes.fromhex("01090101070200070D34120507AABB")
    p = decode_gbz(data, 0, len(data), alert=False)
    c = p.components[0]
    assert c.zcl == ZclHeader(0x0D, 0x05, 0x07, 0x1234)
    assert c.body == RawZclPayload(b"\xaa\xbb")
    assert p.encode() == data
    assert _err(data[:-4]) == ("payload.components[0].length", 6)
    cut = bytearray(data[:11])
    cut[7] = 3
    assert _err(bytes(cut)) == ("payload.components[0].zcl.sequence", 11)


# --------------------------------------------------------------------------- properties


def _kind_strategy(kind: Any) -> st.SearchStrategy[Any]:
    if isinstance(kind, zcl._Kind):
        if kind is zcl.DATE:
            return st.builds(zcl.ZclDate, *[st.integers(0, 255)] * 4)
        if kind is zcl.DAYS7:
            return st.tuples(*[st.integers(0, 255)] * 7)
        signed = kind.fmt in ("b", "h", "i", "q")
        bits = 8 * kind.size
        if signed:
            return st.integers(-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
        return st.integers(0, (1 << bits) - 1)
    if kind is zcl._OCT:
        return st.one_of(st.none(), st.binary(max_size=12))
    if isinstance(kind, zcl._ListSpec):
        elem = _kind_strategy(kind.elem) if isinstance(kind.elem, zcl._Kind) else _record(kind.elem)
        return st.lists(elem, max_size=4).map(tuple)
    raise AssertionError(kind)


def _record(cls: Any) -> st.SearchStrategy[Any]:
    kw: dict[str, Any] = {}
    until_end = False
    for f in dataclasses.fields(cls):
        if f.name == "trailing":
            kw["trailing"] = st.just(b"") if until_end else st.binary(max_size=4)
            continue
        kind = f.metadata["zcl"]
        if isinstance(kind, zcl._SubPayload):
            continue  # handled below
        if isinstance(kind, zcl._ListSpec) and kind.count is None:
            until_end = True
        kw[f.name] = _kind_strategy(kind)
    fields_ = {f.name: f.metadata.get("zcl") for f in dataclasses.fields(cls)}
    sub = fields_.get("snapshot_payload")
    if isinstance(sub, zcl._SubPayload):
        # either a typed sub-payload with its type, or raw bytes under an unknown type
        typed = st.sampled_from(sorted(sub.table.items())).flatmap(
            lambda kv: st.tuples(st.just(kv[0]), _record(kv[1]))
        )
        raw = st.tuples(st.integers(0x80, 0xFF), st.binary(max_size=8))
        kw.pop("snapshot_payload_type", None)
        return st.tuples(st.fixed_dictionaries(kw), st.one_of(typed, raw)).map(
            lambda t: cls(**t[0], snapshot_payload_type=t[1][0], snapshot_payload=t[1][1])
        )
    return st.fixed_dictionaries(kw).map(lambda d: cls(**d))


_VALUE_TYPES = [
    0x10,
    0x18,
    0x19,
    0x1B,
    0x20,
    0x21,
    0x22,
    0x23,
    0x25,
    0x27,
    0x28,
    0x2B,
    0x30,
    0x31,
    0xE2,
    0xE8,
    0xF0,
]


def _zcl_value(depth: int = 0) -> st.SearchStrategy[ZclValue]:
    def scalar(t: int) -> st.SearchStrategy[Any]:
        size = zcl._fixed_size(t)
        assert size is not None
        if 0x28 <= t <= 0x2F:
            return st.integers(-(1 << (8 * size - 1)), (1 << (8 * size - 1)) - 1)
        return st.integers(0, (1 << (8 * size)) - 1)

    options = [
        st.sampled_from(_VALUE_TYPES).flatmap(lambda t: st.builds(ZclValue, st.just(t), scalar(t)))
    ]
    options.append(
        st.builds(
            ZclValue,
            st.sampled_from([0x41, 0x42, 0x43]),
            st.one_of(st.none(), st.binary(max_size=10)),
        )
    )
    options.append(
        st.builds(ZclValue, st.sampled_from([0x39, 0xE0]), st.binary(min_size=4, max_size=4))
    )
    options.append(
        st.builds(ZclValue, st.just(0xE1), st.builds(zcl.ZclDate, *[st.integers(0, 255)] * 4))
    )
    options.append(st.builds(ZclValue, st.sampled_from([0x00, 0xFF]), st.none()))
    if depth < 2:
        options.append(
            st.builds(
                ZclValue,
                st.just(0x48),
                st.builds(
                    zcl.ZclSequence,
                    st.just(0x21),
                    st.one_of(st.none(), st.lists(st.integers(0, 0xFFFF), max_size=3).map(tuple)),
                ),
            )
        )
        options.append(
            st.builds(
                ZclValue, st.just(0x4C), st.lists(_zcl_value(depth + 1), max_size=3).map(tuple)
            )
        )
    return st.one_of(options)


_ATTR = st.integers(0, 0xFFFF)
_GENERAL_RECORDS = st.one_of(
    st.lists(_ATTR, max_size=5).map(lambda x: ReadAttributes(tuple(x))),
    st.lists(
        st.one_of(
            st.builds(AttributeReadRecord, _ATTR, st.just(0), _zcl_value()),
            st.builds(AttributeReadRecord, _ATTR, st.integers(1, 255)),
        ),
        max_size=4,
    ).map(lambda x: ReadAttributesResponse(tuple(x))),
    st.lists(st.builds(zcl.AttributeWriteRecord, _ATTR, _zcl_value()), max_size=3).map(
        lambda x: zcl.WriteAttributes(tuple(x))
    ),
    st.one_of(
        st.builds(zcl.AttributeStatusRecord, st.integers(0, 255)).map(lambda r: (r,)),
        st.lists(
            st.builds(zcl.AttributeStatusRecord, st.integers(0, 255), _ATTR), min_size=2, max_size=3
        ).map(tuple),
    ).map(zcl.WriteAttributesResponse),
    st.builds(DefaultResponse, st.integers(0, 255), st.integers(0, 255)),
)
_TYPED = sorted(zcl.typed_commands().items())
_CLUSTER_RECORDS = st.sampled_from(_TYPED).flatmap(lambda kv: _record(kv[1]))


def _clear_component() -> st.SearchStrategy[GbzComponent]:
    fdt = st.one_of(st.none(), st.integers(0, 0xFFFFFFFF))
    seq = st.integers(0, 255)
    typed = st.builds(
        lambda body, s, f, ddr: GbzComponent.command(
            body.CLUSTER, body, s, from_date_time=f, disable_default_response=ddr
        ),
        _CLUSTER_RECORDS,
        seq,
        fdt,
        st.booleans(),
    )
    general = st.builds(
        lambda body, cl, s, s2c, f: GbzComponent.command(
            cl, body, s, server_to_client=s2c, from_date_time=f
        ),
        _GENERAL_RECORDS,
        st.sampled_from([0x0000, 0x0700, 0x0702, 0x0705, 0x0707]),
        seq,
        st.booleans(),
        fdt,
    )
    # an unknown cluster-specific command stays raw
    raw = st.builds(
        lambda data, s, f: GbzComponent(
            0x0702, ZclHeader(0x09, s, 0x7F), RawZclPayload(data), None, f
        ),
        st.binary(max_size=10),
        seq,
        fdt,
    )
    return st.one_of(typed, general, raw)


def _encrypted_component() -> st.SearchStrategy[GbzComponent]:
    return st.builds(
        lambda cl, hdr, ct, tag, fc, fdt: GbzComponent(
            cl, hdr, ciphered=GbzCiphered.from_parts(ct, tag, fc), from_date_time=fdt
        ),
        st.sampled_from([0x0702, 0x0705]),
        st.builds(
            ZclHeader, st.sampled_from([0x08, 0x18, 0x19]), st.integers(0, 255), st.integers(0, 255)
        ),
        st.binary(max_size=24),
        st.binary(min_size=12, max_size=12),
        st.integers(0, 255),
        st.one_of(st.none(), st.integers(0, 0xFFFFFFFF)),
    )


_ALERTS = st.one_of(
    st.builds(
        GbzAlertHeader, st.sampled_from([0x8F30, 0x810E, 0x8F0A]), st.integers(0, 0xFFFFFFFF)
    ),
    st.builds(
        GbzAlertHeader,
        st.sampled_from([0x8F66, 0x8F67]),
        st.integers(0, 0xFFFFFFFF),
        st.builds(
            FutureDatedOutcome,
            st.integers(0, 0xFFFF),
            st.integers(0, (1 << 64) - 1),
            st.integers(0, 0xFFFF),
            st.integers(0, 255),
            st.integers(0, 255),
        ),
    ),
    st.builds(
        GbzAlertHeader,
        st.sampled_from([0x8F1C, 0x8F72]),
        st.integers(0, 0xFFFFFFFF),
        st.builds(FirmwareImageHash, st.binary(max_size=40)),
    ),
    st.builds(
        GbzAlertHeader,
        st.just(0x81A0),
        st.integers(0, 0xFFFFFFFF),
        st.builds(IntegrityWarning, st.integers(0, 0xFFFF)),
    ),
)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    comps=st.lists(st.one_of(_clear_component(), _encrypted_component()), max_size=5),
    alert=st.one_of(st.none(), _ALERTS),
)
def test_property_payload_round_trip(
    comps: list[GbzComponent], alert: GbzAlertHeader | None
) -> None:
    p = GbzPayload(tuple(comps), alert)
    data = p.encode()
    q = decode_gbz(data, 0, len(data), alert=alert is not None)
    assert q == p
    assert q.encode() == data
    assert len(q.encrypted_parts()) == sum(c.ciphered is not None for c in comps)
    for part in q.encrypted_parts():
        assert data[part.offset : part.offset + len(part.blob)] == part.blob
    assert b"".join(n.raw for n in q.fields(0)) == data


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=st.one_of(_CLUSTER_RECORDS, _GENERAL_RECORDS), base=st.integers(0, 1000))
def test_property_zcl_record_round_trip(body: Any, base: int) -> None:
    data = body.encode()
    if isinstance(body, zcl._Record):
        fc = 0x09 if body.SERVER_TO_CLIENT else 0x01
        cluster = body.CLUSTER
    else:
        fc, cluster = 0x00, 0x0702
    got = decode_zcl_payload(cluster, fc, body.COMMAND_ID, data, "p", base)
    assert got == body
    assert got.encode() == data
    assert b"".join(f.raw for f in got.fields(base, cluster, fc)) == data
    # every strict prefix either decodes to a different record or fails at an offset
    # inside the slice (shifted by base)
    for cut in range(len(data)):
        try:
            other = decode_zcl_payload(cluster, fc, body.COMMAND_ID, data[:cut], "p", base)
        except GbcsDecodeError as e:
            assert base <= e.offset <= base + cut
            assert e.path.startswith("p")
        else:
            assert other.encode() == data[:cut]


# --------------------------------------------------------------------------- zcl pieces


def test_decode_zcl_payload_offsets_and_raw() -> None:
    with pytest.raises(GbcsDecodeError) as ei:
        decode_zcl_payload(0x0705, 0x01, 0x07, bytes(5), "plain", 1000)
    assert (ei.value.path, ei.value.offset) == ("plain.latest_end_time", 1004)
    assert decode_zcl_payload(0x0705, 0x01, 0x7E, b"\x01") == RawZclPayload(b"\x01")
    assert decode_zcl_payload(0x0705, 0x02, 0x00, b"\x01") == RawZclPayload(b"\x01")


def test_trailing_bytes_are_kept() -> None:
    # Publish Price followed by the 19 optional octets some devices append
    base = bytes.fromhex("0000000000804A371C804A371C013A03514100000000A00580250000")
    extra = bytes(range(19))
    rec = decode_zcl_payload(0x0700, 0x09, 0x00, base + extra)
    assert isinstance(rec, zcl.PublishPrice)
    assert rec.currency == 826
    assert rec.trailing == extra
    assert rec.encode() == base + extra


def test_typed_and_raw_inventory() -> None:
    typed = zcl.typed_commands()
    assert len(typed) == 58
    assert set(zcl.general_commands()) == {0x00, 0x01, 0x02, 0x04, 0x0B}
    assert zcl.command_name(0x0702, 0x19, 0x06) == "Publish Snapshot"
    assert zcl.command_name(0x0700, 0x09, 0x06) == "Publish Block Thresholds"  # named, raw
    assert (0x0700, True, 0x06) not in typed
