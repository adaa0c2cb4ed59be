"""Small building blocks shared by both portals' pages (layout-neutral, no state)."""

from __future__ import annotations

from typing import Any

import reflex as rx

from portal_common import styles


def page_header(title: str | rx.Var, subtitle: str | rx.Var | None = None, *actions: rx.Component) -> rx.Component:
    """The heading of a page with optional actions on the right."""
    return rx.flex(
        rx.vstack(
            rx.heading(title, size="6", weight="bold"),
            rx.text(subtitle, color=styles.MUTED, size="2") if subtitle is not None else rx.fragment(),
            spacing="1",
        ),
        rx.hstack(*actions, spacing="2", wrap="wrap"),
        justify="between",
        align=rx.breakpoints(initial="start", sm="center"),
        direction=rx.breakpoints(initial="column", sm="row"),
        gap="12px",
        width="100%",
    )


def section(
    title: str | rx.Var, *children: rx.Component, actions: rx.Component | None = None, **props: Any
) -> rx.Component:
    """A card with a title row."""
    return rx.card(
        rx.vstack(
            rx.hstack(
                rx.heading(title, size="4", weight="medium"),
                rx.spacer(),
                actions if actions is not None else rx.fragment(),
                width="100%",
                align="center",
            ),
            *children,
            spacing="3",
            width="100%",
        ),
        style=styles.card_style,
        **props,
    )


#: `custom_attrs` of a clickable element that is not a button (a card, say; give it `tab_index=0` and
#: `role="button"` too): Enter or Space on it clicks it, as they do on a <button> (WCAG 2.1.1).
CLICK_ON_ENTER_OR_SPACE: dict[str, rx.Var] = {
    "onKeyDown": rx.Var(
        _js_expr="((e) => { if (e.target === e.currentTarget && (e.key === 'Enter' || e.key === ' ')) "
        "{ e.preventDefault(); e.currentTarget.click(); } })"
    )
}

#: `custom_attrs` of an `rx.dialog.content` opened from the server (an `open` var, no `rx.dialog.trigger`): on
#: close, the focus goes back to the element that had it when the dialog opened (WCAG 2.4.3), not to the page's
#: top. (Radix returns it only to a dialog trigger.)
RESTORE_FOCUS_ON_CLOSE: dict[str, rx.Var] = {
    "onOpenAutoFocus": rx.Var(_js_expr="((e) => { window.__dmtDialogOpener = document.activeElement; })"),
    "onCloseAutoFocus": rx.Var(
        _js_expr="((e) => { const el = window.__dmtDialogOpener; window.__dmtDialogOpener = null; "
        "if (el && el.isConnected && el !== document.body) { e.preventDefault(); el.focus(); } })"
    ),
}

#: Components that render a labelable form element carrying their `id` (a <label for=id> names them).
_LABELABLE = frozenset({"TextFieldRoot", "TextArea", "Select", "Input", "Textarea"})


def field(label: str, control: rx.Component, help_text: str | None = None) -> rx.Component:
    """A labelled form control with an optional help line.

    When the control is an input, text area or native select with an `id`, the
    caption is its <label> (screen readers announce it, a click focuses the control).
    Other controls (a Radix select, a plain text) need their own `aria_label`.
    """
    caption = rx.text(label, size="2", weight="medium")
    control_id = getattr(control, "id", None)
    if isinstance(control_id, str) and control_id and type(control).__name__ in _LABELABLE:
        caption = rx.el.label(caption, html_for=control_id)
    return rx.vstack(
        caption,
        control,
        rx.text(help_text, size="1", color=styles.MUTED) if help_text else rx.fragment(),
        spacing="1",
        width="100%",
    )


def error_callout(message: rx.Var) -> rx.Component:
    """A red message shown while `message` is not empty."""
    return rx.cond(
        message != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("triangle-alert")),
            rx.callout.text(message),
            color_scheme="red",
            role="alert",
            width="100%",
        ),
    )


def notice_callout(message: rx.Var) -> rx.Component:
    """A green message shown while `message` is not empty."""
    return rx.cond(
        message != "",
        rx.callout.root(
            rx.callout.icon(rx.icon("circle-check")),
            rx.callout.text(message),
            color_scheme="green",
            role="status",
            width="100%",
        ),
    )


def status_badge(status: rx.Var | str) -> rx.Component:
    """A coloured badge for a status or severity value."""
    return rx.badge(
        status,
        color_scheme=rx.match(status, *[(k, v) for k, v in styles.STATUS_COLORS.items()], "gray"),
        variant="soft",
    )


def empty_row(columns: int, text: str) -> rx.Component:
    return rx.table.row(rx.table.cell(rx.text(text, color=styles.MUTED, size="2"), col_span=columns))


def data_table(
    headers: list[str | rx.Component],
    body: rx.Component,
    *,
    size: str = "2",
    box_props: dict[str, Any] | None = None,
    **props: Any,
) -> rx.Component:
    """A table that scrolls sideways on small screens.

    `headers` are texts or ready header cells (e.g. sortable ones); `box_props`
    style the scrolling box (a max height, say).
    """
    return rx.box(
        rx.table.root(
            rx.table.header(
                rx.table.row(*[rx.table.column_header_cell(h) if isinstance(h, str) else h for h in headers])
            ),
            rx.table.body(body),
            variant="surface",
            size=size,
            width="100%",
            **props,
        ),
        style=styles.table_wrap_style,
        **(box_props or {}),
    )


def tab_links(current: str, *tabs: tuple[str, str | rx.Var]) -> rx.Component:
    """The sub-pages of one thing (a tenant's overview, projects, users) as links, `current` highlighted."""
    return rx.hstack(
        *[
            rx.link(
                label,
                href=href,
                size="2",
                weight="medium",
                padding="6px 12px",
                border_radius="6px",
                background="var(--accent-a3)" if label == current else "transparent",
                color="var(--accent-11)" if label == current else "var(--gray-11)",
                aria_current="page" if label == current else None,
                class_name="tab-link",
            )
            for label, href in tabs
        ],
        spacing="1",
        wrap="wrap",
        border_bottom="1px solid var(--gray-a5)",
        padding_bottom="6px",
        width="100%",
    )


def stat(
    label: str | rx.Var | rx.Component,
    value: Any,
    hint: str | rx.Var | None = None,
    color: str | rx.Var | None = None,
) -> rx.Component:
    """A number with a caption (a text, or a ready component such as a badge), for summary rows."""
    return rx.card(
        rx.vstack(
            label if isinstance(label, rx.Component) else rx.text(label, size="2", color=styles.MUTED),
            rx.heading(value, size="6", color=color) if color is not None else rx.heading(value, size="6"),
            rx.text(hint, size="1", color=styles.MUTED) if hint is not None else rx.fragment(),
            spacing="1",
        ),
        width="100%",
    )


def api_link(*children: rx.Component | str, href: str | rx.Var, **props: Any) -> rx.Component:
    """A link to a server route (/api/..., downloads): a real browser navigation.

    Reflex renders every internal <a>/rx.link as a React Router link, which
    navigates inside the single-page app and never reaches the server; the
    `reloadDocument` flag makes the browser fetch the URL itself (so downloads,
    redirects and Set-Cookie work).
    """
    custom = {"reloadDocument": True, **props.pop("custom_attrs", {})}
    return rx.el.a(*children, href=href, custom_attrs=custom, **props)
