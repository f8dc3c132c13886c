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
"""

from __future__ import annotations

import time
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from emulator.headend.client import AlertStream, HeadEnd
from emulator.headend.identity import HeadEndError
from keys.certs import as_eui

__all__ = ["Scenario", "ScenarioError", "Step", "StepResult", "load_scenario", "run_scenario"]


class ScenarioError(ValueError):
    """A scenario file is malformed (names the step and field)."""


@dataclass(frozen=True, slots=True)
class Step:
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
    site: str
    timeout: float
    retries: int
    steps: tuple[Step, ...]
    ignore: frozenset[str] = frozenset()  # values ``hil diff`` does not compare


@dataclass(slots=True)
class StepResult:
    step: Step
    passed: bool
    detail: str
    seconds: float
    values: dict[str, Any] = field(default_factory=dict)
    verified: str = "-"
    attempts: int = 1
    message: Any = None  # the verified response (a GbcsMessage), for shape comparisons


def _parse_code(v: Any, where: str) -> int:
    try:
        return int(v, 0) if isinstance(v, str) else int(v)
    except (TypeError, ValueError):
        raise ScenarioError(f"{where}: {v!r} is not an alert code") from None


def load_scenario(path: Path) -> Scenario:
    """Parse a scenario file; :class:`ScenarioError` says what is wrong and where."""
    try:
        doc = tomllib.loads(Path(path).read_text())
    except OSError as e:
        raise ScenarioError(f"cannot read {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{path}: {e}") from None
    bench = doc.get("bench", {})
    steps = []
    for i, raw in enumerate(doc.get("step", [])):
        where = f"step[{i}]"
        if not isinstance(raw, Mapping):
            raise ScenarioError(f"{where} must be a table")
        name = str(raw.get("name", f"step {i + 1}"))
        uc = raw.get("use_case")
        wait = raw.get("wait_alert")
        if (uc is None) == (wait is None):
            raise ScenarioError(f"{where} ({name}): give use_case or wait_alert, one of them")
        to = None
        if uc is not None:
            if "to" not in raw:
                raise ScenarioError(f"{where} ({name}): 'to' (device EUI) is required")
            try:
                to = as_eui(str(raw["to"]))
            except ValueError as e:
                raise ScenarioError(f"{where}.to: {e}") from None
        if wait is not None:
            if not isinstance(wait, Mapping) or "code" not in wait:
                raise ScenarioError(f"{where}.wait_alert needs a code")
            wait = {
                "code": _parse_code(wait["code"], f"{where}.wait_alert.code"),
                "within": float(wait.get("within", 10)),
            }
        steps.append(
            Step(
                name,
                None if uc is None else str(uc),
                to,
                raw.get("as"),
                dict(raw.get("args", {})),
                dict(raw.get("expect", {})),
                wait,
                raw.get("target_type"),
                None if raw.get("timeout") is None else float(raw["timeout"]),
            )
        )
    if not steps:
        raise ScenarioError(f"{path}: no [[step]]")
    return Scenario(
        str(bench.get("site", "site-0")),
        float(bench.get("timeout", 10)),
        int(bench.get("retries", 1)),
        tuple(steps),
        frozenset(str(x) for x in bench.get("ignore", [])),
    )


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
