"""The ``profile`` decode hook: log and profile-buffer reads answer entries, not hex.

A profile buffer (billing data log, daily read log, half-hour profiles, voltage
profiles, CHF and ESME event logs, boost log) comes back as a compact array of rows, each
led by its capture time (double-long-unsigned UTC seconds since 2000). The generic decode
shows a compact array as hex; the hook turns each named value that holds one into
``[{time, values}]``, oldest first.
"""

from __future__ import annotations

from typing import Any

import pytest

from emulator.headend.catalogue.described import all_descriptions, described_entry
from emulator.headend.catalogue.entry import ResponseView
from emulator.headend.catalogue.hooks import HOOKS
from gbcs.axdr import CompactArray, Data, DataType, TypeDescription
from gbcs.dlms import AccessResponse, GetResult

#: The descriptions whose response holds a profile buffer or log (all decoded by the hook).
PROFILE_READS = (
    *("ECS20a", "ECS20b", "ECS20c", "ECS20d", "ECS21a", "ECS21b", "ECS21c"),
    *("ECS22a", "ECS22b", "ECS22c", "ECS23", "ECS23b", "ECS35c", "ECS35d"),
    *("ECS35e", "ECS35f", "ECS35g", "ECS61c", "ECS66", "DBCH02"),
)
T2014 = 473212800  # 2014-12-30T00:00:00Z in UTC seconds since 2000
T2014_ISO = "2014-12-30T00:00:00+00:00"


class _Message:
    """What a decoder reads of a verified response: its payload."""

    def __init__(self, payload: AccessResponse) -> None:
        self.payload = payload


def _compact(*rows: tuple[Data, ...]) -> Data:
    td = TypeDescription.structure(*(TypeDescription.simple(f.tag) for f in rows[0]))
    return Data.compact_array(CompactArray.from_elements(td, [Data.structure(*r) for r in rows]))


def _view(*items: Data, plaintexts: tuple[Any, ...] = ()) -> ResponseView:
    payload = AccessResponse(1, items, tuple(GetResult(0) for _ in items))
    return ResponseView(_Message(payload), plaintexts, {})  # type: ignore[arg-type]


def _values(name: str, view: ResponseView) -> dict[str, Any]:
    return described_entry(all_descriptions()[name.upper()]).values(view)


def _u32(n: int) -> Data:
    return Data.double_long_unsigned(n)


def test_every_profile_read_uses_the_hook() -> None:
    assert "profile" in HOOKS and HOOKS["profile"].fill is None  # decode only
    for name in PROFILE_READS:
        assert all_descriptions()[name.upper()].hook == "profile", name


def test_a_profile_buffer_becomes_entries_with_their_capture_time() -> None:
    half_hour = _compact((_u32(T2014), _u32(81)), (_u32(T2014 + 1800), _u32(95)))
    values = _values("ECS22c", _view(half_hour))
    assert values == {
        "ok": True,
        "profile_data": [
            {"time": T2014_ISO, "values": [81]},
            {"time": "2014-12-30T00:30:00+00:00", "values": [95]},
        ],
    }


def test_an_event_log_row_keeps_its_code_and_data_typed() -> None:
    row = (_u32(T2014), Data.long_unsigned(0x8F12), Data.octet_string(b"\x00\x9b"))
    values = _values("ECS35c", _view(_compact(row)))
    assert values["event_log"] == [{"time": T2014_ISO, "values": [0x8F12, "009B"]}]


def test_an_empty_log_is_an_empty_list() -> None:
    td = TypeDescription.structure(*(TypeDescription.simple(DataType.DOUBLE_LONG_UNSIGNED),) * 2)
    empty = Data.compact_array(CompactArray.from_elements(td, []))
    assert _values("ECS21c", _view(empty)) == {"ok": True, "daily_read_log": []}


def test_each_value_gets_its_own_profile_and_other_values_are_untouched() -> None:
    su = Data.structure(Data.integer(0), Data.enum(255))
    phases = []
    for volts in (230, 231, 232):
        profile = _compact((_u32(T2014), _u32(volts)))
        phases += [_u32(1), su, _u32(2), su, profile, _u32(3600)]
    values = _values("ECS23b", _view(*phases))
    for n, volts in zip((1, 2, 3), (230, 231, 232), strict=True):
        assert values[f"phase{n}_voltage_profile"] == [{"time": T2014_ISO, "values": [volts]}]
        assert values[f"phase{n}_under_voltage_counter"] == 1
        assert values[f"phase{n}_voltage_profile_period"] == 3600


def test_a_decrypted_plaintext_holding_two_logs() -> None:
    energy = _compact((_u32(T2014), _u32(10), _u32(20)))
    prepay = _compact((_u32(T2014), Data.double_long(-5)))
    protected = Data.structure(Data.null(), Data.octet_string(b"\x31" + bytes(11)))
    values = _values("ECS20c", _view(protected, plaintexts=(Data.structure(energy, prepay),)))
    assert values["billing_data_log"] == [{"time": T2014_ISO, "values": [10, 20]}]
    assert values["prepayment_billing_data_log"] == [{"time": T2014_ISO, "values": [-5]}]


def test_a_row_without_a_leading_time_keeps_all_its_fields() -> None:
    values = _values("ECS22c", _view(_compact((Data.long_unsigned(7), _u32(9)))))
    assert values["profile_data"] == [{"values": [7, 9]}]


def test_a_failed_read_has_no_entries() -> None:
    payload = AccessResponse(1, (Data.null(),), (GetResult(11),))
    values = described_entry(all_descriptions()["ECS22C"]).values(
        ResponseView(_Message(payload), (), {})  # type: ignore[arg-type]
    )
    assert values["ok"] is False and values["errors"] == ["results[0]: object-unavailable"]
    assert values.get("profile_data") is None  # no entries (a raw value keeps the null)


@pytest.mark.interop
@pytest.mark.parametrize("name", ["ECS20a", "ECS21c", "ECS22a", "ECS23", "ECS35c", "DBCH02"])
def test_rtds_responses_decode_into_entries(name: str) -> None:
    from gbcs.codec import decode
    from tests.interop import vectors

    [v] = [
        v
        for v in vectors()
        if v["direction"] == "response" and v.get("rtds_case") == name and "ERROR" not in v["id"]
    ]
    message = decode(bytes.fromhex(v["hex"]))
    values = described_entry(all_descriptions()[name.upper()]).values(
        ResponseView(message, (), {})  # the unencrypted reads
    )
    [entries] = [x for x in values.values() if isinstance(x, list)]
    assert entries, name
    times = [e["time"] for e in entries]
    assert times == sorted(times) and all(t.startswith("20") for t in times)
    assert all(e["values"] for e in entries)
