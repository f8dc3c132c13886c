"""Shard claims on a real mosquitto: ``gbcs-emu run --fleet`` hosts refuse overlapping
shards of one fleet, a restart of the same state reclaims, a killed host's will clears
its claim and ``gbcs-emu fleet release`` clears a stale one."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiomqtt
import pytest
import pytest_asyncio

from emulator.runtime.claims import ShardClaim, claim_topic, read_claims
from emulator.runtime.config import load_config
from emulator.runtime.fleetdef import FleetDefinition
from emulator.runtime.statedir import load_info
from emulator.transport.access import BrokerAccess
from emulator.transport.broker import MosquittoBroker
from tests.brokers import require_mosquitto
from tests.statekit import ROOT

SAFETY = 90.0  # seconds: a hung process fails the test instead of blocking it


@pytest_asyncio.fixture
async def mqtt() -> AsyncIterator[MosquittoBroker]:
    require_mosquitto()
    b = MosquittoBroker()
    try:
        await b.start()
        yield b
    finally:
        await b.aclose()


@pytest.fixture
def fleet(tmp_path: Path) -> FleetDefinition:
    return FleetDefinition.create(tmp_path / "fleet", load_config(None, sites=8))


class Hosts:
    """``gbcs-emu run --fleet`` processes of one test, stopped at its end."""

    def __init__(self, fleet: FleetDefinition, url: str, root: Path) -> None:
        self.fleet = fleet
        self.url = url
        self.root = root
        self.procs: list[subprocess.Popen[str]] = []
        self.access = BrokerAccess(url)

    def start(self, name: str, shard: str, workers: int = 1) -> subprocess.Popen[str]:
        p = subprocess.Popen(
            [sys.executable, "-m", "emulator", "run", "--fleet", str(self.fleet.dir),
             "--broker", self.url, "--state", str(self.root / name), "--shard", shard,
             "--workers", str(workers), "--quiet"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        self.procs.append(p)
        return p

    def state_id(self, name: str) -> str:
        info = load_info(self.root / name)
        assert info is not None
        return info.id

    async def claims(self) -> dict[str, ShardClaim]:
        return await read_claims(self.access, self.fleet.id, settle=0.3)

    async def serving(self, name: str, proc: subprocess.Popen[str]) -> ShardClaim:
        """Wait until the host serves (its workers too: it says so once they do, and
        then handles SIGTERM) and return its claim, read from the broker."""
        assert proc.stdout is not None
        async with asyncio.timeout(SAFETY):
            while not (line := await asyncio.to_thread(proc.stdout.readline)).startswith("serving"):
                assert line, proc.stderr.read() if proc.stderr else "no output"
        found = (await self.claims()).get(self.state_id(name))
        assert found is not None and found.pid == proc.pid
        return found

    async def exit_code(self, proc: subprocess.Popen[str]) -> tuple[int, str]:
        async with asyncio.timeout(SAFETY):
            while proc.poll() is None:
                await asyncio.sleep(0.1)
        return proc.returncode, proc.stderr.read() if proc.stderr else ""

    async def stop(self, proc: subprocess.Popen[str]) -> tuple[int, str]:
        proc.send_signal(signal.SIGTERM)
        return await self.exit_code(proc)

    def close(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


@pytest.fixture
def hosts_for(tmp_path: Path) -> Iterator[list[Hosts]]:
    made: list[Hosts] = []
    yield made
    for h in made:
        h.close()


def _hosts(made: list[Hosts], fleet: FleetDefinition, broker: MosquittoBroker, root: Path) -> Hosts:
    h = Hosts(fleet, broker.url, root)
    made.append(h)
    return h


def refusal(code: int, err: str) -> str:
    """The one error line of a refused start (no traceback)."""
    assert code != 0, err
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, err
    return lines[0]


async def publish_retained(url: str, topic: str, payload: bytes) -> None:
    host, port = url.removeprefix("mqtt://").rsplit(":", 1)
    async with aiomqtt.Client(host, int(port)) as c:
        await c.publish(topic, payload, qos=1, retain=True)


@pytest.mark.asyncio
async def test_overlapping_shard_refused_disjoint_shard_runs(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    a = h.start("a", "0:4", workers=2)
    claim_a = await h.serving("a", a)
    assert (claim_a.first, claim_a.count, claim_a.total) == (0, 2, 4)
    # workers 1..2 overlap a's 0..1
    line = refusal(*await h.exit_code(h.start("b", "1:4", workers=2)))
    assert f"overlaps the claim of state {claim_a.state_id}" in line
    assert "shard 0:4 (workers 0..1 of 4)" in line and "worker(s) 1" in line
    assert f"gbcs-emu fleet release {fleet.dir}" in line
    assert not (tmp_path / "b").exists()  # refused before its state directory was made
    # another TOTAL is refused too: the hosts would spread the sites differently
    line = refusal(*await h.exit_code(h.start("t", "2:3", workers=1)))
    assert "splits the fleet into 4 workers" in line
    c = h.start("c", "2:4", workers=2)  # disjoint: runs beside a
    claim_c = await h.serving("c", c)
    claims = await h.claims()
    assert set(claims) == {claim_a.state_id, claim_c.state_id}
    assert claims[claim_c.state_id].workers == range(2, 4)
    assert a.poll() is None and c.poll() is None
    assert (await h.stop(a))[0] == 0 and (await h.stop(c))[0] == 0
    assert await h.claims() == {}  # a clean stop clears the claim


@pytest.mark.asyncio
async def test_two_hosts_starting_together_exactly_one_serves(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    """Whether they see each other before or after publishing (the race), exactly one of
    two hosts claiming the same shard at once is refused, and the other serves."""
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    x, y = h.start("x", "0:2"), h.start("y", "0:2")
    async with asyncio.timeout(SAFETY):
        while x.poll() is None and y.poll() is None:
            await asyncio.sleep(0.1)
    loser, winner, win_name = (x, y, "y") if x.poll() is not None else (y, x, "x")
    line = refusal(*await h.exit_code(loser))
    assert f"overlaps the claim of state {h.state_id(win_name)}" in line
    survivor = await h.serving(win_name, winner)
    assert set(await h.claims()) == {survivor.state_id}  # the loser left no claim
    assert (await h.stop(winner))[0] == 0


@pytest.mark.asyncio
async def test_restart_of_the_same_state_reclaims_its_shard(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    a = h.start("a", "0:2")
    first = await h.serving("a", a)
    assert (await h.stop(a))[0] == 0
    # a crash that left the claim behind (the will lost with its broker node)
    await publish_retained(h.url, claim_topic(fleet.id, first.state_id), first.payload())
    assert set(await h.claims()) == {first.state_id}
    a2 = h.start("a", "0:2")
    second = await h.serving("a", a2)  # its own old claim is no overlap
    assert second.state_id == first.state_id and second.started > first.started
    assert (await h.stop(a2))[0] == 0


@pytest.mark.asyncio
async def test_kill_9_leaves_no_claim_the_will_clears_it(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    a = h.start("a", "0:2")
    await h.serving("a", a)
    a.kill()
    a.wait()
    async with asyncio.timeout(SAFETY):
        while await h.claims():
            await asyncio.sleep(0.2)
    b = h.start("b", "0:2")  # the shard is free again
    await h.serving("b", b)
    assert (await h.stop(b))[0] == 0


@pytest.mark.asyncio
async def test_fleet_release_clears_a_stale_claim(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    stale = ShardClaim(fleet.id, "deadbeef00000000", 0, 1, 2, 8, 1.0, "gone-host", 4242)
    await publish_retained(h.url, claim_topic(fleet.id, stale.state_id), stale.payload())
    line = refusal(*await h.exit_code(h.start("a", "0:2")))
    assert "state deadbeef00000000" in line and "host gone-host" in line
    show = [sys.executable, "-m", "emulator", "fleet", "show", str(fleet.dir), "--broker", h.url]
    shown = await asyncio.to_thread(
        subprocess.run, show, cwd=ROOT, capture_output=True, text=True, timeout=SAFETY
    )
    assert shown.returncode == 0, shown.stderr
    assert "shard claims on" in shown.stdout and "state deadbeef00000000" in shown.stdout
    release = [sys.executable, "-m", "emulator", "fleet", "release", str(fleet.dir),
               "--broker", h.url, "--claim", stale.state_id]  # fmt: skip
    out = await asyncio.to_thread(
        subprocess.run, release, cwd=ROOT, capture_output=True, text=True, timeout=SAFETY
    )
    assert out.returncode == 0, out.stderr
    assert "cleared the claim of state deadbeef00000000" in out.stdout
    assert await h.claims() == {}
    again = await asyncio.to_thread(
        subprocess.run, release, cwd=ROOT, capture_output=True, text=True, timeout=SAFETY
    )
    assert again.returncode == 0 and "nothing to clear" in again.stdout
    a = h.start("a", "0:2")  # the same state directory, refused before, now serves
    await h.serving("a", a)
    assert (await h.stop(a))[0] == 0


@pytest.mark.asyncio
async def test_a_claim_lost_with_the_broker_is_published_again(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    """mosquitto without persistence forgets retained messages when it restarts: the host
    reconnects and publishes its claim again, so an overlapping host is still refused."""
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    a = h.start("a", "0:2")
    mine = await h.serving("a", a)
    await mqtt.restart()
    async with asyncio.timeout(SAFETY):
        while mine.state_id not in await h.claims():
            await asyncio.sleep(0.2)
    line = refusal(*await h.exit_code(h.start("b", "0:2")))
    assert f"overlaps the claim of state {mine.state_id}" in line
    assert a.poll() is None
    assert (await h.stop(a))[0] == 0


@pytest.mark.asyncio
async def test_a_serving_host_yields_to_an_earlier_overlapping_claim(
    mqtt: MosquittoBroker, fleet: FleetDefinition, tmp_path: Path, hosts_for: list[Hosts]
) -> None:
    """While serving, a host watches the claims: one that overlaps its shard but started
    later does not stop it (that host yields), one that started earlier does (as when a
    host claimed while this one was cut off from the broker, its claim cleared)."""
    h = _hosts(hosts_for, fleet, mqtt, tmp_path)
    a = h.start("a", "0:2")
    mine = await h.serving("a", a)
    later = ShardClaim(fleet.id, "later00000000000", 0, 1, 2, 8, mine.started + 1000, "h2")
    earlier = ShardClaim(fleet.id, "earlier000000000", 0, 1, 2, 8, mine.started - 1000, "h3")
    for c in (later, earlier):  # in this order: the first cannot have stopped it
        await publish_retained(h.url, claim_topic(fleet.id, c.state_id), c.payload())
    code, err = await h.exit_code(a)
    assert code != 0 and "Traceback" not in err
    assert "shard claim lost" in err and "overlaps the claim of state earlier000000000" in err
    assert "later00000000000" not in err
    assert mine.state_id not in await h.claims()  # its claim is cleared as it stops


def test_claim_payload_round_trip_and_overlap_rules() -> None:
    mine = ShardClaim("f", "s1", 2, 2, 8, 100, 10.0, "h", 1)
    again = ShardClaim.from_payload(mine.payload())
    assert again == mine
    doc = json.loads(mine.payload())
    assert doc["shard"] == {"first": 2, "total": 8} and doc["workers"] == 2
    assert doc["sites"] == "sites i with i mod 8 in 2..3 (26 of 100)"
    assert mine.overlap(ShardClaim("f", "s2", 3, 1, 8, 100, 5.0)) is not None
    assert mine.overlap(ShardClaim("f", "s2", 4, 4, 8, 100, 5.0)) is None
    assert mine.overlap(ShardClaim("f", "s1", 2, 2, 8, 100, 99.0)) is None  # a restart
    assert mine.overlap(ShardClaim("f", "s2", 0, 1, 4, 100, 5.0)) is not None  # other TOTAL
    # the race's winner: the earlier start, then the smaller state id
    assert ShardClaim("f", "b", 0, 1, 2, 8, 1.0).precedes(ShardClaim("f", "a", 0, 1, 2, 8, 2.0))
    assert ShardClaim("f", "a", 0, 1, 2, 8, 1.0).precedes(ShardClaim("f", "b", 0, 1, 2, 8, 1.0))
    for bad in (b"{}", b"[]", b"not json", b'{"shard": {"first": 3, "total": 2}}'):
        with contextlib.suppress(ValueError, KeyError, TypeError):
            ShardClaim.from_payload(bad)
            raise AssertionError(f"{bad!r} parsed")
