"""What a notification looks like outside the app: emails (one notification, or a user's daily digest),
Slack and Microsoft Teams posts.

Pure functions of the notification rows and the portal's address: no database,
no network. Everything a tenant or tool wrote (titles, bodies, item keys) is
escaped for the format it goes into (HTML, Slack mrkdwn); Teams cards are JSON
text blocks, which Teams does not interpret as markup beyond its own Markdown
subset, so the text is sent as it is.
"""

from __future__ import annotations

import hashlib
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from services.notifications import NOTIFICATION_KINDS

#: Shown before every subject line, so people can filter the platform's mail.
SUBJECT_PREFIX = "[DMT-SLDP]"
#: Where a person changes what they receive (the company portal's notifications page).
PREFERENCES_PATH = "/notifications"

SEVERITY_COLOURS = {"critical": "#d92d20", "high": "#e8590c", "medium": "#f59f00", "low": "#1c7ed6", "info": "#868e96"}


@dataclass(frozen=True)
class NoteView:
    """The parts of a notification a message shows."""

    id: int
    kind: str
    severity: str
    title: str
    body: str
    link: str | None
    created_at: datetime


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str
    link: str | None
    severity: str


def kind_label(kind: str) -> str:
    """The readable name of a notification kind ("critical_flags" -> "New critical DMT flags")."""
    return NOTIFICATION_KINDS.get(kind, kind.replace("_", " ").capitalize())


def absolute_link(portal_url: str, link: str | None) -> str | None:
    """A notification's in-app link as an address a mail or chat client can open (portal pages only)."""
    if not link:
        return None
    if not link.startswith("/") or link.startswith("//"):
        return None  # only the portal's own pages: never an address a tool or tenant supplied
    return portal_url.rstrip("/") + link


def content_key(*parts: Any) -> str:
    """A stable digest of what a chat post says (the same event posted twice within minutes is sent once)."""
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


def _subject(text: str) -> str:
    one_line = " ".join(text.split())
    return f"{SUBJECT_PREFIX} {one_line}"[:300]


def _html_page(inner: str) -> str:
    return (
        '<!doctype html><html><body style="font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;'
        'font-size:14px;color:#1a1a1a;max-width:640px">' + inner + "</body></html>"
    )


def _footer(portal_url: str) -> tuple[str, str]:
    where = absolute_link(portal_url, PREFERENCES_PATH) or portal_url
    text = f"You receive this because of your notification preferences: {where}"
    markup = (
        '<p style="color:#868e96;font-size:12px;margin-top:24px">You receive this because of your '
        f'<a href="{html.escape(where)}">notification preferences</a>.</p>'
    )
    return text, markup


def render_immediate(note: NoteView, portal_url: str) -> RenderedMessage:
    """One notification as an email sent right away."""
    link = absolute_link(portal_url, note.link)
    footer_text, footer_html = _footer(portal_url)
    lines = [note.title, ""]
    if note.body:
        lines += [note.body, ""]
    if link:
        lines += [f"Open: {link}", ""]
    lines += [f"{kind_label(note.kind)} · {note.severity} · {note.created_at:%Y-%m-%d %H:%M} UTC", "", footer_text]
    colour = SEVERITY_COLOURS.get(note.severity, SEVERITY_COLOURS["info"])
    body_html = "".join(f"<p>{html.escape(line)}</p>" for line in note.body.split("\n") if line.strip())
    markup = (
        f'<p style="color:{colour};font-weight:600;margin:0">{html.escape(kind_label(note.kind))} · '
        f"{html.escape(note.severity)}</p>"
        f'<h2 style="margin:4px 0 12px">{html.escape(note.title)}</h2>{body_html}'
        + (f'<p><a href="{html.escape(link)}">Open in DMT-SLDP</a></p>' if link else "")
        + f'<p style="color:#868e96;font-size:12px">{note.created_at:%Y-%m-%d %H:%M} UTC</p>'
        + footer_html
    )
    return RenderedMessage(_subject(note.title), "\n".join(lines), _html_page(markup), link, note.severity)


def render_digest(notes: Sequence[NoteView], digest_date: date, portal_url: str) -> RenderedMessage:
    """A user's notifications of one day as one email, grouped by kind, newest first within a kind."""
    count = len(notes)
    subject = _subject(f"Your daily digest for {digest_date:%Y-%m-%d}: {count} notification{'s' if count != 1 else ''}")
    by_kind: dict[str, list[NoteView]] = {}
    for note in sorted(notes, key=lambda n: (n.created_at, n.id), reverse=True):
        by_kind.setdefault(note.kind, []).append(note)
    worst = _worst(n.severity for n in notes)
    footer_text, footer_html = _footer(portal_url)
    text_lines = [f"Daily digest for {digest_date:%Y-%m-%d}: {count} notification{'s' if count != 1 else ''}", ""]
    parts = [f'<h2 style="margin:0 0 12px">Daily digest for {digest_date:%Y-%m-%d}</h2>']
    for kind, group in by_kind.items():
        label = kind_label(kind)
        text_lines.append(f"{label} ({len(group)})")
        parts.append(f'<h3 style="margin:16px 0 4px">{html.escape(label)} ({len(group)})</h3><ul>')
        for note in group:
            link = absolute_link(portal_url, note.link)
            text_lines.append(f"  - {note.created_at:%H:%M} {note.title}" + (f" <{link}>" if link else ""))
            if note.body:
                text_lines.append(f"    {' '.join(note.body.split())[:300]}")
            title = html.escape(note.title)
            if link:
                title = f'<a href="{html.escape(link)}">{title}</a>'
            body = html.escape(" ".join(note.body.split())[:300])
            parts.append(
                f'<li style="margin-bottom:6px"><span style="color:#868e96">{note.created_at:%H:%M}</span> {title}'
                + (f'<br><span style="color:#495057">{body}</span>' if body else "")
                + "</li>"
            )
        parts.append("</ul>")
        text_lines.append("")
    text_lines.append(footer_text)
    parts.append(footer_html)
    return RenderedMessage(
        subject,
        "\n".join(text_lines),
        _html_page("".join(parts)),
        absolute_link(portal_url, "/notifications"),
        worst,
    )


def _worst(severities: Iterable[str]) -> str:
    order = list(SEVERITY_COLOURS)
    ranked = [s for s in severities if s in SEVERITY_COLOURS]
    return min(ranked, key=order.index) if ranked else "info"


def _slack_escape(text: str) -> str:
    """Slack mrkdwn control characters: &, < and > (so a title can never become a link or mention)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(subject: str, text: str, link: str | None, severity: str) -> dict[str, Any]:
    """An incoming-webhook message: a fallback text and Block Kit blocks."""
    title = _slack_escape(subject)
    blocks: list[dict[str, Any]] = [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{title}*" + (f"\n{_slack_escape(text)}" if text else "")},
        },
    ]
    context = [{"type": "mrkdwn", "text": f"severity: {_slack_escape(severity)}"}]
    if link:
        context.append({"type": "mrkdwn", "text": f"<{link}|Open in DMT-SLDP>"})
    blocks.append({"type": "context", "elements": context})
    return {"text": title, "blocks": blocks}


def teams_payload(subject: str, text: str, link: str | None, severity: str) -> dict[str, Any]:
    """A Teams incoming-webhook (Workflows or connector) message carrying one Adaptive Card."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": subject, "weight": "Bolder", "size": "Medium", "wrap": True},
    ]
    if text:
        body.append({"type": "TextBlock", "text": text, "wrap": True})
    body.append({"type": "TextBlock", "text": f"severity: {severity}", "isSubtle": True, "spacing": "Small"})
    card: dict[str, Any] = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": body,
    }
    if link:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open in DMT-SLDP", "url": link}]
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
        ],
    }
