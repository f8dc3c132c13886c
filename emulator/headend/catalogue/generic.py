"""A head-end catalogue entry for ANY command use case of the GBCS registry.

The hand-written entries of :mod:`emulator.headend.usecases` take named, typed
parameters; every other command use case of :func:`gbcs.usecases.all_use_cases` is
sendable through :func:`generic_entry`, whose single parameter ``args`` holds the
*structural arguments* of the payload, as ``gbcs-emu usecase explain`` prints them:

* DLMS: ``{"items": [{"operation": "get", "class_id": 1, "obis": ..., "attribute": 2}]}``
  (:mod:`.dlms_args`), built with the head-end's counter (invoke id, transaction id);
* GBZ: ``{"components": [{"cluster": ..., "command": ..., "body": {...}}]}``
  (:mod:`.gbz_args`);
* ASN.1: the typed fields of the use case, or ``{"der": [...]}`` (:mod:`.asn1_args`).

``args`` may be a mapping, JSON text, or ``@path/to/file.json``. It is checked when it
is converted: the payload is built once with a dummy counter, so bad arguments fail
before anything is sent, with the argument path in the message.

The response decodes into plain JSON values: ``ok`` plus, for DLMS, the per-item
``results`` (result name, data in :func:`.dlms_args.data_json`'s tagged form) and the
decrypted ``plaintexts``; for GBZ the :func:`.gbz_args.explain_gbz` form of the response
(encrypted components explained from their plaintext) and any ``errors``; for ASN.1 the
:func:`.asn1_args.explain_asn1` form.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from enum import IntEnum
from pathlib import Path
from typing import Any

from devices.pipeline import allowed_roles
from devices.trust import ANCHOR_ROLES
from gbcs.asn1 import Asn1Payload
from gbcs.axdr import Data
from gbcs.dlms import AccessResponse, ActionResult, ActionResultCode, DataAccessResult
from gbcs.errors import GbcsError
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.payload import Payload
from gbcs.usecases import DeviceType, UseCase, all_use_cases, by_name, lookup
from gbcs.zcl import (
    DefaultResponse,
    ReadAttributesResponse,
    WriteAttributesResponse,
    ZclPayload,
)
from keys.roles import RemotePartyRole

from .asn1_args import Asn1ArgsError, build_asn1, explain_asn1
from .dlms_args import DlmsArgsError, build_dlms, data_json
from .entry import BuildContext, CatalogEntry, Param, ResponseView, UseCaseError
from .gbz_args import GbzArgsError, build_gbz, explain_gbz

__all__ = [
    "ARGS_HELP",
    "command_use_cases",
    "generic_entry",
    "generic_name",
    "load_args",
    "resolve",
]

R = RemotePartyRole
_KINDS = ("dlms", "gbz", "asn1")
#: Which role to pick when the registry allows several (GBCS: the Supplier first).
_ROLE_PREFERENCE = (R.SUPPLIER, R.NETWORK_OPERATOR, R.ACCESS_CONTROL_BROKER, R.LOAD_CONTROLLER)
_DUMMY_COUNTER = 1

ARGS_HELP = (
    "the payload's structural arguments (as `gbcs-emu usecase explain` prints them): "
    "a JSON object, JSON text or @file.json"
)


def command_use_cases() -> tuple[UseCase, ...]:
    """Every registry use case a head-end sends: direction command, with targets."""
    return tuple(uc for uc in all_use_cases() if uc.direction == "command" and uc.targets)


def _duplicated() -> frozenset[str]:
    seen: set[str] = set()
    dup: set[str] = set()
    for uc in command_use_cases():
        key = uc.name.upper()
        (dup if key in seen else seen).add(key)
    return frozenset(dup)


_DUPLICATED = _duplicated()


def generic_name(uc: UseCase) -> str:
    """The catalogue name of ``uc``: its registry name, or ``NAME@0xCODE`` when several
    message codes share that name (CS02b's credential-replacement variants)."""
    if uc.name.upper() in _DUPLICATED:
        return f"{uc.name}@0x{uc.code:04X}"
    return uc.name


def resolve(name: str) -> UseCase | None:
    """The command use case ``name`` denotes: a registry name (case-insensitive),
    ``NAME@0xCODE`` or a bare message code ``0xCODE``; None if there is none.
    :class:`UseCaseError` for a name several message codes share (it lists them)."""
    text = name.strip()
    base, sep, code_text = text.partition("@")
    if not sep and text.lower().startswith("0x"):
        base, code_text = "", text
    uc: UseCase | None
    if code_text:
        try:
            uc = lookup(int(code_text, 16))
        except ValueError:
            return None
        if uc is not None and base and uc.name.upper() != base.upper():
            return None
    else:
        if base.upper() in _DUPLICATED:
            variants = [
                f"{generic_name(u)} ({u.title})"
                for u in command_use_cases()
                if u.name.upper() == base.upper()
            ]
            raise UseCaseError(
                f"{base} names {len(variants)} use cases; give one of: {', '.join(variants)}"
            )
        uc = by_name(base)
    if uc is None or uc.direction != "command" or not uc.targets:
        return None
    return uc


# ------------------------------------------------------------------------- roles


def _pick(roles: frozenset[int] | None, dt: DeviceType) -> RemotePartyRole:
    anchors = ANCHOR_ROLES.get(dt.value)
    if roles is None:  # the registry names nobody: any party the device trusts
        roles = frozenset(int(r) for r in anchors) if anchors else frozenset({int(R.SUPPLIER)})
    elif anchors:
        roles = roles & {int(r) for r in anchors} or roles
    for r in _ROLE_PREFERENCE:
        if int(r) in roles:
            return r
    return R(min(roles))


def _roles(uc: UseCase) -> tuple[RemotePartyRole, dict[DeviceType, RemotePartyRole]]:
    """The default role and the per-device-type exceptions, from what the devices
    accept (:func:`devices.pipeline.allowed_roles`, narrowed to the trust anchors each
    device type holds: a CHF trusts DCC roles only, so the ACB sends to it)."""
    per = {dt: _pick(allowed_roles(uc, dt), dt) for dt in uc.targets}
    choices = list(per.values())
    default = (
        R.SUPPLIER
        if R.SUPPLIER in choices
        else max(choices, key=lambda r: (choices.count(r), -int(r)))
    )
    return default, {dt: r for dt, r in per.items() if r is not default}


# ------------------------------------------------------------------------- arguments


def load_args(value: Any, *, base: Path | None = None) -> dict[str, Any]:
    """Structural arguments from a mapping, JSON text or ``@file.json`` (relative to
    ``base`` when given); :class:`UseCaseError` saying what is wrong otherwise."""
    if isinstance(value, Mapping):
        return dict(value)
    if not isinstance(value, str):
        raise UseCaseError(
            f"expected a JSON object, JSON text or @file.json, got {type(value).__name__}"
        )
    text = value.strip()
    where = "the JSON text"
    if text.startswith("@"):
        path = Path(text[1:])
        if base is not None and not path.is_absolute():
            path = base / path
        try:
            text = path.read_text()
        except OSError as e:
            raise UseCaseError(f"cannot read {path}: {e.strerror or e}") from None
        except UnicodeDecodeError:
            raise UseCaseError(f"{path}: not a text (JSON) file") from None
        where = str(path)
    try:
        obj = json.loads(text)
    except ValueError as e:
        raise UseCaseError(f"{where} is not valid JSON: {e}") from None
    if not isinstance(obj, dict):
        raise UseCaseError(f"{where} must hold a JSON object, got {type(obj).__name__}")
    return obj


def _kind(uc: UseCase, args: Mapping[str, Any]) -> str:
    if uc.payload_kind in _KINDS:
        return uc.payload_kind
    if "items" in args:
        return "dlms"
    if "components" in args:
        return "gbz"
    return "asn1"


def _build(uc: UseCase, args: Mapping[str, Any], counter: int) -> Payload:
    kind = _kind(uc, args)
    try:
        if kind == "dlms":
            return build_dlms(args, uc.code, counter)
        if kind == "gbz":
            return build_gbz(args, uc.code)
        return build_asn1(args, uc.code)
    except (DlmsArgsError, GbzArgsError, Asn1ArgsError) as e:
        raise UseCaseError(f"{kind.upper()} arguments: {e}") from None
    except GbcsError as e:
        raise UseCaseError(f"{kind.upper()} arguments do not encode: {e}") from None


def _converter(uc: UseCase) -> Any:
    def convert(value: Any) -> dict[str, Any]:
        args = load_args(value)
        _build(uc, args, _DUMMY_COUNTER)  # bad arguments fail here, not on the wire
        return args

    return convert


# ------------------------------------------------------------------------- decoding


def _result_name(r: object) -> str:
    code = int(r.result)  # type: ignore[attr-defined]
    enum: type[IntEnum] = ActionResultCode if isinstance(r, ActionResult) else DataAccessResult
    try:
        return enum(code).name.lower().replace("_", "-")
    except ValueError:
        return f"unknown ({code})"


def _decode_dlms(p: AccessResponse, view: ResponseView) -> dict[str, Any]:
    results = []
    for d, r in zip(p.data, p.results, strict=False):
        results.append(
            {"operation": r.KIND.lower(), "result": _result_name(r), "data": data_json(d)}
        )
    out: dict[str, Any] = {"ok": all(r.ok for r in p.results), "results": results}
    if p.date_time is not None:
        from .dlms_args import date_time_text

        out["date_time"] = date_time_text(p.date_time)
    texts = [data_json(x) for x in view.plaintexts if isinstance(x, Data)]
    if texts:
        out["plaintexts"] = texts
    return out


def _zcl_errors(body: ZclPayload, index: int) -> list[str]:
    where = f"components[{index}]"
    if isinstance(body, DefaultResponse):
        if body.status != 0:
            return [f"{where}: command 0x{body.command_id:02X}: ZCL status 0x{body.status:02X}"]
        return []
    if isinstance(body, ReadAttributesResponse | WriteAttributesResponse):
        return [
            f"{where}: attribute "
            f"{'*' if rec.attribute_id is None else f'0x{rec.attribute_id:04X}'}: "
            f"ZCL status 0x{rec.status:02X}"
            for rec in body.records
            if rec.status != 0
        ]
    return []


def _decode_gbz(p: GbzPayload, view: ResponseView, code: int) -> dict[str, Any]:
    plaintexts = iter(view.plaintexts)
    comps: list[GbzComponent] = []
    errors: list[str] = []
    for i, c in enumerate(p.components):
        if c.ciphered is not None:
            body = next(plaintexts, None)
            if body is None:
                raise UseCaseError(f"components[{i}] was not decrypted")
            c = dataclasses.replace(c, body=body, ciphered=None)
        if c.body is not None:
            errors += _zcl_errors(c.body, i)
        comps.append(c)
    out: dict[str, Any] = {"ok": not errors}
    if errors:
        out["errors"] = errors
    out.update(explain_gbz(dataclasses.replace(p, components=tuple(comps)), code))
    return out


def _decoder(uc: UseCase) -> Any:
    def decode(view: ResponseView) -> dict[str, Any]:
        p = view.message.payload
        if isinstance(p, AccessResponse):
            return _decode_dlms(p, view)
        if isinstance(p, GbzPayload):
            return _decode_gbz(p, view, uc.code)
        if isinstance(p, Asn1Payload):
            return {"ok": True, **explain_asn1(p, view.message.message_code)}
        raise UseCaseError(f"a {p.kind.value} response payload is not one this decoder reads")

    return decode


# ------------------------------------------------------------------------- entries


def generic_entry(uc: UseCase) -> CatalogEntry:
    """The catalogue entry that sends ``uc`` from structural arguments (see the module
    docstring)."""
    default, target_roles = _roles(uc)

    def build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
        return _build(uc, args["args"], ctx.counter)

    return CatalogEntry.of(
        uc,
        name=generic_name(uc),
        default_role=default,
        params=(Param("args", "json", ARGS_HELP, _converter(uc), required=True),),
        build=build,
        decode=_decoder(uc),
        target_roles=target_roles,
    )
