"""Messaging cluster (0x0703): Display Message."""

from __future__ import annotations

from dataclasses import dataclass

from gbcs.zcl.records import (
    _OCT,
    BM8,
    U16,
    U32,
    UTC_T,
    _command,
    _f,
    _Record,
)


@_command(0x0703, True, 0x00, "Display Message")
@dataclass(frozen=True, slots=True)
class DisplayMessage(_Record):
    """``trailing`` holds the optional extended message control byte."""

    message_id: int = _f(U32)
    message_control: int = _f(BM8)
    start_time: int = _f(UTC_T)
    duration_in_minutes: int = _f(U16)
    message: bytes | None = _f(_OCT)
    trailing: bytes = b""
