"""Which HAN devices a meter (or the GPF) is joined with: the device log of CS03/CS04/CS07.

A :class:`HanJoins` is the device's *Device Log*: one :class:`JoinEntry` per partner EUI,
with the partner's GBCS device type and the join method that created it. On a GPF the
same structure is the *GPF Device Log* that GCS59 restores and GCS62 backs up.

Semantics (GBCS ASN.1 ``JoinDeviceResponse``/``UnjoinDeviceResponse``/
``ReadDeviceJoinDetailsResponse`` codes, names as the RTDS decoder shows them):

* :meth:`HanJoins.join`: ``SUCCESS`` when added, or when the same EUI is already
  joined with the same device type (idempotent: a repeated join refreshes the method
  and certificate); ``INCOMPATIBLE_WITH_EXISTING_ENTRY`` when the EUI is joined with
  another device type; ``DEVICE_LOG_FULL`` at capacity; ``INVALID_JOIN_METHOD_AND_ROLE``
  when :func:`join_allowed` refuses the (own type, method, partner type) combination
  (the RTDS CS03B ERROR case: a GSME asked to Method-B-join a PPMID answers 2);
  ``INVALID_OR_MISSING_CERTIFICATE`` for a Method C join without a usable partner
  certificate.
* :meth:`HanJoins.unjoin`: ``NOT_IN_DEVICE_LOG`` for an unknown EUI; ``OTHER_FAILURE``
  when the entry was created by a join method the unjoin use case does not cover (CS04AC
  removes Method A/C joins, CS04B Method B joins; entries restored without a method are
  removable by both). [INF] GBCS does not name this case; "other failure" is our choice.
* Every refusal leaves the log unchanged.

The allowed combinations (:data:`JOIN_PARTNERS`) are our reading of GBCS join methods
([INF], domain-rules §4): Method A (CBKE, the meter initiates) for an ESME with a PPMID,
HCALCS or Type 2 device; Method B between a GSME and its GPF; Method C (certificate
supplied by the DCC) for a sleepy GSME (or the GPF) with a PPMID, HCALCS or Type 2
device. The RTDS joins all fit: ESME A-initiator + HCALCS, GSME B + GPF, GSME C + PPMID.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

__all__ = [
    "DEFAULT_CAPACITY",
    "JOIN_PARTNERS",
    "HanDeviceType",
    "HanJoins",
    "JoinEntry",
    "JoinMethod",
    "JoinResponse",
    "ReadJoinResponse",
    "UnjoinResponse",
    "join_allowed",
]

DEFAULT_CAPACITY = 16
"""Entries a device log holds by default ([INF]: no source gives a size; configurable)."""


class HanDeviceType(IntEnum):
    """GBCS ``DeviceType`` INTEGER of join commands and device log entries."""

    GSME = 0
    ESME = 1
    CHF = 2
    GPF = 3
    HCALCS = 4
    PPMID = 5
    TYPE_2 = 6


class JoinMethod(IntEnum):
    """GBCS ``JoinMethodAndRole`` INTEGER."""

    METHOD_A_INITIATOR = 0
    METHOD_A_RESPONDER = 1
    METHOD_B = 2
    METHOD_C = 3


class JoinResponse(IntEnum):
    """Response code of CS03 joins (and of each GCS59 restore outcome)."""

    SUCCESS = 0
    INVALID_MESSAGE_CODE_FOR_JOIN_METHOD_AND_ROLE = 1
    INVALID_JOIN_METHOD_AND_ROLE = 2
    INCOMPATIBLE_WITH_EXISTING_ENTRY = 3
    DEVICE_LOG_FULL = 4
    WRITE_FAILURE = 5
    KEY_AGREEMENT_NO_RESOURCES = 6
    KEY_AGREEMENT_UNKNOWN_ISSUER = 7
    KEY_AGREEMENT_UNSUPPORTED_SUITE = 8
    KEY_AGREEMENT_BAD_MESSAGE = 9
    KEY_AGREEMENT_BAD_KEY_CONFIRM = 10
    INVALID_OR_MISSING_CERTIFICATE = 11
    NO_PARTNER_LINK_KEY_RECEIVED = 12
    NO_CBKE_RESPONSE = 13


class UnjoinResponse(IntEnum):
    """Response code of CS04 unjoins."""

    SUCCESS = 0
    NOT_IN_DEVICE_LOG = 1
    OTHER_FAILURE = 2


class ReadJoinResponse(IntEnum):
    """Response code of CS07 (read device join details)."""

    SUCCESS = 0
    READ_FAILURE = 1


_A = (JoinMethod.METHOD_A_INITIATOR,)
_B = (JoinMethod.METHOD_B,)
_C = (JoinMethod.METHOD_C,)
_NON_METER = frozenset({HanDeviceType.PPMID, HanDeviceType.HCALCS, HanDeviceType.TYPE_2})

JOIN_PARTNERS: Mapping[HanDeviceType, Mapping[JoinMethod, frozenset[HanDeviceType]]] = {
    HanDeviceType.ESME: {m: _NON_METER for m in _A},
    HanDeviceType.GSME: {
        JoinMethod.METHOD_B: frozenset({HanDeviceType.GPF}),
        JoinMethod.METHOD_C: _NON_METER,
    },
    HanDeviceType.GPF: {
        JoinMethod.METHOD_B: frozenset({HanDeviceType.GSME}),
        JoinMethod.METHOD_C: _NON_METER,
    },
}
"""Own device type -> join method -> partner device types a join may name."""


def join_allowed(own: HanDeviceType, method: JoinMethod, partner: HanDeviceType) -> bool:
    """True when a device of type ``own`` may join ``partner`` with ``method``."""
    return partner in JOIN_PARTNERS.get(own, {}).get(method, frozenset())


@dataclass(frozen=True, slots=True)
class JoinEntry:
    """One device-log entry. ``method`` is None for entries restored by GCS59.

    ``certificate`` is the partner's KA certificate (DER) a Method C join carried.
    """

    eui: bytes
    device_type: HanDeviceType
    method: JoinMethod | None = None
    certificate: bytes | None = None

    def ka_public_key(self) -> ec.EllipticCurvePublicKey | None:
        """The partner's KA public key from the join's certificate (None without one).

        This is the key a joined PPMID's commands to a GSME are MAC'd with (PCS01/PCS02)
        and the GSME's responses to it.
        """
        return None if self.certificate is None else _certificate_key(self.certificate)

    def to_dict(self) -> dict[str, Any]:
        return {
            "eui": self.eui.hex(),
            "device_type": int(self.device_type),
            "method": None if self.method is None else int(self.method),
            "certificate": None if self.certificate is None else self.certificate.hex(),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> JoinEntry:
        eui = bytes.fromhex(d["eui"])
        if len(eui) != 8:
            raise ValueError(f"join entry EUI {d['eui']!r} is not 8 bytes")
        method = d.get("method")
        cert = d.get("certificate")
        return cls(
            eui,
            HanDeviceType(int(d["device_type"])),
            None if method is None else JoinMethod(int(method)),
            None if cert is None else bytes.fromhex(cert),
        )


@functools.lru_cache(maxsize=64)
def _certificate_key(der: bytes) -> ec.EllipticCurvePublicKey | None:
    try:
        key = x509.load_der_x509_certificate(der).public_key()
    except ValueError:
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


class HanJoins:
    """A bounded device log, in join order (oldest first)."""

    def __init__(self, capacity: int = DEFAULT_CAPACITY, entries: Iterable[JoinEntry] = ()) -> None:
        if capacity <= 0:
            raise ValueError("device log capacity must be positive")
        self.capacity = capacity
        self._entries: dict[bytes, JoinEntry] = {}
        for e in entries:
            if e.eui in self._entries:
                raise ValueError(f"device {e.eui.hex()} appears twice in the device log")
            self._entries[e.eui] = e
        if len(self._entries) > capacity:
            raise ValueError(f"{len(self._entries)} entries exceed the capacity {capacity}")

    def __len__(self) -> int:
        return len(self._entries)

    def __iter__(self) -> Iterator[JoinEntry]:
        return iter(tuple(self._entries.values()))

    def __contains__(self, eui: object) -> bool:
        return eui in self._entries

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HanJoins):
            return NotImplemented
        return self.capacity == other.capacity and list(self) == list(other)

    def get(self, eui: bytes) -> JoinEntry | None:
        """The entry for ``eui``, or None."""
        return self._entries.get(eui)

    def entries(self) -> tuple[JoinEntry, ...]:
        """Every entry, oldest first."""
        return tuple(self._entries.values())

    def check_join(self, eui: bytes, device_type: HanDeviceType) -> JoinResponse:
        """What :meth:`add` would answer, without changing anything."""
        if len(eui) != 8:
            return JoinResponse.INVALID_JOIN_METHOD_AND_ROLE
        existing = self._entries.get(eui)
        if existing is not None:
            if existing.device_type != device_type:
                return JoinResponse.INCOMPATIBLE_WITH_EXISTING_ENTRY
            return JoinResponse.SUCCESS
        if len(self._entries) >= self.capacity:
            return JoinResponse.DEVICE_LOG_FULL
        return JoinResponse.SUCCESS

    def add(self, entry: JoinEntry) -> JoinResponse:
        """Add (or refresh) an entry after the log-level checks of :meth:`check_join`."""
        code = self.check_join(entry.eui, entry.device_type)
        if code is JoinResponse.SUCCESS:
            self._entries[entry.eui] = entry
        return code

    def join(
        self,
        own_type: HanDeviceType,
        method: JoinMethod,
        eui: bytes,
        device_type: HanDeviceType,
        certificate: bytes | None = None,
    ) -> JoinResponse:
        """Join ``eui`` (see the module documentation for the codes)."""
        if not join_allowed(own_type, method, device_type):
            return JoinResponse.INVALID_JOIN_METHOD_AND_ROLE
        if method is JoinMethod.METHOD_C and not certificate:
            return JoinResponse.INVALID_OR_MISSING_CERTIFICATE
        return self.add(JoinEntry(eui, device_type, method, certificate))

    def unjoin(self, eui: bytes, methods: Iterable[JoinMethod]) -> UnjoinResponse:
        """Remove ``eui`` if it was joined by one of ``methods`` (or restored without one)."""
        entry = self._entries.get(eui)
        if entry is None:
            return UnjoinResponse.NOT_IN_DEVICE_LOG
        if entry.method is not None and entry.method not in set(methods):
            return UnjoinResponse.OTHER_FAILURE
        del self._entries[eui]
        return UnjoinResponse.SUCCESS

    def restore(
        self, own_type: HanDeviceType, entries: Iterable[tuple[bytes, HanDeviceType]]
    ) -> list[JoinResponse]:
        """GCS59: add each ``(eui, device type)``; one join response code per entry.

        Each entry is checked like a join whose method is any the device supports for
        that partner type; refused entries are skipped, the others are added.
        """
        allowed = {t for parts in JOIN_PARTNERS.get(own_type, {}).values() for t in parts}
        out = []
        for eui, device_type in entries:
            if device_type not in allowed:
                out.append(JoinResponse.INVALID_JOIN_METHOD_AND_ROLE)
                continue
            out.append(self.add(JoinEntry(eui, device_type)))
        return out

    def copy(self) -> HanJoins:
        """An independent copy."""
        return HanJoins(self.capacity, self._entries.values())

    def to_dict(self) -> dict[str, Any]:
        return {"capacity": self.capacity, "entries": [e.to_dict() for e in self._entries.values()]}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> HanJoins:
        return cls(
            int(d.get("capacity", DEFAULT_CAPACITY)),
            [JoinEntry.from_dict(e) for e in d.get("entries", [])],
        )
