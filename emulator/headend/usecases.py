"""The use cases a head-end can send, built from typed arguments, and their answers.

Each :class:`CatalogEntry` knows its message code (from :func:`gbcs.usecases.by_name`),
the device types it targets, the role that normally sends it, its parameters, how to
build the command payload from typed arguments and a :class:`BuildContext` (counter,
originator, recipient: DLMS invoke ids and protection parameters depend on them), and
how to turn the verified (and decrypted) response into a plain dict of named values.

The *typed* use cases (:data:`CATALOG`) are descriptions like every other
(``catalogue/descriptions/typed.toml``, compiled by :mod:`.catalogue.described`), with
small hooks (:mod:`.catalogue.hooks`) for what needs judgement: a switching schedule, a
log range, a register collection. Their payloads follow the DCC RTDS 4.5.0 commands;
values in the result dicts are JSON-friendly: ints, floats, strings, booleans, None,
lists and dicts; date-times are ISO 8601 text (None when the device reports "not
specified"); octet strings are upper-case hex. Every DLMS result dict has ``ok`` (every
item succeeded) and, when an item failed, ``errors`` (``{item: "result-name (code)"}``).

Arguments may be given typed (``datetime``, :class:`~devices.behaviours.maxdemand.SwitchTime`,
``bytes``, ``int``, ``bool``) or as text as a user types it (``"17:00"``,
``"2026-01-01T00:00Z"``, hex, ``"yes"``); unknown use cases, unknown arguments and bad
values raise :class:`UseCaseError` with a message meant for that user.
"""

from __future__ import annotations

from collections.abc import Mapping

from gbcs.usecases import by_name

from .catalogue.described import described_entry, typed_descriptions
from .catalogue.entry import (
    BuildContext,
    CatalogEntry,
    Param,
    Prefetch,
    ResponseView,
    UseCaseError,
    ValueDoc,
)

__all__ = [
    "CATALOG",
    "BuildContext",
    "CatalogEntry",
    "Param",
    "Prefetch",
    "ResponseView",
    "UseCaseError",
    "ValueDoc",
    "all_names",
    "get",
    "is_typed",
    "names",
]


CATALOG: Mapping[str, CatalogEntry] = {
    key: described_entry(desc) for key, desc in typed_descriptions().items()
}
"""Every typed use case (``descriptions/typed.toml``) by upper-case name."""


_GENERIC: dict[str, CatalogEntry] = {}
"""Structural entries made so far, by upper-case catalogue name (see :func:`get`)."""


def get(name: str) -> CatalogEntry:
    """The catalog entry of ``name`` (case-insensitive): a typed entry of :data:`CATALOG`,
    else a described entry (named parameters from :mod:`.catalogue.described`), else, for
    any other command use case of the GBCS registry (by name, ``NAME@0xCODE``
    or ``0xCODE``), its structural entry (one ``args`` parameter, see
    :mod:`.catalogue.generic`); :class:`UseCaseError` otherwise."""
    entry = CATALOG.get(name.strip().upper()) if isinstance(name, str) else None
    if entry is not None:
        return entry
    if isinstance(name, str):
        from .catalogue.generic import generic_entry, generic_name, resolve

        uc = resolve(name)
        if uc is not None:
            key = generic_name(uc).upper()
            typed = CATALOG.get(key)
            if typed is not None:  # a typed use case named by its code
                return typed
            if key not in _GENERIC:
                from .catalogue.described import described_entry, descriptions

                desc = descriptions().get(key)
                _GENERIC[key] = generic_entry(uc) if desc is None else described_entry(desc)
            return _GENERIC[key]
        if by_name(name.strip()) is not None:
            raise UseCaseError(
                f"{name.strip()} is not a command use case a head-end sends "
                "(an alert or HAN-only message)"
            )
    raise UseCaseError(
        f"unknown use case {name!r}; the head-end builds: {', '.join(names())} (typed) and "
        "every other GBCS command use case from structural arguments (`gbcs-emu send` "
        "lists them)"
    )


def names() -> tuple[str, ...]:
    """Names of the typed entries (:data:`CATALOG`), in catalog order."""
    return tuple(e.name for e in CATALOG.values())


def all_names() -> tuple[str, ...]:
    """Every use case the head-end builds: the typed entries, then the other command use
    cases of the registry (structural arguments) in message-code order."""
    from .catalogue.generic import command_use_cases, generic_name

    typed = {e.message_code for e in CATALOG.values()}
    rest = sorted((uc for uc in command_use_cases() if uc.code not in typed), key=lambda u: u.code)
    return names() + tuple(generic_name(uc) for uc in rest)


def is_typed(name: str) -> bool:
    """Whether ``name`` has typed parameters (a :data:`CATALOG` entry)."""
    return isinstance(name, str) and name.strip().upper() in CATALOG
