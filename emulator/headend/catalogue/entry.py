"""The shape of a head-end catalogue entry, and the converters its parameters use.

:class:`CatalogEntry` is what every driver sends through (``HeadEnd.request``,
``gbcs-emu send``, bench scenarios, the pytest plugin); hand-written entries
(:mod:`emulator.headend.usecases`), described ones (:mod:`.described`) and structural
ones (:mod:`.generic`) are all made of it. Kept apart from those modules so that none of
them imports another in a circle.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from devices.behaviours.maxdemand import (
    SELECTOR_END,
    SELECTOR_START,
    MaxDemandError,
    ScheduleEntry,
    SwitchTime,
)
from devices.chf import HAN_DEVICE_TYPES
from gbcs.axdr import Data, DataType
from gbcs.codec import GbcsMessage
from gbcs.errors import GbcsError
from gbcs.payload import Payload
from gbcs.usecases import DeviceType, UseCase
from keys.roles import RemotePartyRole

from ..identity import HeadEndError, IdentityError, parse_eui

R = RemotePartyRole
EPOCH_2000 = datetime(2000, 1, 1, tzinfo=UTC)
_U32_MAX = 0xFFFF_FFFF


class UseCaseError(HeadEndError, ValueError):
    """An unknown use case, an unknown argument or an argument with a bad value; or a
    response whose payload does not have the shape the use case expects."""


# ------------------------------------------------------------------------- contexts


@dataclass(frozen=True, slots=True)
class BuildContext:
    """What a builder needs besides the arguments."""

    counter: int
    originator: bytes
    recipient: bytes
    role: RemotePartyRole
    now: datetime


@dataclass(frozen=True, slots=True)
class ResponseView:
    """A verified response as a decoder sees it.

    ``plaintexts`` holds the decoded plaintext of each encrypted part, in payload order:
    A-XDR :class:`~gbcs.axdr.Data` for DLMS, the ZCL payload for GBZ components.
    ``args`` are the request's converted arguments.
    """

    message: GbcsMessage
    plaintexts: tuple[Any, ...] = ()
    args: Mapping[str, Any] = field(default_factory=dict)


Builder = Callable[[Mapping[str, Any], BuildContext], Payload]
Decoder = Callable[[ResponseView], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Param:
    """One argument of a use case: its name, how text or typed values are converted,
    whether it is required and its default (None: the builder decides)."""

    name: str
    kind: str
    help: str
    convert: Callable[[Any], Any]
    required: bool = False
    default: Any = None


@dataclass(frozen=True, slots=True)
class Prefetch:
    """Another use case the client runs first when argument ``flag`` is true; ``select``
    picks from its values what goes into argument ``into`` (ECS37 reads its schedule
    back with ECS18b)."""

    use_case: str
    flag: str
    into: str
    select: Callable[[Mapping[str, Any]], Any]


@dataclass(frozen=True, slots=True)
class ValueDoc:
    """One named response value, documented: its name, its kind (``number``, ``text``,
    ``enum``, ``datetime``, ``octets``, ``raw``, or a richer shape such as ``list``),
    its unit (None when it has none; ``"from the scaler-unit"`` when the device's
    scaler-unit says it, reported as ``NAME_unit``) and what it means."""

    name: str
    kind: str
    unit: str | None
    help: str


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    """One buildable use case."""

    name: str
    message_code: int
    title: str
    targets: tuple[DeviceType, ...]
    default_role: RemotePartyRole
    critical: bool
    params: tuple[Param, ...]
    build: Builder
    decode: Decoder
    prefetch: Prefetch | None = None
    #: Roles that differ from ``default_role`` for some target device types.
    target_roles: Mapping[DeviceType, RemotePartyRole] = field(default_factory=dict)
    #: The named response values (besides ``ok`` and ``errors``); empty for structural
    #: entries, whose response is the generic decode.
    value_docs: tuple[ValueDoc, ...] = ()

    @classmethod
    def of(
        cls,
        uc: UseCase,
        *,
        default_role: RemotePartyRole,
        params: tuple[Param, ...],
        build: Builder,
        decode: Decoder,
        name: str | None = None,
        prefetch: Prefetch | None = None,
        target_roles: Mapping[DeviceType, RemotePartyRole] | None = None,
        value_docs: tuple[ValueDoc, ...] = (),
    ) -> CatalogEntry:
        """An entry for registry use case ``uc``: its code, title, targets and
        criticality come from the registry."""
        return cls(
            name=name or uc.name,
            message_code=uc.code,
            title=uc.title,
            targets=uc.targets,
            default_role=default_role,
            critical=bool(uc.critical),
            params=params,
            build=build,
            decode=decode,
            prefetch=prefetch,
            target_roles=dict(target_roles or {}),
            value_docs=value_docs,
        )

    def role_for(self, device_type: DeviceType | str | None = None) -> RemotePartyRole:
        """The role that normally sends this use case to ``device_type`` (the default
        role when the type is unknown)."""
        if device_type is None:
            return self.default_role
        try:
            dt = DeviceType(device_type.upper() if isinstance(device_type, str) else device_type)
        except ValueError:
            known = ", ".join(t.value for t in DeviceType)
            raise UseCaseError(f"unknown device type {device_type!r}; expected {known}") from None
        return self.target_roles.get(dt, self.default_role)

    def parse_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """Convert and check ``args``; defaults filled in (None where the builder decides)."""
        known = {p.name: p for p in self.params}
        unknown = sorted(set(args) - set(known))
        if unknown:
            takes = ", ".join(known) or "no arguments"
            raise UseCaseError(
                f"{self.name} does not take {', '.join(repr(u) for u in unknown)} "
                f"(it takes {takes})"
            )
        out: dict[str, Any] = {}
        for p in self.params:
            raw = args.get(p.name)
            if raw is None:
                if p.required:
                    raise UseCaseError(f"{self.name} needs {p.name}: {p.help}")
                out[p.name] = p.default
                continue
            out[p.name] = self.convert_arg(p.name, raw)
        return out

    def convert_arg(self, name: str, value: Any) -> Any:
        """One argument converted (:class:`UseCaseError` naming it when it is bad)."""
        p = next((p for p in self.params if p.name == name), None)
        if p is None:
            raise UseCaseError(f"{self.name} does not take {name!r}")
        try:
            return p.convert(value)
        except UseCaseError as e:
            raise UseCaseError(f"{self.name} {p.name}: {e}") from None
        except (ValueError, TypeError, GbcsError, MaxDemandError) as e:
            raise UseCaseError(f"{self.name} {p.name}={value!r}: {e}") from None

    def payload(self, args: Mapping[str, Any], ctx: BuildContext) -> Payload:
        """The command payload: :meth:`parse_args` then :meth:`build_parsed`."""
        return self.build_parsed(self.parse_args(args), ctx)

    def build_parsed(self, parsed: Mapping[str, Any], ctx: BuildContext) -> Payload:
        """The builder on arguments :meth:`parse_args` returned (errors as
        :class:`UseCaseError`)."""
        try:
            return self.build(parsed, ctx)
        except UseCaseError:
            raise
        except (ValueError, TypeError, GbcsError, MaxDemandError) as e:
            raise UseCaseError(f"{self.name}: cannot build the command: {e}") from None

    def values(self, view: ResponseView) -> dict[str, Any]:
        """The decoded values; :class:`UseCaseError` when the response has another shape."""
        try:
            return self.decode(view)
        except UseCaseError:
            raise
        except (
            ValueError,
            TypeError,
            AttributeError,
            IndexError,
            KeyError,
            GbcsError,
            MaxDemandError,
        ) as e:
            raise UseCaseError(
                f"{self.name} response does not have the expected shape: {type(e).__name__}: {e}"
            ) from None

    def describe(self) -> str:
        """``ECS17b Read ESME Energy Registers (Import Energy) [ESME; supplier]``."""
        targets = "/".join(t.value for t in self.targets)
        return f"{self.name} {self.title} [{targets}; {self.default_role.cli_name}]"


# ----------------------------------------------------------------------- converters


def _text(v: Any) -> str | None:
    return v.strip() if isinstance(v, str) else None


def to_int(v: Any) -> int:
    if isinstance(v, bool):
        raise UseCaseError(f"expected an integer, got {v!r}")
    if isinstance(v, int):
        return v
    t = _text(v)
    if t is None:
        raise UseCaseError(f"expected an integer, got {v!r}")
    try:
        return int(t.replace("_", ""), 0)
    except ValueError:
        raise UseCaseError(f"expected an integer, got {v!r}") from None


def to_bool(v: Any) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, int) and v in (0, 1):
        return bool(v)
    t = _text(v)
    if t is not None:
        low = t.lower()
        if low in ("1", "true", "yes", "y", "on"):
            return True
        if low in ("0", "false", "no", "n", "off"):
            return False
    raise UseCaseError(f"expected true or false, got {v!r}")


def to_time(v: Any) -> SwitchTime:
    if isinstance(v, SwitchTime):
        return v
    if isinstance(v, str):
        try:
            return SwitchTime.parse(v)
        except MaxDemandError as e:
            raise UseCaseError(f"{e} (expected HH:MM, HH:MM:SS or HH:MM:SS.hh, UTC)") from None
    raise UseCaseError(f"expected a time of day HH:MM (UTC), got {v!r}")


def to_datetime(v: Any) -> datetime:
    if isinstance(v, datetime):
        return v if v.tzinfo is not None else v.replace(tzinfo=UTC)
    t = _text(v)
    if t is None:
        raise UseCaseError(f"expected a date-time (ISO 8601), got {v!r}")
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    try:
        d = datetime.fromisoformat(t)
    except ValueError:
        raise UseCaseError(
            f"expected a date-time such as 2026-01-01T17:00:00Z, got {v!r}"
        ) from None
    return d if d.tzinfo is not None else d.replace(tzinfo=UTC)


def to_bytes(v: Any, size: int | None = None) -> bytes:
    if isinstance(v, bytes | bytearray | memoryview):
        b = bytes(v)
    else:
        t = _text(v)
        if t is None:
            raise UseCaseError(f"expected bytes or hex text, got {v!r}")
        t = t.removeprefix("0x").removeprefix("0X")
        for sep in (" ", ":", "-", "_"):
            t = t.replace(sep, "")
        try:
            b = bytes.fromhex(t)
        except ValueError:
            raise UseCaseError(f"expected hex text, got {v!r}") from None
    if size is not None and len(b) != size:
        raise UseCaseError(f"expected {size} bytes, got {len(b)}")
    return b


def to_eui(v: Any) -> bytes:
    try:
        return parse_eui(v, "EUI-64")
    except IdentityError as e:
        raise UseCaseError(str(e)) from None


def _choices(options: Sequence[str]) -> Callable[[Any], tuple[str, ...]]:
    def convert(v: Any) -> tuple[str, ...]:
        items = [x.strip() for x in v.split(",")] if isinstance(v, str) else list(v)
        out = []
        for item in items:
            if not isinstance(item, str) or item.strip().lower() not in options:
                raise UseCaseError(f"{item!r} is not one of {', '.join(options)}")
            name = item.strip().lower()
            if name not in out:
                out.append(name)
        if not out:
            raise UseCaseError(f"give at least one of {', '.join(options)}")
        return tuple(out)

    return convert


def to_schedule(v: Any) -> tuple[ScheduleEntry, ...]:
    """Schedule entries from ScheduleEntry objects, their dicts (ECS18b's ``schedule``
    value) or COSEM Data (an array or a sequence of entry structures)."""
    if isinstance(v, Data):
        items: Sequence[Any] = v.value if v.tag == DataType.ARRAY else (v,)
    elif isinstance(v, Sequence) and not isinstance(v, str | bytes):
        items = v
    else:
        raise UseCaseError(f"expected the schedule entries (e.g. ECS18b's schedule), got {v!r}")
    out = []
    for item in items:
        if isinstance(item, ScheduleEntry):
            out.append(item)
        elif isinstance(item, Mapping):
            out.append(ScheduleEntry.from_dict(item))
        elif isinstance(item, Data):
            out.append(ScheduleEntry.from_data(item))
        else:
            raise UseCaseError(f"not a schedule entry: {item!r}")
    selectors = sorted(e.script_selector for e in out)
    if selectors != [SELECTOR_START, SELECTOR_END]:
        raise UseCaseError(
            "the schedule needs exactly one start (selector 1) and one end (selector 2) "
            f"entry, got selectors {selectors}"
        )
    return tuple(out)


def _device_type(v: Any) -> int:
    names = {n.lower(): k for k, n in HAN_DEVICE_TYPES.items()}
    if isinstance(v, str) and v.strip().lower() in names:
        return names[v.strip().lower()]
    n = to_int(v)
    if not 0 <= n <= 255:
        raise UseCaseError(f"device type {n} out of range 0..255")
    return n
