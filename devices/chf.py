"""The emulated Comms Hub Function (CHF).

* Device Log (ZigBee network control, class 104 ``0-0:30.3.0.255``): CCS01 adds a device
  (method 1; an ID already in the log keeps its key and still succeeds) and raises CS14
  (message code 0x0018, alert 0x8F12) to the ACB with the whole log, hashed TC link keys
  zero-length until a key exists; CCS02 removes one (method 2; removing an absent ID
  succeeds) after copying its TC link key to the Historic Device Log (15 entries, the
  oldest overwritten; never the GPF); CCS03 restores the log (method 5); CCS05/CCS06
  read it (attribute 4); CCS07 reads the log backups (method 4 on ``30.3.0.255`` and on
  the historic ``30.3.1.255``). Source: domain-rules §4.3 [MAP CCS01/02/03, CS14].
* Time source of its HAN (:meth:`Chf.time_cluster`): ZCL Time = UTC seconds since 2000,
  TimeStatus 0x09 (Master | Superseding).
* Power: the CHF raises its power-outage alert (AD1) only after more than 180 s without
  power, delivered ``ad1_latency_seconds`` later (configurable, to reproduce the MP096
  delivery figures). AD1 is a DCC/CSP alert, not a GBCS frame: it is emitted as an
  ``OutboundKind.POWER_OUTAGE`` record (JSON) to the WAN provider.
* GSME tunnel: WAN commands for a sleepy GSME are queued (32 per GSME by default, as
  the HG CH implementation) and handed over one per tunnel GET with the count that
  remains; the GSME's PUTs (responses, alerts) are forwarded to the WAN. Commands not
  fetched within ``gsme_queue_expiry_seconds`` (default 24 h) are dropped and logged as
  0x819D "GSME Command Not Retrieved" (domain-rules §4.2).
* Alert-storm consolidation (DP119, off by default): when on, identical alerts from one
  device within ``storm_window_seconds`` of the first are merged into it (held back and
  counted); with it off every alert is forwarded. It applies to every alert the CHF
  carries to the WAN: its own, the ESME's, the GPF's, and the GSME's tunnel PUTs, whose
  alert code, originator counter, criticality and alert-specific data the CHF reads from
  the frame without verifying it (a GSME's MAC is keyed for the remote party, not for the
  CHF). The open windows are part of the CHF's saved state, so a restart mid-window
  neither forwards a repeat again nor holds back an alert after the window's end.

  Which reading of DP119 (see :meth:`Chf.forward_alert`): the sources give no algorithm
  (domain-rules §4.3 and uncertainty 10; SEC paper [S3] only asks that storms be localised
  at the CH). "Identical" is read as same originator, same alert code and same
  alert-specific data (so two CS14s carrying different device logs, or two ECS80s for
  different outages, are both forwarded); the window is fixed from the first alert.
  Which alerts may be merged is the option ``storm_alerts``: ``non-critical`` (default;
  domain-rules §6 rule 55 speaks of "identical non-critical alerts") or ``all``.
"""

from __future__ import annotations

import hashlib
import json
from collections import deque
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from gbcs.axdr import BitString, Data, DataType, encode_data
from gbcs.codec import decode
from gbcs.cosem_time import DlmsDateTime
from gbcs.dlms import ActionResultCode, DataAccessResult, DataNotification
from gbcs.envelope import Cra, SignatureForm, decode_envelope
from gbcs.errors import GbcsDecodeError
from gbcs.gbz import GbzPayload
from gbcs.tunnel import TunnelCommand, TunnelMessage, decode_tunnel
from gbcs.usecases import DeviceType
from gbcs.zcl import utc_from_datetime
from keys.certs import as_eui, eui_hex
from keys.roles import RemotePartyRole

from .device import GENERIC_CRITICAL_ALERT, AlertSpec, DeviceConfig
from .dlms_device import DlmsDevice
from .outbound import Outbound, OutboundKind, PeerKind
from .supply import OUTAGE_THRESHOLD, PowerState
from .trust import OwnKeys, TrustAnchors

__all__ = [
    "HAN_DEVICE_TYPES",
    "HISTORIC_LOG_SIZE",
    "STORM_ALERTS",
    "AlertFacts",
    "Chf",
    "HanDevice",
    "StormWindow",
    "alert_facts",
]

R = RemotePartyRole
NETWORK = "0-0:30.3.0.255"
HISTORIC = "0-0:30.3.1.255"
HISTORIC_LOG_SIZE = 15
TIME_STATUS_MASTER_SUPERSEDING = 0x09

STORM_ALERTS = ("non-critical", "all")
"""Readings of DP119 for ``storm_alerts``: which alerts the CHF may consolidate."""
_GBZ_ALERT_HEAD = 9  # 01 09, component count, alert code (2), UTC time (4)

HAN_DEVICE_TYPES = {0: "ESME", 1: "GSME", 2: "GPF", 3: "PPMID", 4: "HCALCS", 5: "HHT", 6: "IHD"}
"""Device type enumeration of CCS01 (RTDS adds the ESME with 1; kept as received)."""


@dataclass(slots=True)
class HanDevice:
    """One Device Log (or Historic Device Log) entry."""

    eui: bytes
    device_type: int = 0
    install_code: bytes = b""
    link_key: bytes | None = None
    joined_at: datetime | None = None

    @property
    def hashed_key(self) -> bytes:
        """SHA-256 of the TC link key, empty until a key exists (CS14)."""
        return b"" if self.link_key is None else hashlib.sha256(self.link_key).digest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {
            "eui": eui_hex(self.eui),
            "type": self.device_type,
            "install_code": self.install_code.hex(),
            "link_key": None if self.link_key is None else self.link_key.hex(),
            "joined_at": None if self.joined_at is None else self.joined_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> HanDevice:
        return cls(
            as_eui(d["eui"]),
            int(d.get("type", 0)),
            bytes.fromhex(d.get("install_code", "")),
            None if d.get("link_key") is None else bytes.fromhex(d["link_key"]),
            None if d.get("joined_at") is None else datetime.fromisoformat(d["joined_at"]),
        )


@dataclass(frozen=True, slots=True)
class AlertFacts:
    """What a CHF reads from an alert frame it carries, without verifying it.

    ``counter`` is the originator counter, ``critical`` whether the frame is signed (GBCS
    signs critical alerts and MACs the others), ``data`` a digest of the alert-specific
    data (empty when there is none or the frame cannot be read).
    """

    code: int | None
    counter: int | None
    critical: bool
    data: str


def alert_facts(alert: Outbound) -> AlertFacts:
    """The alert code, counter, criticality and alert-specific data of ``alert``'s frame.

    DLMS data-notifications (ESME, CHF), GBZ alerts (GSME, GPF) and ASN.1 alerts are read
    from the frame alone; the time stamps are left out of ``data`` (they differ between
    otherwise identical alerts). An unreadable frame falls back on what the
    :class:`Outbound` says (its alert code; critical when its message code is 0x1000).
    """
    try:
        msg = decode(alert.frame)
    except GbcsDecodeError:
        return AlertFacts(alert.alert_code, None, alert.code == GENERIC_CRITICAL_ALERT, "")
    p = msg.payload
    code: Any = None
    specific = msg.raw[msg.layout.content_start : msg.layout.content_end]
    if isinstance(p, DataNotification):
        code = p.alert_code
        specific = b"".join(encode_data(x) for x in p.alert_elements)
    elif isinstance(p, GbzPayload) and p.alert is not None:
        code = p.alert.alert_code
        specific = specific[_GBZ_ALERT_HEAD:]
    else:  # ASN.1 alerts (future-dated outcomes, firmware alerts ...): the whole content
        code = getattr(getattr(p, "typed", None), "alert_code", None)
    if not isinstance(code, int):
        code = alert.alert_code
    return AlertFacts(
        code,
        msg.header.counter,
        msg.signature_form is SignatureForm.PRESENT,
        hashlib.sha256(specific).hexdigest()[:32] if specific else "",
    )


@dataclass(slots=True)
class StormWindow:
    """One open DP119 window: the alert that opened it and how many were merged into it."""

    start: datetime
    first_counter: int | None
    last_counter: int | None
    merged: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "first_counter": self.first_counter,
            "last_counter": self.last_counter,
            "merged": self.merged,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StormWindow:
        first, last = d.get("first_counter"), d.get("last_counter")
        return cls(
            datetime.fromisoformat(d["start"]),
            None if first is None else int(first),
            None if last is None else int(last),
            int(d.get("merged", 0)),
        )


StormKey = tuple[bytes, int, str]  # originator, alert code, alert-specific data digest


class Chf(DlmsDevice):
    """The Comms Hub Function of one site."""

    device_type = DeviceType.CHF
    profile_name = "chf"

    def __init__(
        self,
        config: DeviceConfig,
        own: OwnKeys,
        anchors: TrustAnchors,
        *,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> None:
        opts = config.options
        self.device_log: dict[bytes, HanDevice] = {}
        self.historic_log: deque[HanDevice] = deque(maxlen=HISTORIC_LOG_SIZE)
        self.extended_pan_id = bytes(8)
        self.join_timeout = 0
        self.joining_enabled = False
        self.power = PowerState()
        self.ad1_latency = timedelta(seconds=float(opts.get("ad1_latency_seconds", 0)))
        self.ad1_pending: list[tuple[datetime, datetime]] = []  # (due, outage start)
        self._ad1_sent: set[datetime] = set()  # outage starts already reported
        self._pending_alerts: list[AlertSpec] = []  # raised during one execute()
        self.storm_window = timedelta(seconds=float(opts.get("storm_window_seconds", 0)))
        self.storm_consolidation = bool(opts.get("storm_consolidation", False))
        self.storm_alerts = str(opts.get("storm_alerts", STORM_ALERTS[0]))
        self.storm_windows: dict[StormKey, StormWindow] = {}
        self.consolidated = 0
        # Commands for sleepy GSMEs, fetched with tunnel GETs: (queued at, frame).
        self.gsme_queues: dict[bytes, deque[tuple[datetime, bytes]]] = {}
        self.queue_size = int(opts.get("gsme_queue_size", 32))
        self.queue_expiry = timedelta(seconds=float(opts.get("gsme_queue_expiry_seconds", 86400)))
        super().__init__(config, own, anchors, now=now, **kwargs)

    # ----------------------------------------------------------------- bindings

    def bind(self) -> None:
        super().bind()
        m = self.model
        m.bind(1, "0-0:96.1.1.255", 2, getter=lambda: Data.octet_string(self.eui))
        m.bind_method(104, NETWORK, 1, self._register)
        m.bind_method(104, NETWORK, 2, self._unregister)
        m.bind_method(104, NETWORK, 5, self._restore)
        m.bind_method(104, NETWORK, 4, lambda _: self._backup(self.device_log.values()))
        m.bind_method(104, HISTORIC, 4, lambda _: self._backup(self.historic_log))
        m.bind(104, NETWORK, 2, getter=lambda: Data.boolean(self.joining_enabled),
               setter=self._set_joining)  # fmt: skip
        m.bind(104, NETWORK, 3, getter=lambda: Data.long_unsigned(self.join_timeout),
               setter=self._set_join_timeout)  # fmt: skip
        m.bind(104, NETWORK, 4, getter=self._active_devices)

    def _set_joining(self, v: Data) -> DataAccessResult:
        if v.tag != DataType.BOOLEAN:
            return DataAccessResult.TYPE_UNMATCHED
        self.joining_enabled = bool(v.value)
        return DataAccessResult.SUCCESS

    def _set_join_timeout(self, v: Data) -> DataAccessResult:
        if v.tag != DataType.LONG_UNSIGNED:
            return DataAccessResult.TYPE_UNMATCHED
        self.join_timeout = int(v.value)
        return DataAccessResult.SUCCESS

    # -------------------------------------------------------------- device log

    def _register(self, p: Data) -> tuple[ActionResultCode, Data | None]:
        try:
            eui_d, type_d, code_d = p.value[0], p.value[1], p.value[2]
            eui, dtype, code = bytes(eui_d.value), int(type_d.value), bytes(code_d.value)
            if len(eui) != 8:
                raise ValueError
        except (AttributeError, IndexError, TypeError, ValueError):
            return ActionResultCode.TYPE_UNMATCHED, None
        if eui not in self.device_log:
            entry = HanDevice(eui, dtype, code)
            for old in self.historic_log:
                if old.eui == eui:
                    entry.link_key = old.link_key  # usable in the first half of join_timeout
            self.device_log[eui] = entry
        self._pending_alerts.append(self.cs14(self._now))
        return ActionResultCode.SUCCESS, None

    def _unregister(self, p: Data) -> tuple[ActionResultCode, Data | None]:
        if p.tag != DataType.OCTET_STRING or len(p.value) != 8:
            return ActionResultCode.TYPE_UNMATCHED, None
        entry = self.device_log.pop(bytes(p.value), None)
        if entry is not None:
            self._to_historic(entry)
        return ActionResultCode.SUCCESS, None

    def _to_historic(self, entry: HanDevice) -> None:
        if entry.link_key is None or HAN_DEVICE_TYPES.get(entry.device_type) in ("GPF", "HHT"):
            return
        for i, old in enumerate(self.historic_log):
            if old.eui == entry.eui:
                del self.historic_log[i]
                break
        self.historic_log.append(HanDevice(entry.eui, entry.device_type, b"", entry.link_key))

    def _restore(self, p: Data) -> tuple[ActionResultCode, Data | None]:
        try:
            pan = bytes(p.value[0].value)
            rows = [(bytes(r.value[0].value), bytes(r.value[1].value)) for r in p.value[1].value]
            if len(pan) != 8 or any(len(e) != 8 for e, _ in rows):
                raise ValueError
        except (AttributeError, IndexError, TypeError, ValueError):
            return ActionResultCode.TYPE_UNMATCHED, None
        self.extended_pan_id = pan
        self.device_log = {e: HanDevice(e, 0, b"", k or None) for e, k in rows}
        return ActionResultCode.SUCCESS, None

    def _backup(self, entries: Any) -> tuple[ActionResultCode, Data | None]:
        return ActionResultCode.SUCCESS, self._log_data(entries, hashed=False)

    def _log_data(self, entries: Any, *, hashed: bool) -> Data:
        t = self.device_time(self._now)
        stamp = DlmsDateTime() if t is None else DlmsDateTime.from_datetime(t)
        rows = [
            Data.structure(
                Data.octet_string(e.eui),
                Data.octet_string(e.hashed_key if hashed else (e.link_key or b"")),
            )
            for e in entries
        ]
        return Data.structure(
            Data.octet_string(stamp.to_bytes()),
            Data.octet_string(self.extended_pan_id),
            Data.array(*rows),
        )

    def _active_devices(self) -> Data:
        rows = []
        for e in self.device_log.values():
            seen = (
                DlmsDateTime() if e.joined_at is None else DlmsDateTime.from_datetime(e.joined_at)
            )
            flags = 0xC0 if e.link_key is not None else 0x80
            rows.append(
                Data.structure(
                    Data.octet_string(e.eui),
                    Data.bit_string(BitString(8, bytes([flags]))),
                    Data.integer(0),
                    Data.integer(0),
                    Data.integer(0),
                    Data.unsigned(0),
                    Data.unsigned(0),
                    Data.unsigned(0),
                    Data.octet_string(seen.to_bytes()),
                    Data.unsigned(0),
                    Data.unsigned(0),
                    Data.unsigned(0),
                    Data.unsigned(0),
                    Data.unsigned(0),
                )
            )
        return Data.array(*rows)

    def cs14(self, now: datetime) -> AlertSpec:
        """The CS14 'device log changed' alert (0x8F12) with the whole log, to the ACB."""
        return AlertSpec(
            0x8F12,
            critical=False,
            recipient=R.ACCESS_CONTROL_BROKER,
            message_code=0x0018,
            extra=(self._log_data(self.device_log.values(), hashed=True),),
        )

    def han_join(self, eui: bytes, now: datetime, link_key: bytes | None = None) -> list[Outbound]:
        """A whitelisted device joins the HAN; CS14 carries its new key's hash."""
        entry = self.device_log.get(as_eui(eui))
        if entry is None:
            return []
        entry.link_key = (
            link_key or entry.link_key or hashlib.sha256(entry.install_code).digest()[:16]
        )
        entry.joined_at = self.device_time(now)
        return [self.alert(self.cs14(now), now)]

    # -------------------------------------------------------------- dispatch

    def execute(self, ctx: Any) -> Any:
        self._pending_alerts.clear()
        ex = super().execute(ctx)
        ex.alerts.extend(self._pending_alerts)
        self._pending_alerts.clear()
        return ex

    # ---------------------------------------------------------------- time source

    def time_cluster(self, now: datetime) -> tuple[int, int]:
        """ZCL Time cluster (Time, TimeStatus) the CHF serves to its HAN."""
        t = self.device_time(now) or now
        return utc_from_datetime(t), TIME_STATUS_MASTER_SUPERSEDING

    # ---------------------------------------------------------------------- power

    def lose_power(self, now: datetime) -> list[Outbound]:
        out = self.advance(now)
        if self.power.lose(now):
            self.log_event(0x8F57, now, "CH supply interrupted")
        return out

    def restore_power(self, now: datetime) -> list[Outbound]:
        out = self.advance(now)
        outage = self.power.restore(now)
        if outage is not None and outage.duration > OUTAGE_THRESHOLD:
            self._schedule_ad1(outage.start)
        return out + self._due_ad1(now)

    def _schedule_ad1(self, start: datetime) -> None:
        if any(s == start for _, s in self.ad1_pending) or start in self._ad1_sent:
            return
        self.ad1_pending.append((start + OUTAGE_THRESHOLD + self.ad1_latency, start))

    def _due_ad1(self, now: datetime) -> list[Outbound]:
        out = []
        for due, start in list(self.ad1_pending):
            if now >= due:
                self.ad1_pending.remove((due, start))
                self._ad1_sent.add(start)
                out.append(self.ad1(start, now))
        return out

    def ad1(self, outage_start: datetime, now: datetime) -> Outbound:
        """The AD1 power-outage alert record (a CSP alert, JSON, not a GBCS frame)."""
        record = {
            "alert": "AD1",
            "chf": eui_hex(self.eui),
            "outage_start": outage_start.isoformat(),
            "sent": now.isoformat(),
        }
        to = self.anchors.eui(R.WAN_PROVIDER) or bytes(8)
        return Outbound(
            json.dumps(record).encode(), to, PeerKind.REMOTE_PARTY, OutboundKind.POWER_OUTAGE, 0
        )

    def advance(self, now: datetime) -> list[Outbound]:
        out = super().advance(now)
        off = self.power.off_since
        if off is not None and now - off > OUTAGE_THRESHOLD:
            self._schedule_ad1(off)
        return out + self._due_ad1(now)

    # ------------------------------------------------------------- GSME tunnel

    def queue_for_gsme(self, gsme: bytes, frame: bytes, now: datetime) -> bool:
        """Hold a WAN command for a GSME until it asks; False when the queue is full."""
        q = self.gsme_queues.setdefault(as_eui(gsme), deque())
        self._expire(now)
        if len(q) >= self.queue_size:
            self.log_event(0x819D, now, "GSME command queue full: command not queued")
            return False
        q.append((now, frame))
        return True

    def _expire(self, now: datetime) -> None:
        for eui, q in self.gsme_queues.items():
            while q and now - q[0][0] > self.queue_expiry:
                q.popleft()
                self.log_event(0x819D, now, f"GSME {eui_hex(eui)} command not retrieved")

    def tunnel(self, gsme: bytes, data: bytes, now: datetime) -> list[Outbound]:
        """A tunnel transfer from a GSME: GET → GET-RESPONSE; PUT → forwarded to the WAN."""
        try:
            msg = decode_tunnel(data)
        except GbcsDecodeError:
            return []
        gsme = as_eui(gsme)
        if msg.command is TunnelCommand.GET:
            self._expire(now)
            q = self.gsme_queues.get(gsme, deque())
            frame = q.popleft()[1] if q else b""
            reply = TunnelMessage.get_response(frame, len(q)).encode()
            return [Outbound(reply, gsme, PeerKind.HAN, OutboundKind.TUNNEL, 0x02)]
        if msg.command is TunnelCommand.PUT:
            try:
                header = decode_envelope(msg.message).header
            except GbcsDecodeError:
                # 0x8F1E is a Security Log event (GBCS alert-code table)
                self.log_security(0x8F1E, now, "malformed message from the GSME")
                return []
            kind = OutboundKind.ALERT if header.cra is Cra.ALERT else OutboundKind.RESPONSE
            out = Outbound(msg.message, header.recipient, PeerKind.REMOTE_PARTY, kind,
                           header.message_code)  # fmt: skip
            if kind is OutboundKind.ALERT:
                # The GSME's alert code is in the frame only: read it for the WAN side too.
                out = replace(out, alert_code=alert_facts(out).code)
                if not self.forward_alert(out, gsme, now):
                    return []
            return [out]
        return []

    def next_due(self, now: datetime) -> datetime | None:
        due = [x for x in (super().next_due(now),) if x is not None]
        due += [d for d, _ in self.ad1_pending]
        off = self.power.off_since
        if (
            off is not None
            and off not in self._ad1_sent
            and all(s != off for _, s in self.ad1_pending)
        ):
            due.append(off + OUTAGE_THRESHOLD + timedelta(microseconds=1))
        for q in self.gsme_queues.values():
            if q:
                due.append(q[0][0] + self.queue_expiry + timedelta(microseconds=1))
        return min(due, default=None)

    def has_queued(self, gsme: bytes) -> bool:
        """Whether commands wait for this GSME."""
        return bool(self.gsme_queues.get(gsme))

    # ----------------------------------------------------------- alert storms

    def forward_alert(self, alert: Outbound, originator: bytes, now: datetime) -> bool:
        """Whether an alert the CHF carries to the WAN is forwarded (DP119 consolidation).

        With consolidation on, an alert identical to one forwarded less than
        ``storm_window_seconds`` earlier (same ``originator``, alert code and
        alert-specific data; only non-critical alerts unless ``storm_alerts = "all"``) is
        merged into it: held back and counted in :attr:`consolidated`. The window runs
        from the first alert and is not extended by the ones merged into it. Asking again
        about the alert that opened a window (same originator counter; the GSME's alerts
        are checked at the tunnel and again by the site) gives the same answer without
        counting it twice. Alerts whose code cannot be read are always forwarded.
        """
        if not self.storm_consolidation:
            return True
        facts = alert_facts(alert)
        if facts.code is None or (facts.critical and self.storm_alerts != "all"):
            return True
        self._close_storm_windows(now)
        key = (bytes(originator), facts.code, facts.data)
        w = self.storm_windows.get(key)
        if w is not None and facts.counter is not None:
            if facts.counter == w.first_counter:
                return True
            if facts.counter == w.last_counter:
                return False
        if w is not None and now - w.start < self.storm_window:
            w.merged += 1
            w.last_counter = facts.counter
            self.consolidated += 1
            return False
        self.storm_windows[key] = StormWindow(now, facts.counter, facts.counter)
        return True

    def _close_storm_windows(self, now: datetime) -> None:
        """Forget windows that have ended (keeps the saved state small)."""
        for key in [k for k, w in self.storm_windows.items() if now - w.start >= self.storm_window]:
            del self.storm_windows[key]

    # --------------------------------------------------------------------- state

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["chf"] = {
            "device_log": [e.to_dict() for e in self.device_log.values()],
            "historic_log": [e.to_dict() for e in self.historic_log],
            "extended_pan_id": self.extended_pan_id.hex(),
            "join_timeout": self.join_timeout,
            "joining_enabled": self.joining_enabled,
            "power": self.power.to_dict(),
            "ad1_pending": [[a.isoformat(), b.isoformat()] for a, b in self.ad1_pending],
            "ad1_sent": sorted(t.isoformat() for t in self._ad1_sent),
            "gsme_queues": {
                eui_hex(e): [[t.isoformat(), f.hex()] for t, f in q]
                for e, q in self.gsme_queues.items()
            },
            "storm": {
                "consolidated": self.consolidated,
                "windows": [
                    {"originator": eui_hex(o), "code": c, "data": h, **w.to_dict()}
                    for (o, c, h), w in sorted(self.storm_windows.items())
                ],
            },
        }
        return d

    def load_state(self, state: dict[str, Any]) -> None:
        c = state.get("chf", {})
        self.device_log = {}
        for e in c.get("device_log", []):
            entry = HanDevice.from_dict(e)
            self.device_log[entry.eui] = entry
        self.historic_log = deque(
            (HanDevice.from_dict(e) for e in c.get("historic_log", [])), maxlen=HISTORIC_LOG_SIZE
        )
        self.extended_pan_id = bytes.fromhex(c.get("extended_pan_id", "00" * 8))
        self.join_timeout = int(c.get("join_timeout", 0))
        self.joining_enabled = bool(c.get("joining_enabled", False))
        self.power = PowerState.from_dict(c.get("power", {}))
        self.ad1_pending = [
            (datetime.fromisoformat(a), datetime.fromisoformat(b))
            for a, b in c.get("ad1_pending", [])
        ]
        self.gsme_queues = {
            as_eui(e): deque((datetime.fromisoformat(t), bytes.fromhex(f)) for t, f in q)
            for e, q in c.get("gsme_queues", {}).items()
        }
        self._ad1_sent.clear()
        self._ad1_sent.update(datetime.fromisoformat(t) for t in c.get("ad1_sent", []))
        storm = c.get("storm", {})
        self.consolidated = int(storm.get("consolidated", 0))
        self.storm_windows = {
            (
                as_eui(w["originator"]),
                int(w["code"]),
                str(w.get("data", "")),
            ): StormWindow.from_dict(w)
            for w in storm.get("windows", [])
        }
        super().load_state(state)
