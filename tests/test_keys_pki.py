"""Test-PKI generator: layout, permissions, profiles (DER-compared with the real certs)."""

from __future__ import annotations

import os
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtensionOID, SignatureAlgorithmOID

from keys import (
    DEFAULT_ORGANISATION_EUIS,
    GBCS_ORGANISATION_ROLES,
    KeyStore,
    KeyUsage,
    RemotePartyRole,
    add_devices,
    create_authorities,
    init_pki,
    issue_device_keys,
    issue_organisation_keys,
    issued_by,
    load_authorities,
)
from keys.certs import organisation_subject
from keys.pki import FOREVER
from tests.interop import keys_dir

KA, DS = KeyUsage.KA, KeyUsage.DS
DEVICES = [f"00db12345678{i:04x}" for i in range(10)]
NOW = datetime(2026, 11, 23, 15, 42, 7, tzinfo=UTC)
DAY = datetime(2026, 11, 23, tzinfo=UTC)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    d = tmp_path_factory.mktemp("pki") / "keys"
    summary = init_pki(d, device_euis=DEVICES, now=NOW)
    return d, summary


def _real(name: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((keys_dir() / name).read_bytes())


def _ext_der(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> tuple[bytes, bool]:
    ext = cert.extensions.get_extension_for_oid(oid)
    return ext.value.public_bytes(), ext.critical


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_files_and_summary(pki: tuple[Path, object]) -> None:
    d, summary = pki
    names = sorted(p.name for p in d.iterdir())
    expected = {f"ca-{n}.{e}" for n in ("root", "org", "device") for e in ("pem", "key")}
    for role in GBCS_ORGANISATION_ROLES:
        eui = DEFAULT_ORGANISATION_EUIS[role].hex()
        expected |= {f"{eui}-{u}.{e}" for u in ("ds", "ka") for e in ("pem", "key")}
    sup = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER].hex()
    expected |= {f"{sup}-pp-ka.pem", f"{sup}-pp-ka.key"}
    for eui in DEVICES:
        expected |= {f"{eui}-{u}.{e}" for u in ("ds", "ka") for e in ("pem", "key")}
    assert names == sorted(expected)
    assert len(names) == 6 + 7 * 4 + 2 + 10 * 4
    assert sorted(p.name for p in summary.files) == names  # type: ignore[attr-defined]
    assert summary.organisations == tuple(  # type: ignore[attr-defined]
        (r, DEFAULT_ORGANISATION_EUIS[r]) for r in GBCS_ORGANISATION_ROLES
    )
    assert summary.devices == tuple(bytes.fromhex(e) for e in DEVICES)  # type: ignore[attr-defined]
    assert summary.not_before == DAY  # type: ignore[attr-defined]
    assert summary.organisation_not_after == DAY + timedelta(days=3650, seconds=-1)  # type: ignore[attr-defined]
    assert DEFAULT_ORGANISATION_EUIS[RemotePartyRole.ACCESS_CONTROL_BROKER] == bytes.fromhex(
        "90b3d51f30fe0004"
    )
    assert "90b3d51f30fe0002  Supplier (OU=02)" in summary.describe()  # type: ignore[attr-defined]


def test_permissions(pki: tuple[Path, object]) -> None:
    d, _ = pki
    cert_mode = 0o644 & ~_umask()
    for p in d.iterdir():
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.suffix == ".key":
            assert mode == 0o600, p.name
        else:
            assert mode == cert_mode, p.name
            assert mode != 0o600 or cert_mode == 0o600


def test_reload_roles_euis_usages(pki: tuple[Path, object]) -> None:
    d, _ = pki
    store = KeyStore(d)
    assert store.warnings == ()
    assert len(store) == 7 * 2 + 1 + 10 * 2
    for role in GBCS_ORGANISATION_ROLES:
        eui = DEFAULT_ORGANISATION_EUIS[role]
        assert store.role_of(eui) is role
        for usage in (DS, KA):
            e = store.entry(eui, usage)
            assert e is not None
            assert (e.role, e.cert_eui, e.cert_key_usage) == (role, eui, frozenset({usage}))
            assert e.problems == () and e.has_private and not e.is_device
            assert e.not_before == DAY
            assert e.not_after == DAY + timedelta(days=3650, seconds=-1)
            assert store.private_key(eui, usage).public_key() == store.public_key(eui, usage)
    pp = store.entry(DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER], KA, prepayment=True)
    assert pp is not None and pp.role is RemotePartyRole.SUPPLIER and pp.problems == ()
    for eui in DEVICES:
        assert store.role_of(eui) is None
        for usage in (DS, KA):
            e = store.entry(eui, usage)
            assert e is not None
            assert e.is_device and e.role is None and e.problems == ()
            assert (e.cert_eui, e.cert_key_usage) == (bytes.fromhex(eui), frozenset({usage}))
            assert e.not_after == FOREVER
            assert not e.expired(datetime(9999, 12, 31, tzinfo=UTC))
    assert len(store.ca_certificates) == 3


def test_certificates_verify_against_the_cas(pki: tuple[Path, object]) -> None:
    d, _ = pki
    cas = load_authorities(d)
    root, oca, dca = cas.certificates()
    assert issued_by(root, root) and issued_by(oca, root) and issued_by(dca, root)
    assert not issued_by(oca, dca)
    assert oca.subject.rfc4514_string() == "CN=GBCS-EMU TEST OCA,OU=07"
    for ca in (root, oca, dca):
        assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    store = KeyStore(d)
    for entry in store.entries():
        cert = entry.certificate
        assert cert is not None
        issuer = dca if entry.is_device else oca
        assert cert.signature_algorithm_oid == SignatureAlgorithmOID.ECDSA_WITH_SHA256
        assert cert.issuer == issuer.subject
        key = issuer.public_key()
        assert isinstance(key, ec.EllipticCurvePublicKey)
        key.verify(cert.signature, cert.tbs_certificate_bytes, ec.ECDSA(hashes.SHA256()))
        assert store.issuer_of(entry) == issuer
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
        ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
        assert aki.key_identifier == ski.digest and len(ski.digest) == 8
        # Not signed by the other CA.
        assert not issued_by(cert, oca if entry.is_device else dca)


def test_device_certificate_der_matches_rtds(pki: tuple[Path, object]) -> None:
    real = _real("00db1234567890a0-ds.pem")
    real_san, crit = _ext_der(real, ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    assert crit
    assert real_san.hex() == (
        "3029a02706082b06010505070804a01b3019060d2a863a0001848fb90f01020201040800db1234567890a0"
    )
    # Same EUI: byte-identical extension value.
    cas = create_authorities(now=NOW)
    ds, ka = issue_device_keys(cas, "00DB1234567890A0", now=NOW)
    assert (ds.usage, ka.usage) == (DS, KA)
    assert _ext_der(ds.certificate, ExtensionOID.SUBJECT_ALTERNATIVE_NAME) == (real_san, True)
    # Other EUIs (from the generated directory): identical after substituting the EUI.
    d, _ = pki
    for eui in DEVICES:
        cert = x509.load_pem_x509_certificate((d / f"{eui}-ka.pem").read_bytes())
        want = real_san.replace(bytes.fromhex("00db1234567890a0"), bytes.fromhex(eui))
        assert _ext_der(cert, ExtensionOID.SUBJECT_ALTERNATIVE_NAME) == (want, True)
        assert cert.subject.public_bytes() == real.subject.public_bytes() == b"\x30\x00"
    # Key usage and certificate policy extensions too, and their order.
    for mine, theirs in (
        (ds.certificate, real),
        (ka.certificate, _real("00db1234567890a0-ka.pem")),
    ):
        for oid in (ExtensionOID.KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES):
            assert _ext_der(mine, oid) == _ext_der(theirs, oid)
        assert [e.oid for e in mine.extensions] == [e.oid for e in theirs.extensions]
        assert mine.not_valid_after_utc == theirs.not_valid_after_utc == FOREVER


def test_organisation_certificate_der_matches_z1() -> None:
    real_ka = _real("90b3d51f30010000-ka.pem")
    real_ds = _real("90b3d51f30010000-ds.pem")
    subject = organisation_subject(RemotePartyRole.SUPPLIER, bytes.fromhex("90b3d51f30010000"))
    # OU=02 (UTF8String) + x500UniqueIdentifier BIT STRING 03 09 00 <EUI>: byte-identical.
    assert subject.public_bytes() == real_ka.subject.public_bytes()
    assert subject.public_bytes().endswith(bytes.fromhex("03090090b3d51f30010000"))
    with_cn = organisation_subject(
        RemotePartyRole.SUPPLIER, bytes.fromhex("90b3d51f30010000"), "GITTESTSUPPLIER"
    )
    assert with_cn.public_bytes() == real_ds.subject.public_bytes()
    cas = create_authorities(now=NOW)
    issued = issue_organisation_keys(cas, "supplier", 0x90B3D51F30010000, now=NOW, prepayment=True)
    assert [(k.usage, k.prepayment) for k in issued] == [(DS, False), (KA, False), (KA, True)]
    for k in issued:
        real = real_ds if k.usage is DS else real_ka
        assert k.certificate.subject.public_bytes() == real_ka.subject.public_bytes()
        for oid in (ExtensionOID.KEY_USAGE, ExtensionOID.CERTIFICATE_POLICIES):
            assert _ext_der(k.certificate, oid) == _ext_der(real, oid)
        assert [e.oid for e in k.certificate.extensions] == [e.oid for e in real.extensions]
        assert k.certificate.serial_number.bit_length() == 127
        entry = k.entry()
        assert entry.role is RemotePartyRole.SUPPLIER and entry.prepayment is k.prepayment


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    init_pki(d, device_euis=DEVICES[:1], now=NOW)
    before = {p.name: p.read_bytes() for p in d.iterdir()}
    with pytest.raises(FileExistsError, match=r"refusing to overwrite 40 existing file\(s\)"):
        init_pki(d, device_euis=DEVICES[:1], now=NOW)
    assert {p.name: p.read_bytes() for p in d.iterdir()} == before
    # A single clash also stops everything before anything is written.
    other = tmp_path / "other"
    other.mkdir()
    (other / "ca-device.pem").write_text("mine")
    with pytest.raises(FileExistsError, match=r"ca-device\.pem"):
        init_pki(other, now=NOW)
    assert [p.name for p in other.iterdir()] == ["ca-device.pem"]
    # overwrite=True replaces every file, keys stay 0600.
    (d / "ca-root.key").chmod(0o644)
    summary = init_pki(d, device_euis=DEVICES[:1], now=NOW, overwrite=True)
    after = {p.name: p.read_bytes() for p in d.iterdir()}
    assert set(after) == set(before)
    assert all(after[n] != before[n] for n in after)
    assert len(summary.files) == 40
    for p in d.iterdir():
        if p.suffix == ".key":
            assert stat.S_IMODE(p.stat().st_mode) == 0o600, p.name
    assert KeyStore(d).warnings == ()


def test_add_devices_and_custom_euis(tmp_path: Path) -> None:
    d = tmp_path / "keys"
    summary = init_pki(
        d,
        organisation_euis={"acb": "AB-AB-AB-AB-AB-AB-AB-AB", RemotePartyRole.SUPPLIER: 7},
        supplier_prepayment=False,
        now=NOW,
        valid_days=30,
    )
    store = KeyStore(d)
    assert store.role_of("abababababababab") is RemotePartyRole.ACCESS_CONTROL_BROKER
    assert store.role_of(7) is RemotePartyRole.SUPPLIER
    assert store.entry(7, KA, prepayment=True) is None
    assert store.role_of(DEFAULT_ORGANISATION_EUIS[RemotePartyRole.NETWORK_OPERATOR]) is (
        RemotePartyRole.NETWORK_OPERATOR
    )
    acb = store.entry("abababababababab", KA)
    assert acb is not None and acb.not_after == DAY + timedelta(days=30, seconds=-1)
    assert acb.expired(DAY + timedelta(days=30)) and not acb.expired(NOW)
    assert summary.devices == ()
    written = add_devices(d, ["00db1234567890ff"], now=NOW)
    assert sorted(p.name for p in written) == [
        "00db1234567890ff-ds.key",
        "00db1234567890ff-ds.pem",
        "00db1234567890ff-ka.key",
        "00db1234567890ff-ka.pem",
    ]
    store = KeyStore(d)
    dev = store.entry("00db1234567890ff", DS)
    assert dev is not None and dev.is_device and store.issuer_of(dev) is not None
    with pytest.raises(FileExistsError):
        add_devices(d, ["00db1234567890ff"], now=NOW)


def test_bad_parameters(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="used by two roles"):
        init_pki(
            tmp_path, organisation_euis={"acb": DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER]}
        )
    with pytest.raises(ValueError, match="also used by an organisation"):
        init_pki(tmp_path, device_euis=[DEFAULT_ORGANISATION_EUIS[RemotePartyRole.RECOVERY]])
    with pytest.raises(ValueError, match="CA role"):
        init_pki(tmp_path, organisation_euis={"root": 1})
    assert list(tmp_path.iterdir()) == []


def test_certify_existing_in_memory_device_keys() -> None:
    cas = create_authorities()
    ka = ec.generate_private_key(ec.SECP256R1())
    ds_issued, ka_issued = issue_device_keys(cas, 0x1122334455667788, private_keys={KA: ka})
    assert ka_issued.private_key is ka and ds_issued.private_key is not ka
    store = KeyStore()
    for k in (ds_issued, ka_issued):
        store.add(k.eui, k.usage, certificate=k.certificate, private_key=k.private_key)
    assert store.private_key("1122334455667788", KA) is ka
    assert store.entry("1122334455667788", DS).is_device  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="not NIST P-256"):
        issue_device_keys(cas, 1, private_keys={DS: ec.generate_private_key(ec.SECP384R1())})


def test_interop_and_generated_stores_coexist(pki: tuple[Path, object]) -> None:
    d, _ = pki
    both = KeyStore(keys_dir(), d)
    assert len(both) == len(KeyStore(keys_dir())) + len(KeyStore(d))
    assert [w.path.name for w in both.warnings] == ["90b3d51f30000007-ka.pem"]
