"""The emulator process: hosts sites on a bus, durably, with one central scheduler.

* Sites are hydrated on demand (from the state store, or fresh at factory state) and
  kept in an LRU cache; an idle site costs a scheduler entry at most, so a fleet of
  100,000 sites boots without building 400,000 devices.
* One scheduler (a heap of ``(due, site)``) drives every site's ``advance()`` at the
  times ``Site.next_due`` names; there is no task or timer per device.
* A command's effects, counters and the frames it produced are committed to sqlite in
  one transaction before anything is published; an outbox task publishes and deletes
  them, retrying while the broker is away, with up to :data:`PUBLISH_WINDOW` entries
  awaiting their acknowledgement (a sliding window: each PUBACK makes room for the next
  entry). Commands that are already waiting on the bus are drained together and
  committed in one transaction (:meth:`Emulator.handle_many`, group commit), in groups
  sized to about :data:`SERVE_BUDGET` seconds of work (at most :data:`SERVE_BATCH`);
  the loop yields after each group, so its answers are published while the next one
  runs. Only devices whose saved JSON would change are rewritten.
* Worker ``w`` of ``K`` owns the sites whose index ``i`` has ``i % K == w``. With one
  worker it subscribes ``gbcs/+/+/in`` and ``gbcs/+/+/control``; with several, each
  subscribes ``gbcs/<site>/+/in`` and ``gbcs/<site>/+/control`` for its own sites only
  (:meth:`Emulator.subscriptions`), so the broker never sends it another worker's frames.
  The worker that owns a topic's site answers for everything on it: an unknown EUI or a
  device of another site named there.
* An alert storm (:meth:`Emulator.storm`) cuts the mains site by site in chunks, each
  committed in one transaction, and lets the publisher send a chunk's alerts before it
  cuts the next: alerts flow while the storm runs.
* The control API (``control=True``, ``gbcs-emu run --control``): JSON requests on
  ``gbcs/<site>/<eui>/control`` run :func:`devices.control.execute_control` on the
  addressed device's site; its changes are committed like a command's, with the reply
  and the frames it caused queued in the same transaction, so the reply on
  ``.../control/reply`` is never published before the change is durable. Off, control
  requests are only counted (``rejected.control_disabled``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import json
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from devices.chf import Chf
from devices.control import execute_control
from devices.esme import Esme
from devices.factory import create_device
from devices.gpf import Gpf
from devices.gsme import Gsme
from devices.outbound import Outbound, OutboundKind
from devices.site import Site
from gbcs.envelope import decode_envelope
from gbcs.errors import GbcsDecodeError
from keys.certs import eui_hex
from keys.store import KeyStore

from ..transport.base import Bus, BusError, BusMessage, Channel
from .clock import Clock
from .config import FleetConfig, derive_own_keys
from .deltas import DeviceRecord, changes, dumps
from .metrics import Metrics
from .pki import DeviceCertificates
from .statedir import StateError, ensure_dir, open_info, write_info
from .store import OutboxEntry, SiteWrite, StateStore, open_ledger

__all__ = [
    "PUBLISH_WINDOW",
    "SERVE_BATCH",
    "SERVE_BUDGET",
    "STORM_CHUNK",
    "Emulator",
    "StormReport",
]

log = logging.getLogger("gbcs.emulator")

#: Sites a storm cuts (and commits in one transaction) between two turns of the publisher.
STORM_CHUNK = 50
#: Outbox entries handed to the transport and not yet acknowledged, at most.
PUBLISH_WINDOW = 64
#: Commands already queued on the bus that are executed and committed together, at most.
SERVE_BATCH = 64
#: Seconds of work a group of commands is sized for (from the time recent groups took per
#: command): the first command of a group waits for the whole group before its answer
#: can leave, so a backlog is worked off in groups of about this long, each published
#: while the next runs, not in groups of :data:`SERVE_BATCH` whatever they cost.
SERVE_BUDGET = 0.005
#: Control requests that changed a site whose replies the site keeps (for duplicates).
CONTROL_REMEMBERED = 16

# One unit of work to commit: a site, the frames to queue, the device types it changed
# (None: every device).
_Work = tuple[int, Site, list[Outbound], set[str] | None]

#: Subscriptions of a worker that serves the whole fleet (also what earlier versions
#: subscribed in every worker: a persistent session may still hold them).
WILDCARD_FILTERS = ("gbcs/+/+/in", "gbcs/+/+/control")


@dataclass(slots=True)
class _OnDisk:
    """What the store holds for a hydrated site: the time it was built (its factory
    state's), its own row's JSON (None: never written) and a record per device."""

    created: datetime
    own: str | None = None
    devices: dict[str, DeviceRecord] = field(default_factory=dict)
    exposed: bool = False  # handed out by site() before its factory state was recorded
    options: dict[str, str] = field(default_factory=dict)  # device options (JSON) by type
    factory: dict[str, str] = field(default_factory=dict)  # factory template id by type
    #: The replies of the last control requests that changed the site, by request key
    #: (:func:`_request_key`), oldest first; saved in the site's row.
    control: dict[str, str] = field(default_factory=dict)

    def remember(self, key: str, reply: str) -> None:
        """Record a control request's reply, keeping the last :data:`CONTROL_REMEMBERED`."""
        self.control[key] = reply
        while len(self.control) > CONTROL_REMEMBERED:
            del self.control[next(iter(self.control))]


@dataclass(slots=True)
class StormReport:
    """What :meth:`Emulator.storm` did: sites cut, alerts produced, and when each chunk
    was committed (``time.time()``), so delivery latency can be measured per alert."""

    sites: int = 0
    produced: int = 0
    started: float = 0.0
    finished: float = 0.0
    #: per chunk: (index of its last site, alerts it produced, commit time)
    chunks: list[tuple[int, int, float]] = field(default_factory=list)
    complete: bool = False  # False: the emulator stopped before every site was cut

    def to_json(self) -> dict[str, Any]:
        """A JSON-able form (``storm-<worker>.json`` of a storm worker)."""
        return {
            "sites": self.sites,
            "produced": self.produced,
            "started": self.started,
            "finished": self.finished,
            "chunks": [list(c) for c in self.chunks],
            "complete": self.complete,
        }


class Emulator:
    """Serves a fleet's sites (or this worker's share of them) on a bus."""

    def __init__(
        self,
        config: FleetConfig,
        bus: Bus,
        clock: Clock,
        keys: KeyStore,
        state_dir: Path,
        *,
        worker: int = 0,
        workers: int = 1,
        cache_size: int = 2000,
        verify_state: bool = True,
        control: bool = False,
    ) -> None:
        """``verify_state=False``: the caller has just run the database's integrity scan
        (``gbcs-emu run`` does, before starting its workers); the other checks remain.
        ``control=True`` serves the control API (it can rewrite any device's state)."""
        self.config = config
        self.control = control
        self.bus = bus
        self.clock = clock
        self.keys = keys
        self.worker = worker
        self.workers = workers
        self.cache_size = cache_size
        ensure_dir(state_dir)
        self.state_dir = state_dir
        self.info = open_info(state_dir, seed=config.seed)
        if config.seed is None:  # the state's own (random) seed
            config.seed = self.info.seed_bytes
        db = f"state-{worker}.db"
        self.store = StateStore(
            state_dir / db,
            must_exist=db in self.info.databases,
            meta={"worker": str(worker), "state": self.info.id},
            verify=verify_state,
        )
        if db not in self.info.databases:
            self.info.databases.append(db)
            write_info(state_dir, self.info)
        try:
            self.used = open_ledger(self.store, state_dir / f"used-{worker}.txt")
        except StateError:
            self.store.close()
            raise
        self.metrics = Metrics()
        # the devices' own certificates, from the state's device CA, issued on first need
        self.certificates = DeviceCertificates(state_dir / "pki")
        self.sites: OrderedDict[int, Site] = OrderedDict()
        self._heap: list[tuple[datetime, int]] = []
        self._wake = asyncio.Event()
        self._outbox = asyncio.Event()
        self._stopping = asyncio.Event()
        self.ready = asyncio.Event()
        self._published = asyncio.Event()  # the publisher finished a batch (or idles)
        self._running = False  # run()'s tasks (the publisher among them) are up
        # Per hydrated site: what the store holds for it (see _serialise).
        self._saved: dict[int, _OnDisk] = {}
        # Factory templates (see _for_change): by (kind, options, key store generation)
        # their id and state; their JSON by id; the ids already in the store.
        self._templates: dict[tuple[str, str, int], tuple[str, dict[str, Any]]] = {}
        self._template_text: dict[str, str] = {}
        self._stored_templates: set[str] = self.store.template_ids()

    def close(self) -> None:
        """Close the store and ledger of an emulator used without :meth:`run`."""
        self.store.close()
        self.used.close()

    # ------------------------------------------------------------------- sites

    def owns(self, index: int) -> bool:
        """True when site ``index`` is this worker's."""
        return index % self.workers == self.worker

    def site_id(self, index: int) -> str:
        """The id of site ``index`` (its topic level), without building its config."""
        return self.config.site.site_id if self.config.sites == 1 else f"site-{index}"

    def index_of_site(self, site_id: str) -> int | None:
        """The fleet index of the site a topic names (None: no such site in the fleet)."""
        if self.config.sites == 1:
            return 0 if site_id == self.config.site.site_id else None
        index = _index_of(site_id)
        if index is None or not 0 <= index < self.config.sites or self.site_id(index) != site_id:
            return None
        return index

    def subscriptions(self) -> list[str]:
        """The topic filters this worker subscribes to: every site's when it serves the
        whole fleet, else two per site it owns (commands and control requests)."""
        if self.workers == 1:
            return list(WILDCARD_FILTERS)
        out = []
        for index in range(self.worker, self.config.sites, self.workers):
            site_id = self.site_id(index)
            out += [f"gbcs/{site_id}/+/in", f"gbcs/{site_id}/+/control"]
        return out

    def _answers_for(self, site_id: str) -> bool:
        """Whether this worker handles a message on a topic of ``site_id``: the owner of
        the site does; for a site outside the fleet (which only a wildcard subscription
        brings), worker 0 does, so it is counted once."""
        index = self.index_of_site(site_id)
        return self.worker == 0 if index is None else self.owns(index)

    def site(self, index: int) -> Site:
        """The hydrated site (built fresh on first use, else loaded from the store).

        A caller may change the devices it holds directly (tests and tools do): a fresh
        site handed out here has its first write saved in full, since its factory state
        can no longer be told from those changes.
        """
        site = self._site(index)
        disk = self._saved[index]
        if not disk.devices:
            disk.exposed = True
        return site

    def _site(self, index: int) -> Site:
        """:meth:`site` for the emulator's own use (it records changes itself).

        A site's devices are built at their factory state, at the time the site was first
        built (stored with it), then what the store holds is applied: each device's
        snapshot, or for a device without one its deltas on top of that factory state.
        """
        s = self.sites.get(index)
        if s is not None:
            self.sites.move_to_end(index)
            return s
        cfg = self.config.site_config(index)
        saved = self.store.load_site(cfg.site_id)
        created = self.clock.now()
        if saved is not None and "created" in saved:
            created = datetime.fromisoformat(saved["created"])
        made: dict[str, Any] = {}
        for kind in cfg.devices:
            own = derive_own_keys(self.config.seed, cfg.eui(kind))
            made[kind] = create_device(
                kind,
                own.eui,
                self.keys,
                own=own,
                parties=self.config.parties or None,
                now=created,
                certificates=self.certificates.issuer(own),
                options=dict(cfg.options.get(kind, {})),
            )
        chf = made["CHF"]
        assert isinstance(chf, Chf)
        site = Site(
            chf,
            _typed(made.get("ESME"), Esme),
            _typed(made.get("GSME"), Gsme),
            _typed(made.get("GPF"), Gpf),
        )
        disk = _OnDisk(created)
        if saved is not None:
            self._load(cfg.site_id, site, saved, disk)
            self.metrics.inc("sites_loaded")
        else:
            self.metrics.inc("sites_created")  # its records are taken by _for_change
            disk.options = {
                kind: json.dumps(cfg.options.get(kind, {}), sort_keys=True, default=str)
                for kind in cfg.devices
            }
        self._saved[index] = disk
        self.sites[index] = site
        while len(self.sites) > self.cache_size:
            evicted, _ = self.sites.popitem(last=False)  # already persisted
            self._saved.pop(evicted, None)
        self.metrics.gauges["sites_hydrated"] = len(self.sites)
        return site

    def _for_change(self, index: int) -> Site:
        """:meth:`site`, about to be changed. A fresh site's devices are recorded as
        holding their kind's *factory template*: the factory state of the first device of
        that kind, options and key store built by this process, stored once (by content
        hash) with the first site that uses it. Their first writes are then only what
        differs from it (their EUI, their clocks, what the change did), and a reload
        rebuilds them exactly from the template and those deltas."""
        site = self._site(index)
        disk = self._saved[index]
        if not disk.devices and not disk.exposed:
            for d in site.devices:
                kind = d.device_type.value
                key = (kind, disk.options.get(kind, "{}"), self.keys.generation)
                made = self._templates.get(key)
                if made is None:
                    state = d.to_dict()
                    del state["last_advance"]
                    text = json.dumps(state, separators=(",", ":"), sort_keys=True)
                    tid = hashlib.sha256(text.encode()).hexdigest()[:32]
                    made = self._templates[key] = (tid, state)
                    self._template_text[tid] = text
                # the template's sections are shared, never changed in place
                disk.devices[kind] = DeviceRecord(dict(made[1]))
                disk.factory[kind] = made[0]
        return site

    def _load(self, site_id: str, site: Site, saved: dict[str, Any], disk: _OnDisk) -> None:
        """Load ``saved`` (:meth:`StateStore.load_site`) into the factory-fresh ``site``
        and record in ``disk`` what the store holds."""
        counts = self.store.delta_counts(site_id)
        site.load_state(saved)
        for d in site.devices:
            kind = d.device_type.value
            state = d.to_dict()  # what the device holds now, in containers of its own
            del state["last_advance"]
            disk.devices[kind] = DeviceRecord(state, deltas=counts.get(kind, 0))
        disk.factory = dict(saved.get("factory", {}))
        disk.control = {str(k): str(v) for k, v in saved.get("control_replies", [])}
        own = {k: v for k, v in saved.items() if k != "devices"}
        disk.own = dumps(own)

    def _schedule(self, index: int, site: Site, now: datetime) -> None:
        due = site.next_due(now)
        if due is not None:
            heapq.heappush(self._heap, (due, index))
            self._wake.set()

    # -------------------------------------------------------------- processing

    def _topic_for(self, site_id: str, o: Outbound, fallback: bytes) -> str:
        if o.kind is OutboundKind.POWER_OUTAGE:
            return BusMessage(site_id, eui_hex(fallback).upper(), Channel.ALERT, b"").topic
        origin = o.origin
        if origin is None:
            try:
                origin = decode_envelope(o.frame).header.originator
            except GbcsDecodeError:
                origin = fallback
        channel = Channel.OUT if o.kind is OutboundKind.RESPONSE else Channel.ALERT
        return BusMessage(site_id, eui_hex(origin).upper(), channel, b"").topic

    def _commit(
        self,
        index: int,
        site: Site,
        outs: list[Outbound],
        now: datetime,
        schedule: bool = True,
        dirty: set[str] | None = None,
        extra: Sequence[tuple[str, bytes]] = (),
    ) -> None:
        """Persist (``dirty`` device types only, when given) and queue ``outs``, then
        the ``extra`` (topic, payload) rows, in one transaction."""
        self._commit_group([(index, site, outs)], now, schedule, dirty, extra)

    def _commit_group(
        self,
        items: Sequence[tuple[int, Site, list[Outbound]]],
        now: datetime,
        schedule: bool = True,
        dirty: set[str] | None = None,
        extra: Sequence[tuple[str, bytes]] = (),
    ) -> list[int]:
        """:meth:`_commit` for several ``(index, site, outs)`` in one transaction (the
        ``extra`` rows follow the last site's). Returns the outbox ids."""
        work = [(i, s, o, None if dirty is None else set(dirty)) for i, s, o in items]
        return self._commit_work(work, now, schedule, extra)

    def _commit_work(
        self,
        items: Sequence[_Work],
        now: datetime,
        schedule: bool = True,
        extra: Sequence[tuple[str, bytes]] = (),
        *,
        hook: bool = False,
    ) -> list[int]:
        """Persist what ``items`` changed and queue their frames (then the ``extra``
        rows), in order and in one transaction. A site named by several items is saved
        once, with the last of them, after all its changes. Returns the outbox ids."""
        changed: dict[int, set[str] | None] = {}
        last: dict[int, int] = {}
        rows_of: list[list[tuple[str, bytes]]] = []
        for n, (index, site, outs, dirty) in enumerate(items):
            site_id = self.site_id(index)
            last[index] = n
            mine = changed.get(index, set())
            if dirty is None or mine is None or site.chf_changed:
                mine = None  # the routing touched the hub: save every device that changed
            else:
                mine |= dirty
            rows = []
            for o in outs:
                topic = self._topic_for(site_id, o, site.chf.eui)
                rows.append((topic, o.frame))
                if mine is not None:  # whoever sent a frame changed (counters at least)
                    sender = site.device(bytes.fromhex(topic.split("/")[2]))
                    if sender is not None:
                        mine.add(sender.device_type.value)
            changed[index] = mine
            rows_of.append(rows)
        if rows_of:
            rows_of[-1].extend(extra)
        writes: list[SiteWrite] = []
        saved: dict[int, list[Callable[[], None]]] = {}
        for n, (index, site, _, _) in enumerate(items):
            w = SiteWrite(self.site_id(index), outbound=rows_of[n])
            if last[index] == n:
                saved[index] = self._serialise(index, site, changed[index], w)
            writes.append(w)
        try:
            ids = self.store.commit_rows(writes, time.time(), hook=hook)
        except sqlite3.Error as e:
            # Nothing was acknowledged: forget the in-memory changes, so the sites reload
            # what is on disk and a retry of the same command is accepted, not a replay.
            for index in last:
                self._forget(index)
            self.metrics.inc("errors.store")
            names = ", ".join(w.site for w in writes[:3]) + (" …" if len(writes) > 3 else "")
            raise StateError(f"cannot store site {names}: {e}") from None
        for w in writes:
            self._stored_templates.update(w.templates)
        for index, done in saved.items():
            for committed in done:
                committed()
            items[last[index]][1].chf_changed = False
        new = [w.site for w in writes if w.site not in self.used.sites]
        if new:
            self.used.add(list(dict.fromkeys(new)))
        for index, site, outs, _ in items:
            for o in outs:
                self.metrics.inc(f"out.{o.kind.value}")
            if schedule:
                self._schedule(index, site, now)
        if ids:
            self._outbox.set()
        return ids

    def _serialise(
        self, index: int, site: Site, changed: set[str] | None, w: SiteWrite
    ) -> list[Callable[[], None]]:
        """Fill ``w`` with what ``site``'s ``changed`` devices (None: all) changed since
        the store last saw them (:func:`.deltas.changes`: deltas, now and then a snapshot)
        and its own row when that changed. Returns what records the write as on disk once
        ``w`` is committed.

        A site's first write always includes its own row (with the time it was built, which
        its factory state derives from), so a site in the ledger is always in the store.
        """
        disk = self._saved[index]
        done: list[Callable[[], None]] = []
        if not disk.devices:
            # Changed without _for_change (a caller of site() that changed a device
            # itself): what changed is unknown, so every device is saved in full.
            for d in site.devices:
                kind = d.device_type.value
                state = d.to_dict()
                w.devices[kind] = dumps(state)
                del state["last_advance"]
                done.append(partial(disk.devices.__setitem__, kind, DeviceRecord(state, True)))
            changed = set()
        for d in site.devices:
            kind = d.device_type.value
            if changed is not None and kind not in changed:
                continue
            change = changes(disk.devices[kind], d.to_dict())
            if change is None:
                continue
            if change.snapshot is not None:
                w.devices[kind] = change.snapshot
            elif change.delta is not None:
                w.deltas[kind] = change.delta
            done.append(change.committed)
        own = site.to_dict(set())
        del own["devices"]
        own["created"] = disk.created.isoformat()
        if disk.control:
            own["control_replies"] = [[k, v] for k, v in disk.control.items()]
        if disk.factory:
            own["factory"] = disk.factory
            for tid in disk.factory.values():
                if tid not in self._stored_templates:
                    w.templates[tid] = self._template_text[tid]
        text = dumps(own)
        if disk.own != text or ((w.devices or w.deltas) and w.own is None):
            # the site's "updated" time moves with its devices
            w.own = text
            done.append(lambda: setattr(disk, "own", text))
        return done

    def _forget(self, index: int) -> None:
        """Drop a site's uncommitted in-memory state: it reloads from disk when next used."""
        self.sites.pop(index, None)
        self._saved.pop(index, None)

    def handle(self, message: BusMessage) -> int:
        """One incoming command: execute, persist, queue the answer. Returns frames queued."""
        t0 = time.perf_counter()
        now = self.clock.now()
        work = self._execute(message, now)
        if work is None:
            return 0
        self._commit_work([work], now)
        self.metrics.latency.observe(time.perf_counter() - t0)
        return len(work[2])

    def handle_many(self, messages: Sequence[BusMessage]) -> int:
        """Several incoming commands (group commit): execute them in order, then persist
        all their effects and queue all their answers in one transaction, before any of
        them can be published. Returns the frames queued.

        A command that raises (a bug, not bad input) is logged and counted in ``errors``;
        its site, which it may have half changed, is reloaded from disk and the batch's
        earlier commands for that site run again on it, so every other command still
        commits, each exactly once. A store failure commits none of them
        (:class:`StateError`), and their sites reload from disk.
        """
        t0 = time.perf_counter()
        now = self.clock.now()
        done: list[tuple[BusMessage, _Work]] = []
        for message in messages:
            try:
                work = self._execute(message, now)
            except StateError:
                raise
            except Exception:
                log.exception("error handling %s", message.topic)
                self.metrics.inc("errors")
                done = self._rerun_without(message, done, now)
                continue
            if work is not None:
                done.append((message, work))
        if not done:
            return 0
        self._commit_work([w for _, w in done], now, hook=True)
        elapsed = time.perf_counter() - t0
        for _ in done:
            self.metrics.latency.observe(elapsed)
        return sum(len(w[2]) for _, w in done)

    def _rerun_without(
        self, failed: BusMessage, done: list[tuple[BusMessage, _Work]], now: datetime
    ) -> list[tuple[BusMessage, _Work]]:
        """``failed`` raised: reload its site from disk and run the batch's earlier
        commands for that site again (uncommitted, unpublished: they are executed once as
        far as anyone outside can tell). Returns the batch's work without ``failed``."""
        index = self.config.site_of_eui(bytes.fromhex(failed.eui))
        if index is None:
            return done
        self._forget(index)
        kept: list[tuple[BusMessage, _Work]] = []
        for message, work in done:
            if work[0] != index:
                kept.append((message, work))
                continue
            try:
                again = self._execute(message, now, count=False)
            except Exception:
                log.exception("error handling %s again", message.topic)
                self.metrics.inc("errors")
                self._forget(index)
                return [(m, w) for m, w in kept if w[0] != index]
            if again is not None:
                kept.append((message, again))
        return kept

    def _execute(self, message: BusMessage, now: datetime, count: bool = True) -> _Work | None:
        """Run one command on its site, uncommitted: the work to commit, or None when the
        message is not this worker's or is refused before reaching a site (counted unless
        ``count`` is false: a re-run)."""
        if not self._answers_for(message.site):
            return None  # another worker's site (under a wildcard subscription): it counts it
        inc = self.metrics.inc if count else _no_count
        try:
            eui = bytes.fromhex(message.eui)
        except ValueError:
            inc("rejected.topic")
            return None
        index = self.config.site_of_eui(eui)
        if index is None:
            inc("ignored.unknown_device")
            return None
        inc("commands")
        if self.site_id(index) != message.site:
            inc("rejected.topic")  # a device of another site named here
            return None
        site = self._for_change(index)
        outs = site.receive(message.frame, now)
        target = site.device(eui)
        if target is not None and target.last_rejection is not None:
            inc(f"rejected.{target.last_rejection.check.value}")
        # The command changed its target (and, through the site's routing, the CHF when
        # it queued or tunnelled anything: Site.chf_changed). Other devices only caught up
        # on time-driven state, which a restart recomputes identically from their saved
        # state.
        dirty = {d.device_type.value for d in (target, site.receiver) if d is not None}
        if site.gsme is not None and target is site.gpf:
            dirty.add("GSME")  # a read may have run a GSME wake-up first
        return index, site, outs, dirty

    def handle_control(self, message: BusMessage) -> bool:
        """One control request: execute, persist, queue the reply. Returns True when a
        reply was queued (by this worker).

        The reply goes to ``gbcs/<site>/<eui>/control/reply`` of the request's topic and
        echoes the request's ``id`` (null when none could be read). An unknown EUI, a
        site id that is not the device's, or a payload that is not a UTF-8 JSON object
        get an error reply from the worker that owns the topic's site (worker 0 for a
        site outside the fleet); a request on another worker's site is left to it.
        """
        if not self._answers_for(message.site):
            return False
        if not self.control:
            self.metrics.inc("rejected.control_disabled")
            return False
        request, problem = _parse_request(message.frame)
        rid = _request_id(request)
        eui = bytes.fromhex(message.eui)  # from_topic has checked it is 16 hex digits
        index = self.config.site_of_eui(eui)
        if index is None:
            self.metrics.inc("control.rejected")
            text = f"no device {message.eui} in this emulator's fleet"
            self._reply_only(message, rid, "unknown_device", text)
            return True
        self.metrics.inc("control.requests")
        site_id = self.site_id(index)
        if site_id != message.site:
            text = f"device {message.eui} is in site {site_id!r}, not {message.site!r}"
            problem = ("wrong_site", text)
        if problem is not None:
            self.metrics.inc("control.rejected")
            self._reply_only(message, rid, *problem)
            return True
        site = self._for_change(index)
        disk = self._saved[index]
        key = _request_key(message)
        done = disk.control.get(key)
        if done is not None:
            # The same request again (an at-least-once broker's redelivery, or a client's
            # retry with the same id): its first reply, and nothing executed twice.
            self.metrics.inc("control.duplicates")
            self.store.commit(site_id, None, [(self._reply_topic(message), done.encode())])
            self._outbox.set()
            return True
        now = self.clock.now()
        try:
            result = execute_control(site, eui, request, now)
        except Exception:
            # A bug, not bad input (execute_control answers that): the site may be half
            # changed in memory, so it is reloaded from disk.
            self.sites.pop(index, None)
            log.exception("control request on %s failed", message.topic)
            self.metrics.inc("errors")
            self._reply_only(message, rid, "internal", "the emulator failed (see its log)")
            return True
        if not result.reply.get("ok"):
            self.metrics.inc("control.rejected")
        reply = (self._reply_topic(message), _encode_reply(result.reply))
        if result.changed or result.outs:
            dirty = set(result.changed)
            disk.remember(key, reply[1].decode())  # saved with the change, in its commit
            try:
                self._commit(index, site, list(result.outs), now, dirty=dirty, extra=[reply])
            except StateError:
                disk.control.pop(key, None)
                raise
        else:
            self.store.commit(site_id, None, [reply], time.time())
            self._outbox.set()
        return True

    @staticmethod
    def _reply_topic(message: BusMessage) -> str:
        return BusMessage(message.site, message.eui, Channel.CONTROL_REPLY, b"").topic

    def _reply_only(self, message: BusMessage, rid: Any, code: str, text: str) -> None:
        """Queue an error reply that changes no state (through the outbox, in order)."""
        reply = {"id": rid, "ok": False, "error": {"code": code, "message": text}}
        self.store.commit(
            message.site, None, [(self._reply_topic(message), _encode_reply(reply))], time.time()
        )
        self._outbox.set()

    def tick(self, now: datetime) -> int:
        """Advance every site whose time has come."""
        done: set[int] = set()
        while self._heap and self._heap[0][0] <= now:
            _, index = heapq.heappop(self._heap)
            if index in done:
                continue  # duplicate entry: the site already ran at this time
            site = self._for_change(index)
            outs = site.advance(now)
            self._commit(index, site, outs, now, schedule=False)
            done.add(index)
        for index in done:
            site = self._site(index)
            due = site.next_due(now)
            if due is not None:
                # a behaviour that stays due would spin: it runs again one second later
                heapq.heappush(self._heap, (max(due, now + timedelta(seconds=1)), index))
        self.metrics.gauges["scheduled"] = len(self._heap)
        return len(done)

    def apply(
        self,
        index: int,
        action: Callable[[Site, datetime], list[Outbound]],
        at: datetime | None = None,
    ) -> list[Outbound]:
        """Run a site-level ``action`` (e.g. ``Site.lose_mains``) at ``at`` (default: now).

        The site is persisted and what its devices sent is queued like any other frame.
        """
        if not self.owns(index):
            raise ValueError(f"site {index} belongs to another worker")
        now = self.clock.now() if at is None else at
        site = self._for_change(index)
        outs = action(site, now)
        self._commit(index, site, outs, now)
        return outs

    def power_cut(self, indices: Iterable[int], seconds: float) -> int:
        """A mains outage of ``seconds`` at every owned site of ``indices``, at once.

        Each site loses mains now and gets it back ``seconds`` later (in emulated time);
        the resulting alerts (ECS80 from each ESME, AD1 from each CHF after > 180 s) go
        through the durable outbox like any other frame. Returns the alerts produced.
        Nothing is published until it returns: a running emulator should use
        :meth:`storm`, which lets the alerts out while it works.
        """
        now = self.clock.now()
        outage = timedelta(seconds=seconds)
        owned = [i for i in indices if self.owns(i)]
        produced = 0
        for start in range(0, len(owned), STORM_CHUNK):
            produced += self._cut(owned[start : start + STORM_CHUNK], now, outage)[0]
        return produced

    async def storm(
        self,
        indices: Iterable[int],
        seconds: float,
        *,
        chunk: int = STORM_CHUNK,
        progress: Callable[[StormReport], None] | None = None,
    ) -> StormReport:
        """:meth:`power_cut`, overlapping with publishing: ``chunk`` sites at a time.

        Every owned site of ``indices`` loses mains at the same emulated instant. Each
        chunk's effects and alerts are committed in one transaction; before cutting the
        next chunk, the storm waits (while :meth:`run` is serving) until the publisher
        has sent everything committed so far, so an alert waits about one chunk's work,
        not the whole storm. A broker that is away therefore pauses the storm, and a
        stopping emulator ends it (``complete`` false). ``progress`` is called after
        every chunk.
        """
        if chunk < 1:
            raise ValueError(f"chunk must be at least 1 site, got {chunk}")
        now = self.clock.now()
        outage = timedelta(seconds=seconds)
        owned = [i for i in indices if self.owns(i)]
        report = StormReport(started=time.time())
        self.metrics.gauges["storm_running"] = 1.0
        try:
            last_id: int | None = None
            for start in range(0, len(owned), chunk):
                if last_id is not None and self._running:
                    await self._published_through(last_id)
                else:
                    await asyncio.sleep(0)
                if self._stopping.is_set():
                    break
                part = owned[start : start + chunk]
                produced, ids = self._cut(part, now, outage)
                report.sites += len(part)
                report.produced += produced
                report.chunks.append((part[-1], produced, time.time()))
                self.metrics.inc("storm_sites", len(part))
                if ids:
                    last_id = ids[-1]
                if progress is not None:
                    progress(report)
            else:
                report.complete = True
        finally:
            report.finished = time.time()
            self.metrics.gauges["storm_running"] = 0.0
        return report

    def _cut(self, part: Sequence[int], now: datetime, outage: timedelta) -> tuple[int, list[int]]:
        """Cut and restore mains at the (owned) sites ``part``, committed in one
        transaction. Returns the alerts produced and their outbox ids."""
        items: list[tuple[int, Site, list[Outbound]]] = []
        try:
            for i in part:
                site = self._for_change(i)
                items.append((i, site, site.lose_mains(now) + site.restore_mains(now + outage)))
        except BaseException:
            for i in part:  # uncommitted changes: reload those sites from disk
                self.sites.pop(i, None)
            raise
        ids = self._commit_group(items, now)
        produced = sum(o.kind is not OutboundKind.RESPONSE for _, _, outs in items for o in outs)
        self.metrics.inc("storm_alerts", produced)
        return produced, ids

    async def _published_through(self, last_id: int) -> None:
        """Wait until no outbox entry up to ``last_id`` is left (or the emulator stops)."""
        while self._running and not self._stopping.is_set():
            head = self.store.pending(1)
            if not head or head[0].id > last_id:
                return
            self._published.clear()
            await self._published.wait()

    # ------------------------------------------------------------------- tasks

    async def _serve(self) -> None:
        """Take what the bus has received, up to :data:`SERVE_BATCH` messages without
        waiting for more, and handle it: commands in runs, each run group-committed."""
        inbox: asyncio.Queue[BusMessage | None] = asyncio.Queue()

        async def pump() -> None:
            try:
                async for m in self.bus.messages():
                    inbox.put_nowait(m)
            finally:
                inbox.put_nowait(None)

        pumper = asyncio.create_task(pump())
        limit = SERVE_BATCH
        per_command = 0.0  # seconds, a moving average over recent groups
        try:
            while True:
                first = await inbox.get()
                batch = [first]
                while first is not None and len(batch) < limit and not inbox.empty():
                    batch.append(inbox.get_nowait())
                t0 = time.perf_counter()
                self._serve_batch([m for m in batch if m is not None])
                per_command, limit = _group_size(
                    (time.perf_counter() - t0) / len(batch), per_command
                )
                if None in batch:
                    await pumper  # the bus ended: raise what ended it, if anything
                    return
                # inbox.get() does not yield while messages wait: without this turn, a
                # backlog would be worked off before any of its answers is published
                await asyncio.sleep(0)
        finally:
            pumper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pumper

    def _serve_batch(self, batch: Sequence[BusMessage]) -> None:
        run: list[BusMessage] = []
        for m in [*batch, None]:
            if m is not None and m.channel is Channel.IN:
                run.append(m)
                continue
            if run:
                self._guarded(self.handle_many, run)
                run = []
            if m is not None and m.channel is Channel.CONTROL:
                self._guarded(self.handle_control, m)

    def _guarded(self, handler: Callable[[Any], object], arg: Any) -> None:
        try:
            handler(arg)
        except StateError:
            raise  # damaged or unwritable state: serving on would lose or replay
        except Exception:  # a bug must not stop the emulator; it is logged and counted
            log.exception("error handling %s", getattr(arg, "topic", "a batch of commands"))
            self.metrics.inc("errors")

    async def _scheduler(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            if self._heap:
                sleeper = asyncio.ensure_future(self.clock.sleep_until(self._heap[0][0]))
            else:
                sleeper = asyncio.ensure_future(asyncio.sleep(3600))
            waker = asyncio.ensure_future(self._wake.wait())
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
            for t in (sleeper, waker):
                t.cancel()
            self.tick(self.clock.now())

    async def _publisher(self) -> None:
        backoff = 0.05
        while not self._stopping.is_set():
            if await self._publish_stream():
                backoff = 0.05
                continue
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, 2.0)

    async def _publish_stream(self) -> bool:
        """Publish the outbox as it grows, up to :data:`PUBLISH_WINDOW` entries in flight
        (a sliding window: an acknowledgement makes room for the next entry at once,
        rather than after the whole window). Entries are handed to the transport in
        outbox order; each is marked attempted (one transaction per turn) before it is
        handed over, and only acknowledged ones are deleted (one transaction per turn).
        Returns False when the bus failed some (after the rest settled): they stay in the
        outbox, to be retried in order from its head; True when stopping."""
        last = 0  # the highest id handed to the transport by this stream
        inflight: dict[int, asyncio.Task[None]] = {}
        acked: list[int] = []
        refused = False
        failure: BaseException | None = None

        def settled(entry_id: int, task: asyncio.Task[None]) -> None:
            nonlocal refused, failure
            inflight.pop(entry_id, None)
            if task.cancelled():
                pass  # the publisher is stopping: the entry stays in the outbox
            elif isinstance(task.exception(), BusError):
                self.metrics.inc("broker.publish_failures")
                refused = True
            elif task.exception() is not None:
                failure = failure or task.exception()
            else:
                acked.append(entry_id)
                self.metrics.inc("published")
            self._outbox.set()  # the publisher has work: a flush, or room in the window

        try:
            while not self._stopping.is_set():
                self._outbox.clear()  # before looking, so that no wake-up is lost
                room = PUBLISH_WINDOW - len(inflight)
                if refused or failure is not None or room <= 0:
                    entries = []
                else:
                    entries = self.store.pending_after(last, room)
                if acked or entries:
                    self.store.sent_and_attempt(acked, [e.id for e in entries])
                    if acked:
                        acked.clear()
                        self._published.set()
                if refused or failure is not None:
                    if not inflight:
                        if failure is not None:
                            raise failure
                        return False
                    await self._outbox.wait()
                    continue
                if entries:
                    for e in entries:
                        if e.attempts:
                            # tried before (a crash or a lost PUBACK): subscribers may see
                            # it twice; the frame itself is identical, so its originator
                            # counter dedupes it
                            self.metrics.inc("published.maybe_duplicate")
                    for e in entries:
                        task = asyncio.ensure_future(self._publish_entry(e))
                        inflight[e.id] = task
                        task.add_done_callback(lambda t, i=e.id: settled(i, t))
                    last = entries[-1].id
                elif not inflight:
                    self._published.set()  # nothing left: storm() checks the outbox
                await self._outbox.wait()
            return True
        finally:
            for task in list(inflight.values()):
                task.cancel()
            if inflight:
                await asyncio.wait(list(inflight.values()))
            if acked:
                self.store.sent_many(acked)

    async def _publish_entry(self, e: OutboxEntry) -> None:
        try:
            msg = BusMessage.from_topic(e.topic, e.frame)
            await self.bus.publish(msg)
        except ValueError:
            log.error("dropping outbox entry %d with bad topic %r", e.id, e.topic)

    async def _stats_writer(self, path: Path) -> None:
        while not self._stopping.is_set():
            self.metrics.gauges["outbox"] = self.store.outbox_size()
            self.metrics.gauges["broker_connected"] = float(getattr(self.bus, "connected", True))
            self.metrics.gauges["broker_reconnects"] = float(getattr(self.bus, "reconnects", 0))
            self.metrics.write(path)
            await asyncio.sleep(1.0)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Serve until ``stop`` is set (or the task is cancelled); state stays flushed."""
        await self.bus.start()
        # control is subscribed when off too, so that requests to a closed API are counted
        filters = self.subscriptions()
        await self.bus.subscribe_many(filters)
        if filters != list(WILDCARD_FILTERS):
            for legacy in WILDCARD_FILTERS:  # a persistent session of an earlier version
                await self.bus.unsubscribe(legacy)
        for site_id in self.store.site_ids():  # reschedule persisted sites with work due
            index = 0 if site_id == self.config.site_config(0).site_id else _index_of(site_id)
            if index is not None and self.owns(index):
                site = self._site(index)
                self._schedule(index, site, self.clock.now())
        if self.store.outbox_size():
            self._outbox.set()
        tasks = [
            asyncio.create_task(self._serve()),
            asyncio.create_task(self._scheduler()),
            asyncio.create_task(self._publisher()),
            asyncio.create_task(self._stats_writer(self.state_dir / f"stats-{self.worker}.json")),
        ]
        self._running = True
        self.ready.set()
        stopper = asyncio.ensure_future(stop.wait() if stop is not None else asyncio.Future())
        failed: BaseException | None = None
        try:
            done, _ = await asyncio.wait([stopper, *tasks], return_when=asyncio.FIRST_COMPLETED)
            for t in done:
                if t is not stopper and not t.cancelled() and t.exception() is not None:
                    failed = t.exception()
        finally:
            stopper.cancel()
            self._running = False
            self._stopping.set()
            self._published.set()
            self._outbox.set()
            self._wake.set()
            for t in tasks:
                t.cancel()
            for t in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await t
            await self.bus.close()
            self.metrics.write(self.state_dir / f"stats-{self.worker}.json")
            self.store.close()
            self.used.close()
        if failed is not None:
            raise failed


def _no_count(name: str, n: int = 1) -> None:
    """A stand-in for ``Metrics.inc`` when a command runs again."""


def _group_size(last: float, average: float) -> tuple[float, int]:
    """The moving average of seconds per command, given the ``last`` group's and the
    ``average`` so far (0: none yet), and how many commands fit :data:`SERVE_BUDGET`
    (1 to :data:`SERVE_BATCH`)."""
    average = last if average <= 0 else 0.8 * average + 0.2 * last
    if average <= 0:
        return average, SERVE_BATCH
    return average, max(1, min(SERVE_BATCH, int(SERVE_BUDGET / average)))


def _with_first(text: str, name: str, value: Any) -> str:
    """The JSON object ``text`` (compact) with ``name: value`` added as its first member."""
    head = f"{{{json.dumps(name)}:{json.dumps(value, separators=(',', ':'))}"
    return head + ("}" if text == "{}" else "," + text[1:])


def _typed(d: object, cls: type) -> Any:
    return d if isinstance(d, cls) else None


def _parse_request(payload: bytes) -> tuple[Any, tuple[str, str] | None]:
    """The JSON object of a control payload, or (None, (code, message)) explaining why not."""
    try:
        request = json.loads(payload.decode("utf-8"))
    except UnicodeDecodeError:
        return None, ("bad_request", "payload is not UTF-8")
    except ValueError as exc:
        return None, ("bad_request", f"payload is not JSON: {exc}")
    if not isinstance(request, dict):
        return None, ("bad_request", f"payload is a JSON {_json_kind(request)}, not an object")
    return request, None


def _request_key(message: BusMessage) -> str:
    """What identifies a control request for deduplication: its device and exact bytes
    (the client's unique ``id`` is in them)."""
    return hashlib.sha256(message.eui.upper().encode() + b"\0" + message.frame).hexdigest()[:32]


def _request_id(request: Any) -> Any:
    """The id a reply echoes: a request's text or integer ``id``, else null."""
    rid = request.get("id") if isinstance(request, dict) else None
    return rid if isinstance(rid, str | int) and not isinstance(rid, bool) else None


def _encode_reply(reply: dict[str, Any]) -> bytes:
    return json.dumps(reply, separators=(",", ":"), default=str).encode()


def _json_kind(value: object) -> str:
    kinds = {list: "array", str: "string", bool: "boolean", int: "number", float: "number"}
    return "null" if value is None else kinds.get(type(value), type(value).__name__)


def _index_of(site_id: str) -> int | None:
    try:
        return int(site_id.rsplit("-", 1)[1])
    except (IndexError, ValueError):
        return None
