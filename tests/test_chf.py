"""CHF behaviour: device log, historic log, CS14, AD1 power-outage alert, alert storms."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from devices.chf import HISTORIC_LOG_SIZE, Chf
from devices.outbound import Outbound, OutboundKind, PeerKind
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import ActionSpec, Obis
from gbcs.envelope import Envelope
from gbcs.security import Verdict, check_mac
from gbcs.zcl import utc_from_datetime
from tests.devkit import ACB, T0, alerts, bench, dlms_command, responses

NET = Obis.parse("0-0:30.3.0.255")
HIST = Obis.parse("0-0:30.3.1.255")


def _eui(i: int) -> bytes:
    return bytes.fromhex("00DB12345678") + i.to_bytes(2, "big")


def _add(b, chf: Chf, eui: bytes, dtype: int = 1) -> list[Outbound]:
    param = Data.structure(
        Data.octet_string(eui),
        Data.enum(dtype),
        Data.octet_string(b"0123456789ABCDEF"),
        Data.enum(0),
    )
    return chf.receive(
        dlms_command(b, "CHF", 0x0001, (ActionSpec(104, NET, 1),), (param,), originator=ACB), T0
    )


def _remove(b, chf: Chf, eui: bytes) -> list[Outbound]:
    return chf.receive(
        dlms_command(
            b, "CHF", 0x0002, (ActionSpec(104, NET, 2),), (Data.octet_string(eui),), originator=ACB
        ),
        T0,
    )


def test_ccs01_adds_device_and_raises_cs14_with_the_whole_log() -> None:
    b = bench()
    chf = b.device("CHF")
    out = _add(b, chf, _eui(1))
    (rsp,) = responses(out)
    assert rsp.payload.results[0].result == 0
    (cs14,) = alerts(out)
    assert (cs14.code, cs14.alert_code, cs14.to) == (0x0018, 0x8F12, ACB)
    msg = decode(cs14.frame)
    assert msg.envelope is Envelope.GENERAL_CIPHERING  # non-critical alert: MAC'd
    assert check_mac(msg, b.store).verdict is Verdict.VALID
    log = msg.payload.body.value[2].value[2].value
    assert [(e.value[0].value, e.value[1].value) for e in log] == [(_eui(1), b"")]
    # a second CCS01 for the same ID keeps the entry (key ignored) and still succeeds
    chf.device_log[_eui(1)].link_key = b"K" * 16
    out = _add(b, chf, _eui(1))
    assert responses(out)[0].payload.results[0].result == 0
    assert chf.device_log[_eui(1)].link_key == b"K" * 16
    log = decode(alerts(out)[0].frame).payload.body.value[2].value[2].value
    assert len(log[0].value[1].value) == 16  # hashed key now present


def test_ccs02_moves_keyed_devices_to_a_15_entry_historic_log() -> None:
    b = bench()
    chf = b.device("CHF")
    for i in range(HISTORIC_LOG_SIZE + 2):
        _add(b, chf, _eui(i))
        chf.han_join(_eui(i), T0, link_key=bytes([i]) * 16)
    _add(b, chf, _eui(99), dtype=2)  # the GPF never goes to the historic log
    chf.han_join(_eui(99), T0, link_key=b"G" * 16)
    for i in range(HISTORIC_LOG_SIZE + 2):
        assert responses(_remove(b, chf, _eui(i)))[0].payload.results[0].result == 0
    _remove(b, chf, _eui(99))
    hist = [e.eui for e in chf.historic_log]
    assert len(hist) == HISTORIC_LOG_SIZE
    assert hist == [_eui(i) for i in range(2, HISTORIC_LOG_SIZE + 2)]  # oldest overwritten
    # removing an absent device succeeds and changes nothing
    before = chf.to_dict()["chf"]
    assert responses(_remove(b, chf, _eui(500)))[0].payload.results[0].result == 0
    assert chf.to_dict()["chf"] == before
    # CCS07 reads both backups: the historic one holds the 15 keys
    specs = (ActionSpec(104, NET, 4), ActionSpec(104, HIST, 4))
    out = chf.receive(dlms_command(b, "CHF", 0x00FE, specs, originator=ACB), T0)
    rsp = responses(out)[0].payload
    assert [r.result for r in rsp.results] == [0, 0]
    backup = rsp.data[1].value[2].value
    assert [e.value[0].value for e in backup] == hist
    assert backup[-1].value[1].value == bytes([HISTORIC_LOG_SIZE + 1]) * 16


def test_re_added_device_gets_its_historic_key_back() -> None:
    b = bench()
    chf = b.device("CHF")
    _add(b, chf, _eui(7))
    chf.han_join(_eui(7), T0, link_key=b"k" * 16)
    _remove(b, chf, _eui(7))
    _add(b, chf, _eui(7))
    assert chf.device_log[_eui(7)].link_key == b"k" * 16


def _ad1(out: list[Outbound]) -> list[Outbound]:
    return [o for o in out if o.kind is OutboundKind.POWER_OUTAGE]


@pytest.mark.parametrize(("seconds", "expected"), [(179, 0), (180, 0), (181, 1), (600, 1)])
def test_ad1_only_after_more_than_three_minutes(seconds: int, expected: int) -> None:
    b = bench()
    chf = b.device("CHF")
    off = T0 + timedelta(hours=1)
    chf.lose_power(off)
    sent = []
    for s in range(0, seconds + 1, 1):
        sent += _ad1(chf.advance(off + timedelta(seconds=s)))
    sent += _ad1(chf.restore_power(off + timedelta(seconds=seconds)))
    sent += _ad1(chf.advance(off + timedelta(hours=1)))
    assert len(sent) == expected
    if sent:
        record = json.loads(sent[0].frame)
        assert record["alert"] == "AD1"
        assert record["outage_start"] == off.isoformat()
        assert sent[0].peer is PeerKind.REMOTE_PARTY


def test_ad1_delivery_latency_is_configurable() -> None:
    b = bench()
    chf = b.device("CHF", options={"ad1_latency_seconds": 240})
    off = T0 + timedelta(hours=1)
    chf.lose_power(off)
    assert _ad1(chf.advance(off + timedelta(seconds=181))) == []
    assert _ad1(chf.advance(off + timedelta(seconds=419))) == []
    (a,) = _ad1(chf.advance(off + timedelta(seconds=420)))
    assert json.loads(a.frame)["sent"] == (off + timedelta(seconds=420)).isoformat()
    # the pending alert survives a restart
    state = chf.to_dict()
    assert state["chf"]["ad1_sent"] == [off.isoformat()]


def test_alert_storm_consolidation_off_by_default_and_merges_when_on() -> None:
    b = bench()
    alert = Outbound(b"x", ACB, PeerKind.REMOTE_PARTY, OutboundKind.ALERT, 0x1001, 0x8F73)
    plain = b.device("CHF")
    assert all(plain.forward_alert(alert, _eui(1), T0 + timedelta(seconds=i)) for i in range(5))
    on = b.device("CHF", options={"storm_consolidation": True, "storm_window_seconds": 60})
    got = [on.forward_alert(alert, _eui(1), T0 + timedelta(seconds=i * 10)) for i in range(8)]
    assert got == [True, False, False, False, False, False, True, False]
    assert on.consolidated == 6
    # another originator or another code is not merged
    assert on.forward_alert(alert, _eui(2), T0)


def test_chf_is_the_time_source_of_its_han() -> None:
    b = bench()
    chf = b.device("CHF")
    t, status = chf.time_cluster(T0 + timedelta(seconds=5))
    assert t == utc_from_datetime(T0 + timedelta(seconds=5))
    assert status == 0x09
