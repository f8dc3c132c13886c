"""Hydration speed (issue 13 item 1): what a fresh site no longer computes up front, and
proof that nothing derived from it changed (keys byte-identical to the old eager
derivation, event configuration, shared per-kind constants)."""

from __future__ import annotations

import copy
import hashlib
import pickle
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices import zcl_model
from devices.behaviours.load import LoadError, LoadProfile, profile_from_option
from devices.behaviours.maxdemand import MaxDemandError, SwitchTime, default_schedule
from devices.cosem import CosemModel
from devices.cosem import load_profile as load_cosem
from devices.factory import create_device, device_class
from devices.options import OptionsError
from devices.trust import DeviceKeys, OwnKeys, TrustAnchors
from emulator.runtime.clock import VirtualClock
from emulator.runtime.config import DerivedOwnKeys, derive_own_keys, load_config
from emulator.runtime.pki import ensure_pki
from emulator.runtime.server import Emulator
from emulator.transport.inprocess import InProcessBus, InProcessHub
from gbcs.dlms import Obis
from gbcs.errors import GbcsEncodeError
from keys.roles import KeyUsage
from keys.store import KeyStore

_N = int("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", 16)
T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)


def _old_way(seed: bytes, label: bytes, eui: bytes) -> ec.EllipticCurvePrivateKey:
    """The derivation as derive_own_keys did it before it became lazy, written out."""
    d = hashlib.sha256(b"gbcs-emu device key\x00" + seed + b"\x00" + label + eui).digest()
    return ec.derive_private_key(int.from_bytes(d, "big") % (_N - 1) + 1, ec.SECP256R1())


def _point(key: ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey) -> bytes:
    pub = key.public_key() if isinstance(key, ec.EllipticCurvePrivateKey) else key
    return pub.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)


CASES = [
    (b"seed", bytes.fromhex("00DB1234567890A0")),
    (b"seed", bytes.fromhex("00DB1234567890A1")),
    (b"another fleet", bytes.fromhex("00DB1234567890A0")),
    (bytes(range(32)), bytes.fromhex("FFFFFFFFFFFFFFFF")),
    (b"", bytes.fromhex("0000000000000000")),
]


@pytest.mark.parametrize(("seed", "eui"), CASES)
def test_derived_keys_are_byte_identical_to_the_eager_derivation(seed: bytes, eui: bytes) -> None:
    own = derive_own_keys(seed, eui)
    for label, key in ((b"ka", own.ka), (b"ds", own.ds)):
        old = _old_way(seed, label, eui)
        assert key.private_numbers().private_value == old.private_numbers().private_value
        assert _point(key) == _point(old)


def test_keys_differ_by_usage_seed_and_eui() -> None:
    a = derive_own_keys(b"seed", CASES[0][1])
    b = derive_own_keys(b"seed", CASES[1][1])
    c = derive_own_keys(b"other", CASES[0][1])
    points = {_point(k) for o in (a, b, c) for k in (o.ka, o.ds)}
    assert len(points) == 6


def test_an_eui_in_text_gives_the_same_keys() -> None:
    a = derive_own_keys(b"seed", "00DB1234567890A0")
    b = derive_own_keys(b"seed", bytes.fromhex("00DB1234567890A0"))
    assert a.eui == b.eui == bytes.fromhex("00DB1234567890A0")
    assert _point(a.ka) == _point(b.ka) and _point(a.ds) == _point(b.ds)


def test_bad_input_is_refused_as_before() -> None:
    with pytest.raises(ValueError, match="seed is not resolved"):
        derive_own_keys(None, CASES[0][1])
    with pytest.raises(ValueError):
        derive_own_keys(b"seed", b"\x00\x01")  # not an EUI-64


def test_keys_are_built_on_first_use_only_and_once() -> None:
    own = derive_own_keys(b"seed", CASES[0][1])
    assert isinstance(own, OwnKeys) and isinstance(own, DerivedOwnKeys)
    assert own.derived == (False, False)
    ka = own.ka
    assert own.derived == (True, False)
    assert own.ka is ka  # cached, not derived again
    assert own.ds is own.ds
    assert own.derived == (True, True)
    assert "00DB1234567890A0" in repr(own)  # repr names the EUI, never key material


def test_own_keys_stay_frozen() -> None:
    own = derive_own_keys(b"seed", CASES[0][1])
    with pytest.raises(AttributeError):
        own.eui = b"\x00" * 8  # type: ignore[misc]
    with pytest.raises(AttributeError):
        own.ka = _old_way(b"x", b"ka", CASES[0][1])  # type: ignore[misc]


@pytest.mark.parametrize("clone", [pickle.loads, copy.copy, copy.deepcopy])
def test_copies_and_pickles_keep_the_same_keys(clone: object) -> None:
    own = derive_own_keys(b"seed", CASES[0][1])
    arg = pickle.dumps(own) if clone is pickle.loads else own
    other = clone(arg)  # type: ignore[operator]
    assert isinstance(other, DerivedOwnKeys) and other.eui == own.eui
    assert _point(other.ka) == _point(_old_way(b"seed", b"ka", CASES[0][1]))
    assert _point(other.ds) == _point(_old_way(b"seed", b"ds", CASES[0][1]))


def test_device_keys_give_the_own_public_keys_lazily() -> None:
    eui = CASES[0][1]
    own = derive_own_keys(b"seed", eui)
    dk = DeviceKeys(own, TrustAnchors())
    assert own.derived == (False, False)
    ds = dk.public_key(eui, "ds")
    assert ds is not None and _point(ds) == _point(_old_way(b"seed", b"ds", eui))
    assert own.derived == (False, True)
    assert dk.public_key(eui, "ds") is ds
    ka = dk.with_extra(bytes(8), ds).public_key(eui, KeyUsage.KA)
    assert ka is not None and _point(ka) == _point(_old_way(b"seed", b"ka", eui))
    assert dk.private_key(eui, "ka") is own.ka
    assert dk.private_key(bytes(8), "ka") is None


def _emulator(tmp_path: Path, sites: int) -> Emulator:
    cfg = load_config(None, sites=sites)
    cfg.seed = b"hydration test"
    keys = KeyStore(ensure_pki(tmp_path))
    return Emulator(cfg, InProcessBus(InProcessHub()), VirtualClock(T0), keys, tmp_path / "state")


def test_a_fresh_site_derives_no_key_until_used(tmp_path: Path) -> None:
    emu = _emulator(tmp_path, 3)
    try:
        site = emu.site(1)
        cfg = emu.config.site_config(1)
        devices = {d.device_type.value: d for d in site.devices}
        assert set(devices) == set(cfg.devices)
        for kind, dev in devices.items():
            assert isinstance(dev.own, DerivedOwnKeys)
            assert dev.own.derived == (False, False), kind
            assert dev.eui == cfg.eui(kind)
        # once used, every device holds the keys the eager derivation gave
        for kind, dev in devices.items():
            eui = cfg.eui(kind)
            for usage, label in (("ka", b"ka"), ("ds", b"ds")):
                pub = dev.keys.public_key(eui, usage)
                assert pub is not None
                assert _point(pub) == _point(_old_way(b"hydration test", label, eui)), kind
                priv = dev.keys.private_key(eui, usage)
                assert priv is not None
                old = _old_way(b"hydration test", label, eui)
                assert priv.private_numbers().private_value == old.private_numbers().private_value
    finally:
        emu.close()


def test_gsme_event_configuration_is_the_profiles_and_each_models_own() -> None:
    a = zcl_model.load_profile("gsme")
    b = zcl_model.load_profile("gsme")
    proto, state = zcl_model._bundled("gsme_zcl")
    assert len(a.event_configuration) >= 40
    assert a.event_configuration == b.event_configuration == proto.event_configuration
    assert a.event_configuration is not b.event_configuration
    first = next(iter(a.event_configuration))
    a.event_configuration[first] ^= 0x01
    assert b.event_configuration[first] != a.event_configuration[first]
    assert zcl_model.load_profile("gsme").event_configuration == b.event_configuration
    # its saved form is unchanged: the full state round-trips to the same configuration
    again = zcl_model.ZclModel.from_dict(b.to_dict())
    assert again.event_configuration == b.event_configuration
    assert "event_configuration" not in state  # not parsed again per model


def test_binding_by_obis_text_or_code_is_the_same_object() -> None:
    m: CosemModel = load_cosem("esme")
    by_text = m.require(8, "0-0:1.0.0.255")
    assert m.require(8, Obis.parse("0-0:1.0.0.255")) is by_text
    assert m.require(8, "0.0.1.0.0.255") is by_text  # the other spelling
    with pytest.raises(GbcsEncodeError, match="not an OBIS code"):
        m.require(8, "0-0:1.0.0")
    with pytest.raises(GbcsEncodeError, match="not an OBIS code"):
        m.require(8, "0-0:1.0.0")  # refused again, not remembered


def test_constant_load_profiles_are_shared_and_still_checked() -> None:
    a = profile_from_option(500)
    assert profile_from_option(500.0) is a
    assert a == LoadProfile.constant(500)
    assert profile_from_option(0) == LoadProfile.constant(0) != a
    with pytest.raises(LoadError):
        profile_from_option(-1)
    with pytest.raises(LoadError):
        profile_from_option(-1)
    with pytest.raises(LoadError):
        profile_from_option(True)


def test_default_schedule_is_shared_and_still_checked() -> None:
    start, end = SwitchTime.parse("16:00"), SwitchTime.parse("19:00")
    s = default_schedule(start, end)
    assert default_schedule(SwitchTime.parse("16:00:00.00"), end) is s
    assert [e.index for e in s] == [1, 2]
    assert s[0].switch_time == start and s[1].switch_time == end
    assert default_schedule(start, SwitchTime.parse("18:00"))[1].switch_time != end
    with pytest.raises(MaxDemandError):
        default_schedule("16:00", end)  # type: ignore[arg-type]


def test_device_class_any_case_and_unknown_types() -> None:
    assert device_class("gsme") is device_class("GSME")
    assert device_class("Esme").device_type.value == "ESME"
    with pytest.raises(ValueError, match="unknown device type"):
        device_class("XYZ")
    with pytest.raises(ValueError, match="unknown device type"):
        device_class("XYZ")


def test_a_reloaded_site_still_derives_no_key_until_used(tmp_path: Path) -> None:
    emu = _emulator(tmp_path, 2)
    try:
        site = emu.site(1)
        cfg = emu.config.site_config(1)
        for dev in site.devices:
            saved = dev.to_dict()
            dev.load_state(saved)
            assert isinstance(dev.own, DerivedOwnKeys)
            assert dev.own.derived == (False, False)
            pub = dev.keys.public_key(dev.eui, "ds")
            assert pub is not None
            assert _point(pub) == _point(_old_way(b"hydration test", b"ds", dev.eui))
            assert dev.eui == cfg.eui(dev.device_type.value)
    finally:
        emu.close()


def test_options_are_still_checked_for_every_device(tmp_path: Path) -> None:
    store = KeyStore(ensure_pki(tmp_path))
    eui = bytes.fromhex("00DB1234567890A0")
    own = derive_own_keys(b"seed", eui)
    for _ in range(2):
        assert create_device("ESME", eui, store, own=own, now=T0, options={}).eui == eui
        with pytest.raises(OptionsError, match="load_profil"):
            create_device("ESME", eui, store, own=own, now=T0, options={"load_profil": 5})
        with pytest.raises(OptionsError, match="must be a table"):
            create_device("ESME", eui, store, own=own, now=T0, options=[])
