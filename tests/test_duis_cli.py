"""``gbcs-emu duis verify|sign|validate``: exit codes and one-line answers, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

pytest.importorskip("lxml", reason="the duis commands need lxml (the duis extra)")

from emulator.cli import main
from tests import duiskit

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
