"""SRVs of the tariff and prepayment group: import tariffs (1.1.1, 1.1.2), prices (1.2.1,
1.2.2), meter balance (1.5), payment mode (1.6), prepayment configuration (2.1), top-up
(2.2) and debt (2.3); the device types not transformed yet are in :data:`NOT_YET` with
why, and what a planner cannot carry yet is refused with the reason.

Each SRV's body is read into a frozen dataclass whose fields follow its DUIS 5.4 XML
schema type (choices, optionals and repeats included); the planners map those fields
onto the head-end catalogue's named parameters of the GBCS use case. Choices in the body
pick the use case where an SRV has several per device type (documented at each planner).

SRVs 1.1.x, 1.2.x, 1.6 and 2.1 are future-dated by the *device*: their ``ExecutionDateTime``
goes into the GBCS (COSEM activation date-times for an ESME, ZCL UTC times for a GSME)
and the DCC sends the command at once.

GSME commands are ZigBee Smart Energy (ZSE) commands that carry an Issuer Event ID. ZSE
(Price / Prepayment clusters) defines it as "a unique number managed by upstream servers
or a UTC based time stamp (UTCTime) identifying when the Publish command was issued;
newer information has a larger value". The DUIS bodies of these SRVs do not carry one:
the DCC writes it, as the ZCL UTCTime (seconds since 2000-01-01T00:00:00Z) at which it
builds the command (:attr:`PlanInput.now`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from emulator.duis.routing import (
    NotTransformed,
    Plan,
    PlanInput,
    SrvRoute,
    boolean,
    child,
    children,
    cosem_text,
    date_time,
    dcc_issuer_event_id,
    integer,
    local,
    optional,
    required,
    text,
    zcl_utc_time,
)

__all__ = [
    "NOT_YET",
    "ROUTES",
    "DebtRecovery",
    "ElecDayProfile",
    "ElecPrimaryPrices",
    "ElecSeason",
    "ElecSwitchingTable",
    "ElecTariff",
    "GasCalendar",
    "GasDayProfile",
    "GasPrepayConfig",
    "GasPrices",
    "MeterBalance",
    "PaymentMode",
    "PrepayConfiguration",
    "PrepaymentSettings",
    "PricePrimary",
    "PriceSecondary",
    "TariffPrimary",
    "TariffSecondary",
    "TopUp",
    "UpdateDebt",
    "payment_control_configuration",
    "zcl_utc_time",
]

# --- small readers ---------------------------------------------------------------------

#: The year of the ExecutionDateTime (3000-12-31) of the RTDS CANCELLATION templates.
_CANCEL_YEAR = 3000


def _bounded(kind: str, lo: int, hi: int) -> Callable[[str], int]:
    """A converter for an XSD integer type restricted to ``lo..hi``."""

    def convert(value: str) -> int:
        n = integer(value)
        if not lo <= n <= hi:
            raise ValueError(f"{value} is not an {kind} ({lo}..{hi})")
        return n

    return convert


_INT = _bounded("xs:int", -(2**31), 2**31 - 1)
_UINT = _bounded("xs:unsignedInt", 0, 2**32 - 1)
_SHORT = _bounded("xs:short", -(2**15), 2**15 - 1)
_USHORT = _bounded("xs:unsignedShort", 0, 2**16 - 1)
_SCALE = _bounded("PriceScale", -128, 127)
_PERCENT = _bounded("0..10000", 0, 10000)


def _only(el: etree._Element, allowed: tuple[str, ...]) -> None:
    """:class:`NotTransformed` if ``el`` has children other than ``allowed``."""
    extra = [local(c) for c in children(el) if local(c) not in allowed]
    if extra:
        raise NotTransformed(f"{local(el)}: unexpected {', '.join(extra)}")


def _one_of(el: etree._Element, names: tuple[str, ...]) -> etree._Element:
    """The one child of ``el`` among the XSD choice ``names``."""
    found = [c for c in children(el) if local(c) in names]
    if len(found) != 1:
        what = "no" if not found else "more than one of"
        raise NotTransformed(f"{local(el)}: {what} {' / '.join(names)}")
    return found[0]


def _empty(el: etree._Element) -> None:
    if children(el) or (el.text or "").strip():
        raise NotTransformed(f"{local(el)}: expected an empty element")


def _index(el: etree._Element, hi: int) -> int:
    """The ``index`` attribute (1..``hi``) of a repeated DUIS element."""
    raw = el.get("index")
    if raw is None:
        raise NotTransformed(f"{local(el)}: no index attribute")
    try:
        return _bounded("index", 1, hi)(raw)
    except ValueError as e:
        raise NotTransformed(f"{local(el)} index: {e}") from None


def _value(el: etree._Element, convert: Callable[[str], int]) -> int:
    try:
        return convert(text(el))
    except ValueError as e:
        raise NotTransformed(f"{local(el)}: {e}") from None


def _indexed(
    els: list[etree._Element], hi: int, convert: Callable[[str], int]
) -> tuple[tuple[int, int], ...]:
    """(index, value) of repeated indexed elements, each index once, in index order."""
    pairs = [(_index(e, hi), _value(e, convert)) for e in els]
    seen = [i for i, _ in pairs]
    if len(set(seen)) != len(seen):
        raise NotTransformed(f"{local(els[0])}: an index is repeated")
    return tuple(sorted(pairs))


def _execution(el: etree._Element) -> datetime | None:
    return optional(el, "ExecutionDateTime", date_time)


def _cosem(when: datetime | None) -> str | None:
    """A device-future-dated ``ExecutionDateTime`` as a COSEM date-time text (UTC; None
    when not future-dated: the catalogue's default, all zero, is "immediately")."""
    return None if when is None else cosem_text(when)


def _zcl_when(when: datetime | None) -> str | None:
    """A device-future-dated ``ExecutionDateTime`` as the ZCL UTC instant a GSME command
    carries (None: now, the catalogue's default, the ZCL epoch)."""
    if when is None:
        return None
    if when.year >= _CANCEL_YEAR:
        raise NotTransformed(
            f"ExecutionDateTime {when.date()} (a DUIS cancellation date) does not fit the "
            "ZCL UTCTime of a GSME command, and no public rule here gives its GBCS form"
        )
    if when.microsecond:
        raise NotTransformed("ExecutionDateTime: a GSME takes whole seconds only")
    zcl_utc_time(when)
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _with(args: dict[str, Any], **more: Any) -> dict[str, Any]:
    """``args`` with the ``more`` that are not None."""
    return {**args, **{k: v for k, v in more.items() if v is not None}}


def _device(p: PlanInput, body: Any, kind: type, what: str) -> Any:
    if not isinstance(body, kind):
        raise NotTransformed(f"{what} do not apply to a {p.device}")
    return body


# --- 2.2 Top Up Device -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TopUp:
    """``TopUpDevice``: the 20-digit Unique Transaction Reference Number."""

    utrn: str


def parse_top_up(el: etree._Element) -> TopUp:
    """Read a ``TopUpDevice`` body."""
    _only(el, ("UTRN",))
    utrn = required(el, "UTRN")
    if not (len(utrn) == 20 and utrn.isascii() and utrn.isdigit()):
        raise NotTransformed(f"TopUpDevice/UTRN: {utrn!r} is not 20 digits")
    return TopUp(utrn)


def _plan_cs01a(p: PlanInput) -> Plan:
    # GBCS CS01a: the ESME's DLMS top-up action takes the UTRN as its digits
    return Plan("CS01a", {"utrn": p.body.utrn})


def _plan_cs01b(p: PlanInput) -> Plan:
    # GBCS CS01b: the ZSE Consumer Top Up command's code is the UTRN's digits as ASCII
    return Plan("CS01b", {"utrn": p.body.utrn.encode("ascii").hex().upper()})


# --- 1.5 Update Meter Balance ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MeterBalance:
    """``UpdateMeterBalance``: the choice ``PrepaymentMode`` / ``CreditMode``, each an
    ``AdjustOrReset`` choice: an ``AdjustMeterBalance`` amount, or ``ResetMeterBalance``."""

    #: ``prepayment`` or ``credit``.
    mode: str
    #: The ``AdjustMeterBalance`` amount (xs:int); None for ``ResetMeterBalance``.
    adjust: int | None


def parse_meter_balance(el: etree._Element) -> MeterBalance:
    """Read an ``UpdateMeterBalance`` body."""
    _only(el, ("PrepaymentMode", "CreditMode"))
    mode = _one_of(el, ("PrepaymentMode", "CreditMode"))
    _only(mode, ("AdjustMeterBalance", "ResetMeterBalance"))
    what = _one_of(mode, ("AdjustMeterBalance", "ResetMeterBalance"))
    name = "prepayment" if local(mode) == "PrepaymentMode" else "credit"
    if local(what) == "ResetMeterBalance":
        _empty(what)
        return MeterBalance(name, None)
    return MeterBalance(name, _value(what, _INT))


def _plan_ecs04(p: PlanInput) -> Plan:
    # An ESME keeps one meter balance whatever its payment mode: GBCS ECS04a adjusts it,
    # ECS04b resets it, so the AdjustOrReset choice picks the use case.
    body: MeterBalance = p.body
    if body.adjust is None:
        return Plan("ECS04b")
    return Plan("ECS04a", {"adjust_meter_balance": body.adjust})


# A GSME keeps a prepayment-mode and a credit-mode meter balance: GBCS GCS40a/b adjust /
# reset the prepayment one, GCS40c/d the credit one (both choices of the body).
_GCS40 = {
    ("prepayment", True): "GCS40a",
    ("prepayment", False): "GCS40b",
    ("credit", True): "GCS40c",
    ("credit", False): "GCS40d",
}


def _plan_gcs40(p: PlanInput) -> Plan:
    body: MeterBalance = p.body
    use_case = _GCS40[(body.mode, body.adjust is not None)]
    args = _with({"issuer_event_id": dcc_issuer_event_id(p)}, adjust_meter_balance=body.adjust)
    return Plan(use_case, args)


# --- 1.6 Update Payment Mode -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PrepaymentSettings:
    """``UpdatePaymentMode/Prepayment``."""

    suspend_debt_disabled: bool
    suspend_debt_emergency: bool
    disablement_threshold: int


@dataclass(frozen=True, slots=True)
class PaymentMode:
    """``UpdatePaymentMode``: an optional ``ExecutionDateTime`` and the choice ``Credit``
    (no fields) / ``Prepayment``."""

    execution_date_time: datetime | None
    #: None for ``Credit``.
    prepayment: PrepaymentSettings | None


def parse_payment_mode(el: etree._Element) -> PaymentMode:
    """Read an ``UpdatePaymentMode`` body."""
    _only(el, ("ExecutionDateTime", "Credit", "Prepayment"))
    when = _execution(el)
    mode = _one_of(el, ("Credit", "Prepayment"))
    if local(mode) == "Credit":
        _empty(mode)
        return PaymentMode(when, None)
    _only(mode, ("SuspendDebtDisabled", "SuspendDebtEmergency", "DisablementThreshold"))
    settings = PrepaymentSettings(
        required(mode, "SuspendDebtDisabled", boolean),
        required(mode, "SuspendDebtEmergency", boolean),
        required(mode, "DisablementThreshold", _INT),
    )
    return PaymentMode(when, settings)


def _plan_esme_payment_mode(p: PlanInput) -> Plan:
    # Credit -> GBCS ECS02, Prepayment -> ECS03 (the body's choice).
    body: PaymentMode = p.body
    if body.prepayment is None:
        return Plan("ECS02", _with({}, execution_date_time=_cosem(body.execution_date_time)))
    raise NotTransformed(
        "ECS03: the ESME's credit/charge collection matrix that GBCS builds from "
        "SuspendDebtDisabled / SuspendDebtEmergency is not in the public material here"
    )


# ZSE Payment Control Configuration bits (Prepayment cluster attribute 0x0000).
_DISCONNECTION_ENABLED = 1 << 0
_PREPAYMENT_ENABLED = 1 << 1
_CREDIT_MANAGEMENT_ENABLED = 1 << 2
_CREDIT_DISPLAY_ENABLED = 1 << 4
_CONTACTOR_FITTED = 1 << 7  # the GSME's valve
#: Debt collection halted when the credit is exhausted (supply disabled).
_DEBT_CONFIGURATION = 1 << 10
#: Debt collected while in emergency credit.
_EMERGENCY_DEBT_CONFIGURATION = 1 << 11
#: A GSME in prepayment mode: supply disabled on no credit, prepayment and credit
#: management on, credit shown, valve fitted; the two debt bits follow the body.
_GSME_PREPAYMENT = (
    _DISCONNECTION_ENABLED
    | _PREPAYMENT_ENABLED
    | _CREDIT_MANAGEMENT_ENABLED
    | _CREDIT_DISPLAY_ENABLED
    | _CONTACTOR_FITTED
)


def payment_control_configuration(settings: PrepaymentSettings) -> int:
    """The ZSE Payment Control Configuration a GSME is set to for prepayment mode."""
    bits = _GSME_PREPAYMENT
    if settings.suspend_debt_disabled:
        bits |= _DEBT_CONFIGURATION
    if not settings.suspend_debt_emergency:
        bits |= _EMERGENCY_DEBT_CONFIGURATION
    return bits


def _plan_gsme_payment_mode(p: PlanInput) -> Plan:
    # Credit -> GBCS GCS02, Prepayment -> GCS03 (the body's choice).
    body: PaymentMode = p.body
    if body.prepayment is None:
        raise NotTransformed(
            "GCS02: the ZSE Change Payment Mode command needs a Payment Control "
            "Configuration and cut-off value for credit mode, which the body does not "
            "carry and no public rule here fixes"
        )
    args = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "payment_control_configuration": payment_control_configuration(body.prepayment),
        "disablement_threshold": body.prepayment.disablement_threshold,
    }
    return Plan("GCS03", _with(args, execution_date_time=_zcl_when(body.execution_date_time)))


# --- 2.3 Update Debt -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DebtRecovery:
    """``ElecDebtRecovery`` (with a price scale) or ``GasDebtRecovery`` (without)."""

    rate: int
    #: ``hourly`` or ``daily``.
    period: str
    price_scale: int | None = None


@dataclass(frozen=True, slots=True)
class UpdateDebt:
    """``UpdateDebt``: the three debt registers, the payment share, and the choice of two
    electricity or two gas debt recovery rates."""

    time_debt_register_1: int
    time_debt_register_2: int
    payment_debt_register: int
    debt_recovery_per_payment: int
    #: ``electricity`` or ``gas``: which recovery pair the body chose.
    fuel: str
    recovery_1: DebtRecovery
    recovery_2: DebtRecovery


_PERIODS = {"HOURLY": "hourly", "DAILY": "daily"}


def _recovery(el: etree._Element, electricity: bool) -> DebtRecovery:
    names = ("DebtRecoveryRate", "DebtRecoveryRatePriceScale", "DebtRecoveryRatePeriod")
    _only(el, names if electricity else (names[0], names[2]))
    period = required(el, "DebtRecoveryRatePeriod")
    if period not in _PERIODS:
        raise NotTransformed(f"{local(el)}/DebtRecoveryRatePeriod: {period!r} is not HOURLY/DAILY")
    if electricity:
        rate = required(el, "DebtRecoveryRate", _SHORT)
        return DebtRecovery(
            rate, _PERIODS[period], required(el, "DebtRecoveryRatePriceScale", _SCALE)
        )
    return DebtRecovery(required(el, "DebtRecoveryRate", _INT), _PERIODS[period])


def parse_update_debt(el: etree._Element) -> UpdateDebt:
    """Read an ``UpdateDebt`` body."""
    pairs = {"electricity": "ElecDebtRecovery", "gas": "GasDebtRecovery"}
    registers = ("TimeDebtRegister1", "TimeDebtRegister2", "PaymentDebtRegister")
    recoveries = tuple(f"{n}{i}" for n in pairs.values() for i in (1, 2))
    _only(el, (*registers, "DebtRecoveryPerPayment", *recoveries))
    amounts = [required(el, r, _INT) for r in registers]
    per_payment = required(el, "DebtRecoveryPerPayment", _PERCENT)
    given = [f for f, n in pairs.items() if children(el, f"{n}1") or children(el, f"{n}2")]
    if len(given) != 1:
        what = "no" if not given else "both"
        raise NotTransformed(f"UpdateDebt: {what} ElecDebtRecovery1/2 / GasDebtRecovery1/2")
    fuel = given[0]
    name = pairs[fuel]
    return UpdateDebt(
        *amounts,
        per_payment,
        fuel,
        _recovery(child(el, f"{name}1"), fuel == "electricity"),
        _recovery(child(el, f"{name}2"), fuel == "electricity"),
    )


def _plan_ecs07(p: PlanInput) -> Plan:
    body: UpdateDebt = p.body
    if body.fuel != "electricity":
        raise NotTransformed("ECS07 to an ESME takes ElecDebtRecovery1/2, not GasDebtRecovery")
    args: dict[str, Any] = {
        "time_debt_register_1": body.time_debt_register_1,
        "time_debt_register_2": body.time_debt_register_2,
        "payment_debt_register": body.payment_debt_register,
        "debt_recovery_per_payment": body.debt_recovery_per_payment,
    }
    for i, r in ((1, body.recovery_1), (2, body.recovery_2)):
        args[f"debt_recovery_rate_{i}"] = r.rate
        args[f"debt_recovery_rate_price_scale_{i}"] = r.price_scale
        args[f"debt_recovery_rate_period_{i}"] = r.period
    return Plan("ECS07", args)


def _plan_gcs04(p: PlanInput) -> Plan:
    body: UpdateDebt = p.body
    if body.fuel != "gas":
        raise NotTransformed("GCS04 to a GSME takes GasDebtRecovery1/2, not ElecDebtRecovery")
    args: dict[str, Any] = {
        "issuer_event_id": dcc_issuer_event_id(p),
        "time_debt_register1": body.time_debt_register_1,
        "time_debt_register2": body.time_debt_register_2,
        "payment_debt_register": body.payment_debt_register,
        "debt_recovery_per_payment": body.debt_recovery_per_payment,
    }
    for i, r in ((1, body.recovery_1), (2, body.recovery_2)):
        args[f"debt_recovery_rate{i}"] = r.rate
        args[f"debt_recovery_rate_period{i}"] = r.period
    return Plan("GCS04", args)


# --- 1.2.1 / 1.2.2 Update Price --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ElecPrimaryPrices:
    """``ElectricityPriceElements`` (``ElecPriceElementsPrimary``)."""

    standing_charge: int
    standing_charge_scale: int
    price_scale: int
    #: ``block``, ``tou`` or ``hybrid`` (the XSD choice).
    tariff: str
    #: (TOUPrice index 1..48, price).
    tou_prices: tuple[tuple[int, int], ...] = ()
    #: (BlockPrices index 1..8, BlockPrice index 1..4, price).
    block_prices: tuple[tuple[int, int, int], ...] = ()


@dataclass(frozen=True, slots=True)
class GasPrices:
    """``GasPriceElements``."""

    #: ``GBP`` or ``ECB`` (as DUIS spells the euro).
    currency_units: str
    standing_charge: int
    #: ``block`` or ``tou``.
    tariff: str
    #: (TOUPrice / BlockPrice index 1..4, price).
    prices: tuple[tuple[int, int], ...]
    #: ``NumberOfThresholds`` of a block tariff (1..3); None for TOU.
    number_of_thresholds: int | None = None


@dataclass(frozen=True, slots=True)
class PricePrimary:
    """``UpdatePricePrimaryElement``."""

    execution_date_time: datetime | None
    prices: ElecPrimaryPrices | GasPrices


@dataclass(frozen=True, slots=True)
class PriceSecondary:
    """``UpdatePriceSecondaryElement``: the secondary element's TOU prices 1..4."""

    execution_date_time: datetime | None
    price_scale: int
    prices: tuple[tuple[int, int], ...]


def _elec_blocks(el: etree._Element) -> tuple[tuple[int, int, int], ...]:
    rows = children(el, "BlockPrices")
    out: list[tuple[int, int, int]] = []
    for row, blocks in _indexed_rows(rows):
        out += [(row, block, price) for block, price in blocks]
    return tuple(out)


def _indexed_rows(
    rows: list[etree._Element],
) -> list[tuple[int, tuple[tuple[int, int], ...]]]:
    out = []
    for row in rows:
        _only(row, ("BlockPrice",))
        out.append((_index(row, 8), _indexed(children(row, "BlockPrice"), 4, _SHORT)))
    indexes = [i for i, _ in out]
    if len(set(indexes)) != len(indexes):
        raise NotTransformed("BlockPrices: an index is repeated")
    return out


def _elec_primary(el: etree._Element) -> ElecPrimaryPrices:
    tariffs = ("BlockTariff", "TOUTariff", "HybridTariff")
    _only(el, ("StandingCharge", "StandingChargeScale", "PriceScale", *tariffs))
    tariff = _one_of(el, tariffs)
    kind = {"BlockTariff": "block", "TOUTariff": "tou", "HybridTariff": "hybrid"}[local(tariff)]
    allowed = {
        "block": ("BlockPrices",),
        "tou": ("TOUPrice",),
        "hybrid": ("BlockPrices", "TOUPrice"),
    }
    _only(tariff, allowed[kind])
    tou = children(tariff, "TOUPrice")
    blocks = children(tariff, "BlockPrices")
    if kind != "block" and not tou:
        raise NotTransformed(f"{local(tariff)}: no TOUPrice")
    if kind != "tou" and not blocks:
        raise NotTransformed(f"{local(tariff)}: no BlockPrices")
    return ElecPrimaryPrices(
        required(el, "StandingCharge", _SHORT),
        required(el, "StandingChargeScale", _SCALE),
        required(el, "PriceScale", _SCALE),
        kind,
        _indexed(tou, 48, _SHORT) if tou else (),
        _elec_blocks(tariff) if blocks else (),
    )


def _gas_primary(el: etree._Element) -> GasPrices:
    _only(el, ("CurrencyUnits", "StandingCharge", "BlockTariff", "TOUTariff"))
    currency = required(el, "CurrencyUnits")
    if currency not in ("GBP", "ECB"):
        raise NotTransformed(f"GasPriceElements/CurrencyUnits: {currency!r} is not GBP/ECB")
    tariff = _one_of(el, ("BlockTariff", "TOUTariff"))
    if local(tariff) == "TOUTariff":
        _only(tariff, ("TOUPrice",))
        prices = children(tariff, "TOUPrice")
        if not prices:
            raise NotTransformed("TOUTariff: no TOUPrice")
        return GasPrices(
            currency, required(el, "StandingCharge", _UINT), "tou", _indexed(prices, 4, _UINT)
        )
    _only(tariff, ("BlockPrice", "NumberOfThresholds"))
    prices = children(tariff, "BlockPrice")
    if not prices:
        raise NotTransformed("BlockTariff: no BlockPrice")
    return GasPrices(
        currency,
        required(el, "StandingCharge", _UINT),
        "block",
        _indexed(prices, 4, _UINT),
        required(tariff, "NumberOfThresholds", _bounded("1..3", 1, 3)),
    )


def _primary_prices(elements: etree._Element) -> ElecPrimaryPrices | GasPrices:
    """The ``PriceElements`` (``PricePrimary``) choice."""
    _only(elements, ("ElectricityPriceElements", "GasPriceElements"))
    which = _one_of(elements, ("ElectricityPriceElements", "GasPriceElements"))
    if local(which) == "ElectricityPriceElements":
        return _elec_primary(which)
    return _gas_primary(which)


def _secondary_prices(el: etree._Element) -> PriceSecondary:
    """``PriceElements`` (``PriceSecondary``) of ``el``, with its ``ExecutionDateTime``."""
    elements = child(el, "PriceElements")
    _only(elements, ("PriceScale", "ElectricityPriceElement"))
    prices = children(elements, "ElectricityPriceElement")
    if not prices:
        raise NotTransformed("PriceElements: no ElectricityPriceElement")
    return PriceSecondary(
        _execution(el), required(elements, "PriceScale", _SCALE), _indexed(prices, 4, _SHORT)
    )


def parse_price_primary(el: etree._Element) -> PricePrimary:
    """Read an ``UpdatePricePrimaryElement`` body."""
    _only(el, ("ExecutionDateTime", "PriceElements"))
    return PricePrimary(_execution(el), _primary_prices(child(el, "PriceElements")))


def parse_price_secondary(el: etree._Element) -> PriceSecondary:
    """Read an ``UpdatePriceSecondaryElement`` body."""
    _only(el, ("ExecutionDateTime", "PriceElements"))
    return _secondary_prices(el)


def _price_args(p: PlanInput, prices: ElecPrimaryPrices | GasPrices) -> dict[str, Any]:
    """The ESME's primary-element standing charge and prices (ECS01a, ECS01b)."""
    elec: ElecPrimaryPrices = _device(p, prices, ElecPrimaryPrices, "GasPriceElements")
    args: dict[str, Any] = {
        "standing_charge": elec.standing_charge,
        "standing_charge_scale": elec.standing_charge_scale,
        "price_scale": elec.price_scale,
    }
    # TOUPrice index n is charge table entry n; BlockPrices index r / BlockPrice index b
    # is the price of block b in TOU row r (the catalogue's block_price_<r>_<b>).
    args |= {f"tou_price_{i}": v for i, v in elec.tou_prices}
    args |= {f"block_price_{r}_{b}": v for r, b, v in elec.block_prices}
    return args


def _plan_ecs01b(p: PlanInput) -> Plan:
    body: PricePrimary = p.body
    args = _price_args(p, body.prices)
    return Plan("ECS01b", _with(args, execution_date_time=_cosem(body.execution_date_time)))


def _plan_ecs01d(p: PlanInput) -> Plan:
    body: PriceSecondary = p.body
    args: dict[str, Any] = {"price_scale": body.price_scale}
    args |= {f"tou_price_{i}": v for i, v in body.prices}
    return Plan("ECS01d", _with(args, price_activation=_cosem(body.execution_date_time)))


# --- 2.1 Update Prepay Configuration (gas) ---------------------------------------------


@dataclass(frozen=True, slots=True)
class GasDayProfile:
    """``GasNonDisablementDayProfile``: (minutes from midnight, 1 START / 0 STOP)."""

    day_id: int
    actions: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class GasCalendar:
    """``GasNonDisablementCalendar``: day, week, season profiles and special days. Dates
    are ``YYYY-MM-DD`` with ``*`` for a non-specified year."""

    day_profiles: tuple[GasDayProfile, ...]
    #: (WeekName, the day id of Monday..Sunday).
    week_profiles: tuple[tuple[int, tuple[int, ...]], ...]
    #: (start date, ReferencedWeekName).
    seasons: tuple[tuple[str, int], ...]
    #: (date, ReferencedDayName).
    special_days: tuple[tuple[str, int], ...]


@dataclass(frozen=True, slots=True)
class GasPrepayConfig:
    """``UpdatePrepayConfigGas``."""

    debt_recovery_rate_cap: int
    emergency_credit_limit: int
    emergency_credit_threshold: int
    low_credit_threshold: int
    calendar: GasCalendar
    max_meter_balance: int
    max_credit_threshold: int


@dataclass(frozen=True, slots=True)
class PrepayConfiguration:
    """``UpdatePrepayConfiguration``: an optional ``ExecutionDateTime`` and the choice
    electricity / gas (the electricity one is kept as its element name only: its use
    case is not transformed, see :data:`NOT_YET`)."""

    execution_date_time: datetime | None
    gas: GasPrepayConfig | None


_ACTIONS = {"START": 1, "STOP": 0}


def _minutes(value: str) -> int:
    """A DUIS xs:time (UTC) as whole minutes from midnight."""
    v = value.strip().removesuffix("Z")
    parts = v.split(":")
    if len(parts) != 3:
        raise ValueError(f"not a time: {value!r}")
    hour, minute = int(parts[0]), int(parts[1])
    if float(parts[2]) != 0 or not (0 <= hour < 24 and 0 <= minute < 60):
        raise ValueError(f"{value!r} is not a whole minute of the day")
    return hour * 60 + minute


def _gas_day(el: etree._Element) -> GasDayProfile:
    _only(el, ("TimeStartAction", "GasDayName"))
    actions = []
    for a in children(el, "TimeStartAction"):
        _only(a, ("StartTime", "NonDisablementAction"))
        action = required(a, "NonDisablementAction")
        if action not in _ACTIONS:
            raise NotTransformed(f"NonDisablementAction: {action!r} is not START/STOP")
        actions.append((required(a, "StartTime", _minutes), _ACTIONS[action]))
    if not actions:
        raise NotTransformed("GasNonDisablementDayProfile: no TimeStartAction")
    return GasDayProfile(required(el, "GasDayName", _bounded("day name", 1, 255)), tuple(actions))


def _gas_week(el: etree._Element) -> tuple[int, tuple[int, ...]]:
    _only(el, ("WeekName", "ReferencedDayName"))
    days = _indexed(children(el, "ReferencedDayName"), 7, _bounded("day name", 1, 255))
    if [i for i, _ in days] != list(range(1, 8)):
        raise NotTransformed("WeekProfile: needs ReferencedDayName 1..7 (Monday..Sunday)")
    return required(el, "WeekName", _bounded("week name", 1, 255)), tuple(d for _, d in days)


#: A gas date's parts: (element, its specified choice, its wildcard choice, width, bounds).
_WILD = {
    "GasYearWithWildcards": ("SpecifiedYear", "NonSpecifiedYear", 4, (2014, 9999)),
    "GasMonthWithWildcards": ("SpecifiedMonth", "NonSpecifiedMonth", 2, (1, 12)),
    "GasDayOfMonthWithWildcards": (
        "SpecifiedDayOfMonth",
        "GasNonSpecifiedDayOfMonth",
        2,
        (1, 31),
    ),
}


def _gas_date(el: etree._Element) -> str:
    """A gas calendar date as ``YYYY-MM-DD``; only the year may be non-specified (``*``)
    and the day of week must be non-specified (a ZSE calendar date has neither)."""
    _only(el, (*_WILD, "GasDayOfWeekWithWildcards"))
    parts = []
    for name, (given, wild, width, (lo, hi)) in _WILD.items():
        part = child(el, name)
        _only(part, (given, wild))
        chosen = _one_of(part, (given, wild))
        if local(chosen) == wild:
            if name != "GasYearWithWildcards":
                raise NotTransformed(f"{local(el)}: only the year may be non-specified")
            parts.append("*")
        else:
            parts.append(f"{_value(chosen, _bounded(given, lo, hi)):0{width}d}")
    dow = child(el, "GasDayOfWeekWithWildcards")
    if not children(dow, "NonSpecifiedDayOfWeek"):
        raise NotTransformed(f"{local(el)}: a specified day of week cannot be carried")
    return "-".join(parts)


def _gas_calendar(el: etree._Element) -> GasCalendar:
    _only(el, ("DayProfiles", "WeekProfiles", "SeasonProfiles", "SpecialDays"))
    days = child(el, "DayProfiles")
    weeks = child(el, "WeekProfiles")
    seasons = child(el, "SeasonProfiles")
    specials = child(el, "SpecialDays")
    _only(days, ("GasNonDisablementDayProfile",))
    _only(weeks, ("WeekProfile",))
    _only(seasons, ("Season",))
    _only(specials, ("SpecialDay",))
    season_list = []
    for s in children(seasons, "Season"):
        _only(s, ("SeasonStartDate", "ReferencedWeekName"))
        week = required(s, "ReferencedWeekName", _bounded("week name", 1, 255))
        season_list.append((_gas_date(child(s, "SeasonStartDate")), week))
    special_list = []
    for d in children(specials, "SpecialDay"):
        _only(d, ("Date", "ReferencedDayName"))
        day = required(d, "ReferencedDayName", _bounded("day name", 1, 255))
        special_list.append((_gas_date(child(d, "Date")), day))
    return GasCalendar(
        tuple(_gas_day(d) for d in children(days, "GasNonDisablementDayProfile")),
        tuple(_gas_week(w) for w in children(weeks, "WeekProfile")),
        tuple(season_list),
        tuple(special_list),
    )


def parse_prepay_configuration(el: etree._Element) -> PrepayConfiguration:
    """Read an ``UpdatePrepayConfiguration`` body (the gas choice in full)."""
    choices = ("UpdatePrepayConfigElectricity", "UpdatePrepayConfigGas")
    _only(el, ("ExecutionDateTime", *choices))
    when = _execution(el)
    which = _one_of(el, choices)
    if local(which) == "UpdatePrepayConfigElectricity":
        return PrepayConfiguration(when, None)
    names = (
        "DebtRecoveryRateCap",
        "EmergencyCreditLimit",
        "EmergencyCreditThreshold",
        "LowCreditThreshold",
        "GasNonDisablementCalendar",
        "MaxMeterBalance",
        "MaxCreditThreshold",
    )
    _only(which, names)
    gas = GasPrepayConfig(
        required(which, "DebtRecoveryRateCap", _INT),
        required(which, "EmergencyCreditLimit", _UINT),
        required(which, "EmergencyCreditThreshold", _UINT),
        required(which, "LowCreditThreshold", _UINT),
        _gas_calendar(child(which, "GasNonDisablementCalendar")),
        required(which, "MaxMeterBalance", _UINT),
        required(which, "MaxCreditThreshold", _UINT),
    )
    return PrepayConfiguration(when, gas)


def _plan_gcs05(p: PlanInput) -> Plan:
    body: PrepayConfiguration = p.body
    gas = body.gas
    if gas is None:
        raise NotTransformed("UpdatePrepayConfigElectricity does not apply to a GSME")
    if gas.debt_recovery_rate_cap < 0:
        raise NotTransformed("DebtRecoveryRateCap: a GSME's overall debt cap cannot be negative")
    cal = gas.calendar
    issued = dcc_issuer_event_id(p)
    args: dict[str, Any] = {
        "issuer_event_id": issued,
        # ZSE Issuer Calendar ID: like the Issuer Event ID, a UTC time stamp of issue
        # (newer calendars have larger values), written by the DCC
        "issuer_calendar_id": issued,
        "emergency_credit_limit": gas.emergency_credit_limit,
        "emergency_credit_threshold": gas.emergency_credit_threshold,
        "debt_recovery_rate_cap": gas.debt_recovery_rate_cap,
        "low_credit_threshold": gas.low_credit_threshold,
        "max_meter_balance": gas.max_meter_balance,
        "max_credit_threshold": gas.max_credit_threshold,
        "day_profiles": [
            {"day_id": d.day_id, "entries": [{"start_time": t, "value": v} for t, v in d.actions]}
            for d in cal.day_profiles
        ],
        "week_profiles": [
            {"week_id": w, "day_id_refs": list(days)} for w, days in cal.week_profiles
        ],
        "season_profiles": [{"season_start_date": d, "week_id_ref": w} for d, w in cal.seasons],
        "special_days": [{"special_day_date": d, "day_id_ref": r} for d, r in cal.special_days],
    }
    return Plan("GCS05", _with(args, execution_date_time=_zcl_when(body.execution_date_time)))


# --- 1.1.1 / 1.1.2 Update Import Tariff (ESME) -----------------------------------------


@dataclass(frozen=True, slots=True)
class ElecDayProfile:
    """``DayProfile``: its ``DayName`` and schedule of (start time as COSEM time text,
    ``TOUTariffAction`` or ``BlockTariffAction`` as ``tou`` / ``block``, the action)."""

    day_name: int
    schedule: tuple[tuple[str, str, int], ...]


@dataclass(frozen=True, slots=True)
class ElecSeason:
    """``Season``: name, start date (COSEM date text) and ``ReferencedWeekName``."""

    name: str
    start: str
    week_name: int


@dataclass(frozen=True, slots=True)
class ElecSwitchingTable:
    """``SwitchingTable``: day profiles, week profiles (WeekName, the DayName of
    Monday..Sunday) and seasons."""

    day_profiles: tuple[ElecDayProfile, ...]
    week_profiles: tuple[tuple[int, tuple[int, ...]], ...]
    seasons: tuple[ElecSeason, ...]


@dataclass(frozen=True, slots=True)
class ElecTariff:
    """``ElecTariffElements``."""

    #: ``GBP`` or ``ECB``.
    currency_units: str
    switching_table: ElecSwitchingTable
    #: (COSEM date text, ``ReferencedDayName``).
    special_days: tuple[tuple[str, int], ...]
    #: (Thresholds index 1..8, BlockThreshold index 1..3, threshold).
    thresholds: tuple[tuple[int, int, int], ...]


@dataclass(frozen=True, slots=True)
class TariffPrimary:
    """``UpdateImportTariffPrimaryElement`` (``TariffPrimaryElement``). A gas tariff
    (``GasTariffElements``) is kept as None: its use case, GCS01a, is not transformed
    (:data:`NOT_YET`)."""

    execution_date_time: datetime | None
    tariff: ElecTariff | None
    prices: ElecPrimaryPrices | GasPrices


@dataclass(frozen=True, slots=True)
class TariffSecondary:
    """``UpdateImportTariffSecondaryElement`` (``TariffSecondaryElement``)."""

    execution_date_time: datetime | None
    switching_table: ElecSwitchingTable
    special_days: tuple[tuple[str, int], ...]
    prices: PriceSecondary


def _cosem_time(value: str) -> str:
    """A DUIS xs:time (UTC) as COSEM time text ``hh:mm:ss.cc``."""
    t = date_time(f"2000-01-01T{value.strip()}")
    if t.utcoffset():
        raise ValueError(f"{value!r} is not UTC")
    return f"{t:%H:%M:%S}.{t.microsecond // 10000:02d}"


#: DUIS ``DayOfMonth`` choices with a COSEM day-of-month code (Blue Book date).
_DAY_CODES = {"LastDayOfMonth": 0xFE, "SecondLastDayOfMonth": 0xFD}


def _part(el: etree._Element, given: str, wilds: tuple[str, ...], lo: int, hi: int) -> str:
    _only(el, (given, *wilds))
    chosen = _one_of(el, (given, *wilds))
    name = local(chosen)
    if name == given:
        return f"{_value(chosen, _bounded(given, lo, hi)):02d}"
    _empty(chosen)
    return f"{_DAY_CODES[name]}" if name in _DAY_CODES else "*"


def _elec_date(el: etree._Element) -> str:
    """A DUIS ``Date`` as COSEM date text (``*`` where not specified)."""
    _only(el, ("Year", "Month", "DayOfMonth", "DayOfWeek"))
    year = _part(child(el, "Year"), "SpecifiedYear", ("NonSpecifiedYear",), 2014, 9999)
    month = _part(child(el, "Month"), "SpecifiedMonth", ("NonSpecifiedMonth",), 1, 12)
    days = ("LastDayOfMonth", "SecondLastDayOfMonth", "NonSpecifiedDayOfMonth")
    day = _part(child(el, "DayOfMonth"), "SpecifiedDayOfMonth", days, 1, 31)
    dow = _part(child(el, "DayOfWeek"), "SpecifiedDayOfWeek", ("NonSpecifiedDayOfWeek",), 1, 7)
    weekday = "" if dow == "*" else f"[weekday={int(dow)}]"
    return f"{year}-{month}-{day}{weekday}"


def _elec_day(el: etree._Element, secondary: bool) -> ElecDayProfile:
    _only(el, ("DayName", "ProfileSchedule"))
    schedule = []
    actions = ("TOUTariffAction",) if secondary else ("TOUTariffAction", "BlockTariffAction")
    for entry in children(el, "ProfileSchedule"):
        _only(entry, ("StartTime", *actions))
        action = _one_of(entry, actions)
        kind = "tou" if local(action) == "TOUTariffAction" else "block"
        hi = 4 if secondary else 48 if kind == "tou" else 8
        start = required(entry, "StartTime", _cosem_time)
        schedule.append((start, kind, _value(action, _bounded(local(action), 1, hi))))
    if not schedule:
        raise NotTransformed("DayProfile: no ProfileSchedule")
    return ElecDayProfile(required(el, "DayName", _bounded("DayName", 1, 16)), tuple(schedule))


def _elec_week(el: etree._Element) -> tuple[int, tuple[int, ...]]:
    _only(el, ("WeekName", "ReferencedDayName"))
    days = _indexed(children(el, "ReferencedDayName"), 7, _bounded("DayName", 1, 16))
    if [i for i, _ in days] != list(range(1, 8)):
        raise NotTransformed("WeekProfile: needs ReferencedDayName 1..7 (Monday..Sunday)")
    return required(el, "WeekName", _bounded("WeekName", 1, 4)), tuple(d for _, d in days)


def _elec_season(el: etree._Element) -> ElecSeason:
    _only(el, ("SeasonName", "SeasonStartDate", "ReferencedWeekName"))
    name = required(el, "SeasonName")
    if len(name) > 8 or not name.isascii():
        raise NotTransformed(f"SeasonName: {name!r} is not up to 8 ASCII characters")
    week = required(el, "ReferencedWeekName", _bounded("WeekName", 1, 4))
    return ElecSeason(name, _elec_date(child(el, "SeasonStartDate")), week)


def _switching_table(el: etree._Element, secondary: bool) -> ElecSwitchingTable:
    _only(el, ("DayProfiles", "WeekProfiles", "Seasons"))
    days, weeks, seasons = (child(el, n) for n in ("DayProfiles", "WeekProfiles", "Seasons"))
    _only(days, ("DayProfile",))
    _only(weeks, ("WeekProfile",))
    _only(seasons, ("Season",))
    table = ElecSwitchingTable(
        tuple(_elec_day(d, secondary) for d in children(days, "DayProfile")),
        tuple(_elec_week(w) for w in children(weeks, "WeekProfile")),
        tuple(_elec_season(s) for s in children(seasons, "Season")),
    )
    if not (table.day_profiles and table.week_profiles and table.seasons):
        raise NotTransformed("SwitchingTable: needs a DayProfile, a WeekProfile and a Season")
    return table


def _special_days(el: etree._Element) -> tuple[tuple[str, int], ...]:
    _only(el, ("SpecialDay",))
    out = []
    for d in children(el, "SpecialDay"):
        _only(d, ("Date", "ReferencedDayName"))
        day = required(d, "ReferencedDayName", _bounded("DayName", 1, 16))
        out.append((_elec_date(child(d, "Date")), day))
    return tuple(out)


def _thresholds(el: etree._Element) -> tuple[tuple[int, int, int], ...]:
    _only(el, ("Thresholds",))
    rows = children(el, "Thresholds")
    if len(rows) != 8:
        raise NotTransformed("ThresholdMatrix: needs 8 Thresholds")
    out: list[tuple[int, int, int]] = []
    for row in rows:
        _only(row, ("BlockThreshold",))
        index = _index(row, 8)
        values = _indexed(children(row, "BlockThreshold"), 3, _UINT)
        if not values:
            raise NotTransformed("Thresholds: no BlockThreshold")
        out += [(index, i, v) for i, v in values]
    if len({r for r, _, _ in out}) != 8:
        raise NotTransformed("Thresholds: an index is repeated")
    return tuple(sorted(out))


def parse_tariff_primary(el: etree._Element) -> TariffPrimary:
    """Read an ``UpdateImportTariffPrimaryElement`` body (the electricity tariff in full)."""
    _only(el, ("ExecutionDateTime", "ElecTariffElements", "GasTariffElements", "PriceElements"))
    which = _one_of(el, ("ElecTariffElements", "GasTariffElements"))
    prices = _primary_prices(child(el, "PriceElements"))
    if local(which) == "GasTariffElements":
        return TariffPrimary(_execution(el), None, prices)
    _only(which, ("CurrencyUnits", "SwitchingTable", "SpecialDays", "ThresholdMatrix"))
    currency = required(which, "CurrencyUnits")
    if currency not in ("GBP", "ECB"):
        raise NotTransformed(f"ElecTariffElements/CurrencyUnits: {currency!r} is not GBP/ECB")
    tariff = ElecTariff(
        currency,
        _switching_table(child(which, "SwitchingTable"), secondary=False),
        _special_days(child(which, "SpecialDays")),
        _thresholds(child(which, "ThresholdMatrix")),
    )
    return TariffPrimary(_execution(el), tariff, prices)


def parse_tariff_secondary(el: etree._Element) -> TariffSecondary:
    """Read an ``UpdateImportTariffSecondaryElement`` body."""
    _only(el, ("ExecutionDateTime", "SwitchingTable", "SpecialDays", "PriceElements"))
    return TariffSecondary(
        _execution(el),
        _switching_table(child(el, "SwitchingTable"), secondary=True),
        _special_days(child(el, "SpecialDays")),
        _secondary_prices(el),
    )


#: The ESME's tariff switching script (its Tariffication Script Table, 0-0:10.0.100.255):
#: the primary element's TOU rate n is script n, the secondary element's rate n is
#: script 200 + n.
_TARIFF_SCRIPT = "0-0:10.0.100.255"
_SECONDARY_SCRIPT_BASE = 200
#: The threshold the ESME's tariff entry writes to each of its 8 block-threshold register
#: monitors (one unused threshold): the only ThresholdMatrix it can carry so far.
_UNUSED_THRESHOLD = 0xFFFFFFFF


def _calendar_args(table: ElecSwitchingTable, base: int) -> dict[str, Any]:
    """The activity calendar's passive seasons, weeks and days (catalogue records)."""
    days = []
    for d in table.day_profiles:
        if any(kind == "block" for _, kind, _ in d.schedule):
            raise NotTransformed(
                "BlockTariffAction: the ESME script GBCS gives a block tariff action is not "
                "in the public material here"
            )
        entries = [
            {"start_time": t, "script_logical_name": _TARIFF_SCRIPT, "script_selector": base + a}
            for t, _, a in d.schedule
        ]
        days.append({"day_id": d.day_name, "day_schedule": entries})
    weekdays = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    weeks = [
        {"week_profile_name": f"{w:02X}", **dict(zip(weekdays, refs, strict=True))}
        for w, refs in table.week_profiles
    ]
    seasons = [
        {
            "season_profile_name": s.name.encode("ascii").hex().upper(),
            "season_start": _season_start(s.start),
            "week_name": f"{s.week_name:02X}",
        }
        for s in table.seasons
    ]
    return {"seasons": seasons, "week_profiles": weeks, "day_profiles": days}


def _season_start(date: str) -> str:
    """A season's start date as the COSEM date-time of its midnight."""
    day, _, weekday = date.partition("[")
    return f"{day}T00:00:00.00" + (f"[{weekday}" if weekday else "")


def _special_args(days: tuple[tuple[str, int], ...]) -> list[dict[str, Any]]:
    return [{"index": i, "specialday_date": d, "day_id": r} for i, (d, r) in enumerate(days, 1)]


def _plan_ecs01a(p: PlanInput) -> Plan:
    body: TariffPrimary = p.body
    if body.tariff is None:
        raise NotTransformed("GasTariffElements do not apply to an ESME")
    calendar = _calendar_args(body.tariff.switching_table, 0)
    thresholds = body.tariff.thresholds
    if len(thresholds) != 8 or any(v != _UNUSED_THRESHOLD for _, _, v in thresholds):
        raise NotTransformed(
            "ThresholdMatrix: block thresholds cannot be carried yet (the ECS01a catalogue "
            "entry writes one unused threshold, 4294967295, per row)"
        )
    args = {
        **calendar,
        "special_days": _special_args(body.tariff.special_days),
        "currency_units": body.tariff.currency_units == "GBP",
        **_price_args(p, body.prices),
    }
    return Plan("ECS01a", _with(args, execution_date_time=_cosem(body.execution_date_time)))


def _plan_ecs01c(p: PlanInput) -> Plan:
    body: TariffSecondary = p.body
    args: dict[str, Any] = {
        **_calendar_args(body.switching_table, _SECONDARY_SCRIPT_BASE),
        "special_days": _special_args(body.special_days),
        "price_scale": body.prices.price_scale,
    }
    args |= {f"tou_price_{i}": v for i, v in body.prices.prices}
    return Plan("ECS01c", _with(args, execution_date_time=_cosem(body.execution_date_time)))


# --- the routes ------------------------------------------------------------------------

ROUTES: tuple[SrvRoute, ...] = (
    SrvRoute(
        "1.1.1", "UpdateImportTariffPrimaryElement", parse_tariff_primary, {"ESME": _plan_ecs01a}
    ),
    SrvRoute(
        "1.1.2",
        "UpdateImportTariffSecondaryElement",
        parse_tariff_secondary,
        {"ESME": _plan_ecs01c},
    ),
    SrvRoute("1.2.1", "UpdatePricePrimaryElement", parse_price_primary, {"ESME": _plan_ecs01b}),
    SrvRoute("1.2.2", "UpdatePriceSecondaryElement", parse_price_secondary, {"ESME": _plan_ecs01d}),
    SrvRoute(
        "1.5",
        "UpdateMeterBalance",
        parse_meter_balance,
        {"ESME": _plan_ecs04, "GSME": _plan_gcs40},
    ),
    SrvRoute(
        "1.6",
        "UpdatePaymentMode",
        parse_payment_mode,
        {"ESME": _plan_esme_payment_mode, "GSME": _plan_gsme_payment_mode},
    ),
    SrvRoute("2.1", "UpdatePrepayConfiguration", parse_prepay_configuration, {"GSME": _plan_gcs05}),
    SrvRoute("2.2", "TopUpDevice", parse_top_up, {"ESME": _plan_cs01a, "GSME": _plan_cs01b}),
    SrvRoute("2.3", "UpdateDebt", parse_update_debt, {"ESME": _plan_ecs07, "GSME": _plan_gcs04}),
)
"""The SRV variants of this module."""

_TARIFF_ID = (
    "carries a ZSE Issuer Tariff ID that the DCC writes (RTDS: 1) and no public rule "
    "derives from the request"
)
NOT_YET: dict[tuple[str, str], str] = {
    ("1.1.1", "GSME"): f"GCS01a {_TARIFF_ID}",
    ("1.2.1", "GSME"): f"GCS01b {_TARIFF_ID}",
    ("2.1", "ESME"): (
        "ECS08 and ECS08a take the same body (GBCS versions of one command); the DCC "
        "picks one by the ESME's GBCS version, which the request does not carry"
    ),
}
"""Pairs of these SRVs not transformed yet, with why."""
