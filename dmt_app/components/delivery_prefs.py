"""The delivery section of the notifications page: a mode per notification kind and the digest preview."""

from __future__ import annotations

import reflex as rx

from dmt_app.state.delivery_prefs import MODE_OPTIONS, DeliveryPrefsState, PreferenceRow
from portal_common import styles
from portal_common.components import data_table, error_callout, section


def _preference_row(p: PreferenceRow) -> rx.Component:
    return rx.table.row(
        rx.table.cell(p["label"]),
        rx.table.cell(
            rx.select.root(
                rx.select.trigger(min_width="190px", aria_label=p["label"]),
                rx.select.content(*[rx.select.item(label, value=value) for value, label in MODE_OPTIONS]),
                value=p["mode"],
                on_change=lambda mode: DeliveryPrefsState.choose(p["kind"], mode),
            ),
            class_name="delivery-mode",
        ),
    )


def delivery_section() -> rx.Component:
    """Delivery preferences and the digest preview (loads itself when shown)."""
    s = DeliveryPrefsState
    return rx.vstack(
        section(
            "Delivery",
            rx.text(
                "Every notification appears here. Choose which kinds also reach you by email, at once or "
                "gathered in one daily digest.",
                size="2",
                color=styles.MUTED,
            ),
            rx.cond(
                ~s.email_enabled,
                rx.callout("Email is not set up on this platform yet: choices apply once it is.", color_scheme="amber"),
            ),
            error_callout(s.prefs_error),
            data_table(["Notification", "Delivery"], rx.foreach(s.preferences, _preference_row), size="1"),
            id="delivery-preferences",
        ),
        section(
            "Digest preview",
            rx.text(
                "Your next digest (sent ",
                s.digest_send_at,
                ") with ",
                s.digest_count,
                " notification(s) so far:",
                size="2",
                color=styles.MUTED,
            ),
            rx.text(s.digest_subject, weight="bold", size="2"),
            rx.box(
                rx.text(s.digest_text, size="1", white_space="pre-wrap", font_family="monospace"),
                padding="12px",
                border_radius="8px",
                background="var(--gray-a2)",
                width="100%",
                id="digest-text",
            ),
            id="digest-preview",
        ),
        on_mount=DeliveryPrefsState.load_preferences,
        spacing="4",
        width="100%",
    )
