"""Names of ZCL clusters, attributes, statuses, data types and commands.

Also holds the registry of typed cluster-specific command records, which the cluster
modules fill as they are imported (:func:`command_name` reads it).
"""

from __future__ import annotations

from typing import Any

CLUSTER_NAMES: dict[int, str] = {
    0x0000: "Basic",
    0x000A: "Time",
    0x0019: "OTA Upgrade",
    0x0700: "Price",
    0x0701: "Demand Response and Load Control",
    0x0702: "Metering",
    0x0703: "Messaging",
    0x0704: "Tunneling",
    0x0705: "Prepayment",
    0x0706: "Energy Management",
    0x0707: "Calendar",
    0x0708: "Device Management",
    0x0709: "Events",
    0x070A: "MDU Pairing",
    0x070B: "Sub-GHz",
    0x0800: "Key Establishment",
}

STATUS_NAMES: dict[int, str] = {
    0x00: "Success",
    0x01: "Failure",
    0x7E: "Not Authorized",
    0x7F: "Reserved Field Not Zero",
    0x80: "Malformed Command",
    0x81: "Unsupported Cluster Command",
    0x82: "Unsupported General Command",
    0x83: "Unsupported Manufacturer Cluster Command",
    0x84: "Unsupported Manufacturer General Command",
    0x85: "Invalid Field",
    0x86: "Unsupported Attribute",
    0x87: "Invalid Value",
    0x88: "Read Only",
    0x89: "Insufficient Space",
    0x8A: "Duplicate Exists",
    0x8B: "Not Found",
    0x8C: "Unreportable Attribute",
    0x8D: "Invalid Data Type",
    0x8E: "Invalid Selector",
    0x8F: "Write Only",
    0x90: "Inconsistent Startup State",
    0x91: "Defined Out Of Band",
    0x92: "Inconsistent",
    0x93: "Action Denied",
    0x94: "Timeout",
    0x95: "Abort",
    0x96: "Invalid Image",
    0x97: "Wait For Data",
    0x98: "No Image Available",
    0x99: "Require More Image",
    0x9A: "Notification Pending",
    0xC0: "Hardware Failure",
    0xC1: "Software Failure",
    0xC2: "Calibration Error",
    0xC3: "Unsupported Cluster",
}

_GENERAL_COMMAND_NAMES: dict[int, str] = {
    0x00: "Read Attributes",
    0x01: "Read Attributes Response",
    0x02: "Write Attributes",
    0x03: "Write Attributes Undivided",
    0x04: "Write Attributes Response",
    0x05: "Write Attributes No Response",
    0x06: "Configure Reporting",
    0x07: "Configure Reporting Response",
    0x08: "Read Reporting Configuration",
    0x09: "Read Reporting Configuration Response",
    0x0A: "Report Attributes",
    0x0B: "Default Response",
    0x0C: "Discover Attributes",
    0x0D: "Discover Attributes Response",
}

# Attribute names of the ZSE attributes GBCS reads (ZSE 1.4 naming).
_ATTRIBUTE_NAMES: dict[int, dict[int, str]] = {
    0x0000: {
        0x0000: "ZCL Version",
        0x0001: "Application Version",
        0x0002: "Stack Version",
        0x0003: "HW Version",
        0x0004: "Manufacturer Name",
        0x0005: "Model Identifier",
        0x0006: "Date Code",
        0x0007: "Power Source",
    },
    0x0700: {
        **{0x0100 + i: f"Block{i + 1} Threshold" for i in range(15)},
        0x0200: "Start of Block Period",
        0x0201: "Block Period Duration",
        0x0202: "Threshold Multiplier",
        0x0203: "Threshold Divisor",
        0x0300: "Commodity Type",
        0x0301: "Standing Charge",
        0x0302: "Conversion Factor",
        0x0303: "Conversion Factor Trailing Digit",
        0x0304: "Calorific Value",
        0x0305: "Calorific Value Unit",
        0x0306: "Calorific Value Trailing Digit",
        **{0x0400 + b: f"No Tier Block{b + 1} Price" for b in range(16)},
        **{
            0x0400 + 16 * t + b: f"Tier{t} Block{b + 1} Price"
            for t in range(1, 16)
            for b in range(16)
        },
        0x0610: "Tariff Label",
        0x0611: "Number of Price Tiers in Use",
        0x0612: "Number of Block Thresholds in Use",
        0x0613: "Tier Block Mode",
        0x0615: "Unit of Measure",
        0x0616: "Currency",
        0x0617: "Price Trailing Digit",
    },
    0x0702: {
        0x0000: "Current Summation Delivered",
        0x0001: "Current Summation Received",
        0x0014: "Supply Status",
        **{0x0100 + 2 * i: f"Current Tier{i + 1} Summation Delivered" for i in range(48)},
        0x0200: "Status",
        0x0205: "Remaining Battery Life in Days",
        0x0206: "Current Meter ID",
        0x0300: "Unit of Measure",
        0x0301: "Multiplier",
        0x0302: "Divisor",
        0x0303: "Summation Formatting",
        0x0306: "Metering Device Type",
        0x0307: "Site ID",
        0x0308: "Meter Serial Number",
        0x0607: "Supply Tamper State",
        0x0608: "Supply Depletion State",
        **{0x0700 + i: f"Current No Tier Block{i + 1} Summation Delivered" for i in range(16)},
        0x0A00: "Bill to Date Delivered",
        0x0A01: "Bill to Date Time Stamp Delivered",
        0x0B10: "Uncontrolled Flow Threshold",
        0x0B11: "Uncontrolled Flow Threshold Unit of Measure",
        0x0B12: "Uncontrolled Flow Multiplier",
        0x0B13: "Uncontrolled Flow Divisor",
        0x0B14: "Flow Stabilisation Period",
        0x0B15: "Flow Measurement Period",
    },
    0x0705: {
        0x0000: "Payment Control Configuration",
        0x0001: "Credit Remaining",
        0x0002: "Emergency Credit Remaining",
        0x0003: "Credit Status",
        0x0004: "Credit Remaining Time Stamp",
        0x0005: "Accumulated Debt",
        0x0006: "Overall Debt Cap",
        0x0010: "Emergency Credit Limit/Allowance",
        0x0011: "Emergency Credit Threshold",
        0x0020: "Total Credit Added",
        0x0021: "Max Credit Limit",
        0x0022: "Max Credit Per Top Up",
        0x0030: "Friendly Credit Warning",
        0x0031: "Low Credit Warning Level",
        0x0040: "Cut Off Value",
        **{
            0x0210 + 0x10 * d + off: f"{name} {d + 1}"
            for d in range(3)
            for off, name in (
                (0x0, "Debt Label"),
                (0x1, "Debt Amount"),
                (0x2, "Debt Recovery Method"),
                (0x3, "Debt Recovery Start Time"),
                (0x4, "Debt Recovery Collection Time"),
                (0x6, "Debt Recovery Frequency"),
                (0x7, "Debt Recovery Amount"),
                (0x9, "Debt Recovery Top Up Percentage"),
            )
        },
    },
}

DATA_TYPE_NAMES: dict[int, str] = {
    0x00: "nodata",
    **{0x08 + i: f"data{8 * (i + 1)}" for i in range(8)},
    0x10: "bool",
    **{0x18 + i: f"bitmap{8 * (i + 1)}" for i in range(8)},
    **{0x20 + i: f"uint{8 * (i + 1)}" for i in range(8)},
    **{0x28 + i: f"int{8 * (i + 1)}" for i in range(8)},
    0x30: "enum8",
    0x31: "enum16",
    0x38: "semi",
    0x39: "single",
    0x3A: "double",
    0x41: "octet string",
    0x42: "character string",
    0x43: "long octet string",
    0x44: "long character string",
    0x48: "array",
    0x4C: "structure",
    0x50: "set",
    0x51: "bag",
    0xE0: "time of day",
    0xE1: "date",
    0xE2: "UTCTime",
    0xE8: "cluster id",
    0xE9: "attribute id",
    0xEA: "BACnet OID",
    0xF0: "IEEE address",
    0xF1: "128-bit security key",
    0xFF: "unknown",
}


def cluster_name(cluster: int) -> str:
    """``"Metering (0x0702)"``: readable name plus the id."""
    name = CLUSTER_NAMES.get(cluster)
    return f"{name} (0x{cluster:04X})" if name else f"0x{cluster:04X}"


def attribute_name(cluster: int, attribute_id: int) -> str | None:
    """ZSE name of an attribute of ``cluster``, if known."""
    return _ATTRIBUTE_NAMES.get(cluster, {}).get(attribute_id)


def _status_text(status: int) -> str:
    name = STATUS_NAMES.get(status)
    return f"{name} (0x{status:02X})" if name else f"0x{status:02X}"


# Names of cluster-specific commands not modelled (display only).
_OTHER_COMMAND_NAMES: dict[tuple[int, bool, int], str] = {
    (0x0700, True, 0x06): "Publish Block Thresholds",
    (0x0700, False, 0x01): "Get Scheduled Prices",
    (0x0700, False, 0x02): "Price Acknowledgement",
    (0x0700, False, 0x03): "Get Block Period(s)",
    (0x0700, False, 0x04): "Get Conversion Factor",
    (0x0700, False, 0x05): "Get Calorific Value",
    (0x0700, False, 0x06): "Get Tariff Information",
    (0x0700, False, 0x07): "Get Price Matrix",
    (0x0700, False, 0x08): "Get Block Thresholds",
    (0x0702, False, 0x00): "Get Profile",
    (0x0702, True, 0x00): "Get Profile Response",
    (0x0707, False, 0x00): "Get Calendar",
    (0x0708, False, 0x00): "Get Change of Tenancy",
    (0x0708, False, 0x01): "Get Change of Supplier",
    (0x0708, False, 0x02): "Request New Password",
    (0x0708, False, 0x03): "Get Site ID",
    (0x0708, False, 0x05): "Get CIN",
    (0x0709, False, 0x02): "Publish Event",
}


# (cluster, server_to_client, command id) -> typed record class; filled by the
# ``_command`` decorator of :mod:`gbcs.zcl.records` as the cluster modules load.
_REGISTRY: dict[tuple[int, bool, int], type[Any]] = {}

CLUSTER_MODULES: dict[int, str] = {
    0x0700: "gbcs.zcl.price",
    0x0702: "gbcs.zcl.metering",
    0x0703: "gbcs.zcl.messaging",
    0x0705: "gbcs.zcl.prepayment",
    0x0707: "gbcs.zcl.calendar",
    0x0708: "gbcs.zcl.device_management",
    0x0709: "gbcs.zcl.events",
}
"""Cluster id -> the module defining its typed commands, in cluster id order.

A cluster module is imported the first time one of its commands is decoded, named or
listed (most messages need none or one of them, and together they cost far more at
start-up than the rest of the codec)."""

# Clusters whose module has not been asked for yet (a direct import of the module
# leaves its id here; asking again is then a cheap no-op).
_UNLOADED: set[int] = set(CLUSTER_MODULES)


def load_cluster(cluster: int | None) -> bool:
    """Import the typed commands of ``cluster`` if that has not been done; ``True`` when
    this call imported something (so a registry look-up that missed is worth repeating)."""
    if cluster not in _UNLOADED:
        return False
    import importlib

    importlib.import_module(CLUSTER_MODULES[cluster])  # type: ignore[index]
    _UNLOADED.discard(cluster)  # type: ignore[arg-type]
    return True


def load_all_clusters() -> None:
    """Import every cluster module (what listing all typed commands needs)."""
    for cluster in CLUSTER_MODULES:
        load_cluster(cluster)


def registered_command(cluster: int, server_to_client: bool, command_id: int) -> type[Any] | None:
    """The typed record class of a cluster-specific command, loading its cluster first."""
    key = (cluster, server_to_client, command_id)
    cls = _REGISTRY.get(key)
    if cls is None and load_cluster(cluster):
        cls = _REGISTRY.get(key)
    return cls


def command_name(cluster: int | None, frame_control: int, command_id: int) -> str | None:
    """Name of the command a ZCL header designates (``None`` if unknown)."""
    ft = frame_control & 0x03
    if ft == 0:
        return _GENERAL_COMMAND_NAMES.get(command_id)
    if ft != 1 or cluster is None:
        return None
    key = (cluster, bool(frame_control & 0x08), command_id)
    cls = registered_command(*key)
    return cls.NAME if cls is not None else _OTHER_COMMAND_NAMES.get(key)
