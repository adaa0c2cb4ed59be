"""Company page figures live in page state as plain plotly JSON, the same JSON the browser got for a go.Figure."""

from __future__ import annotations

import pickle

import plotly.graph_objects as go
from reflex_base.utils.serializers import serialize_figure

from portal_common.charts import figure_json, gauge_figure, heatmap_figure


def test_a_figure_reaches_the_browser_as_reflex_sends_a_plotly_figure() -> None:
    for fig in (
        gauge_figure(72.5, target=90, warning=80, status="red", reference=70.0),
        heatmap_figure(["S1", "S2"], ["Ann"], [[50.0, None]], [[2, 0]], value_label="compliant", count_label="items"),
    ):
        data = figure_json(fig)
        assert data == serialize_figure(fig)
        assert pickle.loads(pickle.dumps(data)) == data  # a state round trip through Redis keeps it whole


def test_no_company_page_keeps_a_plotly_object_in_its_state() -> None:
    """A go.Figure var is rebuilt with full validation on every unpickle: about 10 ms per figure per event."""
    from dmt_app.state import compliance, dashboards, dora  # noqa: F401 - the page states
    from dmt_app.state.base import CompanyState

    def states(cls: type) -> list[type]:
        return [cls, *(s for sub in cls.__subclasses__() for s in states(sub))]

    figures = [
        f"{state.__name__}.{name}"
        for state in states(CompanyState)
        for name, var in state.base_vars.items()
        if isinstance(var._var_type, type) and issubclass(var._var_type, go.Figure)
    ]
    assert len(states(CompanyState)) > 10 and figures == []


def test_the_dashboard_gauge_is_the_figure_its_numbers_give_each_time() -> None:
    from dmt_app.state.charts import compliance_gauge_figure
    from services import dashboards as dash

    gauge = dash.ComplianceGauge(value=72.5, delta=2.5, target=90, warning=80, status="red")
    expected = figure_json(gauge_figure(72.5, target=90, warning=80, status="red", reference=70.0))
    first = compliance_gauge_figure(gauge)
    assert first == expected
    first["layout"]["height"] = 1  # a page's copy is its own
    assert compliance_gauge_figure(gauge) == expected
