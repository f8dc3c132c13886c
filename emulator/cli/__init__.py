"""The ``gbcs-emu`` command line (click + rich).

Subcommands load lazily: importing this package imports none of them, and a command's
module is imported only when that command runs or its own help is shown. The group's
help lists every command from :data:`COMMANDS` (and :data:`PLUGIN_HELP`) without
importing any; ``tests/test_cli_lazy.py`` checks those lines against the commands.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator, MutableMapping
from types import ModuleType
from typing import NamedTuple

import click


class LazyCommand(NamedTuple):
    """Where a built-in subcommand lives, and its one-line help for the group's table."""

    module: str
    attr: str
    help: str


COMMANDS: dict[str, LazyCommand] = {
    "capture": LazyCommand("emulator.cli.capture_cmd", "capture", "Captures of GBCS traffic."),
    "conformance": LazyCommand(
        "emulator.cli.conformance_cmd",
        "conformance_cmd",
        "Feed every RTDS command to a fresh emulated device and compare the response's "
        "shape with the RTDS response: envelope, CRA, message code, echoed counter, "
        "originator/recipient, date-time presence, payload structure.",
    ),
    "decode": LazyCommand(
        "emulator.cli.decode_cmd",
        "decode_cmd",
        "Decode a GBCS message given as HEX, '-' (stdin) or --file.",
    ),
    "demo": LazyCommand(
        "emulator.cli.demo_cmd",
        "demo_cmd",
        "Run a scripted end-to-end scenario on one emulated site and print a summary.",
    ),
    "duis": LazyCommand(
        "emulator.cli.duis_cmd",
        "duis_group",
        "DUIS XML: decode messages, verify and sign XML signatures, validate against the DUIS "
        "XSD; serve the DUIS service in front of emulated devices.",
    ),
    "fleet": LazyCommand(
        "emulator.cli.fleet_cmd",
        "fleet_group",
        "A fleet definition shared by emulator hosts and head-ends: init, show, release.",
    ),
    "keys": LazyCommand(
        "emulator.cli.keys_cmd",
        "keys_group",
        "Key material: generate a test PKI, inspect key directories.",
    ),
    "run": LazyCommand(
        "emulator.cli.run_cmd",
        "run_cmd",
        "Serve emulated sites until Ctrl-C, with a live table; state is flushed on exit.",
    ),
    "send": LazyCommand(
        "emulator.cli.send_cmd",
        "send_cmd",
        "Send USE_CASE (e.g. ECS17b, ECS37 start=17:00 end=22:00, GCS21b args=@read.json) "
        "to a device of a running emulator and print the verified, decoded response. "
        "Without USE_CASE, list them.",
    ),
    "state": LazyCommand(
        "emulator.cli.state_cmd",
        "state_group",
        "Check, back up, restore and migrate a state directory (devices, counters, PKI).",
    ),
    "stats": LazyCommand(
        "emulator.cli.run_cmd",
        "stats_cmd",
        "Counters of a running (or stopped) emulator from its state directory.",
    ),
    "storm": LazyCommand(
        "emulator.cli.storm_cmd",
        "storm_cmd",
        "Cut mains at N sites at once and report alerts produced, delivered and lost, "
        "alerts/s and delivery latency (seconds from the commit of the chunk of sites that "
        "raised an alert to its arrival). Exits 1 when an alert was lost or --timeout ran "
        "out first.",
    ),
    "usecase": LazyCommand(
        "emulator.cli.usecase_cmd",
        "usecase_group",
        "Use cases as typed arguments: explain commands, build them, list the catalogue.",
    ),
}
"""Built-in subcommands by name."""

PLUGIN_HELP: dict[str, str] = {
    "hil": "Hardware in the loop: emulated devices on serial ports, real meters driven "
    "by bench scenarios.",
}
"""One-line help of known ``gbcs_emu.commands`` plugins, so ``--help`` lists them without
importing them (a plugin not named here is loaded to show its help)."""

PLUGIN_GROUP = "gbcs_emu.commands"


class LazyCommands(MutableMapping[str, click.Command]):
    """The group's commands by name, imported on first access.

    Names are the built-ins, commands added with ``add_command`` and the plugins of the
    ``gbcs_emu.commands`` entry points; the entry points are only scanned when a name
    outside the built-ins is asked for or the names are listed. A plugin that fails to
    load is skipped with a warning, never breaking the CLI.
    """

    def __init__(self) -> None:
        self._loaded: dict[str, click.Command] = {}
        self._removed: set[str] = set()
        self._plugins: dict[str, object] | None = None

    def plugins(self) -> dict[str, object]:
        """Entry points of plugin commands by name (scanned once)."""
        if self._plugins is None:
            from importlib.metadata import entry_points

            self._plugins = {
                ep.name: ep for ep in entry_points(group=PLUGIN_GROUP) if ep.name not in COMMANDS
            }
        return self._plugins

    def _names(self) -> list[str]:
        names = dict.fromkeys([*COMMANDS, *self._loaded, *self.plugins()])
        return [n for n in names if n not in self._removed]

    def __getitem__(self, name: str) -> click.Command:
        cmd = self._loaded.get(name)
        if cmd is not None:
            return cmd
        if name in self._removed:
            raise KeyError(name)
        spec = COMMANDS.get(name)
        if spec is not None:
            cmd = getattr(importlib.import_module(spec.module), spec.attr)
        else:
            cmd = self._load_plugin(name)
        self._loaded[name] = cmd
        return cmd

    def _load_plugin(self, name: str) -> click.Command:
        ep = self.plugins().get(name)
        if ep is None:
            raise KeyError(name)
        try:
            cmd = ep.load()  # type: ignore[attr-defined]
        except Exception as e:  # a broken plugin must not break the CLI
            click.echo(f"warning: command plugin {name!r} not loaded: {e}", err=True)
            self._removed.add(name)
            raise KeyError(name) from None
        if not isinstance(cmd, click.Command):
            click.echo(
                f"warning: command plugin {name!r} not loaded: {ep.value} is not a "  # type: ignore[attr-defined]
                "click command",
                err=True,
            )
            self._removed.add(name)
            raise KeyError(name)
        return cmd

    def __setitem__(self, name: str, cmd: click.Command) -> None:
        self._removed.discard(name)
        self._loaded[name] = cmd

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._loaded.pop(name, None)
        self._removed.add(name)

    def __contains__(self, name: object) -> bool:
        if name in self._loaded:
            return True
        if not isinstance(name, str) or name in self._removed:
            return False
        return name in COMMANDS or name in self.plugins()

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def short_help(self, name: str, limit: int) -> str | None:
        """The group table's line for ``name`` without importing it, when known."""
        if name in self._loaded:
            return None
        spec = COMMANDS.get(name)
        text = spec.help if spec is not None else PLUGIN_HELP.get(name)
        # A help-only command gives click's own shortening, exactly as the real one would.
        return None if text is None else click.Command(name, help=text).get_short_help_str(limit)


class LazyGroup(click.Group):
    """A click group over :class:`LazyCommands` whose help lists commands from the
    table instead of importing them."""

    commands: LazyCommands

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, commands=LazyCommands(), **kwargs)  # type: ignore[arg-type]

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The ``Commands:`` section, as :class:`click.Group` writes it."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            text = self.commands.short_help(name, limit)
            if text is None:
                cmd = self.get_command(ctx, name)
                if cmd is None or cmd.hidden:
                    continue
                text = cmd.get_short_help_str(limit)
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="gbcs-emulator")
def main() -> None:
    """Emulated GB smart-metering (SMETS2) devices speaking real GBCS frames."""


class _CliPackage(ModuleType):
    """This package, whose attributes named after a built-in command's object
    (``decode_cmd``, ``keys_group``...) are that click command, loaded on first use, as
    when the package imported them all. Importing a submodule of the same name
    (``emulator.cli.decode_cmd``) leaves them so, as it did then."""

    def __getattr__(self, name: str) -> click.Command:
        cmd = _EXPORTS.get(name)
        if cmd is None:
            raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
        return main.commands[cmd]

    def __setattr__(self, name: str, value: object) -> None:
        if name in _EXPORTS and isinstance(value, ModuleType):
            self.__dict__.pop(name, None)  # the import system naming a submodule
            return
        super().__setattr__(name, value)


_EXPORTS = {spec.attr: name for name, spec in COMMANDS.items()}
for _attr in _EXPORTS:
    globals().pop(_attr, None)  # a submodule imported before this line
sys.modules[__name__].__class__ = _CliPackage

__all__ = ["COMMANDS", "PLUGIN_HELP", "LazyCommands", "LazyGroup", "main"]
