"""SRVs with nothing in their body but an optional DSP-held ``ExecutionDateTime``: reads,
and the commands whose GBCS takes no argument (SRV 1.7, 2.5, 3.5, 7.1-7.3).

One row per SRV variant: the DUIS 5.4 body element, then ``device type(s)=use case``,
the one use case of the SRV (``tables.py``) that targets that device type in the GBCS
registry.
"""

from __future__ import annotations

from emulator.duis.routing import SrvRoute, plain

_ROWS = """
1.7     ResetTariffBlockCounterMatrix                   ESME=ECS05
2.5     ActivateEmergencyCredit                         ESME=ECS09 GSME=GCS06
3.5     DisablePrivacyPIN                               ESME=ECS14
4.1.1   ReadInstantaneousImportRegisters                ESME=ECS17b GSME/GPF=GCS13a
4.1.2   ReadInstantaneousImportTOUMatrices              ESME=ECS17d GSME/GPF=GCS13c
4.1.3   ReadInstantaneousImportTOUWithBlocksMatrices    ESME=ECS17e
4.1.4   ReadInstantaneousImportBlockCounters            GSME/GPF=GCS13b
4.2     ReadInstantaneousExportRegisters                ESME=ECS17a
4.3     ReadInstantaneousPrepayValues                   ESME=ECS19 GSME/GPF=GCS14
4.11.1  ReadTariffPrimaryElement                        ESME=ECS24 GSME/GPF=GCS21f
4.11.2  ReadTariffSecondaryElement                      ESME=ECS24b
4.12.1  ReadMaximumDemandImportRegisters                ESME=ECS18b
4.12.2  ReadMaximumDemandExportRegisters                ESME=ECS18a
4.13    ReadPrepaymentConfiguration                     ESME=ECS26a GSME/GPF=GCS21b
4.15    ReadLoadLimitData                               ESME=ECS27
4.16    ReadActivePowerImport                           ESME=ECS17c
4.18    ReadMeterBalance                                ESME=ECS82
6.2.2   ReadDeviceConfigurationRandomisation            ESME=ECS26c
6.2.5   ReadDeviceConfigurationInstantaneousPowerThresholds ESME=ECS26f
6.2.7   ReadDeviceConfigurationMPxN                     ESME=ECS40 GSME/GPF=GCS46
6.2.8   ReadDeviceConfigurationGas                      GSME=GCS21a
6.2.9   ReadDeviceConfigurationPaymentMode              ESME=ECS26j GSME/GPF=GCS21j
7.1     EnableSupply                                    ESME=ECS42
7.2     DisableSupply                                   ESME=ECS43
7.3     ArmSupply                                       ESME=ECS44
7.4     ReadSupplyStatus                                ESME=ECS45 GSME/GPF=GCS33
7.7     ReadALCSData                                    ESME=ECS61a
7.15    ReadAuxiliaryControllerOperationalData          ESME=ECS61e
11.2    ReadFirmwareVersion                             ESME=ECS52 GSME/GPF=GCS38
"""


def _rows(rows: str) -> tuple[SrvRoute, ...]:
    out = []
    for row in rows.strip().splitlines():
        variant, body, *pairs = row.split()
        planners: dict[str, str] = {}
        for pair in pairs:
            devices, use_case = pair.split("=")
            for device in devices.split("/"):
                planners[device] = use_case
        out.append(plain(variant, body, planners))
    return tuple(out)


ROUTES: tuple[SrvRoute, ...] = _rows(_ROWS)
"""The SRV variants of this module."""
