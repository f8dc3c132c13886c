"""GBZ payloads: ZigBee SE commands wrapped for GSME/GPF use cases (``gbcs-wire.md`` §4.3).

Layout of the content (all GBZ header integers big-endian, ZCL payloads little-endian)::

    01 09                      profile id (ZigBee Smart Energy)
    NN                         number of GBZ use-case-specific components
    -- alerts only (CRA flag 3) --
    AAAA TTTTTTTT              alert code, time stamp (UTCTime, seconds since 2000)
    [alert-specific data]      counted as one of the NN components (see below)
    -- NN components (minus the alert-specific one) --
    CC KKKK LLLL               extended header control, cluster id, length of the rest
    [FFFFFFFF]                 from date-time (UTCTime) when CC & 0x10
    [AH FC]                    additional header control, frame counter when CC & 0x02
    FC [MMMM] SQ CMD           ZCL header (clear text)
    ZCL payload | LLLL 31 00000000 ct tag12   (the latter when CC & 0x02)

What the 152 GBZ vectors show, and this codec enforces:

* the last-component flag (0x01) is set on the last component and only there;
  reserved control bits (other than 0x01, 0x02, 0x10) are never set;
* the component length and the ciphered-information length are exactly consumed, and
  the content ends exactly after the NN-th component;
* alert-specific data, when present, counts as one component: future-dated outcome
  alerts 0x8F66/0x8F67 (``0E`` ‖ message code ‖ originator counter ‖ cluster ‖ frame
  control ‖ command id), firmware alerts 0x8F1C/0x8F72 (``09 20`` ‖ image hash) and the
  integrity warning 0x81A0 (2-byte other information) all have NN = 1 and no component,
  while e.g. 0x8F0A carries NN = 1 real component and 0x8F30 has NN = 0. Which alert
  carries which data is decided by the alert code; for a code not listed here the bytes
  are decoded as components and, if that fails and NN is 1, kept raw
  (:class:`RawAlertData`);
* the encrypted-component frame counter counts the encrypted components (0, 1, 2 …);
  it is kept as decoded, and computed by the builder when left ``None``.

Builders compute the component count, lengths, control bytes and frame counters; the
``count``/``control``/``length`` fields override them (to build malformed frames for
tests). Decoded objects leave those overrides ``None``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import NoReturn

import construct as cs

from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.payload import EncryptedPart, PartContext, PayloadKind
from gbcs.tree import Field
from gbcs.wire import Reader, parse_fixed
from gbcs.zcl import (
    ZclHeader,
    ZclPayload,
    check_zcl_header,
    cluster_name,
    command_name,
    decode_zcl_command,
    decode_zcl_header,
    format_utc,
)

__all__ = [
    "CTRL_ENCRYPTED",
    "CTRL_FROM_DATE_TIME",
    "CTRL_LAST",
    "PROFILE_ID",
    "SECURITY_HEADER",
    "AlertSpecific",
    "FirmwareImageHash",
    "FutureDatedOutcome",
    "GbzAlertHeader",
    "GbzCiphered",
    "GbzComponent",
    "GbzPayload",
    "IntegrityWarning",
    "RawAlertData",
    "ZclHeader",
    "alert_has_specific_data",
    "decode_gbz",
]

PROFILE_ID = 0x0109
CTRL_LAST = 0x01
CTRL_ENCRYPTED = 0x02
CTRL_FROM_DATE_TIME = 0x10
_CTRL_KNOWN = CTRL_LAST | CTRL_ENCRYPTED | CTRL_FROM_DATE_TIME
SECURITY_HEADER = b"\x31\x00\x00\x00\x00"
_MIN_BLOB = len(SECURITY_HEADER) + 12

_COMPONENT_HEADER = struct.Struct(">BHH")

_ALERT_HEADER = cs.Struct("alert_code" / cs.Int16ub, "timestamp" / cs.Int32ub).compile()
_FUTURE_DATED = cs.Struct(
    "length" / cs.Const(b"\x0e"),
    "message_code" / cs.Int16ub,
    "originator_counter" / cs.Int64ub,
    "cluster" / cs.Int16ub,
    "frame_control" / cs.Int8ub,
    "command_id" / cs.Int8ub,
).compile()

# --------------------------------------------------------------------------- alert data


@dataclass(frozen=True, slots=True)
class FutureDatedOutcome:
    """Alerts 0x8F66/0x8F67: which future-dated command was (not) actioned."""

    message_code: int
    originator_counter: int
    cluster: int
    frame_control: int
    command_id: int

    def encode(self) -> bytes:
        try:
            return bytes(
                _FUTURE_DATED.build(
                    {
                        "message_code": self.message_code,
                        "originator_counter": self.originator_counter,
                        "cluster": self.cluster,
                        "frame_control": self.frame_control,
                        "command_id": self.command_id,
                    }
                )
            )
        except (cs.ConstructError, struct.error, OverflowError) as e:
            raise GbcsEncodeError(f"future-dated outcome out of range: {e}") from None

    def fields(self, base: int) -> tuple[Field, ...]:
        raw = self.encode()
        name = command_name(self.cluster, self.frame_control, self.command_id)
        kids = (
            Field("Length", base, raw[0:1], "14"),
            Field("Message code", base + 1, raw[1:3], f"0x{self.message_code:04X}"),
            Field("Originator counter", base + 3, raw[3:11], str(self.originator_counter)),
            Field("Cluster id", base + 11, raw[11:13], cluster_name(self.cluster)),
            Field("Frame control", base + 13, raw[13:14], f"0x{self.frame_control:02X}"),
            Field(
                "Command id",
                base + 14,
                raw[14:15],
                f"0x{self.command_id:02X}" + (f" ({name})" if name else ""),
            ),
        )
        return (Field("Future-dated command outcome", base, raw, None, kids),)


@dataclass(frozen=True, slots=True)
class FirmwareImageHash:
    """Alerts 0x8F1C/0x8F72: the calculated firmware image hash (``09 LL`` ‖ hash)."""

    image_hash: bytes

    def encode(self) -> bytes:
        if len(self.image_hash) >= 0x80:
            raise GbcsEncodeError(f"image hash of {len(self.image_hash)} byte(s) too long")
        return bytes((0x09, len(self.image_hash))) + self.image_hash

    def fields(self, base: int) -> tuple[Field, ...]:
        raw = self.encode()
        return (
            Field(
                "Calculated firmware image hash",
                base,
                raw,
                self.image_hash.hex().upper(),
                (
                    Field("Octet-string tag", base, raw[:1], "0x09"),
                    Field("Length", base + 1, raw[1:2], str(len(self.image_hash))),
                    Field("Hash", base + 2, raw[2:], self.image_hash.hex().upper()),
                ),
            ),
        )


@dataclass(frozen=True, slots=True)
class IntegrityWarning:
    """Alert 0x81A0: the 2-byte other information (reason)."""

    other_information: int

    def encode(self) -> bytes:
        if not 0 <= self.other_information <= 0xFFFF:
            raise GbcsEncodeError(f"other information {self.other_information} out of range")
        return self.other_information.to_bytes(2, "big")

    def fields(self, base: int) -> tuple[Field, ...]:
        return (Field("Other information", base, self.encode(), f"0x{self.other_information:04X}"),)


@dataclass(frozen=True, slots=True)
class RawAlertData:
    """Alert-specific bytes this codec does not model (kept byte for byte)."""

    data: bytes

    def encode(self) -> bytes:
        return self.data

    def fields(self, base: int) -> tuple[Field, ...]:
        return (
            Field("Alert-specific data (not decoded)", base, self.data, self.data.hex().upper()),
        )


AlertSpecific = FutureDatedOutcome | FirmwareImageHash | IntegrityWarning | RawAlertData


def _dec_future_dated(r: Reader) -> FutureDatedOutcome:
    v = parse_fixed(_FUTURE_DATED, r, 15, "future_dated")
    return FutureDatedOutcome(
        v.message_code, v.originator_counter, v.cluster, v.frame_control, v.command_id
    )


def _dec_image_hash(r: Reader) -> FirmwareImageHash:
    tag_pos = r.pos
    if r.u8("tag") != 0x09:
        r.fail("tag", f"expected octet-string tag 09, found {r.buf[tag_pos]:02X}", tag_pos)
    n_pos = r.pos
    n = r.u8("length")
    if n >= 0x80:
        r.fail("length", f"unsupported hash length form 0x{n:02X}", n_pos)
    return FirmwareImageHash(r.take(n, "image_hash"))


def _dec_integrity(r: Reader) -> IntegrityWarning:
    return IntegrityWarning(r.u16("other_information"))


_ALERT_SPECIFIC = {
    0x8F66: _dec_future_dated,
    0x8F67: _dec_future_dated,
    0x8F1C: _dec_image_hash,
    0x8F72: _dec_image_hash,
    0x81A0: _dec_integrity,
}


_SPECIFIC_TYPES: dict[int, type] = {
    0x8F66: FutureDatedOutcome,
    0x8F67: FutureDatedOutcome,
    0x8F1C: FirmwareImageHash,
    0x8F72: FirmwareImageHash,
    0x81A0: IntegrityWarning,
}


def alert_has_specific_data(alert_code: int) -> bool:
    """Whether alerts with this code carry modelled alert-specific data."""
    return alert_code in _ALERT_SPECIFIC


@dataclass(frozen=True, slots=True)
class GbzAlertHeader:
    """Alert code, time stamp (UTCTime) and optional alert-specific data."""

    alert_code: int
    timestamp: int
    specific: AlertSpecific | None = None

    def encode(self) -> bytes:
        try:
            head = bytes(
                _ALERT_HEADER.build({"alert_code": self.alert_code, "timestamp": self.timestamp})
            )
        except (cs.ConstructError, struct.error, OverflowError) as e:
            raise GbcsEncodeError(f"alert header out of range: {e}") from None
        return head if self.specific is None else head + self.specific.encode()


# --------------------------------------------------------------------------- components


@dataclass(frozen=True, slots=True)
class GbzCiphered:
    """The protected part of an encrypted component.

    ``blob`` is ``31 00000000 ‖ ciphertext ‖ tag12`` (the ciphered-information length
    is computed). ``frame_counter`` ``None`` means "this component's index among the
    payload's encrypted components", which is what every vector carries.
    """

    blob: bytes
    frame_counter: int | None = None
    additional_header_control: int = 0

    @classmethod
    def from_parts(
        cls, ciphertext: bytes, tag: bytes, frame_counter: int | None = None
    ) -> GbzCiphered:
        """Wrap a GCM ciphertext and its 12-byte tag."""
        if len(tag) != 12:
            raise GbcsEncodeError(f"GCM tag must be 12 bytes, got {len(tag)}")
        return cls(SECURITY_HEADER + ciphertext + tag, frame_counter)

    @property
    def ciphertext(self) -> bytes:
        return self.blob[5:-12]

    @property
    def tag(self) -> bytes:
        return self.blob[-12:]


@dataclass(frozen=True, slots=True)
class GbzComponent:
    """One GBZ component: a ZCL command for ``cluster``.

    Exactly one of ``body`` (clear ZCL payload) and ``ciphered`` (encrypted payload) is
    set. ``from_date_time`` (UTCTime) makes the command future-dated. ``control`` and
    ``length`` override the computed extended-header control byte and length.
    """

    cluster: int
    zcl: ZclHeader
    body: ZclPayload | None = None
    ciphered: GbzCiphered | None = None
    from_date_time: int | None = None
    control: int | None = None
    length: int | None = None

    @classmethod
    def command(
        cls,
        cluster: int,
        body: ZclPayload,
        sequence: int = 0,
        *,
        server_to_client: bool | None = None,
        disable_default_response: bool = False,
        from_date_time: int | None = None,
    ) -> GbzComponent:
        """A clear component whose ZCL header is derived from a typed ``body``.

        Cluster-specific records know their direction; general commands (Read
        Attributes, Default Response …) need ``server_to_client``.
        """
        cid = getattr(body, "COMMAND_ID", None)
        if cid is None:
            raise GbcsEncodeError("a raw ZCL payload needs an explicit ZclHeader")
        own = getattr(body, "SERVER_TO_CLIENT", None)
        if own is not None:
            if server_to_client is not None and server_to_client != own:
                raise GbcsEncodeError(f"{body.NAME} travels the other way")
            s2c = own
        elif server_to_client is None:
            raise GbcsEncodeError(f"{body.NAME} is a general command: give server_to_client")
        else:
            s2c = server_to_client
        hdr = ZclHeader.make(
            cid,
            sequence,
            cluster_specific=own is not None,
            server_to_client=s2c,
            disable_default_response=disable_default_response,
        )
        return cls(cluster, hdr, body, None, from_date_time)

    @property
    def encrypted(self) -> bool:
        return self.ciphered is not None

    @property
    def command_id(self) -> int:
        return self.zcl.command_id

    @property
    def frame_control(self) -> int:
        return self.zcl.frame_control

    def encode(self, *, last: bool = True, encrypted_index: int = 0) -> bytes:
        """Bytes of this component; ``last`` and ``encrypted_index`` come from its
        position in the payload (used when ``control``/``frame_counter`` are computed)."""
        inner = bytearray()
        ctl = CTRL_LAST if last else 0
        if self.from_date_time is not None:
            if not 0 <= self.from_date_time <= 0xFFFFFFFF:
                raise GbcsEncodeError(f"from date-time {self.from_date_time} out of range")
            inner += self.from_date_time.to_bytes(4, "big")
            ctl |= CTRL_FROM_DATE_TIME
        c = self.ciphered
        if c is not None:
            if self.body is not None:
                raise GbcsEncodeError("a component has either a clear body or a ciphered part")
            fcn = encrypted_index if c.frame_counter is None else c.frame_counter
            if not 0 <= fcn <= 0xFF or not 0 <= c.additional_header_control <= 0xFF:
                raise GbcsEncodeError("additional header byte out of range")
            blob = c.blob
            if len(blob) < _MIN_BLOB or blob[:5] != SECURITY_HEADER:
                raise GbcsEncodeError("ciphered blob must be 31 00000000 ‖ ciphertext ‖ tag12")
            if len(blob) > 0xFFFF:
                raise GbcsEncodeError(f"ciphered blob of {len(blob)} byte(s) too long")
            inner.append(c.additional_header_control)
            inner.append(fcn)
            inner += self.zcl.encode()
            inner += len(blob).to_bytes(2, "big")
            inner += blob
            ctl |= CTRL_ENCRYPTED
        else:
            if self.body is None:
                raise GbcsEncodeError("a component needs a clear body or a ciphered part")
            check_zcl_header(self.zcl, self.body)
            inner += self.zcl.encode()
            inner += self.body.encode()
        if self.control is not None:
            ctl = self.control
        n = len(inner) if self.length is None else self.length
        try:
            return _COMPONENT_HEADER.pack(ctl, self.cluster, n) + inner
        except struct.error as e:
            raise GbcsEncodeError(f"component header out of range: {e}") from None

    def fields(self, base: int, *, last: bool = True, encrypted_index: int = 0) -> Field:
        """Display node of this component laid out from ``base``."""
        raw = self.encode(last=last, encrypted_index=encrypted_index)
        ctl = raw[0]
        flags = [
            n
            for bit, n in (
                (CTRL_LAST, "last"),
                (CTRL_ENCRYPTED, "encrypted"),
                (CTRL_FROM_DATE_TIME, "from date-time"),
            )
            if ctl & bit
        ]
        kids = [
            Field(
                "Extended header control",
                base,
                raw[0:1],
                f"0x{ctl:02X} ({', '.join(flags) or 'none'})",
            ),
            Field("Cluster id", base + 1, raw[1:3], cluster_name(self.cluster)),
            Field("Length", base + 3, raw[3:5], str(int.from_bytes(raw[3:5], "big"))),
        ]
        p = 5
        if self.from_date_time is not None:
            kids.append(
                Field("From date-time", base + p, raw[p : p + 4], format_utc(self.from_date_time))
            )
            p += 4
        if self.ciphered is not None:
            kids.append(
                Field("Additional header control", base + p, raw[p : p + 1], f"0x{raw[p]:02X}")
            )
            kids.append(
                Field(
                    "Additional header frame counter",
                    base + p + 1,
                    raw[p + 1 : p + 2],
                    str(raw[p + 1]),
                )
            )
            p += 2
        hsize = self.zcl.size
        kids.append(
            Field(
                "ZCL header",
                base + p,
                raw[p : p + hsize],
                None,
                self.zcl.fields(base + p, self.cluster),
            )
        )
        p += hsize
        name = command_name(self.cluster, self.zcl.frame_control, self.zcl.command_id)
        if self.ciphered is not None:
            blob = self.ciphered.blob
            kids.append(
                Field("Ciphered information length", base + p, raw[p : p + 2], str(len(blob)))
            )
            p += 2
            q = base + p
            kids.append(
                Field(
                    "Encrypted ZCL payload",
                    q,
                    blob,
                    name,
                    (
                        Field(
                            "Security header", q, blob[:5], "0x31 (authenticated + encrypted), IC 0"
                        ),
                        Field("Ciphertext", q + 5, blob[5:-12], f"{len(blob) - 17} byte(s)"),
                        Field("AE MAC", q + len(blob) - 12, blob[-12:], blob[-12:].hex().upper()),
                    ),
                )
            )
        else:
            assert self.body is not None
            body_raw = raw[p:]
            kids.append(
                Field(
                    "ZCL payload",
                    base + p,
                    body_raw,
                    self.body.NAME,
                    self.body.fields(base + p, self.cluster, self.zcl.frame_control),
                )
            )
        summary = f"{cluster_name(self.cluster)}: {name or f'command 0x{self.zcl.command_id:02X}'}"
        if self.ciphered is not None:
            summary += " (encrypted)"
        return Field("GBZ component", base, raw, summary, tuple(kids))


# --------------------------------------------------------------------------- payload


@dataclass(frozen=True, slots=True)
class GbzPayload:
    """A decoded or built GBZ payload (satisfies :class:`gbcs.payload.Payload`).

    ``alert`` is set for alerts (CRA flag 3). ``count`` overrides the computed
    number-of-components byte (components plus one for alert-specific data).
    """

    components: tuple[GbzComponent, ...] = ()
    alert: GbzAlertHeader | None = None
    count: int | None = None

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.GBZ

    @property
    def component_count(self) -> int:
        """The number-of-components byte as encoded."""
        if self.count is not None:
            return self.count
        extra = 1 if self.alert is not None and self.alert.specific is not None else 0
        return len(self.components) + extra

    def _header(self) -> bytes:
        n = self.component_count
        if not 0 <= n <= 0xFF:
            raise GbcsEncodeError(f"{n} GBZ components do not fit the count byte")
        head = bytes((0x01, 0x09, n))
        return head if self.alert is None else head + self.alert.encode()

    def _check_alert(self) -> None:
        """Refuse alert data the decoder would read differently (wire ambiguities)."""
        a = self.alert
        if a is None or self.count is not None:
            return
        dec = _ALERT_SPECIFIC.get(a.alert_code)
        sp = a.specific
        if dec is not None:
            want = _SPECIFIC_TYPES[a.alert_code]
            if sp is None and self.components:
                raise GbcsEncodeError(
                    f"alert 0x{a.alert_code:04X} without its {want.__name__} cannot carry "
                    "components: the first would be read as alert-specific data"
                )
            if sp is not None and not isinstance(sp, want):
                raise GbcsEncodeError(
                    f"alert 0x{a.alert_code:04X} carries {want.__name__}, not {type(sp).__name__}"
                )
            return
        if sp is None:
            return
        if not isinstance(sp, RawAlertData):
            raise GbcsEncodeError(
                f"alert 0x{a.alert_code:04X} has no modelled alert-specific data; "
                f"use RawAlertData, not {type(sp).__name__}"
            )
        if self.components:
            raise GbcsEncodeError("raw alert-specific data cannot be followed by components")
        if not sp.data:
            raise GbcsEncodeError("raw alert-specific data must not be empty")
        try:
            _, p = _decode_components(sp.data, 0, len(sp.data), 1, "alert")
        except GbcsDecodeError:
            return
        if p == len(sp.data):
            raise GbcsEncodeError(
                "raw alert-specific data that parses as a GBZ component would decode as one"
            )

    def encode(self) -> bytes:
        """The exact content bytes."""
        self._check_alert()
        out = [self._header()]
        last = len(self.components) - 1
        enc = 0
        for i, c in enumerate(self.components):
            out.append(c.encode(last=i == last, encrypted_index=enc))
            if c.ciphered is not None:
                enc += 1
        return b"".join(out)

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        """Display tree laid out from ``base`` (the content's offset in the message)."""
        head = self._header()
        out = [
            Field("Profile ID", base, head[0:2], "0x0109 (ZigBee Smart Energy)"),
            Field("Number of GBZ components", base + 2, head[2:3], str(head[2])),
        ]
        p = base + 3
        if self.alert is not None:
            a = self.alert
            out.append(Field("Alert code", p, head[3:5], f"0x{a.alert_code:04X}"))
            out.append(Field("Alert time stamp", p + 2, head[5:9], format_utc(a.timestamp)))
            p += 6
            if a.specific is not None:
                out.extend(a.specific.fields(p))
                p += len(a.specific.encode())
        last = len(self.components) - 1
        enc = 0
        for i, c in enumerate(self.components):
            node = c.fields(p, last=i == last, encrypted_index=enc)
            out.append(
                Field(f"GBZ component [{i}]", node.offset, node.raw, node.value, node.children)
            )
            p += len(node.raw)
            if c.ciphered is not None:
                enc += 1
        return tuple(out)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        """The ciphered blobs, offsets (of the ``31`` byte) relative to the content start."""
        if not any(c.ciphered is not None for c in self.components):
            return ()
        parts = []
        p = len(self._header())
        last = len(self.components) - 1
        enc = 0
        for i, c in enumerate(self.components):
            size = len(c.encode(last=i == last, encrypted_index=enc))
            if c.ciphered is not None:
                off = p + 5 + (4 if c.from_date_time is not None else 0) + 2 + c.zcl.size + 2
                parts.append(
                    EncryptedPart(
                        index=enc,
                        path=f"components[{i}].ciphered",
                        offset=off,
                        blob=c.ciphered.blob,
                        context=PartContext.GBZ,
                        cluster=c.cluster,
                        command=c.zcl.command_id,
                        frame_control=c.zcl.frame_control,
                    )
                )
                enc += 1
            p += size
        return tuple(parts)


# --------------------------------------------------------------------------- decoding


def _decode_components(
    buf: bytes, pos: int, end: int, n: int, path: str
) -> tuple[tuple[GbzComponent, ...], int]:
    comps: list[GbzComponent] = []
    unpack = _COMPONENT_HEADER.unpack_from
    last = n - 1
    for k in range(n):
        if end - pos < 5:
            _fail_short_header(pos, end, k, n, path)
        ctl, cluster, length = unpack(buf, pos)
        p = pos + 5
        cend = p + length
        if ctl & ~_CTRL_KNOWN or (ctl & CTRL_LAST) != (k == last) or cend > end:
            _fail_header(ctl, length, pos, end, k, n, path)
        try:
            if ctl & (CTRL_ENCRYPTED | CTRL_FROM_DATE_TIME):
                comps.append(_decode_extended(buf, p, cend, ctl, cluster))
            else:
                hdr, body = decode_zcl_command(buf, p, cend, cluster)
                comps.append(GbzComponent(cluster, hdr, body))
        except GbcsDecodeError as e:
            raise e.nested(f"{path}.components[{k}]") from None
        pos = cend
    return tuple(comps), pos


def _fail_short_header(pos: int, end: int, k: int, n: int, path: str) -> NoReturn:
    cp = f"{path}.components[{k}]"
    left = end - pos
    if left <= 0:
        raise GbcsDecodeError(cp, pos, f"component {k + 1} of {n} missing: content ends")
    name, off = ("cluster", 1) if left < 3 else ("length", 3)
    raise GbcsDecodeError(f"{cp}.{name}", pos + off, f"needs 2 byte(s), {left - off} left")


def _fail_header(ctl: int, length: int, pos: int, end: int, k: int, n: int, path: str) -> NoReturn:
    cp = f"{path}.components[{k}]"
    if ctl & ~_CTRL_KNOWN:
        raise GbcsDecodeError(f"{cp}.control", pos, f"reserved control bit(s) set in 0x{ctl:02X}")
    if k == n - 1 and not ctl & CTRL_LAST:
        why = f"last-component flag missing on component {k + 1} of {n}"
        raise GbcsDecodeError(f"{cp}.control", pos, why)
    if k != n - 1 and ctl & CTRL_LAST:
        why = f"last-component flag set on component {k + 1} of {n}"
        raise GbcsDecodeError(f"{cp}.control", pos, why)
    raise GbcsDecodeError(
        f"{cp}.length",
        pos + 3,
        f"component length {length} exceeds the {end - pos - 5} byte(s) left",
    )


def _decode_extended(buf: bytes, p: int, cend: int, ctl: int, cluster: int) -> GbzComponent:
    """A component with a from date-time and/or an encrypted payload (paths relative).

    The frame counter decodes to the explicit wire byte, even when it equals the index
    the encoder would compute for ``frame_counter=None``: a decoded value says what was
    on the wire.
    """
    fdt = None
    if ctl & CTRL_FROM_DATE_TIME:
        if cend - p < 4:
            raise GbcsDecodeError("from_date_time", p, f"needs 4 byte(s), {cend - p} left")
        fdt = int.from_bytes(buf[p : p + 4], "big")
        p += 4
    if not ctl & CTRL_ENCRYPTED:
        hdr, body = decode_zcl_command(buf, p, cend, cluster)
        return GbzComponent(cluster, hdr, body, None, fdt)
    if cend - p < 2:
        name = "additional_header_control" if cend == p else "frame_counter"
        raise GbcsDecodeError(name, cend, "needs 1 byte(s), 0 left")
    ahc = buf[p]
    fcn = buf[p + 1]
    p += 2
    hdr, p = decode_zcl_header(buf, p, cend, "zcl")
    if cend - p < 2:
        raise GbcsDecodeError("ciphered_length", p, f"needs 2 byte(s), {cend - p} left")
    clen = buf[p] << 8 | buf[p + 1]
    p += 2
    if clen != cend - p:
        raise GbcsDecodeError(
            "ciphered_length",
            p - 2,
            f"ciphered information length {clen} does not match the {cend - p} byte(s) "
            "left in the component",
        )
    if clen < _MIN_BLOB:
        raise GbcsDecodeError(
            "ciphered", p, f"{clen} byte(s): shorter than security header + tag (17)"
        )
    if buf[p] != 0x31:
        raise GbcsDecodeError("ciphered.security_control", p, f"expected 31, found {buf[p]:02X}")
    if buf[p + 1 : p + 5] != b"\x00\x00\x00\x00":
        raise GbcsDecodeError(
            "ciphered.invocation_counter",
            p + 1,
            f"expected 00000000, found {buf[p + 1 : p + 5].hex().upper()}",
        )
    return GbzComponent(cluster, hdr, None, GbzCiphered(buf[p:cend], fcn, ahc), fdt)


def decode_gbz(
    buf: bytes, start: int, end: int, path: str = "payload", *, alert: bool
) -> GbzPayload:
    """Decode the GBZ content ``buf[start:end]`` (offsets absolute in ``buf``).

    ``alert`` is true when the message's CRA flag is 3 (alerts carry an alert header).
    Raises :class:`GbcsDecodeError` with the field path and absolute offset on any
    malformed or inconsistent input.
    """
    if end > len(buf) or start < 0 or start > end:
        raise GbcsDecodeError(path, start, f"content slice [{start}, {end}) outside the buffer")
    left = end - start
    if left < 3 or buf[start] != 0x01 or buf[start + 1] != 0x09:
        if left < 2:
            raise GbcsDecodeError(f"{path}.profile_id", start, f"needs 2 byte(s), {left} left")
        if buf[start] != 0x01 or buf[start + 1] != 0x09:
            raise GbcsDecodeError(
                f"{path}.profile_id",
                start,
                f"expected 0109, found {buf[start : start + 2].hex().upper()}",
            )
        raise GbcsDecodeError(f"{path}.count", start + 2, "needs 1 byte(s), 0 left")
    n = buf[start + 2]
    pos = start + 3
    header = None
    if alert:
        if end - pos < 6:
            name, off, size = ("alert_code", 0, 2) if end - pos < 2 else ("timestamp", 2, 4)
            raise GbcsDecodeError(
                f"{path}.alert.{name}", pos + off, f"needs {size} byte(s), {end - pos - off} left"
            )
        r = Reader(buf, pos, end, f"{path}.alert")
        h = parse_fixed(_ALERT_HEADER, r, 6, "header")
        specific: AlertSpecific | None = None
        dec = _ALERT_SPECIFIC.get(h.alert_code)
        if dec is not None and n >= 1:
            r.path = f"{path}.alert.specific"
            specific = dec(r)
            n -= 1
        elif dec is None and n == 1 and r.pos < end:
            # Unknown code: a component if the bytes parse as one, else raw alert data.
            try:
                comps, p = _decode_components(buf, r.pos, end, 1, path)
            except GbcsDecodeError:
                comps, p = (), -1
            if p == end:
                return GbzPayload(comps, GbzAlertHeader(h.alert_code, h.timestamp))
            specific = RawAlertData(buf[r.pos : end])
            r.pos = end
            n = 0
        pos = r.pos
        header = GbzAlertHeader(h.alert_code, h.timestamp, specific)
    comps, pos = _decode_components(buf, pos, end, n, path)
    if pos != end:
        raise GbcsDecodeError(
            path, pos, f"{end - pos} unexpected byte(s) after the last of {n} component(s)"
        )
    return GbzPayload(comps, header)
