"""The bundled COSEM profiles (devices/profiles/*.json) against the RTDS command/response pairs.

Every RTDS ESME and CHF DLMS command (SUCCESS variants) is run through
``devices.dlms_engine.execute`` against a freshly loaded profile; the response must have
the RTDS response's results (kind and code, in order) and, for every data item, the same
A-XDR type tree (:func:`type_tree`). Protected reads (class 30 method 1) are compared on
the decrypted plaintexts, with a fake sealer on our side.

A few pairs need behaviour the device binds at run time (the lead's modules, not the
profile); :data:`EXPECTED_DIFFERENCES` names them and the exact items that differ, so a
change in either direction shows up.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import pytest

from devices.cosem import CosemModel, load_profile, same_type
from devices.dlms_engine import execute
from gbcs.axdr import BitString, CompactArray, Data, DataType, TypeDescription, decode_data_bytes
from gbcs.codec import decode
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    DataAccessResult,
    GetProtectedAttributesRequest,
    Obis,
    ProtectedAttributes,
    SetSpec,
)
from gbcs.security import decrypt_parts
from keys.store import KeyStore
from tests.interop import ROOT, interop_dir, keys_dir, require_interop, vectors

SEAL_HEADER = b"\x31\x00\x00\x00\x00"
TAG_LEN = 12

# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------

Tree = tuple[Any, ...]


def type_tree(d: Data) -> Tree:
    """Tags, structure sizes, array element types (as a set), octet sizes <= 12; no values.

    A compact-array is described by its element type description (not its contents).
    """
    tag = int(d.tag)
    if d.tag == DataType.STRUCTURE:
        return (tag, tuple(type_tree(x) for x in d.value))
    if d.tag == DataType.ARRAY:
        return (tag, frozenset(type_tree(x) for x in d.value))
    if d.tag == DataType.OCTET_STRING:
        n = len(d.value)
        return (tag, n if n <= 12 else ">12")
    if d.tag == DataType.COMPACT_ARRAY:
        return (tag, d.value.type_description.encode())
    return (tag,)


def fake_seal(plaintext: bytes) -> bytes:
    return SEAL_HEADER + plaintext + bytes(TAG_LEN)


def fake_plaintext(d: Data) -> Data | None:
    pa = ProtectedAttributes.from_data(d)
    if pa is None:
        return None
    return decode_data_bytes(pa.blob[len(SEAL_HEADER) : -TAG_LEN])


@cache
def _tool() -> ModuleType:
    path = ROOT / "tools" / "gen_profiles.py"
    spec = importlib.util.spec_from_file_location("gen_profiles", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["gen_profiles"] = mod
    spec.loader.exec_module(mod)
    return mod


def _profile_doc(stem: str) -> dict[str, Any]:
    path = ROOT / "devices" / "profiles" / f"{stem}.json"
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _pair_ids() -> list[tuple[str, str]]:
    """``(profile stem, vector prefix)`` of every SUCCESS DLMS pair (empty without data)."""
    d = interop_dir()
    if d is None:
        return []
    by_id = {v["id"]: v for v in json.loads((d / "vectors.json").read_text())}
    out = []
    for vid, v in by_id.items():
        dev = v.get("device_type")
        if v.get("form") != "full" or dev not in ("ESME", "CHF") or not vid.endswith("_COMMAND"):
            continue
        prefix = vid[: -len("_COMMAND")]
        if prefix.endswith("_ERROR") or prefix + "_RESPONSE" not in by_id:
            continue
        content = bytes.fromhex(v["hex"])
        if not isinstance(decode(content).payload, AccessRequest):
            continue  # ASN.1 / GBZ commands (CS02x, CS06, CS03, CS04...) are not DLMS
        out.append((dev.lower(), prefix))
    return out


PAIRS = _pair_ids()


@cache
def _vector(vid: str) -> dict[str, Any]:
    for v in vectors():
        if v["id"] == vid:
            return v
    raise KeyError(vid)


def compare_pair(stem: str, prefix: str) -> list[str]:
    """Where our answer to the RTDS command differs from the RTDS response (empty = match)."""
    cmd = decode(bytes.fromhex(_vector(prefix + "_COMMAND")["hex"]))
    rsp = decode(bytes.fromhex(_vector(prefix + "_RESPONSE")["hex"]))
    assert isinstance(cmd.payload, AccessRequest)
    assert isinstance(rsp.payload, AccessResponse)
    ours = execute(cmd.payload, load_profile(stem), seal=fake_seal)
    theirs = rsp.payload
    diffs: list[str] = []
    if len(ours.results) != len(theirs.results):
        return [f"{len(ours.results)} results, RTDS {len(theirs.results)}"]
    rtds_plain = [p.plaintext for p in decrypt_parts(rsp, KeyStore(keys_dir()))]
    for i, (a, b) in enumerate(zip(ours.results, theirs.results, strict=True)):
        spec = cmd.payload.specs[i]
        where = f"[{i}] class {spec.class_id} {spec.obis}"
        if type(a) is not type(b) or a.result != b.result:
            diffs.append(f"{where}: result {type(a).__name__} {a.result}, RTDS {b.result}")
            continue
        da, db = ours.data[i], theirs.data[i]
        if type_tree(da) != type_tree(db):
            diffs.append(f"{where}: data type differs")
            continue
        if ProtectedAttributes.from_data(db) is None:
            continue
        raw = rtds_plain.pop(0) if rtds_plain else None
        if raw is None:
            diffs.append(f"{where}: RTDS protected plaintext not decrypted")
            continue
        pa, pb = fake_plaintext(da), decode_data_bytes(raw)
        if pa is None or pa.tag != pb.tag or len(pa.value) != len(pb.value):
            diffs.append(f"{where}: protected plaintext shape differs")
            continue
        for j, (x, y) in enumerate(zip(pa.value, pb.value, strict=True)):
            if type_tree(x) != type_tree(y):
                diffs.append(f"{where}: protected plaintext item {j} type differs")
    return diffs


# Pairs whose answer cannot match from the profile alone, with the exact differences.
EXPECTED_DIFFERENCES: dict[str, tuple[list[str], str]] = {
    "RTDS-4.5.0/8.9_CCS05CCS04/CCS05CCS04_8.9_SUCCESS": (
        ["[0] class 104 0-0:30.3.0.255: data type differs"],
        "CHF device log entries (class 104 attribute 4) start empty; the device binds the "
        "log at run time (RTDS shows two registered devices)",
    ),
    "RTDS-4.5.0/8.9_CCS06/CCS06_8.9_SUCCESS": (
        ["[0] class 104 0-0:30.3.0.255: data type differs"],
        "same as CCS05/CCS04: device log entries are bound at run time",
    ),
    "RTDS-4.5.0/8.9_CCS07/CCS07_8.9_SUCCESS": (
        [
            "[0] class 104 0-0:30.3.0.255: data type differs",
            "[1] class 104 0-0:30.3.1.255: data type differs",
        ],
        "ACTION 4 (read device log) returns data only from a bound handler; the unbound "
        "method answers success with null data",
    ),
    "RTDS-4.5.0/6.2.4_ECS26m/ECS26m_6.2.4_SUCCESS": (
        ["[2] class 1 0-0:96.1.6.255: data type differs"],
        "RTDS returns the manufacturer identifier unpadded, octet-string(3), in ECS26e and "
        "space-padded, octet-string(4), here; the profile holds the unpadded identifier",
    ),
    "RTDS-4.5.0/6.2.4_ECS26n/ECS26n_6.2.4_SUCCESS": (
        ["[1] class 1 0-0:96.1.6.255: data type differs"],
        "RTDS returns octet-string(3) in ECS26i and octet-string(4) here (CHF)",
    ),
    "RTDS-4.5.0/7.7_ECS61a/ECS61a_7.7_ALL_OPTIONALS_SUCCESS": (
        [
            "[7] class 1 0-0:94.44.0.23: data type differs",
            "[8] class 1 0-0:94.44.0.24: data type differs",
        ],
        "auxiliary controllers 3 and 4 are an APC (one octet FF) and none (empty) as "
        "ECS61e reads them; ECS61a reads the same objects as eight zero octets",
    ),
}


# --------------------------------------------------------------------------------------
# the profiles themselves (no interop data needed)
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("stem", "count"), [("esme", 196), ("chf", 12)])
def test_profile_loads(stem: str, count: int) -> None:
    model = load_profile(stem)
    assert isinstance(model, CosemModel)
    assert len(model) == count
    doc = _profile_doc(stem)
    assert "factory defaults" in doc["source"].lower()
    keys = [(o["class"], Obis.parse(o["obis"]).to_bytes()) for o in doc["objects"]]
    assert len(set(keys)) == len(keys)  # each object once


@pytest.mark.parametrize("stem", ["esme", "chf"])
def test_writable_attributes_have_defaults(stem: str) -> None:
    unset = set()
    for o in load_profile(stem).objects():
        assert o.attributes or o.methods or o.writable, f"{o.obis}: nothing to access"
        unset |= {(o.class_id, str(o.obis), a) for a in o.writable - set(o.attributes)}
    # RTDS writes 0-0:94.44.119.2 as long-unsigned (ECS47) and as a date-time (ECS47a):
    # no factory value, so both SETs succeed.
    assert unset == ({(1, "0-0:94.44.119.2", 2)} if stem == "esme" else set())


def test_max_demand_schedule_is_table_28d_default() -> None:
    obj = load_profile("esme").find(10, Obis.parse("0-0:12.0.0.255"))
    assert obj is not None and obj.writable == {2}

    def entry(index: int, selector: int, switch: bytes) -> Data:
        return Data.structure(
            Data.long_unsigned(index),
            Data.boolean(True),
            Data.octet_string(bytes.fromhex("00000A8064FF")),
            Data.long_unsigned(selector),
            Data.octet_string(switch),
            Data.long_unsigned(0xFFFF),
            Data.bit_string(BitString(7, b"\xfe")),
            Data.bit_string(BitString(0, b"")),
            Data.octet_string(bytes.fromhex("000001FFFF")),
            Data.octet_string(bytes.fromhex("FFFFFFFFFF")),
        )

    assert obj.attributes[2] == Data.array(
        entry(1, 1, bytes.fromhex("10000000")), entry(2, 2, bytes.fromhex("131E0000"))
    )


@pytest.mark.parametrize("stem", ["esme", "chf"])
def test_firmware_version(stem: str) -> None:
    obj = load_profile(stem).find(1, Obis.parse("0-0:0.2.1.255"))
    assert obj is not None
    assert obj.attributes == {2: Data.octet_string(bytes.fromhex("01000000"))}


def test_register_values_are_factory_zero_with_rtds_scalers() -> None:
    model = load_profile("esme")
    for obis, unit in (("1-0:1.6.0.255", 27), ("1-0:2.8.0.255", 30), ("1-0:4.8.0.255", 32)):
        o = model.find(3 if obis.endswith("8.0.255") else 4, Obis.parse(obis))
        assert o is not None
        assert o.attributes[2] == Data.double_long_unsigned(0)
        assert o.attributes[3] == Data.structure(Data.integer(0), Data.enum(unit))
    reset = model.find(1, Obis.parse("0-0:94.44.5.0"))
    assert reset is not None
    assert reset.attributes[2].value == bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")


@pytest.mark.parametrize("stem", ["esme", "chf"])
def test_log_buffers_are_empty_compact_arrays(stem: str) -> None:
    buffers = [o for o in load_profile(stem).objects() if o.class_id == 7]
    assert buffers
    for o in buffers:
        buf = o.attributes[2]
        assert buf.tag == DataType.COMPACT_ARRAY
        assert buf.value.contents == b""
        assert buf.value.type_description.tag == DataType.STRUCTURE
        assert str(buf.value.type_description) in o.name


def test_chf_objects() -> None:
    model = load_profile("chf")
    want = {
        (1, "0-0:0.2.1.255"),
        (104, "0-0:30.3.0.255"),
        (104, "0-0:30.3.1.255"),
        (1, "0-0:94.44.10.0"),
        (1, "0-0:94.44.10.1"),
        (1, "0-0:94.44.10.2"),
        (7, "0-0:94.44.10.3"),
        (1, "0-0:96.1.1.255"),
        (1, "0-0:96.1.4.255"),
        (1, "0-0:96.1.6.255"),
        (7, "0-0:99.98.0.255"),
        (7, "0-0:99.98.1.255"),
    }
    assert {(o.class_id, str(o.obis)) for o in model.objects()} == want
    log = model.find(104, Obis.parse("0-0:30.3.0.255"))
    assert log is not None
    assert log.methods == {1, 2, 4, 5} and log.writable == {2, 3}
    assert log.attributes[4] == Data.array()


@pytest.mark.parametrize("stem", ["esme", "chf"])
def test_no_rtds_identities_leak(stem: str) -> None:
    text = json.dumps(_profile_doc(stem)["objects"]).lower()
    for eui in ("00db1234567890a", "90b3d51f3"):
        assert eui not in text


# --------------------------------------------------------------------------------------
# generator (tools/gen_profiles.py)
# --------------------------------------------------------------------------------------


def test_neutral_rules() -> None:
    neutral: Callable[..., Data] = _tool().neutral
    assert neutral(Data.double_long_unsigned(4775)) == Data.double_long_unsigned(0)
    assert neutral(Data.boolean(True)) == Data.boolean(False)
    assert neutral(Data.enum(5), {(): 1}) == Data.enum(1)
    dt = Data.octet_string(bytes.fromhex("07DE0C1FFF091E00008000FF"))
    assert neutral(dt).value == bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")
    assert neutral(Data.octet_string(bytes.fromhex("07DF0501FF"))).value == b"\xff" * 5
    ln = Data.octet_string(bytes.fromhex("00000A0064FF"))
    assert neutral(ln) == ln
    assert neutral(Data.octet_string(b"1312345678333")).value == b"0" * 13
    assert neutral(Data.octet_string(b"winter")).value == b" " * 6
    assert neutral(Data.octet_string(bytes.fromhex("00DB1234567890A0"))).value == bytes(8)
    su = Data.structure(Data.integer(-5), Data.enum(254))
    assert neutral(su) == su
    # one-byte identifiers inside tables are kept, other leaves neutralised
    row = Data.structure(Data.octet_string(b"\x02"), Data.long(3127))
    assert neutral(Data.array(row)) == Data.array(
        Data.structure(Data.octet_string(b"\x02"), Data.long(0))
    )
    td = TypeDescription.structure(TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED))
    full = CompactArray.from_elements(td, [Data.structure(Data.double_long_unsigned(7))])
    assert neutral(Data.compact_array(full)) == Data.compact_array(CompactArray(td, b""))
    bits = neutral(Data.bit_string(BitString(7, b"\xfe")))
    assert bits == Data.bit_string(BitString(7, b"\x00"))


def test_generator_reproduces_committed_profiles() -> None:
    d = require_interop()
    tool = _tool()
    for stem, doc in tool.build_all(d).items():
        path = ROOT / "devices" / "profiles" / f"{stem}.json"
        assert tool.render(doc) == path.read_text(), f"{path.name}: run tools/gen_profiles.py"


# --------------------------------------------------------------------------------------
# RTDS command/response pairs
# --------------------------------------------------------------------------------------


def test_pair_inventory() -> None:
    require_interop()
    assert len(PAIRS) == 125
    assert {p for _, p in PAIRS} >= set(EXPECTED_DIFFERENCES)


@pytest.mark.interop
@pytest.mark.parametrize(("stem", "prefix"), PAIRS, ids=[p.rsplit("/", 1)[-1] for _, p in PAIRS])
def test_rtds_pair(stem: str, prefix: str) -> None:
    diffs = compare_pair(stem, prefix)
    expected = EXPECTED_DIFFERENCES.get(prefix)
    assert diffs == (expected[0] if expected else [])


def test_rtds_sets_store_the_written_values() -> None:
    """Every RTDS SET succeeds and a later GET returns exactly the written value."""
    require_interop()
    checked = 0
    for stem, prefix in PAIRS:
        cmd = decode(bytes.fromhex(_vector(prefix + "_COMMAND")["hex"]))
        assert isinstance(cmd.payload, AccessRequest)
        model = load_profile(stem)
        execute(cmd.payload, model, seal=fake_seal)
        for spec, value in zip(cmd.payload.specs, cmd.payload.data, strict=False):
            if not isinstance(spec, SetSpec):
                continue
            obj = model.find(spec.class_id, spec.obis)
            assert obj is not None
            assert obj.get(spec.attribute) == (DataAccessResult.SUCCESS, value)
            checked += 1
    assert checked == 206


def test_rtds_set_values_have_the_stored_types() -> None:
    require_interop()
    model = {s: load_profile(s) for s in ("esme", "chf")}
    for stem, prefix in PAIRS:
        cmd = decode(bytes.fromhex(_vector(prefix + "_COMMAND")["hex"]))
        assert isinstance(cmd.payload, AccessRequest)
        for spec, value in zip(cmd.payload.specs, cmd.payload.data, strict=False):
            if isinstance(spec, SetSpec):
                obj = model[stem].find(spec.class_id, spec.obis)
                assert obj is not None and spec.attribute in obj.writable
                stored = obj.attributes.get(spec.attribute)
                assert stored is None or same_type(stored, value), (prefix, spec)


def test_unbound_action_answers_success_without_data() -> None:
    cmd = decode(
        bytes.fromhex(
            _vector("RTDS-4.5.0/6.18.2_ECS57/ECS57_6.18.2_ALL_OPTIONALS_SUCCESS_COMMAND")["hex"]
        )
    )
    assert isinstance(cmd.payload, AccessRequest)
    ours = execute(cmd.payload, load_profile("esme"))
    assert ours.results == (ActionResult(0),) * 3
    assert ours.data == (Data.null(),) * 3


def test_protected_reads_are_compared_on_plaintext() -> None:
    """All 11 RTDS class-30 reads decrypt, and ours carries the profile's factory values."""
    require_interop()
    protected = [
        (stem, p)
        for stem, p in PAIRS
        for s in decode(bytes.fromhex(_vector(p + "_COMMAND")["hex"])).payload.specs
        if s.class_id == 30
    ]
    assert len(protected) == 11
    prefix = "RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS"
    cmd = decode(bytes.fromhex(_vector(prefix + "_COMMAND")["hex"]))
    assert isinstance(cmd.payload, AccessRequest)
    ours = execute(cmd.payload, load_profile("esme"), seal=fake_seal)
    assert ours.results == (ActionResult(0),)
    wh, varh = (Data.structure(Data.integer(0), Data.enum(u)) for u in (30, 32))
    zero = Data.double_long_unsigned(0)
    assert fake_plaintext(ours.data[0]) == Data.structure(Data.structure(zero, wh, zero, varh))
    pa = ProtectedAttributes.from_data(ours.data[0])
    assert pa is not None
    gpa = GetProtectedAttributesRequest.from_data(cmd.payload.data[0])
    assert gpa is not None
    (asked,) = gpa.parameters
    assert pa.parameters[0].originator_system_title == asked.recipient_system_title
    assert pa.parameters[0].recipient_system_title == asked.originator_system_title
