"""Small, typed hooks for what a description cannot say as data.

A description (:mod:`.described`) names a hook with ``hook = "NAME"``; its parameters
may name a converter with ``convert = "NAME"``. Four shapes, each small:

* a **converter** (:data:`CONVERTERS`): text or typed input -> the typed value a
  parameter holds (``"17:00"`` -> :class:`~devices.behaviours.maxdemand.SwitchTime`,
  ECS18b's schedule -> schedule entries);
* a **fill** step (:attr:`Hook.fill`): puts converted parameters into the structural
  arguments where a path cannot express it (a value computed from several parameters
  or from the build context: the counter, the system titles, the head-end's clock);
* a **decode** post-step (:attr:`Hook.decode`): turns the generic decode into richer
  values (a switching schedule, log entries, a register collection);
* an **explain** step (:attr:`Hook.explain`): the inverse of the fill step, reading the
  parameters it places back from structural arguments (``usecase explain``'s ``named``).

:func:`named_results` is the DLMS side of a description's ``results`` key: the items of
an access-response by name, and the failures as ``{name: "result-name (code)"}``.
"""

from __future__ import annotations

import copy
import dataclasses
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import IntEnum
from typing import Any

from devices.behaviours.maxdemand import (
    SELECTOR_END,
    SELECTOR_START,
    MaxDemandError,
    ScheduleEntry,
    SwitchTime,
    default_schedule,
)
from gbcs.axdr import CompactArray, Data, DataType
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import (
    AccessResponse,
    ActionResult,
    ActionResultCode,
    ActionSpec,
    DataAccessResult,
    SetSpec,
)
from gbcs.errors import GbcsError
from gbcs.firmware import ActivateFirmwareResponse
from gbcs.gbz import GbzPayload
from gbcs.zcl import DefaultResponse, ReadAttributesResponse

from .entry import (
    EPOCH_2000,
    BuildContext,
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
    "CONVERTERS",
    "HOOKS",
    "Converter",
    "Decode",
    "Entries",
    "Explain",
    "Fill",
    "Hook",
    "RecordField",
    "Repeat",
    "named_results",
]

Converter = Callable[[Any], Any]
#: ``fill(structural, typed, ctx)``: complete the structural arguments in place.
Fill = Callable[[dict[str, Any], Mapping[str, Any], BuildContext], None]
#: ``decode(out, decoded, view)``: add to (or rewrite) the named values in ``out``.
Decode = Callable[[dict[str, Any], Mapping[str, Any], ResponseView], None]
#: ``explain(structural)``: the values of the parameters the fill step places (those
#: without a path), read back from structural arguments, and those arguments laid out as
#: the template is (what the fill step added taken out), where the path parameters are
#: read; None when they do not fit.
Explain = Callable[[Mapping[str, Any]], tuple[dict[str, Any], Mapping[str, Any]] | None]


@dataclass(frozen=True, slots=True)
class Hook:
    """What a description delegates to code: a fill step, a decode post-step or both,
    and the read-back of what the fill step places (``explain``)."""

    name: str
    fill: Fill | None = None
    decode: Decode | None = None
    explain: Explain | None = None


_U32_MAX = 0xFFFF_FFFF
MD_REGISTERS = ("import", "import_window", "export")

CONVERTERS: Mapping[str, Converter] = {
    "int": to_int,
    "bool": to_bool,
    "time": to_time,
    "datetime": to_datetime,
    "schedule": to_schedule,
    "hex": to_bytes,
    "sha256": lambda v: to_bytes(v, 32),
    "eui": to_eui,
    "han_device_type": _device_type,
    "md_registers": _choices(MD_REGISTERS),
}
"""Parameter converters by name (a parameter's ``convert`` key): each returns the typed
value, or raises :class:`UseCaseError` (or ValueError) saying what is allowed."""


# ------------------------------------------------------------------------- DLMS helpers


def _result_text(r: object) -> str:
    code = r.result  # type: ignore[attr-defined]
    enum: type[IntEnum] = ActionResultCode if isinstance(r, ActionResult) else DataAccessResult
    try:
        name = enum(code).name.lower().replace("_", "-")
    except ValueError:
        name = "unknown"
    return f"{name} ({code})"


def named_results(
    view: ResponseView, names: Sequence[str]
) -> tuple[dict[str, Data], dict[str, str]]:
    """The response Data of the items that succeeded, and the failures, by item name."""
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
    return good, errors


def _good_item(view: ResponseView, index: int) -> Data | None:
    p = view.message.payload
    if isinstance(p, AccessResponse) and index < len(p.results) and p.results[index].ok:
        return p.data[index]
    return None


def _cosem_text(t: datetime) -> str:
    from .dlms_args import date_time_text

    return date_time_text(DlmsDateTime.from_datetime(t))


def _items(structural: Mapping[str, Any], count: int | None = None) -> list[Any] | None:
    """The access-request items of ``structural`` (None unless a list, of ``count``
    items when given)."""
    items = structural.get("items")
    if not isinstance(items, list) or (count is not None and len(items) != count):
        return None
    return items


def _built_item(item: Any) -> tuple[Any, Data] | None:
    """One structural access-request item as it is built (its spec, and its value or
    method parameter as A-XDR), whatever form it is written in (typed or tagged JSON);
    None when it does not build."""
    from .dlms_args import _build_item

    try:
        return _build_item(item, "item", 1, None)
    except (GbcsError, ValueError, TypeError):
        return None


def _cosem_instant(d: Data) -> DlmsDateTime | None:
    """The COSEM date-time an octet-string holds (None when it is not one)."""
    if d.tag != DataType.OCTET_STRING or not isinstance(d.value, bytes) or len(d.value) != 12:
        return None
    try:
        return DlmsDateTime.from_bytes(d.value)
    except (GbcsError, ValueError):
        return None


def _utc_instant(d: Data) -> datetime | None:
    """The instant a COSEM date-time holds when it is in the form :func:`_cosem_text`
    writes (UTC, no weekday, deviation or clock status); None otherwise."""
    dt = _cosem_instant(d)
    t = None if dt is None else dt.to_datetime()
    if t is None or DlmsDateTime.from_datetime(t) != dt:
        return None
    return t


def _scaled(value: int, scaler: int) -> int | float:
    return value * 10**scaler if scaler >= 0 else value / 10**-scaler


_UNITS = {13: "m3", 27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh", 32: "varh"} | {
    33: "A",
    35: "V",
    44: "Hz",
}


# ------------------------------------------------------------------------- ECS17b


def _ecs17b_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The protection parameters name the originator and the recipient (GBCS)."""
    options = args["items"][0]["parameter"]["protection_parameters"][0]["protection_options"]
    options["originator_system_title"] = ctx.originator.hex().upper()
    options["recipient_system_title"] = ctx.recipient.hex().upper()


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
        nxt = items[i + 1] if i + 1 < len(items) else None
        if nxt is not None and nxt.tag == DataType.STRUCTURE:
            if len(nxt.value) != 2:
                raise UseCaseError("expected a scaler-unit structure")
            scaler, unit = int(nxt.value[0].value), int(nxt.value[1].value)
            i += 1
        out.append((int(v.value), scaler, unit))
        i += 1
    return out


def _ecs17b_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """The import registers, from the encrypted register collection."""
    if not out["ok"]:
        return
    if len(view.plaintexts) != 1 or not isinstance(view.plaintexts[0], Data):
        raise UseCaseError("expected one encrypted register collection")
    plaintext: Data = view.plaintexts[0]
    # The plaintext is a structure of the attributes asked for: one collection here.
    collection = plaintext.value[0] if plaintext.tag == DataType.STRUCTURE else plaintext
    for i, (value, scaler, unit) in enumerate(_register_pairs(collection)):
        name = _COLLECTION_NAMES[i] if i < len(_COLLECTION_NAMES) else f"register_{i}"
        out[name] = _scaled(value, scaler)
        if unit != 255:
            out[f"{name}_unit"] = _UNITS.get(unit, f"unit {unit}")


# ------------------------------------------------------------------ ECS18b, ECS37


def _hhmm(t: SwitchTime) -> str:
    """``HH:MM``, with seconds/hundredths only when set."""
    if t.hundredths:
        return str(t)
    if t.second:
        return f"{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
    return f"{t.hour:02d}:{t.minute:02d}"


def _ecs18b_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """The switching schedule (results[8]) as its window and its entries."""
    d = _good_item(view, 8)
    if d is None:
        return
    entries = to_schedule(d)
    by_selector = {e.script_selector: e for e in entries}
    out["window_start"] = _hhmm(by_selector[SELECTOR_START].switch_time)
    out["window_end"] = _hhmm(by_selector[SELECTOR_END].switch_time)
    out["schedule"] = [e.to_dict() for e in entries]


def _ecs37_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The current schedule with the two switch times replaced (Table 28d otherwise)."""
    from .dlms_args import data_json

    current: Sequence[ScheduleEntry] = typed.get("current") or default_schedule()
    times = {SELECTOR_START: typed["start"], SELECTOR_END: typed["end"]}
    entries = [dataclasses.replace(e, switch_time=times[e.script_selector]) for e in current]
    args["items"][0]["value"] = data_json(Data.array(*(e.to_data() for e in entries)))


def _ecs37_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The two switch times of the schedule set; ``current`` the entries sent (what the
    fill step keeps of them is all but the switch times, which are the ones set) or
    none when they are the Table 28d defaults; ``read_back`` false (a head-end's choice
    to read the schedule first, which the command does not show)."""
    items = _items(structural, 1)
    built = None if items is None else _built_item(items[0])
    if built is None:
        return None
    try:
        entries = to_schedule(built[1])
    except (UseCaseError, MaxDemandError, ValueError, TypeError):
        return None
    times = {e.script_selector: e.switch_time for e in entries}
    start, end = times[SELECTOR_START], times[SELECTOR_END]
    current = None if entries == default_schedule(start, end) else entries
    named = {"start": start, "end": end, "current": current, "read_back": False}
    return named, copy.deepcopy(dict(structural))


def _ecs37_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    if out["ok"]:
        out["window_start"] = _hhmm(view.args["start"])
        out["window_end"] = _hhmm(view.args["end"])


# ------------------------------------------------------------------------- ECS57


def _ecs57_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """One reset item per chosen register (the template holds all three, in order)."""
    chosen = typed.get("registers") or MD_REGISTERS
    args["items"] = [args["items"][MD_REGISTERS.index(r)] for r in chosen]


#: The register each reset item acts on, by the logical name of its object.
_MD_OBIS = {"1-0:1.6.0.255": "import", "1-0:1.6.1.255": "import_window", "1-0:2.6.0.255": "export"}


def _ecs57_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The registers reset, in the order of the items (the fill step keeps that order);
    the items are the template's own, fewer of them when not all three are reset (no
    path parameter reads them)."""
    items = _items(structural)
    if not items:
        return None
    chosen = []
    for item in items:
        built = _built_item(item)
        name = None if built is None else _MD_OBIS.get(str(built[0].obis))
        if name is None or name in chosen:
            return None
        chosen.append(name)
    return {"registers": tuple(chosen)}, copy.deepcopy(dict(structural))


def _ecs57_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    chosen = view.args.get("registers") or MD_REGISTERS
    _, errors = named_results(view, chosen)
    out.pop("errors", None)
    if errors:
        out["errors"] = errors
    out["reset"] = [r for r in chosen if r not in errors]


# ------------------------------------------------------------------------- ECS70


def _ecs70_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The validity window around the head-end's clock unless given; the preset time
    unspecified (the device's time source) unless given."""
    start = typed.get("valid_from") or ctx.now - timedelta(seconds=typed["tolerance"])
    end = typed.get("valid_to") or ctx.now + timedelta(seconds=typed["tolerance"])
    if end < start:
        raise UseCaseError(f"ECS70 window ends ({end.isoformat()}) before it starts")
    window = args["items"][1]["parameter"]
    if typed.get("time") is not None:
        window["preset_time"] = _cosem_text(typed["time"])
    window["validity_interval_start"] = _cosem_text(start)
    window["validity_interval_end"] = _cosem_text(end)


def _ecs70_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The validity window (always explicit: a command shows no head-end clock, so
    ``tolerance`` is left to its default, which an explicit window does not use) and the
    preset time (none when it is the unspecified date-time: the device's time source)."""
    items = _items(structural, 5)
    built = None if items is None else _built_item(items[1])
    if built is None or built[1].tag != DataType.STRUCTURE or len(built[1].value) != 3:
        return None
    preset, start, end = built[1].value
    window = {"valid_from": _utc_instant(start), "valid_to": _utc_instant(end)}
    if None in window.values():
        return None
    time = None
    if _cosem_instant(preset) != DlmsDateTime.not_specified():
        time = _utc_instant(preset)
        if time is None:
            return None
    return {**window, "time": time}, copy.deepcopy(dict(structural))


def _ecs70_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    errors = out.get("errors", {})
    out["set"] = "preset" not in errors and "adjust" not in errors


# ---------------------------------------------------------------------- ECS35a/b


def _seconds(t: datetime | None, default: int) -> int:
    """UTC seconds since 2000 (the log range unit), clamped to double-long-unsigned."""
    if t is None:
        return default
    return min(max(int((t - EPOCH_2000).total_seconds()), 0), _U32_MAX)


def _log_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The range read's from/to (UTC seconds since 2000, clamped)."""
    from .dlms_args import _utc_text

    start = _seconds(typed.get("start"), 0)
    end = _seconds(typed.get("end"), _U32_MAX)
    if end < start:
        raise UseCaseError("the log range ends before it starts")
    selection = args["items"][0]["selection"]
    selection["from"], selection["to"] = _utc_text(start), _utc_text(end)


def _log_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The range read's from/to as instants; none at the ends the fill step defaults to
    (2000 and no limit)."""
    items = _items(structural, 1)
    built = None if items is None else _built_item(items[0])
    selection = getattr(None if built is None else built[0], "parameters", None)
    if not isinstance(selection, Data) or selection.tag != DataType.STRUCTURE:
        return None
    bounds = selection.value[1:3]
    if len(bounds) != 2 or any(b.tag != DataType.DOUBLE_LONG_UNSIGNED for b in bounds):
        return None
    start, end = (int(b.value) for b in bounds)
    named = {
        "start": None if start == 0 else EPOCH_2000 + timedelta(seconds=start),
        "end": None if end == _U32_MAX else EPOCH_2000 + timedelta(seconds=end),
    }
    return named, copy.deepcopy(dict(structural))


def _plain(d: Data) -> Any:
    """A JSON-friendly view of any A-XDR value."""
    from gbcs.axdr import BitString

    tag = d.tag
    if tag in (DataType.ARRAY, DataType.STRUCTURE):
        return [_plain(x) for x in d.value]
    if tag == DataType.COMPACT_ARRAY:
        return [_plain(x) for x in d.value.elements()]
    if tag == DataType.BOOLEAN:
        return bool(d.value)
    if tag == DataType.OCTET_STRING:
        return d.value.hex().upper()
    if tag == DataType.BIT_STRING:
        return d.value.bits if isinstance(d.value, BitString) else str(d.value)
    if isinstance(d.value, int | float | str) or d.value is None:
        return d.value
    return str(d.value)


def _log_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """The log's rows as entries (time, event code, value) and their count."""
    d = _good_item(view, 0)
    if d is None:
        return
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
            entry["value"] = _plain(f[2])
        entries.append(entry)
    out["entries"] = entries
    out["count"] = len(entries)


# ------------------------------------------------------------------------- GBZ reads

ZCL_CURRENT_SUMMATION = 0x0000
ZCL_FIRMWARE_VERSION = 0x0206
ZCL_UNIT_OF_MEASURE = 0x0300
ZCL_MULTIPLIER = 0x0301
ZCL_DIVISOR = 0x0302
ZCL_UNITS = {0x00: "kWh", 0x01: "m3", 0x02: "ft3", 0x03: "ccf"}


def _gbz_records(out: dict[str, Any], view: ResponseView) -> dict[int, Any]:
    """Attribute values of the Read Attributes Responses (encrypted components read from
    their plaintext); ``ok`` and ``errors`` (by attribute id) put in ``out``."""
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
        for rec in body.records:
            if rec.status != 0 or rec.value is None:
                errors[f"0x{rec.attribute_id:04X}"] = f"ZCL status 0x{rec.status:02X}"
            else:
                values[rec.attribute_id] = rec.value.value
    out.clear()
    out["ok"] = not errors
    if errors:
        out["errors"] = errors
    return values


def _zcl_int(v: Any) -> int:
    if isinstance(v, bytes):
        return int.from_bytes(v, "little")
    return int(v)


def _gcs13a_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """The consumption register, with its multiplier, divisor and unit applied."""
    values = _gbz_records(out, view)
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


def _gcs38_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    values = _gbz_records(out, view)
    if ZCL_FIRMWARE_VERSION in values:
        v = values[ZCL_FIRMWARE_VERSION]
        out["firmware_version"] = v.hex().upper() if isinstance(v, bytes) else str(v)


# ------------------------------------------------------------------------- CS06


def _cs06_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The originator counter, and the execution time when one is given."""
    args["originator_counter"] = ctx.counter
    when = typed.get("execute_at")
    if when is None:
        args.pop("execution_date_time", None)
    else:
        args["execution_date_time"] = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cs06_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The execution time (none: activate now); the arguments without it, as the
    template has them (the originator counter is the command's own, which the fill
    step takes from the header)."""
    laid_out = copy.deepcopy(dict(structural))
    when = laid_out.pop("execution_date_time", None)
    if when is None:
        return {"execute_at": None}, laid_out
    try:
        return {"execute_at": to_datetime(when)}, laid_out
    except UseCaseError:
        return None


def _cs06_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """Accepted (future-dated: the outcome comes as an alert) or the activation outcome."""
    p = view.message.payload
    typed = getattr(p, "typed", None)
    if not isinstance(typed, ActivateFirmwareResponse):
        typed = ActivateFirmwareResponse.decode(p.encode())
    out.clear()
    if typed.outcome is None:
        out.update(ok=True, accepted=True)
        return
    code = typed.outcome.response_code
    out["ok"] = code == 0
    out["response_code"] = code.name.lower().replace("_", "-")
    out["firmware_version"] = typed.outcome.firmware_version.hex().upper()


# ------------------------------------------------------------------------- CCS01


def _ccs01_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    out["added"] = "add" not in out.get("errors", {})


# ----------------------------------------------------------- repeated components


@dataclass(frozen=True, slots=True)
class RecordField:
    """One field of a record of a repeated component: an integer within [lo, hi], a list
    of such integers (``many``), or a list of tables with the keys ``keys`` (their values
    are checked when the payload is built). ``length_field`` names the body field that
    carries the list's length (GBCS counts such as total_number_of_schedule_entries)."""

    name: str
    lo: int = 0
    hi: int = 0xFFFF_FFFF
    many: bool = False
    keys: tuple[str, ...] = ()
    length_field: str | None = None

    def check(self, where: str, v: Any) -> Any:
        """``v`` checked (:class:`UseCaseError` naming ``where`` and what is allowed)."""
        if self.keys:
            if not isinstance(v, list | tuple) or not v:
                raise UseCaseError(f"{where}: expected a non-empty list of tables")
            for i, t in enumerate(v):
                if not isinstance(t, Mapping) or set(t) != set(self.keys):
                    raise UseCaseError(
                        f"{where}[{i}]: expected a table with keys {', '.join(self.keys)}"
                    )
            return [dict(t) for t in v]
        if self.many:
            if not isinstance(v, list | tuple) or not v:
                raise UseCaseError(f"{where}: expected a non-empty list of integers")
            return [self._int(f"{where}[{i}]", x) for i, x in enumerate(v)]
        return self._int(where, v)

    def _int(self, where: str, v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or not self.lo <= v <= self.hi:
            raise UseCaseError(f"{where}: {v!r} is not an integer {self.lo}..{self.hi}")
        return v


@dataclass(frozen=True, slots=True)
class Repeat:
    """A run of components of one command, one per record of the ``records`` parameter
    ``param``: the template's first component of that command is the prototype (what the
    records do not set, and what path parameters put there, such as the issuer event id,
    goes into every copy). ``count`` is ``(command, field)``: the body field of the first
    component of that command that carries the number of records."""

    param: str
    command: str
    fields: tuple[RecordField, ...]
    count: tuple[str, str] | None = None

    def _run(self, comps: Sequence[Any]) -> tuple[int, int]:
        start = next(
            (
                i
                for i, c in enumerate(comps)
                if isinstance(c, Mapping) and c.get("command") == self.command
            ),
            None,
        )
        if start is None:
            raise UseCaseError(f"no {self.command} component to repeat")
        end = start
        while (
            end < len(comps)
            and isinstance(comps[end], Mapping)
            and (comps[end].get("command") == self.command)
        ):
            end += 1
        return start, end

    def fill(self, args: dict[str, Any], typed: Mapping[str, Any]) -> None:
        """Replace the run of prototype components by one component per record."""
        records = typed.get(self.param)
        if records is None:
            return
        if not records:
            raise UseCaseError(f"{self.param}: expected at least one record")
        comps = args["components"]
        start, end = self._run(comps)
        proto = comps[start]
        names = [f.name for f in self.fields]
        made = []
        for i, rec in enumerate(records):
            where = f"{self.param}[{i}]"
            if set(rec) != set(names):
                raise UseCaseError(f"{where}: expected the keys {', '.join(names)}")
            comp = copy.deepcopy(proto)
            for f in self.fields:
                value = f.check(f"{where}.{f.name}", rec[f.name])
                comp["body"][f.name] = value
                if f.length_field is not None:
                    comp["body"][f.length_field] = len(value)
            made.append(comp)
        comps[start:end] = made
        if self.count is not None:
            command, count_field = self.count
            target = next(c for c in comps if c.get("command") == command)
            target["body"][count_field] = len(made)

    def explain(self, structural: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The records of the run in ``structural`` (None when it has none); the run is
        then reduced to its first component in ``structural`` (the template's layout)."""
        comps = structural.get("components")
        if not isinstance(comps, list):
            return None
        try:
            start, end = self._run(comps)
        except UseCaseError:
            return None
        out = []
        for comp in comps[start:end]:
            body = comp.get("body")
            if not isinstance(body, Mapping) or any(f.name not in body for f in self.fields):
                return None
            out.append({f.name: copy.deepcopy(body[f.name]) for f in self.fields})
        comps[start + 1 : end] = []
        return out


@dataclass(frozen=True, slots=True)
class Entries:
    """The list ``field`` of the first component of ``command``, from the records
    parameter ``param`` (tables with the keys ``keys``); each ``counts`` ``(command,
    field)`` gets the number of records (GBCS carries the count beside the list)."""

    param: str
    command: str
    keys: tuple[str, ...]
    counts: tuple[tuple[str, str], ...] = ()
    field: str = "entries"

    def fill(self, args: dict[str, Any], typed: Mapping[str, Any]) -> None:
        """Put the records in place and set the counts."""
        records = typed.get(self.param)
        if records is None:
            return
        comps = args["components"]
        value = RecordField(self.param, keys=self.keys).check(self.param, records)
        next(c for c in comps if c.get("command") == self.command)["body"][self.field] = value
        for command, count_field in self.counts:
            next(c for c in comps if c.get("command") == command)["body"][count_field] = len(value)

    def explain(self, structural: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The records in ``structural`` (None when it has no such list)."""
        comps = structural.get("components")
        comp = next(
            (c for c in comps or () if isinstance(c, Mapping) and c.get("command") == self.command),
            None,
        )
        body = None if comp is None else comp.get("body")
        if not isinstance(body, Mapping) or not isinstance(body.get(self.field), list):
            return None
        return copy.deepcopy(body[self.field])


def _repeat_hook(name: str, *parts: Repeat | Entries) -> Hook:
    """A hook whose fill step builds each part (a run of components, or a list in one
    component, with the counts GBCS carries beside them) from its records parameter,
    and whose explain step reads them back."""

    def fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
        for part in parts:
            part.fill(args, typed)

    def explain(structural: Mapping[str, Any]) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
        laid_out = copy.deepcopy(dict(structural))
        out: dict[str, Any] = {}
        for part in parts:
            records = part.explain(laid_out)
            if records is None:
                return None
            out[part.param] = records
        return out, laid_out

    return Hook(name, fill=fill, explain=explain)


_DAY_PROFILES = Repeat(
    "day_profiles",
    "Publish Day Profile",
    (
        RecordField("day_id", 1, 255),
        RecordField(
            "entries", keys=("start_time", "value"), length_field="total_number_of_schedule_entries"
        ),
    ),
    count=("Publish Calendar", "number_of_day_profiles"),
)
_WEEK_PROFILES = Repeat(
    "week_profiles",
    "Publish Week Profile",
    (RecordField("week_id", 1, 255), RecordField("day_id_refs", 1, 255, many=True)),
    count=("Publish Calendar", "number_of_week_profiles"),
)
_SEASONS = Entries(
    "season_profiles",
    "Publish Seasons",
    ("season_start_date", "week_id_ref"),
    counts=(("Publish Calendar", "number_of_seasons"),),
)
_SPECIAL_DAYS = Entries(
    "special_days",
    "Publish Special Days",
    ("special_day_date", "day_id_ref"),
    counts=(("Publish Special Days", "total_number_of_special_days"),),
)

_EVENT_GROUPS = Repeat(
    "event_groups",
    "Set Event Configuration",
    (RecordField("event_configuration", 0, 255), RecordField("event_ids", 0, 0xFFFF, many=True)),
)


# ------------------------------------------------------------------ snapshot reads

_NOT_FOUND = "Not Found"
_SNAPSHOT_LISTS = {"Publish Snapshot": "snapshots", "Publish Prepay Snapshot": "prepay_snapshots"}


def _snapshots_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """The snapshots found, oldest first, by cluster (``snapshots`` for the metering
    cluster's, ``prepay_snapshots`` for the prepayment cluster's). A Not Found answer to
    an offset is the normal end of the log, not an error."""
    lists: dict[str, list[dict[str, Any]]] = {}
    normal: set[int] = set()
    for i, comp in enumerate(decoded.get("components", ())):
        cluster, body = comp.get("cluster"), comp.get("body", {})
        key = "snapshots" if cluster == "metering" else "prepay_snapshots"
        if comp.get("command") in _SNAPSHOT_LISTS:
            key = _SNAPSHOT_LISTS[comp["command"]]
            lists.setdefault(key, []).append(
                {
                    "snapshot_time": body.get("snapshot_time"),
                    "snapshot_cause": body.get("snapshot_cause"),
                    **dict(body.get("snapshot_payload") or {}),
                }
            )
        elif comp.get("command") == "Default Response" and body.get("status") == _NOT_FOUND:
            lists.setdefault(key, [])
            normal.add(i)
    errors = [
        e
        for e in decoded.get("errors", ())
        if not any(str(e).startswith(f"components[{i}]:") for i in normal)
    ]
    out.pop("errors", None)
    if errors:
        out["errors"] = errors
    out["ok"] = not errors
    out.update(lists)


# ------------------------------------------------------------------ profile buffers


def _profile_row(row: Data) -> dict[str, Any]:
    """One captured row: its capture time (a leading double-long-unsigned, UTC seconds
    since 2000, as GBCS logs and profiles capture it) and the other captured values."""
    fields = list(row.value) if row.tag == DataType.STRUCTURE else [row]
    if fields and fields[0].tag == DataType.DOUBLE_LONG_UNSIGNED:
        t = EPOCH_2000 + timedelta(seconds=int(fields[0].value))
        return {"time": t.isoformat(), "values": [_plain(f) for f in fields[1:]]}
    return {"values": [_plain(f) for f in fields]}


def _compact_arrays(d: Data, found: dict[str, Data]) -> None:
    """Every compact array in ``d``, by the hex its generic decode shows."""
    if d.tag == DataType.COMPACT_ARRAY:
        from .dlms_args import data_json

        found[data_json(d)["value"]] = d
    elif d.tag in (DataType.STRUCTURE, DataType.ARRAY):
        for x in d.value:
            _compact_arrays(x, found)


def _profile_decode(out: dict[str, Any], decoded: Mapping[str, Any], view: ResponseView) -> None:
    """Each named value that holds a profile buffer or log (a compact array, which the
    generic decode shows as hex) as its entries: ``[{time, values}]``, oldest first."""
    p = view.message.payload
    found: dict[str, Data] = {}
    for d in (*(p.data if isinstance(p, AccessResponse) else ()), *view.plaintexts):
        if isinstance(d, Data):
            _compact_arrays(d, found)
    for name, v in list(out.items()):
        if isinstance(v, str) and v in found:
            out[name] = [_profile_row(row) for row in found[v].value.elements()]


# ------------------------------------------------------------------------- GCS01a

_U48_MAX = (1 << 48) - 1
#: ZSE Publish Block Thresholds before its sub-payload: provider id, issuer event id,
#: start time, issuer tariff id (uint32 each), command index, total number of commands,
#: sub-payload control (uint8 each). A sub-payload is a ``tier << 4 | count`` octet then
#: ``count`` uint48 thresholds.
_BLOCK_HEAD = struct.Struct("<IIIIBBB")


@dataclass(frozen=True, slots=True)
class _EntriesOrNone(Entries):
    """:class:`Entries` that may be empty: an empty records list leaves the list empty
    and the counts 0 (GCS01a's special days: DUIS allows none)."""

    def fill(self, args: dict[str, Any], typed: Mapping[str, Any]) -> None:
        """Put the records (possibly none) in place and set the counts."""
        records = typed.get(self.param)
        if records is None or len(records) > 0:
            Entries.fill(self, args, typed)
            return
        comps = args["components"]
        next(c for c in comps if c.get("command") == self.command)["body"][self.field] = []
        for command, count_field in self.counts:
            next(c for c in comps if c.get("command") == command)["body"][count_field] = 0


@dataclass(frozen=True, slots=True)
class _BlockThresholds:
    """The Publish Block Thresholds component of ``command`` (block tariffs; gbcs.zcl
    does not type it, so its body is ``{"raw": HEX}``): one threshold set, the records
    parameter ``param`` (tables ``{key: uint48}``, Block1..BlockN thresholds in order).
    Its provider id, issuer event id, start time and issuer tariff id are those of the
    ``source`` component (GBCS sends one of each); command index, total number of
    commands, sub-payload control and tier come from the template's prototype (which
    holds no thresholds). Without records the component is left out (a TOU tariff has
    none)."""

    param: str
    key: str = "block_threshold"
    command: str = "Publish Block Thresholds"
    source: str = "Publish Tariff Information"

    def _index(self, comps: Any) -> int | None:
        return next(
            (
                i
                for i, c in enumerate(comps if isinstance(comps, list) else ())
                if isinstance(c, Mapping) and c.get("command") == self.command
            ),
            None,
        )

    def fill(self, args: dict[str, Any], typed: Mapping[str, Any]) -> None:
        """Build the component from the records, or take it out when there are none."""
        from .gbz_args import GbzArgsError, _utc_in

        comps = args["components"]
        i = self._index(comps)
        if i is None:
            raise UseCaseError(f"no {self.command} component to fill")
        records = typed.get(self.param)
        if not records:
            del comps[i]
            return
        if len(records) > 0x0F:
            raise UseCaseError(f"{self.param}: {len(records)} records: expected 1..15")
        field = RecordField(self.key, 0, _U48_MAX)
        values = []
        for j, rec in enumerate(records):
            if not isinstance(rec, Mapping) or set(rec) != {self.key}:
                raise UseCaseError(f"{self.param}[{j}]: expected a table with the key {self.key}")
            values.append(field.check(f"{self.param}[{j}].{self.key}", rec[self.key]))
        proto = bytes.fromhex(comps[i]["body"]["raw"])
        *_, index, total, control = _BLOCK_HEAD.unpack_from(proto)
        tier = proto[_BLOCK_HEAD.size] >> 4
        src = next(c for c in comps if c.get("command") == self.source)["body"]
        try:
            start = _utc_in(src["start_time"], "start_time")
        except GbzArgsError as e:
            raise UseCaseError(str(e)) from None
        head = _BLOCK_HEAD.pack(
            src["provider_id"],
            src["issuer_event_id"],
            start,
            src["issuer_tariff_id"],
            index,
            total,
            control,
        )
        sub = bytes((tier << 4 | len(values),)) + b"".join(v.to_bytes(6, "little") for v in values)
        comps[i]["body"] = {"raw": (head + sub).hex().upper()}

    def explain(self, structural: Mapping[str, Any]) -> list[dict[str, int]] | None:
        """The records of the component in ``structural`` (none when it has no such
        component, or one without thresholds); None when it is not one threshold set."""
        i = self._index(structural.get("components"))
        if i is None:
            return []
        body = structural["components"][i].get("body")
        raw = body.get("raw") if isinstance(body, Mapping) else None
        try:
            data = bytes.fromhex(raw) if isinstance(raw, str) else b""
        except ValueError:
            return None
        size = _BLOCK_HEAD.size
        count = data[size] & 0x0F if len(data) > size else -1
        if count < 0 or len(data) != size + 1 + 6 * count:
            return None
        at = size + 1
        return [
            {self.key: int.from_bytes(data[at + 6 * k : at + 6 * k + 6], "little")}
            for k in range(count)
        ]


_GCS01A_CALENDAR = (
    _DAY_PROFILES,
    _WEEK_PROFILES,
    _SEASONS,
    _EntriesOrNone(
        _SPECIAL_DAYS.param,
        _SPECIAL_DAYS.command,
        _SPECIAL_DAYS.keys,
        _SPECIAL_DAYS.counts,
    ),
)
_GCS01A_THRESHOLDS = _BlockThresholds("threshold_matrix")


def _gcs01a_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The tariff calendar (as GCS05's, calendar type 0), then the block thresholds."""
    for part in _GCS01A_CALENDAR:
        part.fill(args, typed)
    _GCS01A_THRESHOLDS.fill(args, typed)


def _gcs01a_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The calendar's records and the block thresholds (none for a TOU tariff)."""
    laid_out = copy.deepcopy(dict(structural))
    thresholds = _GCS01A_THRESHOLDS.explain(laid_out)
    if thresholds is None:
        return None
    out: dict[str, Any] = {_GCS01A_THRESHOLDS.param: thresholds}
    for part in _GCS01A_CALENDAR:
        records = part.explain(laid_out)
        if records is None:
            return None
        out[part.param] = records
    return out, laid_out


# ------------------------------------------------------------ ECS46c, ECS47, ECS47a

#: ECS46c: switch n's identity (n = 1..5): its HCALCS's EUI-64, or eight zero octets for
#: an ALCS (DUIS SwitchTypeAndId: ALCS or HCALCS).
_SWITCH_IDS = {f"0-0:94.44.0.2{n}": n for n in range(1, 6)}
_NO_HCALCS = bytes(8)
_ALCS_SCRIPTS = "0-0:10.0.103.255"
#: ECS47's actions and the low octet of their script selector (``index << 8 | code``).
_ALCS_ACTIONS: Mapping[str, int] = {"activate": 0x11, "deactivate": 0x12, "reset": 0x20}
#: Where ECS47 writes the duration of an activation / deactivation (a reset has none).
_ALCS_DURATION = {"activate": "0-0:94.44.117.1", "deactivate": "0-0:94.44.119.2"}
#: ECS47a's script selector: ``(0x20 + n) << 8 | level``, bit 7 of the level octet set
#: when the state is not for the input from the controlled load (RTDS: ECS47a's 0x2332 is
#: APC 3 at 50 % with InputFromControlledLoad; ECS46d's entries without it carry
#: ``0x80 | level``).
_AUX_STATE = 0x20
_AUX_OUTPUT = 0x80


def _switch_item(index: int, eui: bytes) -> dict[str, Any]:
    return {
        "operation": "set",
        "class_id": 1,
        "obis": f"0-0:94.44.0.2{index}",
        "attribute": 2,
        "value": eui.hex().upper(),
    }


def _switch_record(where: str, rec: Any) -> tuple[int, bytes]:
    """``(index, EUI)`` of one ``{index, alcs = true}`` / ``{index, hcalcs = EUI}``."""
    if not isinstance(rec, Mapping) or set(rec) not in ({"index", "alcs"}, {"index", "hcalcs"}):
        raise UseCaseError(f"{where}: expected {{index, alcs = true}} or {{index, hcalcs = EUI}}")
    index = rec["index"]
    if isinstance(index, bool) or not isinstance(index, int) or not 1 <= index <= 5:
        raise UseCaseError(f"{where}.index: {index!r} is not an integer 1..5")
    if "alcs" in rec:
        if rec["alcs"] is not True:
            raise UseCaseError(f"{where}.alcs: expected true (an ALCS)")
        return index, _NO_HCALCS
    eui = to_eui(rec["hcalcs"])
    if eui == _NO_HCALCS:
        raise UseCaseError(f"{where}.hcalcs: all zero identifies an ALCS: give alcs = true")
    return index, eui


def _ecs46c_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """One identity item per switch, in index order, in place of the template's
    prototype (items[0])."""
    records = typed.get("switch_type_and_id")
    if records is None:
        raise UseCaseError("switch_type_and_id: missing")
    ids: dict[int, bytes] = {}
    for i, rec in enumerate(records):
        index, eui = _switch_record(f"switch_type_and_id[{i}]", rec)
        if index in ids:
            raise UseCaseError(f"switch_type_and_id[{i}].index: switch {index} given twice")
        ids[index] = eui
    args["items"][0:1] = [_switch_item(n, ids[n]) for n in sorted(ids)]


def _ecs46c_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The switch identities of the leading items (in index order, as the fill step
    writes them); the arguments with them replaced by the template's prototype."""
    items = _items(structural)
    if items is None:
        return None
    records: list[dict[str, Any]] = []
    for item in items:
        built = _built_item(item)
        if built is None:
            return None
        spec, value = built
        index = _SWITCH_IDS.get(str(spec.obis)) if isinstance(spec, SetSpec) else None
        if index is None:
            break
        if (
            (records and index <= records[-1]["index"])
            or value.tag != DataType.OCTET_STRING
            or len(value.value) != 8
        ):
            return None
        if value.value == _NO_HCALCS:
            records.append({"index": index, "alcs": True})
        else:
            records.append({"index": index, "hcalcs": value.value.hex().upper()})
    laid_out = copy.deepcopy(dict(structural))
    laid_out["items"][0 : len(records)] = [_switch_item(1, _NO_HCALCS)]
    return {"switch_type_and_id": records}, laid_out


def _alcs_script(selector: int) -> dict[str, Any]:
    return {
        "operation": "action",
        "class_id": 9,
        "obis": _ALCS_SCRIPTS,
        "method": 1,
        "parameter": selector,
    }


def _ecs47_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The items of the action: the duration (activate, deactivate) then the script of
    switch ``index``."""
    action, index, duration = typed.get("action"), typed.get("index"), typed.get("duration")
    if action not in _ALCS_ACTIONS or index is None:
        raise UseCaseError("ECS47: action and index are required")
    items: list[dict[str, Any]] = []
    if action == "reset":
        if duration is not None:
            raise UseCaseError("duration: a reset has none (only activate and deactivate)")
    else:
        if duration is None:
            raise UseCaseError(f"duration: required to {action}")
        # 0-0:94.44.119.2 has no fixed type: the long-unsigned is written tagged
        value = duration if action == "activate" else {"type": "long-unsigned", "value": duration}
        items.append(
            {
                "operation": "set",
                "class_id": 1,
                "obis": _ALCS_DURATION[action],
                "attribute": 2,
                "value": value,
            }
        )
    items.append(_alcs_script(index << 8 | _ALCS_ACTIONS[action]))
    args["items"] = items


def _alcs_selector(built: tuple[Any, Data] | None) -> int | None:
    """The script selector of an action on the ALCS state script table (None if not)."""
    if built is None:
        return None
    spec, param = built
    if (
        not isinstance(spec, ActionSpec)
        or str(spec.obis) != _ALCS_SCRIPTS
        or spec.method != 1
        or param.tag != DataType.LONG_UNSIGNED
    ):
        return None
    return int(param.value)


def _ecs47_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The action (from the low octet of the script selector), the switch (its high
    octet) and the duration of an activation / deactivation."""
    items = _items(structural)
    if not items or len(items) > 2:
        return None
    built = [_built_item(item) for item in items]
    selector = _alcs_selector(built[-1])
    if selector is None:
        return None
    index, code = divmod(selector, 256)
    action = next((a for a, c in _ALCS_ACTIONS.items() if c == code), None)
    if action is None or not 1 <= index <= 5 or (len(items) == 1) != (action == "reset"):
        return None
    named: dict[str, Any] = {"action": action, "index": index}
    if action != "reset":
        first = built[0]
        if (
            first is None
            or not isinstance(first[0], SetSpec)
            or str(first[0].obis) != _ALCS_DURATION[action]
            or first[1].tag != DataType.LONG_UNSIGNED
        ):
            return None
        named["duration"] = int(first[1].value)
    return named, copy.deepcopy(dict(structural))


def _ecs47a_fill(args: dict[str, Any], typed: Mapping[str, Any], ctx: BuildContext) -> None:
    """The end date-time as a tagged octet-string (0-0:94.44.119.2 has no fixed type)
    and the script selector of controller ``n`` at the commanded level."""
    from .dlms_args import DlmsArgsError, parse_date_time

    n, level = typed.get("auxiliary_controller_n"), typed.get("commanded_state_level")
    end = typed.get("end_date_time")
    if n is None or level is None or end is None:
        raise UseCaseError(
            "ECS47a: auxiliary_controller_n, commanded_state_level and end_date_time are required"
        )
    try:
        octets = parse_date_time(end).to_bytes()
    except DlmsArgsError as e:
        raise UseCaseError(f"end_date_time: {e}") from None
    args["items"][1]["value"] = {"type": "octet-string", "value": octets.hex().upper()}
    output = 0 if typed.get("input_from_controlled_load") else _AUX_OUTPUT
    args["items"][2]["parameter"] = (_AUX_STATE + n) << 8 | output | level


def _ecs47a_explain(
    structural: Mapping[str, Any],
) -> tuple[dict[str, Any], Mapping[str, Any]] | None:
    """The end date-time (the octets of 0-0:94.44.119.2) and the controller, level and
    input flag of the script selector."""
    from .dlms_args import date_time_text

    items = _items(structural, 3)
    if items is None:
        return None
    end = _built_item(items[1])
    end_time = None if end is None else _cosem_instant(end[1])
    selector = _alcs_selector(_built_item(items[2]))
    if end_time is None or selector is None:
        return None
    high, low = divmod(selector, 256)
    n, level = high - _AUX_STATE, low & 0x7F
    if not 1 <= n <= 5 or level > 100:
        return None
    named = {
        "end_date_time": date_time_text(end_time),
        "auxiliary_controller_n": n,
        "commanded_state_level": level,
        "input_from_controlled_load": not low & _AUX_OUTPUT,
    }
    return named, copy.deepcopy(dict(structural))


HOOKS: Mapping[str, Hook] = {
    h.name: h
    for h in (
        Hook("ecs17b", fill=_ecs17b_fill, decode=_ecs17b_decode),
        Hook("ecs18b", decode=_ecs18b_decode),
        Hook("ecs37", fill=_ecs37_fill, decode=_ecs37_decode, explain=_ecs37_explain),
        Hook("ecs57", fill=_ecs57_fill, decode=_ecs57_decode, explain=_ecs57_explain),
        Hook("ecs70", fill=_ecs70_fill, decode=_ecs70_decode, explain=_ecs70_explain),
        Hook("log", fill=_log_fill, decode=_log_decode, explain=_log_explain),
        Hook("gcs13a", decode=_gcs13a_decode),
        Hook("gcs38", decode=_gcs38_decode),
        Hook("cs06", fill=_cs06_fill, decode=_cs06_decode, explain=_cs06_explain),
        Hook("ccs01", decode=_ccs01_decode),
        Hook("snapshots", decode=_snapshots_decode),
        _repeat_hook("gcs20", _EVENT_GROUPS),
        _repeat_hook("gcs05", _DAY_PROFILES, _WEEK_PROFILES, _SEASONS, _SPECIAL_DAYS),
        Hook("profile", decode=_profile_decode),
        Hook("gcs01a", fill=_gcs01a_fill, explain=_gcs01a_explain),
        Hook("ecs46c", fill=_ecs46c_fill, explain=_ecs46c_explain),
        Hook("ecs47", fill=_ecs47_fill, explain=_ecs47_explain),
        Hook("ecs47a", fill=_ecs47a_fill, explain=_ecs47a_explain),
    )
}
"""Every hook by the name a description gives in ``hook``."""
