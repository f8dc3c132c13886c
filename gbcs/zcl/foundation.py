"""ZCL foundation: the frame header, the command base classes and the general
(profile-wide) commands: Read Attributes, Write Attributes, their responses and
Default Response."""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field
from gbcs.zcl.datatypes import ZclValue, _decode_value, _join
from gbcs.zcl.names import (
    DATA_TYPE_NAMES,
    _status_text,
    attribute_name,
    command_name,
    registered_command,
)

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
            cls = registered_command(cluster, not frame_control & 0x08, self.command_id)
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
