"""Known differences: the RTDS cases the conformance gate lets differ, each with evidence.

``gbcs-emu conformance`` fails (exit status 1) when a case differs from its RTDS response,
unless that case is listed in a known-differences file (:data:`DEFAULT_PATH`, shipped
with the package, or ``--known-differences FILE``). The file is TOML, one
``[[difference]]`` table per case and nothing else::

    [[difference]]
    case = "CS07_8.9_SUCCESS"            # the RTDS test case (last element of its id)
    device = "GSME"                      # optional: the device type it is run on
    kind = "inconsistent"                # or "out-of-scope"
    where = ["payload.dlms.data[2]"]     # optional: the only differences allowed
    evidence = "what in the RTDS command/response makes it so"

Keys (any other key, a missing or empty required one, or a case listed twice is refused
with one line naming the file and the entry):

``case``
    Required. The RTDS test case name: ``ECS26m_6.2.4_SUCCESS`` for the id
    ``RTDS-4.5.0/6.2.4_ECS26m/ECS26m_6.2.4_SUCCESS``, in ``vectors.json`` and in an RTDS
    folder tree alike.
``device``
    Optional: ``ESME``, ``GSME``, ``GPF`` or ``CHF``. When given, the entry applies only
    to the case run on that device type.
``kind``
    Required. ``inconsistent`` when the RTDS response contradicts another RTDS response,
    its own command or GBCS; ``out-of-scope`` when the case needs something the emulator
    does not model by design (e.g. a device the harness does not emulate as originator).
``where``
    Optional, non-empty list of difference paths, exactly as the run reports them (each
    entry of ``differences`` in ``--json`` starts with its path, before
    ``: ours``; e.g.
    ``header.other_information.supplementary_originator_counter``,
    ``payload.gbz.components[5].command``). The case may differ at those paths and
    nowhere else: a difference elsewhere, no response, or an invalid MAC or signature
    fails the gate ("beyond" its entry). Without ``where`` the case may differ in any way
    (or not answer at all); the shipped file always pins.
``evidence``
    Required, at least 20 characters: the RTDS evidence, i.e. the other case ids that
    contradict this one, with the lengths or bytes on both sides, and which of them the
    emulator follows.

:func:`gate` classifies a run: differences not listed (failures), listed cases that
differ as described (known), listed cases that differ beyond their ``where``, and listed
cases that now conform. The last are *stale* entries, and they fail the gate too: an
entry is a licence to differ, so one left behind after a fix would let the same case
regress unnoticed, and the file would stop saying what is actually left. Entries whose
case was not part of the run (another device type with ``--device``, another data set)
are *unused*: reported as a warning on a whole-set run, never a failure.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .harness import CONFORMANT, CaseResult

__all__ = [
    "DEFAULT_PATH",
    "KINDS",
    "Gate",
    "KnownDifference",
    "KnownDifferences",
    "KnownDifferencesError",
    "gate",
    "load_known",
    "parse_known",
]

DEFAULT_PATH = Path(__file__).with_name("known_differences.toml")
"""The known-differences file shipped with the package (the shared RTDS set's)."""

KINDS = ("inconsistent", "out-of-scope")
"""Why a listed case may differ."""

_DEVICES = ("ESME", "GSME", "GPF", "CHF")
_KEYS = {"case", "device", "kind", "where", "evidence"}
_MIN_EVIDENCE = 20  # characters: a reason, not a placeholder


class KnownDifferencesError(Exception):
    """The known-differences file cannot be used; the message is one line naming it."""


@dataclass(frozen=True, slots=True)
class KnownDifference:
    """One listed case: which, why (``kind``), where it may differ, and the evidence."""

    case: str
    kind: str
    evidence: str
    device: str | None = None
    where: tuple[str, ...] | None = None

    def allows(self, result: CaseResult) -> bool:
        """Whether ``result``'s differences are all ones this entry lists."""
        if self.where is None:
            return True
        if not result.differences:
            return False  # no response, or an invalid MAC/signature: not what is listed
        return all(d.where in self.where for d in result.differences)


@dataclass(frozen=True, slots=True)
class KnownDifferences:
    """The entries of one file, by case name."""

    path: Path
    entries: Mapping[str, KnownDifference] = field(default_factory=dict)

    def get(self, result: CaseResult) -> KnownDifference | None:
        """The entry for ``result``'s case (matching its device when the entry names one)."""
        entry = self.entries.get(case_name(result))
        if entry is None or (entry.device and entry.device != result.case.device_type):
            return None
        return entry


def case_name(result: CaseResult) -> str:
    """The RTDS test-case name of a result: the last element of its id."""
    return result.case.id.rsplit("/", 1)[-1]


def _fail(path: Path, where: str, what: str) -> KnownDifferencesError:
    return KnownDifferencesError(f"{path}: {where}: {what}")


def _text(path: Path, where: str, entry: Mapping[str, Any], key: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"{where}.{key}", "missing or not a non-empty string")
    return value.strip()


def _entry(path: Path, index: int, entry: Any) -> KnownDifference:
    where = f"difference[{index}]"
    if not isinstance(entry, dict):
        raise _fail(path, where, "expected a table ([[difference]])")
    unknown = sorted(set(entry) - _KEYS)
    if unknown:
        raise _fail(
            path, f"{where}.{unknown[0]}", f"unknown key (allowed: {', '.join(sorted(_KEYS))})"
        )
    case = _text(path, where, entry, "case")
    where = f"difference[{index}] ({case})"
    kind = _text(path, where, entry, "kind")
    if kind not in KINDS:
        raise _fail(path, f"{where}.kind", f"{kind!r} is not one of {', '.join(KINDS)}")
    evidence = _text(path, where, entry, "evidence")
    if len(evidence) < _MIN_EVIDENCE:
        raise _fail(
            path,
            f"{where}.evidence",
            f"too short ({len(evidence)} characters): give the RTDS evidence",
        )
    device = entry.get("device")
    if device is not None and device not in _DEVICES:
        raise _fail(path, f"{where}.device", f"{device!r} is not one of {', '.join(_DEVICES)}")
    paths = entry.get("where")
    allowed: tuple[str, ...] | None = None
    if paths is not None:
        if (
            not isinstance(paths, list)
            or not paths
            or not all(isinstance(p, str) and p for p in paths)
        ):
            raise _fail(path, f"{where}.where", "expected a non-empty list of difference paths")
        allowed = tuple(paths)
    return KnownDifference(case, kind, evidence, device, allowed)


def parse_known(text: str, path: Path) -> KnownDifferences:
    """Parse a known-differences file's ``text`` (``path`` names it in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise KnownDifferencesError(f"{path}: not valid TOML: {e}") from None
    unknown = sorted(set(data) - {"difference"})
    if unknown:
        raise _fail(path, unknown[0], "unknown key (allowed: [[difference]] tables)")
    raw = data.get("difference", [])
    if not isinstance(raw, list):
        raise _fail(path, "difference", "expected an array of tables ([[difference]])")
    entries: dict[str, KnownDifference] = {}
    for i, item in enumerate(raw):
        entry = _entry(path, i, item)
        if entry.case in entries:
            raise _fail(path, f"difference[{i}].case", f"{entry.case} is listed twice")
        entries[entry.case] = entry
    return KnownDifferences(path, entries)


def load_known(path: Path = DEFAULT_PATH) -> KnownDifferences:
    """Read a known-differences file; :class:`KnownDifferencesError` when it is unusable."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise KnownDifferencesError(f"cannot read {path}: {e.strerror or e}") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise KnownDifferencesError(f"{path}: not UTF-8 text") from None
    return parse_known(text, Path(path))


@dataclass(frozen=True, slots=True)
class Gate:
    """A run judged against a known-differences file."""

    #: Cases that differ (or did not answer) and are not listed, or differ elsewhere.
    failures: tuple[CaseResult, ...]
    #: Listed cases that differ as their entry allows, with the entry.
    known: tuple[tuple[CaseResult, KnownDifference], ...]
    #: Listed cases that now conform: their entry is stale.
    stale: tuple[tuple[CaseResult, KnownDifference], ...]
    #: Entries whose case was not part of this run (another device, another data set).
    unused: tuple[KnownDifference, ...]
    #: Listed cases that differ beyond what their entry allows, with the entry.
    beyond: tuple[tuple[CaseResult, KnownDifference], ...] = ()
    #: Case id -> (verdict, entry): ``pass``, ``known``, ``stale``, ``beyond`` or ``fail``.
    verdicts: Mapping[str, tuple[str, KnownDifference | None]] = field(default_factory=dict)

    def verdict(self, result: CaseResult) -> tuple[str, KnownDifference | None]:
        """How the gate judged ``result`` (``("pass", None)`` for a case it did not see)."""
        return self.verdicts.get(result.case.id, ("pass", None))

    @property
    def passed(self) -> bool:
        """No unlisted difference and no stale entry."""
        return not self.failures and not self.stale


def gate(results: Sequence[CaseResult], known: KnownDifferences) -> Gate:
    """Judge ``results`` against ``known`` (see the module docstring)."""
    failures: list[CaseResult] = []
    listed: list[tuple[CaseResult, KnownDifference]] = []
    stale: list[tuple[CaseResult, KnownDifference]] = []
    beyond: list[tuple[CaseResult, KnownDifference]] = []
    verdicts: dict[str, tuple[str, KnownDifference | None]] = {}
    seen: set[str] = set()
    for r in results:
        entry = known.get(r)
        if entry is not None:
            seen.add(entry.case)
        if r.status == CONFORMANT:
            verdict = "pass" if entry is None else "stale"
            if entry is not None:
                stale.append((r, entry))
        elif entry is None:
            verdict = "fail"
            failures.append(r)
        elif entry.allows(r):
            verdict = "known"
            listed.append((r, entry))
        else:
            verdict = "beyond"
            failures.append(r)
            beyond.append((r, entry))
        verdicts[r.case.id] = (verdict, entry)
    unused = tuple(e for name, e in known.entries.items() if name not in seen)
    return Gate(tuple(failures), tuple(listed), tuple(stale), unused, tuple(beyond), verdicts)
