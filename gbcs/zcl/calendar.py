"""Calendar cluster (0x0707): calendars, day and week profiles, seasons, special days."""

from __future__ import annotations

from dataclasses import dataclass, field

from gbcs.zcl.datatypes import ZclDate
from gbcs.zcl.records import (
    _OCT,
    DATE,
    DAYS7,
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
class DayScheduleEntry:
    """Publish Day Profile schedule entry: minutes from midnight, price tier (or
    friendly-credit enable / auxiliary switch state, by calendar type)."""

    start_time: int = _f(U16, "Start time (minutes from midnight)")
    value: int = _f(U8, "Price tier / state")


@_entry
@dataclass(frozen=True, slots=True)
class SeasonEntry:
    """Publish Seasons entry."""

    season_start_date: ZclDate = field(metadata={"zcl": DATE, "title": None})
    week_id_ref: int = _f(U8, "Week ID ref")


@_entry
@dataclass(frozen=True, slots=True)
class SpecialDayEntry:
    """Publish Special Days entry."""

    special_day_date: ZclDate = field(metadata={"zcl": DATE, "title": None})
    day_id_ref: int = _f(U8, "Day ID ref")


# ---- commands


@_command(0x0707, False, 0x01, "Get Day Profiles")
@dataclass(frozen=True, slots=True)
class GetDayProfiles(_Record):
    provider_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    start_day_id: int = _f(U8)
    number_of_days: int = _f(U8)
    trailing: bytes = b""


@_command(0x0707, False, 0x02, "Get Week Profiles")
@dataclass(frozen=True, slots=True)
class GetWeekProfiles(_Record):
    provider_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    start_week_id: int = _f(U8)
    number_of_weeks: int = _f(U8)
    trailing: bytes = b""


@_command(0x0707, False, 0x03, "Get Seasons")
@dataclass(frozen=True, slots=True)
class GetSeasons(_Record):
    provider_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    trailing: bytes = b""


@_command(0x0707, False, 0x04, "Get Special Days")
@dataclass(frozen=True, slots=True)
class GetSpecialDays(_Record):
    start_time: int = _f(UTC_T)
    number_of_events: int = _f(U8)
    calendar_type: int = _f(E8)
    provider_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    trailing: bytes = b""


@_command(0x0707, True, 0x00, "Publish Calendar")
@dataclass(frozen=True, slots=True)
class PublishCalendar(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    calendar_type: int = _f(E8)
    calendar_time_reference: int = _f(U8)
    calendar_name: bytes | None = _f(_OCT)
    number_of_seasons: int = _f(U8)
    number_of_week_profiles: int = _f(U8)
    number_of_day_profiles: int = _f(U8)
    trailing: bytes = b""


@_command(0x0707, True, 0x01, "Publish Day Profile")
@dataclass(frozen=True, slots=True)
class PublishDayProfile(_Record):
    """``total_number_of_schedule_entries`` counts entries across all commands of the
    profile, so it is a field, not derived from ``entries``."""

    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    day_id: int = _f(U8)
    total_number_of_schedule_entries: int = _f(U8)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    calendar_type: int = _f(E8)
    entries: tuple[DayScheduleEntry, ...] = _list(DayScheduleEntry)
    trailing: bytes = b""


@_command(0x0707, True, 0x02, "Publish Week Profile")
@dataclass(frozen=True, slots=True)
class PublishWeekProfile(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    week_id: int = _f(U8)
    day_id_refs: tuple[int, ...] = _f(DAYS7, "Day ID refs (Monday to Sunday)")
    trailing: bytes = b""


@_command(0x0707, True, 0x03, "Publish Seasons")
@dataclass(frozen=True, slots=True)
class PublishSeasons(_Record):
    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    entries: tuple[SeasonEntry, ...] = _list(SeasonEntry)
    trailing: bytes = b""


@_command(0x0707, True, 0x04, "Publish Special Days")
@dataclass(frozen=True, slots=True)
class PublishSpecialDays(_Record):
    """``total_number_of_special_days`` counts days across all commands (a field)."""

    provider_id: int = _f(U32)
    issuer_event_id: int = _f(U32)
    issuer_calendar_id: int = _f(U32)
    start_time: int = _f(UTC_T)
    calendar_type: int = _f(E8)
    total_number_of_special_days: int = _f(U8)
    command_index: int = _f(U8)
    total_number_of_commands: int = _f(U8)
    entries: tuple[SpecialDayEntry, ...] = _list(SpecialDayEntry)
    trailing: bytes = b""
