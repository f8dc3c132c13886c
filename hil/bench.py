"""Bench scenarios (TOML) and running them against a device on a bus.

A scenario is a list of steps; each names a use case, its typed arguments, the acting
remote party and what to expect::

    [bench]
    timeout = 10        # seconds per step (a sleepy GSME needs its wake interval)
    retries = 1         # resends on timeout (a fresh counter each time)
    ignore = ["active_import"]   # values `hil diff` leaves out (they measure time)

    [[step]]
    name = "supply state"
    use_case = "ECS45"
    to = "00DB1234567890A0"
    as = "supplier"                       # optional: the use case's usual sender
    args = {}
    expect = { ok = true, values = { supply_state = "connected" } }

    [[step]]
    name = "the Supplier may not reset max demand"
    use_case = "ECS57"
    to = "00DB1234567890A0"
    as = "supplier"
    timeout = 3                           # this step's own timeout
    expect = { refused = true }           # no response is the pass condition

    [[step]]
    name = "power restored"
    wait_alert = { code = "0x8F36", within = 10 }   # an alert instead of a command

Every response is verified (device signature or MAC with the meter's certificates),
its counter echo checked, and compared with ``expect``.

:func:`load_scenario` validates the whole file before anything is sent: every table's
keys (:data:`BENCH_KEYS`, :data:`STEP_KEYS`, :data:`EXPECT_KEYS`, :data:`WAIT_ALERT_KEYS`;
a misspelt key gets the closest valid one suggested), types and ranges (timeouts and
``within`` positive seconds, ``retries`` 0..100, alert codes 0x0000..0xFFFF, EUIs of 16
hex digits), each use case against those the head-end builds
(:mod:`emulator.headend.usecases`: the typed entries and every other command use case
of the GBCS registry) and each argument through that use case's own parameter
definitions, the ``as`` role and the ``target_type``. A use case without typed
parameters takes its payload's structural arguments (``gbcs-emu usecase explain``'s
``args``) as ``args = { args = { items = [...] } }`` (nested TOML tables and arrays are
the JSON), or ``args = { args = "@file.json" }`` relative to the scenario; they are
built once at load, so a bad one is an error naming the step and the argument path.
An error names the file, the step (number from 1, and name), the key and what is allowed.
"""

from __future__ import annotations

import difflib
import math
import time
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.headend.client import AlertStream, HeadEnd
from emulator.headend.identity import HeadEndError
from gbcs.errors import GbcsError
from gbcs.usecases import DeviceType
from keys.certs import as_eui

__all__ = [
    "BENCH_KEYS",
    "EXPECT_KEYS",
    "STEP_KEYS",
    "WAIT_ALERT_KEYS",
    "Scenario",
    "ScenarioError",
    "Step",
    "StepResult",
    "load_scenario",
    "run_scenario",
]


class ScenarioError(ValueError):
    """A scenario file is malformed: names the file, the step (number and name), the key
    and what is allowed."""


#: The keys each table of a scenario may have (anything else is an error).
BENCH_KEYS: tuple[str, ...] = ("site", "timeout", "retries", "ignore")
STEP_KEYS: tuple[str, ...] = (
    "name",
    "use_case",
    "to",
    "as",
    "args",
    "expect",
    "wait_alert",
    "target_type",
    "timeout",
)
EXPECT_KEYS: tuple[str, ...] = ("ok", "values", "refused")
WAIT_ALERT_KEYS: tuple[str, ...] = ("code", "within")
MAX_RETRIES = 100


@dataclass(frozen=True, slots=True)
class Step:
    """One step: a use case to send (``use_case``, ``to``) or an alert to wait for."""

    name: str
    use_case: str | None
    to: bytes | None
    as_role: str | None
    args: dict[str, Any]
    expect: dict[str, Any]
    wait_alert: dict[str, Any] | None
    target_type: str | None
    timeout: float | None = None  # overrides [bench] timeout for this step


@dataclass(frozen=True, slots=True)
class Scenario:
    """A validated scenario file."""

    site: str
    timeout: float
    retries: int
    steps: tuple[Step, ...]
    ignore: frozenset[str] = frozenset()  # values ``hil diff`` does not compare


@dataclass(slots=True)
class StepResult:
    """What one step gave: pass or fail, why, and the verified response's values."""

    step: Step
    passed: bool
    detail: str
    seconds: float
    values: dict[str, Any] = field(default_factory=dict)
    verified: str = "-"
    attempts: int = 1
    message: Any = None  # the verified response (a GbcsMessage), for shape comparisons


def _suggest(word: str, allowed: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest allowed word, or nothing."""
    close = difflib.get_close_matches(word, list(allowed), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _type_name(v: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string"}.get(
        type(v), f"a {type(v).__name__}"
    )


class _Where:
    """Formats errors for one place in one file."""

    def __init__(self, path: Path, place: str) -> None:
        self.path = path
        self.place = place

    def error(self, key: str | None, problem: str) -> ScenarioError:
        at = f", key '{key}'" if key else ""
        return ScenarioError(f"{self.path}: {self.place}{at}: {problem}")

    def unknown_keys(self, table: Mapping[str, Any], allowed: tuple[str, ...], prefix: str) -> None:
        for k in table:
            if k not in allowed:
                raise self.error(
                    f"{prefix}{k}",
                    f"unknown key{_suggest(str(k), allowed)}; allowed: {', '.join(allowed)}",
                )

    def number(self, key: str, v: Any, *, what: str = "seconds") -> float:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise self.error(key, f"must be a positive number of {what}, got {v!r}")
        if not math.isfinite(v) or v <= 0:
            raise self.error(key, f"must be a positive number of {what}, got {v!r}")
        return float(v)

    def table(self, key: str, v: Any) -> Mapping[str, Any]:
        if not isinstance(v, Mapping):
            raise self.error(key, f"must be a table ({{ ... }}), got {_type_name(v)} {v!r}")
        return v

    def text(self, key: str, v: Any) -> str:
        if not isinstance(v, str) or not v.strip():
            raise self.error(key, f"must be a non-empty string, got {v!r}")
        return v.strip()


def _parse_code(v: Any, where: _Where, key: str) -> int:
    try:
        if isinstance(v, bool):
            raise ValueError
        code = int(v, 0) if isinstance(v, str) else int(v)
    except (TypeError, ValueError):
        code = -1
    if not 0 <= code <= 0xFFFF:
        raise where.error(key, f'{v!r} is not an alert code (0x0000..0xFFFF, e.g. "0x8F30")')
    return code


def load_scenario(path: Path) -> Scenario:
    """Parse and validate a scenario file in full, sending nothing.

    Checks every table's keys (the closest valid key is suggested for a misspelt one),
    every value's type and range, that each use case is one the head-end can build and
    that its arguments convert (the head-end's own parameter definitions), the sending
    role and the target device type. :class:`ScenarioError` names the file, the step
    (number and name), the key and what is allowed.
    """
    path = Path(path)
    try:
        doc = tomllib.loads(path.read_text())
    except OSError as e:
        raise ScenarioError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ScenarioError(f"{path}: not a text (TOML) file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: not valid TOML: {e}") from None
    top = _Where(path, "top level")
    top.unknown_keys(doc, ("bench", "step"), "")
    bench = _Where(path, "[bench]")
    b = bench.table("bench", doc.get("bench", {}))
    bench.unknown_keys(b, BENCH_KEYS, "")
    site = bench.text("site", b.get("site", "site-0"))
    if set("/+#") & set(site):
        raise bench.error("site", f"{site!r} must be a name without '/', '+' or '#'")
    timeout = bench.number("timeout", b.get("timeout", 10))
    retries = b.get("retries", 1)
    if isinstance(retries, bool) or not isinstance(retries, int):
        raise bench.error("retries", f"must be a whole number 0..{MAX_RETRIES}, got {retries!r}")
    if not 0 <= retries <= MAX_RETRIES:
        raise bench.error("retries", f"must be 0..{MAX_RETRIES}, got {retries}")
    ignore = b.get("ignore", [])
    if not isinstance(ignore, list) or not all(isinstance(x, str) for x in ignore):
        raise bench.error("ignore", f"must be a list of value names (strings), got {ignore!r}")
    raw_steps = doc.get("step", [])
    if not isinstance(raw_steps, list):
        raise top.error("step", "must be an array of tables: write each step as [[step]]")
    steps = [_load_step(path, i, raw) for i, raw in enumerate(raw_steps)]
    if not steps:
        raise ScenarioError(f"{path}: no [[step]]: a scenario needs at least one step")
    return Scenario(site, timeout, retries, tuple(steps), frozenset(ignore))


def _load_step(path: Path, i: int, raw: Any) -> Step:
    from emulator.headend.catalogue.generic import load_args
    from emulator.headend.identity import PARTY_ROLES, IdentityError, parse_role
    from emulator.headend.usecases import UseCaseError, all_names, is_typed
    from emulator.headend.usecases import get as get_use_case

    where = _Where(path, f"step {i + 1}")
    if not isinstance(raw, Mapping):
        raise where.error(None, "must be a table: write each step as [[step]]")
    name = raw.get("name", f"step {i + 1}")
    if not isinstance(name, str) or not name.strip():
        raise where.error("name", f"must be a non-empty string, got {name!r}")
    where = _Where(path, f"step {i + 1} ({name!r})")
    where.unknown_keys(raw, STEP_KEYS, "")
    uc, wait = raw.get("use_case"), raw.get("wait_alert")
    if (uc is None) == (wait is None):
        raise where.error(None, "give use_case or wait_alert, one of them")
    timeout = None if raw.get("timeout") is None else where.number("timeout", raw["timeout"])
    expect = dict(where.table("expect", raw.get("expect", {})))
    where.unknown_keys(expect, EXPECT_KEYS, "expect.")
    for flag in ("ok", "refused"):
        if flag in expect and not isinstance(expect[flag], bool):
            raise where.error(f"expect.{flag}", f"must be true or false, got {expect[flag]!r}")
    if "values" in expect:
        where.table("expect.values", expect["values"])
    if wait is not None:
        for key in ("to", "as", "args", "target_type"):
            if key in raw:
                raise where.error(key, "applies to a use_case step, not to wait_alert")
        w = where.table("wait_alert", wait)
        where.unknown_keys(w, WAIT_ALERT_KEYS, "wait_alert.")
        if "code" not in w:
            raise where.error("wait_alert.code", 'missing: the alert code, e.g. "0x8F30"')
        alert = {
            "code": _parse_code(w["code"], where, "wait_alert.code"),
            "within": where.number("wait_alert.within", w.get("within", 10)),
        }
        return Step(name, None, None, None, {}, expect, alert, None, timeout)

    if not isinstance(uc, str):
        raise where.error("use_case", f"must be a use case name (a string), got {uc!r}")
    try:
        entry = get_use_case(uc)
    except UseCaseError as e:
        known = {n.upper(): n for n in all_names()}
        close = difflib.get_close_matches(uc.strip().upper(), list(known), n=1, cutoff=0.6)
        hint = f" (did you mean {known[close[0]]!r}?)" if close else ""
        raise where.error("use_case", f"{e}{hint}") from None
    if "to" not in raw:
        raise where.error("to", "missing: the target device's EUI-64 (16 hex digits)")
    try:
        if not isinstance(raw["to"], str):
            raise ValueError("write it as a string")
        to = as_eui(raw["to"])
    except (ValueError, GbcsError) as e:
        raise where.error("to", f"{raw['to']!r} is not an EUI-64 (16 hex digits): {e}") from None
    as_role = raw.get("as")
    if as_role is not None:
        try:
            parse_role(as_role)
        except IdentityError as e:
            hint = _suggest(str(as_role), [r.cli_name for r in PARTY_ROLES])
            raise where.error("as", f"{e}{hint}") from None
    target_type = raw.get("target_type")
    if target_type is not None:
        allowed = ", ".join(t.value for t in DeviceType)
        if not isinstance(target_type, str) or target_type.upper() not in {
            t.value for t in DeviceType
        }:
            raise where.error("target_type", f"{target_type!r} is not a device type ({allowed})")
    args = dict(where.table("args", raw.get("args", {})))
    if not is_typed(entry.name) and isinstance(args.get("args"), str):
        try:  # an @file is relative to the scenario
            args["args"] = load_args(args["args"], base=path.parent)
        except UseCaseError as e:
            raise where.error("args.args", str(e)) from None
    takes = [p.name for p in entry.params]
    for k in args:
        if k not in takes:
            allowed = ", ".join(takes) if takes else "none: it takes no arguments"
            raise where.error(
                f"args.{k}",
                f"{entry.name} has no argument {k!r}{_suggest(k, takes)}; allowed: {allowed}",
            )
    for k, v in args.items():
        try:
            entry.convert_arg(k, v)
        except UseCaseError as e:
            raise where.error(f"args.{k}", str(e)) from None
    try:
        entry.parse_args(args)  # what is still missing
    except UseCaseError as e:
        raise where.error("args", str(e)) from None
    return Step(name, entry.name, to, as_role, args, expect, None, target_type, timeout)


def _check(expect: Mapping[str, Any], values: Mapping[str, Any]) -> list[str]:
    problems = []
    if "ok" in expect and bool(values.get("ok")) != bool(expect["ok"]):
        problems.append(f"ok is {values.get('ok')}, expected {expect['ok']}")
    for k, want in dict(expect.get("values", {})).items():
        got = values.get(k)
        if str(got) != str(want):
            problems.append(f"{k} = {got!r}, expected {want!r}")
    return problems


async def run_scenario(
    scenario: Scenario, headend: HeadEnd, alerts: AlertStream
) -> list[StepResult]:
    """Run every step in order; a failed step is reported and the next one runs."""
    out = []
    for step in scenario.steps:
        t0 = time.monotonic()
        if step.wait_alert is not None:
            out.append(await _wait_alert(step, alerts, t0))
            continue
        assert step.use_case is not None and step.to is not None
        timeout = step.timeout or scenario.timeout
        if step.expect.get("refused"):
            out.append(await _refused(step, headend, scenario.site, timeout, t0))
            continue
        attempts = 0
        result: StepResult | None = None
        while attempts <= scenario.retries:
            attempts += 1
            try:
                reply = await headend.request(
                    scenario.site,
                    step.to,
                    step.use_case,
                    as_role=step.as_role,
                    timeout=timeout,
                    target_type=step.target_type,
                    **step.args,
                )
            except TimeoutError:
                continue
            except HeadEndError as e:
                result = StepResult(step, False, str(e), time.monotonic() - t0, attempts=attempts)
                break
            problems = _check(step.expect, reply.values)
            result = StepResult(
                step,
                not problems,
                "; ".join(problems) or "as expected",
                time.monotonic() - t0,
                dict(reply.values),
                reply.verified,
                attempts,
                reply.message,
            )
            break
        if result is None:
            result = StepResult(
                step,
                False,
                f"no verified response after {attempts} attempt(s)",
                time.monotonic() - t0,
                attempts=attempts,
            )
        out.append(result)
    return out


async def _refused(
    step: Step, headend: HeadEnd, site: str, timeout: float, t0: float
) -> StepResult:
    """A command the device must refuse: no response within the step's timeout."""
    assert step.use_case is not None and step.to is not None
    try:
        reply = await headend.request(
            site,
            step.to,
            step.use_case,
            as_role=step.as_role,
            timeout=timeout,
            target_type=step.target_type,
            **step.args,
        )
    except TimeoutError:
        return StepResult(step, True, "refused (no response)", time.monotonic() - t0)
    except HeadEndError as e:
        return StepResult(step, False, str(e), time.monotonic() - t0)
    return StepResult(
        step,
        False,
        "answered, expected a refusal",
        time.monotonic() - t0,
        dict(reply.values),
        reply.verified,
    )


async def _wait_alert(step: Step, alerts: AlertStream, t0: float) -> StepResult:
    assert step.wait_alert is not None
    code, within = step.wait_alert["code"], step.wait_alert["within"]
    deadline = t0 + within
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return StepResult(
                step, False, f"no alert 0x{code:04X} within {within:g} s", time.monotonic() - t0
            )
        try:
            event = await alerts.next(left)
        except (TimeoutError, StopAsyncIteration):
            continue
        if event.alert_code == code:
            return StepResult(
                step,
                True,
                f"alert 0x{code:04X} after {time.monotonic() - t0:.1f} s",
                time.monotonic() - t0,
                verified=event.verified,
            )


def junit_xml(name: str, results: list[StepResult]) -> str:
    """JUnit XML for CI benches (one testcase per step)."""
    from xml.sax.saxutils import escape, quoteattr

    failures = sum(not r.passed for r in results)
    total = sum(r.seconds for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name={quoteattr(name)} tests="{len(results)}" failures="{failures}"'
        f' errors="0" time="{total:.3f}">',
    ]
    for r in results:
        case = f"<testcase classname={quoteattr(name)} name={quoteattr(r.step.name)}"
        case += f' time="{r.seconds:.3f}"'
        if r.passed:
            lines.append(case + " />")
        else:
            lines.append(case + ">")
            lines.append(f"<failure message={quoteattr(r.detail)}>{escape(r.detail)}</failure>")
            lines.append("</testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"
