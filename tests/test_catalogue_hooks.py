"""The typed use cases as descriptions plus hooks (catalogue/hooks.py, typed.toml)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from devices.chf import HAN_DEVICE_TYPES
from emulator.headend import usecases
from emulator.headend.catalogue.described import (
    DescriptionError,
    all_descriptions,
    described_entry,
    descriptions,
    load_descriptions,
    typed_descriptions,
)
from emulator.headend.catalogue.dlms_args import explain_dlms
from emulator.headend.catalogue.hooks import CONVERTERS, HOOKS
from emulator.headend.usecases import BuildContext, ResponseView, UseCaseError
from gbcs.axdr import Data
from gbcs.dlms import AccessResponse, DataAccessResult, GetResult
from gbcs.usecases import DeviceType
from keys.roles import RemotePartyRole as R

ORIGINATOR = bytes.fromhex("90B3D51F30FE0003")
RECIPIENT = bytes.fromhex("00DB1234567890A0")
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)
CTX = BuildContext(0x42, ORIGINATOR, RECIPIENT, R.NETWORK_OPERATOR, NOW)

TYPED = [
    *("ECS17a", "ECS17b", "ECS18a", "ECS18b", "ECS37", "ECS57", "ECS42", "ECS43", "ECS44"),
    *("ECS45", "ECS52", "ECS70", "ECS35a", "ECS35b", "GCS13a", "GCS38", "CS06", "CCS01"),
]


def test_the_typed_catalogue_is_the_typed_descriptions_in_order() -> None:
    assert usecases.names() == tuple(TYPED)
    assert set(typed_descriptions()) == {n.upper() for n in TYPED}
    assert not set(typed_descriptions()) & set(descriptions())  # described stays described
    assert set(all_descriptions()) == set(typed_descriptions()) | set(descriptions())
    for name in TYPED:
        entry = usecases.get(name)
        assert entry is usecases.CATALOG[name.upper()]
        assert usecases.is_typed(name)
        assert "args" not in [p.name for p in entry.params]  # no structural parameter


def test_roles_targets_and_prefetch_are_kept() -> None:
    assert usecases.get("ECS17a").default_role is R.NETWORK_OPERATOR
    assert usecases.get("ECS57").default_role is R.NETWORK_OPERATOR
    assert usecases.get("CCS01").default_role is R.ACCESS_CONTROL_BROKER
    ecs52 = usecases.get("ECS52")
    assert ecs52.role_for("CHF") is R.ACCESS_CONTROL_BROKER
    assert ecs52.role_for("ESME") is R.SUPPLIER
    pre = usecases.get("ECS37").prefetch
    assert pre is not None
    assert (pre.use_case, pre.flag, pre.into) == ("ECS18b", "read_back", "current")
    assert pre.select({"schedule": ["x"]}) == ["x"]


def test_parameters_keep_their_names_kinds_defaults_and_help() -> None:
    ecs37 = {p.name: p for p in usecases.get("ECS37").params}
    assert [(p.kind, p.required, p.default) for p in ecs37.values()] == [
        ("time", True, None),
        ("time", True, None),
        ("schedule", False, None),
        ("bool", False, False),
    ]
    assert ecs37["start"].help == "window start, HH:MM UTC"  # verbatim: no "(allowed)"
    ecs57 = usecases.get("ECS57").params[0]
    assert (ecs57.kind, ecs57.default) == ("choices", ("import", "import_window", "export"))
    ccs01 = {p.name: p for p in usecases.get("CCS01").params}
    expected = ", ".join(f"{n.lower()} ({k})" for k, n in HAN_DEVICE_TYPES.items())
    assert ccs01["device_type"].help == f"device type: {expected}"
    assert ccs01["device"].convert("00DB1234567890B0") == bytes.fromhex("00DB1234567890B0")
    assert usecases.get("ECS70").parse_args({})["tolerance"] == 60


def test_ecs17b_carries_the_system_titles_of_its_context() -> None:
    payload = usecases.get("ECS17b").payload({}, CTX)
    shown = explain_dlms(payload, usecases.get("ECS17b").message_code, CTX.counter)
    options = shown["items"][0]["parameter"]["protection_parameters"][0]["protection_options"]
    assert options["originator_system_title"] == ORIGINATOR.hex().upper()
    assert options["recipient_system_title"] == RECIPIENT.hex().upper()


def test_ecs37_writes_the_two_switch_times_into_the_current_schedule() -> None:
    e = usecases.get("ECS37")
    shown = explain_dlms(e.payload({"start": "06:15", "end": "07:45"}, CTX), 0x0049, CTX.counter)
    times = [x["switch_time"] for x in shown["items"][0]["value"]]
    assert times == ["06:15:00.00", "07:45:00.00"]


def test_ecs57_sends_only_the_chosen_registers() -> None:
    e = usecases.get("ECS57")
    one = explain_dlms(e.payload({"registers": "export"}, CTX), e.message_code, CTX.counter)
    assert [x["obis"] for x in one["items"]] == ["1-0:2.6.0.255"]
    every = explain_dlms(e.payload({}, CTX), e.message_code, CTX.counter)
    assert len(every["items"]) == 3


def test_ecs35_range_and_ecs70_window_come_from_the_arguments_and_the_clock() -> None:
    log = usecases.get("ECS35a")
    shown = explain_dlms(log.payload({"start": "2025-01-01T00:00Z"}, CTX), 0x0024, CTX.counter)
    assert shown["items"][0]["selection"]["from"] == "2025-01-01T00:00:00Z"
    with pytest.raises(UseCaseError, match="ends before it starts"):
        log.payload({"start": "2026-01-01T00:00Z", "end": "2025-01-01T00:00Z"}, CTX)
    clock = usecases.get("ECS70")
    shown = explain_dlms(clock.payload({"tolerance": 5}, CTX), clock.message_code, CTX.counter)
    window = shown["items"][1]["parameter"]
    assert window["validity_interval_start"].startswith("2026-01-01T11:59:55")
    assert window["validity_interval_end"].startswith("2026-01-01T12:00:05")


class _Message:
    """What a decoder reads of a verified response: its payload."""

    def __init__(self, payload: AccessResponse) -> None:
        self.payload = payload


def _response(*items: tuple[Data, int]) -> Any:
    return _Message(
        AccessResponse(1, tuple(d for d, _ in items), tuple(GetResult(c) for _, c in items))
    )


def test_dlms_values_and_named_errors() -> None:
    e = usecases.get("ECS17a")
    su = Data.structure(Data.integer(-3), Data.enum(30))
    ok = _response(
        (Data.double_long_unsigned(1234), 0),
        (su, 0),
        (Data.null(), int(DataAccessResult.OBJECT_UNAVAILABLE)),
        (su, 0),
    )
    values = e.values(ResponseView(ok, (), {}))
    assert values["ok"] is False
    assert values["active_export"] == 1.234 and values["active_export_unit"] == "Wh"
    assert "reactive_export" not in values  # the failed item is in errors, by name
    assert values["errors"] == {"reactive_export": "object-unavailable (11)"}
    with pytest.raises(UseCaseError, match="expected 4 result"):
        e.values(ResponseView(_response((Data.null(), 0)), (), {}))


def test_ecs45_names_the_supply_state() -> None:
    values = usecases.get("ECS45").values(ResponseView(_response((Data.enum(2), 0)), (), {}))
    assert values == {"ok": True, "control_state": 2, "supply_state": "armed"}


def test_value_docs_document_the_response_values() -> None:
    docs = {d.name: d for d in usecases.get("ECS18b").value_docs}
    assert docs["import_md"].unit == "from the scaler-unit"
    assert docs["import_md_time"].kind == "datetime"
    assert docs["schedule"].kind == "list" and docs["schedule"].help
    for name in TYPED:
        assert all(d.help for d in usecases.get(name).value_docs), name
    assert usecases.get("CS02a").value_docs == ()  # structural


def test_the_hooks_and_converters_named_exist() -> None:
    for desc in typed_descriptions().values():
        assert desc.hook is None or desc.hook in HOOKS
        for p in desc.params:
            assert p.converter is None or p.converter in CONVERTERS


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.toml"
    path.write_text(text)
    load_descriptions(path)


ECS45 = """[ECS45]
template = { items = [
  { operation = "get", class_id = 70, obis = "0-0:96.3.10.255", attribute = 3 },
] }
"""


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('hook = "nope"', r"ECS45\.hook: 'nope'; allowed: ecs17b"),
        ('role = "king"', r"ECS45\.role: unknown remote-party role 'king'"),
        ('target_roles = { GSME = "acb" }', r"ECS45\.target_roles\.GSME: not a target"),
        ("structural = 1", r"ECS45\.structural: expected true or false"),
        ("results = [1]", r"ECS45\.results: expected a list of item names"),
        ('prefetch = { use_case = "ECS18b" }', r"ECS45\.prefetch\.flag: missing"),
        (
            'params.t = { kind = "time", convert = "clock", example = "1:00", help = "h" }',
            r"ECS45\.params\.t\.convert: 'clock'; allowed: int",
        ),
        (
            'params.t = { kind = "time", convert = "time", example = "1:00", help = "h" }',
            r"ECS45\.params\.t\.path: missing",  # no hook fill: a path is needed
        ),
        ('values.v = { kind = "number", help = "h" }', r"ECS45\.values\.v\.path: missing"),
    ],
)
def test_bad_hook_keys_name_the_use_case_and_key(tmp_path: Path, extra: str, message: str) -> None:
    with pytest.raises(DescriptionError, match=message):
        _load(tmp_path, ECS45 + extra + "\n")


def test_a_hook_that_does_not_fit_its_template_fails_at_load(tmp_path: Path) -> None:
    text = ECS45 + 'hook = "ecs37"\nparams.start = { kind = "time", convert = "time", '
    text += 'required = true, example = "1:00", help = "h" }\n'
    with pytest.raises(DescriptionError, match=r"ECS45: the hook 'ecs37' does not build"):
        _load(tmp_path, text)


def test_a_hooked_description_compiles_outside_the_bundle(tmp_path: Path) -> None:
    text = ECS45 + 'structural = false\nrole = "network-operator"\nresults = ["state"]\n'
    text += 'values.state = { path = "results[0].data", help = "h" }\n'
    path = tmp_path / "x.toml"
    path.write_text(text)
    entry = described_entry(load_descriptions(path)["ECS45"])
    assert [p.name for p in entry.params] == []
    assert entry.default_role is R.NETWORK_OPERATOR
    assert entry.targets == (DeviceType.ESME,)
    bad = _response((Data.null(), int(DataAccessResult.READ_WRITE_DENIED)))
    assert entry.values(ResponseView(bad, (), {}))["errors"] == {"state": "read-write-denied (3)"}
