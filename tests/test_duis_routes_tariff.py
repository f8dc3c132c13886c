"""DUIS tariff and prepayment SRVs (emulator.duis.routes_tariff): typed bodies, the GBCS
they become (values decoded back), the choices that pick a use case, the refusals, and
the RTDS templates of these SRVs (DCC inputs and exceptions named here)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from lxml import etree

from emulator.duis import model, routes_tariff, tables, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.routing import NotTransformed
from emulator.duis.transform import Refusal, Transformed
from emulator.headend.catalogue.described import all_descriptions, explain_named
from emulator.headend.catalogue.frames import explain_frame
from gbcs.codec import decode
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import DEFAULT_ACB, Verdict, check_mac
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import duiskit

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
#: ZCL UTCTime of NOW: seconds from 2000-01-01T00:00:00Z.
NOW_ZCL = 820540800

# --- what the generic RTDS pair tests (tests/test_duis_transform.py) take from here ---

# RTDS's GSME commands carry the Issuer Event ID 0x1C374A80 = ZCL UTCTime 473385600 =
# 2015-01-01T00:00:00Z: the DCC writes it as the time it built the command (ZSE).
_RTDS_BUILT = datetime(2015, 1, 1, tzinfo=UTC)
RTDS_NOW: dict[str, datetime] = {
    name: _RTDS_BUILT
    for name in (
        "GCS03_1.6_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML",
        "GCS04_2.3_SUCCESS_REQUEST_DUIS.XML",
        "GCS05_2.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML",
        "GCS40a_1.5_SUCCESS_REQUEST_DUIS.XML",
        "GCS40b_1.5_SUCCESS_REQUEST_DUIS.XML",
        "GCS40c_1.5_SUCCESS_REQUEST_DUIS.XML",
        "GCS40d_1.5_SUCCESS_REQUEST_DUIS.XML",
    )
}

_ECS03 = "credit/charge collection matrix"
_ECS08 = "ECS08 and ECS08a take the same body"
_TARIFF_ID = "Issuer Tariff ID"
_GCS02 = "Payment Control Configuration and cut-off value for credit mode"
_CANCEL = "a DUIS cancellation date"
_BLOCK_ACTION = "BlockTariffAction: the ESME script GBCS gives a block tariff action"
RTDS_EXCEPTIONS: dict[str, str] = {
    "ECS03_1.6_IMMEDIATE_SINGLE_SUCCESS_REQUEST_DUIS.XML": _ECS03,
    "ECS03_1.6_FUTURE_DATED_TWIN_SUCCESS_REQUEST_DUIS.XML": _ECS03,
    "ECS03_1.6_CANCELLATION_TWIN_SUCCESS_REQUEST_DUIS.XML": _ECS03,
    **{
        f"{uc}_2.1_{kind}_SUCCESS_REQUEST_DUIS.XML": _ECS08
        for uc in ("ECS08", "ECS08a")
        for kind in ("IMMEDIATE", "FUTURE_DATED", "CANCELLATION")
    },
    "GCS01a_1.1.1_IMMEDIATE_TOU_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS01a_1.1.1_FUTURE_DATED_BLOCK_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS01a_1.1.1_CANCELLATION_BLOCK_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS01b_1.2.1_IMMEDIATE_TOU_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS01b_1.2.1_FUTURE_DATED_BLOCK_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS01b_1.2.1_CANCELLATION_BLOCK_SUCCESS_REQUEST_DUIS.XML": _TARIFF_ID,
    "GCS02_1.6_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML": _GCS02,
    "GCS02_1.6_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML": _GCS02,
    "GCS02_1.6_CANCELLATION_SUCCESS_REQUEST_DUIS.XML": _GCS02,
    "ECS01a_1.1.1_IMMEDIATE_BLOCK_SUCCESS_REQUEST_DUIS.XML": _BLOCK_ACTION,
    "ECS01a_1.1.1_FUTURE_DATED_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML": _BLOCK_ACTION,
    "ECS01a_1.1.1_CANCELLATION_TOU_BLOCK_SUCCESS_REQUEST_DUIS.XML": _BLOCK_ACTION,
    "GCS03_1.6_CANCELLATION_SUCCESS_REQUEST_DUIS.XML": _CANCEL,
    "GCS05_2.1_CANCELLATION_SUCCESS_REQUEST_DUIS.XML": _CANCEL,
}
"""Templates of these SRVs that are refused, with words of the reason."""

_VARIANTS = ("1.1.1", "1.1.2", "1.2.1", "1.2.2", "1.5", "1.6", "2.1", "2.2", "2.3")


# --- requests built in code -------------------------------------------------------------


def _body(name: str, inner: str = "") -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def _request(variant: str, body: Body, *, cv: int = 4, target: str = ESME) -> Request:
    ref = ".".join(variant.split(".")[:2])
    rid = RequestId.parse(f"{USER}:{target}:4242")
    return Request(RequestHeader(rid, cv, ref, variant), body)


def _fresh_keys(device: str) -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(device.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


def _go(variant: str, body: Body, device: str, **kw: Any) -> Transformed | Refusal:
    srv = tables.srv(variant)
    assert srv is not None
    target = ESME if device == "ESME" else GSME
    request = _request(variant, body, cv=4 if srv.critical else 1, target=target)
    keys = _fresh_keys(target) if not srv.critical else KeyStore()
    return transform.transform(request, target_type=device, keys=keys, now=NOW, **kw)


def _ok(variant: str, body: Body, device: str) -> Transformed:
    result = _go(variant, body, device)
    assert isinstance(result, Transformed), result
    return result


def _named(result: Transformed) -> dict[str, Any]:
    """The catalogue's named arguments, read back from the GBCS built."""
    obj = explain_frame(result.gbcs)
    named = explain_named(all_descriptions()[result.use_case.upper()], obj["args"])
    assert named is not None
    return named


def _parse(route_variant: str, body: Body) -> Any:
    return transform.ROUTES[route_variant].parse(body.element())


def _x(name: str, value: object) -> str:
    return f"<sr:{name}>{value}</sr:{name}>"


# --- 2.2 Top Up Device ------------------------------------------------------------------

UTRN = "12345678901234567890"
TOP_UP = _body("TopUpDevice", _x("UTRN", UTRN))


def test_top_up_body_parses() -> None:
    assert _parse("2.2", TOP_UP) == routes_tariff.TopUp(UTRN)


@pytest.mark.parametrize(("device", "use_case"), [("ESME", "CS01a"), ("GSME", "CS01b")])
def test_top_up_is_a_macd_command_carrying_the_utrn(device: str, use_case: str) -> None:
    result = _ok("2.2", TOP_UP, device)
    assert (result.use_case, result.pre_command) == (use_case, False)
    msg = decode(result.gbcs)
    assert msg.envelope is Envelope.GENERAL_CIPHERING
    if device == "ESME":  # DLMS action: the UTRN's digits
        assert msg.payload.data[0].value == UTRN.encode()
    else:  # ZSE Consumer Top Up: the digits as ASCII octets
        assert msg.payload.components[0].body.top_up_code == UTRN.encode()


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        ("", "TopUpDevice: no UTRN"),
        (_x("UTRN", "1234"), "is not 20 digits"),
        (_x("UTRN", "1234567890123456789X"), "is not 20 digits"),
        (_x("UTRN", UTRN) + "<sr:Extra/>", "TopUpDevice: unexpected Extra"),
    ],
)
def test_bad_top_up_is_refused(inner: str, words: str) -> None:
    result = _go("2.2", _body("TopUpDevice", inner), "ESME")
    assert isinstance(result, Refusal) and words in result.reason


# --- 1.5 Update Meter Balance ----------------------------------------------------------


def _balance(mode: str, adjust: int | None) -> Body:
    inner = "<sr:ResetMeterBalance/>" if adjust is None else _x("AdjustMeterBalance", adjust)
    return _body("UpdateMeterBalance", f"<sr:{mode}>{inner}</sr:{mode}>")


@pytest.mark.parametrize(
    ("mode", "adjust", "device", "use_case"),
    [
        ("PrepaymentMode", -2500, "ESME", "ECS04a"),
        ("CreditMode", 2500, "ESME", "ECS04a"),
        ("CreditMode", None, "ESME", "ECS04b"),
        ("PrepaymentMode", None, "ESME", "ECS04b"),
        ("PrepaymentMode", 2500, "GSME", "GCS40a"),
        ("PrepaymentMode", None, "GSME", "GCS40b"),
        ("CreditMode", -7, "GSME", "GCS40c"),
        ("CreditMode", None, "GSME", "GCS40d"),
    ],
)
def test_meter_balance_choice_picks_the_use_case(
    mode: str, adjust: int | None, device: str, use_case: str
) -> None:
    body = _balance(mode, adjust)
    parsed = _parse("1.5", body)
    assert parsed == routes_tariff.MeterBalance(
        "prepayment" if mode == "PrepaymentMode" else "credit", adjust
    )
    result = _ok("1.5", body, device)
    assert result.use_case == use_case and result.pre_command
    payload = decode(result.gbcs).payload
    if device == "ESME":
        if adjust is not None:
            assert payload.data[0].value == adjust
    else:
        credit = payload.components[0].body
        assert credit.issuer_event_id == NOW_ZCL
        if adjust is not None:
            assert credit.credit_adjustment_value == adjust


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        ("", "UpdateMeterBalance: no PrepaymentMode / CreditMode"),
        ("<sr:CreditMode/><sr:PrepaymentMode/>", "more than one of PrepaymentMode / CreditMode"),
        ("<sr:CreditMode/>", "CreditMode: no AdjustMeterBalance / ResetMeterBalance"),
        ("<sr:CreditMode>" + _x("AdjustMeterBalance", "ten") + "</sr:CreditMode>",
         "not an integer"),
        ("<sr:CreditMode>" + _x("AdjustMeterBalance", 2**31) + "</sr:CreditMode>", "xs:int"),
        ("<sr:DebitMode/>", "unexpected DebitMode"),
        ("<sr:CreditMode><sr:ResetMeterBalance>1</sr:ResetMeterBalance></sr:CreditMode>",
         "expected an empty element"),
    ],
)  # fmt: skip
def test_bad_meter_balance_is_refused(inner: str, words: str) -> None:
    result = _go("1.5", _body("UpdateMeterBalance", inner), "GSME")
    assert isinstance(result, Refusal) and words in result.reason
    assert "\n" not in result.line()


# --- 1.6 Update Payment Mode ------------------------------------------------------------


def _prepay(disabled: bool, emergency: bool, threshold: int, when: str = "") -> Body:
    inner = (
        _x("SuspendDebtDisabled", str(disabled).lower())
        + _x("SuspendDebtEmergency", str(emergency).lower())
        + _x("DisablementThreshold", threshold)
    )
    at = _x("ExecutionDateTime", when) if when else ""
    return _body("UpdatePaymentMode", f"{at}<sr:Prepayment>{inner}</sr:Prepayment>")


def _credit(when: str = "") -> Body:
    at = _x("ExecutionDateTime", when) if when else ""
    return _body("UpdatePaymentMode", f"{at}<sr:Credit/>")


def test_payment_mode_bodies_parse() -> None:
    when = datetime(2030, 1, 15, 9, tzinfo=UTC)
    assert _parse("1.6", _credit("2030-01-15T09:00:00Z")) == routes_tariff.PaymentMode(when, None)
    assert _parse("1.6", _prepay(True, False, -5)) == routes_tariff.PaymentMode(
        None, routes_tariff.PrepaymentSettings(True, False, -5)
    )


def test_credit_mode_on_an_esme_carries_the_execution_time_into_the_gbcs() -> None:
    now = _ok("1.6", _credit(), "ESME")
    later = _ok("1.6", _credit("2030-01-15T09:00:00Z"), "ESME")
    assert now.use_case == later.use_case == "ECS02"
    # future-dated by the device: the DCC sends it at once, the time is in the payload
    assert now.send_at is None and later.send_at is None
    assert _named(now)["execution_date_time"].startswith("0000-00-00")
    assert _named(later)["execution_date_time"].startswith("2030-01-15T09:00:00")


@pytest.mark.parametrize(
    ("disabled", "emergency", "bits"),
    [(False, False, 0x0897), (True, False, 0x0C97), (False, True, 0x0097), (True, True, 0x0497)],
)
def test_prepayment_mode_on_a_gsme_sets_the_zse_debt_bits(
    disabled: bool, emergency: bool, bits: int
) -> None:
    result = _ok("1.6", _prepay(disabled, emergency, -1234, "2030-01-15T00:00:00Z"), "GSME")
    assert result.use_case == "GCS03" and result.send_at is None
    change = decode(result.gbcs).payload.components[0].body
    assert change.proposed_payment_control_configuration == bits
    assert change.cut_off_value == -1234
    assert change.issuer_event_id == NOW_ZCL
    assert change.implementation_date_time == routes_tariff.zcl_utc_time(
        datetime(2030, 1, 15, tzinfo=UTC)
    )


@pytest.mark.parametrize(
    ("body", "device", "words"),
    [
        (_prepay(True, True, 0), "ESME", _ECS03),
        (_credit(), "GSME", _GCS02),
        (_prepay(True, True, 0, "3000-12-31T00:00:00Z"), "GSME", _CANCEL),
        (_prepay(True, True, 0, "2030-01-15T00:00:00.5Z"), "GSME", "whole seconds"),
        (_body("UpdatePaymentMode"), "ESME", "no Credit / Prepayment"),
        (_body("UpdatePaymentMode", "<sr:Credit/><sr:Prepayment/>"), "ESME", "more than one"),
        (_body("UpdatePaymentMode", "<sr:Prepayment>" + _x("SuspendDebtDisabled", "yes")
               + "</sr:Prepayment>"), "GSME", "not a boolean"),
        (_body("UpdatePaymentMode", "<sr:Prepayment>" + _x("SuspendDebtDisabled", "true")
               + _x("SuspendDebtEmergency", "true") + "</sr:Prepayment>"), "GSME",
         "Prepayment: no DisablementThreshold"),
        (_body("UpdatePaymentMode", _x("ExecutionDateTime", "soon") + "<sr:Credit/>"), "ESME",
         "UpdatePaymentMode/ExecutionDateTime"),
    ],
)  # fmt: skip
def test_bad_or_untransformed_payment_mode_is_refused(body: Body, device: str, words: str) -> None:
    result = _go("1.6", body, device)
    assert isinstance(result, Refusal) and words in result.reason


# --- 2.3 Update Debt --------------------------------------------------------------------


def _debt(fuel: str, recovery: str = "") -> Body:
    if not recovery:
        if fuel == "Elec":
            rec = _x("DebtRecoveryRate", 7) + _x("DebtRecoveryRatePriceScale", -2)
        else:
            rec = _x("DebtRecoveryRate", 70000)
        recovery = "".join(
            f"<sr:{fuel}DebtRecovery{i}>{rec}{_x('DebtRecoveryRatePeriod', p)}"
            f"</sr:{fuel}DebtRecovery{i}>"
            for i, p in ((1, "HOURLY"), (2, "DAILY"))
        )
    head = (
        _x("TimeDebtRegister1", 111)
        + _x("TimeDebtRegister2", -222)
        + _x("PaymentDebtRegister", 333)
        + _x("DebtRecoveryPerPayment", 2500)
    )
    return _body("UpdateDebt", head + recovery)


def test_debt_body_parses() -> None:
    debt = _parse("2.3", _debt("Elec"))
    assert debt == routes_tariff.UpdateDebt(
        111,
        -222,
        333,
        2500,
        "electricity",
        routes_tariff.DebtRecovery(7, "hourly", -2),
        routes_tariff.DebtRecovery(7, "daily", -2),
    )
    assert _parse("2.3", _debt("Gas")).recovery_1 == routes_tariff.DebtRecovery(70000, "hourly")


def test_electricity_debt_reaches_the_esme() -> None:
    result = _ok("2.3", _debt("Elec"), "ESME")
    assert result.use_case == "ECS07"
    named = _named(result)
    assert (named["time_debt_register_1"], named["time_debt_register_2"]) == (111, -222)
    assert (named["payment_debt_register"], named["debt_recovery_per_payment"]) == (333, 2500)
    assert (named["debt_recovery_rate_1"], named["debt_recovery_rate_price_scale_1"]) == (7, -2)
    assert (named["debt_recovery_rate_period_1"], named["debt_recovery_rate_period_2"]) == (
        "hourly",
        "daily",
    )


def test_gas_debt_reaches_the_gsme() -> None:
    result = _ok("2.3", _debt("Gas"), "GSME")
    assert result.use_case == "GCS04"
    first, second, payment = (c.body for c in decode(result.gbcs).payload.components)
    assert {first.issuer_event_id, second.issuer_event_id, payment.issuer_event_id} == {NOW_ZCL}
    assert (first.debt_amount, second.debt_amount, payment.debt_amount) == (111, -222, 333)
    assert (first.debt_recovery_amount, first.debt_recovery_frequency) == (70000, 0)
    assert second.debt_recovery_frequency == 1  # daily
    assert payment.debt_recovery_balance_percentage == 2500


@pytest.mark.parametrize(
    ("body", "device", "words"),
    [
        (_debt("Gas"), "ESME", "takes ElecDebtRecovery1/2"),
        (_debt("Elec"), "GSME", "takes GasDebtRecovery1/2"),
        (_debt("Elec", " "), "ESME", "no ElecDebtRecovery1/2 / GasDebtRecovery1/2"),
        (_debt("Elec", "<sr:ElecDebtRecovery1/><sr:GasDebtRecovery2/>"), "ESME", "both"),
        (_debt("Elec", "<sr:ElecDebtRecovery1>" + _x("DebtRecoveryRate", 1)
               + _x("DebtRecoveryRatePriceScale", 0) + _x("DebtRecoveryRatePeriod", "WEEKLY")
               + "</sr:ElecDebtRecovery1>"), "ESME", "'WEEKLY' is not HOURLY/DAILY"),
        (_debt("Elec", "<sr:ElecDebtRecovery1>" + _x("DebtRecoveryRate", 40000)
               + _x("DebtRecoveryRatePriceScale", 0) + _x("DebtRecoveryRatePeriod", "DAILY")
               + "</sr:ElecDebtRecovery1>"), "ESME", "xs:short"),
        (_body("UpdateDebt", _x("TimeDebtRegister1", 1)), "ESME", "no TimeDebtRegister2"),
    ],
)  # fmt: skip
def test_bad_debt_is_refused(body: Body, device: str, words: str) -> None:
    result = _go("2.3", body, device)
    assert isinstance(result, Refusal) and words in result.reason


# --- 1.2.1 / 1.2.2 Update Price ---------------------------------------------------------


def _elec_price(tariff: str, when: str = "") -> Body:
    at = _x("ExecutionDateTime", when) if when else ""
    head = _x("StandingCharge", 1500) + _x("StandingChargeScale", -4) + _x("PriceScale", -3)
    return _body(
        "UpdatePricePrimaryElement",
        f"{at}<sr:PriceElements><sr:ElectricityPriceElements>{head}{tariff}"
        "</sr:ElectricityPriceElements></sr:PriceElements>",
    )


TOU_PRICES = '<sr:TOUPrice index="2">222</sr:TOUPrice><sr:TOUPrice index="48">4848</sr:TOUPrice>'
TOU = f"<sr:TOUTariff>{TOU_PRICES}</sr:TOUTariff>"
BLOCK = (
    '<sr:BlockTariff><sr:BlockPrices index="3"><sr:BlockPrice index="2">32</sr:BlockPrice>'
    '<sr:BlockPrice index="4">34</sr:BlockPrice></sr:BlockPrices></sr:BlockTariff>'
)
HYBRID = (
    '<sr:HybridTariff><sr:BlockPrices index="8"><sr:BlockPrice index="1">81</sr:BlockPrice>'
    '</sr:BlockPrices><sr:TOUPrice index="1">11</sr:TOUPrice></sr:HybridTariff>'
)


def test_price_primary_bodies_parse() -> None:
    tou = _parse("1.2.1", _elec_price(TOU))
    assert tou.prices == routes_tariff.ElecPrimaryPrices(
        1500, -4, -3, "tou", ((2, 222), (48, 4848)), ()
    )
    assert _parse("1.2.1", _elec_price(BLOCK)).prices.block_prices == ((3, 2, 32), (3, 4, 34))
    hybrid = _parse("1.2.1", _elec_price(HYBRID)).prices
    assert (hybrid.tariff, hybrid.tou_prices, hybrid.block_prices) == (
        "hybrid",
        ((1, 11),),
        ((8, 1, 81),),
    )
    gas = _body(
        "UpdatePricePrimaryElement",
        "<sr:PriceElements><sr:GasPriceElements>"
        + _x("CurrencyUnits", "GBP")
        + _x("StandingCharge", 22465)
        + '<sr:BlockTariff><sr:BlockPrice index="1">9600</sr:BlockPrice>'
        + _x("NumberOfThresholds", 1)
        + "</sr:BlockTariff></sr:GasPriceElements></sr:PriceElements>",
    )
    assert _parse("1.2.1", gas).prices == routes_tariff.GasPrices(
        "GBP", 22465, "block", ((1, 9600),), 1
    )


@pytest.mark.parametrize(
    ("tariff", "expected"),
    [
        (TOU, {"tou_price_2": 222, "tou_price_48": 4848, "tou_price_1": 0}),
        (BLOCK, {"block_price_3_2": 32, "block_price_3_4": 34, "block_price_3_1": 0}),
        (HYBRID, {"block_price_8_1": 81, "tou_price_1": 11}),
    ],
)
def test_primary_prices_reach_the_esme(tariff: str, expected: dict[str, int]) -> None:
    result = _ok("1.2.1", _elec_price(tariff, "2030-02-01T06:30:00Z"), "ESME")
    assert result.use_case == "ECS01b" and result.pre_command and result.send_at is None
    named = _named(result)
    assert (named["standing_charge"], named["standing_charge_scale"]) == (1500, -4)
    assert named["price_scale"] == -3
    assert {k: named[k] for k in expected} == expected
    assert named["execution_date_time"].startswith("2030-02-01T06:30:00")


def test_secondary_prices_reach_the_esme() -> None:
    body = _body(
        "UpdatePriceSecondaryElement",
        "<sr:PriceElements>"
        + _x("PriceScale", -5)
        + '<sr:ElectricityPriceElement index="4">404</sr:ElectricityPriceElement>'
        + '<sr:ElectricityPriceElement index="1">101</sr:ElectricityPriceElement>'
        + "</sr:PriceElements>",
    )
    assert _parse("1.2.2", body) == routes_tariff.PriceSecondary(None, -5, ((1, 101), (4, 404)))
    named = _named(_ok("1.2.2", body, "ESME"))
    assert (named["price_scale"], named["tou_price_1"], named["tou_price_4"]) == (-5, 101, 404)
    assert named["tou_price_2"] == 0
    assert named["price_activation"].startswith("0000-00-00")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_elec_price(""), "no BlockTariff / TOUTariff / HybridTariff"),
        (_elec_price("<sr:TOUTariff/>"), "TOUTariff: no TOUPrice"),
        (_elec_price('<sr:TOUTariff><sr:TOUPrice index="49">1</sr:TOUPrice></sr:TOUTariff>'),
         "TOUPrice index: 49 is not an index"),
        (_elec_price('<sr:TOUTariff><sr:TOUPrice>1</sr:TOUPrice></sr:TOUTariff>'),
         "TOUPrice: no index attribute"),
        (_elec_price('<sr:TOUTariff><sr:TOUPrice index="1">1</sr:TOUPrice>'
                     '<sr:TOUPrice index="1">2</sr:TOUPrice></sr:TOUTariff>'), "index is repeated"),
        (_elec_price('<sr:TOUTariff><sr:TOUPrice index="1">40000</sr:TOUPrice></sr:TOUTariff>'),
         "xs:short"),
        (_elec_price(f"<sr:HybridTariff>{TOU_PRICES}</sr:HybridTariff>"),
         "HybridTariff: no BlockPrices"),
        (_body("UpdatePricePrimaryElement", "<sr:PriceElements><sr:GasPriceElements>"
               + _x("CurrencyUnits", "GBP") + _x("StandingCharge", 1)
               + '<sr:TOUTariff><sr:TOUPrice index="1">1</sr:TOUPrice></sr:TOUTariff>'
               "</sr:GasPriceElements></sr:PriceElements>"), "GasPriceElements do not apply"),
        (_body("UpdatePricePrimaryElement"), "UpdatePricePrimaryElement: no PriceElements"),
    ],
)  # fmt: skip
def test_bad_prices_are_refused(body: Body, words: str) -> None:
    result = _go("1.2.1", body, "ESME")
    assert isinstance(result, Refusal) and words in result.reason


# --- 2.1 Update Prepay Configuration (gas) ----------------------------------------------


def _gas_date(year: str, month: int, day: int, dow: str = "<sr:NonSpecifiedDayOfWeek/>") -> str:
    y = "<sr:NonSpecifiedYear/>" if year == "*" else _x("SpecifiedYear", year)
    return (
        f"<sr:GasYearWithWildcards>{y}</sr:GasYearWithWildcards>"
        f"<sr:GasMonthWithWildcards>{_x('SpecifiedMonth', month)}</sr:GasMonthWithWildcards>"
        f"<sr:GasDayOfMonthWithWildcards>{_x('SpecifiedDayOfMonth', day)}"
        f"</sr:GasDayOfMonthWithWildcards><sr:GasDayOfWeekWithWildcards>{dow}"
        "</sr:GasDayOfWeekWithWildcards>"
    )


def _gas_config(when: str = "", special_dow: str = "<sr:NonSpecifiedDayOfWeek/>") -> Body:
    day = (
        "<sr:GasNonDisablementDayProfile><sr:TimeStartAction>"
        + _x("StartTime", "00:00:00Z")
        + _x("NonDisablementAction", "START")
        + "</sr:TimeStartAction><sr:TimeStartAction>"
        + _x("StartTime", "07:45:00.00Z")
        + _x("NonDisablementAction", "STOP")
        + "</sr:TimeStartAction>"
        + _x("GasDayName", 5)
        + "</sr:GasNonDisablementDayProfile>"
    )
    refs = "".join(
        f'<sr:ReferencedDayName index="{i}">5</sr:ReferencedDayName>' for i in range(1, 8)
    )
    calendar = (
        f"<sr:DayProfiles>{day}</sr:DayProfiles>"
        f"<sr:WeekProfiles><sr:WeekProfile>{_x('WeekName', 9)}{refs}</sr:WeekProfile>"
        "</sr:WeekProfiles><sr:SeasonProfiles><sr:Season><sr:SeasonStartDate>"
        + _gas_date("2031", 4, 1)
        + "</sr:SeasonStartDate>"
        + _x("ReferencedWeekName", 9)
        + "</sr:Season></sr:SeasonProfiles><sr:SpecialDays><sr:SpecialDay><sr:Date>"
        + _gas_date("*", 12, 25, special_dow)
        + "</sr:Date>"
        + _x("ReferencedDayName", 5)
        + "</sr:SpecialDay></sr:SpecialDays>"
    )
    gas = (
        _x("DebtRecoveryRateCap", 1000)
        + _x("EmergencyCreditLimit", 2000)
        + _x("EmergencyCreditThreshold", 3000)
        + _x("LowCreditThreshold", 4000)
        + f"<sr:GasNonDisablementCalendar>{calendar}</sr:GasNonDisablementCalendar>"
        + _x("MaxMeterBalance", 5000)
        + _x("MaxCreditThreshold", 6000)
    )
    at = _x("ExecutionDateTime", when) if when else ""
    return _body(
        "UpdatePrepayConfiguration",
        f"{at}<sr:UpdatePrepayConfigGas>{gas}</sr:UpdatePrepayConfigGas>",
    )


def test_gas_prepay_configuration_parses() -> None:
    parsed = _parse("2.1", _gas_config())
    assert parsed.execution_date_time is None and parsed.gas is not None
    assert parsed.gas.calendar == routes_tariff.GasCalendar(
        (routes_tariff.GasDayProfile(5, ((0, 1), (465, 0))),),
        ((9, (5,) * 7),),
        (("2031-04-01", 9),),
        (("*-12-25", 5),),
    )
    assert (parsed.gas.max_meter_balance, parsed.gas.max_credit_threshold) == (5000, 6000)


def test_gas_prepay_configuration_reaches_the_gsme() -> None:
    result = _ok("2.1", _gas_config("2031-03-01T12:00:00Z"), "GSME")
    assert result.use_case == "GCS05" and result.send_at is None
    named = _named(result)
    assert named["issuer_event_id"] == named["issuer_calendar_id"] == NOW_ZCL
    assert (named["debt_recovery_rate_cap"], named["emergency_credit_limit"]) == (1000, 2000)
    assert (named["emergency_credit_threshold"], named["low_credit_threshold"]) == (3000, 4000)
    assert (named["max_meter_balance"], named["max_credit_threshold"]) == (5000, 6000)
    assert named["day_profiles"] == [
        {"day_id": 5, "entries": [{"start_time": 0, "value": 1}, {"start_time": 465, "value": 0}]}
    ]
    assert named["week_profiles"] == [{"week_id": 9, "day_id_refs": [5] * 7}]
    assert named["season_profiles"] == [{"season_start_date": "2031-04-01", "week_id_ref": 9}]
    assert named["special_days"] == [{"special_day_date": "*-12-25", "day_id_ref": 5}]
    assert named["execution_date_time"] == "2031-03-01T12:00:00Z"


@pytest.mark.parametrize(
    ("body", "device", "words"),
    [
        (_gas_config(special_dow=_x("SpecifiedDayOfWeek", 1)), "GSME", "specified day of week"),
        (_body("UpdatePrepayConfiguration", "<sr:UpdatePrepayConfigElectricity/>"), "GSME",
         "UpdatePrepayConfigElectricity does not apply to a GSME"),
        (_body("UpdatePrepayConfiguration", "<sr:UpdatePrepayConfigGas/>"), "GSME",
         "UpdatePrepayConfigGas: no DebtRecoveryRateCap"),
        (_gas_config(), "ESME", _ECS08),
    ],
)  # fmt: skip
def test_bad_or_untransformed_prepay_configuration_is_refused(
    body: Body, device: str, words: str
) -> None:
    result = _go("2.1", body, device)
    assert isinstance(result, Refusal) and words in result.reason


# --- 1.1.1 / 1.1.2 Update Import Tariff (ESME) -----------------------------------------


def _date(year: str, month: str, day: str, dow: str = "") -> str:
    def part(name: str, given: str, value: str, wild: str) -> str:
        inner = f"<sr:{wild}/>" if value == "*" else _x(given, value)
        return f"<sr:{name}>{inner}</sr:{name}>"

    dow_inner = _x("SpecifiedDayOfWeek", dow) if dow else "<sr:NonSpecifiedDayOfWeek/>"
    day_inner = (
        f"<sr:{day}/>" if day in ("LastDayOfMonth", "*") else _x("SpecifiedDayOfMonth", day)
    ).replace("<sr:*/>", "<sr:NonSpecifiedDayOfMonth/>")
    return (
        part("Year", "SpecifiedYear", year, "NonSpecifiedYear")
        + part("Month", "SpecifiedMonth", month, "NonSpecifiedMonth")
        + f"<sr:DayOfMonth>{day_inner}</sr:DayOfMonth>"
        + f"<sr:DayOfWeek>{dow_inner}</sr:DayOfWeek>"
    )


def _switching(action: str = "TOUTariffAction", rate: int = 3) -> str:
    days = (
        "<sr:DayProfiles><sr:DayProfile>"
        + _x("DayName", 7)
        + "<sr:ProfileSchedule>"
        + _x("StartTime", "00:00:00Z")
        + _x("TOUTariffAction", 1)
        + "</sr:ProfileSchedule><sr:ProfileSchedule>"
        + _x("StartTime", "16:30:00.00Z")
        + _x(action, rate)
        + "</sr:ProfileSchedule></sr:DayProfile></sr:DayProfiles>"
    )
    refs = "".join(
        f'<sr:ReferencedDayName index="{i}">7</sr:ReferencedDayName>' for i in range(1, 8)
    )
    weeks = f"<sr:WeekProfiles><sr:WeekProfile>{_x('WeekName', 2)}{refs}</sr:WeekProfile>"
    seasons = (
        "</sr:WeekProfiles><sr:Seasons><sr:Season>"
        + _x("SeasonName", "spring")
        + f"<sr:SeasonStartDate>{_date('*', '04', 'LastDayOfMonth', '7')}</sr:SeasonStartDate>"
        + _x("ReferencedWeekName", 2)
        + "</sr:Season></sr:Seasons>"
    )
    return f"<sr:SwitchingTable>{days}{weeks}{seasons}</sr:SwitchingTable>"


SPECIAL = (
    f"<sr:SpecialDays><sr:SpecialDay><sr:Date>{_date('2031', '12', '24')}</sr:Date>"
    + _x("ReferencedDayName", 7)
    + "</sr:SpecialDay></sr:SpecialDays>"
)


def _thresholds(first: int = 4294967295) -> str:
    rows = "".join(
        f'<sr:Thresholds index="{i}"><sr:BlockThreshold index="1">'
        f"{first if i == 1 else 4294967295}</sr:BlockThreshold></sr:Thresholds>"
        for i in range(1, 9)
    )
    return f"<sr:ThresholdMatrix>{rows}</sr:ThresholdMatrix>"


def _tariff(switching: str = "", thresholds: str = "", when: str = "") -> Body:
    elec = (
        _x("CurrencyUnits", "ECB")
        + (switching or _switching())
        + SPECIAL
        + (thresholds or _thresholds())
    )
    at = _x("ExecutionDateTime", when) if when else ""
    head = _x("StandingCharge", 1500) + _x("StandingChargeScale", -4) + _x("PriceScale", -3)
    prices = f"<sr:ElectricityPriceElements>{head}{TOU}</sr:ElectricityPriceElements>"
    return _body(
        "UpdateImportTariffPrimaryElement",
        f"{at}<sr:ElecTariffElements>{elec}</sr:ElecTariffElements>"
        f"<sr:PriceElements>{prices}</sr:PriceElements>",
    )


def _secondary(when: str = "") -> Body:
    at = _x("ExecutionDateTime", when) if when else ""
    prices = (
        "<sr:PriceElements>"
        + _x("PriceScale", -2)
        + '<sr:ElectricityPriceElement index="3">303</sr:ElectricityPriceElement>'
        + "</sr:PriceElements>"
    )
    return _body("UpdateImportTariffSecondaryElement", f"{at}{_switching(rate=4)}{SPECIAL}{prices}")


def test_tariff_primary_body_parses() -> None:
    parsed = _parse("1.1.1", _tariff())
    assert parsed.tariff is not None and parsed.execution_date_time is None
    table = parsed.tariff.switching_table
    assert table.day_profiles == (
        routes_tariff.ElecDayProfile(7, (("00:00:00.00", "tou", 1), ("16:30:00.00", "tou", 3))),
    )
    assert table.week_profiles == ((2, (7,) * 7),)
    assert table.seasons == (routes_tariff.ElecSeason("spring", "*-04-254[weekday=7]", 2),)
    assert parsed.tariff.special_days == (("2031-12-24", 7),)
    assert parsed.tariff.currency_units == "ECB"
    assert len(parsed.tariff.thresholds) == 8
    assert parsed.prices.tou_prices == ((2, 222), (48, 4848))


def test_tariff_primary_reaches_the_esme() -> None:
    result = _ok("1.1.1", _tariff(when="2031-01-01T00:00:00Z"), "ESME")
    assert result.use_case == "ECS01a" and result.pre_command and result.send_at is None
    named = _named(result)
    assert named["day_profiles"] == [
        {
            "day_id": 7,
            "day_schedule": [
                {"start_time": "00:00:00.00", "script_logical_name": "0-0:10.0.100.255",
                 "script_selector": 1},
                {"start_time": "16:30:00.00", "script_logical_name": "0-0:10.0.100.255",
                 "script_selector": 3},
            ],
        }
    ]  # fmt: skip
    assert named["week_profiles"] == [
        {"week_profile_name": "02", **dict.fromkeys(
            ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), 7)}
    ]  # fmt: skip
    assert named["seasons"] == [
        {
            "season_profile_name": b"spring".hex().upper(),
            "season_start": "*-04-254T00:00:00.00[weekday=7]",
            "week_name": "02",
        }
    ]
    assert named["special_days"] == [{"index": 1, "specialday_date": "2031-12-24", "day_id": 7}]
    assert named["currency_units"] is False  # ECB: the euro
    assert (named["tou_price_2"], named["tou_price_48"], named["standing_charge"]) == (
        222,
        4848,
        1500,
    )
    assert named["execution_date_time"].startswith("2031-01-01T00:00:00")


def test_tariff_secondary_parses_and_reaches_the_esme() -> None:
    parsed = _parse("1.1.2", _secondary())
    assert parsed.prices == routes_tariff.PriceSecondary(None, -2, ((3, 303),))
    assert parsed.switching_table.day_profiles[0].schedule[1] == ("16:30:00.00", "tou", 4)
    result = _ok("1.1.2", _secondary("2031-06-01T00:00:00Z"), "ESME")
    assert result.use_case == "ECS01c"
    named = _named(result)
    # the secondary element's rate n is the ESME's tariff script 200 + n
    selectors = [e["script_selector"] for e in named["day_profiles"][0]["day_schedule"]]
    assert selectors == [201, 204]
    assert (named["price_scale"], named["tou_price_3"], named["tou_price_1"]) == (-2, 303, 0)
    assert named["execution_date_time"].startswith("2031-06-01T00:00:00")


@pytest.mark.parametrize(
    ("variant", "body", "words"),
    [
        ("1.1.1", _tariff(_switching("BlockTariffAction", 2)), _BLOCK_ACTION),
        ("1.1.1", _tariff(thresholds=_thresholds(1000)), "block thresholds cannot be carried"),
        ("1.1.1", _tariff(_switching(rate=49)), "TOUTariffAction: 49 is not"),
        ("1.1.2", _body("UpdateImportTariffSecondaryElement", _switching(rate=5) + SPECIAL
                        + "<sr:PriceElements/>"), "TOUTariffAction: 5 is not"),
        ("1.1.1", _tariff(_switching().replace("04", "13")), "SpecifiedMonth: 13 is not"),
        ("1.1.1", _tariff(_switching().replace("spring", "springtime")), "up to 8 ASCII"),
        ("1.1.1", _tariff(_switching().replace("16:30:00.00Z", "16:30:00+01:00")), "not UTC"),
        ("1.1.1", _tariff(thresholds="<sr:ThresholdMatrix/>"), "needs 8 Thresholds"),
        ("1.1.1", _body("UpdateImportTariffPrimaryElement", "<sr:PriceElements/>"),
         "no ElecTariffElements / GasTariffElements"),
        ("1.1.2", _body("UpdateImportTariffSecondaryElement", SPECIAL), "no SwitchingTable"),
    ],
)  # fmt: skip
def test_bad_or_untransformed_tariff_is_refused(variant: str, body: Body, words: str) -> None:
    result = _go(variant, body, "ESME")
    assert isinstance(result, Refusal) and words in result.reason
    assert "\n" not in result.line()


# --- the module's shape -----------------------------------------------------------------


def test_routes_and_not_yet_cover_every_emulated_device_of_these_srvs() -> None:
    for variant in _VARIANTS:
        srv = tables.srv(variant)
        assert srv is not None
        route = transform.ROUTES.get(variant)
        planned = set(route.planners) if route is not None else set()
        listed = {d for (v, d) in routes_tariff.NOT_YET if v == variant}
        emulated = set(srv.device_types) & set(transform.EMULATED_DEVICE_TYPES)
        assert planned | listed == emulated and not planned & listed


def test_zcl_utc_time_counts_from_2000() -> None:
    assert routes_tariff.zcl_utc_time(datetime(2015, 1, 1, tzinfo=UTC)) == 0x1C374A80
    with pytest.raises(NotTransformed, match="does not fit a ZCL UTCTime"):
        routes_tariff.zcl_utc_time(datetime(1999, 12, 31, tzinfo=UTC))


def test_the_issuer_event_id_follows_the_build_time() -> None:
    a, b = (
        transform.transform(
            _request("1.5", _balance("CreditMode", None), target=GSME),
            target_type="GSME",
            keys=KeyStore(),
            now=t,
        )
        for t in (NOW, datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC))
    )
    assert isinstance(a, Transformed) and isinstance(b, Transformed)
    ids = [decode(r.gbcs).payload.components[0].body.issuer_event_id for r in (a, b)]
    assert ids == [NOW_ZCL, NOW_ZCL + 1]


# --- the RTDS templates of these SRVs (shared material) --------------------------------


def _rows() -> list[dict[str, Any]]:
    d = duiskit.duis_dir()
    if d is None:
        return []
    rows = [json.loads(line) for line in (d / "pairs.jsonl").read_text().splitlines() if line]
    return [r for r in rows if r["srv"] in _VARIANTS]


ROWS = _rows()


def test_exceptions_and_dcc_inputs_name_real_templates() -> None:
    if not ROWS:
        duiskit.require_duis()
    names = {r["template"] for r in ROWS}
    assert set(RTDS_EXCEPTIONS) <= names and set(RTDS_NOW) <= names
    assert not set(RTDS_NOW) & set(RTDS_EXCEPTIONS)


@pytest.mark.parametrize(
    "row",
    [r for r in ROWS if r["srv"] in transform.ROUTES and r["template"] not in RTDS_EXCEPTIONS],
    ids=lambda r: r["template"],
)
def test_template_is_a_pre_command_or_command_with_the_request_header(
    row: dict[str, Any],
) -> None:
    """Every transformed template of these SRVs (paired or not): the header is the
    RequestID's, a critical one is the unsigned pre-command, and a device-future-dated
    ExecutionDateTime is not held by the DCC (it is in the GBCS)."""
    d = duiskit.require_duis()
    request = model.parse((d / "templates" / row["template"]).read_bytes())
    assert isinstance(request, Request)
    device = "ESME" if row["template"].startswith("ECS") or "_ESME" in row["template"] else None
    device = device or ("ESME" if row["template"].startswith("CS01a") else "GSME")
    target = request.header.request_id.target_eui
    keys = KeyStore()
    keys.add(DEFAULT_ACB, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    keys.add(target, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    result = transform.transform(
        request, target_type=device, keys=keys, now=RTDS_NOW.get(row["template"], NOW)
    )
    assert isinstance(result, Transformed), result
    assert result.use_case == row["gbcs_use_case"]
    msg = decode(result.gbcs)
    rid = request.header.request_id
    assert (msg.originator, msg.recipient, msg.counter) == (
        rid.originator_eui,
        rid.target_eui,
        rid.counter,
    )
    assert result.send_at is None
    if row["critical"]:
        assert result.pre_command and msg.signature_form is SignatureForm.ABSENT
    else:
        assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID
    when = request.body.element().findtext(f"{{{SR_NS}}}ExecutionDateTime")
    if when is not None:
        t = datetime.fromisoformat(when.replace("Z", "+00:00"))
        named = _named(result)
        given = named.get("execution_date_time") or named.get("price_activation")
        assert str(given).startswith(t.strftime("%Y-%m-%dT%H:%M:%S"))


def test_no_future_dated_srv_here_is_held_by_the_dsp() -> None:
    # so the body's ExecutionDateTime must reach the GBCS (the tests above check it)
    for variant in _VARIANTS:
        srv = tables.srv(variant)
        assert srv is not None and srv.future_dated in (None, "Device")


def test_parsers_take_the_element_not_a_string() -> None:
    with pytest.raises(NotTransformed):
        routes_tariff.parse_top_up(etree.fromstring(f'<sr:TopUpDevice xmlns:sr="{SR_NS}"/>'))
