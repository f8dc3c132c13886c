"""The use cases a head-end can send, built from typed arguments, and their answers.

Each :class:`CatalogEntry` knows its message code (from :func:`gbcs.usecases.by_name`),
the device types it targets, the role that normally sends it, its parameters, how to
build the command payload from typed arguments and a :class:`BuildContext` (counter,
originator, recipient: DLMS invoke ids and protection parameters depend on them), and
how to turn the verified (and decrypted) response into a plain dict of named values.

Payload structures follow the DCC RTDS 4.5.0 commands (``interop/vectors.json``); object
identifiers follow ``devices/profiles``. Values in the result dicts are JSON-friendly:
ints, floats, strings, booleans, None, lists and dicts; date-times are ISO 8601 text
(None when the device reports "not specified"); octet strings are upper-case hex.

Every DLMS result dict has ``ok`` (every item succeeded) and, when an item failed,
``errors`` (``{item: "result-name (code)"}``).

Arguments may be given typed (``datetime``, :class:`~devices.behaviours.maxdemand.SwitchTime`,
``bytes``, ``int``, ``bool``) or as text as a user types it (``"17:00"``,
``"2026-01-01T00:00Z"``, hex, ``"yes"``); unknown use cases, unknown arguments and bad
values raise :class:`UseCaseError` with a message meant for that user.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from devices.behaviours.maxdemand import (
    OBIS_SCHEDULE,
    SELECTOR_END,
    SELECTOR_START,
    ScheduleEntry,
    SwitchTime,
    default_schedule,
)
from devices.chf import HAN_DEVICE_TYPES
from gbcs.asn1 import Asn1Payload
from gbcs.axdr import BitString, CompactArray, Data, DataType
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import (
    AccessRequest,
    AccessRequestSpec,
    AccessResponse,
    ActionResult,
    ActionResultCode,
    ActionSpec,
    DataAccessResult,
    GetProtectedAttributesRequest,
    GetSpec,
    GetWithSelectionSpec,
    Obis,
    ProtectedObject,
    ProtectionParameters,
    SetSpec,
    invoke_id_for_counter,
)
from gbcs.firmware import ActivateFirmwareCommand, ActivateFirmwareResponse
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.payload import Payload
from gbcs.usecases import DeviceType, by_name
from gbcs.zcl import AttributeReadRecord, DefaultResponse, ReadAttributes, ReadAttributesResponse
from keys.roles import RemotePartyRole

from .catalogue.entry import (
    BuildContext,
    Builder,
    CatalogEntry,
    Decoder,
    Param,
    Prefetch,
    ResponseView,
    UseCaseError,
    _choices,
    _device_type,
    to_bool,
    to_bytes,
    to_datetime,
    to_eui,
    to_int,
    to_schedule,
    to_time,
)

__all__ = [
    "CATALOG",
    "BuildContext",
    "CatalogEntry",
    "Param",
    "Prefetch",
    "ResponseView",
    "UseCaseError",
    "all_names",
    "get",
    "is_typed",
    "names",
]

R = RemotePartyRole
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_U32_MAX = 0xFFFF_FFFF


# ---------------------------------------------------------------- payload helpers


def _obis(text: str) -> Obis:
    return Obis.parse(text)


def _request(
    ctx: BuildContext, specs: Sequence[AccessRequestSpec], data: Sequence[Data] | None = None
) -> AccessRequest:
    """An access-request whose invoke id carries the counter (GBCS)."""
    values = tuple(data) if data is not None else tuple(Data.null() for _ in specs)
    return AccessRequest(invoke_id_for_counter(ctx.counter), tuple(specs), values)


def _result_text(r: object) -> str:
    code = r.result  # type: ignore[attr-defined]
    enum: type[IntEnum] = ActionResultCode if isinstance(r, ActionResult) else DataAccessResult
    try:
        name = enum(code).name.lower().replace("_", "-")
    except ValueError:
        name = "unknown"
    return f"{name} ({code})"


def _access_response(view: ResponseView, names: Sequence[str]) -> tuple[dict[str, Data], dict]:
    """Per item name the response Data of the items that succeeded, and the common
    ``ok``/``errors`` values."""
    p = view.message.payload
    if not isinstance(p, AccessResponse):
        raise UseCaseError(f"expected a DLMS access-response, got {p.kind.value}")
    if len(p.results) != len(names) or len(p.data) != len(names):
        raise UseCaseError(f"expected {len(names)} result(s), got {len(p.results)}")
    good: dict[str, Data] = {}
    errors: dict[str, str] = {}
    for name, d, r in zip(names, p.data, p.results, strict=True):
        if r.ok:
            good[name] = d
        else:
            errors[name] = _result_text(r)
    common: dict[str, Any] = {"ok": not errors}
    if errors:
        common["errors"] = errors
    return good, common


def _dt_text(raw: bytes) -> str | None:
    """ISO text of a COSEM date-time octet string; None when not fully specified."""
    t = DlmsDateTime.from_bytes(raw).to_datetime()
    return None if t is None else t.isoformat()


_UNITS = {
    13: "m3",
    27: "W",
    28: "VA",
    29: "var",
    30: "Wh",
    31: "VAh",
    32: "varh",
    33: "A",
    35: "V",
    44: "Hz",
}


def _unit(code: int) -> str:
    return _UNITS.get(code, f"unit {code}")


def _scaled(value: int, scaler: int) -> int | float:
    return value * 10**scaler if scaler >= 0 else value / 10**-scaler


def _scaler_unit(d: Data) -> tuple[int, int]:
    if d.tag != DataType.STRUCTURE or len(d.value) != 2:
        raise UseCaseError("expected a scaler-unit structure")
    return int(d.value[0].value), int(d.value[1].value)


def _register(
    out: dict[str, Any], good: Mapping[str, Data], name: str, su_name: str | None = None
) -> None:
    """``name`` (scaled) and ``name_unit`` from a value and its scaler-unit item."""
    if name not in good:
        return
    value = int(good[name].value)
    if su_name is not None and su_name in good:
        scaler, unit = _scaler_unit(good[su_name])
        out[name] = _scaled(value, scaler)
        out[f"{name}_unit"] = _unit(unit)
    else:
        out[name] = value


def plain(d: Data) -> Any:
    """A JSON-friendly view of any A-XDR value."""
    tag = d.tag
    if tag in (DataType.ARRAY, DataType.STRUCTURE):
        return [plain(x) for x in d.value]
    if tag == DataType.COMPACT_ARRAY:
        return [plain(x) for x in d.value.elements()]
    if tag == DataType.BOOLEAN:
        return bool(d.value)
    if tag == DataType.OCTET_STRING:
        return d.value.hex().upper()
    if tag == DataType.BIT_STRING:
        return d.value.bits if isinstance(d.value, BitString) else str(d.value)
    if isinstance(d.value, int | float | str) or d.value is None:
        return d.value
    return str(d.value)


# -------------------------------------------------------------------- ESME reads

ACTIVE_EXPORT = _obis("1-0:2.8.0.255")
REACTIVE_EXPORT = _obis("1-0:4.8.0.255")
IMPORT_COLLECTION = _obis("0-0:94.44.34.10")
ECS17B_PROTECTION = _obis("0-0:43.2.8.255")
MD_IMPORT_ALL = _obis("1-0:1.6.0.255")
MD_IMPORT_WINDOW = _obis("1-0:1.6.1.255")
MD_EXPORT = _obis("1-0:2.6.0.255")
RESET_IMPORT_WINDOW = _obis("0-0:94.44.5.0")
RESET_IMPORT_ALL = _obis("0-0:94.44.5.1")
RESET_EXPORT = _obis("0-0:94.44.5.2")
SUPPLY_SCRIPTS = _obis("0-0:10.0.106.255")
DISCONNECT_CONTROL = _obis("0-0:96.3.10.255")
FIRMWARE_VERSION = _obis("0-0:0.2.1.255")
CLOCK = _obis("0-0:1.0.0.255")
EVENT_LOG = _obis("0-0:99.98.0.255")
SECURITY_LOG = _obis("0-0:99.98.1.255")
LOG_RANGE_OBJECT = bytes.fromhex("00005E2C64FF")  # 0-0:94.44.100.255, as RTDS restricts
DEVICE_LOG = _obis("0-0:30.3.0.255")

METERING_CLUSTER = 0x0702
ZCL_CURRENT_SUMMATION = 0x0000
ZCL_FIRMWARE_VERSION = 0x0206  # what GCS38 reads (RTDS)
ZCL_UNIT_OF_MEASURE = 0x0300
ZCL_MULTIPLIER = 0x0301
ZCL_DIVISOR = 0x0302


def _ecs17a_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    specs = (
        GetSpec(3, ACTIVE_EXPORT, 2),
        GetSpec(3, ACTIVE_EXPORT, 3),
        GetSpec(3, REACTIVE_EXPORT, 2),
        GetSpec(3, REACTIVE_EXPORT, 3),
    )
    return _request(ctx, specs)


def _ecs17a_decode(view: ResponseView) -> dict[str, Any]:
    names = ("active_export", "active_export_su", "reactive_export", "reactive_export_su")
    good, out = _access_response(view, names)
    _register(out, good, "active_export", "active_export_su")
    _register(out, good, "reactive_export", "reactive_export_su")
    return out


def _ecs17b_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    params = ProtectionParameters.gbcs(ctx.counter, ctx.originator, ctx.recipient)
    req = GetProtectedAttributesRequest((ProtectedObject(1, IMPORT_COLLECTION, 2),), (params,))
    return _request(ctx, (ActionSpec(30, ECS17B_PROTECTION, 1),), (req.to_data(),))


_COLLECTION_NAMES = ("active_import", "reactive_import")


def _register_pairs(d: Data) -> list[tuple[int, int, int]]:
    """(value, scaler, unit) of each register in a register collection."""
    items = list(d.value) if d.tag == DataType.STRUCTURE else [d]
    out = []
    i = 0
    while i < len(items):
        v = items[i]
        if v.tag in (DataType.STRUCTURE, DataType.ARRAY):
            out += _register_pairs(v)
            i += 1
            continue
        if not isinstance(v.value, int) or isinstance(v.value, bool):
            raise UseCaseError(f"register collection item {i} is not a number")
        scaler, unit = 0, 255
        if i + 1 < len(items) and items[i + 1].tag == DataType.STRUCTURE:
            scaler, unit = _scaler_unit(items[i + 1])
            i += 1
        out.append((int(v.value), scaler, unit))
        i += 1
    return out


def _ecs17b_decode(view: ResponseView) -> dict[str, Any]:
    _, out = _access_response(view, ("registers",))
    if not out["ok"]:
        return out
    if len(view.plaintexts) != 1 or not isinstance(view.plaintexts[0], Data):
        raise UseCaseError("expected one encrypted register collection")
    plaintext: Data = view.plaintexts[0]
    # The plaintext is a structure of the attributes asked for: one collection here.
    collection = plaintext.value[0] if plaintext.tag == DataType.STRUCTURE else plaintext
    for i, (value, scaler, unit) in enumerate(_register_pairs(collection)):
        name = _COLLECTION_NAMES[i] if i < len(_COLLECTION_NAMES) else f"register_{i}"
        out[name] = _scaled(value, scaler)
        if unit != 255:
            out[f"{name}_unit"] = _unit(unit)
    return out


def _ecs18a_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    specs = (
        GetSpec(1, RESET_EXPORT, 2),
        GetSpec(4, MD_EXPORT, 2),
        GetSpec(4, MD_EXPORT, 3),
        GetSpec(4, MD_EXPORT, 5),
    )
    return _request(ctx, specs)


def _md(out: dict[str, Any], good: Mapping[str, Data], name: str) -> None:
    _register(out, good, name, f"{name}_su")
    if f"{name}_time" in good:
        out[f"{name}_time"] = _dt_text(good[f"{name}_time"].value)
    if f"{name}_reset_time" in good:
        out[f"{name}_reset_time"] = _dt_text(good[f"{name}_reset_time"].value)


def _ecs18a_decode(view: ResponseView) -> dict[str, Any]:
    names = ("export_md_reset_time", "export_md", "export_md_su", "export_md_time")
    good, out = _access_response(view, names)
    _md(out, good, "export_md")
    return out


def _ecs18b_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    specs = (
        GetSpec(1, RESET_IMPORT_WINDOW, 2),
        GetSpec(1, RESET_IMPORT_ALL, 2),
        GetSpec(4, MD_IMPORT_ALL, 2),
        GetSpec(4, MD_IMPORT_ALL, 3),
        GetSpec(4, MD_IMPORT_ALL, 5),
        GetSpec(4, MD_IMPORT_WINDOW, 2),
        GetSpec(4, MD_IMPORT_WINDOW, 3),
        GetSpec(4, MD_IMPORT_WINDOW, 5),
        GetSpec(10, OBIS_SCHEDULE, 2),
    )
    return _request(ctx, specs)


def _schedule_values(d: Data) -> dict[str, Any]:
    entries = to_schedule(d)
    by_selector = {e.script_selector: e for e in entries}
    return {
        "window_start": _hhmm(by_selector[SELECTOR_START].switch_time),
        "window_end": _hhmm(by_selector[SELECTOR_END].switch_time),
        "schedule": [e.to_dict() for e in entries],
    }


def _hhmm(t: SwitchTime) -> str:
    """``HH:MM``, with seconds/hundredths only when set."""
    if t.hundredths:
        return str(t)
    if t.second:
        return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{t.hour:02d}:{t.minute:02d}"


def _ecs18b_decode(view: ResponseView) -> dict[str, Any]:
    names = (
        "import_window_md_reset_time",
        "import_md_reset_time",
        "import_md",
        "import_md_su",
        "import_md_time",
        "import_window_md",
        "import_window_md_su",
        "import_window_md_time",
        "schedule",
    )
    good, out = _access_response(view, names)
    _md(out, good, "import_md")
    _md(out, good, "import_window_md")
    if "schedule" in good:
        out.update(_schedule_values(good["schedule"]))
    return out


# -------------------------------------------------------------- ESME max demand


def _ecs37_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    current: Sequence[ScheduleEntry] = args["current"] or default_schedule()
    times = {SELECTOR_START: args["start"], SELECTOR_END: args["end"]}
    entries = [dataclasses.replace(e, switch_time=times[e.script_selector]) for e in current]
    value = Data.array(*(e.to_data() for e in entries))
    return _request(ctx, (SetSpec(10, OBIS_SCHEDULE, 2),), (value,))


def _ecs37_decode(view: ResponseView) -> dict[str, Any]:
    _, out = _access_response(view, ("schedule",))
    if out["ok"]:
        out["window_start"] = _hhmm(view.args["start"])
        out["window_end"] = _hhmm(view.args["end"])
    return out


_MD_REGISTERS = {"import": MD_IMPORT_ALL, "import_window": MD_IMPORT_WINDOW, "export": MD_EXPORT}


def _ecs57_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    chosen = args["registers"]
    specs = tuple(ActionSpec(4, _MD_REGISTERS[r], 1) for r in chosen)
    return _request(ctx, specs, tuple(Data.integer(0) for _ in specs))


def _ecs57_decode(view: ResponseView) -> dict[str, Any]:
    chosen = view.args["registers"]
    _, out = _access_response(view, chosen)
    out["reset"] = [r for r in chosen if r not in out.get("errors", {})]
    return out


# ------------------------------------------------------------------- ESME supply

SCRIPT_ENABLE, SCRIPT_DISABLE, SCRIPT_ARM = 51, 52, 54
SUPPLY_STATES = {0: "disconnected", 1: "connected", 2: "armed"}


def _supply_build(selector: int) -> Builder:
    def build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
        return _request(ctx, (ActionSpec(9, SUPPLY_SCRIPTS, 1),), (Data.long_unsigned(selector),))

    return build


def _supply_decode(view: ResponseView) -> dict[str, Any]:
    _, out = _access_response(view, ("supply",))
    return out


def _ecs45_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    return _request(ctx, (GetSpec(70, DISCONNECT_CONTROL, 3),))


def _ecs45_decode(view: ResponseView) -> dict[str, Any]:
    good, out = _access_response(view, ("control_state",))
    if "control_state" in good:
        state = int(good["control_state"].value)
        out["control_state"] = state
        out["supply_state"] = SUPPLY_STATES.get(state, f"unknown ({state})")
    return out


# ----------------------------------------------------------- firmware and clock


def _ecs52_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    return _request(ctx, (GetSpec(1, FIRMWARE_VERSION, 2),))


def _ecs52_decode(view: ResponseView) -> dict[str, Any]:
    good, out = _access_response(view, ("firmware_version",))
    if "firmware_version" in good:
        out["firmware_version"] = good["firmware_version"].value.hex().upper()
    return out


def _ecs70_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    tolerance = timedelta(seconds=args["tolerance"])
    start = args["valid_from"] or ctx.now - tolerance
    end = args["valid_to"] or ctx.now + tolerance
    if end < start:
        raise UseCaseError(f"ECS70 window ends ({end.isoformat()}) before it starts")
    preset = DlmsDateTime() if args["time"] is None else DlmsDateTime.from_datetime(args["time"])
    window = Data.structure(
        Data.octet_string(preset.to_bytes()),
        Data.octet_string(DlmsDateTime.from_datetime(start).to_bytes()),
        Data.octet_string(DlmsDateTime.from_datetime(end).to_bytes()),
    )
    specs = (
        SetSpec(8, CLOCK, 9),
        ActionSpec(8, CLOCK, 5),
        ActionSpec(8, CLOCK, 4),
        GetSpec(8, CLOCK, 2),
        GetSpec(8, CLOCK, 4),
    )
    data = (Data.enum(5), window, Data.integer(0), Data.null(), Data.null())
    return _request(ctx, specs, data)


def _ecs70_decode(view: ResponseView) -> dict[str, Any]:
    names = ("time_source", "preset", "adjust", "clock", "clock_status")
    good, out = _access_response(view, names)
    if "clock" in good:
        out["clock"] = _dt_text(good["clock"].value)
    if "clock_status" in good:
        out["clock_status"] = int(good["clock_status"].value)
    out["set"] = "preset" not in out.get("errors", {}) and "adjust" not in out.get("errors", {})
    return out


# --------------------------------------------------------------------- ESME logs


def _log_build(obis: Obis) -> Builder:
    def build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
        start = _seconds(args["start"], 0)
        end = _seconds(args["end"], _U32_MAX)
        if end < start:
            raise UseCaseError("the log range ends before it starts")
        restriction = Data.structure(
            Data.structure(
                Data.long_unsigned(1),
                Data.octet_string(LOG_RANGE_OBJECT),
                Data.integer(2),
                Data.long_unsigned(0),
            ),
            Data.double_long_unsigned(start),
            Data.double_long_unsigned(end),
            Data.array(),
        )
        return _request(ctx, (GetWithSelectionSpec(7, obis, 2, 1, restriction),))

    return build


def _seconds(t: datetime | None, default: int) -> int:
    """UTC seconds since 2000 (the log range unit), clamped to double-long-unsigned."""
    if t is None:
        return default
    return min(max(int((t - EPOCH_2000).total_seconds()), 0), _U32_MAX)


def _log_decode(view: ResponseView) -> dict[str, Any]:
    good, out = _access_response(view, ("log",))
    if "log" not in good:
        return out
    d = good["log"]
    rows = d.value.elements() if isinstance(d.value, CompactArray) else d.value
    entries = []
    for row in rows:
        f = row.value
        entry: dict[str, Any] = {
            "time": (EPOCH_2000 + timedelta(seconds=int(f[0].value))).isoformat(),
            "code": int(f[1].value),
            "code_hex": f"0x{int(f[1].value):04X}",
        }
        if len(f) > 2:
            entry["value"] = plain(f[2])
        entries.append(entry)
    out["entries"] = entries
    out["count"] = len(entries)
    return out


# ---------------------------------------------------------------------- GBZ reads


def _gbz_read(*attributes: int) -> Builder:
    def build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
        comp = GbzComponent.command(
            METERING_CLUSTER, ReadAttributes(attributes), 0, server_to_client=False
        )
        return GbzPayload((comp,))

    return build


def _gbz_records(view: ResponseView) -> tuple[dict[int, Any], dict[str, str]]:
    """Attribute values and failures of the Read Attributes Responses in a GBZ payload
    (encrypted components read from their decrypted plaintext)."""
    p = view.message.payload
    if not isinstance(p, GbzPayload):
        raise UseCaseError(f"expected a GBZ payload, got {p.kind.value}")
    plaintexts = iter(view.plaintexts)
    values: dict[int, Any] = {}
    errors: dict[str, str] = {}
    for comp in p.components:
        body = next(plaintexts, None) if comp.encrypted else comp.body
        if body is None:
            raise UseCaseError("an encrypted component was not decrypted")
        if isinstance(body, DefaultResponse):
            errors[f"command 0x{body.command_id:02X}"] = f"ZCL status 0x{body.status:02X}"
            continue
        if not isinstance(body, ReadAttributesResponse):
            raise UseCaseError(f"expected a Read Attributes Response, got {type(body).__name__}")
        rec: AttributeReadRecord
        for rec in body.records:
            if rec.status != 0 or rec.value is None:
                errors[f"0x{rec.attribute_id:04X}"] = f"ZCL status 0x{rec.status:02X}"
            else:
                values[rec.attribute_id] = rec.value.value
    return values, errors


def _gbz_common(errors: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": not errors}
    if errors:
        out["errors"] = dict(errors)
    return out


def _zcl_int(v: Any) -> int:
    if isinstance(v, bytes):
        return int.from_bytes(v, "little")
    return int(v)


ZCL_UNITS = {0x00: "kWh", 0x01: "m3", 0x02: "ft3", 0x03: "ccf"}


def _gcs13a_decode(view: ResponseView) -> dict[str, Any]:
    values, errors = _gbz_records(view)
    out = _gbz_common(errors)
    if ZCL_CURRENT_SUMMATION in values:
        raw = _zcl_int(values[ZCL_CURRENT_SUMMATION])
        out["consumption"] = raw
        mult = _zcl_int(values.get(ZCL_MULTIPLIER, 1))
        div = _zcl_int(values.get(ZCL_DIVISOR, 1)) or 1
        out["multiplier"], out["divisor"] = mult, div
        out["consumption_scaled"] = raw * mult / div
    if ZCL_UNIT_OF_MEASURE in values:
        unit = _zcl_int(values[ZCL_UNIT_OF_MEASURE])
        out["unit"] = ZCL_UNITS.get(unit & 0x7F, f"unit 0x{unit:02X}")
    return out


def _gcs38_decode(view: ResponseView) -> dict[str, Any]:
    values, errors = _gbz_records(view)
    out = _gbz_common(errors)
    if ZCL_FIRMWARE_VERSION in values:
        v = values[ZCL_FIRMWARE_VERSION]
        out["firmware_version"] = v.hex().upper() if isinstance(v, bytes) else str(v)
    return out


# --------------------------------------------------------------------- firmware


def _cs06_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    when = args["execute_at"]
    cmd = ActivateFirmwareCommand(
        args["image_hash"], ctx.counter, None if when is None else when.astimezone(UTC)
    )
    return Asn1Payload.from_typed(cmd)


def _cs06_decode(view: ResponseView) -> dict[str, Any]:
    p = view.message.payload
    typed = getattr(p, "typed", None)
    if not isinstance(typed, ActivateFirmwareResponse):
        typed = ActivateFirmwareResponse.decode(p.encode())
    if typed.outcome is None:  # future-dated: accepted, the outcome comes as an alert
        return {"ok": True, "accepted": True}
    code = typed.outcome.response_code
    return {
        "ok": code == 0,
        "response_code": code.name.lower().replace("_", "-"),
        "firmware_version": typed.outcome.firmware_version.hex().upper(),
    }


# ------------------------------------------------------------------------- CHF


def _ccs01_build(args: Mapping[str, Any], ctx: BuildContext) -> Payload:
    entry = Data.structure(
        Data.octet_string(args["device"]),
        Data.enum(args["device_type"]),
        Data.octet_string(args["install_code"]),
        Data.enum(0),
    )
    specs = (
        ActionSpec(104, DEVICE_LOG, 1),
        SetSpec(104, DEVICE_LOG, 3),
        SetSpec(104, DEVICE_LOG, 2),
    )
    data = (entry, Data.long_unsigned(args["join_timeout"]), Data.boolean(args["joining"]))
    return _request(ctx, specs, data)


def _ccs01_decode(view: ResponseView) -> dict[str, Any]:
    _, out = _access_response(view, ("add", "join_timeout", "joining"))
    out["added"] = "add" not in out.get("errors", {})
    return out


# ----------------------------------------------------------------------- catalog

_DT_HELP = "ISO 8601 date-time, UTC unless an offset is given (e.g. 2026-01-01T17:00Z)"
_NO_PARAMS: tuple[Param, ...] = ()


def _entry(
    name: str,
    role: RemotePartyRole,
    build: Builder,
    decode: Decoder,
    params: tuple[Param, ...] = _NO_PARAMS,
    *,
    prefetch: Prefetch | None = None,
    target_roles: Mapping[DeviceType, RemotePartyRole] | None = None,
) -> CatalogEntry:
    uc = by_name(name)
    if uc is None:  # pragma: no cover - the registry is generated data
        raise RuntimeError(f"{name} is not in gbcs.usecases")
    return CatalogEntry.of(
        uc,
        default_role=role,
        params=params,
        build=build,
        decode=decode,
        prefetch=prefetch,
        target_roles=target_roles,
    )


def _log_params() -> tuple[Param, ...]:
    return (
        Param("start", "datetime", f"first entry time ({_DT_HELP}); default: 2000", to_datetime),
        Param("end", "datetime", f"last entry time ({_DT_HELP}); default: no limit", to_datetime),
    )


def _build_catalog() -> dict[str, CatalogEntry]:
    entries = [
        _entry("ECS17a", R.NETWORK_OPERATOR, _ecs17a_build, _ecs17a_decode),
        _entry("ECS17b", R.SUPPLIER, _ecs17b_build, _ecs17b_decode),
        _entry("ECS18a", R.NETWORK_OPERATOR, _ecs18a_build, _ecs18a_decode),
        _entry("ECS18b", R.NETWORK_OPERATOR, _ecs18b_build, _ecs18b_decode),
        _entry(
            "ECS37",
            R.NETWORK_OPERATOR,
            _ecs37_build,
            _ecs37_decode,
            (
                Param("start", "time", "window start, HH:MM UTC", to_time, required=True),
                Param("end", "time", "window end, HH:MM UTC", to_time, required=True),
                Param(
                    "current",
                    "schedule",
                    "the device's current schedule entries (ECS18b's schedule); "
                    "default: the Table 28d constants with indices 1 and 2",
                    to_schedule,
                ),
                Param(
                    "read_back",
                    "bool",
                    "read the current entries with ECS18b first",
                    to_bool,
                    default=False,
                ),
            ),
            prefetch=Prefetch("ECS18b", "read_back", "current", lambda v: v["schedule"]),
        ),
        _entry(
            "ECS57",
            R.NETWORK_OPERATOR,
            _ecs57_build,
            _ecs57_decode,
            (
                Param(
                    "registers",
                    "choices",
                    "registers to reset: import, import_window, export (default: all)",
                    _choices(tuple(_MD_REGISTERS)),
                    default=tuple(_MD_REGISTERS),
                ),
            ),
        ),
        _entry("ECS42", R.SUPPLIER, _supply_build(SCRIPT_ENABLE), _supply_decode),
        _entry("ECS43", R.SUPPLIER, _supply_build(SCRIPT_DISABLE), _supply_decode),
        _entry("ECS44", R.SUPPLIER, _supply_build(SCRIPT_ARM), _supply_decode),
        _entry("ECS45", R.SUPPLIER, _ecs45_build, _ecs45_decode),
        # A CHF trusts DCC roles only: the ACB reads its firmware version.
        _entry(
            "ECS52",
            R.SUPPLIER,
            _ecs52_build,
            _ecs52_decode,
            target_roles={DeviceType.CHF: R.ACCESS_CONTROL_BROKER},
        ),
        _entry(
            "ECS70",
            R.SUPPLIER,
            _ecs70_build,
            _ecs70_decode,
            (
                Param("valid_from", "datetime", f"window start ({_DT_HELP})", to_datetime),
                Param("valid_to", "datetime", f"window end ({_DT_HELP})", to_datetime),
                Param(
                    "tolerance",
                    "int",
                    "seconds either side of the head-end's time when no window is given",
                    to_int,
                    default=60,
                ),
                Param(
                    "time",
                    "datetime",
                    "time to set; default: unspecified (the device's time source), as DCC",
                    to_datetime,
                ),
            ),
        ),
        _entry("ECS35a", R.SUPPLIER, _log_build(EVENT_LOG), _log_decode, _log_params()),
        _entry("ECS35b", R.SUPPLIER, _log_build(SECURITY_LOG), _log_decode, _log_params()),
        _entry(
            "GCS13a",
            R.SUPPLIER,
            _gbz_read(ZCL_DIVISOR, ZCL_MULTIPLIER, ZCL_UNIT_OF_MEASURE, ZCL_CURRENT_SUMMATION),
            _gcs13a_decode,
        ),
        _entry("GCS38", R.SUPPLIER, _gbz_read(ZCL_FIRMWARE_VERSION), _gcs38_decode),
        _entry(
            "CS06",
            R.SUPPLIER,
            _cs06_build,
            _cs06_decode,
            (
                Param(
                    "image_hash",
                    "hex",
                    "SHA-256 manufacturer image hash, 32 bytes",
                    lambda v: to_bytes(v, 32),
                    required=True,
                ),
                Param(
                    "execute_at",
                    "datetime",
                    f"activation time ({_DT_HELP}); default: now",
                    to_datetime,
                ),
            ),
        ),
        _entry(
            "CCS01",
            R.ACCESS_CONTROL_BROKER,
            _ccs01_build,
            _ccs01_decode,
            (
                Param("device", "eui", "EUI-64 of the device to add", to_eui, required=True),
                Param(
                    "device_type",
                    "int",
                    "device type: "
                    + ", ".join(f"{n.lower()} ({k})" for k, n in HAN_DEVICE_TYPES.items()),
                    _device_type,
                    required=True,
                ),
                Param("install_code", "hex", "install code", to_bytes, required=True),
                Param("join_timeout", "int", "join timeout", to_int, default=90),
                Param("joining", "bool", "enable joining", to_bool, default=True),
            ),
        ),
    ]
    return {e.name.upper(): e for e in entries}


CATALOG: Mapping[str, CatalogEntry] = _build_catalog()
"""Every buildable use case by upper-case name."""


_GENERIC: dict[str, CatalogEntry] = {}
"""Structural entries made so far, by upper-case catalogue name (see :func:`get`)."""


def get(name: str) -> CatalogEntry:
    """The catalog entry of ``name`` (case-insensitive): a typed entry of :data:`CATALOG`,
    else a described entry (named parameters from :mod:`.catalogue.described`), else, for
    any other command use case of the GBCS registry (by name, ``NAME@0xCODE``
    or ``0xCODE``), its structural entry (one ``args`` parameter, see
    :mod:`.catalogue.generic`); :class:`UseCaseError` otherwise."""
    entry = CATALOG.get(name.strip().upper()) if isinstance(name, str) else None
    if entry is not None:
        return entry
    if isinstance(name, str):
        from .catalogue.generic import generic_entry, generic_name, resolve

        uc = resolve(name)
        if uc is not None:
            key = generic_name(uc).upper()
            typed = CATALOG.get(key)
            if typed is not None:  # a typed use case named by its code
                return typed
            if key not in _GENERIC:
                from .catalogue.described import described_entry, descriptions

                desc = descriptions().get(key)
                _GENERIC[key] = generic_entry(uc) if desc is None else described_entry(desc)
            return _GENERIC[key]
        if by_name(name.strip()) is not None:
            raise UseCaseError(
                f"{name.strip()} is not a command use case a head-end sends "
                "(an alert or HAN-only message)"
            )
    raise UseCaseError(
        f"unknown use case {name!r}; the head-end builds: {', '.join(names())} (typed) and "
        "every other GBCS command use case from structural arguments (`gbcs-emu send` "
        "lists them)"
    )


def names() -> tuple[str, ...]:
    """Names of the typed entries (:data:`CATALOG`), in catalog order."""
    return tuple(e.name for e in CATALOG.values())


def all_names() -> tuple[str, ...]:
    """Every use case the head-end builds: the typed entries, then the other command use
    cases of the registry (structural arguments) in message-code order."""
    from .catalogue.generic import command_use_cases, generic_name

    typed = {e.message_code for e in CATALOG.values()}
    rest = sorted((uc for uc in command_use_cases() if uc.code not in typed), key=lambda u: u.code)
    return names() + tuple(generic_name(uc) for uc in rest)


def is_typed(name: str) -> bool:
    """Whether ``name`` has typed parameters (a :data:`CATALOG` entry)."""
    return isinstance(name, str) and name.strip().upper() in CATALOG
