"""Load model (devices/behaviours/load.py): profiles, exact integration, periods, state."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.behaviours.load import (
    PERIOD,
    WUS_PER_WH,
    LoadError,
    LoadModel,
    LoadProfile,
    Period,
    period_start,
)

T0 = datetime(2024, 1, 1, tzinfo=UTC)


def at(hh: int, mm: int = 0, ss: int = 0, day: int = 0) -> datetime:
    return T0 + timedelta(days=day, hours=hh, minutes=mm, seconds=ss)


# -- profile ------------------------------------------------------------------------------


def test_period_start_aligns_to_utc_half_hours() -> None:
    assert period_start(at(17, 29, 59)) == at(17)
    assert period_start(at(17, 30)) == at(17, 30)
    bst = timezone(timedelta(hours=1))
    assert period_start(datetime(2024, 6, 1, 18, 45, tzinfo=bst)) == datetime(
        2024, 6, 1, 17, 30, tzinfo=UTC
    )
    with pytest.raises(LoadError, match="aware"):
        period_start(datetime(2024, 1, 1))


def test_constant_daily_and_override_power() -> None:
    shape = [100 * i for i in range(48)]
    p = LoadProfile(import_shape=tuple(shape), export_w=7).with_overrides(
        {at(17, 30): 1500}, {at(12): 10}
    )
    assert p.import_power_w(at(0, 10)) == 0
    assert p.import_power_w(at(17, 0, 1)) == 3400  # index 34
    assert p.import_power_w(at(17, 45)) == 3000  # override 1500 Wh -> 3000 W
    assert p.import_power_w(at(17, 45, day=1)) == 3500  # override is for one day only
    assert p.power_w(at(12, 15)) == (2400, 20)
    assert p.export_power_w(at(13)) == 7
    assert LoadProfile.constant(1000, 5).power_w(at(3)) == (1000, 5)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"import_w": -1}, "import_w"),
        ({"import_w": True}, "import_w"),
        ({"export_w": 1.5}, "export_w"),
        ({"import_shape": (1,) * 47}, "48"),
        ({"import_shape": (1,) * 47 + (-1,)}, r"import_shape\[47\]"),
        ({"import_shape": "x" * 48}, "import_shape"),
        ({"import_overrides": {at(17, 10): 5}}, "half-hour boundary"),
        ({"import_overrides": {datetime(2024, 1, 1): 5}}, "aware"),
        ({"export_overrides": {at(17): -5}}, "export_overrides"),
        ({"export_overrides": [1]}, "mapping"),
    ],
)
def test_profile_rejects_bad_values(kwargs: dict, message: str) -> None:
    with pytest.raises(LoadError, match=message):
        LoadProfile(**kwargs)


def test_profile_dict_round_trip() -> None:
    p = LoadProfile.daily(range(48), [0] * 47 + [9]).with_overrides({at(1): 3}, {at(2): 4})
    d = json.loads(json.dumps(p.to_dict()))
    assert d["import"]["overrides"] == {"2024-01-01T01:00:00+00:00": 3}
    q = LoadProfile.from_dict(d)
    assert q == p and hash(q) == hash(p)
    assert LoadProfile.from_dict({}) == LoadProfile()
    for bad in ([], {"import": []}, {"import": {"overrides": {"nope": 1}}}):
        with pytest.raises(LoadError):
            LoadProfile.from_dict(bad)


# -- integration ------------------------------------------------------------------------------


def test_constant_load_periods_and_registers() -> None:
    m = LoadModel(LoadProfile.constant(1000, 200), at(0))
    out = m.advance(at(2))
    assert out == [Period(at(0, 30 * i), 500, 100) for i in range(4)]
    assert (m.import_wh, m.export_wh) == (2000, 400)
    assert out[0].end == at(0, 30)
    assert m.advance(at(2)) == []  # nothing new


def test_partial_first_period_is_reported_with_what_was_seen() -> None:
    m = LoadModel(LoadProfile.constant(1000), at(0, 10))
    out = m.advance(at(1))
    assert out == [Period(at(0), 333, 0), Period(at(0, 30), 500, 0)]
    assert m.import_wh == 833
    assert m.current_period == Period(at(1), 0, 0)


def test_no_float_drift_with_many_small_steps() -> None:
    one = LoadModel(LoadProfile.constant(333), at(0))
    many = LoadModel(LoadProfile.constant(333), at(0))
    periods_one = one.advance(at(3))
    periods_many: list[Period] = []
    t = at(0)
    while t < at(3):
        t = min(t + timedelta(seconds=7, microseconds=3), at(3))
        periods_many += many.advance(t)
    assert one.import_wh == many.import_wh == 999  # 333 W * 3 h exactly
    assert periods_one == periods_many
    assert [p.import_wh for p in periods_one] == [166, 167, 166, 167, 166, 167]


@settings(max_examples=40, deadline=None)
@given(
    w=st.integers(0, 20_000),
    cuts=st.lists(st.integers(0, 6 * 3600 * 10**6), max_size=12),
)
def test_split_advances_equal_one_advance(w: int, cuts: list[int]) -> None:
    prof = LoadProfile.constant(w, w // 3).with_overrides({at(1): 777})
    end = at(6)
    a = LoadModel(prof, at(0, 5))
    b = LoadModel(prof, at(0, 5))
    pa = a.advance(end)
    pb: list[Period] = []
    for c in sorted(cuts):
        t = at(0, 5) + timedelta(microseconds=c)
        if t <= end:
            pb += b.advance(t)
    pb += b.advance(end)
    assert pa == pb
    assert (a.import_wh, a.export_wh) == (b.import_wh, b.export_wh)
    assert sum(p.import_wh for p in pa) + a.current_period.import_wh == a.import_wh


def test_override_gives_exact_period_energy() -> None:
    prof = LoadProfile.constant(333).with_overrides({at(16, 30): 2000, at(17, 30): 1500})
    m = LoadModel(prof, at(16))
    out = {p.start: p.import_wh for p in m.advance(at(18))}
    assert out == {at(16): 166, at(16, 30): 2000, at(17): 167, at(17, 30): 1500}


def test_daily_shape_repeats_every_day() -> None:
    shape = [0] * 48
    shape[35] = 4000  # 17:30-18:00 UTC
    m = LoadModel(LoadProfile.daily(shape), at(0))
    out = m.advance(at(0, day=3))
    assert len(out) == 144
    assert [p.start for p in out if p.import_wh] == [at(17, 30, day=d) for d in range(3)]
    assert {p.import_wh for p in out if p.import_wh} == {2000}
    assert m.import_wh == 6000


def test_long_gap_reports_every_period() -> None:
    m = LoadModel(LoadProfile.constant(1200, 60), at(0, 15))
    out = m.advance(at(0, 15, day=365))
    assert len(out) == 365 * 48
    assert out[0] == Period(at(0), 300, 15)
    assert all(p == Period(p.start, 600, 30) for p in out[1:])
    assert m.import_wh == 1200 * 24 * 365
    assert m.export_wh == 60 * 24 * 365


def test_clock_set_back_ignores_negative_interval() -> None:
    m = LoadModel(LoadProfile.constant(1000), at(17))
    assert [p.start for p in m.advance(at(18, 10))] == [at(17), at(17, 30)]
    assert m.import_wh == 1166
    # back within the same half hour: partial period kept, nothing accrues
    assert m.advance(at(18, 5)) == []
    assert m.import_wh == 1166
    assert m.current_period == Period(at(18), 166, 0)
    # back one hour: the partial 18:00 period is dropped, registers never decrease
    assert m.advance(at(17, 10)) == []
    assert m.import_wh == 1166
    assert m.current_period == Period(at(17), 0, 0)
    # reported again; 334 = 333.3 + the 0.67 Wh remainder carried from 18:00-18:10
    assert m.advance(at(17, 40)) == [Period(at(17), 334, 0)]
    assert m.import_wh == 1166 + 500
    assert m.time == at(17, 40)


def test_supply_off_stops_accrual_but_periods_complete() -> None:
    m = LoadModel(LoadProfile.constant(1000), at(0))
    m.set_supply(False, at(0, 15))
    assert m.power_w(at(0, 20)) == (0, 0)
    out = m.advance(at(1, 30))
    assert out == [Period(at(0), 250, 0), Period(at(0, 30), 0, 0), Period(at(1), 0, 0)]
    m.set_supply(True, at(1, 45))
    assert m.supply_on and m.power_w(at(1, 50)) == (1000, 0)
    out = m.advance(at(2))
    assert out == [Period(at(1, 30), 250, 0)]
    assert m.import_wh == 500


def test_set_profile_switches_from_now_and_queues_periods() -> None:
    m = LoadModel(LoadProfile.constant(1000), at(0))
    m.set_profile(LoadProfile.constant(3000), at(0, 45))
    assert m.profile == LoadProfile.constant(3000)
    out = m.advance(at(1))
    assert out == [Period(at(0), 500, 0), Period(at(0, 30), 250 + 750, 0)]


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.advance(datetime(2024, 1, 1)),
        lambda m: m.advance("2024-01-01T00:00:00Z"),
        lambda m: m.set_supply(1, at(1)),
        lambda m: m.set_profile({"import": {}}, at(1)),
    ],
)
def test_model_rejects_bad_arguments_without_change(call: Callable[[LoadModel], object]) -> None:
    m = LoadModel(LoadProfile.constant(1000), at(0))
    before = m.to_dict()
    with pytest.raises(LoadError):
        call(m)
    assert m.to_dict() == before


def test_constructor_rejects_bad_arguments() -> None:
    with pytest.raises(LoadError):
        LoadModel({"w": 1}, at(0))  # type: ignore[arg-type]
    with pytest.raises(LoadError):
        LoadModel(LoadProfile(), at(0), import_wh=-1)
    with pytest.raises(LoadError):
        LoadModel(LoadProfile(), at(0), supply_on=None)  # type: ignore[arg-type]


# -- persistence ------------------------------------------------------------------------------


def test_state_round_trip_reproduces_behaviour() -> None:
    prof = LoadProfile.constant(333, 77).with_overrides({at(2): 900})
    m = LoadModel(prof, at(0, 7), import_wh=10, export_wh=5)
    m.advance(at(0, 41, 13))
    m.set_supply(False, at(0, 50))
    m.set_supply(True, at(1, 5))  # crosses 01:00: one period waits for the next advance
    d = json.loads(json.dumps(m.to_dict()))
    assert len(d["pending"]) == 1
    assert 0 < d["import_remainder_wus"] < WUS_PER_WH
    n = LoadModel.from_dict(d)
    assert n.to_dict() == m.to_dict()
    assert n.advance(at(5)) == m.advance(at(5))
    assert (n.import_wh, n.export_wh) == (m.import_wh, m.export_wh)
    assert n.to_dict() == m.to_dict()


def _state() -> dict:
    m = LoadModel(LoadProfile.constant(100), at(0))
    m.advance(at(0, 10))
    return m.to_dict()


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("import_remainder_wus", WUS_PER_WH, "below one Wh"),
        ("import_remainder_wus", -1, "import_remainder_wus"),
        ("period_start", "2024-01-01T01:00:00+00:00", "period_start"),
        ("period_import_wh", 10**9, "exceeds"),
        ("time", "2024-01-01T00:10:00", "aware"),
        ("time", "yesterday", "ISO"),
        ("pending", {}, "list"),
        ("pending", [["2024-01-01T00:10:00+00:00", 1, 1]], "boundary"),
        ("pending", [["2024-01-01T00:00:00+00:00", 1]], r"pending\[0\]"),
        ("supply_on", "yes", "supply_on"),
    ],
)
def test_from_dict_rejects_malformed_state(key: str, value: object, message: str) -> None:
    d = _state()
    d[key] = value
    with pytest.raises(LoadError, match=message):
        LoadModel.from_dict(d)


def test_from_dict_rejects_missing_keys_and_non_mappings() -> None:
    d = _state()
    del d["pending"]
    with pytest.raises(LoadError, match="pending"):
        LoadModel.from_dict(d)
    with pytest.raises(LoadError):
        LoadModel.from_dict([])


def test_period_namedtuple_end() -> None:
    assert Period(at(1), 0, 0).end - at(1) == PERIOD
