"""Which sprint a request means: the one asked for (it must be the project's), else the current one."""

from __future__ import annotations

from dataclasses import dataclass

from models.db import tenant_session
from services.auth import CurrentUser
from services.dashboards.common import require_project
from services.dashboards.item_lists import _get_sprint
from services.dashboards.sprint_rows import _current_index, _sprint_rows


@dataclass(frozen=True)
class SprintRef:
    id: int
    name: str


def chosen_sprint(user: CurrentUser, project_id: int, sprint_id: int | None = None) -> SprintRef | None:
    """`sprint_id` checked against the project (NotFound otherwise); when None, the active sprint,
    else the latest one that has started; None when the project has no sprints."""
    require_project(user, project_id)
    with tenant_session(user.tenant_slug or "") as session:
        if sprint_id is not None:
            return SprintRef(sprint_id, _get_sprint(session, project_id, sprint_id).name)
        points = _sprint_rows(session, project_id)
        index = _current_index(points)
        return SprintRef(points[index].sprint_id, points[index].sprint_name) if index is not None else None
