"""Price cluster (0x0700): Publish Price, Block Period, Conversion Factor, Calorific
Value, Tariff Information, Price Matrix, Billing Period and the client requests."""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.zcl.records import (
    _OCT,
    BM8,
    E8,
    U8,
    U16,
    U24,
    U32,
    UTC_T,
    _command,
    _entry,
    _f,
    _list,
    _Record,
)


@_entry
@dataclass(frozen=True, slots=True)
class PriceMatrixEntry:
    """Publish Price Matrix sub-payload entry (tier/block id, price)."""

    tier_block_id: int = _f(U8, "Tier/block ID")
    price: int = _f(U32)


# ---- commands


@_command(0x0700, False, 0x00, "Get Current Price")
@dataclass(frozen=True, slots=True)
class GetCurrentPrice(_Record):
    command_options: int = _f(BM8)
    trailing: bytes = b""


@_command(0x0700, False, 0x0B, "Get Billing Period")
@dataclass(frozen=True, slots=True)
class GetBillingPeriod(_Record):
    earliest_start_time: int = _f(UTC_T)
    min_issuer_event_id: int = _f(U32, "Min. issuer event ID")
    number_of_commands: int = _f(U8)
    tariff_type: int = _f(BM8)
    trailing: bytes = b""


@_command(0x0700, True, 0x00, "Publish Price")
@dataclass(frozen=True, slots=True)
class PublishPrice(_Record):
    provider_id: int = _f(U32)
    rate_label: bytes | None = _f(_OCT)
    issuer_event_id: int = _f(U32)
    current_time: int = _f(UTC_T)
    unit_of_measure: int = _f(E8)
    currency: int = _f(U16)
    price_trailing_digit_and_price_tier: int = _f(BM8)
    number_of_price_tiers_and_register_tier: int = _f(BM8)
    start_time: int = _f(UTC_T)
    duration_in_minutes: int = _f(U16)
    price: int = _f(U32)
    trailing: bytes = b""


@_command(0x0700, True, 0x01, "Publish Block Period")
@dataclass(frozen=True, slots=True)
class PublishBlockPeriod(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    block_period_start_time: int = _f(UTC_T)
    block_period_duration: int = _f(U24)
    block_period_control: int = _f(BM8)
    block_period_duration_type: int = _f(BM8)
    tariff_type: int = _f(BM8)
    tariff_resolution_period: int = _f(E8)
    trailing: bytes = b""


@_command(0x0700, True, 0x02, "Publish Conversion Factor")
@dataclass(frozen=True, slots=True)
class PublishConversionFactor(_Record):
    issuer_event_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    conversion_factor: int = _f(U32)
    conversion_factor_trailing_digit: int = _f(BM8)
    trailing: bytes = b""


@_command(0x0700, True, 0x03, "Publish Calorific Value")
@dataclass(frozen=True, slots=True)
class PublishCalorificValue(_Record):
    issuer_event_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    calorific_value: int = _f(U32)
    calorific_value_unit: int = _f(E8)
    calorific_value_trailing_digit: int = _f(BM8)
    trailing: bytes = b""


@_command(0x0700, True, 0x04, "Publish Tariff Information")
@dataclass(frozen=True, slots=True)
class PublishTariffInformation(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_tariff_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    tariff_type_charging_scheme: int = _f(BM8, "Tariff type / charging scheme")
    tariff_label: bytes | None = _f(_OCT)
    number_of_price_tiers_in_use: int = _f(U8)
    number_of_block_thresholds_in_use: int = _f(U8)
    unit_of_measure: int = _f(E8)
    currency: int = _f(U16)
    price_trailing_digit: int = _f(BM8)
    standing_charge: int = _f(U32)
    tier_block_mode: int = _f(U8)
    block_threshold_multiplier: int = _f(U24)
    block_threshold_divisor: int = _f(U24)
    trailing: bytes = b""


@_command(0x0700, True, 0x05, "Publish Price Matrix")
@dataclass(frozen=True, slots=True)
class PublishPriceMatrix(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    issuer_tariff_id: int = _f(U32)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    sub_payload_control: int = _f(BM8)
    entries: tuple[PriceMatrixEntry, ...] = _list(PriceMatrixEntry)
    trailing: bytes = b""


@_command(0x0700, True, 0x09, "Publish Billing Period")
@dataclass(frozen=True, slots=True)
class PublishBillingPeriod(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    billing_period_start_time: int = _f(UTC_T)
    billing_period_duration: int = _f(U24)
    billing_period_duration_type: int = _f(BM8)
    tariff_type: int = _f(BM8)
    trailing: bytes = b""
