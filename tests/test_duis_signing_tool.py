"""Our DUIS XML signatures against the real DCC Boxed signing tool (opt-in).

The tool (``tests/signtool.py``) validates what :mod:`emulator.duis.xmlsig` signs with the
shared public test keys: requests of several users and command variants, and responses
built with :func:`emulator.duis.model.to_xml` and signed as the DCC. It must reject a
document edited after signing and a signature made by another key, so a tool that
checked nothing would fail here. The other direction: what the tool signs, our verifier
accepts, with the digest our signer computes for the same document.

Opt-in: ``-m duis_signing_tool`` or ``GBCS_DUIS_SIGNING_TOOL=1`` (which may install the
tool with npm); see ``scripts/install-signing-tool.sh``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from dataclasses import dataclass

import pytest

pytest.importorskip("lxml", reason="the DUIS XML tests need lxml (the duis extra)")

from lxml import etree

from emulator.duis import model, transform, xmlsig
from emulator.duis.keys import XmlKeyStore, XmlSigner
from keys.store import KeyStore
from tests import duiskit, signtool
from tests.signtool import ExitCode, SigningTool, ToolRun

pytestmark = pytest.mark.duis_signing_tool

DS = "{" + xmlsig.DSIG_NS + "}"
DCC = "90B3D51F30000002"
# Templates (RTDS 4.9.1 DUIS requests) and who sends them.
CV1_READ = "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"  # supplier, SRV 4.1.1
CV4_CRITICAL = "ECS43_7.2_SUCCESS_REQUEST_DUIS.XML"  # supplier, SRV 7.2 disable supply
SECOND_USER = "ECS17a_4.2_SUCCESS_REQUEST_DUIS.XML"  # network operator, SRV 4.2
SUPPLIER_2 = "GCS16b_4.14_URP_SUCCESS_REQUEST_DUIS.XML"  # signs with its GBCS DS key
NON_DEVICE = "8.2_READ_INVENTORY_REQUEST_DUIS.XML"  # CV8, to the DCC
LOAD_CONTROLLER_PREFIX = "ECS47e_7.16_APC_"  # a key the tool does not hold
# Any xs:string: the tool checks the schema and the signature, not the payload.
GBCS_VERSION = "4.3"
RESPONSE_TIME = "2026-01-01T00:00:00.000Z"


@pytest.fixture(scope="module")
def tool(request: pytest.FixtureRequest) -> SigningTool:
    return signtool.require_tool(request.config)


@pytest.fixture(scope="module")
def store(tool: SigningTool) -> XmlKeyStore:
    # Takes `tool` so that a run without the opt-in skips before reading the shared keys.
    s, warnings = XmlKeyStore.from_dirs([duiskit.keys_dir()])
    assert warnings == []
    return s


def _template(name: str) -> bytes:
    return (duiskit.require_duis() / "templates" / name).read_bytes()


def _request_signer(xml: bytes, store: XmlKeyStore) -> XmlSigner:
    signer = store.signing_key_for(xmlsig.originator_eui(xml))
    assert signer is not None
    return signer


def _dcc_signer(store: XmlKeyStore, ou: str) -> XmlSigner:
    """The DCC's XML-signing key with this subject OU (89 = DspXmlSign, 137 = pre-1.4.1)."""
    found = [s for s in store.by_eui(DCC) if s.ou == ou and s.private_key is not None]
    assert len(found) >= 1, f"no DCC key with OU {ou}"
    return found[0]


def _pre_command_response(store: XmlKeyStore) -> tuple[bytes, XmlSigner]:
    """The transform service's I0 reply to the CV4 request: its GBCS pre-command, signed
    as the DCC signs its replies (the DspXmlSign key)."""
    request = model.parse(_template(CV4_CRITICAL))
    assert isinstance(request, model.Request)
    result = transform.transform(request, target_type="ESME", keys=KeyStore())
    assert isinstance(result, transform.Transformed) and result.pre_command, result
    h = request.header
    response = model.Response(
        model.ResponseHeader("I0", RESPONSE_TIME, request_id=h.request_id),
        model.ResponseMessage(
            h.service_reference,
            h.service_reference_variant,
            model.PreCommand(GBCS_VERSION, result.gbcs),
        ),
    )
    return model.to_xml(response), _dcc_signer(store, "89")


def _acknowledgement(store: XmlKeyStore) -> tuple[bytes, XmlSigner]:
    """An I99 acknowledgement of the CV1 read, signed with the DCC's pre-1.4.1 key."""
    request = model.parse(_template(CV1_READ))
    assert isinstance(request, model.Request)
    h = request.header
    response = model.Response(
        model.ResponseHeader("I99", RESPONSE_TIME, request_id=h.request_id),
        model.ResponseMessage(h.service_reference, h.service_reference_variant),
    )
    return model.to_xml(response), _dcc_signer(store, "137")


def _request(name: str) -> Callable[[XmlKeyStore], tuple[bytes, XmlSigner]]:
    def build(store: XmlKeyStore) -> tuple[bytes, XmlSigner]:
        xml = _template(name)
        return xml, _request_signer(xml, store)

    return build


@dataclass(frozen=True)
class Case:
    """A document to sign with our signer, and the key to sign it with."""

    id: str
    build: Callable[[XmlKeyStore], tuple[bytes, XmlSigner]]


CASES = [
    Case("cv1-read-supplier", _request(CV1_READ)),
    Case("cv4-critical-supplier", _request(CV4_CRITICAL)),
    Case("cv1-second-user-network-operator", _request(SECOND_USER)),
    Case("supplier2-gbcs-ds-key", _request(SUPPLIER_2)),
    Case("cv8-non-device", _request(NON_DEVICE)),
    Case("response-i0-precommand-dcc", _pre_command_response),
    Case("response-i99-dcc-pre-1.4.1-key", _acknowledgement),
]


def _checked(run: ToolRun) -> list[str]:
    """The run's stderr lines, after failing on any the pinned tool is not known to print."""
    assert run.unexpected() == [], f"the signing tool printed something new: {run.describe()}"
    return run.messages()


def _unsigned_c14n(xml: bytes) -> bytes:
    root = xmlsig.parse(xml).getroot()
    for sig in root.findall(DS + "Signature"):
        root.remove(sig)
    return etree.tostring(root, method="c14n")


def _digest_value(xml: bytes) -> str:
    return xmlsig.parse(xml).getroot().findtext(f"{DS}Signature/{DS}SignedInfo//{DS}DigestValue")


# --- the tool validates what we sign --------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_the_tool_validates_what_we_sign(case: Case, tool: SigningTool, store: XmlKeyStore) -> None:
    xml, signer = case.build(store)
    signed = xmlsig.sign(xml, signer)
    assert xmlsig.verify(signed, store).ok
    run = tool.validate(signed)
    said = _checked(run)
    assert run.exit_code == ExitCode.OK, run.describe()
    # It checked the signature, with the certificate of the key we signed with.
    assert "[I] passed signature check" in said, run.describe()
    assert f"[I] certificate serial number: {signer.serial}" in said, run.describe()
    # And hands back exactly the content we signed.
    assert _unsigned_c14n(run.stdout) == _unsigned_c14n(signed)


# --- the tool really checks -----------------------------------------------------------------


def _bump_counter(signed: bytes) -> bytes:
    """Change one byte of content: the last digit of the RequestID counter."""
    m = re.search(rb"<sr:RequestID>[^<]*?(\d)</sr:RequestID>", signed)
    assert m is not None
    digit = b"%d" % ((int(m.group(1)) + 1) % 10)
    return signed[: m.start(1)] + digit + signed[m.end(1) :]


def _assert_rejected_signature(run: ToolRun) -> None:
    said = _checked(run)
    assert run.exit_code == ExitCode.VALIDATION_FAILED, run.describe()
    # The schema passed: the rejection is the signature's.
    assert "[I] passed xsd validation" in said, run.describe()
    assert "[I] failed signature check" in said, run.describe()


def test_the_tool_rejects_a_document_edited_after_we_signed_it(
    tool: SigningTool, store: XmlKeyStore
) -> None:
    xml = _template(CV1_READ)
    signed = xmlsig.sign_for_originator(xml, store)
    edited = _bump_counter(signed)
    assert len(edited) == len(signed)
    assert sum(a != b for a, b in zip(signed, edited, strict=True)) == 1
    assert xmlsig.verify(edited, store).verdict is xmlsig.Verdict.INVALID
    _assert_rejected_signature(tool.validate(edited))


def test_the_tool_rejects_a_signature_by_another_key(tool: SigningTool, store: XmlKeyStore) -> None:
    xml = _template(CV1_READ)
    supplier = _request_signer(xml, store)
    other = _request_signer(_template(SECOND_USER), store)
    assert other.serial != supplier.serial
    # Names the supplier's certificate, signed with the network operator's key: the
    # digest is right, the signature is not.
    forged = xmlsig.sign(xml, dataclasses.replace(supplier, private_key=other.private_key))
    result = xmlsig.verify(forged, store)
    assert (result.digest_ok, result.signature_ok) == (True, False)
    _assert_rejected_signature(tool.validate(forged))


def test_the_tool_rejects_a_signature_over_indented_xml(
    tool: SigningTool, store: XmlKeyStore
) -> None:
    """Why our signer writes compact XML: the tool digests the document without the
    whitespace between elements, so a signature over the indented bytes fails for it."""
    xml = _template(CV1_READ)
    assert b">\n" in xml
    indented = xmlsig.sign(xml, _request_signer(xml, store), compact=False)
    assert xmlsig.verify(indented, store).ok
    _assert_rejected_signature(tool.validate(indented))


def test_the_tool_cannot_check_a_key_it_does_not_hold(
    tool: SigningTool, store: XmlKeyStore
) -> None:
    """The load controller's key is in the shared keys but not in the tool's library."""
    names = sorted(p.name for p in duiskit.templates() if p.name.startswith(LOAD_CONTROLLER_PREFIX))
    assert names
    xml = _template(names[0])
    signer = _request_signer(xml, store)
    run = tool.validate(xmlsig.sign(xml, signer))
    said = _checked(run)
    assert run.exit_code == ExitCode.MISSING_CREDENTIALS, run.describe()
    assert f"[E] could not locate certificate for: {signer.serial}" in said


# --- we verify what the tool signs ----------------------------------------------------------


@pytest.mark.parametrize("name", [CV1_READ, CV4_CRITICAL, SECOND_USER])
def test_we_verify_what_the_tool_signs(name: str, tool: SigningTool, store: XmlKeyStore) -> None:
    xml = _template(name)
    run = tool.sign(xml, preserve_counter=True)
    _checked(run)
    assert run.exit_code == ExitCode.OK, run.describe()
    result = xmlsig.verify(run.stdout, store)
    assert result.ok, result.line()
    assert result.signer is not None
    assert result.signer.serial == _request_signer(xml, store).serial
    # The same content as the template (counter kept), with the digest our signer makes.
    assert _unsigned_c14n(run.stdout) == _unsigned_c14n(xmlsig.sign_for_originator(xml, store))
    assert _digest_value(run.stdout) == _digest_value(xmlsig.sign_for_originator(xml, store))
