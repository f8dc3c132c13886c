"""Site TOML and device options are validated in full at load time (issue 9, item 3).

Every bad configuration names the file, the ``[table] key`` path and what is allowed;
every problem of a file is reported at once; ``create_device(options=...)`` applies the
same schema with the same wording; the configurations that loaded before still load to
the same values.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from devices.factory import DEVICE_TYPES
from devices.options import OPTIONS, OptionsError, check_options, options_for
from emulator.runtime.config import ConfigError, FleetConfig, load_config
from keys.roles import RemotePartyRole as R
from tests.devkit import bench

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ESME_ALLOWED = "(allowed: eui, enabled, load_profile, md_window_start"


def _load(tmp_path: Path, text: str) -> FleetConfig:
    f = tmp_path / "x.toml"
    f.write_text(text)
    return load_config(f)


def _error(tmp_path: Path, text: str) -> tuple[Path, str]:
    f = tmp_path / "x.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(f)
    return f, str(e.value)


# (id, file text, the key path as printed, what is allowed as printed)
BAD = [
    ("misspelt option", '[esme]\nfirmware_profil = "legacy"\n',
     "[esme] firmware_profil: unknown key; did you mean firmware_profile?", ESME_ALLOWED),
    ("bad choice", '[esme]\nfirmware_profile = "legasy"\n',
     '[esme] firmware_profile: got "legasy"; did you mean "legacy"?',
     'one of "compliant", "legacy"'),
    ("MP102 default profile", "[esme]\nfirmware_ch_cut_seconds = 200\n",
     "[esme] firmware_ch_cut_seconds: 200 s contradicts MP102",
     'allowed: less than 180 s, or firmware_profile = "legacy"'),
    ("MP102 at exactly 180 s", '[esme]\nfirmware_profile = "compliant"\n'
     "firmware_ch_cut_seconds = 180.0\n",
     "[esme] firmware_ch_cut_seconds: 180 s contradicts MP102", "less than 180 s"),
    ("cut out of range", '[esme]\nfirmware_profile = "legacy"\nfirmware_ch_cut_seconds = -1\n',
     "[esme] firmware_ch_cut_seconds: got -1", "a number of seconds from 0 to 86400"),
    ("load as a string", '[esme]\nload_profile = "500"\n',
     '[esme] load_profile: got "500" (a string)', "a constant rate >= 0 (W)"),
    ("negative load", "[esme]\nload_profile = -5\n",
     "[esme] load_profile: got -5", "a constant rate >= 0 (W) or a load-profile table"),
    ("infinite load", "[esme]\nload_profile = inf\n",
     "[esme] load_profile: got inf", "a constant rate >= 0"),
    ("load profile side", "[esme]\nload_profile = { imports = { w = 5 } }\n",
     "[esme] load_profile.imports: unknown key; did you mean import?",
     "(allowed: import, export)"),
    ("load profile key", "[esme]\nload_profile = { import = { w = 5, shap = [] } }\n",
     "[esme] load_profile.import.shap: unknown key; did you mean shape?",
     "(allowed: w, shape, overrides)"),
    ("short shape", "[esme]\nload_profile = { import = { shape = [1, 2] } }\n",
     "[esme] load_profile.import.shape: got an array", "an array of 48 integers >= 0"),
    ("override off the half hour", "[esme]\nload_profile = { import = { overrides = "
     '{ "2024-01-01T00:10:00+00:00" = 3 } } }\n',
     "[esme] load_profile: import_overrides key 2024-01-01T00:10:00+00:00 is not on a "
     "half-hour boundary", "a load-profile table"),
    ("switch time", '[esme]\nmd_window_start = "25:00"\n',
     "[esme] md_window_start: switch time hour 25 is out of range 0..23",
     'a UTC time "HH:MM", "HH:MM:SS" or "HH:MM:SS.hh"'),
    ("capture at", '[esme]\nmd_capture_at = "middle"\n',
     '[esme] md_capture_at: got "middle"', 'one of "start", "end"'),
    ("display digits", "[esme]\ndisplay_digits = 0\n",
     "[esme] display_digits: got 0", "an integer from 1 to 15"),
    ("short EUI", '[esme]\neui = "00DB1234"\n',
     '[esme] eui: got "00DB1234";', "16 hex digits"),
    ("EUI as a number", "[esme]\neui = 1234\n", "[esme] eui: got 1234", "16 hex digits"),
    ("gas option on the ESME", "[esme]\ngas_profile = 60\n",
     "[esme] gas_profile: not an option of the ESME (it is one of the GSME)", ESME_ALLOWED[1:]),
    ("string for a number", '[gsme]\nwake_interval_seconds = "1800"\n',
     '[gsme] wake_interval_seconds: got "1800" (a string)',
     "a number of seconds from 0.1 to 604800"),
    ("zero wake interval", "[gsme]\nwake_interval_seconds = 0\n",
     "[gsme] wake_interval_seconds: got 0", "from 0.1 to 604800"),
    ("MID rule", "[gsme]\ndisplay = { large_gas_meter = true, qmax_m3h = 16, int_digits = 5 }\n",
     "[gsme] display.int_digits: Large Gas Meter display with 5 integer digits would wrap",
     "at least 6 integer digits"),
    ("LGM without qmax", "[gsme]\ndisplay = { large_gas_meter = true }\n",
     "[gsme] display.qmax_m3h: a Large Gas Meter display needs qmax_m3h",
     "a number of m³/h above 0"),
    ("display key", "[gsme]\ndisplay = { qmax = 16 }\n",
     "[gsme] display.qmax: unknown key; did you mean qmax_m3h?",
     "(allowed: large_gas_meter, qmax_m3h, int_digits, frac_digits)"),
    ("display flag type", '[gsme]\ndisplay = { large_gas_meter = "yes" }\n',
     '[gsme] display.large_gas_meter: got "yes" (a string)', "true or false"),
    ("display not a table", "[gsme]\ndisplay = 5\n",
     "[gsme] display: got 5", "a table with large_gas_meter, qmax_m3h"),
    ("Python-only option", '[gsme]\nchf_eui = "00DB1234567890A2"\n',
     "[gsme] chf_eui: cannot be set in a site file", "allowed: eui, enabled, gas_profile"),
    ("queue size", "[chf]\ngsme_queue_size = 0\n",
     "[chf] gsme_queue_size: got 0", "an integer from 1 to 10000"),
    ("fractional queue size", "[chf]\ngsme_queue_size = 2.5\n",
     "[chf] gsme_queue_size: got 2.5", "an integer from 1 to 10000"),
    ("flag as a string", '[chf]\nstorm_consolidation = "yes"\n',
     '[chf] storm_consolidation: got "yes" (a string)', "true or false"),
    ("negative latency", "[chf]\nad1_latency_seconds = -1\n",
     "[chf] ad1_latency_seconds: got -1", "from 0 to 86400"),
    ("enabled as a string", '[gsme]\nenabled = "no"\n',
     '[gsme] enabled: got "no" (a string)', "true or false"),
    ("no Comms Hub", "[chf]\nenabled = false\n",
     "[chf] enabled: a site needs its Comms Hub", "allowed: true"),
    ("DLMS-only option on the GPF", "[gpf]\nlog_range_end_inclusive = true\n",
     "[gpf] log_range_end_inclusive: not an option of the GPF (it is one of the ESME and CHF)",
     "allowed: eui, enabled, certificate_time_checks"),
    ("site id", '[site]\nid = "a/b"\n', '[site] id: got "a/b"', "an MQTT topic level"),
    ("site key", '[site]\nname = "x"\n', "[site] name: unknown key", "(allowed: id)"),
    ("site not a table", "site = 3\n", "[site]: must be a table", "got 3"),
    ("sites as a string", '[fleet]\nsites = "10"\n',
     '[fleet] sites: got "10" (a string)', "an integer from 1 to 10000000"),
    ("no sites", "[fleet]\nsites = 0\n", "[fleet] sites: got 0", "from 1 to 10000000"),
    ("too many sites", "[fleet]\nsites = 20000000\n",
     "[fleet] sites: got 20000000", "from 1 to 10000000"),
    ("fleet key", "[fleet]\nsite = 3\n",
     "[fleet] site: unknown key; did you mean sites?", "(allowed: sites, base_eui, seed)"),
    ("base EUI", '[fleet]\nbase_eui = "XYZ"\n', '[fleet] base_eui: got "XYZ";', "16 hex digits"),
    ("base EUI overflow", '[fleet]\nsites = 2\nbase_eui = "FFFFFFFFFFFFFFFE"\n',
     "[fleet] base_eui: FFFFFFFFFFFFFFFE leaves no room for 2 sites",
     "allowed: a base EUI at most"),
    ("unknown role", '[parties]\nsuplier = "90B3D51F30FE0002"\n',
     "[parties] suplier: unknown role; did you mean supplier?",
     "(allowed: root, recovery, supplier, network-operator"),
    ("role held by no device", '[parties]\nissuing-authority = "90B3D51F30FE0007"\n',
     "[parties] issuing-authority: Issuing Authority is not a trust-anchor role",
     "allowed: root, recovery, supplier"),
    ("role twice", '[parties]\nacb = "90B3D51F30FE0004"\n'
     'access-control-broker = "90B3D51F30FE0004"\n',
     "[parties] access-control-broker: names the same role as acb", "one entry per role"),
    ("party EUI", '[parties]\nsupplier = "90B3"\n',
     '[parties] supplier: got "90B3";', "16 hex digits"),
    ("unknown table", '[esmee]\neui = "00DB1234567890A0"\n',
     "[esmee]: unknown table; did you mean [esme]?",
     "(allowed: [site], [esme], [gsme], [chf], [gpf], [fleet], [parties])"),
    ("unknown top-level key", "sites = 3\n",
     "sites: unknown top-level key; did you mean [site]?", "(allowed: [site], [esme]"),
    ("one EUI for two devices", '[gsme]\neui = "00DB1234567890A0"\n',
     "[gsme] eui: 00DB1234567890A0 is already the ESME's EUI",
     "allowed: a different EUI for each device"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "key", "allowed"), [c[1:] for c in BAD], ids=[c[0] for c in BAD])
def test_bad_config_names_file_key_and_allowed(
    tmp_path: Path, text: str, key: str, allowed: str
) -> None:
    f, message = _error(tmp_path, text)
    lines = message.splitlines()
    assert len(lines) == 1, message
    assert lines[0].startswith(f"{f}: {key}"), message
    assert allowed in lines[0], message


def test_every_problem_of_a_file_is_reported_at_once(tmp_path: Path) -> None:
    f, message = _error(
        tmp_path,
        '[esme]\nfirmware_profil = "legacy"\ndisplay_digits = 99\n\n'
        '[chf]\nstorm_window_seconds = "60"\n\n[fleet]\nsites = 0\n\n[gpff]\n',
    )
    lines = message.splitlines()
    assert len(lines) == 5, message
    assert all(line.startswith(f"{f}: ") for line in lines)
    keys = [re.match(rf"{re.escape(str(f))}: (\[\w+\](?: [\w.]+)?):", x)[1] for x in lines]  # type: ignore[index]
    assert keys == [
        "[gpff]",
        "[esme] firmware_profil",
        "[esme] display_digits",
        "[chf] storm_window_seconds",
        "[fleet] sites",
    ]


@pytest.mark.parametrize(
    ("profile", "cut"), [("legacy", 240), ("legacy", 180), ("compliant", 179.9), ("compliant", 0)]
)
def test_firmware_cuts_that_agree_with_mp102_load(tmp_path: Path, profile: str, cut: float) -> None:
    cfg = _load(
        tmp_path, f'[esme]\nfirmware_profile = "{profile}"\nfirmware_ch_cut_seconds = {cut}\n'
    )
    esme = bench().device("ESME", options=cfg.site.options["ESME"])
    assert esme.firmware_profile == profile  # type: ignore[attr-defined]
    assert esme.firmware_cut.total_seconds() == cut  # type: ignore[attr-defined]


def test_a_cli_sites_override_is_checked_too(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^sites: got 0; allowed: an integer from 1 to "):
        load_config(None, sites=0)
    f = tmp_path / "x.toml"
    f.write_text("[fleet]\nsites = 2\n")
    assert load_config(f, sites=5).sites == 5


# -------------------------------------------------------------------- create_device


PYTHON_BAD = [
    ("ESME", {"firmware_profil": "legacy"}, "firmware_profil: unknown key; did you mean "
     "firmware_profile? (allowed: load_profile, md_window_start"),
    ("ESME", {"firmware_ch_cut_seconds": 181}, "firmware_ch_cut_seconds: 181 s contradicts MP102"),
    ("ESME", {"md_capture_at": "End"}, 'md_capture_at: got "End"; did you mean "end"? '
     '(allowed: one of "start", "end")'),
    ("GSME", {"wake_interval_seconds": "1800"}, 'wake_interval_seconds: got "1800" (a string); '
     "allowed: a number of seconds from 0.1 to 604800"),
    ("GSME", {"display": {"large_gas_meter": True, "qmax_m3h": 16, "int_digits": 5}},
     "display.int_digits: Large Gas Meter display with 5 integer digits"),
    ("CHF", {"gsme_queue_size": True}, "gsme_queue_size: got true; allowed: an integer from 1"),
    ("GPF", {"gas_profile": 60}, "gas_profile: not an option of the GPF (it is one of the GSME)"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "options", "fragment"), PYTHON_BAD)
def test_create_device_refuses_bad_options_with_the_same_wording(
    tmp_path: Path, kind: str, options: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(ValueError) as e:
        bench().device(kind, options=options)
    assert isinstance(e.value, OptionsError)
    assert str(e.value) == f"{kind} options: {e.value.problems[0]}"
    assert fragment in str(e.value)
    # The site TOML says the same after its [table] prefix (its allowed list adds eui and
    # enabled, which are table keys, not options).
    f = tmp_path / "x.toml"
    f.write_text(f"[{kind.lower()}]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in options.items()))
    with pytest.raises(ConfigError) as c:
        load_config(f)
    tail = str(c.value).split(f"[{kind.lower()}] ", 1)[1]
    assert tail.replace("eui, enabled, ", "") == str(e.value).split(" options: ", 1)[1]


def _toml(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml(x)}" for k, x in v.items()) + " }"
    return repr(v)


def test_create_device_accepts_python_only_hooks() -> None:
    b = bench()
    gsme = b.device("GSME", options={"chf_eui": "00DB1234567890A2"})
    assert gsme.chf_eui == bytes.fromhex("00DB1234567890A2")  # type: ignore[attr-defined]
    esme = b.device("ESME", options={}, code_faults={0x0011: 1})
    assert esme.config.code_faults == {0x0011: 1}


def test_bad_options_build_no_device() -> None:
    b = bench()
    with pytest.raises(ValueError, match="unknown key"):
        b.device("CHF", options={"storm_windows_seconds": 5})
    assert "CHF" not in b.devices


# -------------------------------------------------------------------- the schema


def test_every_option_a_device_reads_is_declared() -> None:
    """Grep the devices for option reads: a new option without a schema entry fails here."""
    read: set[str] = set()
    for path in (ROOT / "devices").rglob("*.py"):
        if path.name == "options.py":
            continue
        text = path.read_text()
        read |= set(re.findall(r"""opts(?:\.get\(\s*|\[)["'](\w+)["']""", text))
        read |= set(re.findall(r"""options\.get\(\s*["'](\w+)["']""", text))
    assert read, "the option reads were not found: update this test's patterns"
    assert read <= set(OPTIONS), sorted(read - set(OPTIONS))
    assert set(OPTIONS) <= read, sorted(set(OPTIONS) - read)


def test_each_option_is_read_by_the_device_types_it_names() -> None:
    """An option valid for a device type changes that device (no silently ignored keys)."""
    b = bench()
    changed = {
        ("ESME", "display_digits", 7): lambda d: d.display_digits == 7,
        ("ESME", "md_capture_at", "end"): lambda d: d.md._capture_at == "end",
        ("GSME", "wake_interval_seconds", 60): lambda d: d.wake_interval.total_seconds() == 60,
        ("CHF", "gsme_queue_size", 3): lambda d: d.queue_size == 3,
        ("CHF", "log_range_end_inclusive", False): lambda d: not d.log_range_end_inclusive,
        ("ESME", "log_range_end_inclusive", False): lambda d: not d.log_range_end_inclusive,
    }
    for (kind, name, value), check in changed.items():
        assert kind in OPTIONS[name].devices
        assert check(b.device(kind, options={name: value})), (kind, name)


@pytest.mark.parametrize("kind", DEVICE_TYPES)
def test_schema_defaults_are_valid(kind: str) -> None:
    defaults = {n: s.default for n, s in options_for(kind).items() if s.default is not None}
    assert check_options(kind, defaults) == []
    bench().device(kind, options=defaults)


# -------------------------------------------------------------------- good configs


def test_every_example_toml_loads() -> None:
    from hil.bench import load_scenario

    tomls = sorted(EXAMPLES.rglob("*.toml"))
    assert EXAMPLES / "site.toml" in tomls
    for path in tomls:
        text = path.read_text()
        if "[bench]" in text or "[[step]]" in text:
            assert load_scenario(path).steps, path
        else:
            load_config(path)


def test_example_site_builds_every_device() -> None:
    cfg = load_config(EXAMPLES / "site.toml")
    b = bench()
    for kind in cfg.site.devices:
        b.device(kind, options=cfg.site.options.get(kind, {}))


LOAD_SHAPE = ", ".join(str(100 * (i % 5)) for i in range(48))

GOOD = [
    ('[esme]\nmd_window_start = "15:00:00.00"\n', {"ESME": {"md_window_start": "15:00:00.00"}}),
    ("[gsme]\nwake_interval_seconds = 2\n", {"GSME": {"wake_interval_seconds": 2}}),
    ("[gsme]\nwake_interval_seconds = 0.5\n", {"GSME": {"wake_interval_seconds": 0.5}}),
    ('[esme]\nfirmware_profile = "legacy"\nload_profile = 800\n',
     {"ESME": {"firmware_profile": "legacy", "load_profile": 800}}),
    ("[esme]\nload_profile = 333.5\n", {"ESME": {"load_profile": 333.5}}),
    (f"[esme]\nload_profile = {{ import = {{ w = 0, shape = [{LOAD_SHAPE}] }}, "
     'export = { w = 10, overrides = { "2024-01-01T00:30:00+00:00" = 7 } } }\n',
     {"ESME": {"load_profile": {
         "import": {"w": 0, "shape": [100 * (i % 5) for i in range(48)]},
         "export": {"w": 10, "overrides": {"2024-01-01T00:30:00+00:00": 7}}}}}),
    ("[gsme]\ndisplay = { large_gas_meter = true, qmax_m3h = 16, int_digits = 6, "
     "frac_digits = 3 }\n",
     {"GSME": {"display": {"large_gas_meter": True, "qmax_m3h": 16, "int_digits": 6,
                           "frac_digits": 3}}}),
    ('[gsme]\ndisplay = { large_gas_meter = true, qmax_m3h = "2.5" }\n',
     {"GSME": {"display": {"large_gas_meter": True, "qmax_m3h": "2.5"}}}),
    ("[chf]\nad1_latency_seconds = 240\nstorm_consolidation = true\nstorm_window_seconds = 60\n",
     {"CHF": {"ad1_latency_seconds": 240, "storm_consolidation": True,
              "storm_window_seconds": 60}}),
    ("[gpf]\nenabled = false\ncertificate_time_checks = true\n",
     {"GPF": {"certificate_time_checks": True}}),
    ("[esme]\nmd_window_start = 16:30:00\n", None),  # a TOML local time, as before
]  # fmt: skip


@pytest.mark.parametrize(("text", "options"), GOOD)
def test_previously_good_configs_load_unchanged(
    tmp_path: Path, text: str, options: dict[str, dict[str, Any]] | None
) -> None:
    cfg = _load(tmp_path, text)
    if options is not None:
        assert cfg.site.options == options
    b = bench()
    for kind in cfg.site.devices:
        b.device(kind, options=cfg.site.options.get(kind, {}))


def test_fleet_and_parties_load_unchanged(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        '[site]\nid = "premises-7"\n\n[fleet]\nsites = 3\nbase_eui = "00-DB-12-00-00-00-01-00"\n'
        'seed = "my seed"\n\n[parties]\nsupplier = "90B3D51F30FE0002"\n'
        'network_operator = "90b3d51f30fe0003"\nacb = "90B3D51F30FE0004"\n',
    )
    assert cfg.site.site_id == "premises-7"
    assert cfg.sites == 3 and cfg.base_eui == bytes.fromhex("00DB120000000100")
    assert cfg.parties == {
        R.SUPPLIER: bytes.fromhex("90B3D51F30FE0002"),
        R.NETWORK_OPERATOR: bytes.fromhex("90B3D51F30FE0003"),
        R.ACCESS_CONTROL_BROKER: bytes.fromhex("90B3D51F30FE0004"),
    }
    assert cfg.site.devices == ("ESME", "GSME", "CHF", "GPF")


def test_gsme_disabled_leaves_the_site_without_it(tmp_path: Path) -> None:
    cfg = _load(tmp_path, "[gsme]\nenabled = false\n")
    assert cfg.site.devices == ("ESME", "CHF", "GPF")


def test_cli_run_reports_every_problem_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[esme]\nfirmware_profil = "legacy"\n\n[chf]\ngsme_queue_size = "32"\n')
    res = subprocess.run(
        [sys.executable, "-m", "emulator", "run", "--config", str(bad),
         "--state", str(tmp_path / "state"), "--duration", "1", "--quiet"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode != 0
    assert "Traceback" not in res.stdout + res.stderr
    assert f"{bad}: [esme] firmware_profil: unknown key; did you mean firmware_profile?" in (
        res.stderr
    )
    assert f'{bad}: [chf] gsme_queue_size: got "32" (a string)' in res.stderr
    assert not (tmp_path / "state").exists()
