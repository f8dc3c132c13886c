"""A deterministic load model: power as a function of UTC time, integrated into registers.

:class:`LoadProfile` says how much power (integer W) is imported and exported at any UTC
instant; :class:`LoadModel` integrates it between :meth:`LoadModel.advance` calls into
cumulative integer Wh registers and reports every completed, aligned half-hour period so
the maximum-demand behaviour (:mod:`devices.behaviours.maxdemand`) can consume them.
Nothing here reads a clock: time is always passed in as an aware ``datetime``.

Power is piecewise constant per aligned UTC half hour ``[hh:00, hh:30)`` / ``[hh:30,
hh+1:00)``. For each direction the power in a period is, in priority order:

1. an explicit override ``{period_start_utc: energy_wh}``: the period's energy, spread
   uniformly, i.e. a constant ``2 * energy_wh`` W for that half hour (a period traversed
   whole with the supply on therefore accrues exactly ``energy_wh``);
2. the daily shape: 48 half-hourly W values, index 0 = 00:00–00:30 UTC;
3. the constant W.

Integration is exact integer arithmetic: energy is counted in W·µs (1 Wh = 3.6·10⁹ W·µs)
and the registers hold whole Wh with the sub-Wh remainder kept in state, so there is no
float drift however often or rarely the model is advanced. A long gap costs one loop step
per half hour crossed (every crossed period is reported), never per second.

A completed period's energy is the change of the cumulative register across it (so the
periods always add up to the registers; a 333 W constant load gives 166 or 167 Wh per
half hour, the remainder carrying over). The period in progress when the model is
created is reported, with the energy seen since creation, when its end is crossed.

Clock set back: when ``now`` is earlier than the last time seen, the negative interval is
ignored (no energy accrues, registers never decrease) and integration continues from
``now``. If ``now`` falls in another half hour than the one in progress, the partial
period in progress is dropped from period reporting (its energy stays in the registers),
so a period start may be reported again after the clock is set back.

Supply off (ESME disconnected or an outage): :meth:`LoadModel.set_supply` integrates up to
``now`` with the old state, then switches; no energy accrues while the supply is off, but
periods still complete (with the energy they saw while on).

Errors: every invalid argument or state dict raises :class:`LoadError`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

__all__ = [
    "PERIOD",
    "PERIODS_PER_DAY",
    "WUS_PER_WH",
    "LoadError",
    "LoadModel",
    "LoadProfile",
    "Period",
    "period_start",
]

PERIOD = timedelta(minutes=30)
"""Length of a demand / profile period."""
PERIODS_PER_DAY = 48
WUS_PER_WH = 3_600_000_000
"""W·µs in one Wh."""
_US = timedelta(microseconds=1)
_PERIOD_US = PERIOD // _US


class LoadError(Exception):
    """Invalid load profile, argument or serialised state (the message says which)."""


class Period(NamedTuple):
    """A completed aligned half hour ``[start, start + 30 min)`` and its energies in Wh."""

    start: datetime
    import_wh: int
    export_wh: int

    @property
    def end(self) -> datetime:
        return self.start + PERIOD


def _utc(t: Any, what: str = "time") -> datetime:
    if not isinstance(t, datetime) or t.tzinfo is None or t.utcoffset() is None:
        raise LoadError(f"{what} must be an aware datetime, got {t!r}")
    return t.astimezone(UTC)


def period_start(t: datetime) -> datetime:
    """Start (UTC) of the aligned half hour containing the aware datetime ``t``."""
    u = _utc(t)
    return u.replace(minute=u.minute - u.minute % 30, second=0, microsecond=0)


def _nonneg_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise LoadError(f"{what} must be a non-negative int, got {v!r}")
    return v


def _shape(v: Any, what: str) -> tuple[int, ...] | None:
    if v is None:
        return None
    if isinstance(v, str | bytes) or not isinstance(v, Iterable):
        raise LoadError(f"{what} must be {PERIODS_PER_DAY} ints or None, got {v!r}")
    t = tuple(v)
    if len(t) != PERIODS_PER_DAY:
        raise LoadError(f"{what} needs {PERIODS_PER_DAY} half-hourly values, got {len(t)}")
    for i, x in enumerate(t):
        _nonneg_int(x, f"{what}[{i}]")
    return t


def _overrides(v: Any, what: str) -> dict[datetime, int]:
    if not isinstance(v, Mapping):
        raise LoadError(f"{what} must be a mapping period_start -> Wh, got {v!r}")
    out: dict[datetime, int] = {}
    for k, wh in v.items():
        t = _parse_time(k, f"{what} key") if isinstance(k, str) else _utc(k, f"{what} key")
        if t != period_start(t):
            raise LoadError(f"{what} key {t.isoformat()} is not on a half-hour boundary")
        out[t] = _nonneg_int(wh, f"{what}[{t.isoformat()}]")
    return dict(sorted(out.items()))


def _parse_time(v: Any, what: str) -> datetime:
    if not isinstance(v, str):
        raise LoadError(f"{what} must be an ISO 8601 string, got {v!r}")
    try:
        t = datetime.fromisoformat(v)
    except ValueError:
        raise LoadError(f"{what} is not an ISO 8601 date-time: {v!r}") from None
    return _utc(t, what)


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat()


@dataclass(frozen=True)
class LoadProfile:
    """Import and export power (integer W) as a function of UTC time; see the module doc.

    ``*_shape`` (48 values, when given) replaces ``*_w``; ``*_overrides`` (energy in Wh per
    half-hour period start) win over both for their period.
    """

    import_w: int = 0
    import_shape: tuple[int, ...] | None = None
    import_overrides: Mapping[datetime, int] = field(default_factory=dict)
    export_w: int = 0
    export_shape: tuple[int, ...] | None = None
    export_overrides: Mapping[datetime, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _nonneg_int(self.import_w, "import_w")
        _nonneg_int(self.export_w, "export_w")
        object.__setattr__(self, "import_shape", _shape(self.import_shape, "import_shape"))
        object.__setattr__(self, "export_shape", _shape(self.export_shape, "export_shape"))
        object.__setattr__(
            self, "import_overrides", _overrides(self.import_overrides, "import_overrides")
        )
        object.__setattr__(
            self, "export_overrides", _overrides(self.export_overrides, "export_overrides")
        )

    def __hash__(self) -> int:
        return hash(
            (
                self.import_w,
                self.import_shape,
                tuple(self.import_overrides.items()),
                self.export_w,
                self.export_shape,
                tuple(self.export_overrides.items()),
            )
        )

    # -- constructors ------------------------------------------------------------------

    @classmethod
    def constant(cls, import_w: int, export_w: int = 0) -> LoadProfile:
        """A flat load."""
        return cls(import_w=import_w, export_w=export_w)

    @classmethod
    def daily(
        cls, import_shape: Iterable[int], export_shape: Iterable[int] | None = None
    ) -> LoadProfile:
        """The same 48 half-hourly W values every UTC day (index 0 = 00:00–00:30)."""
        return cls(
            import_shape=tuple(import_shape),
            export_shape=None if export_shape is None else tuple(export_shape),
        )

    def with_overrides(
        self,
        import_overrides: Mapping[datetime, int] | None = None,
        export_overrides: Mapping[datetime, int] | None = None,
    ) -> LoadProfile:
        """A copy with more per-period energy overrides (new keys win over old ones)."""
        imp = dict(self.import_overrides)
        imp.update(_overrides(import_overrides or {}, "import_overrides"))
        exp = dict(self.export_overrides)
        exp.update(_overrides(export_overrides or {}, "export_overrides"))
        return LoadProfile(
            self.import_w, self.import_shape, imp, self.export_w, self.export_shape, exp
        )

    # -- evaluation --------------------------------------------------------------------

    def import_power_w(self, t: datetime) -> int:
        """Import power (W) at the aware instant ``t``."""
        return self._power(period_start(t), self.import_w, self.import_shape, self.import_overrides)

    def export_power_w(self, t: datetime) -> int:
        """Export power (W) at the aware instant ``t``."""
        return self._power(period_start(t), self.export_w, self.export_shape, self.export_overrides)

    def power_w(self, t: datetime) -> tuple[int, int]:
        """``(import W, export W)`` at the aware instant ``t``."""
        p = period_start(t)
        return (
            self._power(p, self.import_w, self.import_shape, self.import_overrides),
            self._power(p, self.export_w, self.export_shape, self.export_overrides),
        )

    @staticmethod
    def _power(
        p: datetime, w: int, shape: tuple[int, ...] | None, overrides: Mapping[datetime, int]
    ) -> int:
        wh = overrides.get(p)
        if wh is not None:
            return 2 * wh  # Wh over half an hour -> mean W
        if shape is not None:
            return shape[p.hour * 2 + p.minute // 30]
        return w

    # -- persistence -------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form."""

        def side(w: int, shape: tuple[int, ...] | None, ov: Mapping[datetime, int]) -> dict:
            return {
                "w": w,
                "shape": None if shape is None else list(shape),
                "overrides": {_iso(k): v for k, v in ov.items()},
            }

        return {
            "import": side(self.import_w, self.import_shape, self.import_overrides),
            "export": side(self.export_w, self.export_shape, self.export_overrides),
        }

    @classmethod
    def from_dict(cls, d: Any) -> LoadProfile:
        """Inverse of :meth:`to_dict`; raises :class:`LoadError` on malformed input."""
        if not isinstance(d, Mapping):
            raise LoadError(f"load profile must be a mapping, got {d!r}")
        sides = []
        for name in ("import", "export"):
            s = d.get(name, {})
            if not isinstance(s, Mapping):
                raise LoadError(f"load profile {name!r} must be a mapping, got {s!r}")
            ov = s.get("overrides", {})
            if not isinstance(ov, Mapping):
                raise LoadError(f"load profile {name}.overrides must be a mapping")
            sides.append(
                (
                    s.get("w", 0),
                    s.get("shape"),
                    {_parse_time(k, f"{name}.overrides key"): v for k, v in ov.items()},
                )
            )
        (iw, ish, iov), (ew, esh, eov) = sides
        return cls(iw, ish, iov, ew, esh, eov)


class LoadModel:
    """Integrates a :class:`LoadProfile` into cumulative import/export registers (Wh).

    Create it at the instant integration starts; call :meth:`advance` with each new
    ``now``. See the module docstring for period reporting, clock set-back and supply off.
    """

    __slots__ = (
        "_exp_rem",
        "_export_wh",
        "_imp_rem",
        "_import_wh",
        "_p_exp",
        "_p_imp",
        "_p_start",
        "_pending",
        "_profile",
        "_supply_on",
        "_t",
    )

    def __init__(
        self,
        profile: LoadProfile,
        now: datetime,
        *,
        import_wh: int = 0,
        export_wh: int = 0,
        supply_on: bool = True,
    ) -> None:
        if not isinstance(profile, LoadProfile):
            raise LoadError(f"profile must be a LoadProfile, got {profile!r}")
        if not isinstance(supply_on, bool):
            raise LoadError(f"supply_on must be a bool, got {supply_on!r}")
        self._profile = profile
        self._t = _utc(now, "now")
        self._import_wh = _nonneg_int(import_wh, "import_wh")
        self._export_wh = _nonneg_int(export_wh, "export_wh")
        self._imp_rem = 0  # W·µs below one Wh
        self._exp_rem = 0
        self._supply_on = supply_on
        self._p_start = period_start(self._t)
        self._p_imp = 0  # Wh accrued in the period in progress
        self._p_exp = 0
        self._pending: list[Period] = []

    # -- read-only views ---------------------------------------------------------------

    @property
    def profile(self) -> LoadProfile:
        return self._profile

    @property
    def import_wh(self) -> int:
        """Cumulative active energy imported (Wh)."""
        return self._import_wh

    @property
    def export_wh(self) -> int:
        """Cumulative active energy exported (Wh)."""
        return self._export_wh

    @property
    def supply_on(self) -> bool:
        return self._supply_on

    @property
    def time(self) -> datetime:
        """The last instant integrated up to (UTC)."""
        return self._t

    @property
    def current_period(self) -> Period:
        """The period in progress with the energy accrued in it so far."""
        return Period(self._p_start, self._p_imp, self._p_exp)

    def power_w(self, now: datetime) -> tuple[int, int]:
        """Instantaneous ``(import W, export W)``: the profile's, or zeros with supply off."""
        if not self._supply_on:
            _utc(now, "now")
            return (0, 0)
        return self._profile.power_w(now)

    # -- time-driven behaviour ---------------------------------------------------------

    def advance(self, now: datetime) -> list[Period]:
        """Integrate up to ``now``; return every period completed since the last call.

        Also returns periods completed inside :meth:`set_supply` / :meth:`set_profile`
        calls made since the last :meth:`advance`.
        """
        self._integrate(_utc(now, "now"))
        out, self._pending = self._pending, []
        return out

    def set_supply(self, on: bool, now: datetime) -> None:
        """Switch the supply on/off at ``now`` (integrating up to ``now`` first)."""
        if not isinstance(on, bool):
            raise LoadError(f"supply state must be a bool, got {on!r}")
        self._integrate(_utc(now, "now"))
        self._supply_on = on

    def set_profile(self, profile: LoadProfile, now: datetime) -> None:
        """Replace the profile from ``now`` on (integrating up to ``now`` first)."""
        if not isinstance(profile, LoadProfile):
            raise LoadError(f"profile must be a LoadProfile, got {profile!r}")
        self._integrate(_utc(now, "now"))
        self._profile = profile

    def _integrate(self, now: datetime) -> None:
        t = self._t
        if now < t:
            # Clock set back: ignore the negative interval (see module docstring).
            p = period_start(now)
            if p != self._p_start:
                self._p_start, self._p_imp, self._p_exp = p, 0, 0
            self._t = now
            return
        profile, on = self._profile, self._supply_on
        p = self._p_start
        while t < now:
            end = p + PERIOD
            seg_end = end if end <= now else now
            if on:
                us = (seg_end - t) // _US
                imp, exp = profile.power_w(p)
                self._accrue(imp * us, exp * us)
            t = seg_end
            if seg_end == end:
                self._pending.append(Period(p, self._p_imp, self._p_exp))
                p, self._p_imp, self._p_exp = end, 0, 0
        self._t, self._p_start = now, p

    def _accrue(self, imp_wus: int, exp_wus: int) -> None:
        q, self._imp_rem = divmod(self._imp_rem + imp_wus, WUS_PER_WH)
        self._import_wh += q
        self._p_imp += q
        q, self._exp_rem = divmod(self._exp_rem + exp_wus, WUS_PER_WH)
        self._export_wh += q
        self._p_exp += q

    # -- persistence -------------------------------------------------------------------

    def copy(self) -> LoadModel:
        """An independent copy (every field but the pending list is an immutable value,
        the profile included): an in-memory rollback snapshot."""
        out = LoadModel.__new__(LoadModel)
        for name in LoadModel.__slots__:
            setattr(out, name, getattr(self, name))
        out._pending = list(self._pending)
        return out

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able state (profile included)."""
        return {
            "profile": self._profile.to_dict(),
            "time": _iso(self._t),
            "import_wh": self._import_wh,
            "export_wh": self._export_wh,
            "import_remainder_wus": self._imp_rem,
            "export_remainder_wus": self._exp_rem,
            "supply_on": self._supply_on,
            "period_start": _iso(self._p_start),
            "period_import_wh": self._p_imp,
            "period_export_wh": self._p_exp,
            "pending": [[_iso(p.start), p.import_wh, p.export_wh] for p in self._pending],
        }

    @classmethod
    def from_dict(cls, d: Any) -> LoadModel:
        """Inverse of :meth:`to_dict`; raises :class:`LoadError` on malformed state."""
        if not isinstance(d, Mapping):
            raise LoadError(f"load model state must be a mapping, got {d!r}")
        try:
            m = cls(
                LoadProfile.from_dict(d["profile"]),
                _parse_time(d["time"], "time"),
                import_wh=d["import_wh"],
                export_wh=d["export_wh"],
                supply_on=d["supply_on"],
            )
            imp_rem = _nonneg_int(d["import_remainder_wus"], "import_remainder_wus")
            exp_rem = _nonneg_int(d["export_remainder_wus"], "export_remainder_wus")
            p_start = _parse_time(d["period_start"], "period_start")
            p_imp = _nonneg_int(d["period_import_wh"], "period_import_wh")
            p_exp = _nonneg_int(d["period_export_wh"], "period_export_wh")
            pending_raw = d["pending"]
        except KeyError as e:
            raise LoadError(f"load model state lacks {e.args[0]!r}") from None
        if imp_rem >= WUS_PER_WH or exp_rem >= WUS_PER_WH:
            raise LoadError("energy remainders must be below one Wh (3.6e9 W·µs)")
        if p_start != period_start(m._t):
            raise LoadError("period_start is not the half hour containing time")
        if p_imp > m._import_wh or p_exp > m._export_wh:
            raise LoadError("period energy exceeds the cumulative register")
        if not isinstance(pending_raw, list):
            raise LoadError("pending must be a list")
        pending = []
        for i, item in enumerate(pending_raw):
            if not isinstance(item, list | tuple) or len(item) != 3:
                raise LoadError(f"pending[{i}] must be [start, import_wh, export_wh]")
            start = _parse_time(item[0], f"pending[{i}].start")
            if start != period_start(start):
                raise LoadError(f"pending[{i}].start is not on a half-hour boundary")
            pending.append(
                Period(
                    start,
                    _nonneg_int(item[1], f"pending[{i}].import_wh"),
                    _nonneg_int(item[2], f"pending[{i}].export_wh"),
                )
            )
        m._imp_rem, m._exp_rem = imp_rem, exp_rem
        m._p_start, m._p_imp, m._p_exp = p_start, p_imp, p_exp
        m._pending = pending
        return m


def profile_from_option(value: Any) -> LoadProfile:
    """A profile from a configuration value: a number is a constant import in W, a
    mapping is :meth:`LoadProfile.to_dict`'s form."""
    if isinstance(value, bool):
        raise LoadError(f"a load profile cannot be {value!r}")
    if isinstance(value, int | float):
        return _constant_profile(int(value))
    return LoadProfile.from_dict(value)


@functools.lru_cache(maxsize=256)
def _constant_profile(import_w: int) -> LoadProfile:
    # every device of a fleet gets the same constant load: a LoadProfile is frozen, so
    # one is shared (an invalid value raises and is not cached)
    return LoadProfile.constant(import_w)
