"""The ESME's auxiliary controllers (ALCS / HCALCS / APC) and identity, over GBCS frames.

* 0-0:94.44.0.21-25: each controller's type and identifier (DUIS SR 7.15 types: an
  HCALCS's EUI-64, eight zero octets for an ALCS, one octet FF for an APC, empty for none);
  the factory fit is ALCS, ALCS, APC, none, ALCS, and ECS46c may rewrite any of the five.
* 0-0:94.44.119.2: the end of a commanded state, written as a duration (long-unsigned,
  ECS47) or as an end date-time (octet-string(12), ECS47a), whichever came last.
* 0-0:96.1.6.255: the manufacturer identifier, three characters unpadded.
"""

from __future__ import annotations

import pytest

from devices.cosem import ProfileError, load_profile
from devices.device import Device
from gbcs.axdr import Data
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import DataAccessResult, GetSpec, Obis, SetSpec
from tests.devkit import T0, Bench, bench, dlms_command, responses

ECS46C = 0x0054
ECS47 = 0x0055
ECS47A = 0x011E
ECS61E = 0x011D
ECS26E = 0x003F

SWITCHES = [Obis.parse(f"0-0:94.44.0.{20 + n}") for n in range(1, 6)]
STATE_END = Obis.parse("0-0:94.44.119.2")
HCALCS = bytes.fromhex("00DB1234567890A5")


def _read_switches(b: Bench, esme: Device) -> list[bytes]:
    out = esme.receive(
        dlms_command(b, "ESME", ECS61E, tuple(GetSpec(1, o, 2) for o in SWITCHES)), T0
    )
    (rsp,) = responses(out)
    assert [r.result for r in rsp.payload.results] == [DataAccessResult.SUCCESS] * 5
    return [d.value for d in rsp.payload.data]


def _set(b: Bench, esme: Device, code: int, obis: Obis, value: Data) -> int:
    out = esme.receive(dlms_command(b, "ESME", code, (SetSpec(1, obis, 2),), (value,)), T0)
    (rsp,) = responses(out)
    return int(rsp.payload.results[0].result)


def test_factory_fit_reads_as_the_four_controller_types() -> None:
    b = bench()
    esme = b.device("ESME")
    assert _read_switches(b, esme) == [bytes(8), bytes(8), b"\xff", b"", bytes(8)]


def test_ecs46c_configures_all_five_controllers_and_they_read_back() -> None:
    b = bench()
    esme = b.device("ESME")
    ids = [bytes(8), bytes(8), HCALCS, bytes(8), bytes(8)]
    specs = tuple(SetSpec(1, o, 2) for o in SWITCHES)
    out = esme.receive(
        dlms_command(b, "ESME", ECS46C, specs, tuple(Data.octet_string(v) for v in ids)), T0
    )
    (rsp,) = responses(out)
    assert [r.result for r in rsp.payload.results] == [DataAccessResult.SUCCESS] * 5
    assert _read_switches(b, esme) == ids


def test_controller_identity_survives_a_restart() -> None:
    b = bench()
    esme = b.device("ESME")
    assert _set(b, esme, ECS46C, SWITCHES[3], Data.octet_string(HCALCS)) == 0
    state = esme.to_dict()
    again = b.device("ESME")
    again.load_state(state)
    assert _read_switches(b, again)[3] == HCALCS


def _held_state_end(esme: Device) -> Data | None:
    obj = esme.model.find(1, STATE_END)  # type: ignore[attr-defined]
    assert obj is not None
    return obj.attributes.get(2)


def test_state_end_takes_a_duration_then_a_date_time_and_back() -> None:
    b = bench()
    esme = b.device("ESME")
    end = Data.octet_string(DlmsDateTime.from_datetime(T0).to_bytes())
    assert _set(b, esme, ECS47, STATE_END, Data.long_unsigned(60)) == 0
    assert _held_state_end(esme) == Data.long_unsigned(60)
    assert _set(b, esme, ECS47A, STATE_END, end) == 0
    assert _held_state_end(esme) == end
    assert _set(b, esme, ECS47, STATE_END, Data.long_unsigned(30)) == 0
    assert _held_state_end(esme) == Data.long_unsigned(30)


def test_state_end_refuses_other_types_and_keeps_its_value() -> None:
    b = bench()
    esme = b.device("ESME")
    assert _set(b, esme, ECS47, STATE_END, Data.long_unsigned(60)) == 0
    for bad in (
        Data.double_long_unsigned(60),
        Data.octet_string(bytes(5)),  # a COSEM date, not a date-time
        Data.octet_string(b""),
    ):
        assert _set(b, esme, ECS47A, STATE_END, bad) == DataAccessResult.TYPE_UNMATCHED
        assert _held_state_end(esme) == Data.long_unsigned(60)


def test_state_end_survives_a_restart() -> None:
    b = bench()
    esme = b.device("ESME")
    end = Data.octet_string(DlmsDateTime.from_datetime(T0).to_bytes())
    assert _set(b, esme, ECS47A, STATE_END, end) == 0
    again = b.device("ESME")
    again.load_state(esme.to_dict())
    assert _held_state_end(again) == end
    # and it still takes the other shape afterwards
    assert _set(b, again, ECS47, STATE_END, Data.long_unsigned(5)) == 0


def test_manufacturer_identifier_is_three_characters() -> None:
    b = bench()
    esme = b.device("ESME")
    spec = GetSpec(1, Obis.parse("0-0:96.1.6.255"), 2)
    (rsp,) = responses(esme.receive(dlms_command(b, "ESME", ECS26E, (spec,)), T0))
    assert rsp.payload.results[0].result == DataAccessResult.SUCCESS
    assert len(rsp.payload.data[0].value) == 3


def test_chf_manufacturer_identifier_is_three_characters() -> None:
    obj = load_profile("chf").find(1, Obis.parse("0-0:96.1.6.255"))
    assert obj is not None
    assert obj.attributes[2] == Data.octet_string(b"   ")


def test_a_bad_saved_state_end_is_refused_before_anything_changes() -> None:
    b = bench()
    esme = b.device("ESME")
    assert _set(b, esme, ECS47, STATE_END, Data.long_unsigned(60)) == 0
    state = esme.to_dict()
    state["esme"] = {**state["esme"], "aux_state_end": "zz", "control_state": 0}
    with pytest.raises(ProfileError, match=r"esme\.aux_state_end"):
        esme.load_state(state)
    assert _held_state_end(esme) == Data.long_unsigned(60)
    assert esme.control_state == 1  # type: ignore[attr-defined]
