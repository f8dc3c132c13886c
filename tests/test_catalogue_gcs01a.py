"""GCS01a (Set Tariff and Price on GSME) from named arguments: the tariff calendar built by
the hook gcs01a (GCS05's repeat parts, calendar type 0), the tariff information and price
matrix, and for a block tariff the Publish Block Thresholds, which gbcs.zcl does not type
(raw octets whose ids and start time mirror the tariff information's)."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import pytest

from emulator.headend import usecases
from emulator.headend.catalogue.described import descriptions, explain_named
from emulator.headend.catalogue.gbz_args import build_gbz, explain_gbz
from emulator.headend.usecases import BuildContext, UseCaseError
from gbcs.gbz import GbzPayload
from gbcs.zcl import ZCL_EPOCH
from keys.roles import RemotePartyRole
from tests.test_headend import GSME, _env

CTX = BuildContext(
    7, bytes(8), bytes(8), RemotePartyRole.SUPPLIER, datetime(2026, 1, 1, tzinfo=UTC)
)
CODE = 0x006B
BLOCK = "Publish Block Thresholds"
HEAD = struct.Struct("<IIIIBBB")  # ZSE Publish Block Thresholds up to its sub-payload

THRESHOLDS = [{"block_threshold": 1_000_000}, {"block_threshold": (1 << 48) - 1}]


def _desc() -> Any:
    return descriptions()["GCS01A"]


def _args(**over: Any) -> dict[str, Any]:
    """The examples (a block tariff with three thresholds), changed by ``over``."""
    return {p.name: p.example for p in _desc().params} | over


def _tou(**over: Any) -> dict[str, Any]:
    return _args(
        charging_scheme="tou",
        number_of_thresholds=0,
        tier_block_mode="not_used",
        threshold_matrix=[],
        **over,
    )


def _structural(args: dict[str, Any]) -> dict[str, Any]:
    payload = usecases.get("GCS01a").payload(args, CTX)
    assert isinstance(payload, GbzPayload)
    return explain_gbz(payload, CODE)


def _commands(s: dict[str, Any]) -> list[str]:
    return [c["command"] for c in s["components"]]


def _body(s: dict[str, Any], command: str) -> dict[str, Any]:
    return next(c["body"] for c in s["components"] if c["command"] == command)


def _block_raw(s: dict[str, Any]) -> bytes:
    return bytes.fromhex(_body(s, BLOCK)["raw"])


def _utc(text: str) -> int:
    t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return int((t - ZCL_EPOCH).total_seconds())


def test_a_tou_tariff_has_the_calendar_and_no_block_thresholds() -> None:
    args = _tou(issuer_event_id=11, issuer_calendar_id=12, issuer_tariff_id=13)
    s = _structural(args)
    days, weeks = len(args["day_profiles"]), len(args["week_profiles"])
    assert _commands(s) == [
        "Publish Calendar",
        *["Publish Day Profile"] * days,
        *["Publish Week Profile"] * weeks,
        "Publish Seasons",
        "Publish Special Days",
        "Publish Tariff Information",
        "Publish Price Matrix",
    ]
    cal = _body(s, "Publish Calendar")
    assert (cal["number_of_day_profiles"], cal["number_of_week_profiles"]) == (days, weeks)
    assert cal["number_of_seasons"] == len(args["season_profiles"])
    bodies = [c["body"] for c in s["components"]]
    assert {b["issuer_event_id"] for b in bodies} == {11}
    calendar = [c["body"] for c in s["components"] if c["cluster"] == "calendar"]
    assert {b["issuer_calendar_id"] for b in calendar} == {12}
    assert {b["calendar_type"] for b in calendar if "calendar_type" in b} == {0}  # tariff
    assert _body(s, "Publish Price Matrix")["issuer_tariff_id"] == 13
    typed = usecases.get("GCS01a").parse_args(args)
    assert explain_named(_desc(), s) == {k: v for k, v in typed.items() if k != "args"}


def test_a_block_tariff_ends_with_its_thresholds_mirroring_the_tariff_information() -> None:
    when = "2031-05-06T07:08:09Z"
    args = _args(
        threshold_matrix=THRESHOLDS,
        execution_date_time=when,
        issuer_event_id=0x01020304,
        issuer_tariff_id=0x0A0B0C0D,
    )
    s = _structural(args)
    assert _commands(s)[-1] == BLOCK
    raw = _block_raw(s)
    provider, event, start, tariff, index, total, control = HEAD.unpack_from(raw)
    info = _body(s, "Publish Tariff Information")
    assert (provider, event, tariff) == (
        info["provider_id"],
        0x01020304,
        0x0A0B0C0D,
    )
    assert start == _utc(when) == _utc(info["start_time"])
    assert (index, total, control) == (0, 1, 0x01)  # one command; for all tiers
    assert raw[HEAD.size] == 0x02  # tier 0, two thresholds
    assert raw[HEAD.size + 1 :] == b"".join(
        t["block_threshold"].to_bytes(6, "little") for t in THRESHOLDS
    )
    named = explain_named(_desc(), s)
    assert named is not None and named["threshold_matrix"] == THRESHOLDS
    assert named["execution_date_time"] == when


def test_no_special_days_sends_an_empty_list_with_a_zero_count() -> None:
    s = _structural(_tou(special_days=[]))
    special = _body(s, "Publish Special Days")
    assert (special["total_number_of_special_days"], special["entries"]) == (0, [])
    named = explain_named(_desc(), s)
    assert named is not None and named["special_days"] == []
    # not given: the default is none
    args = _tou()
    del args["special_days"]
    assert _body(_structural(args), "Publish Special Days")["entries"] == []


def test_read_back_refuses_thresholds_that_are_not_what_the_description_builds() -> None:
    s = _structural(_args(threshold_matrix=THRESHOLDS))
    i = _commands(s).index(BLOCK)
    raw = _block_raw(s)

    def with_raw(data: bytes) -> dict[str, Any]:
        out = _structural(_args(threshold_matrix=THRESHOLDS))
        out["components"][i]["body"] = {"raw": data.hex().upper()}
        return out

    assert explain_named(_desc(), with_raw(raw)) is not None
    other_event = raw[:4] + (12345).to_bytes(4, "little") + raw[8:]
    assert explain_named(_desc(), with_raw(other_event)) is None  # not one issuer event id
    other_tier = raw[: HEAD.size] + bytes((0x12,)) + raw[HEAD.size + 1 :]
    assert explain_named(_desc(), with_raw(other_tier)) is None  # a fixed part differs
    assert explain_named(_desc(), with_raw(raw + bytes(1))) is None  # not one set
    assert explain_named(_desc(), with_raw(raw[:-1])) is None  # a threshold cut short


@pytest.mark.parametrize(
    ("thresholds", "message"),
    [
        ([{"block_threshold": 1 << 48}], r"threshold_matrix\[0\]\.block_threshold"),
        ([{"block_threshold": -1}], r"threshold_matrix\[0\]\.block_threshold"),
        ([{"block_threshold": "x"}], r"threshold_matrix\[0\]\.block_threshold"),
        ([{"threshold": 1}], r"threshold_matrix\[0\]: expected a table with the key"),
        ([{"block_threshold": 1}] * 4, r"4 records: expected 0\.\.3 records"),
    ],
)
def test_bad_thresholds_name_the_record(thresholds: list[Any], message: str) -> None:
    with pytest.raises(UseCaseError, match=message):
        usecases.get("GCS01a").payload(_args(threshold_matrix=thresholds), CTX)


@pytest.mark.interop
def test_rtds_commands_explain_to_named_args_and_build_back() -> None:
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import vectors

    refs = [
        v
        for v in vectors()
        if v["direction"] == "command"
        and v["form"] != "malformed"
        and (v.get("use_case") or "").split()[0].upper() == "GCS01A"
    ]
    assert refs
    for v in refs:
        assert int(v["message_code"], 16) == CODE
        args = explain_frame(bytes.fromhex(v["hex"]))["args"]
        named = explain_named(_desc(), args)
        assert named is not None, v["id"]
        assert named["threshold_matrix"] == []  # a TOU tariff
        assert len(named["day_profiles"]) == 4 and len(named["special_days"]) == 10
        assert _structural(named) == args, v["id"]
        rebuilt = usecases.get("GCS01a").payload(named, CTX).encode()
        assert rebuilt == build_gbz(args, CODE).encode(), v["id"]


@pytest.mark.asyncio
async def test_the_emulated_gsme_takes_a_block_tariff_and_reads_it_back() -> None:
    prices = [{"tier_block_id": b, "price": 9100 + 100 * b} for b in (0, 1, 2, 3)]  # 0-based
    thresholds = [{"block_threshold": t} for t in (1_000_000, 2_000_000, 3_000_000)]
    async with _env() as e:
        r = await e.request(
            GSME,
            "GCS01a",
            **_args(
                price_matrix_type="block",
                prices=prices,
                threshold_matrix=thresholds,
                standing_charge=54794,
                number_of_price_tiers=0,
                execution_date_time="2000-01-01T00:00:00Z",  # now (the example is future)
            ),
        )
        assert r.values == {"ok": True}
        tariff = (await e.request(GSME, "GCS21f")).values
        assert tariff["ok"] is True, tariff
        assert [tariff[f"block{i}_threshold"] for i in (1, 2, 3)] == [
            1_000_000,
            2_000_000,
            3_000_000,
        ]
        assert [tariff[f"block{i}_price"] for i in (1, 2, 3, 4)] == [9100, 9200, 9300, 9400]
        assert tariff["standing_charge"] == 54794


@pytest.mark.asyncio
async def test_the_emulated_gsme_defers_a_future_dated_block_tariff_whole() -> None:
    when = "2090-01-01T00:00:00Z"
    async with _env() as e:
        r = await e.request(
            GSME, "GCS01a", **_args(threshold_matrix=THRESHOLDS, execution_date_time=when)
        )
        assert r.values == {"ok": True}
        gsme = e.site.gsme
        assert gsme is not None
        pending = [p for p, _, _ in gsme.pending]
        names = _commands(_structural(_args(threshold_matrix=THRESHOLDS)))
        assert len(pending) == len(names)
        # the block thresholds follow the same execution time (its own start time field)
        assert pending[-1].component.command_id == 0x06 and pending[-1].execute_at == _utc(when)
        assert {p.execute_at for p in pending} == {_utc(when)}
        tariff = (await e.request(GSME, "GCS21f")).values
        assert tariff["block1_threshold"] != THRESHOLDS[0]["block_threshold"]  # not yet
