"""ZigBee Cluster Library (ZCL) payloads carried inside GBZ components.

GSME/GPF use cases wrap ZigBee Smart Energy (ZSE) commands in GBZ components
(``gbcs-wire.md`` §4.3). This module covers what sits *after* the GBZ extended header:

* :class:`ZclHeader` — frame control, optional manufacturer code, transaction sequence
  number, command id;
* typed, immutable records for the general commands (Read Attributes and its response,
  Write Attributes and its response, Default Response) and for the cluster-specific
  commands of the Price, Metering, Messaging, Prepayment, Calendar, Device Management and
  Events clusters that the GBCS use cases carry;
* :class:`RawZclPayload` for anything else, so every payload round-trips;
* :func:`decode_zcl_payload`, also used on the plaintext of encrypted GBZ components.

Laid out as zigpy's ``zcl``: :mod:`~gbcs.zcl.names` (cluster, attribute, status, data
type and command names; the registry of typed commands), :mod:`~gbcs.zcl.datatypes`
(UTCTime, ``date``, attribute values), :mod:`~gbcs.zcl.foundation` (header, general
commands), :mod:`~gbcs.zcl.records` (the declarative record machinery), one module per
cluster (:mod:`~gbcs.zcl.price`, :mod:`~gbcs.zcl.metering`, :mod:`~gbcs.zcl.messaging`,
:mod:`~gbcs.zcl.prepayment`, :mod:`~gbcs.zcl.calendar`,
:mod:`~gbcs.zcl.device_management`, :mod:`~gbcs.zcl.events`) and
:mod:`~gbcs.zcl.dispatch` (decoding by cluster and command id). This package
re-exports the public API: import from ``gbcs.zcl``. The cluster modules load on first
use (a name of theirs asked of this package, or a command of their cluster decoded,
named or listed), so a process that never meets a cluster never pays for its records.

ZCL fields are little-endian. Every typed record re-encodes to the exact bytes it was
decoded from. Cluster-specific records keep bytes they do not model in ``trailing``
(ZSE lets later versions append optional fields, e.g. the 19 extra octets some devices
put after Publish Price). Timestamps are ZigBee ``UTCTime`` values: seconds since
2000-01-01 00:00:00 UTC, kept as ``int``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gbcs.zcl.datatypes import (
    ZCL_EPOCH,
    ZclDate,
    ZclSequence,
    ZclValue,
    format_utc,
    utc_from_datetime,
    utc_to_datetime,
)
from gbcs.zcl.dispatch import (
    ZclPayload,
    check_zcl_header,
    decode_zcl_command,
    decode_zcl_payload,
    decode_zcl_slice,
    general_commands,
    typed_commands,
)
from gbcs.zcl.foundation import (
    AttributeReadRecord,
    AttributeStatusRecord,
    AttributeWriteRecord,
    DefaultResponse,
    RawZclPayload,
    ReadAttributes,
    ReadAttributesResponse,
    WriteAttributes,
    WriteAttributesResponse,
    ZclCommand,
    ZclHeader,
    decode_zcl_header,
)
from gbcs.zcl.names import (
    CLUSTER_NAMES,
    DATA_TYPE_NAMES,
    STATUS_NAMES,
    attribute_name,
    cluster_name,
    command_name,
)

# Record kinds and internals, importable from here as before the split into modules.
# isort: off
from gbcs.zcl.datatypes import (
    MAX_DEPTH as MAX_DEPTH,
    _fixed_size as _fixed_size,
)
from gbcs.zcl.records import (
    _OCT as _OCT,
    BM8 as BM8,
    BM16 as BM16,
    BM32 as BM32,
    DATE as DATE,
    DAYS7 as DAYS7,
    E8 as E8,
    E16 as E16,
    S32 as S32,
    U8 as U8,
    U16 as U16,
    U24 as U24,
    U32 as U32,
    U48 as U48,
    UTC_T as UTC_T,
    _Kind as _Kind,
    _ListSpec as _ListSpec,
    _Record as _Record,
    _SubPayload as _SubPayload,
)
# isort: on

# The cluster modules (~80 record classes) load on first use: when one of their names is
# asked of this package, or when a command of their cluster is decoded or named
# (``names.CLUSTER_MODULES``). typed_commands() lists them in cluster id order.
_LAZY_MODULES: dict[str, tuple[str, ...]] = {
    "price": (
        "GetBillingPeriod",
        "GetCurrentPrice",
        "PriceMatrixEntry",
        "PublishBillingPeriod",
        "PublishBlockPeriod",
        "PublishCalorificValue",
        "PublishConversionFactor",
        "PublishPrice",
        "PublishPriceMatrix",
        "PublishTariffInformation",
    ),
    "metering": (
        "BlockTierDeliveredNoBilling",
        "ChangeSupply",
        "GetSampledData",
        "GetSampledDataResponse",
        "GetSnapshot",
        "PublishSnapshot",
        "SetSupplyStatus",
        "SetUncontrolledFlowThreshold",
        "StartSampling",
        "StartSamplingResponse",
        "SupplyStatusResponse",
        "TouDeliveredNoBilling",
    ),
    "messaging": ("DisplayMessage",),
    "prepayment": (
        "ChangeDebt",
        "ChangePaymentMode",
        "ChangePaymentModeResponse",
        "ConsumerTopUp",
        "ConsumerTopUpResponse",
        "CreditAdjustment",
        "DebtCreditStatus",
        "DebtLogEntry",
        "EmergencyCreditSetup",
        "GetDebtRepaymentLog",
        "GetPrepaySnapshot",
        "GetTopUpLog",
        "PublishDebtLog",
        "PublishPrepaySnapshot",
        "PublishTopUpLog",
        "SelectAvailableEmergencyCredit",
        "SetLowCreditWarningLevel",
        "SetMaximumCreditLimit",
        "SetOverallDebtCap",
        "TopUpLogEntry",
    ),
    "calendar": (
        "DayScheduleEntry",
        "GetDayProfiles",
        "GetSeasons",
        "GetSpecialDays",
        "GetWeekProfiles",
        "PublishCalendar",
        "PublishDayProfile",
        "PublishSeasons",
        "PublishSpecialDays",
        "PublishWeekProfile",
        "SeasonEntry",
        "SpecialDayEntry",
    ),
    "device_management": (
        "EventConfigurationEntry",
        "GetEventConfiguration",
        "PublishChangeOfSupplier",
        "PublishChangeOfTenancy",
        "ReportEventConfiguration",
        "RequestNewPasswordResponse",
        "SetEventConfiguration",
        "UpdateCin",
        "UpdateSiteId",
    ),
    "events": (
        "ClearEventLogRequest",
        "ClearEventLogResponse",
        "EventLogEntry",
        "GetEventLog",
        "PublishEventLog",
    ),
}
_LAZY: dict[str, str] = {
    name: f"gbcs.zcl.{module}" for module, names in _LAZY_MODULES.items() for name in names
}

if TYPE_CHECKING:
    from gbcs.zcl.calendar import (
        DayScheduleEntry,
        GetDayProfiles,
        GetSeasons,
        GetSpecialDays,
        GetWeekProfiles,
        PublishCalendar,
        PublishDayProfile,
        PublishSeasons,
        PublishSpecialDays,
        PublishWeekProfile,
        SeasonEntry,
        SpecialDayEntry,
    )
    from gbcs.zcl.device_management import (
        EventConfigurationEntry,
        GetEventConfiguration,
        PublishChangeOfSupplier,
        PublishChangeOfTenancy,
        ReportEventConfiguration,
        RequestNewPasswordResponse,
        SetEventConfiguration,
        UpdateCin,
        UpdateSiteId,
    )
    from gbcs.zcl.events import (
        ClearEventLogRequest,
        ClearEventLogResponse,
        EventLogEntry,
        GetEventLog,
        PublishEventLog,
    )
    from gbcs.zcl.messaging import (
        DisplayMessage,
    )
    from gbcs.zcl.metering import (
        BlockTierDeliveredNoBilling,
        ChangeSupply,
        GetSampledData,
        GetSampledDataResponse,
        GetSnapshot,
        PublishSnapshot,
        SetSupplyStatus,
        SetUncontrolledFlowThreshold,
        StartSampling,
        StartSamplingResponse,
        SupplyStatusResponse,
        TouDeliveredNoBilling,
    )
    from gbcs.zcl.prepayment import (
        ChangeDebt,
        ChangePaymentMode,
        ChangePaymentModeResponse,
        ConsumerTopUp,
        ConsumerTopUpResponse,
        CreditAdjustment,
        DebtCreditStatus,
        DebtLogEntry,
        EmergencyCreditSetup,
        GetDebtRepaymentLog,
        GetPrepaySnapshot,
        GetTopUpLog,
        PublishDebtLog,
        PublishPrepaySnapshot,
        PublishTopUpLog,
        SelectAvailableEmergencyCredit,
        SetLowCreditWarningLevel,
        SetMaximumCreditLimit,
        SetOverallDebtCap,
        TopUpLogEntry,
    )
    from gbcs.zcl.price import (
        GetBillingPeriod,
        GetCurrentPrice,
        PriceMatrixEntry,
        PublishBillingPeriod,
        PublishBlockPeriod,
        PublishCalorificValue,
        PublishConversionFactor,
        PublishPrice,
        PublishPriceMatrix,
        PublishTariffInformation,
    )


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "CLUSTER_NAMES",
    "DATA_TYPE_NAMES",
    "STATUS_NAMES",
    "ZCL_EPOCH",
    "AttributeReadRecord",
    "AttributeStatusRecord",
    "AttributeWriteRecord",
    "BlockTierDeliveredNoBilling",
    "ChangeDebt",
    "ChangePaymentMode",
    "ChangePaymentModeResponse",
    "ChangeSupply",
    "ClearEventLogRequest",
    "ClearEventLogResponse",
    "ConsumerTopUp",
    "ConsumerTopUpResponse",
    "CreditAdjustment",
    "DayScheduleEntry",
    "DebtCreditStatus",
    "DebtLogEntry",
    "DefaultResponse",
    "DisplayMessage",
    "EmergencyCreditSetup",
    "EventConfigurationEntry",
    "EventLogEntry",
    "GetBillingPeriod",
    "GetCurrentPrice",
    "GetDayProfiles",
    "GetDebtRepaymentLog",
    "GetEventConfiguration",
    "GetEventLog",
    "GetPrepaySnapshot",
    "GetSampledData",
    "GetSampledDataResponse",
    "GetSeasons",
    "GetSnapshot",
    "GetSpecialDays",
    "GetTopUpLog",
    "GetWeekProfiles",
    "PriceMatrixEntry",
    "PublishBillingPeriod",
    "PublishBlockPeriod",
    "PublishCalendar",
    "PublishCalorificValue",
    "PublishChangeOfSupplier",
    "PublishChangeOfTenancy",
    "PublishConversionFactor",
    "PublishDayProfile",
    "PublishDebtLog",
    "PublishEventLog",
    "PublishPrepaySnapshot",
    "PublishPrice",
    "PublishPriceMatrix",
    "PublishSeasons",
    "PublishSnapshot",
    "PublishSpecialDays",
    "PublishTariffInformation",
    "PublishTopUpLog",
    "PublishWeekProfile",
    "RawZclPayload",
    "ReadAttributes",
    "ReadAttributesResponse",
    "ReportEventConfiguration",
    "RequestNewPasswordResponse",
    "SeasonEntry",
    "SelectAvailableEmergencyCredit",
    "SetEventConfiguration",
    "SetLowCreditWarningLevel",
    "SetMaximumCreditLimit",
    "SetOverallDebtCap",
    "SetSupplyStatus",
    "SetUncontrolledFlowThreshold",
    "SpecialDayEntry",
    "StartSampling",
    "StartSamplingResponse",
    "SupplyStatusResponse",
    "TopUpLogEntry",
    "TouDeliveredNoBilling",
    "UpdateCin",
    "UpdateSiteId",
    "WriteAttributes",
    "WriteAttributesResponse",
    "ZclCommand",
    "ZclDate",
    "ZclHeader",
    "ZclPayload",
    "ZclSequence",
    "ZclValue",
    "attribute_name",
    "check_zcl_header",
    "cluster_name",
    "command_name",
    "decode_zcl_command",
    "decode_zcl_header",
    "decode_zcl_payload",
    "decode_zcl_slice",
    "format_utc",
    "general_commands",
    "typed_commands",
    "utc_from_datetime",
    "utc_to_datetime",
]
