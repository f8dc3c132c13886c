"""Typed GBZ arguments: explain -> JSON -> build reproduces every GBZ payload byte for byte;
values are typed (opaque hex only where GBCS carries opaque octets); bad arguments give
one error naming the path and what is allowed."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from typing import Any

import pytest

from emulator.headend.catalogue.gbz_args import (
    OPAQUE_DATA_TYPES,
    OPAQUE_KEYS,
    OPAQUE_OCTET_FIELDS,
    TEXT_OCTET_FIELDS,
    GbzArgsError,
    build_gbz,
    explain_gbz,
)
from gbcs.codec import decode
from gbcs.errors import GbcsDecodeError
from gbcs.gbz import (
    FirmwareImageHash,
    FutureDatedOutcome,
    GbzAlertHeader,
    GbzCiphered,
    GbzComponent,
    GbzPayload,
    IntegrityWarning,
    RawAlertData,
)
from gbcs.payload import PayloadKind
from gbcs.zcl import (
    DATA_TYPE_NAMES,
    AttributeReadRecord,
    AttributeStatusRecord,
    AttributeWriteRecord,
    DefaultResponse,
    PriceMatrixEntry,
    PublishPriceMatrix,
    PublishTariffInformation,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    WriteAttributes,
    WriteAttributesResponse,
    ZclDate,
    ZclHeader,
    ZclSequence,
    ZclValue,
    typed_commands,
)
from gbcs.zcl.records import _OCT, _REST, _Kind, _ListSpec, _SubPayload
from tests import interop

CODE = 0x00A3  # GCS01b; the GBZ rules do not depend on the message code


def _round_trip(p: GbzPayload, code: int = CODE) -> dict[str, Any]:
    """Explain, go through JSON text, build; assert the bytes are identical."""
    args = explain_gbz(p, code)
    again = build_gbz(json.loads(json.dumps(args)), code)
    assert again.encode() == p.encode()
    assert build_gbz(args, code).encode() == p.encode()
    return args


# --------------------------------------------------------------------------- RTDS set


def _rtds_gbz(direction: str | None) -> list[tuple[str, int, GbzPayload]]:
    out = []
    for v in interop.vectors():
        if direction is not None and v["direction"] != direction:
            continue
        try:
            m = decode(bytes.fromhex(v["hex"]))
        except GbcsDecodeError:
            continue  # the two deliberately malformed parser-test messages
        if m.payload.kind is PayloadKind.GBZ:
            assert isinstance(m.payload, GbzPayload)
            out.append((v["id"], m.message_code, m.payload))
    return out


def test_every_rtds_gbz_command_rebuilds_byte_identical() -> None:
    cmds = _rtds_gbz("command")
    assert len(cmds) >= 80
    failed = []
    for vid, code, p in cmds:
        args = explain_gbz(p, code)
        text = json.dumps(args)
        if build_gbz(json.loads(text), code).encode() != p.encode():
            failed.append(vid)
    assert failed == []


def test_every_rtds_gbz_response_and_alert_rebuilds_too() -> None:
    others = _rtds_gbz("response") + _rtds_gbz("alert")
    assert len(others) >= 60
    for _, code, p in others:
        _round_trip(p, code)


_HEX = re.compile(r"(?:[0-9A-F]{2})+")


def _hex_leaves(obj: Any, path: str = "", opaque: bool = False) -> Iterator[str]:
    """Paths of upper-case hex strings outside the declared opaque places."""
    if isinstance(obj, dict):
        t = obj.get("type")
        # opaque octets, or text (which may look like hex: "1234")
        zcl_opaque = (
            set(obj) <= {"type", "value"}
            and isinstance(t, str)
            and any(DATA_TYPE_NAMES[x] == t for x in OPAQUE_DATA_TYPES | {0x42, 0x44})
        )
        for k, v in obj.items():
            # {"hex": ...} is the explicit form of a text value that holds no text
            hexed = k in OPAQUE_KEYS or (zcl_opaque and k == "value") or set(obj) == {"hex"}
            yield from _hex_leaves(v, f"{path}.{k}", hexed)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _hex_leaves(v, f"{path}[{i}]", opaque)
    elif isinstance(obj, str) and _HEX.fullmatch(obj) and not opaque:
        key = path.rsplit(".", 1)[-1]
        if key not in TEXT_OCTET_FIELDS:  # text that happens to look like hex ("1234")
            yield path


def _json_scalars(obj: Any) -> Iterator[Any]:
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _json_scalars(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _json_scalars(v)
    else:
        yield obj


def test_rtds_arguments_are_json_and_opaque_only_where_declared() -> None:
    commands = {vid for vid, _, _ in _rtds_gbz("command")}
    for vid, code, p in _rtds_gbz(None):
        args = explain_gbz(p, code)
        json.dumps(args)
        for v in _json_scalars(args):
            assert v is None or type(v) in (str, int, bool), (vid, v)
        assert list(_hex_leaves(args)) == [], vid
        if vid in commands:  # every text field of an RTDS command holds text
            assert '"hex":' not in json.dumps(args), vid


def _text_fields_match(rec: Any, d: dict[str, Any]) -> int:
    """Assert every text field of ``rec`` is its octets as text; count them."""
    n = 0
    for f in dataclasses.fields(rec):
        v = getattr(rec, f.name)
        if f.name in TEXT_OCTET_FIELDS and isinstance(v, bytes):
            assert d[f.name] == v.decode(), f.name
            n += 1
        elif f.name in OPAQUE_OCTET_FIELDS and isinstance(v, bytes):
            assert d[f.name] == v.hex().upper(), f.name
        elif isinstance(v, tuple) and v and dataclasses.is_dataclass(v[0]):
            n += sum(_text_fields_match(x, y) for x, y in zip(v, d[f.name], strict=True))
    return n


def test_rtds_text_fields_are_the_text_itself() -> None:
    n = 0
    for _, code, p in _rtds_gbz("command"):
        args = explain_gbz(p, code)
        for c, j in zip(p.components, args["components"], strict=True):
            if dataclasses.is_dataclass(c.body) and hasattr(type(c.body), "_PLAN"):
                n += _text_fields_match(c.body, j["body"])
    assert n > 5


def test_rtds_utrn_is_opaque_and_message_is_text() -> None:
    seen = set()
    for _, code, p in _rtds_gbz("command"):
        for j in explain_gbz(p, code)["components"]:
            if j["command"] == "Consumer Top Up":
                assert re.fullmatch(r"(?:3[0-9]){20}", j["body"]["top_up_code"])
                seen.add("utrn")
            if j["command"] == "Display Message":
                assert j["body"]["message"] == "Reset"
                seen.add("message")
            if j["command"] == "Get Debt Repayment Log":
                assert j["from_date_time"] == "2014-12-01T00:00:00Z"
                seen.add("future")
            assert "sequence" not in j  # every RTDS command numbers its components 0, 1 …
    assert seen == {"utrn", "message", "future"}


# --------------------------------------------------------------------------- own payloads


def _sample(cls: type, variant: int) -> Any:
    """An instance of a declarative record with a value in every field."""
    kwargs: dict[str, Any] = {}
    fields = dataclasses.fields(cls)
    for f in fields:
        if f.name == "trailing":
            kwargs["trailing"] = b"\x01\xfe" if variant else b""
            continue
        kind = f.metadata["zcl"]
        if isinstance(kind, _SubPayload):
            # the selector precedes the payload: a typed layout, or raw octets for a
            # payload type without one
            key = next(iter(kind.table))
            if variant:
                kwargs[kind.selector] = 0xEE
                kwargs[f.name] = b"\x00\x11\x22"
            else:
                kwargs[kind.selector] = key
                kwargs[f.name] = _sample(kind.table[key], variant)
            continue
        kwargs[f.name] = _value(kind, f.name, variant)
    return cls(**kwargs)


def _value(kind: Any, name: str, variant: int) -> Any:
    if isinstance(kind, _Kind):
        if kind.name == "UTCTime":
            return (0, 473385600, 0xFFFFFFFF)[variant % 3]
        if kind.name == "date":
            return (ZclDate(114, 12, 25, 0xFF), ZclDate(0xFF, 0xFF, 1, 4))[variant % 2]
        if kind.name == "7 x uint8":
            return (1, 2, 3, 4, 5, 6, 7)
        if kind.name.startswith("int"):
            return -123456 if variant else 2**31 - 1
        return (1 << (8 * kind.size)) - 1 if variant else 0x5A % (1 << (8 * kind.size))
    if kind is _OCT:
        if variant == 2:
            return None
        if name in TEXT_OCTET_FIELDS:
            return "Tariff 1 £".encode() if variant else b""
        return b"\x00\x9b\xff" if variant else b"73941656880950804485"
    if kind is _REST:
        return b"\x01\x02"
    assert isinstance(kind, _ListSpec)
    n = 2 if variant else 1
    if isinstance(kind.elem, _Kind):
        return tuple(_value(kind.elem, name, variant) for _ in range(n))
    return tuple(_sample(kind.elem, variant) for _ in range(n))


@pytest.mark.parametrize("variant", [0, 1, 2])
def test_every_typed_command_round_trips(variant: int) -> None:
    comps = []
    for (cluster, _s2c, _cid), cls in sorted(typed_commands().items()):
        comps.append(GbzComponent.command(cluster, _sample(cls, variant), len(comps)))
    p = GbzPayload(tuple(comps))
    args = _round_trip(p)
    assert len(args["components"]) == len(typed_commands()) > 50
    assert list(_hex_leaves(args)) == []


def test_shape_of_a_typed_component() -> None:
    entries = (PriceMatrixEntry(1, 9600), PriceMatrixEntry(2, 10200))
    pm = PublishPriceMatrix(0, 473385600, 0, 1, 0, 1, 1, entries)
    tariff = PublishTariffInformation(
        0, 1, 2, 473385600, 0, b"Economy 7", 2, 0, 0, 826, 0x50, 22465, 0xFF, 1, 1000
    )
    p = GbzPayload(
        (
            GbzComponent.command(0x0700, tariff, 0, from_date_time=473385600),
            GbzComponent.command(0x0700, pm, 1),
        )
    )
    args = _round_trip(p)
    first = args["components"][0]
    assert first["cluster"] == "price"
    assert first["command"] == "Publish Tariff Information"
    assert first["from_date_time"] == "2015-01-01T00:00:00Z"
    assert first["body"]["tariff_label"] == "Economy 7"
    assert first["body"]["start_time"] == "2015-01-01T00:00:00Z"
    assert set(first) == {"cluster", "command", "from_date_time", "body"}
    assert args["components"][1]["body"]["entries"] == [
        {"tier_block_id": 1, "price": 9600},
        {"tier_block_id": 2, "price": 10200},
    ]
    # numbers are accepted for cluster and command, other spellings for names
    args["components"][0]["cluster"] = 0x0700
    args["components"][0]["command"] = 0x04  # Get Conversion Factor the other way
    args["components"][0]["direction"] = "server_to_client"
    args["components"][1]["command"] = "publish_price_matrix"
    assert build_gbz(args, CODE).encode() == p.encode()


def test_changing_one_argument_changes_exactly_its_field() -> None:
    entries = (PriceMatrixEntry(1, 9600), PriceMatrixEntry(2, 10200))
    p = GbzPayload(
        (GbzComponent.command(0x0700, PublishPriceMatrix(0, 7, 0, 1, 0, 1, 1, entries)),)
    )
    args = explain_gbz(p, CODE)
    args["components"][0]["body"]["entries"][1]["price"] = 0x01020304
    a, b = p.encode(), build_gbz(args, CODE).encode()
    diff = [i for i in range(len(a)) if a[i] != b[i]]
    assert len(a) == len(b)
    assert b[-4:] == bytes.fromhex("04030201") and diff and min(diff) >= len(a) - 4


_VALUES = [
    ZclValue(0x10, 1),
    ZclValue(0x10, 0xFF),
    ZclValue(0x08, 0xAB),
    ZclValue(0x1B, 0x11223344),
    ZclValue(0x25, 2**48 - 1),
    ZclValue(0x2B, -(2**31)),
    ZclValue(0x30, 3),
    ZclValue(0x31, 0x1234),
    ZclValue(0x38, bytes.fromhex("003C")),  # semi 1.0
    ZclValue(0x39, bytes.fromhex("0000C07F")),  # single NaN: kept as bits
    ZclValue(0x3A, bytes.fromhex("9A9999999999B93F")),  # double 0.1
    ZclValue(0x41, b"\x00\xdb\x12"),
    ZclValue(0x41, None),
    ZclValue(0x42, b"Critical Software"),
    ZclValue(0x42, b"\xff\x00"),
    ZclValue(0x43, b"\x01" * 300),
    ZclValue(0x44, "Übersicht".encode()),
    ZclValue(0x48, ZclSequence(0x21, (1, 2, 3))),
    ZclValue(0x50, ZclSequence(0x41, None)),
    ZclValue(0x51, ZclSequence(0x48, (ZclSequence(0x20, (7,)),))),
    ZclValue(0x4C, (ZclValue(0x20, 5), ZclValue(0x42, b"x"), ZclValue(0xE2, 1))),
    ZclValue(0x4C, None),
    ZclValue(0xE0, bytes((13, 5, 0xFF, 0))),
    ZclValue(0xE1, ZclDate(0xFF, 12, 25, 9)),
    ZclValue(0xE2, 473385600),
    ZclValue(0xE8, 0x0702),
    ZclValue(0xE9, 0x0610),
    ZclValue(0xEA, 0x12345678),
    ZclValue(0xF0, 0x00DB1234567890A0),
    ZclValue(0xF1, bytes(range(16))),
    ZclValue(0x00, None),
    ZclValue(0xFF, None),
]


def test_general_commands_and_every_value_type_round_trip() -> None:
    write = WriteAttributes(
        tuple(
            AttributeWriteRecord(0x0610 if i == 0 else 0x4000 + i, v) for i, v in enumerate(_VALUES)
        )
    )
    resp = ReadAttributesResponse(
        (
            AttributeReadRecord(0x0000, 0, ZclValue(0x25, 123456)),
            AttributeReadRecord(0x0001, 0x86),
            AttributeReadRecord(0x0307, 0, ZclValue(0x41, b"1234567890")),
            AttributeReadRecord(0x0206, 0, ZclValue(0x41, b"GFI \x00\xdb")),
        )
    )
    p = GbzPayload(
        (
            GbzComponent.command(0x0700, write, 0, server_to_client=False),
            GbzComponent.command(0x0702, resp, 1, server_to_client=True),
            GbzComponent.command(
                0x0702, ReadAttributes((0, 0x0307, 0xFFFF)), 2, server_to_client=False
            ),
            GbzComponent.command(
                0x0705,
                WriteAttributesResponse((AttributeStatusRecord(0),)),
                3,
                server_to_client=True,
            ),
            GbzComponent.command(
                0x0705,
                WriteAttributesResponse(
                    (AttributeStatusRecord(0x88, 1), AttributeStatusRecord(0x86, 0x7777))
                ),
                4,
                server_to_client=True,
            ),
            GbzComponent.command(0x0709, DefaultResponse(0x01, 0xC3), 5, server_to_client=True),
        )
    )
    args = _round_trip(p)
    values = [r["value"] for r in args["components"][0]["body"]["records"]]
    assert values[0] == {"type": "bool", "value": True}
    assert values[8] == {"type": "semi", "value": 1.0}
    assert values[9] == {"type": "single", "value": {"bits": 0x7FC00000}}
    assert values[10] == {"type": "double", "value": 0.1}
    assert values[11] == {"type": "octet string", "value": "00DB12"}
    assert values[13] == {"type": "character string", "value": "Critical Software"}
    assert values[14] == {"type": "character string", "value": {"hex": "FF00"}}
    assert values[23] == {"type": "date", "value": "*-12-25 (wd 9)"}
    assert values[24] == {"type": "UTCTime", "value": "2015-01-01T00:00:00Z"}
    assert values[28] == {"type": "IEEE address", "value": "00:DB:12:34:56:78:90:A0"}
    recs = args["components"][1]["body"]["records"]
    assert recs[0] == {
        "attribute_id": "Current Summation Delivered",
        "status": "Success",
        "value": {"type": "uint48", "value": 123456},
    }
    assert recs[1] == {
        "attribute_id": "Current Summation Received",
        "status": "Unsupported Attribute",
    }
    assert recs[2]["value"]["value"] == "1234567890"  # Site ID: an octet string holding text
    assert recs[3]["value"]["value"] == "4746492000DB"  # Current Meter ID: opaque
    assert args["components"][1]["direction"] == "server_to_client"
    assert args["components"][2]["body"] == {
        "attribute_ids": ["Current Summation Delivered", "Site ID", 65535]
    }
    assert args["components"][5]["body"] == {"command_id": 1, "status": "Unsupported Cluster"}


def test_headers_and_overrides_round_trip() -> None:
    pm = PublishPriceMatrix(0, 7, 0, 1, 0, 1, 1, ())
    raw = RawZclPayload(b"\x01\x02\x03")
    comps = (
        GbzComponent.command(0x0700, pm, 9, disable_default_response=True),  # sequence != index
        GbzComponent(0x0700, ZclHeader(0x0D, 1, 0x00, 0x1234), raw),  # manufacturer specific
        GbzComponent(0x0707, ZclHeader(0x01, 2, 0x00), raw),  # named, not modelled (Get Calendar)
        GbzComponent(0x0707, ZclHeader(0x09, 3, 0x77), raw),  # unnamed
        GbzComponent(0x0707, ZclHeader(0x00, 4, 0x77), raw),  # unnamed general
        GbzComponent(0x0707, ZclHeader(0x02, 5, 0x77), raw),  # reserved frame type
        GbzComponent(0x0700, ZclHeader(0xE9, 6, 0x05), pm),  # reserved bits, typed body
        GbzComponent(0x1234, ZclHeader(0x01, 7, 0x00), RawZclPayload(b"")),  # unnamed cluster
        GbzComponent(
            0x0702, ZclHeader(0x08, 8, 0x01), None, GbzCiphered(b"\x31" + bytes(20), 5, 3)
        ),
        GbzComponent(
            0x0702, ZclHeader(0x08, 9, 0x01), None, GbzCiphered(b"\x31" + bytes(20)), 0, 0x13
        ),
        GbzComponent(0x0702, ZclHeader(0x00, 10, 0x00), ReadAttributes((0,)), length=99),
    )
    p = GbzPayload(comps, count=3)
    args = _round_trip(p)
    c = args["components"]
    assert c[0]["sequence"] == 9 and c[0]["disable_default_response"] is True
    assert c[1]["manufacturer_code"] == 0x1234 and c[1]["body"] == {"raw": "010203"}
    assert c[2]["command"] == "Get Calendar"
    assert c[3]["command"] == 0x77 and c[3]["direction"] == "server_to_client"
    assert c[4]["frame_type"] == "general"
    assert c[5]["frame_control"] == 0x02
    assert c[6]["frame_control"] == 0xE9 and c[6]["command"] == "Publish Price Matrix"
    assert c[7]["cluster"] == 0x1234
    assert c[8]["frame_counter"] == 5 and c[8]["additional_header_control"] == 3
    assert c[9]["control"] == 0x13 and "frame_counter" not in c[9]
    assert c[10]["length"] == 99
    assert args["count"] == 3


def test_alerts_round_trip() -> None:
    cases = [
        GbzAlertHeader(0x8F66, 473385600, FutureDatedOutcome(0x00A3, 12345, 0x0700, 0x09, 0x04)),
        GbzAlertHeader(0x8F1C, 1, FirmwareImageHash(bytes(32))),
        GbzAlertHeader(0x81A0, 2, IntegrityWarning(0x0102)),
        GbzAlertHeader(0x1234, 3, RawAlertData(b"\xff")),
        GbzAlertHeader(0x8F30, 4),
    ]
    for a in cases:
        args = _round_trip(GbzPayload((), a))
        assert args["alert"]["timestamp"].endswith("Z")
    args = explain_gbz(GbzPayload((), cases[0]), CODE)
    assert args["alert"]["future_dated"]["cluster"] == "price"


# --------------------------------------------------------------------------- modelling


def _records() -> Iterator[type]:
    seen: set[type] = set()
    todo = list(typed_commands().values())
    while todo:
        cls = todo.pop()
        if cls in seen:
            continue
        seen.add(cls)
        yield cls
        for f in dataclasses.fields(cls):
            kind = f.metadata.get("zcl")
            if isinstance(kind, _ListSpec) and not isinstance(kind.elem, _Kind):
                todo.append(kind.elem)
            if isinstance(kind, _SubPayload):
                todo.extend(kind.table.values())


def test_every_octet_string_field_is_classified_text_or_opaque() -> None:
    assert not TEXT_OCTET_FIELDS & OPAQUE_OCTET_FIELDS
    octets = {
        f.name
        for cls in _records()
        for f in dataclasses.fields(cls)
        if f.metadata.get("zcl") is _OCT
    }
    assert octets == TEXT_OCTET_FIELDS | OPAQUE_OCTET_FIELDS
    assert OPAQUE_OCTET_FIELDS <= OPAQUE_KEYS


# --------------------------------------------------------------------------- bad arguments


def _good() -> dict[str, Any]:
    tariff = PublishTariffInformation(
        0, 1, 2, 473385600, 0, b"Std", 2, 0, 0, 826, 0x50, 22465, 0xFF, 1, 1000
    )
    p = GbzPayload(
        (
            GbzComponent.command(0x0702, ReadAttributes((0,)), 0, server_to_client=False),
            GbzComponent.command(0x0700, tariff, 1),
        )
    )
    return explain_gbz(p, CODE)


def _set(args: dict[str, Any], path: str, value: Any) -> None:
    keys = re.findall(r"[^.\[\]]+", path)
    obj: Any = args
    for k in keys[:-1]:
        obj = obj[int(k)] if k.isdigit() else obj[k]
    last = keys[-1]
    if value is _DELETE:
        del obj[last]
    else:
        obj[int(last) if last.isdigit() else last] = value


_DELETE = object()


@pytest.mark.parametrize(
    ("path", "value", "err_path", "says"),
    [
        ("components[1].cluster", "pricing", "components[1].cluster", "names: basic, time"),
        ("components[1].cluster", 0x10000, "components[1].cluster", "0..65535"),
        (
            "components[1].command",
            "Publish Prices",
            "components[1].command",
            "did you mean: Publish Price,",
        ),
        ("components[1].body.tariff_labl", "x", "components[1].body.tariff_labl", "tariff_label"),
        ("components[1].body.tariff_label", _DELETE, "components[1].body.tariff_label", "missing"),
        ("components[1].body.tariff_label", 12, "components[1].body.tariff_label", "expected text"),
        (
            "components[1].body.tariff_label",
            "x" * 255,
            "components[1].body.tariff_label",
            "at most 254",
        ),
        ("components[1].body.currency", "826", "components[1].body.currency", "integer 0..65535"),
        (
            "components[1].body.currency",
            70000,
            "components[1].body.currency",
            "out of range for uint16",
        ),
        ("components[1].body.currency", True, "components[1].body.currency", "got boolean"),
        (
            "components[1].body.standing_charge",
            1.5,
            "components[1].body.standing_charge",
            "integer",
        ),
        ("components[1].body.start_time", 473385600, "components[1].body.start_time", "ISO 8601"),
        (
            "components[1].body.start_time",
            "2015-01-01T00:00:00",
            "components[1].body.start_time",
            "UTC offset",
        ),
        (
            "components[1].body.start_time",
            "1999-12-31T23:59:59Z",
            "components[1].body.start_time",
            "outside UTCTime",
        ),
        ("components[1].from_date_time", "soon", "components[1].from_date_time", "ISO 8601"),
        ("components[1].sequence", 256, "components[1].sequence", "0..255"),
        ("components[1].direction", "client_to_server", "components[1].command", "other way"),
        ("components[1].colour", "red", "components[1].colour", "allowed: cluster, command"),
        (
            "components[0].body.attribute_ids[0]",
            "Current Summation",
            "components[0].body.attribute_ids[0]",
            "Current Summation Delivered",
        ),
        ("components[0].body.attribute_ids", 0, "components[0].body.attribute_ids", "list"),
        ("components[0].body", {"raw": "0G"}, "components[0].body.raw", "hex digits"),
        ("components[0].command", 0x77, "components[0].direction", "needed"),
        ("components[0].ciphered", "31", "components[0].body", "either a clear body"),
        ("components", {}, "components", "list of components"),
        ("count", -1, "count", "0..255"),
        ("alert", {"code": 1}, "alert.timestamp", "ISO 8601"),
    ],
)
def test_bad_arguments_name_the_path_and_what_is_allowed(
    path: str, value: Any, err_path: str, says: str
) -> None:
    args = _good()
    _set(args, path, value)
    with pytest.raises(GbzArgsError) as e:
        build_gbz(args, CODE)
    assert e.value.path == err_path
    assert str(e.value).startswith(f"{err_path}: ")
    assert says in str(e.value)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("2015-13", "ZCL date"),
        ("1899-01-01", "1900..2154"),
        ("2015-01-01 (Caturday)", "Monday"),
        ("2015-999-01", "0..254"),
    ],
)
def test_bad_dates(value: str, says: str) -> None:
    entries = ({"season_start_date": value, "week_id_ref": 1},)
    args = {
        "components": [
            {
                "cluster": "calendar",
                "command": "Publish Seasons",
                "body": {
                    "provider_id": 0,
                    "issuer_event_id": 0,
                    "issuer_calendar_id": 0,
                    "command_index": 0,
                    "total_number_of_commands": 1,
                    "entries": list(entries),
                },
            }
        ]
    }
    with pytest.raises(GbzArgsError) as e:
        build_gbz(args, CODE)
    assert e.value.path == "components[0].body.entries[0].season_start_date"
    assert says in str(e.value)


def test_a_command_gbcs_does_not_model_needs_a_raw_body() -> None:
    args = {"components": [{"cluster": "calendar", "command": "Get Calendar", "body": {}}]}
    with pytest.raises(GbzArgsError, match=r"^components\[0\]\.body: .*\{'raw': HEX\}"):
        build_gbz(args, CODE)
    args["components"][0]["body"] = {"raw": "00"}
    built = build_gbz(args, CODE)
    assert built.components[0].zcl == ZclHeader(0x01, 0, 0x00)


def test_wrong_typed_attribute_values() -> None:
    args = {
        "components": [
            {
                "cluster": "price",
                "command": "Write Attributes",
                "body": {
                    "records": [
                        {"attribute_id": "Tariff Label", "value": {"type": "uint8", "value": 256}}
                    ]
                },
            }
        ]
    }
    with pytest.raises(GbzArgsError) as e:
        build_gbz(args, CODE)
    assert e.value.path == "components[0].body.records[0].value.value"
    assert "0..255" in str(e.value)
    args["components"][0]["body"]["records"][0]["value"] = {"type": "uint9", "value": 1}
    with pytest.raises(
        GbzArgsError, match=r"records\[0\]\.value\.type: unknown ZCL data type 'uint9'"
    ):
        build_gbz(args, CODE)


def _leaves(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _leaves(v, (*path, i))
    yield path


@pytest.mark.parametrize("junk", [None, -1, "x", [], {}, 2**70, True, 1.5])
def test_any_wrong_argument_is_a_gbz_args_error(junk: Any) -> None:
    """Every key of every record replaced by junk: a built payload or GbzArgsError."""
    comps = [
        GbzComponent.command(c, _sample(cls, 1), 0) for (c, _, _), cls in typed_commands().items()
    ]
    comps.append(
        GbzComponent.command(
            0x0700,
            WriteAttributes(tuple(AttributeWriteRecord(1, v) for v in _VALUES)),
            0,
            server_to_client=False,
        )
    )
    errors = 0
    for comp in comps:
        good = explain_gbz(GbzPayload((comp,)), CODE)
        for path in _leaves(good):
            if not path:
                continue
            args = json.loads(json.dumps(good))
            obj = args
            for k in path[:-1]:
                obj = obj[k]
            obj[path[-1]] = junk
            try:
                build_gbz(args, CODE)
            except GbzArgsError as e:
                assert e.path and "\n" not in str(e)
                errors += 1
    assert errors > 500
