"""How one SRV variant becomes GBCS: its typed body, and per device type a plan (sans-IO).

A :class:`SrvRoute` names the SRV variant, the DUIS 5.4 body element it carries, a parser
from that element to the SRV's typed body (a frozen dataclass whose fields follow the
XSD), and, for each emulated device type it targets, a *planner*: a function from a
:class:`PlanInput` (the typed body, the request, the device type) to a :class:`Plan` —
the head-end catalogue use case to build and its arguments, who originates the GBCS
(the user, or the DCC itself), and, for a DSP-held future-dated request, when the DCC
sends it. :mod:`emulator.duis.transform` does the rest (header, counter, pre-command,
signature or MAC), the same way for every SRV.

A parser or planner that cannot go on raises :class:`NotTransformed` with the reason and,
where DUIS names the failure, its response code. The route modules
(``routes_*.py``) hold the SRVs by group; :func:`all_routes` collects them.

The small XML readers below (:func:`child`, :func:`text`, :func:`integer`, ...) take
elements of the DUIS namespace by local name and raise :class:`NotTransformed` with the
element's path on anything missing or malformed.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from lxml import etree

from emulator.duis import xmlsig

if TYPE_CHECKING:
    from emulator.duis import tables
    from emulator.duis.bodies import Body
    from emulator.duis.model import Request

__all__ = [
    "ACB",
    "TRANSITIONAL_COS",
    "USER",
    "ZCL_EPOCH",
    "NotTransformed",
    "Plan",
    "PlanInput",
    "Planner",
    "SrvRoute",
    "all_not_yet",
    "all_routes",
    "body_parser",
    "boolean",
    "bounded",
    "child",
    "children",
    "cosem_text",
    "date_time",
    "dcc_issuer_event_id",
    "dsp_held",
    "empty_body",
    "fixed",
    "integer",
    "local",
    "only",
    "optional",
    "plain",
    "required",
    "text",
    "typed_body",
    "zcl_utc_time",
]

SR = "{" + xmlsig.SR_NS + "}"

#: Who originates the GBCS: the DUIS user (its RequestID's originator and counter) ...
USER = "user"
#: ... the Access Control Broker (the DCC, with its own counter) ...
ACB = "acb"
#: ... or the Transitional Change of Supplier party (the DCC, with its own counter).
TRANSITIONAL_COS = "transitional-cos"


class NotTransformed(Exception):
    """A request this route does not turn into GBCS: ``reason`` is one line, and
    ``response_code`` the DUIS response code where DUIS names the failure (else None)."""

    def __init__(self, reason: str, response_code: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.response_code = response_code


@dataclass(frozen=True, slots=True)
class Plan:
    """What a request becomes, before its GBCS header is written."""

    #: The head-end catalogue entry to build (``usecases.get`` name, e.g. ``ECS17b`` or
    #: ``CS02b@0x0102`` where one name covers several message codes).
    use_case: str
    #: The catalogue arguments (typed values or text), checked by the entry.
    args: Mapping[str, Any] = field(default_factory=dict)
    #: :data:`USER`, :data:`ACB` or :data:`TRANSITIONAL_COS`.
    originator: str = USER
    #: For a request future-dated by the DSP (not the device): when the DCC sends it.
    send_at: datetime | None = None
    #: The use case as DUIS and RTDS name it, where it differs from ``use_case``.
    label: str | None = None
    #: For GBCS the DCC originates on a user's behalf: the user as the Supplementary
    #: Remote Party (its EUI and RequestID counter in the grouping header).
    supplementary: bool = False
    #: With ``supplementary``: the user's KA certificate (DER), for a user that is an
    #: Unknown Remote Party of the device (the device encrypts its response with it).
    supplementary_certificate: bytes | None = None
    #: Whether the DCC party signs GBCS it originates: None, as the use case's
    #: criticality says; False for the critical use cases the DCC sends MAC'd only,
    #: with a null signature (GBCS 13.3.3.1: accessControlBrokerByACB to a device other
    #: than a CHF; RTDS: CS02a, CS02f).
    dcc_signs: bool | None = None


#: ESME variants as the DCC's inventory records a meter's (DUIS 5.4 ``ESMEVariant``): the
#: first letter is the metering (SMETS2: A single element, B twin element, C polyphase),
#: the others its load-control options.
ESME_VARIANTS: tuple[str, ...] = (
    "A",
    "B",
    "C",
    "AD",
    "BD",
    "CD",
    "ADE",
    "BDE",
    "CDE",
    "ADF",
    "BDF",
    "CDF",
    "ADEF",
    "BDEF",
    "CDEF",
    "ADG",
    "ADEG",
    "AF",
    "BF",
    "CF",
    "AEF",
    "BEF",
    "CEF",
    "AG",
)


@dataclass(frozen=True, slots=True)
class PlanInput:
    """What a planner sees: the request and what the DCC knows or chooses besides (its
    inventory's ESME variant, its user registry's role of the requesting user, the
    Customer Identification Number it picked), where given."""

    body: Any
    request: Request
    srv: tables.Srv
    device: str
    now: datetime
    esme_variant: str | None = None
    user_role: str | None = None
    #: The Customer Identification Number the DCC chose for SRV 9.1 (four digits).
    cin: str | None = None

    def polyphase(self, what: str) -> bool:
        """Whether the target ESME is polyphase; :class:`NotTransformed` naming ``what``
        (the use cases to choose between) when the variant is not given."""
        if self.esme_variant is None:
            raise NotTransformed(
                f"{what}: the ESME's variant decides (A single element, B twin element or "
                "C polyphase, DUIS ESMEVariant), which the DCC knows from its inventory: "
                "give it"
            )
        return self.esme_variant.startswith("C")


Planner = Callable[[PlanInput], Plan]


@dataclass(frozen=True, slots=True)
class SrvRoute:
    """One SRV variant: its body element, its typed-body parser, a planner per device."""

    variant: str
    body: str
    parse: Callable[[etree._Element], Any]
    planners: Mapping[str, Planner]

    def __post_init__(self) -> None:
        object.__setattr__(self, "planners", MappingProxyType(dict(self.planners)))


# --- fixed routes: SRVs whose body says nothing but an optional DSP-held execution ----


@dataclass(frozen=True, slots=True)
class EmptyBody:
    """A body with no fields but, where the SRV may be future-dated by the DSP, an
    ``ExecutionDateTime``."""

    execution_date_time: datetime | None = None


def empty_body(el: etree._Element) -> EmptyBody:
    """Parse a body that may hold only ``ExecutionDateTime``."""
    allowed = {"ExecutionDateTime"}
    extra = [local(c) for c in children(el) if local(c) not in allowed]
    if extra:
        raise NotTransformed(f"{local(el)}: unexpected {', '.join(extra)}")
    if (el.text or "").strip():
        raise NotTransformed(f"{local(el)}: expected no text")
    return EmptyBody(optional(el, "ExecutionDateTime", date_time))


def fixed(use_case: str, *, originator: str = USER, label: str | None = None) -> Planner:
    """A planner that always builds ``use_case`` with no arguments, held by the DSP until
    the body's ``ExecutionDateTime`` if it has one."""

    def plan(p: PlanInput) -> Plan:
        return Plan(use_case, originator=originator, send_at=dsp_held(p), label=label)

    return plan


def dsp_held(p: PlanInput) -> datetime | None:
    """The body's ``ExecutionDateTime`` for an SRV the DSP future-dates (the DCC holds the
    request and sends it then, at once if the time has passed); :class:`NotTransformed`
    for an SRV that cannot be
    future-dated, or one the device future-dates (its planner puts the time into the
    GBCS instead)."""
    when = getattr(p.body, "execution_date_time", None)
    if when is None:
        return None
    pattern = p.srv.future_dated
    if pattern == "DSP":
        return when  # one already past is sent at once
    if pattern is None:
        raise NotTransformed(f"SRV {p.srv.variant} cannot be future-dated (ExecutionDateTime)")
    raise NotTransformed(
        f"SRV {p.srv.variant} is future-dated by the device: its planner must carry "
        "ExecutionDateTime into the GBCS"
    )


def plain(variant: str, body: str, planners: Mapping[str, str | Planner]) -> SrvRoute:
    """A route with an :class:`EmptyBody`; a planner given as a name is :func:`fixed`."""
    made = {d: fixed(p) if isinstance(p, str) else p for d, p in planners.items()}
    return SrvRoute(variant, body, empty_body, made)


# --- XML readers -----------------------------------------------------------------------


def local(el: etree._Element) -> str:
    """The element's local name."""
    return etree.QName(el).localname


def children(el: etree._Element, name: str | None = None) -> list[etree._Element]:
    """The element children (of local name ``name``, if given), in document order."""
    kids = [c for c in el if isinstance(c.tag, str)]
    return kids if name is None else [c for c in kids if local(c) == name]


def child(el: etree._Element, name: str) -> etree._Element:
    """The one child ``name``; :class:`NotTransformed` if it is missing."""
    found = children(el, name)
    if not found:
        raise NotTransformed(f"{local(el)}: no {name}")
    return found[0]


def text(el: etree._Element, name: str | None = None) -> str:
    """The stripped text of ``el`` (or of its child ``name``)."""
    target = el if name is None else child(el, name)
    if children(target):
        raise NotTransformed(f"{local(target)}: expected text, found elements")
    return (target.text or "").strip()


def optional(el: etree._Element, name: str, convert: Callable[[str], Any] = str) -> Any:
    """``convert`` of the child ``name``'s text, or None when there is no such child."""
    found = children(el, name)
    if not found:
        return None
    value = text(found[0])
    try:
        return convert(value)
    except NotTransformed:
        raise
    except (ValueError, TypeError, OverflowError) as e:
        raise NotTransformed(f"{local(el)}/{name}: {e}") from None


def integer(value: str) -> int:
    """An xs:integer (and its restrictions) as written."""
    if not re.fullmatch(r"[+-]?\d+", value.strip()):
        raise ValueError(f"not an integer: {value!r}")
    return int(value)


def boolean(value: str) -> bool:
    """An xs:boolean: ``true``/``1`` or ``false``/``0``."""
    v = value.strip()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise ValueError(f"not a boolean: {value!r}")


def date_time(value: str) -> datetime:
    """An xs:dateTime; one without a zone is taken as UTC (DUIS times are UTC)."""
    v = value.strip()
    if v.endswith("Z"):
        v = v[:-1] + "+00:00"
    t = datetime.fromisoformat(v)
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def only(el: etree._Element, allowed: Iterable[str], *, repeats: Iterable[str] = ()) -> None:
    """Refuse children other than ``allowed``, a second one of those not in ``repeats``,
    and stray text (the XSD's sequence, read by name)."""
    allowed, repeats = set(allowed), set(repeats)
    names = [local(c) for c in children(el)]
    extra = [n for n in names if n not in allowed]
    if extra:
        raise NotTransformed(f"{local(el)}: unexpected {', '.join(extra)}")
    twice = sorted({n for n in names if names.count(n) > 1 and n not in repeats})
    if twice:
        raise NotTransformed(f"{local(el)}: more than one {', '.join(twice)}")
    if (el.text or "").strip():
        raise NotTransformed(f"{local(el)}: unexpected text")


def bounded(low: int, high: int) -> Callable[[str], int]:
    """A converter (for :func:`required`, :func:`optional`) of an XSD integer restricted
    to ``low..high``."""

    def convert(value: str) -> int:
        n = integer(value)
        if not low <= n <= high:
            raise ValueError(f"{n} is not in {low}..{high}")
        return n

    return convert


#: ZCL UTCTime counts whole seconds from here, in 32 bits (0xFFFFFFFF: invalid).
ZCL_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def zcl_utc_time(when: datetime) -> int:
    """``when`` as a ZCL UTCTime (seconds since 2000-01-01T00:00:00Z, unsigned 32-bit);
    :class:`NotTransformed` outside 2000-2136."""
    seconds = int((when.astimezone(UTC) - ZCL_EPOCH).total_seconds())
    if not 0 <= seconds <= 0xFFFF_FFFF:
        raise NotTransformed(f"{when.isoformat()} does not fit a ZCL UTCTime (2000-2136)")
    return seconds


def dcc_issuer_event_id(p: PlanInput) -> int:
    """The Issuer Event ID the DCC writes into a GBZ command when the request gives none:
    ZigBee Smart Energy describes it as "a unique number managed by upstream servers or a
    UTC based time stamp (UTCTime) identifying when the Publish command was issued; newer
    information has a larger value", so the DCC writes the ZCL UTCTime of its build time
    (RTDS: 0x1C374A80, 2015-01-01T00:00:00Z)."""
    return zcl_utc_time(p.now)


def cosem_text(when: datetime) -> str:
    """A UTC instant as the catalogue's COSEM date-time text (to the hundredth; deviation
    and weekday not specified, which GBCS reads as UTC)."""
    t = when.astimezone(UTC)
    return f"{t:%Y-%m-%dT%H:%M:%S}.{t.microsecond // 10_000:02d}"


def required(el: etree._Element, name: str, convert: Callable[[str], Any] = str) -> Any:
    """``convert`` of the child ``name``'s text; :class:`NotTransformed` if missing."""
    value = optional(el, name, convert)
    if value is None:
        raise NotTransformed(f"{local(el)}: no {name}")
    return value


# --- the registry ----------------------------------------------------------------------

#: The route modules, in the order their routes are collected.
_MODULES = (
    "emulator.duis.routes_reads",
    "emulator.duis.routes_tariff",
    "emulator.duis.routes_logs",
    "emulator.duis.routes_config",
    "emulator.duis.routes_supply",
    "emulator.duis.routes_security",
)


def typed_body(body: Body) -> Any:
    """The typed view of ``body``: the one :mod:`emulator.duis.bodies` models, else the
    typed body of the SRV route that carries the element, else None. A body its route
    cannot read raises :class:`~emulator.duis.bodies.DuisModelError` with the reason."""
    from emulator.duis.bodies import DuisModelError

    typed = body.typed()
    if typed is not None:
        return typed
    parse = body_parser(body.name)
    if parse is None:
        return None
    try:
        return parse(body.element())
    except NotTransformed as e:
        raise DuisModelError(e.reason) from None


def body_parser(element: str) -> Callable[[etree._Element], Any] | None:
    """The typed-body parser of the route whose body is ``element`` (a local name)."""
    return _parsers().get(element)


@functools.cache
def _parsers() -> Mapping[str, Callable[[etree._Element], Any]]:
    """Body element -> parser: the routes', then each module's ``TYPED_BODIES`` (bodies
    modelled for SRVs not transformed yet)."""
    import importlib

    parsers = {r.body: r.parse for r in all_routes().values()}
    for name in _MODULES:
        for element, parse in getattr(importlib.import_module(name), "TYPED_BODIES", {}).items():
            if element in parsers:
                raise RuntimeError(f"{name}: the body {element} is typed twice")
            parsers[element] = parse
    return MappingProxyType(parsers)


def all_not_yet() -> Mapping[tuple[str, str], str]:
    """(SRV variant, device type) pairs DUIS allows that no route transforms yet, with
    why (each module's optional ``NOT_YET``)."""
    import importlib

    out: dict[tuple[str, str], str] = {}
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue
            raise
        out.update(getattr(module, "NOT_YET", {}))
    return MappingProxyType(out)


def all_routes() -> Mapping[str, SrvRoute]:
    """Every routed SRV variant, by variant: each module's ``ROUTES``, and its
    ``MORE_PLANNERS`` ({variant: {device type: planner}}) added to another module's route
    for device types it lacks. A variant routed twice, or a device planned twice, is an
    error."""
    import importlib

    out: dict[str, SrvRoute] = {}
    extra: list[tuple[str, Mapping[str, Mapping[str, Planner]]]] = []
    for name in _MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:
                continue  # a group not written yet
            raise
        for route in module.ROUTES:
            if route.variant in out:
                raise RuntimeError(f"SRV {route.variant} is routed twice ({name})")
            out[route.variant] = route
        extra.append((name, getattr(module, "MORE_PLANNERS", {})))
    for name, more in extra:
        for variant, planners in more.items():
            route = out.get(variant)
            if route is None:
                raise RuntimeError(f"{name}: planners for SRV {variant}, which has no route")
            twice = set(planners) & set(route.planners)
            if twice:
                raise RuntimeError(f"{name}: SRV {variant} already has planners for {twice}")
            out[variant] = SrvRoute(
                route.variant, route.body, route.parse, {**route.planners, **planners}
            )
    return MappingProxyType(out)
