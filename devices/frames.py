"""Building the frames a device sends: responses and alerts, MAC'd or signed.

* Response to a critical command: General-Signing (``DF``), signed with the device's DS
  key, no MAC. Response to a non-critical command: General-Ciphering (``DD``) MAC'd with
  the device KA ↔ recipient KA key, null signature (domain-rules §3.1 table).
* The response echoes the command's counter and other-information; a command from an
  unknown remote party (its KA certificate in other-information) gets a response that
  carries the device's own *supplementary originator counter* instead (gbcs-wire §3.2).
* The 12-byte date-time sits in the response header exactly for the use cases listed in
  gbcs-wire.md §3.2: register/balance reads, top-ups and responses to commands that may
  be future-dated.
* Alerts: critical ones signed (``DF``), non-critical ones MAC'd with a null signature.
"""

from __future__ import annotations

from datetime import datetime

from gbcs.codec import GbcsMessage
from gbcs.cosem_time import DlmsDateTime
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.envelope import Cra, GroupingHeader, OtherInformation
from gbcs.payload import Payload
from gbcs.security import part_key_for, protect, seal_part
from gbcs.usecases import UseCase

from .trust import DeviceKeys

__all__ = [
    "DATE_TIME_RESPONSES",
    "build_alert",
    "build_response",
    "response_has_date_time",
    "response_header",
    "seal",
]

DATE_TIME_RESPONSES = frozenset(
    {
        # register and balance reads
        "ECS17a", "ECS17b", "ECS17c", "ECS17d", "ECS17e", "ECS18a", "ECS18b", "ECS19",
        "ECS23", "ECS23b", "GCS13a", "GCS13b", "GCS13c", "GCS14", "GCS60a",
        # top-ups
        "CS01a", "CS01b",
        # commands that may be future-dated
        "ECS01a", "ECS01b", "ECS01c", "ECS01d", "GCS01a", "GCS01b", "ECS02", "ECS03",
        "GCS02", "GCS03",
        "ECS08", "ECS08a", "GCS05", "ECS28a", "ECS46c", "ECS46d", "CS06", "CS02b", "CS02g",
    }
)  # fmt: skip
"""Use cases whose response header carries a date-time (gbcs-wire.md §3.2, plus GCS02 and
GCS03 — future-dated capable payment-mode changes whose RTDS responses carry one too)."""


def response_has_date_time(uc: UseCase) -> bool:
    return uc.name in DATE_TIME_RESPONSES


def header_time(device_time: datetime | None) -> DlmsDateTime:
    """The header date-time; all "not specified" while the device clock is invalid."""
    return DlmsDateTime() if device_time is None else DlmsDateTime.from_datetime(device_time)


def response_header(
    cmd: GbcsMessage,
    uc: UseCase,
    me: bytes,
    device_time: datetime | None,
    supplementary_counter: int | None = None,
) -> GroupingHeader:
    """The grouping header of the response to ``cmd``."""
    other = cmd.header.other
    if other.certificate is not None:
        other = OtherInformation(
            other.message_code,
            other.srp_id,
            other.srp_counter,
            supplementary_originator_counter=supplementary_counter,
        )
    return GroupingHeader(
        Cra.RESPONSE,
        cmd.counter,
        me,
        cmd.originator,
        other,
        header_time(device_time) if response_has_date_time(uc) else None,
    )


def build_response(
    header: GroupingHeader,
    payload: Payload,
    *,
    critical: bool,
    keys: DeviceKeys,
    variant: SignatureVariant = SignatureVariant.CNSA,
) -> bytes:
    """The protected response frame."""
    if critical:
        return protect(header, payload, keys, sign_key=keys.own.ds, mac=False, variant=variant)
    return protect(header, payload, keys)


def build_alert(
    *,
    me: bytes,
    recipient: bytes,
    message_code: int,
    counter: int,
    payload: Payload,
    critical: bool,
    keys: DeviceKeys,
    variant: SignatureVariant = SignatureVariant.CNSA,
) -> bytes:
    """A protected alert frame (CRA 3) from the device to ``recipient``."""
    header = GroupingHeader(Cra.ALERT, counter, me, recipient, OtherInformation(message_code))
    return build_response(header, payload, critical=critical, keys=keys, variant=variant)


def seal(header: GroupingHeader, keys: DeviceKeys, plaintext: bytes) -> bytes:
    """Encrypt a sensitive part of a message with this header (KDF mode 0x04)."""
    return seal_part(part_key_for(header, keys), header.originator, plaintext)
