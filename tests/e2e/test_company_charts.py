"""The spec's charts in a real browser on the demo history: gauge, prediction card, burndown, scatter, heatmaps."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import Portal, Seed, open_page, sign_in

pytestmark = pytest.mark.e2e


def test_dashboard_charts_scatter_and_heatmaps(page: Page, company_portal: Portal, demo: Seed) -> None:
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)

    open_page(page, company_portal, "/dashboard")
    gauge = page.locator("#compliance-gauge")
    expect(gauge.locator(".js-plotly-plot .indicatorlayer")).to_have_count(1)
    expect(gauge).to_have_attribute("data-status", re.compile(r"^(green|yellow|red)$"))
    card = page.locator("[data-kpi=compliance_rate] .kpi-value")
    rate = card.inner_text().rstrip("%")
    expect(gauge.locator(".indicatorlayer")).to_contain_text(rate)  # the gauge shows the card's figure
    prediction = page.locator("#prediction-card")
    expect(prediction.locator(".forecast-p50")).to_have_text(re.compile(r"^\d+(\.\d)?$"))
    expect(prediction).to_contain_text("past sprints reached their P85 forecast")
    expect(page.locator("#sprint-burndown .recharts-line").first).to_be_visible()

    open_page(page, company_portal, "/dashboard/velocity")
    scatter = page.locator("#cycle-time-scatter")
    expect(scatter).to_contain_text("P50")
    points = scatter.locator(".scatterlayer .points path")
    expect(points.first).to_be_visible()
    points.first.click(force=True)  # a point opens its item
    dialog = page.locator("#drill-dialog")
    expect(dialog).to_contain_text("1 item(s)")
    expect(dialog.locator("table tbody tr")).to_have_count(1)
    page.keyboard.press("Escape")

    open_page(page, company_portal, "/dashboard/pr-health")
    expect(page.locator("#review-wait-heatmap .js-plotly-plot .hm, #review-wait-heatmap .heatmaplayer")).not_to_have_count(0)

    open_page(page, company_portal, "/dashboard/quality")  # a tech lead sees the developers' rows
    expect(page.locator("#compliance-heatmap .js-plotly-plot")).to_have_count(1)
    expect(page.get_by_text("Unit testing not done").first).to_be_visible()  # rules in words
