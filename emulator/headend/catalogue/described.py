"""Use cases described as data: named, typed parameters and named response values.

A :class:`Description` is one use case of the registry written declaratively (the
catalogue is data, as zigpy's clusters are):

* ``template``: the structural arguments of the command (:mod:`.generic`'s ``args``,
  as ``gbcs-emu usecase explain`` prints them) with its fixed parts: objects, clusters,
  commands, attribute lists;
* ``params``: named, typed parameters, each bound to a path in the template
  (``items[0].value``, ``components[0].body.records[0].value.value``), with its kind
  (:data:`PARAM_KINDS`), default, help and validation;
* ``values``: named response values, each a path in the generic response decode
  (:mod:`.generic`) with an optional unit and scaling (a fixed factor, or the COSEM
  scaler-unit structure at another path).

What needs judgement goes into small, typed hooks (:mod:`.hooks`), named by optional
keys: ``hook`` (a fill step for parameters without a path, a decode post-step for values
without a path) and a parameter's ``convert`` (a converter replacing its kind's). Other
optional keys: ``structural = false`` (no structural ``args`` parameter: the typed use
cases of ``typed.toml``, :func:`typed_descriptions`), ``role`` and ``target_roles``,
``prefetch`` and ``results`` (the DLMS items by name, so ``errors`` names them).

:func:`described_entry` compiles a description onto the structural builder and the
generic decoder, giving a :class:`~emulator.headend.usecases.CatalogEntry` every driver
reaches through :func:`emulator.headend.usecases.get`. :func:`explain_named` recovers the
named arguments from structural ones when they match the template's fixed parts.

The descriptions themselves live in ``descriptions/*.toml`` next to this module (one
file per group of use cases) and are checked when they are loaded
(:func:`descriptions`): every error names the file, the use case and the key, and a use
case described twice is an error.
"""

from __future__ import annotations

import copy
import dataclasses
import functools
import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gbcs.dlms import AccessResponse
from gbcs.errors import GbcsError
from gbcs.usecases import DeviceType, UseCase
from keys.roles import RemotePartyRole

from .entry import (
    BuildContext,
    CatalogEntry,
    Param,
    Prefetch,
    ResponseView,
    UseCaseError,
    ValueDoc,
    to_eui,
)
from .hooks import CONVERTERS, HOOKS, Hook, named_results

__all__ = [
    "DESCRIPTIONS_DIR",
    "PARAM_KINDS",
    "VALUE_KINDS",
    "Description",
    "DescriptionError",
    "NamedParam",
    "NamedValue",
    "all_descriptions",
    "described_entry",
    "descriptions",
    "explain_named",
    "get_path",
    "load_description_dir",
    "load_descriptions",
    "parse_path",
    "typed_descriptions",
]

DESCRIPTIONS_DIR = Path(__file__).with_name("descriptions")

PARAM_KINDS: Mapping[str, str] = {
    "int": "an integer within [min, max]",
    "bool": "true or false",
    "enum": "a name from the parameter's choices table",
    "text": "text, optionally within [min_length, max_length] and matching pattern",
    "eui": "an EUI-64, 16 hex digits",
    "datetime": "a UTC instant YYYY-MM-DDThh:mm:ssZ",
    "cosem_datetime": "a COSEM date-time as text (YYYY-MM-DDThh:mm:ss.cc, '*' where not "
    "specified, optional ±hh:mm offset)",
    "octets": "opaque octets as hex, within [min_length, max_length] octets (only where "
    "GBCS itself carries opaque octets)",
    "records": "a list of records (tables), each as the structural arguments hold it",
}
VALUE_KINDS: Mapping[str, str] = {
    "number": "a number, scaled by scale and/or the scaler of scaler_unit",
    "text": "character data (an octet-string as text)",
    "enum": "a name from the value's choices table (the number when it has no name)",
    "raw": "the decoded value as it is",
    "datetime": "a COSEM date-time as ISO 8601 text (null when not fully specified)",
    "octets": "opaque octets as upper-case hex",
}
_PARAM_KEYS = frozenset(
    {"path", "kind", "help", "default", "required", "min", "max", "choices", "pattern"}
    | {"min_length", "max_length", "example", "convert", "also", "header"}
    | {"optional", "list", "min_items", "max_items"}
)
#: Where a ``header`` parameter takes its value from when it is not given.
HEADER_FIELDS = ("originator", "recipient", "counter")
_VALUE_KEYS = frozenset({"path", "kind", "help", "unit", "scale", "scaler_unit", "choices"})
_DESC_KEYS = frozenset({"help", "template", "params", "values"}) | {
    "hook",
    "structural",
    "role",
    "target_roles",
    "prefetch",
    "results",
}
_PREFETCH_KEYS = frozenset({"use_case", "flag", "into", "value"})
_DUMMY_COUNTER = 1

#: COSEM unit codes (IEC 62056-6-2) the emulated devices use.
_COSEM_UNITS = {7: "s", 13: "m3", 27: "W", 28: "VA", 29: "var", 30: "Wh", 31: "VAh"} | {
    32: "varh",
    33: "A",
    35: "V",
    44: "Hz",
}


class DescriptionError(ValueError):
    """A description that is not valid: the message names the use case and the key."""


# ------------------------------------------------------------------------- paths

_TOKEN = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|(\.)")


def parse_path(path: str) -> tuple[str | int, ...]:
    """``items[0].value`` -> ``("items", 0, "value")``; ValueError when malformed."""
    out: list[str | int] = []
    pos = 0
    expect_name = True
    while pos < len(path):
        m = _TOKEN.match(path, pos)
        if m is None:
            raise ValueError(f"bad path {path!r} at {path[pos:]!r}")
        name, index, dot = m.groups()
        if dot is not None:
            if expect_name:
                raise ValueError(f"bad path {path!r}: empty part")
            expect_name = True
        elif name is not None:
            if not expect_name:
                raise ValueError(f"bad path {path!r}: missing '.' before {name!r}")
            out.append(name)
            expect_name = False
        else:
            if not out:
                raise ValueError(f"bad path {path!r}: starts with an index")
            out.append(int(index))
        pos = m.end()
    if not out or expect_name:
        raise ValueError(f"bad path {path!r}")
    return tuple(out)


_MISSING = object()


def get_path(obj: Any, path: tuple[str | int, ...]) -> Any:
    """The value at ``path`` in ``obj``, or :data:`_MISSING`."""
    for key in path:
        if isinstance(key, int):
            if not isinstance(obj, list) or key >= len(obj):
                return _MISSING
        elif not isinstance(obj, Mapping) or key not in obj:
            return _MISSING
        obj = obj[key]
    return obj


def _set_path(obj: Any, path: tuple[str | int, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


# ------------------------------------------------------------------------- params


@dataclass(frozen=True, slots=True)
class NamedParam:
    """One named, typed parameter bound to ``path`` in the template."""

    name: str
    path: tuple[str | int, ...]
    kind: str
    help: str
    default: Any = None
    required: bool = False
    min: int | None = None
    max: int | None = None
    choices: Mapping[str, int] = field(default_factory=dict)
    pattern: str | None = None
    min_length: int | None = None
    max_length: int | None = None
    #: A valid value other than the template's (documentation and tests).
    example: Any = None
    #: The name of a converter in :data:`.hooks.CONVERTERS` that replaces the kind's
    #: conversion (``kind`` is then a label and ``help`` says what is allowed).
    converter: str | None = None
    #: More places the same value goes (GBCS repeats one request field in several
    #: objects or components: a read period, an execution time, an issuer event id).
    also: tuple[tuple[str | int, ...], ...] = ()
    #: ``originator`` / ``recipient`` / ``counter``: when not given, that field of the
    #: command's header (the system titles of a protected read are the header's EUIs; a
    #: credential replacement's authorising sequence number is its originator counter).
    header: str | None = None
    #: The field is left out of the request unless the parameter is given (an optional
    #: field of GBCS whose presence the sender chooses; the template does not hold it).
    optional: bool = False
    #: A list of values of ``kind`` (``min_items``..``max_items`` of them).
    is_list: bool = False
    min_items: int | None = None
    max_items: int | None = None

    @property
    def paths(self) -> tuple[tuple[str | int, ...], ...]:
        """Every place the value goes: ``path`` then ``also``."""
        return (self.path, *self.also) if self.path else ()

    def allowed(self) -> str:
        """What the parameter accepts, in words."""
        if not self.is_list:
            return self._one_allowed()
        lo = self.min_items or 0
        hi = "" if self.max_items is None else self.max_items
        return f"a list of {lo}..{hi} items, each {self._one_allowed()}"

    def _one_allowed(self) -> str:
        if self.converter is not None:
            return self.help
        if self.kind == "int":
            lo = "" if self.min is None else str(self.min)
            hi = "" if self.max is None else str(self.max)
            return f"an integer {lo}..{hi}".rstrip(".") if lo or hi else "an integer"
        if self.kind == "enum":
            return "one of " + ", ".join(self.choices)
        if self.kind in ("octets", "records"):
            what = "octets as hex" if self.kind == "octets" else "records"
            if self.min_length is not None or self.max_length is not None:
                lo, hi = self.min_length or 0, "" if self.max_length is None else self.max_length
                return f"{lo}..{hi} {what}"
            return what
        if self.kind == "text":
            parts = ["text"]
            if self.min_length is not None or self.max_length is not None:
                parts.append(f"of {self.min_length or 0}..{self.max_length or ''} characters")
            if self.pattern:
                parts.append(f"matching {self.pattern}")
            return " ".join(parts)
        return PARAM_KINDS[self.kind]

    def convert(self, v: Any) -> Any:
        """The typed value of ``v`` (text as a user types it, or typed);
        :class:`UseCaseError` saying what is allowed."""
        if self.is_list:
            return self._list(v)
        return self._convert_one(v)

    def _list(self, v: Any) -> list[Any]:
        if isinstance(v, str):
            text = v.strip()
            if text.startswith("["):
                try:
                    v = json.loads(text)
                except ValueError:
                    raise UseCaseError(f"{v!r} is not a JSON list") from None
            else:  # a comma-separated list, as typed on a command line
                v = [x.strip() for x in text.split(",") if x.strip()]
        if not isinstance(v, list | tuple):
            raise UseCaseError(f"{v!r} is not a list of {self._one_allowed()}")
        n = len(v)
        if (self.min_items is not None and n < self.min_items) or (
            self.max_items is not None and n > self.max_items
        ):
            raise UseCaseError(f"{n} items: expected {self.allowed()}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(self._convert_one(x))
            except UseCaseError as e:
                raise UseCaseError(f"item {i}: {e}") from None
        return out

    def _convert_one(self, v: Any) -> Any:
        if self.converter is not None:
            return CONVERTERS[self.converter](v)
        if self.kind == "int":
            n = v
            if isinstance(v, str):
                try:
                    n = int(v.strip().replace("_", ""), 0)
                except ValueError:
                    n = None
            if isinstance(n, bool) or not isinstance(n, int):
                raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
            if (self.min is not None and n < self.min) or (self.max is not None and n > self.max):
                raise UseCaseError(f"{n} is out of range: expected {self._one_allowed()}")
            return n
        if self.kind == "bool":
            if isinstance(v, bool):
                return v
            low = str(v).strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise UseCaseError(f"{v!r} is not true or false")
        if self.kind == "enum":
            if isinstance(v, str):
                key = v.strip().lower().replace(" ", "_").replace("-", "_")
                for name in self.choices:
                    if name.lower() == key:
                        return name
            raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
        if self.kind == "text":
            if not isinstance(v, str):
                raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
            if (self.min_length is not None and len(v) < self.min_length) or (
                self.max_length is not None and len(v) > self.max_length
            ):
                raise UseCaseError(f"{v!r} has {len(v)} characters: expected {self._one_allowed()}")
            if self.pattern is not None and re.fullmatch(self.pattern, v) is None:
                raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
            return v
        if self.kind == "eui":
            return to_eui(v).hex().upper()
        if self.kind == "datetime":
            return _utc_instant(v)
        if self.kind == "cosem_datetime":
            return _cosem_date_time(v)
        if self.kind == "octets":
            return self._octets(v)
        if self.kind == "records":
            return self._records(v)
        raise UseCaseError(f"unknown parameter kind {self.kind!r}")  # pragma: no cover

    def _length_ok(self, n: int) -> bool:
        return (self.min_length is None or n >= self.min_length) and (
            self.max_length is None or n <= self.max_length
        )

    def _octets(self, v: Any) -> str:
        if isinstance(v, bytes | bytearray):
            raw = bytes(v)
        elif isinstance(v, str):
            text = v.strip().replace(" ", "").replace(":", "")
            try:
                raw = bytes.fromhex(text)
            except ValueError:
                raise UseCaseError(f"{v!r} is not {self._one_allowed()}") from None
        else:
            raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
        if not self._length_ok(len(raw)):
            raise UseCaseError(f"{len(raw)} octets: expected {self._one_allowed()}")
        return raw.hex().upper()

    def _records(self, v: Any) -> list[Any]:
        if isinstance(v, str):
            try:
                v = json.loads(v)
            except ValueError:
                raise UseCaseError(f"{v!r} is not a JSON list of records") from None
        if not isinstance(v, list | tuple) or not all(isinstance(r, Mapping) for r in v):
            raise UseCaseError(f"{v!r} is not {self._one_allowed()}")
        if not self._length_ok(len(v)):
            raise UseCaseError(f"{len(v)} records: expected {self._one_allowed()}")
        return [dict(r) for r in v]

    def to_structural(self, typed: Any) -> Any:
        """The structural value that ``typed`` (a :meth:`convert` result) stands for."""
        if self.is_list:
            return [self._one_to_structural(x) for x in typed]
        return self._one_to_structural(typed)

    def _one_to_structural(self, typed: Any) -> Any:
        if isinstance(typed, bytes):  # a converter's octets: hex, as the arguments hold them
            return typed.hex().upper()
        return self.choices[typed] if self.kind == "enum" else typed

    def from_structural(self, raw: Any) -> Any:
        """The typed value of a structural value (:class:`UseCaseError` if none)."""
        if self.is_list:
            if not isinstance(raw, list):
                raise UseCaseError(f"{raw!r} is not a list")
            return self._list([self._one_from_structural(x) for x in raw])
        return self._one_from_structural(raw)

    def _one_from_structural(self, raw: Any) -> Any:
        if self.kind == "enum":
            for name, code in self.choices.items():
                if code == raw and not isinstance(raw, bool):
                    return name
            if isinstance(raw, str):  # a structural enum already given by its name
                return self._convert_one(raw)
            raise UseCaseError(f"{raw!r} is not one of the choices")
        return self._convert_one(raw)  # one item (of a list parameter too)


# ------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class NamedValue:
    """One named response value at ``path`` in the generic decode."""

    name: str
    path: tuple[str | int, ...]
    kind: str = "number"
    help: str = ""
    unit: str | None = None
    scale: float | None = None
    scaler_unit: tuple[str | int, ...] | None = None
    choices: Mapping[int, str] = field(default_factory=dict)

    def doc(self) -> ValueDoc:
        """This value documented (its unit: the fixed one, else the scaler-unit's)."""
        unit = self.unit
        if unit is None and self.scaler_unit is not None:
            unit = "from the scaler-unit"
        return ValueDoc(self.name, self.kind, unit, self.help)

    def extract(self, decoded: Mapping[str, Any], out: dict[str, Any]) -> None:
        """Put this value (and ``NAME_unit``) into ``out``; nothing when the response
        does not hold it (an item that failed: ``errors`` says why)."""
        if not self.path:  # a value its description's hook puts in
            return
        raw = _untag(get_path(decoded, self.path))
        if raw is _MISSING or (raw is None and self.kind != "raw"):
            return  # not in the response, or null-data (the item failed: see errors)
        unit = self.unit
        if self.kind == "number":
            if isinstance(raw, bool) or not isinstance(raw, int | float):
                raise UseCaseError(f"{self.name}: expected a number, got {raw!r}")
            value: Any = raw
            if self.scaler_unit is not None:
                su = _untag(get_path(decoded, self.scaler_unit))
                if isinstance(su, list) and len(su) == 2:
                    scaler, code = int(_untag(su[0])), int(_untag(su[1]))
                    value = value * 10**scaler if scaler >= 0 else value / 10**-scaler
                    if unit is None and code != 255:
                        unit = _COSEM_UNITS.get(code, f"unit {code}")
            if self.scale is not None:
                value = value * self.scale
            if isinstance(value, float) and value.is_integer() and self.scale is None:
                value = int(value)
        elif self.kind == "text":
            value = _text(raw)
        elif self.kind == "enum":
            value = self.choices.get(raw, raw) if isinstance(raw, int) else raw
        elif self.kind == "datetime":
            value = _iso_of_cosem(raw)
        elif self.kind == "octets":
            value = raw.upper() if isinstance(raw, str) else raw
        else:
            value = raw
        out[self.name] = value
        if unit is not None:
            out[f"{self.name}_unit"] = unit


def _iso_of_cosem(raw: Any) -> str | None:
    """ISO 8601 text of a COSEM date-time (its octets as hex, or its text); None when it
    is not fully specified."""
    from gbcs.cosem_time import DlmsDateTime

    from .dlms_args import DlmsArgsError, parse_date_time

    if not isinstance(raw, str):
        raise UseCaseError(f"expected a COSEM date-time, got {raw!r}")
    try:
        dt = DlmsDateTime.from_bytes(bytes.fromhex(raw))
    except (ValueError, GbcsError):
        try:
            dt = parse_date_time(raw)
        except DlmsArgsError as e:
            raise UseCaseError(str(e)) from None
    t = dt.to_datetime()
    return None if t is None else t.isoformat()


def _untag(v: Any) -> Any:
    if isinstance(v, Mapping) and set(v) == {"type", "value"}:
        return v["value"]
    return v


def _text(raw: Any) -> Any:
    """Octet-strings arrive as upper-case hex in the generic DLMS decode."""
    if isinstance(raw, str) and len(raw) % 2 == 0 and re.fullmatch(r"[0-9A-F]*", raw):
        try:
            text = bytes.fromhex(raw).decode("ascii")
        except UnicodeDecodeError:
            return raw
        if text.isprintable():
            return text
    return raw


def _utc_instant(v: Any) -> str:
    """``YYYY-MM-DDThh:mm:ssZ`` of a datetime or ISO text (UTC; whole seconds)."""
    what = "a UTC instant YYYY-MM-DDThh:mm:ssZ"
    if isinstance(v, str):
        try:
            t = datetime.fromisoformat(v.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UseCaseError(f"{v!r} is not {what}") from None
    elif isinstance(v, datetime):
        t = v
    else:
        raise UseCaseError(f"{v!r} is not {what}")
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    if t.microsecond:
        raise UseCaseError(f"{v!r}: whole seconds only")
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _cosem_date_time(v: Any) -> str:
    from .dlms_args import DlmsArgsError, date_time_text, parse_date_time

    if not isinstance(v, str):
        raise UseCaseError(f"{v!r} is not {PARAM_KINDS['cosem_datetime']}")
    try:
        return date_time_text(parse_date_time(v.strip()))
    except DlmsArgsError as e:
        raise UseCaseError(str(e)) from None


# ------------------------------------------------------------------------- descriptions


@dataclass(frozen=True, slots=True)
class Description:
    """One use case as data (see the module docstring)."""

    name: str
    help: str
    template: Mapping[str, Any]
    params: tuple[NamedParam, ...] = ()
    values: tuple[NamedValue, ...] = ()
    #: The name of a :class:`.hooks.Hook` (fill step and/or decode post-step).
    hook: str | None = None
    #: Whether the entry also takes the structural ``args`` instead of the named ones
    #: (false: a typed use case, whose named parameters are its whole interface).
    structural: bool = True
    #: The role that normally sends it, and the exceptions per device type (default:
    #: what the devices accept, as for structural entries).
    role: RemotePartyRole | None = None
    target_roles: Mapping[DeviceType, RemotePartyRole] = field(default_factory=dict)
    #: ``(use_case, flag, into, value)``: run ``use_case`` first when parameter ``flag``
    #: is true and put its response value ``value`` into parameter ``into``.
    prefetch: tuple[str, str, str, str] | None = None
    #: Names of the DLMS response items, in order: failures are then reported as
    #: ``errors = {name: "result-name (code)"}`` (else as a list of ``results[i]: ...``).
    results: tuple[str, ...] = ()

    def fill(self, typed: Mapping[str, Any]) -> dict[str, Any]:
        """The structural arguments with ``typed`` (converted values, by name) in place;
        parameters not given keep the template's value (parameters without a path are
        the hook's to place: see :meth:`fill_all`)."""
        args = copy.deepcopy(dict(self.template))
        for p in self.params:
            if typed.get(p.name) is not None:
                for path in p.paths:
                    _set_path(args, path, p.to_structural(typed[p.name]))
        return args

    def fill_all(self, typed: Mapping[str, Any], ctx: BuildContext) -> dict[str, Any]:
        """:meth:`fill` (``header`` parameters not given from the command's header), then
        the hook's fill step (which may use the build context)."""
        header = {
            "originator": ctx.originator.hex().upper(),
            "recipient": ctx.recipient.hex().upper(),
            "counter": ctx.counter,
        }
        typed = {
            **typed,
            **{
                p.name: header[p.header]
                for p in self.params
                if p.header is not None and typed.get(p.name) is None
            },
        }
        args = self.fill(typed)
        hook = _hook(self.hook)
        if hook is not None and hook.fill is not None:
            hook.fill(args, typed, ctx)
        return args


def _hook(name: str | None) -> Hook | None:
    return None if name is None else HOOKS[name]


def _use_case(name: str) -> UseCase:
    from .generic import resolve

    try:
        uc = resolve(name)
    except UseCaseError as e:
        raise DescriptionError(f"{name}: {e}") from None
    if uc is None:
        raise DescriptionError(f"{name}: not a command use case of the GBCS registry")
    return uc


def _build_structural(uc: UseCase, args: Mapping[str, Any], counter: int) -> Any:
    from .generic import _build

    return _build(uc, args, counter)


def _check_keys(where: str, obj: Any, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(obj, Mapping):
        raise DescriptionError(f"{where}: expected a table, got {type(obj).__name__}")
    unknown = sorted(set(obj) - allowed)
    if unknown:
        raise DescriptionError(
            f"{where}: unknown key {unknown[0]!r}; allowed: {', '.join(sorted(allowed))}"
        )
    return obj


def _path(where: str, obj: Mapping[str, Any]) -> tuple[str | int, ...]:
    text = obj.get("path")
    if not isinstance(text, str):
        raise DescriptionError(f"{where}.path: missing (a path such as items[0].value)")
    try:
        return parse_path(text)
    except ValueError as e:
        raise DescriptionError(f"{where}.path: {e}") from None


def _opt_int(where: str, obj: Mapping[str, Any], key: str) -> int | None:
    v = obj.get(key)
    if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
        raise DescriptionError(f"{where}.{key}: expected an integer, got {v!r}")
    return v


def _param(
    uc_name: str, name: str, raw: Any, template: Mapping[str, Any], hook: Hook | None = None
) -> NamedParam:
    where = f"{uc_name}.params.{name}"
    d = _check_keys(where, raw, _PARAM_KEYS)
    converter = d.get("convert")
    if converter is not None and converter not in CONVERTERS:
        raise DescriptionError(f"{where}.convert: {converter!r}; allowed: {', '.join(CONVERTERS)}")
    optional = d.get("optional", False)
    if not isinstance(optional, bool):
        raise DescriptionError(f"{where}.optional: expected true or false")
    path: tuple[str | int, ...] = ()
    if "path" in d or hook is None or hook.fill is None:
        path = _path(where, d)
        if optional:  # the field is absent from the template; its parent is there
            parent = get_path(template, path[:-1]) if len(path) > 1 else template
            if not isinstance(parent, Mapping) or not isinstance(path[-1], str):
                raise DescriptionError(f"{where}.path: {d['path']!r}: no such table to add to")
            if path[-1] in parent:
                raise DescriptionError(
                    f"{where}.path: an optional field is not in the template (it is left "
                    "out unless given)"
                )
            if d.get("required") or "default" in d or d.get("also"):
                raise DescriptionError(
                    f"{where}: an optional field has no default, is not required, no also"
                )
        elif get_path(template, path) is _MISSING:
            raise DescriptionError(f"{where}.path: {d['path']!r} is not in the template")
    also: list[tuple[str | int, ...]] = []
    raw_also = d.get("also", [])
    if not isinstance(raw_also, list) or (raw_also and not path):
        raise DescriptionError(f"{where}.also: expected a list of paths (besides path)")
    for i, text in enumerate(raw_also):
        extra = _path(f"{where}.also[{i}]", {"path": text})
        if get_path(template, extra) is _MISSING:
            raise DescriptionError(f"{where}.also[{i}]: {text!r} is not in the template")
        if get_path(template, extra) != get_path(template, path):
            raise DescriptionError(
                f"{where}.also[{i}]: the template holds another value there than at path"
            )
        also.append(extra)
    header = d.get("header")
    if header is not None and (
        header not in HEADER_FIELDS or d.get("kind") != ("int" if header == "counter" else "eui")
    ):
        raise DescriptionError(
            f"{where}.header: {header!r}; allowed: originator or recipient on an eui "
            "parameter, counter on an int parameter"
        )
    if header is not None and d.get("required"):
        raise DescriptionError(f"{where}: a header parameter is not required (the header has it)")
    kind = d.get("kind")
    if converter is not None:  # the kind is a label: the converter says what is allowed
        if not isinstance(kind, str) or not kind:
            raise DescriptionError(f"{where}.kind: missing (a label such as time)")
    elif kind not in PARAM_KINDS:
        raise DescriptionError(f"{where}.kind: {kind!r}; allowed: {', '.join(PARAM_KINDS)}")
    choices = d.get("choices", {})
    if kind == "enum" and (
        not isinstance(choices, Mapping)
        or not choices
        or not all(isinstance(c, int | str) and not isinstance(c, bool) for c in choices.values())
    ):
        raise DescriptionError(
            f"{where}.choices: expected a table of name = number (or = the structural name)"
        )
    is_list = d.get("list", False)
    if not isinstance(is_list, bool):
        raise DescriptionError(f"{where}.list: expected true or false")
    if not is_list and ("min_items" in d or "max_items" in d):
        raise DescriptionError(f"{where}: min_items / max_items need list = true")
    if is_list and kind == "records":
        raise DescriptionError(f"{where}.list: records are a list already")
    pattern = d.get("pattern")
    if pattern is not None:
        try:
            re.compile(pattern)
        except (re.error, TypeError) as e:
            raise DescriptionError(f"{where}.pattern: {e}") from None
    p = NamedParam(
        name=name,
        path=path,
        kind=kind,
        help=str(d.get("help", "")),
        required=bool(d.get("required", False)),
        min=_opt_int(where, d, "min"),
        max=_opt_int(where, d, "max"),
        choices=dict(choices),
        pattern=pattern,
        min_length=_opt_int(where, d, "min_length"),
        max_length=_opt_int(where, d, "max_length"),
        converter=converter,
        also=tuple(also),
        header=header,
        optional=optional,
        is_list=is_list,
        min_items=_opt_int(where, d, "min_items"),
        max_items=_opt_int(where, d, "max_items"),
    )
    if not p.help:
        raise DescriptionError(f"{where}.help: missing")
    if "default" in d:
        try:
            default = p.convert(d["default"])
        except (UseCaseError, ValueError, TypeError) as e:
            raise DescriptionError(f"{where}.default: {e}") from None
        p = NamedParam(**{**_fields(p), "default": default})
    if p.required and p.default is not None:
        raise DescriptionError(f"{where}: a required parameter has no default")
    placeholder: Any = _MISSING
    if path and not optional:
        try:
            placeholder = p.from_structural(get_path(template, path))
        except (UseCaseError, ValueError, TypeError) as e:
            raise DescriptionError(f"{where}: the template's value does not fit: {e}") from None
    if "example" not in d:
        raise DescriptionError(
            f"{where}.example: missing  (a valid value other than the template's)"
        )
    try:
        example = p.convert(d["example"])
    except (UseCaseError, ValueError, TypeError) as e:
        raise DescriptionError(f"{where}.example: {e}") from None
    if example == placeholder:
        raise DescriptionError(f"{where}.example: the same as the template's value")
    return NamedParam(**{**_fields(p), "example": example})


def _fields(p: NamedParam) -> dict[str, Any]:
    return {f: getattr(p, f) for f in p.__slots__}  # type: ignore[attr-defined]


def _value(uc_name: str, name: str, raw: Any, hook: Hook | None = None) -> NamedValue:
    where = f"{uc_name}.values.{name}"
    d = _check_keys(where, raw, _VALUE_KEYS)
    # Without a path the value is the hook's decode step's to put in (documented here).
    hooked = "path" not in d and hook is not None and hook.decode is not None
    kind = d.get("kind", "number")
    if hooked:  # the hook makes the value: its kind is a label (list, bool, ...)
        if not isinstance(kind, str) or not kind:
            raise DescriptionError(f"{where}.kind: expected a label such as list")
    elif kind not in VALUE_KINDS:
        raise DescriptionError(f"{where}.kind: {kind!r}; allowed: {', '.join(VALUE_KINDS)}")
    su = None
    if "scaler_unit" in d:
        su = _path(f"{where}.scaler_unit", {"path": d["scaler_unit"]})
    scale = d.get("scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float)):
        raise DescriptionError(f"{where}.scale: expected a number, got {scale!r}")
    choices: dict[int, str] = {}
    for k, v in dict(d.get("choices", {})).items():
        if not isinstance(v, int) or isinstance(v, bool):
            raise DescriptionError(f"{where}.choices.{k}: expected a number")
        choices[v] = k
    unit = d.get("unit")
    if unit is not None and not isinstance(unit, str):
        raise DescriptionError(f"{where}.unit: expected text")
    return NamedValue(
        name=name,
        path=() if hooked else _path(where, d),
        kind=kind,
        help=str(d.get("help", "")),
        unit=unit,
        scale=None if scale is None else float(scale),
        scaler_unit=su,
        choices=choices,
    )


def description_from(name: str, raw: Any) -> Description:
    """One :class:`Description` from its TOML table, checked: the template builds, every
    path is in it and every default fits (:class:`DescriptionError` naming the key)."""
    d = _check_keys(name, raw, _DESC_KEYS)
    uc = _use_case(name)
    template = d.get("template")
    if not isinstance(template, Mapping):
        raise DescriptionError(f"{name}.template: missing (the structural arguments)")
    try:
        _build_structural(uc, template, _DUMMY_COUNTER)
    except UseCaseError as e:
        raise DescriptionError(f"{name}.template: {e}") from None
    raw_params, raw_values = d.get("params", {}), d.get("values", {})
    if not isinstance(raw_params, Mapping) or not isinstance(raw_values, Mapping):
        raise DescriptionError(f"{name}: params and values must be tables")
    hook = _hook_of(name, d)
    params = tuple(_param(name, k, v, template, hook) for k, v in raw_params.items())
    values = tuple(_value(name, k, v, hook) for k, v in raw_values.items())
    structural = d.get("structural", True)
    if not isinstance(structural, bool):
        raise DescriptionError(f"{name}.structural: expected true or false")
    results = d.get("results", [])
    if not isinstance(results, list) or not all(isinstance(r, str) and r for r in results):
        raise DescriptionError(f"{name}.results: expected a list of item names")
    from .generic import generic_name

    desc = Description(
        generic_name(uc),
        str(d.get("help", uc.title)),
        dict(template),
        params,
        values,
        hook=None if hook is None else hook.name,
        structural=structural,
        role=_role(f"{name}.role", d["role"]) if "role" in d else None,
        target_roles=_target_roles(name, d.get("target_roles", {}), uc),
        prefetch=_prefetch(name, d.get("prefetch"), params),
        results=tuple(results),
    )
    defaults = {p.name: p.default for p in params}
    try:
        _build_structural(uc, desc.fill(defaults), _DUMMY_COUNTER)
    except UseCaseError as e:
        raise DescriptionError(f"{name}: the defaults do not build: {e}") from None
    if hook is not None and hook.fill is not None:
        # The hook's fill step on the examples must build too (a hook that does not
        # fit its template fails here, when the description is loaded).
        try:
            _build_structural(uc, desc.fill_all(_examples(desc), _DUMMY_CONTEXT), 1)
        except (UseCaseError, KeyError, IndexError, TypeError, ValueError) as e:
            raise DescriptionError(
                f"{name}: the hook {hook.name!r} does not build on the examples: {e}"
            ) from None
    return desc


def _examples(desc: Description) -> dict[str, Any]:
    return {p.name: p.default if p.example is None else p.example for p in desc.params}


_DUMMY_CONTEXT = BuildContext(
    _DUMMY_COUNTER, bytes(8), bytes(8), RemotePartyRole.SUPPLIER, datetime(2026, 1, 1, tzinfo=UTC)
)


def _hook_of(name: str, d: Mapping[str, Any]) -> Hook | None:
    if "hook" not in d:
        return None
    hook = HOOKS.get(d["hook"]) if isinstance(d["hook"], str) else None
    if hook is None:
        raise DescriptionError(f"{name}.hook: {d['hook']!r}; allowed: {', '.join(HOOKS)}")
    return hook


def _role(where: str, v: Any) -> RemotePartyRole:
    try:
        return RemotePartyRole.parse(v)
    except (ValueError, TypeError) as e:
        raise DescriptionError(f"{where}: {e}") from None


def _target_roles(name: str, raw: Any, uc: UseCase) -> dict[DeviceType, RemotePartyRole]:
    where = f"{name}.target_roles"
    if not isinstance(raw, Mapping):
        raise DescriptionError(f"{where}: expected a table of device type = role")
    out: dict[DeviceType, RemotePartyRole] = {}
    for k, v in raw.items():
        dt = next((t for t in uc.targets if t.value == str(k).upper()), None)
        if dt is None:
            targets = ", ".join(t.value for t in uc.targets)
            raise DescriptionError(f"{where}.{k}: not a target of {name} ({targets})")
        out[dt] = _role(f"{where}.{k}", v)
    return out


def _prefetch(
    name: str, raw: Any, params: tuple[NamedParam, ...]
) -> tuple[str, str, str, str] | None:
    if raw is None:
        return None
    where = f"{name}.prefetch"
    d = _check_keys(where, raw, _PREFETCH_KEYS)
    missing = sorted(k for k in _PREFETCH_KEYS if not isinstance(d.get(k), str))
    if missing:
        raise DescriptionError(f"{where}.{missing[0]}: missing (text)")
    names = {p.name for p in params}
    for key in ("flag", "into"):
        if d[key] not in names:
            raise DescriptionError(f"{where}.{key}: {d[key]!r} is not a parameter")
    return d["use_case"], d["flag"], d["into"], d["value"]


def load_descriptions(path: Path) -> dict[str, Description]:
    """Every description of a TOML file, by upper-case use-case name, checked."""
    try:
        data = tomllib.loads(path.read_text())
    except OSError as e:
        raise DescriptionError(f"{path}: cannot read: {e.strerror or e}") from None
    except tomllib.TOMLDecodeError as e:
        raise DescriptionError(f"{path}: not valid TOML: {e}") from None
    out: dict[str, Description] = {}
    for name, raw in data.items():
        try:
            desc = description_from(name, raw)
        except DescriptionError as e:
            raise DescriptionError(f"{path.name}: {e}") from None
        out[desc.name.upper()] = desc
    return out


def load_description_dir(directory: Path = DESCRIPTIONS_DIR) -> dict[str, Description]:
    """The descriptions of every ``*.toml`` file in ``directory`` (sorted by file name);
    :class:`DescriptionError` when a use case is described in two files."""
    out: dict[str, Description] = {}
    where: dict[str, str] = {}
    for path in sorted(directory.glob("*.toml")):
        for key, desc in load_descriptions(path).items():
            if key in out:
                raise DescriptionError(
                    f"{path.name}: {desc.name} is already described in {where[key]}"
                )
            out[key] = desc
            where[key] = path.name
    return out


@functools.cache
def all_descriptions() -> Mapping[str, Description]:
    """Every bundled description (``descriptions/*.toml``), loaded and checked once."""
    return load_description_dir()


def descriptions() -> Mapping[str, Description]:
    """The bundled descriptions of *described* use cases: named arguments or the
    structural ``args`` (the typed ones are :func:`typed_descriptions`)."""
    return _split()[0]


def typed_descriptions() -> Mapping[str, Description]:
    """The bundled descriptions with ``structural = false``: the typed use cases
    (:data:`emulator.headend.usecases.CATALOG`), whose named parameters are all they take."""
    return _split()[1]


@functools.cache
def _split() -> tuple[Mapping[str, Description], Mapping[str, Description]]:
    every = all_descriptions()
    return (
        {k: d for k, d in every.items() if d.structural},
        {k: d for k, d in every.items() if not d.structural},
    )


# ------------------------------------------------------------------------- entries


def described_entry(desc: Description) -> CatalogEntry:
    """The catalogue entry of ``desc``: named parameters in, named values out."""
    from .generic import ARGS_HELP, _decoder, _roles
    from .generic import _converter as _converter_structural

    uc = _use_case(desc.name)
    default, target_roles = _roles(uc)
    if desc.role is not None:
        default, target_roles = desc.role, dict(desc.target_roles)
    generic_decode = _decoder(uc)
    hook = _hook(desc.hook)

    def build(args: Mapping[str, Any], ctx: BuildContext) -> Any:
        if args.get("args") is not None:
            named = [p.name for p in desc.params if args.get(p.name) is not None]
            if named:
                raise UseCaseError(
                    f"{uc.name}: give either named arguments ({', '.join(named)}) or "
                    "structural args, not both"
                )
            return _build_structural(uc, args["args"], ctx.counter)
        return _build_structural(uc, desc.fill_all(args, ctx), ctx.counter)

    def decode(view: ResponseView) -> dict[str, Any]:
        decoded = generic_decode(view)
        if view.args.get("args") is not None:  # structural in, structural out
            return decoded
        out: dict[str, Any] = {"ok": decoded["ok"]}
        errors: Any
        if desc.results and isinstance(view.message.payload, AccessResponse):
            _, errors = named_results(view, desc.results)
        else:
            errors = decoded.get("errors") or [
                f"results[{i}]: {r['result']}"
                for i, r in enumerate(decoded.get("results", ()))
                if r.get("result") != "success"
            ]
        if errors:
            out["errors"] = errors
        for v in desc.values:
            v.extract(decoded, out)
        if hook is not None and hook.decode is not None:
            hook.decode(out, decoded, view)
        return out

    def param(p: NamedParam) -> Param:
        text = p.help if p.converter is not None else f"{p.help} ({p.allowed()})"
        return Param(p.name, p.kind, text, p.convert, p.required, p.default)

    params = tuple(param(p) for p in desc.params)
    if desc.structural:
        params += (
            Param(
                "args",
                "json",
                f"instead of the named arguments: {ARGS_HELP}",
                _converter_structural(uc),
            ),
        )
    prefetch = None
    if desc.prefetch is not None:
        pre_uc, flag, into, value = desc.prefetch
        prefetch = Prefetch(pre_uc, flag, into, lambda values: values[value])
    return CatalogEntry.of(
        uc,
        default_role=default,
        params=params,
        build=build,
        decode=decode,
        prefetch=prefetch,
        target_roles=target_roles,
        value_docs=tuple(v.doc() for v in desc.values),
    )


def explain_named(
    desc: Description,
    structural: Mapping[str, Any],
    originator: bytes | None = None,
    recipient: bytes | None = None,
    counter: int | None = None,
) -> dict[str, Any] | None:
    """The named arguments of ``structural`` when it matches the fixed parts of
    ``desc``'s template (the same payload once the parameters are filled in); None
    otherwise. ``originator`` / ``recipient`` are the command header's EUIs, for a hook
    that fills the request from them (the system titles of a protected read), and
    ``counter`` its originator counter, for one that fills it in (CS06's). Parameters
    a hook places (no path) are read back by the hook's explain
    step, which also gives the arguments in the template's layout where the path
    parameters are read; without one, a description with such parameters explains to
    None."""
    uc = _use_case(desc.name)
    hook = _hook(desc.hook)
    placed = [p for p in desc.params if not p.path]
    named: dict[str, Any] = {}
    laid_out = structural
    if placed:  # a hook places them: only its explain step can read them back
        read = None if hook is None or hook.explain is None else hook.explain(structural)
        if read is None:
            return None
        got, laid_out = read
        try:
            named = {p.name: p.convert(got[p.name]) for p in placed if got.get(p.name) is not None}
        except UseCaseError:
            return None
    for p in desc.params:
        if not p.path:
            continue
        raw = get_path(laid_out, p.path)
        if p.optional and (raw is _MISSING or raw is None):
            continue  # left out: the parameter was not given
        if raw is _MISSING:
            return None
        try:
            named[p.name] = p.from_structural(raw)
        except UseCaseError:
            return None
    try:
        if placed or desc.hook is not None:  # the hook's fill step may use the header
            ctx = dataclasses.replace(
                _DUMMY_CONTEXT,
                originator=_DUMMY_CONTEXT.originator if originator is None else originator,
                recipient=_DUMMY_CONTEXT.recipient if recipient is None else recipient,
                counter=_DUMMY_CONTEXT.counter if counter is None else counter,
            )
            args = desc.fill_all(named, ctx)
        else:
            args = desc.fill(named)
        want = _build_structural(uc, args, _DUMMY_COUNTER).encode()
        got = _build_structural(uc, structural, _DUMMY_COUNTER).encode()
    except UseCaseError:
        return None
    return named if want == got else None
