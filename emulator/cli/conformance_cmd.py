"""``gbcs-emu conformance``: the emulated devices against the DCC reference test data."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from emulator.conformance.cases import ConformanceDataError
from emulator.conformance.harness import ConformanceReport, run_conformance


def _default_interop() -> Path | None:
    env = os.environ.get("GBCS_INTEROP_DIR")
    if env:
        return Path(env)
    for cand in (Path.cwd() / ".." / "shared" / "interop", Path.cwd() / "shared" / "interop"):
        if (cand / "vectors.json").is_file():
            return cand.resolve()
    return None


@click.command("conformance")
@click.option(
    "--device",
    type=click.Choice(["esme", "gsme", "gpf", "chf"], case_sensitive=False),
    help="Only this device type.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@click.option(
    "--interop",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory with vectors.json and keys/ (default: $GBCS_INTEROP_DIR).",
)
@click.option(
    "--save",
    type=click.Path(file_okay=False, path_type=Path),
    help="Write every command fed, every response and the emulated devices' certificates.",
)
@click.option("--verbose", "-v", is_flag=True, help="One line per case, not per use case.")
def conformance_cmd(
    device: str | None, as_json: bool, interop: Path | None, save: Path | None, verbose: bool
) -> None:
    """Feed every RTDS command to a fresh emulated device and compare the response's
    shape with the RTDS response: envelope, CRA, message code, echoed counter,
    originator/recipient, date-time presence, payload structure."""
    where = interop or _default_interop()
    if where is None or not (where / "vectors.json").is_file():
        raise click.ClickException(
            "no interop data: pass --interop DIR (holding vectors.json and keys/)"
            " or set GBCS_INTEROP_DIR"
        )
    try:
        report = run_conformance(
            where / "vectors.json",
            where / "keys",
            device=device.upper() if device else None,
            save=save,
        )
    except ConformanceDataError as e:
        raise click.ClickException(str(e)) from None
    if as_json:
        click.echo(json.dumps(report.to_json(), indent=2))
        return
    _print(report, verbose)


def _print(report: ConformanceReport, verbose: bool) -> None:
    console = Console()
    table = Table(title="Conformance with DCC RTDS 4.5.0 (shape of responses)")
    for col in ("device", "use case", "pairs", "conformant", "result"):
        table.add_column(col)
    if verbose:
        for r in report.results:
            tag = " (fault-injected)" if r.fault_injected else ""
            table.add_row(
                r.case.device_type,
                r.case.id.rsplit("/", 1)[-1],
                "1",
                "1" if r.status == "conformant" else "0",
                (r.status + tag + (f": {r.detail}" if r.detail else ""))[:160],
            )
    else:
        for (dev, uc), results in sorted(report.by_use_case().items()):
            ok = sum(r.status == "conformant" for r in results)
            bad = [r for r in results if r.status != "conformant"]
            text = "conformant" if not bad else f"{bad[0].status}: {bad[0].detail}"
            table.add_row(dev, uc, str(len(results)), str(ok), text[:160])
    console.print(table)
    for dev, counts in sorted(report.by_device().items()):
        total = sum(counts.values())
        console.print(
            f"{dev}: {counts['conformant']}/{total} conformant ({report.rate(dev):.0%}),"
            f" {counts['differs']} differ, {counts['unsupported']} unsupported"
        )
