"""Fleet definitions (``gbcs-emu fleet init/show``, ``run --fleet``, ``send --fleet``):
the files and their modes, secrets never printed, damage refused, states bound to one
fleet, and a head-end holding only the definition verifying what a host's devices say."""

from __future__ import annotations

import asyncio
import json
import os
import stat
import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from emulator.cli import main
from emulator.headend.client import HeadEnd
from emulator.headend.identity import MemoryCounterStore, parties_from_store
from emulator.runtime.clock import RealClock
from emulator.runtime.config import derive_own_keys, load_config
from emulator.runtime.fleetdef import (
    FleetDefinition,
    FleetDefinitionError,
    bind_state,
    bound_fleet,
)
from emulator.runtime.launch import claim
from emulator.runtime.server import Emulator
from emulator.runtime.statedir import StateError, load_info
from emulator.transport.inprocess import InProcessBus, InProcessHub
from keys.roles import KeyUsage
from keys.store import KeyStore


def cli(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(main, list(args), env=env)


def mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def one_error_line(r: Result) -> str:
    """The command failed with one ``Error:`` line and no traceback."""
    assert r.exit_code != 0
    assert r.exc_info is None or r.exc_info[0] is SystemExit, r.exc_info
    assert "Traceback" not in r.output
    errors = [line for line in r.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, r.output
    return errors[0]


def public_point(key: object) -> bytes:
    return key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)  # type: ignore[attr-defined]


@pytest.fixture
def fleet(tmp_path: Path) -> FleetDefinition:
    return FleetDefinition.create(tmp_path / "fleet", load_config(None, sites=12))


# ------------------------------------------------------------------------ init / show


def test_init_writes_the_definition_with_private_secrets(tmp_path: Path) -> None:
    d = tmp_path / "fleet"
    r = cli("fleet", "init", str(d), "--sites", "40")
    assert r.exit_code == 0, r.output
    doc = tomllib.loads((d / "fleet.toml").read_text())
    fleet_id = doc["definition"]["id"]
    assert f"fleet {fleet_id}:" in r.output  # the id is printed
    assert doc["fleet"] == {"sites": 40, "base_eui": "00DB120000000000"}
    assert "seed" not in doc["fleet"]
    seed = (d / "seed").read_text().strip()
    assert len(bytes.fromhex(seed)) == 32
    assert seed not in (d / "fleet.toml").read_text() and seed not in r.output
    assert mode(d) == 0o700 and mode(d / "pki") == 0o700 and mode(d / "seed") == 0o600
    keys = sorted((d / "pki").glob("*.key"))
    assert any(k.name == "ca-device.key" for k in keys) and len(keys) > 8
    assert all(mode(k) == 0o600 for k in keys)
    loaded = FleetDefinition.load(d)
    assert loaded.id == fleet_id and loaded.config.sites == 40
    assert loaded.config.seed == bytes.fromhex(seed)
    # a second init is two independent fleets: another id, another seed
    r2 = cli("fleet", "init", str(tmp_path / "other"), "--sites", "40")
    assert r2.exit_code == 0
    other = FleetDefinition.load(tmp_path / "other")
    assert other.id != fleet_id and other.config.seed != loaded.config.seed


def test_init_keeps_the_device_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "site.toml"
    conf.write_text(
        '[fleet]\nsites = 3\nbase_eui = "00DB990000000000"\n'
        "[esme]\nload_profile = 123\n[gsme]\nenabled = false\n"
        '[parties]\nsupplier = "90B3D51F30FE0002"\n'
    )
    r = cli("fleet", "init", str(tmp_path / "f"), "--config", str(conf), "--sites", "7")
    assert r.exit_code == 0, r.output
    cfg = FleetDefinition.load(tmp_path / "f").config
    want = load_config(conf, sites=7)
    assert cfg.sites == 7 and cfg.base_eui == bytes.fromhex("00DB990000000000")
    assert cfg.site.options == want.site.options and cfg.site.devices == want.site.devices
    assert "GSME" not in cfg.site.devices and cfg.parties == want.parties
    # the state a host writes holds the same device configuration (workers load it)
    state = tmp_path / "state"
    state.mkdir()
    path = bind_state(state, FleetDefinition.load(tmp_path / "f"))
    again = load_config(path)
    assert again.site.options == want.site.options and again.sites == 7


def test_seed_from_env_gives_the_devices_keys_of_that_seed(tmp_path: Path) -> None:
    env = {"FLEET_SEED": "shared test seed"}
    r = cli("fleet", "init", str(tmp_path / "a"), "--seed-from-env", "FLEET_SEED", env=env)
    assert r.exit_code == 0, r.output
    assert "shared test seed" not in r.output
    d = FleetDefinition.load(tmp_path / "a")
    assert d.config.seed == b"shared test seed"
    eui = d.config.site_config(0).eui("ESME")
    want = derive_own_keys(b"shared test seed", eui).ds.public_key()
    got = d.head_end_keys().public_key(eui, KeyUsage.DS)
    assert got is not None and public_point(got) == public_point(want)


@pytest.mark.parametrize(
    ("args", "env", "needle"),
    [
        (["--seed-from-env", "NOT_SET_ANYWHERE"], {}, "NOT_SET_ANYWHERE is not set"),
        (["--seed-from-env", "1BAD-NAME"], {}, "not an environment variable name"),
        (["--sites", "0"], {}, "--sites"),
    ],
)
def test_init_refuses_bad_options(
    tmp_path: Path, args: list[str], env: dict[str, str], needle: str
) -> None:
    r = cli("fleet", "init", str(tmp_path / "f"), *args, env=env)
    assert needle in r.output and r.exit_code != 0
    assert not (tmp_path / "f").exists()


def test_init_refuses_a_seed_in_the_config_and_a_bad_config(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[fleet]\nseed = "public"\n')
    line = one_error_line(cli("fleet", "init", str(tmp_path / "f"), "--config", str(conf)))
    assert "[fleet] seed" in line and str(conf) in line
    conf.write_text("[esme]\nload_profil = 3\n")
    r = cli("fleet", "init", str(tmp_path / "f"), "--config", str(conf))
    assert r.exit_code == 1 and "load_profil" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "f").exists()


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    d = tmp_path / "f"
    d.mkdir()
    (d / "notes.txt").write_text("mine")
    line = one_error_line(cli("fleet", "init", str(d)))
    assert "not empty" in line and str(d) in line
    assert sorted(p.name for p in d.iterdir()) == ["notes.txt"]  # left as it was
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    assert cli("fleet", "init", str(empty)).exit_code == 0
    assert mode(empty) == 0o700  # it holds the seed now


def test_show_prints_the_definition_never_a_secret(fleet: FleetDefinition) -> None:
    r = cli("fleet", "show", str(fleet.dir))
    assert r.exit_code == 0, r.output
    rj = cli("fleet", "show", str(fleet.dir), "--json")
    facts = json.loads(rj.output)
    assert facts["id"] == fleet.id and facts["sites"] == 12
    assert facts["organisations"]["supplier"] == "90B3D51F30FE0002"
    assert fleet.id in r.output and "sites = 12" in r.output
    seed = (fleet.dir / "seed").read_text().strip()
    keys = [p.read_text() for p in fleet.pki_dir.glob("*.key")]
    for out in (r.output, rj.output):
        assert seed not in out and "PRIVATE KEY" not in out
        # not even a line of a private key's PEM body
        assert not any(line in out for k in keys for line in k.splitlines()[1:-1])


# ------------------------------------------------------------------------------- load


def _damage(d: Path, what: str) -> str:
    """Damage the definition in ``d``; returns what the error must name."""
    if what == "seed world-readable":
        os.chmod(d / "seed", 0o644)
        return "seed: mode 0644"
    if what == "seed group-readable":
        os.chmod(d / "seed", 0o640)
        return "chmod 600"
    if what == "seed replaced":
        (d / "seed").write_text("00" * 32 + "\n")
        return "not the seed fleet.toml records"
    if what == "seed garbage":
        (d / "seed").write_text("not hex\n")
        return "seed is damaged"
    if what == "seed missing":
        (d / "seed").unlink()
        return "seed: missing"
    if what == "key world-readable":
        os.chmod(d / "pki" / "ca-device.key", 0o644)
        return "ca-device.key: mode 0644"
    if what == "pki open":
        os.chmod(d / "pki", 0o755)
        return "chmod 700"
    if what == "ca missing":
        (d / "pki" / "ca-device.pem").unlink()
        return "CA files are missing or damaged"
    if what == "toml garbage":
        (d / "fleet.toml").write_text("[definition\nid=")
        return "fleet.toml is damaged"
    if what == "toml without id":
        text = (d / "fleet.toml").read_text()
        (d / "fleet.toml").write_text(text.replace("id = ", "ident = ", 1))
        return "[definition] id"
    if what == "toml with a seed":
        text = (d / "fleet.toml").read_text()
        (d / "fleet.toml").write_text(text.replace("[fleet]\n", '[fleet]\nseed = "x"\n'))
        return "never the seed"
    if what == "bad config":
        text = (d / "fleet.toml").read_text()
        (d / "fleet.toml").write_text(text.replace("[esme]\n", "[esme]\nload_profil = 1\n"))
        return "load_profil"
    if what == "not a definition":
        (d / "fleet.toml").unlink()
        return "not a fleet definition"
    raise AssertionError(what)


DAMAGE = [
    "seed world-readable",
    "seed group-readable",
    "seed replaced",
    "seed garbage",
    "seed missing",
    "key world-readable",
    "pki open",
    "ca missing",
    "toml garbage",
    "toml without id",
    "toml with a seed",
    "bad config",
    "not a definition",
]


@pytest.mark.parametrize("what", DAMAGE)
def test_load_refuses_damage(fleet: FleetDefinition, what: str) -> None:
    needle = _damage(fleet.dir, what)
    with pytest.raises(FleetDefinitionError) as e:
        FleetDefinition.load(fleet.dir)
    assert needle in str(e.value)
    line = one_error_line(cli("fleet", "show", str(fleet.dir)))
    assert needle in line and str(fleet.dir) in line


# -------------------------------------------------------------------------- key store


def test_head_end_keys_derive_devices_on_demand(fleet: FleetDefinition) -> None:
    keys = fleet.head_end_keys()
    organisations = len(keys)
    cfg = fleet.config
    eui = cfg.site_config(11).eui("GPF")
    own = derive_own_keys(cfg.seed, eui)
    ka = keys.public_key(eui, KeyUsage.KA)
    assert ka is not None and public_point(ka) == public_point(own.ka.public_key())
    assert len(keys) == organisations + 2  # only that device's KA and DS were derived
    outside = (int.from_bytes(cfg.base_eui, "big") + 4 * cfg.sites).to_bytes(8, "big")
    assert keys.public_key(outside, KeyUsage.KA) is None
    narrow = fleet.head_end_keys(range(0, 4))
    assert narrow.public_key(eui, KeyUsage.KA) is None  # site 11 is not in sites 0..3
    assert narrow.public_key(cfg.site_config(3).eui("ESME"), KeyUsage.DS) is not None
    assert parties_from_store(keys)  # the organisations' private keys are there


def test_a_head_end_with_only_the_definition_verifies_a_hosts_device(
    fleet: FleetDefinition, tmp_path: Path
) -> None:
    """A host's state imported from the definition serves site 5; a head-end built from
    the definition alone sends it a MAC'd read and a signed command, verifying both."""
    state = tmp_path / "host"
    held = claim(state, fleet.config, bind=lambda d: bind_state(d, fleet))
    held.release()
    host_config = FleetDefinition.load(fleet.dir).config

    async def scenario() -> tuple[str, str]:
        hub = InProcessHub()
        stop = asyncio.Event()
        emulator = Emulator(
            host_config, InProcessBus(hub), RealClock(), KeyStore(state / "pki"), state
        )
        task = asyncio.create_task(emulator.run(stop))
        keys = FleetDefinition.load(fleet.dir).head_end_keys()
        he = HeadEnd(
            InProcessBus(hub), keys, parties=parties_from_store(keys), counters=MemoryCounterStore()
        )
        try:
            await asyncio.wait_for(emulator.ready.wait(), 30)
            await he.start()
            site = fleet.config.site_config(5)
            read = await he.request(site.site_id, site.eui("ESME"), "ECS17b", timeout=30)
            signed = await he.request(site.site_id, site.eui("ESME"), "ECS43", timeout=30)
            return read.verified, signed.verified
        finally:
            await he.close()
            stop.set()
            await asyncio.wait_for(task, 30)

    assert asyncio.run(scenario()) == ("mac", "signature")


# ----------------------------------------------------------------------- state binding


def test_a_state_imports_the_definition_once(fleet: FleetDefinition, tmp_path: Path) -> None:
    state = tmp_path / "host"
    claim(state, fleet.config, bind=lambda d: bind_state(d, fleet)).release()
    info = load_info(state)
    assert info is not None and info.seed_bytes == fleet.config.seed
    assert bound_fleet(state)["id"] == fleet.id  # type: ignore[index]
    for p in fleet.pki_dir.iterdir():  # the PKI is copied, modes kept
        copy = state / "pki" / p.name
        assert copy.read_bytes() == p.read_bytes() and mode(copy) == mode(p)
    assert mode(state / "pki") == 0o700 and mode(state / "fleet.json") == 0o600
    # a restart keeps the state as it is
    claim(state, fleet.config, bind=lambda d: bind_state(d, fleet)).release()
    again = load_info(state)
    assert again is not None and again.id == info.id


def test_bind_refuses_another_fleet_and_a_state_without_one(
    fleet: FleetDefinition, tmp_path: Path
) -> None:
    other = FleetDefinition.create(tmp_path / "other", load_config(None, sites=12))
    state = tmp_path / "host"
    claim(state, fleet.config, bind=lambda d: bind_state(d, fleet)).release()
    with pytest.raises(
        StateError, match=f"belongs to fleet {fleet.id} .*, not to fleet {other.id}"
    ):
        claim(state, other.config, bind=lambda d: bind_state(d, other))
    plain = tmp_path / "plain"
    claim(plain, load_config(None)).release()
    with pytest.raises(StateError, match="made without a fleet definition"):
        claim(plain, fleet.config, bind=lambda d: bind_state(d, fleet))
    assert not (plain / "fleet.json").exists()


def test_run_refuses_conflicting_options(fleet: FleetDefinition, tmp_path: Path) -> None:
    state = str(tmp_path / "s")
    for extra, named in (
        (["--seed", "x"], "--seed"),
        (["--sites", "3"], "--sites"),
        (["--config", str(tmp_path / "c.toml")], "--config"),
    ):
        line = one_error_line(cli("run", "--fleet", str(fleet.dir), "--state", state, *extra))
        assert f"{named} conflict(s) with --fleet" in line
    line = one_error_line(cli("run", "--fleet", str(fleet.dir), "--state", state, "--tcp", "7000"))
    assert "--tcp" in line
    line = one_error_line(cli("run", "--fleet", str(tmp_path / "nowhere"), "--state", state))
    assert "no such fleet definition" in line
    assert not Path(state).exists()  # refused before anything was made


def test_run_refuses_a_state_of_another_fleet(fleet: FleetDefinition, tmp_path: Path) -> None:
    other = FleetDefinition.create(tmp_path / "other", load_config(None, sites=12))
    state = tmp_path / "host"
    claim(state, fleet.config, bind=lambda d: bind_state(d, fleet)).release()
    before = sorted(p.name for p in state.iterdir())
    for extra in ([], ["--check"]):
        line = one_error_line(
            cli("run", "--fleet", str(other.dir), "--state", str(state), "--quiet", *extra)
        )
        assert f"belongs to fleet {fleet.id}" in line and str(state) in line
    # without --fleet, a fleet's state is refused too (its seed and config are the fleet's)
    line = one_error_line(cli("run", "--state", str(state), "--quiet", "--duration", "1"))
    assert f"belongs to fleet {fleet.id}" in line and "--fleet" in line
    plain = tmp_path / "plain"
    claim(plain, load_config(None)).release()
    line = one_error_line(cli("run", "--fleet", str(fleet.dir), "--state", str(plain), "--quiet"))
    assert "made without a fleet definition" in line
    assert sorted(p.name for p in state.iterdir()) == before


def test_send_with_a_fleet_checks_before_sending(fleet: FleetDefinition, tmp_path: Path) -> None:
    d = str(fleet.dir)
    line = one_error_line(cli("send", "--fleet", d, "--to", "00DB120000000000", "ECS17b"))
    assert "--fleet needs --broker" in line
    args = ["--state", str(tmp_path), "--broker", "mqtt://127.0.0.1:1"]
    line = one_error_line(cli("send", "--fleet", d, *args, "--to", "00DB120000000000", "ECS17b"))
    assert "--fleet or --state" in line
    outside = (0x00DB120000000000 + 4 * 12).to_bytes(8, "big").hex().upper()
    line = one_error_line(
        cli("send", "--fleet", d, "--broker", "mqtt://127.0.0.1:1", "--to", outside, "ECS17b")
    )
    assert f"not a device of fleet {fleet.id}" in line
