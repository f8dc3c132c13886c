"""Null-data written without a value in the DLMS structural arguments.

TOML (the descriptions' format) has no null, so ``{ type = "null-data" }`` (and
``{ type = "dont-care" }``) stands for the tagged null ``{"type": "null-data", "value":
null}``. CCS07, whose two actions take a null-data parameter, is described with it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from emulator.headend.catalogue.described import all_descriptions, explain_named
from emulator.headend.catalogue.dlms_args import DlmsArgsError, build_dlms, explain_dlms
from gbcs.axdr import DataType
from gbcs.dlms import AccessRequest

CCS07 = 0x00FE
COUNTER = 7


def _ccs07(parameter: Any) -> dict[str, Any]:
    return {
        "items": [
            {"operation": "action", "class_id": 104, "obis": "0-0:30.3.0.255", "method": 4}
            | {"parameter": parameter},
            {"operation": "action", "class_id": 104, "obis": "0-0:30.3.1.255", "method": 4}
            | {"parameter": parameter},
        ]
    }


def _encode(args: dict[str, Any], code: int = CCS07) -> bytes:
    return build_dlms(args, code, COUNTER).encode()


def test_null_data_without_a_value_builds_the_same_as_null() -> None:
    bare = _encode(_ccs07(None))
    assert _encode(_ccs07({"type": "null-data"})) == bare
    assert _encode(_ccs07({"type": "null-data", "value": None})) == bare
    # another parameter, given in the tagged form, encodes differently
    assert _encode(_ccs07({"type": "unsigned", "value": 0})) != bare
    # the position is typed null-data: a bare 0 is refused with the path
    with pytest.raises(DlmsArgsError, match=r"items\[0\]\.parameter: expected null"):
        _encode(_ccs07(0))


def test_explain_prints_the_null_back_as_null() -> None:
    payload = build_dlms(_ccs07({"type": "null-data"}), CCS07, COUNTER)
    assert isinstance(payload, AccessRequest)
    items = explain_dlms(payload, CCS07, COUNTER)["items"]
    assert [it["parameter"] for it in items] == [None, None]


def test_dont_care_without_a_value_inside_a_tagged_structure() -> None:
    value = {
        "type": "structure",
        "value": [{"type": "null-data"}, {"type": "dont-care"}, {"type": "unsigned", "value": 3}],
    }
    args = {"items": [{"operation": "action", "class_id": 104, "obis": "0-0:30.3.0.255"}]}
    args["items"][0] |= {"method": 4, "parameter": value}
    d = build_dlms(args, CCS07, COUNTER).data[0]
    assert d.tag == DataType.STRUCTURE
    assert [x.tag for x in d.value] == [DataType.NULL_DATA, DataType.DONT_CARE, DataType.UNSIGNED]


@pytest.mark.parametrize(
    ("element", "where", "what"),
    [
        ({"type": "unsigned"}, "value[0]", "tagged value"),  # a valued type needs its value
        ({"type": "null-data", "value": 5}, "value[0].value", "expected null for null-data"),
        ({"type": ["null-data"]}, "value[0]", "tagged value"),  # not a type name
        ({"type": "no-such-type"}, "value[0]", "tagged value"),
    ],
)
def test_bad_tagged_values_are_clear_errors_naming_the_path(
    element: Any, where: str, what: str
) -> None:
    with pytest.raises(DlmsArgsError) as e:
        _encode(_ccs07({"type": "structure", "value": [element]}))
    assert e.value.path == f"items[0].parameter.{where}"
    assert what in str(e.value)


def test_a_typed_null_data_position_refuses_another_object() -> None:
    with pytest.raises(DlmsArgsError, match=r"items\[0\]\.parameter: expected null"):
        _encode(_ccs07({"type": "unsigned"}))


def test_the_args_are_not_changed_by_a_build() -> None:
    args = _ccs07({"type": "null-data"})
    before = copy.deepcopy(args)
    _encode(args)
    assert args == before


def test_ccs07_is_described_and_recognised_only_with_null_parameters() -> None:
    desc = all_descriptions()["CCS07"]
    assert desc.params == ()
    assert {v.name for v in desc.values} >= {"device_log", "historic_device_log"}
    assert explain_named(desc, _ccs07(None)) == {}
    other = _ccs07({"type": "unsigned", "value": 0})
    assert explain_named(desc, other) is None  # another parameter: another request
    assert explain_named(desc, _ccs07(0)) is None  # does not even build
    one = _ccs07(None)
    one["items"][1]["obis"] = "0-0:30.3.0.255"  # the device log twice: not CCS07's request
    assert explain_named(desc, one) is None


@pytest.mark.interop
def test_ccs07_rtds_commands_match_the_description() -> None:
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import vectors

    desc = all_descriptions()["CCS07"]
    refs = [
        v
        for v in vectors()
        if v["direction"] == "command"
        and v.get("rtds_case") == "CCS07"
        and v["form"] != "malformed"
    ]
    assert refs
    for v in refs:
        assert explain_named(desc, explain_frame(bytes.fromhex(v["hex"]))["args"]) == {}
