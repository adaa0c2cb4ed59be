"""Pages registered with the `page` decorator (filled at import time, read by the app and AuthState)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import reflex as rx


@dataclass
class PageSpec:
    route: str
    title: str
    component: Callable[[], rx.Component]
    nav: str | None = None
    icon: str = "circle"
    order: int = 100
    on_load: list[Any] = field(default_factory=list)
    on_live: Any = None
    public: bool = False


PAGES: dict[str, PageSpec] = {}


def register(spec: PageSpec) -> None:
    PAGES[spec.route] = spec


def nav_items() -> list[PageSpec]:
    """The sidebar entries, in order."""
    return sorted((p for p in PAGES.values() if p.nav), key=lambda p: (p.order, p.nav or ""))
