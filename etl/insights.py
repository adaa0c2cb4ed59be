"""AI insights: aggregates in, plain-language insights out.

`collect_statistics` gathers ONLY aggregates (numbers per sprint, anonymous
per-developer figures, flag counts per rule): never titles, descriptions,
names or e-mail addresses. A provider turns them into insights of four kinds:
velocity_forecast, developer_risk, team_optimisation, compliance_risk.

* `OpenAICompatibleProvider`: any OpenAI-compatible endpoint configured on the
  tenant (base URL, model, encrypted key), through the `openai` package.
* `LocalProvider`: rules of thumb over the same statistics, used when no key
  is configured, and as the fallback when the endpoint times out, fails or
  answers something unusable (the insight then carries a note saying so).
"""

from __future__ import annotations

import json
import logging
import statistics as stats_lib
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpcore
import openai
import sqlalchemy as sa
from sqlmodel import select

from core.crypto import SecretDecryptionError, decrypt_secret
from core.errors import NotFound
from core.realtime import publish_event
from etl.connectors.base import SourceError
from etl.connectors.http import OutboundGuard, guarded_http_client
from etl.forecast import DEFAULT_HISTORY, closed_sprint_metrics, trend, velocity_range
from etl.metrics import counted_points
from etl.rules import rule_title
from models.db import get_tenant_by_slug, public_session, tenant_schema_of, tenant_session
from models.public import Project, Tenant
from models.tenant import AIPrediction

log = logging.getLogger(__name__)

INSIGHT_KINDS = ("velocity_forecast", "developer_risk", "team_optimisation", "compliance_risk")
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Where an OpenAI provider without a base URL sends its requests.
DEFAULT_AI_BASE_URL = "https://api.openai.com/v1"
#: Closed sprints the statistics cover: the forecast's history.
HISTORY_SPRINTS = DEFAULT_HISTORY


class ProviderError(Exception):
    """The AI endpoint failed or answered something that is not a usable set of insights."""


@dataclass
class Insight:
    kind: str
    title: str
    summary: str
    analysis: str
    actions: list[str] = field(default_factory=list)
    confidence: float | None = None


class InsightProvider(Protocol):
    name: str
    model: str | None

    def write(self, statistics: dict[str, Any]) -> list[Insight]:
        """Turn aggregate statistics into one insight per kind."""
        ...


# ---------------------------------------------------------------- statistics


def _round(value: Any, digits: int = 2) -> Any:
    return round(float(value), digits) if value is not None else None


def _num(value: float) -> str:
    """A figure in an insight's text as the pages write it: at most one decimal ("34.6", "108")."""
    return f"{round(float(value), 1) + 0.0:.1f}".removesuffix(".0")


def _pct(rate: float) -> str:
    """A 0..1 rate as the pages write percentages: at most one decimal ("68.9%", "85%")."""
    return _num(100.0 * rate) + "%"


def collect_statistics(tenant_slug: str, project_id: int) -> dict[str, Any]:
    """Aggregates for one project; developers appear as "developer_1", "developer_2", ..."""
    with tenant_session(tenant_slug) as session:
        schema = tenant_schema_of(session)
        conn = session.connection()
        sprints = closed_sprint_metrics(session, project_id, HISTORY_SPRINTS)
        sprint_ids = [s["sprint_id"] for s in sprints]
        developers = conn.execute(sa.text(f"""
            SELECT d.identity_id, sum(d.items_completed) AS items, sum(d.points_completed) AS points,
                   avg(d.avg_cycle_time_days) AS cycle_days, sum(d.blocked_days) AS blocked_days,
                   sum(d.reviews_given) AS reviews_given, sum(d.prs_merged) AS prs_merged,
                   sum(d.compliant_items) AS compliant, sum(d.items_completed) AS completed
            FROM "{schema}".developer_metrics d
            WHERE d.project_id = :p AND d.sprint_id = ANY(:ids)
            GROUP BY d.identity_id ORDER BY d.identity_id"""),
            {"p": project_id, "ids": sprint_ids}).mappings().all()
        flags = conn.execute(sa.text(f"""
            SELECT rule_id, severity, count(*) AS n FROM "{schema}".compliance_flags
            WHERE project_id = :p AND status = 'open' GROUP BY rule_id, severity
            ORDER BY count(*) DESC, rule_id"""), {"p": project_id}).mappings().all()
        items = conn.execute(sa.text(f"""
            SELECT count(*) FILTER (WHERE status_category = 'done') AS done,
                   count(*) FILTER (WHERE status_category = 'done' AND dmt_compliant) AS compliant,
                   count(*) FILTER (WHERE status_category <> 'done') AS open_items,
                   coalesce(sum({counted_points()}) FILTER (WHERE status_category <> 'done'), 0) AS open_points
            FROM "{schema}".work_items WHERE project_id = :p AND NOT is_deleted"""),
            {"p": project_id}).mappings().one()
    # The forecast's own history and Monte Carlo (same sprints, simulations and seed): equal numbers.
    velocities = [float(s["velocity"]) for s in sprints]
    forecast = velocity_range(velocities)
    sprint_rows = [
        {
            "sprint": f"sprint_{i - len(sprints)}" if i < len(sprints) else "sprint_0",
            "committed_points": _round(s["committed_points"]),
            "completed_points": _round(s["completed_points"]),
            "throughput": int(s["completed_items"]),
            "avg_cycle_time_days": _round(s["avg_cycle_time_days"]),
            "avg_lead_time_days": _round(s["avg_lead_time_days"]),
            "blocked_days": _round(s["blocked_days"]),
            "defect_density": _round(s["defect_density"]),
            "pr_review_rate": _round(s["pr_review_rate"]),
            "hours_to_first_review": _round(s["avg_time_to_first_review_hours"]),
            "compliance_rate": _round(s["compliance_rate"]),
            "open_critical_flags": int(s["open_critical_flags"]),
        }
        for i, s in enumerate(sprints, start=1)
    ]
    developer_rows = [
        {
            "developer": f"developer_{n}",
            "items_completed": int(d["items"] or 0),
            "points_completed": _round(d["points"] or 0),
            "avg_cycle_time_days": _round(d["cycle_days"]),
            "blocked_days": _round(d["blocked_days"] or 0),
            "reviews_given": int(d["reviews_given"] or 0),
            "prs_merged": int(d["prs_merged"] or 0),
            "compliance_rate": _round(d["compliant"] / d["completed"]) if d["completed"] else None,
        }
        for n, d in enumerate(developers, start=1)
    ]
    return {
        "project_id": project_id,
        "sprints": sprint_rows,
        "velocity_trend": trend(velocities).__dict__,
        "velocity_forecast": forecast.__dict__ if forecast else None,
        "developers": developer_rows,
        "open_flags": [{"rule": f["rule_id"], "severity": f["severity"], "count": int(f["n"])} for f in flags],
        "items": {
            "done": int(items["done"]),
            "done_compliant": int(items["compliant"]),
            "open": int(items["open_items"]),
            "open_points": _round(items["open_points"]),
        },
    }


# ---------------------------------------------------------------- local provider


class LocalProvider:
    """Writes the four insights from the statistics with plain rules of thumb."""

    name = "local"
    model: str | None = None

    def write(self, statistics: dict[str, Any]) -> list[Insight]:
        return [
            self._velocity(statistics),
            self._developers(statistics),
            self._team(statistics),
            self._compliance(statistics),
        ]

    def _velocity(self, s: dict[str, Any]) -> Insight:
        f, t, sprints = s.get("velocity_forecast"), s["velocity_trend"], s["sprints"]
        if not f:
            return Insight("velocity_forecast", "Not enough sprint history yet",
                           "No closed sprint has metrics yet, so velocity cannot be forecast.",
                           "Forecasts need at least one sprint with completed work; three or more give useful ranges.",
                           ["Rebuild metrics after the next sprint closes."], 0.2)
        moving = {"up": "rising", "down": "falling", "flat": "steady"}[t["direction"]]
        committed = sum(x["committed_points"] or 0 for x in sprints)
        completed = sum(x["completed_points"] or 0 for x in sprints)
        ratio = completed / committed if committed else None
        actions = [f"Commit to about {_num(f['p85'])} points next sprint (met in 85% of simulations)."]
        if ratio is not None and ratio < 0.8:
            actions.append(f"The team completed {_pct(ratio)} of committed points: plan less, or split stories.")
        if t["direction"] == "down":
            actions.append("Velocity is falling: look for blocked work and unplanned work in recent sprints.")
        return Insight(
            "velocity_forecast",
            f"Next sprint: about {_num(f['p50'])} points, {_num(f['p85'])} to be safe",
            f"Over the last {f['samples']} sprints velocity is {moving}; the next sprint should deliver "
            f"{_num(f['p50'])} points (P50) and at least {_num(f['p85'])} points with 85% confidence.",
            f"A Monte Carlo resampling of {f['samples']} past sprints gives a mean of {_num(f['mean'])} points. "
            f"The straight-line trend changes {t['normalised_slope']:+.0%} per sprint and explains "
            f"{_pct(t['r2'])} of the variation."
            + (f" Completed/committed points: {_pct(ratio)}." if ratio is not None else ""),
            actions,
            min(0.9, 0.3 + 0.1 * f["samples"]),
        )

    def _developers(self, s: dict[str, Any]) -> Insight:
        devs = s["developers"]
        if not devs:
            return Insight("developer_risk", "No per-developer data yet",
                           "No completed work is attributed to developers in recent sprints.",
                           "Map tool accounts to developer identities so work and reviews join up.",
                           ["Check identity mapping in the admin portal."], 0.2)
        median_points = stats_lib.median([d["points_completed"] for d in devs]) or 0
        risks: list[str] = []
        for d in devs:
            why = []
            if median_points and d["points_completed"] > 1.5 * median_points:
                why.append(f"carries {_num(d['points_completed'])} points against a median of {_num(median_points)}")
            if d["blocked_days"] >= 3:
                why.append(f"was blocked {_num(d['blocked_days'])} days")
            if d["compliance_rate"] is not None and d["compliance_rate"] < 0.7:
                why.append(f"has {_pct(d['compliance_rate'])} DMT-compliant items")
            if d["reviews_given"] == 0 and d["prs_merged"] > 0:
                why.append("merges PRs but gives no reviews")
            if why:
                risks.append(f"{d['developer'].replace('_', ' ').capitalize()} " + ", ".join(why))
        if not risks:
            return Insight("developer_risk", "No developer stands out as at risk",
                           f"Load, blocked time and compliance are even across {len(devs)} developers.",
                           "No developer carries more than 1.5 times the median points, was blocked three days "
                           "or more, or falls below 70% DMT compliance.",
                           ["Keep sharing reviews across the team."], 0.6)
        return Insight("developer_risk", f"{len(risks)} developer(s) need attention",
                       "; ".join(risks) + ".",
                       "Uneven load, long blocks and low compliance predict missed commitments and rework. "
                       f"The team median is {_num(median_points)} points over the period.",
                       ["Rebalance work in planning.", "Pair on blocked items early.",
                        "Review DMT gaps with the developers concerned."], 0.6)

    def _team(self, s: dict[str, Any]) -> Insight:
        sprints = s["sprints"]
        if not sprints:
            return Insight("team_optimisation", "No sprint metrics yet", "Nothing to analyse yet.",
                           "Team insights start after the first sprint with metrics.", [], 0.2)
        last = sprints[-1]
        notes, actions = [], []
        if last["hours_to_first_review"] is not None and last["hours_to_first_review"] > 24:
            notes.append(f"PRs wait {_num(last['hours_to_first_review'])} hours for a first review")
            actions.append("Agree a same-day first review; rotate a review duty.")
        if last["pr_review_rate"] is not None and last["pr_review_rate"] < 0.9:
            notes.append(f"only {_pct(last['pr_review_rate'])} of merged PRs were reviewed")
            actions.append("Require an approving review before merge.")
        if last["blocked_days"] and last["blocked_days"] > 2:
            notes.append(f"work was blocked {_num(last['blocked_days'])} days")
            actions.append("Raise blockers at stand-up and track their owners.")
        if last["avg_cycle_time_days"] is not None and last["avg_cycle_time_days"] > 5:
            notes.append(f"items take {_num(last['avg_cycle_time_days'])} days from start to done")
            actions.append("Limit work in progress and split large items.")
        if not notes:
            return Insight("team_optimisation", "The team's flow looks healthy",
                           "Reviews are quick, blocked time is low and cycle time is short in the last sprint.",
                           "No threshold (24 h to first review, 90% reviewed, 2 blocked days, 5-day cycle) "
                           "was crossed.", ["Keep the current working agreements."], 0.6)
        return Insight("team_optimisation", "Where the team loses time",
                       "In the last sprint " + "; ".join(notes) + ".",
                       "These are the largest delays between starting work and delivering it.", actions, 0.6)

    def _compliance(self, s: dict[str, Any]) -> Insight:
        flags, items = s["open_flags"], s["items"]
        critical = sum(f["count"] for f in flags if f["severity"] == "critical")
        rate = items["done_compliant"] / items["done"] if items["done"] else None
        if not flags:
            return Insight("compliance_risk", "No open DMT flags",
                           "Every judged item meets Done Means Tested."
                           + (f" Compliance rate: {_pct(rate)}." if rate is not None else ""),
                           "No rule currently fails on a done or in-progress item.", [], 0.7)
        top = flags[0]
        return Insight(
            "compliance_risk",
            f"{critical} critical DMT flag(s) open" if critical else "DMT flags are open",
            f"The most frequent failure is \"{rule_title(top['rule'])}\" ({top['count']} open)."
            + (f" {_pct(rate)} of done items are compliant." if rate is not None else ""),
            "Open flags by rule: "
            + ", ".join(f"{rule_title(f['rule'])} {f['count']} ({f['severity']})" for f in flags[:6]) + ".",
            ["Fix critical flags first: link PRs and finish unit testing before moving items to done.",
             f"Address the top rule (\"{rule_title(top['rule'])}\") in the team's Definition of Done checklist."],
            0.7,
        )


# ---------------------------------------------------------------- OpenAI-compatible provider

SYSTEM_PROMPT = (
    "You are an engineering delivery analyst. You receive only aggregate statistics of one software "
    "project (no names). Answer with a JSON object {\"insights\": [...]} holding exactly four insights, "
    "one per kind: velocity_forecast, developer_risk, team_optimisation, compliance_risk. Each insight has "
    "kind, title (max 80 chars), summary (one or two sentences), analysis (a short paragraph) and actions "
    "(a list of up to four short imperative sentences). Use plain language and cite the numbers."
)


class OpenAICompatibleProvider:
    """Any OpenAI-compatible chat-completions endpoint, reached like a source: through the SSRF guard.

    The tenant's base URL is checked against ALLOWED_PRIVATE_HOSTS, every
    connection is pinned to an address checked just before connecting, and
    redirects are not followed (`etl.connectors.http.guarded_http_client`).
    """

    name = "openai"

    def __init__(
        self,
        base_url: str | None,
        api_key: str,
        model: str | None,
        timeout: float,
        *,
        guard: OutboundGuard | None = None,
        network_backend: httpcore.NetworkBackend | None = None,
    ) -> None:
        self.model = model or "gpt-4o-mini"
        self.base_url = (base_url or DEFAULT_AI_BASE_URL).rstrip("/")
        self.api_key = api_key
        self.timeout = timeout
        self.guard = guard
        self.network_backend = network_backend

    def _client(self) -> openai.OpenAI:
        try:
            http_client = guarded_http_client(
                self.base_url, guard=self.guard, timeout=self.timeout, network_backend=self.network_backend
            )
        except SourceError as exc:
            raise ProviderError(f"the AI endpoint was refused: {exc}") from exc
        return openai.OpenAI(
            base_url=self.base_url, api_key=self.api_key, timeout=self.timeout, max_retries=0, http_client=http_client
        )

    def write(self, statistics: dict[str, Any]) -> list[Insight]:
        client = self._client()
        try:
            response = client.chat.completions.create(
                model=self.model,
                messages=[
                    {"role": "system", "content": SYSTEM_PROMPT},
                    {"role": "user", "content": json.dumps(statistics, default=str)},
                ],
                temperature=0.2,
                response_format={"type": "json_object"},
            )
            content = response.choices[0].message.content or ""
        except SourceError as exc:  # the guard refused the connection (e.g. a DNS answer turned private)
            raise ProviderError(f"the AI endpoint was refused: {exc}") from exc
        except openai.APITimeoutError as exc:
            raise ProviderError("the AI provider timed out") from exc
        except openai.APIStatusError as exc:
            if 300 <= exc.status_code < 400:
                raise ProviderError(
                    f"the AI endpoint redirected (HTTP {exc.status_code}); redirects are not followed: "
                    "configure the final address"
                ) from exc
            raise ProviderError(f"the AI provider answered HTTP {exc.status_code}") from exc
        except openai.OpenAIError as exc:
            raise ProviderError(f"the AI provider failed: {type(exc).__name__}") from exc
        except (AttributeError, IndexError, TypeError) as exc:
            raise ProviderError("the AI provider's answer had an unexpected shape") from exc
        finally:
            client.close()
        return parse_insights(content)


def parse_insights(content: str) -> list[Insight]:
    """Validate a provider's JSON answer: one usable insight per kind, or ProviderError."""
    try:
        data = json.loads(content)
    except (TypeError, ValueError) as exc:
        raise ProviderError("the AI provider's answer was not JSON") from exc
    raw = data.get("insights") if isinstance(data, dict) else data
    if not isinstance(raw, list):
        raise ProviderError("the AI provider's answer had no list of insights")
    found: dict[str, Insight] = {}
    for entry in raw:
        if not isinstance(entry, dict) or entry.get("kind") not in INSIGHT_KINDS:
            continue
        title, summary = str(entry.get("title") or "").strip(), str(entry.get("summary") or "").strip()
        if not title or not summary:
            continue
        actions = entry.get("actions") or []
        found.setdefault(entry["kind"], Insight(
            kind=entry["kind"], title=title[:300], summary=summary,
            analysis=str(entry.get("analysis") or "").strip(),
            actions=[str(a) for a in actions][:6] if isinstance(actions, list) else [str(actions)],
        ))
    missing = [k for k in INSIGHT_KINDS if k not in found]
    if missing:
        raise ProviderError(f"the AI provider's answer lacked {', '.join(missing)}")
    return [found[k] for k in INSIGHT_KINDS]


def provider_for(tenant: Tenant, timeout: float = DEFAULT_TIMEOUT_SECONDS) -> InsightProvider:
    """The tenant's configured provider; the local one when no key is set."""
    if tenant.ai_provider == "openai" and tenant.ai_api_key_encrypted:
        try:
            key = decrypt_secret(tenant.ai_api_key_encrypted)
        except SecretDecryptionError:
            log.warning("tenant %s: AI key cannot be decrypted; using the local provider", tenant.slug)
            return LocalProvider()
        if key:
            return OpenAICompatibleProvider(tenant.ai_base_url, key, tenant.ai_model, timeout)
    return LocalProvider()


# ---------------------------------------------------------------- use cases


def generate_insights(
    tenant_slug: str, project_id: int | None = None, *, timeout: float = DEFAULT_TIMEOUT_SECONDS
) -> list[AIPrediction]:
    """Write the four insights for one project (or every project of the tenant), store and publish them.

    Nobody is notified here: `services.insights.generate_insights` tells the project leads.
    """
    with public_session() as ps:
        tenant = get_tenant_by_slug(ps, tenant_slug)
        query = select(Project).where(Project.tenant_id == tenant.id, Project.is_active == sa.true())
        if project_id is not None:
            query = select(Project).where(Project.tenant_id == tenant.id, Project.id == project_id)
        projects = ps.exec(query).all()
    if project_id is not None and not projects:
        raise NotFound(f"project {project_id} not found")
    provider = provider_for(tenant, timeout)
    stored: list[AIPrediction] = []
    for project in projects:
        statistics = collect_statistics(tenant_slug, project.id or 0)
        used: InsightProvider = provider
        note: str | None = None
        try:
            insights = provider.write(statistics)
        except ProviderError as exc:
            log.warning("tenant %s project %s: %s; falling back to local insights", tenant_slug, project.id, exc)
            used, note = LocalProvider(), f"{exc}; written by the local provider"
            insights = used.write(statistics)
        rows = [
            AIPrediction(
                project_id=project.id or 0, kind=i.kind, provider=used.name, model=used.model,
                title=i.title, summary=i.summary, analysis=i.analysis, actions=i.actions,
                inputs=statistics, outputs={"insight": i.__dict__}, confidence=i.confidence, note=note,
            )
            for i in insights
        ]
        with tenant_session(tenant_slug) as session:
            session.add_all(rows)
            session.commit()
        stored.extend(rows)
        publish_event("insight.created", tenant_slug, project_id=project.id, ids=[r.id for r in rows],
                      provider=used.name)
    return stored
