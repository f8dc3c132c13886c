"""The conformance gate: known-differences file, exit status, stale entries, JUnit output."""

from __future__ import annotations

import importlib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner

from emulator.cli import main
from emulator.conformance.cases import ConformanceCase
from emulator.conformance.harness import CONFORMANT, DIFFERS, CaseResult, ConformanceReport
from emulator.conformance.junit import junit_xml
from emulator.conformance.known import (
    DEFAULT_PATH,
    KnownDifferencesError,
    gate,
    load_known,
    parse_known,
)
from emulator.conformance.shape import Difference

# the module (emulator.cli exports the click command under the same name)
cmd = importlib.import_module("emulator.cli.conformance_cmd")

EVIDENCE = "RTDS answers the same command two ways in cases X and Y"


def _case(name: str, device: str = "ESME", *, error: bool = False) -> ConformanceCase:
    return ConformanceCase(
        id=f"RTDS-4.5.0/1.1_{name.split('_')[0]}/{name}",
        rtds_case=name.split("_")[0],
        use_case=name.split("_")[0],
        device_type=device,
        variant=name.split("_", 1)[1],
        error_variant=error,
        command=b"",
        response=b"",
        message_code=1,
    )


def _ok(name: str, device: str = "ESME", *, injected: bool = False) -> CaseResult:
    return CaseResult(_case(name, device, error=injected), CONFORMANT, "", fault_injected=injected)


def _differs(name: str, *where: str, device: str = "ESME") -> CaseResult:
    diffs = tuple(Difference(w, "octet-string(4)", "octet-string(3)") for w in where)
    return CaseResult(_case(name, device), DIFFERS, f"{len(diffs)} shape difference(s)", diffs)


def _toml(*entries: str) -> str:
    return "\n".join(entries)


def _entry(case: str, *, where: str = "", device: str = "", kind: str = "inconsistent") -> str:
    lines = ["[[difference]]", f'case = "{case}"', f'kind = "{kind}"', f'evidence = "{EVIDENCE}"']
    if where:
        lines.append(f"where = [{where}]")
    if device:
        lines.append(f'device = "{device}"')
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the file


def test_shipped_file_parses_and_every_entry_has_evidence() -> None:
    known = load_known(DEFAULT_PATH)
    assert known.entries, "the shipped file lists the current RTDS inconsistencies"
    for e in known.entries.values():
        assert e.kind in ("inconsistent", "out-of-scope")
        assert "RTDS" in e.evidence or "_RESPONSE" in e.evidence or "_SUCCESS" in e.evidence
        assert e.where, f"{e.case}: a shipped entry pins the differences it allows"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[[difference]\n", "not valid TOML"),
        ('[[difference]]\ncase = "A_1"\nkind = "odd"\nevidence = "' + EVIDENCE + '"\n', "kind"),
        ('[[difference]]\ncase = "A_1"\nkind = "inconsistent"\nevidence = "short"\n', "too short"),
        ('[[difference]]\nkind = "inconsistent"\nevidence = "' + EVIDENCE + '"\n', ".case"),
        (_entry("A_1") + 'colour = "red"\n', "unknown key"),
        (_entry("A_1", where='""'), ".where"),
        (_entry("A_1", device="PPMID"), ".device"),
        (_entry("A_1") + _entry("A_1"), "listed twice"),
        ('cases = ["A_1"]\n', "unknown key"),
    ],
)
def test_bad_file_gives_one_line_naming_file_and_key(text: str, expected: str) -> None:
    with pytest.raises(KnownDifferencesError) as err:
        parse_known(text, Path("kd.toml"))
    message = str(err.value)
    assert message.startswith("kd.toml: ")
    assert expected in message
    assert "\n" not in message


# --------------------------------------------------------------------------- the gate


def test_gate_separates_unlisted_known_stale_beyond_and_unused() -> None:
    known = parse_known(
        _toml(
            _entry("B_1", where='"payload.dlms.data[3]"'),
            _entry("C_1"),
            _entry("D_1", where='"payload.dlms.data[3]"'),
            _entry("E_1"),
            _entry("F_1", device="GSME"),
        ),
        Path("kd.toml"),
    )
    results = [
        _ok("A_1"),
        _differs("B_1", "payload.dlms.data[3]"),  # listed, as listed
        _ok("C_1"),  # listed, now conforms: stale
        _differs("D_1", "payload.dlms.data[3]", "header.counter"),  # beyond its entry
        _differs("G_1", "header.cra"),  # not listed
        _differs("F_1", "header.cra"),  # listed for another device type
    ]
    g = gate(results, known)
    assert [r.case.id.rsplit("/", 1)[-1] for r in g.failures] == ["D_1", "G_1", "F_1"]
    assert [r.case.id.rsplit("/", 1)[-1] for r, _ in g.known] == ["B_1"]
    assert [r.case.id.rsplit("/", 1)[-1] for r, _ in g.stale] == ["C_1"]
    assert [r.case.id.rsplit("/", 1)[-1] for r, _ in g.beyond] == ["D_1"]
    assert [e.case for e in g.unused] == ["E_1", "F_1"]
    assert not g.passed
    assert g.verdict(results[0]) == ("pass", None)
    assert g.verdict(results[2])[0] == "stale"


def test_gate_passes_when_every_difference_is_listed() -> None:
    known = parse_known(_entry("B_1"), Path("kd.toml"))
    g = gate([_ok("A_1"), _differs("B_1", "x")], known)
    assert g.passed and not g.failures and not g.stale


def test_stale_entry_alone_fails_the_gate() -> None:
    known = parse_known(_entry("A_1"), Path("kd.toml"))
    g = gate([_ok("A_1")], known)
    assert not g.failures
    assert not g.passed


# --------------------------------------------------------------------------- the command


@pytest.fixture
def fake_run(monkeypatch: pytest.MonkeyPatch) -> list[CaseResult]:
    """The command runs on ``results`` (filled by the test) instead of the RTDS set."""
    results: list[CaseResult] = []

    def source(*_: object) -> cmd._Source:
        return cmd._Source((), {}, Path("."), "fake run")

    def run_cases(*_: object, **__: object) -> ConformanceReport:
        return ConformanceReport(results=list(results))

    monkeypatch.setattr(cmd, "_source", source)
    monkeypatch.setattr(cmd, "run_cases", run_cases)
    return results


def _run(*args: str) -> tuple[int, str, str]:
    res = CliRunner().invoke(main, ["conformance", *args])
    assert res.exception is None or isinstance(res.exception, SystemExit), res.exception
    return res.exit_code, res.stdout, res.stderr


def test_exit_zero_when_everything_conforms(fake_run: list[CaseResult], tmp_path: Path) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text("")
    fake_run.extend([_ok("A_1"), _ok("B_1")])
    code, _, err = _run("--known-differences", str(kd))
    assert code == 0, err


def test_exit_one_on_an_unlisted_difference(fake_run: list[CaseResult], tmp_path: Path) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text("")
    fake_run.extend([_ok("A_1"), _differs("B_1", "payload.dlms.data[3]")])
    code, _, err = _run("--known-differences", str(kd))
    assert code == 1
    assert "B_1 (ESME) differs and is not a known difference" in err
    assert "conformance gate failed: 1 unlisted difference(s)" in err


def test_exit_zero_when_the_difference_is_listed(
    fake_run: list[CaseResult], tmp_path: Path
) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text(_entry("B_1", where='"payload.dlms.data[3]"'))
    fake_run.extend([_ok("A_1"), _differs("B_1", "payload.dlms.data[3]")])
    code, out, err = _run("--known-differences", str(kd), "-v")
    assert code == 0, err
    assert "known diff" in out
    assert (
        "Gate passed: 0 unlisted difference(s), 0 stale entries,"
        f" 1 known difference(s) from {kd}: B_1" in out
    )
    assert "[known difference] 1 shape difference(s)" in out
    assert err == ""  # a passing run says nothing on stderr


def test_exit_one_when_a_listed_case_differs_elsewhere(
    fake_run: list[CaseResult], tmp_path: Path
) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text(_entry("B_1", where='"payload.dlms.data[3]"'))
    fake_run.extend([_ok("A_1"), _differs("B_1", "payload.dlms.data[3]", "header.cra")])
    code, _, err = _run("--known-differences", str(kd))
    assert code == 1
    assert "B_1 (ESME) differs beyond its entry" in err


def test_stale_entry_is_reported_and_fails(fake_run: list[CaseResult], tmp_path: Path) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text(_entry("A_1"))
    fake_run.append(_ok("A_1"))
    code, out, err = _run("--known-differences", str(kd))
    assert code == 1
    assert f"stale known difference: A_1 (ESME) now conforms; remove its entry from {kd}" in err
    assert "Gate FAILED: 0 unlisted difference(s), 1 stale entry, 0 known" in out


def test_bad_known_file_is_one_line_before_the_run(
    fake_run: list[CaseResult], tmp_path: Path
) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text('[[difference]]\ncase = "A_1"\nkind = "maybe"\nevidence = "' + EVIDENCE + '"')
    fake_run.append(_ok("A_1"))
    code, out, err = _run("--known-differences", str(kd))
    assert code == 1
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert str(kd) in lines[0] and "difference[0] (A_1).kind" in lines[0]
    assert "inconsistent, out-of-scope" in lines[0]
    assert "Traceback" not in out + err


def test_missing_known_file_is_one_line(fake_run: list[CaseResult], tmp_path: Path) -> None:
    code, _, err = _run("--known-differences", str(tmp_path / "none.toml"))
    assert code == 1
    assert "cannot read" in err and "none.toml" in err


def test_json_report_carries_the_gate(fake_run: list[CaseResult], tmp_path: Path) -> None:
    import json

    kd = tmp_path / "kd.toml"
    kd.write_text(_entry("B_1"))
    fake_run.extend([_differs("A_1", "x"), _differs("B_1", "y")])
    code, out, _ = _run("--known-differences", str(kd), "--json")
    assert code == 1
    data = json.loads(out)
    assert data["gate"]["passed"] is False
    assert [c["gate"] for c in data["cases"]] == ["fail", "known"]
    assert data["cases"][1]["known_difference"]["evidence"] == EVIDENCE


# --------------------------------------------------------------------------- JUnit


def test_junit_has_one_test_case_per_rtds_case(fake_run: list[CaseResult], tmp_path: Path) -> None:
    kd = tmp_path / "kd.toml"
    kd.write_text(_entry("B_1", kind="out-of-scope") + _entry("D_1") + _entry("C_1", device="GSME"))
    fake_run.extend(
        [
            _ok("A_1"),
            _differs("B_1", "payload.dlms.data[3]"),
            _ok("C_1", "GSME", injected=True),
            _differs("D_1", "header.cra", device="GSME"),
            _differs("E_1", "payload.dlms.data[3]", "header.cra", device="GSME"),
        ]
    )
    out = tmp_path / "junit.xml"
    code, _, err = _run("--known-differences", str(kd), "--junit", str(out))
    assert code == 1, err  # E_1 unlisted, C_1 stale
    root = ET.parse(out).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("5", "2", "2")
    cases = {c.get("name"): c for c in root.iter("testcase")}
    assert sorted(cases) == ["A_1", "B_1", "C_1", "D_1", "E_1"]
    assert cases["A_1"].find("failure") is None and cases["A_1"].find("skipped") is None
    assert cases["A_1"].get("classname") == "conformance.ESME.A"
    skipped = cases["B_1"].find("skipped")
    assert skipped is not None and "not applicable" in skipped.get("message", "")
    assert EVIDENCE in skipped.get("message", "")
    d_skip = cases["D_1"].find("skipped")
    assert d_skip is not None and "RTDS inconsistent" in d_skip.get("message", "")
    stale = cases["C_1"].find("failure")
    assert stale is not None and stale.get("type") == "stale-known-difference"
    props = {p.get("name"): p.get("value") for p in cases["C_1"].iter("property")}
    assert props["fault-injected"] == "true"
    assert "fault injection" in (cases["C_1"].findtext("system-out") or "")
    failure = cases["E_1"].find("failure")
    assert failure is not None
    assert failure.text is not None
    assert "payload.dlms.data[3]: ours octet-string(4), theirs octet-string(3)" in failure.text
    assert "header.cra" in failure.text
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert suites["conformance.GSME"].get("tests") == "3"


def test_junit_unwritable_path_is_refused_before_the_run(
    fake_run: list[CaseResult], tmp_path: Path
) -> None:
    code, _, err = _run("--junit", str(tmp_path / "no" / "such" / "j.xml"))
    assert code == 1
    assert "cannot write to --junit" in err


def test_junit_xml_marks_conformant_cases_passed() -> None:
    report = ConformanceReport(results=[_ok("A_1"), _ok("B_1", "GPF")])
    tree = junit_xml(report, gate(report.results, parse_known("", Path("kd.toml"))))
    root = tree.getroot()
    assert root.get("tests") == "2" and root.get("failures") == "0"


# --------------------------------------------------------------------------- the RTDS set


@pytest.mark.interop
def test_shipped_entries_are_the_shared_sets_known_differences() -> None:
    """Every shipped entry names a case of the shared set that differs exactly as listed."""
    from emulator.conformance.cases import load_cases
    from emulator.conformance.harness import preparation_commands, run_cases
    from tests.interop import require_interop

    d = require_interop()
    all_cases = load_cases(d / "vectors.json")
    known = load_known()
    listed = tuple(c for c in all_cases if c.id.rsplit("/", 1)[-1] in known.entries)
    report = run_cases(listed, d / "keys", prepared=preparation_commands(all_cases))
    g = gate(report.results, known)
    assert not g.unused, [e.case for e in g.unused]
    assert not g.failures, [r.detail for r in g.failures]
    assert not g.stale, [r.case.id for r, _ in g.stale]


@pytest.mark.interop
def test_whole_shared_set_passes_the_gate_with_one_junit_case_per_rtds_case(
    tmp_path: Path,
) -> None:
    """The README's main command: the shipped file covers every difference left, exit 0;
    the JUnit report has every RTDS case, the listed ones skipped with their evidence."""
    from emulator.conformance.cases import load_cases
    from tests.interop import require_interop

    d = require_interop()
    names = {c.id.rsplit("/", 1)[-1] for c in load_cases(d / "vectors.json")}
    out = tmp_path / "conformance.xml"
    res = CliRunner().invoke(main, ["conformance", "--interop", str(d), "--junit", str(out)])
    assert res.exit_code == 0, res.stderr
    assert "conformance gate failed" not in res.stderr
    root = ET.parse(out).getroot()
    cases = list(root.iter("testcase"))
    assert sorted(c.get("name") or "" for c in cases) == sorted(names)
    assert root.get("failures") == "0"
    known = load_known()
    skipped = {c.get("name") for c in cases if c.find("skipped") is not None}
    assert skipped == set(known.entries)
    for c in cases:
        el = c.find("skipped")
        if el is not None:
            assert known.entries[c.get("name") or ""].evidence in (el.get("message") or "")
    # the side of each contradiction the emulator follows is checked: some other case the
    # evidence cites conforms (an entry cannot cover both sides of a contradiction)
    passed = {c.get("name") for c in cases if not list(c.iter("skipped")) + list(c.iter("failure"))}
    for entry in known.entries.values():
        cited = set(_CASE_NAME.findall(entry.evidence)) - {entry.case}
        assert cited & passed, f"{entry.case}: no case its evidence cites conforms"


_CASE_NAME = re.compile(r"\b[A-Z]{2,4}\d+[A-Za-z]*_\d+(?:\.\d+)*_[A-Z0-9_]*[A-Z0-9]\b")


@pytest.mark.interop
def test_shipped_evidence_cites_other_rtds_cases_that_exist() -> None:
    """Each entry's evidence names at least one other RTDS case (the contradicting
    response), and every case it names is one of the shared set."""
    from emulator.conformance.cases import load_cases
    from tests.interop import require_interop

    d = require_interop()
    names = {c.id.rsplit("/", 1)[-1] for c in load_cases(d / "vectors.json")}
    for entry in load_known().entries.values():
        assert entry.case in names, entry.case
        cited = set(_CASE_NAME.findall(entry.evidence))
        assert cited - {entry.case}, f"{entry.case}: the evidence names no other RTDS case"
        assert cited <= names, f"{entry.case}: cites unknown cases {sorted(cited - names)}"
