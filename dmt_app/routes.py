"""The company portal's page routes (product spec 6.2) and the links between them."""

from __future__ import annotations

from urllib.parse import quote

import reflex as rx
from reflex.vars.function import FunctionStringVar

DASHBOARD = "/dashboard"
VELOCITY = "/dashboard/velocity"
THROUGHPUT = "/dashboard/throughput"
QUALITY = "/dashboard/quality"
PR_HEALTH = "/dashboard/pr-health"
DORA = "/dashboard/dora"
TEAM = "/team"
SPRINT = "/team/sprint/[sprint_name]"
DEVELOPERS = "/developers"
DEVELOPER = "/developers/[developer_id]"
ME = "/me"
COMPLIANCE = "/compliance"
FLAGS = "/compliance/flags"
EXCEPTIONS = "/compliance/exceptions"
AI_INSIGHTS = "/ai-insights"
NOTIFICATIONS = "/notifications"
EXPORTS = "/exports"

_encode = FunctionStringVar("encodeURIComponent")


def sprint_url(sprint_name: str, project_id: int | str) -> str:
    """The deep-dive of a sprint of a project (a shareable link)."""
    return f"/team/sprint/{quote(sprint_name, safe='')}?project={project_id}"


def sprint_href(sprint_name: rx.Var, project_id: rx.Var) -> rx.Var:
    """`sprint_url` for a sprint shown in the browser."""
    return "/team/sprint/" + _encode.call(sprint_name).to(str) + "?project=" + project_id.to(str)


def developer_href(identity_id: rx.Var, project_id: rx.Var) -> rx.Var:
    """The page of one developer of a project (a shareable link)."""
    return "/developers/" + identity_id.to(str) + "?project=" + project_id.to(str)
