"""The message-code registry: code → use case, targets, criticality, replay, roles, payload.

Facts come from ``shared/reference/use-cases.json`` (generated into
:mod:`gbcs.usecase_table`). Where that table is silent (``message_type`` null), the
criticality is taken from the RTDS envelope column, which shows what DCC actually sends
(a signed command is critical); ``critical_source`` says which source decided. Roles are
SMKI remote-party role codes (2 supplier, 3 network operator, 4 access control broker,
8 load controller), comparable with ``keys.roles.RemotePartyRole``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gbcs.usecase_table import ROWS


class DeviceType(StrEnum):
    """SMETS2 device types a message code can target."""

    ESME = "ESME"
    GSME = "GSME"
    GPF = "GPF"
    CHF = "CHF"
    PPMID = "PPMID"
    HCALCS = "HCALCS"


@dataclass(frozen=True, slots=True)
class UseCase:
    """Facts about one GBCS message code."""

    code: int
    name: str
    title: str
    targets: tuple[DeviceType, ...]
    target_text: str | None
    direction: str  # "command", "alert" or "han" (ZSE-specified HAN-only)
    critical: bool | None
    critical_source: str  # "table", "rtds" or "unknown"
    replay_protection: bool | None
    roles: frozenset[int]
    roles_see_gbcs: bool
    payload_kind: str  # "dlms", "gbz", "asn1", "mixed" or "unknown"
    future_dated: bool
    service_request: str | None
    read_or_update: str | None

    @property
    def label(self) -> str:
        """``"ECS17b Read ESME Energy Registers (Import Energy)"``."""
        return self.title if self.title.startswith(self.name) else f"{self.name} {self.title}"


def _load() -> dict[int, UseCase]:
    out: dict[int, UseCase] = {}
    for row in ROWS:
        (
            code,
            name,
            title,
            targets,
            text,
            direction,
            critical,
            csrc,
            replay,
            roles,
            see,
            kind,
            fd,
            sr,
            rou,
        ) = row
        out[code] = UseCase(
            code,
            name,
            title,
            tuple(DeviceType(t) for t in targets),
            text,
            direction,
            critical,
            csrc,
            replay,
            frozenset(roles),
            see,
            kind,
            fd,
            sr,
            rou,
        )
    return out


_REGISTRY = _load()
_BY_NAME = {uc.name.upper(): uc for uc in _REGISTRY.values()}


def lookup(code: int) -> UseCase | None:
    """The use case of a message code, or ``None`` for an unknown code."""
    return _REGISTRY.get(code)


def by_name(name: str) -> UseCase | None:
    """Look a use case up by its name (``"ECS17b"``, case-insensitive)."""
    return _BY_NAME.get(name.upper())


def all_use_cases() -> tuple[UseCase, ...]:
    """Every registered message code, in code order."""
    return tuple(_REGISTRY[c] for c in sorted(_REGISTRY))


def message_code_name(code: int) -> str:
    """A readable name for any code (``"unknown message code 0x1234"`` when unregistered)."""
    uc = _REGISTRY.get(code)
    return uc.label if uc else f"unknown message code 0x{code:04X}"
