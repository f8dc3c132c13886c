"""``gbcs-emu duis``: decode DUIS messages, XML signatures (verify, sign), XSD validation.

The XML work needs lxml (the ``duis`` extra); it is imported when a command runs, so
``gbcs-emu duis --help`` works without it. Every failure is one line naming the file and
what is wrong, with a non-zero exit; ``verify`` exits 0 only for a valid signature.
"""

from __future__ import annotations

import json
import secrets
import sys
import time
from dataclasses import fields, is_dataclass, replace
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

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

if TYPE_CHECKING:
    from emulator.duis import model as duis_model
    from gbcs.inspect import Inspection

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
    """DUIS XML: decode messages, verify and sign XML signatures, validate against the
    DUIS XSD; serve the DUIS service in front of emulated devices."""


@duis_group.command(
    "serve",
    context_settings={"ignore_unknown_options": True, "help_option_names": []},
    add_help_option=False,
)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def serve_cmd(ctx: click.Context, args: tuple[str, ...]) -> None:
    """The DUIS service in front of an emulated fleet (run --duis-users FILE).

    Every option of `gbcs-emu run` applies and --duis-users is required; --help lists
    them."""
    from emulator.cli.run_cmd import run_cmd as run

    wants_help = "--help" in args or "-h" in args
    if not wants_help and not any(
        a == "--duis-users" or a.startswith("--duis-users=") for a in args
    ):
        raise click.UsageError("--duis-users FILE is required (docs/duis-users.md)", ctx)
    with run.make_context(
        "serve", list(args), parent=ctx.parent, help_option_names=["-h", "--help"]
    ) as sub:
        run.invoke(sub)


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


def _model() -> ModuleType:
    _xmlsig()  # the same one-line answer when lxml is missing
    from emulator.duis import model

    return model


@duis_group.command("decode")
@_KEYS
@click.option(
    "--gbcs-keys",
    "gbcs_key_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="GBCS key directory (<eui>[-pp]-<ka|ds>.<pem|key>, as for 'gbcs-emu decode "
    "--keys') to check the MAC and signature of the GBCS inside; repeatable.",
)
@click.option(
    "--acb",
    default=None,
    metavar="EUI",
    callback=lambda _ctx, _param, value: _acb_eui(value),
    help="EUI of the Access Control Broker whose KA key MACs commands (default: the "
    "DCC Boxed ACB, as 'gbcs-emu decode').",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.argument("file")
def decode_cmd(
    keys_dirs: tuple[Path, ...],
    gbcs_key_dirs: tuple[Path, ...],
    acb: bytes | None,
    as_json: bool,
    file: str,
) -> None:
    """Decode the DUIS request, response or alert in FILE ('-' = stdin): its header
    (RequestID, command variant, SRV, response code, with their meanings) and body. The
    GBCS a response or alert carries is decoded as 'gbcs-emu decode' does, its MAC and
    signature checked with --gbcs-keys. The XML signature is checked when --keys names
    XML-signing certificates, and reported (use 'verify' to act on it). Exits 1 when the
    document, or the GBCS inside it, cannot be decoded."""
    from emulator.cli.decode_cmd import _render
    from gbcs.errors import GbcsDecodeError
    from gbcs.inspect import inspect_message
    from gbcs.security import DEFAULT_ACB

    model = _model()
    xmlsig = _xmlsig()
    acb_eui = DEFAULT_ACB if acb is None else acb
    name, data = _read(file)
    try:
        message = model.parse(data)
    except model.DuisModelError as e:
        raise click.ClickException(f"{name}: {e}") from None
    signature = _signature_line(xmlsig, data, keys_dirs, message.signed)
    gbcs_keys = None
    if gbcs_key_dirs:
        from emulator.cli.keyload import load_keys

        gbcs_keys = load_keys(gbcs_key_dirs)
    inspection: Inspection | None = None
    gbcs_error: str | None = None
    raw = message.gbcs if isinstance(message, model.Response) else _request_gbcs(message)
    if raw is not None:
        try:
            inspection = inspect_message(raw, gbcs_keys, acb=acb_eui)
        except GbcsDecodeError as e:
            gbcs_error = f"malformed GBCS message: {' '.join(str(e).split())}"
    if as_json:
        out = _message_json(model, message)
        out["file"] = name
        out["xml_signature"] = signature
        if inspection is not None:
            out["gbcs"] = inspection.to_json()
        elif gbcs_error is not None:
            out["gbcs"] = {"error": gbcs_error}
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"{name}: {_title(model, message)}")
        rows = _rows(model, message)
        rows.append(("XML signature", signature["line"]))
        width = max(len(k) for k, _ in rows)
        pad = "\n" + " " * (width + 4)  # continuation lines of a kept XML subtree
        for k, v in rows:
            click.echo(f"  {k.ljust(width)}  {pad.join(v.splitlines()) or v}")
        if inspection is not None:
            _render(inspection)
    if gbcs_error is not None:
        click.echo(f"{name}: GBCS payload: {gbcs_error}", err=True)
        sys.exit(1)


def _acb_eui(value: str | None) -> bytes | None:
    if value is None:
        return None
    from emulator.cli.decode_cmd import _acb

    return _acb(value)


def _typed_body(body: Any) -> tuple[Any, str | None]:
    """The body's typed view (the model's, else its SRV route's) and, when its route
    cannot read it, why."""
    from emulator.duis import routing
    from emulator.duis.bodies import DuisModelError

    try:
        return routing.typed_body(body), None
    except DuisModelError as e:
        return None, str(e)


def _request_gbcs(message: duis_model.Request) -> bytes | None:
    typed = message.body.typed()
    payload = getattr(typed, "gbcs_payload", None)
    return payload if isinstance(payload, bytes) else None


def _signature_line(
    xmlsig: ModuleType, data: bytes, keys_dirs: tuple[Path, ...], signed: bool
) -> dict[str, Any]:
    if not keys_dirs:
        line = "present, not checked (give --keys DIR)" if signed else "unsigned"
        return {"verdict": None if signed else "unsigned", "line": line}
    result = xmlsig.verify(data, _load_keys(keys_dirs))
    return {"verdict": result.verdict.value, "line": result.line()}


def _title(model: ModuleType, m: duis_model.DuisMessage) -> str:
    if isinstance(m, model.Request):
        return f"DUIS request, schemaVersion {m.schema_version}"
    kind = "alert" if m.is_alert else "response"
    return f"DUIS {kind} ({m.header.kind}), schemaVersion {m.schema_version}"


def _rid(r: duis_model.RequestId | None) -> str:
    if r is None:
        return "-"
    return f"{r.format()} (originator {r.originator}, target {r.target}, counter {r.counter})"


def _srv_text(reference: str, variant: str, srv: Any, error: str | None) -> str:
    if error is not None:
        return f"{reference} / {variant}: {error}"
    flags = [f for f, on in (("critical", srv.critical), ("non-device", srv.non_device)) if on]
    tail = f" ({', '.join(flags)})" if flags else ""
    return f"{variant} {' '.join(srv.name.split())}{tail}"


def _rows(model: ModuleType, m: duis_model.DuisMessage) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if isinstance(m, model.Request):
        h = m.header
        cv = h.command_variant_info
        rows.append(("RequestID", _rid(h.request_id)))
        if h.preceding_request_id is not None:
            rows.append(("PrecedingRequestID", _rid(h.preceding_request_id)))
        if h.first_in_sequence is not None:
            rows.append(("FirstInSequence", str(h.first_in_sequence).lower()))
        rows.append(
            ("CommandVariant", f"{cv.number}: {cv.description} ({cv.web_service}, {cv.endpoint})")
        )
        rows.append(
            (
                "SRV",
                _srv_text(h.service_reference, h.service_reference_variant, h.srv, h.srv_error),
            )
        )
        rows.append(("Body", m.body.name))
        typed, problem = _typed_body(m.body)
        if typed is not None:
            rows.extend((f"  {k}", _value_text(v)) for k, v in _fields(typed).items())
        else:
            if problem is not None:
                rows.append(("  not readable", problem))
            rows.append(("  XML", m.body.xml.decode("utf-8", "replace")))
        return rows
    h = m.header
    info = h.response_code_info
    meaning = info.meaning if info and info.meaning else "meaning not in public sources"
    code = f"{h.response_code}: {h.kind}, {meaning}" if info else f"{h.response_code}: unknown code"
    rows += [
        ("RequestID", _rid(h.request_id)),
        ("ResponseID", _rid(h.response_id)),
        ("ResponseCode", code),
        ("ResponseDateTime", h.response_date_time),
    ]
    b = m.body
    if isinstance(b, model.ResponseMessage):
        rows.append(
            (
                "SRV",
                _srv_text(b.service_reference, b.service_reference_variant, b.srv, b.srv_error),
            )
        )
        c = b.content
        if c is None:
            rows.append(("Body", "ResponseMessage (no result)"))
        elif isinstance(c, model.Body):
            rows.append(("Body", f"ResponseMessage/{c.name}"))
            rows.append(("  XML", c.xml.decode("utf-8", "replace")))
        else:
            rows.append(("Body", f"ResponseMessage/{type(c).__name__}"))
            rows.extend((f"  {k}", _value_text(v)) for k, v in _fields(c).items())
    elif isinstance(b, model.Body):
        rows.append(("Body", b.name))
        rows.append(("  XML", b.xml.decode("utf-8", "replace")))
    else:
        rows.append(("Body", type(b).__name__))
        rows.extend((f"  {k}", _value_text(v)) for k, v in _fields(b).items())
    return rows


def _fields(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


def _value_text(v: Any) -> str:
    if isinstance(v, bytes):
        return f"{v.hex().upper()} ({len(v)} bytes)"
    if isinstance(getattr(v, "xml", None), bytes) and is_dataclass(v):
        return f"{type(v).__name__} {v.name}: {v.xml.decode('utf-8', 'replace')}"  # a Body
    if (is_dataclass(v) and not isinstance(v, type)) or isinstance(v, list | tuple | dict):
        return json.dumps(_jsonable(v), separators=(", ", ": "))
    if isinstance(v, datetime | date | dtime):
        return v.isoformat()
    return "-" if v is None else str(v)


def _jsonable(v: Any) -> Any:
    """Plain JSON data: bytes as upper-case hex, a kept XML subtree as its text, times in
    ISO 8601, enumerations by value, decimals as text."""
    if isinstance(v, bytes):
        return v.hex().upper()
    if is_dataclass(v) and not isinstance(v, type):
        xml = getattr(v, "xml", None)
        if isinstance(xml, bytes):  # model.Body
            return {"element": getattr(v, "name", None), "xml": xml.decode("utf-8", "replace")}
        return {f.name: _jsonable(getattr(v, f.name)) for f in fields(v)}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, datetime | date | dtime):
        return v.isoformat()
    if isinstance(v, Enum):
        return _jsonable(v.value)
    if isinstance(v, Decimal):
        return str(v)
    return v


def _rid_json(r: duis_model.RequestId | None) -> dict[str, Any] | None:
    if r is None:
        return None
    return {
        "text": r.format(),
        "originator": r.originator,
        "target": r.target,
        "counter": r.counter,
    }


def _srv_json(reference: str, variant: str, srv: Any, error: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {"service_reference": reference, "service_reference_variant": variant}
    if error is not None:
        out["error"] = error
    else:
        out.update(name=" ".join(srv.name.split()), critical=srv.critical)
        out["non_device"] = srv.non_device
    return out


def _message_json(model: ModuleType, m: duis_model.DuisMessage) -> dict[str, Any]:
    if isinstance(m, model.Request):
        h = m.header
        typed, problem = _typed_body(m.body)
        return {
            "kind": "request",
            "schema_version": m.schema_version,
            "header": {
                "request_id": _rid_json(h.request_id),
                "preceding_request_id": _rid_json(h.preceding_request_id),
                "first_in_sequence": h.first_in_sequence,
                "command_variant": h.command_variant,
                "command_variant_description": h.command_variant_info.description,
                "srv": _srv_json(
                    h.service_reference, h.service_reference_variant, h.srv, h.srv_error
                ),
            },
            "body": {
                "element": m.body.name,
                "xml": m.body.xml.decode("utf-8", "replace"),
                "typed": None if typed is None else _jsonable(typed),
                "not_readable": problem,
            },
        }
    h = m.header
    info = h.response_code_info
    out: dict[str, Any] = {
        "kind": "alert" if m.is_alert else "response",
        "schema_version": m.schema_version,
        "header": {
            "request_id": _rid_json(h.request_id),
            "response_id": _rid_json(h.response_id),
            "response_code": h.response_code,
            "response_code_kind": h.kind,
            "response_code_meaning": info.meaning if info else None,
            "response_date_time": h.response_date_time,
        },
    }
    b = m.body
    body: dict[str, Any]
    if isinstance(b, model.ResponseMessage):
        body = {
            "element": "ResponseMessage",
            "srv": _srv_json(b.service_reference, b.service_reference_variant, b.srv, b.srv_error),
        }
        c = b.content
        if isinstance(c, model.Body):
            body["content"] = _jsonable(c)
        elif c is not None:
            body["content"] = {"element": type(c).__name__, **_jsonable(c)}
    elif isinstance(b, model.Body):
        body = _jsonable(b)
    else:
        body = {"element": type(b).__name__, **_jsonable(b)}
    out["body"] = body
    return out


@duis_group.command("transform")
@click.option(
    "--verify-off",
    is_flag=True,
    help="Do not verify the XML signature (the RTDS templates carry placeholder ones).",
)
@_KEYS
@click.option(
    "--gbcs-keys",
    "gbcs_key_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="GBCS key directory (<eui>[-pp]-<ka|ds>.<pem|key>): the ACB's KA private key and "
    "the devices' KA public keys, to MAC non-critical commands; repeatable.",
)
@click.option(
    "--acb",
    default=None,
    metavar="EUI",
    callback=lambda _ctx, _param, value: _acb_eui(value),
    help="EUI of the Access Control Broker that MACs commands (default: the DCC Boxed ACB).",
)
@click.option(
    "--target-type",
    default=None,
    metavar="TYPE",
    help="Device type of every request's target: ESME, GSME, GPF or CHF (a target EUI "
    "does not say it).",
)
@click.option(
    "--dcc-counter",
    type=click.IntRange(0, 2**64 - 1),
    default=None,
    metavar="N",
    help="The DCC's own counter, for GBCS the DCC originates (ACB or Transitional CoS "
    "commands); default: the current time in milliseconds since 1970, which rises from "
    "one run to the next as a GBCS counter must.",
)
@click.option(
    "--at",
    "at",
    default=None,
    metavar="TIME",
    help="The DCC's build time (ISO 8601, e.g. 2026-01-01T00:00:00Z), which GBCS such as a "
    "ZCL Issuer Event ID carries; default: now.",
)
@click.option(
    "--pre-command",
    "pre_command",
    default=None,
    metavar="HEX",
    help="For a signed pre-command (command variants 5-7): the pre-command the DCC "
    "returned; the signed one must be it, signed.",
)
@click.option(
    "--esme-variant",
    default=None,
    metavar="VARIANT",
    help="The target ESME's variant as the DCC's inventory records it (DUIS ESMEVariant: "
    "A single element, B twin element, C polyphase, with any load-control letters, e.g. "
    "AD), where the number of phases picks the use case (SRV 4.10, 6.2.1, 6.27).",
)
@click.option(
    "--user-role",
    default=None,
    metavar="ROLE",
    help="The requesting user's DUIS role (IS, ES, GS, ED, GT, RSA, OU), as the DCC's user "
    "registry has it, where it picks the use case (SRV 6.2.10 to an ESME).",
)
@click.option(
    "--cin",
    default=None,
    metavar="NNNN",
    help="The Customer Identification Number the DCC chooses for SRV 9.1 (four digits); "
    "default: four random digits, as the DCC picks one.",
)
@click.argument("files", nargs=-1, required=True)
def transform_cmd(
    verify_off: bool,
    keys_dirs: tuple[Path, ...],
    gbcs_key_dirs: tuple[Path, ...],
    acb: bytes | None,
    target_type: str | None,
    dcc_counter: int | None,
    at: str | None,
    pre_command: str | None,
    esme_variant: str | None,
    user_role: str | None,
    cin: str | None,
    files: tuple[str, ...],
) -> None:
    """Transform each DUIS request FILE ('-' = stdin) into the GBCS the DCC would send:
    a critical request (command variant 4) into its pre-command, for the user to sign;
    a signed pre-command (command variants 5-7) into the command; a non-critical one
    into the command, MAC'd by the ACB with --gbcs-keys. Prints
    'file<TAB>hex' per request (a summary of each on stderr), or 'file<TAB>error:
    <response code> <reason>'. The XML signature is verified first with the --keys
    certificates, unless --verify-off. Exits 0 only when every file was transformed."""
    from emulator.duis.transform import EMULATED_DEVICE_TYPES, Refusal, transform
    from gbcs.security import DEFAULT_ACB
    from keys.store import KeyStore

    model = _model()
    xmlsig = _xmlsig()
    if target_type is not None and target_type.strip().upper() not in EMULATED_DEVICE_TYPES:
        raise click.ClickException(
            f"--target-type {target_type!r}: not an emulated device type (one of "
            f"{', '.join(EMULATED_DEVICE_TYPES)})"
        )
    if esme_variant is not None:
        from emulator.duis.routing import ESME_VARIANTS

        if esme_variant not in ESME_VARIANTS:
            raise click.ClickException(
                f"--esme-variant {esme_variant!r}: not a DUIS ESMEVariant (A, B, C, AD, ...)"
            )
    if user_role is not None:
        from emulator.duis.tables import USER_ROLES

        if user_role not in USER_ROLES:
            raise click.ClickException(
                f"--user-role {user_role!r}: not one of {', '.join(USER_ROLES)}"
            )
    if cin is None:
        cin = f"{secrets.randbelow(10_000):04d}"
    now = _build_time(at)
    known = _hex_option("--pre-command", pre_command)
    if dcc_counter is None:
        dcc_counter = int(time.time() * 1000)
    xml_keys = _load_keys(keys_dirs) if not verify_off else None
    if gbcs_key_dirs:
        from emulator.cli.keyload import load_keys

        gbcs_keys = load_keys(gbcs_key_dirs)
    else:
        gbcs_keys = KeyStore()
    failed = 0
    for file in files:
        try:
            name, data = _read(file)
        except click.ClickException as e:
            click.echo(f"{file}\terror: {e.format_message()}")
            failed += 1
            continue
        request = _transform_input(model, xmlsig, data, xml_keys)
        if isinstance(request, str):
            click.echo(f"{name}\terror: {request}")
            failed += 1
            continue
        result = transform(
            request,
            target_type=target_type,
            keys=gbcs_keys,
            acb=acb or DEFAULT_ACB,
            now=now,
            dcc_counter=dcc_counter,
            pre_command=known,
            esme_variant=esme_variant,
            user_role=user_role,
            cin=cin,
        )
        if isinstance(result, Refusal):
            line = result.line()
            if not gbcs_key_dirs and "cannot MAC" in line:
                line += " (give --gbcs-keys DIR)"
            click.echo(f"{name}\terror: {line}")
            failed += 1
            continue
        click.echo(f"{name}\t{result.gbcs.hex().upper()}")
        click.echo(f"{name}: {result.summary()}", err=True)
    if failed:
        sys.exit(1)


def _build_time(at: str | None) -> datetime | None:
    """``--at`` as an aware date-time (UTC when no zone is given), None for now."""
    if at is None:
        return None
    text = at.strip()
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise click.ClickException(f"--at {at!r}: not an ISO 8601 date-time") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def _hex_option(name: str, value: str | None) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value.replace(" ", ""))
    except ValueError:
        raise click.ClickException(f"{name}: not hex") from None


def _transform_input(
    model: ModuleType, xmlsig: ModuleType, data: bytes, xml_keys: XmlKeyStore | None
) -> duis_model.Request | str:
    """The request in ``data``, or one line saying why it cannot be transformed."""
    try:
        message = model.parse(data)
    except model.DuisModelError as e:
        return str(e)
    if not isinstance(message, model.Request):
        return "not a DUIS request (a response or alert)"
    if xml_keys is not None:
        checked = xmlsig.verify(data, xml_keys)
        if not checked.ok:
            hint = "" if len(xml_keys) else " (no certificates loaded: give --keys DIR)"
            return f"XML signature {checked.line()}{hint} (--verify-off skips the check)"
    return message


@duis_group.command("srvs")
@click.option("--json", "as_json", is_flag=True, help="One JSON object per SRV variant.")
@click.option(
    "--markdown",
    is_flag=True,
    help="A Markdown table (the one at the end of docs/duis.md).",
)
@click.option(
    "--all",
    "show_all",
    is_flag=True,
    help="Also the non-device SRVs and those with no emulated device type.",
)
def srvs_cmd(as_json: bool, markdown: bool, show_all: bool) -> None:
    """The DUIS SRV variants and what `duis transform` does with each: the emulated device
    types it transforms them for, and why the others are not transformed yet."""
    _xmlsig()
    from emulator.duis import tables
    from emulator.duis.transform import EMULATED_DEVICE_TYPES, NOT_YET, ROUTES

    rows = []
    for srv in tables.SRVS.values():
        emulated = [d for d in srv.device_types if d in EMULATED_DEVICE_TYPES]
        if not show_all and (srv.non_device or not emulated):
            continue
        route = ROUTES.get(srv.variant)
        done = [d for d in emulated if route is not None and d in route.planners]
        rows.append(
            {
                "srv": srv.variant,
                "name": srv.name,
                "critical": srv.critical,
                "non_device": srv.non_device,
                "future_dated": srv.future_dated,
                "body": route.body if route is not None else None,
                "transformed": done,
                "not_yet": {
                    d: NOT_YET.get((srv.variant, d), "no route yet")
                    for d in emulated
                    if d not in done
                },
            }
        )
    if as_json:
        for row in rows:
            click.echo(json.dumps(row))
        return
    if markdown:
        click.echo(srvs_markdown(rows))
        return
    for row in rows:
        kind = "critical" if row["critical"] else "non-device" if row["non_device"] else ""
        done = ",".join(row["transformed"]) or "-"
        click.echo(f"{row['srv']:<8} {done:<18} {kind:<10} {row['name']}")
        for device, why in row["not_yet"].items():
            click.echo(f"{'':<8}   {device}: not yet: {why}")
    variants = [r for r in rows if r["transformed"]]
    pairs = sum(len(r["transformed"]) for r in rows)
    left = sum(len(r["not_yet"]) for r in rows)
    click.echo(
        f"{len(variants)} SRV variant(s) transformed for {pairs} (SRV, device type) pair(s); "
        f"{left} pair(s) not yet",
        err=True,
    )


def srvs_markdown(rows: list[dict[str, Any]]) -> str:
    """The ``duis srvs`` rows as a Markdown table (SRV, name, transformed for, not yet)."""
    out = [
        "| SRV | name | transformed for | not yet, and why |",
        "|---|---|---|---|",
    ]
    for row in rows:
        name = row["name"] + (" (critical)" if row["critical"] else "")
        done = ", ".join(row["transformed"]) or "-"
        why = "; ".join(f"{d}: {w}" for d, w in row["not_yet"].items()).replace("|", "/")
        out.append(f"| {row['srv']} | {name} | {done} | {why} |")
    return "\n".join(out)
