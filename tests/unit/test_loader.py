"""The load path: set-based upserts, idempotence, sprints, people and PR links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from etl.identity import add_manual_alias
from etl.loader import STRATEGIES, load_pull_requests, load_work_items
from models.db import tenant_schema_of, tenant_session

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def item(n: int, **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "source_item_id": str(10_000 + n),
        "item_key": f"PROJ-{n}",
        "title": f"Story {n}",
        "item_type": "story",
        "status": "Done" if n % 2 else "In Progress",
        "status_category": "done" if n % 2 else "in_progress",
        "story_points": float(n % 5 + 1),
        "labels": ["backend"],
        "sprint_name": f"Sprint {n % 3 + 1}",
        "sprint_source_id": str(n % 3 + 1),
        "sprint_state": "closed",
        "sprint_start": T0,
        "sprint_end": T0 + timedelta(days=14),
        "sprint_history": [f"Sprint {n % 3 + 1}"],
        "assignee_name": f"Dev {n % 4}",
        "assignee_email": f"dev{n % 4}@acme.test",
        "assignee_account_id": f"acc-{n % 4}",
        "created_at_source": T0,
        "updated_at_source": T0 + timedelta(hours=n),
        "pr_links": [],
        "raw_data": {"id": n, "text": "x\x00y"},
    }
    rec.update(over)
    return rec


def pr(n: int, keys: list[str], **over: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "source_pr_id": str(n),
        "number": n,
        "repository": "acme/api",
        "title": f"{' '.join(keys)} change {n}",
        "url": f"https://github.test/acme/api/pull/{n}",
        "state": "merged",
        "author_login": f"gh-dev{n % 4}",
        "author_email": f"DEV{n % 4}@acme.test",
        "author_name": f"Dev {n % 4}",
        "reviewers": [{"login": "gh-rev", "name": "Reviewer", "state": "APPROVED"}],
        "review_count": 1,
        "approvals_count": 1,
        "created_at_source": T0,
        "updated_at_source": T0 + timedelta(hours=n),
        "linked_keys": keys,
        "raw_data": {"n": n},
    }
    rec.update(over)
    return rec


def count(session, sql: str) -> int:
    schema = tenant_schema_of(session)
    return session.execute(sa.text(sql.replace("S.", f'"{schema}".'))).scalar_one()


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_load_is_idempotent_and_resolves_sprints_and_people(make_tenant, strategy: str) -> None:
    tenant = make_tenant("ld")
    records = [item(n) for n in range(1, 41)]
    with tenant_session(tenant.slug) as s:
        first = load_work_items(s, records, source_id=1, project_id=1, source_type="jira", strategy=strategy)
        s.commit()
        assert (first.inserted, first.updated, first.unchanged) == (40, 0, 0)
        assert first.sprints_upserted == 3
        again = load_work_items(s, records, source_id=1, project_id=1, source_type="jira", strategy=strategy)
        s.commit()
        assert (again.inserted, again.updated, again.unchanged, again.sprints_upserted) == (0, 0, 40, 0)
        assert again.touched_work_item_ids == []
        assert count(s, "SELECT count(*) FROM S.work_items") == 40
        assert count(s, "SELECT count(*) FROM S.sprints") == 3
        assert count(s, "SELECT count(*) FROM S.developer_identities") == 4
        assert count(s, "SELECT count(*) FROM S.work_items WHERE sprint_id IS NULL OR assignee_identity_id IS NULL") == 0
        # One change: only that row is rewritten; rows not in the batch stay as they are.
        changed = load_work_items(s, [item(5, title="Renamed")], source_id=1, project_id=1, source_type="jira", strategy=strategy)
        s.commit()
        assert (changed.inserted, changed.updated) == (0, 1)
        assert count(s, "SELECT count(*) FROM S.work_items WHERE title = 'Renamed'") == 1
        assert count(s, "SELECT count(*) FROM S.work_items") == 40


def test_duplicate_keys_in_one_batch_keep_the_last_and_long_strings_are_clipped(make_tenant) -> None:
    tenant = make_tenant("ld")
    with tenant_session(tenant.slug) as s:
        res = load_work_items(
            s, [item(1, title="old"), item(1, title="x" * 5000)], source_id=1, project_id=1, source_type="jira"
        )
        s.commit()
        assert res.inserted == 1
        assert count(s, "SELECT length(title) FROM S.work_items") == 1000


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_values_of_the_wrong_python_type_load_as_their_column_type(make_tenant, strategy: str) -> None:
    """Normalisers return typed values, but a plugin's strings, naive times and NULs must still load."""
    tenant = make_tenant("ld")
    odd = item(
        7,
        title=12345,
        story_points="5",
        reopened_count="2",
        is_blocked="true",
        created_at_source=datetime(2026, 1, 5, 9, 0),  # naive: UTC
        updated_at_source="2026-01-06T10:00:00Z",
        blocked_reason="waits\x00on ops",
    )
    with tenant_session(tenant.slug) as s:
        res = load_work_items(s, [odd], source_id=1, project_id=1, source_type="jira", strategy=strategy)
        s.commit()
        assert res.inserted == 1
        schema = tenant_schema_of(s)
        row = s.execute(
            sa.text(
                f"""SELECT title, story_points, reopened_count, is_blocked, created_at_source, updated_at_source,
                           blocked_reason, raw_data FROM "{schema}".work_items"""
            )
        ).one()
    assert row.title == "12345" and row.story_points == 5.0 and row.reopened_count == 2 and row.is_blocked is True
    assert row.created_at_source == T0 and row.updated_at_source == datetime(2026, 1, 6, 10, 0, tzinfo=UTC)
    assert row.blocked_reason == "waitson ops" and row.raw_data == {"id": 7, "text": "xy"}


def test_a_value_that_is_not_of_its_column_type_names_the_column(make_tenant) -> None:
    tenant = make_tenant("ld")
    with tenant_session(tenant.slug) as s, pytest.raises(ValueError, match="story_points: 'many'"):
        load_work_items(s, [item(1, story_points="many")], source_id=1, project_id=1, source_type="jira")


def test_people_join_up_across_tools_by_email_and_manual_mapping(make_tenant) -> None:
    tenant = make_tenant("ld")
    with tenant_session(tenant.slug) as s:
        load_work_items(s, [item(n) for n in range(1, 9)], source_id=1, project_id=1, source_type="jira")
        load_pull_requests(s, [pr(n, [f"PROJ-{n}"]) for n in range(1, 9)], source_id=2, project_id=1, source_type="github")
        s.commit()
        # Authors matched the Jira people by e-mail (case-insensitive); the reviewer is new.
        assert count(s, "SELECT count(*) FROM S.developer_identities") == 5
        assert count(
            s,
            """SELECT count(*) FROM S.pull_requests p JOIN S.work_items w ON w.item_key = 'PROJ-' || p.number
               WHERE p.author_identity_id = w.assignee_identity_id""",
        ) == 8
        assert count(s, "SELECT count(*) FROM S.pull_requests WHERE (reviewers->0->>'identity_id') IS NULL") == 0
        # A login without e-mail maps to a person by hand, and keeps mapping there.
        target = count(s, "SELECT assignee_identity_id FROM S.work_items WHERE item_key = 'PROJ-1'")
        add_manual_alias(s, target, "github_login", "octo-anon")
        load_pull_requests(s, [pr(50, [], author_login="octo-anon", author_email=None)], source_id=2, project_id=1, source_type="github")
        s.commit()
        assert count(s, "SELECT author_identity_id FROM S.pull_requests WHERE number = 50") == target


def test_pull_requests_link_to_items_in_either_load_order(make_tenant) -> None:
    tenant = make_tenant("ld")
    with tenant_session(tenant.slug) as s:
        # PRs first: nothing to link yet.
        res = load_pull_requests(s, [pr(1, ["PROJ-1"]), pr(2, ["PROJ-2", "PROJ-3"]), pr(3, [])], source_id=2, project_id=1, source_type="github")
        assert res.links_created == 0
        # Items arrive: key links, plus a URL link from the item's pr_links.
        items = [item(1), item(2), item(3), item(4, pr_links=["https://github.test/acme/api/pull/3"])]
        res = load_work_items(s, items, source_id=1, project_id=1, source_type="jira")
        s.commit()
        assert res.links_created == 4
        assert count(s, "SELECT count(*) FROM S.work_item_pull_requests") == 4
        # A PR that stops naming a key loses that key link; reloading is a no-op.
        res = load_pull_requests(s, [pr(2, ["PROJ-2"])], source_id=2, project_id=1, source_type="github")
        s.commit()
        assert count(s, "SELECT count(*) FROM S.work_item_pull_requests") == 3
        assert res.touched_work_item_ids  # PROJ-2 is re-evaluated
        res = load_pull_requests(s, [pr(2, ["PROJ-2"])], source_id=2, project_id=1, source_type="github")
        assert (res.updated, res.links_created) == (0, 0)
        # A PR arriving after an item that lists its URL is linked from the PR's side.
        load_work_items(s, [item(5, pr_links=["https://github.test/acme/api/pull/5"])], source_id=1, project_id=1, source_type="jira")
        res = load_pull_requests(s, [pr(5, [])], source_id=2, project_id=1, source_type="github")
        s.commit()
        assert res.links_created == 1
        assert count(s, "SELECT link_source FROM S.work_item_pull_requests l JOIN S.pull_requests p ON p.id = l.pull_request_id WHERE p.number = 5") == "tool"


def test_a_pr_named_by_key_and_listed_by_url_is_one_key_link_and_projects_never_mix(make_tenant) -> None:
    tenant = make_tenant("ld")
    url = "https://github.test/acme/api/pull/{}".format
    with tenant_session(tenant.slug) as s:
        load_pull_requests(s, [pr(7, ["PROJ-7"])], source_id=2, project_id=1, source_type="github")
        load_pull_requests(s, [pr(8, ["PROJ-7"])], source_id=3, project_id=2, source_type="github")
        res = load_work_items(s, [item(7, pr_links=[url(7), url(8)])], source_id=1, project_id=1, source_type="jira")
        s.commit()
        assert res.links_created == 1
        links = (
            "SELECT string_agg(p.number || ':' || l.link_source, ',' ORDER BY p.number)"
            " FROM S.work_item_pull_requests l JOIN S.pull_requests p ON p.id = l.pull_request_id"
        )
        assert count(s, links) == "7:key"
        # Project 2's item of the same key, listing PR 7's URL (project 1), links to project 2's PR 8 only.
        res = load_work_items(s, [item(7, pr_links=[url(7)])], source_id=4, project_id=2, source_type="jira")
        assert res.links_created == 1
        assert count(s, links + " WHERE p.project_id = 2") == "8:key"
        # From the PRs' side the same pairs create nothing new.
        res = load_pull_requests(s, [pr(7, ["PROJ-7"], title="Renamed")], source_id=2, project_id=1, source_type="github")
        assert (res.updated, res.links_created) == (1, 0)
        res = load_pull_requests(s, [pr(8, ["PROJ-7"], title="Renamed")], source_id=3, project_id=2, source_type="github")
        s.commit()
        assert (res.updated, res.links_created) == (1, 0)
        assert count(s, links) == "7:key,8:key"


def test_batch_json_matches_the_standard_library_and_survives_odd_values() -> None:
    import json
    from datetime import UTC, date, datetime

    from etl.loader import _dumps, _json_default

    row = {"at": datetime(2026, 1, 2, 3, 4, 5, 6000, tzinfo=UTC), "day": date(2026, 1, 2), "n": 3, "x": 1.5,
           "tags": {"b"}, "nested": [{"k": None}], "text": "caf\u00e9"}  # fmt: skip
    assert json.loads(_dumps(row)) == json.loads(json.dumps(row, default=_json_default))
    assert _dumps({"raw": "a\x00b", "keys": {1: "one"}}) == '{"raw":"ab","keys":{"1":"one"}}'
    assert json.loads(_dumps({"big": 2**70}))["big"] == 2**70  # beyond orjson's 64 bits: standard library


def test_concurrent_loaders_create_each_sprint_and_person_once(make_tenant) -> None:
    """Loaders resolve a batch's sprints and people under one tenant lock, then write records in parallel."""
    from concurrent.futures import ThreadPoolExecutor

    from etl.loader import resolve_dimensions

    tenant = make_tenant("ld")
    batches = [[item(n) for n in range(k * 50 + 1, k * 50 + 51)] for k in range(6)]
    batches = [b if k % 2 else list(reversed(b)) for k, b in enumerate(batches)]  # opposite orders
    where = {"source_id": 1, "project_id": 1, "source_type": "jira"}

    def write(batch: list[dict[str, Any]]) -> int:
        with tenant_session(tenant.slug) as s:
            dims = resolve_dimensions(s, "work_items", batch, **where)
            s.commit()
            res = load_work_items(s, batch, dimensions=dims, **where)
            s.commit()
            return res.inserted

    with ThreadPoolExecutor(3) as pool:
        assert sum(pool.map(write, batches)) == 300
    with tenant_session(tenant.slug) as s:
        assert count(s, "SELECT count(*) FROM S.work_items") == 300
        assert count(s, "SELECT count(*) FROM S.sprints") == 3
        assert count(s, "SELECT count(*) FROM S.developer_identities") == 4
        assert count(s, "SELECT count(*) FROM S.work_items WHERE sprint_id IS NULL OR assignee_identity_id IS NULL") == 0


def _statements(session) -> list[str]:
    """Every SQL statement the session's engine runs from now on (attach before the first statement)."""
    seen: list[str] = []
    sa.event.listen(session.get_bind(), "before_cursor_execute", lambda c, cur, sql, *a: seen.append(" ".join(sql.split())))
    return seen


def test_dimension_cache_skips_known_sprints_and_people_and_writes_new_ones(make_tenant) -> None:
    from etl.loader import DimensionCache, load_batch

    tenant = make_tenant("dc")
    where = {"source_id": 1, "project_id": 1, "source_type": "jira"}
    cache = DimensionCache()
    with tenant_session(tenant.slug) as s:
        first = load_batch(s, "work_items", [item(n) for n in range(1, 13)], cache=cache, **where)
        s.commit()
        assert first.inserted == 12 and first.sprints_upserted == 3
        seen = _statements(s)
        # Same sprints (as the first batch stated them) and people: no lock, no sprint or identity statement.
        again = load_batch(s, "work_items", [item(n) for n in range(13, 25)], cache=cache, **where)
        s.commit()
        assert again.inserted == 12 and again.sprints_upserted == 0
        assert not [q for q in seen if "advisory" in q or "sprints" in q or "identity_aliases a" in q]
        # A new sprint, a sprint whose state changed and a new person go to the database; the rest comes from the cache.
        seen.clear()
        later = [item(25, sprint_name="Sprint 9", sprint_source_id="9", sprint_history=["Sprint 9"]),
                 item(26, sprint_state="active"),  # Sprint 3, now active
                 item(27, assignee_email="new@acme.test", assignee_account_id="acc-new", assignee_name="New")]  # fmt: skip
        res = load_batch(s, "work_items", later, cache=cache, **where)
        s.commit()
        assert res.inserted == 3 and res.sprints_upserted == 2
        assert any("advisory" in q for q in seen)
        assert count(s, "SELECT count(*) FROM S.sprints") == 4
        assert count(s, "SELECT state FROM S.sprints WHERE name = 'Sprint 3'") == "active"
        assert count(s, "SELECT count(*) FROM S.developer_identities") == 5
        assert count(s, "SELECT count(*) FROM S.work_items WHERE sprint_id IS NULL OR assignee_identity_id IS NULL") == 0
        by_cache = count(s, "SELECT count(DISTINCT assignee_identity_id) FROM S.work_items WHERE assignee_email = 'dev1@acme.test'")
        assert by_cache == 1  # the cached identity is the one the database resolved


def test_dimension_cache_honours_a_manual_mapping_made_during_the_sync(make_tenant, monkeypatch) -> None:
    import etl.loader
    from etl.loader import DimensionCache, load_batch

    monkeypatch.setattr(etl.loader, "MANUAL_ALIAS_CHECK_SECONDS", 0.0)  # in production: within a second
    tenant = make_tenant("dm")
    where = {"source_id": 1, "project_id": 1, "source_type": "jira"}
    cache = DimensionCache()
    with tenant_session(tenant.slug) as s:
        load_batch(s, "work_items", [item(n) for n in range(1, 9)], cache=cache, **where)
        s.commit()
        schema = tenant_schema_of(s)
        lead = s.execute(sa.text(f'INSERT INTO "{schema}".developer_identities (display_name) VALUES (\'Lead\') RETURNING id')).scalar_one()
        add_manual_alias(s, lead, "jira_account", "acc-1")  # an admin maps Dev 1's Jira account to another person
        s.commit()
        load_batch(s, "work_items", [item(n) for n in (9, 13)], cache=cache, **where)  # both assigned to acc-1
        s.commit()
        owners = s.execute(
            sa.text(f'SELECT DISTINCT assignee_identity_id FROM "{schema}".work_items WHERE assignee_account_id = \'acc-1\'')
        ).scalars().all()
        assert owners == [lead]


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_two_batches_in_one_transaction_count_only_their_own_rows(make_tenant, strategy: str) -> None:
    """The COPY strategy's staging table is emptied by a commit; a second batch before it must not see the first."""
    tenant = make_tenant("tx")
    where = {"source_id": 1, "project_id": 1, "source_type": "jira", "strategy": strategy}
    with tenant_session(tenant.slug) as s:
        a = load_work_items(s, [item(n) for n in range(1, 6)], **where)
        b = load_work_items(s, [item(n) for n in range(6, 9)], **where)
        s.commit()
        assert (a.inserted, b.inserted, b.received, len(b.touched_work_item_ids)) == (5, 3, 3, 3)
        assert count(s, "SELECT count(*) FROM S.work_items") == 8


def test_loads_leave_no_dangling_sprint_or_person_reference(make_tenant) -> None:
    """The loader owns these references (no per-row foreign keys, migration t0006): every id it writes exists."""
    from concurrent.futures import ThreadPoolExecutor

    from etl.loader import DimensionCache, load_batch

    tenant = make_tenant("rf")
    cache = DimensionCache()

    def write(args: tuple[str, list[dict[str, Any]]]) -> None:
        stream, batch = args
        with tenant_session(tenant.slug) as s:
            source = (1, "jira") if stream == "work_items" else (2, "github")
            load_batch(s, stream, batch, source_id=source[0], project_id=1, source_type=source[1], cache=cache)
            s.commit()

    batches = [("work_items", [item(n, sprint_name=f"Sprint {n // 7}") for n in range(k * 40 + 1, k * 40 + 41)]) for k in range(6)]
    batches += [("pull_requests", [pr(n, [f"PROJ-{n}"]) for n in range(k * 30 + 1, k * 30 + 31)]) for k in range(4)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(write, batches))
    with tenant_session(tenant.slug) as s:
        assert count(s, "SELECT count(*) FROM S.work_items") == 240 and count(s, "SELECT count(*) FROM S.pull_requests") == 120
        dangling = """SELECT (SELECT count(*) FROM S.work_items w WHERE w.sprint_id IS NULL
                               OR NOT EXISTS (SELECT 1 FROM S.sprints x WHERE x.id = w.sprint_id))
                           + (SELECT count(*) FROM S.work_items w WHERE w.assignee_identity_id IS NULL
                               OR NOT EXISTS (SELECT 1 FROM S.developer_identities d WHERE d.id = w.assignee_identity_id))
                           + (SELECT count(*) FROM S.pull_requests p WHERE p.author_identity_id IS NULL
                               OR NOT EXISTS (SELECT 1 FROM S.developer_identities d WHERE d.id = p.author_identity_id))"""
        assert count(s, dangling) == 0


def test_a_batch_s_sprint_details_come_from_the_last_record_that_states_each() -> None:
    """Each distinct (sprint, details) is read once: the last record stating a detail still wins, also when an
    earlier combination comes back after another (A, B, A), and unhashable details take the per-record way."""
    from etl.loader import _batch_sprints

    a = {"sprint_name": "S1", "sprint_state": "active", "sprint_source_id": "1"}
    b = {"sprint_name": "S1", "sprint_state": "closed", "sprint_source_id": None}
    history = {"sprint_name": None, "sprint_history": ["S0", "", "S1"]}
    assert _batch_sprints([a, b, history, a]) == {
        "S0": {"name": "S0"},
        "S1": {"name": "S1", "state": "active", "source_sprint_id": "1"},
    }
    assert _batch_sprints([a, b])["S1"] == {"name": "S1", "state": "closed", "source_sprint_id": "1"}
    odd = {"sprint_name": "S2", "sprint_state": ["not", "a", "state"]}
    assert _batch_sprints([odd, {"sprint_name": "S2", "sprint_end": "x"}])["S2"] == {
        "name": "S2", "state": ["not", "a", "state"], "end_date": "x",
    }  # fmt: skip
