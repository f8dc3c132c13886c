"""``gbcs-emu run`` and ``gbcs-emu stats``."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.live import Live
from rich.table import Table

from emulator.runtime.config import ConfigError, FleetConfig, load_config
from emulator.runtime.launch import Claim, claim, start_workers, worker_failure
from emulator.runtime.statedir import StateError, private_write
from emulator.runtime.worker import WorkerOptions, stop_all
from emulator.signals import STOP_SIGNALS, stop_on_signals
from emulator.transport.access import BrokerAccess, broker_access_options, optional_from_cli

if TYPE_CHECKING:
    from emulator.duis.serve import RunningDuis
    from emulator.duis.users import Users
    from emulator.runtime.claims import ShardClaimer
    from emulator.runtime.fleetdef import FleetDefinition

DEFAULT_STATE = Path("gbcs-state")
DEVICE_KEYS = "device-keys"  # public keys of the first sites' devices, for decode --keys
DEVICE_KEY_SITES = 16


def write_device_keys(directory: Path, cfg: FleetConfig, sites: range) -> None:
    """The public KA and DS keys of the devices of ``sites`` (``cfg.seed`` set), in the
    key-directory layout (``<eui>-<ka|ds>.pem``), so that ``gbcs-emu decode --keys``
    verifies what they send. Public material: nothing secret is written."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from emulator.runtime.config import derive_own_keys

    directory.mkdir(mode=0o700, exist_ok=True)
    for i in sites:
        site = cfg.site_config(i)
        for kind in site.devices:
            own = derive_own_keys(cfg.seed, site.eui(kind))
            for usage, key in (("ka", own.ka), ("ds", own.ds)):
                pem = key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
                private_write(directory / f"{own.eui.hex().upper()}-{usage}.pem", pem)


def read_stats(state: Path) -> list[dict[str, Any]]:
    """Every worker's latest metrics snapshot."""
    out = []
    for p in sorted(state.glob("stats-*.json")):
        with contextlib.suppress(OSError, ValueError):
            out.append(json.loads(p.read_text()))
    return out


def _sum(stats: list[dict[str, Any]], key: str, gauge: bool = False) -> float:
    part = "gauges" if gauge else "counters"
    return sum(float(s.get(part, {}).get(key, 0)) for s in stats)


STAT_ROWS = (
    ("sites", "sites in the fleet"),
    ("devices", "devices (4 per site)"),
    ("workers", "workers reporting"),
    ("hydrated", "sites in memory"),
    ("commands", "commands handled"),
    ("cmd/s", "commands per second"),
    ("alerts", "alerts sent"),
    ("alerts/s", "alerts per second"),
    ("rejected", "commands rejected"),
    ("outbox", "frames not yet published"),
    ("broker", "broker connection"),
)


def stats_values(state: Path, info: dict[str, Any], rates: dict[str, float]) -> dict[str, str]:
    """The summary figures of every worker's latest snapshot, by :data:`STAT_ROWS` key."""
    stats = read_stats(state)
    rejections = sum(
        v for s in stats for k, v in s.get("counters", {}).items() if k.startswith("rejected.")
    )
    connected = all(s.get("gauges", {}).get("broker_connected", 1) for s in stats)
    sites = info.get("sites")
    return {
        "sites": str(sites if sites is not None else "?"),
        "devices": str(4 * sites) if isinstance(sites, int) else "?",
        "workers": str(len(stats)),
        "hydrated": f"{_sum(stats, 'sites_hydrated', True):.0f}",
        "commands": f"{_sum(stats, 'commands'):.0f}",
        "cmd/s": f"{rates.get('commands', 0):.1f}",
        "alerts": f"{_sum(stats, 'out.alert'):.0f}",
        "alerts/s": f"{rates.get('alerts', 0):.1f}",
        "rejected": f"{rejections:.0f}",
        "outbox": f"{_sum(stats, 'outbox', True):.0f}",
        "broker": ("up" if connected else "down") if stats else "?",
    }


def stats_table(state: Path, info: dict[str, Any], rates: dict[str, float]) -> Table:
    """One row per figure (label, value): readable at any terminal width."""
    values = stats_values(state, info, rates)
    title = "gbcs-emu"
    if info.get("broker"):
        title += f" on {info['broker']}"
    if info.get("clock"):
        title += f", clock {info['clock']}"
    t = Table(title=title, show_header=False)
    t.add_column("figure", no_wrap=True)
    t.add_column("value", justify="right", no_wrap=True)
    for key, label in STAT_ROWS:
        t.add_row(label, values[key])
    return t


def parse_shard(shard: str | None, workers: int) -> tuple[int, int]:
    """``--shard FIRST:TOTAL`` (default: all ``workers`` of this host) as (first, total)."""
    if shard is None:
        return 0, workers
    try:
        first, total = (int(x) for x in shard.split(":"))
        if not (first >= 0 and first + workers <= total):
            raise ValueError
    except ValueError:
        raise click.BadParameter(
            f"{shard!r}: FIRST:TOTAL with FIRST + --workers <= TOTAL", param_hint="--shard"
        ) from None
    return first, total


@click.command("run")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Site TOML (see examples/site.toml).",
)
@click.option("--sites", type=click.IntRange(min=1), help="Number of sites (overrides the config).")
@click.option(
    "--workers", type=click.IntRange(min=1), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--broker",
    help="mqtt[s]://[user@]host[:port] of a broker (default: embedded amqtt); the "
    "password comes from $GBCS_BROKER_PASSWORD or --broker-password-file.",
)
@broker_access_options
@click.option(
    "--tcp", "tcp_port", type=click.IntRange(1, 65535), help="Serve length-prefixed TCP here."
)
@click.option("--clock", default="real", show_default=True, help="real, xN (e.g. x60).")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="State directory (sqlite, PKI, stats); one emulator at a time.",
)
@click.option(
    "--metrics-port", type=click.IntRange(1, 65535), help="Serve Prometheus metrics here."
)
@click.option(
    "--shard",
    metavar="FIRST:TOTAL",
    help="Multi-host: this host's workers are FIRST.. of TOTAL workers fleet-wide.",
)
@click.option(
    "--seed",
    help="Fleet seed for the device keys (default: random per state directory). Anyone "
    "who knows it can derive every device key of the fleet.",
)
@click.option(
    "--control",
    is_flag=True,
    help="Serve the control API on gbcs/<site>/<eui>/control (replies on .../control/reply; "
    "see docs/control.md). It can rewrite meters: registers, clocks, firmware, power, "
    "factory reset, for anyone who can publish there. Off by default.",
)
@click.option(
    "--fleet",
    "fleet_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Serve this host's shard of the fleet defined in DIR (gbcs-emu fleet init): sites, "
    "seed, PKI and device configuration come from it; the shard is claimed on the broker.",
)
@click.option(
    "--duis-users",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Serve the DUIS service (DCC Boxed's /api/v1/serviceS|T|D) in front of the fleet, "
    "for the users of FILE (docs/duis-users.md); needs a broker, not --tcp.",
)
@click.option(
    "--duis-port",
    type=click.IntRange(0, 65535),
    default=8079,
    show_default=True,
    help="The DUIS service's port (0: any free one).",
)
@click.option(
    "--smki-port",
    type=click.IntRange(0, 65535),
    default=8083,
    show_default=True,
    help="With --duis-users: the SMKI certificate look-up's port (0: any free one).",
)
@click.option(
    "--duis-host", default="127.0.0.1", show_default=True, help="The DUIS service's address."
)
@click.option(
    "--duis-verify-off",
    is_flag=True,
    help="Do not verify request signatures (the RTDS templates carry placeholder ones).",
)
@click.option(
    "--duis-response-timeout",
    type=click.FloatRange(0, min_open=True),
    default=120.0,
    show_default=True,
    help="Seconds a firmware activation (CS06) may go unanswered before its device is "
    "Suspended (MP105).",
)
@click.option(
    "--duis-suspended",
    type=click.Choice(["firmware-read", "mp105"]),
    default="firmware-read",
    show_default=True,
    help="What a Suspended device takes: only SRV 11.2, or the MP105 paper's rule "
    "(critical requests and SRVs 11.1, 11.2, 6.23); others get E51.",
)
@click.option("--duration", type=float, help="Stop after this many seconds (default: Ctrl-C).")
@click.option("--quiet", is_flag=True, help="No live table.")
@click.option("--check", is_flag=True, help="Validate everything, report, and exit.")
def run_cmd(
    config: Path | None,
    sites: int | None,
    workers: int,
    broker: str | None,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    tcp_port: int | None,
    clock: str,
    state: Path,
    metrics_port: int | None,
    shard: str | None,
    seed: str | None,
    control: bool,
    fleet_dir: Path | None,
    duis_users: Path | None,
    duis_port: int,
    smki_port: int,
    duis_host: str,
    duis_verify_off: bool,
    duis_response_timeout: float,
    duis_suspended: str,
    duration: float | None,
    quiet: bool,
    check: bool,
) -> None:
    """Serve emulated sites until Ctrl-C, with a live table; state is flushed on exit."""
    definition = _fleet_definition(fleet_dir, config=config, sites=sites, seed=seed)
    try:
        cfg = definition.config if definition is not None else load_config(config, sites=sites)
        from emulator.runtime.clock import parse_clock

        parse_clock(clock)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--clock") from None
    first, total = parse_shard(shard, workers)
    if tcp_port is not None and workers > 1:
        raise click.BadParameter(
            "TCP serves one worker; use MQTT for several", param_hint="--workers"
        )
    if tcp_port is not None and definition is not None:
        raise click.BadParameter("a fleet host serves on a broker, not TCP", param_hint="--tcp")
    if tcp_port is not None and broker is not None:
        raise click.BadParameter("give --broker or --tcp, not both", param_hint="--tcp")
    if duration is not None and duration <= 0:
        raise click.BadParameter("a positive number of seconds", param_hint="--duration")
    access = optional_from_cli(
        broker,
        password_file=broker_password_file,
        cafile=cafile,
        certfile=certfile,
        keyfile=keyfile,
    )
    duis = _duis_options(
        duis_users, duis_host, duis_port, smki_port, not duis_verify_off, tcp_port,
        duis_response_timeout, duis_suspended,
    )  # fmt: skip
    seed_bytes = seed.encode() if seed is not None else None
    if seed is not None and not seed:
        raise click.BadParameter("an empty seed", param_hint="--seed")
    if definition is None:
        _refuse_fleet_state(state)
    if check:
        if definition is not None:
            _check_fleet_state(state, definition)
        _check(state, cfg, seed_bytes, first, workers, total, access, control)
        return
    bind = None
    if definition is not None:
        from emulator.runtime.fleetdef import bind_state

        if access is not None:
            _precheck_claims(state, definition, access, first, workers, total)

        def bind(directory: Path) -> None:
            nonlocal config
            config = bind_state(directory, definition)

    try:
        held = claim(
            state, cfg, first=first, count=workers, total=total, seed=seed_bytes, bind=bind
        )
    except StateError as e:
        raise click.ClickException(str(e)) from None
    if duis is not None:
        try:  # the DUIS ledger is state too: damaged, it is refused before anything runs
            _open_ledger(state)
        except StateError as e:
            held.release()
            raise click.ClickException(str(e)) from None
    # _run ignores the stop signals while it shuts down; they come back here
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    try:
        code = asyncio.run(
            _run(
                held,
                cfg,
                config,
                access,
                tcp_port,
                clock,
                metrics_port,
                duration,
                quiet,
                control,
                definition,
                duis,
            )
        )
    finally:
        held.release()
        for sig, handler in handlers.items():
            if handler is not None:
                with contextlib.suppress(ValueError, TypeError):
                    signal.signal(sig, handler)
    if code:
        raise SystemExit(code)


def _check(
    state: Path,
    cfg: FleetConfig,
    seed: bytes | None,
    first: int,
    workers: int,
    total: int,
    access: BrokerAccess | None,
    control: bool = False,
) -> None:
    """``run --check``: the configuration is valid; say whether the state would open."""
    from emulator.runtime.launch import check_layout, fleet_layout
    from emulator.runtime.statedir import load_info

    verdict = "new state directory"
    try:
        info = load_info(state) if state.is_dir() else None
        if info is not None:
            wanted = seed if seed is not None else cfg.seed
            layout = fleet_layout(cfg, wanted or info.seed_bytes, first, workers, total)
            if info.layout is not None:
                check_layout(state, info.layout, layout)
            verdict = "state directory matches"
    except StateError as e:
        raise click.ClickException(str(e)) from None
    where = access.url if access else "embedded broker"
    click.echo(
        f"ok: {cfg.sites} site(s), workers {first}..{first + workers - 1} of {total}, "
        f"{where}; {verdict} ({state})" + ("; control API on" if control else "")
    )


async def _run(
    held: Claim,
    cfg: FleetConfig,
    config: Path | None,
    access: BrokerAccess | None,
    tcp_port: int | None,
    clock: str,
    metrics_port: int | None,
    duration: float | None,
    quiet: bool,
    control: bool = False,
    definition: FleetDefinition | None = None,
    duis: DuisOptions | None = None,
) -> int:
    state = held.state
    sites = cfg.sites
    claimer: ShardClaimer | None = None
    console = Console()
    err = Console(stderr=True)
    embedded = None
    status = err.status("starting", spinner="dots") if err.is_terminal else None
    if status is not None:
        status.start()

    def phase(text: str) -> None:
        if status is not None:
            status.update(text)
        elif not quiet:
            err.print(text, highlight=False)

    try:
        if access is None and tcp_port is None:
            from emulator.transport.broker import EmbeddedBroker

            phase("starting the embedded broker")
            embedded = EmbeddedBroker()
            try:
                await embedded.start()
            except (OSError, RuntimeError) as e:
                raise click.ClickException(f"cannot start the embedded broker: {e}") from None
            access = BrokerAccess(embedded.url)
        where = access.url if access is not None else f"tcp://127.0.0.1:{tcp_port}"
        info = {"broker": where, "clock": clock, "sites": sites, "control": control}
        public = access.public() if access is not None else {}
        private_write(
            state / "run.json",
            json.dumps(
                {
                    **info,
                    **public,
                    "config": str(config.resolve()) if config else None,
                    "pid": os.getpid(),
                }
            ),
        )
        for old in state.glob("stats-*.json"):
            old.unlink()
        write_device_keys(state / DEVICE_KEYS, cfg, range(min(sites, DEVICE_KEY_SITES)))
        template = WorkerOptions(
            str(state),
            access.url if access is not None else None,
            tcp_port,
            str(config.resolve()) if config else None,
            sites,
            clock,
            cafile=access.cafile if access else None,
            certfile=access.certfile if access else None,
            keyfile=access.keyfile if access else None,
            control=control,
        )
        # An embedded broker is this host's alone: no other host can claim there.
        if definition is not None and access is not None and embedded is None:
            phase(f"claiming {held.layout.count} worker(s) of fleet {definition.id}")
            claimer = await _claim_shard(held, definition, access, sites)
        phase(f"starting {held.layout.count} worker(s)")
        procs = start_workers(held, template, env=access.child_env() if access else None)
        ids = list(held.layout.worker_ids())
        while len(read_stats(state)) < len(procs):  # each writes stats once it serves
            if any(p.poll() is not None for p in procs):
                break
            phase(f"workers ready: {len(read_stats(state))} of {len(procs)}")
            await asyncio.sleep(0.1)
    except BaseException:
        if claimer is not None:
            await claimer.release()
        raise
    finally:
        if status is not None:
            status.stop()
    stop = asyncio.Event()
    # Ctrl-C or SIGTERM sets ``stop`` while serving; both are ignored once shutting down,
    # so a second Ctrl-C to the process group cannot cut the workers' flush.
    signals = contextlib.ExitStack()
    signals.enter_context(stop_on_signals(stop, then_ignore=True))
    metrics_server = None
    if metrics_port is not None:
        try:
            metrics_server = await _serve_metrics(state, metrics_port)
        except OSError as e:
            signals.close()
            stop_all(procs, 15)
            if claimer is not None:
                await claimer.release()
            if embedded is not None:
                await embedded.stop()
            raise click.ClickException(
                f"--metrics-port {metrics_port}: cannot listen: {e.strerror}"
            ) from None
    running_duis = None
    if duis is not None and access is not None:
        try:
            running_duis = await _start_duis(state, cfg, access, duis)
        except (OSError, StateError, click.ClickException) as e:
            signals.close()
            stop_all(procs, 15)
            if metrics_server is not None:
                metrics_server.close()
            if claimer is not None:
                await claimer.release()
            if embedded is not None:
                await embedded.stop()
            if isinstance(e, click.ClickException):
                raise
            if isinstance(e, StateError):
                raise click.ClickException(str(e)) from None
            raise click.ClickException(
                f"--duis-port {duis.port} or --smki-port {duis.smki_port}: cannot listen: "
                f"{e.strerror or e}"
            ) from None
        console.print(f"DUIS service on {running_duis.url}/api/v1/serviceS|T|D")
        console.print(f"SMKI look-up on {running_duis.smki_url}/services/certificatesearch")
        console.print(f"Status page on {running_duis.url}/status")
    # printed once everything listens: what reads it may use all of it at once
    api = "; control API on" if control else ""
    console.print(
        f"serving {sites} site(s) on {where} with {len(procs)} worker(s) from {state}{api}; "
        "Ctrl-C stops"
    )
    started = time.monotonic()
    last = {"commands": 0.0, "alerts": 0.0, "t": time.monotonic()}
    rates: dict[str, float] = {}

    def refresh() -> Table:
        stats = read_stats(state)
        now = time.monotonic()
        dt = max(now - last["t"], 1e-6)
        for key, counter in (("commands", "commands"), ("alerts", "out.alert")):
            v = _sum(stats, counter)
            rates[key] = (v - last[key]) / dt
            last[key] = v
        last["t"] = now
        return stats_table(state, info, rates)

    failure: str | None = None
    live = None if quiet else Live(refresh(), console=console, refresh_per_second=2)
    try:
        if live is not None:
            live.start()
        while not stop.is_set():
            if duration is not None and time.monotonic() - started >= duration:
                break
            if claimer is not None and claimer.conflict is not None:
                failure = f"shard claim lost: {claimer.conflict}"
                break
            gone = [(w, p) for w, p in zip(ids, procs, strict=True) if p.poll() is not None]
            if gone:
                failure = "; ".join(worker_failure(state, w, p) for w, p in gone)
                break
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(stop.wait(), 1.0)
            if live is not None:
                live.update(refresh())
    finally:
        signals.close()
        if live is not None:
            live.stop()
        if running_duis is not None:
            await running_duis.stop()
        stop_all(procs, 15)
        if claimer is not None:
            await claimer.release()
        if metrics_server is not None:
            metrics_server.close()
        if embedded is not None:
            await embedded.stop()
        console.print(stats_table(state, info, rates))
    if failure is not None:
        err.print(f"error: {failure}; stopped the emulator", highlight=False)
        return 1
    console.print("stopped; state flushed in " + str(state))
    return 0


@dataclass(frozen=True, slots=True)
class DuisOptions:
    """``--duis-*``: the DUIS service to serve beside the fleet."""

    users: Users
    host: str
    port: int
    smki_port: int
    verify: bool
    response_timeout: float
    suspended_policy: str


def _duis_options(
    path: Path | None, host: str, port: int, smki_port: int, verify: bool, tcp_port: int | None,
    response_timeout: float, suspended_policy: str,
) -> DuisOptions | None:  # fmt: skip
    """The DUIS options, the users file validated in full (before anything runs)."""
    if path is None:
        return None
    if tcp_port is not None:
        raise click.BadParameter(
            "the DUIS service needs a broker, not --tcp", param_hint="--duis-users"
        )
    try:
        from emulator.duis.serve import load_users
        from emulator.duis.users import UsersConfigError
    except ImportError as e:
        raise click.ClickException(
            f"the DUIS service needs lxml and aiohttp (pip install 'gbcs-emulator[duis]'): {e}"
        ) from None
    try:
        users = load_users(path)
    except UsersConfigError as e:
        raise click.ClickException("--duis-users:\n" + "\n".join(e.lines)) from None
    return DuisOptions(users, host, port, smki_port, verify, response_timeout, suspended_policy)


def _open_ledger(state: Path) -> None:
    """Open (making it when new) and close the DUIS ledger of ``state``: a damaged one
    raises :class:`StateError` and is left as it is."""
    from emulator.duis.ledger import RequestLedger
    from emulator.duis.serve import LEDGER_NAME

    RequestLedger(state / LEDGER_NAME).close()


async def _start_duis(
    state: Path, cfg: FleetConfig, access: BrokerAccess, duis: DuisOptions
) -> RunningDuis:
    from emulator.duis.serve import start_duis
    from emulator.runtime.statedir import load_info

    info = load_info(state)
    client = f"gbcs-emu-{info.id}-duis" if info is not None else "gbcs-emu-duis"
    return await start_duis(
        state=state,
        config=cfg,
        bus=access.bus(client_id=client, persistent=True),
        users=duis.users,
        host=duis.host,
        port=duis.port,
        smki_port=duis.smki_port,
        verify=duis.verify,
        response_timeout=duis.response_timeout,
        suspended_policy=duis.suspended_policy,
    )


def _fleet_definition(
    fleet_dir: Path | None, *, config: Path | None, sites: int | None, seed: str | None
) -> FleetDefinition | None:
    """The ``--fleet`` definition, loaded and checked (None without ``--fleet``)."""
    if fleet_dir is None:
        return None
    given = [n for n, v in (("--config", config), ("--sites", sites), ("--seed", seed)) if v]
    if given:
        raise click.UsageError(
            f"{', '.join(given)} conflict(s) with --fleet: the fleet definition in "
            f"{fleet_dir} gives the sites, the seed and the device configuration"
        )
    from emulator.runtime.fleetdef import FleetDefinition, FleetDefinitionError

    try:
        return FleetDefinition.load(fleet_dir)
    except FleetDefinitionError as e:
        raise click.ClickException(f"--fleet: {e}") from None


def _refuse_fleet_state(state: Path) -> None:
    """A state directory imported from a fleet definition is only started with it."""
    from emulator.runtime.fleetdef import bound_fleet

    try:
        bound = bound_fleet(state) if state.is_dir() else None
    except StateError as e:
        raise click.ClickException(str(e)) from None
    if bound is not None:
        raise click.ClickException(
            f"state directory {state} belongs to fleet {bound['id']}: start it with "
            f"--fleet {bound.get('definition', 'DIR')}"
        )


def _check_fleet_state(state: Path, definition: FleetDefinition) -> None:
    """``run --check --fleet``: the state directory may be used for this fleet."""
    from emulator.runtime.fleetdef import bound_fleet
    from emulator.runtime.statedir import load_info

    try:
        bound = bound_fleet(state) if state.is_dir() else None
        if bound is None and state.is_dir() and load_info(state) is not None:
            raise StateError(f"state directory {state} was made without a fleet definition")
    except StateError as e:
        raise click.ClickException(str(e)) from None
    if bound is not None and bound["id"] != definition.id:
        raise click.ClickException(
            f"state directory {state} belongs to fleet {bound['id']}, not to fleet "
            f"{definition.id} ({definition.dir}); give another --state"
        )


def _precheck_claims(
    state: Path,
    definition: FleetDefinition,
    access: BrokerAccess,
    first: int,
    workers: int,
    total: int,
) -> None:
    """Refuse a shard another host already claims before the state directory is touched
    (a new one would record the refused layout); the full claim follows in :func:`_run`."""
    from emulator.runtime.claims import ClaimError, ShardClaim, check_claims
    from emulator.runtime.statedir import load_info

    try:
        info = load_info(state) if state.is_dir() else None
    except StateError as e:
        raise click.ClickException(str(e)) from None
    mine = ShardClaim.new(
        definition.id, info.id if info else "-", first, workers, total, definition.config.sites
    )
    try:
        asyncio.run(check_claims(access, mine, str(definition.dir)))
    except ClaimError as e:
        raise click.ClickException(str(e)) from None


async def _claim_shard(
    held: Claim, definition: FleetDefinition, access: BrokerAccess, sites: int
) -> ShardClaimer:
    """Claim this host's workers of the fleet on the broker (see
    :mod:`emulator.runtime.claims`): an overlapping claim refuses the start."""
    from emulator.runtime.claims import ClaimError, ShardClaim, ShardClaimer

    layout = held.layout
    claimer = ShardClaimer(
        access,
        ShardClaim.new(
            definition.id, held.info.id, layout.first, layout.count, layout.workers, sites
        ),
    )
    try:
        await claimer.acquire(dir_hint=str(definition.dir))
    except ClaimError as e:
        raise click.ClickException(str(e)) from None
    return claimer


async def _serve_metrics(state: Path, port: int) -> asyncio.AbstractServer:
    """A minimal HTTP endpoint serving the workers' metrics in the Prometheus format."""
    from emulator.runtime.metrics import Metrics

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            m = Metrics()
            for s in read_stats(state):
                m.merge(s)
            body = m.prometheus().encode()
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\n"
                + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port)


@click.command("stats")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
)
@click.option("--json", "as_json", is_flag=True)
def stats_cmd(state: Path, as_json: bool) -> None:
    """Counters of a running (or stopped) emulator from its state directory."""
    stats = read_stats(state)
    if not stats:
        raise click.ClickException(f"no statistics in {state} (is gbcs-emu run using it?)")
    if as_json:
        click.echo(json.dumps(stats, indent=1))
        return
    info = {}
    with contextlib.suppress(OSError, ValueError):
        info = json.loads((state / "run.json").read_text())
    Console().print(stats_table(state, info, {}))
    totals: dict[str, float] = {}
    for s in stats:
        for k, v in s.get("counters", {}).items():
            totals[k] = totals.get(k, 0) + v
    t = Table(title="counters")
    t.add_column("name")
    t.add_column("value", justify="right")
    for k, v in sorted(totals.items()):
        t.add_row(k, f"{v:.0f}")
    Console().print(t)
