"""The control API's fault-injection operations: ``inject_fault`` and ``clear_faults``.

``inject_fault`` arms a positional fault (:mod:`devices.faults`) on the addressed
device: the next command(s) with the message code fail that item, record or the whole
command with the exact GBCS result code, and every other item is answered normally::

    {"id": 1, "op": "inject_fault", "use_case": "ECS26i", "item": 1,
     "result": "hardware_fault", "times": 1}

Fields: ``message_code`` (integer or ``0x`` hex text) or ``use_case`` (a name from
:mod:`gbcs.usecases`) — exactly one; ``result`` (integer, ``0x`` hex text or the codec's
name of the code, e.g. ``hardware_fault``, ``other_reason``, ``HARDWARE_FAILURE``);
optional ``item`` (0-based DLMS descriptor or GBZ component; omitted: the whole command,
the only form for ASN.1 outcome codes), ``record`` (GBZ Read Attributes record of that
component) and ``times`` (commands it fires on, default 1; 0 = until cleared).
``clear_faults`` disarms every fault, or those of one ``message_code`` / ``use_case``.

Armed faults are device state: they are saved with the device and shown by
``get_status`` (:func:`with_faults`). The operations are registered in
:data:`devices.control.OPS`; every field is checked before anything changes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from gbcs.usecases import by_name, lookup

from .control_values import ControlError, json_kind
from .device import Device
from .faults import Fault, FaultError, check_fault, parse_result


class _Ctx(Protocol):
    """What these operations use of a control request's context (devices.control._Ctx)."""

    request: Mapping[str, Any]
    device: Device


__all__ = ["clear_faults", "inject_fault", "with_faults"]

_MAX_INDEX = 255
_MAX_TIMES = 65535

Apply = Callable[[], dict[str, Any]]


def _bad(field: str, message: str) -> ControlError:
    return ControlError("bad_field", f"{field}: {message}", field)


def _fault_error(e: FaultError) -> ControlError:
    return ControlError("bad_field", str(e), e.field)


def _index(request: Mapping[str, Any], name: str, lo: int, hi: int) -> int | None:
    v = request.get(name)
    if v is None and name not in request:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(name, f"expected an integer {lo}..{hi}, got {json_kind(v)}")
    return v


def _message_code(request: Mapping[str, Any], *, required: bool) -> int | None:
    has_code, has_name = "message_code" in request, "use_case" in request
    if has_code and has_name:
        raise _bad("use_case", "give message_code or use_case, not both")
    if has_name:
        name = request["use_case"]
        if not isinstance(name, str):
            raise _bad(
                "use_case", f"expected a use case name such as ECS26i, got {json_kind(name)}"
            )
        uc = by_name(name.strip())
        if uc is None:
            raise _bad("use_case", f"unknown use case {name!r} (names as in GBCS: ECS26i, GCS36…)")
        return uc.code
    if not has_code:
        if required:
            raise ControlError(
                "missing_field", "inject_fault needs 'message_code' or 'use_case'", "message_code"
            )
        return None
    v = request["message_code"]
    if isinstance(v, str) and re.fullmatch(r"\s*0[xX][0-9A-Fa-f]{1,4}\s*", v):
        v = int(v, 16)
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= 0xFFFF:
        raise _bad(
            "message_code", f"expected an integer 0..65535 or hex text (0x0092), got {json_kind(v)}"
        )
    if lookup(v) is None:
        raise _bad("message_code", f"0x{v:04X} is not a GBCS message code")
    return v


def inject_fault(ctx: _Ctx) -> Apply:
    """Validate an ``inject_fault`` request; the returned callable arms the fault."""
    req = ctx.request
    code = _message_code(req, required=True)
    assert code is not None
    item = _index(req, "item", 0, _MAX_INDEX)
    record = _index(req, "record", 0, _MAX_INDEX)
    times = _index(req, "times", 0, _MAX_TIMES)
    try:
        result = parse_result(code, req["result"])
        fault = check_fault(
            Fault(code, result, item, record, 1 if times is None else times),
            ctx.device.device_type,
        )
    except FaultError as e:
        raise _fault_error(e) from None

    def apply() -> dict[str, Any]:
        ctx.device.faults.arm(fault)
        return {"armed": fault.to_dict(), "faults": ctx.device.faults.to_dict()}

    return apply


def clear_faults(ctx: _Ctx) -> Apply:
    """Validate a ``clear_faults`` request; the returned callable disarms the faults."""
    code = _message_code(ctx.request, required=False)

    def apply() -> dict[str, Any]:
        n = ctx.device.faults.clear(code)
        return {"cleared": n, "faults": ctx.device.faults.to_dict()}

    return apply


def with_faults(prepare: Callable[[_Ctx], Apply]) -> Callable[[_Ctx], Apply]:
    """``prepare`` (the ``get_status`` preparer) with the armed faults in its reply."""

    def wrapped(ctx: _Ctx) -> Apply:
        apply = prepare(ctx)

        def with_list() -> dict[str, Any]:
            out = apply()
            out["faults"] = ctx.device.faults.to_dict()
            return out

        return with_list

    return wrapped
