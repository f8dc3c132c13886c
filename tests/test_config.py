"""Site/fleet configuration: the shipped example, errors, EUI allocation, derived keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from emulator.runtime.config import ConfigError, derive_own_keys, load_config

ROOT = Path(__file__).resolve().parent.parent


def test_shipped_example_is_the_default_site() -> None:
    example = load_config(ROOT / "examples" / "site.toml")
    default = load_config(None)
    assert example.site.euis == default.site.euis
    assert example.site.options["ESME"]["firmware_profile"] == "compliant"
    assert example.site.options["GSME"]["wake_interval_seconds"] == 1800


def test_fleet_allocates_euis_deterministically(tmp_path: Path) -> None:
    f = tmp_path / "f.toml"
    f.write_text('[fleet]\nsites = 3\nbase_eui = "00DB120000000100"\n')
    cfg = load_config(f)
    s2 = cfg.site_config(2)
    assert s2.site_id == "site-2"
    assert s2.eui("ESME").hex() == "00db120000000108"
    assert s2.eui("GPF").hex() == "00db12000000010b"
    assert cfg.site_of_eui(bytes.fromhex("00DB12000000010A")) == 2
    assert cfg.site_of_eui(bytes.fromhex("00DB120000000200")) is None
    assert load_config(f, sites=10).sites == 10


def test_derived_device_keys_are_stable_per_eui() -> None:
    a = derive_own_keys(b"seed", bytes.fromhex("00DB120000000108"))
    b = derive_own_keys(b"seed", bytes.fromhex("00DB120000000108"))
    c = derive_own_keys(b"other", bytes.fromhex("00DB120000000108"))
    n = lambda k: k.private_numbers().private_value  # noqa: E731
    assert n(a.ka) == n(b.ka) and n(a.ds) == n(b.ds) and n(a.ka) != n(a.ds)
    assert n(a.ka) != n(c.ka)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[esme\n", "f.toml"),
        ('[esme]\neui = "XYZ"\n', "f.toml: [esme] eui: "),
        ('[parties]\nbaker = "90B3D51F30FE0002"\n', "f.toml: [parties] baker: "),
        ("[fleet]\nsites = 0\n", "f.toml: [fleet] sites: "),
        ("[chf]\nenabled = false\n", "f.toml: [chf] enabled: "),
        ("site = 3\n", "f.toml: [site]: "),
    ],
)
def test_bad_configuration_names_the_field(tmp_path: Path, text: str, message: str) -> None:
    f = tmp_path / "f.toml"
    f.write_text(text)
    with pytest.raises(ConfigError) as e:
        load_config(f)
    assert message in str(e.value)
