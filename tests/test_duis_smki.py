"""SMKI look-up (DCC Boxed port 8083): search and retrieve, sans-IO and over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_asyncio

pytest.importorskip("lxml", reason="the SMKI look-up needs lxml (the duis extra)")
pytest.importorskip("aiohttp", reason="the SMKI service needs aiohttp")

from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from lxml import etree

from devices.trust import OwnKeys
from emulator.duis.smki import (
    MAX_REQUEST_BYTES,
    CertificateDirectory,
    CertificateStatus,
    DirectoryCertificate,
    SmkiReply,
    eui_text,
    handle_retrieve,
    handle_search,
    serial_text,
)
from emulator.duis.smki_http import DCC_BOXED_APIKEY, RETRIEVE_PATH, SEARCH_PATH, smki_app
from emulator.runtime.config import derive_own_keys
from emulator.runtime.pki import DeviceCertificates, ensure_pki
from keys import (
    DEFAULT_ORGANISATION_EUIS,
    CertificateAuthorities,
    IssuedKey,
    KeyStore,
    KeyUsage,
    RemotePartyRole,
    create_authorities,
    issue_device_keys,
    issue_organisation_keys,
)
from keys.certs import describe_certificate

NOW = datetime(2026, 11, 23, tzinfo=UTC)
SUPPLIER = bytes.fromhex("90b3d51f30010000")
NETWORK_OPERATOR = bytes.fromhex("90b3d51f30020000")
ESME = bytes.fromhex("00db123456780001")
GSME = bytes.fromhex("00db123456780002")
UNKNOWN = bytes.fromhex("00db1234567800ff")


def search_body(element: str, value: str, extra: str = "") -> bytes:
    """The body the open client sends (XML declaration, no namespace, no whitespace)."""
    return (
        '<?xml version="1.0" encoding="utf-8"?><CertificateSearchRequest>'
        f"<{element}>{value}</{element}>{extra}</CertificateSearchRequest>"
    ).encode()


def retrieve_body(serial: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?><CertificateDataRequest>'
        f"<CertificateSerial>{serial}</CertificateSerial></CertificateDataRequest>"
    ).encode()


def org_search(eui: bytes, extra: str = "") -> bytes:
    return search_body("CertificateSubjectName", eui_text(eui), extra)


def device_search(eui: bytes, extra: str = "") -> bytes:
    return search_body("CertificateSubjectAltName", eui_text(eui), extra)


def _usage(code: str) -> str:
    return f"<CertificateUsage>{code}</CertificateUsage>"


def results(reply: SmkiReply | bytes) -> list[dict[str, str]]:
    """Each ``Result`` of a search reply as {element: text}."""
    body = reply.body if isinstance(reply, SmkiReply) else reply
    root = etree.fromstring(body)
    assert root.tag == "CertificateSearchResponse"
    return [{child.tag: child.text or "" for child in r} for r in root.findall("Result")]


def certificate_response(body: bytes) -> dict[str, str]:
    root = etree.fromstring(body)
    assert root.tag == "CertificateDataResponse"
    response = root.find("CertificateResponse")
    assert response is not None
    return {child.tag: child.text or "" for child in response}


def der_from_body(text: str) -> x509.Certificate:
    """Load the certificate the way the open client does: PEM armour around the text."""
    pem = f"-----BEGIN CERTIFICATE-----\n{text.strip()}\n-----END CERTIFICATE-----\n"
    return x509.load_pem_x509_certificate(pem.encode())


@pytest.fixture(scope="module")
def authorities() -> CertificateAuthorities:
    return create_authorities(now=NOW)


@pytest.fixture(scope="module")
def issued(authorities: CertificateAuthorities) -> tuple[IssuedKey, ...]:
    return (
        *issue_organisation_keys(
            authorities, RemotePartyRole.SUPPLIER, SUPPLIER, now=NOW, prepayment=True
        ),
        *issue_organisation_keys(
            authorities, RemotePartyRole.NETWORK_OPERATOR, NETWORK_OPERATOR, now=NOW
        ),
        *issue_device_keys(authorities, ESME, now=NOW),
        *issue_device_keys(authorities, GSME, now=NOW),
    )


@pytest.fixture(scope="module")
def store(issued: tuple[IssuedKey, ...]) -> KeyStore:
    s = KeyStore()
    s.extend(k.entry() for k in issued)
    return s


@pytest.fixture(scope="module")
def directory(store: KeyStore) -> CertificateDirectory:
    return CertificateDirectory.from_keystore(store)


def cert_of(issued: tuple[IssuedKey, ...], eui: bytes, usage: KeyUsage) -> x509.Certificate:
    (key,) = [k for k in issued if k.eui == eui and k.usage is usage and not k.prepayment]
    return key.certificate


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


# --- the collection -----------------------------------------------------------------------


def test_from_keystore_holds_every_certificate(directory: CertificateDirectory) -> None:
    # supplier DS, KA, prepayment KA; network operator DS, KA; two devices x DS, KA
    assert len(directory) == 9
    assert all(c.status is CertificateStatus.IN_USE for c in directory)


def test_from_keystore_skips_bare_keys(issued: tuple[IssuedKey, ...]) -> None:
    s = KeyStore()
    s.add_entry(issued[0].entry())
    s.add(UNKNOWN, KeyUsage.DS, public_key=issued[1].private_key.public_key())
    assert len(CertificateDirectory.from_keystore(s)) == 1


def test_from_certificates_matches_from_keystore(
    issued: tuple[IssuedKey, ...], directory: CertificateDirectory
) -> None:
    from_der = CertificateDirectory.from_certificates(der(k.certificate) for k in issued)
    assert list(from_der) == list(directory)


def test_from_certificates_keeps_a_duplicate_once(issued: tuple[IssuedKey, ...]) -> None:
    one = der(issued[0].certificate)
    assert len(CertificateDirectory.from_certificates([one, one, issued[0].certificate])) == 1


def test_from_certificates_refuses_non_der(issued: tuple[IssuedKey, ...]) -> None:
    with pytest.raises(ValueError, match=r"^certificate #1 is not DER X\.509$"):
        CertificateDirectory.from_certificates([der(issued[0].certificate), b"not DER"])


def test_two_certificates_with_one_serial_are_refused(
    directory: CertificateDirectory,
) -> None:
    first = next(iter(directory))
    clash = DirectoryCertificate(
        serial=first.serial,
        eui=first.eui,
        usage=first.usage,
        is_device=first.is_device,
        role=first.role,
        der=first.der + b"\x00",
    )
    with pytest.raises(ValueError, match="two different certificates have serial number"):
        CertificateDirectory([first, clash])


def test_certificate_without_eui_is_refused(authorities: CertificateAuthorities) -> None:
    with pytest.raises(ValueError, match="names no EUI-64"):
        CertificateDirectory.from_certificates([authorities.root.certificate])


def test_serial_text_is_upper_hex_of_whole_bytes() -> None:
    assert serial_text(0x469AFEC2E7C0CAAEC8A400769B702BC8) == "469AFEC2E7C0CAAEC8A400769B702BC8"
    assert serial_text(0xABC) == "0ABC"
    assert eui_text(SUPPLIER) == "90-B3-D5-1F-30-01-00-00"


# --- search -------------------------------------------------------------------------------


def test_search_organisation_by_subject_name(
    directory: CertificateDirectory, issued: tuple[IssuedKey, ...]
) -> None:
    reply = handle_search(directory, org_search(SUPPLIER), audit_reference="audit-1")
    assert (reply.status, reply.content_type) == (200, "application/xml")
    found = results(reply)
    want = sorted(serial_text(k.certificate.serial_number) for k in issued if k.eui == SUPPLIER)
    assert sorted(r["CertificateSerial"] for r in found) == want
    assert sorted(r["CertificateUsage"] for r in found) == ["DS", "KA", "KA"]
    for r in found:
        assert r["CertificateSubjectName"] == "90-B3-D5-1F-30-01-00-00"
        assert r["CertificateStatus"] == "I"
        assert r["CertificateRole"] == "2"
        assert "CertificateSubjectAltName" not in r
    root = etree.fromstring(reply.body)
    assert root.findtext("ResponseCode") == "200"
    assert root.findtext("AuditReference") == "audit-1"


def test_search_reply_is_plain_xml_like_dcc_boxed(directory: CertificateDirectory) -> None:
    body = handle_search(directory, org_search(SUPPLIER)).body
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Cert')
    assert body.count(b"<?xml") == 1
    assert b"xmlns" not in body


def test_search_role_is_the_decimal_role_number(directory: CertificateDirectory) -> None:
    (ds,) = results(handle_search(directory, org_search(NETWORK_OPERATOR, _usage("DS"))))
    assert ds["CertificateRole"] == "3"


def test_search_xml_signing_role_is_135(authorities: CertificateAuthorities) -> None:
    (xml_key,) = issue_organisation_keys(
        authorities, RemotePartyRole.XML_SIGN, SUPPLIER, now=NOW, usages=(KeyUsage.DS,)
    )
    d = CertificateDirectory.from_certificates([der(xml_key.certificate)])
    (found,) = results(handle_search(d, org_search(SUPPLIER)))
    assert found["CertificateRole"] == "135"  # OU=87 is hex; the client compares decimal


@pytest.mark.parametrize(
    "value", ["00-db-12-34-56-78-00-01", "00DB123456780001", " 00-DB-12-34-56-78-00-01 "]
)
def test_search_device_by_subject_alt_name(
    directory: CertificateDirectory, issued: tuple[IssuedKey, ...], value: str
) -> None:
    reply = handle_search(directory, search_body("CertificateSubjectAltName", value))
    assert reply.status == 200
    found = results(reply)
    by_usage = {r["CertificateUsage"]: r for r in found}
    assert set(by_usage) == {"DS", "KA"} and len(found) == 2
    for usage in (KeyUsage.DS, KeyUsage.KA):
        r = by_usage[usage.value.upper()]
        assert r["CertificateSerial"] == serial_text(cert_of(issued, ESME, usage).serial_number)
        assert r["CertificateSubjectAltName"] == "00-DB-12-34-56-78-00-01"
        assert "CertificateRole" not in r and "CertificateSubjectName" not in r


def test_search_filters_narrow_the_results(directory: CertificateDirectory) -> None:
    ka = results(handle_search(directory, device_search(ESME, _usage("KA"))))
    assert [r["CertificateUsage"] for r in ka] == ["KA"]
    status = "<CertificateStatus>I</CertificateStatus>"
    assert len(results(handle_search(directory, device_search(ESME, status)))) == 2
    role = "<CertificateRole>2</CertificateRole>"
    assert len(results(handle_search(directory, org_search(SUPPLIER, role)))) == 3


@pytest.mark.parametrize(
    "body",
    [
        org_search(UNKNOWN),
        device_search(UNKNOWN),
        org_search(ESME),  # a device is not found by subject name
        device_search(SUPPLIER),  # nor an organisation by subject alt name
        org_search(SUPPLIER, "<CertificateRole>135</CertificateRole>"),
        device_search(ESME, "<CertificateStatus>R</CertificateStatus>"),
    ],
    ids=["unknown-org", "unknown-device", "device-as-org", "org-as-device", "role", "status"],
)
def test_search_nothing_found_is_402(directory: CertificateDirectory, body: bytes) -> None:
    reply = handle_search(directory, body)
    assert reply.status == 402
    assert reply.content_type == "text/plain"
    assert reply.body.decode().startswith("no certificate with CertificateSubject")


def _one_line_401(reply: SmkiReply, why: str) -> None:
    text = reply.body.decode()
    assert reply.status == 401, text
    assert reply.content_type == "text/plain"
    assert text.endswith("\n") and text.count("\n") == 1, text
    assert "Traceback" not in text
    assert why in text, text


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty request body"),
        (b"   \n", "empty request body"),
        (b"not xml at all", "not well-formed XML"),
        (b"<CertificateSearchRequest><CertificateSubjectName>", "not well-formed XML"),
        (
            b'<!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b"<CertificateSearchRequest><CertificateSubjectName>&x;</CertificateSubjectName>"
            b"</CertificateSearchRequest>",
            "DOCTYPE not allowed",
        ),
        (
            '<?xml version="1.0" encoding="utf-16"?><!DOCTYPE r><CertificateSearchRequest/>'.encode(
                "utf-16"
            ),
            "DOCTYPE not allowed",
        ),
        (b"<CertificateDataRequest/>", "root element is CertificateDataRequest"),
        (b"<CertificateSearchRequest/>", "exactly one of"),
        (
            org_search(SUPPLIER).replace(
                b"</CertificateSearchRequest>",
                b"<CertificateSubjectAltName>00-DB-12-34-56-78-00-01</CertificateSubjectAltName>"
                b"</CertificateSearchRequest>",
            ),
            "exactly one of",
        ),
        (org_search(SUPPLIER, "<Other>1</Other>"), "unexpected element Other"),
        (org_search(SUPPLIER, _usage("DS") + _usage("DS")), "given more than once"),
        (search_body("CertificateSubjectName", "<b>x</b>"), "must hold text"),
        (search_body("CertificateSubjectName", "90-B3-D5-1F-30-01-00"), "is not an EUI-64"),
        (search_body("CertificateSubjectName", "90:B3:D5:1F:30:01:00:00"), "is not an EUI-64"),
        (search_body("CertificateSubjectName", "z" * 5000), "is not an EUI-64"),
        (org_search(SUPPLIER, _usage("XX")), "must be DS or KA"),
        (org_search(SUPPLIER, "<CertificateStatus>Q</CertificateStatus>"), "must be one of"),
        (org_search(SUPPLIER, "<CertificateRole>two</CertificateRole>"), "decimal role"),
        (b"<CertificateSearchRequest>" + b" " * MAX_REQUEST_BYTES, "exceeds"),
    ],
    ids=[
        "empty",
        "blank",
        "text",
        "truncated",
        "xxe",
        "doctype-utf16",
        "wrong-root",
        "no-subject",
        "both-subjects",
        "unknown-element",
        "repeated-element",
        "nested-element",
        "short-eui",
        "colon-eui",
        "huge-eui",
        "bad-usage",
        "bad-status",
        "bad-role",
        "too-large",
    ],
)
def test_search_bad_body_is_401_with_one_line(
    directory: CertificateDirectory, body: bytes, why: str
) -> None:
    _one_line_401(handle_search(directory, body), why)


# --- retrieve -----------------------------------------------------------------------------


@pytest.mark.parametrize("spell", [str.upper, str.lower, lambda s: "00" + s])
def test_retrieve_device_certificate(
    directory: CertificateDirectory, issued: tuple[IssuedKey, ...], spell: Callable[[str], str]
) -> None:
    cert = cert_of(issued, GSME, KeyUsage.KA)
    serial = spell(serial_text(cert.serial_number))
    reply = handle_retrieve(directory, retrieve_body(serial))
    assert (reply.status, reply.content_type) == (200, "application/xml")
    fields = certificate_response(reply.body)
    assert der(der_from_body(fields["CertificateBody"])) == der(cert)
    assert base64.b64decode(fields["CertificateBody"]) == der(cert)
    assert fields["CertificateSubjectAltName"] == "00-DB-12-34-56-78-00-02"
    assert fields["CertificateSerial"] == serial_text(cert.serial_number)
    assert (fields["CertificateStatus"], fields["CertificateUsage"]) == ("I", "KA")
    assert "CertificateSubjectName" not in fields and "CertificateRole" not in fields


def test_retrieve_organisation_certificate(
    directory: CertificateDirectory, issued: tuple[IssuedKey, ...]
) -> None:
    cert = cert_of(issued, SUPPLIER, KeyUsage.DS)
    reply = handle_retrieve(directory, retrieve_body(serial_text(cert.serial_number)))
    fields = certificate_response(reply.body)
    assert base64.b64decode(fields["CertificateBody"]) == der(cert)
    assert fields["CertificateSubjectName"] == "90-B3-D5-1F-30-01-00-00"
    assert (fields["CertificateRole"], fields["CertificateUsage"]) == ("2", "DS")
    assert "CertificateSubjectAltName" not in fields


def test_retrieve_body_is_wrapped_like_pem(directory: CertificateDirectory) -> None:
    some = next(iter(directory))
    body = certificate_response(
        handle_retrieve(directory, retrieve_body(serial_text(some.serial))).body
    )["CertificateBody"]
    assert max(len(line) for line in body.split("\n")) == 64


def test_retrieve_unknown_serial_is_402(directory: CertificateDirectory) -> None:
    reply = handle_retrieve(directory, retrieve_body("1234"))
    assert reply.status == 402
    assert reply.body == b"no certificate with serial number 1234\n"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty request body"),
        (b"<CertificateDataRequest>", "not well-formed XML"),
        (b"<CertificateSearchRequest/>", "root element is CertificateSearchRequest"),
        (b"<CertificateDataRequest/>", "has no CertificateSerial"),
        (retrieve_body(""), "is not 1 to 40 hex digits"),
        (retrieve_body("12-34"), "is not 1 to 40 hex digits"),
        (retrieve_body("0x1234"), "is not 1 to 40 hex digits"),
        (retrieve_body("1" * 41), "is not 1 to 40 hex digits"),
        (retrieve_body("<x>12</x>"), "must hold text"),
        (
            b'<!DOCTYPE d [<!ENTITY s "12">]><CertificateDataRequest>'
            b"<CertificateSerial>&s;</CertificateSerial></CertificateDataRequest>",
            "DOCTYPE not allowed",
        ),
    ],
    ids=[
        "empty",
        "truncated",
        "wrong-root",
        "no-serial",
        "blank",
        "dashes",
        "0x",
        "long",
        "nested",
        "doctype",
    ],
)
def test_retrieve_bad_body_is_401_with_one_line(
    directory: CertificateDirectory, body: bytes, why: str
) -> None:
    _one_line_401(handle_retrieve(directory, body), why)


# --- over HTTP ----------------------------------------------------------------------------


@pytest_asyncio.fixture
async def client(directory: CertificateDirectory) -> AsyncIterator[TestClient]:
    app = smki_app(directory, apikey=DCC_BOXED_APIKEY)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        yield c


async def _post(
    client: TestClient, path: str, body: bytes, apikey: str | None
) -> tuple[int, str, bytes]:
    params = {} if apikey is None else {"apikey": apikey}
    headers = {"content-type": "application/xml"}
    async with client.post(path, data=body, params=params, headers=headers) as resp:
        return resp.status, resp.headers.get("Content-Type", ""), await resp.read()


def _client_picks(body: bytes, usage: str, role: str | None) -> list[str]:
    """Serials the open client keeps from a search reply (it filters on its side)."""
    return [
        r["CertificateSerial"]
        for r in results(body)
        if r["CertificateUsage"] == usage
        and r["CertificateStatus"] == "I"
        and (role is None or r.get("CertificateRole") == role)
    ]


@pytest.mark.asyncio
async def test_http_device_search_then_retrieve(client: TestClient) -> None:
    status, ctype, body = await _post(client, SEARCH_PATH, device_search(ESME), DCC_BOXED_APIKEY)
    assert status == 200
    assert ctype.split(";")[0] == "application/xml"
    (serial,) = _client_picks(body, "KA", None)
    status, ctype, body = await _post(
        client, RETRIEVE_PATH, retrieve_body(serial), DCC_BOXED_APIKEY
    )
    assert status == 200 and ctype.split(";")[0] == "application/xml"
    fields = certificate_response(body)
    cert = der_from_body(fields["CertificateBody"])
    info = describe_certificate(cert)
    assert info.is_device and info.hardware_serial == ESME
    assert info.key_usages == frozenset({KeyUsage.KA})
    assert serial_text(cert.serial_number) == serial
    assert fields["CertificateSubjectAltName"] == eui_text(ESME)


@pytest.mark.asyncio
async def test_http_organisation_search_then_retrieve(client: TestClient) -> None:
    status, _, body = await _post(client, SEARCH_PATH, org_search(SUPPLIER), DCC_BOXED_APIKEY)
    assert status == 200
    (serial,) = _client_picks(body, "DS", "2")
    status, _, body = await _post(client, RETRIEVE_PATH, retrieve_body(serial), DCC_BOXED_APIKEY)
    assert status == 200
    fields = certificate_response(body)
    cert = der_from_body(fields["CertificateBody"])
    info = describe_certificate(cert)
    assert info.subject_eui == SUPPLIER and info.role is RemotePartyRole.SUPPLIER
    assert info.key_usages == frozenset({KeyUsage.DS})
    assert fields["CertificateSubjectName"] == eui_text(SUPPLIER)


@pytest.mark.asyncio
async def test_http_not_found_is_402(client: TestClient) -> None:
    status, _, _ = await _post(client, SEARCH_PATH, device_search(UNKNOWN), DCC_BOXED_APIKEY)
    assert status == 402
    status, _, _ = await _post(client, RETRIEVE_PATH, retrieve_body("AB"), DCC_BOXED_APIKEY)
    assert status == 402


@pytest.mark.asyncio
@pytest.mark.parametrize("apikey", [None, "", "wrong", DCC_BOXED_APIKEY + "x"])
async def test_http_wrong_apikey_is_401(client: TestClient, apikey: str | None) -> None:
    for path, body in ((SEARCH_PATH, org_search(SUPPLIER)), (RETRIEVE_PATH, retrieve_body("1"))):
        status, ctype, text = await _post(client, path, body, apikey)
        assert status == 401
        assert ctype.startswith("text/plain")
        assert text == b"invalid parameters: missing or wrong apikey\n"


@pytest.mark.asyncio
async def test_http_without_configured_apikey_accepts_any(
    directory: CertificateDirectory,
) -> None:
    app = smki_app(directory, apikey=None)
    async with TestClient(TestServer(app, host="127.0.0.1")) as c:
        status, _, _ = await _post(c, SEARCH_PATH, org_search(SUPPLIER), None)
        assert status == 200
        status, _, _ = await _post(c, SEARCH_PATH, org_search(SUPPLIER), "anything")
        assert status == 200


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("path", "body", "why"),
    [
        (SEARCH_PATH, b"<CertificateSearchRequest>", b"not well-formed XML"),
        (RETRIEVE_PATH, b"<!DOCTYPE x><CertificateDataRequest/>", b"DOCTYPE not allowed"),
        (SEARCH_PATH, b"<a>" + b"x" * (4 * MAX_REQUEST_BYTES) + b"</a>", b"exceeds"),
    ],
    ids=["malformed", "doctype", "too-large"],
)
async def test_http_bad_body_is_401_one_line(
    client: TestClient, path: str, body: bytes, why: bytes
) -> None:
    status, ctype, text = await _post(client, path, body, DCC_BOXED_APIKEY)
    assert status == 401
    assert ctype.startswith("text/plain")
    assert why in text and text.count(b"\n") == 1 and b"Traceback" not in text


@pytest.mark.asyncio
async def test_http_chunked_oversized_body_is_401(client: TestClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(8):
            yield b"y" * MAX_REQUEST_BYTES

    params = {"apikey": DCC_BOXED_APIKEY}
    async with client.post(SEARCH_PATH, data=chunks(), params=params) as resp:
        assert resp.status == 401
        assert b"exceeds" in await resp.read()


@pytest.mark.asyncio
async def test_http_get_is_not_allowed(client: TestClient) -> None:
    async with client.get(SEARCH_PATH, params={"apikey": DCC_BOXED_APIKEY}) as resp:
        assert resp.status == 405


# --- the emulator's own material ----------------------------------------------------------


def test_emulated_device_certificate_is_found(tmp_path: Path) -> None:
    """A device certificate as the runtime issues it (CS02e) is searchable and retrievable."""
    pki_dir = ensure_pki(tmp_path)
    own = derive_own_keys(b"smki test seed", ESME)
    certs = DeviceCertificates(pki_dir)
    ders = [certs.certificate(ESME, u, key.public_key()) for u, key in _own_pairs(own)]
    assert None not in ders
    store = KeyStore(pki_dir)
    directory = CertificateDirectory(
        [*CertificateDirectory.from_keystore(store), *CertificateDirectory.from_certificates(ders)]
    )
    found = results(handle_search(directory, device_search(ESME, _usage("DS"))))
    (serial,) = [r["CertificateSerial"] for r in found]
    fields = certificate_response(handle_retrieve(directory, retrieve_body(serial)).body)
    cert = der_from_body(fields["CertificateBody"])
    assert cert.public_key() == own.ds.public_key()
    assert describe_certificate(cert).hardware_serial == ESME
    # the runtime PKI's organisations are served beside it, each with its role number
    supplier = DEFAULT_ORGANISATION_EUIS[RemotePartyRole.SUPPLIER]
    roles = {r["CertificateRole"] for r in results(handle_search(directory, org_search(supplier)))}
    assert roles == {"2"}


def _own_pairs(own: OwnKeys) -> list[tuple[KeyUsage, ec.EllipticCurvePrivateKey]]:
    return [(KeyUsage.DS, own.ds), (KeyUsage.KA, own.ka)]
