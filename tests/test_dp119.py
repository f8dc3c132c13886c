"""DP119 alert-storm consolidation at the CHF, for every device it carries, as a bench
drives it: alerts raised with the control API (``inject_alert``, ``power``) and commands
as GBCS frames, the WAN side read as frames, and a save/restore in the middle of a window.

The reading of DP119 (no algorithm in the sources) is documented in :mod:`devices.chf`:
identical = same originator, alert code and alert-specific data; a window fixed from the
first alert; ``storm_alerts`` chooses non-critical only (default) or all.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from devices.chf import Chf
from devices.control import execute_control
from devices.device import AlertSpec
from devices.esme import Esme
from devices.gpf import Gpf
from devices.gsme import Gsme
from devices.options import check_options
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from gbcs.axdr import Data
from gbcs.codec import decode
from gbcs.dlms import ActionSpec, DataNotification, Obis
from gbcs.envelope import Envelope
from gbcs.gbz import GbzPayload
from gbcs.tunnel import TunnelMessage
from keys.roles import RemotePartyRole
from tests.devkit import ACB, EUIS, T0, Bench, bench, dlms_command

WINDOW = 600  # seconds
T1 = T0 + timedelta(days=1)
NET = Obis.parse("0-0:30.3.0.255")

# A non-critical (MAC'd) and a critical (signed) alert each device type may raise.
NON_CRITICAL = {"ESME": 0x8145, "GSME": 0x81B4, "GPF": 0x8145, "CHF": 0x8145}
CRITICAL = {"ESME": 0x8F3F, "GSME": 0x8F3F, "GPF": 0x8F3F, "CHF": 0x8F3F}


# --------------------------------------------------------------------------- helpers


def _site(b: Bench, **chf: Any) -> Site:
    chf_dev = b.device("CHF", options=chf)
    esme = b.device("ESME")
    gsme = b.device("GSME", options={"gas_profile": 1000})
    gpf = b.device("GPF")
    assert isinstance(chf_dev, Chf) and isinstance(esme, Esme)
    assert isinstance(gsme, Gsme) and isinstance(gpf, Gpf)
    return Site(chf_dev, esme, gsme, gpf)


def _on(b: Bench, **extra: Any) -> Site:
    return _site(b, storm_consolidation=True, storm_window_seconds=WINDOW, **extra)


def _inject(
    site: Site, kind: str, code: int, now: datetime, **fields: Any
) -> tuple[dict[str, Any], list[Outbound]]:
    req = {"id": 1, "op": "inject_alert", "code": code, **fields}
    res = execute_control(site, EUIS[kind], req, now)
    assert res.reply["ok"] is True, res.reply
    return res.reply["result"], [o for o in res.outs if o.kind is OutboundKind.ALERT]


def _wan_alert_code(o: Outbound) -> int:
    """The alert code as the WAN side reads it from the frame."""
    p = decode(o.frame).payload
    if isinstance(p, DataNotification):
        assert p.alert_code is not None
        return p.alert_code
    assert isinstance(p, GbzPayload) and p.alert is not None
    return p.alert.alert_code


def _storm(site: Site, kind: str, code: int, start: datetime, n: int, **fields: Any) -> list[bool]:
    """``n`` identical alerts 10 s apart; which of them reached the WAN."""
    got = []
    for i in range(n):
        result, outs = _inject(site, kind, code, start + timedelta(seconds=10 * i), **fields)
        assert result["forwarded"] == bool(outs)
        got.append(bool(outs))
    return got


def _restart(b: Bench, site: Site, **chf: Any) -> Site:
    """The emulator saved and started again: new device objects, state from JSON."""
    state = json.loads(json.dumps(site.to_dict()))
    fresh = _site(b, **chf)
    fresh.load_state(state)
    return fresh


# --------------------------------------------------------------------------- tests


@pytest.mark.parametrize("kind", ["ESME", "GSME", "GPF", "CHF"])
def test_repeats_within_the_window_are_merged_into_the_first_for_every_device(kind: str) -> None:
    b = bench()
    site = _on(b)
    code = NON_CRITICAL[kind]
    first, outs = _inject(site, kind, code, T1)
    assert first["forwarded"] is True
    (sent,) = outs
    env = decode(sent.frame)
    assert env.header.originator == EUIS[kind]
    assert env.envelope is Envelope.GENERAL_CIPHERING  # non-critical: MAC'd, not signed
    assert _wan_alert_code(sent) == code
    assert sent.alert_code == code  # the WAN side is told the code, tunnelled or not
    assert _storm(site, kind, code, T1 + timedelta(seconds=10), 5) == [False] * 5
    assert site.chf.consolidated == 5
    # another code from the same device is not identical
    assert _inject(site, kind, 0x81C6, T1 + timedelta(seconds=70))[0]["forwarded"] is True
    # the window runs from the first alert, not from the last merged one
    end = T1 + timedelta(seconds=WINDOW)
    assert _storm(site, kind, code, end - timedelta(seconds=10), 3) == [False, True, False]
    assert site.chf.consolidated == 7


@pytest.mark.parametrize("kind", ["ESME", "GSME", "GPF", "CHF"])
def test_with_consolidation_off_every_alert_is_forwarded(kind: str) -> None:
    site = _site(bench(), storm_window_seconds=WINDOW)  # a window, but the feature is off
    assert _storm(site, kind, NON_CRITICAL[kind], T1, 4) == [True] * 4
    assert site.chf.consolidated == 0


def test_the_same_alert_from_two_devices_is_not_merged() -> None:
    site = _on(bench())
    for kind in ("ESME", "GPF", "CHF"):
        assert _inject(site, kind, 0x8145, T1)[0]["forwarded"] is True
    assert site.chf.consolidated == 0


def test_gsme_alert_code_is_read_from_the_tunnelled_frame() -> None:
    """The CHF only sees the PUT's bytes: a frame with no code outside it still merges."""
    b = bench()
    site = _on(b)
    gsme = site.gsme
    assert gsme is not None
    wan: list[Outbound] = []
    for i in range(3):
        now = T1 + timedelta(seconds=i)
        o = gsme.alert(AlertSpec(0x81B4, False, RemotePartyRole.SUPPLIER), now)
        put = TunnelMessage.put(o.frame).encode()
        # a bare tunnel PUT as it arrives over the HAN: no alert code beside the bytes
        wan += site.chf.tunnel(gsme.eui, put, now)
    (sent,) = wan
    assert sent.alert_code == 0x81B4
    assert site.chf.consolidated == 2


@pytest.mark.parametrize("kind", ["ESME", "GSME", "GPF", "CHF"])
def test_critical_alerts_are_forwarded_unless_storm_alerts_is_all(kind: str) -> None:
    code = CRITICAL[kind]
    site = _on(bench())
    assert _storm(site, kind, code, T1, 3) == [True] * 3
    sent = _inject(site, kind, code, T1 + timedelta(minutes=1))[1][0]
    # signed, which is how the CHF tells a critical alert it cannot verify
    assert decode(sent.frame).envelope is Envelope.GENERAL_SIGNING
    site = _on(bench(), storm_alerts="all")
    assert _storm(site, kind, code, T1, 3) == [True, False, False]


def test_alerts_with_different_specific_data_are_not_identical() -> None:
    b = bench()
    site = _on(b)
    d1 = [{"type": "double-long-unsigned", "value": 5}]
    d2 = [{"type": "double-long-unsigned", "value": 6}]
    assert _storm(site, "ESME", 0x8010, T1, 2, detail=d1) == [True, False]
    assert _inject(site, "ESME", 0x8010, T1 + timedelta(seconds=30), detail=d2)[0]["forwarded"]
    assert (
        _inject(site, "ESME", 0x8010, T1 + timedelta(seconds=40), detail=d1)[0]["forwarded"]
        is False
    )


def test_cs14_after_each_device_log_change_reaches_the_acb() -> None:
    """CCS01 frames: each CS14 carries a different Device Log, so none is merged."""
    b = bench()
    site = _on(b)
    codes = []
    for i in range(3):
        eui = bytes.fromhex("00DB12345678") + (0x10 + i).to_bytes(2, "big")
        param = Data.structure(
            Data.octet_string(eui), Data.enum(1), Data.octet_string(b"0123456789ABCDEF"),
            Data.enum(0),
        )  # fmt: skip
        frame = dlms_command(b, "CHF", 0x0001, (ActionSpec(104, NET, 1),), (param,),
                             originator=ACB)  # fmt: skip
        out = site.receive(frame, T1 + timedelta(seconds=i))
        codes += [_wan_alert_code(o) for o in out if o.kind is OutboundKind.ALERT]
    assert codes == [0x8F12] * 3
    # the same log with the same time stamp (CS14 stamps the log it carries) is a repeat
    later = T1 + timedelta(seconds=5)
    assert _inject(site, "CHF", 0x8F12, later)[0]["forwarded"] is True
    assert _inject(site, "CHF", 0x8F12, later)[0]["forwarded"] is False
    assert _inject(site, "CHF", 0x8F12, later + timedelta(seconds=1))[0]["forwarded"] is True


def test_power_outages_are_distinct_events_even_when_critical_alerts_merge() -> None:
    """ECS80 (0x8F36) for two outages carries different times: both reach the DNO."""
    site = _on(bench(), storm_alerts="all")
    got = []
    for start in (T1, T1 + timedelta(minutes=10)):
        for state, at in (("off", start), ("on", start + timedelta(minutes=4))):
            res = execute_control(site, EUIS["ESME"], {"id": 2, "op": "power", "state": state}, at)
            assert res.reply["ok"] is True, res.reply
            got += [_wan_alert_code(o) for o in res.outs if o.kind is OutboundKind.ALERT]
    assert got.count(0x8F36) == 2
    assert site.chf.consolidated == 0


def test_a_restart_mid_window_neither_repeats_nor_loses_an_alert() -> None:
    b = bench()
    site = _on(b)
    kinds = ("ESME", "GSME", "GPF", "CHF")
    for kind in kinds:
        assert _storm(site, kind, NON_CRITICAL[kind], T1, 2) == [True, False]
    saved = site.to_dict()
    windows = saved["devices"]["CHF"]["chf"]["storm"]["windows"]
    assert sorted(w["originator"].upper() for w in windows) == sorted(
        EUIS[k].hex().upper() for k in kinds
    )
    site = _restart(b, site, storm_consolidation=True, storm_window_seconds=WINDOW)
    assert site.chf.consolidated == 4
    mid = T1 + timedelta(seconds=WINDOW // 2)
    for kind in kinds:  # no repeat: still merged after the restart
        assert _inject(site, kind, NON_CRITICAL[kind], mid)[0]["forwarded"] is False
    # nothing lost: the window ends when it would have without the restart (a window
    # restarted at load time would hold these back)
    end = T1 + timedelta(seconds=WINDOW)
    for kind in kinds:
        assert _inject(site, kind, NON_CRITICAL[kind], end)[0]["forwarded"] is True
    assert site.chf.consolidated == 8
    # without the saved windows the mid-window alerts would have gone out again
    fresh = _on(b)
    assert _inject(fresh, "GSME", NON_CRITICAL["GSME"], mid)[0]["forwarded"] is True


def test_ended_windows_leave_the_saved_state() -> None:
    site = _on(bench())
    _inject(site, "ESME", 0x8145, T1)
    assert len(site.chf.to_dict()["chf"]["storm"]["windows"]) == 1
    _inject(site, "ESME", 0x81C6, T1 + timedelta(seconds=WINDOW + 1))
    (w,) = site.chf.to_dict()["chf"]["storm"]["windows"]
    assert w["code"] == 0x81C6


def test_a_state_saved_before_consolidation_was_persisted_loads() -> None:
    b = bench()
    site = _on(b)
    state = site.to_dict()
    del state["devices"]["CHF"]["chf"]["storm"]
    site.load_state(state)
    assert site.chf.storm_windows == {} and site.chf.consolidated == 0


@pytest.mark.parametrize(
    ("value", "expect"),
    [("critical", '"non-critical", "all"'), (True, '"non-critical", "all"')],
)
def test_storm_alerts_option_is_checked(value: object, expect: str) -> None:
    (problem,) = check_options("CHF", {"storm_alerts": value})
    assert problem.key == "storm_alerts" and expect in problem.message
    assert check_options("CHF", {"storm_alerts": "all"}) == []
    (other,) = check_options("ESME", {"storm_alerts": "all"})
    assert "CHF" in other.message
