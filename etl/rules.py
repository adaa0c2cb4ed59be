"""DMT rules as data: id, default severity, message and a set-based SQL predicate.

Each predicate is a boolean SQL expression over one row of the per-item
*facts* relation that `etl/compliance.py` builds in a single pass over
`work_items` (joined with pull requests, exceptions and coverage evidence).
The predicate is TRUE when the item FAILS the rule. Columns available:

    ac_quality, has_unit_test_task, unit_testing_status   (from the tool)
    coverage            best coverage figure: item, linked PRs, coverage_evidence
    has_pr              item lists PR links or is linked to a PR
    has_ci              CI evidence: item ci_evidence_url, a linked PR's
                        ci_status='success' or ci_url, or a coverage_evidence build
    signed_off          item dmt_signoff or a linked PR's dmt_signoff
    exception_valid     an approved, unexpired exception (table or tool fields)
    exception_expires   earliest expiry among the valid exceptions
    excepted_rules      text[] of the rules the valid exceptions cover (an
                        exception recorded in the tool covers EXCUSABLE_RULES)
    threshold           the project's coverage_threshold (percent)
    warn_days           the project's exception_warning_days
    now_ts              the evaluation's timestamp

Projects tune rules in `Project.rules_config`:
``{"low_coverage": {"enabled": false}, "missing_ci_evidence": {"severity": "high"}}``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.enums import Severity

SEVERITIES = [s.value for s in Severity]


@dataclass(frozen=True)
class Rule:
    """One DMT rule. `fails_sql` is TRUE for an item that breaks the rule.

    `blocks_compliance` is False for warnings (an expiring exception still
    covers the item, so it stays compliant until the exception lapses).
    `excusable` rules pass while a valid exception covers them
    (`failing_rules_array_sql` adds the check).
    """

    id: str
    severity: str
    message: str
    fails_sql: str
    blocks_compliance: bool = True
    excusable: bool = False


RULES: tuple[Rule, ...] = (
    Rule(
        "missing_ac_quality",
        Severity.HIGH,
        "Acceptance criteria are missing or not testable: write criteria a test can check.",
        "coalesce(ac_quality, 'missing') <> 'testable'",
    ),
    Rule(
        "missing_unit_test_task",
        Severity.MEDIUM,
        "No unit-test task is attached to this item (and no valid exception covers it).",
        "coalesce(has_unit_test_task, false) = false AND coalesce(unit_testing_status, '') <> 'not_applicable'",
        excusable=True,
    ),
    Rule(
        "unit_testing_not_done",
        Severity.CRITICAL,
        "Unit testing is not finished for an item marked done (and no valid exception covers it).",
        "coalesce(unit_testing_status, '') NOT IN ('done', 'not_applicable')",
        excusable=True,
    ),
    Rule(
        "low_coverage",
        Severity.HIGH,
        "Test coverage is below the project's threshold, or no coverage was reported.",
        "(coverage IS NULL OR coverage < threshold) AND coalesce(unit_testing_status, '') <> 'not_applicable'",
        excusable=True,
    ),
    Rule(
        "missing_pr_link",
        Severity.CRITICAL,
        "No pull request is linked: the change was not reviewed through a PR.",
        "NOT has_pr",
    ),
    Rule(
        "missing_ci_evidence",
        Severity.HIGH,
        "No CI evidence (build link or passing pipeline) is attached to the item or its PRs.",
        "NOT has_ci",
    ),
    Rule(
        "missing_dmt_signoff",
        Severity.MEDIUM,
        "Nobody signed off that this item meets Done Means Tested.",
        "NOT signed_off",
    ),
    Rule(
        "exception_expiring",
        Severity.LOW,
        "The approved DMT exception for this item expires soon: finish the tests or renew it.",
        "exception_valid AND exception_expires <= now_ts + make_interval(days => warn_days)",
        blocks_compliance=False,
    ),
)

RULES_BY_ID: dict[str, Rule] = {r.id: r for r in RULES}
#: What each rule is called on pages and in insights (rule ids are for machines).
RULE_TITLES: dict[str, str] = {
    "missing_ac_quality": "Acceptance criteria not testable",
    "missing_unit_test_task": "No unit-test task",
    "unit_testing_not_done": "Unit testing not done",
    "low_coverage": "Coverage below threshold",
    "missing_pr_link": "No linked pull request",
    "missing_ci_evidence": "No CI evidence",
    "missing_dmt_signoff": "No DMT sign-off",
    "exception_expiring": "Exception expiring",
}


def rule_title(rule_id: str) -> str:
    """The rule's name in words ("low_coverage" -> "Coverage below threshold"); unknown ids spelt out."""
    return RULE_TITLES.get(rule_id) or rule_id.replace("_", " ").capitalize()

#: The rules a DMT exception can cover, in catalogue order (the testing rules).
EXCUSABLE_RULES: tuple[str, ...] = tuple(r.id for r in RULES if r.excusable)


@dataclass(frozen=True)
class EffectiveRule:
    """A rule as one project runs it."""

    rule: Rule
    enabled: bool
    severity: str


def effective_rules(rules_config: dict[str, Any] | None) -> list[EffectiveRule]:
    """Apply a project's `rules_config` (switches and severity overrides) to the defaults.

    Unknown rule ids and unknown severities are ignored (the default stays).
    """
    config = rules_config or {}
    result: list[EffectiveRule] = []
    for rule in RULES:
        entry = config.get(rule.id) or {}
        enabled = bool(entry.get("enabled", True)) if isinstance(entry, dict) else True
        severity = entry.get("severity") if isinstance(entry, dict) else None
        if severity not in SEVERITIES:
            severity = str(rule.severity)
        result.append(EffectiveRule(rule, enabled, str(severity)))
    return result


def failing_rules_array_sql(switchable: set[str] | None = None, disabled: str = "disabled") -> str:
    """SQL text[] of the rule ids an item fails, in catalogue order (one pass, every predicate once).

    `disabled` names a text[] column holding the rules the item's project
    switched off; the check is only emitted for rules in `switchable` (the
    rules some project switched off), so the common case costs nothing extra.
    """
    switchable = {r.id for r in RULES} if switchable is None else switchable
    cases = []
    for r in RULES:
        guard = f"NOT ('{r.id}' = ANY({disabled})) AND " if r.id in switchable else ""
        excused = f" AND NOT ('{r.id}' = ANY(excepted_rules))" if r.excusable else ""
        cases.append(f"CASE WHEN {guard}({r.fails_sql}){excused} THEN '{r.id}' END")
    body = ",\n            ".join(cases)
    return f"array_remove(ARRAY[\n            {body}\n        ]::text[], NULL)"
