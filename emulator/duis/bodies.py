"""DUIS bodies: an element kept as its name and XML subtree, and the typed views of
the request bodies modelled so far (sans-IO).

:class:`Body` keeps any body element as its local name and exclusive-C14N bytes, so a
message round-trips whatever its SRV. :meth:`Body.typed` gives a typed view for SRV
4.1.1 (``ReadInstantaneousImportRegisters``), 7.2 (``DisableSupply``), 8.2
(``ReadInventory``), 11.2 (``ReadFirmwareVersion``) and the CV5-7 ``SignedPreCommand``;
element and field names are those of the DUIS 5.4 XML schema.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from lxml import etree

from emulator.duis import xmlsig

SR_NS = xmlsig.SR_NS
_SR = "{" + SR_NS + "}"
_MAX_SHOWN = 60


class DuisModelError(ValueError):
    """A document that is not a DUIS message this model can hold; ``str()`` is one line."""


def _shown(text: str | None) -> str:
    t = " ".join((text or "").split())
    return repr(t if len(t) <= _MAX_SHOWN else t[: _MAX_SHOWN - 1] + "…")


@dataclass(frozen=True, slots=True)
class Body:
    """An XML element kept as its local name and canonical (exclusive C14N) bytes."""

    name: str
    xml: bytes

    @classmethod
    def of(cls, el: etree._Element) -> Body:
        """Capture ``el`` (comments dropped)."""
        return cls(etree.QName(el).localname, _c14n(el))

    def element(self) -> etree._Element:
        """A fresh copy of the element."""
        return etree.fromstring(self.xml, xmlsig._parser())

    def typed(self) -> TypedBody | None:
        """The typed view of this body, or None when its element is not modelled here
        (the routed SRVs' bodies: :func:`emulator.duis.routing.typed_body`)."""
        make = _TYPED.get(self.name)
        return make(self.element()) if make else None


def _c14n(el: etree._Element) -> bytes:
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=False)


# --- typed request bodies -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReadInstantaneousImportRegisters:
    """SRV 4.1.1 body: optional future-dated ``ExecutionDateTime``."""

    execution_date_time: str | None = None


@dataclass(frozen=True, slots=True)
class DisableSupply:
    """SRV 7.2 (supply disconnect) body: no fields."""


@dataclass(frozen=True, slots=True)
class ReadFirmwareVersion:
    """SRV 11.2 body: optional future-dated ``ExecutionDateTime``."""

    execution_date_time: str | None = None


@dataclass(frozen=True, slots=True)
class ReadInventory:
    """SRV 8.2 body: exactly one of device, UPRN, MPxN or a property filter."""

    #: ``DeviceID``, ``UPRN``, ``MPxN`` or ``PropertyFilter``.
    by: str
    #: The text of that element (for ``PropertyFilter``, its children ``name=value``).
    value: str


@dataclass(frozen=True, slots=True)
class SignedPreCommand:
    """CV5-7 body: the GBCS pre-command signed by the user, with its SRV header."""

    gbcs_payload: bytes
    execution_date_time: str | None = None


TypedBody = (
    ReadInstantaneousImportRegisters
    | DisableSupply
    | ReadFirmwareVersion
    | ReadInventory
    | SignedPreCommand
)


def _children(el: etree._Element) -> list[etree._Element]:
    return [c for c in el if isinstance(c.tag, str)]


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _execution(el: etree._Element) -> str | None:
    t = el.findtext(_SR + "ExecutionDateTime")
    return t.strip() if t is not None else None


def _read_inventory(el: etree._Element) -> ReadInventory:
    kids = _children(el)
    if len(kids) != 1:
        raise DuisModelError("ReadInventory: needs exactly one of DeviceID, UPRN, MPxN, filter")
    k = kids[0]
    if _local(k) == "PropertyFilter":
        value = " ".join(f"{_local(c)}={(c.text or '').strip()}" for c in _children(k))
    else:
        value = (k.text or "").strip()
    return ReadInventory(_local(k), value)


_TYPED = {
    "ReadInstantaneousImportRegisters": lambda el: ReadInstantaneousImportRegisters(_execution(el)),
    "DisableSupply": lambda el: DisableSupply(),
    "ReadFirmwareVersion": lambda el: ReadFirmwareVersion(_execution(el)),
    "ReadInventory": _read_inventory,
    "SignedPreCommand": lambda el: SignedPreCommand(
        _b64(_text(el, "GBCSPayload", "SignedPreCommand"), "SignedPreCommand/GBCSPayload"),
        _execution(el),
    ),
}


def _b64(text: str, where: str) -> bytes:
    try:
        return base64.b64decode("".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise DuisModelError(f"{where}: not base64") from None


def _text(parent: etree._Element, name: str, where: str) -> str:
    el = parent.find(_SR + name)
    if el is None:
        raise DuisModelError(f"{where}: no {name}")
    if _children(el):
        raise DuisModelError(f"{where}/{name}: expected text, found elements")
    return (el.text or "").strip()
