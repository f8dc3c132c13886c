"""``gbcs-emu hil``: serve emulated devices on a serial port, drive real meters, bridge.

Registered with ``gbcs-emu`` through the ``gbcs_emu.commands`` entry point (the
emulator package never imports ``hil``); also runnable as ``python -m hil``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.table import Table

from emulator.runtime.config import ConfigError, FleetConfig, load_config
from emulator.runtime.pki import add_device_public_keys, ensure_pki
from emulator.transport.base import BusError
from gbcs.pcap import PcapRecord, write_pcap
from keys.certs import as_eui
from keys.store import KeyStore

from .bench import ScenarioError, junit_xml, load_scenario, run_scenario
from .faults import LinkFaults
from .framing import FRAMINGS, get_framing

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


def _stop_event(duration: float | None) -> asyncio.Event:
    """Set on SIGTERM/SIGINT, or after ``duration`` seconds."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    if duration is not None:
        loop.call_later(duration, stop.set)
    return stop


@dataclass(frozen=True, slots=True)
class Line:
    """The port options every ``hil`` command shares, and the bus they make."""

    port: str
    framing: str
    settings: Any
    faults: str | None
    reliable: bool

    @classmethod
    def from_options(
        cls, port: str, framing: str, baud: int, faults: str | None, reliable: bool
    ) -> Line:
        """Validated options (call inside the click command)."""
        _faults(faults)
        return cls(port, framing, _settings(baud), faults, reliable)

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
            get_framing(self.framing),
            side=side,
            site=site,
            settings=self.settings,
            faults_out=_faults(self.faults),
            faults_in=_faults(self.faults) if faults_in else None,
            on_frame=on_frame,
            reliable=self.reliable,
        )


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
    **port_options: Any,
) -> None:
    """Put an emulated device (or a whole site, routed by recipient EUI) on a port."""
    try:
        cfg = load_config(config)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    state.mkdir(parents=True, exist_ok=True)
    (state / "hil.json").write_text(json.dumps({"config": str(config) if config else None}))
    try:
        asyncio.run(
            _serve(
                Line.from_options(port, framing, baud, faults, reliable),
                device,
                cfg,
                state,
                duration,
            )
        )
    except BusError as e:
        raise click.ClickException(str(e)) from None


async def _serve(
    line: Line, device: str, cfg: FleetConfig, state: Path, duration: float | None
) -> None:
    from emulator.runtime.clock import RealClock
    from emulator.runtime.server import Emulator

    from .link import DEVICE_SIDE

    site = cfg.site_config(0)
    served = set(site.euis.values()) if device == "site" else {site.eui(device.upper())}
    bus = line.bus(DEVICE_SIDE, lambda eui: site.site_id if eui in served else None)
    emulator = Emulator(cfg, bus, RealClock(), KeyStore(ensure_pki(state)), state)
    stop = _stop_event(duration)
    runner = asyncio.create_task(emulator.run(stop))
    ready = asyncio.create_task(emulator.ready.wait())
    await asyncio.wait({runner, ready}, return_when=asyncio.FIRST_COMPLETED)
    if runner.done():  # the port could not be opened: surface its error
        ready.cancel()
        await runner
        return
    (state / "hil-ready").write_text(str(time.time()))
    await runner
    (state / "link-stats.json").write_text(json.dumps(bus.report()))


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
    **port_options: Any,
) -> None:
    """Drive the device on a port through a bench scenario; report, JUnit XML, pcap."""
    try:
        scenario = load_scenario(script)
    except ScenarioError as e:
        raise click.ClickException(str(e)) from None
    keys = _keys(state, key_dirs)
    try:
        results, link = asyncio.run(
            _drive(
                Line.from_options(port, framing, baud, faults, reliable),
                scenario,
                keys,
                state,
                pcap,
            )
        )
    except BusError as e:
        raise click.ClickException(str(e)) from None
    if junit is not None:
        junit.write_text(junit_xml(script.stem, results))
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
        t = Table(title=f"bench {script.name} on {port} ({framing})")
        for col in ("step", "result", "verified", "attempts", "detail"):
            t.add_column(col)
        for r in results:
            t.add_row(
                r.step.name,
                "pass" if r.passed else "FAIL",
                r.verified,
                str(r.attempts),
                r.detail[:80],
            )
        Console().print(t)
        Console().print(f"link: {link}")
    if not all(r.passed for r in results):
        raise SystemExit(1)


def _keys(state: Path | None, key_dirs: tuple[Path, ...]) -> KeyStore:
    if state is None and not key_dirs:
        raise click.UsageError("give --state (an emulated device) or --keys (a real meter)")
    try:
        keys = KeyStore(*key_dirs)
        if state is not None:
            keys.load_directory(state / "pki")
    except (FileNotFoundError, NotADirectoryError) as e:
        raise click.ClickException(
            f"{e} (is --state the served device's state directory?)"
        ) from None
    if state is not None:
        info: dict[str, Any] = {}
        with contextlib.suppress(OSError, ValueError):
            info = json.loads((state / "hil.json").read_text())
        cfg = load_config(Path(info["config"]) if info.get("config") else None)
        add_device_public_keys(keys, cfg, range(1))
    return keys


async def _drive(
    line: Line, scenario: Any, keys: KeyStore, state: Path | None, pcap: Path | None
) -> tuple[list[Any], dict[str, Any]]:
    from emulator.headend.client import HeadEnd
    from emulator.headend.identity import CounterStore, parties_from_store

    from .link import HEADEND_SIDE

    records: list[PcapRecord] = []

    def capture(direction: str, frame: bytes) -> None:
        records.append(PcapRecord(frame, time.time(), f"{direction} {line.port}"))

    bus = line.bus(HEADEND_SIDE, scenario.site, on_frame=capture)
    where = (state or Path(tempfile.gettempdir())) / "hil-headend-counters.sqlite"
    counters = CounterStore(where, first=int(time.time()))
    try:
        async with HeadEnd(bus, keys, parties=parties_from_store(keys), counters=counters) as he:
            alerts = he.alerts()
            results = await run_scenario(scenario, he, alerts)
            alerts.close()
            report = bus.report()
    finally:
        counters.close()
        if pcap is not None:
            pcap.write_bytes(write_pcap(records))
    return results, report


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
    **port_options: Any,
) -> None:
    """Run a bench scenario against the device on the port and against the emulator, and
    report where they differ, field by field."""
    from .diffing import compare_runs, run_reference

    try:
        scenario = load_scenario(script)
        reference_config = load_config(config)
    except (ScenarioError, ConfigError) as e:
        raise click.ClickException(str(e)) from None
    keys = _keys(state, ())
    try:
        device, _ = asyncio.run(
            _drive(
                Line.from_options(port, framing, baud, faults, reliable),
                scenario,
                keys,
                state,
                None,
            )
        )
    except BusError as e:
        raise click.ClickException(str(e)) from None
    emulator = asyncio.run(run_reference(scenario, reference_config, state / "pki"))
    diffs = compare_runs(device, emulator, ignore=scenario.ignore)
    if as_json:
        rows = [
            {"step": d.step, "field": d.field, "device": d.device, "emulator": d.emulator}
            for d in diffs
        ]
        click.echo(json.dumps(rows))
    else:
        t = Table(title=f"{port} vs the emulator: {len(diffs)} difference(s)")
        for col in ("step", "field", "device", "emulator"):
            t.add_column(col)
        for d in diffs:
            t.add_row(d.step, d.field, d.device, d.emulator)
        Console().print(t)
    if diffs:
        raise SystemExit(1)


@hil_group.command("bridge")
@_port_options
@click.option("--broker", required=True, help="mqtt:// URL of the runtime's broker.")
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
    try:
        asyncio.run(
            _bridge(
                Line.from_options(port, framing, baud, faults, reliable),
                broker,
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
    broker: str,
    site: str,
    devices: list[str],
    pcap: Path | None,
    duration: float | None,
) -> None:
    from emulator.transport.mqtt import MqttBus

    from .link import HEADEND_SIDE

    records: list[PcapRecord] = []
    line = link.bus(  # faults on what the bridge sends to the device only
        HEADEND_SIDE,
        site,
        on_frame=lambda d, f: records.append(PcapRecord(f, time.time(), d)),
        faults_in=False,
    )
    mqtt = MqttBus(broker, client_id=f"gbcs-bridge-{site}", persistent=True)
    await line.start()
    await line.subscribe("gbcs/+/+/#")
    await mqtt.start()
    for eui in devices:
        await mqtt.subscribe(f"gbcs/{site}/{eui}/in")
    stop = _stop_event(duration)

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
        pcap.write_bytes(write_pcap(records))
