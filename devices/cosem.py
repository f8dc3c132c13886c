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
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from importlib import resources
from types import MappingProxyType
from typing import Any

from gbcs.axdr import Data, DataType, decode_data_bytes, encode_data
from gbcs.dlms import ActionResultCode, DataAccessResult, Obis
from gbcs.errors import GbcsDecodeError, GbcsEncodeError

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
    """What :meth:`CosemModel.snapshot` saved: the overlay values and the bound or added
    objects, by key."""

    values: dict[ObjectKey, dict[int, Any]]
    views: dict[ObjectKey, CosemObject]


class CosemObject:
    """One COSEM object: stored attributes, writable set, methods and bound behaviour.

    Inside a :class:`CosemModel` an object is a *view* of the shared profile template:
    ``attributes`` reads fall through to the template and writes land in the model's
    overlay (copy-on-write), ``writable`` and ``methods`` are the template's frozen sets,
    and the binding dicts (``getters``, ``setters``, ``actions``, ``selective``) exist
    only on objects something was bound to.
    """

    __slots__ = (
        "_key",
        "actions",
        "attributes",
        "class_id",
        "getters",
        "methods",
        "name",
        "obis",
        "selective",
        "setters",
        "writable",
    )

    class_id: int
    obis: Obis
    attributes: MutableMapping[int, Data]
    writable: AbstractSet[int]
    methods: AbstractSet[int]
    name: str
    getters: Mapping[int, AttributeGetter]
    setters: Mapping[int, AttributeSetter]
    actions: Mapping[int, ActionHandler]
    selective: Mapping[int, SelectiveGetter]

    def __init__(
        self,
        class_id: int,
        obis: Obis,
        attributes: MutableMapping[int, Data] | None = None,
        writable: AbstractSet[int] | None = None,
        methods: AbstractSet[int] | None = None,
        name: str = "",
    ) -> None:
        self.class_id = class_id
        self.obis = obis
        self._key: ObjectKey = (class_id, obis.to_bytes())
        self.attributes = {} if attributes is None else attributes
        self.writable = set() if writable is None else writable
        self.methods = set() if methods is None else methods
        self.name = name
        self.getters = _NO_BINDINGS
        self.setters = _NO_BINDINGS
        self.actions = _NO_BINDINGS
        self.selective = _NO_BINDINGS

    def __repr__(self) -> str:
        return f"CosemObject({self.class_id}, {self.obis}, {dict(self.attributes)!r})"

    @property
    def key(self) -> ObjectKey:
        return self._key

    @property
    def overridden(self) -> set[int]:
        """Stored attributes that are not ``writable`` but were changed (e.g. by the
        control API, :mod:`devices.control`): they persist like writable ones. A copy:
        every changed value persists, so adding to it changes nothing."""
        attrs = self.attributes
        changed = attrs.changed() if isinstance(attrs, _Attributes) else set()
        return {a for a in changed if a not in self.writable}

    def get(self, attribute: int) -> tuple[DataAccessResult, Data | None]:
        """The attribute's value, or the data-access-result explaining why not."""
        if attribute == 1:
            return DataAccessResult.SUCCESS, Data.octet_string(self._key[1])
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


_NO_BINDINGS: Mapping[int, Any] = MappingProxyType({})
_DELETED: Any = object()


class _Attributes(MutableMapping[int, Data]):
    """Copy-on-write attribute values of one object in one model: reads fall through to
    the (shared, never written) template values, writes land in the model's overlay.
    A value written back to what the template holds leaves the overlay."""

    __slots__ = ("_base", "_key", "_model")

    def __init__(self, model: CosemModel, key: ObjectKey, base: Mapping[int, Data]) -> None:
        self._model = model
        self._key = key
        self._base = base

    def get(self, attribute: int, default: Any = None) -> Any:
        over = self._model._values.get(self._key)
        if over is not None:
            v = over.get(attribute, _MISSING)
            if v is not _MISSING:
                return default if v is _DELETED else v
        return self._base.get(attribute, default)

    def __getitem__(self, attribute: int) -> Data:
        v = self.get(attribute, _MISSING)
        if v is _MISSING:
            raise KeyError(attribute)
        return v  # type: ignore[no-any-return]

    def __contains__(self, attribute: object) -> bool:
        return self.get(attribute, _MISSING) is not _MISSING  # type: ignore[arg-type]

    def __setitem__(self, attribute: int, value: Data) -> None:
        self._model._write(self._key, attribute, value, self._base.get(attribute, _MISSING))

    def __delitem__(self, attribute: int) -> None:
        if attribute not in self:
            raise KeyError(attribute)
        base = self._base.get(attribute, _MISSING)
        self._model._write(self._key, attribute, _DELETED, base)

    def __iter__(self) -> Iterator[int]:
        over = self._model._values.get(self._key) or {}
        for a in self._base:
            if over.get(a) is not _DELETED:
                yield a
        for a, v in over.items():
            if a not in self._base and v is not _DELETED:
                yield a

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def changed(self) -> set[int]:
        """Attributes whose value differs from the template (the overlay's keys)."""
        return set(self._model._values.get(self._key) or ())


_MISSING: Any = object()


class _Template:
    """One parsed profile: objects shared, never written, by every model built from it."""

    __slots__ = ("index", "obis", "objects")

    def __init__(self, objects: Iterable[CosemObject]) -> None:
        self.objects: tuple[CosemObject, ...] = tuple(objects)
        self.index: dict[ObjectKey, CosemObject] = {o.key: o for o in self.objects}
        self.obis: frozenset[bytes] = frozenset(k[1] for k in self.index)


_NO_TEMPLATE = _Template(())


@functools.lru_cache(maxsize=4096)
def _parse_obis(text: str) -> tuple[Obis, bytes]:
    """An OBIS code in text and its bytes, parsed once per process: every device binds
    the same few dozen literals (Obis is immutable, so the result can be shared)."""
    o = Obis.parse(text)
    return o, o.to_bytes()


class CosemModel:
    """All COSEM objects of one device, with GET/SET/ACTION by (class id, OBIS).

    A model built by :func:`load_profile` shares its profile's parsed objects (the
    *template*, one per profile and process) with every other model of that profile and
    holds only its *overlay*: the attribute values that differ from the template, and
    the objects something was bound to or that were added. :meth:`find` and
    :meth:`lookup` hand out views whose ``attributes`` read through to the template and
    write into the overlay.
    """

    def __init__(
        self, objects: Iterable[CosemObject] = (), *, template: _Template | None = None
    ) -> None:
        self._template = _NO_TEMPLATE if template is None else template
        #: Objects bound to or added: they carry this model's bindings.
        self._views: dict[ObjectKey, CosemObject] = {}
        self._extra_obis: set[bytes] = set()
        #: The overlay: per object, attribute values that differ from the template.
        self._values: dict[ObjectKey, dict[int, Any]] = {}
        self._hex: dict[tuple[ObjectKey, int], str] = {}
        self._encoded: dict[str, str] | None = None
        for o in objects:
            self.add(o)

    # ------------------------------------------------------------------ objects

    def _view(self, t: CosemObject) -> CosemObject:
        v = CosemObject.__new__(CosemObject)
        v.class_id = t.class_id
        v.obis = t.obis
        v._key = t._key
        v.attributes = _Attributes(self, t._key, t.attributes)
        v.writable = t.writable
        v.methods = t.methods
        v.name = t.name
        v.getters = v.setters = v.actions = v.selective = _NO_BINDINGS
        return v

    def _get(self, key: ObjectKey) -> CosemObject | None:
        obj = self._views.get(key)
        if obj is None:
            t = self._template.index.get(key)
            if t is not None:
                obj = self._view(t)
        return obj

    def add(self, obj: CosemObject) -> CosemObject:
        """Add (or replace) an object; its current attribute values become its
        template (later writes land in this model's overlay)."""
        key = obj.key
        attrs = obj.attributes
        if not (isinstance(attrs, _Attributes) and attrs._model is self):
            obj.attributes = _Attributes(self, key, dict(attrs))
            self._values.pop(key, None)
            self._invalidate()
        self._views[key] = obj
        if key not in self._template.index:
            self._extra_obis.add(key[1])
        return obj

    def find(self, class_id: int, obis: Obis | bytes) -> CosemObject | None:
        """The object with this class id and OBIS, or None."""
        raw = obis if isinstance(obis, bytes) else obis.to_bytes()
        return self._get((class_id, raw))

    def require(self, class_id: int, obis: str | Obis) -> CosemObject:
        """The object (creating an empty one if the profile lacks it) for binding."""
        if isinstance(obis, Obis):
            o, raw = obis, obis.to_bytes()
        else:
            o, raw = _parse_obis(obis)
        key = (class_id, raw)
        found = self._views.get(key)
        if found is not None:
            return found
        t = self._template.index.get(key)
        if t is None:
            return self.add(CosemObject(class_id, o))
        view = self._views[key] = self._view(t)
        return view

    def lookup(self, class_id: int, obis: Obis) -> tuple[CosemObject | None, DataAccessResult]:
        """Object plus the result to answer when it is missing or of another class."""
        raw = obis.to_bytes()
        obj = self._get((class_id, raw))
        if obj is not None:
            return obj, DataAccessResult.SUCCESS
        if raw in self._template.obis or raw in self._extra_obis:
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
            if obj.getters is _NO_BINDINGS:
                obj.getters = {}
            obj.getters[attribute] = getter  # type: ignore[index]
        if setter is not None:
            if obj.setters is _NO_BINDINGS:
                obj.setters = {}
            obj.setters[attribute] = setter  # type: ignore[index]
            self._encoded = None  # a bound setter's value is not persisted here

    def bind_selective(
        self, class_id: int, obis: str | Obis, attribute: int, handler: SelectiveGetter
    ) -> None:
        """Attach a selective-access reader (e.g. a log's range read) to an attribute."""
        obj = self.require(class_id, obis)
        if obj.selective is _NO_BINDINGS:
            obj.selective = {}
        obj.selective[attribute] = handler  # type: ignore[index]

    def bind_method(
        self, class_id: int, obis: str | Obis, method: int, handler: ActionHandler
    ) -> None:
        """Attach a handler to a method."""
        obj = self.require(class_id, obis)
        if method not in obj.methods:
            obj.methods = frozenset((*obj.methods, method))
        if obj.actions is _NO_BINDINGS:
            obj.actions = {}
        obj.actions[method] = handler  # type: ignore[index]

    def objects(self) -> tuple[CosemObject, ...]:
        """Every object, in profile order (then objects added to this model)."""
        index = self._template.index
        out = [self._views.get(t._key) or self._view(t) for t in self._template.objects]
        out.extend(v for k, v in self._views.items() if k not in index)
        return tuple(out)

    def __len__(self) -> int:
        index = self._template.index
        return len(index) + sum(1 for k in self._views if k not in index)

    # ------------------------------------------------------------------ overlay

    def _write(self, key: ObjectKey, attribute: int, value: Any, base: Any) -> None:
        over = self._values.get(key)
        if (value is _DELETED and base is _MISSING) or (value is not _DELETED and base == value):
            if over is not None and attribute in over:
                del over[attribute]
                if not over:
                    del self._values[key]
        else:
            if over is None:
                over = self._values[key] = {}
            over[attribute] = value
        self._hex.pop((key, attribute), None)
        self._encoded = None

    def _invalidate(self) -> None:
        self._hex.clear()
        self._encoded = None

    def changed(self) -> dict[ObjectKey, dict[int, Data]]:
        """The overlay: per object key, the attribute values that differ from the
        template (deleted attributes left out). A copy."""
        return {
            k: {a: v for a, v in over.items() if v is not _DELETED}
            for k, over in self._values.items()
        }

    def snapshot(self) -> ModelSnapshot:
        """The overlay as it is now, cheaply (values are immutable): for :meth:`restore`."""
        return ModelSnapshot({k: dict(v) for k, v in self._values.items()}, dict(self._views))

    def restore(self, snap: ModelSnapshot) -> None:
        """Back to :meth:`snapshot` exactly (objects added since are removed)."""
        index = self._template.index
        for key in [k for k in self._views if k not in snap.views and k not in index]:
            del self._views[key]
        self._views.update(snap.views)
        self._extra_obis = {k[1] for k in self._views if k not in index}
        self._values = {k: dict(v) for k, v in snap.values.items()}
        self._invalidate()

    # state: only the overlay persists; bound setters' values live elsewhere.
    def to_dict(self) -> dict[str, str]:
        """Stored values that differ from the template as ``{"class/obis/attr": hex}``
        (attributes with a bound setter are left out: their owner persists them).

        The encoded form is cached per attribute until it is written, so saving a model
        a command only read costs a dict copy.
        """
        if self._encoded is None:
            out: dict[str, str] = {}
            for key in sorted(self._values):
                obj = self._views.get(key) or self._template.index.get(key)
                if obj is None:
                    continue
                setters = obj.setters
                prefix = f"{key[0]}/{obj.obis}/"
                over = self._values[key]
                for a in sorted(over):
                    v = over[a]
                    if v is _DELETED or a in setters:
                        continue
                    h = self._hex.get((key, a))
                    if h is None:
                        h = self._hex[(key, a)] = encode_data(v).hex()
                    out[prefix + str(a)] = h
            self._encoded = out
        return dict(self._encoded)

    def load_dict(self, state: Mapping[str, str]) -> None:
        """Restore values saved by :meth:`to_dict`, or by the full form earlier versions
        wrote (every writable attribute): values not in ``state`` go back to the
        template, except those with a bound setter. Unknown objects are ignored; a bad
        entry raises :class:`ProfileError` and changes nothing."""
        parsed: list[tuple[int, Obis, int, Data]] = []
        for key, hexval in state.items():
            try:
                cid, obis, attr = key.split("/")
                value = decode_data_bytes(bytes.fromhex(hexval))
                parsed.append((int(cid), Obis.parse(obis), int(attr), value))
            except (AttributeError, TypeError, ValueError, GbcsDecodeError, GbcsEncodeError) as e:
                raise ProfileError(f"bad saved COSEM value {key!r}: {e}") from e
        kept: dict[ObjectKey, dict[int, Any]] = {}
        for key, over in self._values.items():
            view = self._views.get(key)
            if view is not None and view.setters:
                mine = {a: v for a, v in over.items() if a in view.setters}
                if mine:
                    kept[key] = mine
        self._values = kept
        self._invalidate()
        for cid, obis, attr, value in parsed:
            obj = self.find(cid, obis)
            if obj is not None:
                obj.attributes[attr] = value


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
    return CosemObject(
        class_id, obis, attrs, frozenset(writable), frozenset(methods), str(raw.get("name", ""))
    )


@functools.cache
def _bundled(name: str) -> _Template:
    """A bundled profile, parsed once per process: the template its models share."""
    try:
        text = resources.files("devices.profiles").joinpath(f"{name}.json").read_text()
    except FileNotFoundError as e:
        raise ProfileError(f"no bundled profile {name!r}") from e
    objs = json.loads(text).get("objects")
    if not isinstance(objs, list):
        raise ProfileError("a profile needs an 'objects' list")
    return _Template(_parse_object(o, f"objects[{i}]") for i, o in enumerate(objs))


def load_profile(source: str | Mapping[str, Any]) -> CosemModel:
    """A model from a profile document, or from the name of a bundled profile.

    ``source`` is a mapping (already parsed JSON) or a bundled profile name such as
    ``"esme"`` (``devices/profiles/esme.json``). Models of a bundled profile share its
    parsed objects (parsed once per process); each holds only what it changed.
    """
    if isinstance(source, str):
        return CosemModel(template=_bundled(source))
    doc = source
    objs = doc.get("objects") if isinstance(doc, Mapping) else None
    if not isinstance(objs, list):
        raise ProfileError("a profile needs an 'objects' list")
    template = _Template(_parse_object(o, f"objects[{i}]") for i, o in enumerate(objs))
    return CosemModel(template=template)
