"""``gbcs-emu send``: one use case to a running emulator, the verified answer printed."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from emulator.cli.run_cmd import DEFAULT_STATE
from emulator.headend.client import HeadEnd
from emulator.headend.identity import CounterStore, HeadEndError, parties_from_store
from emulator.headend.usecases import get, names
from emulator.runtime.config import ConfigError, load_config
from emulator.runtime.pki import add_device_public_keys
from emulator.transport.base import Bus, BusError
from keys.certs import as_eui
from keys.store import KeyStore


def _bus(url: str) -> Bus:
    if url.startswith("tcp://"):
        from emulator.transport.tcp import TcpClientBus

        host, _, port = url[6:].rpartition(":")
        return TcpClientBus(host or "127.0.0.1", int(port))
    from emulator.transport.mqtt import MqttBus

    return MqttBus(url)


@click.command("send")
@click.option("--as", "as_role", help="Sender role (default: the use case's usual sender).")
@click.option("--to", "target", required=True, help="Device EUI-64.")
@click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="The running emulator's state directory (PKI, broker URL).",
)
@click.option("--broker", help="mqtt://... or tcp://host:port (default: from the state dir).")
@click.option("--target-type", help="ESME, GSME, GPF or CHF (picks the default sender).")
@click.option("--timeout", type=float, default=30.0, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the decoded values as JSON.")
@click.argument("use_case", required=False)
@click.argument("args", nargs=-1)
def send_cmd(
    as_role: str | None,
    target: str,
    state: Path,
    broker: str | None,
    target_type: str | None,
    timeout: float,
    as_json: bool,
    use_case: str | None,
    args: tuple[str, ...],
) -> None:
    """Send USE_CASE (e.g. ECS17b, ECS37 start=17:00 end=22:00) to a device of a running
    emulator and print the verified, decoded response. Without USE_CASE, list them."""
    if use_case is None:
        for n in names():
            click.echo(get(n).describe())
        return
    try:
        entry = get(use_case)
        kwargs = dict(_kv(a) for a in args)
        entry.parse_args(kwargs)
        eui = as_eui(target)
    except (HeadEndError, ValueError) as e:
        raise click.ClickException(str(e)) from None
    info: dict[str, Any] = {}
    try:
        info = json.loads((state / "run.json").read_text())
    except (OSError, ValueError):
        if broker is None:
            raise click.ClickException(
                f"no running emulator found in {state} (start `gbcs-emu run --state {state}`"
                " or pass --broker)"
            ) from None
    url = broker or str(info.get("broker", ""))
    try:
        config = load_config(
            Path(info["config"]) if info.get("config") else None, sites=info.get("sites")
        )
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    index = config.site_of_eui(eui)
    if index is None:
        raise click.ClickException(f"{target} is not a device of this emulator's fleet")
    keys = KeyStore(state / "pki")
    add_device_public_keys(keys, config, range(index, index + 1))
    try:
        reply = asyncio.run(
            _send(
                url,
                keys,
                state,
                config.site_config(index).site_id,
                eui,
                entry.name,
                as_role,
                target_type,
                timeout,
                kwargs,
            )
        )
    except (HeadEndError, BusError, TimeoutError, OSError) as e:
        raise click.ClickException(f"{type(e).__name__}: {e}") from None
    if as_json:
        click.echo(
            json.dumps(
                {
                    "use_case": reply.use_case,
                    "counter": reply.counter,
                    "verified": reply.verified,
                    "values": reply.values,
                }
            )
        )
        return
    t = Table(title=f"{reply.use_case} from {target.upper()} ({reply.verified} verified)")
    t.add_column("value")
    t.add_column("")
    for k, v in reply.values.items():
        t.add_row(k, str(v))
    Console().print(t)


def _kv(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"arguments are key=value, not {text!r}")
    return key.strip(), value.strip()


async def _send(
    url: str,
    keys: KeyStore,
    state: Path,
    site: str,
    eui: bytes,
    use_case: str,
    as_role: str | None,
    target_type: str | None,
    timeout: float,
    kwargs: dict[str, str],
) -> Any:
    # Counters survive in the state dir; a time-based first value keeps a lost file from
    # restarting at 1 (the devices would refuse that as a replay).
    counters = CounterStore(state / "headend-counters.sqlite", first=int(time.time()))
    try:
        async with HeadEnd(
            _bus(url), keys, parties=parties_from_store(keys), counters=counters
        ) as he:
            return await he.request(
                site,
                eui,
                use_case,
                as_role=as_role,
                target_type=target_type,
                timeout=timeout,
                **kwargs,
            )
    finally:
        counters.close()
