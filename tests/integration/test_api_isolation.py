"""Company API: every read and write refuses ids of another tenant (404), and works on one's own."""

from __future__ import annotations

import uuid

import pytest
from fastapi.testclient import TestClient

from services import exports
from services.auth import login
from tests.integration.test_dashboards_seed import PASSWORD, Seeded, seed_tenant


@pytest.fixture(scope="module")
def two(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Seeded, Seeded]:
    import os

    from core.settings import reset_settings_cache
    from services.audit import Actor
    from services.tenants import TenantCreate, create_tenant

    os.environ["EXPORT_DIR"] = str(tmp_path_factory.mktemp("api-exports"))
    reset_settings_cache()
    out = []
    for p in ("isoa", "isob"):
        t = create_tenant(TenantCreate(name=p, slug=f"{p}_{uuid.uuid4().hex[:6]}"), Actor.system("test"))
        out.append(seed_tenant(t))
    return out[0], out[1]


@pytest.fixture(scope="module")
def client(two: tuple[Seeded, Seeded]) -> TestClient:
    from api.app import create_api

    return TestClient(create_api("company"))


def bearer(s: Seeded, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {login(s.users[role], PASSWORD).tokens.access_token}"}


def own_and_foreign_urls(mine: Seeded, other: Seeded) -> list[tuple[str, str, str]]:
    """(method, own url, the same route with the other tenant's ids): every company read."""
    p, q = mine.project_id, other.project_id
    s, t = mine.sprints["S1"], other.sprints["S1"]
    i, j = mine.identities["Ann"], other.identities["Ann"]
    return [
        ("GET", f"/api/dashboard/summary?project_id={p}", f"/api/dashboard/summary?project_id={q}"),
        ("GET", f"/api/dashboard/velocity?project_id={p}", f"/api/dashboard/velocity?project_id={q}"),
        ("GET", f"/api/dashboard/throughput?project_id={p}", f"/api/dashboard/throughput?project_id={q}"),
        ("GET", f"/api/dashboard/defect-density?project_id={p}", f"/api/dashboard/defect-density?project_id={q}"),
        ("GET", f"/api/dashboard/compliance?project_id={p}", f"/api/dashboard/compliance?project_id={q}"),
        ("GET", f"/api/dashboard/blocked-items?project_id={p}", f"/api/dashboard/blocked-items?project_id={q}"),
        ("GET", f"/api/dashboard/pr-health?project_id={p}", f"/api/dashboard/pr-health?project_id={q}"),
        (
            "GET",
            f"/api/dashboard/sprint?project_id={p}&sprint_id={s}",
            f"/api/dashboard/sprint?project_id={q}&sprint_id={t}",
        ),
        (
            "GET",
            f"/api/dashboard/sprint/items?project_id={p}&sprint_id={s}&metric=completed",
            f"/api/dashboard/sprint/items?project_id={q}&sprint_id={t}",
        ),
        ("GET", f"/api/developers?project_id={p}", f"/api/developers?project_id={q}"),
        ("GET", f"/api/developers/{i}/metrics?project_id={p}", f"/api/developers/{j}/metrics?project_id={q}"),
        ("GET", f"/api/developers/{i}/comparison?project_id={p}", f"/api/developers/{j}/comparison?project_id={q}"),
        ("GET", f"/api/me/metrics?project_id={p}", f"/api/me/metrics?project_id={q}"),
        ("GET", f"/api/compliance-flags?project_id={p}", f"/api/compliance-flags?project_id={q}"),
        ("GET", f"/api/ai-insights?project_id={p}", f"/api/ai-insights?project_id={q}"),
        ("GET", f"/api/exceptions?project_id={p}", f"/api/exceptions?project_id={q}"),
    ]


def test_own_routes_answer_and_foreign_ids_are_not_found(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, b = two
    headers = bearer(a, "tech_lead")
    for method, own, foreign in own_and_foreign_urls(a, b):
        ok = client.request(method, own, headers=headers)
        assert ok.status_code == 200, (own, ok.text)
        # Projects live in the shared control plane, so B's project id is never one of A's.
        denied = client.request(method, foreign, headers=headers)
        assert denied.status_code == 404, (foreign, denied.text)
        assert denied.json()["error"]["code"] == "not_found"


def test_foreign_sprint_flag_insight_and_export_ids_are_not_found(
    client: TestClient, two: tuple[Seeded, Seeded]
) -> None:
    a, b = two
    headers = bearer(a, "tech_lead")
    p = a.project_id
    # Ids that exist only in tenant B (seeded after A, so above A's ranges).
    b_only_sprint = max(b.sprints.values()) + 100
    b_only_flag = max(b.flags.values()) + 100
    b_only_insight = b.insight_id + 100
    for url in (
        f"/api/dashboard/summary?project_id={p}&sprint_id={b_only_sprint}",
        f"/api/dashboard/sprint?project_id={p}&sprint_id={b_only_sprint}",
        f"/api/dashboard/sprint/items?project_id={p}&sprint_id={b_only_sprint}",
        f"/api/dashboard/blocked-items?project_id={p}&sprint_id={b_only_sprint}",
        f"/api/developers/{b.identities['Ann']}/comparison?project_id={p}&sprint_id={b_only_sprint}",
        f"/api/developers/999999/metrics?project_id={p}",
        f"/api/developers/999999/comparison?project_id={p}",
        f"/api/exports/{b.export_id + 100}/status",
        f"/api/exports/{b.export_id + 100}/download",
    ):
        r = client.get(url, headers=headers)
        assert r.status_code == 404, (url, r.text)
    r = client.post(f"/api/compliance-flags/{b_only_flag}/resolve", json={"note": "x"}, headers=headers)
    assert r.status_code == 404
    r = client.post(f"/api/ai-insights/{b_only_insight}/feedback", json={"rating": 1}, headers=headers)
    assert r.status_code == 404
    for report in ("sprint", "developer", "compliance"):
        r = client.post(f"/api/exports/{report}?project_id={b.project_id}", json={}, headers=headers)
        assert r.status_code == 404, (report, r.text)
    r = client.post(f"/api/exports/sprint?project_id={p}&sprint_id={b_only_sprint}", json={}, headers=headers)
    assert r.status_code == 404


def test_flags_of_another_tenant_never_appear(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, _ = two
    r = client.get("/api/compliance-flags?status=all", headers=bearer(a, "viewer"))
    assert r.status_code == 200
    assert {f["project_id"] for f in r.json()["items"]} == {a.project_id}
    assert r.json()["total"] == 3


def test_export_download_is_for_its_owner_only(client: TestClient, two: tuple[Seeded, Seeded], monkeypatch) -> None:
    a, b = two
    monkeypatch.setattr(exports, "_enqueue", exports.run_export)
    lead = bearer(a, "tech_lead")
    r = client.post(f"/api/exports/compliance?project_id={a.project_id}", json={"file_format": "csv"}, headers=lead)
    assert r.status_code == 202, r.text
    job = r.json()
    done = client.get(f"/api/exports/{job['id']}/status", headers=lead).json()
    assert done["status"] == "finished"
    file = client.get(done["download_url"], headers=lead)
    assert file.status_code == 200 and "missing_pr_link" in file.text
    assert "attachment" in file.headers["content-disposition"]
    # Another user of the same tenant, and a user of another tenant, get 404.
    assert client.get(done["download_url"], headers=bearer(a, "project_manager")).status_code == 404
    assert client.get(done["download_url"], headers=bearer(b, "tech_lead")).status_code == 404


def test_resolve_and_rate_through_the_api(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, _ = two
    viewer = client.post(
        f"/api/compliance-flags/{a.flags['high']}/resolve", json={"note": "tests added"}, headers=bearer(a, "viewer")
    )
    assert viewer.status_code == 403
    lead = client.post(
        f"/api/compliance-flags/{a.flags['high']}/resolve", json={"note": "tests added"}, headers=bearer(a, "tech_lead")
    )
    assert lead.status_code == 200 and lead.json()["status"] == "resolved"
    rated = client.post(
        f"/api/ai-insights/{a.insight_id}/feedback", json={"rating": 1, "note": "useful"}, headers=bearer(a, "viewer")
    )
    assert rated.status_code == 200 and rated.json()["rating"] == 1


def test_notifications_are_per_user(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    from services.notifications import create_for_users

    a, b = two
    lead = a.user("tech_lead")
    other = b.user("tech_lead")
    [mine] = create_for_users(a.tenant_id, [lead.id], kind="critical_flags", title="Two critical flags")
    [theirs] = create_for_users(b.tenant_id, [other.id], kind="critical_flags", title="B only")
    h = bearer(a, "tech_lead")
    page = client.get("/api/notifications", headers=h).json()
    assert [n["title"] for n in page["items"]] == ["Two critical flags"] and page["unread"] == 1
    assert client.post(f"/api/notifications/{theirs.id}/read", headers=h).status_code == 404
    assert client.post(f"/api/notifications/{mine.id}/read", headers=h).status_code == 200
    assert client.get("/api/notifications/unread-count", headers=h).json() == {"unread": 0}


def test_anonymous_and_admin_callers_are_refused(client: TestClient, two: tuple[Seeded, Seeded]) -> None:
    a, _ = two
    assert client.get(f"/api/dashboard/summary?project_id={a.project_id}").status_code == 401
