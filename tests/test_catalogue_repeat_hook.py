"""Descriptions whose hook builds repeated components from a records parameter (GCS20's
event groups, GCS05's day and week profiles), read back by the hook's explain step; and
the snapshot reads (GCS15b/c, GCS16a/b) with one read period in every component."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from emulator.headend import usecases
from emulator.headend.catalogue.described import descriptions, explain_named
from emulator.headend.catalogue.gbz_args import explain_gbz
from emulator.headend.catalogue.hooks import HOOKS
from emulator.headend.usecases import BuildContext, UseCaseError
from gbcs.gbz import GbzPayload
from keys.roles import RemotePartyRole
from tests.test_headend import GSME, _env

CTX = BuildContext(
    7, bytes(8), bytes(8), RemotePartyRole.SUPPLIER, datetime(2026, 1, 1, tzinfo=UTC)
)

GROUPS = [
    {"event_configuration": 91, "event_ids": [33194, 33195]},
    {"event_configuration": 8, "event_ids": [33038]},
    {"event_configuration": 67, "event_ids": [33121, 33122, 33222]},
]


def _structural(name: str, args: dict[str, Any]) -> dict[str, Any]:
    entry = usecases.get(name)
    payload = entry.payload(args, CTX)
    assert isinstance(payload, GbzPayload)
    return explain_gbz(payload, entry.message_code)


def _gcs05_args(**over: Any) -> dict[str, Any]:
    desc = descriptions()["GCS05"]
    return {p.name: p.example for p in desc.params} | over


def test_gcs20_one_component_per_group_with_the_shared_issuer_event_id() -> None:
    s = _structural("GCS20", {"issuer_event_id": 99, "event_groups": GROUPS})
    comps = s["components"]
    assert [c["command"] for c in comps] == ["Set Event Configuration"] * 3
    assert [c["body"]["event_configuration"] for c in comps] == [91, 8, 67]
    assert [c["body"]["event_ids"] for c in comps] == [g["event_ids"] for g in GROUPS]
    assert {c["body"]["issuer_event_id"] for c in comps} == {99}
    named = explain_named(descriptions()["GCS20"], s)
    assert named == {"issuer_event_id": 99, "event_groups": GROUPS}


def test_gcs20_read_back_refuses_components_that_disagree() -> None:
    s = _structural("GCS20", {"issuer_event_id": 99, "event_groups": GROUPS})
    s["components"][2]["body"]["issuer_event_id"] = 100  # not one issuer event id
    assert explain_named(descriptions()["GCS20"], s) is None
    s["components"][2]["body"]["issuer_event_id"] = 99
    s["components"][1]["body"]["configuration_control"] = 1  # a fixed part differs
    assert explain_named(descriptions()["GCS20"], s) is None


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([], r"event_groups: 0 records: expected 1\.\. records"),
        ([{"event_configuration": 8}], r"event_groups\[0\]: expected the keys"),
        (
            [{"event_configuration": 256, "event_ids": [1]}],
            r"event_groups\[0\]\.event_configuration",
        ),
        ([{"event_configuration": 8, "event_ids": []}], r"event_groups\[0\]\.event_ids"),
        ([{"event_configuration": 8, "event_ids": ["x"]}], r"event_groups\[0\]\.event_ids\[0\]"),
    ],
)
def test_gcs20_bad_groups_name_the_record(groups: list[Any], message: str) -> None:
    with pytest.raises(UseCaseError, match=message):
        usecases.get("GCS20").payload({"issuer_event_id": 1, "event_groups": groups}, CTX)


def test_gcs05_builds_the_calendar_and_its_counts() -> None:
    days = [
        {"day_id": 1, "entries": [{"start_time": 0, "value": 1}, {"start_time": 480, "value": 0}]},
        {"day_id": 2, "entries": [{"start_time": 0, "value": 1}]},
        {"day_id": 3, "entries": [{"start_time": 60, "value": 0}]},
    ]
    weeks = [{"week_id": 1, "day_id_refs": [1, 1, 1, 1, 1, 3, 3]}]
    seasons = [{"season_start_date": "2015-03-29", "week_id_ref": 1}]
    specials = [
        {"special_day_date": "*-12-25", "day_id_ref": 2},
        {"special_day_date": "*-12-26", "day_id_ref": 2},
    ]
    args = _gcs05_args(
        day_profiles=days, week_profiles=weeks, season_profiles=seasons, special_days=specials
    )
    comps = _structural("GCS05", args)["components"]
    by = [c["command"] for c in comps]
    assert by.count("Publish Day Profile") == 3 and by.count("Publish Week Profile") == 1
    calendar = comps[by.index("Publish Calendar")]["body"]
    assert (
        calendar["number_of_day_profiles"],
        calendar["number_of_week_profiles"],
        calendar["number_of_seasons"],
    ) == (3, 1, 1)
    day_bodies = [c["body"] for c in comps if c["command"] == "Publish Day Profile"]
    assert [b["total_number_of_schedule_entries"] for b in day_bodies] == [2, 1, 1]
    special = comps[by.index("Publish Special Days")]["body"]
    assert special["total_number_of_special_days"] == 2 and special["entries"] == specials
    # every component carries the one issuer event id (day / week copies included)
    ids = {c["body"]["issuer_event_id"] for c in comps if "issuer_event_id" in c["body"]}
    assert ids == {args["issuer_event_id"]}
    named = explain_named(descriptions()["GCS05"], _structural("GCS05", args))
    assert named is not None
    assert named["day_profiles"] == days and named["special_days"] == specials
    assert named["max_meter_balance"] == args["max_meter_balance"]  # after the runs: read
    # from the template's layout, not the shifted index


def test_gcs05_a_count_that_disagrees_is_not_gcs05() -> None:
    s = _structural("GCS05", _gcs05_args())
    cal = next(c for c in s["components"] if c["command"] == "Publish Calendar")
    cal["body"]["number_of_day_profiles"] += 1
    assert explain_named(descriptions()["GCS05"], s) is None


def test_a_hook_without_an_explain_step_still_explains_to_none() -> None:
    import dataclasses

    from emulator.headend.catalogue.described import Description

    desc = descriptions()["GCS20"]
    assert HOOKS["gcs20"].explain is not None
    s = _structural("GCS20", {"issuer_event_id": 1, "event_groups": GROUPS})
    other = dataclasses.replace(desc, hook="ecs37")  # a fill step, no explain step
    assert isinstance(other, Description)
    assert explain_named(other, s) is None


@pytest.mark.interop
@pytest.mark.parametrize("name", ["GCS20", "GCS05", "GCS15b", "GCS15c", "GCS16a", "GCS16b"])
def test_rtds_commands_explain_to_named_args_and_build_back(name: str) -> None:
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import vectors

    desc = descriptions()[name.upper()]
    entry = usecases.get(name)
    refs = [
        v
        for v in vectors()
        if v["direction"] == "command"
        and v["form"] != "malformed"
        and (v.get("use_case") or "").split()[0].upper() == name.upper()
    ]
    assert refs
    for v in refs:
        args = explain_frame(bytes.fromhex(v["hex"]))["args"]
        named = explain_named(desc, args)
        assert named is not None, v["id"]
        assert _structural(name, named) == args, v["id"]
        assert entry.message_code == int(v["message_code"], 16)


def test_snapshot_reads_put_one_read_period_in_every_component() -> None:
    for name, count in (("GCS15b", 24), ("GCS15c", 24), ("GCS16a", 31), ("GCS16b", 31)):
        s = _structural(
            name,
            {"start_date_time": "2024-01-01T00:00:00Z", "end_date_time": "2024-02-01T00:00:00Z"},
        )
        bodies = [c["body"] for c in s["components"]]
        assert len(bodies) == count
        assert {b["earliest_start_time"] for b in bodies} == {"2024-01-01T00:00:00Z"}
        assert {b["latest_end_time"] for b in bodies} == {"2024-02-01T00:00:00Z"}
        s["components"][-1]["body"]["latest_end_time"] = "2024-03-01T00:00:00Z"
        assert explain_named(descriptions()[name.upper()], s) is None  # periods disagree


@pytest.mark.asyncio
async def test_the_emulated_gsme_answers_the_hooked_and_snapshot_use_cases() -> None:
    period = {"start_date_time": "2000-01-01T00:00:00Z", "end_date_time": "2099-01-01T00:00:00Z"}
    async with _env() as e:
        r = await e.request(GSME, "GCS20", issuer_event_id=5, event_groups=GROUPS)
        assert r.values["ok"] is True
        r = await e.request(GSME, "GCS05", **_gcs05_args())
        assert r.values["ok"] is True
        for name, keys in (
            ("GCS15b", {"snapshots", "prepay_snapshots"}),
            ("GCS15c", {"snapshots", "prepay_snapshots"}),
            ("GCS16a", {"snapshots"}),
            ("GCS16b", {"prepay_snapshots"}),
        ):
            r = await e.request(GSME, name, **period)
            # Not Found beyond the last snapshot is the normal end of the log
            assert r.values["ok"] is True, (name, r.values)
            assert keys <= set(r.values), (name, r.values)
            for k in keys:
                assert all("snapshot_time" in s for s in r.values[k])
