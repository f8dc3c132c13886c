"""The control API core: JSON requests that act on a site's devices directly, sans-IO.

A test bench drives a device through GBCS like a head-end does; some things a bench needs
cannot be reached that way (a register's value, the mains, a tamper, an image held for
CS06, a factory reset). :func:`execute_control` runs one such request against a
:class:`~devices.site.Site` and answers a JSON-able reply::

    {"id": 7, "op": "set_cosem", "class_id": 3, "obis": "1-0:1.8.0.255",
     "attribute": 2, "value": 12345}
    -> {"id": 7, "ok": true, "result": {...}}
    -> {"id": 7, "ok": false, "error": {"code": "bad_field", "field": "value",
                                        "message": "value: ..."}}

``target`` is the EUI the request was addressed to (the topic's EUI). Every operation
(:data:`CONTROL_OPS`; docs/control.md is the protocol reference) is validated field by
field *before* anything changes: bad input gives ``ok: false`` and leaves the site exactly
as it was. A valid request first runs the site's time-driven behaviour up to ``now`` (as a
GBCS command does), then acts. Frames the devices send because of it (ECS80, AD1, tamper
and injected alerts) are returned in :attr:`ControlResult.outs`, already routed through the
site (a GSME's alerts through its Comms Hub); :attr:`ControlResult.changed` names the
device types whose saved state changed, so the caller persists them before replying.

The value forms (A-XDR tagged values, ZCL values) are in :mod:`devices.control_values`;
the alert codes :mod:`devices.control_alerts` knows in :data:`~devices.control_alerts.ALERT_NAMES`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType
from typing import Any

from gbcs.axdr import Data, encode_data
from gbcs.dlms import DataAccessResult, Obis
from gbcs.errors import GbcsDecodeError, GbcsEncodeError
from gbcs.zcl import ZclValue
from gbcs.zcl.names import CLUSTER_NAMES, attribute_name
from keys.certs import eui_hex
from keys.roles import RemotePartyRole

from .behaviours.load import LoadError, LoadModel, LoadProfile, profile_from_option
from .chf import Chf
from .control_alerts import ALERT_NAMES, is_critical
from .control_faults import clear_faults, inject_fault, with_faults
from .control_values import (
    ControlError,
    ValueFormError,
    data_from_json,
    data_to_json,
    json_kind,
    zcl_from_json,
    zcl_to_json,
)
from .cosem import CosemObject, same_type
from .credentials import CredentialState
from .device import (
    AlertSpec,
    Device,
)
from .dlms_device import DlmsDevice
from .esme import ControlState, Esme
from .firmware_state import FIRMWARE_VERSION_SIZE, HeldImage
from .gsme import Gsme
from .logs import DeviceLog
from .outbound import Outbound
from .site import Site
from .supply import Outage
from .trust import TrustAnchors
from .zcl_model import METERING, SUPPLY_STATUS, ZclAttribute, ZclModel
from .zigbee_device import ZigbeeDevice

__all__ = ["CONTROL_OPS", "ControlError", "ControlResult", "execute_control"]

R = RemotePartyRole
ALL = ("ESME", "GSME", "CHF", "GPF")

CONTROL_OPS: Mapping[str, str] = MappingProxyType(
    {
        "get_cosem": "read a COSEM attribute of the ESME or CHF as a typed A-XDR value",
        "set_cosem": "write a COSEM attribute of the ESME or CHF (stored or behaviour-bound)",
        "get_zcl": "read a ZCL attribute of the GSME or GPF",
        "set_zcl": "write a ZCL attribute of the GSME or GPF",
        "set_load_profile": "replace the ESME's load profile (W, constant or daily shape)",
        "set_gas_profile": "replace the GSME's gas flow profile (litres per hour)",
        "power": "cut (off) or restore (on) the site's mains: ECS80 and AD1 as they happen",
        "tamper": "a physical tamper event on the ESME or GSME, with the alerts GBCS defines",
        "set_clock": "set the device clock to an ISO 8601 instant (valid from then on)",
        "run_on": "run the whole premises through a stretch of time at once (it then runs ahead)",
        "invalidate_clock": "make the device clock invalid (as after a long outage)",
        "inject_alert": "raise any GBCS alert code, built and protected as the device's own",
        "hold_firmware": "hold a firmware image (or its hash) ready for CS06 to activate",
        "read_log": "the device's event, security or power event log as JSON",
        "factory_reset": "the device back to its factory state (credentials kept)",
        "get_status": "the device's clock, firmware, power and supply state, armed faults",
        "inject_fault": "fail one item, record or a whole command of a message code, as RTDS",
        "clear_faults": "disarm every injected fault (or those of one message code)",
    }
)
"""Every operation: name -> one-line description (docs/control.md has the fields)."""


@dataclass(frozen=True, slots=True)
class ControlResult:
    """The reply, the frames the request made the site send, and what changed."""

    reply: dict[str, Any]
    outs: list[Outbound] = field(default_factory=list)
    changed: frozenset[str] = frozenset()


# --------------------------------------------------------------------------- plumbing


@dataclass(slots=True)
class _Ctx:
    site: Site
    device: Device
    request: Mapping[str, Any]
    now: datetime
    outs: list[Outbound] = field(default_factory=list)

    @property
    def kind(self) -> str:
        return self.device.device_type.value

    def route(self, outs: list[Outbound]) -> None:
        """Deliver device output through the site (HAN hops, CHF forwarding)."""
        dev = self.device
        if isinstance(dev, Gsme):
            outs = dev.alert_via_tunnel(outs)
        # Site._route is the site's own delivery (tunnel, storm consolidation, cuts).
        self.outs.extend(self.site._route(outs, self.now))

    def alert(self, spec: AlertSpec) -> Outbound:
        o = self.device.alert(spec, self.now)
        self.route([o])
        return o


Apply = Callable[[], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class _Op:
    devices: tuple[str, ...]
    required: tuple[str, ...]
    optional: tuple[str, ...]
    prepare: Callable[[_Ctx], Apply]


def _err(code: str, message: str, field: str | None = None) -> ControlError:
    return ControlError(code, message, field)


def _bad(field: str, message: str) -> ControlError:
    return ControlError("bad_field", f"{field}: {message}", field)


def _int_field(ctx: _Ctx, name: str, lo: int, hi: int) -> int:
    v = ctx.request[name]
    if isinstance(v, str) and re.fullmatch(r"0[xX][0-9A-Fa-f]+", v):
        v = int(v, 16)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise _bad(name, f"expected an integer {lo}..{hi}, got {json_kind(v)}")
    return v


def _text_field(ctx: _Ctx, name: str, choices: tuple[str, ...] | None = None) -> str:
    v = ctx.request[name]
    if not isinstance(v, str):
        raise _bad(name, f"expected text, got {json_kind(v)}")
    if choices is not None and v not in choices:
        raise _bad(name, f"expected one of {', '.join(choices)}, got {v!r}")
    return v


def _hex_field(ctx: _Ctx, name: str, size: int | None = None) -> bytes:
    v = ctx.request[name]
    if not isinstance(v, str) or not re.fullmatch(r"(?:[0-9A-Fa-f]{2})+", v):
        raise _bad(name, f"expected hex octets, got {json_kind(v)}")
    raw = bytes.fromhex(v)
    if size is not None and len(raw) != size:
        raise _bad(name, f"expected {size} octets ({2 * size} hex digits), got {len(raw)}")
    return raw


def _time_field(ctx: _Ctx, name: str) -> datetime:
    v = ctx.request[name]
    text = v[:-1] + "+00:00" if isinstance(v, str) and v.endswith(("Z", "z")) else v
    try:
        t = datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        t = None
    if t is None or t.tzinfo is None or t.utcoffset() is None:
        raise _bad(
            name,
            "expected an ISO 8601 date-time with a UTC offset (e.g. 2026-01-01T12:00:00Z), "
            f"got {json_kind(v)}",
        )
    return t.astimezone(UTC)


def _hex4(code: int) -> str:
    return f"0x{code:04X}"


# --------------------------------------------------------------------------- COSEM


def _cosem_object(ctx: _Ctx) -> tuple[CosemObject, int]:
    dev = ctx.device
    assert isinstance(dev, DlmsDevice)
    class_id = _int_field(ctx, "class_id", 0, 0xFFFF)
    text = ctx.request["obis"]
    try:
        if not isinstance(text, str):
            raise ValueError
        obis = Obis.parse(text)
    except (ValueError, GbcsDecodeError, GbcsEncodeError):
        raise _bad("obis", f'expected an OBIS code "A-B:C.D.E.F", got {json_kind(text)}') from None
    attribute = _int_field(ctx, "attribute", 1, 0xFF)
    obj = dev.model.find(class_id, obis)
    if obj is None:
        raise _err(
            "not_found",
            f"no COSEM object of class {class_id} with OBIS {obis} in the {ctx.kind}'s model",
            "obis",
        )
    known = sorted({1, *obj.attributes, *obj.getters, *obj.setters})
    if attribute not in known:
        listed = ", ".join(map(str, known))
        raise _err(
            "not_found",
            f"class {class_id} {obis} has no attribute {attribute} (it has {listed})",
            "attribute",
        )
    return obj, attribute


def _cosem_reply(obj: CosemObject, attribute: int) -> dict[str, Any]:
    result, value = obj.get(attribute)
    out: dict[str, Any] = {
        "class_id": obj.class_id,
        "obis": str(obj.obis),
        "attribute": attribute,
        "name": obj.name,
        "live": attribute in obj.getters,
    }
    if result is not DataAccessResult.SUCCESS or value is None:
        out["value"] = None
        out["result"] = result.name.lower().replace("_", "-")
        return out
    out["value"] = data_to_json(value)
    out["hex"] = encode_data(value).hex().upper()
    return out


def _get_cosem(ctx: _Ctx) -> Apply:
    obj, attribute = _cosem_object(ctx)
    return lambda: _cosem_reply(obj, attribute)


_COMPUTED_HINTS: dict[tuple[int, str], str] = {
    (8, "0-0:1.0.0.255"): "use set_clock or invalidate_clock",
    (1, "0-0:0.2.1.255"): "hold an image with hold_firmware and activate it with CS06",
    (1, "0-0:96.1.1.255"): "it is the device's EUI",
    (70, "0-0:96.3.10.255"): "switch the supply with ECS42/ECS43/ECS44 over GBCS",
}
_ENERGY_REGISTERS: dict[tuple[int, str], str] = {
    (3, "1-0:1.8.0.255"): "import",
    (1, "0-0:94.44.34.10"): "import",  # the import register collection ECS17b reads
    (3, "1-0:2.8.0.255"): "export",
}
"""Attributes 2 that show the ESME's load-model registers: setting one moves the model."""


def _set_cosem(ctx: _Ctx) -> Apply:
    obj, attribute = _cosem_object(ctx)
    dev = ctx.device
    assert isinstance(dev, DlmsDevice)
    where = f"attribute {attribute} of class {obj.class_id} {obj.obis}"
    if attribute == 1:
        raise _err("read_only", f"{where} is the logical name (the OBIS code itself)", "attribute")
    raw = ctx.request["value"]
    obis = str(obj.obis)
    direction = _ENERGY_REGISTERS.get((obj.class_id, obis))
    if isinstance(dev, Esme) and attribute == 2 and direction is not None:
        value = _register_value(raw)

        def apply_register() -> dict[str, Any]:
            dev.load = _rebase(dev.load, **{f"{direction}_wh": value})
            return _cosem_reply(obj, attribute)

        return apply_register
    if attribute in obj.setters:
        current = obj.get(attribute)[1]
        data = _data(raw, current)

        def apply_setter() -> dict[str, Any]:
            result = obj.set(attribute, data)
            if result is not DataAccessResult.SUCCESS:
                name = result.name.lower().replace("_", "-")
                raise _err("refused", f"the {ctx.kind} refused the value for {where}: {name}")
            return _cosem_reply(obj, attribute)

        return apply_setter
    if attribute in obj.getters:
        hint = _COMPUTED_HINTS.get((obj.class_id, obis))
        if hint is None:
            hint = (
                "read the log with read_log"
                if obj.class_id == 7
                else "it follows the device's behaviour (load profile, maximum demand, ...)"
            )
        raise _err("read_only", f"{where} is computed by the {ctx.kind}: {hint}", "attribute")
    current = obj.attributes[attribute]
    data = _data(raw, current)
    if not same_type(current, data):
        raise _bad(
            "value",
            f"{where} holds {_type_summary(current)}; the new value must have the same type "
            f"(got {_type_summary(data)})",
        )

    def apply_stored() -> dict[str, Any]:
        obj.attributes[attribute] = data
        if attribute not in obj.writable:
            obj.overridden.add(attribute)
        return _cosem_reply(obj, attribute)

    return apply_stored


def _data(raw: Any, like: Data | None) -> Data:
    try:
        return data_from_json(raw, "value", like)
    except ValueFormError as e:
        raise _bad(e.path, e.reason) from None


def _type_summary(d: Data) -> str:
    name = d.tag.name.lower().replace("_", "-")
    if d.is_container:
        inner = ", ".join(_type_summary(x) for x in d.value[:4])
        more = ", ..." if len(d.value) > 4 else ""
        return f"{name}[{inner}{more}]"
    return name


def _register_value(raw: Any) -> int:
    if isinstance(raw, Mapping):
        d = _data(raw, None)
        raw = d.value if d.tag.name == "DOUBLE_LONG_UNSIGNED" else None
        if raw is None:
            raise _bad(
                "value", "an energy register is set in Wh: an integer or a double-long-unsigned"
            )
    if not isinstance(raw, int) or isinstance(raw, bool) or not 0 <= raw <= 0xFFFFFFFF:
        raise _bad(
            "value", f"expected the register in Wh, an integer 0..4294967295, got {json_kind(raw)}"
        )
    return raw


def _rebase(
    model: LoadModel, *, import_wh: int | None = None, export_wh: int | None = None
) -> LoadModel:
    """The load model with its cumulative registers set (integration state kept)."""
    d = model.to_dict()
    if import_wh is not None:
        d["import_wh"] = import_wh
        d["period_import_wh"] = min(d["period_import_wh"], import_wh)
    if export_wh is not None:
        d["export_wh"] = export_wh
        d["period_export_wh"] = min(d["period_export_wh"], export_wh)
    return LoadModel.from_dict(d)


# --------------------------------------------------------------------------- ZCL


def _norm(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).lower()


def _zcl_target(ctx: _Ctx) -> tuple[ZclModel, int, int, ZclAttribute]:
    dev = ctx.device
    assert isinstance(dev, ZigbeeDevice)
    m = dev.model
    raw_c = ctx.request["cluster"]
    cluster = _id_or_name(raw_c, "cluster", {**CLUSTER_NAMES, **m.cluster_names})
    if cluster is None or cluster not in m.clusters:
        have = ", ".join(
            f"{m.cluster_names.get(c) or CLUSTER_NAMES.get(c, '?')} (0x{c:04X})"
            for c in sorted(m.clusters)
        )
        raise _err(
            "not_found", f"the {ctx.kind} has no cluster {raw_c!r} (it has {have})", "cluster"
        )
    attrs = m.clusters[cluster]
    names = {aid: a.name or attribute_name(cluster, aid) or "" for aid, a in attrs.items()}
    raw_a = ctx.request["attribute"]
    aid = _id_or_name(raw_a, "attribute", names)
    if aid is None or aid not in attrs:
        raise _err(
            "not_found",
            f"cluster 0x{cluster:04X} of the {ctx.kind} has no attribute {raw_a!r} "
            f"(e.g. {', '.join(n for n in list(names.values())[:6] if n)})",
            "attribute",
        )
    return m, cluster, aid, attrs[aid]


def _id_or_name(raw: Any, what: str, names: Mapping[int, str]) -> int | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        if not 0 <= raw <= 0xFFFF:
            raise _bad(what, f"expected an id 0..65535 or a name, got {raw}")
        return raw
    if not isinstance(raw, str) or not raw.strip():
        raise _bad(what, f"expected an id (integer or 0x hex) or a name, got {json_kind(raw)}")
    if re.fullmatch(r"0[xX][0-9A-Fa-f]{1,4}", raw.strip()):
        return int(raw.strip(), 16)
    want = _norm(raw)
    for i, n in names.items():
        if n and _norm(n) == want:
            return i
    return None


def _zcl_reply(m: ZclModel, cluster: int, aid: int, a: ZclAttribute) -> dict[str, Any]:
    value = m.read(cluster, aid)
    out: dict[str, Any] = {
        "cluster": f"0x{cluster:04X}",
        "cluster_name": m.cluster_names.get(cluster) or CLUSTER_NAMES.get(cluster, ""),
        "attribute": f"0x{aid:04X}",
        "name": a.name or attribute_name(cluster, aid) or "",
        "writable": a.writable,
    }
    if value is None:
        out["value"] = None
        return out
    out.update(zcl_to_json(value))
    return out


def _get_zcl(ctx: _Ctx) -> Apply:
    m, cluster, aid, a = _zcl_target(ctx)
    return lambda: _zcl_reply(m, cluster, aid, a)


def _set_zcl(ctx: _Ctx) -> Apply:
    m, cluster, aid, a = _zcl_target(ctx)
    try:
        value = zcl_from_json(a.type_id, ctx.request["value"], "value")
    except ValueFormError as e:
        raise _bad(e.path, e.reason) from None
    if m.check(cluster, aid, value):
        raise _bad("value", f"does not fit the attribute's type 0x{a.type_id:02X}")
    try:
        ZclValue(a.type_id, value).encode()
    except GbcsEncodeError as e:
        raise _bad("value", str(e)) from None
    dev = ctx.device

    def apply() -> dict[str, Any]:
        status = m.store(cluster, aid, value)
        if status:
            raise _err("refused", f"the {ctx.kind} refused the value (ZCL status 0x{status:02X})")
        if isinstance(dev, Gsme) and cluster == METERING and aid == 0x0000:
            # The consumption register follows the gas flow model: move the model too.
            dev.flow = _rebase(dev.flow, import_wh=int(value))
        _mirror(ctx)
        return _zcl_reply(m, cluster, aid, a)

    return apply


def _mirror(ctx: _Ctx) -> None:
    """A GSME change reaches the GPF mirror at once (as after a tunnel exchange)."""
    site = ctx.site
    if isinstance(ctx.device, Gsme) and site.gpf is not None:
        site.gpf.mirror(ctx.device.model)


# --------------------------------------------------------------------------- load


def _profile(ctx: _Ctx, unit: str) -> LoadProfile:
    raw = ctx.request["profile"]
    if isinstance(raw, bool) or not isinstance(raw, int | float | Mapping):
        raise _bad(
            "profile",
            f"expected a constant in {unit} (a number >= 0) or a profile object, "
            f"got {json_kind(raw)}",
        )
    if isinstance(raw, int | float) and not 0 <= raw < 1 << 31:
        raise _bad("profile", f"a constant load is 0..2147483647 {unit}, got {raw}")
    try:
        return profile_from_option(raw)
    except (LoadError, TypeError, ValueError) as e:
        raise _bad("profile", str(e)) from None


def _set_load_profile(ctx: _Ctx) -> Apply:
    profile = _profile(ctx, "W")
    dev = ctx.device
    assert isinstance(dev, Esme)

    def apply() -> dict[str, Any]:
        dev.load.set_profile(profile, max(ctx.now, dev.load.time))
        return {
            "profile": profile.to_dict(),
            "import_wh": dev.load.import_wh,
            "export_wh": dev.load.export_wh,
        }

    return apply


def _set_gas_profile(ctx: _Ctx) -> Apply:
    profile = _profile(ctx, "l/h")
    dev = ctx.device
    assert isinstance(dev, Gsme)

    def apply() -> dict[str, Any]:
        dev.flow.set_profile(profile, max(ctx.now, dev.flow.time))
        return {"profile": profile.to_dict(), "litres": dev.flow.import_wh}

    return apply


# --------------------------------------------------------------------------- power


def _mains_on(site: Site) -> bool:
    return site.esme.power.powered if site.esme is not None else site.chf.power.powered


def _power(ctx: _Ctx) -> Apply:
    state = _text_field(ctx, "state", ("off", "on"))

    def apply() -> dict[str, Any]:
        was = "on" if _mains_on(ctx.site) else "off"
        if state == "off":
            ctx.outs.extend(ctx.site._lose_mains_at(ctx.now))
        else:
            ctx.outs.extend(ctx.site._restore_mains_at(ctx.now))
        return {"state": state, "was": was}

    return apply


# --------------------------------------------------------------------------- tamper


@dataclass(frozen=True, slots=True)
class _Tamper:
    detected: int
    cleared: int | None
    devices: tuple[str, ...]

    @property
    def physical_access(self) -> bool:
        """An Unauthorised Physical Access event: the supply tamper state applies."""
        return self.detected == 0x8F3F or 0x8F73 <= self.detected <= 0x8F78


TAMPER_EVENTS: Mapping[str, _Tamper] = MappingProxyType(
    {
        "tamper_detect": _Tamper(0x8F3F, None, ("ESME", "GSME")),
        "battery_cover": _Tamper(0x8F73, 0x81A1, ("GSME",)),
        "meter_cover": _Tamper(0x8F74, 0x81B9, ("ESME", "GSME")),
        "magnetic_field": _Tamper(0x8F75, 0x81BC, ("ESME", "GSME")),
        "terminal_cover": _Tamper(0x8F76, 0x81C1, ("ESME",)),
        "second_terminal_cover": _Tamper(0x8F77, None, ("ESME",)),
        "other": _Tamper(0x8F78, None, ("ESME", "GSME")),
        "tilt": _Tamper(0x81C3, 0x81C2, ("GSME",)),
    }
)
"""The tamper events a device can be told about: (detected alert, cleared alert, devices)."""

SUPPLY_TAMPER_STATE_OBIS = "0-0:94.44.0.4"
SUPPLY_TAMPER_STATE_ZCL = 0x0607
SUPPLY_LOCKED_BY_TAMPER = 0x81BE


def _supply_locks(dev: Device) -> bool:
    """Whether the device's Supply Tamper State says 'locked' (ECS81 / GCS24)."""
    if isinstance(dev, Esme):
        obj = dev.model.find(1, Obis.parse(SUPPLY_TAMPER_STATE_OBIS))
        v = None if obj is None else obj.get(2)[1]
        return v is not None and bool(v.value)
    if isinstance(dev, Gsme):
        return dev.model.get_int_or(METERING, SUPPLY_TAMPER_STATE_ZCL, 3) == 0
    return False


def _tamper(ctx: _Ctx) -> Apply:
    name = _text_field(
        ctx, "event", tuple(k for k, t in TAMPER_EVENTS.items() if ctx.kind in t.devices)
    )
    event = TAMPER_EVENTS[name]
    state = "detected"
    if "state" in ctx.request:
        state = _text_field(ctx, "state", ("detected", "cleared"))
    if state == "cleared" and event.cleared is None:
        raise _bad("state", f"GBCS defines no alert for the end of a {name} event: only 'detected'")
    dev = ctx.device

    def apply() -> dict[str, Any]:
        code = event.detected if state == "detected" else event.cleared
        assert code is not None
        detail = f"control: {name} {state}"
        if event.physical_access and state == "detected":
            dev.log_security(code, ctx.now, detail)
        else:
            dev.log_event(code, ctx.now, detail)
        raised = [ctx.alert(AlertSpec(code, is_critical(code), R.SUPPLIER))]
        locked = False
        if state == "detected" and event.physical_access and _supply_locks(dev):
            locked = True
            if isinstance(dev, Esme):
                dev.control_state = ControlState.DISCONNECTED
                dev.on_supply_switched()
            elif isinstance(dev, Gsme):
                dev.model.supply_status = 0
                _mirror(ctx)
            dev.log_event(SUPPLY_LOCKED_BY_TAMPER, ctx.now, detail)
            raised.append(ctx.alert(AlertSpec(SUPPLY_LOCKED_BY_TAMPER, False, R.SUPPLIER)))
        return {
            "event": name,
            "state": state,
            "alerts": [_hex4(o.alert_code or 0) for o in raised],
            "supply_locked": locked,
        }

    return apply


# --------------------------------------------------------------------------- clock


def _set_clock(ctx: _Ctx) -> Apply:
    t = _time_field(ctx, "time")
    clock = ctx.device.clock

    def apply() -> dict[str, Any]:
        adjust = clock.set(ctx.now, t)
        return {"time": t.isoformat(), "adjusted_seconds": adjust, "status": "reliable"}

    return apply


def _invalidate_clock(ctx: _Ctx) -> Apply:
    clock = ctx.device.clock

    def apply() -> dict[str, Any]:
        clock.invalidate()
        return {"status": "invalid"}

    return apply


# --------------------------------------------------------------------------- alerts

_ECS80_CODES = (0x8F35, 0x8F36)


def _alert_code(ctx: _Ctx) -> int:
    raw = ctx.request["code"]
    code: int | None = None
    if isinstance(raw, int) and not isinstance(raw, bool):
        code = raw
    elif isinstance(raw, str) and re.fullmatch(r"(0[xX])?[0-9A-Fa-f]{4}", raw.strip()):
        code = int(raw.strip().removeprefix("0x").removeprefix("0X"), 16)
    if code is None:
        raise _bad(
            "code",
            "expected an alert code, an integer or hex text such as "
            f'"0x8F3F", got {json_kind(raw)}',
        )
    if code not in ALERT_NAMES:
        raise _bad(
            "code",
            f"0x{code:04X} is not a GBCS alert code (docs/control.md lists them, e.g. "
            "0x8F3F Unauthorised Physical Access - Tamper Detect, 0x81A0 Smart Meter Integrity "
            "Issue - Warning)",
        )
    return code


def _inject_alert(ctx: _Ctx) -> Apply:
    code = _alert_code(ctx)
    dev = ctx.device
    critical = is_critical(code)
    if "critical" in ctx.request:
        c = ctx.request["critical"]
        if not isinstance(c, bool):
            raise _bad("critical", f"expected true or false, got {json_kind(c)}")
        critical = c
    recipient: RemotePartyRole | None = None
    if "recipient" in ctx.request:
        try:
            recipient = RemotePartyRole.parse(ctx.request["recipient"])
        except ValueError as e:
            raise _bad("recipient", str(e)) from None
        if recipient in (R.ROOT, R.XML_SIGN, R.DSP_XML_SIGN, R.OTHER, R.ISSUING_AUTHORITY):
            raise _bad("recipient", f"{recipient.cli_name} never receives alerts")
    extra: tuple[Data, ...] = ()
    if "detail" in ctx.request:
        if not dev.speaks_dlms:
            raise _bad("detail", f"a {ctx.kind} alert (GBZ) carries no extra data: leave it out")
        raw = ctx.request["detail"]
        if not isinstance(raw, list):
            raise _bad("detail", f"expected a list of tagged A-XDR values, got {json_kind(raw)}")
        try:
            extra = tuple(data_from_json(x, f"detail[{i}]") for i, x in enumerate(raw))
        except ValueFormError as e:
            raise _bad(e.path, e.reason) from None

    def apply() -> dict[str, Any]:
        spec = AlertSpec(code, critical, recipient or R.SUPPLIER, extra=extra)
        if isinstance(dev, Esme) and code in _ECS80_CODES and not extra:
            # ECS80 as the ESME raises it: to the Network Operator, with the outage times.
            spec = dev.ecs80(Outage(ctx.now, ctx.now), code, ctx.now)
        elif isinstance(dev, Chf) and code == 0x8F12 and not extra:
            spec = dev.cs14(ctx.now)
        if recipient is not None:
            spec = AlertSpec(spec.code, critical, recipient, spec.message_code, spec.extra)
        elif spec.critical != critical:
            spec = AlertSpec(spec.code, critical, spec.recipient, spec.message_code, spec.extra)
        before = len(ctx.outs)
        o = ctx.alert(spec)
        return {
            "code": _hex4(code),
            "name": ALERT_NAMES[code],
            "critical": spec.critical,
            "message_code": _hex4(o.code),
            "recipient": eui_hex(o.to).upper(),
            "counter": dev.own_counter,
            "forwarded": len(ctx.outs) > before,
        }

    return apply


# --------------------------------------------------------------------------- firmware


def _hold_firmware(ctx: _Ctx) -> Apply:
    has_image, has_hash = "image" in ctx.request, "hash" in ctx.request
    if has_image == has_hash:
        raise _err(
            "missing_field" if not has_image else "bad_field",
            "give exactly one of 'image' (the manufacturer image, hex) or 'hash' (its "
            "SHA-256, 64 hex digits)",
            "image",
        )
    version = _hex_field(ctx, "version", FIRMWARE_VERSION_SIZE)
    if has_image:
        held = HeldImage.from_image(_hex_field(ctx, "image"), version)
    else:
        held = HeldImage(_hex_field(ctx, "hash", 32), version)
    fw = ctx.device.firmware

    def apply() -> dict[str, Any]:
        fw.hold(held)
        return {
            "hash": held.image_hash.hex().upper(),
            "version": held.version.hex().upper(),
            "running_version": fw.running_version.hex().upper(),
        }

    return apply


# --------------------------------------------------------------------------- logs


def _logs(dev: Device) -> dict[str, DeviceLog]:
    out = {"event": dev.event_log, "security": dev.security_log}
    if isinstance(dev, Esme):
        out["power"] = dev.power_log
    return out


def _read_log(ctx: _Ctx) -> Apply:
    logs = _logs(ctx.device)
    name = _text_field(ctx, "log", tuple(logs))
    log = logs[name]

    def apply() -> dict[str, Any]:
        return {
            "log": name,
            "capacity": log.capacity,
            "entries": [
                {
                    "code": e.code,
                    "code_hex": _hex4(e.code),
                    "name": ALERT_NAMES.get(e.code, ""),
                    "at": None if e.at is None else e.at.isoformat(),
                    "detail": e.detail,
                }
                for e in log
            ],
        }

    return apply


# --------------------------------------------------------------------------- run on


MAX_RUN_ON_SECONDS = 400 * 86400
"""The longest stretch one ``run_on`` runs a premises through (a year of billing and more)."""


def _run_on(ctx: _Ctx) -> Apply:
    seconds = _int_field(ctx, "seconds", 1, MAX_RUN_ON_SECONDS)
    site, dev = ctx.site, ctx.device

    def apply() -> dict[str, Any]:
        host = ctx.now - site.lead  # Site.run_on takes caller time; ctx.now is premises time
        ctx.outs.extend(site.run_on(host, seconds))
        ctx.now = site.local(host)
        t = dev.device_time(ctx.now)
        return {
            "seconds": seconds,
            "lead_seconds": int(site.lead.total_seconds()),
            "device_time": None if t is None else t.isoformat(),
        }

    return apply


# --------------------------------------------------------------------------- reset


MAX_HISTORY_SECONDS = 31 * 86400
"""The longest history ``factory_reset`` runs a fresh device through (it is computed)."""


def _factory_reset(ctx: _Ctx) -> Apply:
    dev = ctx.device
    history = 0
    if "history_seconds" in ctx.request:
        history = _int_field(ctx, "history_seconds", 0, MAX_HISTORY_SECONDS)

    def apply() -> dict[str, Any]:
        _reset(ctx.site, dev, ctx.now, timedelta(seconds=history))
        _mirror(ctx)
        return {
            "device_type": ctx.kind,
            "eui": eui_hex(dev.eui).upper(),
            "own_counter": dev.own_counter,
            "running_version": dev.firmware.running_version.hex().upper(),
            "history_seconds": history,
        }

    return apply


def _reset(site: Site, dev: Device, now: datetime, history: timedelta = timedelta(0)) -> None:
    """``dev`` as a freshly built device of its class and configuration, except:

    * credentials are kept (own key pairs, certificates, trust anchors, the prepayment
      cell), without pending CS02c key pairs and future-dated credential updates: the
      device keeps the identity the bench's key store knows;
    * the own originator counter keeps rising (a receiver would discard a repeated one);
    * the site's physical state is kept: mains on or off, an outage's AD1 bookkeeping.

    The counters accepted from remote parties are cleared, as on a new device.

    With a ``history``, the fresh device is built at ``now - history`` and runs until
    ``now`` under its configured load or gas profile, alone (profile samples, daily
    snapshots, billing data and logs accrue as they would have); what it sent during
    that time is dropped. Then the kept parts above are put back.
    """
    creds = CredentialState.from_dict(dev.credentials.to_dict())
    creds.pending_keys.clear()
    creds.pending_updates.clear()
    anchors = TrustAnchors.from_dict(dev.anchors.to_dict())
    fresh = type(dev)(dev.config, dev.own, anchors, now=now - history)
    if history:
        fresh.advance(now)  # its frames were never sent: nobody was listening
    state = fresh.to_dict()
    state["own_counter"] = dev.own_counter
    state["credentials"] = creds.to_dict()
    if isinstance(dev, Esme):
        state["esme"]["power"] = dev.power.to_dict()
    if isinstance(dev, Chf):
        for key in ("power", "ad1_pending", "ad1_sent"):
            state["chf"][key] = dev.to_dict()["chf"][key]
    if isinstance(dev, Gsme) and dev.chf_eui is not None:
        state["gsme"]["chf_eui"] = eui_hex(dev.chf_eui)
    if isinstance(dev, DlmsDevice) and isinstance(fresh, DlmsDevice):
        # Values the control API set on non-writable attributes live in the model: take
        # the fresh model (load_state binds it to ``dev``).
        dev.model = fresh.model
    dev.load_state(state)
    if isinstance(dev, Esme):
        dev._now = now
        dev.on_supply_switched()


# --------------------------------------------------------------------------- status


def _get_status(ctx: _Ctx) -> Apply:
    dev = ctx.device

    def apply() -> dict[str, Any]:
        t = dev.device_time(ctx.now)
        held = dev.firmware.held
        out: dict[str, Any] = {
            "device_type": ctx.kind,
            "eui": eui_hex(dev.eui).upper(),
            "clock": {
                "time": None if t is None else t.isoformat(),
                "status": dev.clock.status.name.lower(),
            },
            "firmware": {
                "running_version": dev.firmware.running_version.hex().upper(),
                "held": None
                if held is None
                else {"hash": held.image_hash.hex().upper(), "version": held.version.hex().upper()},
            },
            "own_counter": dev.own_counter,
            "mains": "on" if _mains_on(ctx.site) else "off",
            "lead_seconds": int(ctx.site.lead.total_seconds()),
        }
        if isinstance(dev, Esme):
            out["supply"] = {0: "disabled", 1: "enabled", 2: "armed"}.get(dev.control_state, "?")
            out["import_wh"] = dev.load.import_wh
            out["export_wh"] = dev.load.export_wh
        if isinstance(dev, Gsme):
            out["supply"] = {0: "disabled", 1: "armed", 2: "enabled"}.get(
                dev.model.get_int_or(METERING, SUPPLY_STATUS, -1), "?"
            )
            out["litres"] = dev.flow.import_wh
        return out

    return apply


# --------------------------------------------------------------------------- table

OPS: Mapping[str, _Op] = MappingProxyType(
    {
        "get_cosem": _Op(("ESME", "CHF"), ("class_id", "obis", "attribute"), (), _get_cosem),
        "set_cosem": _Op(
            ("ESME", "CHF"), ("class_id", "obis", "attribute", "value"), (), _set_cosem
        ),
        "get_zcl": _Op(("GSME", "GPF"), ("cluster", "attribute"), (), _get_zcl),
        "set_zcl": _Op(("GSME", "GPF"), ("cluster", "attribute", "value"), (), _set_zcl),
        "set_load_profile": _Op(("ESME",), ("profile",), (), _set_load_profile),
        "set_gas_profile": _Op(("GSME",), ("profile",), (), _set_gas_profile),
        "power": _Op(("ESME", "CHF"), ("state",), (), _power),
        "tamper": _Op(("ESME", "GSME"), ("event",), ("state",), _tamper),
        "set_clock": _Op(ALL, ("time",), (), _set_clock),
        "run_on": _Op(ALL, ("seconds",), (), _run_on),
        "invalidate_clock": _Op(ALL, (), (), _invalidate_clock),
        "inject_alert": _Op(ALL, ("code",), ("detail", "critical", "recipient"), _inject_alert),
        "hold_firmware": _Op(
            ("ESME", "GSME", "CHF"), ("version",), ("image", "hash"), _hold_firmware
        ),
        "read_log": _Op(ALL, ("log",), (), _read_log),
        "factory_reset": _Op(ALL, (), ("history_seconds",), _factory_reset),
        "get_status": _Op(ALL, (), (), with_faults(_get_status)),
        "inject_fault": _Op(
            ALL, ("result",), ("message_code", "use_case", "item", "record", "times"), inject_fault
        ),
        "clear_faults": _Op(ALL, (), ("message_code", "use_case"), clear_faults),
    }
)
"""How each operation is checked and run (device types, fields, the preparer)."""

assert set(OPS) == set(CONTROL_OPS)

_WHY_NOT = {
    "GSME": "the GSME is battery powered and has no mains",
    "GPF": "the GPF is part of the Comms Hub: address the CHF",
}


def _request_id(request: Any) -> tuple[Any, ControlError | None]:
    if not isinstance(request, Mapping):
        kind = json_kind(request)
        return None, _err("bad_request", f"a control request is a JSON object, not {kind}")
    if "id" not in request:
        return None, _err("missing_field", "every request needs an 'id' (text or integer)", "id")
    rid = request["id"]
    if isinstance(rid, bool) or not isinstance(rid, str | int):
        return None, _bad("id", f"expected text or an integer, got {json_kind(rid)}")
    return rid, None


def _prepare(
    site: Site, target: bytes, request: Mapping[str, Any], now: datetime
) -> tuple[_Ctx, Apply]:
    op_name = request.get("op")
    if op_name is None:
        raise _err("missing_field", f"'op' is required: one of {', '.join(OPS)}", "op")
    if not isinstance(op_name, str) or op_name not in OPS:
        raise _err(
            "unknown_op", f"unknown op {json_kind(op_name)}; expected one of {', '.join(OPS)}", "op"
        )
    op = OPS[op_name]
    dev = site.device(bytes(target)) if isinstance(target, bytes | bytearray) else None
    if dev is None:
        shown = (
            eui_hex(bytes(target))
            if isinstance(target, bytes | bytearray) and len(target) == 8
            else repr(target)
        )
        raise _err("unknown_device", f"no device {shown} at this site")
    kind = dev.device_type.value
    if kind not in op.devices:
        why = _WHY_NOT.get(kind, "") if op_name == "power" else ""
        raise _err(
            "wrong_device",
            f"{op_name} applies to {', '.join(op.devices)}, not to the {kind}"
            + (f" ({why})" if why else ""),
        )
    allowed = {"id", "op", *op.required, *op.optional}
    for k in request:
        if k not in allowed:
            fields = ", ".join(sorted(allowed - {"id", "op"})) or "none"
            raise _err(
                "unknown_field", f"{op_name} has no field {k!r} (its fields: {fields})", str(k)
            )
    for k in op.required:
        if k not in request:
            raise _err("missing_field", f"{op_name} needs the field {k!r}", k)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise _err("internal", "execute_control needs an aware 'now'")
    # Devices see premises time (the caller's plus the site's run_on lead).
    ctx = _Ctx(site, dev, request, site.local(now))
    return ctx, op.prepare(ctx)


def _touch(dev: Device, now: datetime) -> None:
    """What a DLMS device's bound getters read as 'now' (receive() sets it for commands)."""
    if isinstance(dev, DlmsDevice):
        dev._now = now


def execute_control(site: Site, target: bytes, request: Any, now: datetime) -> ControlResult:
    """Run one control request against ``site`` for the device ``target`` (its EUI).

    Never raises for bad input: the reply says ``ok: false`` with the error, and the site
    is unchanged. See the module docstring and docs/control.md.
    """
    rid, problem = _request_id(request)
    if problem is not None:
        return ControlResult({"id": rid, "ok": False, "error": problem.to_json()})
    try:
        ctx, apply = _prepare(site, target, request, now)
    except ControlError as e:
        return ControlResult({"id": rid, "ok": False, "error": e.to_json()})
    before = {d.device_type.value: d.to_dict() for d in site.devices}
    saved = {d.device_type.value: d.snapshot_state() for d in site.devices}
    site_saved = (site._cuts_applied, list(site._pending_restores), site.lead)
    try:
        ctx.outs.extend(site.advance(now))
        _touch(ctx.device, ctx.now)
        result = apply()
    except Exception as e:  # roll back: a request either happens whole or not at all
        for d in site.devices:
            d.load_state(saved[d.device_type.value])
        site._cuts_applied, site._pending_restores, site.lead = site_saved
        err = e if isinstance(e, ControlError) else _err("internal", f"{type(e).__name__}: {e}")
        return ControlResult({"id": rid, "ok": False, "error": err.to_json()})
    changed = frozenset(
        d.device_type.value for d in site.devices if d.to_dict() != before[d.device_type.value]
    )
    return ControlResult({"id": rid, "ok": True, "result": result}, ctx.outs, changed)
