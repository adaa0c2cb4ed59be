"""Values shown to people carry no Python reprs (audit values, connection details)."""

from __future__ import annotations

from datetime import UTC, datetime

from services.display import EMPTY, display_fields, display_value


def test_values_are_words_not_python_reprs() -> None:
    assert display_value(None) == EMPTY and display_value("") == EMPTY and display_value([]) == EMPTY
    assert (display_value(True), display_value(False)) == ("yes", "no")
    assert display_value(["missing_pr_link", "low_coverage"]) == "missing_pr_link, low_coverage"
    assert display_value({"project": "ACME", "state": None}) == "project: ACME; state: —"
    assert display_value(2.50) == "2.5" and display_value(3) == "3"
    assert display_value(datetime(2026, 3, 1, 9, 30, 12, tzinfo=UTC)) == "2026-03-01 09:30 UTC"
    assert display_value("2026-12-04T21:56:38.700605+00:00") == "2026-12-04 21:56 UTC"
    assert display_value("2026-12-04T23:56:38+02:00") == "2026-12-04 21:56 UTC"
    assert display_value("release 2026-12-04") == "release 2026-12-04"


def test_fields_are_listed_one_a_line_in_words() -> None:
    text = display_fields({"is_active": True, "revoked_at": None, "rules": ["a"], "config": {"api": "rest"}})
    assert text == "is active: yes\nrevoked at: —\nrules: a\nconfig: api: rest"
    for repr_text in ("None", "True", "False", "[", "{", "'"):
        assert repr_text not in text
    assert display_fields(None) == "" and display_fields({}, "; ") == ""
