"""Metering cluster (0x0702): snapshots and their typed sub-payloads, sampling, supply
control."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gbcs.zcl.records import (
    BM8,
    BM32,
    E8,
    U8,
    U16,
    U24,
    U32,
    U48,
    UTC_T,
    _command,
    _entry,
    _f,
    _list,
    _Record,
    _SubPayload,
)


@_entry
@dataclass(frozen=True, slots=True)
class TouDeliveredNoBilling:
    """Metering snapshot payload type 4: TOU information set delivered (no billing)."""

    TITLE: ClassVar[str] = "TOU Information Set Delivered Registers (No Billing)"

    current_summation_delivered: int = _f(U48)
    tier_summations_delivered: tuple[int, ...] = _list(U48, U8)


@_entry
@dataclass(frozen=True, slots=True)
class BlockTierDeliveredNoBilling:
    """Metering snapshot payload type 6: block tier information set delivered (no
    billing). The block counters run to the end of the payload."""

    TITLE: ClassVar[str] = "Block Tier Information Set Delivered Registers (No Billing)"

    current_summation_delivered: int = _f(U48)
    tier_summations_delivered: tuple[int, ...] = _list(U48, U8)
    number_of_tiers_and_block_thresholds_in_use: int = _f(BM8)
    tier_block_summations_delivered: tuple[int, ...] = _list(U48)


_METERING_SNAPSHOTS = {4: TouDeliveredNoBilling, 6: BlockTierDeliveredNoBilling}
_METERING_SUB = _SubPayload("snapshot_payload_type", _METERING_SNAPSHOTS)


# ---- commands


@_command(0x0702, False, 0x06, "Get Snapshot")
@dataclass(frozen=True, slots=True)
class GetSnapshot(_Record):
    earliest_start_time: int = _f(UTC_T)
    latest_end_time: int = _f(UTC_T)
    snapshot_offset: int = _f(U8)
    snapshot_cause: int = _f(BM32)
    trailing: bytes = b""


@_command(0x0702, False, 0x07, "Start Sampling")
@dataclass(frozen=True, slots=True)
class StartSampling(_Record):
    issuer_event_id: int = _f(U32)
    start_sampling_time: int = _f(UTC_T)
    sample_type: int = _f(E8)
    sample_request_interval: int = _f(U16)
    max_number_of_samples: int = _f(U16)
    trailing: bytes = b""


@_command(0x0702, False, 0x08, "Get Sampled Data")
@dataclass(frozen=True, slots=True)
class GetSampledData(_Record):
    sample_id: int = _f(U16)
    earliest_sample_time: int = _f(UTC_T)
    sample_type: int = _f(E8)
    number_of_samples: int = _f(U16)
    trailing: bytes = b""


@_command(0x0702, False, 0x0B, "Change Supply")
@dataclass(frozen=True, slots=True)
class ChangeSupply(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    request_date_time: int = _f(UTC_T)
    implementation_date_time: int = _f(UTC_T)
    proposed_supply_status: int = _f(E8)
    supply_control_bits: int = _f(BM8)
    trailing: bytes = b""


@_command(0x0702, False, 0x0D, "Set Supply Status")
@dataclass(frozen=True, slots=True)
class SetSupplyStatus(_Record):
    issuer_event_id: int = _f(U32)
    supply_tamper_state: int = _f(E8)
    supply_depletion_state: int = _f(E8)
    supply_uncontrolled_flow_state: int = _f(E8)
    load_limit_supply_state: int = _f(E8)
    trailing: bytes = b""


@_command(0x0702, False, 0x0E, "Set Uncontrolled Flow Threshold")
@dataclass(frozen=True, slots=True)
class SetUncontrolledFlowThreshold(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    uncontrolled_flow_threshold: int = _f(U16)
    unit_of_measure: int = _f(E8)
    multiplier: int = _f(U16)
    divisor: int = _f(U16)
    stabilisation_period: int = _f(U8)
    measurement_period: int = _f(U16)
    trailing: bytes = b""


@_command(0x0702, True, 0x06, "Publish Snapshot")
@dataclass(frozen=True, slots=True)
class PublishSnapshot(_Record):
    """``snapshot_payload`` is typed for payload types 4 and 6, raw ``bytes`` otherwise
    (or when it does not parse exactly)."""

    snapshot_id: int = _f(U32)
    snapshot_time: int = _f(UTC_T)
    total_snapshots_found: int = _f(U8)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    snapshot_cause: int = _f(BM32)
    snapshot_payload_type: int = _f(E8)
    snapshot_payload: bytes | TouDeliveredNoBilling | BlockTierDeliveredNoBilling = field(
        metadata={"zcl": _METERING_SUB, "title": None}
    )


@_command(0x0702, True, 0x07, "Get Sampled Data Response")
@dataclass(frozen=True, slots=True)
class GetSampledDataResponse(_Record):
    sample_id: int = _f(U16)
    sample_start_time: int = _f(UTC_T)
    sample_type: int = _f(E8)
    sample_request_interval: int = _f(U16)
    samples: tuple[int, ...] = _list(U24, U16)
    trailing: bytes = b""


@_command(0x0702, True, 0x0C, "Supply Status Response")
@dataclass(frozen=True, slots=True)
class SupplyStatusResponse(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    implementation_date_time: int = _f(UTC_T)
    supply_status: int = _f(E8)
    trailing: bytes = b""


@_command(0x0702, True, 0x0D, "Start Sampling Response")
@dataclass(frozen=True, slots=True)
class StartSamplingResponse(_Record):
    sample_id: int = _f(U16)
    trailing: bytes = b""
