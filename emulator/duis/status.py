"""The DUIS service's status page (issue 16, item 5): what the devices are doing, live.

A :class:`StatusBoard` keeps the last requests (with their replies) and the last frames
to and from the devices (decoded when the page asks, once each), and reads each shown
device's key state from the emulator's state store: supply, registers, the ESME's
display and maximum demand, gas volume, firmware. :meth:`StatusBoard.snapshot` is the
JSON the page polls (``GET /status.json``); :data:`PAGE` is the page itself
(``GET /status``), plain HTML and a few lines of script that fetch the snapshot every
second and redraw.

A fleet may hold many sites: the page shows the first :data:`SHOWN_SITES` of the
inventory.
"""

from __future__ import annotations

import collections
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devices.behaviours.display import ESME_DIGITS, esme_display
from emulator.duis.inventory import Inventory, InventoryDevice
from gbcs.errors import GbcsError
from gbcs.inspect import inspect_message
from gbcs.security import DEFAULT_ACB, KeyProvider
from gbcs.tree import Field
from gbcs.usecases import lookup

__all__ = ["PAGE", "SHOWN_SITES", "StatusBoard", "describe_frame", "store_reader"]

#: How many sites of the inventory the page shows.
SHOWN_SITES = 4
#: How many requests, responses and alerts the page keeps.
KEPT = 50
#: The longest decoded detail shown for one frame, in lines.
_DETAIL_LINES = 120


def describe_frame(
    frame: bytes, keys: KeyProvider | None, acb: bytes = DEFAULT_ACB
) -> dict[str, str]:
    """A frame as the page shows it, from one decode: ``kind`` (the CRA flag, ``AD1
    record`` or ``frame``), ``gbcs`` (one line: use case, message code, CRA flag,
    originator -> recipient, counter; or why it does not decode) and ``detail`` (its MAC
    and signature verdicts with ``keys``, commands MAC'd by the ``acb``; then the display
    tree as indented ``name: value`` lines, encrypted parts decrypted where ``keys`` hold
    the key)."""
    if frame[:1] == b"{":  # the Comms Hub's AD1 power-outage record is JSON
        return {"kind": "AD1 record", "gbcs": frame[:300].decode("utf-8", "replace"), "detail": ""}
    try:
        found = inspect_message(frame, keys, acb=acb)
    except GbcsError as e:
        return {"kind": "frame", "gbcs": f"undecodable: {' '.join(str(e).split())}", "detail": ""}
    msg = found.message
    uc = lookup(msg.message_code)
    kind = msg.cra.name.lower()
    line = (
        f"{uc.name if uc is not None else '?'} 0x{msg.message_code:04X} {kind} "
        f"{msg.originator.hex().upper()} -> {msg.recipient.hex().upper()} #{msg.counter}"
    )
    lines = [
        f"MAC: {found.mac.verdict.value} {found.mac.detail}".rstrip(),
        f"signature: {found.signature.verdict.value} {found.signature.detail}".rstrip(),
    ]

    def walk(nodes: tuple[Field, ...], depth: int) -> None:
        for node in nodes:
            if len(lines) >= _DETAIL_LINES:
                return
            value = node.value if node.value is not None else node.raw.hex().upper()
            lines.append(f"{'  ' * depth}{node.name}: {value[:160]}")
            walk(node.children, depth + 1)

    walk(found.tree(), 0)
    return {"kind": kind, "gbcs": line, "detail": "\n".join(lines)}


@dataclass
class StatusBoard:
    """What the page shows (see the module notes)."""

    inventory: Inventory
    #: Device states by site name (``site_device_states``), or None without a store.
    read_site: Callable[[str], dict[str, dict[str, Any]]] | None = None
    #: Keys to check MACs and signatures and decrypt parts of the frames shown.
    keys: KeyProvider | None = None
    #: The Access Control Broker whose KA key MACs the commands sent.
    acb: bytes = DEFAULT_ACB

    def __post_init__(self) -> None:
        self.requests: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEPT)
        self.frames: collections.deque[dict[str, Any]] = collections.deque(maxlen=KEPT)

    def request(self, service: str, request_id: str | None, code: str, reason: str) -> None:
        """Record a request and its synchronous reply."""
        self.requests.appendleft(
            {
                "at": _now(),
                "service": service,
                "request_id": request_id or "-",
                "code": code or "HTTP 400",
                "reason": reason,
            }
        )

    def frame(self, direction: str, frame: bytes) -> None:
        """Record a frame sent to a device or received from one. It is kept as it is and
        decoded when the page asks (:meth:`snapshot`, off the event loop), so the device
        traffic pays nothing for the page."""
        self.frames.appendleft({"at": _now(), "direction": direction, "frame": frame})

    def snapshot(self) -> dict[str, Any]:
        """The JSON the page polls."""
        sites = min(SHOWN_SITES, self.inventory.fleet.sites)
        devices = []
        for i in range(sites):
            site = self.inventory.fleet.site_config(i)
            states = self._states(site.site_id)
            devices += [_device(d, states, site.options) for d in self.inventory.site_devices(i)]
        return {
            "at": _now(),
            "sites": self.inventory.fleet.sites,
            "devices": devices,
            "requests": list(self.requests),
            "frames": [self._shown(entry) for entry in list(self.frames)],
        }

    def _shown(self, entry: dict[str, Any]) -> dict[str, Any]:
        """A recorded frame as the page shows it, decoded once (the result is kept)."""
        if "gbcs" not in entry:
            entry.update(describe_frame(entry["frame"], self.keys, self.acb))
        return {k: v for k, v in entry.items() if k != "frame"}

    def _states(self, site: str) -> dict[str, dict[str, Any]]:
        if self.read_site is None:
            return {}
        try:
            return self.read_site(site)
        except Exception as e:  # a damaged or busy store must not take the page down
            return {"error": {"error": " ".join(str(e).split())}}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _device(
    d: InventoryDevice, states: dict[str, dict[str, Any]], options: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    state = states.get(d.device_type)
    out: dict[str, Any] = {
        "device": d.dashed_id,
        "type": d.device_type,
        "site": d.site_id,
        "status": d.status,
        "key_state": _key_state(d.device_type, state, options.get(d.device_type, {}))
        if state
        else "factory state",
    }
    if "error" in states:
        out["key_state"] = f"state not readable: {states['error']['error']}"
    return out


# ESME Disconnect Control state (IEC 62056-6-2 class 70: 0 disconnected, 1 connected,
# 2 ready for reconnection), as devices.control's get_status names them.
_ESME_SUPPLY = {0: "disabled", 1: "enabled", 2: "armed"}


def _key_state(kind: str, state: dict[str, Any], options: dict[str, Any]) -> str:
    """One line from a stored device state (the devices' ``to_dict`` sections)."""
    parts: list[str] = []
    firmware = (state.get("firmware") or {}).get("running_version")
    if kind == "ESME":
        esme = state.get("esme") or {}
        parts.append(f"supply {_ESME_SUPPLY.get(esme.get('control_state'), '?')}")
        load = esme.get("load") or {}
        import_wh = int(load.get("import_wh", 0))
        parts.append(f"import {import_wh / 1000:.3f} kWh")
        parts.append(f"export {int(load.get('export_wh', 0)) / 1000:.3f} kWh")
        digits = int(options.get("display_digits", ESME_DIGITS))
        parts.append(f"display {esme_display(import_wh, digits)}")
        registers = (esme.get("md") or {}).get("registers") or {}
        md = max((int(r.get("value") or 0) for r in registers.values()), default=0)
        parts.append(f"max demand {md} W")
        if ((esme.get("power") or {}).get("off_since")) is not None:
            parts.append("mains off")
    elif kind == "GSME":
        flow = (state.get("gsme") or {}).get("flow") or {}
        parts.append(f"volume {int(flow.get('import_wh', 0)) / 1000:.3f} m3")
    if firmware:
        parts.append(f"firmware {str(firmware).upper()}")
    return ", ".join(parts) or "-"


def store_reader(state: Path) -> Callable[[str], dict[str, dict[str, Any]]]:
    """A reader of the emulator's stored device states in ``state`` (read-only)."""
    from emulator.runtime.statetools import site_device_states

    return lambda site: site_device_states(state, site)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>gbcs-emulator DUIS service</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 1.5em; color: #1d2330; }
h1 { font-size: 1.3em; } h2 { font-size: 1.05em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .25em .6em; border-bottom: 1px solid #dde; }
th { background: #f2f4f8; } td.code { font-family: monospace; }
.I0, .I99 { color: #17803d; } .E, .Suspended, .alert { color: #b42318; }
#updated { color: #667; font-size: .9em; }
pre { font-size: 12px; margin: .3em 0; white-space: pre-wrap; }
</style></head><body>
<h1>gbcs-emulator &middot; DUIS service</h1>
<div id="updated">loading&hellip;</div>
<h2>Inventory and key state</h2>
<table id="devices"><thead><tr><th>device</th><th>type</th><th>site</th><th>status</th>
<th>key state</th></tr></thead><tbody></tbody></table>
<h2>Last requests</h2>
<table id="requests"><thead><tr><th>at</th><th>service</th><th>RequestID</th><th>code</th>
<th>what</th></tr></thead><tbody></tbody></table>
<h2>Device traffic and alerts</h2>
<table id="frames"><thead><tr><th>at</th><th>direction</th><th>kind</th><th>GBCS</th>
</tr></thead>
<tbody></tbody></table>
<script>
function cell(text, cls) {
  const td = document.createElement("td"); td.textContent = text;
  if (cls) td.className = cls; return td;
}
function fill(id, rows, cols) {
  const body = document.querySelector("#" + id + " tbody");
  body.replaceChildren(...rows.map(r => {
    const tr = document.createElement("tr");
    cols.forEach(([key, cls]) => tr.appendChild(cell(r[key], cls ? cls(r) : "")));
    return tr;
  }));
}
const opened = new Set();  // the decoded frames the reader opened stay open
async function refresh() {
  try {
    const s = await (await fetch("status.json", {cache: "no-store"})).json();
    fill("devices", s.devices, [["device", () => "code"], ["type"], ["site"],
      ["status", r => r.status], ["key_state"]]);
    fill("requests", s.requests, [["at"], ["service"], ["request_id", () => "code"],
      ["code", r => r.code.startsWith("E") ? "E" : r.code], ["reason"]]);
    fill("frames", s.frames, [["at"], ["direction"], ["kind", r => r.kind],
      ["gbcs", () => "code"]]);
    document.querySelectorAll("#frames tbody tr").forEach((tr, i) => {
      const d = s.frames[i].detail; if (!d) return;
      const key = s.frames[i].at + s.frames[i].gbcs;
      const det = document.createElement("details"), sum = document.createElement("summary");
      const pre = document.createElement("pre"); sum.textContent = "decoded";
      pre.textContent = d; det.append(sum, pre); tr.lastChild.appendChild(det);
      det.open = opened.has(key);
      det.addEventListener("toggle", () => det.open ? opened.add(key) : opened.delete(key));
    });
    document.getElementById("updated").textContent =
      "updated " + s.at + " UTC; " + s.sites + " site(s) in the fleet";
  } catch (e) {
    document.getElementById("updated").textContent = "not reachable: " + e;
  }
}
refresh(); setInterval(refresh, 1000);
</script></body></html>
"""
