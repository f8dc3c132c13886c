"""``gbcs-emu fleet``: a fleet definition shared by several emulator hosts and head-ends.

``fleet init`` writes it (see :mod:`emulator.runtime.fleetdef`), ``fleet show`` prints
its public part, ``fleet release`` clears a stale shard claim on the broker (see
:mod:`emulator.runtime.claims`).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
from pathlib import Path
from typing import Any

import click

from emulator.runtime.config import ConfigError, load_config
from emulator.runtime.fleetdef import FleetDefinition, FleetDefinitionError
from emulator.transport.access import PASSWORD_ENV, broker_access_options, from_cli

_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@click.group("fleet")
def fleet_group() -> None:
    """A fleet definition shared by emulator hosts and head-ends: init, show, release."""


def _seed_from_env(name: str | None) -> bytes | None:
    if name is None:
        return None
    if not _ENV_NAME.fullmatch(name):
        raise click.BadParameter(
            f"{name!r} is not an environment variable name (letters, digits, '_')",
            param_hint="--seed-from-env",
        )
    value = os.environ.get(name)
    if not value:
        raise click.BadParameter(
            f"the environment variable {name} is not set or empty", param_hint="--seed-from-env"
        )
    return value.encode()


@fleet_group.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Site TOML (see examples/site.toml): the device configuration of every site.",
)
@click.option("--sites", type=click.IntRange(min=1), help="Number of sites (overrides the config).")
@click.option(
    "--seed-from-env",
    metavar="VAR",
    help="Take the fleet seed from the environment variable VAR (default: random). The "
    "seed never goes on the command line: anyone who knows it derives every device key.",
)
def init_cmd(
    directory: Path, config: Path | None, sites: int | None, seed_from_env: str | None
) -> None:
    """Write a fleet definition in DIRECTORY (new or empty): fleet.toml, seed, pki/."""
    seed = _seed_from_env(seed_from_env)
    try:
        cfg = load_config(config, sites=sites)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    if cfg.seed is not None:
        raise click.ClickException(
            f"{config}: [fleet] seed: a fleet definition keeps its seed in its own 0600 "
            "file; remove the key (allowed: a random seed, or --seed-from-env VAR)"
        )
    try:
        definition = FleetDefinition.create(directory, cfg, seed=seed)
    except FleetDefinitionError as e:
        raise click.ClickException(str(e)) from None
    source = f"from ${seed_from_env}" if seed_from_env else "random"
    click.echo(
        f"fleet {definition.id}: {cfg.sites} site(s) written to {directory} "
        f"(seed {source}, in {directory / 'seed'}, mode 0600; PKI in {definition.pki_dir})"
    )
    click.echo(
        f"hosts: gbcs-emu run --fleet {directory} --broker URLS --workers W "
        "--shard FIRST:TOTAL --state STATE"
    )


def _load(directory: Path) -> FleetDefinition:
    try:
        return FleetDefinition.load(directory)
    except FleetDefinitionError as e:
        raise click.ClickException(str(e)) from None


@fleet_group.command("show")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--broker",
    help="Also list the shard claims retained on this broker (URLs separated by commas); "
    f"the password comes from ${PASSWORD_ENV} or --broker-password-file.",
)
@broker_access_options
@click.option("--json", "as_json", is_flag=True, help="Print the definition as JSON.")
def show_cmd(
    directory: Path,
    broker: str | None,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    as_json: bool,
) -> None:
    """Print a fleet definition (never its seed or private keys), and with --broker the
    hosts' shard claims."""
    definition = _load(directory)
    try:
        facts = definition.describe()
    except (OSError, ValueError) as e:
        raise click.ClickException(f"{definition.pki_dir}: cannot read the PKI: {e}") from None
    if broker is not None:
        from emulator.runtime.claims import ClaimError, read_claims

        access = from_cli(
            broker, password_file=broker_password_file, cafile=cafile, certfile=certfile,
            keyfile=keyfile,
        )  # fmt: skip
        try:
            claims = asyncio.run(read_claims(access, definition.id))
        except ClaimError as e:
            raise click.ClickException(str(e)) from None
        facts["claims"] = {sid: json.loads(c.payload()) for sid, c in sorted(claims.items())}
    if as_json:
        click.echo(json.dumps(facts, indent=1, default=str))
        return
    lines = [
        f"fleet {facts['id']} ({facts['dir']}, created {facts['created']})",
        f"  sites          {facts['sites']} ({', '.join(facts['devices'])} each)",
        f"  base EUI       {facts['base_eui']} (ESME {facts['first_esme']} .. "
        f"{facts['last_esme']})",
        f"  seed           {facts['seed']}; sha256 {facts['seed_sha256'][:16]}...",
        f"  PKI            {facts['pki']} (device CA {facts['device_ca']})",
        "  organisations  "
        + ", ".join(f"{role} {eui}" for role, eui in facts["organisations"].items()),
        "  device configuration:",
    ]
    lines += [f"    {line}" if line else "" for line in definition.config_toml().splitlines()]
    if broker is not None:
        lines.append(f"  shard claims on {broker}: {len(claims) or 'none'}")
        lines += [f"    {c.describe()}: {c.sites_text()}" for _, c in sorted(claims.items())]
    click.echo("\n".join(lines))


@fleet_group.command("release")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option(
    "--broker",
    required=True,
    help="mqtt[s]://[user@]host[:port], or several separated by commas; the password "
    f"comes from ${PASSWORD_ENV} or --broker-password-file.",
)
@broker_access_options
@click.option("--claim", "state_id", required=True, help="The state id whose claim to clear.")
def release_cmd(
    directory: Path,
    broker: str,
    broker_password_file: str | None,
    cafile: str | None,
    certfile: str | None,
    keyfile: str | None,
    state_id: str,
) -> None:
    """Clear the shard claim a crashed host left on the broker (check first that the
    host of that state id is really stopped: its shard may be served twice otherwise)."""
    from emulator.runtime.claims import ClaimError, release_claim

    definition = _load(directory)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", state_id):
        raise click.BadParameter(
            f"{state_id!r}: a state id is 1 to 64 of A-Z a-z 0-9 _ -", param_hint="--claim"
        )
    access = from_cli(
        broker, password_file=broker_password_file, cafile=cafile, certfile=certfile,
        keyfile=keyfile,
    )  # fmt: skip
    try:
        found: Any
        found, present = asyncio.run(release_claim(access, definition.id, state_id))
    except ClaimError as e:
        raise click.ClickException(str(e)) from None
    if not present:
        click.echo(f"no claim of state {state_id} in fleet {definition.id}: nothing to clear")
    elif found is None:
        click.echo(f"cleared an unreadable claim of state {state_id} in fleet {definition.id}")
    else:
        click.echo(f"cleared the claim of {found.describe()} in fleet {definition.id}")
