"""Every log of every device type reads over its use case once it holds entries of
every kind that can be written to it (issue 12 §4).

The logs are enumerated from the device profiles (the class-7 buffers of the ESME and
CHF COSEM profiles, the ZCL Events cluster logs of the GSME and GPF); a log missing from
:data:`COVERAGE` fails :func:`test_every_profile_log_is_covered`. Each log is filled as
a bench would fill it, with GBCS frames built by the head-end catalogue and the control
API only, then read with its use case: every row must carry the profile's capture
columns and the codes and times the device recorded.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from devices.control import execute_control
from devices.cosem import load_profile
from devices.dlms_device import DlmsDevice, seconds_since_2000
from devices.zigbee_device import ZigbeeDevice
from emulator.headend.client import RequestTimeout
from gbcs.axdr import CompactArray, DataType, TypeDescription
from gbcs.dlms import Obis
from gbcs.zcl import utc_from_datetime
from tests.test_headend import CHF, ESME, GPF, GSME, HANG, Env, _env

PROFILES = Path(__file__).resolve().parent.parent / "devices" / "profiles"
EUI = {"ESME": ESME, "CHF": CHF, "GSME": GSME, "GPF": GPF}
RANGE = {"start_date_time": "2000-01-01T00:00:00Z", "end_date_time": "2100-01-01T00:00:00Z"}
ZCL_EVENTS_CLUSTER = "0x0709"
ZCL_NOT_FOUND = 0x8B
GBCS_ZCL_LOGS = {3: "General Event Log (CS10a)", 4: "Security Event Log (CS10b)"}

Writer = Callable[[Env, bytes], Awaitable[None]]


# ------------------------------------------------------------------------- writers


def _control(e: Env, eui: bytes, **req: Any) -> dict[str, Any]:
    r = execute_control(e.site, eui, {"id": 1, **req}, e.server.now)
    assert r.reply["ok"], r.reply
    return r.reply["result"]


async def _outage(e: Env, eui: bytes, minutes: int) -> None:
    _control(e, eui, op="power", state="off")
    e.server.now += timedelta(minutes=minutes)
    _control(e, eui, op="power", state="on")
    e.server.now += timedelta(seconds=5)


async def short_outage(e: Env, eui: bytes) -> None:
    """0x8F57 then 0x8F35 (ESME Power Event Log); 0x8F57 on the CHF."""
    await _outage(e, eui, 1)


async def long_outage(e: Env, eui: bytes) -> None:
    """0x8F57 then 0x8F36 (outage of 3 minutes or more)."""
    await _outage(e, eui, 5)


def _tamper(event: str, state: str = "detected") -> Writer:
    async def write(e: Env, eui: bytes) -> None:
        _control(e, eui, op="tamper", event=event, state=state)

    write.__name__ = f"tamper_{event}_{state}"
    return write


async def supply_locked_by_tamper(e: Env, eui: bytes) -> None:
    """Supply Tamper State 'locked' (set as ECS81 would), then a tamper: 0x81BE."""
    if eui == ESME:
        _control(e, eui, op="set_cosem", class_id=1, obis="0-0:94.44.0.4", attribute=2,
                 value={"type": "boolean", "value": True})  # fmt: skip
    else:
        _control(e, eui, op="set_zcl", cluster="metering", attribute=0x0607, value=0)
    _control(e, eui, op="tamper", event="tamper_detect")


def _clock_adjust(offset_seconds: int) -> Writer:
    """ECS70 over GBCS on a clock ``offset_seconds`` off: 0x8145 (<= 10 s) to the Event
    Log, 0x8F0C (more) to the Security Log."""

    async def write(e: Env, eui: bytes) -> None:
        _control(
            e,
            eui,
            op="set_clock",
            time=(e.server.now + timedelta(seconds=offset_seconds)).isoformat(),
        )
        r = await e.request(eui, "ECS70", tolerance=offset_seconds + 60)
        assert r.values["ok"] is True, r.values

    write.__name__ = f"ecs70_adjust_{offset_seconds}s"
    return write


def _refused(use_case: str, role: str, **args: Any) -> Writer:
    """A command from a role the use case does not allow: a Security Log entry."""

    async def write(e: Env, eui: bytes) -> None:
        with pytest.raises(RequestTimeout):
            await e.request(eui, use_case, as_role=role, timeout=0.3, **args)

    write.__name__ = f"refused_{use_case}_as_{role}"
    return write


async def alcs_switch(e: Env, eui: bytes) -> None:
    """No GBCS command writes the ALCS Event Log yet: the ESME records what an ALCS
    switch does through :meth:`Esme.log_alcs` (ECS47 drives it once ALCS is modelled)."""
    e.esme.log_alcs(0x0211, e.server.now, 0, 0x548E2480)
    e.esme.log_alcs(0x0200, e.server.now, 1)


# ------------------------------------------------------------------------ coverage


@dataclass(frozen=True, slots=True)
class Coverage:
    """How a log is read (use case and arguments) and what writes to it."""

    use_case: str
    args: dict[str, Any]
    writers: tuple[Writer, ...]
    why_empty: str = ""  # when nothing the emulator does appends rows to it


_NOT_APPENDED = "profile data: the emulator appends no rows (stored buffer served as is)"

COVERAGE: dict[tuple[str, str], Coverage] = {
    ("ESME", "0-0:99.98.0.255"): Coverage(
        "ECS35a",
        {},
        (
            _tamper("meter_cover", "cleared"),
            _tamper("magnetic_field", "cleared"),
            _tamper("terminal_cover", "cleared"),
            _clock_adjust(5),
            supply_locked_by_tamper,
        ),
    ),
    ("ESME", "0-0:99.98.1.255"): Coverage(
        "ECS35b",
        {},
        (
            _tamper("tamper_detect"),
            _tamper("meter_cover"),
            _tamper("other"),
            _clock_adjust(300),
            _refused("ECS43", "acb"),
        ),
    ),
    ("ESME", "0-0:99.98.4.255"): Coverage("ECS35e", RANGE, (short_outage, long_outage)),
    ("ESME", "0-17:99.98.2.255"): Coverage("ECS35f", RANGE, (alcs_switch,)),
    ("CHF", "0-0:99.98.0.255"): Coverage("ECS35c", RANGE, (short_outage, long_outage)),
    ("CHF", "0-0:99.98.1.255"): Coverage(
        "ECS35d", RANGE, (_refused("ECS35c", "supplier", **RANGE),)
    ),
    ("CHF", "0-0:94.44.10.3"): Coverage(
        "DBCH02", RANGE, (), "sub-GHz channel log: the emulated CHF is single band"
    ),
    ("GSME", "zcl:3"): Coverage(
        "CS10a",
        RANGE,
        (
            _tamper("battery_cover", "cleared"),
            _tamper("tilt"),
            _tamper("meter_cover", "cleared"),
            supply_locked_by_tamper,
        ),
    ),
    ("GSME", "zcl:4"): Coverage(
        "CS10b",
        RANGE,
        (_tamper("tamper_detect"), _tamper("battery_cover"), _refused("GCS14", "acb")),
    ),
    ("GPF", "zcl:3"): Coverage("CS10a", RANGE, (), "no GBCS command or control writes it"),
    ("GPF", "zcl:4"): Coverage("CS10b", RANGE, (_refused("GCS14", "acb"),)),
}
for _obis in ("0-0:98.1.0.255", "0-0:98.1.1.255", "0-0:98.1.2.255", "0-0:98.1.4.255",
              "0-0:98.1.5.255", "0-0:98.1.8.255", "0-0:98.1.9.255", "0-0:98.1.10.255",
              "0-0:99.1.0.255", "0-0:99.1.1.255", "0-0:99.1.2.255", "0-0:99.1.3.255",
              "0-0:99.98.20.255", "1-0:32.24.0.255", "1-0:52.24.0.255",
              "1-0:72.24.0.255"):  # fmt: skip
    COVERAGE[("ESME", _obis)] = Coverage("", {}, (), _NOT_APPENDED)


def profile_logs() -> list[tuple[str, str]]:
    """Every log in the device profiles: (device type, OBIS or ``zcl:<log id>``)."""
    out: list[tuple[str, str]] = []
    for kind, name in (("ESME", "esme"), ("CHF", "chf")):
        doc = json.loads((PROFILES / f"{name}.json").read_text())
        out += [(kind, o["obis"]) for o in doc["objects"] if o["class"] == 7]
    for kind, name in (("GSME", "gsme_zcl"), ("GPF", "gpf_zcl")):
        doc = json.loads((PROFILES / f"{name}.json").read_text())
        if ZCL_EVENTS_CLUSTER in doc["clusters"]:
            out += [(kind, f"zcl:{i}") for i in GBCS_ZCL_LOGS]
    return out


def test_every_profile_log_is_covered() -> None:
    logs = profile_logs()
    assert len(logs) > 20  # the enumeration found the profiles' logs
    missing = [f"{k} {o}" for k, o in logs if (k, o) not in COVERAGE]
    assert not missing, f"logs without a readability case in COVERAGE: {missing}"
    stale = [f"{k} {o}" for k, o in COVERAGE if (k, o) not in logs]
    assert not stale, f"COVERAGE names logs the profiles no longer have: {stale}"


APPENDED = [key for key, c in COVERAGE.items() if c.use_case]


# ---------------------------------------------------------------------- the reads


def _columns(kind: str, obis: str) -> TypeDescription:
    model = load_profile(kind.lower())
    obj = model.find(7, Obis.parse(obis))
    assert obj is not None
    return obj.attributes[2].value.type_description


def _dlms_log(dev: DlmsDevice, obis: str) -> list[Any]:
    from devices.dlms_device import EVENT_LOG, SECURITY_LOG
    from devices.esme import ALCS_EVENT_LOG, POWER_EVENT_LOG

    attr = {EVENT_LOG: "event_log", SECURITY_LOG: "security_log",
            POWER_EVENT_LOG: "power_log", ALCS_EVENT_LOG: "alcs_log"}.get(obis)  # fmt: skip
    return [] if attr is None else [x for x in getattr(dev, attr) if x.at is not None]


@pytest.mark.asyncio
@pytest.mark.parametrize("key", APPENDED, ids=[f"{k}-{o}" for k, o in APPENDED])
async def test_log_with_every_kind_of_entry_reads(key: tuple[str, str]) -> None:
    kind, log = key
    cov = COVERAGE[key]
    eui = EUI[kind]
    async with _env() as e:
        for write in cov.writers:
            await write(e, eui)
            e.server.now += timedelta(seconds=30)
        reply = await asyncio.wait_for(e.request(eui, cov.use_case, timeout=HANG, **cov.args), HANG)
        dev = e.site.device(eui)
        if isinstance(dev, DlmsDevice):
            expected = _dlms_log(dev, log)
            assert cov.why_empty or len(expected) >= len(cov.writers) > 0
            payload = reply.message.payload
            assert payload.results[0].ok, payload.results
            data = payload.data[0]
            assert data is not None and data.tag == DataType.COMPACT_ARRAY, data
            arr = data.value
            assert isinstance(arr, CompactArray)
            assert arr.type_description == _columns(kind, log)  # the profile's columns
            rows = arr.elements()
            assert [r.value[1].value for r in rows] == [x.code for x in expected]
            assert [r.value[0].value for r in rows] == [seconds_since_2000(x.at) for x in expected]
            if log == "0-0:99.98.4.255":  # restoration entries carry the outage length
                values = {r.value[1].value: r.value[2].value for r in rows}
                assert values[0x8F35] == 60 and values[0x8F36] == 300 and values[0x8F57] == 0
        else:
            assert isinstance(dev, ZigbeeDevice)
            log_id = int(log.split(":")[1])
            expected = dev.model.event_logs.get(log_id, [])
            assert len(expected) >= len(cov.writers)
            body = reply.message.payload.components[0].body
            if not expected:  # ZCL: Get Event Log on an empty log answers NOT_FOUND
                assert getattr(body, "status", None) == ZCL_NOT_FOUND, body
                return
            got = [(x.log_id, x.event_id, x.event_time) for x in body.entries]
            # oldest first, as the device holds them
            assert got == [(log_id, x.event_id, x.event_time) for x in expected]
            assert all(0 < x.event_time <= utc_from_datetime(e.server.now) for x in body.entries)
        assert reply.values.get("ok", True) is not False, reply.values
