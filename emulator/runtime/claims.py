"""Shard claims: hosts of one fleet refuse to serve overlapping shards, through the broker.

Every ``gbcs-emu run --fleet`` host announces the workers it serves as a *retained*
message on ``gbcs/_fleet/<fleet-id>/claims/<state-id>`` (JSON, QoS 1), where the state
id is the random id of its state directory (``state.json``). The protocol, run by the
``run`` parent process before its workers start (:meth:`ShardClaimer.acquire`):

1. Connect (client id ``gbcs-emu-<state-id>-claim``, clean session) with a *will*: an
   empty retained message on its claim topic, which clears the claim when the broker
   loses the connection without a DISCONNECT (the process was killed, the host died).
2. Subscribe to ``gbcs/_fleet/<fleet-id>/claims/+`` and collect the retained claims for
   :data:`SETTLE_SECONDS`. A claim of another state id that overlaps this host's
   workers (or uses another TOTAL) refuses the start. The same state id (a restart of
   this state directory) is no overlap: its claim is replaced.
3. Publish this host's claim (retained, QoS 1), then keep listening for another
   :data:`SETTLE_SECONDS`. Two hosts that start within the settle time may both miss
   each other in step 2; each then sees the other's claim here (both stay subscribed
   from step 2 on, so neither can miss a claim published after its SUBSCRIBE). The
   claim started first wins (on a tie, the smaller state id); the other host clears its
   claim and refuses to start. Both decide from the same two claims, so exactly one is
   refused. Clocks of the hosts only decide who wins, never whether the overlap is seen.
4. While the host runs, the connection is kept (and re-made, to the next broker of the
   list, with the claim published again, should it drop) and the claims watched: should
   an overlapping claim that wins the race against this one appear (a host that claimed
   while this one was cut off from the broker, its claim cleared by its will), the host
   stops with that claim named, and the other host, by the same rule, stays. A clean
   stop publishes an empty retained message (the claim is gone) and disconnects.

What a crash leaves: after ``kill -9`` or a host's death, the broker publishes the will
(at once when the TCP connection closes, else after 1.5 x the keepalive of
:data:`KEEPALIVE` seconds), so the claim is cleared. The will is lost, and the claim left
*stale*, when the broker node that held the connection is lost too (a will lives only on
that node), or on a broker that does not keep wills across its own restart. A stale
claim refuses every overlapping host until its state directory restarts (a restart
replaces its own claim) or an operator clears it:
``gbcs-emu fleet release DIR --broker URLS --claim STATE_ID``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import re
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiomqtt

from ..transport.access import BrokerAccess
from ..transport.mqtt import BrokerAddress, parse_broker_urls

__all__ = [
    "KEEPALIVE",
    "SETTLE_SECONDS",
    "ClaimConflict",
    "ClaimError",
    "ShardClaim",
    "ShardClaimer",
    "check_claims",
    "claim_topic",
    "claims_filter",
    "first_conflict",
    "read_claims",
    "refusal",
    "release_claim",
]

log = logging.getLogger(__name__)

SETTLE_SECONDS = 1.0
"""How long a host collects the retained claims before (and after) publishing its own."""
KEEPALIVE = 10
"""MQTT keepalive of the claim connection: a silent dead host's claim goes in ~15 s."""
CONNECT_TIMEOUT = 10.0


class ClaimError(Exception):
    """The claims could not be read or written (broker unreachable...)."""


class ClaimConflict(ClaimError):
    """Another host claims workers of this host's shard; the message names its claim."""


def claims_filter(fleet_id: str) -> str:
    """The topic filter of every claim of a fleet."""
    return f"gbcs/_fleet/{fleet_id}/claims/+"


def claim_topic(fleet_id: str, state_id: str) -> str:
    """The topic of one state directory's claim."""
    return f"gbcs/_fleet/{fleet_id}/claims/{state_id}"


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class ShardClaim:
    """What a host announces: which state directory serves which workers of a fleet."""

    fleet_id: str
    state_id: str
    first: int
    count: int
    total: int
    sites: int
    started: float
    host: str = ""
    pid: int = 0

    @classmethod
    def new(
        cls, fleet_id: str, state_id: str, first: int, count: int, total: int, sites: int
    ) -> ShardClaim:
        """This process's claim, started now."""
        return cls(
            fleet_id, state_id, first, count, total, sites, time.time(), socket.gethostname(),
            os.getpid(),
        )  # fmt: skip

    @property
    def workers(self) -> range:
        return range(self.first, self.first + self.count)

    def shard_text(self) -> str:
        """``shard 2:4 (workers 2..3 of 4)``."""
        last = self.first + self.count - 1
        return f"shard {self.first}:{self.total} (workers {self.first}..{last} of {self.total})"

    def sites_text(self) -> str:
        """Which sites the claim covers, in words."""
        served = sum(len(range(w, self.sites, self.total)) for w in self.workers)
        return (
            f"sites i with i mod {self.total} in {self.first}..{self.first + self.count - 1}"
            f" ({served} of {self.sites})"
        )

    def payload(self) -> bytes:
        """The retained message (JSON)."""
        return json.dumps(
            {
                "fleet": self.fleet_id,
                "state": self.state_id,
                "host": self.host,
                "pid": self.pid,
                "shard": {"first": self.first, "total": self.total},
                "workers": self.count,
                "sites": self.sites_text(),
                "fleet_sites": self.sites,
                "started": self.started,
                "started_utc": _when(self.started),
            }
        ).encode()

    @classmethod
    def from_payload(cls, payload: bytes) -> ShardClaim:
        """Parse a retained claim; :class:`ValueError` if it is not one."""
        d = json.loads(payload)
        if not isinstance(d, dict) or not isinstance(d.get("shard"), dict):
            raise ValueError("not a claim object")
        out = cls(
            fleet_id=str(d["fleet"]),
            state_id=str(d["state"]),
            first=int(d["shard"]["first"]),
            count=int(d["workers"]),
            total=int(d["shard"]["total"]),
            sites=int(d.get("fleet_sites", 0)),
            started=float(d["started"]),
            host=str(d.get("host", "")),
            pid=int(d.get("pid", 0)),
        )
        if not (out.first >= 0 and out.count >= 1 and out.first + out.count <= out.total):
            raise ValueError("shard out of range")
        return out

    def describe(self) -> str:
        """The claim for a message: state id, shard, host and start time."""
        where = f", host {self.host}" if self.host else ""
        return f"state {self.state_id} ({self.shard_text()}{where}, started {_when(self.started)})"

    def overlap(self, other: ShardClaim) -> str | None:
        """Why ``other`` cannot run beside this claim (None: it can)."""
        if other.state_id == self.state_id:
            return None
        if other.total != self.total:
            return f"it splits the fleet into {other.total} workers, this host into {self.total}"
        common = set(self.workers) & set(other.workers)
        if common:
            return f"both claim worker(s) {', '.join(map(str, sorted(common)))}"
        return None

    def precedes(self, other: ShardClaim) -> bool:
        """Whether this claim wins a race with ``other`` (earlier start, then smaller id)."""
        return (self.started, self.state_id) < (other.started, other.state_id)


class _Connection:
    """One aiomqtt connection to the first reachable broker of a list, collecting the
    retained and live messages of the claim topics it subscribes to."""

    def __init__(
        self,
        access: BrokerAccess,
        client_id: str,
        will_topic: str | None = None,
        start_index: int = 0,
    ) -> None:
        self.access = access
        self.addresses: tuple[BrokerAddress, ...] = parse_broker_urls(access.url)
        self.client_id = client_id
        self.will_topic = will_topic
        self.index = start_index % len(self.addresses)
        self.client: aiomqtt.Client | None = None
        self.messages: dict[str, bytes] = {}  # topic -> latest payload (b"": cleared)
        self.changed = asyncio.Event()
        self.lost = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def where(self) -> str:
        return str(self.addresses[self.index])

    async def connect(self, timeout: float = CONNECT_TIMEOUT) -> None:
        """Connect to the first broker of the list (from :attr:`index`) that answers."""
        errors = []
        tls = self.access.tls_context()
        share = max(1.0, timeout / len(self.addresses))
        for _ in range(len(self.addresses)):
            a = self.addresses[self.index]
            client = aiomqtt.Client(
                a.host,
                a.port,
                username=a.username,
                password=self.access.password if self.access.password is not None else a.password,
                identifier=self.client_id,
                clean_session=True,
                keepalive=KEEPALIVE,
                timeout=share,
                tls_context=tls if a.tls else None,
                will=(
                    aiomqtt.Will(self.will_topic, b"", qos=1, retain=True)
                    if self.will_topic
                    else None
                ),
                logger=log.getChild("client"),
            )
            try:
                await asyncio.wait_for(client.__aenter__(), share + 1)
            except (aiomqtt.MqttError, OSError, TimeoutError) as e:
                why = re.sub(r"\[Errno -?\d+\]\s*", "", str(e)) or type(e).__name__
                errors.append(f"{a}: {why}")
                self.index = (self.index + 1) % len(self.addresses)
                continue
            self.client = client
            self.lost.clear()
            self._reader = asyncio.create_task(self._read(client))
            return
        raise ClaimError("cannot reach the broker (" + "; ".join(errors) + ")")

    async def _read(self, client: aiomqtt.Client) -> None:
        try:
            async for m in client.messages:
                payload = m.payload if isinstance(m.payload, bytes) else b""
                self.messages[str(m.topic)] = payload
                self.changed.set()
        except aiomqtt.MqttError as e:
            log.warning("claim connection to %s lost: %s", self.where, e)
        finally:
            self.lost.set()

    async def subscribe(self, pattern: str) -> None:
        assert self.client is not None
        await self.client.subscribe(pattern, qos=1)

    async def publish(self, topic: str, payload: bytes) -> None:
        assert self.client is not None
        await self.client.publish(topic, payload, qos=1, retain=True, timeout=CONNECT_TIMEOUT)

    async def close(self) -> None:
        """Disconnect cleanly (the will is not published)."""
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
            self._reader = None
        if self.client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                await asyncio.wait_for(self.client.__aexit__(None, None, None), 5)
            self.client = None


def _claims(messages: dict[str, bytes], fleet_id: str) -> dict[str, ShardClaim]:
    """The readable, non-empty claims by state id."""
    out = {}
    prefix = f"gbcs/_fleet/{fleet_id}/claims/"
    for topic, payload in messages.items():
        if not topic.startswith(prefix) or not payload:
            continue
        try:
            c = ShardClaim.from_payload(payload)
        except (ValueError, KeyError, TypeError):
            log.warning("ignoring an unreadable claim on %s", topic)
            continue
        out[topic[len(prefix) :]] = c
    return out


def first_conflict(
    mine: ShardClaim, claims: dict[str, ShardClaim], *, race: bool = False
) -> ShardClaim | None:
    """The first claim of another state id overlapping ``mine``; with ``race``, only one
    that wins the race against ``mine`` (:meth:`ShardClaim.precedes`)."""
    for sid, other in sorted(claims.items()):
        if sid == mine.state_id or mine.overlap(other) is None:
            continue
        if not race or other.precedes(mine):
            return other
    return None


def refusal(mine: ShardClaim, other: ShardClaim, dir_hint: str = "DIR") -> ClaimConflict:
    """The one-line refusal of ``mine`` because of ``other``, saying what to do."""
    return ClaimConflict(
        f"{mine.shard_text()} of fleet {mine.fleet_id} overlaps the claim of "
        f"{other.describe()}: {mine.overlap(other)}; stop that host, or if it is gone clear "
        f"its claim: gbcs-emu fleet release {dir_hint} --broker URLS --claim {other.state_id}"
    )


async def check_claims(
    access: BrokerAccess, mine: ShardClaim, dir_hint: str = "DIR", *, settle: float = SETTLE_SECONDS
) -> None:
    """Refuse ``mine`` (:class:`ClaimConflict`) if a retained claim already overlaps it,
    publishing nothing: ``run`` asks before it writes anything in a new state directory."""
    other = first_conflict(mine, await read_claims(access, mine.fleet_id, settle=settle))
    if other is not None:
        raise refusal(mine, other, dir_hint)


class ShardClaimer:
    """Claims a shard of a fleet for as long as a host serves it (see the module)."""

    def __init__(
        self, access: BrokerAccess, claim: ShardClaim, *, settle: float = SETTLE_SECONDS
    ) -> None:
        self.access = access
        self.claim = claim
        self.settle = settle
        self.topic = claim_topic(claim.fleet_id, claim.state_id)
        self._conn = _Connection(access, f"gbcs-emu-{claim.state_id}-claim", self.topic)
        self._keeper: asyncio.Task[None] | None = None
        self._published = False
        self.dir_hint = "DIR"
        #: Set while serving when a claim that wins over this one appears (see _keep).
        self.conflict: ClaimConflict | None = None

    def _conflict(self, claims: dict[str, ShardClaim], *, race: bool) -> ShardClaim | None:
        return first_conflict(self.claim, claims, race=race)

    def _refusal(self, other: ShardClaim, dir_hint: str) -> ClaimConflict:
        return refusal(self.claim, other, dir_hint)

    async def acquire(self, dir_hint: str = "DIR") -> None:
        """Read the claims, refuse an overlap, publish this claim and keep it up.

        Raises :class:`ClaimConflict` (this host's claim cleared again) or
        :class:`ClaimError` (broker unreachable)."""
        self.dir_hint = dir_hint
        await self._conn.connect()
        try:
            await self._conn.subscribe(claims_filter(self.claim.fleet_id))
            await asyncio.sleep(self.settle)
            other = self._conflict(_claims(self._conn.messages, self.claim.fleet_id), race=False)
            if other is not None:
                raise self._refusal(other, dir_hint)
            await self._conn.publish(self.topic, self.claim.payload())
            self._published = True
            await asyncio.sleep(self.settle)
            other = self._conflict(_claims(self._conn.messages, self.claim.fleet_id), race=True)
            if other is not None:
                raise self._refusal(other, dir_hint)
        except ClaimConflict:
            await self.release()
            raise
        except (aiomqtt.MqttError, OSError, TimeoutError) as e:
            await self.release()
            raise ClaimError(f"claim on {self._conn.where}: {e}") from None
        self._keeper = asyncio.create_task(self._keep())

    async def _keep(self) -> None:
        """While the host serves: watch the claims, and re-connect and publish the claim
        again after the connection drops (the will has cleared it meanwhile).

        A claim of another state that overlaps this one and wins the race against it
        (:meth:`ShardClaim.precedes`: a host that claimed while this one was away from
        the broker, before it, or any host's stale claim published again) sets
        :attr:`conflict`; the host is then expected to stop. Both hosts apply the same
        rule to the same two claims, so only one of them stops.
        """
        delay = 0.5
        fleet = self.claim.fleet_id
        while True:
            changed = asyncio.create_task(self._conn.changed.wait())
            lost = asyncio.create_task(self._conn.lost.wait())
            try:
                await asyncio.wait((changed, lost), return_when=asyncio.FIRST_COMPLETED)
            finally:
                changed.cancel()
                lost.cancel()
            if self._conn.changed.is_set():
                self._conn.changed.clear()
                other = self._conflict(_claims(self._conn.messages, fleet), race=True)
                if other is not None and self.conflict is None:
                    self.conflict = self._refusal(other, self.dir_hint)
            if not self._conn.lost.is_set():
                continue
            await self._conn.close()
            self._conn.index = (self._conn.index + 1) % len(self._conn.addresses)
            try:
                await self._conn.connect()
                self._conn.messages.clear()
                await self._conn.subscribe(claims_filter(fleet))
                await self._conn.publish(self.topic, self.claim.payload())
                log.warning("claim published again on %s", self._conn.where)
                delay = 0.5
            except (ClaimError, aiomqtt.MqttError, OSError, TimeoutError) as e:
                log.warning("claim not yet restored: %s", e)
                self._conn.lost.set()
                await asyncio.sleep(delay * random.uniform(1.0, 1.25))
                delay = min(delay * 2, 10.0)

    async def release(self) -> None:
        """Clear the claim (empty retained message) and disconnect cleanly."""
        if self._keeper is not None:
            self._keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keeper
            self._keeper = None
        if self._published and self._conn.client is not None:
            with contextlib.suppress(aiomqtt.MqttError, OSError, TimeoutError):
                await self._conn.publish(self.topic, b"")
            self._published = False
        await self._conn.close()


async def read_claims(
    access: BrokerAccess, fleet_id: str, *, settle: float = SETTLE_SECONDS
) -> dict[str, ShardClaim]:
    """The retained claims of a fleet by state id (collected for ``settle`` seconds)."""
    conn = _Connection(access, f"gbcs-emu-claims-{uuid.uuid4().hex[:12]}")
    await conn.connect()
    try:
        await conn.subscribe(claims_filter(fleet_id))
        await asyncio.sleep(settle)
        return _claims(conn.messages, fleet_id)
    except (aiomqtt.MqttError, OSError, TimeoutError) as e:
        raise ClaimError(f"reading the claims on {conn.where}: {e}") from None
    finally:
        await conn.close()


async def release_claim(
    access: BrokerAccess, fleet_id: str, state_id: str, *, settle: float = SETTLE_SECONDS
) -> tuple[ShardClaim | None, bool]:
    """Clear the retained claim of ``state_id``: (the claim found, whether a message was
    there at all). Clears it even when unreadable; does nothing when there is none."""
    conn = _Connection(access, f"gbcs-emu-release-{uuid.uuid4().hex[:12]}")
    topic = claim_topic(fleet_id, state_id)
    await conn.connect()
    try:
        await conn.subscribe(topic)
        await asyncio.sleep(settle)
        payload = conn.messages.get(topic, b"")
        if not payload:
            return None, False
        found: Any = _claims({topic: payload}, fleet_id).get(state_id)
        await conn.publish(topic, b"")
        return found, True
    except (aiomqtt.MqttError, OSError, TimeoutError) as e:
        raise ClaimError(f"releasing the claim on {conn.where}: {e}") from None
    finally:
        await conn.close()
