"""Import every module of a portal's pages package, so their `@page` decorators register."""

from __future__ import annotations

import importlib
import pkgutil


def import_pages(package: str) -> list[str]:
    """Import `package` and all its submodules (a missing package is fine: no pages yet)."""
    try:
        root = importlib.import_module(package)
    except ModuleNotFoundError as exc:
        if exc.name == package:
            return []
        raise
    names = [package]
    for info in pkgutil.walk_packages(getattr(root, "__path__", []), prefix=f"{package}."):
        importlib.import_module(info.name)
        names.append(info.name)
    return names
