"""Positional fault injection: fail one item of a command, as RTDS ``_ERROR`` cases do.

A :class:`Fault` names a message code and, optionally, which part of the command fails:

* ``item`` — the 0-based position of a DLMS attribute / method descriptor of the
  access-request, or of a GBZ component; omitted (None), the whole command fails (every
  item, or the one outcome code of an ASN.1 response);
* ``record`` — for a GBZ component that answers records (Read Attributes: one record per
  attribute id), the 0-based record within that component; the others answer normally.

The failed part answers with ``result``, the exact GBCS code its response carries:

* DLMS: a Data-Access-Result (GET, SET) / Action-Result (ACTION). Only the codes both
  enumerations define are accepted, so any descriptor can carry them; RTDS uses 1
  (hardware-fault) and 250 (other-reason);
* GBZ: a ZCL status (RTDS GCS36: 0xC0 hardware failure), answered as the component's
  failure form (:func:`devices.gbz_engine.execute_gbz`);
* ASN.1: the outcome code of that use case's response enumeration
  (:data:`FAULT_OUTCOMES`); ASN.1 responses have one outcome per
  message, so ``item`` must be omitted.

Success (0) is never a fault. A code the response cannot carry is refused when the fault
is armed (:func:`check_fault`), so an armed fault always produces a GBCS answer.

``times`` is how many commands with that message code the fault fires on (each command
executed with the code consumes one firing, whether or not it has the item); 0 keeps it
armed until cleared. A :class:`FaultPlan` is device state: the device saves it with
:meth:`FaultPlan.to_dict` and restores it with :meth:`FaultPlan.from_dict`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import IntEnum
from typing import Any

from gbcs.dlms import ActionResultCode, DataAccessResult
from gbcs.usecases import DeviceType, lookup
from gbcs.zcl.names import STATUS_NAMES

from .asn1_handlers import FAILURE_OUTCOMES, HANDLED_CODES
from .control_values import json_kind

FAULT_OUTCOMES: Mapping[int, type[IntEnum]] = {
    c: type(o) for c, o in FAILURE_OUTCOMES.items() if isinstance(o, IntEnum)
}
"""ASN.1 message code -> the enumeration of its response's outcome code."""

__all__ = [
    "DLMS_FAULT_CODES",
    "FAULT_OUTCOMES",
    "GBZ_FAULT_CODES",
    "Fault",
    "FaultError",
    "FaultPlan",
    "MessageFaults",
    "check_fault",
    "fault_kind",
    "parse_result",
    "result_codes",
]

_DLMS_TYPES = frozenset({DeviceType.ESME, DeviceType.CHF})
_GBZ_TYPES = frozenset({DeviceType.GSME, DeviceType.GPF})


def _norm(name: str) -> str:
    return name.strip().upper().replace("-", "_").replace(" ", "_")


def _dlms_codes() -> dict[int, str]:
    both = {int(c) for c in DataAccessResult} & {int(c) for c in ActionResultCode}
    return {c: DataAccessResult(c).name for c in sorted(both) if c}


DLMS_FAULT_CODES: Mapping[int, str] = _dlms_codes()
"""DLMS result codes a fault may carry (in both Data-Access-Result and Action-Result)."""

GBZ_FAULT_CODES: Mapping[int, str] = {c: _norm(n) for c, n in STATUS_NAMES.items() if c}
"""ZCL status codes a GBZ fault may carry."""


class FaultError(ValueError):
    """A fault that cannot be armed: ``field`` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True, slots=True)
class Fault:
    """One armed fault (module doc): message code, result, item, record, firings left."""

    message_code: int
    result: int
    item: int | None = None
    record: int | None = None
    times: int = 1

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (``message_code`` as ``0xNNNN`` text)."""
        out: dict[str, Any] = {"message_code": f"0x{self.message_code:04X}", "result": self.result}
        if self.item is not None:
            out["item"] = self.item
        if self.record is not None:
            out["record"] = self.record
        out["times"] = self.times
        return out

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Fault:
        """The inverse of :meth:`to_dict`."""
        code = doc["message_code"]
        item, record = doc.get("item"), doc.get("record")
        return cls(
            int(code, 16) if isinstance(code, str) else int(code),
            int(doc["result"]),
            None if item is None else int(item),
            None if record is None else int(record),
            int(doc.get("times", 1)),
        )

    @property
    def key(self) -> tuple[int, int | None, int | None]:
        """What the fault addresses; arming the same address again replaces it."""
        return (self.message_code, self.item, self.record)


@dataclass(frozen=True, slots=True)
class MessageFaults:
    """The faults one command executes with: whole-command, per item, per record."""

    whole: int | None = None
    items: Mapping[int, int] = field(default_factory=dict)
    records: Mapping[int, Mapping[int, int]] = field(default_factory=dict)

    def item(self, index: int) -> int | None:
        """The result forced on item ``index`` (None: execute it normally)."""
        return self.items.get(index, self.whole)


class FaultPlan:
    """The armed faults of one device, in arming order."""

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        self._faults: dict[tuple[int, int | None, int | None], Fault] = {}
        for f in faults:
            self.arm(f)

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults.values()))

    def __len__(self) -> int:
        return len(self._faults)

    def arm(self, fault: Fault) -> None:
        """Arm ``fault`` (replacing one armed for the same code, item and record)."""
        self._faults.pop(fault.key, None)
        self._faults[fault.key] = fault

    def clear(self, message_code: int | None = None) -> int:
        """Disarm every fault (or those of ``message_code``); returns how many went."""
        gone = [k for k in self._faults if message_code is None or k[0] == message_code]
        for k in gone:
            del self._faults[k]
        return len(gone)

    def peek(self, message_code: int) -> MessageFaults | None:
        """The faults a command with ``message_code`` would execute with (nothing consumed)."""
        mine = [f for f in self._faults.values() if f.message_code == message_code]
        if not mine:
            return None
        whole = None
        items: dict[int, int] = {}
        records: dict[int, dict[int, int]] = {}
        for f in mine:
            if f.item is None:
                whole = f.result
            elif f.record is None:
                items[f.item] = f.result
            else:
                records.setdefault(f.item, {})[f.record] = f.result
        return MessageFaults(whole, items, records)

    def take(self, message_code: int) -> MessageFaults | None:
        """:meth:`peek`, consuming one firing of each fault of ``message_code``."""
        out = self.peek(message_code)
        for k, f in list(self._faults.items()):
            if f.message_code != message_code or f.times == 0:
                continue
            if f.times == 1:
                del self._faults[k]
            else:
                self._faults[k] = replace(f, times=f.times - 1)
        return out

    def to_dict(self) -> list[dict[str, Any]]:
        """Plain JSON-able form: the faults in arming order."""
        return [f.to_dict() for f in self._faults.values()]

    @classmethod
    def from_dict(cls, doc: Iterable[Mapping[str, Any]]) -> FaultPlan:
        """The inverse of :meth:`to_dict`."""
        return cls(Fault.from_dict(d) for d in doc)


# ------------------------------------------------------------------------- checking


def fault_kind(message_code: int) -> str:
    """``dlms``, ``gbz`` or ``asn1``: which response form a fault on the code takes."""
    if message_code in FAULT_OUTCOMES:
        return "asn1"
    uc = lookup(message_code)
    if uc is None:
        raise FaultError("message_code", f"0x{message_code:04X} is not a GBCS message code")
    if uc.payload_kind in ("dlms", "gbz"):
        return uc.payload_kind
    if uc.payload_kind == "asn1" or message_code in HANDLED_CODES:
        raise FaultError(
            "message_code",
            f"0x{message_code:04X} ({uc.name}) has no ASN.1 handler with an outcome code "
            f"to force; ASN.1 faults apply to {_codes(FAULT_OUTCOMES)}",
        )
    raise FaultError(
        "message_code",
        f"0x{message_code:04X} ({uc.name}) has a {uc.payload_kind} payload; faults apply "
        "to DLMS, GBZ and ASN.1 use cases",
    )


def _codes(codes: Iterable[int]) -> str:
    return ", ".join(f"0x{c:04X}" for c in sorted(codes))


def result_codes(message_code: int) -> Mapping[int, str]:
    """The non-success result codes a fault on ``message_code`` may carry, with names."""
    kind = fault_kind(message_code)
    if kind == "dlms":
        return DLMS_FAULT_CODES
    if kind == "gbz":
        return GBZ_FAULT_CODES
    enum: type[IntEnum] = FAULT_OUTCOMES[message_code]
    return {int(m): m.name for m in enum if int(m)}


def parse_result(message_code: int, raw: Any) -> int:
    """A result given as an integer, ``0x`` hex text or a code name, checked for the code."""
    allowed = result_codes(message_code)
    value: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        value = raw
    elif isinstance(raw, str):
        text = raw.strip()
        if re.fullmatch(r"0[xX][0-9A-Fa-f]+|[0-9]+", text):
            value = int(text, 0) if text[:2].lower() == "0x" else int(text)
        else:
            value = _names(message_code, allowed).get(_norm(text))
            if value is None:
                raise FaultError(
                    "result",
                    f"unknown result name {raw!r} for 0x{message_code:04X}; "
                    f"allowed: {_shown(allowed)}",
                )
    if value is None:
        raise FaultError("result", f"expected an integer or a result name, got {json_kind(raw)}")
    if value == 0:
        raise FaultError("result", "0 is success, not a fault")
    if value not in allowed:
        raise FaultError(
            "result",
            f"{value} is not a result the 0x{message_code:04X} response can carry; "
            f"allowed: {_shown(allowed)}",
        )
    return value


def _shown(allowed: Mapping[int, str]) -> str:
    return ", ".join(f"{c} ({n.lower()})" for c, n in allowed.items())


def _names(message_code: int, allowed: Mapping[int, str]) -> dict[str, int]:
    """Names of the allowed codes; DLMS also takes the Action-Result spellings."""
    out = {n: c for c, n in allowed.items()}
    if fault_kind(message_code) == "dlms":
        for m in ActionResultCode:
            if int(m) in allowed:
                out.setdefault(m.name, int(m))
    return out


def check_fault(fault: Fault, device_type: DeviceType) -> Fault:
    """``fault`` if a ``device_type`` device can answer it, else :class:`FaultError`."""
    kind = fault_kind(fault.message_code)
    code = f"0x{fault.message_code:04X}"
    if kind == "dlms" and device_type not in _DLMS_TYPES:
        raise FaultError("message_code", f"{code} is a DLMS use case; a {device_type} speaks GBZ")
    if kind == "gbz" and device_type not in _GBZ_TYPES:
        raise FaultError("message_code", f"{code} is a GBZ use case; a {device_type} speaks DLMS")
    if kind == "asn1" and device_type not in HANDLED_CODES.get(fault.message_code, ()):
        raise FaultError("message_code", f"a {device_type} does not execute {code}")
    parse_result(fault.message_code, fault.result)
    if fault.item is not None and fault.item < 0:
        raise FaultError("item", f"expected an index 0..255, got {fault.item}")
    if kind == "asn1" and fault.item is not None:
        raise FaultError(
            "item", f"{code} answers one outcome code for the whole message: omit item"
        )
    if fault.record is not None:
        if kind != "gbz":
            raise FaultError("record", "records are GBZ Read Attributes records; omit record")
        if fault.item is None:
            raise FaultError("record", "a record belongs to a component: give item too")
        if fault.record < 0:
            raise FaultError("record", f"expected an index 0..255, got {fault.record}")
    if fault.times < 0:
        raise FaultError("times", f"expected 0 (until cleared) or more, got {fault.times}")
    return fault
