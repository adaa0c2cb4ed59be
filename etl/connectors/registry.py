"""Source type -> connector class. A new connector is one module plus one line here."""

from __future__ import annotations

import importlib

from etl.connectors.base import BaseConnector, SourceConfigError, SourceSettings

_REGISTRY: dict[str, type[BaseConnector]] = {}

#: Built-in connectors, imported on first use so that importing the registry stays cheap.
BUILTIN_MODULES = {
    "jira": "etl.connectors.jira",
    "clickup": "etl.connectors.clickup",
    "azure_boards": "etl.connectors.azure_boards",
    "github": "etl.connectors.github",
    "azure_devops_git": "etl.connectors.azure_devops_git",
    "github_deployments": "etl.connectors.github_deployments",
    "azure_pipelines": "etl.connectors.azure_pipelines",
}


def register_connector(source_type: str, cls: type[BaseConnector]) -> type[BaseConnector]:
    """Register (or replace) the connector class for a source type."""
    cls.source_type = source_type
    _REGISTRY[source_type] = cls
    return cls


def connector_class(source_type: str) -> type[BaseConnector]:
    if source_type not in _REGISTRY and source_type in BUILTIN_MODULES:
        importlib.import_module(BUILTIN_MODULES[source_type])
    try:
        return _REGISTRY[source_type]
    except KeyError:
        known = ", ".join(sorted(set(_REGISTRY) | set(BUILTIN_MODULES)))
        raise SourceConfigError(f"unknown source type {source_type!r} (known: {known})") from None


def get_connector(source_type: str, config: SourceSettings) -> BaseConnector:
    """Build the connector for `source_type` from a source configuration."""
    return connector_class(source_type)(config)


def registered_types() -> list[str]:
    return sorted(set(_REGISTRY) | set(BUILTIN_MODULES))
