"""DUIS XML signatures: the real DCC Boxed samples, our signing, tampering, DOCTYPE, dates.

The shared samples and keys are read at test time through ``GBCS_DUIS_DIR``
(tests/duiskit.py); tests that need them skip without them.
"""

from __future__ import annotations

import base64
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("lxml", reason="the DUIS XML tests need lxml (the duis extra)")

from lxml import etree

from emulator.duis import xmlsig
from emulator.duis.keys import (
    KeyLoadError,
    XmlKeyStore,
    load_certificate_file,
    normalise_dn,
)
from emulator.duis.xmlsig import DuisXmlError, Verdict
from tests import duiskit

DS = "{http://www.w3.org/2000/09/xmldsig#}"
SUPPLIER = "90B3D51F30010000"
DCC = "90B3D51F30000002"
ECS52_RESPONSE = "samples/duis-templates/ECS52_11.2_SUCCESS_RESPONSE_DUIS.XML"

# The manifest's recipe reasons and the verdict each must give here.
MANIFEST_VERDICTS = {
    "valid": Verdict.VALID,
    "no signature": Verdict.UNSIGNED,
    "SignatureValue not 64 bytes (r||s)": Verdict.MALFORMED,
    "rejected: DOCTYPE not allowed": Verdict.MALFORMED,
    "signature mismatch": Verdict.INVALID,
    "digest mismatch": Verdict.INVALID,
    "no X509SerialNumber": Verdict.MALFORMED,
    "certificate not found for serial": Verdict.UNKNOWN_SIGNER,
}


@pytest.fixture(scope="module")
def store() -> XmlKeyStore:
    s, warnings = XmlKeyStore.from_dirs([duiskit.keys_dir()])
    assert warnings == []
    return s


def _template(name: str) -> bytes:
    return (duiskit.require_duis() / "templates" / name).read_bytes()


ECS17B = "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"


# --- the real samples ---------------------------------------------------------------------


@pytest.mark.parametrize("file", duiskit.sample_files())
def test_every_sample_gives_the_manifest_verdict(file: str, store: XmlKeyStore) -> None:
    row = duiskit.sample(file)
    expected = row["recipe_verdict"]
    data = (duiskit.require_duis() / file).read_bytes()
    result = xmlsig.verify(data, store)
    assert expected["reason"] in MANIFEST_VERDICTS, f"new manifest reason {expected['reason']!r}"
    assert result.verdict is MANIFEST_VERDICTS[expected["reason"]], result.line()
    assert result.ok is expected["ok"]
    if expected["reason"] in ("valid", "signature mismatch", "digest mismatch"):
        assert result.digest_ok is expected["digest_ok"]
        assert result.signature_ok is expected["signature_ok"]
    if expected["reason"] == "certificate not found for serial":
        assert result.digest_ok is True
    if row["signer_cert"] is not None:
        assert result.signer is not None
        assert result.signer.sources[0].name == Path(row["signer_cert"]).name
    if "DOCTYPE" in expected["reason"]:
        assert "DOCTYPE" in result.reason


def test_the_manifest_counts_are_matched(store: XmlKeyStore) -> None:
    rows = duiskit.samples()
    verdicts = [
        xmlsig.verify((duiskit.require_duis() / r["file"]).read_bytes(), store).verdict
        for r in rows
    ]
    assert len(rows) == 24
    assert verdicts.count(Verdict.VALID) == 12


@pytest.mark.parametrize("file", duiskit.sample_files())
def test_sample_xsd_verdicts(file: str) -> None:
    schema = _schema()
    row = duiskit.sample(file)
    data = (duiskit.require_duis() / file).read_bytes()
    if row["xsd_valid_duis_5_4"] is None:
        with pytest.raises(DuisXmlError, match="DOCTYPE"):
            xmlsig.validate(data, schema)
    else:
        assert xmlsig.validate(data, schema).ok is row["xsd_valid_duis_5_4"]


_SCHEMA: list[etree.XMLSchema] = []


def _schema() -> etree.XMLSchema:
    if not _SCHEMA:
        _SCHEMA.append(xmlsig.load_schema(duiskit.xsd_path()))
    return _SCHEMA[0]


# --- signing ------------------------------------------------------------------------------


def test_every_template_signs_verifies_and_stays_schema_valid(store: XmlKeyStore) -> None:
    schema = _schema()
    templates = duiskit.templates()
    assert len(templates) == 297
    for path in templates:
        raw = path.read_bytes()
        assert xmlsig.verify(raw, store).verdict is Verdict.MALFORMED  # the placeholder
        signed = xmlsig.sign_for_originator(raw, store)
        result = xmlsig.verify(signed, store)
        assert result.ok, f"{path.name}: {result.line()}"
        assert result.signer is not None
        assert result.signer.eui == xmlsig.originator_eui(raw)
        assert xmlsig.validate(signed, schema).ok, path.name
        assert len(etree.fromstring(signed).findall(DS + "Signature")) == 1


def _without_signature_value(xml: bytes) -> bytes:
    c14n = etree.tostring(etree.fromstring(xml), method="c14n")
    return re.sub(rb"<ds:SignatureValue>.*?</ds:SignatureValue>", b"", c14n, flags=re.S)


def test_our_signature_has_the_signing_tools_layout_and_digest(store: XmlKeyStore) -> None:
    tool_signed = sorted((duiskit.require_duis() / "samples" / "signed-by-signing-tool").glob("*"))
    assert len(tool_signed) == 7
    for path in tool_signed:
        ours = xmlsig.sign_for_originator(_template(path.name), store)
        theirs = path.read_bytes()
        # Same document, same Signature element, same DigestValue: only r||s differs.
        assert _without_signature_value(ours) == _without_signature_value(theirs), path.name
        assert ours.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="no"?><sr:')
        value = etree.fromstring(ours).findtext(f"{DS}Signature/{DS}SignatureValue")
        assert value is not None and value[76:78] == "\r\n"  # Java's MIME wrapping
        assert len(base64.b64decode("".join(value.split()))) == 64


def test_resigning_a_dcc_response_reproduces_its_digest(store: XmlKeyStore) -> None:
    original = (duiskit.require_duis() / "samples/signing-tool/readfw-response.xml").read_bytes()
    signer = store.signing_key_for(DCC)
    assert signer is not None
    ours = xmlsig.sign(original, signer)
    digest = f"{DS}Signature/{DS}SignedInfo/{DS}Reference/{DS}DigestValue"
    assert etree.fromstring(ours).findtext(digest) == etree.fromstring(original).findtext(digest)
    # The root maps the dsig namespace to ns3: the signature declares ds itself, as DCC's.
    assert b'<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#">' in ours
    assert xmlsig.verify(ours, store).ok


def test_sign_with_explicit_key_and_kept_whitespace(store: XmlKeyStore) -> None:
    signer = store.by_eui(SUPPLIER)[0]
    pretty = xmlsig.sign(_template(ECS17B), signer, compact=False)
    assert b"\n  <sr:Header>" in pretty
    assert xmlsig.verify(pretty, store).ok
    compact = xmlsig.sign(_template(ECS17B), signer)
    assert b">\n" not in compact and b">  <" not in compact


def test_sign_refuses_what_it_cannot_sign(store: XmlKeyStore) -> None:
    cert = load_certificate_file(duiskit.keys_dir() / "acb-90B3D51F30000002-ds.cert.pem")
    with pytest.raises(DuisXmlError, match="no private key"):
        xmlsig.sign(_template(ECS17B), cert)
    unknown = _template(ECS17B).replace(b"90-B3-D5-1F-30-01-00-00:", b"80-B3-D5-1F-30-01-00-00:")
    with pytest.raises(DuisXmlError, match="80B3D51F30010000"):
        xmlsig.sign_for_originator(unknown, store)
    with pytest.raises(DuisXmlError, match="DOCTYPE"):
        xmlsig.sign(b'<!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>', store.by_eui(SUPPLIER)[0])
    with pytest.raises(DuisXmlError, match="not well-formed"):
        xmlsig.sign(b"<r><a></r>", store.by_eui(SUPPLIER)[0])
    with pytest.raises(DuisXmlError, match="RequestID"):
        xmlsig.sign_for_originator(b"<r/>", store)


# --- tampering ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def signed(store: XmlKeyStore) -> bytes:
    return xmlsig.sign_for_originator(_template(ECS17B), store)


def test_changed_content_breaks_the_digest(signed: bytes, store: XmlKeyStore) -> None:
    edited = signed.replace(b":1000</sr:RequestID>", b":1001</sr:RequestID>")
    assert edited != signed
    r = xmlsig.verify(edited, store)
    assert (r.verdict, r.digest_ok, r.signature_ok) == (Verdict.INVALID, False, True)


def test_indenting_after_signing_breaks_the_digest(signed: bytes, store: XmlKeyStore) -> None:
    r = xmlsig.verify(signed.replace(b"<sr:Header>", b"\n  <sr:Header>"), store)
    assert r.verdict is Verdict.INVALID and r.digest_ok is False


def test_a_comment_is_outside_the_signed_content(signed: bytes, store: XmlKeyStore) -> None:
    assert xmlsig.verify(signed.replace(b"<sr:Body>", b"<sr:Body><!-- x -->"), store).ok


def test_changed_signature_value_fails(signed: bytes, store: XmlKeyStore) -> None:
    root = etree.fromstring(signed)
    sv = root.find(f"{DS}Signature/{DS}SignatureValue")
    assert sv is not None and sv.text is not None
    raw = bytearray(base64.b64decode("".join(sv.text.split())))
    raw[40] ^= 1
    sv.text = base64.b64encode(bytes(raw)).decode()
    r = xmlsig.verify(etree.tostring(root), store)
    assert (r.verdict, r.digest_ok, r.signature_ok) == (Verdict.INVALID, True, False)


def test_changed_signed_info_fails(signed: bytes, store: XmlKeyStore) -> None:
    root = etree.fromstring(signed)
    dv = root.find(f"{DS}Signature/{DS}SignedInfo/{DS}Reference/{DS}DigestValue")
    assert dv is not None
    dv.text = base64.b64encode(b"\0" * 32).decode()
    r = xmlsig.verify(etree.tostring(root), store)
    assert r.verdict is Verdict.INVALID and r.signature_ok is False


def test_signature_by_another_key_fails(store: XmlKeyStore) -> None:
    # Signed by the network operator, but naming the supplier's certificate.
    other = store.signing_key_for("90B3D51F30020000")
    supplier = store.signing_key_for(SUPPLIER)
    assert other is not None and supplier is not None
    forged = xmlsig.sign(_template(ECS17B), other).replace(
        str(other.serial).encode(), str(supplier.serial).encode()
    )
    r = xmlsig.verify(forged, store)
    assert r.verdict is Verdict.INVALID and r.signature_ok is False


@pytest.mark.parametrize(
    ("edit", "verdict", "why"),
    [
        ((b"<ds:X509SerialNumber>", b"<ds:X509SerialNumber>1"), Verdict.UNKNOWN_SIGNER, "serial"),
        ((b"CN=Z1,OU=07", b"CN=U1,OU=07"), Verdict.UNKNOWN_SIGNER, "issuer CN=U1"),
        ((b"xmldsig-more#ecdsa-sha256", b"xmldsig-more#ecdsa-sha384"), Verdict.MALFORMED, "384"),
        ((b"xml-exc-c14n#", b"xml-c14n11"), Verdict.MALFORMED, "CanonicalizationMethod"),
        ((b"xmlenc#sha256", b"xmldsig#sha1"), Verdict.MALFORMED, "DigestMethod"),
        ((b'URI=""', b'URI="#x"'), Verdict.MALFORMED, "URI"),
        ((b"<ds:X509SerialNumber>", b"<ds:X509SerialNumber>0x"), Verdict.MALFORMED, "decimal"),
        ((b"<ds:SignatureValue>", b"<ds:SignatureValue>AAAA"), Verdict.MALFORMED, "bytes"),
        ((b"<ds:SignatureValue>", b"<ds:SignatureValue>!"), Verdict.MALFORMED, "base64"),
    ],
)
def test_signature_shape_problems(
    signed: bytes, store: XmlKeyStore, edit: tuple[bytes, bytes], verdict: Verdict, why: str
) -> None:
    assert edit[0] in signed
    r = xmlsig.verify(signed.replace(edit[0], edit[1], 1), store)
    assert r.verdict is verdict, r.line()
    assert why in r.reason


def test_issuer_name_spelling_does_not_matter(signed: bytes, store: XmlKeyStore) -> None:
    assert xmlsig.verify(signed.replace(b"CN=Z1,OU=07", b"OU=07, CN=Z1"), store).ok


def test_two_signatures_or_a_nested_one_are_malformed(signed: bytes, store: XmlKeyStore) -> None:
    root = etree.fromstring(signed)
    sig = root.find(DS + "Signature")
    assert sig is not None
    root.append(etree.fromstring(etree.tostring(sig)))
    assert xmlsig.verify(etree.tostring(root), store).verdict is Verdict.MALFORMED
    nested = etree.fromstring(signed)
    sig = nested.find(DS + "Signature")
    body = nested.find("{http://www.dccinterface.co.uk/ServiceUserGateway}Body")
    assert sig is not None and body is not None
    body.append(sig)
    assert xmlsig.verify(etree.tostring(nested), store).verdict is Verdict.MALFORMED


def test_removing_the_signature_leaves_an_unsigned_document(
    signed: bytes, store: XmlKeyStore
) -> None:
    root = etree.fromstring(signed)
    sig = root.find(DS + "Signature")
    assert sig is not None
    root.remove(sig)
    r = xmlsig.verify(etree.tostring(root), store)
    assert r.verdict is Verdict.UNSIGNED and not r.ok


def test_unknown_signer_without_keys(signed: bytes) -> None:
    r = xmlsig.verify(signed, XmlKeyStore())
    assert r.verdict is Verdict.UNKNOWN_SIGNER
    assert r.digest_ok is True and r.serial is not None


# --- DOCTYPE and bad input ----------------------------------------------------------------


def _xxe(secret: Path) -> str:
    return (
        f'<!DOCTYPE r [<!ENTITY xxe SYSTEM "file://{secret}">]>'
        '<r xmlns="http://www.dccinterface.co.uk/ServiceUserGateway">&xxe;</r>'
    )


def test_doctype_refused_without_reading_the_entity(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOPSECRET-MARKER")
    for data in (
        _xxe(secret).encode(),
        ('<?xml version="1.0" encoding="UTF-16"?>' + _xxe(secret)).encode("utf-16"),
        b'<!DOCTYPE r SYSTEM "http://127.0.0.1:9/never.dtd"><r/>',
        b'<!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>',
    ):
        r = xmlsig.verify(data, XmlKeyStore())
        assert r.verdict is Verdict.MALFORMED
        assert "DOCTYPE" in r.reason and "MARKER" not in r.reason
    # The UTF-16 document passes the byte check; its DOCTYPE is caught after a parse
    # that leaves the external entity unexpanded.
    utf16 = ('<?xml version="1.0" encoding="UTF-16"?>' + _xxe(secret)).encode("utf-16")
    tree = etree.fromstring(utf16, xmlsig._parser())
    assert "MARKER" not in etree.tostring(tree).decode()


def test_documents_c14n_refuses_are_malformed(signed: bytes, store: XmlKeyStore) -> None:
    relative = signed.replace(b"<sr:Header>", b'<sr:Header xmlns:q="rel/ative">')
    r = xmlsig.verify(relative, store)
    assert r.verdict is Verdict.MALFORMED and "canonicalise" in r.reason
    with pytest.raises(DuisXmlError, match="canonicalise"):
        xmlsig.sign_for_originator(relative, store)


def test_a_processing_instruction_before_the_root_is_signed_content(
    signed: bytes, store: XmlKeyStore
) -> None:
    body = signed[signed.index(b"<sr:Request") :]
    r = xmlsig.verify(b"<?xml version='1.0'?><?pi x?>" + body, store)
    assert r.verdict is Verdict.INVALID and r.digest_ok is False
    assert xmlsig.verify(b"<?xml version='1.0'?>" + body, store).ok


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"not xml",
        b"<r>",
        b"\xff\xfe\x00",
        b"<r xmlns:a='x'><a:b/></r>",
        b"<?xml?>",
        b"<a>" * 300 + b"</a>" * 300,
    ],
)
def test_bad_input_is_malformed_or_unsigned_never_an_exception(data: bytes) -> None:
    r = xmlsig.verify(data, XmlKeyStore())
    assert r.verdict in (Verdict.MALFORMED, Verdict.UNSIGNED)
    assert "\n" not in r.line()


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_verify_never_raises(data: bytes) -> None:
    assert isinstance(xmlsig.verify(data, XmlKeyStore()), xmlsig.VerifyResult)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_verify_never_raises_on_a_mutated_signed_document(data: st.DataObject) -> None:
    doc = bytearray(_SIGNED_FOR_FUZZ)
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(doc) - 1))
        doc[i] = data.draw(st.integers(0, 255))
    r = xmlsig.verify(bytes(doc), _FUZZ_STORE)
    assert isinstance(r, xmlsig.VerifyResult) and "\n" not in r.line()


# Built at import (not in a fixture: hypothesis tests take no function-scoped fixtures).
_FUZZ_STORE = XmlKeyStore()
_SIGNED_FOR_FUZZ = b"<r/>"
if duiskit.duis_dir() is not None:
    _FUZZ_STORE, _ = XmlKeyStore.from_dirs([duiskit.keys_dir()])
    _SIGNED_FOR_FUZZ = xmlsig.sign_for_originator(
        (duiskit.keys_dir().parent / "templates" / ECS17B).read_bytes(), _FUZZ_STORE
    )


# --- certificate dates --------------------------------------------------------------------


def test_dates_are_reported_and_only_enforced_on_request(store: XmlKeyStore) -> None:
    data = (duiskit.require_duis() / ECS52_RESPONSE).read_bytes()  # ACB cert, to 2025-10-29
    inside = datetime(2024, 1, 1, tzinfo=UTC)
    after = datetime(2026, 1, 1, tzinfo=UTC)
    r = xmlsig.verify(data, store, now=after)
    assert r.ok and r.certificate_in_date is False
    assert "2025-10-29" in r.line() and "not enforced" in r.line()
    r = xmlsig.verify(data, store, now=inside)
    assert r.ok and r.certificate_in_date is True and "not enforced" not in r.line()
    r = xmlsig.verify(data, store, now=after, enforce_dates=True)
    assert r.verdict is Verdict.INVALID and "2025-10-29" in r.reason
    assert r.digest_ok and r.signature_ok
    assert xmlsig.verify(data, store, now=inside, enforce_dates=True).ok
    # Naive times are UTC.
    assert xmlsig.verify(data, store, now=datetime(2025, 10, 29, 23, 59)).certificate_in_date


# --- key folders --------------------------------------------------------------------------


def test_key_folder_lookup(store: XmlKeyStore) -> None:
    assert len(store) == 12
    assert all(s.private_key is not None for s in store)
    s = store.by_issuer_serial("CN=Z1,OU=07", 27572613927499351639968579586655397031)
    assert s is not None and s.eui == SUPPLIER and s.ou == "87"
    assert store.by_issuer_serial("cn=Z1, ou=07", s.serial) is s
    assert store.by_issuer_serial("CN=U1, OU=07", s.serial) is None
    assert store.by_serial(1234567890) == []
    assert [x.eui for x in store.by_eui("90-b3-d5-1f-30-01-00-00")] == [SUPPLIER]
    assert len(store.by_eui(DCC)) == 4  # three DSP certificates and the ACB's
    dcc = store.signing_key_for(DCC)
    assert (
        dcc is not None and dcc.sources[0].name == "dsp-90B3D51F30000002-dspxmlsign-2018.cert.pem"
    )
    assert store.signing_key_for("0000000000000000") is None
    with pytest.raises(ValueError, match="EUI"):
        store.by_eui("90B3")


def test_key_folder_problems_are_warnings_or_clear_errors(tmp_path: Path) -> None:
    keys = duiskit.keys_dir()
    (tmp_path / "good.cert.pem").write_bytes(
        (keys / "user-supplier-90B3D51F30010000-xmlsign.cert.pem").read_bytes()
    )
    (tmp_path / "lonely.key.pem").write_bytes(
        (keys / "acb-90B3D51F30000002-ds.key.pem").read_bytes()
    )
    (tmp_path / "junk.pem").write_text("-----BEGIN CERTIFICATE-----\nnope\n")
    (tmp_path / "README.md").write_text("ignored")
    store = XmlKeyStore()
    warnings = store.load_dir(tmp_path)
    assert len(store) == 1 and store.signing_key_for(SUPPLIER) is None
    assert sorted((w.path.name, w.message) for w in warnings) == [
        ("junk.pem", "neither a certificate nor an EC private key"),
        ("lonely.key.pem", "private key without a certificate in the folder"),
    ]
    with pytest.raises(KeyLoadError, match="no-such-dir"):
        store.load_dir(tmp_path / "no-such-dir")
    with pytest.raises(KeyLoadError, match=r"junk\.pem"):
        load_certificate_file(tmp_path / "junk.pem")


def test_distinguished_names_compare_by_content() -> None:
    assert normalise_dn("CN=Z1,OU=07") == normalise_dn("OU=07, CN=Z1")
    assert normalise_dn("CN=Z1,OU=07") != normalise_dn("CN=Z1,OU=08")
    assert normalise_dn(r"CN=a\,b,OU=1") == (("CN", r"a\,b"), ("OU", "1"))
