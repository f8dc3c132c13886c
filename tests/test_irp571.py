"""IRP571 ("Historic Data when Device does not know the time") on every device type, as
a bench sees it: the clock is invalidated through the control API, time passes, and the
time-stamped records are read with GBCS commands built by the head-end catalogue. No
record may carry a time inside the span the device's clock was invalid (docs/devices.md,
"Untimed history")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from devices.control import execute_control
from devices.site import Site
from keys.roles import RemotePartyRole
from tests.devkit import EUIS, T0, Bench, bench
from tests.devkit import send_use_case as send

R = RemotePartyRole
T1 = T0 + timedelta(hours=1)
INVALID_AT = T0 + timedelta(days=1, hours=6)
CLOCK_SET_AT = INVALID_AT + timedelta(days=2, hours=3)
END = CLOCK_SET_AT + timedelta(days=2)
EVER = {"start_date_time": "2000-01-02T00:00:00Z", "end_date_time": "2099-12-31T00:00:00Z"}


def _site(b: Bench, **esme: Any) -> Site:
    s = Site(
        b.device("CHF"),
        b.device("ESME", options=esme),
        b.device("GSME", options={"gas_profile": 1000}),
        b.device("GPF"),
    )
    s.advance(T1)
    return s


def control(site: Site, kind: str, request: dict[str, Any], now: datetime) -> dict[str, Any]:
    res = execute_control(site, EUIS[kind], {"id": 1, **request}, now)
    assert res.reply["ok"] is True, res.reply
    return res.reply["result"]


def _t(v: Any) -> datetime:
    return v if isinstance(v, datetime) else datetime.fromisoformat(str(v).replace("Z", "+00:00"))


def untimed(t: datetime) -> bool:
    """A time the device could not know: inside the span its clock was invalid."""
    return INVALID_AT < t.astimezone(UTC) < CLOCK_SET_AT


def walk(site: Site, until: datetime, step: timedelta = timedelta(hours=2)) -> None:
    t = site.gsme.next_wake if site.gsme else until  # type: ignore[union-attr]
    t = min(t, until)
    while t < until:
        site.advance(t)
        t += step
    site.advance(until)


def series_times(values: dict[str, Any]) -> list[datetime]:
    start = _t(values["sample_start_time"])
    step = timedelta(seconds=values["sample_interval"])
    return [start + i * step for i in range(len(values["samples"]))]


@pytest.fixture
def b() -> Bench:
    return bench()


# --------------------------------------------------------------------------- GSME


def test_gsme_profile_snapshots_and_logs_carry_no_unknown_time(b: Bench) -> None:
    site = _site(b)
    walk(site, INVALID_AT)
    control(site, "GSME", {"op": "tamper", "event": "meter_cover"}, INVALID_AT)
    control(site, "GSME", {"op": "invalidate_clock"}, INVALID_AT)
    walk(site, INVALID_AT + timedelta(days=1))
    control(site, "GSME", {"op": "tamper", "event": "meter_cover"}, INVALID_AT + timedelta(days=1))
    walk(site, CLOCK_SET_AT)
    control(site, "GSME", {"op": "set_clock", "time": CLOCK_SET_AT.isoformat()}, CLOCK_SET_AT)
    walk(site, END)

    profile = send(
        b, site, "GSME", "GCS17", END, start_date_time="2026-01-01T00:00:00Z",
        number_of_samples=5000,
    )  # fmt: skip
    times = series_times(profile)
    assert times, "the GSME took no profile sample after its clock was set"
    assert not [t for t in times if untimed(t)]
    # the series restarted after the gap: its first sample follows the clock's return
    assert times[0] > CLOCK_SET_AT
    assert len(times) >= (END - CLOCK_SET_AT) // timedelta(minutes=30)  # none missed

    snaps = send(b, site, "GSME", "GCS16a", END, **EVER)["snapshots"]
    stamps = [_t(s["snapshot_time"]) for s in snaps]
    assert stamps and not [t for t in stamps if untimed(t)]
    # a daily snapshot before the clock was lost and after it came back, none between
    assert any(t <= INVALID_AT for t in stamps) and any(t >= CLOCK_SET_AT for t in stamps)

    events = send(b, site, "GSME", "CS10a", END, **EVER)["events"]
    assert events  # the tamper before the clock was lost
    assert not [e for e in events if untimed(_t(e["event_time"]))]


# --------------------------------------------------------------------------- GPF


def test_gpf_daily_consumption_log_and_snapshots_carry_no_unknown_time(b: Bench) -> None:
    site = _site(b)
    walk(site, INVALID_AT)
    control(site, "GPF", {"op": "invalidate_clock"}, INVALID_AT)
    walk(site, CLOCK_SET_AT)
    control(site, "GPF", {"op": "set_clock", "time": CLOCK_SET_AT.isoformat()}, CLOCK_SET_AT)
    walk(site, END)

    daily = send(
        b, site, "GPF", "GCS61", END, start_date_time="2026-01-01T00:00:00Z",
        number_of_samples=100,
    )  # fmt: skip
    times = series_times(daily)
    assert times and not [t for t in times if untimed(t)]
    # the midnights the GPF slept through are not filled in when its clock returns
    midnight_after_set = (CLOCK_SET_AT + timedelta(days=1)).replace(hour=0)
    assert times[0] >= midnight_after_set
    # a day's consumption is never the gas of the days it could not date (1000 l/h)
    assert all(v <= 24_000 for v in daily["samples"]), daily["samples"]


# --------------------------------------------------------------------------- ESME


@pytest.mark.parametrize(("mode", "expected"), [("unspecified", 500), ("skip", 0)])
def test_esme_max_demand_capture_and_reset_without_a_clock(
    b: Bench, mode: str, expected: int
) -> None:
    site = _site(b, md_invalid_clock=mode)
    walk(site, INVALID_AT)
    before = send(b, site, "ESME", "ECS18b", INVALID_AT)
    assert before["import_md"] == 500 and not untimed(_t(before["import_md_time"]))

    control(site, "ESME", {"op": "invalidate_clock"}, INVALID_AT)
    send(b, site, "ESME", "ECS57", INVALID_AT + timedelta(minutes=1))
    walk(site, INVALID_AT + timedelta(days=1))  # 500 W all day, the window included
    control(site, "ESME", {"op": "power", "state": "off"}, INVALID_AT + timedelta(days=1))
    control(site, "ESME", {"op": "power", "state": "on"}, INVALID_AT + timedelta(days=1, hours=1))

    md = send(b, site, "ESME", "ECS18b", INVALID_AT + timedelta(days=1, hours=2))
    assert md["import_md"] == expected
    # no capture or reset time: the device did not know when these happened
    for key in ("import_md_time", "import_md_reset_time", "import_window_md_time",
                "import_window_md_reset_time"):  # fmt: skip
        assert md[key] is None, (key, md[key])
    assert md["import_window_md"] == 0  # the window cannot be placed without a clock

    log = send(b, site, "ESME", "ECS35e", END, **EVER)["power_event_log"]
    assert not [e for e in log if untimed(_t(e["time"]))]


# --------------------------------------------------------------------------- CHF


def test_chf_event_log_carries_no_unknown_time(b: Bench) -> None:
    site = _site(b)
    walk(site, INVALID_AT)
    control(site, "CHF", {"op": "invalidate_clock"}, INVALID_AT)
    control(site, "CHF", {"op": "power", "state": "off"}, INVALID_AT + timedelta(hours=1))
    control(site, "CHF", {"op": "power", "state": "on"}, INVALID_AT + timedelta(hours=2))
    held = control(site, "CHF", {"op": "read_log", "log": "event"}, INVALID_AT + timedelta(hours=3))
    assert held["entries"], (
        held
    )  # the outage was logged (untimed), so the read below is a real check
    log = send(b, site, "CHF", "ECS35c", INVALID_AT + timedelta(hours=3), **EVER)
    entries = next(v for v in log.values() if isinstance(v, list))
    assert not [e for e in entries if untimed(_t(e["time"]))]
