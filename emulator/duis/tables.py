"""Facts of DUIS as the product's own tables: Service Request Variants and response codes.

Sources, named per table below:

* **SRVs**: the DUIS Service Request matrix (DCC User Interface Specification, SEC
  Appendix AD, clause 3.8 and its request matrix) as transcribed by SmartDCCInnovation
  ``duis-parser`` (``src/duis-request-matrix.json`` at commit ``4afcaf053208``, GPL-3.0):
  name, critical, on-demand, future-dated response pattern, DCC-scheduled, non-device,
  eligible user roles. Names have their whitespace collapsed; the note the source keeps
  inside the 8.2 name is in :attr:`Srv.note`. Three variants list no eligible role in that
  source (7.16 Limit APC Level, 8.5 Service Opt Out, 8.6 Service Opt In): they are empty
  here too. That source gives the Service Reference of 6.20.1 and 6.20.2 as ``6.2`` (a
  number that lost its trailing 0); DUIS, its XML schema and the RTDS templates say
  ``6.20``, as here.
* **GBCS use cases of an SRV** (:attr:`Srv.use_cases`): the use cases named by DCC's
  RTDS 4.9.1 DUIS request templates of that SRV (file names such as
  ``ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML``, parsed as SmartDCCInnovation
  ``duis-templates`` ``src/load.ts`` does), with GBCS's spelling where the file name
  drops a slash (``CCS05CCS04`` is ``CCS05/CCS04``). An SRV with no device template has
  none.
* **Target device types** (:attr:`Srv.device_types`): derived, not transcribed: the union
  of the target device types that GBCS gives those use cases (this project's
  :mod:`gbcs.usecase_table`). DUIS's own per-SRV device-type lists are not in the public
  material this project holds; non-device SRVs have none.
* **Command variants**: DUIS clause 3.4 table, as ``duis-parser`` ``src/cv.ts``
  transcribes it; the DCC Boxed endpoint per web service from SmartDCCInnovation
  ``dccboxed-nodered-nodes`` ``src/dccboxed-config.ts``.
* **Response codes**: the set is the ``sr:ResponseCode`` enumeration of the DUIS 5.4 XML
  schema (SEC Appendix AD, "DUIS XML Schema Version 5.4"). Meanings: those of the DUIS
  common response code table (DUIS clause 3.5) for I0, I99, E1-E5, E11-E13, E17 and
  E19-E21 (and E30's title), as published on the public "SMETS2 reference" pages
  (https://iananthony3000.wixsite.com/smets2reference-1/copy-of-esme-sr-list), written
  here in our own words. **No public meaning was found for the other codes**: their
  :attr:`ResponseCode.meaning` is None. Seven-character codes follow the DUIS pattern
  ``E<SR><nn>`` (``E120201`` = error 01 of SRV 12.2; ``W`` = warning), so their service
  reference is known even where their meaning is not.

This module is plain data: it reads nothing at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "COMMAND_VARIANTS",
    "RESPONSE_CODES",
    "SRVS",
    "USER_ROLES",
    "CommandVariant",
    "ResponseCode",
    "Srv",
    "response_code",
    "srv",
]

USER_ROLES: MappingProxyType[str, str] = MappingProxyType(
    {
        "IS": "Import Supplier",
        "ES": "Export Supplier",
        "GS": "Gas Supplier",
        "ED": "Electricity Distributor",
        "GT": "Gas Transporter",
        "RSA": "Registered Supplier Agent",
        "OU": "Other User",
    }
)
"""DUIS user roles by their abbreviation (SEC Appendix AD)."""


@dataclass(frozen=True, slots=True)
class Srv:
    """One DUIS Service Request Variant."""

    #: Service Reference Variant, e.g. ``4.1.1`` (for some SRVs equal to the reference).
    variant: str
    #: Service Reference, e.g. ``4.1``.
    reference: str
    name: str
    critical: bool
    on_demand: bool
    dcc_scheduled: bool
    non_device: bool
    #: Future Dated Response Pattern (``Device``, ``DSP``, ``DSP & Device``), None if not.
    future_dated: str | None
    #: Eligible DUIS user roles (keys of :data:`USER_ROLES`).
    roles: tuple[str, ...]
    #: Device types the SRV's GBCS commands address (derived; see the module notes).
    device_types: tuple[str, ...]
    #: GBCS use cases of the SRV's RTDS templates.
    use_cases: tuple[str, ...]
    note: str | None = None


def _srv(
    variant: str,
    name: str,
    flags: str,
    *,
    roles: str,
    future_dated: str | None = None,
    devices: str = "",
    use_cases: str = "",
    note: str | None = None,
) -> Srv:
    f = set(flags.split())
    unknown = f - {"critical", "on-demand", "dcc-scheduled", "non-device"}
    if unknown:
        raise ValueError(f"SRV {variant}: unknown flags {sorted(unknown)}")
    parts = variant.split(".")
    # A variant has three parts (4.1.1); a two-part one is its own reference (4.2).
    reference = ".".join(parts[:2])
    return Srv(
        variant=variant,
        reference=reference,
        name=name,
        critical="critical" in f,
        on_demand="on-demand" in f,
        dcc_scheduled="dcc-scheduled" in f,
        non_device="non-device" in f,
        future_dated=future_dated,
        roles=tuple(roles.split()),
        device_types=tuple(devices.split()),
        use_cases=tuple(use_cases.split()),
        note=note,
    )


_SRV_ROWS: tuple[Srv, ...] = (
    _srv(
        "1.1.1",
        "Update Import Tariff (Primary Element)",
        "critical on-demand",
        roles="IS GS",
        future_dated="Device",
        devices="ESME GSME",
        use_cases="ECS01a GCS01a",
    ),
    _srv(
        "1.1.2",
        "Update Import Tariff (Secondary Element)",
        "critical on-demand",
        roles="IS",
        future_dated="Device",
        devices="ESME",
        use_cases="ECS01c",
    ),
    _srv(
        "1.2.1",
        "Update Price (Primary Element)",
        "critical on-demand",
        roles="IS GS",
        future_dated="Device",
        devices="ESME GSME",
        use_cases="ECS01b GCS01b",
    ),
    _srv(
        "1.2.2",
        "Update Price (Secondary Element)",
        "critical on-demand",
        roles="IS",
        future_dated="Device",
        devices="ESME",
        use_cases="ECS01d",
    ),
    _srv(
        "1.5",
        "Update Meter Balance",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS04a ECS04b GCS40a GCS40b GCS40c GCS40d",
    ),
    _srv(
        "1.6",
        "Update Payment Mode",
        "critical on-demand",
        roles="IS GS",
        future_dated="Device",
        devices="ESME GSME",
        use_cases="ECS02 ECS03 GCS02 GCS03",
    ),
    _srv(
        "1.7",
        "Reset Tariff Block Counter Matrix",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS05",
    ),
    _srv(
        "2.1",
        "Update Prepay Configuration",
        "critical on-demand",
        roles="IS GS",
        future_dated="Device",
        devices="ESME GSME",
        use_cases="ECS08 ECS08a GCS05",
    ),
    _srv(
        "2.2",
        "Top Up Device",
        "on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="CS01a CS01b",
    ),
    _srv(
        "2.3",
        "Update Debt",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS07 GCS04",
    ),
    _srv(
        "2.5",
        "Activate Emergency Credit",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS09 GCS06",
    ),
    _srv(
        "3.1",
        "Display Message",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME",
        use_cases="ECS10 GCS07",
    ),
    _srv(
        "3.2",
        "Restrict Access For Change Of Tenancy",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GPF",
        use_cases="ECS12 GCS09",
    ),
    _srv(
        "3.3",
        "Clear Event Log",
        "on-demand",
        roles="IS GS",
        devices="ESME GSME GPF",
        use_cases="CS11 ECS15a ECS15c",
    ),
    _srv(
        "3.4",
        "Update Supplier Name",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME",
        use_cases="ECS16 GCS44",
    ),
    _srv(
        "3.5",
        "Disable Privacy PIN",
        "on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS14 GCS11",
    ),
    _srv(
        "4.1.1",
        "Read Instantaneous Import Registers",
        "on-demand",
        roles="IS GS ED GT",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS17b GCS13a",
    ),
    _srv(
        "4.1.2",
        "Read Instantaneous Import TOU Matrices",
        "on-demand",
        roles="IS GS ED GT",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS17d GCS13c",
    ),
    _srv(
        "4.1.3",
        "Read Instantaneous Import TOU With Blocks Matrices",
        "on-demand",
        roles="IS ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS17e",
    ),
    _srv(
        "4.1.4",
        "Read Instantaneous Import Block Counters",
        "on-demand",
        roles="GS",
        future_dated="DSP",
        devices="GSME GPF",
        use_cases="GCS13b",
    ),
    _srv(
        "4.2",
        "Read Instantaneous Export Registers",
        "on-demand",
        roles="ES ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS17a",
    ),
    _srv(
        "4.3",
        "Read Instantaneous Prepay Values",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS19 GCS14",
    ),
    _srv(
        "4.4.2",
        "Retrieve Change Of Mode / Tariff Triggered Billing Data Log",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS20b GCS15b",
    ),
    _srv(
        "4.4.3",
        "Retrieve Billing Calendar Triggered Billing Data Log",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS20c GCS15c",
    ),
    _srv(
        "4.4.4",
        "Retrieve Billing Data Log (Payment Based Debt Payments)",
        "on-demand",
        roles="GS IS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS20a GCS15d",
    ),
    _srv(
        "4.4.5",
        "Retrieve Billing Data Log (Prepayment Credits)",
        "on-demand",
        roles="GS IS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS20d GCS15e",
    ),
    _srv(
        "4.6.1",
        "Retrieve Import Daily Read Log",
        "on-demand dcc-scheduled",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS21a GCS16a",
    ),
    _srv(
        "4.6.2",
        "Retrieve Export Daily Read Log",
        "on-demand dcc-scheduled",
        roles="ES",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS21c",
    ),
    _srv(
        "4.8.1",
        "Read Active Import Profile Data",
        "on-demand dcc-scheduled",
        roles="IS GS ED GT OU",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS22b GCS17",
    ),
    _srv(
        "4.8.2",
        "Read Reactive Import Profile Data",
        "on-demand dcc-scheduled",
        roles="IS ED OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS22c",
    ),
    _srv(
        "4.8.3",
        "Read Export Profile Data",
        "on-demand dcc-scheduled",
        roles="ES ED OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS22a",
    ),
    _srv(
        "4.10",
        "Read Network Data",
        "on-demand dcc-scheduled",
        roles="IS GS ED GT",
        future_dated="DSP",
        devices="ESME GSME",
        use_cases="ECS23 ECS23b GCS18",
    ),
    _srv(
        "4.11.1",
        "Read Tariff (Primary Element)",
        "on-demand",
        roles="IS GS OU",
        devices="ESME GSME GPF",
        use_cases="ECS24 GCS21f",
    ),
    _srv(
        "4.11.2",
        "Read Tariff (Secondary Element)",
        "on-demand",
        roles="IS OU",
        devices="ESME",
        use_cases="ECS24b",
    ),
    _srv(
        "4.12.1",
        "Read Maximum Demand Import Registers",
        "on-demand dcc-scheduled",
        roles="IS ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS18b",
    ),
    _srv(
        "4.12.2",
        "Read Maximum Demand Export Registers",
        "on-demand dcc-scheduled",
        roles="ES ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS18a",
    ),
    _srv(
        "4.13",
        "Read Prepayment Configuration",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS26a GCS21b",
    ),
    _srv(
        "4.14",
        "Read Prepayment Daily Read Log",
        "on-demand dcc-scheduled",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS21b GCS16b",
    ),
    _srv(
        "4.15",
        "Read Load Limit Data",
        "on-demand dcc-scheduled",
        roles="IS ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS27",
    ),
    _srv(
        "4.16",
        "Read Active Power Import",
        "on-demand dcc-scheduled",
        roles="IS ED",
        devices="ESME",
        use_cases="ECS17c",
    ),
    _srv(
        "4.17",
        "Retrieve Daily Consumption Log",
        "on-demand dcc-scheduled",
        roles="IS GS ED GT OU",
        future_dated="DSP",
        devices="ESME GPF",
        use_cases="ECS66 GCS61",
    ),
    _srv(
        "4.18",
        "Read Meter Balance",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME GPF",
        use_cases="ECS82 GCS60 GCS60a",
    ),
    _srv("5.1", "Create Schedule", "non-device", roles="IS ES GS ED GT OU"),
    _srv("5.2", "Read Schedule", "non-device", roles="IS ES GS ED GT OU"),
    _srv("5.3", "Delete Schedule", "non-device", roles="IS ES GS ED GT OU"),
    _srv(
        "6.2.1",
        "Read Device Configuration (Voltage)",
        "on-demand",
        roles="IS RSA ED",
        devices="ESME",
        use_cases="ECS26b ECS26k",
    ),
    _srv(
        "6.2.2",
        "Read Device Configuration (Randomisation)",
        "on-demand",
        roles="IS RSA ED",
        devices="ESME",
        use_cases="ECS26c",
    ),
    _srv(
        "6.2.3",
        "Read Device Configuration (Billing Calendar)",
        "on-demand",
        roles="IS RSA GS",
        devices="ESME GSME GPF",
        use_cases="ECS26d ECS26l GCS21d GCS21k",
    ),
    _srv(
        "6.2.4",
        "Read Device Configuration (Identity Exc MPxN)",
        "on-demand",
        roles="IS ES GS RSA ED GT OU",
        devices="ESME GSME CHF",
        use_cases="ECS26e ECS26i ECS26m ECS26n GCS21e GCS21m",
    ),
    _srv(
        "6.2.5",
        "Read Device Configuration (Instantaneous Power Thresholds)",
        "on-demand",
        roles="IS RSA",
        devices="ESME",
        use_cases="ECS26f",
    ),
    _srv(
        "6.2.7",
        "Read Device Configuration (MPxN)",
        "on-demand",
        roles="IS ES GS RSA ED GT OU",
        devices="ESME GSME GPF",
        use_cases="ECS40 GCS46",
    ),
    _srv(
        "6.2.8",
        "Read Device Configuration (Gas)",
        "on-demand",
        roles="GS RSA GT",
        devices="GSME",
        use_cases="GCS21a",
    ),
    _srv(
        "6.2.9",
        "Read Device Configuration (Payment Mode)",
        "on-demand",
        roles="IS GS RSA",
        devices="ESME GSME GPF",
        use_cases="ECS26j GCS21j",
    ),
    _srv(
        "6.2.10",
        "Read Device Configuration (Event and Alert Behaviours)",
        "on-demand",
        roles="IS GS ED",
        devices="ESME GSME",
        use_cases="ECS25r1 ECS25r2 GCS20r",
    ),
    _srv(
        "6.4.1",
        "Update Device Configuration (Load Limiting General Settings)",
        "critical on-demand",
        roles="IS",
        future_dated="Device",
        devices="ESME",
        use_cases="ECS28a",
    ),
    _srv(
        "6.4.2",
        "Update Device Configuration (Load Limiting Counter Reset)",
        "on-demand",
        roles="IS",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS28b",
    ),
    _srv(
        "6.5",
        "Update Device Configuration (Voltage)",
        "on-demand",
        roles="ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS29a ECS29b ECS29c ECS29d",
    ),
    _srv(
        "6.6",
        "Update Device Configuration (Gas Conversion)",
        "critical on-demand",
        roles="GS",
        devices="GSME",
        use_cases="GCS23",
    ),
    _srv(
        "6.7",
        "Update Device Configuration (Gas Flow)",
        "critical on-demand",
        roles="GS",
        devices="GSME",
        use_cases="GCS24 GCS24a",
    ),
    _srv(
        "6.8",
        "Update Device Configuration (Billing Calendar)",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS30 ECS30a GCS25 GCS25a",
    ),
    _srv(
        "6.11",
        "Synchronise Clock",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS70 GCS28",
    ),
    _srv(
        "6.12",
        "Update Device Configuration (Instantaneous Power Threshold)",
        "on-demand",
        roles="IS",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS34",
    ),
    _srv(
        "6.13",
        "Read Event Or Security Log",
        "on-demand",
        roles="IS GS ED GT RSA",
        devices="ESME GSME GPF CHF PPMID HCALCS",
        use_cases="CS10a CS10b ECS35a ECS35b ECS35c ECS35d ECS35e ECS35f ECS35g",
    ),
    _srv(
        "6.14.1",
        "Update Device Configuration (Auxiliary Load Control Description)",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS46a",
    ),
    _srv(
        "6.14.2",
        "Update Device Configuration (Auxiliary Load Control Scheduler)",
        "critical on-demand",
        roles="IS",
        future_dated="Device",
        devices="ESME",
        use_cases="ECS46c",
    ),
    _srv(
        "6.14.3",
        "Update Device Configuration (Auxiliary Controller Scheduler)",
        "critical on-demand",
        roles="IS",
        future_dated="Device",
        devices="ESME",
        use_cases="ECS46d",
    ),
    _srv(
        "6.15.1",
        "Update Security Credentials (KRP)",
        "critical on-demand",
        roles="IS GS ED GT",
        future_dated="Device",
        devices="ESME GPF CHF",
        use_cases="CS02b CS02g",
    ),
    _srv(
        "6.15.2",
        "Update Security Credentials (Device)",
        "critical on-demand",
        roles="IS GS",
        devices="ESME",
        use_cases="CS02d",
    ),
    _srv(
        "6.17",
        "Issue Security Credentials",
        "critical on-demand",
        roles="IS GS",
        devices="ESME",
        use_cases="CS02c",
    ),
    _srv(
        "6.18.1",
        "Set Maximum Demand Configurable Time Period",
        "on-demand",
        roles="ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS37",
    ),
    _srv(
        "6.18.2",
        "Reset Maximum Demand Registers",
        "on-demand",
        roles="ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS57",
    ),
    _srv(
        "6.20.1",
        "Set Device Configuration (Import MPxN)",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GSME",
        use_cases="ECS39a GCS41",
    ),
    _srv(
        "6.20.2",
        "Set Device Configuration (Export MPAN)",
        "on-demand",
        roles="ES",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS39b",
    ),
    _srv(
        "6.21",
        "Request Handover Of DCC Controlled Device",
        "on-demand",
        roles="IS GS",
        future_dated="DSP",
        devices="ESME GPF CHF",
        use_cases="CS02b",
    ),
    _srv(
        "6.22",
        "Configure Alert Behaviour",
        "on-demand",
        roles="IS GS ED",
        devices="ESME GSME",
        use_cases="ECS25a ECS25a1 ECS25a2 ECS25a3 ECS25b ECS25b3 GCS20",
    ),
    _srv(
        "6.23",
        "Update Security Credentials (CoS)",
        "on-demand",
        roles="IS GS",
        future_dated="DSP & Device",
        devices="ESME GPF CHF",
        use_cases="CS02b",
    ),
    _srv(
        "6.24.1",
        "Retrieve Device Security Credentials (KRP)",
        "on-demand",
        roles="IS GS ED GT",
        devices="ESME CHF",
        use_cases="CS02a CS02f",
    ),
    _srv(
        "6.24.2",
        "Retrieve Device Security Credentials (Device)",
        "critical on-demand",
        roles="IS GS",
        devices="ESME",
        use_cases="CS02e",
    ),
    _srv(
        "6.25",
        "Set Electricity Supply Tamper State",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS81",
    ),
    _srv(
        "6.26",
        "Update Device Configuration (daily resetting of Tariff Block Counter Matrix)",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS48",
    ),
    _srv(
        "6.27",
        "Update Device Configuration (RMS Voltage Counter Reset)",
        "on-demand",
        roles="ED",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS29e ECS29f",
    ),
    _srv(
        "6.28",
        "Set CHF Sub GHz Configuration",
        "on-demand",
        roles="IS GS",
        devices="CHF",
        use_cases="DBCH04",
    ),
    _srv(
        "6.29",
        "Request CHF Sub GHz Channel Scan",
        "on-demand",
        roles="IS GS",
        devices="CHF",
        use_cases="DBCH05",
    ),
    _srv(
        "6.30",
        "Read CHF Sub GHz Configuration",
        "on-demand",
        roles="IS GS RSA",
        devices="CHF",
        use_cases="DBCH03",
    ),
    _srv(
        "6.31",
        "Read CHF Sub GHz Channel",
        "on-demand",
        roles="IS GS RSA",
        devices="CHF",
        use_cases="DBCH01",
    ),
    _srv(
        "6.32",
        "Read CHF Sub GHz Channel Log",
        "on-demand",
        roles="IS GS RSA",
        devices="CHF",
        use_cases="DBCH02",
    ),
    _srv(
        "7.1", "Enable Supply", "critical on-demand", roles="IS", devices="ESME", use_cases="ECS42"
    ),
    _srv(
        "7.2",
        "Disable Supply",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS43 GCS32",
    ),
    _srv(
        "7.3",
        "Arm Supply",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS44 GCS39",
    ),
    _srv(
        "7.4",
        "Read Supply Status",
        "on-demand",
        roles="IS ES GS RSA ED GT",
        devices="ESME GSME GPF",
        use_cases="ECS45 GCS33",
    ),
    _srv(
        "7.5",
        "Activate Auxiliary Load",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS47",
    ),
    _srv(
        "7.6",
        "Deactivate Auxiliary Load",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS47",
    ),
    _srv(
        "7.7",
        "Read Auxiliary Load Switch Data",
        "on-demand",
        roles="IS ED OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS61a",
    ),
    _srv(
        "7.8",
        "Reset Auxiliary Load",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS47",
    ),
    _srv(
        "7.9",
        "Add Auxiliary Load To Boost Button",
        "on-demand",
        roles="IS",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS62",
    ),
    _srv(
        "7.10",
        "Remove Auxiliary Load From Boost Button",
        "on-demand",
        roles="IS",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS62",
    ),
    _srv(
        "7.11",
        "Read Boost Button Details",
        "on-demand",
        roles="IS OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS61c",
    ),
    _srv(
        "7.12",
        "Set Randomised Offset Limit",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS38",
    ),
    _srv(
        "7.13",
        "Set Auxiliary Controller State",
        "critical on-demand",
        roles="IS",
        devices="ESME",
        use_cases="ECS47a",
    ),
    _srv(
        "7.14",
        "Read Auxiliary Controller Configuration Data",
        "on-demand",
        roles="IS ED OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS61d",
    ),
    _srv(
        "7.15",
        "Read Auxiliary Controller Operational Data",
        "on-demand",
        roles="IS ED OU",
        future_dated="DSP",
        devices="ESME",
        use_cases="ECS61e",
    ),
    _srv(
        "7.16",
        "Limit APC Level",
        "critical on-demand",
        roles="",
        devices="ESME",
        use_cases="ECS47e",
    ),
    _srv(
        "8.1.1",
        "Commission Device",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME",
        use_cases="ECS70 GCS28",
    ),
    _srv(
        "8.2",
        "Read Inventory",
        "non-device",
        roles="IS ES GS RSA ED GT OU",
        note="(Current and Future Suppliers may use this Service Request)",
    ),
    _srv("8.3", "Decommission Device", "non-device", roles="IS GS"),
    _srv("8.4", "Update Inventory", "non-device", roles="IS ES GS RSA ED GT OU"),
    _srv(
        "8.5",
        "Service Opt Out",
        "",
        roles="",
        future_dated="DSP",
        devices="ESME GPF CHF",
        use_cases="CS02b",
    ),
    _srv("8.6", "Service Opt In", "non-device", roles=""),
    _srv(
        "8.7.1",
        "Join Service (Critical)",
        "critical on-demand",
        roles="IS GS",
        devices="ESME GSME PPMID HCALCS",
        use_cases="CS03A1 CS03A2 CS03C",
    ),
    _srv(
        "8.7.2",
        "Join Service (Non-Critical)",
        "on-demand",
        roles="IS GS OU",
        devices="GSME PPMID HCALCS",
        use_cases="CS03A2 CS03B CS03C",
    ),
    _srv(
        "8.8.1",
        "Unjoin Service (Critical)",
        "critical on-demand",
        roles="IS GS",
        devices="ESME PPMID",
        use_cases="CS04AC",
    ),
    _srv(
        "8.8.2",
        "Unjoin Service (Non-Critical)",
        "on-demand",
        roles="IS GS OU",
        devices="ESME GSME PPMID",
        use_cases="CS04AC CS04B",
    ),
    _srv(
        "8.9",
        "Read Device Log",
        "on-demand",
        roles="IS GS OU",
        future_dated="DSP",
        devices="GSME CHF",
        use_cases="CCS05/CCS04 CCS06 CCS07 CS07",
    ),
    _srv(
        "8.11",
        "Update HAN Device Log",
        "on-demand",
        roles="IS GS OU",
        future_dated="DSP",
        devices="CHF",
        use_cases="CCS01 CCS02",
    ),
    _srv(
        "8.12.1",
        "Restore HAN Device Log",
        "on-demand",
        roles="IS GS",
        devices="CHF",
        use_cases="CCS03",
    ),
    _srv(
        "8.12.2",
        "Restore Gas Proxy Function Device Log",
        "on-demand",
        roles="IS GS",
        devices="GPF",
        use_cases="GCS59",
    ),
    _srv("8.13", "Return Local Command Response", "non-device", roles="IS GS"),
    _srv(
        "8.14.1", "Communications Hub Status Update- Install Success", "non-device", roles="IS GS"
    ),
    _srv(
        "8.14.2",
        "Communications Hub Status Update - Install No SM WAN",
        "non-device",
        roles="IS GS",
    ),
    _srv("8.14.3", "Communications Hub Status Update. – Fault Return", "non-device", roles="IS GS"),
    _srv(
        "8.14.4", "Communications Hub Status Update – No Fault Return", "non-device", roles="IS GS"
    ),
    _srv(
        "9.1",
        "Request Customer Identification Number",
        "on-demand",
        roles="OU",
        devices="ESME GSME",
        use_cases="ECS50 GCS36",
    ),
    _srv("11.1", "Update Firmware", "non-device", roles="IS GS"),
    _srv(
        "11.2",
        "Read Firmware Version",
        "on-demand",
        roles="IS ES GS RSA ED GT OU",
        future_dated="DSP",
        devices="ESME GSME GPF CHF PPMID HCALCS",
        use_cases="CS08 ECS52 GCS38",
    ),
    _srv(
        "11.3",
        "Activate Firmware",
        "critical on-demand",
        roles="IS GS",
        future_dated="Device",
        devices="ESME",
        use_cases="CS06",
    ),
    _srv("11.4", "Update PPMID Firmware", "non-device", roles="IS GS"),
    _srv("12.1", "Request WAN Matrix", "non-device", roles="IS ES GS RSA ED GT OU"),
    _srv("12.2", "Device Pre-notification", "non-device", roles="IS ES GS RSA ED GT OU"),
    _srv(
        "14.1",
        "Record Network Data (GAS)",
        "on-demand dcc-scheduled",
        roles="GT",
        devices="GSME",
        use_cases="GCS31",
    ),
)

SRVS: MappingProxyType[str, Srv] = MappingProxyType({s.variant: s for s in _SRV_ROWS})
"""Every DUIS Service Request Variant by its variant number (129)."""


def srv(variant: str) -> Srv | None:
    """The SRV with this Service Reference Variant (``4.1.1``, ``8.2``), or None."""
    return SRVS.get(variant.strip())


@dataclass(frozen=True, slots=True)
class CommandVariant:
    """A DUIS Command Variant: what the request carries and where DCC Boxed takes it."""

    number: int
    description: str
    input: str
    output: str
    web_service: str
    #: As the source table writes it: CV4 (transform) is not critical, CV5-7 are.
    critical: bool
    #: DCC Boxed endpoint (port 8079) of the CV's web service.
    endpoint: str
    #: False for CV3 and CV7, which DCC Boxed does not support.
    dcc_boxed: bool


_SEND, _TRANSFORM, _NON_DEVICE = "/api/v1/serviceS", "/api/v1/serviceT", "/api/v1/serviceD"

COMMAND_VARIANTS: MappingProxyType[int, CommandVariant] = MappingProxyType(
    {
        cv.number: cv
        for cv in (
            CommandVariant(
                1,
                "Non-critical request for a command sent to the device over the SM WAN",
                "Service Request",
                "Command",
                "Send Command Service",
                False,
                _SEND,
                True,
            ),
            CommandVariant(
                2,
                "Non-critical request for a command returned to the user for local delivery",
                "Service Request",
                "Command for Local Delivery",
                "Non-Device Service",
                False,
                _NON_DEVICE,
                True,
            ),
            CommandVariant(
                3,
                "Non-critical request for a command sent over the SM WAN and a copy returned "
                "for local delivery",
                "Service Request",
                "Command and Command for Local Delivery",
                "Send Command Service",
                False,
                _SEND,
                False,
            ),
            CommandVariant(
                4,
                "Critical request transformed into a pre-command returned to the user to sign",
                "Service Request",
                "Pre-Command",
                "Transform Service",
                False,
                _TRANSFORM,
                True,
            ),
            CommandVariant(
                5,
                "Signed pre-command: command sent to the device over the SM WAN",
                "Signed Pre-Command",
                "Command",
                "Send Command Service",
                True,
                _SEND,
                True,
            ),
            CommandVariant(
                6,
                "Signed pre-command: command returned to the user for local delivery",
                "Signed Pre-Command",
                "Command for Local Delivery",
                "Non-Device Service",
                True,
                _NON_DEVICE,
                True,
            ),
            CommandVariant(
                7,
                "Signed pre-command: command sent over the SM WAN and a copy returned for "
                "local delivery",
                "Signed Pre-Command",
                "Command and Command for Local Delivery",
                "Send Command Service",
                True,
                _SEND,
                False,
            ),
            CommandVariant(
                8,
                "Request for a non-device service",
                "Service Request",
                "Service Response",
                "Non-Device Service",
                False,
                _NON_DEVICE,
                True,
            ),
        )
    }
)
"""DUIS Command Variants 1-8 by number."""


@dataclass(frozen=True, slots=True)
class ResponseCode:
    """A DUIS response code (``sr:ResponseCode``)."""

    code: str
    #: ``success``, ``acknowledgement``, ``error`` or ``warning``.
    kind: str
    #: What it means, or None where no public source gives it (see the module notes).
    meaning: str | None
    #: For SRV-specific codes (``E<SR><nn>``), the service reference, e.g. ``12.2``.
    service_reference: str | None
    source: str


_XSD = "DUIS 5.4 XML schema, sr:ResponseCode"
_TABLE = "DUIS clause 3.5 common response codes (public SMETS2 reference transcription)"

_MEANINGS: dict[str, str] = {
    "I0": "Success: the request had a successful outcome",
    "I99": "Acknowledgement: accepted for sending to the device after access control (the "
    "device's response follows), or a non-device request succeeded with no XML to return",
    "E1": "Failed authorisation: the user and user role are not a valid SEC party and role",
    "E2": "Failed authorisation: the user role may not send this service reference",
    "E3": "Failed authorisation: the user's status does not allow this service reference",
    "E4": "Failed authorisation: the user role is not authorised for the device at the "
    "required date and time",
    "E5": "Failed authorisation: the device's SMI status is incompatible with the service "
    "reference",
    "E11": "Failed validation: the service request does not apply to the device type",
    "E12": "Failed validation: the command variant does not apply to the request",
    "E13": "Failed validation: the request type is not valid for the URL (e.g. a non-device "
    "request sent to the transform service)",
    "E17": "Failed authorisation: the user role and device status do not permit a command "
    "for local delivery",
    "E19": "Failed authorisation: the device does not exist (invalid device ID)",
    "E20": "Communications failure: the DCC cannot establish communications with the device",
    "E21": "Communications failure: no response received from the device for an on-demand "
    "or future-dated command",
    "E30": "Time-out of a future-dated command (the detail is not in the public source)",
    "E51": "Rejected: the device's SMI status is Suspended (its firmware version left the "
    "CPL, or its firmware activation response was lost) and the request is not one a "
    "Suspended device takes",
}
#: Codes whose meaning comes from another public source than the clause 3.5 table.
_OTHER_SOURCES = {
    "E51": "SECAS paper to TABASC, Jan 2020, on MP105 (Suspended devices: others rejected "
    "with E51)",
}

_CODES = (
    "I0 I99 E1 E2 E3 E4 E5 E11 E12 E13 E17 E19 E20 E21 E30 E31 E40 E41 E42 E43 E44 E45 E46 E47 "
    "E48 E49 E50 E51 E52 E53 E54 E55 E56 E57 E58 E59 E60 E61 E62 E63 E64 E65 E66 E67 E68 E69 E70 "
    "E71 E100 E1000 E1001 E1003 E1004 E1006 E1007 E1008 E1010 E1011 E010101 E010102 E010201 "
    "E030301 E030302 E040101 E041701 E050101 E050102 E050103 E050105 E050107 E050108 E050109 "
    "E050110 E050111 E050112 E050201 E050202 W050201 E050301 E050302 W050301 E060501 E060502 "
    "E060701 E060801 E060802 E060803 E061301 E061304 E061305 E061501 E061504 E061505 E061506 "
    "E061507 E061508 E061509 E061801 E061802 E061803 E062101 E062102 E062103 E062105 E062201 "
    "E062202 E062203 E062301 E062302 E062303 E062304 E062305 E062306 E062401 E062402 E062403 "
    "E062801 E062802 E062803 E080201 E080202 E080301 E080302 E080405 E080406 E080407 E080408 "
    "E080409 E080410 E080411 E080412 E080413 E080414 E080415 E080501 E080502 E080503 E080601 "
    "E080602 E080604 E080606 E080607 E080702 E080721 E080722 E080723 E080801 E080821 E080822 "
    "E080901 E080902 E080903 E081101 E081102 E081104 E081105 E081106 E081107 E081108 E081109 "
    "E081110 E081111 E081202 E081204 E081205 E081221 E081222 E081223 E081301 E081302 E081303 "
    "E081401 E081402 E081405 E081406 W081401 E110101 E110102 E110103 E110105 E110106 W110101 "
    "E110401 E110402 E110403 E110405 W110401 E120101 E120102 E120103 E120201 E120203 E120204 "
    "E120207"
)


def _code(code: str) -> ResponseCode:
    if code == "I0":
        kind = "success"
    elif code == "I99":
        kind = "acknowledgement"
    elif code.startswith("W"):
        kind = "warning"
    else:
        kind = "error"
    reference = None
    if len(code) == 7:
        reference = f"{int(code[1:3])}.{int(code[3:5])}"
    meaning = _MEANINGS.get(code)
    source = _OTHER_SOURCES.get(code, _TABLE if meaning else _XSD)
    return ResponseCode(code, kind, meaning, reference, source)


RESPONSE_CODES: MappingProxyType[str, ResponseCode] = MappingProxyType(
    {c: _code(c) for c in "".join(_CODES).split()}
)
"""Every DUIS 5.4 response code by code (the schema's enumeration, in its order)."""


def response_code(code: str) -> ResponseCode | None:
    """The response code ``code`` (``E65``), or None when DUIS 5.4 has no such code."""
    return RESPONSE_CODES.get(code.strip())
