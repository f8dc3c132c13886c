"""ZigBee Cluster Library (ZCL) payloads carried inside GBZ components.

GSME/GPF use cases wrap ZigBee Smart Energy (ZSE) commands in GBZ components
(``gbcs-wire.md`` §4.3). This module covers what sits *after* the GBZ extended header:

* :class:`ZclHeader` — frame control, optional manufacturer code, transaction sequence
  number, command id;
* typed, immutable records for the general commands (Read Attributes and its response,
  Write Attributes and its response, Default Response) and for the cluster-specific
  commands of the Price, Metering, Messaging, Prepayment, Calendar, Device Management and
  Events clusters that the GBCS use cases carry;
* :class:`RawZclPayload` for anything else, so every payload round-trips;
* :func:`decode_zcl_payload`, also used on the plaintext of encrypted GBZ components.

ZCL fields are little-endian. Every typed record re-encodes to the exact bytes it was
decoded from. Cluster-specific records keep bytes they do not model in ``trailing``
(ZSE lets later versions append optional fields, e.g. the 19 extra octets some devices
put after Publish Price). Timestamps are ZigBee ``UTCTime`` values: seconds since
2000-01-01 00:00:00 UTC, kept as ``int``.
"""

from __future__ import annotations

import dataclasses
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field

__all__ = [
    "CLUSTER_NAMES",
    "DATA_TYPE_NAMES",
    "STATUS_NAMES",
    "ZCL_EPOCH",
    "AttributeReadRecord",
    "AttributeStatusRecord",
    "AttributeWriteRecord",
    "BlockTierDeliveredNoBilling",
    "ChangeDebt",
    "ChangePaymentMode",
    "ChangePaymentModeResponse",
    "ChangeSupply",
    "ClearEventLogRequest",
    "ClearEventLogResponse",
    "ConsumerTopUp",
    "ConsumerTopUpResponse",
    "CreditAdjustment",
    "DayScheduleEntry",
    "DebtCreditStatus",
    "DebtLogEntry",
    "DefaultResponse",
    "DisplayMessage",
    "EmergencyCreditSetup",
    "EventConfigurationEntry",
    "EventLogEntry",
    "GetBillingPeriod",
    "GetCurrentPrice",
    "GetDayProfiles",
    "GetDebtRepaymentLog",
    "GetEventConfiguration",
    "GetEventLog",
    "GetPrepaySnapshot",
    "GetSampledData",
    "GetSampledDataResponse",
    "GetSeasons",
    "GetSnapshot",
    "GetSpecialDays",
    "GetTopUpLog",
    "GetWeekProfiles",
    "PriceMatrixEntry",
    "PublishBillingPeriod",
    "PublishBlockPeriod",
    "PublishCalendar",
    "PublishCalorificValue",
    "PublishChangeOfSupplier",
    "PublishChangeOfTenancy",
    "PublishConversionFactor",
    "PublishDayProfile",
    "PublishDebtLog",
    "PublishEventLog",
    "PublishPrepaySnapshot",
    "PublishPrice",
    "PublishPriceMatrix",
    "PublishSeasons",
    "PublishSnapshot",
    "PublishSpecialDays",
    "PublishTariffInformation",
    "PublishTopUpLog",
    "PublishWeekProfile",
    "RawZclPayload",
    "ReadAttributes",
    "ReadAttributesResponse",
    "ReportEventConfiguration",
    "RequestNewPasswordResponse",
    "SeasonEntry",
    "SelectAvailableEmergencyCredit",
    "SetEventConfiguration",
    "SetLowCreditWarningLevel",
    "SetMaximumCreditLimit",
    "SetOverallDebtCap",
    "SetSupplyStatus",
    "SetUncontrolledFlowThreshold",
    "SpecialDayEntry",
    "StartSampling",
    "StartSamplingResponse",
    "SupplyStatusResponse",
    "TopUpLogEntry",
    "TouDeliveredNoBilling",
    "UpdateCin",
    "UpdateSiteId",
    "WriteAttributes",
    "WriteAttributesResponse",
    "ZclCommand",
    "ZclDate",
    "ZclHeader",
    "ZclPayload",
    "ZclSequence",
    "ZclValue",
    "attribute_name",
    "check_zcl_header",
    "cluster_name",
    "command_name",
    "decode_zcl_command",
    "decode_zcl_header",
    "decode_zcl_payload",
    "decode_zcl_slice",
    "format_utc",
    "general_commands",
    "typed_commands",
    "utc_from_datetime",
    "utc_to_datetime",
]

MAX_DEPTH = 32

# --------------------------------------------------------------------------- names

CLUSTER_NAMES: dict[int, str] = {
    0x0000: "Basic",
    0x000A: "Time",
    0x0019: "OTA Upgrade",
    0x0700: "Price",
    0x0701: "Demand Response and Load Control",
    0x0702: "Metering",
    0x0703: "Messaging",
    0x0704: "Tunneling",
    0x0705: "Prepayment",
    0x0706: "Energy Management",
    0x0707: "Calendar",
    0x0708: "Device Management",
    0x0709: "Events",
    0x070A: "MDU Pairing",
    0x070B: "Sub-GHz",
    0x0800: "Key Establishment",
}

STATUS_NAMES: dict[int, str] = {
    0x00: "Success",
    0x01: "Failure",
    0x7E: "Not Authorized",
    0x7F: "Reserved Field Not Zero",
    0x80: "Malformed Command",
    0x81: "Unsupported Cluster Command",
    0x82: "Unsupported General Command",
    0x83: "Unsupported Manufacturer Cluster Command",
    0x84: "Unsupported Manufacturer General Command",
    0x85: "Invalid Field",
    0x86: "Unsupported Attribute",
    0x87: "Invalid Value",
    0x88: "Read Only",
    0x89: "Insufficient Space",
    0x8A: "Duplicate Exists",
    0x8B: "Not Found",
    0x8C: "Unreportable Attribute",
    0x8D: "Invalid Data Type",
    0x8E: "Invalid Selector",
    0x8F: "Write Only",
    0x90: "Inconsistent Startup State",
    0x91: "Defined Out Of Band",
    0x92: "Inconsistent",
    0x93: "Action Denied",
    0x94: "Timeout",
    0x95: "Abort",
    0x96: "Invalid Image",
    0x97: "Wait For Data",
    0x98: "No Image Available",
    0x99: "Require More Image",
    0x9A: "Notification Pending",
    0xC0: "Hardware Failure",
    0xC1: "Software Failure",
    0xC2: "Calibration Error",
    0xC3: "Unsupported Cluster",
}

_GENERAL_COMMAND_NAMES: dict[int, str] = {
    0x00: "Read Attributes",
    0x01: "Read Attributes Response",
    0x02: "Write Attributes",
    0x03: "Write Attributes Undivided",
    0x04: "Write Attributes Response",
    0x05: "Write Attributes No Response",
    0x06: "Configure Reporting",
    0x07: "Configure Reporting Response",
    0x08: "Read Reporting Configuration",
    0x09: "Read Reporting Configuration Response",
    0x0A: "Report Attributes",
    0x0B: "Default Response",
    0x0C: "Discover Attributes",
    0x0D: "Discover Attributes Response",
}

# Attribute names of the ZSE attributes GBCS reads (ZSE 1.4 naming).
_ATTRIBUTE_NAMES: dict[int, dict[int, str]] = {
    0x0000: {
        0x0000: "ZCL Version",
        0x0001: "Application Version",
        0x0002: "Stack Version",
        0x0003: "HW Version",
        0x0004: "Manufacturer Name",
        0x0005: "Model Identifier",
        0x0006: "Date Code",
        0x0007: "Power Source",
    },
    0x0700: {
        **{0x0100 + i: f"Block{i + 1} Threshold" for i in range(15)},
        0x0200: "Start of Block Period",
        0x0201: "Block Period Duration",
        0x0202: "Threshold Multiplier",
        0x0203: "Threshold Divisor",
        0x0300: "Commodity Type",
        0x0301: "Standing Charge",
        0x0302: "Conversion Factor",
        0x0303: "Conversion Factor Trailing Digit",
        0x0304: "Calorific Value",
        0x0305: "Calorific Value Unit",
        0x0306: "Calorific Value Trailing Digit",
        **{0x0400 + b: f"No Tier Block{b + 1} Price" for b in range(16)},
        **{
            0x0400 + 16 * t + b: f"Tier{t} Block{b + 1} Price"
            for t in range(1, 16)
            for b in range(16)
        },
        0x0610: "Tariff Label",
        0x0611: "Number of Price Tiers in Use",
        0x0612: "Number of Block Thresholds in Use",
        0x0613: "Tier Block Mode",
        0x0615: "Unit of Measure",
        0x0616: "Currency",
        0x0617: "Price Trailing Digit",
    },
    0x0702: {
        0x0000: "Current Summation Delivered",
        0x0001: "Current Summation Received",
        0x0014: "Supply Status",
        **{0x0100 + 2 * i: f"Current Tier{i + 1} Summation Delivered" for i in range(48)},
        0x0200: "Status",
        0x0205: "Remaining Battery Life in Days",
        0x0206: "Current Meter ID",
        0x0300: "Unit of Measure",
        0x0301: "Multiplier",
        0x0302: "Divisor",
        0x0303: "Summation Formatting",
        0x0306: "Metering Device Type",
        0x0307: "Site ID",
        0x0308: "Meter Serial Number",
        0x0607: "Supply Tamper State",
        0x0608: "Supply Depletion State",
        **{0x0700 + i: f"Current No Tier Block{i + 1} Summation Delivered" for i in range(16)},
        0x0A00: "Bill to Date Delivered",
        0x0A01: "Bill to Date Time Stamp Delivered",
        0x0B10: "Uncontrolled Flow Threshold",
        0x0B11: "Uncontrolled Flow Threshold Unit of Measure",
        0x0B12: "Uncontrolled Flow Multiplier",
        0x0B13: "Uncontrolled Flow Divisor",
        0x0B14: "Flow Stabilisation Period",
        0x0B15: "Flow Measurement Period",
    },
    0x0705: {
        0x0000: "Payment Control Configuration",
        0x0001: "Credit Remaining",
        0x0002: "Emergency Credit Remaining",
        0x0003: "Credit Status",
        0x0004: "Credit Remaining Time Stamp",
        0x0005: "Accumulated Debt",
        0x0006: "Overall Debt Cap",
        0x0010: "Emergency Credit Limit/Allowance",
        0x0011: "Emergency Credit Threshold",
        0x0020: "Total Credit Added",
        0x0021: "Max Credit Limit",
        0x0022: "Max Credit Per Top Up",
        0x0030: "Friendly Credit Warning",
        0x0031: "Low Credit Warning Level",
        0x0040: "Cut Off Value",
        **{
            0x0210 + 0x10 * d + off: f"{name} {d + 1}"
            for d in range(3)
            for off, name in (
                (0x0, "Debt Label"),
                (0x1, "Debt Amount"),
                (0x2, "Debt Recovery Method"),
                (0x3, "Debt Recovery Start Time"),
                (0x4, "Debt Recovery Collection Time"),
                (0x6, "Debt Recovery Frequency"),
                (0x7, "Debt Recovery Amount"),
                (0x9, "Debt Recovery Top Up Percentage"),
            )
        },
    },
}

DATA_TYPE_NAMES: dict[int, str] = {
    0x00: "nodata",
    **{0x08 + i: f"data{8 * (i + 1)}" for i in range(8)},
    0x10: "bool",
    **{0x18 + i: f"bitmap{8 * (i + 1)}" for i in range(8)},
    **{0x20 + i: f"uint{8 * (i + 1)}" for i in range(8)},
    **{0x28 + i: f"int{8 * (i + 1)}" for i in range(8)},
    0x30: "enum8",
    0x31: "enum16",
    0x38: "semi",
    0x39: "single",
    0x3A: "double",
    0x41: "octet string",
    0x42: "character string",
    0x43: "long octet string",
    0x44: "long character string",
    0x48: "array",
    0x4C: "structure",
    0x50: "set",
    0x51: "bag",
    0xE0: "time of day",
    0xE1: "date",
    0xE2: "UTCTime",
    0xE8: "cluster id",
    0xE9: "attribute id",
    0xEA: "BACnet OID",
    0xF0: "IEEE address",
    0xF1: "128-bit security key",
    0xFF: "unknown",
}


def cluster_name(cluster: int) -> str:
    """``"Metering (0x0702)"``: readable name plus the id."""
    name = CLUSTER_NAMES.get(cluster)
    return f"{name} (0x{cluster:04X})" if name else f"0x{cluster:04X}"


def attribute_name(cluster: int, attribute_id: int) -> str | None:
    """ZSE name of an attribute of ``cluster``, if known."""
    return _ATTRIBUTE_NAMES.get(cluster, {}).get(attribute_id)


def _status_text(status: int) -> str:
    name = STATUS_NAMES.get(status)
    return f"{name} (0x{status:02X})" if name else f"0x{status:02X}"


# --------------------------------------------------------------------------- time

ZCL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def utc_to_datetime(value: int) -> datetime:
    """ZigBee UTCTime (seconds since 2000-01-01 UTC) as an aware ``datetime``."""
    return ZCL_EPOCH + timedelta(seconds=value)


def utc_from_datetime(dt: datetime) -> int:
    """An aware ``datetime`` as ZigBee UTCTime (seconds since 2000-01-01 UTC)."""
    if dt.tzinfo is None:
        raise GbcsEncodeError("UTCTime needs an aware datetime")
    v = int((dt - ZCL_EPOCH).total_seconds())
    if not 0 <= v <= 0xFFFFFFFF:
        raise GbcsEncodeError(f"{dt.isoformat()} outside the UTCTime range")
    return v


def format_utc(value: int) -> str:
    """Display form of a UTCTime; 0 and 0xFFFFFFFF are ZCL special values."""
    if value == 0:
        return "0x00000000 (now / not set)"
    if value == 0xFFFFFFFF:
        return "0xFFFFFFFF (invalid / undefined)"
    return utc_to_datetime(value).strftime("%Y-%m-%d %H:%M:%S UTC")


# --------------------------------------------------------------------------- small values

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


@dataclass(frozen=True, slots=True)
class ZclDate:
    """ZCL ``date``: year-1900, month, day of month, day of week (``0xFF`` = any)."""

    year: int
    month: int
    day: int
    weekday: int

    def encode(self) -> bytes:
        try:
            return bytes((self.year, self.month, self.day, self.weekday))
        except ValueError:
            raise GbcsEncodeError(f"ZCL date component out of range: {self}") from None

    def __str__(self) -> str:
        y = "*" if self.year == 0xFF else str(1900 + self.year)
        m = "*" if self.month == 0xFF else f"{self.month:02d}"
        d = "*" if self.day == 0xFF else f"{self.day:02d}"
        w = (
            ""
            if self.weekday == 0xFF
            else f" ({_WEEKDAYS[self.weekday - 1]})"
            if 1 <= self.weekday <= 7
            else f" (wd {self.weekday})"
        )
        return f"{y}-{m}-{d}{w}"


def _text(b: bytes | None) -> str:
    if b is None:
        return "invalid (length 0xFF)"
    if all(0x20 <= c < 0x7F for c in b):
        return repr(b.decode("ascii"))
    return b.hex().upper()


# --------------------------------------------------------------------------- ZCL header


@dataclass(frozen=True, slots=True)
class ZclHeader:
    """ZCL frame header (clear text even in encrypted GBZ components).

    ``frame_control`` bits: 0-1 frame type (0 general, 1 cluster-specific),
    2 manufacturer specific (a 2-byte manufacturer code follows), 3 direction
    (1 = server to client), 4 disable default response.
    """

    frame_control: int
    sequence: int
    command_id: int
    manufacturer_code: int | None = None

    @classmethod
    def make(
        cls,
        command_id: int,
        sequence: int = 0,
        *,
        cluster_specific: bool,
        server_to_client: bool,
        disable_default_response: bool = False,
        manufacturer_code: int | None = None,
    ) -> ZclHeader:
        """A header from its flags (the frame control byte is computed)."""
        fc = (
            (1 if cluster_specific else 0)
            | (0x04 if manufacturer_code is not None else 0)
            | (0x08 if server_to_client else 0)
            | (0x10 if disable_default_response else 0)
        )
        return cls(fc, sequence, command_id, manufacturer_code)

    @property
    def frame_type(self) -> int:
        return self.frame_control & 0x03

    @property
    def cluster_specific(self) -> bool:
        return self.frame_control & 0x03 == 1

    @property
    def manufacturer_specific(self) -> bool:
        return bool(self.frame_control & 0x04)

    @property
    def server_to_client(self) -> bool:
        return bool(self.frame_control & 0x08)

    @property
    def disable_default_response(self) -> bool:
        return bool(self.frame_control & 0x10)

    @property
    def size(self) -> int:
        return 5 if self.frame_control & 0x04 else 3

    def encode(self) -> bytes:
        mfr = self.frame_control & 0x04
        if mfr and self.manufacturer_code is None:
            raise GbcsEncodeError("manufacturer-specific frame control needs a manufacturer code")
        if not mfr and self.manufacturer_code is not None:
            raise GbcsEncodeError("manufacturer code given but frame control bit 2 is clear")
        try:
            if mfr:
                return struct.pack(
                    "<BHBB",
                    self.frame_control,
                    self.manufacturer_code,
                    self.sequence,
                    self.command_id,
                )
            return bytes((self.frame_control, self.sequence, self.command_id))
        except (struct.error, ValueError):
            raise GbcsEncodeError(f"ZCL header field out of range: {self}") from None

    def fields(self, base: int = 0, cluster: int | None = None) -> tuple[Field, ...]:
        """Display nodes for the header bytes laid out from ``base``."""
        raw = self.encode()
        fc = self.frame_control
        flags = [
            ("general", "cluster-specific", "reserved 2", "reserved 3")[fc & 3],
            "server to client" if fc & 0x08 else "client to server",
        ]
        if fc & 0x04:
            flags.append("manufacturer specific")
        if fc & 0x10:
            flags.append("default response disabled")
        out = [Field("Frame control", base, raw[:1], f"0x{fc:02X} ({', '.join(flags)})")]
        p = base + 1
        if fc & 0x04:
            out.append(Field("Manufacturer code", p, raw[1:3], f"0x{self.manufacturer_code:04X}"))
            p += 2
        out.append(
            Field(
                "Transaction sequence number", p, raw[p - base : p - base + 1], str(self.sequence)
            )
        )
        name = command_name(cluster, fc, self.command_id) if cluster is not None else None
        cmd = f"0x{self.command_id:02X}" + (f" ({name})" if name else "")
        out.append(Field("Command id", p + 1, raw[p - base + 1 :], cmd))
        return tuple(out)


_HDR_CACHE: dict[bytes, ZclHeader] = {}


def decode_zcl_header(buf: bytes, pos: int, end: int, path: str) -> tuple[ZclHeader, int]:
    """Decode a ZCL header at ``buf[pos:end]``; returns it and the position after it."""
    n = end - pos
    if n >= 3 and not buf[pos] & 0x04:
        key = buf[pos : pos + 3]
        hdr = _HDR_CACHE.get(key)
        if hdr is None:
            hdr = ZclHeader(key[0], key[1], key[2])
            if len(_HDR_CACHE) < 4096:
                _HDR_CACHE[key] = hdr
        return hdr, pos + 3
    if n < 1:
        raise GbcsDecodeError(_join(path, "frame_control"), pos, "needs 1 byte(s), 0 left")
    fc = buf[pos]
    layout = _MFR_LAYOUT if fc & 0x04 else _STD_LAYOUT
    for name, off, size in layout:
        if off + size > n:
            raise GbcsDecodeError(
                _join(path, name), pos + off, f"needs {size} byte(s), {n - off} left"
            )
    return ZclHeader(fc, buf[pos + 3], buf[pos + 4], buf[pos + 1] | buf[pos + 2] << 8), pos + 5


_STD_LAYOUT = (("frame_control", 0, 1), ("sequence", 1, 1), ("command_id", 2, 1))
_MFR_LAYOUT = (
    ("frame_control", 0, 1),
    ("manufacturer_code", 1, 2),
    ("sequence", 3, 1),
    ("command_id", 4, 1),
)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


# --------------------------------------------------------------------------- attribute values


@dataclass(frozen=True, slots=True)
class ZclSequence:
    """Value of a ZCL array / set / bag: element type and items (``None`` = invalid)."""

    element_type: int
    items: tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class ZclValue:
    """A typed ZCL attribute value.

    ``value`` is an ``int`` for data/bool/bitmap/uint/int/enum/UTCTime/cluster id/
    attribute id/BACnet OID/IEEE address types (signed for ``int*``), ``bytes`` for
    floats, time of day and keys (kept raw so they round-trip), ``bytes | None`` for
    strings (``None`` = the invalid length ``0xFF``/``0xFFFF``), :class:`ZclDate` for
    dates, :class:`ZclSequence` for array/set/bag, a tuple of :class:`ZclValue` (or
    ``None``) for structures and ``None`` for nodata/unknown.
    """

    type_id: int
    value: Any

    def encode(self) -> bytes:
        """Type id followed by the encoded value."""
        if not 0 <= self.type_id <= 0xFF:
            raise GbcsEncodeError(f"ZCL data type {self.type_id} out of range")
        return bytes((self.type_id,)) + _encode_value(self.type_id, self.value, 0)

    def display(self) -> str:
        return _display_value(self.type_id, self.value)


def _fixed_size(t: int) -> int | None:
    if 0x08 <= t <= 0x2F:
        return (t & 0x07) + 1
    return _FIXED_SIZES.get(t)


_FIXED_SIZES = {
    0x00: 0,
    0x30: 1,
    0x31: 2,
    0x38: 2,
    0x39: 4,
    0x3A: 8,
    0xE0: 4,
    0xE1: 4,
    0xE2: 4,
    0xE8: 2,
    0xE9: 2,
    0xEA: 4,
    0xF0: 8,
    0xF1: 16,
    0xFF: 0,
}
_RAW_TYPES = frozenset((0x38, 0x39, 0x3A, 0xE0, 0xF1))
_STRING_TYPES = frozenset((0x41, 0x42, 0x43, 0x44))


def _decode_value(buf: bytes, pos: int, end: int, t: int, path: str, depth: int) -> tuple[Any, int]:
    size = _fixed_size(t)
    if size is not None:
        if pos + size > end:
            raise GbcsDecodeError(
                path,
                pos,
                f"{DATA_TYPE_NAMES.get(t, hex(t))} needs {size} byte(s), {end - pos} left",
            )
        if size == 0:
            return None, pos
        raw = buf[pos : pos + size]
        if t in _RAW_TYPES:
            return raw, pos + size
        if t == 0xE1:
            return ZclDate(raw[0], raw[1], raw[2], raw[3]), pos + size
        return int.from_bytes(raw, "little", signed=0x28 <= t <= 0x2F), pos + size
    if t in _STRING_TYPES:
        lsize = 1 if t < 0x43 else 2
        if pos + lsize > end:
            raise GbcsDecodeError(
                path, pos, f"string length needs {lsize} byte(s), {end - pos} left"
            )
        n = buf[pos] if lsize == 1 else buf[pos] | buf[pos + 1] << 8
        pos += lsize
        if n == (0xFF if lsize == 1 else 0xFFFF):
            return None, pos
        if pos + n > end:
            raise GbcsDecodeError(
                path, pos - lsize, f"string of {n} byte(s) overruns the payload ({end - pos} left)"
            )
        return buf[pos : pos + n], pos + n
    if depth >= MAX_DEPTH:
        raise GbcsDecodeError(path, pos, f"ZCL values nested deeper than {MAX_DEPTH}")
    if t in (0x48, 0x50, 0x51):
        if pos + 3 > end:
            raise GbcsDecodeError(
                path, pos, f"{DATA_TYPE_NAMES[t]} header needs 3 byte(s), {end - pos} left"
            )
        et = buf[pos]
        n = buf[pos + 1] | buf[pos + 2] << 8
        pos += 3
        if n == 0xFFFF:
            return ZclSequence(et, None), pos
        items = []
        for i in range(n):
            v, pos = _decode_value(buf, pos, end, et, f"{path}[{i}]", depth + 1)
            items.append(v)
        return ZclSequence(et, tuple(items)), pos
    if t == 0x4C:
        if pos + 2 > end:
            raise GbcsDecodeError(path, pos, f"structure count needs 2 byte(s), {end - pos} left")
        n = buf[pos] | buf[pos + 1] << 8
        pos += 2
        if n == 0xFFFF:
            return None, pos
        elems = []
        for i in range(n):
            if pos >= end:
                raise GbcsDecodeError(
                    f"{path}[{i}]", pos, "structure element type needs 1 byte(s), 0 left"
                )
            et = buf[pos]
            v, pos = _decode_value(buf, pos + 1, end, et, f"{path}[{i}]", depth + 1)
            elems.append(ZclValue(et, v))
        return tuple(elems), pos
    raise GbcsDecodeError(path, pos - 1, f"unsupported ZCL data type 0x{t:02X}")


def _encode_value(t: int, v: Any, depth: int) -> bytes:
    if depth > MAX_DEPTH:
        raise GbcsEncodeError(f"ZCL values nested deeper than {MAX_DEPTH}")
    size = _fixed_size(t)
    try:
        if size is not None:
            if size == 0:
                if v is not None:
                    raise GbcsEncodeError(f"type 0x{t:02X} carries no value")
                return b""
            if t in _RAW_TYPES:
                if not isinstance(v, bytes) or len(v) != size:
                    raise GbcsEncodeError(f"type 0x{t:02X} needs {size} raw byte(s)")
                return v
            if t == 0xE1:
                if not isinstance(v, ZclDate):
                    raise GbcsEncodeError("date value must be a ZclDate")
                return v.encode()
            return int(v).to_bytes(size, "little", signed=0x28 <= t <= 0x2F)
        if t in _STRING_TYPES:
            lsize = 1 if t < 0x43 else 2
            if v is None:
                return b"\xff" * lsize
            if len(v) >= (0xFF if lsize == 1 else 0xFFFF):
                raise GbcsEncodeError(f"string of {len(v)} byte(s) too long for type 0x{t:02X}")
            return len(v).to_bytes(lsize, "little") + bytes(v)
        if t in (0x48, 0x50, 0x51):
            if not isinstance(v, ZclSequence):
                raise GbcsEncodeError(f"{DATA_TYPE_NAMES[t]} value must be a ZclSequence")
            if v.items is None:
                return bytes((v.element_type, 0xFF, 0xFF))
            if len(v.items) >= 0xFFFF:
                raise GbcsEncodeError("too many elements")
            body = b"".join(_encode_value(v.element_type, x, depth + 1) for x in v.items)
            return bytes((v.element_type,)) + len(v.items).to_bytes(2, "little") + body
        if t == 0x4C:
            if v is None:
                return b"\xff\xff"
            if len(v) >= 0xFFFF:
                raise GbcsEncodeError("too many structure elements")
            return len(v).to_bytes(2, "little") + b"".join(
                bytes((e.type_id,)) + _encode_value(e.type_id, e.value, depth + 1) for e in v
            )
    except (OverflowError, TypeError, ValueError) as e:
        raise GbcsEncodeError(f"value {v!r} does not fit ZCL type 0x{t:02X}: {e}") from None
    raise GbcsEncodeError(f"unsupported ZCL data type 0x{t:02X}")


def _display_value(t: int, v: Any) -> str:
    tn = DATA_TYPE_NAMES.get(t, f"0x{t:02X}")
    if v is None:
        return f"{tn}: invalid" if t in _STRING_TYPES or t == 0x4C else tn
    if t in _STRING_TYPES:
        return f"{tn}: {_text(v)}"
    if t == 0xE2:
        return f"{tn}: {format_utc(v)}"
    if 0x18 <= t <= 0x1F or 0x08 <= t <= 0x0F or t in (0xE8, 0xE9, 0xF0):
        return f"{tn}: 0x{v:0{2 * _fixed_size(t)}X}"  # type: ignore[operator]
    if t == 0x39:
        return f"{tn}: {struct.unpack('<f', v)[0]!r}"
    if t == 0x3A:
        return f"{tn}: {struct.unpack('<d', v)[0]!r}"
    if isinstance(v, bytes):
        return f"{tn}: {v.hex().upper()}"
    if isinstance(v, ZclSequence):
        n = "invalid" if v.items is None else f"{len(v.items)} item(s)"
        return f"{tn} of {DATA_TYPE_NAMES.get(v.element_type, hex(v.element_type))}: {n}"
    if isinstance(v, tuple):
        return f"{tn}: {len(v)} element(s)"
    return f"{tn}: {v}"


# --------------------------------------------------------------------------- command base


class ZclCommand:
    """Common face of every ZCL payload record (typed or raw)."""

    __slots__ = ()

    NAME: ClassVar[str] = ""

    def encode(self) -> bytes:
        """The exact ZCL payload bytes (after the ZCL header)."""
        raise NotImplementedError

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        """Display nodes for the payload laid out from ``base``."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class RawZclPayload(ZclCommand):
    """A ZCL payload this codec does not model (kept byte for byte)."""

    data: bytes

    NAME: ClassVar[str] = "ZCL payload (not decoded)"

    def encode(self) -> bytes:
        return self.data

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        if not self.data:
            return ()
        return (Field("Payload (not decoded)", base, self.data, self.data.hex().upper()),)


# --------------------------------------------------------------------------- general commands


@dataclass(frozen=True, slots=True)
class ReadAttributes(ZclCommand):
    """General command 0x00: the attribute ids to read."""

    attribute_ids: tuple[int, ...]

    NAME: ClassVar[str] = "Read Attributes"
    COMMAND_ID: ClassVar[int] = 0x00

    def encode(self) -> bytes:
        try:
            return struct.pack(f"<{len(self.attribute_ids)}H", *self.attribute_ids)
        except struct.error as e:
            raise GbcsEncodeError(f"attribute id out of range: {e}") from None

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        out = []
        for i, a in enumerate(self.attribute_ids):
            name = attribute_name(cluster, a) if cluster is not None else None
            out.append(
                Field(
                    f"Attribute id [{i}]",
                    base + 2 * i,
                    a.to_bytes(2, "little"),
                    _attr_text(a, name),
                )
            )
        return tuple(out)


def _attr_text(a: int, name: str | None) -> str:
    return f"0x{a:04X} ({name})" if name else f"0x{a:04X}"


def _dec_read_attributes(buf: bytes, pos: int, end: int, path: str) -> ReadAttributes:
    n = end - pos
    if n & 1:
        raise GbcsDecodeError(
            _join(path, f"attribute_ids[{n // 2}]"), end - 1, "needs 2 byte(s), 1 left"
        )
    return ReadAttributes(struct.unpack_from(f"<{n // 2}H", buf, pos))


@dataclass(frozen=True, slots=True)
class AttributeReadRecord:
    """One record of a Read Attributes Response; ``value`` only when status is success."""

    attribute_id: int
    status: int
    value: ZclValue | None = None

    def encode(self) -> bytes:
        if self.status == 0:
            if self.value is None:
                raise GbcsEncodeError(f"attribute 0x{self.attribute_id:04X}: success needs a value")
            tail = self.value.encode()
        else:
            if self.value is not None:
                raise GbcsEncodeError(
                    f"attribute 0x{self.attribute_id:04X}: a failed read has no value"
                )
            tail = b""
        try:
            return struct.pack("<HB", self.attribute_id, self.status) + tail
        except struct.error as e:
            raise GbcsEncodeError(f"read attribute record out of range: {e}") from None


@dataclass(frozen=True, slots=True)
class ReadAttributesResponse(ZclCommand):
    """General command 0x01: per attribute, its status and (on success) typed value."""

    records: tuple[AttributeReadRecord, ...]

    NAME: ClassVar[str] = "Read Attributes Response"
    COMMAND_ID: ClassVar[int] = 0x01

    def encode(self) -> bytes:
        return b"".join(r.encode() for r in self.records)

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        out = []
        p = base
        for i, r in enumerate(self.records):
            raw = r.encode()
            name = attribute_name(cluster, r.attribute_id) if cluster is not None else None
            kids = [
                Field("Attribute id", p, raw[:2], _attr_text(r.attribute_id, name)),
                Field("Status", p + 2, raw[2:3], _status_text(r.status)),
            ]
            if r.value is not None:
                kids.append(
                    Field(
                        "Data type",
                        p + 3,
                        raw[3:4],
                        DATA_TYPE_NAMES.get(r.value.type_id, f"0x{r.value.type_id:02X}"),
                    )
                )
                kids.append(Field("Value", p + 4, raw[4:], r.value.display()))
            label = f"Attribute [{i}]" + (f" {name}" if name else "")
            out.append(Field(label, p, raw, None, tuple(kids)))
            p += len(raw)
        return tuple(out)


def _dec_read_attributes_response(
    buf: bytes, pos: int, end: int, path: str
) -> ReadAttributesResponse:
    recs = []
    i = 0
    while pos < end:
        rp = f"{path}.records[{i}]"
        if end - pos < 3:
            raise GbcsDecodeError(
                f"{rp}.{'attribute_id' if end - pos < 2 else 'status'}",
                pos if end - pos < 2 else pos + 2,
                f"needs {2 if end - pos < 2 else 1} byte(s), {(end - pos) % 2} left",
            )
        aid = buf[pos] | buf[pos + 1] << 8
        st = buf[pos + 2]
        pos += 3
        if st == 0:
            if pos >= end:
                raise GbcsDecodeError(f"{rp}.value.type", pos, "needs 1 byte(s), 0 left")
            t = buf[pos]
            v, pos = _decode_value(buf, pos + 1, end, t, f"{rp}.value", 0)
            recs.append(AttributeReadRecord(aid, st, ZclValue(t, v)))
        else:
            recs.append(AttributeReadRecord(aid, st))
        i += 1
    return ReadAttributesResponse(tuple(recs))


@dataclass(frozen=True, slots=True)
class AttributeWriteRecord:
    """One record of a Write Attributes command."""

    attribute_id: int
    value: ZclValue

    def encode(self) -> bytes:
        if not 0 <= self.attribute_id <= 0xFFFF:
            raise GbcsEncodeError(f"attribute id {self.attribute_id} out of range")
        return self.attribute_id.to_bytes(2, "little") + self.value.encode()


@dataclass(frozen=True, slots=True)
class WriteAttributes(ZclCommand):
    """General command 0x02."""

    records: tuple[AttributeWriteRecord, ...]

    NAME: ClassVar[str] = "Write Attributes"
    COMMAND_ID: ClassVar[int] = 0x02

    def encode(self) -> bytes:
        return b"".join(r.encode() for r in self.records)

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        out = []
        p = base
        for i, r in enumerate(self.records):
            raw = r.encode()
            name = attribute_name(cluster, r.attribute_id) if cluster is not None else None
            kids = (
                Field("Attribute id", p, raw[:2], _attr_text(r.attribute_id, name)),
                Field(
                    "Data type",
                    p + 2,
                    raw[2:3],
                    DATA_TYPE_NAMES.get(r.value.type_id, f"0x{r.value.type_id:02X}"),
                ),
                Field("Value", p + 3, raw[3:], r.value.display()),
            )
            out.append(Field(f"Attribute [{i}]", p, raw, None, kids))
            p += len(raw)
        return tuple(out)


def _dec_write_attributes(buf: bytes, pos: int, end: int, path: str) -> WriteAttributes:
    recs = []
    i = 0
    while pos < end:
        rp = f"{path}.records[{i}]"
        if end - pos < 3:
            raise GbcsDecodeError(
                f"{rp}.{'attribute_id' if end - pos < 2 else 'value.type'}",
                pos if end - pos < 2 else pos + 2,
                f"needs {2 if end - pos < 2 else 1} byte(s), {(end - pos) % 2} left",
            )
        aid = buf[pos] | buf[pos + 1] << 8
        t = buf[pos + 2]
        v, pos = _decode_value(buf, pos + 3, end, t, f"{rp}.value", 0)
        recs.append(AttributeWriteRecord(aid, ZclValue(t, v)))
        i += 1
    return WriteAttributes(tuple(recs))


@dataclass(frozen=True, slots=True)
class AttributeStatusRecord:
    """One record of a Write Attributes Response (``attribute_id`` omitted = all succeeded)."""

    status: int
    attribute_id: int | None = None


@dataclass(frozen=True, slots=True)
class WriteAttributesResponse(ZclCommand):
    """General command 0x04: a lone status byte when every write succeeded, else records."""

    records: tuple[AttributeStatusRecord, ...]

    NAME: ClassVar[str] = "Write Attributes Response"
    COMMAND_ID: ClassVar[int] = 0x04

    def encode(self) -> bytes:
        out = bytearray()
        for r in self.records:
            if r.attribute_id is None:
                if len(self.records) != 1:
                    raise GbcsEncodeError("a status without attribute id must be the only record")
                if not 0 <= r.status <= 0xFF:
                    raise GbcsEncodeError(f"status {r.status} out of range")
                out.append(r.status)
            else:
                try:
                    out += struct.pack("<BH", r.status, r.attribute_id)
                except struct.error as e:
                    raise GbcsEncodeError(f"write attribute status out of range: {e}") from None
        return bytes(out)

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        out = []
        p = base
        for i, r in enumerate(self.records):
            kids = [Field("Status", p, bytes((r.status,)), _status_text(r.status))]
            if r.attribute_id is not None:
                name = attribute_name(cluster, r.attribute_id) if cluster is not None else None
                kids.append(
                    Field(
                        "Attribute id",
                        p + 1,
                        r.attribute_id.to_bytes(2, "little"),
                        _attr_text(r.attribute_id, name),
                    )
                )
            raw = b"".join(k.raw for k in kids)
            out.append(Field(f"Record [{i}]", p, raw, None, tuple(kids)))
            p += len(raw)
        return tuple(out)


def _dec_write_attributes_response(
    buf: bytes, pos: int, end: int, path: str
) -> WriteAttributesResponse:
    n = end - pos
    if n == 1:
        return WriteAttributesResponse((AttributeStatusRecord(buf[pos]),))
    if n % 3:
        k = n // 3
        raise GbcsDecodeError(
            f"{path}.records[{k}].attribute_id",
            pos + 3 * k + 1 if n % 3 == 2 else pos + 3 * k,
            f"write attributes response records are 3 byte(s); {n % 3} byte(s) left over",
        )
    recs = tuple(
        AttributeStatusRecord(buf[p], buf[p + 1] | buf[p + 2] << 8) for p in range(pos, end, 3)
    )
    return WriteAttributesResponse(recs)


@dataclass(frozen=True, slots=True)
class DefaultResponse(ZclCommand):
    """General command 0x0B: the command answered and its status."""

    command_id: int
    status: int

    NAME: ClassVar[str] = "Default Response"
    COMMAND_ID: ClassVar[int] = 0x0B

    def encode(self) -> bytes:
        try:
            return bytes((self.command_id, self.status))
        except ValueError:
            raise GbcsEncodeError(f"default response field out of range: {self}") from None

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        # A default response answers a command sent in the opposite direction.
        name = None
        if cluster is not None:
            cls = _REGISTRY.get((cluster, not frame_control & 0x08, self.command_id))
            name = cls.NAME if cls else None
        cmd = f"0x{self.command_id:02X}" + (f" ({name})" if name else "")
        return (
            Field("Command id", base, bytes((self.command_id,)), cmd),
            Field("Status", base + 1, bytes((self.status,)), _status_text(self.status)),
        )


def _dec_default_response(buf: bytes, pos: int, end: int, path: str) -> DefaultResponse:
    n = end - pos
    if n != 2:
        if n < 2:
            raise GbcsDecodeError(
                _join(path, "command_id" if n == 0 else "status"),
                pos + n,
                f"needs {2 - n} more byte(s)",
            )
        raise GbcsDecodeError(
            path, pos + 2, f"{n - 2} unexpected trailing byte(s) after a default response"
        )
    key = buf[pos : pos + 2]
    rec = _DEFAULT_CACHE.get(key)
    if rec is None:
        rec = _DEFAULT_CACHE[key] = DefaultResponse(key[0], key[1])
    return rec


# Default responses are tiny immutable values with at most 65,536 distinct forms.
_DEFAULT_CACHE: dict[bytes, DefaultResponse] = {}


_GENERAL: dict[int, Callable[[bytes, int, int, str], ZclCommand]] = {
    0x00: _dec_read_attributes,
    0x01: _dec_read_attributes_response,
    0x02: _dec_write_attributes,
    0x04: _dec_write_attributes_response,
    0x0B: _dec_default_response,
}
_GENERAL_CLASSES: dict[int, type[ZclCommand]] = {
    0x00: ReadAttributes,
    0x01: ReadAttributesResponse,
    0x02: WriteAttributes,
    0x04: WriteAttributesResponse,
    0x0B: DefaultResponse,
}


# --------------------------------------------------------------------------- declarative records
#
# Cluster-specific commands are declared as frozen dataclasses whose fields carry their
# wire kind in metadata. A plan compiled once per class groups consecutive fixed-size
# fields into one ``struct.Struct`` so decoding costs one C call per run.


class _Kind:
    """Wire kind of a scalar field."""

    __slots__ = ("conv_in", "conv_out", "fmt", "name", "show", "size")

    def __init__(
        self,
        name: str,
        fmt: str,
        size: int,
        show: Callable[[Any], str],
        conv_in: Callable[[Any], Any] | None = None,
        conv_out: Callable[[Any], Any] | None = None,
    ) -> None:
        self.name = name
        self.fmt = fmt
        self.size = size
        self.show = show
        self.conv_in = conv_in  # wire value (from struct) -> Python value
        self.conv_out = conv_out  # Python value -> struct value


def _hex(n: int) -> Callable[[Any], str]:
    return lambda v: f"0x{v:0{n}X}"


def _u24_in(b: bytes) -> int:
    return int.from_bytes(b, "little")


def _u24_out(v: int) -> bytes:
    return v.to_bytes(3, "little")


def _u48_out(v: int) -> bytes:
    return v.to_bytes(6, "little")


def _days_in(b: bytes) -> tuple[int, ...]:
    return tuple(b)


def _days_out(v: tuple[int, ...]) -> bytes:
    if len(v) != 7:
        raise ValueError("needs exactly 7 day ids (Monday to Sunday)")
    return bytes(v)


def _date_in(b: bytes) -> ZclDate:
    d = _DATE_CACHE.get(b)
    if d is None:
        d = ZclDate(b[0], b[1], b[2], b[3])
        if len(_DATE_CACHE) < 4096:
            _DATE_CACHE[b] = d
    return d


_DATE_CACHE: dict[bytes, ZclDate] = {}


def _date_out(v: ZclDate) -> bytes:
    return v.encode()


U8 = _Kind("uint8", "B", 1, str)
U16 = _Kind("uint16", "H", 2, str)
U24 = _Kind("uint24", "3s", 3, str, _u24_in, _u24_out)
U32 = _Kind("uint32", "I", 4, str)
U48 = _Kind("uint48", "6s", 6, str, _u24_in, _u48_out)
S32 = _Kind("int32", "i", 4, str)
BM8 = _Kind("bitmap8", "B", 1, _hex(2))
BM16 = _Kind("bitmap16", "H", 2, _hex(4))
BM32 = _Kind("bitmap32", "I", 4, _hex(8))
E8 = _Kind("enum8", "B", 1, str)
E16 = _Kind("enum16", "H", 2, str)
UTC_T = _Kind("UTCTime", "I", 4, format_utc)
DATE = _Kind("date", "4s", 4, str, _date_in, _date_out)
DAYS7 = _Kind("7 x uint8", "7s", 7, lambda v: " ".join(str(x) for x in v), _days_in, _days_out)

_EVENT_ID = _Kind("uint16", "H", 2, _hex(4))

_OCT = "oct"  # octet/character string: uint8 length (0xFF = invalid) + bytes
_REST = "rest"  # every remaining byte, raw


@dataclass(frozen=True, slots=True)
class _SubPayload:
    """Every remaining byte, typed by the value of an earlier field when the layout for
    that value is known and parses exactly; raw ``bytes`` otherwise."""

    selector: str
    table: dict[int, Any]


@dataclass(frozen=True, slots=True)
class _ListSpec:
    elem: Any  # a _Kind or a record class
    count: _Kind | None  # count prefix kind; None = until the end of the payload


def _f(kind: Any, title: str | None = None) -> Any:
    return field(metadata={"zcl": kind, "title": title})


def _list(elem: Any, count: _Kind | None = None, title: str | None = None) -> Any:
    return field(metadata={"zcl": _ListSpec(elem, count), "title": title})


def _title(name: str) -> str:
    return name.replace("_", " ").capitalize().replace(" id", " ID")


class _Plan:
    __slots__ = ("fixed_only", "names", "steps", "titles", "trailing")

    def __init__(self, cls: type) -> None:
        self.steps: list[tuple[Any, ...]] = []
        self.names: list[str] = []
        self.titles: dict[str, str] = {}
        self.trailing = False
        run: list[tuple[str, _Kind]] = []
        for f in dataclasses.fields(cls):
            if f.name == "trailing":
                self.trailing = True
                continue
            kind = f.metadata["zcl"]
            self.names.append(f.name)
            self.titles[f.name] = f.metadata.get("title") or _title(f.name)
            if isinstance(kind, _Kind):
                run.append((f.name, kind))
                continue
            self._flush(run)
            run = []
            self.steps.append(("var", f.name, kind))
        self._flush(run)
        # (struct, run, conversions) when the record is one fixed-size block
        self.fixed_only = (
            self.steps[0][1:] if len(self.steps) == 1 and self.steps[0][0] == "fixed" else None
        )

    def _flush(self, run: list[tuple[str, _Kind]]) -> None:
        if not run:
            return
        st = struct.Struct("<" + "".join(k.fmt for _, k in run))
        conv = tuple((i, k.conv_in) for i, (_, k) in enumerate(run) if k.conv_in)
        self.steps.append(("fixed", st, tuple(run), conv))


def _decode_record(
    cls: Any, buf: bytes, pos: int, end: int, path: str, depth: int
) -> tuple[Any, int]:
    """Decode one declarative record at ``pos``; returns it and the end position."""
    plan: _Plan = cls._PLAN
    vals: list[Any] = []
    for step in plan.steps:
        if step[0] == "fixed":
            st = step[1]
            if pos + st.size > end:
                _fail_run(step[2], pos, end, path)
            raw = st.unpack_from(buf, pos)
            if step[3]:
                raw = list(raw)
                for i, fn in step[3]:
                    raw[i] = fn(raw[i])
            vals.extend(raw)
            pos += st.size
            continue
        name, kind = step[1], step[2]
        if kind is _OCT:
            if pos >= end:
                raise GbcsDecodeError(
                    _join(path, name), pos, "string length needs 1 byte(s), 0 left"
                )
            n = buf[pos]
            if n == 0xFF:
                vals.append(None)
                pos += 1
                continue
            if pos + 1 + n > end:
                raise GbcsDecodeError(
                    _join(path, name),
                    pos,
                    f"string of {n} byte(s) overruns the payload ({end - pos - 1} left)",
                )
            vals.append(buf[pos + 1 : pos + 1 + n])
            pos += 1 + n
        elif kind is _REST:
            vals.append(buf[pos:end])
            pos = end
        elif type(kind) is _SubPayload:
            sub = kind.table.get(vals[plan.names.index(kind.selector)])
            v: Any = buf[pos:end]
            if sub is not None:
                try:
                    rec, p = _decode_record(sub, buf, pos, end, _join(path, name), depth + 1)
                except GbcsDecodeError:
                    p = -1
                if p == end:
                    v = rec
            vals.append(v)
            pos = end
        else:
            items, pos = _decode_list(kind, buf, pos, end, _join(path, name), depth)
            vals.append(items)
    if plan.trailing:
        vals.append(buf[pos:end])
        pos = end
    return cls(*vals), pos


def _fail_run(run: tuple[tuple[str, _Kind], ...], pos: int, end: int, path: str) -> None:
    p = pos
    for name, k in run:
        if p + k.size > end:
            raise GbcsDecodeError(
                _join(path, name), p, f"{k.name} needs {k.size} byte(s), {end - p} left"
            )
        p += k.size


def _decode_list(
    spec: _ListSpec, buf: bytes, pos: int, end: int, path: str, depth: int
) -> tuple[tuple[Any, ...], int]:
    if depth >= MAX_DEPTH:
        raise GbcsDecodeError(path, pos, f"records nested deeper than {MAX_DEPTH}")
    elem = spec.elem
    n = -1  # -1: until the end of the payload
    if spec.count is not None:
        c = spec.count
        if pos + c.size > end:
            raise GbcsDecodeError(
                _join(path, "count"), pos, f"{c.name} needs {c.size} byte(s), {end - pos} left"
            )
        n = int.from_bytes(buf[pos : pos + c.size], "little")
        pos += c.size
    if isinstance(elem, _Kind):
        return _decode_scalars(elem, n, buf, pos, end, path)
    fixed = elem._PLAN.fixed_only
    if fixed is not None:
        st, run, conv = fixed
        size = st.size
        k = (end - pos) // size if n < 0 else n
        stop = pos + k * size
        if stop > end or (n < 0 and stop != end):
            k = (end - pos) // size
            _fail_run(run, pos + k * size, end, f"{path}[{k}]")
        chunk = buf[pos:stop]
        if conv:
            items = []
            for vals in st.iter_unpack(chunk):
                lv = list(vals)
                for i, fn in conv:
                    lv[i] = fn(lv[i])
                items.append(elem(*lv))
            return tuple(items), stop
        return tuple([elem(*vals) for vals in st.iter_unpack(chunk)]), stop
    items = []
    i = 0
    try:
        while (pos < end) if n < 0 else (i < n):
            item, pos = _decode_record(elem, buf, pos, end, "", depth + 1)
            items.append(item)
            i += 1
    except GbcsDecodeError as e:
        raise e.nested(f"{path}[{i}]") from None
    return tuple(items), pos


def _decode_scalars(
    elem: _Kind, n: int, buf: bytes, pos: int, end: int, path: str
) -> tuple[tuple[Any, ...], int]:
    size = elem.size
    k = (end - pos) // size if n < 0 else n
    stop = pos + k * size
    if stop > end or (n < 0 and stop != end):
        k = (end - pos) // size
        raise GbcsDecodeError(
            f"{path}[{k}]",
            pos + k * size,
            f"{elem.name} needs {size} byte(s), {end - pos - k * size} left",
        )
    if elem.conv_in is None:
        return struct.unpack_from(f"<{k}{elem.fmt}", buf, pos), stop
    fn = elem.conv_in
    return tuple([fn(buf[p : p + size]) for p in range(pos, stop, size)]), stop


def _encode_record(rec: Any) -> bytes:
    plan: _Plan = type(rec)._PLAN
    out = bytearray()
    for step in plan.steps:
        if step[0] == "fixed":
            vals = []
            for name, k in step[2]:
                v = getattr(rec, name)
                vals.append(k.conv_out(v) if k.conv_out else v)
            out += step[1].pack(*vals)
            continue
        name, kind = step[1], step[2]
        v = getattr(rec, name)
        if kind is _OCT:
            if v is None:
                out.append(0xFF)
            else:
                if len(v) >= 0xFF:
                    raise ValueError(f"{name}: string of {len(v)} byte(s) exceeds 254")
                out.append(len(v))
                out += v
        elif kind is _REST:
            out += v
        elif type(kind) is _SubPayload:
            if isinstance(v, bytes):
                out += v
            else:
                if kind.table.get(getattr(rec, kind.selector)) is not type(v):
                    raise ValueError(f"{name}: {type(v).__name__} does not match {kind.selector}")
                out += _encode_record(v)
        else:
            out += _encode_list(kind, v, name)
    if plan.trailing:
        out += rec.trailing
    return bytes(out)


def _encode_list(spec: _ListSpec, items: tuple[Any, ...], name: str) -> bytes:
    out = bytearray()
    if spec.count is not None:
        if len(items) >= 1 << (8 * spec.count.size):
            raise ValueError(f"{name}: {len(items)} items do not fit a {spec.count.name} count")
        out += len(items).to_bytes(spec.count.size, "little")
    elem = spec.elem
    for it in items:
        if isinstance(elem, _Kind):
            out += struct.pack("<" + elem.fmt, elem.conv_out(it) if elem.conv_out else it)
        else:
            out += _encode_record(it)
    return bytes(out)


def _record_encode(rec: Any) -> bytes:
    try:
        return _encode_record(rec)
    except GbcsEncodeError:
        raise
    except (struct.error, OverflowError, ValueError, TypeError, AttributeError) as e:
        raise GbcsEncodeError(f"{type(rec).__name__}: {e}") from None


def _record_fields(rec: Any, base: int) -> tuple[Field, ...]:
    plan: _Plan = type(rec)._PLAN
    out: list[Field] = []
    p = base
    for step in plan.steps:
        if step[0] == "fixed":
            for name, k in step[2]:
                v = getattr(rec, name)
                raw = struct.pack("<" + k.fmt, k.conv_out(v) if k.conv_out else v)
                out.append(Field(plan.titles[name], p, raw, k.show(v)))
                p += len(raw)
            continue
        name, kind = step[1], step[2]
        v = getattr(rec, name)
        if kind is _OCT:
            raw = b"\xff" if v is None else bytes((len(v),)) + v
            out.append(Field(plan.titles[name], p, raw, _text(v)))
        elif kind is _REST or (type(kind) is _SubPayload and isinstance(v, bytes)):
            raw = v
            out.append(Field(plan.titles[name], p, raw, v.hex().upper() if v else "(empty)"))
        elif type(kind) is _SubPayload:
            raw = _encode_record(v)
            title = getattr(type(v), "TITLE", type(v).__name__)
            out.append(Field(plan.titles[name], p, raw, title, _record_fields(v, p)))
        else:
            raw = _encode_list(kind, v, name)
            kids: list[Field] = []
            q = p
            if kind.count is not None:
                kids.append(Field("Count", q, raw[: kind.count.size], str(len(v))))
                q += kind.count.size
            for i, it in enumerate(v):
                if isinstance(kind.elem, _Kind):
                    r = struct.pack(
                        "<" + kind.elem.fmt, kind.elem.conv_out(it) if kind.elem.conv_out else it
                    )
                    kids.append(Field(f"[{i}]", q, r, kind.elem.show(it)))
                else:
                    r = _encode_record(it)
                    kids.append(Field(f"[{i}]", q, r, None, _record_fields(it, q)))
                q += len(r)
            out.append(Field(plan.titles[name], p, raw, f"{len(v)} item(s)", tuple(kids)))
        p += len(raw)
    if plan.trailing and rec.trailing:
        out.append(
            Field("Trailing bytes (not modelled)", p, rec.trailing, rec.trailing.hex().upper())
        )
    return tuple(out)


_REGISTRY: dict[tuple[int, bool, int], type[Any]] = {}


def _entry(cls: type) -> type:
    """Compile the plan of a list-entry record."""
    cls._PLAN = _Plan(cls)  # type: ignore[attr-defined]
    return cls


_Decoder = Callable[[bytes, int, int, str], Any]
_CLUSTER_DECODERS: dict[int, _Decoder] = {}


def _dispatch_key(cluster: int, server_to_client: bool, command_id: int) -> int:
    return (0x1000000 if server_to_client else 0) | cluster << 8 | command_id


def _make_decoder(cls: Any) -> _Decoder:
    """A decoder specialised for ``cls``: one ``unpack_from`` for all-fixed records."""
    plan: _Plan = cls._PLAN
    if (
        plan.trailing
        and len(plan.steps) == 1
        and plan.steps[0][0] == "fixed"
        and not plan.steps[0][3]
    ):
        _, st, run, _ = plan.steps[0]
        size = st.size
        unpack = st.unpack_from

        def dec_fixed(buf: bytes, pos: int, end: int, path: str) -> Any:
            if pos + size > end:
                _fail_run(run, pos, end, path)
            return cls(*unpack(buf, pos), buf[pos + size : end])

        return dec_fixed

    def dec(buf: bytes, pos: int, end: int, path: str) -> Any:
        return _decode_record(cls, buf, pos, end, path, 0)[0]

    return dec


def _command(
    cluster: int, server_to_client: bool, command_id: int, name: str
) -> Callable[[type], type]:
    """Register a cluster-specific command record and compile its plan."""

    def deco(cls: type) -> type:
        cls._PLAN = _Plan(cls)  # type: ignore[attr-defined]
        way = "server to client" if server_to_client else "client to server"
        doc = f"ZSE {name}: {cluster_name(cluster)} command 0x{command_id:02X}, {way}."
        own = cls.__doc__ or ""
        # dataclass fills a missing docstring with the signature; keep only real ones
        cls.__doc__ = doc if own.startswith(cls.__name__ + "(") else f"{doc}\n\n{own}"
        cls.NAME = name  # type: ignore[attr-defined]
        cls.CLUSTER = cluster  # type: ignore[attr-defined]
        cls.SERVER_TO_CLIENT = server_to_client  # type: ignore[attr-defined]
        cls.COMMAND_ID = command_id  # type: ignore[attr-defined]
        key = (cluster, server_to_client, command_id)
        assert key not in _REGISTRY, key
        _REGISTRY[key] = cls
        _CLUSTER_DECODERS[_dispatch_key(cluster, server_to_client, command_id)] = _make_decoder(cls)
        return cls

    return deco


class _Record(ZclCommand):
    """Base of the declarative cluster-specific records."""

    __slots__ = ()

    CLUSTER: ClassVar[int]
    SERVER_TO_CLIENT: ClassVar[bool]
    COMMAND_ID: ClassVar[int]

    def encode(self) -> bytes:
        return _record_encode(self)

    def fields(
        self, base: int = 0, cluster: int | None = None, frame_control: int = 0
    ) -> tuple[Field, ...]:
        return _record_fields(self, base)


# ---- list entries


@_entry
@dataclass(frozen=True, slots=True)
class PriceMatrixEntry:
    """Publish Price Matrix sub-payload entry (tier/block id, price)."""

    tier_block_id: int = _f(U8, "Tier/block ID")
    price: int = _f(U32)


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
class EventLogEntry:
    """Publish Event Log entry."""

    log_id: int = _f(E8, "Log ID")
    event_id: int = _f(_EVENT_ID, "Event ID")
    event_time: int = _f(UTC_T)
    event_data: bytes | None = _f(_OCT)


@_entry
@dataclass(frozen=True, slots=True)
class EventConfigurationEntry:
    """Report Event Configuration entry."""

    event_id: int = _f(_EVENT_ID, "Event ID")
    event_configuration: int = _f(BM8)


# ---- Price cluster (0x0700)


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


# ---- snapshot sub-payloads


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


_METERING_SNAPSHOTS = {4: TouDeliveredNoBilling, 6: BlockTierDeliveredNoBilling}
_PREPAY_SNAPSHOTS = {0: DebtCreditStatus}
_METERING_SUB = _SubPayload("snapshot_payload_type", _METERING_SNAPSHOTS)
_PREPAY_SUB = _SubPayload("snapshot_payload_type", _PREPAY_SNAPSHOTS)


# ---- Metering cluster (0x0702)


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


# ---- Messaging cluster (0x0703)


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


# ---- Prepayment cluster (0x0705)


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


# ---- Calendar cluster (0x0707)


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


# ---- Device Management cluster (0x0708)


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


# ---- Events cluster (0x0709)


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


# --------------------------------------------------------------------------- dispatch

ZclPayload = ZclCommand
"""Any decoded ZCL payload: a typed record or :class:`RawZclPayload`."""

# Names of cluster-specific commands not modelled (display only).
_OTHER_COMMAND_NAMES: dict[tuple[int, bool, int], str] = {
    (0x0700, True, 0x06): "Publish Block Thresholds",
    (0x0700, False, 0x01): "Get Scheduled Prices",
    (0x0700, False, 0x02): "Price Acknowledgement",
    (0x0700, False, 0x03): "Get Block Period(s)",
    (0x0700, False, 0x04): "Get Conversion Factor",
    (0x0700, False, 0x05): "Get Calorific Value",
    (0x0700, False, 0x06): "Get Tariff Information",
    (0x0700, False, 0x07): "Get Price Matrix",
    (0x0700, False, 0x08): "Get Block Thresholds",
    (0x0702, False, 0x00): "Get Profile",
    (0x0702, True, 0x00): "Get Profile Response",
    (0x0707, False, 0x00): "Get Calendar",
    (0x0708, False, 0x00): "Get Change of Tenancy",
    (0x0708, False, 0x01): "Get Change of Supplier",
    (0x0708, False, 0x02): "Request New Password",
    (0x0708, False, 0x03): "Get Site ID",
    (0x0708, False, 0x05): "Get CIN",
    (0x0709, False, 0x02): "Publish Event",
}


def command_name(cluster: int | None, frame_control: int, command_id: int) -> str | None:
    """Name of the command a ZCL header designates (``None`` if unknown)."""
    ft = frame_control & 0x03
    if ft == 0:
        return _GENERAL_COMMAND_NAMES.get(command_id)
    if ft != 1 or cluster is None:
        return None
    key = (cluster, bool(frame_control & 0x08), command_id)
    cls = _REGISTRY.get(key)
    return cls.NAME if cls is not None else _OTHER_COMMAND_NAMES.get(key)


def typed_commands() -> dict[tuple[int, bool, int], type[ZclCommand]]:
    """The cluster-specific commands decoded into typed records:
    ``(cluster, server_to_client, command id) -> record class``."""
    return dict(_REGISTRY)


def general_commands() -> dict[int, type[ZclCommand]]:
    """The general (profile-wide) commands decoded into typed records."""
    return dict(_GENERAL_CLASSES)


def decode_zcl_slice(
    buf: bytes, pos: int, end: int, cluster: int, frame_control: int, command_id: int, path: str
) -> ZclCommand:
    """Decode ``buf[pos:end]`` as the payload of the given command, without copying the
    buffer; error offsets are absolute in ``buf``."""
    if frame_control & 0x07 == 0x01:
        dec = _CLUSTER_DECODERS.get((frame_control & 0x08) << 21 | cluster << 8 | command_id)
    elif frame_control & 0x03 == 0:
        dec = _GENERAL.get(command_id)
    else:
        dec = None
    if dec is not None:
        return dec(buf, pos, end, path)  # type: ignore[no-any-return]
    return RawZclPayload(buf[pos:end])


def decode_zcl_command(
    buf: bytes, pos: int, end: int, cluster: int
) -> tuple[ZclHeader, ZclCommand]:
    """Decode a ZCL header and the payload that follows it up to ``end`` (the hot path
    of GBZ decoding). Error paths are relative: ``zcl.<field>`` or ``zcl_payload.<field>``;
    offsets are absolute in ``buf``."""
    if end - pos >= 3 and not buf[pos] & 0x04:
        key = buf[pos : pos + 3]
        hdr = _HDR_CACHE.get(key)
        if hdr is None:
            hdr = ZclHeader(key[0], key[1], key[2])
            if len(_HDR_CACHE) < 4096:
                _HDR_CACHE[key] = hdr
        pos += 3
    else:
        hdr, pos = decode_zcl_header(buf, pos, end, "zcl")
    fc = hdr.frame_control
    if fc & 0x07 == 0x01:
        dec = _CLUSTER_DECODERS.get((fc & 0x08) << 21 | cluster << 8 | hdr.command_id)
    elif fc & 0x03 == 0:
        dec = _GENERAL.get(hdr.command_id)
    else:
        dec = None
    if dec is None:
        return hdr, RawZclPayload(buf[pos:end])
    return hdr, dec(buf, pos, end, "zcl_payload")


def decode_zcl_payload(
    cluster: int,
    frame_control: int,
    command_id: int,
    data: bytes,
    path: str = "zcl_payload",
    base_offset: int = 0,
) -> ZclPayload:
    """Decode a standalone ZCL payload (e.g. the plaintext of an encrypted component).

    ``base_offset`` is added to the offsets of any :class:`GbcsDecodeError` so errors
    point into the enclosing message.
    """
    data = bytes(data)
    try:
        return decode_zcl_slice(data, 0, len(data), cluster, frame_control, command_id, path)
    except GbcsDecodeError as e:
        if not base_offset:
            raise
        raise GbcsDecodeError(e.path, e.offset + base_offset, e.reason) from None


def check_zcl_header(header: ZclHeader, body: ZclCommand) -> None:
    """Raise :class:`GbcsEncodeError` when ``header`` cannot carry ``body``.

    A typed general record needs a general frame with its command id; a typed
    cluster-specific record needs a cluster-specific, non-manufacturer-specific frame in
    its direction with its command id. Raw payloads fit any header.
    """
    if isinstance(body, RawZclPayload):
        return
    if isinstance(body, _Record):
        if header.frame_control & 0x07 != 0x01:
            raise GbcsEncodeError(f"{body.NAME} needs a cluster-specific ZCL frame")
        if header.server_to_client != body.SERVER_TO_CLIENT:
            way = "server to client" if body.SERVER_TO_CLIENT else "client to server"
            raise GbcsEncodeError(f"{body.NAME} travels {way}")
    elif header.frame_type != 0:
        raise GbcsEncodeError(f"{body.NAME} needs a general ZCL frame")
    cid = getattr(body, "COMMAND_ID", None)
    if cid is not None and header.command_id != cid:
        raise GbcsEncodeError(
            f"{body.NAME} has command id 0x{cid:02X}, header says 0x{header.command_id:02X}"
        )
