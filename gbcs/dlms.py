"""DLMS APDUs carried as GBCS content (``gbcs-wire.md`` §4.2, §8.5).

Three APDUs occur:

* ``D9`` access-request (commands): long-invoke-id-and-priority, date-time, a list of
  access-request-specifications (get/set/action and the with-selection variants) and a
  list of ``Data`` (one per specification, null-data for gets).
* ``DA`` access-response: long-invoke-id-and-priority, date-time, the OPTIONAL echoed
  request specifications (``00`` absent), the list of ``Data`` and the list of
  access-response-specifications (get/set/action choice plus a result byte).
* ``0F`` data-notification (alerts): long-invoke-id-and-priority, date-time and one
  ``Data`` body; GBCS alerts use ``structure{alert code, date-time octet-string, ...}``.

Encrypted ("protected attribute") parts are ordinary A-XDR values: an array of
protection-parameters elements immediately followed, in the same structure, by an
octet-string ``31 00000000 ‖ ciphertext ‖ tag12``. :class:`ProtectionParameters` and
:class:`ProtectedAttributes` model them; every APDU lists them via ``encrypted_parts()``.

Fixed layouts are read with pre-compiled :mod:`struct` formats rather than ``construct``:
a compiled construct parse costs ~3 µs per access specification, which alone would
exceed the payload decode budget.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, NoReturn

from gbcs.axdr import (
    NULL,
    TYPE_NAMES,
    Data,
    DataType,
    _ber,
    _Err,
    _items,
    _mk,
    data_field,
    encode_data_into,
    encoded_size,
    value_str,
)
from gbcs.axdr import _dec as _dec_data
from gbcs.cosem_time import DlmsDateTime, _fast_factory
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.payload import EncryptedPart, PartContext, PayloadKind
from gbcs.tree import Field
from gbcs.wire import ber_length_size, encode_ber_length

_ARRAY = DataType.ARRAY
_ENUM = DataType.ENUM
_INTEGER = DataType.INTEGER
_LONG_UNSIGNED = DataType.LONG_UNSIGNED
_OCTET_STRING = DataType.OCTET_STRING
_STRUCTURE = DataType.STRUCTURE

ACCESS_REQUEST_TAG = 0xD9
ACCESS_RESPONSE_TAG = 0xDA
DATA_NOTIFICATION_TAG = 0x0F

_U32 = struct.Struct(">I")
_SPEC = struct.Struct(">BH6sB")  # choice, class id, instance id, attribute/method id
_SPEC_SIZE = _SPEC.size


def invoke_id_for_counter(counter: int) -> int:
    """GBCS long-invoke-id-and-priority for an originator counter [verified RTDS].

    ``0x20000000 | (counter & 0xFFFFFF)``: break-on-error set, low 24 bits of the counter.
    """
    return 0x20000000 | (counter & 0xFFFFFF)


# ---------------------------------------------------------------------------------------
# OBIS and name tables
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Obis:
    """A COSEM logical name (OBIS code) ``A-B:C.D.E.F``, six bytes on the wire."""

    a: int
    b: int
    c: int
    d: int
    e: int
    f: int

    def __post_init__(self) -> None:
        for v in (self.a, self.b, self.c, self.d, self.e, self.f):
            if not isinstance(v, int) or not 0 <= v <= 255:
                raise GbcsEncodeError(f"OBIS groups must be ints 0..255, got {v!r}")

    @classmethod
    def from_bytes(cls, data: bytes) -> Obis:
        if len(data) != 6:
            raise GbcsEncodeError(f"OBIS code needs 6 bytes, got {len(data)}")
        return _obis(bytes(data))

    @classmethod
    def parse(cls, text: str) -> Obis:
        """From ``"0-0:12.0.0.255"`` (also accepts ``"0.0.12.0.0.255"``)."""
        parts = text.replace("-", ".").replace(":", ".").split(".")
        try:
            values = [int(p, 10) for p in parts]
        except ValueError:
            raise GbcsEncodeError(f"not an OBIS code: {text!r}") from None
        if len(values) != 6:
            raise GbcsEncodeError(f"not an OBIS code: {text!r}")
        return cls(*values)

    def to_bytes(self) -> bytes:
        return bytes((self.a, self.b, self.c, self.d, self.e, self.f))

    def __str__(self) -> str:
        return f"{self.a}-{self.b}:{self.c}.{self.d}.{self.e}.{self.f}"


_make_obis = _fast_factory(Obis)
_OBIS_CACHE: dict[bytes, Obis] = {}


def _obis(raw: bytes) -> Obis:
    o = _OBIS_CACHE.get(raw)
    if o is None:
        o = _make_obis(*raw)
        if len(_OBIS_CACHE) < 4096:
            _OBIS_CACHE[raw] = o
    return o


CLASS_NAMES: dict[int, str] = {
    1: "Data",
    3: "Register",
    4: "Extended Register",
    5: "Demand Register",
    7: "Profile Generic",
    8: "Clock",
    9: "Script Table",
    10: "Schedule",
    11: "Special Days Table",
    15: "Association LN",
    18: "Image Transfer",
    20: "Activity Calendar",
    21: "Register Monitor",
    22: "Single Action Schedule",
    30: "Data Protection",
    40: "Push Setup",
    64: "Security Setup",
    70: "Disconnect Control",
    71: "Limiter",
    104: "ZigBee Network Control",
    111: "Account",
    112: "Credit",
    113: "Charge",
    115: "Token Gateway",
    9000: "GBCS Extended Data",
}
"""COSEM interface class names for the class ids GBCS uses."""


class DataAccessResult(IntEnum):
    """Result of a get/set (DLMS ``Data-Access-Result``)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_GET_ABORTED = 15
    NO_LONG_GET_IN_PROGRESS = 16
    LONG_SET_ABORTED = 17
    NO_LONG_SET_IN_PROGRESS = 18
    DATA_BLOCK_NUMBER_INVALID = 19
    OTHER_REASON = 250


class ActionResultCode(IntEnum):
    """Result of an action (DLMS ``Action-Result``)."""

    SUCCESS = 0
    HARDWARE_FAULT = 1
    TEMPORARY_FAILURE = 2
    READ_WRITE_DENIED = 3
    OBJECT_UNDEFINED = 4
    OBJECT_CLASS_INCONSISTENT = 9
    OBJECT_UNAVAILABLE = 11
    TYPE_UNMATCHED = 12
    SCOPE_OF_ACCESS_VIOLATED = 13
    DATA_BLOCK_UNAVAILABLE = 14
    LONG_ACTION_ABORTED = 15
    NO_LONG_ACTION_IN_PROGRESS = 16
    OTHER_REASON = 250


def _result_name(enum: type[IntEnum], value: int) -> str:
    try:
        return f"{value} ({enum(value).name.lower().replace('_', '-')})"
    except ValueError:
        return str(value)


def _check_u8(name: str, v: int) -> None:
    if not isinstance(v, int) or not 0 <= v <= 0xFF:
        raise GbcsEncodeError(f"{name} must be an int 0..255, got {v!r}")


def _check_spec(class_id: int, obis: Obis, member: int) -> None:
    if not isinstance(class_id, int) or not 0 <= class_id <= 0xFFFF:
        raise GbcsEncodeError(f"class id must be an int 0..65535, got {class_id!r}")
    if not isinstance(obis, Obis):
        raise GbcsEncodeError(f"instance id must be an Obis, got {obis!r}")
    _check_u8("attribute/method id", member)


# ---------------------------------------------------------------------------------------
# access-request-specification (CHOICE)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetSpec:
    """``access-request-get [1]``: class id, instance id, attribute id (raw byte)."""

    class_id: int
    obis: Obis
    attribute: int

    CHOICE: ClassVar[int] = 1
    KIND: ClassVar[str] = "Get"

    def __post_init__(self) -> None:
        _check_spec(self.class_id, self.obis, self.attribute)


@dataclass(frozen=True, slots=True)
class SetSpec:
    """``access-request-set [2]``: class id, instance id, attribute id."""

    class_id: int
    obis: Obis
    attribute: int

    CHOICE: ClassVar[int] = 2
    KIND: ClassVar[str] = "Set"

    def __post_init__(self) -> None:
        _check_spec(self.class_id, self.obis, self.attribute)


@dataclass(frozen=True, slots=True)
class ActionSpec:
    """``access-request-action [3]``: class id, instance id, method id."""

    class_id: int
    obis: Obis
    method: int

    CHOICE: ClassVar[int] = 3
    KIND: ClassVar[str] = "Action"

    def __post_init__(self) -> None:
        _check_spec(self.class_id, self.obis, self.method)


@dataclass(frozen=True, slots=True)
class GetWithSelectionSpec:
    """``access-request-get-with-selection [4]``: attribute plus selective access."""

    class_id: int
    obis: Obis
    attribute: int
    selector: int
    parameters: Data

    CHOICE: ClassVar[int] = 4
    KIND: ClassVar[str] = "Get With Selection"

    def __post_init__(self) -> None:
        _check_spec(self.class_id, self.obis, self.attribute)
        _check_u8("access selector", self.selector)
        if not isinstance(self.parameters, Data):
            raise GbcsEncodeError("access parameters must be Data")


@dataclass(frozen=True, slots=True)
class SetWithSelectionSpec:
    """``access-request-set-with-selection [5]``: attribute plus selective access."""

    class_id: int
    obis: Obis
    attribute: int
    selector: int
    parameters: Data

    CHOICE: ClassVar[int] = 5
    KIND: ClassVar[str] = "Set With Selection"

    def __post_init__(self) -> None:
        _check_spec(self.class_id, self.obis, self.attribute)
        _check_u8("access selector", self.selector)
        if not isinstance(self.parameters, Data):
            raise GbcsEncodeError("access parameters must be Data")


AccessRequestSpec = GetSpec | SetSpec | ActionSpec | GetWithSelectionSpec | SetWithSelectionSpec
_SPEC_CLASSES: tuple[type, ...] = (
    GetSpec,
    SetSpec,
    ActionSpec,
    GetWithSelectionSpec,
    SetWithSelectionSpec,
)
_SPEC_FACTORIES = {c.CHOICE: _fast_factory(c) for c in _SPEC_CLASSES}  # type: ignore[attr-defined]


def _spec_member(s: AccessRequestSpec) -> int:
    return s.method if isinstance(s, ActionSpec) else s.attribute


# ---------------------------------------------------------------------------------------
# access-response-specification (CHOICE)
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GetResult:
    """``access-response-get [1]``: a data-access-result byte."""

    result: int = 0

    CHOICE: ClassVar[int] = 1
    KIND: ClassVar[str] = "Get"

    def __post_init__(self) -> None:
        _check_u8("result", self.result)

    @property
    def ok(self) -> bool:
        return self.result == 0


@dataclass(frozen=True, slots=True)
class SetResult:
    """``access-response-set [2]``: a data-access-result byte."""

    result: int = 0

    CHOICE: ClassVar[int] = 2
    KIND: ClassVar[str] = "Set"

    def __post_init__(self) -> None:
        _check_u8("result", self.result)

    @property
    def ok(self) -> bool:
        return self.result == 0


@dataclass(frozen=True, slots=True)
class ActionResult:
    """``access-response-action [3]``: an action-result byte."""

    result: int = 0

    CHOICE: ClassVar[int] = 3
    KIND: ClassVar[str] = "Action"

    def __post_init__(self) -> None:
        _check_u8("result", self.result)

    @property
    def ok(self) -> bool:
        return self.result == 0


AccessResponseSpec = GetResult | SetResult | ActionResult
_RESULTS: dict[int, tuple[AccessResponseSpec, ...]] = {
    c.CHOICE: tuple(map(_fast_factory(c), range(256)))  # type: ignore[attr-defined]
    for c in (GetResult, SetResult, ActionResult)
}


# ---------------------------------------------------------------------------------------
# protected attributes (gbcs-wire.md §8.5)
# ---------------------------------------------------------------------------------------

PROTECTION_AUTHENTICATION_AND_ENCRYPTION = 2
KEY_INFO_AGREED_KEY = 2
KEY_PARAMETERS_STATIC_STATIC_ECC_CDH = b"\x02"  # "C(0e, 2s, ECC CDH)"
TRANSACTION_ID_MODE_ENCRYPTION = 0x04
SECURITY_CONTROL_ENCRYPTED = 0x31

_PROTECTION_TYPES = {
    0: "authentication",
    1: "encryption",
    2: "authentication and encryption",
    3: "digital signature",
}
_KEY_INFO_TYPES = {0: "identified key", 1: "wrapped key", 2: "agreed key"}


_AGREED_KEY_OPTIONS = _mk(
    _STRUCTURE,
    (
        _mk(_OCTET_STRING, KEY_PARAMETERS_STATIC_STATIC_ECC_CDH),
        _mk(_OCTET_STRING, b""),
    ),
)
_NO_RESTRICTION = _mk(_STRUCTURE, (_mk(_ENUM, 0), NULL))


@dataclass(frozen=True, slots=True)
class KeyInfo:
    """``key_info`` of a protection-parameters element: type enum plus its options.

    GBCS uses agreed-key (2) with options ``structure{key_parameters 02, key_ciphered_data ""}``.
    """

    key_info_type: int = KEY_INFO_AGREED_KEY
    options: Data = _AGREED_KEY_OPTIONS

    def __post_init__(self) -> None:
        _check_u8("key info type", self.key_info_type)
        if not isinstance(self.options, Data):
            raise GbcsEncodeError("key info options must be Data")

    @classmethod
    def agreed(
        cls,
        key_parameters: bytes = KEY_PARAMETERS_STATIC_STATIC_ECC_CDH,
        key_ciphered_data: bytes = b"",
    ) -> KeyInfo:
        return cls(
            KEY_INFO_AGREED_KEY,
            Data.structure(Data.octet_string(key_parameters), Data.octet_string(key_ciphered_data)),
        )

    def _agreed_field(self, i: int) -> bytes | None:
        o = self.options
        if (
            self.key_info_type == KEY_INFO_AGREED_KEY
            and o.tag == _STRUCTURE
            and len(o.value) == 2
            and o.value[i].tag == _OCTET_STRING
        ):
            return o.value[i].value  # type: ignore[no-any-return]
        return None

    @property
    def key_parameters(self) -> bytes | None:
        """Agreed-key parameters (``02`` = static-static ECC CDH), else ``None``."""
        return self._agreed_field(0)

    @property
    def key_ciphered_data(self) -> bytes | None:
        return self._agreed_field(1)

    def to_data(self) -> Data:
        return Data.structure(Data.enum(self.key_info_type), self.options)


@dataclass(frozen=True, slots=True)
class ProtectionParameters:
    """One protection-parameters element (DLMS data-protection class, GBCS §8.5)."""

    transaction_id: bytes
    originator_system_title: bytes
    recipient_system_title: bytes
    protection_type: int = PROTECTION_AUTHENTICATION_AND_ENCRYPTION
    other_information: bytes = b""
    key_info: KeyInfo = KeyInfo()

    def __post_init__(self) -> None:
        for name in ("transaction_id", "originator_system_title", "recipient_system_title"):
            if not isinstance(getattr(self, name), bytes):
                raise GbcsEncodeError(f"{name} must be bytes")
        if not isinstance(self.other_information, bytes):
            raise GbcsEncodeError("other_information must be bytes")
        _check_u8("protection type", self.protection_type)
        if not isinstance(self.key_info, KeyInfo):
            raise GbcsEncodeError("key_info must be a KeyInfo")

    @classmethod
    def gbcs(cls, counter: int, originator: bytes, recipient: bytes) -> ProtectionParameters:
        """The GBCS form: transaction id ``04 ‖ counter(8)``, agreed key ``02``."""
        if not 0 <= counter < 1 << 64:
            raise GbcsEncodeError(f"counter out of range: {counter}")
        return cls(
            bytes((TRANSACTION_ID_MODE_ENCRYPTION,)) + counter.to_bytes(8, "big"),
            bytes(originator),
            bytes(recipient),
        )

    @property
    def counter(self) -> int | None:
        """The originator counter of a GBCS transaction id (``04 ‖ counter``), else ``None``."""
        t = self.transaction_id
        if len(t) == 9 and t[0] == TRANSACTION_ID_MODE_ENCRYPTION:
            return int.from_bytes(t[1:], "big")
        return None

    def to_data(self) -> Data:
        """``structure{enum type, structure{tx id, originator, recipient, other, key_info}}``."""
        return Data.structure(
            Data.enum(self.protection_type),
            Data.structure(
                Data.octet_string(self.transaction_id),
                Data.octet_string(self.originator_system_title),
                Data.octet_string(self.recipient_system_title),
                Data.octet_string(self.other_information),
                self.key_info.to_data(),
            ),
        )

    @classmethod
    def from_data(cls, d: Data) -> ProtectionParameters | None:
        """The typed view of a protection-parameters element, or ``None`` if not one."""
        S, O = _STRUCTURE, _OCTET_STRING  # noqa: E741
        if d.tag != S or len(d.value) != 2:
            return None
        ptype, opts = d.value
        if ptype.tag != _ENUM or opts.tag != S or len(opts.value) != 5:
            return None
        tx, orig, recip, other, ki = opts.value
        if not (tx.tag == O and orig.tag == O and recip.tag == O and other.tag == O):
            return None
        if ki.tag != S or len(ki.value) != 2 or ki.value[0].tag != _ENUM:
            return None
        return cls(
            tx.value,
            orig.value,
            recip.value,
            ptype.value,
            other.value,
            KeyInfo(ki.value[0].value, ki.value[1]),
        )


def _is_protection_array(d: Data) -> bool:
    return (
        d.tag == _ARRAY
        and len(d.value) > 0
        and all(ProtectionParameters.from_data(x) is not None for x in d.value)
    )


def _is_protected_blob(d: Data) -> bool:
    return (
        d.tag == _OCTET_STRING and len(d.value) >= 17 and d.value[0] == SECURITY_CONTROL_ENCRYPTED
    )


def _protected_pairs(items: tuple[Data, ...]) -> list[int]:
    """Indices ``i`` where ``items[i]`` is a protection array and ``items[i+1]`` a blob."""
    return [
        i
        for i in range(len(items) - 1)
        if _is_protected_blob(items[i + 1]) and _is_protection_array(items[i])
    ]


@dataclass(frozen=True, slots=True)
class ProtectedAttributes:
    """A get-protected-attributes result: protection parameters plus the protected blob.

    Wire form ``structure{array{protection-parameters...}, octet-string blob}`` with
    ``blob = 31 00000000 ‖ ciphertext ‖ tag12``.
    """

    parameters: tuple[ProtectionParameters, ...]
    blob: bytes

    def __post_init__(self) -> None:
        if not self.parameters or not all(
            isinstance(p, ProtectionParameters) for p in self.parameters
        ):
            raise GbcsEncodeError("parameters must be a non-empty tuple of ProtectionParameters")
        if not isinstance(self.blob, bytes) or len(self.blob) < 17:
            raise GbcsEncodeError("blob must be bytes: 31 ‖ IC(4) ‖ ciphertext ‖ tag(12)")

    @classmethod
    def single(cls, parameters: ProtectionParameters, blob: bytes) -> ProtectedAttributes:
        return cls((parameters,), bytes(blob))

    def parameters_data(self) -> Data:
        return Data.array(*(p.to_data() for p in self.parameters))

    def to_data(self) -> Data:
        return Data.structure(self.parameters_data(), Data.octet_string(self.blob))

    @classmethod
    def from_data(cls, d: Data) -> ProtectedAttributes | None:
        """The typed view of ``structure{protection array, blob}``, or ``None``."""
        if d.tag != _STRUCTURE or len(d.value) != 2 or _protected_pairs(d.value) != [0]:
            return None
        params = tuple(ProtectionParameters.from_data(x) for x in d.value[0].value)
        return cls(params, d.value[1].value)  # type: ignore[arg-type]


def protected_get_result(parameters: ProtectionParameters, blob: bytes) -> Data:
    """The response data item carrying an encrypted attribute set (e.g. ECS17b)."""
    return ProtectedAttributes.single(parameters, blob).to_data()


@dataclass(frozen=True, slots=True)
class ProtectedObject:
    """One entry of a get-protected-attributes object list."""

    class_id: int
    obis: Obis
    attribute: int
    data_index: int = 0
    restriction: Data = _NO_RESTRICTION

    def to_data(self) -> Data:
        return Data.structure(
            Data.long_unsigned(self.class_id),
            Data.octet_string(self.obis.to_bytes()),
            Data.integer(self.attribute),
            Data.long_unsigned(self.data_index),
            self.restriction,
        )


@dataclass(frozen=True, slots=True)
class GetProtectedAttributesRequest:
    """Method parameters of data-protection ``get_protected_attributes`` (ECS17b...).

    Wire form ``structure{array{object...}, array{protection-parameters...}}``.
    """

    objects: tuple[ProtectedObject, ...]
    parameters: tuple[ProtectionParameters, ...]

    def to_data(self) -> Data:
        return Data.structure(
            Data.array(*(o.to_data() for o in self.objects)),
            Data.array(*(p.to_data() for p in self.parameters)),
        )

    @classmethod
    def from_data(cls, d: Data) -> GetProtectedAttributesRequest | None:
        """The typed view, or ``None`` if ``d`` has another shape."""
        if d.tag != _STRUCTURE or len(d.value) != 2:
            return None
        objs, params = d.value
        if objs.tag != _ARRAY or params.tag != _ARRAY:
            return None
        objects = []
        for o in objs.value:
            if o.tag != _STRUCTURE or len(o.value) != 5:
                return None
            cid, ln, attr, idx, restr = o.value
            if not (
                cid.tag == _LONG_UNSIGNED
                and ln.tag == _OCTET_STRING
                and len(ln.value) == 6
                and attr.tag == _INTEGER
                and idx.tag == _LONG_UNSIGNED
            ):
                return None
            objects.append(
                ProtectedObject(cid.value, _obis(ln.value), attr.value, idx.value, restr)
            )
        pps = tuple(ProtectionParameters.from_data(p) for p in params.value)
        if any(p is None for p in pps):
            return None
        return cls(tuple(objects), pps)  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------
# future-dated execution alert payload (gbcs-wire.md §4.2)
# ---------------------------------------------------------------------------------------

_FD = struct.Struct(">HQH6sB")


@dataclass(frozen=True, slots=True)
class FutureDatedAlertPayload:
    """Third element of a 0x00CC alert: octet-string(19) naming the executed command."""

    message_code: int
    originator_counter: int
    class_id: int
    obis: Obis
    member: int  # attribute or method id

    @classmethod
    def from_bytes(cls, data: bytes) -> FutureDatedAlertPayload | None:
        if len(data) != _FD.size:
            return None
        code, counter, cid, ln, member = _FD.unpack(data)
        return cls(code, counter, cid, _obis(ln), member)

    def to_bytes(self) -> bytes:
        return _FD.pack(
            self.message_code,
            self.originator_counter,
            self.class_id,
            self.obis.to_bytes(),
            self.member,
        )


# ---------------------------------------------------------------------------------------
# APDUs
# ---------------------------------------------------------------------------------------


def _check_invoke_id(v: int) -> None:
    if not isinstance(v, int) or not 0 <= v <= 0xFFFFFFFF:
        raise GbcsEncodeError(f"invoke id must be a 32-bit unsigned int, got {v!r}")


def _check_data_tuple(name: str, items: tuple[Data, ...]) -> None:
    if not isinstance(items, tuple) or not all(isinstance(x, Data) for x in items):
        raise GbcsEncodeError(f"{name} must be a tuple of Data")


def _check_dt(dt: DlmsDateTime | None) -> None:
    if dt is not None and not isinstance(dt, DlmsDateTime):
        raise GbcsEncodeError("date_time must be a DlmsDateTime or None")


def _enc_header(out: bytearray, tag: int, invoke_id: int, dt: DlmsDateTime | None) -> None:
    out.append(tag)
    out += _U32.pack(invoke_id)
    if dt is None:
        out.append(0)
    else:
        out.append(12)
        out += dt.to_bytes()


def _enc_specs(out: bytearray, specs: tuple[AccessRequestSpec, ...]) -> None:
    out += encode_ber_length(len(specs))
    for s in specs:
        out += _SPEC.pack(s.CHOICE, s.class_id, s.obis.to_bytes(), _spec_member(s))
        if isinstance(s, GetWithSelectionSpec | SetWithSelectionSpec):
            out.append(s.selector)
            encode_data_into(s.parameters, out)


def _enc_data_list(out: bytearray, data: tuple[Data, ...]) -> None:
    out += encode_ber_length(len(data))
    for d in data:
        encode_data_into(d, out)


def _check_specs(specs: tuple[AccessRequestSpec, ...]) -> None:
    if not isinstance(specs, tuple) or not all(isinstance(s, _SPEC_CLASSES) for s in specs):
        raise GbcsEncodeError("specs must be a tuple of access-request specifications")


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """DLMS access-request (``D9``), the GBCS command payload.

    ``invoke_id`` is the whole 32-bit long-invoke-id-and-priority (see
    :func:`invoke_id_for_counter`); ``data`` holds one value per spec (null for gets).
    """

    invoke_id: int
    specs: tuple[AccessRequestSpec, ...]
    data: tuple[Data, ...]
    date_time: DlmsDateTime | None = None

    def __post_init__(self) -> None:
        _check_invoke_id(self.invoke_id)
        _check_specs(self.specs)
        _check_data_tuple("data", self.data)
        _check_dt(self.date_time)

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.DLMS_ACCESS_REQUEST

    @property
    def invoke_counter(self) -> int:
        """The 24-bit invoke id (low counter bits in GBCS)."""
        return self.invoke_id & 0xFFFFFF

    def encode(self) -> bytes:
        out = bytearray()
        _enc_header(out, ACCESS_REQUEST_TAG, self.invoke_id, self.date_time)
        _enc_specs(out, self.specs)
        _enc_data_list(out, self.data)
        return bytes(out)

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        buf = self.encode()
        kids, p = _header_fields(buf, base, self.invoke_id, self.date_time)
        f, p = _specs_field("List of Access Request Specifications", self.specs, buf, p, base)
        kids.append(f)
        f, p = _data_list_field("List of Data", self.data, buf, p, base, "data")
        kids.append(f)
        return (Field("DLMS Access Request", base, buf, f"{len(self.specs)} spec(s)", tuple(kids)),)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        start = 1 + 4 + _dt_size(self.date_time)
        start += _specs_size(self.specs)
        return _list_parts(self.data, start, "payload.data")


@dataclass(frozen=True, slots=True)
class AccessResponse:
    """DLMS access-response (``DA``), the GBCS response payload.

    ``request_specs`` is the OPTIONAL echoed request specification list (``None`` =
    absent, the ``00`` GBCS always sends); ``results`` has one entry per request spec.
    """

    invoke_id: int
    data: tuple[Data, ...]
    results: tuple[AccessResponseSpec, ...]
    date_time: DlmsDateTime | None = None
    request_specs: tuple[AccessRequestSpec, ...] | None = None

    def __post_init__(self) -> None:
        _check_invoke_id(self.invoke_id)
        _check_data_tuple("data", self.data)
        if not isinstance(self.results, tuple) or not all(
            isinstance(r, GetResult | SetResult | ActionResult) for r in self.results
        ):
            raise GbcsEncodeError("results must be a tuple of GetResult/SetResult/ActionResult")
        _check_dt(self.date_time)
        if self.request_specs is not None:
            _check_specs(self.request_specs)

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.DLMS_ACCESS_RESPONSE

    @property
    def invoke_counter(self) -> int:
        return self.invoke_id & 0xFFFFFF

    def encode(self) -> bytes:
        out = bytearray()
        _enc_header(out, ACCESS_RESPONSE_TAG, self.invoke_id, self.date_time)
        if self.request_specs is None:
            out.append(0)
        else:
            out.append(1)
            _enc_specs(out, self.request_specs)
        _enc_data_list(out, self.data)
        out += encode_ber_length(len(self.results))
        for r in self.results:
            out.append(r.CHOICE)
            out.append(r.result)
        return bytes(out)

    def _data_start(self) -> int:
        p = 1 + 4 + _dt_size(self.date_time) + 1
        if self.request_specs is not None:
            p += _specs_size(self.request_specs)
        return p

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        buf = self.encode()
        kids, p = _header_fields(buf, base, self.invoke_id, self.date_time)
        if self.request_specs is None:
            kids.append(Field("Access Request Specifications", base + p, buf[p : p + 1], "absent"))
            p += 1
        else:
            f, q = _specs_field(
                "Access Request Specifications", self.request_specs, buf, p + 1, base
            )
            kids.append(Field(f.name, base + p, buf[p:q], f.value, f.children))
            p = q
        f, p = _data_list_field("List of Access Response Data", self.data, buf, p, base, "data")
        kids.append(f)
        start = p
        p += ber_length_size(len(self.results))
        rk = []
        for i, r in enumerate(self.results):
            enum = ActionResultCode if isinstance(r, ActionResult) else DataAccessResult
            label = "Action Result" if isinstance(r, ActionResult) else "Data Access Result"
            val = _result_name(enum, r.result)
            rk.append(
                Field(
                    f"Access Response {r.KIND} [{i}]",
                    base + p,
                    buf[p : p + 2],
                    val,
                    (Field(label, base + p + 1, buf[p + 1 : p + 2], val),),
                )
            )
            p += 2
        kids.append(
            Field(
                "List of Access Response Specifications",
                base + start,
                buf[start:p],
                f"{len(self.results)} item(s)",
                tuple(rk),
            )
        )
        return (
            Field("DLMS Access Response", base, buf, f"{len(self.results)} result(s)", tuple(kids)),
        )

    def protected_attributes(self) -> tuple[ProtectedAttributes | None, ...]:
        """Per data item: its typed protected-attributes view, or ``None``."""
        return tuple(ProtectedAttributes.from_data(d) for d in self.data)

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        return _list_parts(self.data, self._data_start(), "payload.data")


@dataclass(frozen=True, slots=True)
class DataNotification:
    """DLMS data-notification (``0F``), the GBCS DLMS alert payload."""

    invoke_id: int
    body: Data
    date_time: DlmsDateTime | None = None

    def __post_init__(self) -> None:
        _check_invoke_id(self.invoke_id)
        if not isinstance(self.body, Data):
            raise GbcsEncodeError("body must be Data")
        _check_dt(self.date_time)

    @classmethod
    def alert(
        cls,
        invoke_id: int,
        alert_code: int,
        timestamp: DlmsDateTime,
        *extra: Data,
        date_time: DlmsDateTime | None = None,
    ) -> DataNotification:
        """A GBCS alert: body ``structure{long-unsigned code, octet-string(12) time, *extra}``."""
        body = Data.structure(
            Data.long_unsigned(alert_code), Data.octet_string(timestamp.to_bytes()), *extra
        )
        return cls(invoke_id, body, date_time)

    @property
    def kind(self) -> PayloadKind:
        return PayloadKind.DLMS_DATA_NOTIFICATION

    @property
    def invoke_counter(self) -> int:
        return self.invoke_id & 0xFFFFFF

    def _is_alert(self) -> bool:
        b = self.body
        return (
            b.tag == _STRUCTURE
            and len(b.value) >= 2
            and b.value[0].tag == _LONG_UNSIGNED
            and b.value[1].tag == _OCTET_STRING
            and len(b.value[1].value) == 12
        )

    @property
    def alert_code(self) -> int | None:
        """The alert code when the body has the GBCS alert shape, else ``None``."""
        return self.body.value[0].value if self._is_alert() else None  # type: ignore[no-any-return]

    @property
    def alert_timestamp(self) -> DlmsDateTime | None:
        if not self._is_alert():
            return None
        return DlmsDateTime.from_bytes(self.body.value[1].value)

    @property
    def alert_elements(self) -> tuple[Data, ...]:
        """Body elements after code and time stamp (use-case specific)."""
        return self.body.value[2:] if self._is_alert() else ()  # type: ignore[no-any-return]

    @property
    def future_dated(self) -> FutureDatedAlertPayload | None:
        """The future-dated execution details (alert 0x8F66/0x8F67), else ``None``."""
        el = self.alert_elements
        if self.alert_code in (0x8F66, 0x8F67) and el and el[0].tag == _OCTET_STRING:
            return FutureDatedAlertPayload.from_bytes(el[0].value)
        return None

    def encode(self) -> bytes:
        out = bytearray()
        _enc_header(out, DATA_NOTIFICATION_TAG, self.invoke_id, self.date_time)
        encode_data_into(self.body, out)
        return bytes(out)

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        buf = self.encode()
        kids, p = _header_fields(buf, base, self.invoke_id, self.date_time)
        if self._is_alert():
            kids.append(self._alert_field(buf, p, base))
        else:
            f, _ = data_field(self.body, "Notification Body", buf, p, base, _protected_hook)
            kids.append(f)
        value = f"alert 0x{self.alert_code:04X}" if self._is_alert() else None
        return (Field("DLMS Data Notification", base, buf, value, tuple(kids)),)

    def _alert_field(self, buf: bytes, p: int, base: int) -> Field:
        items = self.body.value
        start = p
        p += 1 + ber_length_size(len(items))
        code = items[0]
        kids = [Field("Alert Code", base + p, buf[p : p + 3], f"0x{code.value:04X}")]
        p += 3
        kids.append(Field("Time Stamp", base + p, buf[p : p + 14], str(self.alert_timestamp)))
        p += 14
        fd = self.future_dated
        names = {}
        if fd is not None:
            names[2] = "Future Dated Alert Payload"
        rest, p = _items_fields(items, 2, buf, p, base, names)
        if fd is not None:
            f = rest[0]
            q = f.offset - base + 2
            sub = (
                Field("Message Code", base + q, buf[q : q + 2], f"0x{fd.message_code:04X}"),
                Field(
                    "Originator Counter",
                    base + q + 2,
                    buf[q + 2 : q + 10],
                    str(fd.originator_counter),
                ),
                Field("Class Id", base + q + 10, buf[q + 10 : q + 12], _class_str(fd.class_id)),
                Field("Instance Id", base + q + 12, buf[q + 12 : q + 18], str(fd.obis)),
                Field("Attribute Id", base + q + 18, buf[q + 18 : q + 19], str(fd.member)),
            )
            rest[0] = Field(f.name, f.offset, f.raw, None, sub)
        kids.extend(rest)
        return Field(
            "Notification Body", base + start, buf[start:p], value_str(self.body), tuple(kids)
        )

    def encrypted_parts(self) -> tuple[EncryptedPart, ...]:
        start = 1 + 4 + _dt_size(self.date_time)
        out: list[tuple[str, int, bytes]] = []
        _find_parts(self.body, start, "payload.body", out)
        return tuple(
            EncryptedPart(i, path, off, blob, PartContext.DLMS)
            for i, (path, off, blob) in enumerate(out)
        )


DlmsApdu = AccessRequest | AccessResponse | DataNotification


# ---------------------------------------------------------------------------------------
# sizes, encrypted parts, display helpers
# ---------------------------------------------------------------------------------------


def _dt_size(dt: DlmsDateTime | None) -> int:
    return 1 if dt is None else 13


def _spec_size(s: AccessRequestSpec) -> int:
    if isinstance(s, GetWithSelectionSpec | SetWithSelectionSpec):
        return _SPEC_SIZE + 1 + encoded_size(s.parameters)
    return _SPEC_SIZE


def _specs_size(specs: tuple[AccessRequestSpec, ...]) -> int:
    return ber_length_size(len(specs)) + sum(_spec_size(s) for s in specs)


def _find_parts(d: Data, pos: int, path: str, out: list[tuple[str, int, bytes]]) -> int:
    """Collect protected blobs inside ``d`` (encoded at relative ``pos``); returns the
    encoded size of ``d``, so one walk finds every part without re-sizing subtrees."""
    tag = d.tag
    if tag != _STRUCTURE and tag != _ARRAY:
        return encoded_size(d)
    items = d.value
    pairs = _protected_pairs(items) if tag == _STRUCTURE and len(items) > 1 else ()
    p = pos + 1 + ber_length_size(len(items))
    for i, x in enumerate(items):
        if pairs and i - 1 in pairs:
            out.append((f"{path}[{i}]", p + 1 + ber_length_size(len(x.value)), x.value))
            p += encoded_size(x)
        elif (pairs and i in pairs) or (x.tag != _STRUCTURE and x.tag != _ARRAY):
            p += encoded_size(x)
        else:
            p += _find_parts(x, p, f"{path}[{i}]", out)
    return p - pos


def _list_parts(data: tuple[Data, ...], start: int, path: str) -> tuple[EncryptedPart, ...]:
    out: list[tuple[str, int, bytes]] = []
    p = start + ber_length_size(len(data))
    for i, d in enumerate(data):
        p += _find_parts(d, p, f"{path}[{i}]", out)
    return tuple(
        EncryptedPart(i, path, off, blob, PartContext.DLMS)
        for i, (path, off, blob) in enumerate(out)
    )


def _class_str(class_id: int) -> str:
    name = CLASS_NAMES.get(class_id)
    return f"{class_id} ({name})" if name else str(class_id)


def _header_fields(
    buf: bytes, base: int, invoke_id: int, dt: DlmsDateTime | None
) -> tuple[list[Field], int]:
    kids = [
        Field(
            "Long Invoke Id",
            base + 1,
            buf[1:5],
            f"invoke id {invoke_id & 0xFFFFFF} (0x{invoke_id:08X})",
        )
    ]
    if dt is None:
        kids.append(Field("Date Time", base + 5, buf[5:6], "absent"))
        return kids, 6
    kids.append(Field("Date Time", base + 5, buf[5:18], str(dt)))
    return kids, 18


def _specs_field(
    name: str, specs: tuple[AccessRequestSpec, ...], buf: bytes, p: int, base: int
) -> tuple[Field, int]:
    start = p
    p += ber_length_size(len(specs))
    kids = []
    for i, s in enumerate(specs):
        q = p
        sub = [
            Field("Class Id", base + p + 1, buf[p + 1 : p + 3], _class_str(s.class_id)),
            Field("Instance Id", base + p + 3, buf[p + 3 : p + 9], str(s.obis)),
        ]
        if isinstance(s, ActionSpec):
            sub.append(Field("Method Id", base + p + 9, buf[p + 9 : p + 10], str(s.method)))
        else:
            sub.append(Field("Attribute Id", base + p + 9, buf[p + 9 : p + 10], str(s.attribute)))
        p += _SPEC_SIZE
        if isinstance(s, GetWithSelectionSpec | SetWithSelectionSpec):
            sub.append(Field("Access Selector", base + p, buf[p : p + 1], str(s.selector)))
            f, p = data_field(s.parameters, "Access Parameters", buf, p + 1, base)
            sub.append(f)
        kids.append(Field(f"Access Request {s.KIND} [{i}]", base + q, buf[q:p], None, tuple(sub)))
    return Field(name, base + start, buf[start:p], f"{len(specs)} item(s)", tuple(kids)), p


def _data_list_field(
    name: str, data: tuple[Data, ...], buf: bytes, p: int, base: int, _path: str
) -> tuple[Field, int]:
    start = p
    p += ber_length_size(len(data))
    kids = []
    for i, d in enumerate(data):
        f, p = data_field(d, f"[{i}] {TYPE_NAMES[d.tag]}", buf, p, base, _protected_hook)
        kids.append(f)
    return Field(name, base + start, buf[start:p], f"{len(data)} item(s)", tuple(kids)), p


def _octet_payload_start(buf: bytes, p: int) -> int:
    """Position of the content of the octet-string encoded at ``p``."""
    first = buf[p + 1]
    return p + 2 + (first & 0x7F if first >= 0x80 else 0)


def _pp_field(pp: ProtectionParameters, d: Data, name: str, buf: bytes, p: int, base: int) -> Field:
    end = p + encoded_size(d)
    q = p + 2  # structure(2) header
    kids = [
        Field(
            "Protection Type",
            base + q,
            buf[q : q + 2],
            f"{pp.protection_type} ({_PROTECTION_TYPES.get(pp.protection_type, '?')})",
        )
    ]
    q += 2
    opt_start = q
    q += 2  # structure(5) header
    sub = []
    for label, value in (
        ("Transaction Id", pp.transaction_id),
        ("Originator System Title", pp.originator_system_title),
        ("Recipient System Title", pp.recipient_system_title),
        ("Other Information", pp.other_information),
    ):
        n = 1 + ber_length_size(len(value)) + len(value)
        text = value.hex().upper() or "empty"
        if label == "Transaction Id" and pp.counter is not None:
            text += f" (counter {pp.counter})"
        sub.append(Field(label, base + q, buf[q : q + n], text))
        q += n
    ki = pp.key_info
    ki_data = ki.to_data()
    ki_end = q + encoded_size(ki_data)
    ki_kids = [
        Field(
            "Key Info Type",
            base + q + 2,
            buf[q + 2 : q + 4],
            f"{ki.key_info_type} ({_KEY_INFO_TYPES.get(ki.key_info_type, '?')})",
        )
    ]
    f, _ = data_field(ki.options, "Key Info Options", buf, q + 4, base)
    if ki.key_parameters is not None:
        o = q + 4 + 2
        kp = ki.key_parameters
        kp_n = 1 + ber_length_size(len(kp)) + len(kp)
        kp_text = kp.hex().upper() + (" (C(0e, 2s, ECC CDH))" if kp == b"\x02" else "")
        cd = ki.key_ciphered_data or b""
        f = Field(
            "Agreed Key Info Options",
            f.offset,
            f.raw,
            None,
            (
                Field("Key Parameters", base + o, buf[o : o + kp_n], kp_text),
                Field(
                    "Key Ciphered Data",
                    base + o + kp_n,
                    buf[o + kp_n : ki_end],
                    cd.hex().upper() or "empty",
                ),
            ),
        )
    ki_kids.append(f)
    sub.append(Field("Key Info", base + q, buf[q:ki_end], None, tuple(ki_kids)))
    kids.append(Field("Protection Options", base + opt_start, buf[opt_start:end], None, tuple(sub)))
    return Field(name, base + p, buf[p:end], None, tuple(kids))


def _blob_field(blob: bytes, name: str, buf: bytes, p: int, base: int) -> tuple[Field, int]:
    c = _octet_payload_start(buf, p)
    end = c + len(blob)
    kids = (
        Field(
            "Security Header",
            base + c,
            buf[c : c + 5],
            f"SC 0x{blob[0]:02X}, IC {blob[1:5].hex().upper()}",
        ),
        Field(
            "Encrypted DLMS Payload",
            base + c + 5,
            buf[c + 5 : end - 12],
            f"{len(blob) - 17} byte(s)",
        ),
        Field("AE MAC", base + end - 12, buf[end - 12 : end], blob[-12:].hex().upper()),
    )
    return Field(name, base + p, buf[p:end], f"{len(blob)} byte(s)", kids), end


def _items_fields(
    items: tuple[Data, ...], first: int, buf: bytes, p: int, base: int, names: dict[int, str]
) -> tuple[list[Field], int]:
    """Fields for ``items[first:]`` starting at ``p``, recognising protected pairs."""
    pairs = set(_protected_pairs(items))
    out = []
    for i in range(first, len(items)):
        x = items[i]
        if i in pairs:
            end = p + encoded_size(x)
            q = p + 1 + ber_length_size(len(x.value))
            kids = []
            for k, el in enumerate(x.value):
                pp = ProtectionParameters.from_data(el)
                assert pp is not None
                kids.append(_pp_field(pp, el, f"[{k}] Protection Parameters Element", buf, q, base))
                q += encoded_size(el)
            out.append(
                Field("Protection Parameters", base + p, buf[p:end], value_str(x), tuple(kids))
            )
            p = end
        elif i - 1 in pairs:
            f, p = _blob_field(x.value, "Protected Attributes", buf, p, base)
            out.append(f)
        else:
            f, p = data_field(
                x, names.get(i, f"[{i}] {TYPE_NAMES[x.tag]}"), buf, p, base, _protected_hook
            )
            out.append(f)
    return out, p


def _protected_hook(d: Data, name: str, buf: bytes, p: int, base: int) -> tuple[Field, int] | None:
    if d.tag != _STRUCTURE or not _protected_pairs(d.value):
        return None
    start = p
    kids, p = _items_fields(d.value, 0, buf, p + 1 + ber_length_size(len(d.value)), base, {})
    return Field(name, base + start, buf[start:p], "protected attributes", tuple(kids)), p


# ---------------------------------------------------------------------------------------
# decoding
# ---------------------------------------------------------------------------------------


def _fail(path: str, offset: int, reason: str) -> GbcsDecodeError:
    return GbcsDecodeError(path, offset, reason)


def _need(n: int, left: int) -> str:
    return f"needs {n} byte(s), {max(left, 0)} left"


def _read_ber(buf: bytes, p: int, end: int, path: str) -> tuple[int, int]:
    try:
        return _ber(buf, p, end, "")
    except _Err as e:
        raise _fail(path, e.offset, e.reason) from None


def _read_data(buf: bytes, p: int, end: int, path: str) -> tuple[Data, int]:
    try:
        return _dec_data(buf, p, end, 0)
    except _Err as e:
        raise e.to_public(path) from None


def _read_header(
    buf: bytes, start: int, end: int, path: str
) -> tuple[int, DlmsDateTime | None, int]:
    p = start + 1
    if p + 4 > end:
        raise _fail(f"{path}.long_invoke_id", p, _need(4, end - p))
    (liiap,) = _U32.unpack_from(buf, p)
    p += 4
    if p >= end:
        raise _fail(f"{path}.date_time", p, _need(1, 0))
    n = buf[p]
    if n == 0:
        return liiap, None, p + 1
    if n != 12:
        raise _fail(f"{path}.date_time", p, f"date-time length must be 0 or 12, found {n}")
    if p + 13 > end:
        raise _fail(f"{path}.date_time", p + 1, _need(12, end - p - 1))
    return liiap, DlmsDateTime.from_bytes(buf[p + 1 : p + 13]), p + 13


def _read_specs(
    buf: bytes, p: int, end: int, path: str
) -> tuple[tuple[AccessRequestSpec, ...], int]:
    n, p = _read_ber(buf, p, end, f"{path}.length")
    if n * _SPEC_SIZE > end - p:
        raise _fail(
            f"{path}.length", p - ber_length_size(n), f"{n} spec(s) cannot fit in {end - p} byte(s)"
        )
    specs: list[AccessRequestSpec] = []
    append = specs.append
    for i in range(n):
        make = _SPEC_FACTORIES.get(buf[p]) if p < end else None
        if make is None or end - p < _SPEC_SIZE:
            _spec_error(buf, p, end, f"{path}[{i}]")
        choice, cid, ln, member = _SPEC.unpack_from(buf, p)
        obis = _OBIS_CACHE.get(ln) or _obis(ln)
        p += _SPEC_SIZE
        if choice >= 4:
            if p >= end:
                raise _fail(f"{path}[{i}].access_selector", p, _need(1, 0))
            selector = buf[p]
            params, p = _read_data(buf, p + 1, end, f"{path}[{i}].access_parameters")
            append(make(cid, obis, member, selector, params))
        else:
            append(make(cid, obis, member))
    return tuple(specs), p


def _spec_error(buf: bytes, p: int, end: int, path: str) -> NoReturn:
    """Raise the error for a spec at ``p`` that is truncated or has an unknown choice."""
    left = end - p
    if left < 1:
        raise _fail(f"{path}.choice", p, _need(1, 0))
    if buf[p] not in _SPEC_FACTORIES:
        raise _fail(f"{path}.choice", p, f"unknown access-request-specification choice {buf[p]}")
    field, at, size = (
        ("class_id", p + 1, 2)
        if left < 3
        else ("instance_id", p + 3, 6)
        if left < 9
        else ("attribute_id", p + 9, 1)
    )
    raise _fail(f"{path}.{field}", at, _need(size, end - at))


def _read_data_list(buf: bytes, p: int, end: int, path: str) -> tuple[tuple[Data, ...], int]:
    n, p = _read_ber(buf, p, end, f"{path}.length")
    if n > end - p:
        raise _fail(
            f"{path}.length", p - ber_length_size(n), f"{n} item(s) cannot fit in {end - p} byte(s)"
        )
    try:
        items, p = _items(buf, p, end, n, 0)
    except _Err as e:
        raise e.to_public(path) from None
    return tuple(items), p


def _done(p: int, end: int, path: str) -> None:
    if p != end:
        raise _fail(path, p, f"{end - p} unexpected trailing byte(s)")


_make_request = _fast_factory(AccessRequest)
_make_response = _fast_factory(AccessResponse)
_make_notification = _fast_factory(DataNotification)


def _decode_request(buf: bytes, start: int, end: int, path: str) -> AccessRequest:
    liiap, dt, p = _read_header(buf, start, end, path)
    specs, p = _read_specs(buf, p, end, f"{path}.specs")
    data, p = _read_data_list(buf, p, end, f"{path}.data")
    _done(p, end, path)
    return _make_request(liiap, specs, data, dt)  # type: ignore[no-any-return]


def _decode_response(buf: bytes, start: int, end: int, path: str) -> AccessResponse:
    liiap, dt, p = _read_header(buf, start, end, path)
    if p >= end:
        raise _fail(f"{path}.request_specs", p, _need(1, 0))
    flag = buf[p]
    if flag == 0:
        req: tuple[AccessRequestSpec, ...] | None = None
        p += 1
    elif flag == 1:
        req, p = _read_specs(buf, p + 1, end, f"{path}.request_specs")
    else:
        raise _fail(f"{path}.request_specs", p, f"OPTIONAL flag must be 00 or 01, found {flag:02X}")
    data, p = _read_data_list(buf, p, end, f"{path}.data")
    n, p = _read_ber(buf, p, end, f"{path}.results.length")
    if 2 * n > end - p:
        raise _fail(
            f"{path}.results.length",
            p - ber_length_size(n),
            f"{n} result(s) cannot fit in {end - p} byte(s)",
        )
    results = []
    for i in range(n):
        table = _RESULTS.get(buf[p])
        if table is None:
            raise _fail(
                f"{path}.results[{i}].choice",
                p,
                f"unknown access-response-specification choice {buf[p]}",
            )
        results.append(table[buf[p + 1]])
        p += 2
    _done(p, end, path)
    return _make_response(liiap, data, tuple(results), dt, req)  # type: ignore[no-any-return]


def _decode_notification(buf: bytes, start: int, end: int, path: str) -> DataNotification:
    liiap, dt, p = _read_header(buf, start, end, path)
    body, p = _read_data(buf, p, end, f"{path}.body")
    _done(p, end, path)
    return _make_notification(liiap, body, dt)  # type: ignore[no-any-return]


def decode_dlms(buf: bytes, start: int, end: int, path: str = "payload") -> DlmsApdu:
    """Decode the DLMS APDU in ``buf[start:end]`` (offsets in errors are absolute)."""
    if type(buf) is not bytes:
        buf = bytes(buf)  # decoded values must not alias a mutable buffer
    if end > len(buf) or start < 0 or start > end:
        raise _fail(path, start, f"content needs {end - start} byte(s), {len(buf) - start} left")
    if start == end:
        raise _fail(f"{path}.tag", start, _need(1, 0))
    tag = buf[start]
    if tag == ACCESS_REQUEST_TAG:
        return _decode_request(buf, start, end, path)
    if tag == ACCESS_RESPONSE_TAG:
        return _decode_response(buf, start, end, path)
    if tag == DATA_NOTIFICATION_TAG:
        return _decode_notification(buf, start, end, path)
    raise _fail(f"{path}.tag", start, f"not a DLMS APDU tag: 0x{tag:02X}")


__all__ = [
    "CLASS_NAMES",
    "AccessRequest",
    "AccessRequestSpec",
    "AccessResponse",
    "AccessResponseSpec",
    "ActionResult",
    "ActionResultCode",
    "ActionSpec",
    "DataAccessResult",
    "DataNotification",
    "DlmsApdu",
    "FutureDatedAlertPayload",
    "GetProtectedAttributesRequest",
    "GetResult",
    "GetSpec",
    "GetWithSelectionSpec",
    "KeyInfo",
    "Obis",
    "ProtectedAttributes",
    "ProtectedObject",
    "ProtectionParameters",
    "SetResult",
    "SetSpec",
    "SetWithSelectionSpec",
    "decode_dlms",
    "invoke_id_for_counter",
    "protected_get_result",
]
