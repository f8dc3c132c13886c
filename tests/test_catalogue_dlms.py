"""Typed, lossless DLMS access-request arguments (emulator/headend/catalogue/dlms_args.py)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.headend.catalogue.dlms_args import (
    OPAQUE_POSITIONS,
    DlmsArgsError,
    Leaf,
    build_dlms,
    date_time_text,
    explain_dlms,
    iter_leaves,
    parse_date_time,
)
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import (
    AccessRequest,
    ActionSpec,
    GetProtectedAttributesRequest,
    GetSpec,
    GetWithSelectionSpec,
    Obis,
    ProtectedObject,
    ProtectionParameters,
    SetSpec,
    SetWithSelectionSpec,
    invoke_id_for_counter,
)
from gbcs.errors import GbcsDecodeError
from tests import interop
from tests.strategies import data_values
from tests.test_dlms import _SPECS

COUNTER = 0x1000
ECS37_CODE, ECS35A_CODE, ECS17B_CODE, CCS01_CODE, ECS70_CODE = (
    0x004A,
    0x0048,
    0x0027,
    0x0001,
    0x0062,
)
MIXED_CODE = 0x0027
ORIG = bytes.fromhex("90B3D51F30010000")
RECIP = bytes.fromhex("00DB1234567890A0")
UTC_OBJECT = bytes.fromhex("00005E2C64FF")  # 0-0:94.44.100.255
_HEXISH = re.compile(r"(?:[0-9A-F]{2})+")
_HEX_KINDS = {"opaque", "eui", "text", "bit-string", "tagged:octet-string"}


def _ln(text: str) -> Obis:
    return Obis.parse(text)


def _dt(hexstr: str) -> Data:
    return Data.octet_string(bytes.fromhex(hexstr))


def _request(specs: list[Any], data: list[Data], counter: int = COUNTER) -> AccessRequest:
    return AccessRequest(invoke_id_for_counter(counter), tuple(specs), tuple(data))


def _round_trip(p: AccessRequest, code: int, counter: int) -> dict[str, Any]:
    args = explain_dlms(p, code, counter)
    text = json.dumps(args)
    again = json.loads(text)
    assert again == args
    assert build_dlms(again, code, counter).encode() == p.encode()
    return args


def _schedule_entry(index: int, selector: int, hhmm: bytes) -> Data:
    return Data.structure(
        Data.long_unsigned(index),
        Data.boolean(True),
        Data.octet_string(bytes.fromhex("00000A8064FF")),
        Data.long_unsigned(selector),
        Data.octet_string(hhmm + b"\x00\x00"),
        Data.long_unsigned(0xFFFF),
        Data.bit_string("1111111"),
        Data.bit_string(""),
        Data.octet_string(bytes.fromhex("000001FFFF")),
        Data.octet_string(bytes.fromhex("FFFFFFFFFF")),
    )


def _ecs37() -> AccessRequest:
    value = Data.array(_schedule_entry(0, 1, b"\x11\x00"), _schedule_entry(1, 2, b"\x16\x00"))
    return _request([SetSpec(10, _ln("0-0:12.0.0.255"), 2)], [value])


def _range_read(obis: str = "0-0:99.98.0.255", start: int = 473299200) -> AccessRequest:
    restriction = Data.structure(
        Data.structure(
            Data.long_unsigned(1),
            Data.octet_string(UTC_OBJECT),
            Data.integer(2),
            Data.long_unsigned(0),
        ),
        Data.double_long_unsigned(start),
        Data.double_long_unsigned(473385600),
        Data.array(),
    )
    return _request([GetWithSelectionSpec(7, _ln(obis), 2, 1, restriction)], [Data.null()])


def _ecs17b(counter: int = COUNTER) -> AccessRequest:
    params = ProtectionParameters.gbcs(counter, ORIG, RECIP)
    req = GetProtectedAttributesRequest((ProtectedObject(1, _ln("0-0:94.44.34.10"), 2),), (params,))
    return _request([ActionSpec(30, _ln("0-0:43.2.8.255"), 1)], [req.to_data()], counter)


def _ccs01() -> AccessRequest:
    entry = Data.structure(
        Data.octet_string(RECIP),
        Data.enum(1),
        Data.octet_string(b"0123456789ABCDEF"),
        Data.enum(0),
    )
    specs = [
        ActionSpec(104, _ln("0-0:30.3.0.255"), 1),
        SetSpec(104, _ln("0-0:30.3.0.255"), 3),
        SetSpec(104, _ln("0-0:30.3.0.255"), 2),
    ]
    return _request(specs, [entry, Data.long_unsigned(90), Data.boolean(True)])


def _ecs70() -> AccessRequest:
    window = Data.structure(
        _dt("FFFFFFFFFFFFFFFFFF8000FF"),
        _dt("07DE0C1FFF173B0A008000FF"),
        _dt("07DF0101FF00000A008000FF"),
    )
    clock = _ln("0-0:1.0.0.255")
    specs = [SetSpec(8, clock, 9), ActionSpec(8, clock, 5), ActionSpec(8, clock, 4)]
    specs += [GetSpec(8, clock, 2), GetSpec(8, clock, 4)]
    return _request(specs, [Data.enum(5), window, Data.integer(0), Data.null(), Data.null()])


def _mixed() -> AccessRequest:
    """Values that do not fit their positions, untyped positions and odd headers."""
    specs = [
        SetSpec(1, _ln("0-0:94.44.0.1"), 2),  # stored long-unsigned; double-long given
        SetSpec(1, _ln("0-0:94.44.119.2"), 2),  # no stored type
        SetSpec(1, _ln("0-0:96.13.1.255"), 2),  # class 1 here: no such object
        SetSpec(9000, _ln("0-0:96.13.1.255"), 2),  # text kind, non-printable octets
        SetSpec(1, _ln("0-0:94.44.6.1"), 2),  # boolean with raw byte 01
        SetSpec(8, _ln("0-0:1.0.0.255"), 2),  # date-time of the wrong length
        GetSpec(1, _ln("0-0:94.44.0.0"), 2),  # a get with a non-null data item
        SetWithSelectionSpec(7, _ln("1-0:32.24.0.255"), 2, 9, Data.structure(Data.integer(1))),
        ActionSpec(99, _ln("1-2:3.4.5.6"), 7),  # unknown class and method
        SetSpec(8, _ln("0-0:1.0.0.255"), 9),  # clock base with a value outside the names
    ]
    data = [
        Data.double_long(-5),
        Data.octet_string(bytes.fromhex("07DF0103FF010000008000FF")),
        Data.visible_string("x"),
        Data.octet_string(b"\x00\x01"),
        Data.boolean(1),
        Data.octet_string(b"\x07\xdf"),
        Data.unsigned(3),
        Data.array(Data.long_unsigned(1)),
        Data.null(),
        Data.enum(77),
    ]
    return AccessRequest(
        0x12345678,
        tuple(specs),
        tuple(data),
        DlmsDateTime.from_bytes(bytes.fromhex("07E0020304050607F8FF88FF")),
    )


BUILT = {
    "ECS37": (ECS37_CODE, _ecs37),
    "ECS35a": (ECS35A_CODE, _range_read),
    "ECS17b": (ECS17B_CODE, _ecs17b),
    "CCS01": (CCS01_CODE, _ccs01),
    "ECS70": (ECS70_CODE, _ecs70),
    "mixed": (MIXED_CODE, _mixed),
}


# ---------------------------------------------------------------------------- round trips


@pytest.mark.parametrize("name", sorted(BUILT))
def test_built_payloads_round_trip(name: str) -> None:
    code, make = BUILT[name]
    _round_trip(make(), code, COUNTER)


def _rtds_commands() -> list[tuple[str, AccessRequest, int, int]]:
    out = []
    for v in interop.vectors():
        if v["direction"] != "command":
            continue
        try:
            msg = decode(bytes.fromhex(v["hex"]))
        except GbcsDecodeError:
            continue  # the two malformed parser-test vectors
        if isinstance(msg.payload, AccessRequest):
            out.append((v["id"], msg.payload, msg.message_code, msg.counter))
    return out


def test_every_rtds_dlms_command_round_trips_byte_identically() -> None:
    commands = _rtds_commands()
    assert len(commands) >= 180
    failed = []
    for vid, payload, code, counter in commands:
        args = json.loads(json.dumps(explain_dlms(payload, code, counter)))
        if build_dlms(args, code, counter).encode() != payload.encode():
            failed.append(vid)
    assert failed == []


def test_rtds_explanations_are_typed_not_tagged() -> None:
    """The only untyped values in the RTDS set are at the one object with no stored type."""
    tagged = set()
    for _, payload, code, counter in _rtds_commands():
        args = explain_dlms(payload, code, counter)
        assert "invoke_id" not in args and "date_time" not in args
        for leaf in iter_leaves(args, code, counter):
            if leaf.kind.startswith("tagged:"):
                item = args["items"][int(leaf.path[6 : leaf.path.index("]")])]
                tagged.add((item["obis"], leaf.kind))
    assert tagged == {
        ("0-0:94.44.119.2", "tagged:octet-string"),
        ("0-0:94.44.119.2", "tagged:long-unsigned"),
    }


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_SPECS, data_values), max_size=4), st.integers(0, 2**64 - 1))
def test_random_requests_round_trip(pairs: list[tuple[Any, Data]], counter: int) -> None:
    p = _request([s for s, _ in pairs], [d for _, d in pairs], counter)
    _round_trip(p, 0x0001, counter)


_TYPED_POSITIONS = [
    SetSpec(10, _ln("0-0:12.0.0.255"), 2),
    SetSpec(20, _ln("0-0:13.0.0.255"), 9),
    SetSpec(113, _ln("0-0:19.20.0.255"), 6),
    SetSpec(8, _ln("0-0:1.0.0.255"), 2),
    SetSpec(1, _ln("0-0:94.44.10.0"), 2),
    ActionSpec(30, _ln("0-0:43.2.8.255"), 1),
    ActionSpec(104, _ln("0-0:30.3.0.255"), 5),
    GetWithSelectionSpec(7, _ln("0-0:99.98.0.255"), 2, 1, Data.null()),
]


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(_TYPED_POSITIONS), data_values)
def test_any_value_in_a_typed_position_round_trips(spec: Any, value: Data) -> None:
    if isinstance(spec, GetWithSelectionSpec):
        spec = GetWithSelectionSpec(spec.class_id, spec.obis, 2, 1, value)
        value = Data.null()
    _round_trip(_request([spec], [value]), 0x0001, COUNTER)


@settings(max_examples=300, deadline=None)
@given(st.binary(min_size=12, max_size=12))
def test_date_time_text_is_lossless_for_all_octets(raw: bytes) -> None:
    try:
        dt = DlmsDateTime.from_bytes(raw)
    except GbcsDecodeError:  # pragma: no cover - every 12 octets decode
        return
    assert parse_date_time(date_time_text(dt)).to_bytes() == raw


# ---------------------------------------------------------------------------- shapes


def test_set_with_a_structure_has_named_typed_fields() -> None:
    args = _round_trip(_ecs37(), ECS37_CODE, COUNTER)
    assert args == {
        "items": [
            {
                "operation": "set",
                "class_id": 10,
                "obis": "0-0:12.0.0.255",
                "name": "MaximumDemandConfigurableTimePeriod",
                "attribute": 2,
                "value": [
                    {
                        "index": i,
                        "enable": True,
                        "script_logical_name": "0-0:10.128.100.255",
                        "script_selector": i + 1,
                        "switch_time": t,
                        "validity_window": 65535,
                        "exec_weekdays": "1111111",
                        "exec_specdays": "",
                        "begin_date": "0000-01-*",
                        "end_date": "*-*-*",
                    }
                    for i, t in ((0, "17:00:00.00"), (1, "22:00:00.00"))
                ],
            }
        ]
    }


def test_get_with_selection_reads_a_utc_range_and_omits_defaults() -> None:
    args = _round_trip(_range_read(), ECS35A_CODE, COUNTER)
    assert args == {
        "items": [
            {
                "operation": "get-with-selection",
                "class_id": 7,
                "obis": "0-0:99.98.0.255",
                "name": "Event Log",
                "attribute": 2,
                "selector": 1,
                "selection": {"from": "2014-12-31T00:00:00Z", "to": "2015-01-01T00:00:00Z"},
            }
        ]
    }
    # A non-default restricting object is carried, and types the bounds as its value.
    args["items"][0]["selection"] = {
        "restricting_object": {
            "class_id": 8,
            "logical_name": "0-0:1.0.0.255",
            "attribute_index": 2,
            "data_index": 0,
        },
        "from": "2015-01-01T00:00:00.00",
        "to": "*-*-*T*:*:*.*",
    }
    p = build_dlms(args, ECS35A_CODE, COUNTER)
    sel = p.specs[0].parameters
    assert sel.value[1] == _dt("07DF0101FF000000008000FF")
    assert sel.value[2] == _dt("FFFFFFFFFFFFFFFFFF8000FF")
    assert explain_dlms(p, ECS35A_CODE, COUNTER) == args


def test_protection_parameters_derive_from_the_counter() -> None:
    args = _round_trip(_ecs17b(), ECS17B_CODE, COUNTER)
    assert args["items"][0]["parameter"] == {
        "object_list": [{"class_id": 1, "logical_name": "0-0:94.44.34.10", "attribute_index": 2}],
        "protection_parameters": [
            {
                "protection_options": {
                    "originator_system_title": "90B3D51F30010000",
                    "recipient_system_title": "00DB1234567890A0",
                }
            }
        ],
    }
    # Same arguments, another counter: the transaction id follows it...
    other = build_dlms(args, ECS17B_CODE, COUNTER + 1)
    assert other.encode() == _ecs17b(COUNTER + 1).encode()
    # ...and a transaction id that is not the counter's is carried explicitly.
    args2 = explain_dlms(_ecs17b(COUNTER + 5), ECS17B_CODE, COUNTER)
    opts = args2["items"][0]["parameter"]["protection_parameters"][0]["protection_options"]
    assert opts["transaction_id"] == "04" + f"{COUNTER + 5:016X}"
    assert args2["invoke_id"] == invoke_id_for_counter(COUNTER + 5)


def test_mismatched_values_use_the_tagged_form() -> None:
    items = _round_trip(_mixed(), MIXED_CODE, COUNTER)
    values = [i.get("value", i.get("parameter")) for i in items["items"]]
    assert values[0] == {"type": "double-long", "value": -5}
    assert values[1] == {"type": "octet-string", "value": "07DF0103FF010000008000FF"}
    assert values[2] == {"type": "visible-string", "value": "x"}
    assert values[3] == {"type": "octet-string", "value": "0001"}
    assert values[4] == {"type": "boolean", "value": 1}
    assert values[5] == {"type": "octet-string", "value": "07DF"}
    assert values[6] == {"type": "unsigned", "value": 3}
    assert items["items"][7]["selection"] == {
        "type": "structure",
        "value": [{"type": "integer", "value": 1}],
    }
    assert values[8] is None
    assert values[9] == 77
    assert items["invoke_id"] == 0x12345678
    assert items["date_time"] == "2016-02-03T05:06:07.248+02:00[weekday=4]"


def test_date_time_text_forms() -> None:
    cases = {
        "07DF0103FF010000008000FF": "2015-01-03T01:00:00.00",
        "FFFFFFFFFFFFFFFFFF8000FF": "*-*-*T*:*:*.*",
        "FFFF0CFEFF0000000000000F": "*-12-254T00:00:00.00+00:00[status=0x0F]",
    }
    for raw, text in cases.items():
        assert date_time_text(DlmsDateTime.from_bytes(bytes.fromhex(raw))) == text
        assert parse_date_time(text).to_bytes().hex().upper() == raw
    dt = DlmsDateTime(2025, 6, 21, 6, 16, 32, 48, 0xFF, -60, 0x80)
    assert date_time_text(dt) == "2025-06-21T16:32:48.*+01:00[weekday=6][status=0x80]"
    assert parse_date_time("2025-06-21T16:32:48.*+01:00[weekday=6][status=0x80]") == dt
    assert parse_date_time("2025-06-21T16:32:48.00+00:00").deviation == 0
    assert parse_date_time("2025-12-254T00:00:00.00").day == 0xFE  # last day of month


# ---------------------------------------------------------------------------- opaque rule


def _check_no_hex_outside_opaque(args: dict[str, Any], leaves: list[Leaf]) -> None:
    for leaf in leaves:
        if isinstance(leaf.value, str) and _HEXISH.fullmatch(leaf.value):
            assert leaf.kind in _HEX_KINDS, leaf
        if leaf.kind == "opaque":
            field = leaf.path.rsplit(".", 1)[-1].split("[")[0]
            item = args["items"][int(leaf.path[6 : leaf.path.index("]")])]
            assert field in OPAQUE_POSITIONS or item["obis"] in OPAQUE_POSITIONS, leaf
    # Every string in the arguments is some leaf's value or a key/obis/name/date_time.
    leaf_paths = {leaf.path for leaf in leaves}

    def walk(v: Any, path: str) -> None:
        if isinstance(v, dict):
            for k, x in v.items():
                walk(x, f"{path}.{k}" if path else k)
        elif isinstance(v, list):
            for i, x in enumerate(v):
                walk(x, f"{path}[{i}]")
        elif isinstance(v, str) and _HEXISH.fullmatch(v):
            assert path in leaf_paths, path

    walk(args, "")


def test_no_hex_outside_opaque_positions_in_rtds() -> None:
    opaque_fields = set()
    for _, payload, code, counter in _rtds_commands():
        args = explain_dlms(payload, code, counter)
        leaves = list(iter_leaves(args, code, counter))
        _check_no_hex_outside_opaque(args, leaves)
        opaque_fields |= {
            leaf.path.rsplit(".", 1)[-1].split("[")[0] for leaf in leaves if leaf.kind == "opaque"
        }
    assert opaque_fields <= set(OPAQUE_POSITIONS) | {"value"}
    assert {"install_code", "link_key", "index"} <= opaque_fields


@pytest.mark.parametrize("name", sorted(BUILT))
def test_no_hex_outside_opaque_positions_in_built(name: str) -> None:
    code, make = BUILT[name]
    args = explain_dlms(make(), code, COUNTER)
    _check_no_hex_outside_opaque(args, list(iter_leaves(args, code, COUNTER)))


def test_leaf_kinds_name_typed_octets() -> None:
    args = explain_dlms(_ccs01(), CCS01_CODE, COUNTER)
    kinds = {leaf.path: leaf.kind for leaf in iter_leaves(args, CCS01_CODE, COUNTER)}
    assert kinds["items[0].parameter.mac_address"] == "eui"
    assert kinds["items[0].parameter.install_code"] == "opaque"
    assert args["items"][0]["parameter"]["install_code"] == "30313233343536373839414243444546"
    assert kinds["items[1].value"] == "long-unsigned"
    assert kinds["items[2].value"] == "boolean"


# ---------------------------------------------------------------------------- bad arguments


def _err(args: Any, code: int = ECS37_CODE) -> DlmsArgsError:
    with pytest.raises(DlmsArgsError) as e:
        build_dlms(args, code, COUNTER)
    return e.value


def _ecs37_args() -> dict[str, Any]:
    return explain_dlms(_ecs37(), ECS37_CODE, COUNTER)


def test_unknown_operation() -> None:
    args = _ecs37_args()
    args["items"][0]["operation"] = "write"
    e = _err(args)
    assert e.path == "items[0].operation"
    assert "unknown operation 'write'" in e.reason and "get-with-selection" in e.reason


def test_bad_obis() -> None:
    args = _ecs37_args()
    args["items"][0]["obis"] = "0-0:12.0.0"
    e = _err(args)
    assert e.path == "items[0].obis" and "A-B:C.D.E.F" in e.reason
    args["items"][0]["obis"] = "0-0:12.0.0.256"
    assert "0..255" in _err(args).reason
    args = _ecs37_args()
    args["items"][0]["value"][1]["script_logical_name"] = "nope"
    assert _err(args).path == "items[0].value[1].script_logical_name"


def test_wrong_value_type() -> None:
    args = _ecs37_args()
    args["items"][0]["value"][1]["switch_time"] = 1700
    e = _err(args)
    assert e.path == "items[0].value[1].switch_time"
    assert "hh:mm:ss.cc" in e.reason and "an integer" in e.reason
    args = _ecs37_args()
    args["items"][0]["value"][0]["enable"] = "yes"
    e = _err(args)
    assert e.path == "items[0].value[0].enable" and "true or false" in e.reason
    args = _ecs37_args()
    args["items"][0]["value"] = {"index": 1}
    assert _err(args).reason.startswith("expected a list")


def test_out_of_range() -> None:
    args = _ecs37_args()
    args["items"][0]["value"][0]["script_selector"] = 70000
    e = _err(args)
    assert e.path == "items[0].value[0].script_selector"
    assert "70000 out of range" in e.reason and "0..65535" in e.reason
    args = _ecs37_args()
    args["items"][0]["value"][0]["begin_date"] = "2025-300-01"
    e = _err(args)
    assert e.path == "items[0].value[0].begin_date" and "month 300 out of range" in e.reason
    args = _ecs37_args()
    args["items"][0]["attribute"] = 256
    assert _err(args).path == "items[0].attribute"


def test_missing_and_unknown_fields() -> None:
    args = _ecs37_args()
    del args["items"][0]["value"][0]["switch_time"]
    e = _err(args)
    assert e.path == "items[0].value[0].switch_time" and e.reason.startswith("missing")
    args = _ecs37_args()
    args["items"][0]["value"][0]["colour"] = 1
    e = _err(args)
    assert e.path == "items[0].value[0].colour" and "switch_time" in e.reason
    args = _ecs37_args()
    args["items"][0]["method"] = 1
    e = _err(args)
    assert e.path == "items[0].method" and "not a key of a set item" in e.reason
    assert _err({"items": [], "extra": 1}).path == "extra"
    assert _err({"items": "x"}).path == "items"


def test_bad_tagged_and_untyped_values() -> None:
    base = {"operation": "set", "class_id": 1, "obis": "0-0:94.44.119.2", "attribute": 2}
    e = _err({"items": [{**base, "value": 60}]})
    assert e.path == "items[0].value" and '{"type"' in e.reason
    e = _err({"items": [{**base, "value": {"type": "long-unsigend", "value": 60}}]})
    assert e.path == "items[0].value.type" and "long-unsigned" in e.reason
    e = _err({"items": [{**base, "value": {"type": "long-unsigned", "value": -1}}]})
    assert e.path == "items[0].value.value" and "out of range" in e.reason
    e = _err({"items": [{**base, "value": {"type": "octet-string", "value": "XYZ"}}]})
    assert e.path == "items[0].value.value" and "hex" in e.reason


def test_bad_date_time_text_names_the_path() -> None:
    args = explain_dlms(_ecs70(), ECS70_CODE, COUNTER)
    args["items"][1]["parameter"]["validity_interval_end"] = "2015-01-01 00:00"
    e = _err(args, ECS70_CODE)
    assert e.path == "items[1].parameter.validity_interval_end"
    assert "YYYY-MM-DDThh:mm:ss.cc" in e.reason
    args["items"][1]["parameter"]["validity_interval_end"] = "2015-01-01T00:00:00.00+999:00"
    assert "offset out of range" in _err(args, ECS70_CODE).reason


def test_unknown_enum_name_and_utc_bounds() -> None:
    args = explain_dlms(_ecs70(), ECS70_CODE, COUNTER)
    assert args["items"][0]["value"] == "radio-controlled"
    args["items"][0]["value"] = "sundial"
    e = _err(args, ECS70_CODE)
    assert e.path == "items[0].value" and "radio-controlled" in e.reason
    args = explain_dlms(_range_read(), ECS35A_CODE, COUNTER)
    args["items"][0]["selection"]["from"] = "1999-12-31T23:59:59Z"
    e = _err(args, ECS35A_CODE)
    assert e.path == "items[0].selection.from" and "out of range" in e.reason


def test_name_is_informational() -> None:
    args = _ecs37_args()
    args["items"][0]["name"] = "anything"
    assert build_dlms(args, ECS37_CODE, COUNTER).encode() == _ecs37().encode()


def test_explain_rejects_a_data_list_of_another_length() -> None:
    p = AccessRequest(invoke_id_for_counter(1), (GetSpec(1, _ln("0-0:96.1.1.255"), 2),), ())
    with pytest.raises(DlmsArgsError, match="one value per specification"):
        explain_dlms(p, 0x0001, 1)
