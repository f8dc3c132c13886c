"""DUIS users and trust (:mod:`emulator.duis.users`): the users file, look-ups, the public
test organisations.

Certificates are made here with :mod:`keys.pki`; the public DCC Boxed test folder is read
through ``tests/duiskit.py`` (those tests skip without it).
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from emulator.duis.tables import USER_ROLES, srv
from emulator.duis.users import (
    DEFAULT_DSP_KIND,
    TEST_ORGANISATION_ROLES,
    User,
    Users,
    UsersConfigError,
)
from keys.pki import CertificateAuthorities, IssuedKey, create_authorities
from keys.pki import issue_organisation_keys as issue
from keys.roles import KeyUsage, RemotePartyRole
from tests import duiskit, interop

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "duis-users.md"

SUPPLIER = "90B3D51F30010000"
NETWORK = "90B3D51F30020000"
DSP_EUI = "90B3D51F30000002"
CALLBACK = "http://127.0.0.1:8080/smartdcc/duis"


@pytest.fixture(scope="module")
def ca() -> CertificateAuthorities:
    return create_authorities()


def _pem_cert(k: IssuedKey) -> bytes:
    return k.certificate.public_bytes(serialization.Encoding.PEM)


def _pem_key(k: IssuedKey) -> bytes:
    return k.private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _xml_key(ca: CertificateAuthorities, eui: str, role: RemotePartyRole) -> IssuedKey:
    return issue(ca, role, eui, usages=(KeyUsage.DS,))[0]


@dataclass
class Bench:
    """A users file with its certificates in a temporary folder."""

    dir: Path
    keys: dict[str, IssuedKey]

    @property
    def path(self) -> Path:
        return self.dir / "users.toml"

    def write(self, text: str) -> Path:
        self.path.write_text(text)
        return self.path

    def errors(self, text: str) -> list[str]:
        with pytest.raises(UsersConfigError) as e:
            Users.load(self.write(text))
        assert str(e.value) == "\n".join(e.value.lines)
        return list(e.value.lines)


@pytest.fixture
def bench(tmp_path: Path, ca: CertificateAuthorities) -> Bench:
    keys = {
        "supplier": _xml_key(ca, SUPPLIER, RemotePartyRole.XML_SIGN),
        "network": _xml_key(ca, NETWORK, RemotePartyRole.XML_SIGN),
        "dsp": _xml_key(ca, DSP_EUI, RemotePartyRole.DSP_XML_SIGN),
    }
    gbcs = issue(ca, RemotePartyRole.SUPPLIER, SUPPLIER)
    keys["supplier-ds"], keys["supplier-ka"] = gbcs
    certs = tmp_path / "certs"
    certs.mkdir()
    for name, k in keys.items():
        (certs / f"{name}.pem").write_bytes(_pem_cert(k))
    key = certs / "dsp.key"
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, _pem_key(keys["dsp"]))
    os.close(fd)
    return Bench(tmp_path, keys)


GOOD = f"""
[dsp]
key = "certs/dsp.key"
certificate = "certs/dsp.pem"

[smki]
apikey = "s3cret-api-key"

[[user]]
name = "test supplier"
eui = "90-B3-D5-1F-30-01-00-00"
role = ["IS", "GS"]
xml_certificate = "certs/supplier.pem"
ds_certificate = "certs/supplier-ds.pem"
ka_certificate = "certs/supplier-ka.pem"
callback = "{CALLBACK}"

[[user]]
eui = "90b3d51f30020000"
role = "ED"
xml_certificate = "certs/network.pem"
callback = "https://no.example:8443/duis"
"""


def _user(n: int, **fields: str) -> str:
    base = {
        "eui": SUPPLIER,
        "role": "IS",
        "xml_certificate": "certs/supplier.pem",
        "callback": CALLBACK,
    }
    base.update(fields)
    body = "\n".join(f"{k} = {v}" if v.startswith("[") else f'{k} = "{v}"' for k, v in base.items())
    return f"\n[[user]] # {n}\n{body}\n"


DSP = '[dsp]\nkey = "certs/dsp.key"\ncertificate = "certs/dsp.pem"\n'


# ------------------------------------------------------------------ a valid file


def test_a_valid_file_gives_every_lookup(bench: Bench) -> None:
    users = Users.load(bench.write(GOOD))
    assert len(users) == 2
    supplier = users.require("90b3d51f30010000")
    assert supplier.eui == SUPPLIER
    assert supplier.roles == ("IS", "GS") and supplier.role == "IS"
    assert supplier.has_role("GS") and not supplier.has_role("ED")
    assert supplier.name == "test supplier"
    assert supplier.xml_signer.serial == bench.keys["supplier"].certificate.serial_number
    assert supplier.xml_signer.private_key is None
    assert supplier.ds_certificate == bench.keys["supplier-ds"].certificate
    assert supplier.ka_certificate == bench.keys["supplier-ka"].certificate
    assert users.roles("90-B3-D5-1F-30-02-00-00") == ("ED",)
    assert users.callback(NETWORK) == "https://no.example:8443/duis"
    assert users.callback(SUPPLIER) == CALLBACK
    assert users.get("00DB123456780004") is None and users.roles("00DB123456780004") == ()
    assert users.get("not an eui") is None and users.callback("nope") is None
    assert "90:B3:D5:1F:30:01:00:00" in users and "00DB123456780004" not in users
    assert users.apikey == "s3cret-api-key"
    assert users.dsp.eui == DSP_EUI and users.dsp.private_key is not None
    assert users.dsp.serial == bench.keys["dsp"].certificate.serial_number
    with pytest.raises(KeyError) as e:
        users.require("00DB123456780004")
    assert str(e.value) == "'00DB123456780004' is not a configured DUIS user"


def test_the_key_store_holds_only_the_senders_certificate(bench: Bench) -> None:
    users = Users.load(bench.write(GOOD))
    supplier = bench.keys["supplier"].certificate
    store = users.key_store("90-b3-d5-1f-30-01-00-00")
    assert [s.certificate for s in store] == [supplier]
    issuer = supplier.issuer.rfc4514_string()
    assert store.by_issuer_serial(issuer, supplier.serial_number) is not None
    assert users.key_store(NETWORK).by_issuer_serial(issuer, supplier.serial_number) is None
    assert len(users.key_store("00DB123456780004")) == 0
    everyone = users.all_certificates()
    assert {s.eui for s in everyone} == {SUPPLIER, NETWORK, DSP_EUI}
    assert all(s.private_key is None for s in everyone)


def _request(originator: str) -> bytes:
    return (
        '<sr:Request xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway">'
        f"<sr:Header><sr:RequestID>{originator}:00-DB-12-34-56-78-90-A0:1</sr:RequestID>"
        "</sr:Header></sr:Request>"
    ).encode()


def test_a_request_verifies_against_its_senders_certificate_only(bench: Bench) -> None:
    xmlsig = pytest.importorskip("emulator.duis.xmlsig", reason="needs lxml (duis extra)")
    from emulator.duis.keys import XmlKeyStore, load_certificate_file

    users = Users.load(bench.write(GOOD))
    signer = load_certificate_file(bench.dir / "certs" / "supplier.pem")
    from dataclasses import replace

    signer = replace(signer, private_key=bench.keys["supplier"].private_key)
    signed = xmlsig.sign(_request("90-B3-D5-1F-30-01-00-00"), signer)
    eui = xmlsig.originator_eui(signed)
    assert xmlsig.verify(signed, users.key_store(eui)).verdict is xmlsig.Verdict.VALID
    # the network operator cannot pass off the supplier's signature as its own
    assert xmlsig.verify(signed, users.key_store(NETWORK)).verdict is (
        xmlsig.Verdict.UNKNOWN_SIGNER
    )
    # responses signed with the DSP key verify against the DSP certificate
    response = xmlsig.sign(_request("90-B3-D5-1F-30-00-00-02"), users.dsp)
    assert xmlsig.verify(response, users.all_certificates()).ok
    assert not xmlsig.verify(response, XmlKeyStore([signer])).ok


def test_no_secret_in_reprs(bench: Bench) -> None:
    users = Users.load(bench.write(GOOD))
    scalar = str(bench.keys["dsp"].private_key.private_numbers().private_value)
    texts = [repr(users), str(users), *users.describe(), *(repr(u) for u in users)]
    for text in texts:
        assert scalar not in text
        assert "s3cret-api-key" not in text
        assert "PRIVATE KEY" not in text


# ------------------------------------------------------------------ every problem


def test_every_problem_is_one_line_with_file_and_key_path(bench: Bench) -> None:
    text = (
        DSP
        + _user(1)
        + _user(2, eui="90B3D51F30020000", role="XX", xml_certificate="certs/network.pem")
        + _user(3, eui="90-B3-D5-1F-30-01-00-00")
        + _user(4, eui="90B3D51F3002", callback="ftp://files.example/x")
    )
    lines = bench.errors(text)
    p = bench.path
    assert lines == [
        f"{p}: user[2].role: 'XX' is not a DUIS role (IS, ES, GS, ED, GT, RSA, OU)",
        f"{p}: user[3].eui: {SUPPLIER} is already user[1]'s EUI; allowed: one [[user]] per EUI",
        f"{p}: user[4].eui: got '90B3D51F3002'; allowed: an EUI-64 (16 hex digits, dashes allowed)",
        f"{p}: user[4].callback: scheme 'ftp'; allowed: an http:// or https:// URL",
    ]


def test_unknown_keys_get_the_closest_suggestion(bench: Bench) -> None:
    text = (
        DSP.replace("certificate =", "certficate =")
        + "[smki]\napi_key = 'x'\n"
        + "[[users]]\n"
        + _user(1).replace("callback =", "calback =")
    )
    lines = bench.errors(text)
    p = bench.path
    assert f"{p}: users: unknown key; did you mean user? (allowed: dsp, smki, user)" in lines
    assert any(
        line.startswith(f"{p}: dsp.certficate: unknown key; did you mean certificate?")
        for line in lines
    )
    assert any(
        line.startswith(f"{p}: smki.api_key: unknown key; did you mean apikey?") for line in lines
    )
    assert any(
        line.startswith(f"{p}: user[1].calback: unknown key; did you mean callback?")
        for line in lines
    )
    assert f"{p}: user[1].callback: missing" in lines
    assert f"{p}: dsp.certificate: missing; allowed: a file path (relative to this file)" in lines


def test_missing_keys_and_wrong_types(bench: Bench) -> None:
    text = "[[user]]\neui = 42\nname = 7\nrole = []\ncallback = 'http://'\n"
    lines = bench.errors(text)
    p = bench.path
    assert lines == [
        f"{p}: [dsp]: missing",
        f"{p}: user[1].eui: got 42; allowed: an EUI-64 (16 hex digits, dashes allowed)",
        f"{p}: user[1].role: got an array; allowed: a DUIS role code or an array of them",
        f"{p}: user[1].callback: no host after http://; allowed: an http:// or https:// URL with"
        " a host",
        f"{p}: user[1].name: got 7; allowed: a string",
        f"{p}: user[1].xml_certificate: missing; allowed: a file path (relative to this file)",
    ]


def test_an_empty_dsp_table_names_both_keys(bench: Bench) -> None:
    lines = bench.errors("[dsp]\n" + _user(1))
    assert lines == [
        f"{bench.path}: dsp.certificate: missing; allowed: a file path (relative to this file)",
        f"{bench.path}: dsp.key: missing; allowed: a file path (relative to this file)",
    ]


def test_odd_paths_are_refused_in_one_line(bench: Bench) -> None:
    lines = bench.errors(
        DSP.replace('"certs/dsp.key"', '"certs/\\u0000.key"')
        + _user(1, xml_certificate="certs")
        + _user(2, eui=NETWORK, xml_certificate="x" * 300)
    )
    assert len(lines) == 3
    assert lines[0].startswith(f"{bench.path}: dsp.key: got ")
    assert "user[1].xml_certificate" in lines[1] and "cannot read" in lines[1]
    assert "user[2].xml_certificate" in lines[2] and len(lines[2]) < 500


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("user = 3", "user: must be an array of tables ([[user]]), got 3"),
        ("[user]\neui = 'x'", "user: must be an array of tables ([[user]]), got a table"),
        ("dsp = 'x'", "dsp: must be a table ([dsp]), got 'x'"),
    ],
)
def test_tables_of_the_wrong_shape(bench: Bench, toml: str, expected: str) -> None:
    lines = bench.errors(toml + "\n" + (DSP if not toml.startswith("dsp") else ""))
    assert f"{bench.path}: {expected}" in lines


@pytest.mark.parametrize(
    ("role", "message"),
    [
        ('["IS", "IS"]', "names a role twice"),
        ('["IS", 3]', "3 is not a DUIS role"),
        ('["is"]', "'is' is not a DUIS role"),
    ],
)
def test_bad_roles(bench: Bench, role: str, message: str) -> None:
    lines = bench.errors(DSP + _user(1, role=role))
    assert len(lines) == 1 and message in lines[0] and "user[1].role" in lines[0]


def test_every_duis_role_is_accepted(bench: Bench) -> None:
    roles = "[" + ", ".join(f'"{r}"' for r in USER_ROLES) + "]"
    users = Users.load(bench.write(DSP + _user(1, role=roles)))
    assert users.roles(SUPPLIER) == tuple(USER_ROLES)


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("http://127.0.0.1:8080/smartdcc/duis", True),
        ("https://user.example/cb?x=1", True),
        ("ftp://x.example/", False),
        ("127.0.0.1:8080/cb", False),
        ("http://host:99999/", False),
        ("http://[::1/", False),
        ("https:///path", False),
    ],
)
def test_callback_urls(bench: Bench, url: str, ok: bool) -> None:
    text = DSP + _user(1, callback=url)
    if ok:
        assert Users.load(bench.write(text)).callback(SUPPLIER) == url
    else:
        (line,) = bench.errors(text)
        assert line.startswith(f"{bench.path}: user[1].callback: ")


def test_a_callback_password_is_not_repeated(bench: Bench) -> None:
    (line,) = bench.errors(DSP + _user(1, callback="ftp://me:hunter2@h.example/"))
    assert "hunter2" not in line


# ------------------------------------------------------------------ certificates


def test_a_certificate_of_another_eui_is_reported(bench: Bench) -> None:
    lines = bench.errors(DSP + _user(1, xml_certificate="certs/network.pem"))
    assert lines == [
        f"{bench.path}: user[1].xml_certificate: the xml certificate names {NETWORK}, not the"
        f" user's EUI {SUPPLIER}"
    ]


def test_gbcs_certificates_must_match_eui_and_usage(
    bench: Bench, ca: CertificateAuthorities
) -> None:
    lines = bench.errors(
        DSP
        + _user(
            1,
            ds_certificate="certs/supplier-ka.pem",
            ka_certificate="certs/network.pem",
        )
    )
    p = bench.path
    assert lines == [
        f"{p}: user[1].ds_certificate: the ds certificate is certified for ka, not ds",
        f"{p}: user[1].ka_certificate: the ka certificate names {NETWORK}, not the user's EUI"
        f" {SUPPLIER}",
    ]


def test_unreadable_certificates_are_one_line_without_key_material(bench: Bench) -> None:
    (bench.dir / "certs" / "junk.pem").write_text("not a certificate")
    lines = bench.errors(
        DSP
        + _user(1, xml_certificate="certs/dsp.key")
        + _user(2, eui=NETWORK, xml_certificate="certs/missing.pem")
        + _user(3, eui="00DB123456780004", xml_certificate="certs/junk.pem")
    )
    key_text = (bench.dir / "certs" / "dsp.key").read_text()
    body = key_text.splitlines()[1]
    assert len(lines) == 3
    assert all("\n" not in line and body not in line for line in lines)
    assert "user[1].xml_certificate" in lines[0] and "not an X.509 certificate" in lines[0]
    assert "user[2].xml_certificate" in lines[1] and "cannot read" in lines[1]
    assert "user[3].xml_certificate" in lines[2] and "not an X.509 certificate" in lines[2]


# ------------------------------------------------------------------ the DSP key


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_group_or_world_readable_dsp_key_is_refused(bench: Bench, mode: int) -> None:
    key = bench.dir / "certs" / "dsp.key"
    key.chmod(mode)
    lines = bench.errors(DSP + _user(1))
    assert lines == [
        f"{bench.path}: dsp.key: {key}: mode {mode:04o} lets other users at the DSP's private"
        f" key; allowed: 0600 (chmod 600 {key})"
    ]


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_an_owner_only_dsp_key_is_accepted(bench: Bench, mode: int) -> None:
    (bench.dir / "certs" / "dsp.key").chmod(mode)
    assert Users.load(bench.write(DSP + _user(1))).dsp.private_key is not None


def test_a_symlinked_dsp_key_is_refused(bench: Bench) -> None:
    (bench.dir / "certs" / "link.key").symlink_to(bench.dir / "certs" / "dsp.key")
    (line,) = bench.errors(DSP.replace("dsp.key", "link.key") + _user(1))
    assert "dsp.key:" in line and "symbolic link" in line


def test_the_dsp_key_must_belong_to_its_certificate(bench: Bench) -> None:
    other = bench.dir / "certs" / "other.key"
    fd = os.open(other, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, _pem_key(bench.keys["supplier"]))
    os.close(fd)
    (line,) = bench.errors(DSP.replace("dsp.key", "other.key") + _user(1))
    assert line == f"{bench.path}: dsp.key: {other}: not the private key of dsp.certificate"


def test_a_dsp_key_that_is_not_a_key(bench: Bench) -> None:
    bad = bench.dir / "certs" / "bad.key"
    fd = os.open(bad, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, b"garbage")
    os.close(fd)
    (line,) = bench.errors(DSP.replace("dsp.key", "bad.key") + _user(1))
    assert line.startswith(f"{bench.path}: dsp.key: {bad}: not an unencrypted EC private key")


def test_a_bad_apikey_is_refused_without_showing_it(bench: Bench) -> None:
    (line,) = bench.errors(DSP + '[smki]\napikey = "two words"\n' + _user(1))
    assert line == f"{bench.path}: smki.apikey: must be 1 to 256 printable characters, no spaces"


# ------------------------------------------------------------------ the file itself


def test_file_level_errors_are_one_line(bench: Bench) -> None:
    with pytest.raises(UsersConfigError, match=r"^\S*nope\.toml: cannot read: "):
        Users.load(bench.dir / "nope.toml")
    bench.path.write_bytes(b"\xff\xfe[dsp]")
    with pytest.raises(UsersConfigError, match=r"not a UTF-8 text file$"):
        Users.load(bench.path)
    bench.path.write_text("[dsp\n")
    with pytest.raises(UsersConfigError) as e:
        Users.load(bench.path)
    assert len(e.value.lines) == 1 and "not valid TOML" in e.value.lines[0]


def test_users_refuses_inconsistent_construction(bench: Bench) -> None:
    users = Users.load(bench.write(GOOD))
    user = users.require(SUPPLIER)
    with pytest.raises(ValueError, match="two users with EUI"):
        Users([user, user], users.dsp)
    with pytest.raises(ValueError, match="needs its private key"):
        Users([user], users.all_certificates().by_eui(DSP_EUI)[0])
    assert isinstance(user, User)


def test_a_file_without_users_is_valid(bench: Bench) -> None:
    users = Users.load(bench.write(DSP))
    assert len(users) == 0 and users.apikey is None


# ------------------------------------------------------------------ the documentation


def _doc_example() -> str:
    text = DOC.read_text()
    blocks = re.findall(r"```toml\n(.*?)```", text, re.S)
    assert blocks, "docs/duis-users.md has no ```toml example"
    return blocks[0]


def test_the_documented_example_loads(tmp_path: Path, ca: CertificateAuthorities) -> None:
    example = _doc_example()
    doc = tomllib.loads(example)
    dsp = _xml_key(ca, DSP_EUI, RemotePartyRole.DSP_XML_SIGN)
    files: dict[str, bytes] = {doc["dsp"]["certificate"]: _pem_cert(dsp)}
    for u in doc["user"]:
        eui = u["eui"].replace("-", "")
        files[u["xml_certificate"]] = _pem_cert(_xml_key(ca, eui, RemotePartyRole.XML_SIGN))
        ds, ka = issue(ca, RemotePartyRole.SUPPLIER, eui)
        if "ds_certificate" in u:
            files[u["ds_certificate"]] = _pem_cert(ds)
        if "ka_certificate" in u:
            files[u["ka_certificate"]] = _pem_cert(ka)
    for name, data in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(data)
    key = tmp_path / doc["dsp"]["key"]
    fd = os.open(key, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, _pem_key(dsp))
    os.close(fd)
    (tmp_path / "users.toml").write_text(example)
    users = Users.load(tmp_path / "users.toml")
    assert len(users) == len(doc["user"]) >= 2
    assert users.apikey == doc["smki"]["apikey"]
    documented = set(re.findall(r"^\| `(\w+)` \|", DOC.read_text(), re.M))
    assert {"eui", "role", "xml_certificate", "callback", "key", "certificate"} <= documented


def test_the_doc_names_every_test_organisation_mapping() -> None:
    text = DOC.read_text()
    for name, roles in TEST_ORGANISATION_ROLES.items():
        assert f"`{name}`" in text and " + ".join(roles) in text, name


# ------------------------------------------------------------------ synthetic test folder


def _test_folder(tmp_path: Path, ca: CertificateAuthorities, *, lie: bool = False) -> Path:
    folder = tmp_path / "keys"
    folder.mkdir()
    named_eui = NETWORK if lie else SUPPLIER
    files = {
        f"user-supplier-{named_eui}-xmlsign": _xml_key(ca, SUPPLIER, RemotePartyRole.XML_SIGN),
        "user-wanprovider-90B3D51F30000007-ds": issue(
            ca, RemotePartyRole.WAN_PROVIDER, "90B3D51F30000007", usages=(KeyUsage.DS,)
        )[0],
        f"dsp-{DSP_EUI}-{DEFAULT_DSP_KIND}": _xml_key(ca, DSP_EUI, RemotePartyRole.DSP_XML_SIGN),
    }
    for stem, k in files.items():
        (folder / f"{stem}.cert.pem").write_bytes(_pem_cert(k))
        (folder / f"{stem}.key.pem").write_bytes(_pem_key(k))
    (folder / "README.md").write_text("ignored")
    return folder


def test_a_test_folder_of_our_own(tmp_path: Path, ca: CertificateAuthorities) -> None:
    folder = _test_folder(tmp_path, ca)
    users = Users.from_test_keys(folder, callback=CALLBACK)
    assert [u.eui for u in users] == [SUPPLIER]  # the WAN provider is no DUIS user
    assert users.roles(SUPPLIER) == ("IS", "GS")
    assert users.dsp.eui == DSP_EUI and users.dsp.private_key is not None
    assert users.require(SUPPLIER).xml_signer.private_key is None
    users = Users.from_test_keys(
        folder, callback=CALLBACK, roles={"supplier": "IS", "wanprovider": ["OU"]}
    )
    assert users.roles(SUPPLIER) == ("IS",) and users.roles("90B3D51F30000007") == ("OU",)
    users = Users.from_test_keys(folder, callback=CALLBACK, roles={"supplier": ()})
    assert len(users) == 0


def test_a_test_folder_whose_names_lie(tmp_path: Path, ca: CertificateAuthorities) -> None:
    folder = _test_folder(tmp_path, ca, lie=True)
    with pytest.raises(UsersConfigError) as e:
        Users.from_test_keys(folder, callback=CALLBACK)
    (line,) = e.value.lines
    assert line.endswith(f"names {SUPPLIER}, not the user's EUI {NETWORK}")


def test_test_folder_problems_are_all_listed(tmp_path: Path, ca: CertificateAuthorities) -> None:
    folder = _test_folder(tmp_path, ca)
    with pytest.raises(UsersConfigError) as e:
        Users.from_test_keys(
            folder,
            callback="mailto:x@y",
            roles={"suplier": "IS", "wanprovider": "WP"},
            dsp="dspxmlsign-2052",
            apikey="a b",
        )
    lines = e.value.lines
    assert len(lines) == 5, lines
    assert "roles['wanprovider']: 'WP' is not a DUIS role (IS, ES, GS, ED, GT, RSA, OU)" in lines
    assert any("did you mean supplier?" in line for line in lines)
    assert any(f"did you mean {DEFAULT_DSP_KIND}?" in line for line in lines)
    assert any(line.startswith("callback: ") for line in lines)
    assert "apikey: must be 1 to 256 printable characters, no spaces" in lines
    with pytest.raises(UsersConfigError, match="not a readable key folder"):
        Users.from_test_keys(tmp_path / "absent", callback=CALLBACK)


def test_test_folder_callbacks_per_user(tmp_path: Path, ca: CertificateAuthorities) -> None:
    folder = _test_folder(tmp_path, ca)
    users = Users.from_test_keys(folder, callback={"90-b3-d5-1f-30-01-00-00": "http://h/cb"})
    assert users.callback(SUPPLIER) == "http://h/cb"
    with pytest.raises(UsersConfigError) as e:
        Users.from_test_keys(folder, callback={"zz": "http://h/"})
    assert e.value.lines == (
        "callback['zz']: not an EUI-64",
        f"callback: no URL for user {SUPPLIER}",
    )


# ------------------------------------------------------------------ the public test organisations


def test_the_public_test_organisations() -> None:
    users = Users.from_test_keys(duiskit.keys_dir(), callback=CALLBACK)
    assert {u.eui: u.roles for u in users} == {
        SUPPLIER: ("IS", "GS"),
        "90B3D51F30030000": ("IS", "GS"),
        NETWORK: ("ED", "GT"),
        "00DB123456780004": ("OU",),
    }
    assert users.require(SUPPLIER).xml_signer.ou == "87"
    assert users.require("90B3D51F30030000").xml_signer.ou == "02"  # its GBCS DS cert
    assert users.dsp.eui == DSP_EUI and users.dsp.ou == "89"
    assert users.dsp.serial == int("0F4889EF197D41E9016966F9D5AB0402", 16)
    assert all(u.ds_certificate is None for u in users)
    old = Users.from_test_keys(duiskit.keys_dir(), callback=CALLBACK, dsp="dspxmlsign-2018")
    assert old.dsp.serial == int("7DAC7283AAD29BDD23C9EFBFDDB52A41", 16)


def test_the_public_organisations_roles_fit_their_templates() -> None:
    users = Users.from_test_keys(duiskit.keys_dir(), callback=CALLBACK)
    ecs17b, gcs31 = srv("4.1.1"), srv("14.1")
    assert ecs17b is not None and gcs31 is not None
    assert set(users.roles(SUPPLIER)) & set(ecs17b.roles)
    assert set(users.roles(NETWORK)) & set(gcs31.roles)


def test_with_the_interop_gbcs_certificates() -> None:
    users = Users.from_test_keys(
        duiskit.keys_dir(), interop.keys_dir(), callback=CALLBACK, roles={"loadcontroller": "OU"}
    )
    for eui in (SUPPLIER, NETWORK, "90B3D51F30030000", "90B3D51F30010008"):
        user = users.require(eui)
        assert user.ds_certificate is not None and user.ka_certificate is not None, eui
    assert users.require("00DB123456780004").ds_certificate is None


def test_signed_samples_verify_against_their_senders_only() -> None:
    xmlsig = pytest.importorskip("emulator.duis.xmlsig", reason="needs lxml (duis extra)")
    users = Users.from_test_keys(duiskit.keys_dir(), callback=CALLBACK)
    checked = 0
    for path in sorted((duiskit.require_duis() / "samples" / "signed-by-signing-tool").glob("*")):
        xml = path.read_bytes()
        eui = xmlsig.originator_eui(xml)
        result = xmlsig.verify(xml, users.key_store(eui))
        if eui in users:
            assert result.ok, (path.name, result.line())
            other = NETWORK if eui != NETWORK else SUPPLIER
            assert not xmlsig.verify(xml, users.key_store(other)).ok
            checked += 1
        else:
            assert result.verdict is xmlsig.Verdict.UNKNOWN_SIGNER, path.name
    assert checked >= 5
    response = duiskit.require_duis() / "samples" / "signing-tool" / "readfw-response-resigned.xml"
    assert xmlsig.verify(response.read_bytes(), users.all_certificates()).ok
