"""The ``gbcs-emu`` command line (click + rich)."""

from __future__ import annotations

import click

from emulator.cli.capture_cmd import capture
from emulator.cli.conformance_cmd import conformance_cmd
from emulator.cli.decode_cmd import decode_cmd
from emulator.cli.demo_cmd import demo_cmd
from emulator.cli.keys_cmd import keys_group
from emulator.cli.run_cmd import run_cmd, stats_cmd
from emulator.cli.send_cmd import send_cmd
from emulator.cli.state_cmd import state_group
from emulator.cli.storm_cmd import storm_cmd
from emulator.cli.usecase_cmd import usecase_group


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gbcs-emulator")
def main() -> None:
    """Emulated GB smart-metering (SMETS2) devices speaking real GBCS frames."""


main.add_command(decode_cmd)
main.add_command(keys_group)
main.add_command(capture)
main.add_command(conformance_cmd)
main.add_command(run_cmd)
main.add_command(stats_cmd)
main.add_command(storm_cmd)
main.add_command(demo_cmd)
main.add_command(send_cmd)
main.add_command(state_group)
main.add_command(usecase_group)


def _load_plugins() -> None:
    """Commands other packages register (``gbcs_emu.commands`` entry points, e.g. ``hil``);
    a plugin that fails to load is skipped with a warning, never breaking the CLI."""
    from importlib.metadata import entry_points

    for ep in entry_points(group="gbcs_emu.commands"):
        try:
            main.add_command(ep.load(), ep.name)
        except Exception as e:  # a broken plugin must not break the CLI
            click.echo(f"warning: command plugin {ep.name!r} not loaded: {e}", err=True)


_load_plugins()

__all__ = ["main"]
