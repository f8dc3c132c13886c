"""What a meter's own display shows for its registers (``domain-rules.md`` §2).

Gas (SECMP0006, SEC DP101): the Consumption Register, the Tariff Block Counter Matrix and
the Tariff TOU Register Matrix are shown as the value in thousandths of m³ rounded *down*,
keeping only the eight least significant decimal digits, exactly eight digits with
leading zeros, the decimal point between the 4th and 3rd least significant digits:
``XXXXX.XXX``. So the display wraps to ``00000.000`` at 100 000 m³. Only the display is
affected: GBCS reads (GCS13a …) still carry the full stored value.

Large Gas Meters (at domestic premises) are exempt from the UI digit rules; instead MID
(Directive 2014/32/EU) requires enough digits that the quantity passed in 8000 h at Qmax
does not return the display to its initial value: ``8000 × Qmax < 10^int_digits``.
:class:`GasDisplayConfig` holds the choice and :meth:`GasDisplayConfig.validate` applies
that rule (U16, Qmax 16 m³/h, would wrap after 6,250 h with five digits).

Electricity (inferred, §2.3/§7.4): SECMP0006 reduced the ESME register display from 7 to
5 kWh digits; the exact text was not found. :func:`esme_display` applies the gas rule by
analogy: ``floor(Wh / 1000)`` kWh, keep the 5 least significant digits, leading zeros, no
decimals by default (``frac_digits`` adds decimals, rounded down, if a profile needs it).

All arithmetic is on integers. Invalid arguments raise :class:`DisplayError`; invalid
display configurations raise :class:`DisplayConfigError`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

__all__ = [
    "ESME_DIGITS",
    "GAS_FRAC_DIGITS",
    "GAS_INT_DIGITS",
    "MID_HOURS",
    "DisplayConfigError",
    "DisplayError",
    "GasDisplayConfig",
    "Matrix",
    "esme_display",
    "gas_display",
    "gas_display_matrix",
]

GAS_INT_DIGITS = 5
GAS_FRAC_DIGITS = 3
ESME_DIGITS = 5
MID_HOURS = 8000
"""MID: the display must not return to its initial value within 8000 h at Qmax."""
_MAX_DIGITS = 15

Matrix = int | Sequence["Matrix"]
"""A register value or a (nested) sequence of them, e.g. a TOU or block counter matrix."""


class DisplayError(Exception):
    """An invalid value or argument for a display rendering."""


class DisplayConfigError(DisplayError):
    """A display configuration that is malformed or breaks a rule (e.g. MID for an LGM)."""


def _int(v: Any, what: str, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
        rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
        raise DisplayError(f"{what} must be an int {rng}, got {v!r}")
    return v


def _render(units: int, int_digits: int, frac_digits: int) -> str:
    kept = units % 10 ** (int_digits + frac_digits)
    s = f"{kept:0{int_digits + frac_digits}d}"
    return s[:int_digits] + "." + s[int_digits:] if frac_digits else s


def gas_display(
    raw: int,
    multiplier: int = 1,
    divisor: int = 1000,
    int_digits: int = GAS_INT_DIGITS,
    frac_digits: int = GAS_FRAC_DIGITS,
) -> str:
    """Display text of a gas register holding ``raw * multiplier / divisor`` m³.

    ``raw``, ``multiplier`` and ``divisor`` are the ZSE metering cluster's
    CurrentSummationDelivered / Multiplier / Divisor. Defaults give the SECMP0006 format:
    12 345.6789 m³ -> ``"12345.678"``, 123 456.789 m³ -> ``"23456.789"``.
    """
    _int(raw, "raw", 0)
    _int(multiplier, "multiplier", 1)
    _int(divisor, "divisor", 1)
    _int(int_digits, "int_digits", 1, _MAX_DIGITS)
    _int(frac_digits, "frac_digits", 0, _MAX_DIGITS)
    return _render(raw * multiplier * 10**frac_digits // divisor, int_digits, frac_digits)


def gas_display_matrix(
    values: Matrix,
    multiplier: int = 1,
    divisor: int = 1000,
    int_digits: int = GAS_INT_DIGITS,
    frac_digits: int = GAS_FRAC_DIGITS,
) -> Any:
    """:func:`gas_display` applied to every element; nested sequences become nested tuples.

    E.g. a TOU register matrix ``[r1, r2, …]`` or a block counter matrix
    ``[[b1, b2, b3, b4], …]``; a bare int gives a bare string.
    """
    if isinstance(values, Sequence) and not isinstance(values, str | bytes):
        return tuple(
            gas_display_matrix(v, multiplier, divisor, int_digits, frac_digits) for v in values
        )
    return gas_display(values, multiplier, divisor, int_digits, frac_digits)  # type: ignore[arg-type]


def esme_display(wh: int, digits: int = ESME_DIGITS, *, frac_digits: int = 0) -> str:
    """Display text of an electricity register of ``wh`` Wh (inferred rule, module doc).

    ``floor(kWh)`` keeping the ``digits`` least significant digits with leading zeros:
    1 234 567 890 Wh -> ``"34567"``; 99 999 999 Wh -> ``"99999"``; 100 000 000 Wh ->
    ``"00000"``. ``frac_digits`` > 0 appends that many decimals of kWh, rounded down.
    """
    _int(wh, "wh", 0)
    _int(digits, "digits", 1, _MAX_DIGITS)
    _int(frac_digits, "frac_digits", 0, _MAX_DIGITS)
    return _render(wh * 10**frac_digits // 1000, digits, frac_digits)


def _qmax(v: Any) -> Decimal | None:
    if v is None:
        return None
    if isinstance(v, bool):
        raise DisplayConfigError(f"qmax_m3h must be a number, got {v!r}")
    try:
        if isinstance(v, Fraction):
            q = Decimal(v.numerator) / Decimal(v.denominator)
        elif isinstance(v, float):
            q = Decimal(str(v))
        elif isinstance(v, int | str | Decimal):
            q = Decimal(v)
        else:
            raise DisplayConfigError(f"qmax_m3h must be a number, got {v!r}")
    except InvalidOperation:
        raise DisplayConfigError(f"qmax_m3h is not a number: {v!r}") from None
    if not q.is_finite() or q <= 0:
        raise DisplayConfigError(f"qmax_m3h must be a positive finite number, got {v!r}")
    return q


def _fmt_number(d: Decimal) -> str:
    if d == d.to_integral_value():
        return f"{int(d):,}"
    return f"{d:,.1f}"


@dataclass(frozen=True)
class GasDisplayConfig:
    """Gas display configuration of a GSME.

    ``large_gas_meter`` false (the default): the SECMP0006 format ``XXXXX.XXX`` is
    mandatory and ``int_digits`` / ``frac_digits`` are ignored (kept only so a config can
    be switched). True: the configured digits are used and :meth:`validate` enforces the
    MID rule ``8000 h × qmax_m3h < 10^int_digits``. ``qmax_m3h`` accepts an int, Decimal,
    Fraction, decimal string or float and is stored as a ``Decimal``.
    """

    large_gas_meter: bool = False
    qmax_m3h: Decimal | None = None
    int_digits: int = GAS_INT_DIGITS
    frac_digits: int = GAS_FRAC_DIGITS

    def __post_init__(self) -> None:
        if not isinstance(self.large_gas_meter, bool):
            raise DisplayConfigError(
                f"large_gas_meter must be a bool, got {self.large_gas_meter!r}"
            )
        try:
            _int(self.int_digits, "int_digits", 1, _MAX_DIGITS)
            _int(self.frac_digits, "frac_digits", 0, _MAX_DIGITS)
        except DisplayError as e:
            raise DisplayConfigError(str(e)) from None
        object.__setattr__(self, "qmax_m3h", _qmax(self.qmax_m3h))

    @property
    def effective_digits(self) -> tuple[int, int]:
        """``(integer digits, fractional digits)`` actually displayed."""
        if self.large_gas_meter:
            return (self.int_digits, self.frac_digits)
        return (GAS_INT_DIGITS, GAS_FRAC_DIGITS)

    def hours_to_wrap(self) -> Decimal | None:
        """Hours at Qmax until the displayed integer digits wrap (None without Qmax)."""
        if self.qmax_m3h is None:
            return None
        return Decimal(10 ** self.effective_digits[0]) / self.qmax_m3h

    def required_int_digits(self) -> int | None:
        """Fewest integer digits meeting the MID rule for ``qmax_m3h`` (None without Qmax)."""
        if self.qmax_m3h is None:
            return None
        volume = MID_HOURS * self.qmax_m3h
        n = 1
        while Decimal(10**n) <= volume:
            n += 1
        return n

    def validate(self) -> None:
        """Raise :class:`DisplayConfigError` if a Large Gas Meter display breaks MID.

        Non-LGM configurations always pass: the SECMP0006 format is mandatory for them.
        """
        if not self.large_gas_meter:
            return
        q = self.qmax_m3h
        if q is None:
            raise DisplayConfigError("a Large Gas Meter display needs qmax_m3h to be checked")
        volume = MID_HOURS * q
        if volume < Decimal(10**self.int_digits):
            return
        hours = self.hours_to_wrap()
        assert hours is not None
        raise DisplayConfigError(
            f"Large Gas Meter display with {self.int_digits} integer digits would wrap after "
            f"{_fmt_number(hours)} h at Qmax {_fmt_number(q)} m³/h; MID requires "
            f"{MID_HOURS:,} h ({_fmt_number(volume)} m³), i.e. at least "
            f"{self.required_int_digits()} integer digits"
        )

    def render(self, raw: int, multiplier: int = 1, divisor: int = 1000) -> str:
        """Display text for one register with the effective digits."""
        i, f = self.effective_digits
        return gas_display(raw, multiplier, divisor, i, f)

    def render_matrix(self, values: Matrix, multiplier: int = 1, divisor: int = 1000) -> Any:
        """Display text for every element of a (nested) register matrix."""
        i, f = self.effective_digits
        return gas_display_matrix(values, multiplier, divisor, i, f)

    def to_dict(self) -> dict[str, Any]:
        return {
            "large_gas_meter": self.large_gas_meter,
            "qmax_m3h": None if self.qmax_m3h is None else str(self.qmax_m3h),
            "int_digits": self.int_digits,
            "frac_digits": self.frac_digits,
        }

    @classmethod
    def from_dict(cls, d: Any) -> GasDisplayConfig:
        """Inverse of :meth:`to_dict` (missing keys take the defaults)."""
        if not isinstance(d, Mapping):
            raise DisplayConfigError(f"display config must be a mapping, got {d!r}")
        unknown = set(d) - {"large_gas_meter", "qmax_m3h", "int_digits", "frac_digits"}
        if unknown:
            raise DisplayConfigError(f"unknown display config keys: {sorted(unknown)}")
        return cls(
            large_gas_meter=d.get("large_gas_meter", False),
            qmax_m3h=d.get("qmax_m3h"),
            int_digits=d.get("int_digits", GAS_INT_DIGITS),
            frac_digits=d.get("frac_digits", GAS_FRAC_DIGITS),
        )
