"""``gbcs-emu hil``: serve emulated devices on a serial port, drive real meters, bridge.

Registered with ``gbcs-emu`` through the ``gbcs_emu.commands`` entry point (the
emulator package never imports ``hil``); also runnable as ``python -m hil``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from emulator.runtime.config import ConfigError, FleetConfig, load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.signals import stop_on_signals
from emulator.transport.access import BrokerAccess, broker_access_options, from_cli
from emulator.transport.base import BusError
from gbcs.pcap import PcapRecord, write_pcap
from keys.certs import as_eui
from keys.store import KeyStore

from .bench import Scenario, ScenarioError, StepResult, junit_xml, load_scenario, run_scenario
from .faults import LinkFaults
from .framing import FRAMINGS, GFI_NUMBERINGS, get_framing

if TYPE_CHECKING:
    from .link import SerialBus

DEVICE_CHOICES = ("esme", "gsme", "gpf", "chf", "site")


def _settings(baud: int) -> Any:
    """Port settings from this command's options (baud is passed explicitly)."""
    from .link import SerialSettings

    params = click.get_current_context().params
    flow = params.get("flow", "none")
    return SerialSettings(
        baudrate=baud,
        parity=str(params.get("parity", "N")),
        stopbits=float(params.get("stopbits", "1")),
        rtscts=flow == "rtscts",
        xonxoff=flow == "xonxoff",
    )


@contextlib.contextmanager
def _stopping(duration: float | None) -> Iterator[asyncio.Event]:
    """An event set on SIGTERM/SIGINT, or after ``duration`` seconds, for the block's
    length (the handlers go before the loop closes: see :mod:`emulator.signals`)."""
    stop = asyncio.Event()
    with stop_on_signals(stop):
        timer = None
        if duration is not None:
            timer = asyncio.get_running_loop().call_later(duration, stop.set)
        try:
            yield stop
        finally:
            if timer is not None:
                timer.cancel()


@dataclass(frozen=True, slots=True)
class Line:
    """The port options every ``hil`` command shares, and the bus they make."""

    port: str
    framing: str
    settings: Any
    faults: str | None
    reliable: bool
    framing_options: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_options(
        cls, port: str, framing: str, baud: int, faults: str | None, reliable: bool
    ) -> Line:
        """Validated options (call inside the click command)."""
        _faults(faults)
        params = click.get_current_context().params
        options: dict[str, Any] = {}
        if framing == "gfi":
            options["numbering"] = params.get("gfi_numbering") or "zero"
        try:
            get_framing(framing, **options)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--framing") from None
        if baud <= 0:
            raise click.BadParameter(f"{baud} is not a baud rate (> 0)", param_hint="--baud")
        return cls(port, framing, _settings(baud), faults, reliable, options)

    def bus(
        self,
        side: str,
        site: Any,
        *,
        on_frame: Any = None,
        faults_in: bool = True,
    ) -> SerialBus:
        """A :class:`SerialBus` on this port (faults on what it sends, and receives)."""
        from .link import SerialBus

        return SerialBus(
            self.port,
            get_framing(self.framing, **self.framing_options),
            side=side,
            site=site,
            settings=self.settings,
            faults_out=_faults(self.faults),
            faults_in=_faults(self.faults) if faults_in else None,
            on_frame=on_frame,
            reliable=self.reliable,
        )

    def describe(self) -> str:
        """``/dev/ttyUSB0, framing binary, 115200 baud 8N1, flow none, reliable off``."""
        st = self.settings
        stop = f"{st.stopbits:g}"
        flow = "rtscts" if st.rtscts else "xonxoff" if st.xonxoff else "none"
        framing = self.framing
        if self.framing_options.get("numbering"):
            framing += f" (#n: {self.framing_options['numbering']})"
        text = (
            f"{self.port}, framing {framing}, {st.baudrate} baud {st.bytesize}{st.parity}{stop}, "
            f"flow {flow}, reliable {'on' if self.reliable else 'off'}"
        )
        return text + (f", faults {self.faults}" if self.faults else "")


def _faults(spec: str | None) -> LinkFaults | None:
    if not spec:
        return None
    try:
        return LinkFaults.parse(spec)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--faults") from None


def _port_options(f: Any) -> Any:
    f = click.option("--faults", help="Link faults, e.g. corrupt=0.01,drop_byte=0.01.")(f)
    f = click.option(
        "--reliable",
        is_flag=True,
        help="Link-level acknowledgements and resends (both ends; binary framing advised).",
    )(f)
    f = click.option("--baud", type=int, default=115200, show_default=True)(f)
    f = click.option(
        "--parity", type=click.Choice(["N", "E", "O", "M", "S"]), default="N", show_default=True
    )(f)
    f = click.option(
        "--stopbits", type=click.Choice(["1", "1.5", "2"]), default="1", show_default=True
    )(f)
    f = click.option(
        "--flow",
        type=click.Choice(["none", "rtscts", "xonxoff"]),
        default="none",
        show_default=True,
        help="Flow control.",
    )(f)
    f = click.option(
        "--gfi-numbering",
        type=click.Choice(GFI_NUMBERINGS),
        default="zero",
        show_default=True,
        help="gfi framing: the n written in GBCS:DATA#n (zero: always #0, as DCC's tool "
        "writes; sequence: 0, 1, 2, ...). Any n is accepted on input.",
    )(f)
    f = click.option("--framing", type=click.Choice(FRAMINGS), default="binary", show_default=True)(
        f
    )
    f = click.option(
        "--port",
        "port",
        required=True,
        help="serial_for_url URL: /dev/ttyUSB0, a pty path, socket://h:p, loop://",
    )(f)
    return f


@click.group("hil")
def hil_group() -> None:
    """Hardware in the loop: emulated devices on serial ports, real meters driven by
    bench scenarios."""


# ------------------------------------------------------------------ reporting


def _n(v: Any) -> str:
    return f"{v:,}" if isinstance(v, int) else str(v)


def link_summary(report: Mapping[str, Any]) -> str:
    """One line from :meth:`SerialBus.report` (what ``link: {...}`` used to print)."""
    dec = report.get("decoder", {})
    parts = [
        f"frames in {_n(report.get('frames_in', 0))} out {_n(report.get('frames_out', 0))}",
        f"bytes in {_n(report.get('bytes_in', 0))} out {_n(report.get('bytes_out', 0))}",
        f"undecodable {_n(report.get('undecodable', 0))}",
        f"garbage {_n(dec.get('garbage_bytes', 0))} B",
        f"resyncs {_n(dec.get('resyncs', 0))}",
    ]
    if report.get("control_in") or report.get("control_out") or report.get("control_undecodable"):
        parts.append(
            f"control in {_n(report.get('control_in', 0))} out "
            f"{_n(report.get('control_out', 0))} undecodable "
            f"{_n(report.get('control_undecodable', 0))}"
        )
    for key, label in (
        ("crc_errors", "CRC errors"),
        ("truncated", "cut"),
        ("oversize", "oversize"),
    ):
        if dec.get(key):
            parts.append(f"{label} {_n(dec[key])}")
    for key, label in (
        ("link_retransmits", "resent"),
        ("link_duplicates", "duplicates"),
        ("link_lost", "lost"),
    ):
        if report.get(key):
            parts.append(f"{label} {_n(report[key])}")
    for side in ("faults_out", "faults_in"):
        stats = report.get(side, {}).get("stats", {})
        done = ", ".join(f"{k} {_n(v)}" for k, v in stats.items() if v)
        if done:
            parts.append(f"{side.replace('_', ' ')}: {done}")
    return "; ".join(parts)


def results_table(title: str, results: list[StepResult]) -> Table:
    """The ``hil drive`` table; readable at 80 columns (long text folds, headers whole)."""
    t = Table(title=title)
    t.add_column("step", min_width=4, ratio=2, overflow="fold")
    t.add_column("result", min_width=6, no_wrap=True)
    t.add_column("verified", min_width=8, no_wrap=True)
    t.add_column("tries", min_width=5, no_wrap=True, justify="right")
    t.add_column("detail", min_width=6, ratio=3, overflow="fold")
    for r in results:
        t.add_row(
            r.step.name, "pass" if r.passed else "FAIL", r.verified, str(r.attempts), r.detail
        )
    return t


def diff_table(title: str, diffs: list[Any]) -> Table:
    """The ``hil diff`` table; readable at 80 columns."""
    t = Table(title=title)
    t.add_column("step", min_width=4, ratio=2, overflow="fold")
    t.add_column("field", min_width=5, ratio=2, overflow="fold")
    t.add_column("device", min_width=6, ratio=3, overflow="fold")
    t.add_column("emulator", min_width=8, ratio=3, overflow="fold")
    for d in diffs:
        t.add_row(d.step, d.field, str(d.device), str(d.emulator))
    return t


# ------------------------------------------------------------------ output paths


def _output_problem(path: Path | None, option: str) -> str | None:
    """Why ``path`` cannot be written (for ``--check``), or None."""
    if path is None:
        return None
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        return f"{option} {path}: is a directory; give a file path"
    if not parent.is_dir():
        return f"{option} {path}: directory {parent} does not exist"
    target = path if path.exists() else parent
    if not os.access(target, os.W_OK):
        return f"{option} {path}: not writable (permission denied)"
    return None


def _write_output(path: Path, data: str | bytes, option: str) -> str | None:
    """Write one output file; the one-line error, or None."""
    try:
        if isinstance(data, str):
            path.write_text(data)
        else:
            path.write_bytes(data)
    except OSError as e:
        return f"{option} {path}: cannot write: {e.strerror or e}"
    return None


def _fail_all(errors: list[str]) -> None:
    """Print every error on its own line (stderr) and exit 1."""
    if not errors:
        return
    for e in errors[:-1]:
        click.echo(f"Error: {e}", err=True)
    raise click.ClickException(errors[-1])


# ------------------------------------------------------------------ serve


@hil_group.command("serve")
@_port_options
@click.option("--device", type=click.Choice(DEVICE_CHOICES), default="site", show_default=True)
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gbcs-hil-state"),
    show_default=True,
)
@click.option("--duration", type=float, help="Stop after this many seconds.")
@click.option(
    "--stats-interval",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    help="Print a one-line link summary every this many seconds (0: only at the end).",
)
@click.option(
    "--control",
    is_flag=True,
    help="Serve the control API (docs/control.md) for the served devices. It can rewrite "
    "meters: registers, clocks, firmware, power, factory reset. Off by default.",
)
def serve_cmd(
    port: str,
    framing: str,
    baud: int,
    faults: str | None,
    reliable: bool,
    device: str,
    config: Path | None,
    state: Path,
    duration: float | None,
    stats_interval: float,
    control: bool,
    **port_options: Any,
) -> None:
    """Put an emulated device (or a whole site, routed by recipient EUI) on a port.

    Prints what it serves on start (EUIs and device types, port, framing), a one-line
    link summary every --stats-interval seconds and a final one on stop.
    """
    from emulator.runtime.statedir import StateError

    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    line = Line.from_options(port, framing, baud, faults, reliable)
    from .framing import CONTROL_FRAMINGS

    if control and framing not in CONTROL_FRAMINGS:
        raise click.ClickException(
            f"--control needs a framing that carries control frames "
            f"({', '.join(CONTROL_FRAMINGS)}); --framing {framing} cannot (nothing delimits "
            "them in bare bytes)"
        )
    if duration is not None and duration <= 0:
        raise click.BadParameter(
            f"{duration:g} is not a positive duration", param_hint="--duration"
        )
    from emulator.runtime.launch import claim

    try:
        # one owner per state directory: held (with the layout checked, databases and
        # PKI ready) until this command stops
        held = claim(state, cfg, command="gbcs-emu hil serve")
    except StateError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(
            f"--state {state}: cannot use it as a state directory: {e.strerror or e}"
        ) from None
    try:
        (state / "hil.json").write_text(json.dumps({"config": str(config) if config else None}))
        asyncio.run(_serve(line, device, cfg, state, duration, stats_interval, control))
    except BusError as e:
        raise click.ClickException(_port_error(str(e))) from None
    except StateError as e:
        raise click.ClickException(f"--state {state}: {e}") from None
    except (OSError, sqlite3.Error) as e:
        where = getattr(e, "filename", None) or state
        raise click.ClickException(
            f"--state {state}: cannot use {where}: {getattr(e, 'strerror', None) or e}"
        ) from None
    finally:
        held.release()


def _port_error(message: str) -> str:
    if "lock" in message.lower() or "busy" in message.lower():
        return f"{message} (another program has the port open)"
    return message


def served_devices(site: Any, device: str) -> list[tuple[str, bytes]]:
    """(device type, EUI) of what ``hil serve --device`` puts on the line."""
    if device == "site":
        return [(kind, site.euis[kind]) for kind in site.euis]
    return [(device.upper(), site.eui(device.upper()))]


async def _serve(
    line: Line,
    device: str,
    cfg: FleetConfig,
    state: Path,
    duration: float | None,
    stats_interval: float = 10.0,
    control: bool = False,
) -> None:
    from emulator.runtime.clock import RealClock
    from emulator.runtime.server import Emulator

    from .link import DEVICE_SIDE

    site = cfg.site_config(0)
    devices = served_devices(site, device)
    served = {eui for _, eui in devices}
    bus = line.bus(DEVICE_SIDE, lambda eui: site.site_id if eui in served else None)
    emulator = Emulator(cfg, bus, RealClock(), KeyStore(ensure_pki(state)), state, control=control)
    with _stopping(duration) as stop:
        runner = asyncio.create_task(emulator.run(stop))
        ready = asyncio.create_task(emulator.ready.wait())
        await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
        if runner.done():  # the port could not be opened: surface its error
            ready.cancel()
            await runner
            return
        started = time.monotonic()
        enabled = set(getattr(site, "devices", ())) or {kind for kind, _ in devices}
        click.echo(f"hil serve: {site.site_id} on {line.describe()}")
        for kind, eui in devices:
            off = "" if kind in enabled else "  (disabled in the config)"
            click.echo(f"  {kind:<5} {eui.hex().upper()}{off}")
        every = f"every {stats_interval:g} s" if stats_interval > 0 else "at the end"
        click.echo(f"state {state}; link summary {every}; Ctrl-C stops")
        if control:
            click.echo(
                f"control API on, as {line.framing} control frames on the line "
                "(it can rewrite the served devices)"
            )
        (state / "hil-ready").write_text(str(time.time()))

        async def report() -> None:
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), stats_interval)
                    return
                click.echo(f"{time.strftime('%H:%M:%S')} link: {link_summary(bus.report())}")

        reporter = asyncio.create_task(report()) if stats_interval > 0 else None
        try:
            await runner
        finally:
            if reporter is not None:
                reporter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reporter
        final = bus.report()
        click.echo(f"stopped after {time.monotonic() - started:.0f} s; link: {link_summary(final)}")
        with contextlib.suppress(OSError):
            (state / "link-stats.json").write_text(json.dumps(final))


# ------------------------------------------------------------------ drive


@hil_group.command("drive")
@_port_options
@click.option(
    "--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="An emulated device's state dir (its PKI and device keys).",
)
@click.option(
    "--keys",
    "key_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Key directories: organisations' private keys, the meter's certificates.",
)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--pcap", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--check",
    is_flag=True,
    help="Validate the scenario, keys, options and output paths, then exit (the port is "
    "not opened).",
)
def drive_cmd(
    port: str,
    framing: str,
    baud: int,
    faults: str | None,
    reliable: bool,
    script: Path,
    state: Path | None,
    key_dirs: tuple[Path, ...],
    junit: Path | None,
    pcap: Path | None,
    as_json: bool,
    check: bool,
    **port_options: Any,
) -> None:
    """Drive the device on a port through a bench scenario; report, JUnit XML, pcap."""
    scenario = _load_scenario(script)
    line = Line.from_options(port, framing, baud, faults, reliable)
    keys = _keys(state, key_dirs)
    if check:
        _fail_all(
            [p for p in (_output_problem(junit, "--junit"), _output_problem(pcap, "--pcap")) if p]
        )
        _checked(script, scenario, line)
        return
    records: list[PcapRecord] = []
    try:
        results, link = asyncio.run(_drive(line, scenario, keys, state, records))
    except BusError as e:
        raise click.ClickException(_port_error(str(e))) from None
    # Results first: an output file that cannot be written must not hide them.
    if as_json:
        click.echo(
            json.dumps(
                {
                    "passed": all(r.passed for r in results),
                    "link": link,
                    "steps": [
                        {
                            "name": r.step.name,
                            "passed": r.passed,
                            "detail": r.detail,
                            "verified": r.verified,
                            "attempts": r.attempts,
                        }
                        for r in results
                    ],
                }
            )
        )
    else:
        console = Console()
        console.print(results_table(f"bench {script.name} on {port} ({framing})", results))
        console.print(f"link: {link_summary(link)}", overflow="fold")
    errors = []
    if junit is not None:
        errors.append(_write_output(junit, junit_xml(script.stem, results), "--junit"))
    if pcap is not None:
        errors.append(_write_output(pcap, write_pcap(records), "--pcap"))
    _fail_all([e for e in errors if e])
    if not all(r.passed for r in results):
        raise SystemExit(1)


def _load_scenario(script: Path) -> Scenario:
    try:
        return load_scenario(script)
    except ScenarioError as e:
        raise click.ClickException(str(e)) from None


def _checked(script: Path, scenario: Scenario, line: Line) -> None:
    sends = sum(s.use_case is not None for s in scenario.steps)
    click.echo(
        f"ok: {script}: {len(scenario.steps)} step(s) ({sends} use case(s), "
        f"{len(scenario.steps) - sends} alert wait(s)) valid; keys loaded; "
        f"port {line.port} not opened"
    )


def _keys(state: Path | None, key_dirs: tuple[Path, ...]) -> KeyStore:
    if state is None and not key_dirs:
        raise click.UsageError("give --state (an emulated device) or --keys (a real meter)")
    try:
        keys = KeyStore(*key_dirs)
        if state is not None:
            keys.load_directory(state / "pki")
    except (FileNotFoundError, NotADirectoryError) as e:
        hint = " (is --state the served device's state directory?)" if state is not None else ""
        raise click.ClickException(f"{e}{hint}") from None
    except (OSError, ValueError) as e:
        raise click.ClickException(f"cannot load keys: {e}") from None
    if state is not None:
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((state / "hil.json").read_text())
        try:
            cfg = load_config(Path(info["config"]) if info.get("config") else None)
        except ConfigError as e:
            raise click.ClickException(str(e)) from None
        if cfg.seed is None:
            cfg.seed = _state_seed(state)
        add_device_public_keys(keys, cfg, range(1))
    return keys


def _state_seed(state: Path) -> bytes:
    """The fleet seed recorded in a served state directory (read only)."""
    from emulator.runtime.statedir import StateError, load_info

    try:
        info = load_info(state)
    except StateError as e:
        raise click.ClickException(f"--state {state}: {e}") from None
    if info is None:
        raise click.ClickException(
            f"--state {state}: no state.json there; start `gbcs-emu hil serve --state "
            f"{state}` on the device's port first (it creates the device keys)"
        )
    return info.seed_bytes


async def _drive(
    line: Line,
    scenario: Any,
    keys: KeyStore,
    state: Path | None,
    records: list[PcapRecord],
) -> tuple[list[Any], dict[str, Any]]:
    from emulator.headend.client import HeadEnd
    from emulator.headend.identity import CounterError, CounterStore, parties_from_store

    from .link import HEADEND_SIDE

    def capture(direction: str, frame: bytes) -> None:
        records.append(PcapRecord(frame, time.time(), f"{direction} {line.port}"))

    bus = line.bus(HEADEND_SIDE, scenario.site, on_frame=capture)
    where = (state or Path(tempfile.gettempdir())) / "hil-headend-counters.sqlite"
    try:
        counters = CounterStore(where, first=int(time.time()))
    except CounterError as e:
        raise click.ClickException(f"cannot keep the head-end's counters: {e}") from None
    try:
        async with HeadEnd(bus, keys, parties=parties_from_store(keys), counters=counters) as he:
            alerts = he.alerts()
            results = await run_scenario(scenario, he, alerts)
            alerts.close()
            report = bus.report()
    finally:
        counters.close()
    return results, report


# ------------------------------------------------------------------ diff


@hil_group.command("diff")
@_port_options
@click.option(
    "--script", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="The PKI (and device keys) shared by the device and the reference run.",
)
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The reference emulator's site TOML (default: the factory site).",
)
@click.option("--json", "as_json", is_flag=True)
@click.option(
    "--check",
    is_flag=True,
    help="Validate the scenario, config, keys and options, then exit (the port is not opened).",
)
def diff_cmd(
    port: str,
    framing: str,
    baud: int,
    faults: str | None,
    reliable: bool,
    script: Path,
    state: Path,
    config: Path | None,
    as_json: bool,
    check: bool,
    **port_options: Any,
) -> None:
    """Run a bench scenario against the device on the port and against the emulator, and
    report where they differ, field by field."""
    from .diffing import compare_runs, run_reference

    scenario = _load_scenario(script)
    try:
        reference_config = load_config(config)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    line = Line.from_options(port, framing, baud, faults, reliable)
    keys = _keys(state, ())
    if check:
        _checked(script, scenario, line)
        return
    try:
        device, _ = asyncio.run(_drive(line, scenario, keys, state, []))
    except BusError as e:
        raise click.ClickException(_port_error(str(e))) from None
    if reference_config.seed is None:
        reference_config.seed = _state_seed(state)
    emulator = asyncio.run(run_reference(scenario, reference_config, state / "pki"))
    diffs = compare_runs(device, emulator, ignore=scenario.ignore)
    if as_json:
        rows = [
            {"step": d.step, "field": d.field, "device": d.device, "emulator": d.emulator}
            for d in diffs
        ]
        click.echo(json.dumps(rows))
    else:
        Console().print(diff_table(f"{port} vs the emulator: {len(diffs)} difference(s)", diffs))
    if diffs:
        raise SystemExit(1)


@hil_group.command("bridge")
@_port_options
@click.option(
    "--broker",
    required=True,
    help="mqtt[s]://[user@]host[:port] of the runtime's broker (password: "
    "$GBCS_BROKER_PASSWORD or --broker-password-file).",
)
@broker_access_options
@click.option("--site", default="site-0", show_default=True, help="Site id for the topics.")
@click.option(
    "--eui", "euis", multiple=True, required=True, help="EUI-64 of the real device(s) on the port."
)
@click.option("--pcap", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--duration", type=float)
def bridge_cmd(
    port: str,
    framing: str,
    baud: int,
    faults: str | None,
    reliable: bool,
    broker: str,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    site: str,
    euis: tuple[str, ...],
    pcap: Path | None,
    duration: float | None,
    **port_options: Any,
) -> None:
    """Pass frames between a real device on serial and the runtime's MQTT topics."""
    try:
        devices = [as_eui(e).hex().upper() for e in euis]
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--eui") from None
    access = from_cli(
        broker,
        password_file=broker_password_file,
        cafile=cafile,
        certfile=certfile,
        keyfile=keyfile,
    )
    try:
        asyncio.run(
            _bridge(
                Line.from_options(port, framing, baud, faults, reliable),
                access,
                site,
                devices,
                pcap,
                duration,
            )
        )
    except BusError as e:
        raise click.ClickException(str(e)) from None


async def _bridge(
    link: Line,
    broker: BrokerAccess,
    site: str,
    devices: list[str],
    pcap: Path | None,
    duration: float | None,
) -> None:
    from .link import HEADEND_SIDE

    records: list[PcapRecord] = []
    line = link.bus(  # faults on what the bridge sends to the device only
        HEADEND_SIDE,
        site,
        on_frame=lambda d, f: records.append(PcapRecord(f, time.time(), d)),
        faults_in=False,
    )
    # one session per bridged device set: two bridges never steal each other's session
    mqtt = broker.bus(client_id=f"gbcs-bridge-{site}-{devices[0]}", persistent=True)
    await line.start()
    await line.subscribe("gbcs/+/+/#")
    await mqtt.start()
    for eui in devices:
        await mqtt.subscribe(f"gbcs/{site}/{eui}/in")
    click.echo(
        f"bridging {', '.join(devices)} on {link.port} ({link.framing}) to {broker.url}"
        f" as site {site}; Ctrl-C stops",
        err=True,
    )
    with _stopping(duration) as stop:

        async def down() -> None:  # commands from the fleet's head-ends to the real device
            async for m in mqtt.messages():
                await line.write_frame(m.frame)

        async def up() -> None:  # the real device's responses and alerts to the topics
            async for m in line.messages():
                with contextlib.suppress(BusError):
                    await mqtt.publish(m)

        tasks = [asyncio.create_task(down()), asyncio.create_task(up())]
        await stop.wait()
        for t in tasks:
            t.cancel()
        await line.close()
        await mqtt.close()
        if pcap is not None:
            _fail_all([e for e in [_write_output(pcap, write_pcap(records), "--pcap")] if e])


# ------------------------------------------------------------------ conformance


class _SetupFailure(click.ClickException):
    """A ``hil conformance`` setup error: one line, exit status 2."""

    exit_code = 2


def _rtds_source(
    interop: Path | None, rtds: Path | None, rtds_keys: Path | None, device_type: str
) -> tuple[list[Any], dict[str, bytes], KeyStore | None]:
    """(cases of ``device_type``, every command by test-case name, RTDS's keys)."""
    from emulator.conformance.cases import ConformanceDataError, load_cases, load_rtds_tree
    from emulator.conformance.harness import preparation_commands

    env = os.environ.get("GBCS_INTEROP_DIR")
    where = interop or (Path(env) if env else None)
    try:
        if rtds is not None:
            tree = load_rtds_tree(rtds)
            every = list(tree.cases)
            label = f"--rtds {rtds}"
        else:
            if where is None:
                raise _SetupFailure(
                    "no interop data: pass --interop DIR (holding vectors.json and keys/),"
                    " --rtds DIR (DCC's RTDS folder tree) or set GBCS_INTEROP_DIR"
                )
            vectors = where / "vectors.json"
            if not vectors.is_file():
                raise _SetupFailure(f"--interop {where}: no vectors.json there")
            every = list(load_cases(vectors))
            label = f"--interop {where}"
    except ConformanceDataError as e:
        raise _SetupFailure(str(e)) from None
    cases = [c for c in every if c.device_type == device_type]
    if not cases:
        raise _SetupFailure(f"{label}: no RTDS command/response pair for a {device_type}")
    key_dir = rtds_keys
    if key_dir is None:
        for cand in (rtds, where):
            if cand is not None and (cand / "keys").is_dir():
                key_dir = cand / "keys"
                break
    store = None
    if key_dir is not None:
        try:
            store = KeyStore(key_dir)
        except (OSError, ValueError) as e:
            raise _SetupFailure(f"--rtds-keys {key_dir}: cannot load keys: {e}") from None
    return cases, preparation_commands(every), store


def conformance_table(report: Any, *, verbose: bool) -> Table:
    """Per use case (per case with ``verbose``), like ``gbcs-emu conformance``."""
    title = (
        f"RTDS against {report.device_type} {report.device_eui.hex().upper()}: "
        f"{report.conformant}/{report.applicable} applicable conformant, "
        f"{report.not_applicable} not applicable"
    )
    t = Table(title=title)
    if verbose:
        t.add_column("case", min_width=4, ratio=3, overflow="fold")
        t.add_column("result", min_width=6, no_wrap=True)
        t.add_column("s", min_width=4, no_wrap=True, justify="right")
        t.add_column("detail", min_width=6, ratio=3, overflow="fold")
        for r in report.results:
            t.add_row(r.case.id.rsplit("/", 1)[-1], r.status, f"{r.seconds:.2f}", r.detail)
        return t
    t.add_column("use case", min_width=8, ratio=2, overflow="fold")
    t.add_column("cases", no_wrap=True, justify="right")
    t.add_column("conformant", no_wrap=True, justify="right")
    t.add_column("n/a", no_wrap=True, justify="right")
    t.add_column("s", no_wrap=True, justify="right")
    t.add_column("first problem", min_width=6, ratio=3, overflow="fold")
    for name, rs in report.by_use_case().items():
        bad = [r for r in rs if r.applicable and r.status != "conformant"]
        t.add_row(
            name,
            str(len(rs)),
            str(sum(r.status == "conformant" for r in rs)),
            str(sum(not r.applicable for r in rs)),
            f"{sum(r.seconds for r in rs):.2f}",
            f"{bad[0].status}: {bad[0].detail}" if bad else "",
        )
    return t


@hil_group.command("conformance")
@_port_options
@click.option(
    "--device-type",
    type=click.Choice(["esme", "gsme", "chf", "gpf"], case_sensitive=False),
    required=True,
    help="The device type on the port (its RTDS cases are run).",
)
@click.option("--device-eui", required=True, help="EUI-64 of the device on the port.")
@click.option(
    "--keys",
    "key_dirs",
    multiple=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Key directories: the bench parties' private keys (and the ACB's), the meter's "
    "certificates.",
)
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    help="An emulated device's state dir (its PKI and device keys), instead of --keys.",
)
@click.option(
    "--interop",
    type=click.Path(file_okay=False, path_type=Path),
    help="Directory with vectors.json and keys/ (default: $GBCS_INTEROP_DIR).",
)
@click.option(
    "--rtds",
    type=click.Path(file_okay=False, path_type=Path),
    help="DCC's RTDS folder tree instead (<test case>_COMMAND_GBCS.HEX, _RESPONSE_...).",
)
@click.option(
    "--rtds-keys",
    type=click.Path(file_okay=False, path_type=Path),
    help="RTDS's keys, to decrypt its responses (default: keys/ of --rtds or --interop).",
)
@click.option("--site", default="site-0", show_default=True, help="Site id for the topics.")
@click.option(
    "--control",
    is_flag=True,
    help="The device answers the control API on the line (hil serve --control): reset it "
    "before every case and read its clock.",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for each response (a GSME behind its CHF: above its wake "
    "interval, e.g. 15 with wake_interval_seconds = 1).",
)
@click.option("-k", "exprs", multiple=True, help="Only cases whose id contains this (repeatable).")
@click.option("--json", "as_json", is_flag=True)
@click.option("--junit", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--verbose", "-v", is_flag=True, help="One line per case, not per use case.")
def conformance_hil_cmd(
    port: str,
    framing: str,
    baud: int,
    faults: str | None,
    reliable: bool,
    device_type: str,
    device_eui: str,
    key_dirs: tuple[Path, ...],
    state: Path | None,
    interop: Path | None,
    rtds: Path | None,
    rtds_keys: Path | None,
    site: str,
    control: bool,
    timeout: float,
    exprs: tuple[str, ...],
    as_json: bool,
    junit: Path | None,
    verbose: bool,
    **port_options: Any,
) -> None:
    """Run DCC's reference suite (RTDS) against the device on a port.

    Every RTDS command of --device-type is re-addressed to --device-eui from the bench's
    parties (fresh counters, re-signed, re-MAC'd, times re-based on the device's clock),
    sent over the line, verified with the meter's keys and compared with RTDS's response
    on shape. Cases run reads first and destructive ones last. Exit 0 when every
    applicable case is conformant, 1 otherwise, 2 for a setup error.
    """
    from emulator.headend.identity import CounterError, CounterStore, parties_from_store

    from .conformance import Bench, HilConformance, HilSetupError, filter_cases
    from .han_partner import HanPartner
    from .link import HEADEND_SIDE

    kind = device_type.upper()
    try:
        eui = as_eui(device_eui)
    except ValueError as e:
        raise _SetupFailure(f"--device-eui {device_eui!r}: {e}") from None
    if set("/+#") & set(site) or not site:
        raise _SetupFailure(f"--site {site!r}: a name without '/', '+' or '#'")
    problem = _output_problem(junit, "--junit")
    if problem:
        raise _SetupFailure(problem)
    try:
        line = Line.from_options(port, framing, baud, faults, reliable)
        keys = _keys(state, key_dirs)
    except click.UsageError:
        raise
    except click.ClickException as e:
        raise _SetupFailure(e.message) from None
    parties = parties_from_store(keys)
    from keys.roles import RemotePartyRole

    if RemotePartyRole.ACCESS_CONTROL_BROKER not in parties:
        raise _SetupFailure(
            "--keys: no access-control-broker party with a private key (every command is "
            "MAC'd with the ACB's KA key)"
        )
    if keys.public_key(eui, "ka") is None:
        raise _SetupFailure(
            f"--keys: no KA certificate or public key of the device {eui.hex().upper()} "
            "(commands to it cannot be MAC'd)"
        )
    cases, prepared, rtds_store = _rtds_source(interop, rtds, rtds_keys, kind)
    cases = filter_cases(cases, exprs)
    if not cases:
        raise _SetupFailure(f"-k {' '.join(exprs)}: no {kind} case matches")
    where = (state or Path(tempfile.gettempdir())) / "hil-headend-counters.sqlite"
    try:
        counters = CounterStore(where, first=int(time.time()))
    except CounterError as e:
        raise _SetupFailure(f"cannot keep the bench's counters: {e}") from None
    # the PPMID the bench plays for the cases a HAN device sends or needs joined
    han = HanPartner.make(key_dirs=[*key_dirs, *([state / "pki"] if state else [])])
    han.add_to(keys)
    runner = HilConformance(
        line.bus(HEADEND_SIDE, site),
        Bench(keys, parties, counters, han),
        kind,
        eui,
        site=site,
        control=control,
        timeout=timeout,
        rtds_keys=rtds_store,
    )
    try:
        report = asyncio.run(runner.run(cases, prepared))
    except BusError as e:
        raise _SetupFailure(_port_error(str(e))) from None
    except HilSetupError as e:
        raise _SetupFailure(str(e)) from None
    finally:
        counters.close()
    if as_json:
        click.echo(json.dumps(report.to_json()))
    else:
        console = Console()
        console.print(conformance_table(report, verbose=verbose))
        console.print(
            f"{kind} {eui.hex().upper()} on {line.describe()}: {report.conformant} conformant "
            f"of {report.applicable} applicable ({report.fault_injected_conformant} of them "
            f"_ERROR cases, faults armed through the control API), {report.not_applicable} "
            f"not applicable; {report.seconds:.1f} s; clock: {report.clock}",
            overflow="fold",
        )
        for text in report.not_prepared():
            console.print(f"not prepared: {text}", overflow="fold")
    if junit is not None:
        _fail_all([e for e in [_write_output(junit, report.junit_xml(), "--junit")] if e])
    if not report.passed:
        raise SystemExit(1)
