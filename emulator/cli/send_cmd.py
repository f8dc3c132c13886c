"""``gbcs-emu send``: one use case to a running emulator, the verified answer printed.

Everything that can be checked without the emulator (the use case, its arguments, the
EUI, the sender role, the state directory, whether the emulator that wrote
``run.json`` is still alive) is checked first, each failure one line. The whole
exchange — connecting to the broker and waiting for the answer — is bounded by
``--timeout``.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import sqlite3
import textwrap
import time
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from emulator.cli.inputs import os_reason
from emulator.cli.run_cmd import DEFAULT_STATE
from emulator.headend.client import HeadEnd, RequestTimeout
from emulator.headend.identity import CounterStore, HeadEndError, parse_role, parties_from_store
from emulator.headend.usecases import CatalogEntry, all_names, get, is_typed
from emulator.processes import pid_alive
from emulator.runtime.config import ConfigError, FleetConfig, load_config
from emulator.runtime.pki import add_device_public_keys
from emulator.transport.access import PASSWORD_ENV, BrokerAccess, broker_access_options, from_cli
from emulator.transport.base import Bus, BusError
from keys.certs import as_eui
from keys.store import KeyStore

USAGE = "gbcs-emu send --to EUI USE_CASE [key=value ...]"


class _Unreachable(Exception):
    """The broker (or TCP server) could not be reached within the timeout."""


def _bus(url: str, timeout: float, access: BrokerAccess | None = None) -> Bus:
    """The bus to ``url``, its first connection bounded by ``timeout`` seconds; an MQTT
    broker is reached with ``access`` (credentials, TLS files) when given."""
    if url.startswith("tcp://"):
        from emulator.transport.tcp import TcpClientBus

        host, _, port = url[6:].rpartition(":")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise click.ClickException(
                f"broker URL {url!r}: expected tcp://host:port with a port in 1..65535"
            )
        return TcpClientBus(host or "127.0.0.1", int(port), timeout=timeout)
    if access is None or access.url != url:
        access = BrokerAccess(url, os.environ.get(PASSWORD_ENV))
    try:
        return access.bus(connect_timeout=timeout)
    except ValueError as e:
        raise click.ClickException(
            f"{e} (expected mqtt://host[:port], mqtts://host[:port] or tcp://host:port)"
        ) from None


def list_use_cases() -> str:
    """What ``send`` can build: the use cases with typed parameters (their arguments
    indented below), then every other command use case of the GBCS registry, sent from
    its payload's structural arguments."""
    every = all_names()
    typed = [n for n in every if is_typed(n)]
    lines = [f"Use cases ({USAGE}):", "", f"Typed ({len(typed)}): named parameters", ""]
    for n in typed:
        entry = get(n)
        lines.append(f"  {entry.describe()}")
        if entry.params:
            text = " ".join(_param_text(entry, p.name) for p in entry.params)
            lines += textwrap.wrap(text, 80, initial_indent=" " * 6, subsequent_indent=" " * 8)
    structural = [n for n in every if not is_typed(n)]
    lines += [
        "",
        f"Structural ({len(structural)}): args=<JSON> or args=@file.json, the payload's",
        "arguments as `gbcs-emu usecase explain` prints them",
        "",
    ]
    for n in structural:
        lines += textwrap.wrap(
            get(n).describe(), 80, initial_indent="  ", subsequent_indent=" " * 6
        )
    lines += [
        "",
        "Arguments are key=value; `gbcs-emu send --help` lists the options.",
        "A name shared by several message codes is written NAME@0xCODE.",
    ]
    return "\n".join(lines)


def _param_text(entry: CatalogEntry, name: str) -> str:
    p = next(p for p in entry.params if p.name == name)
    return f"{p.name}=<{p.kind}>" if p.required else f"[{p.name}=<{p.kind}>]"


@click.command("send")
@click.option("--as", "as_role", help="Sender role (default: the use case's usual sender).")
@click.option("--to", "target", metavar="EUI", help="Device EUI-64 (16 hex digits).")
@click.option(
    "--state",
    type=click.Path(path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="The running emulator's state directory (PKI, broker URL).",
)
@click.option(
    "--broker",
    help="mqtt[s]://[user@]host[:port] or tcp://host:port (default: from the state dir); "
    f"the password comes from ${PASSWORD_ENV} or --broker-password-file.",
)
@broker_access_options
@click.option(
    "--fleet",
    "fleet_dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Address any device of the fleet defined in DIR (gbcs-emu fleet init), on every "
    "host, instead of --state; needs --broker. Counters are kept in DIR.",
)
@click.option("--target-type", help="ESME, GSME, GPF or CHF (picks the default sender).")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=30.0,
    show_default=True,
    help="Seconds for the whole exchange: connecting to the broker and the answer.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the decoded values as JSON.")
@click.argument("use_case", required=False)
@click.argument("args", nargs=-1)
def send_cmd(
    as_role: str | None,
    target: str | None,
    state: Path,
    broker: str | None,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    fleet_dir: Path | None,
    target_type: str | None,
    timeout: float,
    as_json: bool,
    use_case: str | None,
    args: tuple[str, ...],
) -> None:
    """Send USE_CASE (e.g. ECS17b, ECS37 start=17:00 end=22:00, GCS21b args=@read.json)
    to a device of a running emulator and print the verified, decoded response. Without
    USE_CASE, list them."""
    if use_case is None:
        click.echo(list_use_cases())
        return
    try:
        entry = get(use_case)
        kwargs = dict(_kv(entry, a) for a in args)
        entry.parse_args(kwargs)
        if as_role is not None:
            parse_role(as_role)
        if target_type is not None:
            entry.role_for(target_type)
    except (HeadEndError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    if target is None:
        raise click.UsageError(
            f"{entry.name} needs --to EUI: the target device's EUI-64 (16 hex digits)"
        )
    try:
        eui = as_eui(target)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--to") from None
    if fleet_dir is not None:
        url, access, config, index, keys = _from_fleet(
            fleet_dir, eui, target, broker, broker_password_file, cafile, certfile, keyfile
        )
        state = fleet_dir  # the head-end's counters live beside the definition
    else:
        url, access, config, index, keys = _from_state(
            state, eui, target, broker, broker_password_file, cafile, certfile, keyfile
        )
    bus = _bus(url, timeout, access)
    # The bus logs each failed connect attempt; the one error line below says it all.
    logging.getLogger("emulator.transport").setLevel(logging.ERROR)
    counters = _counters(state)
    try:
        reply = asyncio.run(
            _send(
                bus,
                keys,
                counters,
                config.site_config(index).site_id,
                eui,
                entry.name,
                as_role,
                target_type,
                timeout,
                kwargs,
            )
        )
    except _Unreachable as e:
        what = f"--fleet {fleet_dir}" if fleet_dir is not None else f"--state {state}"
        raise click.ClickException(
            f"cannot reach broker {_where(bus, url)}: {e}; is gbcs-emu run running with {what}?"
        ) from None
    except RequestTimeout:
        raise click.ClickException(
            f"no answer from {target.upper()} to {entry.name} within {timeout:g} s "
            f"(is the emulator on {_where(bus, url)} serving it? a GSME answers at its next "
            "wake-up: raise --timeout)"
        ) from None
    except (HeadEndError, BusError, TimeoutError, OSError) as e:
        raise click.ClickException(f"{entry.name} to {target.upper()}: {e}") from None
    finally:
        counters.close()
    _print_reply(reply, target, as_json)


def _from_fleet(
    fleet_dir: Path,
    eui: bytes,
    target: str,
    broker: str | None,
    password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
) -> tuple[str, BrokerAccess | None, FleetConfig, int, KeyStore]:
    """``--fleet``: broker, config, site index and keys from the fleet definition alone."""
    from emulator.runtime.fleetdef import FleetDefinition, FleetDefinitionError

    if broker is None:
        raise click.UsageError("--fleet needs --broker URLS (the fleet's broker nodes)")
    if click.get_current_context().get_parameter_source("state") is not ParameterSource.DEFAULT:
        raise click.UsageError("give --fleet or --state, not both")
    try:
        definition = FleetDefinition.load(fleet_dir)
    except FleetDefinitionError as e:
        raise click.ClickException(f"--fleet: {e}") from None
    config = definition.config
    index = config.site_of_eui(eui)
    if index is None:
        raise click.BadParameter(
            f"{target} is not a device of fleet {definition.id} ({config.sites} site(s), "
            f"first ESME {config.site_config(0).eui('ESME').hex().upper()})",
            param_hint="--to",
        )
    access = _access(broker, fleet_dir, {}, broker, password_file, cafile, certfile, keyfile)
    try:
        keys = definition.head_end_keys(range(index, index + 1))
    except FleetDefinitionError as e:
        raise click.ClickException(str(e)) from None
    return access.url if access is not None else broker, access, config, index, keys


def _from_state(
    state: Path,
    eui: bytes,
    target: str,
    broker: str | None,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
) -> tuple[str, BrokerAccess | None, FleetConfig, int, KeyStore]:
    """``--state``: broker, config, site index and keys from a running emulator's state."""
    if state.exists() and not state.is_dir():
        raise click.BadParameter(f"{state} is a file, not a state directory", param_hint="--state")
    info = _run_info(state, broker)
    url = broker or str(info.get("broker", ""))
    if not url:
        raise click.ClickException(
            f"{state / 'run.json'} names no broker; pass --broker mqtt://host:port"
        )
    access = _access(url, state, info, broker, broker_password_file, cafile, certfile, keyfile)
    try:
        config = load_config(
            Path(info["config"]) if info.get("config") else None, sites=info.get("sites")
        )
    except (ConfigError, OSError, TypeError, ValueError) as e:
        raise click.ClickException(
            f"the emulator's config (from {state / 'run.json'}): {e}"
        ) from None
    index = config.site_of_eui(eui)
    if index is None:
        raise click.BadParameter(
            f"{target} is not a device of this emulator's fleet ({config.sites} site(s), "
            f"first ESME {config.site_config(0).eui('ESME').hex().upper()})",
            param_hint="--to",
        )
    pki = state / "pki"
    if not pki.is_dir():
        raise click.ClickException(
            f"{pki}: no PKI there; --state must be the directory of a `gbcs-emu run`"
        )
    try:
        keys = KeyStore(pki)
    except OSError as e:
        raise click.ClickException(f"cannot read the PKI in {pki}: {os_reason(e)}") from None
    _resolve_seed(config, state)
    add_device_public_keys(keys, config, range(index, index + 1))
    return url, access, config, index, keys


def _print_reply(reply: Any, target: str, as_json: bool) -> None:
    """The verified answer: a table of values, or one JSON object."""
    if as_json:
        click.echo(
            json.dumps(
                {
                    "use_case": reply.use_case,
                    "counter": reply.counter,
                    "verified": reply.verified,
                    "values": reply.values,
                },
                default=str,
            )
        )
        return
    t = Table(title=f"{reply.use_case} from {target.upper()} ({reply.verified} verified)")
    t.add_column("value", no_wrap=True)
    t.add_column("", overflow="fold")
    for k, v in reply.values.items():
        t.add_row(k, str(v))
    Console().print(t)


def _kv(entry: CatalogEntry, text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        takes = ", ".join(f"{p.name}=<{p.kind}>" for p in entry.params) or "no arguments"
        raise click.ClickException(
            f"{entry.name} argument {text!r}: arguments are key=value ({entry.name} takes {takes})"
        )
    return key.strip(), value.strip()


def _access(
    url: str,
    state: Path,
    info: dict[str, Any],
    broker: str | None,
    password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
) -> BrokerAccess | None:
    """How to log in to an MQTT broker: the options with ``--broker``, else the TLS files
    ``run.json`` names; the password from the environment or ``--broker-password-file``."""
    if url.startswith("tcp://"):
        return None
    if broker is not None:
        return from_cli(
            broker, password_file=password_file, cafile=cafile, certfile=certfile, keyfile=keyfile
        )
    files = {
        k: info.get(k) if isinstance(info.get(k), str) else None
        for k in ("cafile", "certfile", "keyfile")
    }
    return from_cli(
        url,
        password_file=password_file,
        cafile=cafile or files["cafile"],
        certfile=certfile or files["certfile"],
        keyfile=keyfile or files["keyfile"],
        param_hint=f"the broker in {state / 'run.json'}",
    )


def _run_info(state: Path, broker: str | None) -> dict[str, Any]:
    """``run.json`` of the emulator serving ``state``; errors say what to do. With
    ``--broker`` a missing or stale file is no obstacle."""
    path = state / "run.json"
    hint = f"start `gbcs-emu run --state {state}`, or pass --broker"
    try:
        text = path.read_text()
    except FileNotFoundError:
        if broker is not None:
            return {}
        what = "no such directory" if not state.exists() else "no run.json there"
        raise click.ClickException(
            f"no running emulator found in {state} ({what}): {hint}"
        ) from None
    except OSError as e:
        raise click.ClickException(f"cannot read {path}: {os_reason(e)}") from None
    try:
        info = json.loads(text)
        if not isinstance(info, dict):
            raise ValueError("not a JSON object")
    except ValueError as e:
        raise click.ClickException(
            f"{path} is damaged ({e}): start `gbcs-emu run --state {state}` again, or pass --broker"
        ) from None
    pid = info.get("pid")
    if broker is None and isinstance(pid, int) and not pid_alive(pid):
        raise click.ClickException(
            f"the emulator that wrote {path} (pid {pid}) is not running: {hint}"
        )
    return info


def _resolve_seed(config: Any, state: Path) -> None:
    """The device keys derive from the fleet seed: the config's, else the state's own."""
    if config.seed is not None:
        return
    from emulator.runtime.statedir import StateError, load_info

    try:
        info = load_info(state)
    except StateError as e:
        raise click.ClickException(str(e)) from None
    if info is None:
        raise click.ClickException(
            f"{state / 'state.json'} is missing: the devices' keys cannot be derived; "
            "--state must be the directory of a `gbcs-emu run`"
        )
    config.seed = info.seed_bytes


def _counters(state: Path) -> CounterStore:
    path = state / "headend-counters.sqlite"
    # Counters survive in the state dir; a time-based first value keeps a lost file from
    # restarting at 1 (the devices would refuse that as a replay).
    try:
        return CounterStore(path, first=int(time.time()))
    except (HeadEndError, sqlite3.Error, OSError) as e:
        raise click.ClickException(
            f"cannot open the head-end counters {path}: {e} (send needs a writable --state, "
            "or --fleet directory)"
        ) from None


def _where(bus: Bus, url: str) -> str:
    return str(getattr(bus, "url", url))


def _reason(bus: Bus, e: BaseException, timeout: float) -> str:
    """Why the first connection failed, without errno noise."""
    why = getattr(bus, "last_error", None)
    cause = e if isinstance(e, OSError) else e.__cause__
    if not why and isinstance(cause, OSError) and cause.errno:
        why = os.strerror(cause.errno)
    if not why:
        why = str(e) if isinstance(e, BusError) else ""
    why = re.sub(r"\[Errno -?\d+\]\s*", "", why)
    return why or f"no connection within {timeout:g} s"


async def _send(
    bus: Bus,
    keys: KeyStore,
    counters: CounterStore,
    site: str,
    eui: bytes,
    use_case: str,
    as_role: str | None,
    target_type: str | None,
    timeout: float,
    kwargs: dict[str, str],
) -> Any:
    """Connect, send and wait for the answer, all within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    he = HeadEnd(bus, keys, parties=parties_from_store(keys), counters=counters)
    try:
        try:
            async with asyncio.timeout_at(deadline):
                await he.start()
        except (BusError, TimeoutError, OSError) as e:
            raise _Unreachable(_reason(bus, e, timeout)) from None
        async with asyncio.timeout_at(deadline):
            return await he.request(
                site,
                eui,
                use_case,
                as_role=as_role,
                target_type=target_type,
                timeout=max(deadline - loop.time(), 0.001),
                **kwargs,
            )
    except TimeoutError as e:
        if isinstance(e, HeadEndError):
            raise
        raise RequestTimeout(f"no answer within {timeout:g} s") from None
    finally:
        await he.close()
