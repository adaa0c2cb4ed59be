"""The typed field mapping, the pull request options and BaseConnector's lazy HTTP client."""

from __future__ import annotations

from typing import Any

import pytest

from etl.connectors.base import (
    BaseConnector,
    ConnectionResult,
    DiscoveredField,
    FieldMapping,
    FieldMappingError,
    HttpSetup,
    MappedField,
    PullRequestOptions,
    SourceConfigError,
    SourceSettings,
)
from etl.connectors.values import mapped_option, to_float, truthy, urls


def test_the_stored_json_of_existing_sources_still_loads() -> None:
    stored = {
        "story_points": {"field": "customfield_10016"},
        "ac_quality": {"field": "customfield_2", "values": {"Yes": "testable"}},
        "coverage": "customfield_3",  # a bare field id, as earlier versions accepted
    }
    mapping = FieldMapping.parse(stored)
    assert mapping.field_id("story_points") == "customfield_10016"
    assert mapping.values_of("ac_quality") == {"Yes": "testable"}
    assert mapping.get("coverage") == MappedField(field="customfield_3")
    assert mapping.field_id("sprint") is None and mapping.values_of("sprint") == {}
    assert mapping.field_ids() == ["customfield_10016", "customfield_2", "customfield_3"]
    assert mapping.to_json() == {
        "story_points": {"field": "customfield_10016"},
        "ac_quality": {"field": "customfield_2", "values": {"Yes": "testable"}},
        "coverage": {"field": "customfield_3"},
    }
    assert FieldMapping.parse(mapping.to_json()) == mapping


def test_type_and_value_map_travel_typed() -> None:
    mapping = FieldMapping.parse(
        {"dmt_signoff": {"field": " customfield_9 ", "type": "option", "values": {"Signed": True, "No": "false"}}}
    )
    signoff = mapping.get("dmt_signoff")
    assert signoff is not None and signoff.field == "customfield_9" and signoff.type == "option"
    assert signoff.values == {"Signed": True, "No": "false"}
    assert mapping.to_json() == {
        "dmt_signoff": {"field": "customfield_9", "type": "option", "values": {"Signed": True, "No": "false"}}
    }


def test_empty_entries_mean_not_mapped() -> None:
    assert FieldMapping.parse({"epic": "", "sprint": None, "coverage": {}}).to_json() == {}
    assert FieldMapping.parse(None) == FieldMapping()


@pytest.mark.parametrize(
    ("raw", "key", "message"),
    [
        ({"favourite_colour": "customfield_1"}, "favourite_colour", "not a mappable field"),
        ({"_status_categories": {"1": "done"}}, "_status_categories", "not a mappable field"),
        ({"coverage": {"values": {"a": "b"}}}, "coverage", "needs a tool field id"),
        ({"coverage": {"field": "   "}}, "coverage", "needs a tool field id"),
        ({"ac_quality": {"field": "f", "values": ["Yes"]}}, "ac_quality", "must map tool options to our values"),
        ({"ac_quality": {"field": "f", "values": {"Yes": {"nested": 1}}}}, "ac_quality", "is not one"),
        ({"story_points": {"field": "f", "type": "date"}}, "story_points", "cannot be read from a date field"),
        ({"exception_expires_at": {"field": "f", "type": "number"}}, "exception_expires_at", "number field"),
        ({"coverage": {"field": "f", "type": "no spaces allowed"}}, "coverage", "type name"),
    ],
)
def test_a_wrong_mapping_is_refused_naming_the_field(raw: dict[str, Any], key: str, message: str) -> None:
    with pytest.raises(FieldMappingError, match=message) as refused:
        FieldMapping.parse(raw)
    assert refused.value.key == key
    assert isinstance(refused.value, SourceConfigError)


def test_a_mapping_that_is_not_an_object_is_refused() -> None:
    with pytest.raises(FieldMappingError, match="an object is expected"):
        FieldMapping.parse(["story_points"])  # type: ignore[arg-type]


def test_source_settings_carry_the_mapping_typed() -> None:
    settings = SourceSettings(source_type="jira", base_url="http://x", field_mappings={"coverage": "cf_1"})  # type: ignore[arg-type]
    assert isinstance(settings.field_mappings, FieldMapping)
    assert settings.field_mappings.field_id("coverage") == "cf_1"
    assert SourceSettings(source_type="jira", base_url="http://x").field_mappings == FieldMapping()
    with pytest.raises(FieldMappingError):
        SourceSettings(source_type="jira", base_url="http://x", field_mappings={"nope": "x"})  # type: ignore[arg-type]


def test_pull_request_options_from_config_and_mapping() -> None:
    options = PullRequestOptions.of(
        {"project_keys": "acme, ops", "clickup_hash_ids": True, "signoff_marker": "QA-PASS"},
        {"dmt_signoff": {"field": "label:dmt-approved"}},
    )
    assert options.project_keys == ("ACME", "OPS") and options.clickup_hash_ids
    assert options.signoff_label == "dmt-approved"
    assert options.signoff.search("done, qa-pass") and not options.signoff.search("QA-PASSED")
    assert options.linking() == {"project_keys": ["ACME", "OPS"], "clickup_hash_ids": True}
    default = PullRequestOptions.of(None, {"dmt_signoff": {"field": "customfield_1"}})
    assert default.signoff_marker == "DMT-OK" and default.signoff_label is None and default.project_keys == ()


def test_shared_value_helpers() -> None:
    assert to_float("85 %") == 85.0 and to_float("1,5") == 1.5 and to_float([{"value": "3"}]) == 3.0
    assert to_float(True) is None and to_float("n/a") is None
    assert mapped_option("not testable", {"Not Testable": "not_testable"}) == "not_testable"
    assert mapped_option("N/A", {}) == "not_applicable"
    assert truthy({"accountId": "a", "displayName": "Dana"}, {}) is True
    assert truthy("Pending", {}) is False and truthy("Signed", {"Signed": True}) is True
    assert urls("see https://ci.acme.example/1, and https://ci.acme.example/1.") == ["https://ci.acme.example/1"]


class _Tool(BaseConnector):
    def http_setup(self) -> HttpSetup:
        return HttpSetup(self.settings.base_url, headers={"Authorization": "Bearer t"}, label="tool:1")

    def test_connection(self) -> ConnectionResult:
        return ConnectionResult(ok=True, identity="me")

    def discover_fields(self) -> list[DiscoveredField]:
        return []


def _tool(source_id: int | None, budget: int = 90) -> _Tool:
    settings = SourceSettings(
        source_type="tool", base_url="http://127.0.0.1:9", source_id=source_id, request_budget_per_minute=budget
    )
    return _Tool(settings)


def test_the_http_client_is_created_on_first_use_and_closed() -> None:
    tool = _tool(4242)
    assert tool._http is None  # nothing opened by building the connector
    client = tool.http
    assert tool.http is client and client.source_label == "tool:1"
    tool.close()
    assert tool._http is None
    reopened = tool.http
    assert reopened is not client
    tool.close()
    tool.close()  # closing twice is harmless


def test_one_budget_per_source() -> None:
    first, second, other, unsaved = _tool(4242), _tool(4242), _tool(4343), _tool(None)
    try:
        assert first.budget_key == "source:4242" and unsaved.budget_key is None
        assert first.http.budget is second.http.budget
        assert first.http.budget is not other.http.budget
        assert unsaved.http.budget is not _tool(None).http.budget
    finally:
        for tool in (first, second, other, unsaved):
            tool.close()


def test_a_connector_without_an_api_says_so() -> None:
    class Silent(_Tool):
        def http_setup(self) -> HttpSetup:
            return BaseConnector.http_setup(self)

    with pytest.raises(SourceConfigError, match="calls no HTTP API"):
        _ = Silent(SourceSettings(source_type="silent", base_url="")).http
