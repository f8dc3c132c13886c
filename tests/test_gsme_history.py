"""GSME history of issue 12: the Billing Data Log its Billing Calendar takes (GCS15c) and
the debt log payment-based debt recovery writes on a top-up (GCS15d), over RTDS frames."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.factory import create_device, own_keys_from
from devices.zcl_model import (
    PREPAYMENT,
    SNAPSHOT_CAUSE_BILLING_PERIOD_END,
    billing_period_boundaries,
)
from emulator.conformance import harness
from emulator.conformance.cases import load_cases
from gbcs.codec import decode
from gbcs.zcl import utc_from_datetime
from keys.store import KeyStore
from tests.devkit import responses
from tests.interop import require_interop

GSME_EUI = bytes.fromhex("00DB1234567890A1")
FEB_1 = utc_from_datetime(datetime(2015, 2, 1, tzinfo=UTC))
MAR_1 = utc_from_datetime(datetime(2015, 3, 1, tzinfo=UTC))
DEBT_3_AMOUNT = 0x0231
CREDIT_REMAINING = 0x0001


def test_monthly_boundaries_include_the_start() -> None:
    jan_1 = utc_from_datetime(datetime(2015, 1, 1, tzinfo=UTC))
    mar_16 = utc_from_datetime(datetime(2015, 3, 16, tzinfo=UTC))
    assert billing_period_boundaries(FEB_1, 1, 0x23, jan_1, mar_16) == [FEB_1, MAR_1]
    # already checked up to 1 Feb: only 1 Mar is left
    assert billing_period_boundaries(FEB_1, 1, 0x23, FEB_1, mar_16) == [MAR_1]
    # months keep the day, clamped at the month's end: 31 Jan -> 28 Feb -> 31 Mar
    jan_31 = utc_from_datetime(datetime(2015, 1, 31, tzinfo=UTC))
    got = billing_period_boundaries(jan_31, 1, 0x03, 0, mar_16 + 40 * 86_400)
    assert got[1] - jan_31 == 28 * 86_400 and got[2] - got[1] == 31 * 86_400


def test_fixed_timebases_until_changed_and_limit() -> None:
    day = 86_400
    assert billing_period_boundaries(FEB_1, 2, 0x01, FEB_1, FEB_1 + 7 * day) == [
        FEB_1 + 2 * day,
        FEB_1 + 4 * day,
        FEB_1 + 6 * day,
    ]
    assert billing_period_boundaries(FEB_1, 1, 0x02, 0, FEB_1 + 14 * day) == [
        FEB_1,
        FEB_1 + 7 * day,
        FEB_1 + 14 * day,
    ]
    # "until changed" and duration 0: the start only; an unknown timebase: nothing
    assert billing_period_boundaries(FEB_1, 0xFFFFFF, 0x03, 0, FEB_1 + 999 * day) == [FEB_1]
    assert billing_period_boundaries(FEB_1, 0, 0x01, 0, FEB_1 + 999 * day) == [FEB_1]
    assert billing_period_boundaries(FEB_1, 1, 0x05, 0, FEB_1 + 999 * day) == []
    # minutes over ten years: only the latest `limit`, computed without walking them all
    far = FEB_1 + 3650 * day
    assert billing_period_boundaries(FEB_1, 1, 0x00, 0, far, limit=2) == [far - 60, far]


@pytest.fixture(scope="module")
def rtds() -> tuple[dict[str, Any], Path]:
    d = require_interop()
    cases = {c.id.rsplit("/", 1)[-1]: c for c in load_cases(d / "vectors.json")}
    return cases, d / "keys"


def _device(store: KeyStore, **options: Any) -> tuple[Any, Any]:
    own = own_keys_from(store, GSME_EUI)
    dev = create_device(
        "GSME",
        GSME_EUI,
        store,
        own=own,
        parties=harness.RTDS_PARTIES,
        now=harness.CONFORMANCE_TIME - harness.HISTORY,
        options={"gas_profile": 60, **options},
    )
    dev.advance(harness.CONFORMANCE_TIME)
    return dev, own


def _send(dev: Any, own: Any, store: KeyStore, command: bytes, now: datetime) -> list[Any]:
    acb = harness.RTDS_PARTIES[harness.R.ACCESS_CONTROL_BROKER]
    out = dev.receive(harness._fed(command, store, dev, own, acb), now)
    assert dev.last_rejection is None, dev.last_rejection
    return responses(out)


def _billing(log: list[Any]) -> list[int]:
    return [s.time for s in log if s.cause == SNAPSHOT_CAUSE_BILLING_PERIOD_END]


def test_billing_calendar_takes_billing_data_log_entries(rtds) -> None:  # type: ignore[no-untyped-def]
    """GCS25 (monthly from 1 Feb 2015) then two and a half months of gas: one Metering
    and one Prepayment snapshot with cause 0x02 at each boundary, holding the registers
    of the time, and GCS15c reads both back."""
    cases, keys = rtds
    store = KeyStore(keys)
    dev, own = _device(store)
    now = harness.CONFORMANCE_TIME
    _send(dev, own, store, cases["GCS25_6.8_SUCCESS"].command, now)
    assert _billing(dev.model.snapshots) == []
    dev.advance(datetime(2015, 1, 20, tzinfo=UTC))
    assert _billing(dev.model.snapshots) == []  # the calendar has not started yet
    dev.advance(datetime(2015, 2, 10, tzinfo=UTC))
    assert _billing(dev.model.snapshots) == [FEB_1]
    later = datetime(2015, 3, 16, tzinfo=UTC)
    dev.advance(later)
    assert _billing(dev.model.snapshots) == [FEB_1, MAR_1]
    assert _billing(dev.model.prepay_snapshots) == [FEB_1, MAR_1]
    feb, mar = (s for s in dev.model.snapshots if s.cause == SNAPSHOT_CAUSE_BILLING_PERIOD_END)
    assert feb.payload != mar.payload  # 60 l/h flowed in between
    (rsp,) = _send(dev, own, store, cases["GCS15c_4.4.3_SUCCESS"].command, later)
    published = [c for c in rsp.payload.components if c.command_id in (0x06, 0x01)]
    assert len(published) == 4  # two Publish Snapshot, two Publish Prepay Snapshot


def test_no_billing_entry_while_the_clock_is_invalid(rtds) -> None:  # type: ignore[no-untyped-def]
    """IRP571: a boundary passed without a valid time is never taken afterwards."""
    cases, keys = rtds
    store = KeyStore(keys)
    dev, own = _device(store)
    _send(dev, own, store, cases["GCS25_6.8_SUCCESS"].command, harness.CONFORMANCE_TIME)
    dev.device_time = lambda now: None  # the clock is lost
    dev.advance(datetime(2015, 2, 10, tzinfo=UTC))
    del dev.device_time  # and valid again: checking resumes from here
    dev.advance(datetime(2015, 2, 20, tzinfo=UTC))
    assert _billing(dev.model.snapshots) == []
    dev.advance(datetime(2015, 3, 16, tzinfo=UTC))
    assert _billing(dev.model.snapshots) == [MAR_1]


def test_top_up_recovers_payment_based_debt(rtds) -> None:  # type: ignore[no-untyped-def]
    """GCS04 sets Debt 3 (1 000 000, recovered at 100/10000 = 1 % of each payment); a
    1 250 000 top-up (CS01b) collects 12 500 of it, credits the rest, logs the collection
    (debt type 2), and GCS15d reads it."""
    cases, keys = rtds
    store = KeyStore(keys)
    dev, own = _device(store, top_up_value=1_250_000)
    now = harness.CONFORMANCE_TIME
    m = dev.model
    _send(dev, own, store, cases["GCS04_2.3_SUCCESS"].command, now)
    owed = m.get_int(PREPAYMENT, DEBT_3_AMOUNT)
    credit = m.get_int(PREPAYMENT, CREDIT_REMAINING)
    (top_up,) = _send(dev, own, store, cases["CS01b_2.2_SUCCESS"].command, now)
    body = top_up.payload.components[0].body
    assert (body.result_type, body.top_up_value) == (0, 1_250_000)
    assert body.credit_remaining == credit + 1_250_000 - 12_500
    assert m.get_int(PREPAYMENT, DEBT_3_AMOUNT) == owed - 12_500
    stamp = utc_from_datetime(now)
    assert [(e.collection_time, e.amount_collected, e.debt_type) for e in m.debt_log] == [
        (stamp, 12_500, 2)
    ]
    assert m.debt_log[0].outstanding_debt == owed - 12_500
    (rsp,) = _send(dev, own, store, cases["GCS15d_4.4.4_SUCCESS"].command, now)
    assert rsp.payload.components[0].command_id == 0x06  # Publish Debt Log


def test_no_collection_without_payment_debt_or_value(rtds) -> None:  # type: ignore[no-untyped-def]
    """No payment-based debt set, or a top-up worth nothing: the debt log stays empty."""
    cases, keys = rtds
    store = KeyStore(keys)
    now = harness.CONFORMANCE_TIME
    dev, own = _device(store, top_up_value=1_250_000)
    _send(dev, own, store, cases["CS01b_2.2_SUCCESS"].command, now)
    assert dev.model.debt_log == []
    dev, own = _device(store)  # top_up_value 0
    _send(dev, own, store, cases["GCS04_2.3_SUCCESS"].command, now)
    _send(dev, own, store, cases["CS01b_2.2_SUCCESS"].command, now)
    assert dev.model.debt_log == []


@pytest.mark.parametrize("case", ["GCS15c_4.4.3_SUCCESS", "GCS15d_4.4.4_SUCCESS"])
def test_rtds_history_cases_conformant(rtds, case: str) -> None:  # type: ignore[no-untyped-def]
    cases, keys = rtds
    c = cases[case]
    store = KeyStore(keys)
    r = harness.run_case(
        c,
        store,
        own_keys_from(store, bytes.fromhex(harness._recipient_hex(c))),
        prepared={k: v.command for k, v in cases.items()},
    )
    assert r.status == harness.CONFORMANT, r.detail
    assert decode(r.response or b"").message_code == c.message_code


def test_state_keeps_the_calendar_progress(rtds) -> None:  # type: ignore[no-untyped-def]
    """A restored GSME neither repeats nor misses a boundary."""
    cases, keys = rtds
    store = KeyStore(keys)
    dev, own = _device(store)
    _send(dev, own, store, cases["GCS25_6.8_SUCCESS"].command, harness.CONFORMANCE_TIME)
    dev.advance(datetime(2015, 2, 10, tzinfo=UTC))
    state = dev.to_dict()
    again, _ = _device(store)
    again.load_state(state)
    again.advance(datetime(2015, 3, 2, tzinfo=UTC) + timedelta(hours=1))
    assert _billing(again.model.snapshots) == [FEB_1, MAR_1]
