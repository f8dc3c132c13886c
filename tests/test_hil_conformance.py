"""`hil conformance`: DCC's RTDS suite against a device on a port.

Unit tests (no data): time re-basing, the run order, the -k filter, the report.
Interop tests: the runner against an emulator on an in-process bus with the control API
(fast, every device type), and `hil serve --device site` on one end of a pty pair with
`hil conformance` on the other. The default suite runs a `-k` selection over the pty
pair; the full run per device type is marked ``slow`` (``pytest -m slow``).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from emulator.conformance.cases import ConformanceCase, load_cases
from emulator.conformance.harness import (
    CONFORMANT,
    fault_plan_for,
    preparation_commands,
    run_conformance,
)
from gbcs.usecases import by_name
from hil.conformance import (
    CONFORMANT as HIL_CONFORMANT,
)
from hil.conformance import (
    DIFFERS,
    NOT_APPLICABLE,
    ORDER,
    SERVED_SITE_TOML,
    HilCaseResult,
    HilReport,
    case_group,
    filter_cases,
    order_cases,
    rebase_text,
)
from tests.interop import require_interop
from tests.test_hil import linked_ports, served

ROOT = Path(__file__).resolve().parent.parent
DELTA = timedelta(days=4000, hours=5, minutes=3, seconds=7)


# ------------------------------------------------------------------ unit


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("2014-12-31T23:59:10.00", "2025-12-14T05:02:17.00"),  # COSEM date-time, hundredths
        ("2015-01-01T00:30:00Z", "2025-12-14T05:33:07Z"),  # UTC instant
        ("2014-12-31T23:30Z", "2025-12-14T04:33Z"),  # no seconds written: none added
        ("2014-10-27", "2025-10-09"),  # a plain date moves by whole days only
        ("*-07-29", "*-07-29"),  # wildcard dates mean every year
        ("17:00:00.00", "17:00:00.00"),  # a time of day
        ("00DB1234567890A0", "00DB1234567890A0"),
        ("2015-13-01T00:00:00Z", "2015-13-01T00:00:00Z"),  # not a date: untouched
        ("2136-02-07T06:28:14Z", "2136-02-07T06:28:14Z"),  # ZCL's latest UTCTime: "no end"
    ],
)
def test_rebase_text_shifts_date_times_and_whole_days(text: str, want: str) -> None:
    assert rebase_text(text, DELTA) == want


def _case(name: str, use_case: str, *, error: bool = False) -> ConformanceCase:
    uc = by_name(use_case)
    assert uc is not None
    return ConformanceCase(
        id=f"RTDS-4.5.0/x_{use_case}/{name}",
        rtds_case=use_case,
        use_case=use_case,
        device_type="ESME",
        variant="",
        error_variant=error,
        command=b"",
        response=b"",
        message_code=uc.code,
    )


def test_destructive_cases_run_last_in_the_documented_order() -> None:
    cases = [
        _case("CS02bSupplierBySupplier_6.15.1", "CS02b"),
        _case("ECS70_6.11_SUCCESS", "ECS70"),
        _case("CS06_11.2_SUCCESS", "CS06"),
        _case("ECS43_7.4_SUCCESS", "ECS43"),
        _case("ECS34_6.14_SUCCESS", "ECS34"),
        _case("ECS17b_4.1.1_SUCCESS", "ECS17b"),
    ]
    ordered = [c.use_case for c in order_cases(cases)]
    assert ordered == ["ECS17b", "ECS34", "ECS43", "CS06", "ECS70", "CS02b"]
    groups = [ORDER[case_group(c)][0] for c in order_cases(cases)]
    assert groups == ["reads", "updates", "supply", "firmware", "clock", "credentials"]


def test_k_filters_by_id_substring_case_insensitively() -> None:
    cases = [_case("ECS17b_A", "ECS17b"), _case("ECS34_B", "ECS34")]
    assert [c.use_case for c in filter_cases(cases, ["ecs34"])] == ["ECS34"]
    assert filter_cases(cases, []) == cases
    assert filter_cases(cases, ["nothing"]) == []


def _result(case: ConformanceCase, status: str, detail: str = "") -> HilCaseResult:
    return HilCaseResult(case, status, detail, 0.25, "reads")


def test_report_counts_not_applicable_apart_and_junit_skips_them() -> None:
    a, b, c = (_case(f"C{i}", "ECS17b") for i in range(3))
    report = HilReport("ESME", bytes.fromhex("00DB1234567890A0"), control=False)
    report.results = [
        _result(a, HIL_CONFORMANT),
        _result(b, NOT_APPLICABLE, "an _ERROR case"),
        _result(c, DIFFERS, "1 shape difference(s)"),
    ]
    assert (report.conformant, report.applicable, report.not_applicable) == (1, 2, 1)
    assert not report.passed
    doc = report.to_json()
    assert doc["summary"]["differs"] == 1 and doc["not_prepared"]
    suite = ET.fromstring(report.junit_xml())
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("3", "1", "1")
    cases = suite.findall("testcase")
    assert cases[1].find("skipped") is not None and cases[2].find("failure") is not None
    report.results = report.results[:2]
    assert report.passed  # a not-applicable case is never a failure, nor a pass


# ------------------------------------------------------------------ in-process, control on


def _reference(device: str) -> tuple[int, int]:
    """(conformant, fault-injected conformant) of the in-process harness for ``device``."""
    ok = _reference_cases(device)
    return len(ok), sum(injected for injected in ok.values())


def _reference_cases(device: str) -> dict[str, bool]:
    """The in-process harness's conformant cases of ``device``: id -> fault-injected."""
    d = require_interop()
    rep = run_conformance(d / "vectors.json", d / "keys", device=device)
    return {r.case.id: r.fault_injected for r in rep.results if r.status == CONFORMANT}


PORT_PREPARED = {
    # Cases whose preparation is more than RTDS commands; over a port the run gives it
    # through the control API and the bench's own HAN partner, as the harness does itself.
    "RTDS-4.5.0/4.4.3_GCS15c/GCS15c_4.4.3_SUCCESS": "run_on 6393600 s",  # 74 days after GCS25
    "RTDS-4.5.0/4.10_GCS18/GCS18_4.10_SUCCESS": "run_on 3600 s",  # an hour after GCS31
    "RTDS-4.5.0/8.9_CS07/CS07_8.9_SUCCESS": "CS03C join of the bench PPMID",
    "RTDS-4.5.0/NA_PCS01/PCS01_NA_SUCCESS": "CS03C join of the bench PPMID",
    "RTDS-4.5.0/NA_PCS02/PCS02_NA_SUCCESS": "CS03C join of the bench PPMID",
}
"""What the run did besides RTDS commands to prepare these cases (a prefix of a step)."""


async def _inprocess_run(
    device: str, tmp: Path, exprs: tuple[str, ...] = (), *, start: datetime | None = None
) -> Any:
    """A --control run over an in-process bus against a served site; ``start`` sets the
    site's clock (running at real speed from it), the host's UTC clock otherwise."""
    from emulator.headend.identity import CounterStore, parties_from_store
    from emulator.runtime.clock import Clock, RealClock, ScaledClock
    from emulator.runtime.config import load_config
    from emulator.runtime.launch import claim
    from emulator.runtime.pki import add_device_public_keys, ensure_pki
    from emulator.runtime.server import Emulator
    from emulator.transport.inprocess import InProcessBus, InProcessHub
    from hil.conformance import Bench, HilConformance
    from hil.han_partner import HanPartner
    from keys.store import KeyStore

    d = require_interop()
    config = tmp / "site.toml"
    config.write_text(SERVED_SITE_TOML)
    cfg = load_config(config)
    state = tmp / "state"
    held = claim(state, cfg, command="test")
    hub = InProcessHub()
    pki = ensure_pki(state)
    clock: Clock = RealClock() if start is None else ScaledClock(1.0, start)
    emulator = Emulator(cfg, InProcessBus(hub), clock, KeyStore(pki), state, control=True)
    stop = asyncio.Event()
    task = asyncio.create_task(emulator.run(stop))
    counters = CounterStore(tmp / "counters.sqlite", first=int(time.time()))
    try:
        await asyncio.wait_for(emulator.ready.wait(), 60)
        keys = KeyStore(pki)
        add_device_public_keys(keys, cfg, range(1), state)
        han = HanPartner.make(key_dirs=[pki])
        han.add_to(keys)
        every = load_cases(d / "vectors.json")
        cases = filter_cases([c for c in every if c.device_type == device], exprs)
        runner = HilConformance(
            InProcessBus(hub),
            Bench(keys, parties_from_store(keys), counters, han),
            device,
            cfg.site_config(0).eui(device),
            control=True,
            timeout=15,
            rtds_keys=KeyStore(d / "keys"),
        )
        return await runner.run(cases, preparation_commands(every))
    finally:
        counters.close()
        stop.set()
        await asyncio.wait_for(task, 60)
        held.release()


@pytest.mark.interop
@pytest.mark.asyncio
@pytest.mark.parametrize(
    "device", ["CHF", "GPF", "ESME", pytest.param("GSME", marks=pytest.mark.slow)]
)
async def test_control_run_matches_the_harness_less_fault_injection(
    device: str, tmp_path: Path
) -> None:
    """Reset with the harness's history before every case, the served device is
    conformant on exactly the harness's cases, the _ERROR ones with their faults armed
    through the control API (counted apart); the cases
    prepared beyond RTDS commands get it through the control API and the bench's PPMID
    (PORT_PREPARED)."""
    reference = _reference_cases(device)
    injected = sum(reference.values())
    report = await _inprocess_run(device, tmp_path)
    errors = [r for r in report.results if r.case.error_variant]
    # the _ERROR cases get their faults armed through the control API, counted apart
    assert report.fault_injected_conformant == injected
    assert all(r.fault_injected for r in errors if r.status == HIL_CONFORMANT)
    for r in errors:  # armed where the RTDS response names codes to arm
        if r.applicable and fault_plan_for(r.case):
            assert any(p.startswith("inject_fault") for p in r.prepared), r.prepared
    ours = {r.case.id for r in report.results if r.status == HIL_CONFORMANT}
    theirs = set(reference)
    assert ours == theirs, (
        sorted(theirs - ours),
        [(r.case.id, r.detail) for r in report.results if r.case.id in theirs - ours],
        sorted(ours - theirs),
    )
    assert report.conformant == len(reference)
    for r in report.results:
        step = PORT_PREPARED.get(r.case.id)
        if step is not None:
            assert any(p.startswith(step) for p in r.prepared), (r.case.id, r.prepared)
    assert all(r.reset for r in report.results if r.applicable)


@pytest.mark.interop
@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("time_of_day", "run_on"),
    [
        ("00:00:20", (43_100, 43_200)),  # on to 12:00
        ("00:20:00", (41_900, 42_000)),
        ("12:10:00", (0, 0)),  # already at midday: no run-on
        ("23:59:50", (43_200, 43_260)),  # midnight passes during the case's reset
    ],
)
async def test_a_control_run_does_not_depend_on_the_hour_it_is_made(
    time_of_day: str, run_on: tuple[int, int], tmp_path: Path
) -> None:
    """GCS16b reads prepay snapshots in a 49-hour window ending at RTDS's "now"; RTDS
    finds two. A device with daily snapshots at midnight holds a third in that window
    when it is less than an hour past midnight: with --control every case is reset at
    midday (its premises run on to it), whatever the hour of the run."""
    today = datetime.now(UTC).date()
    start = datetime.fromisoformat(f"{today.isoformat()}T{time_of_day}+00:00")
    report = await _inprocess_run("GPF", tmp_path, ("GCS16b_4.14_URP_SUCCESS",), start=start)
    (result,) = report.results
    assert result.status == HIL_CONFORMANT, result.detail
    ran = [p for p in result.prepared if p.startswith("run_on") and "midday" in p]
    if run_on == (0, 0):
        assert ran == [], result.prepared
    else:
        (step,) = ran
        assert run_on[0] <= int(step.split()[1]) <= run_on[1], step
    assert "between 12:00 and 13:00 UTC" in report.clock


@pytest.mark.interop
@pytest.mark.asyncio
async def test_preparation_replays_a_repeated_command(tmp_path: Path) -> None:
    """CS10b's preparation sends GCS28 twice: the second is a replay, refused and logged."""
    report = await _inprocess_run("GSME", tmp_path, ("CS10a_6.13_SUCCESS", "GCS28_6.11_SUCCESS"))
    by = {r.case.id.rsplit("/", 1)[-1]: r for r in report.results}
    # (the first case of the run may also have been run on to midday)
    rtds_steps = [p for p in by["CS10a_6.13_SUCCESS"].prepared if not p.endswith("reset again")]
    assert rtds_steps == ["GCS28_6.11_SUCCESS"]
    assert by["CS10a_6.13_SUCCESS"].status == HIL_CONFORMANT
    # GCS28's validity window was re-based on the device clock: the set was accepted
    assert by["GCS28_6.11_SUCCESS"].status == HIL_CONFORMANT


# ------------------------------------------------------------------ over a pty pair


def _conformance(
    port: str, state: Path, device: str, *options: str
) -> subprocess.CompletedProcess[str]:
    eui = {"ESME": "00DB1234567890A0", "GSME": "00DB1234567890A1", "CHF": "00DB1234567890A2",
           "GPF": "00DB1234567890A3"}[device]  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "hil", "conformance", "--port", port, "--baud", "115200",
         "--device-type", device.lower(), "--device-eui", eui, "--state", str(state),
         "--interop", str(require_interop()), "--timeout", "15", "--json", *options],
        capture_output=True, text=True, timeout=3600, cwd=ROOT,
    )  # fmt: skip


def _site(tmp: Path) -> Path:
    config = tmp / "site.toml"
    config.write_text(SERVED_SITE_TOML)
    return config


SELECTION = {  # a few cases of every kind per device type for the default suite
    "ESME": ("ECS17b_4.1.1", "ECS35a_6.13_SUCCESS", "ECS70_6.11", "ECS34_6.14"),
    "CHF": ("ECS26i", "CCS01_8.11"),
    "GPF": ("GCS13a", "GCS60a"),
    "GSME": ("GCS46_6.2.7", "GCS28_6.11"),
}


def _k(device: str) -> list[str]:
    return [a for k in SELECTION[device] for a in ("-k", k)]


@pytest.mark.interop
@pytest.mark.parametrize("device", ["ESME", "GSME", "CHF", "GPF"])
def test_without_control_the_run_completes_and_says_what_it_could_not_prepare(
    device: str, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    junit = tmp_path / "rtds.xml"
    with linked_ports(tmp_path) as (a, b), served(a, state, "--config", str(_site(tmp_path))):
        res = _conformance(b, state, device, *_k(device), "--junit", str(junit))
    assert res.returncode in (0, 1), res.stderr
    assert "Traceback" not in res.stderr
    report = json.loads(res.stdout)
    assert report["control"] is False and report["not_prepared"]
    assert "no factory reset" in report["not_prepared"][0]
    results = report["cases"]
    assert results and all(any(k in r["id"] for k in SELECTION[device]) for r in results)
    assert all(r["reset"] is False for r in results)
    for r in results:
        if "_ERROR" in r["id"]:
            assert r["status"] == NOT_APPLICABLE and "fault injection" in r["detail"]
        else:  # every one of these needs no preparation: it answers conformantly
            assert r["status"] == HIL_CONFORMANT, r
            assert r["protection"] in ("signature valid", "MAC valid")
    assert res.returncode == 0
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(len(results))


@pytest.mark.interop
def test_with_control_over_the_line_the_device_is_reset_before_each_case(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    options = ("--config", str(_site(tmp_path)), "--control")
    with linked_ports(tmp_path) as (a, b), served(a, state, *options):
        res = _conformance(b, state, "CHF", *_k("CHF"), "--control")
    assert res.returncode == 0, res.stdout + res.stderr
    report = json.loads(res.stdout)
    assert report["control"] is True and report["not_prepared"] == []
    assert all(r["reset"] for r in report["cases"] if r["status"] != NOT_APPLICABLE)


@pytest.mark.interop
@pytest.mark.slow
@pytest.mark.parametrize("device", ["ESME", "GSME", "CHF", "GPF"])
@pytest.mark.parametrize("control", [False, True], ids=["no-control", "control"])
def test_full_run_over_a_115200_baud_pty_pair(device: str, control: bool, tmp_path: Path) -> None:
    state = tmp_path / "state"
    options = ["--config", str(_site(tmp_path))] + (["--control"] if control else [])
    with linked_ports(tmp_path) as (a, b), served(a, state, *options):
        res = _conformance(b, state, device, *(["--control"] if control else []))
    assert res.returncode in (0, 1), res.stderr
    report = json.loads(res.stdout)
    conformant, injected = _reference(device)
    s = report["summary"]
    print(f"{device} control={control}: {s} in {report['seconds']} s")
    assert s["total"] == len([c for c in load_cases(require_interop() / "vectors.json", device)])
    if control:
        assert s["conformant"] == conformant
        assert s["fault_injected_conformant"] == injected


def test_setup_errors_exit_2_with_one_line(tmp_path: Path) -> None:
    base = [sys.executable, "-m", "hil", "conformance", "--port", "loop://"]
    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    runs = [
        (["--device-type", "esme", "--device-eui", "nothex", "--keys", str(tmp)], "--device-eui"),
        (["--device-type", "esme", "--device-eui", "00DB1234567890A0", "--keys", str(tmp)],
         "access-control-broker"),
        (["--device-type", "esme", "--device-eui", "00DB1234567890A0", "--keys",
          str(tmp / "missing")], "missing"),
    ]  # fmt: skip
    for args, words in runs:
        res = subprocess.run([*base, *args], capture_output=True, text=True, timeout=120, cwd=ROOT)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert "Traceback" not in res.stderr and words in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1, res.stderr
