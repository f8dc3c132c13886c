"""Every registry command use case through the head-end: structural-argument entries."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from emulator.headend import usecases
from emulator.headend.catalogue.dlms_args import data_json
from emulator.headend.catalogue.generic import (
    command_use_cases,
    generic_entry,
    generic_name,
    load_args,
    resolve,
)
from emulator.headend.usecases import UseCaseError
from gbcs.axdr import Data
from gbcs.dlms import AccessRequest
from gbcs.gbz import GbzPayload
from gbcs.usecases import DeviceType, by_name
from keys.roles import RemotePartyRole
from tests.test_headend import CHF, ESME, GPF, GSME, Env, _env

R = RemotePartyRole

ECS26C = {"items": [{"operation": "get", "class_id": 1, "obis": "0-0:94.44.0.1", "attribute": 2}]}
GCS21B = {
    "components": [
        {
            "cluster": "prepayment",
            "command": "Read Attributes",
            "body": {
                "attribute_ids": ["Emergency Credit Limit Allowance", "Low Credit Warning Level"]
            },
        }
    ]
}


def test_every_command_use_case_has_an_entry() -> None:
    every = usecases.all_names()
    assert usecases.names() == every[:18]  # the typed entries first, unchanged
    assert len(set(every)) == len(every) == len(command_use_cases())
    for uc in command_use_cases():
        entry = usecases.get(generic_name(uc))
        assert entry.message_code == uc.code
        assert entry.targets == uc.targets
        assert entry.critical == bool(uc.critical)
        if not usecases.is_typed(entry.name):  # described entries take args as well
            assert [p.name for p in entry.params][-1] == "args"
    assert usecases.get("gcs21b") is usecases.get("GCS21B")  # cached
    assert usecases.get("0x004F") is usecases.get("ECS42")  # typed, named by its code


def test_roles_follow_what_the_devices_accept() -> None:
    assert usecases.get("ECS26i").role_for() is R.ACCESS_CONTROL_BROKER  # CHF: DCC roles
    cs02a = usecases.get("CS02a")
    assert (cs02a.role_for("ESME"), cs02a.role_for("CHF")) == (
        R.SUPPLIER,
        R.ACCESS_CONTROL_BROKER,
    )
    assert usecases.get("GCS21b").default_role is R.SUPPLIER
    assert usecases.get("CS02b@0x0104").default_role is R.ACCESS_CONTROL_BROKER
    uc = by_name("GCS21b")
    assert uc is not None and usecases.get("GCS21b").targets == (DeviceType.GSME, DeviceType.GPF)


def test_names_shared_by_several_codes_must_say_which() -> None:
    with pytest.raises(UseCaseError, match=r"CS02b names 10 use cases.*CS02b@0x0104"):
        usecases.get("CS02b")
    with pytest.raises(UseCaseError, match="unknown use case"):
        usecases.get("CS02a@0x0104")  # the code is CS02b's
    with pytest.raises(UseCaseError, match="not a command use case"):
        usecases.get("ECS80")  # an alert


def test_arguments_are_checked_by_building(tmp_path: Path) -> None:
    entry = generic_entry(resolve("ECS26d"))  # the structural entry (ECS26d is described)
    assert entry.parse_args({"args": ECS26C}) == {"args": ECS26C}
    assert entry.parse_args({"args": json.dumps(ECS26C)}) == {"args": ECS26C}
    f = tmp_path / "a.json"
    f.write_text(json.dumps(ECS26C))
    assert entry.parse_args({"args": f"@{f}"}) == {"args": ECS26C}
    assert load_args("@a.json", base=tmp_path) == ECS26C
    bad: list[tuple[Any, str]] = [
        (None, "ECS26d needs args"),
        ("{not json", "not valid JSON"),
        ("[1]", "must hold a JSON object"),
        (f"@{tmp_path / 'none.json'}", "cannot read"),
        (
            {"items": [{"operation": "get", "class_id": 1, "obis": "0-0:94", "attribute": 2}]},
            r"items\[0\]\.obis",
        ),
        ({"components": []}, "DLMS arguments"),  # ECS26d is a DLMS use case
    ]
    for value, message in bad:
        with pytest.raises(UseCaseError, match=message):
            entry.parse_args({"args": value} if value is not None else {})
    with pytest.raises(UseCaseError, match=r"components\[0\]\.body\.attribute_ids\[0\]"):
        usecases.get("GCS21b").parse_args(
            {
                "args": {
                    "components": [
                        {
                            "cluster": "prepayment",
                            "command": "Read Attributes",
                            "body": {"attribute_ids": ["No Such"]},
                        }
                    ]
                }
            }
        )


def test_payload_uses_the_counter() -> None:
    from datetime import UTC, datetime

    entry = usecases.get("ECS26c")
    ctx = usecases.BuildContext(0x1234, bytes(8), bytes(8), R.SUPPLIER, datetime.now(UTC))
    p = entry.payload({"args": ECS26C}, ctx)
    assert isinstance(p, AccessRequest)
    other = entry.payload({"args": ECS26C}, dataclasses.replace(ctx, counter=7))
    assert p.encode() != other.encode()  # the invoke id follows the counter
    g = usecases.get("GCS21b").payload({"args": GCS21B}, ctx)
    assert isinstance(g, GbzPayload) and len(g.components) == 1


def test_data_json_is_the_tagged_form() -> None:
    d = Data.structure(Data.double_long_unsigned(5), Data.octet_string(b"\x01\xab"), Data.null())
    assert data_json(d) == {
        "type": "structure",
        "value": [
            {"type": "double-long-unsigned", "value": 5},
            {"type": "octet-string", "value": "01AB"},
            None,
        ],
    }


async def _send(e: Env, eui: bytes, name: str, args: Any, **kw: Any) -> Any:
    return await e.request(eui, name, args=args, **kw)


@pytest.mark.asyncio
async def test_headend_sends_structural_use_cases_to_every_device_type() -> None:
    async with _env() as e:
        before = e.headend.stats["sent"]
        r = await _send(e, ESME, "ECS26c", ECS26C)
        assert r.use_case == "ECS26c" and r.verified == "mac"
        assert r.values == {
            "ok": True,
            "results": [
                {
                    "operation": "get",
                    "result": "success",
                    "data": {"type": "long-unsigned", "value": 0},
                }
            ],
        }
        ident = await _send(
            e,
            CHF,
            "ECS26i",
            {
                "items": [
                    {"operation": "get", "class_id": 1, "obis": "0-0:96.1.1.255", "attribute": 2}
                ]
            },
        )
        assert ident.values["results"][0]["data"] == {
            "type": "octet-string",
            "value": CHF.hex().upper(),
        }
        for eui in (GSME, GPF):
            g = await _send(e, eui, "GCS21b", json.dumps(GCS21B))
            assert g.values["ok"] is True and g.message.originator == eui
            records = g.values["components"][0]["body"]["records"]
            assert [x["status"] for x in records] == ["Success", "Success"]
        assert json.loads(json.dumps(g.values)) == g.values
        # an object the ESME does not hold: a verified answer, ok false, the result named
        missing = await _send(
            e,
            ESME,
            "ECS26c",
            {
                "items": [
                    {"operation": "get", "class_id": 1, "obis": "0-0:94.44.0.99", "attribute": 2}
                ]
            },
        )
        assert missing.values["ok"] is False
        assert missing.values["results"][0]["result"] == "object-undefined"
        assert e.headend.stats["sent"] == before + 5


@pytest.mark.asyncio
async def test_bad_structural_arguments_send_nothing() -> None:
    async with _env() as e:
        with pytest.raises(UseCaseError, match=r"items\[0\]\.class_id"):
            await _send(
                e,
                ESME,
                "ECS26c",
                {
                    "items": [
                        {
                            "operation": "get",
                            "class_id": "x",
                            "obis": "0-0:94.44.0.1",
                            "attribute": 2,
                        }
                    ]
                },
            )
        assert e.headend.stats["sent"] == 0
