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
    expect(
        page.locator("#review-wait-heatmap .js-plotly-plot .hm, #review-wait-heatmap .heatmaplayer")
    ).not_to_have_count(0)

    open_page(page, company_portal, "/dashboard/quality")  # a tech lead sees the developers' rows
    expect(page.locator("#compliance-heatmap .js-plotly-plot")).to_have_count(1)
    expect(page.get_by_text("Unit testing not done").first).to_be_visible()  # rules in words


def test_the_keyboard_opens_a_cycle_time_point_from_the_table_under_the_scatter(
    page: Page, company_portal: Portal, demo: Seed
) -> None:
    """WCAG 2.1.1: the scatter's points are listed under it (slowest first); Tab to one, Enter opens that item."""
    sign_in(page, company_portal, demo.company_email, demo.company_password)
    expect(page.locator("#signed-in-user")).to_have_text(demo.company_name)
    open_page(page, company_portal, "/dashboard/velocity")
    items = page.locator("#cycle-time-items .cycle-item")
    expect(items).to_have_count(10)  # the 10 slowest of the demo's done items
    days = [float(t.split()[0]) for t in page.locator("#cycle-time-items tbody tr td:nth-child(4)").all_inner_texts()]
    assert days == sorted(days, reverse=True)
    slowest = items.first
    key = slowest.inner_text()
    title = page.locator("#cycle-time-items tbody tr").first.locator("td").nth(1).inner_text()

    # From the chart's period picker, Tab goes on through the chart to the first item of its table.
    page.get_by_label("Period of the cycle-time chart").focus()
    for _ in range(30):
        page.keyboard.press("Tab")
        if slowest.evaluate("el => el === document.activeElement"):
            break
    expect(slowest).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.locator("#drill-dialog")
    expect(dialog).to_contain_text("1 item(s)")
    expect(dialog.locator("table tbody tr")).to_have_count(1)
    expect(dialog.locator("table tbody tr td").first).to_have_text(key)
    expect(dialog.get_by_role("heading")).to_contain_text(key)
    expect(dialog.locator(".item-title")).to_contain_text(title[:20])
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(slowest).to_be_focused()  # the focus goes back to the item that opened the dialog

    page.locator("#cycle-rows-toggle").click()  # every point of the chart is reachable, not only the slowest
    expect(items).not_to_have_count(10)
    expect(page.locator("#cycle-time-scatter")).to_contain_text(f"{items.count()} items finished since")
