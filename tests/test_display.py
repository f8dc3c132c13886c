"""Display rules (devices/behaviours/display.py): SECMP0006 gas, LGM/MID, ESME kWh."""

from __future__ import annotations

import json
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from devices.behaviours.display import (
    DisplayConfigError,
    DisplayError,
    GasDisplayConfig,
    esme_display,
    gas_display,
    gas_display_matrix,
)

# domain-rules §2.1 worked table: (raw, multiplier, divisor, display)
WORKED = [
    (12_345_678, 1, 1000, "12345.678"),  # 12 345.678 m³
    (0, 1, 1000, "00000.000"),
    (9, 1, 10_000, "00000.000"),  # 0.0009 m³ rounds down, never up
    (5, 1, 3, "00001.666"),  # 5/3 m³
    (99_999_999, 1, 1000, "99999.999"),
    (100_000_000, 1, 1000, "00000.000"),  # wrap
    (100_000_001, 1, 1000, "00000.001"),
    (123_456_789, 1, 1000, "23456.789"),  # eight LSDs
    (123_456_789_012, 1, 1000, "56789.012"),
    (1_234_567, 1, 100, "12345.670"),  # 0.01 m³ resolution
    # behaviours 12 and 14
    (123_456_789, 1, 10_000, "12345.678"),  # 12 345.6789 m³
    (500, 1, 1000, "00000.500"),
    # multiplier
    (12_345, 1000, 1000, "12345.000"),
    (12_345, 3, 10, "03703.500"),
]


@pytest.mark.parametrize(("raw", "mult", "div", "shown"), WORKED)
def test_gas_display_worked_table(raw: int, mult: int, div: int, shown: str) -> None:
    assert gas_display(raw, mult, div) == shown


def test_gas_display_wraps_after_99999_999() -> None:
    raw = 99_999_999
    assert gas_display(raw) == "99999.999"
    assert gas_display(raw + 1) == "00000.000"


def test_gas_matrices_render_element_wise() -> None:
    tou = [12_345_678, 123_456_789, 0, 500]
    assert gas_display_matrix(tou) == ("12345.678", "23456.789", "00000.000", "00000.500")
    blocks = [[1, 20, 300, 4000], [100_000_001, 5, 6, 7]]
    assert gas_display_matrix(blocks, 1, 1) == (
        ("00001.000", "00020.000", "00300.000", "04000.000"),
        ("00001.000", "00005.000", "00006.000", "00007.000"),
    )
    assert gas_display_matrix(7) == "00000.007"
    assert gas_display_matrix([]) == ()


@settings(max_examples=100, deadline=None)
@given(
    raw=st.integers(0, 2**48 - 1),
    mult=st.integers(1, 2**24 - 1),
    div=st.integers(1, 2**24 - 1),
)
def test_gas_display_is_the_eight_lsds_of_floor_thousandths(raw: int, mult: int, div: int) -> None:
    s = gas_display(raw, mult, div)
    assert len(s) == 9 and s[5] == "." and s.replace(".", "").isdigit()
    assert int(s.replace(".", "")) == (raw * mult * 1000 // div) % 10**8


@pytest.mark.parametrize(
    "args",
    [
        (-1,),
        (1.5,),
        (True,),
        ("12",),
        (1, 0),
        (1, 1, 0),
        (1, 1, -3),
        (1, 1, 1, 0),
        (1, 1, 1, 5, -1),
    ],
)
def test_gas_display_rejects_bad_arguments(args: tuple) -> None:
    with pytest.raises(DisplayError):
        gas_display(*args)
    with pytest.raises(DisplayError):
        gas_display_matrix([args[0]], *args[1:])


def test_gas_display_custom_digits() -> None:
    assert gas_display(123_456_789, 1, 100, 6, 2) == "234567.89"
    assert gas_display(123_456_789, 1, 1000, 7, 0) == "0123456"


# -- Large Gas Meters and MID -------------------------------------------------------------


def test_u16_with_five_digits_is_rejected_with_the_6250_hours_message() -> None:
    cfg = GasDisplayConfig(large_gas_meter=True, qmax_m3h=16, int_digits=5, frac_digits=3)
    with pytest.raises(DisplayConfigError, match=r"wrap after 6,250 h") as e:
        cfg.validate()
    assert "Qmax 16 m³/h" in str(e.value)
    assert "at least 6 integer digits" in str(e.value)
    assert cfg.hours_to_wrap() == 6250
    assert cfg.required_int_digits() == 6
    GasDisplayConfig(large_gas_meter=True, qmax_m3h=16, int_digits=6).validate()


@pytest.mark.parametrize(
    ("qmax", "digits", "ok"),
    [
        (6, 5, True),  # U6: 48 000 m³
        (16, 5, False),
        (16, 6, True),
        (25, 6, True),
        (100, 6, True),  # 800 000 m³
        (160, 6, False),  # 1 280 000 m³ needs 7
        (160, 7, True),
        ("12.5", 5, False),  # exactly 100 000 m³ shows the initial value
        ("12.4", 5, True),
        (Fraction(25, 2), 6, True),
        (12.4, 5, True),
    ],
)
def test_mid_rule(qmax: object, digits: int, ok: bool) -> None:
    cfg = GasDisplayConfig(True, qmax, digits, 2)  # type: ignore[arg-type]
    if ok:
        cfg.validate()
    else:
        with pytest.raises(DisplayConfigError, match="MID"):
            cfg.validate()


def test_non_integral_wrap_hours_in_message() -> None:
    with pytest.raises(DisplayConfigError, match=r"1,538\.5 h at Qmax 65 m³/h"):
        GasDisplayConfig(True, 65, 5, 3).validate()


def test_lgm_needs_qmax() -> None:
    with pytest.raises(DisplayConfigError, match="qmax"):
        GasDisplayConfig(large_gas_meter=True, int_digits=6).validate()


def test_non_lgm_ignores_custom_digits_and_always_validates() -> None:
    cfg = GasDisplayConfig(large_gas_meter=False, qmax_m3h=16, int_digits=6, frac_digits=2)
    cfg.validate()
    assert cfg.effective_digits == (5, 3)
    assert cfg.render(123_456_789) == "23456.789"
    assert cfg.render_matrix([123_456_789]) == ("23456.789",)


def test_lgm_renders_with_configured_digits() -> None:
    cfg = GasDisplayConfig(large_gas_meter=True, qmax_m3h=65, int_digits=6, frac_digits=2)
    cfg.validate()
    assert cfg.effective_digits == (6, 2)
    assert cfg.render(12_345_678, 1, 100) == "123456.78"
    assert cfg.render(1_234_567_891, 1, 1000) == "234567.89"
    assert cfg.render_matrix([[100, 200]], 1, 100) == (("000001.00", "000002.00"),)


def test_config_dict_round_trip() -> None:
    for cfg in (
        GasDisplayConfig(),
        GasDisplayConfig(True, "2.5", 6, 2),
        GasDisplayConfig(True, Decimal("160"), 7, 1),
    ):
        back = GasDisplayConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
        assert back == cfg
    assert GasDisplayConfig(True, "2.5").to_dict()["qmax_m3h"] == "2.5"
    assert GasDisplayConfig.from_dict({}) == GasDisplayConfig()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"large_gas_meter": 1},
        {"qmax_m3h": 0},
        {"qmax_m3h": -6},
        {"qmax_m3h": "six"},
        {"qmax_m3h": "NaN"},
        {"qmax_m3h": float("inf")},
        {"qmax_m3h": True},
        {"qmax_m3h": [6]},
        {"int_digits": 0},
        {"int_digits": 5.0},
        {"frac_digits": -1},
    ],
)
def test_config_rejects_bad_values(kwargs: dict) -> None:
    with pytest.raises(DisplayConfigError):
        GasDisplayConfig(**kwargs)


def test_config_from_dict_rejects_garbage() -> None:
    with pytest.raises(DisplayConfigError):
        GasDisplayConfig.from_dict([])
    with pytest.raises(DisplayConfigError, match="unknown"):
        GasDisplayConfig.from_dict({"digits": 6})


# -- ESME -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wh", "shown"),
    [
        (1_234_567_890, "34567"),  # behaviour 19
        (0, "00000"),
        (999, "00000"),  # floor, not round
        (1000, "00001"),
        (99_999_999, "99999"),
        (100_000_000, "00000"),  # wrap
        (100_001_999, "00001"),
    ],
)
def test_esme_display(wh: int, shown: str) -> None:
    assert esme_display(wh) == shown


def test_esme_display_configurable_digits() -> None:
    assert esme_display(1_234_567_890, 7) == "1234567"
    assert esme_display(1_234_567_890, frac_digits=1) == "34567.8"
    assert esme_display(1_234_567_899, 3, frac_digits=2) == "567.89"


@pytest.mark.parametrize("args", [(-1,), (1.0,), (None,), (1, 0), (1, 5.0), (True,)])
def test_esme_display_rejects_bad_arguments(args: tuple) -> None:
    with pytest.raises(DisplayError):
        esme_display(*args)
