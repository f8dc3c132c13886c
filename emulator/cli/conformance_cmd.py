"""``gbcs-emu conformance``: the emulated devices against the DCC reference test data."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from emulator.conformance.cases import (
    ConformanceCase,
    ConformanceDataError,
    load_cases,
    load_rtds_tree,
)
from emulator.conformance.harness import (
    CaseResult,
    ConformanceReport,
    preparation_commands,
    run_cases,
    save_report,
)
from emulator.conformance.junit import write_junit
from emulator.conformance.known import (
    DEFAULT_PATH,
    Gate,
    KnownDifferences,
    KnownDifferencesError,
    case_name,
    gate,
    load_known,
)

_ENV = "GBCS_INTEROP_DIR"


@dataclass(frozen=True, slots=True)
class _Source:
    """What the run reads: the cases, the data set for preparation, keys, a title."""

    cases: tuple[ConformanceCase, ...]
    prepared: dict[str, bytes]
    keys: Path
    title: str
    problems: tuple[str, ...] = ()


def _directory(path: Path, what: str) -> Path:
    """``path`` when it is a directory, else a one-line error naming it."""
    if not path.exists():
        raise click.ClickException(f"{what}{path}: no such directory")
    if not path.is_dir():
        raise click.ClickException(f"{what}{path}: not a directory")
    return path


def _interop_dir(interop: Path | None, *, required: bool) -> Path | None:
    """``--interop`` or ``$GBCS_INTEROP_DIR``, None when neither is given.

    A missing ``--interop`` is always an error; a missing ``$GBCS_INTEROP_DIR`` only
    when the run needs it (``required``), so a stale variable does not stop ``--rtds``.
    """
    if interop is not None:
        return _directory(interop, "--interop ")
    env = os.environ.get(_ENV)
    if not env:
        return None
    if required:
        return _directory(Path(env), f"{_ENV}=")
    return Path(env) if Path(env).is_dir() else None


def _keys_dir(keys: Path | None, *candidates: Path | None) -> Path:
    if keys is not None:
        return _directory(keys, "--keys ")
    for cand in candidates:
        if cand is not None and (cand / "keys").is_dir():
            return cand / "keys"
    raise click.ClickException(
        "no key directory: pass --keys DIR (the public RTDS test keys, in the"
        " <eui>-<ka|ds>.<pem|key> layout) or --interop DIR holding keys/"
    )


def _source(
    interop: Path | None, rtds: Path | None, keys: Path | None, device: str | None
) -> _Source:
    where = _interop_dir(interop, required=rtds is None)
    if rtds is not None:
        _directory(rtds, "--rtds ")
        keys_dir = _keys_dir(keys, rtds, where)
        tree = load_rtds_tree(rtds)
        cases = tuple(c for c in tree.cases if device is None or c.device_type == device)
        if not cases:
            for p in tree.problems:
                click.echo(f"warning: unreadable RTDS file {p}", err=True)
            raise click.ClickException(
                f"--rtds {rtds}: no command/response pair for "
                f"{device or 'an emulated device'} among {tree.files} *_GBCS.HEX files"
                " (expected <use-case folder>/<test case>_COMMAND_GBCS.HEX and"
                " _RESPONSE_GBCS.HEX)"
            )
        return _Source(
            cases,
            preparation_commands(tree.cases),
            keys_dir,
            f"Conformance with the RTDS tree {rtds.resolve().name} (shape of responses)",
            tree.problems,
        )
    if where is None:
        raise click.ClickException(
            "no interop data: pass --interop DIR (holding vectors.json and keys/),"
            f" --rtds DIR (DCC's RTDS folder tree) or set {_ENV}"
        )
    vectors = where / "vectors.json"
    if not vectors.is_file():
        raise click.ClickException(f"no interop data: {where} holds no vectors.json")
    keys_dir = _keys_dir(keys, where)
    return _Source(
        load_cases(vectors, device),
        preparation_commands(load_cases(vectors)),
        keys_dir,
        "Conformance with DCC RTDS 4.5.0 (shape of responses)",
    )


def _check_junit(path: Path) -> None:
    """Refuse a ``--junit`` file that cannot be written, before the run."""
    if path.is_dir():
        raise click.ClickException(f"cannot write to --junit {path}: it is a directory")
    parent = path.parent
    if not parent.is_dir():
        raise click.ClickException(
            f"cannot write to --junit {path}: {parent} is not an existing directory"
        )
    try:
        with tempfile.TemporaryFile(dir=parent):
            pass
    except OSError as e:
        raise click.ClickException(f"cannot write to --junit {path}: {e.strerror or e}") from None


def _check_writable(save: Path) -> None:
    """Refuse an unwritable ``--save`` before the run, naming the path."""
    for part in (save, *save.parents):
        if part.exists():
            if not part.is_dir():
                what = "is" if part == save else f"is under {part}, which is"
                raise click.ClickException(
                    f"cannot write to --save {save}: it {what} not a directory"
                )
            break
    try:
        save.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=save):
            pass
    except OSError as e:
        raise click.ClickException(f"cannot write to --save {save}: {e.strerror or e}") from None


@contextmanager
def _progress(total: int, enabled: bool) -> Iterator[Callable[[CaseResult], None] | None]:
    """A progress bar on stderr (only when it is a terminal and ``enabled``)."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = Progress(
        TextColumn("[bold]conformance"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("RTDS cases  {task.fields[case]}"),
        console=Console(stderr=True),
        transient=True,
    )
    task = bar.add_task("cases", total=total, case="")
    with bar:

        def advance(result: CaseResult) -> None:
            bar.update(task, advance=1, case=result.case.id.rsplit("/", 1)[-1][:24])

        yield advance


@click.command("conformance")
@click.option(
    "--device",
    type=click.Choice(["esme", "gsme", "gpf", "chf"], case_sensitive=False),
    help="Only this device type.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--interop",
    type=click.Path(path_type=Path),
    help=f"Directory with vectors.json and keys/ (default: ${_ENV}).",
)
@click.option(
    "--rtds",
    type=click.Path(path_type=Path),
    help="Read the cases from DCC's RTDS folder tree instead: one folder per use case,"
    " <test case>_COMMAND_GBCS.HEX and _RESPONSE_GBCS.HEX files.",
)
@click.option(
    "--keys",
    type=click.Path(path_type=Path),
    help=f"Key directory (default: keys/ of --rtds, else of --interop or ${_ENV}).",
)
@click.option(
    "--save",
    type=click.Path(path_type=Path),
    help="Write every command fed, every response and the emulated devices' certificates.",
)
@click.option(
    "--known-differences",
    "known_path",
    type=click.Path(path_type=Path),
    default=DEFAULT_PATH,
    show_default="the file shipped with the package",
    help="TOML file of the RTDS cases allowed to differ, each with its RTDS evidence.",
)
@click.option(
    "--junit",
    type=click.Path(path_type=Path),
    help="Write a JUnit XML report: one test case per RTDS case.",
)
@click.option("--verbose", "-v", is_flag=True, help="One line per case, not per use case.")
def conformance_cmd(
    device: str | None,
    as_json: bool,
    interop: Path | None,
    rtds: Path | None,
    keys: Path | None,
    save: Path | None,
    known_path: Path,
    junit: Path | None,
    verbose: bool,
) -> None:
    """Feed every RTDS command to a fresh emulated device and compare the response's
    shape with the RTDS response: envelope, CRA, message code, echoed counter,
    originator/recipient, date-time presence, payload structure.

    The exit status is 1 when a case differs (or is not answered) and is not listed in
    the known-differences file, differs elsewhere than its entry allows, or when a
    listed case now conforms (a stale entry: remove it).

    The cases come from vectors.json (--interop, or $GBCS_INTEROP_DIR) or from the RTDS
    as DCC distributes it (--rtds). A file of the tree that cannot be read is named on
    stderr, the rest is run, and the exit status is 1."""
    dtype = device.upper() if device else None
    try:
        source = _source(interop, rtds, keys, dtype)
    except ConformanceDataError as e:
        raise click.ClickException(str(e)) from None
    try:
        known = load_known(known_path)
    except KnownDifferencesError as e:
        raise click.ClickException(f"--known-differences {e}") from None
    if save is not None:
        _check_writable(save)
    if junit is not None:
        _check_junit(junit)
    with _progress(len(source.cases), not as_json) as progress:
        try:
            report = run_cases(
                source.cases, source.keys, prepared=source.prepared, progress=progress
            )
        except ConformanceDataError as e:
            raise click.ClickException(str(e)) from None
    judged = gate(report.results, known)
    if as_json:
        data = report.to_json()
        for case, r in zip(data["cases"], report.results, strict=True):
            verdict, entry = judged.verdict(r)
            case["gate"] = verdict
            if entry is not None:
                case["known_difference"] = {"kind": entry.kind, "evidence": entry.evidence}
        data["gate"] = _gate_json(judged, known)
        if rtds is not None:
            data["unreadable_files"] = list(source.problems)
        click.echo(json.dumps(data, indent=2))
    else:
        _print(report, verbose, source.title, judged)
        _print_gate(judged, known)
    failed = False
    if junit is not None:
        try:
            write_junit(junit, report, judged)
        except OSError as e:
            click.echo(f"error: cannot write to --junit {junit}: {e.strerror or e}", err=True)
            failed = True
    if not _report_gate(judged, known, whole_set=device is None):
        failed = True
    if save is not None:
        try:
            save_report(save, report)
        except OSError as e:
            where = e.filename or save
            click.echo(f"error: cannot write to --save {where}: {e.strerror or e}", err=True)
            failed = True
    if report.results and not any(r.status == "conformant" for r in report.results):
        # nothing at all conformed: almost always the wrong keys or a foreign tree, which
        # a CI job must not take for a pass
        click.echo(
            f"error: none of the {len(report.results)} case(s) conformed; are --keys the "
            "keys this RTDS was made with?",
            err=True,
        )
        failed = True
    for p in source.problems:
        click.echo(f"warning: unreadable RTDS file {p}", err=True)
    if source.problems:
        click.echo(
            f"error: {len(source.problems)} file(s) of --rtds {rtds} could not be read"
            " (named above); the other cases were run",
            err=True,
        )
        failed = True
    if failed:
        sys.exit(1)


def _gate_json(judged: Gate, known: KnownDifferences) -> dict[str, object]:
    return {
        "passed": judged.passed,
        "known_differences_file": str(known.path),
        "failures": [r.case.id for r in judged.failures],
        "beyond_known": [r.case.id for r, _ in judged.beyond],
        "known": [r.case.id for r, _ in judged.known],
        "stale": [r.case.id for r, _ in judged.stale],
        "unused": [e.case for e in judged.unused],
    }


def _report_gate(judged: Gate, known: KnownDifferences, *, whole_set: bool) -> bool:
    """Say on stderr what fails the gate (and what is stale or unused); True: it passed.

    A passing run writes nothing here: the known differences are part of the report
    (stdout, or the ``gate`` of ``--json``)."""
    where = known.path
    for r, entry in judged.beyond:
        allowed = ", ".join(entry.where or ())
        click.echo(
            f"error: {case_name(r)} ({r.case.device_type}) differs beyond its entry in {where}"
            f" (allowed: {allowed}): {r.detail}",
            err=True,
        )
    beyond = {id(r) for r, _ in judged.beyond}
    for r in judged.failures:
        if id(r) not in beyond:
            click.echo(
                f"error: {case_name(r)} ({r.case.device_type}) {r.status} and is not a known"
                f" difference in {where}: {r.detail}",
                err=True,
            )
    for r, _ in judged.stale:
        click.echo(
            f"error: stale known difference: {case_name(r)} ({r.case.device_type}) now"
            f" conforms; remove its entry from {where}",
            err=True,
        )
    if whole_set:
        for e in judged.unused:
            click.echo(
                f"warning: known difference {e.case} in {where} names no case of this run",
                err=True,
            )
    if not judged.passed:
        click.echo(
            f"error: conformance gate failed: {len(judged.failures)} unlisted difference(s),"
            f" {len(judged.stale)} stale entr{'y' if len(judged.stale) == 1 else 'ies'}",
            err=True,
        )
    return judged.passed


def _print_gate(judged: Gate, known: KnownDifferences) -> None:
    """The gate's verdict under the table: passed or failed, and the known differences."""
    verdict = "passed" if judged.passed else "FAILED"
    listed = ", ".join(case_name(r) for r, _ in judged.known)
    click.echo(
        f"Gate {verdict}: {len(judged.failures)} unlisted difference(s),"
        f" {len(judged.stale)} stale entr{'y' if len(judged.stale) == 1 else 'ies'},"
        f" {len(judged.known)} known difference(s) from {known.path}"
        + (f": {listed}" if listed else "")
    )


def _known_tag(result: CaseResult, judged: Gate | None) -> str:
    """``[known difference] `` before the detail of a case the gate lets differ."""
    if judged is not None and judged.verdict(result)[0] == "known":
        return "[known difference] "
    return ""


def _status_text(result: CaseResult, judged: Gate | None) -> str:
    if judged is None:
        return result.status
    verdict, _ = judged.verdict(result)
    return {"known": "known diff", "stale": "stale entry", "beyond": "beyond known"}.get(
        verdict, result.status
    )


def _print(
    report: ConformanceReport, verbose: bool, title: str, judged: Gate | None = None
) -> None:
    """One row per use case (or case), one line each; the differences in full below."""
    console = Console()
    console.print(title, style="bold", highlight=False)
    table = Table()
    # Fixed widths for the short columns; the name column gets what is left of the
    # console (borders and padding take 13), ellipsised, so every row stays one line.
    table.add_column("device", no_wrap=True, width=6)
    table.add_column(
        "use case" if not verbose else "case",
        no_wrap=True,
        overflow="ellipsis",
        max_width=max(12, console.width - 13 - 6 - 5 - 11),
    )
    table.add_column("ok", justify="right", no_wrap=True, width=5)
    table.add_column("result", no_wrap=True, overflow="ellipsis", width=11)
    notes: list[str] = []
    if verbose:
        for r in report.results:
            name = r.case.id.rsplit("/", 1)[-1]
            table.add_row(
                r.case.device_type,
                name,
                "1/1" if r.status == "conformant" else "0/1",
                _status_text(r, judged),
            )
            if r.detail:
                notes.append(f"{name}: {_known_tag(r, judged)}{r.detail}")
    else:
        for (dev, uc), results in sorted(report.by_use_case().items()):
            ok = sum(r.status == "conformant" for r in results)
            bad = [r for r in results if r.status != "conformant"]
            text = "conformant" if not bad else f"{len(bad)} {_status_text(bad[0], judged)}"
            table.add_row(dev, uc, f"{ok}/{len(results)}", text)
            notes.extend(
                f"{r.case.id.rsplit('/', 1)[-1]}: {_known_tag(r, judged)}{r.detail}" for r in bad
            )
    console.print(table)
    if notes:
        console.print("Not conformant:", style="bold")
        for n in notes:
            console.print(f"- {n}", highlight=False, markup=False, soft_wrap=True)
    injected = sum(r.fault_injected for r in report.results)
    if injected:
        console.print(
            f"{injected} _ERROR cases were answered through fault injection"
            " (armed with the codes the RTDS case names).",
            highlight=False,
        )
    known: Counter[str] = Counter()
    if judged is not None:
        known.update(r.case.device_type for r, _ in judged.known)
    for dev, counts in sorted(report.by_device().items()):
        total = sum(counts.values())
        listed = f" ({known[dev]} known)" if known[dev] else ""
        console.print(
            f"{dev}: {counts['conformant']}/{total} conformant ({report.rate(dev):.0%}),"
            f" {counts['differs']} differ{listed}, {counts['unsupported']} unsupported",
            highlight=False,
        )
