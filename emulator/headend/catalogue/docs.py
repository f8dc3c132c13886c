"""What a user reads about one use case: ``gbcs-emu usecase show`` and the reference page.

:func:`use_case_doc` gathers, for any command use case the head-end builds, its registry
facts (code, title, targets, roles, criticality), how its arguments are given (named
parameters of a hand-written or described entry, else the structural ``args``), each
parameter's kind, default and what it accepts, the ASN.1 fields of an ASN.1 payload, and
the named response values with their units.
"""

from __future__ import annotations

from typing import Any

from gbcs.usecases import UseCase
from keys.roles import RemotePartyRole

from .asn1_args import describe_asn1
from .entry import CatalogEntry, UseCaseError
from .generic import ARGS_HELP, generic_name, resolve

__all__ = ["argument_style", "role_names", "use_case_doc"]


def role_names(uc: UseCase) -> list[str]:
    """The registry's roles of ``uc`` by their command-line names."""
    out = []
    for r in sorted(uc.roles):
        try:
            out.append(RemotePartyRole(r).cli_name)
        except ValueError:
            out.append(str(r))
    return out


def argument_style(name: str) -> str:
    """``typed`` (hand-written entry), ``described`` (declared as data) or
    ``structural`` (the ``args`` object only)."""
    from emulator.headend import usecases

    from .described import descriptions

    if usecases.is_typed(name):
        return "typed"
    if name.upper() in descriptions():
        return "described"
    return "structural"


def _value_docs(entry: CatalogEntry, name: str) -> list[dict[str, Any]]:
    docs = getattr(entry, "value_docs", ())
    if docs:
        return [_plain(d) for d in docs]
    from .described import descriptions

    desc = descriptions().get(name.upper())
    if desc is None:
        return []
    out = []
    for v in desc.values:
        row: dict[str, Any] = {"name": v.name, "kind": v.kind, "help": v.help}
        if v.unit:
            row["unit"] = v.unit
        elif v.scaler_unit:
            row["unit"] = "from the scaler-unit"
        if v.choices:
            row["choices"] = {n: c for c, n in v.choices.items()}
        out.append(row)
    return out


def _plain(doc: Any) -> dict[str, Any]:
    if isinstance(doc, dict):
        return dict(doc)
    fields = getattr(doc, "__slots__", None) or getattr(doc, "__dataclass_fields__", {})
    return {f: getattr(doc, f) for f in fields if getattr(doc, f) not in (None, "", ())}


def use_case_doc(name: str) -> dict[str, Any]:
    """The documentation of use case ``name`` (registry name, ``NAME@0xCODE`` or
    ``0xCODE``) as JSON-able data; :class:`UseCaseError` when there is no such command."""
    from emulator.headend import usecases

    uc = resolve(name)
    if uc is None:
        raise UseCaseError(f"unknown use case {name!r} (see gbcs-emu usecase list)")
    cname = generic_name(uc)
    entry = usecases.get(cname)
    style = argument_style(cname)
    params = []
    for p in entry.params:
        row: dict[str, Any] = {"name": p.name, "kind": p.kind}
        if p.required:
            row["required"] = True
        elif p.default is not None:
            row["default"] = (
                p.default if isinstance(p.default, int | str | bool) else str(p.default)
            )
        row["help"] = ARGS_HELP if p.name == "args" and style == "structural" else p.help
        params.append(row)
    doc: dict[str, Any] = {
        "name": cname,
        "message_code": f"0x{uc.code:04X}",
        "title": uc.title,
        "targets": [t.value for t in uc.targets],
        "roles": role_names(uc),
        "default_role": entry.default_role.cli_name,
        "critical": uc.critical,
        "replay_protection": uc.replay_protection,
        "future_dated": uc.future_dated,
        "payload": uc.payload_kind,
        "arguments": style,
        "params": params,
        "values": _value_docs(entry, cname),
    }
    schema = describe_asn1(uc.code) if uc.payload_kind == "asn1" else None
    if schema is not None:
        doc["asn1_fields"] = [
            {k: f[k] for k in ("name", "type", "gbcs_type", "optional", "help") if f.get(k)}
            for f in schema.get("fields", [])
        ]
    return doc
