"""GBZ use-case engine and ZCL model: RTDS command/response conformance and behaviour.

The RTDS part runs every GSME and GPF GBZ command of the DCC RTDS 4.5.0 vectors on a fresh
profile model (seeded, where the RTDS response reports data a fresh device cannot have,
with the state the RTDS device evidently had) and compares the response with RTDS's
component by component: cluster, ZCL frame control (type, direction, disable default
response), sequence number, command id, encrypted or clear, and the body's structure
(attribute ids, statuses and data types; record class and snapshot payload class).
Encrypted components are sealed with the real part key of the RTDS response header and
decrypted back with ``gbcs.security.decrypt_parts``, as the device will do it.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.gbz_engine import (
    ENCRYPTED_RESPONSES,
    GbzEngineError,
    GbzResult,
    PendingCommand,
    execute_gbz,
    execute_pending,
    future_dated_outcome,
)
from devices.zcl_model import (
    BASIC,
    CALENDAR,
    METERING,
    PREPAYMENT,
    PRICE,
    ZclModel,
    ZclModelError,
    decode_value_hex,
    encode_value_hex,
    load_profile,
)
from gbcs.codec import GbcsMessage, build, decode
from gbcs.gbz import GbzAlertHeader, GbzCiphered, GbzComponent, GbzPayload, decode_gbz
from gbcs.security import decode_plaintext, decrypt_parts, part_key_for, seal_part
from gbcs.zcl import (
    AttributeStatusRecord,
    AttributeWriteRecord,
    ChangePaymentMode,
    ChangePaymentModeResponse,
    ChangeSupply,
    ClearEventLogRequest,
    ClearEventLogResponse,
    ConsumerTopUp,
    ConsumerTopUpResponse,
    CreditAdjustment,
    DayScheduleEntry,
    DefaultResponse,
    DisplayMessage,
    GetCurrentPrice,
    GetDayProfiles,
    GetEventConfiguration,
    GetEventLog,
    GetSampledData,
    GetSampledDataResponse,
    GetSnapshot,
    GetTopUpLog,
    PriceMatrixEntry,
    PublishChangeOfTenancy,
    PublishDayProfile,
    PublishEventLog,
    PublishPrice,
    PublishPriceMatrix,
    PublishSnapshot,
    PublishTariffInformation,
    PublishTopUpLog,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    ReportEventConfiguration,
    SetEventConfiguration,
    StartSampling,
    StartSamplingResponse,
    SupplyStatusResponse,
    UpdateSiteId,
    WriteAttributes,
    WriteAttributesResponse,
    ZclHeader,
    ZclValue,
)
from keys.store import KeyStore
from tests.interop import _vectors, interop_dir, keys_dir, vectors

NOW = datetime(2015, 1, 1, tzinfo=UTC)
T0 = 473385600  # 2015-01-01 as ZigBee UTCTime


# --------------------------------------------------------------------------- RTDS pairs


def _gbz_pairs() -> list[str]:
    d = interop_dir()
    if d is None:
        return []
    vecs = _vectors(str(d))
    ids = {v["id"] for v in vecs}
    return sorted(
        v["id"][: -len("_COMMAND")]
        for v in vecs
        if v["id"].endswith("_COMMAND")
        and v["form"] == "full"
        and v["device_type"] in ("GSME", "GPF")
        and v["expected"]["payload_kind"] == "Profile ID"
        and v["id"][: -len("_COMMAND")] + "_RESPONSE" in ids
    )


PAIRS = _gbz_pairs()


@functools.cache
def _by_id() -> dict[str, dict[str, Any]]:
    return {v["id"]: v for v in vectors()}


@functools.cache
def _keystore() -> KeyStore:
    return KeyStore(keys_dir())


def _message(vid: str) -> GbcsMessage:
    return decode(bytes.fromhex(_by_id()[vid]["hex"]))


def _prefix(case: str) -> str:
    return next(p for p in PAIRS if p.endswith("/" + case))


def _short(prefix: str) -> str:
    return prefix.rsplit("/", 1)[-1]


def _run_rtds(model: ZclModel, case: str, device_time: datetime = NOW) -> GbzResult:
    cmd = _message(_prefix(case) + "_COMMAND")
    assert isinstance(cmd.payload, GbzPayload)
    return execute_gbz(
        cmd.payload,
        model,
        message_code=cmd.message_code,
        device_time=device_time,
        seal=lambda pt: seal_part(bytes(16), bytes(8), pt),
    )


def _after(*cases: str) -> Any:
    def seed(m: ZclModel) -> None:
        for c in cases:
            _run_rtds(m, c)

    return seed


def _snapshots(*entries: tuple[int, int]) -> Any:
    def seed(m: ZclModel) -> None:
        for time, cause in entries:
            m.take_snapshot(time, cause)

    return seed


def _samples(sample_id: int, start: int, n: int, step: int, before: Any = None) -> Any:
    def seed(m: ZclModel) -> None:
        if before is not None:
            before(m)
        for i in range(n):
            m.record_sample(sample_id, (i * 7919) % (1 << 24), start + i * step)

    return seed


def _events(log_id: int) -> Any:
    def seed(m: ZclModel) -> None:
        for i in range(32):
            m.log_event(log_id, 0x8100 + i, 473299200 + 60 * i, b"\x00\x01" if i % 2 else b"")

    return seed


def _friendly_credit_with_four_days(m: ZclModel) -> None:
    _run_rtds(m, "GCS05_2.1_IMMEDIATE_SUCCESS")
    day4 = PublishDayProfile(0, T0, T0, 4, 1, 0, 1, 3, (DayScheduleEntry(0, 1),))
    out = _run(m, GbzComponent.command(CALENDAR, day4), code=0x006F)
    assert out.response.components[0].body == DefaultResponse(0x01, 0)


def _debt_log(m: ZclModel) -> None:
    for i in range(10):
        m.record_debt_collection(470707200 + 267840 * i, 1000 * i, 2, 0)


def _top_up_log(m: ZclModel) -> None:
    for i in range(5):
        m.record_top_up(b"%020d" % i, 1000000, 470707200 + 535680 * i)


# State the RTDS device had that a factory model cannot (each RTDS response reports it).
SEEDS: dict[str, Any] = {
    "GCS18_4.10_SUCCESS": _samples(2, 473371200, 41, 360, _after("GCS31_14.1_SUCCESS")),
    "GCS21f_4.11.1_SUCCESS": _after("GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS"),
    "GCS21b_4.13_SUCCESS": _friendly_credit_with_four_days,
    "GCS16b_4.14_KRP_SUCCESS": _snapshots((473245200, 1), (473331600, 1)),
    "GCS16b_4.14_URP_SUCCESS": _snapshots((473245200, 1), (473331600, 1)),
    "GCS61_4.17_SUCCESS": _samples(1, 472521600, 11, 86400),
    "GCS15b_4.4.2_SUCCESS": _snapshots((470707200, 0x08), (473385600, 0x2000)),
    "GCS15c_4.4.3_SUCCESS": _snapshots((476064000, 2), (478483200, 2)),
    "GCS15d_4.4.4_SUCCESS": _debt_log,
    "GCS15e_4.4.5_SUCCESS": _top_up_log,
    "GCS16a_4.6.1_SUCCESS": _snapshots((473245200, 1), (473331600, 1)),
    "GCS17_4.8.1_SUCCESS": _samples(0, 473212800, 97, 1800),
    "CS10a_6.13_SUCCESS": _events(3),
    "CS10b_6.13_SUCCESS": _events(4),
    "GCS21d_6.2.3_SUCCESS": _after("GCS25_6.8_SUCCESS"),
    "GCS21k_6.2.3_SUCCESS": _after("GCS25a_6.8_SUCCESS"),
}

# _ERROR variants: the fault each RTDS error response shows.
FAULTS: dict[str, dict[int, int]] = {
    "GCS36_9.1_ERROR": {0x0083: 0xC0},  # Default Response HARDWARE_FAILURE
    "GCS31_14.1_ERROR": {0x0080: 0x01},  # Start Sampling Response, sample id 0xFFFF
}


def _body_shape(body: Any) -> tuple[Any, ...]:
    if isinstance(body, ReadAttributesResponse):
        return (
            "ReadAttributesResponse",
            tuple(
                (r.attribute_id, r.status, None if r.value is None else r.value.type_id)
                for r in body.records
            ),
        )
    if isinstance(body, DefaultResponse):
        return ("DefaultResponse", body.command_id, body.status)
    if isinstance(body, WriteAttributesResponse):
        return ("WriteAttributesResponse", body.records)
    sub = getattr(body, "snapshot_payload", None)
    return (type(body).__name__, None if sub is None else type(sub).__name__)


def _shape(msg: GbcsMessage) -> list[tuple[Any, ...]]:
    assert isinstance(msg.payload, GbzPayload)
    plain = {p.part.path: decode_plaintext(p) for p in decrypt_parts(msg, _keystore())}
    out = []
    for i, c in enumerate(msg.payload.components):
        body = c.body if c.ciphered is None else plain[f"components[{i}].ciphered"]
        out.append(
            (
                c.cluster,
                c.zcl.frame_control,
                c.zcl.sequence,
                c.command_id,
                c.encrypted,
                _body_shape(body),
            )
        )
    return out


def _rtds_response(prefix: str) -> tuple[GbzResult, GbcsMessage, ZclModel]:
    cmd = _message(prefix + "_COMMAND")
    rsp = _message(prefix + "_RESPONSE")
    assert isinstance(cmd.payload, GbzPayload)
    device = _by_id()[prefix + "_COMMAND"]["device_type"]
    model = load_profile("gpf" if device == "GPF" else "gsme")
    seed = SEEDS.get(_short(prefix))
    if seed is not None:
        seed(model)
    header = rsp.header

    def seal(pt: bytes) -> bytes:
        return seal_part(part_key_for(header, _keystore()), header.originator, pt)

    result = execute_gbz(
        cmd.payload,
        model,
        message_code=cmd.message_code,
        device_time=NOW,
        seal=seal,
        faults=FAULTS.get(_short(prefix)),
    )
    return result, rsp, model


def test_rtds_pair_inventory() -> None:
    if not PAIRS:
        pytest.skip("interop vectors not found")
    devices = [_by_id()[p + "_COMMAND"]["device_type"] for p in PAIRS]
    assert (len(PAIRS), devices.count("GSME"), devices.count("GPF")) == (62, 54, 8)
    assert set(FAULTS) == {_short(p) for p in PAIRS if "_ERROR" in p}
    assert set(SEEDS) <= {_short(p) for p in PAIRS}


@pytest.mark.interop
@pytest.mark.parametrize("prefix", PAIRS, ids=[_short(p) for p in PAIRS])
def test_rtds_response_structure(prefix: str) -> None:
    result, rsp, _ = _rtds_response(prefix)
    assert result.pending == ()
    ours = build(rsp.header, result.response)
    assert _shape(ours) == _shape(rsp)
    raw = result.response.encode()
    assert decode_gbz(raw, 0, len(raw), alert=False).encode() == raw


@pytest.mark.interop
def test_rtds_error_variants_answer_with_the_fault_and_change_nothing() -> None:
    for case, status_body in (
        ("GCS36_9.1_ERROR", DefaultResponse(0x06, 0xC0)),
        ("GCS31_14.1_ERROR", StartSamplingResponse(0xFFFF)),
    ):
        prefix = _prefix(case)
        model = load_profile("gsme")
        before = model.to_dict()
        cmd = _message(prefix + "_COMMAND")
        assert isinstance(cmd.payload, GbzPayload)
        out = execute_gbz(
            cmd.payload,
            model,
            message_code=cmd.message_code,
            device_time=NOW,
            seal=None,
            faults=FAULTS[case],
        )
        assert [c.body for c in out.response.components] == [status_body]
        assert model.to_dict() == before


@pytest.mark.interop
def test_gpf_mirroring_a_gsme_answers_tariff_reads_like_rtds() -> None:
    gsme = load_profile("gsme")
    _run_rtds(gsme, "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS")
    gpf = load_profile("gpf")
    gpf.mirror_from(gsme)
    cmd = _message(_prefix("GCS21f_4.11.1_SUCCESS") + "_COMMAND")
    rsp = _message(_prefix("GCS21f_4.11.1_SUCCESS") + "_RESPONSE")
    assert isinstance(cmd.payload, GbzPayload)
    out = execute_gbz(cmd.payload, gpf, message_code=0x009F, device_time=NOW, seal=None)
    assert _shape(build(rsp.header, out.response)) == _shape(rsp)
    assert gpf.get_int(PRICE, 0x0410) == 9600 == gsme.get_int(PRICE, 0x0410)


def test_encrypted_response_table_covers_the_rtds_ciphered_components() -> None:
    assert set(ENCRYPTED_RESPONSES) == {
        0x0074, 0x00B6, 0x00B8, 0x0075, 0x0076, 0x00C3, 0x00C4, 0x0077, 0x0096, 0x0078,
        0x0079, 0x00A0, 0x008B,
    }  # fmt: skip
    assert (PREPAYMENT, 0, 0x01) in ENCRYPTED_RESPONSES[0x0075]
    assert (PRICE, 0, 0x01) not in ENCRYPTED_RESPONSES[0x0075]


# --------------------------------------------------------------------------- helpers


def _cmd(
    cluster: int,
    body: Any,
    seq: int = 0,
    *,
    s2c: bool | None = None,
    fdt: int | None = None,
) -> GbzComponent:
    return GbzComponent.command(cluster, body, seq, server_to_client=s2c, from_date_time=fdt)


def _run(
    model: ZclModel,
    *comps: GbzComponent,
    code: int = 0x0084,
    time: datetime | None = NOW,
    faults: dict[int, int] | None = None,
    top_up: Any = None,
) -> GbzResult:
    return execute_gbz(
        GbzPayload(tuple(comps)),
        model,
        message_code=code,
        device_time=time,
        seal=None,
        faults=faults,
        top_up=top_up,
    )


def _bodies(result: GbzResult) -> list[Any]:
    return [c.body for c in result.response.components]


def _read(model: ZclModel, cluster: int, *ids: int) -> dict[int, ZclValue | int]:
    (body,) = _bodies(_run(model, _cmd(cluster, ReadAttributes(ids), s2c=False)))
    assert isinstance(body, ReadAttributesResponse)
    return {r.attribute_id: r.value if r.status == 0 else r.status for r in body.records}


def _tariff(**kw: Any) -> PublishTariffInformation:
    base = dict(
        provider_id=7,
        issuer_event_id=T0,
        issuer_tariff_id=1,
        start_time=0,
        tariff_type_charging_scheme=0,
        tariff_label=b"Gas TOU",
        number_of_price_tiers_in_use=4,
        number_of_block_thresholds_in_use=0,
        unit_of_measure=0,
        currency=826,
        price_trailing_digit=0x50,
        standing_charge=22465,
        tier_block_mode=0xFF,
        block_threshold_multiplier=1,
        block_threshold_divisor=1000,
    )
    base.update(kw)
    return PublishTariffInformation(**base)


@pytest.fixture
def gsme() -> ZclModel:
    return load_profile("gsme")


# --------------------------------------------------------------------------- behaviour


def test_publish_tariff_information_then_read_returns_it(gsme: ZclModel) -> None:
    out = _run(gsme, _cmd(PRICE, _tariff()), code=0x00A3)
    comp = out.response.components[0]
    assert comp.body == DefaultResponse(0x04, 0)
    assert comp.zcl == ZclHeader(0x00, 0, 0x0B)  # answers a server->client Publish
    assert _read(gsme, PRICE, 0x0610, 0x0611, 0x0616, 0x0617, 0x0301, 0x0203, 0x9999) == {
        0x0610: ZclValue(0x41, b"Gas TOU"),
        0x0611: ZclValue(0x20, 4),
        0x0616: ZclValue(0x21, 826),
        0x0617: ZclValue(0x18, 0x50),
        0x0301: ZclValue(0x23, 22465),
        0x0203: ZclValue(0x22, 1000),
        0x9999: 0x86,
    }


def test_price_matrix_tou_and_block_prices(gsme: ZclModel) -> None:
    tou = PublishPriceMatrix(
        0, T0, 0, 1, 0, 1, 0x01, tuple(PriceMatrixEntry(t, 100 * t) for t in (1, 2, 3, 4))
    )
    blocks = PublishPriceMatrix(
        0, T0, 0, 1, 0, 1, 0x00, (PriceMatrixEntry(0x00, 11), PriceMatrixEntry(0x03, 44))
    )
    assert _bodies(_run(gsme, _cmd(PRICE, tou), _cmd(PRICE, blocks, 1))) == [
        DefaultResponse(0x05, 0),
        DefaultResponse(0x05, 0),
    ]
    got = _read(gsme, PRICE, 0x0410, 0x0420, 0x0430, 0x0440, 0x0400, 0x0403)
    assert {k: v.value for k, v in got.items()} == {  # type: ignore[union-attr]
        0x0410: 100, 0x0420: 200, 0x0430: 300, 0x0440: 400, 0x0400: 11, 0x0403: 44,
    }  # fmt: skip
    bad = PublishPriceMatrix(0, T0, 0, 1, 0, 1, 0x01, (PriceMatrixEntry(16, 1),))
    before = gsme.to_dict()
    assert _bodies(_run(gsme, _cmd(PRICE, bad))) == [DefaultResponse(0x05, 0x85)]
    assert gsme.to_dict() == before


def test_publish_block_thresholds_raw_command(gsme: ZclModel) -> None:
    head = (0).to_bytes(4, "little") + T0.to_bytes(4, "little") + bytes(8) + bytes((0, 1, 0))
    data = head + bytes((0x03,)) + b"".join(v.to_bytes(6, "little") for v in (10, 20, 30))
    comp = GbzComponent(PRICE, ZclHeader(0x09, 3, 0x06), RawZclPayload(data))
    assert _bodies(_run(gsme, comp)) == [DefaultResponse(0x06, 0)]
    assert [gsme.get_int(PRICE, 0x0100 + i) for i in range(3)] == [10, 20, 30]
    short = GbzComponent(PRICE, ZclHeader(0x09, 4, 0x06), RawZclPayload(data[:-1]))
    assert _bodies(_run(gsme, short)) == [DefaultResponse(0x06, 0x80)]


@pytest.mark.interop
def test_calendar_published_then_get_returns_the_same_records(gsme: ZclModel) -> None:
    _run_rtds(gsme, "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS")
    sent = _message(_prefix("GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS") + "_COMMAND").payload
    assert isinstance(sent, GbzPayload)
    days = [c.body for c in sent.components if isinstance(c.body, PublishDayProfile)]
    out = _run(gsme, _cmd(CALENDAR, GetDayProfiles(0, 0xFFFFFFFF, 2, 2), 9), code=0x009F)
    assert _bodies(out) == days[1:3]
    assert [c.zcl for c in out.response.components] == [ZclHeader(0x19, 9, 0x01)] * 2
    none = _run(gsme, _cmd(CALENDAR, GetDayProfiles(0, 12345, 1, 0), 1), code=0x009F)
    assert _bodies(none) == [DefaultResponse(0x01, 0x8B)]


@pytest.mark.interop
def test_current_price_follows_the_tou_calendar(gsme: ZclModel) -> None:
    _run_rtds(gsme, "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS")
    # Monday 5 Jan 2015: before the 20 March season -> week 2 -> Monday is day 3 -> tier 3.
    monday = datetime(2015, 1, 5, 12, tzinfo=UTC)
    (price,) = _bodies(_run(gsme, _cmd(PRICE, GetCurrentPrice(0)), time=monday))
    assert isinstance(price, PublishPrice)
    assert (price.price, price.price_trailing_digit_and_price_tier) == (10750, 0x53)
    assert price.number_of_price_tiers_and_register_tier == 0x43
    assert price.current_time == T0 + 4 * 86400 + 12 * 3600
    # 1 Jan 2015 is a special day -> day 2 -> tier 2
    (price,) = _bodies(_run(gsme, _cmd(PRICE, GetCurrentPrice(0))))
    assert isinstance(price, PublishPrice) and price.price == 10200


def test_write_attributes_rules(gsme: ZclModel) -> None:
    recs = (
        AttributeWriteRecord(0x0010, ZclValue(0x42, b"Kitchen")),
        AttributeWriteRecord(0x0004, ZclValue(0x42, b"ACME")),
        AttributeWriteRecord(0x0010, ZclValue(0x41, b"Hall")),
        AttributeWriteRecord(0x7777, ZclValue(0x20, 1)),
    )
    (resp,) = _bodies(_run(gsme, _cmd(BASIC, WriteAttributes(recs), s2c=False)))
    assert resp == WriteAttributesResponse(
        (
            AttributeStatusRecord(0x88, 0x0004),
            AttributeStatusRecord(0x8D, 0x0010),
            AttributeStatusRecord(0x86, 0x7777),
        )
    )
    assert _read(gsme, BASIC, 0x0010, 0x0004) == {
        0x0010: ZclValue(0x42, b"Kitchen"),
        0x0004: ZclValue(0x42, b""),
    }
    ok = WriteAttributes((AttributeWriteRecord(0x0010, ZclValue(0x42, b"Loft")),))
    assert _bodies(_run(gsme, _cmd(BASIC, ok, s2c=False))) == [
        WriteAttributesResponse((AttributeStatusRecord(0),))
    ]


def test_change_supply_and_a_bound_setter(gsme: ZclModel) -> None:
    close = ChangeSupply(0, T0, 0, 0, 0, 1)
    (resp,) = _bodies(_run(gsme, _cmd(METERING, close), code=0x0081))
    assert resp == SupplyStatusResponse(0, T0, 0, 0)
    assert gsme.supply_status == 0
    assert _read(gsme, METERING, 0x0014) == {0x0014: ZclValue(0x30, 0)}
    seen: list[int] = []

    def refuse_arm(value: int) -> int:
        seen.append(value)
        return 0x93 if value == 1 else 0  # ACTION_DENIED

    gsme.bind(METERING, 0x0014, setter=refuse_arm)
    arm = ChangeSupply(0, T0, 0, 0, 1, 1)
    assert _bodies(_run(gsme, _cmd(METERING, arm), code=0x0085)) == [DefaultResponse(0x0B, 0x93)]
    assert gsme.supply_status == 0 and seen == [1]
    bad = ChangeSupply(0, T0, 0, 0, 7, 1)
    assert _bodies(_run(gsme, _cmd(METERING, bad), code=0x0085)) == [DefaultResponse(0x0B, 0x87)]


def test_update_site_id_then_read_mprn(gsme: ZclModel) -> None:
    _run(gsme, _cmd(0x0708, UpdateSiteId(T0, 0, 0, b"1234567890")), code=0x0087)
    assert _read(gsme, METERING, 0x0307) == {0x0307: ZclValue(0x41, b"1234567890")}
    assert gsme.records["site_id"].site_id == b"1234567890"


@pytest.mark.interop
@pytest.mark.parametrize(
    "case",
    [
        "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS",
        "GCS05_2.1_IMMEDIATE_SUCCESS",
        "GCS32_7.2_SUCCESS",
        "CS01b_2.2_SUCCESS",
        "GCS20_6.22_SUCCESS",
        "GCS40c_1.5_SUCCESS",
    ],
)
def test_faults_answer_every_component_and_leave_the_model_unchanged(case: str) -> None:
    model = load_profile("gsme")
    before = model.to_dict()
    cmd = _message(_prefix(case) + "_COMMAND")
    assert isinstance(cmd.payload, GbzPayload)
    out = execute_gbz(
        cmd.payload,
        model,
        message_code=cmd.message_code,
        device_time=NOW,
        seal=None,
        faults={cmd.message_code: 0x01},
    )
    assert model.to_dict() == before
    assert len(out.response.components) == len(cmd.payload.components)
    for sent, got in zip(cmd.payload.components, out.response.components, strict=True):
        assert got.zcl.sequence == sent.zcl.sequence
        if isinstance(sent.body, ConsumerTopUp):
            assert got.body == ConsumerTopUpResponse(0x01, 0, 0, 0)
        else:
            assert got.body == DefaultResponse(sent.command_id, 0x01)


def test_faulted_read_reports_the_status_per_attribute(gsme: ZclModel) -> None:
    out = _run(gsme, _cmd(METERING, ReadAttributes((0, 0x0206)), s2c=False), faults={0x0084: 0xC1})
    (body,) = _bodies(out)
    assert isinstance(body, ReadAttributesResponse)
    assert [(r.attribute_id, r.status, r.value) for r in body.records] == [
        (0, 0xC1, None),
        (0x0206, 0xC1, None),
    ]


@pytest.mark.parametrize(
    ("component", "status"),
    [
        # a cluster the GSME lacks (DRLC)
        (GbzComponent(0x0701, ZclHeader(0x00, 1, 0x00), ReadAttributes((0,))), 0xC3),
        # an unmodelled cluster-specific command (Metering Get Profile)
        (GbzComponent(METERING, ZclHeader(0x01, 1, 0x00), RawZclPayload(b"\x00" * 6)), 0x81),
        # a general command the engine does not serve (Configure Reporting)
        (GbzComponent(METERING, ZclHeader(0x00, 1, 0x06), RawZclPayload(b"\x00")), 0x82),
        # manufacturer-specific frames
        (GbzComponent(METERING, ZclHeader(0x05, 1, 0x0B, 0x1234), RawZclPayload(b"")), 0x83),
        (GbzComponent(METERING, ZclHeader(0x04, 1, 0x00, 0x1234), RawZclPayload(b"")), 0x84),
        # Change Supply with a truncated payload
        (GbzComponent(METERING, ZclHeader(0x01, 1, 0x0B), RawZclPayload(b"\x00" * 5)), 0x80),
        # a Read Attributes listing no attribute
        (GbzComponent(METERING, ZclHeader(0x00, 1, 0x00), ReadAttributes(())), 0x80),
        # a reserved frame type
        (GbzComponent(METERING, ZclHeader(0x02, 1, 0x00), RawZclPayload(b"")), 0x80),
        # an encrypted command component
        (
            GbzComponent(
                METERING, ZclHeader(0x01, 1, 0x0B), None, GbzCiphered(b"\x31" + bytes(20))
            ),
            0x01,
        ),
    ],
)
def test_unknown_and_malformed_commands_get_a_default_response(
    gsme: ZclModel, component: GbzComponent, status: int
) -> None:
    before = gsme.to_dict()
    out = _run(gsme, component)
    (resp,) = out.response.components
    assert resp.body == DefaultResponse(component.command_id, status)
    direction = 0x00 if component.zcl.server_to_client else 0x08
    assert resp.zcl == ZclHeader(direction, 1, 0x0B)
    assert gsme.to_dict() == before


def test_gpf_lacks_messaging(gsme: ZclModel) -> None:
    msg = _cmd(0x0703, DisplayMessage(1, 0, 0, 60, b"Hi"))
    assert _bodies(_run(load_profile("gpf"), msg)) == [DefaultResponse(0x00, 0xC3)]
    assert _bodies(_run(gsme, msg)) == [DefaultResponse(0x00, 0)]
    assert gsme.records["message"].message == b"Hi"


def test_unanswerable_payloads_raise_and_restore_the_model(gsme: ZclModel) -> None:
    with pytest.raises(GbzEngineError, match="alert"):
        execute_gbz(
            GbzPayload((), GbzAlertHeader(0x8F30, T0)),
            gsme,
            message_code=0x1000,
            device_time=NOW,
            seal=None,
        )
    with pytest.raises(GbzEngineError, match="no component"):
        execute_gbz(GbzPayload(()), gsme, message_code=0x0084, device_time=NOW, seal=None)
    read = _cmd(PREPAYMENT, ReadAttributes((1,)), 1, s2c=False)
    with pytest.raises(GbzEngineError, match="seal"):
        execute_gbz(GbzPayload((read,)), gsme, message_code=0x0075, device_time=NOW, seal=None)
    before = gsme.to_dict()
    write = _cmd(PRICE, _tariff(currency=978))

    def broken(pt: bytes) -> bytes:
        raise RuntimeError("HSM offline")

    with pytest.raises(GbzEngineError, match="HSM offline"):
        execute_gbz(
            GbzPayload((write, read)), gsme, message_code=0x0075, device_time=NOW, seal=broken
        )
    assert gsme.to_dict() == before
    with pytest.raises(GbzEngineError, match="31 00000000"):
        execute_gbz(
            GbzPayload((write, read)),
            gsme,
            message_code=0x0075,
            device_time=NOW,
            seal=lambda pt: pt,
        )
    assert gsme.get_int(PRICE, 0x0616) == 826


def test_sealed_component_carries_the_seal_output(gsme: ZclModel) -> None:
    read = _cmd(PREPAYMENT, ReadAttributes((1,)), 4, s2c=False)
    key = bytes(range(16))
    out = execute_gbz(
        GbzPayload((read,)),
        gsme,
        message_code=0x0075,
        device_time=NOW,
        seal=lambda pt: seal_part(key, bytes(8), pt),
    )
    (comp,) = out.response.components
    assert comp.body is None and comp.ciphered is not None
    assert comp.zcl == ZclHeader(0x08, 4, 0x01)
    from gbcs.crypto.part_cipher import decrypt_part

    plain = decrypt_part(key, bytes(8), comp.ciphered.blob)
    assert plain == bytes.fromhex("010000" + "2B" + "00000000")


# --------------------------------------------------------------------------- future dating


@pytest.mark.interop
def test_future_dated_change_payment_mode_waits_then_runs() -> None:
    gsme = load_profile("gsme")
    cmd = _message(_prefix("GCS02_1.6_IMMEDIATE_SUCCESS") + "_COMMAND")
    assert isinstance(cmd.payload, GbzPayload)
    (comp,) = cmd.payload.components
    assert isinstance(comp.body, ChangePaymentMode)
    later = T0 + 3600
    dated = GbzComponent(
        comp.cluster, comp.zcl, replace_body(comp.body, implementation_date_time=later)
    )
    before = gsme.to_dict()
    out = execute_gbz(GbzPayload((dated,)), gsme, message_code=0x006C, device_time=NOW, seal=None)
    assert _bodies(out) == [ChangePaymentModeResponse(0, 0, 0, 0)]
    assert out.response.components[0].zcl == ZclHeader(0x19, 0, 0x02)
    assert gsme.to_dict() == before
    (pending,) = out.pending
    assert (pending.execute_at, pending.message_code, pending.index) == (later, 0x006C, 0)
    assert pending.execute_at_datetime == NOW + timedelta(hours=1)
    assert PendingCommand.from_dict(json.loads(json.dumps(pending.to_dict()))) == pending
    done = execute_pending(out.pending, gsme, device_time=NOW + timedelta(hours=1))
    assert (done.statuses, done.alert_code) == ((0,), 0x8F66)
    assert gsme.get_int(PREPAYMENT, 0x0000) == 3220
    assert gsme.get_int(PREPAYMENT, 0x0040) == -1
    # the 0x00CD alert names the command as the RTDS GCS02 future-dated alert does
    rtds = _alert_payload("GCS02_1.6_8F66_FUTURE_DATED_SUCCESS_ALERT_CHANGE_PAYMENT_MODE")
    assert isinstance(rtds, GbzPayload) and rtds.alert is not None
    assert future_dated_outcome(pending, 1001) == rtds.alert.specific


def replace_body(body: Any, **changes: Any) -> Any:
    return dataclasses.replace(body, **changes)


def _alert_payload(case: str) -> Any:
    vid = next(v for v in _by_id() if v.endswith("/" + case))
    return decode(bytes.fromhex(_by_id()[vid]["hex"])).payload


@pytest.mark.interop
def test_future_dated_gcs01b_defers_both_components_and_names_the_last() -> None:
    gsme = load_profile("gsme")
    cmd = _message(_prefix("GCS01b_1.2.1_IMMEDIATE_TOU_SUCCESS") + "_COMMAND")
    assert isinstance(cmd.payload, GbzPayload)
    later = T0 + 86400
    comps = tuple(
        GbzComponent(c.cluster, c.zcl, replace_body(c.body, start_time=later))
        for c in cmd.payload.components
    )
    out = execute_gbz(GbzPayload(comps), gsme, message_code=0x00A3, device_time=NOW, seal=None)
    assert _bodies(out) == [DefaultResponse(0x04, 0), DefaultResponse(0x05, 0)]
    assert [p.index for p in out.pending] == [0, 1]
    assert gsme.get_int(PRICE, 0x0410) == 0
    assert execute_pending(out.pending, gsme, device_time=NOW + timedelta(days=1)).success
    assert gsme.get_int(PRICE, 0x0410) == 9600
    rtds = _alert_payload("GCS01b_1.2.1_8F66_FUTURE_DATED_BLOCK_SUCCESS_ALERT_PUBLISH_PRICE_MATRIX")
    assert isinstance(rtds, GbzPayload) and rtds.alert is not None
    assert future_dated_outcome(out.pending[-1], 1002) == rtds.alert.specific


def test_future_time_on_a_code_that_is_not_future_dated_executes_now(gsme: ZclModel) -> None:
    tenancy = PublishChangeOfTenancy(0, T0, 0, 533098016, 0x200)  # RTDS GCS09: 2016
    out = _run(gsme, _cmd(0x0708, tenancy), code=0x0072)
    assert (_bodies(out), out.pending) == ([DefaultResponse(0x00, 0)], ())
    assert gsme.records["change_of_tenancy"] == tenancy


def test_gbz_from_date_time_defers_and_no_device_time_executes(gsme: ZclModel) -> None:
    from gbcs.zcl import SetLowCreditWarningLevel

    warn = _cmd(PREPAYMENT, SetLowCreditWarningLevel(500), fdt=T0 + 60)
    out = _run(gsme, warn, code=0x006F)
    assert [p.execute_at for p in out.pending] == [T0 + 60]
    assert gsme.get_int(PREPAYMENT, 0x0031) == 0
    out = _run(gsme, warn, code=0x006F, time=None)
    assert out.pending == () and gsme.get_int(PREPAYMENT, 0x0031) == 500


# --------------------------------------------------------------------------- prepayment


def test_consumer_top_up_rules(gsme: ZclModel) -> None:
    values = {b"73950067887105178605": 1250000, b"11111111111111111111": 9_000_000}

    def top(code: bytes, seq: int = 0, device: int = 0) -> Any:
        out = _run(
            gsme, _cmd(PREPAYMENT, ConsumerTopUp(device, code), seq), code=0x0097, top_up=values.get
        )
        (body,) = _bodies(out)
        return body

    assert top(b"73950067887105178605") == ConsumerTopUpResponse(0, 1250000, 0, 1250000)
    assert top(b"73950067887105178605") == ConsumerTopUpResponse(2, 0, 0, 1250000)
    assert top(b"1234") == ConsumerTopUpResponse(1, 0, 0, 1250000)
    assert top(b"22222222222222222222") == ConsumerTopUpResponse(1, 0, 0, 1250000)
    gsme.set_int(PREPAYMENT, 0x0022, 5_000_000)
    assert top(b"11111111111111111111", device=2) == ConsumerTopUpResponse(6, 0, 2, 1250000)
    assert gsme.get_int(PREPAYMENT, 0x0001) == 1250000
    (log,) = _bodies(_run(gsme, _cmd(PREPAYMENT, GetTopUpLog(0xFFFFFFFE, 5)), code=0x00C5))
    assert log == PublishTopUpLog(0, 1, (gsme.top_up_log[0],))
    assert log.entries[0].top_up_code == b"73950067887105178605"
    assert log.entries[0].top_up_time == T0


def test_credit_adjustment_and_debt(gsme: ZclModel) -> None:
    from gbcs.zcl import ChangeDebt

    _run(gsme, _cmd(PREPAYMENT, CreditAdjustment(T0, 0, 1, 500)), code=0x00B4)
    _run(gsme, _cmd(PREPAYMENT, CreditAdjustment(T0, 0, 0, -700)), code=0x0086)
    assert gsme.get_int(PREPAYMENT, 0x0001) == -200
    _run(gsme, _cmd(PREPAYMENT, CreditAdjustment(T0, 0, 3, 5000)), code=0x00C0)
    assert gsme.get_int(METERING, 0x0A00) == 5000
    under = _run(gsme, _cmd(PREPAYMENT, CreditAdjustment(T0, 0, 3, -6000)), code=0x00C0)
    assert _bodies(under) == [DefaultResponse(0x05, 0x87)]
    assert _bodies(_run(gsme, _cmd(PREPAYMENT, CreditAdjustment(T0, 0, 9, 1)))) == [
        DefaultResponse(0x05, 0x85)
    ]
    debt = ChangeDebt(T0, b"D2", 300, 0, 3, 0, 0, 1, 50, 0)  # type 2 incremental
    _run(gsme, _cmd(PREPAYMENT, debt), _cmd(PREPAYMENT, debt, 1), code=0x006E)
    got = _read(gsme, PREPAYMENT, 0x0220, 0x0221, 0x0226, 0x0227, 0x0211)
    assert got == {
        0x0220: ZclValue(0x41, b"D2"),
        0x0221: ZclValue(0x23, 600),
        0x0226: ZclValue(0x30, 1),
        0x0227: ZclValue(0x23, 50),
        0x0211: ZclValue(0x23, 0),
    }


# --------------------------------------------------------------------------- logs and data


def test_snapshot_capture_and_get(gsme: ZclModel) -> None:
    gsme.set_int(METERING, 0x0000, 123456)
    gsme.set_tou_register(2, 77)
    gsme.set_block_counter(4, 9)
    gsme.take_snapshot(T0, 1)
    gsme.take_snapshot(T0 + 86400, 1)
    gsme.take_snapshot(T0 + 100, 2)
    get = GetSnapshot(T0, T0 + 86400 + 1, 1, 1)  # Latest End Time is exclusive (ZCL)
    (snap,) = _bodies(_run(gsme, _cmd(METERING, get, 5)))
    assert isinstance(snap, PublishSnapshot)
    assert (snap.snapshot_time, snap.total_snapshots_found, snap.snapshot_cause) == (
        T0 + 86400,
        2,
        1,
    )
    sub = snap.snapshot_payload
    assert sub.current_summation_delivered == 123456  # type: ignore[union-attr]
    assert sub.tier_summations_delivered == (0, 77, 0, 0)  # type: ignore[union-attr]
    assert sub.tier_block_summations_delivered == (0, 0, 0, 9)  # type: ignore[union-attr]
    miss = GetSnapshot(T0, T0 + 86400, 2, 1)
    assert _bodies(_run(gsme, _cmd(METERING, miss, 5))) == [DefaultResponse(0x06, 0x8B)]


def test_start_sampling_then_get_sampled_data(gsme: ZclModel) -> None:
    start = StartSampling(T0, 0, 0, 360, 3)
    assert _bodies(_run(gsme, _cmd(METERING, start), code=0x0080)) == [StartSamplingResponse(2)]
    for i, v in enumerate((5, 6, 7, 8)):
        gsme.record_sample(2, v, T0 + 360 * i)
    (resp,) = _bodies(_run(gsme, _cmd(METERING, GetSampledData(2, T0 + 361, 0, 10))))
    assert resp == GetSampledDataResponse(2, T0 + 720, 0, 360, (7, 8))
    assert _bodies(_run(gsme, _cmd(METERING, GetSampledData(9, 0, 0, 1)))) == [
        DefaultResponse(0x08, 0x8B)
    ]
    gpf = load_profile("gpf")
    assert _bodies(_run(gpf, _cmd(METERING, start), code=0x0080)) == [StartSamplingResponse(0xFFFF)]


def test_event_log_get_and_clear(gsme: ZclModel) -> None:
    gsme.log_event(3, 0x8145, T0 + 10, b"\x01")
    gsme.log_event(3, 0x8F66, T0 + 20)
    gsme.log_event(4, 0x8F0C, T0 + 30)
    (log,) = _bodies(_run(gsme, _cmd(0x0709, GetEventLog(0x13, 0, T0, 0, 0, 0)), code=0x0014))
    assert isinstance(log, PublishEventLog)
    assert [(e.event_id, e.event_time, e.event_data) for e in log.entries] == [
        (0x8145, T0 + 10, b"\x01"),
        (0x8F66, T0 + 20, b""),
    ]
    (grp,) = _bodies(_run(gsme, _cmd(0x0709, GetEventLog(0x00, 0x81FF, 0, 0, 0, 0))))
    assert [(e.log_id, e.event_id, e.event_data) for e in grp.entries] == [(3, 0x8145, b"")]
    (clr,) = _bodies(_run(gsme, _cmd(0x0709, ClearEventLogRequest(0)), code=0x0015))
    assert clr == ClearEventLogResponse(0x08)
    (clr,) = _bodies(_run(gsme, _cmd(0x0709, ClearEventLogRequest(4)), code=0x0015))
    assert clr == ClearEventLogResponse(0x00)
    assert (gsme.event_logs[3], len(gsme.event_logs[4])) == ([], 1)
    assert _bodies(_run(gsme, _cmd(0x0709, GetEventLog(0x13, 0, 0, 0, 0, 0)))) == [
        DefaultResponse(0x00, 0x8B)
    ]


def test_event_configuration_set_then_get(gsme: ZclModel) -> None:
    setc = SetEventConfiguration(T0, 0, 0x5B, 0, (0x81AA, 0x1234))
    assert _bodies(_run(gsme, _cmd(0x0708, setc), code=0x00AD)) == [DefaultResponse(0x04, 0)]
    (rep,) = _bodies(_run(gsme, _cmd(0x0708, GetEventConfiguration(0x81AA)), code=0x00F1))
    assert isinstance(rep, ReportEventConfiguration)
    assert [(e.event_id, e.event_configuration) for e in rep.entries] == [(0x81AA, 0x5B)]
    group = SetEventConfiguration(T0, 0, 0x03, 1, (), b"\xff\x81")
    assert _bodies(_run(gsme, _cmd(0x0708, group), code=0x00AD)) == [DefaultResponse(0x04, 0)]
    assert set(gsme.event_configuration.values()) == {0x03}
    unknown = SetEventConfiguration(T0, 0, 0x03, 0, (0x1234,))
    assert _bodies(_run(gsme, _cmd(0x0708, unknown))) == [DefaultResponse(0x04, 0x8B)]
    assert _bodies(_run(gsme, _cmd(0x0708, GetEventConfiguration(0x1234)))) == [
        DefaultResponse(0x05, 0x8B)
    ]


# --------------------------------------------------------------------------- the model


@pytest.mark.interop
def test_persisted_model_behaves_identically() -> None:
    gsme = load_profile("gsme")
    for case in (
        "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS",
        "GCS05_2.1_IMMEDIATE_SUCCESS",
        "GCS25_6.8_SUCCESS",
        "GCS31_14.1_SUCCESS",
        "GCS41_6.20.1_SUCCESS",
        "GCS44_3.4_SUCCESS",
        "GCS07_3.1_SUCCESS",
    ):
        _run_rtds(gsme, case)
    gsme.take_snapshot(T0, 1)
    gsme.record_sample(0, 42, T0)
    gsme.log_event(3, 0x8145, T0)
    gsme.record_debt_collection(T0, 5, 1, 0)
    doc = json.loads(json.dumps(gsme.to_dict()))
    copy = ZclModel.from_dict(doc)
    assert copy.to_dict() == gsme.to_dict()
    for case in (
        "GCS21f_4.11.1_SUCCESS",
        "GCS21b_4.13_SUCCESS",
        "GCS21d_6.2.3_SUCCESS",
        "GCS16a_4.6.1_SUCCESS",
        "GCS17_4.8.1_SUCCESS",
        "CS10a_6.13_SUCCESS",
        "GCS15d_4.4.4_SUCCESS",
    ):
        a, b = _run_rtds(gsme, case), _run_rtds(copy, case)
        assert a.response.encode() == b.response.encode()


def test_model_helpers(gsme: ZclModel) -> None:
    gsme.set_int(METERING, 0x0000, (1 << 48) - 1)
    with pytest.raises(ZclModelError):
        gsme.set_int(METERING, 0x0000, 1 << 48)
    with pytest.raises(ZclModelError):
        gsme.set_int(METERING, 0x0206, 1)
    with pytest.raises(ZclModelError):
        gsme.get_int(METERING, 0x7777)
    assert (gsme.get_int(METERING, 0x0301), gsme.get_int(METERING, 0x0302)) == (1, 1000)
    gsme.set_int(PREPAYMENT, 0x0001, -5)
    assert gsme.get_int(PREPAYMENT, 0x0001) == -5
    gsme.firmware_version = b"\x01\x23\xab\xcd"
    assert _read(gsme, METERING, 0x0206) == {0x0206: ZclValue(0x41, b"\x01\x23\xab\xcd")}
    gsme.set_tou_register(4, 40)
    gsme.set_block_counter(1, 10)
    assert (gsme.tou_registers(), gsme.block_counters()) == ((0, 0, 0, 40), (10, 0, 0, 0))
    with pytest.raises(ZclModelError):
        gsme.set_tou_register(5, 1)
    gsme.bind(METERING, 0x0000, getter=lambda: 99)
    assert gsme.get_int(METERING, 0x0000) == 99
    assert _read(gsme, METERING, 0x0000) == {0x0000: ZclValue(0x25, 99)}
    gsme.bind(METERING, 0x0000, getter=lambda: -1)  # does not fit uint48 -> FAILURE
    assert _read(gsme, METERING, 0x0000) == {0x0000: 0x01}
    gsme.supply_status = 1
    assert gsme.supply_status == 1


def test_value_hex_round_trip_and_profile_errors() -> None:
    for v in (
        ZclValue(0x25, 12345),
        ZclValue(0x2B, -2),
        ZclValue(0x42, b"GFI"),
        ZclValue(0x41, None),
        ZclValue(0xE2, T0),
    ):
        assert decode_value_hex(v.type_id, encode_value_hex(v)) == v
    for t, h in ((0x25, "0000"), (0x42, "05414243"), (0x42, "0041"), (0x20, "zz"), (0x300, "")):
        with pytest.raises(ZclModelError):
            decode_value_hex(t, h)
    doc = load_profile("gsme").to_dict()
    doc["clusters"]["0x0702"]["attributes"]["0x0000"]["hex"] = "00"
    with pytest.raises(ZclModelError, match="0x0000"):
        ZclModel.from_dict(doc)
    with pytest.raises(ZclModelError):
        load_profile("nosuch")
    with pytest.raises(ZclModelError):
        ZclModel.from_dict({"clusters": []})


def test_profiles_match_their_generator() -> None:
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    done = subprocess.run(
        [sys.executable, str(root / "tools" / "gen_zcl_profiles.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    gsme, gpf = load_profile("gsme_zcl.json"), load_profile("GPF")
    assert (gsme.profile, gpf.profile) == ("GSME", "GPF")
    assert gsme.get_int(METERING, 0x0300) == 1 and gsme.get_int(PRICE, 0x0616) == 826
    assert (gsme.get_int(BASIC, 0x0007), gpf.get_int(BASIC, 0x0007)) == (0x03, 0x01)
    assert 0x0703 in gsme.clusters and 0x0703 not in gpf.clusters
    assert len(gsme.event_configuration) == 44 and gpf.event_configuration == {}


# --------------------------------------------------------------------------- robustness

_CLUSTERS = st.sampled_from(
    [0x0000, 0x0700, 0x0701, 0x0702, 0x0703, 0x0705, 0x0707, 0x0708, 0x0709]
)


@st.composite
def _raw_components(draw: st.DrawFn) -> GbzComponent:
    cluster = draw(_CLUSTERS)
    fc = draw(st.sampled_from([0x00, 0x01, 0x08, 0x09, 0x10, 0x11, 0x19]))
    hdr = ZclHeader(fc, draw(st.integers(0, 255)), draw(st.integers(0, 15)))
    return GbzComponent(cluster, hdr, RawZclPayload(draw(st.binary(max_size=24))))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_raw_components(), min_size=1, max_size=4), st.sampled_from([0x006B, 0x0084]))
def test_arbitrary_components_are_always_answered(comps: list[GbzComponent], code: int) -> None:
    model = load_profile("gsme")
    out = _run(model, *comps, code=code)
    assert len(out.response.components) >= len(comps)
    seqs = [c.zcl.sequence for c in out.response.components]
    assert set(seqs) <= {c.zcl.sequence for c in comps}
    for c in out.response.components:
        assert c.zcl.frame_type in (0, 1) and not c.zcl.manufacturer_specific
    raw = out.response.encode()
    assert decode_gbz(raw, 0, len(raw), alert=False) == out.response
    assert ZclModel.from_dict(model.to_dict()).to_dict() == model.to_dict()


def test_publish_day_profile_without_calendar_is_not_found(gsme: ZclModel) -> None:
    day = PublishDayProfile(0, T0, 42, 1, 1, 0, 1, 0, (DayScheduleEntry(0, 1),))
    assert _bodies(_run(gsme, _cmd(CALENDAR, day))) == [DefaultResponse(0x01, 0x8B)]
    assert gsme.calendars == {}


def test_fan_out_past_255_components_is_refused_and_undone(gsme: ZclModel) -> None:
    from gbcs.zcl import PublishCalendar

    cal = PublishCalendar(0, T0, 5, 0, 0, 0, b"", 0, 0, 255)
    days = [
        PublishDayProfile(0, T0, 5, d, 1, 0, 1, 0, (DayScheduleEntry(0, 1),)) for d in range(255)
    ]
    _run(gsme, _cmd(CALENDAR, cal), *(_cmd(CALENDAR, d, 1) for d in days[:200]), code=0x006B)
    _run(gsme, *(_cmd(CALENDAR, d, 2) for d in days[200:]), code=0x006B)
    assert len(gsme.calendars["tariff"].days) == 255
    before = gsme.to_dict()
    get = _cmd(CALENDAR, GetDayProfiles(0, 5, 0, 0), 3)
    with pytest.raises(GbzEngineError, match="256 response components"):
        _run(gsme, _cmd(PRICE, _tariff(currency=978)), get, code=0x009F)
    assert gsme.to_dict() == before
    assert len(_run(gsme, get, code=0x009F).response.components) == 255


def test_faulted_sensitive_read_needs_no_seal(gsme: ZclModel) -> None:
    read = _cmd(METERING, ReadAttributes((0,)), 2, s2c=False)
    out = execute_gbz(
        GbzPayload((read,)),
        gsme,
        message_code=0x0074,
        device_time=NOW,
        seal=None,
        faults={0x0074: 0x01},
    )
    (comp,) = out.response.components
    assert comp.ciphered is None and comp.zcl == ZclHeader(0x18, 2, 0x01)


def test_untimed_profiles_follow_the_calendar_and_zero_means_now(gsme: ZclModel) -> None:
    from gbcs.zcl import EmergencyCreditSetup, PublishCalendar, SetOverallDebtCap

    later = T0 + 600
    cal = PublishCalendar(0, T0, 8, later, 0, 0, b"", 0, 0, 1)
    day = PublishDayProfile(0, T0, 8, 1, 1, 0, 1, 0, (DayScheduleEntry(0, 1),))
    ec = EmergencyCreditSetup(T0, later, 1000, 200)
    cap = SetOverallDebtCap(0, T0, 0, 5000)  # its own time 0: now, even after a dated one
    out = _run(
        gsme,
        _cmd(CALENDAR, cal),
        _cmd(CALENDAR, day, 1),
        _cmd(PREPAYMENT, ec, 2),
        _cmd(PREPAYMENT, cap, 3),
        code=0x006F,
    )
    assert [(p.index, p.execute_at) for p in out.pending] == [(0, later), (1, later), (2, later)]
    assert gsme.calendars == {} and gsme.get_int(PREPAYMENT, 0x0006) == 5000
    outcome = execute_pending(out.pending, gsme, device_time=NOW + timedelta(minutes=10))
    assert outcome.statuses == (0, 0, 0)
    assert gsme.calendars["tariff"].days[1] == [day]
    assert gsme.get_int(PREPAYMENT, 0x0010) == 1000


def test_log_reads_treat_zero_latest_time_as_unbounded(gsme: ZclModel) -> None:
    gsme.record_debt_collection(T0, 7, 0, 1)
    gsme.record_debt_collection(T0 + 1, 8, 1, 1)
    from gbcs.zcl import GetDebtRepaymentLog, PublishDebtLog

    (log,) = _bodies(_run(gsme, _cmd(PREPAYMENT, GetDebtRepaymentLog(0, 0, 0xFF))))
    assert isinstance(log, PublishDebtLog)
    assert [e.amount_collected for e in log.entries] == [8, 7]
    (log,) = _bodies(_run(gsme, _cmd(PREPAYMENT, GetDebtRepaymentLog(0, 5, 0))))
    assert [e.amount_collected for e in log.entries] == [7]


@pytest.mark.interop
def test_publish_snapshot_record_matches_the_gcs53_alert_structure() -> None:
    from devices.gbz_engine import publish_snapshot_record

    alert = next(v for v in vectors() if v["id"].endswith("/GCS53_NA_8F0A_ALERT"))
    msg = decode(bytes.fromhex(alert["hex"]))
    (part,) = decrypt_parts(msg, _keystore())
    rtds = decode_plaintext(part)
    gsme = load_profile("gsme")
    meter, _ = gsme.take_snapshot(T0, 0xAA)
    assert meter is not None
    ours = publish_snapshot_record(meter)
    assert isinstance(rtds, PublishSnapshot)
    assert (type(ours.snapshot_payload), ours.snapshot_payload_type) == (
        type(rtds.snapshot_payload),
        rtds.snapshot_payload_type,
    )
    assert len(ours.encode()) == len(rtds.encode())
    raw, start, end = _one(ours)
    assert decode_gbz(raw, start, end, alert=False).components[0].body == ours


def _one(rec: Any) -> tuple[bytes, int, int]:
    raw = GbzPayload((GbzComponent.command(METERING, rec),)).encode()
    return raw, 0, len(raw)
