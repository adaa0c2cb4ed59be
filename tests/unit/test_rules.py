"""Rules as data: the catalogue and per-project configuration."""

from __future__ import annotations

from etl.rules import EXCUSABLE_RULES, RULES, RULES_BY_ID, effective_rules, failing_rules_array_sql

EXPECTED = {
    "missing_ac_quality", "missing_unit_test_task", "unit_testing_not_done", "low_coverage",
    "missing_pr_link", "missing_ci_evidence", "missing_dmt_signoff", "exception_expiring",
}


def test_catalogue_has_the_eight_rules_with_messages_and_predicates() -> None:
    assert set(RULES_BY_ID) == EXPECTED and len(RULES) == 8
    for rule in RULES:
        assert rule.message.endswith(".") and len(rule.message) > 20
        assert rule.fails_sql.strip()


def test_missing_pr_and_unfinished_unit_testing_are_critical_by_default() -> None:
    assert RULES_BY_ID["missing_pr_link"].severity == "critical"
    assert RULES_BY_ID["unit_testing_not_done"].severity == "critical"


def test_exceptions_cover_the_testing_rules_only() -> None:
    covered = {r.id for r in RULES if r.excusable}
    assert covered == set(EXCUSABLE_RULES) == {"unit_testing_not_done", "missing_unit_test_task", "low_coverage"}
    sql = failing_rules_array_sql(set())
    for rule in RULES:
        assert (f"NOT ('{rule.id}' = ANY(excepted_rules))" in sql) is rule.excusable
    assert RULES_BY_ID["exception_expiring"].blocks_compliance is False


def test_project_config_switches_rules_and_overrides_severity_ignoring_nonsense() -> None:
    config = {
        "low_coverage": {"enabled": False},
        "missing_ci_evidence": {"severity": "critical"},
        "missing_dmt_signoff": {"severity": "apocalyptic"},
        "no_such_rule": {"enabled": False},
        "missing_ac_quality": "garbage",
    }
    eff = {e.rule.id: e for e in effective_rules(config)}
    assert eff["low_coverage"].enabled is False
    assert eff["missing_ci_evidence"].severity == "critical"
    assert eff["missing_dmt_signoff"].severity == "medium"
    assert eff["missing_ac_quality"].enabled is True
    assert all(e.enabled for e in effective_rules(None))


def test_failing_array_sql_checks_every_rule_and_its_switch() -> None:
    sql = failing_rules_array_sql()
    # switch and label, and for an excusable rule the exception check
    assert all(sql.count(f"'{rule_id}'") == 2 + RULES_BY_ID[rule_id].excusable for rule_id in EXPECTED)
    assert sql.count("= ANY(disabled)") == 8
    only_one = failing_rules_array_sql({"low_coverage"})
    assert only_one.count("= ANY(disabled)") == 1 and "'low_coverage' = ANY(disabled)" in only_one
