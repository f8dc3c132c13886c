"""The message-code registry built from shared/reference/use-cases.json."""

from __future__ import annotations

import json

import pytest

from gbcs.usecases import DeviceType, all_use_cases, by_name, lookup, message_code_name
from tests import interop
from tests.interop import ROOT


def test_every_reference_code_is_registered_with_its_facts() -> None:
    ref = ROOT.parent / "shared" / "reference" / "use-cases.json"
    if not ref.is_file():
        pytest.skip("shared/reference not present")
    rows = json.loads(ref.read_text())
    assert len(all_use_cases()) == len(rows) == 240
    for row in rows:
        uc = lookup(int(row["code"], 16))
        assert uc is not None
        assert uc.title == row["title"]
        if row["message_type"] == "SME.C.C":
            assert uc.critical is True and uc.critical_source == "table"
        if row["message_type"] == "SME.C.NC":
            assert uc.critical is False
        if row["replay_protection"] == "Yes":
            assert uc.replay_protection is True


def test_known_facts() -> None:
    ecs42 = by_name("ECS42")
    assert ecs42 is not None and ecs42.code == 0x004F
    assert ecs42.critical is True and ecs42.replay_protection is True
    assert ecs42.roles == {2} and ecs42.targets == (DeviceType.ESME,)
    assert ecs42.payload_kind == "dlms"
    gcs13a = lookup(0x0074)
    assert gcs13a is not None and gcs13a.name == "GCS13a"
    assert gcs13a.targets == (DeviceType.GSME, DeviceType.GPF) or set(gcs13a.targets) == {
        DeviceType.GSME,
        DeviceType.GPF,
    }
    assert gcs13a.roles == {2, 3} and gcs13a.payload_kind == "gbz"
    cs06 = by_name("cs06")
    assert cs06 is not None and cs06.critical is True and cs06.critical_source == "rtds"
    assert cs06.payload_kind == "asn1"
    ecs37 = by_name("ECS37")
    assert ecs37 is not None and ecs37.roles == {3} and ecs37.critical is False
    assert ecs37.replay_protection is True


def test_unknown_codes() -> None:
    assert lookup(0x7777) is None
    assert message_code_name(0x7777) == "unknown message code 0x7777"
    assert message_code_name(0x0027) == "ECS17b Read ESME Energy Registers (Import Energy)"


@pytest.mark.interop
def test_registry_payload_kind_matches_every_vector() -> None:
    from gbcs.codec import decode

    family = {
        "dlms-access-request": "dlms",
        "dlms-access-response": "dlms",
        "dlms-data-notification": "dlms",
        "gbz": "gbz",
        "asn1": "asn1",
    }
    for v in interop.vectors():
        if v["form"] == "malformed":
            continue
        msg = decode(bytes.fromhex(v["hex"]))
        uc = lookup(msg.message_code)
        assert uc is not None, v["id"]
        if uc.payload_kind != "mixed":
            assert uc.payload_kind == family[msg.payload.kind.value], v["id"]
