"""Every DUIS request body of an SRV that targets an emulated device type has a typed
view (``routing.typed_body``), transformed or not yet."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import model, routing, tables
from emulator.duis.bodies import SR_NS, Body, DuisModelError
from emulator.duis.routes_config import AlertBehaviour, AlertSetting, ControllerScheduler
from emulator.duis.transform import EMULATED_DEVICE_TYPES
from tests import duiskit


def _body(name: str, inner: str) -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def test_every_template_for_an_emulated_device_has_a_typed_body() -> None:
    d = duiskit.require_duis()
    rows = [json.loads(line) for line in (d / "pairs.jsonl").read_text().splitlines() if line]
    checked = 0
    for row in rows:
        srv = tables.srv(row["srv"])
        assert srv is not None
        if srv.non_device or not set(srv.device_types) & set(EMULATED_DEVICE_TYPES):
            continue
        request = model.parse((d / "templates" / row["template"]).read_bytes())
        assert isinstance(request, model.Request)
        assert routing.typed_body(request.body) is not None, row["template"]
        checked += 1
    assert checked >= 270


def test_alert_behaviour_reads_codes_and_settings() -> None:
    inner = (
        "<sr:ElectricitySupplierAlerts><sr:SupplierESMECommon><sr:x810D>Enable</sr:x810D>"
        "<sr:x810E>Disable</sr:x810E></sr:SupplierESMECommon></sr:ElectricitySupplierAlerts>"
    )
    typed = routing.typed_body(_body("ConfigureAlertBehaviour", inner))
    assert typed == AlertBehaviour(
        "ElectricitySupplierAlerts",
        (("SupplierESMECommon", (AlertSetting(0x810D, True), AlertSetting(0x810E, False))),),
    )
    gas = (
        "<sr:GasSupplierAlertEventSettings><sr:x810D><sr:WANAlert>Enable</sr:WANAlert>"
        "<sr:HANAlert>Disable</sr:HANAlert><sr:EventLog>Enable</sr:EventLog>"
        "<sr:Alarm>Disable</sr:Alarm></sr:x810D></sr:GasSupplierAlertEventSettings>"
    )
    flags = routing.typed_body(_body("ConfigureAlertBehaviour", gas)).sections[0][1][0].flags
    assert flags == (("WANAlert", True), ("HANAlert", False), ("EventLog", True), ("Alarm", False))


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        ("", "expected one of ElectricitySupplierAlerts"),
        ("<sr:Other/>", "unexpected Other"),
        ("<sr:GasSupplierAlerts><sr:x810D>Maybe</sr:x810D></sr:GasSupplierAlerts>",
         "x810D: 'Maybe' is not Enable or Disable"),
        ("<sr:GasSupplierAlerts><sr:Nope>Enable</sr:Nope></sr:GasSupplierAlerts>",
         "Nope is not an alert code"),
    ],
)  # fmt: skip
def test_bad_alert_behaviour_bodies_are_one_line_errors(inner: str, words: str) -> None:
    with pytest.raises(DuisModelError, match=words):
        routing.typed_body(_body("ConfigureAlertBehaviour", inner))


def _date(year: str = "<sr:SpecifiedYear>2026</sr:SpecifiedYear>") -> str:
    return (
        f"<sr:Year>{year}</sr:Year><sr:Month><sr:NonSpecifiedMonth/></sr:Month>"
        "<sr:DayOfMonth><sr:NonSpecifiedDayOfMonth/></sr:DayOfMonth>"
        "<sr:DayOfWeek><sr:NonSpecifiedDayOfWeek/></sr:DayOfWeek>"
    )


def test_the_auxiliary_controller_schedule_reads_its_entries() -> None:
    entry = (
        '<sr:AuxiliaryControllerSchedule><sr:AuxiliaryControllerAction auxiliaryControllerN="3">'
        "<sr:CommandedStateLevel>40</sr:CommandedStateLevel><sr:InputFromControlledLoad/>"
        '</sr:AuxiliaryControllerAction><sr:SpecialDaysApplicability identifier="2"/>'
        "<sr:AuxiliaryControllerSchedulePeriodAndTime><sr:SwitchTime>09:30:00</sr:SwitchTime>"
        f"<sr:StartDate>{_date()}</sr:StartDate><sr:EndDate>{_date()}</sr:EndDate>"
        "</sr:AuxiliaryControllerSchedulePeriodAndTime></sr:AuxiliaryControllerSchedule>"
    )
    days = (
        "<sr:AuxiliaryControllerSpecialDayDefinitions><sr:AuxiliaryControllerSpecialDayDefinition"
        f' identifier="2">{_date()}</sr:AuxiliaryControllerSpecialDayDefinition>'
        "</sr:AuxiliaryControllerSpecialDayDefinitions>"
    )
    name = "UpdateDeviceConfigurationAuxiliaryControllerScheduler"
    typed = routing.typed_body(_body(name, entry + entry + days))
    assert isinstance(typed, ControllerScheduler) and len(typed.schedule) == 2
    first = typed.schedule[0]
    assert (first.controller, first.level, first.input_from_controlled_load) == (3, 40, True)
    assert first.special_days == (2,) and first.weekdays is None
    assert first.start_date.year == 2026 and typed.special_days[0][0] == 2
    bad = entry.replace(">40<", ">140<")
    with pytest.raises(DuisModelError, match=r"140 is not in 0\.\.100"):
        routing.typed_body(_body(name, bad + days))
    with pytest.raises(DuisModelError, match="no AuxiliaryControllerSpecialDayDefinitions"):
        routing.typed_body(_body(name, entry))
