"""Pages registered with the `page` decorator and routes that moved (filled at import time, read by the app)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

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
    #: The sidebar entry of a page that has none of its own and is not under one (a project's page: "Tenants").
    nav_parent: str | None = None


@dataclass(frozen=True)
class MovedRoute:
    """An old route that now lives elsewhere: opening it redirects (old links keep working).

    `new` may hold `[name]` placeholders, filled from the old route's own
    parameters or, failing that, from its query string (that parameter is then
    dropped from the query). When one cannot be filled, the browser goes to `fallback`.
    """

    old: str
    new: str
    fallback: str = "/"


PAGES: dict[str, PageSpec] = {}
MOVED: dict[str, MovedRoute] = {}

_PLACEHOLDER = re.compile(r"\[([a-z_][a-z0-9_]*)\]")


def register(spec: PageSpec) -> None:
    PAGES[spec.route] = spec


def moved(old: str, new: str, fallback: str | None = None) -> None:
    """Declare that `old` now lives at `new` (see MovedRoute)."""
    MOVED[old] = MovedRoute(old=old, new=new, fallback=fallback or _PLACEHOLDER.split(new)[0].rstrip("/") or "/")


def moved_target(rule: MovedRoute, route_params: Mapping[str, Any], query: str) -> str:
    """The URL an old link goes to: placeholders filled, the rest of its query string kept."""
    pairs = parse_qsl(query or "", keep_blank_values=True)
    used: set[str] = set()

    def value_of(name: str) -> str | None:
        own = set(_PLACEHOLDER.findall(rule.old))
        raw = route_params.get(name) if name in own else None
        if raw is None:
            raw = next((v for k, v in pairs if k == name), None)
            if raw is not None:
                used.add(name)
        if isinstance(raw, list):
            raw = raw[0] if raw else None
        return None if raw in (None, "") else str(raw)

    missing = False

    def fill(match: re.Match[str]) -> str:
        nonlocal missing
        value = value_of(match.group(1))
        if value is None:
            missing = True
            return ""
        return quote(value, safe="")

    path = _PLACEHOLDER.sub(fill, rule.new)
    if missing:
        return rule.fallback
    rest = [(k, v) for k, v in pairs if k not in used]
    return path + (f"?{urlencode(rest)}" if rest else "")


def route_params(pattern: str, path: str) -> dict[str, str] | None:
    """The `[name]` values of `path` when it matches the route `pattern` (`/tenants/[tenant_id]`), else None."""
    want, got = pattern.strip("/").split("/"), path.strip("/").split("/")
    if len(want) != len(got):
        return None
    params: dict[str, str] = {}
    for part, value in zip(want, got, strict=True):
        name = _PLACEHOLDER.fullmatch(part)
        if name:
            if not value:
                return None
            params[name.group(1)] = unquote(value)
        elif part != value:
            return None
    return params


def moved_url(path: str, query: str) -> str | None:
    """Where an old URL lives now (with its query string), or None when `path` did not move."""
    for rule in MOVED.values():
        params = route_params(rule.old, path)
        if params is not None:
            return moved_target(rule, params, query)
    return None


def nav_items() -> list[PageSpec]:
    """The sidebar entries, in order."""
    return sorted((p for p in PAGES.values() if p.nav), key=lambda p: (p.order, p.nav or ""))


def active_nav_route(page_route: str) -> str | None:
    """The sidebar entry a page belongs to: its `nav_parent`, else the longest nav route that is the page or
    a parent of it."""
    spec = PAGES.get(page_route)
    if spec is not None and spec.nav_parent:
        return spec.nav_parent
    best: str | None = None
    for spec in nav_items():
        nav_route = spec.route
        if nav_route == "/":
            hit = page_route == "/"
        else:
            hit = page_route == nav_route or page_route.startswith(nav_route.rstrip("/") + "/")
        if hit and (best is None or len(nav_route) > len(best)):
            best = nav_route
    return best
