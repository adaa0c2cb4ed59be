"""The portals' one percent format ("66.7%") and percentage-point changes, and the cycle-time table's order."""

from __future__ import annotations

import reflex as rx

from dmt_app.state.charts import CYCLE_ROWS, item_at, slowest_first
from portal_common.formatting import MISSING, PERCENT, PP, percent, percent_var, pp_change
from services.dashboards.cycle_time import CyclePoint, CycleTimeScatter
from services.dashboards.kpi_cards import _fmt


def test_a_percentage_has_its_sign_right_after_the_number() -> None:
    assert percent(66.66) == "66.7%"
    assert percent(60.0) == "60%"
    assert percent(100) == "100%"
    assert percent(0.04) == "0%"
    assert percent(-0.04) == "0%"  # never "-0%"
    assert percent(12.345, digits=2) == "12.35%"
    assert percent(None) == MISSING == "-"
    assert PERCENT == "%" and " " not in PERCENT


def test_the_percent_format_is_the_kpi_cards_one() -> None:
    for value in (0.0, 12.0, 66.66, 68.9, 99.95, None):
        assert percent(value) == _fmt(value, "%")


def test_a_change_of_a_percentage_is_in_signed_percentage_points() -> None:
    assert pp_change(2.46) == "+2.5 pp"
    assert pp_change(-2.46) == "\u22122.5 pp"  # a minus sign, as in print
    assert pp_change(-0.04) == "0 pp"  # a change that rounds to zero has no sign: no "-0.0"
    assert pp_change(0) == "0 pp"
    assert pp_change(5.0) == "+5 pp"
    assert pp_change(None) == MISSING
    assert PP == " pp"


def test_a_percentage_in_the_browser_is_the_value_and_the_sign_or_a_dash() -> None:
    js = str(percent_var(rx.Var.create(66.7)))
    assert '"%"' in js and '" %"' not in js
    assert f'"{MISSING}"' in js


def _point(item_id: int, cycle_days: float, done_at: str) -> CyclePoint:
    return CyclePoint(
        item_id=item_id,
        key=f"K-{item_id}",
        title=f"Item {item_id}",
        item_type="story",
        done_at=done_at,
        done_day=done_at[:10],
        cycle_days=cycle_days,
    )


def test_the_cycle_time_table_lists_the_scatters_own_points_slowest_first() -> None:
    points = [_point(i, float(i % 7), f"2026-11-{10 + i:02d}T12:00:00+00:00") for i in range(1, 16)]
    data = CycleTimeScatter(project_id=1, points=points, total=len(points))
    top = slowest_first(data)
    assert len(top) == CYCLE_ROWS
    assert [p.cycle_days for p in top] == sorted((p.cycle_days for p in points), reverse=True)[:CYCLE_ROWS]
    assert [p.item_id for p in top[:2]] == [13, 6]  # 6 days each: the later done first
    every = slowest_first(data, None)
    assert {p.item_id for p in every} == {p.item_id for p in points}
    assert all(p in points for p in every)  # the chart's own points, not a second computation


def test_a_click_on_a_point_finds_its_item() -> None:
    ids = [[11, 12], [21]]
    assert item_at(ids, [{"curveNumber": 0, "pointIndex": 1}]) == 12
    assert item_at(ids, [{"curveNumber": 1, "pointNumber": 0}]) == 21
    assert item_at(ids, [{"curveNumber": 2, "pointIndex": 0}]) is None
    assert item_at(ids, []) is None
