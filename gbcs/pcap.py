"""pcap captures of GBCS messages that stock Wireshark/tshark dissect.

Each record uses link type 252 (``LINKTYPE_WIRESHARK_UPPER_PDU``): a list of exported-PDU
TLVs (2-byte type, 2-byte length, value padded with NULs to 32 bits) naming the
dissector ``gbcs_message``, optionally an info-column text, then the end-of-options TLV,
then the message bytes. This is a byte format, so it lives in the sans-IO core; callers
write the bytes to a file.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

LINKTYPE_WIRESHARK_UPPER_PDU = 252
GBCS_DISSECTOR = "gbcs_message"
_TAG_END = 0
_TAG_DISSECTOR_NAME = 12
_TAG_COL_INFO_TEXT = 36
_PCAP_MAGIC = 0xA1B2C3D4
_SNAPLEN = 262144


@dataclass(frozen=True, slots=True)
class PcapRecord:
    """One frame: a GBCS message (or GBT block), a timestamp and an optional comment."""

    data: bytes
    timestamp: float = 0.0
    info: str | None = None


def _tlv(tag: int, value: bytes) -> bytes:
    padded = value + b"\x00" * (-len(value) % 4)
    return struct.pack(">HH", tag, len(padded)) + padded


def exported_pdu_header(dissector: str = GBCS_DISSECTOR, info: str | None = None) -> bytes:
    """The exported-PDU TLV block that precedes each message."""
    out = _tlv(_TAG_DISSECTOR_NAME, dissector.encode("ascii"))
    if info:
        out += _tlv(_TAG_COL_INFO_TEXT, info.encode("utf-8")[:1000])
    return out + struct.pack(">HH", _TAG_END, 0)


def pcap_global_header() -> bytes:
    """Classic little-endian pcap file header for link type 252."""
    return struct.pack("<IHHiIII", _PCAP_MAGIC, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_WIRESHARK_UPPER_PDU)


def pcap_record(record: PcapRecord) -> bytes:
    """One pcap record (record header + exported-PDU header + message)."""
    frame = exported_pdu_header(info=record.info) + record.data
    sec = int(record.timestamp)
    usec = round((record.timestamp - sec) * 1_000_000)
    if usec >= 1_000_000:
        sec, usec = sec + 1, usec - 1_000_000
    return struct.pack("<IIII", sec, usec, len(frame), len(frame)) + frame


def write_pcap(records: Iterable[PcapRecord]) -> bytes:
    """A whole pcap file as bytes."""
    return pcap_global_header() + b"".join(pcap_record(r) for r in records)
