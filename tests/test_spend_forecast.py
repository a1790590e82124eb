"""The spend forecast (statsmodels ETS) on a synthetic series with a known trend and weekly season."""
from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from aifinops.spend_forecast import MIN_HISTORY_DAYS, forecast_spend

START = date(2026, 9, 1)
DAYS = 75  # to 2026-11-14


def truth(t: float) -> float:
    return 1000 + 5 * t + 200 * math.sin(2 * math.pi * t / 7)


@pytest.fixture(scope="module")
def history() -> dict[date, float]:
    noise = np.random.default_rng(3).normal(0, 20, DAYS)
    return {START + timedelta(days=i): truth(i) + noise[i] for i in range(DAYS)}


def true_total(first: int, days: int) -> float:
    return sum(truth(t) for t in range(first, first + days))


def test_forecast_follows_the_trend_and_the_weekly_season(history):
    forecast = forecast_spend(history, level=0.95)
    assert forecast.available and forecast.last_day == date(2026, 11, 14)
    rest, following = 16, 31  # 15 Nov to 30 Nov; December
    assert forecast.rest_of_month.point == pytest.approx(true_total(DAYS, rest), rel=0.02)
    assert forecast.next_month.point == pytest.approx(true_total(DAYS + rest, following), rel=0.02)
    assert forecast.next_month.low < true_total(DAYS + rest, following) < forecast.next_month.high
    assert forecast.this_month.point == pytest.approx(forecast.month_to_date + forecast.rest_of_month.point)
    # The season is in the daily path: the forecast peaks where the sine does, not on a flat line.
    daily = {day: point for day, point, _, _ in forecast.daily}
    peaks = [day for day in daily if (day - START).days % 7 in (1, 2)]
    troughs = [day for day in daily if (day - START).days % 7 in (5, 6)]
    assert min(daily[d] for d in peaks[:4]) > max(daily[d] for d in troughs[:4])
    assert all(low <= point <= high for _, point, low, high in forecast.daily)


def test_a_predicted_overrun_is_flagged(history):
    expected_november = true_total(DAYS - 14, 30)  # 1 Nov is day 61
    forecast = forecast_spend(history, [("tight", expected_november * 0.8), ("roomy", expected_november * 2)])
    status = {(b.name, b.month): b.status for b in forecast.budgets}
    assert status[("tight", "2026-11")] == "overrun likely" and status[("roomy", "2026-11")] == "within budget"
    assert [b.overrun for b in forecast.budgets if b.name == "tight"] == [True, True]


def test_too_little_history_is_reported_not_guessed(history):
    short = dict(list(history.items())[:MIN_HISTORY_DAYS - 1])
    forecast = forecast_spend(short, [("b", 1.0)])
    assert not forecast.available and "13 day(s) of history" in forecast.reason and forecast.budgets == []


def test_days_without_lines_count_as_no_spend(history):
    gappy = {day: value for day, value in history.items() if day.weekday() != 6}
    forecast = forecast_spend(gappy)
    sundays = [point for day, point, _, _ in forecast.daily if day.weekday() == 6]
    others = [point for day, point, _, _ in forecast.daily if day.weekday() != 6]
    assert max(sundays) < min(others) * 0.5
