"""``gbcs-emu duis decode|verify|sign|validate``: exit codes and one-line answers, never a
traceback."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from cryptography.hazmat.primitives.asymmetric import ec

pytest.importorskip("lxml", reason="the duis commands need lxml (the duis extra)")

from emulator.cli import main
from emulator.duis import model
from tests import duiskit, interop

ROOT = Path(__file__).resolve().parent.parent
SUPPLIER_KEY = "user-supplier-90B3D51F30010000-xmlsign.key.pem"
SUPPLIER_CERT = "user-supplier-90B3D51F30010000-xmlsign.cert.pem"
TEMPLATE = "ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS.XML"


def run(*args: str, stdin: bytes | None = None) -> Result:
    r = CliRunner().invoke(main, ["duis", *args], input=stdin)
    # A traceback would show as an exception other than the exit.
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception
    assert "Traceback" not in r.output + r.stderr
    return r


def one_line(r: Result) -> str:
    lines = (r.stdout + r.stderr).strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def sample(file: str) -> str:
    return str(duiskit.require_duis() / file)


def keys() -> str:
    return str(duiskit.keys_dir())


@pytest.mark.parametrize("file", duiskit.sample_files())
def test_verify_exit_code_follows_the_manifest(file: str) -> None:
    r = run("verify", "--keys", keys(), sample(file))
    ok = duiskit.sample(file)["recipe_verdict"]["ok"]
    assert r.exit_code == (0 if ok else 1)
    line = one_line(r)
    assert line.startswith(f"{sample(file)}: {'valid' if ok else ''}")


def test_verify_reasons() -> None:
    cases = {
        "samples/signing-tool/readfw-response-badsignature.xml": "invalid: signature mismatch",
        "samples/signing-tool/readfw-response-invalid.xml": "invalid: digest mismatch",
        "samples/signing-tool/readfw-response-nonexist-serial.xml": "unknown signer",
        "samples/signing-tool/duis-xxe.xml": "malformed: DOCTYPE not allowed",
        "samples/signing-tool/readfw-response-no-signature.xml": "unsigned: no signature",
        "samples/signing-tool/readfw-response-no-serial.xml": "no X509SerialNumber",
    }
    for file, fragment in cases.items():
        r = run("verify", "--keys", keys(), sample(file))
        assert r.exit_code == 1 and fragment in one_line(r), file


def test_verify_without_keys_says_what_is_missing() -> None:
    r = run("verify", sample("samples/signing-tool/readfw-response.xml"))
    assert r.exit_code == 1
    assert "unknown signer" in one_line(r) and "--keys" in one_line(r)


def test_verify_dates_reported_and_enforced_on_request() -> None:
    file = sample("samples/duis-templates/ECS52_11.2_SUCCESS_RESPONSE_DUIS.XML")  # to 2025-10-29
    r = run("verify", "--keys", keys(), file)
    assert r.exit_code == 0
    assert "2025-10-29" in one_line(r) and "not enforced" in one_line(r)
    r = run("verify", "--enforce-dates", "--keys", keys(), file)
    assert r.exit_code == 1 and "certificate not valid" in one_line(r)
    # A certificate valid 2018..2118 passes with dates enforced.
    r = run(
        "verify",
        "--enforce-dates",
        "--keys",
        keys(),
        sample("samples/signing-tool/readfw-response.xml"),
    )
    assert r.exit_code == 0


def test_sign_with_key_and_cert_then_verify_from_stdin() -> None:
    template = (duiskit.require_duis() / "templates" / TEMPLATE).read_bytes()
    k = duiskit.keys_dir()
    r = run(
        "sign",
        "--key",
        str(k / SUPPLIER_KEY),
        "--cert",
        str(k / SUPPLIER_CERT),
        "-",
        stdin=template,
    )
    assert r.exit_code == 0 and r.stderr == ""
    signed = r.stdout_bytes
    assert signed.startswith(b"<?xml") and b"<ds:X509SerialNumber>2757" in signed
    v = run("verify", "--keys", keys(), "-", stdin=signed)
    assert v.exit_code == 0 and one_line(v).startswith("stdin: valid")
    tampered = signed.replace(b":1000<", b":1001<")
    assert run("verify", "--keys", keys(), "-", stdin=tampered).exit_code == 1


def test_sign_by_originator_from_a_key_folder(tmp_path: Path) -> None:
    r = run("sign", "--keys", keys(), str(duiskit.require_duis() / "templates" / TEMPLATE))
    assert r.exit_code == 0
    out = tmp_path / "signed.xml"
    out.write_bytes(r.stdout_bytes)
    v = run("verify", "--keys", keys(), str(out))
    assert v.exit_code == 0 and "90B3D51F30010000" in one_line(v)


def test_sign_errors_are_one_line(tmp_path: Path) -> None:
    k = duiskit.keys_dir()
    template = str(duiskit.require_duis() / "templates" / TEMPLATE)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<r><a></r>")
    doctype = tmp_path / "dt.xml"
    doctype.write_bytes(b'<!DOCTYPE r [<!ENTITY e SYSTEM "file:///etc/passwd">]><r>&e;</r>')
    junk = tmp_path / "junk.pem"
    junk.write_text("not a key")
    acb_key = str(k / "acb-90B3D51F30000002-ds.key.pem")
    cases = [
        (["--key", acb_key, "--cert", str(k / SUPPLIER_CERT), template], "not the private key"),
        (["--key", str(junk), "--cert", str(k / SUPPLIER_CERT), template], "junk.pem"),
        (["--key", str(k / SUPPLIER_KEY), "--cert", str(junk), template], "junk.pem"),
        (
            ["--key", str(tmp_path / "none.pem"), "--cert", str(k / SUPPLIER_CERT), template],
            "none.pem",
        ),
        (["--key", str(k / SUPPLIER_KEY), template], "--cert"),
        ([template], "--keys"),
        (["--keys", keys(), str(bad)], "bad.xml: not well-formed XML"),
        (["--keys", keys(), str(doctype)], "dt.xml: DOCTYPE not allowed"),
        (["--keys", keys(), str(tmp_path / "missing.xml")], "missing.xml: no such file"),
        (["--keys", str(tmp_path / "nokeys"), template], "nokeys"),
        (["--keys", str(tmp_path), template], "no signing key loaded for the originator"),
    ]
    for args, fragment in cases:
        r = run("sign", *args)
        assert r.exit_code != 0, args
        assert r.stdout == "", args
        errors = [ln for ln in r.stderr.splitlines() if ln.startswith("Error")]
        assert len(errors) == 1 and fragment in errors[0], (args, r.stderr)


def test_validate() -> None:
    xsd = str(duiskit.xsd_path())
    ok = run("validate", "--xsd", xsd, sample("samples/signing-tool/readfw-response.xml"))
    assert ok.exit_code == 0 and one_line(ok).endswith("valid against DUIS Schema V5.4.xsd")
    bad = run("validate", "--xsd", xsd, sample("samples/signing-tool/readfw-response-invalid.xml"))
    assert bad.exit_code == 1
    line = one_line(bad)
    assert "not valid against" in line and "11.2.11.2" in line and len(line) < 500
    xxe = run("validate", "--xsd", xsd, sample("samples/signing-tool/duis-xxe.xml"))
    assert xxe.exit_code == 1 and "DOCTYPE" in one_line(xxe)


def test_validate_errors(tmp_path: Path) -> None:
    file = sample("samples/signing-tool/readfw-response.xml")
    missing = run("validate", file)
    assert missing.exit_code == 2 and "--xsd" in missing.stderr
    r = run("validate", "--xsd", str(tmp_path / "nope.xsd"), file)
    assert r.exit_code == 1 and "--xsd" in one_line(r) and "nope.xsd" in one_line(r)
    broken = tmp_path / "broken.xsd"
    broken.write_text("<xs:schema")
    r = run("validate", "--xsd", str(broken), file)
    assert (
        r.exit_code == 1 and one_line(r).startswith("Error: --xsd") and "broken.xsd" in one_line(r)
    )
    notschema = tmp_path / "notschema.xsd"
    notschema.write_text("<r/>")
    r = run("validate", "--xsd", str(notschema), file)
    assert r.exit_code == 1 and "not a usable XML schema" in one_line(r)


def test_verify_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"\x00\x01 not xml")
    r = subprocess.run(
        [sys.executable, "-m", "emulator", "duis", "verify", "--keys", keys(), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stdout.strip().splitlines() == [
        f"{bad}: malformed: " + r.stdout.split(": malformed: ")[1].strip()
    ]


# --- decode ---------------------------------------------------------------------------

READFW = "samples/signing-tool/readfw-response.xml"


def _decode_json(*args: str, stdin: bytes | None = None) -> dict[str, Any]:
    r = run("decode", "--json", *args, stdin=stdin)
    assert r.exit_code == 0, r.output + r.stderr
    data: dict[str, Any] = json.loads(r.stdout)
    return data


def test_decode_response_table_shows_header_body_signature_and_gbcs() -> None:
    r = run("decode", "--keys", keys(), sample(READFW))
    assert r.exit_code == 0, r.stderr
    out = r.stdout
    assert out.startswith(f"{sample(READFW)}: DUIS response (success), schemaVersion 5.1")
    assert "counter 1660751141087" in out
    assert "I0: success, Success: the request had a successful outcome" in out
    assert "11.2 Read Firmware Version" in out
    assert re.search(r"XML signature\s+valid: signature verified; signer 90B3D51F30000002", out)
    # the GBCS inside, rendered as 'gbcs-emu decode' renders it
    assert "GBCS Response 0x0059 ECS52 Read ESME/Comms Hub Firmware Version" in out
    assert "MAC: no key" in out and "Signature: null" in out


def test_decode_json_response() -> None:
    row = duiskit.sample(READFW)
    d = _decode_json("--keys", keys(), sample(READFW))
    assert d["kind"] == "response" and d["schema_version"] == "5.1"
    h = d["header"]
    assert h["request_id"]["text"] == row["request_id"]
    assert h["response_id"]["originator"] == "88-73-84-57-00-2F-96-1E"
    assert h["response_code"] == "I0" and h["response_code_kind"] == "success"
    body = d["body"]
    assert body["srv"]["service_reference_variant"] == "11.2" and not body["srv"]["critical"]
    assert body["content"] == {"element": "GbcsPayload", "data": row["gbcs_payload_hex"]}
    assert d["xml_signature"]["verdict"] == "valid"
    assert d["gbcs"]["use_case"].startswith("ECS52")
    assert d["gbcs"]["header"]["originator"] == "88738457002F961E"
    assert d["gbcs"]["mac"]["verdict"] == "no key"


def test_decode_reports_a_bad_xml_signature_without_failing() -> None:
    d = _decode_json(
        "--keys", keys(), sample("samples/signing-tool/readfw-response-badsignature.xml")
    )
    assert d["xml_signature"]["verdict"] == "invalid"
    d = _decode_json(sample(READFW))  # no --keys: present, not checked
    assert d["xml_signature"] == {
        "verdict": None,
        "line": "present, not checked (give --keys DIR)",
    }
    d = _decode_json(sample("samples/signing-tool/acknowledgement-error.xml"))
    assert d["xml_signature"]["verdict"] == "unsigned"
    assert d["header"]["response_code"] == "E65" and d["header"]["response_code_kind"] == "error"
    assert "content" not in d["body"] and "gbcs" not in d


def test_decode_request_with_typed_body() -> None:
    template = duiskit.require_duis() / "templates" / "8.2_READ_INVENTORY_REQUEST_DUIS.XML"
    d = _decode_json(str(template))
    assert d["kind"] == "request"
    h = d["header"]
    assert h["command_variant"] == 8 and h["srv"]["non_device"] is True
    assert h["request_id"]["counter"] == 1000
    assert d["body"]["typed"] == {"by": "DeviceID", "value": "00-DB-12-34-56-78-90-A2"}
    r = run("decode", "-", stdin=template.read_bytes())
    assert r.exit_code == 0
    assert re.search(r"SRV\s+8\.2 Read Inventory \(non-device\)", r.stdout)
    assert re.search(r"CommandVariant\s+8: ", r.stdout)


def test_decode_unknown_srv_is_shown_not_fatal(tmp_path: Path) -> None:
    template = (duiskit.require_duis() / "templates" / TEMPLATE).read_bytes()
    f = tmp_path / "odd.xml"
    f.write_bytes(template.replace(b">4.1.1<", b">4.1.99<"))
    r = run("decode", str(f))
    assert r.exit_code == 0 and "unknown ServiceReferenceVariant '4.1.99'" in r.stdout


def test_decode_checks_the_gbcs_mac_with_gbcs_keys(tmp_path: Path) -> None:
    from tests.test_duis_model import vector_response

    m, raw = vector_response()
    f = tmp_path / "response.xml"
    f.write_bytes(model.to_xml(m))
    d = _decode_json("--gbcs-keys", str(interop.keys_dir()), str(f))
    assert d["gbcs"]["mac"]["verdict"] == "valid"
    assert d["gbcs"]["use_case"].startswith("ECS17b")
    assert d["gbcs"]["decrypted_parts"] == 1
    bad = replace(m, body=replace(m.body, content=model.GbcsPayload(raw[:-1] + b"\x00")))
    f.write_bytes(model.to_xml(bad))
    d = _decode_json("--gbcs-keys", str(interop.keys_dir()), str(f))
    assert d["gbcs"]["mac"]["verdict"] == "invalid"


def test_decode_bad_input_is_one_line(tmp_path: Path) -> None:
    notxml = tmp_path / "notxml.xml"
    notxml.write_bytes(b"\x00\x01 not xml")
    template = (duiskit.require_duis() / "templates" / TEMPLATE).read_bytes()
    badrid = tmp_path / "badrid.xml"
    badrid.write_bytes(template.replace(b":1000<", b":01000<"))
    readfw = (duiskit.require_duis() / READFW).read_bytes()
    b64 = tmp_path / "b64.xml"
    b64.write_bytes(re.sub(rb"<sr:GBCSPayload>[^<]*<", b"<sr:GBCSPayload>!!<", readfw))
    other = tmp_path / "other.xml"
    other.write_bytes(b"<a/>")
    cases = [
        (str(notxml), "notxml.xml: not well-formed XML"),
        (sample("samples/signing-tool/duis-xxe.xml"), "duis-xxe.xml: DOCTYPE not allowed"),
        (
            sample("samples/signing-tool/ECS17b_4.1.1_SINGLE_SUCCESS_REQUEST_DUIS-invalid.XML"),
            "Request/Header/RequestID:",
        ),
        (str(badrid), "badrid.xml: Request/Header/RequestID:"),
        (str(b64), "b64.xml: ResponseMessage/GBCSPayload: not base64"),
        (str(other), "other.xml: root element 'a' is not a DUIS Request or Response"),
        (str(tmp_path / "missing.xml"), "missing.xml"),
    ]
    for file, fragment in cases:
        for extra in ((), ("--json",)):
            r = run("decode", *extra, file)
            assert r.exit_code == 1, (file, extra)
            assert r.stdout == "", (file, extra)
            line = one_line(r)
            assert line.startswith("Error: ") and fragment in line, (file, line)


def test_decode_malformed_gbcs_inside_is_reported_after_the_header(tmp_path: Path) -> None:
    readfw = (duiskit.require_duis() / READFW).read_bytes()
    f = tmp_path / "badgbcs.xml"
    f.write_bytes(re.sub(rb"<sr:GBCSPayload>[^<]*<", b"<sr:GBCSPayload>3wkB<", readfw))
    r = run("decode", str(f))
    assert r.exit_code == 1
    assert "ResponseCode" in r.stdout
    assert r.stderr.strip().splitlines() == [
        f"{f}: GBCS payload: malformed GBCS message: " + r.stderr.split("message: ", 1)[1].strip()
    ]
    j = run("decode", "--json", str(f))
    assert j.exit_code == 1
    assert json.loads(j.stdout)["gbcs"]["error"].startswith("malformed GBCS message")


def test_decode_option_errors(tmp_path: Path) -> None:
    r = run("decode", "--gbcs-keys", str(tmp_path / "none"), sample(READFW))
    assert r.exit_code == 2 and "--gbcs-keys" in r.stderr
    r = run("decode", "--acb", "nothex", sample(READFW))
    assert r.exit_code == 2 and "--acb" in r.stderr
    r = run("decode", "--keys", str(tmp_path / "nokeys"), sample(READFW))
    assert r.exit_code == 1 and "nokeys" in one_line(r)


def test_decode_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    readfw = (duiskit.require_duis() / READFW).read_bytes()
    f = tmp_path / "badgbcs.xml"
    f.write_bytes(re.sub(rb"<sr:GBCSPayload>[^<]*<", b"<sr:GBCSPayload>AA==<", readfw))
    r = subprocess.run(
        [sys.executable, "-m", "emulator", "duis", "decode", "--json", str(f)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "GBCS payload" in r.stderr


ALERT_VECTOR = (
    "RTDS-4.5.0/1.1.1_ECS01a/ECS01a_1.1.1_8F66_FUTURE_DATED_TOU_BLOCK_SUCCESS_ALERT_CURRENCY_UNIT"
)


def test_decode_device_alert_verifies_the_gbcs_signature(tmp_path: Path) -> None:
    raw = bytes.fromhex(interop.by_id(ALERT_VECTOR)["hex"])
    alert = model.Response(
        model.ResponseHeader("I0", "2026-01-02T03:04:05Z"),
        model.DeviceAlertMessage("8F66", raw, throttled_alert_count=3),
    )
    f = tmp_path / "alert.xml"
    f.write_bytes(model.to_xml(alert))
    d = _decode_json("--gbcs-keys", str(interop.keys_dir()), str(f))
    assert d["kind"] == "alert"
    assert d["body"] == {
        "element": "DeviceAlertMessage",
        "alert_code": "8F66",
        "gbcs_payload": raw.hex().upper(),
        "throttled_alert_sequence_id": None,
        "throttled_alert_count": 3,
    }
    assert d["gbcs"]["signature"]["verdict"] == "valid"
    assert run("decode", str(f)).stdout.startswith(f"{f}: DUIS alert (success)")
    tampered = replace(alert, body=replace(alert.body, gbcs_payload=raw[:-1] + b"\x00"))
    f.write_bytes(model.to_xml(tampered))
    d = _decode_json("--gbcs-keys", str(interop.keys_dir()), str(f))
    assert d["gbcs"]["signature"]["verdict"] == "invalid"


def test_decode_dcc_alert_shows_its_event(tmp_path: Path) -> None:
    f = tmp_path / "dcc.xml"
    f.write_bytes(
        b'<sr:Response xmlns:sr="http://www.dccinterface.co.uk/ServiceUserGateway" '
        b'schemaVersion="5.4"><sr:Header><sr:ResponseCode>I0</sr:ResponseCode>'
        b"<sr:ResponseDateTime>2026-01-02T03:04:05Z</sr:ResponseDateTime></sr:Header>"
        b"<sr:Body><sr:DCCAlertMessage><sr:DCCAlertCode>N1</sr:DCCAlertCode><sr:DCCAlert>"
        b"<sr:PowerOutageEvent><sr:CommsHubDeviceID>00-DB-12-34-56-78-90-A4</sr:CommsHubDeviceID>"
        b"<sr:StartDateTime>2026-01-02T03:04:05Z</sr:StartDateTime><sr:MPxN>1234567890123"
        b"</sr:MPxN></sr:PowerOutageEvent></sr:DCCAlert></sr:DCCAlertMessage></sr:Body>"
        b"</sr:Response>"
    )
    d = _decode_json(str(f))
    assert d["kind"] == "alert" and "gbcs" not in d
    assert d["body"]["dcc_alert_code"] == "N1"
    assert d["body"]["event"]["element"] == "PowerOutageEvent"
    assert "<sr:MPxN>1234567890123</sr:MPxN>" in d["body"]["event"]["xml"]
    r = run("decode", str(f))
    assert r.exit_code == 0 and re.search(r"dcc_alert_code\s+N1", r.stdout)


# --- transform --------------------------------------------------------------------------

ECS43 = "ECS43_7.2_SUCCESS_REQUEST_DUIS.XML"
ECS52 = "ECS52_11.2_SUCCESS_REQUEST_DUIS.XML"
GCS32 = "GCS32_7.2_SUCCESS_REQUEST_DUIS.XML"


def template(name: str) -> str:
    return str(duiskit.require_duis() / "templates" / name)


def rtds_hex(vector_id: str) -> str:
    return str(interop.by_id(vector_id)["hex"]).upper()


def transform(*args: str, stdin: bytes | None = None) -> Result:
    return run("transform", *args, stdin=stdin)


def gbcs_keys() -> str:
    return str(interop.keys_dir())


def test_transform_prints_file_tab_hex_equal_to_rtds() -> None:
    files = [template(TEMPLATE), template(ECS43), template(ECS52)]
    r = transform("--verify-off", "--target-type", "esme", "--gbcs-keys", gbcs_keys(), *files)
    assert r.exit_code == 0, r.output + r.stderr
    lines = [line.split("\t") for line in r.stdout.strip().splitlines()]
    assert lines == [
        [files[0], rtds_hex("RTDS-4.5.0/4.1.1_ECS17b/ECS17b_4.1.1_SINGLE_SUCCESS_COMMAND")],
        [files[1], rtds_hex("RTDS-4.5.0/7.2_ECS43/ECS43_7.2_SUCCESS_PRECOMMAND")],
        [files[2], rtds_hex("RTDS-4.5.0/11.2_ECS52/ECS52_11.2_SUCCESS_COMMAND")],
    ]
    summaries = [s for s in r.stderr.splitlines() if not s.startswith("warning:")]
    assert summaries == [
        f"{files[0]}: ECS17b (0x0027) command (ACB MAC): SRV 4.1.1 to ESME 00DB1234567890A0, "
        "originator 90B3D51F30010000, counter 1000",
        f"{files[1]}: ECS43 (0x0050) pre-command (to sign): SRV 7.2 to ESME 00DB1234567890A0, "
        "originator 90B3D51F30010000, counter 1000",
        f"{files[2]}: ECS52 (0x0059) command (ACB MAC): SRV 11.2 to ESME 00DB1234567890A0, "
        "originator 90B3D51F30010000, counter 1000",
    ]


def test_transform_a_refused_file_is_one_line_and_fails_the_run(tmp_path: Path) -> None:
    response = sample(READFW)
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"not xml")
    files = [template(ECS43), template(GCS32), response, str(bad), str(tmp_path / "none.xml")]
    at = ("--at", "2015-01-01T00:00:00Z")
    r = transform("--verify-off", "--target-type", "GSME", *at, *files)
    assert r.exit_code == 1
    out = dict(line.split("\t", 1) for line in r.stdout.strip().splitlines())
    assert list(out) == files
    # ECS43's template to a GSME is GCS32's case: both transformed, the ZCL Issuer Event
    # ID the DCC writes being the ZCL UTCTime of --at (473385600, little-endian)
    for file in files[:2]:
        assert out[file].startswith("DF") and "804A371C" in out[file]
    later = transform("--verify-off", "--target-type", "GSME", "--at", "2015-01-01T00:00:01Z")
    assert later.exit_code == 2  # no FILE: the option alone is not a run
    r2 = transform(
        "--verify-off", "--target-type", "GSME", "--at", "2015-01-01T00:00:01Z", files[1]
    )
    assert "814A371C" in r2.stdout
    assert out[response] == "error: not a DUIS request (a response or alert)"
    assert out[str(bad)].startswith("error: ")
    assert out[files[4]] == f"error: input file {files[4]}: no such file"


def test_transform_refusals_carry_the_duis_response_code() -> None:
    r = transform("--verify-off", "--target-type", "GPF", template(ECS43))
    assert r.exit_code == 1
    assert (
        r.stdout
        == f"{template(ECS43)}\terror: E11 SRV 7.2 (Disable Supply) does not apply to a GPF\n"
    )
    non_device = template("12.2_DEVICE_PRE_NOTIFICATION_REQUEST_DUIS.XML")
    r = transform("--verify-off", "--target-type", "ESME", non_device)
    assert r.exit_code == 1 and "\terror: E13 SRV 12.2" in r.stdout


def test_transform_without_target_type_or_gbcs_keys_says_what_to_give() -> None:
    r = transform("--verify-off", template(ECS52))
    assert r.exit_code == 1
    assert "device type is needed" in one_line(r)
    r = transform("--verify-off", "--target-type", "ESME", template(ECS52))
    assert r.exit_code == 1
    assert one_line(r).endswith("(give --gbcs-keys DIR)")
    assert "cannot MAC" in one_line(r)


def test_transform_verifies_the_xml_signature_first() -> None:
    # the templates carry placeholder signatures: refused unless --verify-off
    r = transform(
        "--keys", keys(), "--target-type", "ESME", "--gbcs-keys", gbcs_keys(), template(ECS52)
    )
    assert r.exit_code == 1
    assert r.stdout.startswith(f"{template(ECS52)}\terror: XML signature ")
    assert "--verify-off" in r.stdout
    # the same request signed by the DCC Boxed signing tool verifies and transforms
    signed = sample("samples/signed-by-signing-tool/" + ECS52)
    r = transform("--keys", keys(), "--target-type", "ESME", "--gbcs-keys", gbcs_keys(), signed)
    assert r.exit_code == 0, r.stdout + r.stderr
    assert r.stdout == f"{signed}\t{rtds_hex('RTDS-4.5.0/11.2_ECS52/ECS52_11.2_SUCCESS_COMMAND')}\n"
    # an edited signed request no longer verifies
    data = Path(signed).read_bytes().replace(b":1000<", b":1001<")
    assert data != Path(signed).read_bytes()
    r = transform("--keys", keys(), "--target-type", "ESME", "-", stdin=data)
    assert r.exit_code == 1 and r.stdout.startswith("stdin\terror: XML signature invalid")


def test_transform_option_errors_are_one_line() -> None:
    r = transform("--verify-off", "--target-type", "PPMID", template(ECS52))
    assert r.exit_code == 1
    assert one_line(r) == (
        "Error: --target-type 'PPMID': not an emulated device type (one of ESME, GSME, GPF, CHF)"
    )
    r = transform("--verify-off", "--target-type", "ESME")
    assert r.exit_code == 2 and "Missing argument" in r.output + r.stderr


def test_transform_in_a_real_process_has_no_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.xml"
    bad.write_bytes(b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY e 'x'>]><x>&e;</x>")
    argv = [sys.executable, "-m", "emulator", "duis", "transform", "--verify-off", str(bad)]
    r = subprocess.run(
        argv, capture_output=True, text=True, timeout=120, cwd=ROOT, stdin=subprocess.DEVNULL
    )
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert r.stdout.startswith(f"{bad}\terror: ") and len(r.stdout.splitlines()) == 1


def test_transform_macs_as_the_acb_given() -> None:
    args = ("--verify-off", "--target-type", "ESME", "--gbcs-keys", gbcs_keys(), template(ECS52))
    r = transform("--acb", "90B3D51F30000099", *args)
    assert r.exit_code == 1
    assert r.stdout.startswith(f"{template(ECS52)}\terror: ECS52: cannot MAC: ")
    assert "90B3D51F30000099" in r.stdout and "--gbcs-keys" not in r.stdout
    r = transform("--acb", "not-an-eui", *args)
    assert r.exit_code == 2 and "--acb" in r.output + r.stderr


def test_transform_build_time_and_pre_command_errors_are_one_line() -> None:
    args = ("--verify-off", "--target-type", "ESME", template(ECS52))
    r = transform("--at", "tomorrow", *args)
    assert r.exit_code == 1
    assert one_line(r) == "Error: --at 'tomorrow': not an ISO 8601 date-time"
    r = transform("--pre-command", "DFzz", *args)
    assert r.exit_code == 1 and one_line(r) == "Error: --pre-command: not hex"
    r = transform("--dcc-counter", "-1", *args)
    assert r.exit_code == 2 and "--dcc-counter" in r.output + r.stderr


def test_transform_critical_round_trip_cv4_then_cv5(tmp_path: Path) -> None:
    """CV4 gives the pre-command; signed as the clients sign it and sent back with CV5
    (same RequestID), it becomes the ACB-MAC'd command over exactly the signed bytes."""
    import base64

    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

    from emulator.duis import model
    from emulator.duis.bodies import SR_NS, Body
    from gbcs.codec import decode
    from gbcs.envelope import Envelope

    cv4 = template("ECS43_7.2_SUCCESS_REQUEST_DUIS.XML")
    r = transform("--verify-off", "--target-type", "ESME", cv4)
    assert r.exit_code == 0, r.output + r.stderr
    pre = bytes.fromhex(r.stdout.split("\t")[1].strip())
    key_file = Path(gbcs_keys()) / "90b3d51f30010000-ds.key"  # the RTDS supplier's DS key
    key = serialization.load_pem_private_key(key_file.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)

    def sign(by: ec.EllipticCurvePrivateKey) -> bytes:
        rs = decode_dss_signature(by.sign(pre[1:], ec.ECDSA(hashes.SHA256())))
        return pre + b"\x40" + b"".join(v.to_bytes(32, "big") for v in rs)

    signed = sign(key)
    request = model.parse(Path(cv4).read_bytes())
    assert isinstance(request, model.Request)
    payload = base64.b64encode(signed).decode()
    body = Body(
        "SignedPreCommand",
        f'<sr:SignedPreCommand xmlns:sr="{SR_NS}"><sr:GBCSPayload>{payload}'
        "</sr:GBCSPayload></sr:SignedPreCommand>".encode(),
    )
    header = replace(request.header, command_variant=5)
    cv5 = tmp_path / "cv5.xml"
    cv5.write_bytes(model.to_xml(replace(request, header=header, body=body)))
    common = ("--verify-off", "--target-type", "ESME", "--gbcs-keys", gbcs_keys())
    r = transform(*common, "--pre-command", pre.hex(), str(cv5))
    assert r.exit_code == 0, r.output + r.stderr
    command = decode(bytes.fromhex(r.stdout.split("\t")[1].strip()))
    assert command.envelope is Envelope.GENERAL_CIPHERING and command.gs_apdu() == signed
    assert "ECS43 (0x0050) command (ACB MAC)" in r.stderr
    other = pre[:-1] + bytes([pre[-1] ^ 1])
    r = transform(*common, "--pre-command", other.hex(), str(cv5))
    assert r.exit_code == 1 and "not the pre-command the DCC returned" in r.stdout
    # signed by a key that is not the supplier's: the DCC holds its certificate, refuses
    forged = sign(ec.generate_private_key(ec.SECP256R1()))
    payload = base64.b64encode(forged).decode()
    body = Body(
        "SignedPreCommand",
        f'<sr:SignedPreCommand xmlns:sr="{SR_NS}"><sr:GBCSPayload>{payload}'
        "</sr:GBCSPayload></sr:SignedPreCommand>".encode(),
    )
    cv5.write_bytes(model.to_xml(replace(request, header=header, body=body)))
    r = transform(*common, str(cv5))
    assert r.exit_code == 1 and "signature is invalid" in r.stdout


def test_srvs_lists_what_is_transformed_and_why_the_rest_is_not() -> None:
    from emulator.duis.transform import NOT_YET, ROUTES

    r = run("srvs", "--json")
    assert r.exit_code == 0, r.output
    rows = {row["srv"]: row for row in map(json.loads, r.stdout.splitlines())}
    assert rows["4.1.1"]["transformed"] == ["ESME", "GSME", "GPF"]
    assert rows["4.1.1"]["body"] == "ReadInstantaneousImportRegisters"
    assert rows["7.2"]["critical"] and "ESME" in rows["7.2"]["transformed"]
    assert "12.2" not in rows  # a non-device SRV, shown only with --all
    for variant, row in rows.items():
        route = ROUTES.get(variant)
        for device in row["transformed"]:
            assert route is not None and device in route.planners
        for device, why in row["not_yet"].items():
            assert why == NOT_YET.get((variant, device), "no route yet")
    everything = run("srvs", "--all", "--json")
    every = {row["srv"]: row for row in map(json.loads, everything.stdout.splitlines())}
    assert every["12.2"]["non_device"] and every["12.2"]["transformed"] == []
    text = run("srvs")
    assert text.exit_code == 0
    assert re.search(r"^4\.1\.1\s+ESME,GSME,GPF\s+Read Instantaneous Import Registers$",
                     text.stdout, re.M)  # fmt: skip
    assert re.search(r"\d+ SRV variant\(s\) transformed for \d+ \(SRV, device type\)", text.stderr)


def test_transform_takes_what_the_dcc_knows_of_the_meter_and_the_user() -> None:
    args = ("--verify-off", "--target-type", "ESME", "--gbcs-keys", gbcs_keys())
    voltage = template("ECS26k_6.2.1_SUCCESS_REQUEST_DUIS.XML")
    r = transform(*args, voltage)
    assert r.exit_code == 1 and "the ESME's variant decides" in r.stdout
    r = transform(*args, "--esme-variant", "C", voltage)
    assert r.exit_code == 0, r.output + r.stderr
    assert "ECS26k (0x00C6)" in r.stderr
    r = transform(*args, "--esme-variant", "A", voltage)
    assert r.exit_code == 0 and "ECS26b (0x003C)" in r.stderr
    behaviours = template("ECS25r2_6.2.10_SUCCESS_REQUEST_DUIS.XML")
    r = transform(*args, "--user-role", "ED", behaviours)
    assert r.exit_code == 0 and "ECS25r2" in r.stderr
    r = transform(*args, "--user-role", "XX", behaviours)
    assert r.exit_code == 1
    assert one_line(r).startswith("Error: --user-role 'XX': not one of IS, ES, GS")


def test_transform_writes_the_cin_given_or_one_it_picks() -> None:
    args = (
        "--verify-off",
        "--target-type",
        "ESME",
        "--gbcs-keys",
        gbcs_keys(),
        "--dcc-counter",
        "7",
    )
    request = template("ECS50_9.1_SUCCESS_REQUEST_DUIS.XML")
    r = transform(*args, "--cin", "0472", request)
    assert r.exit_code == 0, r.output + r.stderr
    assert "09043034373200" in r.stdout.split("\t")[1]  # octet-string '0472'
    r = transform(*args, request)  # four random digits, as the DCC picks one
    assert r.exit_code == 0 and re.search(r"0904(3[0-9]){4}", r.stdout.split("\t")[1])
    r = transform(*args, "--cin", "12", request)
    assert r.exit_code == 1 and "CIN '12': four decimal digits" in r.stdout


def test_transform_refuses_an_esme_variant_duis_does_not_have() -> None:
    r = transform("--verify-off", "--target-type", "ESME", "--esme-variant", "polyphase", "x.xml")
    assert r.exit_code == 1
    assert one_line(r) == (
        "Error: --esme-variant 'polyphase': not a DUIS ESMEVariant (A, B, C, AD, ...)"
    )
