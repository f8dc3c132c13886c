"""The delta store (issue 13, items 2 and 7): devices' changes written as deltas, folded
into snapshots, fresh sites never fully saved, and the state tools on the new schema."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.device import Device
from emulator.runtime.clock import VirtualClock
from emulator.runtime.deltas import (
    FOLD_AFTER,
    DeltaError,
    DeviceRecord,
    apply_delta,
    changes,
)
from emulator.runtime.server import Emulator
from emulator.runtime.statedir import StateDamaged
from emulator.runtime.statetools import check, counters_of, migrate
from emulator.runtime.store import SCHEMA_VERSION

from .statekit import Fleet, cli, schedule_set

# ----------------------------------------------------------------- the delta form


def _roundtrip(base: dict[str, Any], new: dict[str, Any]) -> dict[str, Any] | None:
    """Write ``new`` over ``base`` as :func:`changes` would, then read it back."""
    record = DeviceRecord(json.loads(json.dumps(base)))
    change = changes(record, json.loads(json.dumps(new)))
    if change is None:
        return None
    stored = json.loads(json.dumps(base))
    if change.snapshot is not None:
        stored = json.loads(change.snapshot)
    else:
        assert change.delta is not None
        apply_delta(stored, json.loads(change.delta))
    change.committed()
    stored.pop("last_advance", None)
    assert record.base == stored  # the record holds what the store holds
    return stored


BASE: dict[str, Any] = {
    "counters": {},
    "own_counter": 4096,
    "event_log": {"capacity": 100, "entries": [{"code": 1}]},
    "esme": {"load": {"time": "t0", "wh": 1}, "tariff": [1, 2, 3], "mode": "credit"},
    "anchors": [{"role": 1, "ka": "00" * 40}],
}


@pytest.mark.parametrize(
    "edit",
    [
        lambda s: s["counters"].update({"90b3d51f30fe0002": 7}),
        lambda s: s["event_log"]["entries"].extend([{"code": 2}, {"code": 3}]),
        lambda s: s["event_log"].update(entries=[{"code": 9}]),  # a ring that wrapped
        lambda s: s["esme"]["load"].update(time="t1", wh=2),
        lambda s: s["esme"].pop("mode"),
        lambda s: s.update(own_counter=4097, firmware={"version": "2"}),
        lambda s: s.pop("anchors"),
        lambda s: s["anchors"].append({"role": 2}),
    ],
)
def test_every_kind_of_change_reads_back_exactly(edit: Any) -> None:
    new = json.loads(json.dumps(BASE))
    edit(new)
    new["last_advance"] = "2026-01-01T00:00:00+00:00"
    expected = {k: v for k, v in new.items() if k != "last_advance"}
    assert _roundtrip(BASE, new) == expected


def test_a_delta_holds_only_what_changed_and_logs_as_appends() -> None:
    record = DeviceRecord(json.loads(json.dumps(BASE)))
    new = json.loads(json.dumps(BASE))
    new["event_log"]["entries"].append({"code": 2})
    new["counters"]["90b3d51f30fe0002"] = 7
    change = changes(record, new)
    assert change is not None and change.delta is not None
    delta = json.loads(change.delta)
    assert delta["a"] == [[["event_log", "entries"], [{"code": 2}]]]
    assert delta["p"] == [[["counters", "90b3d51f30fe0002"], 7]]
    assert "anchors" not in change.delta and "tariff" not in change.delta


def test_last_advance_alone_is_not_a_write_but_travels_with_a_change() -> None:
    record = DeviceRecord(json.loads(json.dumps(BASE)))
    assert changes(record, {**json.loads(json.dumps(BASE)), "last_advance": "t9"}) is None
    new = {**json.loads(json.dumps(BASE)), "own_counter": 4097, "last_advance": "t9"}
    change = changes(record, new)
    assert change is not None and change.delta is not None
    assert json.loads(change.delta)["s"] == {"own_counter": 4097, "last_advance": "t9"}


def test_the_write_after_fold_after_deltas_is_a_snapshot() -> None:
    record = DeviceRecord(json.loads(json.dumps(BASE)))
    kinds = []
    for n in range(1, 2 * FOLD_AFTER + 1):
        new = {**json.loads(json.dumps(record.base)), "own_counter": 4096 + n}
        change = changes(record, new)
        assert change is not None
        kinds.append("snapshot" if change.snapshot is not None else "delta")
        change.committed()
        assert record.deltas < FOLD_AFTER
    assert kinds.count("snapshot") == 2
    assert kinds.index("snapshot") == FOLD_AFTER - 1 and record.snapshot


@pytest.mark.parametrize(
    "bad",
    [
        [],
        {"x": 1},
        {"a": [[["event_log", "entries"], 5]]},
        {"p": [[[], 1]]},
        {"p": [[["own_counter", "x"], 1]]},  # inside a number
        {"a": [[["own_counter"], [1]]]},  # appended to a number
    ],
)
def test_a_delta_that_does_not_fit_is_refused(bad: Any) -> None:
    with pytest.raises(DeltaError):
        apply_delta(json.loads(json.dumps(BASE)), bad)


# ------------------------------------------------- devices give state of their own


def _shared_containers(a: Any, b: Any, path: str = "") -> list[str]:
    """Paths where two to_dict() results are the same list or dict object."""
    out: list[str] = []
    if isinstance(a, dict | list) and a is b:
        return [path or "/"]
    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() & b.keys():
            out += _shared_containers(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            out += _shared_containers(x, y, f"{path}/{i}")
    return out


def test_a_devices_saved_state_never_aliases_its_live_state(tmp_path: Path) -> None:
    """The store's record of a device keeps its ``to_dict()`` sections: were one of them
    the device's own list or dict, later changes would already be "on disk" and never
    written. Two calls must share no container, before and after use."""
    fleet = Fleet.create(tmp_path / "s")
    fleet.accept(3)
    emu = fleet.emulator()
    try:
        emu.power_cut([0], 200)
        for d in emu.site(0).devices:
            assert isinstance(d, Device)
            assert _shared_containers(d.to_dict(), d.to_dict()) == [], d.device_type
    finally:
        emu.close()


# ----------------------------------------------------------------- in the runtime


def _states(emu: Emulator, index: int) -> dict[str, dict[str, Any]]:
    out = {}
    for d in emu.site(index).devices:
        state = d.to_dict()
        state.pop("last_advance")
        out[d.device_type.value] = json.loads(json.dumps(state))
    return out


def _rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def test_a_fresh_site_has_no_full_save_and_a_used_one_reloads_exactly(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path / "s", sites=2)
    emu = fleet.emulator()
    db = fleet.state / "state-0.db"
    clock = emu.clock
    assert isinstance(clock, VirtualClock)
    try:
        emu.site(1)  # hydrated, never used: nothing stored
        for k in range(FOLD_AFTER + 20):
            frame = schedule_set(fleet.builder, fleet.esme(0), k % 24, k % 60)
            assert emu.handle(fleet.message(0, frame)) == 1
            if k == 0:
                assert _rows(db, "devices") == 0  # no first full save
                assert _rows(db, "deltas") >= 1 and _rows(db, "sites") == 1
            if k % 9 == 0:
                emu.power_cut([0], 200)
            if k % 5 == 0:
                clock.advance(timedelta(minutes=47))
                emu.tick(clock.now())
        live = _states(emu, 0)
        store = emu.store
        assert store.load_site("site-1") is None
        with sqlite3.connect(db) as con:
            per = dict(con.execute("SELECT kind, COUNT(*) FROM deltas GROUP BY kind").fetchall())
            snaps = {r[0] for r in con.execute("SELECT kind FROM devices")}
        assert "ESME" in snaps  # folded after FOLD_AFTER deltas
        assert all(c < FOLD_AFTER for c in per.values())
    finally:
        emu.close()
    again = fleet.emulator()
    try:
        assert _states(again, 0) == live
    finally:
        again.close()


def test_a_replay_is_refused_after_a_restart_from_deltas_alone(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path / "s", sites=3)
    fleet.accept(2)
    with sqlite3.connect(fleet.state / "state-0.db") as con:
        assert con.execute("SELECT COUNT(*) FROM devices").fetchone()[0] == 0
    assert all(c is not None for c in fleet.replay_checks())


def test_a_previous_schema_folder_loads_identically_and_upgrades(tmp_path: Path) -> None:
    """A schema-2 database (full device rows written at every save, no deltas table),
    built the old way from a live emulator, loads into the same devices."""
    fleet = Fleet.create(tmp_path / "s")
    fleet.accept(3)
    emu = fleet.emulator()
    try:
        live = _states(emu, 0)
        full = {d.device_type.value: d.to_dict() for d in emu.site(0).devices}
        own = emu.site(0).to_dict(set())
    finally:
        emu.close()
    db = fleet.state / "state-0.db"
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM deltas")
        con.execute("DROP TABLE deltas")
        con.execute("DELETE FROM devices")
        con.executemany(
            "INSERT INTO devices(site, kind, state) VALUES ('site-0', ?, ?)",
            [(k, json.dumps(v)) for k, v in full.items()],
        )
        del own["devices"]
        con.execute("UPDATE sites SET state = ? WHERE site = 'site-0'", (json.dumps(own),))
        con.execute("PRAGMA user_version=2")
    assert counters_of(db)[("site-0", "ESME")]["own"] > 0  # the tools read the old form
    again = fleet.emulator()
    try:
        assert _states(again, 0) == live
        frame = schedule_set(fleet.builder, fleet.esme(0), 5, 5)
        assert again.handle(fleet.message(0, frame)) == 1
    finally:
        again.close()
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert con.execute("SELECT COUNT(*) FROM deltas").fetchone()[0] >= 1
    assert all(c is not None for c in fleet.replay_checks())


@pytest.mark.parametrize(
    ("damage", "tools_see_it"),
    [
        ("not json", True),
        ('{"a": [[["own_counter"], [1]]]}', False),  # fits no factory ESME
    ],
)
def test_a_damaged_delta_is_refused_loudly_and_left_as_it_is(
    tmp_path: Path, damage: str, tools_see_it: bool
) -> None:
    fleet = Fleet.create(tmp_path / "s")
    fleet.accept(2)
    db = fleet.state / "state-0.db"
    with sqlite3.connect(db) as con:
        con.execute(
            "UPDATE deltas SET delta = ? WHERE seq = (SELECT MAX(seq) FROM deltas)", (damage,)
        )
    before = _table(db, "deltas"), _table(db, "devices")
    emu = fleet.emulator()
    try:
        with pytest.raises(StateDamaged, match=r"site-0 ESME: .*delta.* damaged"):
            emu.site(0)
    finally:
        emu.close()
    assert (_table(db, "deltas"), _table(db, "devices")) == before  # nothing rewritten
    if tools_see_it:
        findings = [f for f in check(fleet.state) if not f.ok]
        assert findings and "damaged" in findings[0].detail
        r = cli("state", "check", "--state", str(fleet.state))
        assert r.returncode != 0 and "Traceback" not in r.stderr


def _table(db: Path, table: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as con:
        return con.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall()


def test_the_state_tools_carry_deltas(tmp_path: Path) -> None:
    """backup → restore rollback check, and migrate, see counters held only in deltas."""
    fleet = Fleet.create(tmp_path / "s", sites=4)
    fleet.accept(2)
    counters = counters_of(fleet.state / "state-0.db")
    assert any(v > 0 for k, v in counters[("site-3", "ESME")].items() if k.startswith("from:"))
    backup = tmp_path / "backup"
    assert cli("state", "backup", "--state", str(fleet.state), "--to", str(backup)).returncode == 0
    fleet.accept(1)
    r = cli("state", "restore", "--state", str(fleet.state), "--from", str(backup))
    assert r.returncode != 0 and "roll" in r.stderr  # a counter only in a delta moved on
    result = migrate(fleet.state, fleet.config, first=0, count=2, total=2)
    assert result["sites"] == 4
    assert all(c is not None for c in fleet.replay_checks(workers=2))


def test_a_fresh_site_changed_by_its_caller_is_saved_in_full(tmp_path: Path) -> None:
    """A site handed out by ``Emulator.site`` may be changed directly: its factory state is
    then unknown, so its first write is a full save and nothing is lost."""
    fleet = Fleet.create(tmp_path / "s")
    emu = fleet.emulator()
    try:
        esme = emu.site(0).esme
        assert esme is not None
        held = esme.firmware.hold_image(b"image 2.0", bytes.fromhex("02000000"))
        emu.apply(0, lambda site, now: [])
        with sqlite3.connect(fleet.state / "state-0.db") as con:
            assert {r[0] for r in con.execute("SELECT kind FROM devices")} == {
                "CHF",
                "ESME",
                "GSME",
                "GPF",
            }
    finally:
        emu.close()
    again = fleet.emulator()
    try:
        reloaded = again.site(0).esme
        assert reloaded is not None
        assert reloaded.firmware.to_dict() == esme.firmware.to_dict()
        assert held.image_hash.hex() in json.dumps(reloaded.firmware.to_dict())
    finally:
        again.close()


def test_fresh_sites_share_one_stored_factory_template_per_kind(tmp_path: Path) -> None:
    """Sites other than the one a template was taken from reload exactly: what differs
    from the template (their EUIs, clocks, what commands did) is in their deltas."""
    fleet = Fleet.create(tmp_path / "s", sites=4)
    emu = fleet.emulator()
    db = fleet.state / "state-0.db"
    try:
        emu.power_cut([0, 1, 2, 3], 200)
        for i in (1, 2, 3):
            frame = schedule_set(fleet.builder, fleet.esme(i), i, i)
            assert emu.handle(fleet.message(i, frame)) == 1
        live = {i: _states(emu, i) for i in (1, 2, 3)}
    finally:
        emu.close()
    assert _rows(db, "templates") == 4  # one per device kind, not per site
    assert _rows(db, "devices") == 0
    again = fleet.emulator()
    try:
        for i in (1, 2, 3):
            assert _states(again, i) == live[i]
    finally:
        again.close()
    assert all(c is not None for c in fleet.replay_checks())


def test_a_missing_factory_template_is_refused_loudly(tmp_path: Path) -> None:
    fleet = Fleet.create(tmp_path / "s")
    fleet.accept(1)
    db = fleet.state / "state-0.db"
    with sqlite3.connect(db) as con:
        con.execute("DELETE FROM templates")
    emu = fleet.emulator()
    try:
        with pytest.raises(StateDamaged, match=r"factory template .* damaged"):
            emu.site(0)
    finally:
        emu.close()
    assert [f for f in check(fleet.state) if not f.ok]
