"""Use cases described as data: named, typed parameters and named response values."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from emulator.headend import usecases
from emulator.headend.catalogue.asn1_args import explain_asn1
from emulator.headend.catalogue.described import (
    Description,
    DescriptionError,
    described_entry,
    descriptions,
    explain_named,
    get_path,
    load_descriptions,
    parse_path,
)
from emulator.headend.catalogue.dlms_args import explain_dlms
from emulator.headend.catalogue.gbz_args import explain_gbz
from emulator.headend.catalogue.hooks import HOOKS
from emulator.headend.usecases import BuildContext, UseCaseError
from gbcs.asn1 import Asn1Payload
from gbcs.dlms import AccessRequest
from gbcs.gbz import GbzPayload
from gbcs.usecases import DeviceType
from keys.roles import RemotePartyRole
from tests.test_headend import CHF, ESME, GPF, GSME, _env

COUNTER = 0x1234
CTX = BuildContext(COUNTER, bytes(8), bytes(8), RemotePartyRole.SUPPLIER, datetime.now(UTC))


def _base(desc: Description) -> dict[str, Any]:
    """Every parameter at the template's own value (a hook's explain step reads those
    of the parameters it places)."""
    placed: dict[str, Any] = {}
    if any(not p.path for p in desc.params):
        explain = HOOKS[str(desc.hook)].explain
        read = None if explain is None else explain(desc.template)
        assert read is not None, f"{desc.name}: its hook cannot read back what it places"
        placed = read[0]
    return {
        p.name: None
        if p.optional  # left out of the template: not given
        else p.from_structural(get_path(desc.template, p.path))
        if p.path
        else placed[p.name]
        for p in desc.params
    }


def _explain(payload: Any, code: int) -> dict[str, Any]:
    if isinstance(payload, AccessRequest):
        return explain_dlms(payload, code, COUNTER)
    if isinstance(payload, Asn1Payload):
        return explain_asn1(payload, code)
    assert isinstance(payload, GbzPayload)
    return explain_gbz(payload, code)


def _leaves(obj: Any, path: tuple[Any, ...] = ()) -> dict[tuple[Any, ...], Any]:
    if isinstance(obj, dict):
        out: dict[tuple[Any, ...], Any] = {}
        for k, v in obj.items():
            out |= _leaves(v, (*path, k))
        return out
    if isinstance(obj, list):
        out = {}
        for i, v in enumerate(obj):
            out |= _leaves(v, (*path, i))
        return out
    return {path: obj}


def test_the_bundled_descriptions_load_and_are_valid() -> None:
    descs = descriptions()
    assert len(descs) >= 7
    kinds = {usecases.get(d.name).targets for d in descs.values()}
    every = {t for targets in kinds for t in targets}
    assert {DeviceType.ESME, DeviceType.CHF, DeviceType.GSME, DeviceType.GPF} <= every
    for key, desc in descs.items():
        assert not usecases.is_typed(key), f"{key} is hand-written"
        entry = usecases.get(key)
        assert [p.name for p in entry.params] == [p.name for p in desc.params] + ["args"]
        for p in desc.params:  # each parameter has a second valid value
            assert p.example is not None and p.example != _base(desc)[p.name]
        payload = entry.payload(_base(desc), CTX)
        assert payload.encode()
        if not (desc.values or desc.params):  # a request GBCS fixes whole: nothing to name
            assert explain_named(desc, _explain(payload, entry.message_code)) == {}


def test_typed_beats_described_beats_structural() -> None:
    assert usecases.get("ECS17b") is usecases.CATALOG["ECS17B"]  # hand-written
    assert [p.name for p in usecases.get("ECS38").params] == ["limit", "args"]  # described
    assert [p.name for p in usecases.get("ECS47a").params][-1] == "args"  # described too
    assert usecases.get("0x004B") is usecases.get("ecs38")  # by code, cached


@pytest.mark.parametrize("name", sorted(descriptions()))
def test_build_explains_back_to_the_typed_arguments(name: str) -> None:
    desc = descriptions()[name]
    entry = usecases.get(name)
    for pick in (_base(desc), {p.name: p.example for p in desc.params}):
        typed = entry.parse_args(pick)
        structural = _explain(entry.payload(pick, CTX), entry.message_code)
        named = explain_named(desc, structural)
        assert named == {k: v for k, v in typed.items() if k != "args" and v is not None}


@pytest.mark.parametrize("name", sorted(n for n, d in descriptions().items() if d.params))
def test_one_named_argument_changes_exactly_its_path(name: str) -> None:
    desc = descriptions()[name]
    entry = usecases.get(name)
    base = _base(desc)
    before = _leaves(_explain(entry.payload(base, CTX), entry.message_code))
    for p in desc.params:
        changed = {**base, p.name: p.example}
        payload = entry.payload(changed, CTX)
        after = _leaves(_explain(payload, entry.message_code))
        diff = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
        assert diff, f"{name}.{p.name} changed nothing"
        outside = {k for k in diff if not any(k[: len(q)] == q for q in p.paths)}
        assert not outside or not p.paths, f"{name}.{p.name} changed {outside}"
        if p.is_list:  # the items' leaves change: each holds its structural value
            want = p.to_structural(entry.convert_arg(p.name, p.example))
            assert [after.get((*p.path, i)) for i in range(len(want))] == want
        elif p.kind != "records" and p.paths:  # a hook places those without a path
            assert diff == set(p.paths)
            for q in p.paths:
                got = after[q]
                if p.kind == "enum" and isinstance(got, str):  # ASN.1 explains enums by name
                    got = p.choices[p.from_structural(got)]
                assert got == p.to_structural(entry.convert_arg(p.name, p.example))
        assert payload.encode() != entry.payload(base, CTX).encode()


def test_explain_named_refuses_other_fixed_parts() -> None:
    desc = descriptions()["ECS39A"]
    structural = _explain(usecases.get("ECS39a").payload({"mpan": "1234567890123"}, CTX), 0x004C)
    assert explain_named(desc, structural) == {"mpan": "1234567890123"}
    structural["items"][0]["obis"] = "1-0:0.0.2.255"  # another object: not this template
    assert explain_named(desc, structural) is None
    del structural["items"][0]["value"]
    assert explain_named(desc, structural) is None
    gcs46 = descriptions()["GCS46"]
    assert explain_named(gcs46, {"components": []}) is None


def test_bad_named_arguments_name_the_parameter_and_what_is_allowed() -> None:
    cases = [
        ("ECS38", {"limit": 70000}, r"ECS38 limit.*out of range.*0\.\.65535"),
        ("ECS38", {"limit": "soon"}, r"ECS38 limit.*an integer 0\.\.65535"),
        ("ECS38", {}, r"ECS38 needs limit"),
        ("ECS39a", {"mpan": "12AB"}, r"ECS39a mpan.*matching \[0-9\]\{13\}"),
        ("ECS39b", {"mpan": 1234567890123}, r"ECS39b mpan.*text"),
        ("ECS82", {"mpan": "1"}, r"ECS82 does not take 'mpan'"),
    ]
    for name, args, message in cases:
        with pytest.raises(UseCaseError, match=message):
            usecases.get(name).payload(args, CTX)
    with pytest.raises(UseCaseError, match=r"either named arguments.*or structural args"):
        usecases.get("ECS38").payload(
            {
                "limit": 5,
                "args": {
                    "items": [
                        {"operation": "get", "class_id": 1, "obis": "0-0:94.44.0.1", "attribute": 2}
                    ]
                },
            },
            CTX,
        )


def test_enum_and_bool_parameters() -> None:
    from emulator.headend.catalogue.described import description_from

    def item(obis: str, value: Any) -> dict[str, Any]:
        return {
            "items": [
                {"operation": "set", "class_id": 1, "obis": obis, "attribute": 2, "value": value}
            ]
        }

    enum = description_from(
        "ECS38",
        {
            "template": item("0-0:94.44.0.1", 60),
            "params": {
                "limit": {
                    "path": "items[0].value",
                    "kind": "enum",
                    "choices": {"short": 60, "long": 600},
                    "default": "short",
                    "example": "long",
                    "help": "randomised offset limit",
                }
            },
        },
    )
    entry = described_entry(enum)
    assert entry.parse_args({})["limit"] == "short"
    assert entry.parse_args({"limit": "Long"})["limit"] == "long"
    with pytest.raises(UseCaseError, match=r"ECS38 limit.*one of short, long"):
        entry.parse_args({"limit": "medium"})
    structural = _explain(entry.payload({"limit": "long"}, CTX), entry.message_code)
    assert structural["items"][0]["value"] == 600
    assert explain_named(enum, structural) == {"limit": "long"}
    structural["items"][0]["value"] = 61  # not a named choice
    assert explain_named(enum, structural) is None

    flag = description_from(
        "ECS81",
        {
            "template": item("0-0:94.44.0.4", False),
            "params": {
                "locked": {"path": "items[0].value", "kind": "bool", "help": "h", "example": True}
            },
        },
    )
    entry = described_entry(flag)
    with pytest.raises(UseCaseError, match=r"ECS81 locked.*not true or false"):
        entry.parse_args({"locked": "maybe"})
    structural = _explain(entry.payload({"locked": "yes"}, CTX), entry.message_code)
    assert structural["items"][0]["value"] is True
    assert explain_named(flag, structural) == {"locked": True}


def _write(tmp_path: Path, text: str) -> Path:
    f = tmp_path / "d.toml"
    f.write_text(text)
    return f


def test_bad_descriptions_name_the_use_case_and_key(tmp_path: Path) -> None:
    get = '{ items = [{ operation = "get", class_id = 1, obis = "0-0:94.44.0.1", attribute = 2 }] }'
    bad_obis = get.replace("0-0:94.44.0.1", "0-0:94")

    def param(fields: str) -> str:
        return f"[ECS26c]\ntemplate = {get}\nparams.x = {{ {fields}, help = 'h', example = 3 }}\n"

    cases = [
        ("[ECS26c]\ntemplat = 1\n", r"ECS26c: unknown key 'templat'"),
        ("[ECS26c]\nhelp = 'x'\n", r"ECS26c.template: missing"),
        ("[NOPE]\ntemplate = {}\n", r"NOPE: not a command use case"),
        (
            f"[ECS26c]\ntemplate = {bad_obis}\n",
            r"ECS26c.template: .*items\[0\]\.obis",
        ),
        (
            param("path = 'items[0].value', kind = 'int'"),
            r"ECS26c.params.x.path: 'items\[0\]\.value' is not in the template",
        ),
        (
            param("path = 'items[0].attribute', kind = 'float'"),
            r"ECS26c.params.x.kind: 'float'; allowed: int, bool",
        ),
        (
            f"[ECS26c]\ntemplate = {get}\nvalues.x = {{ path = 'results[0]..data' }}\n",
            r"ECS26c.values.x.path: bad path",
        ),
        (
            param("path = 'items[0].attribute', kind = 'int', max = 1"),
            r"ECS26c.params.x: the template's value does not fit",
        ),
        ("[ECS26c\n", r"not valid TOML"),
    ]
    for text, message in cases:
        with pytest.raises(DescriptionError, match=message):
            load_descriptions(_write(tmp_path, text))


def test_paths() -> None:
    assert parse_path("components[0].body.records[1].value") == (
        "components",
        0,
        "body",
        "records",
        1,
        "value",
    )
    for bad in ("", "a.", ".a", "[0]", "a[x]", "a b"):
        with pytest.raises(ValueError):
            parse_path(bad)


@pytest.mark.asyncio
async def test_described_use_cases_end_to_end() -> None:
    async with _env() as e:
        power = await e.request(ESME, "ECS17c")
        assert power.values == {
            "ok": True,
            "active_import_power": 0,
            "active_import_power_unit": "W",  # from the register's scaler-unit
        }
        await e.request(ESME, "ECS38", limit=600)  # critical: signed by the head-end
        # read back through the structural form of the same object
        limit = await e.request(
            ESME,
            "ECS26d",
            args={
                "items": [
                    {"operation": "get", "class_id": 1, "obis": "0-0:94.44.0.1", "attribute": 2}
                ]
            },
        )
        assert limit.values["results"][0]["data"] == {"type": "long-unsigned", "value": 600}
        assert (await e.request(ESME, "ECS39a", mpan="1234567890123")).values == {"ok": True}
        balance = await e.request(ESME, "ECS82")
        assert balance.values["ok"] is True and isinstance(balance.values["meter_balance"], int)
        chf = await e.request(CHF, "DBCH01")
        assert chf.values["ok"] is True and set(chf.values["operating_channel"]) <= {"0", "1"}
        for eui in (GSME, GPF):
            mprn = await e.request(eui, "GCS46")
            assert mprn.values["ok"] is True and "mprn" in mprn.values


@pytest.mark.asyncio
async def test_asn1_use_cases_from_named_arguments() -> None:
    """Join, read the device log, unjoin and set the GSME clock from named arguments;
    the ASN.1 response codes come back by name."""
    gpf = GPF.hex().upper() if isinstance(GPF, bytes) else GPF
    async with _env() as e:
        joined = await e.request(GSME, "CS03B", other_device_id=gpf, other_device_type="gpf")
        assert joined.values == {"ok": True, "response_code": "success"}
        log = (await e.request(GSME, "CS07")).values
        assert log["response_code"] == "success"
        assert [n["children"][0]["hex"] for n in log["device_log"]] == [gpf.upper()]
        for code in ("success", "not_in_device_log"):  # the second unjoin finds nothing
            unjoin = await e.request(GSME, "CS04B", other_device_id=gpf)
            assert unjoin.values["response_code"] == code
        clock = await e.request(
            GSME,
            "GCS28",
            validity_interval_start="2000-01-01T00:00:00Z",
            validity_interval_end="2099-12-31T00:00:00Z",
        )
        assert clock.values["device_time_status"] == "reliable"
        refused = await e.request(ESME, "CS03A1", other_device_id=gpf, other_device_type="gpf")
        assert refused.values["response_code"] == "invalid_join_method_and_role"


@pytest.mark.interop
def test_descriptions_carry_the_whole_request_gbcs_defines() -> None:
    """Each description's template has the objects/attributes DCC's reference command of
    that use case has (when the reference set holds one): a description that sends a
    convenient subset would be refused or answered differently by a real meter."""
    from emulator.cli.usecase_cmd import _with_named
    from emulator.headend.catalogue.described import all_descriptions
    from emulator.headend.catalogue.frames import explain_frame
    from emulator.headend.catalogue.generic import generic_name
    from gbcs.usecases import lookup
    from tests.interop import vectors

    checked = 0
    for v in vectors():
        if v["direction"] != "command" or v["form"] == "malformed":
            continue
        uc = lookup(int(v["message_code"], 16))
        if uc is None or generic_name(uc).upper() not in all_descriptions():
            continue  # a use case sent structurally
        explained = _with_named(explain_frame(bytes.fromhex(v["hex"]), v["id"]))
        assert "named" in explained, (generic_name(uc), v["id"])
        checked += 1
    assert checked >= 280


def test_usecase_explain_shows_named_arguments(tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from emulator.cli.usecase_cmd import usecase_group
    from emulator.headend.catalogue.frames import build_frame

    payload = usecases.get("ECS39a").payload({"mpan": "1234567890123"}, CTX)
    obj = {
        "use_case": "ECS39a",
        "args": _explain(payload, 0x004C),
        "header": {"originator": "90B3D51F30010000", "recipient": ESME.hex(), "counter": COUNTER},
    }
    f = tmp_path / "m.hex"
    f.write_text(build_frame(obj).hex())
    result = CliRunner().invoke(usecase_group, ["explain", "--file", str(f)])
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output)
    assert list(shown)[list(shown).index("args") + 1] == "named"
    assert shown["named"] == {"mpan": "1234567890123"}
    # a command that does not have its description's shape shows no named arguments
    other = {
        **obj,
        "args": {
            "items": [
                {"operation": "get", "class_id": 22, "obis": "0-0:15.0.0.255", "attribute": 4}
            ]
        },
    }
    f.write_text(build_frame(other).hex())
    result = CliRunner().invoke(usecase_group, ["explain", "--file", str(f)])
    assert result.exit_code == 0 and "named" not in json.loads(result.output)


# ------------------------------------------------------------- also, header, opaque


def test_header_parameters_default_to_the_command_header() -> None:
    desc = descriptions()["ECS17D"]
    header = {p.name: p.header for p in desc.params if p.header}
    assert header == {
        "originator_system_title": "originator",
        "recipient_system_title": "recipient",
    }
    entry = usecases.get("ECS17d")
    assert not any(p.required for p in entry.params if p.name in header)
    ctx = BuildContext(
        COUNTER, bytes.fromhex("90B3D51F30010000"), ESME, RemotePartyRole.SUPPLIER, CTX.now
    )
    named = explain_named(desc, _explain(entry.payload({}, ctx), entry.message_code))
    assert named is not None
    assert named["originator_system_title"] == "90B3D51F30010000"
    assert named["recipient_system_title"] == ESME.hex().upper()
    given = entry.payload({"originator_system_title": "90B3D51F30020000"}, ctx)
    assert (
        explain_named(desc, _explain(given, entry.message_code))["originator_system_title"]
        == "90B3D51F30020000"
    )


def test_also_puts_one_value_in_every_place_and_reads_back_only_when_they_agree() -> None:
    from emulator.headend.catalogue.described import description_from

    def item(obis: str) -> dict[str, Any]:
        return {"operation": "set", "class_id": 1, "obis": obis, "attribute": 2, "value": 60}

    desc = description_from(
        "ECS38",
        {
            "template": {"items": [item("0-0:94.44.0.1"), item("0-0:94.44.0.2")]},
            "params": {
                "limit": {
                    "path": "items[0].value",
                    "also": ["items[1].value"],
                    "kind": "int",
                    "help": "h",
                    "example": 90,
                }
            },
        },
    )
    entry = described_entry(desc)
    structural = _explain(entry.payload({"limit": 900}, CTX), entry.message_code)
    assert [i["value"] for i in structural["items"]] == [900, 900]
    assert explain_named(desc, structural) == {"limit": 900}
    structural["items"][1]["value"] = 901  # the repeated field disagrees: not this shape
    assert explain_named(desc, structural) is None
    bad = {
        "template": {"items": [item("0-0:94.44.0.1"), {**item("0-0:94.44.0.2"), "value": 61}]},
        "params": {
            "limit": {
                "path": "items[0].value",
                "also": ["items[1].value"],
                "kind": "int",
                "help": "h",
                "example": 90,
            }
        },
    }
    with pytest.raises(DescriptionError, match=r"ECS38.params.limit.also\[0\]: the template"):
        description_from("ECS38", bad)
    bad["params"]["limit"]["also"] = ["items[2].value"]
    with pytest.raises(DescriptionError, match=r"also\[0\]: 'items\[2\]\.value' is not in"):
        description_from("ECS38", bad)


def test_octets_parameters_only_where_gbcs_carries_opaque_octets() -> None:
    """A named parameter is opaque hex only at a position whose GBCS type is opaque
    octets (UTRNs, key material, COSEM octet names); everything else is typed."""
    from emulator.headend.catalogue.asn1_args import TYPED_CODES, iter_leaves
    from emulator.headend.catalogue.described import all_descriptions
    from emulator.headend.catalogue.dlms_args import OPAQUE_POSITIONS
    from emulator.headend.catalogue.gbz_args import OPAQUE_KEYS

    seen = 0
    for name, desc in all_descriptions().items():
        for p in desc.params:
            if p.kind != "octets" or not p.path:
                continue
            seen += 1
            last = p.path[-1]
            code = usecases.get(name).message_code
            if code in TYPED_CODES:  # ASN.1: the schema says which leaves are opaque
                where = "args" + "".join(
                    f"[{k}]" if isinstance(k, int) else f".{k}" for k in p.path
                )
                # with the example in place: an optional field or a list's items are
                # not in the template
                filled = desc.fill({p.name: p.example})
                kinds = {leaf.path: leaf.kind for leaf in iter_leaves(filled, code)}
                assert kinds.get(where + ("[0]" if p.is_list else "")) == "opaque", (name, p.name)
            elif p.path[0] == "items":
                obis = get_path(desc.template, p.path[:2]).get("obis")
                assert last in OPAQUE_POSITIONS or obis in OPAQUE_POSITIONS, (name, p.name)
            else:
                assert last in OPAQUE_KEYS, (name, p.name)
    assert seen >= 2  # the UTRNs of CS01b / PCS01 at least


def test_optional_list_and_named_choice_parameters() -> None:
    """An optional field is left out unless given (and reads back as not given); a list
    parameter takes items of its kind; enum choices may map to structural names."""
    from emulator.headend.catalogue.described import description_from

    join = {
        "join_method_and_role": "method_c",
        "entity_id": "0000000000000000",
        "device_type": "gsme",
    }
    desc = description_from(
        "CS03C",
        {
            "template": join,
            "params": {
                "device_type": {
                    "path": "device_type",
                    "kind": "enum",
                    "choices": {"gas_meter": "gsme", "prepayment_display": "ppmid"},
                    "help": "h",
                    "example": "prepayment_display",
                },
                "certificate": {
                    "path": "certificate",
                    "kind": "octets",
                    "optional": True,
                    "help": "h",
                    "example": "3000",
                },
            },
        },
    )
    entry = described_entry(desc)
    without = entry.payload({"device_type": "gas_meter"}, CTX)
    with_cert = entry.payload({"device_type": "gas_meter", "certificate": "3000"}, CTX)
    assert without.encode() != with_cert.encode()
    structural = _explain(without, entry.message_code)
    assert structural["certificate"] is None and structural["device_type"] == "gsme"
    assert explain_named(desc, structural) == {"device_type": "gas_meter"}
    assert explain_named(desc, _explain(with_cert, entry.message_code)) == {
        "device_type": "gas_meter",
        "certificate": "3000",
    }
    roles = description_from(
        "CS02a",
        {
            "template": {
                "authorising_remote_party_ta_cell_identifier": {
                    "remote_party_role": "access_control_broker",
                    "key_usage": "key_agreement",
                },
                "remote_party_roles_credentials_required": ["supplier"],
            },
            "params": {
                "roles": {
                    "path": "remote_party_roles_credentials_required",
                    "kind": "enum",
                    "list": True,
                    "min_items": 1,
                    "max_items": 3,
                    "choices": {"supplier": "supplier", "network_operator": "network_operator"},
                    "help": "h",
                    "example": ["supplier", "network_operator"],
                }
            },
        },
    )
    entry = described_entry(roles)
    assert entry.parse_args({"roles": "supplier, network_operator"})["roles"] == [
        "supplier",
        "network_operator",
    ]
    built = _explain(entry.payload({"roles": ["network_operator"]}, CTX), entry.message_code)
    assert built["remote_party_roles_credentials_required"] == ["network_operator"]
    assert explain_named(roles, built) == {"roles": ["network_operator"]}
    for bad, message in (
        ([], r"0 items: expected a list of 1\.\.3 items"),
        (["supplier", "nobody"], r"item 1: 'nobody' is not one of supplier, network_operator"),
    ):
        with pytest.raises(UseCaseError, match=message):
            entry.parse_args({"roles": bad})
    with pytest.raises(DescriptionError, match=r"optional field is not in the template"):
        description_from(
            "CS03C",
            {
                "template": {**join, "certificate": "3000"},
                "params": {
                    "certificate": {
                        "path": "certificate",
                        "kind": "octets",
                        "optional": True,
                        "help": "h",
                        "example": "3000",
                    }
                },
            },
        )


def test_a_shared_name_is_described_by_its_code() -> None:
    from emulator.headend.catalogue.described import description_from

    desc = description_from("CS02b@0x0104", _cs02b_template())
    assert desc.name == "CS02b@0x0104"


def _cs02b_template() -> dict[str, Any]:
    from tests.interop import interop_dir

    if interop_dir() is None:
        pytest.skip("needs ../shared/interop for a CS02b command to take the shape of")
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import vectors

    v = next(x for x in vectors() if x["message_code"] == "0x0104" and x["direction"] == "command")
    return {"template": explain_frame(bytes.fromhex(v["hex"]))["args"]}


def test_a_counter_header_parameter_defaults_to_the_command_counter() -> None:
    desc = descriptions()["CS02B@0X0102"]
    p = next(p for p in desc.params if p.name == "authorising_remote_party_seq_number")
    assert p.header == "counter" and not p.required
    entry = usecases.get("CS02b@0x0102")
    from emulator.headend.catalogue.asn1_args import explain_asn1

    ctx = BuildContext(4321, bytes(8), ESME, RemotePartyRole.SUPPLIER, CTX.now)
    base = {q.name: q.example for q in desc.params if q.required}
    built = explain_asn1(entry.payload(base, ctx), entry.message_code)
    assert built["authorising_remote_party_control"]["authorising_remote_party_seq_number"] == 4321
    given = explain_asn1(
        entry.payload({**base, "authorising_remote_party_seq_number": 7}, ctx), entry.message_code
    )
    assert given["authorising_remote_party_control"]["authorising_remote_party_seq_number"] == 7
