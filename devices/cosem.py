"""The COSEM object model a DLMS device (ESME, CHF) answers GET/SET/ACTION from.

A model is a set of objects keyed by ``(class id, OBIS)``. Each object holds attribute
values as :class:`gbcs.axdr.Data` and says which attributes a remote party may write and
which methods exist. Behaviours (max demand, clock, firmware …) *bind* live attributes and
methods with Python callables, so a response is always built from the device's state and
can never disagree with a later read.

Profiles are data: a JSON document ``{"objects": [...]}`` where each object is::

    {"class": 3, "obis": "1-0:1.8.0.255", "name": "optional text",
     "attributes": {"2": "<hex A-XDR Data>", "3": "<hex>"},
     "writable": [2], "methods": [1]}

Attribute values are hex A-XDR so every DLMS type (structures, bit-strings, dates) is
written once, exactly as it travels. ``writable`` lists attributes a SET may change (the
new value must have the same type tree as the stored one); ``methods`` lists methods an
ACTION may invoke (without a bound handler an ACTION on a listed method succeeds and
returns nothing).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

from gbcs.axdr import Data, DataType, decode_data_bytes, encode_data
from gbcs.dlms import ActionResultCode, DataAccessResult, Obis
from gbcs.errors import GbcsDecodeError

__all__ = [
    "ActionHandler",
    "AttributeGetter",
    "AttributeSetter",
    "CosemModel",
    "CosemObject",
    "ProfileError",
    "SelectiveGetter",
    "load_profile",
    "same_type",
]

ObjectKey = tuple[int, bytes]

AttributeGetter = Callable[[], Data]
"""Returns the live value of a bound attribute."""

AttributeSetter = Callable[[Data], DataAccessResult]
"""Applies a SET to a bound attribute; anything but SUCCESS leaves state unchanged."""

ActionHandler = Callable[[Data], tuple[ActionResultCode, Data | None]]
"""Runs a method with its parameter; returns the action result and optional return data."""

SelectiveGetter = Callable[[int, Data], tuple[DataAccessResult, Data | None]]
"""Answers a GET with selective access (selector, parameters), e.g. a log range read."""


class ProfileError(ValueError):
    """A device profile document is malformed (names the object and attribute)."""


def same_type(a: Data, b: Data) -> bool:
    """True when ``b`` has ``a``'s type tree (tags, structure sizes, fixed octet sizes).

    Arrays may change length (their elements must match the first stored element's type
    when the stored array is non-empty); octet- and bit-strings may change length unless
    the stored value is a COSEM date/time-sized octet-string (4, 5 or 12 bytes).
    """
    if a.tag != b.tag:
        return False
    if a.tag == DataType.STRUCTURE:
        return len(a.value) == len(b.value) and all(
            same_type(x, y) for x, y in zip(a.value, b.value, strict=True)
        )
    if a.tag == DataType.ARRAY:
        if not a.value:
            return True
        return all(same_type(a.value[0], y) for y in b.value)
    if a.tag == DataType.OCTET_STRING and len(a.value) in (4, 5, 12):
        return len(b.value) == len(a.value)
    return True


@dataclass(frozen=True, slots=True)
class ModelSnapshot:
    """What :meth:`CosemModel.snapshot` saved: object and attribute values by key."""

    objects: dict[ObjectKey, tuple[CosemObject, dict[int, Data]]]


@dataclass(slots=True)
class CosemObject:
    """One COSEM object: stored attributes, writable set, methods and bound behaviour."""

    class_id: int
    obis: Obis
    attributes: dict[int, Data] = field(default_factory=dict)
    writable: set[int] = field(default_factory=set)
    methods: set[int] = field(default_factory=set)
    name: str = ""
    #: Stored attributes that are not ``writable`` but were changed by the control API
    #: (:mod:`devices.control`): they persist like writable ones.
    overridden: set[int] = field(default_factory=set)
    getters: dict[int, AttributeGetter] = field(default_factory=dict, repr=False)
    setters: dict[int, AttributeSetter] = field(default_factory=dict, repr=False)
    actions: dict[int, ActionHandler] = field(default_factory=dict, repr=False)
    selective: dict[int, SelectiveGetter] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> ObjectKey:
        return (self.class_id, self.obis.to_bytes())

    def get(self, attribute: int) -> tuple[DataAccessResult, Data | None]:
        """The attribute's value, or the data-access-result explaining why not."""
        if attribute == 1:
            return DataAccessResult.SUCCESS, Data.octet_string(self.obis.to_bytes())
        getter = self.getters.get(attribute)
        if getter is not None:
            return DataAccessResult.SUCCESS, getter()
        value = self.attributes.get(attribute)
        if value is None:
            return DataAccessResult.OBJECT_UNAVAILABLE, None
        return DataAccessResult.SUCCESS, value

    def get_selected(
        self, attribute: int, selector: int, parameters: Data
    ) -> tuple[DataAccessResult, Data | None]:
        """A GET with selective access; attributes without a selective getter ignore it."""
        handler = self.selective.get(attribute)
        if handler is not None:
            return handler(selector, parameters)
        return self.get(attribute)

    def set(self, attribute: int, value: Data) -> DataAccessResult:
        """Write an attribute (bound setter first, then the stored writable value)."""
        setter = self.setters.get(attribute)
        if setter is not None:
            return setter(value)
        if attribute not in self.writable:
            if attribute in self.attributes or attribute in self.getters or attribute == 1:
                return DataAccessResult.READ_WRITE_DENIED
            return DataAccessResult.OBJECT_UNAVAILABLE
        current = self.attributes.get(attribute)
        if current is not None and not same_type(current, value):
            return DataAccessResult.TYPE_UNMATCHED
        self.attributes[attribute] = value
        return DataAccessResult.SUCCESS

    def action(self, method: int, parameter: Data) -> tuple[ActionResultCode, Data | None]:
        """Invoke a method (bound handler, else a no-op success for a listed method)."""
        handler = self.actions.get(method)
        if handler is not None:
            return handler(parameter)
        if method in self.methods:
            return ActionResultCode.SUCCESS, None
        return ActionResultCode.OBJECT_UNAVAILABLE, None


class CosemModel:
    """All COSEM objects of one device, with GET/SET/ACTION by (class id, OBIS)."""

    def __init__(self, objects: Iterable[CosemObject] = ()) -> None:
        self._objects: dict[ObjectKey, CosemObject] = {}
        self._by_obis: dict[bytes, CosemObject] = {}
        for o in objects:
            self.add(o)

    def add(self, obj: CosemObject) -> CosemObject:
        """Add (or replace) an object."""
        self._objects[obj.key] = obj
        self._by_obis[obj.obis.to_bytes()] = obj
        return obj

    def find(self, class_id: int, obis: Obis | bytes) -> CosemObject | None:
        """The object with this class id and OBIS, or None."""
        raw = obis if isinstance(obis, bytes) else obis.to_bytes()
        return self._objects.get((class_id, raw))

    def require(self, class_id: int, obis: str | Obis) -> CosemObject:
        """The object (creating an empty one if the profile lacks it) for binding."""
        o = obis if isinstance(obis, Obis) else Obis.parse(obis)
        found = self.find(class_id, o)
        return found if found is not None else self.add(CosemObject(class_id, o))

    def lookup(self, class_id: int, obis: Obis) -> tuple[CosemObject | None, DataAccessResult]:
        """Object plus the result to answer when it is missing or of another class."""
        raw = obis.to_bytes()
        obj = self._objects.get((class_id, raw))
        if obj is not None:
            return obj, DataAccessResult.SUCCESS
        if raw in self._by_obis:
            return None, DataAccessResult.OBJECT_CLASS_INCONSISTENT
        return None, DataAccessResult.OBJECT_UNDEFINED

    def bind(
        self,
        class_id: int,
        obis: str | Obis,
        attribute: int,
        getter: AttributeGetter | None = None,
        setter: AttributeSetter | None = None,
    ) -> None:
        """Attach live behaviour to an attribute."""
        obj = self.require(class_id, obis)
        if getter is not None:
            obj.getters[attribute] = getter
        if setter is not None:
            obj.setters[attribute] = setter

    def bind_selective(
        self, class_id: int, obis: str | Obis, attribute: int, handler: SelectiveGetter
    ) -> None:
        """Attach a selective-access reader (e.g. a log's range read) to an attribute."""
        self.require(class_id, obis).selective[attribute] = handler

    def bind_method(
        self, class_id: int, obis: str | Obis, method: int, handler: ActionHandler
    ) -> None:
        """Attach a handler to a method."""
        obj = self.require(class_id, obis)
        obj.methods.add(method)
        obj.actions[method] = handler

    def objects(self) -> tuple[CosemObject, ...]:
        """Every object, in insertion order."""
        return tuple(self._objects.values())

    def __len__(self) -> int:
        return len(self._objects)

    def snapshot(self) -> ModelSnapshot:
        """Every object's stored attributes as they are now, cheaply (values are
        immutable, so copying each attribute dict suffices): for :meth:`restore`."""
        return ModelSnapshot({k: (o, dict(o.attributes)) for k, o in self._objects.items()})

    def restore(self, snap: ModelSnapshot) -> None:
        """Back to :meth:`snapshot` exactly (objects added since are removed)."""
        self._objects.clear()
        self._by_obis.clear()
        for obj, attributes in snap.objects.values():
            obj.attributes = dict(attributes)
            self.add(obj)

    # state: only stored (writable) attribute values persist; bound ones live elsewhere.
    def to_dict(self) -> dict[str, str]:
        """Stored values of writable attributes as ``{"class/obis/attr": hex}``."""
        out: dict[str, str] = {}
        for o in self._objects.values():
            for a in sorted(o.writable | o.overridden if o.overridden else o.writable):
                v = o.attributes.get(a)
                if v is not None and a not in o.setters:
                    out[f"{o.class_id}/{o.obis}/{a}"] = encode_data(v).hex()
        return out

    def load_dict(self, state: Mapping[str, str]) -> None:
        """Restore values saved by :meth:`to_dict` (unknown keys are ignored)."""
        for key, hexval in state.items():
            try:
                cid, obis, attr = key.split("/")
                obj = self.find(int(cid), Obis.parse(obis))
                if obj is not None:
                    obj.attributes[int(attr)] = decode_data_bytes(bytes.fromhex(hexval))
                    if int(attr) not in obj.writable:
                        obj.overridden.add(int(attr))
            except (ValueError, GbcsDecodeError) as e:
                raise ProfileError(f"bad saved COSEM value {key!r}: {e}") from e


def _parse_object(raw: Mapping[str, Any], where: str) -> CosemObject:
    try:
        class_id = int(raw["class"])
        obis = Obis.parse(str(raw["obis"]))
    except (KeyError, TypeError, ValueError) as e:
        raise ProfileError(f"{where}: needs an integer 'class' and an 'obis' ({e})") from e
    attrs: dict[int, Data] = {}
    for k, v in dict(raw.get("attributes", {})).items():
        try:
            attrs[int(k)] = decode_data_bytes(bytes.fromhex(str(v)))
        except (ValueError, GbcsDecodeError) as e:
            raise ProfileError(f"{where} {obis} attribute {k}: {e}") from e
    try:
        writable = {int(a) for a in raw.get("writable", [])}
        methods = {int(m) for m in raw.get("methods", [])}
    except (TypeError, ValueError) as e:
        raise ProfileError(f"{where} {obis}: 'writable'/'methods' must list integers") from e
    return CosemObject(class_id, obis, attrs, writable, methods, str(raw.get("name", "")))


@functools.cache
def _bundled(name: str) -> tuple[CosemObject, ...]:
    """A bundled profile parsed once (its objects are templates, copied per device)."""
    try:
        text = resources.files("devices.profiles").joinpath(f"{name}.json").read_text()
    except FileNotFoundError as e:
        raise ProfileError(f"no bundled profile {name!r}") from e
    objs = json.loads(text).get("objects")
    if not isinstance(objs, list):
        raise ProfileError("a profile needs an 'objects' list")
    return tuple(_parse_object(o, f"objects[{i}]") for i, o in enumerate(objs))


def _copy(o: CosemObject) -> CosemObject:
    # Data values are immutable, so sharing them is safe; the containers are per device.
    return CosemObject(
        o.class_id, o.obis, dict(o.attributes), set(o.writable), set(o.methods), o.name
    )


def load_profile(source: str | Mapping[str, Any]) -> CosemModel:
    """A model from a profile document, or from the name of a bundled profile.

    ``source`` is a mapping (already parsed JSON) or a bundled profile name such as
    ``"esme"`` (``devices/profiles/esme.json``).
    """
    if isinstance(source, str):
        return CosemModel(_copy(o) for o in _bundled(source))
    doc = source
    objs = doc.get("objects") if isinstance(doc, Mapping) else None
    if not isinstance(objs, list):
        raise ProfileError("a profile needs an 'objects' list")
    return CosemModel(_parse_object(o, f"objects[{i}]") for i, o in enumerate(objs))
