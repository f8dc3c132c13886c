"""``gbcs-emu duis``: DUIS XML signatures (verify, sign) and XSD validation.

The XML work needs lxml (the ``duis`` extra); it is imported when a command runs, so
``gbcs-emu duis --help`` works without it. Every failure is one line naming the file and
what is wrong, with a non-zero exit; ``verify`` exits 0 only for a valid signature.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import click
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from emulator.cli.inputs import read_input
from emulator.duis.keys import (
    KeyLoadError,
    XmlKeyStore,
    load_certificate_file,
    load_private_key_file,
)

_MAX_ERROR = 240
_LXML_MISSING = "the duis commands need lxml: pip install 'gbcs-emulator[duis]'"


def _xmlsig() -> ModuleType:
    try:
        from emulator.duis import xmlsig
    except ImportError as e:
        if getattr(e, "name", None) == "lxml" or "lxml" in str(e):
            raise click.ClickException(_LXML_MISSING) from None
        raise
    return xmlsig


def _read(file: str) -> tuple[str, bytes]:
    """The name to show and the bytes of FILE ('-' = standard input)."""
    if file == "-":
        return "stdin", sys.stdin.buffer.read()
    return file, read_input(Path(file))


def _load_keys(dirs: tuple[Path, ...]) -> XmlKeyStore:
    store = XmlKeyStore()
    for d in dirs:
        try:
            warnings = store.load_dir(d)
        except KeyLoadError as e:
            raise click.ClickException(f"--keys {e}") from None
        for w in warnings:
            click.echo(f"warning: {w}", err=True)
    return store


_KEYS = click.option(
    "--keys",
    "keys_dirs",
    multiple=True,
    type=click.Path(path_type=Path),
    metavar="DIR",
    help="Folder of XML-signing certificates (and private keys): PEM files, as the DCC's "
    "public DUIS test keys come; repeatable.",
)


@click.group("duis")
def duis_group() -> None:
    """DUIS XML: verify and sign XML signatures, validate against the DUIS XSD."""


@duis_group.command("verify")
@_KEYS
@click.option(
    "--enforce-dates",
    is_flag=True,
    help="Refuse a signature whose certificate is outside its validity now (by default "
    "dates are only reported: the public test certificates have expired).",
)
@click.argument("file")
def verify_cmd(keys_dirs: tuple[Path, ...], enforce_dates: bool, file: str) -> None:
    """Verify the XML signature of a DUIS request, response or alert in FILE ('-' =
    stdin). The signer is found by issuer and serial among the --keys certificates.
    Prints one line; exits 0 only for a valid signature."""
    xmlsig = _xmlsig()
    name, data = _read(file)
    store = _load_keys(keys_dirs)
    result = xmlsig.verify(data, store, enforce_dates=enforce_dates)
    line = result.line()
    if not keys_dirs and result.verdict is xmlsig.Verdict.UNKNOWN_SIGNER:
        line += " (no certificates loaded: give --keys DIR)"
    click.echo(f"{name}: {line}")
    if not result.ok:
        sys.exit(1)


@duis_group.command("sign")
@click.option(
    "--key",
    "key_file",
    type=click.Path(path_type=Path),
    metavar="KEYFILE",
    help="The signer's P-256 private key (PEM or DER); with --cert.",
)
@click.option(
    "--cert",
    "cert_file",
    type=click.Path(path_type=Path),
    metavar="CERTFILE",
    help="The signer's certificate (its issuer and serial go into the signature).",
)
@_KEYS
@click.argument("file")
def sign_cmd(
    key_file: Path | None, cert_file: Path | None, keys_dirs: tuple[Path, ...], file: str
) -> None:
    """Sign the DUIS document in FILE ('-' = stdin) and print it: with --key and --cert,
    or with --keys DIR (the key of the RequestID originator, as the DCC Boxed signing
    tool picks it). Any existing signature (a template's placeholder) is replaced; the
    output is compact XML, as the signing tool writes it."""
    xmlsig = _xmlsig()
    if (key_file is None) != (cert_file is None):
        raise click.UsageError("give both --key and --cert (or --keys DIR)")
    if key_file is None and not keys_dirs:
        raise click.UsageError("give --key KEYFILE and --cert CERTFILE, or --keys DIR")
    name, data = _read(file)
    try:
        if key_file is not None and cert_file is not None:
            for path, what in ((key_file, "--key"), (cert_file, "--cert")):
                if not path.is_file():
                    raise click.ClickException(f"{what} {path}: no such file")
            signer = load_certificate_file(cert_file)
            key = load_private_key_file(key_file)
            if _public(key.public_key()) != _public(signer.public_key):
                raise click.ClickException(
                    f"--key {key_file} is not the private key of --cert {cert_file}"
                )
            signed = xmlsig.sign(data, replace(signer, private_key=key))
        else:
            signed = xmlsig.sign_for_originator(data, _load_keys(keys_dirs))
    except KeyLoadError as e:
        raise click.ClickException(str(e)) from None
    except xmlsig.DuisXmlError as e:
        raise click.ClickException(f"{name}: {e}") from None
    sys.stdout.buffer.write(signed + b"\n")
    sys.stdout.buffer.flush()


def _public(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )


@duis_group.command("validate")
@click.option(
    "--xsd",
    "xsd_file",
    required=True,
    type=click.Path(path_type=Path),
    metavar="FILE",
    help="The DUIS XML schema (e.g. 'DUIS Schema V5.4.xsd', its imports beside it); "
    "required: the schema is not shipped.",
)
@click.argument("file")
def validate_cmd(xsd_file: Path, file: str) -> None:
    """Validate the DUIS document in FILE ('-' = stdin) against the XSD. Prints one
    line; exits 0 only when it is valid."""
    xmlsig = _xmlsig()
    if not xsd_file.is_file():
        raise click.ClickException(f"--xsd {xsd_file}: no such file")
    name, data = _read(file)
    try:
        schema = xmlsig.load_schema(xsd_file)
    except xmlsig.DuisXmlError as e:
        raise click.ClickException(f"--xsd {e}") from None
    try:
        result = xmlsig.validate(data, schema)
    except xmlsig.DuisXmlError as e:
        raise click.ClickException(f"{name}: {e}") from None
    if result.ok:
        click.echo(f"{name}: valid against {xsd_file.name}")
        return
    first = result.errors[0]
    if len(first) > _MAX_ERROR:
        first = first[: _MAX_ERROR - 1] + "…"
    more = len(result.errors) - 1
    tail = f" (and {more} more)" if more else ""
    click.echo(f"{name}: not valid against {xsd_file.name}: {first}{tail}")
    sys.exit(1)
