"""The look of both portals, in one place."""

from __future__ import annotations

from typing import Any

ACCENT = "indigo"
GRAY = "slate"

SIDEBAR_WIDTH = "236px"
HEADER_HEIGHT = "56px"

SIDEBAR_BG = "var(--slate-2)"
BORDER = "1px solid var(--gray-a5)"
MUTED = "var(--gray-11)"

#: Breakpoints of Radix themes: [phone, >=520px, >=768px, >=1024px, ...]
HIDE_ON_PHONE = ["none", "none", "flex"]
SHOW_ON_PHONE = ["flex", "flex", "none"]


#: A <button> that looks like the text around it (a sortable column header, say).
bare_button_style: dict[str, Any] = {
    "all": "unset",
    "display": "inline-flex",
    "align_items": "center",
    "gap": "4px",
    "cursor": "pointer",
    "border_radius": "4px",
}

base_style: dict[Any, Any] = {
    "font_family": "Inter, system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif",
}

#: Page-wide CSS in the document <head> (it also reaches dialogs and menus, which Radix renders outside
#: the app's root element).
#: - Keyboard focus (WCAG 2.4.7): a ring on whatever has the keyboard focus. Radix text fields ring their
#:   wrapper already, so their inner <input>/<textarea> gets none of its own.
#: - Contrast (WCAG 1.4.3): soft badges and buttons write their text in the accent's step 11 on a tint,
#:   under 4.5:1 for green, blue, orange and amber; step 12 on the same tint passes with every colour
#:   (disabled buttons keep their grey: they are exempt).
GLOBAL_CSS = """
:focus-visible:not(.rt-TextFieldInput):not(.rt-TextAreaInput) {
  outline: 2px solid var(--accent-9);
  outline-offset: 2px;
}
.rt-Badge.rt-variant-soft,
.rt-Badge.rt-variant-surface,
.rt-BaseButton.rt-variant-soft:not([data-disabled]):not(:disabled) {
  color: var(--accent-12);
}
"""

sidebar_style: dict[str, Any] = {
    "width": SIDEBAR_WIDTH,
    "min_width": SIDEBAR_WIDTH,
    "height": "100vh",
    "position": "sticky",
    "top": "0",
    "background": SIDEBAR_BG,
    "border_right": BORDER,
    "padding": "16px 12px",
    "display": HIDE_ON_PHONE,
    "flex_direction": "column",
    "gap": "4px",
    "overflow_y": "auto",
}

nav_link_style: dict[str, Any] = {
    "display": "flex",
    "align_items": "center",
    "gap": "10px",
    "padding": "8px 10px",
    "border_radius": "8px",
    "color": "var(--gray-12)",
    "font_size": "14px",
    "text_decoration": "none",
    "width": "100%",
    "_hover": {"background": "var(--accent-a3)", "text_decoration": "none"},
}

nav_link_active_style: dict[str, Any] = {
    **nav_link_style,
    "background": "var(--accent-a4)",
    "color": "var(--accent-12)",
    "font_weight": "600",
}

header_style: dict[str, Any] = {
    "height": HEADER_HEIGHT,
    "padding": "0 20px",
    "border_bottom": BORDER,
    "background": "var(--color-panel-solid)",
    "position": "sticky",
    "top": "0",
    "z_index": "10",
    "align_items": "center",
    "justify_content": "space-between",
    "width": "100%",
}

content_style: dict[str, Any] = {
    "padding": ["16px 12px", "16px", "24px 28px"],
    "width": "100%",
    "max_width": "1400px",
    "gap": "20px",
}

card_style: dict[str, Any] = {
    "width": "100%",
    "padding": ["14px", "18px"],
}

table_wrap_style: dict[str, Any] = {
    "width": "100%",
    "overflow_x": "auto",
}

auth_page_style: dict[str, Any] = {
    "min_height": "100vh",
    "width": "100%",
    "align_items": "center",
    "justify_content": "center",
    "background": "linear-gradient(160deg, var(--accent-2), var(--slate-3))",
    "padding": "16px",
}

auth_card_style: dict[str, Any] = {
    "width": "100%",
    "max_width": "400px",
    "padding": "28px",
}

#: Badge colours for statuses shown in tables.
STATUS_COLORS: dict[str, str] = {
    "active": "green",
    "ok": "green",
    "succeeded": "green",
    "inactive": "gray",
    "new": "blue",
    "queued": "blue",
    "running": "blue",
    "syncing": "blue",
    "partial": "amber",
    "failed": "red",
    "circuit_open": "red",
    "critical": "red",
    "high": "orange",
    "medium": "amber",
    "low": "blue",
    "info": "gray",
}

#: Native <select> elements (always submitted with their form) styled like Radix inputs.
native_select_style: dict[str, Any] = {
    "width": "100%",
    "height": "32px",
    "padding": "0 8px",
    "border_radius": "6px",
    "border": "1px solid var(--gray-a7)",
    "background": "var(--color-surface)",
    "font_size": "14px",
}

#: Old/new values in the audit log.
values_style: dict[str, Any] = {
    "white_space": "pre-wrap",
    "font_family": "ui-monospace, SFMono-Regular, Menlo, monospace",
    "font_size": "12px",
    "max_width": "320px",
    "word_break": "break-word",
}

#: Chart colours of both portals (recharts fills and plotly traces): one palette, one meaning per colour.
CHART_COLORS: dict[str, str] = {
    "primary": "#4f46e5",  # the figure itself (completed, syncs)
    "secondary": "#94a3b8",  # what it is compared with (committed, team average)
    "forecast": "#a5b4fc",
    "forecast_band": "#c7d2fe",
    "story": "#4f46e5",
    "bug": "#dc2626",
    "task": "#0891b2",
    "other": "#94a3b8",
    "good": "#16a34a",
    "warn": "#d97706",
    "bad": "#dc2626",
    "grid": "rgba(100, 116, 139, 0.18)",
    "text": "#475569",
}
#: Pale backgrounds of the red / yellow / green bands (gauges).
BAND_COLORS: dict[str, str] = {"red": "#fee2e2", "yellow": "#fef3c7", "green": "#dcfce7"}
#: Sequential scale of heatmaps: pale (little) to strong (much), or green (good) to red (bad).
HEAT_SCALE: list[list[Any]] = [[0.0, "#eef2ff"], [0.5, "#818cf8"], [1.0, "#312e81"]]
GOOD_BAD_SCALE: list[list[Any]] = [[0.0, "#dc2626"], [0.5, "#fde68a"], [1.0, "#16a34a"]]
