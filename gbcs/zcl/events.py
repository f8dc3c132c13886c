"""Events cluster (0x0709): event logs."""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.zcl.records import (
    _EVENT_ID,
    _OCT,
    BM8,
    E8,
    U8,
    U16,
    UTC_T,
    _command,
    _entry,
    _f,
    _list,
    _Record,
)


@_entry
@dataclass(frozen=True, slots=True)
class EventLogEntry:
    """Publish Event Log entry."""

    log_id: int = _f(E8, "Log ID")
    event_id: int = _f(_EVENT_ID, "Event ID")
    event_time: int = _f(UTC_T)
    event_data: bytes | None = _f(_OCT)


# ---- commands


@_command(0x0709, False, 0x00, "Get Event Log")
@dataclass(frozen=True, slots=True)
class GetEventLog(_Record):
    event_control_log_id: int = _f(BM8, "Event control / log ID")
    event_id: int = _f(_EVENT_ID, "Event ID")
    start_time: int = _f(UTC_T)
    end_time: int = _f(UTC_T)
    number_of_events: int = _f(U8)
    event_offset: int = _f(U16)
    trailing: bytes = b""


@_command(0x0709, False, 0x01, "Clear Event Log Request")
@dataclass(frozen=True, slots=True)
class ClearEventLogRequest(_Record):
    log_id: int = _f(BM8, "Log ID")
    trailing: bytes = b""


@_command(0x0709, True, 0x01, "Publish Event Log")
@dataclass(frozen=True, slots=True)
class PublishEventLog(_Record):
    total_number_of_events: int = _f(U16)
    command_index: int = _f(U8)
    total_commands: int = _f(U8)
    log_payload_control: int = _f(BM8)
    entries: tuple[EventLogEntry, ...] = _list(EventLogEntry)
    trailing: bytes = b""


@_command(0x0709, True, 0x02, "Clear Event Log Response")
@dataclass(frozen=True, slots=True)
class ClearEventLogResponse(_Record):
    cleared_event_logs: int = _f(BM8)
    trailing: bytes = b""
