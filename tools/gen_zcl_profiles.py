"""Generate ``devices/profiles/gsme_zcl.json`` and ``gpf_zcl.json`` (the factory ZCL models).

Run from the project root: ``python tools/gen_zcl_profiles.py`` (``--check`` exits 1 when
the committed files differ from what this script produces).

Which attributes exist and with which ZCL data types: every attribute an RTDS 4.5.0 GSME or
GPF GBZ command reads or a ZSE command of those use cases writes, with the data type the
RTDS responses show (decoded, encrypted ones decrypted with the public test keys). Values
are factory defaults, not the RTDS values: zero, empty strings, "not set" (0) times, except
where a value is meaningful for a gas meter (m³ with Divisor 1000, GBP currency, the
standard UK volume conversion factor 1.02264, supply ON, battery powered ...).

The GSME event configuration list (event ids and their alert/log behaviour) is taken from
the RTDS GCS20r response (``RTDS-4.5.0/6.2.10_GCS20r``), the only source listing the
non-critical events a GSME reports and how; the GPF has none configurable (GCS20 is
GSME-only).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gbcs.zcl import ZclValue  # noqa: E402

U8, U16, U24, U32, U48 = 0x20, 0x21, 0x22, 0x23, 0x25
S32 = 0x2B
E8 = 0x30
BM8, BM16 = 0x18, 0x19
OCT, CHR = 0x41, 0x42
UTC = 0xE2

Attr = tuple[int, str, int, Any, str]  # id, name, type, value, access

BASIC: list[Attr] = [
    (0x0000, "ZCLVersion", U8, 1, "r"),
    (0x0003, "HWVersion", U8, 0, "r"),
    (0x0004, "ManufacturerName", CHR, b"", "r"),
    (0x0005, "ModelIdentifier", CHR, b"", "r"),
    (0x0007, "PowerSource", E8, 0x03, "r"),  # battery (GSME); the GPF overrides: mains
    (0x0010, "LocationDescription", CHR, b"", "rw"),  # ZCL: read/write
]

METERING: list[Attr] = [
    (0x0000, "CurrentSummationDelivered", U48, 0, "r"),
    (0x0014, "SupplyStatus", E8, 2, "r"),  # valve open (supply ON)
    *[(0x0100 + 2 * i, f"CurrentTier{i + 1}SummationDelivered", U48, 0, "r") for i in range(4)],
    (0x0200, "Status", BM8, 0, "r"),
    (0x0205, "RemainingBatteryLifeInDays", U16, 3650, "r"),
    (0x0206, "CurrentMeterID", OCT, b"\x00\x00\x00\x00", "r"),  # firmware version (GCS38)
    (0x0300, "UnitofMeasure", E8, 1, "r"),  # m³
    (0x0301, "Multiplier", U24, 1, "r"),
    (0x0302, "Divisor", U24, 1000, "r"),  # thousandths of m³
    (0x0303, "SummationFormatting", BM8, 0x2B, "r"),  # 5 integer, 3 decimal digits
    (0x0306, "MeteringDeviceType", BM8, 0x01, "r"),  # gas metering (GPF: 0x81 mirrored)
    (0x0307, "SiteID", OCT, b"", "r"),  # MPRN (GCS41/GCS46)
    (0x0308, "MeterSerialNumber", OCT, b"", "r"),
    (0x0311, "CustomerIDNumber", OCT, b"", "r"),  # CIN (GCS36)
    (0x0605, "LoadLimitSupplyState", E8, 0, "r"),
    (0x0607, "SupplyTamperState", E8, 0, "r"),
    (0x0608, "SupplyDepletionState", E8, 0, "r"),
    (0x0609, "SupplyUncontrolledFlowState", E8, 0, "r"),
    *[(0x0700 + i, f"CurrentNoTierBlock{i + 1}SummationDelivered", U48, 0, "r") for i in range(4)],
    (0x0A00, "BillToDateDelivered", U32, 0, "r"),
    (0x0A01, "BillToDateTimeStampDelivered", UTC, 0, "r"),
    (0x0B10, "UncontrolledFlowThreshold", U16, 0, "r"),
    (0x0B11, "UncontrolledFlowThresholdUnitOfMeasure", E8, 1, "r"),  # m³
    (0x0B12, "UncontrolledFlowMultiplier", U16, 1, "r"),
    (0x0B13, "UncontrolledFlowDivisor", U16, 1, "r"),
    (0x0B14, "FlowStabilisationPeriod", U8, 0, "r"),
    (0x0B15, "FlowMeasurementPeriod", U16, 0, "r"),
]

PRICE: list[Attr] = [
    *[(0x0100 + i, f"Block{i + 1}Threshold", U48, 0, "r") for i in range(3)],
    (0x0200, "StartofBlockPeriod", UTC, 0, "r"),
    (0x0201, "BlockPeriodDuration", U24, 0, "r"),
    (0x0202, "ThresholdMultiplier", U24, 1, "r"),
    (0x0203, "ThresholdDivisor", U24, 1, "r"),
    (0x0204, "BlockPeriodDurationType", BM8, 0, "r"),
    (0x0300, "CommodityType", E8, 1, "r"),  # gas metering
    (0x0301, "StandingCharge", U32, 0, "r"),
    (0x0302, "ConversionFactor", U32, 102264, "r"),  # 1.02264, UK standard correction
    (0x0303, "ConversionFactorTrailingDigit", BM8, 0x50, "r"),  # 5 decimals
    (0x0304, "CalorificValue", U32, 0, "r"),
    (0x0305, "CalorificValueUnit", E8, 1, "r"),  # MJ/m³
    (0x0306, "CalorificValueTrailingDigit", BM8, 0, "r"),
    *[(0x0400 + i, f"NoTierBlock{i + 1}Price", U32, 0, "r") for i in range(4)],
    *[(0x0400 + 16 * t, f"Tier{t}Block1Price", U32, 0, "r") for t in range(1, 5)],
    (0x0610, "TariffLabel", OCT, b"", "r"),
    (0x0611, "NumberofPriceTiersinUse", U8, 0, "r"),
    (0x0612, "NumberofBlockThresholdsinUse", U8, 0, "r"),
    (0x0613, "TierBlockMode", E8, 0xFF, "r"),  # not set
    (0x0615, "UnitofMeasure", E8, 0, "r"),  # tariffs are priced per kWh
    (0x0616, "Currency", U16, 826, "r"),  # GBP (ISO 4217)
    (0x0617, "PriceTrailingDigit", BM8, 0, "r"),
]


def _debts() -> list[Attr]:
    out: list[Attr] = []
    for n in range(1, 4):
        b = 0x0210 + 0x10 * (n - 1)
        out += [
            (b + 0, f"DebtLabel{n}", OCT, b"", "r"),
            (b + 1, f"DebtAmount{n}", U32, 0, "r"),
            (b + 2, f"DebtRecoveryMethod{n}", E8, 0, "r"),
            (b + 3, f"DebtRecoveryStartTime{n}", UTC, 0, "r"),
            (b + 4, f"DebtRecoveryCollectionTime{n}", U16, 0, "r"),
            (b + 6, f"DebtRecoveryFrequency{n}", E8, 0, "r"),
            (b + 7, f"DebtRecoveryAmount{n}", U32, 0, "r"),
            (b + 9, f"DebtRecoveryTopUpPercentage{n}", U16, 0, "r"),
        ]
    return out


PREPAYMENT: list[Attr] = [
    (0x0000, "PaymentControlConfiguration", BM16, 0, "r"),  # credit mode
    (0x0001, "CreditRemaining", S32, 0, "r"),
    (0x0002, "EmergencyCreditRemaining", S32, 0, "r"),
    (0x0003, "CreditStatus", BM8, 0, "r"),
    (0x0005, "AccumulatedDebt", S32, 0, "r"),
    (0x0006, "OverallDebtCap", S32, 0, "r"),
    (0x0010, "EmergencyCreditLimitAllowance", U32, 0, "r"),
    (0x0011, "EmergencyCreditThreshold", U32, 0, "r"),
    (0x0021, "MaxCreditLimit", U32, 0, "r"),
    (0x0022, "MaxCreditPerTopUp", U32, 0, "r"),
    (0x0031, "LowCreditWarningLevel", U32, 0, "r"),
    (0x0040, "CutOffValue", S32, 0, "r"),
    *_debts(),
]

# RTDS-4.5.0/6.2.10_GCS20r response (Report Event Configuration for group 0x81FF), in its
# order: (event id, event configuration bitmap).
GSME_EVENTS: list[tuple[int, int]] = [
    (0x810D, 0x18), (0x810E, 0x08), (0x8119, 0x18), (0x8145, 0x03), (0x8154, 0x03),
    (0x8155, 0x03), (0x8161, 0x03), (0x8162, 0x03), (0x8168, 0x10), (0x8183, 0x0B),
    (0x8184, 0x0B), (0x81A1, 0x0B), (0x81A4, 0x0B), (0x81A5, 0x0B), (0x81A6, 0x0B),
    (0x81A7, 0x0B), (0x81A8, 0x0B), (0x81A9, 0x0B), (0x81AA, 0x1B), (0x81AB, 0x1B),
    (0x81AC, 0x0B), (0x81AD, 0x0B), (0x81AE, 0x0B), (0x81AF, 0x0B), (0x81B0, 0x0B),
    (0x81B1, 0x0B), (0x81B2, 0x0B), (0x81B3, 0x0B), (0x81B4, 0x0B), (0x81B5, 0x0B),
    (0x81B6, 0x0B), (0x81B9, 0x0B), (0x81BA, 0x0B), (0x81BC, 0x0B), (0x81BD, 0x0B),
    (0x81BE, 0x0B), (0x81BF, 0x0B), (0x81C0, 0x0B), (0x81C2, 0x0B), (0x81C3, 0x0B),
    (0x81C4, 0x1B), (0x81C5, 0x0B), (0x81A0, 0x0B), (0x81C6, 0x03),
]  # fmt: skip


def _cluster(name: str, attrs: list[Attr], overrides: dict[int, Any] | None = None) -> dict:
    out = {}
    for aid, aname, t, value, access in attrs:
        if overrides and aid in overrides:
            value = overrides[aid]
        out[f"0x{aid:04X}"] = {
            "name": aname,
            "type": f"0x{t:02X}",
            "hex": ZclValue(t, value).encode()[1:].hex().upper(),
            "access": access,
        }
    return {"name": name, "attributes": out}


def _config(start_sampling_id: int | None) -> dict[str, Any]:
    return {
        "event_log_capacity": 100,
        "clearable_logs": [3],  # the general event log; the security log (4) is never cleared
        "snapshot_capacity": 750,
        "top_up_log_capacity": 10,
        "debt_log_capacity": 100,
        "start_sampling_id": start_sampling_id,
        "max_event_log_entries_per_command": 32,
        "max_event_configurations_per_command": 64,
    }


def _sampling(interval: int, max_samples: int) -> dict[str, Any]:
    return {"type": 0, "interval": interval, "max": max_samples, "start": 0, "samples": []}


def _state(events: list[tuple[int, int]], samplings: dict[str, Any]) -> dict[str, Any]:
    return {"event_configuration": [list(e) for e in events], "samplings": samplings}


def gsme() -> dict[str, Any]:
    return {
        "profile": "GSME",
        "description": "Factory ZCL model of an emulated SMETS2 GSME (gen_zcl_profiles.py).",
        "clusters": {
            "0x0000": _cluster("Basic", BASIC),
            "0x0700": _cluster("Price", PRICE),
            "0x0702": _cluster("Metering", METERING),
            "0x0703": {"name": "Messaging", "attributes": {}},
            "0x0705": _cluster("Prepayment", PREPAYMENT),
            "0x0707": {"name": "Calendar", "attributes": {}},
            "0x0708": {"name": "Device Management", "attributes": {}},
            "0x0709": {"name": "Events", "attributes": {}},
        },
        # network data log: Start Sampling (GCS31) answers sample id 2 (RTDS)
        "config": _config(2),
        # profile data log (sample id 0): half-hourly, 13 months
        "state": _state(GSME_EVENTS, {"0": _sampling(1800, 13 * 31 * 48)}),
    }


def gpf() -> dict[str, Any]:
    return {
        "profile": "GPF",
        "description": "Factory ZCL model of an emulated GPF mirroring a GSME.",
        "clusters": {
            "0x0000": _cluster("Basic", BASIC, {0x0007: 0x01}),  # mains powered
            "0x0700": _cluster("Price", PRICE),
            "0x0702": _cluster("Metering", METERING, {0x0306: 0x81}),  # mirrored gas metering
            "0x0705": _cluster("Prepayment", PREPAYMENT),
            "0x0707": {"name": "Calendar", "attributes": {}},
            "0x0708": {"name": "Device Management", "attributes": {}},
            "0x0709": {"name": "Events", "attributes": {}},
        },
        "config": _config(None),
        # profile data log (0, mirrored) and the GPF's daily consumption log (1, GCS61)
        "state": _state([], {"0": _sampling(1800, 13 * 31 * 48), "1": _sampling(0xFFFF, 731)}),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="only compare with the files")
    args = ap.parse_args()
    status = 0
    for name, doc in (("gsme_zcl.json", gsme()), ("gpf_zcl.json", gpf())):
        path = ROOT / "devices" / "profiles" / name
        text = json.dumps(doc, indent=1) + "\n"
        if args.check:
            if not path.is_file() or path.read_text("utf-8") != text:
                print(f"{path} is out of date", file=sys.stderr)
                status = 1
        else:
            path.write_text(text, "utf-8")
    return status


if __name__ == "__main__":
    sys.exit(main())
