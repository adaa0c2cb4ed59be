"""Forecast maths: Monte Carlo ranges, trend fits and the calibration backtest (pure functions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from etl.forecast import BACKTEST_MIN_HISTORY, backtest, finish_range, trend, velocity_range

START = datetime(2025, 1, 6, tzinfo=UTC)


def test_perfect_rising_line_is_up_with_r2_one() -> None:
    t = trend([10, 12, 14, 16, 18])
    assert t.direction == "up"
    assert t.slope == pytest.approx(2.0)
    assert t.normalised_slope == pytest.approx(2.0 / 14.0)
    assert t.r2 == pytest.approx(1.0)


def test_falling_series_is_down() -> None:
    t = trend([30, 26, 27, 20, 18])
    assert t.direction == "down" and t.slope < 0 and 0.8 < t.r2 <= 1.0


def test_constant_or_noisy_or_short_series_is_flat() -> None:
    assert trend([20, 20, 20, 20]).direction == "flat"
    assert trend([20, 30, 20, 30, 20, 30]).direction == "flat"  # tiny slope, r2 near 0
    assert trend([5]).direction == "flat"
    assert trend([]).r2 == 0.0


def test_velocity_range_is_seeded_and_orders_p85_below_p50() -> None:
    history = [18, 22, 25, 30, 21, 24]
    a = velocity_range(history, 5000, seed=7)
    b = velocity_range(history, 5000, seed=7)
    assert a == b
    assert a is not None and a.p85 <= a.p50
    assert min(history) <= a.p85 and a.p50 <= max(history)
    assert a.mean == pytest.approx(sum(history) / len(history), rel=0.03)
    assert velocity_range([]) is None


def test_constant_history_gives_an_exact_finish() -> None:
    r = finish_range([10, 10, 10], remaining=35, start=START, sprint_days=14)
    assert (r.p50_sprints, r.p85_sprints) == (4, 4)
    assert r.p50_date == START + timedelta(days=56)
    assert r.probability_within_horizon == 1.0


def test_variable_history_gives_p85_no_earlier_than_p50() -> None:
    r = finish_range([5, 10, 20, 8, 12], remaining=100, start=START, sprint_days=10, seed=3)
    assert r.p50_sprints is not None and r.p85_sprints is not None
    assert r.p85_sprints >= r.p50_sprints
    assert r.p50_date is not None and r.p85_date is not None and r.p85_date >= r.p50_date
    # 100 points at 11 per sprint on average: about 9 sprints.
    assert 7 <= r.p50_sprints <= 11


def test_no_output_means_no_finish_and_nothing_left_means_done() -> None:
    r = finish_range([0, 0], remaining=10, start=START)
    assert r.p50_date is None and r.probability_within_horizon == 0.0
    assert finish_range([3], remaining=0, start=START).p50_sprints == 0


# ---------------------------------------------------------------- calibration (backtest)


def _generated_history(kind: str, n: int, seed: int) -> list[float]:
    """Velocities of `n` sprints drawn from a known distribution (seeded: the same every run)."""
    rng = np.random.default_rng(seed)
    if kind == "normal":  # a steady team: 40 points, sd 8
        values = rng.normal(40.0, 8.0, n)
    elif kind == "gamma":  # skewed: occasional big sprints
        values = rng.gamma(4.0, 7.5, n)
    else:  # story points: sums of estimates, integers with ties
        values = rng.poisson(30.0, n).astype(float)
    return [round(max(0.0, float(v)), 1) for v in values]


@pytest.mark.parametrize("kind", ["normal", "gamma", "integer"])
def test_backtest_p85_coverage_is_calibrated_on_a_known_distribution(kind: str) -> None:
    history = _generated_history(kind, 120, seed=2025)
    calibration = backtest(history, simulations=4000)
    assert calibration.sprints_tested == 120 - BACKTEST_MIN_HISTORY
    assert calibration.p85_coverage is not None and calibration.p50_coverage is not None
    # About 85 % of sprints reach the P85 forecast made from the sprints before them ...
    assert 0.75 <= calibration.p85_coverage <= 0.95
    # ... and about half reach the P50.
    assert 0.35 <= calibration.p50_coverage <= 0.70
    assert calibration.p85_hits == sum(1 for p in calibration.points if p.actual >= p.p85)


def test_backtest_forecasts_each_sprint_only_from_the_sprints_before_it() -> None:
    history = [10.0, 12.0, 14.0, 40.0, 11.0]
    calibration = backtest(history, ["A", "B", "C", "D", "E"], window=3, min_history=3, simulations=2000)
    assert [p.sprint for p in calibration.points] == ["D", "E"]
    d, e = calibration.points
    assert d.actual == 40.0 and d.p50 == velocity_range([10.0, 12.0, 14.0], 2000).p50
    # E's forecast sees B, C and D (the window), never E itself.
    assert e.p50 == velocity_range([12.0, 14.0, 40.0], 2000).p50
    assert (calibration.p85_hits, calibration.sprints_tested) == (1, 2)  # D (40 >= 10) yes, E (11 < 12) no


def test_backtest_is_deterministic_and_empty_without_history() -> None:
    history = _generated_history("gamma", 30, seed=7)
    assert backtest(history, simulations=1000) == backtest(history, simulations=1000)
    empty = backtest([20.0, 25.0])
    assert (empty.sprints_tested, empty.p85_coverage) == (0, None)
