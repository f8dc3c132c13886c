"""The message-code registry: code → use case, targets, criticality, replay, roles, payload.

Facts come from ``shared/reference/use-cases.json`` (generated into
:mod:`gbcs.usecase_table`). Where that table is silent (``message_type`` null), the
criticality is taken from the RTDS envelope column, which shows what DCC actually sends
(a signed command is critical); ``critical_source`` says which source decided. Roles are
SMKI remote-party role codes (2 supplier, 3 network operator, 4 access control broker,
8 load controller), comparable with ``keys.roles.RemotePartyRole``.

Target device types: the devices ``use-cases.json`` names in its target column, plus
those ``usecase_overrides.toml`` (beside this module, shipped in the package) lists
with their source. Where the table's target is blank or names no device ("See GBCS"),
only the overrides count: the generator's guess from the vectors is not used.
``targets_source`` says which decided. A device accepts exactly the command codes
whose targets name its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from functools import cache
from typing import Any, NamedTuple

from gbcs.errors import GbcsError
from gbcs.usecase_table import ROWS

OVERRIDES_FILE = "usecase_overrides.toml"
"""The overrides file, a resource of the :mod:`gbcs` package."""

_ROLE_CODES = {
    "Supplier": 2,
    "Network Operator": 3,
    "Access Control Broker": 4,
    "Load Controller": 8,
}
_ROW_KEYS = frozenset({"code", "name", "targets", "roles", "direction", "basis", "source", "note"})
_DIRECTIONS = ("command", "alert", "han")


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
    targets_source: str = "table"  # "table", "overrides", "table+overrides" or "none"

    @property
    def label(self) -> str:
        """``"ECS17b Read ESME Energy Registers (Import Energy)"``."""
        return self.title if self.title.startswith(self.name) else f"{self.name} {self.title}"


@dataclass(frozen=True, slots=True)
class Override:
    """One row of the overrides file: targets (and maybe roles) with their source."""

    code: int
    name: str
    targets: tuple[DeviceType, ...]
    roles: frozenset[int]
    basis: str
    source: str
    note: str | None = None
    direction: str | None = None


class OverridesError(GbcsError):
    """The overrides file is malformed (names the file, row and key)."""


def _text_targets(text: str | None) -> bool:
    """Whether the table's target text names at least one device type."""
    if not text:
        return False
    if text.strip() == "All" or "ZigBee Device" in text:
        return True
    return any(d.value in text for d in DeviceType)


def _ordered(types: set[DeviceType]) -> tuple[DeviceType, ...]:
    return tuple(d for d in DeviceType if d in types)


def parse_overrides(data: Mapping[str, Any], where: str = OVERRIDES_FILE) -> dict[int, Override]:
    """Check and convert a loaded overrides document (``{"row": [...]}``)."""
    rows = data.get("row")
    if set(data) - {"row"} or not isinstance(rows, list):
        raise OverridesError(f"{where}: expected only [[row]] tables")
    out: dict[int, Override] = {}
    for i, r in enumerate(rows):
        at = f"{where}: row {i + 1}"
        if not isinstance(r, dict):
            raise OverridesError(f"{at}: not a table")
        extra = set(r) - _ROW_KEYS
        if extra:
            raise OverridesError(
                f"{at}: unknown key(s) {sorted(extra)}; allowed {sorted(_ROW_KEYS)}"
            )
        code = r.get("code")
        if not isinstance(code, int) or isinstance(code, bool) or not 0 <= code <= 0xFFFF:
            raise OverridesError(f"{at}: 'code' must be an integer 0x0000..0xFFFF")
        at = f"{where}: row 0x{code:04X}"
        if code in out:
            raise OverridesError(f"{at}: listed twice")
        for key in ("name", "basis", "source"):
            if not isinstance(r.get(key), str) or not r[key].strip():
                raise OverridesError(f"{at}: '{key}' must be non-empty text")
        targets = r.get("targets")
        allowed_types = [d.value for d in DeviceType]
        if (
            not isinstance(targets, list)
            or not targets
            or any(t not in allowed_types for t in targets)
        ):
            raise OverridesError(f"{at}: 'targets' must be a non-empty list of {allowed_types}")
        roles = r.get("roles", [])
        if not isinstance(roles, list) or any(x not in _ROLE_CODES for x in roles):
            raise OverridesError(f"{at}: 'roles' must be a list of {sorted(_ROLE_CODES)}")
        direction = r.get("direction")
        if direction is not None and direction not in _DIRECTIONS:
            raise OverridesError(f"{at}: 'direction' must be one of {list(_DIRECTIONS)}")
        note = r.get("note")
        if note is not None and not isinstance(note, str):
            raise OverridesError(f"{at}: 'note' must be text")
        out[code] = Override(
            code,
            r["name"],
            _ordered({DeviceType(t) for t in targets}),
            frozenset(_ROLE_CODES[x] for x in roles),
            r["basis"],
            r["source"],
            note,
            direction,
        )
    return out


def load_overrides() -> dict[int, Override]:
    """The shipped overrides, checked (:class:`OverridesError` names what is wrong)."""
    import tomllib
    from importlib import resources

    text = resources.files("gbcs").joinpath(OVERRIDES_FILE).read_text(encoding="utf-8")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise OverridesError(f"{OVERRIDES_FILE}: {e}") from None
    return parse_overrides(data)


def _apply(uc: UseCase, ov: Override | None) -> UseCase:
    named = _text_targets(uc.target_text)
    base = set(uc.targets) if named else set()
    if ov is None:
        return replace(uc, targets=_ordered(base), targets_source="table" if named else "none")
    if (
        ov.name.split()[0].upper() not in uc.name.upper()
        and ov.name.upper() not in uc.title.upper()
    ):
        raise OverridesError(
            f"{OVERRIDES_FILE}: row 0x{uc.code:04X} is named {ov.name!r}, "
            f"but that code is {uc.label!r}"
        )
    return replace(
        uc,
        targets=_ordered(base | set(ov.targets)),
        targets_source="table+overrides" if named else "overrides",
        roles=uc.roles | ov.roles,
        direction=ov.direction or uc.direction,
    )


def _load(overrides: Mapping[int, Override]) -> dict[int, UseCase]:
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
    unknown = sorted(set(overrides) - set(out))
    if unknown:
        raise OverridesError(
            f"{OVERRIDES_FILE}: code(s) {', '.join(f'0x{c:04X}' for c in unknown)} "
            "are not in the registry"
        )
    return {code: _apply(uc, overrides.get(code)) for code, uc in out.items()}


class _Tables(NamedTuple):
    overrides: dict[int, Override]
    registry: dict[int, UseCase]
    by_name: dict[str, UseCase]


@cache
def _tables() -> _Tables:
    """The registry, built on first use (a decode that only names its message code
    never needs it: see :func:`message_code_name`)."""
    ov = load_overrides()
    registry = _load(ov)
    return _Tables(ov, registry, {uc.name.upper(): uc for uc in registry.values()})


@cache
def _names() -> dict[int, tuple[str, str]]:
    """``code -> (name, label)`` straight from the table: overrides never change a name
    or title, so these agree with the registry's use cases."""
    out = {}
    for row in ROWS:
        code, name, title = row[0], row[1], row[2]
        out[code] = (name, title if title.startswith(name) else f"{name} {title}")
    return out


def __getattr__(name: str) -> Any:
    # The module-level tables of earlier versions, now built on first use.
    if name in ("_OVERRIDES", "_REGISTRY", "_BY_NAME"):
        return _tables()[("_OVERRIDES", "_REGISTRY", "_BY_NAME").index(name)]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def lookup(code: int) -> UseCase | None:
    """The use case of a message code, or ``None`` for an unknown code."""
    return _tables().registry.get(code)


def by_name(name: str) -> UseCase | None:
    """Look a use case up by its name (``"ECS17b"``, case-insensitive)."""
    return _tables().by_name.get(name.upper())


def all_use_cases() -> tuple[UseCase, ...]:
    """Every registered message code, in code order."""
    registry = _tables().registry
    return tuple(registry[c] for c in sorted(registry))


def overrides() -> Mapping[int, Override]:
    """The rows of the overrides file, by message code."""
    return _tables().overrides


def use_case_name(code: int) -> str | None:
    """The use case name of a message code (``"ECS17b"``), or ``None`` when unregistered;
    the same as ``lookup(code).name`` without building the registry."""
    entry = _names().get(code)
    return entry[0] if entry else None


def message_code_name(code: int) -> str:
    """A readable name for any code (``"unknown message code 0x1234"`` when unregistered)."""
    entry = _names().get(code)
    return entry[1] if entry else f"unknown message code 0x{code:04X}"
