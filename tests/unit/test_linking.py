"""Work item keys in PR titles, branches and bodies."""

from __future__ import annotations

from etl.connectors.linking import azure_work_item_key, find_work_item_keys, linking_options


def test_jira_key_in_title_and_branch_is_found_once() -> None:
    assert find_work_item_keys("ACME-12 add login tests", "feature/ACME-12-login") == ["ACME-12"]


def test_keys_keep_order_of_first_appearance_across_texts() -> None:
    keys = find_work_item_keys("OPS-7 and ACME-12", "feature/ACME-3-x", "Fixes AB#44, see CU-86b0xyz1")
    assert keys == ["OPS-7", "ACME-12", "ACME-3", "AB#44", "CU-86b0xyz1"]


def test_standards_and_hashes_are_not_keys() -> None:
    text = "Use UTF-8 and SHA-256 per ISO-8601 / RFC-3339, fix CVE-2021 on HTTP-2 (PEP-8)"
    assert find_work_item_keys(text) == []


def test_configured_project_keys_match_lower_case_branches_only_for_those_keys() -> None:
    keys = find_work_item_keys("feature/acme-12-login", "OTHER-5 too", project_keys=["ACME"])
    assert keys == ["ACME-12"]


def test_configured_keys_accept_comma_separated_string() -> None:
    assert find_work_item_keys("ops-1 acme-2", project_keys="acme, ops") == ["OPS-1", "ACME-2"]


def test_key_glued_to_letters_or_digits_is_ignored() -> None:
    assert find_work_item_keys("xACME-1 ACME-12b ACME-0 9ACME-3") == []


def test_underscore_separated_branch_still_matches() -> None:
    assert find_work_item_keys("bugfix/ACME-42_fix_crash") == ["ACME-42"]


def test_azure_keys_case_insensitive_and_normalised() -> None:
    assert find_work_item_keys("ab#12 fixes AB#012 and AB#7") == ["AB#12", "AB#7"]


def test_clickup_hash_ids_only_when_enabled_and_never_plain_numbers() -> None:
    text = "Closes #123, task #86b0xyz1, see #readme"
    assert find_work_item_keys(text) == []
    assert find_work_item_keys(text, clickup_hash_ids=True) == ["CU-86b0xyz1"]


def test_clickup_prefixed_id_is_lower_cased() -> None:
    assert find_work_item_keys("CU-86B0XYZ1 done") == ["CU-86b0xyz1"]


def test_none_and_empty_texts_are_tolerated() -> None:
    assert find_work_item_keys(None, "", "ACME-1") == ["ACME-1"]


def test_linking_options_from_config() -> None:
    assert linking_options({"project_keys": "acme,ops", "clickup_hash_ids": True}) == {
        "project_keys": ["ACME", "OPS"],
        "clickup_hash_ids": True,
    }
    assert linking_options(None) == {"project_keys": [], "clickup_hash_ids": False}
    assert azure_work_item_key("17") == "AB#17"
