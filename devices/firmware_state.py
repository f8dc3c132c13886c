"""Firmware state of a device: running version, held image, pending activation (CS06).

domain-rules §4.4: an OTA image arrives (SR 11.1; not handled here) and is *held*: we
keep its manufacturer-image hash (SHA-256, as the Firmware Distribution Receipt Alert
reports it) and the version it would activate. CS06 (0x0012) activates it:

* immediately (no ``executionDateTime``, or one not after the device time): the
  response is an ExecutionOutcome with ``SUCCESS`` and the version now running, or
  ``NO_IMAGE_HELD`` / ``HASH_MISMATCH`` (command hash differs from the held image's) /
  ``ACTIVATION_FAILURE`` (only by fault injection), the version unchanged;
* future-dated: the response is NULL ("command accepted"); a later future-dated CS06
  replaces a pending one ([INF]: one pending activation per device). When the device
  time reaches the execution date-time, :meth:`FirmwareState.due` runs the same checks
  against the image held *then* and returns an Activate Firmware Alert (0x00CA) with
  0x8F66 (success) or 0x8F67 (failure), the execution date-time and the command's
  originator counter.

A success that changes the running version sets ``version_changed`` so the device can
log 0x8F43 and apply its own side effects (the ESME's MP102 Comms Hub supply cut is the
device's business, not this module's). A retried CS06 for the image already running
succeeds without changing the version, so it neither logs 0x8F43 again nor reboots
(no second Comms Hub supply cut, hence no false power-outage alert). A device whose
clock is invalid cannot schedule a future-dated activation: it answers
``ACTIVATION_FAILURE`` at once ([INF]).

:attr:`FirmwareState.running_version` is the one source of every version read: ECS52
(``0-0:0.2.1.255`` on the ESME and the CHF) and GCS38 (the GSME's Metering
``CurrentMeterID``, mirrored by the GPF). The device has no "Suspended" state: SEC
MP105's Suspended is the DCC's inventory status, so the running version reads the same
after an activation whose response was lost (SR 11.2 on ESME and GSME).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from gbcs.firmware import (
    IMAGE_HASH_SIZE,
    ActivateFirmwareAlert,
    ActivateFirmwareCommand,
    ActivateFirmwareOutcome,
    ActivateFirmwareResponse,
    ActivateFirmwareResponseCode,
    FirmwareAlertCode,
)

__all__ = [
    "FIRMWARE_VERSION_SIZE",
    "ActivationDue",
    "ActivationResult",
    "FirmwareError",
    "FirmwareState",
    "HeldImage",
    "PendingActivation",
]

FIRMWARE_VERSION_SIZE = 4
"""Bytes of a firmware version (``0-0:0.2.1.255`` octet-string(4), ExecutionOutcome)."""

Code = ActivateFirmwareResponseCode


class FirmwareError(ValueError):
    """A firmware value that cannot be held (wrong hash or version size, bad state dict)."""


def _check_version(version: bytes) -> bytes:
    if not isinstance(version, bytes | bytearray) or len(version) != FIRMWARE_VERSION_SIZE:
        raise FirmwareError(f"firmware version must be {FIRMWARE_VERSION_SIZE} bytes")
    return bytes(version)


def _check_hash(image_hash: bytes) -> bytes:
    if not isinstance(image_hash, bytes | bytearray) or len(image_hash) != IMAGE_HASH_SIZE:
        raise FirmwareError(f"manufacturer image hash must be {IMAGE_HASH_SIZE} bytes")
    return bytes(image_hash)


def _utc(t: datetime) -> datetime:
    if t.tzinfo is None or t.utcoffset() is None:
        raise FirmwareError("times must be timezone-aware")
    return t.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class HeldImage:
    """An image the device holds: its manufacturer-image hash and the version it brings."""

    image_hash: bytes
    version: bytes

    def __post_init__(self) -> None:
        _check_hash(self.image_hash)
        _check_version(self.version)

    @classmethod
    def from_image(cls, manufacturer_image: bytes, version: bytes) -> HeldImage:
        """Hold a manufacturer image: its hash is the SHA-256 of the image bytes."""
        return cls(hashlib.sha256(manufacturer_image).digest(), version)


@dataclass(frozen=True, slots=True)
class PendingActivation:
    """A future-dated CS06 waiting for its execution date-time (device time)."""

    execution_time: datetime
    image_hash: bytes
    originator_counter: int
    originator: bytes

    def __post_init__(self) -> None:
        _check_hash(self.image_hash)


@dataclass(frozen=True, slots=True)
class ActivationResult:
    """What :meth:`FirmwareState.activate` did.

    ``response.outcome`` is None for an accepted future-dated command (the "pending
    marker"); ``version_changed`` is True when the running version changed now.
    """

    response: ActivateFirmwareResponse
    version_changed: bool = False
    previous_version: bytes | None = None

    @property
    def pending(self) -> bool:
        """True when the command was stored for later execution."""
        return self.response.outcome is None


@dataclass(frozen=True, slots=True)
class ActivationDue:
    """A future-dated activation that ran: the 0x00CA alert and whom it goes to."""

    alert: ActivateFirmwareAlert
    originator: bytes
    version_changed: bool
    previous_version: bytes


class FirmwareState:
    """Running version, held image (or none), pending future-dated activation (or none)."""

    def __init__(
        self,
        running_version: bytes = b"\x01\x00\x00\x00",
        held: HeldImage | None = None,
        pending: PendingActivation | None = None,
    ) -> None:
        self.running_version = _check_version(running_version)
        self.held = held
        self.pending = pending

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FirmwareState):
            return NotImplemented
        return (self.running_version, self.held, self.pending) == (
            other.running_version,
            other.held,
            other.pending,
        )

    def __repr__(self) -> str:
        return (
            f"FirmwareState(running_version={self.running_version.hex()}, "
            f"held={self.held!r}, pending={self.pending!r})"
        )

    # ------------------------------------------------------------------ image store

    def hold(self, image: HeldImage) -> None:
        """Hold ``image`` (replacing any image held before)."""
        self.held = image

    def hold_image(self, manufacturer_image: bytes, version: bytes) -> HeldImage:
        """Hold a manufacturer image (hash computed here); returns what is held."""
        self.held = HeldImage.from_image(manufacturer_image, version)
        return self.held

    def discard_image(self) -> None:
        """Forget the held image (a pending activation will then fail)."""
        self.held = None

    # ------------------------------------------------------------------ activation

    def _execute(self, image_hash: bytes, fault: int | None) -> tuple[Code, bool, bytes]:
        """Check and activate: ``(code, version changed, previous version)``."""
        before = self.running_version
        if fault is not None and fault != Code.SUCCESS:
            return Code(fault), False, before
        if self.held is None:
            return Code.NO_IMAGE_HELD, False, before
        if self.held.image_hash != image_hash:
            return Code.HASH_MISMATCH, False, before
        self.running_version = self.held.version
        return Code.SUCCESS, self.running_version != before, before

    def activate(
        self,
        cmd: ActivateFirmwareCommand,
        device_time: datetime | None,
        *,
        originator: bytes = b"",
        fault: int | None = None,
    ) -> ActivationResult:
        """Execute or schedule a CS06 command.

        ``device_time`` is the device clock (None while invalid); ``originator`` is the
        command's originator EUI (the alert's recipient). ``fault`` (a
        :class:`~gbcs.firmware.ActivateFirmwareResponseCode` other than success) forces
        that outcome without any change, for test benches; an unknown value raises
        :class:`FirmwareError` before anything changes.
        """
        if fault is not None:
            try:
                Code(fault)
            except ValueError:
                raise FirmwareError(f"unknown activate-firmware response code {fault}") from None
        when = cmd.execution_date_time
        if when is not None:
            if device_time is None:
                outcome = ActivateFirmwareOutcome(Code.ACTIVATION_FAILURE, self.running_version)
                return ActivationResult(ActivateFirmwareResponse(outcome))
            if _utc(when) > _utc(device_time):
                self.pending = PendingActivation(
                    _utc(when), cmd.manufacturer_image_hash, cmd.originator_counter, originator
                )
                return ActivationResult(ActivateFirmwareResponse(None))
        code, changed, before = self._execute(cmd.manufacturer_image_hash, fault)
        outcome = ActivateFirmwareOutcome(code, self.running_version)
        return ActivationResult(ActivateFirmwareResponse(outcome), changed, before)

    def next_due(self) -> datetime | None:
        """Device time at which :meth:`due` will next produce something."""
        return None if self.pending is None else self.pending.execution_time

    def due(self, device_time: datetime | None) -> list[ActivationDue]:
        """Run the pending activation if ``device_time`` has reached it.

        Returns the alert to raise (0x8F66 success / 0x8F67 failure) or nothing. A device
        with an invalid clock (None) runs nothing.
        """
        p = self.pending
        if p is None or device_time is None or _utc(device_time) < p.execution_time:
            return []
        self.pending = None
        code, changed, before = self._execute(p.image_hash, None)
        alert_code = (
            FirmwareAlertCode.FUTURE_DATED_SUCCESS
            if code is Code.SUCCESS
            else FirmwareAlertCode.FUTURE_DATED_FAILURE
        )
        alert = ActivateFirmwareAlert(
            int(alert_code),
            p.execution_time,
            p.originator_counter,
            ActivateFirmwareOutcome(code, self.running_version),
        )
        return [ActivationDue(alert, p.originator, changed, before)]

    # ------------------------------------------------------------------ state

    def copy(self) -> FirmwareState:
        """An independent copy (the held image and pending activation are immutable)."""
        return FirmwareState(self.running_version, self.held, self.pending)

    def to_dict(self) -> dict[str, Any]:
        held = self.held
        p = self.pending
        return {
            "running_version": self.running_version.hex(),
            "held": None
            if held is None
            else {"hash": held.image_hash.hex(), "version": held.version.hex()},
            "pending": None
            if p is None
            else {
                "execution_time": p.execution_time.isoformat(),
                "hash": p.image_hash.hex(),
                "originator_counter": p.originator_counter,
                "originator": p.originator.hex(),
            },
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> FirmwareState:
        """Inverse of :meth:`to_dict`; raises :class:`FirmwareError` for a bad dict."""
        try:
            h = d.get("held")
            held = (
                None
                if h is None
                else HeldImage(bytes.fromhex(h["hash"]), bytes.fromhex(h["version"]))
            )
            p = d.get("pending")
            pending = None
            if p is not None:
                pending = PendingActivation(
                    _utc(datetime.fromisoformat(p["execution_time"])),
                    bytes.fromhex(p["hash"]),
                    int(p["originator_counter"]),
                    bytes.fromhex(p.get("originator", "")),
                )
            return cls(bytes.fromhex(d["running_version"]), held, pending)
        except (KeyError, TypeError, ValueError) as e:
            if isinstance(e, FirmwareError):
                raise
            raise FirmwareError(f"bad firmware state: {e}") from None
