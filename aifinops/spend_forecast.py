"""Forecast the rest of the month and the next month from daily spend, and compare with budgets.

The model is statsmodels' ETS (exponential smoothing in state-space form) with an additive trend and a
weekly season: training spend follows the working week. Intervals for month totals come from simulated
future paths (summing per-day intervals would overstate the spread), with a fixed seed so a report is
reproducible. Fewer than two weeks of history is not enough for a weekly season: the forecast is then
reported as unavailable, never guessed.
"""
from __future__ import annotations

import calendar
import warnings
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Mapping, Optional, Sequence

import numpy as np

SEASON_DAYS = 7
MIN_HISTORY_DAYS = 2 * SEASON_DAYS
SIMULATIONS = 2000
SEED = 16


@dataclass(frozen=True)
class Interval:
    point: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"point": round(self.point, 2), "low": round(self.low, 2), "high": round(self.high, 2)}


@dataclass(frozen=True)
class BudgetCheck:
    name: str
    amount_usd: float
    month: str  # YYYY-MM
    forecast: Interval  # the month's total: actual to date plus forecast

    @property
    def status(self) -> str:
        """'overrun likely' when even the interval's low end exceeds the budget, 'overrun predicted' when the
        point forecast does, 'at risk' when only the high end does, else 'within budget'."""
        if self.forecast.low > self.amount_usd:
            return "overrun likely"
        if self.forecast.point > self.amount_usd:
            return "overrun predicted"
        if self.forecast.high > self.amount_usd:
            return "at risk"
        return "within budget"

    @property
    def overrun(self) -> bool:
        return self.status in ("overrun likely", "overrun predicted")

    def to_dict(self) -> dict[str, object]:
        return {"budget": self.name, "amountUsd": self.amount_usd, "month": self.month,
                "forecast": self.forecast.to_dict(), "status": self.status}


@dataclass
class Forecast:
    last_day: date  # the last day of history
    level: float  # the interval's coverage, e.g. 0.8
    available: bool
    reason: str = ""
    month_to_date: float = 0.0
    rest_of_month: Optional[Interval] = None
    this_month: Optional[Interval] = None  # month to date + rest of month
    next_month: Optional[Interval] = None
    daily: list[tuple[date, float, float, float]] = field(default_factory=list)  # day, point, low, high
    budgets: list[BudgetCheck] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        if not self.available:
            return {"available": False, "reason": self.reason}
        assert self.rest_of_month and self.this_month and self.next_month
        return {"available": True, "lastDay": self.last_day.isoformat(), "interval": self.level,
                "model": "statsmodels ETS(A,A,A), weekly season",
                "monthToDate": round(self.month_to_date, 2), "restOfMonth": self.rest_of_month.to_dict(),
                "thisMonth": self.this_month.to_dict(), "nextMonth": self.next_month.to_dict(),
                "budgets": [b.to_dict() for b in self.budgets]}


def month_end(day: date) -> date:
    return day.replace(day=calendar.monthrange(day.year, day.month)[1])


def daily_series(spend: Mapping[date, float]) -> tuple[date, np.ndarray]:
    """Every day from the first to the last with spend; a day without lines spent nothing."""
    first, last = min(spend), max(spend)
    days = (last - first).days + 1
    return first, np.array([spend.get(first + timedelta(days=i), 0.0) for i in range(days)], dtype=float)


def forecast_spend(spend: Mapping[date, float], budgets: Sequence[tuple[str, float]] = (), level: float = 0.8,
                   as_of: Optional[date] = None) -> Forecast:
    """Forecast from daily totals. `as_of`: the last day of history (default the last day with spend);
    budgets: (name, monthly USD) compared with this month's and next month's forecast totals."""
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    if not spend:
        return Forecast(as_of or date.min, level, False, "no daily spend to forecast from")
    first, series = daily_series(spend)
    last = as_of or first + timedelta(days=len(series) - 1)
    series = series[:(last - first).days + 1]
    if len(series) < MIN_HISTORY_DAYS:
        return Forecast(last, level, False, f"{len(series)} day(s) of history; a weekly season needs at least "
                                            f"{MIN_HISTORY_DAYS}")
    this_end = month_end(last)
    next_end = month_end(this_end + timedelta(days=1))
    rest_days = (this_end - last).days
    horizon = (next_end - last).days
    model = ETSModel(series, error="add", trend="add", seasonal="add",
                     seasonal_periods=SEASON_DAYS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence chatter on short series; the fit is still used
        fitted = model.fit(disp=False)
        paths = np.asarray(fitted.simulate(horizon, repetitions=SIMULATIONS, anchor="end",
                                           rng=np.random.default_rng(SEED)))
    paths = np.clip(paths.reshape(horizon, -1), 0.0, None)  # spend is never negative
    point = np.asarray(fitted.forecast(horizon)).clip(0.0)
    tail = (1 - level) / 2

    def interval(rows: slice, offset: float = 0.0) -> Interval:
        totals = paths[rows].sum(axis=0) + offset
        return Interval(float(point[rows].sum() + offset), float(np.quantile(totals, tail)),
                        float(np.quantile(totals, 1 - tail)))

    month_start = last.replace(day=1)
    to_date = float(series[max(0, (month_start - first).days):].sum())
    result = Forecast(last, level, True, month_to_date=to_date,
                      rest_of_month=interval(slice(0, rest_days)),
                      this_month=interval(slice(0, rest_days), to_date),
                      next_month=interval(slice(rest_days, horizon)))
    low, high = np.quantile(paths, tail, axis=1), np.quantile(paths, 1 - tail, axis=1)
    result.daily = [(last + timedelta(days=i + 1), float(point[i]), float(low[i]), float(high[i]))
                    for i in range(horizon)]
    for name, amount in budgets:
        result.budgets.append(BudgetCheck(name, amount, last.strftime("%Y-%m"), result.this_month))
        result.budgets.append(BudgetCheck(name, amount, (this_end + timedelta(days=1)).strftime("%Y-%m"),
                                          result.next_month))
    return result
