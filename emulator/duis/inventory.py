"""The DCC's Smart Metering Inventory of the emulated devices (issue 16, item 2), sans-IO.

An :class:`Inventory` answers for the devices of a fleet (its :class:`FleetConfig`),
without a row per device: a device's entry is derived from the fleet when asked for, and
only what changed (its status) is held, in a map the service persists. So it costs the
same for one site as for a hundred thousand.

* :meth:`Inventory.get` gives a device's entry, None outside the fleet (DUIS E19).
* :meth:`Inventory.refusal` applies the status rules before a request reaches a device:
  a ``Suspended`` device takes only SRV 11.2, Read Firmware Version (SEC modification
  MP105: a device whose firmware activation response was lost keeps that status until
  it is cleared; the refusal is E51, the code the MP105 paper names; the paper's wider
  rule is the ``mp105`` policy, :data:`SUSPENDED_POLICIES`), and a ``Decommissioned`` or
  ``Withdrawn`` one takes nothing (E5, "the device's SMI status is incompatible with the
  service reference").
* :meth:`Inventory.firmware_activation_lost` and :meth:`Inventory.clear_status` are the
  MP105 transitions.
* :meth:`Inventory.read` and :func:`dsp_inventory` serve SRV 8.2, Read Inventory.

Each site is one premises. Its UPRN is made up from its index (:data:`UPRN_BASE` plus the
index): the emulated fleet has no addresses, and a made-up one lets SRV 8.2 be tried
by UPRN as well as by device.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from lxml import etree

from emulator.duis import xmlsig
from emulator.duis.bodies import Body
from emulator.runtime.config import FleetConfig

__all__ = [
    "DEVICE_STATUSES",
    "MAX_READ",
    "MPXN_BASE",
    "UPRN_BASE",
    "Inventory",
    "InventoryDevice",
    "dsp_inventory",
]

#: ``DeviceStatus`` values of the DUIS 5.4 XSD.
DEVICE_STATUSES: tuple[str, ...] = (
    "Pending",
    "Whitelisted",
    "InstalledNotCommissioned",
    "Commissioned",
    "Decommissioned",
    "Withdrawn",
    "Suspended",
    "Recovery",
    "Recovered",
)
#: Statuses in which a device takes no request at all.
_CLOSED = ("Decommissioned", "Withdrawn")
#: What a Suspended device takes, by policy (:attr:`Inventory.suspended_policy`):
#:
#: * ``firmware-read`` (the default): only SRV 11.2, Read Firmware Version, the request
#:   MP105 adds so that a device whose activation response was lost can be brought back;
#: * ``mp105``: the whole rule of the SEC paper that describes MP105 (SECAS to TABASC, Jan
#:   2020): critical service requests and the exceptions 11.1 (Update Firmware), 6.23
#:   (Update Security Credentials, CoS) and, with MP105, 11.2. Its 2.2 exception is for
#:   SMETS1 devices, which are not emulated.
SUSPENDED_POLICIES = ("firmware-read", "mp105")
_SUSPENDED_EXCEPTIONS = {"firmware-read": ("11.2",), "mp105": ("11.1", "11.2", "6.23")}
#: A ``DSPInventory`` holds at most this many devices (the XSD's maxOccurs).
MAX_READ = 17
#: Site n's made-up UPRN (a 12-digit positive integer, as the XSD restricts it).
UPRN_BASE = 100_000_000_000
#: Site n's made-up import MPxN (13 digits, an MPAN's length).
MPXN_BASE = 1_000_000_000_000

_SR = "{" + xmlsig.SR_NS + "}"


@dataclass(frozen=True, slots=True)
class InventoryDevice:
    """One device's inventory entry (the fields of the XSD's ``Device`` it fills)."""

    device_id: bytes
    device_type: str
    site: int
    status: str = "Commissioned"
    manufacturer: str = "gbcs-emulator"
    model: str = "emulated"
    #: DUIS ``ESMEVariant`` (ESME only).
    esme_variant: str | None = None
    uprn: int | None = None
    #: The emulator's name of the site (``site-0``, ...): where the bus reaches it.
    site_id: str = ""

    @property
    def mpxn(self) -> str:
        """The premises' import MPxN, made up like its UPRN (13 digits from the site
        index: the emulated fleet has no MPANs)."""
        return str(MPXN_BASE + self.site)

    @property
    def dashed_id(self) -> str:
        """The EUI as DUIS writes it (``00-DB-12-...``)."""
        return "-".join(f"{b:02X}" for b in self.device_id)


class Inventory:
    """The inventory of ``fleet``'s devices, with the statuses that differ from
    ``Commissioned`` in ``statuses`` (EUI -> status; the caller persists it)."""

    def __init__(
        self,
        fleet: FleetConfig,
        *,
        statuses: Mapping[bytes, str] | None = None,
        esme_variant: str = "A",
        suspended_policy: str = "firmware-read",
    ) -> None:
        if suspended_policy not in SUSPENDED_POLICIES:
            raise ValueError(
                f"suspended policy {suspended_policy!r}: one of {', '.join(SUSPENDED_POLICIES)}"
            )
        self.fleet = fleet
        self.esme_variant = esme_variant
        #: What a Suspended device takes (:data:`SUSPENDED_POLICIES`).
        self.suspended_policy = suspended_policy
        self._statuses: dict[bytes, str] = {}
        for eui, status in (statuses or {}).items():
            self.set_status(eui, status)

    # --- look-ups ------------------------------------------------------------------

    def get(self, eui: bytes) -> InventoryDevice | None:
        """The device ``eui``'s entry, or None when the fleet has no such device."""
        index = self.fleet.site_of_eui(eui)
        if index is None:
            return None
        site = self.fleet.site_config(index)
        for kind in site.devices:
            if site.eui(kind) == eui:
                return self._entry(eui, kind, index)
        return None

    def site_devices(self, index: int) -> list[InventoryDevice]:
        """The devices of site ``index`` (one premises), in the site's order."""
        site = self.fleet.site_config(index)
        return [self._entry(site.eui(kind), kind, index) for kind in site.devices]

    def read(self, by: str, value: str) -> list[InventoryDevice]:
        """SRV 8.2: the devices at the premises of a ``DeviceID`` or a ``UPRN`` (empty
        when none matches). ``MPxN`` and ``PropertyFilter`` find nothing: the emulated
        fleet has neither."""
        if by == "DeviceID":
            eui = _eui(value)
            device = self.get(eui) if eui is not None else None
            return self.site_devices(device.site) if device is not None else []
        if by == "UPRN":
            try:
                index = int(value) - UPRN_BASE
            except ValueError:
                return []
            return self.site_devices(index) if 0 <= index < self.fleet.sites else []
        return []

    def _entry(self, eui: bytes, kind: str, index: int) -> InventoryDevice:
        site_id = self.fleet.site_config(index).site_id
        return InventoryDevice(
            device_id=eui,
            device_type=kind,
            site=index,
            status=self._statuses.get(eui, "Commissioned"),
            esme_variant=self.esme_variant if kind == "ESME" else None,
            uprn=UPRN_BASE + index,
            site_id=site_id,
        )

    # --- status rules --------------------------------------------------------------

    @property
    def statuses(self) -> Mapping[bytes, str]:
        """The statuses that differ from ``Commissioned`` (what the service persists)."""
        return dict(self._statuses)

    def set_status(self, eui: bytes, status: str) -> None:
        """Record ``eui``'s status; ValueError for a device outside the fleet or a status
        DUIS does not have."""
        if status not in DEVICE_STATUSES:
            raise ValueError(f"{status!r} is not a DUIS device status")
        if self.get(eui) is None:
            raise ValueError(f"{eui.hex().upper()} is not a device of the fleet")
        if status == "Commissioned":
            self._statuses.pop(eui, None)
        else:
            self._statuses[eui] = status

    def firmware_activation_lost(self, eui: bytes) -> None:
        """MP105: the response to a firmware activation (CS06) was lost, so which firmware
        the device runs is unknown: it is Suspended until :meth:`clear_status`."""
        self.set_status(eui, "Suspended")

    def clear_status(self, eui: bytes) -> None:
        """Back to ``Commissioned`` (once the firmware version is known again)."""
        self.set_status(eui, "Commissioned")

    def refusal(self, device: InventoryDevice, srv: str, *, critical: bool = False) -> str | None:
        """Why a request of SRV ``srv`` (``critical`` or not) may not go to ``device`` in
        its status, or None when it may. The service answers a Suspended device's refusal
        with E51 (the code the MP105 paper names), the others with E5."""
        if device.status in _CLOSED:
            return f"{device.dashed_id} is {device.status}: it takes no service request"
        if device.status != "Suspended":
            return None
        if srv in _SUSPENDED_EXCEPTIONS[self.suspended_policy]:
            return None
        if self.suspended_policy == "mp105":
            if critical:
                return None
            takes = "critical requests and SRVs 11.1, 11.2 and 6.23"
        else:
            takes = "only SRV 11.2, Read Firmware Version"
        return (
            f"{device.dashed_id} is Suspended (its firmware activation response was lost, "
            f"MP105): it takes {takes}"
        )


def _eui(text: str) -> bytes | None:
    raw = text.replace("-", "").strip()
    try:
        eui = bytes.fromhex(raw)
    except ValueError:
        return None
    return eui if len(eui) == 8 else None


def dsp_inventory(devices: Iterable[InventoryDevice]) -> Body:
    """The ``DSPInventory`` element of an SRV 8.2 response (at most :data:`MAX_READ`
    devices, as the XSD allows), ready for ``model.ResponseMessage``."""
    found = list(devices)
    if not found or len(found) > MAX_READ:
        raise ValueError(f"a DSPInventory holds 1..{MAX_READ} devices, not {len(found)}")
    root = etree.Element(_SR + "DSPInventory", nsmap={"sr": xmlsig.SR_NS})
    for d in found:
        el = etree.SubElement(root, _SR + "Device")
        fields: list[tuple[str, str | None]] = [
            ("DeviceID", d.dashed_id),
            ("DeviceType", d.device_type),
            ("DeviceStatus", d.status),
            ("DeviceManufacturer", d.manufacturer),
            ("DeviceModel", d.model),
            ("ESMEVariant", d.esme_variant),
            ("UPRN", str(d.uprn) if d.uprn is not None else None),
        ]
        for name, value in fields:
            if value is not None:
                etree.SubElement(el, _SR + name).text = value
    return Body.of(root)
