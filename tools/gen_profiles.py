"""Regenerate the COSEM device profiles devices/profiles/esme.json and chf.json.

Dev-time only: the package never reads the interop data at run time. The object list,
attribute ids, writable attributes, methods and the A-XDR *type trees* come from the DCC
RTDS 4.5.0 command/response pairs in ``vectors.json`` (ids ``…_COMMAND`` /
``…_RESPONSE``, ``form == "full"``, ``device_type`` ``"ESME"`` or ``"CHF"``, DLMS
payloads only):

* GET / GET-with-selection: the object, the attribute and the type of the value in a
  successful response;
* SET: the object, the attribute (made writable) and the type of the written value;
* ACTION: the object and the method; for data-protection (class 30) method 1
  ``get_protected_attributes`` also every object in the request's list, typed from the
  decrypted response (the Supplier's and Network Operator's KA private keys are public
  test keys).

Values are neutral factory defaults, never the RTDS values (see :func:`neutral`):
integers 0, booleans false, enums the lowest value seen, bit-strings zero bits of the
same length, octet-strings of the same length (12 bytes: COSEM date-time "not
specified"; 5 bytes: date "not specified"; a 6-byte logical-name reference — last byte
0xFF or all zero — is kept, as is a one-byte identifier inside a table; printable ASCII
text becomes blanks, digits ``0``; anything else zero bytes), visible/UTF-8 strings
empty (UTF-8 JSON state ``{}``), arrays keep the RTDS element count and structure.
Kept as in RTDS because they are constants: register scaler_units ``{integer, enum}``,
charge scalings ``{integer, integer}`` and charge commodity references
``{class, logical name, attribute}``. Explicit factory values (:data:`OVERRIDES`):
the max-demand schedule (domain-rules §1.1/§1.4, Table 28d), tariff block thresholds
(0xFFFFFFFF = no block boundary), the firmware version, log buffers, the manufacturer
identifier (:data:`UNPADDED_TEXT`) and the ESME's auxiliary controller fit
(:data:`AUX_CONTROLLER_FIT`), whose five identity objects are writable (ECS46c).

Log and profile buffers (class 7 attribute 2) default to an *empty compact-array* whose
type description is the RTDS entry type: the device binds them to its logs at run time,
and an unbound read still has the RTDS type. The entry type is also written in the
object's ``name``. The CHF device-log list (class 104 attribute 4) defaults to an empty
array for the same reason (entry type in ``name``).

Run: ``python tools/gen_profiles.py [INTEROP_DIR] [--out DIR] [--check]``. INTEROP_DIR
defaults to ``$GBCS_INTEROP_DIR`` or ``../shared/interop``; ``--check`` compares with the
committed files instead of writing them (exit status 1 when they differ).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from devices.cosem import same_type  # noqa: E402
from gbcs.axdr import (  # noqa: E402
    BitString,
    CompactArray,
    Data,
    DataType,
    encode_data,
)
from gbcs.codec import decode  # noqa: E402
from gbcs.dlms import (  # noqa: E402
    AccessRequest,
    AccessResponse,
    ActionSpec,
    GetProtectedAttributesRequest,
    GetSpec,
    GetWithSelectionSpec,
    Obis,
    ProtectedAttributes,
    SetSpec,
    SetWithSelectionSpec,
)
from gbcs.security import decode_plaintext, decrypt_parts  # noqa: E402
from gbcs.usecases import by_name, lookup  # noqa: E402
from keys.store import KeyStore  # noqa: E402

PROFILES = {"esme": "ESME", "chf": "CHF"}
"""Profile file stem -> RTDS ``device_type``."""

DATA_PROTECTION_CLASS = 30
PROFILE_CLASS = 7
DEVICE_LOG_CLASS = 104

DATE_TIME_NOT_SPECIFIED = bytes.fromhex("FFFFFFFFFFFFFFFFFF8000FF")
DATE_NOT_SPECIFIED = bytes.fromhex("FFFFFFFFFF")
FIRMWARE_VERSION = bytes.fromhex("01000000")
"""Plausible factory firmware version (octet-string(4), GBCS ECS52): "1.0.0.0"."""
NO_THRESHOLD = 0xFFFFFFFF

# Auxiliary controller n (n = 1..5) is described by 0-0:94.44.0.(20+n) attribute 2, an
# octet-string. DUIS SR 7.15 (ReadAuxiliaryControllerOperationalDataRsp, TypeAndIdentifier)
# reads it as one of four types, APC, ALCS, HCALCS or None, with the HCALCS's EUI-64;
# ECS46c (DUIS SwitchTypeAndId) writes an ALCS as eight zero octets and an HCALCS as its
# EUI-64. RTDS ECS61e (SR 7.15) shows the four forms side by side: an EUI-64, eight zero
# octets, the single octet FF and an empty octet-string, with matching states in
# 0-0:94.44.0.3n (switch 4's state is "{}": nothing fitted). So FF is an APC and the empty
# string is no controller.
AUX_CONTROLLER_IDENTITY: dict[str, bytes] = {"alcs": bytes(8), "apc": b"\xff", "none": b""}
AUX_CONTROLLER_FIT: tuple[str, ...] = ("alcs", "alcs", "apc", "none", "alcs")
"""The factory ESME's auxiliary controllers 1..5: the fit RTDS ECS61e (SR 7.15) reads
(controller 1 is an HCALCS there; a factory ESME has joined no HCALCS, so it is an ALCS
until ECS46c says otherwise). ECS61a reads the older view of the same objects (eight zero
octets for 3-5, a device before APCs): the two RTDS reads cannot both be matched."""

UNPADDED_TEXT: frozenset[tuple[str, str]] = frozenset(
    {("ESME", "0-0:96.1.6.255"), ("CHF", "0-0:96.1.6.255")}
)
"""Text identifiers whose length is the identifier's (DUIS ManufacturerIdentifier: a
string of up to 32 characters). RTDS shows the manufacturer identifier as "CSW" (ECS26e,
ECS26i) and as the same three letters space-padded to four (ECS26m, ECS26n); a device
holds one identifier, the unpadded one. The factory value is blanks of that length."""

SOURCE = (
    "Objects, attribute ids, writable attributes, methods and A-XDR type trees: every "
    "COSEM object the DCC RTDS 4.5.0 {dev} DLMS commands in shared/interop/vectors.json "
    "(SmartDCCInnovation/gbcs-parser test/rtds) address with GET, SET or ACTION, including "
    "the objects listed in class-30 get_protected_attributes requests (typed from the "
    "decrypted responses){extra}. Values are neutral FACTORY DEFAULTS, not the RTDS "
    "values; constants kept (scaler_units, charge scalings, logical-name references) "
    "and explicit defaults ({defaults}) are documented in tools/gen_profiles.py, which "
    "regenerates this file. Log buffers (class 7 attribute 2) are empty compact-arrays "
    "of the RTDS entry type, bound to the device logs at run time."
)
EXPLICIT_DEFAULTS = {
    "ESME": "max-demand schedule = GBCS Table 28d, domain-rules 1.1/1.4, switch times "
    "16:00/19:30 UTC placeholders; tariff block thresholds 0xFFFFFFFF; firmware version "
    "01000000; manufacturer identifier 3 blanks (unpadded RTDS length); auxiliary "
    "controllers 1-5 ALCS, ALCS, APC, none, ALCS (DUIS SR 7.15 types, RTDS ECS61e), "
    "all five writable (ECS46c)",
    "CHF": "firmware version 01000000; device log entries (class 104 attribute 4) empty, "
    "bound at run time; manufacturer identifier 3 blanks (unpadded RTDS length)",
}
EXTRA_SOURCE = {
    "CHF": "; plus the firmware version 0-0:0.2.1.255 that ECS52 reads on the CHF "
    "(domain-rules 4.1, 4.4; the RTDS ECS52 vector targets the ESME)",
}

# Names: the SMETS/GBCS name where it can be told. Sources: the independent parser's
# annotations in vectors-parsed.jsonl (gbcs-parser src/dlms.ts), the use-case titles
# (gbcs.usecases) and shared/reference/domain-rules.md. Objects not listed go unnamed,
# except data-protection objects, named after the use case that reads through them.
_COMMON_NAMES: dict[str, str] = {
    "0-0:0.2.1.255": "Firmware Version",
    "0-0:96.1.1.255": "Device ID (EUI-64, set by the device at run time)",
    "0-0:96.1.4.255": "Model Type (DUIS ModelType, up to 8 characters)",
    "0-0:96.1.6.255": "Manufacturer Identifier (DUIS ManufacturerIdentifier; unpadded, "
    "3 characters as RTDS ECS26e/ECS26i show)",
}
NAMES: dict[str, dict[str, str]] = {
    "ESME": {
        **_COMMON_NAMES,
        "0-0:1.0.0.255": "Clock",
        "0-0:10.0.100.255": "Tariff Block Counter Matrix TOU (reset script)",
        "0-0:10.0.106.255": "Load Switch control script table (ECS42/43/44)",
        "0-0:10.0.103.255": "HC ALCS / ALCS state script table (ECS47)",
        "0-0:10.0.107.255": "APC level script table (ECS47e)",
        "0-0:11.0.0.255": "Tariff Switching Table Special Days",
        "0-0:11.0.1.255": "Tariff Switching Table Secondary Element Special Days",
        "0-0:11.0.2.255": "Non-Disablement Calendar Special Days",
        "0-0:11.0.3.255": "Auxiliary Controller Calendar Special Days",
        "0-1:11.0.0.255": "Tariff Switching Table Special Days (written by ECS01a)",
        "0-1:11.0.1.255": "Tariff Switching Table Secondary Element Special Days "
        "(written by ECS01c)",
        "0-1:11.0.2.255": "Non-Disablement Calendar Special Days (written by ECS08)",
        "0-1:11.0.3.255": "Auxiliary Controller Calendar Special Days (written by ECS46c/d)",
        "0-0:12.0.0.255": "MaximumDemandConfigurableTimePeriod (GBCS Table 28d factory "
        "default; switch times 16:00/19:30 UTC are placeholders)",
        "0-0:12.0.1.255": "Non-Disablement Calendar",
        "0-0:12.0.2.255": "Auxiliary Controller Calendar",
        "0-1:12.0.1.255": "Non-Disablement Calendar (written by ECS08)",
        "0-1:12.0.2.255": "Auxiliary Controller Calendar (written by ECS46c/d)",
        "0-0:13.0.0.255": "Tariff Switching Table",
        "0-0:13.0.1.255": "Tariff Switching Table Secondary Element",
        "0-0:15.0.0.255": "Billing Calendar",
        "0-0:15.1.0.255": "Tariff Block Counter Matrix daily reset schedule (ECS48)",
        "0-0:16.0.0.255": "Instantaneous Power Threshold Configuration",
        "0-0:17.0.0.255": "Load Limit (limiter)",
        "0-0:19.0.0.255": "Account (payment mode, ECS26a/ECS26j)",
        "0-0:19.10.0.255": "Meter Balance",
        "0-0:19.10.1.255": "Emergency Credit Balance",
        "0-0:19.10.2.255": "Accumulated Debt Register",
        "0-0:19.20.0.255": "Tariff Block Price Matrix TOU",
        "0-0:19.20.1.255": "Debt Recovery Rates 1",
        "0-0:19.20.2.255": "Debt Recovery Rates 2",
        "0-0:19.20.3.255": "Debt Recovery per Payment",
        "0-0:19.20.4.255": "Standing Charge",
        "0-0:19.20.5.255": "Secondary Tariff TOU Price Matrix",
        "0-0:19.40.0.255": "Prepayment Credit (top-up token gateway)",
        "0-0:63.1.1.255": "Tariff Threshold Matrix (activation)",
        "0-0:94.44.0.1": "Randomised Offset Limit",
        **{
            f"0-0:94.44.0.{20 + n}": f"Auxiliary controller {n} type and identifier "
            f"(factory fit: {AUX_CONTROLLER_FIT[n - 1]}; written by ECS46c)"
            for n in range(1, 6)
        },
        "0-0:94.44.0.4": "Supply Tamper State",
        "0-0:94.44.2.0": "Currency Unit",
        "0-0:94.44.2.10": "Prepayment Credit Max Credit Threshold",
        "0-0:94.44.2.20": "Prepayment Credit Max Meter Balance",
        "0-0:94.44.3.1": "Disable Privacy PIN Protection",
        "0-0:94.44.3.2": "Restrict Data Date Time (change of tenancy)",
        "0-0:94.44.5.0": "dateTimeOfLastReset (windowed import maximum demand)",
        "0-0:94.44.5.1": "dateTimeOfLastReset (all-day import maximum demand)",
        "0-0:94.44.5.2": "dateTimeOfLastReset (export maximum demand)",
        "0-0:94.44.34.1": "Tariff TOU Register Collection (ECS17d)",
        "0-0:94.44.34.2": "Tariff Block TOU Register Collection (ECS17e)",
        "0-0:94.44.34.10": "Import Register Collection (ECS17b)",
        "0-0:94.44.34.11": "MPAN (import)",
        "0-0:94.44.34.20": "Power Import Collection",
        "0-0:94.44.34.30": "Prepayment Register Collection (ECS19)",
        "0-0:94.44.42.255": "Load Limit Counter",
        "0-0:94.44.128.2": "Emergency Credit Limit",
        "0-0:94.44.128.3": "Emergency Credit Threshold",
        "0-0:94.44.128.9": "Low Credit Threshold",
        "0-0:94.44.128.12": "Debt Recovery Rate Cap Amount",
        "0-0:94.44.128.13": "Debt Recovery Rate Cap Period",
        "0-0:94.44.128.22": "Disablement Threshold Meter Balance",
        "0-0:94.44.128.28": "Non-Disablement Calendar (activation)",
        "0-0:94.44.128.29": "Tariff Switching Table Special Days (activation)",
        "0-0:94.44.128.30": "Tariff Switching Table Secondary Element Special Days (activation)",
        "0-0:94.44.128.31": "Non-Disablement Calendar Special Days (activation)",
        "0-0:96.1.2.255": "Device identity item (ECS26e/ECS26m)",
        "0-0:96.13.0.255": "Contact Details Supplier Telephone Number",
        "0-0:96.13.1.255": "Contact Detail Supplier Name",
        "0-2:96.13.1.255": "Supplier Message",
        "0-3:96.13.1.255": "Customer Identification Number (CIN)",
        "0-0:96.3.10.255": "Load Switch (supply disconnect control)",
        "0-1:96.3.10.255": "HC ALCS / ALCS 1 switch",
        "0-2:96.3.10.255": "HC ALCS / ALCS 2 switch",
        "0-3:96.3.10.255": "HC ALCS / ALCS 3 switch",
        "0-4:96.3.10.255": "HC ALCS / ALCS 4 switch",
        "0-5:96.3.10.255": "HC ALCS / ALCS 5 switch",
        "0-1:19.0.0.255": "SuspendDebtDisabled / SuspendDebtEmergency / Payment Mode",
        "0-0:98.1.0.255": "Billing Data Log (billing calendar triggered)",
        "0-0:98.1.1.255": "Billing Data Log prepayment registers (billing calendar triggered)",
        "0-0:98.1.2.255": "Billing Data Log (change of mode / tariff triggered)",
        "0-0:98.1.4.255": "Billing Data Log (payment based debt payments)",
        "0-0:98.1.5.255": "Billing Data Log (prepayment credits)",
        "0-0:98.1.8.255": "Daily Read Log (prepayment)",
        "0-0:98.1.9.255": "Daily Read Log",
        "0-0:98.1.10.255": "Daily Read Log (export)",
        "0-0:99.1.0.255": "Half Hour Profile Data (active import)",
        "0-0:99.1.1.255": "Half Hour Profile Data (export)",
        "0-0:99.1.2.255": "Half Hour Profile Data (reactive import)",
        "0-0:99.1.3.255": "Daily Consumption Log",
        "0-0:99.98.0.255": "Event Log",
        "0-0:99.98.1.255": "Security Log",
        "0-0:99.98.4.255": "Power Event Log",
        "0-0:99.98.20.255": "Boost Button Data Log (ECS61c)",
        "0-17:99.98.2.255": "Auxiliary Load Control Switch Event Log",
        "1-0:0.0.2.255": "Export MPAN",
        "1-0:1.6.0.255": "MaximumDemandActiveEnergyImportValue (all day)",
        "1-0:1.6.1.255": "MaximumDemandConfigurableTimeActivePowerImportValue (window)",
        "1-0:2.6.0.255": "MaximumDemandActivePowerExportValue",
        "1-0:2.8.0.255": "Active Export Register",
        "1-0:4.8.0.255": "Reactive Export Register",
        "1-0:32.24.0.255": "Average RMS Voltage profile (phase 1)",
        "1-0:52.24.0.255": "Average RMS Voltage profile (phase 2)",
        "1-0:72.24.0.255": "Average RMS Voltage profile (phase 3)",
    },
    "CHF": {
        **_COMMON_NAMES,
        "0-0:30.3.0.255": "CHF Device Log",
        "0-0:94.44.10.0": "Sub GHz Configuration Settings",
        "0-0:94.44.10.1": "CHF Sub GHz Channel Scan",
        "0-0:94.44.10.2": "Operating Sub GHz Channel",
        "0-0:94.44.10.3": "CHF Sub GHz Channel Log",
        "0-0:99.98.0.255": "CHF Event Log",
        "0-0:99.98.1.255": "CHF Security Log",
    },
}


# ---------------------------------------------------------------------------------------
# collection
# ---------------------------------------------------------------------------------------


@dataclass
class Attr:
    """What RTDS shows of one attribute: typed samples (responses first, then SETs)."""

    samples: list[Data] = field(default_factory=list)
    set_samples: list[Data] = field(default_factory=list)

    def all_samples(self) -> list[Data]:
        return self.samples + self.set_samples


@dataclass
class Obj:
    """One COSEM object as RTDS uses it."""

    class_id: int
    obis: Obis
    attrs: dict[int, Attr] = field(default_factory=dict)
    writable: set[int] = field(default_factory=set)
    methods: set[int] = field(default_factory=set)
    cases: set[str] = field(default_factory=set)

    def attr(self, a: int) -> Attr:
        return self.attrs.setdefault(a, Attr())


Key = tuple[int, bytes]


def interop_dir(arg: str | None = None) -> Path:
    """The interop directory: the argument, else ``$GBCS_INTEROP_DIR``, else the default."""
    if arg:
        return Path(arg)
    env = os.environ.get("GBCS_INTEROP_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "interop"


def rtds_pairs(
    vectors: Iterable[dict[str, Any]], device_type: str
) -> list[tuple[str, bytes, bytes]]:
    """``(prefix, command bytes, response bytes)`` of RTDS full-form pairs for a device."""
    by_id = {v["id"]: v for v in vectors}
    out = []
    for vid, v in by_id.items():
        if v.get("form") != "full" or v.get("device_type") != device_type:
            continue
        if not vid.endswith("_COMMAND"):
            continue
        prefix = vid[: -len("_COMMAND")]
        rsp = by_id.get(prefix + "_RESPONSE")
        if rsp is None:
            continue
        out.append((prefix, bytes.fromhex(v["hex"]), bytes.fromhex(rsp["hex"])))
    return out


def _obj(objs: dict[Key, Obj], class_id: int, obis: Obis) -> Obj:
    key = (class_id, obis.to_bytes())
    found = objs.get(key)
    if found is None:
        found = objs[key] = Obj(class_id, obis)
    return found


def collect(vectors: Iterable[dict[str, Any]], keys: KeyStore, device_type: str) -> dict[Key, Obj]:
    """Every object the device type's RTDS DLMS commands address, with typed samples."""
    objs: dict[Key, Obj] = {}
    for prefix, cmd_raw, rsp_raw in rtds_pairs(vectors, device_type):
        cmd = decode(cmd_raw)
        if not isinstance(cmd.payload, AccessRequest):
            continue
        rsp = decode(rsp_raw)
        req = cmd.payload
        resp = rsp.payload if isinstance(rsp.payload, AccessResponse) else None
        plaintexts = (
            [decode_plaintext(p) for p in decrypt_parts(rsp, keys) if p.plaintext is not None]
            if resp is not None
            else []
        )
        uc = lookup(cmd.message_code)
        case = uc.name if uc else prefix.rsplit("/", 1)[-1]
        for i, spec in enumerate(req.specs):
            o = _obj(objs, spec.class_id, spec.obis)
            o.cases.add(case)
            ok = resp is not None and i < len(resp.results) and resp.results[i].result == 0
            got = resp.data[i] if ok and resp is not None and i < len(resp.data) else None
            value = req.data[i] if i < len(req.data) else None
            if isinstance(spec, GetSpec | GetWithSelectionSpec):
                o.attr(spec.attribute)
                if got is not None and got.tag != DataType.NULL_DATA:
                    o.attr(spec.attribute).samples.append(got)
            elif isinstance(spec, SetSpec | SetWithSelectionSpec):
                o.writable.add(spec.attribute)
                if value is not None:
                    o.attr(spec.attribute).set_samples.append(value)
            elif isinstance(spec, ActionSpec):
                o.methods.add(spec.method)
                if spec.class_id != DATA_PROTECTION_CLASS or spec.method != 1 or value is None:
                    continue
                gpa = GetProtectedAttributesRequest.from_data(value)
                if gpa is None:
                    continue
                plain = None
                if got is not None and ProtectedAttributes.from_data(got) is not None:
                    plain = plaintexts.pop(0) if plaintexts else None
                for j, po in enumerate(gpa.objects):
                    t = _obj(objs, po.class_id, po.obis)
                    t.cases.add(case)
                    t.attr(po.attribute)
                    if isinstance(plain, Data) and j < len(plain.value):
                        t.attr(po.attribute).samples.append(plain.value[j])
    return objs


# ---------------------------------------------------------------------------------------
# neutral factory values
# ---------------------------------------------------------------------------------------

Path_ = tuple[int | str, ...]


def _enum_minima(samples: Iterable[Data]) -> dict[Path_, int]:
    """Lowest enum value per position (array indices collapsed to ``*``)."""
    out: dict[Path_, int] = {}

    def walk(d: Data, path: Path_) -> None:
        if d.tag == DataType.ENUM:
            out[path] = min(out.get(path, d.value), d.value)
        elif d.tag == DataType.ARRAY:
            for x in d.value:
                walk(x, (*path, "*"))
        elif d.tag == DataType.STRUCTURE:
            for k, x in enumerate(d.value):
                walk(x, (*path, k))

    for s in samples:
        walk(s, ())
    return out


def _is_logical_name(v: bytes) -> bool:
    return len(v) == 6 and (v[5] == 0xFF or v == bytes(6))


def _is_text(v: bytes) -> bool:
    return bool(v) and all(0x20 <= b < 0x7F for b in v)


def _blank_text(v: bytes) -> bytes:
    return bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in v)


def _is_scaler_unit(d: Data) -> bool:
    return (
        d.tag == DataType.STRUCTURE
        and len(d.value) == 2
        and d.value[0].tag == DataType.INTEGER
        and d.value[1].tag in (DataType.ENUM, DataType.INTEGER)
    )


def _is_object_reference(d: Data) -> bool:
    return (
        d.tag == DataType.STRUCTURE
        and len(d.value) == 3
        and d.value[0].tag == DataType.LONG_UNSIGNED
        and d.value[1].tag == DataType.OCTET_STRING
        and _is_logical_name(d.value[1].value)
        and d.value[2].tag == DataType.INTEGER
    )


_ZERO_INT = frozenset(
    {
        DataType.DOUBLE_LONG,
        DataType.DOUBLE_LONG_UNSIGNED,
        DataType.INTEGER,
        DataType.LONG,
        DataType.UNSIGNED,
        DataType.LONG_UNSIGNED,
        DataType.LONG64,
        DataType.LONG64_UNSIGNED,
        DataType.BCD,
    }
)


def neutral(d: Data, enums: dict[Path_, int] | None = None, path: Path_ = ()) -> Data:
    """``d``'s type tree with neutral factory values (rules in the module docstring)."""
    enums = enums or {}
    tag = d.tag
    if tag == DataType.STRUCTURE:
        if _is_scaler_unit(d) or _is_object_reference(d):
            return d
        return Data.structure(*(neutral(x, enums, (*path, k)) for k, x in enumerate(d.value)))
    if tag == DataType.ARRAY:
        return Data.array(*(neutral(x, enums, (*path, "*")) for x in d.value))
    if tag == DataType.COMPACT_ARRAY:
        return Data.compact_array(CompactArray(d.value.type_description, b""))
    if tag in _ZERO_INT:
        return Data(tag, 0)
    if tag == DataType.BOOLEAN:
        return Data.boolean(False)
    if tag == DataType.ENUM:
        return Data.enum(enums.get(path, d.value))
    if tag == DataType.BIT_STRING:
        n = d.value.length
        return Data.bit_string(BitString(n, bytes((n + 7) // 8)))
    if tag == DataType.OCTET_STRING:
        return Data.octet_string(_neutral_octets(d.value, inside=bool(path)))
    if tag == DataType.VISIBLE_STRING:
        return Data.visible_string("")
    if tag == DataType.UTF8_STRING:
        return Data(tag, "{}" if d.value.startswith("{") else "")
    return d  # null-data, don't-care, floats, dates: none occur in the RTDS ESME/CHF data


def _neutral_octets(v: bytes, *, inside: bool) -> bytes:
    if _is_logical_name(v) or (inside and len(v) == 1):
        return v  # object references and table identifiers (week names, price indices)
    if _is_text(v):
        return _blank_text(v)
    if len(v) == 12:
        return DATE_TIME_NOT_SPECIFIED
    if len(v) == 5:
        return DATE_NOT_SPECIFIED
    return bytes(len(v))


def _encoded_len(d: Data) -> int:
    return len(encode_data(d))


def richest(samples: list[Data]) -> Data:
    """The sample to take the default's structure from: the longest encoding, first wins."""
    best = samples[0]
    for s in samples[1:]:
        if _encoded_len(s) > _encoded_len(best):
            best = s
    return best


# ---------------------------------------------------------------------------------------
# explicit factory values
# ---------------------------------------------------------------------------------------


def _md_entry(index: int, selector: int, hour: int, minute: int) -> Data:
    return Data.structure(
        Data.long_unsigned(index),
        Data.boolean(True),
        Data.octet_string(bytes.fromhex("00000A8064FF")),
        Data.long_unsigned(selector),
        Data.octet_string(bytes((hour, minute, 0, 0))),
        Data.long_unsigned(0xFFFF),
        Data.bit_string(BitString(7, b"\xfe")),
        Data.bit_string(BitString(0, b"")),
        Data.octet_string(bytes.fromhex("000001FFFF")),
        Data.octet_string(bytes.fromhex("FFFFFFFFFF")),
    )


def _md_schedule(_: Data) -> Data:
    """Table 28d (domain-rules §1.1/§1.4): entries 1 (start, selector 1) and 2 (end)."""
    return Data.array(_md_entry(1, 1, 16, 0), _md_entry(2, 2, 19, 30))


def _no_thresholds(sample: Data) -> Data:
    return Data.array(*(Data.double_long_unsigned(NO_THRESHOLD) for _ in sample.value))


def _firmware(_: Data) -> Data:
    return Data.octet_string(FIRMWARE_VERSION)


def _empty_list(_: Data) -> Data:
    return Data.array()


Override = Callable[[Data], Data]
OVERRIDES: dict[tuple[str, int, str, int], Override] = {
    ("ESME", 10, "0-0:12.0.0.255", 2): _md_schedule,
    ("ESME", 1, "0-0:0.2.1.255", 2): _firmware,
    ("CHF", 1, "0-0:0.2.1.255", 2): _firmware,
    # 0xFFFFFFFF = no block boundary: a factory ESME has a single block (RTDS shows the
    # same value for every unused threshold).
    **{
        ("ESME", 21, f"0-0:16.{b}.{t}.255", 2): _no_thresholds
        for b in (0, 1)
        for t in range(11, 19)
    },
    # The CHF device log starts empty; entries come from CCS01/CCS03 at run time.
    ("CHF", DEVICE_LOG_CLASS, "0-0:30.3.0.255", 4): _empty_list,
}

# ECS46c configures any of the five auxiliary controllers (DUIS SwitchTypeAndId index
# 1..5); RTDS's ECS46c happens to write only 1 and 2.
OVERRIDES.update(
    {
        ("ESME", 1, f"0-0:94.44.0.{20 + n}", 2): (
            lambda _, fit=fit: Data.octet_string(AUX_CONTROLLER_IDENTITY[fit])
        )
        for n, fit in enumerate(AUX_CONTROLLER_FIT, start=1)
    }
)
EXTRA_WRITABLE: dict[tuple[str, int, str], set[int]] = {
    ("ESME", 1, f"0-0:94.44.0.{20 + n}"): {2} for n in range(1, 6)
}
"""Writable attributes GBCS gives an object beyond those the RTDS commands write."""

EXTRA_OBJECTS: dict[str, list[tuple[int, str, int, Data]]] = {
    # ECS52 reads the CHF firmware version too (domain-rules §4.1, §6 behaviour 39).
    "CHF": [(1, "0-0:0.2.1.255", 2, Data.octet_string(bytes(4)))],
}


# ---------------------------------------------------------------------------------------
# profile documents
# ---------------------------------------------------------------------------------------


def _default(device_type: str, o: Obj, a: int, attr: Attr) -> Data | None:
    pool = attr.samples or attr.set_samples
    if not pool:
        return None
    sample = richest(pool)
    override = OVERRIDES.get((device_type, o.class_id, str(o.obis), a))
    if override is not None:
        return override(sample)
    if (device_type, str(o.obis)) in UNPADDED_TEXT:
        shortest = min((s.value.rstrip(b" ") for s in pool), key=len)
        return Data.octet_string(_blank_text(shortest))
    # Written but never read: text whose length is a value (supplier name, message, CIN)
    # must not pin SETs to the RTDS length (cosem.same_type pins 4/5/12 bytes).
    if not attr.samples and all(s.tag == DataType.OCTET_STRING and _is_text(s.value) for s in pool):
        return Data.octet_string(b"")
    value = neutral(sample, _enum_minima(attr.all_samples()))
    if not attr.samples and not all(same_type(value, s) for s in attr.set_samples):
        # RTDS writes it with different types and never reads it: no factory value, so
        # every RTDS SET succeeds (cosem accepts any type for an attribute with no value).
        return None
    return value


def _name(device_type: str, o: Obj, attrs: dict[int, Data]) -> str:
    name = NAMES[device_type].get(str(o.obis), "")
    if o.class_id == DATA_PROTECTION_CLASS:
        titles = sorted(uc.label for uc in (by_name(c) for c in o.cases) if uc is not None)
        name = "Data protection for " + "; ".join(titles) if titles else name
    buf = attrs.get(2)
    if o.class_id == PROFILE_CLASS and buf is not None and buf.tag == DataType.COMPACT_ARRAY:
        note = (
            "buffer bound to the device log at run time; RTDS entry type "
            f"compact-array of {buf.value.type_description}"
        )
        name = f"{name}; {note}" if name else note
    if o.class_id == DEVICE_LOG_CLASS and 4 in attrs and attrs[4].tag == DataType.ARRAY:
        note = "attribute 4 bound to the device log at run time; RTDS entry type " + _type_text(
            o.attrs[4].samples[0].value[0] if o.attrs[4].samples else None
        )
        name = f"{name}; {note}" if name else note
    for a in sorted(o.writable - set(attrs)):
        kinds = sorted({_type_text(s) for s in o.attrs[a].set_samples})
        note = (
            f"attribute {a} has no factory value: RTDS ({', '.join(sorted(o.cases))}) "
            "writes it as " + " and as ".join(kinds)
        )
        name = f"{name}; {note}" if name else note
    return name


def _type_text(d: Data | None) -> str:
    if d is None:
        return "unknown"
    if d.tag == DataType.STRUCTURE:
        return "structure{" + ", ".join(_type_text(x) for x in d.value) + "}"
    if d.tag == DataType.ARRAY:
        return "array of " + (_type_text(d.value[0]) if d.value else "?")
    if d.tag == DataType.OCTET_STRING:
        return f"octet-string({len(d.value)})"
    if d.tag == DataType.BIT_STRING:
        return f"bit-string({d.value.length})"
    return str(DataType(d.tag).name).lower().replace("_", "-")


def build_profile(objs: dict[Key, Obj], device_type: str) -> dict[str, Any]:
    """The profile document (``cosem.load_profile`` format) for one device type."""
    entries: list[dict[str, Any]] = []
    objs = dict(objs)
    extra = {
        (cid, Obis.parse(obis).to_bytes()): (a, v)
        for cid, obis, a, v in EXTRA_OBJECTS.get(device_type, [])
    }
    for key, (a, v) in extra.items():
        if key not in objs:
            o = objs[key] = Obj(key[0], Obis.from_bytes(key[1]))
            o.attr(a).samples.append(v)
    for key in sorted(objs, key=lambda k: (k[1], k[0])):
        o = objs[key]
        o.writable |= EXTRA_WRITABLE.get((device_type, o.class_id, str(o.obis)), set())
        attrs: dict[int, Data] = {}
        for a in sorted(o.attrs):
            d = _default(device_type, o, a, o.attrs[a])
            if d is not None:
                attrs[a] = d
        entry: dict[str, Any] = {"class": o.class_id, "obis": str(o.obis)}
        if attrs:
            entry["attributes"] = {str(a): encode_data(d).hex() for a, d in attrs.items()}
        if o.writable:
            entry["writable"] = sorted(o.writable)
        if o.methods:
            entry["methods"] = sorted(o.methods)
        name = _name(device_type, o, attrs)
        if name:
            entry["name"] = name
        entries.append(entry)
    return {
        "source": SOURCE.format(
            dev=device_type,
            extra=EXTRA_SOURCE.get(device_type, ""),
            defaults=EXPLICIT_DEFAULTS[device_type],
        ),
        "objects": entries,
    }


def build_all(directory: Path) -> dict[str, dict[str, Any]]:
    """Both profile documents from an interop directory (``vectors.json`` and ``keys/``)."""
    vectors = json.loads((directory / "vectors.json").read_text())
    keys = KeyStore(directory / "keys")
    return {stem: build_profile(collect(vectors, keys, dev), dev) for stem, dev in PROFILES.items()}


def render(doc: dict[str, Any]) -> str:
    """Stable JSON text: sorted keys, one-space indentation, trailing newline."""
    return json.dumps(doc, indent=1, sort_keys=True) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Command line: write (or ``--check``) devices/profiles/{esme,chf}.json."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("interop", nargs="?", help="interop directory (vectors.json, keys/)")
    ap.add_argument("--out", default=str(ROOT / "devices" / "profiles"))
    ap.add_argument("--check", action="store_true", help="compare instead of writing")
    args = ap.parse_args(argv)
    src = interop_dir(args.interop)
    if not (src / "vectors.json").is_file():
        print(f"no vectors.json in {src}", file=sys.stderr)
        return 2
    out = Path(args.out)
    status = 0
    for stem, doc in build_all(src).items():
        path = out / f"{stem}.json"
        text = render(doc)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                print(f"{path} is out of date", file=sys.stderr)
                status = 1
        else:
            path.write_text(text)
            print(f"wrote {path} ({len(doc['objects'])} objects)")
    return status


if __name__ == "__main__":
    sys.exit(main())
