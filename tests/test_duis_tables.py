"""The product's DUIS tables (SRVs, command variants, response codes) against the shared
DUIS material, read at test time (tests/duiskit.py), and on their own."""

from __future__ import annotations

import json
import re

import pytest

from emulator.duis.tables import (
    COMMAND_VARIANTS,
    RESPONSE_CODES,
    SRVS,
    USER_ROLES,
    response_code,
    srv,
)
from gbcs.usecase_table import ROWS
from tests import duiskit

SOURCE_REFERENCE_SLIPS = {"6.20.1", "6.20.2"}


def _name(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


# --- against shared/duis ------------------------------------------------------------------


def test_every_srv_of_the_shared_table_is_ours_with_the_same_facts() -> None:
    data = duiskit.srv_json()
    rows = data["service_request_variants"]
    assert len(rows) == len(SRVS) == data["counts"]["srv"]
    for row in rows:
        ours = srv(row["srv"])
        assert ours is not None, row["srv"]
        if row["srv"] in SOURCE_REFERENCE_SLIPS:
            # duis-parser writes "6.2" (a number that lost its 0); DUIS, its schema and
            # the RTDS templates say 6.20, as ours does.
            assert (row["service_reference"], ours.reference) == ("6.2", "6.20")
        else:
            assert ours.reference == row["service_reference"], row["srv"]
        assert ours.critical is row["critical"], row["srv"]
        assert ours.non_device is row["non_device"], row["srv"]
        assert ours.on_demand is row["on_demand"], row["srv"]
        assert ours.dcc_scheduled is row["dcc_scheduled"], row["srv"]
        assert list(ours.roles) == row["eligible_user_roles"], row["srv"]
        pattern = row["future_dated_response_pattern"]
        assert ours.future_dated == (None if pattern == "No" else pattern), row["srv"]
        full = ours.name + (f" {ours.note}" if ours.note else "")
        assert _name(full) == _name(row["name"]), row["srv"]
    assert sum(s.critical for s in SRVS.values()) == data["counts"]["critical"]
    assert sum(s.non_device for s in SRVS.values()) == data["counts"]["non_device"]
    assert set(USER_ROLES.items()) == set(data["user_role_legend"].items())


def test_command_variants_match_the_shared_table() -> None:
    rows = duiskit.srv_json()["command_variants"]
    assert sorted(COMMAND_VARIANTS) == [r["number"] for r in rows] == list(range(1, 9))
    for row in rows:
        cv = COMMAND_VARIANTS[row["number"]]
        assert (cv.input, cv.output, cv.web_service) == (
            row["input"],
            row["output"],
            row["web_service"],
        )
        assert cv.critical is row["critical_flag"]
        assert cv.endpoint == row["endpoint"]
        assert cv.dcc_boxed is row["dcc_boxed_supported"]


def test_the_templates_use_our_service_references() -> None:
    for line in (duiskit.require_duis() / "pairs.jsonl").read_text().splitlines():
        pair = json.loads(line)
        ours = srv(pair["srv"])
        assert ours is not None and ours.reference == pair["service_reference"], pair["template"]


def test_every_template_use_case_is_listed_under_its_srv() -> None:
    lines = (duiskit.require_duis() / "pairs.jsonl").read_text().splitlines()
    assert len(lines) == 297
    for line in lines:
        pair = json.loads(line)
        ours = srv(pair["srv"])
        assert ours is not None, pair["template"]
        assert ours.critical is pair["critical"] and ours.non_device is pair["non_device"]
        if pair["gbcs_use_case"] and not pair["non_device"]:
            # File names drop the slash of a shared name (CCS05CCS04 = CCS05/CCS04).
            names = {uc.replace("/", "") for uc in ours.use_cases}
            assert pair["gbcs_use_case"] in names, pair["template"]


def test_response_codes_are_the_schemas_enumeration() -> None:
    lxml = pytest.importorskip("lxml.etree", reason="reading the XSD needs lxml")
    tree = lxml.parse(str(duiskit.xsd_path()))
    codes = tree.xpath(
        "//xs:simpleType[@name='ResponseCode']//xs:enumeration/@value",
        namespaces={"xs": "http://www.w3.org/2001/XMLSchema"},
    )
    assert list(RESPONSE_CODES) == list(codes)
    assert len(codes) == 194


def test_the_samples_response_codes_are_known() -> None:
    seen = {row.get("response_code") for row in duiskit.samples()} - {None}
    assert {"I0", "E65"} <= seen
    for code in seen:
        assert response_code(code) is not None, code


# --- the tables on their own --------------------------------------------------------------


def test_srv_lookup() -> None:
    s = srv(" 4.1.1 ")
    assert (
        s is not None and s.reference == "4.1" and s.name == "Read Instantaneous Import Registers"
    )
    assert s.use_cases == ("ECS17b", "GCS13a") and s.device_types == ("ESME", "GSME", "GPF")
    assert srv("99.9") is None
    read_inventory = srv("8.2")
    assert read_inventory is not None and read_inventory.non_device
    assert read_inventory.name == "Read Inventory" and read_inventory.note
    assert read_inventory.device_types == () and read_inventory.use_cases == ()


def test_srv_rows_are_consistent() -> None:
    known_roles = set(USER_ROLES)
    targets: dict[str, set[str]] = {}
    for row in ROWS:  # a name several message codes share has the union of their targets
        targets.setdefault(row[1], set()).update(row[3])
    for s in SRVS.values():
        assert set(s.roles) <= known_roles, s.variant
        assert s.variant.startswith(s.reference), s.variant
        assert "\n" not in s.name and "  " not in s.name, s.variant
        if s.non_device:
            assert s.device_types == () and s.use_cases == (), s.variant
        derived: set[str] = set()
        for uc in s.use_cases:
            assert uc in targets, (s.variant, uc)
            derived |= targets[uc]
        assert set(s.device_types) == derived, s.variant
    # Sources with no eligible role, kept empty rather than guessed.
    assert [v for v, s in SRVS.items() if not s.roles] == ["7.16", "8.5", "8.6"]


def test_response_code_meanings_and_sources() -> None:
    ok = response_code("I0")
    assert ok is not None and ok.kind == "success" and ok.meaning
    ack = response_code("I99")
    assert ack is not None and ack.kind == "acknowledgement"
    e65 = response_code("E65")
    assert e65 is not None and e65.kind == "error" and e65.meaning is None
    assert "schema" in e65.source
    specific = response_code("E120201")
    assert specific is not None and specific.service_reference == "12.2"
    warning = response_code("W081401")
    assert warning is not None and warning.kind == "warning"
    assert warning.service_reference == "8.14"
    assert response_code("E9999") is None
    references = {s.reference for s in SRVS.values()}
    for code in RESPONSE_CODES.values():
        assert (code.meaning is None) == ("schema" in code.source), code.code
        if code.service_reference is not None:
            assert code.service_reference in references, code.code
    described = {c for c, v in RESPONSE_CODES.items() if v.meaning}
    assert {"I0", "I99", "E1", "E2", "E3", "E4", "E5", "E11", "E19", "E21"} <= described
