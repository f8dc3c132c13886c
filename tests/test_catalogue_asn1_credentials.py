"""The ASN.1 credential use cases described as data (descriptions/asn1.toml): CS03C,
CS02a/CS02f and the credential replacements CS02b@0x0102..0x0109, CS02g@0x0125/0x0126,
sent with named arguments to the emulated devices of a served site whose PKI issues the
certificates."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from devices.credentials import MODE_BY_CODE
from emulator.headend import usecases
from emulator.headend.catalogue.asn1_args import explain_asn1
from emulator.headend.catalogue.described import descriptions, explain_named
from emulator.headend.usecases import BuildContext, UseCaseError
from keys.pki import issue_device_keys, issue_organisation_keys
from keys.roles import KeyUsage, RemotePartyRole
from tests.devkit import SUPPLIER, T0, _authorities
from tests.test_headend import ESME, GSME, Env, _env

R = RemotePartyRole
CTX = BuildContext(0x1234, bytes(8), bytes(8), R.SUPPLIER, datetime.now(UTC))
REPLACEMENTS = {
    **{f"CS02B@0X{c:04X}": c for c in range(0x0102, 0x010A)},
    "CS02G@0X0125": 0x0125,
    "CS02G@0X0126": 0x0126,
}
PPMID = bytes.fromhex("00DB1234567890B4")


def _der(cert: x509.Certificate) -> str:
    return cert.public_bytes(Encoding.DER).hex().upper()


def _public(cert: x509.Certificate | str) -> bytes:
    if isinstance(cert, str):
        cert = x509.load_der_x509_certificate(bytes.fromhex(cert))
    return cert.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


def _supplier_certificate(usage: KeyUsage) -> str:
    """A new Supplier certificate issued by the served site's organisation CA."""
    (k,) = issue_organisation_keys(_authorities(), R.SUPPLIER, SUPPLIER, now=T0, usages=(usage,))
    return _der(k.certificate)


def _path() -> list[str]:
    return [_der(_authorities().organisation.certificate)]


def _cell(role: str, usage: str) -> dict[str, Any]:
    return {"remote_party_role": role, "key_usage": usage}


def _statuses(values: dict[str, Any]) -> list[int]:
    return [o["children"][1]["value"] for o in values["replacement_outcomes"]]


async def _replace(e: Env, certificate: str, cell: dict[str, Any], **kw: Any) -> Any:
    return await e.request(
        ESME,
        "CS02b@0x0102",
        authorising_remote_party_seq_number=kw.pop("seq", 7000),
        replacement_certificates=[{"certificate": certificate, "target_trust_anchor_cell": cell}],
        certification_path_certificates=_path(),
        **kw,
    )


# --------------------------------------------------------------------------- shape


def test_every_credential_use_case_is_described_with_its_mode_fixed() -> None:
    descs = descriptions()
    for key, code in REPLACEMENTS.items():
        desc = descs[key]
        assert usecases.get(key).message_code == code
        control = desc.template["authorising_remote_party_control"]
        names = [p.name for p in desc.params]
        assert "authorising_remote_party_seq_number" in names
        assert "certification_path_certificates" in names and "execution_date_time" in names
        # The mode is not a parameter: the message code fixes it.
        assert "credentials_replacement_mode" not in names
        assert control["credentials_replacement_mode"] == MODE_BY_CODE[code].name.lower()
        # Only a signed mode names the authorising cell (ACB: its MAC; contingency: the
        # contingency key, which the plaintext symmetric key unlocks).
        signed = code not in (0x0104, 0x0109)
        assert ("authorising_remote_party_ta_cell_identifier" in control) is signed
        assert ("plaintext_symmetric_key" in names) is (code == 0x0109)
    for key in ("CS02A", "CS02F", "CS03C"):
        assert key in descs
    # DUIS names where DUIS has the request element.
    assert {"remote_party_floor_seq_number", "replacement_certificates"} <= {
        p.name for p in descs["CS02B@0X0102"].params
    }
    assert "acb_floor_seq_number" in {p.name for p in descs["CS02B@0X0104"].params}
    cos = {p.name for p in descs["CS02B@0X0107"].params}
    assert {"supplier_floor_seq_number", "supplier_replacement_certificates"} <= cos


def test_a_wrong_mode_cannot_be_given_and_bad_values_are_refused() -> None:
    entry = usecases.get("CS02b@0x0102")
    with pytest.raises(UseCaseError, match="credentials_replacement_mode"):
        entry.parse_args({"credentials_replacement_mode": "acb_by_acb"})
    with pytest.raises(UseCaseError, match=r"item 0: 'zz' is not octets as hex"):
        entry.convert_arg("certification_path_certificates", ["zz"])
    with pytest.raises(UseCaseError, match="apply, disapply"):
        entry.convert_arg("apply_time_based_cpv_checks", "sometimes")
    roles = usecases.get("CS02a")
    with pytest.raises(UseCaseError, match=r"0 items: expected a list of 1\.\.8 items"):
        roles.convert_arg("remote_party_role", [])


def test_optional_fields_are_left_out_unless_given_and_read_back() -> None:
    desc = descriptions()["CS02B@0X0102"]
    entry = usecases.get("CS02b@0x0102")
    base = {
        "authorising_remote_party_seq_number": 5,
        "replacement_certificates": [
            {
                "certificate": _supplier_certificate(KeyUsage.DS),
                "target_trust_anchor_cell": _cell("supplier", "digital_signature"),
            }
        ],
        "certification_path_certificates": _path(),
    }
    bare = explain_asn1(entry.payload(base, CTX), entry.message_code)
    control = bare["authorising_remote_party_control"]
    assert control["apply_time_based_cpv_checks"] is None
    assert control["new_remote_party_floor_seq_number"] is None
    assert bare["execution_date_time"] is None
    named = explain_named(desc, bare)
    assert named is not None and "execution_date_time" not in named
    assert "remote_party_floor_seq_number" not in named
    full = {
        **base,
        "execution_date_time": "2030-01-15T00:00:00Z",
        "remote_party_floor_seq_number": 3,
        "apply_time_based_cpv_checks": "disapply",
    }
    dated = explain_asn1(entry.payload(full, CTX), entry.message_code)
    assert dated["execution_date_time"] == "2030-01-15T00:00:00Z"
    assert dated["authorising_remote_party_control"]["new_remote_party_floor_seq_number"] == 3
    back = explain_named(desc, dated)
    assert back is not None
    assert back["execution_date_time"] == "2030-01-15T00:00:00Z"
    assert back["apply_time_based_cpv_checks"] == "disapply"


# --------------------------------------------------------------------------- devices


def test_supplier_replaces_its_signing_certificate_on_the_esme() -> None:
    async def run() -> None:
        async with _env() as e:
            new = _supplier_certificate(KeyUsage.DS)
            r = await _replace(e, new, _cell("supplier", "digital_signature"))
            assert r.values["ok"] is True
            assert r.values["credentials_replacement_mode"] == "supplier_by_supplier"
            assert r.values["authorising_remote_party_seq_number"] == 7000
            assert _statuses(r.values) == [0]
            cell = e.esme.anchors.cell(R.SUPPLIER)
            assert cell is not None and cell.ds is not None
            assert cell.ds.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo) == _public(
                new
            )

    asyncio.run(run())


def test_a_refused_replacement_changes_nothing() -> None:
    async def run() -> None:
        async with _env() as e:
            before = e.esme.anchors.cell(R.SUPPLIER)
            assert before is not None and before.ds is not None
            ds_before = before.ds.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            # A key agreement certificate never lands in a digital signature cell.
            ka = _supplier_certificate(KeyUsage.KA)
            r = await _replace(e, ka, _cell("supplier", "digital_signature"))
            assert _statuses(r.values) == [5]  # bad certificate
            assert r.values["remote_party_seq_number_changes"] == []  # nothing applied
            after = e.esme.anchors.cell(R.SUPPLIER)
            assert after is not None and after.ds is not None
            ds_after = after.ds.public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
            assert ds_after == ds_before

    asyncio.run(run())


def test_a_future_dated_replacement_is_accepted_without_an_outcome() -> None:
    async def run() -> None:
        async with _env() as e:
            new = _supplier_certificate(KeyUsage.DS)
            r = await _replace(
                e,
                new,
                _cell("supplier", "digital_signature"),
                execution_date_time="2030-01-15T00:00:00Z",
            )
            assert r.values == {"ok": True}  # its outcome comes later, in an alert
            assert e.esme.credentials.pending_updates

    asyncio.run(run())


def test_cs02a_reads_the_details_of_the_roles_asked_for() -> None:
    async def run() -> None:
        async with _env() as e:
            r = await e.request(
                ESME,
                "CS02a",
                remote_party_role="supplier, network_operator",
                authorising_remote_party_role="supplier",
                authorising_key_usage="digital_signature",
            )
            details = r.values["remote_party_details"]
            roles = [d["children"][0]["value"] for d in details]
            statuses = [d["children"][1]["value"] for d in details]
            assert roles == [int(R.SUPPLIER), int(R.NETWORK_OPERATOR)]
            assert statuses == [0, 0]

    asyncio.run(run())


def test_cs03c_without_a_certificate_is_refused_and_reads_back_as_not_given() -> None:
    desc = descriptions()["CS03C"]
    entry = usecases.get("CS03C")
    args = {"other_device_id": PPMID.hex(), "other_device_type": "ppmid"}
    structural = explain_asn1(entry.payload(args, CTX), entry.message_code)
    assert structural["certificate"] is None
    assert explain_named(desc, structural) == {
        "other_device_id": PPMID.hex().upper(),
        "other_device_type": "ppmid",
    }

    async def run() -> None:
        async with _env() as e:
            r = await e.request(GSME, "CS03C", **args)
            assert r.values["response_code"] == "invalid_or_missing_certificate"
            (_, ka) = issue_device_keys(_authorities(), PPMID, now=T0)
            assert ka.usage is KeyUsage.KA
            joined = await e.request(
                GSME, "CS03C", **args, other_device_certificate=_der(ka.certificate)
            )
            assert joined.values["response_code"] == "success"

    asyncio.run(run())


@pytest.mark.interop
def test_rtds_credential_commands_explain_to_named_arguments() -> None:
    from emulator.headend.catalogue.frames import explain_frame
    from tests.interop import interop_dir, vectors

    if interop_dir() is None:
        pytest.skip("needs ../shared/interop (GBCS_INTEROP_DIR) for the RTDS commands")
    descs = descriptions()
    matched = 0
    for v in vectors():
        name = (v.get("use_case") or "").split()[0].upper() if v.get("use_case") else ""
        if v["direction"] != "command" or v["form"] == "malformed":
            continue
        code = int(v["message_code"], 16)
        key = next((k for k, c in REPLACEMENTS.items() if c == code), name)
        if key not in descs or not key.startswith(("CS02", "CS03C")):
            continue
        frame = explain_frame(bytes.fromhex(v["hex"]))
        named = explain_named(descs[key], frame["args"])
        assert named is not None, v["id"]
        if key.startswith(("CS02B", "CS02G")):  # GBCS: the command's originator counter
            assert named["authorising_remote_party_seq_number"] == frame["header"]["counter"]
        matched += 1
    assert matched >= 23
