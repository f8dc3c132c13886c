"""``gbcs-emu usecase show|list``: every use case documents its parameters and values."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from emulator.cli.usecase_cmd import usecase_group
from emulator.headend import usecases
from emulator.headend.catalogue.asn1_args import describe_asn1
from emulator.headend.catalogue.described import descriptions
from emulator.headend.catalogue.docs import use_case_doc
from emulator.headend.catalogue.generic import command_use_cases, generic_name
from emulator.headend.usecases import UseCaseError


def _run(*args: str) -> str:
    result = CliRunner().invoke(usecase_group, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_every_command_use_case_has_a_document() -> None:
    styles: dict[str, int] = {}
    for uc in command_use_cases():
        name = generic_name(uc)
        doc = use_case_doc(name)
        entry = usecases.get(name)
        assert doc["message_code"] == f"0x{uc.code:04X}"
        assert [p["name"] for p in doc["params"]] == [p.name for p in entry.params]
        assert all(p["help"] for p in doc["params"]), name
        styles[doc["arguments"]] = styles.get(doc["arguments"], 0) + 1
        if doc["arguments"] == "structural":
            assert [p["name"] for p in doc["params"]] == ["args"]
        if uc.payload_kind == "asn1":  # the fields its structural args take (maybe none)
            schema = describe_asn1(uc.code)
            assert schema is not None, name
            assert len(doc["asn1_fields"]) == len(schema["fields"]), name
    assert styles.get("described", 0) == len(descriptions()) - _typed_described()


def _typed_described() -> int:
    """Described use cases that are served by a hand-written entry instead."""
    return sum(1 for n in descriptions() if usecases.is_typed(n))


@pytest.mark.parametrize("name", sorted(n for n, d in descriptions().items() if d.values)[:40])
def test_described_values_are_documented(name: str) -> None:
    doc = use_case_doc(name)
    assert [v["name"] for v in doc["values"]] == [v.name for v in descriptions()[name].values]


def test_show_prints_parameters_values_and_what_each_accepts() -> None:
    text = _run("show", "ECS38")
    assert text.startswith("ECS38  0x004B  Update Randomised Offset Limit")
    assert "limit (int, required): randomised offset limit in seconds (an integer 0..65535)" in text
    assert "critical" in text.splitlines()[1]
    power = _run("show", "ecs17c")  # case-insensitive
    assert "active_import_power (number, from the scaler-unit)" in power
    doc = json.loads(_run("show", "0x004B", "--json"))  # by message code
    assert doc["name"] == "ECS38" and doc["params"][0] == {
        "name": "limit",
        "kind": "int",
        "required": True,
        "help": "randomised offset limit in seconds (an integer 0..65535)",
    }
    shared = _run("show", "CS02b@0x0104")
    assert "args.replacements" in shared and "arguments: described" in shared


def test_show_refuses_an_unknown_name_in_one_line() -> None:
    result = CliRunner().invoke(usecase_group, ["show", "NOPE99"])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: unknown use case 'NOPE99' (see gbcs-emu usecase list)"
    with pytest.raises(UseCaseError):
        use_case_doc("CS02b")  # several codes share the name: it lists them


def test_list_marks_how_arguments_are_given_and_filters_by_device() -> None:
    rows = json.loads(_run("list", "--json"))
    assert len(rows) == len(command_use_cases())
    assert {r["arguments"] for r in rows} <= {"typed", "described", "structural"}
    by_name = {r["name"]: r for r in rows}
    assert by_name["ECS38"]["arguments"] == "described"
    assert by_name["ECS37"]["arguments"] == "typed"
    gpf = json.loads(_run("list", "--device", "gpf", "--json"))
    assert gpf and all("GPF" in r["targets"] for r in gpf)
    assert {r["name"] for r in gpf} < set(by_name)
    text = _run("list", "--device", "GSME")
    assert any(line.startswith("GCS13a ") and " typed " in line for line in text.splitlines())
