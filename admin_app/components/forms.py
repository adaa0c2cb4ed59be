"""Form pieces of the admin portal."""

from __future__ import annotations

from typing import Any

import reflex as rx

from portal_common import styles
from portal_common.components import field

AI_PROVIDERS = [("local", "Local statistics (no external calls)"), ("openai", "OpenAI-compatible endpoint")]


def text_input(name: str, **props: Any) -> rx.Component:
    return rx.input(name=name, id=props.pop("id", name), width="100%", **props)


def percent_input(name: str, default_value: Any, **props: Any) -> rx.Component:
    """A percentage field (0-100, one decimal); the server checks the range again."""
    return text_input(name, type="number", step="0.1", min=0, max=100, default_value=default_value, **props)


def select_input(name: str, options: list[tuple[str, str]] | list[str], **props: Any) -> rx.Component:
    """A native <select> (always submitted with its form)."""
    pairs = [(o, o) if isinstance(o, str) else o for o in options]
    return rx.el.select(
        *[rx.el.option(label, value=value) for value, label in pairs],
        name=name,
        id=props.pop("id", name),
        style=styles.native_select_style,
        **props,
    )


def secret_input(name: str, is_set: rx.Var | bool, masked: rx.Var | str = "") -> rx.Component:
    """A write-only secret: never pre-filled; shows whether one is stored."""
    return rx.input(
        name=name,
        id=name,
        type="password",
        auto_complete="new-password",
        placeholder=rx.cond(is_set, rx.cond(masked != "", masked, "•••••••• (stored: leave empty to keep)"), "not set"),
        width="100%",
    )


def ai_settings_fields(
    provider: rx.Var | str = "local",
    model: rx.Var | str = "",
    base_url: rx.Var | str = "",
    key_set: rx.Var | bool = False,
) -> list[rx.Component]:
    return [
        field(
            "AI provider",
            select_input("ai_provider", AI_PROVIDERS, default_value=provider),
            "Local writes insights from the statistics; an OpenAI-compatible endpoint gets aggregates only.",
        ),
        rx.grid(
            field("Model", text_input("ai_model", default_value=model, placeholder="gpt-4o-mini")),
            field(
                "Endpoint base URL",
                text_input("ai_base_url", default_value=base_url, placeholder="https://api.openai.com/v1"),
            ),
            columns=rx.breakpoints(initial="1", sm="2"),
            spacing="3",
            width="100%",
        ),
        field(
            "API key",
            secret_input("ai_api_key", key_set),
            "Write-only: stored encrypted, never shown again. Leave empty to keep the stored key.",
        ),
    ]


def dialog(
    title: str,
    trigger: rx.Component | None,
    body: rx.Component,
    open_: rx.Var,
    on_open_change: Any,
    max_width: str = "560px",
) -> rx.Component:
    return rx.dialog.root(
        rx.dialog.trigger(trigger) if trigger is not None else rx.fragment(),
        rx.dialog.content(
            rx.dialog.title(title),
            body,
            max_width=max_width,
        ),
        open=open_,
        on_open_change=on_open_change,
    )


def form_buttons(submit_label: str, submit_id: str | None = None, loading: rx.Var | bool = False) -> rx.Component:
    return rx.hstack(
        rx.dialog.close(rx.button("Cancel", variant="soft", color_scheme="gray", type="button")),
        rx.button(submit_label, type="submit", id=submit_id or None, loading=loading),
        justify="end",
        width="100%",
        spacing="2",
    )
