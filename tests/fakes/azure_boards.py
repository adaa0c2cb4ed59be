"""A faithful fake of the Azure Boards REST API (7.1) for tests and the demo.

Speaks the shapes of Microsoft's published examples (fixtures/public-api-samples/azure_boards):
identity refs with uniqueName/descriptor, ``System.*`` fields, ``relations``, ``_links``;
checks ``api-version``; PAT basic auth (401 TF400813 body otherwise); WIQL with the
result cap error VS402337 (cap configurable per dataset so tests stay small);
workitemsbatch limits (200 ids, 100 fields, no fields with $expand); work item
type states; team iterations; updates paging; the reporting revisions feed (continuationToken,
nextLink, isLastBatch, startDateTime, fields; ``dataset["reporting_api"] = False`` answers 404 as an old
Server does); fields and picklists.

    dataset = generate_dataset(seed=1, size=40, wiql_cap=15)
    app = create_app(dataset, FaultControls())
    # base URL for the connector: f"{server}/{dataset['organization']}"

Change data between syncs with `update_work_item` / `delete_work_item`.
"""

from __future__ import annotations

import base64
import itertools
import random
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from tests.fakes.dmt_profile import draw_profile
from tests.fakes.server import FaultControls, install_faults

DEFAULT_TOKEN = "ado-pat-0123456789abcdef"

# The same people as the Jira and ClickUp fakes, so one person is one identity across tools in the demo.
DEFAULT_PEOPLE = [
    {"name": "Alice Martin", "email": "alice.martin@acme.example"},
    {"name": "Bruno Silva", "email": "bruno.silva@acme.example"},
    {"name": "Chen Wei", "email": "chen.wei@acme.example"},
    {"name": "Dana Kowalski", "email": "dana.kowalski@acme.example"},
    {"name": "Emeka Obi", "email": "emeka.obi@acme.example"},
    {"name": "Fatima Zahra", "email": "fatima.zahra@acme.example"},
    {"name": "Gustav Lind", "email": "gustav.lind@acme.example"},
    {"name": "Hana Sato", "email": "hana.sato@acme.example"},
]


def login_of(person: dict[str, Any]) -> str:
    """A person's GitHub-style login: given, or derived from the email ("alice.martin@x" -> "alice-martin")."""
    return person.get("login") or re.sub(r"[^a-z0-9]+", "-", person["email"].split("@")[0].lower()).strip("-")


# Agile process states, with Azure's state categories.
AGILE_STATES = {
    "User Story": [
        ("New", "Proposed"),
        ("Active", "InProgress"),
        ("Resolved", "Resolved"),
        ("Closed", "Completed"),
        ("Removed", "Removed"),
    ],
    "Bug": [("New", "Proposed"), ("Active", "InProgress"), ("Resolved", "Resolved"), ("Closed", "Completed")],
    "Task": [("New", "Proposed"), ("Active", "InProgress"), ("Closed", "Completed"), ("Removed", "Removed")],
}
STATE_COLORS = {
    "Proposed": "b2b2b2",
    "InProgress": "007acc",
    "Resolved": "ff9d00",
    "Completed": "339933",
    "Removed": "ffffff",
}

CUSTOM_FIELDS = [
    {
        "name": "AC Quality",
        "referenceName": "Custom.ACQuality",
        "type": "string",
        "isPicklist": True,
        "picklistId": "5c2b4f0e-1a0b-4a49-9a6e-2d7d3b0f0a01",
        "items": ["Testable", "Not Testable", "Missing"],
    },
    {
        "name": "Unit Testing Status",
        "referenceName": "Custom.UnitTestingStatus",
        "type": "string",
        "isPicklist": True,
        "picklistId": "5c2b4f0e-1a0b-4a49-9a6e-2d7d3b0f0a02",
        "items": ["Done", "In Progress", "Not Started", "Not Applicable"],
    },
    {"name": "Unit Test Task", "referenceName": "Custom.UnitTestTask", "type": "boolean", "isPicklist": False},
    {"name": "Code Coverage", "referenceName": "Custom.CodeCoverage", "type": "double", "isPicklist": False},
    {"name": "CI Evidence URL", "referenceName": "Custom.CIEvidenceUrl", "type": "string", "isPicklist": False},
    {"name": "DMT Sign-off", "referenceName": "Custom.DMTSignoff", "type": "boolean", "isPicklist": False},
    {
        "name": "Exception Approved By",
        "referenceName": "Custom.ExceptionApprovedBy",
        "type": "identity",
        "isPicklist": False,
    },
    {"name": "Exception Reason", "referenceName": "Custom.ExceptionReason", "type": "string", "isPicklist": False},
]
SYSTEM_FIELDS = [
    ("ID", "System.Id", "integer"),
    ("Title", "System.Title", "string"),
    ("State", "System.State", "string"),
    ("Work Item Type", "System.WorkItemType", "string"),
    ("Assigned To", "System.AssignedTo", "identity"),
    ("Iteration Path", "System.IterationPath", "treePath"),
    ("Area Path", "System.AreaPath", "treePath"),
    ("Changed Date", "System.ChangedDate", "dateTime"),
    ("Created Date", "System.CreatedDate", "dateTime"),
    ("Tags", "System.Tags", "plainText"),
    ("Parent", "System.Parent", "integer"),
    ("Story Points", "Microsoft.VSTS.Scheduling.StoryPoints", "double"),
    ("Priority", "Microsoft.VSTS.Common.Priority", "integer"),
    ("Activated Date", "Microsoft.VSTS.Common.ActivatedDate", "dateTime"),
    ("Closed Date", "Microsoft.VSTS.Common.ClosedDate", "dateTime"),
    ("State Change Date", "Microsoft.VSTS.Common.StateChangeDate", "dateTime"),
]

TITLES = [
    "Customer can sign in using their Microsoft Account",
    "Export invoices as PDF",
    "Password reset by email",
    "Show order history",
    "Audit log for admin actions",
    "Search products by tag",
    "Two-factor authentication",
    "Bulk import of users from CSV",
    "Dark mode for the dashboard",
    "Rate limit the public API",
]


def iso(moment: datetime) -> str:
    """Azure's timestamp format: UTC with milliseconds and Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def identity_ref(person: dict[str, Any], org_url: str = "https://dev.azure.com/acme") -> dict[str, Any]:
    """An IdentityRef as Azure sends it inside work item fields."""
    ident = person.get("azure_id") or str(uuid.uuid5(uuid.NAMESPACE_URL, person["email"]))
    descriptor = "aad." + base64.b64encode(ident.encode()).decode().rstrip("=")
    return {
        "displayName": person["name"],
        "url": f"https://vssps.dev.azure.com/{org_url.rstrip('/').rsplit('/', 1)[-1]}/_apis/Identities/{ident}",
        "_links": {"avatar": {"href": f"{org_url}/_apis/GraphProfile/MemberAvatars/{descriptor}"}},
        "id": ident,
        "uniqueName": person["email"],
        "imageUrl": f"{org_url}/_api/_common/identityImage?id={ident}",
        "descriptor": descriptor,
    }


def azure_error(status: int, message: str, type_key: str, event_id: int = 3000) -> JSONResponse:
    """Azure DevOps' error body."""
    body = {
        "$id": "1",
        "innerException": None,
        "message": message,
        "typeName": f"Microsoft.TeamFoundation.{type_key}, Microsoft.TeamFoundation.Server",
        "typeKey": type_key,
        "errorCode": 0,
        "eventId": event_id,
    }
    return JSONResponse(body, status_code=status)


SIGN_IN_PAGE = (
    "<!DOCTYPE html><html><head><title>Azure DevOps Services | Sign In</title></head>"
    "<body><div id='signin'>Sign in to your account</div></body></html>"
)


def check_basic_auth(request: Request, token: str) -> Response | None:
    """None if the PAT in basic auth matches; otherwise the 401 Azure DevOps answers."""
    header = request.headers.get("authorization", "")
    if not header:
        # Anonymous calls get the HTML sign-in page with 203, not a 401.
        return HTMLResponse(SIGN_IN_PAGE, status_code=203)
    ok = False
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:]).decode()
            ok = decoded.split(":", 1)[-1] == token
        except (ValueError, UnicodeDecodeError):
            ok = False
    if ok:
        return None
    response = azure_error(
        401, "TF400813: The user '' is not authorized to access this resource.", "UnauthorizedRequestException"
    )
    response.headers["WWW-Authenticate"] = 'Basic realm="https://dev.azure.com/"'
    return response


def check_api_version(request: Request) -> JSONResponse | None:
    if request.query_params.get("api-version") or "api-version" in request.headers.get("accept", ""):
        return None
    return azure_error(
        400,
        f'No api-version was supplied for the "{request.method}" request. The version must be supplied either as '
        'part of the Accept header (e.g. "application/json; api-version=1.0") or as a query parameter '
        "(e.g. '?api-version=1.0').",
        "VssVersionNotSpecifiedException",
    )


def project_missing_tf(project_name: str) -> str:
    """The message Azure DevOps' Git and Pipelines APIs give for an unknown project."""
    return (
        f"TF200016: The following project does not exist: {project_name}. Verify that the name of the "
        "project is correct and that the project exists on the specified Azure DevOps Server."
    )


def project_missing_vs(project_name: str) -> str:
    """The message Azure DevOps' Work Item Tracking API gives for an unknown project."""
    return (
        f"VS800075: The project with id 'vstfs:///Classification/TeamProject/{project_name}' does not exist, "
        "or you do not have permission to access it."
    )


def check_org_and_project(
    request: Request,
    dataset: dict[str, Any],
    org_name: str,
    project_name: str | None = None,
    version: bool = True,
    project_missing: Callable[[str], str] = project_missing_tf,
) -> Response | None:
    """None if the PAT, organisation, project and api-version of a request to a fake are good; else Azure's error."""
    denied = check_basic_auth(request, dataset["token"])
    if denied:
        return denied
    if org_name != dataset["organization"]:
        return azure_error(
            404, f"VS800075: The organization '{org_name}' does not exist.", "ProjectDoesNotExistException"
        )
    project = dataset["project"]
    if project_name is not None and project_name not in (project["name"], project["id"]):
        return azure_error(404, project_missing(project_name), "ProjectDoesNotExistException")
    return check_api_version(request) if version else None


def connection_data_body(person: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    """The core of `_apis/connectionData` for the signed-in `person` whose IdentityRef is `ref`."""
    return {
        "authenticatedUser": {
            "id": ref["id"],
            "descriptor": f"Microsoft.IdentityModel.Claims.ClaimsIdentity;{person['email']}",
            "subjectDescriptor": ref["descriptor"],
            "providerDisplayName": person["name"],
            "isActive": True,
            "properties": {"Account": {"$type": "System.String", "$value": person["email"]}},
        },
        "authorizedUser": {"id": ref["id"], "providerDisplayName": person["name"]},
        "deploymentType": "hosted",
    }


def add_connection_data_route(
    app: FastAPI,
    dataset: dict[str, Any],
    guard: Callable[..., Response | None],
    body: Callable[[dict[str, Any]], dict[str, Any]],
) -> None:
    """Serve `GET /{org}/_apis/connectionData`: `body(person)` for the dataset's user, past `guard`."""

    @app.get("/{org_name}/_apis/connectionData")
    async def connection_data(request: Request, org_name: str) -> Response:
        denied = guard(request, org_name, version=False)
        if denied:
            return denied
        return JSONResponse(body(dataset["user"]))


# --------------------------------------------------------------------------- dataset
def generate_dataset(
    seed: int = 1,
    size: int = 60,
    *,
    organization: str = "acme",
    project: str = "Fabrikam",
    token: str = DEFAULT_TOKEN,
    work_item_keys: list[str] | None = None,
    people: list[dict[str, Any]] | None = None,
    wiql_cap: int = 20_000,
    now: datetime | None = None,
    days: int = 84,
    sprint_days: int = 14,
    pr_artifact_links: bool = True,
) -> dict[str, Any]:
    """A project with `size` work items spread over the last `days` days, in 2-week sprints.

    `work_item_keys` ("AB#12", ...) fixes the ids of the first items so other fakes' PRs can
    reference them. `people` are {"name", "email", "login"} dicts shared across fakes.
    """
    rng = random.Random(seed)
    people = people or DEFAULT_PEOPLE
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    origin = (now - timedelta(days=days)).replace(hour=9, minute=0, second=0)
    project_id = str(uuid.UUID(int=rng.getrandbits(128)))
    repo_id = str(uuid.UUID(int=rng.getrandbits(128)))
    team = f"{project} Team"

    iterations = []
    sprint_count = days // sprint_days + 2
    for n in range(sprint_count):
        start = origin + timedelta(days=n * sprint_days)
        finish = start + timedelta(days=sprint_days - 1)
        frame = "past" if finish.date() < now.date() else ("current" if start <= now else "future")
        iterations.append(
            {
                "id": str(uuid.UUID(int=rng.getrandbits(128))),
                "name": f"Sprint {n + 1}",
                "path": f"{project}\\Sprint {n + 1}",
                "attributes": {
                    "startDate": start.strftime("%Y-%m-%dT00:00:00Z"),
                    "finishDate": finish.strftime("%Y-%m-%dT00:00:00Z"),
                    "timeFrame": frame,
                },
            }
        )

    fixed_ids = [int(k.split("#", 1)[1]) for k in work_item_keys or [] if re.fullmatch(r"AB#\d+", k)]
    ids: list[int] = []
    next_id = 1
    for i in range(size):
        if i < len(fixed_ids):
            ids.append(fixed_ids[i])
        else:
            while next_id in fixed_ids or next_id in ids:
                next_id += 1
            ids.append(next_id)
            next_id += 1

    items: dict[int, dict[str, Any]] = {}
    updates: dict[int, list[dict[str, Any]]] = {}
    stories = [i for n, i in enumerate(ids) if n % 4 != 3]
    for n, item_id in enumerate(ids):
        work_type = "Task" if n % 4 == 3 else ("Bug" if n % 5 == 4 else "User Story")
        person = people[n % len(people)]
        creator = people[(n + 1) % len(people)]
        created = origin + timedelta(hours=rng.randint(0, days * 24 - 48))
        span = (now - created).total_seconds()
        activated = created + timedelta(seconds=span * rng.uniform(0.05, 0.3)) if rng.random() < 0.8 else None
        closed = (
            activated + timedelta(seconds=span * rng.uniform(0.1, 0.5)) if activated and rng.random() < 0.6 else None
        )
        state = "Closed" if closed else ("Active" if activated else "New")
        changed = max(t for t in (created, activated, closed) if t) + timedelta(minutes=rng.randint(1, 600))
        changed = min(changed, now - timedelta(minutes=1))
        sprint = next(
            (
                it
                for it in iterations
                if it["attributes"]["startDate"][:10]
                <= (activated or created).strftime("%Y-%m-%d")
                <= it["attributes"]["finishDate"][:10]
            ),
            iterations[-1],
        )
        fields: dict[str, Any] = {
            "System.Id": item_id,
            "System.AreaId": 3570,
            "System.AreaPath": project,
            "System.TeamProject": project,
            "System.IterationPath": sprint["path"],
            "System.WorkItemType": work_type,
            "System.State": state,
            "System.Reason": {"New": "New", "Active": "Implementation started", "Closed": "Acceptance tests pass"}[
                state
            ],
            "System.AssignedTo": identity_ref(person, f"https://dev.azure.com/{organization}"),
            "System.CreatedDate": iso(created),
            "System.CreatedBy": identity_ref(creator, f"https://dev.azure.com/{organization}"),
            "System.ChangedDate": iso(changed),
            "System.ChangedBy": identity_ref(person, f"https://dev.azure.com/{organization}"),
            "System.CommentCount": rng.randint(0, 4),
            "System.Title": f"{TITLES[n % len(TITLES)]} ({item_id})",
            "Microsoft.VSTS.Common.Priority": rng.randint(1, 4),
            "Microsoft.VSTS.Common.StateChangeDate": iso(closed or activated or created),
            "Microsoft.VSTS.Common.ValueArea": "Business",
        }
        if activated:
            fields["Microsoft.VSTS.Common.ActivatedDate"] = iso(activated)
            fields["Microsoft.VSTS.Common.ActivatedBy"] = identity_ref(person, f"https://dev.azure.com/{organization}")
        if closed:
            fields["Microsoft.VSTS.Common.ClosedDate"] = iso(closed)
            fields["Microsoft.VSTS.Common.ClosedBy"] = identity_ref(person, f"https://dev.azure.com/{organization}")
        if work_type != "Task":
            fields["Microsoft.VSTS.Scheduling.StoryPoints"] = float(rng.choice([1, 2, 3, 5, 8, 13]))
            profile = draw_profile(rng, done=bool(closed), started=bool(activated))
            fields["Custom.ACQuality"] = profile.ac_quality or "Missing"
            if profile.unit_testing:
                fields["Custom.UnitTestingStatus"] = (
                    "Not Applicable" if profile.unit_testing == "N/A" else profile.unit_testing
                )
            fields["Custom.UnitTestTask"] = profile.unit_test_task
            if closed:
                if profile.coverage is not None:
                    fields["Custom.CodeCoverage"] = profile.coverage
                fields["Custom.DMTSignoff"] = profile.signed_off
                if profile.has_ci:
                    fields["Custom.CIEvidenceUrl"] = (
                        f"https://dev.azure.com/{organization}/{project}/_build/results?buildId={1000 + item_id}"
                    )
        else:
            fields["Microsoft.VSTS.Scheduling.RemainingWork"] = 0 if closed else rng.randint(1, 8)
            parent = rng.choice(stories) if stories else None
            if parent and parent != item_id:
                fields["System.Parent"] = parent
        if rng.random() < 0.3:
            fields["System.Tags"] = "; ".join(
                sorted(rng.sample(["backend", "frontend", "Blocked", "security", "ux"], 2))
            )
        relations: list[dict[str, Any]] = []
        if fields.get("System.Parent"):
            relations.append(
                {
                    "rel": "System.LinkTypes.Hierarchy-Reverse",
                    "url": f"https://dev.azure.com/{organization}/_apis/wit/workItems/{fields['System.Parent']}",
                    "attributes": {"isLocked": False, "name": "Parent"},
                }
            )
        if pr_artifact_links and closed and work_type != "Task":
            pr_id = 100 + n
            relations.append(
                {
                    "rel": "ArtifactLink",
                    "url": f"vstfs:///Git/PullRequestId/{project_id}%2F{repo_id}%2F{pr_id}",
                    "attributes": {
                        "authorizedDate": iso(closed),
                        "id": 5000 + n,
                        "resourceCreatedDate": iso(closed),
                        "resourceModifiedDate": iso(closed),
                        "revisedDate": "9999-01-01T00:00:00Z",
                        "name": "Pull Request",
                    },
                }
            )
        history = _initial_updates(item_id, fields, created, activated, closed, changed, person, organization)
        fields["System.Rev"] = len(history)
        items[item_id] = {"id": item_id, "rev": len(history), "fields": fields, "relations": relations}
        updates[item_id] = history

    return {
        "organization": organization,
        "project": {
            "id": project_id,
            "name": project,
            "description": f"{project} product",
            "state": "wellFormed",
            "revision": 411,
            "visibility": "private",
            "lastUpdateTime": iso(origin),
        },
        "team": team,
        "token": token,
        "user": people[0],
        "people": people,
        "work_items": items,
        "updates": updates,
        "deleted": set(),
        "iterations": iterations,
        "states": {
            t: [{"name": n, "color": STATE_COLORS[c], "category": c} for n, c in s] for t, s in AGILE_STATES.items()
        },
        "wiql_cap": wiql_cap,
        "now": now,
        "malformed_next": 0,
    }


def _initial_updates(
    item_id: int,
    fields: dict[str, Any],
    created: datetime,
    activated: datetime | None,
    closed: datetime | None,
    changed: datetime,
    person: dict[str, Any],
    organization: str,
) -> list[dict[str, Any]]:
    """The item's updates: creation (every field it was created with), activation, closing, a last edit.

    Consistent with the item's fields, so the revisions the reporting API replays from
    them end with the item as it is.
    """
    by = identity_ref(person, f"https://dev.azure.com/{organization}")
    first: dict[str, Any] = {
        "System.State": {"newValue": "New"},
        "System.ChangedDate": {"newValue": iso(created)},
        "System.IterationPath": {"newValue": fields["System.IterationPath"]},
        "System.WorkItemType": {"newValue": fields["System.WorkItemType"]},
        "System.Title": {"newValue": fields["System.Title"]},
    }
    if fields.get("System.Tags"):
        first["System.Tags"] = {"newValue": fields["System.Tags"]}
    history = [{"fields": first}]
    previous, previous_time = "New", created
    for state, moment in (("Active", activated), ("Closed", closed)):
        if moment:
            history.append(
                {
                    "fields": {
                        "System.State": {"oldValue": previous, "newValue": state},
                        "System.ChangedDate": {"oldValue": iso(previous_time), "newValue": iso(moment)},
                    }
                }
            )
            previous, previous_time = state, moment
    if changed > previous_time:  # the last edit (a comment, a priority) after the last state change
        history.append(
            {
                "fields": {
                    "System.ChangedDate": {"oldValue": iso(previous_time), "newValue": iso(changed)},
                    "System.CommentCount": {"newValue": fields.get("System.CommentCount", 0)},
                }
            }
        )
    for rev, update in enumerate(history, start=1):
        update.update({"id": rev, "workItemId": item_id, "rev": rev, "revisedBy": by})
    for current, following in itertools.pairwise(history):
        current["revisedDate"] = following["fields"]["System.ChangedDate"]["newValue"]
    history[-1]["revisedDate"] = "9999-01-01T00:00:00Z"
    return history


def item_revisions(dataset: dict[str, Any], item_id: int) -> list[dict[str, Any]]:
    """Every revision of an item as the reporting API holds it: all its fields at that revision.

    Replayed backwards from the item's fields through its updates (each revision is the
    next one with that update's changes undone), so revisions and updates always agree.
    """
    item = dataset["work_items"][item_id]
    updates = dataset["updates"][item_id]
    snapshot = {k: v for k, v in item["fields"].items() if v not in (None, "")}
    revisions: list[dict[str, Any]] = []
    for update in reversed(updates):
        fields = {**snapshot, "System.Rev": update["rev"], "System.RevisedDate": update["revisedDate"]}
        revisions.append(
            {"id": item_id, "rev": update["rev"], "fields": fields, "_watermark": update.get("_watermark", 0)}
        )
        for name, change in (update.get("fields") or {}).items():
            if change.get("oldValue") not in (None, ""):
                snapshot[name] = change["oldValue"]
            else:
                snapshot.pop(name, None)
    revisions.reverse()
    return revisions


def update_work_item(
    dataset: dict[str, Any], item_id: int, changes: dict[str, Any], when: datetime | None = None
) -> None:
    """Change fields of a work item as a user would: new rev, new ChangedDate, one more update."""
    item = dataset["work_items"][item_id]
    fields = item["fields"]
    when = when or datetime.now(UTC)
    diff = {k: {"oldValue": fields.get(k), "newValue": v} for k, v in changes.items()}
    diff["System.ChangedDate"] = {"oldValue": fields["System.ChangedDate"], "newValue": iso(when)}
    if "System.State" in changes:
        fields["Microsoft.VSTS.Common.StateChangeDate"] = iso(when)
    fields.update(changes)
    fields["System.ChangedDate"] = iso(when)
    item["rev"] += 1
    fields["System.Rev"] = item["rev"]
    dataset["version"] = dataset.get("version", 0) + 1
    history = dataset["updates"][item_id]
    history[-1]["revisedDate"] = iso(when)
    history.append(
        {
            "id": item["rev"],
            "workItemId": item_id,
            "rev": item["rev"],
            "revisedDate": "9999-01-01T00:00:00Z",
            "revisedBy": fields.get("System.ChangedBy"),
            "fields": diff,
            "_watermark": dataset["version"],  # made after every generated revision, whatever `when` says
        }
    )


def delete_work_item(dataset: dict[str, Any], item_id: int) -> None:
    """Send a work item to the recycle bin: WIQL, batch and the revision feed no longer return it."""
    dataset["deleted"].add(item_id)
    dataset["version"] = dataset.get("version", 0) + 1


# --------------------------------------------------------------------------- app
def _parse_bound(query: str, ops: str) -> datetime | None:
    match = re.search(rf"\[System\.ChangedDate\]\s*({ops})\s*'([^']+)'", query, re.I)
    if not match:
        return None
    return datetime.fromisoformat(match.group(2).replace("Z", "+00:00")).astimezone(UTC)


def create_app(dataset: dict[str, Any], controls: FaultControls | None = None) -> FastAPI:
    """The fake Azure Boards API serving `dataset`; works mounted under a prefix."""
    app = FastAPI(title="fake Azure Boards")
    app.state.dataset = dataset
    if controls is not None:
        install_faults(app, controls)
    org = dataset["organization"]
    project = dataset["project"]

    def org_url(request: Request) -> str:
        # The base of every URL we hand out: scheme, host, any mount prefix, organisation.
        url = str(request.url.replace(query=""))
        return url[: url.find(f"/{org}/") + len(org) + 1]

    def guard(
        request: Request, org_name: str, project_name: str | None = None, version: bool = True
    ) -> Response | None:
        return check_org_and_project(request, dataset, org_name, project_name, version, project_missing_vs)

    def malformed() -> Response | None:
        if dataset.get("malformed_next", 0) > 0:
            dataset["malformed_next"] -= 1
            return Response("<html><body>Sign in to your account</body></html>", media_type="text/html")
        return None

    def render(item: dict[str, Any], base: str, fields: list[str] | None, expand: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"id": item["id"], "rev": item["rev"]}
        source = item["fields"]
        out["fields"] = {k: v for k, v in source.items() if fields is None or k in fields}
        expand_value = (expand or "none").lower()
        if expand_value in ("relations", "all") and item["relations"]:
            out["relations"] = [
                {**r, "url": r["url"].replace(f"https://dev.azure.com/{org}", base)} for r in item["relations"]
            ]
        api = f"{base}/_apis/wit/workItems/{item['id']}"
        if expand_value in ("links", "all", "relations"):
            out["_links"] = {
                "self": {"href": api},
                "workItemUpdates": {"href": f"{api}/updates"},
                "workItemRevisions": {"href": f"{api}/revisions"},
                "workItemComments": {"href": f"{api}/comments"},
                "html": {"href": f"{base}/{project['name']}/_workitems/edit/{item['id']}"},
                "workItemType": {
                    "href": f"{base}/{project['id']}/_apis/wit/workItemTypes/{source['System.WorkItemType']}"
                },
                "fields": {"href": f"{base}/_apis/wit/fields"},
            }
        out["url"] = api
        return out

    def connection_data(person: dict[str, Any]) -> dict[str, Any]:
        body = connection_data_body(person, identity_ref(person))
        return {
            "authenticatedUser": {**body["authenticatedUser"], "resourceVersion": 2, "metaTypeId": 0},
            "authorizedUser": body["authorizedUser"],
            "instanceId": "6d823a47-2d51-4f31-acff-74927f88ee1e",
            "deploymentId": "e2ad31b9-2fa1-4d73-9e72-0a05c9bfe8e1",
            "deploymentType": body["deploymentType"],
            "locationServiceData": {
                "serviceOwner": "00025394-6065-48ca-87d9-7f5672854ef7",
                "defaultAccessMappingMoniker": "PublicAccessMapping",
            },
        }

    add_connection_data_route(app, dataset, guard, connection_data)

    @app.get("/{org_name}/_apis/projects/{project_name}")
    async def get_project(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        base = org_url(request)
        return JSONResponse(
            {
                **project,
                "url": f"{base}/_apis/projects/{project['id']}",
                "_links": {
                    "self": {"href": f"{base}/_apis/projects/{project['id']}"},
                    "web": {"href": f"{base}/{project['name']}"},
                },
                "defaultTeam": {"id": str(uuid.uuid5(uuid.NAMESPACE_DNS, dataset["team"])), "name": dataset["team"]},
            }
        )

    @app.get("/{org_name}/_apis/wit/fields")
    @app.get("/{org_name}/{project_name}/_apis/wit/fields")
    async def list_fields(request: Request, org_name: str, project_name: str | None = None) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        base = org_url(request)
        value = [
            {
                "name": name,
                "referenceName": ref,
                "description": "",
                "type": kind,
                "usage": "workItem",
                "readOnly": False,
                "canSortBy": True,
                "isQueryable": True,
                "supportedOperations": [],
                "isIdentity": kind == "identity",
                "isPicklist": False,
                "isPicklistSuggested": False,
                "url": f"{base}/_apis/wit/fields/{ref}",
            }
            for name, ref, kind in SYSTEM_FIELDS
        ]
        for field in CUSTOM_FIELDS:
            entry = {k: v for k, v in field.items() if k != "items"}
            value.append(
                {
                    **entry,
                    "description": "",
                    "usage": "workItem",
                    "readOnly": False,
                    "canSortBy": True,
                    "isQueryable": True,
                    "supportedOperations": [],
                    "isIdentity": field["type"] == "identity",
                    "isPicklistSuggested": False,
                    "url": f"{base}/_apis/wit/fields/{field['referenceName']}",
                }
            )
        return JSONResponse({"count": len(value), "value": value})

    @app.get("/{org_name}/_apis/work/processes/lists/{list_id}")
    async def picklist(request: Request, org_name: str, list_id: str) -> Response:
        denied = guard(request, org_name)
        if denied:
            return denied
        for field in CUSTOM_FIELDS:
            if field.get("picklistId") == list_id:
                return JSONResponse(
                    {
                        "items": field["items"],
                        "id": list_id,
                        "name": f"picklist_{list_id}",
                        "type": "String",
                        "isSuggested": False,
                        "url": f"{org_url(request)}/_apis/work/processes/lists/{list_id}",
                    }
                )
        return azure_error(
            404, f"VS403114: The picklist with id {list_id} does not exist.", "PicklistDoesNotExistException"
        )

    @app.post("/{org_name}/{project_name}/_apis/wit/wiql")
    async def wiql(request: Request, org_name: str, project_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        broken = malformed()
        if broken:
            return broken
        body = await request.json()
        query = str(body.get("query", ""))
        low = _parse_bound(query, ">=|>")
        high = _parse_bound(query, "<=|<")
        matches = []
        for item in dataset["work_items"].values():
            if item["id"] in dataset["deleted"]:
                continue
            changed = datetime.fromisoformat(item["fields"]["System.ChangedDate"].replace("Z", "+00:00"))
            if low and changed < low:
                continue
            if high and changed >= high:
                continue
            matches.append((changed, item["id"]))
        if len(matches) > dataset["wiql_cap"]:
            return azure_error(
                400,
                f"VS402337: The number of work items returned exceeds the size limit of {dataset['wiql_cap']}. "
                "Change the query to return fewer work items.",
                "WorkItemTrackingQueryResultSizeLimitExceededException",
                3200,
            )
        matches.sort()
        top = request.query_params.get("$top")
        if top:
            matches = matches[: int(top)]
        base = org_url(request)
        return JSONResponse(
            {
                "queryType": "flat",
                "queryResultType": "workItem",
                "asOf": iso(datetime.now(UTC)),
                "columns": [{"referenceName": "System.Id", "name": "ID", "url": f"{base}/_apis/wit/fields/System.Id"}],
                "sortColumns": [
                    {
                        "field": {
                            "referenceName": "System.ChangedDate",
                            "name": "Changed Date",
                            "url": f"{base}/_apis/wit/fields/System.ChangedDate",
                        },
                        "descending": False,
                    }
                ],
                "workItems": [{"id": i, "url": f"{base}/_apis/wit/workItems/{i}"} for _, i in matches],
            }
        )

    @app.post("/{org_name}/_apis/wit/workitemsbatch")
    @app.post("/{org_name}/{project_name}/_apis/wit/workitemsbatch")
    async def batch(request: Request, org_name: str, project_name: str | None = None) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        broken = malformed()
        if broken:
            return broken
        body = await request.json()
        ids = body.get("ids") or []
        fields = body.get("fields")
        expand = body.get("$expand")
        if len(ids) > 200:
            return azure_error(
                400,
                "VS403474: The maximum number of work items in a batch request is 200.",
                "WorkItemBatchLimitExceededException",
            )
        if fields and len(fields) > 100:
            return azure_error(
                400,
                "VS403475: The maximum number of fields in a batch request is 100.",
                "WorkItemBatchLimitExceededException",
            )
        if fields and expand and str(expand).lower() != "none":
            return azure_error(
                400, "The expand parameter can not be used with the fields parameter.", "ConflictingParametersException"
            )
        base = org_url(request)
        value: list[Any] = []
        for raw_id in ids:
            item = dataset["work_items"].get(int(raw_id))
            if item is None or item["id"] in dataset["deleted"]:
                if body.get("errorPolicy", "Fail").lower() == "omit":
                    value.append(None)
                    continue
                return azure_error(
                    404,
                    f"TF401232: Work item {raw_id} does not exist, or you do not have permissions to read it.",
                    "WorkItemDoesNotExistException",
                    3200,
                )
            value.append(render(item, base, fields, expand))
        return JSONResponse({"count": len(value), "value": value})

    @app.get("/{org_name}/{project_name}/_apis/wit/workitemtypes/{type_name}/states")
    async def states(request: Request, org_name: str, project_name: str, type_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        value = dataset["states"].get(type_name)
        if value is None:
            return azure_error(
                404, f"VS402323: Work item type {type_name} does not exist.", "WorkItemTypeNotFoundException"
            )
        return JSONResponse({"count": len(value), "value": value})

    @app.get("/{org_name}/{project_name}/{team_name}/_apis/work/teamsettings/iterations")
    async def iterations(request: Request, org_name: str, project_name: str, team_name: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if team_name != dataset["team"]:
            return azure_error(404, f"The team with id or name '{team_name}' does not exist.", "TeamNotFoundException")
        base = org_url(request)
        # Like real teams, the oldest sprint is no longer selected in the team's settings.
        value = [
            {**it, "url": f"{base}/{project['id']}/_apis/work/teamsettings/iterations/{it['id']}"}
            for it in dataset["iterations"][1:]
        ]
        frame = request.query_params.get("$timeframe")
        if frame:
            value = [it for it in value if it["attributes"]["timeFrame"] == frame]
        return JSONResponse({"count": len(value), "value": value})

    @app.get("/{org_name}/{project_name}/_apis/wit/classificationnodes/{group}")
    @app.get("/{org_name}/{project_name}/_apis/wit/classificationNodes/{group}")
    async def classification_nodes(request: Request, org_name: str, project_name: str, group: str) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if group.lower() != "iterations":
            return azure_error(
                404, f"VS402485: The node {group} does not exist.", "ClassificationNodeNotFoundException"
            )
        base = f"{org_url(request)}/{project['id']}/_apis/wit/classificationNodes/Iterations"
        children = [
            {
                "id": 3570 + n,
                "identifier": it["id"],
                "name": it["name"],
                "structureType": "iteration",
                "hasChildren": False,
                "path": f"\\{project['name']}\\Iteration\\{it['name']}",
                "attributes": {
                    "startDate": it["attributes"]["startDate"],
                    "finishDate": it["attributes"]["finishDate"],
                },
                "url": f"{base}/{it['name']}",
            }
            for n, it in enumerate(dataset["iterations"])
        ]
        return JSONResponse(
            {
                "id": 3569,
                "identifier": str(uuid.uuid5(uuid.NAMESPACE_URL, project["id"])),
                "name": project["name"],
                "structureType": "iteration",
                "hasChildren": bool(children),
                "children": children,
                "path": f"\\{project['name']}\\Iteration",
                "url": base,
            }
        )

    def revision_feed() -> tuple[list[tuple[str, int, int]], dict[tuple[int, int], dict[str, Any]]]:
        """The project's revisions in watermark order (by change time), rebuilt when the data changes."""
        cached = dataset.get("_revision_feed")
        if cached is None or cached[0] != dataset.get("version", 0):
            by_key: dict[tuple[int, int], dict[str, Any]] = {}
            for item_id in dataset["work_items"]:
                if item_id in dataset["deleted"]:
                    continue
                for revision in item_revisions(dataset, item_id):
                    by_key[(item_id, revision["rev"])] = revision
            # Watermark order: the order revisions were made (edits made by tests come after the generated ones).
            order = [
                (r["fields"]["System.ChangedDate"], i, rev)
                for (i, rev), r in sorted(
                    by_key.items(), key=lambda kv: (kv[1]["_watermark"], kv[1]["fields"]["System.ChangedDate"], kv[0])
                )
            ]
            cached = (dataset.get("version", 0), order, by_key)
            dataset["_revision_feed"] = cached
        return cached[1], cached[2]

    @app.get("/{org_name}/_apis/wit/reporting/workitemrevisions")
    @app.get("/{org_name}/{project_name}/_apis/wit/reporting/workitemrevisions")
    @app.get("/{org_name}/_apis/wit/reporting/workItemRevisions")
    @app.get("/{org_name}/{project_name}/_apis/wit/reporting/workItemRevisions")
    async def reporting_revisions(request: Request, org_name: str, project_name: str | None = None) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if not dataset.get("reporting_api", True):
            return azure_error(
                404, "The controller for path '/_apis/wit/reporting/workitemrevisions' was not found.", "NotFound"
            )
        q = request.query_params
        dataset.setdefault("reporting_queries", []).append(dict(q))
        token, since = q.get("continuationToken"), q.get("startDateTime")
        if token and since:
            return azure_error(
                400, "The startDateTime parameter cannot be used together with a watermark.", "ArgumentException"
            )
        wanted = [f for f in q.get("fields", "").split(",") if f] or None
        size = max(1, min(int(q.get("$maxPageSize") or 1000), dataset.get("revisions_page_size", 1000)))
        order, by_key = revision_feed()
        if token:
            try:
                position = int(token)
            except ValueError:
                return azure_error(400, f"Invalid continuation token {token!r}.", "ArgumentException")
        elif since:
            low = iso(datetime.fromisoformat(since.replace("Z", "+00:00")).astimezone(UTC))
            position = next((n for n, entry in enumerate(order) if entry[0] > low), len(order))
        else:
            position = 0
        values = []
        for _, item_id, rev in order[position : position + size]:
            revision = by_key[(item_id, rev)]
            fields = revision["fields"]
            if wanted is not None:
                fields = {k: v for k, v in fields.items() if k in wanted}
            values.append({"id": item_id, "rev": rev, "fields": fields})
        following = min(position + size, len(order))
        base = org_url(request)
        scope = f"/{project_name}" if project_name else ""
        return JSONResponse(
            {
                "values": values,
                "nextLink": f"{base}{scope}/_apis/wit/reporting/workItemRevisions"
                f"?continuationToken={following}&api-version={q.get('api-version', '7.1')}",
                "continuationToken": str(following),
                "isLastBatch": following >= len(order),
            }
        )

    @app.get("/{org_name}/{project_name}/_apis/wit/workItems/{item_id}/updates")
    @app.get("/{org_name}/_apis/wit/workItems/{item_id}/updates")
    async def item_updates(request: Request, org_name: str, item_id: int, project_name: str | None = None) -> Response:
        denied = guard(request, org_name, project_name)
        if denied:
            return denied
        if item_id not in dataset["updates"] or item_id in dataset["deleted"]:
            return azure_error(
                404,
                f"TF401232: Work item {item_id} does not exist, or you do not have permissions to read it.",
                "WorkItemDoesNotExistException",
                3200,
            )
        skip = int(request.query_params.get("$skip", 0))
        top = min(int(request.query_params.get("$top", 200)), 200)
        page = dataset["updates"][item_id][skip : skip + top]
        base = org_url(request)
        value = [
            {
                **{k: v for k, v in u.items() if not k.startswith("_")},
                "url": f"{base}/_apis/wit/workItems/{item_id}/updates/{u['id']}",
            }
            for u in page
        ]
        return JSONResponse({"count": len(value), "value": value})

    return app
