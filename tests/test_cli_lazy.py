"""``gbcs-emu`` loads a subcommand's module only when that command runs or shows help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from emulator.cli import COMMANDS, PLUGIN_HELP, LazyCommands, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = (ROOT / "examples" / "messages" / "01-ecs42-command-signed.hex").read_text().strip()

# Modules that only some subcommands need; none may load with the group or with decode.
HEAVY = (
    "emulator.conformance",
    "emulator.runtime",
    "emulator.headend",
    "emulator.transport",
    "hil",
    "devices",
)


def short_help(text: str, limit: int) -> str:
    return click.Command("x", help=text).get_short_help_str(limit)


def _modules_after(code: str) -> list[str]:
    """``sys.modules`` of a fresh interpreter after running ``code``."""
    probe = (
        f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)), file=sys.__stderr__)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    return json.loads(r.stderr.strip().splitlines()[-1])


def _loaded(mods: list[str], prefix: str) -> list[str]:
    return [m for m in mods if m == prefix or m.startswith(prefix + ".")]


def test_importing_the_group_imports_no_subcommand() -> None:
    mods = _modules_after("import emulator.cli")
    for heavy in HEAVY:
        assert not _loaded(mods, heavy), heavy
    for spec in COMMANDS.values():
        assert spec.module not in mods
    assert "gbcs.codec" not in mods


def test_decode_imports_only_what_decoding_needs() -> None:
    code = (
        "from emulator.cli import main\n"
        f"try:\n    main(['decode', '--json', '{EXAMPLE}'])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    )
    mods = _modules_after(code)
    assert "emulator.cli.decode_cmd" in mods and "gbcs.inspect" in mods
    for heavy in HEAVY:
        assert not _loaded(mods, heavy), heavy
    others = [s.module for n, s in COMMANDS.items() if n != "decode"]
    assert not [m for m in others if m in mods]
    assert "cryptography.x509" not in mods  # no --keys: no key store, no X.509
    assert "concurrent.futures" not in mods  # only --jobs needs processes


def test_group_help_lists_every_command_without_importing_any() -> None:
    code = (
        "from emulator.cli import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
    )
    mods = _modules_after(code)
    for spec in COMMANDS.values():
        assert spec.module not in mods
    assert not _loaded(mods, "hil")
    r = CliRunner().invoke(main, ["--help"])
    listed = [
        line.split()[0]
        for line in r.output.split("Commands:")[1].splitlines()
        if line.startswith("  ") and line.split()
    ]
    assert listed == sorted(set(COMMANDS) | {"hil"})


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_lines_are_the_commands_own_help(name: str) -> None:
    """The table must not go stale: each line is what click would print for the command."""
    spec = COMMANDS[name]
    cmd = getattr(__import__(spec.module, fromlist=[spec.attr]), spec.attr)
    assert isinstance(cmd, click.Command) and cmd.name == name
    assert main.commands[name] is cmd
    for limit in (30, 45, 74, 1000):
        assert short_help(spec.help, limit) == cmd.get_short_help_str(limit)


def test_known_plugin_help_is_the_plugins_own() -> None:
    cmd = main.commands["hil"]
    for name, text in PLUGIN_HELP.items():
        assert short_help(text, 1000) == main.commands[name].get_short_help_str(1000)
    assert cmd.name == "hil"


def test_every_command_resolves_and_runs_its_help() -> None:
    assert set(main.commands) == set(COMMANDS) | {"hil"}
    for name in main.commands:
        r = CliRunner().invoke(main, [name, "--help"])
        assert r.exit_code == 0, (name, r.output)
        assert "Usage: " in r.output


def test_package_attributes_stay_the_click_commands() -> None:
    """``from emulator.cli import decode_cmd`` is the command, as before, even after the
    submodule of that name has been imported."""
    import importlib

    importlib.import_module("emulator.cli.demo_cmd")
    from emulator.cli import decode_cmd, demo_cmd, keys_group

    assert isinstance(demo_cmd, click.Command) and demo_cmd.name == "demo"
    assert isinstance(decode_cmd, click.Command) and decode_cmd.name == "decode"
    assert isinstance(keys_group, click.Group)
    with pytest.raises(AttributeError):
        importlib.import_module("emulator.cli").no_such_command  # noqa: B018


class _BrokenEntryPoint:
    name = "broken"
    value = "nowhere:cmd"

    def load(self) -> Any:
        raise ImportError("No module named 'nowhere'")


class _NotACommand(_BrokenEntryPoint):
    name = "notcmd"

    def load(self) -> Any:
        return object()


def test_a_broken_plugin_is_skipped_with_a_warning(capsys: pytest.CaptureFixture[str]) -> None:
    cmds = LazyCommands()
    cmds._plugins = {"broken": _BrokenEntryPoint(), "notcmd": _NotACommand()}
    assert "broken" in cmds
    assert cmds.get("broken") is None
    assert cmds.get("notcmd") is None
    err = capsys.readouterr().err
    assert "warning: command plugin 'broken' not loaded: No module named 'nowhere'" in err
    assert "warning: command plugin 'notcmd' not loaded: nowhere:cmd is not a click command" in err
    assert "broken" not in cmds and "broken" not in list(cmds)
    assert cmds.get("decode") is not None  # the built-ins are untouched


def test_an_unknown_command_is_one_clear_line() -> None:
    r = CliRunner().invoke(main, ["decod"])
    assert r.exit_code == 2
    assert "No such command 'decod'" in r.output and "decode" in r.output
    assert r.exc_info is None or r.exc_info[0] is SystemExit


# Loaded on first use only: a DLMS message needs none of them, and without keys no
# cryptography; rich only when the tree is rendered.
CLUSTER_MODULES = (
    "gbcs.zcl.price",
    "gbcs.zcl.metering",
    "gbcs.zcl.messaging",
    "gbcs.zcl.prepayment",
    "gbcs.zcl.calendar",
    "gbcs.zcl.device_management",
    "gbcs.zcl.events",
)


def _decode_modules(*args: str) -> list[str]:
    code = (
        "from emulator.cli import main\n"
        f"try:\n    main(['decode', {', '.join(repr(a) for a in args)}])\n"
        "except SystemExit as e:\n    assert e.code in (0, None), e.code\n"
    )
    return _modules_after(code)


def test_decoding_dlms_loads_no_zcl_gbz_asn1_crypto_or_rich() -> None:
    mods = _decode_modules("--json", EXAMPLE)
    assert "gbcs.dlms" in mods
    for absent in (*CLUSTER_MODULES, "gbcs.zcl", "gbcs.gbz", "gbcs.asn1", "gbcs.der"):
        assert absent not in mods, absent
    assert not _loaded(mods, "cryptography")  # signed, but no --keys: nothing to verify
    assert not _loaded(mods, "construct")  # well-formed envelopes are read with struct
    assert not _loaded(mods, "rich")  # --json renders no tree
    assert "tomllib" not in mods  # the use-case registry is not built to name a code


def test_the_tree_output_loads_rich_and_still_no_zcl() -> None:
    mods = _decode_modules(EXAMPLE)
    assert "rich.console" in mods and "rich.tree" in mods
    assert not [m for m in CLUSTER_MODULES if m in mods]


def _gbz_message_hex() -> str:
    from gbcs.codec import build
    from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
    from gbcs.gbz import GbzComponent, GbzPayload
    from gbcs.zcl import GetCurrentPrice

    header = GroupingHeader(
        Cra.COMMAND,
        1,
        bytes.fromhex("90B3D51F30010000"),
        bytes.fromhex("00DB1234567890A1"),
        OtherInformation(0x0054),
    )
    payload = GbzPayload((GbzComponent.command(0x0700, GetCurrentPrice(1)),))
    msg = build(
        header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL
    )
    return msg.encode().hex().upper()


def test_decoding_gbz_loads_only_the_cluster_it_carries() -> None:
    hx = _gbz_message_hex()
    mods = _decode_modules("--json", hx)
    assert "gbcs.gbz" in mods and "gbcs.zcl" in mods
    assert [m for m in CLUSTER_MODULES if m in mods] == ["gbcs.zcl.price"]
    r = CliRunner().invoke(main, ["decode", "--json", hx])
    assert r.exit_code == 0, r.output
    tree = json.dumps(json.loads(r.output)["tree"])
    assert "Get Current Price" in tree  # named from the lazily loaded cluster module


def test_zcl_names_load_their_cluster_module_on_first_use() -> None:
    probe = (
        "import sys\n"
        "import gbcs.zcl as z\n"
        "assert 'gbcs.zcl.calendar' not in sys.modules\n"
        "from gbcs.zcl import PublishDayProfile\n"
        "assert 'gbcs.zcl.calendar' in sys.modules\n"
        "assert PublishDayProfile is sys.modules['gbcs.zcl.calendar'].PublishDayProfile\n"
        "assert 'gbcs.zcl.price' not in sys.modules\n"
        "assert z.command_name(0x0700, 0x09, 0x00) == 'Publish Price'\n"
        "assert 'gbcs.zcl.price' in sys.modules\n"
        "assert 'PublishPrice' in dir(z)\n"
        "try:\n    z.NoSuchRecord\nexcept AttributeError:\n    pass\n"
        "else:\n    raise SystemExit('no AttributeError')\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert r.returncode == 0, r.stderr


def test_typed_commands_keep_cluster_order_whatever_loaded_first() -> None:
    """typed_commands() lists clusters in id order and each cluster's commands in
    definition order, even when a later cluster was loaded first."""
    probe = (
        "import json\n"
        "import gbcs.zcl.events, gbcs.zcl.calendar\n"
        "from gbcs.zcl import typed_commands\n"
        "print(json.dumps([list(k) for k in typed_commands()]), file=sys.__stderr__)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", "import sys\n" + probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert r.returncode == 0, r.stderr
    late_first = [tuple(k) for k in json.loads(r.stderr.strip().splitlines()[-1])]
    from gbcs.zcl import typed_commands
    from gbcs.zcl.names import CLUSTER_MODULES as REGISTRY

    in_order = list(typed_commands())
    assert late_first == in_order
    clusters = [k[0] for k in in_order]
    assert clusters == sorted(clusters) and set(clusters) == set(REGISTRY)
    for cls in typed_commands().values():  # every registered cluster maps to its module
        assert REGISTRY[cls.CLUSTER] == cls.__module__
