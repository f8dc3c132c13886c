"""One premises: a Comms Hub (CHF + GPF) with its ESME and GSME, wired together, sans-IO.

:class:`Site` is what the runtime hosts per premises. It takes WAN frames and time and
returns WAN frames, doing everything that happens inside the premises itself:

* routing by recipient: ESME, CHF and GPF answer at once; commands for the GSME are
  queued at the CHF and answered when the GSME next wakes and fetches them through the
  HAN tunnel (GET / GET-RESPONSE / PUT);
* the GPF mirror: refreshed from the GSME after every tunnel exchange;
* power: the ESME powers the Comms Hub. A mains failure takes both down; a firmware
  activation on the ESME cuts the Comms Hub's supply for as long as the ESME's
  activation profile says (MP102), and the CHF raises AD1 only if that exceeds 3 minutes;
* alert-storm consolidation (DP119, when enabled on the CHF) for the HAN devices'
  alerts.

**Premises time.** The public methods take the caller's (host) time. A premises may run
ahead of it by :attr:`Site.lead`: :meth:`Site.run_on` runs every device through a stretch
of time at once (profile samples, snapshots, billing periods and wake-ups accrue as they
would have), and from then on the premises is that far ahead. Its devices only ever see
premises time, so their clocks, schedules and records stay consistent with each other.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any

from gbcs.envelope import decode_envelope
from gbcs.errors import GbcsDecodeError

from .chf import Chf
from .device import Device
from .esme import Esme
from .gpf import Gpf
from .gsme import Gsme
from .outbound import Outbound, OutboundKind, PeerKind
from .supply import Outage

__all__ = ["Site"]


class Site:
    """A CHF with the ESME, GSME and GPF it serves (GSME and GPF optional)."""

    def __init__(
        self, chf: Chf, esme: Esme | None = None, gsme: Gsme | None = None, gpf: Gpf | None = None
    ) -> None:
        self.chf = chf
        self.esme = esme
        self.gsme = gsme
        self.gpf = gpf
        if gsme is not None:
            gsme.chf_eui = chf.eui
        self._cuts_applied = 0 if esme is None else len(esme.ch_supply_cuts)
        self._pending_restores: list[datetime] = []
        #: How far the premises runs ahead of the caller's clock (see :meth:`run_on`).
        self.lead = timedelta(0)
        #: Set when routing changed the CHF (queued or tunnelled a frame, forwarded an
        #: alert, cut or restored its supply); the runtime persists the CHF then, and
        #: clears the flag once it has.
        self.chf_changed = False
        #: The device the last :meth:`receive` delivered its frame to (None: none).
        self.receiver: Device | None = None

    def local(self, now: datetime) -> datetime:
        """The premises time at caller time ``now`` (``now`` plus :attr:`lead`)."""
        return now + self.lead

    @property
    def devices(self) -> tuple[Device, ...]:
        return tuple(d for d in (self.chf, self.esme, self.gsme, self.gpf) if d is not None)

    def device(self, eui: bytes) -> Device | None:
        for d in self.devices:
            if d.eui == eui:
                return d
        return None

    # -------------------------------------------------------------------- WAN in

    def receive(self, frame: bytes, now: datetime) -> list[Outbound]:
        """A WAN frame for this premises; returns WAN frames (responses, alerts, AD1)."""
        return self._receive_at(frame, self.local(now))

    def _receive_at(self, frame: bytes, now: datetime) -> list[Outbound]:
        out = self._advance_at(now)
        self.receiver = None
        try:
            recipient = decode_envelope(frame).header.recipient
        except GbcsDecodeError:
            # Unreadable frames reach the CHF, which logs and (per policy) alerts.
            self.chf_changed = True
            self.receiver = self.chf
            return out + self._route(self.chf.receive(frame, now), now)
        if self.gsme is not None and recipient == self.gsme.eui:
            self.chf_changed = True
            self.chf.queue_for_gsme(recipient, frame, now)
            return out
        target = self.device(recipient)
        if target is None:
            return out
        if not self.chf.power.powered:
            return out  # the Comms Hub is down: nothing reaches the premises
        self.receiver = target
        return out + self._route(target.receive(frame, now), now)

    # ------------------------------------------------------------------ time

    def advance(self, now: datetime) -> list[Outbound]:
        """Run every device's time-driven behaviour (GSME wake-ups included)."""
        return self._advance_at(self.local(now))

    def run_on(self, now: datetime, seconds: float) -> list[Outbound]:
        """Run the whole premises on by ``seconds`` at caller time ``now``: every device
        goes through that stretch as if it had passed (what they send meanwhile is
        returned), and the premises then stays that far further ahead of the caller."""
        if not seconds > 0:
            raise ValueError(f"run_on needs a positive number of seconds, not {seconds}")
        # advancing runs everything due since the last advance, up to the new time
        out = self._advance_at(self.local(now) + timedelta(seconds=seconds))
        self.lead += timedelta(seconds=seconds)
        return out

    def _advance_at(self, now: datetime) -> list[Outbound]:
        out: list[Outbound] = []
        out += self._apply_cuts(now)
        for t in sorted(x for x in self._pending_restores if x <= now):
            self._pending_restores.remove(t)
            self.chf_changed = True
            out += self.chf.restore_power(t)
        for d in self.devices:
            out += self._route(d.advance(now), now)
        return out

    def _apply_cuts(self, now: datetime) -> list[Outbound]:
        """New Comms Hub supply cuts from ESME firmware activations (MP102)."""
        out: list[Outbound] = []
        if self.esme is None:
            return out
        cuts = self.esme.ch_supply_cuts[self._cuts_applied :]
        self._cuts_applied = len(self.esme.ch_supply_cuts)
        for cut in cuts:
            self.chf_changed = True
            out += self.chf.lose_power(cut.start)
            if cut.end <= now:
                out += self.chf.restore_power(cut.end)
            else:
                self._pending_restores.append(cut.end)
        return out

    def next_due(self, now: datetime) -> datetime | None:
        """When :meth:`advance` next has observable work (the runtime's schedule).

        GSME wake-ups count only while commands wait for it: an idle wake-up changes
        nothing a later catch-up would not (the next :meth:`advance` runs missed wake-ups,
        refreshing the GPF mirror before any read).
        """
        due = self._next_due_at(self.local(now))
        return None if due is None else due - self.lead

    def _next_due_at(self, now: datetime) -> datetime | None:
        due = [d.next_due(now) for d in self.devices]
        due += self._pending_restores
        if self.esme is not None and len(self.esme.ch_supply_cuts) > self._cuts_applied:
            due.append(now)
        if self.gsme is not None and self.chf.has_queued(self.gsme.eui):
            due.append(max(self.gsme.next_wake, now))
        return min((d for d in due if d is not None), default=None)

    # ----------------------------------------------------------------- routing

    def _route(self, outs: Iterable[Outbound], now: datetime) -> list[Outbound]:
        """Deliver HAN frames inside the premises; return what goes to the WAN."""
        wan: list[Outbound] = []
        todo = list(outs)
        exchanged = False
        while todo:
            o = todo.pop(0)
            if o.peer is PeerKind.REMOTE_PARTY:
                if o.kind is OutboundKind.ALERT:
                    self.chf_changed = True  # DP119 consolidation counts what it forwards
                    if not self.chf.forward_alert(o, self._origin(o), now):
                        continue
                wan.append(o)
                continue
            if o.kind is not OutboundKind.TUNNEL:
                continue
            self.chf_changed = True
            if o.to == self.chf.eui and self.gsme is not None:
                todo += self.chf.tunnel(self.gsme.eui, o.frame, now)
                exchanged = True
            elif self.gsme is not None and o.to == self.gsme.eui:
                todo += self.gsme.receive_tunnel(o.frame, now)
        if exchanged and self.gpf is not None and self.gsme is not None:
            self.gpf.mirror(self.gsme.model)
        wan += self._apply_cuts(now)
        return wan

    def _origin(self, o: Outbound) -> bytes:
        if o.origin is not None:
            return o.origin
        try:
            return decode_envelope(o.frame).header.originator
        except GbcsDecodeError:
            return bytes(8)

    # ------------------------------------------------------------------- power

    def lose_mains(self, now: datetime) -> list[Outbound]:
        """Mains fails at the premises: the ESME and the Comms Hub it powers go down."""
        return self._lose_mains_at(self.local(now))

    def _lose_mains_at(self, now: datetime) -> list[Outbound]:
        out = self._advance_at(now)
        if self.esme is not None:
            out += self.esme.lose_mains(now)
        out += self.chf.lose_power(now)
        return out

    def restore_mains(self, now: datetime) -> list[Outbound]:
        """Mains returns: ECS80 from the ESME; AD1 from the CHF if it was > 3 minutes."""
        return self._restore_mains_at(self.local(now))

    def _restore_mains_at(self, now: datetime) -> list[Outbound]:
        out = self.chf.restore_power(now)
        if self.esme is not None:
            out += self._route(self.esme.restore_mains(now), now)
        return out + self._advance_at(now)

    def comms_hub_outages(self) -> list[Outage]:
        """Supply cuts the ESME's firmware activations caused (for reports and tests)."""
        return [] if self.esme is None else list(self.esme.ch_supply_cuts)

    # ------------------------------------------------------------------- state

    def to_dict(self, only: set[str] | None = None) -> dict[str, Any]:
        """The site's state; ``only`` limits ``devices`` to those types (the others are
        unchanged since they were last saved)."""
        return {
            "devices": {
                d.device_type.value: d.to_dict()
                for d in self.devices
                if only is None or d.device_type.value in only
            },
            "cuts_applied": self._cuts_applied,
            "pending_restores": [t.isoformat() for t in self._pending_restores],
            "lead_seconds": self.lead.total_seconds(),
        }

    def load_state(self, state: dict[str, Any]) -> None:
        for d in self.devices:
            s = state.get("devices", {}).get(d.device_type.value)
            if s is not None:
                d.load_state(s)
        self._cuts_applied = int(state.get("cuts_applied", self._cuts_applied))
        self._pending_restores = [
            datetime.fromisoformat(t) for t in state.get("pending_restores", [])
        ]
        self.lead = timedelta(seconds=float(state.get("lead_seconds", 0)))
