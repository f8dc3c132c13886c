"""The typed use cases as descriptions plus hooks (catalogue/hooks.py, typed.toml)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
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
    explain_named,
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
    assert usecases.get("ECS47a").value_docs == ()  # described, no response values


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


# ------------------------------------------------- explain steps (hooks.Hook.explain)

HEADER = {"originator": ORIGINATOR.hex().upper(), "recipient": RECIPIENT.hex().upper()}
ECS37_CURRENT = [
    {"index": 3, "enable": True, "script_logical_name": "00000A8064FF", "script_selector": 1,
     "switch_time": "16:00:00.00", "validity_window": 65535, "exec_weekdays": "1111111",
     "exec_specdays": "", "begin_date": "000001FFFF", "end_date": "FFFFFFFFFF"},
    {"index": 4, "enable": True, "script_logical_name": "00000A8064FF", "script_selector": 2,
     "switch_time": "19:00:00.00", "validity_window": 65535, "exec_weekdays": "1111111",
     "exec_specdays": "", "begin_date": "000001FFFF", "end_date": "FFFFFFFFFF"},
]  # fmt: skip
HASH = "11" * 32


def _explained(name: str, named: dict[str, Any], counter: int = 0x42) -> tuple[bytes, Any]:
    """The pre-command built from ``named`` and its explanation, through JSON text (as
    ``usecase explain`` prints it)."""
    from emulator.cli.usecase_cmd import _with_named
    from emulator.headend.catalogue.frames import build_frame, explain_frame

    header = {**HEADER, "counter": counter}
    frame = build_frame({"use_case": name, "named": named, "header": header})
    return frame, json.loads(json.dumps(_with_named(explain_frame(frame))))


@pytest.mark.parametrize(
    ("name", "given", "explained"),
    [
        # ECS37: read_back is the head-end's choice (false, its neutral value); current
        # only where the entries are not Table 28d's (their switch times are the set ones)
        ("ECS37", {"start": "06:15", "end": "07:45"},
         {"start": "06:15:00.00", "end": "07:45:00.00", "read_back": False}),
        ("ECS37", {"start": "06:15", "end": "07:45:30", "current": ECS37_CURRENT},
         {"start": "06:15:00.00", "end": "07:45:30.00", "read_back": False,
          "current": [ECS37_CURRENT[0] | {"switch_time": "06:15:00.00"},
                      ECS37_CURRENT[1] | {"switch_time": "07:45:30.00"}]}),
        ("ECS57", {}, {"registers": ["import", "import_window", "export"]}),
        ("ECS57", {"registers": "export, import"}, {"registers": ["export", "import"]}),
        # ECS70: an explicit window (tolerance, unused by it, left to its default)
        ("ECS70", {"valid_from": "2026-03-01T10:00Z", "valid_to": "2026-03-01T10:02Z"},
         {"valid_from": "2026-03-01T10:00:00Z", "valid_to": "2026-03-01T10:02:00Z"}),
        ("ECS70", {"valid_from": "2026-03-01T10:00Z", "valid_to": "2026-03-01T11:00+01:00",
                   "time": "2026-03-01T10:00:59.25Z"},
         {"valid_from": "2026-03-01T10:00:00Z", "valid_to": "2026-03-01T10:00:00Z",
          "time": "2026-03-01T10:00:59.25Z"}),
        # ECS35a/b: the ends the fill step defaults to (2000, no limit) are left out
        ("ECS35a", {}, {}),
        ("ECS35a", {"start": "2025-06-01T00:00Z"}, {"start": "2025-06-01T00:00:00Z"}),
        ("ECS35b", {"start": "2025-06-01T00:00Z", "end": "2025-07-01T12:30:05Z"},
         {"start": "2025-06-01T00:00:00Z", "end": "2025-07-01T12:30:05Z"}),
        ("CS06", {"image_hash": HASH}, {"image_hash": HASH.upper()}),
        ("CS06", {"image_hash": HASH, "execute_at": "2026-02-01T03:00+01:00"},
         {"image_hash": HASH.upper(), "execute_at": "2026-02-01T02:00:00Z"}),
    ],
)  # fmt: skip
def test_placed_parameters_explain_back_and_rebuild_the_same_frame(
    name: str, given: dict[str, Any], explained: dict[str, Any]
) -> None:
    from emulator.headend.catalogue.frames import build_frame

    frame, obj = _explained(name, given)
    assert obj["named"] == explained
    assert build_frame({k: v for k, v in obj.items() if k != "args"}) == frame


def test_ecs70_window_around_the_clock_explains_to_that_window() -> None:
    from emulator.headend.catalogue.frames import build_frame

    frame, obj = _explained("ECS70", {"tolerance": 5})  # around the head-end's clock
    named = obj["named"]
    assert set(named) == {"valid_from", "valid_to"}
    start, end = (datetime.fromisoformat(named[k]) for k in ("valid_from", "valid_to"))
    assert end - start == timedelta(seconds=10)
    assert build_frame({k: v for k, v in obj.items() if k != "args"}) == frame


def _structural(name: str, named: dict[str, Any], counter: int = 0x42) -> dict[str, Any]:
    return _explained(name, named, counter)[1]["args"]


def test_cs06_explains_only_with_the_header_counter_it_carries() -> None:
    desc = all_descriptions()["CS06"]
    s = _structural("CS06", {"image_hash": HASH}, counter=77)
    assert s["originator_counter"] == 77
    assert explain_named(desc, s, ORIGINATOR, RECIPIENT, 77) == {"image_hash": bytes.fromhex(HASH)}
    assert explain_named(desc, s, ORIGINATOR, RECIPIENT, 78) is None  # not its own counter
    later = s | {"execution_date_time": "2026-01-01T00:00:00.5Z"}  # the fill writes seconds
    assert explain_named(desc, later, ORIGINATOR, RECIPIENT, 77) is None
    assert explain_named(desc, s | {"execution_date_time": "soon"}, None, None, 77) is None


def _with(s: dict[str, Any], path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(s)
    target = out
    for k in path[:-1]:
        target = target[k]
    target[path[-1]] = value
    return out


def test_what_the_fill_steps_would_not_build_explains_to_nothing() -> None:
    d = all_descriptions()
    ecs57 = _structural("ECS57", {})
    items = ecs57["items"]
    assert explain_named(d["ECS57"], {"items": [items[0], items[0]]}) is None  # twice
    other = _with(items[0], ("obis",), "1-0:3.6.0.255")
    assert explain_named(d["ECS57"], {"items": [other]}) is None  # not a demand register
    assert explain_named(d["ECS57"], {"items": []}) is None
    assert explain_named(d["ECS57"], {"items": [items[2], items[1]]}) == {
        "registers": ("export", "import_window")
    }

    ecs70 = _structural(
        "ECS70", {"valid_from": "2026-03-01T10:00Z", "valid_to": "2026-03-01T10:02Z"}
    )
    window = ("items", 1, "parameter")
    offset = _with(ecs70, (*window, "validity_interval_end"), "2026-03-01T10:02:00.00+00:00")
    assert explain_named(d["ECS70"], offset) is None  # a deviation the fill never writes
    part = _with(ecs70, (*window, "preset_time"), "2026-03-01T*:*:*.*")
    assert explain_named(d["ECS70"], part) is None  # neither unspecified nor an instant
    backwards = _with(ecs70, (*window, "validity_interval_start"), "2026-03-02T00:00:00.00")
    assert explain_named(d["ECS70"], backwards) is None  # ends before it starts
    assert explain_named(d["ECS70"], {"items": ecs70["items"][:4]}) is None

    ecs37 = _structural("ECS37", {"start": "06:15", "end": "07:45"})
    entries = ecs37["items"][0]["value"]
    assert explain_named(d["ECS37"], _with(ecs37, ("items", 0, "value"), entries * 2)) is None
    same = _with(ecs37, ("items", 0, "value", 1, "script_selector"), 1)
    assert explain_named(d["ECS37"], same) is None  # two start entries

    log = _structural("ECS35a", {"start": "2025-06-01T00:00Z"})
    reversed_range = _with(log, ("items", 0, "selection", "to"), "2025-01-01T00:00:00Z")
    assert explain_named(d["ECS35A"], reversed_range) is None
    assert explain_named(d["ECS35B"], log) is None  # the other log's object


@pytest.mark.parametrize("name", ["ecs37", "ecs57", "ecs70", "log", "cs06"])
@pytest.mark.parametrize(
    "structural",
    [{}, {"items": "x"}, {"items": [1]}, {"items": [{}] * 5}, {"items": [None]}, {"x": 1}],
)
def test_explain_steps_refuse_other_shapes_without_raising(
    name: str, structural: dict[str, Any]
) -> None:
    explain = HOOKS[name].explain
    assert explain is not None
    read = explain(structural)
    if name == "cs06":  # no execution time: the path parameter is then what is missing
        assert read == ({"execute_at": None}, structural)
    else:
        assert read is None


@pytest.mark.interop
def test_every_rtds_command_of_a_typed_use_case_explains_to_named_arguments() -> None:
    from emulator.cli.usecase_cmd import _with_named
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import vectors

    typed = set(typed_descriptions())
    seen: dict[str, int] = {}
    missing = []
    for v in vectors():
        if v["direction"] != "command" or v["form"] == "malformed":
            continue
        obj = explain_frame(bytes.fromhex(v["hex"]), v["id"])
        name = str(obj["use_case"]).upper()
        if name not in typed:
            continue
        seen[name] = seen.get(name, 0) + 1
        if "named" not in _with_named(obj):
            missing.append(v["id"])
    assert not missing
    assert {"ECS37", "ECS57", "ECS70", "ECS35A", "ECS35B", "CS06"} <= set(seen)
    assert sum(seen.values()) >= 30
