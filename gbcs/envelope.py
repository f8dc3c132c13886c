"""The GBCS envelope: General-Ciphering MAC header and General-Signing APDU.

Layouts follow ``gbcs-wire.md`` §3:

* ``DD 00 00 00 00 00 00 <BER len> 11 00000000 ‖ GS APDU ‖ MAC12`` (General-Ciphering),
* ``DF 09 CRA counter8 08 originator8 08 recipient8 <date-time> <other-information>
  <BER content length> content [signature]`` (General-Signing).

This module knows the envelope only. Content bytes are handed to the payload codecs
through :mod:`gbcs.codec`; cryptography lives in :mod:`gbcs.security`.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from enum import IntEnum, StrEnum
from functools import cache
from typing import TYPE_CHECKING, NamedTuple, NoReturn

from gbcs.cosem_time import DlmsDateTime
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field, leaf
from gbcs.wire import Reader, ber_length_size, encode_ber_length, parse_fixed

GENERAL_CIPHERING_TAG = 0xDD
GENERAL_SIGNING_TAG = 0xDF
SECURITY_HEADER = b"\x11\x00\x00\x00\x00"
MAC_HEADER_PREFIX = b"\xdd\x00\x00\x00\x00\x00\x00"
MAC_LENGTH = 12
SIGNATURE_LENGTH = 64
# Other-information lengths: code; + SRP id; + SRP counter; + supplementary originator counter.
_OI_CODE, _OI_SRP, _OI_SRP_COUNTER, _OI_SUPP_COUNTER = 2, 10, 18, 26


class Cra(IntEnum):
    """The CRA flag of the transaction id."""

    COMMAND = 1
    RESPONSE = 2
    ALERT = 3


class Envelope(StrEnum):
    """The outer form of a GBCS message."""

    GENERAL_CIPHERING = "general-ciphering"
    GENERAL_SIGNING = "general-signing"


class SignatureForm(StrEnum):
    """How the signature field of a General-Signing APDU is present."""

    ABSENT = "absent"  # no field at all (DUIS pre-command)
    NULL = "null"  # a single 00 byte
    PRESENT = "present"  # 40 ‖ r ‖ s


if TYPE_CHECKING:
    import construct as cs

# DF 09 CRA counter 08 originator 08 recipient: 29 fixed bytes. Well-formed headers are
# read with one unpack; the construct declaration (loaded on first need) reads the
# malformed ones, so their errors name the field construct names.
_GS_STRUCT = struct.Struct(">BBBQB8sB8s")
_GS_FIXED_SIZE = 29


@cache
def _gs_fixed() -> cs.Construct:
    import construct as cs

    return cs.Struct(
        "tag" / cs.Const(b"\xdf"),
        "transaction_id_length" / cs.Const(b"\x09"),
        "cra" / cs.Int8ub,
        "counter" / cs.Int64ub,
        "originator_length" / cs.Const(b"\x08"),
        "originator" / cs.Bytes(8),
        "recipient_length" / cs.Const(b"\x08"),
        "recipient" / cs.Bytes(8),
    ).compile()


def eui_hex(eui: bytes) -> str:
    """EUI-64 as 16 upper-case hex digits."""
    return eui.hex().upper()


def as_eui(value: bytes | str | int) -> bytes:
    """Normalise an EUI-64 given as 8 bytes, hex text (any case, optional separators) or int."""
    if isinstance(value, bytes | bytearray):
        b = bytes(value)
    elif isinstance(value, int):
        if not 0 <= value < 1 << 64:
            raise GbcsEncodeError(f"EUI-64 {value} out of range")
        b = value.to_bytes(8, "big")
    else:
        text = value.replace(":", "").replace("-", "").replace(" ", "")
        try:
            b = bytes.fromhex(text)
        except ValueError:
            raise GbcsEncodeError(f"EUI-64 {value!r} is not hex") from None
    if len(b) != 8:
        raise GbcsEncodeError(f"EUI-64 must be 8 bytes, got {len(b)}")
    return b


@dataclass(frozen=True, slots=True)
class OtherInformation:
    """Other-information: message code plus the optional supplementary fields."""

    message_code: int
    srp_id: bytes | None = None
    srp_counter: int | None = None
    supplementary_originator_counter: int | None = None
    certificate: bytes | None = None

    def encode(self) -> bytes:
        """The field's bytes without its length."""
        if not 0 <= self.message_code <= 0xFFFF:
            raise GbcsEncodeError(f"message code {self.message_code} out of range")
        out = self.message_code.to_bytes(2, "big")
        if self.srp_id is None:
            if (self.srp_counter, self.supplementary_originator_counter, self.certificate) != (
                None,
                None,
                None,
            ):
                raise GbcsEncodeError("supplementary fields need a supplementary remote party id")
            return out
        out += as_eui(self.srp_id)
        if self.srp_counter is None:
            if self.supplementary_originator_counter is not None or self.certificate is not None:
                raise GbcsEncodeError("supplementary fields need the SRP counter")
            return out
        out += _u64(self.srp_counter, "SRP counter")
        if self.supplementary_originator_counter is not None and self.certificate is not None:
            raise GbcsEncodeError(
                "a supplementary originator counter and a certificate exclude each other"
            )
        if self.supplementary_originator_counter is not None:
            out += _u64(self.supplementary_originator_counter, "supplementary originator counter")
        elif self.certificate is not None:
            if len(self.certificate) <= 8:
                raise GbcsEncodeError("certificate too short")
            out += self.certificate
        return out


@dataclass(frozen=True, slots=True)
class GroupingHeader:
    """The General-Signing header fields (everything before the content)."""

    cra: Cra
    counter: int
    originator: bytes
    recipient: bytes
    other: OtherInformation
    date_time: DlmsDateTime | None = None

    @property
    def message_code(self) -> int:
        return self.other.message_code

    def encode(self, content_length: int) -> bytes:
        """``DF`` through the content length byte(s)."""
        dt = b"\x00" if self.date_time is None else b"\x0c" + self.date_time.to_bytes()
        oi = self.other.encode()
        _u64(self.counter, "originator counter")
        fixed = _GS_STRUCT.pack(
            0xDF,
            0x09,
            int(self.cra),
            self.counter,
            8,
            as_eui(self.originator),
            8,
            as_eui(self.recipient),
        )
        return b"".join(
            (fixed, dt, encode_ber_length(len(oi)), oi, encode_ber_length(content_length))
        )


def _u64(v: int, what: str) -> bytes:
    if not 0 <= v < 1 << 64:
        raise GbcsEncodeError(f"{what} {v} out of range 0..2**64-1")
    return v.to_bytes(8, "big")


class EnvelopeLayout(NamedTuple):
    """Absolute offsets of a decoded message's parts (``end`` values are exclusive).

    Only offsets are recorded while decoding; :func:`envelope_fields` builds the display
    tree from them on demand, so decoding pays nothing for display.
    """

    gs_start: int
    content_start: int
    content_end: int
    gs_end: int  # end of the signature field
    mac_length_start: int  # -1 for the general-signing form
    date_time_start: int
    other_info_start: int
    content_length_start: int


class RawEnvelope(NamedTuple):
    """A decoded envelope with the content still undecoded."""

    envelope: Envelope
    header: GroupingHeader
    signature_form: SignatureForm
    signature: bytes  # 64 bytes when present, else empty
    mac: bytes | None
    layout: EnvelopeLayout


def _fail(path: str, offset: int, reason: str) -> NoReturn:
    raise GbcsDecodeError(path, offset, reason)


def _ber(buf: bytes, p: int, end: int, path: str) -> tuple[int, int]:
    """A minimal-form BER length at ``p`` (bounded by ``end``) and the position after it."""
    if p >= end:
        _fail(path, p, "needs 1 byte(s), 0 left")
    first = buf[p]
    if first < 0x80:
        return first, p + 1
    k = first & 0x7F
    if k == 0 or k > 3:
        _fail(path, p, f"unsupported BER length form 0x{first:02X}")
    if p + 1 + k > end:
        _fail(path, p + 1, f"needs {k} byte(s), {end - p - 1} left")
    n = int.from_bytes(buf[p + 1 : p + 1 + k], "big")
    if ber_length_size(n) != k + 1:
        _fail(path, p, "non-minimal length encoding")
    return n, p + 1 + k


def decode_envelope(buf: bytes) -> RawEnvelope:
    """Split a complete GBCS message into header, content slice, signature and MAC."""
    n = len(buf)
    if n == 0:
        _fail("envelope.tag", 0, "needs 1 byte(s), 0 left")
    first = buf[0]
    if first == GENERAL_CIPHERING_TAG:
        mac_len_start, gs_start, gs_end = _decode_mac_header(buf)
        mac: bytes | None = buf[gs_end:]
        envelope = Envelope.GENERAL_CIPHERING
    elif first == GENERAL_SIGNING_TAG:
        mac_len_start, gs_start, gs_end, mac = -1, 0, n, None
        envelope = Envelope.GENERAL_SIGNING
    else:
        _fail(
            "envelope.tag",
            0,
            f"expected DD (general-ciphering) or DF (general-signing), found {first:02X}",
        )
    header, dt_start, oi_start, cl_start, content_start, content_end = _decode_grouping_header(
        buf, gs_start, gs_end
    )
    p = content_end
    if p == gs_end:
        form, sig = SignatureForm.ABSENT, b""
    else:
        sig_len = buf[p]
        if sig_len == 0:
            form, sig, p = SignatureForm.NULL, b"", p + 1
        elif sig_len == SIGNATURE_LENGTH:
            if p + 1 + SIGNATURE_LENGTH > gs_end:
                _fail(
                    "general_signing.signature.value",
                    p + 1,
                    f"needs {SIGNATURE_LENGTH} byte(s), {gs_end - p - 1} left",
                )
            form, sig, p = SignatureForm.PRESENT, buf[p + 1 : p + 65], p + 65
        else:
            _fail("general_signing.signature.length", p, f"must be 00 or 40, found {sig_len:02X}")
        if p != gs_end:
            _fail("general_signing.signature", p, f"{gs_end - p} unexpected trailing byte(s)")
    layout = EnvelopeLayout(
        gs_start, content_start, content_end, p, mac_len_start, dt_start, oi_start, cl_start
    )
    return RawEnvelope(envelope, header, form, sig, mac, layout)


def _decode_mac_header(buf: bytes) -> tuple[int, int, int]:
    """(ciphered-length offset, GS APDU start, GS APDU end) of a General-Ciphering message."""
    n = len(buf)
    if buf[:7] != MAC_HEADER_PREFIX:
        got = buf[:7]
        if len(got) < 7:
            _fail("mac_header.fields", len(got), f"needs 7 byte(s), {len(got)} left")
        _fail(
            "mac_header.fields",
            0,
            f"expected {MAC_HEADER_PREFIX.hex().upper()}, found {got.hex().upper()}",
        )
    # The usual length forms inline (minimal encodings only); the rest, and every
    # malformed one, through _ber and its errors.
    first = buf[7] if n > 7 else -1
    if 0 <= first < 0x80:
        length, sec_start = first, 8
    elif first == 0x81 and n > 8 and buf[8] >= 0x80:
        length, sec_start = buf[8], 9
    elif first == 0x82 and n > 9 and buf[8]:
        length, sec_start = (buf[8] << 8) | buf[9], 10
    else:
        length, sec_start = _ber(buf, 7, n, "mac_header.ciphered_length")
    if length < len(SECURITY_HEADER) + MAC_LENGTH + 1:
        _fail("mac_header.ciphered_length", 7, f"{length} is too short")
    if buf[sec_start : sec_start + 5] != SECURITY_HEADER:
        got = buf[sec_start : sec_start + 5]
        if len(got) < 5:
            _fail("mac_header.security_header", sec_start, f"needs 5 byte(s), {len(got)} left")
        _fail(
            "mac_header.security_header",
            sec_start,
            f"expected {SECURITY_HEADER.hex().upper()}, found {got.hex().upper()}",
        )
    end = sec_start + length
    if end != n:
        if end > n:
            _fail(
                "mac_header.ciphered_length",
                7,
                f"{length} exceeds the {n - sec_start} bytes present",
            )
        _fail("mac", end, f"{n - end} unexpected trailing byte(s) after the MAC")
    return 7, sec_start + 5, end - MAC_LENGTH


def _decode_grouping_header(
    buf: bytes, start: int, end: int
) -> tuple[GroupingHeader, int, int, int, int, int]:
    if (
        end - start >= _GS_FIXED_SIZE
        and buf[start] == 0xDF
        and buf[start + 1] == 0x09
        and buf[start + 11] == 0x08
        and buf[start + 20] == 0x08
    ):
        _, _, cra_flag, counter, _, originator, _, recipient = _GS_STRUCT.unpack_from(buf, start)
    else:
        r = Reader(buf, start, end, "general_signing")
        fixed = parse_fixed(_gs_fixed(), r, _GS_FIXED_SIZE, "grouping_header")
        cra_flag, counter = fixed.cra, fixed.counter
        originator, recipient = fixed.originator, fixed.recipient
    cra = _CRAS.get(cra_flag)
    if cra is None:
        _fail(
            "general_signing.grouping_header.cra",
            start + 2,
            f"CRA flag must be 01, 02 or 03, found {cra_flag:02X}",
        )
    dt_start = p = start + _GS_FIXED_SIZE
    if p >= end:
        _fail("general_signing.grouping_header.date_time.length", p, "needs 1 byte(s), 0 left")
    dt_len = buf[p]
    date_time = None
    if dt_len == 12:
        if p + 13 > end:
            _fail(
                "general_signing.grouping_header.date_time",
                p + 1,
                f"needs 12 byte(s), {end - p - 1} left",
            )
        date_time = DlmsDateTime.from_bytes(buf[p + 1 : p + 13])
        p += 13
    elif dt_len == 0:
        p += 1
    else:
        _fail(
            "general_signing.grouping_header.date_time.length",
            p,
            f"must be 00 or 0C, found {dt_len:02X}",
        )
    oi_start = p
    if p + 3 <= end and buf[p] == _OI_CODE:  # code only, as _decode_other_information reads it
        code = (buf[p + 1] << 8) | buf[p + 2]
        other = _CODE_ONLY.get(code) or _code_only(code)
        cl_start = p + 3
    else:
        other, cl_start = _decode_other_information(buf, p, end)
    first = buf[cl_start] if cl_start < end else -1  # as in _decode_mac_header
    if 0 <= first < 0x80:
        content_length, content_start = first, cl_start + 1
    elif first == 0x81 and cl_start + 1 < end and buf[cl_start + 1] >= 0x80:
        content_length, content_start = buf[cl_start + 1], cl_start + 2
    else:
        content_length, content_start = _ber(
            buf, cl_start, end, "general_signing.grouping_header.content_length"
        )
    content_end = content_start + content_length
    if content_end > end:
        _fail(
            "general_signing.content",
            content_start,
            f"needs {content_length} byte(s), {end - content_start} left",
        )
    header = _new_header(cra, counter, originator, recipient, other, date_time)
    return header, dt_start, oi_start, cl_start, content_start, content_end


# In field order; a field added to GroupingHeader makes the unpacking below fail loudly.
_SET_HEADER = tuple(GroupingHeader.__dict__[f.name].__set__ for f in fields(GroupingHeader))


def _new_header(
    cra: Cra,
    counter: int,
    originator: bytes,
    recipient: bytes,
    other: OtherInformation,
    date_time: DlmsDateTime | None,
) -> GroupingHeader:
    """``GroupingHeader(...)`` for decoded values, without the frozen dataclass's
    ``__init__`` (a tenth of the envelope decode): the same object, fields set through
    their slots."""
    h = object.__new__(GroupingHeader)
    s_cra, s_counter, s_orig, s_rcpt, s_other, s_dt = _SET_HEADER
    s_cra(h, cra)
    s_counter(h, counter)
    s_orig(h, originator)
    s_rcpt(h, recipient)
    s_other(h, other)
    s_dt(h, date_time)
    return h


_CRAS = {c.value: c for c in Cra}
# Immutable, at most 65,536 entries: decoded messages share their code-only instances.
_CODE_ONLY: dict[int, OtherInformation] = {}
_OI_VALID = "2, 10, 18, 26 or a certificate after byte 18"
_OI = "general_signing.grouping_header.other_information"


def _code_only(code: int) -> OtherInformation:
    oi = _CODE_ONLY[code] = OtherInformation(code)
    return oi


def _decode_other_information(buf: bytes, start: int, end: int) -> tuple[OtherInformation, int]:
    length, p = _ber(buf, start, end, f"{_OI}.length")
    oi_end = p + length
    if oi_end > end:
        _fail(_OI, p, f"needs {length} byte(s), {end - p} left")
    if length == _OI_CODE:
        code = (buf[p] << 8) | buf[p + 1]
        return _CODE_ONLY.get(code) or _code_only(code), oi_end
    if length not in (_OI_SRP, _OI_SRP_COUNTER, _OI_SUPP_COUNTER) and length <= _OI_SUPP_COUNTER:
        _fail(f"{_OI}.length", start, f"{length} is not a valid length ({_OI_VALID})")
    code = (buf[p] << 8) | buf[p + 1]
    srp_id = buf[p + 2 : p + 10]
    srp_counter = supp = cert = None
    if length >= _OI_SRP_COUNTER:
        srp_counter = int.from_bytes(buf[p + 10 : p + 18], "big")
    if length == _OI_SUPP_COUNTER:
        supp = int.from_bytes(buf[p + 18 : p + 26], "big")
    elif length > _OI_SUPP_COUNTER:
        _check_der_spans(buf, p + 18, oi_end)
        cert = buf[p + 18 : oi_end]
    return OtherInformation(code, srp_id, srp_counter, supp, cert), oi_end


def _check_der_spans(buf: bytes, start: int, end: int) -> None:
    """The certificate must be one DER SEQUENCE filling the rest of other-information."""
    path = f"{_OI}.supplementary_remote_party_certificate"
    if buf[start] != 0x30:
        _fail(f"{path}.tag", start, f"expected a DER SEQUENCE (30), found {buf[start]:02X}")
    n, p = _ber(buf, start + 1, end, f"{path}.length")
    if end - p != n:
        _fail(
            f"{path}.length",
            start + 1,
            f"DER length {n} does not match the {end - p} bytes present",
        )


def envelope_fields(
    buf: bytes, lay: EnvelopeLayout, h: GroupingHeader, form: SignatureForm
) -> tuple[list[Field], list[Field]]:
    """Display fields of a decoded envelope: (header fields, signature and MAC fields)."""
    head: list[Field] = []
    if lay.mac_length_start >= 0:
        ls, ss = lay.mac_length_start, lay.gs_start - len(SECURITY_HEADER)
        head += [
            leaf("General Ciphering", buf, 0, ls),
            leaf("Ciphered Service Length", buf, ls, ss, len(buf) - ss),
            leaf("Security Header", buf, ss, lay.gs_start),
        ]
    g = lay.gs_start
    head += [
        leaf("General Signing", buf, g, g + 2),
        leaf("CRA Flag", buf, g + 2, g + 3, h.cra.name.title()),
        leaf("Originator Counter", buf, g + 3, g + 11, h.counter),
        leaf("Originator System Title", buf, g + 11, g + 20, eui_hex(h.originator)),
        leaf("Recipient System Title", buf, g + 20, g + 29, eui_hex(h.recipient)),
        leaf("Date Time", buf, lay.date_time_start, lay.other_info_start, h.date_time or "absent"),
        _other_info_field(buf, lay, h.other),
        leaf(
            "Content Length",
            buf,
            lay.content_length_start,
            lay.content_start,
            lay.content_end - lay.content_start,
        ),
    ]
    tail: list[Field] = []
    s = lay.content_end
    if form is not SignatureForm.ABSENT:
        tail.append(leaf("Signature Length", buf, s, s + 1, lay.gs_end - s - 1))
        if form is SignatureForm.PRESENT:
            tail.append(leaf("Signature", buf, s + 1, lay.gs_end))
    if lay.mac_length_start >= 0:
        tail.append(leaf("MAC", buf, lay.gs_end, lay.gs_end + MAC_LENGTH))
    return head, tail


def _other_info_field(buf: bytes, lay: EnvelopeLayout, oi: OtherInformation) -> Field:
    start = lay.other_info_start
    end = lay.content_length_start
    content_start = end - len(oi.encode())
    p = content_start
    kids = [leaf("Message Code", buf, p, p + 2, f"0x{oi.message_code:04X}")]
    p += 2
    if oi.srp_id is not None:
        kids.append(leaf("Supplementary Remote Party ID", buf, p, p + 8, eui_hex(oi.srp_id)))
        p += 8
    if oi.srp_counter is not None:
        kids.append(leaf("Supplementary Remote Party Counter", buf, p, p + 8, oi.srp_counter))
        p += 8
    if oi.supplementary_originator_counter is not None:
        kids.append(
            leaf(
                "Supplementary Originator Counter",
                buf,
                p,
                p + 8,
                oi.supplementary_originator_counter,
            )
        )
    elif oi.certificate is not None:
        kids.append(
            leaf(
                "Supplementary Remote Party KA Certificate",
                buf,
                p,
                end,
                f"{len(oi.certificate)} bytes DER",
            )
        )
    return Field(
        "Other Information",
        start,
        bytes(buf[start:end]),
        f"length {end - content_start}",
        tuple(kids),
    )


def encode_general_signing(
    header: GroupingHeader, content: bytes, form: SignatureForm, signature: bytes = b""
) -> bytes:
    """Assemble a General-Signing APDU from its parts."""
    gs = header.encode(len(content)) + content
    if form is SignatureForm.ABSENT:
        if signature:
            raise GbcsEncodeError("an absent signature field cannot carry a signature")
        return gs
    if form is SignatureForm.NULL:
        if signature:
            raise GbcsEncodeError("a null signature field cannot carry a signature")
        return gs + b"\x00"
    if len(signature) != SIGNATURE_LENGTH:
        raise GbcsEncodeError(
            f"signature must be {SIGNATURE_LENGTH} bytes (r‖s), got {len(signature)}"
        )
    return gs + b"\x40" + signature


def encode_general_ciphering(gs_apdu: bytes, mac: bytes) -> bytes:
    """Wrap a General-Signing APDU in the MAC header and append the 12-byte MAC."""
    if len(mac) != MAC_LENGTH:
        raise GbcsEncodeError(f"MAC must be {MAC_LENGTH} bytes, got {len(mac)}")
    length = len(SECURITY_HEADER) + len(gs_apdu) + MAC_LENGTH
    return MAC_HEADER_PREFIX + encode_ber_length(length) + SECURITY_HEADER + gs_apdu + mac


def signed_bytes(gs_apdu_without_signature: bytes) -> bytes:
    """The bytes an ECDSA signature covers: the GS APDU after ``DF`` up to the end of content."""
    return gs_apdu_without_signature[1:]
