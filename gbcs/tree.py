"""A display tree: what ``gbcs-emu decode`` prints and ``--json`` emits.

Every decoded structure can describe itself as :class:`Field` nodes: a name, the
absolute offset and raw bytes of its slice in the message, a human-readable value and
children. The tree is for people and tools; the typed objects are the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Field:
    """One node of the display tree."""

    name: str
    offset: int
    raw: bytes
    value: str | None = None
    children: tuple[Field, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (hex in upper case, children only when present)."""
        out: dict[str, Any] = {
            "name": self.name,
            "offset": self.offset,
            "hex": self.raw.hex().upper(),
        }
        if self.value is not None:
            out["value"] = self.value
        if self.children:
            out["children"] = [c.to_json() for c in self.children]
        return out

    def walk(self) -> list[Field]:
        """This node and all descendants, depth first."""
        out = [self]
        for c in self.children:
            out.extend(c.walk())
        return out


def leaf(name: str, buf: bytes, start: int, end: int, value: object = None) -> Field:
    """A childless node over ``buf[start:end]``."""
    return Field(name, start, bytes(buf[start:end]), None if value is None else str(value))
