"""Every device option (``options=`` of :func:`devices.factory.create_device`), declared.

One table, :data:`OPTIONS`, says for each option its type, range or choices, default,
which device types read it and whether a site TOML may set it. Both the site TOML loader
(:func:`emulator.runtime.config.load_config`) and :func:`~devices.factory.create_device`
check options against it, so a misspelt key, a string where a number belongs or an
out-of-range value is refused before a device exists, with the same wording either way::

    [esme] firmware_profil: unknown key; did you mean firmware_profile? (allowed: ...)

:func:`check_options` returns every :class:`OptionProblem` (key path and what is wrong,
including what is allowed); :func:`validate_options` raises :class:`OptionsError` listing
all of them, one per line.

Cross-option rule: a ``compliant`` firmware profile (MP102A) never cuts the Comms Hub's
supply for 180 s or more, so ``firmware_ch_cut_seconds >= 180`` with it is refused.
"""

from __future__ import annotations

import difflib
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import time as dtime
from decimal import Decimal
from fractions import Fraction
from typing import Any, Literal, NamedTuple

from keys.certs import as_eui

from .behaviours.display import DisplayError, GasDisplayConfig
from .behaviours.load import PERIODS_PER_DAY, LoadError, profile_from_option
from .behaviours.maxdemand import MaxDemandError, SwitchTime
from .esme import FirmwareProfile

__all__ = [
    "MP102_CH_CUT_LIMIT_SECONDS",
    "OPTIONS",
    "OptionProblem",
    "OptionSpec",
    "OptionsError",
    "check_options",
    "format_problems",
    "options_for",
    "suggest",
    "validate_options",
]

ALL_DEVICES = ("ESME", "GSME", "CHF", "GPF")
DLMS_DEVICES = ("ESME", "CHF")  # GSME and GPF speak GBZ: they keep no DLMS log ranges

MP102_CH_CUT_LIMIT_SECONDS = 180.0
"""MP102A: an ESME must not cut the Comms Hub's supply for three minutes or more."""

DAY = 86_400
_MAX_DIGITS = 15

Kind = Literal["int", "seconds", "bool", "choice", "time", "profile", "display", "eui"]


class OptionProblem(NamedTuple):
    """One thing wrong with the options: the key path (``display.qmax_m3h``) and why."""

    key: str
    message: str

    def __str__(self) -> str:
        return f"{self.key}: {self.message}"


class OptionsError(ValueError):
    """Device options are wrong; the message lists every problem, one per line."""

    def __init__(self, message: str, problems: list[OptionProblem]) -> None:
        super().__init__(message)
        self.problems = problems


@dataclass(frozen=True, slots=True)
class OptionSpec:
    """One device option: its type and range, its default and who reads it."""

    name: str
    kind: Kind
    help: str
    devices: tuple[str, ...]
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    unit: str = ""
    toml: bool = True
    """False for Python-only hooks (a site file cannot set them)."""

    @property
    def allowed(self) -> str:
        """What the option accepts, in words (ends every error message about it)."""
        lo, hi = _fmt(self.minimum), _fmt(self.maximum)
        match self.kind:
            case "int":
                return f"an integer from {lo} to {hi}"
            case "seconds":
                return f"a number of seconds from {lo} to {hi}"
            case "bool":
                return "true or false"
            case "choice":
                return "one of " + ", ".join(json.dumps(c) for c in self.choices)
            case "time":
                return 'a UTC time "HH:MM", "HH:MM:SS" or "HH:MM:SS.hh"'
            case "profile":
                return (
                    f"a constant rate >= 0 ({self.unit}) or a load-profile"
                    " table {import = {w, shape, overrides}, export = {...}}"
                )
            case "display":
                return "a table with " + ", ".join(_DISPLAY_KEYS)
            case "eui":
                return "an EUI-64 of 16 hex digits"
        raise AssertionError(self.kind)  # pragma: no cover

    def check(self, value: Any) -> list[OptionProblem]:
        """Problems with ``value`` for this option (empty when it is valid)."""
        return _CHECKERS[self.kind](self, value)


def _spec(*args: Any, **kwargs: Any) -> tuple[str, OptionSpec]:
    s = OptionSpec(*args, **kwargs)
    return s.name, s


OPTIONS: Mapping[str, OptionSpec] = dict(
    [
        # ESME
        _spec("load_profile", "profile", "import load (a number: constant)", ("ESME",),
              default=500, unit="W"),
        _spec("md_window_start", "time", "start of the factory max-demand window (Table 28d)",
              ("ESME",), default="16:00:00.00"),
        _spec("md_window_end", "time", "end of the factory max-demand window", ("ESME",),
              default="19:00:00.00"),
        _spec("md_capture_at", "choice", "max-demand capture time: start or end of the period",
              ("ESME",), default="start", choices=("start", "end")),
        # IRP571's rule is not in the sources (domain-rules §4.2, §7.8): see docs/devices.md.
        _spec("md_invalid_clock", "choice",
              "IRP571: demand measured while the clock is invalid: kept with an unspecified"
              " capture time (all-day import, export), or skipped",
              ("ESME",), default="unspecified", choices=("unspecified", "skip")),
        _spec("display_digits", "int", "kWh digits on the ESME display", ("ESME",),
              default=5, minimum=1, maximum=_MAX_DIGITS),
        _spec("firmware_profile", "choice",
              "CH supply cut on firmware activation: compliant (MP102A, 30 s) or legacy (240 s)",
              ("ESME",), default=FirmwareProfile.COMPLIANT,
              choices=tuple(FirmwareProfile.DEFAULT_SECONDS)),
        _spec("firmware_ch_cut_seconds", "seconds",
              "CH supply cut on firmware activation (overrides the profile's)", ("ESME",),
              default=None, minimum=0, maximum=DAY),
        # GSME
        _spec("gas_profile", "profile", "gas flow (a number: constant)", ("GSME",),
              default=0, unit="l/h"),
        _spec("top_up_value", "int",
              "what a well-formed UTRN is worth (UTRN value encoding is not modelled)",
              ("GSME",), default=0, minimum=0, maximum=2**31 - 1),
        _spec("wake_interval_seconds", "seconds", "how often the GSME wakes to fetch commands",
              ("GSME",), default=1800, minimum=0.1, maximum=7 * DAY),
        _spec("display", "display", "Large Gas Meter display (MID rule enforced)", ("GSME",),
              default=None),
        _spec("chf_eui", "eui", "the CHF that queues this GSME's commands (a Site sets it)",
              ("GSME",), default=None, toml=False),
        # CHF
        _spec("ad1_latency_seconds", "seconds", "extra delay before the AD1 alert leaves",
              ("CHF",), default=0, minimum=0, maximum=DAY),
        _spec("storm_consolidation", "bool", "DP119: merge repeated identical alerts",
              ("CHF",), default=False),
        _spec("storm_window_seconds", "seconds", "window of the DP119 consolidation",
              ("CHF",), default=0, minimum=0, maximum=DAY),
        # DP119 names no algorithm: non-critical only is domain-rules §6 rule 55's reading.
        _spec("storm_alerts", "choice",
              "DP119: which alerts may be consolidated (non-critical: unsigned ones only)",
              ("CHF",), default="non-critical", choices=("non-critical", "all")),
        _spec("gsme_queue_size", "int", "commands held per GSME", ("CHF",), default=32,
              minimum=1, maximum=10_000),
        _spec("gsme_queue_expiry_seconds", "seconds",
              "queued GSME commands older than this are dropped (0x819D)", ("CHF",),
              default=DAY, minimum=1, maximum=30 * DAY),
        # several
        _spec("log_range_end_inclusive", "bool", "log reads include the range's end time",
              DLMS_DEVICES, default=True),
        _spec("certificate_time_checks", "bool", "check certificate validity times (CS02x)",
              ALL_DEVICES, default=False),
    ]
)  # fmt: skip
"""Every option a device reads, by name."""


def options_for(device_type: str, *, toml: bool = False) -> dict[str, OptionSpec]:
    """The options ``device_type`` reads (only those a site TOML may set when ``toml``)."""
    kind = device_type.upper()
    return {n: s for n, s in OPTIONS.items() if kind in s.devices and (s.toml or not toml)}


def suggest(key: str, allowed: Iterable[str]) -> str:
    """``"; did you mean X?"`` for the closest allowed key, or ``""``."""
    close = difflib.get_close_matches(key, list(allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def unknown_key(key: str, allowed: Iterable[str], what: str = "key") -> str:
    """The message for an unknown key: the closest valid one and the whole list."""
    names = list(allowed)
    return f"unknown {what}{suggest(key, names)} (allowed: {', '.join(names)})"


def check_options(
    device_type: str,
    options: Any,
    *,
    toml: bool = False,
    also_allowed: Iterable[str] = (),
) -> list[OptionProblem]:
    """Every problem with ``options`` for ``device_type`` (empty when all are valid).

    ``toml`` refuses Python-only options; ``also_allowed`` are further keys the caller
    handles itself (a site TOML's ``eui`` and ``enabled``), listed as allowed in messages.
    """
    kind = device_type.upper()
    if not isinstance(options, Mapping):
        return [OptionProblem("options", f"must be a table of options, got {_show(options)}")]
    specs = options_for(kind, toml=toml)
    extra = tuple(also_allowed)
    names = [*extra, *specs]
    problems: list[OptionProblem] = []
    for key, value in options.items():
        if key in extra:
            continue
        spec = specs.get(key) if isinstance(key, str) else None
        if spec is None:
            problems.append(OptionProblem(str(key), _unknown_option(str(key), kind, names, toml)))
            continue
        problems.extend(spec.check(value))
    if not problems:
        problems.extend(_cross_checks(kind, options))
    return problems


def format_problems(prefix: str, problems: Iterable[OptionProblem]) -> str:
    """One line per problem: ``<prefix> <key>: <message>``."""
    return "\n".join(f"{prefix} {p}" for p in problems)


def validate_options(device_type: str, options: Any, *, toml: bool = False) -> None:
    """Raise :class:`OptionsError` (a ``ValueError``) listing every problem with ``options``.

    The message has one line per problem, e.g. ``ESME options: firmware_profil: unknown
    key; did you mean firmware_profile? (allowed: ...)``.
    """
    problems = check_options(device_type, options, toml=toml)
    if problems:
        raise OptionsError(format_problems(f"{device_type.upper()} options:", problems), problems)


# ------------------------------------------------------------------------------ checkers


def _unknown_option(key: str, kind: str, names: list[str], toml: bool) -> str:
    spec = OPTIONS.get(key)
    if spec is not None and kind in spec.devices and toml and not spec.toml:
        return f"cannot be set in a site file (a Python-only option); allowed: {', '.join(names)}"
    if spec is not None and kind not in spec.devices:
        owners = " and ".join(spec.devices)
        return f"not an option of the {kind} (it is one of the {owners}); allowed: " + ", ".join(
            names
        )
    return unknown_key(key, names)


def _fmt(v: float | None) -> str:
    if v is None:
        return "?"
    return str(int(v)) if v == int(v) else str(v)


def _show(v: Any, *, typed: bool = True) -> str:
    """A value as the user wrote it (TOML spelling), for messages."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f"{json.dumps(v)} (a string)" if typed else json.dumps(v)
    if isinstance(v, Mapping):
        return "a table"
    if isinstance(v, list | tuple):
        return "an array"
    if isinstance(v, dtime):
        return f"{v.isoformat()} (a TOML time)"
    return repr(v)


def _bad(spec: OptionSpec, value: Any, key: str | None = None) -> list[OptionProblem]:
    return [OptionProblem(key or spec.name, f"got {_show(value)}; allowed: {spec.allowed}")]


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float | Decimal | Fraction) and not isinstance(v, bool)


def _in_range(spec: OptionSpec, v: float) -> bool:
    lo, hi = spec.minimum, spec.maximum
    return (lo is None or v >= lo) and (hi is None or v <= hi)


def _check_int(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if isinstance(v, bool) or not isinstance(v, int):
        return _bad(spec, v)
    return [] if _in_range(spec, v) else _bad(spec, v)


def _check_seconds(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if not isinstance(v, int | float) or isinstance(v, bool) or not math.isfinite(v):
        return _bad(spec, v)
    return [] if _in_range(spec, v) else _bad(spec, v)


def _check_bool(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    return [] if isinstance(v, bool) else _bad(spec, v)


def _check_choice(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if isinstance(v, str) and v in spec.choices:
        return []
    if isinstance(v, str):
        close = difflib.get_close_matches(v, spec.choices, n=1, cutoff=0.6)
        hint = f"; did you mean {json.dumps(close[0])}?" if close else ""
        return [
            OptionProblem(spec.name, f"got {_show(v, typed=False)}{hint} (allowed: {spec.allowed})")
        ]
    return _bad(spec, v)


def _check_time(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if not isinstance(v, str | dtime):
        return _bad(spec, v)
    try:
        SwitchTime.parse(str(v))
    except MaxDemandError as e:
        return [OptionProblem(spec.name, f"{_reason(e)}; allowed: {spec.allowed}")]
    return []


def _check_eui(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if not isinstance(v, str | bytes):
        return _bad(spec, v)
    try:
        as_eui(v)
    except ValueError:
        return _bad(spec, v)
    return []


_PROFILE_SIDES = ("import", "export")
_PROFILE_KEYS = ("w", "shape", "overrides")


def _check_profile(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if _is_number(v):
        if isinstance(v, Decimal | Fraction) or not math.isfinite(v) or v < 0:
            return _bad(spec, v)
        return []
    if not isinstance(v, Mapping):
        return _bad(spec, v)
    problems: list[OptionProblem] = []
    for side, body in v.items():
        where = f"{spec.name}.{side}"
        if side not in _PROFILE_SIDES:
            problems.append(OptionProblem(where, unknown_key(str(side), _PROFILE_SIDES)))
            continue
        if not isinstance(body, Mapping):
            problems.append(
                OptionProblem(
                    where, f"got {_show(body)}; allowed: a table with w, shape, overrides"
                )
            )
            continue
        for k, x in body.items():
            at = f"{where}.{k}"
            if k not in _PROFILE_KEYS:
                problems.append(OptionProblem(at, unknown_key(str(k), _PROFILE_KEYS)))
            elif k == "w" and (isinstance(x, bool) or not isinstance(x, int) or x < 0):
                problems.append(OptionProblem(at, f"got {_show(x)}; allowed: an integer >= 0"))
            elif k == "shape" and x is not None and not _is_shape(x):
                problems.append(
                    OptionProblem(
                        at,
                        f"got {_show(x)}; allowed: an array of {PERIODS_PER_DAY} integers >= 0"
                        " (half hours from 00:00 UTC)",
                    )
                )
            elif k == "overrides" and not isinstance(x, Mapping):
                problems.append(
                    OptionProblem(
                        at, f"got {_show(x)}; allowed: a table of period start -> Wh >= 0"
                    )
                )
    if not problems:
        try:
            profile_from_option(v)
        except LoadError as e:
            problems.append(OptionProblem(spec.name, f"{e}; allowed: {spec.allowed}"))
    return problems


def _is_shape(x: Any) -> bool:
    return (
        isinstance(x, list | tuple)
        and len(x) == PERIODS_PER_DAY
        and all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in x)
    )


_DISPLAY_KEYS = ("large_gas_meter", "qmax_m3h", "int_digits", "frac_digits")


def _check_display(spec: OptionSpec, v: Any) -> list[OptionProblem]:
    if not isinstance(v, Mapping):
        return _bad(spec, v)
    problems: list[OptionProblem] = []
    for k, x in v.items():
        at = f"{spec.name}.{k}"
        if k not in _DISPLAY_KEYS:
            problems.append(OptionProblem(at, unknown_key(str(k), _DISPLAY_KEYS)))
        elif k == "large_gas_meter" and not isinstance(x, bool):
            problems.append(OptionProblem(at, f"got {_show(x)}; allowed: true or false"))
        elif k in ("int_digits", "frac_digits"):
            lo = 1 if k == "int_digits" else 0
            if isinstance(x, bool) or not isinstance(x, int) or not lo <= x <= _MAX_DIGITS:
                problems.append(
                    OptionProblem(
                        at, f"got {_show(x)}; allowed: an integer from {lo} to {_MAX_DIGITS}"
                    )
                )
        elif k == "qmax_m3h" and not _positive_number(x):
            problems.append(OptionProblem(at, f"got {_show(x)}; allowed: a number of m³/h above 0"))
    if problems:
        return problems
    try:
        GasDisplayConfig.from_dict(v).validate()
    except DisplayError as e:
        if v.get("qmax_m3h") is None:
            return [
                OptionProblem(
                    f"{spec.name}.qmax_m3h",
                    f"{_reason(e)}; allowed: a number of m³/h above 0 (MID: 8000 h × qmax_m3h"
                    " < 10^int_digits)",
                )
            ]
        return [OptionProblem(f"{spec.name}.int_digits", _reason(e))]
    return []


def _positive_number(x: Any) -> bool:
    if isinstance(x, str):
        try:
            x = Decimal(x)
        except ArithmeticError:
            return False
    if not _is_number(x):
        return False
    try:
        return bool(math.isfinite(x) and x > 0)
    except (TypeError, ValueError):
        return False


def _reason(e: BaseException) -> str:
    reason = getattr(e, "reason", None)  # ScheduleRejected appends a DLMS result code
    if isinstance(reason, str):
        return reason
    return str(e.args[0]) if e.args else str(e)


_CHECKERS = {
    "int": _check_int,
    "seconds": _check_seconds,
    "bool": _check_bool,
    "choice": _check_choice,
    "time": _check_time,
    "profile": _check_profile,
    "display": _check_display,
    "eui": _check_eui,
}


def _cross_checks(kind: str, options: Mapping[str, Any]) -> list[OptionProblem]:
    """Rules between options (run once every option is valid on its own)."""
    if kind != "ESME":
        return []
    profile = options.get("firmware_profile", FirmwareProfile.COMPLIANT)
    cut = options.get("firmware_ch_cut_seconds")
    if (
        profile == FirmwareProfile.COMPLIANT
        and cut is not None
        and cut >= MP102_CH_CUT_LIMIT_SECONDS
    ):
        limit = _fmt(MP102_CH_CUT_LIMIT_SECONDS)
        return [
            OptionProblem(
                "firmware_ch_cut_seconds",
                f'{_fmt(cut)} s contradicts MP102 for firmware_profile = "compliant" (an MP102A'
                f" ESME never cuts the Comms Hub's supply for {limit} s or more, so no AD1);"
                f' allowed: less than {limit} s, or firmware_profile = "legacy"',
            )
        ]
    return []
