"""How numbers read in the Chinese report: the formatting filters, with every expected string written out."""

import pytest

from pipeline.lib.formatting import figure_text, number, pct, period_label, pp, wan, yi


@pytest.mark.parametrize(("value", "expected"), [
    (5.625, "5.63"),  # half up, as a reader rounds: Python's round() would give 5.62
    (0.125, "0.13"),
    (2.675, "2.68"),  # 2.675 is 2.67499999… as a binary float; the figure as written is what is rounded
    (14, "14"),
    (123.45, "123.5"),
    (100.25, "100.3"),
    (-0.004, "0"),
    (-1.005, "-1.01"),
])
def test_numbers_round_half_up_and_drop_trailing_zeros(value: float, expected: str) -> None:
    assert number(value) == expected


def test_units_read_as_chinese_reports_write_them() -> None:
    assert yi(562_500_000) == "5.63亿"
    assert yi(280_000_000_000) == "2800亿"
    assert wan(180_000) == "18万"
    assert pct(14) == "14%"
    assert pp(-1.5) == "-1.5个百分点"
    assert figure_text(580_000_000, "devices") == "5.8亿台"
    assert figure_text(60, "percent", "approx") == "约60%"
    assert figure_text(100, "categories", "at_least") == "100个品类以上"


def test_periods_read_in_chinese() -> None:
    assert period_label("2025H1") == "2025年上半年"
    assert period_label("2025H2") == "2025年下半年"
    assert period_label("2024") == "2024年"
    assert period_label("undated") == "未注明期间"


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_value_that_is_not_a_number_is_refused(value: float) -> None:
    with pytest.raises(ValueError):
        number(value)
