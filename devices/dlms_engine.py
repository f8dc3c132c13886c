"""Executing a DLMS access-request against a COSEM model.

One result per request item, in order, with the DLMS result codes: GET returns the
value (or null data and the data-access-result), SET stores it, ACTION runs the method
and may return data. ``get_protected_attributes`` (data-protection class 30, method 1,
the ECS17x/ECS19/ECS21b… reads) is executed here: the listed attributes are read, packed
as one ``structure`` and encrypted for the requester with the KDF mode 0x04 key.

Injected faults: ``positional`` (:class:`devices.faults.MessageFaults`) fails items by
their position in the request, as RTDS ``_ERROR`` cases do (ECS26i: item 0 answered,
item 1 hardware-fault, item 2 other-reason); ``faults`` fails every item addressing one
(class, OBIS, member). A failed item is not executed: GET answers null data with the
code, SET and ACTION the code; every other item is executed and answered in order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from gbcs.axdr import Data, encode_data
from gbcs.dlms import (
    AccessRequest,
    AccessResponse,
    ActionResult,
    ActionResultCode,
    ActionSpec,
    DataAccessResult,
    GetProtectedAttributesRequest,
    GetResult,
    GetSpec,
    GetWithSelectionSpec,
    SetResult,
    SetSpec,
    SetWithSelectionSpec,
)

from .cosem import CosemModel
from .faults import MessageFaults

__all__ = ["DATA_PROTECTION_CLASS", "FaultMap", "ItemFault", "execute", "failure_response"]

DATA_PROTECTION_CLASS = 30
_NULL = Data.null()

Sealer = Callable[[bytes], bytes]
"""Encrypts a plaintext into a ``31 00000000 ‖ ct ‖ tag`` blob for the requester."""


@dataclass(frozen=True, slots=True)
class ItemFault:
    """An injected failure: answer this item with ``result`` instead of executing it."""

    result: int


FaultMap = Mapping[tuple[int, bytes, int], ItemFault]
"""(class id, OBIS bytes, attribute or method) -> injected fault."""


def execute(
    req: AccessRequest,
    model: CosemModel,
    *,
    seal: Sealer | None = None,
    faults: FaultMap | None = None,
    positional: MessageFaults | None = None,
) -> AccessResponse:
    """Run every item of ``req``; the response echoes the invoke id (faults: module doc)."""
    data: list[Data] = []
    results: list[GetResult | SetResult | ActionResult] = []
    for index, (spec, value) in enumerate(zip(req.specs, req.data, strict=False)):
        forced = None if positional is None else positional.item(index)
        fault = None if forced is None else ItemFault(forced)
        if fault is None and faults:
            member = spec.method if isinstance(spec, ActionSpec) else spec.attribute
            fault = faults.get((spec.class_id, spec.obis.to_bytes(), member))
        if isinstance(spec, GetSpec | GetWithSelectionSpec):
            if fault is not None:
                data.append(_NULL)
                results.append(GetResult(fault.result))
                continue
            obj, res = model.lookup(spec.class_id, spec.obis)
            got = None
            if obj is not None:
                if isinstance(spec, GetWithSelectionSpec):
                    res, got = obj.get_selected(spec.attribute, spec.selector, spec.parameters)
                else:
                    res, got = obj.get(spec.attribute)
            data.append(got if got is not None else _NULL)
            results.append(GetResult(int(res)))
        elif isinstance(spec, SetSpec | SetWithSelectionSpec):
            data.append(_NULL)
            if fault is not None:
                results.append(SetResult(fault.result))
                continue
            obj, res = model.lookup(spec.class_id, spec.obis)
            if obj is not None:
                res = obj.set(spec.attribute, value)
            results.append(SetResult(int(res)))
        else:
            if fault is not None:
                data.append(_NULL)
                results.append(ActionResult(fault.result))
                continue
            if spec.class_id == DATA_PROTECTION_CLASS and spec.method == 1:
                code, out = _protected_get(model, value, seal)
            else:
                obj, res = model.lookup(spec.class_id, spec.obis)
                if obj is None:
                    code, out = ActionResultCode(int(res)), None
                else:
                    code, out = obj.action(spec.method, value)
            data.append(out if out is not None else _NULL)
            results.append(ActionResult(int(code)))
    missing = len(req.specs) - len(req.data)
    for spec in req.specs[len(req.data) :] if missing > 0 else ():
        data.append(_NULL)
        results.append(_reject(spec, DataAccessResult.TYPE_UNMATCHED))
    return AccessResponse(req.invoke_id, tuple(data), tuple(results))


def failure_response(req: AccessRequest) -> AccessResponse:
    """The answer to an authenticated request the device could not execute or answer
    (a handler error, an injected result a response cannot carry): every item fails with
    other-reason (250) and null data, echoing the invoke id, so the requester is never
    left without a response."""
    return AccessResponse(
        req.invoke_id,
        tuple(_NULL for _ in req.specs),
        tuple(_reject(s, DataAccessResult.OTHER_REASON) for s in req.specs),
    )


def _reject(spec: object, code: DataAccessResult) -> GetResult | SetResult | ActionResult:
    if isinstance(spec, GetSpec | GetWithSelectionSpec):
        return GetResult(int(code))
    if isinstance(spec, SetSpec | SetWithSelectionSpec):
        return SetResult(int(code))
    return ActionResult(int(code))


def _protected_get(
    model: CosemModel, parameter: Data, seal: Sealer | None
) -> tuple[ActionResultCode, Data | None]:
    req = GetProtectedAttributesRequest.from_data(parameter)
    if req is None or len(req.parameters) != 1 or seal is None:
        return ActionResultCode.TYPE_UNMATCHED, None
    values: list[Data] = []
    for o in req.objects:
        obj, res = model.lookup(o.class_id, o.obis)
        if obj is None:
            return ActionResultCode(int(res)), None
        res, got = obj.get(o.attribute)
        if got is None:
            return ActionResultCode(int(res)), None
        values.append(got)
    # The answer's protection parameters are the request's with originator and
    # recipient swapped (RTDS ECS17b); reuse the received Data nodes.
    ptype, opts = parameter.value[1].value[0].value
    txid, orig, recip, other, key_info = opts.value
    answer = Data.structure(ptype, Data.structure(txid, recip, orig, other, key_info))
    blob = seal(encode_data(Data.structure(*values)))
    return ActionResultCode.SUCCESS, Data.structure(Data.array(answer), Data.octet_string(blob))
