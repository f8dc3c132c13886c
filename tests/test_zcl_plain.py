"""The plain GSME/GPF command table (devices/zcl_plain.py), driven through the GBZ engine.

Every write row, executed by :func:`devices.gbz_engine.execute_gbz`, changes exactly the
attributes its row names (to the named fields' values) and keeps exactly its record;
a refusal leaves the model as it was; every read row answers its record or NOT_FOUND;
:func:`check_table` refuses inconsistent rows.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from devices.gbz_engine import execute_gbz
from devices.zcl_model import METERING, PREPAYMENT, PRICE, SITE_ID, ZclModel, load_profile
from devices.zcl_plain import (
    READ_ROWS,
    READS,
    WRITE_ROWS,
    WRITES,
    PlainRead,
    PlainTableError,
    PlainWrite,
    check_table,
)
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.zcl import (
    DefaultResponse,
    DisplayMessage,
    GetBillingPeriod,
    PublishBillingPeriod,
    PublishChangeOfTenancy,
    PublishConversionFactor,
    SetOverallDebtCap,
    UpdateSiteId,
    ZclCommand,
)

PROFILES = ("gsme", "gpf")
SUCCESS, INVALID_VALUE, NOT_FOUND, UNSUPPORTED_CLUSTER = 0x00, 0x87, 0x8B, 0xC3


def _body(row: PlainWrite, model: ZclModel) -> ZclCommand:
    """The row's command with a distinct value in each mapped field (differing from the
    attribute's current value) and zero/empty in every other field."""
    mapped = {f: a for a, f in row.attributes.items()}
    kw: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(row.command)):  # type: ignore[arg-type]
        if f.name == "trailing":
            continue
        text = str(f.type)
        if "bytes" in text:
            kw[f.name] = f"plain {i}".encode() if f.name in mapped else b""
        else:
            kw[f.name] = 0x11 + i if f.name in mapped else 0
        aid = mapped.get(f.name)
        if aid is not None and row.cluster is not None:
            a = model.attribute(row.cluster, aid)
            assert a is None or a.value != kw[f.name], f"{f.name}: pick another test value"
    return row.command(**kw)


def _run(model: ZclModel, body: ZclCommand, seq: int = 5) -> list[Any]:
    comp = GbzComponent.command(body.CLUSTER, body, seq)  # type: ignore[attr-defined]
    result = execute_gbz(
        GbzPayload((comp,)), model, message_code=0x0084, device_time=None, seal=None
    )
    assert not result.pending
    return [c.body for c in result.response.components]


def _values(model: ZclModel) -> dict[tuple[int, int], Any]:
    return {(c, a): attr.value for c, attrs in model.clusters.items() for a, attr in attrs.items()}


def _default(out: list[Any], body: ZclCommand, status: int) -> None:
    assert out == [DefaultResponse(body.COMMAND_ID, status)]  # type: ignore[attr-defined]


def test_the_shipped_table_passes_its_checks() -> None:
    check_table()
    assert len(WRITES) == len(WRITE_ROWS) == 17
    assert len(READS) == len(READ_ROWS) == 1


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("row", WRITE_ROWS, ids=lambda r: r.command.__name__)
def test_write_row_sets_exactly_its_attributes_and_keeps_its_record(
    row: PlainWrite, profile: str
) -> None:
    model = load_profile(profile)
    before_values = _values(model)
    before_state = model.to_dict()["state"]
    body = _body(row, model)
    if not model.has_cluster(body.CLUSTER):  # type: ignore[attr-defined]
        # the GPF has no Messaging cluster: refused before any row is looked at
        _default(_run(model, body), body, UNSUPPORTED_CLUSTER)
        assert model.to_dict()["state"] == before_state
        assert _values(model) == before_values
        return

    _default(_run(model, body), body, SUCCESS)

    changed = {k: v for k, v in _values(model).items() if before_values[k] != v}
    expected = {
        (row.cluster, a): getattr(body, f)
        for a, f in row.attributes.items()
        if row.cluster is not None and (row.cluster, a) in before_values
    }
    assert len(expected) == len(row.attributes)  # both profiles have every row attribute
    assert changed == expected
    assert model.records[row.record] is body
    after_state = model.to_dict()["state"]
    assert set(after_state["records"]) == set(before_state["records"]) | {row.record}
    after_state.pop("records")
    before_state.pop("records")
    assert after_state == before_state


@pytest.mark.parametrize(
    "row", [r for r in WRITE_ROWS if r.attributes], ids=lambda r: r.command.__name__
)
def test_write_row_refused_by_a_setter_leaves_the_model_unchanged(row: PlainWrite) -> None:
    """The last attribute's bound setter refuses: the answer is its status, the earlier
    attributes' setters are undone, no value changes and no record is kept."""
    model = load_profile("gsme")
    old = {a: v for (c, a), v in _values(model).items() if c == row.cluster}
    assert row.cluster is not None
    ids = list(row.attributes)
    seen: list[tuple[int, Any]] = []
    for aid in ids[:-1]:
        model.bind(row.cluster, aid, setter=lambda v, aid=aid: seen.append((aid, v)) or 0)
    model.bind(row.cluster, ids[-1], setter=lambda v: INVALID_VALUE)
    before = model.to_dict()
    body = _body(row, model)

    _default(_run(model, body), body, INVALID_VALUE)

    assert model.to_dict() == before
    assert row.record not in model.records
    # each earlier setter saw the new value, then (rolled back, in reverse) the old one
    forward = [(a, getattr(body, row.attributes[a])) for a in ids[:-1]]
    back = [(a, old[a]) for a in reversed(ids[:-1])]
    assert seen == forward + back


def test_a_value_outside_the_attribute_type_is_invalid_and_changes_nothing() -> None:
    model = load_profile("gsme")
    # Overall Debt Cap is int32 in the profile; make it int8 so the command's value overflows
    model.clusters[PREPAYMENT][0x0006].type_id = 0x28
    before = model.to_dict()
    body = SetOverallDebtCap(0, 0, 0, 1000)
    _default(_run(model, body), body, INVALID_VALUE)
    assert model.to_dict() == before


def test_attributes_the_profile_lacks_are_skipped() -> None:
    model = load_profile("gsme")
    del model.clusters[PRICE][0x0303]
    body = PublishConversionFactor(1, 0, 123456, 0x40)
    _default(_run(model, body), body, SUCCESS)
    assert model.get_int(PRICE, 0x0302) == 123456
    assert model.attribute(PRICE, 0x0303) is None
    assert model.records["conversion_factor"] is body


@pytest.mark.parametrize("profile", PROFILES)
@pytest.mark.parametrize("row", READ_ROWS, ids=lambda r: r.command.__name__)
def test_read_row_answers_not_found_then_its_stored_records(row: PlainRead, profile: str) -> None:
    model = load_profile(profile)
    get = _get(row)
    before = model.to_dict()
    _default(_run(model, get, seq=9), get, NOT_FOUND)
    assert model.to_dict() == before

    stored = []
    for key in row.records:
        (w,) = [w for w in WRITE_ROWS if w.record == key]
        body = _body(w, model)
        _run(model, body)
        stored.append(body)
    before = model.to_dict()
    assert _run(model, get, seq=9) == stored
    assert model.to_dict() == before


def test_get_billing_period_answers_the_record_after_a_save_and_load() -> None:
    model = load_profile("gsme")
    period = PublishBillingPeriod(7, 8, 0x2000_0000, 1, 0x01, 0)
    _run(model, period)
    again = ZclModel.from_dict(model.to_dict())
    assert _run(again, GetBillingPeriod(0, 0, 0, 0)) == [period]


def _get(row: PlainRead) -> ZclCommand:
    names = [f.name for f in dataclasses.fields(row.command)]  # type: ignore[arg-type]
    return row.command(**{n: 0 for n in names if n != "trailing"})


# --------------------------------------------------------------------------- check_table


def _site(attributes: dict[int, str], cluster: int = METERING, record: str = "x") -> PlainWrite:
    return PlainWrite(UpdateSiteId, cluster, attributes, record, "test")


def test_check_refuses_an_attribute_the_cluster_lacks() -> None:
    with pytest.raises(PlainTableError, match=r"UpdateSiteId: attribute 0x7FFF .*Metering"):
        check_table([_site({0x7FFF: "site_id"})], [])
    # Site ID exists, but in Metering, not in Price
    with pytest.raises(PlainTableError, match=r"attribute 0x0307 .*Price \(0x0700\)"):
        check_table([_site({SITE_ID: "site_id"}, cluster=PRICE)], [])


def test_check_reads_attributes_from_the_given_profiles() -> None:
    model = load_profile("gsme")
    del model.clusters[METERING][SITE_ID]
    with pytest.raises(PlainTableError, match="UpdateSiteId: attribute 0x0307"):
        check_table(profiles=[model])


@pytest.mark.parametrize(
    ("writes", "reads", "message"),
    [
        ([_site({SITE_ID: "mprn"})], [], "UpdateSiteId: no field 'mprn'"),
        ([_site({SITE_ID: "site_id"}), _site({}, None, "y")], [], "described by two rows"),
        (
            [_site({SITE_ID: "site_id"}, record="r"), *WRITE_ROWS[:1]],
            [PlainRead(GetBillingPeriod, ("billing_period",), "test")],
            "GetBillingPeriod: no plain write keeps record 'billing_period'",
        ),
        (
            [*WRITE_ROWS, PlainWrite(PublishChangeOfTenancy, None, {}, "message", "test")],
            [],
            "PublishChangeOfTenancy: described by two rows",
        ),
        (
            [
                PlainWrite(DisplayMessage, None, {}, "message", "test"),
                PlainWrite(PublishChangeOfTenancy, None, {}, "message", "test"),
            ],
            [],
            "PublishChangeOfTenancy: record 'message' is already kept by DisplayMessage",
        ),
        ([_site({}, METERING)], [], "a cluster is needed exactly when attributes are set"),
        ([_site({SITE_ID: "site_id"}, record="")], [], "empty record key"),
        ([], [PlainRead(GetBillingPeriod, (), "test")], "answers no record"),
    ],
)
def test_check_refuses_inconsistent_rows(
    writes: list[PlainWrite], reads: list[PlainRead], message: str
) -> None:
    with pytest.raises(PlainTableError, match=message):
        check_table(writes, reads)


def test_rows_describe_their_command_attributes_and_use_cases() -> None:
    (row,) = [w for w in WRITE_ROWS if w.command is UpdateSiteId]
    assert row.describe() == (
        "ZSE Update Site ID (GCS41 Set MPRN): Metering (0x0702) 0x0307=site_id; record 'site_id'"
    )
    assert READ_ROWS[0].describe().startswith("ZSE Get Billing Period (GCS21d")
