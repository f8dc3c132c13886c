"""GSME fidelity fixes of issue 12: snapshot windows, billing-data-log triggers, the
network data log, and the RTDS cases they make conformant."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from devices.factory import create_device, own_keys_from
from devices.gbz_engine import (
    BILLING_SNAPSHOT_CAUSES,
    SNAPSHOT_CAUSE_MODE,
    SNAPSHOT_CAUSE_TARIFF,
    _select_snapshots,
)
from devices.zcl_model import Sampling, Snapshot
from emulator.conformance import harness
from emulator.conformance.cases import load_cases
from keys.store import KeyStore
from tests.interop import require_interop

GSME_EUI = bytes.fromhex("00DB1234567890A1")


def _snap(t: int, cause: int = 1) -> Snapshot:
    return Snapshot(t, t, cause, 0, b"")


def test_snapshot_window_is_half_open() -> None:
    """ZCL Get Snapshot: time >= Earliest Start Time and time < Latest End Time."""
    snaps = [_snap(100), _snap(200), _snap(300)]
    assert [s.time for s in _select_snapshots(snaps, 100, 300, 0xFFFFFFFF)] == [100, 200]
    assert [s.time for s in _select_snapshots(snaps, 101, 301, 0xFFFFFFFF)] == [200, 300]
    # 0 and 0xFFFFFFFF as the latest end mean "now": no upper bound
    assert len(_select_snapshots(snaps, 0, 0xFFFFFFFF, 0xFFFFFFFF)) == 3
    assert _select_snapshots(snaps, 0, 0, 2) == []  # no cause bit shared


def test_billing_snapshot_causes() -> None:
    assert BILLING_SNAPSHOT_CAUSES[0x006B] == SNAPSHOT_CAUSE_TARIFF == 0x08
    assert BILLING_SNAPSHOT_CAUSES[0x006D] == SNAPSHOT_CAUSE_MODE == 0x4000
    # GCS15b's mask selects both
    assert all(c & 0x6008 for c in BILLING_SNAPSHOT_CAUSES.values())


def _gsme(store: KeyStore, history: timedelta = timedelta(0)):  # type: ignore[no-untyped-def]
    own = own_keys_from(store, GSME_EUI)
    dev = create_device(
        "GSME",
        GSME_EUI,
        store,
        own=own,
        parties=harness.RTDS_PARTIES,
        now=harness.CONFORMANCE_TIME - history,
        options={"gas_profile": 60},
    )
    return dev, own


def test_network_data_log_samples_each_interval(tmp_path: Path) -> None:
    """Once started (GCS31), the network data log takes one sample per interval, each
    the gas that flowed in it (60 l/h over 360 s = 6 l), up to its maximum."""
    dev, _ = _gsme(KeyStore(tmp_path))
    m = dev.model
    sid = m.config.start_sampling_id
    assert sid is not None
    start = 1000
    m.samplings[sid] = Sampling(0, 360, 5, start, [], 0)
    assert m.record_network_samples(start + 359, 60 / 3600) == 0
    assert m.record_network_samples(start + 720, 60 / 3600) == 2
    s = m.samplings[sid]
    assert s.start == start + 360 and s.samples == [6, 6]
    m.record_network_samples(start + 360 * 10, 60 / 3600)
    assert len(s.samples) == 5 and s.start == start + 360 * 6


def test_gsme_advance_fills_started_network_log(tmp_path: Path) -> None:
    dev, _ = _gsme(KeyStore(tmp_path))
    sid = dev.model.config.start_sampling_id
    assert sid is not None
    t0 = harness.CONFORMANCE_TIME
    dev.advance(t0)
    from gbcs.zcl import utc_from_datetime

    dev.model.samplings[sid] = Sampling(0, 360, 41, utc_from_datetime(t0), [], 0)
    dev.advance(t0 + timedelta(hours=1))
    assert dev.model.samplings[sid].samples == [6] * 10


@pytest.fixture(scope="module")
def rtds() -> tuple[dict[str, object], Path]:
    d = require_interop()
    cases = {c.id.rsplit("/", 1)[-1]: c for c in load_cases(d / "vectors.json")}
    return cases, d / "keys"


def _feed(store: KeyStore, names: list[str], cases: dict[str, object]):  # type: ignore[no-untyped-def]
    dev, own = _gsme(store, harness.HISTORY)
    now = harness.CONFORMANCE_TIME
    dev.advance(now)
    acb = harness.RTDS_PARTIES[harness.R.ACCESS_CONTROL_BROKER]
    for n in names:
        out = dev.receive(harness._fed(cases[n].command, store, dev, own, acb), now)  # type: ignore[attr-defined]
        assert out and dev.last_rejection is None, n
    return dev


def test_tariff_and_mode_changes_write_the_billing_data_log(rtds) -> None:  # type: ignore[no-untyped-def]
    cases, keys = rtds
    dev = _feed(
        KeyStore(keys),
        ["GCS03_1.6_IMMEDIATE_SUCCESS", "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS"],
        cases,
    )
    now = 473385600  # 2015-01-01 00:00:00 as ZCL UTCTime
    for log in (dev.model.snapshots, dev.model.prepay_snapshots):
        assert [(s.time, s.cause) for s in log if s.cause != 1] == [
            (now, SNAPSHOT_CAUSE_MODE),
            (now, SNAPSHOT_CAUSE_TARIFF),
        ]


@pytest.mark.parametrize(
    ("device", "case"),
    [
        ("GSME", "GCS15b_4.4.2_SUCCESS"),
        ("GSME", "GCS16b_4.14_KRP_SUCCESS"),
        ("GSME", "GCS18_4.10_SUCCESS"),
        ("GPF", "GCS16b_4.14_URP_SUCCESS"),
    ],
)
def test_rtds_cases_now_conformant(rtds, device: str, case: str) -> None:  # type: ignore[no-untyped-def]
    cases, keys = rtds
    c = cases[case]
    store = KeyStore(keys)
    cmd_eui = bytes.fromhex(harness._recipient_hex(c))
    r = harness.run_case(
        c,
        store,
        own_keys_from(store, cmd_eui),
        prepared={k: v.command for k, v in cases.items()},  # type: ignore[attr-defined]
    )
    assert r.status == harness.CONFORMANT, r.detail
