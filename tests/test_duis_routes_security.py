"""Security, HAN and CHF SRVs (emulator.duis.routes_security): typed bodies, the values
that reach the GBCS, the refusals, and the RTDS templates the generic pair tests of
tests/test_duis_transform.py cannot judge (version skew, device future-dating)."""

from __future__ import annotations

import base64
import functools
import json
import os
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the DUIS model needs lxml (the duis extra)")

from emulator.duis import model, routes_security, routing, tables, transform
from emulator.duis.bodies import SR_NS, Body
from emulator.duis.model import Request, RequestHeader, RequestId
from emulator.duis.routes_security import (
    ActivateFirmware,
    JoinOrUnjoinDevice,
    ReadChfSubGhzChannelLog,
    ReadDeviceLog,
    ReplacementCertificates,
    SubGhzConfiguration,
    UpdateHanDeviceLog,
    UpdateSecurityCredentialsCos,
    UpdateSecurityCredentialsKrp,
)
from emulator.duis.transform import Refusal, Transformed
from emulator.headend import usecases
from emulator.headend.catalogue.frames import explain_frame
from emulator.headend.usecases import BuildContext
from gbcs.codec import build, decode
from gbcs.envelope import (
    Cra,
    Envelope,
    GroupingHeader,
    OtherInformation,
    SignatureForm,
)
from gbcs.security import DEFAULT_ACB, Verdict, check_mac, check_signature
from keys.roles import KeyUsage
from keys.store import KeyStore
from tests import duiskit, interop

USER = "90-B3-D5-1F-30-01-00-00"
ESME = "00-DB-12-34-56-78-90-A0"
GSME = "00-DB-12-34-56-78-90-A1"
CHF = "00-DB-12-34-56-78-90-A2"
GPF = "00-DB-12-34-56-78-90-A3"
TCOS = bytes.fromhex("90B3D51F30000004")
NOW = datetime(2026, 1, 1, tzinfo=UTC)

_INVENTORY = "Smart Metering Inventory"

# Templates the transform refuses, and the words of the refusal. The CHF commands and
# the non-critical joins/unjoins via the ACB carry the user as Supplementary Remote
# Party in the header, which the transform does not write; CS02a/CS02f and 8.5 from the
# ACB are MAC'd only, but the transform signs them; the rest need values of the DCC's
# inventory (another device's type or certificate, an old device's log backup).
RTDS_EXCEPTIONS: dict[str, str] = {
    "CCS01_8.11_SUCCESS_REQUEST_DUIS.XML": _INVENTORY,
    "CCS03_8.12.1_SUCCESS_REQUEST_DUIS.XML": "backup of the old CHF's device log",
    "CCS05CCS04_8.9_SUCCESS_REQUEST_DUIS.XML": "depends on its GBCS version",
    "CCS06_8.9_SUCCESS_REQUEST_DUIS.XML": "depends on its GBCS version",
    "CS03A1_8.7.1_SUCCESS_REQUEST_DUIS.XML": _INVENTORY,
    "CS03CCritical_8.7.1_SUCCESS_REQUEST_DUIS.XML": _INVENTORY,
    "GCS59_8.12.2_SUCCESS_REQUEST_DUIS.XML": "backup of the old GPF's device log",
    # RTDS sends these to a PPMID or an HCALCS, which are not emulated
    "CS03A2Critical_8.7.1_SUCCESS_REQUEST_DUIS.XML": "'HCALCS' is not emulated",
    "CS03A2NonCritical_8.7.2_SUCCESS_REQUEST_DUIS.XML": "'PPMID' is not emulated",
    "CS03CNonCritical_8.7.2_SUCCESS_REQUEST_DUIS.XML": "'PPMID' is not emulated",
    "CS04ACNonCritical_8.8.2_SUCCESS_REQUEST_DUIS.XML": "'PPMID' is not emulated",
}

# The DCC's own counter in the GBCS it originates (the ACB's, or the Transitional CoS
# party's), as the RTDS vector of each template has it. The two future-dated 6.23
# templates have no RTDS vector: any counter of the TCoS party above the immediate one's.
RTDS_DCC_COUNTER: dict[str, int] = {
    "CS02bNOByNOHandover_6.21_SUCCESS_REQUEST_DUIS.XML": 1301,
    "CS02bSupplierBySupplierHandover_6.21_SUCCESS_REQUEST_DUIS.XML": 1300,
    "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML": 6001,
    "CS02bSupplierByTransCoS_6.23_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML": 6002,
    "CS02bSupplierByTransCoS_6.23_CANCELLATION_SUCCESS_REQUEST_DUIS.XML": 6003,
    "CS02bACBByACB_8.5_SUCCESS_REQUEST_DUIS.XML": 1300,
    "CS02aMAC_6.24.1_SUCCESS_REQUEST_DUIS.XML": 1302,
    "CS02fMAC_6.24.1_SUCCESS_REQUEST_DUIS.XML": 1302,
    "CCS01_8.11_SUCCESS_REQUEST_DUIS.XML": 1302,
    "CCS02_8.11_SUCCESS_REQUEST_DUIS.XML": 1302,
    "CCS03_8.12.1_SUCCESS_REQUEST_DUIS.XML": 1302,
    "CCS05CCS04_8.9_SUCCESS_REQUEST_DUIS.XML": 1300,
    "CCS06_8.9_SUCCESS_REQUEST_DUIS.XML": 1300,
    "CCS07_8.9_SUCCESS_REQUEST_DUIS.XML": 1300,
    "DBCH01_6.31_SUCCESS_REQUEST_DUIS.XML": 1300,
    "DBCH02_6.32_SUCCESS_REQUEST_DUIS.XML": 1301,
    "DBCH03_6.30_SUCCESS_REQUEST_DUIS.XML": 1300,
    "DBCH04_6.28_SUCCESS_REQUEST_DUIS.XML": 1300,
    "DBCH05_6.29_SUCCESS_REQUEST_DUIS.XML": 1300,
    "GCS59_8.12.2_SUCCESS_REQUEST_DUIS.XML": 1300,
}

# Paired templates transformed by the rules whose GBCS differs from RTDS's only where
# the two RTDS versions differ: the 4.9.1 templates carry re-issued certificates (valid
# 2025-2035) where the 4.5.0 vectors carry the 2015/2016 ones; the DCC's own signature
# (6.21, 6.23) is a fresh ECDSA signature. Compared below with the certificates (and
# signature) set aside.
RTDS_DIFFERENT: dict[str, str] = {
    "CS02bNOByNO_6.15.1_SUCCESS_REQUEST_DUIS.XML": "certificates",
    "CS02bSupplierBySupplier_6.15.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML": "certificates",
    "CS02gLoadControllerBySupplier_6.15.1_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML": "certificates",
    "CS02bNOByNOHandover_6.21_SUCCESS_REQUEST_DUIS.XML": "certificates, ACB signature",
    "CS02bSupplierBySupplierHandover_6.21_SUCCESS_REQUEST_DUIS.XML": (
        "certificates, ACB signature"
    ),
    "CS02bSupplierByTransCoS_6.23_IMMEDIATE_SUCCESS_REQUEST_DUIS.XML": (
        "certificates, TCoS signature"
    ),
    "CS02bACBByACB_8.5_SUCCESS_REQUEST_DUIS.XML": "certificates",
}


# --- requests built in code -------------------------------------------------------------


def _body(name: str, inner: str = "") -> Body:
    return Body(name, f'<sr:{name} xmlns:sr="{SR_NS}">{inner}</sr:{name}>'.encode())


def _request(
    variant: str, body: Body, *, cv: int | None = None, target: str = ESME, counter: int = 4242
) -> Request:
    srv = tables.srv(variant)
    assert srv is not None
    ref = srv.reference
    rid = RequestId.parse(f"{USER}:{target}:{counter}")
    cv = cv if cv is not None else (4 if srv.critical else 1)
    return Request(RequestHeader(rid, cv, ref, variant), body)


def _fresh_keys(device: str = ESME, *, ds: tuple[bytes, ...] = ()) -> KeyStore:
    store = KeyStore()
    for eui in (DEFAULT_ACB, bytes.fromhex(device.replace("-", ""))):
        store.add(eui, KeyUsage.KA, private_key=ec.generate_private_key(ec.SECP256R1()))
    for eui in ds:
        store.add(eui, KeyUsage.DS, private_key=ec.generate_private_key(ec.SECP256R1()))
    return store


def _der(n: int) -> bytes:
    """A small DER value standing for a certificate (the GBCS carries it as it is)."""
    return bytes([0x30, 0x06, 0x02, 0x04, 0x01, n, os.urandom(1)[0], 0x55])


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _el(name: str, value: str) -> str:
    return f"<sr:{name}>{value}</sr:{name}>"


def _certs(**certs: bytes) -> str:
    names = {
        "ds": "DigitalSigningCertificate",
        "ka": "KeyAgreementCertificate",
        "top": "KeyAgreementTopUpCertificate",
    }
    return "".join(_el(names[k], _b64(v)) for k, v in certs.items())


def _path(*certs: bytes) -> str:
    return _el("CertificationPathCertificates", "".join(_el("Certificate", _b64(c)) for c in certs))


def _krp_body(
    role: str, *, when: str = "", floors: str = "", certs: str, path: str, cpv: str
) -> Body:
    inner = (
        (_el("ExecutionDateTime", when) if when else "")
        + _el("RemotePartyRole", role)
        + floors
        + _el("ReplacementCertificates", _el("SupplierOrNetworkOperatorCertificates", certs))
        + path
        + _el("ApplyTimeBasedCPVChecks", cpv)
    )
    return _body("UpdateSecurityCredentialsKRP", inner)


def _cell(role: str, usage: str, cell_usage: str | None = None) -> dict[str, Any]:
    return {"remote_party_role": role, "key_usage": usage, "cell_usage": cell_usage}


def _floors(role: str, floor: int, specialist: Any) -> dict[str, Any]:
    return {
        "remote_party_role": role,
        "floor_seq_number": floor,
        "specialist_floor_seq_number": specialist,
    }


def _ok(request: Request, device: str, keys: KeyStore | None = None, **kw: Any) -> Transformed:
    result = transform.transform(
        request, target_type=device, keys=keys or _fresh_keys(), now=NOW, **kw
    )
    assert isinstance(result, Transformed), result
    return result


def _refused(request: Request, device: str, **kw: Any) -> Refusal:
    result = transform.transform(request, target_type=device, keys=_fresh_keys(), now=NOW, **kw)
    assert isinstance(result, Refusal), result
    assert "\n" not in result.line()
    return result


def _args(result: Transformed) -> dict[str, Any]:
    """The structural arguments of the GBCS built (decoded from its bytes)."""
    return explain_frame(result.gbcs)["args"]


def _typed(body: Body) -> Any:
    route = transform.ROUTES[_variant_of(body.name)]
    return route.parse(body.element())


def _variant_of(element: str) -> str:
    return next(v for v, r in transform.ROUTES.items() if r.body == element)


# --- 6.15.1 Update Security Credentials (KRP) --------------------------------------------

DS1, KA1, TOP1, CA1 = _der(1), _der(2), _der(3), _der(4)
KRP_SUPPLIER = _krp_body(
    "Supplier",
    floors=_el("RemotePartyFloorSeqNumber", "7")
    + _el("RemotePartyPrepaymentTopUpFloorSeqNumber", "9"),
    certs=_certs(ds=DS1, ka=KA1, top=TOP1),
    path=_path(CA1),
    cpv="false",
)


def test_krp_body_parses_into_its_typed_body() -> None:
    typed = _typed(KRP_SUPPLIER)
    assert typed == UpdateSecurityCredentialsKrp(
        remote_party_role="Supplier",
        replacement_certificates=ReplacementCertificates(DS1, KA1, TOP1),
        certification_path_certificates=(CA1,),
        apply_time_based_cpv_checks=False,
        remote_party_floor_seq_number=7,
        remote_party_prepayment_top_up_floor_seq_number=9,
    )


def test_supplier_krp_is_the_cs02b_supplier_by_supplier_pre_command() -> None:
    result = _ok(_request("6.15.1", KRP_SUPPLIER, counter=77), "ESME", KeyStore())
    assert (result.use_case, result.message_code, result.pre_command) == ("CS02b", 0x0102, True)
    args = _args(result)
    control = args["authorising_remote_party_control"]
    assert control["credentials_replacement_mode"] == "supplier_by_supplier"
    assert control["apply_time_based_cpv_checks"] == "disapply"
    assert control["authorising_remote_party_seq_number"] == 77  # the request's counter
    assert control["new_remote_party_floor_seq_number"] == 7
    assert control["new_remote_party_specialist_floor_seq_number"] == [
        {"seq_number_usage": "prepayment_top_up", "seq_number": 9}
    ]
    cells = [(r["certificate"], r["target_trust_anchor_cell"]) for r in args["replacements"]]
    assert cells == [
        (DS1.hex().upper(), _cell("supplier", "digital_signature")),
        (KA1.hex().upper(), _cell("supplier", "key_agreement")),
        (TOP1.hex().upper(), _cell("supplier", "key_agreement", "prepayment_top_up")),
    ]
    assert args["certification_path_certificates"] == [CA1.hex().upper()]
    assert args["execution_date_time"] is None and result.send_at is None


def test_network_operator_krp_is_0x0103_and_applies_cpv_checks_by_leaving_them_out() -> None:
    body = _krp_body("NetworkOperator", certs=_certs(ka=KA1), path=_path(CA1, DS1), cpv="true")
    result = _ok(_request("6.15.1", body), "GPF", KeyStore())
    assert result.message_code == 0x0103
    control = _args(result)["authorising_remote_party_control"]
    assert control["credentials_replacement_mode"] == "network_operator_by_network_operator"
    assert control["apply_time_based_cpv_checks"] is None
    assert control["new_remote_party_floor_seq_number"] is None
    assert len(_args(result)["certification_path_certificates"]) == 2


def test_load_controller_krp_is_cs02g_and_its_floor_is_another_partys() -> None:
    body = _krp_body(
        "LoadController",
        floors=_el("RemotePartyFloorSeqNumber", "3"),
        certs=_certs(ds=DS1, ka=KA1),
        path=_path(CA1),
        cpv="true",
    )
    result = _ok(_request("6.15.1", body), "ESME", KeyStore())
    assert (result.use_case, result.message_code) == ("CS02g", 0x0126)
    args = _args(result)
    control = args["authorising_remote_party_control"]
    changes = control["other_remote_party_seq_number_changes"]
    assert changes == [_floors("load_controller", 3, None)]
    assert {r["target_trust_anchor_cell"]["remote_party_role"] for r in args["replacements"]} == {
        "load_controller"
    }
    refused = _refused(_request("6.15.1", body), "GPF")
    assert "only an ESME holds a Load Controller trust anchor" in refused.reason


def test_a_future_dated_krp_carries_its_execution_time_in_the_gbcs() -> None:
    body = _krp_body(
        "Supplier", when="2030-01-15T00:00:00Z", certs=_certs(ds=DS1), path=_path(CA1), cpv="true"
    )
    result = _ok(_request("6.15.1", body), "ESME", KeyStore())
    assert result.send_at is None  # the device holds it, not the DSP
    assert _args(result)["execution_date_time"] == "2030-01-15T00:00:00Z"


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_krp_body("Root", certs=_certs(ds=DS1), path=_path(CA1), cpv="true"),
         "RemotePartyRole Root: SRV 6.15.1 replaces"),
        (_krp_body("Friend", certs=_certs(ds=DS1), path=_path(CA1), cpv="true"),
         "UpdateSecurityCredentialsKRP/RemotePartyRole: 'Friend' is not one of"),
        (_krp_body("NetworkOperator", certs=_certs(top=TOP1), path=_path(CA1), cpv="true"),
         "a Network Operator has no prepayment top-up trust anchor"),
        (_krp_body("Supplier", certs="", path=_path(CA1), cpv="true"),
         "SupplierOrNetworkOperatorCertificates: no certificate"),
        (_krp_body("Supplier", certs=_certs(ds=DS1), path=_path(CA1, CA1, CA1, CA1), cpv="true"),
         "4 Certificate, at most 3"),
        (_krp_body("Supplier", certs=_certs(ds=DS1), path="", cpv="true"),
         "no CertificationPathCertificates"),
        (_krp_body("Supplier", certs=_certs(ds=DS1), path=_path(CA1), cpv="maybe"),
         "ApplyTimeBasedCPVChecks: not a boolean"),
        (_krp_body("Supplier", floors=_el("RemotePartyFloorSeqNumber", "-1"),
                   certs=_certs(ds=DS1), path=_path(CA1), cpv="true"),
         "RemotePartyFloorSeqNumber: -1 is not in 0..9223372036854775807"),
        (_krp_body("Supplier", certs=_el("DigitalSigningCertificate", "%%%"), path=_path(CA1),
                   cpv="true"),
         "DigitalSigningCertificate: not base64"),
    ],
)  # fmt: skip
def test_bad_krp_bodies_are_refused_with_the_reason(body: Body, words: str) -> None:
    refused = _refused(_request("6.15.1", body), "ESME")
    assert words in refused.reason and refused.response_code is None


def test_krp_to_a_chf_is_not_transformed_yet() -> None:
    body = _krp_body("Supplier", certs=_certs(ds=DS1), path=_path(CA1), cpv="true")
    refused = _refused(_request("6.15.1", body, target=CHF), "CHF")
    assert "a CHF holds no Supplier or Network Operator trust anchor" in refused.reason


# --- 6.15.2, 6.17, 6.24.2: the device's own credentials ----------------------------------


def test_device_certificate_reaches_cs02d() -> None:
    cert = _der(9)
    body = _body("UpdateSecurityCredentialsDevice", _el("DeviceCertificate", _b64(cert)))
    result = _ok(_request("6.15.2", body), "ESME", KeyStore())
    assert (result.use_case, result.message_code, result.pre_command) == ("CS02d", 0x000B, True)
    assert _args(result) == {"certificate": cert.hex().upper()}


@pytest.mark.parametrize(
    ("variant", "element", "use_case", "code"),
    [
        ("6.17", "IssueSecurityCredentials", "CS02c", 0x000A),
        ("6.24.2", "RetrieveDeviceSecurityCredentialsDevice", "CS02e", 0x000C),
    ],
)
@pytest.mark.parametrize(
    ("credential", "usage"),
    [("Digital Signature", "digital_signature"), ("Key Agreement", "key_agreement")],
)
def test_credential_type_reaches_the_gbcs(
    variant: str, element: str, use_case: str, code: int, credential: str, usage: str
) -> None:
    body = _body(element, _el("CredentialType", credential))
    assert _typed(body) == routes_security.CredentialRequest(credential)
    result = _ok(_request(variant, body), "ESME", KeyStore())
    assert (result.use_case, result.message_code) == (use_case, code)
    assert _args(result) == {"key_usage": usage}
    bad = _refused(_request(variant, _body(element, _el("CredentialType", "Both"))), "ESME")
    assert f"{element}/CredentialType: 'Both' is not one of" in bad.reason
    missing = _refused(_request(variant, _body(element)), "ESME")
    assert f"{element}: no CredentialType" in missing.reason


# --- 6.21, 6.23, 8.5: what the DCC originates --------------------------------------------


def _handover(role: str, *, when: str = "") -> Body:
    inner = (
        (_el("ExecutionDateTime", when) if when else "")
        + _el("RemotePartyRole", role)
        + _el("RemotePartyFloorSeqNumber", "5")
        + _el("ReplacementCertificates", _certs(ds=DS1, ka=KA1))
        + _path(CA1)
        + _el("ApplyTimeBasedCPVChecks", "true")
    )
    return _body("RequestHandoverOfDCCControlledDevice", inner)


def test_handover_is_cs02b_originated_and_signed_by_the_acb_with_its_counter() -> None:
    keys = _fresh_keys(GPF, ds=(DEFAULT_ACB,))
    later = "2026-02-01T00:00:00Z"
    req = _request("6.21", _handover("NetworkOperator", when=later), target=GPF, counter=11)
    result = _ok(req, "GPF", keys, dcc_counter=900)
    assert (result.message_code, result.originated_by) == (0x0103, routing.ACB)
    assert result.send_at == datetime(2026, 2, 1, tzinfo=UTC)  # held by the DSP
    msg = decode(result.gbcs)
    assert (msg.originator, msg.counter) == (DEFAULT_ACB, 900)
    assert check_signature(msg, keys).verdict is Verdict.VALID
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID
    control = _args(result)["authorising_remote_party_control"]
    assert control["authorising_remote_party_seq_number"] == 900  # the ACB's counter
    assert control["new_remote_party_floor_seq_number"] == 5
    assert "originated by the DCC" in result.summary()


def test_handover_needs_the_dcc_counter_and_the_acb_signing_key() -> None:
    req = _request("6.21", _handover("Supplier"))
    assert "give the DCC's counter" in _refused(req, "ESME").reason
    assert "no DS private key for 90B3D51F30000002" in _refused(req, "ESME", dcc_counter=1).reason


def _cos(*, when: str = "") -> Body:
    inner = (
        (_el("ExecutionDateTime", when) if when else "")
        + _el("SupplierFloorSeqNumber", "4")
        + _el("SupplierPrepaymentTopUpFloorSeqNumber", "6")
        + _el("SupplierReplacementCertificates", _certs(ds=DS1, ka=KA1, top=TOP1))
        + _path(CA1)
        + _el("ApplyTimeBasedCPVChecks", "true")
        + _el("ImportMPxN", "1312345678333")
    )
    return _body("UpdateSecurityCredentialsCoS", inner)


def test_cos_is_cs02b_supplier_by_transcos_from_the_transitional_cos_party() -> None:
    typed = _typed(_cos())
    assert isinstance(typed, UpdateSecurityCredentialsCos)
    assert (typed.import_mpxn, typed.supplier_floor_seq_number) == ("1312345678333", 4)
    keys = _fresh_keys(ds=(TCOS,))
    when = "2030-01-02T00:00:00Z"
    result = _ok(_request("6.23", _cos(when=when)), "ESME", keys, dcc_counter=6100)
    assert (result.message_code, result.originated_by) == (0x0107, routing.TRANSITIONAL_COS)
    msg = decode(result.gbcs)
    assert (msg.originator, msg.counter) == (TCOS, 6100)
    assert check_signature(msg, keys).verdict is Verdict.VALID
    args = _args(result)
    control = args["authorising_remote_party_control"]
    top_up = [{"seq_number_usage": "prepayment_top_up", "seq_number": 6}]
    changes = control["other_remote_party_seq_number_changes"]
    assert changes == [_floors("supplier", 4, top_up)]
    # 'DSP & Device': sent at once, the device told when to execute it
    assert result.send_at is None
    assert args["execution_date_time"] == "2030-01-02T00:00:00Z"
    missing = _refused(_request("6.23", _body("UpdateSecurityCredentialsCoS")), "ESME")
    assert "UpdateSecurityCredentialsCoS: no SupplierReplacementCertificates" in missing.reason


def _opt_out(*, when: bool = True) -> Body:
    inner = (
        (_el("ExecutionDateTime", "2026-03-01T00:00:00Z") if when else "")
        + _el("ACBFloorSeqNumber", "2")
        + _el("ReplacementCertificates", _certs(ka=KA1))
        + _path(CA1)
        + _el("ApplyTimeBasedCPVChecks", "false")
    )
    return _body("ServiceOptOut", inner)


def test_opt_out_to_a_chf_is_the_acbs_signed_cs02b_held_until_its_time() -> None:
    keys = _fresh_keys(CHF, ds=(DEFAULT_ACB,))
    result = _ok(_request("8.5", _opt_out(), target=CHF), "CHF", keys, dcc_counter=31)
    assert (result.message_code, result.originated_by) == (0x0104, routing.ACB)
    assert result.send_at == datetime(2026, 3, 1, tzinfo=UTC)
    assert check_signature(decode(result.gbcs), keys).verdict is Verdict.VALID
    args = _args(result)
    control = args["authorising_remote_party_control"]
    assert (
        control["new_remote_party_floor_seq_number"],
        control["apply_time_based_cpv_checks"],
    ) == (
        2,
        "disapply",
    )
    assert args["replacements"][0]["target_trust_anchor_cell"]["remote_party_role"] == (
        "access_control_broker"
    )


def _mac_only_by_the_acb(result: Transformed, keys: KeyStore) -> None:
    """GBCS the ACB sends MAC'd only: a null signature, a valid MAC, no SRP."""
    msg = decode(result.gbcs)
    assert (msg.originator, msg.counter, result.originated_by) == (DEFAULT_ACB, 1, "acb")
    assert msg.signature_form is SignatureForm.NULL and msg.header.other.srp_id is None
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


def test_opt_out_elsewhere_is_macd_only_and_its_time_is_mandatory() -> None:
    keys = _fresh_keys()
    made = _ok(_request("8.5", _opt_out()), "ESME", keys, dcc_counter=1)
    _mac_only_by_the_acb(made, keys)
    missing = _refused(_request("8.5", _opt_out(when=False), target=CHF), "CHF")
    assert "ServiceOptOut: no ExecutionDateTime" in missing.reason


def test_retrieve_krp_plans_cs02a_or_cs02f_by_the_roles_macd_only() -> None:
    def plan(roles: list[str]) -> routing.Plan:
        body = _body(
            "RetrieveDeviceSecurityCredentialsKRP",
            "".join(_el("RemotePartyRole", r) for r in roles),
        )
        srv = tables.srv("6.24.1")
        assert srv is not None
        p = routing.PlanInput(_typed(body), _request("6.24.1", body), srv, "ESME", NOW)
        return routes_security.plan_retrieve_krp(p)

    a = plan(["Supplier", "NetworkOperator", "Supplier"])
    assert (a.use_case, a.originator) == ("CS02a", routing.ACB)
    assert _built(a, ESME, "ESME") == {
        "authorising_remote_party_ta_cell_identifier": _cell(
            "access_control_broker", "key_agreement"
        ),
        "remote_party_roles_credentials_required": ["supplier", "network_operator"],
    }
    f = plan(["LoadController"])
    assert f.use_case == "CS02f"
    assert _built(f, ESME, "ESME")["remote_party_roles_credentials_required"] == ["load_controller"]
    body = _body("RetrieveDeviceSecurityCredentialsKRP", _el("RemotePartyRole", "Supplier"))
    keys = _fresh_keys()
    _mac_only_by_the_acb(_ok(_request("6.24.1", body), "ESME", keys, dcc_counter=1), keys)
    eight = "".join(_el("RemotePartyRole", "Root") for _ in range(8))
    bad = _refused(_request("6.24.1", _body("RetrieveDeviceSecurityCredentialsKRP", eight)), "ESME")
    assert "8 RemotePartyRole, at most 7" in bad.reason


# --- 8.7, 8.8: joins and unjoins ----------------------------------------------------------

OTHER = "00-DB-12-34-56-78-90-9C"


def _join(element: str, other: str = OTHER) -> Body:
    return _body(element, _el("OtherDeviceID", other))


def test_join_body_parses_into_its_typed_body() -> None:
    typed = _typed(_join("JoinServiceNonCritical"))
    assert typed == JoinOrUnjoinDevice(bytes.fromhex("00DB12345678909C"))


def test_method_b_join_to_a_gsme_joins_a_gpf() -> None:
    result = _ok(
        _request("8.7.2", _join("JoinServiceNonCritical"), target=GSME), "GSME", _fresh_keys(GSME)
    )
    assert (result.use_case, result.message_code, result.pre_command) == ("CS03B", 0x000E, False)
    assert _args(result) == {
        "join_method_and_role": "method_b",
        "entity_id": "00DB12345678909C",
        "device_type": "gpf",
        "certificate": None,
    }


@pytest.mark.parametrize(
    ("variant", "element", "device", "target", "use_case", "code", "critical"),
    [
        ("8.8.1", "UnjoinServiceCritical", "ESME", ESME, "CS04AC", 0x000F, True),
        ("8.8.2", "UnjoinServiceNonCritical", "GSME", GSME, "CS04B", 0x0010, False),
    ],
)
def test_unjoin_names_the_other_device(
    variant: str, element: str, device: str, target: str, use_case: str, code: int, critical: bool
) -> None:
    result = _ok(_request(variant, _join(element), target=target), device, _fresh_keys(target))
    assert (result.use_case, result.message_code, result.pre_command) == (use_case, code, critical)
    assert _args(result) == {"entity_id": "00DB12345678909C"}


@pytest.mark.parametrize(
    ("device", "target", "words"),
    [
        ("ESME", ESME, "CS03A1: the DCC's Smart Metering Inventory holds the other device's type;"),
        (
            "GSME",
            GSME,
            "Inventory holds the other device's type and certificate; the request carries",
        ),
    ],
)
def test_critical_join_needs_what_only_the_inventory_holds(
    device: str, target: str, words: str
) -> None:
    assert (
        words
        in _refused(_request("8.7.1", _join("JoinServiceCritical"), target=target), device).reason
    )


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (_join("JoinServiceNonCritical", "00DB12345678909C"), "OtherDeviceID: not an EUI"),
        (_join("JoinServiceNonCritical", "00-DB-12-34"), "OtherDeviceID: not an EUI"),
        (_body("JoinServiceNonCritical"), "JoinServiceNonCritical: no OtherDeviceID"),
        (_body("JoinServiceNonCritical", _el("OtherDeviceID", OTHER) + "<sr:X/>"),
         "JoinServiceNonCritical: unexpected X"),
    ],
)  # fmt: skip
def test_bad_join_bodies_are_refused(body: Body, words: str) -> None:
    assert words in _refused(_request("8.7.2", body, target=GSME), "GSME").reason


def test_unjoin_to_an_esme_without_a_rule_is_not_yet() -> None:
    refused = _refused(_request("8.8.2", _join("UnjoinServiceNonCritical")), "ESME")
    assert "no rule here picks its GBCS" in refused.reason


# --- 8.9, 8.12.2, 11.3 ----------------------------------------------------------------------


def test_read_device_log_of_a_gsme_is_cs07_held_by_the_dsp() -> None:
    when = "2026-04-01T12:00:00Z"
    body = _body("ReadDeviceLog", _el("ExecutionDateTime", when))
    assert _typed(body) == ReadDeviceLog(False, datetime(2026, 4, 1, 12, tzinfo=UTC))
    result = _ok(_request("8.9", body, target=GSME), "GSME", _fresh_keys(GSME))
    assert (result.use_case, result.message_code) == ("CS07", 0x0013)
    assert result.send_at == datetime(2026, 4, 1, 12, tzinfo=UTC)
    security = _body("ReadDeviceLog", "<sr:ReadSecurityDetails/>")
    assert _typed(security) == ReadDeviceLog(True)
    assert (
        "reads a CHF's device logs"
        in _refused(_request("8.9", security, target=GSME), "GSME").reason
    )


def test_restore_gpf_log_needs_the_dccs_backup() -> None:
    body = _body("RestoreGPFDeviceLog", _el("OldGPFID", "00-DB-12-34-56-78-90-B3"))
    assert _typed(body) == routes_security.RestoreDeviceLog(bytes.fromhex("00DB1234567890B3"))
    refused = _refused(_request("8.12.2", body, target=GPF), "GPF")
    assert "backup of the old GPF's device log" in refused.reason


HASH = bytes(range(32))


def test_activate_firmware_carries_the_hash_and_the_device_execution_time() -> None:
    now = _body("ActivateFirmware", _el("FirmwareHash", HASH.hex()))
    result = _ok(_request("11.3", now), "ESME", KeyStore())
    assert (result.use_case, result.message_code, result.pre_command) == ("CS06", 0x0012, True)
    args = _args(result)
    assert args["manufacturer_image_hash"] == HASH.hex().upper()
    assert args["execution_date_time"] is None and args["originator_counter"] == 4242
    later = _body(
        "ActivateFirmware",
        _el("ExecutionDateTime", "2030-01-15T09:00:00Z") + _el("FirmwareHash", HASH.hex()),
    )
    assert _typed(later) == ActivateFirmware(HASH, datetime(2030, 1, 15, 9, tzinfo=UTC))
    held = _ok(_request("11.3", later), "ESME", KeyStore())
    assert held.send_at is None and _args(held)["execution_date_time"] == "2030-01-15T09:00:00Z"
    short = _refused(
        _request("11.3", _body("ActivateFirmware", _el("FirmwareHash", "AABB"))), "ESME"
    )
    assert "FirmwareHash: 2 octets, expected 32..32" in short.reason


# --- the CHF: every command the ACB's, the user as Supplementary Remote Party -------------


def _plan_chf(variant: str, body: Body) -> routing.Plan:
    srv = tables.srv(variant)
    assert srv is not None
    p = routing.PlanInput(_typed(body), _request(variant, body, target=CHF), srv, "CHF", NOW)
    return routes_security.plan_chf(p)


def _built(plan: routing.Plan, target: str = CHF, device: str = "CHF") -> dict[str, Any]:
    """The plan built by the catalogue as the ACB would send it, read back from its bytes."""
    entry = usecases.get(plan.use_case)
    acb, recipient = DEFAULT_ACB, bytes.fromhex(target.replace("-", ""))
    ctx = BuildContext(1300, acb, recipient, entry.role_for(device), NOW)
    payload = entry.build_parsed(entry.parse_args(dict(plan.args)), ctx)
    header = GroupingHeader(Cra.COMMAND, 1300, acb, recipient, OtherInformation(entry.message_code))
    msg = build(
        header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=SignatureForm.NULL
    )
    return explain_frame(msg.encode())["args"]


SUB_GHZ = _body(
    "SetCHFSubGHzConfiguration",
    _el("LowerBandSubGHzChannels0To26", "<sr:Channel0/><sr:Channel26/>")
    + _el("LowerBandSubGHzChannels27To34", "<sr:Channel27/><sr:Channel34/>")
    + _el("LowerBandSubGHzChannels35To61", "<sr:Channel36/>")
    + _el("UpperBandSubGHzChannels0To26", "")
    + _el("NormalLimitedDutyCycleThreshold", "1.3")
    + _el("LimitedCriticalDutyCycleThreshold", "2.2")
    + _el("MaximumSubGHzChannelChangesPerWeek", "5")
    + _el("GSMECurfew", "7")
    + _el("ChannelQuieterThreshold", "7")
    + _el("ChannelNoisierThreshold", "12")
    + _el("NonGSMEPoorCommsPercentageThreshold", "60.25")
    + _el("NonGSMEPoorCommsMeasurementPeriods", "130")
    + _el("LocalCHNoiseMeasurementPeriod", "100")
    + _el("LocalCHFailurePercentage", "40.00")
    + _el("LocalCHRetryPercentage", "30.5"),
)


def test_sub_ghz_configuration_parses_and_reaches_dbch04() -> None:
    typed = _typed(SUB_GHZ)
    assert isinstance(typed, SubGhzConfiguration)
    assert (
        typed.lower_band_channels_0_to_26 == {0, 26} and typed.upper_band_channels_0_to_26 == set()
    )
    assert typed.non_gsme_poor_comms_percentage_threshold == Decimal("60.25")
    plan = _plan_chf("6.28", SUB_GHZ)
    assert (plan.use_case, plan.originator) == ("DBCH04", routing.ACB)
    value = _built(plan)["items"][0]["value"]
    assert value[:4] == [
        "11100" + "1" + "0" * 25 + "1",  # page 28, channel 26 first, channel 0 last
        "11101" + "0" * 19 + "10000001",  # page 29, channel 34 ... channel 27
        "11110" + "0" * 25 + "10",  # page 30, channel 61 ... channel 35
        "11111" + "0" * 27,
    ]
    assert value[4:] == [130, 220, 5, 7, 7, 12, 6025, 130, 100, 4000, 3050]
    keys = _fresh_keys(CHF)
    made = _ok(_request("6.28", SUB_GHZ, target=CHF), "CHF", keys, dcc_counter=1)
    msg = decode(made.gbcs)  # the ACB's command, the user as Supplementary Remote Party
    assert (msg.originator, msg.counter) == (DEFAULT_ACB, 1)
    other = msg.header.other
    assert (other.srp_id, other.srp_counter) == (bytes.fromhex(USER.replace("-", "")), 4242)
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


@pytest.mark.parametrize(
    ("replace", "by", "words"),
    [
        ("<sr:Channel36/>", "<sr:Channel3/>", "LowerBandSubGHzChannels35To61: unexpected Channel3"),
        ("1.3<", "2.1<", "NormalLimitedDutyCycleThreshold: 2.1 is not in 0.5..2.0"),
        ("2.2<", "2.25<", "LimitedCriticalDutyCycleThreshold: '2.25': more than 1 fraction digits"),
        ("60.25", "sixty", "NonGSMEPoorCommsPercentageThreshold: not a decimal"),
        ("60.25", "1E+40", "NonGSMEPoorCommsPercentageThreshold: 1E+40 is not in 1.00..100.00"),
        ("</sr:GSMECurfew>", "</sr:GSMECurfew>" + _el("GSMECurfew", "8"),
         "SetCHFSubGHzConfiguration: more than one GSMECurfew"),
        (">5<", ">8<", "MaximumSubGHzChannelChangesPerWeek: 8 is not in 1..7"),
        ("<sr:UpperBandSubGHzChannels0To26></sr:UpperBandSubGHzChannels0To26>", "",
         "SetCHFSubGHzConfiguration: no UpperBandSubGHzChannels0To26"),
    ],
)  # fmt: skip
def test_bad_sub_ghz_configurations_are_refused(replace: str, by: str, words: str) -> None:
    xml = SUB_GHZ.xml.decode()
    assert replace in xml
    body = Body(SUB_GHZ.name, xml.replace(replace, by, 1).encode())
    assert words in _refused(_request("6.28", body, target=CHF), "CHF").reason


def test_channel_log_period_reaches_dbch02() -> None:
    period = _el(
        "ReadLogPeriod",
        _el("StartDateTime", "2014-12-20T00:00:00Z") + _el("EndDateTime", "2014-12-31T09:00:00Z"),
    )
    body = _body("ReadCHFSubGHzChannelLog", period)
    start, end = datetime(2014, 12, 20, tzinfo=UTC), datetime(2014, 12, 31, 9, tzinfo=UTC)
    assert _typed(body) == ReadChfSubGhzChannelLog(start, end)
    selection = _built(_plan_chf("6.32", body))["items"][0]["selection"]
    assert selection == {"from": "2014-12-20T00:00:00Z", "to": "2014-12-31T09:00:00Z"}
    swapped = _body("ReadCHFSubGHzChannelLog", period.replace("2014-12-20", "2015-01-20"))
    assert (
        "EndDateTime before StartDateTime"
        in _refused(_request("6.32", swapped, target=CHF), "CHF").reason
    )


def test_han_device_log_remove_is_ccs02_and_add_needs_the_inventory() -> None:
    remove = _body("UpdateHANDeviceLog", _el("DeviceID", ESME) + _el("RequestType", "Remove"))
    assert _typed(remove) == UpdateHanDeviceLog(bytes.fromhex("00DB1234567890A0"), "Remove")
    assert _built(_plan_chf("8.11", remove))["items"][0]["parameter"] == "00DB1234567890A0"
    add = _body(
        "UpdateHANDeviceLog",
        _el("DeviceID", ESME)
        + _el("RequestType", "Add")
        + _el(
            "AddDeviceToCHFWhitelist",
            _el("JoinTimePeriod", "90") + _el("InstallCode", "30313233343536373839414243444546"),
        ),
    )
    typed = _typed(add)
    assert typed.add.join_time_period == 90 and typed.add.install_code == b"0123456789ABCDEF"
    assert _INVENTORY in _refused(_request("8.11", add, target=CHF), "CHF").reason
    half = _body("UpdateHANDeviceLog", _el("DeviceID", ESME) + _el("RequestType", "Add"))
    assert (
        "RequestType Add needs AddDeviceToCHFWhitelist"
        in _refused(_request("8.11", half, target=CHF), "CHF").reason
    )
    odd = _body("UpdateHANDeviceLog", _el("DeviceID", ESME) + _el("RequestType", "Swap"))
    assert (
        "RequestType: 'Swap' is not one of Add, Remove"
        in _refused(_request("8.11", odd, target=CHF), "CHF").reason
    )


@pytest.mark.parametrize(
    ("variant", "body", "use_case"),
    [
        ("6.29", _body("RequestCHFSubGHzChannelScan"), "DBCH05"),
        ("6.30", _body("ReadCHFSubGHzConfiguration"), "DBCH03"),
        ("6.31", _body("ReadCHFSubGHzChannel"), "DBCH01"),
        ("8.9", _body("ReadDeviceLog", "<sr:ReadSecurityDetails/>"), "CCS07"),
    ],
)
def test_chf_reads_are_the_acbs_with_the_user_as_supplementary_remote_party(
    variant: str, body: Body, use_case: str
) -> None:
    plan = _plan_chf(variant, body)
    assert (plan.use_case, plan.originator, plan.supplementary) == (use_case, routing.ACB, True)
    assert _built(plan)["items"]  # the catalogue builds it
    keys = _fresh_keys(CHF)
    made = _ok(_request(variant, body, target=CHF), "CHF", keys, dcc_counter=9)
    msg = decode(made.gbcs)
    assert (made.use_case, msg.originator, msg.counter) == (use_case, DEFAULT_ACB, 9)
    assert msg.header.other.srp_id == bytes.fromhex(USER.replace("-", ""))
    assert check_mac(msg, keys, DEFAULT_ACB).verdict is Verdict.VALID


def test_chf_device_log_read_without_security_details_has_no_rule() -> None:
    refused = _refused(_request("8.9", _body("ReadDeviceLog"), target=CHF), "CHF")
    assert "CCS06 or CCS05/CCS04" in refused.reason


def test_every_emulated_device_of_these_srvs_is_routed_or_says_why_not() -> None:
    for route in routes_security.ROUTES:
        assert transform.ROUTES[route.variant] is route
        srv = tables.srv(route.variant)
        assert srv is not None
        for device in set(srv.device_types) & set(transform.EMULATED_DEVICE_TYPES):
            routed = device in route.planners
            assert routed != ((route.variant, device) in routes_security.NOT_YET)


# --- the RTDS templates the generic pair tests cannot judge ------------------------------


@functools.cache
def _interop_keys() -> KeyStore:
    store = KeyStore()
    store.load_directory(interop.keys_dir())
    return store


def _row(template: str) -> dict[str, Any]:
    d = duiskit.require_duis()
    interop.require_interop()
    for line in (d / "pairs.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["template"] == template:
            return row
    raise AssertionError(f"{template} not in pairs.jsonl")


def _rtds(template: str) -> tuple[Request, dict[str, Any]]:
    row = _row(template)
    data = (duiskit.require_duis() / "templates" / template).read_bytes()
    request = model.parse(data)
    assert isinstance(request, Request)
    return request, row


def _masked(x: Any) -> Any:
    """``x`` with every DER certificate (a long SEQUENCE in hex) set aside."""
    if isinstance(x, dict):
        return {k: _masked(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_masked(v) for v in x]
    if isinstance(x, str) and x.startswith("3082") and len(x) > 200:
        return "<certificate>"
    return x


@pytest.mark.parametrize("template", sorted(RTDS_DIFFERENT))
def test_skewed_templates_equal_rtds_but_for_the_certificates(template: str) -> None:
    request, row = _rtds(template)
    vector = interop.by_id(row["gbcs_vectors"]["precommand"] or row["gbcs_vectors"]["command"])
    device = str(vector["device_type"]).split()[0]
    result = transform.transform(
        request,
        target_type=device,
        keys=_interop_keys(),
        now=NOW,
        dcc_counter=RTDS_DCC_COUNTER.get(template),
    )
    assert isinstance(result, Transformed), result
    ours, theirs = explain_frame(result.gbcs), explain_frame(bytes.fromhex(vector["hex"]))
    for key in ("message_code", "header", "form"):
        assert ours[key] == theirs[key]
    assert _masked(ours["args"]) == _masked(theirs["args"])
    # the certificates are the template's own, in the template's order
    body = request.body.element()
    sent = [bytes.fromhex(r["certificate"]) for r in ours["args"]["replacements"]]
    names = ("DigitalSigningCertificate", "KeyAgreementCertificate", "KeyAgreementTopUpCertificate")
    written = [
        base64.b64decode("".join((el.text or "").split()))
        for el in body.iter()
        if isinstance(el.tag, str) and el.tag.split("}")[1] in names
    ]
    assert sent == written
    msg = decode(result.gbcs)
    if result.originated_by != routing.USER:  # the DCC party's signature (or none), the MAC
        signed = decode(bytes.fromhex(vector["hex"]))
        assert msg.signature_form is signed.signature_form
        if msg.signature_form is SignatureForm.PRESENT:
            assert check_signature(msg, _interop_keys()).verdict is Verdict.VALID
        assert check_mac(msg, _interop_keys(), DEFAULT_ACB).verdict is Verdict.VALID


_DEVICE_FUTURE_DATED = [
    "CS02bSupplierBySupplier_6.15.1_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML",
    "CS02bSupplierBySupplier_6.15.1_CANCELLATION_SUCCESS_REQUEST_DUIS.XML",
    "CS02gLoadControllerBySupplier_6.15.1_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML",
    "CS02gLoadControllerBySupplier_6.15.1_CANCELLATION_SUCCESS_REQUEST_DUIS.XML",
    "CS06_11.3_FUTURE_DATED_SUCCESS_REQUEST_DUIS.XML",
    "CS06_11.3_CANCELLATION_SUCCESS_REQUEST_DUIS.XML",
]


@pytest.mark.parametrize("template", _DEVICE_FUTURE_DATED)
def test_device_future_dated_templates_carry_their_time_in_the_pre_command(template: str) -> None:
    request, row = _rtds(template)
    result = transform.transform(request, target_type="ESME", keys=KeyStore(), now=NOW)
    assert isinstance(result, Transformed), result
    assert result.pre_command and result.send_at is None
    assert result.use_case == row["gbcs_use_case"]
    msg = decode(result.gbcs)
    rid = request.header.request_id
    assert (msg.originator, msg.recipient, msg.counter) == (
        rid.originator_eui,
        rid.target_eui,
        rid.counter,
    )
    when = request.body.element().findtext(f"{{{SR_NS}}}ExecutionDateTime")
    assert when is not None
    expected = datetime.fromisoformat(when.replace("Z", "+00:00")).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert explain_frame(result.gbcs)["args"]["execution_date_time"] == expected


def test_the_model_reads_these_bodies_through_their_routes() -> None:
    from emulator.duis.bodies import DuisModelError

    body = _body("IssueSecurityCredentials", _el("CredentialType", "Key Agreement"))
    assert routing.typed_body(body) == routes_security.CredentialRequest("Key Agreement")
    with pytest.raises(DuisModelError, match="IssueSecurityCredentials: no CredentialType"):
        routing.typed_body(_body("IssueSecurityCredentials"))
