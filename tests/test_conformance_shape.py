"""Response-shape comparison and the RTDS case loader of the conformance harness."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from emulator.conformance.cases import (
    DEVICE_TYPES,
    ConformanceCase,
    ConformanceDataError,
    load_cases,
)
from emulator.conformance.shape import (
    Difference,
    compare,
    diff_shapes,
    plaintexts_of,
    shape_of,
    summarise,
)
from gbcs.asn1 import Asn1Payload, DerNode, TagClass, UniversalTag
from gbcs.axdr import Data, decode_data_bytes, encode_data
from gbcs.codec import GbcsMessage, build, decode
from gbcs.dlms import AccessResponse, ActionResult
from gbcs.gbz import GbzPayload
from gbcs.security import apply_mac, part_key_for, seal_part
from gbcs.zcl import AttributeReadRecord, DefaultResponse, ReadAttributesResponse
from keys.store import KeyStore
from tests import interop

# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def cases() -> dict[str, ConformanceCase]:
    """Cases by the last element of their id (``"ECS37_6.18.1_SUCCESS"``)."""
    path = interop.require_interop() / "vectors.json"
    return {c.id.rsplit("/", 1)[-1]: c for c in load_cases(path)}


@pytest.fixture(scope="module")
def keys() -> KeyStore:
    return KeyStore(interop.keys_dir())


def _rsp(cases: dict[str, ConformanceCase], name: str) -> GbcsMessage:
    return decode(cases[name].response)


def _redo(msg: GbcsMessage, **changes: object) -> GbcsMessage:
    """``msg`` with typed fields replaced, encoded and decoded again (old MAC/signature)."""
    return decode(replace(msg, raw=None, layout=None, **changes).encode())  # type: ignore[arg-type]


def _wheres(diffs: list[Difference]) -> list[str]:
    return [d.where for d in diffs]


# --------------------------------------------------------------------------- DLMS


@pytest.mark.interop
def test_ecs37_response_against_itself_has_no_difference(
    cases: dict[str, ConformanceCase],
) -> None:
    a = _rsp(cases, "ECS37_6.18.1_SUCCESS")
    b = _rsp(cases, "ECS37_6.18.1_SUCCESS")
    assert compare(a, b) == []
    assert summarise([]) == "conformant (no shape differences)"


@pytest.mark.interop
def test_ecs37_shape_is_exact(cases: dict[str, ConformanceCase]) -> None:
    assert shape_of(_rsp(cases, "ECS37_6.18.1_SUCCESS")) == {
        "envelope": "general-ciphering",
        "signature": "null",
        "header": {
            "cra": "response",
            "message_code": "0x004A (ECS37)",
            "counter": 1203,
            "originator": "00DB1234567890A0",
            "recipient": "90B3D51F30020000",
            "date_time": "absent",
            "other_information": {
                "srp_id": "absent",
                "srp_counter": "absent",
                "supplementary_originator_counter": "absent",
                "certificate": "absent",
            },
        },
        "payload": {
            "kind": "dlms-access-response",
            "dlms": {
                "invoke_id": "0x200004B3",
                "date_time": "absent",
                "request_specs": "absent",
                "results": [{"type": "set", "result": "0 (success)"}],
                "data": ["null-data"],
            },
        },
    }


@pytest.mark.interop
def test_ecs37_against_ecs57_names_message_code_and_payload(
    cases: dict[str, ConformanceCase],
) -> None:
    diffs = compare(
        _rsp(cases, "ECS37_6.18.1_SUCCESS"), _rsp(cases, "ECS57_6.18.2_ALL_OPTIONALS_SUCCESS")
    )
    assert diffs == [
        Difference("header.message_code", "0x004A (ECS37)", "0x005A (ECS57)"),
        Difference("header.counter", "1203", "1200"),
        Difference("payload.dlms.invoke_id", "0x200004B3", "0x200004B0"),
        Difference("payload.dlms.results", "1 item(s)", "3 item(s)"),
        Difference("payload.dlms.results[0].type", "set", "action"),
        Difference("payload.dlms.data", "1 item(s)", "3 item(s)"),
    ]
    assert str(diffs[0]) == "header.message_code: ours 0x004A (ECS37), theirs 0x005A (ECS57)"


@pytest.mark.interop
def test_changed_result_code_is_the_only_difference(
    cases: dict[str, ConformanceCase], keys: KeyStore
) -> None:
    rtds = _rsp(cases, "ECS57_6.18.2_ALL_OPTIONALS_SUCCESS")
    p = rtds.payload
    assert isinstance(p, AccessResponse)
    results = list(p.results)
    results[2] = ActionResult(3)
    ours = build(
        rtds.header,
        replace(p, results=tuple(results)),
        envelope=rtds.envelope,
        signature_form=rtds.signature_form,
    )
    ours = decode(apply_mac(ours, keys).encode())
    assert compare(ours, rtds) == [
        Difference("payload.dlms.results[2].result", "3 (read-write-denied)", "0 (success)")
    ]


def _ecs17c_with(cases: dict[str, ConformanceCase], first: Data) -> GbcsMessage:
    rtds = _rsp(cases, "ECS17c_4.16_SUCCESS")
    p = rtds.payload
    assert isinstance(p, AccessResponse)
    items = list(p.data[0].value)
    items[0] = first
    return _redo(rtds, payload=replace(p, data=(Data.structure(*items),)))


@pytest.mark.interop
def test_register_value_change_is_no_difference(cases: dict[str, ConformanceCase]) -> None:
    rtds = _rsp(cases, "ECS17c_4.16_SUCCESS")
    ours = _ecs17c_with(cases, Data.double_long_unsigned(987654321))
    assert ours.encode() != rtds.encode()
    assert compare(ours, rtds) == []


@pytest.mark.interop
def test_register_type_change_is_a_difference(cases: dict[str, ConformanceCase]) -> None:
    ours = _ecs17c_with(cases, Data.long_unsigned(5))
    assert compare(ours, _rsp(cases, "ECS17c_4.16_SUCCESS")) == [
        Difference("payload.dlms.data[0].structure[0]", "long-unsigned", "double-long-unsigned")
    ]


@pytest.mark.interop
def test_octet_string_length_is_structure_but_content_is_not(
    cases: dict[str, ConformanceCase],
) -> None:
    rtds = _rsp(cases, "ECS17c_4.16_SUCCESS")
    same_len = _ecs17c_with(cases, Data.octet_string(b"\x01\x02"))
    other_len = _ecs17c_with(cases, Data.octet_string(b"\x09\x09"))
    assert compare(same_len, other_len) == []
    assert compare(same_len, rtds) == [
        Difference("payload.dlms.data[0].structure[0]", "octet-string(2)", "double-long-unsigned")
    ]


@pytest.mark.interop
def test_array_length_can_be_ignored(cases: dict[str, ConformanceCase]) -> None:
    rtds = _rsp(cases, "ECS26f_6.2.5_SUCCESS")
    p = rtds.payload
    assert isinstance(p, AccessResponse)
    shorter = Data.array(p.data[0].value[0])
    ours = _redo(rtds, payload=replace(p, data=(shorter,)))
    assert compare(ours, rtds) == [
        Difference("payload.dlms.data[0].array", "1 item(s)", "2 item(s)")
    ]
    assert compare(ours, rtds, array_lengths=False) == []


@pytest.mark.interop
def test_date_time_presence_is_detected(cases: dict[str, ConformanceCase]) -> None:
    rtds = _rsp(cases, "ECS37_6.18.1_SUCCESS")
    stamp = _rsp(cases, "ECS17b_4.1.1_SINGLE_SUCCESS").date_time
    assert stamp is not None
    ours = _redo(rtds, header=replace(rtds.header, date_time=stamp))
    assert compare(ours, rtds) == [Difference("header.date_time", "present", "absent")]


@pytest.mark.interop
def test_other_information_structure_is_detected(cases: dict[str, ConformanceCase]) -> None:
    rtds = _rsp(cases, "ECS37_6.18.1_SUCCESS")
    other = replace(rtds.header.other, srp_id=bytes.fromhex("90B3D51F30010000"))
    ours = _redo(rtds, header=replace(rtds.header, other=other))
    assert compare(ours, rtds) == [
        Difference("header.other_information.srp_id", "present", "absent")
    ]


# --------------------------------------------------------------------------- encrypted parts


def _supplier_and_esme_keys(tmp_path: Path) -> KeyStore:
    """Only the Supplier's KA private key and the ESME's KA certificate."""
    src = interop.keys_dir()
    for name in ("90b3d51f30010000-ka.key", "00db1234567890a0-ka.pem"):
        shutil.copy(src / name, tmp_path / name)
    return KeyStore(tmp_path)


_ECS17B_PLAIN = {
    "decrypted": {
        "structure": [
            {
                "structure": [
                    "double-long-unsigned",
                    {"structure": ["integer", "enum"]},
                    "double-long-unsigned",
                    {"structure": ["integer", "enum"]},
                ]
            }
        ]
    }
}


@pytest.mark.interop
def test_ecs17b_response_decrypts_and_its_plaintext_shape_is_used(
    cases: dict[str, ConformanceCase], tmp_path: Path
) -> None:
    ks = _supplier_and_esme_keys(tmp_path)
    msg = _rsp(cases, "ECS17b_4.1.1_SINGLE_SUCCESS")
    pts = plaintexts_of(msg, ks)
    assert list(pts) == [0]
    assert len(pts[0]) == 26
    data = shape_of(msg, pts)["payload"]["dlms"]["data"]
    assert data[0]["structure"][1] == _ECS17B_PLAIN
    assert shape_of(msg)["payload"]["dlms"]["data"][0]["structure"][1] == "encrypted(26 bytes)"
    assert (
        compare(msg, _rsp(cases, "ECS17b_4.1.1_SINGLE_SUCCESS"), our_keys=ks, their_keys=ks) == []
    )


def _ecs17b_reencrypted(msg: GbcsMessage, keys: KeyStore) -> GbcsMessage:
    """The ECS17b response with its first register re-typed long-unsigned, re-encrypted."""
    p = msg.payload
    assert isinstance(p, AccessResponse)
    pts = plaintexts_of(msg, keys)
    plain = decode_data_bytes(pts[0])
    inner = list(plain.value[0].value)
    inner[0] = Data.long_unsigned(10)
    new_plain = encode_data(Data.structure(Data.structure(*inner)))
    blob = seal_part(part_key_for(msg.header, keys), msg.originator, new_plain)
    params = p.data[0].value[0]
    data = (Data.structure(params, Data.octet_string(blob)),)
    return _redo(msg, payload=replace(p, data=data))


@pytest.mark.interop
def test_encrypted_type_change_is_found_only_with_keys(
    cases: dict[str, ConformanceCase], tmp_path: Path
) -> None:
    ks = _supplier_and_esme_keys(tmp_path)
    rtds = _rsp(cases, "ECS17b_4.1.1_SINGLE_SUCCESS")
    ours = _ecs17b_reencrypted(rtds, ks)
    assert compare(ours, rtds, our_keys=ks, their_keys=ks) == [
        Difference(
            "payload.dlms.data[0].structure[1].decrypted.structure[0].structure[0]",
            "long-unsigned",
            "double-long-unsigned",
        )
    ]
    without = [
        Difference(
            "payload.dlms.data[0].structure[1]", "encrypted(24 bytes)", "encrypted(26 bytes)"
        )
    ]
    assert compare(ours, rtds) == without
    # A part decrypted on one side only is compared as encrypted on both.
    assert compare(ours, rtds, our_keys=ks) == without
    assert compare(ours, rtds, their_keys=ks) == without


@pytest.mark.interop
def test_gbz_ciphered_components_decrypt(cases: dict[str, ConformanceCase], keys: KeyStore) -> None:
    msg = _rsp(cases, "GCS16b_4.14_KRP_SUCCESS")
    comps = shape_of(msg, plaintexts_of(msg, keys))["payload"]["gbz"]["components"]
    assert len(comps) == 31
    assert comps[0] == {
        "cluster": "Prepayment (0x0705)",
        "command": "0x01 (Publish Prepay Snapshot)",
        "frame_type": "cluster-specific",
        "direction": "server to client",
        "manufacturer_specific": "no",
        "disable_default_response": "yes",
        "sequence": 0,
        "from_date_time": "absent",
        "encrypted": "yes",
        "body": {
            "decrypted": {
                "record": "Publish Prepay Snapshot",
                "fields": [
                    "snapshot_id",
                    "snapshot_time",
                    "total_snapshots_found",
                    "command_index",
                    "total_number_of_commands",
                    "snapshot_cause",
                    "snapshot_payload_type",
                    "snapshot_payload: DebtCreditStatus",
                ],
            }
        },
    }
    assert comps[2]["body"] == {
        "record": "Default Response",
        "answers": "0x07",
        "status": "0x8B (Not Found)",
    }
    assert shape_of(msg)["payload"]["gbz"]["components"][1]["body"] == "encrypted(40 bytes)"
    other = _rsp(cases, "GCS16b_4.14_KRP_SUCCESS")
    assert compare(msg, other, our_keys=keys, their_keys=keys) == []


# --------------------------------------------------------------------------- GBZ


def _gcs38_with(cases: dict[str, ConformanceCase], record: AttributeReadRecord) -> GbcsMessage:
    rtds = _rsp(cases, "GCS38_11.2_SUCCESS")
    p = rtds.payload
    assert isinstance(p, GbzPayload)
    comp = replace(p.components[0], body=ReadAttributesResponse((record,)))
    return _redo(rtds, payload=replace(p, components=(comp,)))


@pytest.mark.interop
def test_gbz_read_attributes_response_attribute_id_difference(
    cases: dict[str, ConformanceCase],
) -> None:
    rtds = _rsp(cases, "GCS38_11.2_SUCCESS")
    rec = rtds.payload.components[0].body.records[0]  # type: ignore[attr-defined]
    assert rec.attribute_id == 0x0206
    ours = _gcs38_with(cases, replace(rec, attribute_id=0x0207))
    assert compare(ours, rtds) == [
        Difference(
            "payload.gbz.components[0].body.records[0].attribute",
            "0x0207",
            "0x0206 (Current Meter ID)",
        )
    ]
    # Same attribute, same type, other value: no difference.
    same = _gcs38_with(cases, replace(rec, value=replace(rec.value, value=b"\xff" * 9)))
    assert compare(same, rtds) == []


@pytest.mark.interop
def test_gbz_read_attributes_response_status_difference(
    cases: dict[str, ConformanceCase],
) -> None:
    rtds = _rsp(cases, "GCS38_11.2_SUCCESS")
    ours = _gcs38_with(cases, AttributeReadRecord(0x0206, 0x86))
    where = "payload.gbz.components[0].body.records[0]"
    assert compare(ours, rtds) == [
        Difference(f"{where}.status", "0x86 (Unsupported Attribute)", "0x00 (Success)"),
        Difference(f"{where}.type", "absent", "octet string"),
    ]


@pytest.mark.interop
def test_gbz_component_command_difference_hides_the_body(
    cases: dict[str, ConformanceCase],
) -> None:
    rtds = _rsp(cases, "GCS38_11.2_SUCCESS")
    p = rtds.payload
    assert isinstance(p, GbzPayload)
    comp = p.components[0]
    zcl = replace(comp.zcl, command_id=0x0B)
    ours = _redo(
        rtds,
        payload=replace(p, components=(replace(comp, zcl=zcl, body=DefaultResponse(0, 0)),)),
    )
    assert compare(ours, rtds) == [
        Difference(
            "payload.gbz.components[0].command",
            "0x0B (Default Response)",
            "0x01 (Read Attributes Response)",
        )
    ]


@pytest.mark.interop
def test_payload_kind_difference_hides_the_payload(cases: dict[str, ConformanceCase]) -> None:
    diffs = compare(_rsp(cases, "ECS37_6.18.1_SUCCESS"), _rsp(cases, "GCS38_11.2_SUCCESS"))
    assert [d for d in diffs if d.where.startswith("payload")] == [
        Difference("payload.kind", "dlms-access-response", "gbz")
    ]


# --------------------------------------------------------------------------- ASN.1


def _set_child(node: DerNode, path: tuple[int, ...], new: DerNode | None) -> DerNode:
    """``node`` with the descendant at ``path`` replaced (``None``: removed)."""
    kids = list(node.children)
    if len(path) == 1:
        if new is None:
            del kids[path[0]]
        else:
            kids[path[0]] = new
    else:
        kids[path[0]] = _set_child(kids[path[0]], path[1:], new)
    return replace(node, value=tuple(kids))


def _cs02b_with(
    cases: dict[str, ConformanceCase], path: tuple[int, ...], new: DerNode | None
) -> tuple[GbcsMessage, GbcsMessage]:
    rtds = _rsp(cases, "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS")
    root = rtds.payload.nodes[0]  # type: ignore[attr-defined]
    payload = Asn1Payload.from_nodes(_set_child(root, path, new))
    return _redo(rtds, payload=payload), rtds


def _prim(number: int, content: bytes) -> DerNode:
    return DerNode(TagClass.UNIVERSAL, False, number, content)


CERT0 = "payload.asn1.der[0].SEQUENCE[1].SEQUENCE[3].SEQUENCE[0].SEQUENCE"


@pytest.mark.interop
def test_asn1_tag_change_is_a_difference(cases: dict[str, ConformanceCase]) -> None:
    ours, rtds = _cs02b_with(cases, (1, 3, 0, 1), _prim(UniversalTag.INTEGER, b"\x00"))
    assert compare(ours, rtds) == [Difference(f"{CERT0}[1]", "INTEGER", "ENUMERATED")]


@pytest.mark.interop
def test_asn1_child_count_is_a_difference(cases: dict[str, ConformanceCase]) -> None:
    ours, rtds = _cs02b_with(cases, (1, 3, 0, 5), None)
    assert compare(ours, rtds) == [Difference(CERT0, "5 item(s)", "6 item(s)")]


@pytest.mark.interop
def test_asn1_short_octet_string_length_is_structure(cases: dict[str, ConformanceCase]) -> None:
    ours, rtds = _cs02b_with(cases, (1, 3, 0, 2), _prim(UniversalTag.OCTET_STRING, b"\x01" * 9))
    assert compare(ours, rtds) == [Difference(f"{CERT0}[2]", "OCTET STRING(9)", "OCTET STRING(8)")]


@pytest.mark.interop
def test_asn1_integer_value_is_not_structure(cases: dict[str, ConformanceCase]) -> None:
    ours, rtds = _cs02b_with(cases, (1, 0), _prim(UniversalTag.INTEGER, b"\x01\x02\x03"))
    assert ours.payload.encode() != rtds.payload.encode()
    assert compare(ours, rtds) == []


@pytest.mark.interop
def test_asn1_typed_model_and_oids(cases: dict[str, ConformanceCase]) -> None:
    gcs28 = shape_of(_rsp(cases, "GCS28_6.11_SUCCESS"))["payload"]["asn1"]
    assert gcs28 == {
        "model": "SetTimeResponse",
        "der": [{"SEQUENCE": ["GeneralizedTime", "INTEGER"]}],
    }
    csr = shape_of(_rsp(cases, "CS02c_6.17_SUCCESS"))["payload"]["asn1"]["der"][0]
    algorithm = csr["SEQUENCE"][0]["SEQUENCE"][2]["SEQUENCE"][0]
    assert algorithm == {
        "SEQUENCE": [
            "OBJECT IDENTIFIER 1.2.840.10045.2.1",
            "OBJECT IDENTIFIER 1.2.840.10045.3.1.7",
        ]
    }
    # Long BIT STRINGs (the public key, the signature) show no length.
    assert csr["SEQUENCE"][0]["SEQUENCE"][2]["SEQUENCE"][1] == "BIT STRING"
    assert csr["SEQUENCE"][2] == "BIT STRING"


# --------------------------------------------------------------------------- commands, alerts


@pytest.mark.interop
def test_command_and_alert_shapes() -> None:
    def payload(vid: str) -> dict[str, object]:
        return shape_of(decode(bytes.fromhex(interop.by_id(vid)["hex"])))["payload"]

    cmd = payload("RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND")
    assert cmd["dlms"]["specs"] == [  # type: ignore[index]
        {"type": "set", "class_id": 10, "obis": "0-0:12.0.0.255", "attribute": 2}
    ]
    ecs_alert = "RTDS-4.5.0/1.1.1_ECS01a/ECS01a_1.1.1_8F66_FUTURE_DATED_TOU_BLOCK_SUCCESS_ALERT"
    assert payload(ecs_alert + "_CURRENCY_UNIT") == {
        "kind": "dlms-data-notification",
        "dlms": {
            "date_time": "absent",
            "alert_code": "0x8F66",
            "body": {"structure": ["long-unsigned", "octet-string(12)", "octet-string(19)"]},
        },
    }
    gcs_alert = (
        "RTDS-4.5.0/1.1.1_GCS01a/"
        "GCS01a_1.1.1_8F66_FUTURE_DATED_BLOCK_SUCCESS_ALERT_PUBLISH_BLOCK_THRESHOLDS"
    )
    assert payload(gcs_alert) == {
        "kind": "gbz",
        "gbz": {"alert": {"code": "0x8F66", "specific": "FutureDatedOutcome"}, "components": []},
    }


# --------------------------------------------------------------------------- every pair


@pytest.mark.interop
def test_every_rtds_response_matches_itself(cases: dict[str, ConformanceCase]) -> None:
    assert len(cases) >= 234
    for case in cases.values():
        a, b = decode(case.response), decode(case.response)
        assert compare(a, b) == [], case.id
        s = shape_of(a)
        assert json.loads(json.dumps(s)) == s


@pytest.mark.interop
def test_every_encrypted_rtds_response_matches_itself_decrypted(
    cases: dict[str, ConformanceCase], keys: KeyStore
) -> None:
    n = 0
    for case in cases.values():
        msg = decode(case.response)
        parts = msg.encrypted_parts()
        if not parts:
            continue
        n += 1
        assert len(plaintexts_of(msg, keys)) == len(parts), case.id
        assert compare(msg, decode(case.response), our_keys=keys, their_keys=keys) == []
    assert n >= 24


# --------------------------------------------------------------------------- diff mechanics


def test_differences_are_capped_with_a_count() -> None:
    diffs = diff_shapes({"a": ["x"] * 30}, {"a": ["y"] * 30})
    assert len(diffs) == 21
    assert diffs[0] == Difference("a[0]", "x", "y")
    assert diffs[19] == Difference("a[19]", "x", "y")
    assert diffs[20] == Difference("...", "10", "")
    assert str(diffs[20]) == "... 10 more"
    assert summarise(diffs) == (
        "30 shape difference(s): a[0]: ours x, theirs y; a[1]: ours x, theirs y; "
        "a[2]: ours x, theirs y; ..."
    )
    assert diff_shapes({"a": ["x"] * 3}, {"a": ["y"] * 3}, limit=1) == [
        Difference("a[0]", "x", "y"),
        Difference("...", "2", ""),
    ]


def test_missing_keys_and_container_briefs() -> None:
    ours = {"p": {"structure": ["enum", "enum"]}, "only_ours": "x"}
    theirs = {"p": {"array": ["enum"]}, "only_theirs": ["a", "b"]}
    assert diff_shapes(ours, theirs) == [
        Difference("p", "structure of 2", "array of 1"),
        Difference("only_ours", "x", "(missing)"),
        Difference("only_theirs", "(missing)", "2 item(s)"),
    ]
    decrypted = {"decrypted": {"structure": ["enum"]}}
    assert diff_shapes([decrypted], ["encrypted(3 bytes)"]) == [
        Difference("[0]", "decrypted: structure of 1", "encrypted(3 bytes)")
    ]
    assert (
        summarise(diff_shapes({"a": 1}, {"a": 2})) == "1 shape difference(s): a: ours 1, theirs 2"
    )


def test_discriminator_reports_alone() -> None:
    ours = {"kind": "gbz", "gbz": {"x": 1}}
    theirs = {"kind": "asn1", "asn1": {"y": 2}}
    assert diff_shapes(ours, theirs) == [Difference("kind", "gbz", "asn1")]


_SHAPES = st.recursive(
    st.sampled_from(["enum", "long-unsigned", "present", "absent"]) | st.integers(0, 3),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(["kind", "structure", "array", "a", "b"]), inner, max_size=3
        )
    ),
    max_leaves=12,
)


@given(_SHAPES, _SHAPES)
def test_diff_is_empty_exactly_for_equal_shapes(a: object, b: object) -> None:
    ab = diff_shapes(a, b, limit=1000)
    assert (ab == []) == (a == b)
    assert diff_shapes(a, a) == []
    ba = diff_shapes(b, a, limit=1000)
    assert sorted(d.where for d in ab) == sorted(d.where for d in ba)
    assert {(d.where, d.ours, d.theirs) for d in ab} == {(d.where, d.theirs, d.ours) for d in ba}


# --------------------------------------------------------------------------- load_cases


@pytest.mark.interop
def test_load_cases_counts_per_device_type() -> None:
    path = interop.require_interop() / "vectors.json"
    every = load_cases(path)
    ids = [c.id for c in every]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    minimum = {"ESME": 129, "GSME": 62, "GPF": 11, "CHF": 32}
    for dev in DEVICE_TYPES:
        only = load_cases(path, dev)
        assert len(only) >= minimum[dev], dev
        assert {c.device_type for c in only} == {dev}
        assert only == tuple(c for c in every if c.device_type == dev)


@pytest.mark.interop
def test_load_cases_fields(cases: dict[str, ConformanceCase]) -> None:
    c = cases["ECS37_6.18.1_SUCCESS"]
    vec = interop.by_id("RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS_COMMAND")
    assert c.id == "RTDS-4.5.0/6.18.1_ECS37/ECS37_6.18.1_SUCCESS"
    assert (c.rtds_case, c.use_case, c.device_type) == ("ECS37", "ECS37", "ESME")
    assert (c.variant, c.error_variant, c.message_code) == ("6.18.1_SUCCESS", False, 0x004A)
    assert c.command == bytes.fromhex(vec["hex"])
    assert decode(c.response).counter == decode(c.command).counter
    v = cases["CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS"]
    assert (v.rtds_case, v.use_case, v.variant) == (
        "CS02bSupplierBySupplier",
        "CS02b",
        "6.15.1_IMMEDIATE_SUCCESS",
    )
    e = cases["GCS31_14.1_ERROR"]
    assert (e.device_type, e.variant, e.error_variant) == ("GSME", "14.1_ERROR", True)


def _vec(vid: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": vid,
        "hex": "DF",
        "form": "full",
        "device_type": "ESME",
        "rtds_case": "ECS37",
        "message_code": "0x004A",
    }
    base.update(kw)
    return base


def test_load_cases_pairing_rules(tmp_path: Path) -> None:
    vecs = [
        _vec("R/x_ECS37/ECS37_1_SUCCESS_COMMAND", hex="0102"),
        _vec("R/x_ECS37/ECS37_1_SUCCESS_RESPONSE", hex="0304"),
        _vec("R/x_ECS37/ECS37_2_NO_RESPONSE_COMMAND"),
        _vec("R/x_ECS37/ECS37_3_PRE_COMMAND", form="pre-command"),
        _vec("R/x_ECS37/ECS37_3_PRE_RESPONSE"),
        _vec("R/x/PP_1_COMMAND", device_type="PPMID"),
        _vec("R/x/PP_1_RESPONSE", device_type="PPMID"),
        _vec("R/x/MIX_1_COMMAND", device_type="ESME (inferred)"),
        _vec("R/x/MIX_1_RESPONSE", device_type="ESME (inferred)"),
        _vec("R/x/ECS37_0_ERROR_COMMAND", message_code="0xFFFE"),
        _vec("R/x/ECS37_0_ERROR_RESPONSE"),
        "not a vector",
    ]
    path = tmp_path / "vectors.json"
    path.write_text(json.dumps(vecs))
    assert load_cases(path) == (
        ConformanceCase(
            id="R/x/ECS37_0_ERROR",
            rtds_case="ECS37",
            use_case="ECS37",  # 0xFFFE is not registered: the RTDS case name stands in
            device_type="ESME",
            variant="0_ERROR",
            error_variant=True,
            command=b"\xdf",
            response=b"\xdf",
            message_code=0xFFFE,
        ),
        ConformanceCase(
            id="R/x_ECS37/ECS37_1_SUCCESS",
            rtds_case="ECS37",
            use_case="ECS37",
            device_type="ESME",
            variant="1_SUCCESS",
            error_variant=False,
            command=b"\x01\x02",
            response=b"\x03\x04",
            message_code=0x004A,
        ),
    )
    assert load_cases(path, "GSME") == ()


def test_load_cases_rejects_bad_files(tmp_path: Path) -> None:
    with pytest.raises(ConformanceDataError, match="cannot read"):
        load_cases(tmp_path / "absent.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[{")
    with pytest.raises(ConformanceDataError, match="not valid JSON"):
        load_cases(bad)
    bad.write_text('{"id": 1}')
    with pytest.raises(ConformanceDataError, match="JSON list"):
        load_cases(bad)
    bad.write_bytes(b"\xff\xfe[")
    with pytest.raises(ConformanceDataError, match="not UTF-8"):
        load_cases(bad)
    pair = [_vec("A_COMMAND", hex="zz"), _vec("A_RESPONSE")]
    bad.write_text(json.dumps(pair))
    with pytest.raises(ConformanceDataError, match="A_COMMAND: 'hex' is not hexadecimal"):
        load_cases(bad)
    bad.write_text(json.dumps([_vec("A_COMMAND", message_code="74"), _vec("A_RESPONSE")]))
    assert load_cases(bad)[0].message_code == 0x74
    bad.write_text(json.dumps([_vec("A_COMMAND", message_code=None), _vec("A_RESPONSE")]))
    with pytest.raises(ConformanceDataError, match="bad message_code"):
        load_cases(bad)
    bad.write_text(json.dumps([_vec("A_COMMAND", rtds_case=""), _vec("A_RESPONSE")]))
    with pytest.raises(ConformanceDataError, match="no 'rtds_case'"):
        load_cases(bad)
    bad.write_text(json.dumps([_vec("A_COMMAND"), _vec("A_RESPONSE", hex=None)]))
    with pytest.raises(ConformanceDataError, match="A_RESPONSE: no 'hex' string"):
        load_cases(bad)
    with pytest.raises(ConformanceDataError, match="unknown device type 'PPMID'"):
        load_cases(bad, "PPMID")
    with pytest.raises(ConformanceDataError, match="cannot read"):
        load_cases(tmp_path)
