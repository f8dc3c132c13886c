"""Positional fault injection (devices.faults): one item, record or whole command fails
with the exact GBCS code, as RTDS ``_ERROR`` cases do, and the rest answers normally.

Checked through protected GBCS frames on sans-IO devices (DLMS GET/SET/ACTION, GBZ
components and records, an ASN.1 outcome), through the conformance harness's derivation
from RTDS responses, and through the control API (arm, fire n times, persist, clear, and
a clear error for every bad field).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from devices.control import execute_control
from devices.device import Device
from devices.faults import Fault, FaultError, FaultPlan, MessageFaults, check_fault
from devices.gbz_engine import execute_gbz
from devices.site import Site
from devices.zcl_model import METERING, load_profile
from emulator.conformance.harness import _faults_for
from emulator.headend import usecases
from emulator.headend.usecases import BuildContext
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import ActionSpec, DataAccessResult, GetSpec, Obis, SetSpec
from gbcs.gbz import GbzComponent, GbzPayload
from gbcs.usecases import DeviceType
from gbcs.zcl import DefaultResponse, DisplayMessage, ReadAttributes, ReadAttributesResponse
from keys.roles import RemotePartyRole
from tests.devkit import ACB, EUIS, SUPPLIER, T0, Bench, bench, dlms_command, responses

R = RemotePartyRole
ECS61E, ECS46C, CCS07, GCS38, CS07 = 0x011D, 0x0054, 0x00FE, 0x0084, 0x0013
SWITCHES = [Obis.parse(f"0-0:94.44.0.{20 + n}") for n in range(1, 6)]
NET, HIST = Obis.parse("0-0:30.3.0.255"), Obis.parse("0-0:30.3.1.255")
INTEROP = Path(os.environ.get("GBCS_INTEROP_DIR", Path(__file__).parents[2] / "shared/interop"))


def _arm(dev: Device, *faults: Fault) -> None:
    for f in faults:
        dev.faults.arm(check_fault(f, dev.device_type))


def _read_switches(b: Bench, esme: Device) -> Any:
    out = esme.receive(
        dlms_command(b, "ESME", ECS61E, tuple(GetSpec(1, o, 2) for o in SWITCHES)), T0
    )
    (rsp,) = responses(out)
    return rsp.payload


# --------------------------------------------------------------------------- DLMS


def test_dlms_get_fails_the_middle_item_only_and_once() -> None:
    b = bench()
    esme = b.device("ESME")
    normal = _read_switches(b, esme)
    _arm(esme, Fault(ECS61E, int(DataAccessResult.HARDWARE_FAULT), item=2))
    faulted = _read_switches(b, esme)
    assert [int(r.result) for r in faulted.results] == [0, 0, 1, 0, 0]
    assert faulted.data[2] == Data.null()
    assert [d for i, d in enumerate(faulted.data) if i != 2] == [
        d for i, d in enumerate(normal.data) if i != 2
    ]
    again = _read_switches(b, esme)  # times=1: the fault has fired
    assert [int(r.result) for r in again.results] == [0] * 5
    assert len(esme.faults) == 0


def test_dlms_set_fails_one_item_and_stores_the_others() -> None:
    b = bench()
    esme = b.device("ESME")
    before = [d.value for d in _read_switches(b, esme).data]
    new = [bytes([i]) * 8 for i in range(1, 6)]
    _arm(esme, Fault(ECS46C, 2, item=1))  # temporary-failure
    specs = tuple(SetSpec(1, o, 2) for o in SWITCHES)
    frame = dlms_command(b, "ESME", ECS46C, specs, tuple(Data.octet_string(v) for v in new))
    (rsp,) = responses(esme.receive(frame, T0))
    assert [int(r.result) for r in rsp.payload.results] == [0, 2, 0, 0, 0]
    after = [d.value for d in _read_switches(b, esme).data]
    assert after == [new[0], before[1], *new[2:]]  # the failed SET was not executed


def test_dlms_action_fails_by_position_not_by_address() -> None:
    """Two actions on one (class, OBIS, method): only the faulted position fails."""
    b = bench()
    chf = b.device("CHF")
    specs = (ActionSpec(104, NET, 4), ActionSpec(104, HIST, 4), ActionSpec(104, NET, 4))
    normal = responses(chf.receive(dlms_command(b, "CHF", CCS07, specs, originator=ACB), T0))
    _arm(chf, Fault(CCS07, 250, item=2, times=2))
    for _ in range(2):
        out = chf.receive(dlms_command(b, "CHF", CCS07, specs, originator=ACB), T0)
        (rsp,) = responses(out)
        assert [int(r.result) for r in rsp.payload.results] == [0, 0, 250]
        assert rsp.payload.data[:2] == normal[0].payload.data[:2]
        assert rsp.payload.data[2] == Data.null()
    (rsp,) = responses(chf.receive(dlms_command(b, "CHF", CCS07, specs, originator=ACB), T0))
    assert [int(r.result) for r in rsp.payload.results] == [0, 0, 0]


def test_whole_command_fault_fails_every_dlms_item() -> None:
    b = bench()
    esme = b.device("ESME")
    _arm(esme, Fault(ECS61E, 250, times=0))
    for _ in range(3):  # times=0: until cleared
        assert [int(r.result) for r in _read_switches(b, esme).results] == [250] * 5
    esme.faults.clear(ECS61E)
    assert [int(r.result) for r in _read_switches(b, esme).results] == [0] * 5


def test_item_fault_beats_the_whole_command_fault() -> None:
    plan = FaultPlan([Fault(ECS61E, 250, times=0), Fault(ECS61E, 1, item=3, times=0)])
    mf = plan.take(ECS61E)
    assert mf is not None and [mf.item(i) for i in range(5)] == [250, 250, 250, 1, 250]


# --------------------------------------------------------------------------- GBZ


def _reads(*ids: tuple[int, ...]) -> GbzPayload:
    return GbzPayload(
        tuple(
            GbzComponent.command(METERING, ReadAttributes(a), i, server_to_client=False)
            for i, a in enumerate(ids)
        )
    )


def _gsme_reads(b: Bench, gsme: Device, payload: GbzPayload) -> list[Any]:
    out = gsme.receive(b.command("GSME", GCS38, payload), T0)
    (rsp,) = responses(out)
    return list(rsp.payload.components)


def test_gbz_fails_the_middle_component_and_answers_the_others() -> None:
    b = bench()
    gsme = b.device("GSME")
    payload = _reads((0,), (0x0200,), (0x0206,))
    normal = _gsme_reads(b, gsme, payload)
    _arm(gsme, Fault(GCS38, 0xC0, item=1))
    faulted = _gsme_reads(b, gsme, payload)
    assert len(faulted) == 3
    assert [c.zcl.sequence for c in faulted] == [0, 1, 2]  # the command's order
    assert faulted[0] == normal[0] and faulted[2] == normal[2]
    middle = faulted[1].body
    assert isinstance(middle, ReadAttributesResponse)
    assert [(r.attribute_id, r.status, r.value) for r in middle.records] == [(0x0200, 0xC0, None)]


def test_gbz_record_fault_fails_one_record_of_a_read() -> None:
    b = bench()
    gsme = b.device("GSME")
    payload = _reads((0, 0x0200, 0x0206))
    (normal,) = _gsme_reads(b, gsme, payload)
    _arm(gsme, Fault(GCS38, 0x86, item=0, record=1))
    (faulted,) = _gsme_reads(b, gsme, payload)
    assert [r.status for r in faulted.body.records] == [0, 0x86, 0]
    assert faulted.body.records[1].value is None
    assert faulted.body.records[0] == normal.body.records[0]
    assert faulted.body.records[2] == normal.body.records[2]


def test_gbz_failed_component_is_not_executed_the_others_are() -> None:
    model = load_profile("gsme")
    comps = tuple(
        GbzComponent.command(0x0703, DisplayMessage(1, 0, 0, 60, text), i)
        for i, text in enumerate((b"first", b"second", b"third"))
    )
    res = execute_gbz(
        GbzPayload(comps),
        model,
        message_code=0x0084,
        device_time=None,
        seal=None,
        positional=MessageFaults(items={2: 0xC1}),
    )
    bodies = [c.body for c in res.response.components]
    assert bodies == [DefaultResponse(0, 0), DefaultResponse(0, 0), DefaultResponse(0, 0xC1)]
    assert model.records["message"].message == b"second"


# --------------------------------------------------------------------------- ASN.1


def _cs07(b: Bench, dev: Device) -> Any:
    entry = usecases.get("CS07")
    counter = b.builder.next_counter(SUPPLIER)
    parsed = entry.parse_args({})
    payload = entry.build_parsed(
        parsed, BuildContext(counter, SUPPLIER, EUIS["ESME"], R.SUPPLIER, T0)
    )
    frame = b.builder.command(SUPPLIER, EUIS["ESME"], CS07, payload, counter=counter)
    (rsp,) = responses(dev.receive(frame, T0))
    return rsp.payload.raw


def test_asn1_outcome_code_is_forced_for_the_whole_message() -> None:
    b = bench()
    esme = b.device("ESME")
    normal = _cs07(b, esme)
    _arm(esme, Fault(CS07, 1))  # READ_FAILURE
    failed = _cs07(b, esme)
    assert failed != normal and failed.endswith(b"\x02\x01\x01")
    assert _cs07(b, esme) == normal


# --------------------------------------------------------------------------- checks


@pytest.mark.parametrize(
    ("fault", "kind", "field", "words"),
    [
        (Fault(ECS61E, 0, item=0), DeviceType.ESME, "result", "success"),
        (Fault(ECS61E, 17, item=0), DeviceType.ESME, "result", "can carry"),
        (Fault(GCS38, 0x42, item=0), DeviceType.GSME, "result", "can carry"),
        (Fault(CS07, 99), DeviceType.ESME, "result", "can carry"),
        (Fault(CS07, 1, item=0), DeviceType.ESME, "item", "whole message"),
        (Fault(ECS61E, 1, item=0, record=0), DeviceType.ESME, "record", "GBZ"),
        (Fault(GCS38, 1, record=0), DeviceType.GSME, "record", "item"),
        (Fault(ECS61E, 1), DeviceType.GSME, "message_code", "DLMS"),
        (Fault(GCS38, 1), DeviceType.ESME, "message_code", "GBZ"),
        (Fault(0x0129, 1), DeviceType.ESME, "message_code", "ASN.1"),
        (Fault(0xFFF0, 1), DeviceType.ESME, "message_code", "not a GBCS"),
        (Fault(ECS61E, 1, times=-1), DeviceType.ESME, "times", "0"),
    ],
)
def test_a_result_the_response_cannot_carry_is_refused_when_armed(
    fault: Fault, kind: DeviceType, field: str, words: str
) -> None:
    with pytest.raises(FaultError) as e:
        check_fault(fault, kind)
    assert e.value.field == field and words in str(e.value)


def test_plan_round_trips_and_persists_with_the_device() -> None:
    b = bench()
    esme = b.device("ESME")
    _arm(esme, Fault(ECS61E, 1, item=2, times=3), Fault(CS07, 1, times=0))
    saved = json.loads(json.dumps(esme.to_dict()))
    other = bench().device("ESME")
    other.load_state(saved)
    assert list(other.faults) == list(esme.faults)
    assert FaultPlan.from_dict(esme.faults.to_dict()).to_dict() == esme.faults.to_dict()


# --------------------------------------------------------------------------- harness


def _pair(case: str) -> tuple[Any, Any, Any]:
    from emulator.conformance.cases import load_cases

    path = INTEROP / "vectors.json"
    if not path.exists():
        pytest.skip(f"shared interop vectors absent ({path}); set GBCS_INTEROP_DIR")
    (c,) = [c for c in load_cases(path) if c.id.endswith(case)]
    return c, decode(c.response), decode(c.command)


def test_harness_derives_one_fault_per_failed_rtds_item() -> None:
    case, rtds, cmd = _pair("CCS01_8.11_ERROR")
    plan = _faults_for(case, rtds, cmd)["fault_plan"]
    assert [(f.item, f.result) for f in plan] == [(1, 1), (2, 250)]
    case, rtds, cmd = _pair("GCS36_9.1_ERROR")
    (f,) = _faults_for(case, rtds, cmd)["fault_plan"]
    assert (f.message_code, f.item, f.result) == (0x0083, 0, 0xC0)
    case, rtds, cmd = _pair("CS03B_8.7.2_ERROR")
    (f,) = _faults_for(case, rtds, cmd)["fault_plan"]
    assert (f.item, f.result) == (None, 2)


def test_harness_reproduces_an_error_case_failing_one_of_several_items() -> None:
    """ECS26i: item 0 answers, item 1 hardware-fault, item 2 other-reason, exactly."""
    from emulator.conformance.harness import CONFORMANT, run_cases

    case, rtds, _ = _pair("ECS26i_6.2.4_ERROR")
    (result,) = run_cases([case], INTEROP / "keys").results
    assert result.status == CONFORMANT, result.detail
    ours = decode(result.response)
    assert [int(r.result) for r in ours.payload.results] == [0, 1, 250]
    assert ours.payload.data[0] == rtds.payload.data[0] != Data.null()


# --------------------------------------------------------------------------- control API


def _site(b: Bench) -> Site:
    s = Site(b.device("CHF"), b.device("ESME"), b.device("GSME"), b.device("GPF"))
    s.advance(T0)
    return s


def _ctl(site: Site, kind: str, req: dict[str, Any]) -> dict[str, Any]:
    return execute_control(site, EUIS[kind], req, T0).reply


def test_control_arms_fires_n_times_persists_and_clears() -> None:
    b = bench()
    site = _site(b)
    esme = site.esme
    assert esme is not None
    req = {"id": 1, "op": "inject_fault", "use_case": "ECS61e", "item": 1,
           "result": "hardware-fault", "times": 2}  # fmt: skip
    res = execute_control(site, EUIS["ESME"], req, T0)
    assert res.reply["ok"], res.reply
    assert res.changed == {"ESME"}
    assert res.reply["result"]["armed"] == {"message_code": "0x011D", "result": 1, "item": 1,
                                            "times": 2}  # fmt: skip
    status = _ctl(site, "ESME", {"id": 2, "op": "get_status"})["result"]
    assert status["faults"] == [res.reply["result"]["armed"]]
    # persists across save / load
    saved = json.loads(json.dumps(esme.to_dict()))
    esme.load_state({**saved, "faults": []})
    assert len(esme.faults) == 0
    esme.load_state(saved)
    assert [int(r.result) for r in _read_switches(b, esme).results] == [0, 1, 0, 0, 0]
    assert _ctl(site, "ESME", {"id": 3, "op": "get_status"})["result"]["faults"][0]["times"] == 1
    assert [int(r.result) for r in _read_switches(b, esme).results] == [0, 1, 0, 0, 0]
    assert [int(r.result) for r in _read_switches(b, esme).results] == [0] * 5
    # until cleared, then clear
    ok = _ctl(site, "ESME", {"id": 4, "op": "inject_fault", "message_code": "0x011D",
                             "result": 250, "times": 0})  # fmt: skip
    assert ok["ok"], ok
    for _ in range(2):
        assert [int(r.result) for r in _read_switches(b, esme).results] == [250] * 5
    cleared = _ctl(site, "ESME", {"id": 5, "op": "clear_faults", "use_case": "ECS61e"})
    assert cleared["result"] == {"cleared": 1, "faults": []}
    assert [int(r.result) for r in _read_switches(b, esme).results] == [0] * 5


def test_control_arms_gbz_and_asn1_faults_by_name() -> None:
    site = _site(bench())
    gbz = {"id": 1, "op": "inject_fault", "message_code": GCS38, "item": 0, "record": 2,
           "result": "HARDWARE_FAILURE"}  # fmt: skip
    assert _ctl(site, "GSME", gbz)["result"]["armed"]["result"] == 0xC0
    asn1 = {"id": 2, "op": "inject_fault", "use_case": "CS07", "result": "read_failure"}
    assert _ctl(site, "ESME", asn1)["result"]["armed"] == {
        "message_code": "0x0013",
        "result": 1,
        "times": 1,
    }


GOOD = {"id": 9, "op": "inject_fault", "use_case": "ECS61e", "item": 0, "result": 1}

BAD: list[tuple[str, dict[str, Any], str, str]] = [
    ("ESME", {"id": 9, "op": "inject_fault", "result": 1}, "missing_field", "message_code"),
    ("ESME", {"id": 9, "op": "inject_fault", "use_case": "ECS61e"}, "missing_field", "result"),
    ("ESME", {**GOOD, "message_code": 0x011D}, "bad_field", "use_case"),
    ("ESME", {**GOOD, "use_case": "ECS999"}, "bad_field", "use_case"),
    ("ESME", {**GOOD, "use_case": 7}, "bad_field", "use_case"),
    ("ESME", {"id": 9, "op": "inject_fault", "message_code": "12", "result": 1},
     "bad_field", "message_code"),
    ("ESME", {"id": 9, "op": "inject_fault", "message_code": 0x1FFFF, "result": 1},
     "bad_field", "message_code"),
    ("ESME", {"id": 9, "op": "inject_fault", "message_code": "0xFFF0", "result": 1},
     "bad_field", "message_code"),
    ("GSME", GOOD, "bad_field", "message_code"),
    ("ESME", {**GOOD, "item": -1}, "bad_field", "item"),
    ("ESME", {**GOOD, "item": "1"}, "bad_field", "item"),
    ("ESME", {**GOOD, "item": 256}, "bad_field", "item"),
    ("ESME", {**GOOD, "record": 0}, "bad_field", "record"),
    ("ESME", {**GOOD, "record": True}, "bad_field", "record"),
    ("ESME", {**GOOD, "result": 0}, "bad_field", "result"),
    ("ESME", {**GOOD, "result": 17}, "bad_field", "result"),
    ("ESME", {**GOOD, "result": "melted"}, "bad_field", "result"),
    ("ESME", {**GOOD, "result": 1.5}, "bad_field", "result"),
    ("ESME", {**GOOD, "result": None}, "bad_field", "result"),
    ("ESME", {**GOOD, "times": -1}, "bad_field", "times"),
    ("ESME", {**GOOD, "times": "once"}, "bad_field", "times"),
    ("ESME", {**GOOD, "times": 70000}, "bad_field", "times"),
    ("ESME", {**GOOD, "clear": True}, "unknown_field", "clear"),
    ("ESME", {"id": 9, "op": "inject_fault", "use_case": "CS07", "item": 0, "result": 1},
     "bad_field", "item"),
    ("ESME", {"id": 9, "op": "clear_faults", "use_case": "nope"}, "bad_field", "use_case"),
    ("ESME", {"id": 9, "op": "clear_faults", "message_code": []}, "bad_field", "message_code"),
    ("ESME", {"id": 9, "op": "clear_faults", "item": 1}, "unknown_field", "item"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "req", "code", "field"), BAD)
def test_bad_input_is_refused_clearly_and_changes_nothing(
    kind: str, req: dict[str, Any], code: str, field: str
) -> None:
    site = _site(bench())
    _ctl(site, "ESME", {"id": 0, "op": "inject_fault", "use_case": "ECS61e", "result": 1})
    before = json.dumps(site.to_dict(), sort_keys=True)
    res = execute_control(site, EUIS[kind], req, T0)
    assert res.reply["ok"] is False
    err = res.reply["error"]
    assert (err["code"], err.get("field")) == (code, field), err
    assert "\n" not in err["message"] and field in err["message"]
    assert res.changed == frozenset()
    assert json.dumps(site.to_dict(), sort_keys=True) == before


def test_the_asn1_outcome_is_the_first_integer_its_enumeration_defines() -> None:
    """A CS02b response holds other INTEGERs (sequence numbers) before its status code:
    the harness arms the status, not the first INTEGER it meets."""
    from emulator.conformance.harness import _outcome_code
    from gbcs.der import der_integer, der_sequence

    tree = [der_sequence(der_integer(1003), der_sequence(der_integer(17)))]
    assert _outcome_code(tree, 0x0108) == 17  # StatusCode: 1003 is no member
    assert _outcome_code(tree, 0x0012) == 1003  # no member anywhere: the first INTEGER
    assert _outcome_code([der_sequence(der_integer(0))], 0x0108) == 0  # success only
