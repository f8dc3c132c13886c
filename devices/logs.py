"""Bounded device logs (event, security, power event, ALCS event): code, timestamp, detail.

An entry holds what every log records (the event code and the device time) and, in
``extra``, the values of the log's further capture columns (the event data of an event
log, the value of a Power Event Log entry, the switch action and value of an ALCS entry)
as typed A-XDR values. The DLMS devices serve each log with the capture columns of its
profile object (:func:`log_row`): a column an entry has no value for reads as the zero
value of its type, and a value of the wrong type is never sent.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gbcs.axdr import Data, DataType, TypeDescription, decode_data_bytes, encode_data
from gbcs.errors import GbcsError

__all__ = ["DeviceLog", "LogEntry", "log_row", "zero_value"]


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One log entry. ``at`` is None when the device clock was invalid (IRP571)."""

    code: int
    at: datetime | None
    detail: str = ""
    #: Values of the capture columns after time and code, in column order.
    extra: tuple[Data, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "code": self.code,
            "at": None if self.at is None else self.at.isoformat(),
            "detail": self.detail,
        }
        if self.extra:
            d["extra"] = [encode_data(x).hex() for x in self.extra]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LogEntry:
        at = d.get("at")
        try:
            extra = tuple(decode_data_bytes(bytes.fromhex(x)) for x in d.get("extra", ()))
        except (GbcsError, TypeError, ValueError) as e:
            raise ValueError(f"log entry extra: {e}") from None
        return cls(
            int(d["code"]),
            None if at is None else datetime.fromisoformat(at),
            d["detail"],
            extra,
        )


class DeviceLog:
    """A ring buffer of entries, oldest first; the oldest is overwritten when full."""

    def __init__(self, capacity: int = 100) -> None:
        if capacity <= 0:
            raise ValueError("log capacity must be positive")
        self.capacity = capacity
        self._entries: deque[LogEntry] = deque(maxlen=capacity)

    def add(
        self, code: int, at: datetime | None, detail: str = "", extra: tuple[Data, ...] = ()
    ) -> LogEntry:
        """Append an entry (the caller passes the device clock reading, maybe None, and
        the values of the log's capture columns after time and code, if any)."""
        e = LogEntry(code, at, detail, tuple(extra))
        self._entries.append(e)
        return e

    def entries(self) -> tuple[LogEntry, ...]:
        return tuple(self._entries)

    def codes(self) -> list[int]:
        return [e.code for e in self._entries]

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[LogEntry]:
        return iter(self._entries)

    def copy(self) -> DeviceLog:
        """An independent copy (entries are immutable)."""
        out = DeviceLog.__new__(DeviceLog)
        out.capacity = self.capacity
        out._entries = self._entries.copy()
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "entries": [e.to_dict() for e in self._entries]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DeviceLog:
        log = cls(int(d.get("capacity", 100)))
        for e in d.get("entries", []):
            log._entries.append(LogEntry.from_dict(e))
        return log


_ZERO_STRINGS = {
    DataType.OCTET_STRING: b"",
    DataType.VISIBLE_STRING: b"",
    DataType.UTF8_STRING: b"",
}


def zero_value(td: TypeDescription) -> Data:
    """The zero value of a capture column's type (empty strings, 0, zeroed structures)."""
    if td.tag == DataType.STRUCTURE:
        return Data.structure(*(zero_value(c) for c in td.children))
    if td.tag == DataType.ARRAY:
        return Data.array(*(zero_value(td.children[0]) for _ in range(td.count)))
    if td.tag in _ZERO_STRINGS:
        return Data(td.tag, _ZERO_STRINGS[td.tag])
    return Data(td.tag, 0)


def _fits(td: TypeDescription, d: Data) -> bool:
    if d.tag != td.tag:
        return False
    if td.tag == DataType.STRUCTURE:
        return len(d.value) == td.count and all(
            _fits(c, x) for c, x in zip(td.children, d.value, strict=True)
        )
    if td.tag == DataType.ARRAY:
        return len(d.value) == td.count and all(_fits(td.children[0], x) for x in d.value)
    return True


def log_row(td: TypeDescription, time: int, entry: LogEntry) -> Data:
    """One buffer row of ``entry`` under the capture columns ``td`` (a structure whose
    first two columns are the UTC time and the event code): every further column takes
    the entry's value when it has the column's type, else the type's zero value."""
    columns = td.children if td.tag == DataType.STRUCTURE else (td,)
    fields: list[Data] = []
    for i, col in enumerate(columns):
        if i == 0 and col.tag == DataType.DOUBLE_LONG_UNSIGNED:
            fields.append(Data.double_long_unsigned(time & 0xFFFFFFFF))
        elif i == 1 and col.tag == DataType.LONG_UNSIGNED:
            fields.append(Data.long_unsigned(entry.code & 0xFFFF))
        else:
            k = i - 2
            v = entry.extra[k] if 0 <= k < len(entry.extra) else None
            fields.append(v if v is not None and _fits(col, v) else zero_value(col))
    return Data.structure(*fields) if td.tag == DataType.STRUCTURE else fields[0]
