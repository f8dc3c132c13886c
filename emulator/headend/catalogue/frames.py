"""Whole command frames <-> ``{id, use_case, args, header, form}`` (issue 10 §2).

:func:`explain_frame` decodes a command or pre-command and returns plain JSON-able data:
the use case (by name, from the message code), its typed arguments (DLMS, GBZ or ASN.1,
see :mod:`.dlms_args`, :mod:`.gbz_args`, :mod:`.asn1_args`), its header (originator,
recipient, counter, date-time, other-information) and its form (the envelope and
signature field it came in). :func:`build_frame` turns that back into bytes:

* without signing keys: the pre-command form (General-Signing, no signature field), as
  the DCC hands a critical command to its signer;
* with keys: the full command, signed by the originator's DS key where the use case is
  critical and carrying the ACB MAC where its form is General-Ciphering.

``build_frame(explain_frame(b))`` reproduces ``b``: byte-identically for pre-commands and
unsigned commands (the MAC too, given the same keys), and up to the signature value for
signed ones (ECDSA's k is random; our signature verifies). An object may give the use
case's named arguments (``named``, as ``gbcs-emu usecase explain`` shows them for a
described use case) instead of ``args``: the catalogue entry builds the payload from
them, with the header's counter and EUIs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from gbcs.asn1 import Asn1Payload
from gbcs.codec import GbcsMessage, build, decode
from gbcs.crypto.ecdsa import SignatureVariant
from gbcs.dlms import AccessRequest
from gbcs.envelope import Cra, Envelope, GroupingHeader, OtherInformation, SignatureForm
from gbcs.errors import GbcsError
from gbcs.gbz import GbzPayload
from gbcs.security import DEFAULT_ACB, apply_mac, sign
from gbcs.usecases import lookup
from keys.certs import as_eui
from keys.roles import KeyUsage
from keys.store import KeyStore

from .dlms_args import date_time_text, parse_date_time

__all__ = ["FrameArgsError", "build_frame", "explain_frame"]


class FrameArgsError(ValueError):
    """A frame that is not a command, or an explained object that cannot be built (the
    message names the field and what is allowed)."""


def _eui(b: bytes) -> str:
    return b.hex().upper()


def _header_json(msg: GbcsMessage) -> dict[str, Any]:
    h = msg.header
    other: dict[str, Any] = {}
    o = h.other
    if o.srp_id is not None:
        other["srp_id"] = _eui(o.srp_id)
    if o.srp_counter is not None:
        other["srp_counter"] = o.srp_counter
    if o.supplementary_originator_counter is not None:
        other["supplementary_originator_counter"] = o.supplementary_originator_counter
    if o.certificate is not None:
        other["certificate"] = o.certificate.hex().upper()  # opaque: an X.509 certificate
    out: dict[str, Any] = {
        "originator": _eui(h.originator),
        "recipient": _eui(h.recipient),
        "counter": h.counter,
        "date_time": None if h.date_time is None else date_time_text(h.date_time),
    }
    if other:
        out["other_information"] = other
    return out


def _payload_args(msg: GbcsMessage) -> dict[str, Any]:
    p, code = msg.payload, msg.message_code
    if isinstance(p, AccessRequest):
        from .dlms_args import explain_dlms

        return explain_dlms(p, code, msg.counter)
    if isinstance(p, GbzPayload):
        from .gbz_args import explain_gbz

        return explain_gbz(p, code)
    if isinstance(p, Asn1Payload):
        from .asn1_args import explain_asn1

        return explain_asn1(p, code)
    raise FrameArgsError(f"a {p.kind.value} payload is not a command's")


def explain_frame(data: bytes, frame_id: str | None = None) -> dict[str, Any]:
    """The use case, typed arguments, header and form of a command or pre-command."""
    msg = decode(data)
    if msg.cra is not Cra.COMMAND:
        raise FrameArgsError(f"a {msg.cra.name.lower()}, not a command")
    uc = lookup(msg.message_code)
    out: dict[str, Any] = {}
    if frame_id is not None:
        out["id"] = frame_id
    out["use_case"] = uc.name if uc is not None else None
    out["message_code"] = f"0x{msg.message_code:04X}"
    out["args"] = _payload_args(msg)
    out["header"] = _header_json(msg)
    out["form"] = {
        "envelope": msg.envelope.value,
        "signature": msg.signature_form.value,
    }
    return out


# ------------------------------------------------------------------------- build


def _field(obj: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in obj:
        raise FrameArgsError(f"{where}.{key}: missing")
    return obj[key]


def _message_code(obj: Mapping[str, Any]) -> int:
    code = obj.get("message_code")
    if code is None:
        from gbcs.usecases import by_name

        name = obj.get("use_case")
        if not isinstance(name, str):
            raise FrameArgsError("use_case or message_code: missing")
        uc = by_name(name)
        if uc is None:
            raise FrameArgsError(f"use_case {name!r}: unknown use case")
        return uc.code
    try:
        value = int(code, 0) if isinstance(code, str) else int(code)
    except (TypeError, ValueError):
        raise FrameArgsError(f"message_code {code!r}: expected 0xNNNN") from None
    if not 0 <= value <= 0xFFFF:
        raise FrameArgsError(f"message_code {code!r}: out of range 0x0000..0xFFFF")
    return value


def _header(obj: Mapping[str, Any], code: int) -> GroupingHeader:
    h = _field(obj, "header", "")
    if not isinstance(h, Mapping):
        raise FrameArgsError("header: expected an object")
    try:
        originator = as_eui(str(_field(h, "originator", "header")))
        recipient = as_eui(str(_field(h, "recipient", "header")))
    except ValueError as e:
        raise FrameArgsError(f"header: {e}") from None
    counter = _field(h, "counter", "header")
    if isinstance(counter, bool) or not isinstance(counter, int) or not 0 <= counter < 2**64:
        raise FrameArgsError(f"header.counter {counter!r}: expected an integer 0..2**64-1")
    dt = h.get("date_time")
    date_time = None
    if dt is not None:
        try:
            date_time = parse_date_time(dt, "header.date_time")
        except ValueError as e:
            raise FrameArgsError(str(e)) from None
    o = h.get("other_information") or {}
    try:
        other = OtherInformation(
            code,
            srp_id=as_eui(o["srp_id"]) if "srp_id" in o else None,
            srp_counter=o.get("srp_counter"),
            supplementary_originator_counter=o.get("supplementary_originator_counter"),
            certificate=bytes.fromhex(o["certificate"]) if "certificate" in o else None,
        )
    except (ValueError, TypeError) as e:
        raise FrameArgsError(f"header.other_information: {e}") from None
    return GroupingHeader(Cra.COMMAND, counter, originator, recipient, other, date_time)


def _named_payload(obj: Mapping[str, Any], code: int, header: GroupingHeader) -> Any:
    """The payload of a use case's named arguments (``named``), built by its catalogue
    entry as a head-end builds it."""
    from datetime import UTC, datetime

    from .entry import BuildContext, UseCaseError
    from .generic import generic_name

    named = obj["named"]
    if not isinstance(named, Mapping):
        raise FrameArgsError("named: expected an object")
    uc = lookup(code)
    if uc is None:
        raise FrameArgsError(f"named: message code 0x{code:04X} is not a use case")
    from emulator.headend import usecases

    try:
        entry = usecases.get(generic_name(uc))
        ctx = BuildContext(
            header.counter,
            header.originator,
            header.recipient,
            entry.default_role,
            datetime.now(UTC),
        )
        return entry.payload(named, ctx)
    except UseCaseError as e:
        raise FrameArgsError(f"named: {e}") from None


def _payload(obj: Mapping[str, Any], code: int, header: GroupingHeader) -> Any:
    if "args" not in obj and "named" in obj:
        return _named_payload(obj, code, header)
    counter = header.counter
    args = obj.get("args", {})
    if not isinstance(args, Mapping):
        raise FrameArgsError("args: expected an object")
    uc = lookup(code)
    kind = (
        uc.payload_kind if uc is not None and uc.payload_kind in ("dlms", "gbz", "asn1") else None
    )
    kind_name = kind or _guess_kind(args)
    if kind_name == "dlms":
        from .dlms_args import build_dlms

        return build_dlms(args, code, counter)
    if kind_name == "gbz":
        from .gbz_args import build_gbz

        return build_gbz(args, code)
    from .asn1_args import build_asn1

    return build_asn1(args, code)


def _guess_kind(args: Mapping[str, Any]) -> str:
    if "items" in args:
        return "dlms"
    if "components" in args:
        return "gbz"
    return "asn1"


def build_frame(
    obj: Mapping[str, Any],
    keys: KeyStore | None = None,
    *,
    acb: bytes = DEFAULT_ACB,
    variant: SignatureVariant = SignatureVariant.CNSA,
) -> bytes:
    """The frame for an :func:`explain_frame` object (see the module docstring)."""
    code = _message_code(obj)
    header = _header(obj, code)
    payload = _payload(obj, code, header)
    form = obj.get("form") or {}
    if not isinstance(form, Mapping):
        raise FrameArgsError("form: expected an object")
    uc = lookup(code)
    critical = bool(uc is not None and uc.critical)
    try:
        envelope = Envelope(form.get("envelope", Envelope.GENERAL_CIPHERING.value))
        # what the use case implies when the object does not say (a few critical use
        # cases also have MAC-only variants with a null signature, e.g. CS02a by MAC)
        default = SignatureForm.PRESENT if critical else SignatureForm.NULL
        signature = SignatureForm(form.get("signature", default.value))
    except ValueError as e:
        raise FrameArgsError(f"form: {e}") from None
    if keys is None:
        # what needs no key is built as it is; anything else as the pre-command (no
        # signature field), the form the originator signs
        keyless = envelope is Envelope.GENERAL_SIGNING and signature is not SignatureForm.PRESENT
        form_now = signature if keyless else SignatureForm.ABSENT
        msg = build(header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=form_now)
        return msg.encode()
    msg = build(header, payload, envelope=Envelope.GENERAL_SIGNING, signature_form=signature)
    if signature is SignatureForm.PRESENT:
        ds = keys.private_key(header.originator, KeyUsage.DS)
        if ds is None:
            raise FrameArgsError(
                f"header.originator {_eui(header.originator)}: no DS private key to sign "
                "this critical command (give --keys with it, or build the pre-command)"
            )
        msg = sign(msg, ds, variant)
    if envelope is Envelope.GENERAL_CIPHERING:
        try:
            msg = apply_mac(msg, keys, acb)
        except GbcsError as e:
            raise FrameArgsError(f"cannot apply the ACB MAC: {e}") from None
    else:
        msg = dataclasses.replace(msg, envelope=Envelope.GENERAL_SIGNING)
    return msg.encode()
