"""DMT compliance evaluation: set-based SQL per tenant, never a per-row loop.

One evaluation is one transaction of a handful of statements:

1. `_dmt_facts` (temp table): one row per judged item that fails a rule or
   whose verdict changed, with the array of rules it fails and its verdict, built in one pass over work_items joined with PR,
   exception and evidence aggregates (each predicate of `etl/rules.py` is
   evaluated once per item); `_dmt_fail` unnests it to (item, rule, severity).
2. `_dmt_act`   (temp table): each failing pair classified against the existing
   flag: open (new), reopen, update (severity/message changed), same, or
   keep_resolved (manually resolved and the item has not changed since).
3. INSERT new flags; UPDATE reopened and changed ones.
4. UPDATE open flags whose rule now passes to resolved (resolution 'auto').
5. UPDATE work_items.dmt_compliant / compliance_failures where they changed.

Rows are only written when something changed, so a second evaluation in a row
writes nothing. A manually resolved flag is reopened by a later failure only
if the item changed in its tool since (`updated_at_source > resolved_at`):
the person who resolved it judged that state of the item, not a future one.

An evaluation returns what it opened, including the new critical flags grouped
by project and assignee; telling people about them is a use case of the
caller (`services.alerts`), not of the pipeline.
"""

from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import select

from core.realtime import publish_event
from etl.project_figures import refresh_compliance_counts
from etl.rules import EXCUSABLE_RULES, RULES, effective_rules, failing_rules_array_sql
from models.base import utcnow
from models.db import get_tenant_by_slug, public_session, tenant_schema_of, tenant_session
from models.public import Project

log = logging.getLogger(__name__)

DEFAULT_THRESHOLD = 80.0
DEFAULT_WARNING_DAYS = 7


@dataclass(frozen=True)
class NewCriticalFlags:
    """Critical flags one evaluation opened (or reopened) in one project for one assignee."""

    project_id: int
    #: The user account of the items' assignee, when they can sign in (None otherwise).
    assignee_user_id: int | None
    count: int


@dataclass(frozen=True)
class EvaluationResult:
    opened: int
    resolved: int
    reopened: int
    unchanged: int
    evaluated_items: int
    seconds: float
    severity_changed: int = 0
    new_critical: int = 0
    #: The critical flags this evaluation opened or reopened, by project and assignee.
    new_critical_flags: tuple[NewCriticalFlags, ...] = ()

    def event_fields(self) -> dict[str, Any]:
        """The counts published with `compliance.evaluated` (not the per-assignee breakdown)."""
        fields = asdict(self)
        del fields["new_critical_flags"]
        return fields


@dataclass(frozen=True)
class ProjectRules:
    project_id: int
    threshold: float
    warning_days: int
    rules_config: dict[str, Any]


def load_project_rules(tenant_id: int) -> list[ProjectRules]:
    """The DMT settings of the tenant's projects (control plane)."""
    with public_session() as session:
        projects = session.exec(select(Project).where(Project.tenant_id == tenant_id)).all()
        return [
            ProjectRules(p.id or 0, p.coverage_threshold, p.exception_warning_days, p.rules_config or {})
            for p in projects
        ]


def _prepare_config(conn: Connection, projects: list[ProjectRules]) -> None:
    """Temp tables with the rule catalogue and the per-project settings."""
    conn.execute(sa.text(
        "CREATE TEMP TABLE _dmt_rules (rule_id text PRIMARY KEY, severity text NOT NULL, "
        "message text NOT NULL) ON COMMIT DROP"
    ))
    conn.execute(
        sa.text("INSERT INTO _dmt_rules VALUES (:id, :severity, :message)"),
        [{"id": r.id, "severity": str(r.severity), "message": r.message} for r in RULES],
    )
    # disabled: rules switched off; nonblocking: failing them keeps a done item compliant
    # (warnings such as exception_expiring, and rules a project turned down to "info").
    conn.execute(sa.text(
        "CREATE TEMP TABLE _dmt_proj (project_id int PRIMARY KEY, threshold float8 NOT NULL, "
        "warn_days int NOT NULL, disabled text[] NOT NULL, nonblocking text[] NOT NULL) ON COMMIT DROP"
    ))
    conn.execute(sa.text(
        "CREATE TEMP TABLE _dmt_rule_cfg (project_id int, rule_id text, severity text NOT NULL, "
        "PRIMARY KEY (project_id, rule_id)) ON COMMIT DROP"
    ))
    if projects:
        rows, overrides = [], []
        for p in projects:
            effective = effective_rules(p.rules_config)
            rows.append({
                "p": p.project_id, "t": p.threshold, "w": p.warning_days,
                "d": [e.rule.id for e in effective if not e.enabled],
                "n": [e.rule.id for e in effective if not e.rule.blocks_compliance or e.severity == "info"],
            })
            overrides += [
                {"p": p.project_id, "r": e.rule.id, "s": e.severity}
                for e in effective if e.severity != str(e.rule.severity)
            ]
        conn.execute(sa.text("INSERT INTO _dmt_proj VALUES (:p, :t, :w, :d, :n)"), rows)
        if overrides:
            conn.execute(sa.text("INSERT INTO _dmt_rule_cfg VALUES (:p, :r, :s)"), overrides)


def _facts_sql(schema: str, scoped: bool, switchable: set[str]) -> str:
    """CREATE `_dmt_facts`: one row per judged item with the rules it fails and its verdict.

    Every rule predicate is evaluated once per item, in one pass over work_items
    joined with PR, evidence and exception aggregates.
    """
    s = f'"{schema}"'
    scope_items = "JOIN _dmt_scope sc ON sc.id = w.id" if scoped else ""
    scope_links = "JOIN _dmt_scope sc ON sc.id = l.work_item_id" if scoped else ""
    scope_ev = "JOIN _dmt_scope sc ON sc.id = e.work_item_id" if scoped else ""
    scope_exc = "JOIN _dmt_scope sc ON sc.id = x.work_item_id" if scoped else ""
    default_nonblocking = "{" + ",".join(r.id for r in RULES if not r.blocks_compliance) + "}"
    # An exception recorded in the tool (the item's exception_* fields) covers every excusable rule.
    tool_excused = "{" + ",".join(EXCUSABLE_RULES) + "}"
    return f"""
    CREATE TEMP TABLE _dmt_facts ON COMMIT DROP AS
    WITH items AS (
        SELECT w.id, w.project_id, w.status_category, w.assignee_identity_id, w.updated_at_source,
               w.ac_quality, w.has_unit_test_task, w.unit_testing_status, w.coverage_percent,
               w.pr_links, w.ci_evidence_url, w.dmt_signoff, w.exception_approved_by,
               w.exception_expires_at, w.dmt_compliant AS old_compliant,
               w.compliance_failures AS old_failures
        FROM {s}.work_items w {scope_items}
        WHERE NOT w.is_deleted AND w.status_category IN ('done', 'in_progress')
    ),
    pr_evidence AS (
        SELECT e.pull_request_id, max(e.coverage_percent) AS cov,
               bool_or(coalesce(e.build_status, 'success') = 'success'
                       AND (e.build_url IS NOT NULL OR e.coverage_percent IS NOT NULL)) AS ci
        FROM {s}.coverage_evidence e
        WHERE e.pull_request_id IS NOT NULL
        GROUP BY e.pull_request_id
    ),
    prs AS (
        SELECT l.work_item_id,
               greatest(max(p.coverage_percent), max(pe.cov)) AS cov,
               bool_or(p.ci_status = 'success' OR (p.ci_status IS NULL AND p.ci_url IS NOT NULL)
                       OR coalesce(pe.ci, false)) AS ci,
               bool_or(p.dmt_signoff) AS signed
        FROM {s}.work_item_pull_requests l {scope_links}
        JOIN {s}.pull_requests p ON p.id = l.pull_request_id AND NOT p.is_deleted
        LEFT JOIN pr_evidence pe ON pe.pull_request_id = p.id
        GROUP BY l.work_item_id
    ),
    ev AS (
        SELECT e.work_item_id, max(e.coverage_percent) AS cov,
               bool_or(coalesce(e.build_status, 'success') = 'success'
                       AND (e.build_url IS NOT NULL OR e.coverage_percent IS NOT NULL)) AS ci
        FROM {s}.coverage_evidence e {scope_ev}
        WHERE e.work_item_id IS NOT NULL
        GROUP BY e.work_item_id
    ),
    exc AS (
        SELECT x.work_item_id, min(x.expires_at) AS expires, array_agg(DISTINCT r.rule_id) AS rules
        FROM {s}.dmt_exceptions x {scope_exc}
        CROSS JOIN LATERAL jsonb_array_elements_text(x.rules) AS r(rule_id)
        WHERE x.status = 'approved' AND x.revoked_at IS NULL AND x.expires_at > :now
        GROUP BY x.work_item_id
    ),
    facts AS MATERIALIZED (
        SELECT i.id, i.project_id, i.status_category, i.assignee_identity_id, i.updated_at_source,
               i.old_compliant, i.old_failures, i.ac_quality, i.has_unit_test_task, i.unit_testing_status,
               greatest(i.coverage_percent, prs.cov, ev.cov) AS coverage,
               (coalesce(jsonb_array_length(i.pr_links), 0) > 0 OR prs.work_item_id IS NOT NULL) AS has_pr,
               (i.ci_evidence_url IS NOT NULL OR coalesce(prs.ci, false) OR coalesce(ev.ci, false)) AS has_ci,
               (coalesce(i.dmt_signoff, false) OR coalesce(prs.signed, false)) AS signed_off,
               (exc.expires IS NOT NULL
                OR (i.exception_approved_by IS NOT NULL AND i.exception_expires_at > :now)) AS exception_valid,
               least(exc.expires,
                     CASE WHEN i.exception_approved_by IS NOT NULL AND i.exception_expires_at > :now
                          THEN i.exception_expires_at END) AS exception_expires,
               (coalesce(exc.rules, '{{}}'::text[])
                || CASE WHEN i.exception_approved_by IS NOT NULL AND i.exception_expires_at > :now
                        THEN '{tool_excused}'::text[] ELSE '{{}}'::text[] END) AS excepted_rules,
               coalesce(pc.threshold, {DEFAULT_THRESHOLD}) AS threshold,
               coalesce(pc.warn_days, {DEFAULT_WARNING_DAYS}) AS warn_days,
               coalesce(pc.disabled, '{{}}'::text[]) AS disabled,
               coalesce(pc.nonblocking, '{default_nonblocking}'::text[]) AS nonblocking,
               CAST(:now AS timestamptz) AS now_ts
        FROM items i
        LEFT JOIN prs ON prs.work_item_id = i.id
        LEFT JOIN ev ON ev.work_item_id = i.id
        LEFT JOIN exc ON exc.work_item_id = i.id
        LEFT JOIN _dmt_proj pc ON pc.project_id = i.project_id
    )
    SELECT y.id, y.project_id, y.status_category, y.assignee_identity_id, y.updated_at_source, y.fails,
           y.compliant, y.failures, y.changed
    FROM (
        SELECT z.*, (z.old_compliant IS DISTINCT FROM z.compliant
                     OR z.old_failures IS DISTINCT FROM z.failures) AS changed
        FROM (
            SELECT v.id, v.project_id, v.status_category, v.assignee_identity_id, v.updated_at_source, v.fails,
                   CASE WHEN v.status_category = 'done' THEN v.fails <@ v.nonblocking END AS compliant,
                   to_jsonb(v.fails) AS failures, v.old_compliant, v.old_failures
            FROM (SELECT f.*, {failing_rules_array_sql(switchable)} AS fails FROM facts f) v
        ) z
    ) y
    -- Passing items whose verdict is unchanged need no further work: keep the table small.
    WHERE cardinality(y.fails) > 0 OR y.changed
    """


def _failing_set_sql() -> str:
    """CREATE `_dmt_fail`: every failing (item, rule) with the severity it is judged at."""
    return """
    CREATE TEMP TABLE _dmt_fail ON COMMIT DROP AS
    SELECT f.id AS work_item_id, f.project_id, f.assignee_identity_id, f.updated_at_source, r.rule_id,
           CASE WHEN f.status_category = 'done' THEN coalesce(rc.severity, d.severity) ELSE 'info' END
               AS severity,
           d.message
    FROM _dmt_facts f
    CROSS JOIN LATERAL unnest(f.fails) AS r(rule_id)
    JOIN _dmt_rules d ON d.rule_id = r.rule_id
    LEFT JOIN _dmt_rule_cfg rc ON rc.project_id = f.project_id AND rc.rule_id = r.rule_id
    WHERE cardinality(f.fails) > 0
    """


def _classify_sql(schema: str) -> str:
    return f"""
    CREATE TEMP TABLE _dmt_act ON COMMIT DROP AS
    SELECT x.work_item_id, x.project_id, x.assignee_identity_id, x.rule_id, x.severity, x.message,
           f.id AS flag_id,
           CASE
             WHEN f.id IS NULL THEN 'open'
             WHEN f.status = 'resolved' AND (f.resolution IS DISTINCT FROM 'manual'
                  OR x.updated_at_source > f.resolved_at) THEN 'reopen'
             WHEN f.status = 'resolved' THEN 'keep_resolved'
             WHEN f.severity <> x.severity OR f.message <> x.message OR f.project_id <> x.project_id
                  THEN 'update'
             ELSE 'same'
           END AS action
    FROM _dmt_fail x
    LEFT JOIN "{schema}".compliance_flags f ON f.work_item_id = x.work_item_id AND f.rule_id = x.rule_id
    """


def _apply_sql(schema: str, scoped: bool) -> dict[str, str]:
    s = f'"{schema}"'
    scope_flags = "AND f.work_item_id IN (SELECT id FROM _dmt_scope)" if scoped else ""
    scope_items = "JOIN _dmt_scope sc ON sc.id = w.id" if scoped else ""
    return {
        "open": f"""
            INSERT INTO {s}.compliance_flags
                (work_item_id, project_id, rule_id, severity, message, status, opened_at,
                 reopened_count, last_evaluated_at)
            SELECT work_item_id, project_id, rule_id, severity, message, 'open', :now, 0, :now
            FROM _dmt_act WHERE action = 'open'
            ON CONFLICT (work_item_id, rule_id) DO NOTHING""",
        "reopen": f"""
            UPDATE {s}.compliance_flags f
            SET status = 'open', resolution = NULL, resolved_by = NULL, resolution_note = NULL,
                resolved_at = NULL, reopened_count = f.reopened_count + 1,
                severity = a.severity, message = a.message, project_id = a.project_id,
                last_evaluated_at = :now
            FROM _dmt_act a WHERE a.flag_id = f.id AND a.action = 'reopen'""",
        "update": f"""
            UPDATE {s}.compliance_flags f
            SET severity = a.severity, message = a.message, project_id = a.project_id,
                last_evaluated_at = :now
            FROM _dmt_act a WHERE a.flag_id = f.id AND a.action = 'update'""",
        "resolve": f"""
            UPDATE {s}.compliance_flags f
            SET status = 'resolved', resolution = 'auto', resolved_by = 'system', resolved_at = :now,
                last_evaluated_at = :now
            WHERE f.status = 'open' {scope_flags}
              AND NOT EXISTS (SELECT 1 FROM _dmt_fail x
                              WHERE x.work_item_id = f.work_item_id AND x.rule_id = f.rule_id)""",
        "items": f"""
            UPDATE {s}.work_items w
            SET dmt_compliant = v.compliant, compliance_failures = v.failures, compliance_evaluated_at = :now
            FROM _dmt_facts v
            WHERE v.changed AND w.id = v.id""",
        # Items no longer judged (to do again, or deleted) lose their verdict.
        "unjudged": f"""
            UPDATE {s}.work_items w
            SET dmt_compliant = NULL, compliance_failures = '[]'::jsonb, compliance_evaluated_at = :now
            FROM (SELECT w.id FROM {s}.work_items w {scope_items}
                  WHERE (w.is_deleted OR w.status_category NOT IN ('done', 'in_progress'))
                    AND (w.dmt_compliant IS NOT NULL
                         OR coalesce(w.compliance_failures, '[]'::jsonb) <> '[]'::jsonb)) v
            WHERE w.id = v.id""",
    }


def evaluate_compliance(tenant_slug: str, work_item_ids: list[int] | None = None) -> EvaluationResult:
    """Evaluate the DMT rules for a tenant: all items, or only `work_item_ids`.

    Returns the counts and the new critical flags; it notifies nobody
    (`services.alerts.evaluate_and_alert` evaluates and tells people).
    """
    started = time.perf_counter()
    now = utcnow()
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
    projects = load_project_rules(tenant.id or 0)
    scoped = work_item_ids is not None
    with tenant_session(tenant_slug) as session:
        schema = tenant_schema_of(session)
        conn = session.connection()
        # One evaluation per tenant at a time; a second one waits for the first.
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": f"{schema}:compliance"})
        conn.execute(sa.text("SET LOCAL work_mem = '256MB'"))
        # Short analytic statements: JIT compilation costs more than it saves here.
        conn.execute(sa.text("SET LOCAL jit = off"))
        _prepare_config(conn, projects)
        if scoped:
            conn.execute(sa.text("CREATE TEMP TABLE _dmt_scope (id bigint PRIMARY KEY) ON COMMIT DROP"))
            conn.execute(
                sa.text("INSERT INTO _dmt_scope SELECT DISTINCT unnest(CAST(:ids AS bigint[]))"),
                {"ids": list(work_item_ids or [])},
            )
            conn.execute(sa.text("ANALYZE _dmt_scope"))
        steps: dict[str, float] = {}
        mark = time.perf_counter()

        def step(name: str) -> None:
            nonlocal mark
            steps[name] = round(time.perf_counter() - mark, 3)
            mark = time.perf_counter()

        switchable = {e.rule.id for p in projects for e in effective_rules(p.rules_config) if not e.enabled}
        conn.execute(sa.text(_facts_sql(schema, scoped, switchable)), {"now": now})
        conn.execute(sa.text("ANALYZE _dmt_facts"))
        step("facts")
        conn.execute(sa.text(_failing_set_sql()))
        conn.execute(sa.text("ANALYZE _dmt_fail"))
        step("failing_set")
        conn.execute(sa.text(_classify_sql(schema)))
        counts = dict(
            conn.execute(sa.text("SELECT action, count(*) FROM _dmt_act GROUP BY action")).all()
        )
        step("classify")
        statements = _apply_sql(schema, scoped)
        opened = conn.execute(sa.text(statements["open"]), {"now": now}).rowcount
        reopened = conn.execute(sa.text(statements["reopen"]), {"now": now}).rowcount
        changed = conn.execute(sa.text(statements["update"]), {"now": now}).rowcount
        step("upsert_flags")
        resolved = conn.execute(sa.text(statements["resolve"]), {"now": now}).rowcount
        step("auto_resolve")
        conn.execute(sa.text(statements["items"]), {"now": now})
        conn.execute(sa.text(statements["unjudged"]), {"now": now})
        step("work_items")
        scope_join = "JOIN _dmt_scope sc ON sc.id = w.id" if scoped else ""
        evaluated = conn.execute(sa.text(
            f'SELECT count(*) FROM "{schema}".work_items w {scope_join} '
            "WHERE NOT w.is_deleted AND w.status_category IN ('done', 'in_progress')"
        )).scalar_one()
        critical = conn.execute(sa.text(
            "SELECT a.project_id, a.assignee_identity_id, count(*) FROM _dmt_act a "
            "WHERE a.action IN ('open', 'reopen') AND a.severity = 'critical' "
            "GROUP BY a.project_id, a.assignee_identity_id"
        )).all()
        assignee_users = _identity_users(conn, schema, {r[1] for r in critical if r[1] is not None})
        if scoped:
            touched_projects = [int(p) for (p,) in conn.execute(sa.text(
                f'SELECT DISTINCT w.project_id FROM "{schema}".work_items w JOIN _dmt_scope sc ON sc.id = w.id'
            )).all()]  # fmt: skip
        else:
            touched_projects = [p.project_id for p in projects]
        refresh_compliance_counts(conn, schema, touched_projects, now)
        step("project_figures")
        session.commit()
        step("commit")
    log.info("compliance %s steps: %s", tenant_slug, steps)
    result = EvaluationResult(
        opened=int(opened),
        resolved=int(resolved),
        reopened=int(reopened),
        unchanged=int(counts.get("same", 0) + counts.get("keep_resolved", 0)),
        evaluated_items=int(evaluated),
        seconds=round(time.perf_counter() - started, 3),
        severity_changed=int(changed),
        new_critical=sum(int(r[2]) for r in critical),
        new_critical_flags=tuple(
            NewCriticalFlags(int(project_id), assignee_users.get(identity_id) if identity_id is not None else None, int(n))
            for project_id, identity_id, n in critical
        ),
    )
    publish_event("compliance.evaluated", tenant_slug, scope="items" if scoped else "full", **result.event_fields())
    log.info("compliance %s: %s", tenant_slug, result)
    return result


def _identity_users(conn: Connection, schema: str, identity_ids: set[int]) -> dict[int, int]:
    if not identity_ids:
        return {}
    rows = conn.execute(
        sa.text(
            f'SELECT id, user_id FROM "{schema}".developer_identities '
            "WHERE id = ANY(:ids) AND user_id IS NOT NULL"
        ),
        {"ids": sorted(identity_ids)},
    ).all()
    return {int(i): int(u) for i, u in rows}
