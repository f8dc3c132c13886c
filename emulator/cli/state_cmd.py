"""``gbcs-emu state``: check, back up, restore and migrate an emulator's state directory."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from emulator.runtime.config import ConfigError, load_config
from emulator.runtime.statedir import StateError
from emulator.runtime.statetools import backup, check, migrate, restore

from .run_cmd import DEFAULT_STATE, parse_shard

_STATE = click.option(
    "--state",
    type=click.Path(file_okay=False, path_type=Path),
    default=DEFAULT_STATE,
    show_default=True,
    help="The emulator's state directory.",
)


def _progress(text: str) -> None:
    click.echo(text, err=True)


@click.group("state")
def state_group() -> None:
    """Check, back up, restore and migrate a state directory (devices, counters, PKI)."""


@state_group.command("check")
@_STATE
@click.option("--json", "as_json", is_flag=True)
def check_cmd(state: Path, as_json: bool) -> None:
    """Read everything (read-only) and report what an emulator would refuse; exit 1 if
    anything is wrong."""
    findings = check(state)
    if as_json:
        import json

        click.echo(json.dumps([{"path": f.path, "ok": f.ok, "detail": f.detail} for f in findings]))
    else:
        t = Table(title=f"state {state}")
        t.add_column("file", overflow="fold")
        t.add_column("", no_wrap=True)
        t.add_column("detail", overflow="fold")
        for f in findings:
            t.add_row(f.path, "ok" if f.ok else "FAIL", f.detail)
        Console().print(t)
    if not all(f.ok for f in findings):
        raise SystemExit(1)


@state_group.command("backup")
@_STATE
@click.option(
    "--to",
    "dest",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A new (or empty) folder for the backup.",
)
def backup_cmd(state: Path, dest: Path) -> None:
    """Consistent copy of the state (also while the emulator runs)."""
    try:
        files = backup(state, dest, progress=_progress)
    except StateError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"backup to {dest}: {e.strerror or e}") from None
    click.echo(f"backed up {state} to {dest} ({len(files)} files)")


@state_group.command("restore")
@_STATE
@click.option(
    "--from",
    "source",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="A folder written by 'gbcs-emu state backup'.",
)
@click.option(
    "--accept-rollback",
    is_flag=True,
    help="Restore even if security counters go back (earlier commands become replayable).",
)
def restore_cmd(state: Path, source: Path, accept_rollback: bool) -> None:
    """Put a backup back (the emulator must be stopped); replaced files are kept aside."""
    if not source.is_dir():
        raise click.BadParameter(f"{source}: no such folder", param_hint="--from")
    try:
        rolled = restore(state, source, accept_rollback=accept_rollback, progress=_progress)
    except StateError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"restore into {state}: {e.strerror or e}") from None
    if rolled:
        click.echo(f"warning: {len(rolled)} counter(s) rolled back, as accepted", err=True)
    click.echo(f"restored {state} from {source}")


@state_group.command("migrate")
@_STATE
@click.option("--config", type=click.Path(dir_okay=False, path_type=Path), help="Site TOML.")
@click.option("--sites", type=click.IntRange(min=1), help="Number of sites.")
@click.option("--workers", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--shard", metavar="FIRST:TOTAL", help="As for run.")
@click.option("--seed", help="A new fleet seed (device keys change; counters are kept).")
def migrate_cmd(
    state: Path,
    config: Path | None,
    sites: int | None,
    workers: int,
    shard: str | None,
    seed: str | None,
) -> None:
    """Move every site, counters and all, to a new layout (the emulator must be
    stopped); then run with the same options."""
    try:
        cfg = load_config(config, sites=sites)
    except ConfigError as e:
        raise click.ClickException(str(e)) from None
    first, total = parse_shard(shard, workers)
    try:
        done = migrate(
            state,
            cfg,
            first=first,
            count=workers,
            total=total,
            seed=seed.encode() if seed else None,
            progress=_progress,
        )
    except StateError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:
        raise click.ClickException(f"migrate {state}: {e.strerror or e}") from None
    click.echo(
        f"migrated {done['sites']} site(s) and {done['frames']} queued frame(s) to workers "
        f"{first}..{first + workers - 1} of {total}; old files in {done['aside']}"
    )
