"""The DUIS service's inventory (emulator.duis.inventory): entries derived from the fleet,
the status rules (MP105's Suspended device), SRV 8.2's DSPInventory."""

from __future__ import annotations

import pytest

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import model, xmlsig
from emulator.duis.inventory import UPRN_BASE, Inventory, dsp_inventory
from emulator.duis.model import RequestId, Response, ResponseHeader, ResponseMessage
from emulator.runtime.config import FleetConfig
from tests import duiskit

ESME, GSME, CHF, GPF = (bytes.fromhex(f"00DB1234567890A{i}") for i in range(4))


def _fleet(sites: int = 1) -> FleetConfig:
    return FleetConfig(sites=sites)


def test_a_device_of_the_fleet_is_commissioned_and_others_are_unknown() -> None:
    inventory = Inventory(_fleet())
    esme = inventory.get(ESME)
    assert esme is not None
    assert (esme.device_type, esme.status, esme.site, esme.esme_variant) == (
        "ESME",
        "Commissioned",
        0,
        "A",
    )
    assert esme.dashed_id == "00-DB-12-34-56-78-90-A0"
    gsme = inventory.get(GSME)
    assert gsme is not None and gsme.device_type == "GSME" and gsme.esme_variant is None
    assert inventory.get(bytes.fromhex("00DB1234567890B0")) is None


def test_a_large_fleet_costs_nothing_per_device() -> None:
    inventory = Inventory(_fleet(100_000), esme_variant="C")
    last = (int.from_bytes(ESME, "big") + 4 * 99_999 + 2).to_bytes(8, "big")
    device = inventory.get(last)
    assert device is not None and device.site == 99_999 and device.device_type == "CHF"
    assert inventory.get((int.from_bytes(last, "big") + 8).to_bytes(8, "big")) is None
    assert inventory.statuses == {}


def test_mp105_a_lost_activation_response_leaves_only_the_firmware_read() -> None:
    inventory = Inventory(_fleet())
    inventory.firmware_activation_lost(ESME)
    esme = inventory.get(ESME)
    assert esme is not None and esme.status == "Suspended"
    assert inventory.refusal(esme, "11.2") is None
    for srv in ("4.1.1", "7.2", "11.3"):
        reason = inventory.refusal(esme, srv)
        assert reason is not None and "MP105" in reason and "only SRV 11.2" in reason
    other = inventory.get(GSME)
    assert other is not None and inventory.refusal(other, "7.2") is None
    assert inventory.statuses == {ESME: "Suspended"}  # what the service persists
    inventory.clear_status(ESME)
    cleared = inventory.get(ESME)
    assert cleared is not None and inventory.refusal(cleared, "7.2") is None
    assert inventory.statuses == {}


def test_the_mp105_papers_wider_rule_is_a_policy() -> None:
    inventory = Inventory(_fleet(), suspended_policy="mp105")
    inventory.firmware_activation_lost(ESME)
    esme = inventory.get(ESME)
    assert esme is not None
    for srv in ("11.1", "11.2", "6.23"):  # the exceptions, critical or not
        assert inventory.refusal(esme, srv) is None
    assert inventory.refusal(esme, "7.2", critical=True) is None  # critical requests pass
    reason = inventory.refusal(esme, "4.1.1")
    assert reason is not None and "critical requests and SRVs 11.1, 11.2 and 6.23" in reason
    with pytest.raises(ValueError, match="one of firmware-read, mp105"):
        Inventory(_fleet(), suspended_policy="lenient")


def test_statuses_come_back_from_what_was_persisted() -> None:
    inventory = Inventory(_fleet(), statuses={GPF: "Decommissioned"})
    gpf = inventory.get(GPF)
    assert gpf is not None and gpf.status == "Decommissioned"
    reason = inventory.refusal(gpf, "11.2")
    assert reason is not None and "takes no service request" in reason
    with pytest.raises(ValueError, match="not a DUIS device status"):
        inventory.set_status(GPF, "Broken")
    with pytest.raises(ValueError, match="not a device of the fleet"):
        Inventory(_fleet(), statuses={bytes(8): "Suspended"})


def test_read_inventory_by_device_or_uprn_gives_the_premises() -> None:
    inventory = Inventory(_fleet(3))
    second = (int.from_bytes(ESME, "big") + 4 + 1).to_bytes(8, "big")  # site 1's GSME
    by_device = inventory.read("DeviceID", "-".join(f"{b:02X}" for b in second))
    assert [d.device_type for d in by_device] == ["ESME", "GSME", "CHF", "GPF"]
    assert {d.site for d in by_device} == {1}
    assert inventory.read("UPRN", str(UPRN_BASE + 1)) == by_device
    assert inventory.read("UPRN", str(UPRN_BASE + 3)) == []
    assert inventory.read("DeviceID", "nonsense") == []
    assert inventory.read("MPxN", "1234567890123") == []


def test_dsp_inventory_is_a_valid_srv_8_2_response() -> None:
    inventory = Inventory(_fleet())
    inventory.firmware_activation_lost(ESME)
    body = dsp_inventory(inventory.site_devices(0))
    el = body.element()
    statuses = [d.findtext(f"{{{xmlsig.SR_NS}}}DeviceStatus") for d in el]
    assert statuses == ["Suspended", "Commissioned", "Commissioned", "Commissioned"]
    assert el[0].findtext(f"{{{xmlsig.SR_NS}}}ESMEVariant") == "A"
    with pytest.raises(ValueError, match=r"1\.\.17"):
        dsp_inventory([])
    with pytest.raises(ValueError, match=r"1\.\.17"):
        dsp_inventory(inventory.site_devices(0) * 5)
    rid = RequestId.parse("90-B3-D5-1F-30-01-00-00:90-B3-D5-1F-30-00-00-02:1000")
    response = Response(
        ResponseHeader("I0", "2026-01-01T00:00:00Z", rid), ResponseMessage("8.2", "8.2", body)
    )
    xml = model.to_xml(response)
    assert model.parse(xml) == response
    duiskit.require_duis()
    result = xmlsig.validate(xml, xmlsig.load_schema(duiskit.xsd_path()))
    assert result.ok, result.errors
