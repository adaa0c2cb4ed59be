"""Numbers as the portals write them: one percent format ("66.7%", no space) and pp for changes of a percentage.

The house format is the KPI cards' (`services.dashboards.kpi_cards`): at most
one decimal, a whole number without it, the percent sign right after the
number, "-" when there is no value, never "-0". A change of a percentage is in
percentage points: "+2.5 pp", "\u22122.5 pp" (a minus sign, as in print), "0 pp".

`percent` and `pp_change` format on the server; `percent_var` does the same
in the browser for a var of a read model (a rate in a table row).
"""

from __future__ import annotations

import reflex as rx

#: What follows a percentage (no space: "66.7%").
PERCENT = "%"
#: What follows a change of a percentage (percentage points).
PP = " pp"
#: A value that is missing.
MISSING = "-"
_MINUS = "\u2212"


def _number(value: float, digits: int) -> str:
    value = round(float(value), digits) + 0.0  # + 0.0 turns -0.0 into 0.0: no "-0" on a page
    return str(int(value)) if value.is_integer() else f"{value:.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    """A percentage (0..100) as pages show it: "66.7%", "60%", "-" when unknown."""
    if value is None:
        return MISSING
    return _number(value, digits) + PERCENT


def pp_change(delta: float | None, digits: int = 1) -> str:
    """A change of a percentage in percentage points: "+2.5 pp", "\u22122.5 pp", "0 pp" (a change that rounds to 0)."""
    if delta is None:
        return MISSING
    text = _number(abs(delta), digits)
    if text == "0":
        return "0" + PP
    return ("+" if delta > 0 else _MINUS) + text + PP


def percent_var(value: rx.Var) -> rx.Var:
    """`percent` in the browser, for a rate the server already rounded (one decimal)."""
    return rx.cond(value.is_not_none(), value.to_string() + PERCENT, MISSING)
