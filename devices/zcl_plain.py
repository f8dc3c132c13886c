"""The GSME/GPF commands that are plain writes or reads of the ZCL model, as data.

A *plain write* (:class:`PlainWrite`) copies fields of the command, unchanged, into
attributes of one cluster of the :class:`~devices.zcl_model.ZclModel` (all or none, through
:meth:`ZclModel.store_many`, so a value that does not fit the attribute's type -> 0x87
INVALID_VALUE and a bound setter's refusal -> its status, with nothing changed), then keeps
the command itself as a record under its key (``ZclModel.records``) and answers Default
Response SUCCESS. Attributes the device's profile lacks are skipped, as a meter without
that attribute would. A row with no attributes only keeps the record.

A *plain read* (:class:`PlainRead`) answers with the records kept under its keys, in
order, or Default Response 0x8B NOT_FOUND when none is kept.

:func:`write_plain` and :func:`read_plain` are the two generic handlers
:mod:`devices.gbz_engine` dispatches every row's command to. :func:`check_table` checks the
rows against the command classes of :mod:`gbcs.zcl` and the packaged GSME and GPF profiles.

No plain row transforms a value: every one stores a command field as it is. Commands
whose values are computed (incremental debt amounts, price ids from tier/block, Credit
Status bits, Change Supply's range check and response) stay code in
:mod:`devices.gbz_engine`, with calendars, prices, event logs, snapshots, top-ups, supply
changes and future dating.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from gbcs.zcl import (
    DisplayMessage,
    EmergencyCreditSetup,
    GetBillingPeriod,
    PublishBillingPeriod,
    PublishBlockPeriod,
    PublishCalorificValue,
    PublishChangeOfSupplier,
    PublishChangeOfTenancy,
    PublishConversionFactor,
    PublishTariffInformation,
    RequestNewPasswordResponse,
    SetLowCreditWarningLevel,
    SetMaximumCreditLimit,
    SetOverallDebtCap,
    SetSupplyStatus,
    SetUncontrolledFlowThreshold,
    UpdateCin,
    UpdateSiteId,
    ZclCommand,
    cluster_name,
    typed_commands,
)

from .zcl_model import (
    CUSTOMER_ID_NUMBER,
    METERING,
    PREPAYMENT,
    PRICE,
    SITE_ID,
    ZclModel,
    load_profile,
)

__all__ = [
    "READS",
    "READ_ROWS",
    "REFERENCE_PROFILES",
    "WRITES",
    "WRITE_ROWS",
    "PlainRead",
    "PlainTableError",
    "PlainWrite",
    "check_table",
    "read_plain",
    "write_plain",
]

_SUCCESS = 0x00
_NOT_FOUND = 0x8B

REFERENCE_PROFILES: tuple[str, ...] = ("gsme", "gpf")
"""The packaged ZCL profiles whose clusters :func:`check_table` checks attributes against."""


class PlainTableError(ValueError):
    """A row of the plain table is inconsistent (one line naming the row and the problem)."""


@dataclass(frozen=True, slots=True)
class PlainWrite:
    """A command stored as attributes of ``cluster`` plus a record under ``record``.

    ``attributes`` maps attribute id -> command field name, in the order the values are
    stored (a bound setter sees them in that order). ``cluster`` is None only for a row
    with no attributes. ``use_cases`` names the GBCS use cases (RTDS) that send it.
    """

    command: type[ZclCommand]
    cluster: int | None
    attributes: Mapping[int, str]
    record: str
    use_cases: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))

    def describe(self) -> str:
        """One line: the ZSE command, the attributes it sets, its record and use cases."""
        head = f"ZSE {self.command.NAME} ({self.use_cases})"
        if self.cluster is None:
            return f"{head}: record {self.record!r}"
        attrs = ", ".join(f"0x{a:04X}={f}" for a, f in self.attributes.items())
        return f"{head}: {cluster_name(self.cluster)} {attrs}; record {self.record!r}"


@dataclass(frozen=True, slots=True)
class PlainRead:
    """A Get answered with the records kept under ``records`` (NOT_FOUND when none)."""

    command: type[ZclCommand]
    records: tuple[str, ...]
    use_cases: str

    def describe(self) -> str:
        """One line: the ZSE command, the records it answers with and its use cases."""
        keys = ", ".join(repr(k) for k in self.records)
        return f"ZSE {self.command.NAME} ({self.use_cases}): answers record {keys}"


# --------------------------------------------------------------------------- the table

WRITE_ROWS: tuple[PlainWrite, ...] = (
    # Price (0x0700)
    PlainWrite(
        PublishTariffInformation,
        PRICE,
        {
            0x0610: "tariff_label",
            0x0611: "number_of_price_tiers_in_use",
            0x0612: "number_of_block_thresholds_in_use",
            0x0613: "tier_block_mode",
            0x0615: "unit_of_measure",
            0x0616: "currency",
            0x0617: "price_trailing_digit",
            0x0301: "standing_charge",
            0x0202: "block_threshold_multiplier",
            0x0203: "block_threshold_divisor",
        },
        "tariff_information",
        "GCS01a Set Tariff and Price, GCS01b Set Price",
    ),
    PlainWrite(
        PublishConversionFactor,
        PRICE,
        {0x0302: "conversion_factor", 0x0303: "conversion_factor_trailing_digit"},
        "conversion_factor",
        "GCS23 Set CV and Conversion Factor",
    ),
    PlainWrite(
        PublishCalorificValue,
        PRICE,
        {
            0x0304: "calorific_value",
            0x0305: "calorific_value_unit",
            0x0306: "calorific_value_trailing_digit",
        },
        "calorific_value",
        "GCS23 Set CV and Conversion Factor",
    ),
    PlainWrite(
        PublishBlockPeriod,
        PRICE,
        {
            0x0200: "block_period_start_time",
            0x0201: "block_period_duration",
            0x0204: "block_period_duration_type",
        },
        "block_period",
        "GCS25/GCS25a Set Billing Calendar",
    ),
    PlainWrite(
        PublishBillingPeriod, None, {}, "billing_period", "GCS25/GCS25a Set Billing Calendar"
    ),
    # Messaging (0x0703)
    PlainWrite(DisplayMessage, None, {}, "message", "GCS07 Send Message"),
    # Device Management (0x0708)
    PlainWrite(
        PublishChangeOfTenancy, None, {}, "change_of_tenancy", "GCS09 Set Change of Tenancy"
    ),
    PlainWrite(
        PublishChangeOfSupplier, None, {}, "change_of_supplier", "GCS44 Write Contact Details"
    ),
    PlainWrite(
        RequestNewPasswordResponse, None, {}, "password", "GCS11 Disable Privacy PIN Protection"
    ),
    PlainWrite(UpdateSiteId, METERING, {SITE_ID: "site_id"}, "site_id", "GCS41 Set MPRN"),
    PlainWrite(
        UpdateCin, METERING, {CUSTOMER_ID_NUMBER: "customer_id_number"}, "cin", "GCS36 Send CIN"
    ),
    # Metering (0x0702)
    PlainWrite(
        SetSupplyStatus,
        METERING,
        {
            0x0607: "supply_tamper_state",
            0x0608: "supply_depletion_state",
            0x0609: "supply_uncontrolled_flow_state",
            0x0605: "load_limit_supply_state",
        },
        "supply_status",
        "GCS24/GCS24a Set Uncontrolled Gas Flow Rate and Supply Tamper State",
    ),
    PlainWrite(
        SetUncontrolledFlowThreshold,
        METERING,
        {
            0x0B10: "uncontrolled_flow_threshold",
            0x0B11: "unit_of_measure",
            0x0B12: "multiplier",
            0x0B13: "divisor",
            0x0B14: "stabilisation_period",
            0x0B15: "measurement_period",
        },
        "uncontrolled_flow_threshold",
        "GCS24/GCS24a Set Uncontrolled Gas Flow Rate and Supply Tamper State",
    ),
    # Prepayment (0x0705)
    PlainWrite(
        EmergencyCreditSetup,
        PREPAYMENT,
        {0x0010: "emergency_credit_limit", 0x0011: "emergency_credit_threshold"},
        "emergency_credit_setup",
        "GCS05 Update Prepayment Configurations",
    ),
    PlainWrite(
        SetLowCreditWarningLevel,
        PREPAYMENT,
        {0x0031: "low_credit_warning_level"},
        "low_credit_warning",
        "GCS05 Update Prepayment Configurations",
    ),
    PlainWrite(
        SetMaximumCreditLimit,
        PREPAYMENT,
        {0x0021: "maximum_credit_level", 0x0022: "maximum_credit_per_top_up"},
        "maximum_credit_limit",
        "GCS05 Update Prepayment Configurations",
    ),
    PlainWrite(
        SetOverallDebtCap,
        PREPAYMENT,
        {0x0006: "overall_debt_cap"},
        "overall_debt_cap",
        "GCS05 Update Prepayment Configurations",
    ),
)
"""Every plain write, by cluster of the command (see each row's :meth:`PlainWrite.describe`)."""

READ_ROWS: tuple[PlainRead, ...] = (
    PlainRead(
        GetBillingPeriod,
        ("billing_period",),
        "GCS21d/GCS21k Read GSME Configuration Data (Billing Calendar)",
    ),
)
"""Every plain read."""


def _index(rows: Iterable[PlainWrite | PlainRead]) -> dict[type, Any]:
    out: dict[type, Any] = {}
    for row in rows:
        if row.command in out:
            raise PlainTableError(f"{row.command.__name__}: described by two rows")
        out[row.command] = row
    return out


WRITES: Mapping[type, PlainWrite] = MappingProxyType(_index(WRITE_ROWS))
"""Command class -> its :class:`PlainWrite` row."""

READS: Mapping[type, PlainRead] = MappingProxyType(_index(READ_ROWS))
"""Command class -> its :class:`PlainRead` row."""


# --------------------------------------------------------------------------- handlers


def write_plain(model: ZclModel, body: ZclCommand, row: PlainWrite | None = None) -> int:
    """Execute a plain write (``row``, by default the row of ``body``'s class); returns the
    ZCL status (0 = stored). On a non-zero status the model is unchanged."""
    if row is None:
        row = WRITES[type(body)]
    if row.cluster is not None:
        values = {
            a: getattr(body, f)
            for a, f in row.attributes.items()
            if model.attribute(row.cluster, a) is not None
        }
        st = model.store_many(row.cluster, values)
        if st:
            return st
    model.records[row.record] = body
    return _SUCCESS


def read_plain(
    model: ZclModel, body: ZclCommand, row: PlainRead | None = None
) -> list[ZclCommand] | int:
    """Answer a plain read (``row``, by default the row of ``body``'s class): the kept
    records, or 0x8B NOT_FOUND when none is kept."""
    if row is None:
        row = READS[type(body)]
    found = [model.records[k] for k in row.records if k in model.records]
    return found or _NOT_FOUND


# --------------------------------------------------------------------------- checks


def check_table(
    writes: Sequence[PlainWrite] = WRITE_ROWS,
    reads: Sequence[PlainRead] = READ_ROWS,
    profiles: Sequence[ZclModel] | None = None,
) -> None:
    """Refuse (:class:`PlainTableError`) a table where a command is not a typed ZCL
    command of :mod:`gbcs.zcl` or is described twice, a field is not one of its command's
    fields, an attribute is not declared in that cluster by any of ``profiles`` (default:
    the packaged :data:`REFERENCE_PROFILES`), a record key is kept by two writes, or a
    read answers a record no write keeps."""
    models = [load_profile(p) for p in REFERENCE_PROFILES] if profiles is None else list(profiles)
    typed = set(typed_commands().values())
    _index([*writes, *reads])
    kept: dict[str, str] = {}
    for w in writes:
        name = w.command.__name__
        if w.command not in typed:
            raise PlainTableError(f"{name}: not a typed ZCL command of gbcs.zcl")
        if not w.record:
            raise PlainTableError(f"{name}: empty record key")
        if w.record in kept:
            raise PlainTableError(
                f"{name}: record {w.record!r} is already kept by {kept[w.record]}"
            )
        kept[w.record] = name
        if (w.cluster is None) != (not w.attributes):
            raise PlainTableError(f"{name}: a cluster is needed exactly when attributes are set")
        fields = {f.name for f in dataclasses.fields(w.command)}  # type: ignore[arg-type]
        for aid, fname in w.attributes.items():
            if fname not in fields:
                raise PlainTableError(
                    f"{name}: no field {fname!r} (fields: {', '.join(sorted(fields))})"
                )
            assert w.cluster is not None
            if not any(m.attribute(w.cluster, aid) is not None for m in models):
                raise PlainTableError(
                    f"{name}: attribute 0x{aid:04X} is not in cluster "
                    f"{cluster_name(w.cluster)} of any profile "
                    f"({', '.join(m.profile or '?' for m in models)})"
                )
    for r in reads:
        name = r.command.__name__
        if r.command not in typed:
            raise PlainTableError(f"{name}: not a typed ZCL command of gbcs.zcl")
        if not r.records:
            raise PlainTableError(f"{name}: answers no record")
        for key in r.records:
            if key not in kept:
                raise PlainTableError(f"{name}: no plain write keeps record {key!r}")
