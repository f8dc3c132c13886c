"""Runtime acceptance on a virtual clock and over a real broker (issue 4 §4)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from devices.behaviours.load import LoadProfile
from devices.site import Site
from emulator.pytest_plugin import BenchSite
from emulator.runtime.clock import VirtualClock
from emulator.transport.broker import ChildBroker

DAY = datetime(2026, 1, 5, tzinfo=UTC)


@pytest_asyncio.fixture
async def bench(tmp_path: Path) -> AsyncIterator[BenchSite]:
    site = BenchSite(tmp_path / "state", VirtualClock(DAY))
    overrides = {
        DAY + timedelta(hours=16, minutes=30): 2000,
        DAY + timedelta(hours=17, minutes=30): 1500,
    }
    profile = LoadProfile.constant(100).with_overrides(import_overrides=overrides)
    site.config.site.options["ESME"] = {"load_profile": profile.to_dict()}
    await site.start()
    try:
        yield site
    finally:
        await site.stop()


@pytest_asyncio.fixture
async def mqtt_bench(tmp_path: Path, broker: ChildBroker) -> AsyncIterator[BenchSite]:
    site = BenchSite(tmp_path / "state", VirtualClock(DAY), broker_url=broker.url)
    await site.start()
    try:
        yield site
    finally:
        await site.stop()


@pytest.mark.asyncio
async def test_max_demand_worked_example_through_the_runtime(bench: BenchSite) -> None:
    """domain-rules §1.6 end to end: ECS37 17:00-22:00, the load, ECS18b after 22:00."""
    r = await bench.request("ESME", "ECS37", start="17:00", end="22:00", read_back=True)
    assert r.values["ok"]
    bench.clock.set(DAY + timedelta(hours=23))
    r = await bench.request("ESME", "ECS18b")
    v = r.values
    assert (v["import_md"], v["import_window_md"]) == (4000, 3000)
    assert v["import_md_time"].startswith("2026-01-05T16:30")
    assert v["import_window_md_time"].startswith("2026-01-05T17:30")


@pytest.mark.asyncio
async def test_future_dated_firmware_activation_fires_on_the_clock(bench: BenchSite) -> None:
    esme = bench.devices.esme
    held = esme.firmware.hold_image(b"image 9", bytes.fromhex("09000000"))
    alerts = bench.headend.alerts()
    at = DAY + timedelta(hours=2)
    r = await bench.request("ESME", "CS06", image_hash=held.image_hash, execute_at=at.isoformat())
    assert r.verified == "signature"
    assert bench.devices.esme.firmware.running_version == bytes.fromhex("01000000")
    bench.clock.set(at + timedelta(seconds=1))  # the scheduler runs the activation
    event = await alerts.next(20)
    assert event.message_code == 0x00CA and event.alert_code == 0x8F66
    assert bench.devices.esme.firmware.running_version == bytes.fromhex("09000000")
    # the activation cut the Comms Hub's supply for 30 s (compliant profile): wait it out
    bench.clock.set(at + timedelta(minutes=1))
    r = await bench.request("ESME", "ECS52")
    assert "09000000" in str(r.values).lower()


@pytest.mark.asyncio
async def test_command_response_and_alerts_over_a_real_broker(mqtt_bench: BenchSite) -> None:
    r = await mqtt_bench.request("ESME", "ECS43")
    assert r.verified == "signature"
    r = await mqtt_bench.request("ESME", "ECS45")
    assert r.values["supply_state"] == "disconnected"
    r = await mqtt_bench.request("GPF", "GCS13a")  # answered at once from the mirror
    assert r.values["ok"]
    r = await mqtt_bench.request("GSME", "GCS13a")  # queued at the CHF until the wake-up
    assert r.values["ok"] and r.message.originator == mqtt_bench.euis["GSME"]
    alerts = mqtt_bench.headend.alerts()
    now = mqtt_bench.clock.now()
    mqtt_bench.emulator.apply(0, Site.lose_mains, now)
    mqtt_bench.emulator.apply(0, Site.restore_mains, now + timedelta(minutes=5))
    event = await alerts.next(30)
    assert (event.message_code, event.alert_code) == (0x0067, 0x8F36)
    assert event.is_verified
