"""Typed, lossless arguments of ASN.1 command payloads (emulator.headend.catalogue.asn1_args)."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.asn1_handlers import HANDLED_CODES
from devices.credentials import (
    CellId,
    CellKeyUsage,
    CellUsage,
    Replacement,
    SeqNumberChange,
    SpecialistSeq,
    UpdateCredentialsCommand,
)
from emulator.headend.catalogue.asn1_args import (
    GENERIC_KEY,
    OPAQUE_GBCS_TYPES,
    TYPED_CODES,
    Asn1ArgsError,
    Leaf,
    asn1_form,
    build_asn1,
    describe_asn1,
    explain_asn1,
    iter_leaves,
)
from gbcs.asn1 import (
    Asn1Payload,
    DerNode,
    SetTimeCommand,
    TagClass,
    decode_asn1,
    der_integer,
    der_octet_string,
    der_oid,
    der_sequence,
)
from gbcs.codec import decode
from gbcs.firmware import ActivateFirmwareCommand
from gbcs.payload import PayloadKind
from gbcs.usecase_table import ROWS
from keys.roles import RemotePartyRole
from tests import interop
from tests.test_asn1 import DER_TREES

# --------------------------------------------------------------------------- helpers

# A stand-in certificate: any SEQUENCE is carried opaquely (the content is not read).
CERT = der_sequence(der_integer(0x1234567890), der_oid("1.2.840.10045.4.3.2")).encode()
CERT_HEX = CERT.hex().upper()
EUI = "00DB12345678909A"
HEX_RE = re.compile(r"(?:[0-9A-F]{2})*\Z")
ISO_RE = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d*[1-9])?Z\Z")


def payload(hex_text: str, code: int) -> Asn1Payload:
    raw = bytes.fromhex(hex_text)
    return decode_asn1(raw, 0, len(raw), "payload", code, cra=1)


def round_trip(p: Asn1Payload, code: int) -> dict[str, Any]:
    """explain -> JSON text -> build reproduces ``p``; returns the arguments."""
    args = explain_asn1(p, code)
    text = json.dumps(args)
    back = build_asn1(json.loads(text), code)
    assert back.encode() == p.encode()
    assert back == p  # same typed model (CS06 / GCS28) as the codec's decode
    return args


def json_only(value: Any) -> bool:
    if value is None or isinstance(value, bool | int | str):
        return True
    if isinstance(value, list):
        return all(json_only(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and json_only(v) for k, v in value.items())
    return False


def rtds_asn1_commands() -> list[tuple[str, int, Asn1Payload]]:
    """(id, message code, payload) of every decodable ASN.1 command (skips without data)."""
    out = []
    for v in interop.vectors():
        if v["direction"] != "command":
            continue
        try:
            msg = decode(bytes.fromhex(v["hex"]))
        except Exception:  # the two deliberately malformed vectors
            continue
        if msg.payload.kind is PayloadKind.ASN1:
            out.append((v["id"], msg.message_code, msg.payload))
    return out


# --------------------------------------------------------------------------- RTDS


def test_rtds_asn1_commands_reproduced_byte_identically_from_typed_args() -> None:
    cases = rtds_asn1_commands()
    assert len(cases) >= 50
    generic = []
    for vid, code, p in cases:
        args = round_trip(p, code)
        if asn1_form(args) != "typed":
            generic.append(vid)
    assert generic == [], f"RTDS commands explained only generically: {generic}"
    assert {code for _, code, _ in cases} <= TYPED_CODES


def test_rtds_every_scalar_argument_is_real() -> None:
    """Changing one typed argument changes the built payload in exactly that field."""
    changed = 0
    for _, code, p in rtds_asn1_commands():
        args = explain_asn1(p, code)
        for leaf in list(iter_leaves(args, code)):
            new = _mutate(leaf)
            if new is None:
                assert leaf.kind == "opaque"
                continue
            mutated = _set(args, leaf.path, new)
            built = build_asn1(mutated, code)
            assert built.encode() != p.encode(), leaf.path
            assert explain_asn1(built, code) == mutated, leaf.path
            changed += 1
    assert changed > 200


def test_rtds_opaque_octets_only_where_gbcs_carries_opaque_octets() -> None:
    kinds: set[tuple[str, str | None]] = set()
    for _, code, p in rtds_asn1_commands():
        args = explain_asn1(p, code)
        for leaf in iter_leaves(args, code):
            check_leaf(leaf)
            kinds.add((leaf.kind, leaf.gbcs_type))
    assert ("opaque", "Certificate") in kinds and ("opaque", "ImageHash") in kinds
    assert ("eui", None) in kinds


def _mutate(leaf: Leaf) -> Any:
    v = leaf.value
    if leaf.kind == "integer":
        return v + 1
    if leaf.kind == "enum":
        return 99 if v != 99 else 98  # a value without a name: still typed
    if leaf.kind == "time":
        t = datetime.strptime(v, "%Y-%m-%dT%H:%M:%SZ") + timedelta(seconds=1)
        return t.strftime("%Y-%m-%dT%H:%M:%SZ")
    if leaf.kind == "eui":
        return v[:-1] + ("0" if v[-1] != "0" else "1")
    if leaf.kind == "key_usage":
        return "key_cert_sign" if v != "key_cert_sign" else "digital_signature"
    return None


def _set(args: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(args)
    steps = re.findall(r"\.(\w+)|\[(\d+)\]", path.removeprefix("args"))
    target: Any = out
    for name, index in steps[:-1]:
        target = target[name] if name else target[int(index)]
    name, index = steps[-1]
    target[name if name else int(index)] = value
    return out


def check_leaf(leaf: Leaf) -> None:
    """The opaque rule: hex only for GBCS opaque types; every other value typed."""
    v = leaf.value
    if leaf.kind == "opaque":
        assert leaf.gbcs_type in OPAQUE_GBCS_TYPES, leaf
        assert isinstance(v, str) and HEX_RE.match(v), leaf
    elif leaf.kind == "eui":
        assert isinstance(v, str) and re.fullmatch(r"[0-9A-F]{16}", v), leaf
    elif leaf.kind == "integer":
        assert isinstance(v, int) and not isinstance(v, bool), leaf
    elif leaf.kind == "enum":
        assert isinstance(v, int) or re.fullmatch(r"[a-z][a-z0-9_]*", v), leaf
    elif leaf.kind == "time":
        assert isinstance(v, str) and ISO_RE.match(v), leaf
    elif leaf.kind == "key_usage":
        names = [v] if isinstance(v, str) else v
        assert all(re.fullmatch(r"[a-z_]+", n) for n in names), leaf
    else:
        raise AssertionError(f"unexpected kind in typed arguments: {leaf}")
    if leaf.kind != "opaque":
        assert leaf.gbcs_type is None, leaf


# --------------------------------------------------------------------------- coverage


def _asn1_command_codes() -> set[int]:
    return {r[0] for r in ROWS if r[5] == "command" and (r[11] == "asn1" or 0x100 <= r[0] < 0x10A)}


def test_every_asn1_command_has_a_typed_schema() -> None:
    assert _asn1_command_codes() <= TYPED_CODES
    assert set(HANDLED_CODES) <= TYPED_CODES
    for code in TYPED_CODES:
        d = describe_asn1(code)
        assert d is not None and d["use_case"] and json_only(d)
    assert describe_asn1(0x0001) is None


def _opaque_fields(fields: list[dict[str, Any]], path: str) -> Iterator[tuple[str, str]]:
    for f in fields:
        yield from _opaque_schema(f, f"{path}.{f['name']}")


def _opaque_schema(t: dict[str, Any], path: str) -> Iterator[tuple[str, str]]:
    if t["type"] == "opaque":
        yield path, t["gbcs_type"]
    elif t["type"] == "record":
        yield from _opaque_fields(t["fields"], path)
    elif t["type"] == "list":
        yield from _opaque_schema(t["items"], f"{path}[]")


def test_opaque_rule_in_the_schemas() -> None:
    """The complete list of opaque arguments: certificates, image hash, key material."""
    found: set[tuple[str, str]] = set()
    for code in TYPED_CODES:
        d = describe_asn1(code)
        assert d is not None
        found |= set(_opaque_fields(d["fields"], "args"))
    assert found == {
        ("args.certificate", "Certificate"),  # CS02d, CS03C
        ("args.replacements[].certificate", "Certificate"),  # CS02b/g
        ("args.certification_path_certificates[]", "Certificate"),  # CS02b/g
        ("args.manufacturer_image_hash", "ImageHash"),  # CS06
        ("args.authorising_remote_party_control.plaintext_symmetric_key", "KeyMaterial"),
    }


# --------------------------------------------------------------------------- typed, no data

# DER as the RTDS commands carry it, written out by hand from the GBCS structures.
KNOWN = [
    (
        0x000D,
        {
            "join_method_and_role": "method_a_initiator",
            "entity_id": EUI,
            "device_type": "hcalcs",
            "certificate": None,
        },
        "3010020100040800DB12345678909A020104",
    ),
    (0x000F, {"entity_id": "0102030405060708"}, "04080102030405060708"),
    (0x0013, {}, "0500"),
    (0x0129, {}, "0500"),
    (0x000A, {"key_usage": "digital_signature"}, "300403020780"),
    (0x000C, {"key_usage": "key_agreement"}, "300403020308"),
    (
        0x007F,
        {
            "validity_interval_start": "2014-12-31T23:30:00Z",
            "validity_interval_end": "2015-01-01T00:30:00Z",
        },
        "3022180F32303134313233313233333030305A180F32303135303130313030333030305A",
    ),
    (
        0x008C,
        {
            "device_log_entries": [
                {"device_id": "0011223344556677", "device_type": "ppmid"},
                {"device_id": "8899AABBCCDDEEFF", "device_type": "type_2"},
            ]
        },
        "3020301E300D04080011223344556677020105300D04088899AABBCCDDEEFF020106",
    ),
    (
        0x0008,
        {
            "authorising_remote_party_ta_cell_identifier": {
                "remote_party_role": "access_control_broker",
                "key_usage": "key_agreement",
                "cell_usage": None,
            },
            "remote_party_roles_credentials_required": ["supplier", "network_operator"],
        },
        "30113007020104030203083006020102020103",
    ),
    (
        0x0012,
        {
            "manufacturer_image_hash": "AA" * 32,
            "originator_counter": 1000,
            "execution_date_time": None,
        },
        "3026" + "0420" + "AA" * 32 + "020203E8",
    ),
]


@pytest.mark.parametrize(("code", "args", "hex_text"), KNOWN, ids=[f"{c:04X}" for c, *_ in KNOWN])
def test_typed_args_build_the_gbcs_der(code: int, args: dict[str, Any], hex_text: str) -> None:
    built = build_asn1(args, code)
    assert built.encode().hex().upper() == hex_text.upper()
    assert explain_asn1(built, code) == args
    round_trip(built, code)


def test_cs06_and_gcs28_build_the_gbcs_typed_models() -> None:
    p = build_asn1(
        {
            "manufacturer_image_hash": "00" * 32,
            "originator_counter": 7,
            "execution_date_time": "2030-01-15T10:00:00+01:00",
        },
        0x0012,
    )
    assert p.typed == ActivateFirmwareCommand(bytes(32), 7, datetime(2030, 1, 15, 9, tzinfo=UTC))
    assert explain_asn1(p, 0x0012)["execution_date_time"] == "2030-01-15T09:00:00Z"
    t = build_asn1(
        {
            "validity_interval_start": "2015-01-01T00:00:00Z",
            "validity_interval_end": "2015-01-02T00:00:00Z",
        },
        0x007F,
    )
    assert isinstance(t.typed, SetTimeCommand)


def _cs02b_args(**control: Any) -> dict[str, Any]:
    base = {
        "credentials_replacement_mode": "any_except_abnormal_root_by_recovery",
        "plaintext_symmetric_key": "000102030405060708090A0B0C0D0E0F",
        "apply_time_based_cpv_checks": "disapply",
        "authorising_remote_party_ta_cell_identifier": {
            "remote_party_role": "recovery",
            "key_usage": "digital_signature",
            "cell_usage": None,
        },
        "authorising_remote_party_seq_number": 7000,
        "new_remote_party_floor_seq_number": 12,
        "new_remote_party_specialist_floor_seq_number": [
            {"seq_number_usage": "prepayment_top_up", "seq_number": 5}
        ],
        "other_remote_party_seq_number_changes": [
            {
                "remote_party_role": "supplier",
                "floor_seq_number": 9,
                "specialist_floor_seq_number": [
                    {"seq_number_usage": "prepayment_top_up", "seq_number": 3}
                ],
            },
            {
                "remote_party_role": "network_operator",
                "floor_seq_number": 0,
                "specialist_floor_seq_number": None,
            },
        ],
    }
    base.update(control)
    return {
        "authorising_remote_party_control": base,
        "replacements": [
            {
                "certificate": CERT_HEX,
                "target_trust_anchor_cell": {
                    "remote_party_role": "supplier",
                    "key_usage": "key_agreement",
                    "cell_usage": "prepayment_top_up",
                },
            }
        ],
        "certification_path_certificates": [CERT_HEX, CERT_HEX],
        "execution_date_time": "2030-06-01T12:00:00Z",
    }


def test_cs02b_matches_the_device_side_encoder() -> None:
    """Every field of CS02b, checked against devices.credentials' own encoder."""
    built = build_asn1(_cs02b_args(), 0x0108)
    model = UpdateCredentialsCommand(
        mode=8,
        authorising_seq=7000,
        replacements=(
            Replacement(
                CERT,
                CellId.of(
                    RemotePartyRole.SUPPLIER,
                    CellKeyUsage.KEY_AGREEMENT,
                    CellUsage.PREPAYMENT_TOP_UP,
                ),
            ),
        ),
        path_certificates=(CERT, CERT),
        authorising_cell=CellId.of(RemotePartyRole.RECOVERY, CellKeyUsage.DIGITAL_SIGNATURE),
        apply_time_checks=False,
        new_floor=12,
        new_specialist=(SpecialistSeq(0, 5),),
        other_changes=(
            SeqNumberChange(2, 9, (SpecialistSeq(0, 3),)),
            SeqNumberChange(3, 0),
        ),
        execution_time=datetime(2030, 6, 1, 12, tzinfo=UTC),
        plaintext_symmetric_key=bytes(range(16)),
    )
    assert built.encode() == model.to_der().encode()
    assert explain_asn1(built, 0x0108) == _cs02b_args()
    round_trip(built, 0x0108)


def test_message_code_defaults() -> None:
    args = _cs02b_args()
    del args["authorising_remote_party_control"]["credentials_replacement_mode"]
    built = build_asn1(args, 0x0102)
    mode = explain_asn1(built, 0x0102)["authorising_remote_party_control"]
    assert mode["credentials_replacement_mode"] == "supplier_by_supplier"
    join = build_asn1({"entity_id": EUI, "device_type": "ppmid"}, 0x00AF)
    assert explain_asn1(join, 0x00AF)["join_method_and_role"] == "method_c"
    # A mode that disagrees with the code is kept (lossless), not corrected.
    odd = build_asn1(_cs02b_args(credentials_replacement_mode="acb_by_acb"), 0x0102)
    assert (
        explain_asn1(odd, 0x0102)["authorising_remote_party_control"][
            "credentials_replacement_mode"
        ]
        == "acb_by_acb"
    )


def test_inputs_are_normalised_outputs_canonical() -> None:
    built = build_asn1(
        {
            "join_method_and_role": 0,
            "entity_id": "00:db:12:34:56:78:90:9a",
            "device_type": "Type-2",
        },
        0x000D,
    )
    assert explain_asn1(built, 0x000D) == {
        "join_method_and_role": "method_a_initiator",
        "entity_id": EUI,
        "device_type": "type_2",
        "certificate": None,
    }


def test_unnamed_values_stay_integers_and_round_trip() -> None:
    built = build_asn1({"entity_id": EUI, "device_type": 42, "join_method_and_role": 9}, 0x000D)
    args = round_trip(built, 0x000D)
    assert args["device_type"] == 42 and args["join_method_and_role"] == 9


def test_time_text_kept_exactly() -> None:
    """Fractional seconds are kept as encoded (CS02b execution time)."""
    args = _cs02b_args()
    args["execution_date_time"] = "2030-06-01T12:00:00.25Z"
    built = build_asn1(args, 0x0108)
    assert b"20300601120000.25Z" in built.encode()
    assert explain_asn1(built, 0x0108)["execution_date_time"] == "2030-06-01T12:00:00.25Z"


def test_key_usage_lists() -> None:
    built = build_asn1({"key_usage": ["digital_signature", "key_agreement"]}, 0x000A)
    assert built.encode().hex().upper() == "300403020388"
    assert explain_asn1(built, 0x000A) == {"key_usage": ["digital_signature", "key_agreement"]}
    empty = build_asn1({"key_usage": []}, 0x000A)
    assert round_trip(empty, 0x000A) == {"key_usage": []}


# --------------------------------------------------------------------------- generic fallback


@pytest.mark.parametrize(
    ("code", "hex_text", "why"),
    [
        (0x000D, "308200100201000408" + EUI + "020104", "non-minimal length form"),
        (0x000D, "300F0201000407" + EUI[:14] + "020104", "EUI of 7 octets"),
        (0x000A, "300403020480", "key usage with trailing zero bits"),
        (0x0013, "0101FF", "not NULL"),
        (0x000F, "0408" + EUI + "0500", "two TLVs"),
        (0x000D, "30100201FF0408" + EUI + "020104", "negative join method"),
        (0x0001, "3003020105", "no schema for the code"),
    ],
)
def test_payloads_the_schema_does_not_fit_fall_back_losslessly(
    code: int, hex_text: str, why: str
) -> None:
    raw = bytes.fromhex(hex_text)
    p = Asn1Payload(raw)
    args = explain_asn1(p, code)
    assert asn1_form(args) == "generic", why
    assert build_asn1(json.loads(json.dumps(args)), code).encode() == raw


def test_generic_form_shape() -> None:
    raw = bytes.fromhex(
        "30820026"  # non-minimal length
        "020105"
        "0101FF"
        "0500"
        "0603550403"
        "130445333537"
        "8302ABCD"
        "170D3136303430363030303030305A"
    )
    args = explain_asn1(Asn1Payload(raw), 0x0001)
    assert args == {
        GENERIC_KEY: [
            {
                "tag": "SEQUENCE",
                "children": [
                    {"tag": "INTEGER", "value": 5},
                    {"tag": "BOOLEAN", "value": True},
                    {"tag": "NULL", "value": None},
                    {"tag": "OBJECT IDENTIFIER", "value": "2.5.4.3"},
                    {"tag": "PrintableString", "value": "E357"},
                    {"tag": "[3]", "hex": "ABCD"},
                    {"tag": "UTCTime", "value": "2016-04-06T00:00:00Z"},
                ],
                "length_octets": 2,
            }
        ]
    }
    assert build_asn1(args, 0x0001).encode() == raw
    kinds = {leaf.kind for leaf in iter_leaves(args, 0x0001)}
    assert kinds == {"der-value", "der-hex"}


def _times_and_strings() -> st.SearchStrategy[DerNode]:
    digits = st.text("0123456789", min_size=1, max_size=3).filter(lambda s: s[-1] != "0")
    gtime = st.builds(
        lambda d, f: DerNode(
            TagClass.UNIVERSAL,
            False,
            24,
            (d.strftime("%Y%m%d%H%M%S") + (f and "." + f) + "Z").encode(),
        ),
        st.datetimes(min_value=datetime(1000, 1, 1)),
        st.one_of(st.just(""), digits),
    )
    utime = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(2049, 12, 31)).map(
        lambda d: DerNode(TagClass.UNIVERSAL, False, 23, d.strftime("%y%m%d%H%M%SZ").encode())
    )
    text = st.builds(
        lambda num, data: DerNode(TagClass.UNIVERSAL, False, num, data),
        st.sampled_from([12, 19, 22, 26]),
        st.binary(max_size=12),
    )
    return st.one_of(gtime, utime, text)


def _with_long_lengths(node: DerNode, lo: int) -> DerNode:
    kids = tuple(_with_long_lengths(k, lo) for k in node.children)
    return DerNode(
        node.tag_class,
        node.constructed,
        node.tag_number,
        kids if node.constructed else node.value,
        lo,
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(DER_TREES, _times_and_strings()), min_size=1, max_size=3),
    st.sampled_from([0, 0, 2]),
    st.sampled_from([0x0001, 0x000D, 0x0108, 0x008C, 0x0013]),
)
def test_property_any_der_round_trips(nodes: list[DerNode], lo: int, code: int) -> None:
    nodes = [_with_long_lengths(n, lo) for n in nodes]
    raw = b"".join(n.encode() for n in nodes)
    p = Asn1Payload(raw)
    args = explain_asn1(p, code)
    assert json_only(args)
    assert build_asn1(json.loads(json.dumps(args)), code).encode() == raw


# --------------------------------------------------------------------------- typed properties

_eui = st.binary(min_size=8, max_size=8).map(lambda b: b.hex().upper())


def _enum(names: list[str]) -> st.SearchStrategy[Any]:
    return st.one_of(st.sampled_from(names), st.integers(200, 0xFFFF))


_time = st.datetimes(min_value=datetime(1950, 1, 1), max_value=datetime(9999, 12, 31)).map(
    lambda d: d.strftime("%Y-%m-%dT%H:%M:%SZ")
)
_uint = st.integers(0, 2**64 - 1)
_cell = st.fixed_dictionaries(
    {
        "remote_party_role": _enum(["root", "supplier", "load_controller", "other"]),
        "key_usage": st.sampled_from(["digital_signature", "key_agreement", "key_cert_sign"]),
        "cell_usage": st.one_of(st.none(), st.sampled_from(["prepayment_top_up"])),
    }
)
_specialist = st.lists(
    st.fixed_dictionaries({"seq_number_usage": _enum(["prepayment_top_up"]), "seq_number": _uint}),
    max_size=2,
)
_cert = st.binary(max_size=20).map(
    lambda b: der_sequence(der_octet_string(b)).encode().hex().upper()
)
_opt = st.one_of

TYPED_ARGS: dict[int, st.SearchStrategy[dict[str, Any]]] = {
    0x000E: st.fixed_dictionaries(
        {
            "join_method_and_role": _enum(["method_a_initiator", "method_b", "method_c"]),
            "entity_id": _eui,
            "device_type": _enum(["gsme", "esme", "chf", "gpf", "hcalcs", "ppmid", "type_2"]),
            "certificate": _opt(st.none(), _cert),
        }
    ),
    0x008C: st.fixed_dictionaries(
        {
            "device_log_entries": st.lists(
                st.fixed_dictionaries({"device_id": _eui, "device_type": _enum(["gpf", "ppmid"])}),
                max_size=4,
            )
        }
    ),
    0x0012: st.fixed_dictionaries(
        {
            "manufacturer_image_hash": st.binary(min_size=32, max_size=32).map(
                lambda b: b.hex().upper()
            ),
            "originator_counter": _uint,
            "execution_date_time": _opt(st.none(), _time),
        }
    ),
    0x007F: st.fixed_dictionaries(
        {"validity_interval_start": _time, "validity_interval_end": _time}
    ),
    0x011B: st.fixed_dictionaries(
        {
            "authorising_remote_party_ta_cell_identifier": _cell,
            "remote_party_roles_credentials_required": st.lists(_enum(["supplier", "recovery"])),
        }
    ),
    0x0126: st.fixed_dictionaries(
        {
            "authorising_remote_party_control": st.fixed_dictionaries(
                {
                    "credentials_replacement_mode": _enum(["load_controller_by_supplier"]),
                    "plaintext_symmetric_key": _opt(
                        st.none(), st.binary(max_size=16).map(lambda b: b.hex().upper())
                    ),
                    "apply_time_based_cpv_checks": _opt(
                        st.none(), st.sampled_from(["apply", "disapply"])
                    ),
                    "authorising_remote_party_ta_cell_identifier": _opt(st.none(), _cell),
                    "authorising_remote_party_seq_number": _uint,
                    "new_remote_party_floor_seq_number": _opt(st.none(), _uint),
                    "new_remote_party_specialist_floor_seq_number": _opt(st.none(), _specialist),
                    "other_remote_party_seq_number_changes": _opt(
                        st.none(),
                        st.lists(
                            st.fixed_dictionaries(
                                {
                                    "remote_party_role": _enum(["supplier"]),
                                    "floor_seq_number": _uint,
                                    "specialist_floor_seq_number": _opt(st.none(), _specialist),
                                }
                            ),
                            max_size=2,
                        ),
                    ),
                }
            ),
            "replacements": st.lists(
                st.fixed_dictionaries({"certificate": _cert, "target_trust_anchor_cell": _cell}),
                max_size=2,
            ),
            "certification_path_certificates": st.lists(_cert, max_size=2),
            "execution_date_time": _opt(st.none(), _time),
        }
    ),
}


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_property_typed_args_round_trip(data: st.DataObject) -> None:
    code = data.draw(st.sampled_from(sorted(TYPED_ARGS)))
    args = data.draw(TYPED_ARGS[code])
    built = build_asn1(args, code)
    again = explain_asn1(built, code)
    assert again == args
    assert asn1_form(again) == "typed"
    for leaf in iter_leaves(again, code):
        check_leaf(leaf)


# --------------------------------------------------------------------------- bad arguments

JOIN = {"join_method_and_role": "method_b", "entity_id": EUI, "device_type": "gpf"}


def _with(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    out.update(changes)
    return out


BAD: list[tuple[int, Any, str, str]] = [
    (0x000E, _with(JOIN, colour="red"), "args.colour", "allowed here: join_method_and_role"),
    (0x000E, {"device_type": "gpf"}, "args.entity_id", "required"),
    (0x000E, _with(JOIN, device_type="toaster"), "args.device_type", "allowed: gsme, esme"),
    (0x000E, _with(JOIN, device_type=True), "args.device_type", "got a boolean"),
    (0x000E, _with(JOIN, device_type=70000), "args.device_type", "outside 0..65535"),
    (0x000E, _with(JOIN, entity_id="00DB1234"), "args.entity_id", "must be 8 octets"),
    (0x000E, _with(JOIN, entity_id="zz" * 8), "args.entity_id", "hex digits"),
    (0x000E, _with(JOIN, certificate="0500"), "args.certificate", "a certificate is a SEQUENCE"),
    (0x000E, _with(JOIN, certificate="3005"), "args.certificate", "not one DER value"),
    (0x000E, ["not", "an", "object"], "args", "expected an object"),
    (
        0x0012,
        {"manufacturer_image_hash": "AB", "originator_counter": 1},
        "args.manufacturer_image_hash",
        "must be 32 octets",
    ),
    (
        0x0012,
        {"manufacturer_image_hash": "AB" * 32, "originator_counter": -1},
        "args.originator_counter",
        "outside 0..18446744073709551615",
    ),
    (
        0x0012,
        {"manufacturer_image_hash": "AB" * 32, "originator_counter": "1"},
        "args.originator_counter",
        "expected an integer",
    ),
    (
        0x007F,
        {
            "validity_interval_start": "2015-01-01T00:00:00",
            "validity_interval_end": "2015-01-01T00:00:00Z",
        },
        "args.validity_interval_start",
        "needs a time zone",
    ),
    (
        0x007F,
        {
            "validity_interval_start": "2015-13-01T00:00:00Z",
            "validity_interval_end": "2015-01-01T00:00:00Z",
        },
        "args.validity_interval_start",
        "invalid date-time",
    ),
    (0x007F, {"validity_interval_start": "soon"}, "args.validity_interval_start", "ISO 8601"),
    (
        0x008C,
        {
            "device_log_entries": [
                {"device_id": EUI, "device_type": "gpf"},
                {"device_id": EUI, "device_type": "x"},
            ]
        },
        "args.device_log_entries[1].device_type",
        "allowed: gsme",
    ),
    (0x008C, {"device_log_entries": "all"}, "args.device_log_entries", "expected a list"),
    (0x000A, {"key_usage": "signing"}, "args.key_usage", "allowed: digital_signature"),
    (0x000A, {"key_usage": ["key_agreement", 4]}, "args.key_usage[1]", "unknown key usage"),
    (0x0013, {"anything": 1}, "args.anything", "allowed here: none"),
    (0x0001, {"value": 1}, "args", "no typed ASN.1 arguments"),
    (0x0001, {GENERIC_KEY: []}, "args.der", "non-empty list"),
    (
        0x0001,
        {GENERIC_KEY: [{"tag": "SEQUENCER", "children": []}]},
        "args.der[0].tag",
        "unknown tag",
    ),
    (0x0001, {GENERIC_KEY: [{"tag": "INTEGER"}]}, "args.der[0]", "exactly one of children"),
    (
        0x0001,
        {GENERIC_KEY: [{"tag": "SEQUENCE", "children": [{"tag": "INTEGER", "hex": "0001"}]}]},
        "args.der[0].children[0].hex",
        "non-minimal INTEGER",
    ),
    (
        0x0001,
        {GENERIC_KEY: [{"tag": "OBJECT IDENTIFIER", "value": "x.y"}]},
        "args.der[0].value",
        "invalid OID",
    ),
    (0x0001, {GENERIC_KEY: [{"tag": "[3]", "value": 1}]}, "args.der[0].value", "given as hex"),
    (
        0x0001,
        {GENERIC_KEY: [{"tag": "OCTET STRING", "hex": "00" * 300, "length_octets": 1}]},
        "args.der[0].length_octets",
        "does not fit",
    ),
    (
        0x0012,
        {GENERIC_KEY: [{"tag": "NULL", "value": None}]},
        "args",
        "not a valid payload for 0x0012",
    ),
]


@pytest.mark.parametrize(("code", "args", "path", "says"), BAD, ids=[f"{b[2]}:{b[3]}" for b in BAD])
def test_bad_arguments_name_the_path_and_what_is_allowed(
    code: int, args: Any, path: str, says: str
) -> None:
    with pytest.raises(Asn1ArgsError) as err:
        build_asn1(args, code)
    assert err.value.path == path
    assert says in err.value.reason
    assert str(err.value).startswith(f"{path}: ")


def test_cs02b_nested_error_paths() -> None:
    args = _cs02b_args()
    args["replacements"][0]["target_trust_anchor_cell"]["remote_party_role"] = "baker"
    with pytest.raises(Asn1ArgsError) as err:
        build_asn1(args, 0x0108)
    assert err.value.path == "args.replacements[0].target_trust_anchor_cell.remote_party_role"
    assert "root, recovery, supplier" in err.value.reason
    args = _cs02b_args()
    args["certification_path_certificates"][1] = "30"
    with pytest.raises(Asn1ArgsError) as err:
        build_asn1(args, 0x0108)
    assert err.value.path == "args.certification_path_certificates[1]"
