"""CS06 Activate Firmware payloads (message codes 0x0012 and 0x00CA), typed.

Structures as the RTDS 4.5.0 CS06 vectors carry them (DER, ``gbcs-wire.md`` §4.4)::

    ActivateFirmwareCommand ::= SEQUENCE {            -- 0x0012, CRA command
        manufacturerImageHash  OCTET STRING (SIZE (32)),
        originatorCounter      INTEGER (0..2^64-1),
        executionDateTime      GeneralizedTime OPTIONAL }   -- absent: activate now

    ActivateFirmwareResponse ::= CHOICE {             -- 0x0012, CRA response
        commandAccepted        NULL,                -- future-dated command accepted
        executionOutcome       ExecutionOutcome }   -- immediate command executed

    ExecutionOutcome ::= SEQUENCE {
        responseCode           INTEGER { success(0), noImageHeld(1),
                                         hashMismatch(2), activationFailure(3) },
        firmwareVersion        OCTET STRING }

    ActivateFirmwareAlert ::= SEQUENCE {              -- 0x00CA, future-dated outcome
        alertCode              INTEGER,             -- 0x8F66 success / 0x8F67 failure
        executionDateTime      GeneralizedTime,
        originatorCounter      INTEGER,             -- counter of the future-dated command
        executionOutcome       ExecutionOutcome }

The RTDS vectors hold the immediate command, its execution-outcome response and both
alerts; the optional execution date-time and the NULL response follow the same
definitions (GBCS use case CS06) without a vector of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from gbcs.der import (
    DerCursor,
    DerNode,
    UniversalTag,
    decode_der_node,
    der_generalized_time,
    der_integer,
    der_null,
    der_octet_string,
    der_sequence,
    iter_children,
    named,
    read_enum,
    read_generalized_time,
    read_octets,
    read_uint,
    time_text,
)
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.tree import Field

IMAGE_HASH_SIZE = 32


class ActivateFirmwareResponseCode(IntEnum):
    """Outcome of activating the firmware image (ExecutionOutcome.responseCode)."""

    SUCCESS = 0
    NO_IMAGE_HELD = 1
    HASH_MISMATCH = 2
    ACTIVATION_FAILURE = 3

    @property
    def label(self) -> str:
        """``Success``, ``No Image Held``, ``Hash Mismatch``, ``Activation Failure``."""
        return self.name.replace("_", " ").title()


class FirmwareAlertCode(IntEnum):
    """Alert codes an Activate Firmware alert (0x00CA) carries."""

    FUTURE_DATED_SUCCESS = 0x8F66
    FUTURE_DATED_FAILURE = 0x8F67

    @property
    def label(self) -> str:
        return _ALERT_LABELS[self]


_ALERT_LABELS = {
    FirmwareAlertCode.FUTURE_DATED_SUCCESS: (
        "Future-date HAN Interface Command Successfully Actioned"
    ),
    FirmwareAlertCode.FUTURE_DATED_FAILURE: (
        "Future-date HAN Interface Command not Successfully Actioned"
    ),
}


def _check_hash(value: bytes) -> None:
    if len(value) != IMAGE_HASH_SIZE:
        raise GbcsEncodeError(
            f"manufacturer image hash must be {IMAGE_HASH_SIZE} bytes, got {len(value)}"
        )


def _check_counter(value: int) -> None:
    if not 0 <= value < 1 << 64:
        raise GbcsEncodeError(f"originator counter {value} outside 0..2^64-1")


def _sequence(node: DerNode, offset: int, path: str) -> DerCursor:
    if not (node.constructed and node.is_universal(UniversalTag.SEQUENCE)):
        raise GbcsDecodeError(path, offset, f"expected SEQUENCE, found {node.type_name()}")
    return DerCursor(node, offset, path)


@dataclass(frozen=True, slots=True)
class ActivateFirmwareOutcome:
    """ExecutionOutcome: the activation result and the firmware version now running."""

    response_code: ActivateFirmwareResponseCode
    firmware_version: bytes

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "execution_outcome"
    ) -> ActivateFirmwareOutcome:
        """From a decoded SEQUENCE placed at ``offset``."""
        c = _sequence(node, offset, path)
        code = read_enum(
            *c.universal("response_code", UniversalTag.INTEGER), ActivateFirmwareResponseCode
        )
        version = read_octets(*c.universal("firmware_version", UniversalTag.OCTET_STRING))
        c.done()
        return cls(code, version)

    @classmethod
    def decode(cls, data: bytes) -> ActivateFirmwareOutcome:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "execution_outcome"))

    def to_der(self) -> DerNode:
        return der_sequence(
            der_integer(int(self.response_code)), der_octet_string(self.firmware_version)
        )

    def encode(self) -> bytes:
        return self.to_der().encode()

    def field(self, base: int = 0) -> Field:
        """The display node ``Execution Outcome`` placed at ``base``."""
        node = self.to_der()
        (a, ao), (b, bo) = iter_children(node, base)
        return named(
            "Execution Outcome",
            node,
            base,
            children=(
                named("Response Code", a, ao, self.response_code.label),
                named("Firmware Version", b, bo, self.firmware_version.hex().upper()),
            ),
        )

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        return (self.field(base),)


@dataclass(frozen=True, slots=True)
class ActivateFirmwareCommand:
    """CS06 command: activate the image with this hash, now or at a future date-time."""

    manufacturer_image_hash: bytes
    originator_counter: int
    execution_date_time: datetime | None = None

    def __post_init__(self) -> None:
        _check_hash(self.manufacturer_image_hash)
        _check_counter(self.originator_counter)

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "activate_firmware_command"
    ) -> ActivateFirmwareCommand:
        """From a decoded SEQUENCE placed at ``offset``."""
        c = _sequence(node, offset, path)
        image_hash = read_octets(
            *c.universal("manufacturer_image_hash", UniversalTag.OCTET_STRING), IMAGE_HASH_SIZE
        )
        counter = read_uint(*c.universal("originator_counter", UniversalTag.INTEGER))
        when = None
        if c.peek() is not None:
            when = read_generalized_time(
                *c.universal("execution_date_time", UniversalTag.GENERALIZED_TIME)
            )
        c.done()
        return cls(image_hash, counter, when)

    @classmethod
    def decode(cls, data: bytes) -> ActivateFirmwareCommand:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "activate_firmware_command"))

    def to_der(self) -> DerNode:
        kids = [
            der_octet_string(self.manufacturer_image_hash),
            der_integer(self.originator_counter),
        ]
        if self.execution_date_time is not None:
            kids.append(der_generalized_time(self.execution_date_time))
        return der_sequence(*kids)

    def encode(self) -> bytes:
        return self.to_der().encode()

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        node = self.to_der()
        kids = list(iter_children(node, base))
        out = [
            named("Manufacturer Image Hash", *kids[0], self.manufacturer_image_hash.hex().upper()),
            named("Originator Counter", *kids[1], self.originator_counter),
        ]
        if self.execution_date_time is not None:
            out.append(named("Execution Date Time", *kids[2], time_text(self.execution_date_time)))
        return (named("Activate Firmware Command", node, base, children=tuple(out)),)


@dataclass(frozen=True, slots=True)
class ActivateFirmwareResponse:
    """CS06 response: ``outcome`` for an immediate command, None ("Command Accepted",
    a NULL) for a future-dated one whose outcome comes later in an alert."""

    outcome: ActivateFirmwareOutcome | None

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "activate_firmware_response"
    ) -> ActivateFirmwareResponse:
        """From a decoded NULL or ExecutionOutcome SEQUENCE placed at ``offset``."""
        if node.is_universal(UniversalTag.NULL):
            return cls(None)
        if not node.is_universal(UniversalTag.SEQUENCE):
            raise GbcsDecodeError(
                path, offset, f"expected NULL or SEQUENCE, found {node.type_name()}"
            )
        return cls(ActivateFirmwareOutcome.from_der(node, offset, path))

    @classmethod
    def decode(cls, data: bytes) -> ActivateFirmwareResponse:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "activate_firmware_response"))

    def to_der(self) -> DerNode:
        return der_null() if self.outcome is None else self.outcome.to_der()

    def encode(self) -> bytes:
        return self.to_der().encode()

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        if self.outcome is None:
            return (named("Command Accepted", der_null(), base),)
        return (self.outcome.field(base),)


@dataclass(frozen=True, slots=True)
class ActivateFirmwareAlert:
    """Futured Dated Firmware Activation Alert (0x00CA)."""

    alert_code: int
    execution_date_time: datetime
    originator_counter: int
    outcome: ActivateFirmwareOutcome

    def __post_init__(self) -> None:
        _check_counter(self.originator_counter)
        if not 0 <= self.alert_code <= 0xFFFF:
            raise GbcsEncodeError(f"alert code {self.alert_code} outside 0..0xFFFF")

    @classmethod
    def from_der(
        cls, node: DerNode, offset: int = 0, path: str = "activate_firmware_alert"
    ) -> ActivateFirmwareAlert:
        """From a decoded SEQUENCE placed at ``offset``."""
        c = _sequence(node, offset, path)
        code = read_uint(*c.universal("alert_code", UniversalTag.INTEGER), bits=16)
        when = read_generalized_time(
            *c.universal("execution_date_time", UniversalTag.GENERALIZED_TIME)
        )
        counter = read_uint(*c.universal("originator_counter", UniversalTag.INTEGER))
        outcome = ActivateFirmwareOutcome.from_der(
            *c.universal("execution_outcome", UniversalTag.SEQUENCE)
        )
        c.done()
        return cls(code, when, counter, outcome)

    @classmethod
    def decode(cls, data: bytes) -> ActivateFirmwareAlert:
        """From the DER bytes."""
        return cls.from_der(decode_der_node(data, "activate_firmware_alert"))

    @property
    def succeeded(self) -> bool:
        """True for the 0x8F66 (successfully actioned) alert."""
        return self.alert_code == FirmwareAlertCode.FUTURE_DATED_SUCCESS

    def to_der(self) -> DerNode:
        return der_sequence(
            der_integer(self.alert_code),
            der_generalized_time(self.execution_date_time),
            der_integer(self.originator_counter),
            self.outcome.to_der(),
        )

    def encode(self) -> bytes:
        return self.to_der().encode()

    def fields(self, base: int = 0) -> tuple[Field, ...]:
        node = self.to_der()
        (a, ao), (t, to), (n, no), (_, oo) = iter_children(node, base)
        try:
            label = FirmwareAlertCode(self.alert_code).label
        except ValueError:
            label = f"0x{self.alert_code:04X}"
        return (
            named(
                "Activate Firmware Alert",
                node,
                base,
                children=(
                    named("Alert Code", a, ao, label),
                    named("Execution Date Time", t, to, time_text(self.execution_date_time)),
                    named("Originator Counter", n, no, self.originator_counter),
                    self.outcome.field(oo),
                ),
            ),
        )
