"""Bad input is normal input: no frame makes a device raise or change its functional state."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from devices.device import Device
from tests.devkit import T0, bench

_BENCH = bench()
_DEVICES = {k: _BENCH.device(k) for k in ("ESME", "GSME", "GPF", "CHF")}


def _functional(d: Device) -> str:
    s = d.to_dict()
    for k in ("security_log", "own_counter", "last_advance"):
        s.pop(k, None)
    if "zcl" in s:
        s["zcl"]["state"]["event_logs"].pop("4", None)
    return json.dumps(s, sort_keys=True)


def _mutations() -> st.SearchStrategy[bytes]:
    """Random bytes, and real-looking frames with random damage."""
    from gbcs.dlms import GetSpec, Obis
    from tests.devkit import dlms_command

    good = dlms_command(_BENCH, "ESME", 0x0052, (GetSpec(70, Obis.parse("0-0:96.3.10.255"), 3),))

    @st.composite
    def damaged(draw: st.DrawFn) -> bytes:
        b = bytearray(good)
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(b) - 1))
            b[i] = draw(st.integers(0, 255))
        cut = draw(st.integers(0, len(b)))
        return bytes(b[: cut or len(b)])

    return st.one_of(st.binary(max_size=300), damaged())


@pytest.mark.parametrize("kind", sorted(_DEVICES))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(frame=_mutations())
def test_any_frame_is_answered_or_refused_without_state_change(kind: str, frame: bytes) -> None:
    d = _DEVICES[kind]
    before = _functional(d)
    out = d.receive(frame, T0)
    if d.last_rejection is not None:
        assert _functional(d) == before
        assert all(o.kind.value == "alert" for o in out)
