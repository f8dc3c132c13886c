"""KeyStore over the public interop key directory and synthetic directories."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gbcs.errors import GbcsSecurityError
from keys import KeyStore, KeyUsage, RemotePartyRole, as_eui, build_entry, key_file_name
from tests.interop import keys_dir

KA, DS = KeyUsage.KA, KeyUsage.DS
ESME = "00db1234567890a0"
SUPPLIER = "90b3d51f30010000"

# (eui, usage, prepayment) -> (certificate?, private key?) for every slot of the interop dir.
EXPECTED_SLOTS = {
    **{(f"00db1234567890a{i}", u, False): (True, False) for i in range(7) for u in (DS, KA)},
    ("00db1234567890a0", KA, False): (True, True),
    ("123456789abcdef0", DS, False): (False, True),
    ("123456789abcdef0", KA, False): (False, True),
    ("90b3d51f30000001", DS, False): (True, True),
    ("90b3d51f30000002", DS, False): (True, True),
    ("90b3d51f30000002", KA, False): (True, True),
    ("90b3d51f30000004", DS, False): (True, True),
    ("90b3d51f30000007", DS, False): (True, True),
    ("90b3d51f30000007", KA, False): (True, True),
    ("90b3d51f30010000", DS, False): (True, True),
    ("90b3d51f30010000", KA, False): (True, True),
    ("90b3d51f30010000", KA, True): (True, True),
    ("90b3d51f30010008", DS, False): (True, True),
    ("90b3d51f30010008", KA, False): (True, True),
    ("90b3d51f30020000", DS, False): (True, True),
    ("90b3d51f30020000", KA, False): (True, True),
    ("90b3d51f30030000", DS, False): (True, True),
    ("90b3d51f30030000", KA, False): (True, True),
    ("90b3d51f30030000", KA, True): (True, True),
    ("abababababababab", KA, False): (False, True),
    ("fffffffffffffffe", DS, False): (False, False),
    ("fffffffffffffffe", KA, False): (False, False),
}

ROLES = {
    "90b3d51f30000001": RemotePartyRole.RECOVERY,
    "90b3d51f30000002": RemotePartyRole.ACCESS_CONTROL_BROKER,
    "90b3d51f30000004": RemotePartyRole.TRANSITIONAL_COS,
    "90b3d51f30000007": RemotePartyRole.WAN_PROVIDER,
    "90b3d51f30010000": RemotePartyRole.SUPPLIER,
    "90b3d51f30010008": RemotePartyRole.LOAD_CONTROLLER,
    "90b3d51f30020000": RemotePartyRole.NETWORK_OPERATOR,
    "90b3d51f30030000": RemotePartyRole.SUPPLIER,
}

# GBCS 18.4 "Device A" DS public key (uncompressed point), converted to SPKI in the interop dir.
DEVICE_A_DS_POINT = bytes.fromhex(
    "0486fb5eb3ca0507226be7197058b9ec041d3a3758d9d9c91902aca3391f4e58ae"
    "f13aff63cc4ef68942b9b94904dc1b890edbeabd16b992110624968e894e560e"
)
MISMATCH_WARNING = "certificate names EUI 90b3d51f30030000, not 90b3d51f30000007"


def _point(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@pytest.fixture(scope="module")
def store() -> KeyStore:
    return KeyStore(keys_dir())


@pytest.fixture
def interop_copy(tmp_path: Path) -> Path:
    d = tmp_path / "keys"
    shutil.copytree(keys_dir(), d)
    for p in d.iterdir():
        p.chmod(0o644)
    return d


def test_every_interop_file_is_filed_under_its_name(store: KeyStore) -> None:
    slots = {
        (e.eui.hex(), e.usage, e.prepayment): (e.certificate is not None, e.has_private)
        for e in store.entries()
    }
    assert slots == EXPECTED_SLOTS
    pattern = re.compile(r"^([0-9a-f]{16})(-pp)?-(ka|ds)\.(pem|key)$")
    files = [p for p in keys_dir().iterdir() if pattern.match(p.name)]
    assert len(files) == 53
    for path in files:
        eui, pp, usage, ext = pattern.match(path.name).groups()  # type: ignore[union-attr]
        entry = store.entry(eui, KeyUsage(usage), prepayment=pp is not None)
        assert entry is not None, path.name
        assert entry.eui == bytes.fromhex(eui)
        assert entry.usage is KeyUsage(usage)
        assert entry.prepayment is (pp is not None)
        assert path in entry.sources
        if ext == "key":
            assert entry.private_key is not None


def test_only_warning_is_the_wan_provider_ka_cert_of_supplier_2(store: KeyStore) -> None:
    assert [(w.path.name, w.message) for w in store.warnings] == [
        ("90b3d51f30000007-ka.pem", MISMATCH_WARNING)
    ]
    entry = store.entry("90b3d51f30000007", KA)
    assert entry is not None
    assert entry.eui_mismatch == MISMATCH_WARNING
    assert entry.cert_eui == bytes.fromhex("90b3d51f30030000")
    assert entry.role is RemotePartyRole.SUPPLIER
    # Still usable: the RTDS key store fills that slot on purpose.
    assert _point(store.public_key("90b3d51f30000007", KA)) == _point(
        store.public_key("90b3d51f30030000", KA)
    )


def test_roles_from_certificate_ou(store: KeyStore) -> None:
    for eui, role in ROLES.items():
        assert store.role_of(eui) is role, eui
    for eui in ("00db1234567890a0", "00db1234567890a2", "123456789abcdef0", "fffffffffffffffe"):
        assert store.role_of(eui) is None
    assert store.role_of("0102030405060708") is None
    assert store.entry("90b3d51f30000002", DS).role is RemotePartyRole.ACCESS_CONTROL_BROKER  # type: ignore[union-attr]
    assert [e.eui.hex() for e in store.by_role(RemotePartyRole.SUPPLIER)] == [
        "90b3d51f30010000",
        "90b3d51f30010000",
        "90b3d51f30010000",
        "90b3d51f30030000",
        "90b3d51f30030000",
        "90b3d51f30030000",
    ]


def test_expired_organisation_certificates_stay_usable(store: KeyStore) -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    entry = store.entry(SUPPLIER, DS)
    assert entry is not None
    assert entry.not_after == datetime(2025, 10, 29, 23, 59, 59, tzinfo=UTC)
    assert entry.not_before == datetime(2015, 10, 30, tzinfo=UTC)
    assert entry.expired(now)
    assert entry.expired(datetime(2026, 11, 23))  # naive = UTC
    assert not entry.expired(datetime(2025, 10, 29, 23, 59, 59, tzinfo=UTC))
    assert not entry.expired(datetime(2020, 1, 1, tzinfo=UTC))
    # The key is served regardless, and signs/verifies.
    priv = store.private_key(SUPPLIER, DS)
    pub = store.public_key(SUPPLIER, DS)
    pub.verify(priv.sign(b"msg", ec.ECDSA(hashes.SHA256())), b"msg", ec.ECDSA(hashes.SHA256()))
    expired = {e.eui.hex() for e in store.entries() if e.expired(now)}
    assert expired == {
        "90b3d51f30000001",
        "90b3d51f30000002",
        "90b3d51f30000004",
        "90b3d51f30000007",
        "90b3d51f30010000",
        "90b3d51f30020000",
        "90b3d51f30030000",
    }
    assert not store.entry("90b3d51f30010008", KA).expired(now)  # type: ignore[union-attr]


def test_device_certificate(store: KeyStore) -> None:
    entry = store.entry(ESME, DS)
    assert entry is not None
    assert entry.role is None
    assert entry.is_device
    assert entry.cert_eui == bytes.fromhex(ESME)
    assert entry.not_after == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
    assert entry.cert_key_usage == frozenset({DS})
    assert entry.usage_mismatch is None
    assert entry.problems == ()
    assert not entry.expired(datetime(2026, 11, 23, tzinfo=UTC))
    ka = store.entry(ESME, KA)
    assert ka is not None and ka.cert_key_usage == frozenset({KA}) and ka.has_private
    assert ka.key_mismatch is None
    org = store.entry(SUPPLIER, KA)
    assert org is not None and not org.is_device and org.cert_key_usage == frozenset({KA})


def test_bare_public_and_private_only_keys(store: KeyStore) -> None:
    device_a = store.entry("fffffffffffffffe", DS)
    assert device_a is not None
    assert device_a.certificate is None and device_a.private_key is None
    assert device_a.role is None and device_a.not_after is None and device_a.cert_key_usage is None
    assert _point(device_a.public_key) == DEVICE_A_DS_POINT
    assert not device_a.expired(datetime(9999, 12, 31, tzinfo=UTC))
    # Only a private key: public key derived from it.
    acb = store.entry("abababababababab", KA)
    assert acb is not None and acb.private_key is not None and acb.certificate is None
    assert _point(acb.public_key) == _point(acb.private_key.public_key())
    assert acb.private_key.private_numbers().private_value == int(
        "E4A6CFB431471CFCAE491FD566D19C87082CF9FA7722D7FA24B2B3F5669DBEFB", 16
    )
    # Bare public key + private key of one slot belong together.
    sup_a = store.entry("123456789abcdef0", DS)
    assert sup_a is not None and sup_a.key_mismatch is None


def test_ka_and_ds_never_mix(store: KeyStore) -> None:
    ds_cert = store.certificate(ESME, DS)
    ka_cert = store.certificate(ESME, KA)
    assert ds_cert is not None and ka_cert is not None
    assert _point(store.public_key(ESME, DS)) == _point(ds_cert.public_key())  # type: ignore[arg-type]
    assert _point(store.public_key(ESME, KA)) == _point(ka_cert.public_key())  # type: ignore[arg-type]
    assert _point(store.public_key(ESME, DS)) != _point(store.public_key(ESME, KA))
    assert store.private_key(ESME, "ka") is store.entry(ESME, KA).private_key  # type: ignore[union-attr]
    assert store.private_key(ESME, DS) is None
    with pytest.raises(GbcsSecurityError, match=r"no private DS key of 00db1234567890a0"):
        store.require_private_key(ESME, DS)
    assert store.public_key("abababababababab", DS) is None
    with pytest.raises(GbcsSecurityError, match=r"no DS key of abababababababab"):
        store.require_public_key("abababababababab", DS)
    assert store.public_key("90b3d51f30000001", KA) is None
    with pytest.raises(GbcsSecurityError, match=r"no KA key of 90b3d51f30000001"):
        store.require_public_key("90b3d51f30000001", KA)
    assert store.has(ESME, KA, private=True) and not store.has(ESME, DS, private=True)
    assert store.has(ESME, DS) and not store.has("abababababababab", DS)
    assert {e.usage for e in store.entries(DS)} == {DS}
    assert {e.eui.hex() for e in store.entries(KA, private=True)} == {
        "00db1234567890a0",
        "123456789abcdef0",
        "90b3d51f30000002",
        "90b3d51f30000007",
        "90b3d51f30010000",
        "90b3d51f30010008",
        "90b3d51f30020000",
        "90b3d51f30030000",
        "abababababababab",
    }


def test_prepayment_keys_are_separate(store: KeyStore) -> None:
    normal = store.entry(SUPPLIER, KA)
    pp = store.entry(SUPPLIER, KA, prepayment=True)
    assert normal is not None and pp is not None
    assert pp.prepayment and not normal.prepayment
    assert _point(pp.public_key) != _point(normal.public_key)
    assert _point(store.public_key(SUPPLIER, KA, prepayment=True)) == _point(pp.public_key)
    assert store.entry(SUPPLIER, DS, prepayment=True) is None
    assert store.entry("90b3d51f30020000", KA, prepayment=True) is None
    assert store.private_key("90b3d51f30020000", KA, prepayment=True) is None
    with pytest.raises(GbcsSecurityError, match="no prepayment KA key of 90b3d51f30020000"):
        store.require_private_key("90b3d51f30020000", KA, prepayment=True)


@pytest.mark.parametrize(
    "eui",
    [
        bytes.fromhex(ESME),
        bytearray.fromhex(ESME),
        0x00DB1234567890A0,
        "00DB1234567890A0",
        "00db1234567890a0",
        "00-DB-12-34-56-78-90-A0",
        "00:db:12:34:56:78:90:a0",
        "0x00DB1234567890A0",
    ],
)
def test_eui_forms(store: KeyStore, eui: object) -> None:
    assert as_eui(eui) == bytes.fromhex(ESME)  # type: ignore[arg-type]
    assert store.entry(eui, KA) is store.entry(ESME, KA)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        "00db1234567890a",
        "00db1234567890a0ff",
        "zzdb1234567890a0",
        -1,
        1 << 64,
        b"\x00" * 7,
        True,
        1.5,
    ],
)
def test_bad_eui(bad: object) -> None:
    with pytest.raises(ValueError, match="EUI-64"):
        as_eui(bad)  # type: ignore[arg-type]


def test_corrupt_files_warn_and_the_rest_loads(interop_copy: Path) -> None:
    (interop_copy / "1111111111111111-ka.pem").write_text(
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    key = (interop_copy / "90b3d51f30000002-ka.key").read_bytes()
    (interop_copy / "2222222222222222-ds.key").write_bytes(key[:120])
    (interop_copy / "3333333333333333-ds.pem").write_bytes(b"")
    (interop_copy / "4444444444444444-ka.pem").write_bytes(key)  # private key in a .pem
    (interop_copy / "5555555555555555-pp-ds.pem").write_bytes(b"x")
    (interop_copy / "short-ka.pem").write_bytes(b"x")
    (interop_copy / "notes.txt").write_text("ignored silently")
    (interop_copy / ".hidden-ka.pem").write_text("ignored silently")
    (interop_copy / "subdir").mkdir()
    store = KeyStore(interop_copy)
    assert len(store) == len(EXPECTED_SLOTS)
    got = {w.path.name: w.message for w in store.warnings}
    assert set(got) == {
        "1111111111111111-ka.pem",
        "2222222222222222-ds.key",
        "3333333333333333-ds.pem",
        "4444444444444444-ka.pem",
        "5555555555555555-pp-ds.pem",
        "short-ka.pem",
        "90b3d51f30000007-ka.pem",
    }
    assert got["1111111111111111-ka.pem"].startswith("skipped: ")
    assert got["2222222222222222-ds.key"].startswith("skipped: ")
    assert got["3333333333333333-ds.pem"] == "skipped: empty file"
    assert got["4444444444444444-ka.pem"] == (
        "skipped: holds a private key; private keys belong in .key files"
    )
    assert got["5555555555555555-pp-ds.pem"] == "ignored: prepayment (-pp) keys are KA only"
    assert got["short-ka.pem"] == "ignored: name is not <eui>[-pp]-<ka|ds>.<pem|key>"
    for eui in ("1111111111111111", "2222222222222222", "3333333333333333", "4444444444444444"):
        assert eui not in {e.eui.hex() for e in store.entries()}


def test_usage_mismatch_is_reported_and_refused(tmp_path: Path) -> None:
    shutil.copy(keys_dir() / "90b3d51f30000002-ka.pem", tmp_path / "90b3d51f30000002-ds.pem")
    shutil.copy(keys_dir() / "90b3d51f30000002-ka.key", tmp_path / "90b3d51f30000002-ds.key")
    store = KeyStore(tmp_path)
    entry = store.entry("90b3d51f30000002", DS)
    assert entry is not None
    assert entry.cert_key_usage == frozenset({KA})
    assert entry.usage_mismatch == (
        "certificate KeyUsage allows Key Agreement, but the key is filed as ds (Digital Signature)"
    )
    assert [w.message for w in store.warnings] == [entry.usage_mismatch]
    assert store.public_key("90b3d51f30000002", DS) is None
    with pytest.raises(GbcsSecurityError, match="DS key of 90b3d51f30000002 refused"):
        store.require_public_key("90b3d51f30000002", DS)
    assert store.private_key("90b3d51f30000002", DS) is None
    with pytest.raises(GbcsSecurityError, match="refused"):
        store.require_private_key("90b3d51f30000002", DS)
    assert store.entry("90b3d51f30000002", KA) is None


def test_private_key_not_matching_certificate(tmp_path: Path) -> None:
    shutil.copy(keys_dir() / "90b3d51f30000002-ka.pem", tmp_path / "90b3d51f30000002-ka.pem")
    shutil.copy(keys_dir() / "90b3d51f30010000-ka.key", tmp_path / "90b3d51f30000002-ka.key")
    store = KeyStore(tmp_path)
    entry = store.entry("90b3d51f30000002", KA)
    assert entry is not None
    assert entry.key_mismatch == "private key does not match the certificate"
    assert [w.message for w in store.warnings] == [entry.key_mismatch]
    cert_key = x509.load_pem_x509_certificate((tmp_path / "90b3d51f30000002-ka.pem").read_bytes())
    assert _point(store.public_key("90b3d51f30000002", KA)) == _point(cert_key.public_key())  # type: ignore[arg-type]
    assert store.private_key("90b3d51f30000002", KA) is None
    with pytest.raises(GbcsSecurityError, match="private KA key of 90b3d51f30000002 refused"):
        store.require_private_key("90b3d51f30000002", KA)


def test_several_directories_merge_and_override(tmp_path: Path) -> None:
    public, private, later = tmp_path / "pub", tmp_path / "priv", tmp_path / "later"
    for d in (public, private, later):
        d.mkdir()
    shutil.copy(keys_dir() / "90b3d51f30020000-ka.pem", public)
    shutil.copy(keys_dir() / "90b3d51f30020000-ka.key", private)
    # Upper-case EUI in the name, DER content.
    der = x509.load_pem_x509_certificate((keys_dir() / "00db1234567890a1-ka.pem").read_bytes())
    (later / "90B3D51F30020000-KA.pem").write_bytes(der.public_bytes(serialization.Encoding.DER))
    store = KeyStore(public, private)
    entry = store.entry("90b3d51f30020000", KA)
    assert entry is not None and entry.has_private and entry.key_mismatch is None
    assert entry.sources == (
        public / "90b3d51f30020000-ka.pem",
        private / "90b3d51f30020000-ka.key",
    )
    assert store.warnings == ()
    found = store.load(later)
    assert [w.message for w in found] == [
        f"replaces {public / '90b3d51f30020000-ka.pem'}",
        "certificate names EUI 00db1234567890a1, not 90b3d51f30020000",
        "private key does not match the certificate",
    ]
    assert store.entry("90b3d51f30020000", KA).certificate == der  # type: ignore[union-attr]
    with pytest.raises(FileNotFoundError):
        store.load(tmp_path / "missing")


def test_der_private_key_and_public_key(tmp_path: Path) -> None:
    key = serialization.load_pem_private_key(
        (keys_dir() / "90b3d51f30000002-ds.key").read_bytes(), None
    )
    (tmp_path / "90b3d51f30000002-ds.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    (tmp_path / "90b3d51f30000002-ds.pem").write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    store = KeyStore(tmp_path)
    assert store.warnings == ()
    entry = store.entry("90b3d51f30000002", DS)
    assert entry is not None and entry.certificate is None and entry.key_mismatch is None
    assert entry.private_key.private_numbers() == key.private_numbers()  # type: ignore[union-attr]


def test_non_p256_keys_are_refused(tmp_path: Path) -> None:
    k384 = ec.generate_private_key(ec.SECP384R1())
    (tmp_path / "0000000000000001-ka.key").write_bytes(
        k384.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    name = x509.Name([])
    cert384 = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")]))
        .public_key(k384.public_key())
        .serial_number(1)
        .not_valid_before(datetime(2020, 1, 1))
        .not_valid_after(datetime(2030, 1, 1))
        .sign(k384, hashes.SHA256())
    )
    (tmp_path / "0000000000000002-ds.pem").write_bytes(
        cert384.public_bytes(serialization.Encoding.PEM)
    )
    (tmp_path / "ca-broken.pem").write_text("not a certificate")
    (tmp_path / "ca-broken.key").write_text("never read")
    store = KeyStore(tmp_path)
    assert len(store) == 0
    assert store.ca_certificates == ()
    assert [(w.path.name, w.message) for w in store.warnings] == [
        ("0000000000000001-ka.key", "skipped: private key is not a NIST P-256 EC key"),
        ("0000000000000002-ds.pem", "skipped: certificate key is not a NIST P-256 EC key"),
        ("ca-broken.pem", "skipped CA certificate: not a certificate"),
    ]
    with pytest.raises(ValueError, match="P-256"):
        store.add("0000000000000001", KA, private_key=k384)  # type: ignore[arg-type]


def test_cryptography_warnings_are_captured(tmp_path: Path) -> None:
    # DCC Boxed "mdr" certificate: NULL signature-algorithm parameters (deprecated form).
    # cryptography < 50 parses it with a deprecation warning; 50+ refuses it. Either way
    # the store records one warning for that file and keeps the private key usable.
    boxed = json.loads((keys_dir() / "dccboxed-keystore.json").read_text())
    (item,) = boxed["90b3d51f30010009"]["digitalSignature"].values()
    (tmp_path / "90b3d51f30010009-ds.pem").write_text(item["certificate"])
    (tmp_path / "90b3d51f30010009-ds.key").write_text(item["privateKey"])
    store = KeyStore(tmp_path)
    (warning,) = store.warnings
    assert warning.path.name == "90b3d51f30010009-ds.pem"
    entry = store.entry("90b3d51f30010009", DS)
    assert entry is not None and entry.key_mismatch is None
    assert entry.private_key is not None
    if warning.message.startswith("cryptography: The parsed certificate contains a NULL"):
        assert entry.role is RemotePartyRole.OTHER  # subject OU=7F (hex)
    else:
        assert warning.message.startswith("skipped: error parsing asn1 value")
        assert entry.certificate is None  # the key file alone still loads


def test_add_in_memory_keys() -> None:
    store = KeyStore()
    key = ec.generate_private_key(ec.SECP256R1())
    entry = store.add(0x0011223344556677, "ka", private_key=key)
    assert entry.eui == bytes.fromhex("0011223344556677") and entry.usage is KA
    assert store.private_key("0011223344556677", KA) is key
    assert _point(store.public_key("0011223344556677", KA)) == _point(key.public_key())
    assert not store.has("0011223344556677", DS)
    with pytest.raises(ValueError, match="already in the key store"):
        store.add("0011223344556677", KA, private_key=key, replace=False)
    # A KA certificate cannot be registered as DS; a foreign private key cannot join a cert.
    ka_cert = x509.load_pem_x509_certificate((keys_dir() / "00db1234567890a0-ka.pem").read_bytes())
    with pytest.raises(ValueError, match="KeyUsage allows Key Agreement"):
        store.add(ESME, DS, certificate=ka_cert)
    with pytest.raises(ValueError, match="does not match the certificate"):
        store.add(ESME, KA, certificate=ka_cert, private_key=key)
    with pytest.raises(ValueError, match="prepayment keys are key-agreement"):
        store.add(ESME, DS, private_key=key, prepayment=True)
    store.add(ESME, KA, certificate=ka_cert)
    assert store.euis() == (bytes.fromhex("0011223344556677"), bytes.fromhex(ESME))
    assert store.remove(ESME, KA) and not store.remove(ESME, KA)
    assert len(store) == 1
    other = build_entry("0102030405060708", DS, public_key=key.public_key())
    store.add_entry(other)
    assert store.entry("0102030405060708", DS) is other


def test_key_file_name() -> None:
    assert key_file_name(0x90B3D51F30010000, KA, private=True, prepayment=True) == (
        "90b3d51f30010000-pp-ka.key"
    )
    assert key_file_name("00DB1234567890A0", "ds", private=False) == "00db1234567890a0-ds.pem"
    with pytest.raises(ValueError):
        key_file_name(ESME, DS, private=False, prepayment=True)


def test_entry_describe(store: KeyStore) -> None:
    assert store.entry(SUPPLIER, KA, prepayment=True).describe() == (  # type: ignore[union-attr]
        "90b3d51f30010000 pp-ka Supplier cert+private"
    )
    assert store.entry("fffffffffffffffe", DS).describe() == "fffffffffffffffe ds - public"  # type: ignore[union-attr]


# --- roles ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "role"),
    [
        ("supplier", RemotePartyRole.SUPPLIER),
        ("Supplier", RemotePartyRole.SUPPLIER),
        ("network-operator", RemotePartyRole.NETWORK_OPERATOR),
        ("network_operator", RemotePartyRole.NETWORK_OPERATOR),
        ("networkOperator", RemotePartyRole.NETWORK_OPERATOR),
        ("dno", RemotePartyRole.NETWORK_OPERATOR),
        ("acb", RemotePartyRole.ACCESS_CONTROL_BROKER),
        ("access-control-broker", RemotePartyRole.ACCESS_CONTROL_BROKER),
        ("transitional-cos", RemotePartyRole.TRANSITIONAL_COS),
        ("Transitional CoS", RemotePartyRole.TRANSITIONAL_COS),
        ("tcos", RemotePartyRole.TRANSITIONAL_COS),
        ("wan-provider", RemotePartyRole.WAN_PROVIDER),
        ("recovery", RemotePartyRole.RECOVERY),
        ("load-controller", RemotePartyRole.LOAD_CONTROLLER),
        ("root", RemotePartyRole.ROOT),
        ("other-user", RemotePartyRole.OTHER),
        ("2", RemotePartyRole.SUPPLIER),
        ("08", RemotePartyRole.LOAD_CONTROLLER),
        (127, RemotePartyRole.OTHER),
    ],
)
def test_role_parse(text: str | int, role: RemotePartyRole) -> None:
    assert RemotePartyRole.parse(text) is role


@pytest.mark.parametrize("bad", ["suplier", "", "9", 42, "network operators"])
def test_role_parse_rejects(bad: str | int) -> None:
    with pytest.raises(ValueError, match="unknown remote-party role"):
        RemotePartyRole.parse(bad)


def test_role_names_and_ou() -> None:
    acb = RemotePartyRole.ACCESS_CONTROL_BROKER
    assert (acb.human_name, acb.cli_name, acb.ou, acb.is_gbcs) == (
        "Access Control Broker",
        "access-control-broker",
        "04",
        True,
    )
    assert RemotePartyRole.OTHER.ou == "7F"
    assert RemotePartyRole.from_ou("7F") is RemotePartyRole.OTHER
    assert RemotePartyRole.from_ou("87") is RemotePartyRole.XML_SIGN
    assert RemotePartyRole.from_ou("89") is RemotePartyRole.DSP_XML_SIGN
    assert not RemotePartyRole.XML_SIGN.is_gbcs and not RemotePartyRole.DSP_XML_SIGN.is_gbcs
    assert RemotePartyRole.from_ou("02") is RemotePartyRole.SUPPLIER
    assert RemotePartyRole.from_ou("09") is None
    assert RemotePartyRole.from_ou("x2") is None
    assert RemotePartyRole.from_ou("002") is None
    for role in RemotePartyRole:
        assert RemotePartyRole.parse(role.cli_name) is role
        assert RemotePartyRole.from_ou(role.ou) is role


def test_key_usage_parse() -> None:
    assert KeyUsage.parse("keyAgreement") is KA
    assert KeyUsage.parse("digital-signature") is DS
    assert KeyUsage.parse("KA") is KA
    assert KeyUsage("ds") is DS and KA == "ka"
    with pytest.raises(ValueError, match="unknown key usage"):
        KeyUsage.parse("sign-and-agree")


def test_public_ka_pairs_agree(store: KeyStore) -> None:
    # ACB KA private x ESME KA public == ESME KA private x ACB KA public (command MAC keys).
    acb = "90b3d51f30000002"
    z1 = store.require_private_key(acb, KA).exchange(ec.ECDH(), store.require_public_key(ESME, KA))
    z2 = store.require_private_key(ESME, KA).exchange(ec.ECDH(), store.require_public_key(acb, KA))
    assert z1 == z2 and len(z1) == 32


def test_describe_certificate_never_raises_on_an_unreadable_subject() -> None:
    """A UTF8String subject with an invalid byte: cryptography only fails when read."""
    from cryptography import x509

    from keys.certs import describe_certificate

    bad = bytes.fromhex(
        "308201ac30820152a00302010202104fbc525201a1d7586c1bc1c4734deb9f300a06082a8648ce3d04"
        "0302301a310b3009060355040b13023037310b3009060355040313025a31301e170d31353130333030"
        "30303030305a170d3235313032393233353935395a303b3118301606035504030c0f47495454455354"
        "e65550504c494552310b3009060355040b0c02303231123010060355042d03090090b3d51f30010000"
        "3059301306072a8648ce3d020106082a8648ce3d0301070342000430c2ab5a0d131726ffbda80e7929"
        "4cc37534432a3e424405b97a3aba0ffc79dce729b2517563cb7d95827e4c50b48cba3d87d5893c51b9"
        "6d87c345e3717f8c1ea3593057300e0603551d0f0101ff04040302078030110603551d0e040a040844"
        "899792d196f4b8301d0603551d200101ff04133011300f060d2a863a0001848fb90f0102010430130"
        "603551d23040c300a80084f5688d7ec933be2300a06082a8648ce3d0403020348003045022100dfd0"
        "90e7573eaf5fa82e1aa7db8d9fed511839b5752d55d10091f250fdf18a2202205eb7ec36b1f4133e51"
        "557d33b59c49ef6bbd10e9aa4b1dcd928e65b3e9add1c5"
    )
    info = describe_certificate(x509.load_der_x509_certificate(bad))
    assert info.role is None and info.eui is None and info.key_usages is None
    assert info.problems and info.problems[0].startswith("unreadable certificate")
    assert info.not_after.year == 2025
