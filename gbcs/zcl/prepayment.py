"""Prepayment cluster (0x0705): credit, debt and payment-mode commands, top-up and
debt logs, prepay snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from gbcs.zcl.records import (
    _OCT,
    BM8,
    BM16,
    BM32,
    E8,
    S32,
    U8,
    U16,
    U32,
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
class TopUpLogEntry:
    """Publish Top Up Log entry."""

    top_up_code: bytes | None = _f(_OCT)
    top_up_amount: int = _f(S32)
    top_up_time: int = _f(UTC_T)


@_entry
@dataclass(frozen=True, slots=True)
class DebtLogEntry:
    """Publish Debt Log entry."""

    collection_time: int = _f(UTC_T)
    amount_collected: int = _f(U32)
    debt_type: int = _f(E8)
    outstanding_debt: int = _f(U32)


@_entry
@dataclass(frozen=True, slots=True)
class DebtCreditStatus:
    """Prepayment snapshot payload type 0: debt/credit status."""

    TITLE: ClassVar[str] = "Debt/Credit Status"

    accumulated_debt: int = _f(S32)
    type1_debt_remaining: int = _f(U32, "Type 1 debt remaining")
    type2_debt_remaining: int = _f(U32, "Type 2 debt remaining")
    type3_debt_remaining: int = _f(U32, "Type 3 debt remaining")
    emergency_credit_remaining: int = _f(S32)
    credit_remaining: int = _f(S32)


_PREPAY_SNAPSHOTS = {0: DebtCreditStatus}
_PREPAY_SUB = _SubPayload("snapshot_payload_type", _PREPAY_SNAPSHOTS)


# ---- commands


@_command(0x0705, False, 0x00, "Select Available Emergency Credit")
@dataclass(frozen=True, slots=True)
class SelectAvailableEmergencyCredit(_Record):
    command_issue_date_time: int = _f(UTC_T)
    originating_device: int = _f(E8)
    trailing: bytes = b""


@_command(0x0705, False, 0x02, "Change Debt")
@dataclass(frozen=True, slots=True)
class ChangeDebt(_Record):
    issuer_event_id: int = _f(U32)
    debt_label: bytes | None = _f(_OCT)
    debt_amount: int = _f(S32)
    debt_recovery_method: int = _f(E8)
    debt_amount_type: int = _f(E8)
    debt_recovery_start_time: int = _f(UTC_T)
    debt_recovery_collection_time: int = _f(U16)
    debt_recovery_frequency: int = _f(E8)
    debt_recovery_amount: int = _f(S32)
    debt_recovery_balance_percentage: int = _f(U16)
    trailing: bytes = b""


@_command(0x0705, False, 0x03, "Emergency Credit Setup")
@dataclass(frozen=True, slots=True)
class EmergencyCreditSetup(_Record):
    issuer_event_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    emergency_credit_limit: int = _f(U32)
    emergency_credit_threshold: int = _f(U32)
    trailing: bytes = b""


@_command(0x0705, False, 0x04, "Consumer Top Up")
@dataclass(frozen=True, slots=True)
class ConsumerTopUp(_Record):
    originating_device: int = _f(E8)
    top_up_code: bytes | None = _f(_OCT)
    trailing: bytes = b""


@_command(0x0705, False, 0x05, "Credit Adjustment")
@dataclass(frozen=True, slots=True)
class CreditAdjustment(_Record):
    issuer_event_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    credit_adjustment_type: int = _f(E8)
    credit_adjustment_value: int = _f(S32)
    trailing: bytes = b""


@_command(0x0705, False, 0x06, "Change Payment Mode")
@dataclass(frozen=True, slots=True)
class ChangePaymentMode(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    implementation_date_time: int = _f(UTC_T)
    proposed_payment_control_configuration: int = _f(BM16)
    cut_off_value: int = _f(S32)
    trailing: bytes = b""


@_command(0x0705, False, 0x07, "Get Prepay Snapshot")
@dataclass(frozen=True, slots=True)
class GetPrepaySnapshot(_Record):
    earliest_start_time: int = _f(UTC_T)
    latest_end_time: int = _f(UTC_T)
    snapshot_offset: int = _f(U8)
    snapshot_cause: int = _f(BM32)
    trailing: bytes = b""


@_command(0x0705, False, 0x08, "Get Top Up Log")
@dataclass(frozen=True, slots=True)
class GetTopUpLog(_Record):
    latest_end_time: int = _f(UTC_T)
    number_of_records: int = _f(U8)
    trailing: bytes = b""


@_command(0x0705, False, 0x09, "Set Low Credit Warning Level")
@dataclass(frozen=True, slots=True)
class SetLowCreditWarningLevel(_Record):
    low_credit_warning_level: int = _f(U32)
    trailing: bytes = b""


@_command(0x0705, False, 0x0A, "Get Debt Repayment Log")
@dataclass(frozen=True, slots=True)
class GetDebtRepaymentLog(_Record):
    latest_end_time: int = _f(UTC_T)
    number_of_debts: int = _f(U8)
    debt_type: int = _f(E8)
    trailing: bytes = b""


@_command(0x0705, False, 0x0B, "Set Maximum Credit Limit")
@dataclass(frozen=True, slots=True)
class SetMaximumCreditLimit(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    implementation_date_time: int = _f(UTC_T)
    maximum_credit_level: int = _f(U32)
    maximum_credit_per_top_up: int = _f(U32)
    trailing: bytes = b""


@_command(0x0705, False, 0x0C, "Set Overall Debt Cap")
@dataclass(frozen=True, slots=True)
class SetOverallDebtCap(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    implementation_date_time: int = _f(UTC_T)
    overall_debt_cap: int = _f(S32)
    trailing: bytes = b""


@_command(0x0705, True, 0x01, "Publish Prepay Snapshot")
@dataclass(frozen=True, slots=True)
class PublishPrepaySnapshot(_Record):
    """``snapshot_payload`` is typed for payload type 0 (debt/credit status), raw
    ``bytes`` otherwise (or when it does not parse exactly)."""

    snapshot_id: int = _f(U32)
    snapshot_time: int = _f(UTC_T)
    total_snapshots_found: int = _f(U8)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    snapshot_cause: int = _f(BM32)
    snapshot_payload_type: int = _f(E8)
    snapshot_payload: bytes | DebtCreditStatus = field(metadata={"zcl": _PREPAY_SUB, "title": None})


@_command(0x0705, True, 0x02, "Change Payment Mode Response")
@dataclass(frozen=True, slots=True)
class ChangePaymentModeResponse(_Record):
    friendly_credit: int = _f(BM8)
    friendly_credit_calendar_id: int = _f(U32)
    emergency_credit_limit: int = _f(U32)
    emergency_credit_threshold: int = _f(U32)
    trailing: bytes = b""


@_command(0x0705, True, 0x03, "Consumer Top Up Response")
@dataclass(frozen=True, slots=True)
class ConsumerTopUpResponse(_Record):
    result_type: int = _f(E8)
    top_up_value: int = _f(S32)
    source_of_top_up: int = _f(E8)
    credit_remaining: int = _f(S32)
    trailing: bytes = b""


@_command(0x0705, True, 0x05, "Publish Top Up Log")
@dataclass(frozen=True, slots=True)
class PublishTopUpLog(_Record):
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    entries: tuple[TopUpLogEntry, ...] = _list(TopUpLogEntry)
    trailing: bytes = b""


@_command(0x0705, True, 0x06, "Publish Debt Log")
@dataclass(frozen=True, slots=True)
class PublishDebtLog(_Record):
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    entries: tuple[DebtLogEntry, ...] = _list(DebtLogEntry)
    trailing: bytes = b""
