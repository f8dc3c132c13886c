"""Device Management cluster (0x0708): change of tenancy and supplier, site id, CIN,
passwords, event configuration."""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.zcl.records import (
    _EVENT_ID,
    _OCT,
    BM8,
    BM32,
    E8,
    U8,
    U16,
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
class EventConfigurationEntry:
    """Report Event Configuration entry."""

    event_id: int = _f(_EVENT_ID, "Event ID")
    event_configuration: int = _f(BM8)


# ---- commands


@_command(0x0708, False, 0x04, "Report Event Configuration")
@dataclass(frozen=True, slots=True)
class ReportEventConfiguration(_Record):
    command_index: int = _f(U8)
    total_commands: int = _f(U8)
    entries: tuple[EventConfigurationEntry, ...] = _list(EventConfigurationEntry)
    trailing: bytes = b""


@_command(0x0708, True, 0x00, "Publish Change of Tenancy")
@dataclass(frozen=True, slots=True)
class PublishChangeOfTenancy(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    tariff_type: int = _f(BM8)
    implementation_date_time: int = _f(UTC_T)
    proposed_tenancy_change_control: int = _f(BM32)
    trailing: bytes = b""


@_command(0x0708, True, 0x01, "Publish Change of Supplier")
@dataclass(frozen=True, slots=True)
class PublishChangeOfSupplier(_Record):
    current_provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    tariff_type: int = _f(BM8)
    proposed_provider_id: int = _f(U32)
    provider_change_implementation_time: int = _f(UTC_T)
    provider_change_control: int = _f(BM32)
    proposed_provider_name: bytes | None = _f(_OCT)
    proposed_provider_contact_details: bytes | None = _f(_OCT)
    trailing: bytes = b""


@_command(0x0708, True, 0x02, "Request New Password Response")
@dataclass(frozen=True, slots=True)
class RequestNewPasswordResponse(_Record):
    issuer_event_id: int = _f(U32)
    implementation_date_time: int = _f(UTC_T)
    duration_in_minutes: int = _f(U16)
    password_type: int = _f(E8)
    password: bytes | None = _f(_OCT)
    trailing: bytes = b""


@_command(0x0708, True, 0x03, "Update Site ID")
@dataclass(frozen=True, slots=True)
class UpdateSiteId(_Record):
    issuer_event_id: int = _f(U32)
    site_id_time: int = _f(UTC_T)
    provider_id: int = _f(U32)
    site_id: bytes | None = _f(_OCT)
    trailing: bytes = b""


@_command(0x0708, True, 0x04, "Set Event Configuration")
@dataclass(frozen=True, slots=True)
class SetEventConfiguration(_Record):
    """Configuration control 0 (apply by list) carries the event id list; other
    controls' payloads land in ``trailing`` with ``event_ids`` empty."""

    issuer_event_id: int = _f(U32)
    start_date_time: int = _f(UTC_T)
    event_configuration: int = _f(BM8)
    configuration_control: int = _f(E8)
    event_ids: tuple[int, ...] = _list(_EVENT_ID, U8, "Event IDs")
    trailing: bytes = b""


@_command(0x0708, True, 0x05, "Get Event Configuration")
@dataclass(frozen=True, slots=True)
class GetEventConfiguration(_Record):
    event_id: int = _f(_EVENT_ID, "Event ID")
    trailing: bytes = b""


@_command(0x0708, True, 0x06, "Update CIN")
@dataclass(frozen=True, slots=True)
class UpdateCin(_Record):
    issuer_event_id: int = _f(U32)
    cin_implementation_time: int = _f(UTC_T, "CIN implementation time")
    provider_id: int = _f(U32)
    customer_id_number: bytes | None = _f(_OCT)
    trailing: bytes = b""
