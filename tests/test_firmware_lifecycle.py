"""The firmware lifecycle on ESME, GSME and CHF, driven as a test bench drives it.

Only GBCS frames (the head-end over an in-process bus to a served site) and the control
API: the image is held with ``hold_firmware``; CS06 activates it at once or at a future
date; the activation's response (and, future-dated, its 0x00CA outcome alert) may be
lost on the way, so the head-end never sees it; then the running version is read the way
SR 11.2 reads it (MP105: that read must work after a lost activation response): ECS52
on the ESME and the CHF as the ACB sends it, GCS38 on the GSME and through the GPF's
mirror. The version read must be the device's firmware state, never a profile constant.

MP102: an ESME activation cuts the Comms Hub's supply for less than three minutes
(compliant profile), so no power-outage alert (AD1, ECS80) may follow any activation;
GSME and CHF activations cut nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from devices.control import execute_control
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from emulator.headend.client import HeadEnd, Reply
from emulator.transport.inprocess import InProcessHub
from gbcs.asn1 import Asn1Payload
from gbcs.firmware import ActivateFirmwareAlert, FirmwareAlertCode
from keys.roles import RemotePartyRole
from tests.devkit import EUIS, Bench, bench
from tests.test_headend import HANG, SITE, SiteServer, _headend, _make_site

R = RemotePartyRole
CS06, FIRMWARE_ALERT = 0x0012, 0x00CA
OUTAGE_ALERTS = frozenset({0x8F35, 0x8F36, *range(0x8F37, 0x8F3D)})  # ECS80 outage restored
NEW_VERSION = bytes.fromhex("0A0B0C0D")
IMAGE = b"manufacturer image " + bytes(range(64))
KINDS = ("ESME", "GSME", "CHF")


# --------------------------------------------------------------------- the bench


@dataclass
class LossyServer(SiteServer):
    """A site server whose WAN loses the responses and alerts with chosen message codes.

    ``sent`` keeps everything the site sent (AD1 records included), lost or not.
    """

    lose: set[int] = field(default_factory=set)
    lost: list[Outbound] = field(default_factory=list)
    sent: list[Outbound] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__post_init__()
        self.lost_event = asyncio.Event()

    async def publish(self, outs: list[Outbound]) -> None:
        self.sent += outs
        keep = []
        for o in outs:
            if o.kind in (OutboundKind.RESPONSE, OutboundKind.ALERT) and o.code in self.lose:
                self.lost.append(o)
                self.lost_event.set()
            else:
                keep.append(o)
        await super().publish(keep)

    async def run_until(self, when: datetime) -> None:
        """The virtual clock moves on to ``when``; what the site sends goes out."""
        self.now = max(self.now, when)
        await self.publish(self.site.advance(self.now))


@dataclass
class Bed:
    bench: Bench
    site: Site
    server: LossyServer
    headend: HeadEnd
    control_ids: int = 0

    def control(self, kind: str, op: str, **fields: Any) -> dict[str, Any]:
        """A control-API request to the device ``kind``; its result (it must succeed)."""
        self.control_ids += 1
        request = {"id": self.control_ids, "op": op, **fields}
        res = execute_control(self.site, EUIS[kind], request, self.server.now)
        assert res.reply["ok"] is True, res.reply
        return res.reply["result"]

    async def request(self, kind: str, use_case: str, **kw: Any) -> Reply:
        return await asyncio.wait_for(self.headend.request(SITE, EUIS[kind], use_case, **kw), HANG)

    async def activate(self, kind: str, *, lost: bool, **args: Any) -> Reply | None:
        """Send CS06 (signed by the Supplier, by the ACB to a CHF, which trusts DCC roles
        only); with ``lost`` its response never reaches the head-end."""
        kw: dict[str, Any] = dict(args)
        if kind == "CHF":
            kw["as_role"] = R.ACCESS_CONTROL_BROKER
        if not lost:
            return await self.request(kind, "CS06", **kw)
        self.server.lose.add(CS06)
        self.server.lost_event.clear()
        task = asyncio.ensure_future(self.request(kind, "CS06", **kw))
        await asyncio.wait_for(self.server.lost_event.wait(), HANG)
        task.cancel()  # the head-end gives up: the response is gone
        with pytest.raises(asyncio.CancelledError):
            await task
        self.server.lose.discard(CS06)
        return None

    async def read_versions(self, kind: str) -> list[str]:
        """The running version as SR 11.2 reads it (every way it can be read)."""
        if kind == "GSME":
            # The GPF first: it answers at once from its mirror, which only what the GSME
            # sent through its Comms Hub has refreshed (reading the GSME wakes it).
            mirror = await self.request("GPF", "GCS38")
            direct = await self.request("GSME", "GCS38")
            assert (mirror.message.originator, direct.message.originator) == (
                EUIS["GPF"],
                EUIS["GSME"],
            )
            return [mirror.values["firmware_version"], direct.values["firmware_version"]]
        acb = await self.request(kind, "ECS52", as_role=R.ACCESS_CONTROL_BROKER)
        assert acb.message.recipient != EUIS[kind] and acb.values["ok"] is True
        out = [acb.values["firmware_version"]]
        if kind == "ESME":
            out.append((await self.request(kind, "ECS52")).values["firmware_version"])
        return out

    def assert_no_power_outage_alert(self) -> None:
        """MP102: no AD1 record and no outage alert from anything the site sent."""
        kinds = {o.kind for o in self.server.sent}
        assert OutboundKind.POWER_OUTAGE not in kinds
        assert not [o for o in self.server.sent if o.alert_code in OUTAGE_ALERTS]
        assert self.site.chf.power.powered


@pytest_asyncio.fixture
async def bed() -> AsyncIterator[Bed]:
    b = bench()
    site = _make_site(b)
    hub = InProcessHub()
    server = LossyServer(hub, site)
    await server.start()
    headend = _headend(hub, b, server)
    async with headend:
        yield Bed(b, site, server, headend)
    await server.close()
    assert server.errors == []


def _between_gsme_wakes(t: datetime) -> datetime:
    """Ten minutes past the half hour before ``t``: the bench's GSME wakes on the half
    hours (``wake_interval_seconds`` 1800 from T0, midnight), so an activation then is
    followed by no wake-up for 20 minutes."""
    return t.replace(minute=t.minute // 30 * 30 + 10, second=0, microsecond=0)


# --------------------------------------------------------------------- the lifecycle


@pytest.mark.asyncio
@pytest.mark.parametrize("lost", [False, True], ids=["answered", "response-lost"])
@pytest.mark.parametrize("future", [False, True], ids=["immediate", "future-dated"])
@pytest.mark.parametrize("kind", KINDS)
async def test_activation_then_running_version_read(
    bed: Bed, kind: str, future: bool, lost: bool
) -> None:
    before = bed.control(kind, "get_status")["firmware"]["running_version"]
    assert before != NEW_VERSION.hex().upper()
    assert await bed.read_versions(kind) == [before] * (1 if kind == "CHF" else 2)

    held = bed.control(kind, "hold_firmware", image=IMAGE.hex(), version=NEW_VERSION.hex())
    assert held["hash"] == hashlib.sha256(IMAGE).hexdigest().upper()
    assert held["running_version"] == before  # held, not yet running

    alerts = bed.headend.alerts()
    args: dict[str, Any] = {"image_hash": held["hash"]}
    at = _between_gsme_wakes(bed.server.now + timedelta(hours=2))
    if future:
        args["execute_at"] = at.isoformat()
        if lost:
            bed.server.lose.add(FIRMWARE_ALERT)
    reply = await bed.activate(kind, lost=lost, **args)

    if reply is not None and future:
        assert reply.values["accepted"] is True
        assert bed.control(kind, "get_status")["firmware"]["running_version"] == before
    if reply is not None and not future:
        assert reply.verified == "signature"  # CS06 is critical: a device-signed response
        assert reply.values == {
            "ok": True,
            "response_code": "success",
            "firmware_version": NEW_VERSION.hex().upper(),
        }
    if future:
        await bed.server.run_until(at - timedelta(minutes=5))  # the last wake-up before
        assert bed.control(kind, "get_status")["firmware"]["running_version"] == before
        await bed.server.run_until(at + timedelta(minutes=1))
        if not lost:
            event = await asyncio.wait_for(alerts.next(), HANG)
            assert (event.eui, event.message_code, event.verified) == (
                EUIS[kind],
                FIRMWARE_ALERT,
                "signature",
            )
            assert isinstance(event.message.payload, Asn1Payload)
            body = ActivateFirmwareAlert.decode(event.message.payload.raw)
            assert body.alert_code == FirmwareAlertCode.FUTURE_DATED_SUCCESS
            assert body.outcome.firmware_version == NEW_VERSION
    if lost:
        lost_codes = {o.code for o in bed.server.lost}
        assert lost_codes == ({CS06, FIRMWARE_ALERT} if future else {CS06})

    # The Comms Hub is back from the ESME's reboot (MP102: less than 3 minutes).
    await bed.server.run_until(bed.server.now + timedelta(minutes=5))
    assert await bed.read_versions(kind) == [NEW_VERSION.hex().upper()] * (
        1 if kind == "CHF" else 2
    )
    status = bed.control(kind, "get_status")["firmware"]
    assert status["running_version"] == NEW_VERSION.hex().upper()
    log = bed.control(kind, "read_log", log="security")
    assert [e["code"] for e in log["entries"]].count(0x8F43) == 1  # version changed, once

    cuts = bed.site.comms_hub_outages()
    if kind == "ESME":
        assert len(cuts) == 1 and cuts[0].duration < timedelta(minutes=3)
    else:
        assert cuts == []
    bed.assert_no_power_outage_alert()


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_retried_activation_after_a_lost_response_changes_nothing_more(
    bed: Bed, kind: str
) -> None:
    """The sender, without a response, sends CS06 again: success with the version now
    running, no second reboot (no second Comms Hub supply cut), 0x8F43 logged once."""
    held = bed.control(kind, "hold_firmware", image=IMAGE.hex(), version=NEW_VERSION.hex())
    await bed.activate(kind, lost=True, image_hash=held["hash"])
    await bed.server.run_until(bed.server.now + timedelta(minutes=5))
    again = await bed.activate(kind, lost=False, image_hash=held["hash"])
    assert again is not None
    assert again.values["response_code"] == "success"
    assert again.values["firmware_version"] == NEW_VERSION.hex().upper()
    await bed.server.run_until(bed.server.now + timedelta(minutes=5))
    assert (await bed.read_versions(kind))[0] == NEW_VERSION.hex().upper()
    log = bed.control(kind, "read_log", log="security")
    assert [e["code"] for e in log["entries"]].count(0x8F43) == 1
    assert len(bed.site.comms_hub_outages()) == (1 if kind == "ESME" else 0)
    bed.assert_no_power_outage_alert()


@pytest.mark.asyncio
@pytest.mark.parametrize("kind", KINDS)
async def test_failed_activation_leaves_the_version_read_unchanged(bed: Bed, kind: str) -> None:
    before = bed.control(kind, "get_status")["firmware"]["running_version"]
    nothing = await bed.activate(kind, lost=False, image_hash=hashlib.sha256(IMAGE).hexdigest())
    assert nothing is not None
    assert (nothing.values["ok"], nothing.values["response_code"]) == (False, "no-image-held")
    bed.control(kind, "hold_firmware", image=IMAGE.hex(), version=NEW_VERSION.hex())
    wrong = await bed.activate(kind, lost=False, image_hash=bytes(32).hex())
    assert wrong is not None
    assert (wrong.values["response_code"], wrong.values["firmware_version"]) == (
        "hash-mismatch",
        before,
    )
    await bed.server.run_until(bed.server.now + timedelta(minutes=5))
    assert set(await bed.read_versions(kind)) == {before}
    assert bed.site.comms_hub_outages() == []
    bed.assert_no_power_outage_alert()


@pytest.mark.asyncio
async def test_gsme_version_read_is_its_firmware_state_through_reset_and_control(
    bed: Bed,
) -> None:
    """GCS38 reads the GSME's firmware state, whichever way that state changed."""
    factory = bed.control("GSME", "get_status")["firmware"]["running_version"]
    held = bed.control("GSME", "hold_firmware", image=IMAGE.hex(), version=NEW_VERSION.hex())
    await bed.activate("GSME", lost=True, image_hash=held["hash"])
    assert await bed.read_versions("GSME") == [NEW_VERSION.hex().upper()] * 2
    # a bench may also set the running version as the attribute GCS38 reads ...
    bed.control("GSME", "set_zcl", cluster="metering", attribute="CurrentMeterID", value="0E0F1011")
    assert bed.control("GSME", "get_status")["firmware"]["running_version"] == "0E0F1011"
    assert await bed.read_versions("GSME") == ["0E0F1011"] * 2
    # ... and a factory reset brings the factory version back, the mirror with it
    bed.control("GSME", "factory_reset")
    assert await bed.read_versions("GSME") == [factory] * 2
