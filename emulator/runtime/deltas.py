"""Incremental device state: what a command changed, as a delta, folded into snapshots.

A device's saved state is its *snapshot* (a full ``to_dict()``, or, for a device that has
none yet, its factory state, which derives from the fleet config, the seed and the site's
creation time) followed by the *deltas* written since. A delta is a JSON object:

* ``"s"``: sections (top-level keys of the device's state) set to a new value;
* ``"p"``: ``[path, value]`` pairs, a value set inside a section (``["esme", "load"]``),
  used when a few parts of a large section changed;
* ``"a"``: ``[path, items]`` pairs, items appended to a list (a log's ``entries``);
* ``"d"``: sections removed.

:func:`changes` compares a device's new state with what the store holds (the record's
``base``, plain values as last written) section by section, and writes only what differs:
counters, values, log appends. Every :data:`FOLD_AFTER` deltas it writes a snapshot instead
(the store then drops the device's deltas in the same transaction), so loading a site
never applies more than that many.

``last_advance`` (when the device last caught up on time) alone is not worth a write: a
restart that finds an older one runs the same time-driven catch-up, which changes nothing
else (had it done so, another section would differ). It is written with any other change.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "FOLD_AFTER",
    "DeltaError",
    "DeviceChange",
    "DeviceRecord",
    "apply_delta",
    "changes",
    "dumps",
]

#: Deltas a device accumulates before its next write is a full snapshot.
FOLD_AFTER = 64
#: A dict section with at most this many changed keys is written as ``"p"`` paths.
_PATHS_MAX = 4
_STAMP = "last_advance"
_MISSING = object()


class DeltaError(ValueError):
    """A stored delta that does not apply (damaged state)."""


#: One compact encoder for every write (``json.dumps`` with options builds one per call).
dumps = json.JSONEncoder(separators=(",", ":")).encode


@dataclass(slots=True)
class DeviceRecord:
    """What the store holds for one device: its sections as last written (``base``, plain
    values, without ``last_advance``), whether it has a snapshot row, and the deltas
    written since that snapshot (or since the factory state)."""

    base: dict[str, Any]
    snapshot: bool = False
    deltas: int = 0


@dataclass(slots=True)
class DeviceChange:
    """One device's write: a ``delta`` to append, or a full ``snapshot`` (JSON text), and
    the sections to update in its record once the write is committed."""

    record: DeviceRecord
    delta: str | None = None
    snapshot: str | None = None
    set: dict[str, Any] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def committed(self) -> None:
        """The write is durable: the record now holds what the store holds."""
        base = self.record.base
        base.update(self.set)
        for key in self.removed:
            base.pop(key, None)
        if self.snapshot is not None:
            self.record.snapshot = True
            self.record.deltas = 0
        else:
            self.record.deltas += 1


def changes(record: DeviceRecord, state: dict[str, Any]) -> DeviceChange | None:
    """The write that brings the store from ``record`` to ``state`` (a device's fresh
    ``to_dict()``, which this consumes), or None when nothing but ``last_advance`` moved.

    ``state`` must not share containers with the live device (``to_dict`` builds new
    ones), since its sections become the record's base.
    """
    stamp = state.pop(_STAMP, None)
    base = record.base
    changed = [k for k, v in state.items() if base.get(k, _MISSING) != v]
    removed = [k for k in base if k not in state]
    if not changed and not removed:
        return None
    out = DeviceChange(record, set={k: state[k] for k in changed}, removed=removed)
    if record.deltas + 1 >= FOLD_AFTER:
        full = dict(state)
        full[_STAMP] = stamp
        out.snapshot = dumps(full)
        return out
    sets: dict[str, Any] = {}
    paths: list[list[Any]] = []
    appends: list[list[Any]] = []
    for key in changed:
        new, old = state[key], base.get(key, _MISSING)
        if isinstance(new, dict) and isinstance(old, dict):
            added = _appended(old, new)
            if added is not None:
                appends.append([[key, "entries"], added])
                continue
            inner = [k for k, v in new.items() if old.get(k, _MISSING) != v]
            if len(inner) <= _PATHS_MAX and all(k in new for k in old):
                paths.extend([[key, k], new[k]] for k in inner)
                continue
        sets[key] = new
    if stamp is not None:
        sets[_STAMP] = stamp
    delta: dict[str, Any] = {"s": sets}
    if paths:
        delta["p"] = paths
    if appends:
        delta["a"] = appends
    if removed:
        delta["d"] = removed
    out.delta = dumps(delta)
    return out


def _appended(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Any] | None:
    """The entries appended to a log-shaped section (``{"entries": [...], ...}`` whose
    other keys are unchanged and whose old entries are a prefix of the new), else None."""
    o, n = old.get("entries"), new.get("entries")
    if not isinstance(o, list) or not isinstance(n, list) or len(n) <= len(o):
        return None
    if old.keys() != new.keys() or any(v != old[k] for k, v in new.items() if k != "entries"):
        return None
    return n[len(o) :] if n[: len(o)] == o else None


def apply_delta(state: dict[str, Any], delta: Any) -> None:
    """Apply one stored delta to a device's state, in place (:class:`DeltaError` when it
    does not fit: the state is damaged)."""
    if not isinstance(delta, dict) or not set(delta) <= {"s", "p", "a", "d"}:
        raise DeltaError("not a delta object")
    try:
        for key in delta.get("d", ()):
            state.pop(key, None)
        state.update(delta.get("s", {}))
        for path, value in delta.get("p", ()):
            _parent(state, path)[path[-1]] = value
        for path, items in delta.get("a", ()):
            target = _parent(state, path).setdefault(path[-1], [])
            if not isinstance(target, list) or not isinstance(items, list):
                raise DeltaError(f"cannot append to {'/'.join(map(str, path))}")
            target.extend(items)
    except (TypeError, ValueError, AttributeError, KeyError) as e:
        raise DeltaError(f"does not apply: {e}") from None


def _parent(state: dict[str, Any], path: Sequence[Any]) -> dict[str, Any]:
    if not isinstance(path, list) or not path or not all(isinstance(p, str) for p in path):
        raise DeltaError(f"bad path {path!r}")
    target: Any = state
    for p in path[:-1]:
        target = target.setdefault(p, {})
        if not isinstance(target, dict):
            raise DeltaError(f"{'/'.join(path)} is not inside an object")
    return target
