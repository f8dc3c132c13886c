"""ESME behaviour end to end: commands in, frames out, state as the rules say."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devices.behaviours.load import LoadProfile
from devices.outbound import OutboundKind
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import ActionSpec, GetSpec, Obis, SetSpec
from gbcs.envelope import Envelope, SignatureForm
from gbcs.security import Verdict, check_mac, check_signature, decrypt_parts
from tests.devkit import NETWORK_OPERATOR, SUPPLIER, T0, alerts, bench, dlms_command, responses

SUPPLY = ActionSpec(9, Obis.parse("0-0:10.0.106.255"), 1)
CONTROL = GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3)


def test_supply_commands_are_critical_signed_and_change_control_state() -> None:
    b = bench()
    esme = b.device("ESME")
    out = esme.receive(dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),)), T0)
    (rsp,) = responses(out)
    assert rsp.envelope is Envelope.GENERAL_SIGNING
    assert rsp.signature_form is SignatureForm.PRESENT
    assert check_signature(rsp, b.store).verdict is Verdict.VALID
    assert rsp.payload.results[0].result == 0
    out = esme.receive(dlms_command(b, "ESME", 0x0052, (CONTROL,)), T0)
    (rsp,) = responses(out)
    assert rsp.envelope is Envelope.GENERAL_CIPHERING
    assert rsp.signature_form is SignatureForm.NULL
    assert check_mac(rsp, b.store).verdict is Verdict.VALID
    assert rsp.payload.data[0].value == 0  # disconnected
    esme.receive(dlms_command(b, "ESME", 0x0051, (SUPPLY,), (Data.long_unsigned(54),)), T0)
    rsp = responses(esme.receive(dlms_command(b, "ESME", 0x0052, (CONTROL,)), T0))[0]
    assert rsp.payload.data[0].value == 2  # armed
    esme.receive(dlms_command(b, "ESME", 0x004F, (SUPPLY,), (Data.long_unsigned(51),)), T0)
    rsp = responses(esme.receive(dlms_command(b, "ESME", 0x0052, (CONTROL,)), T0))[0]
    assert rsp.payload.data[0].value == 1


def test_no_energy_accrues_while_disconnected() -> None:
    b = bench()
    esme = b.device("ESME", options={"load_profile": LoadProfile.constant(1000).to_dict()})
    esme.advance(T0 + timedelta(hours=1))
    assert esme.load.import_wh == 1000
    esme.receive(
        dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),)),
        T0 + timedelta(hours=1),
    )
    esme.advance(T0 + timedelta(hours=3))
    assert esme.load.import_wh == 1000


@pytest.mark.parametrize(
    ("seconds", "code"), [(179, 0x8F35), (180, 0x8F36), (181, 0x8F36), (9 * 60, 0x8F36)]
)
def test_outage_restoration_alert_boundary(seconds: int, code: int) -> None:
    b = bench()
    esme = b.device("ESME")
    start = T0 + timedelta(hours=2)
    assert esme.lose_mains(start) == []
    assert esme.power_log.codes() == [0x8F57]
    out = esme.restore_mains(start + timedelta(seconds=seconds))
    (alert,) = alerts(out)
    assert alert.code == 0x0067
    assert alert.alert_code == code
    assert alert.to == NETWORK_OPERATOR
    msg = decode(alert.frame)
    assert msg.envelope is Envelope.GENERAL_SIGNING
    assert check_signature(msg, b.store).verdict is Verdict.VALID
    body = msg.payload.body.value
    assert body[0].value == code
    interruption = DlmsDateTime.from_bytes(body[2].value).to_datetime()
    restoration = DlmsDateTime.from_bytes(body[3].value).to_datetime()
    assert interruption == start
    assert restoration - interruption == timedelta(seconds=seconds)


def test_maximum_demand_worked_example_end_to_end() -> None:
    """domain-rules §1.6: window 17:00-22:00, 16:30 = 2.0 kWh, 17:30 = 1.5 kWh."""
    day = T0.replace(hour=0)
    overrides = {
        day + timedelta(hours=16, minutes=30): 2000,
        day + timedelta(hours=17, minutes=30): 1500,
    }
    profile = LoadProfile.constant(100).with_overrides(import_overrides=overrides)
    b = bench()
    esme = b.device("ESME", options={"load_profile": profile.to_dict()})
    schedule = esme.md.schedule_data()
    entries = []
    for entry, hour in zip(schedule.value, (17, 22), strict=True):
        fields = list(entry.value)
        fields[4] = Data.octet_string(bytes([hour, 0, 0, 0]))
        entries.append(Data.structure(*fields))
    set37 = SetSpec(10, Obis.parse("0-0:12.0.0.255"), 2)
    out = esme.receive(
        dlms_command(
            b, "ESME", 0x004A, (set37,), (Data.array(*entries),), originator=NETWORK_OPERATOR
        ),
        T0,
    )
    assert responses(out)[0].payload.results[0].result == 0
    later = day + timedelta(hours=23)
    read = (
        GetSpec(4, Obis.parse("1-0:1.6.0.255"), 2),
        GetSpec(4, Obis.parse("1-0:1.6.0.255"), 5),
        GetSpec(4, Obis.parse("1-0:1.6.1.255"), 2),
        GetSpec(4, Obis.parse("1-0:1.6.1.255"), 5),
    )
    rsp = responses(esme.receive(dlms_command(b, "ESME", 0x002C, read), later))[0]
    assert rsp.header.date_time is not None  # ECS18b responses carry a date-time
    values = [d.value for d in rsp.payload.data]
    assert values[0] == 4000
    assert DlmsDateTime.from_bytes(values[1]).to_datetime() == day + timedelta(hours=16, minutes=30)
    assert values[2] == 3000
    assert DlmsDateTime.from_bytes(values[3]).to_datetime() == day + timedelta(hours=17, minutes=30)
    # ECS57 resets all three and stamps the reset time; ECS37 never did.
    reset = tuple(
        ActionSpec(4, Obis.parse(o), 1) for o in ("1-0:1.6.0.255", "1-0:1.6.1.255", "1-0:2.6.0.255")
    )
    out = esme.receive(
        dlms_command(
            b,
            "ESME",
            0x005A,
            reset,
            tuple(Data.integer(0) for _ in reset),
            originator=NETWORK_OPERATOR,
        ),
        later,
    )
    assert [r.result for r in responses(out)[0].payload.results] == [0, 0, 0]
    assert esme.md.import_all.value == 0
    assert esme.md.import_window.value == 0


def test_ecs37_altering_a_constant_is_rejected_and_schedule_kept() -> None:
    b = bench()
    esme = b.device("ESME")
    before = esme.md.schedule_data()
    entries = []
    for entry in before.value:
        fields = list(entry.value)
        fields[8] = Data.octet_string(bytes.fromhex("07E90101FF"))  # begin date changed
        entries.append(Data.structure(*fields))
    set37 = SetSpec(10, Obis.parse("0-0:12.0.0.255"), 2)
    out = esme.receive(
        dlms_command(
            b, "ESME", 0x004A, (set37,), (Data.array(*entries),), originator=NETWORK_OPERATOR
        ),
        T0,
    )
    assert responses(out)[0].payload.results[0].result != 0
    assert esme.md.schedule_data() == before


def test_display_and_protected_register_read() -> None:
    b = bench()
    esme = b.device("ESME", options={"load_profile": LoadProfile.constant(1_000_000).to_dict()})
    esme.advance(T0 + timedelta(hours=1234, minutes=34))
    assert esme.load.import_wh == 1_234_566_666
    assert esme.display == "34566"
    from gbcs.dlms import GetProtectedAttributesRequest, ProtectedObject, ProtectionParameters

    originator = SUPPLIER
    c = b.builder.next_counter(originator)
    params = ProtectionParameters.gbcs(c, originator, esme.eui)
    req = GetProtectedAttributesRequest(
        (ProtectedObject(1, Obis.parse("0-0:94.44.34.10"), 2),), (params,)
    )
    cmd = dlms_command(
        b,
        "ESME",
        0x0027,
        (ActionSpec(30, Obis.parse("0-0:43.2.8.255"), 1),),
        (req.to_data(),),
        counter=c,
    )
    rsp = responses(esme.receive(cmd, T0 + timedelta(hours=1234, minutes=34)))[0]
    (part,) = decrypt_parts(rsp, b.store)
    assert part.plaintext is not None
    from gbcs.axdr import decode_data_bytes

    plain = decode_data_bytes(part.plaintext)

    def first_dlu(d: Data) -> int | None:
        if d.tag == 6:
            return d.value
        if d.tag in (1, 2):
            for x in d.value:
                v = first_dlu(x)
                if v is not None:
                    return v
        return None

    assert first_dlu(plain) == 1_234_566_666  # full register over GBCS, not the display


def test_state_round_trip_keeps_behaviour() -> None:
    b = bench()
    esme = b.device("ESME")
    esme.receive(dlms_command(b, "ESME", 0x0050, (SUPPLY,), (Data.long_unsigned(52),)), T0)
    saved = esme.to_dict()
    fresh = b.device("ESME")
    fresh.load_state(saved)
    assert fresh.to_dict() == saved
    assert fresh.control_state == 0
    # the restored counter refuses a replay of a counter it accepted before the restart
    cmd = dlms_command(
        b,
        "ESME",
        0x0050,
        (SUPPLY,),
        (Data.long_unsigned(52),),
        counter=b.builder.counters[SUPPLIER],
    )
    out = fresh.receive(cmd, T0)
    assert responses(out) == []
    assert fresh.last_rejection is not None and fresh.last_rejection.check.value == "replay"
    assert [o.kind for o in out] == [OutboundKind.ALERT]


def test_invalid_clock_logs_have_no_made_up_times_and_range_reads_skip_them() -> None:
    """IRP571: with an invalid clock, entries carry no timestamp and no range returns them."""
    from gbcs.dlms import GetWithSelectionSpec

    b = bench()
    esme = b.device("ESME")
    esme.log_security(0x8F3D, T0, "timed")
    esme.clock.invalidate()
    esme.log_security(0x8F3E, T0 + timedelta(minutes=1), "untimed")
    assert [e.at for e in esme.security_log][-1] is None
    esme.clock.set(T0, T0)  # valid again
    restriction = Data.structure(
        Data.structure(
            Data.long_unsigned(1),
            Data.octet_string(bytes.fromhex("00005E2C64FF")),
            Data.integer(2),
            Data.long_unsigned(0),
        ),
        Data.double_long_unsigned(0),
        Data.double_long_unsigned(0xFFFFFFFF),
        Data.array(),
    )
    spec = GetWithSelectionSpec(7, Obis.parse("0-0:99.98.1.255"), 2, 1, restriction)
    from gbcs.usecases import by_name

    uc = by_name("ECS35b")  # read the security log
    assert uc is not None
    rsp = responses(esme.receive(dlms_command(b, "ESME", uc.code, (spec,)), T0))
    rows = rsp[0].payload.data[0].value.elements()
    codes = [r.value[1].value for r in rows]
    assert 0x8F3D in codes and 0x8F3E not in codes


def test_ecs70_sets_the_clock_inside_its_window_only() -> None:
    from gbcs.usecases import by_name

    b = bench()
    esme = b.device("ESME")
    uc = by_name("ECS70")
    assert uc is not None
    clock = Obis.parse("0-0:1.0.0.255")

    def ecs70(start: timedelta, end: timedelta, now: object) -> list[int]:
        window = Data.structure(
            Data.octet_string(DlmsDateTime().to_bytes()),
            Data.octet_string(DlmsDateTime.from_datetime(T0 + start).to_bytes()),
            Data.octet_string(DlmsDateTime.from_datetime(T0 + end).to_bytes()),
        )
        specs = (ActionSpec(8, clock, 5), ActionSpec(8, clock, 4))
        cmd = dlms_command(b, "ESME", uc.code, specs, (window, Data.integer(0)))
        return [r.result for r in responses(esme.receive(cmd, now))[0].payload.results]  # type: ignore[arg-type]

    esme.clock.offset = 3600.0  # an hour fast
    assert ecs70(timedelta(hours=-1), timedelta(hours=1), T0) == [0, 0]
    assert esme.clock.offset == 0.0
    esme.clock.offset = 3600.0
    assert ecs70(timedelta(hours=1), timedelta(hours=2), T0) == [250, 2]
    assert esme.clock.offset == 3600.0


def test_max_demand_and_load_survive_a_restart() -> None:
    import json

    b = bench()
    esme = b.device("ESME", options={"load_profile": 2000})
    entries = []
    for entry, hour in zip(esme.md.schedule_data().value, (3, 5), strict=True):
        fields = list(entry.value)
        fields[4] = Data.octet_string(bytes([hour, 7, 0, 0]))
        entries.append(Data.structure(*fields))
    set37 = SetSpec(10, Obis.parse("0-0:12.0.0.255"), 2)
    cmd = dlms_command(
        b, "ESME", 0x004A, (set37,), (Data.array(*entries),), originator=NETWORK_OPERATOR
    )
    esme.receive(cmd, T0)
    esme.advance(T0 + timedelta(hours=2))
    saved = json.loads(json.dumps(esme.to_dict()))
    again = b.device("ESME")
    again.load_state(saved)
    assert again.md.schedule_data() == esme.md.schedule_data()
    assert str(again.md.schedule[0].switch_time).startswith("03:07")
    assert again.load.import_wh == esme.load.import_wh == 4000
    assert again.md.import_all.value == esme.md.import_all.value == 2000  # 2 kW average
